#!/usr/bin/env bash
# Soak: one process with every listener (bench/SoakBench: HTTP on Kestrel over MNet, TCP, UDP and TLS echo on the
# standalone server) under mixed load at once for MINUTES (default 30):
#   HTTP keep-alive   wrk -t1 -c64 GET /plaintext and GET / (11 KB)
#   HTTP churn        wrk -t1 -c16 with "Connection: close"
#   TCP echo          bench/echo-load.c, 16 connections ping-ponging 64-byte messages, every byte checked
#   UDP echo          bench/udp-load.c, 4 sockets with 4 datagrams of 512 bytes in flight, every reply checked;
#                     lost means unanswered for 2 s (two cores carry six loads and the server: 100 ms stalls happen)
#   TLS               bench/TlsBench: 4 clients in a loop of full handshake, one byte echoed, close_notify
# Every 10 s it samples the server's RSS, descriptors, threads and GC heap into bench/results/soak.csv, and draws
# bench/results/soak.png. It fails (exit 1) if RSS or descriptors still grow over the last half of the run (more
# than 1 % from the fitted line's start to its end), or if any load saw an error, a lost datagram or a wrong byte.
#   bench/soak.sh        # 30 minutes
#   bench/soak.sh 5
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${1:-30}
SECONDS_TOTAL=$((MINUTES * 60))
HTTP_PORT=5090 TCP_PORT=7910 UDP_PORT=7911 TLS_PORT=7912
PIN=0

source bench/common.sh
install_tools wrk:wrk gnuplot:gnuplot-nox
gcc -O2 -Wall -Wextra -Werror -o "$work/echo-load" bench/echo-load.c
gcc -O2 -Wall -Wextra -Werror -o "$work/udp-load" bench/udp-load.c
dotnet build bench/SoakBench -c Release -v quiet -nologo >/dev/null
dotnet build bench/TlsBench -c Release -v quiet -nologo >/dev/null
tls_bench=bench/TlsBench/bin/Release/net10.0/TlsBench.dll
dotnet "$tls_bench" makecert "$work/soak.pfx" >/dev/null

dotnet bench/SoakBench/bin/Release/net10.0/SoakBench.dll "$HTTP_PORT" "$TCP_PORT" "$UDP_PORT" "$TLS_PORT" "$work/soak.pfx" >"$work/server.log" 2>&1 &
server_pid=$!
wait_until_ready SoakBench

echo "soak: $MINUTES minutes of mixed load on pid $server_pid" >&2
loads=()
wrk -t1 -c64 -d"${SECONDS_TOTAL}s" "http://127.0.0.1:$HTTP_PORT/plaintext" >"$work/keepalive.txt" 2>&1 & loads+=($!)
wrk -t1 -c16 -d"${SECONDS_TOTAL}s" "http://127.0.0.1:$HTTP_PORT/" >"$work/page.txt" 2>&1 & loads+=($!)
wrk -t1 -c16 -d"${SECONDS_TOTAL}s" -H "Connection: close" "http://127.0.0.1:$HTTP_PORT/plaintext" >"$work/churn.txt" 2>&1 & loads+=($!)
"$work/echo-load" pingpong 127.0.0.1 "$TCP_PORT" 16 64 "$SECONDS_TOTAL" >"$work/echo.txt" 2>&1 & loads+=($!)
"$work/udp-load" 127.0.0.1 "$UDP_PORT" 4 4 512 "$SECONDS_TOTAL" 2000 >"$work/udp.txt" 2>&1 & loads+=($!)
dotnet "$tls_bench" handshakes "$TLS_PORT" "$work/soak.pfx" 4 "$SECONDS_TOTAL" >"$work/tls.txt" 2>&1 & loads+=($!)

mkdir -p bench/results
csv=bench/results/soak.csv
echo "seconds,rss_mib,fds,threads,gc_heap_mib" >"$csv"
started=$(date +%s)
while sleep 10 && kill -0 "${loads[0]}" 2>/dev/null; do # samples under load only
  kill -0 "$server_pid" 2>/dev/null || { echo "the server died: $(tail -5 "$work/server.log")" >&2; exit 1; }
  rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status")
  fds=$(ls "/proc/$server_pid/fd" | wc -l)
  threads=$(awk '/Threads/ { print $2 }' "/proc/$server_pid/status")
  heap=$(awk -F= '/^gc heap_bytes=/ { v = $2 } END { printf "%.1f", v / 1048576 }' "$work/server.log")
  echo "$(($(date +%s) - started)),$rss,$fds,$threads,$heap" >>"$csv"
done
load_failures=0
for pid in "${loads[@]}"; do
  wait "$pid" || load_failures=$((load_failures + 1))
done

# What each load did, and whether anything was lost.
failures=()
[ "$load_failures" -eq 0 ] || failures+=("$load_failures load generator(s) exited with an error")
requests=0
for f in keepalive page churn; do
  n=$(wrk_requests <"$work/$f.txt")
  requests=$((requests + ${n:-0}))
  errors=$(wrk_errors <"$work/$f.txt")
  [ -z "$errors" ] || failures+=("wrk $f: $errors")
done
messages=$(field messages <"$work/echo.txt")
replies=$(field replies <"$work/udp.txt")
lost=$(field lost <"$work/udp.txt")
[ "${lost:-1}" = 0 ] || failures+=("UDP: $lost datagrams lost")
handshakes=$(field handshakes <"$work/tls.txt")

# Growth over the last half: a least-squares line through the samples, its rise relative to its start.
growth() {  # growth COLUMN -> percent
  awk -F, -v c="$1" 'NR > 1 { t[++n] = $1; v[n] = $c }
    END { h = int(n / 2); for (i = h + 1; i <= n; i++) { m++; sx += t[i]; sy += v[i]; sxx += t[i] * t[i]; sxy += t[i] * v[i] }
          slope = (m * sxy - sx * sy) / (m * sxx - sx * sx); start = (sy - slope * sx) / m + slope * t[h + 1]
          printf "%.2f", 100 * slope * (t[n] - t[h + 1]) / start }' "$csv"
}
rss_growth=$(growth 2) fd_growth=$(growth 3)
awk -v g="$rss_growth" 'BEGIN { exit !(g > 1) }' && failures+=("RSS grew ${rss_growth}% over the last half")
awk -v g="$fd_growth" 'BEGIN { exit !(g > 1) }' && failures+=("descriptors grew ${fd_growth}% over the last half")

kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
gnuplot -e "data='$csv'; output='bench/results/soak.png'" bench/soak.gp

sample() { sed -n "$1p" "$csv" | cut -d, -f"$2"; }  # sample ROW COLUMN (row 2 is the first sample, '$' the last)
echo "soak: $MINUTES min: $requests HTTP requests, $messages TCP echo messages, $replies UDP replies ($lost lost), $handshakes TLS handshakes"
echo "  RSS $(sample 2 2) -> $(sample '$' 2) MiB, descriptors $(sample 2 3) -> $(sample '$' 3), threads $(sample 2 4) -> $(sample '$' 4), GC heap $(sample 2 5) -> $(sample '$' 5) MiB"
echo "  growth over the last half: RSS ${rss_growth}%, descriptors ${fd_growth}%; samples in $csv, chart in bench/results/soak.png"
if [ "${#failures[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failures[@]}"
  exit 1
fi
echo "passed"
