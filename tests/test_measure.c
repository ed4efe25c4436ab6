/*
 * test_measure.c — qkperf measure and qkperf record on known answers:
 * tests/marker_work (regions a and b of cost 1:3, libqkperf's markers)
 * and tests/inline_work (always-inline work_a and work_b of cost 1:3), run
 * through the qkperf binary as a user runs them; and each bad input is one
 * line, a non-zero exit and no document.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch.h"

static char dir[] = "/tmp/qkperf-measure-test-XXXXXX";

static void make_dir(void)
{
    qkt_scratch_make(dir);
}

static void remove_dir(void)
{
    qkt_scratch_remove(dir);
}

TestSuite(measure, .init = make_dir, .fini = remove_dir);

/* A helper program beside this test (tests/marker_work, tests/inline_work). */
static const char *helper(const char *name)
{
    static char path[2][4096];
    static int k;
    char *p = path[k ^= 1];
    ssize_t len = readlink("/proc/self/exe", p, sizeof path[0] - 64);
    cr_assert_gt(len, 0);
    p[len] = '\0';
    strcpy(strrchr(p, '/') + 1, name);
    return p;
}

/* Run `qkperf ARGS`; stderr into err, stdout into *out when out. */
static int qkperf(const char *args, char *err, size_t errlen, char **out)
{
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin, "QKPERF_BIN is not set (run through make check)");
    char cmd[8192], epath[300], opath[300];
    snprintf(epath, sizeof epath, "%s/stderr", dir);
    snprintf(opath, sizeof opath, "%s/stdout", dir);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", bin, args, opath, epath);
    int st = system(cmd);
    FILE *f = fopen(epath, "r");
    size_t n = f ? fread(err, 1, errlen - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    if (out) {
        f = fopen(opath, "r");
        *out = calloc(1, 1 << 20);
        size_t m = f ? fread(*out, 1, (1 << 20) - 1, f) : 0;
        (*out)[m] = '\0';
        if (f)
            fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The record (source, variant, phase, metric; metric NULL: any), or NULL. */
static json_t *find(json_t *doc, const char *source, const char *variant, const char *phase,
                    const char *metric)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "records"), i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "source")), source) &&
            !strcmp(json_string_value(json_object_get(r, "variant")), variant) &&
            !strcmp(json_string_value(json_object_get(r, "phase")), phase) &&
            (!metric || !strcmp(json_string_value(json_object_get(r, "metric")), metric)))
            return r;
    }
    return NULL;
}

/* A field ("median", "min") of a record of the document (source, variant,
 * phase, metric); NAN when there is none; *counted its counted flag. */
static double field(json_t *doc, const char *name, const char *source, const char *variant,
                    const char *phase, const char *metric, int *counted)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "records"), i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "source")), source) &&
            !strcmp(json_string_value(json_object_get(r, "variant")), variant) &&
            !strcmp(json_string_value(json_object_get(r, "phase")), phase) &&
            !strcmp(json_string_value(json_object_get(r, "metric")), metric)) {
            if (counted)
                *counted = json_is_true(json_object_get(r, "counted"));
            return json_number_value(json_object_get(r, name));
        }
    }
    return __builtin_nan("");
}

static double median(json_t *doc, const char *source, const char *variant, const char *phase,
                     const char *metric, int *counted)
{
    return field(doc, "median", source, variant, phase, metric, counted);
}

static json_t *load(const char *path)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    cr_assert_not_null(doc, "%s: %s", path, je.text);
    return doc;
}

/* ---- measure ------------------------------------------------------------ */

