#!/usr/bin/env bash
# Instructions per item of bounded-senders-benchmark, counted by callgrind (every thread of the
# process, so the run loop's thread is in the figure): each mode is run at 10,000 and at 100,000
# items and the difference is divided by 90,000, so that set-up drops out.
# Usage: 04-stdlib-proposal/senders/benchmarks/instructions.sh BENCHMARK_BINARY [LIMIT]
set -euo pipefail
bin=${1:?usage: instructions.sh BENCHMARK_BINARY [LIMIT]}
limit=${2:-1000}
[ -x "$bin" ] || { echo "instructions.sh: no benchmark at $bin" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
total() { # mode n
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" "$limit" >/dev/null 2>&1
  callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
printf '%-10s %8s %14s\n' mode limit instructions/item
for mode in scheduled inline; do
  small=$(total "$mode" 10000)
  large=$(total "$mode" 100000)
  printf '%-10s %8s %14d\n' "$mode" "$limit" $(((large - small) / 90000))
done
