/*
 * stats.h — the statistics of qkperf: summaries of a sample vector, the
 * change between two sample sets, and the verdict a ladder step or a
 * baseline comparison prints (improved / regressed / no change).
 *
 * The method follows Criterion.rs: a change is called only when it is
 * statistically significant *and* the whole confidence interval of the
 * ratio of medians lies outside a per-metric noise band. Outliers are
 * classified with Tukey fences and reported, never dropped.
 *
 * Everything here is pure computation over caller-owned arrays (never
 * modified) and depends on libc and libm only. The bootstrap uses its own
 * seeded PRNG, so the same inputs and seed give bit-identical results.
 *
 * Functions that can fail return 0 on success or a negative errno:
 * -EINVAL for bad input (n = 0, a NULL array, a non-finite sample, an
 * option out of range), -ENOMEM when a scratch buffer cannot be allocated.
 */
#ifndef QKPERF_STATS_H
#define QKPERF_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tukey-fence class of one sample. Mild: beyond 1.5 IQR from the nearer
 * quartile; severe: beyond 3 IQR. */
typedef enum qkperf_outlier {
    QKPERF_OUTLIER_NONE = 0,
    QKPERF_OUTLIER_LOW_SEVERE,
    QKPERF_OUTLIER_LOW_MILD,
    QKPERF_OUTLIER_HIGH_MILD,
    QKPERF_OUTLIER_HIGH_SEVERE
} qkperf_outlier;

/* Quantiles (median, q1, q3) interpolate linearly between order statistics
 * (Hyndman & Fan type 7, the R and NumPy default); for even n the median is
 * the mean of the two middle samples. */
typedef struct qkperf_summary {
    size_t n;
    double min, max, mean;
    double q1, median, q3;
    double mad;        /* raw median absolute deviation from the median */
    double mad_scaled; /* 1.4826 * mad: estimates sigma for normal noise */
    size_t low_severe, low_mild, high_mild, high_severe; /* outlier counts */
} qkperf_summary;

/* Summarize x[0..n) (n >= 1). If cls is not NULL it receives the outlier
 * class of each sample, cls[i] for x[i]. When IQR = 0 (mostly ties) every
 * sample that differs from the quartiles is a severe outlier: the fences
 * are taken literally. */
int qkperf_summarize(const double *x, size_t n, qkperf_summary *out, qkperf_outlier *cls);

/* A distribution-free interval for the median of x[0..n) from its order
 * statistics (Thompson 1936): [x_(k), x_(n+1-k)] for the largest k whose
 * coverage, 1 - 2 P(Bin(n, 1/2) <= k - 1), is at least `confidence`;
 * with too few samples for that (n < 6 at 0.95) the widest, [min, max],
 * whose coverage is below it. *coverage (may be NULL) receives the
 * interval's own. 0, or -EINVAL (n = 0, a non-finite sample, confidence
 * outside (0, 1)) or -ENOMEM. */
int qkperf_median_interval(const double *x, size_t n, double confidence, double *lo, double *hi,
                           double *coverage);

/* Options of qkperf_change_compute; NULL or a 0 field means the default. */
typedef struct qkperf_change_opts {
    uint64_t seed;      /* bootstrap PRNG seed (used as given, 0 included;
                           NULL opts means QKPERF_DEFAULT_SEED) */
    unsigned resamples; /* 0 -> 10000 */
    double confidence;  /* 0 -> 0.95; else in (0, 1) */
    double alpha;       /* 0 -> 0.05; else in (0, 1) */
} qkperf_change_opts;

#define QKPERF_DEFAULT_SEED 0x71b7e5f00d5eedULL

/* The change from `before` to `after`, as a ratio of medians. */
typedef struct qkperf_change {
    size_t nb, na;
    double median_before, median_after;
    /* ratio = median_after / median_before and its percentile-bootstrap
     * interval [ci_lo, ci_hi]. Meaningful only when ratio_defined; it is
     * false (and the three fields are NaN) when the before median, or the
     * before median of some bootstrap resample, is <= 0: the ratio or its
     * interval would then be unbounded or of meaningless sign. */
    bool ratio_defined;
    double ratio, ci_lo, ci_hi;
    double confidence;
    /* Two-sided bootstrap p-value for "median_after == median_before",
     * from the same resamples as the interval; significant = p < alpha.
     * With fewer than 2 samples in either set nothing is known about the
     * noise, so p = 1 and significant is false (the interval is still the
     * degenerate point ratio). Constant sets of n >= 2 that differ are
     * significant. */
    double p_value;
    bool significant;
    /* The resamples' resolution, 2 / (resamples + 1): when no resample
     * crosses 0, p is at most this, extrapolated below it from a normal
     * fit to the resampled differences, 2 Phi(-|mean| / sd) (0 when they
     * are all the same), so that a family of many records can still be
     * significant after adjustment. */
    double p_floor;
    /* Independent runs (processes) on each side: 1 when the samples come
     * from one run, so the interval holds within-run noise only. */
    size_t runs_before, runs_after;
} qkperf_change;

int qkperf_change_compute(const double *before, size_t nb, const double *after, size_t na,
                          const qkperf_change_opts *opts, qkperf_change *out);

