/*
 * test_ab.c — verdicts that hold across runs: run data in the results
 * document (--runs K, a round trip, a bad one refused), compare's
 * multiplicity control and calibrated noise (known answers on made-up
 * documents), and qkperf ab of two builds in one process: the planted
 * slowdown of tests/libqk256slow.so (qk256_impl.h) is called regressed in
 * its phase and fused, a build against a copy of itself is not (with a
 * generous band: no timing threshold that can flake), and a library that
 * is not libqk256 is refused with one line, exit 2, nothing written.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baseline.h"
#include "results.h"
#include "scratch.h"

static char dir[] = "/tmp/qkperf-ab-XXXXXX";

static void make_dir(void)
{
    qkt_scratch_make(dir);
}

static void remove_dir(void)
{
    qkt_scratch_remove(dir);
}

TestSuite(runs, .init = make_dir, .fini = remove_dir);
TestSuite(ab, .init = make_dir, .fini = remove_dir);

static void record(qkperf_record *x, const char *variant, double *s, size_t n)
{
    memset(x, 0, sizeof *x);
    x->samples = s;
    x->n = n;
    x->batch = 1;
    x->counted = 1;
    x->mux_ratio = 1;
    strcpy(x->op, "dequantize");
    strcpy(x->variant, variant);
    strcpy(x->size, "1024");
    strcpy(x->phase, "total");
    strcpy(x->metric, "time");
    strcpy(x->source, "tsc");
    strcpy(x->unit, "ns");
}

/* n samples around centre, spread by 0.1%, deterministic. */
static void fill(double *s, size_t n, double centre)
{
    for (size_t i = 0; i < n; i++)
        s[i] = centre * (1.0 + 0.001 * (double)((int)((i * 7) % 11) - 5));
}

/* A document of `runs` runs of one record, run k centred on centre[k]. */
static void doc_runs(qkperf_results *r, const double *centre, size_t runs, size_t per_run)
{
    qkperf_results_init(r);
    json_object_set_new(r->machine, "cpu_model", json_string("test cpu"));
    for (size_t k = 0; k < runs; k++) {
        qkperf_results one;
        qkperf_record x;
        double s[64];
        qkperf_results_init(&one);
        fill(s, per_run, centre[k]);
        record(&x, "scalar", s, per_run);
        cr_assert_eq(qkperf_results_add(&one, &x), 0);
        cr_assert_eq(qkperf_results_add_run(r, &one), 0);
        qkperf_results_free(&one);
    }
}

Test(runs, run_lengths_and_medians_round_trip)
{
    qkperf_results r, back;
    double c[3] = {100, 110, 90};
    char path[300], err[1024];
    doc_runs(&r, c, 3, 11);
    cr_assert_eq(r.n, 1);
    cr_expect_eq(r.rec[0].nruns, 3);
    cr_expect_eq(r.rec[0].n, 33);
    cr_expect_eq(r.rec[0].run_n[2], 11);
    cr_expect_float_eq(qkperf_record_run_median(&r.rec[0], 1), 110, 1e-9);
    /* sd of log(100, 110, 90) */
    double m = (log(100) + log(110) + log(90)) / 3,
           sd = sqrt((pow(log(100) - m, 2) + pow(log(110) - m, 2) + pow(log(90) - m, 2)) / 2);
    cr_expect_float_eq(qkperf_record_run_spread(&r.rec[0]), sd, 1e-12);
    snprintf(path, sizeof path, "%s/runs.json", dir);
    cr_assert_eq(qkperf_results_write_json(&r, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qkperf_results_read_json(&back, path, err, sizeof err), 0, "%s", err);
    cr_expect_eq(back.rec[0].nruns, 3);
    cr_expect_eq(back.rec[0].run_n[0] + back.rec[0].run_n[1] + back.rec[0].run_n[2], 33);
    qkperf_results_free(&back);
    qkperf_results_free(&r);
}

Test(runs, runs_that_do_not_add_up_are_refused)
{
    char path[300], err[1024];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"schema\":\"qkperf-results/1\",\"machine\":{},\"records\":[{\"op\":\"dequantize\","
          "\"variant\":\"scalar\",\"size\":\"1024\",\"phase\":\"total\",\"metric\":\"time\","
          "\"source\":\"tsc\",\"unit\":\"ns\",\"batch\":1,\"samples\":[1,2,3],\"median\":2,"
          "\"mad\":1,\"min\":1,\"counted\":true,\"multiplex\":1,"
          "\"runs\":[{\"n\":1},{\"n\":1}]}]}",
          f);
    fclose(f);
    qkperf_results r;
    cr_expect_eq(qkperf_results_read_json(&r, path, err, sizeof err), -1);
    cr_expect(strstr(err, "field 'runs' counts 2 samples, the record has 3"), "%s", err);
}

