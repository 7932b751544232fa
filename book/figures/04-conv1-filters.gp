# Figure 4.1 of book/04-convolutions.md: the 20 learned 5×5 filters of LeNet-5's first
# layer (top), and what they make of one test digit: the digit and conv1's 20 feature maps
# of 24×24 pixels, before pooling and ReLU (bottom). Blue is negative, red positive, white 0.
#
# From the repository root:
#   build/tutorials/ch04_convolutions
#   gnuplot book/figures/04-conv1-filters.gp
# Another input or output directory (it must hold conv1_filters.csv, conv1_maps.csv, digit.csv):
#   gnuplot -e "datadir='/tmp/ch04'; outdir='/tmp'" book/figures/04-conv1-filters.gp
if (!exists("datadir")) datadir = 'out/ch04'
if (!exists("outdir")) outdir = 'book/figures'
filters = datadir.'/conv1_filters.csv'
maps = datadir.'/conv1_maps.csv'
digit = datadir.'/digit.csv'

set datafile separator ','
# The largest |value| of column 4 of a file: a colour range symmetric about 0.
stats filters skip 1 using 4 nooutput
filter_max = abs(STATS_min) > abs(STATS_max) ? abs(STATS_min) : abs(STATS_max)
stats maps skip 1 using 4 nooutput
map_max = abs(STATS_min) > abs(STATS_max) ? abs(STATS_min) : abs(STATS_max)

set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')
set size ratio -1
unset xtics
unset ytics
unset border
set cbtics scale 0.5

# Filter f sits in column f mod 10 and row f / 10 of a grid of 5×5 cells one pixel apart;
# map m likewise in a grid of 24×24 cells three pixels apart, right of the digit. The rows
# of one filter (one map) are consecutive in its file, so `every` picks one 5×5 (24×24)
# image at a time, and `with image` draws it as a regular grid of pixels.
filter_x(f, c) = (f % 10) * 6 + c
filter_y(f, r) = -((f / 10) * 6 + r)
map_x(m, c) = (m % 10) * 27 + c
map_y(m, r) = -((m / 10) * 27 + r)

do for [format in 'png svg'] {
    if (format eq 'png') {
        set terminal pngcairo size 1100,560 enhanced font 'sans,11'
    } else {
        set terminal svg size 1100,560 enhanced font 'sans,11' background '#ffffff'
    }
    set output outdir.'/04-conv1-filters.'.format
    set multiplot
    set origin 0.1, 0.5
    set size 0.8, 0.5
    set title 'conv1 after training: its 20 filters of 5×5'
    set cbrange [-filter_max:filter_max]
    plot for [f=0:19] filters skip 1 every ::(f * 25)::(f * 25 + 24) \
         using (filter_x(f, $3)):(filter_y(f, $2)):4 with image notitle
    set origin 0.0, 0.0
    set size 1.0, 0.52
    set title 'a test digit (grey, left), and conv1''s 20 feature maps of it, before pooling and ReLU'
    set cbrange [-map_max:map_max]
    plot for [m=0:19] maps skip 1 every ::(m * 576)::(m * 576 + 575) \
         using (map_x(m, $3)):(map_y(m, $2)):4 with image notitle, \
         digit skip 1 using ($2 - 36):(-($1 + 12)):(255 * $3):(255 * $3):(255 * $3) with rgbimage notitle
    unset multiplot
    set output
}
