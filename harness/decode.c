/*
 * decode.c — the decode benchmark: the linear layers of one decoded token
 * of BitNet b1.58 2B4T, timed end to end (see decode.h). This file
 * measures; `qkperf decode` is cmd/cmd_decode.c, and the table and the plot of
 * a decode document are plot_decode.c's.
 *
 * Data flow of a layer (the activations need not be realistic, only the
 * shapes): q, k, v = W{q,k,v} x; o = Wo q; g, u = W{gate,up} o; h = g * u
 * element-wise; x = Wdown h. Block scales are drawn around
 * 1/sqrt(2.5 * cols) (2.5 = mean square of the default table {-2,-1,1,2})
 * so every matmul keeps the activations' size: nothing overflows over 30
 * layers, and the float and int8 paths can be compared at the end. Each
 * token starts from the same x, so runs are reproducible for a seed.
 *
 * Tokens of the variants are interleaved (token 1 of every variant, then
 * token 2...) so a noisy stretch of time hits every variant alike, as the
 * run rounds of job.c do. The weights (554 MB for 30 layers) are many
 * times the last-level cache, so each token reads them all from memory:
 * bytes per token / time is the weight bandwidth, set against the memory
 * read bandwidth measured in the same run with the same thread count as
 * decode runs with (a one-thread figure would understate the ceiling of an
 * all-core decode).
 */
#include <emmintrin.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cli.h"
#include "decode.h"
#include "machine.h"
#include "probe.h"
#include "qk256.h"
#include "qkperf/kernel.h" /* qk_module: the weights read shares rows out like a gemv */
#include "roofline.h"
#include "stats.h"
#include "tsc.h"

/* ---- the model ---------------------------------------------------------------- */

enum { M_Q, M_K, M_V, M_O, M_GATE, M_UP, M_DOWN, NMAT };
enum { B_X, B_Q, B_K, B_V, B_O, B_G, B_U, B_H, NBUF };

static const struct {
    const char *name;
    size_t rows, cols;
} bitnet[NMAT] = {
    {"q", 2560, 2560},    {"k", 640, 2560},   {"v", 640, 2560},     {"o", 2560, 2560},
    {"gate", 6912, 2560}, {"up", 6912, 2560}, {"down", 2560, 6912},
};

/* One layer in order: which matrix, into which buffer, from which. */
static const struct {
    int mat, out, in;
} steps[NMAT] = {
    {M_Q, B_Q, B_X},    {M_K, B_K, B_X},  {M_V, B_V, B_X},    {M_O, B_O, B_Q},
    {M_GATE, B_G, B_O}, {M_UP, B_U, B_O}, {M_DOWN, B_X, B_H},
};

/* The calls of a layer (unless --unfused, one per matrix): matrices
 * [first, first + n), of one width, lie back to back in memory and so do
 * their outputs, so the projections that share an input are one gemv:
 * q|k|v from x (3840 rows), o, gate|up from o (13824 rows), down. Inference
 * engines fuse them the same way; it saves the hand-offs and the
 * quantization of x that separate calls would repeat. */
static const struct {
    int first, n;
} fused_calls[] = {{M_Q, 3}, {M_O, 1}, {M_GATE, 2}, {M_DOWN, 1}};
enum { NFUSED = sizeof fused_calls / sizeof fused_calls[0] };

typedef struct dmodel {
    unsigned layers;
    size_t rows[NMAT], cols[NMAT];
    size_t moff[NMAT], soff[NMAT];    /* bytes / floats into one layer */
    size_t layer_bytes, layer_scales; /* per layer */
    uint8_t *packed;
    float *scales, *x0, *buf[NBUF]; /* B_K, B_V inside B_Q's block, B_U inside B_G's */
    int fused;                      /* calls as fused_calls, else one per matrix */
    double weight_bytes;            /* packed + scales, per token */
    qk256_repacked **rep;           /* gemv-i8/repacked: [layer * NMAT + first matrix of a call] */
} dmodel;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * 0x1p-53;
}

/* Random bytes with no zero byte (zeros stream faster than real data). */
static void fill_packed(uint8_t *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = splitmix(s);
        if ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)
            for (unsigned k = 0; k < 64; k += 8)
                if (!((w >> k) & 0xff))
                    w |= 0xA5ull << k;
        memcpy(p + i, &w, n - i < 8 ? n - i : 8);
    }
}

