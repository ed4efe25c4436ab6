/*
 * program.h — the program a user names after `--` (qkperf measure, qkperf
 * record): found on PATH as execvp would find it, before anything runs, so
 * that "command not found" is one line and nothing is measured.
 */
#ifndef QKPERF_PROGRAM_H
#define QKPERF_PROGRAM_H

#include <stddef.h>

/* The path execvp would run for cmd (cmd itself when it has a '/') into
 * path: 0, or -1 with one line in err ("command not found: CMD",
 * "CMD: not executable"). */
int qkperf_program_find(const char *cmd, char *path, size_t plen, char *err, size_t len);

/* The last component of path, at most cap - 1 bytes of it, into out: the
 * op name of the records of measure and record. */
void qkperf_program_name(const char *path, char *out, size_t cap);

#endif
