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
# Knobs (environment): PAIRS (20), OP (dequantize), VARIANTS (all),
# SIZE (1024), SAMPLES (11), WARMUP (2 ms), RUNS (3), SLOW (tests/.libs/libqk256slow.so);
# SKIP_COMPARE=1, SKIP_SELF=1 leave those series out (a power series alone).
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
    $QKPERF ab "$LIB" "$tmp/copy.so" $JOB >"$tmp/ab.txt"
    rc=$?
    [ "$rc" -eq 2 ] && { echo "aa.sh: ab failed" >&2; exit 1; }
    [ "$rc" -eq 0 ] && quiet=$((quiet + 1))
    i=$((i + 1))
done
[ -z "${SKIP_SELF:-}" ] && echo "ab self vs copy (3 processes each): no change in $quiet of $PAIRS"

unpack=0 total=0 i=0 effect=
while [ "$i" -lt "$PAIRS" ]; do
    $QKPERF ab "$LIB" "$SLOW" $JOB >"$tmp/ab.txt"
    [ $? -eq 2 ] && { echo "aa.sh: ab failed" >&2; exit 1; }
    grep -q "^  $OP *scalar .* unpack .*\] regressed" "$tmp/ab.txt" && unpack=$((unpack + 1))
    grep -q "^  $OP *scalar .* total .*\] regressed" "$tmp/ab.txt" && total=$((total + 1))
    effect=$(sed -n "s/^  $OP *scalar .* unpack .* \([+-][0-9.]*%\) \[.*/\1/p" "$tmp/ab.txt")
    i=$((i + 1))
done
echo "ab planted slowdown ($SLOW, scalar unpack $effect in the last): unpack regressed in $unpack of $PAIRS, fused in $total of $PAIRS"
