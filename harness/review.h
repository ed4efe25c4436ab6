/*
 * review.h — `qkperf review -o DIR`: the sprint-review folder (probe.txt,
 * ladders, sweeps, results.json/.csv, plots, REPORT.md) in one command.
 */
#ifndef QKPERF_REVIEW_H
#define QKPERF_REVIEW_H

#include <stdio.h>

#include "results.h"

int qkperf_cmd_review(int argc, char **argv);

/* Write REPORT.md's text for a finished results document; `plots` lists
 * the files made (NULL-terminated, may be NULL), `skipped` what was not. */
int qkperf_review_report(FILE *f, const qkperf_results *r, const char *const *plots,
                         const char *const *captions, const char *const *skipped);

#endif
