/*
 * gemv_i8_avx512.c — the AVX-512 VNNI gemv-i8 variant: avx512-vnni.
 *
 * x is quantized in chunks of 256 (a whole block; quantize_x below, the
 * vector twin of qk256_quantize_x), so one 64-byte load v of a block holds
 * code 4i+k of the block in bits [2k+1:2k] of byte i, and the q of that
 * code sits at byte 64k + i. Per block and row:
 *
 *   unpack  one shift: u = v >> 4 (16-bit lanes; the bits that cross into
 *           a byte from its neighbour land in bits [7:4], never read)
 *   lut     four vpermb on 64-entry tables that read only 6 index bits:
 *           tab_lo[i] = w[i & 3] picks code k=0 from v and k=2 from u,
 *           tab_hi[i] = w[(i >> 2) & 3] picks k=1 from v and k=3 from u.
 *           No masks at all (vpshufb would need one per vector: it zeroes
 *           on bit 7 and reads bits [3:0], where two codes sit).
 *   dot     four vpdpbusd (unsigned biased weights x signed q) in one chain
 *           per block and row, starting from -bias * sum(q) in lane 0, so
 *           the block sum is the exact integer; each block is a chain of
 *           its own, so the blocks (or rows) in flight hide the vpdpbusd
 *           latency.
 *   scale   16 int32 lanes folded to 8, converted to double and FMA'd by
 *           the block scale into the row's 8 double lanes (phases_i8.h says
 *           why double).
 *
 * That is 1 load, 1 shift, 4 vpermb, 4 vpdpbusd and 4 ops of scaling per
 * block and row (docs/performance.md, "The VNNI kernel's steps", has the
 * first version's count); the block scales come as doubles from a small
 * per-row buffer (scales_pd). The kernel takes one row at a time, its
 * blocks in memory order (gemv_row says why), and so do the staged memory
 * and dot phases. Each row sums its blocks in the same order, so every
 * row's result is the same staged or fused, and for any thread count.
 */
#include <stdlib.h>
#include <string.h>

#include "phases_avx512.h"
#include "phases_i8.h"

enum { CHUNK = 256 };

/* ---- phase blocks ------------------------------------------------------ */

/* unpack: the two index vectors of a block (codes k=0,1 in v, k=2,3 in u). */
QK_INLINE __m512i unpack_hi(__m512i v)
{
    return _mm512_srli_epi16(v, 4);
}

/* The biased table as vpermb sees it: 64 entries, entry i = w[(i >> sh) & 3]
 * (sh = 0 for tab_lo, 2 for tab_hi), made in registers: tab_lo is the four
 * bytes w[0..3] in every dword, tab_hi each w[k] four times, in dword k of
 * every 16 bytes; not filled in memory and loaded, which stalls store
 * forwarding (docs/performance.md, "The VNNI kernel's steps"). */
QK_INLINE __m512i table_i8(const qk256_i8_lut *t, unsigned sh)
{
    uint32_t w0 = t->w[0], w1 = t->w[1], w2 = t->w[2], w3 = t->w[3];
    if (sh == 0)
        return _mm512_set1_epi32((int)(w0 | w1 << 8 | w2 << 16 | w3 << 24));
    return _mm512_set4_epi32((int)(w3 * 0x01010101u), (int)(w2 * 0x01010101u),
                             (int)(w1 * 0x01010101u), (int)(w0 * 0x01010101u));
}

QK_INLINE __m512i lut64(__m512i tab, __m512i idx)
{
    return _mm512_permutexvar_epi8(idx, tab);
}

QK_INLINE __m512i dot64(__m512i acc, __m512i w, __m512i q)
{
    return _mm512_dpbusd_epi32(acc, w, q);
}

/* memory: a block's 64 packed bytes, and the four 64-byte pieces of its q. */
QK_INLINE __m512i load_block(const uint8_t *row, size_t b)
{
    return _mm512_loadu_si512(row + b * QK256_BLOCK_BYTES);
}

QK_INLINE void load_q(__m512i q[4], const int8_t *xq, size_t b)
{
#pragma GCC unroll 4
    for (unsigned k = 0; k < 4; k++)
        q[k] = _mm512_loadu_si512(xq + b * QK256_BLOCK + 64 * k);
}

QK_INLINE __m512i block_start(const qk256_i8_lut *t, int32_t qsum)
{
    return _mm512_zextsi128_si512(_mm_cvtsi32_si128(-t->bias * qsum));
}

/* A block of one row: the exact integer sum in 16 lanes. */
QK_INLINE __m512i block_dot(__m512i start, __m512i v, __m512i tlo, __m512i thi, const __m512i q[4])
{
    __m512i u = unpack_hi(v);
    __m512i s = dot64(start, lut64(tlo, v), q[0]);
    s = dot64(s, lut64(thi, v), q[1]);
    s = dot64(s, lut64(tlo, u), q[2]);
    return dot64(s, lut64(thi, u), q[3]);
}

/* The block's exact sum (16 lanes folded to 8), times its scale, into the
 * row's 8 double lanes. */
QK_INLINE __m512d scale_block(__m512d acc, __m512i s, double sc)
{
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm512_fmadd_pd(_mm512_cvtepi32_pd(h), _mm512_set1_pd(sc), acc);
}

/* 8 double lanes -> the 4 that ws->acc holds and qk_i8_row_result takes. */
QK_INLINE __m256d fold4(__m512d a)
{
    return _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd(a, 1));
}

/* ---- quantize ---------------------------------------------------------- */

/*
 * qk256_quantize_x for chunk 256, vectorized: the same integers (x * inv
 * rounded once in float, then vcvtps2dq rounds half to even like rint and
 * the magic-number trick of quantize.c), in the same layout. Per 64
 * elements: 16 q as bytes per 16 floats (vpmovdb), joined into element
 * order, then one vpermb puts element 4i + k at byte 16k + i; lane k of
 * the four such vectors of a block is the block's q for code k, stored
 * as 16-byte pieces. x past cols reads as 0 (masked loads), so q is 0 there.
 */
QK_INLINE __m512 load_x16(const float *x, size_t cols, size_t j)
{
    return _mm512_maskz_loadu_ps(qk5_mask(cols, j), x + j);
}

QK_INLINE __m512i transpose_ctrl(void)
{
    uint8_t e[64];
    for (unsigned k = 0; k < 4; k++)
        for (unsigned i = 0; i < 16; i++)
            e[16 * k + i] = (uint8_t)(4 * i + k);
    return _mm512_loadu_si512(e);
}

