/*
 * api.c — the public entry points of libqk256 (qk256.h): argument checks,
 * variant lookup, run-time dispatch to the fastest supported variant, and
 * the split of gemv rows over the thread pool (threads.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* x quantized once in a kernel's layout, for one call: q on the caller's
 * stack up to 8192 columns (8.3 KB: every matrix of a 2B model's decode),
 * else from the heap. */
typedef struct xq_buf {
    _Alignas(64) int8_t q_stack[I8_STACK_BLOCKS * QK256_BLOCK];
    int32_t sum_stack[I8_STACK_BLOCKS];
    int8_t *q;
    int32_t *sum;
    qk256_xq xq;
} xq_buf;

static int xq_quantize(xq_buf *xb, const qk256_i8_layout *l, const float *x, size_t cols, size_t nb)
{
    int heap = nb > I8_STACK_BLOCKS;
    xb->q = heap ? aligned_alloc(64, nb * QK256_BLOCK) : xb->q_stack;
    xb->sum = heap ? malloc(nb * sizeof *xb->sum) : xb->sum_stack;
    if (heap && (!xb->q || !xb->sum)) {
        free(xb->q);
        free(xb->sum);
        return QK256_E_NOMEM;
    }
    xb->xq = (qk256_xq){xb->q, xb->sum, l->quantize(xb->q, xb->sum, x, cols, l->chunk)};
    return QK256_OK;
}

static void xq_release(xq_buf *xb)
{
    if (xb->q != xb->q_stack) {
        free(xb->q);
        free(xb->sum);
    }
}

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
    xq_buf xb;
    if (xq_quantize(&xb, b->fn.i8.layout, x, cols, nb) != QK256_OK)
        return QK256_E_NOMEM;
    gemv_job j = {.fn_i8 = b->fn.i8.kernel,
                  .t = &t,
                  .xq = &xb.xq,
                  .y = y,
                  .packed = packed,
                  .row_stride = row_stride,
                  .nb = nb,
                  .cols = cols,
                  .scales = scales};
    qk256_parallel_rows(rows, work_of(rows, cols), gemv_slice, &j);
    xq_release(&xb);
    return QK256_OK;
}

/* ---- the decode layout (qk256_repack_i8) ------------------------------- */

struct qk256_repacked {
    size_t rows, cols, nb;
    const qk256_builtin *b; /* the variant that runs it */
    int tiled;              /* avx512-vnni-tiles' tiles, else a plain QK256 copy */
    qk256_i8_lut t;
    uint8_t *mem;
    size_t bytes;
    const float *scales; /* plain: inside mem, after the rows */
};

/* The copy: 64-byte aligned; from 2 MiB on, on 2 MiB boundaries with
 * transparent huge pages advised before the first touch (where THP is
 * "madvise", the default of many distributions, 4 KiB pages would cost a
 * streaming gemv a TLB miss every 4 KiB). */
