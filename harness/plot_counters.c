/*
 * plot_counters.c — the plots of counted and modelled figures: per-phase
 * counters from the sim, static and hw sources, a panel per (source,
 * metric) chosen by priority; the static source's port pressure per
 * phase and resource (llvm-mca; the model named, and the stand-in model of
 * the AVX-512 variants when the host's has no AVX-512); and, where a PMU
 * counted a PORTS group, the same layout of its counted per-port (or
 * proxy) figures, ports-hw (see plot.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_driver.h"

/* ---- 5. counters --------------------------------------------------------------- */

#define QKPERF_COUNTER_PANELS 6

typedef struct qkperf_panel {
    const char *source, *metric, *unit;
} qkperf_panel;

/* The panels in priority order: each entry is one panel, drawn with the
 * first of its metrics that this op and size has counted for some staged
 * phase and that is not zero for every variant and phase. Sources take
 * turns, so each shows its most telling figure before any shows a second;
 * the chosen panels are then drawn grouped by source. */
typedef struct qkperf_pick {
    const char *source, *metric[2];
} qkperf_pick;

static const qkperf_pick counter_picks[] = {
    {"sim", {"Ir/elem", "Ir"}},
    {"static", {"cycles/elem", "cycles"}},
    {"hw", {"instructions", NULL}},
    {"sim", {"D1 miss ratio", "D1mr"}},
    {"static", {"uops/iter", "IPC"}},
    {"hw", {"cycles", NULL}},
    {"sim", {"Dr", NULL}},
    {"hw", {"L1D misses", NULL}},
    {"sim", {"Dw", NULL}},
    {"hw", {"IPC", NULL}},
};

static const char *const counter_sources[] = {"sim", "static", "hw"};

/* Port pressure has its own plot (ports-OP-SIZE). */
static int port_metric(const char *metric)
{
    return !strncmp(metric, "port ", 5) || !strncmp(metric, "bottleneck ", 11);
}

enum { METRIC_ABSENT, METRIC_ZERO, METRIC_NONZERO };

/* Whether a metric of one source has counted staged records for op at size,
 * and whether any of them is not zero; *unit is set from the first. */
static int metric_state(const qkperf_results *r, const char *op, const char *size,
                        const char *source, const char *metric, const char **unit)
{
    int st = METRIC_ABSENT;
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!x->counted || !x->n || strcmp(x->source, source) || strcmp(x->metric, metric) ||
            strcmp(x->op, op) || strcmp(x->size, size) || strcmp(x->view, QKPERF_VIEW_STAGED))
            continue;
        if (st == METRIC_ABSENT && unit)
            *unit = x->unit;
        if (x->median != 0 && !isnan(x->median))
            return METRIC_NONZERO;
        st = METRIC_ZERO;
    }
    return st;
}

static void list_add(char *buf, size_t cap, const char *sep, const char *item)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", n ? sep : "", item);
}

typedef struct qkperf_counter_choice {
    qkperf_panel p[QKPERF_COUNTER_PANELS];
    size_t n;
    char left[400]; /* metrics worth a panel that found no room: "sim Dr, sim Dw" */
    char zero[400]; /* metrics zero for every variant and phase: "sim D1mr, D1mw" */
} qkperf_counter_choice;

static int chosen(const qkperf_counter_choice *ch, const char *source, const char *metric)
{
    for (size_t k = 0; k < ch->n; k++)
        if (!strcmp(ch->p[k].source, source) && !strcmp(ch->p[k].metric, metric))
            return 1;
    return 0;
}

static void choose_panel(qkperf_counter_choice *ch, const char *source, const char *metric,
                         const char *unit)
{
    char item[80];
    if (ch->n < QKPERF_COUNTER_PANELS) {
        ch->p[ch->n++] = (qkperf_panel){source, metric, unit};
        return;
    }
    snprintf(item, sizeof item, "%s %s", source, metric);
    list_add(ch->left, sizeof ch->left, ", ", item);
}