/* quantize_x and its twin quantize_x_f32 (the same code under
 * avx512-vnni-f32's llvm-mca region names). */
#define QUANTIZE_X(fn, V)                                                                       \
    static float fn(int8_t *q, int32_t *sum, const float *x, size_t cols)                       \
    {                                                                                           \
        size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;                                     \
        __m512 m = _mm512_setzero_ps();                                                         \
        for (size_t j = 0; j < cols; j += 16)                                                   \
            m = _mm512_max_ps(m, _mm512_abs_ps(load_x16(x, cols, j)));                          \
        float amax = _mm512_reduce_max_ps(m);                                                   \
        const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);                  \
        const __m512i ctrl = transpose_ctrl();                                                  \
        for (size_t b = 0; b < nb; b++) {                                                       \
            QK_MCA_BEGIN("gemv-i8/" V "/quantize@16");                                          \
            __m512i bsum = _mm512_setzero_si512();                                              \
            int8_t *qb = q + b * QK256_BLOCK;                                                   \
            for (unsigned c = 0; c < 4; c++) {                                                  \
                size_t j0 = b * QK256_BLOCK + 64 * c;                                           \
                __m128i p[4];                                                                   \
                for (unsigned g = 0; g < 4; g++) {                                              \
                    __m512i v =                                                                 \
                        _mm512_cvtps_epi32(_mm512_mul_ps(load_x16(x, cols, j0 + 16 * g), inv)); \
                    bsum = _mm512_add_epi32(bsum, v);                                           \
                    p[g] = _mm512_cvtepi32_epi8(v);                                             \
                }                                                                               \
                __m512i e = _mm512_inserti32x4(_mm512_castsi128_si512(p[0]), p[1], 1);          \
                e = _mm512_inserti32x4(e, p[2], 2);                                             \
                e = _mm512_inserti32x4(e, p[3], 3);                                             \
                e = _mm512_permutexvar_epi8(ctrl, e);                                           \
                int8_t *dst = qb + 16 * c; /* code k's 16 bytes go to dst + 64k */              \
                _mm_storeu_si128((__m128i *)dst, _mm512_castsi512_si128(e));                    \
                _mm_storeu_si128((__m128i *)(dst + 64), _mm512_extracti32x4_epi32(e, 1));       \
                _mm_storeu_si128((__m128i *)(dst + 128), _mm512_extracti32x4_epi32(e, 2));      \
                _mm_storeu_si128((__m128i *)(dst + 192), _mm512_extracti32x4_epi32(e, 3));      \
            }                                                                                   \
            sum[b] = _mm512_reduce_add_epi32(bsum);                                             \
            QK_MCA_END("gemv-i8/" V "/quantize@16");                                            \
        }                                                                                       \
        return amax / 127.0f;                                                                   \
    }
QUANTIZE_X(quantize_x, "avx512-vnni")

float qk256_quantize_x_avx512(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk)
{
    return chunk == CHUNK ? quantize_x(q, sum, x, cols) : qk256_quantize_x(q, sum, x, cols, chunk);
}

/* ---- the fused kernel -------------------------------------------------- */

/* The block scales of R rows for blocks [b0, b0 + n), n <= SPAN, as
 * doubles (exact), so the block FMA takes its scale as a broadcast memory
 * operand: no per-block cvtss2sd, broadcast or NULL test. */
enum { SPAN = 32 };

QK_INLINE void scales_pd(double sc[][SPAN], const float *rs, size_t nb, size_t b0, size_t n,
                         unsigned R)
{
    for (unsigned r = 0; r < R; r++)
        for (size_t i = 0; i < n; i += 8) {
            __mmask8 k = (__mmask8)(n - i >= 8 ? 0xff : (1u << (n - i)) - 1);
            __m256 f = rs ? _mm256_maskz_loadu_ps(k, rs + r * nb + b0 + i) : _mm256_set1_ps(1.0f);
            _mm512_storeu_pd(&sc[r][i], _mm512_cvtps_pd(f));
        }
}

/*
 * The fused kernel runs one row at a time, its blocks in memory order, and
 * leaves the streaming to the hardware prefetchers. In a decode the weights
 * come from DRAM, and what limits the kernel there is how its loads walk
 * memory, not its arithmetic: tiles of 8 rows (block b of each row, then
 * block b + 1) are eight short strided streams the hardware prefetchers do
 * not follow, and software prefetches of them go through the core's few L1
 * miss buffers, while rows in order are one stream per thread that the L2
 * stream prefetcher runs ahead of. That won more than sharing the q loads
 * of a block between 8 rows saved (docs/performance.md, "One row at a time
 * in memory order"). Nothing past the kernel's rows is addressed.
 */
QK_INLINE float gemv_row(const uint8_t *row, const float *rs, const qk256_xq *x, size_t nb,
                         __m512i tlo, __m512i thi, const qk256_i8_lut *t)
{
    double sc[1][SPAN];
    __m512d acc = _mm512_setzero_pd();
    for (size_t b0 = 0; b0 < nb; b0 += SPAN) {
        size_t n = nb - b0 < SPAN ? nb - b0 : SPAN;
        scales_pd(sc, rs, nb, b0, n, 1);
        for (size_t i = 0; i < n; i++) {
            size_t b = b0 + i;
            __m512i q[4];
            load_q(q, x->q, b);
            __m512i s = block_dot(block_start(t, x->sum[b]), load_block(row, b), tlo, thi, q);
            acc = scale_block(acc, s, sc[0][i]);
        }
    }
    return qk_i8_row_result(fold4(acc), x->scale);
}

void qk256_i8_avx512_vnni(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                          const qk256_xq *x, size_t rows, size_t cols, const qk256_i8_lut *t)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
    const __m512i tlo = table_i8(t, 0), thi = table_i8(t, 2);
    for (size_t r = 0; r < rows; r++)
        y[r] =
            gemv_row(packed + r * row_stride, scales ? scales + r * nb : NULL, x, nb, tlo, thi, t);
}

/* ---- staged phases ----------------------------------------------------- */

/* The llvm-mca regions ("gemv-i8/avx512-vnni/<phase>@<elements>",
 * harness/mca.h) are straight-line: one block of one row (memory, unpack,
 * dot), 128 weights (lut), one row (hsum, no element count); quantize's is
 * quantize_x's 16-float loop. */

