/*
 * phases_avx512.h — the AVX-512 phase blocks of the avx512-* float variants
 * (dequant_avx512.c, gemv_avx512.c), on top of the AVX2 blocks they reuse
 * (qk_prefetch_block, qk_hsum8, qk_scale_of from phases_avx2.h).
 *
 * The ladder steps past avx2-*-p3, each swapping one block:
 *
 *   unpack  qk5_idx_lo/hi: one vpmultishiftqb and one shift per 32 codes,
 *           straight from a broadcast 8-byte load; the codes land in the
 *           low bits of 16 dword lanes, ready to index a table (no
 *           interleaves, no zero-extension, no mask)
 *   lut     qk5_lut16: vpermps on zmm over the table replicated 4 times,
 *           so index bits above the code (the next code) are ignored
 *   store   qk5_store16: 64-byte stores; a masked store for a partial
 *           block, so tails take the vector path too
 *   fma     qk5_fma16: zmm FMA, masked for a partial block, two chains per
 *           row (qk5_fold8 folds them to the 8 lanes the AVX2 hsum takes)
 *
 * Only files compiled with the AVX-512 flags (F BW VL DQ VBMI) include this;
 * the library runs them only where the CPU has them (never under valgrind).
 */
#ifndef QK256_PHASES_AVX512_H
#define QK256_PHASES_AVX512_H

#include "phases_avx2.h"

/* Mask of the lanes of a 16-lane group starting at element `at` that lie
 * below `m` (all 16 for a full group, none past the end). */
QK_INLINE __mmask16 qk5_mask(size_t m, size_t at)
{
    if (at >= m)
        return 0;
    return m - at >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (m - at)) - 1);
}

/* ---- unpack ------------------------------------------------------------ */

/*
 * vpmultishiftqb control: byte 0 of dword lane l takes the 8 bits at offset
 * 2l of the qword, byte 2 those at offset 32 + 2l. So code l of the qword
 * sits in bits [1:0] of lane l, and code 16 + l in bits [17:16]; the bits
 * above each code hold the following codes, which the table ignores.
 */
QK_INLINE __m512i qk5_ctrl(void)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i lo = _mm512_slli_epi32(lane, 1);
    return _mm512_or_si512(lo, _mm512_slli_epi32(_mm512_add_epi32(lo, _mm512_set1_epi32(32)), 16));
}

/* Codes 32q .. 32q+15 of a block as table indices, one per dword lane: the
 * block's qword q is broadcast (folded into the instruction's load) and one
 * vpmultishiftqb places its codes; codes 32q+16 .. 32q+31 wait in bits
 * [17:16] for qk5_idx_hi. */
QK_INLINE __m512i qk5_idx_lo(const uint8_t *blk, unsigned q, __m512i ctrl)
{
    long long v;
    __builtin_memcpy(&v, blk + 8 * q, sizeof v);
    return _mm512_multishift_epi64_epi8(ctrl, _mm512_set1_epi64(v));
}

/* Codes 32q+16 .. 32q+31 from qk5_idx_lo's result: one shift, which runs
 * beside the shuffles, where a second vpmultishiftqb would compete with
 * vpermps for the shuffle pipes (docs/performance.md, "AVX-512 unpack"). */
QK_INLINE __m512i qk5_idx_hi(__m512i lo)
{
    return _mm512_srli_epi32(lo, 16);
}

/* The 16 codes of an index vector as bytes 0..3 (for the codes buffer). */
QK_INLINE __m128i qk5_codes_bytes(__m512i idx)
{
    return _mm_and_si128(_mm512_cvtepi32_epi8(idx), _mm_set1_epi8(3));
}

/* ---- lut --------------------------------------------------------------- */

/* The table in all four 128-bit lanes: entry i is lut[i & 3], so vpermps,
 * which reads 4 index bits, ignores the neighbouring code in bits [3:2]. */
QK_INLINE __m512 qk5_table(const float lut[4])
{
    return _mm512_broadcast_f32x4(_mm_loadu_ps(lut));
}

/* The same times the block scale: lut[k] * s, one IEEE multiply each, the
 * very products the scalar reference forms. */
QK_INLINE __m512 qk5_table_scaled(const float lut[4], float s)
{
    return _mm512_mul_ps(qk5_table(lut), _mm512_set1_ps(s));
}

QK_INLINE __m512 qk5_lut16(__m512 tab, __m512i idx)
{
    return _mm512_permutexvar_ps(idx, tab);
}

/* 16 codes from a bytes buffer -> 16 table values. */
QK_INLINE __m512 qk5_lut16_mem(__m512 tab, const uint8_t *codes)
{
    return qk5_lut16(tab, _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)codes)));
}

/* ---- store, fma, reduce ------------------------------------------------ */

/* 16 floats, or the lanes of k (the mask is constant in full blocks, where
 * this is a plain 64-byte store). */
QK_INLINE void qk5_store16(float *p, __m512 v, __mmask16 k)
{
    if (k == 0xffff)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, k, v);
}

/* 16 floats of x; lanes outside k read as 0 and are never touched. */
QK_INLINE __m512 qk5_load16(const float *p, __mmask16 k)
{
    return k == 0xffff ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(k, p);
}

/* acc += w * x in the lanes of k; the others keep acc (a padded code past
 * cols may select any table entry, and inf * 0 would be NaN). */
QK_INLINE __m512 qk5_fma16(__m512 acc, __m512 w, __m512 x, __mmask16 k)
{
    return k == 0xffff ? _mm512_fmadd_ps(w, x, acc) : _mm512_mask3_fmadd_ps(w, x, acc, k);
}

/* A row's two chains -> the 8 lanes stored in ws->acc and reduced by
 * qk_hsum8: (a + b), then its upper 256 bits onto the lower. */
QK_INLINE __m256 qk5_fold8(__m512 a, __m512 b)
{
    __m512 s = _mm512_add_ps(a, b);
    return _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
}

#endif
