# Figure 5.2 of book/05-low-rank.md: test accuracy of LeNet-5 after its conv2 and fc1 layers
# are replaced by truncated SVDs (the "SVD prune" baseline), against the compression rate of
# those two layers. One curve truncates every layer at a relative tolerance tau, the other at
# the same fixed rank r; the labels give tau and r. The dashed line is the dense network.
#
# From the repository root:
#   build/tutorials/ch05_svd_compression
#   gnuplot book/figures/05-accuracy-vs-rank.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch05'; outdir='/tmp'" book/figures/05-accuracy-vs-rank.gp
if (!exists("datadir")) datadir = 'out/ch05'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/accuracy_vs_rank.csv'

set datafile separator ','
# Columns: sweep, setting, conv2_rank, fc1_rank, compression_rate, total_compression_rate, test_accuracy.
is(sweep) = strcol(1) eq sweep
stats data skip 1 using (is('dense') ? 100 * column(7) : NaN) nooutput
dense = STATS_max

# x: the weights conv2 and fc1 store, as a fraction of their dense weights (1 - compression
# rate), on a log scale so that the high compression rates do not crowd together.
set logscale x 10
set xlabel 'stored / dense weights of conv2 and fc1 (log scale)'
set ylabel 'test accuracy (%)'
set xrange [0.005:3]
set x2range [0.005:3]
set logscale x2 10
set x2tics ('99%%' 0.01, '97%%' 0.03, '90%%' 0.1, '70%%' 0.3, '0%%' 1, '-100%%' 2) nomirror
set xtics nomirror
set yrange [0:100]
set grid xtics ytics lc rgb '#dddddd'
set key bottom right box opaque
set title 'SVD prune: LeNet-5 trained dense, then conv2 and fc1 truncated (top axis: their compression rate)'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,600 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,600 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/05-accuracy-vs-rank.'.format
    plot dense with lines dt 2 lw 1.5 lc rgb '#555555' title sprintf('dense, %.2f%%', dense), \
         data skip 1 using (is('tau') ? 1 - $5 : NaN):(100 * $7) with linespoints pt 7 lw 2 lc rgb '#1f77b4' \
              title 'relative tolerance {/Symbol t} (same for both layers)', \
         data skip 1 using (is('tau') ? 1 - $5 : NaN):(100 * $7):(sprintf('%s', strcol(2))) \
              with labels offset -1.2,0.9 font ',9' tc rgb '#1f77b4' notitle, \
         data skip 1 using (is('rank') ? 1 - $5 : NaN):(100 * $7) with linespoints pt 5 lw 2 lc rgb '#d62728' \
              title 'fixed rank r (same for both layers)', \
         data skip 1 using (is('rank') ? 1 - $5 : NaN):(100 * $7):(sprintf('r=%s', strcol(2))) \
              with labels offset 0,-1.0 font ',9' tc rgb '#d62728' notitle
    set output
}
