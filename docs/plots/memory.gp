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
set title 'Peak memory of each client as N grows'
set key top left
set grid
rows(stage) = sprintf("< awk -F, '$1 == \"%s\" && $4 == \"%s\" && $5 != \"\"' %s", stage, delay, csv)
article(stage) = sprintf("< awk -F, '$1 == \"%s\" && $12 ~ /^[0-9]+$/' %s", stage, csv)
plot rows('02') using 3:($5 / 1024) with linespoints lw 2 pt 7 title '02 eager + semaphore', \
     rows('03') using 3:($5 / 1024) with linespoints lw 2 pt 5 title '03 limited\_as\_completed (polls)', \
     rows('04') using 3:($5 / 1024) with linespoints lw 2 pt 9 title '04 the library', \
     article('02') using 3:($12 / 1024) with points pt 6 ps 1.5 title 'article, Python: semaphore', \
     article('03') using 3:($12 / 1024) with points pt 4 ps 1.5 title 'article, Python: limited\_as\_completed'
