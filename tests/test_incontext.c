/*
 * test_incontext.c — the in-context view as the runner makes it, on known
 * answers: an op whose fused kernel is tests/inline_work's round (work_a,
 * then work_b at three times the work), its two phases named by those two
 * inline blocks. Sampled in context it must split 25% / 75% (within 3
 * points), on one thread and on two (the kernel's own pool of two); the
 * in-context times of every chunk add up to the fused time paired with it;
 * a variant that names no blocks gets the view as n/a with the reason.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "incontext.h"
#include "inline_work.h"
#include "registry.h"
#include "results.h"
#include "runner.h"
#include "table.h"

/* A round's work_a takes some 0.2 ms at this size: on two threads every
 * round starts after a barrier, and what a woken thread's first
 * microseconds cost more lands in work_a; at a tenth of the size that
 * moved the split by 3 points now and then when another suite ran. */
#define IC_N 200000
#define IC_SIZE "200000"

typedef struct ic_ws {
    long n;
    uint64_t out;
} ic_ws;

static void *ic_create(const size_t *dim, uint64_t seed)
{
    ic_ws *w = calloc(1, sizeof *w);
    if (w) {
        w->n = (long)dim[0];
        w->out = seed;
    }
    return w;
}

static void ic_destroy(void *p)
{
    free(p);
}

static double ic_elements(const size_t *dim)
{
    return 4.0 * (double)dim[0];
}

static double ic_bytes(const size_t *dim)
{
    return 8.0;
}

/* With two threads, a helper thread does a round at the same time as the
 * calling one, as a kernel's pool would: started once, kept, handed each
 * call through two barriers. */
static pthread_barrier_t go, done;
static ic_ws *helper_ws;

static void *ic_helper(void *p)
{
    for (;;) {
        pthread_barrier_wait(&go);
        (void)inline_work_round(helper_ws->out, helper_ws->n);
        pthread_barrier_wait(&done);
    }
    return NULL;
}

static void ic_fused(void *p)
{
    ic_ws *w = p;
    w->out = inline_work_round(w->out, w->n);
}

static void start_helper(void)
{
    pthread_t t;
    pthread_barrier_init(&go, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    cr_assert_eq(pthread_create(&t, NULL, ic_helper, NULL), 0);
    pthread_detach(t);
}

static void ic_fused2(void *p)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    ic_ws *w = p;
    helper_ws = w;
    pthread_once(&once, start_helper);
    pthread_barrier_wait(&go);
    w->out = inline_work_round(w->out, w->n);
    pthread_barrier_wait(&done);
}

static const char *const ic_phase_names[] = {"a", "b", NULL};
static const char *const blocks_a[] = {"work_a", NULL}, *const blocks_b[] = {"work_b", NULL};
static const qk_phase ic_phases[] = {{NULL, blocks_a, NULL}, {NULL, blocks_b, NULL}};
static const qk_phase no_blocks[] = {{NULL, NULL, NULL}, {NULL, NULL, NULL}};

static const qk_op ic_op = {.name = "ic-test",
                            .summary = "1:3 inline work",
                            .phases = ic_phase_names,
                            .ndim = 1,
                            .create = ic_create,
                            .destroy = ic_destroy,
                            .elements = ic_elements,
                            .bytes = ic_bytes,
                            .default_size = IC_SIZE};
static const qk_variant ic_one = {"ic-test", "one", "one thread", 0, ic_fused, ic_phases, NULL};
static const qk_variant ic_two = {"ic-test", "two", "two threads", 0, ic_fused2, ic_phases, NULL};
static const qk_variant ic_none = {"ic-test", "none", "no blocks", 0, ic_fused, no_blocks, NULL};
static const qk_op *const ic_ops[] = {&ic_op, NULL};
static const qk_variant *const ic_variants[] = {&ic_one, &ic_two, &ic_none, NULL};
static const qk_module ic_module = {QK_KERNEL_ABI, "ic-test", ic_ops, ic_variants, NULL};

static void setup(void)
{
    char err[256];
    cr_assert_eq(qk_register_module(&ic_module, err, sizeof err), 0, "%s", err);
}

TestSuite(incontext, .init = setup);

static void measure(const char *variant, qkperf_results *res)
{
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 11;
    o.warmup_ms = 1;
    o.staged = 0;
    o.sw = 0;
    o.sample = 1;
    o.sample_target = 6000; /* +-1.1 points at 95% on a 25% share */
    qkperf_results_init(res);
    char err[512] = "";
    size_t dim[1] = {IC_N};
    cr_assert_eq(qkperf_measure(&o, &ic_op, qk_find_variant("ic-test", variant), dim, IC_SIZE, res,
                                err, sizeof err),
                 0, "%s", err);
}