static void model_shapes(dmodel *m, unsigned layers, unsigned div)
{
    size_t b = 0, s = 0;
    m->layers = layers;
    for (int k = 0; k < NMAT; k++) {
        m->rows[k] = bitnet[k].rows / div;
        m->cols[k] = bitnet[k].cols / div;
        m->moff[k] = b;
        m->soff[k] = s;
        b += m->rows[k] * qk256_row_bytes(m->cols[k]);
        s += m->rows[k] * (qk256_row_bytes(m->cols[k]) / QK256_BLOCK_BYTES);
    }
    m->layer_bytes = b;
    m->layer_scales = s;
    m->weight_bytes = (double)layers * (double)(b + s * sizeof(float));
}

static void *alloc64(size_t bytes)
{
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) ? NULL : p;
}

/* Weights on 2 MiB boundaries with huge pages advised, as the roofline's
 * memory buffer is: the two are then read with the same TLB reach. */
static void *alloc_huge(size_t bytes)
{
    enum { HUGE = 2u << 20 };
    size_t cap = (bytes + HUGE - 1) / HUGE * HUGE;
    void *p = NULL;
    if (posix_memalign(&p, HUGE, cap ? cap : HUGE))
        return NULL;
    madvise(p, cap, MADV_HUGEPAGE); /* advice only: ignored where THP is off */
    return p;
}

static void model_free(dmodel *m)
{
    if (m->rep)
        for (size_t i = 0; i < (size_t)m->layers * NMAT; i++)
            qk256_repacked_free(m->rep[i]);
    free(m->rep);
    free(m->packed);
    free(m->scales);
    free(m->x0);
    for (int i = 0; i < NBUF; i++)
        if (i != B_K && i != B_V && i != B_U) /* parts of B_Q's and B_G's blocks */
            free(m->buf[i]);
    memset(m, 0, sizeof *m);
}

static void fill_scales(dmodel *m, uint64_t *seed)
{
    for (unsigned l = 0; l < m->layers; l++)
        for (int k = 0; k < NMAT; k++) {
            /* E[(0.5 + u)^2] = 13/12 for u uniform in [0, 1). */
            double s0 = 1.0 / sqrt(2.5 * (double)m->cols[k] * 13.0 / 12.0);
            float *s = m->scales + l * m->layer_scales + m->soff[k];
            size_t n = m->rows[k] * (qk256_row_bytes(m->cols[k]) / QK256_BLOCK_BYTES);
            for (size_t i = 0; i < n; i++)
                s[i] = (float)(s0 * (0.5 + uniform01(seed)));
        }
}

/* Weights, scales and activation buffers; 0, or -1 with err. */
static int model_alloc(dmodel *m, unsigned layers, unsigned div, uint64_t seed, char *err,
                       size_t len)
{
    memset(m, 0, sizeof *m);
    model_shapes(m, layers, div);
    size_t nb = layers * m->layer_bytes, ns = layers * m->layer_scales;
    m->packed = alloc_huge(nb);
    m->scales = alloc_huge(ns * sizeof(float));
    m->x0 = alloc64(m->cols[M_Q] * sizeof(float));
    int ok = m->packed && m->scales && m->x0;
    /* outputs of a fused call back to back: q|k|v, gate|up */
    ok =
        ok && (m->buf[B_Q] = alloc64((m->rows[M_Q] + m->rows[M_K] + m->rows[M_V]) * sizeof(float)));
    ok = ok && (m->buf[B_G] = alloc64((m->rows[M_GATE] + m->rows[M_UP]) * sizeof(float)));
    ok = ok && (m->buf[B_O] = alloc64(m->rows[M_O] * sizeof(float)));
    ok = ok && (m->buf[B_X] = alloc64(m->rows[M_DOWN] * sizeof(float)));
    ok = ok && (m->buf[B_H] = alloc64(m->cols[M_DOWN] * sizeof(float)));
    if (ok) {
        m->buf[B_K] = m->buf[B_Q] + m->rows[M_Q];
        m->buf[B_V] = m->buf[B_K] + m->rows[M_K];
        m->buf[B_U] = m->buf[B_G] + m->rows[M_GATE];
    }
    if (!ok) {
        snprintf(err, len, "cannot allocate the decode model's %.1f MB of weights (%u layers): %s",
                 m->weight_bytes / 1e6, layers, strerror(ENOMEM));
        model_free(m);
        return -1;
    }
    fill_packed(m->packed, nb, &seed);
    fill_scales(m, &seed);
    for (size_t i = 0; i < m->cols[M_Q]; i++) /* uniform with unit RMS */
        m->x0[i] = (float)(sqrt(3.0) * (2 * uniform01(&seed) - 1));
    return 0;
}

