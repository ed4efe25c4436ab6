/*
 * test_runner.c — the runner measures any kernel that registers through the
 * kernel interface: a small non-QK256 op (saxpy) with two variants and two
 * phases is profiled end to end with the tsc and sw sources, and with a
 * hardware group whose PMU is a fake (the open and ioctl seams of perf.h),
 * so the hw path is exercised on machines without one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"
#include "perf.h"
#include "results.h"
#include "runner.h"

typedef struct saxpy_ws {
    size_t n;
    float *x, *y, *t;
} saxpy_ws;

static void *saxpy_create(const size_t *dim, uint64_t seed)
{
    saxpy_ws *w = calloc(1, sizeof *w);
    w->n = dim[0];
    w->x = malloc(w->n * sizeof(float));
    w->y = malloc(w->n * sizeof(float));
    w->t = malloc(w->n * sizeof(float));
    for (size_t i = 0; i < w->n; i++) {
        w->x[i] = (float)((i * 7 + seed) % 13) + 1.0f;
        w->y[i] = 0.0f;
        w->t[i] = 0.0f;
    }
    return w;
}

static void saxpy_destroy(void *p)
{
    saxpy_ws *w = p;
    free(w->x);
    free(w->y);
    free(w->t);
    free(w);
}

static double saxpy_elements(const size_t *dim)
{
    return (double)dim[0];
}
static double saxpy_bytes(const size_t *dim)
{
    return 8.0 * (double)dim[0];
}

static double saxpy_compare(const void *a, const void *b)
{
    const saxpy_ws *wa = a, *wb = b;
    double worst = 0;
    for (size_t i = 0; i < wa->n; i++)
        worst = fmax(worst, fabs((double)(wa->y[i] - wb->y[i])));
    return worst;
}

/* phase 0 "scale": t = 3x; phase 1 "add": y = t + 1; fused does both. */
static void ref_scale(void *p)
{
    saxpy_ws *w = p;
    for (size_t i = 0; i < w->n; i++)
        w->t[i] = 3.0f * w->x[i];
}

static void ref_add(void *p)
{
    saxpy_ws *w = p;
    for (size_t i = 0; i < w->n; i++)
        w->y[i] = w->t[i] + 1.0f;
}

static void ref_fused(void *p)
{
    saxpy_ws *w = p;
    for (size_t i = 0; i < w->n; i++)
        w->y[i] = 3.0f * w->x[i] + 1.0f;
}

static void wrong_fused(void *p)
{
    saxpy_ws *w = p;
    for (size_t i = 0; i < w->n; i++)
        w->y[i] = 2.0f * w->x[i];
}

static const char *const saxpy_phases[] = {"scale", "add", NULL};
static const qk_op saxpy_op = {
    .name = "saxpy-test",
    .summary = "y = 3x + 1",
    .phases = saxpy_phases,
    .ndim = 1,
    .create = saxpy_create,
    .destroy = saxpy_destroy,
    .elements = saxpy_elements,
    .bytes = saxpy_bytes,
    .compare = saxpy_compare,
};
static const qk_phase ref_phases[] = {{ref_scale, NULL, NULL}, {ref_add, NULL, NULL}};
static const qk_variant saxpy_ref = {"saxpy-test", "ref",      "reference", 0,
                                     ref_fused,    ref_phases, NULL};
static const qk_variant saxpy_bad = {"saxpy-test", "wrong", "wrong answer", 0, wrong_fused,
                                     ref_phases,   NULL};
static const qk_op *const saxpy_ops[] = {&saxpy_op, NULL};
static const qk_variant *const saxpy_variants[] = {&saxpy_ref, &saxpy_bad, NULL};
static const qk_module saxpy_module = {QK_KERNEL_ABI, "saxpy", saxpy_ops, saxpy_variants, NULL};

static void setup(void)
{
    char err[256];
    cr_assert_eq(qk_register_module(&saxpy_module, err, sizeof err), 0, "%s", err);
}

TestSuite(runner, .init = setup);

