/*
 * testpmu.h — the parts of the test PMU (tests/libtestpmu.so) and how they
 * call each other. Not an interface of qkperf: only tests/testpmu*.c
 * include it. What the library is for: testpmu.c; the model (rates,
 * counter budgets, environment, failure modes): docs/testpmu.md.
 *
 *   testpmu.c        LD_PRELOAD entry points (syscall, read, ioctl, mmap,
 *                    close, sigaction), the fd table, the environment
 *   testpmu_open.c   perf_event_open for hardware events: the kernel's
 *                    checks in the kernel's order
 *   testpmu_model.c  the four PMUs: CPUID identity, counters and their
 *                    constraints, the kernel's generic-event maps, the
 *                    encodings libpfm4 produces, the rates
 *   testpmu_sched.c  contexts, groups, counter assignment, rotation,
 *                    counting, the user page and the read(2) record
 *   testpmu_cpu.c    the SIGSEGV handler that answers CPUID (the PMU's
 *                    identity, for libpfm4) and rdpmc; the TSC clock
 */
#ifndef QKPERF_TESTPMU_H
#define QKPERF_TESTPMU_H

#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TP_MAX_EVENTS 512
#define TP_MAX_CTX 64
#define TP_MAX_GROUP 64           /* events in one group (the read record's bound) */
#define TP_MAX_FD 65536           /* fake fds above this are refused with EMFILE */
#define TP_FIXED 32               /* counter-mask bit of fixed counter 0 */
#define TP_PMC_WIDTH 48           /* bits of every counter, as on x86 */
#define TP_ID_BASE 0x100000000ull /* fake IDs never collide with the kernel's */

/* ---- configuration (testpmu.c, from the environment) ---------------------- */

typedef enum tp_fail {
    TP_FAIL_NONE,
    TP_FAIL_NOPMU,     /* every hardware open: ENOENT */
    TP_FAIL_EACCES,    /* every hardware open: EACCES */
    TP_FAIL_EINVAL,    /* every hardware open: EINVAL */
    TP_FAIL_NOTCOUNTED /* opens succeed, nothing is ever scheduled */
} tp_fail;

typedef struct tp_model tp_model;

typedef struct tp_config {
    const tp_model *model; /* NULL: QKPERF_TESTPMU unset, library inert */
    tp_fail fail;
    int paranoid;       /* perf_event_paranoid the checks use */
    int rdpmc;          /* pages offer cap_user_rdpmc */
    int smt;            /* Intel: the sibling thread takes half the counters */
    uint64_t mux_ticks; /* rotation interval in TSC ticks (set with the clock) */
    unsigned mux_us;    /* QKPERF_TESTPMU_MUX_US, or QKPERF_TESTPMU_MUX_MS x 1000 */
    int hog;            /* flexible one-counter groups of another tool in each thread's context */
    const char *rates;  /* QKPERF_TESTPMU_RATES, parsed at the first open */
    int cpuid_emulated; /* CPUID answers for the model (host differs) */
    int cpuid_error;    /* emulation was needed but could not be set up */
} tp_config;

extern tp_config tp_cfg;
extern pthread_mutex_t tp_lock;

/* The real functions behind the interposed ones. */
ssize_t tp_real_read(int fd, void *buf, size_t n);
int tp_real_ioctl(int fd, unsigned long request, unsigned long arg);
int tp_real_close(int fd);
void *tp_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int tp_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
long tp_raw_syscall(long nr, long a, long b, long c, long d, long e, long f);
/* One line on stderr, "testpmu: ...", and exit(2): a bad environment. */
void tp_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* perf_event_open when the test PMU is active (testpmu_open.c): an fd or
 * -errno. */
long tp_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                        unsigned long flags);
/* Forget event e: out of its context, its page unmapped, its slot free. */
void tp_release(int e);
/* The fd table: the event behind fd, or -1. Checks the fd still is ours. */
int tp_fd_event(int fd);
void tp_fd_set(int fd, int event);
void tp_fd_clear(int fd);

/* ---- the PMU models (testpmu_model.c) -------------------------------------- */

enum tp_vendor { TP_AMD, TP_INTEL };

/* Where an event may be counted: a mask of counters (bits 0..31 general,
 * TP_FIXED + n fixed counter n) and whether it needs an even/odd pair of
 * general counters (AMD's merged "large increment per cycle" events). */
typedef struct tp_place {
    uint64_t mask;
    int pair;
} tp_place;

/* A decoded hardware event: what perf_event_open accepted. */
typedef struct tp_hwevent {
    uint64_t raw; /* the raw config the kernel would program */
    tp_place place;
    double rate;    /* counts per TSC tick while running */
    char name[128]; /* as libpfm names it, for messages */
} tp_hwevent;

