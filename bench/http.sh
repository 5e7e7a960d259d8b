#!/usr/bin/env bash
# /plaintext on samples/WebServer: the MNet transport against Kestrel's Sockets transport in one run.
# Rounds alternate (mnet, sockets, mnet, ...); each round starts a fresh server, warms it up, then
# measures with wrk. Prints medians and MNet/Sockets ratios as a markdown table and saves it to
# bench/results/http.md.
#   bench/http.sh                       # wrk -t2 -c256 -d10s, 3 rounds per transport
#   ROUNDS=1 DURATION=3s bench/http.sh  # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-256}
WARMUP=${WARMUP:-3s}
PORT=${PORT:-5080}
URL="http://127.0.0.1:$PORT/plaintext"
WRK="wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $URL"

if ! command -v wrk >/dev/null; then
  echo "installing wrk..." >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi

dotnet build samples/WebServer -c Release -v quiet -nologo >/dev/null
server_dll=samples/WebServer/bin/Release/net10.0/WebServer.dll
ticks_per_second=$(getconf CLK_TCK)
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }   # utime + stime

wait_for_port() {
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$URL" && return 0
    sleep 0.1
  done
  echo "server did not start on port $PORT" >&2
  return 1
}

# wrk's latency percentiles come as 1.23ms / 456.78us / 1.02s; print milliseconds.
to_ms() { awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[^m]s$/) v *= 1000; printf "%.2f", v }'; }

run_round() {
  local transport=$1
  dotnet "$server_dll" --transport "$transport" --urls "http://127.0.0.1:$PORT" >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_for_port
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$URL" >/dev/null

  local before after out requests rps p99 hwm
  before=$(cpu_ticks "$server_pid")
  out=$($WRK)
  after=$(cpu_ticks "$server_pid")
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "warning: wrk reported errors on $transport:" >&2
    grep 'Non-2xx\|Socket errors' <<<"$out" >&2
  fi
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)
  local cpu_us
  cpu_us=$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
  echo "$transport $rps $cpu_us $p99 $((hwm / 1024))" | tee -a "$work/rounds"
}

echo "transport rps cpu_us_per_request p99_ms peak_rss_mib" >&2
for round in $(seq 1 "$ROUNDS"); do
  run_round mnet >&2
  run_round sockets >&2
done

median() {  # median of column $2 for transport $1
  awk -v t="$1" -v c="$2" '$1 == t { print $c }' "$work/rounds" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

mkdir -p bench/results
{
  echo "| /plaintext, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS | MNet | Sockets | MNet / Sockets |"
  echo "|---|---:|---:|---:|"
  for metric in "requests/s:2" "CPU µs per request:3" "p99 latency (ms):4" "peak RSS (MiB):5"; do
    name=${metric%%:*} column=${metric##*:}
    m=$(median mnet "$column") s=$(median sockets "$column")
    awk -v n="$name" -v m="$m" -v s="$s" 'BEGIN { printf "| %s | %s | %s | %.2f |\n", n, m, s, m / s }'
  done
  echo
  echo "$(nproc) cores, $(uname -r), $(dotnet --version) SDK; command: \`bench/http.sh\` (ROUNDS=$ROUNDS DURATION=$DURATION)"
} | tee bench/results/http.md
