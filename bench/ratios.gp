# Draws bench/run.sh's ratios as bars, two per metric: MNet epoll / Sockets (solid) and MNet io_uring / Sockets
# (hatched), each green where it meets the target, red where it misses, grey where there is none; the target as a
# mark, 1.0 as a line.
#   gnuplot -e "data='plot.dat'; output='latest.png'" bench/ratios.gp
# data: one row per metric: "label" epoll-ratio epoll-status target io_uring-ratio io_uring-status, where a status
# is 1 (target met), 0 (missed) or 2 (no target).
set terminal pngcairo size 1400,780 font "DejaVu Sans,10"
set output output
set datafile separator "\t"
set title "MNet / Kestrel Sockets: epoll (solid) and io_uring (hatched); ↑ higher is better, ↓ lower is better" noenhanced
set boxwidth 0.38
set xtics rotate by 40 right noenhanced
set ylabel "ratio"
set yrange [0:*]
set offsets 0.5, 0.5, 0.25, 0
set grid ytics
set key top left
set bmargin 19
set lmargin 20
set palette defined (0 "#c0392b", 1 "#27ae60", 2 "#7f8c8d")
set cbrange [0:2]
unset colorbox
plot data using ($0 - 0.2):2:3:xtic(1) with boxes fill solid 0.85 border -1 lc palette notitle, \
     '' using ($0 + 0.2):5:6 with boxes fill pattern 4 border -1 lc palette notitle, \
     '' using 0:($4 > 0 ? $4 : 1/0) with points pt 9 ps 1.6 lc rgb "black" title "target", \
     1 with lines dt 2 lc rgb "black" title "1.0 (same as Sockets)", \
     '' using ($0 - 0.2):2:(sprintf("%.2f", $2)) with labels offset 0,0.7 font ",8" notitle, \
     '' using ($0 + 0.2):5:(sprintf("%.2f", $5)) with labels offset 0,0.7 font ",8" notitle
