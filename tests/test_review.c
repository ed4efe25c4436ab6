/*
 * test_review.c — the sprint-review folder: REPORT.md links only files
 * that exist; a missing gnuplot gives one line naming the package, a
 * non-zero exit, and results.json/.csv still written; an existing folder is
 * not clobbered without --force.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"
#include "results.h"
#include "review.h"

static char dir[] = "/tmp/qkperf-review-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

TestSuite(review, .init = make_dir);

static int exists(const char *folder, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* Every markdown link target "](x)" of the report names a file in folder. */
static size_t check_links(const char *report, const char *folder)
{
    size_t links = 0;
    for (const char *p = strstr(report, "]("); p; p = strstr(p + 2, "](")) {
        const char *end = strchr(p + 2, ')');
        cr_assert_not_null(end);
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 2), p + 2);
        cr_expect(exists(folder, name), "REPORT.md links %s, which is not in %s", name, folder);
        links++;
    }
    return links;
}

Test(review, report_links_only_files_that_exist)
{
    const char *src = getenv("QKPERF_SRCDIR");
    cr_assert_not_null(src, "QKPERF_SRCDIR is not set (make check sets it)");
    char fixture[4096], err[1024], path[4096];
    snprintf(fixture, sizeof fixture, "%s/tests/fixtures/results.json", src);
    qkperf_results r;
    cr_assert_eq(qkperf_results_read_json(&r, fixture, err, sizeof err), 0, "%s", err);
    qkperf_plots pl;
    if (qkperf_plot_all(&r, dir, &pl, err, sizeof err))
        cr_skip_test("plots cannot be made here: %s", err);
    /* the report links the documents and probe.txt too: make them as review does */
    snprintf(path, sizeof path, "%s/results.json", dir);
    cr_assert_eq(qkperf_results_write_json(&r, path, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/results.csv", dir);
    cr_assert_eq(qkperf_results_write_csv(&r, path, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/probe.txt", dir);
    FILE *pf = fopen(path, "w");
    fputs("probe\n", pf);
    fclose(pf);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    qkperf_review_report(f, &r, (const char *const *)pl.files, (const char *const *)pl.captions,
                         (const char *const *)pl.skipped);
    fclose(f);
    cr_expect(strstr(buf, "## Headline") && strstr(buf, "## What each step changed") &&
                  strstr(buf, "## What could not be measured here and why"),
              "report sections missing");
    /* the order check names each op of the fixture's sweep with its verdict */
    const char *order = strstr(buf, "## Is every step faster than the one before?");
    cr_expect_not_null(order, "order section missing");
    cr_expect(order && strstr(order, "- **dequantize**: ") && strstr(order, "- **gemv**: "),
              "order check lines missing: %s", order ? order : buf);
    size_t links = check_links(buf, dir);
    cr_expect_gt(links, 5, "the report embeds the plots");
    free(buf);
    qkperf_plots_free(&pl);
    qkperf_results_free(&r);
}

static int run(const char *env, const char *args, char *errbuf, size_t cap)
{
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin);
    char cmd[4096], epath[600];
    snprintf(epath, sizeof epath, "%s.stderr", dir);
    snprintf(cmd, sizeof cmd, "%s %s %s >/dev/null 2>%s", env, bin, args, epath);
    int st = system(cmd);
    FILE *f = fopen(epath, "r");
    size_t n = f ? fread(errbuf, 1, cap - 1, f) : 0;
    errbuf[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(review, missing_gnuplot_still_writes_results, .timeout = 240)
{
    char args[1024], err[65536], out[600];
    snprintf(out, sizeof out, "%s/rv", dir);
    snprintf(args, sizeof args, "review --quick --no-sim --no-static --no-decode -n 3 -o %s", out);
    int rc = run("QKPERF_GNUPLOT=/nonexistent/gnuplot", args, err, sizeof err);
    cr_expect_neq(rc, 0, "review without gnuplot must fail");
    cr_expect(strstr(err, "qkperf: gnuplot not found: install the gnuplot-nox package") != NULL,
              "stderr: %s", err);
    cr_expect(exists(out, "results.json") && exists(out, "results.csv"),
              "results.json and results.csv must still be written");
}

Test(review, existing_folder_is_not_clobbered)
{
    char args[1024], err[4096], out[600], keep[700];
    snprintf(out, sizeof out, "%s/taken", dir);
    mkdir(out, 0755);
    snprintf(keep, sizeof keep, "%s/mine.txt", out);
    FILE *f = fopen(keep, "w");
    fputs("precious\n", f);
    fclose(f);
    snprintf(args, sizeof args, "review --quick -o %s", out);
    cr_expect_eq(run("", args, err, sizeof err), 2);
    cr_expect(strstr(err, "not clobbering it without --force") != NULL, "%s", err);
    char *nl = strchr(err, '\n');
    cr_expect(nl && nl[1] == '\0', "one line: %s", err);
    cr_expect(exists(out, "mine.txt"));
    cr_expect(!exists(out, "results.json"), "nothing was written into it");
}
