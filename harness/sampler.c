/*
 * sampler.c — perf_event sampling on every thread of a target, one ring
 * buffer per CPU (see sampler.h for the why of that layout).
 *
 * The ring buffer protocol is the one <linux/perf_event.h> documents: the
 * kernel advances data_head; the reader loads it with acquire ordering,
 * reads records between its tail and the head (a record may wrap around
 * the end of the data area: it is then copied out in two parts), and
 * publishes the new data_tail with release ordering, which hands the
 * space back to the kernel. Records the kernel could not write because
 * the buffer was full arrive as PERF_RECORD_LOST and are counted.
 */
#include "sampler.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QKPERF_SAMPLER_PERIOD 100000u /* ns: 10 kHz */
#define QKPERF_SAMPLER_PAGES 128u     /* 512 KiB: perf's unprivileged default */
#define QKPERF_MAX_RECORD 65536u      /* perf_event_header.size is 16 bits */

typedef struct qkperf_ring {
    int fd; /* the event that owns the buffer */
    void *base;
    unsigned char *data;
    uint64_t size; /* data bytes, a power of two */
} qkperf_ring;

struct qkperf_sampler {
    struct perf_event_attr attr;
    char name[64];
    int precise;
    int *fds;
    size_t nfds, capfds;
    int *cpus;
    qkperf_ring *rings; /* rings[i] for cpus[i]; fd -1 until opened */
    size_t ncpus, pages, pagesz;
    pid_t *tids; /* self: the threads opened */
    size_t ntids, captids;
    pid_t pid;
    int exec, go_fd, err_fd, waited;
    qkperf_sampler_stats st;
    qkperf_thread_count *thr; /* ascending tid */
    size_t nthr, capthr;
    qkperf_mapping *maps;
    size_t nmaps, capmaps;
    unsigned char *scratch;
    uint64_t dither; /* xorshift state; 0 once PERF_EVENT_IOC_PERIOD failed */
    size_t enables;
};

