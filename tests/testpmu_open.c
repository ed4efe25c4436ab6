/*
 * testpmu_open.c — perf_event_open as the kernel answers it for a hardware
 * event, in the kernel's order (kernel/events/core.c perf_event_open,
 * perf_copy_attr, perf_event_alloc; arch/x86/events/core.c event_init and
 * validate_group): the attr copy (E2BIG, EINVAL for reserved bits), the
 * flags, the permission checks of perf_event_paranoid (EACCES), the group
 * fd (EBADF), the target (ESRCH, EINVAL), the PMU's event init (ENOENT,
 * EINVAL, EOPNOTSUPP), the group rules and whether the group fits on the
 * counters at all (EINVAL). Software events reach here only to join a
 * test-PMU group; the others never leave syscall() in testpmu.c.
 */
#include "testpmu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t tp_next_id = TP_ID_BASE;

/* 0: not yet; 1: ready; -1: the stand-in cannot work (message printed). */
static int tp_ready;

static int tp_is_hw(uint32_t type)
{
    return type == PERF_TYPE_HARDWARE || type == PERF_TYPE_HW_CACHE || type == PERF_TYPE_RAW;
}

/* ---- the attr ---------------------------------------------------------------- */

/* perf_copy_attr: size 0 is the first ABI; a larger struct than ours must
 * be zero beyond what we know. On E2BIG the kernel writes its size back. */
static int tp_copy_attr(struct perf_event_attr *uattr, struct perf_event_attr *attr)
{
    uint32_t size = uattr->size ? uattr->size : PERF_ATTR_SIZE_VER0;
    if (size < PERF_ATTR_SIZE_VER0 || size > (uint32_t)sysconf(_SC_PAGESIZE))
        goto too_big;
    for (uint32_t i = sizeof *attr; i < size; i++)
        if (((const unsigned char *)uattr)[i] != 0)
            goto too_big;
    memset(attr, 0, sizeof *attr);
    memcpy(attr, uattr, size < sizeof *attr ? size : sizeof *attr);
    attr->size = sizeof *attr;
    return 0;
too_big:
    uattr->size = sizeof *attr;
    return -E2BIG;
}

static int tp_check_reserved(const struct perf_event_attr *a)
{
    if (a->__reserved_1 || a->__reserved_2 || a->__reserved_3)
        return -EINVAL;
    if (a->sample_type & ~(uint64_t)(PERF_SAMPLE_MAX - 1))
        return -EINVAL;
    if (a->read_format & ~(uint64_t)(PERF_FORMAT_MAX - 1))
        return -EINVAL;
    return 0;
}

/* perf_event_paranoid as an unprivileged caller meets it: 2 forbids
 * kernel counting, 1 CPU-wide events, 3 (Debian's patch) everything. */
static int tp_check_paranoid(const struct perf_event_attr *a, pid_t pid)
{
    if (tp_cfg.paranoid > 2)
        return -EACCES;
    if (!a->exclude_kernel && tp_cfg.paranoid > 1)
        return -EACCES;
    if (pid == -1 && tp_cfg.paranoid > 0)
        return -EACCES;
    return 0;
}

/* Settings the model does not implement: refused rather than ignored. */
static int tp_check_modeled(const struct perf_event_attr *a)
{
    if (a->sample_period || a->freq || a->inherit || a->enable_on_exec || a->exclusive ||
        a->precise_ip || a->sigtrap || a->aux_output || a->remove_on_exec)
        return -EOPNOTSUPP;
    return 0;
}

/* ---- the target ------------------------------------------------------------------ */

/* The thread (or -1 for a CPU context) and the context; -errno. */
static int tp_target(pid_t pid, int cpu, pid_t *tid)
{
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    if (cpu < -1 || cpu >= ncpu || (pid == -1 && cpu == -1))
        return -EINVAL;
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
        return -ESRCH;
    *tid = pid == 0 ? (pid_t)tp_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0) : pid;
    return 0;
}

