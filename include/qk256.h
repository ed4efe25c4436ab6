/*
 * qk256.h — public API of libqk256, the QK256 kernel library.
 *
 * QK256 packs 256 two-bit codes into a 64-byte block: byte i of a block holds
 * elements 4i..4i+3, element 4i+k in bits [2k+1:2k]. A code maps to a value
 * through a 4-entry float table (default {-2, -1, +1, +2}); each block has
 * one float scale. See docs/format.md for a worked example.
 *
 * Every operation exists as several variants (the optimization ladder); the
 * plain functions run the fastest variant this CPU supports (on x86-64 with
 * AVX-512 VBMI/VNNI the avx512-* variants, else AVX2, else scalar; under
 * valgrind, which hides AVX-512, the AVX2 ones), the *_variant functions
 * run one by name. All functions are thread-safe and need no particular
 * alignment of their arguments.
 *
 * Threads: the gemv functions (float and int8, plain and *_variant) split
 * their rows over a pool of worker threads created once, on first use, and
 * reused by every later call. The count is 1 by default (no workers: each
 * call runs on the caller's thread), QK256_THREADS=n in the environment
 * (read once, on first use) or qk256_set_threads(n) changes it. A call runs
 * on the caller's thread alone when it is small (under about 2^20
 * multiply-adds, where waking the workers costs more than it saves), when
 * it has at most 32 rows (rows go to threads in groups of 32), or while
 * another thread's call holds the pool. A thread done with its share of
 * the rows takes rows left in another's, so one slow thread does not hold
 * the call. Results do not depend on the thread count: each row is
 * computed by the same code in any split.
 * Between calls the workers spin for up to 200 us before they sleep (so do
 * callers waiting for them), which keeps back-to-back calls from paying a
 * wake-up each (20-25 us under KVM): with more than one thread, the CPUs
 * stay busy for that long after each call.
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
    QK256_E_UNSUPPORTED = -3, /* the variant needs an ISA this CPU lacks, or
                                 (gemv-i8) the table is not integer */
    QK256_E_NOMEM = -4        /* gemv-i8: no memory for the quantized x */
};

/* Bytes of one packed row of `cols` elements: ceil(cols/256) * 64. */
size_t qk256_row_bytes(size_t cols);

/* out[i] = lut[code(i)] * scales[i / 256] for i < n.
 * scales: ceil(n/256) floats, or NULL for all 1. lut: NULL for {-2,-1,1,2}. */
int qk256_dequantize(float *out, const uint8_t *packed, const float *scales, size_t n,
                     const float lut[4]);

/* y[r] = sum_j lut[code(r,j)] * scales[r*nb + j/256] * x[j], r < rows, j < cols,
 * nb = ceil(cols/256). Row r starts at packed + r*row_stride (bytes, at least
 * qk256_row_bytes(cols)). rows == 0 or cols == 0 leaves y untouched. */
int qk256_gemv(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
               const float *x, size_t rows, size_t cols, const float lut[4]);

int qk256_dequantize_variant(const char *variant, float *out, const uint8_t *packed,
                             const float *scales, size_t n, const float lut[4]);
int qk256_gemv_variant(const char *variant, float *y, const uint8_t *packed, size_t row_stride,
                       const float *scales, const float *x, size_t rows, size_t cols,
                       const float lut[4]);

/*
 * gemv with int8 activations: x is quantized per call, then multiplied in
 * integers. With amax = max_j |x[j]|, sx = amax / 127 and
 * q[j] = round_half_even(x[j] * (127 / amax)) in [-127, 127]:
 *
 *   y[r] = sx * sum_b scales[r*nb + b] * sum_{j in block b} lut[code(r,j)] * q[j]
 *
 * the inner sums d_b = sum_{j in block b} lut[code(r,j)] * q[j] exact
 * (32-bit integers), the rest in floating point. The accuracy contract,
 * the standard bound of a floating-point dot product: against that formula
 * evaluated exactly (y_exact[r], from the same integers),
 *
 *   |y[r] - y_exact[r]| <= 1e-5 * sx * sum_b |scales[r*nb + b] * d_b|
 *
 * relative to the row's absolute block sum, not to |y|: a row whose block
 * contributions cancel may have a large relative error (a kernel may scale
 * and sum its blocks in float, as avx512-vnni-f32 does). A row whose every
 * d_b is 0 gives exactly 0.
 * Against the float gemv the quantization adds, per row, at most
 *
 *   |y_i8[r] - y[r]| <= (sx / 2) * sum_j |lut[code(r,j)] * scales[r*nb + j/256]|
 *
 * (each q[j] * sx is within sx / 2 of x[j], up to float rounding), i.e.
 * half a quantization step times the row's absolute weight sum.
 *
 * The table must hold integers in [-64, 64] (the default {-2,-1,1,2} and
 * the ternary {-1,0,1,0} do): any other table gives QK256_E_UNSUPPORTED.
 * x must be finite. Needs nb*256 + 4*nb bytes per call for q: on the
 * caller's stack up to 8192 columns (about 8.3 KB), else allocated
 * (QK256_E_NOMEM if that fails). Other arguments as for qk256_gemv.
 */
