/*
 * sim.c — the `sim` counter source (sim.h): callgrind run as a child of
 * qkperf, and its dumps read back into records.
 *
 * Why a child: valgrind instruments a whole process from its start, so the
 * measured work must run in a process of its own. The child runs under
 * --instr-atstart=no --collect-atstart=no: it starts instrumentation once
 * the workspace exists (the cache simulator runs from then on), runs each
 * region once with collection off as warm-up, then once more between two
 * CALLGRIND_TOGGLE_COLLECTs, and dumps that region under its name. The same
 * is done for an empty function of each call shape first; its cost (the
 * call and the client requests themselves) is subtracted from every region,
 * so what remains is the kernel's own, exactly.
 *
 * The cache geometry is passed explicitly, read from sysfs: valgrind's own
 * detection misreads some hosts' last level (this project's VMs among them).
 * When sysfs gives one valgrind refuses, a fixed geometry is used and the
 * document's note says so.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include "cgdump.h"
#include "incontext.h"
#include "runner.h"
#include "sim.h"
#include "child.h"
#include "plugin.h"

/* Events read from the dumps, in the order records are emitted. */
static const char *const sim_events[] = {"Ir", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw"};
enum { SIM_NEV = sizeof sim_events / sizeof sim_events[0], SIM_MAX_REGIONS = QK_MAX_PHASES + 3 };

/* Dump names of the empty regions, one per call shape; ':' never occurs in
 * a phase name. */
#define SIM_EMPTY_PHASE "empty:phase"
#define SIM_EMPTY_TOTAL "empty:total"
#define SIM_DUMP_BASE "callgrind.out"

/* Used when sysfs does not give a geometry valgrind accepts (and then
 * named as a fallback in the note, never passed off as the host's). */
#define SIM_D1_FALLBACK "32768,8,64"
#define SIM_LL_FALLBACK "33554432,16,64"

static const char sim_avx512_why[] = "valgrind 3.19 cannot run AVX-512: skipped";

typedef struct sim_region {
    char name[32];
    double ev[SIM_NEV];
    char path[PATH_MAX + 300]; /* the dump, for the in-context split */
} sim_region;

/* Copy at most len - 1 bytes of src, always terminated. */
static void sim_copy(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* "<what> <path>" into err; returns -1. */
static int sim_fail(char *err, size_t len, const char *what, const char *path)
{
    snprintf(err, len, "%s %s", what, path);
    return -1;
}

/* ---- availability ------------------------------------------------------- */

int qkperf_sim_available(char *why, size_t len)
{
    char *const argv[] = {"valgrind", "--version", NULL};
    char msg[512];
    int status, rc = qkperf_child_run("valgrind", argv, NULL, NULL, &status, msg, sizeof msg);
    if (rc == QKPERF_CHILD_EXEC && errno == ENOENT)
        return snprintf(why, len, "valgrind not found on PATH (apt-get install valgrind)"), 0;
    if (rc)
        return snprintf(why, len, "%s", msg), 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return snprintf(why, len, "'valgrind --version' failed (status %d)", status), 0;
    return 1;
}

/* ---- cache geometry ------------------------------------------------------ */

static int sim_read_line(const char *dir, const char *file, char *buf, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok ? 0 : -1;
}

static unsigned long sim_read_num(const char *dir, const char *file)
{
    char buf[64], *end;
    if (sim_read_line(dir, file, buf, sizeof buf))
        return 0;
    unsigned long v = strtoul(buf, &end, 10);
    if (*end == 'K')
        v <<= 10;
    else if (*end == 'M')
        v <<= 20;
    return v;
}

static int sim_pow2(unsigned long x)
{
    return x && !(x & (x - 1));
}

/* "size,ways,line" of one sysfs cache folder into out; NULL if valgrind
 * would accept it, else why not (it wants a power-of-two number of sets
 * and line size). */
static const char *sim_geometry(const char *dir, char *out, size_t len)
{
    unsigned long size = sim_read_num(dir, "size");
    unsigned long ways = sim_read_num(dir, "ways_of_associativity");
    unsigned long line = sim_read_num(dir, "coherency_line_size");
    snprintf(out, len, "%lu,%lu,%lu", size, ways, line);
    if (!size || !ways || !line)
        return "size, ways or line size missing";
    if (size % (ways * line))
        return "size not a multiple of ways x line size";
    if (!sim_pow2(line))
        return "line size not a power of two";
    return sim_pow2(size / (ways * line)) ? NULL : "number of sets not a power of two";
}

/* One cache as sysfs gave it: level, geometry, and why valgrind would
 * refuse it (NULL: accepted); level 0 when sysfs has none. */
typedef struct sim_cache {
    unsigned long level;
    char geom[64];
    const char *refused;
} sim_cache;

/* "; sysfs gave L3 100663296,16,64 (number of sets not a power of two)"
 * style words for one cache that fell back, appended to out. */
static void sim_fallback_words(char *out, size_t len, const char *opt, const char *fixed,
                               const sim_cache *c)
{
    size_t n = strlen(out);
    if (c->level)
        snprintf(out + n, len - n, "%sfallback geometry %s=%s; sysfs gave L%lu %s (%s)",
                 n ? "; " : "", opt, fixed, c->level, c->geom, c->refused);
    else
        snprintf(out + n, len - n, "%sfallback geometry %s=%s; sysfs gave no such cache",
                 n ? "; " : "", opt, fixed);
}

void qkperf_sim_cache_geometry(const char *root, char *d1, char *ll, size_t len, char *fallback,
                               size_t flen)
{
    sim_cache c1 = {0}, cl = {0};
    for (int i = 0; i < 16; i++) {
        char dir[PATH_MAX], type[32];
        sim_cache c = {0};
        snprintf(dir, sizeof dir, "%s/index%d", root ? root : "/sys/devices/system/cpu/cpu0/cache",
                 i);
        c.level = sim_read_num(dir, "level");
        if (!c.level || sim_read_line(dir, "type", type, sizeof type) ||
            !strcmp(type, "Instruction"))
            continue;
        c.refused = sim_geometry(dir, c.geom, sizeof c.geom);
        if (c.level == 1 && !strcmp(type, "Data"))
            c1 = c;
        if (c.level > 1 && c.level > cl.level)
            cl = c;
    }
    sim_copy(d1, len, c1.level && !c1.refused ? c1.geom : SIM_D1_FALLBACK);
    sim_copy(ll, len, cl.level && !cl.refused ? cl.geom : SIM_LL_FALLBACK);
    fallback[0] = '\0';
    if (!c1.level || c1.refused)
        sim_fallback_words(fallback, flen, "--D1", SIM_D1_FALLBACK, &c1);
    if (!cl.level || cl.refused)
        sim_fallback_words(fallback, flen, "--LL", SIM_LL_FALLBACK, &cl);
}

/* ---- the child process --------------------------------------------------- */

static int sim_self(char *path, size_t len, char *err, size_t errlen)
{
    const char *bin = getenv("QKPERF_BIN");
    if (bin && *bin) {
        if ((size_t)snprintf(path, len, "%s", bin) < len)
            return 0;
        return snprintf(err, errlen, "sim: QKPERF_BIN is longer than %zu bytes", len - 1), -1;
    }
    ssize_t n = readlink("/proc/self/exe", path, len - 1);
    if (n < 0)
        return snprintf(err, errlen, "sim: cannot read /proc/self/exe: %s", strerror(errno)), -1;
    path[n] = '\0';
    return 0;
}

/* A valgrind line without its "==123== " or "--123-- " prefix. */
static const char *sim_strip_pid(const char *line)
{
    char mark[3] = {line[0], line[0], '\0'};
    const char *end =
        (line[0] == '=' || line[0] == '-') && line[1] == line[0] ? strstr(line + 2, mark) : NULL;
    return end ? end + 2 + (end[2] == ' ') : line;
}

/* A line of the child's output worth showing: without valgrind's pid
 * prefix; not blank, not a warning about the host's caches. */
static const char *sim_show_line(const char *line)
{
    const char *s = sim_strip_pid(line);
    return *s && !strstr(s, "warning:") ? s : NULL;
}

typedef struct sim_args {
    char d1[80], ll[80], out[PATH_MAX + 64], seed[32], self[PATH_MAX];
    char fallback[300]; /* "" when the geometry is the host's */
    char *argv[32 + 2 * QKPERF_MAX_PLUGINS];
} sim_args;

static void sim_build_argv(sim_args *a, const char *dir, const qk_op *op, const qk_variant *v,
                           const char *size, uint64_t seed, int staged)
{
    char d1[64], ll[64];
    qkperf_sim_cache_geometry(NULL, d1, ll, sizeof d1, a->fallback, sizeof a->fallback);
    snprintf(a->d1, sizeof a->d1, "--D1=%s", d1);
    snprintf(a->ll, sizeof a->ll, "--LL=%s", ll);
    snprintf(a->out, sizeof a->out, "--callgrind-out-file=%s/" SIM_DUMP_BASE, dir);
    snprintf(a->seed, sizeof a->seed, "%llu", (unsigned long long)seed);
    char *const fixed[] = {"valgrind",
                           "-q",
                           "--tool=callgrind",
                           "--cache-sim=yes",
                           "--dump-instr=yes",
                           a->d1,
                           a->ll,
                           "--instr-atstart=no",
                           "--collect-atstart=no",
                           a->out,
                           a->self,
                           "__sim-child",
                           "--op",
                           (char *)op->name,
                           "--variant",
                           (char *)v->name,
                           "--size",
                           (char *)size,
                           "--seed",
                           a->seed};
    size_t n = sizeof fixed / sizeof fixed[0];
    memcpy(a->argv, fixed, sizeof fixed);
    for (size_t i = 0; i < qkperf_plugin_count(); i++) { /* the child registers them too */
        a->argv[n++] = "--plugin";
        a->argv[n++] = (char *)qkperf_plugin_path(i);
    }
    if (!staged)
        a->argv[n++] = "--no-staged";
    a->argv[n] = NULL;
}

static int sim_run_child(sim_args *a, const char *dir, char *err, size_t len)
{
    char log[PATH_MAX + 16], line[300];
    snprintf(log, sizeof log, "%s/valgrind.log", dir);
    char msg[PATH_MAX + 100];
    int status, rc = qkperf_child_run("valgrind", a->argv, log, log, &status, msg, sizeof msg);
    if (rc == QKPERF_CHILD_EXEC && errno == ENOENT)
        return snprintf(err, len, "sim: valgrind not found on PATH (apt-get install valgrind)"), -1;
    if (rc)
        return snprintf(err, len, "sim: %s", msg), -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    qkperf_first_line(log, line, sizeof line, sim_show_line);
    if (!*line)
        snprintf(line, sizeof line, "no output (see valgrind --tool=callgrind)");
    if (WIFSIGNALED(status))
        snprintf(err, len, "sim: callgrind child killed by signal %d: %s", WTERMSIG(status), line);
    else
        snprintf(err, len, "sim: callgrind child failed (exit %d): %s", WEXITSTATUS(status), line);
    return -1;
}

/* ---- reading the dumps --------------------------------------------------- */

/* Values of a "summary:" or "totals:" line into ev, by the column order of
 * the "events:" line; fields left out at the end are zero. */
static void sim_parse_costs(const char *events, const char *values, double *ev)
{
    char names[512];
    snprintf(names, sizeof names, "%s", events);
    char *save = NULL, *end;
    const char *p = values;
    for (char *name = strtok_r(names, " \t\n", &save); name;
         name = strtok_r(NULL, " \t\n", &save)) {
        double x = strtod(p, &end);
        if (end == p)
            x = 0;
        p = end;
        for (size_t k = 0; k < SIM_NEV; k++)
            if (!strcmp(name, sim_events[k]))
                ev[k] = x;
    }
}

/* One dump: its region name (from the trigger line) and its costs. The
 * "totals:" line (the code run between the toggles) is preferred; 3.19's
 * "summary:" also counts part of the dump request. Either is a constant
 * more than the region's own cost, which the empty region takes away. */
static int sim_parse_dump(const char *path, sim_region *r)
{
    static const char trigger[] = "desc: Trigger: Client Request: ";
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024], events[512] = "";
    double summary[SIM_NEV] = {0};
    int have_totals = 0, have_summary = 0;
    memset(r, 0, sizeof *r);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, trigger, sizeof trigger - 1))
            sim_copy(r->name, sizeof r->name, line + sizeof trigger - 1);
        else if (!strncmp(line, "events:", 7))
            sim_copy(events, sizeof events, line + 7);
        else if (!strncmp(line, "totals:", 7) && *events)
            have_totals = (sim_parse_costs(events, line + 7, r->ev), 1);
        else if (!strncmp(line, "summary:", 8) && *events)
            have_summary = (sim_parse_costs(events, line + 8, summary), 1);
    }
    fclose(f);
    if (!have_totals)
        memcpy(r->ev, summary, sizeof summary);
    return (have_totals || have_summary) && r->name[0] ? 0 : -1;
}

