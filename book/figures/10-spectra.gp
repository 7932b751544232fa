# Figure 10.4 of book/10-reproduction.md: the singular values of every final core S, without
# (beta = 0) and with the regulariser (seed 1).
#
# `tinyrank reproduce` runs this script itself (when gnuplot is installed). By hand:
#   gnuplot -e "datadir='results/figures-data/lenet5'; outdir='results/figures/lenet5'; model='lenet5'" \
#       book/figures/10-spectra.gp
if (!exists("datadir")) datadir = 'results/figures-data/lenet5'
if (!exists("outdir")) outdir = 'book/figures'
if (!exists("model")) model = 'lenet5'
data = datadir.'/spectra.csv'

set datafile separator ','
set datafile missing NaN
# columns: 1 method, 2 layer, 3 index, 4 sigma
of(method, layer) = (strcol(1) eq method && strcol(2) eq layer) ? column(4) : NaN
layers = system("tail -n +2 '".data."' | cut -d, -f2 | awk '!seen[$0]++' | tr '\n' ' '")

set grid xtics ytics lc rgb '#dddddd'
set key top right box opaque
set xlabel 'index i'
set ylabel '{/Symbol s}_i of the final core S'
set logscale y
set title model.': singular values of the final cores, {/Symbol b} = 0 (solid) and RobustDLRT (dashed)'

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 900,500 enhanced font 'sans,11'
    } else {
        set terminal svg size 900,500 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/10-spectra.'.format
    plot for [l = 1:words(layers)] data using 3:(of('dlrt', word(layers, l))) with linespoints lw 2 pt 7 lc l \
             title word(layers, l).', {/Symbol b} = 0', \
         for [l = 1:words(layers)] data using 3:(of('robust-dlrt', word(layers, l))) with linespoints lw 2 dt 2 pt 6 lc l \
             title word(layers, l).', RobustDLRT'
    set output
}
