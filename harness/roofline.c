/*
 * roofline.c — measure this machine's bandwidth limits from one thread:
 * stores into an L1-resident buffer, and reads of buffers sized to live in
 * L2, in L3, and in memory; and the memory read again with every online
 * CPU, which is what a multi-threaded kernel (decode) is up against. Each
 * figure is the best of several timed repetitions (the least disturbed
 * one), timed with CLOCK_MONOTONIC_RAW.
 *
 * The threaded read: each thread fills (first touch, so its pages are
 * local to it) and reads its own slice of one buffer, with the same kernel
 * as the one-thread figure; the threads start each repetition at a
 * barrier, and a repetition lasts from the first start to the last end,
 * so the slowest thread sets the figure.
 *
 * Buffers are filled with non-zero data and the stores write non-zero
 * values: some CPUs (this project's Zen 4 VM among them) store zeros
 * several times faster, which would give a limit no kernel can reach.
 * The AVX2 paths use 32-byte accesses and are compiled per function, taken
 * only when the CPU says it has AVX2; the portable paths use 8-byte words.
 */
#include <immintrin.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "results.h"
#include "roofline.h"
#include "tsc.h"

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)

/* One rep moves at least this many bytes, so that a rep lasts a few ms:
 * long against clock overhead, short against interrupts. */
#define REP_BYTES (256 * MiB)

/* Keeps reads from being elided; per thread, so the threaded read does not race on it. */
static _Thread_local volatile uint64_t roofline_sink;

/* ---- kernels --------------------------------------------------------------- */

/* The kernels measure the hardware, so a sanitizer build must not slow them
 * down: the sanitizers' checks before every access cut the L1 store figure
 * from ~117 to ~25 GB/s, below memory read, and no limit measured that way
 * means anything. Their accesses stay inside buffers sized by the caller. */
#define QKPERF_BW_KERNEL __attribute__((no_sanitize("address", "undefined")))

QKPERF_BW_KERNEL __attribute__((target("avx2"))) static void store_avx2(void *buf, size_t bytes,
                                                                        size_t passes)
{
    __m256i v = _mm256_set1_epi64x(0x5a5a5a5a01020304LL);
    for (size_t p = 0; p < passes; p++) {
        for (char *q = buf, *end = q + bytes; q < end; q += 128) {
            _mm256_store_si256((__m256i *)q, v);
            _mm256_store_si256((__m256i *)(q + 32), v);
            _mm256_store_si256((__m256i *)(q + 64), v);
            _mm256_store_si256((__m256i *)(q + 96), v);
        }
        /* Every pass must really store: forbid merging passes. */
        __asm__ volatile("" ::: "memory");
    }
}

#define QKPERF_XOR_LOAD(acc, q) acc = _mm256_xor_si256(acc, _mm256_load_si256((const __m256i *)(q)))

QKPERF_BW_KERNEL __attribute__((target("avx2"))) static void read_avx2(void *buf, size_t bytes,
                                                                       size_t passes)
{
    /* Eight independent xor chains (1-cycle latency) over 256 bytes per
     * iteration keep the loads, not the arithmetic or the loop, the limit. */
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a, e = a, f = a, g = a, h = a;
    for (size_t p = 0; p < passes; p++) {
        for (const char *q = buf, *end = q + bytes; q < end; q += 256) {
            QKPERF_XOR_LOAD(a, q);
            QKPERF_XOR_LOAD(b, q + 32);
            QKPERF_XOR_LOAD(c, q + 64);
            QKPERF_XOR_LOAD(d, q + 96);
            QKPERF_XOR_LOAD(e, q + 128);
            QKPERF_XOR_LOAD(f, q + 160);
            QKPERF_XOR_LOAD(g, q + 192);
            QKPERF_XOR_LOAD(h, q + 224);
        }
        __asm__ volatile("" ::: "memory");
    }
    a = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
    e = _mm256_xor_si256(_mm256_xor_si256(e, f), _mm256_xor_si256(g, h));
    roofline_sink = (uint64_t)_mm256_extract_epi64(_mm256_xor_si256(a, e), 0);
}

