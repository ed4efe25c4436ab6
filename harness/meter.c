/*
 * meter.c — tsc, sw and hw sources behind one start/stop interface. The
 * sw and hw groups count every thread of the process (perf.h), so a
 * kernel that runs on a worker pool is counted whole; the tsc is the
 * calling thread's clock, the region's wall time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter.h"
#include "stats.h"
#include "tsc.h"

static void add_metric(qkperf_meter *m, const char *name, const char *unit)
{
    snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
    snprintf(m->unit[m->n], sizeof m->unit[0], "%s", unit);
    m->n++;
}

void qkperf_meter_open_tsc(qkperf_meter *m)
{
    memset(m, 0, sizeof *m);
    strcpy(m->source, "tsc");
    add_metric(m, "time", "ns");
    add_metric(m, "cycles-est", "cycles");
    m->available = 1;
    qkperf_tsc_mhz(); /* calibrate now, not inside a region */
    qkperf_core_per_tsc();
}

static const char *const sw_events[] = {
    "perf::PERF_COUNT_SW_TASK_CLOCK",
    "perf::PERF_COUNT_SW_PAGE_FAULTS",
    "perf::PERF_COUNT_SW_CONTEXT_SWITCHES",
    "perf::PERF_COUNT_SW_CPU_MIGRATIONS",
};
static const char *const sw_names[] = {"task-clock", "page-faults", "context-switches",
                                       "cpu-migrations"};

static void open_group(qkperf_meter *m, const char *const *names, const char *const *events,
                       size_t n, int cpu)
{
    for (size_t i = 0; i < n && m->n < QKPERF_METER_MAX; i++)
        add_metric(m, names[i], strcmp(names[i], "task-clock") == 0 ? "ns" : "count");
    qkperf_err err = {0};
    m->group = qkperf_pgroup_open_threads(events, n, cpu, 1, &err);
    m->available = m->group != NULL;
    m->threads = m->group ? qkperf_pgroup_threads(m->group) : 0;
    if (!m->group)
        snprintf(m->why, sizeof m->why, "%s", err.msg[0] ? err.msg : qkperf_why_text(err.why));
}

void qkperf_meter_open_sw(qkperf_meter *m, int cpu)
{
    memset(m, 0, sizeof *m);
    strcpy(m->source, "sw");
    open_group(m, sw_names, sw_events, 4, cpu);
}

void qkperf_meter_open_hw(qkperf_meter *m, const char *label, const char *const *names,
                          const char *const *events, size_t n, int cpu)
{
    memset(m, 0, sizeof *m);
    strcpy(m->source, "hw");
    snprintf(m->label, sizeof m->label, "%s", label);
    open_group(m, names, events, n, cpu);
}

int qkperf_meter_start(qkperf_meter *m)
{
    if (!m->available)
        return 0;
    if (m->group)
        return qkperf_pgroup_start(m->group);
    m->t0 = qkperf_tsc_now();
    return 0;
}

int qkperf_meter_stop(qkperf_meter *m, double *vals, int *counted, double *ratio)
{
    for (size_t i = 0; i < m->n; i++) {
        vals[i] = NAN;
        counted[i] = 0;
        ratio[i] = 1.0;
        m->metric_why[i] = QKPERF_WHY_OK;
    }
    if (!m->available)
        return 0;
    if (!m->group) {
        uint64_t ticks = qkperf_tsc_stop() - m->t0;
        vals[0] = qkperf_tsc_to_ns(ticks);
        vals[1] = qkperf_tsc_to_core_cycles(ticks);
        counted[0] = counted[1] = 1;
        return 0;
    }
    qkperf_count c[QKPERF_METER_MAX];
    int rc = qkperf_pgroup_stop(m->group, c);
    if (rc)
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        vals[i] = c[i].value;
        counted[i] = c[i].counted;
        ratio[i] = c[i].ratio;
        m->metric_why[i] = c[i].why;
    }
    return 0;
}

void qkperf_meter_calibrate_empty(qkperf_meter *m, unsigned reps)
{
    double *v = calloc((size_t)reps * QKPERF_METER_MAX, sizeof *v);
    if (!v || !m->available || reps == 0) {
        free(v);
        return;
    }
    for (unsigned r = 0; r < reps; r++) {
        double vals[QKPERF_METER_MAX], ratio[QKPERF_METER_MAX];
        int counted[QKPERF_METER_MAX];
        qkperf_meter_start(m);
        qkperf_meter_stop(m, vals, counted, ratio);
        for (size_t i = 0; i < m->n; i++)
            v[i * reps + r] = counted[i] && isfinite(vals[i]) ? vals[i] : 0.0;
    }
    for (size_t i = 0; i < m->n; i++) {
        qkperf_summary s;
        m->empty[i] = qkperf_summarize(v + i * reps, reps, &s, NULL) == 0 ? s.median : 0.0;
    }
    free(v);
}

void qkperf_meter_close(qkperf_meter *m)
{
    if (m->group)
        qkperf_pgroup_close(m->group);
    m->group = NULL;
}
