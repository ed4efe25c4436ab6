/*
 * perf.c — the hw and sw counter sources: one perf_event group per region.
 *
 * Names go through pfm.h (libpfm4, or the generic perf:: names) to a
 * perf_event_attr; the group is opened disabled on the calling thread (and,
 * when asked, once more on every other thread of the process) and each
 * copy is read as one PERF_FORMAT_GROUP record whose values are matched to
 * events by their kernel IDs, never by position; the threads' scaled
 * counts are summed.
 *
 * Why one group per thread rather than inherit=1: inherit counts only the
 * threads created after the open, and a kernel's worker pool (libqk256's)
 * is started by the first call, before the counters are opened; the
 * inherited counts are summed by the kernel at read(2) only, so the user
 * page (rdpmc) would show the opening thread alone; and older kernels
 * refuse inherit with PERF_SAMPLE_READ (perf itself turns inherit off for
 * group reads). A per-thread group works on every kernel and with any
 * read format. Its cost is one RESET + ENABLE and one DISABLE + read(2)
 * per thread per region, measured with the empty region and subtracted.
 *
 * When every event's mmap page offers cap_user_rdpmc and cap_user_time,
 * the calling thread's region is read in user space with the seqlock
 * protocol documented in <linux/perf_event.h> instead of read(2) — that
 * costs no system call at the stop of a region (another thread's events
 * are always read with read(2): rdpmc reads the reader's own CPU). The
 * arithmetic of that read is the pure qkperf_page_eval, tested with
 * synthetic pages; only the copy of the page's fields is done here.
 *
 * Software events count kernel mode too (context switches and migrations
 * happen there); where perf_event_paranoid refuses that, they are opened
 * user-only and the events the kernel counts only in kernel mode are
 * reported not counted (QKPERF_WHY_KERNEL_ONLY), never as zeros.
 *
 * Failures are classified (qkperf_why) so the probe and the reports can say
 * "no hardware PMU" rather than print a zero.
 */
#include "perf.h"

#include "pfm.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#define QKPERF_PARANOID_PATH "/proc/sys/kernel/perf_event_paranoid"

/* One thread's copy of the group: its own leader and members. */
typedef struct tgroup {
    pid_t tid; /* 0: the thread that opened the group */
    size_t n;
    int *fds;                            /* fds[0] is the leader */
    uint64_t *ids;                       /* PERF_EVENT_IOC_ID of each fd */
    struct perf_event_mmap_page **pages; /* NULL unless rdpmc is used */
    qkperf_page_value *at_start;         /* rdpmc path: values at start */
    unsigned char *kernel_only;          /* 1: opened user-only, reads n/a */
    size_t page_size;
    int rdpmc;
    int start_live;   /* rdpmc path: every value at start was live */
    int sw_user_only; /* kernel counting was refused: open sw user-only */
    /* read(2) path: time_enabled/time_running are cumulative across
     * regions (RESET clears only counts), so each region takes the
     * difference from the totals seen at the previous stop. The group is
     * disabled between regions, so the totals do not move meanwhile. */
    uint64_t prev_enabled, prev_running;
} tgroup;

/* The group on every thread counted; t[0] is the opening thread's, the
 * only one that may be read with rdpmc (rdpmc reads the counters of the
 * CPU the reader runs on, so only the reader's own events). */
struct qkperf_pgroup {
    size_t n;
    size_t nthreads;
    tgroup **t;
};

/* ---- error kinds --------------------------------------------------------- */

static const struct {
    int errnum;
    qkperf_why why;
} qkperf_errno_kinds[] = {
    {ENOENT, QKPERF_WHY_NO_PMU},       {ENODEV, QKPERF_WHY_NO_PMU},
    {EOPNOTSUPP, QKPERF_WHY_NO_PMU},   {EACCES, QKPERF_WHY_NOT_PERMITTED},
    {EPERM, QKPERF_WHY_NOT_PERMITTED}, {EINVAL, QKPERF_WHY_BAD_ENCODING},
    {EMFILE, QKPERF_WHY_TOO_MANY},     {ENOSPC, QKPERF_WHY_TOO_MANY},
    {E2BIG, QKPERF_WHY_TOO_MANY},
};

