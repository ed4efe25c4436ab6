/*
 * test_tsc.c — the tsc source (harness/tsc.c): calibrated frequency, the
 * core/TSC estimate, ordering of tick reads, and conversions that agree with
 * the kernel's clock. Timing-sensitive: run with CRITERION_JOBS=1.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tsc.h"

static double mono_raw_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

Test(tsc, mhz_is_sane_and_cached)
{
    double mhz = qkperf_tsc_mhz();
    cr_expect(mhz >= 100 && mhz <= 10000, "TSC %.1f MHz", mhz);
    cr_expect_eq(qkperf_tsc_mhz(), mhz, "calibrated once, then cached");
}

Test(tsc, ticks_are_monotonic)
{
    uint64_t prev = qkperf_tsc_now();
    for (int i = 0; i < 100000; i++) {
        uint64_t t = (i & 1) ? qkperf_tsc_stop() : qkperf_tsc_now();
        cr_assert_geq(t, prev, "read %d went back: %lu < %lu", i, (unsigned long)t,
                      (unsigned long)prev);
        prev = t;
    }
}

/* A region timed in ticks and converted to ns matches CLOCK_MONOTONIC_RAW. */
Test(tsc, ticks_to_ns_agrees_with_the_clock)
{
    double t0 = mono_raw_ns();
    uint64_t a = qkperf_tsc_now();
    struct timespec nap = {0, 20000000};
    nanosleep(&nap, NULL);
    uint64_t b = qkperf_tsc_stop();
    double t1 = mono_raw_ns();
    double ns = qkperf_tsc_to_ns(b - a);
    cr_expect(fabs(ns - (t1 - t0)) < 0.01 * (t1 - t0) + 20000, "tsc %.0f ns, clock %.0f ns", ns,
              t1 - t0);
}

Test(tsc, core_per_tsc_is_plausible_and_cached)
{
    double r = qkperf_core_per_tsc();
    cr_expect(r >= 0.2 && r <= 10, "core/tsc %.3f", r);
    cr_expect_eq(qkperf_core_per_tsc(), r);
    cr_expect_eq(qkperf_tsc_to_core_cycles(1000000), 1000000 * r);
}

/* Linux sets nonstop_tsc from the same CPUID bit (0x80000007 EDX[8]). */
Test(tsc, invariant_matches_the_kernel)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    cr_assert_not_null(f);
    char line[8192];
    int nonstop = -1;
    while (nonstop < 0 && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "flags", 5) == 0)
            nonstop = strstr(line, " nonstop_tsc") != NULL;
    fclose(f);
    cr_assert_geq(nonstop, 0, "no flags line in /proc/cpuinfo");
    cr_expect_eq(qkperf_tsc_invariant(), nonstop);
}
