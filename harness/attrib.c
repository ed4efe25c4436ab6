/*
 * attrib.c — which step changed which phase, by how much, and whether the
 * change is real: deltas between variants (or between a baseline and a new
 * run) for every phase and metric both sides counted, with the verdict
 * rules of stats.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"
#include "table.h"

void qkperf_deltas_free(qkperf_deltas *ds)
{
    free(ds->d);
    memset(ds, 0, sizeof *ds);
}

int qkperf_lower_is_better(const char *metric)
{
    static const char *const higher[] = {
        "throughput", "bandwidth", "IPC", "ops per cycle", "clock [GHz]", "retiring",
        /* decode's: a token rate, the weights' rate and its shares */
        "tokens/s", "weight B/s", "memory read B/s", "bandwidth fraction", "of weights read"};
    for (size_t i = 0; i < sizeof higher / sizeof higher[0]; i++)
        if (!strcmp(metric, higher[i]))
            return 0;
    return 1;
}

static qkperf_delta *push(qkperf_deltas *ds)
{
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? 2 * ds->cap : 64;
        qkperf_delta *p = realloc(ds->d, cap * sizeof *p);
        if (!p)
            return NULL;
        ds->d = p;
        ds->cap = cap;
    }
    qkperf_delta *d = &ds->d[ds->n++];
    memset(d, 0, sizeof *d);
    return d;
}

/* Records that carry no per-sample information of their own. */
static int comparable(const qkperf_record *x)
{
    return x->counted && x->n >= 1 && isfinite(x->median);
}

/* sim (callgrind) and static (llvm-mca) figures are deterministic: one
 * pass gives the exact value, so a difference is real and its interval is
 * the point itself; only the noise band still applies. */
static int exact_source(const char *source)
{
    return !strcmp(source, "sim") || !strcmp(source, "static");
}

static void make_exact(qkperf_change *c)
{
    if (!c->ratio_defined)
        return;
    c->ci_lo = c->ci_hi = c->ratio;
    c->p_value = c->ratio == 1.0 ? 1.0 : 0.0;
    c->significant = c->ratio != 1.0;
}

static int add_delta(qkperf_deltas *ds, const qkperf_record *a, const qkperf_record *b,
                     const char *from, const char *to, const qkperf_bands *bands, uint64_t seed)
{
    qkperf_delta *d = push(ds);
    if (!d)
        return -1;
    snprintf(d->op, sizeof d->op, "%s", b->op);
    snprintf(d->size, sizeof d->size, "%s", b->size);
    snprintf(d->phase, sizeof d->phase, "%s", b->phase);
    snprintf(d->view, sizeof d->view, "%s", b->view);
    snprintf(d->metric, sizeof d->metric, "%s", b->metric);
    snprintf(d->source, sizeof d->source, "%s", b->source);
    snprintf(d->unit, sizeof d->unit, "%s", b->unit);
    snprintf(d->variant, sizeof d->variant, "%s", b->variant);
    snprintf(d->from, sizeof d->from, "%s", from);
    snprintf(d->to, sizeof d->to, "%s", to);
    d->before = a->median;
    d->after = b->median;
    d->band = qkperf_band_for(bands, b->metric);
    d->lower_is_better = qkperf_lower_is_better(b->metric);
    qkperf_change_opts o = {.seed = seed};
    size_t ar[QKPERF_MAX_RUNS], br[QKPERF_MAX_RUNS];
    for (size_t k = 0; k < a->nruns; k++)
        ar[k] = a->run_n[k];
    for (size_t k = 0; k < b->nruns; k++)
        br[k] = b->run_n[k];
    /* Records from several runs: the two-stage bootstrap (runs, then
     * samples in each), so run-to-run variance is in the interval. */
    if (qkperf_change_runs(a->samples, a->n, ar, a->nruns, b->samples, b->n, br, b->nruns, &o,
                           &d->change)) {
        ds->n--; /* non-finite samples: nothing to say about this pair */
        return 0;
    }
    if (exact_source(b->source) && exact_source(a->source))
        make_exact(&d->change);
    d->verdict = qkperf_verdict_of(&d->change, d->band, d->lower_is_better);
    return 0;
}