static long sys_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                     unsigned long flags)
{
    return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static qkperf_open_fn sampler_open_fn = sys_open;

void qkperf_sampler_set_open_fn(qkperf_open_fn fn)
{
    sampler_open_fn = fn ? fn : sys_open;
}

/* ---- errors ------------------------------------------------------------- */

static void sampler_err(qkperf_err *err, qkperf_why why, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void sampler_err(qkperf_err *err, qkperf_why why, int errnum, const char *fmt, ...)
{
    va_list ap;
    err->why = why;
    err->errnum = errnum;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static const char *errname(int errnum)
{
    const char *n = strerrorname_np(errnum);
    return n ? n : "errno";
}

/* A failed perf_event_open or mmap, classified like perf.c does. */
static void sampler_syserr(qkperf_err *err, const char *what, const char *call, int errnum)
{
    qkperf_why why = qkperf_why_from_errno(errnum);
    if (why != QKPERF_WHY_NOT_PERMITTED) {
        sampler_err(err, why, errnum, "%s: %s (%s from %s: %s)", what, qkperf_why_text(why),
                    errname(errnum), call, strerror(errnum));
        return;
    }
    sampler_err(err, why, errnum,
                "%s: %s (%s from %s: %s; perf_event_paranoid = %d; sampling one's own "
                "processes needs <= 2 or CAP_PERFMON%s)",
                what, qkperf_why_text(why), errname(errnum), call, strerror(errnum),
                qkperf_perf_paranoid(),
                strcmp(call, "mmap") == 0
                    ? "; the ring buffers may exceed perf_event_mlock_kb: use fewer pages"
                    : "");
}

/* ---- the sampler -------------------------------------------------------- */

/* The online CPUs, from sysfs ("0-3,6"), else 0..nprocs-1. */
static size_t online_cpus(int **out)
{
    char buf[4096];
    size_t n = 0, cap = 0;
    int *v = NULL;
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    if (f != NULL && fgets(buf, sizeof buf, f) != NULL) {
        for (char *p = buf; *p && *p != '\n';) {
            char *end;
            long lo = strtol(p, &end, 10), hi = lo;
            if (end == p)
                break;
            if (*end == '-')
                hi = strtol(end + 1, &end, 10);
            for (long c = lo; c <= hi; c++) {
                if (n == cap) {
                    int *grown = realloc(v, (cap ? 2 * cap : 16) * sizeof *v);
                    if (!grown) /* out of memory: the CPUs read so far */
                        break;
                    v = grown;
                    cap = cap ? 2 * cap : 16;
                }
                v[n++] = (int)c;
            }
            p = *end == ',' ? end + 1 : end;
        }
    }
    if (f != NULL)
        fclose(f);
    if (n == 0) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        n = np > 0 ? (size_t)np : 1;
        free(v);
        v = calloc(n, sizeof *v);
        for (size_t i = 0; v && i < n; i++)
            v[i] = (int)i;
    }
    *out = v;
    return v ? n : 0;
}

static int attr_init(qkperf_sampler *s, const qkperf_sample_config *cfg)
{
    struct perf_event_attr *a = &s->attr;
    memset(a, 0, sizeof *a);
    if (cfg->attr != NULL) {
        a->type = cfg->attr->type;
        a->config = cfg->attr->config;
        a->config1 = cfg->attr->config1;
        a->config2 = cfg->attr->config2;
        a->precise_ip = cfg->attr->precise_ip;
        /* Hardware events get the most precise IP the PMU offers. */
        if (a->type != PERF_TYPE_SOFTWARE && a->precise_ip == 0)
            a->precise_ip = 2;
    } else {
        a->type = PERF_TYPE_SOFTWARE;
        a->config = PERF_COUNT_SW_CPU_CLOCK;
    }
    snprintf(s->name, sizeof s->name, "%s",
             cfg->name   ? cfg->name
             : cfg->attr ? "event"
                         : "cpu-clock");
    a->size = sizeof *a;
    a->sample_period = cfg->period ? cfg->period : QKPERF_SAMPLER_PERIOD;
    s->dither = 0x9E3779B97F4A7C15ull ^ a->sample_period;
    a->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
    a->disabled = 1;
    a->inherit = 1;
    a->exclude_kernel = 1;
    a->exclude_hv = 1;
    a->sample_id_all = 1;
    /* Sample times on CLOCK_MONOTONIC, so a caller can keep the samples
     * that fall inside regions it timed with clock_gettime. */
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    a->watermark = 1;
    s->pages = cfg->pages ? cfg->pages : QKPERF_SAMPLER_PAGES;
    s->pagesz = (size_t)sysconf(_SC_PAGESIZE);
    a->wakeup_watermark = (uint32_t)(s->pages * s->pagesz / 4);
    return (s->pages & (s->pages - 1)) == 0 ? 0 : -1;
}

static qkperf_sampler *sampler_new(const qkperf_sample_config *cfg, qkperf_err *err)
{
    static const qkperf_sample_config defaults = {0};
    qkperf_sampler *s = calloc(1, sizeof *s);
    if (s == NULL) {
        sampler_err(err, QKPERF_WHY_OTHER, ENOMEM, "sampler: out of memory");
        return NULL;
    }
    s->go_fd = s->err_fd = -1;
    s->precise = -1;
    if (attr_init(s, cfg ? cfg : &defaults) != 0) {
        sampler_err(err, QKPERF_WHY_OTHER, EINVAL,
                    "sampler: %u ring buffer pages: must be a power of two", cfg->pages);
        free(s);
        return NULL;
    }
    s->ncpus = online_cpus(&s->cpus);
    s->rings = calloc(s->ncpus ? s->ncpus : 1, sizeof *s->rings);
    s->scratch = malloc(QKPERF_MAX_RECORD);
    if (s->ncpus == 0 || s->rings == NULL || s->scratch == NULL) {
        sampler_err(err, QKPERF_WHY_OTHER, ENOMEM, "sampler: out of memory");
        qkperf_sampler_close(s);
        return NULL;
    }
    for (size_t i = 0; i < s->ncpus; i++)
        s->rings[i].fd = -1;
    return s;
}

/* perf_event_open for (pid, cpu); the first open settles precise_ip,
 * stepping down on EOPNOTSUPP/EINVAL as perf does. fd or -errno. */
static int sampler_open_event(qkperf_sampler *s, pid_t pid, int cpu)
{
    for (;;) {
        long fd = sampler_open_fn(&s->attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd >= 0) {
            s->precise = s->attr.precise_ip;
            return (int)fd;
        }
        int e = errno;
        if (s->precise >= 0 || s->attr.precise_ip == 0 || (e != EOPNOTSUPP && e != EINVAL))
            return -e;
        s->attr.precise_ip--;
    }
}

static int ring_map(qkperf_sampler *s, qkperf_ring *r, int fd)
{
    size_t len = (s->pages + 1) * s->pagesz;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    struct perf_event_mmap_page *pg = p;
    r->fd = fd;
    r->base = p;
    r->data = (unsigned char *)p + (pg->data_offset ? pg->data_offset : s->pagesz);
    r->size = pg->data_size ? pg->data_size : s->pages * s->pagesz;
    return 0;
}

/* Open the event of pid on CPU cpus[i]: the CPU's first event gets the
 * ring buffer, the others write into it. 0, or -errno with the call that
 * failed in *call. */
static int sampler_add(qkperf_sampler *s, pid_t pid, size_t i, const char **call)
{
    *call = "perf_event_open";
    if (s->nfds == s->capfds) {
        int *t = realloc(s->fds, (s->capfds = s->capfds ? 2 * s->capfds : 16) * sizeof *t);
        if (t == NULL)
            return -ENOMEM;
        s->fds = t;
    }
    int fd = sampler_open_event(s, pid, s->cpus[i]);
    if (fd < 0)
        return fd;
    s->fds[s->nfds++] = fd;
    if (s->rings[i].fd < 0) {
        *call = "mmap";
        return ring_map(s, &s->rings[i], fd);
    }
    *call = "ioctl(PERF_EVENT_IOC_SET_OUTPUT)";
    return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, s->rings[i].fd) == 0 ? 0 : -errno;
}

static int sampler_add_task(qkperf_sampler *s, pid_t pid, qkperf_err *err)
{
    for (size_t i = 0; i < s->ncpus; i++) {
        const char *call;
        int rc = sampler_add(s, pid, i, &call);
        if (rc == -ESRCH && s->exec == 0)
            return 1; /* the thread exited meanwhile: nothing to sample */
        if (rc < 0) {
            char what[128];
            snprintf(what, sizeof what, "%s sampling of task %d on CPU %d", s->name, (int)pid,
                     s->cpus[i]);
            sampler_syserr(err, what, call, -rc);
            return -1;
        }
    }
    return 0;
}

static int tid_known(const qkperf_sampler *s, pid_t tid)
{
    for (size_t i = 0; i < s->ntids; i++)
        if (s->tids[i] == tid)
            return 1;
    return 0;
}

/* One pass over /proc/self/task: open every thread not opened yet.
 * Returns how many were new, or -1 with err filled. */
static int sampler_scan(qkperf_sampler *s, qkperf_err *err)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) {
        sampler_err(err, QKPERF_WHY_OTHER, errno, "sampler: cannot list /proc/self/task: %s",
                    strerror(errno));
        return -1;
    }
    int added = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(de->d_name);
        if (tid <= 0 || tid_known(s, tid))
            continue;
        if (s->ntids == s->captids) {
            pid_t *t =
                realloc(s->tids, (s->captids = s->captids ? 2 * s->captids : 16) * sizeof *t);
            if (t == NULL) {
                closedir(d);
                sampler_err(err, QKPERF_WHY_OTHER, ENOMEM, "sampler: out of memory");
                return -1;
            }
            s->tids = t;
        }
        int rc = sampler_add_task(s, tid, err);
        if (rc < 0) {
            closedir(d);
            return -1;
        }
        s->tids[s->ntids++] = tid; /* an exited one too: never retried */
        added++;
    }
    closedir(d);
    return added;
}

