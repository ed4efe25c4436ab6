/*
 * cmd_measure.c — `qkperf measure [options] -- CMD [ARGS]`: run a program
 * marked with <qkperf/marker.h> and collect, per region and thread, the
 * figures of every source asked for, into the table and the results
 * document run writes (so compare and plot read it).
 *
 * The program runs with QKPERF_MARKER_OUT naming a file in a temporary
 * folder; libqkperf (harness/marker.c) writes it at close or exit. sw and
 * hw are counted by the marker on each thread it sees; hw events are
 * encoded here (libpfm4) and opened there. With sim the program runs
 * (again, when other sources are asked for too) under callgrind, each
 * begin and end dumping callgrind's counts: a call's cost is the sum of
 * the dumps between its begin and its end, of every thread of the process.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgdump.h"
#include "child.h"
#include "cli.h"
#include "commands.h"
#include "events.h"
#include "groups.h"
#include "machine.h"
#include "pfm.h"
#include "probe.h"
#include "program.h"
#include "results.h"
#include "sim.h"
#include "tsc.h"

const char qkperf_cmd_measure_usage[] =
    "usage: qkperf measure [options] -- CMD [ARGS]\n"
    "Run CMD, a program marked with <qkperf/marker.h>, and measure each region\n"
    "per thread: calls, TSC time, software events, hardware events where there is\n"
    "a PMU, exact instructions with sim.\n\n"
    "  -g, --groups LIST       hardware event groups: their events, counted raw\n"
    "  -e, --events LIST       libpfm4 events (default with hw: cycles, instructions)\n"
    "      --source LIST       among tsc, sw, hw, sim (default tsc,sw,hw); sim runs\n"
    "                          CMD under callgrind (a second run beside the others)\n"
    "  -o, --output FILE       the results document (JSON), written atomically\n"
    "  -q, --quiet             no table\n";

enum { SRC_TSC = 1, SRC_SW = 2, SRC_HW = 4, SRC_SIM = 8 };
enum { MAX_HW = 16 };

typedef struct measure {
    int sources, quiet;
    const char *output;
    char prog[PATH_MAX], op[32];
    char **argv;
    const char *events[MAX_HW];
    size_t nevents;
    const char *metric[MAX_HW]; /* each event's metric: a group's alias, or the -e name */
    char *owned[4 * MAX_HW];    /* group event names and aliases */
    size_t nowned;
    char hw_env[2048];
    char hw_why[400];  /* "" when the hw events are passed to the program */
    char hw_group[16]; /* events per perf group: the counters of a thread */
    char dir[64];
    qkperf_probe_t probe;
} measure;

static int parse_sources(const char *text, int *out)
{
    static const char *const names[] = {"tsc", "sw", "hw", "sim"};
    char *storage = NULL, err[256];
    const char *items[8];
    size_t n;
    *out = 0;
    if (qkperf_split_list(text, &storage, items, 8, &n, "--source", err, sizeof err)) {
        free(storage);
        return qkperf_usage_error("measure: %s", err);
    }
    for (size_t i = 0; i < n; i++) {
        int bit = 0;
        for (int k = 0; k < 4; k++)
            if (!strcmp(items[i], names[k]))
                bit = 1 << k;
        if (!bit) {
            qkperf_usage_error("measure: unknown source '%s' (tsc, sw, hw or sim)", items[i]);
            free(storage);
            return 2;
        }
        *out |= bit;
    }
    free(storage);
    return 0;
}

/* One event and its metric name; one already there under that metric is
 * not added twice (cycles in two groups). 0, or 2 after one line. */
static int add_event(measure *m, const char *name, const char *metric)
{
    for (size_t i = 0; i < m->nevents; i++)
        if (!strcmp(m->metric[i], metric))
            return 0;
    if (m->nevents == MAX_HW)
        return qkperf_usage_error("measure: at most %d hardware events", MAX_HW);
    if (strlen(metric) > 47)
        return qkperf_usage_error("measure: event '%s' is too long to name a metric (at most 47 "
                                  "characters after the PMU prefix)",
                                  name);
    m->events[m->nevents] = name;
    m->metric[m->nevents++] = metric;
    return 0;
}