/* ---- variants ------------------------------------------------------------------ */

static const char *const dec_ops[] = {"gemv", "gemv-i8"};

typedef struct dvariant {
    char label[48];   /* "gemv-i8/avx512-vnni", or QKPERF_DECODE_WEIGHTS_READ */
    const char *name; /* the library's name */
    int i8, runnable;
    int read;     /* the weights read: loads only, no arithmetic */
    int repacked; /* QKPERF_DECODE_REPACKED: qk256_gemv_i8_repacked */
    int null;     /* QKPERF_DECODE_NULL_READ: the read, set against the read */
} dvariant;

static const dvariant repacked_variant = {
    .label = QKPERF_DECODE_REPACKED, .name = "repacked", .i8 = 1, .runnable = 1, .repacked = 1};

static void known_variants(char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t o = 0; o < 2; o++)
        for (const char *const *v = qk256_variant_names(dec_ops[o]); v && *v && k < cap; v++)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s/%s", k ? ", " : "", dec_ops[o], *v);
    if (k < cap)
        snprintf(buf + k, cap - k, ", %s", QKPERF_DECODE_REPACKED);
}

/* A variant that runs repacked weights is QKPERF_DECODE_REPACKED in a
 * decode (weights repacked once, at load), not a plain call of it, which
 * would pack its rows again every call. */
static void set_variant(dvariant *d, size_t op, const char *name)
{
    if (qk256_variant_repacks(dec_ops[op], name) == 1) {
        *d = repacked_variant;
        return;
    }
    snprintf(d->label, sizeof d->label, "%s/%s", dec_ops[op], name);
    d->name = name;
    d->i8 = op == 1;
    d->runnable = qk256_variant_supported(dec_ops[op], name) == 1;
    d->read = 0; /* a kernel, not the weights read */
    d->repacked = 0;
}

/* "OP/NAME", or a NAME only one op has. 0 or -1 with err. */
static int resolve_one(const char *item, dvariant *d, char *err, size_t len)
{
    const char *slash = strchr(item, '/');
    size_t found = 0, first = 0;
    if (!strcmp(item, QKPERF_DECODE_REPACKED) || !strcmp(item, "repacked")) {
        *d = repacked_variant;
        return 0;
    }
    for (size_t o = 0; o < 2; o++) {
        const char *name = item;
        if (slash) {
            if (strlen(dec_ops[o]) != (size_t)(slash - item) ||
                strncmp(item, dec_ops[o], (size_t)(slash - item)))
                continue;
            name = slash + 1;
        }
        for (const char *const *v = qk256_variant_names(dec_ops[o]); v && *v; v++)
            if (!strcmp(*v, name)) {
                if (found++ == 0) {
                    first = o;
                    set_variant(d, o, *v);
                }
            }
    }
    if (found > 1)
        return snprintf(err, len, "variant '%s' is both %s/%s and %s/%s: name one of them", item,
                        dec_ops[first], item, dec_ops[1 - first], item),
               -1;
    if (found == 0) {
        char known[1024];
        known_variants(known, sizeof known);
        return snprintf(err, len, "unknown variant '%s' for decode (known: %s, all)", item, known),
               -1;
    }
    return 0;
}

static int add_unique(dvariant *dv, size_t *n, const dvariant *d)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(dv[i].label, d->label))
            return 0;
    if (*n == QKPERF_MAX_LIST)
        return -1;
    dv[(*n)++] = *d;
    return 0;
}

