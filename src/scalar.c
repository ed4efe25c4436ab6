/*
 * scalar.c — the scalar reference: the QK256 specification in code and the
 * oracle every other variant is tested against.
 *
 * Built with auto-vectorization disabled (QK_SCALAR_FLAGS in Makefile.am:
 * -fno-tree-vectorize -fno-slp-vectorize on gcc, -fno-vectorize
 * -fno-slp-vectorize on clang), so it measures one element at a time, as
 * written, whatever the compiler. Kernel and staged phases are made of the
 * blocks of phases_scalar.h.
 *
 * The staged phases carry llvm-mca markers ("<op>/scalar/<phase>@<elements>",
 * see harness/mca.h; compiled in only for the asm build): one element per
 * pass of the per-element loops; unpack's region is a block, narrowed by
 * qkperf to its per-code loop; hsum is per row.
 */
#include "phases_scalar.h"

/* ---- dequantize -------------------------------------------------------- */

void qk256_dq_scalar(float *out, const uint8_t *packed, const float *scales, size_t n,
                     const float lut[4])
{
    for (size_t i = 0; i < n; i++)
        qks_scale(&out[i], qks_lut(lut, qk256_code(packed, i)), scales, i / QK256_BLOCK);
}

static void dq_memory(void *ws)
{
    qk256_ws *w = ws;
    uint64_t fold = 0;
    for (size_t i = 0; i < w->cols; i++) {
        QK_MCA_BEGIN("dequantize/scalar/memory@1");
        float s = w->scales[i / QK256_BLOCK];
        if ((i & 3) == 0)
            fold ^= w->packed[i >> 2];
        w->out[i] = s;
        QK_MCA_END("dequantize/scalar/memory@1");
    }
    w->sink = fold;
}

static void dq_unpack(void *ws)
{
    qk256_ws *w = ws;
    for (size_t b = 0; b < w->nb; b++) {
        QK_MCA_BEGIN("dequantize/scalar/unpack@1");
        qks_unpack_block(w->codes + b * QK256_BLOCK, w->packed + b * QK256_BLOCK_BYTES,
                         QK256_BLOCK);
        QK_MCA_END("dequantize/scalar/unpack@1");
    }
}

static void dq_lut(void *ws)
{
    qk256_ws *w = ws;
    for (size_t i = 0; i < w->cols; i++) {
        QK_MCA_BEGIN("dequantize/scalar/lut@1");
        w->vals[i] = qks_lut(w->lut, w->codes[i]);
        QK_MCA_END("dequantize/scalar/lut@1");
    }
}

static void dq_scale(void *ws)
{
    qk256_ws *w = ws;
    for (size_t i = 0; i < w->cols; i++) {
        QK_MCA_BEGIN("dequantize/scalar/scale@1");
        qks_scale(&w->out[i], w->vals[i], w->scales, i / QK256_BLOCK);
        QK_MCA_END("dequantize/scalar/scale@1");
    }
}

QK_DQ_PHASES(scalar, QK_PHASE(dq_memory, NULL, NULL), QK_PHASE(dq_unpack, NULL, "qk256_code"),
             QK_PHASE(dq_lut, NULL, "qks_lut"),
             QK_PHASE(dq_scale, NULL, "qks_scale", "qks_scale_of"));

/* ---- gemv -------------------------------------------------------------- */

void qk256_gv_scalar(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                     const float *x, size_t rows, size_t cols, const float lut[4])
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = packed + r * row_stride;
        const float *rs = scales ? scales + r * nb : NULL;
        float sum = 0.0f;
        for (size_t j = 0; j < cols; j++)
            sum = qks_fma(sum, qks_weight(lut, qk256_code(row, j), rs, j / QK256_BLOCK), &x[j]);
        y[r] = sum;
    }
}

static void gv_memory(void *ws)
{
    qk256_ws *w = ws;
    uint64_t fold = 0;
    for (size_t r = 0; r < w->rows; r++) {
        const uint8_t *row = w->packed + r * w->row_stride;
        for (size_t j = 0; j < w->cols; j++) {
            QK_MCA_BEGIN("gemv/scalar/memory@1");
            uint32_t xb;
            __builtin_memcpy(&xb, &w->x[j], sizeof xb);
            if ((j & 3) == 0)
                fold ^= row[j >> 2];
            if ((j & (QK256_BLOCK - 1)) == 0)
                fold += (uint64_t)(w->scales[r * w->nb + j / QK256_BLOCK] != 0.0f);
            fold ^= xb;
            QK_MCA_END("gemv/scalar/memory@1");
        }
    }
    w->sink = fold;
}

static void gv_unpack(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("gemv/scalar/unpack@1");
            qks_unpack_block(w->codes + qk256_ws_elem(w, r, b), qk256_ws_block(w, r, b),
                             QK256_BLOCK);
            QK_MCA_END("gemv/scalar/unpack@1");
        }
}

static void gv_lut(void *ws)
{
    qk256_ws *w = ws;
    size_t pad = w->nb * QK256_BLOCK;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t j = 0; j < w->cols; j++) {
            QK_MCA_BEGIN("gemv/scalar/lut@1");
            w->vals[r * pad + j] =
                qks_weight(w->lut, w->codes[r * pad + j], w->scales + r * w->nb, j / QK256_BLOCK);
            QK_MCA_END("gemv/scalar/lut@1");
        }
}

/* fma: the row's one running sum, stored in lane 0 of its accumulator. */
static void gv_fma(void *ws)
{
    qk256_ws *w = ws;
    size_t pad = w->nb * QK256_BLOCK;
    for (size_t r = 0; r < w->rows; r++) {
        float sum = 0.0f;
        for (size_t j = 0; j < w->cols; j++) {
            QK_MCA_BEGIN("gemv/scalar/fma@1");
            sum = qks_fma(sum, w->vals[r * pad + j], &w->x[j]);
            QK_MCA_END("gemv/scalar/fma@1");
        }
        float *acc = w->acc + r * QK_GV_ACC_LANES;
        acc[0] = sum;
        for (unsigned l = 1; l < QK_GV_ACC_LANES; l++)
            acc[l] = 0.0f;
    }
}

/* hsum: the kernel reduces nothing, it stores the row's sum as it is. */
static void gv_hsum(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("gemv/scalar/hsum");
        w->out[r] = w->acc[r * QK_GV_ACC_LANES];
        QK_MCA_END("gemv/scalar/hsum");
    }
}

QK_GV_PHASES(scalar, QK_PHASE(gv_memory, NULL, NULL), QK_PHASE(gv_unpack, NULL, "qk256_code"),
             QK_PHASE(gv_lut, NULL, "qks_weight", "qks_lut", "qks_scale_of"),
             QK_PHASE(gv_fma, NULL, "qks_fma"), QK_PHASE(gv_hsum, NULL, NULL));
