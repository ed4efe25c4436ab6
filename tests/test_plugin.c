/*
 * test_plugin.c — plugins as a user meets them (harness/plugin.c): the
 * example plugin (examples/q8_0), built out of tree with pkg-config by
 * make check into tests/plugins/, is listed, checked, measured by run,
 * ladder and review and by the sim, static and sample sources; its
 * deliberately wrong twin is refused with the first mismatch the test
 * computes itself; each bad plugin (tests/plugin_bad.c) gets its line.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "incontext.h"
#include "mca.h"
#include "plugin.h"
#include "results.h"
#include "scratch.h"
#include "sim.h"

static char dir[] = "/tmp/qkperf-plugin-XXXXXX";
static char plugins[PATH_MAX]; /* tests/plugins, beside this binary */
static char out_text[1 << 20], err_text[1 << 14];

static void setup(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    snprintf(plugins, sizeof plugins, "%s/plugins", dirname(self));
    qkt_scratch_make(dir);
}

static void teardown(void)
{
    qkt_scratch_remove(dir);
}

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* qkperf ARGS (a printf format), its stdout and stderr into out_text and
 * err_text; the exit status. */
__attribute__((format(printf, 1, 2))) static int qkperf(const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin, "QKPERF_BIN is not set (run through make check)");
    snprintf(cmd, sizeof cmd, "%s %s >%s/out 2>%s/err", bin, args, dir, dir);
    int st = system(cmd);
    snprintf(cmd, sizeof cmd, "%s/out", dir);
    slurp(cmd, out_text, sizeof out_text);
    snprintf(cmd, sizeof cmd, "%s/err", dir);
    slurp(cmd, err_text, sizeof err_text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static const char *plugin(const char *name)
{
    static char path[4][PATH_MAX + 64];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", plugins, name);
    return path[k];
}

/* The plugin registered in this process too, to know its variants. */
static const qk_op *load(const char *name)
{
    char err[1024];
    cr_assert_eq(qkperf_plugin_load(plugin(name), err, sizeof err), 0, "%s", err);
    const qk_op *op = qk_find_op("q8_0-dot");
    cr_assert_not_null(op);
    return op;
}

static void read_doc(qkperf_results *res, const char *name)
{
    char path[PATH_MAX], err[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(qkperf_results_read_json(res, path, err, sizeof err), 0, "%s", err);
}

static const char *const steps[] = {"scalar", "avx2", "avx2-fma", "avx512-vnni"};
#define QUICK "-s 8x256 -n 3 -g none -q"

TestSuite(plugin, .init = setup, .fini = teardown, .timeout = 120);

Test(plugin, list_shows_the_ops_variants_and_the_file)
{
    cr_assert_eq(qkperf("list --plugin %s", plugin("q8_0.so")), 0, "%s", err_text);
    const char *op = strstr(out_text, "\nq8_0-dot — ggml Q8_0");
    cr_assert_not_null(op, "%s", out_text);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "  phases: load dot scale\n  sizes:  ROWSxCOLS\n  plugin: %s\n",
             plugin("q8_0.so"));
    cr_expect(strstr(op, want), "want '%s' in %s", want, op);
    cr_expect(strstr(op, "  * scalar "), "the reference runs anywhere: %s", op);
    for (size_t i = 1; i < 4; i++) {
        snprintf(want, sizeof want, " %s ", steps[i]);
        cr_expect(strstr(op, want), "%s not listed: %s", steps[i], op);
    }
    cr_expect(strstr(out_text, "\ngemv — "), "the built-in ops stay: %s", out_text);
}

/* Every runnable step passes the checker and is measured, phase by phase. */
Test(plugin, run_checks_and_measures_every_step)
{
    const qk_op *op = load("q8_0.so");
    cr_assert_eq(qkperf("run --plugin %s -k q8_0-dot --source tsc %s -o %s/run.json",
                        plugin("q8_0.so"), QUICK, dir),
                 0, "%s", err_text);
    qkperf_results res;
    read_doc(&res, "run.json");
    for (size_t i = 0; i < 4; i++) {
        const qk_variant *v = qk_find_variant(op->name, steps[i]);
        cr_assert_not_null(v, "%s", steps[i]);
        for (unsigned p = 0; p <= qk_phase_count(op); p++) {
            const char *phase = p < qk_phase_count(op) ? op->phases[p] : "total";
            const qkperf_record *x =
                qkperf_results_find(&res, "q8_0-dot", steps[i], "8x256", phase, "time");
            if (!qk_variant_runnable(v)) {
                cr_expect_null(x, "%s cannot run here, yet measured", steps[i]);
                continue;
            }
            cr_assert_not_null(x, "%s %s", steps[i], phase);
            cr_expect(x->counted && x->n == 3 && x->samples[0] > 0, "%s %s", steps[i], phase);
        }
    }
    qkperf_results_free(&res);
}

/* The wrong variant's first mismatch, found here from the plugin's own
 * workspaces, is the one qkperf names; nothing is written. */
Test(plugin, a_wrong_variant_is_refused_with_its_first_mismatch)
{
    const qk_op *op = load("q8_0-wrong.so");
    const qk_variant *bad = qk_find_variant(op->name, "avx2-wrong");
    const qk_variant *ref = qk_find_variant(op->name, "scalar");
    cr_assert(bad && ref);
    if (!qk_variant_runnable(bad))
        cr_skip_test("avx2-wrong needs AVX2");
    size_t dim[2] = {8, 256}, n, nr;
    void *a = op->create(dim, 1), *b = op->create(dim, 1);
    ref->fused(a);
    bad->fused(b);
    const float *want = op->output(a, &nr), *got = op->output(b, &n);
    cr_assert_eq(n, 8);
    cr_assert_eq(nr, 8);
    size_t i = 0;
    while (i < n &&
           fabs((double)got[i] - (double)want[i]) / fmax(1, fabs((double)want[i])) <= op->tolerance)
        i++;
    cr_assert_lt(i, n, "the wrong variant agrees with the reference");
    char line[512];
    snprintf(line, sizeof line,
             "qkperf: q8_0-dot avx2-wrong at 8x256 disagrees with its reference scalar: first "
             "mismatch at index %zu: got %.9g, expected %.9g (tolerance 0.0001); not measured\n",
             i, (double)got[i], (double)want[i]);
    op->destroy(a);
    op->destroy(b);
    /* the right steps before it in the ladder are not measured either */
    cr_expect_eq(qkperf("ladder --plugin %s -k q8_0-dot --source tsc %s -o %s/wrong.json",
                        plugin("q8_0-wrong.so"), QUICK, dir),
                 1);
    cr_expect_str_eq(err_text, line);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/wrong.json", dir);
    cr_expect_neq(access(path, F_OK), 0, "a refused ladder wrote %s", path);
    cr_expect_eq(qkperf("run --plugin %s -k q8_0-dot -v avx2-wrong --source tsc %s",
                        plugin("q8_0-wrong.so"), QUICK),
                 1);
    cr_expect_str_eq(err_text, line);
    /* the right variants of the same plugin pass */
    cr_expect_eq(qkperf("run --plugin %s -k q8_0-dot -v scalar,avx2 --source tsc %s --format json",
                        plugin("q8_0-wrong.so"), QUICK),
                 0, "%s", err_text);
}

Test(plugin, ladder_steps_through_every_runnable_variant)
{
    const qk_op *op = load("q8_0.so");
    cr_assert_eq(
        qkperf("ladder --plugin %s -k q8_0-dot --source tsc,sw %s", plugin("q8_0.so"), QUICK), 0,
        "%s", err_text);
    cr_expect(strstr(out_text, "ladder q8_0-dot 8x256: "), "%s", out_text);
    const char *prev = NULL;
    for (size_t i = 0; i < 4; i++) {
        if (!qk_variant_runnable(qk_find_variant(op->name, steps[i])))
            continue;
        if (prev) {
            char want[128];
            snprintf(want, sizeof want, "step %s -> %s: ", prev, steps[i]);
            cr_expect(strstr(out_text, want), "no '%s' in %s", want, out_text);
        }
        prev = steps[i];
    }
}

/* sweep adds the reference (scalar) and gives every size a row of each. */
Test(plugin, sweep_measures_every_size_against_scalar)
{
    cr_assert_eq(qkperf("sweep --plugin %s -k q8_0-dot -v avx2 -s 8x256,16x256 -n 3 -g none -q "
                        "--source tsc",
                        plugin("q8_0.so")),
                 0, "%s", err_text);
    const char *rows[] = {"  8x256        scalar ", "  16x256       scalar "};
    for (size_t i = 0; i < 2; i++) {
        const char *at = strstr(out_text, rows[i]);
        cr_assert_not_null(at, "no '%s' in %s", rows[i], out_text);
        cr_expect(strstr(at, "1.00x\n"), "scalar is its own reference: %s", at);
    }
    load("q8_0.so");
    if (qk_variant_runnable(qk_find_variant("q8_0-dot", "avx2")))
        cr_expect(strstr(out_text, "\n               avx2 "), "%s", out_text);
}

Test(plugin, review_reviews_the_plugin_ops, .timeout = 300)
{
    cr_assert_eq(
        qkperf("review --plugin %s --quick -n 3 --no-sim --no-static --no-decode -o %s/rev",
               plugin("q8_0.so"), dir),
        0, "%s", err_text);
    char path[PATH_MAX], report[1 << 16];
    snprintf(path, sizeof path, "%s/rev/REPORT.md", dir);
    slurp(path, report, sizeof report);
    cr_expect(!strncmp(report, "# Plugin kernel review\n", 23), "%.200s", report);
    cr_expect(strstr(report, "### q8_0-dot at 256x4096: staged phases and fused total"), "%s",
              report);
    cr_expect(strstr(report, "| scalar | "), "%s", report);
    cr_expect(!strstr(report, "dequantize"), "libqk256's ops reviewed too: %s", report);
    qkperf_results res;
    read_doc(&res, "rev/results.json");
    json_t *ops = json_object_get(res.config, "plugin_ops");
    cr_expect(json_array_size(ops) == 1 &&
                  !strcmp(json_string_value(json_array_get(ops, 0)), "q8_0-dot"),
              "config.plugin_ops");
    qkperf_results_free(&res);
}

/* callgrind's child loads the plugin too, and the fused kernel is split by
 * the plugin's own inline frames: most of its instructions are a phase's. */
Test(plugin, sim_counts_the_plugin_and_splits_it_in_context, .timeout = 300)
{
#ifdef __SANITIZE_ADDRESS__
    /* QKPERF_BIN is built like this test: valgrind cannot host ASan's shadow memory. */
    cr_skip_test("valgrind cannot run an AddressSanitizer build of qkperf");
#endif
    char why[512];
    if (!qkperf_sim_available(why, sizeof why))
        cr_skip_test("%s", why);
    cr_assert_eq(qkperf("run --plugin %s -k q8_0-dot -v scalar -s 4x256 -n 1 -g none -q "
                        "--source tsc,sim -o %s/sim.json",
                        plugin("q8_0.so"), dir),
                 0, "%s", err_text);
    qkperf_results res;
    read_doc(&res, "sim.json");
    const qkperf_record *total = NULL;
    for (size_t i = 0; i < res.n; i++)
        if (!strcmp(res.rec[i].source, "sim") && !strcmp(res.rec[i].phase, "total") &&
            !strcmp(res.rec[i].metric, "Ir") && strcmp(res.rec[i].view, QKPERF_VIEW_IN_CONTEXT))
            total = &res.rec[i];
    cr_assert(total && total->counted && total->samples[0] > 0, "no sim total Ir");
    double parts = 0;
    static const char *const phases[] = {"load", "dot", "scale"};
    for (size_t p = 0; p < 3; p++) {
        const qkperf_record *x = qkperf_results_find_view(&res, QKPERF_VIEW_IN_CONTEXT, "q8_0-dot",
                                                          "scalar", "4x256", phases[p], "Ir");
        cr_assert(x && x->counted && x->samples[0] > 0, "in-context %s Ir", phases[p]);
        parts += x->samples[0];
    }
    cr_expect_gt(parts, 0.5 * total->samples[0], "phases %g of %g Ir", parts, total->samples[0]);
    cr_expect_leq(parts, total->samples[0]);
    qkperf_results_free(&res);
}

/* The static source models the asm shipped beside the plugin; a plugin
 * without its .s reads n/a with the reason. */
Test(plugin, static_models_the_shipped_asm_else_says_why)
{
    char why[512];
    if (!qkperf_mca_available(why, sizeof why))
        cr_skip_test("%s", why);
    cr_assert_eq(qkperf("run --plugin %s -k q8_0-dot -v scalar,avx2 --no-sw %s "
                        "--source tsc,static -o %s/static.json",
                        plugin("q8_0.so"), QUICK, dir),
                 0, "%s", err_text);
    qkperf_results res;
    read_doc(&res, "static.json");
    static const char *const phases[] = {"load", "dot", "scale"};
    for (size_t p = 0; p < 3; p++) {
        const qkperf_record *x =
            qkperf_results_find(&res, "q8_0-dot", "avx2", "8x256", phases[p], "cycles/elem");
        cr_assert_not_null(x, "static %s", phases[p]);
#ifdef __clang__ /* clang rotates loops: its regions may be broken (HACKING.md) */
        cr_expect(x->counted || strstr(x->why, "q8_0"), "%s: %s", phases[p], x->why);
#else
        cr_expect(x->counted && x->samples[0] > 0, "%s: %s", phases[p], x->why);
#endif
    }
    qkperf_results_free(&res);
    /* the same plugin without its asm beside it */
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp %s %s/alone.so", plugin("q8_0.so"), dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(qkperf("run --plugin %s/alone.so -k q8_0-dot -v scalar --no-sw %s "
                        "--source tsc,static -o %s/alone.json",
                        dir, QUICK, dir),
                 0, "%s", err_text);
    read_doc(&res, "alone.json");
    const qkperf_record *x =
        qkperf_results_find(&res, "q8_0-dot", "scalar", "8x256", "dot", "cycles/elem");
    cr_expect(x && !x->counted && strstr(x->why, "alone.s (the plugin's asm"), "%s",
              x ? x->why : "no record");
    qkperf_results_free(&res);
}

