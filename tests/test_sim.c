/*
 * test_sim.c — the sim source (callgrind) against known answers: an exact
 * instruction count from the calibration loop, D1 misses of a strided walk
 * outside and inside D1, identical figures from two runs, the sprint's p1
 * claim for the unpack phase, AVX-512 variants listed as skipped, and a
 * failing child reported in one line.
 *
 * The valgrind child is the built qkperf (QKPERF_BIN, set by make check);
 * tests that need valgrind skip with the reason when it is missing. Sizes
 * are small: valgrind runs the child some 50 times slower than native.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib.h"
#include "registry.h"
#include "results.h"
#include "scratch.h"
#include "sim.h"

/* Registered in this process only: the child does not know it. */
static void parent_only(void *ws)
{
    (void)ws;
}
static const qk_phase parent_only_phases[] = {{parent_only, NULL, NULL}};
static const qk_variant fake_avx512 = {.op = "calib-ir",
                                       .name = "fake-avx512",
                                       .summary = "needs AVX-512; never run",
                                       .isa = QK_ISA_AVX512,
                                       .fused = parent_only,
                                       .phases = parent_only_phases};
static const qk_variant unknown_to_child = {.op = "calib-ir",
                                            .name = "parent-only",
                                            .summary = "registered in the test only",
                                            .fused = parent_only};
static const qk_variant *const test_variants[] = {&fake_avx512, &unknown_to_child, NULL};
static const qk_module test_module = {QK_KERNEL_ABI, "sim-test", NULL, test_variants, NULL};

static qkperf_results res;

static void setup(void)
{
    char err[256];
    qkperf_calib_register();
    cr_assert_eq(qk_register_module(&test_module, err, sizeof err), 0, "%s", err);
    qkperf_results_init(&res);
}

static void teardown(void)
{
    qkperf_results_free(&res);
}

TestSuite(sim, .init = setup, .fini = teardown);

static void need_sim(void)
{
#ifdef __SANITIZE_ADDRESS__
    /* QKPERF_BIN is built like this test: valgrind cannot host ASan's shadow memory. */
    cr_skip_test("valgrind cannot run an AddressSanitizer build of qkperf");
#endif
    char why[256];
    if (!qkperf_sim_available(why, sizeof why))
        cr_skip_test("sim source unavailable: %s", why);
    cr_assert_not_null(getenv("QKPERF_BIN"), "QKPERF_BIN is not set (run through make check)");
}

/* Measure op/variant at size (staged) into res; fails the test on error. */
static void measure(const char *op_name, const char *variant, const char *size)
{
    const qk_op *op = qk_find_op(op_name);
    const qk_variant *v = qk_find_variant(op_name, variant);
    cr_assert(op && v, "%s %s is not registered", op_name, variant);
    size_t dim[QK_MAX_DIMS] = {strtoul(size, NULL, 10)};
    char err[512] = "";
    int rc = qkperf_sim_measure(op, v, dim, size, 1, 1, &res, err, sizeof err);
    cr_assert_eq(rc, 0, "sim %s %s %s: %s", op_name, variant, size, err);
}

static double value(const char *op, const char *variant, const char *size, const char *phase,
                    const char *metric)
{
    const qkperf_record *r = qkperf_results_find(&res, op, variant, size, phase, metric);
    cr_assert_not_null(r, "no record %s %s %s %s %s", op, variant, size, phase, metric);
    cr_assert(r->counted && r->n == 1 && r->batch == 1, "%s %s %s: not one counted sample (%s)",
              variant, phase, metric, r->why);
    cr_assert_str_eq(r->source, "sim");
    return r->samples[0];
}

Test(sim, instruction_count_is_exact)
{
    need_sim();
    const double n = 12345;
    measure("calib-ir", "asm", "12345");
    double want = QKPERF_CALIB_IR_PER_ITER * n + QKPERF_CALIB_IR_EXTRA;
    for (int i = 0; i < 2; i++) {
        const char *phase = i ? "loop" : "total";
        cr_expect_eq(value("calib-ir", "asm", "12345", phase, "Ir"), want, "%s: Ir %.0f, want %.0f",
                     phase, value("calib-ir", "asm", "12345", phase, "Ir"), want);
        cr_expect_eq(value("calib-ir", "asm", "12345", phase, "Dr"), 1, "%s: one load of N", phase);
        cr_expect_eq(value("calib-ir", "asm", "12345", phase, "Dw"), 0);
        cr_expect_float_eq(value("calib-ir", "asm", "12345", phase, "Ir/elem"), want / n, 1e-12);
    }
}

