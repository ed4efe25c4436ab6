/*
 * perf.h — counting a region with one perf_event group (sources hw and sw).
 *
 * Events are opened as one group (leader first) with PERF_FORMAT_GROUP |
 * TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING | ID, disabled, exclude_hv=1, on
 * the calling thread (pid 0) and any CPU or one CPU, and with
 * qkperf_pgroup_open_threads once more on each other thread of the
 * process as /proc/self/task lists them at the open (any CPU): a region's
 * counts are then the sums over those threads, so the work of a kernel's
 * worker pool is counted, provided its workers exist before the open. Hardware events count
 * user space only (exclude_kernel=1). Software events count kernel mode too:
 * the kernel counts context switches and CPU migrations in kernel context,
 * so with exclude_kernel they would always read 0. When perf_event_paranoid
 * (>= 2 without CAP_PERFMON) refuses that with EACCES/EPERM, a software event
 * is opened again user-only, and those kernel-only events then read
 * counted = 0 with why = QKPERF_WHY_KERNEL_ONLY instead of a false zero.
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
#include <sys/types.h>

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
    QKPERF_WHY_KERNEL_ONLY,   /* kernel-mode event opened user-only (paranoid) */
    QKPERF_WHY_OTHER
} qkperf_why;

typedef struct qkperf_err {
    qkperf_why why;
    int errnum;    /* errno from perf_event_open, 0 if none */
    char msg[256]; /* one line: what failed and why, e.g.
                      "amd64_fam19h_zen4::RETIRED_INSTRUCTIONS: no PMU (ENOENT) ..." */
} qkperf_err;

/* The kind for an errno from perf_event_open (the test seam for errors). */
qkperf_why qkperf_why_from_errno(int errnum);
/* Short fixed text for a kind: "no hardware PMU", "not permitted", ... */
const char *qkperf_why_text(qkperf_why why);

typedef struct qkperf_count {
    double value; /* scaled: raw * enabled / running */
    uint64_t raw;
    uint64_t enabled; /* ns */
    uint64_t running; /* ns */
    double ratio;     /* running / enabled (1.0 when never multiplexed) */
    int counted;      /* 0: value meaningless, never show it as a count */
    qkperf_why why;   /* QKPERF_WHY_OK when counted; otherwise why not:
                         QKPERF_WHY_NOT_COUNTED (time_running == 0) or
                         QKPERF_WHY_KERNEL_ONLY; show qkperf_why_text(why) */
} qkperf_count;

/* Scale one raw count; counted = 0 when running == 0. Pure, for tests. */
qkperf_count qkperf_scale(uint64_t raw, uint64_t enabled, uint64_t running);

typedef struct qkperf_pgroup qkperf_pgroup;

/* Open events (names as libpfm knows them, or perf::...), cpu -1 for any.
 * On failure returns NULL and fills err (naming the first failing event). */
qkperf_pgroup *qkperf_pgroup_open(const char *const *events, size_t n, int cpu, qkperf_err *err);
/* The same, and with every_thread also on each other thread of the
 * process (those that exist now; one that exits during the open is left
 * out). A value is then the sum of the threads' scaled counts; it is not
 * counted when a thread ran but its group never got the counters. */
qkperf_pgroup *qkperf_pgroup_open_threads(const char *const *events, size_t n, int cpu,
                                          int every_thread, qkperf_err *err);
size_t qkperf_pgroup_size(const qkperf_pgroup *g);
/* The threads the group counts (1 for qkperf_pgroup_open). */
size_t qkperf_pgroup_threads(const qkperf_pgroup *g);
/* The threads of this process now (/proc/self/task), their ids into
 * tids[0..cap) when tids is not NULL; 0 when the list cannot be read. */
size_t qkperf_process_threads(pid_t *tids, size_t cap);
int qkperf_pgroup_start(qkperf_pgroup *g);                   /* 0 or -errno */
int qkperf_pgroup_stop(qkperf_pgroup *g, qkperf_count *out); /* n values; 0 or -errno */
int qkperf_pgroup_uses_rdpmc(const qkperf_pgroup *g);
void qkperf_pgroup_close(qkperf_pgroup *g);

/* ---- the user-space read (rdpmc), as pure arithmetic ----------------------
 * The fields of a perf_event_mmap_page that one self-monitoring read uses,
 * copied inside one pass of the page's seqlock, with the rdpmc and rdtsc
 * values taken in that same pass. perf.c fills it from the live page; tests
 * fill it by hand. */
typedef struct qkperf_page_fields {
    uint32_t index;                      /* hardware counter + 1; 0: not on a counter */
    int64_t offset;                      /* add to the sign-extended counter */
    uint64_t time_enabled, time_running; /* ns, as of the kernel's last update */
    uint64_t time_offset;                /* cap_user_time: ns = time_offset + cyc * mult >> shift */
    uint32_t time_mult;
    uint16_t time_shift;
    uint16_t pmc_width;              /* counter bits (48 on x86) */
    uint64_t time_cycles, time_mask; /* cap_user_time_short: clock narrower than 64 bits */
    unsigned cap_user_rdpmc : 1, cap_user_time : 1, cap_user_time_short : 1;
    uint64_t pmc; /* rdpmc(index - 1); read only if cap_user_rdpmc && index */
    uint64_t tsc; /* rdtsc; read only if cap_user_time */
} qkperf_page_fields;

/* An event's totals at one instant, as the kernel's read(2) would give them. */
typedef struct qkperf_page_value {
    uint64_t count;            /* offset + sign-extended pmc (wraps mod 2^64) */
    uint64_t enabled, running; /* ns, extrapolated from the tsc when cap_user_time */
} qkperf_page_value;

/* The arithmetic of <linux/perf_event.h>: count = offset + pmc sign-extended
 * from pmc_width bits; enabled (and running, when index != 0) advanced by the
 * ns since the kernel's update, from the tsc (masked with time_cycles and
 * time_mask when cap_user_time_short). Returns 1 when *v is the live value;
 * 0 when the caller must read(2) instead: the event is not on a counter now
 * (index 0, e.g. multiplexed out), rdpmc is not allowed, or the page has no
 * time conversion. Pure. */
int qkperf_page_eval(const qkperf_page_fields *f, qkperf_page_value *v);
/* One region from two live values: differences, then qkperf_scale. Pure. */
qkperf_count qkperf_page_region(const qkperf_page_value *start, const qkperf_page_value *stop);

/* /proc/sys/kernel/perf_event_paranoid, or INT_MIN when it cannot be read. */
int qkperf_perf_paranoid(void);

/* Test seam: replace the perf_event_open syscall (NULL restores it). */
typedef long (*qkperf_open_fn)(struct perf_event_attr *, int pid, int cpu, int group_fd,
                               unsigned long flags);
void qkperf_set_open_fn(qkperf_open_fn fn);
/* Test seam: replace ioctl(2) on the group's fds (PERF_EVENT_IOC_ID, RESET,
 * ENABLE, DISABLE; arg is the ioctl's argument, a pointer for IOC_ID), so
 * that fake fds from the open seam (pipes a test fills) can stand in for a
 * PMU. NULL restores it. */
typedef int (*qkperf_ioctl_fn)(int fd, unsigned long request, unsigned long arg);
void qkperf_set_ioctl_fn(qkperf_ioctl_fn fn);

#endif
