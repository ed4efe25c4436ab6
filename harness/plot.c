/*
 * plot.c — the plots driver (see plot.h for the list of plots). For each
 * plot it writes one small CSV file per series set into DIR/data/ (a '#'
 * header line naming the columns, then comma-separated rows; blocks of a
 * multi-series file are separated by two blank lines, gnuplot's `index`),
 * then runs gnuplot on plots/NAME.gp once for PNG and once for SVG with
 *   gnuplot -e "data='...'; out='...'; fmt='png'; title='...'; ..." NAME.gp
 * gnuplot's stderr goes to DIR/data/NAME.log, whose first line is the
 * error reported when a render fails.
 *
 * Sizes: breakdown and ladder plots are made per op and size (the review
 * embeds the ones it wants); throughput and speedup put all sizes of an op
 * on one log-x axis of elements (ROWS*COLS for matrix shapes).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attrib.h"
#include "kernel.h"
#include "plot.h"
#include "roofline.h"
#include "child.h"

#define QKPERF_PLOT_MAX 64 /* distinct ops, variants, sizes, phases per op */

typedef struct qkperf_plot_ctx {
    const qkperf_results *r;
    const char *dir, *gnuplot;
    char scripts[PATH_MAX];
    qkperf_plots *out;
    char *err;
    size_t len;
} qkperf_plot_ctx;

/* Distinct strings in first-seen order, pointing into the records. */
typedef struct qkperf_names {
    const char *v[QKPERF_PLOT_MAX];
    size_t n;
} qkperf_names;

/* ---- small helpers ------------------------------------------------------------ */

static void names_add(qkperf_names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name))
            return;
    if (s->n < QKPERF_PLOT_MAX)
        s->v[s->n++] = name;
}

enum { FIELD_OP, FIELD_VARIANT, FIELD_SIZE, FIELD_PHASE };

/* Distinct values of one field among counted records of op (NULL: any op)
 * whose phase is not "total" when staged_only. */
static qkperf_names distinct(const qkperf_results *r, const char *op, int field, int staged_only)
{
    qkperf_names s = {.n = 0};
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!x->counted || (op && strcmp(x->op, op)) || (staged_only && !strcmp(x->phase, "total")))
            continue;
        const char *f[] = {x->op, x->variant, x->size, x->phase};
        names_add(&s, f[field]);
    }
    return s;
}

static const qkperf_record *counted(const qkperf_results *r, const char *op, const char *variant,
                                    const char *size, const char *phase, const char *metric)
{
    const qkperf_record *x = qkperf_results_find(r, op, variant, size, phase, metric);
    return x && x->counted && x->n > 0 ? x : NULL;
}

/* Elements in a size: "N" or "ROWSxCOLS". */
static double elements(const char *size)
{
    double a = 0, b = 1;
    if (sscanf(size, "%lfx%lf", &a, &b) < 1)
        return NAN;
    return a * b;
}

static int add_entry(char ***list, size_t *n, const char *s)
{
    char **grown = realloc(*list, (*n + 2) * sizeof **list);
    if (!grown)
        return -1;
    *list = grown;
    if (!(grown[*n] = strdup(s)))
        return -1;
    grown[++*n] = NULL;
    return 0;
}

static int fail(qkperf_plot_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(qkperf_plot_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->len, fmt, ap);
    va_end(ap);
    return -1;
}

static int skip(qkperf_plot_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int skip(qkperf_plot_ctx *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return add_entry(&c->out->skipped, &c->out->nskipped, buf) ? fail(c, "out of memory") : 0;
}

/* gnuplot single-quoted string: a quote is written twice. */
static void gq(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 3 < cap; s++) {
        if (*s == '\'')
            dst[k++] = '\'';
        dst[k++] = *s;
    }
    dst[k] = 0;
}

/* A series name usable in a file name: [A-Za-z0-9.-], others become '_'. */
static void file_safe(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < cap; s++)
        dst[k++] = (isalnum((unsigned char)*s) || *s == '-' || *s == '.') ? *s : '_';
    dst[k] = 0;
}

static FILE *open_data(qkperf_plot_ctx *c, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/data/%s.csv", c->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fail(c, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_data(qkperf_plot_ctx *c, FILE *f, const char *path)
{
    if (fclose(f) != 0)
        return fail(c, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Time values are printed in the unit that keeps them readable. */
static double time_scale(double max_ns, const char **unit)
{
    static const struct {
        double limit, div;
        const char *unit;
    } u[] = {{1e4, 1, "ns"}, {1e7, 1e3, "µs"}, {1e10, 1e6, "ms"}, {INFINITY, 1e9, "s"}};
    size_t i = 0;
    while (max_ns >= u[i].limit)
        i++;
    *unit = u[i].unit;
    return u[i].div;
}

/* ---- finding gnuplot and the scripts ------------------------------------------ */

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

const char *qkperf_gnuplot_path(char *buf, size_t cap)
{
    const char *env = getenv("QKPERF_GNUPLOT");
    if (env && *env)
        return executable(env) ? env : NULL;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(buf, cap, "%.*s/gnuplot", (int)n, p);
        if (n && executable(buf))
            return buf;
        p += n + (p[n] == ':');
    }
    return NULL;
}

/* $QKPERF_PLOTS_DIR, else the source tree (running from a build), else the
 * installed copy: the first that holds `script`. */
int qkperf_plot_scripts_dir(const char *script, char *buf, size_t cap, char *err, size_t len)
{
    const char *cand[3] = {getenv("QKPERF_PLOTS_DIR"), NULL, NULL};
#ifdef QKPERF_SRC_PLOTS_DIR
    cand[1] = QKPERF_SRC_PLOTS_DIR;
#endif
#ifdef QKPERF_PLOTS_DIR
    cand[2] = QKPERF_PLOTS_DIR;
#endif
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX];
        if (!cand[i] || !*cand[i])
            continue;
        snprintf(path, sizeof path, "%s/%s", cand[i], script);
        if (access(path, R_OK) == 0) {
            snprintf(buf, cap, "%s", cand[i]);
            return 0;
        }
        if (i == 0)
            return snprintf(err, len,
                            "QKPERF_PLOTS_DIR=%s has no %s: point it at qkperf's "
                            "plots folder",
                            cand[0], script),
                   -1;
    }
    return snprintf(err, len,
                    "gnuplot script %s not found (looked in %s and %s): set "
                    "QKPERF_PLOTS_DIR",
                    script, cand[1] ? cand[1] : "(no source tree)",
                    cand[2] ? cand[2] : "(no install path)"),
           -1;
}

