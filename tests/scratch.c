/*
 * scratch.c — tests' scratch folders and qkt_slurp (scratch.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "scratch.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The folders this process made, removed at its exit too: a skipped test
 * (cr_skip_test) ends its process without running the suite's fini. */
static const char *made[8];
static size_t n_made;

static void remove_made(void)
{
    for (size_t k = 0; k < n_made; k++)
        qkt_scratch_remove(made[k]);
}

void qkt_scratch_make(char *tmpl)
{
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp %s: %s", tmpl, strerror(errno));
    if (n_made == 0)
        atexit(remove_made);
    if (n_made < sizeof made / sizeof made[0])
        made[n_made++] = tmpl;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int qkt_scratch_remove(const char *dir)
{
    static const char prefix[] = "/tmp/qkperf-";
    size_t n = strlen(dir);
    if (strncmp(dir, prefix, sizeof prefix - 1) != 0 || strchr(dir + sizeof prefix - 1, '/') ||
        (n >= 6 && strcmp(dir + n - 6, "XXXXXX") == 0))
        return -1;
    return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

char *qkt_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - 1 - n, f)) > 0;) {
        n += got;
        if (cap - 1 - n == 0) {
            char *more = realloc(buf, cap *= 2);
            cr_assert_not_null(more);
            buf = more;
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}