/* -g and -e into m->events (group events by their libpfm names). */
static int add_list(measure *m, const char *text, int groups, char **keep)
{
    char err[512];
    const char *items[QKPERF_MAX_LIST];
    size_t n;
    if (qkperf_split_list(text, keep, items, QKPERF_MAX_LIST, &n, groups ? "-g" : "-e", err,
                          sizeof err))
        return qkperf_usage_error("measure: %s", err);
    for (size_t i = 0; i < n; i++) {
        if (!groups) {
            int rc = add_event(m, items[i], qkperf_events_metric(items[i]));
            if (rc)
                return rc;
            continue;
        }
        const char *dirs[] = {NULL};
        qkperf_group *g =
            qkperf_group_load(dirs, qkperf_group_host_folder(dirs), items[i], 1, err, sizeof err);
        if (!g)
            return qkperf_usage_error("measure: -g %s: %s", items[i], err);
        for (size_t k = 0; k < g->nevents; k++) {
            if (m->nowned + 2 > 4 * MAX_HW) {
                qkperf_group_free(g);
                return qkperf_usage_error("measure: at most %d hardware events", MAX_HW);
            }
            char *name = strdup(g->events[k].name), *alias = strdup(g->events[k].alias);
            m->owned[m->nowned++] = name;
            m->owned[m->nowned++] = alias;
            int rc = name && alias ? add_event(m, name, alias)
                                   : qkperf_usage_error("measure: out of memory");
            if (rc) {
                qkperf_group_free(g);
                return rc;
            }
        }
        qkperf_group_free(g);
    }
    return 0;
}

/* Encode the events (an unknown one is bad input) and decide whether the
 * program gets them: only where the probe found a PMU. */
static int prepare_hw(measure *m)
{
    if (!(m->sources & SRC_HW))
        return 0;
    if (m->nevents == 0) {
        for (int k = 0; k < 2; k++)
            if (m->probe.hw_events[k][0])
                add_event(m, m->probe.hw_events[k], k ? "instructions" : "cycles");
        if (m->nevents == 0) {
            add_event(m, "cycles", "cycles");
            add_event(m, "instructions", "instructions");
        }
    }
    size_t used = 0;
    for (size_t i = 0; i < m->nevents; i++) {
        struct perf_event_attr a;
        char msg[256] = "";
        memset(&a, 0, sizeof a);
        int rc = qkperf_pfm_encode(m->events[i], &a, msg, sizeof msg);
        if (rc == QKPERF_PFM_UNKNOWN || rc == QKPERF_PFM_BADATTR || rc == QKPERF_PFM_NOLIB)
            return qkperf_usage_error("measure: unknown event '%s': %s", m->events[i], msg);
        if (rc != QKPERF_PFM_OK && !m->hw_why[0])
            snprintf(m->hw_why, sizeof m->hw_why, "%s: %s", m->events[i], msg);
        used +=
            (size_t)snprintf(m->hw_env + used, sizeof m->hw_env - used, "%s%s=%u:%llx:%llx:%llx",
                             i ? ";" : "", m->metric[i], a.type, (unsigned long long)a.config,
                             (unsigned long long)a.config1, (unsigned long long)a.config2);
        if (used >= sizeof m->hw_env)
            return qkperf_usage_error("measure: too many hardware events");
    }
    int counters = qkperf_pfm_num_counters(m->events[0]);
    snprintf(m->hw_group, sizeof m->hw_group, "%d", counters > 0 ? counters : 0);
    if (!m->hw_why[0] && m->probe.hw_why != QKPERF_WHY_OK)
        snprintf(m->hw_why, sizeof m->hw_why, "%s", m->probe.hw_reason);
    return 0;
}

