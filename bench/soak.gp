# Draws bench/soak.sh's samples: RSS and GC heap (MiB) on the left axis, descriptors and threads on the right.
#   gnuplot -e "data='soak.csv'; output='soak.png'" bench/soak.gp
set terminal pngcairo size 1000,480 font "DejaVu Sans,10"
set output output
set datafile separator ","
set key top center horizontal
set title "bench/soak.sh: the server process over the run"
set xlabel "minutes"
set ylabel "MiB"
set y2label "count"
set ytics nomirror
set y2tics
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set y2range [0:*]
set grid
plot data using ($1/60):2 with lines lw 2 title "RSS (MiB)", \
     '' using ($1/60):5 with lines lw 2 title "GC heap (MiB)", \
     '' using ($1/60):3 axes x1y2 with lines lw 2 title "descriptors", \
     '' using ($1/60):4 axes x1y2 with lines lw 2 title "threads"
