/*
 * groups.c — parsing and checking event group files (groups.h); grouppath.c
 * finds them, formula.c compiles their metrics.
 *
 * What to measure is data: a group file names a few events and the metrics
 * derived from them, one file per group and one folder per PMU
 * (harness/groups/zen4/L1D). Adding a metric for a CPU needs no recompile.
 *
 * Format (also in docs/groups.md):
 *
 *     # comment                  '#' to end of line, blank lines: ignored
 *     SHORT  L1D loads and misses     one line, required, before LONG
 *     EVENTSET                        required, before METRICS
 *     loads   amd64_fam19h_zen4::LS_DISPATCH:LD_DISPATCH
 *     misses  amd64_fam19h_zen4::REQUESTS_TO_L2_GROUP1:RD_BLK_L:RD_BLK_X:CHANGE_TO_X
 *     METRICS                         optional
 *     miss ratio    misses / loads
 *     misses/s      misses / time
 *     LONG                            optional; the rest of the file,
 *     free text ...                   verbatim ('#' is text here)
 *
 * Section keywords are upper case and alone on their line (SHORT carries its
 * text). An event line is `alias name`: the alias is an identifier
 * ([A-Za-z_][A-Za-z0-9_]*, not `time`, unique in the group), the name a
 * libpfm event string without spaces. A metric line is `name formula`, the
 * name separated from the formula by a tab or at least two spaces, so that
 * names may contain single spaces ("miss ratio"). Formulas: + - * /, unary
 * minus, parentheses, decimal numbers (1, 0.5, 1e-9), the group's aliases,
 * and `time` (seconds of the region); formula.c compiles and evaluates
 * them.
 *
 * Every error is one line "path:line: what", e.g.
 * "harness/groups/zen4/L1D:7: unknown identifier 'loads2' in metric
 * 'miss ratio' (known: loads, misses, time)".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "groups.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QKPERF_MAX_LINE = 4096 };

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

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- formulas over a group's aliases ------------------------------------ */

