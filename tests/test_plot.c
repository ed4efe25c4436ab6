/*
 * test_plot.c — the plots driver and `qkperf plot`, from the committed
 * fixture tests/fixtures/results.json (real dequantize and gemv runs, a
 * roofline, a few sim/static/hw records, real llvm-mca port records at
 * dequantize 1024): every kind of plot renders; each
 * PNG is a real PNG of the expected size that is not blank (decoded, pixel
 * variety counted); each SVG parses as XML; a missing gnuplot gives the
 * one-line message naming the package; a non-empty output folder is
 * refused without --force; the counters plot draws its panels by priority
 * and none for a metric that is zero everywhere; the port-pressure plot
 * names the llvm-mca CPU model and marks each phase's bottleneck; names
 * from a document (quotes of both kinds, backslashes, backticks, system(),
 * @macros, spaces) are drawn as text and never run, a name with a control
 * character is refused before anything is written; a plot that cannot be
 * finished (a full disk) leaves no folder behind, nor changes an old one.
 *
 * Needs QKPERF_SRCDIR (the source tree: fixture and plots/) in the
 * environment, as `make check` sets it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <libxml/parser.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/commands.h" /* qkperf_cmd_plot */
#include "plot.h"
#include "results.h"
#include "scratch.h"

static char fixture[4096];
static char outdir[] = "/tmp/qkperf-test-plot-XXXXXX";

static void setup(void)
{
    const char *src = getenv("QKPERF_SRCDIR");
    cr_assert(src, "QKPERF_SRCDIR is not set (make check sets it to the source tree)");
    snprintf(fixture, sizeof fixture, "%s/tests/fixtures/results.json", src);
    char scripts[4096];
    snprintf(scripts, sizeof scripts, "%s/plots", src);
    setenv("QKPERF_PLOTS_DIR", scripts, 1);
    unsetenv("QKPERF_GNUPLOT");
    strcpy(outdir, "/tmp/qkperf-test-plot-XXXXXX");
    qkt_scratch_make(outdir);
}

static void teardown(void)
{
    cr_assert_eq(qkt_scratch_remove(outdir), 0, "could not remove %s", outdir);
}

static void load_fixture(qkperf_results *r)
{
    char err[512];
    cr_assert_eq(qkperf_results_read_json(r, fixture, err, sizeof err), 0, "%s", err);
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* Signature, then the IHDR chunk first, with width and height. */
static void check_png_header(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char h[24];
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    cr_assert_eq(fread(h, 1, sizeof h, f), sizeof h, "%s: shorter than a PNG header", path);
    fclose(f);
    cr_assert_eq(memcmp(h, sig, 8), 0, "%s: not a PNG signature", path);
    cr_assert_eq(memcmp(h + 12, "IHDR", 4), 0, "%s: first chunk is not IHDR", path);
    cr_assert_eq(be32(h + 16), 1600u, "%s: width %u", path, be32(h + 16));
    cr_assert_eq(be32(h + 20), 900u, "%s: height %u", path, be32(h + 20));
}

/* Decode and count distinct colours (capped) and non-white pixels: a blank
 * or single-colour image fails. */
static void check_png_pixels(const char *path)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    cr_assert(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
    img.format = PNG_FORMAT_RGB;
    png_bytep px = malloc(PNG_IMAGE_SIZE(img));
    cr_assert(px);
    cr_assert(png_image_finish_read(&img, NULL, px, 0, NULL), "%s: %s", path, img.message);
    unsigned colours[64];
    size_t ncol = 0, ink = 0, n = (size_t)img.width * img.height;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned)px[3 * i] << 16 | (unsigned)px[3 * i + 1] << 8 | px[3 * i + 2];
        ink += c != 0xffffff;
        size_t k = 0;
        while (k < ncol && colours[k] != c)
            k++;
        if (k == ncol && ncol < 64)
            colours[ncol++] = c;
    }
    free(px);
    cr_assert_geq(ncol, 8u, "%s: only %zu colours", path, ncol);
    cr_assert_gt(ink, n / 100, "%s: almost blank (%zu of %zu pixels not white)", path, ink, n);
}

