/*
 * review.c — the sprint review in one command (review.h): it measures the
 * embedded defaults (the dequantize ladder at 1024 and the sweep
 * 256..16384; the gemv ladder at the BitNet b1.58 2B shape 2560x6912 and
 * the sweep over the 2B shapes), adds the roofline limits, the sim and
 * static sources where they can run, writes results.json/.csv, renders the
 * plots and writes REPORT.md (report.c). Each op is a job (job.h), built
 * field by field, measured as `qkperf sweep` measures; the job's sim and
 * static passes then run at the ladder sizes. Progress goes to stderr, one
 * line per step. The options are cmd/cmd_review.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "decode.h"
#include "job.h"
#include "mca.h"
#include "plot.h"
#include "plugin.h"
#include "probe.h"
#include "review.h"
#include "roofline.h"
#include "sim.h"

static const char *const dq_sizes = "256,512,1024,4096,16384";
static const char *const gv_sizes = "2560x2560,640x2560,6912x2560,2560x6912";
static const char *const dq_sizes_quick = "256,1024";
static const char *const gv_sizes_quick = "128x6912,64x2560";

static void step(int k, int n, const char *what)
{
    fprintf(stderr, "qkperf review: [%d/%d] %s\n", k, n, what);
}

int qkperf_review_dir_ready(const qkperf_review_opts *c, char *err, size_t len)
{
    DIR *d = opendir(c->dir);
    if (d) {
        struct dirent *e;
        int empty = 1;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                empty = 0;
        closedir(d);
        if (!empty && !c->force) {
            snprintf(err, len, "%s exists and is not empty: not clobbering it without --force",
                     c->dir);
            return -1;
        }
        return 0;
    }
    if (mkdir(c->dir, 0755) != 0) {
        snprintf(err, len, "cannot create %s: %s", c->dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_probe(const qkperf_review_opts *c, qkperf_probe_t *p)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/probe.txt", c->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    qkperf_probe_print(p, f);
    return fclose(f);
}

/* One op over its sizes as `qkperf sweep` measures it: the timed rounds
 * now; j is kept for its sim and static passes (ladder_models). 0, 1, or
 * 2 after a one-line error. */
static int measure_op(const qkperf_review_opts *c, qkperf_job *j, const char *op, const char *sizes,
                      qkperf_results *res)
{
    char err[1024];
    qkperf_job_init(j, "review");
    j->op = qkperf_find_op(op, err, sizeof err);
    j->sizes_text = sizes;
    j->ro.samples = c->samples;
    j->use_sim = c->sim;
    j->use_static = c->stat;
    if (c->hw) { /* a PMU: the top-down and port figures beside CYCLES */
        j->groups[1] = "TOPDOWN";
        j->groups[2] = "PORTS";
        j->groups[3] = NULL;
    }
    if (c->quick) /* about +-4 points on a share instead of +-2 */
        j->sample_count = 600;
    if (qkperf_job_ready(j, err, sizeof err))
        return qkperf_usage_error("%s", err);
    return qkperf_job_measure_rounds(j, res);
}

/* sim and static at the ladder size only: callgrind is ~50x slower. */
static void ladder_models(const qkperf_job *j, const char *size, qkperf_results *res)
{
    if (qkperf_job_measure_models(j, res, size))
        qkperf_results_note(res, "sim and static %s: ladder size %s is not among the sizes run",
                            j->op->name, size);
}

/* The sprint's rungs that matter end to end, float and int8, all cores. */
static void measure_decode(const qkperf_review_opts *c, qkperf_results *res)
{
    qkperf_decode_opts o;
    qkperf_decode_opts_default(&o);
    o.variants = "gemv/avx2-p1-p4-p2-p3,gemv/avx512-vbmi,gemv-i8/avx2-maddubs,gemv-i8/avx512-vnni";
    o.quick = c->quick;
    if (c->quick) {
        o.layers = 4;
        o.tokens = 2;
    }
    char err[1024];
    if (qkperf_decode_measure(&o, res, err, sizeof err)) {
        fprintf(stderr, "qkperf: decode: %s\n", err);
        qkperf_results_note(res, "decode not measured: %s", err);
    }
}

