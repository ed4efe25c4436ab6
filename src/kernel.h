/*
 * kernel.h — the kernel interface: all that a harness knows of a kernel.
 *
 * An *op* is a workload (what is computed, on which buffers, described by a
 * fixed list of named phases); a *variant* is one implementation of an op.
 * The harness never sees QK256 types: it asks an op to create a workspace for
 * a size and a seed, then runs a variant on it, either fused (the real
 * kernel) or one phase alone (staged, over buffers the workspace holds).
 * Any kernel can be profiled by registering an op and its variants here.
 *
 * Registration is not thread-safe: register before profiling starts.
 */
#ifndef QK_KERNEL_H
#define QK_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ISA features a variant may require (bit set). */
enum {
    QK_ISA_AVX2 = 1u << 0,
    QK_ISA_FMA = 1u << 1,
    QK_ISA_AVX512 = 1u << 2, /* F + BW + VL + DQ */
    QK_ISA_AVX512VBMI = 1u << 3,
    QK_ISA_AVX512VNNI = 1u << 4,
    QK_ISA_AVXVNNI = 1u << 5
};

enum { QK_MAX_PHASES = 8, QK_MAX_DIMS = 2 };

typedef struct qk_op {
    const char *name;          /* "gemv" */
    const char *summary;       /* one line */
    const char *const *phases; /* NULL-terminated, at most QK_MAX_PHASES */
    unsigned ndim;             /* 1: size is "N"; 2: size is "ROWSxCOLS" */
    /* Allocate a workspace for dim[0..ndim-1]: inputs filled from a generator
     * seeded with `seed` (non-zero data), outputs and staged intermediates
     * allocated. Returns NULL and sets errno on failure. */
    void *(*create)(const size_t *dim, uint64_t seed);
    void (*destroy)(void *ws);
    double (*elements)(const size_t *dim); /* elements processed per call */
    double (*bytes)(const size_t *dim);    /* bytes a fused call must move */
    /* Largest |difference| between the outputs of two workspaces made with
     * the same dim and seed, relative to the output's scale; NULL if the op
     * has no output to compare. Used to check a variant against another. */
    double (*compare)(const void *ws_a, const void *ws_b);
} qk_op;

typedef struct qk_variant {
    const char *op;      /* name of a registered op */
    const char *name;    /* "avx2-p1-p4" */
    const char *summary; /* what this variant (ladder step) changes */
    unsigned isa;        /* QK_ISA_* bits required */
    void (*fused)(void *ws);
    void (*phase)(void *ws, unsigned phase); /* run one phase alone, staged */
} qk_variant;

/* Features of this CPU as the process sees it (under valgrind: no AVX-512). */
unsigned qk_cpu_isa(void);
/* Space-separated names of the bits in `isa` ("avx2 fma"), static storage. */
const char *qk_isa_names(unsigned isa);

/* 0 on success; -1 if the name is taken, the op unknown, or fields missing. */
int qk_register_op(const qk_op *op);
int qk_register_variant(const qk_variant *v);

size_t qk_op_count(void);
const qk_op *qk_op_at(size_t i);
const qk_op *qk_find_op(const char *name);
unsigned qk_phase_count(const qk_op *op);
int qk_phase_index(const qk_op *op, const char *phase); /* -1 if unknown */

/* Variants of an op in ladder (registration) order. */
size_t qk_variant_count(const char *op);
const qk_variant *qk_variant_at(const char *op, size_t i);
const qk_variant *qk_find_variant(const char *op, const char *name);
int qk_variant_runnable(const qk_variant *v); /* 1 if this CPU has its ISA */

/* llvm-mca region markers, compiled in only for the assembly build
 * (-DQK_MCA_MARKERS), so the measured binary is unchanged. */
#ifdef QK_MCA_MARKERS
#define QK_MCA_BEGIN(name) __asm__ volatile("# LLVM-MCA-BEGIN " name)
#define QK_MCA_END(name) __asm__ volatile("# LLVM-MCA-END " name)
#else
#define QK_MCA_BEGIN(name) ((void)0)
#define QK_MCA_END(name) ((void)0)
#endif

#ifdef __cplusplus
}
#endif
#endif
