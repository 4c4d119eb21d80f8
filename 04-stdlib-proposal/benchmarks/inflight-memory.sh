#!/usr/bin/env bash
# Memory per request in flight: the peak memory of stage 03 (the hand-written loop) and stage 04
# (the library) at several limits, with the article's 0-3 s delays so that every place is in use,
# and (with --heaptrack) what the heap holds at its peak, sorted into the parts of one request, and
# (with --smaps) which mappings the resident set is in at its peak: malloc's heap, other anonymous
# memory (blocks malloc maps on their own), the program and its libraries.
# Writes RESULTS/NAME.txt (and NAME-heaptrack.txt, NAME-smaps.txt). Not a test.
#
# Usage: 04-stdlib-proposal/benchmarks/inflight-memory.sh [--requests N] [--limits "L1 L2 ..."]
#          [--runs R] [--client LABEL=PATH]... [--heaptrack] [--heaptrack-limit L]
#          [--heaptrack-requests N] [--smaps] [--results DIR] [--name NAME] [--note TEXT]
# Example: 04-stdlib-proposal/benchmarks/inflight-memory.sh --limits "1000 10000 18000" --heaptrack
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/build/bin
results=$root/docs/performance
name=memory-per-inflight
requests=150000           # per run: enough that every place is used many times over
limits="1000 10000 18000" # the limits the table shows
runs=1                    # runs per cell; the median is reported (peak memory varies little)
heaptrack=0
heaptrack_requests=30000 # enough for the heap to reach its peak at limit 10,000
heaptrack_limit=10000    # the limit of the heaptrack runs (--heaptrack-limit), and of the smaps ones
smaps=0
server_args="--port 0 --max-delay 3 --delay-unit s"
clients=()
notes=() # lines printed under the header, e.g. how a --client was built

usage() {
  echo "Usage: inflight-memory.sh [--requests N] [--limits \"L1 L2 ...\"] [--runs R] [--client LABEL=PATH]... [--heaptrack] [--heaptrack-limit L] [--heaptrack-requests N] [--smaps] [--results DIR] [--name NAME] [--note TEXT]" >&2
  echo "Example: inflight-memory.sh --limits \"1000 10000 18000\" --heaptrack" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=${2:?}; shift ;;
    --limits) limits=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --client) clients+=("${2:?}"); shift ;;
    --heaptrack) heaptrack=1 ;;
    --heaptrack-limit) heaptrack_limit=${2:?}; shift ;;
    --heaptrack-requests) heaptrack_requests=${2:?}; shift ;;
    --smaps) smaps=1 ;;
    --results) results=${2:?}; shift ;;
    --name) name=${2:?}; shift ;;
    --note) notes+=("${2:?}"); shift ;;
    *) echo "inflight-memory.sh: unknown option $1" >&2; usage ;;
  esac
  shift
