/*
 * cli.h — parsing what users type: sizes, comma lists, variant lists,
 * numbers. Every parser fails with one line naming the bad text and what
 * would be right.
 */
#ifndef QKPERF_CLI_H
#define QKPERF_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"

enum { QKPERF_MAX_LIST = 64 };

/* Largest workspace accepted (elements of the matrix or vector). */
#define QKPERF_MAX_ELEMENTS (1ull << 30)

/* Split "a,b,c" into at most max items (pointers into a copy owned by
 * *storage, which the caller frees). Empty items are an error. */
int qkperf_split_list(const char *text, char **storage, const char **items, size_t max, size_t *n,
                      const char *what, char *err, size_t len);

/* Parse one size for op: "N" (ndim 1) or "ROWSxCOLS" (ndim 2). */
int qkperf_parse_size(const qk_op *op, const char *text, size_t *dim, char *err, size_t len);

/* Resolve "all" or a comma list of variant names of op; unknown names give
 * "unknown variant 'x' for op (known: a, b, ...)". */
int qkperf_parse_variants(const qk_op *op, const char *text, const qk_variant **out, size_t max,
                          size_t *n, char *err, size_t len);

/* Strict unsigned / double parsers: the whole string, within [lo, hi]. */
int qkperf_parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out, const char *what,
                     char *err, size_t len);
int qkperf_parse_double(const char *text, double lo, double hi, double *out, const char *what,
                        char *err, size_t len);

/* "unknown op 'x' (known: dequantize, gemv)" when NULL is returned. */
const qk_op *qkperf_find_op(const char *name, char *err, size_t len);

/* The registered ops' names into buf, comma-separated, each after prefix
 * ("" or "-k "). */
void qkperf_known_ops(char *buf, size_t cap, const char *prefix);

/* What getopt_long (optstring starting with ':', opterr 0) objected to in
 * `bad` (argv[optind - 1]) when it returned c ('?' or ':'): "missing
 * value for option", "no value allowed for option" (--flag=VALUE), or
 * "unknown option". */
const char *qkperf_getopt_why(int c, const char *bad);

/* Print "qkperf: " + the formatted message on one line to stderr; returns
 * 2, the exit status of a usage error. */
int qkperf_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 0 if `path` can be written (its folder exists and is writable, it is not
 * a folder), else -1 with one line in err. */
int qkperf_check_writable(const char *path, char *err, size_t len);

/* 0 if `path` is an existing folder, else -1 with "WHAT 'path': why" in err. */
int qkperf_check_folder(const char *what, const char *path, char *err, size_t len);

#endif