Test(measure, regions_of_cost_1_to_3_time_3_to_1, .timeout = 120)
{
    char args[4096], err[4096], out[300], *text = NULL;
    snprintf(out, sizeof out, "%s/m.json", dir);
    snprintf(args, sizeof args, "measure --source tsc,sw,hw -o %s -- %s -t 2 -r 30 -n 200000", out,
             helper("marker_work"));
    cr_assert_eq(qkperf(args, err, sizeof err, &text), 0, "%s", err);
    cr_expect(strstr(text, "time ns [tsc]") != NULL, "%s", text);
    json_t *doc = load(out);
    for (int t = 0; t < 2; t++) {
        char th[16];
        snprintf(th, sizeof th, "thread%d", t);
        /* The fastest call of each: on a machine shared with other work a
         * call can only be slowed (preempted), never sped up, and two
         * threads on two shared cores are preempted often. */
        double a = field(doc, "min", "tsc", th, "a", "time", NULL);
        double b = field(doc, "min", "tsc", th, "b", "time", NULL);
        double round = median(doc, "tsc", th, "round", "time", NULL);
        cr_expect(b / a > 2.7 && b / a < 3.3, "%s: b/a = %g (a %g ns, b %g ns)", th, b / a, a, b);
        cr_expect(round >= a + b, "%s: the outer region (%g) holds a + b (%g)", th, round, a + b);
        cr_expect_eq(median(doc, "tsc", th, "a", "calls", NULL), 30);
        int counted = 0;
        double tc = median(doc, "sw", th, "b", "task-clock", &counted);
        cr_expect(counted && tc > 0, "%s: task-clock of b %g", th, tc);
        /* hw: counted where there is a PMU, else n/a with the reason, never 0 */
        json_t *hw = find(doc, "hw", th, "a", NULL);
        cr_assert_not_null(hw, "%s: no hw record", th);
        if (json_is_true(json_object_get(hw, "counted")))
            cr_expect_gt(json_number_value(json_object_get(hw, "median")), 0);
        else
            cr_expect(strstr(json_string_value(json_object_get(hw, "reason")), "n/a: ") != NULL);
    }
    json_t *cfg = json_object_get(doc, "config");
    cr_expect_str_eq(json_string_value(json_object_get(cfg, "command")), "measure");
    json_decref(doc);
    free(text);
    /* compare reads it */
    snprintf(args, sizeof args, "compare %s %s", out, out);
    cr_expect_eq(qkperf(args, err, sizeof err, NULL), 0, "compare: %s", err);
}

Test(measure, sim_gives_instructions_in_the_ratio_of_the_loops, .timeout = 300)
{
    char args[4096], err[4096], out[300];
    snprintf(out, sizeof out, "%s/sim.json", dir);
    snprintf(args, sizeof args, "measure -q --source sim -o %s -- %s -r 2 -n 20000", out,
             helper("marker_work"));
    int rc = qkperf(args, err, sizeof err, NULL);
    if (rc != 0 && strstr(err, "valgrind not found"))
        cr_skip_test("%s", err);
    cr_assert_eq(rc, 0, "%s", err);
    json_t *doc = load(out);
    int counted = 0;
    double a = median(doc, "sim", "thread0", "a", "Ir", &counted);
    double b = median(doc, "sim", "thread0", "b", "Ir", NULL);
    cr_assert(counted);
    /* a = k n + c and b = 3 k n + c, k the loop's instructions per
     * iteration (5 as gcc compiles it; another compiler may unroll) and c
     * the marker's own code between the two dumps, the same in both: c is
     * (3a - b) / 2, and a few hundred at most. */
    double c = (3 * a - b) / 2;
    cr_expect(c >= 0 && c < 400, "marker overhead %g (a %g, b %g)", c, a, b);
    cr_expect(a - c >= 20000, "a: %g instructions for 20000 iterations", a - c);
    cr_expect(b / a > 2.98 && b / a < 3.0, "b/a = %g", b / a);
    json_decref(doc);
}

/* Under the test PMU (docs/testpmu.md: each event counts a fixed rate x
 * TSC ticks while enabled) the hardware events are counted per region:
 * cycles in the ratio of the regions, IPC the model's 1.5 on Zen 4. */
Test(measure, hw_events_under_the_test_pmu, .timeout = 120)
{
    const char *pmu = helper(".libs/libtestpmu.so");
    if (access(pmu, R_OK) != 0)
        cr_skip_test("no test PMU built (%s): configure found no libpfm", pmu);
    char args[4096], err[4096], out[300];
    snprintf(out, sizeof out, "%s/hw.json", dir);
    snprintf(args, sizeof args, "--source hw -e cycles,instructions -q -o %s -- %s -r 10 -n 300000",
             out, helper("marker_work"));
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "measure %s", args);
    setenv("QKPERF_TESTPMU", "zen4", 1);
    setenv("LD_PRELOAD", pmu, 1);
    /* an ASan build of qkperf: the preloaded library comes before its runtime */
    setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
    int rc = qkperf(cmd, err, sizeof err, NULL);
    unsetenv("ASAN_OPTIONS");
    unsetenv("LD_PRELOAD");
    unsetenv("QKPERF_TESTPMU");
    cr_assert_eq(rc, 0, "%s", err);
    json_t *doc = load(out);
    int ca = 0, cb = 0;
    double a = median(doc, "hw", "thread0", "a", "cycles", &ca);
    double b = median(doc, "hw", "thread0", "b", "cycles", &cb);
    double ia = median(doc, "hw", "thread0", "a", "instructions", NULL);
    cr_assert(ca && cb, "cycles not counted under the test PMU");
    cr_expect(b / a > 2.7 && b / a < 3.3, "cycles b/a = %g", b / a);
    cr_expect(ia / a > 1.49 && ia / a < 1.51, "IPC of a = %g (the test PMU's 1.5)", ia / a);
    json_decref(doc);
}

