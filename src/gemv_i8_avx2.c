/*
 * gemv_i8_avx2.c — the AVX2 gemv-i8 variant: avx2-maddubs.
 *
 * x arrives quantized (qk256_quantize_x_avx2 below, the same integers and
 * layout as qk256_quantize_x with chunk 128): within each 128
 * columns, the byte that the shift-and-mask unpack of 32 packed bytes puts
 * at position 32k + i (code 4i + k) meets the q of that very column, so the
 * unpack needs no interleaving at all: a_k = (v >> 2k) & 3, four vectors
 * of 32 codes per 32 packed bytes. Then per 32 codes:
 *
 *   lut   vpshufb on the biased table (weights lut + bias, unsigned bytes)
 *   dot   vpmaddubsw (u8 x s8 -> pairs summed in s16; at most
 *         2 * 128 * 127 = 32512, so never saturated), vpmaddwd by 1 -> s32
 *
 * Each row's block sum starts from -bias * sum(q of the block) in lane 0,
 * which makes it the exact integer sum; its 8 lanes are folded to 4,
 * converted to double and multiplied by the block scale into the row's
 * double accumulator (phases_i8.h says why double). Four rows share the loads of q; leftover rows
 * run the same steps one at a time, so every row's result is the same in
 * any grouping, staged or fused.
 */
#include <math.h>

#include "phases_i8.h"

enum { CHUNK = 128, TILE_ROWS = 4 };

/* ---- phase blocks ------------------------------------------------------ */

/* unpack: 32 packed bytes -> a[k], code 4i+k of the chunk in byte i. */
QK_INLINE void unpack_chunk(__m256i a[4], __m256i v)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    a[0] = _mm256_and_si256(v, m3);
    a[1] = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
    a[2] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
    a[3] = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
}

/* The biased table in bytes 0..3 of both 128-bit lanes (vpshufb indexes
 * within a lane; codes are 0..3). */
QK_INLINE __m256i table_i8(const qk256_i8_lut *t)
{
    int32_t w;
    __builtin_memcpy(&w, t->w, sizeof w);
    return _mm256_set1_epi32(w);
}

QK_INLINE __m256i lut32(__m256i tab, __m256i codes)
{
    return _mm256_shuffle_epi8(tab, codes);
}

QK_INLINE __m256i dot32(__m256i acc, __m256i w, __m256i q)
{
    __m256i pairs = _mm256_maddubs_epi16(w, q);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

/* memory: the four 32-byte pieces of a half block's q (128 columns). */
QK_INLINE void load_q(__m256i q[4], const int8_t *xq)
{
    for (unsigned k = 0; k < 4; k++)
        q[k] = _mm256_loadu_si256((const __m256i *)(xq + 32 * k));
}

/* The start of a block's integer sum: the bias correction in lane 0. */
QK_INLINE __m256i block_start(const qk256_i8_lut *t, int32_t qsum)
{
    return _mm256_setr_epi32(-t->bias * qsum, 0, 0, 0, 0, 0, 0, 0);
}

/* The block's exact sum, times its scale, into the row's double lanes. */
QK_INLINE __m256d scale_block(__m256d acc, __m256i isum, float s)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(isum), _mm256_extracti128_si256(isum, 1));
    return _mm256_fmadd_pd(_mm256_cvtepi32_pd(h), _mm256_set1_pd(s), acc);
}

/* ---- quantize ---------------------------------------------------------- */

/*
 * qk256_quantize_x for chunk 128, vectorized: the same integers (x * inv
 * rounded once in float, then vcvtps2dq, which rounds half to even like the
 * magic-number trick of quantize.c), in the same layout. Per whole chunk of
 * 128 columns: 32 q as bytes in element order per 32 floats (two packs and
 * a dword permute), then, per 32 of them, a byte shuffle groups code k's
 * four bytes of each lane into dword k, a dword permute makes qword k hold
 * code k of both lanes, and a qword transpose over the four vectors gives
 * code k's 32 bytes (column 4i+k at byte 32k+i). A last partial block goes
 * through the portable placement (qk256_quantize_blocks) with the same inv.
 */
