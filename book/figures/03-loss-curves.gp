# Figure 3.1 of book/03-learning.md: the training loss of the MLP, batch by batch, for SGD,
# SGD with momentum and Adam from the same initial weights on the same batches. Thin lines
# are the losses of single batches; thick lines their exponential moving average.
#
# From the repository root:
#   build/tutorials/ch03_mlp
#   gnuplot book/figures/03-loss-curves.gp
# Another input or output directory (`data` names the CSV file itself):
#   gnuplot -e "datadir='/tmp/ch03'; outdir='/tmp'" book/figures/03-loss-curves.gp
#   gnuplot -e "data='/tmp/ch03/loss_curves.csv'; outdir='/tmp'" book/figures/03-loss-curves.gp
if (!exists("datadir")) datadir = 'out/ch03'
if (!exists("data")) data = datadir.'/loss_curves.csv'
if (!exists("outdir")) outdir = 'book/figures'

set datafile separator ','
set logscale y 10
set yrange [0.05:3]
set xlabel 'batch (128 images each)'
set ylabel 'cross-entropy loss of the batch'
set title 'MLP on MNIST: the same start, the same batches, three update rules'
set key bottom left box opaque
set grid xtics ytics mytics lc rgb '#dddddd'

# The rows of one optimiser: its loss, undefined (skipped) on the other optimisers' rows.
only(name) = strcol(2) eq name ? column(3) : NaN
# An exponential moving average over about 1/alpha batches, restarted at step 1 of each run.
alpha = 0.1
ema(name) = strcol(2) eq name ? (avg = (column(1) == 1 ? column(3) : avg + alpha * (column(3) - avg))) : NaN
avg = 0

set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output outdir.'/03-loss-curves.png'
plot data skip 1 using 1:(only('sgd')) with lines lw 0.6 lc rgb '#9ecae1' notitle, \
     data skip 1 using 1:(only('sgd+momentum')) with lines lw 0.6 lc rgb '#fdae6b' notitle, \
     data skip 1 using 1:(only('adam')) with lines lw 0.6 lc rgb '#a1d99b' notitle, \
     data skip 1 using 1:(ema('sgd')) with lines lw 2.5 lc rgb '#1f77b4' title 'SGD, lr 0.01', \
     data skip 1 using 1:(ema('sgd+momentum')) with lines lw 2.5 lc rgb '#ff7f0e' title 'SGD + momentum 0.9, lr 0.01', \
     data skip 1 using 1:(ema('adam')) with lines lw 2.5 lc rgb '#2ca02c' title 'Adam, lr 0.001'

set terminal svg size 900,560 enhanced font 'sans,11' background '#ffffff'
set output outdir.'/03-loss-curves.svg'
replot
set output
