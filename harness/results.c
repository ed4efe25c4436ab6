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

static qkperf_record *same_series(qkperf_results *r, const qkperf_record *x)
{
    for (size_t i = 0; i < r->n; i++) {
        qkperf_record *y = &r->rec[i];
        if (!strcmp(x->op, y->op) && !strcmp(x->variant, y->variant) && !strcmp(x->size, y->size) &&
            !strcmp(x->phase, y->phase) && !strcmp(x->metric, y->metric) &&
            !strcmp(x->source, y->source))
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
        summarize(dst);
        return 0;
    }
    double *p = realloc(dst->samples, (dst->n + rec->n) * sizeof(double));
    if (!p)
        return -1;
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

int qkperf_results_add(qkperf_results *r, const qkperf_record *rec)
{
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

void qkperf_results_note(qkperf_results *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(r->notes, json_string(buf));
}

const qkperf_record *qkperf_results_find(const qkperf_results *r, const char *op,
                                         const char *variant, const char *size, const char *phase,
                                         const char *metric)
{
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        if (!strcmp(x->op, op) && !strcmp(x->variant, variant) && !strcmp(x->size, size) &&
            !strcmp(x->phase, phase) && !strcmp(x->metric, metric))
            return x;
    }
    return NULL;
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

int qkperf_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    unlink(tmp); /* a leftover of a killed run with this pid; never follow a planted link */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
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
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:b,s:s?,s:o,s:{s:I,s:I}}",
                     "op", x->op, "variant", x->variant, "size", x->size, "phase", x->phase,
                     "metric", x->metric, "source", x->source, "unit", x->unit, "batch",
                     (json_int_t)x->batch, "samples", s, "median", num(x->median), "mad",
                     num(x->mad), "min", num(x->min), "counted", x->counted, "reason",
                     x->counted ? NULL : x->why, "multiplex", num(x->mux_ratio), "outliers", "low",
                     (json_int_t)x->outliers_low, "high", (json_int_t)x->outliers_high);
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
    fputs(
        "op,variant,size,phase,metric,source,unit,batch,n,median,mad,min,counted,reason,samples\n",
        f);
    for (size_t i = 0; i < r->n; i++) {
        const qkperf_record *x = &r->rec[i];
        const char *cols[] = {x->op, x->variant, x->size, x->phase, x->metric, x->source, x->unit};
        for (size_t c = 0; c < 7; c++) {
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

static int copy_str(char *dst, size_t cap, json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || strlen(s) >= cap)
        return -1;
    strcpy(dst, s);
    return 0;
}

static double get_num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int record_from_json(json_t *o, qkperf_record *x, double *buf, size_t cap)
{
    memset(x, 0, sizeof *x);
    static const char *const keys[] = {"op",     "variant", "size", "phase",
                                       "metric", "source",  "unit"};
    char *dst[] = {x->op, x->variant, x->size, x->phase, x->metric, x->source, x->unit};
    size_t caps[] = {sizeof x->op,     sizeof x->variant, sizeof x->size, sizeof x->phase,
                     sizeof x->metric, sizeof x->source,  sizeof x->unit};
    for (size_t k = 0; k < 7; k++)
        if (copy_str(dst[k], caps[k], o, keys[k]))
            return -1;
    json_t *s = json_object_get(o, "samples");
    if (!json_is_array(s) || json_array_size(s) > cap)
        return -1;
    x->n = json_array_size(s);
    for (size_t k = 0; k < x->n; k++) {
        json_t *v = json_array_get(s, k);
        if (!json_is_number(v))
            return -1;
        buf[k] = json_number_value(v);
    }
    x->samples = buf;
    x->counted = json_is_true(json_object_get(o, "counted"));
    x->batch = (unsigned long)json_integer_value(json_object_get(o, "batch"));
    x->mux_ratio = get_num(o, "multiplex");
    const char *why = json_string_value(json_object_get(o, "reason"));
    snprintf(x->why, sizeof x->why, "%s", why ? why : "");
    return 0;
}

static int fail(char *err, size_t len, const char *path, const char *what)
{
    snprintf(err, len, "%s: %s", path, what);
    return -1;
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
            snprintf(err, len, "%s:%d: not a JSON results document (%s)", path, je.line, je.text);
        return -1;
    }
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    json_t *recs = json_object_get(doc, "records");
    int rc = 0;
    if (!schema || strcmp(schema, QKPERF_SCHEMA) != 0)
        rc =
            fail(err, len, path, "not a qkperf results document (schema is not " QKPERF_SCHEMA ")");
    else if (!json_is_array(recs) || !json_is_object(json_object_get(doc, "machine")))
        rc = fail(err, len, path, "malformed results document (no records array or machine)");
    double *buf = malloc(100000 * sizeof(double));
    for (size_t i = 0; rc == 0 && buf && i < json_array_size(recs); i++) {
        qkperf_record x;
        if (record_from_json(json_array_get(recs, i), &x, buf, 100000) ||
            qkperf_results_add(r, &x)) {
            snprintf(err, len, "%s: record %zu is malformed", path, i);
            rc = -1;
        }
    }
    if (!buf)
        rc = fail(err, len, path, "out of memory");
    free(buf);
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
