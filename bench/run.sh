#!/usr/bin/env bash
# The performance suite: samples/WebServer on the MNet transport (epoll backend, the portable backend on
# .NET's socket engine, and the io_uring backend) against the same app on Kestrel's Sockets transport, and raw TCP echo on the standalone
# server (bench/echo.sh), in one run. Rounds alternate between the transports; each value is the median of the
# rounds. Writes a table (value per transport, ratios, targets, the commands) and a bar chart of the epoll and
# io_uring ratios to Sockets.
#   bench/run.sh           # 3 rounds, 10 s per measurement, 10,000 idle connections: bench/results/latest.{md,png}
#   bench/run.sh --quick   # 1 round, 3 s, 2,000 idle connections: bench/results/quick.{md,png} (not kept)
# HTTP scenarios (wrk -t2 -c256), each twice: pinned (server on core 0, wrk on core 1) for requests/s and the
# server's CPU µs per request, and unpinned (both free to use both cores) for requests/s:
#   plaintext   GET /plaintext; also p99 latency, and the peak RSS of the pinned server
#   pipelined   GET /plaintext, 16 requests in flight per connection (bench/pipeline.lua)
#   page        GET / (an 11 KB page: the first 10,702 bytes of the README)
#   churn       GET /plaintext with "Connection: close", a new connection per request; also how busy wrk's core was
#               (pinned): near 100%, that core and not the server's is the bound
#   idle        IDLE_CONNECTIONS keep-alive connections opened, one request each, then held
#               (bench/idle-load.c): server RSS and live managed heap (dotnet-gcdump) increase per connection,
#               all still served afterwards
#   echo        bench/echo.sh with SERVERS="mnet mnet-portable mnet-iouring sockets": 1 GiB through one connection,
#               64-connection ping-pong
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  --quick) ROUNDS=1 DURATION=3s WARMUP_STEP=2 WARMUP_MIN=4 WARMUP_MAX=10 SCENARIO_WARMUP=1s IDLE_CONNECTIONS=2000 ECHO_BYTES=268435456 ECHO_SECONDS=2 NAME=quick ;;
  "") ROUNDS=3 DURATION=10s WARMUP_STEP=5 WARMUP_MIN=20 WARMUP_MAX=90 SCENARIO_WARMUP=2s IDLE_CONNECTIONS=10000 ECHO_BYTES=1073741824 ECHO_SECONDS=5 NAME=latest ;;
  *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac
PORT=${PORT:-5080}
PIN=1
TRANSPORTS=(mnet portable iouring sockets)
BASE="http://127.0.0.1:$PORT"

source bench/common.sh

install_tools wrk:wrk gnuplot:gnuplot-nox
# dotnet-gcdump counts the idle connections' live managed heap; a global tool, installed once from NuGet.
gcdump=$(command -v dotnet-gcdump || echo "$HOME/.dotnet/tools/dotnet-gcdump")
[ -x "$gcdump" ] || dotnet tool install -g dotnet-gcdump --version 10.0.750501 >/dev/null
gcc -O2 -Wall -Wextra -Werror -o "$work/idle-load" bench/idle-load.c
source bench/web.sh
build_sample

record() {  # record TRANSPORT METRIC VALUE
  echo "$1/$2 $3" >>"$work/rounds"
  printf '  %-8s %-22s %s\n' "$1" "$2" "$3" >&2
}