static void check_svg(const char *path)
{
    xmlDocPtr doc =
        xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    cr_assert(doc, "%s does not parse as XML", path);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    cr_assert(root && !strcmp((const char *)root->name, "svg"), "%s: root element is not <svg>",
              path);
    xmlFreeDoc(doc);
}

static int has_prefix(const qkperf_plots *p, const char *prefix)
{
    for (size_t i = 0; i < p->nfiles; i++)
        if (!strncmp(p->files[i], prefix, strlen(prefix)))
            return 1;
    return 0;
}

Test(plot, every_plot_renders_as_real_png_and_svg, .init = setup, .fini = teardown, .timeout = 120)
{
    qkperf_results r;
    qkperf_plots p;
    char err[1024] = "";
    load_fixture(&r);
    cr_assert_eq(qkperf_plot_all(&r, outdir, &p, err, sizeof err), 0, "%s", err);
    static const char *const kinds[] = {
        "breakdown-dequantize-1024.", "ladder-dequantize-1024.",   "throughput-dequantize.",
        "speedup-dequantize.",        "counters-dequantize-1024.", "breakdown-gemv-512x2048.",
        "ladder-gemv-512x2048.",      "throughput-gemv.",          "speedup-gemv.",
        "ports-dequantize-1024."};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        cr_assert(has_prefix(&p, kinds[k]), "no %s* among the %zu files made", kinds[k], p.nfiles);
    for (size_t i = 0; i < p.nfiles; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", outdir, p.files[i]);
        cr_assert(p.captions[i] && *p.captions[i], "%s has no caption", p.files[i]);
        if (strstr(p.files[i], ".png")) {
            check_png_header(path);
            check_png_pixels(path);
        } else {
            check_svg(path);
        }
    }
    qkperf_plots_free(&p);
    qkperf_results_free(&r);
}

/* A document of an op this qkperf does not know (a plugin's, plotted
 * without it): its plots still, phases in the records' order, each phase a
 * colour of its own (not the grey of "other"), and its names drawn as
 * written (an underscore is not a subscript). */
Test(plot, an_op_not_loaded_here_is_plotted_as_its_records_say, .init = setup, .fini = teardown,
     .timeout = 120)
{
    qkperf_results r;
    qkperf_plots p;
    char err[1024] = "";
    load_fixture(&r);
    static const char *const from[] = {"memory", "unpack", "lut", "scale"};
    static const char *const to[] = {"p_one", "p_two", "p_three", "p_four"};
    for (size_t i = 0; i < r.n; i++) {
        qkperf_record *x = &r.rec[i];
        if (strcmp(x->op, "dequantize"))
            continue;
        snprintf(x->op, sizeof x->op, "my_op");
        for (size_t k = 0; k < 4; k++)
            if (!strcmp(x->phase, from[k]))
                snprintf(x->phase, sizeof x->phase, "%s", to[k]);
    }
    cr_assert_eq(qkperf_plot_all(&r, outdir, &p, err, sizeof err), 0, "%s", err);
    static const char *const kinds[] = {"breakdown-my_op-1024.", "ladder-my_op-1024.",
                                        "throughput-my_op.", "speedup-my_op."};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        cr_assert(has_prefix(&p, kinds[k]), "no %s* among the %zu files made", kinds[k], p.nfiles);
    char path[8192];
    snprintf(path, sizeof path, "%s/breakdown-my_op-1024.svg", outdir);
    char *svg = qkt_slurp(path);
    cr_expect(strstr(svg, "my_op 1024: time per call by phase"),
              "the title is not drawn as written");
    for (size_t k = 0; k < 4; k++)
        cr_expect(strstr(svg, to[k]), "phase %s is not in the key as written", to[k]);
    /* plots/breakdown.gp's first four spare colours, one per phase */
    static const char *const rgb[] = {"rgb(204, 185, 116)", "rgb(100, 181, 205)",
                                      "rgb(140,  97,  60)", "rgb( 23, 190, 207)"};
    for (size_t k = 0; k < 4; k++)
        cr_expect(strstr(svg, rgb[k]), "phase %s: no %s in %s", to[k], rgb[k], path);
    free(svg);
    qkperf_plots_free(&p);
    qkperf_results_free(&r);
}

