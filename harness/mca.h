/*
 * mca.h — the `static` counter source: llvm-mca's port model of each
 * phase's inner loop, read from the assembly of the kernel sources.
 *
 * `make` builds that assembly with the kernels' own per-file flags plus
 * -DQK_MCA_MARKERS, so every phase's loop is bracketed by
 * "# LLVM-MCA-BEGIN <mca>/<phase>@<elements>[#<loop>]" markers, <mca> being
 * the variant's region prefix (qk_variant.mca: "<op>/<variant>" for
 * libqk256; see <qkperf/kernel.h>); the measured binary has no markers.
 * A variant's regions are read from the first asm file of the folder (by
 * name) that holds any of them. Figures are a model of the code, not a
 * measurement: one sample, labelled source "static".
 *
 * <elements> is the number of elements one pass of the modelled code
 * handles. llvm-mca sees straight-line code only, so when the code between
 * the markers holds inner loops, the modelled pass is the <loop>-th
 * innermost of them (default 1: the first), e.g. the per-byte loop of a
 * scalar unpack, not the whole block around it.
 *
 * The asm folder: env QKPERF_MCA_DIR, else the build tree's mca/ (when it
 * exists), else the installed $(pkgdatadir)/mca.
 */
#ifndef QKPERF_MCA_H
#define QKPERF_MCA_H

#include <stddef.h>

#include "registry.h"
#include "results.h"

enum { QKPERF_MCA_MAX_RES = 48 };

/* One region as llvm-mca modelled it; figures per pass of the region. */
typedef struct qkperf_mca_region {
    char name[96];      /* "gemv/avx2-p1/unpack" (the @/# suffix removed) */
    double elements;    /* from the marker; 0 when it gives none */
    double rthroughput; /* block reverse throughput, cycles per pass */
    double uops, ipc;
    size_t nres;
    struct {
        char name[32];   /* control bytes of LLVM 14 turned into digits */
        double pressure; /* uops per pass on this resource */
    } res[QKPERF_MCA_MAX_RES];
} qkperf_mca_region;

/* 1 if llvm-mca (or llvm-mca-14) is on PATH and the kernels' asm is found;
 * else 0 with the reason in why. */
int qkperf_mca_available(char *why, size_t len);

/* The llvm-mca CPU model for this host ("znver3") and its label for the
 * results document ("znver3 (stand-in for Zen 4)"); NULL with the reason
 * in label when llvm-mca 14 has no model close to this CPU. */
const char *qkperf_mca_default_cpu(char *label, size_t len);

/* The model AVX-512 variants are given when the host's model has none
 * (llvm-mca 14's znver3 and skylake): Ice Lake server has AVX-512F, BW,
 * VBMI and VNNI, every extension the variants use. */
#define QKPERF_MCA_AVX512_CPU "icelake-server"

/* The model for variant v: cpu (the host's default, or the user's --mcpu
 * when given is 1) for every variant, except that without --mcpu a variant
 * that needs AVX-512 gets QKPERF_MCA_AVX512_CPU when cpu has no AVX-512;
 * then label says so ("icelake-server (stand-in: the host model znver3 has
 * no AVX-512)"), else label is "". */
const char *qkperf_mca_variant_cpu(const qk_variant *v, const char *cpu, int given, char *label,
                                   size_t len);

/* 0 if llvm-mca runs and models CPU mcpu (not as a generic fallback), else
 * -1 with one line in err: what --mcpu is checked with before a run. */
int qkperf_mca_check_cpu(const char *mcpu, char *err, size_t len);

/* Run llvm-mca --json -mcpu=mcpu on an assembly file (markers already
 * chosen) and parse every region into *out (malloc'ed, *n of them).
 * 0, or -1 with one line in err (llvm-mca missing, unknown CPU, bad asm). */
int qkperf_mca_analyze(const char *asm_path, const char *mcpu, qkperf_mca_region **out, size_t *n,
                       char *err, size_t len);

/* The static figures of every phase of v: uops/iter, rthroughput,
 * cycles/elem, IPC, "port <resource>" and "bottleneck <resource>" records
 * (source "static"); a phase without a usable region gets one counted=0
 * record saying why. 0, or -1 with one line in err. */
int qkperf_mca_measure(const qk_op *op, const qk_variant *v, const char *size, const char *mcpu,
                       qkperf_results *res, char *err, size_t len);

#endif
