/*
 * plot_phases.c — the plots of time: the per-phase breakdown and the ladder
 * of one op at one size, and throughput and speedup of one op over its
 * sizes (see plot.h). Breakdown and ladder are made per op and size (the
 * review embeds the ones it wants); throughput and speedup put all sizes of
 * an op on one log-x axis of elements (ROWS*COLS for matrix shapes). The
 * ladder's verdicts come from qkperf_attrib_document, as `qkperf ladder`'s
 * and the review report's do.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attrib.h"
#include "plot_driver.h"
#include "registry.h"
#include "roofline.h"

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

/* ---- 1. breakdown --------------------------------------------------------------- */

/* A counted in-context record (the phase inside the fused kernel). */
static const qkperf_record *ic_counted(const qkperf_results *r, const char *op, const char *v,
                                       const char *size, const char *phase, const char *metric)
{
    const qkperf_record *x =
        qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op, v, size, phase, metric);
    return x && x->counted && x->n > 0 ? x : NULL;
}

/* Has any variant of op at size in-context times? */
static int has_in_context(const qkperf_results *r, const char *op, const char *size)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rec[i].op, op) && !strcmp(r->rec[i].size, size) &&
            !strcmp(r->rec[i].view, QKPERF_VIEW_IN_CONTEXT) && !strcmp(r->rec[i].metric, "time") &&
            r->rec[i].counted)
            return 1;
    return 0;
}

/* Largest staged sum or fused total, to pick the time unit. */
static double breakdown_max(const qkperf_results *r, const char *op, const char *size,
                            const qkperf_names *vs, const qkperf_names *ph)
{
    double max = 0;
    for (size_t v = 0; v < vs->n; v++) {
        double sum = 0;
        for (size_t p = 0; p < ph->n; p++) {
            const qkperf_record *x = qkperf_plot_counted(r, op, vs->v[v], size, ph->v[p], "time");
            sum += x ? x->median : 0;
        }
        const qkperf_record *t = qkperf_plot_counted(r, op, vs->v[v], size, "total", "time");
        max = fmax(max, fmax(sum, t ? t->median : 0));
    }
    return max;
}

/* Row per variant: x (the variant's index), variant, then per phase its
 * staged segment [lo, hi] and MAD, then the fused total and its MAD (NaN
 * when missing), then per phase and "other" the in-context segment [lo,
 * hi] (the stack of the phases' times inside the fused kernel, whose
 * height is the fused time; NaN without the in-context view). Phase names
 * are in the header only. */
static void breakdown_rows(FILE *f, const qkperf_results *r, const char *op, const char *size,
                           const qkperf_names *vs, const qkperf_names *ph, double div)
{
    fprintf(f, "# x,variant");
    for (size_t p = 0; p < ph->n; p++) {
        static const char *const part[] = {"_lo", "_hi", "_mad"};
        for (size_t k = 0; k < 3; k++) {
            fputc(',', f);
            qkperf_plot_name_field(f, ph->v[p]);
            fputs(part[k], f);
        }
    }
    fprintf(f, ",fused,fused_mad");
    for (size_t p = 0; p <= ph->n; p++) {
        fputc(',', f);
        qkperf_plot_name_field(f, p < ph->n ? ph->v[p] : "other");
        fputs("_ic_lo,", f);
        qkperf_plot_name_field(f, p < ph->n ? ph->v[p] : "other");
        fputs("_ic_hi", f);
    }
    fputc('\n', f);
    for (size_t v = 0; v < vs->n; v++) {
        double lo = 0;
        fprintf(f, "%zu,", v);
        qkperf_plot_name_field(f, vs->v[v]);
        for (size_t p = 0; p < ph->n; p++) {
            const qkperf_record *x = qkperf_plot_counted(r, op, vs->v[v], size, ph->v[p], "time");
            double m = x ? x->median / div : 0;
            fprintf(f, ",%.6g,%.6g,%.6g", lo, lo + m, x ? x->mad / div : 0);
            lo += m;
        }
        const qkperf_record *t = qkperf_plot_counted(r, op, vs->v[v], size, "total", "time");
        if (t)
            fprintf(f, ",%.6g,%.6g", t->median / div, t->mad / div);
        else
            fprintf(f, ",NaN,NaN");
        lo = 0;
        for (size_t p = 0; p <= ph->n; p++) {
            const char *name = p < ph->n ? ph->v[p] : "other";
            const qkperf_record *x = ic_counted(r, op, vs->v[v], size, name, "time");
            double m = x ? x->median / div : NAN;
            fprintf(f, ",%.6g,%.6g", x ? lo : NAN, lo + m);
            lo += x ? m : 0;
        }
        fputc('\n', f);
    }
}

