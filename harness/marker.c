/*
 * marker.c — the marker API of <qkperf/marker.h>, all of libqkperf: small
 * and self-contained (libc, pthreads and the perf_event syscall; no
 * harness, libpfm or jansson), since users link it into their programs.
 *
 * qkperf measure (cmd/cmd_measure.c) sets the environment:
 *   QKPERF_MARKER_OUT  the results file (written atomically: PATH.tmp.PID
 *                      renamed); unset, every call returns at once
 *   QKPERF_MARKER_SW   1: count the thread's software events
 *   QKPERF_MARKER_HW   NAME=TYPE:CONFIG:CONFIG1:CONFIG2;... hardware events
 *                      as libpfm4 encoded them (measure encodes, we open)
 *   QKPERF_MARKER_SIM  1: under callgrind, dump its counts at begin and end
 * The file is JSON, read back by measure with jansson: per thread (in the
 * order of their first begin) and region the calls, and per metric the
 * value of each call (TSC ticks, event deltas; for sim the numbers of the
 * dumps that opened and closed the call), plus the errors seen.
 */
#include "qkperf/marker.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <valgrind/callgrind.h>
#include <x86intrin.h>

enum {
    NAME_MAX_LEN = 23, /* the results document's phase field */
    MAX_DEPTH = 32,
    MAX_HW = 16,
    NSW = 3,
    MAX_ERRORS = 16,
    MAX_STORED = 1 << 20, /* per-call values kept per region and thread (8 MiB a metric) */
};
/* The metrics of a call: tsc, the software events, the hardware events;
 * with sim, the dumps before and after. */
enum { M_TSC = 0, M_SW0 = 1, M_HW0 = M_SW0 + NSW, M_SIMB = M_HW0 + MAX_HW, M_SIME, NM };

static const char *const sw_names[NSW] = {"task-clock", "page-faults", "context-switches"};
static const uint64_t sw_config[NSW] = {PERF_COUNT_SW_TASK_CLOCK, PERF_COUNT_SW_PAGE_FAULTS,
                                        PERF_COUNT_SW_CONTEXT_SWITCHES};

typedef struct region {
    char name[NAME_MAX_LEN + 1];
    uint64_t calls;  /* every call */
    size_t stored;   /* calls whose values are kept: the first MAX_STORED */
    double *val[NM]; /* per call, the metrics in use only; grown as calls come */
    double sum[NM];  /* over every call */
    size_t cap;
} region;

typedef struct open_call {
    region *r;
    double start[NM];
} open_call;

typedef struct thread_state {
    int index;
    long tid;
    int sw_fd, hw_fd, hw_error; /* hw_fd: the first group's leader, -1 if any failed */
    int hw_group[MAX_HW];       /* leader of each group of at most hw_per_group events */
    region *regions;
    size_t nregions, capregions;
    open_call stack[MAX_DEPTH];
    int depth, overflow; /* overflow: begins past MAX_DEPTH, ignored with their ends */
    struct thread_state *next;
} thread_state;

/* 0: not read yet; 1: off (not under measure, or closed); 2: on. */
static int state;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread thread_state *self;
static thread_state *threads;
static int nthreads;
static char out_path[4096];
static int use_sw, use_sim, nhw, hw_per_group;
static struct perf_event_attr hw_attr[MAX_HW];
static char hw_name[MAX_HW][64];
static char hw_why[256];
static char errors[MAX_ERRORS][200];
static int nerrors;
static unsigned long sim_seq;

static void add_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_error(const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "qkperf marker: %s\n", line);
    pthread_mutex_lock(&lock);
    if (nerrors < MAX_ERRORS)
        memcpy(errors[nerrors++], line, sizeof line);
    pthread_mutex_unlock(&lock);
}

/* "NAME=TYPE:CONFIG:CONFIG1:CONFIG2;..." into hw_attr. */
static void parse_hw(const char *s)
{
    while (s && *s && nhw < MAX_HW) {
        const char *eq = strchr(s, '=');
        const char *end = strchr(s, ';');
        if (!eq || (end && end < eq))
            break;
        snprintf(hw_name[nhw], sizeof hw_name[nhw], "%.*s", (int)(eq - s), s);
        struct perf_event_attr *a = &hw_attr[nhw];
        memset(a, 0, sizeof *a);
        unsigned long long t = 0, c = 0, c1 = 0, c2 = 0;
        if (sscanf(eq + 1, "%llu:%llx:%llx:%llx", &t, &c, &c1, &c2) != 4)
            break;
        a->type = (uint32_t)t;
        a->config = c;
        a->config1 = c1;
        a->config2 = c2;
        nhw++;
        s = end ? end + 1 : NULL;
    }
}

