/*
 * cmd_sim_child.c — `qkperf __sim-child --op OP --variant V --size S --seed N
 * [--no-staged]`: the sim source's child, which qkperf starts under
 * callgrind (sim.c); the measuring is qkperf_sim_child_run's. Internal:
 * not listed by `qkperf --help`, and no help of its own.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sim.h"

typedef struct sim_child_opts {
    const qk_op *op;
    const char *variant, *size;
    uint64_t seed;
    int staged;
} sim_child_opts;

static int sim_child_parse(int argc, char **argv, sim_child_opts *o, char *err, size_t len)
{
    static const struct option opts[] = {
        {"op", required_argument, NULL, 'k'},   {"variant", required_argument, NULL, 'v'},
        {"size", required_argument, NULL, 's'}, {"seed", required_argument, NULL, 'r'},
        {"no-staged", no_argument, NULL, 'n'},  {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->staged = 1;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'k' && !(o->op = qkperf_find_op(optarg, err, len)))
            return -1;
        if (c == 'r' && qkperf_parse_u64(optarg, 0, UINT64_MAX, &o->seed, "seed", err, len))
            return -1;
        if (c == '?' || c == ':')
            return snprintf(err, len, "bad or incomplete option '%s'", argv[optind - 1]), -1;
        o->variant = c == 'v' ? optarg : o->variant;
        o->size = c == 's' ? optarg : o->size;
        o->staged = c == 'n' ? 0 : o->staged;
    }
    if (optind < argc)
        return snprintf(err, len, "unexpected argument '%s'", argv[optind]), -1;
    if (!o->op || !o->variant || !o->size)
        return snprintf(err, len, "--op, --variant and --size are required"), -1;
    return 0;
}

int qkperf_cmd_sim_child(int argc, char **argv)
{
    char err[512];
    sim_child_opts o;
    size_t dim[QK_MAX_DIMS];
    if (sim_child_parse(argc, argv, &o, err, sizeof err) ||
        qkperf_parse_size(o.op, o.size, dim, err, sizeof err)) {
        fprintf(stderr, "qkperf __sim-child: %s\n", err);
        return 2;
    }
    return qkperf_sim_child_run(o.op, o.variant, o.size, dim, o.seed, o.staged);
}