static int sim_is_dump(const struct dirent *d)
{
    size_t n = strlen(SIM_DUMP_BASE);
    return !strncmp(d->d_name, SIM_DUMP_BASE ".", n + 1) && d->d_name[n + 1];
}

static int sim_read_dumps(const char *dir, sim_region *r, size_t *n, char *err, size_t len)
{
    struct dirent **names;
    int k = scandir(dir, &names, sim_is_dump, alphasort);
    if (k < 0)
        return snprintf(err, len, "sim: cannot list %s: %s", dir, strerror(errno)), -1;
    int rc = 0;
    *n = 0;
    for (int i = 0; i < k; i++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (rc == 0 && *n == SIM_MAX_REGIONS)
            rc = sim_fail(err, len, "sim: more callgrind dumps than regions in", dir);
        else if (rc == 0 && sim_parse_dump(path, &r[*n]))
            rc = sim_fail(err, len,
                          "sim: not a callgrind dump of a region (no trigger or "
                          "cost line):",
                          path);
        else if (rc == 0)
            sim_copy(r[(*n)++].path, sizeof r->path, path);
        free(names[i]);
    }
    free(names);
    return rc;
}

static const sim_region *sim_find(const sim_region *r, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].name, name))
            return &r[i];
    return NULL;
}

/* ---- records ------------------------------------------------------------- */