QK_INLINE __m256i q32(const float *x, __m256 inv, __m256i *sum)
{
    __m256i v[4];
    for (unsigned g = 0; g < 4; g++) {
        v[g] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * g), inv));
        *sum = _mm256_add_epi32(*sum, v[g]);
    }
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void quantize_chunk(int8_t *dst, const float *x, __m256 inv, __m256i *sum)
{
    const __m256i by_code = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                             0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m256i qwords = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i e[4];
    QK_MCA_BEGIN("gemv-i8/avx2-maddubs/quantize@8");
    for (unsigned j = 0; j < 4; j++)
        e[j] = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q32(x + 32 * j, inv, sum), by_code),
                                           qwords);
    __m256i lo01 = _mm256_unpacklo_epi64(e[0], e[1]), hi01 = _mm256_unpackhi_epi64(e[0], e[1]);
    __m256i lo23 = _mm256_unpacklo_epi64(e[2], e[3]), hi23 = _mm256_unpackhi_epi64(e[2], e[3]);
    _mm256_storeu_si256((__m256i *)dst, _mm256_permute2x128_si256(lo01, lo23, 0x20));
    _mm256_storeu_si256((__m256i *)(dst + 32), _mm256_permute2x128_si256(hi01, hi23, 0x20));
    _mm256_storeu_si256((__m256i *)(dst + 64), _mm256_permute2x128_si256(lo01, lo23, 0x31));
    _mm256_storeu_si256((__m256i *)(dst + 96), _mm256_permute2x128_si256(hi01, hi23, 0x31));
    QK_MCA_END("gemv-i8/avx2-maddubs/quantize@8");
}

static int32_t hsum_epi32(__m256i v)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

