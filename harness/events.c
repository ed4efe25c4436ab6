/*
 * events.c — -e EVENT[,EVENT...] as an ad-hoc event group (events.h).
 *
 * The group is built in memory as a group file would give it, so the
 * runner counts, splits and reports it exactly as a group: each event's
 * alias is its metric name (there are no formulas to refer to it), the
 * folder is "-e", and it has no derived metrics.
 */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfm.h"

enum { METRIC_MAX = 47 }; /* a record's metric name holds 47 characters */

const char *qkperf_events_metric(const char *event)
{
    const char *sep = strstr(event, "::");
    return sep ? sep + 2 : event;
}

static int check_one(const char *const *events, size_t i, char *err, size_t len)
{
    const char *ev = events[i];
    struct perf_event_attr attr;
    char msg[256] = "";
    if (ev[0] == '\0')
        return snprintf(err, len, "-e: empty event name"), -1;
    for (size_t k = 0; k < i; k++)
        if (!strcmp(qkperf_events_metric(events[k]), qkperf_events_metric(ev)))
            return snprintf(err, len, "-e: event '%s' given twice", ev), -1;
    if (strlen(qkperf_events_metric(ev)) > METRIC_MAX)
        return snprintf(
                   err, len,
                   "-e: event '%s' is too long to name a metric (at most %d characters "
                   "after the PMU prefix): put it in a group file with an alias (docs/groups.md)",
                   ev, METRIC_MAX),
               -1;
    memset(&attr, 0, sizeof attr);
    int rc = qkperf_pfm_encode(ev, &attr, msg, sizeof msg);
    /* As for a group file: a name libpfm does not know, or a bad unit mask
     * or modifier, is a mistake; an event of a PMU not active here reads
     * n/a with that reason. */
    if (rc == QKPERF_PFM_UNKNOWN || rc == QKPERF_PFM_BADATTR || rc == QKPERF_PFM_NOLIB)
        return snprintf(err, len, "-e: event '%s': %s", ev, msg), -1;
    return 0;
}

int qkperf_events_check(const char *const *events, char *err, size_t len)
{
    if (events == NULL || events[0] == NULL)
        return snprintf(err, len, "-e: no event given"), -1;
    for (size_t i = 0; events[i]; i++)
        if (check_one(events, i, err, len))
            return -1;
    return 0;
}

static char *dup_or_fail(const char *s, int *failed)
{
    char *d = strdup(s);
    *failed |= d == NULL;
    return d;
}

qkperf_group *qkperf_events_group(const char *const *events, char *err, size_t len)
{
    if (qkperf_events_check(events, err, len))
        return NULL;
    size_t n = 0;
    while (events[n])
        n++;
    qkperf_group *g = calloc(1, sizeof *g);
    int failed = g == NULL;
    if (g) {
        g->events = calloc(n ? n : 1, sizeof *g->events);
        failed |= g->events == NULL;
    }
    if (!failed) {
        g->name = dup_or_fail(QKPERF_EVENTS_GROUP, &failed);
        g->pmu = dup_or_fail("-e", &failed);
        g->path = dup_or_fail("-e", &failed);
        g->short_desc = dup_or_fail("events given with -e", &failed);
        g->long_desc = dup_or_fail("", &failed);
        for (; !failed && g->nevents < n; g->nevents++) {
            g->events[g->nevents].alias =
                dup_or_fail(qkperf_events_metric(events[g->nevents]), &failed);
            g->events[g->nevents].name = dup_or_fail(events[g->nevents], &failed);
        }
    }
    if (failed) {
        qkperf_group_free(g);
        snprintf(err, len, "-e: out of memory");
        return NULL;
    }
    return g;
}