qkperf_sampler *qkperf_sampler_open_self(const qkperf_sample_config *cfg, qkperf_err *err)
{
    qkperf_sampler *s = sampler_new(cfg, err);
    if (s == NULL)
        return NULL;
    s->pid = getpid();
    /* Threads created by a thread before its events were opened are not
     * inherited: rescan until a pass finds no new thread. */
    int rc;
    while ((rc = sampler_scan(s, err)) > 0)
        ;
    if (rc < 0) {
        qkperf_sampler_close(s);
        return NULL;
    }
    return s;
}

/* ---- exec child ----------------------------------------------------------- */

static void sampler_child(int go, int errp, char *const argv[])
{
    char c;
    if (read(go, &c, 1) == 1) {
        execvp(argv[0], argv);
        int e = errno;
        if (write(errp, &e, sizeof e) < 0)
            _exit(127);
    }
    _exit(127);
}

qkperf_sampler *qkperf_sampler_open_exec(const qkperf_sample_config *cfg, char *const argv[],
                                         qkperf_err *err)
{
    if (argv == NULL || argv[0] == NULL) {
        sampler_err(err, QKPERF_WHY_OTHER, EINVAL, "sampler: no command to run");
        return NULL;
    }
    qkperf_sampler *s = sampler_new(cfg, err);
    if (s == NULL)
        return NULL;
    s->exec = 1;
    s->attr.enable_on_exec = 1;
    s->attr.mmap = 1;
    s->attr.mmap2 = 1;
    s->attr.comm = 1;
    int go[2], ep[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
        sampler_err(err, QKPERF_WHY_OTHER, errno, "sampler: pipe: %s", strerror(errno));
        qkperf_sampler_close(s);
        return NULL;
    }
    s->pid = fork();
    if (s->pid == 0)
        sampler_child(go[0], ep[1], argv);
    close(go[0]);
    close(ep[1]);
    s->go_fd = go[1];
    s->err_fd = ep[0];
    if (s->pid < 0) {
        sampler_err(err, QKPERF_WHY_OTHER, errno, "sampler: fork: %s", strerror(errno));
        qkperf_sampler_close(s);
        return NULL;
    }
    if (sampler_add_task(s, s->pid, err) != 0) {
        qkperf_sampler_close(s);
        return NULL;
    }
    return s;
}

