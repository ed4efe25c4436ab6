# speedup.gp — speedup of each variant over scalar (ratio of median total
# times from the same document) by size, with 95% bootstrap intervals, and
# the sprint's targets (3x at 256-1024, 2.5x at 4096, 2x at 16384) as red
# segments where they apply.
#
# Inputs (gnuplot -e): data, out, fmt ('png'|'svg'), title,
#   targets (file, or '' for none), and lists as indexed variables (NAME_n,
#   then NAME_1 .. NAME_n): names (variants, one per data block), sizes.
# data: '#' header, then one block per variant (two blank lines between):
#   elements,speedup,ci_lo,ci_hi,size,size_index (labels from the lists)
# targets: '#' header, then from_elements,to_elements,target_speedup

if (fmt eq 'svg') {
    set terminal svg size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
} else {
    set terminal pngcairo size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
}
set output out
set encoding utf8
set datafile separator comma

# Same colours as throughput.gp, shifted by one: scalar is the baseline here.
set linetype 1 lc rgb '#4C72B0' lw 3 pt 5 ps 1.6
set linetype 2 lc rgb '#DD8452' lw 3 pt 9 ps 1.8
set linetype 3 lc rgb '#55A868' lw 3 pt 11 ps 1.8
set linetype 4 lc rgb '#C44E52' lw 3 pt 13 ps 1.8
set linetype 5 lc rgb '#8172B3' lw 3 pt 15 ps 1.6
set linetype 6 lc rgb '#937860' lw 3 pt 7 ps 1.6
set linetype 7 lc rgb '#DA8BC3' lw 3 pt 5 ps 1.6
set linetype cycle 7

vname(i) = value(sprintf('names_%d', i))
sname(i) = value(sprintf('sizes_%d', i + 1))

set title title font ',20'
set xlabel 'size (elements, log scale)'
set ylabel 'speedup over scalar [×]   (higher is better)'
set logscale x 2
set yrange [0 : *]
set grid xtics ytics lc rgb '#E5E5E5'
set key outside right top vertical spacing 1.3
set offsets graph 0.05, graph 0.05, graph 0.08, 0
set xtics nomirror
set ytics nomirror

# `for [k=1:has_t]` draws the targets only when a file was given.
has_t = strlen(targets) > 0
tf = has_t ? targets : data   # never opened when has_t is 0

plot for [i=0:names_n-1] data index i using 1:2:3:4:xtic(sname(int($6))) with yerrorlines lt i+1 title vname(i+1), \
     1 with lines dt 3 lw 2 lc rgb '#7F7F7F' title 'scalar (1×)', \
     for [k=1:has_t] tf using 1:3:($2 - $1):(0) with vectors nohead lw 6 lc rgb '#D62728' title 'sprint target', \
     for [k=1:has_t] tf using (sqrt($1 * $2)):3:(sprintf('%.1f×', $3)) with labels offset 0, 0.9 tc rgb '#D62728' font ',14' notitle
