#!/usr/bin/env bash
# The stage-04 client and bounded-benchmark built three ways, measured side by side:
#   shipped     the default preset's build/ (Asio as Debian ships it: epoll, and a per-thread
#               cache of two freed blocks for coroutine frames and handlers);
#   cache-16    the same code with -DASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16: the cache keeps 16;
#   io_uring    with -DASIO_HAS_IO_URING -DASIO_DISABLE_EPOLL: every socket operation goes through
#               an io_uring ring instead of epoll and non-blocking calls (links liburing).
# A macro of Asio's must be the same in every translation unit of a program, so each variant is a
# whole build of its own, in build-variant-NAME/. Against one server without delays (the shipped
# build, on core 0; the clients on core 1) it measures:
#   - bounded-benchmark's bounded, finish and for_each rows: allocations per operation and
#     operations/s (median of 3 repetitions);
#   - the client at --limit 100 --pipeline 1 and --limit 112 --pipeline 16: requests/s and user
#     and kernel CPU per request (medians of alternating runs), and system calls per request,
#     counted by the kernel's syscall tracepoints (perf stat);
#   - where the client's time goes at --pipeline 1: the share of perf record's samples in a few
#     kernel paths.
# Writes RESULTS/asio-builds.txt. Not part of the test suite. Needs linux-perf and liburing-dev.
#
# Usage: 04-stdlib-proposal/benchmarks/asio-builds.sh [--runs N] [--results DIR]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
results=$root/docs/performance
runs=5
cases=("100 1 200000" "112 16 400000") # limit, pipeline depth, requests per run
variants=(shipped cache-16 io_uring)
declare -A flags=([cache-16]="-DASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16"
                  [io_uring]="-DASIO_HAS_IO_URING -DASIO_DISABLE_EPOLL")
declare -A libs=([io_uring]=-luring)
declare -A dir=([shipped]=$root/build)

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --results) results=${2:?}; shift ;;
    *) echo "asio-builds.sh: unknown option $1" >&2
       echo "Usage: asio-builds.sh [--runs N] [--results DIR]" >&2; exit 2 ;;
  esac
  shift
done
for p in server client-async-proposal bounded-benchmark; do
  [ -x "$root/build/bin/$p" ] || { echo "asio-builds.sh: build/bin/$p is missing; build first (cmake --build --preset default)" >&2; exit 1; }
done
[ -f /usr/include/liburing.h ] || { echo "asio-builds.sh: needs liburing (apt-get install liburing-dev)" >&2; exit 1; }
for tool in perf taskset /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "asio-builds.sh: $tool is missing (packages linux-perf, util-linux, time)" >&2; exit 1; }
done
perf stat -e syscalls:sys_enter_io_uring_enter true >/dev/null 2>&1 ||
  { echo "asio-builds.sh: perf cannot read the syscall tracepoints here (try as root, or lower kernel.perf_event_paranoid)" >&2; exit 1; }

for v in "${variants[@]}"; do
  [ "$v" = shipped ] && continue
  dir[$v]=$root/build-variant-$v
  mkdir -p "${dir[$v]}"
  { cmake -S "$root" -B "${dir[$v]}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS=${flags[$v]}" "-DCMAKE_CXX_STANDARD_LIBRARIES=${libs[$v]:-}" &&
    cmake --build "${dir[$v]}" --target client-async-proposal bounded-benchmark; } >"${dir[$v]}/variant-build.log" 2>&1 ||
    { echo "asio-builds.sh: building $v failed; see ${dir[$v]}/variant-build.log" >&2; exit 1; }
done

mkdir -p "$results"
out=$results/asio-builds.txt
: >"$out"
say() { echo "$*" | tee -a "$out"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_of() { tr ' ' '\n' <<<"$1" | grep . | median; }

say "The stage-04 client and bounded-benchmark built three ways (shipped, cache-16, io_uring)"
say "Machine: $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(c++ --version | head -n 1), liburing $(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo '?')"
say "Commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- common 04-stdlib-proposal server || echo ' (with local changes)')"
say "Date: $(date -u +%Y-%m-%dT%H:%MZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for v in "${variants[@]}"; do
  say "  $v: ${dir[$v]#"$root"/}/bin/, built with CMAKE_CXX_FLAGS='${flags[$v]:-}'${libs[$v]:+ and ${libs[$v]}}"
done
say ""

say "bounded-benchmark, taskset -c 1 BENCHMARK --benchmark_filter='^(bounded|finish|for_each)/100000\$'"
say "  --benchmark_repetitions=3, medians (allocs/op counts every malloc of the process):"
for v in "${variants[@]}"; do
  taskset -c 1 "${dir[$v]}/bin/bounded-benchmark" --benchmark_filter='^(bounded|finish|for_each)/100000$' \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>/dev/null |
    awk -v v="$v" '/_median/ {
      a = ""; r = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^allocs\/op=/) { a = $i; sub("allocs/op=", "", a) }
        if ($i ~ /^items_per_second=/) { r = $i; sub("items_per_second=", "", r); sub("/s$", "", r) }
      }
      sub("/100000_median", "", $1)
      printf "  %-9s %-9s %8.2f allocations/op %12s operations/s\n", v, $1, a, r }' | tee -a "$out"