static void vnni_quantize(void *ws)
{
    qk256_ws *w = ws;
    w->sx = quantize_x(w->xq, w->xsum, w->x, w->cols);
}

/* The staged memory, unpack and lut phases of avx512-vnni and
 * avx512-vnni-f32 (the same blocks and loads), under each variant's
 * llvm-mca region names. */

/* memory: the kernel's loads, rows one at a time in memory order: each
 * block's packed bytes, its scale and its q. */
#define STAGED_MEMORY(fn, V)                                                                     \
    static void fn(void *ws)                                                                     \
    {                                                                                            \
        qk256_ws *w = ws;                                                                        \
        __m512i fold = _mm512_setzero_si512();                                                   \
        for (size_t r = 0; r < w->rows; r++)                                                     \
            for (size_t b = 0; b < w->nb; b++) {                                                 \
                QK_MCA_BEGIN("gemv-i8/" V "/memory@256");                                        \
                __m512i q[4];                                                                    \
                load_q(q, w->xq, b);                                                             \
                fold = _mm512_xor_si512(fold, load_block(qk256_ws_block(w, r, 0), b));           \
                fold = _mm512_xor_si512(                                                         \
                    fold, _mm512_castps_si512(_mm512_set1_ps(w->scales[r * w->nb + b])));        \
                for (unsigned k = 0; k < 4; k++)                                                 \
                    fold = _mm512_xor_si512(fold, q[k]);                                         \
                QK_MCA_END("gemv-i8/" V "/memory@256");                                          \
            }                                                                                    \
        w->sink = qk_fold_u64(                                                                   \
            _mm256_xor_si256(_mm512_castsi512_si256(fold), _mm512_extracti64x4_epi64(fold, 1))); \
    }

/* unpack: per block the four index vectors the lookups read, v v u u
 * (piece k is looked up in tab_lo for even k, tab_hi for odd k). */
#define STAGED_UNPACK(fn, V)                                                          \
    static void fn(void *ws)                                                          \
    {                                                                                 \
        qk256_ws *w = ws;                                                             \
        for (size_t r = 0; r < w->rows; r++)                                          \
            for (size_t b = 0; b < w->nb; b++) {                                      \
                QK_MCA_BEGIN("gemv-i8/" V "/unpack@256");                             \
                uint8_t *codes = w->codes + qk256_ws_elem(w, r, b);                   \
                __m512i v = load_block(qk256_ws_block(w, r, 0), b), u = unpack_hi(v); \
                _mm512_storeu_si512(codes, v);                                        \
                _mm512_storeu_si512(codes + 64, v);                                   \
                _mm512_storeu_si512(codes + 128, u);                                  \
                _mm512_storeu_si512(codes + 192, u);                                  \
                QK_MCA_END("gemv-i8/" V "/unpack@256");                               \
            }                                                                         \
    }

/* lut: the stored codes through the two tables. */
#define STAGED_LUT(fn, V)                                                                 \
    static void fn(void *ws)                                                              \
    {                                                                                     \
        qk256_ws *w = ws;                                                                 \
        const __m512i tlo = table_i8(&w->lut_i8, 0), thi = table_i8(&w->lut_i8, 2);       \
        size_t n = w->rows * w->nb * QK256_BLOCK;                                         \
        for (size_t i = 0; i < n; i += 128) {                                             \
            QK_MCA_BEGIN("gemv-i8/" V "/lut@128");                                        \
            _mm512_storeu_si512(w->wq + i, lut64(tlo, _mm512_loadu_si512(w->codes + i))); \
            _mm512_storeu_si512(w->wq + i + 64,                                           \
                                lut64(thi, _mm512_loadu_si512(w->codes + i + 64)));       \
            QK_MCA_END("gemv-i8/" V "/lut@128");                                          \
        }                                                                                 \
    }

STAGED_MEMORY(vnni_memory, "avx512-vnni")
STAGED_UNPACK(vnni_unpack, "avx512-vnni")
STAGED_LUT(vnni_lut, "avx512-vnni")

/* dot: the kernel's block sums and scaling, a row at a time in memory
 * order, over the stored weights, into ws->acc. */
static void vnni_dot(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        double sc[1][SPAN];
        __m512d acc = _mm512_setzero_pd();
        for (size_t b0 = 0; b0 < w->nb; b0 += SPAN) {
            size_t n = w->nb - b0 < SPAN ? w->nb - b0 : SPAN;
            scales_pd(sc, w->scales + r * w->nb, w->nb, b0, n, 1);
            for (size_t i = 0; i < n; i++) {
                QK_MCA_BEGIN("gemv-i8/avx512-vnni/dot@256");
                size_t b = b0 + i;
                const uint8_t *wq = w->wq + qk256_ws_elem(w, r, b);
                __m512i q[4];
                load_q(q, w->xq, b);
                __m512i s =
                    dot64(block_start(&w->lut_i8, w->xsum[b]), _mm512_loadu_si512(wq), q[0]);
                s = dot64(s, _mm512_loadu_si512(wq + 64), q[1]);
                s = dot64(s, _mm512_loadu_si512(wq + 128), q[2]);
                s = dot64(s, _mm512_loadu_si512(wq + 192), q[3]);
                acc = scale_block(acc, s, sc[0][i]);
                QK_MCA_END("gemv-i8/avx512-vnni/dot@256");
            }
        }
        qk_i8_store_acc(w->acc + r * QK_GV_ACC_LANES, fold4(acc));
    }
}

static void vnni_hsum(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("gemv-i8/avx512-vnni/hsum");
        w->out[r] = qk_i8_row_result(qk_i8_load_acc(w->acc + r * QK_GV_ACC_LANES), w->sx);
        QK_MCA_END("gemv-i8/avx512-vnni/hsum");
    }
}

const qk256_i8_layout qk256_i8_avx512_vnni_layout = {.chunk = CHUNK,
                                                     .quantize = qk256_quantize_x_avx512};

QK_I8_PHASES(avx512_vnni, QK_PHASE(vnni_quantize, NULL, "qk256_quantize_x_avx512", "quantize_x"),
             QK_PHASE(vnni_memory, NULL, "load_block", "load_q"),
             QK_PHASE(vnni_unpack, NULL, "unpack_hi"),
             QK_PHASE(vnni_lut, NULL, "table_i8", "lut64"),
             QK_PHASE(vnni_dot, NULL, "dot64", "block_start", "scale_block", "scales_pd"),
             QK_PHASE(vnni_hsum, NULL, "fold4", "qk_i8_row_result"));

