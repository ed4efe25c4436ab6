/*
 * cmd_compare.c — `qkperf compare OLD.json NEW.json`: per-record changes
 * with the attribution statistics. Exit 0: nothing regressed; 1: something
 * regressed (listed with by how much); 2: usage or input error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "baseline.h"
#include "cli.h"
#include "commands.h"

const char qkperf_cmd_compare_usage[] =
    "usage: qkperf compare [options] OLD.json NEW.json\n"
    "Record by record; exit 0 nothing regressed, 1 regressed, 2 bad input.\n\n"
    "      --relative-to VARIANT  divide each record by that variant's median first\n"
    "      --metric NAME          only this metric\n"
    "      --phase NAME           only this phase\n"
    "      --band KIND=F,...      noise bands\n"
    "      --verbose              list unchanged records too\n";

enum { OPT_BAND = 256, OPT_METRIC, OPT_RELATIVE, OPT_VERBOSE, OPT_PHASE };

static int load_pair(const char *a, const char *b, const char *rel, qkperf_results *old,
                     qkperf_results *new_)
{
    char err[1024];
    qkperf_results ra, rb;
    if (qkperf_results_read_json(&ra, a, err, sizeof err)) {
        fprintf(stderr, "qkperf: %s\n", err);
        return 2;
    }
    if (qkperf_results_read_json(&rb, b, err, sizeof err)) {
        fprintf(stderr, "qkperf: %s\n", err);
        qkperf_results_free(&ra);
        return 2;
    }
    if (!rel) {
        *old = ra;
        *new_ = rb;
        return 0;
    }
    int bad = qkperf_results_relative(&ra, rel, old) || qkperf_results_relative(&rb, rel, new_);
    qkperf_results_free(&ra);
    qkperf_results_free(&rb);
    if (bad || old->n == 0) {
        fprintf(stderr, "qkperf: %s has no records of variant '%s' to be relative to\n", a, rel);
        return 2;
    }
    return 0;
}

int qkperf_cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"band", required_argument, NULL, OPT_BAND},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"relative-to", required_argument, NULL, OPT_RELATIVE},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"phase", required_argument, NULL, OPT_PHASE},
        {NULL, 0, NULL, 0},
    };
    qkperf_compare_opts o = {.seed = QKPERF_DEFAULT_SEED};
    qkperf_bands_default(&o.bands);
    const char *rel = NULL;
    char err[1024];
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == OPT_BAND && qkperf_bands_parse(&o.bands, optarg, err, sizeof err))
            return qkperf_usage_error("%s", err);
        if (c == OPT_METRIC)
            o.only_metric = optarg;
        if (c == OPT_PHASE)
            o.only_phase = optarg;
        if (c == OPT_RELATIVE)
            rel = optarg;
        if (c == OPT_VERBOSE)
            o.verbose = 1;
        if (c == '?')
            return qkperf_usage_error("compare: unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 2)
        return qkperf_usage_error("usage: qkperf compare [--band K=F,...] [--metric M] "
                                  "[--phase P] [--relative-to VARIANT] OLD.json NEW.json");
    qkperf_results old, new_;
    int rc = load_pair(argv[optind], argv[optind + 1], rel, &old, &new_);
    if (rc)
        return rc;
    int n = qkperf_compare_print(stdout, &old, &new_, &o, argv[optind], argv[optind + 1], err,
                                 sizeof err);
    if (n < 0)
        fprintf(stderr, "qkperf: %s\n", err);
    qkperf_results_free(&old);
    qkperf_results_free(&new_);
    return n < 0 ? 2 : n > 0;
}
