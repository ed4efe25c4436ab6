/*
 * review.h — the sprint review (`qkperf review -o DIR`, cmd/cmd_review.c):
 * the folder of probe.txt, ladders, sweeps, results.json/.csv, plots and
 * REPORT.md made in one run. review.c measures, report.c writes REPORT.md.
 */
#ifndef QKPERF_REVIEW_H
#define QKPERF_REVIEW_H

#include <stdio.h>

#include "results.h"

typedef struct qkperf_review_opts {
    const char *dir;  /* the folder (default "review") */
    int force;        /* replace what is in dir */
    int quick;        /* the quick sizes, quick roofline and decode */
    int sim, stat;    /* the sim and static sources, where they can run */
    int decode;       /* the decode step */
    unsigned samples; /* per region, 1..100000 (default 11) */
    int compact;      /* results.json without raw samples, no CSV, PNG plots only */
    int hw;           /* set by the run from the probe: also count TOPDOWN and PORTS */
} qkperf_review_opts;

/* Defaults: folder review, sim, static and decode on, 11 samples. */
void qkperf_review_opts_default(qkperf_review_opts *o);

/* 0 if o->dir can take a review: absent (it is made), empty, or with
 * o->force anything; else -1 with one line in err. */
int qkperf_review_dir_ready(const qkperf_review_opts *o, char *err, size_t len);

/* The review's nine steps into o->dir, which qkperf_review_dir_ready has
 * passed, one progress line each on stderr. A source, plot or decode that
 * cannot run here is noted in the document and REPORT.md. The exit code:
 * 0; 1 when a measurement or a file fails, or the plots fail (results.json
 * and .csv are written all the same); 2 for a job the checks refuse. */
int qkperf_review_run(const qkperf_review_opts *o);

/* Write REPORT.md's text for a finished results document; `plots` lists
 * the files made (NULL-terminated, may be NULL), `skipped` what was not. */
int qkperf_review_report(FILE *f, const qkperf_results *r, const char *const *plots,
                         const char *const *captions, const char *const *skipped);

#endif
