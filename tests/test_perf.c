/*
 * test_perf.c — the hw and sw counter sources (harness/perf.c): the
 * software path end to end on this machine, the scaling arithmetic, the
 * classification of every perf_event_open failure (through the open test
 * seam), and hardware counting where a PMU exists.
 *
 * The hardware test skips with the probe's reason where there is no PMU;
 * QKPERF_REQUIRE_HW=1 turns that skip into a failure on machines that must
 * have one.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "perf.h"
#include "probe.h"

static const char *const sw_events[] = {
    "perf::PERF_COUNT_SW_TASK_CLOCK",
    "perf::PERF_COUNT_SW_PAGE_FAULTS",
    "perf::PERF_COUNT_SW_CONTEXT_SWITCHES",
    "perf::PERF_COUNT_SW_CPU_MIGRATIONS",
};
enum { SW_TASK_CLOCK, SW_PAGE_FAULTS, SW_CTX, SW_MIGRATIONS, SW_N };

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Spin for ms of this thread's CPU time. */
static void spin_cpu_ms(double ms)
{
    double end = thread_cpu_ns() + ms * 1e6;
    volatile uint64_t sink = 0;
    while (thread_cpu_ns() < end)
        for (int i = 0; i < 1000; i++)
            sink = sink + (uint64_t)i;
}

/* Write to `pages` fresh anonymous pages: one minor fault each. */
static void touch_fresh_pages(size_t pages)
{
    size_t len = pages * (size_t)sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    for (size_t off = 0; off < len; off += (size_t)sysconf(_SC_PAGESIZE))
        p[off] = 1;
    munmap(p, len);
}

/* ---- software events, end to end ------------------------------------------ */

Test(perf_sw, group_counts_a_region)
{
    qkperf_err err;
    qkperf_pgroup *g = qkperf_pgroup_open(sw_events, SW_N, -1, &err);
    cr_assert_not_null(g, "software group must open everywhere: %s", err.msg);
    cr_expect_eq(err.why, QKPERF_WHY_OK);
    cr_expect_eq(qkperf_pgroup_size(g), SW_N);
    /* Software events have no hardware counter to rdpmc. */
    cr_expect_eq(qkperf_pgroup_uses_rdpmc(g), 0);

    qkperf_count c[SW_N];
    cr_assert_eq(qkperf_pgroup_start(g), 0);
    spin_cpu_ms(20);
    touch_fresh_pages(64);
    cr_assert_eq(qkperf_pgroup_stop(g, c), 0);
    qkperf_pgroup_close(g);

    for (int i = 0; i < SW_N; i++) {
        cr_expect(c[i].counted, "%s not counted", sw_events[i]);
        cr_expect_gt(c[i].enabled, 0);
        cr_expect_gt(c[i].running, 0);
        cr_expect(c[i].ratio > 0 && c[i].ratio <= 1.0, "ratio %g", c[i].ratio);
    }
    /* task-clock is the region's CPU time in ns: at least the 20 ms spun,
     * and no more than the time the group was enabled. */
    cr_expect_geq(c[SW_TASK_CLOCK].value, 18e6, "task-clock %.0f ns", c[SW_TASK_CLOCK].value);
    cr_expect_leq(c[SW_TASK_CLOCK].value, c[SW_TASK_CLOCK].enabled * 1.01 + 1e5);
    cr_expect_geq(c[SW_PAGE_FAULTS].value, 64, "page-faults %.0f", c[SW_PAGE_FAULTS].value);
}

/* time_enabled/time_running are cumulative in the kernel; each region must
 * report its own, not the sum of all regions so far. */
Test(perf_sw, each_region_reports_its_own_times)
{
    qkperf_err err;
    qkperf_pgroup *g = qkperf_pgroup_open(sw_events, 1, -1, &err);
    cr_assert_not_null(g, "%s", err.msg);
    qkperf_count long_region, empty_region;

    cr_assert_eq(qkperf_pgroup_start(g), 0);
    spin_cpu_ms(20);
    cr_assert_eq(qkperf_pgroup_stop(g, &long_region), 0);
    cr_assert_eq(qkperf_pgroup_start(g), 0);
    cr_assert_eq(qkperf_pgroup_stop(g, &empty_region), 0);
    qkperf_pgroup_close(g);

    cr_expect_geq(long_region.enabled, 18000000u);
    cr_expect_lt(empty_region.enabled, 2000000u, "empty region enabled %lu ns",
                 (unsigned long)empty_region.enabled);
    cr_expect_lt(empty_region.value, 2e6, "empty region task-clock %.0f", empty_region.value);
}

Test(perf_sw, unknown_event_is_named)
{
    const char *ev[] = {"perf::PERF_COUNT_SW_TASK_CLOCK", "perf::QKPERF_NO_SUCH_EVENT"};
    qkperf_err err;
    cr_assert_null(qkperf_pgroup_open(ev, 2, -1, &err));
    cr_expect_eq(err.why, QKPERF_WHY_UNKNOWN_EVENT, "why %d: %s", err.why, err.msg);
    cr_expect_not_null(strstr(err.msg, "QKPERF_NO_SUCH_EVENT"), "%s", err.msg);
}