static int sim_emit_view(qkperf_results *res, const char *view, const qk_op *op,
                         const qk_variant *v, const char *size, const char *phase,
                         const char *metric, const char *unit, double value, const char *why)
{
    qkperf_record x;
    memset(&x, 0, sizeof x);
    snprintf(x.view, sizeof x.view, "%s", view);
    snprintf(x.op, sizeof x.op, "%s", op->name);
    snprintf(x.variant, sizeof x.variant, "%s", v->name);
    snprintf(x.size, sizeof x.size, "%s", size);
    snprintf(x.phase, sizeof x.phase, "%s", phase);
    snprintf(x.metric, sizeof x.metric, "%s", metric);
    snprintf(x.source, sizeof x.source, "sim");
    snprintf(x.unit, sizeof x.unit, "%s", unit);
    x.samples = &value;
    x.counted = why == NULL;
    x.n = x.counted ? 1 : 0;
    x.batch = 1;
    x.mux_ratio = 1.0;
    snprintf(x.why, sizeof x.why, "%s", why ? why : "");
    return qkperf_results_add(res, &x);
}

static int sim_emit(qkperf_results *res, const qk_op *op, const qk_variant *v, const char *size,
                    const char *phase, const char *metric, const char *unit, double value,
                    const char *why)
{
    return sim_emit_view(res, "", op, v, size, phase, metric, unit, value, why);
}

