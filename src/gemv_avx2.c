/*
 * gemv_avx2.c — the AVX2 gemv variants, one rung of the sprint's ladder
 * each: avx2-mvp, avx2-p1, avx2-p1-p4, avx2-p1-p4-p2, avx2-p1-p4-p2-p3.
 *
 * Every variant is a composition of phase blocks from phases_avx2.h, and
 * each ladder step swaps one of them:
 *
 *   variant             memory (loads)        unpack            lut      fma
 *   avx2-mvp            bytes                 scalar -> buffer  scalar   1 row, 1 chain
 *   avx2-p1             2 x 16-byte           vector -> buffer  scalar   1 row, 1 chain
 *   avx2-p1-p4          2 x 16-byte           vector, regs      vpermps  1 row, 1 chain
 *   avx2-p1-p4-p2       4-byte gather, tiles  vector, regs      vpermps  8 rows x 16 cols
 *   avx2-p1-p4-p2-p3    32-byte + transpose   vector, regs      vpermps  8 rows x 16 cols
 *                       + prefetch of the
 *                       next 8-row group
 *
 * The lut phase yields block-scaled weights: the 4-entry table is
 * multiplied by the block's scale once, so a lookup gives lut[k] * s.
 *
 * Summation order is the same for every variant and for staged and fused
 * runs: a row's whole groups of 8 columns go left to right into one vector
 * accumulator (p2's tiles are two such groups in a row), the rest into a
 * scalar added to lane 0, and qk_hsum8 reduces the vector. So the AVX2
 * variants agree with each other exactly and with scalar to rounding.
 *
 * p2 runs rows in groups of 8; the rows past the last whole group run
 * through p1-p4's one-row blocks (gemv_groups), in the fused kernels and in
 * the staged phases alike.
 */
#include "phases_avx2.h"
#include "phases_scalar.h"

static inline size_t block_len(size_t cols, size_t b)
{
    size_t left = cols - b * QK256_BLOCK;
    return left < QK256_BLOCK ? left : QK256_BLOCK;
}

static inline size_t blocks_of(size_t cols)
{
    return (cols + QK256_BLOCK - 1) / QK256_BLOCK;
}

/* ---- block steps, shared by the fused kernels and the staged phases ---- */

/* p1 unpack into a buffer, as in dequantize. */
QK_INLINE void unpack_split(uint8_t *codes, const uint8_t *blk)
{
    qk_store_codes(codes, qk_unpack32(qk_load32_split(blk)));
    qk_store_codes(codes + 128, qk_unpack32(qk_load32_split(blk + 32)));
}

/* mvp and p1, lut then fma: 256 buffered codes looked up one at a time in
 * the block-scaled table, 8 weights per FMA into the row's one chain. */
QK_INLINE __m256 fma_buffer(__m256 acc, const uint8_t *codes, const float tab[4], const float *x)
{
    for (size_t j = 0; j < QK256_BLOCK; j += 8)
        acc = qk_fma8(acc, qk_lut8_scalar(tab, codes + j), x + j);
    return acc;
}

/* p4, lut then fma of 128 codes held in registers. */
QK_INLINE __m256 fma_regs(__m256 acc, qk_codes128 c, __m256 tab, const float *x)
{
#pragma GCC unroll 4
    for (unsigned q = 0; q < 4; q++)
#pragma GCC unroll 4
        for (unsigned k = 0; k < 4; k++)
            acc = qk_fma8(acc, qk_lut8_perm(tab, qk_codes8(c.q[q], k)), x + 32 * q + 8 * k);
    return acc;
}

/* One full block of one row, per variant: acc += weights(blk, s) * x. */
typedef __m256 (*row_block_fn)(__m256 acc, const uint8_t *blk, const float lut[4], float s,
                               const float *x);

QK_INLINE __m256 block_mvp(__m256 acc, const uint8_t *blk, const float lut[4], float s,
                           const float *x)
{
    uint8_t codes[QK256_BLOCK];
    float tab[4];
    qk_table_scaled_scalar(tab, lut, s);
    qk_unpack_scalar(codes, blk);
    return fma_buffer(acc, codes, tab, x);
}

