/*
 * tester.h — the one shared tester: every variant of an op is checked
 * against the scalar reference of that op through the public *_variant API,
 * over cases built from a seeded generator. The gemv ops are "gemv" (float
 * x) and "gemv-i8" (int8-quantized x, checked against its own scalar);
 * QKT_GEMV_OPS lists both for tests that run every gemv variant.
 */
#ifndef QKT_TESTER_H
#define QKT_TESTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct qkt_case {
    size_t rows, cols; /* dequantize: rows = 1, cols = n */
    size_t stride;     /* packed row stride in bytes; 0 = qk256_row_bytes(cols) */
    uint64_t seed;
    const float *lut;      /* NULL: the default table */
    int no_scales;         /* pass scales = NULL (all 1) */
    int code;              /* -1: random codes; 0..3: every code is this value */
    int zero_x;            /* gemv: x is all zero */
    size_t misalign;       /* bytes added to packed; floats get misalign & ~3 */
    const char *reference; /* the oracle; NULL: "scalar" */
} qkt_case;

typedef struct qkt_result {
    int rc;            /* return code of the variant under test */
    int ref_rc;        /* the reference's; when it failed and the variant did not,
                          every output counts as a mismatch: nothing was checked */
    size_t mismatches; /* outputs outside tolerance (dequantize: not bit-exact) */
    size_t first_bad;
    float got, want; /* at first_bad */
    double max_err;  /* largest |got - want| / max(1, |want|) */
    double sum_x;    /* gemv: sum of x in double, for known-answer checks */
    float first_y;   /* gemv: y[0] of the variant */
} qkt_result;

/* A default case: one row, random codes and scales, default table. */
qkt_case qkt_case_default(size_t rows, size_t cols, uint64_t seed);

qkt_result qkt_check_dequantize(const char *variant, const qkt_case *c);
qkt_result qkt_check_gemv(const char *variant, const qkt_case *c);
/* op: "gemv" or "gemv-i8" (which needs an integer table in c->lut). */
qkt_result qkt_check_gemv_op(const char *op, const char *variant, const qkt_case *c);

#define QKT_GEMV_OPS      \
    {                     \
        "gemv", "gemv-i8" \
    }
enum { QKT_N_GEMV_OPS = 2 };

/* gemv tolerance: 1e-4 absolute or relative, whichever is larger. */
#define QKT_GEMV_TOL 1e-4

/* Runnable variants of op (NULL-terminated, static storage, one list per
 * op: "dequantize", "gemv", "gemv-i8"). The variants this CPU cannot run
 * are left out, and said so once per op on stderr (the test's log). */
const char *const *qkt_runnable(const char *op);
/* Those left out, comma-separated, each with the ISA it needs
 * ("avx512-vbmi (needs avx2 fma avx512 avx512vbmi)"), or "". */
const char *qkt_skipped(const char *op);

#endif
