/*
 * incontext.c — the sample source of the in-context view (incontext.h):
 * the fused kernel sampled on every thread, each sample's address mapped
 * to the phase block it was inlined from.
 *
 * Addresses are kept raw while the kernel runs and mapped after each chunk,
 * with sampling off: the first lookup of an address walks the DWARF (tens
 * of microseconds), which would otherwise land in the samples as "other".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incontext.h"
#include "sampler.h"
#include "stats.h"
#include "tsc.h"

enum {
    IC_MAX_BLOCKS = 256,
    IC_CHUNK_CAP_S = 10, /* a chunk that gets no samples stops after this */
    IC_MAX_WHY = 4
};

/* One map of this process for the whole run: its cache of addresses is
 * what makes the later variants' lookups cheap. */
static qkperf_addrmap *self_map(char *err, size_t len)
{
    static qkperf_addrmap *map;
    if (!map)
        map = qkperf_addrmap_open_self(err, len);
    return map;
}

size_t qkperf_ic_blocks(const qk_variant *v, unsigned nphases, qkperf_addr_block *blocks,
                        size_t max)
{
    size_t n = 0;
    for (unsigned p = 0; v->phases && p < nphases; p++)
        for (const char *const *b = v->phases[p].blocks; b && *b && n < max; b++)
            blocks[n++] = (qkperf_addr_block){*b, (int)p};
    return n;
}

/* ---- one chunk ------------------------------------------------------------ */

typedef struct ip_buf {
    uint64_t *ip;
    size_t n, cap;
    int oom;
} ip_buf;

static void keep_ip(void *ctx, const qkperf_sample *s)
{
    ip_buf *b = ctx;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        uint64_t *p = realloc(b->ip, cap * sizeof *p);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->ip = p;
        b->cap = cap;
    }
    b->ip[b->n++] = s->ip;
}

/* Counts of one chunk: phases 0..np-1, then other; unknown is the part of
 * other in code without debug info, with the first reasons seen. */
typedef struct tally {
    uint64_t *n;
    uint64_t unknown;
    const char *why[IC_MAX_WHY];
    size_t nwhy;
} tally;

static void map_ips(qkperf_addrmap *m, const ip_buf *b, unsigned np, tally *t)
{
    memset(t->n, 0, (np + 1) * sizeof *t->n);
    for (size_t i = 0; i < b->n; i++) {
        qkperf_addr_result a;
        qkperf_addrmap_lookup(m, b->ip[i], &a);
        t->n[a.phase >= 0 && (unsigned)a.phase < np ? (unsigned)a.phase : np]++;
        if (a.phase != QKPERF_PHASE_UNKNOWN)
            continue;
        t->unknown++;
        size_t k = 0;
        while (k < t->nwhy && t->why[k] != a.why)
            k++;
        if (k == t->nwhy && k < IC_MAX_WHY && a.why)
            t->why[t->nwhy++] = a.why;
    }
}

/* Run the fused kernel, sampled, until `want` samples or the time cap.
 * Returns the samples taken (0 on out of memory, b->oom set). */
static size_t run_chunk(qkperf_sampler *s, const qk_variant *v, void *ws, unsigned long calls,
                        size_t want, ip_buf *b)
{
    qkperf_sampler_sink sink = {.sample = keep_ip, .ctx = b};
    b->n = 0;
    uint64_t t0 = qkperf_tsc_now();
    qkperf_sampler_enable(s);
    while (b->n < want && !b->oom &&
           qkperf_tsc_to_ns(qkperf_tsc_now() - t0) < IC_CHUNK_CAP_S * 1e9) {
        for (unsigned long i = 0; i < calls; i++)
            v->fused(ws);
        qkperf_sampler_drain(s, &sink);
    }
    qkperf_sampler_disable(s);
    qkperf_sampler_drain(s, &sink);
    return b->oom ? 0 : b->n;
}

/* ---- records -------------------------------------------------------------- */

typedef struct ic_series {
    double *share, *time, *count;
    size_t n; /* chunks with samples */
} ic_series;

