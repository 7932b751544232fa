# Figure 10.1 of book/10-reproduction.md: robust accuracy against the attack radius eps for the
# dense network, DLRT (beta = 0) and RobustDLRT, one panel per attack (mean over seeds, with
# the standard deviation as error bars).
#
# `tinyrank reproduce` runs this script itself (when gnuplot is installed). By hand:
#   gnuplot -e "datadir='results/figures-data/lenet5'; outdir='results/figures/lenet5'; model='lenet5'" \
#       book/figures/10-robust-vs-eps.gp
if (!exists("datadir")) datadir = 'results/figures-data/lenet5'
if (!exists("outdir")) outdir = 'book/figures'
if (!exists("model")) model = 'lenet5'
data = datadir.'/robust_vs_eps.csv'

set datafile separator ','
set datafile missing NaN
# Column `col` on the rows of one method and attack; undefined elsewhere.
of(method, attack, col) = (strcol(1) eq method && strcol(2) eq attack) ? column(col) : NaN
attacks = system("tail -n +2 '".data."' | cut -d, -f2 | awk '!seen[$0]++' | tr '\n' ' '")
methods = 'dense dlrt robust-dlrt'
label(m) = m eq 'dense' ? 'dense' : (m eq 'dlrt' ? 'DLRT ({/Symbol b} = 0)' : 'RobustDLRT')

set grid xtics ytics lc rgb '#dddddd'
set key bottom left box opaque
set xlabel '{/Symbol e}'
set yrange [0:100]
set style line 1 lc rgb '#444444' lw 2 pt 7
set style line 2 lc rgb '#1f77b4' lw 2 pt 5
set style line 3 lc rgb '#d62728' lw 2 pt 9

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 1200,420 enhanced font 'sans,11'
    } else {
        set terminal svg size 1200,420 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/10-robust-vs-eps.'.format
    set multiplot layout 1, words(attacks) title model.': accuracy (%) under attack, mean {/Symbol \261} std over seeds'
    do for [a = 1:words(attacks)] {
        attack = word(attacks, a)
        set title attack
        set ylabel (a == 1 ? 'accuracy (%)' : '')
        plot for [m = 1:3] data using 3:(100*of(word(methods, m), attack, 4)):(100*of(word(methods, m), attack, 5)) \
             with yerrorlines ls m title label(word(methods, m))
    }
    unset multiplot
    set output
}
