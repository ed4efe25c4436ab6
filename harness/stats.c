/*
 * stats.c — summaries, bootstrap change detection, verdicts and noise
 * bands for qkperf (see stats.h for the contract).
 *
 * Methods:
 * - Quantiles: Hyndman & Fan type 7 on a sorted copy.
 * - Outliers: Tukey fences (1.5 and 3 IQR), classified, never removed.
 * - Change: ratio of medians with a percentile bootstrap interval
 *   (Efron & Tibshirani 1993, ch. 13): each set is resampled with
 *   replacement on its own, the resampled medians give one ratio each, and
 *   the interval is the alpha/2 and 1-alpha/2 quantiles of those ratios.
 * - Significance: the same bootstrap distribution of the difference of
 *   medians, inverted into a two-sided p-value (the smallest alpha whose
 *   equal-tailed interval excludes 0), with the +1 correction of Davison &
 *   Hinkley; where no resample crosses 0, beyond the resamples'
 *   resolution, the tail is extrapolated from a normal fit to them, so
 *   that Holm over many records can still call a change. Using the
 *   difference rather than the ratio keeps the test valid when a median
 *   is 0, and using bootstrap rather than permutation keeps it valid for
 *   constant (all-tied) sets, where a permutation test of medians has no
 *   power at all.
 * - PRNG: xoshiro256** seeded through splitmix64 (Blackman & Vigna), so a
 *   seed reproduces every resample on every platform.
 */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAD_NORMAL_SCALE 1.4826 /* 1 / Phi^-1(3/4): MAD -> sigma for normal data */
#define DEFAULT_RESAMPLES 10000u
#define DEFAULT_CONFIDENCE 0.95
#define DEFAULT_ALPHA 0.05

/* ---- PRNG: xoshiro256** seeded by splitmix64 ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* An index in [0, n) by multiply-shift (Lemire); the bias, n / 2^64, is
 * far below anything a few hundred samples could show. */
