#!/usr/bin/env bash
# Runs the sender form's tests and benchmark from a build that has them (configured with
# -DSTDEXEC_INCLUDE_DIR=...; see README.md) and writes their outputs under results/, each headed
# by the command, the commit, the stdexec commit, the compiler and the machine. Builds nothing.
# Usage: STDEXEC_COMMIT=<sha> 04-stdlib-proposal/senders/results.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: STDEXEC_COMMIT=<sha> results.sh BUILD_DIR}
: "${STDEXEC_COMMIT:?name the stdexec commit the build used}"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/results"
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
header() { # command
  echo "command: $1"
  echo "commit: $(git -C "$here" rev-parse --short HEAD)$(git -C "$here" diff --quiet HEAD -- . || echo ' (with uncommitted changes)')"
  echo "stdexec: NVIDIA/stdexec $STDEXEC_COMMIT"
  echo "compiler: $("$compiler" --version | head -1); $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo
}
run() { # file command...
  local file=$1
  shift
  { header "$*"; "$@" 2>&1; } >"$here/results/$file"
  echo "wrote results/$file"
}
run tests.txt "$build/bin/bounded_senders_tests"
run allocations.txt "$build/bin/bounded_senders_allocation_tests"
run benchmark.txt bash -c "for m in scheduled inline; do for n in 10000 100000 1000000; do $build/bin/bounded-senders-benchmark \$m \$n 1000; done; done"
run instructions.txt "$here/benchmarks/instructions.sh" "$build/bin/bounded-senders-benchmark" 1000
