/*
 * qkperf/kernel.h — the kernel interface: all that the qkperf harness knows
 * of a kernel, and all that a kernel library needs to know of qkperf.
 *
 * An *op* is a workload: what is computed, on which buffers, described by a
 * fixed list of named phases. A *variant* is one implementation of an op.
 * The harness never sees a library's own types: it asks an op to create a
 * workspace for a size and a seed, then runs a variant on it, either fused
 * (the real kernel) or one phase alone (staged, over intermediates the
 * workspace holds).
 *
 * A library hands its ops and variants to the harness as one qk_module.
 * libqk256 returns its module from qk256_kernel_module() (qk256.h); a
 * plugin, a shared object that `qkperf ... --plugin FILE.so` loads,
 * exports `const qk_module *qkperf_plugin(void)` under the name
 * QK_PLUGIN_SYMBOL (QK_PLUGIN_DEFINE below writes it). The harness checks
 * a module (abi, names, fields) when it registers it; nothing here is
 * called by the library, and a plugin links against nothing of qkperf's
 * (docs/own-kernels.md, examples/q8_0).
 *
 * This header is self-contained (C99 or later, C++): it needs only the
 * compiler's <cpuid.h> on x86, for qk_cpu_isa().
 */
#ifndef QKPERF_KERNEL_H
#define QKPERF_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the structs below. Abi 2 added qk_op.stage; a module of
 * abi 1 (QK_KERNEL_ABI_OLDEST, built against an older header) is still
 * accepted and read without it. A module of any other abi is refused. */
#define QK_KERNEL_ABI 2
#define QK_KERNEL_ABI_OLDEST 1

/* The symbol a plugin exports: const qk_module *qkperf_plugin(void). */
#define QK_PLUGIN_SYMBOL "qkperf_plugin"

/* ISA features a variant may require (bit set). */
enum {
    QK_ISA_AVX2 = 1u << 0,
    QK_ISA_FMA = 1u << 1,
    QK_ISA_AVX512 = 1u << 2, /* F + BW + VL + DQ */
    QK_ISA_AVX512VBMI = 1u << 3,
    QK_ISA_AVX512VNNI = 1u << 4,
    QK_ISA_AVXVNNI = 1u << 5,
    QK_ISA_ALL = (1u << 6) - 1 /* every bit above */
};

enum { QK_MAX_PHASES = 8, QK_MAX_DIMS = 2 };

/*
 * One phase of one variant.
 *   staged  runs the phase alone over the workspace, its inputs being the
 *           intermediates the earlier phases left there; NULL when the
 *           variant has no staged view of this phase.
 *   blocks  NULL-terminated names of the functions (static inline blocks,
 *           inlined into the fused kernel, or functions it calls) whose
 *           code does this phase's work inside the fused kernel. The
 *           in-context view maps a sampled address to the innermost frame
 *           of its inline chain named in some phase's list; an address in
 *           none is "other". NULL: no such mapping.
 *   note    NULL when the staged runner executes the fused kernel's own
 *           code for the phase (over materialized intermediates), else one
 *           line saying how it differs; shown with the phase's records.
 */
typedef struct qk_phase {
    void (*staged)(void *ws);
    const char *const *blocks;
    const char *note;
} qk_phase;

typedef struct qk_op {
    const char *name;          /* "gemv" */
    const char *summary;       /* one line */
    const char *const *phases; /* NULL-terminated, at most QK_MAX_PHASES */
    unsigned ndim;             /* 1: size is "N"; 2: size is "ROWSxCOLS" */
    /* Allocate a workspace for dim[0..ndim-1]: inputs filled from a generator
     * seeded with `seed` (non-zero data), outputs and (unless `stage` below
     * makes them) staged intermediates allocated. Returns NULL and sets
     * errno on failure. */
    void *(*create)(const size_t *dim, uint64_t seed);
    void (*destroy)(void *ws);
    double (*elements)(const size_t *dim); /* elements processed per call */
    double (*bytes)(const size_t *dim);    /* bytes a fused call must move */
    /* Largest |difference| between the outputs of two workspaces made with
     * the same dim and seed, relative to the output's scale; NULL if the op
     * has no output to compare. Used to check a variant against another. */
    double (*compare)(const void *ws_a, const void *ws_b);
    const char *reference;    /* variant the others are checked against; NULL: the first */
    const char *default_size; /* size when none is asked for ("2560x2560"); NULL: harness's */
    /* Optional, for the check against the reference (NULL, 0: compare
     * alone, which says by how much but not where). output: the n floats a
     * fused call wrote into ws; the harness then refuses a variant with its
     * first output outside tolerance (index, got, expected). tolerance: the
     * largest |got - expected| / max(1, |expected|) allowed; 0: 1e-3.
     * Two builds of a library side by side (qkperf ab, run --lib) each
     * make their variants' workspaces with their own create; their
     * variants are checked against this build's reference through both
     * builds' output, or, when one has none (or is of abi 1), against
     * their own build's reference through its compare.
     * Added after abi 1 first shipped, at the end, so a module that does
     * not set them reads NULL and 0 (use designated initializers: with
     * positional ones -Wextra warns of the fields left out). Read only
     * from a module of abi 2 or later: an abi-1 module may have been built
     * before they existed, so its ops are checked through compare(). */
    const float *(*output)(const void *ws, size_t *n);
    double tolerance;
    /* Optional, abi 2 (NULL in a module of abi 1, which has no such field):
     * make ws's staged intermediates, their
     * pages touched, so that create need not; 0, or -1 with errno. The
     * harness calls it once per workspace before it first runs a staged
     * phase, never for a run without the staged view (the reference
     * check, --no-staged, the decode), which then costs a large size only
     * its inputs and outputs. NULL: create made them. */
    int (*stage)(void *ws);
} qk_op;