int qkperf_sampler_start(qkperf_sampler *s, qkperf_err *err)
{
    if (!s->exec || s->go_fd < 0) {
        sampler_err(err, QKPERF_WHY_OTHER, EINVAL, "sampler: no child waits to start");
        return -1;
    }
    ssize_t w = write(s->go_fd, "g", 1);
    close(s->go_fd);
    s->go_fd = -1;
    int e = 0;
    ssize_t r;
    while ((r = read(s->err_fd, &e, sizeof e)) < 0 && errno == EINTR)
        ;
    if (w == 1 && r == 0)
        return 0; /* the pipe closed on exec */
    int status;
    waitpid(s->pid, &status, 0);
    s->waited = 1;
    sampler_err(err, QKPERF_WHY_OTHER, e, "sampler: cannot run the command: %s",
                r == (ssize_t)sizeof e ? strerror(e) : "the child did not start");
    return -1;
}

int qkperf_sampler_wait(qkperf_sampler *s, const qkperf_sampler_sink *sink, int *status,
                        qkperf_err *err)
{
    struct pollfd *pf = calloc(s->ncpus, sizeof *pf);
    if (!s->exec || s->waited || pf == NULL) {
        free(pf);
        sampler_err(err, QKPERF_WHY_OTHER, EINVAL, "sampler: no child to wait for");
        return -1;
    }
    for (size_t i = 0; i < s->ncpus; i++)
        pf[i] = (struct pollfd){.fd = s->rings[i].fd, .events = POLLIN};
    for (;;) {
        poll(pf, (nfds_t)s->ncpus, 100);
        qkperf_sampler_drain(s, sink);
        pid_t r = waitpid(s->pid, status, WNOHANG);
        if (r == s->pid)
            break;
        if (r < 0 && errno != EINTR) {
            free(pf);
            sampler_err(err, QKPERF_WHY_OTHER, errno, "sampler: waitpid: %s", strerror(errno));
            return -1;
        }
    }
    free(pf);
    s->waited = 1;
    qkperf_sampler_drain(s, sink);
    return 0;
}