/* Run the program (under callgrind when sim) with the marker's variables;
 * 0, or 1 after one line. */
static int run_program(const measure *m, int sim, const char *out)
{
    char d1[64], ll[64], fb[300], d1a[80], lla[80], cgout[128], log[128];
    char *vg[16 + 1];
    size_t nvg = 0;
    if (sim) {
        qkperf_sim_cache_geometry(NULL, d1, ll, sizeof d1, fb, sizeof fb);
        snprintf(d1a, sizeof d1a, "--D1=%s", d1);
        snprintf(lla, sizeof lla, "--LL=%s", ll);
        snprintf(cgout, sizeof cgout, "--callgrind-out-file=%s/cg.out", m->dir);
        snprintf(log, sizeof log, "--log-file=%s/valgrind.log", m->dir);
        char *const fixed[] = {
            "valgrind", "-q", "--tool=callgrind", "--cache-sim=yes", "--dump-instr=yes", d1a, lla,
            cgout,      log};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            vg[nvg++] = fixed[i];
    }
    size_t na = 0;
    while (m->argv[na])
        na++;
    char **argv = calloc(nvg + na + 1, sizeof *argv);
    if (!argv)
        return fprintf(stderr, "qkperf: out of memory\n"), 1;
    memcpy(argv, vg, nvg * sizeof *argv);
    argv[nvg] = (char *)m->prog;
    memcpy(argv + nvg + 1, m->argv + 1, (na - 1) * sizeof *argv);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("QKPERF_MARKER_OUT", out, 1);
        if (sim)
            setenv("QKPERF_MARKER_SIM", "1", 1);
        else {
            setenv("QKPERF_MARKER_SW", m->sources & SRC_SW ? "1" : "0", 1);
            if ((m->sources & SRC_HW) && !m->hw_why[0]) {
                setenv("QKPERF_MARKER_HW", m->hw_env, 1);
                setenv("QKPERF_MARKER_HW_GROUP", m->hw_group, 1);
            }
        }
        execvp(argv[0], argv);
        fprintf(stderr, "qkperf: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(argv);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return fprintf(stderr, "qkperf: measure: cannot run %s: %s\n", m->prog, strerror(errno)), 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "qkperf: measure: %s%s killed by signal %d\n", m->prog,
                sim ? " (under callgrind)" : "", WTERMSIG(status));
    else
        fprintf(stderr, "qkperf: measure: %s%s exited with status %d\n", m->prog,
                sim ? " (under callgrind)" : "", WEXITSTATUS(status));
    return 1;
}

/* ---- from the marker's file to records ---------------------------------- */

static void base_record(qkperf_record *r, const measure *m, int thread, const char *region,
                        const char *source, const char *metric, const char *unit)
{
    memset(r, 0, sizeof *r);
    snprintf(r->op, sizeof r->op, "%s", m->op);
    snprintf(r->variant, sizeof r->variant, "thread%d", thread);
    snprintf(r->size, sizeof r->size, "program");
    snprintf(r->phase, sizeof r->phase, "%s", region);
    snprintf(r->metric, sizeof r->metric, "%s", metric);
    snprintf(r->source, sizeof r->source, "%s", source);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    snprintf(r->view, sizeof r->view, QKPERF_VIEW_FUSED);
    r->batch = 1;
    r->mux_ratio = 1;
}

/* One metric's per-call values as a record (scale: ticks to ns for tsc);
 * why non-NULL: not counted, for that reason. */
