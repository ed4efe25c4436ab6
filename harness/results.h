/*
 * results.h — the results document: records of measured series plus the
 * machine, build and config they came from; written as JSON (jansson) and
 * as flat CSV, read back for compare/plot/review. Writes are atomic.
 */
#ifndef QKPERF_RESULTS_H
#define QKPERF_RESULTS_H

#include <jansson.h>
#include <stddef.h>

#define QKPERF_SCHEMA "qkperf-results/1"
#define QKPERF_MAX_RUNS 64 /* processes of one --runs K */

/* The view of a record: a phase run alone over the whole input (staged),
 * the whole kernel (fused, phase "total"), or a phase inside the fused
 * kernel, its share of the kernel's own time or counts (in-context). */
#define QKPERF_VIEW_STAGED "staged"
#define QKPERF_VIEW_FUSED "fused"
#define QKPERF_VIEW_IN_CONTEXT "in-context"

/* The view a record without one has: fused for "total", else staged. */
const char *qkperf_default_view(const char *phase);
/* 1 for one of the three view names. */
int qkperf_view_known(const char *view);

/* One series: a metric of one region (phase or "total") of one variant,
 * in one view. */
typedef struct qkperf_record {
    char op[32], variant[48], size[48], phase[24], metric[48], source[12], unit[16];
    char view[12];   /* QKPERF_VIEW_*; "" when added: the default view */
    double *samples; /* per call (already divided by batch) */
    size_t n;
    double median, mad, min;
    unsigned long batch; /* kernel calls per sample */
    int counted;         /* 0: n/a, see why */
    char why[200];
    double mux_ratio;                   /* running/enabled (hw, sw); 1 otherwise */
    unsigned threads;                   /* hw, sw: threads counted and summed; 0 otherwise */
    size_t outliers_low, outliers_high; /* Tukey, mild or worse */
    /* Runs (processes, --runs K) the samples came from: run k holds the
     * next run_n[k] samples, in order. nruns 0: one run, no run data (the
     * intervals are within-run only). */
    size_t nruns;
    unsigned run_n[QKPERF_MAX_RUNS];
} qkperf_record;

typedef struct qkperf_results {
    json_t *machine, *build, *config; /* owned objects */
    json_t *notes;                    /* array of strings */
    qkperf_record *rec;
    size_t n, cap;
} qkperf_results;

void qkperf_results_init(qkperf_results *r);
void qkperf_results_free(qkperf_results *r);
/* Append a copy of rec (samples copied; stats computed here); samples of
 * a series already present (a later round) are appended to it. 0 or -1. */
int qkperf_results_add(qkperf_results *r, const qkperf_record *rec);
/* Add every record of `run` (a whole document measured by one process)
 * to r as that process's run: samples appended, run lengths recorded.
 * 0 or -1 (out of memory, more than QKPERF_MAX_RUNS runs). */
int qkperf_results_add_run(qkperf_results *r, const qkperf_results *run);
/* The run-to-run spread of a record with run data (>= 2 runs): the
 * standard deviation of the log of its per-run medians, NAN without. */
double qkperf_record_run_spread(const qkperf_record *x);
/* The median of run k's samples. */
double qkperf_record_run_median(const qkperf_record *x, size_t k);
void qkperf_results_note(qkperf_results *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The staged or fused record (by qkperf_default_view of phase) of a
 * series, any source; NULL if none. */
const qkperf_record *qkperf_results_find(const qkperf_results *r, const char *op,
                                         const char *variant, const char *size, const char *phase,
                                         const char *metric);
/* The same in an explicit view ("in-context" for a phase's share). */
const qkperf_record *qkperf_results_find_view(const qkperf_results *r, const char *view,
                                              const char *op, const char *variant, const char *size,
                                              const char *phase, const char *metric);

/* The document as text (malloc'ed, NUL-terminated), NULL when out of memory. */
char *qkperf_results_json_text(const qkperf_results *r);
char *qkperf_results_csv_text(const qkperf_results *r);

/* Atomic writes (temp file in the same folder, fsync, rename). 0 or -1 with
 * a one-line message in err. */
int qkperf_results_write_json(const qkperf_results *r, const char *path, char *err, size_t len);
int qkperf_results_write_csv(const qkperf_results *r, const char *path, char *err, size_t len);
/* The document without its raw samples (each record keeps its median, MAD,
 * min and n) nor its records not counted (the first reason per source and
 * view, under "not_counted"), marked "trimmed": for committing a review's
 * summary; the reader refuses it, nothing can be compared without samples. */
int qkperf_results_write_json_trimmed(const qkperf_results *r, const char *path, char *err,
                                      size_t len);
/* Read a results document, checked field by field: -1 with a one-line
 * message naming the file, and the record and field when one is wrong
 * (not JSON, wrong schema, a string where a number belongs, a number out
 * of range, a name or config string holding a control character, a bad
 * config.bands...). */
int qkperf_results_read_json(qkperf_results *r, const char *path, char *err, size_t len);
/* A parser's message about bad input quotes the input, which may hold a
 * newline or other control bytes: each becomes '?' in place, so an error
 * stays one line. Returns s. */
char *qkperf_one_line(char *s);

/* Test seam: called with the temporary file written and synced, before the
 * rename that publishes it (a test kills the process here). */
extern void (*qkperf_write_hook)(const char *tmp_path);

/* Write a string to path atomically (for reports and scripts). */
int qkperf_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);
/* Whether qkperf_write_atomic could write path: its temporary file made
 * and dropped. 0, or -1 with one line in err. */
int qkperf_write_atomic_probe(const char *path, char *err, size_t errlen);

#endif
