# Peak memory against the number of requests, one line per stage, from a tour's CSV: the runs
# with the server delays `delay` (0, ms or s), and the article's own figures (Python, 0-3 s delays).
# Usage: gnuplot -e "csv='results/tour.csv'; out='memory.svg'; term='svg'; delay='0'" docs/plots/memory.gp
if (term eq 'svg') { set terminal svg size 760,460 dynamic font 'sans,13' } \
else { set terminal pngcairo size 760,460 font 'sans,11' }
set output out
set datafile separator ','
set logscale xy
set format x '%.0s%c'
set xlabel 'requests (N)'
set ylabel 'peak memory (MB)'
set title sprintf('Peak memory as N grows (ours: server delays %s)', delay eq '0' ? 'none' : delay eq 'ms' ? '0-3 ms' : '0-3 s')
set key bottom right
set grid
rows(stage) = sprintf("< awk -F, '$1 == \"%s\" && $4 == \"%s\" && $5 != \"\"' %s", stage, delay, csv)
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
plot rows('02') using 3:($5 / 1024) with linespoints lw 2 pt 7 title '02 eager + semaphore', \
     rows('03') using 3:($5 / 1024) with linespoints lw 2 pt 5 title '03 limited\_as\_completed (polls)', \
     rows('04') using 3:($5 / 1024) with linespoints lw 2 pt 9 title '04 the library', \
     $semaphore using 1:($2 / 1024) with points pt 6 ps 1.5 lc rgb 'black' title 'the article (Python): semaphore', \
     $as_completed using 1:($2 / 1024) with points pt 4 ps 1.5 lc rgb 'black' title 'the article (Python): limited\_as\_completed'
