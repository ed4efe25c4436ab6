/*
 * test_threads.c — the threaded gemv (threads.c): the thread-count
 * settings, results bit-identical to one thread for every gemv variant
 * (float and int8) over several thread counts and shapes, repeated calls
 * that reuse the pool without starting threads, fewer rows than threads,
 * concurrent callers, and how qk256_parallel_rows shares rows out: every
 * row once, in whole groups, a slow slice finished with help.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qk256.h"
#include "qk256_impl.h"
#include "rng.h"
#include "tester.h"

typedef struct problem {
    size_t rows, cols, stride;
    uint8_t *packed;
    float *scales, *x;
} problem;

static problem make(size_t rows, size_t cols, uint64_t seed)
{
    problem p = {.rows = rows, .cols = cols, .stride = qk256_row_bytes(cols)};
    size_t nb = p.stride / 64;
    p.packed = malloc(rows * p.stride);
    p.scales = malloc(rows * nb * sizeof(float));
    p.x = malloc(cols * sizeof(float));
    cr_assert(p.packed && p.scales && p.x);
    qk_rng rng = {seed};
    qk_rng_bytes(&rng, p.packed, rows * p.stride);
    for (size_t i = 0; i < rows * nb; i++)
        p.scales[i] = qk_rng_float(&rng, 0.5f, 1.5f);
    for (size_t j = 0; j < cols; j++)
        p.x[j] = qk_rng_nonzero(&rng);
    return p;
}

static void drop(problem *p)
{
    free(p->packed);
    free(p->scales);
    free(p->x);
}

static int run(const char *op, const char *v, const problem *p, float *y)
{
    if (strcmp(op, "gemv-i8") == 0)
        return qk256_gemv_i8_variant(v, y, p->packed, p->stride, p->scales, p->x, p->rows, p->cols,
                                     NULL);
    return qk256_gemv_variant(v, y, p->packed, p->stride, p->scales, p->x, p->rows, p->cols, NULL);
}

static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

Test(threads, default_is_one_and_settings_are_checked)
{
    unsetenv("QK256_THREADS");
    cr_expect_eq(qk256_get_threads(), 1);
    cr_expect_eq(qk256_set_threads(-1), QK256_E_INVAL);
    cr_expect_eq(qk256_set_threads(257), QK256_E_INVAL);
    cr_expect_eq(qk256_get_threads(), 1);
    cr_expect_eq(qk256_set_threads(3), QK256_OK);
    cr_expect_eq(qk256_get_threads(), 3);
    cr_expect_eq(qk256_set_threads(0), QK256_OK);
    cr_expect_eq(qk256_get_threads(), (int)sysconf(_SC_NPROCESSORS_ONLN));
}

Test(threads, env_sets_the_count)
{
    setenv("QK256_THREADS", "5", 1);
    cr_expect_eq(qk256_get_threads(), 5);
}

Test(threads, bad_env_is_ignored)
{
    setenv("QK256_THREADS", "many", 1);
    cr_expect_eq(qk256_get_threads(), 1);
}

/* Shapes above and below the size where calls go parallel, with partial
 * row groups and partial blocks. */
static const size_t shapes[][2] = {{2560, 1024}, {300, 4100}, {45, 30000}, {17, 300}, {64, 256}};

Test(threads, every_variant_equals_one_thread, .timeout = 120)
{
    static const int counts[] = {2, 3, 4, 7};
    static const char *const ops[] = QKT_GEMV_OPS;
    for (size_t s = 0; s < 5; s++) {
        problem p = make(shapes[s][0], shapes[s][1], 10 + s);
        float *want = malloc(p.rows * sizeof(float)), *got = malloc(p.rows * sizeof(float));
        for (size_t o = 0; o < QKT_N_GEMV_OPS; o++)
            for (const char *const *v = qkt_runnable(ops[o]); *v; v++) {
                if (strcmp(*v, "scalar") == 0 && p.rows * p.cols > 1000000)
                    continue; /* slow, and the same code as the others */
                qk256_set_threads(1);
                cr_assert_eq(run(ops[o], *v, &p, want), QK256_OK);
                for (size_t c = 0; c < 4; c++) {
                    qk256_set_threads(counts[c]);
                    memset(got, 0xff, p.rows * sizeof(float));
                    cr_assert_eq(run(ops[o], *v, &p, got), QK256_OK);
                    cr_expect_arr_eq(got, want, p.rows * sizeof(float),
                                     "%s %s %zux%zu with %d threads differs from 1 thread", ops[o],
                                     *v, p.rows, p.cols, counts[c]);
                }
            }
        free(want);
        free(got);
        drop(&p);
    }
}