/* NULL: the plain functions' choices; "all": every variant of both ops. */
static int resolve_kernels(const char *text, dvariant *dv, size_t *n, char *err, size_t len)
{
    dvariant d;
    *n = 0;
    if (!text || !strcmp(text, "all")) {
        for (size_t o = 0; o < 2; o++)
            for (const char *const *v = qk256_variant_names(dec_ops[o]); v && *v; v++) {
                if (!text && strcmp(*v, qk256_default_variant(dec_ops[o])))
                    continue;
                set_variant(&d, o, *v);
                add_unique(dv, n, &d);
            }
        add_unique(dv, n, &repacked_variant);
        return 0;
    }
    char *storage;
    const char *items[QKPERF_MAX_LIST + 1];
    size_t ni;
    if (qkperf_split_list(text, &storage, items, QKPERF_MAX_LIST, &ni, "variant", err, len))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < ni && !rc; i++)
        rc = resolve_one(items[i], &d, err, len) || add_unique(dv, n, &d);
    free(storage);
    return rc ? -1 : 0;
}

/* The kernels asked for, the null read (null_read: where a kernel would
 * run, right before the read in each round), then the weights read. */
static int resolve_variants(const char *text, int null_read, dvariant *dv, size_t *n, char *err,
                            size_t len)
{
    if (resolve_kernels(text, dv, n, err, len))
        return -1;
    if (null_read && *n + 2 > QKPERF_MAX_LIST)
        return snprintf(err, len, "too many variants with --null: at most %d besides the two reads",
                        QKPERF_MAX_LIST - 2),
               -1;
    if (null_read) {
        dvariant z = {.label = QKPERF_DECODE_NULL_READ, .runnable = 1, .read = 1, .null = 1};
        dv[(*n)++] = z;
    }
    if (*n < QKPERF_MAX_LIST) {
        dvariant r = {.label = QKPERF_DECODE_WEIGHTS_READ, .runnable = 1, .read = 1};
        dv[(*n)++] = r;
    }
    return 0;
}

/* ---- one token ------------------------------------------------------------------ */

typedef struct read_job {
    const uint8_t *packed;
    const float *scales;
    size_t rb, nb; /* bytes and blocks per row; rows are packed back to back */
} read_job;

static _Thread_local volatile uint64_t read_sink;

/* Rows [r0, r1) of a matrix: its packed bytes, then its scales. */
static void read_rows(void *ctx, size_t r0, size_t r1)
{
    const read_job *j = ctx;
    read_sink ^= qkperf_read_fold(j->packed + r0 * j->rb, (r1 - r0) * j->rb) ^
                 qkperf_read_fold(j->scales + r0 * j->nb, (r1 - r0) * j->nb * sizeof(float));
}

/* One call: matrices [k, k + n) of a layer (steps order) as one gemv. */
static int run_step(const dvariant *d, dmodel *m, unsigned layer, int k, int n, char *err,
                    size_t len)
{
    size_t rows = 0, cols = m->cols[k], rb = qk256_row_bytes(cols);
    for (int i = k; i < k + n; i++)
        rows += m->rows[i];
    const uint8_t *p = m->packed + layer * m->layer_bytes + m->moff[k];
    const float *s = m->scales + layer * m->layer_scales + m->soff[k];
    float *y = m->buf[steps[k].out];
    const float *x = m->buf[steps[k].in];
    if (d->read) { /* the gemvs' hand-off threshold: rows x cols multiply-adds */
        read_job j = {p, s, rb, rb / QK256_BLOCK_BYTES};
        qk256_kernel_module()->parallel_rows(rows, rows * cols, read_rows, &j);
        return 0;
    }
    int rc = d->repacked ? qk256_gemv_i8_repacked(y, m->rep[layer * NMAT + (unsigned)k], x)
             : d->i8     ? qk256_gemv_i8_variant(d->name, y, p, rb, s, x, rows, cols, NULL)
                         : qk256_gemv_variant(d->name, y, p, rb, s, x, rows, cols, NULL);
    if (rc != QK256_OK) {
        char names[32] = "";
        for (int i = k; i < k + n; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i > k ? "|" : "",
                     bitnet[i].name);
        snprintf(err, len, "%s on layer %u %s (%zux%zu): %s", d->label, layer, names, rows, cols,
                 qk256_strerror(rc));
    }
    return rc;
}

/* The GLU, h = gate * up, four lanes at a time (SSE2, every x86-64) as an
 * engine's would be: with a scalar loop that reloaded its pointers for
 * each element it took 2-3 us per layer, about 1% of a token when the
 * kernels stream at 90 GB/s. Every kernel's token pays it, the weights
 * read's does not. */
static void glu(float *restrict h, const float *restrict g, const float *restrict u, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(h + i, _mm_mul_ps(_mm_loadu_ps(g + i), _mm_loadu_ps(u + i)));
    for (; i < n; i++)
        h[i] = g[i] * u[i];
}

