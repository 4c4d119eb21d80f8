#!/usr/bin/env bash
# Where a request's time goes, per request, for the stage-04 client and for the server, at
# --limit 100 and 1000, with --pipeline 1 (the default) and 16, against a server without delays:
#   - system calls, counted by the kernel's syscall tracepoints (perf stat -e 'syscalls:sys_enter_*'),
#     which, unlike strace, do not slow the traced process down and so do not change its batching;
#   - instructions in user space, counted by callgrind: the difference between a run of N1 and one
#     of N2 requests, divided by N2 - N1, so that start-up is not counted;
#   - user and kernel CPU time, from GNU time (client) and /proc/PID/stat (server).
# Writes the table to RESULTS/syscalls.txt and the tools' raw outputs to RESULTS/syscalls/.
# Not part of the test suite. Needs perf (linux-perf) and valgrind.
#
# Usage: 04-stdlib-proposal/benchmarks/syscalls.sh [--quick] [--results DIR]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/build/bin
results=$root/docs/performance
n_count=200000          # requests for the syscall counts and the CPU times
n1=10000 n2=30000       # requests for callgrind's two runs
limits=(100 1000)
depths=(1 16)

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) n_count=20000 n1=2000 n2=6000 ;;
    --results) results=$2; shift ;;
    *) echo "syscalls.sh: unknown option $1" >&2
       echo "Usage: syscalls.sh [--quick] [--results DIR]" >&2; exit 2 ;;
  esac
  shift
done
for p in server client-async-proposal; do
  [ -x "$bin/$p" ] || { echo "syscalls.sh: $bin/$p is missing; build first (cmake --build --preset default)" >&2; exit 1; }
done
"$bin/client-async-proposal" --help | grep -q -- --pipeline ||
  { echo "syscalls.sh: $bin/client-async-proposal has no --pipeline; rebuild it" >&2; exit 1; }
for tool in perf valgrind /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "syscalls.sh: $tool is missing (packages linux-perf, valgrind, time)" >&2; exit 1; }
done
perf stat -e syscalls:sys_enter_sendto true >/dev/null 2>&1 ||
  { echo "syscalls.sh: perf cannot read the syscall tracepoints here (try as root, or lower kernel.perf_event_paranoid)" >&2; exit 1; }

raw=$results/syscalls
mkdir -p "$raw"
summary=$results/syscalls.txt
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
tick=$(getconf CLK_TCK)

say "Machine: $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
say "Commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- common 04-stdlib-proposal server || echo ' (with local changes)')"
say "Date: $(date -u +%Y-%m-%dT%H:%MZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "Server: build/bin/server --port 0 --max-delay 0; client: build/bin/client-async-proposal N --limit L --pipeline K"

