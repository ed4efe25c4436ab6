/*
 * scalar.c — the scalar reference: the QK256 specification in code and the
 * oracle every other variant is tested against.
 *
 * Built with auto-vectorization disabled (NOVEC_CFLAGS in src/Makefile.am:
 * -fno-tree-vectorize -fno-slp-vectorize on gcc, -fno-vectorize
 * -fno-slp-vectorize on clang), so it measures one element at a time, as
 * written, whatever the compiler.
 */
#include "qk256_impl.h"

/* ---- phase blocks ------------------------------------------------------ */

/* The staged phases below carry llvm-mca markers
 * ("<op>:scalar/<phase>@<elements>", the op because this file holds both;
 * see harness/mca.h; compiled in only for the asm build): one element per
 * pass of the per-element loops; unpack's region is a block, narrowed by
 * qkperf to its innermost loop, the per-code one (k); hsum is per row. */

static inline void unpack_block(uint8_t *codes, const uint8_t *blk)
{
    for (size_t i = 0; i < QK256_BLOCK_BYTES; i++)
        for (unsigned k = 0; k < 4; k++)
            codes[4 * i + k] = (blk[i] >> (2 * k)) & 3u;
}

static inline float lut_value(const float lut[4], unsigned code)
{
    return lut[code];
}

static inline float block_scale(const float *scales, size_t b)
{
    return scales ? scales[b] : 1.0f;
}

/* ---- dequantize -------------------------------------------------------- */

void qk256_dq_scalar(float *out, const uint8_t *packed, const float *scales, size_t n,
                     const float lut[4])
{
    for (size_t i = 0; i < n; i++)
        out[i] = lut_value(lut, qk256_code(packed, i)) * block_scale(scales, i / QK256_BLOCK);
}

static void dq_memory(qk256_ws *w)
{
    uint64_t fold = 0;
    for (size_t i = 0; i < w->cols; i++) {
        QK_MCA_BEGIN("dequantize:scalar/memory@1");
        float s = w->scales[i / QK256_BLOCK];
        if ((i & 3) == 0)
            fold ^= w->packed[i >> 2];
        w->out[i] = s;
        QK_MCA_END("dequantize:scalar/memory@1");
    }
    w->sink = fold;
}

static void dq_unpack(qk256_ws *w)
{
    for (size_t b = 0; b < w->nb; b++) {
        QK_MCA_BEGIN("dequantize:scalar/unpack@1");
        unpack_block(w->codes + b * QK256_BLOCK, w->packed + b * QK256_BLOCK_BYTES);
        QK_MCA_END("dequantize:scalar/unpack@1");
    }
}

static void dq_lut(qk256_ws *w)
{
    for (size_t i = 0; i < w->cols; i++) {
        QK_MCA_BEGIN("dequantize:scalar/lut@1");
        w->vals[i] = lut_value(w->lut, w->codes[i]);
        QK_MCA_END("dequantize:scalar/lut@1");
    }
}

static void dq_scale(qk256_ws *w)
{
    for (size_t i = 0; i < w->cols; i++) {
        QK_MCA_BEGIN("dequantize:scalar/scale@1");
        w->out[i] = w->vals[i] * w->scales[i / QK256_BLOCK];
        QK_MCA_END("dequantize:scalar/scale@1");
    }
}

void qk256_dq_scalar_phase(void *ws, unsigned phase)
{
    static void (*const run[QK_DQ_NPHASES])(qk256_ws *) = {
        [QK_DQ_MEMORY] = dq_memory,
        [QK_DQ_UNPACK] = dq_unpack,
        [QK_DQ_LUT] = dq_lut,
        [QK_DQ_SCALE] = dq_scale,
    };
    if (phase < QK_DQ_NPHASES)
        run[phase](ws);
}

/* ---- gemv -------------------------------------------------------------- */

void qk256_gv_scalar(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                     const float *x, size_t rows, size_t cols, const float lut[4])
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = packed + r * row_stride;
        const float *rs = scales ? scales + r * nb : NULL;
        float sum = 0.0f;
        for (size_t j = 0; j < cols; j++) {
            float wgt = lut_value(lut, qk256_code(row, j)) * block_scale(rs, j / QK256_BLOCK);
            sum += wgt * x[j];
        }
        y[r] = sum;
    }
}

static void gv_memory(qk256_ws *w)
{
    uint64_t fold = 0;
    for (size_t r = 0; r < w->rows; r++) {
        const uint8_t *row = w->packed + r * w->row_stride;
        for (size_t j = 0; j < w->cols; j++) {
            QK_MCA_BEGIN("gemv:scalar/memory@1");
            uint32_t xb;
            __builtin_memcpy(&xb, &w->x[j], sizeof xb);
            if ((j & 3) == 0)
                fold ^= row[j >> 2];
            if ((j & (QK256_BLOCK - 1)) == 0)
                fold += (uint64_t)(w->scales[r * w->nb + j / QK256_BLOCK] != 0.0f);
            fold ^= xb;
            QK_MCA_END("gemv:scalar/memory@1");
        }
    }
    w->sink = fold;
}

static void gv_unpack(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("gemv:scalar/unpack@1");
            unpack_block(w->codes + (r * w->nb + b) * QK256_BLOCK,
                         w->packed + r * w->row_stride + b * QK256_BLOCK_BYTES);
            QK_MCA_END("gemv:scalar/unpack@1");
        }
}

static void gv_lut(qk256_ws *w)
{
    size_t pad = w->nb * QK256_BLOCK;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t j = 0; j < w->cols; j++) {
            QK_MCA_BEGIN("gemv:scalar/lut@1");
            w->vals[r * pad + j] =
                lut_value(w->lut, w->codes[r * pad + j]) * w->scales[r * w->nb + j / QK256_BLOCK];
            QK_MCA_END("gemv:scalar/lut@1");
        }
}

static void gv_fma(qk256_ws *w)
{
    size_t pad = w->nb * QK256_BLOCK;
    for (size_t r = 0; r < w->rows; r++) {
        float sum = 0.0f;
        for (size_t j = 0; j < w->cols; j++) {
            QK_MCA_BEGIN("gemv:scalar/fma@1");
            sum += w->vals[r * pad + j] * w->x[j];
            QK_MCA_END("gemv:scalar/fma@1");
        }
        float *acc = w->acc + r * QK_GV_ACC_LANES;
        acc[0] = sum;
        for (unsigned l = 1; l < QK_GV_ACC_LANES; l++)
            acc[l] = 0.0f;
    }
}

static void gv_hsum(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("gemv:scalar/hsum");
        const float *acc = w->acc + r * QK_GV_ACC_LANES;
        float sum = 0.0f;
        for (unsigned l = 0; l < QK_GV_ACC_LANES; l++)
            sum += acc[l];
        w->out[r] = sum;
        QK_MCA_END("gemv:scalar/hsum");
    }
}

void qk256_gv_scalar_phase(void *ws, unsigned phase)
{
    static void (*const run[QK_GV_NPHASES])(qk256_ws *) = {
        [QK_GV_MEMORY] = gv_memory, [QK_GV_UNPACK] = gv_unpack, [QK_GV_LUT] = gv_lut,
        [QK_GV_FMA] = gv_fma,       [QK_GV_HSUM] = gv_hsum,
    };
    if (phase < QK_GV_NPHASES)
        run[phase](ws);
}