static const qkperf_record *match(const qkperf_results *r, const qkperf_record *x,
                                  const char *variant)
{
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *y = &r->rec[i];
        if (!strcmp(y->op, x->op) && !strcmp(y->variant, variant) && !strcmp(y->size, x->size) &&
            !strcmp(y->phase, x->phase) && !strcmp(y->metric, x->metric) &&
            !strcmp(y->source, x->source) && !strcmp(y->view, x->view))
            return y;
    }
    return NULL;
}

int qkperf_attrib_steps(const qkperf_results *r, const char *op, const char *size,
                        const char *const *variants, size_t nv, const qkperf_bands *bands,
                        uint64_t seed, qkperf_deltas *out)
{
    for (size_t k = 0; k + 1 < nv; k++)
        for (size_t i = 0; i < r->n; i++) {
            const qkperf_record *a = &r->rec[i];
            if (strcmp(a->op, op) || strcmp(a->size, size) || strcmp(a->variant, variants[k]) ||
                !comparable(a))
                continue;
            const qkperf_record *b = match(r, a, variants[k + 1]);
            if (b && comparable(b) &&
                add_delta(out, a, b, variants[k], variants[k + 1], bands, seed))
                return -1;
        }
    return 0;
}

int qkperf_attrib_order(const qkperf_results *r, const char *op, const char *const *sizes,
                        size_t ns, const char *const *variants, size_t nv,
                        const qkperf_bands *bands, uint64_t seed, size_t *checked,
                        qkperf_deltas *slower)
{
    *checked = 0;
    for (size_t s = 0; s < ns; s++) {
        qkperf_deltas ds = {0};
        if (qkperf_attrib_steps(r, op, sizes[s], variants, nv, bands, seed, &ds)) {
            qkperf_deltas_free(&ds);
            return -1;
        }
        for (size_t i = 0; i < ds.n; i++) {
            const qkperf_delta *d = &ds.d[i];
            if (strcmp(d->phase, "total") || strcmp(d->metric, "time"))
                continue;
            ++*checked;
            if (d->verdict != QKPERF_REGRESSED)
                continue;
            qkperf_delta *keep = push(slower);
            if (!keep) {
                qkperf_deltas_free(&ds);
                return -1;
            }
            *keep = *d;
        }
        qkperf_deltas_free(&ds);
    }
    return 0;
}

int qkperf_attrib_compare(const qkperf_results *old, const qkperf_results *new_,
                          const qkperf_bands *bands, uint64_t seed, qkperf_deltas *out)
{
    for (size_t i = 0; i < old->n; i++) {
        const qkperf_record *a = &old->rec[i];
        const qkperf_record *b = match(new_, a, a->variant);
        if (comparable(a) && b && comparable(b) &&
            add_delta(out, a, b, "baseline", "new", bands, seed))
            return -1;
    }
    return 0;
}

int qkperf_attrib_settings(const qkperf_results *r, qkperf_bands *bands, uint64_t *seed)
{
    json_t *b = json_object_get(r->config, "bands"),
           *s = json_object_get(r->config, "bootstrap_seed");
    qkperf_bands_default(bands);
    *seed = QKPERF_DEFAULT_SEED;
    if (!json_is_object(b) || !json_is_integer(s))
        return 0;
    for (int k = 0; k < QKPERF_KIND_COUNT; k++) {
        json_t *v = json_object_get(b, qkperf_metric_kind_name((qkperf_metric_kind)k));
        if (json_is_number(v))
            bands->band[k] = json_number_value(v);
    }
    *seed = (uint64_t)json_integer_value(s);
    return 1;
}

