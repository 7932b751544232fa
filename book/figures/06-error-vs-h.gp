# Figure 6.1 of book/06-dynamical-low-rank.md: the error at t = 1 of the BUG integrator on
# Y' = A Y + Y B^T (exact solution e^{tA} Y0 e^{tB}^T, rank 4) against the step size h, for
# the fixed-rank step with explicit Euler and with RK4 sub-steps, and for the rank-adaptive
# (augmented) step with RK4 sub-steps. The grey lines have slopes 1 and 2.
#
# From the repository root:
#   build/tutorials/ch06_matrix_ode
#   gnuplot book/figures/06-error-vs-h.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch06'; outdir='/tmp'" book/figures/06-error-vs-h.gp
if (!exists("datadir")) datadir = 'out/ch06'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/error_vs_h.csv'

set datafile separator ','
# Columns: h, integrator, error. The error of one integrator, undefined on the other rows.
of(name) = strcol(2) eq name ? column(3) : NaN

set logscale xy 10
set format y '10^{%L}'
set xlabel 'step size h'
set ylabel 'relative error |Y_N - Y(1)|_F / |Y(1)|_F'
set title 'BUG on Y'' = AY + YB^T (rank 4, 40 x 30): error at t = 1 against the step size'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key top left box opaque
set xrange [0.0015:1.3]
set yrange [1e-6:2]

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,600 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,600 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/06-error-vs-h.'.format
    plot data skip 1 using 1:(of('fixed-rank Euler')) with linespoints pt 7 lw 2 lc rgb '#1f77b4' title 'fixed rank, Euler sub-steps', \
         data skip 1 using 1:(of('fixed-rank RK4')) with linespoints pt 5 lw 2 lc rgb '#ff7f0e' title 'fixed rank, RK4 sub-steps', \
         data skip 1 using 1:(of('rank-adaptive RK4')) with linespoints pt 9 lw 2 lc rgb '#2ca02c' title 'rank-adaptive (augmented), RK4 sub-steps', \
         [0.002:1] 0.3 * x with lines dt 2 lc rgb '#999999' title 'slope 1: O(h)', \
         [0.002:1] 0.02 * x**2 with lines dt 3 lc rgb '#999999' title 'slope 2: O(h^2)'
    set output
}