# Every HTTP scenario on one server, pinned (server core 0, wrk core 1) or unpinned: the server warms up
# (warm_up), and each scenario for SCENARIO_WARMUP more before it is measured.
http_round() {
  local t=$1 pinning=$2 suffix="" values
  load=()
  if [ "$pinning" = pinned ]; then load=("${load_core[@]}"); else suffix=_unpinned; fi
  start_server "$t" "$pinning"
  record "$t" "warmup_s$suffix" "$(warm_up)"
  for scenario in "${web_scenarios[@]}"; do
    values=$(measure_scenario "$scenario" "$DURATION" "$pinning")
    record "$t" "${scenario}_rps$suffix" "$(field rps <<<"$values")"
    [ "$scenario" = plaintext ] && record "$t" "plaintext_p99_ms$suffix" "$(field p99_ms <<<"$values")"
    if [ "$pinning" = pinned ]; then
      record "$t" "${scenario}_cpu_us" "$(field cpu_us <<<"$values")"
      [ "$scenario" = plaintext ] && record "$t" plaintext_rss_mib "$(field rss_mib <<<"$values")"
      [ "$scenario" = churn ] && record "$t" churn_load_busy "$(field load_busy <<<"$values")"
    fi
  done
  stop_server
}

# The live managed heap of the server, in bytes: dotnet-gcdump collects after a full, blocking GC it induces.
live_heap_bytes() {
  "$gcdump" collect -p "$server_pid" -o "$work/heap.gcdump" >/dev/null 2>&1 || { echo "dotnet-gcdump collect failed" >&2; return 1; }
  "$gcdump" report "$work/heap.gcdump" 2>/dev/null | awk '/GC Heap bytes/ { gsub(",", "", $1); print $1 }'
}

# What an idle round reads off the server: its RSS in KiB (rss), or its live managed heap in bytes (heap).
idle_reading() {
  case $1 in
    rss) awk '/VmRSS/ { print $2 }' "/proc/$server_pid/status" ;;
    heap) live_heap_bytes ;;
  esac
}

# A fresh server, warmed up, then IDLE_CONNECTIONS held open: what it grew by per connection, in RSS (KiB) or in live
# managed heap (bytes) as $2 says. Each has its own server: the heap count's induced GC would change the RSS.
idle_round() {
  local t=$1 reading=$2 before after line
  start_server "$t" pinned
  "${load_core[@]}" wrk -t1 -c16 -d1s "$BASE/plaintext" >/dev/null
  sleep 1
  before=$(idle_reading "$reading")
  coproc IDLE { "${load_core[@]}" "$work/idle-load" 127.0.0.1 "$PORT" /plaintext "$IDLE_CONNECTIONS"; }
  # Own copies of the pipe ends: bash closes the coproc's when it exits, which may be before its last line is read.
  local from_idle to_idle idle_pid=$IDLE_PID
  exec {from_idle}<&"${IDLE[0]}" {to_idle}>&"${IDLE[1]}"
  read -r line <&"$from_idle" || true
  [[ $line == held* ]] || { echo "idle-load failed on $t" >&2; return 1; }
  sleep 2
  after=$(idle_reading "$reading")
  echo >&"$to_idle"
  read -r line <&"$from_idle" || true
  exec {from_idle}<&- {to_idle}>&-
  wait "$idle_pid" 2>/dev/null || true
  [[ $line == alive* ]] || { echo "$t did not serve all its idle connections again" >&2; return 1; }
  record "$t" "idle_${reading}_per_connection" \
    "$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNECTIONS" -v f="$([ "$reading" = rss ] && echo %.2f || echo %.0f)" 'BEGIN { printf f, (a - b) / n }')"
  stop_server
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for t in "${TRANSPORTS[@]}"; do
    http_round "$t" pinned
    http_round "$t" unpinned
    idle_round "$t" rss
    idle_round "$t" heap
  done
done

echo "echo (bench/echo.sh)" >&2
ROUNDS=$ROUNDS BYTES=$ECHO_BYTES SECONDS_PINGPONG=$ECHO_SECONDS SERVERS="mnet mnet-portable mnet-iouring sockets" OUT="$work/echo.md" \
  bash bench/echo.sh >/dev/null