static void expect_bad(const char *args, const char *needle, const char *out)
{
    char err[4096];
    int rc = qkperf(args, err, sizeof err, NULL);
    cr_expect(rc != 0 && rc < 128, "'qkperf %s' exited %d", args, rc);
    cr_expect(strstr(err, needle) != NULL, "'qkperf %s': expected '%s' in: %s", args, needle, err);
    /* the last line is qkperf's, and there is one of it */
    const char *q = strstr(err, "qkperf: ");
    cr_expect(q && !strstr(q + 1, "qkperf: ") && strchr(q, '\n')[1] == '\0',
              "'qkperf %s': not one line of qkperf's: %s", args, err);
    if (out)
        cr_expect_neq(access(out, F_OK), 0, "'qkperf %s' wrote %s", args, out);
}

Test(measure, bad_input_is_one_line_and_no_document, .timeout = 60)
{
    char args[4096], out[300];
    const char *mw = helper("marker_work");
    snprintf(out, sizeof out, "%s/bad.json", dir);
    expect_bad("measure -o x.json", "no command after --", NULL);
    expect_bad("measure -- /nonexistent/prog", "command not found: /nonexistent/prog", NULL);
    expect_bad("measure -- qkperf-no-such-command", "command not found", NULL);
    snprintf(args, sizeof args, "measure -e NO_SUCH_EVENT -- %s", mw);
    expect_bad(args, "unknown event 'NO_SUCH_EVENT'", NULL);
    snprintf(args, sizeof args, "measure --source tsc,gpu -- %s", mw);
    expect_bad(args, "unknown source 'gpu'", NULL);
    snprintf(args, sizeof args, "measure -o /nonexistent-dir/x.json -- %s -r 1", mw);
    expect_bad(args, "cannot write /nonexistent-dir/x.json", NULL);
    static const char *const modes[][2] = {
        {"orphan", "end 'a' without its begin"},
        {"open", "region 'a' never ended"},
        {"cross", "end 'a' while 'b' is the innermost region open"},
        {"long", "at most 23 fit"},
    };
    for (size_t i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "measure -o %s -- %s -r 1 -n 10 -m %s", out, mw, modes[i][0]);
        expect_bad(args, modes[i][1], out);
    }
    snprintf(args, sizeof args, "measure -o %s -- %s -x", out, mw);
    expect_bad(args, "exited with status 2", out);
    snprintf(args, sizeof args, "measure -o %s -- /bin/true", out);
    expect_bad(args, "wrote no marker results", out);
}

/* Outside measure the markers do nothing: the program runs, writes no
 * file, and says nothing. */
Test(measure, outside_measure_the_markers_are_silent)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env -u QKPERF_MARKER_OUT %s -r 2 -n 10 -m orphan 2>%s/silent",
             helper("marker_work"), dir);
    cr_expect_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "test ! -s %s/silent", dir);
    cr_expect_eq(system(cmd), 0, "the markers wrote to stderr outside measure");
}

/* ---- record ------------------------------------------------------------- */

static void record_1_to_3(int threads)
{
    char args[4096], err[4096], out[300], *text = NULL;
    snprintf(out, sizeof out, "%s/r%d.json", dir, threads);
    snprintf(args, sizeof args,
             "record --phase a=work_a --phase b=work_b -o %s -- %s -q -t %d -n 2000000 -s 1", out,
             helper("inline_work"), threads);
    cr_assert_eq(qkperf(args, err, sizeof err, &text), 0, "%s", err);
    json_t *doc = load(out);
    double a = median(doc, "sample", "all-threads", "a", "share", NULL);
    double b = median(doc, "sample", "all-threads", "b", "share", NULL);
    double na = median(doc, "sample", "all-threads", "a", "samples", NULL);
    double other = median(doc, "sample", "all-threads", "other", "share", NULL);
    cr_expect(a > 22 && a < 28, "%d thread(s): a %.1f%% (want 25 +- 3)\n%s", threads, a, text);
    cr_expect(b > 72 && b < 78, "%d thread(s): b %.1f%% (want 75 +- 3)\n%s", threads, b, text);
    cr_expect(other < 3, "%d thread(s): other %.1f%%", threads, other);
    cr_expect(na > 200, "%d thread(s): only %g samples of a", threads, na);
    cr_expect(strstr(text, "95% interval") != NULL, "%s", text);
    char want[32];
    snprintf(want, sizeof want, "%d thread%s sampled", threads, threads > 1 ? "s" : "");
    cr_expect(strstr(text, want) != NULL, "no '%s' in: %s", want, text);
    json_decref(doc);
    free(text);
}