/* 256 KiB (4096 lines, 8 x D1): every line misses D1 on every walk. */
Test(sim, walk_larger_than_d1_misses_every_line)
{
    need_sim();
    measure("calib-stride", "c", "262144");
    double lines = (double)qkperf_calib_stride_lines(262144);
    for (int i = 0; i < 2; i++) {
        const char *phase = i ? "loop" : "total";
        double d1mr = value("calib-stride", "c", "262144", phase, "D1mr");
        cr_expect(fabs(d1mr - lines) <= 0.01 * lines, "%s: D1mr %.0f, want %.0f +- 1%%", phase,
                  d1mr, lines);
        /* one load per line, plus the workspace's buffer pointer and count */
        double dr = value("calib-stride", "c", "262144", phase, "Dr");
        cr_expect(dr >= lines && dr <= lines + 4, "%s: Dr %.0f, want %.0f + at most 4", phase, dr,
                  lines);
    }
}

/* 16 KiB (256 lines, half of D1), warmed: nothing misses. */
Test(sim, walk_inside_d1_after_warm_up_does_not_miss)
{
    need_sim();
    measure("calib-stride", "c", "16384");
    double lines = (double)qkperf_calib_stride_lines(16384);
    double d1mr = value("calib-stride", "c", "16384", "total", "D1mr");
    cr_expect(d1mr < 0.01 * lines, "D1mr %.0f, want < 1%% of %.0f lines", d1mr, lines);
    cr_expect_lt(value("calib-stride", "c", "16384", "total", "D1 miss ratio"), 0.01);
}

/* The second run's samples join the first's series (same record keys):
 * each series then holds two samples, and they must be equal. */
Test(sim, two_runs_give_identical_figures)
{
    need_sim();
    measure("calib-stride", "c", "65536");
    size_t first = res.n;
    measure("calib-stride", "c", "65536");
    cr_assert_eq(res.n, first, "the second run added new series instead of samples");
    for (size_t i = 0; i < res.n; i++) {
        if (!res.rec[i].counted)
            continue;
        cr_assert_eq(res.rec[i].n, 2, "%s %s: %zu samples", res.rec[i].phase, res.rec[i].metric,
                     res.rec[i].n);
        cr_expect(res.rec[i].samples[0] == res.rec[i].samples[1] ||
                      (isnan(res.rec[i].samples[0]) && isnan(res.rec[i].samples[1])),
                  "%s %s: %g then %g", res.rec[i].phase, res.rec[i].metric, res.rec[i].samples[0],
                  res.rec[i].samples[1]);
    }
}

/* In context: the fused kernel's exact counts split by phase through its
 * inline frames; every phase gets its part, and the parts with "other"
 * add up to the fused total exactly, twice the same. */
Test(sim, in_context_parts_add_up_to_the_fused_total_exactly)
{
    need_sim();
    const qk_op *op = qk_find_op("gemv");
    const qk_variant *v = qk_find_variant("gemv", "avx2-p1-p4");
    if (!qk_variant_runnable(v))
        cr_skip_test("this CPU cannot run avx2-p1-p4 (needs %s)", qk_isa_names(v->isa));
    size_t dim[QK_MAX_DIMS] = {64, 512};
    char err[512] = "";
    for (int run = 0; run < 2; run++)
        cr_assert_eq(qkperf_sim_measure(op, v, dim, "64x512", 1, 0, &res, err, sizeof err), 0, "%s",
                     err);
    static const char *const events[] = {"Ir", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw"};
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
        const qkperf_record *tot =
            qkperf_results_find(&res, "gemv", "avx2-p1-p4", "64x512", "total", events[e]);
        cr_assert(tot && tot->counted && tot->n == 2, "no fused %s", events[e]);
        for (size_t k = 0; k < 2; k++) {
            double parts = 0;
            for (unsigned p = 0; p <= qk_phase_count(op); p++) {
                const char *ph = p < qk_phase_count(op) ? op->phases[p] : "other";
                const qkperf_record *x = qkperf_results_find_view(
                    &res, QKPERF_VIEW_IN_CONTEXT, "gemv", "avx2-p1-p4", "64x512", ph, events[e]);
                cr_assert(x && x->counted && x->n == 2, "no in-context %s %s", ph, events[e]);
                cr_expect_eq(x->samples[0], x->samples[1], "%s %s differs between runs", ph,
                             events[e]);
                parts += x->samples[k];
            }
            cr_expect_eq(parts, tot->samples[k], "%s: parts %.0f, fused %.0f", events[e], parts,
                         tot->samples[k]);
        }
    }
    for (unsigned p = 0; p < qk_phase_count(op); p++) {
        const qkperf_record *x = qkperf_results_find_view(
            &res, QKPERF_VIEW_IN_CONTEXT, "gemv", "avx2-p1-p4", "64x512", op->phases[p], "Ir");
        cr_expect_gt(x->median, 0, "phase %s has no instructions in context", op->phases[p]);
    }
}

