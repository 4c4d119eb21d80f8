#!/usr/bin/env bash
# Tests docs/listings and docs/tables on a scratch repository: a page that matches passes the
# check, a stale one fails it with page:line and is put right by update, and bad markers are
# reported; a table whose programs changed after its run fails the freshness check, one marked
# as history does not. Then `./tour format`, the format check of `./tour test`, on a scratch copy:
# it passes a formatted file and names one that is not. Run by ctest as docs_tools.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs/results" "$tmp/src"
cp "$here/listings" "$here/tables" "$tmp/docs/"
failures=0
expect() { # description, expected status, command...
  local what=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; sed 's/^/  /' "$tmp/out"; failures=$((failures + 1))
  fi
}
expect_output() { # description, text
  grep -qF -- "$2" "$tmp/out" || { echo "FAIL: $1: no '$2' in:"; sed 's/^/  /' "$tmp/out"; failures=$((failures + 1)); }
}

cat >"$tmp/src/a.cpp" <<'CPP'
int one() {
  return 1;
}

int two() {
  if (true) {
    return 2;
  }
}
CPP
cat >"$tmp/page.md" <<'MD'
Intro.

<!-- listing: src/a.cpp from="int two()" to="}\n}" -->
```cpp
stale
```

<!-- listing: src/a.cpp from="return" after="int two()" -->

~~~
<!-- listing: src/a.cpp from="an example, not checked" -->
~~~
MD
cd "$tmp"
expect "check of a stale page" 1 docs/listings check page.md
expect_output "check of a stale page" "page.md:3: listing of src/a.cpp differs"
expect_output "check of a marker without a block" "page.md:8: listing of src/a.cpp has no code block after it"
expect "update" 0 docs/listings update page.md
expect "check after update" 0 docs/listings check page.md
grep -qx '    return 2;' page.md || { echo "FAIL: after= did not pick the second return"; failures=$((failures + 1)); }
[ "$(grep -c '^}$' page.md)" -eq 1 ] || { echo "FAIL: to=\"}\\n}\" did not end at the function's brace"; failures=$((failures + 1)); }
sed -i 's/int two()/int three()/' src/a.cpp
expect "check after the source changed" 1 docs/listings check page.md
expect_output "check after the source changed" "page.md:3: listing of src/a.cpp has no \"int two()\""

cat >docs/results/run.csv <<'CSV'
stage,program,requests,delay,peak_rss_kb,seconds,cpu_percent,requests_per_second,ok,failed,outcome,article_peak_rss_kb,article_seconds
02,client-async-sem,10000,0,17484,0.28,90,35714,10000,0,ok,,
04,client-async-proposal,10000,0,6480,0.31,93,32258,10000,0,ok,,
CSV
cat >table.md <<'MD'
<!-- table: docs/results/run.csv stage="04" -->
<!-- end table -->
MD
expect "table without its .about" 1 docs/tables check table.md
expect_output "table without its .about" "docs/results/run.about has no"
printf 'command: ./tour\ncommit: abc1234\ndate: 2026-12-01\nmachine: a test\n' >docs/results/run.about
expect "stale table" 1 docs/tables check table.md
expect_output "stale table" "table.md:1: table of docs/results/run.csv differs from the CSV"
expect "table update" 0 docs/tables update table.md
expect "table check after update" 0 docs/tables check table.md
grep -qF '| 04 | 10,000 | none | 6,480 KB | 0.31 s | 93% | 32,258 |' table.md ||
  { echo "FAIL: the table's row"; cat table.md; failures=$((failures + 1)); }
grep -qF '`./tour` at commit `abc1234`' table.md || { echo "FAIL: the table's source line"; failures=$((failures + 1)); }
grep -q '| 02 |' table.md && { echo "FAIL: stage=\"04\" kept stage 02"; failures=$((failures + 1)); }
# A CSV of `./tour --python`: language and server columns, and a client column in the table.
cat >docs/results/py.csv <<'CSV'
stage,program,requests,delay,peak_rss_kb,seconds,cpu_percent,requests_per_second,ok,failed,outcome,article_peak_rss_kb,article_seconds,language,server
03,client-async-as-completed,10000,0,5880,0.31,95,32258,10000,0,ok,,,C++,C++
03,client-async-as-completed.py,10000,0,48808,4.11,99,2433,10000,0,ok,,,Python,C++
03,client-async-as-completed,10000,0,5900,2.10,40,4762,10000,0,ok,,,C++,Python
CSV
cp docs/results/run.about docs/results/py.about
cat >py.md <<'MD'
<!-- table: docs/results/py.csv server="C++" -->
<!-- end table -->
<!-- table: docs/results/py.csv language="Python" -->
<!-- end table -->
<!-- table: docs/results/py.csv layout="by-requests" server="C++" -->
<!-- end table -->
MD
expect "table update with languages" 0 docs/tables update py.md
grep -qF '| 03 | Python | 10,000 | none | 48,808 KB | 4.11 s | 99% | 2,433 |' py.md ||
  { echo "FAIL: the Python row and its client column"; cat py.md; failures=$((failures + 1)); }
