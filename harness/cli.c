/*
 * cli.c — strict parsers for the command line (see cli.h).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "results.h"

int qkperf_split_list(const char *text, char **storage, const char **items, size_t max, size_t *n,
                      const char *what, char *err, size_t len)
{
    *n = 0;
    *storage = strdup(text ? text : "");
    if (!*storage) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    char *p = *storage;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0') {
            snprintf(err, len, "empty item in %s list '%s'", what, text ? text : "");
            return -1;
        }
        if (*n == max) {
            snprintf(err, len, "too many items in %s list (at most %zu)", what, max);
            return -1;
        }
        items[(*n)++] = p;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int parse_dim(const char *s, size_t slen, size_t *out)
{
    if (slen == 0 || slen > 12)
        return -1;
    size_t v = 0;
    for (size_t i = 0; i < slen; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int qkperf_parse_size(const qk_op *op, const char *text, size_t *dim, char *err, size_t len)
{
    const char *want = op->ndim == 1 ? "N (e.g. 1024)" : "ROWSxCOLS (e.g. 2560x6912)";
    const char *x = op->ndim == 2 ? strchr(text, 'x') : NULL;
    int bad = op->ndim == 2 ? !x || parse_dim(text, (size_t)(x - text), &dim[0]) ||
                                  parse_dim(x + 1, strlen(x + 1), &dim[1])
                            : parse_dim(text, strlen(text), &dim[0]);
    if (bad) {
        snprintf(err, len, "bad size '%s' for %s: expected %s", text, op->name, want);
        return -1;
    }
    unsigned long long total = dim[0];
    if (op->ndim == 2)
        total = dim[1] > 0 && dim[0] > QKPERF_MAX_ELEMENTS / dim[1]
                    ? QKPERF_MAX_ELEMENTS + 1
                    : (unsigned long long)dim[0] * dim[1];
    if (dim[0] == 0 || (op->ndim == 2 && dim[1] == 0)) {
        snprintf(err, len, "bad size '%s' for %s: every dimension must be at least 1", text,
                 op->name);
        return -1;
    }
    if (total > QKPERF_MAX_ELEMENTS) {
        snprintf(err, len, "size '%s' for %s is too large: at most %llu elements", text, op->name,
                 (unsigned long long)QKPERF_MAX_ELEMENTS);
        return -1;
    }
    return 0;
}

static void known_variants(const qk_op *op, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < qk_variant_count(op->name); i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", i ? ", " : "", qk_variant_at(op->name, i)->name);
    }
}

int qkperf_parse_variants(const qk_op *op, const char *text, const qk_variant **out, size_t max,
                          size_t *n, char *err, size_t len)
{
    *n = 0;
    if (strcmp(text, "all") == 0) {
        if (qk_variant_count(op->name) > max)
            return snprintf(err, len,
                            "%s has %zu variants, more than the %zu one run takes: "
                            "name them with -v",
                            op->name, qk_variant_count(op->name), max),
                   -1;
        for (size_t i = 0; i < qk_variant_count(op->name); i++)
            out[(*n)++] = qk_variant_at(op->name, i);
        return 0;
    }
    char *storage;
    const char *items[QKPERF_MAX_LIST];
    size_t k;
    int rc = qkperf_split_list(text, &storage, items, QKPERF_MAX_LIST, &k, "variant", err, len);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        const qk_variant *v = qk_find_variant(op->name, items[i]);
        if (!v) {
            char known[1024];
            known_variants(op, known, sizeof known);
            snprintf(err, len, "unknown variant '%s' for %s (known: %s)", items[i], op->name,
                     known);
            rc = -1;
        } else if (*n < max) {
            out[(*n)++] = v;
        }
    }
    free(storage);
    return rc;
}

int qkperf_parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out, const char *what,
                     char *err, size_t len)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-' || isspace((unsigned char)text[0]) || v < lo ||
        v > hi) {
        snprintf(err, len, "bad %s '%s': expected an integer from %llu to %llu", what, text,
                 (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int qkperf_parse_double(const char *text, double lo, double hi, double *out, const char *what,
                        char *err, size_t len)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v) || v < lo || v > hi) {
        snprintf(err, len, "bad %s '%s': expected a number from %g to %g", what, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

const qk_op *qkperf_find_op(const char *name, char *err, size_t len)
{
    const qk_op *op = qk_find_op(name);
    if (op)
        return op;
    char known[512];
    qkperf_known_ops(known, sizeof known, "");
    snprintf(err, len, "unknown op '%s' (known: %s)", name ? name : "", known);
    return NULL;
}

void qkperf_known_ops(char *buf, size_t cap, const char *prefix)
{
    buf[0] = '\0';
    for (size_t i = 0; i < qk_op_count(); i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s%s", i ? ", " : "", prefix, qk_op_at(i)->name);
    }
}

const char *qkperf_getopt_why(int c, const char *bad)
{
    if (c == ':')
        return "missing value for option";
    /* a known long option given a value it does not take sets optopt */
    if (optopt && bad && !strncmp(bad, "--", 2) && strchr(bad, '='))
        return "no value allowed for option";
    return "unknown option";
}

int qkperf_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qkperf: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

int qkperf_check_writable(const char *path, char *err, size_t len)
{
    struct stat st;
    if (!*path)
        return snprintf(err, len, "empty output path: name a file"), -1;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!*base)
        return snprintf(err, len, "cannot write %s: it names a folder, not a file", path), -1;
    if (strlen(path) >= PATH_MAX || strlen(base) > NAME_MAX)
        return snprintf(err, len, "cannot write %.60s...: %s (at most %d bytes, a name %d)", path,
                        strerror(ENAMETOOLONG), PATH_MAX - 1, NAME_MAX),
               -1;
    char *copy = strdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    int rc = 0;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, len, "cannot write %s: it is a folder", path);
        rc = -1;
    } else if (access(dir, W_OK) != 0) {
        snprintf(err, len, "cannot write %s: folder %s: %s", path, dir, strerror(errno));
        rc = -1;
    } else if (qkperf_write_atomic_probe(path, err, len)) {
        /* access() lets root past what it cannot create (/proc, /sys) */
        rc = -1;
    }
    free(copy);
    return rc;
}

int qkperf_check_folder(const char *what, const char *path, char *err, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return snprintf(err, len, "%s '%s': %s", what, path, strerror(errno)), -1;
    if (!S_ISDIR(st.st_mode))
        return snprintf(err, len, "%s '%s': not a folder", what, path), -1;
    return 0;
}