static int find_scripts(qkperf_plot_ctx *c)
{
    char err[PATH_MAX * 3];
    if (qkperf_plot_scripts_dir("breakdown.gp", c->scripts, sizeof c->scripts, err, sizeof err))
        return fail(c, "%s", err);
    return 0;
}

/* ---- running gnuplot ------------------------------------------------------------ */

int qkperf_gnuplot_run(const char *gnuplot, const char *script, const char *vars, const char *log,
                       char *err, size_t len)
{
    char e_opt[] = "-e", name[] = "gnuplot",
         *argv[] = {name, e_opt, (char *)vars, (char *)script, NULL};
    char why[PATH_MAX + 200], line[300];
    int status, rc = qkperf_child_run(gnuplot, argv, NULL, log, &status, why, sizeof why);
    if (rc == QKPERF_CHILD_EXEC)
        return snprintf(err, len, "cannot execute gnuplot (%s): %s", gnuplot, strerror(errno)), -1;
    if (rc)
        return snprintf(err, len, "gnuplot: %s", why), -1;
    if (qkperf_child_exec_failed(status))
        return snprintf(err, len, "cannot execute gnuplot (%s): exit %d (see %s)", gnuplot,
                        WEXITSTATUS(status), log),
               -1;
    struct stat st;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (stat(log, &st) == 0 && st.st_size == 0)
            unlink(log); /* keep only logs that say something */
        return 0;
    }
    qkperf_first_line(log, line, sizeof line, NULL);
    if (WIFSIGNALED(status))
        return snprintf(err, len, "gnuplot killed by signal %d on %s: %s (see %s)",
                        WTERMSIG(status), script, *line ? line : "no message", log),
               -1;
    return snprintf(err, len, "gnuplot failed on %s: %s (see %s)", script,
                    *line ? line : "no message", log),
           -1;
}

static int run_gnuplot(qkperf_plot_ctx *c, const char *script, const char *vars, const char *log)
{
    char err[PATH_MAX * 3];
    if (qkperf_gnuplot_run(c->gnuplot, script, vars, log, err, sizeof err))
        return fail(c, "%s", err);
    return 0;
}

/* Render plots/SCRIPT.gp into DIR/NAME.{png,svg}; `extra` adds variables
 * ("k=v; ..."), `data` is the main data file. */
static int render(qkperf_plot_ctx *c, const char *script, const char *name, const char *data,
                  const char *title, const char *extra, const char *caption)
{
    static const char *const fmts[] = {"png", "svg"};
    char sp[PATH_MAX + 32], qd[PATH_MAX * 2], qt[512];
    snprintf(sp, sizeof sp, "%s/%s.gp", c->scripts, script);
    gq(qd, sizeof qd, data);
    gq(qt, sizeof qt, title);
    for (size_t i = 0; i < 2; i++) {
        char out[PATH_MAX], qo[PATH_MAX * 2], log[PATH_MAX], file[300];
        snprintf(file, sizeof file, "%s.%s", name, fmts[i]);
        snprintf(out, sizeof out, "%s/%s", c->dir, file);
        snprintf(log, sizeof log, "%s/data/%s.log", c->dir, name);
        gq(qo, sizeof qo, out);
        size_t need = strlen(qd) + strlen(qo) + strlen(qt) + strlen(extra) + 64;
        char *vars = malloc(need);
        if (!vars)
            return fail(c, "out of memory");
        snprintf(vars, need, "data='%s'; out='%s'; fmt='%s'; title='%s'; %s", qd, qo, fmts[i], qt,
                 extra);
        int rc = run_gnuplot(c, sp, vars, log);
        free(vars);
        if (rc)
            return -1;
        size_t ncap = c->out->nfiles; /* captions run parallel to files */
        if (add_entry(&c->out->captions, &ncap, caption) ||
            add_entry(&c->out->files, &c->out->nfiles, file))
            return fail(c, "out of memory");
    }
    return 0;
}

/* ---- 1. breakdown --------------------------------------------------------------- */

/* Largest staged sum or fused total, to pick the time unit. */
static double breakdown_max(const qkperf_results *r, const char *op, const char *size,
                            const qkperf_names *vs, const qkperf_names *ph)
{
    double max = 0;
    for (size_t v = 0; v < vs->n; v++) {
        double sum = 0;
        for (size_t p = 0; p < ph->n; p++) {
            const qkperf_record *x = counted(r, op, vs->v[v], size, ph->v[p], "time");
            sum += x ? x->median : 0;
        }
        const qkperf_record *t = counted(r, op, vs->v[v], size, "total", "time");
        max = fmax(max, fmax(sum, t ? t->median : 0));
    }
    return max;
}

/* Row per variant: x, variant, then per phase its segment [lo, hi] and MAD,
 * then the fused total and its MAD (NaN when missing). */
static void breakdown_rows(FILE *f, const qkperf_results *r, const char *op, const char *size,
                           const qkperf_names *vs, const qkperf_names *ph, double div)
{
    fprintf(f, "# x,variant");
    for (size_t p = 0; p < ph->n; p++)
        fprintf(f, ",%s_lo,%s_hi,%s_mad", ph->v[p], ph->v[p], ph->v[p]);
    fprintf(f, ",fused,fused_mad\n");
    for (size_t v = 0; v < vs->n; v++) {
        double lo = 0;
        fprintf(f, "%zu,%s", v, vs->v[v]);
        for (size_t p = 0; p < ph->n; p++) {
            const qkperf_record *x = counted(r, op, vs->v[v], size, ph->v[p], "time");
            double m = x ? x->median / div : 0;
            fprintf(f, ",%.6g,%.6g,%.6g", lo, lo + m, x ? x->mad / div : 0);
            lo += m;
        }
        const qkperf_record *t = counted(r, op, vs->v[v], size, "total", "time");
        if (t)
            fprintf(f, ",%.6g,%.6g\n", t->median / div, t->mad / div);
        else
            fprintf(f, ",NaN,NaN\n");
    }
}

