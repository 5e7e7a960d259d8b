# Sourced by bench/run.sh and bench/ab.sh, after bench/common.sh: samples/WebServer (built by build_sample) under wrk.
# Expects BASE, and
# WARMUP_STEP, WARMUP_MIN and WARMUP_MAX (seconds) for warm_up; the caller sets load to the wrk prefix
# (load_core's, or empty when unpinned).

server_dll=samples/WebServer/bin/Release/net10.0/WebServer.dll
load=()
# What "/" serves, for the page scenario: 10,702 bytes (the size of m_net's README, which its chann_web serves) cut from
# this repository's README, which the sample serves by default and which is several times that, and growing.
page_bytes=10702
page_file=$work/page.md
head -c $page_bytes README.md >"$page_file"

build_sample() { dotnet build samples/WebServer -c Release -v quiet -nologo >/dev/null; }

# split_variant VARIANT: a transport (mnet: MNet on epoll; portable and iouring: MNet's other backends; sockets:
# Kestrel's Sockets transport), then any more WebServer options, e.g. "iouring --inline true". A directory and a colon
# before the transport run the sample built there instead (a copy of another commit's build): "/tmp/before:mnet".
# Words of the form NAME=VALUE before all that set the server's environment: "DOTNET_TieredPGO=0 mnet". Sets
# variant_environment, variant_dll, variant_transport and variant_options; fails on an unknown transport.
split_variant() {
  local words
  read -ra words <<<"$1"
  variant_environment=() variant_dll=$server_dll
  while [[ ${words[0]:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
    variant_environment+=("${words[0]}")
    words=("${words[@]:1}")
  done
  variant_transport=${words[0]:-} variant_options=("${words[@]:1}")
  if [[ $variant_transport == *:* ]]; then
    variant_dll=${variant_transport%:*}/WebServer.dll variant_transport=${variant_transport##*:}
  fi
  [[ " mnet portable iouring sockets " == *" $variant_transport "* ]] || { echo "unknown transport: $variant_transport" >&2; return 2; }
}

# start_server VARIANT PINNING: starts the WebServer variant (split_variant), on server_cpu when PINNING is "pinned", and
# waits until it answers with the page.
start_server() {
  local core=() transport
  split_variant "$1"
  [ "$2" = pinned ] && core=("${server_core[@]}")
  case $variant_transport in
    mnet) transport=(mnet --backend epoll) ;;
    portable|iouring) transport=(mnet --backend "$variant_transport") ;;
    sockets) transport=(sockets) ;;
  esac
  "${core[@]}" env "${variant_environment[@]}" dotnet "$variant_dll" --transport "${transport[@]}" "${variant_options[@]}" \
    --page "$page_file" --urls "$BASE" >"$work/server.log" 2>&1 &
  server_pid=$!
  local served
  for _ in $(seq 1 150); do
    if served=$(curl -fs -o /dev/null -w '%{size_download}' "$BASE/"); then
      # A build from before --page (b18486d) ignores it and serves the whole README: its page would not compare.
      [ "$served" = "$page_bytes" ] && return 0
      echo "$1 serves $served bytes at /, not the page given with --page" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$1 server did not start: $(cat "$work/server.log")" >&2
  return 1
}

stop_server() {
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

# wrk's output: requests/s, the p99 latency in ms; a warning about errors.
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }'; }
p99_ms() { awk '$1 == "99%" { v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[^m]s$/) v *= 1000; printf "%.2f", v }'; }
check_errors() {
  local errors
  errors=$(wrk_errors <<<"$2")
  [ -z "$errors" ] || echo "warning: wrk reported errors ($1): $errors" >&2
}

# The scenarios wrk_for knows.
web_scenarios=(plaintext pipelined page churn)

# Runs wrk with scenario $1's load for $2, extra wrk options after.
wrk_for() {
  local scenario=$1 duration=$2; shift 2
  local run=("${load[@]}" wrk -t2 -c256 -d"$duration" "$@")
  case $scenario in
    plaintext) "${run[@]}" "$BASE/plaintext" ;;
    pipelined) "${run[@]}" -s bench/pipeline.lua "$BASE/plaintext" -- 16 ;;
    page) "${run[@]}" "$BASE/" ;;
    churn) "${run[@]}" -H "Connection: close" "$BASE/plaintext" ;;
  esac
}

# Loads a fresh server with plaintext in runs of WARMUP_STEP seconds until two runs in a row agree within 5%,
# for WARMUP_MIN seconds at least and WARMUP_MAX at most, and prints how long that took. The tiered JIT and
# its dynamic PGO settle at different times on different transports: under load on one core, MNet's loop
# dips for about 20 s while its hot methods run instrumented, and Sockets climbs for as long.
warm_up() {
  local elapsed=0 previous=0 now
  while [ "$elapsed" -lt "$WARMUP_MAX" ]; do
    now=$(wrk_for plaintext "${WARMUP_STEP}s" | rps)
    elapsed=$((elapsed + WARMUP_STEP))
    [ "$elapsed" -ge "$WARMUP_MIN" ] && awk -v a="$previous" -v b="$now" 'BEGIN { exit !(a > 0 && b > 0.95 * a && b < 1.05 * a) }' && break
    previous=$now
  done
  echo "$elapsed"
}

# The ticks core $1 has spent busy (all but idle and iowait) since boot.
core_busy_ticks() { awk -v cpu="cpu$1" '$1 == cpu { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# measure_scenario SCENARIO DURATION PINNING: loads the running server with the scenario for DURATION (after
# SCENARIO_WARMUP of the same load) and prints "rps=… p99_ms=…". When PINNING is "pinned", also "cpu_us=…" (the
# server's CPU µs per request), "rss_mib=…" (its peak RSS so far) and "load_busy=…" (how busy wrk's core was, in %:
# near 100, that core is the bound).
measure_scenario() {
  local scenario=$1 duration=$2 pinning=$3 out before after load_before load_after started ended
  wrk_for "$scenario" "$SCENARIO_WARMUP" >/dev/null
  before=$(cpu_ticks "$server_pid") load_before=$(core_busy_ticks $load_cpu) started=$(date +%s%N)
  out=$(wrk_for "$scenario" "$duration" --latency)
  after=$(cpu_ticks "$server_pid") load_after=$(core_busy_ticks $load_cpu) ended=$(date +%s%N)
  check_errors "$scenario $pinning" "$out"
  printf 'rps=%s p99_ms=%s' "$(rps <<<"$out")" "$(p99_ms <<<"$out")"
  if [ "$pinning" = pinned ]; then
    printf ' cpu_us=%s rss_mib=%s load_busy=%s' \
      "$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v n="$(wrk_requests <<<"$out")" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')" \
      "$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")" \
      "$(awk -v t=$((load_after - load_before)) -v hz="$ticks_per_second" -v ns=$((ended - started)) 'BEGIN { printf "%.0f", 100 * t / hz / (ns / 1e9) }')"
  fi
  echo
}
