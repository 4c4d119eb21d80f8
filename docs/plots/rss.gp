# Resident memory and requests done over a long run, from speed.sh's progress log (CSV: seconds,
# requests done, RSS MB).
# Usage: gnuplot -e "csv='docs/performance/rss-100000000.csv'; out='rss-100m.svg'" docs/plots/rss.gp
# (and title='...' for another run than speed.sh --100m's)
set terminal svg size 760,420 dynamic font 'sans,13'
set output out
set datafile separator ','
set xlabel 'seconds'
set ylabel 'resident memory (MB)'
set y2label 'requests done (millions)'
set yrange [0:8]
set y2range [0:*]
set ytics nomirror
set y2tics
set key bottom right
set grid
if (!exists('title')) title = 'Stage 04, 100 million requests, limit 1000, server without delays'
set title title
plot csv using 1:3 axes x1y1 with lines lw 2 title 'resident memory', \
     csv using 1:($2 / 1e6) axes x1y2 with lines lw 2 dt 2 title 'requests done'