Test(threads, repeated_calls_reuse_the_pool)
{
    problem p = make(1024, 2048, 3);
    float *want = malloc(p.rows * sizeof(float)), *got = malloc(p.rows * sizeof(float));
    cr_assert_eq(qk256_gemv(want, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL),
                 QK256_OK);
    int before = task_count();
    cr_assert_eq(qk256_set_threads(4), QK256_OK);
    cr_assert_eq(qk256_gemv(got, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL),
                 QK256_OK);
    int started = task_count();
    cr_expect_eq(started, before + 3, "4 threads: %d tasks before, %d after", before, started);
    for (int i = 0; i < 50; i++) {
        memset(got, 0, p.rows * sizeof(float));
        cr_assert_eq(qk256_gemv(got, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL),
                     QK256_OK);
        cr_assert_arr_eq(got, want, p.rows * sizeof(float), "call %d", i);
        cr_assert_eq(qk256_gemv_i8(got, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL),
                     QK256_OK);
    }
    cr_expect_eq(task_count(), started, "threads were started by later calls");
    free(want);
    free(got);
    drop(&p);
}

Test(threads, fewer_rows_than_threads)
{
    problem p = make(5, 300000, 8);
    float want[5], got[5];
    cr_assert_eq(qk256_gemv(want, p.packed, p.stride, p.scales, p.x, 5, p.cols, NULL), QK256_OK);
    cr_assert_eq(qk256_set_threads(8), QK256_OK);
    cr_assert_eq(qk256_gemv(got, p.packed, p.stride, p.scales, p.x, 5, p.cols, NULL), QK256_OK);
    cr_expect_arr_eq(got, want, sizeof want);
    cr_assert_eq(qk256_gemv(got, p.packed, p.stride, p.scales, p.x, 1, p.cols, NULL), QK256_OK);
    cr_expect_eq(got[0], want[0]);
    drop(&p);
}

/* Several callers at once: one holds the pool, the others run alone; all
 * results stay right. */
typedef struct caller {
    const problem *p;
    const float *want;
    int i8, bad;
} caller;

static void *call_many(void *arg)
{
    caller *c = arg;
    float *y = malloc(c->p->rows * sizeof(float));
    for (int i = 0; i < 30 && y; i++) {
        int rc = c->i8 ? qk256_gemv_i8(y, c->p->packed, c->p->stride, c->p->scales, c->p->x,
                                       c->p->rows, c->p->cols, NULL)
                       : qk256_gemv(y, c->p->packed, c->p->stride, c->p->scales, c->p->x,
                                    c->p->rows, c->p->cols, NULL);
        c->bad += rc != QK256_OK || memcmp(y, c->want, c->p->rows * sizeof(float)) != 0;
    }
    free(y);
    return NULL;
}

