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
     'curves-mnist-mlp.dat' index 4 using 1:3:4 with filledcurves lc 5 notitle, \
     'curves-mnist-mlp.dat' index 5 using 1:3:4 with filledcurves lc 6 notitle, \
     'curves-mnist-mlp.dat' index 6 using 1:3:4 with filledcurves lc 7 notitle, \
     'curves-mnist-mlp.dat' index 7 using 1:3:4 with filledcurves lc 8 notitle, \
     'curves-mnist-mlp.dat' index 8 using 1:3:4 with filledcurves lc 9 notitle, \
     'curves-mnist-mlp.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-mnist-mlp.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'none mc=20', \
     'curves-mnist-mlp.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'input', \
     'curves-mnist-mlp.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'dense', \
     'curves-mnist-mlp.dat' index 4 using 1:2 with linespoints lc 5 lw 2 pt 7 ps 0.6 title 'dense mc=20', \
     'curves-mnist-mlp.dat' index 5 using 1:2 with linespoints lc 6 lw 2 pt 7 ps 0.6 title 'hinton', \
     'curves-mnist-mlp.dat' index 6 using 1:2 with linespoints lc 7 lw 2 pt 7 ps 0.6 title 'hinton mc=20', \
     'curves-mnist-mlp.dat' index 7 using 1:2 with linespoints lc 8 lw 2 pt 7 ps 0.6 title 'gaussian mc=20', \
     'curves-mnist-mlp.dat' index 8 using 1:2 with linespoints lc 9 lw 2 pt 7 ps 0.6 title 'dropconnect mc=20'
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
set yrange [-0.7:6.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-mnist-mlp.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-mnist-mlp.png.tmp'
replot
unset output

# ---- curves-mnist-lenet
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'curves-mnist-lenet.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'mnist-lenet: test error per epoch (mean ± std over seeds)' noenhanced
set xlabel 'epoch'
set ylabel 'test error (%)'
set style fill transparent solid 0.18 noborder
set xtics 1
set autoscale xfixmin
set autoscale xfixmax
plot 'curves-mnist-lenet.dat' index 0 using 1:3:4 with filledcurves lc 1 notitle, \
     'curves-mnist-lenet.dat' index 1 using 1:3:4 with filledcurves lc 2 notitle, \
     'curves-mnist-lenet.dat' index 2 using 1:3:4 with filledcurves lc 3 notitle, \
     'curves-mnist-lenet.dat' index 3 using 1:3:4 with filledcurves lc 4 notitle, \
     'curves-mnist-lenet.dat' index 4 using 1:3:4 with filledcurves lc 5 notitle, \
     'curves-mnist-lenet.dat' index 5 using 1:3:4 with filledcurves lc 6 notitle, \
     'curves-mnist-lenet.dat' index 6 using 1:3:4 with filledcurves lc 7 notitle, \
     'curves-mnist-lenet.dat' index 7 using 1:3:4 with filledcurves lc 8 notitle, \
     'curves-mnist-lenet.dat' index 8 using 1:3:4 with filledcurves lc 9 notitle, \
     'curves-mnist-lenet.dat' index 9 using 1:3:4 with filledcurves lc 10 notitle, \
     'curves-mnist-lenet.dat' index 10 using 1:3:4 with filledcurves lc 11 notitle, \
     'curves-mnist-lenet.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-mnist-lenet.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'input', \
     'curves-mnist-lenet.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'dense', \
     'curves-mnist-lenet.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'conv', \
     'curves-mnist-lenet.dat' index 4 using 1:2 with linespoints lc 5 lw 2 pt 7 ps 0.6 title 'pool', \
     'curves-mnist-lenet.dat' index 5 using 1:2 with linespoints lc 6 lw 2 pt 7 ps 0.6 title 'spatial', \
     'curves-mnist-lenet.dat' index 6 using 1:2 with linespoints lc 7 lw 2 pt 7 ps 0.6 title 'srivastava', \
     'curves-mnist-lenet.dat' index 7 using 1:2 with linespoints lc 8 lw 2 pt 7 ps 0.6 title 'spatial-pool', \
     'curves-mnist-lenet.dat' index 8 using 1:2 with linespoints lc 9 lw 2 pt 7 ps 0.6 title 'gaussian', \
     'curves-mnist-lenet.dat' index 9 using 1:2 with linespoints lc 10 lw 2 pt 7 ps 0.6 title 'dropconnect', \
     'curves-mnist-lenet.dat' index 10 using 1:2 with linespoints lc 11 lw 2 pt 7 ps 0.6 title 'dropblock'
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'curves-mnist-lenet.png.tmp'
replot
unset output

# ---- forest-mnist-lenet
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'forest-mnist-lenet.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'mnist-lenet: paired difference in final test error against none (mean, 95% interval)' noenhanced
set xlabel 'strategy minus none (percentage points)'
set ytics noenhanced
set yrange [-0.7:9.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-mnist-lenet.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-mnist-lenet.png.tmp'
replot
unset output

# ---- curves-fashion-lenet
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'curves-fashion-lenet.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'fashion-lenet: test error per epoch (mean ± std over seeds)' noenhanced
set xlabel 'epoch'
set ylabel 'test error (%)'
set style fill transparent solid 0.18 noborder
set xtics 1
set autoscale xfixmin
set autoscale xfixmax
plot 'curves-fashion-lenet.dat' index 0 using 1:3:4 with filledcurves lc 1 notitle, \
     'curves-fashion-lenet.dat' index 1 using 1:3:4 with filledcurves lc 2 notitle, \
     'curves-fashion-lenet.dat' index 2 using 1:3:4 with filledcurves lc 3 notitle, \
     'curves-fashion-lenet.dat' index 3 using 1:3:4 with filledcurves lc 4 notitle, \
     'curves-fashion-lenet.dat' index 4 using 1:3:4 with filledcurves lc 5 notitle, \
     'curves-fashion-lenet.dat' index 5 using 1:3:4 with filledcurves lc 6 notitle, \
     'curves-fashion-lenet.dat' index 6 using 1:3:4 with filledcurves lc 7 notitle, \
     'curves-fashion-lenet.dat' index 7 using 1:3:4 with filledcurves lc 8 notitle, \
     'curves-fashion-lenet.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-fashion-lenet.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'input', \
     'curves-fashion-lenet.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'dense', \
     'curves-fashion-lenet.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'conv', \
     'curves-fashion-lenet.dat' index 4 using 1:2 with linespoints lc 5 lw 2 pt 7 ps 0.6 title 'pool', \
     'curves-fashion-lenet.dat' index 5 using 1:2 with linespoints lc 6 lw 2 pt 7 ps 0.6 title 'spatial', \
     'curves-fashion-lenet.dat' index 6 using 1:2 with linespoints lc 7 lw 2 pt 7 ps 0.6 title 'srivastava', \
     'curves-fashion-lenet.dat' index 7 using 1:2 with linespoints lc 8 lw 2 pt 7 ps 0.6 title 'spatial-pool'
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'curves-fashion-lenet.png.tmp'
replot
unset output

# ---- forest-fashion-lenet
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'forest-fashion-lenet.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'fashion-lenet: paired difference in final test error against none (mean, 95% interval)' noenhanced
set xlabel 'strategy minus none (percentage points)'
set ytics noenhanced
set yrange [-0.7:6.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-fashion-lenet.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-fashion-lenet.png.tmp'
replot
unset output

# ---- curves-cifar-cnn
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'curves-cifar-cnn.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'cifar-cnn: test error per epoch (mean ± std over seeds)' noenhanced
set xlabel 'epoch'
set ylabel 'test error (%)'
set style fill transparent solid 0.18 noborder
set xtics 1
set autoscale xfixmin
set autoscale xfixmax
plot 'curves-cifar-cnn.dat' index 0 using 1:3:4 with filledcurves lc 1 notitle, \
     'curves-cifar-cnn.dat' index 1 using 1:3:4 with filledcurves lc 2 notitle, \
     'curves-cifar-cnn.dat' index 2 using 1:3:4 with filledcurves lc 3 notitle, \
     'curves-cifar-cnn.dat' index 3 using 1:3:4 with filledcurves lc 4 notitle, \
     'curves-cifar-cnn.dat' index 4 using 1:3:4 with filledcurves lc 5 notitle, \
     'curves-cifar-cnn.dat' index 5 using 1:3:4 with filledcurves lc 6 notitle, \
     'curves-cifar-cnn.dat' index 6 using 1:3:4 with filledcurves lc 7 notitle, \
     'curves-cifar-cnn.dat' index 7 using 1:3:4 with filledcurves lc 8 notitle, \
     'curves-cifar-cnn.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-cifar-cnn.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'input', \
     'curves-cifar-cnn.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'dense', \
     'curves-cifar-cnn.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'conv', \
     'curves-cifar-cnn.dat' index 4 using 1:2 with linespoints lc 5 lw 2 pt 7 ps 0.6 title 'pool', \
     'curves-cifar-cnn.dat' index 5 using 1:2 with linespoints lc 6 lw 2 pt 7 ps 0.6 title 'spatial', \
     'curves-cifar-cnn.dat' index 6 using 1:2 with linespoints lc 7 lw 2 pt 7 ps 0.6 title 'srivastava', \
     'curves-cifar-cnn.dat' index 7 using 1:2 with linespoints lc 8 lw 2 pt 7 ps 0.6 title 'spatial-pool'
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'curves-cifar-cnn.png.tmp'
replot
unset output

# ---- forest-cifar-cnn
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'forest-cifar-cnn.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'cifar-cnn: paired difference in final test error against none (mean, 95% interval)' noenhanced
set xlabel 'strategy minus none (percentage points)'
set ytics noenhanced
set yrange [-0.7:6.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-cifar-cnn.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-cifar-cnn.png.tmp'
replot
unset output

# ---- curves-wordlang-gru
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'curves-wordlang-gru.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'wordlang-gru: test error per epoch (mean ± std over seeds)' noenhanced
set xlabel 'epoch'
set ylabel 'test error (%)'
set style fill transparent solid 0.18 noborder
set xtics 1
set autoscale xfixmin
set autoscale xfixmax
plot 'curves-wordlang-gru.dat' index 0 using 1:3:4 with filledcurves lc 1 notitle, \
     'curves-wordlang-gru.dat' index 1 using 1:3:4 with filledcurves lc 2 notitle, \
     'curves-wordlang-gru.dat' index 2 using 1:3:4 with filledcurves lc 3 notitle, \
     'curves-wordlang-gru.dat' index 3 using 1:3:4 with filledcurves lc 4 notitle, \
     'curves-wordlang-gru.dat' index 4 using 1:3:4 with filledcurves lc 5 notitle, \
     'curves-wordlang-gru.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-wordlang-gru.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'embedding', \
     'curves-wordlang-gru.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'token', \
     'curves-wordlang-gru.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'output', \
     'curves-wordlang-gru.dat' index 4 using 1:2 with linespoints lc 5 lw 2 pt 7 ps 0.6 title 'embedding+output'
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'curves-wordlang-gru.png.tmp'
replot
unset output

# ---- forest-wordlang-gru
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'forest-wordlang-gru.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'wordlang-gru: paired difference in final test error against none (mean, 95% interval)' noenhanced
set xlabel 'strategy minus none (percentage points)'
set ytics noenhanced
set yrange [-0.7:3.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-wordlang-gru.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-wordlang-gru.png.tmp'
replot
unset output

# ---- curves-cifar-bn
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'curves-cifar-bn.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'cifar-bn: test error per epoch (mean ± std over seeds)' noenhanced
set xlabel 'epoch'
set ylabel 'test error (%)'
set style fill transparent solid 0.18 noborder
set xtics 1
set autoscale xfixmin
set autoscale xfixmax
plot 'curves-cifar-bn.dat' index 0 using 1:3:4 with filledcurves lc 1 notitle, \
     'curves-cifar-bn.dat' index 1 using 1:3:4 with filledcurves lc 2 notitle, \
     'curves-cifar-bn.dat' index 2 using 1:3:4 with filledcurves lc 3 notitle, \
     'curves-cifar-bn.dat' index 3 using 1:3:4 with filledcurves lc 4 notitle, \
     'curves-cifar-bn.dat' index 4 using 1:3:4 with filledcurves lc 5 notitle, \
     'curves-cifar-bn.dat' index 5 using 1:3:4 with filledcurves lc 6 notitle, \
     'curves-cifar-bn.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-cifar-bn.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'dense', \
     'curves-cifar-bn.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'conv', \
     'curves-cifar-bn.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'bn-before', \
     'curves-cifar-bn.dat' index 4 using 1:2 with linespoints lc 5 lw 2 pt 7 ps 0.6 title 'bn-after-last', \
     'curves-cifar-bn.dat' index 5 using 1:2 with linespoints lc 6 lw 2 pt 7 ps 0.6 title 'conv+dense'
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'curves-cifar-bn.png.tmp'
replot
unset output

# ---- forest-cifar-bn
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'forest-cifar-bn.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'cifar-bn: paired difference in final test error against none (mean, 95% interval)' noenhanced
set xlabel 'strategy minus none (percentage points)'
set ytics noenhanced
set yrange [-0.7:4.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-cifar-bn.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-cifar-bn.png.tmp'
replot
unset output

# ---- curves-wordlang-gru2
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'curves-wordlang-gru2.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'wordlang-gru2: test error per epoch (mean ± std over seeds)' noenhanced
set xlabel 'epoch'
set ylabel 'test error (%)'
set style fill transparent solid 0.18 noborder
set xtics 1
set autoscale xfixmin
set autoscale xfixmax
plot 'curves-wordlang-gru2.dat' index 0 using 1:3:4 with filledcurves lc 1 notitle, \
     'curves-wordlang-gru2.dat' index 1 using 1:3:4 with filledcurves lc 2 notitle, \
     'curves-wordlang-gru2.dat' index 2 using 1:3:4 with filledcurves lc 3 notitle, \
     'curves-wordlang-gru2.dat' index 3 using 1:3:4 with filledcurves lc 4 notitle, \
     'curves-wordlang-gru2.dat' index 4 using 1:3:4 with filledcurves lc 5 notitle, \
     'curves-wordlang-gru2.dat' index 5 using 1:3:4 with filledcurves lc 6 notitle, \
     'curves-wordlang-gru2.dat' index 6 using 1:3:4 with filledcurves lc 7 notitle, \
     'curves-wordlang-gru2.dat' index 7 using 1:3:4 with filledcurves lc 8 notitle, \
     'curves-wordlang-gru2.dat' index 8 using 1:3:4 with filledcurves lc 9 notitle, \
     'curves-wordlang-gru2.dat' index 9 using 1:3:4 with filledcurves lc 10 notitle, \
     'curves-wordlang-gru2.dat' index 0 using 1:2 with linespoints lc 1 lw 2 pt 7 ps 0.6 title 'none', \
     'curves-wordlang-gru2.dat' index 1 using 1:2 with linespoints lc 2 lw 2 pt 7 ps 0.6 title 'embedding', \
     'curves-wordlang-gru2.dat' index 2 using 1:2 with linespoints lc 3 lw 2 pt 7 ps 0.6 title 'output', \
     'curves-wordlang-gru2.dat' index 3 using 1:2 with linespoints lc 4 lw 2 pt 7 ps 0.6 title 'interlayer', \
     'curves-wordlang-gru2.dat' index 4 using 1:2 with linespoints lc 5 lw 2 pt 7 ps 0.6 title 'variational', \
     'curves-wordlang-gru2.dat' index 5 using 1:2 with linespoints lc 6 lw 2 pt 7 ps 0.6 title 'recurrent', \
     'curves-wordlang-gru2.dat' index 6 using 1:2 with linespoints lc 7 lw 2 pt 7 ps 0.6 title 'embedding+interlayer', \
     'curves-wordlang-gru2.dat' index 7 using 1:2 with linespoints lc 8 lw 2 pt 7 ps 0.6 title 'embedding+interlayer+output', \
     'curves-wordlang-gru2.dat' index 8 using 1:2 with linespoints lc 9 lw 2 pt 7 ps 0.6 title 'variational+recurrent', \
     'curves-wordlang-gru2.dat' index 9 using 1:2 with linespoints lc 10 lw 2 pt 7 ps 0.6 title 'variational+recurrent+output'
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'curves-wordlang-gru2.png.tmp'
replot
unset output

# ---- forest-wordlang-gru2
reset
set encoding utf8
set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output 'forest-wordlang-gru2.svg.tmp'
set grid lc rgb '#dddddd'
set key outside right top noenhanced
set border 3
set tics nomirror
set title 'wordlang-gru2: paired difference in final test error against none (mean, 95% interval)' noenhanced
set xlabel 'strategy minus none (percentage points)'
set ytics noenhanced
set yrange [-0.7:8.3]
set offsets graph 0.05, graph 0.05, 0, 0
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb '#888888'
plot 'forest-wordlang-gru2.dat' using 2:1:3:4:ytic(5) with xerrorbars pt 7 ps 1 lw 2 lc rgb '#1f77b4' notitle
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'forest-wordlang-gru2.png.tmp'
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
plot for [c=2:8] 'overhead.dat' using c:xtic(1) title columnhead(c)
set terminal pngcairo size 1000,625 enhanced font 'sans,11' background rgb 'white'
set output 'overhead.png.tmp'
replot
unset output
