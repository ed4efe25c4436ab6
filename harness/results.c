/*
 * results.c — the results document in memory, as JSON and as CSV.
 *
 * JSON goes through jansson both ways; CSV is the flat form of the records
 * (one row per record, samples joined by ';') that the plot scripts read. Every
 * file is written to a temporary name in the target folder, flushed,
 * fsync'ed and renamed over the target, so an interrupted write never
 * leaves a half-written baseline or report behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results.h"
#include "stats.h"

void qkperf_results_init(qkperf_results *r)
{
    memset(r, 0, sizeof *r);
    r->machine = json_object();
    r->build = json_object();
    r->config = json_object();
    r->notes = json_array();
}

void qkperf_results_free(qkperf_results *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->rec[i].samples);
    free(r->rec);
    json_decref(r->machine);
    json_decref(r->build);
    json_decref(r->config);
    json_decref(r->notes);
    memset(r, 0, sizeof *r);
}

static void summarize(qkperf_record *rec)
{
    qkperf_summary s;
    if (!rec->counted || rec->n == 0 || qkperf_summarize(rec->samples, rec->n, &s, NULL)) {
        rec->median = rec->mad = rec->min = NAN;
        return;
    }
    rec->median = s.median;
    rec->mad = s.mad;
    rec->min = s.min;
    rec->outliers_low = s.low_mild + s.low_severe;
    rec->outliers_high = s.high_mild + s.high_severe;
}

const char *qkperf_default_view(const char *phase)
{
    return strcmp(phase, "total") ? QKPERF_VIEW_STAGED : QKPERF_VIEW_FUSED;
}

int qkperf_view_known(const char *view)
{
    return !strcmp(view, QKPERF_VIEW_STAGED) || !strcmp(view, QKPERF_VIEW_FUSED) ||
           !strcmp(view, QKPERF_VIEW_IN_CONTEXT);
}

static qkperf_record *same_series(qkperf_results *r, const qkperf_record *x)
{
    for (size_t i = 0; i < r->n; i++) {
        qkperf_record *y = &r->rec[i];
        if (!strcmp(x->op, y->op) && !strcmp(x->variant, y->variant) && !strcmp(x->size, y->size) &&
            !strcmp(x->phase, y->phase) && !strcmp(x->metric, y->metric) &&
            !strcmp(x->source, y->source) && !strcmp(x->view, y->view))
            return y;
    }
    return NULL;
}

/* A later round of the same series: its samples join the earlier ones. */
static int merge(qkperf_record *dst, const qkperf_record *rec)
{
    if (!rec->counted || !dst->counted) { /* n/a in any round: n/a, without samples */
        if (!rec->counted && dst->counted)
            snprintf(dst->why, sizeof dst->why, "%s", rec->why);
        dst->counted = 0;
        free(dst->samples);
        dst->samples = NULL;
        dst->n = 0;
        dst->nruns = 0;
        summarize(dst);
        return 0;
    }
    double *p = realloc(dst->samples, (dst->n + rec->n) * sizeof(double));
    if (!p)
        return -1;
    if (dst->nruns) /* a later round of the same run */
        dst->run_n[dst->nruns - 1] += (unsigned)rec->n;
    memcpy(p + dst->n, rec->samples, rec->n * sizeof(double));
    dst->samples = p;
    dst->n += rec->n;
    if (rec->batch < dst->batch) /* rounds may calibrate differently: keep the smallest */
        dst->batch = rec->batch;
    if (rec->mux_ratio < dst->mux_ratio)
        dst->mux_ratio = rec->mux_ratio;
    summarize(dst);
    return 0;
}

int qkperf_results_add(qkperf_results *r, const qkperf_record *in)
{
    qkperf_record viewed = *in, *rec = &viewed;
    if (!rec->view[0])
        snprintf(rec->view, sizeof rec->view, "%s", qkperf_default_view(rec->phase));
    qkperf_record *prev = same_series(r, rec);
    if (prev)
        return merge(prev, rec);
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        qkperf_record *p = realloc(r->rec, cap * sizeof *p);
        if (!p)
            return -1;
        r->rec = p;
        r->cap = cap;
    }
    qkperf_record *dst = &r->rec[r->n];
    *dst = *rec;
    dst->samples = NULL;
    if (rec->n) {
        dst->samples = malloc(rec->n * sizeof(double));
        if (!dst->samples)
            return -1;
        memcpy(dst->samples, rec->samples, rec->n * sizeof(double));
    }
    summarize(dst);
    r->n++;
    return 0;
}