/* The in-context sampling view maps the plugin's addresses to its phases. */
Test(plugin, sampling_splits_the_plugin_by_phase)
{
    cr_assert_eq(qkperf("run --plugin %s -k q8_0-dot -v scalar -s 64x1024 -n 3 -g none -q "
                        "--no-staged --source tsc,sample --sample-count 300 -o %s/ic.json",
                        plugin("q8_0.so"), dir),
                 0, "%s", err_text);
    qkperf_results res;
    read_doc(&res, "ic.json");
    const qkperf_record *x = qkperf_results_find_view(&res, QKPERF_VIEW_IN_CONTEXT, "q8_0-dot",
                                                      "scalar", "64x1024", "dot", "share");
    cr_assert_not_null(x);
    if (!x->counted)
        cr_skip_test("no sampling here: %s", x->why);
    double sum = 0;
    static const char *const parts[] = {"load", "dot", "scale", QKPERF_PHASE_OTHER_NAME};
    for (size_t p = 0; p < 4; p++) {
        x = qkperf_results_find_view(&res, QKPERF_VIEW_IN_CONTEXT, "q8_0-dot", "scalar", "64x1024",
                                     parts[p], "share");
        cr_assert(x && x->counted, "%s", parts[p]);
        for (size_t k = 0; k < x->n; k++)
            sum += x->samples[k] / (double)x->n;
    }
    cr_expect(fabs(sum - 100) < 0.5, "shares add up to %g%%", sum);
    x = qkperf_results_find_view(&res, QKPERF_VIEW_IN_CONTEXT, "q8_0-dot", "scalar", "64x1024",
                                 QKPERF_PHASE_OTHER_NAME, "share");
    cr_expect(x->samples[0] < 60, "most samples are in no phase: the plugin's DWARF was not used");
    qkperf_results_free(&res);
}

