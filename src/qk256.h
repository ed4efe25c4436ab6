/*
 * qk256.h — public API of libqk256, the QK256 kernel library.
 *
 * QK256 packs 256 two-bit codes into a 64-byte block: byte i of a block holds
 * elements 4i..4i+3, element 4i+k in bits [2k+1:2k]. A code maps to a value
 * through a 4-entry float table (default {-2, -1, +1, +2}); each block has
 * one float scale. See docs/format.md for a worked example.
 *
 * Every operation exists as several variants (the optimization ladder); the
 * plain functions run the fastest variant this CPU supports, the *_variant
 * functions run one by name. All functions are thread-safe and need no
 * particular alignment of their arguments.
 */
#ifndef QK256_H
#define QK256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { QK256_BLOCK = 256, QK256_BLOCK_BYTES = 64 };

enum {
    QK256_OK = 0,
    QK256_E_INVAL = -1,       /* NULL pointer, bad stride, overflowing size */
    QK256_E_UNKNOWN = -2,     /* no variant of that name */
    QK256_E_UNSUPPORTED = -3  /* the variant needs an ISA this CPU lacks */
};

/* Bytes of one packed row of `cols` elements: ceil(cols/256) * 64. */
size_t qk256_row_bytes(size_t cols);

/* out[i] = lut[code(i)] * scales[i / 256] for i < n.
 * scales: ceil(n/256) floats, or NULL for all 1. lut: NULL for {-2,-1,1,2}. */
int qk256_dequantize(float *out, const uint8_t *packed, const float *scales,
                     size_t n, const float lut[4]);

/* y[r] = sum_j lut[code(r,j)] * scales[r*nb + j/256] * x[j], r < rows, j < cols,
 * nb = ceil(cols/256). Row r starts at packed + r*row_stride (bytes, at least
 * qk256_row_bytes(cols)). rows == 0 or cols == 0 leaves y untouched. */
int qk256_gemv(float *y, const uint8_t *packed, size_t row_stride,
               const float *scales, const float *x,
               size_t rows, size_t cols, const float lut[4]);

int qk256_dequantize_variant(const char *variant, float *out, const uint8_t *packed,
                             const float *scales, size_t n, const float lut[4]);
int qk256_gemv_variant(const char *variant, float *y, const uint8_t *packed,
                       size_t row_stride, const float *scales, const float *x,
                       size_t rows, size_t cols, const float lut[4]);

/* Variant names of "dequantize" or "gemv" in ladder order, NULL-terminated;
 * NULL for an unknown op. Includes variants this CPU cannot run. */
const char *const *qk256_variant_names(const char *op);

/* Name of the variant the plain function runs on this CPU. */
const char *qk256_default_variant(const char *op);

/* 1 if this CPU (as the process sees it) can run the variant, 0 if not,
 * QK256_E_UNKNOWN if there is no such variant. */
int qk256_variant_supported(const char *op, const char *variant);

/* A static, human-readable message for a QK256_* code. */
const char *qk256_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