static inline size_t rng_below(rng *r, size_t n)
{
    return (size_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* ---- order statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Type-7 quantile p of sorted[0..n). */
static double quantile_sorted(const double *sorted, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

/* The k-th smallest of a[0..n), partially reordering a (Hoare's find, as
 * written by Wirth): O(n) on average, which is what makes 10000 resamples
 * cheap compared with sorting each one. */
static double select_kth(double *a, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        double pivot = a[kk];
        ptrdiff_t i = lo, j = hi;
        do {
            while (a[i] < pivot)
                i++;
            while (pivot < a[j])
                j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk)
            lo = i;
        if (kk < i)
            hi = j;
    }
    return a[kk];
}

/* Median of a[0..n), reordering a; agrees with the type-7 median. */
static double median_inplace(double *a, size_t n)
{
    size_t k = n / 2;
    double upper = select_kth(a, n, k);
    if (n % 2)
        return upper;
    /* After the select, a[0..k) holds the k smallest: the lower middle is
     * their maximum. */
    double lower = a[0];
    for (size_t i = 1; i < k; i++)
        if (a[i] > lower)
            lower = a[i];
    return (lower + upper) / 2;
}

static bool all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

/* ---- summary ---- */

static qkperf_outlier tukey_class(double v, double q1, double q3)
{
    double iqr = q3 - q1;
    if (v < q1 - 3.0 * iqr)
        return QKPERF_OUTLIER_LOW_SEVERE;
    if (v < q1 - 1.5 * iqr)
        return QKPERF_OUTLIER_LOW_MILD;
    if (v > q3 + 3.0 * iqr)
        return QKPERF_OUTLIER_HIGH_SEVERE;
    if (v > q3 + 1.5 * iqr)
        return QKPERF_OUTLIER_HIGH_MILD;
    return QKPERF_OUTLIER_NONE;
}

static void count_outliers(const double *x, size_t n, qkperf_summary *s, qkperf_outlier *cls)
{
    s->low_severe = s->low_mild = s->high_mild = s->high_severe = 0;
    for (size_t i = 0; i < n; i++) {
        qkperf_outlier c = tukey_class(x[i], s->q1, s->q3);
        switch (c) {
        case QKPERF_OUTLIER_LOW_SEVERE:
            s->low_severe++;
            break;
        case QKPERF_OUTLIER_LOW_MILD:
            s->low_mild++;
            break;
        case QKPERF_OUTLIER_HIGH_MILD:
            s->high_mild++;
            break;
        case QKPERF_OUTLIER_HIGH_SEVERE:
            s->high_severe++;
            break;
        case QKPERF_OUTLIER_NONE:
            break;
        }
        if (cls)
            cls[i] = c;
    }
}

/* MAD from a sorted copy; reuses that buffer for the deviations. */
static double mad_of_sorted(double *sorted, size_t n, double median)
{
    for (size_t i = 0; i < n; i++)
        sorted[i] = fabs(sorted[i] - median);
    return median_inplace(sorted, n);
}

/* A sorted copy of x[0..n) (free it), or NULL when out of memory. */
static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc(n * sizeof *s);
    if (s) {
        memcpy(s, x, n * sizeof *s);
        qsort(s, n, sizeof *s, cmp_double);
    }
    return s;
}

int qkperf_summarize(const double *x, size_t n, qkperf_summary *out, qkperf_outlier *cls)
{
    if (!x || !out || n == 0 || !all_finite(x, n))
        return -EINVAL;
    double *buf = sorted_copy(x, n);
    if (!buf)
        return -ENOMEM;

    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += buf[i];
    *out = (qkperf_summary){
        .n = n,
        .min = buf[0],
        .max = buf[n - 1],
        .mean = sum / (double)n,
        .q1 = quantile_sorted(buf, n, 0.25),
        .median = quantile_sorted(buf, n, 0.5),
        .q3 = quantile_sorted(buf, n, 0.75),
    };
    out->mad = mad_of_sorted(buf, n, out->median);
    out->mad_scaled = MAD_NORMAL_SCALE * out->mad;
    free(buf);
    count_outliers(x, n, out, cls);
    return 0;
}

/* ---- change: bootstrap of the ratio and difference of medians ---- */

typedef struct boot_params {
    uint64_t seed;
    unsigned resamples;
    double confidence, alpha;
} boot_params;

static int resolve_opts(const qkperf_change_opts *o, boot_params *p)
{
    *p = (boot_params){QKPERF_DEFAULT_SEED, DEFAULT_RESAMPLES, DEFAULT_CONFIDENCE, DEFAULT_ALPHA};
    if (!o)
        return 0;
    p->seed = o->seed;
    if (o->resamples)
        p->resamples = o->resamples;
    if (o->confidence != 0)
        p->confidence = o->confidence;
    if (o->alpha != 0)
        p->alpha = o->alpha;
    bool ok = p->confidence > 0 && p->confidence < 1 && p->alpha > 0 && p->alpha < 1;
    return ok ? 0 : -EINVAL;
}

/* A sample set for the bootstrap: n samples, contiguous runs of len[k]
 * samples each (nruns = 1: one run, the plain bootstrap). */
typedef struct sample_set {
    const double *x;
    size_t n;
    const size_t *len; /* NULL when nruns == 1 */
    size_t *off;       /* offsets of the runs, computed */
    size_t nruns;
} sample_set;

/* Median of one resample of s, built in buf (room for s->n samples): with
 * one run, n samples drawn with replacement; with several, the two-stage
 * bootstrap of a hierarchical design (Kalibera & Jones): nruns runs drawn
 * with replacement, then as many samples as each drawn run has, drawn
 * with replacement from it, so run-to-run variance is in the resamples. */
static double resampled_median(const sample_set *s, double *buf, rng *r)
{
    if (s->nruns <= 1) {
        for (size_t i = 0; i < s->n; i++)
            buf[i] = s->x[rng_below(r, s->n)];
        return median_inplace(buf, s->n);
    }
    size_t m = 0;
    for (size_t k = 0; k < s->nruns; k++) {
        size_t run = rng_below(r, s->nruns);
        const double *x = s->x + s->off[run];
        for (size_t i = 0; i < s->len[run]; i++)
            buf[m++] = x[rng_below(r, s->len[run])];
    }
    return median_inplace(buf, m);
}

static double point_median(const double *x, size_t n, double *buf)
{
    memcpy(buf, x, n * sizeof *buf);
    return median_inplace(buf, n);
}

/* What the resampling loop tallies. ratios[] is filled only while every
 * resampled before-median is positive (ratio_ok). */
typedef struct boot_tally {
    size_t diff_le0, diff_ge0;
    bool ratio_ok;
    double mean, m2; /* the resampled differences' mean and squared spread (Welford) */
} boot_tally;

static void bootstrap(const sample_set *before, const sample_set *after, const boot_params *p,
                      double *buf, double *ratios, boot_tally *t)
{
    rng r;
    rng_seed(&r, p->seed);
    *t = (boot_tally){0, 0, true, 0, 0};
    for (unsigned i = 0; i < p->resamples; i++) {
        double mb = resampled_median(before, buf, &r);
        double ma = resampled_median(after, buf, &r);
        double d = ma - mb, step = d - t->mean;
        t->mean += step / (i + 1);
        t->m2 += step * (d - t->mean);
        t->diff_le0 += d <= 0;
        t->diff_ge0 += d >= 0;
        if (mb <= 0)
            t->ratio_ok = false;
        else
            ratios[i] = ma / mb;
    }
}

/* Two-sided p-value from the bootstrap distribution of the difference.
 * When no resample reaches 0 the count says only p < 2 / (B + 1), too
 * coarse for a family of more than alpha (B + 1) / 2 records (250 at 5%
 * with the default 10000): there the tail is extrapolated from a normal
 * fit to the resampled differences, 2 Phi(-|mean| / sd), never above that
 * bound (0 when every resample gave the same difference). */
static double p_value_of(const boot_tally *t, unsigned resamples)
{
    size_t tail = t->diff_le0 < t->diff_ge0 ? t->diff_le0 : t->diff_ge0;
    double p = 2.0 * (double)(tail + 1) / ((double)resamples + 1);
    if (tail == 0 && resamples >= 2) {
        double sd = t->m2 > 0 ? sqrt(t->m2 / (resamples - 1)) : 0;
        double normal = sd > 0 ? erfc(fabs(t->mean) / sd / sqrt(2)) : 0;
        return normal < p ? normal : p;
    }
    return p < 1 ? p : 1;
}

static void set_ratio(qkperf_change *c, const boot_tally *t, double *ratios, unsigned resamples)
{
    c->ratio_defined = c->median_before > 0 && t->ratio_ok;
    if (!c->ratio_defined) {
        c->ratio = c->ci_lo = c->ci_hi = NAN;
        return;
    }
    c->ratio = c->median_after / c->median_before;
    qsort(ratios, resamples, sizeof *ratios, cmp_double);
    double tail = (1 - c->confidence) / 2;
    c->ci_lo = quantile_sorted(ratios, resamples, tail);
    c->ci_hi = quantile_sorted(ratios, resamples, 1 - tail);
}

/* A drawn run holds at most max_len samples; longest run of a set. */
static size_t longest_run(const sample_set *s)
{
    size_t m = s->nruns <= 1 ? s->n : 0;
    for (size_t k = 0; s->nruns > 1 && k < s->nruns; k++)
        m = s->len[k] > m ? s->len[k] : m;
    return m;
}

/* Check a run layout against n and compute its offsets; -EINVAL when the
 * lengths do not add up to n or a run is empty. */
static int set_runs(sample_set *s, const size_t *len, size_t nruns)
{
    s->len = nruns > 1 ? len : NULL;
    s->nruns = nruns > 1 ? nruns : 1;
    s->off = NULL;
    if (nruns <= 1)
        return 0;
    if (!len || !(s->off = malloc(nruns * sizeof *s->off)))
        return len ? -ENOMEM : -EINVAL;
    size_t total = 0;
    for (size_t k = 0; k < nruns; k++) {
        if (len[k] == 0)
            return -EINVAL;
        s->off[k] = total;
        total += len[k];
    }
    return total == s->n ? 0 : -EINVAL;
}

static int change_of(sample_set *b, sample_set *a, const qkperf_change_opts *opts,
                     qkperf_change *out)
{
    boot_params p;
    if (!b->x || !a->x || !out || b->n == 0 || a->n == 0 || !all_finite(b->x, b->n) ||
        !all_finite(a->x, a->n) || resolve_opts(opts, &p) != 0)
        return -EINVAL;
    size_t room = b->n > a->n ? b->n : a->n;
    size_t runs_room = longest_run(b) * b->nruns > longest_run(a) * a->nruns
                           ? longest_run(b) * b->nruns
                           : longest_run(a) * a->nruns;
    room = room > runs_room ? room : runs_room;
    double *buf = malloc(room * sizeof *buf);
    double *ratios = malloc(p.resamples * sizeof *ratios);
    if (!buf || !ratios) {
        free(buf);
        free(ratios);
        return -ENOMEM;
    }
    *out = (qkperf_change){.nb = b->n, .na = a->n, .confidence = p.confidence};
    out->runs_before = b->nruns;
    out->runs_after = a->nruns;
    out->median_before = point_median(b->x, b->n, buf);
    out->median_after = point_median(a->x, a->n, buf);

    boot_tally t;
    bootstrap(b, a, &p, buf, ratios, &t);
    set_ratio(out, &t, ratios, p.resamples);
    bool noise_known = b->n >= 2 && a->n >= 2;
    out->p_value = noise_known ? p_value_of(&t, p.resamples) : 1.0;
    out->significant = out->p_value < p.alpha;
    out->p_floor = 2.0 / ((double)p.resamples + 1);
    free(buf);
    free(ratios);
    return 0;
}

int qkperf_change_compute(const double *before, size_t nb, const double *after, size_t na,
                          const qkperf_change_opts *opts, qkperf_change *out)
{
    sample_set b = {before, nb, NULL, NULL, 1}, a = {after, na, NULL, NULL, 1};
    return change_of(&b, &a, opts, out);
}

int qkperf_change_runs(const double *before, size_t nb, const size_t *brun, size_t nbr,
                       const double *after, size_t na, const size_t *arun, size_t nar,
                       const qkperf_change_opts *opts, qkperf_change *out)
{
    sample_set b = {before, nb, NULL, NULL, 1}, a = {after, na, NULL, NULL, 1};
    int rc = set_runs(&b, brun, nbr);
    if (rc == 0)
        rc = set_runs(&a, arun, nar);
    if (rc == 0)
        rc = change_of(&b, &a, opts, out);
    free(b.off);
    free(a.off);
    return rc;
}

/* ---- a median's interval ---- */

/* P(Bin(n, 1/2) = i), in logs so that n may be large. */
static double half_binomial_pmf(size_t n, size_t i)
{
    return exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
               (double)n * log(2.0));
}