static int plot_breakdown(qkperf_plot_ctx *c, const char *op, const char *size)
{
    const qkperf_results *r = c->r;
    qkperf_names vs = {.n = 0}, ph = distinct(r, op, FIELD_PHASE, 1);
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rec[i].op, op) && !strcmp(r->rec[i].size, size) &&
            strcmp(r->rec[i].phase, "total") &&
            counted(r, op, r->rec[i].variant, size, r->rec[i].phase, "time"))
            names_add(&vs, r->rec[i].variant);
    char name[200], safe[120], path[PATH_MAX];
    file_safe(safe, sizeof safe, size);
    snprintf(name, sizeof name, "breakdown-%s-%s", op, safe);
    if (vs.n == 0)
        return skip(c, "%s: no staged phase times (run without --no-staged)", name);
    const char *unit;
    double div = time_scale(breakdown_max(r, op, size, &vs, &ph), &unit);
    FILE *f = open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    breakdown_rows(f, r, op, size, &vs, &ph, div);
    if (close_data(c, f, path))
        return -1;
    char phases[512] = "", extra[700], title[200], cap[300];
    for (size_t p = 0; p < ph.n; p++)
        snprintf(phases + strlen(phases), sizeof phases - strlen(phases), "%s%s", p ? " " : "",
                 ph.v[p]);
    snprintf(extra, sizeof extra, "phases='%s'; unit='%s'", phases, unit);
    snprintf(title, sizeof title, "%s %s: time per call by phase (staged) and fused", op, size);
    snprintf(cap, sizeof cap,
             "%s at %s: staged phases stacked per variant, fused kernel beside (median ± MAD)", op,
             size);
    return render(c, "breakdown", name, path, title, extra, cap);
}

/* ---- 2. ladder ------------------------------------------------------------------ */

static int verdict_code(qkperf_verdict v)
{
    return v == QKPERF_IMPROVED ? 1 : v == QKPERF_REGRESSED ? 2 : 0;
}

/* Rows: x, step index, phase, % change, CI low, CI high, verdict code
 * (0 within noise, 1 improved, 2 regressed); a gap of one bar between steps.
 * Step labels (x of the group centre, "a → b" then "→ c"...) go to the
 * second file. */
static int ladder_rows(FILE *f, FILE *steps, const qkperf_deltas *ds, const qkperf_names *vs,
                       const qkperf_names *ph)
{
    int rows = 0;
    fprintf(f, "# x,step,phase,pct,ci_lo,ci_hi,verdict\n");
    fprintf(steps, "# x,step\n");
    for (size_t s = 0; s + 1 < vs->n; s++) {
        double x0 = (double)s * (double)(ph->n + 1);
        /* Each step after the first starts where the previous ended, so its
         * label names only the target: full labels collide past four steps. */
        fprintf(steps, "%.2f,%s%s→ %s\n", x0 + (double)(ph->n - 1) / 2, s ? "" : vs->v[s],
                s ? "" : " ", vs->v[s + 1]);
        for (size_t p = 0; p < ph->n; p++)
            for (size_t k = 0; k < ds->n; k++) {
                const qkperf_delta *d = &ds->d[k];
                if (strcmp(d->metric, "time") || strcmp(d->phase, ph->v[p]) ||
                    strcmp(d->from, vs->v[s]) || strcmp(d->to, vs->v[s + 1]) ||
                    !d->change.ratio_defined)
                    continue;
                fprintf(f, "%.0f,%zu,%s,%.4g,%.4g,%.4g,%d\n", x0 + (double)p, s, ph->v[p],
                        (d->change.ratio - 1) * 100, (d->change.ci_lo - 1) * 100,
                        (d->change.ci_hi - 1) * 100, verdict_code(d->verdict));
                rows++;
            }
    }
    return rows;
}

static int ladder_write(qkperf_plot_ctx *c, const char *name, const qkperf_deltas *ds,
                        const qkperf_names *vs, const qkperf_names *ph, char *path, char *spath)
{
    char sname[220];
    snprintf(sname, sizeof sname, "%s-steps", name);
    FILE *f = open_data(c, name, path, PATH_MAX);
    FILE *s = f ? open_data(c, sname, spath, PATH_MAX) : NULL;
    if (!s) {
        if (f)
            fclose(f);
        return -1;
    }
    int rows = ladder_rows(f, s, ds, vs, ph);
    int rc = close_data(c, f, path);
    rc |= close_data(c, s, spath);
    return rc ? -1 : rows;
}

static int plot_ladder(qkperf_plot_ctx *c, const char *op, const char *size)
{
    const qkperf_results *r = c->r;
    qkperf_names vs = {.n = 0}, ph = distinct(r, op, FIELD_PHASE, 1);
    names_add(&ph, "total");
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rec[i].op, op) && !strcmp(r->rec[i].size, size) &&
            counted(r, op, r->rec[i].variant, size, "total", "time"))
            names_add(&vs, r->rec[i].variant);
    char name[200], safe[120], path[PATH_MAX], spath[PATH_MAX];
    file_safe(safe, sizeof safe, size);
    snprintf(name, sizeof name, "ladder-%s-%s", op, safe);
    if (vs.n < 2)
        return skip(c, "%s: needs at least two variants, the document has %zu", name, vs.n);
    qkperf_bands bands;
    qkperf_bands_default(&bands);
    qkperf_deltas ds = {0};
    if (qkperf_attrib_steps(r, op, size, vs.v, vs.n, &bands, QKPERF_DEFAULT_SEED, &ds)) {
        qkperf_deltas_free(&ds);
        return fail(c, "%s: attribution failed (out of memory or bad records)", name);
    }
    int rows = ladder_write(c, name, &ds, &vs, &ph, path, spath);
    qkperf_deltas_free(&ds);
    if (rows <= 0)
        return rows < 0 ? -1 : skip(c, "%s: no step has a defined time ratio", name);
    char extra[PATH_MAX * 2 + 64], qs[PATH_MAX * 2], title[200], cap[300];
    gq(qs, sizeof qs, spath);
    snprintf(extra, sizeof extra, "steps='%s'", qs);
    snprintf(title, sizeof title, "%s %s: change of median time per phase, each ladder step", op,
             size);
    snprintf(cap, sizeof cap,
             "%s at %s: %% change of each phase's median time per step, 95%% bootstrap CI; colour "
             "= verdict",
             op, size);
    return render(c, "ladder", name, path, title, extra, cap);
}

