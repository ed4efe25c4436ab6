/*
 * test_pool.c — the thread pool (src/threads.c) and the harness code that
 * runs threads (the decode benchmark, the threaded memory read), driven
 * from several threads at once: what CI runs under ThreadSanitizer
 * (`make check-threads` in a --enable-sanitizers=thread build).
 *
 * Plain TAP rather than Criterion, because Criterion cannot start under
 * TSan (its runner maps a shared arena at addresses TSan reserves: "Could
 * not initialize inheritable arena", Snaipe/Criterion#274). test_threads.c
 * and test_decode.c check the same code in depth in every other build;
 * here each case is one that makes threads meet: results bit-identical to
 * one thread for every threaded variant, callers racing for the pool, the
 * thread count changed while calls run, rows stolen from a slow slice
 * (compare-and-swap), and a decode run on two threads.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "qk256.h"
#include "qk256_impl.h"
#include "rng.h"
#include "roofline.h"
#include "tester.h"

/* ---- TAP --------------------------------------------------------------- */

static int tap_n, tap_failed;

static void tap(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tap(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("%s %d - ", ok ? "ok" : "not ok", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    tap_failed += !ok;
}

/* ---- problems ---------------------------------------------------------- */

/* 512 x 4096: two million weights, above the size where calls go parallel. */
enum { ROWS = 512, COLS = 4096 };

typedef struct problem {
    size_t stride;
    uint8_t *packed;
    float *scales, *x;
} problem;

static int make(problem *p, uint64_t seed)
{
    p->stride = qk256_row_bytes(COLS);
    size_t nb = p->stride / 64;
    p->packed = malloc(ROWS * p->stride);
    p->scales = malloc(ROWS * nb * sizeof(float));
    p->x = malloc(COLS * sizeof(float));
    if (!p->packed || !p->scales || !p->x)
        return -1;
    qk_rng rng = {seed};
    qk_rng_bytes(&rng, p->packed, ROWS * p->stride);
    for (size_t i = 0; i < ROWS * nb; i++)
        p->scales[i] = qk_rng_float(&rng, 0.5f, 1.5f);
    for (size_t j = 0; j < COLS; j++)
        p->x[j] = qk_rng_nonzero(&rng);
    return 0;
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
        return qk256_gemv_i8_variant(v, y, p->packed, p->stride, p->scales, p->x, ROWS, COLS, NULL);
    return qk256_gemv_variant(v, y, p->packed, p->stride, p->scales, p->x, ROWS, COLS, NULL);
}

/* ---- cases ------------------------------------------------------------- */

static void every_variant_equals_one_thread(const problem *p)
{
    static const char *const ops[] = QKT_GEMV_OPS;
    float want[ROWS], got[ROWS];
    for (size_t o = 0; o < QKT_N_GEMV_OPS; o++)
        for (const char *const *v = qkt_runnable(ops[o]); *v; v++) {
            int bad = 0;
            qk256_set_threads(1);
            bad |= run(ops[o], *v, p, want) != QK256_OK;
            for (int t = 2; t <= 3; t++) {
                qk256_set_threads(t);
                memset(got, 0xff, sizeof got);
                bad |= run(ops[o], *v, p, got) != QK256_OK || memcmp(got, want, sizeof got);
            }
            tap(!bad, "%s %s with 2 and 3 threads equals 1 thread", ops[o], *v);
        }
}

typedef struct caller {
    const problem *p;
    const float *want;
    const char *op;
    int calls, bad;
} caller;

static void *call_many(void *arg)
{
    caller *c = arg;
    float y[ROWS];
    for (int i = 0; i < c->calls; i++)
        c->bad += run(c->op, qk256_default_variant(c->op), c->p, y) != QK256_OK ||
                  memcmp(y, c->want, sizeof y) != 0;
    return NULL;
}

/* Callers race for the pool while `churn` (if set) keeps changing the
 * thread count under them. */
static void callers(const problem *p, const float *want[2], int churn)
{
    enum { NCALLERS = 3 };
    pthread_t t[NCALLERS];
    caller c[NCALLERS];
    int started = 0;
    qk256_set_threads(2);
    for (int i = 0; i < NCALLERS; i++) {
        c[i] = (caller){p, want[i & 1], i & 1 ? "gemv-i8" : "gemv", 8, 0};
        started += pthread_create(&t[i], NULL, call_many, &c[i]) == 0;
    }
    for (int k = 0; churn && k < 40; k++)
        qk256_set_threads(1 + k % 4);
    int bad = started != NCALLERS;
    for (int i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        bad += c[i].bad;
    }
    tap(!bad, "%d callers at once%s: every result right", NCALLERS,
        churn ? " while the thread count changes" : "");
}

/* Rows [slow_from, rows) are slow: the caller, done with its own slice,
 * takes rows of the other's from its back. */
typedef struct rows_log {
    _Atomic int runs[1024];
    _Atomic int bad_bounds;
    size_t rows, slow_from;
} rows_log;

static void log_rows(void *ctx, size_t r0, size_t r1)
{
    rows_log *l = ctx;
    if (r0 % 16 != 0 || r0 >= r1 || r1 > l->rows)
        l->bad_bounds++;
    for (size_t r = r0; r < r1 && r < l->rows; r++) {
        l->runs[r]++;
        if (r >= l->slow_from && r % 16 == 0)
            usleep(500);
    }
}

static void parallel_rows_with_stealing(void)
{
    static rows_log l;
    int bad = 0;
    for (int t = 2; t <= 4; t++) {
        qk256_set_threads(t);
        for (int rep = 0; rep < 5; rep++) {
            memset(&l, 0, sizeof l);
            l.rows = 1024;
            l.slow_from = 512;
            qk256_parallel_rows(l.rows, (size_t)1 << 30, log_rows, &l);
            bad += l.bad_bounds != 0;
            for (size_t r = 0; r < l.rows; r++)
                bad += l.runs[r] != 1;
        }
    }
    tap(!bad, "parallel_rows with a slow slice: every row once, on 2 to 4 threads");
}

static void threaded_memory_read(void)
{
    double bps = 0;
    char err[256] = "";
    int rc = qkperf_roofline_mem_threads(2, 1, &bps, err, sizeof err);
    tap(rc == 0 && bps > 0, "memory read on 2 threads: %.3g B/s %s", bps, err);
}

static void decode_on_two_threads(void)
{
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048] = "";
    qkperf_decode_opts_default(&o);
    o.layers = 1;
    o.tokens = 2;
    o.threads = 2;
    o.quick = 1;
    o.shape_div = 8;
    qkperf_results_init(&r);
    int rc = qkperf_decode_measure(&o, &r, err, sizeof err);
    const qkperf_record *x = qkperf_results_find(&r, "decode", "weights read",
                                                 "bitnet-b1.58-2b4t-1L-div8", "total", "tokens/s");
    tap(rc == 0 && x && x->counted && x->median > 0, "decode on 2 threads %s", err);
    qkperf_results_free(&r);
}

static size_t gemv_variants(void)
{
    static const char *const ops[] = QKT_GEMV_OPS;
    size_t n = 0;
    for (size_t o = 0; o < QKT_N_GEMV_OPS; o++)
        for (const char *const *v = qkt_runnable(ops[o]); *v; v++)
            n++;
    return n;
}

int main(void)
{
    problem p;
    float want[2][ROWS];
    const float *wants[2] = {want[0], want[1]};
    printf("1..%zu\n", gemv_variants() + 5);
    if (make(&p, 7) != 0) {
        drop(&p);
        printf("Bail out! out of memory\n");
        return 1;
    }
    qk256_set_threads(1);
    run("gemv", qk256_default_variant("gemv"), &p, want[0]);
    run("gemv-i8", qk256_default_variant("gemv-i8"), &p, want[1]);
    every_variant_equals_one_thread(&p);
    callers(&p, wants, 0);
    callers(&p, wants, 1);
    parallel_rows_with_stealing();
    threaded_memory_read();
    decode_on_two_threads();
    drop(&p);
    return tap_failed ? 1 : 0;
}