pid_t qkperf_sampler_pid(const qkperf_sampler *s)
{
    return s->pid;
}

static int sampler_ioctl_all(qkperf_sampler *s, unsigned long req)
{
    int rc = 0;
    for (size_t i = 0; i < s->nfds; i++)
        if (ioctl(s->fds[i], req, 0) != 0 && rc == 0)
            rc = -errno;
    return rc;
}

/* Each enable draws a new period, uniform in [0.75, 1.25] x the period
 * asked for: a kernel called in a loop whose call time divides the period
 * would otherwise be sampled at the same few points of every call (the
 * samples alias with the loop), and its phase shares would be biased. The
 * mean period, and so the samples per second, stay as asked. */
static void dither_period(qkperf_sampler *s)
{
    if (!s->dither || s->attr.freq || s->attr.sample_period < 8)
        return;
    s->dither ^= s->dither << 13;
    s->dither ^= s->dither >> 7;
    s->dither ^= s->dither << 17;
    double u = (double)(s->dither >> 11) / 9007199254740992.0; /* [0, 1) */
    uint64_t p = (uint64_t)((double)s->attr.sample_period * (0.75 + 0.5 * u));
    for (size_t i = 0; i < s->nfds; i++)
        if (ioctl(s->fds[i], PERF_EVENT_IOC_PERIOD, &p) != 0) {
            s->dither = 0; /* this kernel or event cannot: keep the period fixed */
            return;
        }
}

int qkperf_sampler_enable(qkperf_sampler *s)
{
    dither_period(s);
    s->enables++;
    return sampler_ioctl_all(s, PERF_EVENT_IOC_ENABLE);
}

int qkperf_sampler_disable(qkperf_sampler *s)
{
    return sampler_ioctl_all(s, PERF_EVENT_IOC_DISABLE);
}

/* ---- records ---------------------------------------------------------------- */

static void count_thread(qkperf_sampler *s, uint32_t tid)
{
    size_t lo = 0, hi = s->nthr;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->thr[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->nthr && s->thr[lo].tid == tid) {
        s->thr[lo].samples++;
        return;
    }
    if (s->nthr == s->capthr) {
        qkperf_thread_count *t =
            realloc(s->thr, (s->capthr = s->capthr ? 2 * s->capthr : 16) * sizeof *t);
        if (t == NULL)
            return;
        s->thr = t;
    }
    memmove(&s->thr[lo + 1], &s->thr[lo], (s->nthr - lo) * sizeof *s->thr);
    s->thr[lo] = (qkperf_thread_count){tid, 1};
    s->nthr++;
}

