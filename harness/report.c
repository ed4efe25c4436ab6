/*
 * report.c — REPORT.md of a review: the headline, the machine and sources,
 * what each ladder step changed (in sentences, with intervals), the sprint's
 * guessed phase shares against measured ones, the tables, the plots, and
 * what could not be measured here and why. Everything is computed from the
 * results document, so a saved document gives the same report.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attrib.h"
#include "decode.h"
#include "incontext.h"
#include "review.h"
#include "table.h"

static const char *mstr(const qkperf_results *r, const char *a, const char *b)
{
    json_t *v = json_object_get(r->machine, a);
    if (b)
        v = json_object_get(v, b);
    const char *s = json_string_value(v);
    return s ? s : "?";
}

static double mnum(const qkperf_results *r, const char *a, const char *b)
{
    json_t *v = json_object_get(r->machine, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double med(const qkperf_results *r, const char *op, const char *v, const char *size,
                  const char *phase, const char *metric)
{
    const qkperf_record *x = qkperf_results_find(r, op, v, size, phase, metric);
    return x && x->counted ? x->median : NAN;
}

/* The same in context (the phase inside the fused kernel, by sampling). */
static double med_ic(const qkperf_results *r, const char *op, const char *v, const char *size,
                     const char *phase, const char *metric)
{
    const qkperf_record *x =
        qkperf_results_find_view(r, QKPERF_VIEW_IN_CONTEXT, op, v, size, phase, metric);
    return x && x->counted ? x->median : NAN;
}

/* Variants measured for op at size, in ladder (registry) order. */
static size_t variants_at(const qkperf_results *r, const char *op, const char *size,
                          const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < qk_variant_count(op) && n < max; i++) {
        const char *v = qk_variant_at(op, i)->name;
        if (isfinite(med(r, op, v, size, "total", "time")))
            out[n++] = v;
    }
    return n;
}

/* Sizes measured for op, in first-seen order. */
static size_t sizes_of(const qkperf_results *r, const char *op, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->rec[i].op, op))
            continue;
        size_t k = 0;
        while (k < n && strcmp(out[k], r->rec[i].size))
            k++;
        if (k == n && n < max)
            out[n++] = r->rec[i].size;
    }
    return n;
}

static void headline(FILE *f, const qkperf_results *r, const char *op, const char *size,
                     const char *what)
{
    const char *vs[32];
    size_t n = variants_at(r, op, size, vs, 32);
    double ref = med(r, op, "scalar", size, "total", "time");
    const char *best = NULL;
    double bt = INFINITY;
    for (size_t i = 0; i < n; i++) {
        double t = med(r, op, vs[i], size, "total", "time");
        if (t < bt) {
            bt = t;
            best = vs[i];
        }
    }
    if (!best || !isfinite(ref)) {
        fprintf(f, "- %s at %s: not measured in this document.\n", op, size);
        return;
    }
    char a[32], b[32], th[32];
    qkperf_fmt_value(a, sizeof a, bt, "ns");
    qkperf_fmt_value(b, sizeof b, ref, "ns");
    qkperf_fmt_value(th, sizeof th, med(r, op, best, size, "total", "throughput"), "elem/s");
    fprintf(f,
            "- **%s %s is %.1f× scalar at %s %s** (%s per call against %s; %s; medians, "
            "tsc, measured side by side in this run).\n",
            op, best, ref / bt, size, what, a, b, th);
}