/* ==== avx512-vnni-f32: float block scaling ============================== */

/*
 * The same blocks as avx512-vnni up to a block's 16 int32 lanes
 * (block_dot); then, per group of 16 blocks of a row, the exact integer
 * block sums d_b in one vector (an int32 reduction tree: pair_sum,
 * quad_sum, oct_sum), converted once (exact: |d_b| <= 64 * 127 * 256 <
 * 2^24) and FMA'd with the group's 16 block scales, one vector load, into
 * 16 float lanes (scale_group); x's scale once per row (row_result_f32).
 * The FMA's terms are exactly s_b * d_b, so the accuracy contract of
 * qk256.h (1e-5 of the row's absolute block sum) holds with a wide margin:
 * each lane sums nb/16 terms, then 16 lanes in 4 steps, an error of at most
 * about (nb/16 + 6) * 2^-24 of that sum, under 1e-5 up to some 2600
 * blocks. A row whose every d_b is 0 gives exactly 0.
 *
 * Per block and row: 1 load, 1 shift, 4 vpermb, 4 vpdpbusd as in
 * avx512-vnni, then 15/16 int32 add and 30/16 shuffles of the tree and 1/8
 * of a conversion and an FMA, where avx512-vnni spent a fold (extract +
 * add), a conversion to double and a double FMA per block plus the
 * conversion of its scale. The repacked weights of qk256_repack_i8 run
 * on a variant of their own below (avx512-vnni-tiles: 32 rows side by
 * side).
 */
enum { GROUP = 16 };

/* dot: two blocks' 16 lanes -> 8 lanes, 2 per 128-bit chunk:
 * [a0+a2, b0+b2, a1+a3, b1+b3] */
QK_INLINE __m512i pair_sum(__m512i a, __m512i b)
{
    return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}

/* two pairs -> blocks 0..3 of them, one lane each per 128-bit chunk */
QK_INLINE __m512i quad_sum(__m512i c, __m512i d)
{
    return _mm512_add_epi32(_mm512_unpacklo_epi64(c, d), _mm512_unpackhi_epi64(c, d));
}

/* e, f (4 blocks each, per chunk) -> [e0+e1, e2+e3, f0+f1, f2+f3]; applied
 * twice it leaves block i's whole sum in lane i */
QK_INLINE __m512i oct_sum(__m512i e, __m512i f)
{
    return _mm512_add_epi32(_mm512_shuffle_i32x4(e, f, 0x88), _mm512_shuffle_i32x4(e, f, 0xdd));
}

/* Block b0 + i of a row (zero past n blocks of the group). */
QK_INLINE __m512i group_block(const uint8_t *row, const qk256_xq *x, size_t b0, unsigned i,
                              size_t n, __m512i tlo, __m512i thi, const qk256_i8_lut *t)
{
    if (i >= n)
        return _mm512_setzero_si512();
    __m512i q[4];
    size_t b = b0 + i;
    load_q(q, x->q, b);
    return block_dot(block_start(t, x->sum[b]), load_block(row, b), tlo, thi, q);
}

/* The exact sums of blocks [b0, b0 + n), n <= 16, in lanes 0..n-1 (0 past). */
QK_INLINE __m512i group_sums(const uint8_t *row, const qk256_xq *x, size_t b0, size_t n,
                             __m512i tlo, __m512i thi, const qk256_i8_lut *t)
{
#define B_(i) group_block(row, x, b0, i, n, tlo, thi, t)
    __m512i e0 = quad_sum(pair_sum(B_(0), B_(1)), pair_sum(B_(2), B_(3)));
    __m512i e1 = quad_sum(pair_sum(B_(4), B_(5)), pair_sum(B_(6), B_(7)));
    __m512i g0 = oct_sum(e0, e1);
    __m512i e2 = quad_sum(pair_sum(B_(8), B_(9)), pair_sum(B_(10), B_(11)));
    __m512i e3 = quad_sum(pair_sum(B_(12), B_(13)), pair_sum(B_(14), B_(15)));
#undef B_
    return oct_sum(g0, oct_sum(e2, e3));
}

/* The group's 16 block scales (1 where scales is NULL, 0 past n). */
QK_INLINE __m512 group_scales(const float *rs, size_t n)
{
    __mmask16 k = (__mmask16)(n >= GROUP ? 0xffff : (1u << n) - 1);
    return rs ? _mm512_maskz_loadu_ps(k, rs) : _mm512_maskz_mov_ps(k, _mm512_set1_ps(1.0f));
}

/* scale: the 16 exact sums times their scales into the row's float lanes. */
QK_INLINE __m512 scale_group(__m512 acc, __m512i d, __m512 sc)
{
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sc, acc);
}

/* 16 lanes -> the 8 that ws->acc holds per row, then in a fixed order to
 * one float, times sx. */
QK_INLINE __m256 fold8_ps(__m512 a)
{
    return _mm256_add_ps(_mm512_castps512_ps256(a),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

QK_INLINE float row_result_f32(__m256 a, float sx)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s) * sx;
}

/* One row: codes at row (block b at row + 64 b), its nb scales at rs
 * (NULL: all 1). */
QK_INLINE float gemv_row_f32(const uint8_t *row, const float *rs, const qk256_xq *x, size_t nb,
                             __m512i tlo, __m512i thi, const qk256_i8_lut *t)
{
    __m512 acc = _mm512_setzero_ps();
    size_t b0 = 0;
    for (; b0 + GROUP <= nb; b0 += GROUP)
        acc = scale_group(acc, group_sums(row, x, b0, GROUP, tlo, thi, t),
                          group_scales(rs ? rs + b0 : NULL, GROUP));
    if (b0 < nb)
        acc = scale_group(acc, group_sums(row, x, b0, nb - b0, tlo, thi, t),
                          group_scales(rs ? rs + b0 : NULL, nb - b0));
    return row_result_f32(fold8_ps(acc), x->scale);
}

void qk256_i8_avx512_vnni_f32(float *y, const uint8_t *packed, size_t row_stride,
                              const float *scales, const qk256_xq *x, size_t rows, size_t cols,
                              const qk256_i8_lut *t)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
    const __m512i tlo = table_i8(t, 0), thi = table_i8(t, 2);
    for (size_t r = 0; r < rows; r++)
        y[r] = gemv_row_f32(packed + r * row_stride, scales ? scales + r * nb : NULL, x, nb, tlo,
                            thi, t);
}

