/*
 * formula.c — the formulas of derived metrics (formula.h): a recursive
 * descent parser into a small AST, and its evaluation in double.
 *
 * Grammar: expr := term (('+' | '-') term)*; term := unary (('*' | '/')
 * unary)*; unary := '-' unary | primary; primary := number | identifier |
 * '(' expr ')'. Numbers are decimal (1, 0.5, 1e-9); identifiers are the
 * caller's aliases and `time` (seconds of the region). Division by zero or
 * a NaN operand gives NaN, which callers print as n/a. Nesting is bounded
 * (QKPERF_MAX_DEPTH), in the parser's recursion and in the tree, so a
 * hostile formula gives one line instead of exhausting the stack.
 */
#include "formula.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QKPERF_MAX_DEPTH = 64 };

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
    const char *const *aliases; /* identifiers; `time` is always known */
    size_t naliases;
    const char *text;
    const char *p;
    const char *what; /* "metric 'IPC'" or NULL, for messages */
    qkperf_node *nodes;
    int n;
    int depth;
    char *msg;
    size_t msglen;
} qkperf_parser;

static int parse_expr(qkperf_parser *ps);

static void skip_space(qkperf_parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static int node_height(const qkperf_parser *ps, int k)
{
    return k < 0 ? 0 : ps->nodes[k].height;
}

/* Refuse nesting past QKPERF_MAX_DEPTH, in the parser's recursion ('(' and
 * unary '-') and in the tree (long chains of operators), so that a hostile
 * formula can exhaust neither the parser's stack nor the evaluation's. */
static int too_deep(qkperf_parser *ps, int depth);

static int new_node(qkperf_parser *ps, char op, int left, int right)
{
    qkperf_node *nd = &ps->nodes[ps->n];
    int hl = node_height(ps, left), hr = node_height(ps, right);

    if (too_deep(ps, 1 + (hl > hr ? hl : hr)))
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
static void formula_where(const qkperf_parser *ps, char *buf, size_t len)
{
    if (ps->what != NULL)
        snprintf(buf, len, " in %s", ps->what);
    else
        buf[0] = '\0';
}

static int syntax_error(qkperf_parser *ps, const char *expected)
{
    char where[160];

    formula_where(ps, where, sizeof(where));
    set_msg(ps->msg, ps->msglen, "syntax error%s at column %d: expected %s, found %s%s%s", where,
            (int)(ps->p - ps->text) + 1, expected, *ps->p ? "'" : "end of formula",
            *ps->p ? ps->p : "", *ps->p ? "'" : "");
    return -1;
}

/* "loads, misses, time": what an identifier may be. */
static void known_aliases(const qkperf_parser *ps, char *buf, size_t len)
{
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < ps->naliases && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s, ", ps->aliases[i]);
    if (used < len)
        snprintf(buf + used, len - used, "time");
}

static int too_deep(qkperf_parser *ps, int depth)
{
    char where[160];

    if (depth <= QKPERF_MAX_DEPTH)
        return 0;
    formula_where(ps, where, sizeof(where));
    set_msg(ps->msg, ps->msglen, "formula nested deeper than %d levels%s", QKPERF_MAX_DEPTH, where);
    return 1;
}

static int parse_ident(qkperf_parser *ps)
{
    const char *start = ps->p;
    size_t len;
    int id;

    while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
        ps->p++;
    len = (size_t)(ps->p - start);
    if (len == 4 && strncmp(start, "time", 4) == 0)
        return new_node(ps, 't', -1, -1);
    for (id = 0; id < (int)ps->naliases; id++) {
        const char *alias = ps->aliases[id];
        if (strlen(alias) == len && strncmp(alias, start, len) == 0) {
            int k = new_node(ps, 'v', -1, -1);
            ps->nodes[k].ref = id;
            return k;
        }
    }
    {
        char where[160], known[512];
        formula_where(ps, where, sizeof(where));
        known_aliases(ps, known, sizeof(known));
        set_msg(ps->msg, ps->msglen, "unknown identifier '%.*s'%s (known: %s)", (int)len, start,
                where, known);
    }
    return -1;
}

/* digits [. digits] [e [+-] digits]: plain decimal, no hex, inf or nan
 * (which strtod alone would accept). */
static int parse_number(qkperf_parser *ps)
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
            return syntax_error(ps, "a number");
        for (ps->p = e; isdigit((unsigned char)*ps->p); ps->p++)
            ;
    }
    if ((size_t)(ps->p - start) >= sizeof(buf) || (ps->p - start == 1 && *start == '.')) {
        ps->p = start;
        return syntax_error(ps, "a number");
    }
    memcpy(buf, start, (size_t)(ps->p - start));
    buf[ps->p - start] = '\0';
    k = new_node(ps, 'n', -1, -1);
    ps->nodes[k].num = strtod(buf, NULL);
    return k;
}