qkperf_why qkperf_why_from_errno(int errnum)
{
    if (errnum == 0)
        return QKPERF_WHY_OK;
    for (size_t i = 0; i < sizeof qkperf_errno_kinds / sizeof qkperf_errno_kinds[0]; i++)
        if (qkperf_errno_kinds[i].errnum == errnum)
            return qkperf_errno_kinds[i].why;
    return QKPERF_WHY_OTHER;
}

static const char *const why_texts[] = {
    [QKPERF_WHY_OK] = "ok",
    [QKPERF_WHY_NO_PMU] = "no hardware PMU",
    [QKPERF_WHY_NOT_PERMITTED] = "not permitted",
    [QKPERF_WHY_BAD_ENCODING] = "bad event encoding",
    [QKPERF_WHY_PMU_INACTIVE] = "PMU model table not active in libpfm",
    [QKPERF_WHY_UNKNOWN_EVENT] = "unknown event",
    [QKPERF_WHY_NOT_COUNTED] = "not counted (time_running = 0)",
    [QKPERF_WHY_TOO_MANY] = "too many events for the counters",
    [QKPERF_WHY_KERNEL_ONLY] = ("counted only in kernel mode, which perf_event_paranoid "
                                "forbids here: needs <= 1 or CAP_PERFMON"),
    [QKPERF_WHY_OTHER] = "perf_event_open failed",
};

const char *qkperf_why_text(qkperf_why why)
{
    if ((unsigned)why >= sizeof why_texts / sizeof why_texts[0])
        return "invalid reason";
    return why_texts[why];
}

/* Symbolic errno names: messages say "ENOENT", which is what perf users and
 * kernel sources call it, rather than a locale-dependent sentence alone. */
static const struct {
    int errnum;
    const char *name;
} qkperf_errno_names[] = {
    {ENOENT, "ENOENT"}, {ENODEV, "ENODEV"},       {EOPNOTSUPP, "EOPNOTSUPP"}, {EACCES, "EACCES"},
    {EPERM, "EPERM"},   {EINVAL, "EINVAL"},       {EMFILE, "EMFILE"},         {ENOSPC, "ENOSPC"},
    {E2BIG, "E2BIG"},   {EBUSY, "EBUSY"},         {ENOMEM, "ENOMEM"},         {EFAULT, "EFAULT"},
    {ESRCH, "ESRCH"},   {EOVERFLOW, "EOVERFLOW"}, {ENFILE, "ENFILE"},         {EIO, "EIO"},
};

static const char *errno_name(int errnum)
{
    for (size_t i = 0; i < sizeof qkperf_errno_names / sizeof qkperf_errno_names[0]; i++)
        if (qkperf_errno_names[i].errnum == errnum)
            return qkperf_errno_names[i].name;
    return "errno";
}

int qkperf_perf_paranoid(void)
{
    FILE *f = fopen(QKPERF_PARANOID_PATH, "r");
    int v;
    if (f == NULL)
        return INT_MIN;
    if (fscanf(f, "%d", &v) != 1)
        v = INT_MIN;
    fclose(f);
    return v;
}

/* The message for a failed perf_event_open of one event. */
static void err_open(qkperf_err *err, const char *event, int errnum)
{
    err->why = qkperf_why_from_errno(errnum);
    err->errnum = errnum;
    int len = snprintf(err->msg, sizeof err->msg, "%s: %s (%s from perf_event_open: %s", event,
                       qkperf_why_text(err->why), errno_name(errnum), strerror(errnum));
    if (len < 0 || (size_t)len >= sizeof err->msg)
        return;
    if (err->why == QKPERF_WHY_NOT_PERMITTED) {
        int p = qkperf_perf_paranoid();
        if (p == INT_MIN)
            snprintf(err->msg + len, sizeof err->msg - len,
                     "; " QKPERF_PARANOID_PATH " unreadable)");
        else
            snprintf(err->msg + len, sizeof err->msg - len,
                     "; perf_event_paranoid = %d; user-space counting needs <= 2 "
                     "or CAP_PERFMON)",
                     p);
    } else {
        snprintf(err->msg + len, sizeof err->msg - len, ")");
    }
}

