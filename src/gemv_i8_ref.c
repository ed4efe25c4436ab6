/*
 * gemv_i8_ref.c — the scalar reference of gemv-i8 (int8 activations): the
 * specification in code and the oracle the vector gemv-i8 variants are
 * tested against. Built like scalar.c, without auto-vectorization.
 *
 * With q and sx from qk256_quantize_x (plain element order):
 *   y[r] = sx * sum_b scale(r, b) * sum_{j in block b} lut[code(r, j)] * q[j]
 * The inner sum is exact in 32 bits (|lut| <= 64, |q| <= 127, 256 terms);
 * the outer one is a double sum over blocks, left to right (each product
 * exact), rounded to float and multiplied by sx. x is padded with
 * zeros to whole blocks, so the padded codes of a partial block add 0.
 */
#include <string.h>

#include "phases_scalar.h"

/* The layout of x the kernel reads: plain element order. */
const qk256_i8_layout qk256_i8_scalar_layout = {.chunk = 4, .quantize = qk256_quantize_x};

/* ---- the kernel -------------------------------------------------------- */

void qk256_i8_scalar(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                     const qk256_xq *x, size_t rows, size_t cols, const qk256_i8_lut *t)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = packed + r * row_stride;
        const float *rs = scales ? scales + r * nb : NULL;
        double acc = 0.0;
        for (size_t b = 0; b < nb; b++) {
            uint8_t codes[QK256_BLOCK];
            int8_t w[QK256_BLOCK];
            qks_unpack_block(codes, row + b * QK256_BLOCK_BYTES, QK256_BLOCK);
            qks_lut_i8(w, codes, t->v);
            acc = qks_acc_i8(acc, rs, b, w, x->q + b * QK256_BLOCK);
        }
        y[r] = qks_result_i8(acc, x->scale);
    }
}

/* ---- staged phases ----------------------------------------------------- */

/* The llvm-mca regions ("gemv-i8/scalar/<phase>@<elements>", harness/mca.h)
 * are narrowed to the per-element loops of the blocks: one element per pass
 * (dot's region is a block, its loop the 256-term sum); hsum is per row.
 * quantize runs qk256_quantize_x, whose region is in quantize.c. */

static void i8_quantize(void *ws)
{
    qk256_ws *w = ws;
    w->sx = qk256_quantize_x(w->xq, w->xsum, w->x, w->cols, qk256_i8_scalar_layout.chunk);
}

static void i8_memory(void *ws)
{
    qk256_ws *w = ws;
    uint64_t fold = 0;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            const uint8_t *blk = qk256_ws_block(w, r, b);
            fold += (uint64_t)(w->scales[r * w->nb + b] != 0.0f);
            for (size_t j = 0; j < QK256_BLOCK; j++) {
                QK_MCA_BEGIN("gemv-i8/scalar/memory@1");
                if ((j & 3) == 0)
                    fold ^= blk[j >> 2];
                fold ^= (uint8_t)w->xq[b * QK256_BLOCK + j];
                QK_MCA_END("gemv-i8/scalar/memory@1");
            }
        }
    w->sink = fold;
}

static void i8_unpack(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("gemv-i8/scalar/unpack@1");
            qks_unpack_block(w->codes + qk256_ws_elem(w, r, b), qk256_ws_block(w, r, b),
                             QK256_BLOCK);
            QK_MCA_END("gemv-i8/scalar/unpack@1");
        }
}

/* lut: the table's integers (wq holds them as int8). */
static void i8_lut(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("gemv-i8/scalar/lut@1");
            size_t e = qk256_ws_elem(w, r, b);
            qks_lut_i8((int8_t *)w->wq + e, w->codes + e, w->lut_i8.v);
            QK_MCA_END("gemv-i8/scalar/lut@1");
        }
}

/* dot: the row's double sum in its acc slot (32 bytes, one double used). */
static void i8_dot(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        double acc = 0.0;
        for (size_t b = 0; b < w->nb; b++) {
            QK_MCA_BEGIN("gemv-i8/scalar/dot@1");
            acc =
                qks_acc_i8(acc, w->scales + r * w->nb, b,
                           (const int8_t *)w->wq + qk256_ws_elem(w, r, b), w->xq + b * QK256_BLOCK);
            QK_MCA_END("gemv-i8/scalar/dot@1");
        }
        memcpy(w->acc + r * QK_GV_ACC_LANES, &acc, sizeof acc);
    }
}

static void i8_hsum(void *ws)
{
    qk256_ws *w = ws;
    for (size_t r = 0; r < w->rows; r++) {
        QK_MCA_BEGIN("gemv-i8/scalar/hsum");
        double acc;
        memcpy(&acc, w->acc + r * QK_GV_ACC_LANES, sizeof acc);
        w->out[r] = qks_result_i8(acc, w->sx);
        QK_MCA_END("gemv-i8/scalar/hsum");
    }
}

QK_I8_PHASES(scalar, QK_PHASE(i8_quantize, NULL, "qk256_quantize_x"),
             QK_PHASE(i8_memory, NULL, NULL), QK_PHASE(i8_unpack, NULL, "qk256_code"),
             QK_PHASE(i8_lut, NULL, "qks_lut_i8"),
             QK_PHASE(i8_dot, NULL, "qks_dot_i8", "qks_acc_i8", "qks_scale_of"),
             QK_PHASE(i8_hsum, NULL, "qks_result_i8"));
