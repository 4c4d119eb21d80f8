# Peak memory against the number of requests, one line per stage, from a tour's CSV: the runs
# with the server delays `delay` (0, ms or s), and the article's own figures (Python, 0-3 s delays).
# With python=1 (`./tour --python`), the article's programs measured in the same run, dashed, each
# in its stage's colour. Older CSVs, without the language and server columns, are all C++.
# Usage: gnuplot -e "csv='results/tour.csv'; out='memory.svg'; term='svg'; delay='0'" docs/plots/memory.gp
if (term eq 'svg') { set terminal svg size 760,460 dynamic font 'sans,13' } \
else { set terminal pngcairo size 760,460 font 'sans,11' }
if (!exists('python')) python = 0
set output out
set datafile separator ','
set logscale xy
set format x '%.0s%c'
set xlabel 'requests (N)'
set ylabel 'peak memory (MB)'
set title sprintf('Peak memory as N grows (ours: server delays %s)', delay eq '0' ? 'none' : delay eq 'ms' ? '0-3 ms' : '0-3 s')
set key bottom right
set grid
# Column 14 is the client's language, 15 the server's.
rows(stage, language) = sprintf("< awk -F, '$1 == \"%s\" && $4 == \"%s\" && $5 != \"\" && ($14 == \"\" ? \"C++\" : $14) == \"%s\" && $15 != \"Python\"' %s", stage, delay, language, csv)
# The article's figures (its Results section; Python 3.5, 0-3 s delays, limit 1000): N, KB.
$semaphore << EOD
10000,77912
1000000,3815076
EOD
$as_completed << EOD
10000,46780
1000000,162168
100000000,294304
EOD
if (python) {
set key top left # the Python lines take the lower right
plot rows('02', 'C++') using 3:($5 / 1024) with linespoints lw 2 pt 7 lc 1 title '02 eager + semaphore', \
     rows('03', 'C++') using 3:($5 / 1024) with linespoints lw 2 pt 5 lc 2 title '03 limited\_as\_completed (polls)', \
     rows('04', 'C++') using 3:($5 / 1024) with linespoints lw 2 pt 9 lc 3 title '04 the library', \
     rows('02', 'Python') using 3:($5 / 1024) with linespoints lw 2 dt 2 pt 6 lc 1 title '02 in Python (today)', \
     rows('03', 'Python') using 3:($5 / 1024) with linespoints lw 2 dt 2 pt 4 lc 2 title '03 in Python (today)', \
     rows('04', 'Python') using 3:($5 / 1024) with linespoints lw 2 dt 2 pt 8 lc 3 title '04 in Python: workers (today)'
} else {
plot rows('02', 'C++') using 3:($5 / 1024) with linespoints lw 2 pt 7 title '02 eager + semaphore', \
     rows('03', 'C++') using 3:($5 / 1024) with linespoints lw 2 pt 5 title '03 limited\_as\_completed (polls)', \
     rows('04', 'C++') using 3:($5 / 1024) with linespoints lw 2 pt 9 title '04 the library', \
     $semaphore using 1:($2 / 1024) with points pt 6 ps 1.5 lc rgb 'black' title 'the article (Python): semaphore', \
     $as_completed using 1:($2 / 1024) with points pt 4 ps 1.5 lc rgb 'black' title 'the article (Python): limited\_as\_completed'
}
