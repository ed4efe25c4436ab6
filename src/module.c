/*
 * module.c — libqk256's ops and variants as one kernel-interface module
 * (qk256_kernel_module, <qkperf/kernel.h>) and as the public API looks
 * them up (module.h, qk256_variant_names).
 *
 * Every table here comes from variants.def: a variant is its kernel file
 * plus one line there. Each fused entry adapts a workspace to the kernel's
 * plain signature (gemv-i8: quantizing x first, into the layout its
 * kernel reads, as the API does).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "workload.h"

#define FUSED_dq(id)                                                  \
    static void dq_fused_##id(void *p)                                \
    {                                                                 \
        qk256_ws *w = p;                                              \
        qk256_dq_##id(w->out, w->packed, w->scales, w->cols, w->lut); \
    }
#define FUSED_gv(id)                                                                       \
    static void gv_fused_##id(void *p)                                                     \
    {                                                                                      \
        qk256_ws *w = p;                                                                   \
        qk256_gv_##id(w->out, w->packed, w->row_stride, w->scales, w->x, w->rows, w->cols, \
                      w->lut);                                                             \
    }
/* A variant that reads the tiles (layout.repacks) runs the workspace's
 * repacked copy, made with the workspace (workload.c) as a decode
 * repacks once at load. */
#define FUSED_i8(id)                                                                          \
    static void i8_fused_##id(void *p)                                                        \
    {                                                                                         \
        qk256_ws *w = p;                                                                      \
        const qk256_i8_layout *l = &qk256_i8_##id##_layout;                                   \
        qk256_xq xq = {w->xq, w->xsum, l->quantize(w->xq, w->xsum, w->x, w->cols, l->chunk)}; \
        if (l->repacks)                                                                       \
            qk256_i8_tiles_run(w->out, w->tiles, w->nb, &xq, 0, w->rows, &w->lut_i8);         \
        else                                                                                  \
            qk256_i8_##id(w->out, w->packed, w->row_stride, w->scales, &xq, w->rows, w->cols, \
                          &w->lut_i8);                                                        \
    }
#define QK_VARIANT(op_, id, ...) FUSED_##op_(id)
#include "variants.def"
#undef QK_VARIANT

#define KERNEL_dq(id) .dq = qk256_dq_##id
#define KERNEL_gv(id) .gv = qk256_gv_##id
#define KERNEL_i8(id) .i8 = {qk256_i8_##id, &qk256_i8_##id##_layout}

static const qk256_builtin builtins[] = {
#define QK_VARIANT(op_, id, name_, isa_, summary_) \
    {.v = {.op = QK256_OPNAME_##op_,               \
           .name = name_,                          \
           .summary = summary_,                    \
           .isa = QK256_ISA_##isa_,                \
           .fused = op_##_fused_##id,              \
           .phases = qk256_##op_##_##id##_phases,  \
           .mca = QK256_OPNAME_##op_ "/" name_},   \
     .fn = {KERNEL_##op_(id)}},
#include "variants.def"
#undef QK_VARIANT
};

enum {
#define QK_VARIANT(op_, id, ...) IDX_##op_##_##id,
#include "variants.def"
#undef QK_VARIANT
    N_BUILTINS
};

static const qk_variant *const module_variants[] = {
#define QK_VARIANT(op_, id, ...) &builtins[IDX_##op_##_##id].v,
#include "variants.def"
#undef QK_VARIANT
    NULL};

static const qk_op *const module_ops[] = {&qk256_op_dequantize, &qk256_op_gemv, &qk256_op_gemv_i8,
                                          NULL};

static const qk_module module = {
    .abi = QK_KERNEL_ABI,
    .name = "qk256",
    .ops = module_ops,
    .variants = module_variants,
    .parallel_rows = qk256_parallel_rows,
};

const struct qk_module *qk256_kernel_module(void)
{
    return &module;
}

/* ---- lookups of the public API ------------------------------------------ */

int qk256_builtin_runnable(const qk256_builtin *b)
{
    return (b->v.isa & ~qk_cpu_isa()) == 0;
}

const qk256_builtin *qk256_builtin_find(const char *op, const char *name)
{
    for (size_t i = 0; op && name && i < N_BUILTINS; i++)
        if (!strcmp(builtins[i].v.op, op) && !strcmp(builtins[i].v.name, name))
            return &builtins[i];
    return NULL;
}

/* A variant that repacks per plain call (avx512-vnni-tiles) is for
 * repacked weights (qk256_repack_i8), not the choice for a plain call. */
int qk256_builtin_repacks(const qk256_builtin *b)
{
    return !strcmp(b->v.op, QK256_OPNAME_i8) && b->fn.i8.layout->repacks;
}

const qk256_builtin *qk256_builtin_best(const char *op)
{
    for (size_t i = N_BUILTINS; op && i-- > 0;)
        if (!strcmp(builtins[i].v.op, op) && qk256_builtin_runnable(&builtins[i]) &&
            !qk256_builtin_repacks(&builtins[i]))
            return &builtins[i];
    return NULL;
}

/* The names of each op's variants in ladder order, NULL-terminated: filled
 * once, under pthread_once, since the API is thread-safe. */
static const char *names[sizeof module_ops / sizeof module_ops[0] - 1][N_BUILTINS + 1];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_fill(void)
{
    for (size_t o = 0; module_ops[o]; o++)
        for (size_t i = 0, n = 0; i < N_BUILTINS; i++)
            if (!strcmp(builtins[i].v.op, module_ops[o]->name))
                names[o][n++] = builtins[i].v.name;
}

const char *const *qk256_variant_names(const char *op)
{
    pthread_once(&names_once, names_fill);
    for (size_t o = 0; op && module_ops[o]; o++)
        if (!strcmp(module_ops[o]->name, op))
            return names[o];
    return NULL;
}
