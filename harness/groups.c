/*
 * groups.c — finding, parsing and checking event group files (groups.h).
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
 * and `time` (seconds of the region). They are parsed by recursive descent
 * into a small AST and evaluated in double; division by zero or an operand
 * that is NaN (not available) gives NaN, which callers print as n/a.
 *
 * Every error is one line "path:line: what", e.g.
 * "harness/groups/zen4/L1D:7: unknown identifier 'loads2' in metric
 * 'miss ratio' (known: loads, misses, time)".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "groups.h"
#include "pfm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Installed groups; Makefile.am passes $(pkgdatadir)/groups. */
#ifndef QKPERF_GROUPS_DIR
#define QKPERF_GROUPS_DIR "harness/groups"
#endif

enum {
    QKPERF_MAX_DIRS = 32,  /* directories in one search path */
    QKPERF_MAX_DEPTH = 64, /* formula nesting: bounds the recursion */
    QKPERF_MAX_LINE = 4096
};

static void qkperf_set_msg(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void qkperf_set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;

    if (msg == NULL || msglen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
}

static char *qkperf_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- formulas ---------------------------------------------------------- */

typedef struct qkperf_node {
    char op;    /* 'n' number, 'v' event, 't' time, '~' negate, + - * / */
    int ref;    /* event index for 'v' */
    double num; /* value for 'n' */
    int left, right;
    int height; /* 1 for a leaf: bounds the evaluation's recursion */
} qkperf_node;

struct qkperf_formula {
    qkperf_node *nodes; /* nodes[root] is the whole expression */
    int root;
};

typedef struct qkperf_parser {
    const qkperf_group *g;
    const char *text;
    const char *p;
    const char *what; /* "metric 'IPC'" or NULL, for messages */
    qkperf_node *nodes;
    int n;
    int depth;
    char *msg;
    size_t msglen;
} qkperf_parser;

static int qkperf_parse_expr(qkperf_parser *ps);

static void qkperf_skip_space(qkperf_parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static int qkperf_node_height(const qkperf_parser *ps, int k)
{
    return k < 0 ? 0 : ps->nodes[k].height;
}

/* Refuse nesting past QKPERF_MAX_DEPTH, in the parser's recursion ('(' and
 * unary '-') and in the tree (long chains of operators), so that a hostile
 * formula can exhaust neither the parser's stack nor the evaluation's. */
static int qkperf_too_deep(qkperf_parser *ps, int depth);

static int qkperf_new_node(qkperf_parser *ps, char op, int left, int right)
{
    qkperf_node *nd = &ps->nodes[ps->n];
    int hl = qkperf_node_height(ps, left), hr = qkperf_node_height(ps, right);

    if (qkperf_too_deep(ps, 1 + (hl > hr ? hl : hr)))
        return -1;
    nd->op = op;
    nd->ref = -1;
    nd->num = 0.0;
    nd->left = left;
    nd->right = right;
    nd->height = 1 + (hl > hr ? hl : hr);
    return ps->n++;
}

/* " in metric 'IPC'" or "" */
static void qkperf_where(const qkperf_parser *ps, char *buf, size_t len)
{
    if (ps->what != NULL)
        snprintf(buf, len, " in %s", ps->what);
    else
        buf[0] = '\0';
}

static int qkperf_syntax_error(qkperf_parser *ps, const char *expected)
{
    char where[160];

    qkperf_where(ps, where, sizeof(where));
    qkperf_set_msg(ps->msg, ps->msglen, "syntax error%s at column %d: expected %s, found %s%s%s",
                   where, (int)(ps->p - ps->text) + 1, expected, *ps->p ? "'" : "end of formula",
                   *ps->p ? ps->p : "", *ps->p ? "'" : "");
    return -1;
}

/* "loads, misses, time": what an identifier may be. */
static void qkperf_known_aliases(const qkperf_group *g, char *buf, size_t len)
{
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < g->nevents && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s, ", g->events[i].alias);
    if (used < len)
        snprintf(buf + used, len - used, "time");
}

static int qkperf_too_deep(qkperf_parser *ps, int depth)
{
    char where[160];

    if (depth <= QKPERF_MAX_DEPTH)
        return 0;
    qkperf_where(ps, where, sizeof(where));
    qkperf_set_msg(ps->msg, ps->msglen, "formula nested deeper than %d levels%s", QKPERF_MAX_DEPTH,
                   where);
    return 1;
}

static int qkperf_parse_ident(qkperf_parser *ps)
{
    const char *start = ps->p;
    size_t len;
    int id;

    while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
        ps->p++;
    len = (size_t)(ps->p - start);
    if (len == 4 && strncmp(start, "time", 4) == 0)
        return qkperf_new_node(ps, 't', -1, -1);
    for (id = 0; id < (int)ps->g->nevents; id++) {
        const char *alias = ps->g->events[id].alias;
        if (strlen(alias) == len && strncmp(alias, start, len) == 0) {
            int k = qkperf_new_node(ps, 'v', -1, -1);
            ps->nodes[k].ref = id;
            return k;
        }
    }
    {
        char where[160], known[512];
        qkperf_where(ps, where, sizeof(where));
        qkperf_known_aliases(ps->g, known, sizeof(known));
        qkperf_set_msg(ps->msg, ps->msglen, "unknown identifier '%.*s'%s (known: %s)", (int)len,
                       start, where, known);
    }
    return -1;
}

/* digits [. digits] [e [+-] digits]: plain decimal, no hex, inf or nan
 * (which strtod alone would accept). */
static int qkperf_parse_number(qkperf_parser *ps)
{
    const char *start = ps->p;
    char buf[64];
    int k;

    while (isdigit((unsigned char)*ps->p))
        ps->p++;
    if (*ps->p == '.')
        for (ps->p++; isdigit((unsigned char)*ps->p); ps->p++)
            ;
    if (*ps->p == 'e' || *ps->p == 'E') {
        const char *e = ps->p + 1;
        if (*e == '+' || *e == '-')
            e++;
        if (!isdigit((unsigned char)*e))
            return qkperf_syntax_error(ps, "a number");
        for (ps->p = e; isdigit((unsigned char)*ps->p); ps->p++)
            ;
    }
    if ((size_t)(ps->p - start) >= sizeof(buf) || (ps->p - start == 1 && *start == '.')) {
        ps->p = start;
        return qkperf_syntax_error(ps, "a number");
    }
    memcpy(buf, start, (size_t)(ps->p - start));
    buf[ps->p - start] = '\0';
    k = qkperf_new_node(ps, 'n', -1, -1);
    ps->nodes[k].num = strtod(buf, NULL);
    return k;
}

/* primary := number | identifier | '(' expr ')' */
static int qkperf_parse_primary(qkperf_parser *ps)
{
    int k;

    qkperf_skip_space(ps);
    if (isdigit((unsigned char)*ps->p) || *ps->p == '.')
        return qkperf_parse_number(ps);
    if (isalpha((unsigned char)*ps->p) || *ps->p == '_')
        return qkperf_parse_ident(ps);
    if (*ps->p != '(')
        return qkperf_syntax_error(ps, "a number, an event alias, time or '('");
    ps->p++;
    k = qkperf_parse_expr(ps);
    if (k < 0)
        return -1;
    qkperf_skip_space(ps);
    if (*ps->p != ')')
        return qkperf_syntax_error(ps, "')'");
    ps->p++;
    return k;
}

/* unary := '-' unary | primary */
static int qkperf_parse_unary(qkperf_parser *ps)
{
    int k;

    qkperf_skip_space(ps);
    if (*ps->p != '-')
        return qkperf_parse_primary(ps);
    ps->p++;
    if (qkperf_too_deep(ps, ++ps->depth))
        return -1;
    k = qkperf_parse_unary(ps);
    ps->depth--;
    return k < 0 ? -1 : qkperf_new_node(ps, '~', k, -1);
}

/* term := unary (('*' | '/') unary)* */
static int qkperf_parse_term(qkperf_parser *ps)
{
    int left = qkperf_parse_unary(ps);

    while (left >= 0) {
        char op;
        int right;

        qkperf_skip_space(ps);
        if (*ps->p != '*' && *ps->p != '/')
            break;
        op = *ps->p++;
        right = qkperf_parse_unary(ps);
        left = right < 0 ? -1 : qkperf_new_node(ps, op, left, right);
    }
    return left;
}

/* expr := term (('+' | '-') term)*; depth-limited so that a hostile
 * "((((..." cannot exhaust the stack. */
static int qkperf_parse_expr(qkperf_parser *ps)
{
    int left;

    if (qkperf_too_deep(ps, ++ps->depth))
        return -1;
    left = qkperf_parse_term(ps);
    while (left >= 0) {
        char op;
        int right;

        qkperf_skip_space(ps);
        if (*ps->p != '+' && *ps->p != '-')
            break;
        op = *ps->p++;
        right = qkperf_parse_term(ps);
        left = right < 0 ? -1 : qkperf_new_node(ps, op, left, right);
    }
    ps->depth--;
    return left;
}

static qkperf_formula *qkperf_formula_compile(const qkperf_group *g, const char *text,
                                              const char *what, char *msg, size_t msglen)
{
    /* Every node consumes at least one character (an operator, or a
     * number/identifier), so strlen + 1 nodes always suffice. */
    qkperf_parser ps = {g, text, text, what, NULL, 0, 0, msg, msglen};
    qkperf_formula *f = malloc(sizeof(*f));

    ps.nodes = malloc((strlen(text) + 1) * sizeof(*ps.nodes));
    if (f == NULL || ps.nodes == NULL) {
        qkperf_set_msg(msg, msglen, "out of memory");
        goto fail;
    }
    f->root = qkperf_parse_expr(&ps);
    if (f->root < 0)
        goto fail;
    qkperf_skip_space(&ps);
    if (*ps.p != '\0') {
        qkperf_syntax_error(&ps, "an operator or end of formula");
        goto fail;
    }
    f->nodes = ps.nodes;
    return f;
fail:
    free(ps.nodes);
    free(f);
    return NULL;
}

qkperf_formula *qkperf_formula_parse(const qkperf_group *g, const char *text, char *msg,
                                     size_t msglen)
{
    return qkperf_formula_compile(g, text, NULL, msg, msglen);
}

int qkperf_formula_check(const qkperf_group *g, const char *text, char *msg, size_t msglen)
{
    qkperf_formula *f = qkperf_formula_parse(g, text, msg, msglen);

    qkperf_formula_free(f);
    return f != NULL ? 0 : -1;
}

static double qkperf_eval_node(const qkperf_node *nodes, int k, const double *values, double time)
{
    const qkperf_node *nd = &nodes[k];
    double l, r;

    switch (nd->op) {
    case 'n':
        return nd->num;
    case 'v':
        return values[nd->ref];
    case 't':
        return time;
    case '~':
        return -qkperf_eval_node(nodes, nd->left, values, time);
    default:
        break;
    }
    l = qkperf_eval_node(nodes, nd->left, values, time);
    r = qkperf_eval_node(nodes, nd->right, values, time);
    switch (nd->op) {
    case '+':
        return l + r;
    case '-':
        return l - r;
    case '*':
        return l * r;
    default:
        return r == 0.0 ? NAN : l / r; /* '/': no inf in reports */
    }
}

double qkperf_formula_eval(const qkperf_formula *f, const double *values, double time)
{
    return qkperf_eval_node(f->nodes, f->root, values, time);
}

void qkperf_formula_free(qkperf_formula *f)
{
    if (f == NULL)
        return;
    free(f->nodes);
    free(f);
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

static int qkperf_file_error(qkperf_reader *rd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int qkperf_file_error(qkperf_reader *rd, const char *fmt, ...)
{
    char what[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    qkperf_set_msg(rd->msg, rd->msglen, "%s:%d: %s", rd->g->path, rd->line, what);
    return -1;
}

static char *qkperf_trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int qkperf_is_ident(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int qkperf_add_event(qkperf_reader *rd, char *line)
{
    qkperf_group *g = rd->g;
    char *alias = line, *name, *rest;
    qkperf_group_event *ev;

    name = alias + strcspn(alias, " \t");
    if (*name != '\0')
        *name++ = '\0';
    name = qkperf_trim(name);
    rest = name + strcspn(name, " \t");
    if (*name == '\0' || *qkperf_trim(rest) != '\0')
        return qkperf_file_error(rd, "expected '<alias> <libpfm event>' in EVENTSET");
    if (!qkperf_is_ident(alias) || strcmp(alias, "time") == 0)
        return qkperf_file_error(rd,
                                 "bad event alias '%s' (an identifier "
                                 "[A-Za-z_][A-Za-z0-9_]*, not 'time')",
                                 alias);
    if (qkperf_group_event_index(g, alias) >= 0)
        return qkperf_file_error(rd, "duplicate event alias '%s'", alias);
    ev = realloc(g->events, (g->nevents + 1) * sizeof(*ev));
    if (ev == NULL)
        return qkperf_file_error(rd, "out of memory");
    g->events = ev;
    ev = &g->events[g->nevents];
    ev->alias = strdup(alias);
    ev->name = strdup(name);
    g->nevents++; /* counted even on failure, so that free releases it */
    if (ev->alias == NULL || ev->name == NULL)
        return qkperf_file_error(rd, "out of memory");
    return 0;
}

/* The metric name ends at the first tab or run of two spaces. */
static char *qkperf_metric_split(char *line)
{
    char *tab = strchr(line, '\t'), *two = strstr(line, "  ");

    if (tab == NULL || (two != NULL && two < tab))
        tab = two;
    if (tab != NULL)
        *tab++ = '\0';
    return tab;
}

static int qkperf_metric_index(const qkperf_group *g, const char *name)
{
    size_t i;

    for (i = 0; i < g->nmetrics; i++)
        if (strcmp(g->metrics[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int qkperf_add_metric(qkperf_reader *rd, char *line)
{
    qkperf_group *g = rd->g;
    char *text = qkperf_metric_split(line), what[160], err[640];
    qkperf_group_metric *m;

    if (text == NULL || *(text = qkperf_trim(text)) == '\0')
        return qkperf_file_error(rd, "expected '<name>  <formula>' in METRICS "
                                     "(name and formula separated by a tab or two spaces)");
    line = qkperf_trim(line);
    if (qkperf_metric_index(g, line) >= 0)
        return qkperf_file_error(rd, "duplicate metric '%s'", line);
    m = realloc(g->metrics, (g->nmetrics + 1) * sizeof(*m));
    if (m == NULL)
        return qkperf_file_error(rd, "out of memory");
    g->metrics = m;
    m = &g->metrics[g->nmetrics++];
    m->name = strdup(line);
    m->text = strdup(text);
    snprintf(what, sizeof(what), "metric '%s'", line);
    m->formula = qkperf_formula_compile(g, text, what, err, sizeof(err));
    if (m->formula == NULL)
        return qkperf_file_error(rd, "%s", err);
    if (m->name == NULL || m->text == NULL)
        return qkperf_file_error(rd, "out of memory");
    return 0;
}

static int qkperf_add_long(qkperf_reader *rd, const char *line)
{
    size_t len = strlen(line);
    char *p = realloc(rd->longbuf, rd->longlen + len + 1);

    if (p == NULL)
        return qkperf_file_error(rd, "out of memory");
    memcpy(p + rd->longlen, line, len + 1);
    rd->longbuf = p;
    rd->longlen += len;
    return 0;
}

/* A keyword line; 1 if handled, 0 if not a keyword, -1 on error. */
static int qkperf_keyword(qkperf_reader *rd, char *line)
{
    if (strncmp(line, "SHORT", 5) == 0 && (line[5] == '\0' || isspace((unsigned char)line[5]))) {
        if (rd->g->short_desc != NULL)
            return qkperf_file_error(rd, "second SHORT line");
        if (*qkperf_trim(line + 5) == '\0')
            return qkperf_file_error(rd, "SHORT needs a one-line description");
        rd->g->short_desc = strdup(qkperf_trim(line + 5));
        return rd->g->short_desc ? 1 : qkperf_file_error(rd, "out of memory");
    }
    if (strcmp(line, "EVENTSET") == 0) {
        if (rd->seen_events)
            return qkperf_file_error(rd, "second EVENTSET section");
        rd->seen_events = 1;
        rd->sec = QKPERF_SEC_EVENTS;
        return 1;
    }
    if (strcmp(line, "METRICS") == 0) {
        if (rd->sec != QKPERF_SEC_EVENTS)
            return qkperf_file_error(rd, "METRICS must follow the EVENTSET section");
        rd->sec = QKPERF_SEC_METRICS;
        return 1;
    }
    if (strcmp(line, "LONG") == 0) {
        rd->sec = QKPERF_SEC_LONG;
        return 1;
    }
    return 0;
}

static int qkperf_read_line(qkperf_reader *rd, char *raw)
{
    char *line;
    int kw;

    if (rd->sec == QKPERF_SEC_LONG)
        return qkperf_add_long(rd, raw);
    raw[strcspn(raw, "#")] = '\0';
    line = qkperf_trim(raw);
    if (*line == '\0')
        return 0;
    kw = qkperf_keyword(rd, line);
    if (kw != 0)
        return kw < 0 ? -1 : 0;
    switch (rd->sec) {
    case QKPERF_SEC_EVENTS:
        return qkperf_add_event(rd, line);
    case QKPERF_SEC_METRICS:
        return qkperf_add_metric(rd, line);
    default:
        return qkperf_file_error(rd,
                                 "expected SHORT, EVENTSET, METRICS or LONG, "
                                 "found '%s'",
                                 line);
    }
}

/* What must be there once the whole file is read. */
static int qkperf_read_finish(qkperf_reader *rd)
{
    qkperf_group *g = rd->g;

    if (g->short_desc == NULL)
        return qkperf_file_error(rd, "missing SHORT line");
    if (g->nevents == 0)
        return qkperf_file_error(rd, "no events (an EVENTSET section with "
                                     "'<alias> <libpfm event>' lines is required)");
    /* LONG without its leading and trailing blank lines. */
    g->long_desc = qkperf_strndup(rd->longbuf ? rd->longbuf : "", rd->longlen);
    if (g->long_desc == NULL)
        return qkperf_file_error(rd, "out of memory");
    while (g->long_desc[0] == '\n')
        memmove(g->long_desc, g->long_desc + 1, strlen(g->long_desc));
    qkperf_trim(g->long_desc);
    return 0;
}

static int qkperf_read_file(qkperf_group *g, FILE *fp, char *msg, size_t msglen)
{
    qkperf_reader rd = {g, QKPERF_SEC_HEAD, 0, 0, NULL, 0, msg, msglen};
    char buf[QKPERF_MAX_LINE];
    int ret = 0;

    while (ret == 0 && fgets(buf, sizeof(buf), fp) != NULL) {
        rd.line++;
        if (strchr(buf, '\n') == NULL && !feof(fp))
            ret = qkperf_file_error(&rd, "line longer than %d characters", QKPERF_MAX_LINE - 2);
        else
            ret = qkperf_read_line(&rd, buf);
    }
    if (ret == 0 && ferror(fp))
        ret = qkperf_file_error(&rd, "read error: %s", strerror(errno));
    if (ret == 0)
        ret = qkperf_read_finish(&rd);
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

static qkperf_group *qkperf_group_parse(FILE *fp, const char *path, const char *pmu,
                                        const char *name, char *msg, size_t msglen)
{
    qkperf_group *g = calloc(1, sizeof(*g));

    if (g == NULL || (g->path = strdup(path)) == NULL || (g->pmu = strdup(pmu)) == NULL ||
        (g->name = strdup(name)) == NULL) {
        qkperf_set_msg(msg, msglen, "%s: out of memory", path);
        qkperf_group_free(g);
        return NULL;
    }
    if (qkperf_read_file(g, fp, msg, msglen) != 0) {
        qkperf_group_free(g);
        return NULL;
    }
    return g;
}

/* ---- search path ------------------------------------------------------- */

typedef struct qkperf_search {
    const char *dir[QKPERF_MAX_DIRS];
    size_t n;
    char *env; /* copy of $QKPERF_GROUPS, split in place */
} qkperf_search;

static void qkperf_search_add(qkperf_search *s, const char *dir)
{
    if (*dir != '\0' && s->n < QKPERF_MAX_DIRS)
        s->dir[s->n++] = dir;
}

/* The caller's directories, then $QKPERF_GROUPS, then the built-in one. */
static int qkperf_search_init(qkperf_search *s, const char *const *dirs)
{
    const char *env = getenv("QKPERF_GROUPS");
    char *tok, *save = NULL;

    s->n = 0;
    s->env = NULL;
    for (; dirs != NULL && *dirs != NULL; dirs++)
        qkperf_search_add(s, *dirs);
    if (env != NULL && (s->env = strdup(env)) == NULL)
        return -1;
    for (tok = s->env ? strtok_r(s->env, ":", &save) : NULL; tok != NULL;
         tok = strtok_r(NULL, ":", &save))
        qkperf_search_add(s, tok);
    qkperf_search_add(s, QKPERF_GROUPS_DIR);
    return 0;
}

/* Group and folder names become path components: no '/', no leading '.'. */
static int qkperf_valid_name(const char *s)
{
    if (*s == '\0' || *s == '.')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static int qkperf_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int qkperf_list_has(char **names, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* Add the group files (or, with want_dirs, the subfolders) of one folder
 * to names; -1 when out of memory. */
static int qkperf_list_entries(const char *folder, int want_dirs, char ***names, size_t *n)
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

        if (!qkperf_valid_name(de->d_name) || qkperf_list_has(*names, *n, de->d_name))
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
    if (qkperf_search_init(&s, dirs) != 0) {
        free(names);
        return NULL;
    }
    for (i = 0; ret == 0 && i < s.n; i++) {
        char folder[4096];
        if (snprintf(folder, sizeof(folder), "%s/%s", s.dir[i], pmu) < (int)sizeof(folder))
            ret = qkperf_list_entries(folder, 0, &names, &n);
    }
    free(s.env);
    if (ret != 0) {
        qkperf_group_list_free(names);
        return NULL;
    }
    qsort(names, n, sizeof(*names), qkperf_name_cmp);
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
static void qkperf_known_groups(const char *const *dirs, const char *pmu, char *buf, size_t len)
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
static int qkperf_group_find(const qkperf_search *s, const char *pmu, const char *name,
                             qkperf_group **out, char *msg, size_t msglen)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        char path[4096];
        FILE *fp;

        if (snprintf(path, sizeof(path), "%s/%s/%s", s->dir[i], pmu, name) >= (int)sizeof(path)) {
            qkperf_set_msg(msg, msglen, "%s/%s/%s: path too long", s->dir[i], pmu, name);
            *out = NULL;
            return 1;
        }
        fp = fopen(path, "r");
        if (fp == NULL && errno == ENOENT)
            continue;
        if (fp == NULL) {
            qkperf_set_msg(msg, msglen, "%s: %s", path, strerror(errno));
            *out = NULL;
            return 1;
        }
        *out = qkperf_group_parse(fp, path, pmu, name, msg, msglen);
        fclose(fp);
        return 1;
    }
    return 0;
}

static void qkperf_unknown_group(const qkperf_search *s, const char *const *dirs, const char *pmu,
                                 const char *name, int fallback_perf, char *msg, size_t msglen)
{
    char known[512], perf[512] = "", searched[512] = "";
    size_t i, used = 0;

    qkperf_known_groups(dirs, pmu, known, sizeof(known));
    if (fallback_perf && strcmp(pmu, "perf") != 0) {
        char list[480];
        qkperf_known_groups(dirs, "perf", list, sizeof(list));
        snprintf(perf, sizeof(perf), "; in perf: %s", list);
    }
    for (i = 0; i < s->n && used < sizeof(searched); i++)
        used += (size_t)snprintf(searched + used, sizeof(searched) - used, "%s%s", i ? ", " : "",
                                 s->dir[i]);
    qkperf_set_msg(msg, msglen,
                   "unknown group '%s' for %s (known: %s%s; "
                   "searched: %s)",
                   name, pmu, known, perf, searched);
}

qkperf_group *qkperf_group_load(const char *const *dirs, const char *pmu, const char *name,
                                int fallback_perf, char *msg, size_t msglen)
{
    qkperf_group *g = NULL;
    qkperf_search s;

    if (!qkperf_valid_name(pmu) || !qkperf_valid_name(name)) {
        qkperf_set_msg(msg, msglen,
                       "bad group name '%s/%s' (letters, digits, "
                       "'_', '-', '.'; no '/')",
                       pmu, name);
        return NULL;
    }
    if (qkperf_search_init(&s, dirs) != 0) {
        qkperf_set_msg(msg, msglen, "out of memory");
        return NULL;
    }
    if (!qkperf_group_find(&s, pmu, name, &g, msg, msglen) &&
        !(fallback_perf && qkperf_group_find(&s, "perf", name, &g, msg, msglen)))
        qkperf_unknown_group(&s, dirs, pmu, name, fallback_perf, msg, msglen);
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
    if (qkperf_search_init(&s, dirs) != 0) {
        free(names);
        return NULL;
    }
    for (i = 0; ret == 0 && i < s.n; i++)
        ret = qkperf_list_entries(s.dir[i], 1, &names, &n);
    free(s.env);
    if (ret != 0) {
        qkperf_group_list_free(names);
        return NULL;
    }
    qsort(names, n, sizeof(*names), qkperf_name_cmp);
    return names;
}

/* 1 if the folder's .pmu file (in the first search directory that has the
 * folder) lists libpfm PMU `pmu` as a whole word on a line. */
static int qkperf_folder_serves(const qkperf_search *s, const char *folder, const char *pmu)
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
    if (folders != NULL && qkperf_search_init(&s, dirs) == 0) {
        for (char **f = folders; *f != NULL; f++)
            if (strcmp(*f, "perf") != 0 && qkperf_folder_serves(&s, *f, pmu)) {
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
