# Sourced by bench/echo.sh and bench/udp.sh: gcc for the C load generators, a work directory that is removed
# (and a server that is stopped) on exit, core pinning, and readers for CPU ticks and key=value output.
# Expects PIN to be set; the sourcing script sets server_pid to the server it starts.

if ! command -v gcc >/dev/null; then
  echo "installing gcc..." >&2
  (apt-get update -qq && apt-get install -y -qq gcc libc6-dev) >/dev/null
fi

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ticks_per_second=$(getconf CLK_TCK)
# Prefixes, not functions: a backgrounded function would run in a subshell and $! would not be the server.
server_core=() load_core=()
[ "$PIN" = 1 ] && server_core=(taskset -c 0) load_core=(taskset -c 1)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }   # utime + stime
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
