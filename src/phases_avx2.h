/*
 * phases_avx2.h — the AVX2 phase blocks every AVX2 QK256 variant is built
 * from (dequant_avx2.c, gemv_avx2.c, gemv_i8_avx2.c), and the AVX-512 ones
 * too, where they fit.
 *
 * A block is one step of one phase, small and static inline, so the staged
 * phase (run alone over the workspace buffers) and the fused kernel execute
 * the same instructions. A ladder step swaps exactly one block:
 *
 *   memory  bytes one at a time (mvp) -> qk_load32_split (p1)
 *           -> qk_load32 + qk_prefetch_block (p3 dequantize; gemv's p3
 *              loads 8 rows at once and prefetches the next row tile:
 *              qk_tiles_load8, qk_prefetch_tile)
 *   unpack  qk_unpack_scalar (mvp) -> qk_unpack32 (p1)
 *   lut     qk_lut8_scalar (mvp, p1) -> qk_lut8_perm (p4)
 *   scale   qk_scale8        fma  qk_fma8 (p2: qk_fma_tile)    hsum qk_hsum8
 *
 * Tails: a row's last block may be partial. Its packed bytes are padded to
 * 64, so reading the whole block is fine, but out and x end at n / cols:
 * whole groups of 8 take the vector path, the rest one element at a time
 * (qk_scale_span, qk_fma_span). Every variant of an op sums a row in the
 * same order (groups of 8 left to right into one vector, the tail into a
 * scalar added to lane 0), so staged and fused results agree exactly.
 *
 * Only files compiled with -mavx2 -mfma include this; the library runs
 * them only where the CPU has both.
 */
#ifndef QK256_PHASES_AVX2_H
#define QK256_PHASES_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "qk256_impl.h"

/*
 * p3 prefetches this many blocks (64 bytes each) ahead of the block being
 * computed. A block costs roughly 50-150 cycles of unpack/lut/fma work, so
 * 8 blocks cover 400-1200 cycles: more than a DRAM miss (~300 cycles at
 * 4 GHz), yet only 512 bytes per stream, so even p2's 8 row streams stay
 * far inside L1D. The hardware prefetcher already follows one sequential
 * stream; the software prefetch matters where it stops: at 4 KiB page
 * boundaries and across p2's 8 interleaved row streams.
 */
enum { QK256_PREFETCH_BLOCKS = 8 };

QK_INLINE float qk_scale_of(const float *scales, size_t b)
{
    return scales ? scales[b] : 1.0f;
}

/* ---- memory ------------------------------------------------------------ */

/* mvp: the 64 bytes of a block, one byte load at a time. */
QK_INLINE __m256i qk_fold_bytes(const uint8_t *blk)
{
    uint64_t fold = 0;
    for (size_t i = 0; i < QK256_BLOCK_BYTES; i++)
        fold = (fold << 1) ^ blk[i];
    return _mm256_set_epi64x(0, 0, 0, (long long)fold);
}

/* p1: 32 bytes as two 16-byte loads joined with vinserti128. The empty asm
 * hides where `hi` came from, so the compiler cannot merge the pair into the
 * single 32-byte load that is p3's step. */
