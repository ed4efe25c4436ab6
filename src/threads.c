/*
 * threads.c — the persistent worker pool behind the threaded gemv (float
 * and int8) and the thread-count settings of qk256.h.
 *
 * Workers are started on the first call that needs them and live until the
 * process ends; a call hands them a job under one mutex, bumps a generation
 * counter (and wakes the workers that sleep), runs its own slice, then
 * waits for the others. Both waits spin first, for up to SPIN_NS, and only
 * then sleep on a condition variable: under KVM, waking a sleeping thread
 * took 20-25 us per call (a 640 x 2560 int8 gemv ran in 48 us on two
 * threads against 25 us on one), and a decode makes 210 calls per token,
 * usually back to back, so a worker that has just finished finds the next
 * job while it still spins. One caller at a time owns the pool (a
 * trylock): a concurrent caller runs its whole call on its own thread
 * rather than queue behind the first one, so the library stays thread-safe
 * and never blocks a caller on another caller's work.
 *
 * Rows are split in slices of whole groups of 32 (the widest row tile of
 * any variant, avx512-vnni-tiles'), so each thread runs the same tiles as a single-threaded
 * call would, and every row's result is bit-identical for any thread count.
 * Each thread owns one slice, runs it from the front in claims of half of
 * what is left of it (so its own rows stay one stream in memory order),
 * and when its slice is done takes a quarter of what is left of the
 * slice with the most rows left, from its back. Equal slices were not
 * equal work: in the int8 decode on two threads the slice that held the
 * second half of each matrix finished 15-30 us after the first, of
 * ~100 us calls, whichever thread ran it (the same kernel, the same
 * rows), and the first thread waited; the reason is in the machine, the
 * remedy is not to depend on it.
 */
#include <errno.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "qk256_impl.h"

enum {
    MAX_THREADS = 256,
    ROW_GRAIN = QK256_TILE_ROWS,
    /* Below this many multiply-adds per call, waking the pool (a few
     * microseconds per hand-off under KVM) costs more than the rows it
     * spreads: about 1 M, a 256 x 4096 float gemv, is ~40 us on one core. */
    MIN_PARALLEL_WORK = 1 << 20,
    /* How long a worker waits for the next job, and the caller for the
     * workers, before sleeping. */
    SPIN_NS = 200000,
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* All below are guarded by pool_lock; generation and pending are changed
 * only under it too, but read without it while spinning. */
static int threads_wanted = 1; /* qk256_set_threads / QK256_THREADS */
static int workers;            /* started; worker i runs slice i (1-based) */
static int sleepers;           /* workers asleep on job_ready */
static _Atomic unsigned long generation;
static _Atomic int pending; /* workers still running the current job */
static struct {
    qk256_rows_job fn;
    void *ctx;
    size_t rows;
    int parts;
} job;

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* QK256_THREADS: a count from 1 to 256, or 0 for every online CPU; anything
 * else is ignored (1 thread). */
static void read_env(void)
{
    const char *env = getenv("QK256_THREADS");
    char *end;
    if (!env || !*env)
        return;
    errno = 0;
    long n = strtol(env, &end, 10);
    if (*end || errno || n < 0 || n > MAX_THREADS)
        return;
    threads_wanted = n == 0 ? online_cpus() : (int)n;
}

static void slice(size_t rows, int parts, int i, size_t *r0, size_t *r1)
{
    size_t groups = (rows + ROW_GRAIN - 1) / ROW_GRAIN;
    size_t g0 = groups * (size_t)i / (size_t)parts, g1 = groups * (size_t)(i + 1) / (size_t)parts;
    *r0 = g0 * ROW_GRAIN < rows ? g0 * ROW_GRAIN : rows;
    *r1 = g1 * ROW_GRAIN < rows ? g1 * ROW_GRAIN : rows;
}

/* What is left of each slice: groups [front, back), front in the low 32
 * bits; the owner takes from the front, the others from the back. On lines
 * of their own: owners claim a few times per call, side by side. */
static struct {
    _Alignas(64) _Atomic uint64_t fb;
} left[MAX_THREADS];

static uint64_t pack_fb(uint64_t front, uint64_t back)
{
    return back << 32 | front;
}

/* Take groups [*g0, *g1) of slice i: half of what is left from its front
 * (owner), a quarter from its back (others). 0 when nothing is left. */
static int claim(int i, int owner, size_t *g0, size_t *g1)
{
    uint64_t v = atomic_load_explicit(&left[i].fb, memory_order_relaxed);
    for (;;) {
        uint64_t f = v & 0xffffffffu, b = v >> 32;
        if (f >= b)
            return 0;
        uint64_t n = owner ? (b - f + 1) / 2 : (b - f + 3) / 4;
        uint64_t nv = owner ? pack_fb(f + n, b) : pack_fb(f, b - n);
        if (atomic_compare_exchange_weak_explicit(&left[i].fb, &v, nv, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *g0 = owner ? f : b - n;
            *g1 = owner ? f + n : b;
            return 1;
        }
    }
}

static void run_groups(qk256_rows_job fn, void *ctx, size_t rows, size_t g0, size_t g1)
{
    size_t r0 = g0 * ROW_GRAIN, r1 = g1 * ROW_GRAIN < rows ? g1 * ROW_GRAIN : rows;
    if (r0 < r1)
        fn(ctx, r0, r1);
}

/* Thread i's part of a job: its own slice, then the others' leftovers. */
static void run_part(qk256_rows_job fn, void *ctx, size_t rows, int parts, int i)
{
    size_t g0, g1;
    while (claim(i, 1, &g0, &g1))
        run_groups(fn, ctx, rows, g0, g1);
    for (;;) {
        int most = -1;
        uint64_t most_left = 0;
        for (int k = 0; k < parts; k++) {
            uint64_t v = atomic_load_explicit(&left[k].fb, memory_order_relaxed);
            uint64_t f = v & 0xffffffffu, b = v >> 32;
            if (f < b && b - f > most_left) {
                most = k;
                most_left = b - f;
            }
        }
        if (most < 0)
            return;
        if (claim(most, 0, &g0, &g1))
            run_groups(fn, ctx, rows, g0, g1);
    }
}

/* The slices of a job, before it is posted. */
static void share_out(size_t rows, int parts)
{
    for (int i = 0; i < parts; i++) {
        size_t r0, r1;
        slice(rows, parts, i, &r0, &r1);
        atomic_store_explicit(&left[i].fb,
                              pack_fb(r0 / ROW_GRAIN, (r1 + ROW_GRAIN - 1) / ROW_GRAIN),
                              memory_order_relaxed);
    }
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int job_posted(unsigned long seen)
{
    return atomic_load_explicit(&generation, memory_order_acquire) != seen;
}

static int job_finished(unsigned long unused)
{
    (void)unused;
    return atomic_load_explicit(&pending, memory_order_acquire) == 0;
}

/* Spin until done(arg), for at most SPIN_NS; 1 if it came true. */
static int spin_until(int (*done)(unsigned long), unsigned long arg)
{
    uint64_t end = now_ns() + SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (done(arg))
            return 1;
        _mm_pause();
        if (i % 64 == 0 && now_ns() > end)
            return 0;
    }
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        if (generation == seen) {
            pthread_mutex_unlock(&pool_lock);
            spin_until(job_posted, seen);
            pthread_mutex_lock(&pool_lock);
            /* Re-checked under the lock, which the poster holds while it
             * bumps generation and reads sleepers: no wake-up is lost. */
            while (generation == seen) {
                sleepers++;
                pthread_cond_wait(&job_ready, &pool_lock);
                sleepers--;
            }
        }
        seen = generation;
        if (id >= job.parts)
            continue;
        qk256_rows_job fn = job.fn;
        void *ctx = job.ctx;
        size_t rows = job.rows;
        int parts = job.parts;
        pthread_mutex_unlock(&pool_lock);
        run_part(fn, ctx, rows, parts, id);
        pthread_mutex_lock(&pool_lock);
        if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1)
            pthread_cond_signal(&job_done);
    }
    return NULL;
}