static void counter_choice(const qkperf_results *r, const char *op, const char *size,
                           qkperf_counter_choice *ch)
{
    memset(ch, 0, sizeof *ch);
    int has[3] = {0, 0, 0}; /* a source that has a priority metric */
    for (size_t k = 0; k < sizeof counter_picks / sizeof counter_picks[0]; k++) {
        const qkperf_pick *pk = &counter_picks[k];
        for (size_t m = 0; m < 2 && pk->metric[m]; m++) {
            const char *unit = "";
            if (metric_state(r, op, size, pk->source, pk->metric[m], &unit) != METRIC_NONZERO)
                continue;
            for (size_t s = 0; s < 3; s++)
                has[s] |= !strcmp(pk->source, counter_sources[s]);
            choose_panel(ch, pk->source, pk->metric[m], unit);
            break;
        }
    }
    /* A source none of whose metrics is in the list (a user's own event
     * group) still shows what it counted, in document order; metrics zero
     * everywhere are named in the caption instead of drawn. */
    for (size_t s = 0; s < 3; s++) {
        char zeros[300] = "";
        qkperf_names seen = {.n = 0};
        for (size_t i = 0; i < r->n; i++) {
            const qkperf_record *x = &r->rec[i];
            if (strcmp(x->source, counter_sources[s]) || strcmp(x->op, op) ||
                strcmp(x->size, size) || port_metric(x->metric))
                continue;
            size_t before = seen.n;
            qkperf_names_add(&seen, x->metric);
            if (seen.n == before)
                continue;
            const char *unit = "";
            int st = metric_state(r, op, size, x->source, x->metric, &unit);
            if (st == METRIC_ZERO)
                list_add(zeros, sizeof zeros, ", ", x->metric);
            else if (st == METRIC_NONZERO && !has[s] && !chosen(ch, x->source, x->metric))
                choose_panel(ch, counter_sources[s], x->metric, unit);
        }
        if (*zeros) {
            char item[340];
            snprintf(item, sizeof item, "%s %s", counter_sources[s], zeros);
            list_add(ch->zero, sizeof ch->zero, "; ", item);
        }
    }
    /* Drawn grouped by source (sim, static, hw), by priority within one. */
    qkperf_panel sorted[QKPERF_COUNTER_PANELS];
    size_t n = 0;
    for (size_t s = 0; s < 3; s++)
        for (size_t k = 0; k < ch->n; k++)
            if (!strcmp(ch->p[k].source, counter_sources[s]))
                sorted[n++] = ch->p[k];
    memcpy(ch->p, sorted, n * sizeof sorted[0]);
}

size_t qkperf_counter_panels(const qkperf_results *r, const char *op, const char *size,
                             char (*names)[64], size_t max)
{
    qkperf_counter_choice ch;
    counter_choice(r, op, size, &ch);
    for (size_t k = 0; k < ch.n && k < max; k++)
        snprintf(names[k], 64, "%s %s", ch.p[k].source, ch.p[k].metric);
    return ch.n;
}

/* Counts (and cycles per phase) are shown per element, so sizes compare;
 * a metric already per something ("cycles/elem", "uops/iter") is not. */
static int per_element(const qkperf_panel *pn)
{
    return (!strcmp(pn->unit, "count") || !strcmp(pn->unit, "cycles")) && !strchr(pn->metric, '/');
}

/* Panel file: row per variant: x, variant, one value per phase (NaN when
 * that phase has no record). */
static int panel_file(qkperf_plot_ctx *c, const char *name, const char *op, const char *size,
                      const qkperf_panel *pn, const qkperf_names *vs, const qkperf_names *ph)
{
    char path[PATH_MAX];
    FILE *f = qkperf_plot_open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    double div = per_element(pn) ? qkperf_plot_elements(size) : 1;
    fprintf(f, "# x,variant");
    for (size_t p = 0; p < ph->n; p++) {
        fputc(',', f);
        qkperf_plot_name_field(f, ph->v[p]);
    }
    fputc('\n', f);
    for (size_t v = 0; v < vs->n; v++) {
        fprintf(f, "%zu,", v);
        qkperf_plot_name_field(f, vs->v[v]);
        for (size_t p = 0; p < ph->n; p++) {
            const qkperf_record *x = NULL;
            for (size_t i = 0; i < c->r->n && !x; i++) {
                const qkperf_record *y = &c->r->rec[i];
                if (y->counted && y->n && !strcmp(y->op, op) && !strcmp(y->size, size) &&
                    !strcmp(y->variant, vs->v[v]) && !strcmp(y->phase, ph->v[p]) &&
                    !strcmp(y->source, pn->source) && !strcmp(y->metric, pn->metric) &&
                    !strcmp(y->view, QKPERF_VIEW_STAGED))
                    x = y;
            }
            fprintf(f, x ? ",%.6g" : ",NaN", x ? x->median / div : 0);
        }
        fputc('\n', f);
    }
    return qkperf_plot_close_data(c, f, path);
}

