/*
 * baseline.c — saving, loading and comparing results documents. A save is
 * atomic (results.c); what killed saves leave behind is cleaned up by the
 * next save into the same folder.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attrib.h"
#include "baseline.h"
#include "machine.h"
#include "table.h"

const char *qkperf_baseline_dir(const char *opt)
{
    const char *env = getenv("QKPERF_BASELINE_DIR");
    return opt ? opt : env && *env ? env : ".qkperf/baselines";
}

int qkperf_baseline_name_ok(const char *name, char *err, size_t len)
{
    int ok = name && *name && strlen(name) < 100 && name[0] != '.';
    for (const char *p = name; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
    if (!ok)
        snprintf(err, len, "bad baseline name '%s': use letters, digits, '-', '_' and '.'",
                 name ? name : "");
    return ok;
}

static int mkdir_p(const char *dir, char *err, size_t len)
{
    char buf[4096];
    if (!*dir || snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        snprintf(err, len, "bad baseline folder '%.200s': empty or too long", dir);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                snprintf(err, len, "cannot create baseline folder %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
        }
        if (c == '\0')
            return 0;
    }
}

static double seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* When this process started, in wall-clock seconds like a file's mtime:
 * now, less its age (the boot-clock start time in /proc/self/stat, field
 * 22, in clock ticks). 0 when it cannot be told. */
static double process_start(void)
{
    char line[1024];
    unsigned long long ticks = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    const char *after = f && fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    if (f)
        fclose(f);
    /* after the command name (which may hold spaces) comes field 3 */
    const char *p = after ? after + 1 : NULL;
    for (int field = 3; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", &ticks) != 1)
        return 0;
    double age = seconds(CLOCK_BOOTTIME) - (double)ticks / (double)sysconf(_SC_CLK_TCK);
    return seconds(CLOCK_REALTIME) - age;
}

/* Temporary files of saves killed in this folder, of any baseline name
 * ("NAME.json.tmp.PID"): removed when their process is gone and they are
 * older than this process (a writer in another PID namespace looks gone;
 * a live one is writing now, so its file is newer). The save of the same
 * name removes its own leftovers whatever their age (results.c). */
static void drop_stale_temps(const char *dir)
{
    double start = process_start();
    DIR *d = start > 0 ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *t = strstr(e->d_name, ".json.tmp.");
        char *end, path[4096];
        struct stat st;
        if (!t)
            continue;
        errno = 0;
        long pid = strtol(t + 10, &end, 10);
        if (*end || errno || pid <= 0 || pid == (long)getpid() ||
            !(kill((pid_t)pid, 0) != 0 && errno == ESRCH) ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if ((double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec * 1e-9 < start)
            unlink(path);
    }
    if (d)
        closedir(d);
}

int qkperf_baseline_save(const qkperf_results *r, const char *dir, const char *name, char *err,
                         size_t len)
{
    char path[4096];
    if (!qkperf_baseline_name_ok(name, err, len) || mkdir_p(dir, err, len))
        return -1;
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    if (qkperf_results_write_json(r, path, err, len))
        return -1;
    drop_stale_temps(dir);
    return 0;
}

static void known_names(const char *dir, char *buf, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    buf[0] = '\0';
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name), used = strlen(buf);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".json"))
            snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)(n - 5), e->d_name);
    }
    if (d)
        closedir(d);
}

int qkperf_baseline_load(qkperf_results *r, const char *dir, const char *name, char *err,
                         size_t len)
{
    char path[4096];
    struct stat st;
    if (!qkperf_baseline_name_ok(name, err, len))
        return -1;
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    if (stat(path, &st) != 0) {
        char known[1024];
        known_names(dir, known, sizeof known);
        snprintf(err, len, "no baseline '%s' in %s (known: %s)", name, dir,
                 known[0] ? known : "none");
        return -1;
    }
    return qkperf_results_read_json(r, path, err, len);
}

