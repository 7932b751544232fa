# Figure 11.2 of book/11-performance.md: the roofline of one core. The roof is
# min(peak, bandwidth × intensity), from the fastest 1024³ sgemm and the fastest 64 MB copy;
# the points are LeNet-5's eleven matrix products (batch 128) and three ways of max pooling
# pool1's input (random data), from the CSVs that tutorials/ch11_performance writes.
#
# From the repository root:
#   build/tutorials/ch11_performance
#   gnuplot book/figures/11-roofline.gp
# Another input or output directory (it must hold roofline_roof.csv, roofline_points.csv and
# roofline_loops.csv):
#   gnuplot -e "datadir='/tmp/ch11'; outdir='/tmp'" book/figures/11-roofline.gp
if (!exists("datadir")) datadir = 'out/ch11'
if (!exists("outdir")) outdir = 'book/figures'
roof = datadir.'/roofline_roof.csv'
points = datadir.'/roofline_points.csv'
loops = datadir.'/roofline_loops.csv'

set datafile separator ','
stats roof skip 1 using 1 nooutput
peak = STATS_max
stats roof skip 1 using 2 nooutput
bandwidth = STATS_max
ceiling(x) = (bandwidth * x < peak) ? bandwidth * x : peak

set logscale xy 10
set xrange [0.05:100]
set yrange [0.05:300]
set samples 400
set format x '%g'
set format y '%g'
set xlabel 'arithmetic intensity (flops, or comparisons, per byte moved)'
set ylabel 'GFLOP/s (or G comparisons/s)'
set title 'The roofline of one core: LeNet-5''s products and max pooling'
set key bottom right box opaque
set grid xtics ytics mxtics mytics lc rgb '#eeeeee'
set label 1 sprintf('peak %.0f GFLOP/s', peak) at 12, peak * 1.35 tc rgb '#444444'
set label 2 sprintf('%.1f GB/s', bandwidth) at 0.07, bandwidth * 0.07 * 1.9 rotate by 33 tc rgb '#444444'

set terminal pngcairo size 900,600 noenhanced font 'sans,11'
set output outdir.'/11-roofline.png'
plot ceiling(x) with lines lw 2 lc rgb '#444444' title 'roof: min(peak, bandwidth × intensity)', \
     points skip 1 using 2:3 with points pt 7 ps 1.3 lc rgb '#1f77b4' title 'sgemm, the step''s products', \
     points skip 1 using 2:3:(word(stringcolumn(1), 1)) with labels left offset 0.8,0 font ',9' notitle, \
     loops skip 1 using 2:3 with points pt 5 ps 1.3 lc rgb '#d62728' title 'max pooling, pool1', \
     loops skip 1 using 2:3:(substr(stringcolumn(1), 7, 40)) with labels left offset 0.8,0 font ',9' notitle

set terminal svg size 900,600 noenhanced font 'sans,11' background '#ffffff'
set output outdir.'/11-roofline.svg'
replot
set output
