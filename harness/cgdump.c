/*
 * cgdump.c — a reader of callgrind profiles written with --dump-instr=yes:
 * the exclusive cost of every instruction, and their split by phase
 * through addrmap (see cgdump.h for the format points that matter).
 *
 * The reader follows callgrind's writer where the specification is
 * silent: a calls=/jump=/jcnd= target and the line after it are decoded
 * relative to the last cost line without becoming the new reference
 * (callgrind's fprint_jcc prints them without updating its `last`).
 */
#include "cgdump.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define QKPERF_CG_MAXPOS 4
#define QKPERF_CG_MAXEV 64

/* One id space of compressed names: id -> name. */
typedef struct qkperf_cg_names {
    char **v;
    size_t cap;
} qkperf_cg_names;

struct qkperf_cgdump {
    char *events[QKPERF_CG_MAXEV];
    size_t nevents;
    size_t npos;
    int instr_pos; /* index of "instr" among the positions, -1 if none */
    char **objects;
    size_t nobjects;
    uint32_t *obj_of_id; /* ob id -> object index + 1 (0: undefined) */
    size_t cap_obj_id;
    qkperf_cg_names files, fns;
    /* instructions */
    uint32_t *iobj;
    uint64_t *iaddr, *icost;
    size_t ninstr, capinstr;
    size_t *slots; /* hash of (object, address) -> instruction index + 1 */
    size_t capslots;
    uint64_t sum[QKPERF_CG_MAXEV], totals[QKPERF_CG_MAXEV], summary[QKPERF_CG_MAXEV];
    int have_totals, have_summary;
};

/* The parser's state between lines. */
typedef struct qkperf_cg_parse {
    qkperf_cgdump *d;
    const char *name;
    size_t lineno;
    char *err;
    size_t len;
    uint64_t last[QKPERF_CG_MAXPOS];
    uint32_t object; /* current ob=, index + 1; 0 before any */
    int after_call, after_jump;
} qkperf_cg_parse;

static int cg_fail(qkperf_cg_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cg_fail(qkperf_cg_parse *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err != NULL && p->len > 0)
        snprintf(p->err, p->len, "%s:%zu: %s", p->name, p->lineno, msg);
    return -1;
}

/* ---- names ------------------------------------------------------------------ */

static int cg_set_name(qkperf_cg_names *s, size_t id, const char *name)
{
    if (id >= s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap <= id)
            cap *= 2;
        char **t = realloc(s->v, cap * sizeof *t);
        if (t == NULL)
            return -1;
        memset(t + s->cap, 0, (cap - s->cap) * sizeof *t);
        s->v = t;
        s->cap = cap;
    }
    free(s->v[id]);
    s->v[id] = strdup(name);
    return s->v[id] ? 0 : -1;
}

static void cg_names_free(qkperf_cg_names *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i]);
    free(s->v);
}

/* "(id) name", "(id)" or "name": the name, defining or looking up the id.
 * NULL (after cg_fail) for an undefined id or a malformed one. */
static const char *cg_name(qkperf_cg_parse *p, qkperf_cg_names *s, const char *key, const char *v)
{
    if (*v != '(')
        return v;
    char *end;
    unsigned long id = strtoul(v + 1, &end, 10);
    if (end == v + 1)
        return v; /* uncompressed, e.g. frfn=(spontaneous) */
    if (*end != ')' || id > (1ul << 24)) {
        cg_fail(p, "%s=%s: a compressed name is (number) name", key, v);
        return NULL;
    }
    const char *name = end + 1;
    while (*name == ' ')
        name++;
    if (*name != '\0') {
        if (cg_set_name(s, id, name) != 0) {
            cg_fail(p, "out of memory");
            return NULL;
        }
    } else if (id >= s->cap || s->v[id] == NULL) {
        cg_fail(p, "%s=(%lu) refers to a name never defined before it", key, id);
        return NULL;
    }
    return s->v[id];
}

/* The object index + 1 of a path, added on first sight. */
static uint32_t qkperf_cg_object(qkperf_cgdump *d, const char *path)
{
    for (size_t i = 0; i < d->nobjects; i++)
        if (strcmp(d->objects[i], path) == 0)
            return (uint32_t)i + 1;
    char **t = realloc(d->objects, (d->nobjects + 1) * sizeof *t);
    if (t == NULL)
        return 0;
    d->objects = t;
    if ((d->objects[d->nobjects] = strdup(path)) == NULL)
        return 0;
    return (uint32_t)++d->nobjects;
}