static void machine(FILE *f, const qkperf_results *r)
{
    fprintf(f, "## The machine\n\n");
    fprintf(f, "| | |\n|---|---|\n");
    fprintf(f, "| CPU | %s (family 0x%x, model 0x%x), %g CPUs |\n", mstr(r, "cpu_model", NULL),
            (unsigned)mnum(r, "family", NULL), (unsigned)mnum(r, "model", NULL),
            mnum(r, "cpus", NULL));
    fprintf(f, "| ISA used by dispatch | %s |\n| kernel | %s |\n", mstr(r, "isa", NULL),
            mstr(r, "kernel", NULL));
    fprintf(f, "| hardware PMU | %s%s%s |\n", mstr(r, "pmu", "status"),
            strcmp(mstr(r, "pmu", "status"), "available") ? ": " : "",
            strcmp(mstr(r, "pmu", "status"), "available") ? mstr(r, "pmu", "reason") : "");
    fprintf(f, "| TSC | %.1f MHz; core cycles per tick ≈ %.2f (estimate: dependent-add chain) |\n",
            mnum(r, "tsc_mhz", NULL), mnum(r, "core_per_tsc", NULL));
    static const char *const rl[][2] = {{"l1_store_Bps", "L1 store"},
                                        {"l2_read_Bps", "L2 read"},
                                        {"l3_read_Bps", "L3 read"},
                                        {"mem_read_Bps", "memory read"}};
    for (size_t i = 0; i < 4; i++) {
        double v = mnum(r, "roofline", rl[i][0]);
        if (isfinite(v))
            fprintf(f, "| %s bandwidth | %.1f GB/s (qkperf roofline, one thread) |\n", rl[i][1],
                    v / 1e9);
    }
    double all = mnum(r, "roofline", "mem_read_all_Bps"), nt = mnum(r, "roofline", "mem_threads");
    if (isfinite(all) && isfinite(nt))
        fprintf(f, "| memory read bandwidth | %.1f GB/s (qkperf roofline, %.0f threads) |\n",
                all / 1e9, nt);
    fprintf(f, "\n");
}

static int has_source(const qkperf_results *r, const char *src, int counted)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rec[i].source, src) && r->rec[i].counted == counted)
            return 1;
    return 0;
}

static const char *first_reason(const qkperf_results *r, const char *src)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rec[i].source, src) && !r->rec[i].counted)
            return r->rec[i].why;
    return "not requested";
}

static void sources(FILE *f, const qkperf_results *r)
{
    static const char *const src[][2] = {
        {"tsc",
         "rdtsc time per call; core cycles estimated (calibrated TSC rate × core/TSC ratio)"},
        {"sw", "perf_event software events: task-clock, page faults, context switches, migrations"},
        {"hw", "perf_event hardware counters encoded by libpfm4 (event groups)"},
        {"sim", "valgrind callgrind: exact instruction counts, simulated D1/LL misses"},
        {"static", "llvm-mca port model of each phase's inner loop"},
    };
    fprintf(f, "## Sources\n\nEvery figure names its source; sources are never mixed.\n\n");
    fprintf(f, "| source | what | here |\n|---|---|---|\n");
    for (size_t i = 0; i < 5; i++) {
        int yes = has_source(r, src[i][0], 1);
        fprintf(f, "| `%s` | %s | %s%s |\n", src[i][0], src[i][1],
                yes ? "used" : "n/a: ", yes ? "" : first_reason(r, src[i][0]));
    }
    fprintf(f, "\n");
}

