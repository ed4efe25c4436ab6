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
 * block and row, against 1 + 7 + 4 + 4 + 6 in the first version (shifts and
 * masks of four vectors, vpshufb, two chains joined per block); the block
 * scales come as doubles from a small per-row buffer (scales_pd). The
 * fused kernel takes one row at a time (gemv_row says why); the staged dot
 * phase takes tiles of TILE_ROWS rows that share the four loads of q and
 * the bias start of a block, leftover rows one at a time. Each row sums
 * its blocks in the same order either way, so every row's result is the
 * same in any grouping, staged or fused, and for any thread count.
 */
#include "phases_avx512.h"
#include "phases_i8.h"

enum { CHUNK = 256, TILE_ROWS = 8 };

/* ---- phase blocks ------------------------------------------------------ */

/* unpack: the two index vectors of a block (codes k=0,1 in v, k=2,3 in u). */
QK_INLINE __m512i unpack_hi(__m512i v)
{
    return _mm512_srli_epi16(v, 4);
}

/* The biased table as vpermb sees it: 64 entries, entry i = w[(i >> sh) & 3]
 * (sh = 0 for tab_lo, 2 for tab_hi), made in registers: tab_lo is the four
 * bytes w[0..3] in every dword, tab_hi each w[k] four times, in dword k of
 * every 16 bytes. (The first version filled a 64-byte array byte by byte
 * and loaded it, in every tile: a store-forwarding stall that took 13% of
 * the kernel's time.) */
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

static float quantize_x(int8_t *q, int32_t *sum, const float *x, size_t cols)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
    __m512 m = _mm512_setzero_ps();
    for (size_t j = 0; j < cols; j += 16)
        m = _mm512_max_ps(m, _mm512_abs_ps(load_x16(x, cols, j)));
    float amax = _mm512_reduce_max_ps(m);
    const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    const __m512i ctrl = transpose_ctrl();
    for (size_t b = 0; b < nb; b++) {
        __m512i bsum = _mm512_setzero_si512();
        int8_t *qb = q + b * QK256_BLOCK;
        for (unsigned c = 0; c < 4; c++) {
            size_t j0 = b * QK256_BLOCK + 64 * c;
            __m128i p[4];
            for (unsigned g = 0; g < 4; g++) {
                __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(load_x16(x, cols, j0 + 16 * g), inv));
                bsum = _mm512_add_epi32(bsum, v);
                p[g] = _mm512_cvtepi32_epi8(v);
            }
            __m512i e = _mm512_inserti32x4(_mm512_castsi128_si512(p[0]), p[1], 1);
            e = _mm512_inserti32x4(e, p[2], 2);
            e = _mm512_inserti32x4(e, p[3], 3);
            e = _mm512_permutexvar_epi8(ctrl, e);
            int8_t *dst = qb + 16 * c; /* code k's 16 bytes go to dst + 64k */
            _mm_storeu_si128((__m128i *)dst, _mm512_castsi512_si128(e));
            _mm_storeu_si128((__m128i *)(dst + 64), _mm512_extracti32x4_epi32(e, 1));
            _mm_storeu_si128((__m128i *)(dst + 128), _mm512_extracti32x4_epi32(e, 2));
            _mm_storeu_si128((__m128i *)(dst + 192), _mm512_extracti32x4_epi32(e, 3));
        }
        sum[b] = _mm512_reduce_add_epi32(bsum);
    }
    return amax / 127.0f;
}

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
 * memory, not its arithmetic. The first versions ran tiles of 8 rows
 * (block b of each row, then block b + 1: eight short strided streams the
 * hardware prefetchers do not follow) and fetched the next tile with
 * software prefetches; those go through the core's few L1 miss buffers,
 * and one thread streamed no faster than ~15 GB/s with them, arithmetic
 * or not, against 24-27 GB/s for plain loads in address order, which the
 * L2 stream prefetcher runs ahead of. Rows in order are one such stream
 * per thread. (A standalone copy of the kernel, loads only, 553 MB of
 * weights, medians of 7-11 interleaved runs: 8-row tiles with the tile
 * prefetch 15.4-15.9 GB/s on one thread, one row at a time 22-27 GB/s;
 * 4 rows a quarter of the rows apart, four streams, as fast on one big
 * matrix but slower in the decode's sequence of calls; 8 such streams 14.5
 * GB/s; adding software prefetches 1-8 KB ahead of the row made it
 * slower.) Sharing the q loads of a block between 8 rows saved less than
 * that: from L1 the two orders are within ~10% of each other, and the
 * decode's int8 layers ran 12-23% faster this way on two threads (medians
 * of 9-11 interleaved runs of the same driver).
 * Nothing past the kernel's rows is addressed.
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
            const int8_t *xq = x->q + b * QK256_BLOCK;
            __m512i q[4];
#pragma GCC unroll 4
            for (unsigned k = 0; k < 4; k++)
                q[k] = _mm512_loadu_si512(xq + 64 * k);
            __m512i s = block_dot(block_start(t, x->sum[b]),
                                  _mm512_loadu_si512(row + b * QK256_BLOCK_BYTES), tlo, thi, q);
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

