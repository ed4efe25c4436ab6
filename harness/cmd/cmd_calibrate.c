/*
 * cmd_calibrate.c — `qkperf calibrate -k OP [...] [--runs K] -o FILE`:
 * K fresh runs of the same build (an A/A series) and, per record, the
 * observed run-to-run spread of its median. FILE is a results document
 * with run data; `compare --noise FILE` turns each spread into the
 * record's calibrated band.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "baseline.h"
#include "commands.h"
#include "job.h"

const char qkperf_cmd_calibrate_usage[] =
    "usage: qkperf calibrate -k OP [options] [--runs K] -o FILE.json\n"
    "K fresh runs of this build (default 8); per record the spread of the per-run\n"
    "medians and the band compare --noise FILE gives two one-run "
    "documents.\n\n" QKPERF_JOB_OPTIONS_HELP;

static void print_spreads(FILE *f, const qkperf_results *res)
{
    fprintf(f, "%-10s %-18s %-8s %-8s %-10s %-12s %-6s %4s %8s %9s\n", "op", "variant", "size",
            "phase", "view", "metric", "source", "runs", "spread", "band 1:1");
    for (size_t i = 0; i < res->n; i++) {
        const qkperf_record *x = &res->rec[i];
        double s = qkperf_record_run_spread(x);
        if (!isfinite(s))
            continue;
        fprintf(f, "%-10s %-18s %-8s %-8s %-10s %-12s %-6s %4zu %7.2f%% %8.2f%%\n", x->op,
                x->variant, x->size, x->phase, x->view, x->metric, x->source, x->nruns, s * 100,
                qkperf_noise_band(res, x, 1, 1) * 100);
    }
    fprintf(f, "spread: sd of the log of the per-run medians; band 1:1: the calibrated band of "
               "a compare of two one-run documents, exp(2 s sqrt(2)) - 1\n");
}

int qkperf_cmd_calibrate(int argc, char **argv)
{
    qkperf_job j;
    int rc = qkperf_job_parse(&j, argc, argv, "calibrate");
    if (rc)
        return rc;
    if (!j.output || strcmp(j.format, "json")) {
        qkperf_job_free(&j);
        return qkperf_usage_error("calibrate: give -o FILE.json, the noise document");
    }
    if (j.runs < 2)
        j.runs = 8;
    qkperf_results res;
    qkperf_results_init(&res);
    rc = qkperf_job_measure(&j, &res);
    if (rc == 0)
        print_spreads(stdout, &res);
    return qkperf_job_finish(&j, &res, rc);
}