int qkperf_median_interval(const double *x, size_t n, double confidence, double *lo, double *hi,
                           double *coverage)
{
    if (!x || n == 0 || !lo || !hi || !(confidence > 0 && confidence < 1) || !all_finite(x, n))
        return -EINVAL;
    double *s = sorted_copy(x, n);
    if (!s)
        return -ENOMEM;
    /* k = 1 is always taken; k + 1 while its tail P(B <= k) stays within
     * (1 - confidence) / 2 and x_(k+1) <= x_(n-k) */
    double half = (1 - confidence) / 2, tail = half_binomial_pmf(n, 0);
    size_t k = 1;
    while (2 * (k + 1) <= n + 1) {
        double next = tail + half_binomial_pmf(n, k);
        if (next > half)
            break;
        tail = next;
        k++;
    }
    *lo = s[k - 1];
    *hi = s[n - k];
    if (coverage)
        *coverage = 1 - 2 * tail;
    free(s);
    return 0;
}

/* ---- multiplicity ---- */

static const double *sort_key;

static int cmp_by_p(const void *x, const void *y)
{
    double a = sort_key[*(const size_t *)x], b = sort_key[*(const size_t *)y];
    return a < b ? -1 : a > b;
}

int qkperf_adjust_p(const double *p, size_t n, qkperf_adjust method, double *adj)
{
    if ((n && (!p || !adj)) || (method != QKPERF_ADJUST_HOLM && method != QKPERF_ADJUST_BH &&
                                method != QKPERF_ADJUST_NONE))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= 0 && p[i] <= 1))
            return -EINVAL;
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    if (!ord)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        ord[i] = i;
    sort_key = p;
    qsort(ord, n, sizeof *ord, cmp_by_p);
    if (method == QKPERF_ADJUST_HOLM) { /* step-down: running max of (n - i) p_(i) */
        double run = 0;
        for (size_t i = 0; i < n; i++) {
            double v = fmin(1.0, (double)(n - i) * p[ord[i]]);
            run = fmax(run, v);
            adj[ord[i]] = run;
        }
    } else if (method == QKPERF_ADJUST_BH) { /* step-up: running min of n/i p_(i) */
        double run = 1;
        for (size_t i = n; i-- > 0;) {
            double v = fmin(1.0, (double)n / (double)(i + 1) * p[ord[i]]);
            run = fmin(run, v);
            adj[ord[i]] = run;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            adj[i] = p[i];
    }
    free(ord);
    return 0;
}

