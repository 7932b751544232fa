# Figure 11.1 of book/11-performance.md: where the time of one LeNet-5 training step goes
# (batch 128, one thread): every layer timed alone on its real input, forward and backward
# stacked, with the loss and Adam's update, from the CSV that tutorials/ch11_performance writes.
#
# From the repository root:
#   build/tutorials/ch11_performance
#   gnuplot book/figures/11-time-per-op.gp
# Another input or output directory (`data` names the CSV file itself):
#   gnuplot -e "datadir='/tmp/ch11'; outdir='/tmp'" book/figures/11-time-per-op.gp
if (!exists("datadir")) datadir = 'out/ch11'
if (!exists("data")) data = datadir.'/time_per_op.csv'
if (!exists("outdir")) outdir = 'book/figures'

set datafile separator ','
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border lc rgb '#555555'
set boxwidth 0.7
set ylabel 'milliseconds (median)'
set yrange [0:*]
set xtics rotate by -35 nomirror
set title 'One LeNet-5 training step, batch 128, one thread: each piece timed alone'
set key top right box opaque
set grid ytics lc rgb '#dddddd'

set terminal pngcairo size 900,560 noenhanced font 'sans,11'
set output outdir.'/11-time-per-op.png'
plot data skip 1 using 3:xtic(stringcolumn(1).' ('.stringcolumn(2).')') lc rgb '#1f77b4' title 'forward', \
     '' skip 1 using 4 lc rgb '#ff7f0e' title 'backward'

set terminal svg size 900,560 noenhanced font 'sans,11' background '#ffffff'
set output outdir.'/11-time-per-op.svg'
replot
set output