static void sentence(FILE *f, const qkperf_deltas *ds, const char *from, const char *to,
                     const char *summary)
{
    const qkperf_delta *tot = NULL;
    for (size_t i = 0; i < ds->n; i++)
        if (!strcmp(ds->d[i].from, from) && !strcmp(ds->d[i].to, to) &&
            !strcmp(ds->d[i].phase, "total") && !strcmp(ds->d[i].metric, "time"))
            tot = &ds->d[i];
    fprintf(f, "- **%s → %s** (%s): ", from, to, summary ? summary : "");
    if (tot && tot->change.ratio_defined)
        fprintf(f, "fused time %+.0f%% [%+.0f, %+.0f], %s. ", (tot->change.ratio - 1) * 100,
                (tot->change.ci_lo - 1) * 100, (tot->change.ci_hi - 1) * 100,
                qkperf_verdict_name(tot->verdict));
    int in_context = 0;
    for (size_t i = 0; i < ds->n && !in_context; i++)
        in_context = !strcmp(ds->d[i].from, from) && !strcmp(ds->d[i].to, to) &&
                     !strcmp(ds->d[i].view, QKPERF_VIEW_IN_CONTEXT);
    if (in_context) {
        char line[1024];
        qkperf_attrib_summary_in_context(ds, from, to, line, sizeof line);
        fprintf(f, "In context (inside the fused kernel): %s. ", line);
    }
    char moved[1024] = "", still[256] = "";
    for (size_t i = 0; i < ds->n; i++) {
        const qkperf_delta *d = &ds->d[i];
        if (strcmp(d->from, from) || strcmp(d->to, to) || strcmp(d->view, QKPERF_VIEW_STAGED) ||
            !d->change.ratio_defined)
            continue;
        int is_time = !strcmp(d->metric, "time");
        int is_sim = !strcmp(d->metric, "Ir/elem") || !strcmp(d->metric, "cycles/elem");
        if (!is_time && (!is_sim || d->verdict == QKPERF_NO_CHANGE))
            continue; /* models and simulations: only what moved */
        size_t u = strlen(moved);
        if (is_time && d->verdict == QKPERF_NO_CHANGE) {
            size_t s = strlen(still);
            snprintf(still + s, sizeof still - s, "%s%s", s ? ", " : "", d->phase);
        } else if (is_time) {
            snprintf(moved + u, sizeof moved - u, "%s%s %+.0f%% [%+.0f, %+.0f] (%s)", u ? "; " : "",
                     d->phase, (d->change.ratio - 1) * 100, (d->change.ci_lo - 1) * 100,
                     (d->change.ci_hi - 1) * 100, qkperf_verdict_name(d->verdict));
        } else {
            snprintf(moved + u, sizeof moved - u, "%s%s %s %.3g → %.3g (%s)", u ? "; " : "",
                     d->phase, d->metric, d->before, d->after, d->source);
        }
    }
    fprintf(f, "Staged phases: %s%s%s%s.\n", moved[0] ? moved : "none moved beyond noise",
            still[0] ? "; within noise: " : "", still, "");
}

static void attribution(FILE *f, const qkperf_results *r, const char *op, const char *size)
{
    qkperf_attrib_doc a;
    if (qkperf_attrib_document(r, op, size, &a) || a.nv < 2) {
        qkperf_attrib_doc_free(&a);
        return;
    }
    fprintf(f, "### %s at %s\n\n", op, size);
    for (size_t k = 0; k + 1 < a.nv; k++) {
        const qk_variant *v = qk_find_variant(op, a.variants[k + 1]);
        sentence(f, &a.ds, a.variants[k], a.variants[k + 1], v ? v->summary : NULL);
    }
    fprintf(f,
            "\nIntervals are 95%% bootstrap intervals of the ratio of medians; a verdict is "
            "given only when the change is significant and the whole interval lies outside "
            "the metric's noise band (time: %.3g%%%s).\n\n",
            a.bands.band[QKPERF_KIND_TIME] * 100,
            a.recorded ? ""
                       : "; this document records no bands, so the default bands and bootstrap "
                         "seed are used");
    qkperf_attrib_doc_free(&a);
}

/* Is each variant at least as fast as the one before it, at every size?
 * The same statistics as the steps: slower only beyond noise. */
