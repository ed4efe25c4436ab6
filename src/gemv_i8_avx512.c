/*
 * gemv_i8_avx512.c — the AVX-512 VNNI gemv-i8 variant: avx512-vnni.
 *
 * The avx2-maddubs scheme one register wider and one instruction shorter:
 * x is quantized in chunks of 256 (a whole block), so one 64-byte load of a
 * block unpacks with shifts and masks into a_k (code 4i+k in byte i), the
 * biased table is looked up with vpshufb on zmm, and vpdpbusd multiplies 64
 * unsigned weights by 64 signed q and adds the groups of four straight into
 * 32-bit lanes (no s16 step, no vpmaddwd). Per block and row: one load,
 * 7 unpack ops, 4 lookups, 4 vpdpbusd, then convert and FMA by the block
 * scale. Two integer chains per row halve the vpdpbusd latency chain; four
 * rows share the loads of q; leftover rows run the same steps one at a
 * time. The block sum starts from -bias * sum(q) as in avx2-maddubs, and
 * goes into 8 double lanes per row (phases_i8.h says why double).
 */
#include "phases_avx512.h"
#include "phases_i8.h"

enum { CHUNK = 256, TILE_ROWS = 4 };

/* ---- phase blocks ------------------------------------------------------ */

QK_INLINE void unpack_block(__m512i a[4], __m512i v)
{
    const __m512i m3 = _mm512_set1_epi8(3);
    a[0] = _mm512_and_si512(v, m3);
    a[1] = _mm512_and_si512(_mm512_srli_epi16(v, 2), m3);
    a[2] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m3);
    a[3] = _mm512_and_si512(_mm512_srli_epi16(v, 6), m3);
}

QK_INLINE __m512i table_i8(const qk256_i8_lut *t)
{
    int32_t w;
    __builtin_memcpy(&w, t->w, sizeof w);
    return _mm512_set1_epi32(w);
}

QK_INLINE __m512i lut64(__m512i tab, __m512i codes)
{
    return _mm512_shuffle_epi8(tab, codes);
}

QK_INLINE __m512i dot64(__m512i acc, __m512i w, __m512i q)
{
    return _mm512_dpbusd_epi32(acc, w, q);
}

QK_INLINE __m512i block_start(const qk256_i8_lut *t, int32_t qsum)
{
    return _mm512_zextsi128_si512(_mm_cvtsi32_si128(-t->bias * qsum));
}

/* The block's exact sum (two chains, 16 lanes folded to 8), times its
 * scale, into the row's 8 double lanes. */
QK_INLINE __m512d scale_block(__m512d acc, __m512i s0, __m512i s1, float s)
{
    __m512i t = _mm512_add_epi32(s0, s1);
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
    return _mm512_fmadd_pd(_mm512_cvtepi32_pd(h), _mm512_set1_pd(s), acc);
}

/* 8 double lanes -> the 4 that ws->acc holds and qk_i8_row_result takes. */
QK_INLINE __m256d fold4(__m512d a)
{
    return _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd(a, 1));
}

/* ---- the fused kernel -------------------------------------------------- */

QK_INLINE void gemv_tile(float *y, const uint8_t *packed, size_t row_stride,
                         const float *scales, const qk256_xq *x, size_t r0, size_t nb,
                         const qk256_i8_lut *t, unsigned R)
{
    const __m512i tab = table_i8(t);
    const uint8_t *row[TILE_ROWS];
    const float *rs[TILE_ROWS];
    __m512d acc[TILE_ROWS];
    for (unsigned r = 0; r < R; r++) {
        row[r] = packed + (r0 + r) * row_stride;
        rs[r] = scales ? scales + (r0 + r) * nb : NULL;
        acc[r] = _mm512_setzero_pd();
    }
    for (size_t b = 0; b < nb; b++) {
        const int8_t *xq = x->q + b * QK256_BLOCK;
        __m512i q[4];
        for (unsigned k = 0; k < 4; k++)
            q[k] = _mm512_loadu_si512(xq + 64 * k);
#pragma GCC unroll 4
        for (unsigned r = 0; r < R; r++) {
            __m512i a[4];
            qk_prefetch_block(row[r], b, nb);
            unpack_block(a, _mm512_loadu_si512(row[r] + b * QK256_BLOCK_BYTES));
            __m512i s0 = dot64(block_start(t, x->sum[b]), lut64(tab, a[0]), q[0]);
            __m512i s1 = dot64(_mm512_setzero_si512(), lut64(tab, a[1]), q[1]);
            s0 = dot64(s0, lut64(tab, a[2]), q[2]);
            s1 = dot64(s1, lut64(tab, a[3]), q[3]);
            acc[r] = scale_block(acc[r], s0, s1, qk_scale_of(rs[r], b));
        }
    }
    for (unsigned r = 0; r < R; r++)
        y[r0 + r] = qk_i8_row_result(fold4(acc[r]), x->scale);
}