/* ---- 3. throughput and 4. speedup: one line per variant over sizes --------------- */

/* Sizes of op that have a total time, in increasing element count. */
static qkperf_names sizes_by_elements(const qkperf_results *r, const char *op)
{
    qkperf_names s = distinct(r, op, FIELD_SIZE, 0);
    for (size_t i = 1; i < s.n; i++)
        for (size_t j = i; j > 0 && elements(s.v[j - 1]) > elements(s.v[j]); j--) {
            const char *t = s.v[j];
            s.v[j] = s.v[j - 1];
            s.v[j - 1] = t;
        }
    return s;
}

/* One block per variant (in names order) of elements, GB/s, MAD, size. */
static int throughput_blocks(FILE *f, const qkperf_results *r, const char *op,
                             const qkperf_names *vs, const qkperf_names *ss, char *names,
                             size_t cap)
{
    int rows = 0;
    fprintf(f, "# elements,GBps,GBps_mad,size (one block per variant)\n");
    for (size_t v = 0; v < vs->n; v++) {
        int n = 0;
        for (size_t s = 0; s < ss->n; s++) {
            const qkperf_record *x = counted(r, op, vs->v[v], ss->v[s], "total", "bandwidth");
            if (x && n++ == 0 && v)
                fprintf(f, "\n\n");
            if (x)
                fprintf(f, "%.0f,%.6g,%.6g,%s\n", elements(ss->v[s]), x->median / 1e9, x->mad / 1e9,
                        ss->v[s]);
        }
        if (n)
            snprintf(names + strlen(names), cap - strlen(names), "%s%s", rows ? " " : "", vs->v[v]);
        rows += n > 0;
    }
    return rows;
}

/* The four limits in GB/s, 0 when the document has no roofline. */
static void roofline_vars(const qkperf_results *r, char *buf, size_t cap, int *have)
{
    qkperf_roofline rl = {0};
    char err[200];
    *have = qkperf_roofline_from_json(json_object_get(r->machine, "roofline"), &rl, err,
                                      sizeof err) == 0;
    snprintf(buf, cap, "l1=%.4g; l2=%.4g; l3=%.4g; mem=%.4g", rl.l1_store_Bps / 1e9,
             rl.l2_read_Bps / 1e9, rl.l3_read_Bps / 1e9, rl.mem_read_Bps / 1e9);
}

static int plot_throughput(qkperf_plot_ctx *c, const char *op)
{
    qkperf_names vs = distinct(c->r, op, FIELD_VARIANT, 0), ss = sizes_by_elements(c->r, op);
    char name[100], path[PATH_MAX], names[1024] = "";
    snprintf(name, sizeof name, "throughput-%s", op);
    FILE *f = open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    int rows = throughput_blocks(f, c->r, op, &vs, &ss, names, sizeof names);
    if (close_data(c, f, path))
        return -1;
    if (!rows)
        return skip(c, "%s: no bandwidth records (total, B/s)", name);
    char roof[200], extra[1400], title[200], cap[300];
    int have;
    roofline_vars(c->r, roof, sizeof roof, &have);
    snprintf(extra, sizeof extra, "names='%s'; %s", names, roof);
    snprintf(title, sizeof title,
             "%s: bandwidth of the fused kernel vs size (weights, scales, inputs and outputs)", op);
    snprintf(cap, sizeof cap,
             "%s: GB/s moved (packed weights, scales, inputs, outputs) per variant vs elements%s",
             op,
             have ? ", with this machine's measured limits" : " (no roofline in this document)");
    return render(c, "throughput", name, path, title, extra, cap);
}

/* Speedup of v over scalar at one size, with the bootstrap interval of the
 * ratio of medians (inverted: time ratio after/before -> speedup). */
static int speedup_at(const qkperf_record *base, const qkperf_record *x, double *s, double *lo,
                      double *hi)
{
    qkperf_change ch;
    qkperf_change_opts o = {.seed = QKPERF_DEFAULT_SEED, .resamples = 2000};
    if (qkperf_change_compute(base->samples, base->n, x->samples, x->n, &o, &ch) ||
        !ch.ratio_defined || ch.ratio <= 0 || ch.ci_lo <= 0)
        return -1;
    *s = 1 / ch.ratio;
    *lo = 1 / ch.ci_hi;
    *hi = 1 / ch.ci_lo;
    return 0;
}

static int speedup_blocks(FILE *f, const qkperf_results *r, const char *op, const qkperf_names *vs,
                          const qkperf_names *ss, char *names, size_t cap)
{
    int rows = 0;
    fprintf(f, "# elements,speedup,ci_lo,ci_hi,size (one block per variant)\n");
    for (size_t v = 0; v < vs->n; v++) {
        int n = 0;
        for (size_t s = 0; s < ss->n && strcmp(vs->v[v], "scalar"); s++) {
            const qkperf_record *b = counted(r, op, "scalar", ss->v[s], "total", "time");
            const qkperf_record *x = counted(r, op, vs->v[v], ss->v[s], "total", "time");
            double sp, lo, hi;
            if (!b || !x || speedup_at(b, x, &sp, &lo, &hi))
                continue;
            if (n++ == 0 && rows)
                fprintf(f, "\n\n");
            fprintf(f, "%.0f,%.5g,%.5g,%.5g,%s\n", elements(ss->v[s]), sp, lo, hi, ss->v[s]);
        }
        if (n)
            snprintf(names + strlen(names), cap - strlen(names), "%s%s", rows ? " " : "", vs->v[v]);
        rows += n > 0;
    }
    return rows;
}

/* The sprint's targets are for 1-D sizes: 3x at 256-1024, 2.5x at 4096, 2x
 * at 16384 (drawn as short segments around each point). */
