#!/bin/sh
# bench/aa.sh — false-alarm and power rates of qkperf's change verdicts on
# this machine (docs/performance.md records the figures, docs/methodology.md
# the method). Run from the build folder after `make check` (it needs
# ./qkperf, .libs/libqk256.so and tests/.libs/libqk256slow.so), under the
# timing lock when the machine is shared:
#   flock /tmp/qkperf-timing.lock sh bench/aa.sh
# Series (each prints "NAME: K of N ..."):
#   compare         N+1 runs of one build, each compared with the next:
#                   default, and --relative-to scalar (one process per run)
#   compare --runs  the same with --runs R documents (between-run intervals)
#   ab self         N A/Bs of the build against a copy of itself
#   ab planted      N A/Bs of the build against the planted slowdown:
#                   how often unpack and the fused kernel are called regressed
#   compare planted N pairs of --runs R documents, the build against the
#                   planted slowdown, each side loaded the same way (run
#                   --lib, the variants renamed back): how often the scalar
#                   unpack is called regressed, with the smallest effect
#                   compare reported it would find (detects >=); and the
#                   same pairs of the build against a copy of itself (no
#                   change expected: the control). The tool's claim is
#                   checked on the pairs whose detects figure is at most the
#                   planted effect (ab planted's median, or EFFECT=%)
# Knobs (environment): PAIRS (20), OP (dequantize), VARIANTS (all),
# SIZE (1024), SAMPLES (11), WARMUP (2 ms), RUNS (3), SLOW (tests/.libs/libqk256slow.so),
# AB_RUNS (processes per ab; ab's default, 5, when unset);
# SKIP_COMPARE=1, SKIP_SELF=1, SKIP_AB_PLANTED=1, SKIP_COMPARE_PLANTED=1
# leave those series out (e.g. a power series alone). Planted slowdowns of
# other sizes: sh bench/slowlib.sh N M OUT.so (e.g. 0 3: +8-10%).
set -u
PAIRS=${PAIRS:-20}
OP=${OP:-dequantize}
VARIANTS=${VARIANTS:-all}
SIZE=${SIZE:-1024}
SAMPLES=${SAMPLES:-11}
RUNS=${RUNS:-3}
QKPERF=${QKPERF:-./qkperf}
LIB=${LIB:-.libs/libqk256.so}
SLOW=${SLOW:-tests/.libs/libqk256slow.so}
for f in "$QKPERF" "$LIB" "$SLOW"; do
    [ -e "$f" ] || { echo "aa.sh: $f not found (run from the build folder after make check)" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/qkperf-aa.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
JOB="-k $OP -v $VARIANTS -s $SIZE --source tsc -g none -n $SAMPLES --warmup ${WARMUP:-2} -q"
echo "aa.sh: $OP -v $VARIANTS -s $SIZE, $SAMPLES samples, warm-up ${WARMUP:-2} ms, source tsc; $PAIRS pairs; $(date -u +%FT%TZ)"

# $1: label, $2: extra run options
series_compare() {
    i=0
    while [ "$i" -le "$PAIRS" ]; do
        $QKPERF run $JOB $2 -o "$tmp/run-$i.json" >/dev/null || exit 1
        i=$((i + 1))
    done
    for rel in "" "--relative-to scalar"; do
        quiet=0 i=0 recs=
        while [ "$i" -lt "$PAIRS" ]; do
            out=$($QKPERF compare $rel "$tmp/run-$i.json" "$tmp/run-$((i + 1)).json")
            rc=$?
            [ "$rc" -eq 2 ] && { echo "aa.sh: compare failed" >&2; exit 1; }
            [ "$rc" -eq 0 ] && quiet=$((quiet + 1))
            recs=$(printf '%s\n' "$out" | sed -n 's/^compared \([0-9]*\) records.*/\1/p')
            i=$((i + 1))
        done
        echo "$1${rel:+ $rel}: exit 0 in $quiet of $PAIRS pairs ($recs records each, Holm)"
    done
}

if [ -z "${SKIP_COMPARE:-}" ]; then
    series_compare "compare (one process per run)" ""
    series_compare "compare --runs $RUNS" "--runs $RUNS"
fi

cp "$LIB" "$tmp/copy.so"
quiet=0 i=0
[ -n "${SKIP_SELF:-}" ] && i=$PAIRS
while [ "$i" -lt "$PAIRS" ]; do
    $QKPERF ab "$LIB" "$tmp/copy.so" $JOB ${AB_RUNS:+--runs $AB_RUNS} >"$tmp/ab.txt"
    rc=$?
    [ "$rc" -eq 2 ] && { echo "aa.sh: ab failed" >&2; exit 1; }
    [ "$rc" -eq 0 ] && quiet=$((quiet + 1))
    i=$((i + 1))
done
[ -z "${SKIP_SELF:-}" ] && echo "ab self vs copy (${AB_RUNS:-5} processes each): no change in $quiet of $PAIRS"

med() { printf '%s\n' $1 | sort -g | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : ""}'; }
unpack=0 total=0 i=0 abeffects=
[ -n "${SKIP_AB_PLANTED:-}" ] && i=$PAIRS
while [ "$i" -lt "$PAIRS" ]; do
    $QKPERF ab "$LIB" "$SLOW" $JOB ${AB_RUNS:+--runs $AB_RUNS} >"$tmp/ab.txt"
    [ $? -eq 2 ] && { echo "aa.sh: ab failed" >&2; exit 1; }
    grep -q "^  $OP *scalar .* unpack .*\] regressed" "$tmp/ab.txt" && unpack=$((unpack + 1))
    grep -q "^  $OP *scalar .* total .*\] regressed" "$tmp/ab.txt" && total=$((total + 1))
    abeffects="$abeffects $(sed -n "s/^  $OP *scalar .* unpack .* \([+-][0-9.]*\)% \[.*/\1/p" "$tmp/ab.txt")"
    i=$((i + 1))
done
# the planted effect, for the compare series: EFFECT (%), else ab's median
EFFECT=${EFFECT:-$(med "$abeffects")}
EFFECT=${EFFECT#+}
[ -z "${SKIP_AB_PLANTED:-}" ] &&
    echo "ab planted slowdown (${AB_RUNS:-5} processes each, $SLOW, scalar unpack median $EFFECT%): unpack regressed in $unpack of $PAIRS, fused in $total of $PAIRS"

# $1: label, $2: the library run through --lib as the new side, $3: 1 when
# it is the planted slowdown
series_compare_lib() {
    hit=0 quiet=0 i=0 dets= effects= claimed=0 kept=0
    while [ "$i" -lt "$PAIRS" ]; do
        for side in old new; do
            lib=$LIB
            [ "$side" = new ] && lib=$2
            $QKPERF run $(printf '%s' "$JOB" | sed "s/-v $VARIANTS/-v $lvs/") --runs "$RUNS" \
                --lib "aalib=$lib" -o "$tmp/lib.json" >/dev/null || exit 1
            sed 's/"aalib:/"/g' "$tmp/lib.json" >"$tmp/$side.json"
        done
        out=$($QKPERF compare "$tmp/old.json" "$tmp/new.json")
        rc=$?
        [ "$rc" -eq 2 ] && { echo "aa.sh: compare failed" >&2; exit 1; }
        [ "$rc" -eq 0 ] && quiet=$((quiet + 1))
        line=$(printf '%s\n' "$out" | grep "^  $OP *scalar .* unpack *time ")
        found=0
        printf '%s\n' "$line" | grep -q '\] regressed' && found=1
        hit=$((hit + found))
        det=$(printf '%s\n' "$line" | sed -n 's/.*(detects >= \([0-9.]*\)%).*/\1/p')
        dets="$dets $det"
        # the tool's claim: a true effect at least its detects figure is called
        if [ "$3" = 1 ] && [ -n "$EFFECT" ] && [ -n "$det" ] &&
            awk -v e="$EFFECT" -v d="$det" 'BEGIN { exit !(e >= d) }'; then
            claimed=$((claimed + 1)) kept=$((kept + found))
        fi
        effects="$effects $(printf '%s\n' "$line" | sed -n 's/.* \([+-][0-9.]*\)% \[.*/\1/p')"
        i=$((i + 1))
    done
    echo "$1: compare exit 0 in $quiet of $PAIRS; scalar unpack regressed in $hit of $PAIRS (change median $(med "$effects")%, detects >= median $(med "$dets")%, range $(printf '%s\n' $dets | sort -g | sed -n '1p;$p' | tr '\n' ' ')%)"
    [ "$3" = 1 ] && [ -n "$EFFECT" ] && echo "  of the pairs whose detects figure was at most the planted +$EFFECT% (ab's median, or EFFECT): called in $kept of $claimed"
}

if [ -z "${SKIP_COMPARE_PLANTED:-}" ]; then
    # the variants by name, each as the loaded build's (aalib:V)
    if [ "$VARIANTS" = all ]; then
        vs=$($QKPERF list 2>/dev/null | awk -v op="$OP" '$1 == op && $2 == "—" { f = 1; next }
            f && /^$/ { exit } f && $1 == "*" { printf "%s%s", sep, $2; sep = "," }')
    else
        vs=$VARIANTS
    fi
    [ -n "$vs" ] || { echo "aa.sh: no variants of $OP in qkperf list" >&2; exit 1; }
    lvs=$(printf '%s' "$vs" | sed 's/\([^,][^,]*\)/aalib:\1/g')
    series_compare_lib "compare --runs $RUNS, a copy via --lib" "$tmp/copy.so" 0
    series_compare_lib "compare --runs $RUNS, planted slowdown ($SLOW)" "$SLOW" 1
fi
