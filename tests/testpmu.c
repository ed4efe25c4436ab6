/*
 * testpmu.c — libtestpmu.so, a stand-in for the kernel's perf_event
 * hardware counters, for machines without a PMU (this project's VMs).
 * Built by `make check`, never installed, never linked into qkperf: a test
 * runs a program with LD_PRELOAD=tests/.libs/libtestpmu.so and
 * QKPERF_TESTPMU=zen4|zen3|icl|skl. Without QKPERF_TESTPMU it does nothing.
 *
 * The model, in short (docs/testpmu.md has the tables):
 *  - Identity: the process sees the model's CPU through CPUID (faulting,
 *    testpmu_cpu.c), so libpfm4 detects and encodes for that PMU while the
 *    perf:: generic and software names keep working.
 *  - perf_event_open of PERF_TYPE_RAW, _HARDWARE, _HW_CACHE is answered
 *    here; everything else (software events, tracepoints) goes to the real
 *    kernel untouched. A software event may join a test-PMU group (it is a
 *    real kernel event then, counted while its group is on the PMU); a
 *    hardware event in a group led by a real software event is refused
 *    with EINVAL (the kernel would move the group; the stand-in does not).
 *  - Refusals as the kernel's, in its order (testpmu_open.c): E2BIG for a
 *    bad attr size, EINVAL for reserved bits, EACCES for kernel counting
 *    at perf_event_paranoid >= 2 (and CPU-wide at >= 1, everything at >= 3),
 *    EINVAL for a config libpfm4 would not produce for the PMU, ENOENT for
 *    a generic event the PMU has none for, EINVAL for a group that cannot
 *    go on the counters even alone (x86 validate_group). The caller is
 *    treated as unprivileged even as root. QKPERF_TESTPMU_FAIL makes every
 *    hardware open fail as a machine would: nopmu (ENOENT), eacces,
 *    einval, or notcounted (opens, never scheduled: time_running 0).
 *  - Counters: Zen 3/4 six general (event 0x003 needs an even/odd pair);
 *    Ice Lake eight general and four fixed, Skylake eight and three, half
 *    the general ones with QKPERF_TESTPMU_SMT=1; the kernel's per-event
 *    counter constraints. Groups beyond the counters multiplex: rotation
 *    every QKPERF_TESTPMU_MUX_MS (4) ms or QKPERF_TESTPMU_MUX_US µs,
 *    time_running < time_enabled. QKPERF_TESTPMU_HOG=N puts N one-counter
 *    groups of another tool (perf stat -p) in every thread's context, so
 *    that a program's own groups have to share the counters.
 *  - Counts: rate x TSC ticks while on a counter, wall-clock TSC (not the
 *    thread's CPU time), rates per event documented and overridable with
 *    QKPERF_TESTPMU_RATES=EVENT=RATE,...; times in ns from the TSC.
 *  - The fd is a memfd of one page: close, dup, fcntl, fstat work; read,
 *    ioctl (ENABLE, DISABLE, RESET, ID; the rest as the kernel refuses them
 *    for a counting event), mmap of the one page and close are emulated.
 *    The page is a struct perf_event_mmap_page kept up to date with the
 *    seqlock; cap_user_time always, cap_user_rdpmc with
 *    QKPERF_TESTPMU_RDPMC=1, and then the rdpmc instruction is answered.
 * Not modeled (EOPNOTSUPP): sampling, inherit, enable_on_exec, exclusive,
 * precise_ip, sigtrap; ring buffers (mmap of more than one page: EINVAL);
 * PERF_FLAG_FD_NO_GROUP/FD_OUTPUT/PID_CGROUP (EINVAL). The library stays
 * inert under valgrind, which cannot run CPUID faulting.
 *
 * The fast path matters: read, close, ioctl and mmap of every other fd
 * cost one table lookup, with no lock and no allocation.
 */
#undef _FORTIFY_SOURCE /* read() is defined here, not wrapped */
#include "testpmu.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

tp_config tp_cfg;
pthread_mutex_t tp_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the real functions ------------------------------------------------------ */

