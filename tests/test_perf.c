/*
 * test_perf.c — the hw and sw counter sources (harness/perf.c): the
 * software path end to end on this machine (kernel-mode events counted,
 * or n/a with a reason where perf_event_paranoid forbids it), the scaling
 * arithmetic, the rdpmc read arithmetic on synthetic mmap pages, the
 * classification of every perf_event_open failure (through the open test
 * seam), and hardware counting where a PMU exists.
 *
 * The hardware test skips with the probe's reason where there is no PMU;
 * QKPERF_REQUIRE_HW=1 turns that skip into a failure on machines that must
 * have one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
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
        if (!c[i].counted && (i == SW_CTX || i == SW_MIGRATIONS)) {
            /* Non-root with perf_event_paranoid >= 2: n/a, and says why. */
            cr_expect_eq(c[i].why, QKPERF_WHY_KERNEL_ONLY, "%s", sw_events[i]);
            continue;
        }
        cr_expect(c[i].counted, "%s not counted: %s", sw_events[i], qkperf_why_text(c[i].why));
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

/* Sleep `times` times for 2 ms: each sleep is one voluntary context switch. */
static void sleep_2ms(int times)
{
    for (int i = 0; i < times; i++) {
        struct timespec ts = {0, 2000000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

/* The kernel counts context switches in kernel context: counted, they must
 * be > 0 around sleeps; where perf_event_paranoid keeps software events
 * user-only they must read n/a with that reason. Never a counted 0. */
Test(perf_sw, sleeping_region_counts_context_switches)
{
    qkperf_err err;
    qkperf_pgroup *g = qkperf_pgroup_open(sw_events, SW_N, -1, &err);
    cr_assert_not_null(g, "%s", err.msg);
    qkperf_count c[SW_N];
    cr_assert_eq(qkperf_pgroup_start(g), 0);
    sleep_2ms(5);
    cr_assert_eq(qkperf_pgroup_stop(g, c), 0);
    qkperf_pgroup_close(g);

    if (c[SW_CTX].counted) {
        cr_expect_eq(c[SW_CTX].why, QKPERF_WHY_OK);
        cr_expect_geq(c[SW_CTX].value, 5, "5 sleeps, %.0f context switches", c[SW_CTX].value);
        cr_expect(c[SW_MIGRATIONS].counted, "migrations share the privilege level");
    } else {
        cr_expect_neq(geteuid(), 0, "root may count kernel mode, yet n/a");
        cr_expect_geq(qkperf_perf_paranoid(), 2);
        cr_expect_eq(c[SW_CTX].why, QKPERF_WHY_KERNEL_ONLY);
        cr_expect_eq(c[SW_MIGRATIONS].why, QKPERF_WHY_KERNEL_ONLY);
    }
    cr_expect(c[SW_TASK_CLOCK].counted && c[SW_PAGE_FAULTS].counted);
}

/* The kernel refuses kernel-mode counting (what paranoid 2 does to a user
 * without CAP_PERFMON): the group still opens user-only, and the kernel-mode
 * events say why they are n/a instead of reading 0. */
static int refused_calls, kernel_mode_asked;

static long refuse_kernel_mode(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                               unsigned long flags)
{
    refused_calls++;
    if (!attr->exclude_kernel) {
        kernel_mode_asked++;
        errno = EACCES;
        return -1;
    }
    return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static void seam_restore(void);

Test(perf_sw, kernel_mode_refused_reads_na_with_reason, .fini = seam_restore)
{
    qkperf_set_open_fn(refuse_kernel_mode);
    qkperf_err err;
    qkperf_pgroup *g = qkperf_pgroup_open(sw_events, SW_N, -1, &err);
    cr_assert_not_null(g, "%s", err.msg);
    /* Asked once, then the group's later software events go user-only. */
    cr_expect_eq(kernel_mode_asked, 1);
    cr_expect_eq(refused_calls, SW_N + 1);
    qkperf_count c[SW_N];
    cr_assert_eq(qkperf_pgroup_start(g), 0);
    sleep_2ms(3);
    spin_cpu_ms(2);
    cr_assert_eq(qkperf_pgroup_stop(g, c), 0);
    qkperf_pgroup_close(g);

    cr_expect(c[SW_TASK_CLOCK].counted && c[SW_TASK_CLOCK].value > 0);
    cr_expect_eq(c[SW_TASK_CLOCK].why, QKPERF_WHY_OK);
    cr_expect(c[SW_PAGE_FAULTS].counted);
    for (int i = SW_CTX; i <= SW_MIGRATIONS; i++) {
        cr_expect_eq(c[i].counted, 0, "%s", sw_events[i]);
        cr_expect_eq(c[i].why, QKPERF_WHY_KERNEL_ONLY, "%s", sw_events[i]);
        cr_expect_eq(c[i].value, 0.0);
    }
    cr_expect_not_null(strstr(qkperf_why_text(QKPERF_WHY_KERNEL_ONLY), "perf_event_paranoid"));
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
    cr_expect_eq(c.why, QKPERF_WHY_NOT_COUNTED);
    cr_expect_eq(c.raw, 12345);
    cr_expect_eq(c.enabled, 1000);
    cr_expect_eq(c.running, 0);
}

Test(perf_scale, not_multiplexed_is_the_raw_count)
{
    qkperf_count c = qkperf_scale(1000003, 5000, 5000);
    cr_expect_eq(c.counted, 1);
    cr_expect_eq(c.why, QKPERF_WHY_OK);
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

/* ---- the rdpmc read, on synthetic mmap pages -------------------------------------- */

/* A page as an x86 PMU event on counter 2 offers it: 48-bit counter, TSC. */
static qkperf_page_fields live_page(void)
{
    return (qkperf_page_fields){
        .index = 3,
        .pmc_width = 48,
        .cap_user_rdpmc = 1,
        .cap_user_time = 1,
        .time_mult = 1,
        .time_shift = 0,
        .time_mask = ~UINT64_C(0),
    };
}

Test(perf_page, count_is_offset_plus_sign_extended_counter)
{
    qkperf_page_fields f = live_page();
    qkperf_page_value v;
    f.offset = 1000;
    f.pmc = 0x000000000123;
    cr_expect_eq(qkperf_page_eval(&f, &v), 1);
    cr_expect_eq(v.count, 1000 + 0x123);
    /* Bit 47 set: a negative 48-bit value (the kernel programs -left). */
    f.pmc = 0xFFFFFFFFFFF0;
    qkperf_page_eval(&f, &v);
    cr_expect_eq(v.count, 1000 - 16, "count %lu", (unsigned long)v.count);
    /* Only pmc_width bits are the counter. */
    f.pmc_width = 40;
    f.pmc = 0xFF0000000010;
    qkperf_page_eval(&f, &v);
    cr_expect_eq(v.count, 1000 + 16);
}

Test(perf_page, counter_wrapping_48_bits_gives_the_region_count)
{
    qkperf_page_fields f = live_page();
    qkperf_page_value a, b;
    f.offset = INT64_C(5000000000);
    f.pmc = 0xFFFFFFFFFFF0; /* 16 before the wrap */
    f.time_enabled = f.time_running = 100;
    cr_assert_eq(qkperf_page_eval(&f, &a), 1);
    f.pmc = 0x000000000010; /* 16 after */
    f.time_enabled = f.time_running = 200;
    cr_assert_eq(qkperf_page_eval(&f, &b), 1);
    qkperf_count c = qkperf_page_region(&a, &b);
    cr_expect_eq(c.raw, 32);
    cr_expect_eq(c.value, 32.0);
    cr_expect(c.counted && c.ratio == 1.0);
    /* An offset below zero (u64 arithmetic wraps) changes nothing. */
    f.offset = -INT64_C(7);
    f.pmc = 0xFFFFFFFFFFF0;
    qkperf_page_eval(&f, &a);
    f.pmc = 0x000000000010;
    qkperf_page_eval(&f, &b);
    cr_expect_eq(qkperf_page_region(&a, &b).raw, 32);
}

Test(perf_page, no_counter_index_or_no_rdpmc_falls_back)
{
    qkperf_page_fields f = live_page();
    qkperf_page_value v;
    f.index = 0; /* multiplexed out, or not on a counter */
    f.offset = 777;
    f.pmc = 12345;
    f.time_enabled = 1000;
    f.time_running = 600;
    f.tsc = 50;
    cr_expect_eq(qkperf_page_eval(&f, &v), 0);
    cr_expect_eq(v.count, 777, "pmc must not be added without a counter");
    cr_expect_eq(v.enabled, 1050);
    cr_expect_eq(v.running, 600, "not on a counter: running does not advance");

    f = live_page();
    f.cap_user_rdpmc = 0;
    cr_expect_eq(qkperf_page_eval(&f, &v), 0);
    f = live_page();
    f.cap_user_time = 0;
    f.tsc = 1000;
    f.time_offset = 99;
    cr_expect_eq(qkperf_page_eval(&f, &v), 0, "no time conversion: read(2)");
    cr_expect_eq(v.enabled, 0, "and no extrapolation without cap_user_time");
}

/* The reference for ns = time_offset + cyc * mult >> shift, in 128 bits. */
static uint64_t ref_ns(uint64_t offset, uint64_t cyc, uint32_t mult, unsigned shift)
{
    return offset + (uint64_t)(((unsigned __int128)cyc * mult) >> shift);
}

Test(perf_page, cap_user_time_extrapolates_enabled_and_running)
{
    qkperf_page_fields f = live_page();
    qkperf_page_value v;
    /* A 2596 MHz TSC: mult / 2^shift = 1e9 / 2596e6 ns per tick. */
    f.time_shift = 31;
    f.time_mult = (uint32_t)(1e9 / 2596e6 * 2147483648.0);
    f.time_offset = (uint64_t)-INT64_C(123456789); /* the kernel stores it negative */
    f.time_enabled = 4000000;
    f.time_running = 3000000;
    static const uint64_t tscs[] = {
        0, 1, 2596000000, UINT64_C(1) << 40, (UINT64_C(1) << 62) + 12345, ~UINT64_C(0)};
    for (size_t i = 0; i < sizeof tscs / sizeof tscs[0]; i++) {
        f.tsc = tscs[i];
        cr_assert_eq(qkperf_page_eval(&f, &v), 1);
        uint64_t d = ref_ns(f.time_offset, f.tsc, f.time_mult, f.time_shift);
        cr_expect_eq(v.enabled, 4000000 + d, "tsc %#lx", (unsigned long)tscs[i]);
        cr_expect_eq(v.running, 3000000 + d, "tsc %#lx", (unsigned long)tscs[i]);
    }
    /* One second of ticks is one second of ns, to the rounding of mult. */
    f.time_offset = 0;
    f.tsc = 2596000000;
    qkperf_page_eval(&f, &v);
    cr_expect(fabs((double)(v.enabled - 4000000) - 1e9) < 2.0, "%lu",
              (unsigned long)(v.enabled - 4000000));
}

Test(perf_page, cap_user_time_short_masks_a_narrow_clock)
{
    qkperf_page_fields f = live_page();
    qkperf_page_value v;
    f.cap_user_time_short = 1;
    f.time_mult = 3;
    f.time_shift = 1;
    f.time_mask = 0xFFFFFFFF;              /* a 32-bit clock */
    f.time_cycles = UINT64_C(0x5FFFFFF00); /* its value at the kernel's update */
    f.tsc = 0x100;                         /* wrapped since: 0x200 ticks later */
    cr_assert_eq(qkperf_page_eval(&f, &v), 1);
    cr_expect_eq(v.enabled, ref_ns(0, UINT64_C(0x600000100), 3, 1));
    /* Without the short flag the same fields are ignored. */
    f.cap_user_time_short = 0;
    qkperf_page_eval(&f, &v);
    cr_expect_eq(v.enabled, ref_ns(0, 0x100, 3, 1));
}

Test(perf_page, start_stop_difference_scales_when_multiplexed)
{
    qkperf_page_fields f = live_page();
    qkperf_page_value a, b;
    f.time_mult = 1;
    f.time_shift = 0;
    f.offset = 10;
    f.pmc = 90;
    f.time_enabled = 1000;
    f.time_running = 1000;
    f.time_offset = (uint64_t)-INT64_C(500);
    f.tsc = 500; /* delta 0 */
    cr_assert_eq(qkperf_page_eval(&f, &a), 1);
    cr_expect_eq(a.count, 100);
    cr_expect_eq(a.enabled, 1000);
    /* Later: the kernel saw 4000 ns enabled, 2000 running, and the counter
     * is back on the PMU; 1000 ns more since its update. */
    f.offset = 1000;
    f.pmc = 100;
    f.time_enabled = 4000;
    f.time_running = 2000;
    f.tsc = 1500;
    cr_assert_eq(qkperf_page_eval(&f, &b), 1);
    qkperf_count c = qkperf_page_region(&a, &b);
    cr_expect_eq(c.raw, 1000);
    cr_expect_eq(c.enabled, 4000);
    cr_expect_eq(c.running, 2000);
    cr_expect_eq(c.value, 2000.0);
    cr_expect_eq(c.ratio, 0.5);
}

/* ---- error classification ----------------------------------------------------- */

static const struct {
    int errnum;
    qkperf_why why;
    const char *name;
} errno_cases[] = {
    {ENOENT, QKPERF_WHY_NO_PMU, "ENOENT"},         {ENODEV, QKPERF_WHY_NO_PMU, "ENODEV"},
    {EOPNOTSUPP, QKPERF_WHY_NO_PMU, "EOPNOTSUPP"}, {EACCES, QKPERF_WHY_NOT_PERMITTED, "EACCES"},
    {EPERM, QKPERF_WHY_NOT_PERMITTED, "EPERM"},    {EINVAL, QKPERF_WHY_BAD_ENCODING, "EINVAL"},
    {EMFILE, QKPERF_WHY_TOO_MANY, "EMFILE"},       {ENOSPC, QKPERF_WHY_TOO_MANY, "ENOSPC"},
    {E2BIG, QKPERF_WHY_TOO_MANY, "E2BIG"},         {EBUSY, QKPERF_WHY_OTHER, "EBUSY"},
};
#define N_ERRNO_CASES (sizeof errno_cases / sizeof errno_cases[0])

Test(perf_errors, errno_kinds)
{
    cr_expect_eq(qkperf_why_from_errno(0), QKPERF_WHY_OK);
    for (size_t i = 0; i < N_ERRNO_CASES; i++)
        cr_expect_eq(qkperf_why_from_errno(errno_cases[i].errnum), errno_cases[i].why, "%s",
                     errno_cases[i].name);
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

/* The seam: the first `fake_ok` events open for real (a refused kernel-mode
 * attempt, as a non-root user gets, does not count), then all fail with
 * fake_errno. */
static int fake_errno, fake_ok, fake_calls, fake_opened;

static long fake_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                      unsigned long flags)
{
    fake_calls++;
    if (fake_opened >= fake_ok) {
        errno = fake_errno;
        return -1;
    }
    long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
    fake_opened += fd >= 0;
    return fd;
}

static void fake_setup(int errnum, int ok)
{
    fake_errno = errnum;
    fake_ok = ok;
    fake_calls = 0;
    fake_opened = 0;
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
    cr_expect_eq(fake_opened, 2);
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

/* ---- every thread of the process ------------------------------------------------ */

/* A second thread that spins while the region runs and a third that only
 * sleeps: the group on every thread sums the spinner's task-clock to the
 * caller's; the sleeper ran not at all (time_enabled 0 for a per-thread
 * event) and adds nothing, without making the sum n/a. */
static _Atomic int spin_state; /* 0 wait, 1 spin, 2 done */

static void *spinner(void *arg)
{
    (void)arg;
    while (spin_state == 0)
        usleep(100);
    while (spin_state == 1)
        spin_cpu_ms(1);
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    while (spin_state != 2)
        usleep(1000);
    return NULL;
}

Test(perf_threads, the_group_counts_every_thread)
{
    pthread_t spin_t, sleep_t;
    spin_state = 0;
    cr_assert_eq(pthread_create(&spin_t, NULL, spinner, NULL), 0);
    cr_assert_eq(pthread_create(&sleep_t, NULL, sleeper, NULL), 0);
    size_t before = qkperf_process_threads(NULL, 0);
    qkperf_err err;
    qkperf_pgroup *all = qkperf_pgroup_open_threads(sw_events, 1, -1, 1, &err);
    cr_assert_not_null(all, "%s", err.msg);
    qkperf_pgroup *own = qkperf_pgroup_open(sw_events, 1, -1, &err);
    cr_assert_not_null(own, "%s", err.msg);
    cr_expect_geq(before, 3);
    cr_expect_eq(qkperf_pgroup_threads(all), before, "every thread of /proc/self/task");
    cr_expect_eq(qkperf_pgroup_threads(own), 1);
    qkperf_count sum, mine;
    clockid_t spin_clock;
    struct timespec s0, s1;
    cr_assert_eq(pthread_getcpuclockid(spin_t, &spin_clock), 0);
    spin_state = 1;
    usleep(2000); /* the spinner is spinning */
    clock_gettime(spin_clock, &s0);
    cr_assert_eq(qkperf_pgroup_start(all), 0);
    cr_assert_eq(qkperf_pgroup_start(own), 0);
    spin_cpu_ms(30);
    cr_assert_eq(qkperf_pgroup_stop(own, &mine), 0);
    cr_assert_eq(qkperf_pgroup_stop(all, &sum), 0);
    clock_gettime(spin_clock, &s1);
    double spun = 1e9 * (double)(s1.tv_sec - s0.tv_sec) + (double)(s1.tv_nsec - s0.tv_nsec);
    spin_state = 2;
    pthread_join(spin_t, NULL);
    pthread_join(sleep_t, NULL);
    qkperf_pgroup_close(all);
    qkperf_pgroup_close(own);
    cr_assert(sum.counted && mine.counted, "sum %s, own %s", qkperf_why_text(sum.why),
              qkperf_why_text(mine.why));
    /* Every thread's task-clock is the caller's plus the spinner's CPU
     * time over the window (its own clock says how much the machine gave
     * it; the sleeper adds nothing). */
    cr_expect_gt(spun, 0, "the spinner never ran");
    cr_expect(fabs(sum.value - (mine.value + spun)) <= 0.1 * sum.value + 1e6,
              "every thread %.0f ns, the caller's %.0f ns + the spinner's %.0f ns", sum.value,
              mine.value, spun);
}

/* The process's threads, by id: the caller among them. */
Test(perf_threads, process_threads_lists_the_caller)
{
    pid_t tids[64];
    size_t n = qkperf_process_threads(tids, 64);
    pid_t self = (pid_t)syscall(SYS_gettid);
    int found = 0;
    cr_assert_geq(n, 1);
    for (size_t i = 0; i < n && i < 64; i++)
        found |= tids[i] == self;
    cr_expect(found, "gettid %d not in /proc/self/task", (int)self);
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
