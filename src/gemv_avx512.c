/*
 * gemv_avx512.c — the AVX-512 float gemv variant, the rung after
 * avx2-p1-p4-p2-p3: avx512-vbmi.
 *
 *   variant       memory             unpack            lut            fma
 *   avx512-vbmi   8-byte broadcasts  vpmultishiftqb    vpermps zmm    8 rows x 32 cols,
 *                 + prefetch of the  + shift (32 codes) (scaled tab)   2 zmm chains per row
 *                 next row tile
 *
 * Per 32 weights a row costs six vector instructions (multishift with its
 * folded load, shift, two vpermps, two FMAs), of which only the three
 * shuffles share pipes; x is loaded once per 32 columns for 8 rows,
 * and the 16 independent FMA chains cover the FMA latency. No transpose is
 * needed: each row reads its own bytes. A partial last block runs the same
 * steps with masked x loads and masked FMAs, and the rows left over after
 * the groups of 8 run the same tile with one row, so every row is summed in
 * the same order whatever its group: lane l of chain h holds columns
 * 32q + 16h + l of every block, and qk5_fold8 + qk_hsum8 reduce the chains.
 * The staged fma phase keeps that order, so staged and fused agree exactly.
 */
#include "phases_avx512.h"

static inline size_t block_len(size_t cols, size_t b)
{
    size_t left = cols - b * QK256_BLOCK;
    return left < QK256_BLOCK ? left : QK256_BLOCK;
}

enum { TILE_ROWS = 8 };

/* ---- the fused kernel -------------------------------------------------- */

/* One block (m <= 256 columns) of R rows: per 32 columns, the two vectors
 * of x every row shares, then per row two lookups and two FMAs. */
QK_INLINE void tile_block(__m512 (*acc)[2], const __m512 *tab, const uint8_t *const *blk,
                          const float *x, size_t m, unsigned R, __m512i ctrl)
{
#pragma GCC unroll 8
    for (unsigned q = 0; q < 8; q++) {
        __mmask16 k0 = qk5_mask(m, 32 * q), k1 = qk5_mask(m, 32 * q + 16);
        if (!k0)
            break;
        __m512 x0 = qk5_load16(x + 32 * q, k0), x1 = qk5_load16(x + 32 * q + 16, k1);
#pragma GCC unroll 8
        for (unsigned r = 0; r < R; r++) {
            __m512i lo = qk5_idx_lo(blk[r], q, ctrl);
            acc[r][0] = qk5_fma16(acc[r][0], qk5_lut16(tab[r], lo), x0, k0);
            acc[r][1] = qk5_fma16(acc[r][1], qk5_lut16(tab[r], qk5_idx_hi(lo)), x1, k1);
        }
    }
}

/* Rows r0 .. r0+R-1 of `rows`, all blocks, into y. */
QK_INLINE void gemv_tile(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                         const float *x, size_t r0, size_t cols, const float lut[4], unsigned R,
                         size_t rows)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK, full = cols / QK256_BLOCK;
    /* the next tile, prefetched in memory order while this one runs */
    qk_pf_tile pf = qk_pf_next_tile(packed, row_stride, scales, nb, r0, R, rows);
    const __m512i ctrl = qk5_ctrl();
    const uint8_t *row[TILE_ROWS], *blk[TILE_ROWS];
    const float *rs[TILE_ROWS];
    __m512 acc[TILE_ROWS][2], tab[TILE_ROWS];
    for (unsigned r = 0; r < R; r++) {
        row[r] = packed + (r0 + r) * row_stride;
        rs[r] = scales ? scales + (r0 + r) * nb : NULL;
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    }
    for (size_t b = 0; b < full; b++) {
        qk_prefetch_tile(&pf, b, R);
#pragma GCC unroll 8
        for (unsigned r = 0; r < R; r++) {
            blk[r] = row[r] + b * QK256_BLOCK_BYTES;
            tab[r] = qk5_table_scaled(lut, qk_scale_of(rs[r], b));
        }
        tile_block(acc, tab, blk, x + b * QK256_BLOCK, QK256_BLOCK, R, ctrl);
    }
    if (full < nb) {
        qk_prefetch_tile(&pf, full, R);
        for (unsigned r = 0; r < R; r++) {
            blk[r] = row[r] + full * QK256_BLOCK_BYTES;
            tab[r] = qk5_table_scaled(lut, qk_scale_of(rs[r], full));
        }
        tile_block(acc, tab, blk, x + full * QK256_BLOCK, cols % QK256_BLOCK, R, ctrl);
    }
    for (unsigned r = 0; r < R; r++)
        y[r0 + r] = qk_hsum8(qk5_fold8(acc[r][0], acc[r][1]));
}

