/*
 * commands.h — the subcommands of qkperf, one function each.
 */
#ifndef QKPERF_COMMANDS_H
#define QKPERF_COMMANDS_H

int qkperf_usage_error(const char *fmt, const char *a, const char *b);
int qkperf_cmd_run(int argc, char **argv);

#endif
