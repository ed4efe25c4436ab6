/*
 * test_baseline.c — baselines and the regression gate: save/load, bad
 * baselines refused with one line and exit 2 while the saved file stays
 * untouched, a killed save leaves the old baseline intact, and compare's
 * exit codes (0 nothing regressed, 1 regressed, 2 bad input); a document
 * whose numbers are strings or out of range is refused naming the record
 * and field; killed saves of any name are cleaned up by a later save.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"
#include "results.h"
#include "scratch.h"

static char dir[] = "/tmp/qkperf-base-XXXXXX";

static void make_dir(void)
{
    qkt_scratch_make(dir);
}

static void remove_dir(void)
{
    qkt_scratch_remove(dir);
}

TestSuite(baseline, .init = make_dir, .fini = remove_dir);

/* A document with one time series per variant, centred on `centre`. */
static void doc(qkperf_results *r, const char *op, const char *variant, double centre)
{
    qkperf_results_init(r);
    json_object_set_new(r->machine, "cpu_model", json_string("test cpu"));
    json_object_set_new(r->config, "op", json_string(op));
    double s[21];
    for (int i = 0; i < 21; i++)
        s[i] = centre * (1.0 + 0.001 * ((i * 7) % 11 - 5));
    qkperf_record x = {.samples = s, .n = 21, .batch = 1, .counted = 1, .mux_ratio = 1};
    strcpy(x.op, op);
    strcpy(x.variant, variant);
    strcpy(x.size, "1024");
    strcpy(x.phase, "total");
    strcpy(x.metric, "time");
    strcpy(x.source, "tsc");
    strcpy(x.unit, "ns");
    cr_assert_eq(qkperf_results_add(r, &x), 0);
}