void qk256_gv_avx512_vbmi(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                          const float *x, size_t rows, size_t cols, const float lut[4])
{
    size_t r0 = 0;
    for (; r0 + TILE_ROWS <= rows; r0 += TILE_ROWS)
        gemv_tile(y, packed, row_stride, scales, x, r0, cols, lut, TILE_ROWS, rows);
    for (; r0 < rows; r0++)
        gemv_tile(y, packed, row_stride, scales, x, r0, cols, lut, 1, rows);
}

/* ---- staged steps ------------------------------------------------------ */

/* memory, one block of R rows: x (masked at the end), each row's scale,
 * its eight 8-byte loads, folded, and the fused kernel's prefetch of the
 * next tile. */
QK_INLINE __m256i mem_step(qk256_ws *w, size_t r0, unsigned R, size_t b, qk_pf_tile *pf)
{
    size_t m = block_len(w->cols, b);
    __m512i f = _mm512_setzero_si512();
    for (unsigned g = 0; g < 16; g++)
        f = _mm512_xor_si512(f, _mm512_castps_si512(qk5_load16(w->x + b * QK256_BLOCK + 16 * g,
                                                               qk5_mask(m, 16 * g))));
    long long fold = 0;
    qk_prefetch_tile(pf, b, R);
    for (unsigned r = 0; r < R; r++) {
        const uint8_t *blk = qk256_ws_block(w, r0 + r, b);
        f = _mm512_xor_si512(f,
                             _mm512_castps_si512(_mm512_set1_ps(w->scales[(r0 + r) * w->nb + b])));
        for (unsigned q = 0; q < 8; q++) {
            long long v;
            __builtin_memcpy(&v, blk + 8 * q, sizeof v);
            fold ^= v;
        }
    }
    __m256i h = _mm256_xor_si256(_mm512_castsi512_si256(f), _mm512_extracti64x4_epi64(f, 1));
    return _mm256_xor_si256(h, _mm256_set1_epi64x(fold));
}

/* unpack, one row and block: the kernel's index vectors as bytes. */
QK_INLINE void unpack_step(qk256_ws *w, size_t r, size_t b)
{
    const __m512i ctrl = qk5_ctrl();
    const uint8_t *blk = qk256_ws_block(w, r, b);
    uint8_t *codes = w->codes + qk256_ws_elem(w, r, b);
#pragma GCC unroll 8
    for (unsigned q = 0; q < 8; q++) {
        __m512i lo = qk5_idx_lo(blk, q, ctrl);
        _mm_storeu_si128((__m128i *)(codes + 32 * q), qk5_codes_bytes(lo));
        _mm_storeu_si128((__m128i *)(codes + 32 * q + 16), qk5_codes_bytes(qk5_idx_hi(lo)));
    }
}

/* lut, one row and block: codes -> block-scaled weights (whole block). */
QK_INLINE void lut_step(qk256_ws *w, size_t r, size_t b)
{
    __m512 tab = qk5_table_scaled(w->lut, w->scales[r * w->nb + b]);
    for (size_t i = qk256_ws_elem(w, r, b); i < qk256_ws_elem(w, r, b + 1); i += 16)
        _mm512_storeu_ps(w->vals + i, qk5_lut16_mem(tab, w->codes + i));
}