static int add_values(qkperf_results *res, qkperf_record *r, json_t *vals, double scale,
                      const char *why)
{
    size_t n = json_array_size(vals);
    double *s = calloc(n ? n : 1, sizeof *s);
    if (!s)
        return -1;
    size_t k = 0, i;
    json_t *v;
    json_array_foreach(vals, i, v) if (json_is_number(v)) s[k++] = json_number_value(v) * scale;
    if (why || k == 0) {
        r->counted = 0;
        snprintf(r->why, sizeof r->why, "%s", why ? why : "the counter could not be read");
        k = 0;
    } else
        r->counted = 1;
    r->samples = s;
    r->n = k;
    int rc = qkperf_results_add(res, r);
    free(s);
    return rc;
}

static const char *const sw_metrics[] = {"task-clock", "page-faults", "context-switches"};

static void add_thread(const measure *m, json_t *t, const char *hw_why, qkperf_results *res)
{
    int idx = (int)json_integer_value(json_object_get(t, "index"));
    int sw_ok = json_is_true(json_object_get(t, "sw"));
    int hw_ok = json_is_true(json_object_get(t, "hw"));
    size_t i;
    json_t *reg;
    qkperf_record r;
    json_array_foreach(json_object_get(t, "regions"), i, reg)
    {
        const char *name = json_string_value(json_object_get(reg, "name"));
        json_t *vals = json_object_get(reg, "values");
        double calls = (double)json_integer_value(json_object_get(reg, "calls"));
        json_int_t stored = json_integer_value(json_object_get(reg, "stored"));
        if ((double)stored < calls)
            qkperf_results_note(res,
                                "%s thread%d: %.0f calls, the first %lld kept as samples (the "
                                "calls record counts them all)",
                                name, idx, calls, (long long)stored);
        if (m->sources & SRC_TSC) {
            base_record(&r, m, idx, name, "tsc", "calls", "calls");
            r.samples = &calls;
            r.n = 1;
            r.counted = 1;
            qkperf_results_add(res, &r);
            base_record(&r, m, idx, name, "tsc", "time", "ns");
            add_values(res, &r, json_object_get(vals, "tsc"), 1e3 / qkperf_tsc_mhz(), NULL);
        }
        for (int k = 0; (m->sources & SRC_SW) && k < 3; k++) {
            base_record(&r, m, idx, name, "sw", sw_metrics[k], k == 0 ? "ns" : "count");
            add_values(res, &r, json_object_get(vals, sw_metrics[k]), 1,
                       sw_ok ? NULL : "the thread's software events could not be opened");
        }
        for (size_t k = 0; (m->sources & SRC_HW) && k < m->nevents; k++) {
            const char *ev = m->metric[k];
            base_record(&r, m, idx, name, "hw", ev, "count");
            char why[sizeof r.why];
            snprintf(why, sizeof why, "n/a: %.180s",
                     *hw_why ? hw_why : "not opened on this thread");
            add_values(res, &r, json_object_get(vals, ev), 1, hw_ok && !*hw_why ? NULL : why);
        }
    }
}

/* The dumps' costs by number: cost[k * nev + e] for cg.out.k. */
typedef struct dumps {
    size_t n, nev;
    char ev[16][16];
    double *cost;
} dumps;

static int read_dumps(const measure *m, dumps *d, char *err, size_t len)
{
    memset(d, 0, sizeof *d);
    for (size_t k = 1;; k++) {
        char path[128];
        snprintf(path, sizeof path, "%s/cg.out.%zu", m->dir, k);
        if (access(path, F_OK) != 0)
            return 0;
        qkperf_cgdump *cg = qkperf_cgdump_read(path, err, len);
        if (!cg)
            return -1;
        if (k == 1) {
            d->nev = qkperf_cgdump_nevents(cg) < 16 ? qkperf_cgdump_nevents(cg) : 16;
            for (size_t e = 0; e < d->nev; e++)
                snprintf(d->ev[e], sizeof d->ev[e], "%s", qkperf_cgdump_event(cg, e));
        }
        if (d->nev == 0) {
            qkperf_cgdump_free(cg);
            return snprintf(err, len, "%s: no events", path), -1;
        }
        double *c = realloc(d->cost, (k + 1) * d->nev * sizeof *c);
        if (!c) {
            qkperf_cgdump_free(cg);
            return snprintf(err, len, "out of memory"), -1;
        }
        d->cost = c;
        const uint64_t *tot = qkperf_cgdump_totals(cg);
        if (!tot)
            tot = qkperf_cgdump_sum(cg);
        for (size_t e = 0; e < d->nev; e++)
            c[k * d->nev + e] = (double)tot[e];
        d->n = k;
        qkperf_cgdump_free(cg);
    }
}