static int write_docs(const qkperf_review_opts *c, const qkperf_results *res)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/results.json", c->dir);
    if (c->compact) {
        if (qkperf_results_write_json_trimmed(res, path, err, sizeof err) == 0)
            return 0;
    } else if (qkperf_results_write_json(res, path, err, sizeof err) == 0) {
        snprintf(path, sizeof path, "%s/results.csv", c->dir);
        if (qkperf_results_write_csv(res, path, err, sizeof err) == 0)
            return 0;
    }
    fprintf(stderr, "qkperf: %s\n", err);
    return 1;
}

/* --compact: the PNGs alone (the SVGs are the same plots, larger). */
static void drop_svg(const qkperf_review_opts *c, qkperf_plots *pl)
{
    size_t k = 0;
    if (!pl->files)
        return;
    for (size_t i = 0; i < pl->nfiles; i++) {
        const char *dot = strrchr(pl->files[i], '.');
        if (dot && !strcmp(dot, ".svg")) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", c->dir, pl->files[i]);
            unlink(path);
            free(pl->files[i]);
            free(pl->captions[i]);
            continue;
        }
        pl->files[k] = pl->files[i];
        pl->captions[k++] = pl->captions[i];
    }
    pl->files[k] = NULL;
    pl->captions[k] = NULL;
    pl->nfiles = k;
    char data[4096], cmd_path[4096 + 260];
    snprintf(data, sizeof data, "%s/data", c->dir); /* the plots' own data files */
    DIR *d = opendir(data);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') {
            snprintf(cmd_path, sizeof cmd_path, "%s/%s", data, e->d_name);
            unlink(cmd_path);
        }
    if (d)
        closedir(d);
    rmdir(data);
}

static int write_report(const qkperf_review_opts *c, const qkperf_results *res,
                        const qkperf_plots *pl)
{
    char path[4096], err[1024];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return 1;
    qkperf_review_report(f, res, (const char *const *)pl->files, (const char *const *)pl->captions,
                         (const char *const *)pl->skipped);
    fclose(f);
    snprintf(path, sizeof path, "%s/REPORT.md", c->dir);
    int rc = qkperf_write_atomic(path, buf, len, err, sizeof err);
    if (rc)
        fprintf(stderr, "qkperf: %s\n", err);
    free(buf);
    return rc ? 1 : 0;
}

static void availability(qkperf_review_opts *c, qkperf_results *res)
{
    char why[512];
    if (c->sim && !qkperf_sim_available(why, sizeof why)) {
        qkperf_results_note(res, "sim source not used: %s", why);
        c->sim = 0;
    }
    if (c->stat && !qkperf_mca_available(why, sizeof why)) {
        qkperf_results_note(res, "static source not used: %s", why);
        c->stat = 0;
    }
}

void qkperf_review_opts_default(qkperf_review_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dir = "review";
    o->sim = o->stat = o->decode = 1;
    o->samples = 11;
}

/* With --plugin: steps 3 to 7 are the plugins' ops instead, each over its
 * default size (the ladder size), sim and static there; no decode. */
static int measure_plugins(const qkperf_review_opts *c, qkperf_results *res, const int n)
{
    qkperf_job jobs[QKPERF_MAX_LIST];
    size_t nj = 0;
    int rc = 0;
    json_t *names = json_array(), *ladders = json_object();
    memset(jobs, 0, sizeof jobs);
    step(3, n, "the plugins' ops: every variant at the op's default size, per phase");
    for (size_t i = 0; rc == 0 && i < qk_op_count() && nj < QKPERF_MAX_LIST; i++) {
        const qk_op *op = qk_op_at(i);
        if (!qkperf_plugin_of(op))
            continue;
        rc = measure_op(c, &jobs[nj], op->name, NULL, res);
        json_array_append_new(names, json_string(op->name));
        json_object_set_new(ladders, op->name, json_string(jobs[nj].sizes[0]));
        nj++;
    }
    step(4, n, "(the gemv ops: libqk256's, not reviewed with --plugin)");
    step(5, n, "(gemv-i8: not reviewed with --plugin)");
    step(6, n, "(decode: not reviewed with --plugin)");
    step(7, n, "sim (callgrind) and static (llvm-mca) at the ladder sizes");
    for (size_t k = 0; rc == 0 && k < nj; k++)
        ladder_models(&jobs[k], jobs[k].sizes[0], res);
    json_object_set_new(res->config, "plugin_ops", names);
    json_object_set_new(res->config, "ladder_sizes", ladders);
    for (size_t k = 0; k < nj; k++)
        qkperf_job_free(&jobs[k]);
    return rc;
}