static void vnni_quantize(qk256_ws *w)
{
    w->sx = quantize_x(w->xq, w->xsum, w->x, w->cols);
}

static void vnni_memory(qk256_ws *w)
{
    __m512i fold = _mm512_setzero_si512();
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("avx512-vnni/memory");
            qk_prefetch_block(qk256_ws_block(w, r, 0), b, w->nb);
            fold = _mm512_xor_si512(fold, _mm512_loadu_si512(qk256_ws_block(w, r, b)));
            fold = _mm512_xor_si512(fold,
                                    _mm512_castps_si512(_mm512_set1_ps(w->scales[r * w->nb + b])));
            for (unsigned i = 0; i < QK256_BLOCK; i += 64)
                fold = _mm512_xor_si512(fold, _mm512_loadu_si512(w->xq + b * QK256_BLOCK + i));
            QK_MCA_END("avx512-vnni/memory");
        }
    w->sink = qk_fold_u64(
        _mm256_xor_si256(_mm512_castsi512_si256(fold), _mm512_extracti64x4_epi64(fold, 1)));
}

/* unpack: per block the four index vectors the lookups read, v v u u
 * (piece k is looked up in tab_lo for even k, tab_hi for odd k). */
static void vnni_unpack(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("avx512-vnni/unpack");
            uint8_t *codes = w->codes + qk256_ws_elem(w, r, b);
            __m512i v = _mm512_loadu_si512(qk256_ws_block(w, r, b)), u = unpack_hi(v);
            _mm512_storeu_si512(codes, v);
            _mm512_storeu_si512(codes + 64, v);
            _mm512_storeu_si512(codes + 128, u);
            _mm512_storeu_si512(codes + 192, u);
            QK_MCA_END("avx512-vnni/unpack");
        }
}

static void vnni_lut(qk256_ws *w)
{
    const __m512i tlo = table_i8(&w->lut_i8, 0), thi = table_i8(&w->lut_i8, 2);
    size_t n = w->rows * w->nb * QK256_BLOCK;
    for (size_t i = 0; i < n; i += 128) {
        QK_MCA_BEGIN("avx512-vnni/lut");
        _mm512_storeu_si512(w->wq + i, lut64(tlo, _mm512_loadu_si512(w->codes + i)));
        _mm512_storeu_si512(w->wq + i + 64, lut64(thi, _mm512_loadu_si512(w->codes + i + 64)));
        QK_MCA_END("avx512-vnni/lut");
    }
}

QK_INLINE void dot_rows(qk256_ws *w, size_t r0, unsigned R)
{
    __m512d acc[TILE_ROWS];
#pragma GCC unroll 16
    for (unsigned r = 0; r < R; r++)
        acc[r] = _mm512_setzero_pd();
    for (size_t b = 0; b < w->nb; b++) {
        QK_MCA_BEGIN("avx512-vnni/dot");
        const int8_t *xq = w->xq + b * QK256_BLOCK;
        __m512i q[4];
#pragma GCC unroll 4
        for (unsigned k = 0; k < 4; k++)
            q[k] = _mm512_loadu_si512(xq + 64 * k);
        const __m512i start = block_start(&w->lut_i8, w->xsum[b]);
#pragma GCC unroll 16
        for (unsigned r = 0; r < R; r++) {
            const uint8_t *wq = w->wq + qk256_ws_elem(w, r0 + r, b);
            __m512i s = dot64(start, _mm512_loadu_si512(wq), q[0]);
            s = dot64(s, _mm512_loadu_si512(wq + 64), q[1]);
            s = dot64(s, _mm512_loadu_si512(wq + 128), q[2]);
            s = dot64(s, _mm512_loadu_si512(wq + 192), q[3]);
            acc[r] = scale_block(acc[r], s, w->scales[(r0 + r) * w->nb + b]);
        }
        QK_MCA_END("avx512-vnni/dot");
    }
#pragma GCC unroll 16
    for (unsigned r = 0; r < R; r++)
        qk_i8_store_acc(w->acc + (r0 + r) * QK_GV_ACC_LANES, fold4(acc[r]));
}

static void vnni_dot(qk256_ws *w)
{
    size_t r0 = 0;
    for (; r0 + TILE_ROWS <= w->rows; r0 += TILE_ROWS)
        dot_rows(w, r0, TILE_ROWS);
    for (; r0 < w->rows; r0++)
        dot_rows(w, r0, 1);
}

static void vnni_hsum(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("avx512-vnni/hsum");
        w->out[r] = qk_i8_row_result(qk_i8_load_acc(w->acc + r * QK_GV_ACC_LANES), w->sx);
        QK_MCA_END("avx512-vnni/hsum");
    }
}

void qk256_i8_avx512_vnni_phase(void *ws, unsigned phase)
{
    static void (*const run[QK_I8_NPHASES])(qk256_ws *) = {
        [QK_I8_QUANTIZE] = vnni_quantize, [QK_I8_MEMORY] = vnni_memory,
        [QK_I8_UNPACK] = vnni_unpack,     [QK_I8_LUT] = vnni_lut,
        [QK_I8_DOT] = vnni_dot,           [QK_I8_HSUM] = vnni_hsum,
    };
    if (phase < QK_I8_NPHASES)
        run[phase](ws);
}