static void add_sim_thread(const measure *m, json_t *t, const dumps *d, qkperf_results *res)
{
    int idx = (int)json_integer_value(json_object_get(t, "index"));
    size_t i;
    json_t *reg;
    qkperf_record r;
    json_array_foreach(json_object_get(t, "regions"), i, reg)
    {
        const char *name = json_string_value(json_object_get(reg, "name"));
        json_t *b = json_object_get(json_object_get(reg, "values"), "sim-begin");
        json_t *e = json_object_get(json_object_get(reg, "values"), "sim-end");
        size_t n = json_array_size(b);
        double *s = calloc(n ? n : 1, sizeof *s);
        for (size_t ev = 0; s && ev < d->nev; ev++) {
            int ok = 1;
            for (size_t c = 0; c < n; c++) {
                size_t lo = (size_t)json_number_value(json_array_get(b, c));
                size_t hi = (size_t)json_number_value(json_array_get(e, c));
                s[c] = 0;
                ok &= hi <= d->n && lo < hi;
                for (size_t k = lo + 1; ok && k <= hi; k++)
                    s[c] += d->cost[k * d->nev + ev];
            }
            base_record(&r, m, idx, name, "sim", d->ev[ev], "count");
            r.samples = s;
            r.n = ok ? n : 0;
            r.counted = ok && n > 0;
            if (!r.counted)
                snprintf(r.why, sizeof r.why, "n/a: callgrind's dumps of the region are missing");
            qkperf_results_add(res, &r);
        }
        free(s);
    }
}

/* Read one marker file into res; 0, 1 (failure) or 2 (the program's
 * markers were unbalanced), after one line. */
static int collect(const measure *m, const char *path, int sim, qkperf_results *res)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        fprintf(stderr,
                "qkperf: measure: %s wrote no marker results (does it call "
                "qkperf_marker_begin, and link -lqkperf?)\n",
                m->prog);
        return 1;
    }
    json_t *errs = json_object_get(doc, "errors");
    if (json_array_size(errs) > 0) {
        size_t more = json_array_size(errs) - 1;
        fprintf(stderr, "qkperf: measure: %s: unbalanced markers: %s", m->prog,
                json_string_value(json_array_get(errs, 0)));
        if (more)
            fprintf(stderr, " (and %zu more)", more);
        fputc('\n', stderr);
        json_decref(doc);
        return 2;
    }
    const char *hw_why = m->hw_why;
    const char *marker_hw = json_string_value(json_object_get(doc, "hw_why"));
    if (!*hw_why && marker_hw && *marker_hw)
        hw_why = marker_hw;
    dumps d = {0};
    char err[512];
    if (sim && read_dumps(m, &d, err, sizeof err)) {
        fprintf(stderr, "qkperf: measure: sim: %s\n", err);
        free(d.cost);
        json_decref(doc);
        return 1;
    }
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "threads"), i, t)
    {
        if (sim)
            add_sim_thread(m, t, &d, res);
        else
            add_thread(m, t, hw_why, res);
    }
    if (!sim && *hw_why && (m->sources & SRC_HW))
        qkperf_results_note(res, "hw not counted: %s", hw_why);
    if (sim)
        qkperf_results_note(res,
                            "sim: callgrind's counts between each begin and end, of every thread "
                            "of the process");
    free(d.cost);
    json_decref(doc);
    return 0;
}

/* ---- the table ------------------------------------------------------------ */

