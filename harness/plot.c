/*
 * plot.c — the plots driver (see plot.h for the list of plots, and
 * plot_driver.h for how strings reach gnuplot). For each plot a file of
 * plot_phases.c or plot_counters.c writes small CSV files into DIR/data/ (a
 * '#' header line naming the columns, then comma-separated rows; blocks of
 * a multi-series file are separated by two blank lines, gnuplot's `index`),
 * then runs gnuplot on plots/NAME.gp once for PNG and once for SVG with
 *   gnuplot -e "data='...'; out='...'; fmt='png'; title='...'; ..." NAME.gp
 * gnuplot's stderr goes to DIR/data/NAME.log, whose first line is the
 * error reported when a render fails. gnuplot exits 0 even when it could
 * not write all of its output (a full disk), so each file is checked
 * complete afterwards.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "registry.h"
#include "plot_driver.h"

/* ---- small helpers ------------------------------------------------------------ */

void qkperf_names_add(qkperf_names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name))
            return;
    if (s->n < QKPERF_PLOT_MAX)
        s->v[s->n++] = name;
}

qkperf_names qkperf_plot_distinct(const qkperf_results *r, const char *op, int field,
                                  int staged_only)
{
    qkperf_names s = {.n = 0};
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!x->counted || (op && strcmp(x->op, op)) ||
            (staged_only && strcmp(x->view, QKPERF_VIEW_STAGED)))
            continue;
        const char *f[] = {x->op, x->variant, x->size, x->phase};
        qkperf_names_add(&s, f[field]);
    }
    return s;
}

const qkperf_record *qkperf_plot_counted(const qkperf_results *r, const char *op,
                                         const char *variant, const char *size, const char *phase,
                                         const char *metric)
{
    const qkperf_record *x = qkperf_results_find(r, op, variant, size, phase, metric);
    return x && x->counted && x->n > 0 ? x : NULL;
}

double qkperf_plot_elements(const char *size)
{
    double a = 0, b = 1;
    if (sscanf(size, "%lfx%lf", &a, &b) < 1)
        return NAN;
    return a * b;
}

qkperf_names qkperf_plot_sizes(const qkperf_results *r, const char *op)
{
    qkperf_names s = qkperf_plot_distinct(r, op, QKPERF_FIELD_SIZE, 0);
    for (size_t i = 1; i < s.n; i++)
        for (size_t j = i; j > 0 && qkperf_plot_elements(s.v[j - 1]) > qkperf_plot_elements(s.v[j]);
             j--) {
            const char *t = s.v[j];
            s.v[j] = s.v[j - 1];
            s.v[j - 1] = t;
        }
    return s;
}

/* A name usable in a file name: [A-Za-z0-9.-], others become '_'. */
static void file_safe(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < cap; s++)
        dst[k++] = (isalnum((unsigned char)*s) || *s == '-' || *s == '.') ? *s : '_';
    dst[k] = 0;
}

void qkperf_plot_name(char *buf, size_t cap, const char *prefix, const char *op, const char *size)
{
    char safe[120];
    file_safe(safe, sizeof safe, size);
    snprintf(buf, cap, "%s-%s-%s", prefix, op, safe);
}

static int add_entry(char ***list, size_t *n, const char *s)
{
    char **grown = realloc(*list, (*n + 2) * sizeof **list);
    if (!grown)
        return -1;
    *list = grown;
    if (!(grown[*n] = strdup(s)))
        return -1;
    grown[++*n] = NULL;
    return 0;
}

int qkperf_plot_fail(qkperf_plot_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->len, fmt, ap);
    va_end(ap);
    return -1;
}

int qkperf_plot_skip(qkperf_plot_ctx *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return add_entry(&c->out->skipped, &c->out->nskipped, buf)
               ? qkperf_plot_fail(c, "out of memory")
               : 0;
}

/* ---- gnuplot variables ---------------------------------------------------------- */

static void put(qkperf_gp_vars *v, const char *s, size_t n)
{
    if (v->oom)
        return;
    if (v->n + n + 1 > v->cap) {
        size_t cap = v->cap ? v->cap : 256;
        while (cap < v->n + n + 1)
            cap *= 2;
        char *p = realloc(v->s, cap);
        if (!p) {
            v->oom = 1;
            return;
        }
        v->s = p;
        v->cap = cap;
    }
    memcpy(v->s + v->n, s, n);
    v->n += n;
    v->s[v->n] = 0;
}