static qkperf_formula *group_formula(const qkperf_group *g, const char *text, const char *what,
                                     char *msg, size_t msglen)
{
    const char **aliases = malloc((g->nevents + 1) * sizeof(*aliases));
    qkperf_formula *f;

    if (aliases == NULL) {
        set_msg(msg, msglen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < g->nevents; i++)
        aliases[i] = g->events[i].alias;
    f = qkperf_formula_compile(text, aliases, g->nevents, what, msg, msglen);
    free(aliases);
    return f;
}

qkperf_formula *qkperf_formula_parse(const qkperf_group *g, const char *text, char *msg,
                                     size_t msglen)
{
    return group_formula(g, text, NULL, msg, msglen);
}

int qkperf_formula_check(const qkperf_group *g, const char *text, char *msg, size_t msglen)
{
    qkperf_formula *f = qkperf_formula_parse(g, text, msg, msglen);

    qkperf_formula_free(f);
    return f != NULL ? 0 : -1;
}

/* ---- group files ------------------------------------------------------- */

enum qkperf_section { QKPERF_SEC_HEAD, QKPERF_SEC_EVENTS, QKPERF_SEC_METRICS, QKPERF_SEC_LONG };

typedef struct qkperf_reader {
    qkperf_group *g;
    enum qkperf_section sec;
    int seen_events; /* EVENTSET line seen */
    int line;
    char *longbuf; /* LONG text, grown line by line */
    size_t longlen;
    char *msg;
    size_t msglen;
} qkperf_reader;

static int file_error(qkperf_reader *rd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int file_error(qkperf_reader *rd, const char *fmt, ...)
{
    char what[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    set_msg(rd->msg, rd->msglen, "%s:%d: %s", rd->g->path, rd->line, what);
    return -1;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int is_ident(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int add_event(qkperf_reader *rd, char *line)
{
    qkperf_group *g = rd->g;
    char *alias = line, *name, *rest;
    qkperf_group_event *ev;

    name = alias + strcspn(alias, " \t");
    if (*name != '\0')
        *name++ = '\0';
    name = trim(name);
    rest = name + strcspn(name, " \t");
    if (*name == '\0' || *trim(rest) != '\0')
        return file_error(rd, "expected '<alias> <libpfm event>' in EVENTSET");
    if (!is_ident(alias) || strcmp(alias, "time") == 0)
        return file_error(rd,
                          "bad event alias '%s' (an identifier "
                          "[A-Za-z_][A-Za-z0-9_]*, not 'time')",
                          alias);
    if (qkperf_group_event_index(g, alias) >= 0)
        return file_error(rd, "duplicate event alias '%s'", alias);
    ev = realloc(g->events, (g->nevents + 1) * sizeof(*ev));
    if (ev == NULL)
        return file_error(rd, "out of memory");
    g->events = ev;
    ev = &g->events[g->nevents];
    ev->alias = strdup(alias);
    ev->name = strdup(name);
    g->nevents++; /* counted even on failure, so that free releases it */
    if (ev->alias == NULL || ev->name == NULL)
        return file_error(rd, "out of memory");
    return 0;
}

/* The metric name ends at the first tab or run of two spaces. */
static char *metric_split(char *line)
{
    char *tab = strchr(line, '\t'), *two = strstr(line, "  ");

    if (tab == NULL || (two != NULL && two < tab))
        tab = two;
    if (tab != NULL)
        *tab++ = '\0';
    return tab;
}

static int metric_index(const qkperf_group *g, const char *name)
{
    size_t i;

    for (i = 0; i < g->nmetrics; i++)
        if (strcmp(g->metrics[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int add_metric(qkperf_reader *rd, char *line)
{
    qkperf_group *g = rd->g;
    char *text = metric_split(line), what[160], err[640];
    qkperf_group_metric *m;

    if (text == NULL || *(text = trim(text)) == '\0')
        return file_error(rd, "expected '<name>  <formula>' in METRICS "
                              "(name and formula separated by a tab or two spaces)");
    line = trim(line);
    if (metric_index(g, line) >= 0)
        return file_error(rd, "duplicate metric '%s'", line);
    m = realloc(g->metrics, (g->nmetrics + 1) * sizeof(*m));
    if (m == NULL)
        return file_error(rd, "out of memory");
    g->metrics = m;
    m = &g->metrics[g->nmetrics++];
    m->name = strdup(line);
    m->text = strdup(text);
    snprintf(what, sizeof(what), "metric '%s'", line);
    m->formula = group_formula(g, text, what, err, sizeof(err));
    if (m->formula == NULL)
        return file_error(rd, "%s", err);
    if (m->name == NULL || m->text == NULL)
        return file_error(rd, "out of memory");
    return 0;
}

static int add_long(qkperf_reader *rd, const char *line)
{
    size_t len = strlen(line);
    char *p = realloc(rd->longbuf, rd->longlen + len + 1);

    if (p == NULL)
        return file_error(rd, "out of memory");
    memcpy(p + rd->longlen, line, len + 1);
    rd->longbuf = p;
    rd->longlen += len;
    return 0;
}

/* A keyword line; 1 if handled, 0 if not a keyword, -1 on error. */
static int groups_keyword(qkperf_reader *rd, char *line)
{
    if (strncmp(line, "SHORT", 5) == 0 && (line[5] == '\0' || isspace((unsigned char)line[5]))) {
        if (rd->g->short_desc != NULL)
            return file_error(rd, "second SHORT line");
        if (*trim(line + 5) == '\0')
            return file_error(rd, "SHORT needs a one-line description");
        rd->g->short_desc = strdup(trim(line + 5));
        return rd->g->short_desc ? 1 : file_error(rd, "out of memory");
    }
    if (strcmp(line, "EVENTSET") == 0) {
        if (rd->seen_events)
            return file_error(rd, "second EVENTSET section");
        rd->seen_events = 1;
        rd->sec = QKPERF_SEC_EVENTS;
        return 1;
    }
    if (strcmp(line, "METRICS") == 0) {
        if (rd->sec != QKPERF_SEC_EVENTS)
            return file_error(rd, "METRICS must follow the EVENTSET section");
        rd->sec = QKPERF_SEC_METRICS;
        return 1;
    }
    if (strcmp(line, "LONG") == 0) {
        rd->sec = QKPERF_SEC_LONG;
        return 1;
    }
    return 0;
}

static int read_line(qkperf_reader *rd, char *raw)
{
    char *line;
    int kw;

    if (rd->sec == QKPERF_SEC_LONG)
        return add_long(rd, raw);
    raw[strcspn(raw, "#")] = '\0';
    line = trim(raw);
    if (*line == '\0')
        return 0;
    kw = groups_keyword(rd, line);
    if (kw != 0)
        return kw < 0 ? -1 : 0;
    switch (rd->sec) {
    case QKPERF_SEC_EVENTS:
        return add_event(rd, line);
    case QKPERF_SEC_METRICS:
        return add_metric(rd, line);
    default:
        return file_error(rd,
                          "expected SHORT, EVENTSET, METRICS or LONG, "
                          "found '%s'",
                          line);
    }
}

/* What must be there once the whole file is read. */
static int read_finish(qkperf_reader *rd)
{
    qkperf_group *g = rd->g;

    if (g->short_desc == NULL)
        return file_error(rd, "missing SHORT line");
    if (g->nevents == 0)
        return file_error(rd, "no events (an EVENTSET section with "
                              "'<alias> <libpfm event>' lines is required)");
    /* LONG without its leading and trailing blank lines. */
    g->long_desc = dup_n(rd->longbuf ? rd->longbuf : "", rd->longlen);
    if (g->long_desc == NULL)
        return file_error(rd, "out of memory");
    while (g->long_desc[0] == '\n')
        memmove(g->long_desc, g->long_desc + 1, strlen(g->long_desc));
    trim(g->long_desc);
    return 0;
}

static int read_file(qkperf_group *g, FILE *fp, char *msg, size_t msglen)
{
    qkperf_reader rd = {g, QKPERF_SEC_HEAD, 0, 0, NULL, 0, msg, msglen};
    char buf[QKPERF_MAX_LINE];
    int ret = 0;

    while (ret == 0 && fgets(buf, sizeof(buf), fp) != NULL) {
        rd.line++;
        if (strchr(buf, '\n') == NULL && !feof(fp))
            ret = file_error(&rd, "line longer than %d characters", QKPERF_MAX_LINE - 2);
        else
            ret = read_line(&rd, buf);
    }
    if (ret == 0 && ferror(fp))
        ret = file_error(&rd, "read error: %s", strerror(errno));
    if (ret == 0)
        ret = read_finish(&rd);
    free(rd.longbuf);
    return ret;
}

void qkperf_group_free(qkperf_group *g)
{
    size_t i;

    if (g == NULL)
        return;
    for (i = 0; i < g->nevents; i++) {
        free(g->events[i].alias);
        free(g->events[i].name);
    }
    for (i = 0; i < g->nmetrics; i++) {
        free(g->metrics[i].name);
        free(g->metrics[i].text);
        qkperf_formula_free(g->metrics[i].formula);
    }
    free(g->events);
    free(g->metrics);
    free(g->name);
    free(g->pmu);
    free(g->path);
    free(g->short_desc);
    free(g->long_desc);
    free(g);
}

int qkperf_group_event_index(const qkperf_group *g, const char *alias)
{
    size_t i;

    for (i = 0; i < g->nevents; i++)
        if (strcmp(g->events[i].alias, alias) == 0)
            return (int)i;
    return -1;
}

qkperf_group *qkperf_group_read(FILE *fp, const char *path, const char *pmu, const char *name,
                                char *msg, size_t msglen)
{
    qkperf_group *g = calloc(1, sizeof(*g));

    if (g == NULL || (g->path = strdup(path)) == NULL || (g->pmu = strdup(pmu)) == NULL ||
        (g->name = strdup(name)) == NULL) {
        set_msg(msg, msglen, "%s: out of memory", path);
        qkperf_group_free(g);
        return NULL;
    }
    if (read_file(g, fp, msg, msglen) != 0) {
        qkperf_group_free(g);
        return NULL;
    }
    return g;
}
