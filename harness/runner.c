/*
 * runner.c — the measurement loop (see runner.h for the discipline).
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derive.h"
#include "events.h"
#include "groups.h"
#include "incontext.h"
#include "meter.h"
#include "pfm.h"
#include "runner.h"
#include "stats.h"
#include "tsc.h"

enum { MAX_PASSES = 24, MAX_GROUPS = 8, MAX_GROUP_EVENTS = 64, EMPTY_REPS = 201 };

void qkperf_run_opts_default(qkperf_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->samples = 11;
    o->warmup_ms = 20.0;
    o->min_sample_us = 50.0;
    o->seed = 1;
    o->cpu = -1;
    o->staged = 1;
    o->sw = 1;
    o->sample_target = QKPERF_IC_DEFAULT_SAMPLES;
    o->sample_hz = QKPERF_IC_DEFAULT_HZ;
}

typedef struct pass {
    qkperf_meter outer; /* sw, or one part of a hw group */
    int has_outer;
    size_t group;       /* hw: index into plan.groups */
    size_t first_event; /* hw: group event index of outer metric 0 */
} pass;

typedef struct plan {
    qkperf_meter tsc;
    pass passes[MAX_PASSES];
    size_t npasses;
    qkperf_group *groups[MAX_GROUPS + 1]; /* + the -e events */
    size_t ngroups;
    double overhead_ns; /* start/stop cost of the heaviest pass */
} plan;

typedef struct region {
    const qk_variant *v;
    void *ws;
    int phase; /* -1: the fused kernel */
} region;

static void region_run(const region *r, unsigned long batch)
{
    if (r->phase < 0)
        for (unsigned long i = 0; i < batch; i++)
            r->v->fused(r->ws);
    else
        for (unsigned long i = 0; i < batch; i++)
            r->v->phases[r->phase].staged(r->ws);
}

/* ---- groups -------------------------------------------------------------- */

static qkperf_group *load_group(const qkperf_run_opts *o, const char *name, char *err, size_t len)
{
    return qkperf_group_load(o->group_dirs, qkperf_group_host_folder(o->group_dirs), name, 1, err,
                             len);
}

/* An event libpfm does not know at all is a mistake in the group file; an
 * event of a PMU that is merely not active here is not (it reads n/a). */
static int check_events(const qkperf_group *g, char *err, size_t len)
{
    for (size_t i = 0; i < g->nevents; i++) {
        struct perf_event_attr attr;
        char msg[256];
        memset(&attr, 0, sizeof attr);
        int rc = qkperf_pfm_encode(g->events[i].name, &attr, msg, sizeof msg);
        if (rc == QKPERF_PFM_UNKNOWN || rc == QKPERF_PFM_BADATTR) {
            snprintf(err, len, "%s: event '%s' (%s): %s", g->path, g->events[i].alias,
                     g->events[i].name, msg);
            return -1;
        }
    }
    return 0;
}

/* General-purpose counters a part may use. The NMI watchdog, when on,
 * holds one of them for good, so a part sized to all of them would never
 * be scheduled. */
static size_t part_width(const qkperf_group *g)
{
    int width = g->nevents ? qkperf_pfm_num_counters(g->events[0].name) : -1;
    FILE *f = fopen("/proc/sys/kernel/nmi_watchdog", "r");
    int wd = 0;
    if (f) {
        if (fscanf(f, "%d", &wd) != 1)
            wd = 0;
        fclose(f);
    }
    if (width > 1 && wd == 1)
        width--;
    size_t step = width > 0 ? (size_t)width : g->nevents;
    return step == 0 || step > QKPERF_METER_MAX ? QKPERF_METER_MAX : step;
}