/* The linear layers of one token, from x0; ns gets its wall time. */
static int run_token(const dvariant *d, dmodel *m, double *ns, char *err, size_t len)
{
    if (!d->read) /* (so B_X keeps the last kernel's result for final_out) */
        memcpy(m->buf[B_X], m->x0, m->cols[M_Q] * sizeof(float));
    uint64_t t0 = qkperf_tsc_now();
    int calls = m->fused ? NFUSED : NMAT;
    for (unsigned l = 0; l < m->layers; l++)
        for (int c = 0; c < calls; c++) {
            int k = m->fused ? fused_calls[c].first : c, n = m->fused ? fused_calls[c].n : 1;
            if (k == M_DOWN)
                glu(m->buf[B_H], m->buf[B_G], m->buf[B_U], m->cols[M_DOWN]);
            if (run_step(d, m, l, k, n, err, len))
                return -1;
        }
    *ns = qkperf_tsc_to_ns(qkperf_tsc_stop() - t0);
    return 0;
}

/* ---- records --------------------------------------------------------------------- */

static int add_series(qkperf_results *res, const char *variant, const char *size,
                      const char *metric, const char *unit, double *v, size_t n, const char *why)
{
    qkperf_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.op, sizeof r.op, "decode");
    snprintf(r.variant, sizeof r.variant, "%s", variant);
    snprintf(r.size, sizeof r.size, "%s", size);
    snprintf(r.phase, sizeof r.phase, "total");
    snprintf(r.metric, sizeof r.metric, "%s", metric);
    snprintf(r.source, sizeof r.source, "tsc");
    snprintf(r.unit, sizeof r.unit, "%s", unit);
    r.samples = why ? NULL : v;
    r.n = why ? 0 : n;
    r.batch = 1;
    r.mux_ratio = 1;
    r.counted = why == NULL;
    if (why)
        snprintf(r.why, sizeof r.why, "%s", why);
    return qkperf_results_add(res, &r);
}

/* Four series from the per-token times, and a fifth for a kernel when the
 * weights read ran (read: its times, else NULL). Token i's bandwidth
 * fraction is taken against mem[i], the memory read measured right after
 * its round, or mem_Bps where that read failed (0 when neither was
 * measured); its "of weights read" against read[i], the read pass of its
 * round. */
static int add_records(qkperf_results *res, const char *variant, const char *size, const double *ns,
                       size_t n, double weight_bytes, const double *mem, double mem_Bps,
                       const double *read)
{
    double *v = malloc(4 * n * sizeof *v);
    if (!v)
        return -1;
    double *tps = v, *bps = v + n, *frac = v + 2 * n, *ofr = v + 3 * n;
    int have = 1;
    for (size_t i = 0; i < n; i++) {
        double base = mem[i] > 0 ? mem[i] : mem_Bps;
        tps[i] = 1e9 / ns[i];
        bps[i] = weight_bytes * tps[i];
        frac[i] = base > 0 ? bps[i] / base : NAN;
        have &= base > 0;
        ofr[i] = read ? read[i] / ns[i] : NAN;
    }
    int rc = add_series(res, variant, size, "time", "ns", (double *)ns, n, NULL) ||
             add_series(res, variant, size, "tokens/s", "tokens/s", tps, n, NULL) ||
             add_series(res, variant, size, "weight B/s", "B/s", bps, n, NULL) ||
             add_series(res, variant, size, "bandwidth fraction", "ratio", frac, n,
                        have ? NULL
                             : "no memory read bandwidth measured with decode's "
                               "thread count (see the notes)") ||
             (read && add_series(res, variant, size, "of weights read", "ratio", ofr, n, NULL));
    free(v);
    return rc ? -1 : 0;
}

/* ---- the run ----------------------------------------------------------------------- */

void qkperf_decode_opts_default(qkperf_decode_opts *o)
{
    memset(o, 0, sizeof *o);
    o->tokens = 5;
    o->warmup = 1;
    o->layers = QKPERF_DECODE_LAYERS;
    o->seed = 1;
    o->shape_div = 1;
}

