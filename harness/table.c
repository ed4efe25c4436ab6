/*
 * table.c — the run table: one block per variant, a row per phase and
 * metric, the fused total last, then overlap = sum(staged) - fused and the
 * throughput of the fused kernel.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "incontext.h"
#include "sampler.h"
#include "table.h"

static const char *scale_si(double *v, const char *const units[4])
{
    double a = fabs(*v);
    int i = a >= 1e9 ? 3 : a >= 1e6 ? 2 : a >= 1e3 ? 1 : 0;
    *v /= pow(1e3, i);
    if (fabs(*v) >= 999.95 && i < 3) { /* 999.97 would print as "1000" */
        *v /= 1e3;
        i++;
    }
    return units[i];
}

void qkperf_fmt_value(char *buf, size_t len, double v, const char *unit)
{
    static const char *const ns[] = {"ns", "µs", "ms", "s"};
    static const char *const plain[] = {"", " k", " M", " G"};
    if (!isfinite(v)) {
        snprintf(buf, len, "n/a");
        return;
    }
    if (strcmp(unit, "ns") == 0) {
        const char *u = scale_si(&v, ns);
        snprintf(buf, len, "%.4g %s", v, u);
    } else if (strcmp(unit, "elem/s") == 0 || strcmp(unit, "B/s") == 0) {
        const char *u = scale_si(&v, plain);
        snprintf(buf, len, "%.4g%s%s", v, u, unit[0] == 'B' ? "B/s" : " elem/s");
    } else {
        const char *u = scale_si(&v, plain);
        snprintf(buf, len, "%.4g%s", v, u);
    }
}

/* Characters a name takes on a terminal (UTF-8: continuation bytes take none). */
static int display_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

void qkperf_fmt_signed(char *buf, size_t len, double v, const char *unit)
{
    char abs[32];
    qkperf_fmt_value(abs, sizeof abs, fabs(v), unit);
    snprintf(buf, len, "%s%s", isfinite(v) ? (v < 0 ? "-" : "+") : "", abs);
}

static const char *source_label(const qkperf_record *x, char *buf, size_t len)
{
    if (strcmp(x->metric, "cycles-est") == 0)
        return "tsc (estimate)";
    if (x->threads > 1) { /* summed over the threads of the process */
        snprintf(buf, len, "%s (%u threads)", x->source, x->threads);
        return buf;
    }
    return x->source;
}

/* Counted per call but shown only as notes (they are 0 almost always). */
static int quiet_metric(const char *m)
{
    static const char *const quiet[] = {"page-faults", "context-switches", "cpu-migrations",
                                        "throughput", "bandwidth"};
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
        if (!strcmp(m, quiet[i]))
            return 1;
    return 0;
}

static void print_record(FILE *f, const qkperf_record *x, const char *phase_col, int width)
{
    char med[32], mn[32], spread[24], src[48];
    qkperf_fmt_value(med, sizeof med, x->median, x->unit);
    qkperf_fmt_value(mn, sizeof mn, x->min, x->unit);
    if (x->median != 0 && isfinite(x->mad))
        snprintf(spread, sizeof spread, "±%.2f%%", 100.0 * x->mad / fabs(x->median));
    else
        snprintf(spread, sizeof spread, "±%.3g", x->mad);
    /* Field widths count bytes; "µs" and "±" take one byte more than they show. */
    int wmed = 12 + (int)strlen(med) - display_width(med);
    int wmn = 12 + (int)strlen(mn) - display_width(mn);
    int wmetric = width + (int)strlen(x->metric) - display_width(x->metric);
    int wspread = 9 + (int)strlen(spread) - display_width(spread); /* "±" */
    fprintf(f, "  %-8s %-*s %*s %*s %*s %4zu  %s", phase_col, wmetric, x->metric, wmed, med,
            wspread, spread, wmn, mn, x->n, source_label(x, src, sizeof src));
    if (x->mux_ratio < 0.999)
        fprintf(f, " (counted %.1f%% of the time, scaled)", 100.0 * x->mux_ratio);
    if (x->outliers_low + x->outliers_high)
        fprintf(f, " [%zu outlier%s]", x->outliers_low + x->outliers_high,
                x->outliers_low + x->outliers_high > 1 ? "s" : "");
    fputc('\n', f);
}