int qkperf_runner_check_groups(const qkperf_run_opts *o, char *err, size_t errlen)
{
    size_t passes = 1;
    if (o->events && o->events[0]) {
        qkperf_group *g = qkperf_events_group(o->events, err, errlen);
        if (!g)
            return -1;
        int many = g->nevents > MAX_GROUP_EVENTS;
        passes += (g->nevents + part_width(g) - 1) / part_width(g);
        qkperf_group_free(g);
        if (many)
            return snprintf(err, errlen, "-e: too many events (at most %d)", MAX_GROUP_EVENTS), -1;
    }
    for (size_t i = 0; o->groups && o->groups[i]; i++) {
        if (i >= MAX_GROUPS)
            return snprintf(err, errlen, "too many event groups (at most %d)", MAX_GROUPS), -1;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(o->groups[k], o->groups[i]))
                return snprintf(err, errlen, "event group '%s' given twice", o->groups[i]), -1;
        qkperf_group *g = load_group(o, o->groups[i], err, errlen);
        if (!g)
            return -1;
        int rc = check_events(g, err, errlen);
        if (rc == 0 && g->nevents > MAX_GROUP_EVENTS) {
            snprintf(err, errlen, "%s: %zu events (at most %d per group)", g->path, g->nevents,
                     MAX_GROUP_EVENTS);
            rc = -1;
        }
        passes += (g->nevents + part_width(g) - 1) / part_width(g);
        qkperf_group_free(g);
        if (rc)
            return -1;
        if (passes > MAX_PASSES)
            return snprintf(err, errlen,
                            "the event groups need %zu counting passes (at most %d): "
                            "ask for fewer groups",
                            passes, MAX_PASSES),
                   -1;
    }
    return 0;
}

/* One pass per part of the group, each part no larger than the PMU's
 * general counters, so no part is multiplexed. */
static void add_group_passes(plan *pl, size_t gi, int cpu)
{
    const qkperf_group *g = pl->groups[gi];
    size_t step = part_width(g);
    size_t nparts = (g->nevents + step - 1) / step;
    for (size_t first = 0, part = 1; first < g->nevents && pl->npasses < MAX_PASSES;
         first += step, part++) {
        const char *names[QKPERF_METER_MAX], *events[QKPERF_METER_MAX];
        size_t n = g->nevents - first < step ? g->nevents - first : step;
        for (size_t k = 0; k < n; k++) {
            names[k] = g->events[first + k].alias;
            events[k] = g->events[first + k].name;
        }
        char label[64];
        if (nparts > 1)
            snprintf(label, sizeof label, "%s[%zu/%zu]", g->name, part, nparts);
        else
            snprintf(label, sizeof label, "%s", g->name);
        pass *p = &pl->passes[pl->npasses++];
        qkperf_meter_open_hw(&p->outer, label, names, events, n, cpu);
        p->has_outer = 1;
        p->group = gi;
        p->first_event = first;
    }
}

static double median(const double *v, size_t n)
{
    qkperf_summary s;
    return qkperf_summarize(v, n, &s, NULL) == 0 ? s.median : 0.0;
}

/* The cost of an empty region exactly as sample_pass brackets one: the
 * outer meter around the tsc meter. Its per-metric medians are what each
 * sample subtracts; its time sets the batch size. */
static double calibrate_pass(plan *pl, pass *p)
{
    static double t[EMPTY_REPS], v[QKPERF_METER_MAX][EMPTY_REPS];
    double vals[QKPERF_METER_MAX], ratio[QKPERF_METER_MAX];
    int counted[QKPERF_METER_MAX];
    for (unsigned r = 0; r < EMPTY_REPS; r++) {
        uint64_t t0 = qkperf_tsc_now();
        if (p->has_outer)
            qkperf_meter_start(&p->outer);
        qkperf_meter_start(&pl->tsc);
        qkperf_meter_stop(&pl->tsc, vals, counted, ratio);
        if (p->has_outer)
            qkperf_meter_stop(&p->outer, vals, counted, ratio);
        t[r] = qkperf_tsc_to_ns(qkperf_tsc_stop() - t0);
        for (size_t k = 0; p->has_outer && k < p->outer.n; k++)
            v[k][r] = counted[k] && isfinite(vals[k]) ? vals[k] : 0.0;
    }
    for (size_t k = 0; p->has_outer && k < p->outer.n; k++)
        p->outer.empty[k] = median(v[k], EMPTY_REPS);
    return median(t, EMPTY_REPS);
}

