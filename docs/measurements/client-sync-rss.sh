#!/usr/bin/env bash
# Where stage 01's resident memory is: its mappings' Rss, summed by file (the heap and the stack
# by name), read from /proc/PID/smaps while it waits on a request to a server with the article's
# delays. Writes docs/measurements/client-sync-rss.txt; takes about five seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
port=18197
./build/bin/server --port $port --seed 1 >/dev/null 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null || true' EXIT
sleep 0.5
./build/bin/client-sync 3 --url "http://127.0.0.1:$port/{}" 2>/dev/null &
client=$!
sleep 1
{
  echo "# $(git log -1 --format='commit %h, %cd' --date=short), default preset, $(uname -sr)"
  echo "# Rss of build/bin/client-sync's mappings, 1 s into a run, KB, largest first"
  awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anonymous]" }
       /^Rss:/ { rss[name] += $2; total += $2 }
       END { for (n in rss) printf "%8d  %s\n", rss[n], n; printf "%8d  total\n", total }' \
    "/proc/$client/smaps" | sort -rn
} | tee docs/measurements/client-sync-rss.txt
wait $client || true