float qk256_quantize_x_avx2(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk)
{
    if (chunk != CHUNK)
        return qk256_quantize_x(q, sum, x, cols, chunk);
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK, j = 0;
    const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (; j + 8 <= cols; j += 8)
        m = _mm256_max_ps(m, _mm256_and_ps(abs, _mm256_loadu_ps(x + j)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float amax = _mm_cvtss_f32(h);
    for (; j < cols; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float finv = amax > 0.0f ? 127.0f / amax : 0.0f;
    const __m256 inv = _mm256_set1_ps(finv);
    size_t full = cols / QK256_BLOCK; /* blocks of two whole chunks */
    for (size_t b = 0; b < full; b++) {
        __m256i s = _mm256_setzero_si256();
        quantize_chunk(q + b * QK256_BLOCK, x + b * QK256_BLOCK, inv, &s);
        quantize_chunk(q + b * QK256_BLOCK + CHUNK, x + b * QK256_BLOCK + CHUNK, inv, &s);
        sum[b] = hsum_epi32(s);
    }
    if (full < nb) /* the last, partial block, and the zeros past cols */
        qk256_quantize_blocks(q, sum, x, cols, CHUNK, finv, full);
    return amax / 127.0f;
}

/* ---- the fused kernel -------------------------------------------------- */

QK_INLINE void gemv_tile(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                         const qk256_xq *x, size_t r0, size_t nb, const qk256_i8_lut *t, unsigned R)
{
    const __m256i tab = table_i8(t);
    const uint8_t *row[TILE_ROWS];
    const float *rs[TILE_ROWS];
    __m256d acc[TILE_ROWS];
    for (unsigned r = 0; r < R; r++) {
        row[r] = packed + (r0 + r) * row_stride;
        rs[r] = scales ? scales + (r0 + r) * nb : NULL;
        acc[r] = _mm256_setzero_pd();
    }
    for (size_t b = 0; b < nb; b++) {
        __m256i isum[TILE_ROWS];
        for (unsigned r = 0; r < R; r++) {
            qk_prefetch_block(row[r], b, nb);
            isum[r] = block_start(t, x->sum[b]);
        }
#pragma GCC unroll 2
        for (unsigned h = 0; h < 2; h++) {
            __m256i q[4], a[4];
            load_q(q, x->q + b * QK256_BLOCK + CHUNK * h);
#pragma GCC unroll 4
            for (unsigned r = 0; r < R; r++) {
                unpack_chunk(a, qk_load32(row[r] + b * QK256_BLOCK_BYTES + 32 * h));
#pragma GCC unroll 4
                for (unsigned k = 0; k < 4; k++)
                    isum[r] = dot32(isum[r], lut32(tab, a[k]), q[k]);
            }
        }
        for (unsigned r = 0; r < R; r++)
            acc[r] = scale_block(acc[r], isum[r], qk_scale_of(rs[r], b));
    }
    for (unsigned r = 0; r < R; r++)
        y[r0 + r] = qk_i8_row_result(acc[r], x->scale);
}

void qk256_i8_avx2_maddubs(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                           const qk256_xq *x, size_t rows, size_t cols, const qk256_i8_lut *t)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK, r0 = 0;
    for (; r0 + TILE_ROWS <= rows; r0 += TILE_ROWS)
        gemv_tile(y, packed, row_stride, scales, x, r0, nb, t, TILE_ROWS);
    for (; r0 < rows; r0++)
        gemv_tile(y, packed, row_stride, scales, x, r0, nb, t, 1);
}

/* ---- staged phases ----------------------------------------------------- */

/* The llvm-mca regions ("gemv-i8/avx2-maddubs/<phase>@<elements>",
 * harness/mca.h) are straight-line: one block of a tile of TILE_ROWS rows
 * (memory, dot), half a block of one row (unpack), 32 weights (lut), one
 * row (hsum); quantize's is the 8-float loop of q32. Where a step runs for
 * a whole tile and again for a leftover row, only the tile's copy is
 * marked. */

static void maddubs_quantize(void *ws)
{
    qk256_ws *w = ws;
    w->sx = qk256_quantize_x_avx2(w->xq, w->xsum, w->x, w->cols, CHUNK);
}

/* memory: the kernel's loads in its order, tiles of TILE_ROWS rows (the
 * rows left over one at a time), block by block: each row's prefetch, two
 * 32-byte loads and scale, and the block's q once for the tile. */
QK_INLINE __m256i mem_rows(const qk256_ws *w, size_t r0, unsigned R)
{
    __m256i fold = _mm256_setzero_si256();
    for (size_t b = 0; b < w->nb; b++) {
        if (R == TILE_ROWS)
            QK_MCA_BEGIN("gemv-i8/avx2-maddubs/memory@1024");
#pragma GCC unroll 4
        for (unsigned r = 0; r < R; r++) {
            const uint8_t *row = qk256_ws_block(w, r0 + r, 0);
            qk_prefetch_block(row, b, w->nb);
            fold = _mm256_xor_si256(fold,
                                    _mm256_xor_si256(qk_load32(row + b * QK256_BLOCK_BYTES),
                                                     qk_load32(row + b * QK256_BLOCK_BYTES + 32)));
            fold = _mm256_xor_si256(
                fold, _mm256_castps_si256(_mm256_set1_ps(w->scales[(r0 + r) * w->nb + b])));
        }
#pragma GCC unroll 8
        for (unsigned i = 0; i < QK256_BLOCK; i += 32)
            fold = _mm256_xor_si256(fold, qk_load32((const uint8_t *)w->xq + b * QK256_BLOCK + i));
        if (R == TILE_ROWS)
            QK_MCA_END("gemv-i8/avx2-maddubs/memory@1024");
    }
    return fold;
}

static void maddubs_memory(void *ws)
{
    qk256_ws *w = ws;
    __m256i fold = _mm256_setzero_si256();
    size_t r0 = 0;
    for (; r0 + TILE_ROWS <= w->rows; r0 += TILE_ROWS)
        fold = _mm256_xor_si256(fold, mem_rows(w, r0, TILE_ROWS));
    for (; r0 < w->rows; r0++)
        fold = _mm256_xor_si256(fold, mem_rows(w, r0, 1));
    w->sink = qk_fold_u64(fold);
}

static void maddubs_unpack(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++)
            for (unsigned h = 0; h < 2; h++) {
                QK_MCA_BEGIN("gemv-i8/avx2-maddubs/unpack@128");
                __m256i a[4];
                uint8_t *codes = w->codes + qk256_ws_elem(w, r, b) + CHUNK * h;
                unpack_chunk(a, qk_load32(qk256_ws_block(w, r, b) + 32 * h));
#pragma GCC unroll 4
                for (unsigned k = 0; k < 4; k++)
                    _mm256_storeu_si256((__m256i *)(codes + 32 * k), a[k]);
                QK_MCA_END("gemv-i8/avx2-maddubs/unpack@128");
            }
}

static void maddubs_lut(void *ws)
{
    qk256_ws *w = ws;
    const __m256i tab = table_i8(&w->lut_i8);
    size_t n = w->rows * w->nb * QK256_BLOCK;
    for (size_t i = 0; i < n; i += 32) {
        QK_MCA_BEGIN("gemv-i8/avx2-maddubs/lut@32");
        _mm256_storeu_si256((__m256i *)(w->wq + i), lut32(tab, qk_load32(w->codes + i)));
        QK_MCA_END("gemv-i8/avx2-maddubs/lut@32");
    }
}

/* dot: the fused kernel's block sums over stored weights, R rows sharing
 * the loads of q, into ws->acc. */
QK_INLINE void dot_rows(qk256_ws *w, size_t r0, unsigned R)
{
    __m256d acc[TILE_ROWS];
    for (unsigned r = 0; r < R; r++)
        acc[r] = _mm256_setzero_pd();
    for (size_t b = 0; b < w->nb; b++) {
        if (R == TILE_ROWS)
            QK_MCA_BEGIN("gemv-i8/avx2-maddubs/dot@1024");
        __m256i isum[TILE_ROWS];
#pragma GCC unroll 4
        for (unsigned r = 0; r < R; r++)
            isum[r] = block_start(&w->lut_i8, w->xsum[b]);
#pragma GCC unroll 2
        for (unsigned h = 0; h < 2; h++) {
            __m256i q[4];
            load_q(q, w->xq + b * QK256_BLOCK + CHUNK * h);
#pragma GCC unroll 4
            for (unsigned r = 0; r < R; r++) {
                const uint8_t *wq = w->wq + qk256_ws_elem(w, r0 + r, b) + CHUNK * h;
#pragma GCC unroll 4
                for (unsigned k = 0; k < 4; k++)
                    isum[r] = dot32(isum[r], qk_load32(wq + 32 * k), q[k]);
            }
        }
#pragma GCC unroll 4
        for (unsigned r = 0; r < R; r++)
            acc[r] = scale_block(acc[r], isum[r], w->scales[(r0 + r) * w->nb + b]);
        if (R == TILE_ROWS)
            QK_MCA_END("gemv-i8/avx2-maddubs/dot@1024");
    }
    for (unsigned r = 0; r < R; r++)
        qk_i8_store_acc(w->acc + (r0 + r) * QK_GV_ACC_LANES, acc[r]);
}

static void maddubs_dot(void *ws)
{
    qk256_ws *w = ws;
    size_t r0 = 0;
    for (; r0 + TILE_ROWS <= w->rows; r0 += TILE_ROWS)
        dot_rows(w, r0, TILE_ROWS);
    for (; r0 < w->rows; r0++)
        dot_rows(w, r0, 1);
}

static void maddubs_hsum(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("gemv-i8/avx2-maddubs/hsum");
        w->out[r] = qk_i8_row_result(qk_i8_load_acc(w->acc + r * QK_GV_ACC_LANES), w->sx);
        QK_MCA_END("gemv-i8/avx2-maddubs/hsum");
    }
}

const qk256_i8_layout qk256_i8_avx2_maddubs_layout = {.chunk = CHUNK,
                                                      .quantize = qk256_quantize_x_avx2};

QK_I8_PHASES(avx2_maddubs, QK_PHASE(maddubs_quantize, NULL, "qk256_quantize_x_avx2"),
             QK_PHASE(maddubs_memory, NULL, "qk_load32", "qk_prefetch_block", "load_q"),
             QK_PHASE(maddubs_unpack, NULL, "unpack_chunk"),
             QK_PHASE(maddubs_lut, NULL, "table_i8", "lut32"),
             QK_PHASE(maddubs_dot, NULL, "dot32", "block_start", "scale_block", "qk_scale_of"),
             QK_PHASE(maddubs_hsum, NULL, "qk_i8_row_result"));
