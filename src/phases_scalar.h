/*
 * phases_scalar.h — the phase blocks of the scalar references (scalar.c,
 * gemv_i8_ref.c): one element at a time, the format as qk256_code() reads
 * it, shared by each reference's fused kernel and its staged phases so that
 * both run the very same code.
 *
 *   unpack  qk256_code (qk256_impl.h), qks_unpack_block into a buffer
 *   lut     qks_lut (a table value), qks_weight (times the block scale:
 *           gemv's weights), qks_lut_i8 (gemv-i8's integer weights)
 *   scale   qks_scale_of (NULL scales are 1), qks_scale (dequantize)
 *   fma     qks_fma (gemv)     dot  qks_dot_i8, qks_acc_i8 (gemv-i8)
 *   hsum    qks_result_i8 (gemv-i8; gemv's row sum is stored as it is)
 *
 * The AVX2 kernels use qks_lut for the lookups of a partial last block.
 */
#ifndef QK256_PHASES_SCALAR_H
#define QK256_PHASES_SCALAR_H

#include "qk256_impl.h"

/* Codes of the first m elements of a block into codes[0..m). */
QK_INLINE void qks_unpack_block(uint8_t *codes, const uint8_t *blk, size_t m)
{
    for (size_t j = 0; j < m; j++)
        codes[j] = (uint8_t)qk256_code(blk, j);
}

QK_INLINE float qks_lut(const float lut[4], unsigned code)
{
    return lut[code];
}

QK_INLINE float qks_scale_of(const float *scales, size_t b)
{
    return scales ? scales[b] : 1.0f;
}

/* gemv's weight: the table value times the scale of block b. */
QK_INLINE float qks_weight(const float lut[4], unsigned code, const float *scales, size_t b)
{
    return qks_lut(lut, code) * qks_scale_of(scales, b);
}

/* dequantize: one output, the value times the scale of block b. */
QK_INLINE void qks_scale(float *out, float v, const float *scales, size_t b)
{
    *out = v * qks_scale_of(scales, b);
}

/* gemv: acc + w * x[0]. */
QK_INLINE float qks_fma(float acc, float w, const float *x)
{
    return acc + w * *x;
}

/* gemv-i8: a block's 256 integer weights. */
QK_INLINE void qks_lut_i8(int8_t *w, const uint8_t *codes, const int8_t v[4])
{
    for (size_t j = 0; j < QK256_BLOCK; j++)
        w[j] = v[codes[j]];
}

/* gemv-i8: a block's exact integer sum (|w| <= 64, |q| <= 127). */
QK_INLINE int32_t qks_dot_i8(const int8_t *w, const int8_t *q)
{
    int32_t s = 0;
    for (size_t j = 0; j < QK256_BLOCK; j++)
        s += w[j] * q[j];
    return s;
}

/* gemv-i8: block b's sum times its scale into the row's double sum. */
QK_INLINE double qks_acc_i8(double acc, const float *scales, size_t b, const int8_t *w,
                            const int8_t *q)
{
    return acc + (double)qks_scale_of(scales, b) * qks_dot_i8(w, q);
}

QK_INLINE float qks_result_i8(double acc, float sx)
{
    return (float)acc * sx;
}

#endif