static void write_results(void);

static void setup(void)
{
    const char *out = getenv("QKPERF_MARKER_OUT");
    if (!out || !*out || strlen(out) >= sizeof out_path - 32) {
        __atomic_store_n(&state, 1, __ATOMIC_RELEASE);
        return;
    }
    snprintf(out_path, sizeof out_path, "%s", out);
    const char *sw = getenv("QKPERF_MARKER_SW");
    const char *sim = getenv("QKPERF_MARKER_SIM");
    use_sw = sw && !strcmp(sw, "1");
    use_sim = sim && !strcmp(sim, "1");
    parse_hw(getenv("QKPERF_MARKER_HW"));
    const char *per = getenv("QKPERF_MARKER_HW_GROUP");
    hw_per_group = per ? atoi(per) : 0;
    if (hw_per_group <= 0 || hw_per_group > nhw)
        hw_per_group = nhw;
    atexit(write_results);
    __atomic_store_n(&state, 2, __ATOMIC_RELEASE);
}

/* 1 when measuring: the fast path is one load and a branch. */
static inline int active(void)
{
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(s == 2, 0))
        return 1;
    if (__builtin_expect(s == 1, 1))
        return 0;
    pthread_once(&once, setup);
    return __atomic_load_n(&state, __ATOMIC_ACQUIRE) == 2;
}

void qkperf_marker_init(void)
{
    (void)active();
}

static int open_group(const struct perf_event_attr *attrs, size_t n, uint64_t fmt, int *err)
{
    int leader = -1;
    for (size_t i = 0; i < n; i++) {
        struct perf_event_attr a = attrs[i];
        a.size = sizeof a;
        a.read_format = fmt;
        a.disabled = i == 0;
        a.exclude_kernel = 1;
        a.exclude_hv = 1;
        int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, leader, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
            *err = errno;
            if (leader >= 0)
                close(leader); /* members go with it once their fds close */
            return -1;
        }
        if (i == 0)
            leader = fd;
    }
    ioctl(leader, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
    return leader;
}

static thread_state *thread_new(void)
{
    thread_state *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tid = (long)syscall(SYS_gettid);
    t->sw_fd = t->hw_fd = -1;
    int e = 0;
    if (use_sw) {
        struct perf_event_attr a[NSW];
        memset(a, 0, sizeof a);
        for (int i = 0; i < NSW; i++) {
            a[i].type = PERF_TYPE_SOFTWARE;
            a[i].config = sw_config[i];
        }
        t->sw_fd = open_group(a, NSW, PERF_FORMAT_GROUP, &e);
        if (t->sw_fd < 0)
            add_error("sw: perf_event_open on thread %ld: %s", t->tid, strerror(e));
    }
    /* hw: groups of at most the counters a thread has (measure says how
     * many), so that each group is scheduled whole */
    for (int first = 0; first < nhw; first += hw_per_group) {
        int n = nhw - first < hw_per_group ? nhw - first : hw_per_group;
        int fd = open_group(hw_attr + first, (size_t)n,
                            PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
                                PERF_FORMAT_TOTAL_TIME_RUNNING,
                            &e);
        t->hw_group[first / hw_per_group] = fd;
        t->hw_fd = first == 0 ? fd : t->hw_fd < 0 ? -1 : fd;
        if (fd < 0) {
            t->hw_error = e;
            pthread_mutex_lock(&lock);
            if (!hw_why[0])
                snprintf(hw_why, sizeof hw_why, "perf_event_open of %s on thread %ld: %s",
                         hw_name[first], t->tid, strerror(e));
            pthread_mutex_unlock(&lock);
            break;
        }
    }
    pthread_mutex_lock(&lock);
    t->index = nthreads++;
    t->next = threads;
    threads = t;
    pthread_mutex_unlock(&lock);
    return t;
}

/* The counters now into v (metrics M_SW0.. and M_HW0..); a read that
 * fails gives NaN. hw values are scaled by enabled / running. */
static void read_counters(const thread_state *t, double *v)
{
    if (t->sw_fd >= 0) {
        uint64_t buf[1 + NSW];
        int ok = read(t->sw_fd, buf, sizeof buf) == (ssize_t)sizeof buf;
        for (int i = 0; i < NSW; i++)
            v[M_SW0 + i] = ok ? (double)buf[1 + i] : __builtin_nan("");
    }
    for (int first = 0; t->hw_fd >= 0 && first < nhw; first += hw_per_group) {
        int n = nhw - first < hw_per_group ? nhw - first : hw_per_group;
        uint64_t buf[3 + MAX_HW];
        ssize_t want = (ssize_t)((3 + (size_t)n) * sizeof buf[0]);
        int ok = read(t->hw_group[first / hw_per_group], buf, (size_t)want) == want;
        double scale = ok && buf[2] ? (double)buf[1] / (double)buf[2] : __builtin_nan("");
        for (int i = 0; i < n; i++)
            v[M_HW0 + first + i] = ok ? (double)buf[3 + i] * scale : __builtin_nan("");
    }
}

