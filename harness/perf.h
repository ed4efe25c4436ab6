/*
 * perf.h — counting a region with one perf_event group (sources hw and sw).
 *
 * Events are opened as one group (leader first) with PERF_FORMAT_GROUP |
 * TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING | ID, disabled, exclude_kernel=1,
 * exclude_hv=1, on the calling thread (pid 0) and any CPU or one CPU.
 * start = RESET + ENABLE of the group; stop = DISABLE + one read of the
 * group, values scaled in double by time_enabled/time_running when the
 * group was multiplexed. rdpmc is used for the read when every event's mmap
 * page says cap_user_rdpmc (never on this project's VMs).
 */
#ifndef QKPERF_PERF_H
#define QKPERF_PERF_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>

/* Why something cannot be counted; every kind has a fixed message. */
typedef enum qkperf_why {
    QKPERF_WHY_OK = 0,
    QKPERF_WHY_NO_PMU,        /* ENOENT, ENODEV, EOPNOTSUPP */
    QKPERF_WHY_NOT_PERMITTED, /* EACCES, EPERM (see perf_event_paranoid) */
    QKPERF_WHY_BAD_ENCODING,  /* EINVAL */
    QKPERF_WHY_PMU_INACTIVE,  /* libpfm has no active table for this PMU */
    QKPERF_WHY_UNKNOWN_EVENT, /* libpfm does not know the name */
    QKPERF_WHY_NOT_COUNTED,   /* opened, but time_running == 0 */
    QKPERF_WHY_TOO_MANY,      /* EMFILE, ENOSPC, E2BIG: too many events */
    QKPERF_WHY_OTHER
} qkperf_why;

typedef struct qkperf_err {
    qkperf_why why;
    int errnum;      /* errno from perf_event_open, 0 if none */
    char msg[256];   /* one line: what failed and why, e.g.
                        "amd64_fam19h_zen4::RETIRED_INSTRUCTIONS: no PMU (ENOENT) ..." */
} qkperf_err;

/* The kind for an errno from perf_event_open (the test seam for errors). */
qkperf_why qkperf_why_from_errno(int errnum);
/* Short fixed text for a kind: "no hardware PMU", "not permitted", ... */
const char *qkperf_why_text(qkperf_why why);

typedef struct qkperf_count {
    double value;       /* scaled: raw * enabled / running */
    uint64_t raw;
    uint64_t enabled;   /* ns */
    uint64_t running;   /* ns */
    double ratio;       /* running / enabled (1.0 when never multiplexed) */
    int counted;        /* 0 when running == 0: value meaningless */
} qkperf_count;

/* Scale one raw count; counted = 0 when running == 0. Pure, for tests. */
qkperf_count qkperf_scale(uint64_t raw, uint64_t enabled, uint64_t running);

typedef struct qkperf_pgroup qkperf_pgroup;

/* Open events (names as libpfm knows them, or perf::...), cpu -1 for any.
 * On failure returns NULL and fills err (naming the first failing event). */
qkperf_pgroup *qkperf_pgroup_open(const char *const *events, size_t n, int cpu,
                                qkperf_err *err);
size_t qkperf_pgroup_size(const qkperf_pgroup *g);
int qkperf_pgroup_start(qkperf_pgroup *g);                 /* 0 or -errno */
int qkperf_pgroup_stop(qkperf_pgroup *g, qkperf_count *out); /* n values; 0 or -errno */
int qkperf_pgroup_uses_rdpmc(const qkperf_pgroup *g);
void qkperf_pgroup_close(qkperf_pgroup *g);

/* /proc/sys/kernel/perf_event_paranoid, or INT_MIN when it cannot be read. */
int qkperf_perf_paranoid(void);

/* Test seam: replace the perf_event_open syscall (NULL restores it). */
typedef long (*qkperf_open_fn)(struct perf_event_attr *, int pid, int cpu,
                               int group_fd, unsigned long flags);
void qkperf_set_open_fn(qkperf_open_fn fn);

#endif
