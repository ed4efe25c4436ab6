/*
 * cmd_probe.c — `qkperf probe`: what can be counted on this machine, and why
 * not where it cannot (the probe module's report).
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "probe.h"

const char qkperf_cmd_probe_usage[] =
    "usage: qkperf probe\n"
    "What can be counted on this machine (PMU, perf_event, TSC, valgrind,\n"
    "llvm-mca, gnuplot), and why not where it cannot.\n";

int qkperf_cmd_probe(int argc, char **argv)
{
    if (argc > 1)
        return qkperf_usage_error("probe takes no arguments (got '%s')", argv[1]);
    qkperf_probe_t p;
    qkperf_probe(&p);
    qkperf_probe_print(&p, stdout);
    return 0;
}
