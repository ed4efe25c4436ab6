/*
 * sampler.h — perf_event sampling of user-space IPs on every thread of a
 * target, through one mmap ring buffer per CPU (the `sample` source).
 *
 * Two targets:
 *  - this process (the runner samples the fused kernel it runs, the
 *    pool's workers included): every thread alive at open time and every
 *    thread they create later;
 *  - a child about to exec (`qkperf record -- CMD`): the child and all its
 *    descendants, from the exec on, with PERF_RECORD_MMAP2 records of its
 *    mappings so that addrmap.h can map its IPs afterwards.
 *
 * The event is the software clock by default (cpu-clock, a period in ns),
 * which works without a PMU; or a caller's encoding (libpfm4 gives one for
 * cycles, instructions, L1D misses), for which precise_ip is tried from 2
 * down to 0 as perf does. Samples are user-space only: exclude_kernel = 1
 * (perf_event_paranoid 2 allows nothing else unprivileged), and a sample
 * whose cpumode is not user is counted, never delivered.
 *
 * Why per-CPU buffers: the kernel refuses to mmap an inherited per-task
 * event (cpu = -1 with inherit = 1), and inherit is the only way to follow
 * threads created later. So each target task gets one event per online
 * CPU with inherit = 1; all events of one CPU write into that CPU's one
 * ring buffer (PERF_EVENT_IOC_SET_OUTPUT), and events inherited by new
 * threads write into their parent's. For this process that is threads x
 * CPUs events (fds) but only CPUs buffers.
 *
 * Draining: a ring buffer holds pages x 4 KiB; a sample record is 32
 * bytes, and one CPU writes at most one record per period, so 128 pages
 * hold 1.6 s at 10 kHz. Drain at least that often: the runner disables
 * and drains after each fused sample. A caller with longer regions may
 * drain from another thread while sampling is enabled (that thread, being
 * in this process, is sampled too, its few samples going to `other`).
 * Records the kernel could not write are counted (lost), never invented.
 * Draining is not reentrant: one drainer at a time.
 *
 * Costs measured on this project's VMs (KVM, no PMU): a cpu-clock sample
 * takes ~20 us of the sampled thread's CPU (the timer's VM exits), so
 * 10 kHz slows the sampled code by ~20% — in kernel mode, which does not
 * skew the split of user IPs; enable + disable take 10-100 us (the ioctls
 * reach other CPUs' events by IPI), an empty drain ~10 ns. A periodic
 * clock can alias with a loop whose period is near the sample period
 * (a 88 us round sampled every 100 us read 23% for a 25% block): sample
 * over many iterations of the code, not one.
 */
#ifndef QKPERF_SAMPLER_H
#define QKPERF_SAMPLER_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addrmap.h"
#include "perf.h"

typedef struct qkperf_sample_config {
    /* NULL: the software clock PERF_COUNT_SW_CPU_CLOCK. Otherwise the
     * event's encoding (type, config, config1, config2 and precise_ip as
     * libpfm4 gives them); the sampler sets the sampling fields, the
     * exclusions (kernel and hypervisor excluded), disabled, inherit and
     * the side-band records itself. */
    const struct perf_event_attr *attr;
    const char *name; /* for messages; NULL: "cpu-clock" or "event" */
    uint64_t period;  /* events per sample; ns for the clocks. 0: 100000 */
    unsigned pages;   /* data pages per ring buffer, a power of two; 0: 128 */
} qkperf_sample_config;

/* One user-space sample. */
typedef struct qkperf_sample {
    uint64_t ip;
    uint32_t pid, tid;
    uint64_t time; /* CLOCK_MONOTONIC, ns (as clock_gettime gives it) */
} qkperf_sample;

/* One mapping record (PERF_RECORD_MMAP2, or MMAP on old kernels). */
typedef struct qkperf_mmap_event {
    uint32_t pid, tid;
    uint64_t start, len, pgoff;
    uint32_t prot;    /* PROT_*; PROT_EXEC unless known otherwise for MMAP */
    const char *path; /* valid during the callback only */
} qkperf_mmap_event;

/* Where drained records go; either callback may be NULL. */
typedef struct qkperf_sampler_sink {
    void (*sample)(void *ctx, const qkperf_sample *s);
    void (*mmap)(void *ctx, const qkperf_mmap_event *m);
    void *ctx;
} qkperf_sampler_sink;