/* A group fd that is not ours: a real perf event (EINVAL: the stand-in
 * does not move a software group to the PMU) or no perf event (EBADF). */
static int tp_foreign_group(int group_fd)
{
    char link[64], path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", group_fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0)
        return -EBADF;
    link[n] = '\0';
    return strcmp(link, "anon_inode:[perf_event]") == 0 ? -EINVAL : -EBADF;
}

/* The kernel's group rules for an event joining leader gl. */
static int tp_check_group(int gl, int ctx, int cpu, const struct perf_event_attr *a)
{
    const tp_event *l = &tp_events[gl];
    if (l->leader != gl || l->ctx != ctx || l->cpu != cpu)
        return -EINVAL;
    if (a->pinned || a->exclusive)
        return -EINVAL; /* only a leader can be pinned */
    if (tp_is_hw(a->type) && l->kind != TP_HW)
        return -EINVAL;
    if (l->nmembers >= TP_MAX_GROUP)
        return -E2BIG;
    return 0;
}

/* ---- the first hardware open ------------------------------------------------------ */

static int tp_prepare(void)
{
    char msg[320];
    if (tp_ready)
        return tp_ready;
    tp_ready = -1;
    if (tp_cfg.cpuid_error) {
        fprintf(stderr, "testpmu: %s; hardware events fail with ENOENT\n", tp_cpu_error());
        return tp_ready;
    }
    if (tp_model_init(tp_cfg.model, msg, sizeof msg) != 0) {
        fprintf(stderr, "testpmu: %s; hardware events fail with ENOENT\n", msg);
        return tp_ready;
    }
    if (tp_cfg.rates && tp_model_rates(tp_cfg.model, tp_cfg.rates, msg, sizeof msg) != 0)
        tp_die("%s", msg);
    tp_clock_init();
    tp_cfg.mux_ticks = (uint64_t)tp_cfg.mux_us * tp_clock_ticks_per_ms() / 1000;
    return tp_ready = 1;
}

static const int tp_fail_errno[] = {
    [TP_FAIL_NOPMU] = ENOENT,
    [TP_FAIL_EACCES] = EACCES,
    [TP_FAIL_EINVAL] = EINVAL,
};

/* The PMU's event_init: the failure modes, then the encoding. */
static int tp_event_init(const struct perf_event_attr *a, tp_hwevent *hw)
{
    char why[256];
    if (tp_cfg.fail != TP_FAIL_NONE && tp_cfg.fail != TP_FAIL_NOTCOUNTED)
        return -tp_fail_errno[tp_cfg.fail];
    if (tp_prepare() < 0)
        return -ENOENT;
    int rc = tp_check_modeled(a);
    return rc ? rc : tp_model_decode(tp_cfg.model, a, hw, why, sizeof why);
}

/* ---- the file ------------------------------------------------------------------------ */

/* A memfd of one page: the fd, and our writable view of its page. */
static int tp_hw_file(int cloexec, tp_event *e)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct stat st;
    int fd = (int)tp_raw_syscall(SYS_memfd_create, (long)"[perf_event]", cloexec ? MFD_CLOEXEC : 0,
                                 0, 0, 0, 0);
    if (fd < 0)
        return fd;
    if (fd >= TP_MAX_FD || ftruncate(fd, (off_t)page) != 0 || fstat(fd, &st) != 0)
        goto fail;
    e->page = tp_real_mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (e->page == MAP_FAILED) {
        e->page = NULL;
        goto fail;
    }
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    return fd;
fail:
    tp_real_close(fd);
    return fd >= TP_MAX_FD ? -EMFILE : -ENOMEM;
}

/* A software member is a real kernel event of its own, disabled until its
 * group is, read by us without the group format. */
