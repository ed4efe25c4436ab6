/*
 * grouppath.c — where group files are found (groups.h): the search path
 * (the caller's --groups-dir folders, $QKPERF_GROUPS, the installed
 * folder), listing a PMU folder's groups, and the PMU folders themselves:
 * each folder's .pmu names the libpfm PMUs it serves, so adding a PMU is
 * dropping a folder.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "groups.h"
#include "pfm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Installed groups; Makefile.am passes $(pkgdatadir)/groups. */
#ifndef QKPERF_GROUPS_DIR
#define QKPERF_GROUPS_DIR "harness/groups"
#endif

enum { QKPERF_MAX_DIRS = 32 }; /* directories in one search path */

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;

    if (msg == NULL || msglen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
}

/* ---- search path ------------------------------------------------------- */

typedef struct qkperf_search {
    const char *dir[QKPERF_MAX_DIRS];
    size_t n;
    char *env; /* copy of $QKPERF_GROUPS, split in place */
} qkperf_search;

static void search_add(qkperf_search *s, const char *dir)
{
    if (*dir != '\0' && s->n < QKPERF_MAX_DIRS)
        s->dir[s->n++] = dir;
}

/* The caller's directories, then $QKPERF_GROUPS, then the built-in one. */
static int search_init(qkperf_search *s, const char *const *dirs)
{
    const char *env = getenv("QKPERF_GROUPS");
    char *tok, *save = NULL;

    s->n = 0;
    s->env = NULL;
    for (; dirs != NULL && *dirs != NULL; dirs++)
        search_add(s, *dirs);
    if (env != NULL && (s->env = strdup(env)) == NULL)
        return -1;
    for (tok = s->env ? strtok_r(s->env, ":", &save) : NULL; tok != NULL;
         tok = strtok_r(NULL, ":", &save))
        search_add(s, tok);
    search_add(s, QKPERF_GROUPS_DIR);
    return 0;
}

/* Group and folder names become path components: no '/', no leading '.'. */
static int valid_name(const char *s)
{
    if (*s == '\0' || *s == '.')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_has(char **names, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* Add the group files (or, with want_dirs, the subfolders) of one folder
 * to names; -1 when out of memory. */
static int list_entries(const char *folder, int want_dirs, char ***names, size_t *n)
{
    DIR *d = opendir(folder);
    struct dirent *de;
    int ret = 0;

    if (d == NULL)
        return 0; /* a directory without this folder has no groups */
    while (ret == 0 && (de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        char **grown;

        if (!valid_name(de->d_name) || list_has(*names, *n, de->d_name))
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", folder, de->d_name) >= (int)sizeof(path) ||
            stat(path, &st) != 0 || !(want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)))
            continue;
        grown = realloc(*names, (*n + 2) * sizeof(**names));
        if (grown == NULL || (grown[*n] = strdup(de->d_name)) == NULL)
            ret = -1;
        if (grown != NULL) {
            *names = grown;
            if (ret == 0)
                (*n)++;
            grown[*n] = NULL;
        }
    }
    closedir(d);
    return ret;
}

char **qkperf_group_list(const char *const *dirs, const char *pmu)
{
    qkperf_search s;
    char **names = calloc(1, sizeof(*names));
    size_t i, n = 0;
    int ret = 0;

    if (names == NULL)
        return NULL;
    if (search_init(&s, dirs) != 0) {
        free(names);
        return NULL;
    }
    for (i = 0; ret == 0 && i < s.n; i++) {
        char folder[4096];
        if (snprintf(folder, sizeof(folder), "%s/%s", s.dir[i], pmu) < (int)sizeof(folder))
            ret = list_entries(folder, 0, &names, &n);
    }
    free(s.env);
    if (ret != 0) {
        qkperf_group_list_free(names);
        return NULL;
    }
    qsort(names, n, sizeof(*names), name_cmp);
    return names;
}

void qkperf_group_list_free(char **names)
{
    char **p;

    for (p = names; p != NULL && *p != NULL; p++)
        free(*p);
    free(names);
}

/* "CYCLES, L1D" into buf, or "none" */
static void known_groups(const char *const *dirs, const char *pmu, char *buf, size_t len)
{
    char **names = qkperf_group_list(dirs, pmu);
    size_t used = 0;
    char **p;

    buf[0] = '\0';
    for (p = names; p != NULL && *p != NULL && used < len; p++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", p == names ? "" : ", ", *p);
    if (buf[0] == '\0')
        snprintf(buf, len, "none");
    qkperf_group_list_free(names);
}

/* 1 and the group (or NULL and msg) if some directory has the file; 0 if none. */
static int group_find(const qkperf_search *s, const char *pmu, const char *name, qkperf_group **out,
                      char *msg, size_t msglen)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        char path[4096];
        FILE *fp;

        if (snprintf(path, sizeof(path), "%s/%s/%s", s->dir[i], pmu, name) >= (int)sizeof(path)) {
            set_msg(msg, msglen, "%s/%s/%s: path too long", s->dir[i], pmu, name);
            *out = NULL;
            return 1;
        }
        fp = fopen(path, "r");
        if (fp == NULL && errno == ENOENT)
            continue;
        if (fp == NULL) {
            set_msg(msg, msglen, "%s: %s", path, strerror(errno));
            *out = NULL;
            return 1;
        }
        *out = qkperf_group_read(fp, path, pmu, name, msg, msglen);
        fclose(fp);
        return 1;
    }
    return 0;
}

