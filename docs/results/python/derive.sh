#!/usr/bin/env bash
# The figures docs/python.md derives from a `./tour --python` CSV, so that none is worked out by
# hand: bytes per waiting request of the eager clients (least squares over the runs without
# delays), each runtime's floor (the bounded clients' peak), CPU time per request, and the rate
# with the article's delays against Little's law (limit / mean delay, 1000 / 1.5 s).
# Usage: docs/results/python/derive.sh docs/results/python/tour-....csv > docs/results/python/derived.txt
set -euo pipefail
csv=${1:?Usage: derive.sh TOUR.csv}
echo "From $csv ($(basename "$0")):"
awk -F, '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
  lang = $col["language"] == "" ? "C++" : $col["language"]
  if ($col["server"] == "Python" || $col["outcome"] != "ok") next
  key = $col["stage"] " " lang
  n = $col["requests"]; kb = $col["peak_rss_kb"]; s = $col["seconds"]; cpu = $col["cpu_percent"]
  if ($col["delay"] == "0") {
    if ($col["stage"] == "02") { c[lang]++; sx[lang] += n; sy[lang] += kb * 1024; sxx[lang] += n * n; sxy[lang] += n * kb * 1024 }
    if (($col["stage"] == "03" || $col["stage"] == "04") && kb > floor[lang]) floor[lang] = kb
    printf "no delays, stage %s, %-6s %9d requests: %8.1f us of CPU a request, %6d requests/s\n", $col["stage"], lang, n, s * cpu / 100 / n * 1e6, $col["requests_per_second"]
  } else if ($col["delay"] == "s" && $col["stage"] != "01") {
    printf "0-3 s delays, stage %s, %-6s %6d requests: %4d requests/s, %3.0f%% of limit / mean delay (667/s), CPU %d%%, %.1f us of CPU a request\n", $col["stage"], lang, n, $col["requests_per_second"], $col["requests_per_second"] / (1000 / 1.5) * 100, cpu, s * cpu / 100 / n * 1e6
  }
}
END {
  for (l in c) if (c[l] >= 2)
    printf "stage 02, %s: %.0f bytes a waiting request (least squares over %d runs without delays)\n", l, (c[l] * sxy[l] - sx[l] * sy[l]) / (c[l] * sxx[l] - sx[l] * sx[l]), c[l]
  for (l in floor) printf "floor, %s: %d KB, the highest peak of stages 03 and 04 without delays\n", l, floor[l]
}' "$csv"
