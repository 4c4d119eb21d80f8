#!/usr/bin/env bash
# A short run of both HTTP-codec fuzzers, at the same time, on a scratch copy of the committed
# seeds, and libFuzzer's final statistics. Needs the fuzz preset
# (cmake --preset fuzz && cmake --build --preset fuzz). Writes docs/measurements/fuzz.txt.
# Usage: docs/measurements/fuzz.sh [SECONDS]   (60 by default; takes that long)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seconds=${1:-60}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "# $(git log -1 --format='commit %h, %cd' --date=short), fuzz preset ($(clang --version | head -1)), $(nproc) cores, $(uname -sr)"
  for target in response request; do
    mkdir -p "$tmp/$target"
    cp tests/fuzz/corpus/"$target"/* "$tmp/$target/"
    echo "seeds for $target: $(ls "$tmp/$target" | wc -l) inputs"
  done
  for target in response request; do
    nice -n 19 "build-fuzz/bin/fuzz_http_$target" "$tmp/$target" -dict=tests/fuzz/http.dict \
      -max_total_time="$seconds" -timeout=5 -print_final_stats=1 -artifact_prefix="$tmp/" \
      >"$tmp/$target.log" 2>&1 &
  done
  wait
  for target in response request; do
    echo "== fuzz_http_$target, $seconds s, -dict=tests/fuzz/http.dict"
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|^Done' "$tmp/$target.log"
    echo "corpus at the end: $(ls "$tmp/$target" | wc -l) inputs"
    ls "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* 2>/dev/null || echo "crashes: none"
  done
} | tee docs/measurements/fuzz.txt
