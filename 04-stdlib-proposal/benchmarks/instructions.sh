#!/usr/bin/env bash
# Instructions per operation of bounded-benchmark's rows, counted by callgrind, and heap
# allocations per operation, counted by the benchmark: repeatable, unlike time, on a machine that
# is busy. Each row is run at 10,000 and at 100,000 operations (one iteration each) and the
# difference is divided by 90,000, so set-up drops out.
# Usage: 04-stdlib-proposal/benchmarks/instructions.sh [BENCHMARK_BINARY] [ROW...]
# Example: 04-stdlib-proposal/benchmarks/instructions.sh build/bin/bounded-benchmark bounded for_each
set -euo pipefail
bin=${1:-build/bin/bounded-benchmark}
shift || true
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(alone bounded finish for_each channel eager)
[ -x "$bin" ] || { echo "instructions.sh: no benchmark at $bin (build the default preset)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
total() { # row n
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --benchmark_filter="^$1/$2\$" \
    --benchmark_min_time=0 >/dev/null 2>&1
  callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
allocations() { # row n -> allocations in the one iteration
  "$bin" --benchmark_filter="^$1/$2\$" --benchmark_min_time=0 2>/dev/null |
    awk -v n="$2" 'match($0, /allocs\/op=[0-9.eEu+-]+/) {
      v = substr($0, RSTART + 10, RLENGTH - 10); if (v ~ /u$/) v = substr(v, 1, length(v) - 1) / 1e6
      printf "%.0f\n", v * n }'
}
printf '%-10s %16s %16s\n' row instructions/op allocations/op
for row in "${rows[@]}"; do
  small=$(total "$row" 10000)
  large=$(total "$row" 100000)
  [ -n "$small" ] && [ -n "$large" ] || { printf '%-10s %16s\n' "$row" "(no such row)"; continue; }
  a_small=$(allocations "$row" 10000)
  a_large=$(allocations "$row" 100000)
  printf '%-10s %16d %16.3f\n' "$row" $(((large - small) / 90000)) \
    "$(awk -v a="$a_small" -v b="$a_large" 'BEGIN { print (b - a) / 90000 }')"
done