Test(runner, registration_is_checked)
{
    char err[256];
    cr_expect_eq(qk_register_module(&saxpy_module, err, sizeof err), -1,
                 "a second op of the same name is refused");
    cr_expect(strstr(err, "'saxpy-test' is already registered"), "%s", err);
    qk_variant orphan = {"no-such-op", "x", "", 0, ref_fused, ref_phases, NULL};
    const qk_variant *const orphans[] = {&orphan, NULL};
    qk_module m = {QK_KERNEL_ABI, "orphan", NULL, orphans, NULL};
    cr_expect_eq(qk_register_module(&m, err, sizeof err), -1);
    cr_expect(strstr(err, "op 'no-such-op', which is not registered"), "%s", err);
    cr_expect_eq(qk_variant_count("saxpy-test"), 2);
    cr_expect_eq(qk_phase_index(qk_find_op("saxpy-test"), "add"), 1);
}

Test(runner, profiles_a_non_qk256_kernel)
{
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 5;
    o.warmup_ms = 1;
    qkperf_results res;
    qkperf_results_init(&res);
    char err[512] = "";
    size_t dim[2] = {4096, 0};
    int rc = qkperf_measure(&o, qk_find_op("saxpy-test"), qk_find_variant("saxpy-test", "ref"), dim,
                            "4096", &res, err, sizeof err);
    cr_assert_eq(rc, 0, "measure failed: %s", err);
    const char *regions[] = {"scale", "add", "total"};
    for (int i = 0; i < 3; i++) {
        const qkperf_record *t =
            qkperf_results_find(&res, "saxpy-test", "ref", "4096", regions[i], "time");
        cr_assert_not_null(t, "no time record for %s", regions[i]);
        cr_expect(t->counted && t->n == 5 && t->median > 0, "%s: time median %g", regions[i],
                  t->median);
        cr_expect(t->batch >= 1);
        const qkperf_record *tc =
            qkperf_results_find(&res, "saxpy-test", "ref", "4096", regions[i], "task-clock");
        cr_assert_not_null(tc);
        cr_expect(tc->counted && tc->median > 0, "%s: task-clock (sw) %g", regions[i], tc->median);
        cr_expect_str_eq(tc->source, "sw");
    }
    const qkperf_record *th =
        qkperf_results_find(&res, "saxpy-test", "ref", "4096", "total", "throughput");
    cr_assert_not_null(th);
    cr_expect(th->median > 1e6, "throughput %g elem/s", th->median);
    qkperf_results_free(&res);
}

/* An op whose staged intermediate (t) is made by stage, not create. */
static unsigned stage_calls;

static void *late_create(const size_t *dim, uint64_t seed)
{
    saxpy_ws *w = saxpy_create(dim, seed);
    free(w->t);
    w->t = NULL;
    return w;
}

static int late_stage(void *p)
{
    saxpy_ws *w = p;
    stage_calls++;
    if (!w->t)
        w->t = calloc(w->n, sizeof(float));
    return w->t ? 0 : -1;
}

static qk_op late_op(const char *name, void *(*create)(const size_t *, uint64_t))
{
    qk_op op = saxpy_op;
    op.name = name;
    op.create = create;
    op.stage = late_stage;
    return op;
}

static int measure_one(const char *op, int staged, char *err, size_t len)
{
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 3;
    o.warmup_ms = 0;
    o.staged = staged;
    qkperf_results res;
    qkperf_results_init(&res);
    size_t dim[2] = {1024, 0};
    int rc =
        qkperf_measure(&o, qk_find_op(op), qk_find_variant(op, "ref"), dim, "1024", &res, err, len);
    if (rc == 0 && staged && !qkperf_results_find(&res, op, "ref", "1024", "add", "time")) {
        snprintf(err, len, "no staged record");
        rc = -1;
    }
    qkperf_results_free(&res);
    return rc;
}

/* stage (abi 2) runs once per workspace before its staged phases, never
 * for a fused-only run; a module of abi 1 is read without the field,
 * whatever the bytes there hold. */