/* "Ir per element (sim)", "IPC (hw)", "uops/iter (static)", "x [unit]
 * (src)": the title of a panel. */
static void panel_label(char *buf, size_t cap, const qkperf_panel *pn)
{
    char unit[40] = "";
    if (per_element(pn))
        snprintf(unit, sizeof unit, " per element");
    else if (*pn->unit && !strchr(pn->metric, '/'))
        snprintf(unit, sizeof unit, " [%s]", pn->unit);
    snprintf(buf, cap, "%s%s (%s)", pn->metric, unit, pn->source);
}

static int counters_render(qkperf_plot_ctx *c, const char *op, const char *size, const char *name,
                           const qkperf_counter_choice *ch, const qkperf_names *vs,
                           const qkperf_names *ph)
{
    char labels[QKPERF_COUNTER_PANELS][160], prefix[PATH_MAX], first[PATH_MAX + 8];
    const char *lv[QKPERF_COUNTER_PANELS];
    for (size_t k = 0; k < ch->n; k++) {
        panel_label(labels[k], sizeof labels[k], &ch->p[k]);
        lv[k] = labels[k];
    }
    snprintf(prefix, sizeof prefix, "%s/data/%s", c->dir, name);
    snprintf(first, sizeof first, "%s-1.csv", prefix);
    char title[200], cap[700];
    qkperf_gp_vars v = {0};
    qkperf_gp_str(&v, "prefix", prefix);
    qkperf_gp_list(&v, "panels", lv, ch->n);
    qkperf_gp_list(&v, "phases", ph->v, ph->n);
    qkperf_gp_list(&v, "variants", vs->v, vs->n);
    snprintf(title, sizeof title, "%s %s: per-phase counters by source", op, size);
    snprintf(cap, sizeof cap,
             "%s at %s: per-phase counters (sim = callgrind, static = llvm-mca model, hw = PMU), "
             "labelled by source%s%s",
             op, size, *ch->zero ? "; zero for every variant and phase, so not drawn: " : "",
             ch->zero);
    int rc = qkperf_plot_render(c, "counters", name, first, title, &v, cap);
    qkperf_gp_vars_free(&v);
    return rc;
}

int qkperf_plot_counters(qkperf_plot_ctx *c, const char *op, const char *size)
{
    qkperf_counter_choice ch;
    counter_choice(c->r, op, size, &ch);
    char name[200];
    qkperf_plot_name(name, sizeof name, "counters", op, size);
    if (!ch.n)
        return 0; /* reported once per document by qkperf_plot_all */
    qkperf_names vs = qkperf_plot_distinct(c->r, op, QKPERF_FIELD_VARIANT, 1),
                 ph = qkperf_plot_distinct(c->r, op, QKPERF_FIELD_PHASE, 1);
    for (size_t k = 0; k < ch.n; k++) {
        char pname[260];
        snprintf(pname, sizeof pname, "%s-%zu", name, k + 1);
        if (panel_file(c, pname, op, size, &ch.p[k], &vs, &ph))
            return -1;
    }
    if (*ch.left && qkperf_plot_skip(c, "%s: no room for %s (at most %d panels)", name, ch.left,
                                     QKPERF_COUNTER_PANELS))
        return -1;
    return counters_render(c, op, size, name, &ch, &vs, &ph);
}

/* ---- 6. port pressure (static) ------------------------------------------------- */

/* Resource families in drawing order: FP/vector pipes; integer ALUs and
 * branch units; address generation, loads and stores; anything else (e.g.
 * Intel's numbered ports) last. Names are LLVM's scheduling-model resources
 * with '.N' for the units of a multi-unit resource (Zn3FPP45.0, Zn3LSU.1). */