int qkperf_results_add_run(qkperf_results *r, const qkperf_results *run)
{
    for (size_t i = 0; i < run->n; i++) {
        const qkperf_record *x = &run->rec[i];
        qkperf_record *prev = same_series(r, x);
        if (prev && prev->counted && x->counted && prev->nruns >= QKPERF_MAX_RUNS)
            return -1;
        if (!prev || !prev->counted || !x->counted) {
            if (qkperf_results_add(r, x))
                return -1;
            prev = same_series(r, x);
            if (prev->counted && prev->n == x->n) { /* its first run */
                prev->nruns = 1;
                prev->run_n[0] = (unsigned)x->n;
            }
            continue;
        }
        if (prev->nruns == 0) { /* samples there before runs were counted */
            prev->nruns = 1;
            prev->run_n[0] = (unsigned)prev->n;
        }
        size_t k = prev->nruns;
        qkperf_record one = *x;
        one.nruns = 0;
        if (merge(prev, &one))
            return -1;
        prev->nruns = k + 1;
        prev->run_n[k - 1] -= (unsigned)x->n; /* merge extended the last run */
        prev->run_n[k] = (unsigned)x->n;
    }
    return 0;
}

static size_t run_start(const qkperf_record *x, size_t k)
{
    size_t at = 0;
    for (size_t i = 0; i < k; i++)
        at += x->run_n[i];
    return at;
}

double qkperf_record_run_median(const qkperf_record *x, size_t k)
{
    qkperf_summary s;
    if (k >= x->nruns || !x->run_n[k] ||
        qkperf_summarize(x->samples + run_start(x, k), x->run_n[k], &s, NULL))
        return NAN;
    return s.median;
}

double qkperf_record_run_spread(const qkperf_record *x)
{
    if (!x->counted || x->nruns < 2)
        return NAN;
    double sum = 0, sum2 = 0;
    for (size_t k = 0; k < x->nruns; k++) {
        double m = qkperf_record_run_median(x, k);
        if (!(m > 0))
            return NAN;
        sum += log(m);
        sum2 += log(m) * log(m);
    }
    double n = (double)x->nruns, var = (sum2 - sum * sum / n) / (n - 1);
    return sqrt(var > 0 ? var : 0);
}

void qkperf_results_note(qkperf_results *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(r->notes, json_string(buf));
}

const qkperf_record *qkperf_results_find_view(const qkperf_results *r, const char *view,
                                              const char *op, const char *variant, const char *size,
                                              const char *phase, const char *metric)
{
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!strcmp(x->op, op) && !strcmp(x->variant, variant) && !strcmp(x->size, size) &&
            !strcmp(x->phase, phase) && !strcmp(x->metric, metric) && !strcmp(x->view, view))
            return x;
    }
    return NULL;
}

const qkperf_record *qkperf_results_find(const qkperf_results *r, const char *op,
                                         const char *variant, const char *size, const char *phase,
                                         const char *metric)
{
    return qkperf_results_find_view(r, qkperf_default_view(phase), op, variant, size, phase,
                                    metric);
}

/* ---- atomic writes ------------------------------------------------------ */

void (*qkperf_write_hook)(const char *tmp_path);

static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

/* Remove what killed writes of `path` left behind: "<name>.tmp.<pid>" in
 * its folder whose process no longer exists. A live writer's file stays. */