static int write_targets(qkperf_plot_ctx *c, const char *name, char *path)
{
    static const double t[][3] = {
        {256, 1024, 3}, {4096 / 1.3, 4096 * 1.3, 2.5}, {16384 / 1.3, 16384 * 1.3, 2}};
    FILE *f = open_data(c, name, path, PATH_MAX);
    if (!f)
        return -1;
    fprintf(f, "# from_elements,to_elements,target_speedup\n");
    for (size_t i = 0; i < 3; i++)
        fprintf(f, "%.0f,%.0f,%.2f\n", t[i][0], t[i][1], t[i][2]);
    return close_data(c, f, path);
}

static int plot_speedup(qkperf_plot_ctx *c, const char *op)
{
    qkperf_names vs = distinct(c->r, op, FIELD_VARIANT, 0), ss = sizes_by_elements(c->r, op);
    char name[100], path[PATH_MAX], tpath[PATH_MAX] = "", names[1024] = "";
    snprintf(name, sizeof name, "speedup-%s", op);
    FILE *f = open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    int rows = speedup_blocks(f, c->r, op, &vs, &ss, names, sizeof names);
    if (close_data(c, f, path))
        return -1;
    if (!rows)
        return skip(c, "%s: needs total times of scalar and another variant at the same size",
                    name);
    int one_d = ss.n && !strchr(ss.v[0], 'x');
    char tname[120];
    snprintf(tname, sizeof tname, "%s-targets", name);
    if (one_d && write_targets(c, tname, tpath))
        return -1;
    char qt[PATH_MAX * 2], extra[PATH_MAX * 2 + 1200], title[200], cap[300];
    gq(qt, sizeof qt, tpath);
    snprintf(extra, sizeof extra, "names='%s'; targets='%s'", names, qt);
    snprintf(title, sizeof title, "%s: speedup over scalar (median total time)", op);
    snprintf(cap, sizeof cap, "%s: speedup vs scalar by size, 95%% bootstrap CI%s", op,
             one_d ? ", with the sprint's targets" : "");
    return render(c, "speedup", name, path, title, extra, cap);
}

/* ---- 5. counters --------------------------------------------------------------- */

#define QKPERF_COUNTER_PANELS 6

typedef struct qkperf_panel {
    const char *source, *metric, *unit;
} qkperf_panel;

/* The panels in priority order: each entry is one panel, drawn with the
 * first of its metrics that this op and size has counted for some staged
 * phase and that is not zero for every variant and phase. Sources take
 * turns, so each shows its most telling figure before any shows a second;
 * the chosen panels are then drawn grouped by source. */
typedef struct qkperf_pick {
    const char *source, *metric[2];
} qkperf_pick;

static const qkperf_pick counter_picks[] = {
    {"sim", {"Ir/elem", "Ir"}},
    {"static", {"cycles/elem", "cycles"}},
    {"hw", {"instructions", NULL}},
    {"sim", {"D1 miss ratio", "D1mr"}},
    {"static", {"uops/iter", "IPC"}},
    {"hw", {"cycles", NULL}},
    {"sim", {"Dr", NULL}},
    {"hw", {"L1D misses", NULL}},
    {"sim", {"Dw", NULL}},
    {"hw", {"IPC", NULL}},
};

static const char *const counter_sources[] = {"sim", "static", "hw"};

/* Port pressure has its own plot (ports-OP-SIZE). */
static int port_metric(const char *metric)
{
    return !strncmp(metric, "port ", 5) || !strncmp(metric, "bottleneck ", 11);
}

enum { METRIC_ABSENT, METRIC_ZERO, METRIC_NONZERO };

/* Whether a metric of one source has counted staged records for op at size,
 * and whether any of them is not zero; *unit is set from the first. */
static int metric_state(const qkperf_results *r, const char *op, const char *size,
                        const char *source, const char *metric, const char **unit)
{
    int st = METRIC_ABSENT;
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!x->counted || !x->n || strcmp(x->source, source) || strcmp(x->metric, metric) ||
            strcmp(x->op, op) || strcmp(x->size, size) || !strcmp(x->phase, "total"))
            continue;
        if (st == METRIC_ABSENT && unit)
            *unit = x->unit;
        if (x->median != 0 && !isnan(x->median))
            return METRIC_NONZERO;
        st = METRIC_ZERO;
    }
    return st;
}

static void list_add(char *buf, size_t cap, const char *sep, const char *item)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n ? sep : "", item);
}

typedef struct qkperf_counter_choice {
    qkperf_panel p[QKPERF_COUNTER_PANELS];
    size_t n;
    char left[400]; /* metrics worth a panel that found no room: "sim Dr, sim Dw" */
    char zero[400]; /* metrics zero for every variant and phase: "sim D1mr, D1mw" */
} qkperf_counter_choice;

static int chosen(const qkperf_counter_choice *ch, const char *source, const char *metric)
{
    for (size_t k = 0; k < ch->n; k++)
        if (!strcmp(ch->p[k].source, source) && !strcmp(ch->p[k].metric, metric))
            return 1;
    return 0;
}

static void choose_panel(qkperf_counter_choice *ch, const char *source, const char *metric,
                         const char *unit)
{
    char item[80];
    if (ch->n < QKPERF_COUNTER_PANELS) {
        ch->p[ch->n++] = (qkperf_panel){source, metric, unit};
        return;
    }
    snprintf(item, sizeof item, "%s %s", source, metric);
    list_add(ch->left, sizeof ch->left, ", ", item);
}

