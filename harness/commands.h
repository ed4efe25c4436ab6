/*
 * commands.h — the subcommands of qkperf, one function each.
 */
#ifndef QKPERF_COMMANDS_H
#define QKPERF_COMMANDS_H

#include "cli.h"

int qkperf_cmd_run(int argc, char **argv);
int qkperf_cmd_ladder(int argc, char **argv);
int qkperf_cmd_sweep(int argc, char **argv);
int qkperf_cmd_compare(int argc, char **argv);

#endif
