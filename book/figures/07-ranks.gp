# Figure 7.1 of book/07-training-low-rank.md: the rank of each low-rank layer of LeNet-5
# after every cycle of the integrator (top), and how far its bases U, V are from
# orthonormal, max(|U^T U - I|, |V^T V - I|) (bottom), against the batch.
#
# From the repository root:
#   build/tutorials/ch07_dlrt
#   gnuplot book/figures/07-ranks.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch07'; outdir='/tmp'" book/figures/07-ranks.gp
if (!exists("datadir")) datadir = 'out/ch07'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/ranks.csv'

set datafile separator ','
set datafile missing NaN  # the other layer's rows: skipped without breaking the line
# Column `col` on the rows of one layer; undefined (skipped) on the other layer's rows.
of(layer, col) = strcol(2) eq layer ? column(col) : NaN

set grid xtics ytics lc rgb '#dddddd'
set xlabel 'batch (128 images each; one cycle = 1 basis batch + 10 Galerkin batches)'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,720 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,720 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/07-ranks.'.format
    set multiplot layout 2,1 title 'Low-rank LeNet-5 trained with the integrator (Adam lr 0.003, {/Symbol t} = 0.1, s* = 10)'

    unset logscale y
    set key bottom right box opaque
    set yrange [0:28]
    set ylabel 'rank after truncation'
    set title 'rank of each layer (augmentation doubles it to 24 for s* batches; conv2 can hold at most 25)'
    plot data skip 1 using 1:(of('conv2', 3)) with linespoints pt 7 ps 0.5 lw 4 lc rgb '#1f77b4' title 'conv2 [50 x 500]', \
         data skip 1 using 1:(of('fc1', 3)) with linespoints pt 5 ps 0.3 lw 1.5 dt 2 lc rgb '#d62728' title 'fc1 [500 x 800]', \
         24 with lines lw 1 dt 3 lc rgb '#7f7f7f' title 'rank during the Galerkin steps (2r)'

    set logscale y 10
    set key top left box opaque
    set yrange [1e-7:1e-4]
    set format y '10^{%L}'
    set ylabel 'max(|U^TU - I|, |V^TV - I|)'
    set title 'orthonormality error of the bases after every truncation (re-orthonormalised by a thin QR)'
    plot data skip 1 using 1:(of('conv2', 5)) with linespoints pt 7 ps 0.4 lw 2 lc rgb '#1f77b4' title 'conv2', \
         data skip 1 using 1:(of('fc1', 5)) with linespoints pt 5 ps 0.3 lw 2 lc rgb '#d62728' title 'fc1'
    set format y '%g'

    unset multiplot
    set output
}
