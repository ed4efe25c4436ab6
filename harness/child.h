/*
 * child.h — running an external tool (gnuplot, llvm-mca, valgrind) as a
 * child: its output streams into files, a wait that cannot be mistaken for
 * success, and the first line of a log worth putting in an error message.
 * Shared by plot.c, mca.c and sim.c so each has one correct copy.
 */
#ifndef QKPERF_CHILD_H
#define QKPERF_CHILD_H

#include <stddef.h>

/* What qkperf_child_run could not do. */
enum { QKPERF_CHILD_IO = -1, QKPERF_CHILD_EXEC = -2, QKPERF_CHILD_WAIT = -3 };

/* Run file with argv (file is looked up on PATH when it has no '/'),
 * stdin from /dev/null, stdout into out_path and stderr into err_path
 * (each created or truncated; NULL: /dev/null; the same path twice: one
 * file for both), and wait for it. 0 with its wait status in *status; or
 * one line in err, errno set, and QKPERF_CHILD_IO (a redirection file
 * cannot be opened: "cannot write LOG: ..."), QKPERF_CHILD_EXEC (the file
 * cannot be executed: "cannot execute FILE: ...", errno ENOENT when it is
 * not there) or QKPERF_CHILD_WAIT (waitpid failed other than by EINTR:
 * "waiting for FILE: ..."; the child's outcome is unknown). */
int qkperf_child_run(const char *file, char *const argv[], const char *out_path,
                     const char *err_path, int *status, char *err, size_t len);

/* 1 when status says the child could not execute its program (exit 126 or
 * 127, as a shell or an older posix_spawn reports it). */
int qkperf_child_exec_failed(int status);

/* The first line of the text file path worth showing in a message, without
 * its line end, into out ("" when there is none or the file is unreadable).
 * show(line) returns the part of a line to show, or NULL to skip the line;
 * with show NULL, lines of only blanks and '^' (gnuplot's error caret) are
 * skipped. */
void qkperf_first_line(const char *path, char *out, size_t len,
                       const char *(*show)(const char *line));

#endif
