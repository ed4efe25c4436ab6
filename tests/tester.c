/*
 * tester.c — builds inputs for a case, runs the reference (`scalar`) and
 * the variant under test on separate output buffers, and compares.
 * Dequantize must be bit-exact; gemv within QKT_GEMV_TOL. A reference that
 * fails is a failure of the case, never a pass with nothing compared.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qk256.h"
#include "qkperf/kernel.h"
#include "rng.h"
#include "tester.h"

qkt_case qkt_case_default(size_t rows, size_t cols, uint64_t seed)
{
    qkt_case c = {.rows = rows, .cols = cols, .seed = seed, .code = -1};
    return c;
}

typedef struct inputs {
    void *mem[4];
    uint8_t *packed;
    float *scales, *x;
    size_t stride, nb;
} inputs;

static void *alloc_off(void **keep, size_t bytes, size_t off)
{
    *keep = malloc(bytes + 64);
    return *keep ? (uint8_t *)*keep + off : NULL;
}

static void fill_packed(qk_rng *rng, const qkt_case *c, inputs *in)
{
    for (size_t r = 0; r < c->rows; r++) {
        uint8_t *row = in->packed + r * in->stride;
        qk_rng_bytes(rng, row, in->stride);
        if (c->code >= 0)
            memset(row, c->code * 0x55, in->stride);
    }
}

static int build(const qkt_case *c, inputs *in)
{
    memset(in, 0, sizeof *in);
    in->nb = (c->cols + QK256_BLOCK - 1) / QK256_BLOCK;
    in->stride = c->stride ? c->stride : qk256_row_bytes(c->cols);
    size_t fo = c->misalign & ~(size_t)3;
    in->packed = alloc_off(&in->mem[0], c->rows * in->stride, c->misalign);
    in->scales = alloc_off(&in->mem[1], c->rows * in->nb * sizeof(float), fo);
    in->x = alloc_off(&in->mem[2], c->cols * sizeof(float), fo);
    if (!in->packed || !in->scales || !in->x)
        return -1;
    qk_rng rng = {c->seed};
    fill_packed(&rng, c, in);
    for (size_t i = 0; i < c->rows * in->nb; i++)
        in->scales[i] = qk_rng_float(&rng, 0.25f, 2.0f);
    for (size_t j = 0; j < c->cols; j++)
        in->x[j] = c->zero_x ? 0.0f : qk_rng_float(&rng, -1.0f, 1.0f);
    return 0;
}

static void release(inputs *in)
{
    for (int i = 0; i < 4; i++)
        free(in->mem[i]);
}

static void compare(qkt_result *res, const float *got, const float *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)want[i]) / fmax(1.0, fabs((double)want[i]));
        int bad = tol == 0.0 ? memcmp(&got[i], &want[i], sizeof(float)) != 0 : !(err <= tol);
        if (isnan(err) || err > res->max_err)
            res->max_err = isnan(err) ? INFINITY : err;
        if (bad && res->mismatches++ == 0) {
            res->first_bad = i;
            res->got = got[i];
            res->want = want[i];
        }
    }
}

static const char *reference(const qkt_case *c)
{
    return c->reference ? c->reference : "scalar";
}

/* Compare when both ran; a failed reference with a variant that ran makes
 * every output a mismatch. 1 if the outputs were compared. */
static int settle(qkt_result *res, const float *got, const float *want, size_t n, double tol)
{
    if (res->rc != QK256_OK)
        return 0;
    if (res->ref_rc != QK256_OK) {
        res->mismatches = n;
        res->first_bad = 0;
        res->got = got[0];
        res->want = NAN;
        res->max_err = INFINITY;
        return 0;
    }
    compare(res, got, want, n, tol);
    return 1;
}