grep -qF '| 03 | C++ | 10,000 | none | 5,880 KB |' py.md ||
  { echo "FAIL: the C++ row beside it"; cat py.md; failures=$((failures + 1)); }
grep -qF '| 03 | C++ | Python | 10,000 |' py.md && { echo "FAIL: server=\"C++\" kept the run against server.py"; failures=$((failures + 1)); }
grep -qF '| 10,000 | 5,880 KB, 0.31 s, 95% | 48,808 KB, 4.11 s, 99% |' py.md ||
  { echo "FAIL: by-requests with a column per program"; cat py.md; failures=$((failures + 1)); }
expect "table check with languages" 0 docs/tables check py.md
grep -q '| client |' table.md && { echo "FAIL: a C++-only CSV got a client column"; failures=$((failures + 1)); }
expect "usage" 2 docs/tables bogus
expect_output "usage" "Usage:"

# Freshness: a table is stale once a program it measured changed after the commit of its run.
git init -q . && git config user.email t@example.org && git config user.name test
mkdir -p 02-eager-semaphore 04-stdlib-proposal common
echo 'int main() {}' >02-eager-semaphore/main.cpp
echo 'int main() {}' >04-stdlib-proposal/main.cpp
echo '// shared' >common/args.cpp
git add -A && git commit -qm "the programs"
run=$(git rev-parse --short HEAD)
printf 'command: ./tour --only 04\ncommit: %s\ndate: 2026-12-01\nmachine: a test\n' "$run" >docs/results/run.about
docs/tables update table.md >/dev/null
cat >>table.md <<MD

Typed: 6,480 KB.
<!-- measured: commit="$run" stages="02" by="speed.sh" -->
MD
git add -A && git commit -qm "the figures"
touch docs/freshness-enforced
expect "fresh table, enforced" 0 docs/tables check table.md
echo 'int main() { return 0; }' >04-stdlib-proposal/main.cpp
git commit -qam "stage 04 changes"
expect "stale table, enforced" 1 docs/tables check table.md
expect_output "stale table, enforced" "table.md:1: table of docs/results/run.csv is stale: 04-stdlib-proposal/main.cpp changed since its run at $run; re-make it with \`./tour --only 04\`"
grep -q "figures is stale" "$tmp/out" && { echo "FAIL: stage 02's typed figures called stale by stage 04's change"; failures=$((failures + 1)); }
echo '// shared, changed' >common/args.cpp
git commit -qam "common changes"
expect "stale typed figures" 1 docs/tables check table.md
expect_output "stale typed figures" "table.md:$(grep -n '^<!-- measured' table.md | cut -d: -f1): figures is stale: common/ changed since its run at $run; re-make it with \`speed.sh\`"
sed -i 's/stage="04" -->/stage="04" history="the figure before the change" -->/; s/by="speed.sh" -->/by="speed.sh" history="before" -->/' table.md
expect "stale figures marked as history" 0 docs/tables check table.md
git checkout -q table.md
rm docs/freshness-enforced
expect "stale, not enforced" 0 docs/tables check table.md
expect_output "stale, not enforced" "not enforced (docs/freshness-enforced is absent)"
touch docs/freshness-enforced
printf 'command: ./tour\ncommit: 0123abc\ndate: 2026-12-01\nmachine: a test\n' >docs/results/run.about
sed -i "s/commit=\"$run\"/commit=\"0123abc\"/" table.md
docs/tables update table.md >/dev/null
expect "a commit this clone lacks" 0 docs/tables check table.md
expect_output "a commit this clone lacks" "freshness not checked for commit(s) 0123abc"
rm -rf .git
expect "no git history" 0 docs/tables check table.md
expect_output "no git history" "freshness not checked: no git history here"

# The format check, in a repository of its own: the tour and .clang-format, and two files.
mkdir "$tmp/format" && cd "$tmp/format"
cp "$here/../tour" "$here/../.clang-format" . && mkdir tools && cp "$here/../tools/stages" tools/
git init -q . && git config user.email t@example.org && git config user.name test
printf 'int one = 1;\n' >good.cpp
git add -A && git commit -qm "formatted"
if command -v clang-format >/dev/null; then
  expect "format check of a formatted file" 0 ./tour format
  printf 'int  two()  {\nreturn 2;}\n' >bad.hpp # untracked: checked all the same
  expect "format check of a badly formatted file" 1 ./tour format
  expect_output "format check of a badly formatted file" "tour: not formatted as .clang-format says: bad.hpp; fix with: clang-format -i bad.hpp"
  grep -q good.cpp "$tmp/out" && { echo "FAIL: the format check named a formatted file"; failures=$((failures + 1)); }
else
  echo "note: clang-format is missing, so the format check's own test is skipped"
fi
expect "format check without clang-format" 1 env CLANG_FORMAT=no-such-clang-format ./tour format
expect_output "format check without clang-format" "tour: the format was not checked: no-such-clang-format is missing"

[ "$failures" -eq 0 ] && echo "docs tools: all checks passed"
exit $((failures > 0))