const char *qkperf_adjust_name(qkperf_adjust method)
{
    static const char *const names[] = {
        [QKPERF_ADJUST_NONE] = "none",
        [QKPERF_ADJUST_HOLM] = "holm",
        [QKPERF_ADJUST_BH] = "bh",
    };
    return (unsigned)method < sizeof names / sizeof names[0] ? names[method] : "?";
}

/* ---- verdict ---- */

qkperf_verdict qkperf_verdict_of(const qkperf_change *c, double band, bool lower_is_better)
{
    if (!c->significant || !c->ratio_defined)
        return QKPERF_NO_CHANGE;
    bool went_up = c->ci_lo > 1 + band;
    bool went_down = c->ci_hi < 1 - band;
    if (!went_up && !went_down)
        return QKPERF_NO_CHANGE;
    return went_up == lower_is_better ? QKPERF_REGRESSED : QKPERF_IMPROVED;
}

/* Acklam, "An algorithm for computing the inverse normal cumulative
 * distribution function" (2003): rational approximations in a central and
 * two tail regions, then one Halley step on erfc for full precision. */
double qkperf_normal_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (!(p > 0 && p < 1))
        return NAN;
    double x;
    if (p < 0.02425 || p > 1 - 0.02425) {
        double q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (p > 0.5)
            x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2)) - p;
    double u = e * 2.5066282746310002 * exp(x * x / 2); /* sqrt(2 pi) */
    return x - u / (1 + x * u / 2);
}