/* Bind ob id to object index + 1. */
static int cg_bind(qkperf_cgdump *d, size_t id, uint32_t obj)
{
    if (id >= d->cap_obj_id) {
        size_t cap = d->cap_obj_id ? d->cap_obj_id : 64;
        while (cap <= id)
            cap *= 2;
        uint32_t *t = realloc(d->obj_of_id, cap * sizeof *t);
        if (t == NULL)
            return -1;
        memset(t + d->cap_obj_id, 0, (cap - d->cap_obj_id) * sizeof *t);
        d->obj_of_id = t;
        d->cap_obj_id = cap;
    }
    d->obj_of_id[id] = obj;
    return 0;
}

/* ob= and cob=: objects are their own id space, mapped to object indices. */
static int cg_on_ob(qkperf_cg_parse *p, const char *v, int set_current)
{
    qkperf_cgdump *d = p->d;
    uint32_t obj;
    char *end = (char *)v;
    unsigned long id = *v == '(' ? strtoul(v + 1, &end, 10) : 0;
    if (*v != '(' || end == v + 1) {
        obj = qkperf_cg_object(d, v); /* uncompressed */
    } else {
        if (*end != ')' || id > (1ul << 24))
            return cg_fail(p, "ob=%s: a compressed name is (number) name", v);
        const char *path = end + 1;
        while (*path == ' ')
            path++;
        if (*path == '\0') {
            if (id >= d->cap_obj_id || d->obj_of_id[id] == 0)
                return cg_fail(p, "ob=(%lu) refers to an object never defined before it", id);
            obj = d->obj_of_id[id];
        } else {
            obj = qkperf_cg_object(d, path);
            if (obj != 0 && cg_bind(d, id, obj) != 0)
                obj = 0;
        }
    }
    if (obj == 0)
        return cg_fail(p, "out of memory");
    if (set_current)
        p->object = obj;
    return 0;
}

/* ---- instructions ------------------------------------------------------------- */