QK_INLINE __m256 block_p1(__m256 acc, const uint8_t *blk, const float lut[4], float s,
                          const float *x)
{
    uint8_t codes[QK256_BLOCK];
    float tab[4];
    qk_table_scaled_scalar(tab, lut, s);
    unpack_split(codes, blk);
    return fma_buffer(acc, codes, tab, x);
}

QK_INLINE __m256 block_p1_p4(__m256 acc, const uint8_t *blk, const float lut[4], float s,
                             const float *x)
{
    __m256 tab = qk_table_scaled(lut, s);
    acc = fma_regs(acc, qk_unpack32(qk_load32_split(blk)), tab, x);
    return fma_regs(acc, qk_unpack32(qk_load32_split(blk + 32)), tab, x + 128);
}

/* The last, partial block of a row: m < 256 columns, x read only below m. */
static __m256 partial_block(__m256 acc, float *tail, const uint8_t *blk, const float lut[4],
                            float s, const float *x, size_t m)
{
    float tab[4], wgt[QK256_BLOCK];
    qk_table_scaled_scalar(tab, lut, s);
    for (size_t j = 0; j < m; j++)
        wgt[j] = qks_lut(tab, qk256_code(blk, j));
    return qk_fma_span(acc, tail, wgt, x, m);
}

/* ---- fused kernels, one row at a time (mvp, p1, p1-p4) ----------------- */

QK_INLINE float row_dot(const uint8_t *row, const float *rs, const float *x, size_t cols,
                        const float lut[4], row_block_fn block)
{
    size_t full = cols / QK256_BLOCK;
    __m256 acc = _mm256_setzero_ps();
    float tail = 0.0f;
    for (size_t b = 0; b < full; b++)
        acc = block(acc, row + b * QK256_BLOCK_BYTES, lut, qk_scale_of(rs, b), x + b * QK256_BLOCK);
    if (cols % QK256_BLOCK)
        acc = partial_block(acc, &tail, row + full * QK256_BLOCK_BYTES, lut, qk_scale_of(rs, full),
                            x + full * QK256_BLOCK, cols % QK256_BLOCK);
    return qk_hsum8(qk_add_tail(acc, tail));
}

QK_INLINE void gemv_rows(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                         const float *x, size_t rows, size_t cols, const float lut[4],
                         row_block_fn block)
{
    size_t nb = blocks_of(cols);
    for (size_t r = 0; r < rows; r++)
        y[r] =
            row_dot(packed + r * row_stride, scales ? scales + r * nb : NULL, x, cols, lut, block);
}

void qk256_gv_avx2_mvp(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                       const float *x, size_t rows, size_t cols, const float lut[4])
{
    gemv_rows(y, packed, row_stride, scales, x, rows, cols, lut, block_mvp);
}

void qk256_gv_avx2_p1(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                      const float *x, size_t rows, size_t cols, const float lut[4])
{
    gemv_rows(y, packed, row_stride, scales, x, rows, cols, lut, block_p1);
}

void qk256_gv_avx2_p1_p4(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                         const float *x, size_t rows, size_t cols, const float lut[4])
{
    gemv_rows(y, packed, row_stride, scales, x, rows, cols, lut, block_p1_p4);
}

/* ---- fused kernels, 8 rows at a time (p2, p3) -------------------------- */

/* One full block of 8 rows, per variant: acc[r] += weights * x. pf is the
 * cursor on the next group, which only p3 prefetches. */
typedef void (*tiles_fn)(__m256 acc[8], const __m256 tab[8], const uint8_t *const row[8], size_t b,
                         qk_pf_tile *pf, const float *x);

QK_INLINE void tiles_gather(__m256 acc[8], const __m256 tab[8], const uint8_t *const row[8],
                            size_t b, qk_pf_tile *pf, const float *x)
{
    (void)pf;
    for (size_t t = 0; t < 16; t++)
        qk_fma_tile(acc, tab, qk_unpack32(qk_tile_gather(row, b * QK256_BLOCK_BYTES + 4 * t)),
                    x + b * QK256_BLOCK + 16 * t);
}

