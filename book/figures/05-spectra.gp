# Figure 5.1 of book/05-low-rank.md: the singular values of LeNet-5's four weight matrices
# after training (solid) and at their random initialisation (dashed), largest first, on a
# logarithmic scale. conv2 and fc1 are the layers that chapters 5–7 factorise.
#
# From the repository root:
#   build/tutorials/ch05_svd_compression
#   gnuplot book/figures/05-spectra.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch05'; outdir='/tmp'" book/figures/05-spectra.gp
if (!exists("datadir")) datadir = 'out/ch05'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/spectra.csv'

set datafile separator ','
# Column 3 (trained) or 4 (initial) on the rows of one layer; undefined (skipped) elsewhere.
of(layer, col) = strcol(1) eq layer ? column(col) : NaN

set logscale xy 10
set grid xtics ytics mytics lc rgb '#dddddd'
set key bottom left box opaque
set xlabel 'index i (log scale)'
set ylabel 'singular value {/Symbol s}_i'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 1000,720 enhanced font 'sans,11'
    } else {
        set terminal svg size 1000,720 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/05-spectra.'.format
    set multiplot layout 2,2 title 'LeNet-5: singular values of each weight matrix, trained and at initialisation'
    do for [layer in 'conv1 conv2 fc1 fc2'] {
        # The matrix shape, and as many indices as the layer has singular values.
        set title layer.(layer eq 'conv1' ? ' [20 x 25]' : layer eq 'conv2' ? ' [50 x 500]' : \
                         layer eq 'fc1' ? ' [500 x 800]' : ' [10 x 500]')
        k = layer eq 'conv1' ? 20 : layer eq 'conv2' ? 50 : layer eq 'fc1' ? 500 : 10
        set xrange [0.9:k * 1.1]
        plot data skip 1 using 2:(of(layer, 3)) with linespoints pt 7 ps 0.35 lw 2 lc rgb '#1f77b4' title 'trained', \
             data skip 1 using 2:(of(layer, 4)) with lines dt 2 lw 2 lc rgb '#7f7f7f' title 'initialisation'
    }
    unset multiplot
    set output
}
