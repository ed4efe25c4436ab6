/*
 * events.h — ad-hoc hardware events from the command line (-e
 * EVENT[,EVENT...], as in perf stat -e and LIKWID's custom event sets),
 * beside the event groups. The events become one more group, named
 * "events", whose metrics are the raw counts, each named by its event
 * (the PMU prefix dropped); the runner splits it into passes like any
 * group. Any command that measures through the runner takes them through
 * qkperf_run_opts.events (run, ladder and sweep through job.c).
 */
#ifndef QKPERF_EVENTS_H
#define QKPERF_EVENTS_H

#include <stddef.h>

#include "groups.h"

#define QKPERF_EVENTS_GROUP "events"

/* Check a NULL-terminated list of libpfm names as -e gives them: each one
 * libpfm knows (an event of a PMU that is only not active here is kept:
 * it reads n/a), no name twice, each short enough to name a metric. 0, or
 * -1 with one line in err naming the event and what was wrong. */
int qkperf_events_check(const char *const *events, char *err, size_t len);

/* The ad-hoc group of the events (checked first); NULL with one line in
 * err. Free with qkperf_group_free. */
qkperf_group *qkperf_events_group(const char *const *events, char *err, size_t len);

/* The metric name an event's count is reported as: the name without its
 * "pmu::" prefix ("RETIRED_INSTRUCTIONS"). */
const char *qkperf_events_metric(const char *event);

#endif