QK_INLINE void tiles_load8(__m256 acc[8], const __m256 tab[8], const uint8_t *const row[8],
                           size_t b, qk_pf_tile *pf, const float *x)
{
    __m256i tile[8];
    qk_prefetch_tile(pf, b, 8);
    for (size_t h = 0; h < 2; h++) {
        qk_tiles_load8(tile, row, b * QK256_BLOCK_BYTES + 32 * h);
#pragma GCC unroll 8
        for (unsigned t = 0; t < 8; t++)
            qk_fma_tile(acc, tab, qk_unpack32(tile[t]), x + b * QK256_BLOCK + 128 * h + 16 * t);
    }
}

/* Rows r0 .. r0+7 of `rows`, all blocks, into y. */
QK_INLINE void gemv_group(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                          const float *x, size_t r0, size_t rows, size_t cols, const float lut[4],
                          tiles_fn tiles)
{
    size_t nb = blocks_of(cols), full = cols / QK256_BLOCK;
    const uint8_t *row[8];
    const float *rs[8];
    __m256 acc[8], tab[8];
    float tail[8];
    qk_pf_tile pf = qk_pf_next_tile(packed, row_stride, scales, nb, r0, 8, rows);
    for (unsigned r = 0; r < 8; r++) {
        row[r] = packed + (r0 + r) * row_stride;
        rs[r] = scales ? scales + (r0 + r) * nb : NULL;
        acc[r] = _mm256_setzero_ps();
        tail[r] = 0.0f;
    }
    for (size_t b = 0; b < full; b++) {
#pragma GCC unroll 8
        for (unsigned r = 0; r < 8; r++)
            tab[r] = qk_table_scaled(lut, qk_scale_of(rs[r], b));
        tiles(acc, tab, row, b, &pf, x);
    }
    for (size_t r = 0; r < 8; r++) {
        if (cols % QK256_BLOCK)
            acc[r] =
                partial_block(acc[r], &tail[r], row[r] + full * QK256_BLOCK_BYTES, lut,
                              qk_scale_of(rs[r], full), x + full * QK256_BLOCK, cols % QK256_BLOCK);
        y[r0 + r] = qk_hsum8(qk_add_tail(acc[r], tail[r]));
    }
}

/* The rows past the last whole group go around p2, one at a time through
 * p1-p4's blocks, which sum in the same order (the results are the same,
 * bit for bit): a group of fewer real rows would do a whole group's work
 * (docs/performance.md, "p2 below 8 rows"). */
QK_INLINE void gemv_groups(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                           const float *x, size_t rows, size_t cols, const float lut[4],
                           tiles_fn tiles)
{
    size_t whole = rows / 8 * 8, nb = blocks_of(cols);
    for (size_t r0 = 0; r0 < whole; r0 += 8)
        gemv_group(y, packed, row_stride, scales, x, r0, rows, cols, lut, tiles);
    for (size_t r = whole; r < rows; r++)
        y[r] = row_dot(packed + r * row_stride, scales ? scales + r * nb : NULL, x, cols, lut,
                       block_p1_p4);
}

void qk256_gv_avx2_p1_p4_p2(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                            const float *x, size_t rows, size_t cols, const float lut[4])
{
    gemv_groups(y, packed, row_stride, scales, x, rows, cols, lut, tiles_gather);
}

void qk256_gv_avx2_p1_p4_p2_p3(float *y, const uint8_t *packed, size_t row_stride,
                               const float *scales, const float *x, size_t rows, size_t cols,
                               const float lut[4])
{
    gemv_groups(y, packed, row_stride, scales, x, rows, cols, lut, tiles_load8);
}

/* ---- staged steps: one row (or group of 8) and one block --------------- */

/* memory: the block's scale and x, plus the variant's loads of the packed
 * bytes, folded to one vector. */
