/*
 * plot_decode.c — what a decode document looks like to a person: the
 * table `qkperf decode` prints (one row per variant) and the decode plot
 * (plots/decode.gp: tokens/s per variant as bars, the memory-bandwidth
 * ceiling as a line), drawn through the same driver as every other plot.
 * The measuring is decode.c's.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "decode.h"
#include "plot_driver.h"
#include "roofline.h"
#include "stats.h"
#include "table.h"

/* ---- the table --------------------------------------------------------------------- */

/* The median (or with min, the smallest sample) of t's series `metric`. */
static double stat_of(const qkperf_results *r, const qkperf_record *t, const char *metric, int min)
{
    const qkperf_record *x = qkperf_results_find(r, "decode", t->variant, t->size, "total", metric);
    return x && x->counted ? (min ? x->min : x->median) : NAN;
}

/* The bandwidth the fractions were taken against and its thread count:
 * config.memory_read_*, or for documents from before it, the one-thread
 * machine.roofline.mem_read_Bps they used. 0 when there is none. */
static double fraction_base(const qkperf_results *res, int *threads)
{
    json_t *bw = json_object_get(res->config, "memory_read_Bps");
    qkperf_roofline rl = {0};
    char err[256];
    *threads = (int)json_integer_value(json_object_get(res->config, "memory_read_threads"));
    if (json_is_number(bw) && *threads > 0)
        return json_number_value(bw);
    *threads = 1;
    qkperf_roofline_from_json(json_object_get(res->machine, "roofline"), &rl, err, sizeof err);
    return rl.mem_read_Bps;
}

static void print_header(FILE *f, const qkperf_results *res)
{
    json_t *c = res->config;
    double wb = json_number_value(json_object_get(c, "weight_bytes_per_token"));
    long layers = (long)json_integer_value(json_object_get(c, "layers"));
    long long threads = (long long)json_integer_value(json_object_get(c, "threads"));
    json_t *fused = json_object_get(c, "fused");
    fprintf(f,
            "decode: BitNet b1.58 2B4T linear layers, %ld layer%s x 7 matmuls%s, %.1f MB of "
            "weights per token (packed + scales)\n",
            layers, layers == 1 ? "" : "s",
            json_is_true(fused)    ? " in 4 calls (q|k|v, o, gate|up, down)"
            : json_is_false(fused) ? " in 7 calls (--unfused)"
                                   : "",
            wb / 1e6);
    fprintf(f, "        %lld thread%s, %lld tokens per variant after %lld warm-up\n", threads,
            threads == 1 ? "" : "s", (long long)json_integer_value(json_object_get(c, "tokens")),
            (long long)json_integer_value(json_object_get(c, "warmup")));
    int bt;
    double mem_Bps = fraction_base(res, &bt);
    char bw[64];
    qkperf_fmt_value(bw, sizeof bw, mem_Bps > 0 ? mem_Bps : NAN, "B/s");
    long reads = (long)json_integer_value(json_object_get(c, "memory_reads_interleaved"));
    if (reads > 0)
        fprintf(f,
                "        memory read bandwidth %s with %d thread%s (median of %ld reads "
                "interleaved with the tokens; \"of mem BW\" sets each token against the read "
                "after it)",
                bw, bt, bt == 1 ? "" : "s", reads);
    else
        fprintf(f,
                "        memory read bandwidth %s with %d thread%s (qkperf roofline; \"of mem "
                "BW\" is against it)",
                bw, bt, bt == 1 ? "" : "s");
    if (mem_Bps > 0 && wb > 0)
        fprintf(f, ": at most %.1f tokens/s", mem_Bps / wb);
    fprintf(f, "\n\n");
}

/* Each kernel's "of read" with the distribution-free interval of its
 * rounds' median: how far a run's figure can be trusted. */
static void print_read_intervals(FILE *f, const qkperf_results *res)
{
    for (size_t i = 0; i < res->n; i++) {
        const qkperf_record *x = &res->rec[i];
        double lo, hi, cover;
        if (strcmp(x->op, "decode") || strcmp(x->metric, "of weights read") || !x->counted ||
            qkperf_median_interval(x->samples, x->n, 0.95, &lo, &hi, &cover))
            continue;
        fprintf(
            f,
            "of read: %s %.1f %%, %.1f%% interval [%.1f, %.1f] (order statistics of %zu rounds)\n",
            x->variant, 100 * x->median, 100 * cover, 100 * lo, 100 * hi, x->n);
    }
}

void qkperf_decode_print(FILE *f, const qkperf_results *res)
{
    print_header(f, res);
    fprintf(f, "%-24s %12s %12s %12s %14s %12s %9s\n", "variant", "tokens/s", "(slowest)",
            "time/token", "weight B/s", "of mem BW", "of read");
    for (size_t i = 0; i < res->n; i++) {
        const qkperf_record *t = &res->rec[i];
        if (strcmp(t->op, "decode") || strcmp(t->metric, "time"))
            continue;
        char tm[32], bps[32], frac[32];
        qkperf_fmt_value(tm, sizeof tm, stat_of(res, t, "time", 0), "ns");
        qkperf_fmt_value(bps, sizeof bps, stat_of(res, t, "weight B/s", 0), "B/s");
        double fr = stat_of(res, t, "bandwidth fraction", 0);
        snprintf(frac, sizeof frac, isfinite(fr) ? "%.1f %%" : "n/a", 100 * fr);
        double rd = stat_of(res, t, "of weights read", 0);
        char ofr[32];
        snprintf(ofr, sizeof ofr, isfinite(rd) ? "%.1f %%" : "-", 100 * rd);
        fprintf(f, "%-24s %12.2f %12.2f %12s %14s %12s %9s\n", t->variant,
                stat_of(res, t, "tokens/s", 0), stat_of(res, t, "tokens/s", 1), tm, bps, frac, ofr);
    }
    print_read_intervals(f, res);
    int read = 0;
    for (size_t k = 0; k < res->n; k++)
        read |= !strcmp(res->rec[k].op, "decode") &&
                !strcmp(res->rec[k].variant, QKPERF_DECODE_WEIGHTS_READ);
    if (read)
        fprintf(f,
                "(%s: the same calls on the same threads, loading every weight and scale "
                "once and computing nothing; \"of read\" is a kernel's tokens/s over it, "
                "round by round)\n",
                QKPERF_DECODE_WEIGHTS_READ);
    size_t i;
    json_t *note;
    json_array_foreach(res->notes, i, note) fprintf(f, "note: %s\n", json_string_value(note));
}

