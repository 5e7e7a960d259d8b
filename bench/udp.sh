#!/usr/bin/env bash
# UDP echo: datagrams/s through a UdpChannel loop, the standalone server's ListenUdp handler, and the same loop on
# System.Net.Sockets.Socket (ReceiveFromAsync/SendToAsync with SocketAddress), all in one run. The load is C
# (bench/udp-load.c): SOCKETS connected sockets, each keeping WINDOW datagrams in flight, replies checked.
# Rounds alternate between servers; medians go to bench/results/udp.md. The server runs on core 0 and the load
# on core 1 (PIN=0 lets both float).
#   bench/udp.sh                       # 3 rounds, 64 and 1400 bytes, 5 s each
#   ROUNDS=1 SECONDS_EACH=2 bench/udp.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SIZES=(${SIZES:-64 1400})
SOCKETS=${SOCKETS:-16}
WINDOW=${WINDOW:-8}
SECONDS_EACH=${SECONDS_EACH:-5}
PORT=${PORT:-7901}
PIN=${PIN:-1}
SERVERS=(channel server socket)

source bench/common.sh

gcc -O2 -Wall -Wextra -Werror -o "$work/udp-load" bench/udp-load.c
dotnet build bench/UdpBench -c Release -v quiet -nologo >/dev/null
bench_dll=bench/UdpBench/bin/Release/net10.0/UdpBench.dll

run_round() {
  local server=$1 size out rate replies before after
  "${server_core[@]}" dotnet "$bench_dll" "$server" "$PORT" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do grep -q '^ready' "$work/server.log" && break; sleep 0.1; done
  grep -q '^ready' "$work/server.log" || { echo "$server did not start: $(cat "$work/server.log")" >&2; return 1; }
  for size in "${SIZES[@]}"; do
    "${load_core[@]}" "$work/udp-load" 127.0.0.1 "$PORT" "$SOCKETS" "$WINDOW" "$size" 1 >/dev/null # warm-up
    before=$(cpu_ticks "$server_pid")
    out=$("${load_core[@]}" "$work/udp-load" 127.0.0.1 "$PORT" "$SOCKETS" "$WINDOW" "$size" "$SECONDS_EACH")
    after=$(cpu_ticks "$server_pid")
    rate=$(field replies_per_s <<<"$out")
    replies=$(field replies <<<"$out")
    echo "$server $size $rate $(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v n="$replies" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }') $(field lost <<<"$out")" >>"$work/rounds"
    echo "round: $server ${size} B: $out" >&2
  done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

for round in $(seq 1 "$ROUNDS"); do
  for server in "${SERVERS[@]}"; do
    run_round "$server"
  done
done

median() {  # median of column $3 for server $1, size $2
  awk -v s="$1" -v b="$2" -v c="$3" '$1 == s && $2 == b { print $c }' "$work/rounds" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
label() {
  case $1 in
    channel) echo "UdpChannel loop" ;;
    server) echo "MNet server, ListenUdp" ;;
    socket) echo "Socket loop" ;;
  esac
}
pinning=$([ "$PIN" = 1 ] && echo "server on core 0, load on core 1" || echo "unpinned")
mkdir -p bench/results
{
  echo "| median of $ROUNDS ($pinning) | datagram | echoes/s | server CPU µs per echo | lost | echoes/s / Socket |"
  echo "|---|---:|---:|---:|---:|---:|"
  for size in "${SIZES[@]}"; do
    for server in "${SERVERS[@]}"; do
      echo "| $(label "$server") | $size B | $(median "$server" "$size" 3) | $(median "$server" "$size" 4) | $(median "$server" "$size" 5) | $(awk -v a="$(median "$server" "$size" 3)" -v b="$(median socket "$size" 3)" 'BEGIN { printf "%.2f", a / b }') |"
    done
  done
  echo
  echo "Each server echoes with a 64 KiB receive buffer. $(nproc) cores, $(uname -r), $(dotnet --version) SDK; command: \`bench/udp.sh\` (ROUNDS=$ROUNDS SIZES=\"${SIZES[*]}\" SOCKETS=$SOCKETS WINDOW=$WINDOW SECONDS_EACH=$SECONDS_EACH PIN=$PIN)"
} | tee bench/results/udp.md