QK_INLINE __m256i mem_scale_x(const qk256_ws *w, size_t r, size_t b)
{
    __m256i f = _mm256_castps_si256(_mm256_set1_ps(w->scales[r * w->nb + b]));
    return qk_fold_floats(f, w->x + b * QK256_BLOCK, block_len(w->cols, b));
}

QK_INLINE __m256i mem_bytes(qk256_ws *w, size_t r, size_t b)
{
    return _mm256_xor_si256(mem_scale_x(w, r, b), qk_fold_bytes(qk256_ws_block(w, r, b)));
}

QK_INLINE __m256i mem_split(qk256_ws *w, size_t r, size_t b)
{
    const uint8_t *blk = qk256_ws_block(w, r, b);
    __m256i f = _mm256_xor_si256(qk_load32_split(blk), qk_load32_split(blk + 32));
    return _mm256_xor_si256(mem_scale_x(w, r, b), f);
}

QK_INLINE void unpack_step_scalar(qk256_ws *w, size_t r, size_t b)
{
    qk_unpack_scalar(w->codes + qk256_ws_elem(w, r, b), qk256_ws_block(w, r, b));
}

QK_INLINE void unpack_step_split(qk256_ws *w, size_t r, size_t b)
{
    unpack_split(w->codes + qk256_ws_elem(w, r, b), qk256_ws_block(w, r, b));
}

/* lut: codes -> block-scaled weights, whole (padded) blocks. */
QK_INLINE void lut_step_scalar(qk256_ws *w, size_t r, size_t b)
{
    float tab[4];
    qk_table_scaled_scalar(tab, w->lut, w->scales[r * w->nb + b]);
    for (size_t i = qk256_ws_elem(w, r, b); i < qk256_ws_elem(w, r, b + 1); i += 8)
        _mm256_storeu_ps(w->vals + i, qk_lut8_scalar(tab, w->codes + i));
}

QK_INLINE void lut_step_perm(qk256_ws *w, size_t r, size_t b)
{
    __m256 tab = qk_table_scaled(w->lut, w->scales[r * w->nb + b]);
    for (size_t i = qk256_ws_elem(w, r, b); i < qk256_ws_elem(w, r, b + 1); i += 8)
        _mm256_storeu_ps(w->vals + i, qk_lut8_perm_mem(tab, w->codes + i));
}

/* fma (one row): the block's weights into the row's chain and tail. */
QK_INLINE __m256 fma_step(const qk256_ws *w, size_t r, size_t b, __m256 acc, float *tail)
{
    return qk_fma_span(acc, tail, w->vals + qk256_ws_elem(w, r, b), w->x + b * QK256_BLOCK,
                       block_len(w->cols, b));
}

/* fma of a whole row, one chain over its blocks, into ws->acc. */
QK_INLINE void fma_row(qk256_ws *w, size_t r)
{
    __m256 acc = _mm256_setzero_ps();
    float tail = 0.0f;
    for (size_t b = 0; b < w->nb; b++)
        acc = fma_step(w, r, b, acc, &tail);
    _mm256_storeu_ps(w->acc + r * QK_GV_ACC_LANES, qk_add_tail(acc, tail));
}

QK_INLINE void hsum_step(qk256_ws *w, size_t r)
{
    w->out[r] = qk_hsum8(_mm256_loadu_ps(w->acc + r * QK_GV_ACC_LANES));
}

/* p2, p3: the 8 rows of the group at r0, as the fused kernel points at them. */
QK_INLINE void group_of(const uint8_t *row[8], const qk256_ws *w, size_t r0)
{
    for (unsigned r = 0; r < 8; r++)
        row[r] = qk256_ws_block(w, r0 + r, 0);
}

/* p2, p3 memory of one block of a group: x once for the group, each row's
 * scale, and the variant's loads: 16 gathered tiles (p2), or 32-byte loads
 * of 8 rows transposed and the prefetch of the next group (p3). */