static const qkperf_record *ic(const qkperf_results *r, const char *variant, const char *phase,
                               const char *metric)
{
    const qkperf_record *x = qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, "ic-test", variant,
                                                      IC_SIZE, phase, metric);
    cr_assert_not_null(x, "no in-context %s %s record", phase, metric);
    return x;
}

static void expect_split(const char *variant)
{
    qkperf_results r;
    measure(variant, &r);
    const qkperf_record *a = ic(&r, variant, "a", "share"), *b = ic(&r, variant, "b", "share"),
                        *o = ic(&r, variant, "other", "share");
    cr_assert(a->counted && b->counted && o->counted, "%s", a->why);
    cr_expect(fabs(a->median - 25) <= 3, "%s: work_a %.1f%%, want 25 +- 3", variant, a->median);
    cr_expect(fabs(b->median - 75) <= 3, "%s: work_b %.1f%%, want 75 +- 3", variant, b->median);
    cr_expect_lt(o->median, 3, "%s: other %.1f%%", variant, o->median);
    cr_expect_str_eq(a->source, "sample");
    /* chunk by chunk, the parts in context add up to the fused time */
    const qkperf_record *fused =
        qkperf_results_find(&r, "ic-test", variant, IC_SIZE, "total", "time");
    const qkperf_record *ta = ic(&r, variant, "a", "time"), *tb = ic(&r, variant, "b", "time"),
                        *to = ic(&r, variant, "other", "time");
    cr_assert_not_null(fused);
    cr_assert_eq(ta->n, fused->n, "one chunk per fused sample");
    for (size_t k = 0; k < ta->n; k++)
        cr_expect_float_eq(ta->samples[k] + tb->samples[k] + to->samples[k], fused->samples[k],
                           1e-9 * fused->samples[k], "chunk %zu", k);
    const qkperf_record *na = ic(&r, variant, "a", "samples");
    double total = 0;
    for (size_t k = 0; k < na->n; k++)
        total += na->samples[k] + ic(&r, variant, "b", "samples")->samples[k] +
                 ic(&r, variant, "other", "samples")->samples[k];
    cr_expect_geq(total, 6000, "%s: %.0f samples, 6000 asked for", variant, total);
    qkperf_results_free(&r);
}

Test(incontext, one_thread_splits_1_to_3, .timeout = 120)
{
    expect_split("one");
}

Test(incontext, two_threads_split_1_to_3, .timeout = 120)
{
    expect_split("two");
}

Test(incontext, no_blocks_is_na_with_the_reason, .timeout = 60)
{
    qkperf_results r;
    measure("none", &r);
    const qkperf_record *a = ic(&r, "none", "a", "share");
    cr_expect_eq(a->counted, 0);
    cr_expect(strstr(a->why, "names no phase blocks") != NULL, "%s", a->why);
    qkperf_results_free(&r);
}

Test(incontext, block_table_of_a_variant)
{
    qkperf_addr_block b[8];
    cr_assert_eq(qkperf_ic_blocks(&ic_one, 2, b, 8), 2);
    cr_expect_str_eq(b[0].name, "work_a");
    cr_expect_eq(b[1].phase, 1);
    cr_expect_eq(qkperf_ic_blocks(&ic_none, 2, b, 8), 0);
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* libqk256's avx512-vnni-tiles (the decode layout, run on the workspace's
 * repacked copy) split in context: its work is in its phases' blocks,
 * which the DWARF of the real library names, not in "other". */