static void err_set(qkperf_err *err, qkperf_why why, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void err_set(qkperf_err *err, qkperf_why why, int errnum, const char *fmt, ...)
{
    va_list ap;
    err->why = why;
    err->errnum = errnum;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static qkperf_why why_from_pfm(int rc)
{
    switch (rc) {
    case QKPERF_PFM_INACTIVE:
        return QKPERF_WHY_PMU_INACTIVE;
    case QKPERF_PFM_BADATTR:
        return QKPERF_WHY_BAD_ENCODING;
    case QKPERF_PFM_UNKNOWN:
    case QKPERF_PFM_NOLIB:
        return QKPERF_WHY_UNKNOWN_EVENT;
    default:
        return QKPERF_WHY_OTHER;
    }
}

/* ---- scaling ------------------------------------------------------------- */

qkperf_count qkperf_scale(uint64_t raw, uint64_t enabled, uint64_t running)
{
    qkperf_count c = {
        .raw = raw, .enabled = enabled, .running = running, .why = QKPERF_WHY_NOT_COUNTED};
    if (running == 0)
        return c; /* counted = 0, value = 0, ratio = 0: never shown as a count */
    c.counted = 1;
    c.why = QKPERF_WHY_OK;
    if (running >= enabled) {
        /* Never multiplexed (running > enabled only from clock skew in the
         * user-space time estimate): the raw count is the count. */
        c.ratio = 1.0;
        c.value = (double)raw;
        return c;
    }
    /* All in double: raw * enabled could overflow 64 bits. */
    c.ratio = (double)running / (double)enabled;
    c.value = (double)raw * ((double)enabled / (double)running);
    return c;
}

/* ---- opening ------------------------------------------------------------- */

static long sys_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                     unsigned long flags)
{
    return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static qkperf_open_fn open_fn = sys_open;

void qkperf_set_open_fn(qkperf_open_fn fn)
{
    open_fn = fn != NULL ? fn : sys_open;
}

static int sys_ioctl(int fd, unsigned long request, unsigned long arg)
{
    return ioctl(fd, request, arg);
}

static qkperf_ioctl_fn ioctl_fn = sys_ioctl;

void qkperf_set_ioctl_fn(qkperf_ioctl_fn fn)
{
    ioctl_fn = fn != NULL ? fn : sys_ioctl;
}

/* The group ioctls (RESET, ENABLE, DISABLE) on the leader: 0 or -errno. */
static int group_ioctl(const tgroup *g, unsigned long request)
{
    errno = 0;
    if (ioctl_fn(g->fds[0], request, PERF_IOC_FLAG_GROUP) != 0)
        return errno != 0 ? -errno : -EIO;
    return 0;
}

static void tgroup_free(tgroup *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++) {
        if (g->pages != NULL && g->pages[i] != NULL)
            munmap(g->pages[i], g->page_size);
        if (g->fds[i] >= 0)
            close(g->fds[i]);
    }
    free(g->fds);
    free(g->ids);
    free(g->pages);
    free(g->at_start);
    free(g->kernel_only);
    free(g);
}

static tgroup *tgroup_alloc(size_t n, pid_t tid)
{
    tgroup *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->fds = malloc(n * sizeof *g->fds);
    g->ids = calloc(n, sizeof *g->ids);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    g->pages = calloc(n, sizeof *g->pages);
    g->at_start = calloc(n, sizeof *g->at_start);
    g->kernel_only = calloc(n, sizeof *g->kernel_only);
    if (g->fds == NULL || g->ids == NULL || g->pages == NULL || g->at_start == NULL ||
        g->kernel_only == NULL) {
        tgroup_free(g);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        g->fds[i] = -1;
    g->n = n;
    g->tid = tid;
    g->page_size = (size_t)sysconf(_SC_PAGESIZE);
    return g;
}

/* Encode one name into attr with the group's fixed settings. */
static int encode(const char *name, int leader, struct perf_event_attr *attr, qkperf_err *err)
{
    char msg[192] = "";
    memset(attr, 0, sizeof *attr);
    int rc = qkperf_pfm_encode(name, attr, msg, sizeof msg);
    if (rc != QKPERF_PFM_OK) {
        err_set(err, why_from_pfm(rc), 0, "%s: %s", name,
                msg[0] != '\0' ? msg : qkperf_why_text(why_from_pfm(rc)));
        return -1;
    }
    attr->size = sizeof *attr;
    attr->read_format = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
                        PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID;
    attr->disabled = leader; /* members follow the leader's enable */
    /* Hardware: user space only, what perf_event_paranoid 2 (the common
     * default) allows. Software: kernel mode too, see open_attr. */
    attr->exclude_kernel = attr->type != PERF_TYPE_SOFTWARE;
    attr->exclude_hv = 1;
    return 0;
}

/* Software events the kernel counts only in kernel context: opened with
 * exclude_kernel they read 0 whatever happened. */
static const __u64 kernel_mode_sw[] = {
    PERF_COUNT_SW_CONTEXT_SWITCHES,
    PERF_COUNT_SW_CPU_MIGRATIONS,
};

static int is_kernel_mode_sw(const struct perf_event_attr *attr)
{
    if (attr->type != PERF_TYPE_SOFTWARE)
        return 0;
    for (size_t i = 0; i < sizeof kernel_mode_sw / sizeof kernel_mode_sw[0]; i++)
        if (attr->config == kernel_mode_sw[i])
            return 1;
    return 0;
}

/* perf_event_open; a software event the kernel refuses to count in kernel
 * mode (EACCES/EPERM: perf_event_paranoid >= 2 without CAP_PERFMON) is
 * opened again user-only, and so are the group's later software events. */
static long open_attr(tgroup *g, size_t i, struct perf_event_attr *attr, int cpu, int group_fd)
{
    if (attr->type == PERF_TYPE_SOFTWARE && g->sw_user_only)
        attr->exclude_kernel = 1;
    errno = 0;
    long fd = open_fn(attr, g->tid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0 && !attr->exclude_kernel && (errno == EACCES || errno == EPERM)) {
        g->sw_user_only = 1;
        attr->exclude_kernel = 1;
        errno = 0;
        fd = open_fn(attr, g->tid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
    }
    if (fd >= 0)
        g->kernel_only[i] = attr->exclude_kernel && is_kernel_mode_sw(attr);
    return fd;
}

static int open_one(tgroup *g, size_t i, const char *name, int cpu, qkperf_err *err)
{
    struct perf_event_attr attr;
    if (encode(name, i == 0, &attr, err) != 0)
        return -1;
    long fd = open_attr(g, i, &attr, cpu, i == 0 ? -1 : g->fds[0]);
    if (fd < 0) {
        err_open(err, name, errno != 0 ? errno : EIO);
        return -1;
    }
    g->fds[i] = (int)fd;
    errno = 0;
    if (ioctl_fn(g->fds[i], PERF_EVENT_IOC_ID, (unsigned long)(uintptr_t)&g->ids[i]) != 0) {
        int e = errno != 0 ? errno : EIO;
        err_set(err, QKPERF_WHY_OTHER, e, "%s: PERF_EVENT_IOC_ID failed (%s)", name, strerror(e));
        return -1;
    }
    return 0;
}

/* rdpmc needs every event's page to allow both the counter read and the
 * TSC-based time extrapolation; otherwise the pages are released and read(2)
 * is used. A failed mmap is not an error: it only rules out rdpmc. */
static int map_pages(tgroup *g)
{
    for (size_t i = 0; i < g->n; i++) {
        void *p = mmap(NULL, g->page_size, PROT_READ, MAP_SHARED, g->fds[i], 0);
        if (p == MAP_FAILED)
            return 0;
        g->pages[i] = p;
        if (!g->pages[i]->cap_user_rdpmc || !g->pages[i]->cap_user_time)
            return 0;
    }
    return 1;
}

static void try_rdpmc(tgroup *g)
{
    g->rdpmc = map_pages(g);
    if (g->rdpmc)
        return;
    for (size_t i = 0; i < g->n; i++) {
        if (g->pages[i] != NULL)
            munmap(g->pages[i], g->page_size);
        g->pages[i] = NULL;
    }
}

/* The group on one thread: tid 0 is the calling thread. NULL with err. */
static tgroup *tgroup_open(const char *const *events, size_t n, pid_t tid, int cpu, qkperf_err *err)
{
    tgroup *g = tgroup_alloc(n, tid);
    if (g == NULL) {
        err_set(err, QKPERF_WHY_OTHER, ENOMEM, "qkperf_pgroup_open: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (open_one(g, i, events[i], cpu, err) != 0) {
            tgroup_free(g);
            return NULL;
        }
    }
    if (tid == 0)
        try_rdpmc(g);
    return g;
}

static void pgroup_free(qkperf_pgroup *g)
{
    for (size_t i = 0; i < g->nthreads; i++)
        tgroup_free(g->t[i]);
    free(g->t);
    free(g);
}

size_t qkperf_process_threads(pid_t *tids, size_t cap)
{
    DIR *d = opendir("/proc/self/task");
    size_t n = 0;
    struct dirent *e;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (e->d_name[0] == '.' || *end != '\0' || tid <= 0)
            continue;
        if (tids != NULL && n < cap)
            tids[n] = (pid_t)tid;
        n++;
    }
    closedir(d);
    return n;
}

/* Every other thread of the process (a thread that exits meanwhile,
 * ESRCH, is left out: it has nothing more to count). */
static int open_other_threads(qkperf_pgroup *g, const char *const *events, qkperf_err *err)
{
    enum { MAX_TIDS = 1024 };
    pid_t *tids = malloc(MAX_TIDS * sizeof *tids), self = (pid_t)syscall(SYS_gettid);
    size_t nt = tids ? qkperf_process_threads(tids, MAX_TIDS) : 0;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    tgroup **grown = nt ? realloc(g->t, (nt + 1) * sizeof *grown) : NULL;
    if (tids == NULL || (nt && grown == NULL)) {
        free(tids);
        err_set(err, QKPERF_WHY_OTHER, ENOMEM, "qkperf_pgroup_open: out of memory");
        return -1;
    }
    g->t = grown ? grown : g->t;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nt && i < MAX_TIDS; i++) {
        if (tids[i] == self)
            continue;
        qkperf_err e = {0};
        tgroup *t = tgroup_open(events, g->n, tids[i], -1, &e);
        if (t != NULL) {
            g->t[g->nthreads++] = t;
        } else if (e.errnum != ESRCH) {
            err_set(err, e.why, e.errnum, "thread %ld of this process: %s", (long)tids[i], e.msg);
            rc = -1;
        }
    }
    free(tids);
    return rc;
}

qkperf_pgroup *qkperf_pgroup_open_threads(const char *const *events, size_t n, int cpu,
                                          int every_thread, qkperf_err *err)
{
    *err = (qkperf_err){0};
    if (events == NULL || n == 0) {
        err_set(err, QKPERF_WHY_OTHER, EINVAL, "qkperf_pgroup_open: no events given");
        return NULL;
    }
    char msg[192] = "";
    if (qkperf_pfm_init(msg, sizeof msg) != 0) {
        err_set(err, QKPERF_WHY_OTHER, 0, "libpfm initialization failed: %s", msg);
        return NULL;
    }
    qkperf_pgroup *g = calloc(1, sizeof *g);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    if (g == NULL || (g->t = calloc(1, sizeof *g->t)) == NULL) {
        free(g);
        err_set(err, QKPERF_WHY_OTHER, ENOMEM, "qkperf_pgroup_open: out of memory");
        return NULL;
    }
    g->n = n;
    g->t[0] = tgroup_open(events, n, 0, cpu, err);
    if (g->t[0] != NULL)
        g->nthreads = 1;
    if (g->t[0] == NULL || (every_thread && open_other_threads(g, events, err) != 0)) {
        pgroup_free(g);
        return NULL;
    }
    return g;
}

qkperf_pgroup *qkperf_pgroup_open(const char *const *events, size_t n, int cpu, qkperf_err *err)
{
    return qkperf_pgroup_open_threads(events, n, cpu, 0, err);
}

size_t qkperf_pgroup_size(const qkperf_pgroup *g)
{
    return g->n;
}

size_t qkperf_pgroup_threads(const qkperf_pgroup *g)
{
    return g->nthreads;
}

int qkperf_pgroup_uses_rdpmc(const qkperf_pgroup *g)
{
    return g->t[0]->rdpmc;
}

void qkperf_pgroup_close(qkperf_pgroup *g)
{
    if (g != NULL)
        pgroup_free(g);
}

/* ---- reading through the mmap page (rdpmc) ------------------------------- */

/* A counter is pmc_width bits wide (48 on x86); the kernel's offset assumes
 * the value sign-extended to 64 bits, so the sum wraps correctly. */
static inline uint64_t qkperf_sign_extend(uint64_t pmc, unsigned width)
{
    if (width == 0 || width >= 64)
        return pmc;
    return (uint64_t)((int64_t)(pmc << (64 - width)) >> (64 - width));
}

/* ns since the kernel's last update of the page: cyc * mult >> shift split
 * in quotient and remainder so the 64-bit product cannot overflow. */
static uint64_t qkperf_page_delta_ns(const qkperf_page_fields *f)
{
    uint64_t cyc = f->tsc;
    if (f->cap_user_time_short)
        cyc = f->time_cycles + ((cyc - f->time_cycles) & f->time_mask);
    unsigned shift = f->time_shift & 63;
    uint64_t quot = cyc >> shift;
    uint64_t rem = cyc & (((uint64_t)1 << shift) - 1);
    return f->time_offset + quot * f->time_mult + ((rem * f->time_mult) >> shift);
}

int qkperf_page_eval(const qkperf_page_fields *f, qkperf_page_value *v)
{
    int live = f->cap_user_rdpmc && f->index != 0;
    v->count = (uint64_t)f->offset;
    v->enabled = f->time_enabled;
    v->running = f->time_running;
    if (live)
        v->count += qkperf_sign_extend(f->pmc, f->pmc_width);
    if (!f->cap_user_time)
        return 0;
    uint64_t delta = qkperf_page_delta_ns(f);
    v->enabled += delta;
    if (f->index != 0)
        v->running += delta;
    return live;
}

qkperf_count qkperf_page_region(const qkperf_page_value *start, const qkperf_page_value *stop)
{
    return qkperf_scale(stop->count - start->count, stop->enabled - start->enabled,
                        stop->running - start->running);
}

static inline uint64_t qkperf_rdpmc(uint32_t counter)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdpmc" : "=a"(lo), "=d"(hi) : "c"(counter));
    return (uint64_t)hi << 32 | lo;
}

