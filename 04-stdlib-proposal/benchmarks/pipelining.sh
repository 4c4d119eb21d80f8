# HTTP/1.1 pipelining, measured: sourced by speed.sh --pipelining, whose helpers (say, median,
# ratio, start_server, stop_server) and settings (runs, seconds, results) it uses.
depth=16           # requests written back to back on a connection, TechEmpower's plaintext setting
pipe_connections=7 # connections for the pipelined contenders: 7 x 16 = 112 requests in flight

have() { command -v "$1" >/dev/null || { say "($1 is not installed (package $2): skipping the comparisons with it)"; return 1; }; }
have_wrk=1; have wrk wrk || have_wrk=0
have_h2load=1; have h2load nghttp2-client || have_h2load=0

# The stage-04 client's requests/s: n requests at --limit limit --pipeline k, through timed.
pipelined_rate() { # n limit k port
  local out
  out=$(PROGRESS=0 "$bin/timed" --no-server -- "$bin/client-async-proposal" "$1" --limit "$2" \
        --pipeline "$3" --url "http://127.0.0.1:$4/{}" 2>&1)
  echo "$out" | grep -q "failed 0" || { echo "speed.sh: the client failed: $out" >&2; exit 1; }
  echo "$out" | awk -v n="$1" '/Time:/ { for (i = 1; i <= NF; i++) if ($i == "Time:") print n / $(i + 1) }'
}
wrk_plain() { wrk -t1 -c"$connections" -d"${seconds}s" "$1" | awk '/Requests\/sec/ { print $2 }'; }
wrk_pipelined() {
  wrk -t1 -c"$pipe_connections" -d"${seconds}s" -s "$root/04-stdlib-proposal/benchmarks/pipeline.lua" \
    "$1" -- "$depth" | awk '/Requests\/sec/ { print $2 }'
}
h2load_rate() {
  h2load --h1 -t1 -c"$pipe_connections" -m"$depth" -D"$seconds" "$1" |
    awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i - 1) }'
}

if [[ $pipelining == *ratios* ]]; then
  start_server --port 0 --max-delay 0
  port=$server_port
  # Size the client's runs to last about as long as the tools' (a probe of each setting).
  n1=$(awk -v r="$(pipelined_rate 200000 "$connections" 1 "$port")" -v s="$seconds" 'BEGIN { printf "%d", r * s }')
  n16=$(awk -v r="$(pipelined_rate 400000 $((pipe_connections * depth)) "$depth" "$port")" -v s="$seconds" 'BEGIN { printf "%d", r * s }')
  declare -A rates
  for ((i = 0; i < runs; i++)); do # alternating: each contender once per round
    rates[client1]+="$(pipelined_rate "$n1" "$connections" 1 "$port") "
    if [ $have_wrk -eq 1 ]; then rates[wrk1]+="$(wrk_plain "http://127.0.0.1:$port/x") "; fi
    rates[client16]+="$(pipelined_rate "$n16" $((pipe_connections * depth)) "$depth" "$port") "
    if [ $have_wrk -eq 1 ]; then rates[wrk16]+="$(wrk_pipelined "http://127.0.0.1:$port/x") "; fi
    if [ $have_h2load -eq 1 ]; then rates[h2load16]+="$(h2load_rate "http://127.0.0.1:$port/x") "; fi
  done
  stop_server
  m() { echo "${rates[$1]:-}" | tr ' ' '\n' | grep . | median; }
  say ""
  say "Requests/s against our server without delays, one client thread each; medians of $runs alternating runs"
  say "  every run: $(for k in client1 wrk1 client16 wrk16 h2load16; do [ -n "${rates[$k]:-}" ] && printf '%s=[%s] ' "$k" "${rates[$k]% }"; done)"
  say "  stage-04 client --limit $connections --pipeline 1:   $(m client1)"
  [ $have_wrk -eq 1 ] && say "  wrk -t1 -c$connections:                              $(m wrk1)   (client/wrk = $(ratio "$(m client1)" "$(m wrk1)"))"
  say "  stage-04 client --limit $((pipe_connections * depth)) --pipeline $depth: $(m client16)"
  [ $have_wrk -eq 1 ] && say "  wrk -t1 -c$pipe_connections -s pipeline.lua -- $depth:          $(m wrk16)   (client/wrk = $(ratio "$(m client16)" "$(m wrk16)"))"
  [ $have_h2load -eq 1 ] && say "  h2load --h1 -t1 -c$pipe_connections -m$depth:              $(m h2load16)   (client/h2load = $(ratio "$(m client16)" "$(m h2load16)"))"
fi

if [[ $pipelining == *hol* ]]; then
  # Head-of-line blocking: the server answers a connection's requests in order, one after the
  # other, so a pipelined request waits for the delays of every request ahead of it.
  say ""
  say "Head-of-line blocking: 10,000 requests at --limit 1000, the article's delays (0-3 s, seed 1)"
  for k in 1 "$depth"; do
    out=$(PROGRESS=0 "$bin/timed" --server-args "--port 0 --max-delay 3 --delay-unit s --seed 1" -- \
          "$bin/client-async-proposal" 10000 --limit 1000 --pipeline "$k" --url 'http://127.0.0.1:{port}/{}' 2>&1)
    say "  --pipeline $k: $(echo "$out" | grep "requests: ok"); $(echo "$out" | grep "Memory usage" | tr '\t' ' ')"
    say "    $(echo "$out" | grep "^server:")"
  done
fi

if [[ $pipelining == *large* ]]; then
  say ""
  say "Stage 04 at --limit 1000 --pipeline $depth against a server without delays"
  sizes=(1000000)
  [ "$large" != 1000000 ] && sizes+=("$large")
  for n in "${sizes[@]}"; do
    start_server --port 0 --max-delay 0
    log=$results/progress-pipelined-$n.log
    PROGRESS=1 "$bin/timed" --no-server -- "$bin/client-async-proposal" "$n" --pipeline "$depth" \
      --url "http://127.0.0.1:$server_port/{}" 2>"$log" || true
    stop_server
    say "  $n requests: $(grep "requests: ok" "$log")"
    say "  $(grep "Memory usage" "$log" | tr '\t' ' ')"
    awk '/^progress:/ { gsub(",", ""); print $2 + 0 "," $4 + 0 "," $(NF - 5) + 0 }' "$log" >"$results/rss-pipelined-$n.csv"
  done
fi
say ""
say "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "Written to ${summary#$root/}"
