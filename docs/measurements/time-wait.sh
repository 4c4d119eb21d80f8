#!/usr/bin/env bash
# Which side of a loopback connection holds the TIME_WAIT entries when stage 01 opens a connection
# per request, and how many, against a server without delays; then the same for stage 04, which
# keeps its connections. Samples `ss` twice a second during each run and once after it, counting
# the entries whose local port is the server's (the server closed first) apart from the others
# (the client closed first). Writes docs/measurements/time-wait.txt; takes about two minutes (it
# waits for the entries of the first run to expire before the second).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=build/bin
port=18190
n=${1:-20000}

count() { # prints "server-side client-side" TIME_WAIT entries involving $port
  ss -Htan state time-wait | awk -v p=":$port" '
    { if (substr($3, length($3) - length(p) + 1) == p) s++; else if (substr($4, length($4) - length(p) + 1) == p) c++ }
    END { print s + 0, c + 0 }'
}
run() { # client...
  echo "\$ ./build/bin/timed --server-args \"--port $port --max-delay 0\" -- ./build/bin/$1 $n --url 'http://127.0.0.1:{port}/{}'"
  "$bin/timed" --server-args "--port $port --max-delay 0" -- "$bin/$1" "$n" \
    --url "http://127.0.0.1:{port}/{}" >"$tmp/out" 2>&1 &
  local pid=$! most_s=0 most_c=0 s c
  while kill -0 "$pid" 2>/dev/null; do
    read -r s c < <(count)
    [ "$s" -gt "$most_s" ] && most_s=$s
    [ "$c" -gt "$most_c" ] && most_c=$c
    sleep 0.5
  done
  wait "$pid" || true
  cat "$tmp/out"
  read -r s c < <(count)
  echo "TIME_WAIT on port $port during the run, at most: $most_s held by the server, $most_c by the client"
  echo "TIME_WAIT right after it: $s held by the server, $c by the client"
  echo
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "# $(git log -1 --format='commit %h, %cd' --date=short), default preset, $(nproc) cores, $(uname -sr)"
  sysctl net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse net.ipv4.tcp_max_tw_buckets 2>/dev/null || true
  echo
  # Entries left by an earlier run would be counted too: wait until none are left.
  while read -r s c < <(count) && [ $((s + c)) -gt 0 ]; do sleep 5; done
  run client-sync
  while read -r s c < <(count) && [ $((s + c)) -gt 0 ]; do sleep 5; done
  run client-async-proposal
} | tee docs/measurements/time-wait.txt
