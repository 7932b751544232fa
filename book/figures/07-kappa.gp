# Figure 7.2 of book/07-training-low-rank.md: the condition number kappa(S) = sigma_1 / sigma_r
# of each low-rank layer's core after every cycle of the integrator, against the batch.
#
# From the repository root:
#   build/tutorials/ch07_dlrt
#   gnuplot book/figures/07-kappa.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch07'; outdir='/tmp'" book/figures/07-kappa.gp
if (!exists("datadir")) datadir = 'out/ch07'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/ranks.csv'

set datafile separator ','
set datafile missing NaN  # the other layer's rows: skipped without breaking the line
# Column `col` on the rows of one layer; undefined (skipped) on the other layer's rows.
of(layer, col) = strcol(2) eq layer ? column(col) : NaN

set grid xtics ytics lc rgb '#dddddd'
set key bottom right box opaque
set xlabel 'batch (128 images each)'
set ylabel '{/Symbol k}(S) = {/Symbol s}_1 / {/Symbol s}_r after truncation'
set yrange [1:*]
set title 'Low-rank LeNet-5: condition number of each core S (no regulariser, {/Symbol b} = 0)'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,500 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,500 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/07-kappa.'.format
    plot data skip 1 using 1:(of('conv2', 4)) with linespoints pt 7 ps 0.4 lw 2 lc rgb '#1f77b4' title 'conv2', \
         data skip 1 using 1:(of('fc1', 4)) with linespoints pt 5 ps 0.4 lw 2 lc rgb '#d62728' title 'fc1'
    set output
}