Test(threads, concurrent_callers, .timeout = 120)
{
    problem p = make(512, 4096, 21);
    float *want[2];
    for (int k = 0; k < 2; k++) {
        want[k] = malloc(p.rows * sizeof(float));
        cr_assert_eq(
            k ? qk256_gemv_i8(want[k], p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL)
              : qk256_gemv(want[k], p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL),
            QK256_OK);
    }
    cr_assert_eq(qk256_set_threads(2), QK256_OK);
    pthread_t t[4];
    caller c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (caller){.p = &p, .want = want[i & 1], .i8 = i & 1};
        cr_assert_eq(pthread_create(&t[i], NULL, call_many, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(c[i].bad, 0, "caller %d: %d of 30 calls wrong", i, c[i].bad);
    }
    free(want[0]);
    free(want[1]);
    drop(&p);
}

/* After fork() the child has no workers: a threaded call there must start
 * new ones and finish, with the same result, instead of waiting forever on
 * threads that did not survive the fork. */
Test(threads, pool_works_after_fork, .timeout = 60)
{
    problem p = make(512, 4096, 77);
    float *y1 = malloc(p.rows * sizeof(float)), *y2 = malloc(p.rows * sizeof(float));
    cr_assert(y1 && y2);
    cr_assert_eq(qk256_set_threads(2), QK256_OK);
    cr_assert_eq(qk256_gemv(y1, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL), QK256_OK);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* a hang is a failure, not a stuck test run */
        int rc = qk256_gemv(y2, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL);
        _exit(rc != QK256_OK ? 2 : memcmp(y1, y2, p.rows * sizeof(float)) ? 3 : 0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the forked child's threaded gemv %s (status %d)",
              WIFSIGNALED(st) ? "hung or crashed" : "failed", st);
    free(y1);
    free(y2);
    drop(&p);
}

/* ---- qk256_parallel_rows ------------------------------------------------ */

enum { MAX_ROWS = 5000 };

/* Who ran each row, and how often; rows [slow_from, rows) take a while. */
typedef struct rows_log {
    _Atomic int runs[MAX_ROWS];
    pthread_t by[MAX_ROWS];
    _Atomic int bad_bounds;
    size_t rows, slow_from;
} rows_log;

static void log_rows(void *ctx, size_t r0, size_t r1)
{
    rows_log *l = ctx;
    if (r0 % 16 != 0 || (r1 % 16 != 0 && r1 != l->rows) || r0 >= r1 || r1 > l->rows)
        l->bad_bounds++;
    for (size_t r = r0; r < r1 && r < l->rows; r++) {
        l->runs[r]++;
        l->by[r] = pthread_self();
        if (r >= l->slow_from && r % 16 == 0)
            usleep(2000);
    }
}

Test(threads, parallel_rows_runs_every_row_once_in_whole_groups, .timeout = 60)
{
    static const size_t rows[] = {1, 15, 16, 17, 100, 1000, 4099, MAX_ROWS};
    static rows_log l;
    for (int t = 1; t <= 5; t++) {
        cr_assert_eq(qk256_set_threads(t), QK256_OK);
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            for (int rep = 0; rep < 20; rep++) {
                memset(&l, 0, sizeof l);
                l.rows = rows[i];
                l.slow_from = MAX_ROWS;
                qk256_parallel_rows(l.rows, (size_t)1 << 30, log_rows, &l);
                cr_assert_eq(l.bad_bounds, 0, "%d threads, %zu rows: a call not on whole groups", t,
                             l.rows);
                for (size_t r = 0; r < l.rows; r++)
                    cr_assert_eq(l.runs[r], 1, "%d threads, %zu rows: row %zu ran %d times", t,
                                 l.rows, r, l.runs[r]);
            }
    }
}

/* Two threads, the second half of the rows slow: the caller, done with the
 * first half, takes rows of the second from its back, and the call ends
 * well before one thread alone could finish the second half. */
Test(threads, a_slow_slice_gets_help, .timeout = 60)
{
    static rows_log l;
    memset(&l, 0, sizeof l);
    l.rows = 1024;
    l.slow_from = 512; /* 32 groups of 2 ms */
    cr_assert_eq(qk256_set_threads(2), QK256_OK);
    qk256_parallel_rows(l.rows, (size_t)1 << 30, log_rows, &l); /* starts the worker */
    memset(&l, 0, sizeof l);
    l.rows = 1024;
    l.slow_from = 512;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    qk256_parallel_rows(l.rows, (size_t)1 << 30, log_rows, &l);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    size_t helped = 0;
    for (size_t r = 0; r < l.rows; r++) {
        cr_assert_eq(l.runs[r], 1, "row %zu ran %d times", r, l.runs[r]);
        helped += r >= l.slow_from && pthread_equal(l.by[r], pthread_self());
    }
    cr_expect_gt(helped, 0, "the caller took none of the slow slice's rows");
    /* alone, the slow half takes 32 x 2 ms = 64 ms; shared, about half */
    cr_expect_lt(ms, 56.0, "the call took %.1f ms", ms);
    /* the caller's own slice ran in order, from the front */
    for (size_t r = 0; r < l.slow_from; r++)
        cr_expect(pthread_equal(l.by[r], pthread_self()), "row %zu of the caller's slice", r);
}