static void unknown_group(const qkperf_search *s, const char *const *dirs, const char *pmu,
                          const char *name, int fallback_perf, char *msg, size_t msglen)
{
    char known[512], perf[512] = "", searched[512] = "";
    size_t i, used = 0;

    known_groups(dirs, pmu, known, sizeof(known));
    if (fallback_perf && strcmp(pmu, "perf") != 0) {
        char list[480];
        known_groups(dirs, "perf", list, sizeof(list));
        snprintf(perf, sizeof(perf), "; in perf: %s", list);
    }
    for (i = 0; i < s->n && used < sizeof(searched); i++)
        used += (size_t)snprintf(searched + used, sizeof(searched) - used, "%s%s", i ? ", " : "",
                                 s->dir[i]);
    set_msg(msg, msglen,
            "unknown group '%s' for %s (known: %s%s; "
            "searched: %s)",
            name, pmu, known, perf, searched);
}

qkperf_group *qkperf_group_load(const char *const *dirs, const char *pmu, const char *name,
                                int fallback_perf, char *msg, size_t msglen)
{
    qkperf_group *g = NULL;
    qkperf_search s;

    if (!valid_name(pmu) || !valid_name(name)) {
        set_msg(msg, msglen,
                "bad group name '%s/%s' (letters, digits, "
                "'_', '-', '.'; no '/')",
                pmu, name);
        return NULL;
    }
    if (search_init(&s, dirs) != 0) {
        set_msg(msg, msglen, "out of memory");
        return NULL;
    }
    if (!group_find(&s, pmu, name, &g, msg, msglen) &&
        !(fallback_perf && group_find(&s, "perf", name, &g, msg, msglen)))
        unknown_group(&s, dirs, pmu, name, fallback_perf, msg, msglen);
    free(s.env);
    return g;
}

/* ---- PMU folders ------------------------------------------------------- */

char **qkperf_group_folders(const char *const *dirs)
{
    qkperf_search s;
    char **names = calloc(1, sizeof(*names));
    size_t i, n = 0;
    int ret = 0;

    if (names == NULL)
        return NULL;
    if (search_init(&s, dirs) != 0) {
        free(names);
        return NULL;
    }
    for (i = 0; ret == 0 && i < s.n; i++)
        ret = list_entries(s.dir[i], 1, &names, &n);
    free(s.env);
    if (ret != 0) {
        qkperf_group_list_free(names);
        return NULL;
    }
    qsort(names, n, sizeof(*names), name_cmp);
    return names;
}

/* 1 if the folder's .pmu file (in the first search directory that has the
 * folder) lists libpfm PMU `pmu` as a whole word on a line. */
static int folder_serves(const qkperf_search *s, const char *folder, const char *pmu)
{
    for (size_t i = 0; i < s->n; i++) {
        char path[4096], line[256];
        if (snprintf(path, sizeof(path), "%s/%s/" QKPERF_GROUP_PMU_FILE, s->dir[i], folder) >=
            (int)sizeof(path))
            continue;
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        int hit = 0;
        while (!hit && fgets(line, sizeof(line), fp)) {
            char *hash = strchr(line, '#'), *tok, *save = NULL;
            if (hash)
                *hash = '\0';
            for (tok = strtok_r(line, " \t\r\n", &save); tok && !hit;
                 tok = strtok_r(NULL, " \t\r\n", &save))
                hit = strcmp(tok, pmu) == 0;
        }
        fclose(fp);
        return hit;
    }
    return 0;
}

void qkperf_group_folder_for(const char *const *dirs, const char *pmu, char *out, size_t len)
{
    qkperf_search s;
    char **folders = pmu ? qkperf_group_folders(dirs) : NULL;

    snprintf(out, len, "perf");
    if (folders != NULL && search_init(&s, dirs) == 0) {
        for (char **f = folders; *f != NULL; f++)
            if (strcmp(*f, "perf") != 0 && folder_serves(&s, *f, pmu)) {
                snprintf(out, len, "%s", *f);
                break;
            }
        free(s.env);
    }
    qkperf_group_list_free(folders);
}

const char *qkperf_group_host_folder(const char *const *dirs)
{
    static char folder[256];
    qkperf_group_folder_for(dirs, qkperf_pfm_host_pmu(), folder, sizeof(folder));
    return folder;
}