server_log=$(mktemp)
start_server() { # [wrapper...] -> server_pid, server_port
  "$@" "$bin/server" --port 0 --max-delay 0 >"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do grep -q "listening on" "$server_log" && break; sleep 0.05; done
  server_port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$server_log" | head -n 1)
  [ -n "$server_port" ] || { echo "syscalls.sh: the server did not start: $(cat "$server_log")" >&2; exit 1; }
}
stop_server() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
client() { # n limit depth [wrapper...]
  local n=$1 limit=$2 depth=$3
  shift 3
  "$@" "$bin/client-async-proposal" "$n" --limit "$limit" --pipeline "$depth" \
    --url "http://127.0.0.1:$server_port/{}"
}
check_ok() { # file n
  grep -q "^$2 requests: ok $2, failed 0" "$1" || { echo "syscalls.sh: the client failed: $(cat "$1")" >&2; exit 1; }
}
# perf stat -x, lines "count,,syscalls:sys_enter_NAME,...": the nonzero ones, as "NAME count".
nonzero() { awk -F, '$3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 { sub("syscalls:sys_enter_", "", $3); print $3, $1 }' "$1" | sort -k2,2nr; }
total() { awk '{ s += $2 } END { print s + 0 }' "$1"; }           # of a "NAME count" file
count_of() { awk -v name="$2" '$1 == name { print $2 }' "$1" | grep . || echo 0; }
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.2f", a / n }'; }
callgrind_total() { sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$1"; }
proc_cpu() { awk '{ print $14, $15 }' "/proc/$1/stat"; } # utime stime, in clock ticks

say ""
say "Per request; $n_count requests for system calls and CPU time, $n1 and $n2 for instructions"
say ""
printf '%-6s %-6s %-7s | %9s %7s %9s %8s %12s %9s %9s\n' limit depth process syscalls sends recvfrom epoll "instructions" "user us" "sys us" | tee -a "$summary"
for limit in "${limits[@]}"; do
  for depth in "${depths[@]}"; do
    tag=l$limit-k$depth
    # System calls: the client under perf stat, the server under perf stat -p.
    start_server
    perf stat -x, -o "$raw/perf-server-$tag.csv" -e 'syscalls:sys_enter_*' -p "$server_pid" &
    perf_pid=$!
    sleep 0.5 # perf attaches to the running server
    client "$n_count" "$limit" "$depth" perf stat -x, -o "$raw/perf-client-$tag.csv" \
      -e 'syscalls:sys_enter_*' >"$raw/perf.log" 2>&1
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    stop_server
    check_ok "$raw/perf.log" "$n_count"
    rm "$raw/perf.log"
    # CPU time, in a run of its own without perf (counting tracepoints costs kernel time too):
    # the client's from GNU time, the server's from /proc/PID/stat before and after.
    start_server
    read -r s_user0 s_sys0 < <(proc_cpu "$server_pid")
    client "$n_count" "$limit" "$depth" /usr/bin/time \
      -f "time: user %U s, sys %S s, elapsed %e s, max RSS %M KB" >"$raw/client-$tag.txt" 2>&1
    read -r s_user1 s_sys1 < <(proc_cpu "$server_pid")
    stop_server
    check_ok "$raw/client-$tag.txt" "$n_count"
    echo "server: utime $((s_user1 - s_user0)) ticks, stime $((s_sys1 - s_sys0)) ticks, $tick ticks/s" >>"$raw/client-$tag.txt"
    for f in client server; do # keep only the nonzero counts
      nonzero "$raw/perf-$f-$tag.csv" >"$raw/syscalls-$f-$tag.txt"
      rm "$raw/perf-$f-$tag.csv"
    done
    c_user=$(sed -n 's/^time: user \([0-9.]*\) s, sys \([0-9.]*\) s.*/\1/p' "$raw/client-$tag.txt")
    c_sys=$(sed -n 's/^time: user \([0-9.]*\) s, sys \([0-9.]*\) s.*/\2/p' "$raw/client-$tag.txt")

    # Instructions: the client under callgrind against a plain server, then the server under
    # callgrind against a plain client; each at n1 and n2 requests.
    for f in client server; do
      for n in $n1 $n2; do
        out=$raw/callgrind-$f-$tag-$n.out
        if [ $f = client ]; then
          start_server
          client "$n" "$limit" "$depth" valgrind --tool=callgrind --callgrind-out-file="$out" >"$raw/cg.log" 2>&1
        else
          start_server valgrind --tool=callgrind --callgrind-out-file="$out"
          client "$n" "$limit" "$depth" >"$raw/cg.log" 2>&1
        fi
        stop_server
        check_ok "$raw/cg.log" "$n"
        grep -E "^(summary|events|cmd):" "$out" >"$out.summary"
        rm -f "$out" "$raw/cg.log"
      done
    done
    ins() { per "$(( $(callgrind_total "$raw/callgrind-$1-$tag-$n2.out.summary") - $(callgrind_total "$raw/callgrind-$1-$tag-$n1.out.summary") ))" "$((n2 - n1))"; }

    for f in client server; do
      file=$raw/syscalls-$f-$tag.txt
      if [ $f = client ]; then u=$c_user s=$c_sys; else
        u=$(awk -v t="$((s_user1 - s_user0))" -v k="$tick" 'BEGIN { print t / k }')
        s=$(awk -v t="$((s_sys1 - s_sys0))" -v k="$tick" 'BEGIN { print t / k }'); fi
      printf '%-6s %-6s %-7s | %9s %7s %9s %8s %12s %9s %9s\n' "$limit" "$depth" "$f" \
        "$(per "$(total "$file")" "$n_count")" "$(per "$(( $(count_of "$file" sendto) + $(count_of "$file" sendmsg) ))" "$n_count")" \
        "$(per "$(count_of "$file" recvfrom)" "$n_count")" "$(per "$(count_of "$file" epoll_wait)" "$n_count")" \
        "$(ins $f | awk '{ printf "%.0f", $1 }')" \
        "$(awk -v t="$u" -v n="$n_count" 'BEGIN { printf "%.2f", t * 1e6 / n }')" \
        "$(awk -v t="$s" -v n="$n_count" 'BEGIN { printf "%.2f", t * 1e6 / n }')" | tee -a "$summary"
    done
  done
done
say ""
say "syscalls: every system call the process entered, per request (the raw counts by name are in"
say "syscalls/syscalls-PROCESS-lL-kK.txt); sends: sendto + sendmsg (one write of one or of several"
say "buffers); instructions: user-space instructions per request,"
say "(callgrind total at $n2 - total at $n1) / $((n2 - n1)); user us, sys us: CPU microseconds per request."
say "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""
say "Written to ${summary#$root/} and ${raw#$root/}/"