typedef struct qk_variant {
    const char *op;      /* name of an op of this module or of one registered before */
    const char *name;    /* "avx2-p1-p4" */
    const char *summary; /* what this variant (ladder step) changes */
    unsigned isa;        /* QK_ISA_* bits required */
    void (*fused)(void *ws);
    /* One entry per phase of the op, in the op's order; NULL: no staged view. */
    const qk_phase *phases;
    /* llvm-mca region prefix: the regions of phase P are marked
     * "<mca>/<P>@<elements>[#<loop>]" in the asm (QK_MCA_BEGIN); NULL: none. */
    const char *mca;
} qk_variant;

/* What a library registers: its ops and variants (both NULL-terminated;
 * variants of an op in ladder order) and optionally its thread pool, which
 * runs fn over rows [0, rows) in slices on its threads (`work`: the
 * multiply-adds of the call, to decide whether threads pay). */
typedef struct qk_module {
    unsigned abi; /* QK_KERNEL_ABI */
    const char *name;
    const qk_op *const *ops;
    const qk_variant *const *variants;
    void (*parallel_rows)(size_t rows, size_t work, void (*fn)(void *ctx, size_t r0, size_t r1),
                          void *ctx);
} qk_module;

/* A plugin's entry point: QK_PLUGIN_DEFINE(my_module) after
 * `static const qk_module my_module = {QK_KERNEL_ABI, ...};`. */
#ifdef __cplusplus
#define QK_PLUGIN_EXTERN extern "C"
#else
#define QK_PLUGIN_EXTERN
#endif
#define QK_PLUGIN_DEFINE(module)                                                                  \
    QK_PLUGIN_EXTERN __attribute__((visibility("default"))) const qk_module *qkperf_plugin(void); \
    QK_PLUGIN_EXTERN __attribute__((visibility("default"))) const qk_module *qkperf_plugin(void)  \
    {                                                                                             \
        return &(module);                                                                         \
    }

/* llvm-mca region markers, compiled in only for the assembly build
 * (-DQK_MCA_MARKERS), so the measured binary is unchanged. */
#ifdef QK_MCA_MARKERS
#define QK_MCA_BEGIN(name) __asm__ volatile("# LLVM-MCA-BEGIN " name)
#define QK_MCA_END(name) __asm__ volatile("# LLVM-MCA-END " name)
#else
#define QK_MCA_BEGIN(name) ((void)0)
#define QK_MCA_END(name) ((void)0)
#endif

/* ---- the CPU's features ------------------------------------------------- */

/* Inline here so that a library (dispatch) and the harness (which variants
 * can run) decide alike from one piece of code. */

/* Bits of `env` ("avx512,avx2") that QK256_DISABLE masks off, e.g. to force
 * a slower path for comparison or to test the unsupported-ISA errors. */
static inline unsigned qk_isa_disabled(const char *env)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {
        {"avx2", QK_ISA_ALL},
        {"fma", QK_ISA_FMA},
        {"avx512", QK_ISA_AVX512 | QK_ISA_AVX512VBMI | QK_ISA_AVX512VNNI},
        {"avx512vnni", QK_ISA_AVX512VNNI},
    };
    unsigned off = 0;
    for (size_t i = 0; env && i < sizeof names / sizeof names[0]; i++) {
        size_t len = strlen(names[i].name);
        for (const char *p = strstr(env, names[i].name); p; p = strstr(p + 1, names[i].name))
            if ((p == env || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
                off |= names[i].bits;
    }
    return off;
}

/* Features from CPUID, each only where the OS saves the registers it needs
 * (XGETBV). Under valgrind, whose CPUID has no AVX-512, that is AVX2 at
 * most. AVX-VNNI (VEX) is not detected: no variant uses it yet. */
static inline unsigned qk_cpu_isa_raw(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
        return 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) /* XMM and YMM state */
        return 0;
    int zmm = (lo & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM state */
    if (c & bit_FMA)
        f |= QK_ISA_FMA;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return f;
    if (b & bit_AVX2)
        f |= QK_ISA_AVX2;
    unsigned f512 = bit_AVX512F | bit_AVX512BW | bit_AVX512VL | bit_AVX512DQ;
    if (zmm && (b & f512) == f512) {
        f |= QK_ISA_AVX512;
        if (c & bit_AVX512VBMI)
            f |= QK_ISA_AVX512VBMI;
        if (c & bit_AVX512VNNI)
            f |= QK_ISA_AVX512VNNI;
    }
#endif
    return f;
}

/* Features of this CPU as the process sees it, less QK256_DISABLE's. */
static inline unsigned qk_cpu_isa(void)
{
    static int done;
    static unsigned isa;
    if (!done) {
        isa = qk_cpu_isa_raw() & ~qk_isa_disabled(getenv("QK256_DISABLE"));
        done = 1;
    }
    return isa;
}

/* Space-separated names of the bits in `isa` ("avx2 fma"), or "none"; a
 * buffer of the calling thread, overwritten by the next call. */
static inline const char *qk_isa_names(unsigned isa)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {QK_ISA_AVX2, "avx2"},
        {QK_ISA_FMA, "fma"},
        {QK_ISA_AVX512, "avx512"},
        {QK_ISA_AVX512VBMI, "avx512vbmi"},
        {QK_ISA_AVX512VNNI, "avx512vnni"},
        {QK_ISA_AVXVNNI, "avxvnni"},
    };
    static __thread char buf[96];
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(isa & names[i].bit))
            continue;
        if (buf[0])
            strcat(buf, " ");
        strcat(buf, names[i].name);
    }
    return buf[0] ? buf : "none";
}

#ifdef __cplusplus
}
#endif
#endif
