/*
 * attrib.h — attribution: for each step between two variants (the ladder,
 * or any list), each phase and each metric: before, after, the ratio of
 * medians with its bootstrap confidence interval, and a verdict that is
 * given only when the change is significant and outside the metric's noise
 * band. Also used by compare (baseline -> new) over matching records.
 */
#ifndef QKPERF_ATTRIB_H
#define QKPERF_ATTRIB_H

#include <stddef.h>
#include <stdint.h>

#include "results.h"
#include "stats.h"

typedef struct qkperf_delta {
    char op[32], size[48], phase[24], metric[48], source[12], unit[16];
    char view[12];         /* the records' view: staged, fused or in-context */
    char variant[48];      /* the record's variant (compare) or `to` (steps) */
    char from[48], to[48]; /* variants (ladder) or "baseline"/"new" labels */
    double before, after;  /* medians */
    qkperf_change change;  /* ratio after/before, CI, p, significant */
    qkperf_verdict verdict;
    double band;       /* the noise band used */
    double detectable; /* the smallest change called 9 times in 10 (fraction; qkperf_detectable) */
    int lower_is_better;
} qkperf_delta;

typedef struct qkperf_deltas {
    qkperf_delta *d;
    size_t n, cap;
} qkperf_deltas;

void qkperf_deltas_free(qkperf_deltas *ds);

/* Whether lower values of a metric are better (time, cycles, misses: yes;
 * throughput, bandwidth, IPC, the top-down retiring share, and decode's
 * tokens/s, weight B/s, memory read B/s, bandwidth fraction and of
 * weights read: no). */
int qkperf_lower_is_better(const char *metric);

/* Deltas for each consecutive pair of variants[0..nv) at one size, over
 * every (phase, metric) both have counted with >= 1 sample. 0 or -1. */
int qkperf_attrib_steps(const qkperf_results *r, const char *op, const char *size,
                        const char *const *variants, size_t nv, const qkperf_bands *bands,
                        uint64_t seed, qkperf_deltas *out);

/* The order check of a ladder (or any variant list): at every size, each
 * step's fused total time. *checked counts the steps with figures on both
 * sides; `slower` receives those where the later variant is slower beyond
 * noise (verdict regressed), in size then step order. 0 or -1. */
int qkperf_attrib_order(const qkperf_results *r, const char *op, const char *const *sizes,
                        size_t ns, const char *const *variants, size_t nv,
                        const qkperf_bands *bands, uint64_t seed, size_t *checked,
                        qkperf_deltas *slower);

/* Deltas between matching records (same op, variant, size, phase, metric,
 * source) of two documents: from = "baseline", to = "new". 0 or -1. */
int qkperf_attrib_compare(const qkperf_results *old, const qkperf_results *new_,
                          const qkperf_bands *bands, uint64_t seed, qkperf_deltas *out);

/* The noise bands and bootstrap seed of a document's verdicts: config.bands
 * and config.bootstrap_seed as the measuring command recorded them
 * (returns 1), or for a document from before they were recorded the
 * defaults, qkperf_bands_default and QKPERF_DEFAULT_SEED (returns 0: say
 * so where the verdicts are shown). */
int qkperf_attrib_settings(const qkperf_results *r, qkperf_bands *bands, uint64_t *seed);

#define QKPERF_ATTRIB_MAX 64 /* variants of one op in a document */

/* A document's attribution of op at one size. */
typedef struct qkperf_attrib_doc {
    const char *variants[QKPERF_ATTRIB_MAX]; /* point into the records */
    size_t nv;
    qkperf_bands bands;
    uint64_t seed;
    int recorded; /* bands and seed from the document (1) or the defaults (0) */
    qkperf_deltas ds;
} qkperf_attrib_doc;

/* The steps between the variants of op that have a counted fused time at
 * size, in document order (the order the measuring command ran them in),
 * with the document's bands and seed (qkperf_attrib_settings). ladder, plot
 * and the review report all take their verdicts from here, so they agree.
 * 0, or -1 out of memory; free *out with qkperf_attrib_doc_free either way. */
int qkperf_attrib_document(const qkperf_results *r, const char *op, const char *size,
                           qkperf_attrib_doc *out);
void qkperf_attrib_doc_free(qkperf_attrib_doc *a);

/* A delta as an absolute change, after - before, with the interval of the
 * ratio carried to it (before x (CI - 1)). */
void qkperf_delta_abs(const qkperf_delta *d, double *change, double *lo, double *hi);

/* One line per step saying how much of the fused kernel's time change each
 * phase accounts for, in context, largest first, e.g. "fused -0.79 ms
 * [-0.81, -0.77] (improved): unpack -0.41 ms [-0.45, -0.37] 52% of it, lut
 * -0.22 ms [...] 28% of it, fma +3 us [-5, +9] (noise), other -0.03 ms ...";
 * a phase whose change is within noise is marked so. */
void qkperf_attrib_summary_in_context(const qkperf_deltas *ds, const char *from, const char *to,
                                      char *buf, size_t len);

/* One line per step naming the phase that moved most on `metric` in the
 * staged view (each phase alone), e.g.
 * "avx2-p1 -> avx2-p1-p4: lut -71% [-73, -69] time (improved); unpack unchanged",
 * or, when no phase moved beyond its noise band, "a -> b: no phase changed
 * beyond noise in time (largest move: unpack -21% [-60, +16])". Each
 * phase is named once. */
void qkperf_attrib_summary(const qkperf_deltas *ds, const char *from, const char *to,
                           const char *metric, char *buf, size_t len);

#endif