static int plan_open(plan *pl, const qkperf_run_opts *o, char *err, size_t len)
{
    memset(pl, 0, sizeof *pl);
    qkperf_meter_open_tsc(&pl->tsc);
    qkperf_meter_calibrate_empty(&pl->tsc, EMPTY_REPS);
    pass *p0 = &pl->passes[pl->npasses++];
    if (o->sw) {
        qkperf_meter_open_sw(&p0->outer, o->cpu);
        p0->has_outer = 1;
    }
    for (size_t i = 0; o->groups && o->groups[i] && pl->ngroups < MAX_GROUPS; i++) {
        pl->groups[pl->ngroups] = load_group(o, o->groups[i], err, len);
        if (!pl->groups[pl->ngroups])
            return -1;
        add_group_passes(pl, pl->ngroups++, o->cpu);
    }
    if (o->events && o->events[0]) {
        if (!(pl->groups[pl->ngroups] = qkperf_events_group(o->events, err, len)))
            return -1;
        add_group_passes(pl, pl->ngroups++, o->cpu);
    }
    for (size_t i = 0; i < pl->npasses; i++) {
        double ns = calibrate_pass(pl, &pl->passes[i]);
        if (ns > pl->overhead_ns)
            pl->overhead_ns = ns;
    }
    return 0;
}

static void plan_close(plan *pl)
{
    for (size_t i = 0; i < pl->npasses; i++)
        if (pl->passes[i].has_outer)
            qkperf_meter_close(&pl->passes[i].outer);
    for (size_t i = 0; i < pl->ngroups; i++)
        qkperf_group_free(pl->groups[i]);
}

/* ---- sampling ------------------------------------------------------------ */

static double time_calls(const region *r, unsigned long batch)
{
    uint64_t t0 = qkperf_tsc_now();
    region_run(r, batch);
    return qkperf_tsc_to_ns(qkperf_tsc_stop() - t0);
}

static unsigned long calibrate_batch(const region *r, double target_ns)
{
    region_run(r, 1);
    double one = time_calls(r, 1);
    unsigned long batch = one >= target_ns ? 1 : (unsigned long)ceil(target_ns / fmax(one, 1.0));
    if (batch > 1) { /* one call is a noisy estimate: check a whole batch once */
        double t = time_calls(r, batch);
        if (t < target_ns)
            batch = (unsigned long)ceil(batch * target_ns / fmax(t, 1.0));
    }
    return batch > (1ul << 26) ? (1ul << 26) : batch;
}

static void warm_up(const region *r, unsigned long batch, double ms)
{
    uint64_t t0 = qkperf_tsc_now();
    do
        region_run(r, batch);
    while (qkperf_tsc_to_ns(qkperf_tsc_stop() - t0) < ms * 1e6);
}

/* Samples of one pass: v[m * ns + s] for the tsc metrics (m < 2) followed
 * by the pass's outer metrics; per call, empty cost subtracted. */
typedef struct sampled {
    double *v;
    int counted[2 + QKPERF_METER_MAX];
    double ratio[2 + QKPERF_METER_MAX];
    double raw_sum[2 + QKPERF_METER_MAX];  /* per sample totals, for notes */
    char why[160];                         /* reading the outer meter failed */
    qkperf_why mwhy[2 + QKPERF_METER_MAX]; /* why a metric was not counted */
} sampled;

static void sample_pass(plan *pl, pass *p, const region *r, unsigned long batch, unsigned ns,
                        sampled *out)
{
    size_t nm = 2 + (p->has_outer ? p->outer.n : 0);
    for (size_t m = 0; m < nm; m++) {
        out->counted[m] = 1;
        out->ratio[m] = 1.0;
        out->raw_sum[m] = 0.0;
        out->mwhy[m] = QKPERF_WHY_OK;
    }
    for (unsigned s = 0; s < ns; s++) {
        double tv[QKPERF_METER_MAX], ov[QKPERF_METER_MAX] = {0}, tr[QKPERF_METER_MAX],
                                     orr[QKPERF_METER_MAX] = {0};
        int tc[QKPERF_METER_MAX], oc[QKPERF_METER_MAX] = {0};
        if (p->has_outer)
            qkperf_meter_start(&p->outer);
        qkperf_meter_start(&pl->tsc);
        region_run(r, batch);
        qkperf_meter_stop(&pl->tsc, tv, tc, tr);
        if (p->has_outer) {
            int rc = qkperf_meter_stop(&p->outer, ov, oc, orr);
            if (rc && !out->why[0])
                snprintf(out->why, sizeof out->why, "reading the %s counters failed: %s",
                         p->outer.source, strerror(rc < 0 ? -rc : rc));
        }
        for (size_t m = 0; m < nm; m++) {
            const qkperf_meter *mt = m < 2 ? &pl->tsc : &p->outer;
            size_t k = m < 2 ? m : m - 2;
            double val = m < 2 ? tv[k] : ov[k];
            int c = m < 2 ? tc[k] : oc[k];
            out->counted[m] &= c;
            if (!c && m >= 2 && out->mwhy[m] == QKPERF_WHY_OK)
                out->mwhy[m] = p->outer.metric_why[k];
            if (m >= 2 && orr[k] < out->ratio[m])
                out->ratio[m] = orr[k];
            out->raw_sum[m] += c ? val : 0.0;
            out->v[m * ns + s] = c ? (val - mt->empty[k]) / (double)batch : NAN;
        }
    }
}