/* One pass of the self-monitoring read loop of <linux/perf_event.h>: copy
 * the fields, rdtsc and rdpmc between two reads of pc->lock, and retry when
 * the kernel updated the page meanwhile. The compiler barriers keep the
 * copies between the two lock reads; no CPU fence is needed because the
 * kernel writes this page only on the CPU this thread runs on, while the
 * thread is interrupted or switched out, so a pass sees a whole update or
 * a changed lock. rdpmc runs only when this pass saw cap_user_rdpmc and a
 * counter index (it faults otherwise). */
static int read_page(volatile struct perf_event_mmap_page *pc, qkperf_page_value *v)
{
    qkperf_page_fields f;
    uint32_t seq;
    do {
        seq = pc->lock;
        __asm__ __volatile__("" ::: "memory");
        f = (qkperf_page_fields){
            .time_enabled = pc->time_enabled,
            .time_running = pc->time_running,
            .cap_user_time = pc->cap_user_time,
            .cap_user_time_short = pc->cap_user_time_short,
            .cap_user_rdpmc = pc->cap_user_rdpmc,
        };
        if (f.cap_user_time) {
            f.tsc = __rdtsc();
            f.time_offset = pc->time_offset;
            f.time_mult = pc->time_mult;
            f.time_shift = pc->time_shift;
            f.time_cycles = pc->time_cycles;
            f.time_mask = pc->time_mask;
        }
        f.index = pc->index;
        f.offset = pc->offset;
        if (f.cap_user_rdpmc && f.index != 0) {
            f.pmc_width = pc->pmc_width;
            f.pmc = qkperf_rdpmc(f.index - 1);
        }
        __asm__ __volatile__("" ::: "memory");
    } while (pc->lock != seq);
    return qkperf_page_eval(&f, v);
}

