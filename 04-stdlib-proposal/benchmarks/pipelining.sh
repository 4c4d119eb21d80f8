# HTTP/1.1 pipelining, measured: sourced by speed.sh --pipelining, whose helpers (say, median,
# ratio, start_server, stop_server) and settings (runs, seconds, results) it uses.
depth=16           # requests written back to back on a connection, TechEmpower's plaintext setting
pipe_connections=7 # connections for the pipelined contenders: 7 x 16 = 112 requests in flight

have() { command -v "$1" >/dev/null || { say "($1 is not installed (package $2): skipping the comparisons with it)"; return 1; }; }
have_wrk=1; have wrk wrk || have_wrk=0
have_h2load=1; have h2load nghttp2-client || have_h2load=0

# The server has core 0 (speed.sh's start_server runs it under server_core) and the client (ours
# or a tool) core 1, when taskset (util-linux) is there: unpinned, the two sometimes share a core
# for part of a run, and the rates of one contender then differ by a quarter from run to run.
server_core=() client_core=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_core=(taskset -c 0) client_core=(taskset -c 1)
fi

# Each contender prints "REQUESTS/S CPU_US": its rate, and the user + system CPU time it spent per
# request, in microseconds (our client's from timed, a tool's from bash's `time`).
timed_cpu() { # command...: its output, then a line "cpu-seconds: S" (user + system)
  local t
  t=$(mktemp)
  TIMEFORMAT='%U %S'
  { time "$@" >"$t.out" 2>&1; } 2>"$t"
  cat "$t.out"
  awk '{ print "cpu-seconds: " $1 + $2 }' "$t"
  rm -f "$t" "$t.out"
}
# The stage-04 client's requests/s: n requests at --limit limit --pipeline k, through timed.
pipelined_rate() { # n limit k port
  local out
  out=$(PROGRESS=0 "${client_core[@]}" "$bin/timed" --no-server -- "$bin/client-async-proposal" "$1" \
        --limit "$2" --pipeline "$3" --url "http://127.0.0.1:$4/{}" 2>&1)
  grep -q "failed 0" <<<"$out" || { echo "speed.sh: the client failed: $out" >&2; exit 1; }
  echo "$out" | awk -v n="$1" '
    /Time:/ { for (i = 1; i <= NF; i++) { if ($i == "Time:") t = $(i + 1); if ($i == "usage:") c = $(i + 1) } }
    END { gsub("%", "", c); printf "%s %.2f\n", n / t, t * c / 100 * 1e6 / n }'
}
wrk_plain() {
  timed_cpu "${client_core[@]}" wrk -t1 -c"$connections" -d"${seconds}s" "$1" |
    awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } /^cpu-seconds:/ { c = $2 } END { printf "%s %.2f\n", r, c * 1e6 / n }'
}
wrk_pipelined() {
  timed_cpu "${client_core[@]}" wrk -t1 -c"$pipe_connections" -d"${seconds}s" \
    -s "$root/04-stdlib-proposal/benchmarks/pipeline.lua" "$1" -- "$depth" |
    awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } /^cpu-seconds:/ { c = $2 } END { printf "%s %.2f\n", r, c * 1e6 / n }'
}
h2load_rate() {
  timed_cpu "${client_core[@]}" h2load --h1 -t1 -c"$pipe_connections" -m"$depth" -D"$seconds" "$1" |
    awk '/^requests:/ { n = $8 } /^cpu-seconds:/ { c = $2 }
      /^finished in/ { for (i = 1; i <= NF; i++) if ($i == "req/s,") r = $(i - 1) }
      END { printf "%s %.2f\n", r, c * 1e6 / n }'
}

