/*
 * registry.c — the table of ops and variants behind the kernel interface
 * (kernel.h) and the public variant lookup (qk256.h).
 *
 * Built-in QK256 variants are listed here in ladder order; each fused entry
 * adapts a workspace to the kernel's plain signature. Ops and variants that
 * callers register (a user's own kernel) are appended after the built-ins.
 */
#include <stdlib.h>
#include <string.h>

#include "qk256_impl.h"
#include "registry.h"
#include "workload.h"

#define DQ_FUSED(id)                                                  \
    static void dq_fused_##id(void *p)                                \
    {                                                                 \
        qk256_ws *w = p;                                              \
        qk256_dq_##id(w->out, w->packed, w->scales, w->cols, w->lut); \
    }
#define GV_FUSED(id)                                                                       \
    static void gv_fused_##id(void *p)                                                     \
    {                                                                                      \
        qk256_ws *w = p;                                                                   \
        qk256_gv_##id(w->out, w->packed, w->row_stride, w->scales, w->x, w->rows, w->cols, \
                      w->lut);                                                             \
    }
#define I8_FUSED(id, chunk, quant)                                                        \
    static void i8_fused_##id(void *p)                                                    \
    {                                                                                     \
        qk256_ws *w = p;                                                                  \
        qk256_xq xq = {w->xq, w->xsum, quant(w->xq, w->xsum, w->x, w->cols, chunk)};      \
        qk256_i8_##id(w->out, w->packed, w->row_stride, w->scales, &xq, w->rows, w->cols, \
                      &w->lut_i8);                                                        \
    }
#define AVX2 (QK_ISA_AVX2 | QK_ISA_FMA)
#define AVX512_VBMI (AVX2 | QK_ISA_AVX512 | QK_ISA_AVX512VBMI)
#define AVX512_VNNI (AVX2 | QK_ISA_AVX512 | QK_ISA_AVX512VNNI)

DQ_FUSED(scalar)
DQ_FUSED(avx2_mvp)
DQ_FUSED(avx2_p1)
DQ_FUSED(avx2_p1_p4)
DQ_FUSED(avx2_p1_p4_p3)
DQ_FUSED(avx512_vbmi)
GV_FUSED(scalar)
GV_FUSED(avx2_mvp)
GV_FUSED(avx2_p1)
GV_FUSED(avx2_p1_p4)
GV_FUSED(avx2_p1_p4_p2)
GV_FUSED(avx2_p1_p4_p2_p3)
GV_FUSED(avx512_vbmi)
I8_FUSED(scalar, 4, qk256_quantize_x)
I8_FUSED(avx2_maddubs, 128, qk256_quantize_x_avx2)
I8_FUSED(avx512_vnni, 256, qk256_quantize_x_avx512)