QKPERF_BW_KERNEL static void store_words(void *buf, size_t bytes, size_t passes)
{
    for (size_t p = 0; p < passes; p++) {
        for (uint64_t *q = buf, *end = q + bytes / 8; q < end; q += 4) {
            q[0] = 0x5a5a5a5a01020304ULL;
            q[1] = 0x5a5a5a5a01020304ULL;
            q[2] = 0x5a5a5a5a01020304ULL;
            q[3] = 0x5a5a5a5a01020304ULL;
        }
        __asm__ volatile("" ::: "memory");
    }
}

QKPERF_BW_KERNEL static void read_words(void *buf, size_t bytes, size_t passes)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t p = 0; p < passes; p++) {
        for (const uint64_t *q = buf, *end = q + bytes / 8; q < end; q += 4) {
            a ^= q[0];
            b ^= q[1];
            c ^= q[2];
            d ^= q[3];
        }
        __asm__ volatile("" ::: "memory");
    }
    roofline_sink = a ^ b ^ c ^ d;
}

/* Any span, any alignment: 8-byte words, then the last bytes, into the
 * low byte. The vector path folds to the same value, so either path's
 * result can be checked against the other. */
QKPERF_BW_KERNEL static uint64_t fold_words(const uint8_t *p, size_t bytes, uint64_t f)
{
    uint64_t w;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        memcpy(&w, p + i, 8);
        f ^= w;
    }
    for (; i < bytes; i++)
        f ^= p[i];
    return f;
}