static int same_region(const qkperf_record *x, const char *op, const char *variant,
                       const char *size, const char *phase)
{
    return !strcmp(x->op, op) && !strcmp(x->variant, variant) && !strcmp(x->size, size) &&
           !strcmp(x->phase, phase) && !strcmp(x->view, qkperf_default_view(phase));
}

/* Counted metrics one per row; metrics that could not be counted on one
 * row, named, with their reasons listed once under the table. */
static void print_phase(FILE *f, const qkperf_results *r, const char *op, const char *variant,
                        const char *size, const char *phase, int width)
{
    const char *col = phase;
    char na[512] = "";
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!same_region(x, op, variant, size, phase) || quiet_metric(x->metric))
            continue;
        if (!x->counted) {
            size_t used = strlen(na);
            snprintf(na + used, sizeof na - used, "%s%s", used ? ", " : "", x->metric);
            continue;
        }
        print_record(f, x, col, width);
        col = "";
    }
    if (na[0])
        fprintf(f, "  %-8s %-*s %s\n", col, width, "n/a [1]", na);
}

static void print_reasons(FILE *f, const qkperf_results *r, const char *op, const char *variant,
                          const char *size)
{
    const char *seen[16];
    size_t nseen = 0;
    for (size_t i = 0; i < r->n && nseen < 16; i++) {
        const qkperf_record *x = &r->rec[i];
        if (strcmp(x->op, op) || strcmp(x->variant, variant) || strcmp(x->size, size) || x->counted)
            continue;
        size_t k = 0;
        while (k < nseen && strcmp(seen[k], x->why))
            k++;
        if (k < nseen)
            continue;
        seen[nseen++] = x->why;
        fprintf(f, "  %-8s %s: %s\n", nseen == 1 ? "[1] n/a" : "", x->source, x->why);
    }
}

static void print_overlap(FILE *f, const qkperf_results *r, const qk_op *op, const char *variant,
                          const char *size, const char *metric, int width)
{
    const qkperf_record *tot = qkperf_results_find(r, op->name, variant, size, "total", metric);
    double sum = 0;
    for (unsigned p = 0; p < qk_phase_count(op); p++) {
        const qkperf_record *x =
            qkperf_results_find(r, op->name, variant, size, op->phases[p], metric);
        if (!x || !x->counted || !tot || !tot->counted)
            return;
        sum += x->median;
    }
    char s[32], fu[32], ov[32];
    qkperf_fmt_value(s, sizeof s, sum, tot->unit);
    qkperf_fmt_value(fu, sizeof fu, tot->median, tot->unit);
    qkperf_fmt_value(ov, sizeof ov, sum - tot->median, tot->unit);
    fprintf(f, "  %-8s %-*s sum(staged) %s - fused %s = %s (%.0f%% of staged hidden)\n", "overlap",
            width, metric, s, fu, ov, sum > 0 ? 100.0 * (sum - tot->median) / sum : 0.0);
}

/* The metric column: at least 20 wide, wide enough for the block's
 * longest counted metric name (group metrics such as "int scheduler 0
 * full [cycles]" would push the columns after them out of line). */
static int metric_width(const qkperf_results *r, const char *op, const char *variant,
                        const char *size)
{
    int w = 20;
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!strcmp(x->op, op) && !strcmp(x->variant, variant) && !strcmp(x->size, size) &&
            x->counted && !quiet_metric(x->metric) && display_width(x->metric) > w)
            w = display_width(x->metric);
    }
    return w;
}