Test(plot, counters_skipped_with_reason_when_no_source_has_them, .init = setup, .fini = teardown,
     .timeout = 120)
{
    qkperf_results r;
    qkperf_plots p;
    char err[1024] = "";
    load_fixture(&r);
    for (size_t i = 0; i < r.n; i++)
        if (strcmp(r.rec[i].source, "tsc") && strcmp(r.rec[i].source, "sw"))
            r.rec[i].counted = 0;
    cr_assert_eq(qkperf_plot_all(&r, outdir, &p, err, sizeof err), 0, "%s", err);
    cr_assert_not(has_prefix(&p, "counters-"));
    int said = 0;
    for (size_t i = 0; i < p.nskipped; i++)
        said |= !strncmp(p.skipped[i], "counters:", 9) && strstr(p.skipped[i], "sim") != NULL;
    cr_assert(said, "no 'counters: ...' reason among the skipped plots");
    qkperf_plots_free(&p);
    qkperf_results_free(&r);
}

static const char *caption_of(const qkperf_plots *p, const char *file)
{
    for (size_t i = 0; i < p->nfiles; i++)
        if (!strcmp(p->files[i], file))
            return p->captions[i];
    return NULL;
}

static int has_panel(char (*names)[64], size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(names[k], name))
            return 1;
    return 0;
}

/* The fixture's sim D1mw at dequantize 1024 is zero everywhere (L1-resident),
 * its D1mr is not: D1mr gets a panel, D1mw does not; static cycles/elem is
 * preferred over the per-phase cycles; panels come grouped by source. */
Test(plot, counters_choose_panels_by_priority_and_skip_all_zero_metrics, .init = setup,
     .fini = teardown, .timeout = 120)
{
    qkperf_results r;
    load_fixture(&r);
    char names[8][64];
    size_t n = qkperf_counter_panels(&r, "dequantize", "1024", names, 8);
    cr_assert_eq(n, 6u, "%zu panels", n);
    static const char *const want[] = {"sim Ir",           "sim D1mr",        "static cycles/elem",
                                       "static uops/iter", "hw instructions", "hw L1D misses"};
    for (size_t k = 0; k < 6; k++)
        cr_assert_str_eq(names[k], want[k], "panel %zu is %s, expected %s", k + 1, names[k],
                         want[k]);
    cr_assert_not(has_panel(names, n, "sim D1mw"), "an all-zero metric got a panel");
    cr_assert_eq(qkperf_counter_panels(&r, "gemv", "512x2048", names, 8), 0u);

    /* Zero the D1mr records too: that panel goes, named in the caption. */
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(r.rec[i].metric, "D1mr")) {
            for (size_t j = 0; j < r.rec[i].n; j++)
                r.rec[i].samples[j] = 0;
            r.rec[i].median = r.rec[i].min = r.rec[i].mad = 0;
        }
    n = qkperf_counter_panels(&r, "dequantize", "1024", names, 8);
    cr_assert_eq(n, 5u, "%zu panels", n);
    cr_assert_not(has_panel(names, n, "sim D1mr"), "the all-zero D1mr still has a panel");
    qkperf_plots p;
    char err[1024] = "";
    cr_assert_eq(qkperf_plot_all(&r, outdir, &p, err, sizeof err), 0, "%s", err);
    const char *cap = caption_of(&p, "counters-dequantize-1024.png");
    cr_assert(cap, "no counters-dequantize-1024.png");
    cr_assert(strstr(cap, "not drawn: sim D1mr, D1mw"),
              "caption does not name the zero metrics: %s", cap);
    for (size_t i = 0; i < p.nskipped; i++)
        cr_assert_null(strstr(p.skipped[i], "more counter metrics"), "%s", p.skipped[i]);
    qkperf_plots_free(&p);
    qkperf_results_free(&r);
}

