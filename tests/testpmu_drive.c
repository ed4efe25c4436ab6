/*
 * testpmu_drive.c — a program for tests/test_testpmu.c to run under the
 * test PMU (LD_PRELOAD must be in the environment before exec, so the
 * suite cannot drive the library in its own process). It opens perf_event
 * groups the way qkperf does, spins a given number of TSC ticks and prints
 * what the "kernel" answered, one fact per line, for the suite to parse:
 *
 *   testpmu_drive ident                  libpfm's host PMU and counters
 *   testpmu_drive group [opts] EVENT...  one group, leader first
 *   testpmu_drive mux [opts] EVENT...    each event its own group
 *   testpmu_drive qkperf [opts] EVENT... through qkperf_pgroup_* (perf.c)
 *   testpmu_drive gemv --threads N [--calls C] EVENT...
 *                                        qk256_gemv on N threads (its pool)
 *                                        under the hw and sw meters (meter.c)
 *
 * EVENT is a libpfm name, or raw=CONFIG, hw=N, cache=CONFIG, sw=N for a
 * PERF_TYPE_RAW, _HARDWARE, _HW_CACHE or _SOFTWARE config. Options:
 * --spin TICKS (default 20000000), --kernel (exclude_kernel=0), --reset
 * (read, RESET, read again), --cpu N, --hog N (qkperf: first open and
 * enable N cycle events as groups of their own, so that qkperf's group
 * has to share the counters), --format F (group: this read_format, and
 * every fd's record printed as words), --close-leader (group: then read
 * the second event, now a group of its own). Exit status 0 unless the
 * command line is wrong; failed opens are output, not errors.
 */
#include "meter.h"
#include "perf.h"
#include "pfm.h"
#include "tsc.h"

#include <qk256.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#define MAX_EV 16

typedef struct opts {
    uint64_t spin;
    int kernel, reset, cpu, hog, close_leader, threads, calls;
    long format; /* -1: qkperf's */
    const char *ev[MAX_EV];
    int n;
} opts;

static const struct {
    int err;
    const char *name;
} errnames[] = {{ENOENT, "ENOENT"}, {EACCES, "EACCES"}, {EINVAL, "EINVAL"},
                {E2BIG, "E2BIG"},   {EBADF, "EBADF"},   {EOPNOTSUPP, "EOPNOTSUPP"},
                {EPERM, "EPERM"},   {ENOSPC, "ENOSPC"}};

static const char *errname(int err)
{
    for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
        if (errnames[i].err == err)
            return errnames[i].name;
    return "E?";
}

static uint64_t spin(uint64_t ticks)
{
    uint64_t t0 = __rdtsc(), t;
    while ((t = __rdtsc()) - t0 < ticks)
        continue;
    return t - t0;
}

/* "raw=0x..", "hw=N", "cache=0x..", "sw=N" or a libpfm name, as qkperf
 * encodes it (user level only). */
static int encode(const char *ev, struct perf_event_attr *a)
{
    static const struct {
        const char *prefix;
        __u32 type;
    } kinds[] = {{"raw=", PERF_TYPE_RAW},
                 {"hw=", PERF_TYPE_HARDWARE},
                 {"cache=", PERF_TYPE_HW_CACHE},
                 {"sw=", PERF_TYPE_SOFTWARE}};
    char msg[192];
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t len = strlen(kinds[i].prefix);
        if (strncmp(ev, kinds[i].prefix, len) != 0)
            continue;
        memset(a, 0, sizeof *a);
        a->size = sizeof *a;
        a->type = kinds[i].type;
        a->config = strtoull(ev + len, NULL, 0);
        a->exclude_kernel = 1;
        a->exclude_hv = 1;
        return 0;
    }
    if (qkperf_pfm_encode(ev, a, msg, sizeof msg) != QKPERF_PFM_OK) {
        printf("encode %s failed: %s\n", ev, msg);
        return -1;
    }
    return 0;
}