QK_INLINE __m256i qk_load32_split(const uint8_t *p)
{
    __m128i lo = _mm_loadu_si128((const __m128i *)p);
    __m128i hi = _mm_loadu_si128((const __m128i *)(p + 16));
    __asm__("" : "+x"(hi));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* p3: one 32-byte load. */
QK_INLINE __m256i qk_load32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* p3: prefetch block b + QK256_PREFETCH_BLOCKS of a stream of nb blocks, if
 * there is one (no address past the stream is ever formed). */
QK_INLINE void qk_prefetch_block(const uint8_t *blocks, size_t b, size_t nb)
{
    if (b + QK256_PREFETCH_BLOCKS < nb)
        _mm_prefetch((const char *)blocks + (b + QK256_PREFETCH_BLOCKS) * QK256_BLOCK_BYTES,
                     _MM_HINT_T0);
}

/*
 * p3, fused gemv kernels: the next tile of rows, prefetched in memory order
 * while this tile runs. In a decode the weights stream from DRAM, and
 * qk_prefetch_block's 8 blocks ahead in each of a tile's rows keep too
 * little in flight. So the kernel of a tile of R rows sets a cursor on the
 * next tile (up to R rows) and advances it by R lines per block step
 * (qk_prefetch_tile), row by row, each row's blocks in turn: one contiguous
 * stretch when rows are packed back to back, as in a decode. The next
 * tile's scales go one line per block step. Nothing past the kernel's rows
 * is addressed. The weights go to L2 (T1), not L1: a tile, the next one and
 * x do not fit a 32 KB L1 together. The float kernels (p3, avx512-vbmi) use
 * the cursor; the int8 VNNI kernel leaves streaming to the hardware
 * prefetchers (gemv_i8_avx512.c). The measurements behind each choice are
 * in docs/performance.md, "Prefetching the weights".
 */
typedef struct qk_pf_tile {
    const uint8_t *row;  /* the row being fetched, NULL when done */
    size_t blk, rows;    /* next block in it; rows left, it included */
    size_t nb, stride;   /* blocks per row, bytes between rows */
    const float *scales; /* the next tile's scales, NULL if none */
    size_t nscales;      /* how many */
} qk_pf_tile;

/* How far ahead the cursor runs: at least this many bytes of weights, in
 * whole tiles (one 8-row tile of short rows is too close: the last lines of
 * the next tile arrived late). */
enum { QK_PF_AHEAD_BYTES = 8192 };

/* The cursor of a kernel tile of R rows starting at r0, of `rows`: on the
 * tile QK_PF_AHEAD_BYTES or more ahead. */
QK_INLINE qk_pf_tile qk_pf_next_tile(const uint8_t *packed, size_t row_stride, const float *scales,
                                     size_t nb, size_t r0, unsigned R, size_t rows)
{
    size_t tile = (size_t)R * row_stride;
    size_t ahead = tile >= QK_PF_AHEAD_BYTES ? 1 : (QK_PF_AHEAD_BYTES + tile - 1) / tile;
    size_t first = r0 + ahead * R; /* no overflow: rows * row_stride bytes exist */
    size_t left = rows > first ? rows - first : 0;
    size_t next = left < R ? left : R;
    qk_pf_tile c = {next ? packed + first * row_stride : NULL,   0,        next, nb, row_stride,
                    next && scales ? scales + first * nb : NULL, next * nb};
    return c;
}

/* Block step b: the next R lines of the next tile, and its scales' line b. */
QK_INLINE void qk_prefetch_tile(qk_pf_tile *c, size_t b, unsigned R)
{
    for (unsigned k = 0; k < R && c->row; k++) {
        _mm_prefetch((const char *)(c->row + c->blk * QK256_BLOCK_BYTES), _MM_HINT_T1);
        if (++c->blk == c->nb) {
            c->blk = 0;
            c->row = --c->rows ? c->row + c->stride : NULL;
        }
    }
    if (c->scales && 16 * b < c->nscales)
        _mm_prefetch((const char *)(c->scales + 16 * b), _MM_HINT_T0);
}

/* x[0..m) loaded 8 floats at a time, the tail one at a time, xor-folded. */
QK_INLINE __m256i qk_fold_floats(__m256i fold, const float *x, size_t m)
{
    size_t j = 0;
    for (; j + 8 <= m; j += 8)
        fold = _mm256_xor_si256(fold, _mm256_castps_si256(_mm256_loadu_ps(x + j)));
    for (; j < m; j++)
        fold = _mm256_xor_si256(fold, _mm256_castps_si256(_mm256_set1_ps(x[j])));
    return fold;
}

QK_INLINE uint64_t qk_fold_u64(__m256i v)
{
    __m128i h = _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(h) ^ (uint64_t)_mm_extract_epi64(h, 1);
}

/* ---- unpack ------------------------------------------------------------ */

/* mvp: codes[4i+k] = bits [2k+1:2k] of byte i, one byte at a time; the
 * four codes of a byte are shifted into one 32-bit word and stored at once
 * (little-endian: code k lands in byte k). */
QK_INLINE void qk_unpack_scalar(uint8_t *codes, const uint8_t *blk)
{
    for (size_t i = 0; i < QK256_BLOCK_BYTES; i++) {
        uint32_t byte = blk[i];
        uint32_t w =
            (byte & 3u) | (byte >> 2 & 3u) << 8 | (byte >> 4 & 3u) << 16 | (byte >> 6) << 24;
        memcpy(codes + 4 * i, &w, sizeof w);
    }
}

/* 128 codes in element order: q[0] holds elements 0..31, q[3] 96..127. */
typedef struct {
    __m256i q[4];
} qk_codes128;

/* p1: 32 packed bytes -> 128 codes. The four 2-bit fields of every byte are
 * shifted down and masked (a_k = field k), then interleaved so that byte i
 * becomes a_0[i] a_1[i] a_2[i] a_3[i]: bytes, then 16-bit pairs (in-lane,
 * so each lane yields 64 codes in four pieces), then the lanes are put in
 * order with permute2x128. */
QK_INLINE qk_codes128 qk_unpack32(__m256i v)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256i a0 = _mm256_and_si256(v, m3);
    __m256i a1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
    __m256i a2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
    __m256i a3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
    __m256i lo01 = _mm256_unpacklo_epi8(a0, a1), hi01 = _mm256_unpackhi_epi8(a0, a1);
    __m256i lo23 = _mm256_unpacklo_epi8(a2, a3), hi23 = _mm256_unpackhi_epi8(a2, a3);
    __m256i e0 = _mm256_unpacklo_epi16(lo01, lo23); /* bytes 0-3  | 16-19 */
    __m256i e1 = _mm256_unpackhi_epi16(lo01, lo23); /* bytes 4-7  | 20-23 */
    __m256i e2 = _mm256_unpacklo_epi16(hi01, hi23); /* bytes 8-11 | 24-27 */
    __m256i e3 = _mm256_unpackhi_epi16(hi01, hi23); /* bytes 12-15| 28-31 */
    qk_codes128 c = {{
        _mm256_permute2x128_si256(e0, e1, 0x20),
        _mm256_permute2x128_si256(e2, e3, 0x20),
        _mm256_permute2x128_si256(e0, e1, 0x31),
        _mm256_permute2x128_si256(e2, e3, 0x31),
    }};
    return c;
}