/* Ports: one plot where static port records are (dequantize 1024), titled
 * with config.mcpu, a data row per (variant, phase, resource) with one
 * bottleneck per (variant, phase); without port records, a reason. */
Test(plot, ports_plot_from_static_records, .init = setup, .fini = teardown, .timeout = 120)
{
    qkperf_results r;
    qkperf_plots p;
    char err[1024] = "";
    load_fixture(&r);
    cr_assert_eq(qkperf_plot_all(&r, outdir, &p, err, sizeof err), 0, "%s", err);
    const char *cap = caption_of(&p, "ports-dequantize-1024.png");
    cr_assert(cap, "no ports-dequantize-1024.png");
    cr_assert(strstr(cap, "znver3 (stand-in for Zen 4)"), "caption lacks the CPU model: %s", cap);
    cr_assert(caption_of(&p, "ports-dequantize-1024.svg"));
    cr_assert_not(has_prefix(&p, "ports-gemv"), "a ports plot without static records");

    char path[8192], line[256];
    snprintf(path, sizeof path, "%s/data/ports-dequantize-1024.csv", outdir);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no %s", path);
    size_t rows = 0, bottlenecks = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned v, ph, res, b;
        double val;
        if (line[0] == '#')
            continue;
        cr_assert_eq(sscanf(line, "%u,%u,%u,%lf,%u", &v, &ph, &res, &val, &b), 5, "bad row %s",
                     line);
        cr_assert(v < 3 && ph < 4 && val > 0, "bad row %s", line);
        rows++;
        bottlenecks += b;
    }
    fclose(f);
    cr_assert_gt(rows, 100u, "%zu rows", rows);
    cr_assert_eq(bottlenecks, 3u * 4u, "%zu bottleneck cells for 3 variants x 4 phases",
                 bottlenecks);
    qkperf_plots_free(&p);

    for (size_t i = 0; i < r.n; i++)
        if (!strncmp(r.rec[i].metric, "port ", 5) || !strncmp(r.rec[i].metric, "bottleneck ", 11))
            r.rec[i].counted = 0;
    char sub[8192];
    snprintf(sub, sizeof sub, "%s/none", outdir);
    cr_assert_eq(qkperf_plot_all(&r, sub, &p, err, sizeof err), 0, "%s", err);
    cr_assert_not(has_prefix(&p, "ports-"));
    int said = 0;
    for (size_t i = 0; i < p.nskipped; i++)
        said |= !strncmp(p.skipped[i], "ports:", 6) && strstr(p.skipped[i], "static") != NULL;
    cr_assert(said, "no 'ports: ...' reason among the skipped plots");
    qkperf_plots_free(&p);
    qkperf_results_free(&r);
}

Test(plot, missing_gnuplot_names_the_package, .init = setup, .fini = teardown)
{
    qkperf_results r;
    qkperf_plots p;
    char err[1024] = "";
    load_fixture(&r);
    setenv("QKPERF_GNUPLOT", "/nonexistent", 1);
    cr_assert_eq(qkperf_plot_all(&r, outdir, &p, err, sizeof err), -1);
    cr_assert_str_eq(
        err, "gnuplot not found: install the gnuplot-nox package (apt-get install gnuplot-nox)");
    cr_assert_null(strchr(err, '\n'));
    cr_assert_eq(p.nfiles, 0u);
    qkperf_plots_free(&p);
    qkperf_results_free(&r);
}

/* A "gnuplot" that cannot execute: its interpreter is missing (posix_spawn
 * fails), or it exits 127 as a shell does for a missing program. */
