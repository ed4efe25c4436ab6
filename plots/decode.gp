# decode.gp — end-to-end decode of BitNet b1.58 2B4T (linear layers only):
# tokens/s of each gemv variant as a bar (median over tokens, whiskers from
# the slowest to the fastest token), against the memory-bandwidth ceiling:
# a token reads every weight once, so it cannot beat
#   memory read bandwidth / weight bytes per token.
#
# Inputs (gnuplot -e): data, out, fmt ('png'|'svg'), title,
#   ceiling (tokens/s; 0 = no roofline in the document), bw (GB/s),
#   wmb (MB of weights per token), threads, layers, ymax (fastest token),
#   variants (indexed: variants_n, variants_1 .. variants_n, in row order).
# data: '#' header, then one row per variant:
#   x,variant,kind (0 float activations, 1 int8, 2 the weights read: the
#   same calls on the same threads loading every weight once, no arithmetic,
#   the ceiling of a kernel under this call structure),tokens_per_s,slowest,fastest
#   (x is the variant's index; labels come from the list, not the file)

if (fmt eq 'svg') {
    set terminal svg size 1600,900 font 'DejaVu Sans,14' background rgb 'white' noenhanced
} else {
    set terminal pngcairo size 1600,900 font 'DejaVu Sans,14' background rgb 'white' noenhanced
}
set output out
set encoding utf8
set datafile separator comma

sub = sprintf('%d layers, %.0f MB of weights per token, %d thread%s', layers, wmb, threads, threads == 1 ? '' : 's')
if (ceiling > 0) { sub = sub . sprintf('; ceiling = %.1f GB/s memory read ÷ %.0f MB per token', bw, wmb) }
set title sprintf("%s\n%s", title, sub) font ',17'
set xlabel 'gemv variant (library ladder order)'
set ylabel 'tokens per second [tokens/s]'
set style fill solid 0.85 border rgb '#333333'
set boxwidth 0.7
set grid ytics lc rgb '#E5E5E5'
set key inside left top vertical opaque box lc rgb '#BBBBBB' spacing 1.3 width 1
set xtics rotate by -30 nomirror
set ytics nomirror
set offsets 0.6, 0.6, 0, 0
set rmargin 9 # the last rotated variant name
set yrange [0 : (ceiling > ymax ? ceiling : ymax) * 1.45] # room for the key

if (ceiling > 0) { set arrow 1 from graph 0, first ceiling to graph 1, first ceiling nohead dt 2 lw 3 lc rgb '#C44E52' front }

vname(i) = value(sprintf('variants_%d', i + 1))
float(k, v) = k == 0 ? v : NaN
int8(k, v) = k == 1 ? v : NaN
readonly(k, v) = k == 2 ? v : NaN

plot data using 1:(float($3, $4)):xtic(vname(int($1))) with boxes lc rgb '#4C72B0' title 'float activations (gemv)', \
     data using 1:(int8($3, $4)) with boxes lc rgb '#DD8452' title 'int8 activations (gemv-i8)', \
     data using 1:(readonly($3, $4)) with boxes lc rgb '#A0A0A0' title 'weights read: loads only, same calls and threads', \
     data using 1:4:5:6 with yerrorbars lc rgb '#222222' pt 7 ps 0.6 lw 2 title 'slowest … fastest token', \
     data using 1:4:(sprintf('%.1f', $4)) with labels offset 0, 1.2 notitle, \
     for [k=1:(ceiling > 0)] keyentry with lines dt 2 lw 3 lc rgb '#C44E52' \
         title sprintf('memory-bandwidth ceiling  %.1f tokens/s', ceiling), \
     for [k=1:(ceiling <= 0)] keyentry with lines lc rgb 'white' title '(no roofline in this document)'
