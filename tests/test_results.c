/*
 * test_results.c — the results document: JSON written with jansson parses
 * back to the same records, CSV has one row per record, bad documents give
 * one-line errors, and writes are atomic.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"

static char dir[] = "/tmp/qkperf-results-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void fill(qkperf_results *r)
{
    qkperf_results_init(r);
    json_object_set_new(r->machine, "cpu_model", json_string("test cpu"));
    double s[] = {10, 12, 11, 13, 11, 50};
    qkperf_record x = {.op = "gemv",
                       .variant = "avx2-p1",
                       .size = "64x256",
                       .phase = "unpack",
                       .metric = "time",
                       .source = "tsc",
                       .unit = "ns",
                       .samples = s,
                       .n = 6,
                       .batch = 7,
                       .counted = 1,
                       .mux_ratio = 1.0};
    cr_assert_eq(qkperf_results_add(r, &x), 0);
    qkperf_record na = x;
    strcpy(na.metric, "cycles");
    strcpy(na.source, "hw");
    na.counted = 0;
    na.n = 0;
    strcpy(na.why, "no hardware PMU (ENOENT), with, commas");
    cr_assert_eq(qkperf_results_add(r, &na), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(results, stats_computed_on_add)
{
    qkperf_results r;
    fill(&r);
    cr_expect_float_eq(r.rec[0].median, 11.5, 1e-12);
    cr_expect_float_eq(r.rec[0].min, 10, 1e-12);
    cr_expect_eq(r.rec[0].outliers_high, 1, "50 is a planted outlier, reported");
    cr_expect(isnan(r.rec[1].median), "n/a has no median");
    qkperf_results_free(&r);
}

Test(results, json_round_trip, .init = make_dir)
{
    qkperf_results r, back;
    fill(&r);
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/r.json", dir);
    cr_assert_eq(qkperf_results_write_json(&r, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qkperf_results_read_json(&back, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.n, 2);
    cr_expect_str_eq(back.rec[0].variant, "avx2-p1");
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): n is 2 */
    cr_expect_eq(back.rec[0].n, 6);
    cr_expect_float_eq(back.rec[0].median, 11.5, 1e-12);
    cr_expect_eq(back.rec[0].batch, 7);
    cr_expect_eq(back.rec[1].counted, 0);
    cr_expect_str_eq(back.rec[1].why, "no hardware PMU (ENOENT), with, commas");
    cr_expect_str_eq(json_string_value(json_object_get(back.machine, "cpu_model")), "test cpu");
    qkperf_results_free(&r);
    qkperf_results_free(&back);
}

Test(results, csv_rows_and_quoting, .init = make_dir)
{
    qkperf_results r;
    fill(&r);
    char *csv = qkperf_results_csv_text(&r);
    cr_assert_not_null(csv);
    size_t lines = 0;
    for (char *p = csv; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 3, "header + one row per record");
    cr_expect_not_null(strstr(csv, "\"no hardware PMU (ENOENT), with, commas\""));
    cr_expect_not_null(strstr(csv, "10;12;11;13;11;50"));
    free(csv);
    qkperf_results_free(&r);
}

Test(results, bad_documents_fail_with_one_line, .init = make_dir)
{
    const char *bad[] = {
        "",
        "{\"schema\": \"qkperf-results/1\", \"records\": ",
        "not json at all",
        "{\"schema\": \"other/2\", \"machine\": {}, \"records\": []}",
        "{\"schema\": \"qkperf-results/1\", \"machine\": {}, \"records\": [{\"op\": 3}]}",
        "[1, 2, 3]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256], err[512] = "";
        snprintf(path, sizeof path, "%s/bad%zu.json", dir, i);
        write_file(path, bad[i]);
        qkperf_results r;
        cr_expect_eq(qkperf_results_read_json(&r, path, err, sizeof err), -1, "case %zu accepted",
                     i);
        cr_expect(strstr(err, path) != NULL && strchr(err, '\n') == NULL,
                  "case %zu: message must name the file on one line: %s", i, err);
    }
    char err[512];
    qkperf_results r;
    cr_expect_eq(qkperf_results_read_json(&r, "/nonexistent/x.json", err, sizeof err), -1);
}

Test(results, atomic_write_replaces_or_keeps, .init = make_dir)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    cr_assert_eq(qkperf_write_atomic(path, "old\n", 4, err, sizeof err), 0);
    cr_assert_eq(qkperf_write_atomic(path, "new\n", 4, err, sizeof err), 0);
    FILE *f = fopen(path, "r");
    char buf[16] = "";
    cr_assert_not_null(fgets(buf, sizeof buf, f));
    fclose(f);
    cr_expect_str_eq(buf, "new\n");
    cr_expect_eq(qkperf_write_atomic("/nonexistent-dir/x", "a", 1, err, sizeof err), -1);
    cr_expect(strstr(err, "/nonexistent-dir/x") != NULL, "%s", err);
}
