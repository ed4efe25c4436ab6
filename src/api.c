/*
 * api.c — the public entry points of libqk256 (qk256.h): argument checks,
 * variant lookup, run-time dispatch to the fastest supported variant, and
 * the split of gemv rows over the thread pool (threads.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

const float qk256_default_lut[4] = {-2.0f, -1.0f, 1.0f, 2.0f};

size_t qk256_row_bytes(size_t cols)
{
    return (cols / QK256_BLOCK + (cols % QK256_BLOCK != 0)) * QK256_BLOCK_BYTES;
}

const char *qk256_strerror(int code)
{
    switch (code) {
    case QK256_OK:
        return "success";
    case QK256_E_INVAL:
        return "invalid argument (NULL pointer, row stride too small, or size overflow)";
    case QK256_E_UNKNOWN:
        return "unknown variant";
    case QK256_E_UNSUPPORTED:
        return "variant needs an instruction set this CPU lacks, or (gemv-i8) a table of integers "
               "in [-64, 64]";
    case QK256_E_NOMEM:
        return "out of memory";
    default:
        return "unknown qk256 error code";
    }
}

static int lookup(const char *op, const char *variant, const qk256_builtin **out)
{
    const qk256_builtin *b = qk256_builtin_find(op, variant);
    if (!b)
        return QK256_E_UNKNOWN;
    if (!qk256_builtin_runnable(b))
        return QK256_E_UNSUPPORTED;
    *out = b;
    return QK256_OK;
}

static int dequantize_checked(qk256_dequant_fn fn, float *out, const uint8_t *packed,
                              const float *scales, size_t n, const float lut[4])
{
    if (n == 0)
        return QK256_OK;
    if (!out || !packed || n > SIZE_MAX / sizeof(float))
        return QK256_E_INVAL;
    fn(out, packed, scales, n, lut ? lut : qk256_default_lut);
    return QK256_OK;
}

/* Multiply-adds of a call, saturated: it only decides whether to thread. */
static size_t work_of(size_t rows, size_t cols)
{
    size_t w;
    return __builtin_mul_overflow(rows, cols, &w) ? SIZE_MAX : w;
}

static int gemv_args_ok(const float *y, const uint8_t *packed, size_t row_stride, const float *x,
                        size_t rows, size_t cols)
{
    size_t rb = qk256_row_bytes(cols), span, nsc;
    if (!y || !packed || !x || row_stride < rb)
        return 0;
    if (rows > SIZE_MAX / sizeof(float) || cols > SIZE_MAX / sizeof(float))
        return 0;
    /* the last row must end inside the address space */
    if (__builtin_mul_overflow(rows - 1, row_stride, &span) ||
        __builtin_add_overflow(span, rb, &span))
        return 0;
    return !__builtin_mul_overflow(rows, rb / QK256_BLOCK_BYTES, &nsc) &&
           nsc <= SIZE_MAX / sizeof(float);
}

/* One gemv call as the pool sees it: a slice of rows is the same kernel on
 * the sub-matrix that starts at row r0. */
typedef struct gemv_job {
    qk256_gemv_fn fn;
    qk256_gemv_i8_fn fn_i8;
    const qk256_i8_lut *t;
    const qk256_xq *xq;
    float *y;
    const uint8_t *packed;
    size_t row_stride, nb, cols;
    const float *scales, *x, *lut;
} gemv_job;

static void gemv_slice(void *ctx, size_t r0, size_t r1)
{
    const gemv_job *j = ctx;
    const float *sc = j->scales ? j->scales + r0 * j->nb : NULL;
    const uint8_t *p = j->packed + r0 * j->row_stride;
    if (j->fn)
        j->fn(j->y + r0, p, j->row_stride, sc, j->x, r1 - r0, j->cols, j->lut);
    else
        j->fn_i8(j->y + r0, p, j->row_stride, sc, j->xq, r1 - r0, j->cols, j->t);
}

static int gemv_checked(qk256_gemv_fn fn, float *y, const uint8_t *packed, size_t row_stride,
                        const float *scales, const float *x, size_t rows, size_t cols,
                        const float lut[4])
{
    if (rows == 0 || cols == 0)
        return QK256_OK;
    if (!gemv_args_ok(y, packed, row_stride, x, rows, cols))
        return QK256_E_INVAL;
    gemv_job j = {.fn = fn,
                  .y = y,
                  .packed = packed,
                  .row_stride = row_stride,
                  .nb = qk256_row_bytes(cols) / QK256_BLOCK_BYTES,
                  .cols = cols,
                  .scales = scales,
                  .x = x,
                  .lut = lut ? lut : qk256_default_lut};
    qk256_parallel_rows(rows, work_of(rows, cols), gemv_slice, &j);
    return QK256_OK;
}

