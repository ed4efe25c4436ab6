/*
 * qk256_impl.h — internals shared by the QK256 variant files and the
 * module (module.c): the kernel function types, the workspace the harness
 * runs them on, the phase indices, and one declaration per variant of
 * variants.def.
 *
 * A variant file (scalar.c, dequant_avx2.c, gemv_avx2.c, ...) provides, per
 * variant, the kernel itself and its phases[] table: per phase a staged
 * runner that runs the phase alone over the workspace buffers. Both are
 * built from the same static inline phase blocks, so what is measured in
 * isolation is what runs in the kernel.
 *
 * Kernels receive validated arguments: non-NULL pointers, sizes > 0, and a
 * non-NULL lut (the API substitutes the default). `scales` may be NULL
 * (all scales 1).
 */
#ifndef QK256_IMPL_H
#define QK256_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <qk256.h>
#include <qkperf/kernel.h>

/* The ops' names, by the tokens variants.def names them with. */
#define QK256_OPNAME_dq "dequantize"
#define QK256_OPNAME_gv "gemv"
#define QK256_OPNAME_i8 "gemv-i8"

/* Phase indices; the names are in workload.c in the same order. */
enum { QK_DQ_MEMORY, QK_DQ_UNPACK, QK_DQ_LUT, QK_DQ_SCALE, QK_DQ_NPHASES };
enum { QK_GV_MEMORY, QK_GV_UNPACK, QK_GV_LUT, QK_GV_FMA, QK_GV_HSUM, QK_GV_NPHASES };
enum {
    QK_I8_QUANTIZE,
    QK_I8_MEMORY,
    QK_I8_UNPACK,
    QK_I8_LUT,
    QK_I8_DOT,
    QK_I8_HSUM,
    QK_I8_NPHASES
};

enum { QK_GV_ACC_LANES = 8 }; /* floats of fma-phase accumulator per row */

typedef void (*qk256_dequant_fn)(float *out, const uint8_t *packed, const float *scales, size_t n,
                                 const float lut[4]);
typedef void (*qk256_gemv_fn)(float *y, const uint8_t *packed, size_t row_stride,
                              const float *scales, const float *x, size_t rows, size_t cols,
                              const float lut[4]);

/*
 * gemv-i8 (int8 activations). x is quantized once per call to
 * q[j] = rint(x[j] * 127 / amax), amax = max |x[j]|, with one scale
 * sx = amax / 127. A table qualifies when its entries are integers in
 * [-64, 64] (so max - min <= 128); the kernels take it biased to unsigned
 * bytes,
 * w[k] = lut[k] + bias (bias = -min), because vpmaddubsw and vpdpbusd
 * multiply unsigned by signed bytes: sum w[c_j] q[j] - bias * sum q[j] is
 * the exact block sum, and the second term is one product per block from
 * the block sums of q computed with the quantization.
 */
typedef struct qk256_i8_lut {
    int8_t v[4];  /* the table as integers */
    uint8_t w[4]; /* v[k] + bias, 0..128 */
    int32_t bias;
} qk256_i8_lut;

/* 0, or QK256_E_UNSUPPORTED for a table that does not qualify. */
int qk256_i8_lut_from(qk256_i8_lut *t, const float lut[4]);

/* x quantized for a variant: nb*256 bytes of q, zero past cols (so kernels
 * run whole blocks), in the variant's order: within each chunk of `chunk`
 * elements, element 4i+k of the chunk sits at byte (chunk/4)*k + i, which
 * is where the kernel's shift-and-mask unpack of chunk/4 packed bytes puts
 * code 4i+k (chunk: a power of two from 4, plain element order, to 256). sum[b] = sum of block b's
 * q. Returns sx (0 when x is all zero). x must be finite. */
float qk256_quantize_x(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk);
typedef float (*qk256_quantize_fn)(int8_t *q, int32_t *sum, const float *x, size_t cols,
                                   size_t chunk);
/* The placing half of qk256_quantize_x, from block b0 on, with inv =
 * 127 / max|x| (0 for an all-zero x): what the vector versions use for a
 * partial last chunk, so the tail gets the very same integers. */
void qk256_quantize_blocks(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk,
                           float inv, size_t b0);