static size_t cg_hash(uint32_t obj, uint64_t addr, size_t cap)
{
    uint64_t h = (addr ^ ((uint64_t)obj << 48)) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static size_t *cg_slot(const qkperf_cgdump *d, size_t *slots, size_t cap, uint32_t obj,
                       uint64_t addr)
{
    size_t j = cg_hash(obj, addr, cap);
    while (slots[j] != 0 && (d->iobj[slots[j] - 1] != obj || d->iaddr[slots[j] - 1] != addr))
        j = (j + 1) & (cap - 1);
    return &slots[j];
}

static int cg_grow(qkperf_cgdump *d)
{
    if (d->ninstr == d->capinstr) {
        size_t cap = d->capinstr ? 2 * d->capinstr : 1024;
        uint32_t *o = realloc(d->iobj, cap * sizeof *o);
        if (o != NULL)
            d->iobj = o;
        uint64_t *a = realloc(d->iaddr, cap * sizeof *a);
        if (a != NULL)
            d->iaddr = a;
        uint64_t *c = realloc(d->icost, cap * d->nevents * sizeof *c);
        if (c != NULL)
            d->icost = c;
        if (o == NULL || a == NULL || c == NULL)
            return -1;
        d->capinstr = cap;
    }
    if (2 * (d->ninstr + 1) > d->capslots) {
        size_t cap = d->capslots ? 2 * d->capslots : 2048;
        size_t *t = calloc(cap, sizeof *t);
        if (t == NULL)
            return -1;
        for (size_t i = 0; i < d->ninstr; i++)
            *cg_slot(d, t, cap, d->iobj[i], d->iaddr[i]) = i + 1;
        free(d->slots);
        d->slots = t;
        d->capslots = cap;
    }
    return 0;
}

static int cg_add(qkperf_cg_parse *p, uint64_t addr, const uint64_t *cost)
{
    qkperf_cgdump *d = p->d;
    uint32_t obj = p->object ? p->object - 1 : UINT32_MAX;
    if (obj == UINT32_MAX) {
        /* No ob= line at all (a cachegrind-style file): one anonymous object. */
        uint32_t o = qkperf_cg_object(d, "???");
        if (o == 0)
            return cg_fail(p, "out of memory");
        p->object = o;
        obj = o - 1;
    }
    if (cg_grow(d) != 0)
        return cg_fail(p, "out of memory");
    size_t *slot = cg_slot(d, d->slots, d->capslots, obj, addr);
    if (*slot == 0) {
        d->iobj[d->ninstr] = obj;
        d->iaddr[d->ninstr] = addr;
        memset(&d->icost[d->ninstr * d->nevents], 0, d->nevents * sizeof *d->icost);
        *slot = ++d->ninstr;
    }
    uint64_t *c = &d->icost[(*slot - 1) * d->nevents];
    for (size_t e = 0; e < d->nevents; e++) {
        c[e] += cost[e];
        d->sum[e] += cost[e];
    }
    return 0;
}

/* ---- lines ---------------------------------------------------------------------- */

/* Subpositions from *s into pos (relative to p->last). */
static int cg_positions(qkperf_cg_parse *p, char **s, uint64_t *pos)
{
    for (size_t i = 0; i < p->d->npos; i++) {
        char *t = *s, *end;
        while (*t == ' ' || *t == '\t')
            t++;
        if (*t == '*') {
            pos[i] = p->last[i];
            end = t + 1;
        } else if (*t == '+' || *t == '-') {
            uint64_t delta = strtoull(t + 1, &end, 0);
            if (!isdigit((unsigned char)t[1]) || end == t + 1)
                return cg_fail(p, "bad relative subposition '%.20s'", t);
            pos[i] = *t == '+' ? p->last[i] + delta : p->last[i] - delta;
        } else {
            errno = 0;
            pos[i] = strtoull(t, &end, 0);
            if (!isdigit((unsigned char)*t) || end == t || errno != 0)
                return cg_fail(p, "expected %zu subpositions, got '%.20s'", p->d->npos, t);
        }
        if (*end != ' ' && *end != '\t' && *end != '\0')
            return cg_fail(p, "bad subposition '%.20s'", t);
        *s = end;
    }
    return 0;
}

/* Up to nevents decimal counts from s; missing ones are 0. */
static int cg_costs(qkperf_cg_parse *p, char *s, uint64_t *cost, const char *what)
{
    memset(cost, 0, p->d->nevents * sizeof *cost);
    for (size_t e = 0;; e++) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            return 0;
        if (e == p->d->nevents)
            return cg_fail(p, "%s has more counts than the %zu events", what, p->d->nevents);
        char *end;
        errno = 0;
        cost[e] = strtoull(s, &end, 10);
        if (!isdigit((unsigned char)*s) || end == s || errno != 0 ||
            (*end != ' ' && *end != '\t' && *end != '\0'))
            return cg_fail(p, "%s: bad count '%.20s'", what, s);
        s = end;
    }
}

static int cg_cost_line(qkperf_cg_parse *p, char *s)
{
    qkperf_cgdump *d = p->d;
    if (d->nevents == 0)
        return cg_fail(p, "cost line before the events: line");
    if (d->instr_pos < 0)
        return cg_fail(p, "no instruction addresses (positions: line): callgrind must "
                          "run with --dump-instr=yes");
    uint64_t pos[QKPERF_CG_MAXPOS], cost[QKPERF_CG_MAXEV];
    if (cg_positions(p, &s, pos) != 0 || cg_costs(p, s, cost, "cost line") != 0)
        return -1;
    int inclusive = p->after_call, jump = p->after_jump;
    p->after_call = p->after_jump = 0;
    if (inclusive || jump)
        return 0; /* a call's inclusive cost, or a jump's source: not own cost */
    memcpy(p->last, pos, sizeof pos);
    return cg_add(p, pos[d->instr_pos], cost);
}