Test(incontext, the_tile_kernel_splits_by_phase, .timeout = 120)
{
    char err[512] = "";
    const qk_op *op = qk_find_op("gemv-i8"); /* libqk256 is registered from the start */
    const qk_variant *v = qk_find_variant("gemv-i8", "avx512-vnni-tiles");
    cr_assert(op && v);
    if (v->isa & ~qk_cpu_isa())
        cr_skip_test("this CPU has no AVX-512 VNNI");
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 5;
    o.warmup_ms = 1;
    o.staged = 0;
    o.sw = 0;
    o.sample = 1;
    o.sample_target = 3000;
    qkperf_results r;
    qkperf_results_init(&r);
    size_t dim[2] = {256, 2560};
    cr_assert_eq(qkperf_measure(&o, op, v, dim, "256x2560", &r, err, sizeof err), 0, "%s", err);
    double share[QK_MAX_PHASES + 1] = {0}; /* medians over the chunks */
    for (unsigned p = 0; p <= qk_phase_count(op); p++) {
        const char *name = p < qk_phase_count(op) ? op->phases[p] : QKPERF_PHASE_OTHER_NAME;
        const qkperf_record *x = qkperf_results_find_view(&r, QKPERF_VIEW_IN_CONTEXT, "gemv-i8",
                                                          v->name, "256x2560", name, "share");
        cr_assert(x && x->counted, "%s: %s", name, x ? x->why : "no record");
        share[p] = x->median;
    }
    /* memory, unpack, lut and dot (1..4) hold most of it, and lut and dot
     * each a part, but for a sanitizer's build: its checks of every load
     * make the memory phase 80% of that program */
    cr_expect_gt(share[1] + share[2] + share[3] + share[4], 50,
                 "memory %.1f%%, unpack %.1f%%, lut %.1f%%, dot %.1f%%", share[1], share[2],
                 share[3], share[4]);
    if (!SANITIZED) {
        cr_expect_gt(share[3], 2, "lut: %.1f%%", share[3]);
        cr_expect_gt(share[4], 2, "dot: %.1f%%", share[4]);
    }
    cr_expect_lt(share[qk_phase_count(op)], 30, "other: %.1f%%", share[qk_phase_count(op)]);
    qkperf_results_free(&r);
}

/* ---- the in-context table's cycles ------------------------------------------ */

static void add_rec(qkperf_results *r, const char *view, const char *phase, const char *metric,
                    const char *source, double v)
{
    qkperf_record x;
    memset(&x, 0, sizeof x);
    snprintf(x.op, sizeof x.op, "gemv-i8");
    snprintf(x.variant, sizeof x.variant, "scalar");
    snprintf(x.size, sizeof x.size, "4x256"); /* 1024 elements per call */
    snprintf(x.phase, sizeof x.phase, "%s", phase);
    snprintf(x.metric, sizeof x.metric, "%s", metric);
    snprintf(x.source, sizeof x.source, "%s", source);
    snprintf(x.unit, sizeof x.unit, "%s", strcmp(metric, "time") ? "" : "ns");
    snprintf(x.view, sizeof x.view, "%s", view);
    x.samples = &v;
    x.n = 1;
    x.batch = 1;
    x.counted = 1;
    x.mux_ratio = 1.0;
    cr_assert_eq(qkperf_results_add(r, &x), 0);
}

static char *table_of(const qkperf_results *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    qkperf_print_variant(f, r, qk_find_op("gemv-i8"), "scalar", "4x256");
    fclose(f);
    char *w = buf; /* runs of spaces as one: the rows' figures, not their widths */
    for (char *c = buf; *c; c++)
        if (*c != ' ' || w == buf || w[-1] != ' ')
            *w++ = *c;
    *w = 0;
    return buf;
}

/* A phase's cycles are its in-context time at the fused kernel's cycles
 * per ns (the TSC estimate here: 4000 cycles in 1000 ns), per 256
 * elements a quarter of them; where a PMU sampled cycles in context, each
 * phase's own count instead. */
Test(incontext, the_table_gives_each_phases_cycles)
{
    qkperf_results r;
    qkperf_results_init(&r);
    add_rec(&r, "", "total", "time", "tsc", 1000);
    add_rec(&r, "", "total", "cycles-est", "tsc", 4000);
    const char *parts[] = {"memory", "dot", "other"};
    const double ns[] = {250, 700, 50}, hw[] = {900, 2900, 100};
    for (int i = 0; i < 3; i++) {
        add_rec(&r, QKPERF_VIEW_IN_CONTEXT, parts[i], "samples", "sample", ns[i] / 10);
        add_rec(&r, QKPERF_VIEW_IN_CONTEXT, parts[i], "time", "sample", ns[i]);
    }
    char *t = table_of(&r);
    cr_expect_not_null(strstr(t, "cycles per ns (tsc estimate)"), "%s", t);
    cr_expect_not_null(strstr(t, " 250 ns 1 k 250\n"), "%s", t);
    cr_expect_not_null(strstr(t, " 700 ns 2.8 k 700\n"), "%s", t);
    cr_expect_not_null(strstr(t, " 50 ns 200 50\n"), "%s", t);
    free(t);
    for (int i = 0; i < 3; i++)
        add_rec(&r, QKPERF_VIEW_IN_CONTEXT, parts[i], "cycles", "sample", hw[i]);
    t = table_of(&r);
    cr_expect_not_null(strstr(t, "cycles: hw cycles sampled in context"), "%s", t);
    cr_expect_not_null(strstr(t, " 700 ns 2.9 k 725\n"), "%s", t);
    cr_expect_not_null(strstr(t, " 50 ns 100 25\n"), "%s", t);
    free(t);
    qkperf_results_free(&r);
}