typedef struct qkperf_sampler_stats {
    uint64_t samples;                /* user-space samples delivered */
    uint64_t non_user;               /* samples whose cpumode was not user: dropped */
    uint64_t lost;                   /* records the kernel dropped (PERF_RECORD_LOST sums) */
    uint64_t throttles, unthrottles; /* PERF_RECORD_(UN)THROTTLE: rate cut */
    uint64_t mmaps;                  /* mapping records */
    uint64_t corrupt;                /* bad record headers (the rest of that buffer skipped) */
} qkperf_sampler_stats;

/* Samples of one thread. */
typedef struct qkperf_thread_count {
    uint32_t tid;
    uint64_t samples;
} qkperf_thread_count;

typedef struct qkperf_sampler qkperf_sampler;

/* Sample this process: every thread alive now (re-read until no new one
 * appears) on every online CPU, plus the threads they create. Opened
 * disabled. NULL with err filled (why = qkperf_why of the failing open or
 * mmap; the message names the event and says why, with
 * perf_event_paranoid when not permitted). */
qkperf_sampler *qkperf_sampler_open_self(const qkperf_sample_config *cfg, qkperf_err *err);

/* Fork a child that will exec argv (PATH searched) and open its events,
 * enabled at the exec (enable_on_exec), inherited by its descendants,
 * with mapping records. The child waits until qkperf_sampler_start. NULL
 * with err filled (the child is then gone). */
qkperf_sampler *qkperf_sampler_open_exec(const qkperf_sample_config *cfg, char *const argv[],
                                         qkperf_err *err);
/* Let the exec child run: 0 once it has exec'd, or -1 with err filled
 * when the exec failed ("cannot run CMD: No such file or directory"). */
int qkperf_sampler_start(qkperf_sampler *s, qkperf_err *err);
/* Drain into sink until the child exits; its wait status in *status.
 * 0, or -1 with err filled. */
int qkperf_sampler_wait(qkperf_sampler *s, const qkperf_sampler_sink *sink, int *status,
                        qkperf_err *err);
pid_t qkperf_sampler_pid(const qkperf_sampler *s); /* the child, or this process */

/* Start / stop sampling (this process's events; for an exec child the
 * exec enables). 0 or -errno. */
int qkperf_sampler_enable(qkperf_sampler *s);
int qkperf_sampler_disable(qkperf_sampler *s);

/* Hand every record in the ring buffers to sink, oldest first per CPU,
 * and free their space. Returns the number of samples delivered. */
size_t qkperf_sampler_drain(qkperf_sampler *s, const qkperf_sampler_sink *sink);

/* Counters over the sampler's life. */
qkperf_sampler_stats qkperf_sampler_stats_get(const qkperf_sampler *s);
/* Samples per thread, ascending tid; *n entries, owned by s, valid until
 * the next drain or close. */
const qkperf_thread_count *qkperf_sampler_threads(const qkperf_sampler *s, size_t *n);
/* Every file-backed mapping seen in mapping records (one entry per
 * distinct path, start, pgoff), for qkperf_addrmap_open_mappings. Owned
 * by s, valid until the next drain or close. */
const qkperf_mapping *qkperf_sampler_mappings(const qkperf_sampler *s, size_t *n);
/* What is sampled, one line: "cpu-clock every 100000 ns, precise_ip 0,
 * 3 threads x 2 CPUs (6 events), 2 ring buffers of 128 pages". */
void qkperf_sampler_describe(const qkperf_sampler *s, char *buf, size_t len);
/* The precise_ip level the event was opened with. */
int qkperf_sampler_precise(const qkperf_sampler *s);
/* Disable, unmap, close; an exec child not yet waited for is killed. */
void qkperf_sampler_close(qkperf_sampler *s);

/* Test seam: replace the perf_event_open syscall (NULL restores it). */
void qkperf_sampler_set_open_fn(qkperf_open_fn fn);

/* The share k/n with its 95% Wilson score interval [*lo, *hi]: what the
 * in-context view prints per phase. n = 0 gives NaNs. */
void qkperf_share_wilson(uint64_t k, uint64_t n, double *share, double *lo, double *hi);

#endif
