/*
 * commands.c — the table of qkperf's commands (commands.h), in the order
 * `qkperf --help` lists them.
 */
#include <stddef.h>
#include <string.h>

#include "commands.h"

const qkperf_command qkperf_commands[] = {
    {"probe", qkperf_cmd_probe, "what can be counted on this machine, and why not",
     qkperf_cmd_probe_usage},
    {"list", qkperf_cmd_list, "ops, variants, phases, event groups", qkperf_cmd_list_usage},
    {"run", qkperf_cmd_run, "per-phase table of variants at sizes", qkperf_cmd_run_usage},
    {"ladder", qkperf_cmd_ladder, "which step changed which phase, by how much, is it real",
     qkperf_cmd_ladder_usage},
    {"sweep", qkperf_cmd_sweep, "every variant x size: time, throughput, speedup vs scalar",
     qkperf_cmd_sweep_usage},
    {"compare", qkperf_cmd_compare, "compare two results documents (exit 1 on regression)",
     qkperf_cmd_compare_usage},
    {"calibrate", qkperf_cmd_calibrate, "A/A runs: the run-to-run noise compare --noise uses",
     qkperf_cmd_calibrate_usage},
    {"ab", qkperf_cmd_ab, "two builds side by side in one run: did the change make it faster?",
     qkperf_cmd_ab_usage},
    {"plot", qkperf_cmd_plot, "PNG and SVG plots from a results document", qkperf_cmd_plot_usage},
    {"roofline", qkperf_cmd_roofline, "this machine's bandwidth limits (L1, L2, L3, memory)",
     qkperf_cmd_roofline_usage},
    {"decode", qkperf_cmd_decode,
     "tokens/s of BitNet b1.58 2B4T's linear layers vs memory bandwidth", qkperf_cmd_decode_usage},
    {"review", qkperf_cmd_review, "the sprint review folder: results, plots, REPORT.md",
     qkperf_cmd_review_usage},
    {"measure", qkperf_cmd_measure, "regions of a program marked with <qkperf/marker.h>",
     qkperf_cmd_measure_usage},
    {"record", qkperf_cmd_record, "sample any program built with -g, split by inline frames",
     qkperf_cmd_record_usage},
    {"__sim-child", qkperf_cmd_sim_child, NULL, NULL}, /* run by sim.c under valgrind */
    {NULL, NULL, NULL, NULL},
};

const qkperf_command *qkperf_command_find(const char *name)
{
    for (const qkperf_command *c = qkperf_commands; name && c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}
