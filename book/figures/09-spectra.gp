# Figure 9.3 of book/09-condition-numbers.md: the 16 singular values of each core of the
# low-rank MLP after training with beta = 0 ("plain") and beta = 0.1 ("regularised"), on a
# linear scale (left) and divided by their largest one (right, where the last value is
# 1 / kappa).
#
# From the repository root:
#   build/tutorials/ch09_conditioning
#   gnuplot book/figures/09-spectra.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch09'; outdir='/tmp'" book/figures/09-spectra.gp
if (!exists("datadir")) datadir = 'out/ch09'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/spectra.csv'

set datafile separator ','
set datafile missing NaN
# Column `col` on the rows of one run and layer; undefined (skipped) elsewhere.
of(run, layer, col) = (strcol(1) eq run && strcol(2) eq layer) ? column(col) : NaN
# The first value of each run and layer, for the normalised panel.
stats data skip 1 using (of('plain', 'fc1', 4)) name 'P1' nooutput
stats data skip 1 using (of('plain', 'fc2', 4)) name 'P2' nooutput
stats data skip 1 using (of('regularised', 'fc1', 4)) name 'R1' nooutput
stats data skip 1 using (of('regularised', 'fc2', 4)) name 'R2' nooutput

set grid xtics ytics lc rgb '#dddddd'
set xlabel 'index i'
set xrange [0.5:16.5]
set xtics 1, 1, 16

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 1000,450 enhanced font 'sans,11'
    } else {
        set terminal svg size 1000,450 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/09-spectra.'.format
    set multiplot layout 1,2 title 'Singular values of the cores after three epochs'

    set key top right box opaque
    set yrange [0:2.5]
    set ylabel '{/Symbol s}_i(S)'
    set title 'as they are'
    plot data skip 1 using 3:(of('plain', 'fc1', 4)) with linespoints pt 7 ps 0.6 lw 2 lc rgb '#1f77b4' title 'fc1, {/Symbol b} = 0', \
         data skip 1 using 3:(of('plain', 'fc2', 4)) with linespoints pt 5 ps 0.6 lw 2 dt 2 lc rgb '#1f77b4' title 'fc2, {/Symbol b} = 0', \
         data skip 1 using 3:(of('regularised', 'fc1', 4)) with linespoints pt 7 ps 0.6 lw 2 lc rgb '#d62728' title 'fc1, {/Symbol b} = 0.1', \
         data skip 1 using 3:(of('regularised', 'fc2', 4)) with linespoints pt 5 ps 0.6 lw 2 dt 2 lc rgb '#d62728' title 'fc2, {/Symbol b} = 0.1'

    set key bottom left box opaque
    set yrange [0:1.05]
    set ylabel '{/Symbol s}_i / {/Symbol s}_1'
    set title 'divided by {/Symbol s}_1: the last point is 1 / {/Symbol k}(S)'
    plot data skip 1 using 3:(of('plain', 'fc1', 4) / P1_max) with linespoints pt 7 ps 0.6 lw 2 lc rgb '#1f77b4' title 'fc1, {/Symbol b} = 0', \
         data skip 1 using 3:(of('plain', 'fc2', 4) / P2_max) with linespoints pt 5 ps 0.6 lw 2 dt 2 lc rgb '#1f77b4' title 'fc2, {/Symbol b} = 0', \
         data skip 1 using 3:(of('regularised', 'fc1', 4) / R1_max) with linespoints pt 7 ps 0.6 lw 2 lc rgb '#d62728' title 'fc1, {/Symbol b} = 0.1', \
         data skip 1 using 3:(of('regularised', 'fc2', 4) / R2_max) with linespoints pt 5 ps 0.6 lw 2 dt 2 lc rgb '#d62728' title 'fc2, {/Symbol b} = 0.1'

    unset multiplot
    set output
}
