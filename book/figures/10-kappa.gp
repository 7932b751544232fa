# Figure 10.2 of book/10-reproduction.md: the condition number kappa(S) of every low-rank
# core after each integrator cycle, without (beta = 0) and with the regulariser (seed 1).
#
# `tinyrank reproduce` runs this script itself (when gnuplot is installed). By hand:
#   gnuplot -e "datadir='results/figures-data/lenet5'; outdir='results/figures/lenet5'; model='lenet5'" \
#       book/figures/10-kappa.gp
if (!exists("datadir")) datadir = 'results/figures-data/lenet5'
if (!exists("outdir")) outdir = 'book/figures'
if (!exists("model")) model = 'lenet5'
data = datadir.'/trace.csv'

set datafile separator ','
set datafile missing NaN
# columns: 1 method, 2 batch, 3 layer, 4 rank, 5 kappa, 6 R
of(method, layer, col) = (strcol(1) eq method && strcol(3) eq layer) ? column(col) : NaN
layers = system("tail -n +2 '".data."' | cut -d, -f3 | awk '!seen[$0]++' | tr '\n' ' '")

set grid xtics ytics lc rgb '#dddddd'
set key top right box opaque
set xlabel 'batch (128 images each)'
set ylabel '{/Symbol k}(S) = {/Symbol s}_1 / {/Symbol s}_r'
set logscale y
set title model.': condition number of each core, {/Symbol b} = 0 (solid) and RobustDLRT (dashed)'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,500 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,500 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/10-kappa.'.format
    plot for [l = 1:words(layers)] data using 2:(of('dlrt', word(layers, l), 5)) with lines lw 2 lc l \
             title word(layers, l).', {/Symbol b} = 0', \
         for [l = 1:words(layers)] data using 2:(of('robust-dlrt', word(layers, l), 5)) with lines lw 2 dt 2 lc l \
             title word(layers, l).', RobustDLRT'
    set output
}