/* Every event's value now; 1 when all are live. */
static int read_pages(tgroup *g, qkperf_page_value *out)
{
    int live = 1;
    for (size_t i = 0; i < g->n; i++)
        live &= read_page(g->pages[i], &out[i]);
    return live;
}

/* ---- start / stop ------------------------------------------------------- */

static int tgroup_start(tgroup *g)
{
    int rc = group_ioctl(g, PERF_EVENT_IOC_RESET);
    if (rc == 0)
        rc = group_ioctl(g, PERF_EVENT_IOC_ENABLE);
    if (rc != 0 || !g->rdpmc)
        return rc;
    g->start_live = read_pages(g, g->at_start);
    /* Should stop fall back to read(2), its times are taken relative to
     * these (the totals of the whole group, which the leader's page has). */
    g->prev_enabled = g->at_start[0].enabled;
    g->prev_running = g->at_start[0].running;
    return 0;
}

/* The other threads first, the calling thread's group last: its region
 * (the one rdpmc may read) is the tightest around the caller's work. */
int qkperf_pgroup_start(qkperf_pgroup *g)
{
    int rc = 0;
    for (size_t i = g->nthreads; rc == 0 && i-- > 0;)
        rc = tgroup_start(g->t[i]);
    return rc;
}

/* The position of an ID in the group, or -1. */
static long find_id(const tgroup *g, uint64_t id)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->ids[i] == id)
            return (long)i;
    return -1;
}