/* The fused region's dump split by phase through the binary's inline
 * frames: each event per phase, and "other" — the code in no phase block
 * less the empty call's cost — so that the parts and other add up to the
 * fused record exactly. Where the split cannot be made, a note says why
 * and the fused figures stand alone. */
static int sim_emit_in_context(qkperf_results *res, const qk_op *op, const qk_variant *v,
                               const char *size, const sim_region *r, const sim_region *empty)
{
    unsigned np = qk_phase_count(op);
    qkperf_addr_block blocks[256];
    size_t nb = qkperf_ic_blocks(v, np, blocks, 256);
    char why[512];
    qkperf_cgdump *d = nb ? qkperf_cgdump_read(r->path, why, sizeof why) : NULL;
    qkperf_cg_split sp = {0};
    if (!nb)
        return 0; /* no blocks: the sample source says so for the view */
    if (!d || qkperf_cgdump_split(d, blocks, nb, np, &sp, why, sizeof why)) {
        qkperf_results_note(res, "sim in context %s %s %s: %s", op->name, v->name, size, why);
        qkperf_cgdump_free(d);
        return 0;
    }
    int rc = 0;
    for (size_t k = 0; k < SIM_NEV; k++) {
        int e = qkperf_cgdump_event_index(d, sim_events[k]);
        double parts = 0;
        for (unsigned p = 0; p < np; p++) {
            double x = e < 0 ? 0 : (double)sp.cost[p * sp.nevents + (size_t)e];
            parts += x;
            rc |= sim_emit_view(res, QKPERF_VIEW_IN_CONTEXT, op, v, size, op->phases[p],
                                sim_events[k], "count", x, NULL);
        }
        double net, other;
        char w[200];
        int bad = qkperf_sim_net(r->ev[k], empty->ev[k], &net, w, sizeof w);
        other = net - parts;
        rc |= sim_emit_view(res, QKPERF_VIEW_IN_CONTEXT, op, v, size, QKPERF_PHASE_OTHER_NAME,
                            sim_events[k], "count", other,
                            bad         ? w
                            : other < 0 ? "n/a: the empty call costs more than the code "
                                          "in no phase block"
                                        : NULL);
    }
    if (sp.unknown_why[0])
        qkperf_results_note(res, "sim in context %s %s %s: code without debug info is other: %s",
                            op->name, v->name, size, sp.unknown_why);
    qkperf_cg_split_free(&sp);
    qkperf_cgdump_free(d);
    return rc;
}