QK_INLINE __m256i mem8_scale_x(const qk256_ws *w, size_t r0, size_t b)
{
    __m256i f =
        qk_fold_floats(_mm256_setzero_si256(), w->x + b * QK256_BLOCK, block_len(w->cols, b));
    for (unsigned r = 0; r < 8; r++)
        f = _mm256_xor_si256(f,
                             _mm256_castps_si256(_mm256_set1_ps(w->scales[(r0 + r) * w->nb + b])));
    return f;
}

QK_INLINE __m256i mem8_gather(qk256_ws *w, size_t r0, size_t b, qk_pf_tile *pf)
{
    const uint8_t *row[8];
    __m256i f = mem8_scale_x(w, r0, b);
    (void)pf;
    group_of(row, w, r0);
    for (size_t t = 0; t < 16; t++)
        f = _mm256_xor_si256(f, qk_tile_gather(row, b * QK256_BLOCK_BYTES + 4 * t));
    return f;
}

QK_INLINE __m256i mem8_32(qk256_ws *w, size_t r0, size_t b, qk_pf_tile *pf)
{
    const uint8_t *row[8];
    __m256i tile[8], f = mem8_scale_x(w, r0, b);
    group_of(row, w, r0);
    qk_prefetch_tile(pf, b, 8);
    for (size_t h = 0; h < 2; h++) {
        qk_tiles_load8(tile, row, b * QK256_BLOCK_BYTES + 32 * h);
        for (unsigned t = 0; t < 8; t++)
            f = _mm256_xor_si256(f, tile[t]);
    }
    return f;
}

/* p2 unpack: tiles -> each row's 16 codes back in row order. */
QK_INLINE void store_tile(qk256_ws *w, size_t r0, size_t b, size_t col, qk_codes128 c)
{
    for (unsigned r = 0; r < 8; r++)
        _mm_storeu_si128((__m128i *)(w->codes + qk256_ws_elem(w, r0 + r, b) + col),
                         qk_tile_row(c, r));
}

QK_INLINE void unpack8_gather(qk256_ws *w, size_t r0, size_t b)
{
    const uint8_t *row[8];
    group_of(row, w, r0);
    for (size_t t = 0; t < 16; t++)
        store_tile(w, r0, b, 16 * t,
                   qk_unpack32(qk_tile_gather(row, b * QK256_BLOCK_BYTES + 4 * t)));
}

QK_INLINE void unpack8_32(qk256_ws *w, size_t r0, size_t b)
{
    const uint8_t *row[8];
    __m256i tile[8];
    group_of(row, w, r0);
    for (size_t h = 0; h < 2; h++) {
        qk_tiles_load8(tile, row, b * QK256_BLOCK_BYTES + 32 * h);
#pragma GCC unroll 8
        for (unsigned t = 0; t < 8; t++)
            store_tile(w, r0, b, 128 * h + 16 * t, qk_unpack32(tile[t]));
    }
}

/* p2 fma of one block of 8 rows: 16-column tiles for a full block (the
 * fused kernel's order), one row at a time for the partial one. */
QK_INLINE void fma8_step(const qk256_ws *w, size_t r0, size_t b, __m256 acc[8], float tail[8])
{
    const float *x = w->x + b * QK256_BLOCK;
    if (block_len(w->cols, b) < QK256_BLOCK) {
        for (unsigned r = 0; r < 8; r++)
            acc[r] = fma_step(w, r0 + r, b, acc[r], &tail[r]);
        return;
    }
    for (size_t j = 0; j < QK256_BLOCK; j += 16) {
        __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
#pragma GCC unroll 8
        for (unsigned r = 0; r < 8; r++) {
            const float *v = w->vals + qk256_ws_elem(w, r0 + r, b) + j;
            acc[r] = qk_fma_row16(acc[r], _mm256_loadu_ps(v), _mm256_loadu_ps(v + 8), x0, x1);
        }
    }
}

/* ---- staged phases ----------------------------------------------------- */

