/*
 * inline_work.c — the 1:3 workload (see inline_work.h). The loop bodies are
 * identical but for their constants, and an empty asm keeps the compiler
 * from merging, vectorizing or closing the loops, so their times and
 * instruction counts are in the ratio of their trip counts.
 */
#include "inline_work.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define INLINE_WORK_INLINE static inline __attribute__((always_inline))

INLINE_WORK_INLINE uint64_t work_a(uint64_t x, long n)
{
    for (long i = 0; i < n; i++) {
        x = x * 0x9E3779B97F4A7C15ull + (uint64_t)i;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

INLINE_WORK_INLINE uint64_t work_b(uint64_t x, long n)
{
    for (long i = 0; i < n; i++) {
        x = x * 0xC2B2AE3D27D4EB4Full + (uint64_t)i;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

__attribute__((noinline)) uint64_t inline_work_round(uint64_t x, long n)
{
    x = work_a(x, n);
    return work_b(x, 3 * n);
}

typedef struct inline_work_arg {
    long n, rounds;
    double seconds;
    uint64_t result;
} inline_work_arg;

/* The thread's CPU time: a run of s seconds gives s seconds of samples on
 * every thread, however loaded the machine is. */
static double inline_work_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *inline_work_thread(void *p)
{
    inline_work_arg *a = p;
    uint64_t x = 1;
    if (a->rounds > 0) {
        for (long r = 0; r < a->rounds; r++)
            x = inline_work_round(x, a->n);
    } else {
        double end = inline_work_now() + a->seconds;
        do
            x = inline_work_round(x, a->n);
        while (inline_work_now() < end);
    }
    a->result = x | 1;
    return NULL;
}

uint64_t inline_work_run(int threads, long n, long rounds, double seconds)
{
    if (threads < 1)
        return 0;
    inline_work_arg *args = calloc((size_t)threads, sizeof *args);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    uint64_t x = 0;
    int started = 1;
    if (args == NULL || tids == NULL)
        goto out;
    for (int t = 0; t < threads; t++)
        args[t] = (inline_work_arg){.n = n, .rounds = rounds, .seconds = seconds};
    for (int t = 1; t < threads; t++, started++)
        if (pthread_create(&tids[t], NULL, inline_work_thread, &args[t]) != 0)
            break;
    inline_work_thread(&args[0]);
    for (int t = 1; t < started; t++)
        pthread_join(tids[t], NULL);
    if (started == threads) {
        for (int t = 0; t < threads; t++)
            x = x * 31 + args[t].result;
        x |= 1; /* threads that did the same rounds give the same result */
    }
out:
    free(args);
    free(tids);
    return x;
}
