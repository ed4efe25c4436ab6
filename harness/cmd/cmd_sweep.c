/*
 * cmd_sweep.c — `qkperf sweep`: every variant at every size; fused time,
 * throughput and speedup vs scalar measured in the same run, the order
 * check (is each variant at least as fast as the one before it, at every
 * size?), then the per-phase times.
 */
#include <stdio.h>
#include <string.h>

#include "attrib.h"
#include "commands.h"
#include "job.h"
#include "table.h"

const char qkperf_cmd_sweep_usage[] =
    "usage: qkperf sweep -k OP [options]\n"
    "Every variant at every size: time, throughput, speedup against scalar, and\n"
    "whether each step is at least as fast as the one before.\n\n" QKPERF_JOB_OPTIONS_HELP;

static double median_of(const qkperf_results *r, const char *op, const char *v, const char *size,
                        const char *phase, const char *metric)
{
    const qkperf_record *x = qkperf_results_find(r, op, v, size, phase, metric);
    return x && x->counted ? x->median : -1.0;
}

static void print_totals(const qkperf_job *j, const qkperf_results *res)
{
    FILE *out = qkperf_job_text(j);
    const char *op = j->op->name;
    fprintf(out,
            "\nsweep %s: fused time per call (median), throughput, speedup vs scalar (same run)\n",
            op);
    fprintf(out, "  %-12s %-20s %12s %16s %9s\n", "size", "variant", "time", "throughput",
            "speedup");
    for (size_t s = 0; s < j->ns; s++) {
        double ref = median_of(res, op, "scalar", j->sizes[s], "total", "time");
        for (size_t i = 0; i < j->nv; i++) {
            const char *v = j->variants[i]->name;
            double t = median_of(res, op, v, j->sizes[s], "total", "time");
            double th = median_of(res, op, v, j->sizes[s], "total", "throughput");
            if (t < 0)
                continue;
            char ts[32], ths[32], sp[16] = "n/a";
            qkperf_fmt_value(ts, sizeof ts, t, "ns");
            qkperf_fmt_value(ths, sizeof ths, th, "elem/s");
            if (ref > 0)
                snprintf(sp, sizeof sp, "%.2fx", ref / t);
            fprintf(out, "  %-12s %-20s %12s %16s %9s\n", i ? "" : j->sizes[s], v, ts, ths, sp);
        }
    }
}

static void print_phases(const qkperf_job *j, const qkperf_results *res)
{
    FILE *out = qkperf_job_text(j);
    const qk_op *op = j->op;
    fprintf(out, "\nper phase, staged (median time per call)\n  %-12s %-20s", "size", "variant");
    for (unsigned p = 0; p < qk_phase_count(op); p++)
        fprintf(out, " %11s", op->phases[p]);
    fprintf(out, " %11s\n", "fused");
    for (size_t s = 0; s < j->ns; s++)
        for (size_t i = 0; i < j->nv; i++) {
            const char *v = j->variants[i]->name;
            if (median_of(res, op->name, v, j->sizes[s], "total", "time") < 0)
                continue;
            fprintf(out, "  %-12s %-20s", i ? "" : j->sizes[s], v);
            for (unsigned p = 0; p <= qk_phase_count(op); p++) {
                const char *ph = p < qk_phase_count(op) ? op->phases[p] : "total";
                double t = median_of(res, op->name, v, j->sizes[s], ph, "time");
                char ts[32] = "-";
                if (t >= 0)
                    qkperf_fmt_value(ts, sizeof ts, t, "ns");
                fprintf(out, " %11s", ts);
            }
            fprintf(out, "\n");
        }
}

/* The variants in the order given (for the built-in list: the ladder),
 * each step at each size on fused time, with the ladder's statistics. */
static int print_order(const qkperf_job *j, const qkperf_results *res)
{
    FILE *out = qkperf_job_text(j);
    const char *names[QKPERF_MAX_LIST];
    for (size_t i = 0; i < j->nv; i++)
        names[i] = j->variants[i]->name;
    qkperf_bands bands;
    qkperf_job_bands(j, &bands);
    qkperf_deltas slower = {0};
    size_t checked;
    if (qkperf_attrib_order(res, j->op->name, (const char *const *)j->sizes, j->ns, names, j->nv,
                            &bands, j->ro.seed, &checked, &slower)) {
        qkperf_deltas_free(&slower);
        fprintf(stderr, "qkperf sweep: out of memory\n");
        return 2;
    }
    if (checked == 0)
        fprintf(out, "\norder: no step has fused times on both sides\n");
    else if (slower.n == 0)
        fprintf(out,
                "\norder: every variant is at least as fast as the one before it at every size "
                "(%zu steps, fused time, band %.1f%%)\n",
                checked, 100 * qkperf_band_for(&bands, "time"));
    else {
        fprintf(out,
                "\norder: %zu of %zu steps slower than the variant before them (fused time):\n",
                slower.n, checked);
        for (size_t i = 0; i < slower.n; i++) {
            const qkperf_delta *d = &slower.d[i];
            fprintf(out, "  %-12s %s -> %s: %+.1f%% [%+.1f, %+.1f]\n", d->size, d->from, d->to,
                    100 * (d->change.ratio - 1), 100 * (d->change.ci_lo - 1),
                    100 * (d->change.ci_hi - 1));
        }
    }
    qkperf_deltas_free(&slower);
    return 0;
}

/* Speedups are only honest against scalar measured in the same run. */
static void ensure_scalar(qkperf_job *j)
{
    for (size_t i = 0; i < j->nv; i++)
        if (!strcmp(j->variants[i]->name, "scalar"))
            return;
    const qk_variant *s = qk_find_variant(j->op->name, "scalar");
    if (!s || j->nv == QKPERF_MAX_LIST)
        return;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    memmove(j->variants + 1, j->variants, j->nv * sizeof j->variants[0]);
    j->variants[0] = s;
    j->nv++;
}

int qkperf_cmd_sweep(int argc, char **argv)
{
    qkperf_job j;
    int rc = qkperf_job_parse(&j, argc, argv, "sweep");
    if (rc)
        return rc;
    ensure_scalar(&j);
    qkperf_results res;
    qkperf_results_init(&res);
    rc = qkperf_job_measure(&j, &res);
    if (rc == 0) {
        print_totals(&j, &res);
        rc = print_order(&j, &res);
    }
    if (rc == 0 && j.ro.staged)
        print_phases(&j, &res);
    return qkperf_job_finish(&j, &res, rc);
}