static void counter_choice(const qkperf_results *r, const char *op, const char *size,
                           qkperf_counter_choice *ch)
{
    memset(ch, 0, sizeof *ch);
    int has[3] = {0, 0, 0}; /* a source that has a priority metric */
    for (size_t k = 0; k < sizeof counter_picks / sizeof counter_picks[0]; k++) {
        const qkperf_pick *pk = &counter_picks[k];
        for (size_t m = 0; m < 2 && pk->metric[m]; m++) {
            const char *unit = "";
            if (metric_state(r, op, size, pk->source, pk->metric[m], &unit) != METRIC_NONZERO)
                continue;
            for (size_t s = 0; s < 3; s++)
                has[s] |= !strcmp(pk->source, counter_sources[s]);
            choose_panel(ch, pk->source, pk->metric[m], unit);
            break;
        }
    }
    /* A source none of whose metrics is in the list (a user's own event
     * group) still shows what it counted, in document order; metrics zero
     * everywhere are named in the caption instead of drawn. */
    for (size_t s = 0; s < 3; s++) {
        char zeros[300] = "";
        qkperf_names seen = {.n = 0};
        for (size_t i = 0; i < r->n; i++) {
            const qkperf_record *x = &r->rec[i];
            if (strcmp(x->source, counter_sources[s]) || strcmp(x->op, op) ||
                strcmp(x->size, size) || port_metric(x->metric))
                continue;
            size_t before = seen.n;
            names_add(&seen, x->metric);
            if (seen.n == before)
                continue;
            const char *unit = "";
            int st = metric_state(r, op, size, x->source, x->metric, &unit);
            if (st == METRIC_ZERO)
                list_add(zeros, sizeof zeros, ", ", x->metric);
            else if (st == METRIC_NONZERO && !has[s] && !chosen(ch, x->source, x->metric))
                choose_panel(ch, counter_sources[s], x->metric, unit);
        }
        if (*zeros) {
            char item[340];
            snprintf(item, sizeof item, "%s %s", counter_sources[s], zeros);
            list_add(ch->zero, sizeof ch->zero, "; ", item);
        }
    }
    /* Drawn grouped by source (sim, static, hw), by priority within one. */
    qkperf_panel sorted[QKPERF_COUNTER_PANELS];
    size_t n = 0;
    for (size_t s = 0; s < 3; s++)
        for (size_t k = 0; k < ch->n; k++)
            if (!strcmp(ch->p[k].source, counter_sources[s]))
                sorted[n++] = ch->p[k];
    memcpy(ch->p, sorted, n * sizeof sorted[0]);
}

size_t qkperf_counter_panels(const qkperf_results *r, const char *op, const char *size,
                             char (*names)[64], size_t max)
{
    qkperf_counter_choice ch;
    counter_choice(r, op, size, &ch);
    for (size_t k = 0; k < ch.n && k < max; k++)
        snprintf(names[k], 64, "%s %s", ch.p[k].source, ch.p[k].metric);
    return ch.n;
}

/* Counts (and cycles per phase) are shown per element, so sizes compare;
 * a metric already per something ("cycles/elem", "uops/iter") is not. */
static int per_element(const qkperf_panel *pn)
{
    return (!strcmp(pn->unit, "count") || !strcmp(pn->unit, "cycles")) && !strchr(pn->metric, '/');
}

/* Panel file: row per variant: x, variant, one value per phase (NaN when
 * that phase has no record). */
static int panel_file(qkperf_plot_ctx *c, const char *name, const char *op, const char *size,
                      const qkperf_panel *pn, const qkperf_names *vs, const qkperf_names *ph)
{
    char path[PATH_MAX];
    FILE *f = open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    double div = per_element(pn) ? elements(size) : 1;
    fprintf(f, "# x,variant");
    for (size_t p = 0; p < ph->n; p++)
        fprintf(f, ",%s", ph->v[p]);
    fputc('\n', f);
    for (size_t v = 0; v < vs->n; v++) {
        fprintf(f, "%zu,%s", v, vs->v[v]);
        for (size_t p = 0; p < ph->n; p++) {
            const qkperf_record *x = NULL;
            for (size_t i = 0; i < c->r->n && !x; i++) {
                const qkperf_record *y = &c->r->rec[i];
                if (y->counted && y->n && !strcmp(y->op, op) && !strcmp(y->size, size) &&
                    !strcmp(y->variant, vs->v[v]) && !strcmp(y->phase, ph->v[p]) &&
                    !strcmp(y->source, pn->source) && !strcmp(y->metric, pn->metric))
                    x = y;
            }
            fprintf(f, x ? ",%.6g" : ",NaN", x ? x->median / div : 0);
        }
        fputc('\n', f);
    }
    return close_data(c, f, path);
}

/* "'Ir per element (sim)'", "'IPC (hw)'", "'uops/iter (static)'",
 * "'x [unit] (src)'": one quoted word of the panels list the script walks
 * with word(). */
static void panel_label(char *buf, size_t cap, const qkperf_panel *pn, size_t k)
{
    char unit[40] = "";
    if (per_element(pn))
        snprintf(unit, sizeof unit, " per element");
    else if (*pn->unit && !strchr(pn->metric, '/'))
        snprintf(unit, sizeof unit, " [%s]", pn->unit);
    snprintf(buf, cap, "%s'%s%s (%s)'", k ? " " : "", pn->metric, unit, pn->source);
}

static int plot_counters(qkperf_plot_ctx *c, const char *op, const char *size)
{
    qkperf_counter_choice ch;
    counter_choice(c->r, op, size, &ch);
    char name[200], safe[120];
    file_safe(safe, sizeof safe, size);
    snprintf(name, sizeof name, "counters-%s-%s", op, safe);
    if (!ch.n)
        return 0; /* reported once per document by qkperf_plot_all */
    qkperf_names vs = distinct(c->r, op, FIELD_VARIANT, 1), ph = distinct(c->r, op, FIELD_PHASE, 1);
    char labels[1500] = "", phases[512] = "", first[PATH_MAX] = "";
    for (size_t k = 0; k < ch.n; k++) {
        char pname[260];
        snprintf(pname, sizeof pname, "%s-%zu", name, k + 1);
        if (panel_file(c, pname, op, size, &ch.p[k], &vs, &ph))
            return -1;
        if (!k)
            snprintf(first, sizeof first, "%s/data/%s.csv", c->dir, pname);
        panel_label(labels + strlen(labels), sizeof labels - strlen(labels), &ch.p[k], k);
    }
    for (size_t p = 0; p < ph.n; p++)
        snprintf(phases + strlen(phases), sizeof phases - strlen(phases), "%s%s", p ? " " : "",
                 ph.v[p]);
    if (*ch.left &&
        skip(c, "%s: no room for %s (at most %d panels)", name, ch.left, QKPERF_COUNTER_PANELS))
        return -1;
    char prefix[PATH_MAX * 2], qp[PATH_MAX * 2], extra[PATH_MAX * 2 + 2200], title[200], cap[700];
    snprintf(prefix, sizeof prefix, "%s/data/%s", c->dir, name);
    gq(qp, sizeof qp, prefix);
    snprintf(extra, sizeof extra, "prefix='%s'; panels=\"%s\"; phases='%s'", qp, labels, phases);
    snprintf(title, sizeof title, "%s %s: per-phase counters by source", op, size);
    snprintf(cap, sizeof cap,
             "%s at %s: per-phase counters (sim = callgrind, static = llvm-mca model, hw = PMU), "
             "labelled by source%s%s",
             op, size, *ch.zero ? "; zero for every variant and phase, so not drawn: " : "",
             ch.zero);
    return render(c, "counters", name, first, title, extra, cap);
}

