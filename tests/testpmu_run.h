/*
 * testpmu_run.h — running a program under the test PMU, for the suites
 * that use it (test_testpmu.c, test_hwpath.c): LD_PRELOAD has to be in
 * the environment at exec, so a suite runs tests/testpmu_drive or qkperf
 * in a child with LD_PRELOAD=tests/.libs/libtestpmu.so and QKPERF_TESTPMU
 * set, and reads what it printed.
 */
#ifndef QKPERF_TESTPMU_RUN_H
#define QKPERF_TESTPMU_RUN_H

#include <limits.h>

typedef struct run {
    int status; /* exit status, or 128 + signal */
    char out[1 << 16];
    char err[1 << 12];
} run;

/* tests/, where the suite, the driver and .libs are (set by drive). */
extern char tp_dir[PATH_MAX];

/* Run argv with the environment less any QKPERF_TESTPMU*, LD_PRELOAD or
 * ASAN_OPTIONS, plus sets ("NAME=VALUE", NULL-terminated); stdout and
 * stderr into r. */
void run_prog(run *r, const char *const *sets, const char *const *argv);

/* Run tests/testpmu_drive (or qkperf when args[0] is "@qkperf") with
 * LD_PRELOAD and QKPERF_TESTPMU=pmu (none when pmu is NULL) plus the sets. */
void drive(run *r, const char *pmu, const char *const *sets, const char *const *args);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOSET ((const char *const *)NULL)

#endif