int qkperf_attrib_document(const qkperf_results *r, const char *op, const char *size,
                           qkperf_attrib_doc *out)
{
    memset(out, 0, sizeof *out);
    out->recorded = qkperf_attrib_settings(r, &out->bands, &out->seed);
    for (size_t i = 0; i < r->n && out->nv < QKPERF_ATTRIB_MAX; i++) {
        const qkperf_record *x = &r->rec[i];
        if (strcmp(x->op, op) || strcmp(x->size, size) || strcmp(x->phase, "total") ||
            strcmp(x->metric, "time") || !x->counted || !x->n)
            continue;
        size_t k = 0;
        while (k < out->nv && strcmp(out->variants[k], x->variant))
            k++;
        if (k == out->nv)
            out->variants[out->nv++] = x->variant;
    }
    return qkperf_attrib_steps(r, op, size, out->variants, out->nv, &out->bands, out->seed,
                               &out->ds);
}

void qkperf_attrib_doc_free(qkperf_attrib_doc *a)
{
    qkperf_deltas_free(&a->ds);
}

static void pct(char *buf, size_t len, double ratio)
{
    snprintf(buf, len, "%+.0f", (ratio - 1.0) * 100.0);
}

/* A phase's delta on `metric` in the step from -> to, with a ratio, in
 * the staged view (each phase alone). */
static int in_step(const qkperf_delta *d, const char *from, const char *to, const char *metric)
{
    return !strcmp(d->from, from) && !strcmp(d->to, to) && !strcmp(d->metric, metric) &&
           !strcmp(d->view, QKPERF_VIEW_STAGED) && d->change.ratio_defined;
}

void qkperf_attrib_summary(const qkperf_deltas *ds, const char *from, const char *to,
                           const char *metric, char *buf, size_t len)
{
    const qkperf_delta *most = NULL;
    for (size_t i = 0; i < ds->n; i++) {
        const qkperf_delta *d = &ds->d[i];
        if (!in_step(d, from, to, metric))
            continue;
        /* the phase that moved most among real changes; noise only if none is */
        int real = d->verdict != QKPERF_NO_CHANGE,
            most_real = most && most->verdict != QKPERF_NO_CHANGE;
        if (!most || real > most_real ||
            (real == most_real && fabs(log(d->change.ratio)) > fabs(log(most->change.ratio))))
            most = d;
    }
    if (!most) {
        snprintf(buf, len, "%s -> %s: no %s figures on both sides", from, to, metric);
        return;
    }
    char r[16], lo[16], hi[16];
    pct(r, sizeof r, most->change.ratio);
    pct(lo, sizeof lo, most->change.ci_lo);
    pct(hi, sizeof hi, most->change.ci_hi);
    if (most->verdict == QKPERF_NO_CHANGE) {
        snprintf(buf, len,
                 "%s -> %s: no phase changed beyond noise in %s (largest move: %s %s%% [%s, %s])",
                 from, to, metric, most->phase, r, lo, hi);
        return;
    }
    /* the phases that did not change (one phase may have figures from
     * several sources: each is named once) */
    char unchanged[256] = "";
    for (size_t i = 0; i < ds->n; i++) {
        const qkperf_delta *d = &ds->d[i];
        if (!in_step(d, from, to, metric) || d->verdict != QKPERF_NO_CHANGE ||
            !strcmp(d->phase, most->phase))
            continue;
        size_t j = 0;
        while (j < i &&
               !(in_step(&ds->d[j], from, to, metric) && ds->d[j].verdict == QKPERF_NO_CHANGE &&
                 !strcmp(ds->d[j].phase, d->phase)))
            j++;
        if (j < i)
            continue;
        size_t u = strlen(unchanged);
        snprintf(unchanged + u, sizeof unchanged - u, "%s%s", u ? ", " : "", d->phase);
    }
    snprintf(buf, len, "%s -> %s: %s %s%% [%s, %s] %s (%s)%s%s%s", from, to, most->phase, r, lo, hi,
             metric, qkperf_verdict_name(most->verdict), unchanged[0] ? "; " : "", unchanged,
             unchanged[0] ? " unchanged" : "");
}