/* ---- staged phases of avx512-vnni-f32 ---------------------------------- */

/* quantize, memory, unpack and lut are avx512-vnni's (the same blocks, the
 * same loads); dot is the kernel's group sums and scaling over the stored
 * weights, a row at a time, into ws->acc; hsum the row's 8 float lanes. */

/* The weights' 16 lanes of block b of row r, from ws->wq. */
QK_INLINE __m512i staged_block(const qk256_ws *w, size_t r, size_t b, unsigned i, size_t n)
{
    if (i >= n)
        return _mm512_setzero_si512();
    const uint8_t *wq = w->wq + qk256_ws_elem(w, r, b + i);
    __m512i q[4];
    load_q(q, w->xq, b + i);
    __m512i s = dot64(block_start(&w->lut_i8, w->xsum[b + i]), _mm512_loadu_si512(wq), q[0]);
    s = dot64(s, _mm512_loadu_si512(wq + 64), q[1]);
    s = dot64(s, _mm512_loadu_si512(wq + 128), q[2]);
    return dot64(s, _mm512_loadu_si512(wq + 192), q[3]);
}

QK_INLINE __m512i staged_group(const qk256_ws *w, size_t r, size_t b0, size_t n)
{
#define B_(i) staged_block(w, r, b0, i, n)
    __m512i e0 = quad_sum(pair_sum(B_(0), B_(1)), pair_sum(B_(2), B_(3)));
    __m512i e1 = quad_sum(pair_sum(B_(4), B_(5)), pair_sum(B_(6), B_(7)));
    __m512i g0 = oct_sum(e0, e1);
    __m512i e2 = quad_sum(pair_sum(B_(8), B_(9)), pair_sum(B_(10), B_(11)));
    __m512i e3 = quad_sum(pair_sum(B_(12), B_(13)), pair_sum(B_(14), B_(15)));
#undef B_
    return oct_sum(g0, oct_sum(e2, e3));
}

QUANTIZE_X(quantize_x_f32, "avx512-vnni-f32")
STAGED_MEMORY(f32_memory, "avx512-vnni-f32")
STAGED_UNPACK(f32_unpack, "avx512-vnni-f32")
STAGED_LUT(f32_lut, "avx512-vnni-f32")

static void f32_quantize(void *ws)
{
    qk256_ws *w = ws;
    w->sx = quantize_x_f32(w->xq, w->xsum, w->x, w->cols);
}

static void f32_dot(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        const float *rs = w->scales + r * w->nb;
        __m512 acc = _mm512_setzero_ps();
        size_t b0 = 0;
        for (; b0 + GROUP <= w->nb; b0 += GROUP) {
            QK_MCA_BEGIN("gemv-i8/avx512-vnni-f32/dot@4096");
            acc = scale_group(acc, staged_group(w, r, b0, GROUP), group_scales(rs + b0, GROUP));
            QK_MCA_END("gemv-i8/avx512-vnni-f32/dot@4096");
        }
        if (b0 < w->nb)
            acc = scale_group(acc, staged_group(w, r, b0, w->nb - b0),
                              group_scales(rs + b0, w->nb - b0));
        _mm256_storeu_ps(w->acc + r * QK_GV_ACC_LANES, fold8_ps(acc));
    }
}

static void f32_hsum(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("gemv-i8/avx512-vnni-f32/hsum");
        w->out[r] = row_result_f32(_mm256_loadu_ps(w->acc + r * QK_GV_ACC_LANES), w->sx);
        QK_MCA_END("gemv-i8/avx512-vnni-f32/hsum");
    }
}

const qk256_i8_layout qk256_i8_avx512_vnni_f32_layout = {.chunk = CHUNK,
                                                         .quantize = qk256_quantize_x_avx512};

QK_I8_PHASES(avx512_vnni_f32, QK_PHASE(f32_quantize, NULL, "qk256_quantize_x_avx512", "quantize_x"),
             QK_PHASE(f32_memory, NULL, "load_block", "load_q"),
             QK_PHASE(f32_unpack, NULL, "unpack_hi"), QK_PHASE(f32_lut, NULL, "table_i8", "lut64"),
             QK_PHASE(f32_dot, NULL, "dot64", "block_start", "pair_sum", "quad_sum", "oct_sum",
                      "group_scales", "scale_group"),
             QK_PHASE(f32_hsum, NULL, "fold8_ps", "row_result_f32"));

/* ---- avx512-vnni-tiles: the decode layout ----------------------------- */

/*
 * The repacked weights (qk256_repack_i8, api.c): tiles of 32 rows, and in
 * a tile, per block b, two halves of 16 rows, each the half's 16 scales of
 * block b (64 bytes), then 16 vectors of 64 bytes, vector s holding in its
 * dword l the packed bytes 4s..4s+3 of block b of the half's row l: 1088
 * bytes per half, 2176 per block, in one stream.
 *
 * Lane l of every vector is then a row, so the 32 rows of a tile are
 * computed side by side, 16 per vector, and a block's sum lands in its
 * row's lane with no reduction at all: per vector the same shift and four
 * vpermb as on a QK256 block, and four vpdpbusd whose q (the dword 64k +
 * 4s of block b for code k, the same for all rows) is a broadcast that
 * both halves' vector s share. A half's 16 row sums (four chains, one per
 * k, added) are converted once per block and FMA'd with its 16 scales
 * (one load); x's scale once per tile. Per block and row: 1/16 of a
 * 64-byte load, 1 shift, 4 vpermb, 4 vpdpbusd, 1/8 of a q broadcast and
 * 1/16 of the scaling. 16-row tiles (a broadcast per vector) streamed 2
 * points slower on one thread; two 16-row tiles side by side, in two
 * streams, 15 points slower (performance.md). The float sums run over at most 64 blocks before they
 * are added into a second accumulator, so the error is at most about
 * (64 + nb/64) * 2^-24 of the row's absolute block sum: the contract of
 * qk256.h up to some 6600 blocks.
 *
 * qk256_repack_i8 makes the tiles once per matrix, and the harness's fused
 * call once per workspace (module.c); the plain signature below, what
 * qk256_gemv_i8_variant runs, packs 32 rows at a time into a buffer of
 * its own per call: the same results, at the cost of a copy.
 */
enum { INNER = 64 };

