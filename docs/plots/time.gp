# Wall time against the number of requests, one line per stage, from a tour's CSV (the runs
# with the server delays `delay`: 0, ms or s). With python=1 (`./tour --python`), the article's
# programs measured in the same run, dashed, each in its stage's colour.
# Usage: gnuplot -e "csv='results/tour.csv'; out='time.svg'; term='svg'; delay='0'" docs/plots/time.gp
if (term eq 'svg') { set terminal svg size 760,460 dynamic font 'sans,13' } \
else { set terminal pngcairo size 760,460 font 'sans,11' }
if (!exists('python')) python = 0
set output out
set datafile separator ','
set logscale xy
set format x '%.0s%c'
set xlabel 'requests (N)'
set ylabel 'wall time (s)'
set title sprintf('Wall time as N grows (server delays %s)', delay eq '0' ? 'none' : delay eq 'ms' ? '0-3 ms' : '0-3 s')
set key top left
set grid
# Column 14 is the client's language (empty in older CSVs: C++), 15 the server's.
rows(stage, language) = sprintf("< awk -F, '$1 == \"%s\" && $4 == \"%s\" && $6 != \"\" && ($14 == \"\" ? \"C++\" : $14) == \"%s\" && $15 != \"Python\"' %s", stage, delay, language, csv)
if (python) {
set key bottom right # the Python lines take the upper left
plot rows('02', 'C++') using 3:6 with linespoints lw 2 pt 7 lc 1 title '02 eager + semaphore', \
     rows('03', 'C++') using 3:6 with linespoints lw 2 pt 5 lc 2 title '03 limited\_as\_completed (polls)', \
     rows('04', 'C++') using 3:6 with linespoints lw 2 pt 9 lc 3 title '04 the library', \
     rows('02', 'Python') using 3:6 with linespoints lw 2 dt 2 pt 6 lc 1 title '02 in Python (today)', \
     rows('03', 'Python') using 3:6 with linespoints lw 2 dt 2 pt 4 lc 2 title '03 in Python (today)', \
     rows('04', 'Python') using 3:6 with linespoints lw 2 dt 2 pt 8 lc 3 title '04 in Python: workers (today)'
} else {
plot rows('02', 'C++') using 3:6 with linespoints lw 2 pt 7 title '02 eager + semaphore', \
     rows('03', 'C++') using 3:6 with linespoints lw 2 pt 5 title '03 limited\_as\_completed (polls)', \
     rows('04', 'C++') using 3:6 with linespoints lw 2 pt 9 title '04 the library'
}
