# Sourced by the bench scripts: gcc for the C load generators (and `install_tools` for the rest), a work directory
# that is removed (and a server that is stopped) on exit, core pinning, and readers for CPU ticks and key=value output.
# Expects PIN to be set; the sourcing script sets server_pid to the server it starts.

# install_tools COMMAND:PACKAGES...: installs the packages (space-separated) of each command that is missing.
install_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "${tool%%:*}" >/dev/null; then
      echo "installing ${tool##*:}..." >&2
      (apt-get update -qq && apt-get install -y -qq ${tool##*:}) >/dev/null
    fi
  done
}

install_tools "gcc:gcc libc6-dev"

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ticks_per_second=$(getconf CLK_TCK)
# Prefixes, not functions: a backgrounded function would run in a subshell and $! would not be the server.
server_cpu=0 load_cpu=1   # pinned runs: the server on one core, the load generator on the other
server_core=() load_core=()
[ "$PIN" = 1 ] && server_core=(taskset -c $server_cpu) load_core=(taskset -c $load_cpu)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }   # utime + stime
field() { sed -n "s/\(^\|.* \)$1=\([0-9.]*\).*/\2/p"; }

# Waits for the server just started as $server_pid to print "ready" to $work/server.log.
wait_until_ready() {
  for _ in $(seq 1 150); do
    grep -q '^ready' "$work/server.log" && return 0
    sleep 0.1
  done
  echo "$1 did not start: $(cat "$work/server.log")" >&2
  return 1
}

# Runs a load command on the load core and prints its output; the server's CPU seconds during it go to $work/cpu.
measure() {
  local before after out
  before=$(cpu_ticks "$server_pid")
  out=$("${load_core[@]}" "$@")
  after=$(cpu_ticks "$server_pid")
  awk -v t=$((after - before)) -v hz="$ticks_per_second" 'BEGIN { print t / hz }' >"$work/cpu"
  echo "$out"
}

# The median of column $2 over the rounds of server $1 in $work/rounds.
median() {
  awk -v t="$1" -v c="$2" '$1 == t { print $c }' "$work/rounds" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# wrk's output on stdin: the number of requests it made; the lines reporting errors (non-2xx, socket errors), if any.
wrk_requests() { awk '/requests in/ { print $1 }'; }
wrk_errors() { grep 'Non-2xx\|Socket errors' | tr '\n' ' ' || true; }
