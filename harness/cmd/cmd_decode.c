/*
 * cmd_decode.c — `qkperf decode`: tokens/s of BitNet b1.58 2B4T's linear
 * layers against the memory read bandwidth (the decode module, decode.h),
 * the table on stdout and the results document with -o.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "decode.h"
#include "plot.h"

const char qkperf_cmd_decode_usage[] =
    "usage: qkperf decode [options]\n"
    "Tokens/s of BitNet b1.58 2B4T's linear layers against the memory read\n"
    "bandwidth and against a weights read (loads only, the same calls).\n\n"
    "  -v, --variant LIST      OP/NAME, comma-separated, or all\n"
    "                          (default: the library's choice for gemv and gemv-i8,\n"
    "                          and gemv-i8/repacked: the weights repacked once)\n"
    "  -t, --threads N         threads (default: every CPU)\n"
    "      --tokens N          timed tokens per variant (default 5)\n"
    "      --layers N          1..30 (default 30)\n"
    "      --seed N            weights seed (default 1)\n"
    "      --quick             4 layers, quick memory reads\n"
    "      --unfused           one call per matrix (default: q|k|v and gate|up\n"
    "                          as one call each, 4 calls per layer)\n"
    "      --null              also time the weights read in a kernel's place: its\n"
    "                          \"of read\" is the run's noise floor\n"
    "  -o, --output FILE.json  write the results document\n";

enum { OPT_TOKENS = 256, OPT_LAYERS, OPT_SEED, OPT_QUICK, OPT_UNFUSED, OPT_NULL };

static int parse_opt(int c, qkperf_decode_opts *o, const char **out, int *layers_set, char *err,
                     size_t len)
{
    uint64_t u;
    switch (c) {
    case 'v':
        o->variants = optarg;
        return 0;
    case 't':
        if (qkperf_parse_u64(optarg, 0, 256, &u, "thread count (0 = every CPU)", err, len))
            return -1;
        o->threads = (int)u;
        return 0;
    case OPT_TOKENS:
        if (qkperf_parse_u64(optarg, 1, 100000, &u, "token count", err, len))
            return -1;
        o->tokens = (unsigned)u;
        return 0;
    case OPT_LAYERS:
        if (qkperf_parse_u64(optarg, 1, QKPERF_DECODE_LAYERS, &u, "layer count", err, len))
            return -1;
        o->layers = (unsigned)u;
        *layers_set = 1;
        return 0;
    case OPT_SEED:
        return qkperf_parse_u64(optarg, 0, UINT64_MAX, &o->seed, "seed", err, len);
    case OPT_QUICK:
        o->quick = 1;
        return 0;
    case OPT_UNFUSED:
        o->unfused = 1;
        return 0;
    case OPT_NULL:
        o->null_read = 1;
        return 0;
    case 'o':
        *out = optarg;
        return 0;
    default:
        return snprintf(err, len, "unknown option"), -1;
    }
}

static int decode_parse(int argc, char **argv, qkperf_decode_opts *o, const char **out)
{
    static const struct option opts[] = {{"variant", required_argument, NULL, 'v'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"tokens", required_argument, NULL, OPT_TOKENS},
                                         {"layers", required_argument, NULL, OPT_LAYERS},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"output", required_argument, NULL, 'o'},
                                         {"quick", no_argument, NULL, OPT_QUICK},
                                         {"unfused", no_argument, NULL, OPT_UNFUSED},
                                         {"null", no_argument, NULL, OPT_NULL},
                                         {NULL, 0, NULL, 0}};
    char err[1024];
    int c, layers_set = 0, tokens_set = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":v:t:o:", opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return fprintf(stderr, "qkperf decode: %s '%s' (see man qkperf)\n",
                           qkperf_getopt_why(c, argv[optind - 1]), argv[optind - 1]),
                   2;
        tokens_set |= c == OPT_TOKENS;
        if (parse_opt(c, o, out, &layers_set, err, sizeof err))
            return fprintf(stderr, "qkperf decode: %s\n", err), 2;
    }
    if (optind < argc)
        return fprintf(stderr, "qkperf decode: unexpected argument '%s'\n", argv[optind]), 2;
    if (o->quick && !layers_set)
        o->layers = 4;
    if (o->quick && !tokens_set)
        o->tokens = 2;
    if (*out && qkperf_check_writable(*out, err, sizeof err))
        return fprintf(stderr, "qkperf decode: %s\n", err), 2;
    return 0;
}

int qkperf_cmd_decode(int argc, char **argv)
{
    qkperf_decode_opts o;
    const char *out = NULL;
    qkperf_decode_opts_default(&o);
    int rc = decode_parse(argc, argv, &o, &out);
    if (rc)
        return rc;
    qkperf_results res;
    qkperf_results_init(&res);
    char err[2048];
    rc = qkperf_decode_measure(&o, &res, err, sizeof err);
    if (rc)
        fprintf(stderr, "qkperf decode: %s\n", err);
    else
        qkperf_decode_print(stdout, &res);
    if (rc == 0 && out && qkperf_results_write_json(&res, out, err, sizeof err)) {
        fprintf(stderr, "qkperf decode: %s\n", err);
        rc = 1;
    }
    qkperf_results_free(&res);
    return rc;
}