static int open_event(const opts *o, const char *ev, int leader, int group_fd)
{
    struct perf_event_attr a;
    if (encode(ev, &a) != 0)
        return -1;
    a.read_format = o->format >= 0 ? (uint64_t)o->format
                                   : PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
                                         PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID;
    a.disabled = leader;
    if (o->kernel)
        a.exclude_kernel = 0;
    errno = 0;
    return (int)syscall(SYS_perf_event_open, &a, 0, o->cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
}

/* "kernel" for a real perf_event fd, "testpmu" for the stand-in's. */
static const char *fd_kind(int fd)
{
    char path[32], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = '\0';
    return strcmp(link, "anon_inode:[perf_event]") == 0 ? "kernel" : "testpmu";
}

/* Open each event (in one group, or each alone), print "open i ok ID" or
 * "open i err NAME". Returns how many opened. */
static int open_all(const opts *o, int grouped, int *fd, uint64_t *id)
{
    int n = 0;
    for (int i = 0; i < o->n; i++) {
        fd[i] = open_event(o, o->ev[i], !grouped || i == 0, grouped && i > 0 ? fd[0] : -1);
        if (fd[i] < 0) {
            printf("open %d err %s\n", i, errname(errno));
            continue;
        }
        ioctl(fd[i], PERF_EVENT_IOC_ID, &id[i]);
        printf("open %d ok %llu %s\n", i, (unsigned long long)id[i], fd_kind(fd[i]));
        n++;
    }
    return n;
}

/* The page as qkperf maps it: read-only, one page. */
static void print_page(int i, int fd)
{
    size_t len = (size_t)sysconf(_SC_PAGESIZE);
    struct perf_event_mmap_page *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        printf("page %d err %s\n", i, errname(errno));
        return;
    }
    printf("page %d rdpmc %u time %u index %u width %u mult %u shift %u\n", i, p->cap_user_rdpmc,
           p->cap_user_time, p->index, p->pmc_width, p->time_mult, p->time_shift);
    munmap(p, len);
}

/* One group record: "read nr N enabled E running R" and "value i V ID". */
static void print_read(int fd)
{
    uint64_t buf[3 + 2 * MAX_EV];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 24) {
        printf("read err %s\n", got < 0 ? errname(errno) : "short");
        return;
    }
    printf("read nr %llu enabled %llu running %llu\n", (unsigned long long)buf[0],
           (unsigned long long)buf[1], (unsigned long long)buf[2]);
    for (uint64_t k = 0; k < buf[0] && k < MAX_EV; k++)
        printf("value %llu %llu %llu\n", (unsigned long long)k, (unsigned long long)buf[3 + 2 * k],
               (unsigned long long)buf[4 + 2 * k]);
}

/* "words i n w..." for one fd's record in whatever read_format; and
 * "short i ERR" for a read one word too short. */
static void print_words(int i, int fd)
{
    uint64_t buf[4 + 3 * MAX_EV];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0) {
        printf("words %d err %s\n", i, errname(errno));
        return;
    }
    printf("words %d %zd", i, got / 8);
    for (ssize_t k = 0; k < got / 8; k++)
        printf(" %llu", (unsigned long long)buf[k]);
    printf("\n");
    got = got > 8 ? read(fd, buf, (size_t)got - 8) : 0;
    printf("short %d %s\n", i, got < 0 ? errname(errno) : "ok");
}

/* The ticks spun with the events enabled, and the ticks from before the
 * enable to after the disable: the events' times lie between the two. */
static void print_spin(uint64_t inner, uint64_t outer)
{
    printf("spin %llu outer %llu\n", (unsigned long long)inner, (unsigned long long)outer);
}

/* After the group's run: the records in o->format, or the member after
 * its leader is gone. */
static void after_group(const opts *o, int *fd)
{
    for (int i = 0; o->format >= 0 && i < o->n; i++)
        print_words(i, fd[i]);
    if (o->close_leader && o->n > 1) {
        close(fd[0]);
        fd[0] = -1;
        print_read(fd[1]);
    }
}