/* The reason a meter gave for a metric it opened but did not count. */
static const char *not_counted_why(qkperf_why w)
{
    return w == QKPERF_WHY_OK || w == QKPERF_WHY_NOT_COUNTED ? "not counted (time_running = 0)"
                                                             : qkperf_why_text(w);
}

/* ---- records ------------------------------------------------------------- */

static void base_record(qkperf_record *x, const qk_op *op, const qk_variant *v, const char *size,
                        const char *phase)
{
    memset(x, 0, sizeof *x);
    snprintf(x->op, sizeof x->op, "%s", op->name);
    snprintf(x->variant, sizeof x->variant, "%s", v->name);
    snprintf(x->size, sizeof x->size, "%s", size);
    snprintf(x->phase, sizeof x->phase, "%s", phase);
    x->mux_ratio = 1.0;
}

static int emit(qkperf_results *res, qkperf_record *x, const char *metric, const char *source,
                const char *unit, const double *samples, size_t n, int counted, const char *why)
{
    snprintf(x->metric, sizeof x->metric, "%s", metric);
    snprintf(x->source, sizeof x->source, "%s", source);
    snprintf(x->unit, sizeof x->unit, "%s", unit);
    size_t bad = 0;
    while (counted && bad < n && isfinite(samples[bad]))
        bad++;
    if (counted && bad < n) { /* a NaN is not a measurement: say why instead */
        counted = 0;
        why = strcmp(source, "hw") ? "not a number in a sample (calibration missing?)"
                                   : "not a number in a sample (a derived formula divided by zero)";
    }
    x->samples = (double *)samples;
    x->n = counted ? n : 0;
    x->counted = counted;
    snprintf(x->why, sizeof x->why, "%s", counted ? "" : why);
    return qkperf_results_add(res, x);
}

static int emit_pass(qkperf_results *res, qkperf_record *x, plan *pl, pass *p, const sampled *sm,
                     unsigned ns, int with_tsc)
{
    int rc = 0;
    for (size_t m = 0; with_tsc && rc == 0 && m < 2; m++)
        rc = emit(res, x, pl->tsc.name[m], "tsc", pl->tsc.unit[m], sm->v + m * ns, ns, 1, "");
    for (size_t k = 0; p->has_outer && rc == 0 && k < p->outer.n; k++) {
        const char *why = !p->outer.available ? p->outer.why
                          : sm->why[0]        ? sm->why
                                              : not_counted_why(sm->mwhy[2 + k]);
        x->mux_ratio = sm->ratio[2 + k];
        x->threads = (unsigned)p->outer.threads;
        rc = emit(res, x, p->outer.name[k], p->outer.source, p->outer.unit[k], sm->v + (2 + k) * ns,
                  ns, p->outer.available && sm->counted[2 + k], why);
        x->mux_ratio = 1.0;
        x->threads = 0;
    }
    return rc;
}

/* ---- derived metrics (derive.h) ------------------------------------------ */

/* The pass (index into the plan) that counted event k of group gi. */
static size_t event_pass(const plan *pl, size_t gi, size_t k)
{
    for (size_t pi = 1; pi < pl->npasses; pi++) {
        const pass *p = &pl->passes[pi];
        if (p->group == gi && k >= p->first_event && k < p->first_event + p->outer.n)
            return pi;
    }
    return 0;
}