static ssize_t (*tp_next_read)(int, void *, size_t);
static int (*tp_next_ioctl)(int, unsigned long, ...);
static int (*tp_next_close)(int);
static void *(*tp_next_mmap)(void *, size_t, int, int, int, off_t);
static int (*tp_next_sigaction)(int, const struct sigaction *, struct sigaction *);
static sighandler_t (*tp_next_signal)(int, sighandler_t);

long tp_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ __volatile__("syscall"
                         : "=a"(ret)
                         : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
    return ret;
}

/* Resolved on first use too: another library's constructor may call in
 * before ours has run. */
static void tp_resolve(void)
{
    if (tp_next_read)
        return;
    tp_next_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    tp_next_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    tp_next_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    tp_next_sigaction =
        (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    tp_next_signal = (sighandler_t(*)(int, sighandler_t))dlsym(RTLD_NEXT, "signal");
    tp_next_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
}

ssize_t tp_real_read(int fd, void *buf, size_t n)
{
    tp_resolve();
    return tp_next_read(fd, buf, n);
}

int tp_real_ioctl(int fd, unsigned long request, unsigned long arg)
{
    tp_resolve();
    return tp_next_ioctl(fd, request, arg);
}

int tp_real_close(int fd)
{
    tp_resolve();
    return tp_next_close(fd);
}

void *tp_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    tp_resolve();
    return tp_next_mmap(addr, len, prot, flags, fd, off);
}

int tp_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    tp_resolve();
    return tp_next_sigaction(sig, act, old);
}