Test(runner, stage_makes_intermediates_only_for_the_staged_view)
{
    static qk_op late, old;
    late = late_op("saxpy-late", late_create);
    old = late_op("saxpy-old", saxpy_create);
    static const qk_op *const late_ops[] = {&late, NULL}, *const old_ops[] = {&old, NULL};
    static const qk_variant late_ref = {"saxpy-late", "ref", "", 0, ref_fused, ref_phases, NULL};
    static const qk_variant old_ref = {"saxpy-old", "ref", "", 0, ref_fused, ref_phases, NULL};
    static const qk_variant *const late_vs[] = {&late_ref, NULL}, *const old_vs[] = {&old_ref,
                                                                                     NULL};
    static const qk_module late_m = {QK_KERNEL_ABI, "late", late_ops, late_vs, NULL};
    static const qk_module old_m = {1, "old", old_ops, old_vs, NULL};
    char err[512] = "";
    cr_assert_eq(qk_register_module(&late_m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qk_register_module(&old_m, err, sizeof err), 0, "abi 1 refused: %s", err);

    cr_assert_eq(measure_one("saxpy-late", 0, err, sizeof err), 0, "%s", err);
    cr_expect_eq(stage_calls, 0, "a fused-only run staged %u times", stage_calls);
    cr_assert_eq(measure_one("saxpy-late", 1, err, sizeof err), 0, "%s", err);
    cr_expect_eq(stage_calls, 1, "a staged run staged %u times", stage_calls);

    stage_calls = 0;
    cr_assert_eq(measure_one("saxpy-old", 1, err, sizeof err), 0, "%s", err);
    cr_expect_eq(stage_calls, 0, "the stage of an abi-1 op was called");
    qk_module future = {QK_KERNEL_ABI + 1, "future", NULL, NULL, NULL};
    cr_expect_eq(qk_register_module(&future, err, sizeof err), -1);
    cr_expect(strstr(err, "qkperf reads 1 to"), "%s", err);
}

/* ---- another build of an op, loaded side by side (qkperf ab) ------------------ */

/* This build's "saxpy-build" is saxpy with an output(); the other
 * build's op of that name lays its workspace out differently (as a build
 * with another repacked layout would), and its kernels read only that. */
enum { OTHER_MAGIC = 0x07e8b11d };
typedef struct other_ws {
    unsigned magic;
    float *y, *t, *x; /* another order than saxpy_ws */
    size_t n;
} other_ws;
static unsigned other_creates, other_stages, other_misreads;

static const float *saxpy_output(const void *p, size_t *n)
{
    const saxpy_ws *w = p;
    *n = w->n;
    return w->y;
}

static void *other_create(const size_t *dim, uint64_t seed)
{
    saxpy_ws *s = saxpy_create(dim, seed); /* the same inputs from the same seed */
    other_ws *w = calloc(1, sizeof *w);
    *w = (other_ws){OTHER_MAGIC, s->y, NULL, s->x, s->n};
    free(s->t);
    free(s);
    other_creates++;
    return w;
}

static void other_destroy(void *p)
{
    other_ws *w = p;
    free(w->x);
    free(w->y);
    free(w->t);
    free(w);
}

static int other_stage(void *p)
{
    other_ws *w = p;
    other_stages++;
    if (!w->t)
        w->t = calloc(w->n, sizeof(float));
    return w->t ? 0 : -1;
}

static double other_compare(const void *a, const void *b)
{
    const other_ws *wa = a, *wb = b;
    double worst = 0;
    for (size_t i = 0; i < wa->n; i++)
        worst = fmax(worst, fabs((double)(wa->y[i] - wb->y[i])));
    return worst;
}

static const float *other_output(const void *p, size_t *n)
{
    const other_ws *w = p;
    *n = w->n;
    return w->y;
}

/* The other build's kernels: 3x + 1 (bad: one element off), on its own layout only. */
static int other_ours(const other_ws *w)
{
    if (w->magic == OTHER_MAGIC)
        return 1;
    other_misreads++;
    return 0;
}

static void other_scale(void *p)
{
    other_ws *w = p;
    for (size_t i = 0; other_ours(w) && w->t && i < w->n; i++)
        w->t[i] = 3.0f * w->x[i];
}

static void other_add(void *p)
{
    other_ws *w = p;
    for (size_t i = 0; other_ours(w) && w->t && i < w->n; i++)
        w->y[i] = w->t[i] + 1.0f;
}

static void other_fused(void *p)
{
    other_ws *w = p;
    for (size_t i = 0; other_ours(w) && i < w->n; i++)
        w->y[i] = 3.0f * w->x[i] + 1.0f;
}

static void other_wrong(void *p)
{
    other_ws *w = p;
    for (size_t i = 0; other_ours(w) && i < w->n; i++)
        w->y[i] = 3.0f * w->x[i] + (i == 5 ? 2.0f : 1.0f);
}

/* output and tolerance were added within abi 1, so a module of abi 1 may
 * end its qk_op before them and whatever follows would be read as a
 * function: such an op's variants are checked through compare() against
 * 1e-3, whatever those bytes hold (here an output() and a tolerance that
 * would let the wrong variant pass). */
static unsigned poison_reads;
static const float *poison_output(const void *p, size_t *n)
{
    const saxpy_ws *w = p;
    poison_reads++;
    *n = w->n;
    return w->y;
}

Test(runner, an_abi1_ops_output_and_tolerance_are_never_read)
{
    static qk_op old;
    old = saxpy_op;
    old.name = "saxpy-abi1";
    old.output = poison_output;
    old.tolerance = 1e9;
    static const qk_op *const old_ops[] = {&old, NULL};
    static const qk_variant old_ref = {"saxpy-abi1", "ref", "", 0, ref_fused, ref_phases, NULL};
    static const qk_variant old_bad = {"saxpy-abi1", "wrong", "", 0, wrong_fused, ref_phases, NULL};
    static const qk_variant *const old_vs[] = {&old_ref, &old_bad, NULL};
    static const qk_module old_m = {1, "old1", old_ops, old_vs, NULL};
    char err[512] = "";
    cr_assert_eq(qk_register_module(&old_m, err, sizeof err), 0, "%s", err);
    cr_expect_null(qk_workspace_output(&old, &old_bad));
    cr_expect_float_eq(qk_op_tolerance(&old), 1e-3, 1e-12);
    size_t dim[2] = {1024, 0};
    cr_expect_eq(qkperf_check_variant(&old, &old_bad, dim, "1024", 1, err, sizeof err), -1,
                 "the wrong variant passed");
    cr_expect(strstr(err, "saxpy-abi1 wrong: output differs from ref by"), "%s", err);
    cr_expect_eq(qkperf_check_variant(&old, &old_ref, dim, "1024", 1, err, sizeof err), 0, "%s",
                 err);
    cr_expect_eq(poison_reads, 0, "an abi-1 op's output() was called %u times", poison_reads);

    /* the same op from a module of this abi: its output and tolerance */
    static qk_op now;
    now = old;
    now.name = "saxpy-abi2";
    now.tolerance = 0.25;
    static const qk_op *const now_ops[] = {&now, NULL};
    static const qk_variant now_ref = {"saxpy-abi2", "ref", "", 0, ref_fused, ref_phases, NULL};
    static const qk_variant *const now_vs[] = {&now_ref, NULL};
    static const qk_module now_m = {QK_KERNEL_ABI, "now", now_ops, now_vs, NULL};
    cr_assert_eq(qk_register_module(&now_m, err, sizeof err), 0, "%s", err);
    cr_expect_eq(qk_workspace_output(&now, &now_ref), poison_output);
    cr_expect_float_eq(qk_op_tolerance(&now), 0.25, 1e-12);
}

Test(runner, another_builds_variants_run_on_its_own_workspaces)
{
    static qk_op here;
    here = saxpy_op;
    here.name = "saxpy-build";
    here.output = saxpy_output;
    static const qk_op *const here_ops[] = {&here, NULL};
    static const qk_variant here_ref = {"saxpy-build", "ref", "", 0, ref_fused, ref_phases, NULL};
    static const qk_variant *const here_vs[] = {&here_ref, NULL};
    static const qk_module here_m = {QK_KERNEL_ABI, "here", here_ops, here_vs, NULL};
    char err[512] = "";
    cr_assert_eq(qk_register_module(&here_m, err, sizeof err), 0, "%s", err);

    static qk_op there;
    there = here;
    there.create = other_create;
    there.destroy = other_destroy;
    there.stage = other_stage;
    there.output = other_output;
    there.compare = NULL;
    static const qk_op *const there_ops[] = {&there, NULL};
    static const qk_phase other_phases[] = {{other_scale, NULL, NULL}, {other_add, NULL, NULL}};
    static const qk_variant there_ref = {"saxpy-build", "ref",        "",  0,
                                         other_fused,   other_phases, NULL};
    static const qk_variant there_bad = {"saxpy-build", "bad",        "",  0,
                                         other_wrong,   other_phases, NULL};
    static const qk_variant *const there_vs[] = {&there_ref, &there_bad, NULL};
    static const qk_module there_m = {QK_KERNEL_ABI, "other", there_ops, there_vs, NULL};
    cr_assert_eq(qk_register_prefixed(&there_m, "new", err, sizeof err), 0, "%s", err);

    const qk_variant *v = qk_find_variant("saxpy-build", "new:ref");
    cr_assert_not_null(v);
    cr_expect_eq(qk_workspace_op(&here, v), &there);
    cr_expect_eq(qk_workspace_op(&here, &here_ref), &here);
    cr_assert_eq(measure_one("saxpy-build", 1, err, sizeof err), 0, "%s", err); /* this build's */
    cr_expect_eq(other_creates, 0);

    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 3;
    o.warmup_ms = 0;
    qkperf_results res;
    qkperf_results_init(&res);
    size_t dim[2] = {1024, 0};
    cr_assert_eq(qkperf_measure(&o, &here, v, dim, "1024", &res, err, sizeof err), 0, "%s", err);
    cr_expect_eq(other_misreads, 0, "the other build's kernels were handed this build's workspace");
    cr_expect(other_creates >= 2, "its workspaces: %u from its own create", other_creates);
    cr_expect_eq(other_stages, 1, "its stage ran %u times", other_stages);
    cr_expect_not_null(qkperf_results_find(&res, "saxpy-build", "new:ref", "1024", "add", "time"));
    qkperf_results_free(&res);

    /* its output is checked against this build's reference, element by element */
    const qk_variant *bad = qk_find_variant("saxpy-build", "new:bad");
    cr_assert_not_null(bad);
    cr_expect_eq(qkperf_check_variant(&here, bad, dim, "1024", 1, err, sizeof err), -1);
    cr_expect(strstr(err, "new:bad at 1024 disagrees with its reference ref: first mismatch at "
                          "index 5"),
              "%s", err);
    cr_expect_eq(other_misreads, 0);

    /* an abi-1 build (its qk_op may end before output; builds before
     * output() was set): its own workspaces still, its variants checked
     * against its own reference through its own compare() */
    static qk_op there1;
    there1 = there;
    there1.output = other_output; /* past an abi-1 struct's end: never read */
    there1.compare = other_compare;
    static const qk_op *const there1_ops[] = {&there1, NULL};
    static const qk_module old_m = {1, "old", there1_ops, there_vs, NULL};
    cr_assert_eq(qk_register_prefixed(&old_m, "old", err, sizeof err), 0, "%s", err);
    const qk_variant *oref = qk_find_variant("saxpy-build", "old:ref"),
                     *obad = qk_find_variant("saxpy-build", "old:bad");
    cr_assert(oref && obad);
    cr_expect_eq(qk_workspace_op(&here, obad), &there1);
    cr_expect_null(qk_workspace_output(&here, obad));
    cr_expect_eq(qk_check_reference(&here, obad), oref);
    cr_expect_eq(qkperf_check_variant(&here, oref, dim, "1024", 1, err, sizeof err), 0, "%s", err);
    cr_expect_eq(qkperf_check_variant(&here, obad, dim, "1024", 1, err, sizeof err), -1);
    cr_expect(strstr(err, "old:bad: output differs from old:ref by 1"), "%s", err);
    cr_expect_eq(other_misreads, 0);
}

/* -n accepts up to 100000 samples: every record keeps all of them (the
 * throughput records were cut at 1024). */
Test(runner, every_sample_is_kept_past_1024)
{
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 1500;
    o.warmup_ms = 0;
    o.min_sample_us = 1;
    o.staged = 0;
    o.sw = 0;
    qkperf_results res;
    qkperf_results_init(&res);
    char err[512] = "";
    size_t dim[2] = {256, 0};
    cr_assert_eq(qkperf_measure(&o, qk_find_op("saxpy-test"), qk_find_variant("saxpy-test", "ref"),
                                dim, "256", &res, err, sizeof err),
                 0, "measure failed: %s", err);
    const char *metrics[] = {"time", "throughput", "bandwidth"};
    for (int i = 0; i < 3; i++) {
        const qkperf_record *t =
            qkperf_results_find(&res, "saxpy-test", "ref", "256", "total", metrics[i]);
        cr_assert_not_null(t, "no %s record", metrics[i]);
        cr_expect_eq(t->n, 1500, "%s keeps %zu of 1500 samples", metrics[i], t->n);
    }
    qkperf_results_free(&res);
}

Test(runner, hw_metrics_are_na_with_reason_or_counted)
{
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 3;
    o.warmup_ms = 0;
    const char *groups[] = {"CYCLES", NULL};
    o.groups = groups;
    qkperf_results res;
    qkperf_results_init(&res);
    char err[512] = "";
    size_t dim[2] = {1024, 0};
    cr_assert_eq(qkperf_measure(&o, qk_find_op("saxpy-test"), qk_find_variant("saxpy-test", "ref"),
                                dim, "1024", &res, err, sizeof err),
                 0, "%s", err);
    size_t hw = 0;
    for (size_t i = 0; i < res.n; i++) {
        const qkperf_record *x = &res.rec[i];
        if (strcmp(x->source, "hw"))
            continue;
        hw++;
        if (x->counted)
            cr_expect(isfinite(x->median), "%s counted but median %g", x->metric, x->median);
        else
            cr_expect(x->why[0] != '\0' && x->n == 0 && isnan(x->median),
                      "%s n/a must carry a reason and no value", x->metric);
    }
    cr_expect_gt(hw, 0, "the CYCLES group gave no hw records at all");
    qkperf_results_free(&res);
}

Test(runner, wrong_output_is_refused)
{
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 3;
    qkperf_results res;
    qkperf_results_init(&res);
    char err[512] = "";
    size_t dim[2] = {256, 0};
    int rc = qkperf_measure(&o, qk_find_op("saxpy-test"), qk_find_variant("saxpy-test", "wrong"),
                            dim, "256", &res, err, sizeof err);
    cr_expect_eq(rc, -1);
    cr_expect(strstr(err, "differs from ref") != NULL, "message: %s", err);
    cr_expect_eq(res.n, 0);
    qkperf_results_free(&res);
}

/* ---- a fake PMU behind the perf.h seams ------------------------------------------
 * Every non-software event (and any member of such a group) "opens" as the
 * read end of a pipe. The group's events count (k + 2) per ns of enabled
 * time, k their position: cycles 2/ns, instructions 3/ns, so IPC is exactly
 * 1.5 after any empty-cost subtraction. DISABLE writes the group's
 * PERF_FORMAT_GROUP|ID|TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING record into the
 * leader's pipe (members in reverse order: values are matched by ID), so the
 * stop's read(2) gets it. running_stalls keeps time_running from moving. */
enum { FAKE_MAX = 8, FAKE_ID0 = 1000 };

static struct {
    int rd[FAKE_MAX], wr[FAKE_MAX];
    size_t n;
    uint64_t count[FAKE_MAX];
    uint64_t enabled, running, t_on;
    int running_stalls;
} fake;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fake_index(int fd)
{
    for (size_t i = 0; i < fake.n; i++)
        if (fake.rd[i] == fd)
            return (int)i;
    return -1;
}

static long fake_pmu_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                          unsigned long flags)
{
    int member = group_fd >= 0 && fake_index(group_fd) >= 0;
    if (attr->type == PERF_TYPE_SOFTWARE && !member)
        return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
    if (pid != 0) { /* the fake counts the calling thread: another is "gone" */
        errno = ESRCH;
        return -1;
    }
    if (group_fd < 0)
        fake.n = 0; /* a new group; the old one's read ends are closed by now */
    int p[2];
    if (fake.n == FAKE_MAX || pipe2(p, O_CLOEXEC) != 0) {
        errno = ENOSPC;
        return -1;
    }
    fake.rd[fake.n] = p[0];
    fake.wr[fake.n] = p[1];
    fake.count[fake.n++] = 0;
    return p[0];
}