static void not_executable(const char *body, const char *expect)
{
    char gp[4200], log[4200], err[8400] = "";
    snprintf(gp, sizeof gp, "%s/gnuplot", outdir);
    snprintf(log, sizeof log, "%s/gp.log", outdir);
    FILE *f = fopen(gp, "w");
    cr_assert(f);
    fputs(body, f);
    fclose(f);
    cr_assert_eq(chmod(gp, 0755), 0);
    cr_assert_eq(qkperf_gnuplot_run(gp, "script.gp", "x=1", log, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot execute gnuplot (") && strstr(err, gp) && strstr(err, expect),
              "err: %s", err);
    cr_assert_null(strchr(err, '\n'));
}

Test(plot, gnuplot_that_cannot_execute_says_so, .init = setup, .fini = teardown)
{
    not_executable("#!/nonexistent/interpreter\n", "No such file");
    not_executable("#!/bin/sh\nexit 127\n", "exit 127");
}

static int cmd_plot(const char *dir, int force)
{
    char *argv[] = {"plot", fixture, "-o", (char *)dir, force ? "--force" : NULL, NULL};
    int argc = force ? 5 : 4;
    return qkperf_cmd_plot(argc, argv);
}

Test(plot, non_empty_folder_refused_without_force, .init = setup, .fini = teardown, .timeout = 120)
{
    char keep[8192];
    snprintf(keep, sizeof keep, "%s/notes.txt", outdir);
    FILE *f = fopen(keep, "w");
    cr_assert(f);
    fputs("someone's work\n", f);
    fclose(f);
    cr_assert_eq(cmd_plot(outdir, 0), 2);
    cr_assert_eq(access(keep, F_OK), 0, "the existing file was removed");
    cr_assert_eq(cmd_plot(outdir, 1), 0);
    char png[8192];
    snprintf(png, sizeof png, "%s/speedup-dequantize.png", outdir);
    cr_assert_eq(access(png, F_OK), 0, "--force did not write the plots");
}

Test(plot, bad_json_is_a_usage_error, .init = setup, .fini = teardown)
{
    char bad[8192], dir[8192];
    snprintf(bad, sizeof bad, "%s/bad.json", outdir);
    snprintf(dir, sizeof dir, "%s/out", outdir);
    FILE *f = fopen(bad, "w");
    cr_assert(f);
    fputs("{not json", f);
    fclose(f);
    char *argv[] = {"plot", bad, "-o", dir, NULL};
    cr_assert_eq(qkperf_cmd_plot(4, argv), 2);
    char *missing[] = {"plot", "/nonexistent/results.json", "-o", dir, NULL};
    cr_assert_eq(qkperf_cmd_plot(4, missing), 2);
}

/* ---- documents never execute anything ------------------------------------------------ */

/* Names that would run `touch P` if they reached gnuplot's command line
 * as code (P in the working folder): single and double quotes, a leading
 * quote, backslashes, backticks, system(), @macros, spaces. */
static const char *const hostile_variants[] = {
    "';system('touch P');x='",
    "\"; system(\"touch P\"); x=\"",
    "`touch P` back\\slash\\'",
    "@x system('touch P') a b",
};
static const char *const hostile_phases[][2] = {
    {"unpack", "';system('touch P');'"},
    {"lut", "`touch P`"},
    {"memory", "\\\";system(\"touch P\")"},
    {"scale", "'@x'"},
};

static void rename_all(qkperf_results *r, size_t field, const char *from, const char *to)
{
    for (size_t i = 0; i < r->n; i++) {
        char *f[] = {r->rec[i].variant, r->rec[i].phase, r->rec[i].size, r->rec[i].metric};
        size_t cap[] = {sizeof r->rec[i].variant, sizeof r->rec[i].phase, sizeof r->rec[i].size,
                        sizeof r->rec[i].metric};
        if (!strcmp(f[field], from))
            snprintf(f[field], cap[field], "%s", to);
    }
}

/* The fixture with one hostile variant name (the issue's), or with
 * hostile variant, phase, size, resource and mcpu names. */
static void hostile_document(const char *path, int all)
{
    qkperf_results r;
    char err[1024];
    load_fixture(&r);
    static const char *const keep[] = {"avx2-mvp", "avx2-p1", "avx2-p1-p4", "avx2-p1-p4-p3"};
    for (size_t k = 0; k < (all ? 4u : 1u); k++)
        rename_all(&r, 0, keep[k], hostile_variants[k]);
    for (size_t k = 0; all && k < 4; k++)
        rename_all(&r, 1, hostile_phases[k][0], hostile_phases[k][1]);
    if (all)
        rename_all(&r, 2, "256", "256 ';system('touch P');'");
    for (size_t i = 0; all && i < r.n; i++)
        if (!strncmp(r.rec[i].metric, "port ", 5) || !strncmp(r.rec[i].metric, "bottleneck ", 11))
            snprintf(strchr(r.rec[i].metric, ' ') + 1, 30, "`touch P`'");
    if (all)
        json_object_set_new(r.config, "mcpu", json_string("znver3';system('touch P');'"));
    cr_assert_eq(qkperf_results_write_json(&r, path, err, sizeof err), 0, "%s", err);
    qkperf_results_free(&r);
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strstr(buf, needle) != NULL;
}

Test(plot, names_from_a_document_are_text_never_commands, .init = setup, .fini = teardown,
     .timeout = 180)
{
    char doc[8192], out[8192], path[8300];
    cr_assert_eq(chdir(outdir), 0); /* where `touch P` would land */
    for (int all = 0; all < 2; all++) {
        snprintf(doc, sizeof doc, "%s/hostile%d.json", outdir, all);
        snprintf(out, sizeof out, "%s/out%d", outdir, all);
        hostile_document(doc, all);
        char *argv[] = {"plot", doc, "-o", out, NULL};
        int rc = qkperf_cmd_plot(4, argv);
        cr_expect_neq(access("P", F_OK), 0, "a name from %s ran `touch P`", doc);
        cr_assert_eq(rc, 0, "qkperf plot failed on the hostile names of %s", doc);
    }
    static const char *const made[] = {
        "breakdown-dequantize-1024.svg", "ladder-dequantize-1024.svg",
        "throughput-dequantize.svg",     "speedup-dequantize.svg",
        "counters-dequantize-1024.svg",  "ports-dequantize-1024.svg"};
    for (size_t k = 0; k < sizeof made / sizeof made[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", out, made[k]);
        check_svg(path);
    }
    /* drawn as the text they are */
    snprintf(path, sizeof path, "%s/breakdown-dequantize-1024.svg", out);
    cr_expect(file_has(path, "system('touch P');x='"), "the variant name is not drawn as text");
    cr_expect(file_has(path, "`touch P`"), "the phase name is not drawn as text");
    snprintf(path, sizeof path, "%s/ports-dequantize-1024.svg", out);
    cr_expect(file_has(path, "znver3';system('touch P');'"), "the mcpu is not drawn as text");
}

/* A name with a control character is refused by the reader: exit 2, one
 * line naming the file and field, nothing written. */
Test(plot, control_characters_in_names_are_refused, .init = setup, .fini = teardown)
{
    static const char *const bad[] = {"avx2\nsystem('touch P')", "a\rb", "tab\there", "del\x7f"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        qkperf_results r;
        char doc[8192], out[8192], err[1024];
        load_fixture(&r);
        snprintf(r.rec[3].variant, sizeof r.rec[3].variant, "%s", bad[k]);
        snprintf(doc, sizeof doc, "%s/bad%zu.json", outdir, k);
        snprintf(out, sizeof out, "%s/out%zu", outdir, k);
        cr_assert_eq(qkperf_results_write_json(&r, doc, err, sizeof err), 0, "%s", err);
        qkperf_results_free(&r);
        char *argv[] = {"plot", doc, "-o", out, NULL};
        cr_expect_eq(qkperf_cmd_plot(4, argv), 2, "case %zu accepted", k);
        cr_expect_neq(access(out, F_OK), 0, "case %zu: %s was written", k, out);
        cr_expect_eq(qkperf_results_read_json(&r, doc, err, sizeof err), -1);
        cr_expect(strstr(err, doc) && strstr(err, "record 3") && strstr(err, "'variant'") &&
                      strstr(err, "control character") && !strchr(err, '\n'),
                  "case %zu: %s", k, err);
    }
}

/* ---- nothing half-written ----------------------------------------------------------- */

/* `qkperf plot` in a child whose files may not grow past 20 kB (a full
 * disk, as far as the plots are concerned): its exit status. */
static int plot_with_small_disk(const char *out, int force)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {20000, 20000};
        signal(SIGXFSZ, SIG_IGN); /* writes fail with EFBIG instead */
        setrlimit(RLIMIT_FSIZE, &rl);
        fclose(stdout); /* the file list is not the point */
        _exit(cmd_plot(out, force));
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "qkperf plot did not exit (signal %d)", WTERMSIG(st));
    return WEXITSTATUS(st);
}

/* Entries of outdir other than the ones named. */
static size_t others(const char *a, const char *b)
{
    DIR *d = opendir(outdir);
    cr_assert(d);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, a) &&
             strcmp(e->d_name, b);
    closedir(d);
    return n;
}