/* Parse { nr, time_enabled, time_running, { value, id }[nr] } into out[]. */
static int parse_group(tgroup *g, const uint64_t *buf, qkperf_count *out)
{
    if (buf[0] != g->n)
        return -EPROTO;
    uint64_t enabled = buf[1] - g->prev_enabled;
    uint64_t running = buf[2] - g->prev_running;
    g->prev_enabled = buf[1];
    g->prev_running = buf[2];
    for (size_t k = 0; k < g->n; k++) {
        long i = find_id(g, buf[4 + 2 * k]);
        if (i < 0)
            return -EPROTO;
        out[i] = qkperf_scale(buf[3 + 2 * k], enabled, running);
    }
    return 0;
}

static int stop_read(tgroup *g, qkperf_count *out)
{
    size_t words = 3 + 2 * g->n;
    uint64_t stackbuf[3 + 2 * 16];
    uint64_t *buf = words <= sizeof stackbuf / sizeof stackbuf[0] ? stackbuf : malloc(words * 8);
    if (buf == NULL)
        return -ENOMEM;
    int rc = 0;
    ssize_t got = read(g->fds[0], buf, words * 8);
    if (got < 0)
        rc = -errno;
    else if ((size_t)got != words * 8)
        rc = -EIO;
    else
        rc = parse_group(g, buf, out);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* rdpmc path; 1 when out was filled, 0 when the values were not all live
 * (an event not on a counter at start or stop): then read(2) must. The
 * counters are read before disabling, while they are live on the PMU. */
static int stop_rdpmc(tgroup *g, qkperf_count *out)
{
    qkperf_page_value stop[16];
    qkperf_page_value *v = g->n <= 16 ? stop : malloc(g->n * sizeof *v);
    int live = v != NULL && g->start_live && read_pages(g, v);
    for (size_t i = 0; live && i < g->n; i++)
        out[i] = qkperf_page_region(&g->at_start[i], &v[i]);
    if (v != stop)
        free(v);
    return live;
}

/* Events opened user-only that the kernel counts only in kernel mode. */
static void mark_kernel_only(const tgroup *g, qkperf_count *out)
{
    for (size_t i = 0; i < g->n; i++) {
        if (!g->kernel_only[i])
            continue;
        out[i].counted = 0;
        out[i].value = 0.0;
        out[i].why = QKPERF_WHY_KERNEL_ONLY;
    }
}

static int tgroup_stop(tgroup *g, qkperf_count *out)
{
    int done = g->rdpmc && stop_rdpmc(g, out);
    int rc = group_ioctl(g, PERF_EVENT_IOC_DISABLE);
    if (rc == 0 && !done)
        rc = stop_read(g, out);
    if (rc == 0)
        mark_kernel_only(g, out);
    return rc;
}

/* Add another thread's count of an event into the total. A thread that
 * did not run while the group was enabled (time_enabled 0: a per-thread
 * event's time runs only while its thread is on a CPU) counted nothing,
 * truly; one that ran but never got the counters makes the total unknown. */
static void add_thread(qkperf_count *sum, const qkperf_count *c)
{
    if (c->enabled == 0)
        return;
    if (!c->counted) {
        sum->counted = 0;
        sum->value = 0.0;
        if (sum->why == QKPERF_WHY_OK)
            sum->why = c->why;
        return;
    }
    if (sum->counted)
        sum->value += c->value;
    sum->raw += c->raw;
    if (c->ratio < sum->ratio)
        sum->ratio = c->ratio;
}

int qkperf_pgroup_stop(qkperf_pgroup *g, qkperf_count *out)
{
    int rc = tgroup_stop(g->t[0], out);
    qkperf_count stackbuf[16];
    qkperf_count *c = g->n <= 16 ? stackbuf : malloc(g->n * sizeof *c);
    if (c == NULL)
        rc = rc ? rc : -ENOMEM;
    for (size_t t = 1; t < g->nthreads; t++) {
        int trc = c != NULL ? tgroup_stop(g->t[t], c) : -ENOMEM;
        for (size_t i = 0; rc == 0 && trc == 0 && i < g->n; i++)
            add_thread(&out[i], &c[i]);
        rc = rc ? rc : trc;
    }
    if (c != stackbuf)
        free(c);
    return rc;
}