static void keep_mapping(qkperf_sampler *s, const qkperf_mmap_event *m)
{
    if (m->path[0] != '/')
        return;
    for (size_t i = 0; i < s->nmaps; i++)
        if (s->maps[i].start == m->start && s->maps[i].pgoff == m->pgoff &&
            strcmp(s->maps[i].path, m->path) == 0)
            return;
    if (s->nmaps == s->capmaps) {
        qkperf_mapping *t =
            realloc(s->maps, (s->capmaps = s->capmaps ? 2 * s->capmaps : 32) * sizeof *t);
        if (t == NULL)
            return;
        s->maps = t;
    }
    char *p = strdup(m->path);
    if (p == NULL)
        return;
    s->maps[s->nmaps++] = (qkperf_mapping){.path = p,
                                           .start = m->start,
                                           .end = m->start + m->len,
                                           .pgoff = m->pgoff,
                                           .exec = (m->prot & PROT_EXEC) != 0};
}

static uint64_t qkperf_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t qkperf_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* MMAP and MMAP2: fixed fields, then the NUL-terminated path. */
static void on_mmap(qkperf_sampler *s, const unsigned char *r, size_t size, int v2,
                    const qkperf_sampler_sink *sink)
{
    size_t path_at = v2 ? 72 : 40;
    if (size <= path_at)
        return;
    char path[PATH_MAX];
    size_t n = strnlen((const char *)r + path_at, size - path_at);
    if (n >= sizeof path)
        return;
    memcpy(path, r + path_at, n);
    path[n] = '\0';
    qkperf_mmap_event m = {.pid = qkperf_u32(r + 8),
                           .tid = qkperf_u32(r + 12),
                           .start = qkperf_u64(r + 16),
                           .len = qkperf_u64(r + 24),
                           .pgoff = qkperf_u64(r + 32),
                           .prot = v2 ? qkperf_u32(r + 64) : PROT_READ | PROT_EXEC,
                           .path = path};
    s->st.mmaps++;
    keep_mapping(s, &m);
    if (sink && sink->mmap)
        sink->mmap(sink->ctx, &m);
}

static int on_sample(qkperf_sampler *s, const unsigned char *r, size_t size, uint16_t misc,
                     const qkperf_sampler_sink *sink)
{
    if (size < 32)
        return 0;
    if ((misc & PERF_RECORD_MISC_CPUMODE_MASK) != PERF_RECORD_MISC_USER) {
        s->st.non_user++;
        return 0;
    }
    qkperf_sample smp = {.ip = qkperf_u64(r + 8),
                         .pid = qkperf_u32(r + 16),
                         .tid = qkperf_u32(r + 20),
                         .time = qkperf_u64(r + 24)};
    s->st.samples++;
    count_thread(s, smp.tid);
    if (sink && sink->sample)
        sink->sample(sink->ctx, &smp);
    return 1;
}

static int on_record(qkperf_sampler *s, const unsigned char *r, size_t size, uint32_t type,
                     uint16_t misc, const qkperf_sampler_sink *sink)
{
    switch (type) {
    case PERF_RECORD_SAMPLE:
        return on_sample(s, r, size, misc, sink);
    case PERF_RECORD_MMAP:
    case PERF_RECORD_MMAP2:
        on_mmap(s, r, size, type == PERF_RECORD_MMAP2, sink);
        return 0;
    case PERF_RECORD_LOST:
        if (size >= 24)
            s->st.lost += qkperf_u64(r + 16);
        return 0;
    case PERF_RECORD_THROTTLE:
        s->st.throttles++;
        return 0;
    case PERF_RECORD_UNTHROTTLE:
        s->st.unthrottles++;
        return 0;
    default:
        return 0; /* COMM, EXIT, ...: not needed */
    }
}

