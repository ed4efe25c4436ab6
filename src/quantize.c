/*
 * quantize.c — the activation side of gemv-i8, shared by every gemv-i8
 * variant so that all of them see the very same integers: the table check
 * (qk256_i8_lut_from) and the per-call quantization of x (qk256_quantize_x),
 * which only lays the bytes out in the order each variant's kernel reads.
 *
 * Quantization is O(cols) against the kernel's O(rows * cols), so it stays
 * plain C here (one pass for max |x|, one to round and place). Its
 * llvm-mca region is the scalar variant's quantize phase, per element.
 */
#include <math.h>
#include <string.h>

#include "qk256_impl.h"

int qk256_i8_lut_from(qk256_i8_lut *t, const float lut[4])
{
    int lo = 64;
    for (unsigned k = 0; k < 4; k++) {
        /* the range test first: it also rejects NaN, before any conversion */
        if (!(lut[k] >= -64.0f && lut[k] <= 64.0f) || lut[k] != (float)(int)lut[k])
            return QK256_E_UNSUPPORTED;
        t->v[k] = (int8_t)lut[k];
        lo = t->v[k] < lo ? t->v[k] : lo;
    }
    t->bias = -lo;
    for (unsigned k = 0; k < 4; k++)
        t->w[k] = (uint8_t)(t->v[k] + t->bias);
    return QK256_OK;
}

void qk256_quantize_blocks(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk,
                           float inv, size_t b0)
{
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK, quarter = chunk / 4;
    /* x * inv is at most 127 * (1 + 2^-23), so the rounded value is within
     * [-127, 127]: no clamp. Adding and subtracting 1.5 * 2^23 rounds to the
     * nearest integer, half to even (as rintf and vcvtps2dq do) for any
     * |v| < 2^22, in two float additions instead of a libm call each. */
    const float magic = 12582912.0f;
    if (b0 < nb)
        memset(q + b0 * QK256_BLOCK, 0, (nb - b0) * QK256_BLOCK);
    for (size_t b = b0; b < nb; b++) {
        int32_t s = 0;
        size_t end = (b + 1) * QK256_BLOCK < cols ? (b + 1) * QK256_BLOCK : cols;
        for (size_t j = b * QK256_BLOCK; j < end; j++) {
            QK_MCA_BEGIN("gemv-i8/scalar/quantize@1");
            int v = (int)((x[j] * inv + magic) - magic);
            size_t in = j & (chunk - 1); /* chunk is a power of two */
            q[j - in + quarter * (in & 3) + (in >> 2)] = (int8_t)v;
            s += v;
            QK_MCA_END("gemv-i8/scalar/quantize@1");
        }
        sum[b] = s;
    }
}

float qk256_quantize_x(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk)
{
    /* max |x| in 8 independent lanes (no chain of dependent maxss; plain
     * compares, where fmaxf is a libm call) */
    float m[8] = {0};
    size_t j = 0;
    for (; j + 8 <= cols; j += 8)
        for (unsigned l = 0; l < 8; l++) {
            float a = fabsf(x[j + l]);
            m[l] = a > m[l] ? a : m[l];
        }
    for (; j < cols; j++) {
        float a = fabsf(x[j]);
        m[0] = a > m[0] ? a : m[0];
    }
    float amax = 0.0f;
    for (unsigned l = 0; l < 8; l++)
        amax = m[l] > amax ? m[l] : amax;
    qk256_quantize_blocks(q, sum, x, cols, chunk, amax > 0.0f ? 127.0f / amax : 0.0f, 0);
    return amax / 127.0f;
}
