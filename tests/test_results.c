/*
 * test_results.c — the results document: JSON written with jansson parses
 * back to the same records, CSV has one row per record, bad documents give
 * one-line errors naming the record and field that is wrong (strings for
 * numbers, numbers out of range, control characters in names, bad bands),
 * and writes are atomic.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"
#include "scratch.h"

static char dir[] = "/tmp/qkperf-results-XXXXXX";

static void make_dir(void)
{
    qkt_scratch_make(dir);
}

static void remove_dir(void)
{
    qkt_scratch_remove(dir);
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

Test(results, json_round_trip, .init = make_dir, .fini = remove_dir)
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

/* Every record says its view; a phase's in-context share and the same
 * phase run alone are two series, found apart; a document from before
 * views were recorded reads as staged/fused; an unknown view is refused. */
Test(results, views_are_kept_apart_and_read_back, .init = make_dir, .fini = remove_dir)
{
    qkperf_results r, back;
    fill(&r);
    double s[] = {3, 4, 5};
    qkperf_record ic = {.op = "gemv",
                        .variant = "avx2-p1",
                        .size = "64x256",
                        .phase = "unpack",
                        .metric = "time",
                        .source = "tsc",
                        .unit = "ns",
                        .view = QKPERF_VIEW_IN_CONTEXT,
                        .samples = s,
                        .n = 3,
                        .batch = 1,
                        .counted = 1,
                        .mux_ratio = 1.0};
    cr_assert_eq(qkperf_results_add(&r, &ic), 0);
    cr_assert_eq(r.n, 3, "an in-context series does not join the staged one");
    cr_expect_str_eq(r.rec[0].view, "staged", "the default view of a phase");
    const qkperf_record *st =
        qkperf_results_find(&r, "gemv", "avx2-p1", "64x256", "unpack", "time");
    const qkperf_record *in =
        qkperf_results_find_view(&r, "in-context", "gemv", "avx2-p1", "64x256", "unpack", "time");
    cr_assert(st && in && st != in);
    cr_expect_float_eq(in->median, 4, 1e-12);
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/v.json", dir);
    cr_assert_eq(qkperf_results_write_json(&r, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qkperf_results_read_json(&back, path, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(back.rec[2].view, "in-context");
    char *csv = qkperf_results_csv_text(&r);
    cr_expect_not_null(strstr(csv, "gemv,avx2-p1,64x256,unpack,in-context,time,tsc"), "%s", csv);
    free(csv);
    qkperf_results_free(&back);

    char old[256], bad[256];
    snprintf(old, sizeof old, "%s/old.json", dir);
    snprintf(bad, sizeof bad, "%s/badview.json", dir);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    cr_assert_not_null(doc);
    json_t *recs = json_object_get(doc, "records");
    json_array_remove(recs, 2);
    json_object_del(json_array_get(recs, 0), "view");
    cr_assert_eq(json_dump_file(doc, old, 0), 0);
    json_object_set_new(json_array_get(recs, 0), "view", json_string("inside"));
    cr_assert_eq(json_dump_file(doc, bad, 0), 0);
    json_decref(doc);
    cr_assert_eq(qkperf_results_read_json(&back, old, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(back.rec[0].view, "staged");
    qkperf_results_free(&back);
    cr_expect_eq(qkperf_results_read_json(&back, bad, err, sizeof err), -1);
    cr_expect(strstr(err, "field 'view' is 'inside'") != NULL, "%s", err);
    qkperf_results_free(&r);
}

Test(results, csv_rows_and_quoting, .init = make_dir, .fini = remove_dir)
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

Test(results, bad_documents_fail_with_one_line, .init = make_dir, .fini = remove_dir)
{
    const char *bad[] = {
        "",
        "{\"schema\": \"qkperf-results/1\", \"records\": ",
        "not json at all",
        "{\"schema\": \"other/2\", \"machine\": {}, \"records\": []}",
        "{\"schema\": \"qkperf-results/1\", \"machine\": {}, \"records\": [{\"op\": 3}]}",
        "[1, 2, 3]",
        /* jansson quotes the bytes near the error: here a newline after a
         * backslash inside a string (found by fuzz_results) */
        "{\"schema\": \"qkperf-results/1\", \"groups\": \"zen4\\\n\"}",
        "{\"a\": \"x\\\t\r\x01\"}",
    };
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

/* A field of record 0 (or of the document) replaced through jansson. */
static void write_edited(const char *good, const char *path, const char *at, const char *key,
                         json_t *value)
{
    json_error_t je;
    json_t *doc = json_load_file(good, 0, &je);
    cr_assert_not_null(doc);
    json_t *obj =
        !strcmp(at, "record") ? json_array_get(json_object_get(doc, "records"), 0)
        : !strcmp(at, "outliers")
            ? json_object_get(json_array_get(json_object_get(doc, "records"), 0), "outliers")
            : json_object_get(doc, at);
    cr_assert_not_null(obj, "no %s", at);
    if (!strcmp(key, "samples[2]"))
        json_array_set_new(json_object_get(obj, "samples"), 2, value);
    else
        json_object_set_new(obj, key, value);
    cr_assert_eq(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
}

/* Each bad field: refused with one line naming the file, the record and
 * the field (a string where a number belongs, a number out of range, a
 * name with a control character, a bad config.bands...). */
Test(results, bad_fields_are_named_with_record_and_field, .init = make_dir, .fini = remove_dir)
{
    struct {
        const char *at, *key;
        json_t *value;
        const char *expect[3];
    } cases[] = {
        {"record",
         "batch",
         json_string("7"),
         {"record 0 (gemv avx2-p1 64x256", "'batch'", "a string"}},
        {"record", "batch", json_integer(-3), {"record 0", "'batch'", "out of range"}},
        {"record", "samples[2]", json_string("11"), {"record 0", "samples[2]", "a string"}},
        {"record", "counted", json_string("true"), {"record 0", "'counted'", "true or false"}},
        {"record", "multiplex", json_real(5), {"record 0", "'multiplex'", "out of range"}},
        {"record", "median", json_string("11.5"), {"record 0", "'median'", "a string"}},
        {"outliers", "low", json_integer(-1), {"record 0", "'low'", "out of range"}},
        {"record", "variant", json_string("a\nb"), {"record 0:", "'variant'", "control character"}},
        {"record", "phase", json_string("x\x1b[31m"), {"record 0:", "'phase'", "byte 0x1b"}},
        {"record", "op", json_string(""), {"record 0:", "'op'", "empty"}},
        {"record", "reason", json_integer(3), {"record 0", "'reason'", "a number"}},
        {"config", "mcpu", json_string("zen\t4"), {"config.mcpu", "control character", ""}},
        {"config", "vari\nts", json_string("x"), {"config.vari\\x0ats", "byte 0x0a", ""}},
        {"config",
         "bands",
         json_pack("{s:f,s:f,s:f,s:f}", "instructions", 0.001, "cycles", 0.02, "time", 2.0, "other",
                   0.05),
         {"config.bands.time", "[0, 1)", ""}},
        {"config", "bands", json_string("time=0.5"), {"config.bands", "an object", ""}},
        {"config", "bootstrap_seed", json_string("1"), {"config.bootstrap_seed", "integer", ""}},
        {"machine", "cpu_model", json_string("cpu\r"), {"machine.cpu_model", "control", ""}},
    };
    qkperf_results r;
    char good[256], err[512];
    fill(&r);
    snprintf(good, sizeof good, "%s/good.json", dir);
    cr_assert_eq(qkperf_results_write_json(&r, good, err, sizeof err), 0, "%s", err);
    qkperf_results_free(&r);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/case%zu.json", dir, i);
        write_edited(good, path, cases[i].at, cases[i].key, cases[i].value);
        err[0] = 0;
        cr_expect_eq(qkperf_results_read_json(&r, path, err, sizeof err), -1, "case %zu accepted",
                     i);
        cr_expect(strstr(err, path) && !strchr(err, '\n'), "case %zu: %s", i, err);
        for (size_t k = 0; k < 3; k++)
            cr_expect(strstr(err, cases[i].expect[k]), "case %zu: no '%s' in: %s", i,
                      cases[i].expect[k], err);
    }
}

/* config.bands and config.bootstrap_seed as qkperf writes them read back. */
Test(results, recorded_bands_read_back, .init = make_dir, .fini = remove_dir)
{
    qkperf_results r, back;
    char path[256], err[512];
    fill(&r);
    json_object_set_new(r.config, "bands",
                        json_pack("{s:f,s:f,s:f,s:f}", "instructions", 0.001, "cycles", 0.02,
                                  "time", 0.5, "other", 0.05));
    json_object_set_new(r.config, "bootstrap_seed", json_integer(7));
    snprintf(path, sizeof path, "%s/bands.json", dir);
    cr_assert_eq(qkperf_results_write_json(&r, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qkperf_results_read_json(&back, path, err, sizeof err), 0, "%s", err);
    cr_expect_float_eq(
        json_number_value(json_object_get(json_object_get(back.config, "bands"), "time")), 0.5,
        1e-12);
    qkperf_results_free(&r);
    qkperf_results_free(&back);
}

Test(results, atomic_write_replaces_or_keeps, .init = make_dir, .fini = remove_dir)
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
