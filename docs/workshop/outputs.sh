#!/usr/bin/env bash
# Runs each workshop exercise's commands once, as the page gives them, and writes what they print
# to docs/workshop/output/NN.txt, so that the figures the page quotes come from a stated run.
# Needs the default build (cmake --build --preset default). Takes about six minutes; ./outputs.sh 3
# runs exercise 3 only.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=docs/workshop/output
mkdir -p "$out"

header() { echo "# $(git log -1 --format='commit %h, %cd' --date=short), default preset, $(nproc) cores, $(uname -sr)"; }
show() { # command line...: prints it, runs it, and says how long it took
  echo "\$ $*"
  local started=$SECONDS
  bash -c "$*" 2>&1
  echo "(exit status $?, $((SECONDS - started)) s)"
}
with_server() { # port, then the client's command: a server without delays in the background
  ./build/bin/server --port "$1" --max-delay 0 >"$out/.server" 2>&1 &
  local server=$!
  sleep 0.5
  shift
  show "$@"
  kill -INT "$server"
  wait "$server"
  echo "server (after Ctrl-C): $(tail -1 "$out/.server")"
  rm -f "$out/.server"
}

ex1() {
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-sync 10 --url 'http://127.0.0.1:{port}/{}'"
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-sync 10 --url 'http://127.0.0.1:{port}/{}'"
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-async-proposal 10 --url 'http://127.0.0.1:{port}/{}'"
}
ex2() {
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-async-sem 10 --url 'http://127.0.0.1:{port}/{}'"
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-async-proposal 100 --url 'http://127.0.0.1:{port}/{}'"
}
ex3() {
  for l in 10 100 1000; do
    show "./build/bin/timed --server-args '--port 0' -- ./build/bin/client-async-proposal 200 --limit $l --url 'http://127.0.0.1:{port}/{}'"
  done
}
ex4() {
  show "./tour --no-setup --only 02 --sizes 10000,100000 --delay 0 --results results/exercise-4-stage-02"
  show "./tour --no-setup --only 04 --sizes 10000,100000 --delay 0 --results results/exercise-4-stage-04"
}
ex6() {
  with_server 18196 "./build/bin/client-async-sem 100000000 --memory-limit 1G --url 'http://127.0.0.1:18196/{}'"
}
ex7() {
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-async-as-completed 10000 --url 'http://127.0.0.1:{port}/{}'"
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-async-proposal 10000 --url 'http://127.0.0.1:{port}/{}'"
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/client-async-as-completed 200 --limit 10 --url 'http://127.0.0.1:{port}/{}'"
}
ex8() {
  show "./build/bin/workshop-notify-sketch"
  show "./build/bin/timed --server-args '--port 0 --seed 42' -- ./build/bin/workshop-notify 10000 --url 'http://127.0.0.1:{port}/{}'"
}
ex9() {
  show "./build/bin/bounded_tests --gtest_filter='*NeverMoreThanLimit*:*RefillsBefore*'"
  show "./build/bin/bounded_allocation_tests"
}
ex10() {
  show "docs/measurements/time-wait.sh"
}

for n in ${1:-1 2 3 4 6 7 8 9}; do # 10 is docs/measurements/time-wait.sh, whose output is committed
  { header; "ex$n"; } | tee "$out/$(printf %02d "$n").txt"
done
