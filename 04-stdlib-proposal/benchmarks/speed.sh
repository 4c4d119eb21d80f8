#!/usr/bin/env bash
# Speed and scale, measured side by side on this machine: the stage-04 client against wrk, our
# server against nginx, ten thousand sleeping connections, Little's law with the article's
# delays, and (with --100m) a hundred million requests. Prints medians and ratios, and writes
# them to RESULTS (default docs/performance/) for the docs. Not part of the test suite.
#
# With --pipelining it measures HTTP/1.1 pipelining instead, into RESULTS/pipelining.txt: the
# client at --pipeline 1 against wrk, at --pipeline 16 against wrk with a pipelining script and
# h2load, head-of-line blocking with the article's delays, and one large run (--large N, 1,000,000
# by default; 100,000,000 with --100m) beside a 1,000,000 one. A missing wrk or h2load is skipped
# with a note (packages wrk, nghttp2-client).
#
# Usage: 04-stdlib-proposal/benchmarks/speed.sh [--quick] [--100m] [--runs N] [--results DIR]
#                                               [--pipelining [ratios,hol,large]] [--large N]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/build/bin
results=$root/docs/performance
runs=5           # alternating runs of each contender; the median is reported
seconds=10       # length of each throughput run
connections=100  # for wrk and for our client's --limit alike
little_seconds=60
hundred_million=0
pipelining=""  # the parts of the pipelining measurements to run; empty: the usual ones instead
large=1000000

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) runs=1 seconds=2 little_seconds=8 ;;
    --100m) hundred_million=1 ;;
    --runs) runs=$2; shift ;;
    --results) results=$2; shift ;;
    --pipelining)
      pipelining=ratios,hol,large
      if [ $# -gt 1 ] && [[ $2 != --* ]]; then pipelining=$2; shift; fi ;;
    --large) large=$2; shift ;;
    *) echo "speed.sh: unknown option $1" >&2
       echo "Usage: speed.sh [--quick] [--100m] [--runs N] [--results DIR] [--pipelining [ratios,hol,large]] [--large N]" >&2; exit 2 ;;
  esac
  shift