/* ---- 6. port pressure (static) ------------------------------------------------- */

/* Resource families in drawing order: FP/vector pipes; integer ALUs and
 * branch units; address generation, loads and stores; anything else (e.g.
 * Intel's numbered ports) last. Names are LLVM's scheduling-model resources
 * with '.N' for the units of a multi-unit resource (Zn3FPP45.0, Zn3LSU.1). */
static const char *const resource_families[] = {"FP / vector", "integer", "load / store", "other"};

static int resource_family(const char *res)
{
    static const char *const keys[][6] = {{"FP", "Vec", "VEC", NULL},
                                          {"ALU", "BRU", "Int", "INT", "Div", NULL},
                                          {"AGU", "LSU", "Load", "Store", "LD", NULL}};
    for (int f = 0; f < 3; f++)
        for (int k = 0; keys[f][k]; k++)
            if (strstr(res, keys[f][k]))
                return f;
    return 3;
}

static int resource_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int fx = resource_family(x), fy = resource_family(y);
    return fx != fy ? fx - fy : strverscmp(x, y);
}

/* The resource named by a "port R" or "bottleneck R" metric, else NULL. */
static const char *port_resource(const qkperf_record *x)
{
    if (!strncmp(x->metric, "port ", 5))
        return x->metric + 5;
    if (!strncmp(x->metric, "bottleneck ", 11))
        return x->metric + 11;
    return NULL;
}

static const qkperf_record *port_record(const qkperf_results *r, const char *op, const char *size,
                                        const char *variant, const char *phase, const char *prefix,
                                        const char *res)
{
    char metric[64];
    snprintf(metric, sizeof metric, "%s%s", prefix, res);
    const qkperf_record *x = counted(r, op, variant, size, phase, metric);
    return x && !strcmp(x->source, "static") && !isnan(x->median) ? x : NULL;
}

typedef struct qkperf_ports {
    qkperf_names vs, ph, res;
    double vmax;
} qkperf_ports;

static void ports_collect(const qkperf_results *r, const char *op, const char *size,
                          qkperf_ports *p)
{
    qkperf_names all_ph = distinct(r, op, FIELD_PHASE, 1), has_ph = {.n = 0};
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        const char *res = port_resource(x);
        if (!res || !x->counted || !x->n || strcmp(x->source, "static") || strcmp(x->op, op) ||
            strcmp(x->size, size))
            continue;
        names_add(&p->vs, x->variant);
        names_add(&has_ph, x->phase);
        names_add(&p->res, res);
        if (x->median > p->vmax)
            p->vmax = x->median;
    }
    /* Phases in the op's order, the fused total (if modelled) last. */
    for (size_t k = 0; k < all_ph.n; k++)
        for (size_t j = 0; j < has_ph.n; j++)
            if (!strcmp(all_ph.v[k], has_ph.v[j]))
                names_add(&p->ph, all_ph.v[k]);
    for (size_t j = 0; j < has_ph.n; j++)
        if (!strcmp(has_ph.v[j], "total"))
            names_add(&p->ph, "total");
    qsort(p->res.v, p->res.n, sizeof p->res.v[0], resource_cmp);
}

/* Rows variant,phase,resource (indices),uops per iteration,bottleneck. */
static int ports_rows(FILE *f, const qkperf_results *r, const char *op, const char *size,
                      const qkperf_ports *p)
{
    int rows = 0;
    fprintf(f, "# variant,phase,resource (indices into the lists given to "
               "ports.gp),uops_per_iter,bottleneck\n");
    for (size_t v = 0; v < p->vs.n; v++)
        for (size_t k = 0; k < p->ph.n; k++)
            for (size_t j = 0; j < p->res.n; j++) {
                const qkperf_record *x =
                    port_record(r, op, size, p->vs.v[v], p->ph.v[k], "port ", p->res.v[j]);
                const qkperf_record *b =
                    port_record(r, op, size, p->vs.v[v], p->ph.v[k], "bottleneck ", p->res.v[j]);
                if (!x && !b)
                    continue;
                fprintf(f, "%zu,%zu,%zu,%.6g,%d\n", v, k, j, (x ? x : b)->median, b != NULL);
                rows++;
            }
    return rows;
}

static void words_of(char *buf, size_t cap, const qkperf_names *s)
{
    buf[0] = 0;
    for (size_t i = 0; i < s->n; i++)
        list_add(buf, cap, " ", s->v[i]);
}