QK_INLINE __m512i bcast_q(const int8_t *q)
{
    int32_t v;
    memcpy(&v, q, sizeof v);
    return _mm512_set1_epi32(v);
}

/* memory: vector s of a block's codes (p: the block's first vector). */
QK_INLINE __m512i tile_load(const uint8_t *p, unsigned s)
{
    return _mm512_load_si512(p + 64 * s);
}

/* memory: a half's 16 scales of a block, one per row (p: the half). */
QK_INLINE __m512 tile_scales(const uint8_t *p)
{
    return _mm512_load_ps((const float *)(const void *)p);
}

/* dot: a block's chains start at -bias * sum(q) in every row's lane. */
QK_INLINE __m512i tile_start(const qk256_i8_lut *t, int32_t qsum)
{
    return _mm512_set1_epi32(-t->bias * qsum);
}

/* The 16 rows' exact sums of block b of one half (codes at p): a tile's
 * last rows when they fill one half only. */
QK_INLINE __m512i tile_half(const uint8_t *p, const int8_t *qb, __m512i start, __m512i tlo,
                            __m512i thi)
{
    __m512i a0 = start, a1 = _mm512_setzero_si512(), a2 = a1, a3 = a1;
#pragma GCC unroll 16
    for (unsigned s = 0; s < GROUP; s++) {
        __m512i v = tile_load(p, s);
        __asm__("" : "+v"(v)); /* as in tile_block below */
        __m512i u = unpack_hi(v);
        a0 = dot64(a0, lut64(tlo, v), bcast_q(qb + 4 * s));
        a1 = dot64(a1, lut64(thi, v), bcast_q(qb + 64 + 4 * s));
        a2 = dot64(a2, lut64(tlo, u), bcast_q(qb + 128 + 4 * s));
        a3 = dot64(a3, lut64(thi, u), bcast_q(qb + 192 + 4 * s));
    }
    return _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
}

/* The exact sums of block b of a tile's two halves (codes at p0 and p1),
 * 16 rows each: the halves' vector s share their four q broadcasts. */
QK_INLINE void tile_block(__m512i d[2], const uint8_t *p0, const uint8_t *p1, const int8_t *qb,
                          __m512i start, __m512i tlo, __m512i thi)
{
    __m512i a0 = start, a1 = _mm512_setzero_si512(), a2 = a1, a3 = a1;
    __m512i b0 = start, b1 = a1, b2 = a1, b3 = a1;
#pragma GCC unroll 16
    for (unsigned s = 0; s < GROUP; s++) {
        __m512i v = tile_load(p0, s), w = tile_load(p1, s);
        /* v and w stay in registers: without this GCC folds a second load
         * of the same 64 bytes into the shift (vpsrlw $4, mem), 16 more
         * loads per half, and the stream ran a point slower */
        __asm__("" : "+v"(v), "+v"(w));
        __m512i u = unpack_hi(v), x = unpack_hi(w);
        __m512i q0 = bcast_q(qb + 4 * s), q1 = bcast_q(qb + 64 + 4 * s);
        __m512i q2 = bcast_q(qb + 128 + 4 * s), q3 = bcast_q(qb + 192 + 4 * s);
        a0 = dot64(a0, lut64(tlo, v), q0);
        b0 = dot64(b0, lut64(tlo, w), q0);
        a1 = dot64(a1, lut64(thi, v), q1);
        b1 = dot64(b1, lut64(thi, w), q1);
        a2 = dot64(a2, lut64(tlo, u), q2);
        b2 = dot64(b2, lut64(tlo, x), q2);
        a3 = dot64(a3, lut64(thi, u), q3);
        b3 = dot64(b3, lut64(thi, x), q3);
    }
    d[0] = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
    d[1] = _mm512_add_epi32(_mm512_add_epi32(b0, b1), _mm512_add_epi32(b2, b3));
}

/* How far ahead of its loads the tile kernel prefetches: 3 blocks of a
 * tile, 6.5 KB (2 and 4 streamed slower). Each block starts by prefetching
 * the 34 lines of the block that far ahead, all at once (one prefetch
 * beside each of the block's loads streams slower, and so does the burst
 * placed after the block's arithmetic or inside it), with the
 * non-temporal hint: the weights are read once, and prefetchnta streamed
 * 2 points closer to a plain read than prefetcht0 on one thread. A
 * prefetch never faults: past the last tile it reads nothing the result
 * depends on. Besides, two lines of the block 16 ahead (35 KB), 1 KB
 * apart, each 4 KB page of the stream touched long before it is read
 * (presumably what helps: the hardware prefetchers start over at every
 * page): the 2-thread decode went from 96.4% to 99.4% of the weights
 * read, one thread from 95.1% to 97.1% (medians of rotated runs; 10 to
 * 24 blocks ahead, 1 to 4 lines per block, did about as well).
 * docs/performance.md (issue 16's sections) has the measurements. */
enum { PF_AHEAD = 3 * QK256_TILE_BLOCK_BYTES, PF_FAR = 16 * QK256_TILE_BLOCK_BYTES };

QK_INLINE void prefetch_block(const uint8_t *p)
{
#pragma GCC unroll 1
    for (unsigned k = 0; k < QK256_TILE_BLOCK_BYTES / 64; k++)
        _mm_prefetch((const char *)(p + PF_AHEAD + 64 * k), _MM_HINT_NTA);
    _mm_prefetch((const char *)(p + PF_FAR), _MM_HINT_NTA);
    _mm_prefetch((const char *)(p + PF_FAR + 1024), _MM_HINT_NTA);
}

/* hsum: a half's 16 row results (n of them stored), times x's scale. */
QK_INLINE void tile_store(float *y, __m512 acc, __m512 sx, size_t n)
{
    _mm512_mask_storeu_ps(y, (__mmask16)((1u << n) - 1), _mm512_mul_ps(acc, sx));
}

/* The first half of a tile alone, its 16 rows' sums (before x's scale). */
static __m512 tiles_half_run(const uint8_t *tile, size_t nb, const qk256_xq *x,
                             const qk256_i8_lut *t, __m512i tlo, __m512i thi)
{
    __m512 outer = _mm512_setzero_ps();
    for (size_t b0 = 0; b0 < nb; b0 += INNER) {
        size_t b1 = nb - b0 < INNER ? nb : b0 + INNER;
        __m512 acc = _mm512_setzero_ps();
        for (size_t b = b0; b < b1; b++) {
            const uint8_t *p = tile + b * QK256_TILE_BLOCK_BYTES;
            prefetch_block(p);
            __m512i d =
                tile_half(p + 64, x->q + b * QK256_BLOCK, tile_start(t, x->sum[b]), tlo, thi);
            acc = scale_group(acc, d, tile_scales(p));
        }
        outer = _mm512_add_ps(outer, acc);
    }
    return outer;
}

