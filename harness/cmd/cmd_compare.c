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
    "      --noise FILE           calibrated run-to-run noise (qkperf calibrate); by\n"
    "                             default OLD's own run data when it has some\n"
    "      --fdr                  control the false discovery rate (Benjamini-Hochberg)\n"
    "                             instead of the family-wise error (Holm, the default)\n"
    "      --verbose              list unchanged records too\n";

enum { OPT_BAND = 256, OPT_METRIC, OPT_RELATIVE, OPT_VERBOSE, OPT_PHASE, OPT_NOISE, OPT_FDR };

/* --noise FILE: a document with run data, relative like the pair. 0 or 2. */
static int load_noise(const char *path, const char *rel, qkperf_results *noise)
{
    char err[1024];
    qkperf_results raw;
    if (qkperf_results_read_json(&raw, path, err, sizeof err)) {
        fprintf(stderr, "qkperf: --noise: %s\n", err);
        return 2;
    }
    size_t with_runs = 0;
    for (size_t i = 0; i < raw.n; i++)
        with_runs += raw.rec[i].nruns > 1;
    if (!with_runs) {
        qkperf_results_free(&raw);
        fprintf(stderr,
                "qkperf: --noise %s has no run-to-run data: make it with qkperf calibrate "
                "(or run --runs K)\n",
                path);
        return 2;
    }
    if (!rel) {
        *noise = raw;
        return 0;
    }
    int bad = qkperf_results_relative(&raw, rel, noise);
    qkperf_results_free(&raw);
    if (bad) {
        fprintf(stderr, "qkperf: out of memory reading %s\n", path);
        return 2;
    }
    return 0;
}

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
        {"noise", required_argument, NULL, OPT_NOISE},
        {"fdr", no_argument, NULL, OPT_FDR},
        {NULL, 0, NULL, 0},
    };
    qkperf_compare_opts o;
    qkperf_compare_opts_init(&o);
    const char *rel = NULL, *noise_path = NULL;
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
        if (c == OPT_NOISE)
            noise_path = optarg;
        if (c == OPT_FDR)
            o.adjust = QKPERF_ADJUST_BH;
        if (c == '?')
            return qkperf_usage_error("compare: unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 2)
        return qkperf_usage_error("usage: qkperf compare [--band K=F,...] [--metric M] "
                                  "[--phase P] [--relative-to VARIANT] [--noise FILE] [--fdr] "
                                  "OLD.json NEW.json");
    qkperf_results old, new_, noise;
    int rc = load_pair(argv[optind], argv[optind + 1], rel, &old, &new_);
    if (rc)
        return rc;
    if (noise_path && (rc = load_noise(noise_path, rel, &noise))) {
        qkperf_results_free(&old);
        qkperf_results_free(&new_);
        return rc;
    }
    if (noise_path) {
        o.noise = &noise;
        o.noise_name = noise_path;
    }
    int n = qkperf_compare_print(stdout, &old, &new_, &o, argv[optind], argv[optind + 1], err,
                                 sizeof err);
    if (n < 0)
        fprintf(stderr, "qkperf: %s\n", err);
    qkperf_results_free(&old);
    qkperf_results_free(&new_);
    if (noise_path)
        qkperf_results_free(&noise);
    return n < 0 ? 2 : n > 0;
}
