/*
 * derive.c — derived metrics across the passes of a split group (derive.h).
 */
#include "derive.h"

#include <math.h>
#include <stdlib.h>

#include "stats.h"

void qkperf_derive_uses(const qkperf_formula *f, size_t nevents, int *uses, int *uses_time)
{
    double vals[QKPERF_DERIVE_MAX_EVENTS];
    size_t n = nevents < QKPERF_DERIVE_MAX_EVENTS ? nevents : QKPERF_DERIVE_MAX_EVENTS;
    for (size_t k = 0; k < QKPERF_DERIVE_MAX_EVENTS; k++)
        vals[k] = 1.1 + 0.618 * (double)k;
    int all = isnan(qkperf_formula_eval(f, vals, 0.7));
    for (size_t k = 0; k < n; k++) {
        vals[k] = NAN;
        uses[k] = all || isnan(qkperf_formula_eval(f, vals, 0.7));
        vals[k] = 1.1 + 0.618 * (double)k;
    }
    *uses_time = all || isnan(qkperf_formula_eval(f, vals, NAN));
}

/* The median over a pass's samples of an event's count per ns; NaN when
 * out of memory (the metric then reads n/a). */
static double pass_rate(const qkperf_derive_in *in, size_t k)
{
    const double *v = in->value[k], *t = in->time[in->pass[k]];
    double *r = malloc(in->nsamples * sizeof *r);
    qkperf_summary s;
    if (!r)
        return NAN;
    for (size_t i = 0; i < in->nsamples; i++)
        r[i] = v[i] / t[i];
    double m = qkperf_summarize(r, in->nsamples, &s, NULL) == 0 ? s.median : NAN;
    free(r);
    return m;
}

size_t qkperf_derive(const qkperf_formula *f, const qkperf_derive_in *in, double *out, int *cross)
{
    int uses[QKPERF_DERIVE_MAX_EVENTS], uses_time;
    double rate[QKPERF_DERIVE_MAX_EVENTS], vals[QKPERF_DERIVE_MAX_EVENTS];
    size_t n = in->nevents < QKPERF_DERIVE_MAX_EVENTS ? in->nevents : QKPERF_DERIVE_MAX_EVENTS;
    size_t ref = in->pass[0];
    int have_ref = 0;
    qkperf_derive_uses(f, n, uses, &uses_time);
    *cross = 0;
    for (size_t k = 0; k < n; k++) {
        if (!uses[k])
            continue;
        if (!have_ref)
            ref = in->pass[k], have_ref = 1;
        *cross |= in->pass[k] != ref;
    }
    for (size_t k = 0; k < n; k++)
        rate[k] = uses[k] && in->pass[k] != ref ? pass_rate(in, k) : NAN;
    for (size_t s = 0; s < in->nsamples; s++) {
        double t_ns = in->time[ref][s];
        for (size_t k = 0; k < n; k++)
            vals[k] = !uses[k] ? NAN : in->pass[k] == ref ? in->value[k][s] : rate[k] * t_ns;
        out[s] = qkperf_formula_eval(f, vals, t_ns * 1e-9);
    }
    return ref;
}