/* calls=COUNT TARGET, jump=COUNT TARGET, jcnd=EXE/COUNT TARGET. */
static int cg_call_line(qkperf_cg_parse *p, const char *key, char *v)
{
    char *s = v, *end;
    strtoull(s, &end, 10);
    if (end == s || (strcmp(key, "jcnd") == 0 && (*end != '/' || !isdigit((unsigned char)end[1]))))
        return cg_fail(p, "%s=%s: expected a count, then the target position", key, v);
    if (*end == '/')
        strtoull(end + 1, &end, 10);
    s = end;
    uint64_t target[QKPERF_CG_MAXPOS];
    if (p->d->npos > 0 && cg_positions(p, &s, target) != 0)
        return -1;
    if (strcmp(key, "calls") == 0)
        p->after_call = 1;
    else
        p->after_jump = 1;
    return 0;
}

typedef enum {
    QKPERF_CG_FILE,
    QKPERF_CG_FN,
    QKPERF_CG_OB,
    QKPERF_CG_COB,
    QKPERF_CG_CALL,
    QKPERF_CG_IGNORE
} qkperf_cg_kind;

static const struct {
    const char *key;
    qkperf_cg_kind kind;
} qkperf_cg_keys[] = {
    {"fl", QKPERF_CG_FILE},   {"fi", QKPERF_CG_FILE},    {"fe", QKPERF_CG_FILE},
    {"cfi", QKPERF_CG_FILE},  {"cfl", QKPERF_CG_FILE},   {"jfi", QKPERF_CG_FILE},
    {"fn", QKPERF_CG_FN},     {"cfn", QKPERF_CG_FN},     {"jfn", QKPERF_CG_FN},
    {"frfn", QKPERF_CG_FN},   {"ob", QKPERF_CG_OB},      {"cob", QKPERF_CG_COB},
    {"job", QKPERF_CG_COB},   {"calls", QKPERF_CG_CALL}, {"jump", QKPERF_CG_CALL},
    {"jcnd", QKPERF_CG_CALL}, {"rec", QKPERF_CG_IGNORE}, {"ln", QKPERF_CG_IGNORE},
};

static int cg_spec_line(qkperf_cg_parse *p, const char *key, char *v)
{
    for (size_t i = 0; i < sizeof qkperf_cg_keys / sizeof qkperf_cg_keys[0]; i++) {
        if (strcmp(qkperf_cg_keys[i].key, key) != 0)
            continue;
        switch (qkperf_cg_keys[i].kind) {
        case QKPERF_CG_FILE:
            return cg_name(p, &p->d->files, key, v) ? 0 : -1;
        case QKPERF_CG_FN:
            return cg_name(p, &p->d->fns, key, v) ? 0 : -1;
        case QKPERF_CG_OB:
            return cg_on_ob(p, v, 1);
        case QKPERF_CG_COB:
            return cg_on_ob(p, v, 0);
        case QKPERF_CG_CALL:
            return cg_call_line(p, key, v);
        case QKPERF_CG_IGNORE:
            return 0;
        }
    }
    return cg_fail(p, "unknown line '%s=...'", key);
}

static int cg_words(qkperf_cg_parse *p, char *v, char **out, size_t max, size_t *n,
                    const char *what)
{
    *n = 0;
    for (char *w = strtok(v, " \t"); w != NULL; w = strtok(NULL, " \t")) {
        if (*n == max)
            return cg_fail(p, "more than %zu %s", max, what);
        out[(*n)++] = w;
    }
    return 0;
}

static int cg_positions_header(qkperf_cg_parse *p, char *v)
{
    char *w[QKPERF_CG_MAXPOS];
    size_t n;
    if (cg_words(p, v, w, QKPERF_CG_MAXPOS, &n, "positions") != 0)
        return -1;
    p->d->npos = n;
    p->d->instr_pos = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(w[i], "instr") == 0)
            p->d->instr_pos = (int)i;
    return 0;
}

static int cg_events_header(qkperf_cg_parse *p, char *v)
{
    qkperf_cgdump *d = p->d;
    if (d->nevents > 0)
        return cg_fail(p, "a second events: line");
    char *w[QKPERF_CG_MAXEV];
    size_t n;
    if (cg_words(p, v, w, QKPERF_CG_MAXEV, &n, "events") != 0)
        return -1;
    if (n == 0)
        return cg_fail(p, "events: names no event");
    for (size_t i = 0; i < n; i++)
        if ((d->events[i] = strdup(w[i])) == NULL)
            return cg_fail(p, "out of memory");
    d->nevents = n;
    return 0;
}