static void drop_stale_tmp(const char *path)
{
    char *d = strdup(path), *b = strdup(path);
    const char *folder = d && b ? dirname(d) : NULL;
    DIR *dir = folder ? opendir(folder) : NULL;
    if (dir) {
        const char *name = basename(b);
        size_t n = strlen(name);
        struct dirent *e;
        while ((e = readdir(dir))) {
            const char *p = e->d_name;
            if (strncmp(p, name, n) || strncmp(p + n, ".tmp.", 5))
                continue;
            char *end;
            errno = 0;
            long pid = strtol(p + n + 5, &end, 10);
            if (*end || errno || pid <= 0 || pid == (long)getpid() ||
                !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
                continue;
            char full[4096];
            if (snprintf(full, sizeof full, "%s/%s", folder, p) < (int)sizeof full)
                unlink(full);
        }
        closedir(dir);
    }
    free(d);
    free(b);
}

/* The temporary file path is written through, created fresh: an fd, or
 * -1 with one line in err. */
static int open_tmp(const char *path, char tmp[4096], char *err, size_t errlen)
{
    if (snprintf(tmp, 4096, "%s.tmp.%ld", path, (long)getpid()) >= 4096) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    unlink(tmp); /* a leftover of a killed run with this pid; never follow a planted link */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return fd;
}

int qkperf_write_atomic_probe(const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    int fd = open_tmp(path, tmp, err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(tmp);
    return 0;
}

int qkperf_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[4096];
    int fd = open_tmp(path, tmp, err, errlen);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int bad = off != len || fsync(fd) != 0;
    if (qkperf_write_hook)
        qkperf_write_hook(tmp);
    int saved = errno;
    if (close(fd) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        saved = bad ? saved : errno;
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
        return -1;
    }
    sync_dir(path); /* make the rename itself durable */
    drop_stale_tmp(path);
    return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *record_json(const qkperf_record *x)
{
    json_t *s = json_array();
    for (size_t i = 0; i < x->n; i++)
        json_array_append_new(s, num(x->samples[i]));
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:b,s:s?,s:o,s:{s:I,s:I}}", "op",
        x->op, "variant", x->variant, "size", x->size, "phase", x->phase, "view", x->view, "metric",
        x->metric, "source", x->source, "unit", x->unit, "batch", (json_int_t)x->batch, "samples",
        s, "median", num(x->median), "mad", num(x->mad), "min", num(x->min), "counted", x->counted,
        "reason", x->counted ? NULL : x->why, "multiplex", num(x->mux_ratio), "outliers", "low",
        (json_int_t)x->outliers_low, "high", (json_int_t)x->outliers_high);
    if (o && x->threads > 0) /* hw, sw: counted on this many threads, summed */
        json_object_set_new(o, "threads", json_integer(x->threads));
    if (o && x->nruns > 0) { /* --runs: each process's share of the samples */
        json_t *runs = json_array();
        for (size_t k = 0; k < x->nruns; k++)
            json_array_append_new(runs, json_pack("{s:I,s:o}", "n", (json_int_t)x->run_n[k],
                                                  "median", num(qkperf_record_run_median(x, k))));
        json_object_set_new(o, "runs", runs);
        json_object_set_new(o, "run_spread", num(qkperf_record_run_spread(x)));
    }
    return o;
}

static json_t *results_json(const qkperf_results *r)
{
    json_t *recs = json_array();
    for (size_t i = 0; i < r->n; i++) {
        json_t *x = record_json(&r->rec[i]);
        if (!x || json_array_append_new(recs, x)) { /* never drop a record silently */
            json_decref(recs);
            return NULL;
        }
    }
    return json_pack("{s:s,s:O,s:O,s:O,s:o,s:O}", "schema", QKPERF_SCHEMA, "machine", r->machine,
                     "build", r->build, "config", r->config, "records", recs, "notes", r->notes);
}

char *qkperf_results_json_text(const qkperf_results *r)
{
    json_t *doc = results_json(r);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(doc);
    char *out = text ? realloc(text, strlen(text) + 2) : NULL;
    if (!out) {
        free(text);
        return NULL;
    }
    strcat(out, "\n");
    return out;
}

int qkperf_results_write_json_trimmed(const qkperf_results *r, const char *path, char *err,
                                      size_t len)
{
    json_t *doc = results_json(r), *x, *kept = json_array(), *na = json_object();
    size_t i;
    json_array_foreach(json_object_get(doc, "records"), i, x)
    {
        if (!json_is_true(json_object_get(x, "counted"))) { /* one reason per source and view */
            char key[48];
            snprintf(key, sizeof key, "%s %s", json_string_value(json_object_get(x, "source")),
                     json_string_value(json_object_get(x, "view")));
            if (!json_object_get(na, key))
                json_object_set(na, key, json_object_get(x, "reason"));
            continue;
        }
        json_object_set_new(
            x, "n", json_integer((json_int_t)json_array_size(json_object_get(x, "samples"))));
        json_object_del(x, "samples");
        json_array_append(kept, x);
    }
    if (doc) {
        json_object_set_new(doc, "records", kept);
        json_object_set_new(doc, "not_counted", na);
        json_object_set_new(doc, "trimmed", json_true());
    } else {
        json_decref(kept);
        json_decref(na);
    }
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(doc);
    if (!text) {
        snprintf(err, len, "%s: cannot encode results as JSON", path);
        return -1;
    }
    int rc = qkperf_write_atomic(path, text, strlen(text), err, len);
    free(text);
    return rc;
}

