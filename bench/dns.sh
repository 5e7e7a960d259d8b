#!/usr/bin/env bash
# DNS: distinct names resolved per second by MNet's DnsResolver and by System.Net.Dns (getaddrinfo underneath),
# alternately in one run, each side in a process of its own per round, against one DNS server on 127.0.0.1:53
# (bench/dns-server.c: recvmmsg/sendmmsg, fast enough that the resolvers set the pace). The resolving processes run in a private mount namespace whose /etc/resolv.conf names
# that server, so the system resolver asks it too; the machine's own resolv.conf is never touched. Both resolve
# the same family (unspecified: A and AAAA), each name once.
# Medians go to bench/results/dns.md. The server runs on core 0, the resolvers on core 1 (PIN=0 lets both float).
#   bench/dns.sh                              # 10,000 names, 64 at a time, 3 rounds
#   NAMES=2000 ROUNDS=1 bench/dns.sh
set -euo pipefail
cd "$(dirname "$0")/.."

NAMES=${NAMES:-10000}
CONCURRENCY=${CONCURRENCY:-64}
ROUNDS=${ROUNDS:-3}
PIN=${PIN:-1}

source bench/common.sh

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
  echo "bench/dns.sh needs root and mount namespaces (unshare -m) to give the system resolver a private resolv.conf" >&2
  exit 1
fi

dotnet build bench/DnsBench -c Release -v quiet -nologo >/dev/null
bench_dll=bench/DnsBench/bin/Release/net10.0/DnsBench.dll
gcc -O2 -Wall -Wextra -Werror -o "$work/dns-server" bench/dns-server.c

"${server_core[@]}" "$work/dns-server" 53 >"$work/server.log" 2>&1 &
server_pid=$!
wait_until_ready "DNS server"

printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' >"$work/resolv.conf"
for round in $(seq 1 "$ROUNDS"); do
  for side in mnet system; do
    started=$(date +%s.%N) before=$(cpu_ticks "$server_pid")
    out=$(unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$work/resolv.conf" \
      "${load_core[@]}" dotnet "$bench_dll" resolve "$NAMES" "$CONCURRENCY" "$side" | grep '^result')
    # How busy the server's core was over the whole process (warm-up included): near 100 % would mean the server,
    # not the resolver, set the pace.
    busy=$(awk -v t=$(($(cpu_ticks "$server_pid") - before)) -v hz="$ticks_per_second" -v s="$started" -v e="$(date +%s.%N)" \
      'BEGIN { printf "%.0f", 100 * t / hz / (e - s) }')
    echo "round $round $out server_busy=$busy%" >&2
    echo "$side $(field per_s <<<"$out") $(field cpu_us <<<"$out") $(field bytes <<<"$out") $busy" >>"$work/rounds"
  done
done

ratio=$(awk -v a="$(median mnet 2)" -v b="$(median system 2)" 'BEGIN { printf "%.2f", a / b }')
{
  echo "# DNS: distinct names resolved per second"
  echo
  echo "\`NAMES=$NAMES CONCURRENCY=$CONCURRENCY ROUNDS=$ROUNDS PIN=$PIN bench/dns.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo "Each name once, A and AAAA, $CONCURRENCY lookups in flight, against one server on 127.0.0.1:53; each side in its own"
  echo "process per round, after a 10 s warm-up of other names; medians of $ROUNDS rounds."
  echo
  echo "| resolver | names/s | CPU µs per name | bytes allocated per name | DNS server's core busy |"
  echo "|---|---:|---:|---:|---:|"
  echo "| MNet DnsResolver | $(median mnet 2) | $(median mnet 3) | $(median mnet 4) | $(median mnet 5) % |"
  echo "| System.Net.Dns (getaddrinfo) | $(median system 2) | $(median system 3) | $(median system 4) | $(median system 5) % |"
  echo "| ratio | ${ratio}× | | | |"
} >bench/results/dns.md
cat bench/results/dns.md