int qk256_gemv_i8(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                  const float *x, size_t rows, size_t cols, const float lut[4]);
int qk256_gemv_i8_variant(const char *variant, float *y, const uint8_t *packed, size_t row_stride,
                          const float *scales, const float *x, size_t rows, size_t cols,
                          const float lut[4]);

/*
 * The decode layout: int8 gemv weights repacked once, at load, into the
 * layout of the variant that runs them, for a model that multiplies the
 * same weights by a new x every token. QK256 stays the interchange format
 * (what files hold and every other call takes); the repacked weights are
 * an opaque, private copy, valid until qk256_repacked_free.
 *
 * With avx512-vnni-tiles (where the CPU has AVX-512 VNNI): tiles of 32
 * rows computed side by side, 16 per vector, a row in each lane (a
 * qk256_gemv_i8_variant call of that variant packs 32 rows at a time per
 * call, and the plain qk256_gemv_i8 never picks it); per block of a tile
 * two halves of 16 rows, each the half's scales of that block (64 bytes),
 * then its rows' packed bytes of it, dword-interleaved (vector s holds
 * bytes 4s..4s+3 of each row), so the scales sit beside their blocks in
 * one stream, no reduction is needed and the same bytes as the QK256
 * input (up to the last tile's padding to 32 rows). Elsewhere a plain
 * QK256 copy (packed rows back to back, then the scales) that the default
 * gemv-i8 variant runs. The copy is 64-byte
 * aligned, from 2 MiB on with transparent huge pages advised.
 *
 * qk256_repack_i8 takes the arguments of qk256_gemv_i8 without y and x
 * (the table is fixed at repack time: integers in [-64, 64], else
 * QK256_E_UNSUPPORTED; scales NULL for all 1) and allocates the copy
 * (QK256_E_NOMEM); QK256_E_INVAL for bad arguments or rows == 0 or
 * cols == 0. qk256_gemv_i8_repacked(y, w, x) computes what
 * qk256_gemv_i8(y, packed, ..., x, ...) does, within the same accuracy
 * contract (a plain copy: the same bits), on the same thread pool, rows
 * in groups of 32 (results do not depend on the thread count); x has the
 * cols given at repack time.
 * Thread-safe: any number of threads may run one repacked matrix at once.
 */
typedef struct qk256_repacked qk256_repacked;

int qk256_repack_i8(qk256_repacked **out, const uint8_t *packed, size_t row_stride,
                    const float *scales, size_t rows, size_t cols, const float lut[4]);
int qk256_gemv_i8_repacked(float *y, const qk256_repacked *w, const float *x);
/* Bytes of the copy; the variant that runs it ("avx512-vnni-tiles", or the
 * default gemv-i8 variant for a plain copy). NULL-safe: 0, NULL. */
size_t qk256_repacked_bytes(const qk256_repacked *w);
const char *qk256_repacked_variant(const qk256_repacked *w);
void qk256_repacked_free(qk256_repacked *w);

/* Threads the gemv functions use: 1 to 256, or 0 for every online CPU.
 * QK256_OK, or QK256_E_INVAL (the count is then unchanged). Waits for a
 * call in progress on the pool to finish. */
int qk256_set_threads(int n);
/* The current thread count (after QK256_THREADS, if set and valid). */
int qk256_get_threads(void);

/* Variant names of "dequantize", "gemv" or "gemv-i8" in ladder order, NULL-terminated;
 * NULL for an unknown op. Includes variants this CPU cannot run. */
const char *const *qk256_variant_names(const char *op);

/* Name of the variant the plain function runs on this CPU. */
const char *qk256_default_variant(const char *op);

/* 1 if this CPU (as the process sees it) can run the variant, 0 if not,
 * QK256_E_UNKNOWN if there is no such variant. */
int qk256_variant_supported(const char *op, const char *variant);

/* 1 if the variant runs the repacked weights of qk256_repack_i8 (a plain
 * qk256_gemv_i8_variant call of it repacks its rows every call, so a model
 * repacks once and calls qk256_gemv_i8_repacked), 0 if it runs QK256 as
 * given, QK256_E_UNKNOWN if there is no such variant. */
int qk256_variant_repacks(const char *op, const char *variant);

/* A static, human-readable message for a QK256_* code. */
const char *qk256_strerror(int code);

/* Every op and variant of this library, with their staged phases and the
 * thread pool, as the qkperf kernel interface describes them
 * (<qkperf/kernel.h>): what `qkperf` profiles. Static storage. */
struct qk_module;
const struct qk_module *qk256_kernel_module(void);

#ifdef __cplusplus
}
#endif
#endif