done
say ""

work=$(mktemp -d)
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
taskset -c 0 "$root/build/bin/server" --port 0 --max-delay 0 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$work/server.log" | head -n 1)
[ -n "$port" ] || { echo "asio-builds.sh: the server did not start: $(cat "$work/server.log")" >&2; exit 1; }
run() { # variant n limit depth [wrapper...]: the client's output
  local v=$1 n=$2 limit=$3 depth=$4
  shift 4
  "$@" taskset -c 1 "${dir[$v]}/bin/client-async-proposal" "$n" --limit "$limit" --pipeline "$depth" \
    --url "http://127.0.0.1:$port/{}" 2>&1
}
check_ok() { grep -q "^$2 requests: ok $2, failed 0" <<<"$1" || { echo "asio-builds.sh: a run failed: $1" >&2; exit 1; }; }

say "The client against build/bin/server --port 0 --max-delay 0 on core 0 (one server for all runs):"
say "  taskset -c 1 CLIENT N --limit L --pipeline K; $runs alternating runs of each variant, medians;"
say "  system calls from perf stat -e 'syscalls:sys_enter_*' in one more run"
printf '%-6s %-6s %-9s | %10s %8s %8s %13s   %s\n' limit depth variant requests/s "user us" "sys us" "syscalls/req" "the most frequent" | tee -a "$out"
for c in "${cases[@]}"; do
  read -r limit depth n <<<"$c"
  declare -A rates=() users=() syss=()
  for ((i = 0; i < runs; i++)); do
    for v in "${variants[@]}"; do
      o=$(run "$v" "$n" "$limit" "$depth" /usr/bin/time -f "time: %e %U %S")
      check_ok "$o" "$n"
      read -r e u s < <(sed -n 's/^time: //p' <<<"$o")
      rates[$v]+="$(awk -v n="$n" -v e="$e" 'BEGIN { printf "%.0f", n / e }') "
      users[$v]+="$(awk -v n="$n" -v t="$u" 'BEGIN { printf "%.2f", t * 1e6 / n }') "
      syss[$v]+="$(awk -v n="$n" -v t="$s" 'BEGIN { printf "%.2f", t * 1e6 / n }') "
    done
  done
  for v in "${variants[@]}"; do
    o=$(run "$v" "$n" "$limit" "$depth" perf stat -x, -o "$work/perf.csv" -e 'syscalls:sys_enter_*')
    check_ok "$o" "$n"
    awk -F, '$3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 { sub("syscalls:sys_enter_", "", $3); print $3, $1 }' \
      "$work/perf.csv" | sort -k2,2nr >"$work/calls"
    total=$(awk '{ s += $2 } END { print s + 0 }' "$work/calls")
    printf '%-6s %-6s %-9s | %10s %8s %8s %13s   %s\n' "$limit" "$depth" "$v" \
      "$(median_of "${rates[$v]}")" "$(median_of "${users[$v]}")" "$(median_of "${syss[$v]}")" \
      "$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.2f", t / n }')" \
      "$(awk -v n="$n" 'NR <= 3 { printf "%s%s %.2f", (NR > 1 ? ", " : ""), $1, $2 / n }' "$work/calls")" | tee -a "$out"
  done
  for v in "${variants[@]}"; do
    say "  every run, $v: requests/s ${rates[$v]% }; user us ${users[$v]% }; sys us ${syss[$v]% }"
  done
  unset rates users syss
done
say ""

say "Where the client's time goes at --limit 100 --pipeline 1: the share of its samples in each kernel"
say "path, callees included:"
say "  perf record -g -o FILE -- CLIENT 100000 --limit 100; perf report -i FILE --children --sort symbol --stdio -g none"
paths=(do_syscall_64 tcp_sendmsg sock_recvmsg asm_sysvec_reschedule_ipi task_work_run)
printf '%-9s |%s\n' variant "$(printf ' %26s' "${paths[@]}")" | tee -a "$out"
for v in "${variants[@]}"; do
  o=$(run "$v" 100000 100 1 perf record -q -g -o "$work/$v.perf" --)
  check_ok "$o" 100000
  perf report -i "$work/$v.perf" --children --sort symbol --stdio -g none >"$work/$v.report" 2>/dev/null
  row=""
  for f in "${paths[@]}"; do
    row+=$(awk -v f="$f" '$4 == f { share = $1 } END { printf " %26s", (share == "" ? "0.00%" : share) }' "$work/$v.report")
  done
  printf '%-9s |%s\n' "$v" "$row" | tee -a "$out"
done
say "do_syscall_64: every system call; tcp_sendmsg: sending, which on loopback also carries the"
say "bytes through the server's side of TCP and wakes the server; sock_recvmsg: receiving;"
say "asm_sysvec_reschedule_ipi: the interrupt by which the kernel makes the client's thread run"
say "io_uring's task work (the completions); task_work_run: that work, wherever it runs."
say ""
say "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "Written by 04-stdlib-proposal/benchmarks/asio-builds.sh --runs $runs"
echo "Written to $out" >&2