/* The sum of a record's samples (the in-context counts of all chunks). */
static double sum_of(const qkperf_record *x)
{
    double t = 0;
    for (size_t i = 0; x && x->counted && i < x->n; i++)
        t += x->samples[i];
    return t;
}

/* Cycles per ns of call of the fused kernel, to turn the in-context times
 * into cycles: its hardware cycles where counted, else its TSC estimate
 * (source said in *src); 0 when it has neither. */
static double fused_cycles_per_ns(const qkperf_results *r, const char *op, const char *variant,
                                  const char *size, const char **src)
{
    const qkperf_record *t = qkperf_results_find(r, op, variant, size, "total", "time");
    const qkperf_record *c = qkperf_results_find(r, op, variant, size, "total", "cycles");
    *src = "hw";
    if (!c || !c->counted) {
        c = qkperf_results_find(r, op, variant, size, "total", "cycles-est");
        *src = "tsc estimate";
    }
    return t && t->counted && c && c->counted && t->median > 0 ? c->median / t->median : 0.0;
}

/* One in-context row: the sampled share with its 95% Wilson interval over
 * every sample, the in-context time, its cycles in all and per 256
 * elements (per_el: 256 / elements per call; cpn: the time's cycles per
 * ns, or -1 for a PMU's cycles sampled in context, 0 for no column), and
 * the exact sim counts when there. */
static void print_ic_row(FILE *f, const qkperf_results *r, const char *op, const char *variant,
                         const char *size, const char *phase, double total, bool with_ir,
                         double cpn, double per_el)
{
    const qkperf_record *n =
        qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op, variant, size, phase, "samples");
    const qkperf_record *t =
        qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op, variant, size, phase, "time");
    const qkperf_record *ir =
        qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op, variant, size, phase, "Ir");
    char share[48] = "n/a", time[32] = "", irs[32] = "n/a";
    if (n && n->counted && total > 0) {
        double sh, lo, hi;
        qkperf_share_wilson((uint64_t)sum_of(n), (uint64_t)total, &sh, &lo, &hi);
        snprintf(share, sizeof share, "%5.1f%% [%4.1f, %4.1f]", 100 * sh, 100 * lo, 100 * hi);
    }
    if (t && t->counted)
        qkperf_fmt_value(time, sizeof time, t->median, t->unit);
    if (ir && ir->counted)
        qkperf_fmt_value(irs, sizeof irs, ir->median, "");
    fprintf(f, "  %-8s %-22s %*s", phase, share, /* "µs": a byte more than it shows */
            12 + (int)strlen(time) - display_width(time), time);
    if (cpn != 0) {
        /* cpn < 0: a PMU's cycles sampled in context, the phase's own */
        const qkperf_record *hc = cpn < 0 ? qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op,
                                                                     variant, size, phase, "cycles")
                                          : NULL;
        double c = hc ? (hc->counted ? hc->median : NAN) : t && t->counted ? t->median * cpn : NAN;
        char cyc[32] = "n/a", per[32] = "n/a";
        if (isfinite(c)) {
            qkperf_fmt_value(cyc, sizeof cyc, c, "");
            if (per_el > 0) /* 3 digits, never an exponent */
                snprintf(per, sizeof per, c * per_el >= 999.5 ? "%.0f" : "%.3g", c * per_el);
        }
        fprintf(f, " %12s %10s", cyc, per);
    }
    if (with_ir)
        fprintf(f, " %12s", irs);
    fputc('\n', f);
}

