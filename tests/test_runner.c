/*
 * test_runner.c — the runner measures any kernel that registers through the
 * kernel interface: a small non-QK256 op (saxpy) with two variants and two
 * phases is profiled end to end with the tsc and sw sources.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
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

static double saxpy_elements(const size_t *dim) { return (double)dim[0]; }
static double saxpy_bytes(const size_t *dim) { return 8.0 * (double)dim[0]; }

static double saxpy_compare(const void *a, const void *b)
{
    const saxpy_ws *wa = a, *wb = b;
    double worst = 0;
    for (size_t i = 0; i < wa->n; i++)
        worst = fmax(worst, fabs(wa->y[i] - wb->y[i]));
    return worst;
}

/* phase 0 "scale": t = 3x; phase 1 "add": y = t + 1; fused does both. */
static void ref_phase(void *p, unsigned phase)
{
    saxpy_ws *w = p;
    for (size_t i = 0; i < w->n; i++) {
        if (phase == 0)
            w->t[i] = 3.0f * w->x[i];
        else
            w->y[i] = w->t[i] + 1.0f;
    }
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
    .name = "saxpy-test", .summary = "y = 3x + 1", .phases = saxpy_phases, .ndim = 1,
    .create = saxpy_create, .destroy = saxpy_destroy, .elements = saxpy_elements,
    .bytes = saxpy_bytes, .compare = saxpy_compare,
};
static const qk_variant saxpy_ref = {"saxpy-test", "ref", "reference", 0, ref_fused, ref_phase};
static const qk_variant saxpy_bad = {"saxpy-test", "wrong", "wrong answer", 0, wrong_fused, ref_phase};

static void setup(void)
{
    cr_assert_eq(qk_register_op(&saxpy_op), 0);
    cr_assert_eq(qk_register_variant(&saxpy_ref), 0);
    cr_assert_eq(qk_register_variant(&saxpy_bad), 0);
}

TestSuite(runner, .init = setup);

Test(runner, registration_is_checked)
{
    cr_expect_eq(qk_register_op(&saxpy_op), -1, "a second op of the same name is refused");
    cr_expect_eq(qk_register_variant(&saxpy_ref), -1);
    qk_variant orphan = {"no-such-op", "x", "", 0, ref_fused, ref_phase};
    cr_expect_eq(qk_register_variant(&orphan), -1);
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
    int rc = qkperf_measure(&o, qk_find_op("saxpy-test"), qk_find_variant("saxpy-test", "ref"),
                            dim, "4096", &res, err, sizeof err);
    cr_assert_eq(rc, 0, "measure failed: %s", err);
    const char *regions[] = {"scale", "add", "total"};
    for (int i = 0; i < 3; i++) {
        const qkperf_record *t = qkperf_results_find(&res, "saxpy-test", "ref", "4096", regions[i], "time");
        cr_assert_not_null(t, "no time record for %s", regions[i]);
        cr_expect(t->counted && t->n == 5 && t->median > 0, "%s: time median %g", regions[i], t->median);
        cr_expect(t->batch >= 1);
        const qkperf_record *tc = qkperf_results_find(&res, "saxpy-test", "ref", "4096", regions[i], "task-clock");
        cr_assert_not_null(tc);
        cr_expect(tc->counted && tc->median > 0, "%s: task-clock (sw) %g", regions[i], tc->median);
        cr_expect_str_eq(tc->source, "sw");
    }
    const qkperf_record *th = qkperf_results_find(&res, "saxpy-test", "ref", "4096", "total", "throughput");
    cr_assert_not_null(th);
    cr_expect(th->median > 1e6, "throughput %g elem/s", th->median);
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
                                dim, "1024", &res, err, sizeof err), 0, "%s", err);
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