/* ---- the plot ---------------------------------------------------------------------- */

/* Row per variant: x, variant, kind (0 float, 1 int8, 2 weights read),
 * tokens/s median, slowest and fastest token; `names` receives the
 * variants in row order. 0, or -1 with c->err. */
static int write_csv(qkperf_plot_ctx *c, char *path, qkperf_names *names, double *ymax, double *wb)
{
    const qkperf_results *r = c->r;
    FILE *f = qkperf_plot_open_data(c, "decode", path, PATH_MAX);
    if (!f)
        return -1;
    fprintf(f, "# x,variant,kind,tokens_per_s,slowest,fastest\n");
    for (size_t i = 0; i < r->n && names->n < QKPERF_PLOT_MAX; i++) {
        const qkperf_record *t = &r->rec[i];
        if (strcmp(t->op, "decode") || strcmp(t->metric, "tokens/s") || !t->counted || !t->n)
            continue;
        double hi = t->samples[0];
        for (size_t k = 1; k < t->n; k++)
            hi = fmax(hi, t->samples[k]);
        int kind = !strcmp(t->variant, QKPERF_DECODE_WEIGHTS_READ) ||
                           !strcmp(t->variant, QKPERF_DECODE_NULL_READ)
                       ? 2
                       : !strncmp(t->variant, "gemv-i8/", 8);
        fprintf(f, "%zu,", names->n);
        qkperf_plot_name_field(f, t->variant);
        fprintf(f, ",%d,%.6g,%.6g,%.6g\n", kind, t->median, t->min, hi);
        names->v[names->n++] = t->variant;
        *ymax = fmax(*ymax, hi);
        double w = stat_of(r, t, "weight B/s", 0) / t->median;
        if (isfinite(w) && w > 0)
            *wb = w; /* bytes per token: weight B/s over tokens/s, exactly */
    }
    return qkperf_plot_close_data(c, f, path);
}

static int has_tokens(const qkperf_results *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rec[i].op, "decode") && !strcmp(r->rec[i].metric, "tokens/s") &&
            r->rec[i].counted && r->rec[i].n)
            return 1;
    return 0;
}

static int render_decode(qkperf_plot_ctx *c, const char *csv, const qkperf_names *names,
                         double ymax, double wb)
{
    int bt;
    double mem_Bps = fraction_base(c->r, &bt);
    json_t *cf = c->r->config;
    char title[300];
    snprintf(title, sizeof title,
             "BitNet b1.58 2B4T decode, linear layers: tokens/s by gemv variant "
             "(memory read bandwidth %.1f GB/s with %d thread%s)",
             mem_Bps / 1e9, bt, bt == 1 ? "" : "s");
    qkperf_gp_vars v = {0};
    qkperf_gp_num(&v, "ceiling", mem_Bps > 0 && wb > 0 ? mem_Bps / wb : 0);
    qkperf_gp_num(&v, "bw", mem_Bps / 1e9);
    qkperf_gp_num(&v, "wmb", wb / 1e6);
    qkperf_gp_num(&v, "threads", (double)json_integer_value(json_object_get(cf, "threads")));
    qkperf_gp_num(&v, "layers", (double)json_integer_value(json_object_get(cf, "layers")));
    qkperf_gp_num(&v, "ymax", ymax);
    qkperf_gp_list(&v, "variants", names->v, names->n);
    int rc = qkperf_plot_render(c, "decode", "decode", csv, title, &v,
                                "decode: tokens/s of the linear layers per gemv variant and of "
                                "the weights read (loads only), with the memory-bandwidth "
                                "ceiling");
    qkperf_gp_vars_free(&v);
    return rc;
}

int qkperf_plot_decode(qkperf_plot_ctx *c)
{
    char csv[PATH_MAX];
    qkperf_names names = {.n = 0};
    double ymax = 0, wb = 0;
    if (!has_tokens(c->r))
        return 0;
    return write_csv(c, csv, &names, &ymax, &wb) || render_decode(c, csv, &names, ymax, wb) ? -1
                                                                                            : 0;
}

int qkperf_decode_plot(const qkperf_results *r, const char *dir, char *err, size_t len)
{
    if (!has_tokens(r))
        return snprintf(err, len, "no decode tokens/s records to plot"), -1;
    qkperf_plots made;
    qkperf_plot_ctx c;
    int rc =
        qkperf_plot_ctx_init(&c, r, dir, "decode.gp", &made, err, len) || qkperf_plot_decode(&c)
            ? -1
            : 0;
    qkperf_plots_free(&made);
    return rc;
}