/* op's phases in order: the registered op's, else (an op of a plugin not
 * loaded here: a colleague's document) as its records name them first. */
static qkperf_names op_phases(const qkperf_results *r, const char *op)
{
    qkperf_names ph = {.n = 0};
    const qk_op *o = qk_find_op(op);
    for (unsigned p = 0; o && p < qk_phase_count(o); p++)
        qkperf_names_add(&ph, o->phases[p]);
    for (size_t i = 0; !o && i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!strcmp(x->op, op) && x->counted && strcmp(x->phase, "total") &&
            strcmp(x->phase, "other"))
            qkperf_names_add(&ph, x->phase);
    }
    return ph;
}

int qkperf_plot_breakdown(qkperf_plot_ctx *c, const char *op, const char *size)
{
    const qkperf_results *r = c->r;
    qkperf_names vs = {.n = 0}, ph = qkperf_plot_distinct(r, op, QKPERF_FIELD_PHASE, 1);
    if (ph.n == 0)
        ph = op_phases(r, op); /* in context without staged phases */
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!strcmp(x->op, op) && !strcmp(x->size, size) && strcmp(x->phase, "total") &&
            !strcmp(x->metric, "time") && x->counted && x->n &&
            (!strcmp(x->view, QKPERF_VIEW_STAGED) || !strcmp(x->view, QKPERF_VIEW_IN_CONTEXT)))
            qkperf_names_add(&vs, x->variant);
    }
    char name[200], path[PATH_MAX];
    qkperf_plot_name(name, sizeof name, "breakdown", op, size);
    if (vs.n == 0)
        return qkperf_plot_skip(c, "%s: no phase times, staged or in context", name);
    const char *unit;
    double div = time_scale(breakdown_max(r, op, size, &vs, &ph), &unit);
    FILE *f = qkperf_plot_open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    breakdown_rows(f, r, op, size, &vs, &ph, div);
    if (qkperf_plot_close_data(c, f, path))
        return -1;
    char title[200], cap[300];
    qkperf_gp_vars v = {0};
    qkperf_gp_list(&v, "phases", ph.v, ph.n);
    qkperf_gp_list(&v, "variants", vs.v, vs.n);
    qkperf_gp_str(&v, "unit", unit);
    int ic = has_in_context(r, op, size);
    qkperf_gp_num(&v, "incontext", ic);
    snprintf(title, sizeof title, "%s %s: time per call by phase, staged%s", op, size,
             ic ? " (left) and in context (right: inside the fused kernel)" : " and fused");
    snprintf(cap, sizeof cap,
             "%s at %s: staged phases stacked per variant (each alone, median ± MAD)%s", op, size,
             ic ? "; beside it the fused kernel split in context by sampling (its height is the "
                  "fused time; other = code in no phase block)"
                : ", fused kernel beside");
    int rc = qkperf_plot_render(c, "breakdown", name, path, title, &v, cap);
    qkperf_gp_vars_free(&v);
    return rc;
}

/* ---- 2. ladder ------------------------------------------------------------------ */

static int verdict_code(qkperf_verdict v)
{
    return v == QKPERF_IMPROVED ? 1 : v == QKPERF_REGRESSED ? 2 : 0;
}

/* Step labels: "a → b" for the first, then "→ c"...: each step after the
 * first starts where the previous ended, and full labels collide past four
 * steps. */
typedef struct qkperf_step_labels {
    char text[QKPERF_ATTRIB_MAX][120];
    const char *v[QKPERF_ATTRIB_MAX];
    size_t n;
} qkperf_step_labels;

static void step_labels(const qkperf_attrib_doc *a, qkperf_step_labels *l)
{
    l->n = 0;
    for (size_t s = 0; s + 1 < a->nv; s++) {
        snprintf(l->text[s], sizeof l->text[s], "%s%s→ %s", s ? "" : a->variants[s], s ? "" : " ",
                 a->variants[s + 1]);
        l->v[l->n++] = l->text[s];
    }
}

/* Rows: x, step index, phase, % change, CI low, CI high, verdict code
 * (0 within noise, 1 improved, 2 regressed), phase index; a gap of one bar
 * between steps. The steps file has x of each step's centre, its index and
 * label. */
/* The delta a ladder bar shows: the phase in the plot's view (in context:
 * the sampled time, not sim's counts), total in the fused view. */