void tp_die(const char *fmt, ...)
{
    va_list ap;
    fputs("testpmu: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* ---- the fd table ------------------------------------------------------------- */

static unsigned short tp_fd_map[TP_MAX_FD]; /* event + 1; 0: not ours */

static int tp_maybe_ours(int fd)
{
    return fd >= 0 && fd < TP_MAX_FD && __atomic_load_n(&tp_fd_map[fd], __ATOMIC_RELAXED) != 0;
}

void tp_fd_set(int fd, int event)
{
    __atomic_store_n(&tp_fd_map[fd], (unsigned short)(event + 1), __ATOMIC_RELAXED);
}

void tp_fd_clear(int fd)
{
    __atomic_store_n(&tp_fd_map[fd], 0, __ATOMIC_RELAXED);
}

void tp_release(int e)
{
    tp_event *ev = &tp_events[e];
    tp_sched_remove(e);
    if (ev->page)
        munmap(ev->page, (size_t)sysconf(_SC_PAGESIZE));
    if (ev->fd >= 0)
        tp_fd_clear(ev->fd);
    tp_event_free(e);
}

/* Under tp_lock. An fd number can be taken over behind our back (dup2 over
 * it, close_range): then the file is not the one we made, and the event is
 * forgotten. */
int tp_fd_event(int fd)
{
    struct stat st;
    if (!tp_maybe_ours(fd))
        return -1;
    int e = tp_fd_map[fd] - 1;
    if (fstat(fd, &st) == 0 && st.st_dev == tp_events[e].dev && st.st_ino == tp_events[e].ino)
        return e;
    tp_fd_clear(fd);
    tp_events[e].fd = -1; /* not ours to close any more */
    tp_release(e);
    return -1;
}

/* ---- interposed: syscall(SYS_perf_event_open, ...) ------------------------------- */

long syscall(long nr, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    long r = nr == SYS_perf_event_open && tp_cfg.model
                 ? tp_perf_event_open((struct perf_event_attr *)a[0], (pid_t)a[1], (int)a[2],
                                      (int)a[3], (unsigned long)a[4])
                 : tp_raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

/* ---- interposed: read, ioctl, mmap, close ------------------------------------------ */

ssize_t read(int fd, void *buf, size_t n)
{
    if (tp_maybe_ours(fd)) {
        pthread_mutex_lock(&tp_lock);
        int e = tp_fd_event(fd);
        ssize_t r = e >= 0 ? tp_event_read(e, buf, n) : 0;
        pthread_mutex_unlock(&tp_lock);
        if (e >= 0) {
            if (r < 0)
                errno = (int)-r;
            return r < 0 ? -1 : r;
        }
    }
    return tp_real_read(fd, buf, n);
}

/* glibc's fortified read, which _FORTIFY_SOURCE builds call instead. */
// NOLINTNEXTLINE(bugprone-reserved-identifier)
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
// NOLINTNEXTLINE(bugprone-reserved-identifier)
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen)
        abort(); /* what glibc's __chk_fail does, minus the message */
    return read(fd, buf, n);
}

/* Requests a counting event refuses with EINVAL in the kernel (sampling,
 * filters, BPF, ring-buffer control); anything unknown is ENOTTY. */
static const unsigned long tp_einval_requests[] = {
    PERF_EVENT_IOC_REFRESH,           PERF_EVENT_IOC_PERIOD,       PERF_EVENT_IOC_SET_FILTER,
    PERF_EVENT_IOC_SET_BPF,           PERF_EVENT_IOC_PAUSE_OUTPUT, PERF_EVENT_IOC_QUERY_BPF,
    PERF_EVENT_IOC_MODIFY_ATTRIBUTES,
};

static int tp_ioctl_event(int e, unsigned long request, unsigned long arg)
{
    int group = (arg & PERF_IOC_FLAG_GROUP) != 0;
    switch (request) {
    case PERF_EVENT_IOC_ENABLE:
        return tp_event_ioctl(e, TP_ENABLE, group), 0;
    case PERF_EVENT_IOC_DISABLE:
        return tp_event_ioctl(e, TP_DISABLE, group), 0;
    case PERF_EVENT_IOC_RESET:
        return tp_event_ioctl(e, TP_RESET, group), 0;
    case PERF_EVENT_IOC_ID:
        if (arg == 0)
            return -EFAULT;
        memcpy((void *)arg, &tp_events[e].id, sizeof tp_events[e].id);
        return 0;
    case PERF_EVENT_IOC_SET_OUTPUT:
        return (int)arg == -1 ? 0 : -EINVAL;
    }
    if (tp_events[e].kind == TP_SW)
        return tp_real_ioctl(tp_events[e].fd, request, arg) == 0 ? 0 : -errno;
    for (size_t i = 0; i < sizeof tp_einval_requests / sizeof tp_einval_requests[0]; i++)
        if (request == tp_einval_requests[i])
            return -EINVAL;
    return -ENOTTY;
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    if (tp_maybe_ours(fd)) {
        pthread_mutex_lock(&tp_lock);
        int e = tp_fd_event(fd);
        int r = e >= 0 ? tp_ioctl_event(e, request, arg) : 0;
        pthread_mutex_unlock(&tp_lock);
        if (e >= 0) {
            if (r < 0)
                errno = -r;
            return r < 0 ? -1 : r;
        }
    }
    return tp_real_ioctl(fd, request, arg);
}

/* The user page only: one page, shared, offset 0 (the kernel's perf_mmap
 * would also make a ring buffer of 1 + 2^n pages; not modeled). */
static void *tp_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (tp_maybe_ours(fd)) {
        pthread_mutex_lock(&tp_lock);
        int e = tp_fd_event(fd);
        int hw = e >= 0 && tp_events[e].kind == TP_HW;
        int ok = len == (size_t)sysconf(_SC_PAGESIZE) && off == 0 && (flags & MAP_SHARED);
        if (hw && ok) {
            tp_ctx_advance(tp_events[e].ctx, tp_tsc());
            tp_page_update(e);
        }
        pthread_mutex_unlock(&tp_lock);
        if (hw && !ok) {
            errno = EINVAL;
            return MAP_FAILED;
        }
    }
    return tp_real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return tp_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    return tp_mmap(addr, len, prot, flags, fd, (off_t)off);
}

int close(int fd)
{
    if (tp_maybe_ours(fd)) {
        pthread_mutex_lock(&tp_lock);
        int e = tp_fd_event(fd);
        if (e >= 0)
            tp_release(e);
        pthread_mutex_unlock(&tp_lock);
    }
    return tp_real_close(fd);
}