/* The same integers and layout, vectorized with AVX-512 for chunk 256 (what
 * avx512-vnni reads; other chunks go to qk256_quantize_x). */
float qk256_quantize_x_avx512(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk);
/* The same with AVX2 for chunk 128 (what avx2-maddubs reads). */
float qk256_quantize_x_avx2(int8_t *q, int32_t *sum, const float *x, size_t cols, size_t chunk);

typedef struct qk256_xq {
    const int8_t *q;
    const int32_t *sum;
    float scale;
} qk256_xq;

typedef void (*qk256_gemv_i8_fn)(float *y, const uint8_t *packed, size_t row_stride,
                                 const float *scales, const qk256_xq *x, size_t rows, size_t cols,
                                 const qk256_i8_lut *t);

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
 *   gemv-i8:    quantize x -> xq, xsum, sx         (in the variant's order)
 *               memory   packed, scales, xq -> sink
 *               unpack   packed -> codes            (variant's order)
 *               lut      codes -> wq                (integer weights, as the
 *                                                    kernel multiplies them)
 *               dot      wq, xq, xsum, scales -> acc (block sums, scaled,
 *                                                    as 4 doubles per row)
 *               hsum     acc, sx -> y
 * codes, wq and vals hold nb*256 entries per row (padded; gemv-i8's codes
 * and wq for rows rounded up to 16; gemv-i8 has no vals, the others no
 * wq), made by qk256_ws_stage before the first staged phase runs (NULL
 * until then: a fused run never needs them); acc rows*8 floats. Variants past
 * avx2 may keep vals in their own lane order; avx512-vnni-tiles stages
 * codes, wq and acc in the order of ws->tiles (gemv_i8_avx512.c).
 */
typedef struct qk256_ws {
    size_t rows, cols, nb; /* nb = blocks per row */
    size_t row_stride;     /* bytes between packed rows */
    uint8_t *packed;       /* rows * row_stride */
    float *scales;         /* rows * nb */
    float *x;              /* cols (gemv) */
    float lut[4];
    float *out; /* dequantize: cols; gemv: y, rows */
    uint8_t *codes;
    float *vals;
    float *acc;
    int8_t *xq;    /* gemv-i8: nb*256 */
    int32_t *xsum; /* gemv-i8: nb */
    uint8_t *wq;   /* gemv-i8: like codes */
    float sx;
    qk256_i8_lut lut_i8;
    volatile uint64_t sink; /* memory phases fold what they load into here */
    uint8_t *tiles;         /* gemv-i8: packed and scales as qk256_repack_i8's tiles */
} qk256_ws;

/* The default table {-2, -1, +1, +2}. */
extern const float qk256_default_lut[4];

/* Blocks that the fused kernels must inline: a call boundary would put the
 * codes and accumulators they keep in registers back in memory, and the
 * in-context view finds a phase's code by the block it was inlined from. */
#define QK_INLINE static inline __attribute__((always_inline))

/* Code of element j of a packed row (the format's definition).
 * QK256_TEST_SLOWDOWN_UNPACK=N plants a known extra cost in the unpack
 * phase of the scalar references: N dependent multiplies by 1 per element
 * (3 cycles each), and QK256_TEST_SLOWDOWN_ADD=M dependent adds of 0
 * (1 cycle each, for finer steps), which the compiler cannot fold; for
 * the test-only build tests/libqk256slow.so with which the A/B tests check
 * that a slowdown is found and bench/aa.sh measures power. The shipped
 * library never defines either. */
QK_INLINE unsigned qk256_code(const uint8_t *row, size_t j)
{
    unsigned byte = row[j >> 2];
#ifdef QK256_TEST_SLOWDOWN_UNPACK
    for (int k = 0; k < QK256_TEST_SLOWDOWN_UNPACK; k++) /* one multiply each */
        __asm__ volatile("imul $1, %0, %0" : "+r"(byte));
#endif
#ifdef QK256_TEST_SLOWDOWN_ADD
    for (int k = 0; k < QK256_TEST_SLOWDOWN_ADD; k++) /* one add each */
        __asm__ volatile("add $0, %0" : "+r"(byte));
#endif
    return (byte >> ((j & 3) * 2)) & 3u;
}

/* Staged phases: block b of row r in the packed input, and the index of
 * its first element in the padded codes/vals buffers. */
static inline const uint8_t *qk256_ws_block(const qk256_ws *w, size_t r, size_t b)
{
    return w->packed + r * w->row_stride + b * QK256_BLOCK_BYTES;
}

static inline size_t qk256_ws_elem(const qk256_ws *w, size_t r, size_t b)
{
    return (r * w->nb + b) * QK256_BLOCK;
}

/* A staged phase as a loop over blocks (dequantize) or rows and blocks
 * (gemv) of a per-block step; the llvm-mca region (QK_MCA_BEGIN) brackets
 * one step, named "<op>/<variant>/<phase>[@elements][#loop]". */
#define QK_DQ_STAGE(fn, mca, step)           \
    static void fn(void *ws)                 \
    {                                        \
        qk256_ws *w = ws;                    \
        for (size_t b = 0; b < w->nb; b++) { \
            QK_MCA_BEGIN(mca);               \
            step(w, b);                      \
            QK_MCA_END(mca);                 \
        }                                    \
    }
#define QK_GV_STAGE(fn, mca, step)               \
    static void fn(void *ws)                     \
    {                                            \
        qk256_ws *w = ws;                        \
        for (size_t r = 0; r < w->rows; r++)     \
            for (size_t b = 0; b < w->nb; b++) { \
                QK_MCA_BEGIN(mca);               \
                step(w, r, b);                   \
                QK_MCA_END(mca);                 \
            }                                    \
    }

/*
 * A variant's phases[] (qk_phase of <qkperf/kernel.h>), one QK_PHASE per
 * phase of the op in its order: the staged runner (a static void
 * fn(void *ws)), the note (NULL: the staged runner runs the fused kernel's
 * own blocks), and the names of the blocks whose code does the phase in the
 * fused kernel (NULL alone: none of its own).
 */
#define QK_PHASE(staged, note, ...)                            \
    {                                                          \
        staged, (const char *const[]){__VA_ARGS__, NULL}, note \
    }
#define QK_DQ_PHASES(id, memory, unpack, lut, scale)                                 \
    const qk_phase qk256_dq_##id##_phases[QK_DQ_NPHASES] = {[QK_DQ_MEMORY] = memory, \
                                                            [QK_DQ_UNPACK] = unpack, \
                                                            [QK_DQ_LUT] = lut,       \
                                                            [QK_DQ_SCALE] = scale}
#define QK_GV_PHASES(id, memory, unpack, lut, fma, hsum)                             \
    const qk_phase qk256_gv_##id##_phases[QK_GV_NPHASES] = {[QK_GV_MEMORY] = memory, \
                                                            [QK_GV_UNPACK] = unpack, \
                                                            [QK_GV_LUT] = lut,       \
                                                            [QK_GV_FMA] = fma,       \
                                                            [QK_GV_HSUM] = hsum}