static const char *const resource_families[] = {"FP / vector", "integer", "load / store", "other"};

static int resource_family(const char *res)
{
    static const char *const keys[][6] = {{"FP", "Vec", "VEC", NULL},
                                          {"ALU", "BRU", "Int", "INT", "Div", NULL},
                                          {"AGU", "LSU", "Load", "Store", "LD", NULL}};
    for (int f = 0; f < 3; f++)
        for (int k = 0; keys[f][k]; k++)
            if (strstr(res, keys[f][k]))
                return f;
    return 3;
}

static int resource_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int fx = resource_family(x), fy = resource_family(y);
    return fx != fy ? fx - fy : strverscmp(x, y);
}

/* The resource named by a "port R" or "bottleneck R" metric, else NULL. */
static const char *port_resource(const qkperf_record *x)
{
    if (!strncmp(x->metric, "port ", 5))
        return x->metric + 5;
    if (!strncmp(x->metric, "bottleneck ", 11))
        return x->metric + 11;
    return NULL;
}

static const qkperf_record *port_record(const qkperf_results *r, const char *op, const char *size,
                                        const char *variant, const char *phase, const char *prefix,
                                        const char *res)
{
    char metric[64];
    snprintf(metric, sizeof metric, "%s%s", prefix, res);
    const qkperf_record *x = qkperf_plot_counted(r, op, variant, size, phase, metric);
    return x && !strcmp(x->source, "static") && !isnan(x->median) ? x : NULL;
}

typedef struct qkperf_ports {
    qkperf_names vs, ph, res;
    double vmax;
} qkperf_ports;

static void ports_collect(const qkperf_results *r, const char *op, const char *size,
                          qkperf_ports *p)
{
    qkperf_names all_ph = qkperf_plot_distinct(r, op, QKPERF_FIELD_PHASE, 1), has_ph = {.n = 0};
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        const char *res = port_resource(x);
        if (!res || !x->counted || !x->n || strcmp(x->source, "static") || strcmp(x->op, op) ||
            strcmp(x->size, size))
            continue;
        qkperf_names_add(&p->vs, x->variant);
        qkperf_names_add(&has_ph, x->phase);
        qkperf_names_add(&p->res, res);
        if (x->median > p->vmax)
            p->vmax = x->median;
    }
    /* Phases in the op's order, the fused total (if modelled) last. */
    for (size_t k = 0; k < all_ph.n; k++)
        for (size_t j = 0; j < has_ph.n; j++)
            if (!strcmp(all_ph.v[k], has_ph.v[j]))
                qkperf_names_add(&p->ph, all_ph.v[k]);
    for (size_t j = 0; j < has_ph.n; j++)
        if (!strcmp(has_ph.v[j], "total"))
            qkperf_names_add(&p->ph, "total");
    qsort(p->res.v, p->res.n, sizeof p->res.v[0], resource_cmp);
}

/* Rows variant,phase,resource (indices),uops per iteration,bottleneck. */
static int ports_rows(FILE *f, const qkperf_results *r, const char *op, const char *size,
                      const qkperf_ports *p)
{
    int rows = 0;
    fprintf(f, "# variant,phase,resource (indices into the lists given to "
               "ports.gp),uops_per_iter,bottleneck\n");
    for (size_t v = 0; v < p->vs.n; v++)
        for (size_t k = 0; k < p->ph.n; k++)
            for (size_t j = 0; j < p->res.n; j++) {
                const qkperf_record *x =
                    port_record(r, op, size, p->vs.v[v], p->ph.v[k], "port ", p->res.v[j]);
                const qkperf_record *b =
                    port_record(r, op, size, p->vs.v[v], p->ph.v[k], "bottleneck ", p->res.v[j]);
                if (!x && !b)
                    continue;
                fprintf(f, "%zu,%zu,%zu,%.6g,%d\n", v, k, j, (x ? x : b)->median, b != NULL);
                rows++;
            }
    return rows;
}

/* The resource families present, in order, with the index of each one's
 * first resource (resources are sorted by family). */
