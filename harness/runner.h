/*
 * runner.h — measuring a variant: every phase alone (staged) and the fused
 * kernel, under each counter source, into records of a results document.
 *
 * Per region: one warm call, batch size calibrated so that the sources'
 * start/stop cost stays under 1% of a sample, warm-up, then `samples`
 * samples per pass. Pass 0 counts with the tsc nested inside the software
 * group; each hardware group (or each part of one split to fit the PMU's
 * counters) is one more pass with the tsc inside it for `time`. The cost of
 * an empty region is measured per source and subtracted; values are per
 * kernel call.
 */
#ifndef QKPERF_RUNNER_H
#define QKPERF_RUNNER_H

#include <stdint.h>

#include "registry.h"
#include "results.h"

typedef struct qkperf_run_opts {
    unsigned samples;              /* >= 1; default 11 */
    double warmup_ms;              /* default 20 */
    double min_sample_us;          /* floor of a sample; default 50 */
    uint64_t seed;                 /* inputs */
    int cpu;                       /* -1: not pinned */
    int staged;                    /* also measure each phase alone */
    int sw;                        /* use the software-event group */
    const char *const *groups;     /* hw group names, NULL-terminated, or NULL */
    const char *const *group_dirs; /* user --groups directories, or NULL */
    const char *const *events;     /* -e: ad-hoc libpfm names, NULL-terminated, or NULL:
                                      counted as one more group (events.h) */
    int progress;                  /* print a progress line on stderr */
    int sample;                    /* the in-context view by sampling (incontext.h) */
    unsigned sample_target;        /* samples to take per variant and size, this round */
    double sample_hz;              /* the sampling clock's rate per thread */
} qkperf_run_opts;

void qkperf_run_opts_default(qkperf_run_opts *o);

/* Load and check the hw groups named in o (host PMU folder, falling back
 * to the generic "perf" folder) and o's -e events; 0, or -1 with one line
 * in err. */
int qkperf_runner_check_groups(const qkperf_run_opts *o, char *err, size_t errlen);

/* The shared check every variant passes before it is measured: its fused
 * output against the op's reference variant's, from workspaces of one
 * dim and seed, by op->output (the first mismatch: index, got, expected)
 * or else op->compare, within op->tolerance (0: 1e-3). 0 (agrees, or
 * nothing to compare, or v is the reference), or -1 with one line in err. */
int qkperf_check_variant(const qk_op *op, const qk_variant *v, const size_t *dim, const char *size,
                         uint64_t seed, char *err, size_t len);

/* Measure one variant at one size. The variant's fused output is first
 * checked against the op's reference variant (qk_reference_variant).
 * Appends records to res; 0, or -1 with one line in err. */
int qkperf_measure(const qkperf_run_opts *o, const qk_op *op, const qk_variant *v,
                   const size_t *dim, const char *size, qkperf_results *res, char *err,
                   size_t errlen);

/* A note in res, once, for each staged phase of v whose code is not the
 * fused kernel's (qk_phase.note). */
void qkperf_note_staged(qkperf_results *res, const qk_variant *v);

#endif