static int emit(qkperf_results *res, const qk_op *op, const qk_variant *v, const char *size,
                const char *phase, const char *metric, const char *unit, const double *samples,
                size_t n, const char *why)
{
    qkperf_record x;
    memset(&x, 0, sizeof x);
    snprintf(x.op, sizeof x.op, "%s", op->name);
    snprintf(x.variant, sizeof x.variant, "%s", v->name);
    snprintf(x.size, sizeof x.size, "%s", size);
    snprintf(x.phase, sizeof x.phase, "%s", phase);
    snprintf(x.metric, sizeof x.metric, "%s", metric);
    snprintf(x.source, sizeof x.source, "sample");
    snprintf(x.unit, sizeof x.unit, "%s", unit);
    snprintf(x.view, sizeof x.view, QKPERF_VIEW_IN_CONTEXT);
    x.samples = (double *)samples;
    x.counted = why == NULL && n > 0;
    x.n = x.counted ? n : 0;
    x.batch = 1;
    x.mux_ratio = 1.0;
    snprintf(x.why, sizeof x.why, "%s", x.counted ? "" : why ? why : "no samples");
    return qkperf_results_add(res, &x);
}

static const char *part_name(const qk_op *op, unsigned p, unsigned np)
{
    return p < np ? op->phases[p] : QKPERF_PHASE_OTHER_NAME;
}

/* The three metrics of an event's split: share, the figure, the counts. */
typedef struct ic_names {
    char share[48], figure[48], count[48];
    const char *unit;
} ic_names;

static void names_of(const qkperf_ic_event *ev, ic_names *n)
{
    int clock = ev->attr == NULL;
    snprintf(n->share, sizeof n->share, clock ? "share" : "share of %s", ev->name);
    snprintf(n->figure, sizeof n->figure, "%s", clock ? "time" : ev->name);
    snprintf(n->count, sizeof n->count, clock ? "samples" : "samples of %s", ev->name);
    n->unit = clock ? "ns" : "";
}

/* Every phase and other, not counted, with the reason. */
static int emit_na(qkperf_results *res, const qk_op *op, const qk_variant *v, const char *size,
                   unsigned np, const ic_names *m, const char *why)
{
    int rc = 0;
    for (unsigned p = 0; p <= np; p++) {
        const char *name = part_name(op, p, np);
        rc |= emit(res, op, v, size, name, m->share, "%", NULL, 0, why);
        rc |= emit(res, op, v, size, name, m->figure, m->unit, NULL, 0, why);
        rc |= emit(res, op, v, size, name, m->count, "count", NULL, 0, why);
    }
    return rc;
}

static int emit_series(qkperf_results *res, const qk_op *op, const qk_variant *v, const char *size,
                       unsigned np, const ic_names *m, const ic_series *s)
{
    int rc = 0;
    for (unsigned p = 0; p <= np; p++) {
        const char *name = part_name(op, p, np);
        rc |= emit(res, op, v, size, name, m->share, "%", s[p].share, s[p].n, NULL);
        rc |= emit(res, op, v, size, name, m->figure, m->unit, s[p].time, s[p].n, NULL);
        rc |= emit(res, op, v, size, name, m->count, "count", s[p].count, s[p].n, NULL);
    }
    return rc;
}

/* ---- the pass ------------------------------------------------------------- */

static double median_of(const double *x, unsigned n)
{
    qkperf_summary s;
    return qkperf_summarize(x, n, &s, NULL) == 0 ? s.median : NAN;
}

static void note_pass(qkperf_results *res, const qk_op *op, const qk_variant *v, const char *size,
                      qkperf_sampler *s, uint64_t total, const tally *all)
{
    char desc[200], why[600] = "";
    qkperf_sampler_describe(s, desc, sizeof desc);
    qkperf_sampler_stats st = qkperf_sampler_stats_get(s);
    size_t nt, busy = 0;
    const qkperf_thread_count *tc = qkperf_sampler_threads(s, &nt);
    for (size_t i = 0; i < nt; i++)
        busy += tc[i].samples > 0;
    if (all->unknown) {
        size_t k =
            (size_t)snprintf(why, sizeof why, "; %.1f%% of them in code without debug info (",
                             100.0 * (double)all->unknown / (double)total);
        for (size_t i = 0; i < all->nwhy && k < sizeof why; i++)
            k += (size_t)snprintf(why + k, sizeof why - k, "%s%s", i ? "; " : "", all->why[i]);
        if (k < sizeof why)
            snprintf(why + k, sizeof why - k, "), counted as other");
    }
    qkperf_results_note(res,
                        "in-context (sample) %s %s %s: %llu samples on %zu thread%s (%s), "
                        "%llu lost%s",
                        op->name, v->name, size, (unsigned long long)total, busy,
                        busy == 1 ? "" : "s", desc, (unsigned long long)st.lost, why);
}

