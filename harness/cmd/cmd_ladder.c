/*
 * cmd_ladder.c — `qkperf ladder`: run every variant (ladder order, or the
 * -v list) and print, step by step, what changed in each phase: before,
 * after, ratio with its 95% bootstrap interval, and a verdict.
 */
#include <stdio.h>
#include <string.h>

#include "attrib.h"
#include "cli.h"
#include "commands.h"
#include "job.h"
#include "table.h"

const char qkperf_cmd_ladder_usage[] =
    "usage: qkperf ladder -k OP [options]\n"
    "Each variant against the one before it: which phase changed, by how much,\n"
    "with a 95% interval and a verdict.\n\n" QKPERF_JOB_OPTIONS_HELP;

/* Metrics shown in the step tables: the ones that say something the shown
 * ones do not (cycles-est and task-clock are time in other units; raw Ir is
 * Ir/elem times the size; per-port pressures are in the JSON and the ports
 * plot). Rows that are zero on both sides say nothing either. */
static int shown(const qkperf_delta *d)
{
    static const char *const hidden[] = {"cycles-est",
                                         "task-clock",
                                         "page-faults",
                                         "context-switches",
                                         "cpu-migrations",
                                         "throughput",
                                         "bandwidth",
                                         "Ir",
                                         "Dr",
                                         "Dw",
                                         "D1mw",
                                         "DLmw",
                                         "uops/iter",
                                         "IPC",
                                         "rthroughput"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        if (!strcmp(d->metric, hidden[i]))
            return 0;
    return strncmp(d->metric, "port ", 5) != 0 && (d->before != 0 || d->after != 0);
}

/* In context: the in-context time of each phase and other, and the exact
 * sim counts of the fused kernel by phase; shares and sample counts are in
 * the document (the time says the same, in the kernel's units). */
static int shown_in_context(const qkperf_delta *d)
{
    static const char *const metrics[] = {"time", "Ir", "D1mr", "DLmr"};
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (!strcmp(d->metric, metrics[i]))
            return d->before != 0 || d->after != 0;
    return 0;
}

static void print_rows(FILE *out, const qkperf_deltas *ds, const qk_variant *from,
                       const qk_variant *to, const char *view)
{
    for (size_t i = 0; i < ds->n; i++) {
        const qkperf_delta *d = &ds->d[i];
        if (strcmp(d->from, from->name) || strcmp(d->to, to->name) || strcmp(d->view, view) ||
            !(strcmp(view, QKPERF_VIEW_IN_CONTEXT) ? shown(d) : shown_in_context(d)))
            continue;
        char b[32], a[32], ch[16] = "n/a", ci[40] = "";
        qkperf_fmt_value(b, sizeof b, d->before, d->unit);
        qkperf_fmt_value(a, sizeof a, d->after, d->unit);
        if (d->change.ratio_defined) {
            snprintf(ch, sizeof ch, "%+.1f%%", (d->change.ratio - 1) * 100);
            snprintf(ci, sizeof ci, "[%+.1f, %+.1f]", (d->change.ci_lo - 1) * 100,
                     (d->change.ci_hi - 1) * 100);
        }
        fprintf(out, "  %-8s %-16s %12s %12s %8s %18s  %s (%s, band %.1f%%)\n", d->phase, d->metric,
                b, a, ch, ci, qkperf_verdict_name(d->verdict), d->source, d->band * 100);
    }
}

static int has_view(const qkperf_deltas *ds, const qk_variant *from, const qk_variant *to,
                    const char *view)
{
    for (size_t i = 0; i < ds->n; i++)
        if (!strcmp(ds->d[i].from, from->name) && !strcmp(ds->d[i].to, to->name) &&
            !strcmp(ds->d[i].view, view))
            return 1;
    return 0;
}

#define ROW_HEADER "  %-8s %-16s %12s %12s %8s %18s  %s\n"

/* A step: the in-context view first (what the step changed inside the real
 * kernel), with the fused totals; then the staged view, labelled, as the
 * second table. */
static void print_step(FILE *out, const qkperf_deltas *ds, const qk_variant *from,
                       const qk_variant *to, int adjacent)
{
    /* a variant skipped in between (this CPU cannot run it) makes the step
     * span several rungs: the last rung's summary alone would mislead */
    fprintf(out, "\nstep %s -> %s: %s%s\n", from->name, to->name,
            adjacent ? "" : "(spans skipped variants) ", to->summary ? to->summary : "");
    char line[1024];
    if (has_view(ds, from, to, QKPERF_VIEW_IN_CONTEXT)) {
        fprintf(out, "  in context: the fused kernel by phase (time = share of its samples x its "
                     "time; Ir, misses: sim)\n");
        fprintf(out, ROW_HEADER, "phase", "metric", "before", "after", "change", "95% CI",
                "verdict");
        print_rows(out, ds, from, to, QKPERF_VIEW_IN_CONTEXT);
        print_rows(out, ds, from, to, QKPERF_VIEW_FUSED);
        qkperf_attrib_summary_in_context(ds, from->name, to->name, line, sizeof line);
        fprintf(out, "  summary: %s\n", line);
        fprintf(out, "  staged: each phase alone over the whole input (a different program)\n");
    }
    fprintf(out, ROW_HEADER, "phase", "metric", "before", "after", "change", "95% CI", "verdict");
    print_rows(out, ds, from, to, QKPERF_VIEW_STAGED);
    if (!has_view(ds, from, to, QKPERF_VIEW_IN_CONTEXT))
        print_rows(out, ds, from, to, QKPERF_VIEW_FUSED);
    qkperf_attrib_summary(ds, from->name, to->name, "time", line, sizeof line);
    fprintf(out, "  summary%s: %s\n",
            has_view(ds, from, to, QKPERF_VIEW_IN_CONTEXT) ? " (staged)" : "", line);
}

static int adjacent(const qkperf_job *j, const qk_variant *a, const qk_variant *b)
{
    for (size_t i = 0; i + 1 < j->nv; i++)
        if (j->variants[i] == a)
            return j->variants[i + 1] == b;
    return 0;
}

static const qk_variant *job_variant(const qkperf_job *j, const char *name)
{
    for (size_t i = 0; i < j->nv; i++)
        if (!strcmp(j->variants[i]->name, name))
            return j->variants[i];
    return NULL;
}

/* The steps from the document's own attribution (the variants with a fused
 * time, in the order run, the bands and seed recorded in config), as plot
 * and review compute it. */
static int print_ladder(const qkperf_job *j, const qkperf_results *res, const char *size)
{
    qkperf_attrib_doc a;
    const qk_variant *vs[QKPERF_ATTRIB_MAX] = {NULL};
    if (qkperf_attrib_document(res, j->op->name, size, &a)) {
        qkperf_attrib_doc_free(&a);
        fprintf(stderr, "qkperf: out of memory in attribution\n");
        return 1;
    }
    for (size_t k = 0; k < a.nv; k++)
        if (!(vs[k] = job_variant(j, a.variants[k]))) {
            fprintf(stderr, "qkperf: the results hold variant %s, which this ladder did not run\n",
                    a.variants[k]);
            qkperf_attrib_doc_free(&a);
            return 1;
        }
    FILE *out = qkperf_job_text(j);
    fprintf(out, "\nladder %s %s: %zu variants, %u samples each, seed %llu\n", j->op->name, size,
            a.nv, j->ro.samples, (unsigned long long)a.seed);
    for (size_t k = 0; k + 1 < a.nv && k + 1 < QKPERF_ATTRIB_MAX; k++)
        if (vs[k] && vs[k + 1]) /* all set above; says so to the analyzer */
            print_step(out, &a.ds, vs[k], vs[k + 1], adjacent(j, vs[k], vs[k + 1]));
    qkperf_attrib_doc_free(&a);
    return 0;
}

int qkperf_cmd_ladder(int argc, char **argv)
{
    qkperf_job j;
    int rc = qkperf_job_parse(&j, argc, argv, "ladder");
    if (rc)
        return rc;
    if (j.nv < 2) {
        qkperf_job_free(&j);
        return qkperf_usage_error("ladder needs at least two variants (got %s)",
                                  j.variants[0]->name);
    }
    qkperf_results res;
    qkperf_results_init(&res);
    rc = qkperf_job_measure(&j, &res);
    for (size_t s = 0; rc == 0 && s < j.ns; s++)
        rc = print_ladder(&j, &res, j.sizes[s]);
    return qkperf_job_finish(&j, &res, rc);
}