const tp_model *tp_model_find(const char *name);
const char *tp_model_names(void); /* "zen4, zen3, icl or skl" */
const char *tp_model_pfm_name(const tp_model *m);
enum tp_vendor tp_model_vendor(const tp_model *m);
uint32_t tp_model_signature(const tp_model *m); /* CPUID leaf 1 EAX */
int tp_model_gp(const tp_model *m);             /* general counters now (SMT) */
int tp_model_fixed(const tp_model *m);
/* The encoding table from libpfm and the rates; 0 or a message in msg. */
int tp_model_init(const tp_model *m, char *msg, size_t len);
/* QKPERF_TESTPMU_RATES on top of the built-in rates: 0 or a message. */
int tp_model_rates(const tp_model *m, const char *env, char *msg, size_t len);
/* Decode attr->type/config/config1/config2: 0 or -errno (EINVAL, ENOENT,
 * EACCES) with the reason in why. */
int tp_model_decode(const tp_model *m, const struct perf_event_attr *attr, tp_hwevent *ev,
                    char *why, size_t len);

/* ---- contexts, groups, counting (testpmu_sched.c) -------------------------- */

enum tp_kind { TP_HW = 1, TP_SW = 2 }; /* TP_SW: a real software event in our group */

typedef struct tp_event {
    enum tp_kind kind;
    int fd;
    uint64_t id;
    int ctx;
    int cpu;                   /* as opened: -1 any */
    int leader;                /* index of the group leader (itself if leader) */
    int members[TP_MAX_GROUP]; /* leader only: the group, leader first */
    int nmembers;
    uint64_t read_format;
    int enabled; /* own state: not OFF */
    int error;   /* pinned group that could not go on: ERROR state */
    int pinned;
    int on; /* leader: the group is on the PMU now */
    tp_hwevent hw;
    int counter; /* bit index in the counter mask, -1: not on a counter */
    /* counting: ticks on a counter since open, the count at the last
     * RESET, the hardware count when the event was last put on a counter */
    uint64_t ticks;
    uint64_t reset_base;
    uint64_t hw_at_schedin;
    uint64_t enabled_ns, running_ns;
    uint64_t running_step; /* ns running in the current advance (sw members) */
    /* TP_SW: the real event's last count, and our count (scaled to the
     * group's time on the PMU); whether the kernel has it enabled */
    uint64_t sw_last;
    double sw_count;
    int sw_on;
    struct perf_event_mmap_page *page; /* TP_HW: our writable view of the user page */
    dev_t dev;
    ino_t ino; /* TP_HW: the memfd behind fd, to spot a reused number */
} tp_event;

extern tp_event tp_events[TP_MAX_EVENTS];

/* A new event slot in ctx, or -1 (the table is full). */
int tp_event_alloc(void);
void tp_event_free(int e);
/* The context of (pid, cpu) as perf_event_open resolved them; -1 when full. */
int tp_ctx_get(pid_t tid, int cpu);
/* Give ctx back if no event is left in it (after a failed open). */
void tp_ctx_put(int ctx);
/* Advance ctx's time to now (TSC), rotating and counting. */
void tp_ctx_advance(int ctx, uint64_t now);
/* Add e to its group (or make it a leader) and reschedule. */
void tp_sched_add(int e);
/* Could the leader's group with e added be put on an empty PMU? */
int tp_sched_group_fits(int leader, int e);
/* Enable, disable or reset e (and its group if group), then reschedule. */
void tp_event_ioctl(int e, int what, int group);
enum { TP_ENABLE, TP_DISABLE, TP_RESET };
/* Remove e from its context (its siblings become singleton groups). */
void tp_sched_remove(int e);
/* The read(2) record of e: its size, or -errno. */
ssize_t tp_event_read(int e, void *buf, size_t n);
/* Refresh e's user page (after the caller mapped it). */
void tp_page_update(int e);
/* rdpmc for the calling thread: the counter's value; 0 if no event of this
 * thread offers counter idx to user space. */
int tp_rdpmc(pid_t tid, uint32_t idx, uint64_t *value);

/* ---- the CPU: CPUID and rdpmc answered, the TSC clock (testpmu_cpu.c) ------ */

/* Install the SIGSEGV handler; turn on CPUID faulting when the host's
 * identity differs from the model's. 0 or -1 with the reason in msg. */
int tp_cpu_init(char *msg, size_t len);
/* Why the CPU could not be made to look like the model ("" if it could). */
const char *tp_cpu_error(void);
/* The application's own SIGSEGV disposition (kept behind ours). */
int tp_cpu_app_sigaction(const struct sigaction *act, struct sigaction *old);
/* The TSC and its ns scale: ns = tp_clock_ns(tsc), as the user page says. */
uint64_t tp_tsc(void);
void tp_clock_init(void);
uint64_t tp_clock_ns(uint64_t tsc);
uint32_t tp_clock_mult(void);
uint16_t tp_clock_shift(void);
uint64_t tp_clock_ticks_per_ms(void);

#endif
