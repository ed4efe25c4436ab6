/*
 * fuzz_groups.c — libFuzzer target for the event group file parser
 * (qkperf_group_read) and, through the METRICS section, the formula
 * compiler; every metric of a group that parses is then evaluated, with
 * counts available and with NaN (not counted), as the runner does.
 *
 * Beyond "no crash, no leak": a file that is refused gets one line
 * "path:line: what", and a group that parses has a SHORT line, events and
 * a compiled formula for every metric.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A formula with no number in it, every count NaN (not available): n/a. */
static int all_missing_is_na(const qkperf_group_metric *m, const double *nan_values)
{
    return strpbrk(m->text, "0123456789") != NULL ||
           isnan(qkperf_formula_eval(m->formula, nan_values, NAN));
}

static void check_group(const qkperf_group *g)
{
    if (!g->short_desc || !g->long_desc || g->nevents == 0) {
        fprintf(stderr, "fuzz_groups: group parsed without SHORT, LONG text or events\n");
        abort();
    }
    double *values = malloc(g->nevents * sizeof *values);
    double *nan_values = malloc(g->nevents * sizeof *nan_values);
    for (size_t i = 0; values && nan_values && i < g->nevents; i++) {
        values[i] = (double)(i + 1) * 1e6;
        nan_values[i] = NAN;
    }
    for (size_t i = 0; values && nan_values && i < g->nmetrics; i++) {
        const qkperf_group_metric *m = &g->metrics[i];
        if (!m->formula) {
            fprintf(stderr, "fuzz_groups: metric '%s' parsed without a formula\n", m->name);
            abort();
        }
        (void)qkperf_formula_eval(m->formula, values, 0.001);
        if (!all_missing_is_na(m, nan_values)) {
            fprintf(stderr, "fuzz_groups: '%s' is a number with every count missing\n", m->text);
            abort();
        }
    }
    free(values);
    free(nan_values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[1024] = "";
    FILE *fp = fmemopen((void *)data, size, "r");

    if (!fp)
        return 0; /* fmemopen refuses size 0 */
    qkperf_group *g = qkperf_group_read(fp, "fuzz/FUZZ", "fuzz", "FUZZ", msg, sizeof msg);
    fclose(fp);
    if (g) {
        check_group(g);
        qkperf_group_free(g);
    } else if (strncmp(msg, "fuzz/FUZZ:", 10) != 0 || strchr(msg, '\n')) {
        fprintf(stderr, "fuzz_groups: refusal is not one 'path:line: what' line: '%s'\n", msg);
        abort();
    }
    return 0;
}