static uint8_t *alloc_weights(size_t bytes)
{
    enum { HUGE = 2u << 20 };
    void *p = NULL;
    if (bytes < HUGE) /* aligned_alloc wants a multiple of the alignment */
        return aligned_alloc(64, (bytes + 63) / 64 * 64);
    size_t cap = (bytes + HUGE - 1) / HUGE * HUGE;
    if (posix_memalign(&p, HUGE, cap))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, cap, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

/* Per block, for each half of 16 rows: the half's scales, then vector s =
 * dword s of the block of each of its rows, written in order; rows past n
 * zero. */
void qk256_pack_tile(uint8_t *dst, const uint8_t *packed, size_t row_stride, const float *scales,
                     size_t nb, size_t n)
{
    for (size_t b = 0; b < nb; b++)
        for (size_t h = 0; h < 2; h++) {
            uint8_t *half = dst + b * QK256_TILE_BLOCK_BYTES + h * QK256_HALF_BLOCK_BYTES;
            float *sc = (float *)(void *)half;
            for (size_t l = 0, r = h * QK256_HALF_ROWS; l < QK256_HALF_ROWS; l++, r++)
                sc[l] = r >= n ? 0.0f : scales ? scales[r * nb + b] : 1.0f;
            uint32_t *d = (uint32_t *)(void *)(half + 64);
            for (size_t k = 0; k < QK256_BLOCK_BYTES / 4; k++)
                for (size_t l = 0, r = h * QK256_HALF_ROWS; l < QK256_HALF_ROWS; l++, r++, d++) {
                    uint32_t v = 0;
                    if (r < n)
                        memcpy(&v, packed + r * row_stride + b * QK256_BLOCK_BYTES + 4 * k, 4);
                    *d = v;
                }
        }
}

void qk256_pack_tiles(uint8_t *dst, const uint8_t *packed, size_t row_stride, const float *scales,
                      size_t nb, size_t rows)
{
    size_t tile_bytes = nb * QK256_TILE_BLOCK_BYTES;
    for (size_t r0 = 0; r0 < rows; r0 += QK256_TILE_ROWS)
        qk256_pack_tile(dst + r0 / QK256_TILE_ROWS * tile_bytes, packed + r0 * row_stride,
                        row_stride, scales ? scales + r0 * nb : NULL, nb,
                        rows - r0 < QK256_TILE_ROWS ? rows - r0 : QK256_TILE_ROWS);
}

int qk256_repack_i8(qk256_repacked **out, const uint8_t *packed, size_t row_stride,
                    const float *scales, size_t rows, size_t cols, const float lut[4])
{
    qk256_repacked w = {.rows = rows, .cols = cols};
    float probe = 0.0f;
    if (!out)
        return QK256_E_INVAL;
    *out = NULL;
    if (rows == 0 || cols == 0 || !gemv_args_ok(&probe, packed, row_stride, &probe, rows, cols))
        return QK256_E_INVAL;
    if (qk256_i8_lut_from(&w.t, lut ? lut : qk256_default_lut) != QK256_OK)
        return QK256_E_UNSUPPORTED;
    size_t rb = qk256_row_bytes(cols), nb = rb / QK256_BLOCK_BYTES;
    w.nb = nb;
    w.b = qk256_builtin_find("gemv-i8", "avx512-vnni-tiles");
    w.tiled = w.b && qk256_builtin_runnable(w.b);
    if (!w.tiled)
        w.b = qk256_builtin_best("gemv-i8");
    /* sizes: gemv_args_ok bounded rows * rb and rows * nb * 4 */
    size_t ntiles = (rows + QK256_TILE_ROWS - 1) / QK256_TILE_ROWS, tile_bytes = 0;
    if (w.tiled) {
        if (__builtin_mul_overflow(nb, (size_t)QK256_TILE_BLOCK_BYTES, &tile_bytes) ||
            __builtin_mul_overflow(ntiles, tile_bytes, &w.bytes))
            return QK256_E_INVAL;
    } else if (__builtin_mul_overflow(rows, rb + nb * sizeof(float), &w.bytes))
        return QK256_E_INVAL;
    w.mem = alloc_weights(w.bytes);
    qk256_repacked *h = malloc(sizeof *h);
    if (!w.mem || !h) {
        free(w.mem);
        free(h);
        return QK256_E_NOMEM;
    }
    if (w.tiled) {
        qk256_pack_tiles(w.mem, packed, row_stride, scales, nb, rows);
    } else {
        float *sc = (float *)(void *)(w.mem + rows * rb);
        for (size_t r = 0; r < rows; r++)
            memcpy(w.mem + r * rb, packed + r * row_stride, rb);
        for (size_t i = 0; i < rows * nb; i++)
            sc[i] = scales ? scales[i] : 1.0f;
        w.scales = sc;
    }
    *h = w;
    *out = h;
    return QK256_OK;
}

typedef struct repacked_job {
    const qk256_repacked *w;
    const qk256_xq *xq;
    float *y;
} repacked_job;

static void repacked_slice(void *ctx, size_t r0, size_t r1)
{
    const repacked_job *j = ctx;
    const qk256_repacked *w = j->w;
    size_t rb = w->nb * QK256_BLOCK_BYTES;
    if (w->tiled)
        qk256_i8_tiles_run(j->y + r0, w->mem, w->nb, j->xq, r0, r1 - r0, &w->t);
    else
        w->b->fn.i8.kernel(j->y + r0, w->mem + r0 * rb, rb, w->scales + r0 * w->nb, j->xq, r1 - r0,
                           w->cols, &w->t);
}

int qk256_gemv_i8_repacked(float *y, const qk256_repacked *w, const float *x)
{
    if (!y || !w || !x)
        return QK256_E_INVAL;
    xq_buf xb;
    if (xq_quantize(&xb, w->b->fn.i8.layout, x, w->cols, w->nb) != QK256_OK)
        return QK256_E_NOMEM;
    repacked_job j = {w, &xb.xq, y};
    qk256_parallel_rows(w->rows, work_of(w->rows, w->cols), repacked_slice, &j);
    xq_release(&xb);
    return QK256_OK;
}

size_t qk256_repacked_bytes(const qk256_repacked *w)
{
    return w ? w->bytes : 0;
}

const char *qk256_repacked_variant(const qk256_repacked *w)
{
    return w ? w->b->v.name : NULL;
}

void qk256_repacked_free(qk256_repacked *w)
{
    if (w) {
        free(w->mem);
        free(w);
    }
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

int qk256_variant_repacks(const char *op, const char *variant)
{
    const qk256_builtin *b = qk256_builtin_find(op, variant);
    return b ? qk256_builtin_repacks(b) : QK256_E_UNKNOWN;
}
