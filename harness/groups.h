/*
 * groups.h — event groups as data files, LIKWID-style.
 *
 * A group is a text file harness/groups/<pmu>/<NAME> listing events (an alias
 * and a libpfm name each) and derived metrics (formulas over the aliases and
 * `time`); the format is described at the top of groups.c and in
 * docs/groups.md. This module finds, parses and checks group files and
 * evaluates their metrics; it does not encode or count events (pfm.c and
 * perf.c do), so a group can be checked on a machine without a PMU.
 */
#ifndef QKPERF_GROUPS_H
#define QKPERF_GROUPS_H

#include <stddef.h>
#include <stdio.h>

#include "formula.h"

typedef struct qkperf_group_event {
    char *alias; /* identifier used in formulas: "cycles" */
    char *name;  /* libpfm name: "amd64_fam19h_zen4::CYCLES_NOT_IN_HALT" */
} qkperf_group_event;

typedef struct qkperf_group_metric {
    char *name; /* "miss ratio" (may contain spaces) */
    char *text; /* the formula as written: "misses / loads" */
    qkperf_formula *formula;
} qkperf_group_metric;

/* Read-only for callers; free with qkperf_group_free. */
typedef struct qkperf_group {
    char *name;       /* "L1D" */
    char *pmu;        /* folder it was found in: "zen4", or "perf" after fallback */
    char *path;       /* file it was read from, for messages */
    char *short_desc; /* the SHORT line */
    char *long_desc;  /* the LONG text ("" if none) */
    qkperf_group_event *events;
    size_t nevents;
    qkperf_group_metric *metrics;
    size_t nmetrics;
} qkperf_group;

/*
 * Load group `name` of folder `pmu`. Directories are searched in order:
 * `dirs` (NULL-terminated, may be NULL: the user's --groups directories),
 * then each entry of $QKPERF_GROUPS (colon-separated), then the built-in
 * QKPERF_GROUPS_DIR; the first file found wins. With fallback_perf, a group
 * missing from `pmu` in every directory is then looked up in "perf".
 * Returns NULL with one line in msg ("path:line: what") on any error; an
 * unknown group's message lists the groups that do exist.
 */
qkperf_group *qkperf_group_load(const char *const *dirs, const char *pmu, const char *name,
                                int fallback_perf, char *msg, size_t msglen);
/* Parse an open group file (path, folder pmu and group name for the group
 * and its messages); NULL with one line "path:line: what" in msg. */
qkperf_group *qkperf_group_read(FILE *fp, const char *path, const char *pmu, const char *name,
                                char *msg, size_t msglen);
void qkperf_group_free(qkperf_group *g);

/* Index of the event with this alias, or -1. */
int qkperf_group_event_index(const qkperf_group *g, const char *alias);

/*
 * Names of the groups of folder `pmu` over the same search path (sorted,
 * without duplicates), as a NULL-terminated array; NULL only when out of
 * memory. Free with qkperf_group_list_free.
 */
char **qkperf_group_list(const char *const *dirs, const char *pmu);
void qkperf_group_list_free(char **names);

/*
 * PMU folders. A folder of the search path is a PMU's set of groups; its
 * file QKPERF_GROUP_PMU_FILE lists the libpfm4 PMU names whose events its
 * groups use (words, '#' comments), so adding a PMU is dropping a folder.
 * "perf" (generic perf:: events) serves every other PMU.
 */
#define QKPERF_GROUP_PMU_FILE ".pmu"

/* The folder names over the search path (sorted, without duplicates),
 * NULL-terminated; NULL only when out of memory. Free with
 * qkperf_group_list_free. */
char **qkperf_group_folders(const char *const *dirs);

/* The folder that serves libpfm PMU `pmu` (NULL: none known) into out:
 * the first, in name order, whose .pmu lists it, else "perf". */
void qkperf_group_folder_for(const char *const *dirs, const char *pmu, char *out, size_t len);

/* The folder for libpfm's host PMU (qkperf_pfm_host_pmu), in static
 * storage valid until the next call. */
const char *qkperf_group_host_folder(const char *const *dirs);

/*
 * Parse a formula against the events of g: + - * /, unary minus,
 * parentheses, decimal numbers, event aliases and `time`. NULL with the
 * reason in msg on a syntax error or an identifier that is not an alias.
 * Used for the group's own metrics and for ad-hoc ones from the command line.
 */
qkperf_formula *qkperf_formula_parse(const qkperf_group *g, const char *text, char *msg,
                                     size_t msglen);
/* 0 if text parses against g, else -1 with the reason in msg. */
int qkperf_formula_check(const qkperf_group *g, const char *text, char *msg, size_t msglen);

#endif