/* ---- bad input: one line naming the plugin and the problem, exit 2 ------ */

static void refused(const char *path, const char *needle)
{
    int rc = qkperf("run -k q8_0-dot --plugin %s", path);
    cr_expect_eq(rc, 2, "%s: exit %d: %s", path, rc, err_text);
    cr_expect(strstr(err_text, needle), "%s: want '%s' in: %s", path, needle, err_text);
    char *nl = strchr(err_text, '\n');
    cr_expect(nl && nl[1] == '\0', "%s: not one line: %s", path, err_text);
}

Test(plugin, bad_plugins_are_refused_one_line_each)
{
    char path[PATH_MAX + 64];
    refused("/nonexistent/q8_0.so", "plugin '/nonexistent/q8_0.so': No such file");
    snprintf(path, sizeof path, "%s/notelf.so", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("not a shared object\n", f);
    fclose(f);
    refused(path, "not a shared object (not an ELF file)");
    refused(plugin("bad-object.o"), "not a shared object (ELF type 1; build it with -shared");
    refused(plugin("bad-nosym.so"), "no symbol qkperf_plugin");
    refused(plugin("bad-abi.so"),
            "built for kernel interface abi 99, this qkperf reads abi 1 to 2");
    refused(plugin("bad-clash.so"), "op 'gemv' clashes with the built-in op of that name");
    refused(plugin("bad-empty.so"), "op '' needs a non-empty name");
    refused(plugin("bad-dup.so"), "bad-op variant 'one' is already registered");
    cr_expect_eq(qkperf("list --plugin %s --plugin %s", plugin("q8_0.so"), plugin("q8_0.so")), 2);
    cr_expect(strstr(err_text, "is given twice"), "%s", err_text);
    cr_expect_eq(qkperf("list --plugin %s --plugin %s", plugin("q8_0.so"), plugin("q8_0-wrong.so")),
                 2);
    cr_expect(strstr(err_text, "op 'q8_0-dot' clashes with the other plugin's op"), "%s", err_text);
    cr_expect_eq(qkperf("list --plugin"), 2);
    cr_expect(strstr(err_text, "missing value for option '--plugin'"), "%s", err_text);
    cr_expect_eq(qkperf("list --plugin="), 2);
    cr_expect(strstr(err_text, "--plugin: empty path"), "%s", err_text);
}
