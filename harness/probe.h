/*
 * probe.h — what can be counted on this machine, decided by trying.
 *
 * qkperf_probe opens real counter groups (hardware cycles + instructions,
 * the four software events), runs a short busy loop and checks that they
 * counted; it never trusts libpfm's is_present, which reads CPUID and says
 * "present" inside VMs that have no PMU. It also records the TSC
 * calibration, the CPU and kernel, and the external tools of the sim,
 * static and plots sources. `qkperf probe` prints it; the results
 * document's machine section stores it (hw_why/hw_reason for "n/a (...)").
 */
#ifndef QKPERF_PROBE_H
#define QKPERF_PROBE_H

#include "perf.h"

#include <stdio.h>

typedef struct qkperf_tool {
    char path[256];   /* where it was found on PATH; "" when not found */
    char version[64]; /* "3.19.0"; "" when it could not be read */
} qkperf_tool;

typedef struct qkperf_probe_t {
    char cpu_model[128];    /* /proc/cpuinfo "model name" or "unknown" */
    unsigned family, model; /* CPUID leaf 1, extended fields folded in */
    char kernel[128];       /* uname release */

    const char *pfm_pmu;    /* libpfm's host PMU model, NULL if none active */
    const char *pfm_groups; /* folder of harness/groups for this host */
    char pfm_groups_buf[64];
    char pfm_reason[192]; /* why pfm_pmu is NULL */

    qkperf_why hw_why;              /* cycles + instructions group */
    int hw_errnum;                  /* errno of the failed open, 0 if none */
    char hw_reason[320];            /* failure: what failed and why; success: a
                                       note when only the generic names work */
    char hw_events[2][96];          /* cycles, instructions names that counted */
    int hw_counters;                /* general counters of a thread, -1 unknown */
    const char *hw_counters_origin; /* where that figure came from (pfm.h) */

    qkperf_why sw_why;          /* task-clock, page-faults, context-switches,
                                   cpu-migrations group */
    qkperf_why sw_event_why[4]; /* sw_why OK: each event OK, or
                                   QKPERF_WHY_KERNEL_ONLY (reads n/a) */
    char sw_reason[256];        /* failure; or, when some event is n/a, why */

    int rdpmc;              /* 1 if the hw group is read with rdpmc */
    char rdpmc_reason[160]; /* why not */
    int paranoid;           /* perf_event_paranoid, INT_MIN if unreadable */

    int tsc_invariant;
    double tsc_mhz;
    double core_per_tsc; /* an estimate: see tsc.h */

    qkperf_tool valgrind, llvm_mca, gnuplot;
} qkperf_probe_t;

/* Fill p; takes about 50 ms (TSC calibration, busy loops). */
void qkperf_probe(qkperf_probe_t *p);

/* A readable report, one aligned line per source. */
void qkperf_probe_print(const qkperf_probe_t *p, FILE *out);

/* Find the first of names (NULL-terminated) on PATH, and its version from
 * "--version". 1 if found, 0 if not (out->path is then ""). */
int qkperf_probe_tool(const char *const *names, qkperf_tool *out);

#endif