int qkperf_results_write_json(const qkperf_results *r, const char *path, char *err, size_t len)
{
    char *text = qkperf_results_json_text(r);
    if (!text) {
        snprintf(err, len, "%s: cannot encode results as JSON", path);
        return -1;
    }
    int rc = qkperf_write_atomic(path, text, strlen(text), err, len);
    free(text);
    return rc;
}

/* ---- CSV ----------------------------------------------------------------- */

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.10g", v);
    else
        fputs(",nan", f);
}

char *qkperf_results_csv_text(const qkperf_results *r)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    fputs("op,variant,size,phase,view,metric,source,unit,batch,n,median,mad,min,counted,reason,"
          "samples\n",
          f);
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        const char *cols[] = {x->op,   x->variant, x->size,   x->phase,
                              x->view, x->metric,  x->source, x->unit};
        for (size_t c = 0; c < 8; c++) {
            if (c)
                fputc(',', f);
            csv_field(f, cols[c]);
        }
        fprintf(f, ",%lu,%zu", x->batch, x->n);
        csv_num(f, x->median);
        csv_num(f, x->mad);
        csv_num(f, x->min);
        fprintf(f, ",%d,", x->counted);
        csv_field(f, x->counted ? "" : x->why);
        fputc(',', f);
        for (size_t k = 0; k < x->n; k++)
            fprintf(f, "%s%.10g", k ? ";" : "", x->samples[k]);
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}

int qkperf_results_write_csv(const qkperf_results *r, const char *path, char *err, size_t len)
{
    char *text = qkperf_results_csv_text(r);
    if (!text) {
        snprintf(err, len, "%s: out of memory", path);
        return -1;
    }
    int rc = qkperf_write_atomic(path, text, strlen(text), err, len);
    free(text);
    return rc;
}

/* ---- reading back -------------------------------------------------------- */

/*
 * A document may come from anyone (a CI artifact, a colleague's baseline),
 * so it is checked field by field before anything uses it, and the first
 * problem is reported on one line naming the file, the record and the
 * field: "FILE: record 3 (gemv avx2-p1 64x256 unpack time): field 'batch'
 * is a string, expected an integer >= 1". Names and every string that
 * reaches a table, plot or report must be printable: a control character
 * (a byte below 0x20, or 0x7f) is refused.
 */

static const char *json_kind(const json_t *v)
{
    static const char *const kinds[] = {
        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
        [JSON_INTEGER] = "a number", [JSON_REAL] = "a number",  [JSON_TRUE] = "true",
        [JSON_FALSE] = "false",      [JSON_NULL] = "null"};
    return v ? kinds[json_typeof(v)] : "missing";
}

/* 0 when s is printable, else -1 with why naming `what`. */
static int printable(const char *s, const char *what, char *why, size_t wlen)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return snprintf(why, wlen,
                            "%s holds a control character (byte 0x%02x at offset %zu); names "
                            "and labels must be printable text",
                            what, *p, (size_t)(p - (const unsigned char *)s)),
                   -1;
    return 0;
}

/* at + "." + key into sub, the key's control bytes as \xHH (so a message
 * naming it stays one line) and its first 100 bytes only. */
static void key_path(char *sub, size_t cap, const char *at, const char *key)
{
    size_t n = (size_t)snprintf(sub, cap, "%s.", at);
    for (const unsigned char *p = (const unsigned char *)key;
         *p && p - (const unsigned char *)key < 100 && n + 5 < cap; p++)
        n += (size_t)(*p < 0x20 || *p == 0x7f ? snprintf(sub + n, cap - n, "\\x%02x", *p)
                                              : snprintf(sub + n, cap - n, "%c", *p));
}

