#!/usr/bin/env bash
# Raw TCP echo: the standalone MNet server against the same ConnectionHandler on Kestrel's Sockets transport
# (and on Kestrel over MNet), each also with UnsafePreferInlineScheduling, and a C epoll echo server as the
# floor, all in one run. The load generator is C too (bench/echo-load.c), so the client costs the same for
# every server.
#   1. 1 GiB streamed through one connection and verified byte for byte: MB/s each way, server CPU per GiB
#   2. 64 connections ping-ponging 64-byte messages: messages/s, server CPU per message
# Rounds alternate between servers; medians go to bench/results/echo.md. The server runs on core 0 and
# the load on core 1 (PIN=0 lets both float).
#   bench/echo.sh                       # 3 rounds, 1 GiB, 5 s ping-pong
#   ROUNDS=1 SECONDS_PINGPONG=2 bench/echo.sh
#   SERVERS="mnet sockets" OUT=/tmp/echo.md bench/echo.sh   # a subset, table elsewhere (bench/run.sh does this)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
BYTES=${BYTES:-1073741824}
CONNECTIONS=${CONNECTIONS:-64}
MESSAGE=${MESSAGE:-64}
SECONDS_PINGPONG=${SECONDS_PINGPONG:-5}
WARMUP_PINGPONG=${WARMUP_PINGPONG:-5}
PORT=${PORT:-7900}
PIN=${PIN:-1}
read -ra SERVERS <<<"${SERVERS:-c mnet kestrel-mnet mnet-portable kestrel-portable sockets mnet-inline sockets-inline}"
OUT=${OUT:-bench/results/echo.md}

source bench/common.sh

gcc -O2 -Wall -Wextra -Werror -o "$work/echo-load" bench/echo-load.c
gcc -O2 -Wall -Wextra -Werror -o "$work/echo-server" bench/echo-server.c
dotnet build bench/EchoBench -c Release -v quiet -nologo >/dev/null
bench_dll=bench/EchoBench/bin/Release/net10.0/EchoBench.dll

start_server() {
  local server=$1
  if [ "$server" = c ]; then
    "${server_core[@]}" "$work/echo-server" "$PORT" >"$work/server.log" 2>&1 &
  else
    "${server_core[@]}" dotnet "$bench_dll" "$server" "$PORT" >"$work/server.log" 2>&1 &
  fi
  server_pid=$!
  wait_until_ready "$server"
}

run_round() {
  local server=$1 out mbps cpu_per_gib messages msgs cpu_us hwm
  start_server "$server"
  # Warm up (JIT, pools) without measuring. A server pinned to one core counts as single-processor to the runtime,
  # which waits a second without new methods before it optimizes hot code: a second or two of load is not enough.
  "${load_core[@]}" "$work/echo-load" throughput 127.0.0.1 "$PORT" 4 268435456 >/dev/null
  "${load_core[@]}" "$work/echo-load" pingpong 127.0.0.1 "$PORT" "$CONNECTIONS" "$MESSAGE" "$WARMUP_PINGPONG" >/dev/null

  out=$(measure "$work/echo-load" throughput 127.0.0.1 "$PORT" 1 "$BYTES")
  mbps=$(field MBps <<<"$out")
  cpu_per_gib=$(awk -v c="$(cat "$work/cpu")" -v b="$(field bytes <<<"$out")" 'BEGIN { printf "%.2f", c / (b / 1073741824) }')

  out=$(measure "$work/echo-load" pingpong 127.0.0.1 "$PORT" "$CONNECTIONS" "$MESSAGE" "$SECONDS_PINGPONG")
  msgs=$(field msgs_per_s <<<"$out")
  messages=$(field messages <<<"$out")
  cpu_us=$(awk -v c="$(cat "$work/cpu")" -v n="$messages" 'BEGIN { printf "%.2f", c * 1e6 / n }')

  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  echo "$server $mbps $cpu_per_gib $msgs $cpu_us $((hwm / 1024))" | tee -a "$work/rounds"
}

echo "server MBps cpu_s_per_GiB pingpong_msgs_per_s cpu_us_per_msg peak_rss_mib" >&2
for round in $(seq 1 "$ROUNDS"); do
  for server in "${SERVERS[@]}"; do
    run_round "$server" >&2
  done
done

pinning=$([ "$PIN" = 1 ] && echo "server on core 0, load on core 1" || echo "unpinned")
label() {
  case $1 in
    c) echo "C epoll (bench/echo-server.c)" ;;
    mnet) echo "MNet server" ;;
    kestrel-mnet) echo "Kestrel on MNet" ;;
    sockets) echo "Kestrel Sockets" ;;
    mnet-inline) echo "MNet server, inline" ;;
    mnet-portable) echo "MNet server, portable" ;;
    mnet-iouring) echo "MNet server, io_uring" ;;
    kestrel-portable) echo "Kestrel on MNet portable" ;;
    sockets-inline) echo "Kestrel Sockets, inline" ;;
  esac
}
mkdir -p bench/results
{
  echo "| median of $ROUNDS ($pinning) | $((BYTES / 1048576)) MiB, 1 connection: MB/s each way | server CPU s per GiB | $CONNECTIONS-connection ping-pong ($MESSAGE B): messages/s | server CPU µs per message | peak RSS (MiB) | MB/s / Sockets | messages/s / Sockets |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for server in "${SERVERS[@]}"; do
    base=sockets
    [[ $server == *-inline ]] && base=sockets-inline   # compare like with like
    row="| $(label "$server")"
    for column in 2 3 4 5 6; do
      row="$row | $(median "$server" "$column")"
    done
    row="$row | $(awk -v a="$(median "$server" 2)" -v b="$(median "$base" 2)" 'BEGIN { printf "%.2f", a / b }')"
    row="$row | $(awk -v a="$(median "$server" 4)" -v b="$(median "$base" 4)" 'BEGIN { printf "%.2f", a / b }') |"
    echo "$row"
  done
  echo
  echo "Ratios compare each server with Kestrel Sockets under the same scheduling (inline rows with Sockets inline)."
  echo "$(nproc) cores, $(uname -r), $(dotnet --version) SDK; command: \`bench/echo.sh\` (ROUNDS=$ROUNDS BYTES=$BYTES CONNECTIONS=$CONNECTIONS MESSAGE=$MESSAGE SECONDS_PINGPONG=$SECONDS_PINGPONG PIN=$PIN)"
} | tee "$OUT"
