# Draws bench/run.sh's ratios as bars: MNet / Sockets per metric, the target as a mark, 1.0 as a line.
#   gnuplot -e "data='plot.dat'; output='latest.png'" bench/ratios.gp
# data: one row per metric: "label" ratio status target, where status is 1 (target met), 0 (missed), 2 (no target).
set terminal pngcairo size 1200,640 font "DejaVu Sans,10"
set output output
set datafile separator "\t"
set title "MNet / Kestrel Sockets (↑ higher is better, ↓ lower is better)"
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by 40 right noenhanced
set ylabel "ratio"
set yrange [0:*]
set grid ytics
set key top right
set bmargin 12
set lmargin 16
set palette defined (0 "#c0392b", 1 "#27ae60", 2 "#7f8c8d")
set cbrange [0:2]
unset colorbox
plot data using 0:2:3:xtic(1) with boxes lc palette notitle, \
     '' using 0:($4 > 0 ? $4 : 1/0) with points pt 9 ps 1.6 lc rgb "black" title "target", \
     1 with lines dt 2 lc rgb "black" title "1.0 (same as Sockets)", \
     '' using 0:2:(sprintf("%.2f", $2)) with labels offset 0,0.7 notitle