qkt_result qkt_check_dequantize(const char *variant, const qkt_case *c)
{
    qkt_result res = {.rc = QK256_E_INVAL};
    inputs in;
    void *mo[2] = {0};
    size_t fo = c->misalign & ~(size_t)3;
    if (build(c, &in) == 0) {
        float *want = alloc_off(&mo[0], c->cols * sizeof(float), 0);
        float *got = alloc_off(&mo[1], c->cols * sizeof(float), fo);
        const float *sc = c->no_scales ? NULL : in.scales;
        res.ref_rc = qk256_dequantize_variant(reference(c), want, in.packed, sc, c->cols, c->lut);
        memset(got, 0xff, c->cols * sizeof(float));
        res.rc = qk256_dequantize_variant(variant, got, in.packed, sc, c->cols, c->lut);
        settle(&res, got, want, c->cols, 0.0);
    }
    free(mo[0]);
    free(mo[1]);
    release(&in);
    return res;
}

typedef int (*gemv_api)(const char *, float *, const uint8_t *, size_t, const float *,
                        const float *, size_t, size_t, const float[4]);

qkt_result qkt_check_gemv(const char *variant, const qkt_case *c)
{
    return qkt_check_gemv_op("gemv", variant, c);
}

qkt_result qkt_check_gemv_op(const char *op, const char *variant, const qkt_case *c)
{
    gemv_api run = strcmp(op, "gemv-i8") == 0 ? qk256_gemv_i8_variant : qk256_gemv_variant;
    qkt_result res = {.rc = QK256_E_INVAL};
    inputs in;
    void *mo[2] = {0};
    size_t fo = c->misalign & ~(size_t)3;
    if (build(c, &in) == 0) {
        float *want = alloc_off(&mo[0], c->rows * sizeof(float), 0);
        float *got = alloc_off(&mo[1], c->rows * sizeof(float), fo);
        const float *sc = c->no_scales ? NULL : in.scales;
        res.ref_rc =
            run(reference(c), want, in.packed, in.stride, sc, in.x, c->rows, c->cols, c->lut);
        memset(got, 0xff, c->rows * sizeof(float));
        res.rc = run(variant, got, in.packed, in.stride, sc, in.x, c->rows, c->cols, c->lut);
        for (size_t j = 0; j < c->cols; j++)
            res.sum_x += in.x[j];
        if (settle(&res, got, want, c->rows, QKT_GEMV_TOL))
            res.first_y = got[0];
    }
    free(mo[0]);
    free(mo[1]);
    release(&in);
    return res;
}

enum { QKT_MAX_VARIANTS = 32 };

static size_t op_slot(const char *op)
{
    return strcmp(op, "dequantize") == 0 ? 0 : strcmp(op, "gemv") == 0 ? 1 : 2;
}

const char *const *qkt_runnable(const char *op)
{
    static const char *lists[3][QKT_MAX_VARIANTS + 1];
    static int logged[3];
    size_t slot = op_slot(op), k = 0;
    const char **out = lists[slot];
    const char *const *all = qk256_variant_names(op);
    for (size_t i = 0; all && all[i] && k < QKT_MAX_VARIANTS; i++)
        if (qk256_variant_supported(op, all[i]) == 1)
            out[k++] = all[i];
    out[k] = NULL;
    if (!logged[slot] && *qkt_skipped(op))
        fprintf(stderr, "tester: %s: this CPU cannot run %s: not tested here\n", op,
                qkt_skipped(op));
    logged[slot] = 1;
    return out;
}

/* The ISA a variant needs, from the library's kernel module. */
static unsigned isa_of(const char *op, const char *name)
{
    const qk_module *m = qk256_kernel_module();
    for (const qk_variant *const *v = m->variants; *v; v++)
        if (!strcmp((*v)->op, op) && !strcmp((*v)->name, name))
            return (*v)->isa;
    return 0;
}

const char *qkt_skipped(const char *op)
{
    static char text[3][1024];
    char *t = text[op_slot(op)];
    size_t n = 0;
    const char *const *all = qk256_variant_names(op);
    t[0] = '\0';
    for (size_t i = 0; all && all[i] && n < sizeof text[0]; i++)
        if (qk256_variant_supported(op, all[i]) != 1)
            n += (size_t)snprintf(t + n, sizeof text[0] - n, "%s%s (needs %s)", n ? ", " : "",
                                  all[i], qk_isa_names(isa_of(op, all[i])));
    return t;
}