static const qkperf_record *find(const qkperf_results *res, const qkperf_record *like,
                                 const char *source, const char *metric)
{
    for (size_t i = 0; i < res->n; i++) {
        const qkperf_record *r = &res->rec[i];
        if (!strcmp(r->variant, like->variant) && !strcmp(r->phase, like->phase) &&
            !strcmp(r->source, source) && !strcmp(r->metric, metric))
            return r;
    }
    return NULL;
}

static void cell(FILE *f, const qkperf_record *r)
{
    if (!r)
        fprintf(f, " %14s", "-");
    else if (!r->counted)
        fprintf(f, " %14s", "n/a");
    else
        fprintf(f, " %14.6g", r->median);
}

static void print_table(const measure *m, const qkperf_results *res)
{
    static const char *const cols[][2] = {
        {"tsc", "calls"},           {"tsc", "time"}, {"sw", "task-clock"}, {"sw", "page-faults"},
        {"sw", "context-switches"},
    };
    printf("%s: per call, median over calls (source in brackets)\n", m->op);
    printf("%-24s %-8s", "region", "thread");
    for (size_t c = 0; c < 5; c++)
        if (m->sources & (!strcmp(cols[c][0], "tsc") ? SRC_TSC : SRC_SW))
            printf(" %14.14s", c == 1 ? "time ns [tsc]" : cols[c][1]);
    for (size_t k = 0; (m->sources & SRC_HW) && k < m->nevents; k++)
        printf(" %9.9s [hw]", m->metric[k]);
    if (m->sources & SRC_SIM)
        printf(" %14s", "Ir [sim]");
    putchar('\n');
    for (size_t i = 0; i < res->n; i++) {
        const qkperf_record *r = &res->rec[i];
        if (find(res, r, r->source, r->metric) != r)
            continue;
        /* one row per region and thread: at its first record */
        int first = 1;
        for (size_t k = 0; k < i; k++)
            first &= strcmp(res->rec[k].variant, r->variant) || strcmp(res->rec[k].phase, r->phase);
        if (!first)
            continue;
        printf("%-24s %-8s", r->phase, r->variant);
        for (size_t c = 0; c < 5; c++)
            if (m->sources & (!strcmp(cols[c][0], "tsc") ? SRC_TSC : SRC_SW))
                cell(stdout, find(res, r, cols[c][0], cols[c][1]));
        for (size_t k = 0; (m->sources & SRC_HW) && k < m->nevents; k++)
            cell(stdout, find(res, r, "hw", m->metric[k]));
        if (m->sources & SRC_SIM)
            cell(stdout, find(res, r, "sim", "Ir"));
        putchar('\n');
    }
    size_t i;
    json_t *note;
    json_array_foreach(res->notes, i, note) printf("note: %s\n", json_string_value(note));
}

/* ---- the command ------------------------------------------------------------ */

static void fill_sections(const measure *m, qkperf_results *res)
{
    json_object_update_new(res->machine, qkperf_machine_json(&m->probe));
    json_object_update_new(res->build, qkperf_build_json());
    json_t *args = json_array();
    for (size_t i = 0; m->argv[i]; i++)
        json_array_append_new(args, json_string(m->argv[i]));
    json_t *src = json_array();
    static const char *const names[] = {"tsc", "sw", "hw", "sim"};
    for (int k = 0; k < 4; k++)
        if (m->sources & (1 << k))
            json_array_append_new(src, json_string(names[k]));
    json_t *ev = json_array();
    for (size_t k = 0; (m->sources & SRC_HW) && k < m->nevents; k++)
        json_array_append_new(ev, json_string(m->events[k]));
    json_object_update_new(res->config,
                           json_pack("{s:s,s:s,s:o,s:o,s:o}", "command", "measure", "program",
                                     m->prog, "argv", args, "sources", src, "events", ev));
}