/* Whether every event the metric reads was counted, why not, and the
 * smallest multiplex ratio and the threads of its inputs. */
typedef struct derived_state {
    int counted;
    const char *why;
    double mux;
    unsigned threads;
} derived_state;

static derived_state derived_inputs(const plan *pl, size_t gi, const qkperf_formula *f,
                                    const sampled *sms)
{
    const qkperf_group *g = pl->groups[gi];
    int uses[MAX_GROUP_EVENTS], uses_time;
    derived_state d = {.counted = 1, .why = "", .mux = 1.0};
    qkperf_derive_uses(f, g->nevents, uses, &uses_time);
    for (size_t k = 0; k < g->nevents; k++) {
        size_t pi = event_pass(pl, gi, k);
        const pass *p = &pl->passes[pi];
        size_t m = 2 + k - p->first_event;
        if (!uses[k])
            continue;
        if (!p->outer.available || !sms[pi].counted[m]) {
            d.why = !p->outer.available ? p->outer.why
                    : sms[pi].why[0]    ? sms[pi].why
                                        : not_counted_why(sms[pi].mwhy[m]);
            d.counted = 0;
        }
        d.mux = fmin(d.mux, sms[pi].ratio[m]);
        d.threads = (unsigned)p->outer.threads;
    }
    return d;
}

/* Once per results document: how a split group's metrics were combined. */
static void note_split(qkperf_results *res, const plan *pl, size_t gi)
{
    const qkperf_group *g = pl->groups[gi];
    char note[400];
    size_t parts = 0, i;
    json_t *x;
    for (size_t pi = 1; pi < pl->npasses; pi++)
        parts += pl->passes[pi].group == gi;
    snprintf(note, sizeof note,
             "%s was counted in %zu passes (%s[1/%zu] to %s[%zu/%zu]): a metric that combines "
             "events of different passes takes each event of another pass as that pass's "
             "median count per ns times the time of the sample it is paired with, since samples "
             "of different passes are not pairs",
             g->name, parts, g->name, parts, g->name, parts, parts);
    json_array_foreach(res->notes, i, x) if (!strcmp(json_string_value(x), note)) return;
    qkperf_results_note(res, "%s", note);
}

/* Derived metrics of hw group gi, per sample (derive.h says how the
 * passes of a split group are combined); n/a unless every event the
 * metric reads was counted. */
static int emit_derived(qkperf_results *res, qkperf_record *x, plan *pl, size_t gi, sampled *sms,
                        unsigned ns)
{
    const qkperf_group *g = pl->groups[gi];
    size_t pass_of[MAX_GROUP_EVENTS];
    const double *value[MAX_GROUP_EVENTS], *time[MAX_PASSES];
    for (size_t pi = 0; pi < pl->npasses; pi++)
        time[pi] = sms[pi].v; /* the tsc's time is metric 0 of every pass */
    for (size_t k = 0; k < g->nevents; k++) {
        pass_of[k] = event_pass(pl, gi, k);
        value[k] = sms[pass_of[k]].v + (2 + k - pl->passes[pass_of[k]].first_event) * ns;
    }
    qkperf_derive_in in = {g->nevents, ns, pass_of, value, time};
    double *out = calloc(ns, sizeof *out);
    if (!out)
        return -1;
    int rc = 0;
    for (size_t mi = 0; rc == 0 && mi < g->nmetrics; mi++) {
        derived_state d = derived_inputs(pl, gi, g->metrics[mi].formula, sms);
        int cross = 0;
        if (d.counted)
            qkperf_derive(g->metrics[mi].formula, &in, out, &cross);
        if (cross)
            note_split(res, pl, gi);
        x->mux_ratio = d.mux;
        x->threads = d.threads;
        rc = emit(res, x, g->metrics[mi].name, "hw", "", out, ns, d.counted, d.why);
        x->mux_ratio = 1.0;
        x->threads = 0;
    }
    free(out);
    return rc;
}