Test(plot, full_disk_leaves_no_folder_and_the_old_one_intact, .init = setup, .fini = teardown,
     .timeout = 120)
{
    char out[8192], keep[8300], png[8300];
    snprintf(out, sizeof out, "%s/plots", outdir);
    cr_expect_eq(plot_with_small_disk(out, 0), 1);
    cr_expect_neq(access(out, F_OK), 0, "a failed plot left %s behind", out);
    cr_expect_eq(others("", ""), 0u, "a failed plot left its temporary folder behind");

    /* an old folder, --force: replaced only by a finished set of plots */
    cr_assert_eq(mkdir(out, 0755), 0);
    snprintf(keep, sizeof keep, "%s/notes.txt", out);
    FILE *f = fopen(keep, "w");
    cr_assert(f);
    fputs("someone's work\n", f);
    fclose(f);
    cr_expect_eq(plot_with_small_disk(out, 1), 1);
    cr_expect_eq(access(keep, F_OK), 0, "the old folder lost its file");
    snprintf(png, sizeof png, "%s/speedup-dequantize.png", out);
    cr_expect_neq(access(png, F_OK), 0, "a failed plot wrote into the old folder");
    cr_expect_eq(others("plots", ""), 0u, "a failed plot left its temporary folder behind");

    /* with room, --force replaces it; a killed run's folder goes too */
    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    cr_assert_eq(waitpid(gone, NULL, 0), gone);
    char stale[8300];
    snprintf(stale, sizeof stale, "%s.tmp.%ld", out, (long)gone);
    cr_assert_eq(mkdir(stale, 0755), 0);
    cr_expect_eq(cmd_plot(out, 1), 0);
    cr_expect_neq(access(stale, F_OK), 0, "a killed run's %s is still there", stale);
    cr_expect_eq(access(png, F_OK), 0, "--force did not write the plots");
    cr_expect_neq(access(keep, F_OK), 0, "--force kept the old folder's file");
    cr_expect_eq(others("plots", ""), 0u, "the old folder was left beside the new one");
}