QK_INLINE void qk_store_codes(uint8_t *dst, qk_codes128 c)
{
#pragma GCC unroll 4
    for (unsigned q = 0; q < 4; q++)
        _mm256_storeu_si256((__m256i *)(dst + 32 * q), c.q[q]);
}

/* Codes k*8 .. k*8+7 of a 32-code vector, in the low 8 bytes (k constant). */
QK_INLINE __m128i qk_codes8(__m256i c32, unsigned k)
{
    __m128i h = k < 2 ? _mm256_castsi256_si128(c32) : _mm256_extracti128_si256(c32, 1);
    return k & 1 ? _mm_unpackhi_epi64(h, h) : h;
}

/* ---- lut --------------------------------------------------------------- */

/* mvp, p1: eight lookups one at a time, put together in a register, not
 * stored to an array and loaded back: eight 4-byte stores read by one
 * 32-byte load cannot be forwarded (docs/performance.md, "The MVP's store
 * forwarding stall"). */
QK_INLINE __m256 qk_lut8_scalar(const float tab[4], const uint8_t *codes)
{
    return _mm256_setr_ps(tab[codes[0]], tab[codes[1]], tab[codes[2]], tab[codes[3]], tab[codes[4]],
                          tab[codes[5]], tab[codes[6]], tab[codes[7]]);
}

/* mvp, p1 (gemv): the table with the block scale folded in. */
QK_INLINE void qk_table_scaled_scalar(float tab[4], const float lut[4], float s)
{
    for (unsigned k = 0; k < 4; k++)
        tab[k] = lut[k] * s;
}

/* p4: the table in a register, duplicated into both 128-bit halves. */
QK_INLINE __m256 qk_table(const float lut[4])
{
    __m128 t = _mm_loadu_ps(lut);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(t), t, 1);
}

/* p4 (gemv): the same, times the block scale (the products are those of
 * qk_table_scaled_scalar: one IEEE multiply each). */
QK_INLINE __m256 qk_table_scaled(const float lut[4], float s)
{
    return _mm256_mul_ps(qk_table(lut), _mm256_set1_ps(s));
}

/* p4: eight codes (low 8 bytes of c8) -> eight table values, vpermps. */
QK_INLINE __m256 qk_lut8_perm(__m256 tab, __m128i c8)
{
    return _mm256_permutevar8x32_ps(tab, _mm256_cvtepu8_epi32(c8));
}

QK_INLINE __m256 qk_lut8_perm_mem(__m256 tab, const uint8_t *codes)
{
    return qk_lut8_perm(tab, _mm_loadl_epi64((const __m128i *)codes));
}

/* ---- scale (dequantize) ------------------------------------------------ */

QK_INLINE void qk_scale8(float *out, __m256 v, __m256 s)
{
    _mm256_storeu_ps(out, _mm256_mul_ps(v, s));
}

/* out[0..m) = vals[0..m) * s: groups of 8, then one at a time. */
QK_INLINE void qk_scale_span(float *out, const float *vals, float s, size_t m)
{
    size_t i = 0;
    for (; i + 8 <= m; i += 8)
        qk_scale8(out + i, _mm256_loadu_ps(vals + i), _mm256_set1_ps(s));
    for (; i < m; i++)
        out[i] = vals[i] * s;
}

/* ---- fma and hsum (gemv) ----------------------------------------------- */

QK_INLINE __m256 qk_fma8(__m256 acc, __m256 w, const float *x)
{
    return _mm256_fmadd_ps(w, _mm256_loadu_ps(x), acc);
}