static region *find_region(thread_state *t, const char *name)
{
    for (size_t i = 0; i < t->nregions; i++)
        if (!strcmp(t->regions[i].name, name))
            return &t->regions[i];
    if (t->nregions == t->capregions) {
        size_t cap = t->capregions ? 2 * t->capregions : 8;
        region *r = realloc(t->regions, cap * sizeof *r);
        if (!r)
            return NULL;
        /* open calls point into the array: move them along */
        for (int d = 0; d < t->depth; d++)
            t->stack[d].r = r + (t->stack[d].r - t->regions);
        t->regions = r;
        t->capregions = cap;
    }
    region *r = &t->regions[t->nregions++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

static int name_ok(const char *name, const char *what)
{
    if (!name || !*name) {
        add_error("%s with no region name", what);
        return 0;
    }
    if (strlen(name) > NAME_MAX_LEN) {
        add_error("region name '%.40s' is %zu bytes long, at most %d fit", name, strlen(name),
                  NAME_MAX_LEN);
        return 0;
    }
    return 1;
}

/* A dump under callgrind: its number (callgrind numbers dumps from 1, and
 * only the marker dumps). The label is fixed: formatting one would count
 * in the region. */
static unsigned long sim_dump(void)
{
    if (!use_sim)
        return 0;
    unsigned long seq = __atomic_add_fetch(&sim_seq, 1, __ATOMIC_RELAXED);
    CALLGRIND_DUMP_STATS_AT("qkperf-marker");
    return seq;
}

static void begin_slow(const char *name)
{
    if (!name_ok(name, "begin"))
        return;
    if (!self && !(self = thread_new()))
        return;
    thread_state *t = self;
    if (t->depth == MAX_DEPTH) {
        if (!t->overflow++)
            add_error("thread %d: regions nested deeper than %d at begin '%s'", t->index, MAX_DEPTH,
                      name);
        return;
    }
    region *r = find_region(t, name);
    if (!r)
        return;
    open_call *c = &t->stack[t->depth++];
    memset(c, 0, sizeof *c);
    c->r = r;
    c->start[M_SIMB] = (double)sim_dump();
    read_counters(t, c->start);
    c->start[M_TSC] = (double)(_mm_lfence(), __rdtsc());
}

static int in_use(int m)
{
    return m == M_TSC || (m >= M_SW0 && m < M_SW0 + NSW && use_sw) ||
           (m >= M_HW0 && m < M_HW0 + nhw) || (m >= M_SIMB && use_sim);
}

/* Room for one more stored call: 0, or -1 (out of room: not stored). */
static int grow(region *r)
{
    if (r->stored < r->cap)
        return 0;
    if (r->cap == MAX_STORED)
        return -1;
    size_t cap = r->cap ? 2 * r->cap : 16;
    for (int m = 0; m < NM; m++) {
        if (!in_use(m))
            continue;
        double *v = realloc(r->val[m], cap * sizeof *v);
        if (!v)
            return -1;
        r->val[m] = v;
    }
    r->cap = cap;
    return 0;
}

static void end_slow(const char *name)
{
    unsigned aux;
    double now[NM] = {0}; /* the metrics not in use stay 0 */
    now[M_TSC] = (double)__rdtscp(&aux);
    if (!name_ok(name, "end"))
        return;
    thread_state *t = self;
    if (t && t->overflow) {
        t->overflow--;
        return;
    }
    if (!t || t->depth == 0) {
        add_error("thread %d: end '%s' without its begin", t ? t->index : nthreads, name);
        return;
    }
    open_call *c = &t->stack[t->depth - 1];
    if (strcmp(c->r->name, name) != 0) {
        add_error("thread %d: end '%s' while '%s' is the innermost region open", t->index, name,
                  c->r->name);
        return;
    }
    read_counters(t, now);
    now[M_SIME] = (double)sim_dump();
    t->depth--;
    region *r = c->r;
    double v[NM];
    for (int m = M_TSC; m < M_SIMB; m++)
        v[m] = now[m] - c->start[m];
    v[M_SIMB] = c->start[M_SIMB];
    v[M_SIME] = now[M_SIME];
    r->calls++;
    for (int m = 0; m < M_SIMB; m++)
        r->sum[m] += v[m];
    if (grow(r) == 0) {
        for (int m = 0; m < NM; m++)
            if (in_use(m))
                r->val[m][r->stored] = v[m];
        r->stored++;
    }
}

void qkperf_marker_begin(const char *name)
{
    if (active())
        begin_slow(name);
}

void qkperf_marker_end(const char *name)
{
    if (active())
        end_slow(name);
}

/* ---- the results file ------------------------------------------------- */

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void put_values(FILE *f, const char *name, const double *v, uint64_t n, int *first)
{
    fprintf(f, "%s", *first ? "" : ",");
    *first = 0;
    put_string(f, name);
    fputs(":[", f);
    for (uint64_t i = 0; i < n; i++) {
        if (v[i] != v[i])
            fprintf(f, "%snull", i ? "," : "");
        else
            fprintf(f, "%s%.17g", i ? "," : "", v[i]);
    }
    fputc(']', f);
}

static void put_region(FILE *f, const region *r)
{
    fputs("{\"name\":", f);
    put_string(f, r->name);
    fprintf(f, ",\"calls\":%llu,\"stored\":%zu,\"sums\":{\"tsc\":%.17g",
            (unsigned long long)r->calls, r->stored, r->sum[M_TSC]);
    for (int i = 0; use_sw && i < NSW; i++)
        fprintf(f, ",\"%s\":%.17g", sw_names[i], r->sum[M_SW0 + i]);
    fputs("},\"values\":{", f);
    int first = 1;
    put_values(f, "tsc", r->val[M_TSC], r->stored, &first);
    for (int i = 0; use_sw && i < NSW; i++)
        put_values(f, sw_names[i], r->val[M_SW0 + i], r->stored, &first);
    for (int i = 0; i < nhw; i++)
        put_values(f, hw_name[i], r->val[M_HW0 + i], r->stored, &first);
    if (use_sim) {
        put_values(f, "sim-begin", r->val[M_SIMB], r->stored, &first);
        put_values(f, "sim-end", r->val[M_SIME], r->stored, &first);
    }
    fputs("}}", f);
}

static void put_thread(FILE *f, const thread_state *t)
{
    fprintf(f, "{\"index\":%d,\"tid\":%ld,\"sw\":%s,\"hw\":%s,\"regions\":[", t->index, t->tid,
            t->sw_fd >= 0 ? "true" : "false", t->hw_fd >= 0 ? "true" : "false");
    for (size_t i = 0; i < t->nregions; i++) {
        fputs(i ? "," : "", f);
        put_region(f, &t->regions[i]);
    }
    fputs("]}", f);
}

static void write_results(void)
{
    int expected = 2;
    if (!__atomic_compare_exchange_n(&state, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&lock);
    for (thread_state *t = threads; t; t = t->next)
        for (int d = 0; d < t->depth && nerrors < MAX_ERRORS; d++)
            snprintf(errors[nerrors++], sizeof errors[0], "thread %d: region '%s' never ended",
                     t->index, t->stack[d].r->name);
    for (int i = 0; i < nerrors; i++)
        if (strstr(errors[i], "never ended"))
            fprintf(stderr, "qkperf marker: %s\n", errors[i]);
    char tmp[sizeof out_path + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "qkperf marker: cannot write %s: %s\n", tmp, strerror(errno));
        pthread_mutex_unlock(&lock);
        return;
    }
    fprintf(f, "{\"qkperf_marker\":1,\"pid\":%ld,\"sim\":%s,\"hw_why\":", (long)getpid(),
            use_sim ? "true" : "false");
    put_string(f, hw_why);
    fputs(",\"errors\":[", f);
    for (int i = 0; i < nerrors; i++) {
        fputs(i ? "," : "", f);
        put_string(f, errors[i]);
    }
    fputs("],\"threads\":[", f);
    /* the list is newest first: write in index order */
    for (int idx = 0; idx < nthreads; idx++)
        for (thread_state *t = threads; t; t = t->next)
            if (t->index == idx) {
                fputs(idx ? "," : "", f);
                put_thread(f, t);
            }
    fputs("]}\n", f);
    int bad = ferror(f) | (fflush(f) != 0) | (fsync(fileno(f)) != 0);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, out_path) != 0) {
        fprintf(stderr, "qkperf marker: cannot write %s: %s\n", out_path, strerror(errno));
        unlink(tmp);
    }
    pthread_mutex_unlock(&lock);
}

void qkperf_marker_close(void)
{
    if (active())
        write_results();
}
