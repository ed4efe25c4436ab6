# breakdown.gp — per-phase breakdown of one op at one size: for each variant,
# its staged phases stacked (time per call, each phase alone), the fused
# kernel's total as a marker beside the bar, and ±MAD error bars. The gap
# between the stack and the marker is the overlap the out-of-order core
# hides. With the in-context view (incontext = 1), a second, hatched stack
# beside each variant splits the fused kernel itself by phase: its height
# is the fused time, `other` (grey) the code in no phase block.
#
# Inputs (gnuplot -e): data, out, fmt ('png'|'svg'), title, unit (time
#   unit), incontext (0 or 1); lists as indexed variables (NAME_n, then
#   NAME_1 .. NAME_n): phases (in column order), variants (in row order).
# data (written by qkperf plot): '#' header, then per variant:
#   x,variant,{PHASE_lo,PHASE_hi,PHASE_mad}...,fused,fused_mad,
#   {PHASE_ic_lo,PHASE_ic_hi}...,other_ic_lo,other_ic_hi
#   (x is the variant's index; labels come from the lists, not the file)

if (fmt eq 'svg') {
    set terminal svg size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
} else {
    set terminal pngcairo size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
}
set output out
set encoding utf8
set datafile separator comma

# One colour per phase name, the same in every plot (the multiply, fma or
# dot, one colour); any other name (an op of one's own) the j-th of spare,
# so no two phases of an op share one. Grey is "other" alone.
spare = '#CCB974 #64B5CD #8C613C #17BECF #BCBD22 #A55194 #393B79 #E7969C'
pcol(p, j) = p eq 'memory' || p eq 'load' ? '#4C72B0' : p eq 'unpack' ? '#DD8452' : \
             p eq 'lut' ? '#55A868' : p eq 'scale' ? '#C44E52' : \
             p eq 'fma' || p eq 'dot' ? '#8172B3' : p eq 'hsum' ? '#937860' : \
             p eq 'quantize' ? '#DA8BC3' : word(spare, (j - 1) % words(spare) + 1)

# Value labels: whole numbers from 100 up, three digits below.
num(v) = v >= 100 ? sprintf('%.0f', v) : sprintf('%.3g', v)

phase(j) = value(sprintf('phases_%d', j))
vname(i) = value(sprintf('variants_%d', i + 1))

nph = phases_n
fc = 3 * nph + 3          # column of the fused total
ic(j) = fc + 2 * j        # column of the in-context segment j's low end (j = nph + 1: other)
sx = incontext ? -0.21 : 0    # the staged stack's offset and half width
hw = incontext ? 0.17 : 0.3
stats data using 1 nooutput
nv = STATS_records

set label 1 title at screen 0.5, screen 0.965 center font ',20' front
set tmargin 4
set ylabel sprintf('time per call [%s]', unit)
set xlabel 'variant (ladder order)'
set xrange [-0.6 : nv - 0.2]
set yrange [0 : *]
set grid ytics lc rgb '#DDDDDD'
set key outside right top vertical spacing 1.3 title 'staged phases' left
set style fill solid 0.9 border rgb 'white'
# Long variant names need room once there are more than a few.
if (nv > 4) { set xtics nomirror rotate by 15 right } else { set xtics nomirror }
set ytics nomirror
set border 3
set offsets 0, 0, graph 0.08, 0

plot for [j=1:nph] data using ($1 + sx):((column(3*j) + column(3*j+1)) / 2):(hw):((column(3*j+1) - column(3*j)) / 2) \
         with boxxyerror lc rgb pcol(phase(j), j) title phase(j), \
     for [j=1:nph] data using ($1 + sx + 0.18):(column(3*j+1)):(column(3*j+2)) \
         with yerrorbars lc rgb '#333333' lw 1.5 pt 7 ps 0.4 notitle, \
     data using ($1 + sx):(column(fc - 2)):(num(column(fc - 2))) \
         with labels offset 0, 0.9 font ',13' notitle, \
     for [j=1:(incontext ? nph + 1 : 0)] data using ($1 + 0.21):((column(ic(j)) + column(ic(j)+1)) / 2):(0.17):((column(ic(j)+1) - column(ic(j))) / 2) \
         with boxxyerror fs pattern 2 border lc rgb (j <= nph ? pcol(phase(j), j) : '#7F7F7F') \
         lc rgb (j <= nph ? pcol(phase(j), j) : '#7F7F7F') title (j <= nph ? '' : 'other (in context)'), \
     data using ($1 + 0.42):(column(fc)):(column(fc + 1)) \
         with yerrorbars lc rgb 'black' pt 9 ps 2.2 lw 2 title 'fused kernel (total)', \
     data using ($1 + 0.42):(column(fc) + column(fc + 1)):(num(column(fc))) \
         with labels offset 0, 1.1 font ',13' tc rgb '#000000' notitle, \
     data using 1:(NaN):xtic(vname(int($1))) notitle, \
     keyentry with yerrorbars lc rgb '#333333' lw 1.5 pt 7 ps 0.4 title 'error bars: ±MAD', \
     keyentry with boxes fs pattern 2 lc rgb '#333333' title (incontext ? 'hatched: in context' : '')
