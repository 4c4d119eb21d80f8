#!/usr/bin/env bash
# Tests docs/listings and docs/tables on a scratch repository: a page that matches passes the
# check, a stale one fails it with page:line and is put right by update, and bad markers are
# reported. Run by ctest as docs_tools.
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
expect "usage" 2 docs/tables bogus
expect_output "usage" "Usage:"

[ "$failures" -eq 0 ] && echo "docs tools: all checks passed"
exit $((failures > 0))