/* P(T <= t) for Student's t with an integer df >= 1, exactly, by the
 * finite series of Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even
 * df) for A = P(|T| <= t), with theta = atan(t / sqrt(df)). */
static double t_cdf(double t, unsigned df)
{
    double th = atan(fabs(t) / sqrt((double)df)), s = sin(th), c2 = cos(th) * cos(th);
    double a;
    if (df % 2) {
        double sum = 0, term = 1;
        if (df > 1) {
            sum = term = cos(th);
            for (unsigned k = 3; k <= df - 2; k += 2)
                sum += term *= c2 * (double)(k - 1) / (double)k;
        }
        a = 2 / 3.14159265358979323846 * (th + s * sum);
    } else {
        double sum = 1, term = 1;
        for (unsigned k = 2; k <= df - 2; k += 2)
            sum += term *= c2 * (double)(k - 1) / (double)k;
        a = s * sum;
    }
    return t >= 0 ? (1 + a) / 2 : (1 - a) / 2;
}

double qkperf_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df >= 1))
        return NAN;
    double z = qkperf_normal_quantile(p);
    if (df > 1000 || df != floor(df)) {
        /* Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5) */
        double z2 = z * z, v = df;
        return z + z * (z2 + 1) / (4 * v) + z * ((5 * z2 + 16) * z2 + 3) / (96 * v * v) +
               z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / (384 * v * v * v) +
               z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) /
                   (92160 * v * v * v * v);
    }
    if (p < 0.5)
        return -qkperf_t_quantile(1 - p, df);
    /* the t quantile is at least the normal one: bracket, then bisect */
    double lo = z, hi = z > 1 ? 2 * z : 2;
    while (t_cdf(hi, (unsigned)df) < p && hi < 1e300)
        lo = hi, hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
        double mid = lo + (hi - lo) / 2;
        if (t_cdf(mid, (unsigned)df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return lo + (hi - lo) / 2;
}

/* The independent units of one side: its runs when there are several
 * (the between-run design), else its samples. */
static size_t units_of(size_t runs, size_t n)
{
    return runs > 1 ? runs : n;
}

double qkperf_detectable(const qkperf_change *c, double band, size_t m, double alpha, double power)
{
    if (!c->ratio_defined || !(c->ci_lo > 0) || !(c->ci_hi >= c->ci_lo))
        return NAN;
    if (m == 0)
        m = 1;
    double z_ci = qkperf_normal_quantile(1 - (1 - c->confidence) / 2);
    double se = (log(c->ci_hi) - log(c->ci_lo)) / (2 * z_ci);
    /* The rule's own thresholds are in the interval's units: beyond the
     * band by the interval's half-width, and significance at the
     * strictest step (normal quantiles: the bootstrap's scale). The power
     * margin is in the estimate's true spread, which the bootstrap sees
     * short by sqrt((u - 1) / u) for u units (runs when a side has
     * several, else samples) and which is known only from those units:
     * Student's t with their degrees of freedom. */
    double q_pow = qkperf_normal_quantile(power), se_true = se;
    size_t ub = units_of(c->runs_before, c->nb), ua = units_of(c->runs_after, c->na);
    if (ub > 0 || ua > 0) {
        if (ub + ua < 3)
            return NAN; /* one unit a side: nothing known of the noise */
        size_t u = ub >= 2 && (ua < 2 || ub <= ua) ? ub : ua;
        se_true = se * sqrt((double)u / (double)(u - 1));
        q_pow = qkperf_t_quantile(power, (double)(ub + ua - 2));
    }
    double z_sig = qkperf_normal_quantile(1 - alpha / (2 * (double)m));
    double beyond_band = log1p(band) + z_ci * se;
    double significant = z_sig * se;
    return expm1((beyond_band > significant ? beyond_band : significant) + q_pow * se_true);
}

const char *qkperf_verdict_name(qkperf_verdict v)
{
    static const char *const names[] = {
        [QKPERF_NO_CHANGE] = "no change",
        [QKPERF_IMPROVED] = "improved",
        [QKPERF_REGRESSED] = "regressed",
    };
    return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}

/* ---- metric kinds and noise bands ---- */

static const char *const kind_names[QKPERF_KIND_COUNT] = {
    [QKPERF_KIND_INSTRUCTIONS] = "instructions",
    [QKPERF_KIND_CYCLES] = "cycles",
    [QKPERF_KIND_TIME] = "time",
    [QKPERF_KIND_OTHER] = "other",
};

/* Instruction counts are exact (sim) or nearly so (hw), so their band is
 * tight; cycles and time carry frequency and scheduling noise; event
 * counts such as cache misses vary the most. */
static const double default_bands[QKPERF_KIND_COUNT] = {
    [QKPERF_KIND_INSTRUCTIONS] = 0.001,
    [QKPERF_KIND_CYCLES] = 0.02,
    [QKPERF_KIND_TIME] = 0.02,
    [QKPERF_KIND_OTHER] = 0.05,
};

/* Metric names as the counter sources spell them. A prefix entry also
 * covers modifiers and variants ("cycles-est", "instructions:u"). */
static const struct {
    const char *name;
    bool prefix;
    qkperf_metric_kind kind;
} metric_table[] = {
    {"instructions", true, QKPERF_KIND_INSTRUCTIONS},
    {"Ir", false, QKPERF_KIND_INSTRUCTIONS},                  /* callgrind */
    {"Ir/elem", false, QKPERF_KIND_INSTRUCTIONS},             /* callgrind, per element */
    {"INST_RETIRED", true, QKPERF_KIND_INSTRUCTIONS},         /* Intel */
    {"RETIRED_INSTRUCTIONS", true, QKPERF_KIND_INSTRUCTIONS}, /* AMD */
    {"cycles", true, QKPERF_KIND_CYCLES},                     /* cycles-est */
    {"cpu-cycles", true, QKPERF_KIND_CYCLES},
    {"ref-cycles", true, QKPERF_KIND_CYCLES},
    {"CPU_CLK_UNHALTED", true, QKPERF_KIND_CYCLES},
    {"time", false, QKPERF_KIND_TIME}, /* ns */
    {"task-clock", true, QKPERF_KIND_TIME},
    {"cpu-clock", true, QKPERF_KIND_TIME},
    {"tsc-ticks", false, QKPERF_KIND_TIME},
};

const char *qkperf_metric_kind_name(qkperf_metric_kind k)
{
    return (unsigned)k < QKPERF_KIND_COUNT ? kind_names[k] : "?";
}

qkperf_metric_kind qkperf_metric_kind_of(const char *metric)
{
    for (size_t i = 0; i < sizeof metric_table / sizeof metric_table[0]; i++) {
        const char *name = metric_table[i].name;
        bool hit = metric_table[i].prefix ? strncmp(metric, name, strlen(name)) == 0
                                          : strcmp(metric, name) == 0;
        if (hit)
            return metric_table[i].kind;
    }
    return QKPERF_KIND_OTHER;
}

void qkperf_bands_default(qkperf_bands *b)
{
    memcpy(b->band, default_bands, sizeof b->band);
}

double qkperf_band_for(const qkperf_bands *b, const char *metric)
{
    return b->band[qkperf_metric_kind_of(metric)];
}

static int kind_by_name(const char *name, size_t len)
{
    for (int k = 0; k < QKPERF_KIND_COUNT; k++)
        if (strlen(kind_names[k]) == len && strncmp(name, kind_names[k], len) == 0)
            return k;
    return -1;
}

/* Parse one "KIND=FRACTION" item [item, end) into bands. */
static int parse_band_item(qkperf_bands *b, const char *item, size_t len, char *err, size_t errlen)
{
    const char *eq = memchr(item, '=', len);
    int kind = eq ? kind_by_name(item, (size_t)(eq - item)) : -1;
    const char *why = !eq        ? "missing '='"
                      : kind < 0 ? "unknown kind (known: instructions, "
                                   "cycles, time, other)"
                                 : NULL;
    double v = 0;
    if (!why) {
        char *vend;
        errno = 0;
        v = strtod(eq + 1, &vend);
        if (vend == eq + 1 || vend != item + len || errno)
            why = "value is not a number";
        else if (!(v >= 0 && v < 1))
            why = "value must be a fraction, 0 <= value < 1";
    }
    if (why) {
        snprintf(err, errlen, "bad noise band '%.*s': %s", (int)len, item, why);
        return -EINVAL;
    }
    b->band[kind] = v;
    return 0;
}

int qkperf_bands_parse(qkperf_bands *b, const char *spec, char *err, size_t errlen)
{
    if (!spec) {
        snprintf(err, errlen, "no noise band override given");
        return -EINVAL;
    }
    qkperf_bands tmp = *b;
    const char *item = spec;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        char one[128];
        /* A copy ends the item with a NUL, so strtod cannot run past it. */
        if (len >= sizeof one) {
            snprintf(err, errlen, "bad noise band '%.40s...': too long",
                     item); /* at most 40 of the item's >= 128 characters */
            return -EINVAL;
        }
        memcpy(one, item, len);
        one[len] = '\0';
        if (parse_band_item(&tmp, one, len, err, errlen) != 0)
            return -EINVAL;
        if (!comma)
            break;
        item = comma + 1;
    }
    *b = tmp;
    return 0;
}