static void put_name(qkperf_gp_vars *v, const char *name)
{
    if (v->n)
        put(v, "; ", 2);
    put(v, name, strlen(name));
    put(v, "=", 1);
}

void qkperf_gp_str(qkperf_gp_vars *v, const char *name, const char *value)
{
    put_name(v, name);
    put(v, "'", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '\'')
            put(v, "'.\"'\".'", 7); /* close, a quote in double quotes, reopen */
        else if (*p < 0x20 || *p == 0x7f)
            put(v, "?", 1); /* results documents refuse these; others get a mark */
        else
            put(v, (const char *)p, 1);
    }
    put(v, "'", 1);
}

void qkperf_gp_num(qkperf_gp_vars *v, const char *name, double value)
{
    char buf[40];
    if (isfinite(value))
        snprintf(buf, sizeof buf, "%.6g", value);
    else
        snprintf(buf, sizeof buf, "NaN");
    put_name(v, name);
    put(v, buf, strlen(buf));
}

void qkperf_gp_list(qkperf_gp_vars *v, const char *name, const char *const *items, size_t n)
{
    char var[80];
    snprintf(var, sizeof var, "%s_n", name);
    qkperf_gp_num(v, var, (double)n);
    for (size_t i = 0; i < n; i++) {
        snprintf(var, sizeof var, "%s_%zu", name, i + 1);
        qkperf_gp_str(v, var, items[i]);
    }
}

void qkperf_gp_vars_free(qkperf_gp_vars *v)
{
    free(v->s);
    memset(v, 0, sizeof *v);
}

/* ---- data files ------------------------------------------------------------------ */

FILE *qkperf_plot_open_data(qkperf_plot_ctx *c, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/data/%s.csv", c->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        qkperf_plot_fail(c, "cannot write %s: %s", path, strerror(errno));
    return f;
}

int qkperf_plot_close_data(qkperf_plot_ctx *c, FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return qkperf_plot_fail(c, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
    return 0;
}

void qkperf_plot_name_field(FILE *f, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        fputc(*p == ',' || *p == '"' || *p < 0x20 || *p == 0x7f ? '_' : *p, f);
}

/* ---- finding gnuplot and the scripts ------------------------------------------ */

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

const char *qkperf_gnuplot_path(char *buf, size_t cap)
{
    const char *env = getenv("QKPERF_GNUPLOT");
    if (env && *env)
        return executable(env) ? env : NULL;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(buf, cap, "%.*s/gnuplot", (int)n, p);
        if (n && executable(buf))
            return buf;
        p += n + (p[n] == ':');
    }
    return NULL;
}

/* $QKPERF_PLOTS_DIR, else the source tree (running from a build), else the
 * installed copy: the first that holds `script`. */
int qkperf_plot_scripts_dir(const char *script, char *buf, size_t cap, char *err, size_t len)
{
    const char *cand[3] = {getenv("QKPERF_PLOTS_DIR"), NULL, NULL};
#ifdef QKPERF_SRC_PLOTS_DIR
    cand[1] = QKPERF_SRC_PLOTS_DIR;
#endif
#ifdef QKPERF_PLOTS_DIR
    cand[2] = QKPERF_PLOTS_DIR;
#endif
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX];
        if (!cand[i] || !*cand[i])
            continue;
        snprintf(path, sizeof path, "%s/%s", cand[i], script);
        if (access(path, R_OK) == 0) {
            snprintf(buf, cap, "%s", cand[i]);
            return 0;
        }
        if (i == 0)
            return snprintf(err, len,
                            "QKPERF_PLOTS_DIR=%s has no %s: point it at qkperf's "
                            "plots folder",
                            cand[0], script),
                   -1;
    }
    return snprintf(err, len,
                    "gnuplot script %s not found (looked in %s and %s): set "
                    "QKPERF_PLOTS_DIR",
                    script, cand[1] ? cand[1] : "(no source tree)",
                    cand[2] ? cand[2] : "(no install path)"),
           -1;
}

