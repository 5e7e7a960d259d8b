#!/usr/bin/env bash
# A same-hour A/B of samples/WebServer variants on some of bench/run.sh's HTTP scenarios, with more rounds: for the
# rows the full run leaves near a target, where its three rounds spread as wide as the gap. Each round starts every
# variant afresh, in turn, warms it up as bench/run.sh does, then measures each scenario. Prints each round, then a
# table: the median and every round's value per variant, and each variant's ratio to the last one.
#   bench/ab.sh churn iouring mnet sockets                      # pinned: server on core 0, wrk on core 1
#   bench/ab.sh --unpinned page,plaintext iouring sockets
#   bench/ab.sh --rounds 3 plaintext "iouring --inline true" iouring
# A variant is a transport (mnet for epoll, portable, iouring, sockets) and any more WebServer options; a directory and
# a colon before it run the sample built there, to compare builds:
#   cp -r samples/WebServer/bin/Release/net10.0 /tmp/before   # then change, and:
#   bench/ab.sh churn /tmp/before:mnet mnet
# and environment variables for the server before that: "DOTNET_TieredPGO=0 mnet".
# Scenarios: plaintext, pipelined, page, churn. Metrics: requests/s and p99 latency (ms); pinned, also the server's
# CPU µs per request, its peak RSS (MiB) so far, and how busy wrk's core was (%).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: bench/ab.sh [--rounds N] [--duration SECONDS] [--unpinned] SCENARIO[,SCENARIO...] VARIANT VARIANT..." >&2; exit 2; }
ROUNDS=5 DURATION=10 PINNING=pinned
while [[ ${1:-} == --* ]]; do
  case $1 in
    --rounds) ROUNDS=${2:-}; shift 2 ;;
    --duration) DURATION=${2:-}; shift 2 ;;
    --unpinned) PINNING=unpinned; shift ;;
    *) usage ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $# -ge 3 ]] || usage
IFS=, read -ra SCENARIOS <<<"$1"; shift
VARIANTS=("$@")
PORT=${PORT:-5081}
PIN=1
BASE="http://127.0.0.1:$PORT"
WARMUP_STEP=5 WARMUP_MIN=20 WARMUP_MAX=90 SCENARIO_WARMUP=2s

source bench/common.sh
source bench/web.sh
for scenario in "${SCENARIOS[@]}"; do
  [[ " ${web_scenarios[*]} " == *" $scenario "* ]] || { echo "unknown scenario: $scenario" >&2; usage; }
done
for v in "${VARIANTS[@]}"; do
  split_variant "$v" || usage
  [[ $variant_dll == "$server_dll" || -f $variant_dll ]] || { echo "no WebServer.dll in ${variant_dll%/*}" >&2; usage; }
done
install_tools wrk:wrk
build_sample
[ "$PINNING" = pinned ] && load=("${load_core[@]}")
METRICS=(rps p99_ms)
[ "$PINNING" = pinned ] && METRICS+=(cpu_us rss_mib load_busy)

for round in $(seq 1 "$ROUNDS"); do
  for v in "${!VARIANTS[@]}"; do
    start_server "${VARIANTS[$v]}" "$PINNING"
    warmed=$(warm_up)
    for scenario in "${SCENARIOS[@]}"; do
      values=$(measure_scenario "$scenario" "${DURATION}s" "$PINNING")
      echo "round $round, ${VARIANTS[$v]}, $scenario (warmed up ${warmed} s): $values" >&2
      for metric in "${METRICS[@]}"; do
        echo "$v $scenario $metric $(field "$metric" <<<"$values")" >>"$work/rounds"
      done
    done
    stop_server
  done
done

# values V SCENARIO METRIC: that variant's values, in round order.
values() { awk -v v="$1" -v s="$2" -v m="$3" '$1 == v && $2 == s && $3 == m { print $4 }' "$work/rounds"; }
median_of() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
last=$((${#VARIANTS[@]} - 1))
header="| scenario | metric |" rule="|---|---|"
for v in "${VARIANTS[@]}"; do header+=" $v |"; rule+="---:|"; done
for v in "${VARIANTS[@]::last}"; do header+=" $v / ${VARIANTS[$last]} |"; rule+="---:|"; done
echo "$header"
echo "$rule"
for scenario in "${SCENARIOS[@]}"; do
  for metric in "${METRICS[@]}"; do
    line="| $scenario | $metric |"
    for v in "${!VARIANTS[@]}"; do line+=" $(values "$v" "$scenario" "$metric" | median_of) ($(values "$v" "$scenario" "$metric" | paste -sd, - | sed 's/,/, /g')) |"; done
    base=$(values "$last" "$scenario" "$metric" | median_of)
    for ((v = 0; v < last; v++)); do
      line+=" $(awk -v a="$(values "$v" "$scenario" "$metric" | median_of)" -v b="$base" 'BEGIN { printf "%.2f", a / b }') |"
    done
    echo "$line"
  done
done
echo
echo "Median (and each round) of $ROUNDS rounds, variants alternating, each server warmed up with plaintext until two 5 s runs agree within 5% (20-90 s), each scenario for $SCENARIO_WARMUP more, then measured for ${DURATION} s with wrk -t2 -c256; $([ "$PINNING" = pinned ] && echo "server on core 0, wrk on core 1" || echo "unpinned"). $(nproc) cores, $(uname -r)."