/* Every string inside v (config, machine), named by its path. */
static int printable_tree(json_t *v, const char *at, char *why, size_t wlen)
{
    char sub[256];
    if (json_is_string(v))
        return printable(json_string_value(v), at, why, wlen);
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            snprintf(sub, sizeof sub, "%s[%zu]", at, i);
            if (printable_tree(x, sub, why, wlen))
                return -1;
        }
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            key_path(sub, sizeof sub, at, k);
            if (printable(k, sub, why, wlen) || printable_tree(x, sub, why, wlen))
                return -1;
        }
    }
    return 0;
}

/* A name field: a printable string shorter than cap, empty only if allowed. */
static int get_name(json_t *o, const char *key, char *dst, size_t cap, int may_be_empty, char *why,
                    size_t wlen)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    char what[64];
    snprintf(what, sizeof what, "field '%s'", key);
    if (!s)
        return snprintf(why, wlen, "%s is %s, expected a string", what, json_kind(v)), -1;
    if (!*s && !may_be_empty)
        return snprintf(why, wlen, "%s is empty", what), -1;
    if (strlen(s) >= cap)
        return snprintf(why, wlen, "%s is %zu bytes long, at most %zu fit", what, strlen(s),
                        cap - 1),
               -1;
    if (printable(s, what, why, wlen))
        return -1;
    strcpy(dst, s);
    return 0;
}

/* An integer >= lo; absent gives *out = dflt when dflt >= 0. */
static int get_int(json_t *o, const char *key, json_int_t lo, json_int_t dflt, json_int_t *out,
                   char *why, size_t wlen)
{
    json_t *v = json_object_get(o, key);
    if (!v && dflt >= 0)
        return *out = dflt, 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo)
        return snprintf(why, wlen, "field '%s' is %s%s, expected an integer >= %lld", key,
                        json_is_integer(v) ? "" : json_kind(v),
                        json_is_integer(v) ? "out of range" : "", (long long)lo),
               -1;
    *out = json_integer_value(v);
    return 0;
}

/* A number in [lo, hi] or null (NaN) or absent (NaN). */
static int get_real(json_t *o, const char *key, double lo, double hi, double *out, char *why,
                    size_t wlen)
{
    json_t *v = json_object_get(o, key);
    *out = NAN;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return snprintf(why, wlen, "field '%s' is %s, expected a number", key, json_kind(v)), -1;
    *out = json_number_value(v);
    if (*out < lo || *out > hi)
        return snprintf(why, wlen, "field '%s' is %g, out of range [%g, %g]", key, *out, lo, hi),
               -1;
    return 0;
}

static int get_names(json_t *o, qkperf_record *x, char *why, size_t wlen)
{
    static const char *const keys[] = {"op",     "variant", "size", "phase",
                                       "metric", "source",  "unit"};
    char *dst[] = {x->op, x->variant, x->size, x->phase, x->metric, x->source, x->unit};
    size_t caps[] = {sizeof x->op,     sizeof x->variant, sizeof x->size, sizeof x->phase,
                     sizeof x->metric, sizeof x->source,  sizeof x->unit};
    for (size_t k = 0; k < 7; k++)
        if (get_name(o, keys[k], dst[k], caps[k], k == 6, why, wlen))
            return -1;
    json_t *view = json_object_get(o, "view"); /* absent before views were recorded */
    if (!view) {
        snprintf(x->view, sizeof x->view, "%s", qkperf_default_view(x->phase));
        return 0;
    }
    if (get_name(o, "view", x->view, sizeof x->view, 0, why, wlen))
        return -1;
    if (!qkperf_view_known(x->view))
        return snprintf(why, wlen, "field 'view' is '%s', expected staged, fused or in-context",
                        x->view),
               -1;
    return 0;
}

static int get_samples(json_t *o, qkperf_record *x, double *buf, size_t cap, char *why, size_t wlen)
{
    json_t *s = json_object_get(o, "samples");
    if (!json_is_array(s))
        return snprintf(why, wlen, "field 'samples' is %s, expected an array of numbers",
                        json_kind(s)),
               -1;
    if (json_array_size(s) > cap)
        return snprintf(why, wlen, "field 'samples' has %zu entries, at most %zu are read",
                        json_array_size(s), cap),
               -1;
    x->n = json_array_size(s);
    for (size_t k = 0; k < x->n; k++) {
        json_t *v = json_array_get(s, k);
        if (!json_is_number(v))
            return snprintf(why, wlen, "samples[%zu] is %s, expected a number", k, json_kind(v)),
                   -1;
        buf[k] = json_number_value(v);
    }
    x->samples = buf;
    return 0;
}