static int check_opts(const qkperf_decode_opts *o, char *err, size_t len)
{
    if (o->tokens < 1 || o->tokens > 100000)
        return snprintf(err, len, "token count %u out of range (1..100000)", o->tokens), -1;
    if (o->layers < 1 || o->layers > QKPERF_DECODE_LAYERS)
        return snprintf(err, len, "layer count %u out of range (1..%d: the model has %d)",
                        o->layers, QKPERF_DECODE_LAYERS, QKPERF_DECODE_LAYERS),
               -1;
    if (o->threads < 0 || o->threads > 256)
        return snprintf(err, len, "thread count %d out of range (1..256, or 0 for every CPU)",
                        o->threads),
               -1;
    if (o->shape_div < 1 || 640 % o->shape_div || 2560 % o->shape_div || 6912 % o->shape_div)
        return snprintf(err, len, "shape divisor %u must divide 640, 2560 and 6912", o->shape_div),
               -1;
    return 0;
}

/* The memory read bandwidth with the thread count decode runs with, before
 * the run: machine.roofline's when it has that count (the document's, else
 * measured now and stored), else measured now for that count. Kept in
 * config.memory_read_Bps and config.memory_read_threads; 0 when it cannot
 * be measured (a note says why). The reads interleaved with the tokens
 * (time_tokens) replace it; it stands in for any of them that fails. */
static double memory_bandwidth(const qkperf_decode_opts *o, int threads, qkperf_results *res)
{
    qkperf_roofline rl;
    char err[256];
    json_t *have = json_object_get(res->machine, "roofline");
    if (!have || qkperf_roofline_from_json(have, &rl, err, sizeof err)) {
        if (qkperf_roofline_measure(&rl, o->quick))
            return qkperf_results_note(res, "roofline not measured: %s", rl.method), 0;
        json_object_set_new(res->machine, "roofline", qkperf_roofline_json(&rl));
    }
    double bps = qkperf_roofline_mem_for(&rl, threads);
    const char *how = "machine.roofline";
    if (bps <= 0 && qkperf_roofline_mem_threads(threads, o->quick, &bps, err, sizeof err))
        return qkperf_results_note(res, "memory read bandwidth with %d threads not measured: %s",
                                   threads, err),
               0;
    if (!qkperf_roofline_mem_for(&rl, threads))
        how = "measured for decode: machine.roofline has no figure for this thread count";
    json_object_update_new(res->config,
                           json_pack("{s:f,s:i,s:s}", "memory_read_Bps", bps, "memory_read_threads",
                                     threads, "memory_read_from", how));
    return bps;
}

static void fill_config(const qkperf_decode_opts *o, const dmodel *m, const dvariant *dv, size_t nv,
                        qkperf_results *res)
{
    json_t *names = json_array();
    for (size_t i = 0; i < nv; i++)
        json_array_append_new(names, json_string(dv[i].label));
    json_object_update_new(
        res->config,
        json_pack("{s:s,s:s,s:o,s:i,s:i,s:i,s:i,s:I,s:b,s:i,s:f,s:b,s:i,s:b}", "command", "decode",
                  "op", "decode", "variants", names, "threads", qk256_get_threads(), "tokens",
                  (int)o->tokens, "warmup", (int)o->warmup, "layers", (int)o->layers, "seed",
                  (json_int_t)o->seed, "quick", o->quick, "shape_div", (int)o->shape_div,
                  "weight_bytes_per_token", m->weight_bytes, "fused", m->fused, "calls_per_layer",
                  m->fused ? (int)NFUSED : (int)NMAT, "null_read", o->null_read));
}

/*
 * Warm-up, then the timed tokens, interleaved over the variants; after each
 * timed round, one memory read with decode's thread count (qkperf
 * roofline's threaded read, quick: best of 3 short reps), into mem[t], 0
 * where it could not be made (why says why). The memory bandwidth of this
 * shared VM drifts by up to 2x within seconds (28 to 56 GB/s between
 * runs a minute apart), so each token is set against the read made next
 * to it rather than against one figure taken before the run.
 */
static int time_tokens(const qkperf_decode_opts *o, dmodel *m, const dvariant *dv, size_t nv,
                       double *ns, double *mem, int threads, char *why, size_t wlen, char *err,
                       size_t len)
{
    for (unsigned t = 0; t < o->warmup + o->tokens; t++) {
        for (size_t i = 0; i < nv; i++) {
            double tmp;
            double *slot = t < o->warmup ? &tmp : &ns[i * o->tokens + (t - o->warmup)];
            if (dv[i].runnable && run_token(&dv[i], m, slot, err, len))
                return -1;
        }
        if (t >= o->warmup &&
            qkperf_roofline_mem_threads(threads, 1, &mem[t - o->warmup], why, wlen))
            mem[t - o->warmup] = 0;
    }
    return 0;
}