enum { I8_STACK_BLOCKS = 32 };

/* gemv-i8: check, quantize x once (in the layout of the variant's kernel),
 * then split the rows like gemv. */
static int gemv_i8_checked(const qk256_builtin *b, float *y, const uint8_t *packed,
                           size_t row_stride, const float *scales, const float *x, size_t rows,
                           size_t cols, const float lut[4])
{
    qk256_i8_lut t;
    if (rows == 0 || cols == 0)
        return QK256_OK;
    if (!gemv_args_ok(y, packed, row_stride, x, rows, cols))
        return QK256_E_INVAL;
    if (qk256_i8_lut_from(&t, lut ? lut : qk256_default_lut) != QK256_OK)
        return QK256_E_UNSUPPORTED;
    size_t nb = qk256_row_bytes(cols) / QK256_BLOCK_BYTES;
    /* q on the stack up to 8192 columns (8.3 KB: every matrix of a 2B
     * model's decode), else from the heap */
    _Alignas(64) int8_t q_stack[I8_STACK_BLOCKS * QK256_BLOCK];
    int32_t sum_stack[I8_STACK_BLOCKS];
    int heap = nb > I8_STACK_BLOCKS;
    int8_t *q = heap ? aligned_alloc(64, nb * QK256_BLOCK) : q_stack;
    int32_t *sum = heap ? malloc(nb * sizeof *sum) : sum_stack;
    if (heap && (!q || !sum)) {
        free(q);
        free(sum);
        return QK256_E_NOMEM;
    }
    qk256_xq xq = {q, sum, b->fn.i8.layout->quantize(q, sum, x, cols, b->fn.i8.layout->chunk)};
    gemv_job j = {.fn_i8 = b->fn.i8.kernel,
                  .t = &t,
                  .xq = &xq,
                  .y = y,
                  .packed = packed,
                  .row_stride = row_stride,
                  .nb = nb,
                  .cols = cols,
                  .scales = scales};
    qk256_parallel_rows(rows, work_of(rows, cols), gemv_slice, &j);
    if (heap) {
        free(q);
        free(sum);
    }
    return QK256_OK;
}

int qk256_dequantize_variant(const char *variant, float *out, const uint8_t *packed,
                             const float *scales, size_t n, const float lut[4])
{
    const qk256_builtin *b = NULL;
    int rc = lookup("dequantize", variant, &b);
    return rc ? rc : dequantize_checked(b->fn.dq, out, packed, scales, n, lut);
}

int qk256_gemv_variant(const char *variant, float *y, const uint8_t *packed, size_t row_stride,
                       const float *scales, const float *x, size_t rows, size_t cols,
                       const float lut[4])
{
    const qk256_builtin *b = NULL;
    int rc = lookup("gemv", variant, &b);
    return rc ? rc : gemv_checked(b->fn.gv, y, packed, row_stride, scales, x, rows, cols, lut);
}

int qk256_gemv_i8_variant(const char *variant, float *y, const uint8_t *packed, size_t row_stride,
                          const float *scales, const float *x, size_t rows, size_t cols,
                          const float lut[4])
{
    const qk256_builtin *b = NULL;
    int rc = lookup("gemv-i8", variant, &b);
    return rc ? rc : gemv_i8_checked(b, y, packed, row_stride, scales, x, rows, cols, lut);
}

int qk256_gemv_i8(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
                  const float *x, size_t rows, size_t cols, const float lut[4])
{
    return gemv_i8_checked(qk256_builtin_best("gemv-i8"), y, packed, row_stride, scales, x, rows,
                           cols, lut);
}

int qk256_dequantize(float *out, const uint8_t *packed, const float *scales, size_t n,
                     const float lut[4])
{
    return dequantize_checked(qk256_builtin_best("dequantize")->fn.dq, out, packed, scales, n, lut);
}

int qk256_gemv(float *y, const uint8_t *packed, size_t row_stride, const float *scales,
               const float *x, size_t rows, size_t cols, const float lut[4])
{
    return gemv_checked(qk256_builtin_best("gemv")->fn.gv, y, packed, row_stride, scales, x, rows,
                        cols, lut);
}

const char *qk256_default_variant(const char *op)
{
    const qk256_builtin *b = qk256_builtin_best(op);
    return b ? b->v.name : NULL;
}

int qk256_variant_supported(const char *op, const char *variant)
{
    const qk256_builtin *b = qk256_builtin_find(op, variant);
    return b ? qk256_builtin_runnable(b) : QK256_E_UNKNOWN;
}
