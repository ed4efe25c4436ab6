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
#include "scratch.h"

static char dir[] = "/tmp/qkperf-review-XXXXXX";

static void make_dir(void)
{
    qkt_scratch_make(dir);
}

static void remove_dir(void)
{
    qkt_scratch_remove(dir);
}

TestSuite(review, .init = make_dir, .fini = remove_dir);

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
    snprintf(epath, sizeof epath, "%s/stderr", dir);
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

/* ---- one attribution: ladder, plot and report give the same verdicts ---- */

enum { MAX_STEPS = 8, MAX_PHASES = 8 };

typedef struct verdicts {
    char phase[MAX_PHASES][24];
    size_t nph;
    int v[MAX_STEPS][MAX_PHASES]; /* -1 none, 0 no change, 1 improved, 2 regressed */
} verdicts;

static void verdicts_init(verdicts *t)
{
    memset(t, 0, sizeof *t);
    memset(t->v, 0xff, sizeof t->v);
}

static int *slot(verdicts *t, size_t step, const char *phase)
{
    size_t p = 0;
    while (p < t->nph && strcmp(t->phase[p], phase))
        p++;
    if (p == t->nph) {
        cr_assert_lt(t->nph, MAX_PHASES);
        snprintf(t->phase[t->nph++], sizeof t->phase[0], "%s", phase);
    }
    cr_assert_lt(step, MAX_STEPS);
    return &t->v[step][p];
}

static int verdict_code(const char *text)
{
    return !strncmp(text, "improved", 8) ? 1 : !strncmp(text, "regressed", 9) ? 2 : 0;
}

/* `qkperf ladder`'s step tables: each "step" heading, then rows
 * "  PHASE  time  before after change [CI]  VERDICT (tsc, band B%)". */
static void ladder_verdicts(const char *text, verdicts *t)
{
    long step = -1;
    for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        char phase[24], metric[48];
        if (!strncmp(l, "step ", 5))
            step++;
        else if (step >= 0 && sscanf(l, " %23s %47s", phase, metric) == 2 &&
                 !strcmp(metric, "time")) {
            const char *end = strstr(l, " (tsc, band");
            cr_assert_not_null(end, "ladder row without its source: %.100s", l);
            const char *w = end;
            while (w > l && w[-1] != ' ')
                w--;
            *slot(t, (size_t)step, phase) = !strncmp(w, "change", 6) ? 0 : verdict_code(w);
        }
    }
}

/* The plot's data file: x,step,phase,pct,ci_lo,ci_hi,verdict,phase_index. */
static void plot_verdicts(const char *path, verdicts *t)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned step;
        char phase[24];
        double pct, lo, hi;
        int v;
        if (line[0] == '#')
            continue;
        cr_assert_eq(
            sscanf(line, "%*[^,],%u,%23[^,],%lf,%lf,%lf,%d", &step, phase, &pct, &lo, &hi, &v), 6,
            "bad row %s", line);
        *slot(t, step, phase) = v;
    }
    fclose(f);
}

/* The report's sentences: "- **a → b** (...): fused time -59% [...], VERDICT.
 * Staged phases: PHASE -72% [...] (VERDICT); ...; within noise: PHASE, PHASE." */