static const qkperf_record *reference_of(const qkperf_results *r, const qkperf_record *x,
                                         const char *ref)
{
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *y = &r->rec[i];
        if (!strcmp(y->variant, ref) && !strcmp(y->op, x->op) && !strcmp(y->size, x->size) &&
            !strcmp(y->phase, x->phase) && !strcmp(y->metric, x->metric) &&
            !strcmp(y->source, x->source) && !strcmp(y->view, x->view))
            return y;
    }
    return NULL;
}

int qkperf_results_relative(const qkperf_results *in, const char *ref, qkperf_results *out)
{
    qkperf_results_init(out);
    json_object_update(out->machine, in->machine);
    json_object_update(out->config, in->config);
    for (size_t i = 0; i < in->n; i++) {
        const qkperf_record *x = &in->rec[i];
        const qkperf_record *base = reference_of(in, x, ref);
        if (!base || !base->counted || !x->counted || !(base->median > 0))
            continue;
        qkperf_record y = *x;
        double *s = malloc((x->n ? x->n : 1) * sizeof *s);
        if (!s)
            return -1;
        /* Several runs: each run's samples over the reference's median in
         * the same process, the ratio measured side by side. */
        int per_run = x->nruns > 1 && base->nruns == x->nruns;
        for (size_t r = 0, k = 0; r < (per_run ? x->nruns : 1); r++) {
            double m = per_run ? qkperf_record_run_median(base, r) : base->median;
            size_t end = per_run ? k + x->run_n[r] : x->n;
            for (; k < end; k++)
                s[k] = x->samples[k] / (m > 0 ? m : base->median);
        }
        if (!per_run)
            y.nruns = 0;
        y.samples = s;
        snprintf(y.unit, sizeof y.unit, "x %s", ref);
        int rc = qkperf_results_add(out, &y);
        free(s);
        if (rc)
            return -1;
    }
    return 0;
}

static void print_delta(FILE *f, const qkperf_delta *d, const char *variant, int detect)
{
    char b[32], a[32], ch[64] = "n/a (baseline median is 0)", det[48] = "";
    qkperf_fmt_value(b, sizeof b, d->before, d->unit);
    qkperf_fmt_value(a, sizeof a, d->after, d->unit);
    if (d->change.ratio_defined)
        snprintf(ch, sizeof ch, "%+7.1f%% [%+.1f, %+.1f]", (d->change.ratio - 1) * 100,
                 (d->change.ci_lo - 1) * 100, (d->change.ci_hi - 1) * 100);
    if (detect && isfinite(d->detectable))
        snprintf(det, sizeof det, "  (detects >= %.1f%%)", d->detectable * 100);
    fprintf(f, "  %-10s %-18s %-8s %-14s %-6s %12s -> %-12s %s %s%s\n", d->op, variant, d->size,
            d->phase, d->metric, b, a, ch, qkperf_verdict_name(d->verdict), det);
}

void qkperf_compare_opts_init(qkperf_compare_opts *o)
{
    memset(o, 0, sizeof *o);
    qkperf_bands_default(&o->bands);
    o->seed = QKPERF_DEFAULT_SEED;
    o->adjust = QKPERF_ADJUST_HOLM;
    o->alpha = 0.05;
}

double qkperf_noise_band(const qkperf_results *noise, const qkperf_record *x, size_t k_old,
                         size_t k_new)
{
    const qkperf_record *y = noise ? qkperf_results_find_view(noise, x->view, x->op, x->variant,
                                                              x->size, x->phase, x->metric)
                                   : NULL;
    double s = y && !strcmp(y->source, x->source) ? qkperf_record_run_spread(y) : NAN;
    if (!isfinite(s))
        return NAN;
    double k1 = (double)(k_old ? k_old : 1), k2 = (double)(k_new ? k_new : 1);
    return expm1(2.0 * s * sqrt(1.0 / k1 + 1.0 / k2));
}

static size_t runs_of(const qkperf_results *r)
{
    size_t most = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->rec[i].nruns > most)
            most = r->rec[i].nruns;
    return most;
}