static int plot_ports(qkperf_plot_ctx *c, const char *op, const char *size)
{
    qkperf_ports p;
    ports_collect(c->r, op, size, &p);
    if (!p.vs.n || !p.res.n)
        return 0; /* reported once per document by qkperf_plot_all */
    char name[200], safe[120], path[PATH_MAX];
    file_safe(safe, sizeof safe, size);
    snprintf(name, sizeof name, "ports-%s-%s", op, safe);
    FILE *f = open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    int rows = ports_rows(f, c->r, op, size, &p);
    if (close_data(c, f, path))
        return -1;
    if (!rows)
        return skip(c, "%s: the static records carry no port pressure", name);
    char vs[1200], ph[400], res[2000], fams[200] = "", starts[100] = "";
    words_of(vs, sizeof vs, &p.vs);
    words_of(ph, sizeof ph, &p.ph);
    words_of(res, sizeof res, &p.res);
    for (size_t j = 0; j < p.res.n; j++)
        if (!j || resource_family(p.res.v[j]) != resource_family(p.res.v[j - 1])) {
            char w[60];
            snprintf(w, sizeof w, "'%s'", resource_families[resource_family(p.res.v[j])]);
            list_add(fams, sizeof fams, " ", w);
            snprintf(w, sizeof w, "%zu", j);
            list_add(starts, sizeof starts, " ", w);
        }
    const char *mcpu = json_string_value(json_object_get(c->r->config, "mcpu"));
    char model[200], extra[4500], title[400], cap[500];
    snprintf(model, sizeof model, "%s", mcpu && *mcpu ? mcpu : "CPU model not recorded");
    snprintf(
        extra, sizeof extra,
        "variants='%s'; phases='%s'; resources='%s'; families=\"%s\"; famstart='%s'; vmax=%.6g", vs,
        ph, res, fams, starts, p.vmax);
    snprintf(title, sizeof title, "%s %s: port pressure per phase, llvm-mca -mcpu=%s", op, size,
             model);
    snprintf(
        cap, sizeof cap,
        "%s at %s: uops per loop iteration on each llvm-mca resource (static model, -mcpu=%s), "
        "per phase and variant; the bottleneck resource of each phase outlined",
        op, size, model);
    return render(c, "ports", name, path, title, extra, cap);
}

/* ---- driver ------------------------------------------------------------------ */

static int make_dir(qkperf_plot_ctx *c, const char *path)
{
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): plot_parse refuses no -o */
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return 0;
    return fail(c, "cannot create folder %s: %s", path, strerror(errno));
}

static int plot_op(qkperf_plot_ctx *c, const char *op, int *counters, int *ports)
{
    qkperf_names ss = sizes_by_elements(c->r, op);
    for (size_t s = 0; s < ss.n; s++)
        if (plot_breakdown(c, op, ss.v[s]) || plot_ladder(c, op, ss.v[s]))
            return -1;
    if (plot_throughput(c, op) || plot_speedup(c, op))
        return -1;
    for (size_t s = 0; s < ss.n; s++) {
        size_t before = c->out->nfiles;
        if (plot_counters(c, op, ss.v[s]))
            return -1;
        *counters += c->out->nfiles > before;
    }
    for (size_t s = 0; s < ss.n; s++) {
        size_t before = c->out->nfiles;
        if (plot_ports(c, op, ss.v[s]))
            return -1;
        *ports += c->out->nfiles > before;
    }
    return 0;
}

int qkperf_plot_all(const qkperf_results *r, const char *dir, qkperf_plots *out, char *err,
                    size_t len)
{
    char gp[PATH_MAX], data[PATH_MAX];
    memset(out, 0, sizeof *out);
    qkperf_plot_ctx c = {.r = r, .dir = dir, .out = out, .err = err, .len = len};
    if (!(c.gnuplot = qkperf_gnuplot_path(gp, sizeof gp)))
        return snprintf(err, len, "%s", QKPERF_NO_GNUPLOT), -1;
    snprintf(data, sizeof data, "%s/data", dir);
    if (find_scripts(&c) || make_dir(&c, dir) || make_dir(&c, data))
        return -1;
    qkperf_names ops = distinct(r, NULL, FIELD_OP, 0);
    int counters = 0, ports = 0;
    for (size_t i = 0; i < ops.n; i++) /* kernel ops only: decode has its own plot */
        if (qk_find_op(ops.v[i]) && plot_op(&c, ops.v[i], &counters, &ports))
            return -1;
    if (!ops.n && skip(&c, "all plots: the document has no counted records"))
        return -1;
    if (ops.n && !counters &&
        skip(&c,
             "counters: no counted records from the sim, static or hw sources in this document"))
        return -1;
    if (ops.n && !ports &&
        skip(&c,
             "ports: no port pressure records from the static source (llvm-mca) in this document"))
        return -1;
    return 0;
}

void qkperf_plots_free(qkperf_plots *p)
{
    char **lists[] = {p->files, p->captions, p->skipped};
    for (size_t l = 0; l < 3; l++) {
        for (size_t i = 0; lists[l] && lists[l][i]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    memset(p, 0, sizeof *p);
}

/* ---- command ----------------------------------------------------------------- */

/* A folder that exists and holds anything is someone's work: refuse it
 * unless --force. */
static int dir_in_use(const char *path)
{
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): plot_parse refuses no -o */
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int used = 0;
    while (!used && (e = readdir(d)))
        used = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return used;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qkperf plot: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (usage: qkperf plot RESULTS.json -o DIR [--force])\n");
    return 2;
}

static int plot_parse(int argc, char **argv, const char **in, const char **dir, int *force)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:f", opts, NULL)) != -1) {
        if (c == 'o')
            *dir = optarg;
        else if (c == 'f')
            *force = 1;
        else
            return usage_error("%s '%s'", c == ':' ? "missing value for option" : "unknown option",
                               argv[optind - 1]);
    }
    if (optind != argc - 1)
        return usage_error("expected one results document, got %d", argc - optind);
    *in = argv[optind];
    if (!*dir)
        return usage_error("no output folder: add -o DIR");
    return 0;
}

int qkperf_cmd_plot(int argc, char **argv)
{
    const char *in = NULL, *dir = NULL;
    int force = 0, rc = plot_parse(argc, argv, &in, &dir, &force);
    if (rc)
        return rc;
    if (!force && dir_in_use(dir))
        return fprintf(stderr,
                       "qkperf plot: %s exists and is not empty (use --force to write into it)\n",
                       dir),
               2;
    char err[1024];
    qkperf_results r; /* read_json initializes it, also on failure */
    if (qkperf_results_read_json(&r, in, err, sizeof err)) {
        qkperf_results_free(&r);
        return fprintf(stderr, "qkperf plot: %s\n", err), 2;
    }
    qkperf_plots p;
    rc = qkperf_plot_all(&r, dir, &p, err, sizeof err);
    if (rc)
        fprintf(stderr, "qkperf plot: %s\n", err);
    for (size_t i = 0; !rc && i < p.nfiles; i++)
        printf("%s/%s\n", dir, p.files[i]);
    for (size_t i = 0; !rc && i < p.nskipped; i++)
        printf("skipped %s\n", p.skipped[i]);
    qkperf_plots_free(&p);
    qkperf_results_free(&r);
    return rc ? 1 : 0;
}
