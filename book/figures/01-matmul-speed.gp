# Figure 1.1 of book/01-tensors.md: GFLOP/s of the naive triple loop and of cblas_sgemm
# (one BLAS thread) against the matrix size n, from the CSV that tutorials/ch01_tensors writes.
#
# From the repository root:
#   build/tutorials/ch01_tensors
#   gnuplot book/figures/01-matmul-speed.gp
# Another input or output directory (`data` names the CSV file itself):
#   gnuplot -e "datadir='/tmp/ch01'; outdir='/tmp'" book/figures/01-matmul-speed.gp
#   gnuplot -e "data='/tmp/ch01/matmul_speed.csv'; outdir='/tmp'" book/figures/01-matmul-speed.gp
if (!exists("datadir")) datadir = 'out/ch01'
if (!exists("data")) data = datadir.'/matmul_speed.csv'
if (!exists("outdir")) outdir = 'book/figures'

set datafile separator ','
set logscale x 2
set logscale y 10
set xrange [45:720]
set yrange [0.1:1000]
set xtics ("64" 64, "128" 128, "256" 256, "512" 512, "1024" 1024)
set format y '10^{%L}'
set xlabel 'matrix size n (C = A B, all n × n)'
set ylabel 'GFLOP/s  (2n^3 / seconds / 10^9)'
set title 'Naive triple loop against cblas\_sgemm, one core'
set key top left box opaque
set grid ytics mytics xtics lc rgb '#dddddd'

set terminal pngcairo size 900,560 enhanced font 'sans,11'
set output outdir.'/01-matmul-speed.png'
plot data skip 1 using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#1f77b4' title 'cblas\_sgemm, 1 thread', \
     data skip 1 using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'naive triple loop', \
     data skip 1 using 1:(sqrt($2 * $3)):(sprintf('%.0f×', $4)) with labels font ',11' notitle

set terminal svg size 900,560 enhanced font 'sans,11' background '#ffffff'
set output outdir.'/01-matmul-speed.svg'
replot
set output