/* Each stage runs its step over every block of every row (or group of 8);
 * the loop body is an llvm-mca region named `mca`
 * ("<op>/<variant>/<phase>@<elements>[#<loop>]", see harness/mca.h).
 * llvm-mca models straight-line code only, so where the step holds loops
 * the region is narrowed to one inner loop, and <elements> counts the
 * weights one pass of it handles (gcc -O2 output):
 *   mvp unpack               the per-byte loop of qk_unpack_scalar: 4
 *   mvp/p1 lut               the 8-code loop (loop 2; loop 1 scales the
 *                            table): 8
 *   memory                   mvp: the per-byte fold, 4; others: the 8-float
 *                            fold of x, 8 (the block loads are outside it)
 *   p1, p4 unpack            straight-line, the whole block: 256
 *   p2, p3 unpack            store_tile's per-row loop (loop 2), 16 codes
 *   lut p4+, fma mvp..p4     8;  fma p2, p3: a 16-column step of 8 rows, 128
 *   hsum                     straight-line per row: no element count
 * p2 and p3 run the rows past their last whole group of 8 through p1-p4's
 * steps, as their fused kernels do; those loops are p1-p4's regions and
 * carry no markers of their own. */

#define GV_MEMORY_STAGE(fn, mca, load)                        \
    static void fn(void *ws)                                  \
    {                                                         \
        qk256_ws *w = ws;                                     \
        __m256i fold = _mm256_setzero_si256();                \
        for (size_t r = 0; r < w->rows; r++)                  \
            for (size_t b = 0; b < w->nb; b++) {              \
                QK_MCA_BEGIN(mca);                            \
                fold = _mm256_xor_si256(fold, load(w, r, b)); \
                QK_MCA_END(mca);                              \
            }                                                 \
        w->sink = qk_fold_u64(fold);                          \
    }

#define GV_FMA_STAGE(fn, mca)                                                       \
    static void fn(void *ws)                                                        \
    {                                                                               \
        qk256_ws *w = ws;                                                           \
        for (size_t r = 0; r < w->rows; r++) {                                      \
            __m256 acc = _mm256_setzero_ps();                                       \
            float tail = 0.0f;                                                      \
            for (size_t b = 0; b < w->nb; b++) {                                    \
                QK_MCA_BEGIN(mca);                                                  \
                acc = fma_step(w, r, b, acc, &tail);                                \
                QK_MCA_END(mca);                                                    \
            }                                                                       \
            _mm256_storeu_ps(w->acc + r * QK_GV_ACC_LANES, qk_add_tail(acc, tail)); \
        }                                                                           \
    }

#define GV_HSUM_STAGE(fn, mca)                 \
    static void fn(void *ws)                   \
    {                                          \
        qk256_ws *w = ws;                      \
        for (size_t r = 0; r < w->rows; r++) { \
            QK_MCA_BEGIN(mca);                 \
            hsum_step(w, r);                   \
            QK_MCA_END(mca);                   \
        }                                      \
    }

/* p2, p3: the whole groups of 8, then the rows left over as p1-p4. */
#define GV_MEMORY_STAGE8(fn, mca, load)                                                      \
    static void fn(void *ws)                                                                 \
    {                                                                                        \
        qk256_ws *w = ws;                                                                    \
        __m256i fold = _mm256_setzero_si256();                                               \
        size_t whole = w->rows / 8 * 8;                                                      \
        for (size_t r0 = 0; r0 < whole; r0 += 8) {                                           \
            qk_pf_tile pf =                                                                  \
                qk_pf_next_tile(w->packed, w->row_stride, w->scales, w->nb, r0, 8, w->rows); \
            for (size_t b = 0; b < w->nb; b++) {                                             \
                QK_MCA_BEGIN(mca);                                                           \
                fold = _mm256_xor_si256(fold, load(w, r0, b, &pf));                          \
                QK_MCA_END(mca);                                                             \
            }                                                                                \
        }                                                                                    \
        for (size_t r = whole; r < w->rows; r++)                                             \
            for (size_t b = 0; b < w->nb; b++)                                               \
                fold = _mm256_xor_si256(fold, mem_split(w, r, b));                           \
        w->sink = qk_fold_u64(fold);                                                         \
    }