/* Throughput and bandwidth of every sample of the fused kernel. 0 or -1. */
static int emit_throughput(qkperf_results *res, qkperf_record *x, const qk_op *op,
                           const size_t *dim, const double *time_ns, unsigned ns)
{
    double *el = malloc(2 * (size_t)ns * sizeof *el), *by = el + ns;
    if (!el)
        return -1;
    for (unsigned s = 0; s < ns; s++) {
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): pass 0 (tsc) always exists */
        el[s] = op->elements(dim) / (time_ns[s] * 1e-9);
        by[s] = op->bytes(dim) / (time_ns[s] * 1e-9);
    }
    int rc = emit(res, x, "throughput", "tsc", "elem/s", el, ns, 1, "");
    if (rc == 0)
        rc = emit(res, x, "bandwidth", "tsc", "B/s", by, ns, 1, "");
    free(el);
    return rc;
}

static void note_disturbances(qkperf_results *res, const pass *p, const sampled *sm,
                              const char *what)
{
    for (size_t k = 0; p->has_outer && k < p->outer.n; k++) {
        const char *name = p->outer.name[k];
        if ((!strcmp(name, "context-switches") || !strcmp(name, "cpu-migrations")) &&
            sm->counted[2 + k] && sm->raw_sum[2 + k] > 0.5)
            qkperf_results_note(res, "%s: %.0f %s during sampling", what, sm->raw_sum[2 + k], name);
    }
}

/* ---- one variant --------------------------------------------------------- */

/* The first output of b outside tol of a's (the reference's), as
 * |got - expected| / max(1, |expected|): its index, or n when none. */
static size_t first_mismatch(const float *got, const float *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]) / fmax(1.0, fabs((double)want[i]));
        if (!(d <= tol))
            return i;
    }
    return n;
}

/* v's fused output on b against the reference's on a, both from one seed:
 * element by element when both workspaces give their outputs, else
 * through compare(), which only a build that made both can read
 * (qk_check_reference picks such a reference). op names and sets the
 * tolerance. */
static int compare_outputs(const qk_op *op, const qk_variant *v, const qk_variant *ref,
                           const char *size, const void *b, const void *a, char *err, size_t len)
{
    double tol = qk_op_tolerance(op);
    qk_output_fn vout = qk_workspace_output(op, v), rout = qk_workspace_output(op, ref);
    const qk_op *wop = qk_workspace_op(op, v);
    size_t n = 0, nr = 0;
    const float *got = vout && rout ? vout(b, &n) : NULL;
    const float *want = vout && rout ? rout(a, &nr) : NULL;
    if (got && want && n == nr) {
        size_t i = first_mismatch(got, want, n, tol);
        if (i == n)
            return 0;
        return snprintf(err, len,
                        "%s %s at %s disagrees with its reference %s: first mismatch at "
                        "index %zu: got %.9g, expected %.9g (tolerance %g); not measured",
                        op->name, v->name, size, ref->name, i, (double)got[i], (double)want[i],
                        tol),
               -1;
    }
    if (vout && rout)
        return snprintf(err, len, "%s %s at %s: output() gave %zu values, the reference %zu",
                        op->name, v->name, size, n, nr),
               -1;
    double d = wop->compare ? wop->compare(b, a) : 0;
    if (d <= tol)
        return 0;
    return snprintf(err, len, "%s %s: output differs from %s by %g (relative); not measured",
                    op->name, v->name, ref->name, d),
           -1;
}

int qkperf_check_variant(const qk_op *op, const qk_variant *v, const size_t *dim, const char *size,
                         uint64_t seed, char *err, size_t len)
{
    const qk_variant *ref = qk_check_reference(op, v);
    const qk_op *wop = qk_workspace_op(op, v), *rop = qk_workspace_op(op, ref);
    if ((!wop->compare && !qk_workspace_output(op, v)) || !ref || ref == v)
        return 0;
    if (!qk_variant_runnable(ref))
        return snprintf(err, len, "%s %s: its reference %s needs %s, this CPU has %s", op->name,
                        v->name, ref->name, qk_isa_names(ref->isa), qk_isa_names(qk_cpu_isa())),
               -1;
    void *a = rop->create(dim, seed), *b = wop->create(dim, seed);
    int rc = 0;
    if (!a || !b) {
        snprintf(err, len, "cannot allocate %s workspace: %s", op->name, strerror(errno));
        rc = -1;
    } else {
        ref->fused(a);
        v->fused(b);
        rc = compare_outputs(op, v, ref, size, b, a, err, len);
    }
    if (a)
        rop->destroy(a);
    if (b)
        wop->destroy(b);
    return rc;
}

