#!/usr/bin/env bash
# Counts what one request costs the stage-04 client and the server: instructions (callgrind, which
# counts rather than times, so it repeats on a busy machine) and system calls (strace -c), for
# 20,000 requests at --limit 100 against a server without delays. Writes docs/measurements/
# callgrind.txt, strace.txt and perf.txt. Needs valgrind, strace and perf (linux-perf); takes about
# two minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=build/bin
out=docs/measurements
n=20000
port=18181
tmp=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
client=("$bin/client-async-proposal" $n --limit 100 --url "http://127.0.0.1:$port/{}")

start_server() { # [wrapper...]
  "$@" "$bin/server" --port $port --max-delay 0 >"$tmp/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    ss -ltn "sport = :$port" | grep -q LISTEN && return
    sleep 0.2
  done
  echo "profile.sh: the server did not start" >&2
  exit 1
}
stop_server() { # the server itself, not strace around it, so that strace reports on its exit
  local child
  child=$(pgrep -P "$server" || true)
  kill -INT "${child:-$server}"
  wait "$server" || true
  server=
}
instructions() { # callgrind.out file: the total Ir
  callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

{
  echo "# callgrind, instructions (Ir) of a whole run of $n requests at --limit 100, server --max-delay 0"
  echo "# $(git log -1 --format='commit %h, %cd' --date=short), default preset, $(nproc) cores, $(uname -sr)"
  start_server
  valgrind --tool=callgrind --callgrind-out-file="$tmp/client.out" "${client[@]}" >"$tmp/c.log" 2>&1
  tail -1 "$tmp/c.log" | sed 's/^/client: /'
  stop_server
  total=$(instructions "$tmp/client.out")
  echo "client-async-proposal: $total instructions, $((total / n)) per request"
  start_server valgrind --tool=callgrind --callgrind-out-file="$tmp/server.out"
  "${client[@]}" >"$tmp/c.log" 2>&1
  stop_server
  total=$(instructions "$tmp/server.out")
  echo "server: $total instructions, $((total / n)) per request"
} | tee "$out/callgrind.txt"

{
  echo "# strace -c -f of $n requests at --limit 100, server --max-delay 0: the client, then the server"
  echo "# $(git log -1 --format='commit %h, %cd' --date=short), default preset, $(nproc) cores, $(uname -sr)"
  start_server
  strace -c -f -o "$tmp/client.strace" "${client[@]}" >/dev/null 2>&1
  stop_server
  echo "== client-async-proposal"
  cat "$tmp/client.strace"
  start_server strace -c -f -o "$tmp/server.strace"
  "${client[@]}" >/dev/null 2>&1
  stop_server
  echo "== server"
  cat "$tmp/server.strace"
} | tee "$out/strace.txt"

{
  echo "# perf record of the client, $n requests at --limit 100, server --max-delay 0: share of samples"
  echo "# by where they fell (kernel or the program's and its libraries' code), then the top symbols"
  echo "# $(git log -1 --format='commit %h, %cd' --date=short), default preset, $(nproc) cores, $(uname -sr)"
  start_server
  perf record -q -o "$tmp/perf.data" "${client[@]}" >/dev/null 2>&1
  stop_server
  perf report -i "$tmp/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep '%' | head -8
  echo
  perf report -i "$tmp/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep '%' | head -15
} | tee "$out/perf.txt"
