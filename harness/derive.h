/*
 * derive.h — a derived metric of an event group, per sample, from counts
 * taken in one or several passes (a group larger than the PMU's counters
 * is counted pass by pass; runner.h).
 *
 * Events counted in the same pass are paired sample by sample, with that
 * pass's time. Samples of different passes were taken at different times,
 * with different durations, so they are not pairs: pairing sample s of one
 * pass with sample s of another scattered Zen 4's 'int scheduler 2 full'
 * (exact 0.07) from 0.004 to 0.075. A metric that reads events of several
 * passes therefore puts them on one time base: the reference pass is the
 * first one it reads; an event of another pass enters as that pass's
 * median count per ns times the reference sample's time. Pure, for tests.
 */
#ifndef QKPERF_DERIVE_H
#define QKPERF_DERIVE_H

#include <stddef.h>

#include "formula.h"

enum { QKPERF_DERIVE_MAX_EVENTS = 64 };

/* The group's samples: event k was counted in pass[k]; value[k][s] is its
 * count per call in sample s of that pass, time[p][s] the time per call
 * (ns) of sample s of pass p. Every pass has nsamples samples. */
typedef struct qkperf_derive_in {
    size_t nevents, nsamples;
    const size_t *pass;
    const double *const *value;
    const double *const *time;
} qkperf_derive_in;

/* Which events (uses[k]) and whether `time` a formula reads: a NaN operand
 * makes the result NaN, so each is tried as NaN among finite, unequal
 * values (a formula that is NaN even then is taken to read all). */
void qkperf_derive_uses(const qkperf_formula *f, size_t nevents, int *uses, int *uses_time);

/* The metric's samples into out[0..nsamples). Returns the reference pass,
 * and *cross = 1 when the metric reads events of more than one pass. */
size_t qkperf_derive(const qkperf_formula *f, const qkperf_derive_in *in, double *out, int *cross);

#endif