/* 32-byte loads in four chains over whole 128-byte steps, the rest as words. */
QKPERF_BW_KERNEL __attribute__((target("avx2"))) static uint64_t fold_avx2(const uint8_t *p,
                                                                           size_t bytes)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 128 <= bytes; i += 128) {
        a = _mm256_xor_si256(a, _mm256_loadu_si256((const __m256i *)(p + i)));
        b = _mm256_xor_si256(b, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
        c = _mm256_xor_si256(c, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
        d = _mm256_xor_si256(d, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
    }
    a = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
    __m128i h = _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    uint64_t f = (uint64_t)_mm_cvtsi128_si64(h) ^ (uint64_t)_mm_extract_epi64(h, 1);
    return fold_words(p + i, bytes - i, f);
}

uint64_t qkperf_read_fold(const void *p, size_t bytes)
{
    return __builtin_cpu_supports("avx2") ? fold_avx2(p, bytes) : fold_words(p, bytes, 0);
}

/* Stores and reads share one signature so a level is a row of a table. */
typedef void (*qkperf_bw_kernel)(void *buf, size_t bytes, size_t passes);

/* ---- cache sizes ----------------------------------------------------------- */

typedef struct qkperf_caches {
    size_t l1d, l2, l3;
} qkperf_caches;

/* "32K", "1024K", "32M" -> bytes; 0 when unreadable. */
static size_t read_cache_size(const char *dir)
{
    char path[256], text[32] = "";
    snprintf(path, sizeof path, "%s/size", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t v = 0;
    char unit = 0;
    if (fgets(text, sizeof text, f) && sscanf(text, "%zu%c", &v, &unit) >= 1)
        v *= unit == 'K' ? KiB : unit == 'M' ? MiB : 1;
    fclose(f);
    return v;
}

static int read_int_file(const char *dir, const char *name)
{
    char path[256];
    int v = -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Sizes from sysfs when it has them; else common modern sizes. */
static qkperf_caches cache_sizes(void)
{
    qkperf_caches c = {32 * KiB, 512 * KiB, 8 * MiB};
    for (int i = 0; i < 8; i++) {
        char dir[128], type[32] = "";
        snprintf(dir, sizeof dir, "/sys/devices/system/cpu/cpu0/cache/index%d", i);
        char tpath[160];
        snprintf(tpath, sizeof tpath, "%s/type", dir);
        FILE *f = fopen(tpath, "r");
        if (!f)
            break;
        int got = fscanf(f, "%31s", type) == 1;
        fclose(f);
        int level = read_int_file(dir, "level");
        size_t size = read_cache_size(dir);
        if (!got || !size || !strcmp(type, "Instruction"))
            continue;
        if (level == 1)
            c.l1d = size;
        else if (level == 2)
            c.l2 = size;
        else if (level == 3)
            c.l3 = size;
    }
    return c;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}
static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Buffers: half of L1D (at most 16 KiB) and half of L2 stay resident; the
 * L3 buffer is half of L3, at most 16 MiB (a slice may be all one core
 * gets), at least 4x L2; memory is at least 4x the last level. */
static void choose_buffers(qkperf_roofline *rl, const qkperf_caches *c, int quick)
{
    rl->l1_bytes = min_size(16 * KiB, c->l1d / 2);
    rl->l2_bytes = c->l2 / 2;
    rl->l3_bytes = max_size(4 * c->l2, min_size(c->l3 / 2, 16 * MiB));
    size_t ll = max_size(c->l3, c->l2);
    rl->mem_bytes = quick ? max_size(64 * MiB, 5 * ll) : max_size(512 * MiB, 4 * ll);
    rl->mem_bytes = (rl->mem_bytes + MiB - 1) / MiB * MiB;
}

/* ---- timing ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Best bytes/s over reps of `passes` passes, after one untimed pass that
 * brings the buffer into the level being measured. */
static double best_Bps(qkperf_bw_kernel k, void *buf, size_t bytes, unsigned reps)
{
    size_t passes = max_size(1, REP_BYTES / bytes);
    if (bytes >= REP_BYTES)
        passes = 1;
    k(buf, bytes, 1);
    double best = 0;
    for (unsigned r = 0; r < reps; r++) {
        double t0 = now_s();
        k(buf, bytes, passes);
        double dt = now_s() - t0;
        if (dt > 0 && (double)(bytes * passes) / dt > best)
            best = (double)(bytes * passes) / dt;
    }
    return best;
}

/* Large buffers ask for transparent huge pages: with 4 KiB pages the
 * memory read is limited by page walks (about 25 GB/s instead of 32 here). */
static void *huge_buffer(size_t bytes)
{
    size_t align = bytes >= 2 * MiB ? 2 * MiB : 64;
    void *p = aligned_alloc(align, (bytes + align - 1) / align * align);
    if (p && align > 64)
        madvise(p, bytes, MADV_HUGEPAGE); /* advice only: fine if refused */
    return p;
}

static void *filled_buffer(size_t bytes)
{
    void *p = huge_buffer(bytes);
    if (p)
        memset(p, 0x5a, bytes); /* non-zero, and faults every page in now */
    return p;
}

/* One level: allocate, fill, measure, free. 0 or -1 (no memory). */
static int measure_level(qkperf_bw_kernel k, size_t bytes, unsigned reps, double *out)
{
    void *buf = filled_buffer(bytes);
    if (!buf)
        return -1;
    *out = best_Bps(k, buf, bytes, reps);
    free(buf);
    return 0;
}

/* ---- the threaded memory read -------------------------------------------- */

enum { MAX_THREADS = 256, MAX_REPS = 16 };

typedef struct mem_gate {
    pthread_mutex_t lock;
    pthread_cond_t open;
    int state; /* 0 wait, 1 go, -1 abort (not every thread started) */
    pthread_barrier_t rep;
} mem_gate;

typedef struct mem_part {
    mem_gate *gate;
    qkperf_bw_kernel k;
    char *buf;
    size_t bytes, passes;
    unsigned reps;
    double t0[MAX_REPS], t1[MAX_REPS];
} mem_part;

static void *mem_worker(void *arg)
{
    mem_part *p = arg;
    pthread_mutex_lock(&p->gate->lock);
    while (p->gate->state == 0)
        pthread_cond_wait(&p->gate->open, &p->gate->lock);
    int go = p->gate->state > 0;
    pthread_mutex_unlock(&p->gate->lock);
    if (!go)
        return NULL;
    memset(p->buf, 0x5a, p->bytes); /* first touch: pages near this thread */
    p->k(p->buf, p->bytes, 1);
    for (unsigned r = 0; r < p->reps; r++) {
        pthread_barrier_wait(&p->gate->rep);
        p->t0[r] = now_s();
        p->k(p->buf, p->bytes, p->passes);
        p->t1[r] = now_s();
    }
    return NULL;
}

/* Best bytes/s over the reps: all slices' bytes over first start to last end. */
static double parts_best_Bps(const mem_part *part, int n)
{
    double best = 0, bytes = (double)part[0].bytes * (double)part[0].passes * n;
    for (unsigned r = 0; r < part[0].reps; r++) {
        double t0 = part[0].t0[r], t1 = part[0].t1[r];
        for (int i = 1; i < n; i++) {
            t0 = part[i].t0[r] < t0 ? part[i].t0[r] : t0;
            t1 = part[i].t1[r] > t1 ? part[i].t1[r] : t1;
        }
        if (t1 > t0 && bytes / (t1 - t0) > best)
            best = bytes / (t1 - t0);
    }
    return best;
}

/* Start n workers, open the gate (or abort it if one cannot start), join. */
static int run_parts(mem_part *part, int n, mem_gate *g, char *err, size_t len)
{
    pthread_t tid[MAX_THREADS];
    int started = 0, rc = 0;
    while (started < n && !(rc = pthread_create(&tid[started], NULL, mem_worker, &part[started])))
        started++;
    pthread_mutex_lock(&g->lock);
    g->state = rc ? -1 : 1;
    pthread_cond_broadcast(&g->open);
    pthread_mutex_unlock(&g->lock);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    if (rc)
        snprintf(err, len, "cannot start memory-read thread %d of %d: %s", started + 1, n,
                 strerror(rc));
    return rc ? -1 : 0;
}

static void mem_buffer_size(int quick, size_t *bytes)
{
    qkperf_roofline rl;
    qkperf_caches c = cache_sizes();
    choose_buffers(&rl, &c, quick);
    *bytes = rl.mem_bytes;
}

int qkperf_roofline_mem_threads(int threads, int quick, double *Bps, char *err, size_t len)
{
    *Bps = 0;
    if (threads < 1 || threads > MAX_THREADS)
        return snprintf(err, len, "memory-read thread count %d out of range (1..%d)", threads,
                        MAX_THREADS),
               -1;
    size_t total;
    mem_buffer_size(quick, &total);
    size_t slice = total / (size_t)threads / 256 * 256; /* whole iterations of either kernel */
    char *buf = huge_buffer(total);
    mem_part *part = calloc((size_t)threads, sizeof *part);
    if (!buf || !part) {
        free(buf);
        free(part);
        return snprintf(err, len, "cannot allocate %zu MiB for the memory read buffer",
                        total / MiB),
               -1;
    }
    mem_gate g = {.lock = PTHREAD_MUTEX_INITIALIZER, .open = PTHREAD_COND_INITIALIZER};
    int rc = pthread_barrier_init(&g.rep, NULL, (unsigned)threads);
    if (rc) {
        free(buf);
        free(part);
        return snprintf(err, len, "cannot set up a barrier for %d threads: %s", threads,
                        strerror(rc)),
               -1;
    }
    int avx2 = __builtin_cpu_supports("avx2");
    for (int i = 0; i < threads; i++)
        part[i] = (mem_part){.gate = &g,
                             .k = avx2 ? read_avx2 : read_words,
                             .buf = buf + (size_t)i * slice,
                             .bytes = slice,
                             .passes = max_size(1, REP_BYTES / (slice * (size_t)threads)),
                             .reps = quick ? 3 : 7};
    rc = run_parts(part, threads, &g, err, len);
    if (rc == 0)
        *Bps = parts_best_Bps(part, threads);
    pthread_barrier_destroy(&g.rep);
    free(part);
    free(buf);
    return rc;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

double qkperf_roofline_mem_for(const qkperf_roofline *rl, int threads)
{
    if (threads == 1)
        return rl->mem_read_Bps;
    return threads == rl->mem_threads ? rl->mem_read_all_Bps : 0;
}

int qkperf_roofline_measure(qkperf_roofline *out, int quick)
{
    memset(out, 0, sizeof *out);
    qkperf_caches c = cache_sizes();
    choose_buffers(out, &c, quick);
    int avx2 = __builtin_cpu_supports("avx2");
    qkperf_bw_kernel st = avx2 ? store_avx2 : store_words;
    qkperf_bw_kernel rd = avx2 ? read_avx2 : read_words;
    unsigned reps = quick ? 5 : 15, mem_reps = quick ? 3 : 7;
    int nt = online_cpus();
    snprintf(out->method, sizeof out->method,
             "one thread, and memory read also with %d threads (own slices, timed to the slowest); "
             "best of %u (memory: %u), %s, non-zero data, huge pages advised, CLOCK_MONOTONIC_RAW",
             nt, reps, mem_reps,
             avx2 ? "AVX2 32-byte loads/stores" : "portable 8-byte loads/stores");
    const struct {
        size_t bytes;
        qkperf_bw_kernel k;
        unsigned reps;
        double *dst;
        const char *name;
    } lv[] = {
        {out->l1_bytes, st, reps, &out->l1_store_Bps, "L1 store"},
        {out->l2_bytes, rd, reps, &out->l2_read_Bps, "L2 read"},
        {out->l3_bytes, rd, reps, &out->l3_read_Bps, "L3 read"},
        {out->mem_bytes, rd, mem_reps, &out->mem_read_Bps, "memory read"},
    };
    for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++)
        if (measure_level(lv[i].k, lv[i].bytes, lv[i].reps, lv[i].dst)) {
            snprintf(out->method, sizeof out->method, "cannot allocate %zu MiB for the %s buffer",
                     lv[i].bytes / MiB, lv[i].name);
            return -1;
        }
    char err[sizeof out->method];
    if (qkperf_roofline_mem_threads(nt, quick, &out->mem_read_all_Bps, err, sizeof err))
        return snprintf(out->method, sizeof out->method, "%s", err), -1;
    out->mem_threads = nt;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

json_t *qkperf_roofline_json(const qkperf_roofline *rl)
{
    json_t *o = json_pack(
        "{s:f,s:f,s:f,s:f,s:s,s:I,s:I,s:I,s:I}", "l1_store_Bps", rl->l1_store_Bps, "l2_read_Bps",
        rl->l2_read_Bps, "l3_read_Bps", rl->l3_read_Bps, "mem_read_Bps", rl->mem_read_Bps, "method",
        rl->method, "l1_bytes", (json_int_t)rl->l1_bytes, "l2_bytes", (json_int_t)rl->l2_bytes,
        "l3_bytes", (json_int_t)rl->l3_bytes, "mem_bytes", (json_int_t)rl->mem_bytes);
    if (o && rl->mem_threads > 0 &&
        (json_object_set_new(o, "mem_read_all_Bps", json_real(rl->mem_read_all_Bps)) ||
         json_object_set_new(o, "mem_threads", json_integer(rl->mem_threads)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* mem_read_all_Bps and mem_threads: both absent, or both valid. */
static int all_threads_from_json(const json_t *o, qkperf_roofline *out, char *err, size_t len)
{
    json_t *bw = json_object_get(o, "mem_read_all_Bps"), *nt = json_object_get(o, "mem_threads");
    if (!bw && !nt)
        return 0;
    if (!json_is_number(bw) || json_number_value(bw) <= 0)
        return snprintf(err, len,
                        "roofline: 'mem_read_all_Bps' missing or not a positive number "
                        "(it goes with 'mem_threads')"),
               -1;
    if (!json_is_integer(nt) || json_integer_value(nt) < 1 || json_integer_value(nt) > MAX_THREADS)
        return snprintf(err, len,
                        "roofline: 'mem_threads' missing or not a count from 1 to %d "
                        "(it goes with 'mem_read_all_Bps')",
                        MAX_THREADS),
               -1;
    out->mem_read_all_Bps = json_number_value(bw);
    out->mem_threads = (int)json_integer_value(nt);
    return 0;
}

int qkperf_roofline_from_json(const json_t *o, qkperf_roofline *out, char *err, size_t len)
{
    static const char *const keys[] = {"l1_store_Bps", "l2_read_Bps", "l3_read_Bps",
                                       "mem_read_Bps"};
    static const char *const sizes[] = {"l1_bytes", "l2_bytes", "l3_bytes", "mem_bytes"};
    double *dst[] = {&out->l1_store_Bps, &out->l2_read_Bps, &out->l3_read_Bps, &out->mem_read_Bps};
    size_t *sdst[] = {&out->l1_bytes, &out->l2_bytes, &out->l3_bytes, &out->mem_bytes};
    memset(out, 0, sizeof *out);
    if (!json_is_object(o))
        return snprintf(err, len, "roofline: expected an object"), -1;
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (!json_is_number(v) || json_number_value(v) <= 0)
            return snprintf(err, len, "roofline: '%s' missing or not a positive number", keys[i]),
                   -1;
        *dst[i] = json_number_value(v);
        json_int_t b = json_integer_value(json_object_get(o, sizes[i]));
        *sdst[i] = b > 0 ? (size_t)b : 0;
    }
    if (all_threads_from_json(o, out, err, len))
        return -1;
    const char *m = json_string_value(json_object_get(o, "method"));
    snprintf(out->method, sizeof out->method, "%s", m ? m : "unknown");
    return 0;
}

/* ---- the table and the document ------------------------------------------- */

static void fmt_bytes(char *buf, size_t len, size_t b)
{
    if (b >= MiB)
        snprintf(buf, len, "%zu MiB", b / MiB);
    else
        snprintf(buf, len, "%zu KiB", b / KiB);
}

void qkperf_roofline_print(FILE *f, const qkperf_roofline *rl)
{
    /* Core cycles come from the TSC and the measured core/TSC ratio: an
     * estimate, and only meaningful with an invariant TSC. */
    double core_hz = qkperf_tsc_invariant() ? qkperf_tsc_mhz() * 1e6 * qkperf_core_per_tsc() : 0;
    const struct {
        const char *name;
        int threads;
        double Bps;
        size_t bytes;
    } lv[] = {
        {"L1 store", 1, rl->l1_store_Bps, rl->l1_bytes},
        {"L2 read", 1, rl->l2_read_Bps, rl->l2_bytes},
        {"L3 read", 1, rl->l3_read_Bps, rl->l3_bytes},
        {"memory read", 1, rl->mem_read_Bps, rl->mem_bytes},
        {"memory read", rl->mem_threads, rl->mem_read_all_Bps, rl->mem_bytes},
    };
    fprintf(f, "%-12s %7s %8s %12s  %s\n", "level", "threads", "buffer", "bandwidth",
            core_hz > 0 ? "bytes/cycle per core (estimate)" : "");
    for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
        char sz[32];
        if (lv[i].threads < 1)
            continue;
        fmt_bytes(sz, sizeof sz, lv[i].bytes);
        fprintf(f, "%-12s %7d %8s %7.1f GB/s", lv[i].name, lv[i].threads, sz, lv[i].Bps / 1e9);
        if (core_hz > 0)
            fprintf(f, "  %6.1f", lv[i].Bps / lv[i].threads / core_hz);
        fputc('\n', f);
    }
    if (core_hz > 0)
        fprintf(f, "core clock %.2f GHz (estimate: TSC %.0f MHz x %.3f core cycles/tick)\n",
                core_hz / 1e9, qkperf_tsc_mhz(), qkperf_core_per_tsc());
    else
        fprintf(f, "bytes per core cycle: n/a (no invariant TSC to estimate the core clock)\n");
    fprintf(f, "method: %s\n", rl->method);
}

int qkperf_roofline_write(const qkperf_roofline *rl, const char *path, char *err, size_t len)
{
    json_t *o = qkperf_roofline_json(rl);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    size_t n = text ? strlen(text) : 0;
    char *doc = text ? malloc(n + 2) : NULL;
    if (!doc) {
        free(text);
        return snprintf(err, len, "out of memory writing %s", path), -1;
    }
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a counted buffer */
    memcpy(doc, text, n); /* the document ends in a newline */
    doc[n] = '\n';
    free(text);
    int rc = qkperf_write_atomic(path, doc, n + 1, err, len);
    free(doc);
    return rc ? -1 : 0;
}
