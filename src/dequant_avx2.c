/*
 * dequant_avx2.c — the AVX2 dequantize variants, one rung of the sprint's
 * ladder each: avx2-mvp, avx2-p1, avx2-p1-p4, avx2-p1-p4-p3.
 *
 * Every variant is a composition of phase blocks from phases_avx2.h, and
 * each ladder step swaps one of them:
 *
 *   variant          memory (loads)     unpack              lut
 *   avx2-mvp         bytes              scalar -> buffer    scalar
 *   avx2-p1          2 x 16-byte        vector -> buffer    scalar
 *   avx2-p1-p4       2 x 16-byte        vector, registers   vpermps
 *   avx2-p1-p4-p3    32-byte + prefetch vector, registers   vpermps
 *
 * scale (one multiply by the broadcast block scale, 8-float stores) is the
 * same everywhere. The product is lut[code] * scale, a single IEEE multiply,
 * so every variant is bit-exact with the scalar reference.
 *
 * The staged phases run one block step over the whole workspace; the fused
 * kernels run the same steps block by block. A partial last block is done
 * by dq_partial: lookups one at a time, then the shared tail-safe scale.
 */
#include "phases_avx2.h"
#include "phases_scalar.h"

/* Elements of block b of an n-element row (256 except maybe the last). */
static inline size_t block_len(size_t n, size_t b)
{
    size_t left = n - b * QK256_BLOCK;
    return left < QK256_BLOCK ? left : QK256_BLOCK;
}

/* ---- block steps, shared by the fused kernels and the staged phases ---- */

/* p1 unpack: 64 bytes -> 256 codes in a buffer, 32 bytes per vector pass. */
QK_INLINE void unpack_split(uint8_t *codes, const uint8_t *blk)
{
    qk_store_codes(codes, qk_unpack32(qk_load32_split(blk)));
    qk_store_codes(codes + 128, qk_unpack32(qk_load32_split(blk + 32)));
}

/* p3 unpack (staged only; the fused p3 keeps codes in registers). */
QK_INLINE void unpack_32(uint8_t *codes, const uint8_t *blk)
{
    qk_store_codes(codes, qk_unpack32(qk_load32(blk)));
    qk_store_codes(codes + 128, qk_unpack32(qk_load32(blk + 32)));
}

/* mvp and p1, lut then scale: 256 codes from a buffer, looked up one at a
 * time, multiplied and stored 8 at a time. */
QK_INLINE void lut_scale_buffer(float *out, const uint8_t *codes, const float lut[4], __m256 s)
{
    for (size_t i = 0; i < QK256_BLOCK; i += 8)
        qk_scale8(out + i, qk_lut8_scalar(lut, codes + i), s);
}

/* p4, lut then scale of 128 codes held in registers. */
QK_INLINE void lut_scale_regs(float *out, qk_codes128 c, __m256 tab, __m256 s)
{
#pragma GCC unroll 4
    for (unsigned q = 0; q < 4; q++)
#pragma GCC unroll 4
        for (unsigned k = 0; k < 4; k++)
            qk_scale8(out + 32 * q + 8 * k, qk_lut8_perm(tab, qk_codes8(c.q[q], k)), s);
}

/* The last, partial block: m < 256 elements, nothing written past them. */
static void dq_partial(float *out, const uint8_t *blk, const float lut[4], float s, size_t m)
{
    float vals[QK256_BLOCK];
    for (size_t i = 0; i < m; i++)
        vals[i] = qks_lut(lut, qk256_code(blk, i));
    qk_scale_span(out, vals, s, m);
}

static void dq_tail(float *out, const uint8_t *packed, const float *scales, size_t n,
                    const float lut[4])
{
    size_t b = n / QK256_BLOCK;
    if (n % QK256_BLOCK)
        dq_partial(out + b * QK256_BLOCK, packed + b * QK256_BLOCK_BYTES, lut,
                   qk_scale_of(scales, b), n % QK256_BLOCK);
}

/* ---- fused kernels ----------------------------------------------------- */

void qk256_dq_avx2_mvp(float *out, const uint8_t *packed, const float *scales, size_t n,
                       const float lut[4])
{
    uint8_t codes[QK256_BLOCK];
    for (size_t b = 0; b < n / QK256_BLOCK; b++) {
        qk_unpack_scalar(codes, packed + b * QK256_BLOCK_BYTES);
        lut_scale_buffer(out + b * QK256_BLOCK, codes, lut, _mm256_set1_ps(qk_scale_of(scales, b)));
    }
    dq_tail(out, packed, scales, n, lut);
}

void qk256_dq_avx2_p1(float *out, const uint8_t *packed, const float *scales, size_t n,
                      const float lut[4])
{
    uint8_t codes[QK256_BLOCK];
    for (size_t b = 0; b < n / QK256_BLOCK; b++) {
        unpack_split(codes, packed + b * QK256_BLOCK_BYTES);
        lut_scale_buffer(out + b * QK256_BLOCK, codes, lut, _mm256_set1_ps(qk_scale_of(scales, b)));
    }
    dq_tail(out, packed, scales, n, lut);
}