static size_t family_starts(const qkperf_ports *p, const char **fams, double *starts)
{
    size_t n = 0;
    for (size_t j = 0; j < p->res.n; j++)
        if (!j || resource_family(p->res.v[j]) != resource_family(p->res.v[j - 1])) {
            fams[n] = resource_families[resource_family(p->res.v[j])];
            starts[n++] = (double)j;
        }
    return n;
}

/* The lists and scale every port plot gives ports.gp. */
static void ports_vars(qkperf_gp_vars *v, const qkperf_ports *p)
{
    const char *fams[4];
    double starts[4];
    char var[40];
    size_t nf = family_starts(p, fams, starts);
    qkperf_gp_list(v, "variants", p->vs.v, p->vs.n);
    qkperf_gp_list(v, "phases", p->ph.v, p->ph.n);
    qkperf_gp_list(v, "resources", p->res.v, p->res.n);
    qkperf_gp_list(v, "families", fams, nf);
    for (size_t f = 0; f < nf; f++) {
        snprintf(var, sizeof var, "famstart_%zu", f + 1);
        qkperf_gp_num(v, var, starts[f]);
    }
    qkperf_gp_num(v, "vmax", p->vmax);
}

static int ports_render(qkperf_plot_ctx *c, const char *op, const char *size, const char *name,
                        const char *path, const qkperf_ports *p)
{
    /* The models as the run recorded them: the host's, and the stand-in
     * the AVX-512 variants were given when the host's model has none. */
    const char *mcpu = json_string_value(json_object_get(c->r->config, "mcpu"));
    const char *avx512 = json_string_value(json_object_get(c->r->config, "mcpu_avx512"));
    char model[200], title[400], cap[700], extra[260] = "";
    snprintf(model, sizeof model, "%s", mcpu && *mcpu ? mcpu : "CPU model not recorded");
    if (avx512 && *avx512)
        snprintf(extra, sizeof extra, "; AVX-512 variants -mcpu=%s", avx512);
    qkperf_gp_vars v = {0};
    ports_vars(&v, p);
    char short_avx512[64] = "";
    if (avx512 && *avx512) /* "icelake-server (stand-in: ...)": the model's name */
        snprintf(short_avx512, sizeof short_avx512, "; AVX-512 variants -mcpu=%.*s (stand-in)",
                 (int)strcspn(avx512, " "), avx512);
    snprintf(title, sizeof title, "%s %s: port pressure per phase, llvm-mca -mcpu=%s%s", op, size,
             model, short_avx512);
    snprintf(
        cap, sizeof cap,
        "%s at %s: uops per loop iteration on each llvm-mca resource (static model, -mcpu=%s%s), "
        "per phase and variant; the bottleneck resource of each phase outlined",
        op, size, model, extra);
    int rc = qkperf_plot_render(c, "ports", name, path, title, &v, cap);
    qkperf_gp_vars_free(&v);
    return rc;
}

static int ports_static(qkperf_plot_ctx *c, const char *op, const char *size)
{
    qkperf_ports p;
    ports_collect(c->r, op, size, &p);
    if (!p.vs.n || !p.res.n)
        return 0; /* reported once per document by qkperf_plot_all */
    char name[200], path[PATH_MAX];
    qkperf_plot_name(name, sizeof name, "ports", op, size);
    FILE *f = qkperf_plot_open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    int rows = ports_rows(f, c->r, op, size, &p);
    if (qkperf_plot_close_data(c, f, path))
        return -1;
    if (!rows)
        return qkperf_plot_skip(c, "%s: the static records carry no port pressure", name);
    return ports_render(c, op, size, name, path, &p);
}

/* ---- 7. port figures counted by the PMU (hw) ------------------------------------ */

/* A PORTS group's figures, by the units their names carry: uops per cycle
 * on each port (Intel), ops of a kind per cycle and the fraction of cycles
 * a scheduler was full (Zen's proxies). */
static int hw_port_metric(const char *m)
{
    static const char *const tails[] = {"[uops/cycle]", "[per cycle]", "full [cycles]"};
    size_t n = strlen(m);
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        size_t k = strlen(tails[i]);
        if (n >= k && !strcmp(m + n - k, tails[i]))
            return 1;
    }
    return 0;
}