static int make_dir(qkperf_plot_ctx *c, const char *path)
{
    struct stat st;
    if (mkdir(path, 0777) == 0 || (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return 0;
    return qkperf_plot_fail(c, "cannot create folder %s: %s", path,
                            strerror(errno == EEXIST ? ENOTDIR : errno));
}

int qkperf_plot_ctx_init(qkperf_plot_ctx *c, const qkperf_results *r, const char *dir,
                         const char *script, qkperf_plots *out, char *err, size_t len)
{
    memset(out, 0, sizeof *out);
    *c = (qkperf_plot_ctx){.r = r, .dir = dir, .out = out, .err = err, .len = len};
    if (!(c->gnuplot = qkperf_gnuplot_path(c->gpbuf, sizeof c->gpbuf)))
        return qkperf_plot_fail(c, "%s", QKPERF_NO_GNUPLOT);
    char why[PATH_MAX * 3], data[PATH_MAX];
    if (qkperf_plot_scripts_dir(script, c->scripts, sizeof c->scripts, why, sizeof why))
        return qkperf_plot_fail(c, "%s", why);
    snprintf(data, sizeof data, "%s/data", dir);
    return make_dir(c, dir) || make_dir(c, data) ? -1 : 0;
}

/* ---- running gnuplot ------------------------------------------------------------ */

int qkperf_gnuplot_run(const char *gnuplot, const char *script, const char *vars, const char *log,
                       char *err, size_t len)
{
    char e_opt[] = "-e", name[] = "gnuplot",
         *argv[] = {name, e_opt, (char *)vars, (char *)script, NULL};
    char why[PATH_MAX + 200], line[300];
    int status, rc = qkperf_child_run(gnuplot, argv, NULL, log, &status, why, sizeof why);
    if (rc == QKPERF_CHILD_EXEC)
        return snprintf(err, len, "cannot execute gnuplot (%s): %s", gnuplot, strerror(errno)), -1;
    if (rc)
        return snprintf(err, len, "gnuplot: %s", why), -1;
    if (qkperf_child_exec_failed(status))
        return snprintf(err, len, "cannot execute gnuplot (%s): exit %d (see %s)", gnuplot,
                        WEXITSTATUS(status), log),
               -1;
    struct stat st;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (stat(log, &st) == 0 && st.st_size == 0)
            unlink(log); /* keep only logs that say something */
        return 0;
    }
    qkperf_first_line(log, line, sizeof line, NULL);
    if (WIFSIGNALED(status))
        return snprintf(err, len, "gnuplot killed by signal %d on %s: %s (see %s)",
                        WTERMSIG(status), script, *line ? line : "no message", log),
               -1;
    return snprintf(err, len, "gnuplot failed on %s: %s (see %s)", script,
                    *line ? line : "no message", log),
           -1;
}

/* Whether a file gnuplot wrote is whole: a PNG ends with its IEND chunk,
 * an SVG with </svg> (then white space). */
static int complete(const char *path, const char *fmt)
{
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    unsigned char tail[64];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    size_t k = n < 0 ? 0 : (size_t)(n < 64 ? n : 64);
    int ok = n > 0 && fseek(f, -(long)k, SEEK_END) == 0 && fread(tail, 1, k, f) == k;
    fclose(f);
    if (!ok)
        return 0;
    if (!strcmp(fmt, "png"))
        return k >= 12 && !memcmp(tail + k - 12, iend, 12);
    while (k && isspace(tail[k - 1]))
        k--;
    return k >= 6 && !memcmp(tail + k - 6, "</svg>", 6);
}

static int render_one(qkperf_plot_ctx *c, const char *sp, const char *name, const char *fmt,
                      const char *data, const char *title, const qkperf_gp_vars *extra)
{
    char out[PATH_MAX], log[PATH_MAX], why[PATH_MAX * 3];
    snprintf(out, sizeof out, "%s/%s.%s", c->dir, name, fmt);
    snprintf(log, sizeof log, "%s/data/%s.log", c->dir, name);
    qkperf_gp_vars v = {0};
    qkperf_gp_str(&v, "data", data);
    qkperf_gp_str(&v, "out", out);
    qkperf_gp_str(&v, "fmt", fmt);
    qkperf_gp_str(&v, "title", title);
    if (extra && extra->n) {
        put(&v, "; ", 2);
        put(&v, extra->s, extra->n);
    }
    int rc = 0;
    if (v.oom || (extra && extra->oom))
        rc = qkperf_plot_fail(c, "out of memory");
    else if (qkperf_gnuplot_run(c->gnuplot, sp, v.s, log, why, sizeof why))
        rc = qkperf_plot_fail(c, "%s", why);
    else if (!complete(out, fmt))
        rc = qkperf_plot_fail(c,
                              "gnuplot wrote an incomplete %s (is the disk full, or a file size "
                              "limit set?)",
                              out);
    qkperf_gp_vars_free(&v);
    return rc;
}

int qkperf_plot_render(qkperf_plot_ctx *c, const char *script, const char *name, const char *data,
                       const char *title, const qkperf_gp_vars *extra, const char *caption)
{
    static const char *const fmts[] = {"png", "svg"};
    char sp[PATH_MAX + 32];
    snprintf(sp, sizeof sp, "%s/%s.gp", c->scripts, script);
    for (size_t i = 0; i < 2; i++) {
        char file[300];
        snprintf(file, sizeof file, "%s.%s", name, fmts[i]);
        if (render_one(c, sp, name, fmts[i], data, title, extra))
            return -1;
        size_t ncap = c->out->nfiles; /* captions run parallel to files */
        if (add_entry(&c->out->captions, &ncap, caption) ||
            add_entry(&c->out->files, &c->out->nfiles, file))
            return qkperf_plot_fail(c, "out of memory");
    }
    return 0;
}

/* ---- driver ------------------------------------------------------------------ */

static int plot_op(qkperf_plot_ctx *c, const char *op, int *counters, int *ports)
{
    qkperf_names ss = qkperf_plot_sizes(c->r, op);
    for (size_t s = 0; s < ss.n; s++)
        if (qkperf_plot_breakdown(c, op, ss.v[s]) || qkperf_plot_ladder(c, op, ss.v[s]))
            return -1;
    if (qkperf_plot_throughput(c, op) || qkperf_plot_speedup(c, op))
        return -1;
    for (size_t s = 0; s < ss.n; s++) {
        size_t before = c->out->nfiles;
        if (qkperf_plot_counters(c, op, ss.v[s]))
            return -1;
        *counters += c->out->nfiles > before;
    }
    for (size_t s = 0; s < ss.n; s++) {
        size_t before = c->out->nfiles;
        if (qkperf_plot_ports(c, op, ss.v[s]))
            return -1;
        *ports += c->out->nfiles > before;
    }
    return 0;
}

int qkperf_plot_all(const qkperf_results *r, const char *dir, qkperf_plots *out, char *err,
                    size_t len)
{
    qkperf_plot_ctx c;
    if (qkperf_plot_ctx_init(&c, r, dir, "breakdown.gp", out, err, len))
        return -1;
    qkperf_names ops = qkperf_plot_distinct(r, NULL, QKPERF_FIELD_OP, 0);
    int counters = 0, ports = 0;
    size_t kernels = 0; /* every op but decode, which has a plot of its own: a
                         * plugin's too, whether or not it is loaded here */
    for (size_t i = 0; i < ops.n; i++) {
        if (!strcmp(ops.v[i], "decode"))
            continue;
        kernels++;
        if (plot_op(&c, ops.v[i], &counters, &ports))
            return -1;
    }
    size_t before = out->nfiles;
    if (qkperf_plot_decode(&c))
        return -1;
    if (!kernels && out->nfiles == before &&
        qkperf_plot_skip(&c, "all plots: the document has no counted records"))
        return -1;
    if (kernels && !counters &&
        qkperf_plot_skip(
            &c, "counters: no counted records from the sim, static or hw sources in this document"))
        return -1;
    if (kernels && !ports &&
        qkperf_plot_skip(
            &c,
            "ports: no port pressure records from the static source (llvm-mca) in this document"))
        return -1;
    return 0;
}

void qkperf_plots_free(qkperf_plots *p)
{
    char **lists[] = {p->files, p->captions, p->skipped};
    for (size_t l = 0; l < 3; l++) {
        for (size_t i = 0; lists[l] && lists[l][i]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    memset(p, 0, sizeof *p);
}
