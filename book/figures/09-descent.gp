# Figure 9.1 of book/09-condition-numbers.md: plain gradient descent on the spectral
# regulariser alone, S <- S - 0.01 grad R(S), from an 8x8 core with kappa = 100. Top: R(S),
# kappa(S) and the bound sqrt(1 + sqrt(2) R / sigma_r^2) on kappa, against the step. Bottom:
# the eight singular values and alpha = |S|_F / sqrt(r), their root mean square.
#
# From the repository root:
#   build/tutorials/ch09_conditioning
#   gnuplot book/figures/09-descent.gp
# Another input or output directory:
#   gnuplot -e "datadir='/tmp/ch09'; outdir='/tmp'" book/figures/09-descent.gp
if (!exists("datadir")) datadir = 'out/ch09'
if (!exists("outdir")) outdir = 'book/figures'
data = datadir.'/descent.csv'

set datafile separator ','
set grid xtics ytics lc rgb '#dddddd'
set xlabel 'gradient step'
set xrange [0:1000]
set logscale y 10
set format y '10^{%L}'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,720 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,720 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/09-descent.'.format
    set multiplot layout 2,1 title 'Gradient descent on R(S) = |S^TS - {/Symbol a}^2I|_F alone (8 x 8 core, step 0.01)'

    set key top right box opaque
    set yrange [1e-4:300]
    set ylabel 'R(S), {/Symbol k}(S) - 1'
    set title 'R reaches 0 at step 239, then alternates between about 0 and 4{/Symbol h}{/Symbol a}^2 = 0.006: its gradient never vanishes'
    plot data skip 1 using 1:2 with lines lw 2 lc rgb '#2ca02c' title 'R(S)', \
         data skip 1 using 1:($3 - 1) with lines lw 2 lc rgb '#1f77b4' title '{/Symbol k}(S) - 1', \
         data skip 1 using 1:($6 - 1) with lines lw 1.5 dt 2 lc rgb '#7f7f7f' title 'bound (9.9) on {/Symbol k} - 1'

    set key top right box opaque maxrows 5
    set yrange [0.02:6]
    set ylabel 'singular value'
    set title 'the singular values move towards their root mean square {/Symbol a}, which shrinks with them'
    plot for [i=7:14] data skip 1 using 1:i with lines lw 1.5 lc rgb '#1f77b4' title (i == 7 ? '{/Symbol s}_1 ... {/Symbol s}_8' : ''), \
         data skip 1 using 1:5 with lines lw 2.5 dt 2 lc rgb '#d62728' title '{/Symbol a} = |S|_F / {/Symbol \326}8'

    unset multiplot
    set output
}