static int fake_disable(void)
{
    uint64_t el = now_ns() - fake.t_on;
    uint64_t rec[3 + 2 * FAKE_MAX];
    fake.enabled += el;
    fake.running += fake.running_stalls ? 0 : el;
    rec[0] = fake.n;
    rec[1] = fake.enabled;
    rec[2] = fake.running;
    for (size_t k = 0; k < fake.n; k++) {
        size_t j = fake.n - 1 - k;
        fake.count[j] += fake.running_stalls ? 0 : (j + 2) * el;
        rec[3 + 2 * k] = fake.count[j];
        rec[4 + 2 * k] = FAKE_ID0 + j;
    }
    size_t len = (3 + 2 * fake.n) * sizeof rec[0];
    return write(fake.wr[0], rec, len) == (ssize_t)len ? 0 : -1;
}

static int fake_pmu_ioctl(int fd, unsigned long request, unsigned long arg)
{
    int i = fake_index(fd);
    if (i < 0)
        return ioctl(fd, request, arg);
    switch (request) {
    case PERF_EVENT_IOC_ID:
        *(uint64_t *)(uintptr_t)arg = FAKE_ID0 + (uint64_t)i;
        return 0;
    case PERF_EVENT_IOC_RESET:
        memset(fake.count, 0, sizeof fake.count);
        return 0;
    case PERF_EVENT_IOC_ENABLE:
        fake.t_on = now_ns();
        return 0;
    case PERF_EVENT_IOC_DISABLE:
        return fake_disable();
    default:
        errno = ENOTTY;
        return -1;
    }
}