void qk256_i8_tiles_run(float *y, const uint8_t *tiles, size_t nb, const qk256_xq *x, size_t r0,
                        size_t rows, const qk256_i8_lut *t)
{
    const __m512i tlo = table_i8(t, 0), thi = table_i8(t, 2);
    const __m512 sx = _mm512_set1_ps(x->scale);
    /* x's integers and block sums, all at once: on a worker thread they
     * are lines the caller has just written, which the first tile would
     * otherwise fetch a block at a time, each a miss to the other core
     * (with the vCPUs on two host complexes the 2-thread decode then
     * stayed about a point further below the weights read) */
    for (size_t k = 0; k < nb * QK256_BLOCK; k += 64)
        _mm_prefetch((const char *)(x->q + k), _MM_HINT_T0);
    for (size_t k = 0; k < nb * sizeof *x->sum + 63; k += 64) /* (a prefetch never faults) */
        _mm_prefetch((const char *)x->sum + k, _MM_HINT_T0);
    /* the stream's start, which no block's prefetch asks for */
    const uint8_t *first = tiles + (r0 / QK256_TILE_ROWS) * nb * QK256_TILE_BLOCK_BYTES;
    for (size_t k = 0; k < PF_AHEAD / 64; k++)
        _mm_prefetch((const char *)(first + 64 * k), _MM_HINT_T0);
    for (size_t r = r0; r < r0 + rows; r += QK256_TILE_ROWS) {
        const uint8_t *tile = tiles + (r / QK256_TILE_ROWS) * nb * QK256_TILE_BLOCK_BYTES;
        size_t left = r0 + rows - r;
        if (left <= GROUP) { /* the tile's second half is padding */
            tile_store(y + (r - r0), tiles_half_run(tile, nb, x, t, tlo, thi), sx, left);
            break;
        }
        __m512 outer[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (size_t b0 = 0; b0 < nb; b0 += INNER) {
            size_t b1 = nb - b0 < INNER ? nb : b0 + INNER;
            __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
            for (size_t b = b0; b < b1; b++) {
                const uint8_t *p0 = tile + b * QK256_TILE_BLOCK_BYTES,
                              *p1 = p0 + QK256_HALF_BLOCK_BYTES;
                __m512i d[2];
                prefetch_block(p0);
                tile_block(d, p0 + 64, p1 + 64, x->q + b * QK256_BLOCK, tile_start(t, x->sum[b]),
                           tlo, thi);
                acc[0] = scale_group(acc[0], d[0], tile_scales(p0));
                acc[1] = scale_group(acc[1], d[1], tile_scales(p1));
            }
            outer[0] = _mm512_add_ps(outer[0], acc[0]);
            outer[1] = _mm512_add_ps(outer[1], acc[1]);
        }
        tile_store(y + (r - r0), outer[0], sx, GROUP);
        tile_store(y + (r - r0) + GROUP, outer[1], sx, left - GROUP < GROUP ? left - GROUP : GROUP);
    }
}

/* The plain signature: rows of QK256, 32 at a time packed into a buffer
 * and run. Without memory for it (2 nb KB), avx512-vnni-f32 runs the rows:
 * the same contract. */
void qk256_i8_avx512_vnni_tiles(float *y, const uint8_t *packed, size_t row_stride,
                                const float *scales, const qk256_xq *x, size_t rows, size_t cols,
                                const qk256_i8_lut *t)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
    uint8_t *buf = aligned_alloc(64, nb * QK256_TILE_BLOCK_BYTES);
    if (!buf) {
        qk256_i8_avx512_vnni_f32(y, packed, row_stride, scales, x, rows, cols, t);
        return;
    }
    for (size_t r = 0; r < rows; r += QK256_TILE_ROWS) {
        size_t n = rows - r < QK256_TILE_ROWS ? rows - r : QK256_TILE_ROWS;
        qk256_pack_tile(buf, packed + r * row_stride, row_stride, scales ? scales + r * nb : NULL,
                        nb, n);
        qk256_i8_tiles_run(y + r, buf, nb, x, 0, n, t);
    }
    free(buf);
}

/* ---- staged phases of avx512-vnni-tiles -------------------------------- */

/* Over ws->tiles (workload.c), a half (16 rows of a tile) and block at a
 * time, each region one block of a half (16 rows x 256 elements; memory:
 * of a tile, 32 rows; hsum: 16 rows). The intermediates in the halves'
 * order: codes and wq hold per half and block the 16 vectors' four pieces,
 * v v u u and their lookups (tlo, thi, tlo, thi, as STAGED_LUT
 * alternates); acc lane 0 of row r the row's float sum. */
QUANTIZE_X(quantize_x_tiles, "avx512-vnni-tiles")

/* block b of half h (rows 16h to 16h + 15) */
QK_INLINE const uint8_t *ws_tile_block(const qk256_ws *w, size_t h, size_t b)
{
    return w->tiles + (h / 2 * w->nb + b) * QK256_TILE_BLOCK_BYTES + h % 2 * QK256_HALF_BLOCK_BYTES;
}

/* the 4096 staged entries of block b of half h */
QK_INLINE size_t ws_tile_elem(const qk256_ws *w, size_t h, size_t b)
{
    return (h * w->nb + b) * GROUP * QK256_BLOCK;
}

QK_INLINE size_t ws_halves(const qk256_ws *w)
{
    return (w->rows + GROUP - 1) / GROUP;
}

static void tiles_quantize(void *ws)
{
    qk256_ws *w = ws;
    w->sx = quantize_x_tiles(w->xq, w->xsum, w->x, w->cols);
}