static const qkperf_record *record_of(const qkperf_results *r, const qkperf_delta *d)
{
    const qkperf_record *x =
        qkperf_results_find_view(r, d->view, d->op, d->variant, d->size, d->phase, d->metric);
    return x && !strcmp(x->source, d->source) ? x : NULL;
}

static int selected(const qkperf_compare_opts *o, const char *phase, const char *metric)
{
    return !(o->only_metric && strcmp(metric, o->only_metric)) &&
           !(o->only_phase && strcmp(phase, o->only_phase));
}

static int ran(const qkperf_results *r, const qkperf_record *x)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rec[i].op, x->op) && !strcmp(r->rec[i].variant, x->variant) &&
            !strcmp(r->rec[i].size, x->size))
            return 1;
    return 0;
}

/* A baseline figure the new run measured the variant for but no longer
 * counts (counters gone, a metric turned n/a) would slip through a gate
 * that compares only what both have: list it and count it as a failure.
 * A variant or size the new run did not measure at all is only listed. */
static int lost_records(FILE *f, const qkperf_results *old, const qkperf_results *new_,
                        const qkperf_compare_opts *o, const char *new_name)
{
    int lost = 0;
    for (size_t i = 0; i < old->n; i++) {
        const qkperf_record *x = &old->rec[i];
        if (!x->counted || !x->n || !selected(o, x->phase, x->metric))
            continue;
        const qkperf_record *y = qkperf_results_find_view(new_, x->view, x->op, x->variant, x->size,
                                                          x->phase, x->metric);
        if (y && y->counted && y->n && !strcmp(y->source, x->source))
            continue;
        int measured = ran(new_, x);
        lost += measured;
        fprintf(f, "  %-10s %-18s %-8s %-14s %-6s %s in %s%s%s\n", x->op, x->variant, x->size,
                x->phase, x->metric, measured ? "lost:" : "not measured", new_name,
                y && !y->counted ? ": " : "", y && !y->counted ? y->why : "");
    }
    return lost;
}

/* The family's adjusted p-values, then each verdict again: significant
 * over the family, and beyond the band (the calibrated one when larger). */
static int judge(qkperf_deltas *ds, const qkperf_results *old, const qkperf_results *new_,
                 const qkperf_compare_opts *o, const qkperf_results *noise, size_t *calibrated)
{
    size_t cap = ds->n ? ds->n : 1;
    double *p = calloc(cap, sizeof *p), *adj = calloc(cap, sizeof *adj);
    size_t m = 0;
    for (size_t i = 0; p && adj && i < ds->n; i++)
        if (selected(o, ds->d[i].phase, ds->d[i].metric))
            p[m++] = ds->d[i].change.p_value;
    if (!p || !adj || (m && qkperf_adjust_p(p, m, o->adjust, adj))) {
        free(p);
        free(adj);
        return -1;
    }
    double alpha = o->alpha > 0 ? o->alpha : 0.05;
    *calibrated = 0;
    for (size_t i = 0, k = 0; i < ds->n; i++) {
        qkperf_delta *d = &ds->d[i];
        if (!selected(o, d->phase, d->metric))
            continue;
        d->change.p_value = adj[k++];
        d->change.significant = d->change.p_value < alpha;
        const qkperf_record *a = record_of(old, d), *b = record_of(new_, d);
        double cal = a && b ? qkperf_noise_band(noise, a, a->nruns, b->nruns) : NAN;
        if (isfinite(cal)) {
            ++*calibrated;
            if (cal > d->band)
                d->band = cal;
        }
        d->verdict = qkperf_verdict_of(&d->change, d->band, d->lower_is_better);
        d->detectable = qkperf_detectable(&d->change, d->band, m, alpha, 0.9);
    }
    free(p);
    free(adj);
    return 0;
}