#define QK_I8_PHASES(id, quantize, memory, unpack, lut, dot, hsum)                     \
    const qk_phase qk256_i8_##id##_phases[QK_I8_NPHASES] = {                           \
        [QK_I8_QUANTIZE] = quantize, [QK_I8_MEMORY] = memory, [QK_I8_UNPACK] = unpack, \
        [QK_I8_LUT] = lut,           [QK_I8_DOT] = dot,       [QK_I8_HSUM] = hsum}

/* The layout of x a gemv-i8 kernel reads (qk256_quantize_x's chunk) and
 * the routine that quantizes x into it. */
typedef struct qk256_i8_layout {
    size_t chunk;
    qk256_quantize_fn quantize;
    /* 1: the kernel reads qk256_repack_i8's tiles; its plain signature
     * repacks 32 rows at a time per call, so it is never the library's
     * choice for plain calls (module.c), and the harness's fused call
     * runs the workspace's repacked copy (ws->tiles). */
    int repacks;
} qk256_i8_layout;

/* ISA sets of variants.def. */
#define QK256_ISA_NONE 0u
#define QK256_ISA_AVX2 (QK_ISA_AVX2 | QK_ISA_FMA)
#define QK256_ISA_AVX512_VBMI (QK256_ISA_AVX2 | QK_ISA_AVX512 | QK_ISA_AVX512VBMI)
#define QK256_ISA_AVX512_VNNI (QK256_ISA_AVX2 | QK_ISA_AVX512 | QK_ISA_AVX512VNNI)

