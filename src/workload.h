/*
 * workload.h — QK256 workspaces and the two built-in ops (workload.c).
 */
#ifndef QK_WORKLOAD_H
#define QK_WORKLOAD_H

#include "kernel.h"
#include "qk256_impl.h"

/* rows x cols workspace (dequantize: rows = 1); x allocated when with_x.
 * NULL with errno EOVERFLOW (absurd size) or ENOMEM. */
qk256_ws *qk256_ws_new(size_t rows, size_t cols, int with_x, uint64_t seed);
void qk256_ws_free(qk256_ws *w);

extern const qk_op qk256_op_dequantize;
extern const qk_op qk256_op_gemv;

#endif
