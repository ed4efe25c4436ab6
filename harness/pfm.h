/*
 * pfm.h — event names to perf_event attributes, through libpfm4
 * (pfm_get_os_event_encoding with PFM_OS_PERF_EVENT_EXT), and what libpfm
 * believes about the host's PMU. Built without libpfm (--without-libpfm),
 * only the generic perf:: names are known.
 */
#ifndef QKPERF_PFM_H
#define QKPERF_PFM_H

#include <linux/perf_event.h>
#include <stddef.h>

enum {
    QKPERF_PFM_OK = 0,
    QKPERF_PFM_UNKNOWN = -1,  /* no such event or unit mask */
    QKPERF_PFM_INACTIVE = -2, /* the event's PMU table is not active in libpfm */
    QKPERF_PFM_BADATTR = -3,  /* encodable name, bad modifiers/attributes */
    QKPERF_PFM_NOLIB = -4     /* built without libpfm and not a perf:: name */
};

/* Idempotent; 0, or -1 with a message in msg. */
int qkperf_pfm_init(char *msg, size_t msglen);

/* Encode "pmu::EVENT:UMASK..." (or "perf::PERF_COUNT_SW_TASK_CLOCK") into
 * attr: type, config, config1, config2 set, and user level only
 * (exclude_kernel, exclude_hv); the caller sets the rest and may widen the
 * privilege level (perf.c does for software events).
 * Returns QKPERF_PFM_OK or a negative code, with a one-line reason in msg. */
int qkperf_pfm_encode(const char *name, struct perf_event_attr *attr, char *msg, size_t msglen);

/* libpfm's host PMU model ("amd64_fam19h_zen4"), or NULL if none is active. */
const char *qkperf_pfm_host_pmu(void);
/* General-purpose counters a thread has on the PMU an event name belongs
 * to ("pmu::..."), or on the host PMU when name is NULL; -1 if unknown. */
int qkperf_pfm_num_counters(const char *name);
/* The same, and where the figure came from into *origin (static text:
 * "CPUID leaf 0xa", "the model's count per thread; ...", "libpfm's table"); origin
 * may be NULL. */
int qkperf_pfm_counters(const char *name, const char **origin);

#endif