/* The region's events less the empty region's, and the two derived
 * metrics. A difference below zero (the region counted less than the
 * empty call) cannot be a cost: that event, and what derives from it, is
 * n/a with the reason rather than clamped to a zero that looks measured. */
static int sim_emit_region(qkperf_results *res, const qk_op *op, const qk_variant *v,
                           const size_t *dim, const char *size, const sim_region *r,
                           const sim_region *empty)
{
    double ev[SIM_NEV];
    char why[SIM_NEV][200];
    int rc = 0;
    for (size_t k = 0; k < SIM_NEV; k++) {
        char *w =
            qkperf_sim_net(r->ev[k], empty->ev[k], &ev[k], why[k], sizeof why[k]) ? why[k] : NULL;
        rc |= sim_emit(res, op, v, size, r->name, sim_events[k], "count", ev[k], w);
    }
    double elems = op->elements(dim), acc = ev[1] + ev[2];
    const char *ir_why = isnan(ev[0]) ? why[0]
                         : elems > 0  ? NULL
                                      : "the op processes no elements at this size";
    const char *d1_why = NULL;
    for (size_t k = 1; k <= 4 && !d1_why; k++)
        d1_why = isnan(ev[k]) ? why[k] : NULL;
    if (!d1_why && !(acc > 0))
        d1_why = "no data accesses";
    rc |= sim_emit(res, op, v, size, r->name, "Ir/elem", "", ev[0] / elems, ir_why);
    rc |= sim_emit(res, op, v, size, r->name, "D1 miss ratio", "", (ev[3] + ev[4]) / acc, d1_why);
    return rc;
}

int qkperf_sim_net(double region, double empty, double *net, char *why, size_t len)
{
    *net = region - empty;
    if (*net >= 0)
        return 0;
    snprintf(why, len,
             "n/a: the region counted less than the empty call (%.0f < %.0f), so the "
             "call's cost cannot be subtracted",
             region, empty);
    *net = NAN;
    return -1;
}