void qk256_i8_avx512_vnni(float *y, const uint8_t *packed, size_t row_stride,
                          const float *scales, const qk256_xq *x, size_t rows, size_t cols,
                          const qk256_i8_lut *t)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK, r0 = 0;
    for (; r0 + TILE_ROWS <= rows; r0 += TILE_ROWS)
        gemv_tile(y, packed, row_stride, scales, x, r0, nb, t, TILE_ROWS);
    for (; r0 < rows; r0++)
        gemv_tile(y, packed, row_stride, scales, x, r0, nb, t, 1);
}

/* ---- staged phases ----------------------------------------------------- */

static inline size_t elem(const qk256_ws *w, size_t r, size_t b)
{
    return (r * w->nb + b) * QK256_BLOCK;
}

static inline const uint8_t *packed_block(const qk256_ws *w, size_t r, size_t b)
{
    return w->packed + r * w->row_stride + b * QK256_BLOCK_BYTES;
}

static void vnni_quantize(qk256_ws *w)
{
    w->sx = qk256_quantize_x(w->xq, w->xsum, w->x, w->cols, CHUNK);
}

static void vnni_memory(qk256_ws *w)
{
    __m512i fold = _mm512_setzero_si512();
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("avx512-vnni/memory");
            qk_prefetch_block(packed_block(w, r, 0), b, w->nb);
            fold = _mm512_xor_si512(fold, _mm512_loadu_si512(packed_block(w, r, b)));
            fold = _mm512_xor_si512(fold, _mm512_castps_si512(
                                              _mm512_set1_ps(w->scales[r * w->nb + b])));
            for (unsigned i = 0; i < QK256_BLOCK; i += 64)
                fold = _mm512_xor_si512(fold, _mm512_loadu_si512(w->xq + b * QK256_BLOCK + i));
            QK_MCA_END("avx512-vnni/memory");
        }
    w->sink = qk_fold_u64(_mm256_xor_si256(_mm512_castsi512_si256(fold),
                                           _mm512_extracti64x4_epi64(fold, 1)));
}

static void vnni_unpack(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("avx512-vnni/unpack");
            __m512i a[4];
            unpack_block(a, _mm512_loadu_si512(packed_block(w, r, b)));
            for (unsigned k = 0; k < 4; k++)
                _mm512_storeu_si512(w->codes + elem(w, r, b) + 64 * k, a[k]);
            QK_MCA_END("avx512-vnni/unpack");
        }
}

static void vnni_lut(qk256_ws *w)
{
    const __m512i tab = table_i8(&w->lut_i8);
    size_t n = w->rows * w->nb * QK256_BLOCK;
    for (size_t i = 0; i < n; i += 64) {
        QK_MCA_BEGIN("avx512-vnni/lut");
        _mm512_storeu_si512(w->wq + i, lut64(tab, _mm512_loadu_si512(w->codes + i)));
        QK_MCA_END("avx512-vnni/lut");
    }
}

QK_INLINE void dot_rows(qk256_ws *w, size_t r0, unsigned R)
{
    __m512d acc[TILE_ROWS];
    for (unsigned r = 0; r < R; r++)
        acc[r] = _mm512_setzero_pd();
    for (size_t b = 0; b < w->nb; b++) {
        QK_MCA_BEGIN("avx512-vnni/dot");
        const int8_t *xq = w->xq + b * QK256_BLOCK;
        __m512i q[4];
        for (unsigned k = 0; k < 4; k++)
            q[k] = _mm512_loadu_si512(xq + 64 * k);
#pragma GCC unroll 4
        for (unsigned r = 0; r < R; r++) {
            const uint8_t *wq = w->wq + elem(w, r0 + r, b);
            __m512i s0 = dot64(block_start(&w->lut_i8, w->xsum[b]), _mm512_loadu_si512(wq), q[0]);
            __m512i s1 = dot64(_mm512_setzero_si512(), _mm512_loadu_si512(wq + 64), q[1]);
            s0 = dot64(s0, _mm512_loadu_si512(wq + 128), q[2]);
            s1 = dot64(s1, _mm512_loadu_si512(wq + 192), q[3]);
            acc[r] = scale_block(acc[r], s0, s1, w->scales[(r0 + r) * w->nb + b]);
        }
        QK_MCA_END("avx512-vnni/dot");
    }
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
        [QK_I8_UNPACK] = vnni_unpack, [QK_I8_LUT] = vnni_lut,
        [QK_I8_DOT] = vnni_dot, [QK_I8_HSUM] = vnni_hsum,
    };
    if (phase < QK_I8_NPHASES)
        run[phase](ws);
}
