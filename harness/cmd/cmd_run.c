/*
 * cmd_run.c — `qkperf run`: the per-phase table of each variant at each
 * size, and the results document as JSON or CSV.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "job.h"
#include "table.h"

const char qkperf_cmd_run_usage[] =
    "usage: qkperf run -k OP [options]\n"
    "Per-phase table of the variants at the sizes: staged phases and the fused\n"
    "kernel, every figure with its source.\n\n" QKPERF_JOB_OPTIONS_HELP;

static void print_notes(FILE *f, const qkperf_results *res)
{
    size_t i;
    json_t *note;
    json_array_foreach(res->notes, i, note) fprintf(f, "note: %s\n", json_string_value(note));
}

int qkperf_cmd_run(int argc, char **argv)
{
    qkperf_job j;
    int rc = qkperf_job_parse(&j, argc, argv, "run");
    if (rc)
        return rc;
    qkperf_results res;
    qkperf_results_init(&res);
    rc = qkperf_job_measure(&j, &res);
    /* With the document alone on stdout, run prints no tables. */
    int doc_to_stdout = !j.output && strcmp(j.format, "table") != 0;
    FILE *t = qkperf_job_text(&j);
    for (size_t s = 0; rc == 0 && !doc_to_stdout && s < j.ns; s++)
        for (size_t i = 0; i < j.nv; i++)
            if (qk_variant_runnable(j.variants[i]))
                qkperf_print_variant(t, &res, j.op, j.variants[i]->name, j.sizes[s]);
    if (rc == 0 && !doc_to_stdout)
        print_notes(t, &res);
    return qkperf_job_finish(&j, &res, rc);
}