static void print_method(FILE *f, const qkperf_results *old, const qkperf_results *new_,
                         const qkperf_compare_opts *o, const char *old_name, const char *new_name,
                         const char *noise_name, size_t calibrated, int compared)
{
    size_t ko = runs_of(old), kn = runs_of(new_);
    double alpha = o->alpha > 0 ? o->alpha : 0.05;
    if (o->adjust == QKPERF_ADJUST_BH)
        fprintf(f, "multiplicity: Benjamini-Hochberg over %d records (false discovery rate %g%%)\n",
                compared, alpha * 100);
    else if (o->adjust == QKPERF_ADJUST_HOLM)
        fprintf(f, "multiplicity: Holm over %d records (family-wise error rate %g%%)\n", compared,
                alpha * 100);
    else
        fprintf(f, "multiplicity: none (each record at %g%%)\n", alpha * 100);
    if (o->same_process && ko > 1)
        fprintf(f, "intervals: between runs (%zu processes, both sides interleaved in each)\n", ko);
    else if (o->same_process)
        fprintf(f, "intervals: both sides interleaved in one process (A/B)\n");
    else if (ko > 1 && kn > 1)
        fprintf(f, "intervals: between runs (%zu runs in %s, %zu in %s)\n", ko, old_name, kn,
                new_name);
    else
        fprintf(f,
                "intervals: within-run only: %s has no run-to-run data (one process; "
                "measure with --runs K)\n",
                ko > 1 ? new_name : old_name);
    if (noise_name)
        fprintf(f, "noise: calibrated band from %s for %zu of %d records, else the metric's band\n",
                noise_name, calibrated, compared);
    else
        fprintf(f,
                "noise: the metric's band (no calibration: qkperf calibrate, compare --noise)\n");
}

int qkperf_compare_print(FILE *f, const qkperf_results *old, const qkperf_results *new_,
                         const qkperf_compare_opts *o, const char *old_name, const char *new_name,
                         char *err, size_t len)
{
    qkperf_machine_mismatch(old->machine, new_->machine, old_name, new_name);
    qkperf_deltas ds = {0};
    /* A baseline with run data is its own calibration; in an A/B the
     * process is shared by both sides, so its run-to-run spread cancels. */
    const qkperf_results *noise = o->noise                               ? o->noise
                                  : runs_of(old) > 1 && !o->same_process ? old
                                                                         : NULL;
    const char *noise_name = o->noise ? (o->noise_name ? o->noise_name : "--noise")
                             : noise  ? old_name
                                      : NULL;
    size_t calibrated = 0;
    if (qkperf_attrib_compare(old, new_, &o->bands, o->seed, &ds) ||
        judge(&ds, old, new_, o, noise, &calibrated)) {
        qkperf_deltas_free(&ds);
        snprintf(err, len, "out of memory comparing %s and %s", old_name, new_name);
        return -1;
    }
    int regressions = 0, improvements = 0, compared = 0;
    for (size_t i = 0; i < ds.n; i++) {
        const qkperf_delta *d = &ds.d[i];
        if (!selected(o, d->phase, d->metric))
            continue;
        compared++;
        regressions += d->verdict == QKPERF_REGRESSED;
        improvements += d->verdict == QKPERF_IMPROVED;
        if (d->verdict != QKPERF_NO_CHANGE || o->verbose || noise_name)
            print_delta(f, d, d->variant, o->verbose || noise_name);
    }
    qkperf_deltas_free(&ds);
    if (compared == 0) {
        snprintf(err, len,
                 "%s and %s have no counted record in common (different op, sizes or sources?)",
                 old_name, new_name);
        return -1;
    }
    int lost = lost_records(f, old, new_, o, new_name);
    if (o->improved)
        *o->improved = improvements;
    print_method(f, old, new_, o, old_name, new_name, noise_name, calibrated, compared);
    fprintf(f, "compared %d records of %s with %s: %d regressed, %d improved, %d unchanged%s",
            compared, new_name, old_name, regressions, improvements,
            compared - regressions - improvements, lost ? "; " : "\n");
    if (lost)
        fprintf(f, "%d counted in %s but lost in %s (a failure of the gate)\n", lost, old_name,
                new_name);
    return regressions + lost;
}