/* The same change from samples taken in several runs (processes): the
 * samples of each side are contiguous per run, brun[k] of them in run k
 * (nbr runs; nbr <= 1 means one run and brun may be NULL). The interval
 * and p-value come from a two-stage bootstrap (runs with replacement, then
 * samples within each drawn run), so run-to-run variance — a process's
 * code and data layout, the clock, the neighbours — widens them as it
 * should (Kalibera & Jones 2013). -EINVAL when the run lengths do not add
 * up to the sample counts or a run is empty. */
int qkperf_change_runs(const double *before, size_t nb, const size_t *brun, size_t nbr,
                       const double *after, size_t na, const size_t *arun, size_t nar,
                       const qkperf_change_opts *opts, qkperf_change *out);

/* Multiple-comparison control over the records of one comparison. */
typedef enum qkperf_adjust {
    QKPERF_ADJUST_NONE = 0,
    QKPERF_ADJUST_HOLM, /* family-wise error rate (Holm 1979, step-down) */
    QKPERF_ADJUST_BH    /* false discovery rate (Benjamini & Hochberg 1995) */
} qkperf_adjust;

/* Adjusted p-values adj[i] of p[0..n) (each in [0, 1]): a record is
 * significant at level alpha over the whole family when adj[i] < alpha.
 * 0, -EINVAL (a p outside [0, 1], an unknown method) or -ENOMEM. */
int qkperf_adjust_p(const double *p, size_t n, qkperf_adjust method, double *adj);
/* "none", "holm", "bh". */
const char *qkperf_adjust_name(qkperf_adjust method);

typedef enum qkperf_verdict {
    QKPERF_NO_CHANGE = 0,
    QKPERF_IMPROVED,
    QKPERF_REGRESSED
} qkperf_verdict;

/* IMPROVED or REGRESSED only when the change is significant, the ratio is
 * defined, and the whole interval lies strictly outside [1-band, 1+band]
 * on one side; the side and lower_is_better decide which. */
qkperf_verdict qkperf_verdict_of(const qkperf_change *c, double band, bool lower_is_better);
/* "improved", "regressed", "no change". */
const char *qkperf_verdict_name(qkperf_verdict v);

/* Phi^-1(p), the standard normal quantile, for p in (0, 1) (Acklam's
 * rational approximation refined by one Halley step: |error| < 1e-12);
 * NaN outside (0, 1). */
double qkperf_normal_quantile(double p);

/* The p-quantile of Student's t with df degrees of freedom (df >= 1):
 * exact (to about 1e-14) for integer df up to 1000, by bisection on the
 * closed-form distribution function; otherwise the Cornish-Fisher
 * expansion. NaN outside p in (0, 1) or df < 1. */
double qkperf_t_quantile(double p, double df);

/* The smallest increase (a fraction: 0.05 is +5%) that a record measured
 * with c's noise would be called, `power` of the time (0.9), by
 * qkperf_verdict_of with this band after a p-value adjustment over m
 * records at level alpha: both the interval's lower end beyond 1 + band
 * and significance at the strictest Holm / Benjamini-Hochberg step
 * (alpha / m) must hold. The noise is the interval's width on a log
 * scale. NaN when c's ratio is undefined. The thresholds are in the
 * interval's units (normal quantiles); the margin for `power` is in the
 * estimate's own spread. When c says how many units it rests on (nb,
 * na, runs_before, runs_after: runs when a side has several, else
 * samples), that spread is treated as
 * estimated from them: the margin takes Student's t with u_b + u_a - 2
 * degrees of freedom and the interval's spread widened by sqrt(u/(u - 1))
 * for the side with fewer units u (NaN with one unit a side); with all
 * four zero, a normal quantile and the interval's spread as it is. */
double qkperf_detectable(const qkperf_change *c, double band, size_t m, double alpha, double power);

/* Metric kinds, each with its own noise band. */
typedef enum qkperf_metric_kind {
    QKPERF_KIND_INSTRUCTIONS = 0, /* default band 0.001 */
    QKPERF_KIND_CYCLES,           /* 0.02 */
    QKPERF_KIND_TIME,             /* 0.02 */
    QKPERF_KIND_OTHER,            /* 0.05: misses, uops, page faults, ... */
    QKPERF_KIND_COUNT
} qkperf_metric_kind;

typedef struct qkperf_bands {
    double band[QKPERF_KIND_COUNT]; /* fraction, e.g. 0.02 for 2% */
} qkperf_bands;

/* "instructions", "cycles", "time", "other". */
const char *qkperf_metric_kind_name(qkperf_metric_kind k);
/* The kind of a metric name as qkperf prints it ("Ir", "cycles-est",
 * "task-clock", "L1D misses", ...); unknown names are QKPERF_KIND_OTHER. */
qkperf_metric_kind qkperf_metric_kind_of(const char *metric);

void qkperf_bands_default(qkperf_bands *b);
/* Apply an override "KIND=FRACTION[,KIND=FRACTION...]" (kinds as named by
 * qkperf_metric_kind_name, 0 <= FRACTION < 1) on top of *b. On error *b is
 * unchanged, err receives one line naming the bad item, -EINVAL returned. */
int qkperf_bands_parse(qkperf_bands *b, const char *spec, char *err, size_t errlen);
/* The band for a metric name. */
double qkperf_band_for(const qkperf_bands *b, const char *metric);

#endif /* QKPERF_STATS_H */