static int ladder_view(const qkperf_delta *d, const char *view)
{
    if (!strcmp(d->phase, "total"))
        return !strcmp(d->view, QKPERF_VIEW_FUSED);
    return !strcmp(d->view, view) &&
           (strcmp(view, QKPERF_VIEW_IN_CONTEXT) || !strcmp(d->source, "sample"));
}

static int ladder_rows(FILE *f, FILE *steps, const qkperf_attrib_doc *a, const qkperf_names *ph,
                       const qkperf_step_labels *l, const char *view)
{
    int rows = 0;
    fprintf(f, "# x,step,phase,pct,ci_lo,ci_hi,verdict,phase_index\n");
    fprintf(steps, "# x,step,label\n");
    for (size_t s = 0; s + 1 < a->nv; s++) {
        double x0 = (double)s * (double)(ph->n + 1);
        fprintf(steps, "%.2f,%zu,", x0 + (double)(ph->n - 1) / 2, s);
        qkperf_plot_name_field(steps, l->v[s]);
        fputc('\n', steps);
        for (size_t p = 0; p < ph->n; p++)
            for (size_t k = 0; k < a->ds.n; k++) {
                const qkperf_delta *d = &a->ds.d[k];
                if (strcmp(d->metric, "time") || strcmp(d->phase, ph->v[p]) ||
                    strcmp(d->from, a->variants[s]) || strcmp(d->to, a->variants[s + 1]) ||
                    !ladder_view(d, view) || !d->change.ratio_defined)
                    continue;
                fprintf(f, "%.0f,%zu,", x0 + (double)p, s);
                qkperf_plot_name_field(f, ph->v[p]);
                fprintf(f, ",%.4g,%.4g,%.4g,%d,%zu\n", (d->change.ratio - 1) * 100,
                        (d->change.ci_lo - 1) * 100, (d->change.ci_hi - 1) * 100,
                        verdict_code(d->verdict), p);
                rows++;
            }
    }
    return rows;
}

static int ladder_write(qkperf_plot_ctx *c, const char *name, const qkperf_attrib_doc *a,
                        const qkperf_names *ph, const qkperf_step_labels *l, const char *view,
                        char *path, char *spath)
{
    char sname[220];
    snprintf(sname, sizeof sname, "%s-steps", name);
    FILE *f = qkperf_plot_open_data(c, name, path, PATH_MAX);
    FILE *s = f ? qkperf_plot_open_data(c, sname, spath, PATH_MAX) : NULL;
    if (!s) {
        if (f)
            fclose(f);
        return -1;
    }
    int rows = ladder_rows(f, s, a, ph, l, view);
    int rc = qkperf_plot_close_data(c, f, path);
    rc |= qkperf_plot_close_data(c, s, spath);
    return rc ? -1 : rows;
}

static int ladder_render(qkperf_plot_ctx *c, const char *op, const char *size, const char *name,
                         const char *path, const char *spath, const qkperf_attrib_doc *a,
                         const qkperf_names *ph, const qkperf_step_labels *l, int ic)
{
    char title[200], cap[400];
    qkperf_gp_vars v = {0};
    qkperf_gp_str(&v, "steps", spath);
    qkperf_gp_list(&v, "stepnames", l->v, l->n);
    qkperf_gp_list(&v, "phases", ph->v, ph->n);
    snprintf(title, sizeof title, "%s %s: change of each phase's time %s, per step", op, size,
             ic ? "inside the fused kernel" : "(staged)");
    snprintf(cap, sizeof cap,
             "%s at %s: %% change of each phase's median time per step, %s; 95%% bootstrap CI; "
             "colour = verdict (time noise band %.3g%%%s)",
             op, size,
             ic ? "in context (its share of the fused kernel's samples x the fused time)"
                : "staged (each phase alone)",
             a->bands.band[QKPERF_KIND_TIME] * 100,
             a->recorded ? "" : "; the document records no bands: the defaults");
    int rc = qkperf_plot_render(c, "ladder", name, path, title, &v, cap);
    qkperf_gp_vars_free(&v);
    return rc;
}