static int cmd_group(const opts *o)
{
    int fd[MAX_EV];
    uint64_t id[MAX_EV] = {0};
    if (open_all(o, 1, fd, id) != o->n || o->n == 0)
        return 0;
    ioctl(fd[0], PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
    uint64_t outer0 = __rdtsc();
    ioctl(fd[0], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
    for (int i = 0; i < o->n; i++)
        print_page(i, fd[i]);
    uint64_t t0 = __rdtsc();
    spin(o->spin);
    uint64_t t1 = __rdtsc();
    ioctl(fd[0], PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
    print_spin(t1 - t0, __rdtsc() - outer0);
    if (o->format < 0)
        print_read(fd[0]);
    if (o->reset) {
        ioctl(fd[0], PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
        print_read(fd[0]);
    }
    after_group(o, fd);
    for (int i = o->n - 1; i >= 0; i--)
        if (fd[i] >= 0)
            close(fd[i]);
    return 0;
}

/* Every event alone: enabled together, one record each ("group i ..."). */
static int cmd_mux(const opts *o)
{
    int fd[MAX_EV];
    uint64_t id[MAX_EV] = {0};
    if (open_all(o, 0, fd, id) != o->n)
        return 0;
    uint64_t outer0 = __rdtsc();
    for (int i = 0; i < o->n; i++)
        ioctl(fd[i], PERF_EVENT_IOC_ENABLE, 0);
    for (int i = 0; i < o->n; i++)
        print_page(i, fd[i]);
    uint64_t t0 = __rdtsc();
    spin(o->spin);
    uint64_t t1 = __rdtsc();
    for (int i = 0; i < o->n; i++)
        ioctl(fd[i], PERF_EVENT_IOC_DISABLE, 0);
    print_spin(t1 - t0, __rdtsc() - outer0);
    for (int i = 0; i < o->n; i++) {
        printf("group %d\n", i);
        print_read(fd[i]);
        close(fd[i]);
    }
    return 0;
}

/* --hog: groups of one cycles event each, enabled for the whole run. */
static void hog(const opts *o)
{
    static const char *const cycles = "perf::PERF_COUNT_HW_CPU_CYCLES";
    for (int i = 0; i < o->hog; i++) {
        int fd = open_event(o, cycles, 1, -1);
        if (fd < 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0)
            printf("hog %d err %s\n", i, errname(errno));
    }
}

/* qkperf's own path: "rdpmc 0|1", then "count i value raw enabled running". */
static int cmd_qkperf(const opts *o)
{
    qkperf_err err;
    qkperf_count c[MAX_EV];
    hog(o);
    qkperf_pgroup *g = qkperf_pgroup_open(o->ev, (size_t)o->n, o->cpu, &err);
    if (g == NULL) {
        printf("open err %s: %s\n", qkperf_why_text(err.why), err.msg);
        return 0;
    }
    printf("rdpmc %d\n", qkperf_pgroup_uses_rdpmc(g));
    for (int round = 0; round < 2; round++) {
        uint64_t t0 = __rdtsc();
        int rc = qkperf_pgroup_start(g);
        spin(o->spin);
        rc = rc ? rc : qkperf_pgroup_stop(g, c);
        uint64_t t1 = __rdtsc();
        print_spin(o->spin, t1 - t0);
        if (rc != 0)
            printf("stop err %s\n", errname(-rc));
        for (int i = 0; rc == 0 && i < o->n; i++)
            printf("count %d %.17g %llu %llu %llu %d\n", i, c[i].value,
                   (unsigned long long)c[i].raw, (unsigned long long)c[i].enabled,
                   (unsigned long long)c[i].running, c[i].counted);
    }
    qkperf_pgroup_close(g);
    return 0;
}

/* One meter's values: "meter SOURCE threads T" and "metric NAME V C". */
static void print_meter(qkperf_meter *m)
{
    double v[QKPERF_METER_MAX], ratio[QKPERF_METER_MAX];
    int counted[QKPERF_METER_MAX];
    int rc = qkperf_meter_stop(m, v, counted, ratio);
    printf("meter %s threads %zu available %d rc %d\n", m->source, m->threads, m->available, rc);
    for (size_t i = 0; i < m->n; i++)
        printf("metric %s %.17g %d\n", m->name[i], v[i], counted[i]);
}

/* A gemv big enough for the pool (over 2^20 multiply-adds, 32+ rows),
 * called once to start the workers, then measured by the sw meter and a
 * hw meter of the events opened after it, and by the calling thread's
 * own sw group: "ticks T" is the region's TSC ticks. */
static int cmd_gemv(const opts *o)
{
    enum { ROWS = 512, COLS = 4096 };
    size_t stride = qk256_row_bytes(COLS);
    uint8_t *w = malloc(ROWS * stride);
    float *x = malloc(COLS * sizeof *x), *y = malloc(ROWS * sizeof *y);
    for (size_t i = 0; w && i < ROWS * stride; i++)
        w[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t i = 0; x && i < COLS; i++)
        x[i] = 0.25f + (float)(i % 7);
    if (!w || !x || !y || qk256_set_threads(o->threads) != 0) {
        free(w);
        free(x);
        free(y);
        return printf("setup failed\n"), 0;
    }
    qk256_gemv(y, w, stride, NULL, x, ROWS, COLS, NULL);
    static const char *const self_ev[] = {"perf::PERF_COUNT_SW_TASK_CLOCK"};
    qkperf_err err;
    qkperf_pgroup *self = qkperf_pgroup_open(self_ev, 1, -1, &err);
    qkperf_meter sw, hw;
    qkperf_meter_open_sw(&sw, -1);
    qkperf_meter_open_hw(&hw, "gemv", o->ev, o->ev, (size_t)o->n, -1);
    printf("process threads %zu\n", qkperf_process_threads(NULL, 0));
    if (!hw.available)
        printf("hw err %s\n", hw.why);
    qkperf_meter_start(&sw);
    qkperf_meter_start(&hw);
    if (self)
        qkperf_pgroup_start(self);
    uint64_t t0 = __rdtsc();
    for (int c = 0; c < o->calls; c++)
        qk256_gemv(y, w, stride, NULL, x, ROWS, COLS, NULL);
    uint64_t t1 = __rdtsc();
    qkperf_count own;
    if (self && qkperf_pgroup_stop(self, &own) == 0)
        printf("own task-clock %.17g\n", own.value);
    print_meter(&hw);
    print_meter(&sw);
    printf("ticks %llu\n", (unsigned long long)(t1 - t0));
    qkperf_meter_close(&hw);
    qkperf_meter_close(&sw);
    qkperf_pgroup_close(self);
    free(w);
    free(x);
    free(y);
    return 0;
}

static int cmd_ident(void)
{
    char msg[192];
    unsigned a, b, c, d;
    if (qkperf_pfm_init(msg, sizeof msg) != 0) {
        printf("pfm err %s\n", msg);
        return 0;
    }
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    const char *pmu = qkperf_pfm_host_pmu();
    printf("pmu %s\n", pmu ? pmu : "none");
    printf("counters %d\n", qkperf_pfm_num_counters(NULL));
    printf("signature 0x%08x\n", a);
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: testpmu_drive ident | {group|mux|qkperf|gemv} [--spin TICKS] [--kernel] "
            "[--reset] [--cpu N] [--hog N] [--format F] [--close-leader] [--threads N] [--calls C] "
            "EVENT...\n");
    return 2;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.spin = 20000000, .cpu = -1, .format = -1, .threads = 1, .calls = 50};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--spin") == 0 && i + 1 < argc)
            o->spin = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc)
            o->cpu = atoi(argv[++i]);
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            o->format = strtol(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--close-leader") == 0)
            o->close_leader = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            o->threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
            o->calls = atoi(argv[++i]);
        else if (strcmp(argv[i], "--hog") == 0 && i + 1 < argc)
            o->hog = atoi(argv[++i]);
        else if (strcmp(argv[i], "--kernel") == 0)
            o->kernel = 1;
        else if (strcmp(argv[i], "--reset") == 0)
            o->reset = 1;
        else if (argv[i][0] == '-' || o->n == MAX_EV)
            return -1;
        else
            o->ev[o->n++] = argv[i];
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || parse(argc, argv, &o) != 0)
        return usage();
    if (strcmp(argv[1], "ident") == 0)
        return cmd_ident();
    if (strcmp(argv[1], "group") == 0)
        return cmd_group(&o);
    if (strcmp(argv[1], "mux") == 0)
        return cmd_mux(&o);
    if (strcmp(argv[1], "qkperf") == 0)
        return cmd_qkperf(&o);
    if (strcmp(argv[1], "gemv") == 0)
        return cmd_gemv(&o);
    return usage();
}