static void fake_pmu_install(int running_stalls)
{
    memset(&fake, 0, sizeof fake);
    fake.running_stalls = running_stalls;
    qkperf_set_open_fn(fake_pmu_open);
    qkperf_set_ioctl_fn(fake_pmu_ioctl);
}

static void fake_pmu_remove(void)
{
    qkperf_set_open_fn(NULL);
    qkperf_set_ioctl_fn(NULL);
    for (size_t i = 0; i < fake.n; i++)
        close(fake.wr[i]);
}

static void measure_cycles_group(qkperf_results *res)
{
    qkperf_run_opts o;
    qkperf_run_opts_default(&o);
    o.samples = 5;
    o.warmup_ms = 0;
    const char *groups[] = {"CYCLES", NULL};
    o.groups = groups;
    char err[512] = "";
    size_t dim[2] = {4096, 0};
    cr_assert_eq(qkperf_measure(&o, qk_find_op("saxpy-test"), qk_find_variant("saxpy-test", "ref"),
                                dim, "4096", res, err, sizeof err),
                 0, "%s", err);
}

Test(runner, hw_group_on_a_fake_pmu_gives_the_crafted_ratios, .fini = fake_pmu_remove)
{
    fake_pmu_install(0);
    qkperf_results res;
    qkperf_results_init(&res);
    measure_cycles_group(&res);
    static const struct {
        const char *metric;
        double want;
    } derived[] = {{"IPC", 1.5}, {"CPI", 2.0 / 3.0}};
    const char *phases[] = {"scale", "add", "total"};
    for (size_t ph = 0; ph < 3; ph++) {
        for (size_t i = 0; i < 2; i++) {
            const qkperf_record *x = qkperf_results_find(&res, "saxpy-test", "ref", "4096",
                                                         phases[ph], derived[i].metric);
            cr_assert_not_null(x, "%s: no %s record", phases[ph], derived[i].metric);
            cr_expect_str_eq(x->source, "hw");
            cr_expect(x->counted && x->n == 5, "%s %s: counted %d n %zu why '%s'", phases[ph],
                      derived[i].metric, x->counted, (size_t)x->n, x->why);
            cr_expect(isfinite(x->median) && fabs(x->median / derived[i].want - 1) < 1e-12,
                      "%s %s: %.17g, crafted %.17g", phases[ph], derived[i].metric, x->median,
                      derived[i].want);
        }
        const qkperf_record *cyc =
            qkperf_results_find(&res, "saxpy-test", "ref", "4096", phases[ph], "cycles");
        cr_assert_not_null(cyc);
        cr_expect(cyc->counted && cyc->median > 0 && cyc->mux_ratio == 1.0,
                  "%s cycles: %g (mux %g)", phases[ph], cyc->median, cyc->mux_ratio);
    }
    qkperf_results_free(&res);
}

Test(runner, hw_group_never_running_is_na_with_reason, .fini = fake_pmu_remove)
{
    fake_pmu_install(1);
    qkperf_results res;
    qkperf_results_init(&res);
    measure_cycles_group(&res);
    size_t hw = 0;
    for (size_t i = 0; i < res.n; i++) {
        const qkperf_record *x = &res.rec[i];
        if (strcmp(x->source, "hw"))
            continue;
        hw++;
        cr_expect(!x->counted && x->n == 0 && isnan(x->median), "%s %s: counted %d median %g",
                  x->phase, x->metric, x->counted, x->median);
        cr_expect_not_null(strstr(x->why, "time_running = 0"), "%s %s: why '%s'", x->phase,
                           x->metric, x->why);
    }
    cr_expect_geq(hw, 3 * 4, "cycles, instructions, IPC, CPI per phase: %zu", hw);
    const qkperf_record *tc =
        qkperf_results_find(&res, "saxpy-test", "ref", "4096", "total", "task-clock");
    cr_assert_not_null(tc);
    cr_expect(tc->counted, "the sw source is real and unaffected");
    qkperf_results_free(&res);
}