int qkperf_plot_ladder(qkperf_plot_ctx *c, const char *op, const char *size)
{
    int ic = has_in_context(c->r, op, size);
    qkperf_names ph = qkperf_plot_distinct(c->r, op, QKPERF_FIELD_PHASE, 1);
    if (ic) { /* the op's phases and other, whether or not staged were run */
        ph = op_phases(c->r, op);
        qkperf_names_add(&ph, "other");
    }
    qkperf_names_add(&ph, "total");
    const char *view = ic ? QKPERF_VIEW_IN_CONTEXT : QKPERF_VIEW_STAGED;
    char name[200], path[PATH_MAX], spath[PATH_MAX];
    qkperf_plot_name(name, sizeof name, "ladder", op, size);
    qkperf_attrib_doc a;
    if (qkperf_attrib_document(c->r, op, size, &a)) {
        qkperf_attrib_doc_free(&a);
        return qkperf_plot_fail(c, "%s: attribution failed (out of memory)", name);
    }
    qkperf_step_labels l;
    step_labels(&a, &l);
    int rc, rows;
    if (a.nv < 2)
        rc = qkperf_plot_skip(c, "%s: needs at least two variants, the document has %zu", name,
                              a.nv);
    else if ((rows = ladder_write(c, name, &a, &ph, &l, view, path, spath)) <= 0)
        rc = rows < 0 ? -1 : qkperf_plot_skip(c, "%s: no step has a defined time ratio", name);
    else
        rc = ladder_render(c, op, size, name, path, spath, &a, &ph, &l, ic);
    qkperf_attrib_doc_free(&a);
    return rc;
}

/* ---- 3. throughput and 4. speedup: one line per variant over sizes --------------- */

/* One block per variant (in names order) of elements, GB/s, MAD, size,
 * size index; `names` receives the variants that have a block. */
static int throughput_blocks(FILE *f, const qkperf_results *r, const char *op,
                             const qkperf_names *vs, const qkperf_names *ss, qkperf_names *names)
{
    int rows = 0;
    fprintf(f, "# elements,GBps,GBps_mad,size,size_index (one block per variant)\n");
    for (size_t v = 0; v < vs->n; v++) {
        int n = 0;
        for (size_t s = 0; s < ss->n; s++) {
            const qkperf_record *x =
                qkperf_plot_counted(r, op, vs->v[v], ss->v[s], "total", "bandwidth");
            if (!x)
                continue;
            if (n++ == 0 && v)
                fprintf(f, "\n\n");
            fprintf(f, "%.0f,%.6g,%.6g,", qkperf_plot_elements(ss->v[s]), x->median / 1e9,
                    x->mad / 1e9);
            qkperf_plot_name_field(f, ss->v[s]);
            fprintf(f, ",%zu\n", s);
        }
        if (n)
            names->v[names->n++] = vs->v[v];
        rows += n > 0;
    }
    return rows;
}

/* The four limits in GB/s, 0 when the document has no roofline. */
static int roofline_vars(const qkperf_results *r, qkperf_gp_vars *v)
{
    qkperf_roofline rl = {0};
    char err[200];
    int have = qkperf_roofline_from_json(json_object_get(r->machine, "roofline"), &rl, err,
                                         sizeof err) == 0;
    qkperf_gp_num(v, "l1", rl.l1_store_Bps / 1e9);
    qkperf_gp_num(v, "l2", rl.l2_read_Bps / 1e9);
    qkperf_gp_num(v, "l3", rl.l3_read_Bps / 1e9);
    qkperf_gp_num(v, "mem", rl.mem_read_Bps / 1e9);
    return have;
}

int qkperf_plot_throughput(qkperf_plot_ctx *c, const char *op)
{
    qkperf_names vs = qkperf_plot_distinct(c->r, op, QKPERF_FIELD_VARIANT, 0),
                 ss = qkperf_plot_sizes(c->r, op), names = {.n = 0};
    char name[100], path[PATH_MAX];
    snprintf(name, sizeof name, "throughput-%s", op);
    FILE *f = qkperf_plot_open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    int rows = throughput_blocks(f, c->r, op, &vs, &ss, &names);
    if (qkperf_plot_close_data(c, f, path))
        return -1;
    if (!rows)
        return qkperf_plot_skip(c, "%s: no bandwidth records (total, B/s)", name);
    char title[200], cap[300];
    qkperf_gp_vars v = {0};
    qkperf_gp_list(&v, "names", names.v, names.n);
    qkperf_gp_list(&v, "sizes", ss.v, ss.n);
    int have = roofline_vars(c->r, &v);
    snprintf(title, sizeof title,
             "%s: bandwidth of the fused kernel vs size (weights, scales, inputs and outputs)", op);
    snprintf(cap, sizeof cap,
             "%s: GB/s moved (packed weights, scales, inputs, outputs) per variant vs elements%s",
             op,
             have ? ", with this machine's measured limits" : " (no roofline in this document)");
    int rc = qkperf_plot_render(c, "throughput", name, path, title, &v, cap);
    qkperf_gp_vars_free(&v);
    return rc;
}