static void order_check(FILE *f, const qkperf_results *r, const char *op)
{
    const char *sizes[32], *vs[32];
    size_t ns = sizes_of(r, op, sizes, 32);
    size_t nv = ns ? variants_at(r, op, sizes[0], vs, 32) : 0;
    if (nv < 2)
        return;
    qkperf_bands bands;
    uint64_t seed;
    qkperf_attrib_settings(r, &bands, &seed); /* as the steps above */
    qkperf_deltas slower = {0};
    size_t checked;
    if (qkperf_attrib_order(r, op, sizes, ns, vs, nv, &bands, seed, &checked, &slower) == 0 &&
        checked > 0) {
        if (slower.n == 0)
            fprintf(f,
                    "- **%s**: every variant is at least as fast as the one before it at "
                    "every size measured (%zu steps × sizes, fused time).\n",
                    op, checked);
        else {
            fprintf(f,
                    "- **%s**: %zu of %zu steps × sizes are slower than the variant before "
                    "them:",
                    op, slower.n, checked);
            for (size_t i = 0; i < slower.n; i++) {
                const qkperf_delta *d = &slower.d[i];
                fprintf(f, "%s %s → %s at %s %+.0f%% [%+.0f, %+.0f]", i ? ";" : "", d->from, d->to,
                        d->size, (d->change.ratio - 1) * 100, (d->change.ci_lo - 1) * 100,
                        (d->change.ci_hi - 1) * 100);
            }
            fprintf(f, ".\n");
        }
    }
    qkperf_deltas_free(&slower);
}

/* The sprint planned with guessed shares. In context, the fused kernel's
 * own samples measure them; staged (each phase alone) is the second column. */
static void guesses(FILE *f, const qkperf_results *r, const char *op, const char *size)
{
    static const char *const guess[][2] = {
        {"unpack", "40%"}, {"lut", "30%"}, {"fma", "15%"}, {"memory", "10%"}};
    const qk_op *o = qk_find_op(op);
    double sum = 0;
    for (unsigned p = 0; p < qk_phase_count(o); p++)
        sum += fmax(0, med(r, op, "avx2-mvp", size, o->phases[p], "time"));
    int ic = isfinite(med_ic(r, op, "avx2-mvp", size, QKPERF_PHASE_OTHER_NAME, "share"));
    if (!(sum > 0) && !ic)
        return;
    fprintf(f,
            "| phase | sprint's guess | measured share in context (the fused kernel, %s "
            "avx2-mvp at %s) | share of staged time (each phase alone) |\n"
            "|---|---|---|---|\n",
            op, size);
    for (unsigned p = 0; p <= qk_phase_count(o); p++) {
        const char *ph = p < qk_phase_count(o) ? o->phases[p] : QKPERF_PHASE_OTHER_NAME;
        const char *g = "—";
        for (size_t k = 0; k < 4; k++)
            if (!strcmp(guess[k][0], ph))
                g = guess[k][1];
        double in = med_ic(r, op, "avx2-mvp", size, ph, "share");
        double st = p < qk_phase_count(o) && sum > 0
                        ? 100 * med(r, op, "avx2-mvp", size, ph, "time") / sum
                        : NAN;
        char a[32] = "n/a", b[32] = "—";
        if (isfinite(in))
            snprintf(a, sizeof a, "%.0f%%", in);
        if (isfinite(st))
            snprintf(b, sizeof b, "%.0f%%", st);
        fprintf(f, "| %s | %s | %s | %s |\n", ph, g, a, b);
    }
    fprintf(f, "\n");
}