static void report_verdicts(const char *report, verdicts *t)
{
    const char *sec = strstr(report, "### dequantize at 1024");
    cr_assert_not_null(sec, "no attribution section in the report");
    size_t step = 0;
    for (const char *l = strstr(sec, "\n- **"); l && !strncmp(l, "\n- **", 5);
         l = strchr(l + 1, '\n'), step++) {
        const char *eol = strchr(l + 1, '\n'), *fused = strstr(l, "fused time ");
        cr_assert(fused && fused < eol, "no fused time in %.80s", l + 1);
        const char *v = strstr(fused, "], ");
        *slot(t, step, "total") = verdict_code(v + 3);
        const char *staged = strstr(l, "Staged phases: ") + 15,
                   *noise = strstr(l, "within noise: ");
        /* "Staged phases: none moved beyond noise; within noise: ..." */
        if (!strncmp(staged, "none moved beyond noise", 23))
            staged = noise ? noise : eol;
        for (const char *p = staged; p < eol && p != noise;) {
            char phase[24];
            cr_assert_eq(sscanf(p, "%23s", phase), 1);
            const char *paren = strstr(p, "] (");
            cr_assert(paren && paren < eol, "%.80s", p);
            *slot(t, step, phase) = verdict_code(paren + 3);
            p = strstr(paren, "; ");
            p = p && p < eol ? p + 2 : eol;
        }
        for (const char *p = noise && noise < eol ? noise + 14 : eol; p < eol;) {
            char phase[24];
            size_t n = strcspn(p, ",.");
            snprintf(phase, sizeof phase, "%.*s", (int)n, p);
            *slot(t, step, phase) = 0;
            p += n + (p[n] == ',' ? 2 : 1);
            if (p[-1] == '.')
                break;
        }
    }
}

/* A ladder with a noise band far from the default: what it prints, what
 * the plot draws from its document and what the report says of it must be
 * the same verdicts (before, plot and report judged with the default bands
 * and another bootstrap seed). */
Test(review, ladder_plot_and_report_verdicts_agree, .timeout = 120)
{
    const char *src = getenv("QKPERF_SRCDIR");
    if (src) {
        char scripts[4096];
        snprintf(scripts, sizeof scripts, "%s/plots", src);
        setenv("QKPERF_PLOTS_DIR", scripts, 1);
    }
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin);
    char doc[600], text[600], cmd[4096], err[1024], out[600];
    snprintf(doc, sizeof doc, "%s/ladder.json", dir);
    snprintf(text, sizeof text, "%s/ladder.txt", dir);
    snprintf(cmd, sizeof cmd,
             "%s ladder -k dequantize -s 1024 -v scalar,avx2-mvp,avx2-p1 -g none --source tsc "
             "-n 7 -q --band time=0.5 -o %s >%s",
             bin, doc, text);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    qkperf_results r;
    cr_assert_eq(qkperf_results_read_json(&r, doc, err, sizeof err), 0, "%s", err);
    json_t *bands = json_object_get(r.config, "bands");
    cr_assert_float_eq(json_number_value(json_object_get(bands, "time")), 0.5, 1e-12,
                       "config.bands does not record --band");
    qkperf_plots pl;
    snprintf(out, sizeof out, "%s/plots", dir);
    if (qkperf_plot_all(&r, out, &pl, err, sizeof err))
        cr_skip_test("plots cannot be made here: %s", err);
    char *buf = NULL, csv[700];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    qkperf_review_report(f, &r, NULL, NULL, NULL);
    fclose(f);

    verdicts lad, plot, rep;
    verdicts_init(&lad);
    verdicts_init(&plot);
    verdicts_init(&rep);
    char *ltext = qkt_slurp(text);
    ladder_verdicts(ltext, &lad);
    snprintf(csv, sizeof csv, "%s/data/ladder-dequantize-1024.csv", out);
    plot_verdicts(csv, &plot);
    report_verdicts(buf, &rep);
    size_t compared = 0;
    for (size_t s = 0; s < 2; s++)
        for (size_t p = 0; p < plot.nph; p++) {
            int pv = *slot(&plot, s, plot.phase[p]);
            if (pv < 0)
                continue;
            int lv = *slot(&lad, s, plot.phase[p]), rv = *slot(&rep, s, plot.phase[p]);
            cr_expect_eq(lv, pv, "step %zu %s: ladder says %d, plot %d", s, plot.phase[p], lv, pv);
            cr_expect_eq(rv, pv, "step %zu %s: report says %d, plot %d", s, plot.phase[p], rv, pv);
            compared++;
        }
    cr_expect_geq(compared, 8u, "only %zu verdicts compared", compared);
    cr_expect_null(strstr(buf, "records no bands"), "the report used default bands");
    free(ltext);
    free(buf);
    qkperf_plots_free(&pl);
    qkperf_results_free(&r);
}
