# ports.gp — port pressure of one op at one size from the static source
# (llvm-mca, a model of the chosen -mcpu, not a measurement): one panel per
# variant; in each, a cell per (phase, resource) coloured and labelled with
# the uops per loop iteration that llvm-mca puts on that resource. The
# bottleneck resource of each phase is outlined. Resources are grouped by
# family (FP/vector pipes, integer ALU/branch, load/store), one band each.
#
# Inputs (gnuplot -e): data, out, fmt ('png'|'svg'), title, vmax (largest
#   value, for the colour scale), and lists as indexed variables (NAME_n,
#   then NAME_1 .. NAME_n): variants, phases, resources (in index order),
#   families (family names), famstart (famstart_1..: index of each
#   family's first resource).
# data: '#' header, then variant,phase,resource (0-based indices),
#   uops_per_iter,bottleneck (1 = the phase's bottleneck resource)
# Optional: cbtitle (the colour scale's label) and footer (the note under
#   the panels), for the same layout of figures counted by the PMU (hw).

if (fmt eq 'svg') {
    set terminal svg size 1600,900 font 'DejaVu Sans,15' background rgb 'white' noenhanced
} else {
    set terminal pngcairo size 1600,900 font 'DejaVu Sans,15' background rgb 'white' noenhanced
}
set output out
set encoding utf8
set datafile separator comma

item(list, i) = value(sprintf('%s_%d', list, i))

nv = variants_n
nph = phases_n
nr = resources_n
nf = families_n

# Panel geometry (screen fractions): resource names and family labels on
# the left, the colour scale on the right.
L = 0.135
R = 0.905
B = 0.15
T = 0.855
gap = 0.008
pw = (R - L) / nv
sy(y) = T - (T - B) * (y + 0.5) / nr    # screen y of data y (rows top down)

# Colour: uops per iteration on a log scale, light (idle) to dark (busy).
lo = vmax > 1 ? 0.1 : vmax / 10.0
set logscale cb
set cbrange [lo : vmax]
set palette defined (0 '#FFF7D9', 1 '#FEDB8B', 2 '#FDAE52', 3 '#F26B2C', 4 '#C9301E', 5 '#7A1010')
set colorbox user origin R + 0.02, B size 0.014, T - B
if (!exists('cbtitle')) cbtitle = 'uops per iteration (log scale)'
set cblabel cbtitle offset 0.5, 0
set cbtics ('0.1' 0.1, '0.3' 0.3, '1' 1, '3' 3, '10' 10, '30' 30, '100' 100) scale 0.5
set mcbtics 1
dark(v) = log(v / lo) / log(vmax / lo) > 0.62 ? 0xFFFFFF : 0x222222
num(v) = v >= 9.95 ? sprintf('%.0f', v) : v >= 0.995 ? sprintf('%.1f', v) : sprintf('%.2f', v)

set xrange [-0.5 : nph - 0.5]
set yrange [nr - 0.5 : -0.5]
set xtics () nomirror scale 0 rotate by 35 right font ',13'
do for [j=1:nph] { set xtics add (item('phases', j) j - 1) }
set ytics () nomirror scale 0 font ',12'
do for [i=1:nr] { set ytics add (item('resources', i) i - 1) }
set border 15 lw 1 lc rgb '#555555'
set style fill solid 1.0 noborder
unset key

# Family bands: a line between families, the family's name beside its rows.
do for [f=2:nf] {
    s = item('famstart', f) - 0.5
    set arrow f from graph 0, first s to graph 1, first s nohead lw 2.5 lc rgb '#333333' front
}

if (!exists('footer')) footer = 'outlined: the bottleneck resource of that phase;  blank: no uops on that resource'
set label 1000 footer at screen L, screen 0.025 left font ',13'

set multiplot title title font ',19'
do for [k=1:nv] {
    set lmargin at screen L + (k - 1) * pw
    set rmargin at screen L + k * pw - gap
    set tmargin at screen T
    set bmargin at screen B
    set title item('variants', k) font ',15'
    if (k == 1) {
        do for [f=1:nf] {
            a = item('famstart', f)
            b = (f < nf ? item('famstart', f + 1) : nr) - 1
            set label 100 + f item('families', f) at screen 0.018, screen (sy(a - 0.5) + sy(b + 0.5)) / 2 \
                center rotate by 90 font ',14'
        }
    } else {
        set ytics format ''
        set ytics () 
        do for [i=1:nr] { set ytics add ('' i - 1) }
        unset label 1000
        do for [f=1:nf] { unset label 100 + f }
    }
    if (k == nv) { set colorbox } else { unset colorbox }
    plot data using ($1 == k - 1 ? $2 : NaN):3:(0.5):(0.5):4 with boxxyerror fc palette, \
         data using ($1 == k - 1 ? $2 : NaN):3:(num($4)):(dark($4)) with labels tc rgb variable font ',11', \
         data using ($1 == k - 1 && $5 > 0 ? $2 : NaN):3:(0.46):(0.44) \
             with boxxyerror fs empty border lc rgb '#000000' lc rgb '#000000' lw 3.5
}
unset multiplot