static void sweep_table(FILE *f, const qkperf_results *r, const char *op)
{
    const char *sizes[32], *vs[32];
    size_t ns = sizes_of(r, op, sizes, 32);
    if (ns == 0)
        return;
    size_t nv = variants_at(r, op, sizes[0], vs, 32);
    fprintf(f, "### %s: fused time per call and speedup vs scalar (same run)\n\n| variant |", op);
    for (size_t s = 0; s < ns; s++)
        fprintf(f, " %s |", sizes[s]);
    fprintf(f, "\n|---|");
    for (size_t s = 0; s < ns; s++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (size_t i = 0; i < nv; i++) {
        fprintf(f, "| %s |", vs[i]);
        for (size_t s = 0; s < ns; s++) {
            double t = med(r, op, vs[i], sizes[s], "total", "time");
            double ref = med(r, op, "scalar", sizes[s], "total", "time");
            char a[32];
            qkperf_fmt_value(a, sizeof a, t, "ns");
            fprintf(f, " %s (%.2f×) |", a, ref / t);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\n");
}

static void phase_table(FILE *f, const qkperf_results *r, const char *op, const char *size)
{
    const char *vs[32];
    size_t nv = variants_at(r, op, size, vs, 32);
    const qk_op *o = qk_find_op(op);
    fprintf(f, "### %s at %s: staged phases and fused total (median time per call)\n\n| variant |",
            op, size);
    for (unsigned p = 0; p < qk_phase_count(o); p++)
        fprintf(f, " %s |", o->phases[p]);
    fprintf(f, " sum of staged | fused | overlap |\n|---|");
    for (unsigned p = 0; p < qk_phase_count(o) + 3; p++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (size_t i = 0; i < nv; i++) {
        double sum = 0;
        char a[32];
        fprintf(f, "| %s |", vs[i]);
        for (unsigned p = 0; p < qk_phase_count(o); p++) {
            double t = med(r, op, vs[i], size, o->phases[p], "time");
            sum += t;
            qkperf_fmt_value(a, sizeof a, t, "ns");
            fprintf(f, " %s |", a);
        }
        double tot = med(r, op, vs[i], size, "total", "time");
        qkperf_fmt_value(a, sizeof a, sum, "ns");
        fprintf(f, " %s |", a);
        qkperf_fmt_value(a, sizeof a, tot, "ns");
        fprintf(f, " %s | %.0f%% |\n", a, 100 * (sum - tot) / sum);
    }
    fprintf(f, "\n");
}

/* The fused kernel's hw figure of a variant (median), NaN if none. */
static double hw_total(const qkperf_results *r, const char *op, const char *v, const char *size,
                       const char *metric, unsigned *threads, double *mux)
{
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!strcmp(x->source, "hw") && x->counted && !strcmp(x->op, op) &&
            !strcmp(x->variant, v) && !strcmp(x->size, size) && !strcmp(x->phase, "total") &&
            !strcmp(x->metric, metric)) {
            *threads = x->threads > *threads ? x->threads : *threads;
            *mux = fmin(*mux, x->mux_ratio);
            return x->median;
        }
    }
    return NAN;
}

/* The hw figures that say most about a kernel, in the groups' names: the
 * columns of the hardware table are those of them that were counted. */
static const char *const hw_columns[] = {
    "IPC",
    "retiring",
    "bad speculation",
    "frontend bound",
    "backend bound",
    "backend: memory bound",
    "miss ratio",
    "vector ALU share p5",
    "FP share of dispatched ops",
};

static void hw_table(FILE *f, const qkperf_results *r, const char *op, const char *size)
{
    const char *vs[32], *cols[sizeof hw_columns / sizeof hw_columns[0]];
    size_t nv = variants_at(r, op, size, vs, 32), nc = 0;
    unsigned threads = 0;
    double mux = 1.0;
    for (size_t c = 0; c < sizeof hw_columns / sizeof hw_columns[0]; c++)
        for (size_t i = 0; i < nv; i++)
            if (isfinite(hw_total(r, op, vs[i], size, hw_columns[c], &threads, &mux))) {
                cols[nc++] = hw_columns[c];
                break;
            }
    if (!nc)
        return;
    fprintf(f, "### %s at %s: the fused kernel's hardware counters\n\n| variant |", op, size);
    for (size_t c = 0; c < nc; c++)
        fprintf(f, " %s |", cols[c]);
    fprintf(f, "\n|---|");
    for (size_t c = 0; c < nc; c++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (size_t i = 0; i < nv; i++) {
        fprintf(f, "| %s |", vs[i]);
        for (size_t c = 0; c < nc; c++) {
            double v = hw_total(r, op, vs[i], size, cols[c], &threads, &mux);
            if (isfinite(v))
                fprintf(f, " %.3g |", v);
            else
                fprintf(f, " n/a |");
        }
        fprintf(f, "\n");
    }
    char groups[256] = "";
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(r->config, "groups"), i, g)
        snprintf(groups + strlen(groups), sizeof groups - strlen(groups), "%s%s", i ? ", " : "",
                 json_string_value(g));
    fprintf(f, "\n(source hw, event groups %s: medians per call of the fused kernel", groups);
    if (threads > 1)
        fprintf(f, ", summed over the %u threads counted", threads);
    if (mux < 0.999)
        fprintf(f, ", scaled: the counters were shared, counted %.0f%% of the time at least",
                100 * mux);
    fprintf(f, "; every phase and metric is in results.json.)\n\n");
}

/* The hardware section, where a PMU counted (otherwise "What could not be
 * measured" says why). */
static void hw_section(FILE *f, const qkperf_results *r, const char *const *ops,
                       const char *const *sizes, size_t n)
{
    if (!has_source(r, "hw", 1))
        return;
    fprintf(f,
            "## Hardware counters\n\nCounted by the PMU (%s), per call of the fused kernel "
            "at the ladder sizes: instructions per cycle, the top-down fractions of the "
            "pipeline's slots where the groups give them, and the event groups' telling "
            "ratios.\n\n",
            mstr(r, "pmu", "libpfm_pmu"));
    for (size_t k = 0; k < n; k++)
        if (sizes[k])
            hw_table(f, r, ops[k], sizes[k]);
}

static void decode_section(FILE *f, const qkperf_results *r)
{
    const char *size = NULL;
    for (size_t i = 0; i < r->n && !size; i++)
        if (!strcmp(r->rec[i].op, "decode"))
            size = r->rec[i].size;
    if (!size)
        return;
    fprintf(f,
            "## End to end: decoding one token of BitNet b1.58 2B4T\n\n"
            "The linear layers of one token (%s: q, k, v, o, gate, up, down per layer), "
            "random QK256 weights streamed from memory, activation quantization included "
            "for the int8 variants, all cores.\n\n"
            "| variant | tokens/s | weight bytes/s | share of measured memory read bandwidth "
            "| share of the weights read |\n"
            "|---|---|---|---|---|\n",
            size);
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (strcmp(x->op, "decode") || strcmp(x->metric, "tokens/s") || !x->counted)
            continue;
        double wb = med(r, "decode", x->variant, size, "total", "weight B/s");
        double fr = med(r, "decode", x->variant, size, "total", "bandwidth fraction");
        double rd = med(r, "decode", x->variant, size, "total", "of weights read");
        char of[32];
        snprintf(of, sizeof of, isfinite(rd) ? "%.0f%%" : "–", rd * 100);
        fprintf(f, "| %s | %.1f | %.1f GB/s | %.0f%% | %s |\n", x->variant, x->median, wb / 1e9,
                fr * 100, of);
    }
    double mem = json_number_value(json_object_get(r->config, "memory_read_Bps"));
    long reads = (long)json_integer_value(json_object_get(r->config, "memory_reads_interleaved"));
    long threads = (long)json_integer_value(json_object_get(r->config, "memory_read_threads"));
    if (reads > 0 && mem > 0)
        fprintf(f,
                "\nThe share sets each token against a memory read with the same thread count "
                "(%ld) made right after its round of tokens, and is the median of those pairs; "
                "the %ld reads had a median of %.1f GB/s.",
                threads, reads, mem / 1e9);
    if (med(r, "decode", QKPERF_DECODE_WEIGHTS_READ, size, "total", "tokens/s") > 0)
        fprintf(f, "\nThe weights read makes the same calls on the same threads but only loads "
                   "every weight and scale once: the ceiling a kernel can reach with this call "
                   "structure, measured in the same rounds; a kernel's share of it is taken round "
                   "by round.");
    fprintf(f, "\nThe sprint hoped for ~0.3 tokens/s. The ceiling is the memory read bandwidth "
               "divided by the weight bytes per token; see the decode plot.\n\n");
}

static void plots(FILE *f, const char *const *files, const char *const *captions)
{
    fprintf(f, "## Plots\n\n");
    for (size_t i = 0; files && files[i]; i++) {
        size_t n = strlen(files[i]);
        if (n < 4 || strcmp(files[i] + n - 4, ".png"))
            continue;
        fprintf(f, "**%s**\n\n![%s](%s)\n\n", captions && captions[i] ? captions[i] : files[i],
                captions && captions[i] ? captions[i] : files[i], files[i]);
        if (files[i + 1] && !strncmp(files[i + 1], files[i], n - 4))
            fprintf(f, "([SVG](%s))\n\n", files[i + 1]);
    }
}

static void limits(FILE *f, const qkperf_results *r, const char *const *skipped)
{
    fprintf(f, "## What could not be measured here and why\n\n");
    if (strcmp(mstr(r, "pmu", "status"), "available"))
        fprintf(f,
                "- Hardware counters (cycles, instructions, L1D misses, uops by port, "
                "top-down): %s. Figures of the `hw` source read n/a; cycles come from the "
                "TSC (an estimate), instructions and misses from callgrind (a simulation), "
                "port pressure from llvm-mca (a model).\n",
                mstr(r, "pmu", "reason"));
    size_t i;
    json_t *note;
    json_array_foreach(r->notes, i, note) fprintf(f, "- %s\n", json_string_value(note));
    for (size_t k = 0; skipped && skipped[k]; k++)
        fprintf(f, "- plot %s\n", skipped[k]);
    fprintf(f, "\n");
}

/* The review's ladder size (config.ladder_sizes), else the largest size. */
static const char *ladder_size(const qkperf_results *r, const char *op, const char **sizes,
                               size_t n)
{
    const char *s =
        json_string_value(json_object_get(json_object_get(r->config, "ladder_sizes"), op));
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(sizes[i], s))
            return sizes[i];
    return n ? sizes[n - 1] : NULL;
}

