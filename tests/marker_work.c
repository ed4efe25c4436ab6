/*
 * marker_work.c — `marker_work [-t THREADS] [-n N] [-r ROUNDS] [-m MODE]`:
 * the known-answer program of qkperf measure. Each round runs region "a"
 * (N iterations of a dependent multiply-add chain) then region "b" (3N of
 * the same), inside an outer region "round", on every thread: a and b cost
 * 1:3 in time and instructions. MODE breaks the markers on purpose:
 * "orphan" (an end without its begin), "open" (a region never ended),
 * "cross" (an end naming a region that is not the innermost), "long" (a
 * name too long), "bench" (ns per begin/end pair, printed; for the
 * near-zero-cost figure). Built -O2 -g, never with sanitizers.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qkperf/marker.h"

static long n_iter = 200000, rounds = 20;

static uint64_t chain(uint64_t x, long n)
{
    for (long i = 0; i < n; i++) {
        x = x * 0x9E3779B97F4A7C15ull + (uint64_t)i;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

static void *work(void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p | 1;
    for (long r = 0; r < rounds; r++) {
        qkperf_marker_begin("round");
        qkperf_marker_begin("a");
        x = chain(x, n_iter);
        qkperf_marker_end("a");
        qkperf_marker_begin("b");
        x = chain(x, 3 * n_iter);
        qkperf_marker_end("b");
        qkperf_marker_end("round");
    }
    return (void *)(uintptr_t)(x | 1);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

/* ns per begin/end pair of an empty region, best of 5 runs of -n pairs. */
static int bench(void)
{
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        double t0 = now_ns();
        for (long i = 0; i < n_iter; i++) {
            qkperf_marker_begin("empty");
            qkperf_marker_end("empty");
        }
        double t = (now_ns() - t0) / (double)n_iter;
        best = t < best ? t : best;
    }
    printf("%.2f ns per begin/end pair (%s)\n", best,
           getenv("QKPERF_MARKER_OUT") ? "under qkperf measure" : "outside qkperf measure");
    return 0;
}

int main(int argc, char **argv)
{
    long threads = 1;
    const char *mode = "";
    int c;
    while ((c = getopt(argc, argv, "t:n:r:m:")) != -1) {
        if (c == 't')
            threads = atol(optarg);
        else if (c == 'n')
            n_iter = atol(optarg);
        else if (c == 'r')
            rounds = atol(optarg);
        else if (c == 'm')
            mode = optarg;
        else
            return 2;
    }
    if (threads < 1 || threads > 64 || n_iter < 1 || rounds < 1) {
        fprintf(stderr, "marker_work: bad -t, -n or -r\n");
        return 2;
    }
    qkperf_marker_init();
    if (!strcmp(mode, "bench"))
        return bench();
    if (!strcmp(mode, "orphan"))
        qkperf_marker_end("a");
    if (!strcmp(mode, "open"))
        qkperf_marker_begin("a");
    if (!strcmp(mode, "cross")) {
        qkperf_marker_begin("a");
        qkperf_marker_begin("b");
        qkperf_marker_end("a");
        qkperf_marker_end("b");
        qkperf_marker_end("a");
    }
    if (!strcmp(mode, "long")) {
        qkperf_marker_begin("a_region_name_much_too_long_to_fit");
        qkperf_marker_end("a_region_name_much_too_long_to_fit");
    }
    pthread_t tid[64];
    for (long i = 1; i < threads; i++)
        if (pthread_create(&tid[i], NULL, work, (void *)(uintptr_t)i) != 0)
            return 1;
    uintptr_t x = (uintptr_t)work(NULL);
    for (long i = 1; i < threads; i++) {
        void *r;
        pthread_join(tid[i], &r);
        x += (uintptr_t)r;
    }
    qkperf_marker_close();
    return x ? 0 : 1;
}
