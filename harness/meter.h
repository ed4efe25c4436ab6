/*
 * meter.h — one counter source as the runner uses it: open, start, stop,
 * per-metric values. A meter is either the tsc (time and estimated core
 * cycles), the software-event group (sw), or one hardware group (hw) opened
 * from an event group file, possibly one part of a group split to fit the
 * PMU's counters. sw and hw count every thread of the process that exists
 * when the meter is opened (the runner opens them after a first call of
 * the kernel, so a kernel's worker pool is there). A meter that cannot be opened stays usable:
 * every metric then reads n/a with the reason the open gave.
 */
#ifndef QKPERF_METER_H
#define QKPERF_METER_H

#include <stddef.h>
#include <stdint.h>

#include "perf.h"

enum { QKPERF_METER_MAX = 16 };

typedef struct qkperf_meter {
    char source[8]; /* "tsc", "sw", "hw" */
    char label[64]; /* hw: the group ("CYCLES" or "CYCLES[2/2]") */
    size_t n;
    char name[QKPERF_METER_MAX][48]; /* metric names */
    char unit[QKPERF_METER_MAX][16];
    int available; /* 0: every metric is n/a (why) */
    char why[256];
    qkperf_pgroup *group;
    size_t threads; /* sw, hw: threads the group counts (open time); 0 for tsc */
    uint64_t t0;
    double empty[QKPERF_METER_MAX];          /* cost of an empty region, subtracted */
    qkperf_why metric_why[QKPERF_METER_MAX]; /* last stop: why a metric was not counted */
} qkperf_meter;

void qkperf_meter_open_tsc(qkperf_meter *m);
void qkperf_meter_open_sw(qkperf_meter *m, int cpu);
/* events[i] is a libpfm name; names[i] the metric name it is reported as. */
void qkperf_meter_open_hw(qkperf_meter *m, const char *label, const char *const *names,
                          const char *const *events, size_t n, int cpu);
int qkperf_meter_start(qkperf_meter *m);
/* Values of the region just ended (raw, empty cost not subtracted);
 * counted[i] = 0 when that metric was not counted; ratio[i] = multiplexing. */
int qkperf_meter_stop(qkperf_meter *m, double *vals, int *counted, double *ratio);
/* Measure the empty-region cost (median of `reps` start/stop pairs). */
void qkperf_meter_calibrate_empty(qkperf_meter *m, unsigned reps);
void qkperf_meter_close(qkperf_meter *m);

#endif