static int cg_header(qkperf_cg_parse *p, const char *key, char *v)
{
    qkperf_cgdump *d = p->d;
    if (strcmp(key, "positions") == 0)
        return cg_positions_header(p, v);
    if (strcmp(key, "events") == 0)
        return cg_events_header(p, v);
    int totals = strcmp(key, "totals") == 0;
    if (totals || strcmp(key, "summary") == 0) {
        if (d->nevents == 0)
            return cg_fail(p, "%s: before events:", key);
        uint64_t *dst = totals ? d->totals : d->summary;
        uint64_t v64[QKPERF_CG_MAXEV];
        if (cg_costs(p, v, v64, key) != 0)
            return -1;
        for (size_t e = 0; e < d->nevents; e++)
            dst[e] += v64[e]; /* one per part */
        *(totals ? &d->have_totals : &d->have_summary) = 1;
    }
    return 0; /* version, creator, cmd, desc, part, ...: not needed */
}

static int cg_line(qkperf_cg_parse *p, char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#')
        return 0;
    if (isdigit((unsigned char)line[0]) || strchr("+-*", line[0]) != NULL)
        return cg_cost_line(p, line);
    if (p->after_call)
        return cg_fail(p, "calls= line without the cost line that must follow it");
    size_t k = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_");
    if (k > 0 && line[k] == '=') {
        line[k] = '\0';
        return cg_spec_line(p, line, line + k + 1);
    }
    if (k > 0 && line[k] == ':') {
        line[k] = '\0';
        char *v = line + k + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        return cg_header(p, line, v);
    }
    return cg_fail(p, "not a callgrind line: '%.40s'", line);
}

qkperf_cgdump *qkperf_cgdump_parse(FILE *f, const char *name, char *err, size_t len)
{
    qkperf_cgdump *d = calloc(1, sizeof *d);
    qkperf_cg_parse p = {.d = d, .name = name, .err = err, .len = len};
    if (d == NULL) {
        snprintf(err, len, "%s: out of memory", name);
        return NULL;
    }
    d->npos = 1; /* the default positions: line */
    d->instr_pos = -1;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        p.lineno++;
        rc = cg_line(&p, line);
    }
    free(line);
    p.lineno++;
    if (rc == 0 && p.after_call)
        rc = cg_fail(&p, "calls= line without the cost line that must follow it");
    if (rc == 0 && d->nevents == 0)
        rc = cg_fail(&p, "no events: line: not a callgrind profile");
    if (rc == 0 && d->instr_pos < 0)
        rc = cg_fail(&p, "no instruction addresses: callgrind must run with "
                         "--dump-instr=yes");
    if (rc != 0) {
        qkperf_cgdump_free(d);
        return NULL;
    }
    return d;
}

qkperf_cgdump *qkperf_cgdump_read(const char *path, char *err, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, len, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    qkperf_cgdump *d = qkperf_cgdump_parse(f, path, err, len);
    fclose(f);
    return d;
}

void qkperf_cgdump_free(qkperf_cgdump *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nevents; i++)
        free(d->events[i]);
    for (size_t i = 0; i < d->nobjects; i++)
        free(d->objects[i]);
    free(d->objects);
    free(d->obj_of_id);
    cg_names_free(&d->files);
    cg_names_free(&d->fns);
    free(d->iobj);
    free(d->iaddr);
    free(d->icost);
    free(d->slots);
    free(d);
}

/* ---- access ----------------------------------------------------------------------- */

size_t qkperf_cgdump_nevents(const qkperf_cgdump *d)
{
    return d->nevents;
}

const char *qkperf_cgdump_event(const qkperf_cgdump *d, size_t i)
{
    return i < d->nevents ? d->events[i] : NULL;
}

int qkperf_cgdump_event_index(const qkperf_cgdump *d, const char *name)
{
    for (size_t i = 0; i < d->nevents; i++)
        if (strcmp(d->events[i], name) == 0)
            return (int)i;
    return -1;
}

size_t qkperf_cgdump_nobjects(const qkperf_cgdump *d)
{
    return d->nobjects;
}

const char *qkperf_cgdump_object(const qkperf_cgdump *d, size_t i)
{
    return i < d->nobjects ? d->objects[i] : NULL;
}