/* The interleaved reads: kept as a series (variant "memory read"), their
 * median in config.memory_read_Bps (what the header, plot and report
 * show), and a note. Nothing when no read was made. */
static int record_reads(qkperf_results *res, const char *size, const double *mem, size_t n,
                        int threads, const char *why)
{
    double *v = malloc((n > 0 ? n : 1) * sizeof *v);
    const char *from = json_string_value(json_object_get(res->config, "memory_read_from"));
    size_t k = 0;
    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (mem[i] > 0)
            v[k++] = mem[i];
    if (k < n)
        qkperf_results_note(res,
                            "%zu of %zu memory reads interleaved with the tokens failed (%s); "
                            "those tokens are set against the figure from before the run "
                            "(%s)",
                            n - k, n, why, from ? from : "none was measured");
    if (k == 0 || add_series(res, "memory read", size, "memory read B/s", "B/s", v, k, NULL)) {
        free(v);
        return k == 0 ? 0 : -1;
    }
    qkperf_summary sm;
    qkperf_summarize(v, k, &sm, NULL);
    double med = sm.median;
    json_object_update_new(res->config,
                           json_pack("{s:f,s:i,s:i}", "memory_read_Bps", med, "memory_read_threads",
                                     threads, "memory_reads_interleaved", (int)k));
    qkperf_results_note(res,
                        "bandwidth fraction: each token's weight B/s over the memory read "
                        "with %d thread%s made right after its round (%zu reads: median "
                        "%.1f GB/s, %.1f to %.1f)",
                        threads, threads == 1 ? "" : "s", k, med / 1e9, sm.min / 1e9, sm.max / 1e9);
    free(v);
    return 0;
}

/* gemv-i8/repacked: the weights of every call (fused or not) repacked once
 * with qk256_repack_i8, before the tokens and timed apart from them: a
 * series "repack time" (one sample, ns), config.repack_* and a note. 0, or
 * 1 with err. */
static int repack_model(dmodel *m, const char *size, qkperf_results *res, char *err, size_t len)
{
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    m->rep = calloc((size_t)m->layers * NMAT, sizeof *m->rep);
    if (!m->rep)
        return snprintf(err, len, "cannot allocate the repacked weights' handles"), 1;
    int calls = m->fused ? NFUSED : NMAT;
    double bytes = 0;
    uint64_t t0 = qkperf_tsc_now();
    for (unsigned l = 0; l < m->layers; l++)
        for (int c = 0; c < calls; c++) {
            int k = m->fused ? fused_calls[c].first : c, n = m->fused ? fused_calls[c].n : 1;
            size_t rows = 0, cols = m->cols[k], rb = qk256_row_bytes(cols);
            for (int i = k; i < k + n; i++)
                rows += m->rows[i];
            qk256_repacked **h = &m->rep[l * NMAT + (unsigned)k];
            int rc =
                qk256_repack_i8(h, m->packed + l * m->layer_bytes + m->moff[k], rb,
                                m->scales + l * m->layer_scales + m->soff[k], rows, cols, NULL);
            if (rc != QK256_OK)
                return snprintf(err, len, "%s: repacking layer %u (%zux%zu): %s",
                                QKPERF_DECODE_REPACKED, l, rows, cols, qk256_strerror(rc)),
                       1;
            bytes += (double)qk256_repacked_bytes(*h);
        }
    double ns = qkperf_tsc_to_ns(qkperf_tsc_stop() - t0);
    const char *by = qk256_repacked_variant(m->rep[0]);
    json_object_update_new(res->config, json_pack("{s:f,s:f,s:s}", "repack_ns", ns,
                                                  "repacked_bytes", bytes, "repack_variant", by));
    qkperf_results_note(res,
                        "%s: the weights repacked once (qk256_repack_i8) for %s before the "
                        "tokens, on one thread: %.1f ms for %.1f MB, not in the per-token "
                        "times (series \"repack time\")",
                        QKPERF_DECODE_REPACKED, by, ns / 1e6, bytes / 1e6);
    if (add_series(res, QKPERF_DECODE_REPACKED, size, "repack time", "ns", &ns, 1, NULL))
        return snprintf(err, len, "out of memory adding the repack time"), 1;
    return 0;
}