/* Speedup of v over scalar at one size, with the bootstrap interval of the
 * ratio of medians (inverted: time ratio after/before -> speedup), with the
 * document's bootstrap seed. */
static int speedup_at(const qkperf_record *base, const qkperf_record *x, uint64_t seed, double *s,
                      double *lo, double *hi)
{
    qkperf_change ch;
    qkperf_change_opts o = {.seed = seed, .resamples = 2000};
    if (qkperf_change_compute(base->samples, base->n, x->samples, x->n, &o, &ch) ||
        !ch.ratio_defined || ch.ratio <= 0 || ch.ci_lo <= 0)
        return -1;
    *s = 1 / ch.ratio;
    *lo = 1 / ch.ci_hi;
    *hi = 1 / ch.ci_lo;
    return 0;
}

static int speedup_blocks(FILE *f, const qkperf_results *r, const char *op, const qkperf_names *vs,
                          const qkperf_names *ss, qkperf_names *names)
{
    qkperf_bands bands;
    uint64_t seed;
    qkperf_attrib_settings(r, &bands, &seed);
    int rows = 0;
    fprintf(f, "# elements,speedup,ci_lo,ci_hi,size,size_index (one block per variant)\n");
    for (size_t v = 0; v < vs->n; v++) {
        int n = 0;
        for (size_t s = 0; s < ss->n && strcmp(vs->v[v], "scalar"); s++) {
            const qkperf_record *b =
                qkperf_plot_counted(r, op, "scalar", ss->v[s], "total", "time");
            const qkperf_record *x =
                qkperf_plot_counted(r, op, vs->v[v], ss->v[s], "total", "time");
            double sp, lo, hi;
            if (!b || !x || speedup_at(b, x, seed, &sp, &lo, &hi))
                continue;
            if (n++ == 0 && rows)
                fprintf(f, "\n\n");
            fprintf(f, "%.0f,%.5g,%.5g,%.5g,", qkperf_plot_elements(ss->v[s]), sp, lo, hi);
            qkperf_plot_name_field(f, ss->v[s]);
            fprintf(f, ",%zu\n", s);
        }
        if (n)
            names->v[names->n++] = vs->v[v];
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
    FILE *f = qkperf_plot_open_data(c, name, path, PATH_MAX);
    if (!f)
        return -1;
    fprintf(f, "# from_elements,to_elements,target_speedup\n");
    for (size_t i = 0; i < 3; i++)
        fprintf(f, "%.0f,%.0f,%.2f\n", t[i][0], t[i][1], t[i][2]);
    return qkperf_plot_close_data(c, f, path);
}

int qkperf_plot_speedup(qkperf_plot_ctx *c, const char *op)
{
    qkperf_names vs = qkperf_plot_distinct(c->r, op, QKPERF_FIELD_VARIANT, 0),
                 ss = qkperf_plot_sizes(c->r, op), names = {.n = 0};
    char name[100], path[PATH_MAX], tpath[PATH_MAX] = "";
    snprintf(name, sizeof name, "speedup-%s", op);
    FILE *f = qkperf_plot_open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    int rows = speedup_blocks(f, c->r, op, &vs, &ss, &names);
    if (qkperf_plot_close_data(c, f, path))
        return -1;
    if (!rows)
        return qkperf_plot_skip(
            c, "%s: needs total times of scalar and another variant at the same size", name);
    int one_d = ss.n && !strchr(ss.v[0], 'x');
    char tname[120];
    snprintf(tname, sizeof tname, "%s-targets", name);
    if (one_d && write_targets(c, tname, tpath))
        return -1;
    char title[200], cap[300];
    qkperf_gp_vars v = {0};
    qkperf_gp_list(&v, "names", names.v, names.n);
    qkperf_gp_list(&v, "sizes", ss.v, ss.n);
    qkperf_gp_str(&v, "targets", tpath);
    snprintf(title, sizeof title, "%s: speedup over scalar (median total time)", op);
    snprintf(cap, sizeof cap, "%s: speedup vs scalar by size, 95%% bootstrap CI%s", op,
             one_d ? ", with the sprint's targets" : "");
    int rc = qkperf_plot_render(c, "speedup", name, path, title, &v, cap);
    qkperf_gp_vars_free(&v);
    return rc;
}