done
for p in server client-async-proposal client-async-as-completed timed; do
  [ -x "$bin/$p" ] || { echo "speed.sh: $bin/$p is missing; build first (cmake --build --preset default)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" # ten thousand connections need more than the usual 1024 descriptors
[ $hundred_million -eq 1 ] && [ -n "$pipelining" ] && large=100000000
mkdir -p "$results"
summary=$results/speed.txt
[ -n "$pipelining" ] && summary=$results/pipelining.txt
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

say "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
say "Date: $(date -u +%Y-%m-%dT%H:%MZ); runs: $runs x ${seconds} s, median reported"
say "Commit: $(git -C "$root" rev-parse --short HEAD); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# Starts our server with ARGS; sets server_pid and server_port. stop_server sets server_said to
# its closing line ("served N requests, ..., mean delay D s").
server_log=$(mktemp)
server_core=() # a command to run the server under: pipelining.sh pins it to a core
start_server() {
  "${server_core[@]}" "$bin/server" "$@" >"$server_log" &
  server_pid=$!
  for _ in $(seq 100); do grep -q listening "$server_log" && break; sleep 0.05; done
  server_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$server_log" | head -n 1)
}
stop_server() {
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null || true
  server_said=$(grep "^served" "$server_log" || true)
}

nginx_dir=""
start_nginx() { # one worker answering "Hello, World!" on port $1
  nginx_dir=$(mktemp -d)
  cat >"$nginx_dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:$1;
    location / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
EOF
  nginx -c "$nginx_dir/nginx.conf" &
  nginx_pid=$!
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$1/x" >/dev/null 2>&1 && break; sleep 0.05; done
}
stop_nginx() { kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null || true; rm -rf "$nginx_dir"; }

wrk_rate() { # url -> requests/s
  wrk -t1 -c"$connections" -d"${seconds}s" "$1" | awk '/Requests\/sec/ { print $2 }'
}

client_rate() { # port -> requests/s of the stage-04 client making ~seconds' worth of requests
  local n=$1 port=$2 out
  out=$(PROGRESS=0 "$bin/timed" --no-server -- "$bin/client-async-proposal" "$n" --limit "$connections" \
        --url "http://127.0.0.1:$port/{}" 2>&1)
  grep -q "failed 0" <<<"$out" || { echo "speed.sh: the client failed: $out" >&2; exit 1; }
  echo "$out" | awk -v n="$n" '/Time:/ { for (i = 1; i <= NF; i++) if ($i == "Time:") print n / $(i + 1) }'
}

if [ -n "$pipelining" ]; then
  source "$root/04-stdlib-proposal/benchmarks/pipelining.sh"
  exit 0
fi

# --- 1 and 2: client against wrk, server against nginx -----------------------------------------
have_wrk=1; command -v wrk >/dev/null || { have_wrk=0; say "(wrk is not installed: skipping the comparisons with wrk)"; }
have_nginx=1; command -v nginx >/dev/null && command -v curl >/dev/null || { have_nginx=0; say "(nginx or curl is not installed: skipping the comparisons with nginx)"; }

start_server --port 0 --max-delay 0
ours=$server_port
nginx_port=$((ours + 1)) # a neighbour of a free port; good enough on a quiet machine
[ $have_nginx -eq 1 ] && start_nginx "$nginx_port"

# Size the client's runs to last about as long as wrk's.
probe=$(client_rate 200000 "$ours")
n=$(awk -v r="$probe" -v s="$seconds" 'BEGIN { printf "%d", r * s }')

declare -A rates
for ((i = 0; i < runs; i++)); do
  if [ $have_wrk -eq 1 ]; then rates[wrk_ours]+="$(wrk_rate "http://127.0.0.1:$ours/x") "; fi
  rates[client_ours]+="$(client_rate "$n" "$ours") "
  if [ $have_nginx -eq 1 ]; then
    if [ $have_wrk -eq 1 ]; then rates[wrk_nginx]+="$(wrk_rate "http://127.0.0.1:$nginx_port/x") "; fi
    rates[client_nginx]+="$(client_rate "$n" "$nginx_port") "
  fi
done
stop_server
[ $have_nginx -eq 1 ] && stop_nginx

m() { echo "${rates[$1]:-}" | tr ' ' '\n' | grep . | median; }
say ""
say "Requests/s with $connections keep-alive connections, one client thread, server without delays"
say "  stage-04 client -> our server:  $(m client_ours)"
[ $have_wrk -eq 1 ] && say "  wrk -t1          -> our server:  $(m wrk_ours)   (client/wrk = $(ratio "$(m client_ours)" "$(m wrk_ours)"))"
if [ $have_nginx -eq 1 ]; then
  say "  stage-04 client -> nginx:       $(m client_nginx)"
  [ $have_wrk -eq 1 ] && say "  wrk -t1          -> nginx:       $(m wrk_nginx)   (client/wrk = $(ratio "$(m client_nginx)" "$(m wrk_nginx)"))"
  [ $have_wrk -eq 1 ] && say "  our server / nginx under wrk:    $(ratio "$(m wrk_ours)" "$(m wrk_nginx)")"
fi
say "  every run, in order: $(for k in client_ours wrk_ours client_nginx wrk_nginx; do [ -n "${rates[$k]:-}" ] && printf '%s=[%s] ' "$k" "${rates[$k]% }"; done)"

# --- 3: ten thousand sleeping connections ------------------------------------------------------
start_server --port 0 --max-delay 3 --delay-unit s
say ""
say "10,000 requests in flight, each sleeping 0-3 s (stage-04 client, --limit 10000, 100,000 requests)"
out=$(PROGRESS=0 "$bin/timed" --no-server -- "$bin/client-async-proposal" 100000 --limit 10000 \
      --url "http://127.0.0.1:$server_port/{}" 2>&1)
stop_server
say "  $(echo "$out" | grep "requests: ok")"
say "  $(echo "$out" | grep "Memory usage")"

# --- 4: Little's law with the article's delays -------------------------------------------------
# L = lambda * W: with `limit` requests always in flight and a mean delay W, the rate is at most
# limit / W. W is 1.5 s on average for randint(0, 3) seconds; the server reports the mean of the
# delays it actually gave. The steady rate is read from the progress lines, between the ramp up
# and the last `limit` requests.
steady_rate() { # progress lines on stdin, limit, n -> requests/s between 5 s and the tail
  awk -v limit="$1" -v n="$2" '
    /^progress:/ { t = $2 + 0; d = $4 + 0
      if (t >= 5 && !t1) { t1 = t; d1 = d }
      if (d <= n - limit) { t2 = t; d2 = d } }
    END { if (t2 > t1) printf "%.1f", (d2 - d1) / (t2 - t1); else print "0" }'
}
say ""
say "Little's law with the article's delays: steady requests/s against limit / mean delay"
for limit in 1000 10000; do
  n=$(awk -v l="$limit" -v s="$little_seconds" 'BEGIN { printf "%d", l / 1.5 * s }')
  for prog in client-async-as-completed client-async-proposal; do
    start_server --port 0 --max-delay 3 --delay-unit s --seed 1
    log=$(mktemp)
    PROGRESS=1 "$bin/timed" --no-server -- "$bin/$prog" "$n" --limit "$limit" \
      --url "http://127.0.0.1:$server_port/{}" 2>"$log" || true
    stop_server
    rate=$(steady_rate "$limit" "$n" <"$log")
    mean=$(echo "$server_said" | sed -n 's/.*mean delay \([0-9.]*\) s.*/\1/p')
    bound=$(awk -v l="$limit" -v w="$mean" 'BEGIN { printf "%.1f", l / w }')
    say "  $prog --limit $limit: $rate/s of $bound/s (limit / $mean s) = $(awk -v r="$rate" -v b="$bound" 'BEGIN { printf "%.2f%%", 100 * r / b }'); $(grep "Memory usage" "$log" | tr '\t' ' ')"
    rm -f "$log"
  done
done

# --- 5 and 6: memory at 1,000,000 and (with --100m) 100,000,000 requests ----------------------
say ""
say "Stage 04 at --limit 1000 against a server without delays"
sizes=(1000000)
[ $hundred_million -eq 1 ] && sizes+=(100000000)
for n in "${sizes[@]}"; do
  start_server --port 0 --max-delay 0
  log=$results/progress-$n.log
  echo "# commit $(git -C "$root" rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr)" >"$log"
  PROGRESS=1 "$bin/timed" --no-server -- "$bin/client-async-proposal" "$n" \
    --url "http://127.0.0.1:$server_port/{}" 2>>"$log" || true
  stop_server
  say "  $n requests: $(grep "requests: ok" "$log")"
  say "  $(grep "Memory usage" "$log" | tr '\t' ' ')"
  # RSS over time, for the plot, from the progress lines (their format: progress_line in
  # common/summary.cpp).
  awk '/^progress:/ { gsub(",", ""); print $2 + 0 "," $4 + 0 "," $(NF - 5) + 0 }' "$log" >"$results/rss-$n.csv"
done
if [ $hundred_million -eq 1 ] && command -v gnuplot >/dev/null; then
  gnuplot -e "csv='$results/rss-100000000.csv'; out='$results/rss-100m.svg'" "$root/docs/plots/rss.gp"
  say "  plot: ${results#$root/}/rss-100m.svg"
fi
say ""
say "Written to ${summary#$root/}"