/* Steps 3 to 7: the three ops, decode, and the sim and static passes at the
 * ladder sizes. 0, 1, or 2. */
static int measure(const qkperf_review_opts *c, qkperf_results *res, const int n)
{
    if (qkperf_plugin_count())
        return measure_plugins(c, res, n);
    qkperf_job jobs[3];
    memset(jobs, 0, sizeof jobs); /* qkperf_job_free is safe on a zeroed job */
    step(3, n, "dequantize: every variant at every size, per phase");
    int rc = measure_op(c, &jobs[0], "dequantize", c->quick ? dq_sizes_quick : dq_sizes, res);
    step(4, n, "gemv: every variant at the BitNet b1.58 2B shapes, per phase");
    if (rc == 0)
        rc = measure_op(c, &jobs[1], "gemv", c->quick ? gv_sizes_quick : gv_sizes, res);
    step(5, n, "gemv-i8 (int8 activations): every variant at the same shapes");
    if (rc == 0)
        rc = measure_op(c, &jobs[2], "gemv-i8", c->quick ? gv_sizes_quick : gv_sizes, res);
    step(6, n, "decode: BitNet b1.58 2B4T linear layers, tokens/s against memory bandwidth");
    if (rc == 0 && c->decode)
        measure_decode(c, res);
    step(7, n, "sim (callgrind) and static (llvm-mca) at the ladder sizes");
    const char *dq_ladder = "1024", *gv_ladder = c->quick ? "64x2560" : "2560x6912";
    if (rc == 0) {
        ladder_models(&jobs[0], dq_ladder, res);
        ladder_models(&jobs[1], gv_ladder, res);
    }
    json_object_set_new(res->config, "ladder_sizes",
                        json_pack("{s:s,s:s}", "dequantize", dq_ladder, "gemv", gv_ladder));
    for (size_t i = 0; i < 3; i++)
        qkperf_job_free(&jobs[i]);
    return rc;
}

int qkperf_review_run(const qkperf_review_opts *o)
{
    qkperf_review_opts c = *o;
    char err[1024];
    const int n = 9;
    qkperf_results res;
    qkperf_results_init(&res);
    step(1, n, "probe: what can be counted here");
    qkperf_probe_t p;
    qkperf_probe(&p);
    c.hw = p.hw_why == QKPERF_WHY_OK;
    if (write_probe(&c, &p))
        fprintf(stderr, "qkperf: cannot write %s/probe.txt\n", c.dir);
    step(2, n, "roofline: this machine's bandwidth limits");
    qkperf_roofline rl;
    if (qkperf_roofline_measure(&rl, c.quick) == 0)
        json_object_set_new(res.machine, "roofline", qkperf_roofline_json(&rl));
    availability(&c, &res);
    int rc = measure(&c, &res, n);
    json_object_set_new(res.config, "command", json_string("review"));
    json_object_set_new(res.config, "quick", json_boolean(c.quick));
    json_object_set_new(res.config, "compact", json_boolean(c.compact));
    step(8, n, "results.json, results.csv and plots");
    if (rc == 0)
        rc = write_docs(&c, &res);
    qkperf_plots pl = {0};
    int plot_rc = rc == 0 ? qkperf_plot_all(&res, c.dir, &pl, err, sizeof err) : -1;
    if (rc == 0 && plot_rc)
        fprintf(stderr, "qkperf: %s\n", err);
    if (c.compact)
        drop_svg(&c, &pl);
    step(9, n, "REPORT.md");
    if (rc == 0)
        rc = write_report(&c, &res, &pl);
    if (rc == 0)
        fprintf(stderr, "qkperf review: done: %s/REPORT.md\n", c.dir);
    qkperf_plots_free(&pl);
    qkperf_results_free(&res);
    return rc ? rc : plot_rc ? 1 : 0;
}
