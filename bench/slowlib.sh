#!/bin/sh
# bench/slowlib.sh N M OUT.so — build libqk256 with a planted slowdown of
# N dependent multiplies and M dependent adds per element in the scalar
# references' unpack (QK256_TEST_SLOWDOWN_UNPACK / _ADD, src/qk256_impl.h)
# and copy it to OUT.so, for bench/aa.sh's power series at other effect
# sizes (SLOW=OUT.so). Run from the build folder after make check; the
# planted build make check uses (N = 8, M = 0) is rebuilt afterwards.
# On the development machine N = 0, M = 3 costs the scalar unpack
# +8-10%, M = 4 about +17%, N = 8 about +200% (docs/performance.md).
set -eu
[ $# -eq 3 ] || { echo "usage: sh bench/slowlib.sh N M OUT.so" >&2; exit 2; }
case "$1$2" in *[!0-9]* | "") echo "slowlib.sh: N and M must be counts, not '$1' '$2'" >&2; exit 2 ;; esac
[ -f Makefile ] || { echo "slowlib.sh: no Makefile here (run from the build folder)" >&2; exit 2; }
clean() {
    find . -name '*qkslow*.lo' -delete
    find . -name '*qkslow*.o' -delete
    rm -rf tests/.libs/*slow* tests/*slow*.la
}
clean
make -s tests/libqk256slow.la QK_SLOWDOWN="$1" QK_SLOWDOWN_ADD="$2" >/dev/null
tmp="$3.tmp.$$"
cp tests/.libs/libqk256slow.so "$tmp" && mv "$tmp" "$3"
clean
make -s tests/libqk256slow.la >/dev/null
echo "slowlib.sh: $3: $1 multiplies and $2 adds per element in the scalar unpack"