/* Compare to a memory stream; the text and the regressions. */
static int compare_text(const qkperf_results *a, const qkperf_results *b,
                        const qkperf_compare_opts *o, char **text)
{
    size_t len;
    char err[512];
    FILE *f = open_memstream(text, &len);
    int n = qkperf_compare_print(f, a, b, o, "old", "new", err, sizeof err);
    fclose(f);
    return n;
}

Test(runs, within_run_and_multiplicity_are_said)
{
    qkperf_results a, b;
    double c1[1] = {100}, c2[1] = {130};
    doc_runs(&a, c1, 1, 21);
    doc_runs(&b, c2, 1, 21);
    a.rec[0].nruns = b.rec[0].nruns = 0; /* documents from before --runs */
    qkperf_compare_opts o;
    qkperf_compare_opts_init(&o);
    char *t;
    cr_expect_eq(compare_text(&a, &b, &o, &t), 1);
    cr_expect(strstr(t, "multiplicity: Holm over 1 records"), "%s", t);
    cr_expect(strstr(t, "intervals: within-run only: old has no run-to-run data"), "%s", t);
    free(t);
    o.adjust = QKPERF_ADJUST_BH;
    cr_expect_eq(compare_text(&a, &b, &o, &t), 1);
    cr_expect(strstr(t, "multiplicity: Benjamini-Hochberg over 1 records"), "%s", t);
    free(t);
    qkperf_results_free(&a);
    qkperf_results_free(&b);
}

/* +5%, tight within each run: regressed against the 2% band; against a
 * calibration whose runs spread by ~8% (band ~25%) it is not, and the
 * smallest detectable change is printed and larger than the band. */
Test(runs, calibrated_noise_widens_the_band)
{
    qkperf_results a, b, noise;
    double c1[1] = {100}, c2[1] = {105}, cn[4] = {92, 100, 108, 100};
    doc_runs(&a, c1, 1, 21);
    doc_runs(&b, c2, 1, 21);
    doc_runs(&noise, cn, 4, 11);
    qkperf_compare_opts o;
    qkperf_compare_opts_init(&o);
    char *t;
    cr_expect_eq(compare_text(&a, &b, &o, &t), 1, "%s", t);
    free(t);
    o.noise = &noise;
    o.noise_name = "noise.json";
    cr_expect_eq(compare_text(&a, &b, &o, &t), 0, "%s", t);
    cr_expect(strstr(t, "noise: calibrated band from noise.json for 1 of 1 records"), "%s", t);
    const char *d = strstr(t, "(detects >= ");
    cr_assert_not_null(d, "%s", t);
    double pct = atof(d + strlen("(detects >= "));
    double band = qkperf_noise_band(&noise, &a.rec[0], 1, 1) * 100;
    cr_expect(band > 15 && band < 40, "band %g", band);
    cr_expect(pct >= band, "detects %g%% < band %g%%", pct, band);
    free(t);
    qkperf_results_free(&a);
    qkperf_results_free(&b);
    qkperf_results_free(&noise);
}

/* ---- the command line ------------------------------------------------------ */

static const char *bin(void)
{
    const char *b = getenv("QKPERF_BIN");
    cr_assert_not_null(b);
    return b;
}

static void built(char *out, size_t len, const char *rel)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", bin());
    snprintf(out, len, "%s/%s", dirname(copy), rel);
}

static int sh(const char *cmd, char **out, char **errtext)
{
    char full[4096], op[400], ep[400];
    snprintf(op, sizeof op, "%s/stdout", dir);
    snprintf(ep, sizeof ep, "%s/stderr", dir);
    snprintf(full, sizeof full, "%s %s >%s 2>%s", bin(), cmd, op, ep);
    int st = system(full);
    *out = qkt_slurp(op);
    *errtext = qkt_slurp(ep);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* A second libqk256 in a dlmopen namespace brings its own copy of the
 * sanitizer runtime, which the sanitizers refuse. */
static int sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 1;
#endif
#endif
    return 0;
}

/* The line of text holding `key` also holds `what`. */
static int line_has(const char *text, const char *key, const char *what)
{
    const char *at = strstr(text, key);
    if (!at)
        return 0;
    const char *start = at, *end = strchr(at, '\n');
    while (start > text && start[-1] != '\n')
        start--;
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)((end ? end : at + strlen(at)) - start), start);
    return strstr(line, what) != NULL;
}

