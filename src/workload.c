/*
 * workload.c — the QK256 ops as the kernel interface sees them: workspace
 * creation (seeded non-zero inputs plus the staged intermediates), sizes in
 * elements and bytes, and output comparison.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qk256_impl.h"
#include "rng.h"
#include "workload.h"

/* Refuse workspaces past this many elements: 2^34 is 64 GiB of floats. */
#define QK_MAX_ELEMENTS (1ull << 34)

static void *alloc_bytes(size_t n)
{
    size_t rounded = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p)
        memset(p, 0x11, rounded ? rounded : 64); /* touch pages, non-zero */
    return p;
}

static int mul_ok(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

void qk256_ws_free(qk256_ws *w)
{
    if (!w)
        return;
    free(w->packed);
    free(w->scales);
    free(w->x);
    free(w->out);
    free(w->codes);
    free(w->vals);
    free(w->acc);
    free(w->xq);
    free(w->xsum);
    free(w->wq);
    free(w->tiles);
    free(w);
}

qk256_ws *qk256_ws_new(size_t rows, size_t cols, unsigned what, uint64_t seed)
{
    int with_x = (what & (QK_WS_X | QK_WS_I8)) != 0, with_i8 = (what & QK_WS_I8) != 0;
    size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK, padded, packed, nsc, tiled;
    size_t ntiles = rows / QK256_TILE_ROWS + (rows % QK256_TILE_ROWS != 0);
    if (rows == 0 || cols == 0 || !mul_ok(rows, nb * QK256_BLOCK, &padded) ||
        padded > QK_MAX_ELEMENTS || !mul_ok(rows, nb * QK256_BLOCK_BYTES, &packed) ||
        !mul_ok(rows, nb, &nsc) || !mul_ok(ntiles * QK256_TILE_ROWS, nb * QK256_BLOCK, &tiled)) {
        errno = EOVERFLOW;
        return NULL;
    }
    qk256_ws *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->rows = rows;
    w->cols = cols;
    w->nb = nb;
    w->row_stride = nb * QK256_BLOCK_BYTES;
    memcpy(w->lut, qk256_default_lut, sizeof w->lut);
    w->packed = alloc_bytes(packed);
    w->scales = alloc_bytes(nsc * sizeof(float));
    w->x = with_x ? alloc_bytes(cols * sizeof(float)) : NULL;
    w->out = alloc_bytes((with_x ? rows : cols) * sizeof(float));
    w->acc = alloc_bytes(rows * QK_GV_ACC_LANES * sizeof(float));
    if (with_i8) {
        w->xq = alloc_bytes(nb * QK256_BLOCK);
        w->xsum = alloc_bytes(nb * sizeof(int32_t));
        w->tiles = alloc_bytes(ntiles * nb * QK256_TILE_BLOCK_BYTES);
        qk256_i8_lut_from(&w->lut_i8, w->lut); /* the default table qualifies */
    }
    if (!w->packed || !w->scales || (with_x && !w->x) || !w->out || !w->acc ||
        (with_i8 && (!w->xq || !w->xsum || !w->tiles))) {
        qk256_ws_free(w);
        errno = ENOMEM;
        return NULL;
    }
    qk_rng rng = {seed};
    qk_rng_bytes(&rng, w->packed, packed);
    for (size_t i = 0; i < nsc; i++)
        w->scales[i] = qk_rng_float(&rng, 0.5f, 1.5f);
    for (size_t j = 0; with_x && j < cols; j++)
        w->x[j] = qk_rng_nonzero(&rng);
    if (with_i8) /* as qk256_repack_i8 would */
        qk256_pack_tiles(w->tiles, w->packed, w->row_stride, w->scales, nb, rows);
    return w;
}

int qk256_ws_stage(qk256_ws *w)
{
    if (w->codes)
        return 0;
    int with_i8 = w->xq != NULL; /* sizes: checked against overflow by qk256_ws_new */
    size_t padded = w->rows * w->nb * QK256_BLOCK;
    size_t tiled =
        (w->rows + QK256_TILE_ROWS - 1) / QK256_TILE_ROWS * QK256_TILE_ROWS * w->nb * QK256_BLOCK;
    /* gemv-i8: codes and wq hold whole tiles of 32 rows (a variant that
     * repacks stages them in tile order); no gemv-i8 phase uses vals */
    w->codes = alloc_bytes(with_i8 ? tiled : padded);
    w->vals = with_i8 ? NULL : alloc_bytes(padded * sizeof(float));
    w->wq = with_i8 ? alloc_bytes(tiled) : NULL;
    if (w->codes && (with_i8 ? w->wq != NULL : w->vals != NULL))
        return 0;
    free(w->codes);
    free(w->vals);
    free(w->wq);
    w->codes = w->wq = NULL;
    w->vals = NULL;
    errno = ENOMEM;
    return -1;
}

/* ---- kernel-interface adapters ----------------------------------------- */

static void *dq_create(const size_t *dim, uint64_t seed)
{
    return qk256_ws_new(1, dim[0], 0, seed);
}

static void *gv_create(const size_t *dim, uint64_t seed)
{
    return qk256_ws_new(dim[0], dim[1], QK_WS_X, seed);
}

static void *i8_create(const size_t *dim, uint64_t seed)
{
    return qk256_ws_new(dim[0], dim[1], QK_WS_I8, seed);
}

static int ws_stage(void *ws)
{
    return qk256_ws_stage(ws);
}

static void ws_destroy(void *ws)
{
    qk256_ws_free(ws);
}

static double dq_elements(const size_t *dim)
{
    return (double)dim[0];
}

static double dq_bytes(const size_t *dim)
{
    double nb = (double)((dim[0] + QK256_BLOCK - 1) / QK256_BLOCK);
    return nb * (QK256_BLOCK_BYTES + sizeof(float)) + (double)dim[0] * sizeof(float);
}

static double gv_elements(const size_t *dim)
{
    return (double)dim[0] * (double)dim[1];
}

static double gv_bytes(const size_t *dim)
{
    double nb = (double)((dim[1] + QK256_BLOCK - 1) / QK256_BLOCK);
    return (double)dim[0] * nb * (QK256_BLOCK_BYTES + sizeof(float)) +
           (double)dim[1] * sizeof(float) + (double)dim[0] * sizeof(float);
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / fmax(1.0, fabs((double)b[i]));
        if (d > worst || isnan(d))
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static double dq_compare(const void *a, const void *b)
{
    const qk256_ws *wa = a, *wb = b;
    return max_rel_diff(wa->out, wb->out, wa->cols);
}

static double gv_compare(const void *a, const void *b)
{
    const qk256_ws *wa = a, *wb = b;
    return max_rel_diff(wa->out, wb->out, wa->rows);
}

/* The outputs, for the check against the reference: read through the
 * workspace's own build, so two builds of another layout still compare. */
static const float *dq_output(const void *ws, size_t *n)
{
    const qk256_ws *w = ws;
    *n = w->cols;
    return w->out;
}

static const float *gv_output(const void *ws, size_t *n)
{
    const qk256_ws *w = ws;
    *n = w->rows;
    return w->out;
}

static const char *const dq_phases[] = {"memory", "unpack", "lut", "scale", NULL};
static const char *const gv_phases[] = {"memory", "unpack", "lut", "fma", "hsum", NULL};
static const char *const i8_phases[] = {"quantize", "memory", "unpack", "lut", "dot", "hsum", NULL};

const qk_op qk256_op_dequantize = {
    .name = QK256_OPNAME_dq,
    .summary = "QK256 codes -> floats: out[i] = lut[code(i)] * scale[i/256]",
    .phases = dq_phases,
    .ndim = 1,
    .create = dq_create,
    .destroy = ws_destroy,
    .stage = ws_stage,
    .elements = dq_elements,
    .bytes = dq_bytes,
    .compare = dq_compare,
    .output = dq_output,
    .default_size = "1024",
};

const qk_op qk256_op_gemv = {
    .name = QK256_OPNAME_gv,
    .summary = "QK256 matrix x float vector: y[r] = sum_j w(r,j) * x[j]",
    .phases = gv_phases,
    .ndim = 2,
    .create = gv_create,
    .destroy = ws_destroy,
    .stage = ws_stage,
    .elements = gv_elements,
    .bytes = gv_bytes,
    .compare = gv_compare,
    .output = gv_output,
    .default_size = "2560x2560",
};

/* The int8-activation gemv: same matrix and x as gemv (same seed, same
 * sizes), so its rates compare with gemv's; outputs compare with its own
 * scalar reference (they differ from float gemv by the quantization). */
const qk_op qk256_op_gemv_i8 = {
    .name = QK256_OPNAME_i8,
    .summary =
        "QK256 matrix x int8-quantized vector: y[r] = sx * sum_b s(r,b) * sum_j lut(r,j) q[j]",
    .phases = i8_phases,
    .ndim = 2,
    .create = i8_create,
    .destroy = ws_destroy,
    .stage = ws_stage,
    .elements = gv_elements,
    .bytes = gv_bytes,
    .compare = gv_compare,
    .output = gv_output,
    .default_size = "256x256",
};