/* The folder holds only our files: the marker's JSON, callgrind's dumps. */
static void cleanup_dir(const char *dir)
{
    if (!*dir)
        return;
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int measure_run(measure *m, qkperf_results *res)
{
    char path[128];
    snprintf(m->dir, sizeof m->dir, "/tmp/qkperf-measure.XXXXXX");
    if (!mkdtemp(m->dir)) {
        m->dir[0] = '\0';
        return fprintf(stderr, "qkperf: measure: cannot make a folder in /tmp: %s\n",
                       strerror(errno)),
               1;
    }
    int rc = 0;
    if (m->sources & (SRC_TSC | SRC_SW | SRC_HW)) {
        snprintf(path, sizeof path, "%s/marker.json", m->dir);
        rc = run_program(m, 0, path);
        if (rc == 0)
            rc = collect(m, path, 0, res);
    }
    if (rc == 0 && (m->sources & SRC_SIM)) {
        char why[512];
        if (!qkperf_sim_available(why, sizeof why))
            return fprintf(stderr, "qkperf: measure: sim: %s\n", why), 1;
        snprintf(path, sizeof path, "%s/sim.json", m->dir);
        rc = run_program(m, 1, path);
        if (rc == 0)
            rc = collect(m, path, 1, res);
    }
    return rc;
}

int qkperf_cmd_measure(int argc, char **argv)
{
    static const struct option opts[] = {
        {"groups", required_argument, NULL, 'g'}, {"events", required_argument, NULL, 'e'},
        {"source", required_argument, NULL, 's'}, {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},        {NULL, 0, NULL, 0},
    };
    measure m;
    memset(&m, 0, sizeof m);
    m.sources = SRC_TSC | SRC_SW | SRC_HW;
    char *keep[16] = {0};
    size_t nkeep = 0;
    char err[512];
    int c, rc = 0;
    opterr = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "+g:e:o:q", opts, NULL)) != -1) {
        if (c == 'g' || c == 'e')
            rc = nkeep < 16 ? add_list(&m, optarg, c == 'g', &keep[nkeep++])
                            : qkperf_usage_error("measure: too many -g/-e options");
        else if (c == 's')
            rc = parse_sources(optarg, &m.sources);
        else if (c == 'o')
            m.output = optarg;
        else if (c == 'q')
            m.quiet = 1;
        else
            rc = qkperf_usage_error("measure: unknown option '%s'", argv[optind - 1]);
    }
    if (rc == 0 && (optind >= argc || strcmp(argv[optind - 1], "--") != 0))
        rc = qkperf_usage_error("measure: no command after -- (usage: qkperf measure [options] "
                                "-- CMD [ARGS])");
    if (rc == 0 && qkperf_program_find(argv[optind], m.prog, sizeof m.prog, err, sizeof err))
        rc = qkperf_usage_error("measure: %s", err);
    if (rc == 0 && m.output && qkperf_check_writable(m.output, err, sizeof err))
        rc = qkperf_usage_error("measure: -o: %s", err);
    if (rc == 0) {
        m.argv = argv + optind;
        qkperf_program_name(m.prog, m.op, sizeof m.op);
        qkperf_probe(&m.probe);
        rc = prepare_hw(&m);
    }
    qkperf_results res;
    qkperf_results_init(&res);
    if (rc == 0) {
        fill_sections(&m, &res);
        rc = measure_run(&m, &res);
    }
    if (rc == 0 && !m.quiet)
        print_table(&m, &res);
    if (rc == 0 && m.output && qkperf_results_write_json(&res, m.output, err, sizeof err)) {
        fprintf(stderr, "qkperf: %s\n", err);
        rc = 1;
    }
    cleanup_dir(m.dir);
    qkperf_results_free(&res);
    for (size_t i = 0; i < nkeep; i++)
        free(keep[i]);
    for (size_t i = 0; i < m.nowned; i++)
        free(m.owned[i]);
    return rc;
}