/* memory: the kernel's loads and prefetches, in its order. */
static void tiles_memory(void *ws)
{
    qk256_ws *w = ws;
    __m512i fold = _mm512_setzero_si512();
    for (size_t h = 0; h < ws_halves(w); h += 2)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("gemv-i8/avx512-vnni-tiles/memory@8192");
            const uint8_t *p0 = ws_tile_block(w, h, b), *p1 = p0 + QK256_HALF_BLOCK_BYTES;
            const int8_t *qb = w->xq + b * QK256_BLOCK;
            prefetch_block(p0);
            fold = _mm512_xor_si512(fold, _mm512_castps_si512(tile_scales(p0)));
            fold = _mm512_xor_si512(fold, _mm512_castps_si512(tile_scales(p1)));
#pragma GCC unroll 16
            for (unsigned s = 0; s < GROUP; s++) {
                fold = _mm512_xor_si512(fold, tile_load(p0 + 64, s));
                fold = _mm512_xor_si512(fold, tile_load(p1 + 64, s));
                for (unsigned k = 0; k < 4; k++)
                    fold = _mm512_xor_si512(fold, bcast_q(qb + 64 * k + 4 * s));
            }
            QK_MCA_END("gemv-i8/avx512-vnni-tiles/memory@8192");
        }
    w->sink = qk_fold_u64(
        _mm256_xor_si256(_mm512_castsi512_si256(fold), _mm512_extracti64x4_epi64(fold, 1)));
}

static void tiles_unpack(void *ws)
{
    qk256_ws *w = ws;
    for (size_t h = 0; h < ws_halves(w); h++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("gemv-i8/avx512-vnni-tiles/unpack@4096");
            const uint8_t *p = ws_tile_block(w, h, b) + 64;
            uint8_t *codes = w->codes + ws_tile_elem(w, h, b);
#pragma GCC unroll 16
            for (unsigned s = 0; s < GROUP; s++, codes += QK256_BLOCK) {
                __m512i v = tile_load(p, s), u = unpack_hi(v);
                _mm512_store_si512(codes, v);
                _mm512_store_si512(codes + 64, v);
                _mm512_store_si512(codes + 128, u);
                _mm512_store_si512(codes + 192, u);
            }
            QK_MCA_END("gemv-i8/avx512-vnni-tiles/unpack@4096");
        }
}

static void tiles_lut(void *ws)
{
    qk256_ws *w = ws;
    const __m512i tlo = table_i8(&w->lut_i8, 0), thi = table_i8(&w->lut_i8, 2);
    size_t n = ws_halves(w) * w->nb * GROUP * QK256_BLOCK;
    for (size_t i = 0; i < n; i += 128) {
        QK_MCA_BEGIN("gemv-i8/avx512-vnni-tiles/lut@128");
        _mm512_store_si512(w->wq + i, lut64(tlo, _mm512_load_si512(w->codes + i)));
        _mm512_store_si512(w->wq + i + 64, lut64(thi, _mm512_load_si512(w->codes + i + 64)));
        QK_MCA_END("gemv-i8/avx512-vnni-tiles/lut@128");
    }
}

/* dot: the kernel's chains, scaling and sums over the stored weights. */
static void tiles_dot(void *ws)
{
    qk256_ws *w = ws;
    for (size_t h = 0; h < ws_halves(w); h++) {
        __m512 outer = _mm512_setzero_ps();
        for (size_t b0 = 0; b0 < w->nb; b0 += INNER) {
            size_t b1 = w->nb - b0 < INNER ? w->nb : b0 + INNER;
            __m512 acc = _mm512_setzero_ps();
            for (size_t b = b0; b < b1; b++) {
                QK_MCA_BEGIN("gemv-i8/avx512-vnni-tiles/dot@4096");
                const uint8_t *wq = w->wq + ws_tile_elem(w, h, b);
                const int8_t *qb = w->xq + b * QK256_BLOCK;
                __m512i a0 = tile_start(&w->lut_i8, w->xsum[b]), a1 = _mm512_setzero_si512();
                __m512i a2 = a1, a3 = a1;
#pragma GCC unroll 16
                for (unsigned s = 0; s < GROUP; s++, wq += QK256_BLOCK) {
                    a0 = dot64(a0, _mm512_load_si512(wq), bcast_q(qb + 4 * s));
                    a1 = dot64(a1, _mm512_load_si512(wq + 64), bcast_q(qb + 64 + 4 * s));
                    a2 = dot64(a2, _mm512_load_si512(wq + 128), bcast_q(qb + 128 + 4 * s));
                    a3 = dot64(a3, _mm512_load_si512(wq + 192), bcast_q(qb + 192 + 4 * s));
                }
                __m512i d = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
                acc = scale_group(acc, d, tile_scales(ws_tile_block(w, h, b)));
                QK_MCA_END("gemv-i8/avx512-vnni-tiles/dot@4096");
            }
            outer = _mm512_add_ps(outer, acc);
        }
        float lanes[GROUP];
        _mm512_storeu_ps(lanes, outer);
        for (size_t l = 0; l < GROUP && h * GROUP + l < w->rows; l++)
            w->acc[(h * GROUP + l) * QK_GV_ACC_LANES] = lanes[l];
    }
}

/* hsum: a half's 16 sums times x's scale, as the kernel stores them. */
static void tiles_hsum(void *ws)
{
    qk256_ws *w = ws;
    const __m512 sx = _mm512_set1_ps(w->sx);
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(QK_GV_ACC_LANES));
    for (size_t r = 0; r < w->rows; r += GROUP) {
        QK_MCA_BEGIN("gemv-i8/avx512-vnni-tiles/hsum");
        size_t n = w->rows - r < GROUP ? w->rows - r : GROUP;
        __mmask16 k = (__mmask16)((1u << n) - 1);
        __m512 a =
            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, w->acc + r * QK_GV_ACC_LANES, 4);
        tile_store(w->out + r, a, sx, n);
        QK_MCA_END("gemv-i8/avx512-vnni-tiles/hsum");
    }
}

/* The layout: avx512-vnni's x, and the tiles. */
const qk256_i8_layout qk256_i8_avx512_vnni_tiles_layout = {
    .chunk = CHUNK, .quantize = qk256_quantize_x_avx512, .repacks = 1};

QK_I8_PHASES(
    avx512_vnni_tiles, QK_PHASE(tiles_quantize, NULL, "qk256_quantize_x_avx512", "quantize_x"),
    QK_PHASE(tiles_memory, NULL, "tile_load", "tile_scales", "bcast_q", "prefetch_block"),
    QK_PHASE(tiles_unpack, NULL, "unpack_hi"), QK_PHASE(tiles_lut, NULL, "table_i8", "lut64"),
    QK_PHASE(tiles_dot, NULL, "dot64", "tile_start", "tile_block", "tile_half", "scale_group"),
    QK_PHASE(tiles_hsum, NULL, "tile_store"));
