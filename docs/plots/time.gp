# Wall time against the number of requests, one line per stage, from a tour's CSV (the runs
# with the server delays `delay`: 0, ms or s).
# Usage: gnuplot -e "csv='results/tour.csv'; out='time.svg'; term='svg'; delay='0'" docs/plots/time.gp
if (term eq 'svg') { set terminal svg size 760,460 dynamic font 'sans,13' } \
else { set terminal pngcairo size 760,460 font 'sans,11' }
set output out
set datafile separator ','
set logscale xy
set format x '%.0s%c'
set xlabel 'requests (N)'
set ylabel 'wall time (s)'
set title sprintf('Wall time as N grows (server delays %s)', delay eq '0' ? 'none' : delay eq 'ms' ? '0-3 ms' : '0-3 s')
set key top left
set grid
rows(stage) = sprintf("< awk -F, '$1 == \"%s\" && $4 == \"%s\" && $6 != \"\"' %s", stage, delay, csv)
plot rows('02') using 3:6 with linespoints lw 2 pt 7 title '02 eager + semaphore', \
     rows('03') using 3:6 with linespoints lw 2 pt 5 title '03 limited\_as\_completed (polls)', \
     rows('04') using 3:6 with linespoints lw 2 pt 9 title '04 the library'