static int measure_model(const qkperf_decode_opts *o, const dvariant *dv, size_t nv, double mem_Bps,
                         qkperf_results *res, char *err, size_t len)
{
    dmodel m;
    if (model_alloc(&m, o->layers, o->shape_div, o->seed, err, len))
        return 1;
    m.fused = !o->unfused;
    fill_config(o, &m, dv, nv, res);
    if (o->layers < QKPERF_DECODE_LAYERS)
        qkperf_results_note(res,
                            "decode ran %u of the model's %d layers%s: %.1f MB of its %.1f MB "
                            "of weights per token",
                            o->layers, QKPERF_DECODE_LAYERS, o->quick ? " (--quick)" : "",
                            m.weight_bytes / 1e6,
                            m.weight_bytes / o->layers * QKPERF_DECODE_LAYERS / 1e6);
    char size[48];
    snprintf(size, sizeof size, "bitnet-b1.58-2b4t-%uL", o->layers);
    if (o->shape_div > 1)
        snprintf(size + strlen(size), sizeof size - strlen(size), "-div%u", o->shape_div);
    for (size_t i = 0; i < nv; i++)
        if (dv[i].repacked && repack_model(&m, size, res, err, len)) {
            model_free(&m);
            return 1;
        }
    double *ns = malloc((nv + 1) * o->tokens * sizeof *ns), *mem = ns ? ns + nv * o->tokens : NULL;
    char why[256] = "";
    int threads = qk256_get_threads();
    int rc = ns ? time_tokens(o, &m, dv, nv, ns, mem, threads, why, sizeof why, err, len) : -1;
    if (!ns)
        snprintf(err, len, "cannot allocate %zu token times", nv * o->tokens);
    if (rc == 0 && record_reads(res, size, mem, o->tokens, threads, why))
        rc = -1, snprintf(err, len, "out of memory adding the memory reads");
    const double *read = NULL;
    for (size_t i = 0; i < nv; i++)
        if (dv[i].read && !dv[i].null)
            read = ns + i * o->tokens;
    for (size_t i = 0; rc == 0 && i < nv; i++)
        if (dv[i].runnable &&
            add_records(res, dv[i].label, size, ns + i * o->tokens, o->tokens, m.weight_bytes, mem,
                        mem_Bps, dv[i].read && !dv[i].null ? NULL : read))
            rc = -1, snprintf(err, len, "out of memory adding the records of %s", dv[i].label);
    if (rc == 0 && o->null_read)
        qkperf_results_note(res,
                            "%s: the weights read run again in a kernel's place, right before "
                            "the read in each round; its \"of read\" is the same program "
                            "against itself, how far this run's \"of read\" figures move "
                            "with nothing changed",
                            QKPERF_DECODE_NULL_READ);
    if (rc == 0 && o->final_out)
        memcpy(o->final_out, m.buf[B_X], m.rows[M_DOWN] * sizeof(float));
    free(ns);
    model_free(&m);
    return rc ? 1 : 0;
}

int qkperf_decode_measure(const qkperf_decode_opts *o, qkperf_results *res, char *err, size_t len)
{
    dvariant dv[QKPERF_MAX_LIST];
    size_t nv;
    if (check_opts(o, err, len) || resolve_variants(o->variants, o->null_read, dv, &nv, err, len))
        return 2;
    qkperf_probe_t p;
    qkperf_probe(&p);
    json_object_update_new(res->machine, qkperf_machine_json(&p));
    json_object_update_new(res->build, qkperf_build_json());
    qkperf_tsc_mhz(); /* calibrate before the first token */
    for (size_t i = 0; i < nv; i++)
        if (!dv[i].runnable)
            qkperf_results_note(res, "decode %s skipped: this CPU cannot run it", dv[i].label);
    int saved = qk256_get_threads();
    if (qk256_set_threads(o->threads) != QK256_OK)
        return snprintf(err, len, "cannot set %d threads", o->threads), 2;
    double mem_Bps = memory_bandwidth(o, qk256_get_threads(), res);
    int rc = measure_model(o, dv, nv, mem_Bps, res, err, len);
    qk256_set_threads(saved);
    return rc;
}