done
[ ${#clients[@]} -gt 0 ] ||
  clients=("03=$bin/client-async-as-completed" "04=$bin/client-async-proposal")
for p in server timed; do
  [ -x "$bin/$p" ] || { echo "inflight-memory.sh: $bin/$p is missing; build first (cmake --build --preset default)" >&2; exit 1; }
done
for c in "${clients[@]}"; do
  [ -x "${c#*=}" ] || { echo "inflight-memory.sh: ${c#*=} is missing; build first" >&2; exit 1; }
done
if [ $heaptrack -eq 1 ]; then
  command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null ||
    { echo "inflight-memory.sh: --heaptrack needs heaptrack (apt-get install heaptrack)" >&2; exit 1; }
fi

# Each request in flight holds a socket: the largest limit needs that many descriptors and a few.
ulimit -n "$(ulimit -Hn)"
largest=$(echo "$limits $heaptrack_limit" | tr ' ' '\n' | sort -n | tail -n 1)
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((largest + 64)) ]; then
  echo "inflight-memory.sh: --limit $largest needs about $((largest + 64)) open files; the hard limit is $(ulimit -Hn)" >&2
  exit 1
fi

# The commit, read before this run's own output files are touched (they are tracked).
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
mkdir -p "$results"
out=$results/$name.txt
: >"$out"
say() { echo "$*" | tee -a "$out"; }
shown() { echo "${1#"$root"/}"; } # a path as the reader would type it from the root
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

say "Peak memory (timed's maximum resident set size) against the limit, stages 03 and 04"
say "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), $(c++ --version | head -n 1); shared with other work"
say "Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $commit; preset default (RelWithDebInfo)"
say "Each cell: build/bin/timed --server-args \"$server_args\" -- CLIENT $requests --limit L --url 'http://127.0.0.1:{port}/{}'"
say "(a fresh server for each run; $runs run(s) per cell, median; every run must end with \"failed 0\")"
for c in "${clients[@]}"; do say "  ${c%%=*}: $(shown "${c#*=}")"; done
for n in "${notes[@]}"; do say "$n"; done
say ""

declare -A kb every
for limit in $limits; do
  for c in "${clients[@]}"; do
    label=${c%%=*} client=${c#*=} values=""
    for ((i = 0; i < runs; i++)); do
      run=$(PROGRESS=0 "$bin/timed" --server-args "$server_args" -- "$client" "$requests" \
            --limit "$limit" --url 'http://127.0.0.1:{port}/{}' 2>&1)
      grep -q "failed 0" <<<"$run" ||
        { echo "inflight-memory.sh: $label at --limit $limit failed:" >&2; echo "$run" >&2; exit 1; }
      values+="$(echo "$run" | sed -n 's/.*Memory usage: \([0-9]*\)KB.*/\1/p') "
    done
    kb[$label,$limit]=$(echo "$values" | tr ' ' '\n' | grep . | median)
    every[$label,$limit]=${values% }
    echo "  $label --limit $limit: ${kb[$label,$limit]} KB" >&2
  done
done

# The table: peak KB per limit, and the growth from the previous limit per extra place.
header="limit"
for c in "${clients[@]}"; do header+=$'\t'"${c%%=*} KB"; done
for c in "${clients[@]}"; do header+=$'\t'"${c%%=*} KB/place"; done
say "$header"
previous=""
for limit in $limits; do
  row="$limit"
  for c in "${clients[@]}"; do row+=$'\t'"${kb[${c%%=*},$limit]}"; done
  for c in "${clients[@]}"; do
    label=${c%%=*}
    if [ -n "$previous" ]; then
      row+=$'\t'$(awk -v a="${kb[$label,$previous]}" -v b="${kb[$label,$limit]}" -v l0="$previous" -v l1="$limit" 'BEGIN { printf "%.2f", (b - a) / (l1 - l0) }')
    else
      row+=$'\t'"-"
    fi
  done
  say "$row"
  previous=$limit
done
say ""
say "KB/place: (peak at this limit - peak at the previous one) / (difference of the limits), the"
say "memory each further request in flight costs; the first row has no previous limit."
say ""
say "Every run, KB:"
for limit in $limits; do
  for c in "${clients[@]}"; do say "  ${c%%=*} --limit $limit: ${every[${c%%=*},$limit]}"; done
done

[ $heaptrack -eq 1 ] || [ $smaps -eq 1 ] || { echo "Written to $out" >&2; exit 0; }

# One server for the runs below.
work=$(mktemp -d)
log=$work/server.log
"$bin/server" $server_args >"$log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$log" | head -n 1)

# --- heaptrack: the heap at its peak, sorted into the parts of a request ------------------------
if [ $heaptrack -eq 1 ]; then
hout=$results/$name-heaptrack.txt
: >"$hout"
hsay() { echo "$*" | tee -a "$hout"; }

hsay "The heap at its peak (heaptrack), sorted into the parts of one request in flight"
hsay "Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $commit; $(heaptrack --version 2>&1 | head -n 1)"
hsay "Each: heaptrack -o FILE CLIENT $heaptrack_requests --limit $heaptrack_limit --url http://127.0.0.1:PORT/{}"
hsay "  against one server: build/bin/server $server_args"
hsay "then: heaptrack_print -f FILE.zst -p 0 -a 0 -T 0 -F STACKS --flamegraph-cost-type peak"
hsay "Bytes are what the program asked for (malloc's own rounding and headers not counted),"
hsay "divided by the limit: every place is in use at the peak."
for c in "${clients[@]}"; do
  label=${c%%=*} client=${c#*=}
  heaptrack -o "$work/$label" "$client" "$heaptrack_requests" --limit "$heaptrack_limit" \
    --url "http://127.0.0.1:$port/{}" >"$work/$label.log" 2>&1
  heaptrack_print -f "$work/$label.zst" -p 0 -a 0 -T 0 -F "$work/$label.stacks" \
    --flamegraph-cost-type peak >"$work/$label.summary" 2>&1
  hsay ""
  hsay "== $label: $(shown "$client")"
  grep -E "^(calls to allocation functions|peak heap memory consumption|peak RSS)" "$work/$label.summary" |
    sed 's/^/  /' | tee -a "$hout"
  # Each line of STACKS is "frame;frame;...;frame BYTES", the bytes live at the peak.
  awk -v per="$heaptrack_limit" '
    function kind(s) {
      if (s ~ /prepare_memory/) {
        if (s ~ /reactor_op_cancellation/) return "cancellation handler of a socket operation"
        if (s ~ /range_connect/) return "cancellation handler of async_connect"
        if (s ~ /co_spawn/ && s ~ /cancellation_state/) return "co_spawn cancellation_state (proxy and thread)"
        return "cancellation handler, other"
      }
      if (match(s, /awaitable_frame_base<>::operator new\(unsigned long\) \(awaitable.hpp\);[^;]*/)) {
        next_frame = substr(s, RSTART, RLENGTH)
        if (next_frame ~ /co_spawn_entry_point/) return "coroutine frames (co_spawn entry point, first allocated)"
        if (next_frame ~ /session::get/) return "coroutine frames (session::get, first allocated)"
        return "coroutine frames (others: initiations, connect)"
      }
      if (s ~ /reactive_socket/ && (s ~ /ptr::allocate/ || s ~ /hook_allocator/)) return "socket operation with its handler"
      if (s ~ /checkout/ && s ~ /make_unique/) return "session: connection object"
      if (s ~ /checkout/ || s ~ /checkin/) return "session: pool vectors"
      if (s ~ /read_buffer::space/) return "session: read buffer"
      if (s ~ /register_descriptor/) return "epoll descriptor state"
      if (s ~ /format_request/) return "session: request bytes"
      if (s ~ /url_template::format/) return "URL string"
      if (s ~ /initiate_async_range_connect/) return "async_connect: its copy of the endpoints"
      if (s ~ /ensure_future/ && s ~ /make_shared/) return "stage 03: future"
      if (s ~ /limited_as_completed/) return "stage 03: vector of futures"
      if (s ~ /bounded::/ || s ~ /as_completed.hpp/) return "stage 04: the places (slots, free and ready lists)"
      return "other (startup, libraries)"
    }
    {
      bytes = $NF; $NF = ""; k = kind($0); sum[k] += bytes; total += bytes
      if (k ~ /^coroutine frames/) frames += bytes
      if (k ~ /^(cancellation|co_spawn cancellation)/) cancellation += bytes
    }
    END {
      for (k in sum) printf "  %10d B %8.1f B/place  %s\n", sum[k], sum[k] / per, k | "sort -k1,1nr"
      close("sort -k1,1nr")
      printf "  %10d B %8.1f B/place  total\n", total, total / per
      printf "  of which %.1f B/place coroutine frames, %.1f B/place cancellation handlers\n", frames / per, cancellation / per
    }' "$work/$label.stacks" | tee -a "$hout"
done
hsay ""
hsay "Frames are sorted by where their block was first allocated: Asio keeps freed frame blocks in"
hsay "a small per-thread cache and gives them to the next frame that fits, so one site's block may"
hsay "hold another coroutine's frame. Compare the frames' sums, not the lines."
echo "Written to $hout" >&2
fi

# --- smaps: where the resident set is at its peak -----------------------------------------------
if [ $smaps -eq 1 ]; then
sout=$results/$name-smaps.txt
: >"$sout"
ssay() { echo "$*" | tee -a "$sout"; }
ssay "Where the resident set is at its peak: /proc/PID/smaps, read whenever VmRSS reached a new high"
ssay "(sampled every 0.1 s), its Rss summed by mapping"
ssay "Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $commit"
ssay "Each: CLIENT $requests --limit $heaptrack_limit --url http://127.0.0.1:PORT/{}, against one server: build/bin/server $server_args"
for c in "${clients[@]}"; do
  label=${c%%=*} client=${c#*=}
  PROGRESS=0 "$client" "$requests" --limit "$heaptrack_limit" --url "http://127.0.0.1:$port/{}" \
    >"$work/$label.out" 2>&1 &
  pid=$! best=0
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    if [ "${rss:-0}" -gt "$best" ] && cat "/proc/$pid/smaps" >"$work/$label.smaps" 2>/dev/null; then best=$rss; fi
    sleep 0.1
  done
  wait "$pid" || true
  grep -q "failed 0" "$work/$label.out" ||
    { echo "inflight-memory.sh: $label failed:" >&2; cat "$work/$label.out" >&2; exit 1; }
  ssay ""
  ssay "== $label: $(shown "$client"), resident set at its peak: $best KB"
  awk -v program="$(basename "$client")" '
    /^[0-9a-f]+-[0-9a-f]+ / {
      path = $6; n = split(path, p, "/"); base = p[n]
      if (path == "[heap]") kind = "malloc heap ([heap])"
      else if (path == "") kind = "anonymous (blocks mapped apart from the heap)"
      else if (base == program) kind = "the program"
      else if (base ~ /\.so/) kind = "shared libraries"
      else kind = "other (stack, vdso)"
    }
    /^Rss:/ { kb[kind] += $2 }
    END { for (k in kb) printf "  %8d KB  %s\n", kb[k], k | "sort -k1,1nr" }' "$work/$label.smaps" | tee -a "$sout"
done
echo "Written to $sout" >&2
fi
echo "Written to $out" >&2