/* fork() copies only the calling thread: the child must not believe in
 * workers it does not have, nor inherit locks or condition variables in
 * the middle of a hand-off. The prepare handler takes both locks so the
 * pool is quiet at the fork; the child starts over with no workers. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&pool_owner);
    pthread_mutex_lock(&pool_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&pool_owner);
}

static void fork_child(void)
{
    workers = 0;
    pending = 0;
    sleepers = 0;
    pthread_cond_init(&job_ready, NULL);
    pthread_cond_init(&job_done, NULL);
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&pool_owner);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Start workers until `parts` threads (the caller included) can run; under
 * pool_lock. Returns how many can, fewer if the system refuses threads. */
static int grow_pool(int parts)
{
    if (workers + 1 < parts)
        pthread_once(&atfork_once, register_atfork);
    while (workers + 1 < parts) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* A new worker starts with seen = 0 and blocks on pool_lock, which
         * the caller holds until it has posted its job: the worker's first
         * job is that one, for which `pending` already counts it. */
        int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(workers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break;
        workers++;
    }
    return workers + 1 < parts ? workers + 1 : parts;
}

int qk256_set_threads(int n)
{
    if (n < 0 || n > MAX_THREADS)
        return QK256_E_INVAL;
    pthread_once(&env_once, read_env);
    pthread_mutex_lock(&pool_owner); /* not in the middle of someone's call */
    pthread_mutex_lock(&pool_lock);
    threads_wanted = n == 0 ? online_cpus() : n;
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&pool_owner);
    return QK256_OK;
}

int qk256_get_threads(void)
{
    pthread_once(&env_once, read_env);
    pthread_mutex_lock(&pool_lock);
    int n = threads_wanted;
    pthread_mutex_unlock(&pool_lock);
    return n;
}

void qk256_parallel_rows(size_t rows, size_t work, qk256_rows_job fn, void *ctx)
{
    size_t groups = (rows + ROW_GRAIN - 1) / ROW_GRAIN;
    int want = qk256_get_threads();
    int parts = groups < (size_t)want ? (int)groups : want;
    if (parts < 2 || work < MIN_PARALLEL_WORK || groups > UINT32_MAX ||
        pthread_mutex_trylock(&pool_owner) != 0) {
        fn(ctx, 0, rows);
        return;
    }
    pthread_mutex_lock(&pool_lock);
    parts = grow_pool(parts);
    job.fn = fn;
    job.ctx = ctx;
    job.rows = rows;
    job.parts = parts;
    share_out(rows, parts);
    atomic_store_explicit(&pending, parts - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    if (sleepers > 0)
        pthread_cond_broadcast(&job_ready);
    pthread_mutex_unlock(&pool_lock);

    run_part(fn, ctx, rows, parts, 0);

    if (!spin_until(job_finished, 0)) {
        pthread_mutex_lock(&pool_lock);
        while (atomic_load(&pending) > 0)
            pthread_cond_wait(&job_done, &pool_lock);
        pthread_mutex_unlock(&pool_lock);
    }
    pthread_mutex_unlock(&pool_owner);
}