/* One declaration per variant of variants.def: the kernel, its phases
 * and (gemv-i8) its layout of x. */
#define QK256_DECLARE_dq(id)                                                             \
    void qk256_dq_##id(float *, const uint8_t *, const float *, size_t, const float[4]); \
    extern const qk_phase qk256_dq_##id##_phases[QK_DQ_NPHASES]
#define QK256_DECLARE_gv(id)                                                                   \
    void qk256_gv_##id(float *, const uint8_t *, size_t, const float *, const float *, size_t, \
                       size_t, const float[4]);                                                \
    extern const qk_phase qk256_gv_##id##_phases[QK_GV_NPHASES]
#define QK256_DECLARE_i8(id)                                                                      \
    void qk256_i8_##id(float *, const uint8_t *, size_t, const float *, const qk256_xq *, size_t, \
                       size_t, const qk256_i8_lut *);                                             \
    extern const qk_phase qk256_i8_##id##_phases[QK_I8_NPHASES];                                  \
    extern const qk256_i8_layout qk256_i8_##id##_layout

#define QK_VARIANT(op, id, name, isa, summary) QK256_DECLARE_##op(id);
#include "variants.def"
#undef QK_VARIANT

/* avx512-vnni-tiles' kernel on the repacked weights of qk256_repack_i8:
 * tiles of 32 rows, nb * QK256_TILE_BLOCK_BYTES bytes each; per block two
 * halves of 16 rows (QK256_HALF_BLOCK_BYTES each, rows 0-15 then 16-31),
 * each the 16 rows' scales of that block (64 bytes), then 16 vectors of 64
 * bytes, vector s holding in dword l the packed bytes 4s..4s+3 of the
 * block of the half's row l (gemv_i8_avx512.c). Rows [r0, r0 + rows), r0
 * a multiple of 32, into y[0, rows). The tiles 64-byte aligned. */
enum {
    QK256_TILE_ROWS = 32,
    QK256_HALF_ROWS = 16,
    QK256_HALF_BLOCK_BYTES = 64 + 16 * QK256_BLOCK_BYTES,
    QK256_TILE_BLOCK_BYTES = 2 * QK256_HALF_BLOCK_BYTES
};
void qk256_i8_tiles_run(float *y, const uint8_t *tiles, size_t nb, const qk256_xq *x, size_t r0,
                        size_t rows, const qk256_i8_lut *t);
/* One tile of n <= 32 rows (row l at packed + l * row_stride, its nb
 * scales at scales + l * nb, NULL: all 1) into dst, nb *
 * QK256_TILE_BLOCK_BYTES bytes; rows past n zero (api.c). */
void qk256_pack_tile(uint8_t *dst, const uint8_t *packed, size_t row_stride, const float *scales,
                     size_t nb, size_t n);
/* All rows of a matrix, tile after tile, into dst: ceil(rows / 32) * nb *
 * QK256_TILE_BLOCK_BYTES bytes, the last tile's rows past rows zero. */
void qk256_pack_tiles(uint8_t *dst, const uint8_t *packed, size_t row_stride, const float *scales,
                      size_t nb, size_t rows);

/* Rows [r0, r1) of a job, run by qk256_parallel_rows on some thread. */
typedef void (*qk256_rows_job)(void *ctx, size_t r0, size_t r1);

/* Run fn over rows [0, rows) split across the thread pool (threads.c):
 * every row once, in calls on whole groups of 32 rows (r0 a multiple of
 * 32, r1 too or rows), each thread first its own slice front to back, then
 * pieces of the others' from their backs; in the calling thread alone,
 * one call, when one thread is set, when `work` (multiply-adds) is too
 * small to pay for the hand-off, or when another caller holds the pool. */
void qk256_parallel_rows(size_t rows, size_t work, qk256_rows_job fn, void *ctx);

#endif
