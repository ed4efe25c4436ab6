/*
 * cmd_roofline.c — `qkperf roofline [--quick] [-o FILE.json]`: measure this
 * machine's bandwidth limits (roofline.h), print the table, and write the
 * JSON object atomically when asked.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "roofline.h"

const char qkperf_cmd_roofline_usage[] =
    "usage: qkperf roofline [--quick] [-o FILE.json]\n"
    "L1 store, L2, L3 and memory read bandwidth (memory also on every CPU).\n";

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "qkperf roofline: %s '%s' (usage: qkperf roofline [--quick] [-o FILE.json])\n",
            what, arg);
    return 2;
}

int qkperf_cmd_roofline(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"quick", no_argument, NULL, 'Q'},
                                         {NULL, 0, NULL, 0}};
    const char *output = NULL;
    int quick = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        if (c == 'o')
            output = optarg;
        else if (c == 'Q')
            quick = 1;
        else
            return usage(qkperf_getopt_why(c, argv[optind - 1]), argv[optind - 1]);
    }
    if (optind < argc)
        return usage("unexpected argument", argv[optind]);
    char err[1024];
    if (output && qkperf_check_writable(output, err, sizeof err)) /* before measuring */
        return fprintf(stderr, "qkperf roofline: %s\n", err), 2;
    qkperf_roofline rl;
    if (qkperf_roofline_measure(&rl, quick)) {
        fprintf(stderr, "qkperf roofline: %s\n", rl.method);
        return 1;
    }
    qkperf_roofline_print(stdout, &rl);
    if (output && qkperf_roofline_write(&rl, output, err, sizeof err))
        return fprintf(stderr, "qkperf roofline: %s\n", err), 1;
    return 0;
}
