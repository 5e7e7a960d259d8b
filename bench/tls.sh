#!/usr/bin/env bash
# TLS: the standalone MNet server with UseTls, Kestrel's UseHttps on the MNet transport, and Kestrel's UseHttps on its
# own Sockets transport, each echoing over TLS with the same certificate (ECDSA P-256, made for the run), in one run.
# The load is the same .NET SslStream client for every server (bench/TlsBench):
#   1. full handshakes per second: CONCURRENCY clients in a loop of connect, handshake (no resumption), one byte
#      echoed, close_notify, close; and the server's CPU per handshake
#   2. BYTES streamed through one TLS connection and verified: MB/s each way, server CPU s per GiB
# Rounds alternate between servers; medians go to bench/results/tls.md. The server runs on core 0 and the load on
# core 1 (PIN=0 lets both float).
#   bench/tls.sh                        # 3 rounds, 1 GiB, 5 s of handshakes
#   ROUNDS=1 BYTES=268435456 SECONDS_HANDSHAKES=2 bench/tls.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
BYTES=${BYTES:-1073741824}
CONCURRENCY=${CONCURRENCY:-16}
SECONDS_HANDSHAKES=${SECONDS_HANDSHAKES:-5}
PORT=${PORT:-7901}
PIN=${PIN:-1}
SERVERS=(mnet kestrel-mnet sockets)

source bench/common.sh

dotnet build bench/TlsBench -c Release -v quiet -nologo >/dev/null
bench=(dotnet bench/TlsBench/bin/Release/net10.0/TlsBench.dll)
certificate="$work/server.pfx"
"${bench[@]}" makecert "$certificate"

start_server() {
  "${server_core[@]}" "${bench[@]}" serve "$1" "$PORT" "$certificate" >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_until_ready "$1"
}

run_round() {
  local server=$1 out per_s cpu_us mbps cpu_per_gib
  start_server "$server"
  # Warm up (JIT, pools, OpenSSL) without measuring.
  "${load_core[@]}" "${bench[@]}" handshakes "$PORT" "$certificate" "$CONCURRENCY" 1 >/dev/null
  "${load_core[@]}" "${bench[@]}" throughput "$PORT" "$certificate" 67108864 >/dev/null

  out=$(measure "${bench[@]}" handshakes "$PORT" "$certificate" "$CONCURRENCY" "$SECONDS_HANDSHAKES")
  per_s=$(field handshakes_per_s <<<"$out")
  cpu_us=$(awk -v c="$(cat "$work/cpu")" -v n="$(field handshakes <<<"$out")" 'BEGIN { printf "%.1f", c * 1e6 / n }')

  out=$(measure "${bench[@]}" throughput "$PORT" "$certificate" "$BYTES")
  mbps=$(field MBps <<<"$out")
  cpu_per_gib=$(awk -v c="$(cat "$work/cpu")" -v b="$(field bytes <<<"$out")" 'BEGIN { printf "%.2f", c / (b / 1073741824) }')

  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  echo "$server $per_s $cpu_us $mbps $cpu_per_gib" | tee -a "$work/rounds"
}

echo "server handshakes_per_s cpu_us_per_handshake MBps cpu_s_per_GiB" >&2
for round in $(seq 1 "$ROUNDS"); do
  for server in "${SERVERS[@]}"; do
    run_round "$server" >&2
  done
done

label() {
  case $1 in
    mnet) echo "MNet server, UseTls" ;;
    kestrel-mnet) echo "Kestrel UseHttps on MNet" ;;
    sockets) echo "Kestrel UseHttps on Sockets" ;;
  esac
}
pinning=$([ "$PIN" = 1 ] && echo "server on core 0, load on core 1" || echo "unpinned")
mkdir -p bench/results
{
  echo "| median of $ROUNDS ($pinning) | full handshakes/s ($CONCURRENCY clients) | server CPU µs per handshake | $((BYTES / 1048576)) MiB TLS echo: MB/s each way | server CPU s per GiB | handshakes/s / Sockets | MB/s / Sockets |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for server in "${SERVERS[@]}"; do
    row="| $(label "$server")"
    for column in 2 3 4 5; do
      row="$row | $(median "$server" "$column")"
    done
    row="$row | $(awk -v a="$(median "$server" 2)" -v b="$(median sockets 2)" 'BEGIN { printf "%.2f", a / b }')"
    row="$row | $(awk -v a="$(median "$server" 4)" -v b="$(median sockets 4)" 'BEGIN { printf "%.2f", a / b }') |"
    echo "$row"
  done
  echo
  echo "$(nproc) cores, $(uname -r), $(dotnet --version) SDK; command: \`bench/tls.sh\` (ROUNDS=$ROUNDS BYTES=$BYTES CONCURRENCY=$CONCURRENCY SECONDS_HANDSHAKES=$SECONDS_HANDSHAKES PIN=$PIN)"
} | tee bench/results/tls.md
