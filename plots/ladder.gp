# ladder.gp — attribution along the ladder: for each step (variant a → b),
# the % change of each phase's median time with its bootstrap confidence
# interval; bars coloured by the verdict (improved, regressed, within the
# noise band), so a slide shows at a glance which step moved which phase.
# Only bars with a verdict carry a value label: the rest are noise.
#
# Inputs (gnuplot -e): data, out, fmt ('png'|'svg'), title,
#   steps (file: x of each step's group centre, step index, label), and
#   lists as indexed variables (NAME_n, then NAME_1 .. NAME_n): stepnames
#   ("a → b", then "→ c"...), phases.
# data: '#' header, then x,step,phase,pct,ci_lo,ci_hi,verdict,phase_index
#   (verdict 0 = within noise, 1 = improved, 2 = regressed; labels come
#   from the lists, not the files).

if (fmt eq 'svg') {
    set terminal svg size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
} else {
    set terminal pngcairo size 1600,900 font 'DejaVu Sans,16' background rgb 'white' noenhanced
}
set output out
set encoding utf8
set datafile separator comma

phase(j) = value(sprintf('phases_%d', j + 1))
stepname(s) = value(sprintf('stepnames_%d', s + 1))

set title title font ',20' offset 0, 1
set ylabel 'change of median time [%]   (negative = faster)'
set xlabel 'phase'
set xtics nomirror rotate by 30 right font ',14'
set x2tics nomirror font ',14' tc rgb '#222222'
set link x2
set ytics nomirror
set grid ytics lc rgb '#DDDDDD'
set xzeroaxis lt -1 lw 1.5
set style fill solid 0.85 border rgb 'white'
set boxwidth 0.8
set offsets 0.6, 0.6, graph 0.08, graph 0.08
set key outside right top vertical spacing 1.3

plot data using ($7 == 1 ? $1 : NaN):4 with boxes lc rgb '#2E8B57' title 'improved', \
     data using ($7 == 2 ? $1 : NaN):4 with boxes lc rgb '#C0392B' title 'regressed', \
     data using ($7 == 0 ? $1 : NaN):4 with boxes lc rgb '#A6A6A6' title 'within noise', \
     data using 1:4:5:6 with yerrorbars lc rgb 'black' lw 1.5 pt 7 ps 0.4 title '95% bootstrap CI', \
     data using 1:($7 > 0 && $4 >= 0 ? $6 : NaN):(sprintf('%+.0f%%', $4)) with labels offset 0, 0.8 font ',12' notitle, \
     data using 1:($7 > 0 && $4 < 0 ? $5 : NaN):(sprintf('%+.0f%%', $4)) with labels offset 0, -0.8 font ',12' notitle, \
     data using 1:(NaN):xtic(phase(int($8))) notitle, \
     steps using 1:(NaN):x2tic(stepname(int($2))) axes x2y1 notitle
