# Figure 2.1 of book/02-autodiff.md: the largest error of the central difference
# (f(x + ε) − f(x − ε)) / 2ε against the step ε, f evaluated in float. Truncation error
# falls like ε² to the right, rounding error grows like ε_mach / ε to the left: a V.
#
# From the repository root:
#   build/tutorials/ch02_autodiff
#   gnuplot book/figures/02-fd-error.gp
# Another input or output directory (`data` names the CSV file itself):
#   gnuplot -e "datadir='/tmp/ch02'; outdir='/tmp'" book/figures/02-fd-error.gp
#   gnuplot -e "data='/tmp/ch02/fd_error.csv'; outdir='/tmp'" book/figures/02-fd-error.gp
if (!exists("datadir")) datadir = 'out/ch02'
if (!exists("data")) data = datadir.'/fd_error.csv'
if (!exists("outdir")) outdir = 'book/figures'

set datafile separator ','
set logscale xy 10
set xrange [5e-8:2]
set yrange [1e-6:3]
set format x '10^{%L}'
set format y '10^{%L}'
set xlabel 'step ε'
set ylabel 'max_k |central difference − tape gradient|'
set title 'Finite-difference error of ∂f/∂x in float: truncation against rounding'
set key bottom center box opaque
set grid xtics ytics lc rgb '#dddddd'

epsilon_float = 2.0**-24          # unit roundoff of float, about 6e-8
rounding(e) = epsilon_float / e   # the rounding arm, slope −1
truncation(e) = 0.2 * e**2        # the truncation arm, slope 2 (0.2 ≈ |f'''| / 6 here)

set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output outdir.'/02-fd-error.png'
plot data skip 1 using 1:2 with linespoints lw 2 pt 7 ps 1 lc rgb '#1f77b4' title 'measured (tutorials/ch02\_autodiff)', \
     truncation(x) with lines dt 2 lw 1.5 lc rgb '#2ca02c' title 'truncation ∝ ε^2', \
     rounding(x) with lines dt 2 lw 1.5 lc rgb '#d62728' title 'rounding ≈ ε_{mach} / ε'

set terminal svg size 900,560 enhanced font 'sans,11' background '#ffffff'
set output outdir.'/02-fd-error.svg'
replot
set output
