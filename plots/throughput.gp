# throughput.gp — bandwidth of each variant's fused kernel against size,
# log-x, with this machine's measured limits (qkperf roofline: L1 store,
# L2, L3 and memory read) as horizontal lines: a line near a limit is bound
# by that level; far below every limit, by the core.
#
# Inputs (gnuplot -e): data, out, fmt ('png'|'svg'), title,
#   l1, l2, l3, mem (GB/s; 0 = unknown), and lists as indexed variables
#   (NAME_n, then NAME_1 .. NAME_n): names (variants, one per data block),
#   sizes.
# data: '#' header, then one block per variant (two blank lines between):
#   elements,GBps,GBps_mad,size,size_index (labels from the lists)

if (fmt eq 'svg') {
    set terminal svg size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
} else {
    set terminal pngcairo size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
}
set output out
set encoding utf8
set datafile separator comma

set linetype 1 lc rgb '#7F7F7F' lw 3 pt 7 ps 1.6
set linetype 2 lc rgb '#4C72B0' lw 3 pt 5 ps 1.6
set linetype 3 lc rgb '#DD8452' lw 3 pt 9 ps 1.8
set linetype 4 lc rgb '#55A868' lw 3 pt 11 ps 1.8
set linetype 5 lc rgb '#C44E52' lw 3 pt 13 ps 1.8
set linetype 6 lc rgb '#8172B3' lw 3 pt 15 ps 1.6
set linetype 7 lc rgb '#937860' lw 3 pt 7 ps 1.6
set linetype 8 lc rgb '#DA8BC3' lw 3 pt 5 ps 1.6
set linetype cycle 8

vname(i) = value(sprintf('names_%d', i))
sname(i) = value(sprintf('sizes_%d', i + 1))

set title title font ',20'
set xlabel 'size (elements, log scale)'
set ylabel 'bandwidth [GB/s, log scale]'
set logscale x 2
set logscale y 10
set grid xtics ytics mytics lc rgb '#E5E5E5'
set key outside right top vertical spacing 1.3
set offsets graph 0.05, graph 0.05, 0, 0
set xtics nomirror
set ytics nomirror

# Each known limit: a dashed line across the plot, named in the key (labels
# on the lines would collide where two limits are close).
lim(name, v) = sprintf('%s  %.0f GB/s', name, v)
if (l1 > 0) { set arrow 1 from graph 0, first l1 to graph 1, first l1 nohead dt 2 lw 2 lc rgb '#444444' back }
if (l2 > 0) { set arrow 2 from graph 0, first l2 to graph 1, first l2 nohead dt 3 lw 2 lc rgb '#444444' back }
if (l3 > 0) { set arrow 3 from graph 0, first l3 to graph 1, first l3 nohead dt 4 lw 2 lc rgb '#444444' back }
if (mem > 0) { set arrow 4 from graph 0, first mem to graph 1, first mem nohead dt 5 lw 2 lc rgb '#444444' back }
if (l1 > 0) { set yrange [* : l1 * 1.8] }

plot for [i=0:names_n-1] data index i using 1:2:3:xtic(sname(int($5))) with yerrorlines lt i+1 title vname(i+1), \
     for [k=1:(l1 > 0)] keyentry with lines dt 2 lw 2 lc rgb '#444444' title lim('L1 store', l1), \
     for [k=1:(l2 > 0)] keyentry with lines dt 3 lw 2 lc rgb '#444444' title lim('L2 read', l2), \
     for [k=1:(l3 > 0)] keyentry with lines dt 4 lw 2 lc rgb '#444444' title lim('L3 read', l3), \
     for [k=1:(mem > 0)] keyentry with lines dt 5 lw 2 lc rgb '#444444' title lim('memory read', mem), \
     for [k=1:(l1 <= 0)] keyentry with lines lc rgb 'white' title '(no roofline in this document)'