Test(perf_sw, empty_event_list_is_refused)
{
    qkperf_err err;
    cr_expect_null(qkperf_pgroup_open(NULL, 0, -1, &err));
    cr_expect_neq(err.why, QKPERF_WHY_OK);
    cr_expect_neq(err.msg[0], '\0');
}

/* ---- scaling ------------------------------------------------------------------ */

Test(perf_scale, never_running_is_not_counted)
{
    qkperf_count c = qkperf_scale(12345, 1000, 0);
    cr_expect_eq(c.counted, 0);
    cr_expect_eq(c.raw, 12345);
    cr_expect_eq(c.enabled, 1000);
    cr_expect_eq(c.running, 0);
}

Test(perf_scale, not_multiplexed_is_the_raw_count)
{
    qkperf_count c = qkperf_scale(1000003, 5000, 5000);
    cr_expect_eq(c.counted, 1);
    cr_expect_eq(c.value, 1000003.0);
    cr_expect_eq(c.ratio, 1.0);
}

Test(perf_scale, half_running_exactly_doubles)
{
    qkperf_count c = qkperf_scale(1000003, 5000, 2500);
    cr_expect_eq(c.value, 2000006.0);
    cr_expect_eq(c.ratio, 0.5);
    /* Large times too: the scale factor must stay exactly 2. */
    c = qkperf_scale(7, UINT64_C(1) << 63, UINT64_C(1) << 62);
    cr_expect_eq(c.value, 14.0);
}

Test(perf_scale, near_2_pow_64_does_not_overflow)
{
    qkperf_count c = qkperf_scale(UINT64_MAX, UINT64_MAX, UINT64_MAX / 2 + 1);
    cr_expect_eq(c.counted, 1);
    cr_expect_eq(c.raw, UINT64_MAX);
    cr_expect(fabs(c.value / ldexp(1.0, 65) - 1.0) < 1e-12, "value %g", c.value);
    c = qkperf_scale(UINT64_MAX, UINT64_C(3) << 62, UINT64_C(1) << 62);
    cr_expect(fabs(c.value / (3.0 * ldexp(1.0, 64)) - 1.0) < 1e-12, "value %g", c.value);
    cr_expect(fabs(c.ratio - 1.0 / 3.0) < 1e-15);
}

Test(perf_scale, running_past_enabled_is_clamped)
{
    /* User-space time extrapolation can put running a few ns past enabled. */
    qkperf_count c = qkperf_scale(100, 1000, 1003);
    cr_expect_eq(c.ratio, 1.0);
    cr_expect_eq(c.value, 100.0);
}

/* ---- error classification ----------------------------------------------------- */

static const struct {
    int errnum;
    qkperf_why why;
    const char *name;
} errno_cases[] = {
    {ENOENT, QKPERF_WHY_NO_PMU, "ENOENT"},
    {ENODEV, QKPERF_WHY_NO_PMU, "ENODEV"},
    {EOPNOTSUPP, QKPERF_WHY_NO_PMU, "EOPNOTSUPP"},
    {EACCES, QKPERF_WHY_NOT_PERMITTED, "EACCES"},
    {EPERM, QKPERF_WHY_NOT_PERMITTED, "EPERM"},
    {EINVAL, QKPERF_WHY_BAD_ENCODING, "EINVAL"},
    {EMFILE, QKPERF_WHY_TOO_MANY, "EMFILE"},
    {ENOSPC, QKPERF_WHY_TOO_MANY, "ENOSPC"},
    {E2BIG, QKPERF_WHY_TOO_MANY, "E2BIG"},
    {EBUSY, QKPERF_WHY_OTHER, "EBUSY"},
};
#define N_ERRNO_CASES (sizeof errno_cases / sizeof errno_cases[0])

Test(perf_errors, errno_kinds)
{
    cr_expect_eq(qkperf_why_from_errno(0), QKPERF_WHY_OK);
    for (size_t i = 0; i < N_ERRNO_CASES; i++)
        cr_expect_eq(qkperf_why_from_errno(errno_cases[i].errnum), errno_cases[i].why,
                     "%s", errno_cases[i].name);
}

Test(perf_errors, every_kind_has_its_own_text)
{
    for (int a = QKPERF_WHY_OK; a <= QKPERF_WHY_OTHER; a++) {
        cr_expect_neq(qkperf_why_text(a)[0], '\0');
        for (int b = a + 1; b <= QKPERF_WHY_OTHER; b++)
            cr_expect_str_neq(qkperf_why_text(a), qkperf_why_text(b));
    }
    cr_expect_str_eq(qkperf_why_text(QKPERF_WHY_NO_PMU), "no hardware PMU");
}

/* The seam: the first `fake_ok` opens are real, then fail with fake_errno. */
static int fake_errno, fake_ok, fake_calls;

