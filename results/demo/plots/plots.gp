# written by dropbench report --plots; run: gnuplot plots.gp

# ---- curves-mnist-mlp
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'curves-mnist-mlp.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'mnist-mlp: test error per epoch (mean ± std over seeds)' noenhanced
set xlabel 'epoch'
set ylabel 'test error (%)'
set style fill transparent solid 0.18 noborder
set xtics 1
set autoscale xfixmin
set autoscale xfixmax
plot 'curves-mnist-mlp.dat' index 0 using 1:3:4 with filledcurves lc 1 notitle, \
     'curves-mnist-mlp.dat' index 1 using 1:3:4 with filledcurves lc 2 notitle, \
     'curves-mnist-mlp.dat' index 2 using 1:3:4 with filledcurves lc 3 notitle, \
     'curves-mnist-mlp.dat' index 3 using 1:3:4 with filledcurves lc 4 notitle, \
     'curves-mnist-mlp.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-mnist-mlp.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'input', \
     'curves-mnist-mlp.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'dense', \
     'curves-mnist-mlp.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'hinton'
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'curves-mnist-mlp.png.tmp'
replot
unset output

# ---- forest-mnist-mlp
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'forest-mnist-mlp.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'mnist-mlp: paired difference in final test error against none (mean, 95% interval)' noenhanced
set xlabel 'strategy minus none (percentage points)'
set ytics noenhanced
set yrange [-0.7:2.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-mnist-mlp.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-mnist-mlp.png.tmp'
replot
unset output

# ---- overhead
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'overhead.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'training time per epoch relative to none (overhead, %)' noenhanced
set ylabel 'overhead (%)'
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 noenhanced
set xzeroaxis lt -1
set yrange [*<0:0<*]
set key noenhanced autotitle columnhead
plot for [c=2:2] 'overhead.dat' using c:xtic(1) title columnhead(c)
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'overhead.png.tmp'
replot
unset output