if [[ $pipelining == *ratios* ]]; then
  start_server --port 0 --max-delay 0
  port=$server_port
  # Size the client's runs to last about as long as the tools' (a probe of each setting).
  probe1=$(pipelined_rate 200000 "$connections" 1 "$port")
  probe16=$(pipelined_rate 400000 $((pipe_connections * depth)) "$depth" "$port")
  n1=$(awk -v r="${probe1% *}" -v s="$seconds" 'BEGIN { printf "%d", r * s }')
  n16=$(awk -v r="${probe16% *}" -v s="$seconds" 'BEGIN { printf "%d", r * s }')
  declare -A rates cpus
  add() { local r c; read -r r c; rates[$1]+="$r "; cpus[$1]+="$c "; }
  for ((i = 0; i < runs; i++)); do # alternating: each contender once per round
    add client1 < <(pipelined_rate "$n1" "$connections" 1 "$port")
    if [ $have_wrk -eq 1 ]; then add wrk1 < <(wrk_plain "http://127.0.0.1:$port/x"); fi
    add client16 < <(pipelined_rate "$n16" $((pipe_connections * depth)) "$depth" "$port")
    if [ $have_wrk -eq 1 ]; then add wrk16 < <(wrk_pipelined "http://127.0.0.1:$port/x"); fi
    if [ $have_h2load -eq 1 ]; then add h2load16 < <(h2load_rate "http://127.0.0.1:$port/x"); fi
  done
  stop_server
  m() { echo "${rates[$1]:-}" | tr ' ' '\n' | grep . | median; }
  mc() { echo "${cpus[$1]:-}" | tr ' ' '\n' | grep . | median; }
  say ""
  say "Requests/s against our server without delays, one client thread each; medians of $runs alternating runs"
  [ ${#server_core[@]} -gt 0 ] && say "Pinned: the server to core 0, the client or tool to core 1 (taskset)"
  say "  every run, requests/s: $(for k in client1 wrk1 client16 wrk16 h2load16; do [ -n "${rates[$k]:-}" ] && printf '%s=[%s] ' "$k" "${rates[$k]% }"; done)"
  say "  every run, client-side CPU us per request: $(for k in client1 wrk1 client16 wrk16 h2load16; do [ -n "${cpus[$k]:-}" ] && printf '%s=[%s] ' "$k" "${cpus[$k]% }"; done)"
  say "  stage-04 client --limit $connections --pipeline 1:   $(m client1)/s, $(mc client1) us CPU per request"
  [ $have_wrk -eq 1 ] && say "  wrk -t1 -c$connections:                              $(m wrk1)/s, $(mc wrk1) us   (client/wrk = $(ratio "$(m client1)" "$(m wrk1)"))"
  say "  stage-04 client --limit $((pipe_connections * depth)) --pipeline $depth: $(m client16)/s, $(mc client16) us"
  [ $have_wrk -eq 1 ] && say "  wrk -t1 -c$pipe_connections -s pipeline.lua -- $depth:          $(m wrk16)/s, $(mc wrk16) us   (client/wrk = $(ratio "$(m client16)" "$(m wrk16)"))"
  [ $have_h2load -eq 1 ] && say "  h2load --h1 -t1 -c$pipe_connections -m$depth:              $(m h2load16)/s, $(mc h2load16) us   (client/h2load = $(ratio "$(m client16)" "$(m h2load16)"))"
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
    PROGRESS=1 "${client_core[@]}" "$bin/timed" --no-server -- "$bin/client-async-proposal" "$n" --pipeline "$depth" \
      --url "http://127.0.0.1:$server_port/{}" 2>"$log" || true
    stop_server
    say "  $(grep "requests: ok" "$log")"
    say "  $(grep "Memory usage" "$log" | tr '\t' ' ')"
    # RSS over time from the progress lines (their format: progress_line in common/summary.cpp).
    awk '/^progress:/ { gsub(",", ""); print $2 + 0 "," $4 + 0 "," $(NF - 5) + 0 }' "$log" >"$results/rss-pipelined-$n.csv"
  done
  if [ "$large" = 100000000 ] && command -v gnuplot >/dev/null; then
    gnuplot -e "csv='$results/rss-pipelined-100000000.csv'; out='$results/rss-pipelined-100m.svg'" \
      -e "title='Stage 04, 100 million requests, limit 1000, --pipeline 16, server without delays'" \
      "$root/docs/plots/rss.gp"
    say "  plot: ${results#$root/}/rss-pipelined-100m.svg"
  fi
fi
say ""
say "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "Written to ${summary#$root/}"
