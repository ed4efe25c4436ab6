/*
 * module.h — libqk256's variants as the public API looks them up
 * (module.c): one entry per line of variants.def.
 */
#ifndef QK256_MODULE_H
#define QK256_MODULE_H

#include "qk256_impl.h"

typedef struct qk256_builtin {
    qk_variant v; /* as the harness sees it */
    union {
        qk256_dequant_fn dq;
        qk256_gemv_fn gv;
        struct {
            qk256_gemv_i8_fn kernel;
            const qk256_i8_layout *layout; /* the quantized x it reads */
        } i8;
    } fn; /* the kernel with its plain signature */
} qk256_builtin;

const qk256_builtin *qk256_builtin_find(const char *op, const char *name);
/* The last variant in ladder order that this CPU can run, past those that
 * repack per plain call (module.c). */
const qk256_builtin *qk256_builtin_best(const char *op);
/* 1 if this CPU (as the process sees it) has the variant's ISA. */
int qk256_builtin_runnable(const qk256_builtin *b);
/* 1 if b runs the layout of qk256_repack_i8 (and packs it per call when
 * called plainly): never the plain functions' choice. */
int qk256_builtin_repacks(const qk256_builtin *b);

#endif