/* acc += w[j..j+8) * x[j..j+8) for whole groups of 8 of [0, m), in order;
 * the rest is added to *tail one at a time. */
QK_INLINE __m256 qk_fma_span(__m256 acc, float *tail, const float *w, const float *x, size_t m)
{
    size_t j = 0;
    for (; j + 8 <= m; j += 8)
        acc = qk_fma8(acc, _mm256_loadu_ps(w + j), x + j);
    for (; j < m; j++)
        *tail += w[j] * x[j];
    return acc;
}

/* A row's accumulator as it is stored in ws->acc: the tail sum in lane 0. */
QK_INLINE __m256 qk_add_tail(__m256 acc, float tail)
{
    return _mm256_add_ps(acc, _mm256_setr_ps(tail, 0, 0, 0, 0, 0, 0, 0));
}

QK_INLINE float qk_hsum8(__m256 acc)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- p2: tiles of 8 rows x 16 columns (gemv) ---------------------------- */

/*
 * A tile is 4 packed bytes (16 columns) of each of 8 rows, row r in bytes
 * 4r..4r+3, so qk_unpack32 turns it into 16 codes per row: row 2q in the
 * low half of q[q], row 2q+1 in the high half.
 */

/* Four bytes at any alignment. */
QK_INLINE int qk_load4(const uint8_t *p)
{
    int v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

/* p2: a tile gathered with 4-byte loads, two 16-byte halves joined with
 * vinserti128 as in p1. */
QK_INLINE __m256i qk_tile_gather(const uint8_t *const row[8], size_t off)
{
    __m128i lo = _mm_setr_epi32(qk_load4(row[0] + off), qk_load4(row[1] + off),
                                qk_load4(row[2] + off), qk_load4(row[3] + off));
    __m128i hi = _mm_setr_epi32(qk_load4(row[4] + off), qk_load4(row[5] + off),
                                qk_load4(row[6] + off), qk_load4(row[7] + off));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* p3: 8 tiles from one 32-byte load of each of 8 rows: an 8x8 transpose of
 * 32-bit words (tile t = word t of every row). */
QK_INLINE void qk_tiles_load8(__m256i tile[8], const uint8_t *const row[8], size_t off)
{
    __m256i v[8], t[8], u[8];
#pragma GCC unroll 8
    for (unsigned r = 0; r < 8; r++)
        v[r] = qk_load32(row[r] + off);
#pragma GCC unroll 4
    for (unsigned r = 0; r < 8; r += 2) {
        t[r] = _mm256_unpacklo_epi32(v[r], v[r + 1]);     /* words 0 1 | 4 5 */
        t[r + 1] = _mm256_unpackhi_epi32(v[r], v[r + 1]); /* words 2 3 | 6 7 */
    }
#pragma GCC unroll 2
    for (unsigned r = 0; r < 8; r += 4) {
        u[r] = _mm256_unpacklo_epi64(t[r], t[r + 2]);         /* word 0 | 4 */
        u[r + 1] = _mm256_unpackhi_epi64(t[r], t[r + 2]);     /* word 1 | 5 */
        u[r + 2] = _mm256_unpacklo_epi64(t[r + 1], t[r + 3]); /* word 2 | 6 */
        u[r + 3] = _mm256_unpackhi_epi64(t[r + 1], t[r + 3]); /* word 3 | 7 */
    }
#pragma GCC unroll 4
    for (unsigned k = 0; k < 4; k++) {
        tile[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);
        tile[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);
    }
}

/* The 16 codes of row r (constant) of an unpacked tile. */
QK_INLINE __m128i qk_tile_row(qk_codes128 c, unsigned r)
{
    return r & 1 ? _mm256_extracti128_si256(c.q[r >> 1], 1) : _mm256_castsi256_si128(c.q[r >> 1]);
}

/* p2: one row's 16 weights against the two vectors of x every row shares. */
QK_INLINE __m256 qk_fma_row16(__m256 acc, __m256 w0, __m256 w1, __m256 x0, __m256 x1)
{
    return _mm256_fmadd_ps(w1, x1, _mm256_fmadd_ps(w0, x0, acc));
}

/* p2: a whole tile, 16 independent FMAs (two per row) instead of one chain. */
QK_INLINE void qk_fma_tile(__m256 acc[8], const __m256 tab[8], qk_codes128 c, const float *x)
{
    __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
#pragma GCC unroll 8
    for (unsigned r = 0; r < 8; r++) {
        __m128i c16 = qk_tile_row(c, r);
        acc[r] = qk_fma_row16(acc[r], qk_lut8_perm(tab[r], c16),
                              qk_lut8_perm(tab[r], _mm_unpackhi_epi64(c16, c16)), x0, x1);
    }
}

#endif