Test(measure, record_splits_1_to_3_on_one_thread, .timeout = 120)
{
    record_1_to_3(1);
}

Test(measure, record_splits_1_to_3_on_two_threads, .timeout = 120)
{
    record_1_to_3(2);
}

Test(measure, record_without_phases_is_by_function, .timeout = 60)
{
    char args[4096], err[4096], *text = NULL;
    snprintf(args, sizeof args, "record -- %s -q -n 2000000 -s 0.3", helper("inline_work"));
    cr_assert_eq(qkperf(args, err, sizeof err, &text), 0, "%s", err);
    /* work_a and work_b are inlined: their function is inline_work_round */
    char *row = strstr(text, "inline_work_round");
    cr_assert_not_null(row, "%s", text);
    cr_expect(atof(row + strlen("inline_work_round")) > 90, "%s", text);
    free(text);
}

/* --inline: by the innermost inline frame, so the inlined work_a and
 * work_b (cost 1:3) are rows of their own, named as --phase takes them. */
Test(measure, record_inline_splits_by_inlined_function, .timeout = 60)
{
    char args[4096], err[4096], out[300], *text = NULL;
    snprintf(out, sizeof out, "%s/rinline.json", dir);
    snprintf(args, sizeof args, "record --inline -o %s -- %s -q -n 2000000 -s 1", out,
             helper("inline_work"));
    cr_assert_eq(qkperf(args, err, sizeof err, &text), 0, "%s", err);
    json_t *doc = load(out);
    double a = median(doc, "sample", "all-threads", "work_a", "share", NULL);
    double b = median(doc, "sample", "all-threads", "work_b", "share", NULL);
    double nb = median(doc, "sample", "all-threads", "work_b", "samples", NULL);
    cr_expect(a > 22 && a < 28, "work_a %.1f%% (want 25 +- 3)\n%s", a, text);
    cr_expect(b > 72 && b < 78, "work_b %.1f%% (want 75 +- 3)\n%s", b, text);
    cr_expect(nb > 600, "only %g samples of work_b", nb);
    cr_expect(a + b > 97, "the containing function kept its inline frames' samples:\n%s", text);
    json_decref(doc);
    free(text);
    expect_bad("record --inline --phase a=work_a -- /bin/true", "give one of them", NULL);
}

Test(measure, record_bad_input_is_one_line_and_no_document, .timeout = 60)
{
    char args[4096], out[300];
    const char *iw = helper("inline_work");
    snprintf(out, sizeof out, "%s/rbad.json", dir);
    expect_bad("record --phase a=work_a", "no command after --", NULL);
    expect_bad("record -- /nonexistent/prog", "command not found: /nonexistent/prog", NULL);
    snprintf(args, sizeof args, "record -o %s -- /bin/true", out);
    expect_bad(args, "/bin/true has no debug info", out);
    snprintf(args, sizeof args, "record -o %s --phase a=no_such_fn -- %s -q -r 1", out, iw);
    expect_bad(args, "no function 'no_such_fn' in", out);
    snprintf(args, sizeof args, "record -o %s -e NO_SUCH_EVENT -- %s -q -r 1", out, iw);
    expect_bad(args, "unknown event 'NO_SUCH_EVENT'", out);
    snprintf(args, sizeof args, "record -o /nonexistent-dir/x.json -- %s -q -r 1", iw);
    expect_bad(args, "cannot write /nonexistent-dir/x.json", NULL);
    snprintf(args, sizeof args, "record --phase other=work_a -- %s -q -r 1", iw);
    expect_bad(args, "'other' is taken", NULL);
    snprintf(args, sizeof args, "record -o %s -- %s -q -x", out, iw);
    expect_bad(args, "exited with status 2", out);
}