/* primary := number | identifier | '(' expr ')' */
static int parse_primary(qkperf_parser *ps)
{
    int k;

    skip_space(ps);
    if (isdigit((unsigned char)*ps->p) || *ps->p == '.')
        return parse_number(ps);
    if (isalpha((unsigned char)*ps->p) || *ps->p == '_')
        return parse_ident(ps);
    if (*ps->p != '(')
        return syntax_error(ps, "a number, an event alias, time or '('");
    ps->p++;
    k = parse_expr(ps);
    if (k < 0)
        return -1;
    skip_space(ps);
    if (*ps->p != ')')
        return syntax_error(ps, "')'");
    ps->p++;
    return k;
}

/* unary := '-' unary | primary */
static int parse_unary(qkperf_parser *ps)
{
    int k;

    skip_space(ps);
    if (*ps->p != '-')
        return parse_primary(ps);
    ps->p++;
    if (too_deep(ps, ++ps->depth))
        return -1;
    k = parse_unary(ps);
    ps->depth--;
    return k < 0 ? -1 : new_node(ps, '~', k, -1);
}

/* term := unary (('*' | '/') unary)* */
static int parse_term(qkperf_parser *ps)
{
    int left = parse_unary(ps);

    while (left >= 0) {
        char op;
        int right;

        skip_space(ps);
        if (*ps->p != '*' && *ps->p != '/')
            break;
        op = *ps->p++;
        right = parse_unary(ps);
        left = right < 0 ? -1 : new_node(ps, op, left, right);
    }
    return left;
}

/* expr := term (('+' | '-') term)*; depth-limited so that a hostile
 * "((((..." cannot exhaust the stack. */
static int parse_expr(qkperf_parser *ps)
{
    int left;

    if (too_deep(ps, ++ps->depth))
        return -1;
    left = parse_term(ps);
    while (left >= 0) {
        char op;
        int right;

        skip_space(ps);
        if (*ps->p != '+' && *ps->p != '-')
            break;
        op = *ps->p++;
        right = parse_term(ps);
        left = right < 0 ? -1 : new_node(ps, op, left, right);
    }
    ps->depth--;
    return left;
}

qkperf_formula *qkperf_formula_compile(const char *text, const char *const *aliases,
                                       size_t naliases, const char *what, char *msg, size_t msglen)
{
    /* Every node consumes at least one character (an operator, or a
     * number/identifier), so strlen + 1 nodes always suffice. */
    qkperf_parser ps = {aliases, naliases, text, text, what, NULL, 0, 0, msg, msglen};
    qkperf_formula *f = malloc(sizeof(*f));

    ps.nodes = malloc((strlen(text) + 1) * sizeof(*ps.nodes));
    if (f == NULL || ps.nodes == NULL) {
        set_msg(msg, msglen, "out of memory");
        goto fail;
    }
    f->root = parse_expr(&ps);
    if (f->root < 0)
        goto fail;
    skip_space(&ps);
    if (*ps.p != '\0') {
        syntax_error(&ps, "an operator or end of formula");
        goto fail;
    }
    f->nodes = ps.nodes;
    return f;
fail:
    free(ps.nodes);
    free(f);
    return NULL;
}

static double eval_node(const qkperf_node *nodes, int k, const double *values, double time)
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
        return -eval_node(nodes, nd->left, values, time);
    default:
        break;
    }
    l = eval_node(nodes, nd->left, values, time);
    r = eval_node(nodes, nd->right, values, time);
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
    return eval_node(f->nodes, f->root, values, time);
}

void qkperf_formula_free(qkperf_formula *f)
{
    if (f == NULL)
        return;
    free(f->nodes);
    free(f);
}
