/*
 * cmd_ab.c — `qkperf ab OLD.so NEW.so -k OP [-v ...] [-s ...]`: two
 * builds of libqk256 loaded side by side in this process (libload.h),
 * their variants sampled interleaved, and per phase and fused the change
 * from OLD to NEW with its interval and verdict, the family of records
 * under Holm (or --fdr). What a developer asks after an edit: did it make
 * it faster? Exit 0: no change; 1: a change (regressed or improved);
 * 2: bad input (a library that is not a libqk256 build, or lacks a
 * variant, a bad option), nothing written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "cli.h"
#include "commands.h"
#include "job.h"
#include "libload.h"

const char qkperf_cmd_ab_usage[] =
    "usage: qkperf ab OLD.so NEW.so -k OP [options]\n"
    "Both builds in one process, sampled interleaved (5 processes unless --runs K);\n"
    "per phase and fused the change OLD -> NEW with intervals and verdicts (Holm over\n"
    "the records). Exit 0 no change, 1 change, 2 bad input. Default --source tsc;\n"
    "with tsc alone the metric is time.\n\n"
    "      --fdr               Benjamini-Hochberg (false discovery rate) instead of "
    "Holm\n" QKPERF_JOB_OPTIONS_HELP;

/* The records of one side, NAME:variant renamed variant. */
static int side(const qkperf_results *all, const char *name, qkperf_results *out)
{
    size_t n = strlen(name);
    qkperf_results_init(out);
    json_object_update(out->machine, all->machine);
    json_object_update(out->config, all->config);
    for (size_t i = 0; i < all->n; i++) {
        qkperf_record x = all->rec[i];
        if (qkperf_lib_prefix(x.variant) != n || strncmp(x.variant, name, n))
            continue;
        memmove(x.variant, x.variant + n + 1, strlen(x.variant + n + 1) + 1);
        if (qkperf_results_add(out, &x))
            return -1;
    }
    return 0;
}

/* Only tsc: its time is the measure; the other tsc metrics derive from it. */
static int tsc_only(const qkperf_job *j)
{
    return j->hw_off && !j->ro.sw && !j->ro.sample && !j->use_sim && !j->use_static;
}

static int compare_sides(qkperf_job *j, const qkperf_results *res, const char *a, const char *b,
                         int fdr)
{
    qkperf_results old, new_;
    char err[1024];
    if (side(res, "old", &old) || side(res, "new", &new_)) {
        fprintf(stderr, "qkperf: out of memory\n");
        return 1;
    }
    qkperf_compare_opts o;
    qkperf_compare_opts_init(&o);
    qkperf_job_bands(j, &o.bands);
    o.adjust = fdr ? QKPERF_ADJUST_BH : QKPERF_ADJUST_HOLM;
    o.verbose = 1;
    o.same_process = 1;
    o.only_metric = tsc_only(j) ? "time" : NULL;
    int improved = 0;
    o.improved = &improved;
    FILE *t = qkperf_job_text(j);
    fprintf(t, "A/B: old = %s, new = %s, interleaved in each process\n", a, b);
    int n = qkperf_compare_print(t, &old, &new_, &o, "old", "new", err, sizeof err);
    if (n < 0)
        fprintf(stderr, "qkperf: %s\n", err);
    qkperf_results_free(&old);
    qkperf_results_free(&new_);
    return n < 0 ? 2 : n > 0 || improved > 0;
}

int qkperf_cmd_ab(int argc, char **argv)
{
    /* ab OLD NEW [options], or (a --runs child) ab --lib old=.. --lib new=.. [options] */
    int direct = argc >= 3 && argv[1][0] != '-' && argv[2][0] != '-';
    if (!direct && !(argc >= 2 && !strcmp(argv[1], "--lib")))
        return qkperf_usage_error("usage: qkperf ab OLD.so NEW.so -k OP [-v LIST] [-s LIST]");
    int fdr = 0;
    char **args = calloc((size_t)argc + 8, sizeof *args);
    char *olds = NULL, *news = NULL;
    if (!args)
        return 1;
    int n = 0;
    args[n++] = argv[0];
    if (direct) {
        olds = malloc(strlen(argv[1]) + 5);
        news = malloc(strlen(argv[2]) + 5);
        if (!olds || !news) {
            free(args);
            free(olds);
            free(news);
            return 1;
        }
        sprintf(olds, "old=%s", argv[1]);
        sprintf(news, "new=%s", argv[2]);
        args[n++] = (char *)"--lib";
        args[n++] = olds;
        args[n++] = (char *)"--lib";
        args[n++] = news;
    }
    args[n++] = (char *)"--source";
    args[n++] = (char *)"tsc";
    for (int i = direct ? 3 : 1; i < argc; i++)
        if (!strcmp(argv[i], "--fdr"))
            fdr = 1;
        else
            args[n++] = argv[i];
    qkperf_job j;
    int rc = qkperf_job_parse(&j, n, args, "ab");
    if (rc == 0) {
        /* this build's own variants are not measured: only old:V and new:V */
        size_t k = 0;
        for (size_t i = 0; i < j.nv; i++)
            if (qkperf_lib_prefix(j.variants[i]->name))
                j.variants[k++] = j.variants[i];
        j.nv = k;
        if (j.rounds < 9 && j.ro.samples >= 9) /* interleave finely */
            j.rounds = 9;
        j.alternate = 1;
        /* Each process places the two builds at other addresses (ASLR),
         * which moves a variant by several percent for the life of the
         * process: by default five processes, so the intervals carry it
         * (with three, a +10% unpack was found in 15 of 20 A/Bs; with
         * five in 38 of 40: docs/performance.md). */
        if (j.runs == 0)
            j.runs = 5;
        qkperf_results res;
        qkperf_results_init(&res);
        int m = qkperf_job_measure(&j, &res);
        int c =
            m ? m
              : compare_sides(&j, &res, direct ? argv[1] : "old", direct ? argv[2] : "new", fdr);
        int frc = qkperf_job_finish(&j, &res, m ? m : c == 2 ? 2 : 0);
        rc = m ? m : c == 2 ? 2 : frc ? frc : c;
    }
    free(args);
    free(olds);
    free(news);
    return rc;
}
