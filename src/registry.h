/*
 * registry.h — built-in QK256 variants as the public API looks them up.
 */
#ifndef QK_REGISTRY_H
#define QK_REGISTRY_H

#include "kernel.h"
#include "qk256_impl.h"

typedef struct qk256_builtin {
    qk_variant v; /* as the harness sees it */
    union {
        qk256_dequant_fn dq;
        qk256_gemv_fn gv;
        struct {
            qk256_gemv_i8_fn kernel;
            size_t chunk;               /* qk256_quantize_x layout the kernel reads */
            qk256_quantize_fn quantize; /* x -> that layout */
        } i8;
    } fn; /* the kernel with its plain signature */
} qk256_builtin;

const qk256_builtin *qk256_builtin_find(const char *op, const char *name);
/* The last variant in ladder order that this CPU can run. */
const qk256_builtin *qk256_builtin_best(const char *op);

#endif