/* ---- interposed: SIGSEGV stays ours, the application's handler behind it --------- */

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig == SIGSEGV && tp_cpu_app_sigaction(act, old) == 0)
        return 0;
    return tp_real_sigaction(sig, act, old);
}

sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    if (sig == SIGSEGV && tp_cpu_app_sigaction(&act, &old) == 0)
        return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction
                                           : old.sa_handler;
    tp_resolve();
    return tp_next_signal(sig, handler);
}

/* ---- the environment ------------------------------------------------------------------ */

static int tp_env_int(const char *name, int lo, int hi, int dfl)
{
    const char *s = getenv(name);
    char *end = NULL;
    if (s == NULL || *s == '\0')
        return dfl;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        tp_die("%s=%s: expected an integer from %d to %d", name, s, lo, hi);
    return (int)v;
}

static const struct {
    const char *name;
    tp_fail fail;
} tp_fail_names[] = {
    {"nopmu", TP_FAIL_NOPMU},
    {"eacces", TP_FAIL_EACCES},
    {"einval", TP_FAIL_EINVAL},
    {"notcounted", TP_FAIL_NOTCOUNTED},
};

static tp_fail tp_env_fail(void)
{
    const char *s = getenv("QKPERF_TESTPMU_FAIL");
    if (s == NULL || *s == '\0')
        return TP_FAIL_NONE;
    for (size_t i = 0; i < sizeof tp_fail_names / sizeof tp_fail_names[0]; i++)
        if (strcmp(s, tp_fail_names[i].name) == 0)
            return tp_fail_names[i].fail;
    tp_die("QKPERF_TESTPMU_FAIL=%s: expected nopmu, eacces, einval or notcounted", s);
}

/* The machine's perf_event_paranoid; 2 (the usual default) if unreadable. */
static int tp_sys_paranoid(void)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    int v = 2;
    if (f == NULL)
        return v;
    if (fscanf(f, "%d", &v) != 1)
        v = 2;
    fclose(f);
    return v;
}

static void tp_atfork_lock(void)
{
    pthread_mutex_lock(&tp_lock);
}

static void tp_atfork_unlock(void)
{
    pthread_mutex_unlock(&tp_lock);
}

/* Valgrind preloads its own core; it cannot run CPUID faulting. */
static int tp_under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, "vgpreload") != NULL;
}

static char tp_cpu_msg[256];

const char *tp_cpu_error(void)
{
    return tp_cpu_msg;
}

__attribute__((constructor)) static void tp_init(void)
{
    tp_resolve();
    const char *pmu = getenv("QKPERF_TESTPMU");
    if (pmu == NULL || *pmu == '\0' || tp_under_valgrind())
        return;
    const tp_model *m = tp_model_find(pmu);
    if (m == NULL)
        tp_die("QKPERF_TESTPMU=%s: unknown PMU (expected %s)", pmu, tp_model_names());
    tp_cfg.fail = tp_env_fail();
    tp_cfg.paranoid = tp_env_int("QKPERF_TESTPMU_PARANOID", -1, 4, tp_sys_paranoid());
    tp_cfg.rdpmc = tp_env_int("QKPERF_TESTPMU_RDPMC", 0, 1, 0);
    tp_cfg.smt = tp_env_int("QKPERF_TESTPMU_SMT", 0, 1, 0);
    tp_cfg.mux_us = 1000u * (unsigned)tp_env_int("QKPERF_TESTPMU_MUX_MS", 1, 1000, 4);
    tp_cfg.mux_us = (unsigned)tp_env_int("QKPERF_TESTPMU_MUX_US", 10, 1000000, (int)tp_cfg.mux_us);
    tp_cfg.hog = tp_env_int("QKPERF_TESTPMU_HOG", 0, 8, 0);
    const char *rates = getenv("QKPERF_TESTPMU_RATES");
    tp_cfg.rates = rates && *rates ? strdup(rates) : NULL;
    tp_cfg.model = m;
    pthread_atfork(tp_atfork_lock, tp_atfork_unlock, tp_atfork_unlock);
    if (tp_cpu_init(tp_cpu_msg, sizeof tp_cpu_msg) != 0)
        tp_cfg.cpuid_error = 1;
}