/* A review of plugins (qkperf review --plugin): config.plugin_ops. */
static size_t plugin_ops(const qkperf_results *r, const char **out, size_t max)
{
    json_t *a = json_object_get(r->config, "plugin_ops");
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(a) && n < max; i++)
        if (json_string_value(json_array_get(a, i)))
            out[n++] = json_string_value(json_array_get(a, i));
    return n;
}

/* The sections of each plugin op, at its ladder size: the review's
 * headline, steps, order, phase and sweep tables for the user's kernels. */
static void plugin_sections(FILE *f, const qkperf_results *r, const char *const *ops, size_t n)
{
    const char *sz[8][32], *ladder[8];
    for (size_t k = 0; k < n; k++)
        ladder[k] = ladder_size(r, ops[k], sz[k], sizes_of(r, ops[k], sz[k], 32));
    fprintf(f, "## The plugins' ops\n\n");
    for (size_t k = 0; k < n; k++)
        if (ladder[k])
            headline(f, r, ops[k], ladder[k], "(a plugin's op, its default size)");
    fprintf(f, "\n");
    for (size_t k = 0; k < n; k++)
        if (ladder[k])
            attribution(f, r, ops[k], ladder[k]);
    for (size_t k = 0; k < n; k++)
        order_check(f, r, ops[k]);
    fprintf(f, "\n");
    hw_section(f, r, ops, ladder, n);
    for (size_t k = 0; k < n; k++)
        if (ladder[k])
            phase_table(f, r, ops[k], ladder[k]);
    for (size_t k = 0; k < n; k++)
        sweep_table(f, r, ops[k]);
}

