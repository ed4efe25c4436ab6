/*
 * qk256_impl.h — internals shared by the QK256 variant files and the
 * registry: the kernel function types, the workspace the harness runs them
 * on, the phase indices, and one declaration per variant.
 *
 * A variant file (scalar.c, dequant_avx2.c, gemv_avx2.c, ...) provides, per
 * variant, the kernel itself and a staged entry that runs one phase alone
 * over the workspace buffers. Both are built from the same static inline
 * phase blocks, so what is measured in isolation is what runs in the kernel.
 *
 * Kernels receive validated arguments: non-NULL pointers, sizes > 0, and a
 * non-NULL lut (the API substitutes the default). `scales` may be NULL
 * (all scales 1).
 */
#ifndef QK256_IMPL_H
#define QK256_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kernel.h"
#include "qk256.h"

/* Phase indices; the names are in registry.c in the same order. */
enum { QK_DQ_MEMORY, QK_DQ_UNPACK, QK_DQ_LUT, QK_DQ_SCALE, QK_DQ_NPHASES };
enum { QK_GV_MEMORY, QK_GV_UNPACK, QK_GV_LUT, QK_GV_FMA, QK_GV_HSUM, QK_GV_NPHASES };

enum { QK_GV_ACC_LANES = 8 }; /* floats of fma-phase accumulator per row */

typedef void (*qk256_dequant_fn)(float *out, const uint8_t *packed,
                                 const float *scales, size_t n, const float lut[4]);
typedef void (*qk256_gemv_fn)(float *y, const uint8_t *packed, size_t row_stride,
                              const float *scales, const float *x, size_t rows,
                              size_t cols, const float lut[4]);

/*
 * Workspace of one op instance (dequantize: rows = 1, cols = n).
 * Staged phases communicate through the intermediates:
 *   dequantize: memory  packed, scales -> out (the variant's loads/stores only)
 *               unpack  packed -> codes            (one byte per element)
 *               lut     codes  -> vals             (table values, unscaled)
 *               scale   vals, scales -> out
 *   gemv:       memory  packed, scales, x -> sink  (loads/prefetches only)
 *               unpack  packed -> codes
 *               lut     codes, scales -> vals      (block-scaled weights)
 *               fma     vals, x -> acc             (QK_GV_ACC_LANES per row)
 *               hsum    acc -> y
 * codes and vals hold nb*256 entries per row (padded); acc rows*8 floats.
 */
typedef struct qk256_ws {
    size_t rows, cols, nb;  /* nb = blocks per row */
    size_t row_stride;      /* bytes between packed rows */
    uint8_t *packed;        /* rows * row_stride */
    float *scales;          /* rows * nb */
    float *x;               /* cols (gemv) */
    float lut[4];
    float *out;             /* dequantize: cols; gemv: y, rows */
    uint8_t *codes;
    float *vals;
    float *acc;
    volatile uint64_t sink; /* memory phases fold what they load into here */
} qk256_ws;

/* The default table {-2, -1, +1, +2}. */
extern const float qk256_default_lut[4];

/* Code of element j of a packed row (the format's definition). */
static inline unsigned qk256_code(const uint8_t *row, size_t j)
{
    return (row[j >> 2] >> ((j & 3) * 2)) & 3u;
}

#define QK256_DECLARE_DQ(id)                                                   \
    void qk256_dq_##id(float *, const uint8_t *, const float *, size_t,         \
                       const float[4]);                                         \
    void qk256_dq_##id##_phase(void *ws, unsigned phase)
#define QK256_DECLARE_GV(id)                                                   \
    void qk256_gv_##id(float *, const uint8_t *, size_t, const float *,        \
                       const float *, size_t, size_t, const float[4]);         \
    void qk256_gv_##id##_phase(void *ws, unsigned phase)

QK256_DECLARE_DQ(scalar);
QK256_DECLARE_DQ(avx2_mvp);
QK256_DECLARE_DQ(avx2_p1);
QK256_DECLARE_DQ(avx2_p1_p4);
QK256_DECLARE_DQ(avx2_p1_p4_p3);

QK256_DECLARE_GV(scalar);
QK256_DECLARE_GV(avx2_mvp);
QK256_DECLARE_GV(avx2_p1);
QK256_DECLARE_GV(avx2_p1_p4);
QK256_DECLARE_GV(avx2_p1_p4_p2);
QK256_DECLARE_GV(avx2_p1_p4_p2_p3);

#endif