#define GV_UNPACK_STAGE8(fn, mca, step)          \
    static void fn(void *ws)                     \
    {                                            \
        qk256_ws *w = ws;                        \
        size_t whole = w->rows / 8 * 8;          \
        for (size_t r0 = 0; r0 < whole; r0 += 8) \
            for (size_t b = 0; b < w->nb; b++) { \
                QK_MCA_BEGIN(mca);               \
                step(w, r0, b);                  \
                QK_MCA_END(mca);                 \
            }                                    \
        for (size_t r = whole; r < w->rows; r++) \
            for (size_t b = 0; b < w->nb; b++)   \
                unpack_step_split(w, r, b);      \
    }

#define GV_FMA_STAGE8(fn, mca)                                        \
    static void fn(void *ws)                                          \
    {                                                                 \
        qk256_ws *w = ws;                                             \
        size_t whole = w->rows / 8 * 8;                               \
        for (size_t r0 = 0; r0 < whole; r0 += 8) {                    \
            __m256 acc[8];                                            \
            float tail[8];                                            \
            for (unsigned r = 0; r < 8; r++) {                        \
                acc[r] = _mm256_setzero_ps();                         \
                tail[r] = 0.0f;                                       \
            }                                                         \
            for (size_t b = 0; b < w->nb; b++) {                      \
                QK_MCA_BEGIN(mca);                                    \
                fma8_step(w, r0, b, acc, tail);                       \
                QK_MCA_END(mca);                                      \
            }                                                         \
            for (size_t r = 0; r < 8; r++)                            \
                _mm256_storeu_ps(w->acc + (r0 + r) * QK_GV_ACC_LANES, \
                                 qk_add_tail(acc[r], tail[r]));       \
        }                                                             \
        for (size_t r = whole; r < w->rows; r++)                      \
            fma_row(w, r);                                            \
    }

/* The blocks each phase's fused code is made of (qk_phase.blocks). */
#define SCALAR_LUT_BLOCKS "qk_table_scaled_scalar", "qk_lut8_scalar", "qks_lut", "qk_scale_of"
#define PERM_LUT_BLOCKS                                                                   \
    "qk_table_scaled", "qk_table", "qk_codes8", "qk_lut8_perm", "qk_table_scaled_scalar", \
        "qks_lut", "qk_scale_of"
#define FMA_BLOCKS "qk_fma8", "qk_fma_span"
#define HSUM_BLOCKS "qk_hsum8", "qk_add_tail"

GV_MEMORY_STAGE(mvp_memory, "gemv/avx2-mvp/memory@4", mem_bytes)
QK_GV_STAGE(mvp_unpack, "gemv/avx2-mvp/unpack@4", unpack_step_scalar)
QK_GV_STAGE(mvp_lut, "gemv/avx2-mvp/lut@8#2", lut_step_scalar)
GV_FMA_STAGE(mvp_fma, "gemv/avx2-mvp/fma@8")
GV_HSUM_STAGE(mvp_hsum, "gemv/avx2-mvp/hsum")
QK_GV_PHASES(avx2_mvp, QK_PHASE(mvp_memory, NULL, NULL),
             QK_PHASE(mvp_unpack, NULL, "qk_unpack_scalar", "qk256_code"),
             QK_PHASE(mvp_lut, NULL, SCALAR_LUT_BLOCKS), QK_PHASE(mvp_fma, NULL, FMA_BLOCKS),
             QK_PHASE(mvp_hsum, NULL, HSUM_BLOCKS));

GV_MEMORY_STAGE(p1_memory, "gemv/avx2-p1/memory@8", mem_split)
QK_GV_STAGE(p1_unpack, "gemv/avx2-p1/unpack@256", unpack_step_split)
QK_GV_STAGE(p1_lut, "gemv/avx2-p1/lut@8#2", lut_step_scalar)
GV_FMA_STAGE(p1_fma, "gemv/avx2-p1/fma@8")
GV_HSUM_STAGE(p1_hsum, "gemv/avx2-p1/hsum")
QK_GV_PHASES(avx2_p1, QK_PHASE(p1_memory, NULL, "qk_load32_split"),
             QK_PHASE(p1_unpack, NULL, "qk_unpack32", "qk_store_codes", "qk256_code"),
             QK_PHASE(p1_lut, NULL, SCALAR_LUT_BLOCKS), QK_PHASE(p1_fma, NULL, FMA_BLOCKS),
             QK_PHASE(p1_hsum, NULL, HSUM_BLOCKS));