void qk256_dq_avx2_p1_p4(float *out, const uint8_t *packed, const float *scales, size_t n,
                         const float lut[4])
{
    __m256 tab = qk_table(lut);
    for (size_t b = 0; b < n / QK256_BLOCK; b++) {
        const uint8_t *blk = packed + b * QK256_BLOCK_BYTES;
        __m256 s = _mm256_set1_ps(qk_scale_of(scales, b));
        float *o = out + b * QK256_BLOCK;
        lut_scale_regs(o, qk_unpack32(qk_load32_split(blk)), tab, s);
        lut_scale_regs(o + 128, qk_unpack32(qk_load32_split(blk + 32)), tab, s);
    }
    dq_tail(out, packed, scales, n, lut);
}

void qk256_dq_avx2_p1_p4_p3(float *out, const uint8_t *packed, const float *scales, size_t n,
                            const float lut[4])
{
    size_t nb = (n + QK256_BLOCK - 1) / QK256_BLOCK;
    __m256 tab = qk_table(lut);
    for (size_t b = 0; b < n / QK256_BLOCK; b++) {
        const uint8_t *blk = packed + b * QK256_BLOCK_BYTES;
        __m256 s = _mm256_set1_ps(qk_scale_of(scales, b));
        float *o = out + b * QK256_BLOCK;
        qk_prefetch_block(packed, b, nb);
        lut_scale_regs(o, qk_unpack32(qk_load32(blk)), tab, s);
        lut_scale_regs(o + 128, qk_unpack32(qk_load32(blk + 32)), tab, s);
    }
    dq_tail(out, packed, scales, n, lut);
}

/* ---- staged phases: one step per block over the workspace -------------- */

/* memory: what the kernel stores (the block's scale, 8 floats at a time)
 * plus `load`, the variant's loads of the block folded to one vector. */
QK_INLINE void store_scale(qk256_ws *w, size_t b)
{
    float s = w->scales[b];
    float *out = w->out + b * QK256_BLOCK;
    size_t m = block_len(w->cols, b), i = 0;
    for (; i + 8 <= m; i += 8)
        _mm256_storeu_ps(out + i, _mm256_set1_ps(s));
    for (; i < m; i++)
        out[i] = s;
}

QK_INLINE __m256i mem_bytes(qk256_ws *w, size_t b)
{
    store_scale(w, b);
    return qk_fold_bytes(w->packed + b * QK256_BLOCK_BYTES);
}

QK_INLINE __m256i mem_split(qk256_ws *w, size_t b)
{
    const uint8_t *blk = w->packed + b * QK256_BLOCK_BYTES;
    store_scale(w, b);
    return _mm256_xor_si256(qk_load32_split(blk), qk_load32_split(blk + 32));
}

QK_INLINE __m256i mem_32(qk256_ws *w, size_t b)
{
    const uint8_t *blk = w->packed + b * QK256_BLOCK_BYTES;
    qk_prefetch_block(w->packed, b, w->nb);
    store_scale(w, b);
    return _mm256_xor_si256(qk_load32(blk), qk_load32(blk + 32));
}

QK_INLINE void unpack_step_scalar(qk256_ws *w, size_t b)
{
    qk_unpack_scalar(w->codes + b * QK256_BLOCK, w->packed + b * QK256_BLOCK_BYTES);
}

QK_INLINE void unpack_step_split(qk256_ws *w, size_t b)
{
    unpack_split(w->codes + b * QK256_BLOCK, w->packed + b * QK256_BLOCK_BYTES);
}

QK_INLINE void unpack_step_32(qk256_ws *w, size_t b)
{
    unpack_32(w->codes + b * QK256_BLOCK, w->packed + b * QK256_BLOCK_BYTES);
}

/* lut: codes -> unscaled values, whole (padded) blocks. */
QK_INLINE void lut_step_scalar(qk256_ws *w, size_t b)
{
    for (size_t i = b * QK256_BLOCK; i < (b + 1) * QK256_BLOCK; i += 8)
        _mm256_storeu_ps(w->vals + i, qk_lut8_scalar(w->lut, w->codes + i));
}

QK_INLINE void lut_step_perm(qk256_ws *w, size_t b)
{
    __m256 tab = qk_table(w->lut);
    for (size_t i = b * QK256_BLOCK; i < (b + 1) * QK256_BLOCK; i += 8)
        _mm256_storeu_ps(w->vals + i, qk_lut8_perm_mem(tab, w->codes + i));
}

QK_INLINE void scale_step(qk256_ws *w, size_t b)
{
    qk_scale_span(w->out + b * QK256_BLOCK, w->vals + b * QK256_BLOCK, w->scales[b],
                  block_len(w->cols, b));
}