Test(runs, run_runs_keeps_each_run, .timeout = 120)
{
    char cmd[1024], path[300], err[1024], *out, *e;
    snprintf(path, sizeof path, "%s/r.json", dir);
    snprintf(cmd, sizeof cmd,
             "run -k dequantize -v scalar -s 256 --source tsc -g none -n 4 --runs 3 --warmup 1 "
             "--no-staged -q -o %s",
             path);
    cr_assert_eq(sh(cmd, &out, &e), 0, "%s", e);
    free(out);
    free(e);
    qkperf_results r;
    cr_assert_eq(qkperf_results_read_json(&r, path, err, sizeof err), 0, "%s", err);
    const qkperf_record *x =
        qkperf_results_find(&r, "dequantize", "scalar", "256", "total", "time");
    cr_assert_not_null(x);
    cr_expect_eq(x->nruns, 3);
    cr_expect_eq(x->n, 12);
    cr_expect_eq(json_integer_value(json_object_get(r.config, "runs")), 3);
    qkperf_results_free(&r);
    snprintf(cmd, sizeof cmd, "compare %s %s", path, path);
    cr_expect_eq(sh(cmd, &out, &e), 0, "%s", e);
    cr_expect(strstr(out, "intervals: between runs (3 runs in"), "%s", out);
    free(out);
    free(e);
}

Test(ab, planted_slowdown_is_regressed_in_its_phase_and_fused, .timeout = 180)
{
    if (sanitized())
        cr_skip_test("dlmopen of an instrumented library under the sanitizers");
    char lib[1024], slow[1024], cmd[4096], *out, *e;
    built(lib, sizeof lib, ".libs/libqk256.so");
    built(slow, sizeof slow, "tests/.libs/libqk256slow.so");
    snprintf(cmd, sizeof cmd, "ab %s %s -k dequantize -v scalar -s 1024 -n 15 --warmup 5 -q", lib,
             slow);
    cr_expect_eq(sh(cmd, &out, &e), 1, "%s%s", out, e);
    cr_expect(line_has(out, " unpack ", "] regressed"), "%s", out);
    cr_expect(line_has(out, " total ", "] regressed"), "%s", out);
    cr_expect(strstr(out, "multiplicity: Holm"), "%s", out);
    free(out);
    free(e);
}

Test(ab, a_build_against_a_copy_of_itself_is_no_change, .timeout = 180)
{
    if (sanitized())
        cr_skip_test("dlmopen of an instrumented library under the sanitizers");
    char lib[1024], copy[400], cmd[4096], *out, *e;
    built(lib, sizeof lib, ".libs/libqk256.so");
    snprintf(copy, sizeof copy, "%s/copy.so", dir);
    snprintf(cmd, sizeof cmd, "cp %s %s", lib, copy);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "ab %s %s -k dequantize -v scalar -s 1024 -n 15 --warmup 5 -q --band time=0.5", lib,
             copy);
    cr_expect_eq(sh(cmd, &out, &e), 0, "%s%s", out, e);
    cr_expect(strstr(out, "0 regressed, 0 improved"), "%s", out);
    free(out);
    free(e);
}

Test(ab, a_library_that_is_not_libqk256_is_refused, .timeout = 60)
{
    if (sanitized()) /* ab loads the (instrumented) old build before it checks the new */
        cr_skip_test("dlmopen of an instrumented library under the sanitizers");
    Dl_info info;
    char cmd[4096], lib[1024], doc[400], *out, *e;
    cr_assert(dladdr((void *)json_object, &info) && info.dli_fname);
    built(lib, sizeof lib, ".libs/libqk256.so");
    snprintf(doc, sizeof doc, "%s/ab.json", dir);
    snprintf(cmd, sizeof cmd, "ab %s %s -k dequantize -v scalar -o %s", lib, info.dli_fname, doc);
    cr_expect_eq(sh(cmd, &out, &e), 2, "%s%s", out, e);
    cr_expect(strstr(e, "is not a libqk256 build (no qk256_kernel_module)"), "%s", e);
    cr_expect_eq(strchr(e, '\n'), strrchr(e, '\n'), "more than one line: %s", e);
    cr_expect_neq(access(doc, F_OK), 0, "%s written", doc);
    free(out);
    free(e);
    snprintf(cmd, sizeof cmd, "ab %s /nonexistent/libqk256.so -k dequantize", lib);
    cr_expect_eq(sh(cmd, &out, &e), 2, "%s%s", out, e);
    cr_expect(strstr(e, "cannot load /nonexistent/libqk256.so"), "%s", e);
    free(out);
    free(e);
}