/* ---- in context ---------------------------------------------------------- */

/* The fused kernel's time change of a step: the tsc fused record's delta. */
static const qkperf_delta *fused_delta(const qkperf_deltas *ds, const char *from, const char *to)
{
    for (size_t i = 0; i < ds->n; i++) {
        const qkperf_delta *d = &ds->d[i];
        if (!strcmp(d->from, from) && !strcmp(d->to, to) && !strcmp(d->view, QKPERF_VIEW_FUSED) &&
            !strcmp(d->metric, "time") && !strcmp(d->source, "tsc") && d->change.ratio_defined)
            return d;
    }
    return NULL;
}

void qkperf_delta_abs(const qkperf_delta *d, double *change, double *lo, double *hi)
{
    *change = d->after - d->before;
    *lo = d->before * (d->change.ci_lo - 1);
    *hi = d->before * (d->change.ci_hi - 1);
}

static int by_abs_change(const void *a, const void *b)
{
    const qkperf_delta *x = *(const qkperf_delta *const *)a, *y = *(const qkperf_delta *const *)b;
    double dx = fabs(x->after - x->before), dy = fabs(y->after - y->before);
    return dx < dy ? 1 : dx > dy ? -1 : 0;
}

void qkperf_attrib_summary_in_context(const qkperf_deltas *ds, const char *from, const char *to,
                                      char *buf, size_t len)
{
    const qkperf_delta *fused = fused_delta(ds, from, to), *parts[QK_MAX_PHASES + 1];
    size_t n = 0;
    for (size_t i = 0; i < ds->n && n < QK_MAX_PHASES + 1; i++) {
        const qkperf_delta *d = &ds->d[i];
        if (!strcmp(d->from, from) && !strcmp(d->to, to) && !strcmp(d->metric, "time") &&
            !strcmp(d->view, QKPERF_VIEW_IN_CONTEXT) && d->change.ratio_defined)
            parts[n++] = d;
    }
    if (!fused || !n) {
        snprintf(buf, len, "%s -> %s: no in-context time on both sides", from, to);
        return;
    }
    qsort(parts, n, sizeof *parts, by_abs_change); /* NOLINT(bugprone-sizeof-expression) */
    double c, lo, hi, total = fused->after - fused->before;
    char v[3][32];
    qkperf_delta_abs(fused, &c, &lo, &hi);
    qkperf_fmt_signed(v[0], sizeof v[0], c, fused->unit);
    qkperf_fmt_signed(v[1], sizeof v[1], lo, fused->unit);
    qkperf_fmt_signed(v[2], sizeof v[2], hi, fused->unit);
    size_t k = (size_t)snprintf(buf, len, "fused %s [%s, %s] (%s):", v[0], v[1], v[2],
                                qkperf_verdict_name(fused->verdict));
    for (size_t i = 0; i < n && k < len; i++) {
        const qkperf_delta *d = parts[i];
        qkperf_delta_abs(d, &c, &lo, &hi);
        qkperf_fmt_signed(v[0], sizeof v[0], c, d->unit);
        qkperf_fmt_signed(v[1], sizeof v[1], lo, d->unit);
        qkperf_fmt_signed(v[2], sizeof v[2], hi, d->unit);
        k += (size_t)snprintf(buf + k, len - k, "%s %s %s [%s, %s]", i ? "," : "", d->phase, v[0],
                              v[1], v[2]);
        if (k < len && total != 0 && d->verdict != QKPERF_NO_CHANGE)
            k += (size_t)snprintf(buf + k, len - k, " %.0f%% of it", 100 * c / total);
        else if (k < len && d->verdict == QKPERF_NO_CHANGE)
            k += (size_t)snprintf(buf + k, len - k, " (noise)");
    }
}