static void progress(const qkperf_run_opts *o, const qk_variant *v, const char *size,
                     const char *phase)
{
    if (o->progress)
        fprintf(stderr, "\r\033[Kqkperf: %s %s %s %s", v->op, v->name, size, phase);
}

/* The in-context passes of the fused kernel: the software clock, which
 * splits its time, then each hardware event a counting pass counted among
 * cycles, instructions and L1D misses, which splits that event's fused
 * count (on a PMU that can sample; elsewhere the records say why not). */
static int sample_in_context(const qkperf_run_opts *o, const plan *pl, const qk_op *op,
                             const qk_variant *v, void *ws, const char *size, const sampled *sms,
                             unsigned ns, qkperf_results *res)
{
    static const char *const wanted[] = {"cycles", "instructions", "misses"};
    qkperf_ic_opts ic = {o->sample_target, o->sample_hz};
    qkperf_ic_event clock = {"time", NULL, 0, sms[0].v};
    char err[256];
    int rc = qkperf_ic_sample(&ic, &clock, op, v, ws, size, sms[0].v, ns, res, err, sizeof err);
    for (size_t pi = 1; rc == 0 && pi < pl->npasses; pi++) {
        const pass *p = &pl->passes[pi];
        for (size_t k = 0; rc == 0 && p->has_outer && p->outer.available && k < p->outer.n; k++) {
            size_t w = 0;
            while (w < 3 && strcmp(p->outer.name[k], wanted[w]))
                w++;
            const double *count = sms[pi].v + (2 + k) * ns;
            double per_ns = median(count, ns) / median(sms[0].v, ns);
            struct perf_event_attr attr;
            char msg[256];
            memset(&attr, 0, sizeof attr);
            if (w == 3 || !sms[pi].counted[2 + k] || !(per_ns > 0) ||
                qkperf_pfm_encode(pl->groups[p->group]->events[p->first_event + k].name, &attr, msg,
                                  sizeof msg) != QKPERF_PFM_OK)
                continue;
            qkperf_ic_event ev = {p->outer.name[k], &attr,
                                  (uint64_t)fmax(1000, per_ns * 1e9 / o->sample_hz), count};
            rc = qkperf_ic_sample(&ic, &ev, op, v, ws, size, sms[0].v, ns, res, err, sizeof err);
        }
    }
    return rc;
}

static int measure_region(const qkperf_run_opts *o, plan *pl, const qk_op *op, const qk_variant *v,
                          const size_t *dim, const char *size, const region *r, qkperf_results *res)
{
    const char *phase = r->phase < 0 ? "total" : op->phases[r->phase];
    double target = fmax(o->min_sample_us * 1e3, 100.0 * pl->overhead_ns);
    unsigned long batch = calibrate_batch(r, target);
    warm_up(r, batch, o->warmup_ms);
    unsigned ns = o->samples;
    sampled sms[MAX_PASSES];
    memset(sms, 0, sizeof sms);
    int rc = 0;
    for (size_t pi = 0; pi < pl->npasses; pi++) {
        sms[pi].v = malloc((2 + QKPERF_METER_MAX) * ns * sizeof(double));
        if (!sms[pi].v) {
            rc = -1;
            break;
        }
        sample_pass(pl, &pl->passes[pi], r, batch, ns, &sms[pi]);
    }
    qkperf_record x;
    base_record(&x, op, v, size, phase);
    x.batch = batch;
    for (size_t pi = 0; rc == 0 && pi < pl->npasses; pi++) {
        rc = emit_pass(res, &x, pl, &pl->passes[pi], &sms[pi], ns, pi == 0);
        char what[160];
        snprintf(what, sizeof what, "%s %s %s %s", op->name, v->name, size, phase);
        note_disturbances(res, &pl->passes[pi], &sms[pi], what);
    }
    for (size_t gi = 0; rc == 0 && gi < pl->ngroups; gi++)
        rc = emit_derived(res, &x, pl, gi, sms, ns);
    if (rc == 0 && r->phase < 0)
        rc = emit_throughput(res, &x, op, dim, sms[0].v, ns);
    if (rc == 0 && r->phase < 0 && o->sample) {
        progress(o, v, size, "in context");
        rc = sample_in_context(o, pl, op, v, r->ws, size, sms, ns, res);
    }
    for (size_t pi = 0; pi < pl->npasses; pi++)
        free(sms[pi].v);
    return rc;
}

