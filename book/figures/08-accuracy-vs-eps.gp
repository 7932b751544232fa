# Figure 8.1 of book/08-adversarial-attacks.md: the accuracy of the chapter's MLP on the
# MNIST test images under attack, against the radius eps: FGSM, scaled-gradient FGSM and
# PGD in the l-inf box (left), PGD in the l2 ball (right).
#
# From the repository root:
#   build/tutorials/ch08_attacks
#   gnuplot book/figures/08-accuracy-vs-eps.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch08'; outdir='/tmp'" book/figures/08-accuracy-vs-eps.gp
if (!exists("datadir")) datadir = 'out/ch08'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/accuracy.csv'

set datafile separator ','
set datafile missing NaN  # the other attacks' rows: skipped without breaking the line
# Column `col` (in %) on the rows of one attack; undefined (skipped) on the other rows.
of(attack, col) = strcol(1) eq attack ? 100 * column(col) : NaN

set grid xtics ytics lc rgb '#dddddd'
set yrange [0:100]
set ylabel 'test accuracy under attack (%)'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 1000,450 enhanced font 'sans,11'
    } else {
        set terminal svg size 1000,450 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/08-accuracy-vs-eps.'.format
    set multiplot layout 1,2 title 'MLP 784-500-500-10 on MNIST: robust accuracy against the attack radius'

    set key top right box opaque
    set xrange [0:0.3]
    set xlabel '{/Symbol e} (l_{/Symbol \245} norm: the largest change of any pixel)'
    set title 'attacks in the l_{/Symbol \245} box'
    plot data skip 1 using 3:(of('fgsm-scaled', 5)) with linespoints pt 9 ps 0.9 lw 2 lc rgb '#2ca02c' title 'scaled-gradient FGSM', \
         data skip 1 using 3:(of('fgsm', 5)) with linespoints pt 7 ps 0.8 lw 2 lc rgb '#1f77b4' title 'FGSM', \
         data skip 1 using 3:(of('pgd-linf', 5)) with linespoints pt 5 ps 0.8 lw 2 lc rgb '#d62728' title 'PGD-l_{/Symbol \245}, 10 steps'

    set xrange [0:3]
    set xlabel '{/Symbol e} (l_2 norm of the whole perturbation)'
    set title 'attack in the l_2 ball'
    plot data skip 1 using 3:(of('pgd-l2', 5)) with linespoints pt 13 ps 0.9 lw 2 lc rgb '#9467bd' title 'PGD-l_2, 10 steps'

    unset multiplot
    set output
}