/* median, mad and min are recomputed from the samples; a document that
 * has them must still have numbers there. */
static int get_stats(json_t *o, qkperf_record *x, char *why, size_t wlen)
{
    static const char *const keys[] = {"median", "mad", "min"};
    double unused;
    for (size_t k = 0; k < 3; k++)
        if (get_real(o, keys[k], -INFINITY, INFINITY, &unused, why, wlen))
            return -1;
    json_t *c = json_object_get(o, "counted"), *out = json_object_get(o, "outliers");
    if (!json_is_boolean(c))
        return snprintf(why, wlen, "field 'counted' is %s, expected true or false", json_kind(c)),
               -1;
    x->counted = json_is_true(c);
    json_int_t v;
    if (out && !json_is_object(out))
        return snprintf(why, wlen, "field 'outliers' is %s, expected an object", json_kind(out)),
               -1;
    if (out &&
        (get_int(out, "low", 0, 0, &v, why, wlen) || get_int(out, "high", 0, 0, &v, why, wlen)))
        return -1;
    return 0;
}

/* "runs": [{"n": N, "median": M}, ...], optional; the lengths must add
 * up to the samples (the medians are recomputed from them). */
static int get_runs(json_t *o, qkperf_record *x, char *why, size_t wlen)
{
    json_t *runs = json_object_get(o, "runs");
    size_t total = 0;
    if (!runs)
        return 0;
    if (!json_is_array(runs) || json_array_size(runs) > QKPERF_MAX_RUNS)
        return snprintf(why, wlen, "field 'runs' is %s, expected an array of at most %d runs",
                        json_kind(runs), QKPERF_MAX_RUNS),
               -1;
    for (size_t k = 0; k < json_array_size(runs); k++) {
        json_int_t n;
        json_t *run = json_array_get(runs, k);
        if (!json_is_object(run))
            return snprintf(why, wlen, "runs[%zu] is %s, expected an object", k, json_kind(run)),
                   -1;
        if (get_int(run, "n", 1, -1, &n, why, wlen))
            return -1;
        x->run_n[k] = (unsigned)(n > 100000 ? 100000 : n);
        total += x->run_n[k];
    }
    x->nruns = json_array_size(runs);
    if (x->nruns && total != x->n)
        return snprintf(why, wlen, "field 'runs' counts %zu samples, the record has %zu", total,
                        x->n),
               -1;
    return 0;
}

static int record_from_json(json_t *o, qkperf_record *x, double *buf, size_t cap, char *why,
                            size_t wlen)
{
    memset(x, 0, sizeof *x);
    if (!json_is_object(o))
        return snprintf(why, wlen, "is %s, expected an object", json_kind(o)), -1;
    json_int_t batch;
    json_t *reason = json_object_get(o, "reason");
    if (get_names(o, x, why, wlen) || get_samples(o, x, buf, cap, why, wlen) ||
        get_stats(o, x, why, wlen) ||
        get_int(o, "batch", x->counted ? 1 : 0, -1, &batch, why, wlen) ||
        get_real(o, "multiplex", 0, 1, &x->mux_ratio, why, wlen))
        return -1;
    if (reason && !json_is_null(reason) && !json_is_string(reason))
        return snprintf(why, wlen, "field 'reason' is %s, expected a string", json_kind(reason)),
               -1;
    const char *r = json_string_value(reason);
    if (r && printable(r, "field 'reason'", why, wlen))
        return -1;
    snprintf(x->why, sizeof x->why, "%s", r ? r : "");
    x->batch = (unsigned long)batch;
    json_int_t threads;
    if (get_int(o, "threads", 0, 0, &threads, why, wlen))
        return -1;
    if (threads > 65536)
        return snprintf(why, wlen, "field 'threads' is out of range, expected at most 65536"), -1;
    x->threads = (unsigned)threads;
    return get_runs(o, x, why, wlen);
}

/* config.bands (the noise bands the verdicts used) and
 * config.bootstrap_seed, when present, as qkperf writes them. */