void qkperf_note_staged(qkperf_results *res, const qk_variant *v)
{
    const qk_op *op = qk_find_op(v->op);
    for (unsigned p = 0; p < qk_phase_count(op); p++) {
        const char *why = qk_phase_note(v, p);
        char note[512];
        size_t i;
        json_t *x;
        if (!why)
            continue;
        snprintf(note, sizeof note, "%s %s: staged %s is not the fused kernel's code: %s", v->op,
                 v->name, op->phases[p], why);
        json_array_foreach(res->notes, i, x) if (!strcmp(json_string_value(x), note)) break;
        if (i == json_array_size(res->notes))
            qkperf_results_note(res, "%s", note);
    }
}

/* Threads started after the sw and hw groups were opened are not counted
 * (perf.h): say so rather than under-count silently. */
static void note_late_threads(qkperf_results *res, const plan *pl, const qk_variant *v,
                              const char *size)
{
    size_t now = qkperf_process_threads(NULL, 0);
    for (size_t i = 0; i < pl->npasses; i++) {
        const qkperf_meter *m = &pl->passes[i].outer;
        if (pl->passes[i].has_outer && m->available && now > m->threads) {
            qkperf_results_note(res,
                                "%s %s %s: the process has %zu threads, the %s counters were "
                                "opened on %zu: threads started later are not counted",
                                v->op, v->name, size, now, m->source, m->threads);
            return;
        }
    }
}

int qkperf_measure(const qkperf_run_opts *o, const qk_op *op, const qk_variant *v,
                   const size_t *dim, const char *size, qkperf_results *res, char *err,
                   size_t errlen)
{
    if (qkperf_check_variant(op, v, dim, size, o->seed, err, errlen))
        return -1;
    const qk_op *wop = qk_workspace_op(op, v); /* another build's own, for its variants */
    void *ws = wop->create(dim, o->seed);
    if (!ws) {
        snprintf(err, errlen, "cannot allocate %s workspace for %s: %s", op->name, size,
                 strerror(errno));
        return -1;
    }
    unsigned np = o->staged && v->phases ? qk_phase_count(op) : 0;
    if (np && qk_stage_workspace(op, v, ws)) {
        snprintf(err, errlen,
                 "cannot allocate the staged intermediates of %s for %s: %s (--no-staged "
                 "measures the fused kernel alone)",
                 op->name, size, strerror(errno));
        wop->destroy(ws);
        return -1;
    }
    /* One call before the counters are opened: a kernel that runs on a
     * worker pool starts it now, and the sw and hw groups are opened on
     * every thread of the process (meter.h). */
    v->fused(ws);
    plan pl;
    if (plan_open(&pl, o, err, errlen)) {
        plan_close(&pl);
        wop->destroy(ws);
        return -1;
    }
    for (unsigned p = 0; p < np; p++) /* intermediates valid before timing any phase */
        if (qk_phase_staged(v, p))
            qk_phase_staged(v, p)(ws);
    if (np)
        qkperf_note_staged(res, v);
    int rc = 0;
    for (int p = 0; rc == 0 && p <= (int)np; p++) {
        if (p < (int)np && !qk_phase_staged(v, (unsigned)p))
            continue;
        region r = {v, ws, p < (int)np ? p : -1};
        progress(o, v, size, p < (int)np ? op->phases[p] : "total");
        if (measure_region(o, &pl, op, v, dim, size, &r, res)) {
            snprintf(err, errlen, "out of memory while sampling");
            rc = -1;
        }
    }
    if (o->progress)
        fprintf(stderr, "\r\033[K");
    note_late_threads(res, &pl, v, size);
    wop->destroy(ws);
    plan_close(&pl);
    return rc;
}