/* The sprint's claim: p1 (vector unpack) cuts the instructions of unpack. */
Test(sim, p1_cuts_unpack_instructions_per_element)
{
    need_sim();
    const qk_variant *p1 = qk_find_variant("dequantize", "avx2-p1");
    if (!qk_variant_runnable(p1))
        cr_skip_test("this CPU cannot run avx2-p1 (needs %s)", qk_isa_names(p1->isa));
    measure("dequantize", "avx2-mvp", "1024");
    measure("dequantize", "avx2-p1", "1024");
    double mvp = value("dequantize", "avx2-mvp", "1024", "unpack", "Ir/elem");
    double p = value("dequantize", "avx2-p1", "1024", "unpack", "Ir/elem");
    cr_log_info("dequantize 1024 unpack Ir/elem: avx2-mvp %.3f, avx2-p1 %.3f (p1/mvp = %.3f)", mvp,
                p, p / mvp);
    cr_expect_lt(p, mvp, "p1 unpack %.3f Ir/elem is not below mvp %.3f", p, mvp);
}

Test(sim, avx512_variant_is_listed_as_skipped)
{
    const qk_op *op = qk_find_op("calib-ir");
    size_t dim[QK_MAX_DIMS] = {100};
    char err[512] = "";
    cr_assert_eq(qkperf_sim_measure(op, &fake_avx512, dim, "100", 1, 1, &res, err, sizeof err), 0,
                 "%s", err);
    static const char *const metrics[] = {"Ir", "D1mr", "Ir/elem", "D1 miss ratio"};
    for (size_t m = 0; m < 4; m++)
        for (int i = 0; i < 2; i++) {
            const char *phase = i ? "loop" : "total";
            const qkperf_record *r =
                qkperf_results_find(&res, "calib-ir", "fake-avx512", "100", phase, metrics[m]);
            cr_assert_not_null(r, "no %s record for %s", metrics[m], phase);
            cr_expect_eq(r->counted, 0);
            cr_expect_str_eq(r->source, "sim");
            cr_expect_str_eq(r->why, "valgrind 3.19 cannot run AVX-512: skipped");
        }
}

Test(sim, failing_child_is_reported_in_one_line)
{
    need_sim();
    const qk_op *op = qk_find_op("calib-ir");
    size_t dim[QK_MAX_DIMS] = {100};
    char err[512] = "";
    size_t before = res.n;
    cr_assert_eq(qkperf_sim_measure(op, &unknown_to_child, dim, "100", 1, 1, &res, err, sizeof err),
                 -1);
    cr_expect_eq(res.n, before, "no records on failure");
    cr_expect(strstr(err, "child failed") && strstr(err, "unknown variant 'parent-only'"),
              "err: %s", err);
    cr_expect_null(strchr(err, '\n'), "err is one line: %s", err);
}

/* A cache folder under root: index<i> with level, type and geometry. */
static void fake_cache(const char *root, int i, const char *level, const char *type,
                       const char *size, const char *ways)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/index%d", root, i);
    cr_assert_eq(mkdir(dir, 0777), 0);
    const char *files[][2] = {{"level", level},
                              {"type", type},
                              {"size", size},
                              {"ways_of_associativity", ways},
                              {"coherency_line_size", "64"}};
    for (size_t k = 0; k < 5; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[k][0]);
        FILE *f = fopen(path, "w");
        cr_assert(f);
        fprintf(f, "%s\n", files[k][1]);
        fclose(f);
    }
}

Test(sim, refused_sysfs_geometry_is_named_as_a_fallback)
{
    char root[] = "/tmp/qkperf-test-sim-cache-XXXXXX", d1[64], ll[64], fb[300];
    qkt_scratch_make(root);
    fake_cache(root, 0, "1", "Data", "48K", "12");
    fake_cache(root, 1, "2", "Unified", "2048K", "16");
    fake_cache(root, 2, "3", "Unified", "98304K", "16"); /* 98304 sets: refused */
    qkperf_sim_cache_geometry(root, d1, ll, sizeof d1, fb, sizeof fb);
    cr_expect_str_eq(d1, "49152,12,64");
    cr_expect_str_eq(ll, "33554432,16,64");
    cr_expect(strstr(fb, "fallback geometry --LL=33554432,16,64") &&
                  strstr(fb, "sysfs gave L3 100663296,16,64") && strstr(fb, "not a power of two") &&
                  !strstr(fb, "--D1"),
              "fallback: %s", fb);
    cr_assert_eq(qkt_scratch_remove(root), 0, "could not remove %s", root);
    qkperf_sim_cache_geometry("/nonexistent", d1, ll, sizeof d1, fb, sizeof fb);
    cr_expect(strstr(fb, "--D1=32768,8,64") && strstr(fb, "--LL=") && strstr(fb, "no such cache"),
              "fallback: %s", fb);
}

Test(sim, negative_difference_is_na_not_zero)
{
    double net;
    char why[200] = "";
    cr_assert_eq(qkperf_sim_net(120, 100, &net, why, sizeof why), 0);
    cr_assert_float_eq(net, 20, 0);
    cr_assert_eq(qkperf_sim_net(90, 100, &net, why, sizeof why), -1);
    cr_assert(isnan(net));
    cr_assert(!strncmp(why, "n/a: ", 5) && strstr(why, "90 < 100"), "why: %s", why);
}
