/*
 * workload.h — QK256 workspaces and the three built-in ops (workload.c).
 */
#ifndef QK_WORKLOAD_H
#define QK_WORKLOAD_H

#include "qk256_impl.h"

/* What a workspace holds beyond the packed matrix, scales and outputs. */
enum { QK_WS_X = 1, QK_WS_I8 = 2 /* gemv-i8 buffers; implies x */ };

/* rows x cols workspace (dequantize: rows = 1) with the QK_WS_* parts in
 * `what`. NULL with errno EOVERFLOW (absurd size) or ENOMEM. */
qk256_ws *qk256_ws_new(size_t rows, size_t cols, unsigned what, uint64_t seed);
void qk256_ws_free(qk256_ws *w);
/* Make w's staged intermediates (codes, vals, wq; their pages touched)
 * unless made already; 0, or -1 with errno (nothing made). A staged phase
 * needs them; qk_op.stage calls this. */
int qk256_ws_stage(qk256_ws *w);

extern const qk_op qk256_op_dequantize;
extern const qk_op qk256_op_gemv;
extern const qk_op qk256_op_gemv_i8;

#endif