/* The regions a run makes, in order: each phase when staged, then "total". */
static size_t sim_regions(const qk_op *op, const qk_variant *v, int staged, const char **names)
{
    size_t n = 0;
    for (unsigned p = 0; staged && p < qk_phase_count(op); p++)
        if (qk_phase_staged(v, p))
            names[n++] = op->phases[p];
    names[n++] = "total";
    return n;
}

static int sim_emit_skipped(qkperf_results *res, const qk_op *op, const qk_variant *v,
                            const char *size, int staged)
{
    static const char *const derived[] = {"Ir/elem", "D1 miss ratio"};
    const char *names[SIM_MAX_REGIONS];
    size_t nr = sim_regions(op, v, staged, names);
    int rc = 0;
    for (size_t i = 0; i < nr; i++) {
        for (size_t k = 0; k < SIM_NEV; k++)
            rc |= sim_emit(res, op, v, size, names[i], sim_events[k], "count", 0, sim_avx512_why);
        for (size_t k = 0; k < 2; k++)
            rc |= sim_emit(res, op, v, size, names[i], derived[k], "", 0, sim_avx512_why);
    }
    return rc ? -1 : 0;
}

static int sim_emit_all(qkperf_results *res, const qk_op *op, const qk_variant *v,
                        const size_t *dim, const char *size, int staged, const sim_region *r,
                        size_t n, const char *self, char *err, size_t len)
{
    const char *names[SIM_MAX_REGIONS];
    size_t nr = sim_regions(op, v, staged, names);
    const sim_region *ep = sim_find(r, n, SIM_EMPTY_PHASE), *et = sim_find(r, n, SIM_EMPTY_TOTAL);
    for (size_t i = 0; i < nr; i++) {
        const sim_region *x = sim_find(r, n, names[i]);
        const sim_region *e = strcmp(names[i], "total") ? ep : et;
        if (!x || !e)
            return snprintf(err, len,
                            "sim: %s __sim-child wrote no callgrind dump for region "
                            "'%s' (is it a qkperf that knows __sim-child?)",
                            self, x ? (e == ep ? SIM_EMPTY_PHASE : SIM_EMPTY_TOTAL) : names[i]),
                   -1;
        if (sim_emit_region(res, op, v, dim, size, x, e) ||
            (!strcmp(names[i], "total") && sim_emit_in_context(res, op, v, size, x, e)))
            return snprintf(err, len, "sim: out of memory adding records"), -1;
    }
    return 0;
}

/* ---- the parent side ----------------------------------------------------- */

static void sim_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[PATH_MAX + 300];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Record the cache geometry once per results document. */
static void sim_note_geometry(qkperf_results *res, const sim_args *a)
{
    char note[640];
    size_t i;
    json_t *x;
    snprintf(note, sizeof note, "sim: valgrind callgrind --cache-sim=yes %s %s%s%s%s", a->d1, a->ll,
             *a->fallback ? " (" : " (the host's, from sysfs", a->fallback, ")");
    json_array_foreach(res->notes, i, x) if (!strcmp(json_string_value(x), note)) return;
    qkperf_results_note(res, "%s", note);
}

static int sim_needs_avx512(const qk_variant *v)
{
    return (v->isa & (QK_ISA_AVX512 | QK_ISA_AVX512VBMI | QK_ISA_AVX512VNNI)) != 0;
}

int qkperf_sim_measure(const qk_op *op, const qk_variant *v, const size_t *dim, const char *size,
                       uint64_t seed, int staged, qkperf_results *res, char *err, size_t len)
{
    if (sim_needs_avx512(v))
        return sim_emit_skipped(res, op, v, size, staged)
                   ? (snprintf(err, len, "sim: out of memory adding records"), -1)
                   : 0;
    sim_args a;
    if (sim_self(a.self, sizeof a.self, err, len))
        return -1;
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/qkperf-sim.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return snprintf(err, len, "sim: cannot create a folder %s: %s", dir, strerror(errno)), -1;
    sim_build_argv(&a, dir, op, v, size, seed, staged);
    sim_region r[SIM_MAX_REGIONS];
    size_t n = 0;
    int rc = sim_run_child(&a, dir, err, len);
    if (rc == 0)
        rc = sim_read_dumps(dir, r, &n, err, len);
    if (rc == 0)
        rc = sim_emit_all(res, op, v, dim, size, staged, r, n, a.self, err, len);
    if (rc == 0)
        sim_note_geometry(res, &a);
    if (rc == 0 && staged)
        qkperf_note_staged(res, v);
    sim_remove_dir(dir);
    return rc;
}