/* The in-context view in the plots: beside each variant's staged stack,
 * the fused kernel split by phase (the stack of the in-context times, whose
 * top is the fused time up to the medians' rounding), and the ladder plot
 * drawn in context, other included. */
Test(plot, breakdown_and_ladder_show_the_in_context_view, .init = setup, .fini = teardown,
     .timeout = 120)
{
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin);
    char doc[4200], cmd[8600], out[4200], err[512];
    snprintf(doc, sizeof doc, "%s/ic.json", outdir);
    snprintf(cmd, sizeof cmd,
             "%s ladder -k dequantize -s 1024 -v scalar,avx2-mvp -g none --source tsc,sample "
             "-n 5 -q --sample-count 1000 -o %s >/dev/null",
             bin, doc);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    qkperf_results r;
    cr_assert_eq(qkperf_results_read_json(&r, doc, err, sizeof err), 0, "%s", err);
    qkperf_plots pl;
    snprintf(out, sizeof out, "%s/plots", outdir);
    cr_assert_eq(qkperf_plot_all(&r, out, &pl, err, sizeof err), 0, "%s", err);
    char path[4400], line[2048];
    snprintf(path, sizeof path, "%s/data/breakdown-dequantize-1024.csv", out);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect(strstr(line, "other_ic_hi") != NULL, "no in-context columns: %s", line);
    size_t rows = 0;
    while (fgets(line, sizeof line, f)) {
        double v[40];
        size_t n = 0;
        char variant[64] = "";
        cr_assert_eq(sscanf(line, "%*[^,],%63[^,]", variant), 1, "%s", line);
        char *p = strchr(strchr(line, ',') + 1, ',') + 1; /* past x and variant */
        for (char *t = strtok(p, ","); t && n < 40; t = strtok(NULL, ","))
            v[n++] = strtod(t, NULL);
        cr_assert_eq(n, 4 * 3 + 2 + 5 * 2, "columns: %zu", n);
        /* each phase's time is its share times the fused time round by
         * round, so the stack's top is a sum of medians, each from its own
         * round: within 10% of the fused median when the rounds agree, and
         * off by up to about the phases' spreads when a loaded machine
         * (make -j2) scatters them */
        static const char *const ic[] = {"memory", "unpack", "lut", "scale", "other"};
        double spread = 0;
        for (size_t k = 0; k < sizeof ic / sizeof ic[0]; k++) {
            const qkperf_record *x = qkperf_results_find_view(&r, "in-context", "dequantize",
                                                              variant, "1024", ic[k], "time");
            cr_assert(x && x->counted, "%s %s", variant, ic[k]);
            spread += x->mad;
        }
        double fused = v[12], fused_mad = v[13], top = v[n - 1];
        cr_expect(fabs(top - fused) <= 0.1 * fused + 2 * (fused_mad + spread),
                  "in-context stack %g, fused %g (MAD %g, phases' MADs %g)", top, fused, fused_mad,
                  spread);
        rows++;
    }
    fclose(f);
    cr_expect_eq(rows, 2);
    /* each of the ladder's phase bars is the in-context change, not the
     * staged one. Which phases get samples depends on the compiler (with
     * gcc scalar's unpack gets ~2%, with clang its lut none): a phase
     * where some round has none leaves the ratio undefined and its bar
     * out, as it should be; at least one bar is there */
    snprintf(path, sizeof path, "%s/data/ladder-dequantize-1024.csv", out);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t bars = 0;
    while (fgets(line, sizeof line, f)) {
        char phase[64];
        double pct;
        if (line[0] == '#' || sscanf(line, "%*[^,],%*[^,],%63[^,],%lf", phase, &pct) != 2 ||
            !strcmp(phase, "total"))
            continue;
        const qkperf_record *b = qkperf_results_find_view(&r, "in-context", "dequantize", "scalar",
                                                          "1024", phase, "time"),
                            *a = qkperf_results_find_view(&r, "in-context", "dequantize",
                                                          "avx2-mvp", "1024", phase, "time");
        cr_assert(a && b && a->counted && b->counted && b->median > 0, "%s", phase);
        /* the CSV holds 4 significant digits */
        double want = (a->median / b->median - 1) * 100;
        cr_expect_float_eq(pct, want, fmax(0.01, 5e-4 * fabs(want)),
                           "%s: bar %g%%, in context %g%%", phase, pct, want);
        bars++;
    }
    fclose(f);
    cr_expect(bars >= 1, "no phase bar in the ladder");
    qkperf_plots_free(&pl);
    qkperf_results_free(&r);
}
