# Figure 9.4 of book/09-condition-numbers.md: the low-rank MLP (ranks held at 16) trained for
# three epochs with five values of beta on the same batches. Left: clean accuracy, FGSM and
# PGD-10 robust accuracy at eps = 0.1. Right: kappa(S) and sigma_1(S) of both cores.
#
# From the repository root:
#   build/tutorials/ch09_conditioning
#   gnuplot book/figures/09-beta.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch09'; outdir='/tmp'" book/figures/09-beta.gp
if (!exists("datadir")) datadir = 'out/ch09'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/beta.csv'

set datafile separator ','
set grid xtics ytics lc rgb '#dddddd'
set xlabel '{/Symbol b}'
set xrange [-0.005:0.205]
set xtics 0, 0.05, 0.2

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 1000,450 enhanced font 'sans,11'
    } else {
        set terminal svg size 1000,450 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/09-beta.'.format
    set multiplot layout 1,2 title 'Low-rank MLP, ranks 16, three epochs: what {/Symbol b} changes'

    set key at graph 0.97, 0.85 right top box opaque
    set yrange [0:100]
    set ylabel 'test accuracy (%)'
    set title 'accuracy, clean and under attack ({/Symbol e} = 0.1)'
    plot data skip 1 using 1:(100 * $2) with linespoints pt 7 lw 2 lc rgb '#2ca02c' title 'clean', \
         data skip 1 using 1:(100 * $3) with linespoints pt 5 lw 2 lc rgb '#ff7f0e' title 'FGSM', \
         data skip 1 using 1:(100 * $4) with linespoints pt 9 lw 2 lc rgb '#9467bd' title 'PGD-10'

    set key top right box opaque maxrows 2
    set yrange [0:3]
    set ylabel '{/Symbol k}(S), {/Symbol s}_1(S)'
    set title 'the cores at the end: scale falls steadily, {/Symbol k} does not'
    plot data skip 1 using 1:5 with linespoints pt 7 lw 2 lc rgb '#1f77b4' title '{/Symbol k}, fc1', \
         data skip 1 using 1:6 with linespoints pt 5 lw 2 dt 2 lc rgb '#1f77b4' title '{/Symbol k}, fc2', \
         data skip 1 using 1:7 with linespoints pt 7 lw 2 lc rgb '#d62728' title '{/Symbol s}_1, fc1', \
         data skip 1 using 1:8 with linespoints pt 5 lw 2 dt 2 lc rgb '#d62728' title '{/Symbol s}_1, fc2'

    unset multiplot
    set output
}