static long fake_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                      unsigned long flags)
{
    if (fake_calls++ >= fake_ok) {
        errno = fake_errno;
        return -1;
    }
    return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static void fake_setup(int errnum, int ok)
{
    fake_errno = errnum;
    fake_ok = ok;
    fake_calls = 0;
    qkperf_set_open_fn(fake_open);
}

static void seam_restore(void)
{
    qkperf_set_open_fn(NULL);
}

Test(perf_errors, failed_open_is_classified_and_named, .fini = seam_restore)
{
    for (size_t i = 0; i < N_ERRNO_CASES; i++) {
        qkperf_err err;
        fake_setup(errno_cases[i].errnum, 0);
        cr_expect_null(qkperf_pgroup_open(sw_events, 2, -1, &err));
        cr_expect_eq(err.why, errno_cases[i].why, "%s: %s", errno_cases[i].name, err.msg);
        cr_expect_eq(err.errnum, errno_cases[i].errnum);
        cr_expect_not_null(strstr(err.msg, sw_events[0]), "%s", err.msg);
        cr_expect_not_null(strstr(err.msg, errno_cases[i].name), "%s", err.msg);
        cr_expect_not_null(strstr(err.msg, qkperf_why_text(errno_cases[i].why)), "%s", err.msg);
    }
}

Test(perf_errors, not_permitted_shows_paranoid, .fini = seam_restore)
{
    int paranoid = qkperf_perf_paranoid();
    cr_assert_neq(paranoid, INT_MIN, "cannot read /proc/sys/kernel/perf_event_paranoid");
    char want[64];
    snprintf(want, sizeof want, "perf_event_paranoid = %d", paranoid);
    int errs[] = {EACCES, EPERM};
    for (size_t i = 0; i < 2; i++) {
        qkperf_err err;
        fake_setup(errs[i], 0);
        cr_expect_null(qkperf_pgroup_open(sw_events, 1, -1, &err));
        cr_expect_not_null(strstr(err.msg, want), "%s", err.msg);
    }
}

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    cr_assert_not_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* A member that fails names itself (not the leader), and the events that
 * did open are closed again. */
Test(perf_errors, failing_member_is_named_and_nothing_leaks, .fini = seam_restore)
{
    qkperf_err err;
    int before = count_open_fds();
    fake_setup(ENOSPC, 2);
    cr_expect_null(qkperf_pgroup_open(sw_events, SW_N, -1, &err));
    cr_expect_eq(fake_calls, 3);
    cr_expect_eq(err.why, QKPERF_WHY_TOO_MANY);
    cr_expect_not_null(strstr(err.msg, sw_events[2]), "%s", err.msg);
    cr_expect_eq(count_open_fds(), before);
}

Test(perf_errors, seam_restores_the_syscall, .fini = seam_restore)
{
    qkperf_err err;
    fake_setup(ENOENT, 0);
    qkperf_set_open_fn(NULL);
    qkperf_pgroup *g = qkperf_pgroup_open(sw_events, 1, -1, &err);
    cr_expect_not_null(g, "%s", err.msg);
    cr_expect_eq(fake_calls, 0);
    qkperf_pgroup_close(g);
}

/* ---- hardware ------------------------------------------------------------------- */

static int require_hw(void)
{
    const char *v = getenv("QKPERF_REQUIRE_HW");
    return v != NULL && strcmp(v, "1") == 0;
}

/* A loop that retires at least one instruction (the asm add) per iteration,
 * whatever the compiler does to the loop around it. */
static void busy_instructions(uint64_t iters)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < iters; i++)
        __asm__ __volatile__("add %1, %0" : "+r"(acc) : "r"(i));
}

Test(perf_hw, cycles_and_instructions_count_a_loop)
{
    qkperf_probe_t p;
    qkperf_probe(&p);
    if (p.hw_why != QKPERF_WHY_OK) {
        if (require_hw())
            cr_assert_fail("QKPERF_REQUIRE_HW=1 but hardware counters are unavailable: %s",
                     p.hw_reason);
        cr_skip_test("hardware counters unavailable: %s", p.hw_reason);
    }
    const char *ev[2] = {p.hw_events[0], p.hw_events[1]};
    qkperf_err err;
    qkperf_pgroup *g = qkperf_pgroup_open(ev, 2, -1, &err);
    cr_assert_not_null(g, "the probe opened these events, now: %s", err.msg);
    qkperf_count c[2];
    cr_assert_eq(qkperf_pgroup_start(g), 0);
    busy_instructions(1000000);
    cr_assert_eq(qkperf_pgroup_stop(g, c), 0);
    cr_expect_eq(qkperf_pgroup_uses_rdpmc(g), p.rdpmc);
    qkperf_pgroup_close(g);

    cr_expect(c[0].counted && c[1].counted);
    cr_expect_gt(c[0].value, 0, "%s", ev[0]);
    cr_expect_geq(c[1].value, 1000000, "%s: %.0f", ev[1], c[1].value);
    cr_expect(c[0].ratio > 0 && c[0].ratio <= 1.0);
}
