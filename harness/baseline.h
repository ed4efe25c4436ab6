/*
 * baseline.h — named baselines (results documents saved under a folder)
 * and the comparison of a new run against an old one, the regression gate
 * that CI relies on: compare exits 0 when nothing regressed, 1 when
 * something did, 2 on usage or input errors.
 */
#ifndef QKPERF_BASELINE_H
#define QKPERF_BASELINE_H

#include <stdio.h>

#include "results.h"
#include "stats.h"

/* The folder: opt if given, else $QKPERF_BASELINE_DIR, else .qkperf/baselines. */
const char *qkperf_baseline_dir(const char *opt);

/* 1 if name is a valid baseline name, else 0 with a one-line err. */
int qkperf_baseline_name_ok(const char *name, char *err, size_t len);

/* Save atomically as DIR/NAME.json (folders created); an interrupted save
 * leaves the previous baseline of that name intact. 0 or -1 with err. */
int qkperf_baseline_save(const qkperf_results *r, const char *dir, const char *name, char *err,
                         size_t len);
/* Load DIR/NAME.json; a missing name lists the names that exist. */
int qkperf_baseline_load(qkperf_results *r, const char *dir, const char *name, char *err,
                         size_t len);

/* Divide each record's samples by the median of the same record of
 * variant `ref` in the same document (time relative to scalar, say): ratios
 * measured side by side in one run, stable across runs where absolute times
 * are not. Records without a reference counterpart are dropped. */
int qkperf_results_relative(const qkperf_results *in, const char *ref, qkperf_results *out);

typedef struct qkperf_compare_opts {
    qkperf_bands bands;
    uint64_t seed;
    const char *only_metric; /* NULL: every metric */
    const char *only_phase;  /* NULL: every phase */
    int verbose;             /* also print unchanged records */
    qkperf_adjust adjust;    /* multiplicity over the records: Holm (default) or BH */
    double alpha;            /* the family's level (0.05) */
    /* Calibrated run-to-run noise (a document with run data, qkperf
     * calibrate): NULL, then the old document's own run data if it has
     * any. noise_name names it in the output. */
    const qkperf_results *noise;
    const char *noise_name;
    int *improved;    /* when not NULL, receives the number of improvements */
    int same_process; /* A/B: both sides sampled interleaved in one process */
} qkperf_compare_opts;

/* The defaults: default bands and seed, Holm at 5%, no noise document. */
void qkperf_compare_opts_init(qkperf_compare_opts *o);

/* The calibrated band of a record: the spread s of the noise record of
 * the same series (the sd of the log of its per-run medians) carried to
 * the difference of a k_old-run and a k_new-run median,
 * exp(2 s sqrt(1/k_old + 1/k_new)) - 1; NAN when noise has no such record
 * with run data. */
double qkperf_noise_band(const qkperf_results *noise, const qkperf_record *x, size_t k_old,
                         size_t k_new);

/* Print the comparison: every change with its interval and verdict. The
 * p-values of all the records compared are adjusted together (o->adjust),
 * and a change is called only when the adjusted p is below alpha and the
 * whole interval lies beyond the band: the metric's band, or the
 * calibrated one when larger. Says which multiplicity control, which
 * intervals (between runs, or within-run only when a document has no run
 * data) and which noise were used, and, with a noise document or
 * verbose, the smallest change each record could show. Returns the
 * number of regressions, or -1 when the documents have no record in
 * common (err says so). Machine mismatches are warned about on stderr,
 * never silently compared. */
int qkperf_compare_print(FILE *f, const qkperf_results *old, const qkperf_results *new_,
                         const qkperf_compare_opts *o, const char *old_name, const char *new_name,
                         char *err, size_t len);

#endif
