/*
 * cmd_review.c — `qkperf review [options]`: the sprint review folder (the
 * review module, review.h). This file holds the options; --source names
 * the sources as the job commands do, tsc, sw and hw always count.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "review.h"

const char qkperf_cmd_review_usage[] =
    "usage: qkperf review [options]\n"
    "The sprint review folder: results, plots and REPORT.md.\n\n"
    "  -o, --output DIR        the folder (default review)\n"
    "      --force             replace what is there\n"
    "      --quick             fewer samples and sizes, quick limits and decode\n"
    "  -n, --samples N         samples per region\n"
    "      --source LIST       counter sources\n"
    "      --no-sim, --no-static, --no-decode\n"
    "      --compact           results.json without raw samples, no CSV, PNG plots only\n"
    "                          (for committing a review: make example-review)\n"
    "      --plugin FILE.so    review the plugin's ops instead of libqk256's (repeatable)\n";

/* --source LIST: tsc, sw and hw always count in a review; sim and static
 * are added when named. 0, or 2 after a usage error. */
static int parse_sources(const char *text, qkperf_review_opts *o)
{
    char *storage, err[512];
    const char *items[QKPERF_MAX_LIST];
    size_t n;
    int rc =
        qkperf_split_list(text, &storage, items, QKPERF_MAX_LIST, &n, "source", err, sizeof err);
    o->sim = o->stat = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!strcmp(items[i], "sim"))
            o->sim = 1;
        else if (!strcmp(items[i], "static"))
            o->stat = 1;
        else if (strcmp(items[i], "tsc") && strcmp(items[i], "sw") && strcmp(items[i], "hw")) {
            snprintf(err, sizeof err, "unknown source '%s' (known: tsc, sw, hw, sim, static)",
                     items[i]);
            rc = -1;
        }
    }
    free(storage);
    return rc ? qkperf_usage_error("%s", err) : 0;
}

/* One option; bad is its text, for the message. 0, or 2 after a usage error. */
static int parse_one(int ch, const char *bad, qkperf_review_opts *o)
{
    char err[256];
    uint64_t n;
    switch (ch) {
    case 'o':
        if (!*optarg)
            return qkperf_usage_error("review: empty output folder: name one");
        o->dir = optarg;
        return 0;
    case 'f':
        o->force = 1;
        return 0;
    case 'Q':
        o->quick = 1;
        o->samples = 5;
        return 0;
    case 'S':
        o->sim = 0;
        return 0;
    case 'M':
        o->stat = 0;
        return 0;
    case 'D':
        o->decode = 0;
        return 0;
    case 'C':
        o->compact = 1;
        return 0;
    case 'X':
        return parse_sources(optarg, o);
    case 'n':
        if (qkperf_parse_u64(optarg, 1, 100000, &n, "sample count", err, sizeof err))
            return qkperf_usage_error("review: %s", err);
        o->samples = (unsigned)n;
        return 0;
    default:
        return qkperf_usage_error("review: unknown option '%s'", bad);
    }
}

static int parse(int argc, char **argv, qkperf_review_opts *o)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"quick", no_argument, NULL, 'Q'},        {"no-sim", no_argument, NULL, 'S'},
        {"no-static", no_argument, NULL, 'M'},    {"samples", required_argument, NULL, 'n'},
        {"no-decode", no_argument, NULL, 'D'},    {"source", required_argument, NULL, 'X'},
        {"compact", no_argument, NULL, 'C'},      {NULL, 0, NULL, 0},
    };
    qkperf_review_opts_default(o);
    int ch, rc;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:n:", opts, NULL)) != -1)
        if ((rc = parse_one(ch, argv[optind - 1], o)))
            return rc;
    if (optind < argc)
        return qkperf_usage_error("review: unexpected argument '%s'", argv[optind]);
    return 0;
}

int qkperf_cmd_review(int argc, char **argv)
{
    qkperf_review_opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    char err[1024];
    if (qkperf_review_dir_ready(&o, err, sizeof err))
        return qkperf_usage_error("%s", err);
    return qkperf_review_run(&o);
}