size_t qkperf_cgdump_ninstr(const qkperf_cgdump *d)
{
    return d->ninstr;
}

qkperf_cg_instr qkperf_cgdump_instr(const qkperf_cgdump *d, size_t i)
{
    return (qkperf_cg_instr){d->iobj[i], d->iaddr[i], &d->icost[i * d->nevents]};
}

const uint64_t *qkperf_cgdump_sum(const qkperf_cgdump *d)
{
    return d->sum;
}

const uint64_t *qkperf_cgdump_totals(const qkperf_cgdump *d)
{
    return d->have_totals ? d->totals : NULL;
}

const uint64_t *qkperf_cgdump_summary(const qkperf_cgdump *d)
{
    return d->have_summary ? d->summary : NULL;
}

/* ---- the split by phase ------------------------------------------------------------- */

static void cg_note_unknown(qkperf_cg_split *s, const char *object, const char *why)
{
    size_t used = strlen(s->unknown_why);
    if (strstr(s->unknown_why, object) != NULL || used + 4 >= sizeof s->unknown_why)
        return;
    snprintf(s->unknown_why + used, sizeof s->unknown_why - used, "%s%s", used ? "; " : "", why);
}

/* The map of object i, or NULL with the reason (the object is then all
 * unknown). */
static qkperf_addrmap *cg_object_map(const qkperf_cgdump *d, size_t i,
                                     const qkperf_addr_block *blocks, size_t nblocks, char *why,
                                     size_t len)
{
    const char *path = d->objects[i];
    if (path[0] != '/') {
        snprintf(why, len, "callgrind named no object file for some code (%s)", path);
        return NULL;
    }
    qkperf_addrmap *m = qkperf_addrmap_open_elf(path, 0, why, len);
    if (m != NULL && qkperf_addrmap_set_blocks(m, blocks, nblocks, why, len) != 0) {
        qkperf_addrmap_free(m);
        m = NULL;
    }
    return m;
}

static void cg_add_row(qkperf_cg_split *s, size_t row, const uint64_t *cost)
{
    for (size_t e = 0; e < s->nevents; e++)
        s->cost[row * s->nevents + e] += cost[e];
}

int qkperf_cgdump_split(const qkperf_cgdump *d, const qkperf_addr_block *blocks, size_t nblocks,
                        size_t nphases, qkperf_cg_split *out, char *err, size_t len)
{
    memset(out, 0, sizeof *out);
    for (size_t b = 0; b < nblocks; b++) {
        if (blocks[b].phase < 0 || (size_t)blocks[b].phase >= nphases) {
            snprintf(err, len, "cgdump: block %s has phase %d; phases are 0..%zu",
                     blocks[b].name ? blocks[b].name : "(null)", blocks[b].phase, nphases - 1);
            return -1;
        }
    }
    out->nphases = nphases;
    out->nevents = d->nevents;
    out->cost = calloc((nphases + 2) * d->nevents, sizeof *out->cost);
    if (out->cost == NULL) {
        snprintf(err, len, "cgdump: out of memory");
        return -1;
    }
    for (size_t o = 0; o < d->nobjects; o++) {
        char why[400] = "";
        qkperf_addrmap *m = cg_object_map(d, o, blocks, nblocks, why, sizeof why);
        for (size_t i = 0; i < d->ninstr; i++) {
            if (d->iobj[i] != o)
                continue;
            qkperf_addr_result r = {.status = QKPERF_ADDR_NO_FILE, .why = why};
            if (m != NULL)
                qkperf_addrmap_lookup(m, d->iaddr[i], &r);
            size_t row = r.phase >= 0                 ? (size_t)r.phase
                         : r.status == QKPERF_ADDR_OK ? nphases
                                                      : nphases + 1;
            if (m == NULL)
                row = nphases + 1;
            cg_add_row(out, row, &d->icost[i * d->nevents]);
            if (row == nphases + 1)
                cg_note_unknown(out, d->objects[o], r.why ? r.why : why);
        }
        qkperf_addrmap_free(m);
    }
    return 0;
}

void qkperf_cg_split_free(qkperf_cg_split *s)
{
    free(s->cost);
    s->cost = NULL;
}