/* `qkperf ARGS REDIRECT` through the shell; its exit code. */
static int run_qkperf(const char *args, const char *redirect)
{
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s %s", bin, args, redirect);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int sh(const char *fmt, const char *a, const char *b, char *errbuf)
{
    char args[4096], epath[400], redirect[420];
    snprintf(epath, sizeof epath, "%s/stderr", dir);
    snprintf(args, sizeof args, fmt, a, b);
    snprintf(redirect, sizeof redirect, ">/dev/null 2>%s", epath);
    int rc = run_qkperf(args, redirect);
    char *e = qkt_slurp(epath);
    snprintf(errbuf, 1024, "%s", e);
    free(e);
    return rc;
}

Test(baseline, save_load_and_names)
{
    qkperf_results r, back;
    char err[1024];
    doc(&r, "dequantize", "scalar", 100);
    cr_assert_eq(qkperf_baseline_save(&r, dir, "main-1.0", err, sizeof err), 0, "%s", err);
    cr_assert_eq(qkperf_baseline_load(&back, dir, "main-1.0", err, sizeof err), 0, "%s", err);
    cr_expect_eq(back.n, 1);
    qkperf_results_free(&back);
    cr_expect_eq(qkperf_baseline_load(&back, dir, "nope", err, sizeof err), -1);
    cr_expect(strstr(err, "no baseline 'nope'") && strstr(err, "main-1.0"), "%s", err);
    cr_expect_eq(qkperf_baseline_save(&r, dir, "../escape", err, sizeof err), -1);
    cr_expect_eq(qkperf_baseline_save(&r, dir, "", err, sizeof err), -1);
    qkperf_results_free(&r);
}

static void kill_self(const char *tmp)
{
    (void)tmp;
    raise(SIGKILL);
}

Test(baseline, killed_save_leaves_old_baseline_intact)
{
    qkperf_results old, new_;
    char err[1024], path[512];
    doc(&old, "gemv", "scalar", 100);
    doc(&new_, "gemv", "scalar", 999);
    cr_assert_eq(qkperf_baseline_save(&old, dir, "keep", err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/keep.json", dir);
    char *before = qkt_slurp(path);
    pid_t pid = fork();
    if (pid == 0) {
        qkperf_write_hook = kill_self;
        qkperf_baseline_save(&new_, dir, "keep", err, sizeof err);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the save was not killed mid-way");
    char *after = qkt_slurp(path);
    cr_expect_str_eq(after, before, "the old baseline changed");
    qkperf_results back;
    cr_expect_eq(qkperf_results_read_json(&back, path, err, sizeof err), 0, "%s", err);
    qkperf_results_free(&back);
    free(before);
    free(after);
    /* the killed save left its temporary file; a save that completes
     * replaces the baseline and removes that leftover (its writer is gone) */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
    cr_expect_eq(access(tmp, F_OK), 0, "no leftover of the killed save at %s", tmp);
    cr_assert_eq(qkperf_baseline_save(&new_, dir, "keep", err, sizeof err), 0);
    cr_expect_neq(access(tmp, F_OK), 0, "the killed save's %s is still there", tmp);
    cr_assert_eq(qkperf_results_read_json(&back, path, err, sizeof err), 0);
    cr_expect_float_eq(back.rec[0].median, 999, 1.0);
    qkperf_results_free(&back);
    qkperf_results_free(&old);
    qkperf_results_free(&new_);
}

static void touch_file(const char *path, time_t mtime)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("{\"schema\": \"qkperf-res", f);
    fclose(f);
    if (mtime) {
        struct timespec t[2] = {{mtime, 0}, {mtime, 0}};
        cr_assert_eq(utimensat(AT_FDCWD, path, t, 0), 0);
    }
}

/* A killed save of another name leaves "other.json.tmp.PID": the next
 * save into the folder, by a process started after it, removes it; a file
 * of a live process, or one newer than the saving process, stays. */
Test(baseline, killed_saves_of_other_names_are_cleaned_up)
{
    qkperf_results r;
    char err[1024], other[600], live[600], fresh[600];
    doc(&r, "gemv", "scalar", 100);
    pid_t killed = fork();
    if (killed == 0) {
        qkperf_write_hook = kill_self;
        qkperf_baseline_save(&r, dir, "other", err, sizeof err);
        _exit(0);
    }
    int st;
    waitpid(killed, &st, 0);
    cr_assert(WIFSIGNALED(st), "the save was not killed mid-way");
    snprintf(other, sizeof other, "%s/other.json.tmp.%ld", dir, (long)killed);
    cr_assert_eq(access(other, F_OK), 0, "no leftover of the killed save at %s", other);
    snprintf(live, sizeof live, "%s/live.json.tmp.%ld", dir, (long)getpid());
    touch_file(live, time(NULL) - 3600); /* old, but its writer (this test) is alive */
    usleep(100000);                      /* the saver below starts after the leftover */
    pid_t saver = fork();
    if (saver == 0) {
        snprintf(fresh, sizeof fresh, "%s/fresh.json.tmp.%ld", dir, (long)killed);
        touch_file(fresh, 0); /* a gone writer's, but newer than this process */
        _exit(qkperf_baseline_save(&r, dir, "keep", err, sizeof err) ? 1 : 0);
    }
    waitpid(saver, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the save failed");
    snprintf(fresh, sizeof fresh, "%s/fresh.json.tmp.%ld", dir, (long)killed);
    cr_expect_neq(access(other, F_OK), 0, "the killed save's %s is still there", other);
    cr_expect_eq(access(live, F_OK), 0, "a live writer's file was removed");
    cr_expect_eq(access(fresh, F_OK), 0, "a file newer than the saving process was removed");
    qkperf_results_free(&r);
}

/* A document whose numbers are strings or out of range is refused by
 * compare with exit 2 and one line naming the file, record and field. */
Test(baseline, compare_refuses_bad_fields_with_one_line)
{
    static const char *const edits[][3] = {
        {"batch", "\"7\"", "field 'batch' is a string"},
        {"counted", "\"true\"", "field 'counted' is a string"},
        {"multiplex", "7.5", "field 'multiplex' is 7.5, out of range"},
        {"batch", "-1", "field 'batch' is out of range"},
        {"median", "\"100\"", "field 'median' is a string"},
    };
    qkperf_results a;
    char err[1024], good[512];
    doc(&a, "dequantize", "scalar", 100);
    snprintf(good, sizeof good, "%s/good.json", dir);
    cr_assert_eq(qkperf_results_write_json(&a, good, err, sizeof err), 0);
    char *text = qkt_slurp(good);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char key[64], path[512], *out = calloc(1, strlen(text) + 64);
        snprintf(key, sizeof key, "\"%s\": ", edits[i][0]);
        char *at = strstr(text, key);
        cr_assert_not_null(at, "no %s in the document", key);
        char *end = at + strlen(key) + strcspn(at + strlen(key), ",\n");
        sprintf(out, "%.*s%s%s", (int)(at - text + strlen(key)), text, edits[i][1], end);
        snprintf(path, sizeof path, "%s/edit%zu.json", dir, i);
        FILE *f = fopen(path, "w");
        fputs(out, f);
        fclose(f);
        free(out);
        cr_expect_eq(sh("compare %s %s", good, path, err), 2, "case %zu accepted", i);
        char *nl = strchr(err, '\n');
        cr_expect(nl && nl[1] == '\0' && strstr(err, path) && strstr(err, "record 0") &&
                      strstr(err, edits[i][2]),
                  "case %zu: one line naming file, record and field: %s", i, err);
    }
    free(text);
    qkperf_results_free(&a);
}

/* Write r to dir/name (path: its path, 512 bytes) and free it. */
static void save_doc(qkperf_results *r, const char *name, char *path)
{
    char err[1024];
    snprintf(path, 512, "%s/%s", dir, name);
    cr_assert_eq(qkperf_results_write_json(r, path, err, sizeof err), 0, "%s", err);
    qkperf_results_free(r);
}

Test(baseline, compare_exit_codes)
{
    qkperf_results a, same, slower;
    char err[1024], pa[512], ps[512], pw[512];
    doc(&a, "dequantize", "avx2-p1", 100);
    doc(&same, "dequantize", "avx2-p1", 100.05);
    doc(&slower, "dequantize", "avx2-p1", 110);
    save_doc(&a, "a.json", pa);
    save_doc(&same, "same.json", ps);
    save_doc(&slower, "slower.json", pw);
    cr_expect_eq(sh("compare %s %s", pa, ps, err), 0, "%s", err);
    cr_expect_eq(sh("compare %s %s", pa, pw, err), 1, "a 10%% slowdown must gate: %s", err);
    cr_expect_eq(sh("compare %s %s", pw, pa, err), 0, "an improvement is not a regression");
}

/* Rates and shares are better higher: a decode whose tokens/s fell 10%
 * regressed; one whose tokens/s rose did not (save_doc frees each). */
Test(baseline, a_lower_rate_is_a_regression)
{
    static const char *const up[] = {"tokens/s",           "weight B/s",      "memory read B/s",
                                     "bandwidth fraction", "of weights read", "IPC"};
    for (size_t m = 0; m < sizeof up / sizeof up[0]; m++) {
        qkperf_results a, slower;
        char err[1024], pa[512], pw[512];
        doc(&a, "decode", "gemv-i8/repacked", 100);
        doc(&slower, "decode", "gemv-i8/repacked", 90);
        snprintf(a.rec[0].metric, sizeof a.rec[0].metric, "%s", up[m]);
        snprintf(slower.rec[0].metric, sizeof slower.rec[0].metric, "%s", up[m]);
        save_doc(&a, "a.json", pa);
        save_doc(&slower, "slower.json", pw);
        cr_expect_eq(sh("compare %s %s", pa, pw, err), 1, "%s 10%% lower must gate: %s", up[m],
                     err);
        cr_expect_eq(sh("compare %s %s", pw, pa, err), 0, "%s 10%% higher gated: %s", up[m], err);
    }
}

/* n time records (sizes s0 .. s<n-1>), each of 21 samples spread by
 * +-0.5% around centre, record `slow` (if < n) `factor` times slower. */
static void doc_many(qkperf_results *r, size_t n, double centre, size_t slow, double factor)
{
    qkperf_results_init(r);
    json_object_set_new(r->machine, "cpu_model", json_string("test cpu"));
    for (size_t k = 0; k < n; k++) {
        double s[21], c = centre * (k == slow ? factor : 1);
        for (size_t i = 0; i < 21; i++)
            s[i] = c * (1.0 + 0.001 * (double)((int)((i * 7 + k * 3) % 11) - 5));
        qkperf_record x = {.samples = s, .n = 21, .batch = 1, .counted = 1, .mux_ratio = 1};
        strcpy(x.op, "gemv");
        strcpy(x.variant, "avx2-p1");
        snprintf(x.size, sizeof x.size, "s%zu", k);
        strcpy(x.phase, "total");
        strcpy(x.metric, "time");
        strcpy(x.source, "tsc");
        strcpy(x.unit, "ns");
        cr_assert_eq(qkperf_results_add(r, &x), 0);
    }
}

/* What `qkperf ARGS` prints on stdout (up to 1 MB) and its exit code. */
static int run_out(const char *args, char **out)
{
    char opath[400], redirect[420];
    snprintf(opath, sizeof opath, "%s/stdout", dir);
    snprintf(redirect, sizeof redirect, ">%s 2>&1", opath);
    int rc = run_qkperf(args, redirect);
    *out = qkt_slurp(opath);
    return rc;
}

/* 2/10001, the default bootstrap's resolution, times 400 records is over
 * 5%: a family that large must still call a 10% slowdown of one record,
 * and only that one, and say what it can detect. */
Test(baseline, a_family_of_400_records_still_gates, .timeout = 120)
{
    qkperf_results a, same, slower;
    char pa[512], ps[512], pw[512], args[2048];
    doc_many(&a, 400, 100, 400, 1);
    doc_many(&same, 400, 100.05, 400, 1);
    doc_many(&slower, 400, 100, 317, 1.1);
    save_doc(&a, "many-a.json", pa);
    save_doc(&same, "many-same.json", ps);
    save_doc(&slower, "many-slower.json", pw);
    char *out;
    snprintf(args, sizeof args, "compare %s %s", pa, ps);
    cr_expect_eq(run_out(args, &out), 0, "%s", out);
    free(out);
    snprintf(args, sizeof args, "compare --verbose %s %s", pa, pw);
    cr_expect_eq(run_out(args, &out), 1, "a 10%% slowdown in 400 records must gate: %s", out);
    cr_expect_not_null(strstr(out, "Holm over 400 records"), "%s", out);
    char *hit = strstr(out, " s317 ");
    cr_expect(hit && strstr(hit, "] regressed  (detects >= "), "%s", out);
    size_t regressed = 0;
    for (const char *q = out; (q = strstr(q, "] regressed")); q++)
        regressed++;
    cr_expect_eq(regressed, 1, "only s317 regressed: %s", out);
    free(out);
}

Test(baseline, bad_documents_exit_2_and_touch_nothing)
{
    const char *bad[] = {"", "{\"schema\": \"qkperf-results/1\", \"rec", "plain text",
                         "{\"schema\": \"something-else/1\", \"machine\": {}, \"records\": []}"};
    char err[1024], good[512];
    qkperf_results a;
    doc(&a, "dequantize", "scalar", 100);
    snprintf(good, sizeof good, "%s/good.json", dir);
    cr_assert_eq(qkperf_results_write_json(&a, good, err, sizeof err), 0);
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/bad%zu.json", dir, i);
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        char *before = qkt_slurp(path);
        cr_expect_eq(sh("compare %s %s", good, path, err), 2, "case %zu", i);
        char *nl = strchr(err, '\n');
        cr_expect(nl && nl[1] == '\0' && strstr(err, path),
                  "case %zu: one line naming the file: %s", i, err);
        char *after = qkt_slurp(path);
        cr_expect_str_eq(after, before);
        free(before);
        free(after);
    }
    cr_expect_eq(sh("compare %s %s", good, "/nonexistent.json", err), 2);
    cr_expect_eq(sh("compare %s%s", good, "", err), 2, "one file is a usage error");
    qkperf_results_free(&a);
}

Test(baseline, run_refuses_bad_baselines_before_measuring)
{
    qkperf_results g;
    char err[1024], args[1024], path[512];
    doc(&g, "gemv", "scalar", 100);
    cr_assert_eq(qkperf_baseline_save(&g, dir, "gemv-base", err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/gemv-base.json", dir);
    char *before = qkt_slurp(path);
    snprintf(args, sizeof args, "--baseline-dir %s", dir);
    cr_expect_eq(sh("run -k dequantize -s 256 --baseline gemv-base %s%s", args, "", err), 2);
    cr_expect(strstr(err, "baseline 'gemv-base' is for op gemv") != NULL, "%s", err);
    cr_expect_eq(sh("run -k dequantize -s 256 --baseline missing %s%s", args, "", err), 2);
    cr_expect(strstr(err, "no baseline 'missing'") != NULL, "%s", err);
    FILE *f = fopen(path, "w");
    fputs("{\"schema\": \"qkperf-results/1\", \"machine\": {", f); /* truncated */
    fclose(f);
    free(before);
    before = qkt_slurp(path);
    cr_expect_eq(sh("run -k gemv -s 8x256 --baseline gemv-base %s%s", args, "", err), 2);
    cr_expect(strstr(err, "gemv-base.json") != NULL, "%s", err);
    char *after = qkt_slurp(path);
    cr_expect_str_eq(after, before, "a bad baseline must stay untouched");
    free(before);
    free(after);
    qkperf_results_free(&g);
}

/* A figure the baseline counted that the new run lost (counters gone, a
 * metric turned n/a) fails the gate instead of slipping through. */
Test(baseline, lost_records_fail_the_gate)
{
    qkperf_results a, b;
    char err[1024], pa[512], pb[512];
    doc(&a, "gemv", "avx2-p1", 100);
    doc(&b, "gemv", "avx2-p1", 100);
    double s[3] = {5, 5, 5};
    qkperf_record hw = {.samples = s, .n = 3, .batch = 1, .counted = 1, .mux_ratio = 1};
    strcpy(hw.op, "gemv");
    strcpy(hw.variant, "avx2-p1");
    strcpy(hw.size, "1024");
    strcpy(hw.phase, "total");
    strcpy(hw.metric, "instructions");
    strcpy(hw.source, "hw");
    strcpy(hw.unit, "count");
    cr_assert_eq(qkperf_results_add(&a, &hw), 0);
    hw.counted = 0;
    hw.n = 0;
    strcpy(hw.why, "no hardware PMU");
    cr_assert_eq(qkperf_results_add(&b, &hw), 0);
    snprintf(pa, sizeof pa, "%s/with-hw.json", dir);
    snprintf(pb, sizeof pb, "%s/without-hw.json", dir);
    cr_assert_eq(qkperf_results_write_json(&a, pa, err, sizeof err), 0);
    cr_assert_eq(qkperf_results_write_json(&b, pb, err, sizeof err), 0);
    cr_expect_eq(sh("compare %s %s", pa, pb, err), 1, "a lost figure must fail: %s", err);
    cr_expect_eq(sh("compare %s %s", pb, pa, err), 0, "a gained figure is not a failure");
    qkperf_results_free(&a);
    qkperf_results_free(&b);
}

/* With the document on stdout, what the baseline step says goes to stderr. */
Test(baseline, json_on_stdout_stays_parseable_with_baselines, .timeout = 60)
{
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin);
    char cmd[2048], out[512];
    snprintf(out, sizeof out, "%s/stdout.json", dir);
    snprintf(cmd, sizeof cmd,
             "%s run -k dequantize -v scalar -s 256 -n 3 -g none --format json "
             "--baseline-dir %s --save-baseline s1 > %s 2>/dev/null",
             bin, dir, out);
    cr_assert_eq(system(cmd), 0);
    qkperf_results r;
    char err[1024];
    cr_expect_eq(qkperf_results_read_json(&r, out, err, sizeof err), 0, "%s", err);
    qkperf_results_free(&r);
}