# echo.md's rows: | label | MB/s | CPU s per GiB | messages/s | CPU µs per message | ...
echo_column() { awk -F'|' -v label="$1" -v c="$2" '$2 ~ "^ " label " $" { gsub(/ /, "", $(c + 2)); print $(c + 2) }' "$work/echo.md"; }
for pair in "mnet:MNet server" "portable:MNet server, portable" "iouring:MNet server, io_uring" "sockets:Kestrel Sockets"; do
  t=${pair%%:*} label=${pair#*:}
  record "$t" echo_mbps "$(echo_column "$label" 1)"
  record "$t" echo_cpu_s_per_gib "$(echo_column "$label" 2)"
  record "$t" pingpong_msgs_per_s "$(echo_column "$label" 3)"
  record "$t" pingpong_cpu_us "$(echo_column "$label" 4)"
done

# scenario | metric | key | target: ">=R" when higher is better, "<=R" when lower is, "" for none. The targets
# are MNet's, checked for epoll and for io_uring (Auto's choice where the kernel allows it); the portable backend's
# is 0.9 of Sockets on requests/s and throughput (PORTABLE_TARGET); io_uring is the default only while it is 1.1 of
# epoll on plaintext requests/s (IOURING_TARGET).
ROWS=(
  "plaintext|requests/s|plaintext_rps|>=1.25"
  "plaintext|requests/s, unpinned|plaintext_rps_unpinned|>=1.25"
  "plaintext|server CPU µs per request|plaintext_cpu_us|<=0.75"
  "plaintext|p99 latency (ms)|plaintext_p99_ms|<=1.0"
  "plaintext|p99 latency (ms), unpinned|plaintext_p99_ms_unpinned|<=1.0"
  "plaintext|peak RSS under load (MiB)|plaintext_rss_mib|<=1.0"
  "pipelined ×16|requests/s|pipelined_rps|>=1.10"
  "pipelined ×16|requests/s, unpinned|pipelined_rps_unpinned|>=1.10"
  "pipelined ×16|server CPU µs per request|pipelined_cpu_us|"
  "11 KB page|requests/s|page_rps|>=1.20"
  "11 KB page|requests/s, unpinned|page_rps_unpinned|>=1.20"
  "11 KB page|server CPU µs per request|page_cpu_us|"
  "churn|requests/s|churn_rps|>=1.20"
  "churn|requests/s, unpinned|churn_rps_unpinned|>=1.20"
  "churn|server CPU µs per request|churn_cpu_us|"
  "churn|wrk's core busy (%)|churn_load_busy|"
  "$IDLE_CONNECTIONS idle connections|RSS KiB per connection|idle_rss_per_connection|<=0.5"
  "$IDLE_CONNECTIONS idle connections|live managed heap, bytes per connection|idle_heap_per_connection|"
  "echo, 1 connection|MB/s each way|echo_mbps|"
  "echo, 1 connection|server CPU s per GiB|echo_cpu_s_per_gib|"
  "ping-pong, 64 connections|messages/s|pingpong_msgs_per_s|"
  "ping-pong, 64 connections|server CPU µs per message|pingpong_cpu_us|"
)
PORTABLE_TARGET=">=0.90"
IOURING_TARGET=">=1.10"
iouring_target() { [[ $1 == plaintext_rps* ]] && echo "$IOURING_TARGET"; }
portable_target() { [[ $1 == *_rps* || $1 == echo_mbps || $1 == pingpong_msgs_per_s ]] && echo "$PORTABLE_TARGET"; }
# ratios.gp colours a bar by this: 1 target met, 0 missed, 2 no target.
plot_status() { [ -z "$2" ] && echo 2 || { [ "$(met "$1" "$2")" = yes ] && echo 1 || echo 0; }; }
ratio_of() { awk -v m="$1" -v s="$2" 'BEGIN { printf "%.2f", m / s }'; }
met() {  # met RATIO TARGET -> yes / no / ""
  [ -z "$2" ] && return 0
  awk -v r="$1" -v op="${2:0:2}" -v t="${2:2}" 'BEGIN { ok = op == ">=" ? r >= t : r <= t; print ok ? "yes" : "**no**" }'
}

mkdir -p bench/results
: >"$work/plot.dat"
{
  echo "| scenario | metric | MNet epoll | Sockets | epoll / Sockets | target | met | MNet portable | portable / Sockets | met (${PORTABLE_TARGET}) | MNet io_uring | io_uring / Sockets | met (target) | io_uring / epoll | ahead (${IOURING_TARGET} epoll) |"
  echo "|---|---|---:|---:|---:|---:|:---:|---:|---:|:---:|---:|---:|:---:|---:|:---:|"
  for row in "${ROWS[@]}"; do
    IFS='|' read -r scenario metric key target <<<"$row"
    m=$(median "mnet/$key" 2) s=$(median "sockets/$key" 2) r=$(ratio_of "$m" "$s")
    p=$(median "portable/$key" 2) pr=$(ratio_of "$p" "$s")
    u=$(median "iouring/$key" 2) ur=$(ratio_of "$u" "$s") ue=$(ratio_of "$u" "$m")
    echo "| $scenario | $metric | $m | $s | $r | ${target:-} | $(met "$r" "$target") | $p | $pr | $(met "$pr" "$(portable_target "$key")") | $u | $ur | $(met "$ur" "$target") | $ue | $(met "$ue" "$(iouring_target "$key")") |"
    direction=$([[ $target == "<="* || $key == *cpu* || $key == *p99* || $key == *rss* || $key == idle_* ]] && echo "↓" || echo "↑")
    [[ $key == *load_busy ]] && continue # says whether wrk was the limit; not a ratio to chart
    printf '"%s: %s %s"\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$metric" "$direction" \
      "$r" "$(plot_status "$r" "$target")" "${target:2}" "$ur" "$(plot_status "$ur" "$target")" >>"$work/plot.dat"
  done
  echo
  echo "Median of $ROUNDS rounds, MNet (epoll), MNet portable, MNet io_uring and Sockets alternating; server on core 0 and wrk on core 1 except where unpinned."
  echo "Each server warms up with plaintext in ${WARMUP_STEP} s runs until two in a row agree within 5% (${WARMUP_MIN} s at least, ${WARMUP_MAX} s at most; median seconds taken, pinned / unpinned: epoll $(median mnet/warmup_s 2) / $(median mnet/warmup_s_unpinned 2), portable $(median portable/warmup_s 2) / $(median portable/warmup_s_unpinned 2), io_uring $(median iouring/warmup_s 2) / $(median iouring/warmup_s_unpinned 2), Sockets $(median sockets/warmup_s 2) / $(median sockets/warmup_s_unpinned 2)), each scenario for $SCENARIO_WARMUP more, then is measured for $DURATION."
  echo "$(nproc) cores, $(uname -r), $(dotnet --version) SDK; command: \`bench/run.sh${1:+ $1}\`. Load commands:"
  echo
  echo "- plaintext: \`wrk -t2 -c256 -d$DURATION --latency $BASE/plaintext\`"
  echo "- pipelined: \`wrk -t2 -c256 -d$DURATION -s bench/pipeline.lua $BASE/plaintext -- 16\`"
  echo "- page: \`wrk -t2 -c256 -d$DURATION $BASE/\`, the server given \`--page\` with the README's first $page_bytes bytes"
  echo "- churn: \`wrk -t2 -c256 -d$DURATION -H 'Connection: close' $BASE/plaintext\`"
  echo "- idle: \`idle-load 127.0.0.1 $PORT /plaintext $IDLE_CONNECTIONS\` (bench/idle-load.c), VmRSS 2 s after the last connection opened, the live managed heap on a server of its own, by \`dotnet-gcdump collect\` (after the GC it induces) before and after"
  echo "- echo and ping-pong: \`ROUNDS=$ROUNDS BYTES=$ECHO_BYTES SECONDS_PINGPONG=$ECHO_SECONDS SERVERS=\"mnet mnet-portable mnet-iouring sockets\" bench/echo.sh\`"
} | tee "bench/results/$NAME.md"

gnuplot -e "data='$work/plot.dat'; output='bench/results/$NAME.png'" bench/ratios.gp
echo "chart: bench/results/$NAME.png" >&2