static size_t ring_drain(qkperf_sampler *s, qkperf_ring *rg, const qkperf_sampler_sink *sink)
{
    struct perf_event_mmap_page *pg = rg->base;
    uint64_t head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = pg->data_tail;
    size_t delivered = 0;
    while (head - tail >= sizeof(struct perf_event_header)) {
        uint64_t off = tail & (rg->size - 1);
        struct perf_event_header h;
        memcpy(&h, rg->data + off, sizeof h); /* records are 8-aligned: no wrap */
        if (h.size < sizeof h || h.size > head - tail) {
            s->st.corrupt++;
            tail = head;
            break;
        }
        const unsigned char *r = rg->data + off;
        if (off + h.size > rg->size) {
            size_t first = (size_t)(rg->size - off);
            memcpy(s->scratch, rg->data + off, first);
            memcpy(s->scratch + first, rg->data, h.size - first);
            r = s->scratch;
        }
        delivered += (size_t)on_record(s, r, h.size, h.type, h.misc, sink);
        tail += h.size;
    }
    __atomic_store_n(&pg->data_tail, tail, __ATOMIC_RELEASE);
    return delivered;
}

size_t qkperf_sampler_drain(qkperf_sampler *s, const qkperf_sampler_sink *sink)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ncpus; i++)
        if (s->rings[i].base != NULL)
            n += ring_drain(s, &s->rings[i], sink);
    return n;
}

/* ---- what was sampled --------------------------------------------------------- */

qkperf_sampler_stats qkperf_sampler_stats_get(const qkperf_sampler *s)
{
    return s->st;
}

const qkperf_thread_count *qkperf_sampler_threads(const qkperf_sampler *s, size_t *n)
{
    *n = s->nthr;
    return s->thr;
}

const qkperf_mapping *qkperf_sampler_mappings(const qkperf_sampler *s, size_t *n)
{
    *n = s->nmaps;
    return s->maps;
}

int qkperf_sampler_precise(const qkperf_sampler *s)
{
    return s->precise;
}

void qkperf_sampler_describe(const qkperf_sampler *s, char *buf, size_t len)
{
    int clock = s->attr.type == PERF_TYPE_SOFTWARE && (s->attr.config == PERF_COUNT_SW_CPU_CLOCK ||
                                                       s->attr.config == PERF_COUNT_SW_TASK_CLOCK);
    char who[64];
    if (s->exec)
        snprintf(who, sizeof who, "pid %d and its descendants", (int)s->pid);
    else
        snprintf(who, sizeof who, "%zu thread%s", s->ntids, s->ntids == 1 ? "" : "s");
    snprintf(buf, len,
             "%s every %llu %s%s, precise_ip %d, %s x %zu CPUs (%zu events), %zu ring buffers of "
             "%zu pages",
             s->name, (unsigned long long)s->attr.sample_period, clock ? "ns" : "events",
             s->dither && s->enables > 1 ? " on average (+-25% per chunk, against aliasing)" : "",
             s->precise, who, s->ncpus, s->nfds, s->ncpus, s->pages);
}

void qkperf_sampler_close(qkperf_sampler *s)
{
    if (s == NULL)
        return;
    qkperf_sampler_disable(s);
    for (size_t i = 0; i < s->ncpus; i++)
        if (s->rings[i].base != NULL)
            munmap(s->rings[i].base, (s->pages + 1) * s->pagesz);
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    if (s->go_fd >= 0)
        close(s->go_fd); /* the child reads EOF and exits without exec */
    if (s->err_fd >= 0)
        close(s->err_fd);
    if (s->exec && s->pid > 0 && !s->waited) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    qkperf_mappings_free(s->maps, s->nmaps);
    free(s->fds);
    free(s->cpus);
    free(s->rings);
    free(s->tids);
    free(s->thr);
    free(s->scratch);
    free(s);
}

void qkperf_share_wilson(uint64_t k, uint64_t n, double *share, double *lo, double *hi)
{
    if (n == 0) {
        *share = *lo = *hi = NAN;
        return;
    }
    const double z = 1.959963984540054;
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1 + z2 / nn;
    double center = (p + z2 / (2 * nn)) / denom;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
    *share = p;
    /* At k = 0 (k = n) the bound is 0 (1) exactly; rounding would not say so. */
    *lo = k == 0 ? 0 : center - half;
    *hi = k == n ? 1 : center + half;
}