static int tp_sw_file(const struct perf_event_attr *a, pid_t pid, int cpu, unsigned long flags,
                      tp_event *e)
{
    struct perf_event_attr real = *a;
    struct stat st;
    real.disabled = 1;
    real.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    long fd = tp_raw_syscall(SYS_perf_event_open, (long)&real, pid, cpu, -1,
                             (long)(flags & PERF_FLAG_FD_CLOEXEC), 0);
    if (fd < 0)
        return (int)fd;
    if (fd >= TP_MAX_FD || fstat((int)fd, &st) != 0) {
        tp_real_close((int)fd);
        return -EMFILE;
    }
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    return (int)fd;
}

/* ---- perf_event_open ------------------------------------------------------------------- */

/* The event itself, once every check has passed: the fd or -errno. */
static long tp_new_event(const struct perf_event_attr *a, const tp_hwevent *hw, pid_t pid, int cpu,
                         int ctx, int gl, unsigned long flags)
{
    int rc, is_hw = tp_is_hw(a->type);
    if (gl >= 0 && (rc = tp_check_group(gl, ctx, cpu, a)))
        return rc;
    int e = tp_event_alloc();
    if (e < 0)
        return -ENOMEM;
    tp_event *ev = &tp_events[e];
    ev->kind = is_hw ? TP_HW : TP_SW;
    if (is_hw)
        ev->hw = *hw;
    ev->ctx = ctx;
    ev->cpu = cpu;
    ev->leader = gl >= 0 ? gl : e;
    if (is_hw && gl >= 0 && !tp_sched_group_fits(gl, e)) {
        tp_event_free(e);
        return -EINVAL; /* x86 validate_group: cannot go on even alone */
    }
    int fd =
        is_hw ? tp_hw_file(flags & PERF_FLAG_FD_CLOEXEC, ev) : tp_sw_file(a, pid, cpu, flags, ev);
    if (fd < 0) {
        tp_event_free(e);
        return fd;
    }
    ev->fd = fd;
    ev->id = tp_next_id++;
    ev->read_format = a->read_format;
    ev->enabled = !a->disabled;
    ev->pinned = a->pinned;
    tp_ctx_advance(ctx, tp_tsc());
    tp_fd_set(fd, e);
    tp_sched_add(e);
    return fd;
}

static long tp_open_locked(struct perf_event_attr *uattr, pid_t pid, int cpu, int group_fd,
                           unsigned long flags)
{
    struct perf_event_attr a;
    tp_hwevent hw = {.raw = 0};
    pid_t tid;
    int gl = group_fd >= 0 ? tp_fd_event(group_fd) : -1, rc;
    if ((rc = tp_copy_attr(uattr, &a)) || (rc = tp_check_reserved(&a)))
        return rc;
    if (flags & ~(unsigned long)PERF_FLAG_FD_CLOEXEC)
        return -EINVAL; /* FD_NO_GROUP, FD_OUTPUT, PID_CGROUP: not modeled */
    int is_hw = tp_is_hw(a.type);
    if (is_hw && (rc = tp_check_paranoid(&a, pid)))
        return rc;
    if (group_fd >= 0 && gl < 0)
        return tp_foreign_group(group_fd);
    if ((rc = tp_target(pid, cpu, &tid)))
        return rc;
    if (is_hw && (rc = tp_event_init(&a, &hw)))
        return rc;
    int ctx = tp_ctx_get(pid == -1 ? -1 : tid, cpu);
    if (ctx < 0)
        return -ENOMEM;
    long fd = tp_new_event(&a, &hw, pid, cpu, ctx, gl, flags);
    tp_ctx_put(ctx);
    return fd;
}

long tp_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                        unsigned long flags)
{
    if (attr == NULL)
        return -EFAULT;
    pthread_mutex_lock(&tp_lock);
    /* A software event stays the kernel's unless it joins one of our groups. */
    int ours = tp_is_hw(attr->type) || (group_fd >= 0 && tp_fd_event(group_fd) >= 0);
    long rc = ours ? tp_open_locked(attr, pid, cpu, group_fd, flags) : 0;
    pthread_mutex_unlock(&tp_lock);
    if (!ours)
        return tp_raw_syscall(SYS_perf_event_open, (long)attr, pid, cpu, group_fd, (long)flags, 0);
    return rc;
}