/* A staged phase: `step` over every block, the loop body an llvm-mca
 * region named `mca` ("<op>/<variant>/<phase>@<elements>[#<loop>]", see
 * harness/mca.h). llvm-mca models straight-line code only, so where the
 * step holds loops the region is narrowed to one inner loop, and <elements>
 * counts what one pass of that loop handles (gcc -O2 output):
 *   mvp unpack               the per-byte loop of qk_unpack_scalar: 4
 *   mvp/p1 lut               the 8-code loop: 8
 *   scale, memory            the 8-float loop: 8; mvp memory models its
 *                            per-byte fold instead (loop 3): 4
 *   p4 lut                   the 8-code vpermps loop: 8
 *   p1+ unpack               straight-line, the whole block: 256 */

/* The memory phase also folds what `load` returns into ws->sink. */
#define DQ_MEMORY_STAGE(fn, mca, load)                 \
    static void fn(void *ws)                           \
    {                                                  \
        qk256_ws *w = ws;                              \
        __m256i fold = _mm256_setzero_si256();         \
        for (size_t b = 0; b < w->nb; b++) {           \
            QK_MCA_BEGIN(mca);                         \
            fold = _mm256_xor_si256(fold, load(w, b)); \
            QK_MCA_END(mca);                           \
        }                                              \
        w->sink = qk_fold_u64(fold);                   \
    }

/* The blocks each phase's fused code is made of (qk_phase.blocks). */
#define SCALE_BLOCKS "qk_scale8", "qk_scale_span", "qk_scale_of"
#define SCALAR_LUT_BLOCKS "qk_lut8_scalar", "qks_lut"
#define PERM_LUT_BLOCKS "qk_table", "qk_codes8", "qk_lut8_perm", "qks_lut"

DQ_MEMORY_STAGE(mvp_memory, "dequantize/avx2-mvp/memory@4#3", mem_bytes)
QK_DQ_STAGE(mvp_unpack, "dequantize/avx2-mvp/unpack@4", unpack_step_scalar)
QK_DQ_STAGE(mvp_lut, "dequantize/avx2-mvp/lut@8", lut_step_scalar)
QK_DQ_STAGE(mvp_scale, "dequantize/avx2-mvp/scale@8", scale_step)
QK_DQ_PHASES(avx2_mvp, QK_PHASE(mvp_memory, NULL, NULL),
             QK_PHASE(mvp_unpack, NULL, "qk_unpack_scalar", "qk256_code"),
             QK_PHASE(mvp_lut, NULL, SCALAR_LUT_BLOCKS), QK_PHASE(mvp_scale, NULL, SCALE_BLOCKS));

DQ_MEMORY_STAGE(p1_memory, "dequantize/avx2-p1/memory@8", mem_split)
QK_DQ_STAGE(p1_unpack, "dequantize/avx2-p1/unpack@256", unpack_step_split)
QK_DQ_STAGE(p1_lut, "dequantize/avx2-p1/lut@8", lut_step_scalar)
QK_DQ_STAGE(p1_scale, "dequantize/avx2-p1/scale@8", scale_step)
QK_DQ_PHASES(avx2_p1, QK_PHASE(p1_memory, NULL, "qk_load32_split"),
             QK_PHASE(p1_unpack, NULL, "qk_unpack32", "qk_store_codes", "qk256_code"),
             QK_PHASE(p1_lut, NULL, SCALAR_LUT_BLOCKS), QK_PHASE(p1_scale, NULL, SCALE_BLOCKS));

DQ_MEMORY_STAGE(p4_memory, "dequantize/avx2-p1-p4/memory@8", mem_split)
QK_DQ_STAGE(p4_unpack, "dequantize/avx2-p1-p4/unpack@256", unpack_step_split)
QK_DQ_STAGE(p4_lut, "dequantize/avx2-p1-p4/lut@8", lut_step_perm)
QK_DQ_STAGE(p4_scale, "dequantize/avx2-p1-p4/scale@8", scale_step)
QK_DQ_PHASES(avx2_p1_p4, QK_PHASE(p4_memory, NULL, "qk_load32_split"),
             QK_PHASE(p4_unpack, NULL, "qk_unpack32", "qk256_code"),
             QK_PHASE(p4_lut, NULL, PERM_LUT_BLOCKS), QK_PHASE(p4_scale, NULL, SCALE_BLOCKS));

DQ_MEMORY_STAGE(p3_memory, "dequantize/avx2-p1-p4-p3/memory@8", mem_32)
QK_DQ_STAGE(p3_unpack, "dequantize/avx2-p1-p4-p3/unpack@256", unpack_step_32)
QK_DQ_STAGE(p3_lut, "dequantize/avx2-p1-p4-p3/lut@8", lut_step_perm)
QK_DQ_STAGE(p3_scale, "dequantize/avx2-p1-p4-p3/scale@8", scale_step)
QK_DQ_PHASES(avx2_p1_p4_p3, QK_PHASE(p3_memory, NULL, "qk_load32", "qk_prefetch_block"),
             QK_PHASE(p3_unpack, NULL, "qk_unpack32", "qk256_code"),
             QK_PHASE(p3_lut, NULL, PERM_LUT_BLOCKS), QK_PHASE(p3_scale, NULL, SCALE_BLOCKS));
