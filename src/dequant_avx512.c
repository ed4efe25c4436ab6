/*
 * dequant_avx512.c — the AVX-512 dequantize variant, the rung after
 * avx2-p1-p4-p3: avx512-vbmi.
 *
 *   variant        memory (loads)           unpack               lut + scale
 *   avx512-vbmi    8-byte broadcasts,       vpmultishiftqb +     vpermps zmm on the
 *                  64-byte (masked) stores  shift, 32 codes      block-scaled table
 *
 * Per 32 outputs the fused kernel runs six instructions (multishift with
 * its folded broadcast load, shift, two vpermps, two stores), so it is
 * bound by the store port rather than by shuffles. The table is multiplied by the block scale
 * once per block: lut[k] * s is one IEEE multiply, as in the scalar
 * reference, so the output is bit-exact. A partial last block runs the
 * same code with masked stores.
 *
 * The staged phases run the same blocks over the workspace buffers: unpack
 * narrows the index vectors to the codes buffer, lut looks codes up in the
 * unscaled table, scale multiplies and stores (not the kernel's order of
 * work: its phases[] says so).
 */
#include "phases_avx512.h"

static inline size_t block_len(size_t n, size_t b)
{
    size_t left = n - b * QK256_BLOCK;
    return left < QK256_BLOCK ? left : QK256_BLOCK;
}

/* ---- the fused kernel -------------------------------------------------- */

/* One block of m <= 256 elements: 8 steps of unpack, lookup, store of 32. */
QK_INLINE void block_vbmi(float *out, const uint8_t *blk, __m512 tab, __m512i ctrl, size_t m)
{
#pragma GCC unroll 8
    for (unsigned q = 0; q < 8; q++) {
        __mmask16 k0 = qk5_mask(m, 32 * q), k1 = qk5_mask(m, 32 * q + 16);
        if (!k0)
            break;
        __m512i lo = qk5_idx_lo(blk, q, ctrl);
        qk5_store16(out + 32 * q, qk5_lut16(tab, lo), k0);
        if (k1)
            qk5_store16(out + 32 * q + 16, qk5_lut16(tab, qk5_idx_hi(lo)), k1);
    }
}

void qk256_dq_avx512_vbmi(float *out, const uint8_t *packed, const float *scales, size_t n,
                          const float lut[4])
{
    size_t nb = (n + QK256_BLOCK - 1) / QK256_BLOCK, full = n / QK256_BLOCK;
    const __m512i ctrl = qk5_ctrl();
    for (size_t b = 0; b < full; b++) {
        qk_prefetch_block(packed, b, nb);
        block_vbmi(out + b * QK256_BLOCK, packed + b * QK256_BLOCK_BYTES,
                   qk5_table_scaled(lut, qk_scale_of(scales, b)), ctrl, QK256_BLOCK);
    }
    if (full < nb)
        block_vbmi(out + full * QK256_BLOCK, packed + full * QK256_BLOCK_BYTES,
                   qk5_table_scaled(lut, qk_scale_of(scales, full)), ctrl, n % QK256_BLOCK);
}

/* ---- staged phases: one step per block over the workspace -------------- */

/* memory: the stores of the block (its scale, 16 floats at a time, masked
 * at the end) and the kernel's eight 8-byte loads, folded. */
QK_INLINE __m256i mem_step(qk256_ws *w, size_t b)
{
    const uint8_t *blk = w->packed + b * QK256_BLOCK_BYTES;
    __m512 s = _mm512_set1_ps(w->scales[b]);
    size_t m = block_len(w->cols, b);
    long long fold = 0;
    qk_prefetch_block(w->packed, b, w->nb);
    for (unsigned g = 0; g < 16; g++) {
        __mmask16 k = qk5_mask(m, 16 * g);
        if (k)
            qk5_store16(w->out + b * QK256_BLOCK + 16 * g, s, k);
    }
    for (unsigned q = 0; q < 8; q++) {
        long long v;
        __builtin_memcpy(&v, blk + 8 * q, sizeof v);
        fold ^= v;
    }
    return _mm256_set1_epi64x(fold);
}

/* unpack: the kernel's index vectors, narrowed to one code per byte. */
QK_INLINE void unpack_step(qk256_ws *w, size_t b)
{
    const __m512i ctrl = qk5_ctrl();
    const uint8_t *blk = w->packed + b * QK256_BLOCK_BYTES;
    uint8_t *codes = w->codes + b * QK256_BLOCK;
#pragma GCC unroll 8
    for (unsigned q = 0; q < 8; q++) {
        __m512i lo = qk5_idx_lo(blk, q, ctrl);
        _mm_storeu_si128((__m128i *)(codes + 32 * q), qk5_codes_bytes(lo));
        _mm_storeu_si128((__m128i *)(codes + 32 * q + 16), qk5_codes_bytes(qk5_idx_hi(lo)));
    }
}

/* lut: codes -> unscaled values, whole (padded) blocks. */
QK_INLINE void lut_step(qk256_ws *w, size_t b)
{
    __m512 tab = qk5_table(w->lut);
    for (size_t i = b * QK256_BLOCK; i < (b + 1) * QK256_BLOCK; i += 16)
        _mm512_storeu_ps(w->vals + i, qk5_lut16_mem(tab, w->codes + i));
}

/* scale: values times the block scale, masked at the end. */
QK_INLINE void scale_step(qk256_ws *w, size_t b)
{
    __m512 s = _mm512_set1_ps(w->scales[b]);
    size_t m = block_len(w->cols, b), at = b * QK256_BLOCK;
    for (unsigned g = 0; g < 16; g++) {
        __mmask16 k = qk5_mask(m, 16 * g);
        if (k)
            qk5_store16(w->out + at + 16 * g,
                        _mm512_mul_ps(_mm512_loadu_ps(w->vals + at + 16 * g), s), k);
    }
}

static void vbmi_memory(void *ws)
{
    qk256_ws *w = ws;
    __m256i fold = _mm256_setzero_si256();
    for (size_t b = 0; b < w->nb; b++) {
        QK_MCA_BEGIN("dequantize/avx512-vbmi/memory");
        fold = _mm256_xor_si256(fold, mem_step(w, b));
        QK_MCA_END("dequantize/avx512-vbmi/memory");
    }
    w->sink = qk_fold_u64(fold);
}

QK_DQ_STAGE(vbmi_unpack, "dequantize/avx512-vbmi/unpack", unpack_step)
QK_DQ_STAGE(vbmi_lut, "dequantize/avx512-vbmi/lut", lut_step)
QK_DQ_STAGE(vbmi_scale, "dequantize/avx512-vbmi/scale", scale_step)

/* Where the staged phases are not the kernel's code (shown with the records). */
#define LUT_NOTE                                                                             \
    "the fused kernel looks codes up in a table scaled once per block; staged lut uses the " \
    "unscaled table"
#define SCALE_NOTE                                                                           \
    "the fused kernel scales the table once per block; staged scale multiplies every value " \
    "looked up"

QK_DQ_PHASES(avx512_vbmi, QK_PHASE(vbmi_memory, NULL, "qk_prefetch_block"),
             QK_PHASE(vbmi_unpack, NULL, "qk5_idx_lo", "qk5_idx_hi"),
             QK_PHASE(vbmi_lut, LUT_NOTE, "qk5_table", "qk5_lut16"),
             QK_PHASE(vbmi_scale, SCALE_NOTE, "qk5_table_scaled", "qk5_store16", "qk5_mask",
                      "qk_scale_of"));
