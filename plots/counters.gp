# counters.gp — per-phase counters of one op at one size, one panel per
# (source, metric): bars per variant, one per phase. Each panel's title
# names its source, since sources are never mixed: sim (callgrind, exact
# instructions and simulated misses), static (llvm-mca, a model), hw (PMU).
#
# Inputs (gnuplot -e): data (first panel's file), out, fmt ('png'|'svg'),
#   title, prefix (panel k reads PREFIX-k.csv); lists as indexed variables
#   (NAME_n, then NAME_1 .. NAME_n): panels (panel titles), phases (in
#   column order), variants (in row order).
# panel data: '#' header, then x,variant,VALUE_PER_PHASE... (NaN = none;
#   x is the variant's index; labels come from the lists)

if (fmt eq 'svg') {
    set terminal svg size 1600,900 font 'DejaVu Sans,15' background rgb 'white' noenhanced
} else {
    set terminal pngcairo size 1600,900 font 'DejaVu Sans,15' background rgb 'white' noenhanced
}
set output out
set encoding utf8
set datafile separator comma

# As breakdown.gp: one colour per phase name (the multiply, fma or
# dot, one colour); any other name (an op of one's own) the j-th of spare,
# so no two phases of an op share one. Grey is "other" alone.
spare = '#CCB974 #64B5CD #8C613C #17BECF #BCBD22 #A55194 #393B79 #E7969C'
pcol(p, j) = p eq 'memory' || p eq 'load' ? '#4C72B0' : p eq 'unpack' ? '#DD8452' : \
             p eq 'lut' ? '#55A868' : p eq 'scale' ? '#C44E52' : \
             p eq 'fma' || p eq 'dot' ? '#8172B3' : p eq 'hsum' ? '#937860' : \
             p eq 'quantize' ? '#DA8BC3' : word(spare, (j - 1) % words(spare) + 1)

phase(j) = value(sprintf('phases_%d', j))
vname(i) = value(sprintf('variants_%d', i + 1))

np = panels_n
nph = phases_n
cols = np <= 1 ? 1 : (np <= 4 ? 2 : 3)
rows = int(ceil(np * 1.0 / cols))
bw = 0.8 / nph

set style fill solid 0.9 border rgb 'white'
set boxwidth bw absolute
set grid ytics lc rgb '#DDDDDD'
set xtics nomirror rotate by 25 right font ',12'
set ytics nomirror
set yrange [0 : *]
set offsets 0.5, 0.5, graph 0.3, 0   # headroom for the key
set key top right font ',13' samplen 1.5

set multiplot layout rows, cols title title font ',20' margins 0.07, 0.98, 0.12, 0.88 spacing 0.07, 0.14
do for [k=1:np] {
    f = sprintf('%s-%d.csv', prefix, k)
    set title value(sprintf('panels_%d', k)) font ',16'
    if (k > 1) { unset key }
    plot for [j=1:nph] f using ($1 + (j - (nph + 1) / 2.0) * bw):(column(j + 2)) \
             with boxes lc rgb pcol(phase(j), j) title phase(j), \
         f using 1:(NaN):xtic(vname(int($1))) notitle
}
unset multiplot
