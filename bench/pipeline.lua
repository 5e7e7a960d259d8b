-- wrk script: sends DEPTH requests back to back on each connection before reading (HTTP/1.1 pipelining).
--   wrk -t2 -c256 -d10s -s bench/pipeline.lua http://127.0.0.1:5080/plaintext -- 16
-- wrk counts every response, so Requests/sec is requests, not batches.
local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  batch = string.rep(wrk.format(), depth)
end

function request()
  return batch
end