static const qkperf_record *hw_port_record(const qkperf_results *r, const char *op,
                                           const char *size, const char *variant, const char *phase,
                                           const char *metric)
{
    const qkperf_record *x = qkperf_plot_counted(r, op, variant, size, phase, metric);
    return x && !strcmp(x->source, "hw") && isfinite(x->median) ? x : NULL;
}

static void hw_ports_collect(const qkperf_results *r, const char *op, const char *size,
                             qkperf_ports *p)
{
    qkperf_names all_ph = qkperf_plot_distinct(r, op, QKPERF_FIELD_PHASE, 1), has_ph = {.n = 0};
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!x->counted || !x->n || strcmp(x->source, "hw") || strcmp(x->op, op) ||
            strcmp(x->size, size) || !hw_port_metric(x->metric) ||
            strcmp(x->view, qkperf_default_view(x->phase)))
            continue;
        qkperf_names_add(&p->vs, x->variant);
        qkperf_names_add(&has_ph, x->phase);
        qkperf_names_add(&p->res, x->metric);
        if (x->median > p->vmax)
            p->vmax = x->median;
    }
    for (size_t k = 0; k < all_ph.n; k++)
        for (size_t j = 0; j < has_ph.n; j++)
            if (!strcmp(all_ph.v[k], has_ph.v[j]))
                qkperf_names_add(&p->ph, all_ph.v[k]);
    for (size_t j = 0; j < has_ph.n; j++)
        if (!strcmp(has_ph.v[j], "total"))
            qkperf_names_add(&p->ph, "total");
    qsort(p->res.v, p->res.n, sizeof p->res.v[0], resource_cmp);
}

static int hw_ports_rows(FILE *f, const qkperf_results *r, const char *op, const char *size,
                         const qkperf_ports *p)
{
    int rows = 0;
    fprintf(f, "# variant,phase,figure (indices into the lists given to ports.gp),median,0\n");
    for (size_t v = 0; v < p->vs.n; v++)
        for (size_t k = 0; k < p->ph.n; k++)
            for (size_t j = 0; j < p->res.n; j++) {
                const qkperf_record *x =
                    hw_port_record(r, op, size, p->vs.v[v], p->ph.v[k], p->res.v[j]);
                if (!x)
                    continue;
                fprintf(f, "%zu,%zu,%zu,%.6g,0\n", v, k, j, x->median);
                rows++;
            }
    return rows;
}

static int ports_hw(qkperf_plot_ctx *c, const char *op, const char *size)
{
    qkperf_ports p;
    hw_ports_collect(c->r, op, size, &p);
    if (!p.vs.n || !p.res.n)
        return 0; /* no PORTS group was counted: nothing to say */
    char name[200], path[PATH_MAX], title[300], cap[600];
    qkperf_plot_name(name, sizeof name, "ports-hw", op, size);
    FILE *f = qkperf_plot_open_data(c, name, path, sizeof path);
    if (!f)
        return -1;
    int rows = hw_ports_rows(f, c->r, op, size, &p);
    if (qkperf_plot_close_data(c, f, path))
        return -1;
    if (!rows)
        return qkperf_plot_skip(c, "%s: no counted port figures", name);
    const char *pmu =
        json_string_value(json_object_get(json_object_get(c->r->machine, "pmu"), "libpfm_pmu"));
    qkperf_gp_vars v = {0};
    ports_vars(&v, &p);
    qkperf_gp_str(&v, "cbtitle", "per cycle (log scale)");
    qkperf_gp_str(&v, "footer", "source hw: counted by the PMU, medians per call");
    snprintf(title, sizeof title, "%s %s: port figures per phase, counted (hw, %s)", op, size,
             pmu ? pmu : "PMU");
    snprintf(cap, sizeof cap,
             "%s at %s: the PORTS group's figures per phase and variant, counted by the PMU "
             "(%s; source hw): uops per cycle on each port where the PMU counts ports, "
             "otherwise the dispatch and scheduler proxies",
             op, size, pmu ? pmu : "PMU");
    int rc = qkperf_plot_render(c, "ports", name, path, title, &v, cap);
    qkperf_gp_vars_free(&v);
    return rc;
}

int qkperf_plot_ports(qkperf_plot_ctx *c, const char *op, const char *size)
{
    int rc = ports_static(c, op, size);
    return rc ? rc : ports_hw(c, op, size);
}
