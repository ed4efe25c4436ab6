/*
 * tsc.c — calibration of the tsc source: TSC frequency, core/TSC ratio and
 * the invariant-TSC flag (see tsc.h for the region API).
 *
 * Neither number is assumed from CPUID brand strings or leaf 0x15: under a
 * hypervisor those are often absent or wrong, and on this project's VMs the
 * TSC (2596 MHz) and the core clock (~3.65 GHz) differ by 1.4x.
 */
#include "tsc.h"

#include <cpuid.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

#define QKPERF_CAL_NS 30000000ull     /* TSC calibration interval: 30 ms */
#define QKPERF_CAL_PAIRS 5            /* tries to pair a TSC read with a clock read */
#define QKPERF_CHAIN_ADDS 16          /* dependent adds per loop iteration */
#define QKPERF_CHAIN_ITERS (1u << 17) /* 2M adds: ~0.6 ms at 3.5 GHz */
#define QKPERF_CHAIN_RUNS 9

int qkperf_tsc_invariant(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u)
        return 0;
    if (__get_cpuid(0x80000007u, &a, &b, &c, &d) == 0)
        return 0;
    return (d >> 8) & 1;
}

/* ---- frequency ---------------------------------------------------------- */

typedef struct qkperf_tsc_pair {
    uint64_t tsc;
    uint64_t ns;
} qkperf_tsc_pair;

/* A clock reading and the TSC at the same instant: the clock read is
 * bracketed by two TSC reads and the tightest of a few brackets wins, so a
 * preemption or interrupt during one try does not skew the pair. */
static int tsc_pair_read(qkperf_tsc_pair *out)
{
    uint64_t best = UINT64_MAX;
    for (int k = 0; k < QKPERF_CAL_PAIRS; k++) {
        struct timespec ts;
        uint64_t t0 = qkperf_tsc_now();
        int rc = clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        uint64_t t1 = qkperf_tsc_stop();
        if (rc != 0)
            return -1;
        if (t1 - t0 < best) {
            best = t1 - t0;
            out->tsc = t0 + (t1 - t0) / 2;
            out->ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
    }
    return 0;
}

static double mhz_cached;

/* MHz = ticks per microsecond; 0 when the clock cannot be read. Sleeping
 * rather than spinning is fine: the pairs, not the sleep, set the error
 * (a ~50 ns bracket over 30 ms is ~2 ppm). */
static void tsc_calibrate(void)
{
    qkperf_tsc_pair a, b;
    struct timespec nap = {0, (long)QKPERF_CAL_NS};
    if (tsc_pair_read(&a) != 0)
        return;
    while (nanosleep(&nap, &nap) != 0)
        continue; /* EINTR: sleep the remainder */
    if (tsc_pair_read(&b) != 0 || b.ns <= a.ns)
        return;
    mhz_cached = (double)(b.tsc - a.tsc) * 1e3 / (double)(b.ns - a.ns);
}

double qkperf_tsc_mhz(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tsc_calibrate);
    return mhz_cached;
}

/* ---- core cycles per tick ------------------------------------------------ */

/* TSC ticks for QKPERF_CHAIN_ITERS iterations of 16 dependent register
 * adds. Each add needs the previous result, so the chain runs at exactly
 * one add per core cycle on every x86 core since the P6 (ALU latency 1);
 * the loop counter is an independent chain hidden beside it. The addend is
 * a register, not an immediate, because some recent cores fold chains of
 * small add-immediates in the renamer and run them faster than 1/cycle. */
static uint64_t qkperf_chain_ticks(void)
{
    uint64_t acc = 0, step = 1, n = QKPERF_CHAIN_ITERS;
    uint64_t t0 = qkperf_tsc_now();
    __asm__ __volatile__("1:\n\t"
                         ".rept 16\n\t"
                         "add %[step], %[acc]\n\t"
                         ".endr\n\t"
                         "dec %[n]\n\t"
                         "jnz 1b"
                         : [acc] "+r"(acc), [n] "+r"(n)
                         : [step] "r"(step)
                         : "cc");
    uint64_t t1 = qkperf_tsc_stop();
    return t1 - t0;
}

static double ratio_cached;

/* An estimate, not a measurement of the core clock:
 *  - the core clock moves with turbo, power and thermal limits, so the
 *    ratio holds for the moment and the core it was taken on (the first run
 *    is a warm-up so the clock can ramp first);
 *  - under a hypervisor the vCPU can be descheduled mid-chain, which only
 *    ever adds ticks: the best (fewest ticks) of several runs is kept;
 *  - it assumes the 1-cycle add latency, and an idle SMT sibling.
 * Only a hardware cycle counter (source hw) counts cycles. */
static void ratio_calibrate(void)
{
    uint64_t best = UINT64_MAX;
    (void)qkperf_chain_ticks();
    for (int r = 0; r < QKPERF_CHAIN_RUNS; r++) {
        uint64_t t = qkperf_chain_ticks();
        if (t > 0 && t < best)
            best = t;
    }
    if (best != UINT64_MAX)
        ratio_cached = (double)QKPERF_CHAIN_ITERS * QKPERF_CHAIN_ADDS / (double)best;
}

double qkperf_core_per_tsc(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ratio_calibrate);
    return ratio_cached;
}

/* ---- conversions -------------------------------------------------------- */

/* NAN when the frequency is unknown: a missing time must not read as 0. */
double qkperf_tsc_to_ns(uint64_t ticks)
{
    double mhz = qkperf_tsc_mhz();
    return mhz > 0 ? (double)ticks * 1e3 / mhz : NAN;
}

double qkperf_tsc_to_core_cycles(uint64_t ticks)
{
    double r = qkperf_core_per_tsc();
    return r > 0 ? (double)ticks * r : NAN;
}
