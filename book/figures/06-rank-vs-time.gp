# Figure 6.2 of book/06-dynamical-low-rank.md: the rank chosen by the rank-adaptive BUG
# integrator over time on Y' = A Y + Y A^T + c c^T (a pulse carried along a line; the rank of
# the solution grows with the length of its trail), started at rank 1 from Y(0) = 0, for
# two truncation rules: tolerance tau on every step, and tau * h. Dashed: the rank the exact
# solution needs at tolerance tau. Bottom: the relative error against the exact solution.
#
# From the repository root:
#   build/tutorials/ch06_matrix_ode
#   gnuplot book/figures/06-rank-vs-time.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch06'; outdir='/tmp'" book/figures/06-rank-vs-time.gp
if (!exists("datadir")) datadir = 'out/ch06'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/rank_vs_time.csv'

set datafile separator ','
# Columns: t, rule, rank, reference_rank, error. Column `col` on the rows of one rule.
of(rule, col) = strcol(2) eq rule ? column(col) : NaN

set grid xtics ytics lc rgb '#dddddd'
set key top left box opaque

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,720 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,720 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/06-rank-vs-time.'.format
    set multiplot layout 2,1 title 'Rank-adaptive BUG from rank 1: the rank it keeps, and its error (h = 0.1, {/Symbol t} = 0.01)'
    set ylabel 'rank'
    set xlabel ''
    unset logscale y
    set yrange [0:*]
    set ytics 1
    plot data skip 1 using 1:(of('tau per step', 4)) with steps dt 2 lw 2 lc rgb '#555555' title 'rank the exact solution needs at {/Symbol t}', \
         data skip 1 using 1:(of('tau per step', 3)) with steps lw 2 lc rgb '#d62728' title 'BUG, tolerance {/Symbol t} per step', \
         data skip 1 using 1:(of('tau*h per step', 3)) with steps lw 2 lc rgb '#1f77b4' title 'BUG, tolerance {/Symbol t} h per step'
    set ylabel 'relative error'
    set xlabel 'time t'
    set logscale y 10
    set format y '10^{%L}'
    set yrange [*:*]
    set ytics auto
    plot data skip 1 using 1:(of('tau per step', 5)) with lines lw 2 lc rgb '#d62728' title 'tolerance {/Symbol t} per step', \
         data skip 1 using 1:(of('tau*h per step', 5)) with lines lw 2 lc rgb '#1f77b4' title 'tolerance {/Symbol t} h per step'
    unset multiplot
    set output
}
