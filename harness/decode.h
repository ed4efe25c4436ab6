/*
 * decode.h — the end-to-end decode benchmark: the linear layers of one
 * decoded token of BitNet b1.58 2B4T (30 layers of q, k, v, o, gate, up,
 * down), random weights packed in QK256 (about 554 MB with scales, so they
 * stream from memory), run with one gemv or gemv-i8 variant of libqk256 at
 * a chosen thread count. The projections that share an input run as one
 * call, as inference engines run them (q|k|v, o, gate|up, down: 4 calls
 * per layer); --unfused makes one call per matrix (7). It answers the
 * sprint's end-to-end question — tokens per second — and sets it against
 * the machine's measured memory read bandwidth, since one token must read
 * every weight once.
 *
 * Variants are named OP/NAME ("gemv/avx512-vbmi", "gemv-i8/avx512-vnni")
 * because both ops have a "scalar"; a bare NAME is accepted when only one
 * op has it. Records: op "decode", size "bitnet-b1.58-2b4t-<L>L", phase
 * "total", metrics "time" (ns per token), "tokens/s", "weight B/s" and
 * "bandwidth fraction" (weight B/s over the memory read bandwidth measured
 * with decode's thread count, kept in config.memory_read_Bps and
 * config.memory_read_threads and named in a note), one sample per timed
 * token, source "tsc". Every run also times the pseudo-variant "weights
 * read": the same calls (120 per token, 210 unfused) on the same thread
 * pool and row shares, each loading its matrices' packed rows and scales
 * once and computing nothing (the ceiling of a kernel under this call
 * structure), with the same four
 * metrics; each kernel then has "of weights read" too, token by token the
 * read pass's time over the kernel's in the same round. The memory reads
 * made between rounds are variant "memory read", metric "memory read B/s".
 * With opts.null_read the read also runs as variant "weights read (null)",
 * in a kernel's place, and has "of weights read" like a kernel: the run's
 * noise floor for that figure.
 */
#ifndef QKPERF_DECODE_H
#define QKPERF_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "results.h"

enum { QKPERF_DECODE_LAYERS = 30 }; /* BitNet b1.58 2B4T */

/* The variant name of the weights read: every matrix's packed rows and
 * scales read once, in the same calls, on the same thread pool and row
 * shares as a gemv, and nothing computed; the ceiling of a kernel under
 * this call structure, measured next to it. */
#define QKPERF_DECODE_WEIGHTS_READ "weights read"

/* The variant name of the null comparison (opts.null_read): the weights
 * read run a second time, as a kernel, just before the read in every
 * round, so its "of weights read" is an identical program against itself:
 * how far the run's "of read" figures move with no change at all. */
#define QKPERF_DECODE_NULL_READ "weights read (null)"

/* The variant name of the int8 gemv on weights repacked once into the
 * decode layout of libqk256 (qk256_repack_i8, qk256_gemv_i8_repacked):
 * the repack runs before the tokens and is timed apart ("repack time", ns,
 * one sample, and a note); its tokens are timed like any kernel's. It is
 * among the defaults and "all". */
#define QKPERF_DECODE_REPACKED "gemv-i8/repacked"

typedef struct qkperf_decode_opts {
    const char *variants; /* "all", a comma list, or NULL: the plain
                             functions' choices for gemv and gemv-i8, and
                             gemv-i8/repacked */
    int threads;          /* qk256_set_threads value; 0 = every online CPU */
    unsigned tokens;      /* timed tokens per variant (>= 1) */
    unsigned warmup;      /* untimed tokens per variant first */
    unsigned layers;      /* 1..30 */
    uint64_t seed;        /* weights and the first activation */
    int quick;            /* quick roofline measurement */
    int unfused;          /* one call per matrix (7 per layer), not q|k|v and
                             gate|up as one call each (4 per layer) */
    int null_read;        /* also time QKPERF_DECODE_NULL_READ */
    /* Test seams, 0/NULL in the benchmark. shape_div divides every matrix
     * dimension (2560, 640, 6912) so a test runs a tiny model; the size
     * label then ends in "-divN". final_out (hidden/shape_div floats)
     * receives the last token's final activation of the last variant. */
    unsigned shape_div;
    float *final_out;
} qkperf_decode_opts;

/* Defaults: all CPUs, 5 tokens after 1 warm-up, 30 layers, seed 1. */
void qkperf_decode_opts_default(qkperf_decode_opts *o);

/* Measure each variant into res: records as above, machine (probe, and
 * machine.roofline measured here unless res->machine already holds one,
 * which is then used; the memory read is measured again with decode's
 * thread count when the roofline has no figure for it), build and config
 * sections, notes (the bandwidth the fractions are against, skipped
 * variants, quick mode). The library's thread count is restored afterwards.
 * 0; 2 for a bad option or unknown variant (err: one line naming the known
 * ones); 1 when memory cannot be allocated or a kernel fails (err says which). */
int qkperf_decode_measure(const qkperf_decode_opts *o, qkperf_results *res, char *err, size_t len);

/* The table and plot of a decode document are the plot module's:
 * qkperf_decode_print and qkperf_decode_plot in plot.h; `qkperf decode`
 * is cmd/cmd_decode.c. */

#endif