/* ---- the child side (runs under callgrind) ------------------------------- */

static void sim_empty_fused(void *ws)
{
    (void)ws;
}
/* Warm-up call with collection off, then exactly one call collected and
 * dumped as `name`. The function pointer goes through a volatile so the
 * compiler cannot specialize this for one callee: the empty and the real
 * regions then differ only in the callee. */
__attribute__((noinline)) static void sim_collect_fused(void (*fn)(void *), void *ws,
                                                        const char *name)
{
    void (*volatile call)(void *) = fn;
    call(ws);
    CALLGRIND_TOGGLE_COLLECT;
    call(ws);
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT(name);
}

static void sim_child_regions(const qk_op *op, const qk_variant *v, void *ws, int staged)
{
    CALLGRIND_START_INSTRUMENTATION;
    unsigned np = staged && v->phases ? qk_phase_count(op) : 0;
    if (np) /* a staged phase is called like the fused kernel */
        sim_collect_fused(sim_empty_fused, ws, SIM_EMPTY_PHASE);
    sim_collect_fused(sim_empty_fused, ws, SIM_EMPTY_TOTAL);
    for (unsigned p = 0; p < np; p++) /* intermediates valid before any phase is counted */
        if (qk_phase_staged(v, p))
            qk_phase_staged(v, p)(ws);
    for (unsigned p = 0; p < np; p++)
        if (qk_phase_staged(v, p))
            sim_collect_fused(qk_phase_staged(v, p), ws, op->phases[p]);
    sim_collect_fused(v->fused, ws, "total");
    CALLGRIND_STOP_INSTRUMENTATION;
}

/* Under callgrind, with a variant this (valgrind's) CPU can run; else one
 * line on stderr and -1. */
static int sim_child_check(const qk_op *op, const qk_variant *v, const char *name)
{
    if (!RUNNING_ON_VALGRIND)
        fprintf(stderr, "qkperf __sim-child: must run under valgrind --tool=callgrind "
                        "(qkperf run --source sim starts it)\n");
    else if (!v)
        fprintf(stderr, "qkperf __sim-child: unknown variant '%s' for %s in %s\n", name, op->name,
                "this program (registered only in the parent?)");
    else if (!qk_variant_runnable(v)) {
        char need[96]; /* qk_isa_names returns one static buffer */
        sim_copy(need, sizeof need, qk_isa_names(v->isa));
        fprintf(stderr, "qkperf __sim-child: %s %s needs %s; under valgrind this CPU has %s\n",
                op->name, name, need, qk_isa_names(qk_cpu_isa()));
    } else
        return 0;
    return -1;
}

int qkperf_sim_child_run(const qk_op *op, const char *variant, const char *size, const size_t *dim,
                         uint64_t seed, int staged)
{
    const qk_variant *v = qk_find_variant(op->name, variant);
    if (sim_child_check(op, v, variant))
        return 1;
    const qk_op *wop = qk_workspace_op(op, v);
    void *ws = wop->create(dim, seed);
    if (!ws) {
        fprintf(stderr, "qkperf __sim-child: cannot allocate %s workspace for %s: %s\n", op->name,
                size, strerror(errno));
        return 1;
    }
    if (staged && qk_stage_workspace(op, v, ws)) {
        fprintf(stderr,
                "qkperf __sim-child: cannot allocate the staged intermediates of %s for %s: %s\n",
                op->name, size, strerror(errno));
        wop->destroy(ws);
        return 1;
    }
    sim_child_regions(op, v, ws, staged);
    wop->destroy(ws);
    return 0;
}
