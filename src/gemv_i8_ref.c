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

#include "qk256_impl.h"

/* ---- phase blocks ------------------------------------------------------ */

static inline void unpack_block(uint8_t *codes, const uint8_t *blk)
{
    for (size_t j = 0; j < QK256_BLOCK; j++)
        codes[j] = (uint8_t)qk256_code(blk, j);
}

static inline int32_t dot_block(const int8_t *w, const int8_t *q)
{
    int32_t s = 0;
    for (size_t j = 0; j < QK256_BLOCK; j++)
        s += w[j] * q[j];
    return s;
}

static inline float block_scale(const float *scales, size_t b)
{
    return scales ? scales[b] : 1.0f;
}

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
            unpack_block(codes, row + b * QK256_BLOCK_BYTES);
            for (size_t j = 0; j < QK256_BLOCK; j++)
                w[j] = t->v[codes[j]];
            acc += (double)block_scale(rs, b) * dot_block(w, x->q + b * QK256_BLOCK);
        }
        y[r] = (float)acc * x->scale;
    }
}

/* ---- staged phases ----------------------------------------------------- */

static void i8_quantize(qk256_ws *w)
{
    w->sx = qk256_quantize_x(w->xq, w->xsum, w->x, w->cols, 4);
}

static void i8_memory(qk256_ws *w)
{
    uint64_t fold = 0;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            const uint8_t *blk = w->packed + r * w->row_stride + b * QK256_BLOCK_BYTES;
            fold += (uint64_t)(w->scales[r * w->nb + b] != 0.0f);
            for (size_t j = 0; j < QK256_BLOCK; j++) {
                if ((j & 3) == 0)
                    fold ^= blk[j >> 2];
                fold ^= (uint8_t)w->xq[b * QK256_BLOCK + j];
            }
        }
    w->sink = fold;
}

static void i8_unpack(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++)
            unpack_block(w->codes + (r * w->nb + b) * QK256_BLOCK,
                         w->packed + r * w->row_stride + b * QK256_BLOCK_BYTES);
}

/* lut: the table's integers, stored as bytes (wq holds them as int8). */
static void i8_lut(qk256_ws *w)
{
    size_t n = w->rows * w->nb * QK256_BLOCK;
    for (size_t i = 0; i < n; i++)
        w->wq[i] = (uint8_t)w->lut_i8.v[w->codes[i]];
}

/* dot: the row's double sum in its acc slot (32 bytes, one double used). */
static void i8_dot(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++) {
        double acc = 0.0;
        for (size_t b = 0; b < w->nb; b++) {
            size_t e = (r * w->nb + b) * QK256_BLOCK;
            acc += (double)w->scales[r * w->nb + b] *
                   dot_block((const int8_t *)w->wq + e, w->xq + b * QK256_BLOCK);
        }
        memcpy(w->acc + r * QK_GV_ACC_LANES, &acc, sizeof acc);
    }
}

static void i8_hsum(qk256_ws *w)
{
    for (size_t r = 0; r < w->rows; r++) {
        double acc;
        memcpy(&acc, w->acc + r * QK_GV_ACC_LANES, sizeof acc);
        w->out[r] = (float)acc * w->sx;
    }
}

void qk256_i8_scalar_phase(void *ws, unsigned phase)
{
    static void (*const run[QK_I8_NPHASES])(qk256_ws *) = {
        [QK_I8_QUANTIZE] = i8_quantize, [QK_I8_MEMORY] = i8_memory, [QK_I8_UNPACK] = i8_unpack,
        [QK_I8_LUT] = i8_lut,           [QK_I8_DOT] = i8_dot,       [QK_I8_HSUM] = i8_hsum,
    };
    if (phase < QK_I8_NPHASES)
        run[phase](ws);
}