/* fma, one block of R rows: the fused kernel's chains over stored weights. */
QK_INLINE void fma_step(const qk256_ws *w, size_t r0, unsigned R, size_t b, __m512 (*acc)[2])
{
    size_t m = block_len(w->cols, b);
    const float *x = w->x + b * QK256_BLOCK;
    for (unsigned q = 0; q < 8; q++) {
        __mmask16 k0 = qk5_mask(m, 32 * q), k1 = qk5_mask(m, 32 * q + 16);
        if (!k0)
            break;
        __m512 x0 = qk5_load16(x + 32 * q, k0), x1 = qk5_load16(x + 32 * q + 16, k1);
#pragma GCC unroll 8
        for (unsigned r = 0; r < R; r++) {
            const float *v = w->vals + qk256_ws_elem(w, r0 + r, b) + 32 * q;
            acc[r][0] = qk5_fma16(acc[r][0], _mm512_loadu_ps(v), x0, k0);
            acc[r][1] = qk5_fma16(acc[r][1], _mm512_loadu_ps(v + 16), x1, k1);
        }
    }
}

QK_INLINE void fma_rows(qk256_ws *w, size_t r0, unsigned R)
{
    __m512 acc[TILE_ROWS][2];
    for (unsigned r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t b = 0; b < w->nb; b++) {
        QK_MCA_BEGIN("gemv/avx512-vbmi/fma");
        fma_step(w, r0, R, b, acc);
        QK_MCA_END("gemv/avx512-vbmi/fma");
    }
    for (unsigned r = 0; r < R; r++)
        _mm256_storeu_ps(w->acc + (r0 + r) * QK_GV_ACC_LANES, qk5_fold8(acc[r][0], acc[r][1]));
}

/* ---- staged phases ----------------------------------------------------- */

QK_INLINE __m256i mem_rows(qk256_ws *w, size_t r0, unsigned R)
{
    __m256i fold = _mm256_setzero_si256();
    qk_pf_tile pf = qk_pf_next_tile(w->packed, w->row_stride, w->scales, w->nb, r0, R, w->rows);
    for (size_t b = 0; b < w->nb; b++) {
        QK_MCA_BEGIN("gemv/avx512-vbmi/memory");
        fold = _mm256_xor_si256(fold, mem_step(w, r0, R, b, &pf));
        QK_MCA_END("gemv/avx512-vbmi/memory");
    }
    return fold;
}

static void vbmi_memory(void *ws)
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

static void vbmi_fma(void *ws)
{
    qk256_ws *w = ws;
    size_t r0 = 0;
    for (; r0 + TILE_ROWS <= w->rows; r0 += TILE_ROWS)
        fma_rows(w, r0, TILE_ROWS);
    for (; r0 < w->rows; r0++)
        fma_rows(w, r0, 1);
}

QK_GV_STAGE(vbmi_unpack, "gemv/avx512-vbmi/unpack", unpack_step)
QK_GV_STAGE(vbmi_lut, "gemv/avx512-vbmi/lut", lut_step)

static void vbmi_hsum(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("gemv/avx512-vbmi/hsum");
        w->out[r] = qk_hsum8(_mm256_loadu_ps(w->acc + r * QK_GV_ACC_LANES));
        QK_MCA_END("gemv/avx512-vbmi/hsum");
    }
}

QK_GV_PHASES(avx512_vbmi,
             QK_PHASE(vbmi_memory, NULL, "qk_pf_next_tile", "qk_prefetch_tile", "qk5_load16"),
             QK_PHASE(vbmi_unpack, NULL, "qk5_idx_lo", "qk5_idx_hi"),
             QK_PHASE(vbmi_lut, NULL, "qk5_table_scaled", "qk5_table", "qk5_lut16", "qk_scale_of"),
             QK_PHASE(vbmi_fma, NULL, "qk5_fma16", "qk5_mask"),
             QK_PHASE(vbmi_hsum, NULL, "qk5_fold8", "qk_hsum8"));