/* The chunks: run, map, turn counts into the records' samples. */
static int sample_chunks(const qkperf_ic_opts *o, qkperf_sampler *s, qkperf_addrmap *m,
                         const qk_variant *v, void *ws, const double *fused_ns, const double *fused,
                         unsigned ns, unsigned np, ic_series *out, tally *all, uint64_t *total)
{
    double call = median_of(fused_ns, ns);
    unsigned long calls = isfinite(call) && call > 0 ? (unsigned long)ceil(2e6 / call) : 1;
    size_t want = (o->target + ns - 1) / ns;
    ip_buf b = {0};
    uint64_t n[QK_MAX_PHASES + 1];
    tally t = {.n = n};
    int rc = 0;
    for (unsigned k = 0; k < ns && rc == 0; k++) {
        size_t got = run_chunk(s, v, ws, calls, want, &b);
        if (b.oom) {
            rc = -1;
            break;
        }
        map_ips(m, &b, np, &t);
        for (unsigned p = 0; p <= np; p++)
            all->n[p] += t.n[p];
        all->unknown += t.unknown;
        for (size_t i = 0; i < t.nwhy && all->nwhy < IC_MAX_WHY; i++)
            all->why[all->nwhy++] = t.why[i];
        t.nwhy = 0;
        t.unknown = 0;
        *total += got;
        if (got == 0)
            continue;
        for (unsigned p = 0; p <= np; p++) {
            ic_series *x = &out[p];
            x->share[x->n] = 100.0 * (double)t.n[p] / (double)got;
            x->time[x->n] = (double)t.n[p] / (double)got * fused[k];
            x->count[x->n] = (double)t.n[p];
            x->n++;
        }
    }
    free(b.ip);
    return rc;
}

static int alloc_series(ic_series *s, unsigned np, unsigned ns)
{
    for (unsigned p = 0; p <= np; p++) {
        s[p].share = calloc(3 * (size_t)ns, sizeof(double));
        if (!s[p].share)
            return -1;
        s[p].time = s[p].share + ns;
        s[p].count = s[p].time + ns;
        s[p].n = 0;
    }
    return 0;
}

int qkperf_ic_sample(const qkperf_ic_opts *o, const qkperf_ic_event *ev, const qk_op *op,
                     const qk_variant *v, void *ws, const char *size, const double *fused_ns,
                     unsigned ns, qkperf_results *res, char *err, size_t len)
{
    unsigned np = qk_phase_count(op);
    qkperf_addr_block blocks[IC_MAX_BLOCKS];
    size_t nb = qkperf_ic_blocks(v, np, blocks, IC_MAX_BLOCKS);
    ic_names names;
    names_of(ev, &names);
    char why[512] = "";
    qkperf_addrmap *m = nb && ns ? self_map(why, sizeof why) : NULL;
    if (!nb)
        snprintf(why, sizeof why, "the variant names no phase blocks (qk_phase.blocks)");
    else if (!ns)
        snprintf(why, sizeof why, "no fused samples to pair the chunks with");
    if (m && qkperf_addrmap_set_blocks(m, blocks, nb, why, sizeof why))
        m = NULL;
    qkperf_sample_config cfg = {.attr = ev->attr,
                                .name = ev->attr ? ev->name : NULL,
                                .period = ev->period ? ev->period
                                                     : (uint64_t)(1e9 / (o->hz > 0 ? o->hz : 1))};
    qkperf_err e = {0};
    qkperf_sampler *s = m ? qkperf_sampler_open_self(&cfg, &e) : NULL;
    if (m && !s)
        snprintf(why, sizeof why, "sampling %s not possible: %s", ev->attr ? ev->name : "cpu-clock",
                 e.msg);
    if (!s)
        return emit_na(res, op, v, size, np, &names, why)
                   ? (snprintf(err, len, "out of memory"), -1)
                   : 0;
    ic_series series[QK_MAX_PHASES + 1] = {{0}};
    uint64_t all_n[QK_MAX_PHASES + 1] = {0}, total = 0;
    tally all = {.n = all_n};
    int rc = alloc_series(series, np, ns);
    if (rc == 0)
        rc = sample_chunks(o, s, m, v, ws, fused_ns, ev->fused, ns, np, series, &all, &total);
    if (rc == 0) {
        note_pass(res, op, v, size, s, total, &all);
        rc = emit_series(res, op, v, size, np, &names, series);
    }
    qkperf_sampler_close(s);
    for (unsigned p = 0; p <= np; p++)
        free(series[p].share);
    return rc ? (snprintf(err, len, "out of memory in the in-context pass"), -1) : 0;
}
