# Figure 9.2 of book/09-condition-numbers.md: the low-rank MLP trained on the same batches
# with beta = 0 ("plain") and beta = 0.1 ("regularised"), ranks held at 16. Top: the condition
# number kappa(S) = sigma_1 / sigma_r of each core after every cycle of the integrator. Bottom:
# the largest singular value sigma_1 of each core, the scale of the layer.
#
# From the repository root:
#   build/tutorials/ch09_conditioning
#   gnuplot book/figures/09-kappa.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch09'; outdir='/tmp'" book/figures/09-kappa.gp
if (!exists("datadir")) datadir = 'out/ch09'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/cycles.csv'

set datafile separator ','
set datafile missing NaN  # the other runs' and layer's rows: skipped without breaking the line
# Column `col` on the rows of one run and layer; undefined (skipped) elsewhere.
of(run, layer, col) = (strcol(1) eq run && strcol(3) eq layer) ? column(col) : NaN

set grid xtics ytics lc rgb '#dddddd'
set xlabel 'batch (128 images each; 469 per epoch)'
set xrange [0:1410]

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,720 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,720 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/09-kappa.'.format
    set multiplot layout 2,1 title 'Low-rank MLP (fc1, fc2 at rank 16), three epochs: {/Symbol b} = 0 against {/Symbol b} = 0.1'

    set key bottom right box opaque maxrows 2
    set yrange [1:2.4]
    set ylabel '{/Symbol k}(S) = {/Symbol s}_1 / {/Symbol s}_r'
    set title 'condition number of each core after every cycle'
    plot data skip 1 using 2:(of('plain', 'fc1', 5)) with lines lw 2 lc rgb '#1f77b4' title 'fc1, {/Symbol b} = 0', \
         data skip 1 using 2:(of('plain', 'fc2', 5)) with lines lw 2 dt 2 lc rgb '#1f77b4' title 'fc2, {/Symbol b} = 0', \
         data skip 1 using 2:(of('regularised', 'fc1', 5)) with lines lw 2 lc rgb '#d62728' title 'fc1, {/Symbol b} = 0.1', \
         data skip 1 using 2:(of('regularised', 'fc2', 5)) with lines lw 2 dt 2 lc rgb '#d62728' title 'fc2, {/Symbol b} = 0.1'

    set key top left box opaque maxrows 2
    set yrange [0:2.5]
    set ylabel '{/Symbol s}_1(S)'
    set title 'largest singular value of each core: the regulariser shrinks the whole core'
    plot data skip 1 using 2:(of('plain', 'fc1', 7)) with lines lw 2 lc rgb '#1f77b4' title 'fc1, {/Symbol b} = 0', \
         data skip 1 using 2:(of('plain', 'fc2', 7)) with lines lw 2 dt 2 lc rgb '#1f77b4' title 'fc2, {/Symbol b} = 0', \
         data skip 1 using 2:(of('regularised', 'fc1', 7)) with lines lw 2 lc rgb '#d62728' title 'fc1, {/Symbol b} = 0.1', \
         data skip 1 using 2:(of('regularised', 'fc2', 7)) with lines lw 2 dt 2 lc rgb '#d62728' title 'fc2, {/Symbol b} = 0.1'

    unset multiplot
    set output
}