static int check_bands(json_t *config, char *why, size_t wlen)
{
    json_t *b = json_object_get(config, "bands"), *s = json_object_get(config, "bootstrap_seed");
    if (s && !json_is_integer(s))
        return snprintf(why, wlen, "config.bootstrap_seed is %s, expected an integer",
                        json_kind(s)),
               -1;
    if (!b)
        return 0;
    if (!json_is_object(b))
        return snprintf(why, wlen, "config.bands is %s, expected an object", json_kind(b)), -1;
    for (int k = 0; k < QKPERF_KIND_COUNT; k++) {
        const char *name = qkperf_metric_kind_name((qkperf_metric_kind)k);
        json_t *v = json_object_get(b, name);
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 1)
            return snprintf(why, wlen, "config.bands.%s is %s, expected a fraction in [0, 1)", name,
                            json_is_number(v) ? "out of range" : json_kind(v)),
                   -1;
    }
    return 0;
}

/* The sections around the records. */
static int check_sections(json_t *doc, char *why, size_t wlen)
{
    static const char *const objects[] = {"build", "config"};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(doc, objects[k]);
        if (v && !json_is_object(v))
            return snprintf(why, wlen, "%s is %s, expected an object", objects[k], json_kind(v)),
                   -1;
    }
    return printable_tree(json_object_get(doc, "config"), "config", why, wlen) ||
                   printable_tree(json_object_get(doc, "machine"), "machine", why, wlen) ||
                   check_bands(json_object_get(doc, "config"), why, wlen)
               ? -1
               : 0;
}

static int fail(char *err, size_t len, const char *path, const char *what)
{
    snprintf(err, len, "%s: %s", path, what);
    return -1;
}

/* "record 3 (gemv avx2-p1 64x256 unpack time): WHY", the names once known. */
static int record_fail(char *err, size_t len, const char *path, size_t i, const qkperf_record *x,
                       const char *why)
{
    if (*x->metric && *x->source)
        snprintf(err, len, "%s: record %zu (%s %s %s %s %s): %s", path, i, x->op, x->variant,
                 x->size, x->phase, x->metric, why);
    else
        snprintf(err, len, "%s: record %zu: %s", path, i, why);
    return -1;
}

static int read_records(qkperf_results *r, json_t *recs, const char *path, char *err, size_t len)
{
    double *buf = malloc(100000 * sizeof(double));
    if (!buf)
        return fail(err, len, path, "out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(recs); i++) {
        qkperf_record x;
        char why[400];
        if (record_from_json(json_array_get(recs, i), &x, buf, 100000, why, sizeof why))
            rc = record_fail(err, len, path, i, &x, why);
        else if (qkperf_results_add(r, &x))
            rc = fail(err, len, path, "out of memory");
    }
    free(buf);
    return rc;
}

char *qkperf_one_line(char *s)
{
    for (unsigned char *c = (unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            *c = '?';
    return s;
}

int qkperf_results_read_json(qkperf_results *r, const char *path, char *err, size_t len)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    qkperf_results_init(r);
    if (!doc) {
        qkperf_results_free(r);
        if (je.line <= 0 && access(path, R_OK) != 0)
            snprintf(err, len, "%s: %s", path, strerror(errno));
        else
            snprintf(err, len, "%s:%d: not a JSON results document (%s)", path, je.line,
                     qkperf_one_line(je.text));
        return -1;
    }
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    json_t *recs = json_object_get(doc, "records");
    char why[400];
    int rc = 0;
    if (!schema || strcmp(schema, QKPERF_SCHEMA) != 0)
        rc =
            fail(err, len, path, "not a qkperf results document (schema is not " QKPERF_SCHEMA ")");
    else if (json_is_true(json_object_get(doc, "trimmed")))
        rc = fail(err, len, path,
                  "a document trimmed of its raw samples (qkperf review --compact): it is "
                  "for reading; compare, plot and report need a full results.json");
    else if (!json_is_array(recs) || !json_is_object(json_object_get(doc, "machine")))
        rc = fail(err, len, path, "malformed results document (no records array or machine)");
    else if (check_sections(doc, why, sizeof why))
        rc = fail(err, len, path, why);
    else
        rc = read_records(r, recs, path, err, len);
    if (rc == 0) {
        json_object_update(r->machine, json_object_get(doc, "machine"));
        json_t *b = json_object_get(doc, "build"), *c = json_object_get(doc, "config");
        if (json_is_object(b))
            json_object_update(r->build, b);
        if (json_is_object(c))
            json_object_update(r->config, c);
    } else {
        qkperf_results_free(r);
    }
    json_decref(doc);
    return rc;
}