#define DQ_ENTRY(id, nm, isa_, text)                                          \
    {                                                                         \
        {"dequantize", nm, text, isa_, dq_fused_##id, qk256_dq_##id##_phase}, \
        {                                                                     \
            .dq = qk256_dq_##id                                               \
        }                                                                     \
    }
#define I8_ENTRY(id, nm, isa_, chunk, quant, text)                         \
    {                                                                      \
        {"gemv-i8", nm, text, isa_, i8_fused_##id, qk256_i8_##id##_phase}, \
        {                                                                  \
            .i8 = { qk256_i8_##id, chunk, quant }                          \
        }                                                                  \
    }
#define GV_ENTRY(id, nm, isa_, text)                                    \
    {                                                                   \
        {"gemv", nm, text, isa_, gv_fused_##id, qk256_gv_##id##_phase}, \
        {                                                               \
            .gv = qk256_gv_##id                                         \
        }                                                               \
    }

static const qk256_builtin dq_builtins[] = {
    DQ_ENTRY(scalar, "scalar", 0, "reference: one element at a time, not vectorized"),
    DQ_ENTRY(avx2_mvp, "avx2-mvp", AVX2,
             "sprint MVP: scalar unpack to a code buffer, scalar lookups, one vector multiply"),
    DQ_ENTRY(avx2_p1, "avx2-p1", AVX2,
             "p1: vector unpack (shifts, masks, byte interleave) of 32 bytes -> 128 codes"),
    DQ_ENTRY(avx2_p1_p4, "avx2-p1-p4", AVX2,
             "p4: table lookup in registers with vpermps; no code buffer"),
    DQ_ENTRY(avx2_p1_p4_p3, "avx2-p1-p4-p3", AVX2,
             "p3: 32-byte loads and software prefetch of the blocks ahead"),
    DQ_ENTRY(avx512_vbmi, "avx512-vbmi", AVX512_VBMI,
             "zmm: vpmultishiftqb unpack from 8-byte broadcasts, vpermps on the scaled table, "
             "64-byte stores"),
};

static const qk256_builtin gv_builtins[] = {
    GV_ENTRY(scalar, "scalar", 0, "reference: one element at a time, not vectorized"),
    GV_ENTRY(avx2_mvp, "avx2-mvp", AVX2,
             "sprint MVP: scalar unpack and lookups, one FMA into a single accumulator"),
    GV_ENTRY(avx2_p1, "avx2-p1", AVX2, "p1: vector unpack of 32 bytes -> 128 codes"),
    GV_ENTRY(avx2_p1_p4, "avx2-p1-p4", AVX2,
             "p4: table lookup in registers with vpermps; no code buffer"),
    GV_ENTRY(avx2_p1_p4_p2, "avx2-p1-p4-p2", AVX2,
             "p2: 8 rows x 16 columns per step, accumulators sharing the loads of x; "
             "rows past the last 8 run p1-p4 (p2 does not pay there)"),
    GV_ENTRY(avx2_p1_p4_p2_p3, "avx2-p1-p4-p2-p3", AVX2,
             "p3: 32-byte loads of 8 rows, transposed, and prefetch of the next 8-row tile"),
    GV_ENTRY(
        avx512_vbmi, "avx512-vbmi", AVX512_VBMI,
        "zmm: vpmultishiftqb unpack, vpermps lookup, 8 rows x 32 cols with 2 FMA chains per row"),
};

/* The chunk of each entry is the quantized-x layout its kernel reads; the
 * fused adapter above quantizes with the same one. */
static const qk256_builtin i8_builtins[] = {
    I8_ENTRY(scalar, "scalar", 0, 4, qk256_quantize_x,
             "reference: x quantized to int8, exact integer block sums, one element at a time"),
    I8_ENTRY(
        avx2_maddubs, "avx2-maddubs", AVX2, 128, qk256_quantize_x_avx2,
        "shift+mask unpack against x in unpack order, vpshufb table, vpmaddubsw/vpmaddwd, 4 rows; "
        "vector quantize"),
    I8_ENTRY(avx512_vnni, "avx512-vnni", AVX512_VNNI, 256, qk256_quantize_x_avx512,
             "zmm: one shift, vpermb on 6-bit tables (no masks), vpdpbusd chain per block; rows "
             "one at a time in memory order (8-row tiles staged); vector quantize"),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const qk256_builtin *builtins_of(const char *op, size_t *n)
{
    if (op && strcmp(op, "dequantize") == 0) {
        *n = NELEM(dq_builtins);
        return dq_builtins;
    }
    if (op && strcmp(op, "gemv") == 0) {
        *n = NELEM(gv_builtins);
        return gv_builtins;
    }
    if (op && strcmp(op, "gemv-i8") == 0) {
        *n = NELEM(i8_builtins);
        return i8_builtins;
    }
    *n = 0;
    return NULL;
}

const qk256_builtin *qk256_builtin_find(const char *op, const char *name)
{
    size_t n;
    const qk256_builtin *t = builtins_of(op, &n);
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(t[i].v.name, name) == 0)
            return &t[i];
    return NULL;
}

const qk256_builtin *qk256_builtin_best(const char *op)
{
    size_t n;
    const qk256_builtin *t = builtins_of(op, &n);
    for (size_t i = n; i-- > 0;)
        if (qk_variant_runnable(&t[i].v))
            return &t[i];
    return NULL;
}

const char *const *qk256_variant_names(const char *op)
{
    static const char *dq_names[NELEM(dq_builtins) + 1];
    static const char *gv_names[NELEM(gv_builtins) + 1];
    static const char *i8_names[NELEM(i8_builtins) + 1];
    size_t n;
    const qk256_builtin *t = builtins_of(op, &n);
    if (!t)
        return NULL;
    const char **names = t == dq_builtins ? dq_names : t == gv_builtins ? gv_names : i8_names;
    if (!names[0])
        for (size_t i = 0; i < n; i++)
            names[i] = t[i].v.name;
    return names;
}

/* ---- the generic registry ---------------------------------------------- */

static const qk_op *user_ops[32];
static size_t n_user_ops;
static const qk_variant *user_variants[128];
static size_t n_user_variants;

static const qk_op *const builtin_ops[] = {&qk256_op_dequantize, &qk256_op_gemv, &qk256_op_gemv_i8};

size_t qk_op_count(void)
{
    return NELEM(builtin_ops) + n_user_ops;
}

const qk_op *qk_op_at(size_t i)
{
    if (i < NELEM(builtin_ops))
        return builtin_ops[i];
    i -= NELEM(builtin_ops);
    return i < n_user_ops ? user_ops[i] : NULL;
}

const qk_op *qk_find_op(const char *name)
{
    for (size_t i = 0; name && i < qk_op_count(); i++)
        if (strcmp(qk_op_at(i)->name, name) == 0)
            return qk_op_at(i);
    return NULL;
}

unsigned qk_phase_count(const qk_op *op)
{
    unsigned n = 0;
    while (op && op->phases && op->phases[n])
        n++;
    return n;
}

int qk_phase_index(const qk_op *op, const char *phase)
{
    for (unsigned i = 0; phase && i < qk_phase_count(op); i++)
        if (strcmp(op->phases[i], phase) == 0)
            return (int)i;
    return -1;
}

int qk_register_op(const qk_op *op)
{
    if (!op || !op->name || !op->create || !op->destroy || !op->elements || !op->bytes ||
        op->ndim < 1 || op->ndim > QK_MAX_DIMS || qk_phase_count(op) > QK_MAX_PHASES ||
        qk_find_op(op->name) || n_user_ops == NELEM(user_ops))
        return -1;
    user_ops[n_user_ops++] = op;
    return 0;
}

int qk_register_variant(const qk_variant *v)
{
    if (!v || !v->name || !v->fused || !qk_find_op(v->op) || qk_find_variant(v->op, v->name) ||
        n_user_variants == NELEM(user_variants))
        return -1;
    user_variants[n_user_variants++] = v;
    return 0;
}

size_t qk_variant_count(const char *op)
{
    size_t n;
    builtins_of(op, &n);
    for (size_t i = 0; op && i < n_user_variants; i++)
        n += strcmp(user_variants[i]->op, op) == 0;
    return n;
}

const qk_variant *qk_variant_at(const char *op, size_t i)
{
    size_t n;
    const qk256_builtin *t = builtins_of(op, &n);
    if (i < n)
        return &t[i].v;
    i -= n;
    for (size_t k = 0; op && k < n_user_variants; k++)
        if (strcmp(user_variants[k]->op, op) == 0 && i-- == 0)
            return user_variants[k];
    return NULL;
}

const qk_variant *qk_find_variant(const char *op, const char *name)
{
    for (size_t i = 0; name && i < qk_variant_count(op); i++)
        if (strcmp(qk_variant_at(op, i)->name, name) == 0)
            return qk_variant_at(op, i);
    return NULL;
}

int qk_variant_runnable(const qk_variant *v)
{
    return v && (v->isa & ~qk_cpu_isa()) == 0;
}
