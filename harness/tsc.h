/*
 * tsc.h — the tsc source: region timing with the time-stamp counter.
 *
 * A region is bracketed by qkperf_tsc_now() (lfence; rdtsc — the read
 * waits for every earlier instruction) and qkperf_tsc_stop() (rdtscp;
 * lfence — the read waits for the region, later instructions wait for the
 * read), the fencing Intel's "How to Benchmark Code Execution Times" and
 * AMD's manuals recommend. Ticks convert to ns through a frequency
 * calibrated against CLOCK_MONOTONIC_RAW, and to *estimated* core cycles
 * through a measured core/TSC ratio; both are computed once and cached.
 * Reports must label cycles from this source as an estimate.
 */
#ifndef QKPERF_TSC_H
#define QKPERF_TSC_H

#include <stdint.h>
#include <x86intrin.h>

/* A timestamp ordered after all earlier instructions: use it to start a
 * region (and as a plain timestamp). */
static inline uint64_t qkperf_tsc_now(void)
{
    _mm_lfence();
    return __rdtsc();
}

/* A timestamp taken after the region's instructions have executed, before
 * any later instruction starts: use it to end a region. */
static inline uint64_t qkperf_tsc_stop(void)
{
    unsigned aux;
    uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
}

/* 1 when CPUID 0x80000007 EDX bit 8 (invariant TSC) is set: the TSC ticks
 * at one rate through P-, C- and T-states, so ticks measure time. */
int qkperf_tsc_invariant(void);

/* TSC frequency in MHz, calibrated against CLOCK_MONOTONIC_RAW over about
 * 30 ms on the first call, then cached (thread-safe). */
double qkperf_tsc_mhz(void);

/* Core cycles per TSC tick, estimated from a dependent add chain on the
 * first call, then cached (thread-safe). See tsc.c for why it is only an
 * estimate. */
double qkperf_core_per_tsc(void);

double qkperf_tsc_to_ns(uint64_t ticks);
double qkperf_tsc_to_core_cycles(uint64_t ticks);

#endif