/* The fused kernel split by phase: shown when the document has the view. */
static void print_in_context(FILE *f, const qkperf_results *r, const qk_op *op, const char *variant,
                             const char *size)
{
    const char *other = QKPERF_PHASE_OTHER_NAME;
    const qkperf_record *on = qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op->name, variant,
                                                       size, other, "samples");
    const qkperf_record *oi =
        qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op->name, variant, size, other, "Ir");
    if (!on && !oi)
        return;
    double total = sum_of(on);
    bool with_ir = oi != NULL;
    for (unsigned p = 0; p < qk_phase_count(op); p++) {
        total += sum_of(qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op->name, variant, size,
                                                 op->phases[p], "samples"));
        with_ir |= qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op->name, variant, size,
                                            op->phases[p], "Ir") != NULL;
    }
    const char *csrc = NULL;
    double cpn = fused_cycles_per_ns(r, op->name, variant, size, &csrc), per_el = 0.0;
    const qkperf_record *hwc = qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op->name,
                                                        variant, size, other, "cycles");
    if (hwc && hwc->counted) { /* the PMU sampled cycles: each phase's own count */
        cpn = -1;
        csrc = "hw cycles sampled in context";
    }
    size_t dim[QK_MAX_DIMS];
    char err[128];
    if (op->elements && qkperf_parse_size(op, size, dim, err, sizeof err) == 0 &&
        op->elements(dim) > 0)
        per_el = 256.0 / op->elements(dim);
    fprintf(f, "  in context: the fused kernel by phase (%.0f samples, source sample; %s)\n", total,
            with_ir ? "Ir: sim" : "exact Ir per phase: --source sim");
    if (cpn < 0)
        fprintf(f, "  cycles: %s; /256 el: per 256 elements\n", csrc);
    else if (cpn > 0)
        fprintf(f,
                "  cycles: the time at the fused kernel's cycles per ns (%s); /256 el: per 256 "
                "elements\n",
                csrc);
    fprintf(f, "  %-8s %-22s %12s", "phase", "share [95% CI]", "time");
    if (cpn != 0)
        fprintf(f, " %12s %10s", "cycles", "/256 el");
    fputs(with_ir ? "           Ir\n" : "\n", f);
    for (unsigned p = 0; p < qk_phase_count(op); p++)
        print_ic_row(f, r, op->name, variant, size, op->phases[p], total, with_ir, cpn, per_el);
    print_ic_row(f, r, op->name, variant, size, other, total, with_ir, cpn, per_el);
    if (on && !on->counted)
        fprintf(f, "  %-8s sample: %s\n", "n/a", on->why);
}

void qkperf_print_variant(FILE *f, const qkperf_results *r, const qk_op *op, const char *variant,
                          const char *size)
{
    int width = metric_width(r, op->name, variant, size);
    const qkperf_record *t = qkperf_results_find(r, op->name, variant, size, "total", "time");
    fprintf(f, "\n%s %s  size %s", op->name, variant, size);
    if (t)
        fprintf(f, "  (batch %lu calls per sample, %zu samples)", t->batch, t->n);
    fputc('\n', f);
    fprintf(f, "  staged: each phase alone over the whole input; total: the fused kernel\n");
    fprintf(f, "  %-8s %-*s %12s %9s %12s %4s  %s\n", "phase", width, "metric", "median", "MAD",
            "min", "n", "source");
    for (unsigned p = 0; p < qk_phase_count(op); p++)
        print_phase(f, r, op->name, variant, size, op->phases[p], width);
    print_phase(f, r, op->name, variant, size, "total", width);
    print_overlap(f, r, op, variant, size, "time", width);
    print_overlap(f, r, op, variant, size, "instructions", width);
    print_in_context(f, r, op, variant, size);
    const qkperf_record *th =
        qkperf_results_find(r, op->name, variant, size, "total", "throughput");
    const qkperf_record *bw = qkperf_results_find(r, op->name, variant, size, "total", "bandwidth");
    if (th && bw) {
        char a[32], b[32];
        qkperf_fmt_value(a, sizeof a, th->median, th->unit);
        qkperf_fmt_value(b, sizeof b, bw->median, bw->unit);
        fprintf(f, "  %-8s %s, %s of packed weights, scales, inputs and outputs (tsc)\n", "rate", a,
                b);
    }
    print_reasons(f, r, op->name, variant, size);
}