GV_MEMORY_STAGE(p4_memory, "gemv/avx2-p1-p4/memory@8", mem_split)
QK_GV_STAGE(p4_unpack, "gemv/avx2-p1-p4/unpack@256", unpack_step_split)
QK_GV_STAGE(p4_lut, "gemv/avx2-p1-p4/lut@8", lut_step_perm)
GV_FMA_STAGE(p4_fma, "gemv/avx2-p1-p4/fma@8")
GV_HSUM_STAGE(p4_hsum, "gemv/avx2-p1-p4/hsum")
QK_GV_PHASES(avx2_p1_p4, QK_PHASE(p4_memory, NULL, "qk_load32_split"),
             QK_PHASE(p4_unpack, NULL, "qk_unpack32", "qk256_code"),
             QK_PHASE(p4_lut, NULL, PERM_LUT_BLOCKS), QK_PHASE(p4_fma, NULL, FMA_BLOCKS),
             QK_PHASE(p4_hsum, NULL, HSUM_BLOCKS));

/* p2 and p3 list p1-p4's blocks too: the rows past the last group run them. */
GV_MEMORY_STAGE8(p2_memory, "gemv/avx2-p1-p4-p2/memory@8", mem8_gather)
GV_UNPACK_STAGE8(p2_unpack, "gemv/avx2-p1-p4-p2/unpack@16#2", unpack8_gather)
QK_GV_STAGE(p2_lut, "gemv/avx2-p1-p4-p2/lut@8", lut_step_perm)
GV_FMA_STAGE8(p2_fma, "gemv/avx2-p1-p4-p2/fma@128")
GV_HSUM_STAGE(p2_hsum, "gemv/avx2-p1-p4-p2/hsum")
QK_GV_PHASES(avx2_p1_p4_p2,
             QK_PHASE(p2_memory, NULL, "qk_tile_gather", "qk_load4", "qk_load32_split"),
             QK_PHASE(p2_unpack, NULL, "qk_unpack32", "qk_tile_row", "qk256_code"),
             QK_PHASE(p2_lut, NULL, PERM_LUT_BLOCKS),
             QK_PHASE(p2_fma, NULL, "qk_fma_tile", "qk_fma_row16", FMA_BLOCKS),
             QK_PHASE(p2_hsum, NULL, HSUM_BLOCKS));

GV_MEMORY_STAGE8(p3_memory, "gemv/avx2-p1-p4-p2-p3/memory@8", mem8_32)
GV_UNPACK_STAGE8(p3_unpack, "gemv/avx2-p1-p4-p2-p3/unpack@16#2", unpack8_32)
QK_GV_STAGE(p3_lut, "gemv/avx2-p1-p4-p2-p3/lut@8", lut_step_perm)
GV_FMA_STAGE8(p3_fma, "gemv/avx2-p1-p4-p2-p3/fma@128")
GV_HSUM_STAGE(p3_hsum, "gemv/avx2-p1-p4-p2-p3/hsum")
QK_GV_PHASES(avx2_p1_p4_p2_p3,
             QK_PHASE(p3_memory, NULL, "qk_tiles_load8", "qk_load32", "qk_pf_next_tile",
                      "qk_prefetch_tile", "qk_load32_split"),
             QK_PHASE(p3_unpack, NULL, "qk_unpack32", "qk_tile_row", "qk256_code"),
             QK_PHASE(p3_lut, NULL, PERM_LUT_BLOCKS),
             QK_PHASE(p3_fma, NULL, "qk_fma_tile", "qk_fma_row16", FMA_BLOCKS),
             QK_PHASE(p3_hsum, NULL, HSUM_BLOCKS));