int qkperf_review_report(FILE *f, const qkperf_results *r, const char *const *files,
                         const char *const *captions, const char *const *skipped)
{
    const char *pops[8];
    size_t npo = plugin_ops(r, pops, 8);
    if (npo) {
        fprintf(f, "# Plugin kernel review\n\nMade by `qkperf review --plugin`. Every figure "
                   "below is a median over samples measured in this one run; the raw samples are "
                   "in [results.json](results.json), what could be counted here is in "
                   "[probe.txt](probe.txt).\n\n");
        machine(f, r);
        sources(f, r);
        plugin_sections(f, r, pops, npo);
        plots(f, files, captions);
        limits(f, r, skipped);
        return 0;
    }
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f,
            "# QK256 sprint review\n\nMade by `qkperf review` on %s. Every figure below is "
            "a median over samples measured in this one run; %s, and what could "
            "be counted here is in [probe.txt](probe.txt).\n\n## Headline\n\n",
            when,
            json_is_true(json_object_get(r->config, "compact"))
                ? "the medians are in [results.json](results.json), trimmed of the raw samples "
                  "(`qkperf review --compact`; `make review` writes the full document)"
                : "the raw samples are in [results.json](results.json) and "
                  "[results.csv](results.csv)");
    headline(f, r, "gemv", "2560x6912", "(BitNet b1.58 2B down projection shape)");
    headline(f, r, "dequantize", "1024", "elements (the sprint's benchmark size)");
    headline(f, r, "gemv-i8", "2560x6912", "(int8 activations, same shape)");
    fprintf(f, "\n");
    machine(f, r);
    sources(f, r);
    fprintf(f, "## What each step changed\n\n");
    const char *dq[32], *gv[32];
    size_t ndq = sizes_of(r, "dequantize", dq, 32), ngv = sizes_of(r, "gemv", gv, 32);
    const char *dq_ladder = ladder_size(r, "dequantize", dq, ndq);
    const char *gv_ladder = ladder_size(r, "gemv", gv, ngv);
    if (dq_ladder)
        attribution(f, r, "dequantize", dq_ladder);
    if (gv_ladder)
        attribution(f, r, "gemv", gv_ladder);
    const char *i8[32];
    size_t ni8 = sizes_of(r, "gemv-i8", i8, 32);
    const char *i8_ladder = ladder_size(r, "gemv-i8", i8, ni8);
    if (i8_ladder)
        attribution(f, r, "gemv-i8", i8_ladder);
    fprintf(f, "## Is every step faster than the one before?\n\nEach variant against the "
               "one before it in ladder order, at every size of the sweep; slower means slower "
               "beyond noise (the interval outside the time band).\n\n");
    order_check(f, r, "dequantize");
    order_check(f, r, "gemv");
    order_check(f, r, "gemv-i8");
    fprintf(f, "\n");
    fprintf(f, "## The sprint's guesses against the measured phases\n\nThe sprint planned "
               "with guessed shares of time per phase (unpack 40%%, LUT 30%%, FMA 15%%, memory "
               "10%%). Measured in context (the share of the fused kernel's own samples "
               "whose code is each phase's, `other` the code in no phase block) and, "
               "second, staged (each phase alone over the whole input):\n\n");
    if (dq_ladder)
        guesses(f, r, "dequantize", dq_ladder);
    if (gv_ladder)
        guesses(f, r, "gemv", gv_ladder);
    const char *hw_ops[] = {"dequantize", "gemv", "gemv-i8"};
    const char *hw_sizes[] = {dq_ladder, gv_ladder, i8_ladder};
    hw_section(f, r, hw_ops, hw_sizes, 3);
    fprintf(f, "## Tables\n\n");
    if (dq_ladder)
        phase_table(f, r, "dequantize", dq_ladder);
    if (gv_ladder)
        phase_table(f, r, "gemv", gv_ladder);
    sweep_table(f, r, "dequantize");
    sweep_table(f, r, "gemv");
    sweep_table(f, r, "gemv-i8");
    decode_section(f, r);
    plots(f, files, captions);
    limits(f, r, skipped);
    return 0;
}
