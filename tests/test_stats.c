/*
 * test_stats.c — known-answer tests for harness/stats.c: summaries and
 * Tukey fences on hand-checked vectors, change detection on seeded
 * synthetic samples whose true ratio is known, verdicts against noise
 * bands, degenerate inputs (ties, n = 1, zero medians), reproducibility,
 * the band override parser, and the ladder's one-line summary per step
 * (attrib.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "stats.h"

#define N 31

/* Test data generator, independent of the module's PRNG: splitmix64 and
 * Box-Muller give normal noise. */
static uint64_t gen_state;

static double gen_uniform(void)
{
    uint64_t z = (gen_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static double gen_normal(void)
{
    double u1 = gen_uniform(), u2 = gen_uniform();
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* x[i] = mean * (1 + rel_sd * Z) */
static void fill_normal(double *x, size_t n, double mean, double rel_sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = mean * (1 + rel_sd * gen_normal());
}

static qkperf_change change_of(const double *b, size_t nb, const double *a, size_t na,
                               uint64_t seed)
{
    qkperf_change_opts o = {.seed = seed};
    qkperf_change c;
    cr_assert_eq(qkperf_change_compute(b, nb, a, na, &o, &c), 0);
    return c;
}

/* ---- summaries ---- */

Test(summary, odd_n_known_answers)
{
    const double x[] = {5, 1, 4, 2, 3};
    const double copy[] = {5, 1, 4, 2, 3};
    qkperf_summary s;
    cr_assert_eq(qkperf_summarize(x, 5, &s, NULL), 0);
    cr_assert_eq(s.n, 5);
    cr_assert_float_eq(s.median, 3, 1e-12);
    cr_assert_float_eq(s.mad, 1, 1e-12); /* |dev| = 2,2,1,1,0 */
    cr_assert_float_eq(s.mad_scaled, 1.4826, 1e-12);
    cr_assert_float_eq(s.min, 1, 1e-12);
    cr_assert_float_eq(s.max, 5, 1e-12);
    cr_assert_float_eq(s.mean, 3, 1e-12);
    cr_assert_float_eq(s.q1, 2, 1e-12);
    cr_assert_float_eq(s.q3, 4, 1e-12);
    cr_assert_arr_eq(x, copy, sizeof x, "caller's array was modified");
}

Test(summary, even_n_known_answers)
{
    const double x[] = {10, 1, 7, 3};
    qkperf_summary s;
    cr_assert_eq(qkperf_summarize(x, 4, &s, NULL), 0);
    cr_assert_float_eq(s.median, 5, 1e-12); /* (3 + 7) / 2 */
    cr_assert_float_eq(s.mad, 3, 1e-12);    /* |dev| = 5,4,2,2 -> 3 */
    cr_assert_float_eq(s.min, 1, 1e-12);
    cr_assert_float_eq(s.q1, 2.5, 1e-12);  /* type 7: 1 + 0.75 * 2 */
    cr_assert_float_eq(s.q3, 7.75, 1e-12); /* 7 + 0.25 * 3 */
}

Test(summary, tukey_planted_outliers)
{
    const double x[] = {14, 13, 100, 15, 16, 12, 26, 17, 18, 11, -1};
    /* sorted: -1 11 12 13 14 15 16 17 18 26 100; q1 = 12.5, q3 = 17.5,
     * IQR = 5: mild beyond [5, 25], severe beyond [-2.5, 32.5]. */
    qkperf_outlier cls[11];
    qkperf_summary s;
    cr_assert_eq(qkperf_summarize(x, 11, &s, cls), 0);
    cr_assert_float_eq(s.q1, 12.5, 1e-12);
    cr_assert_float_eq(s.q3, 17.5, 1e-12);
    cr_assert_eq(cls[2], QKPERF_OUTLIER_HIGH_SEVERE); /* 100 */
    cr_assert_eq(cls[6], QKPERF_OUTLIER_HIGH_MILD);   /* 26 */
    cr_assert_eq(cls[10], QKPERF_OUTLIER_LOW_MILD);   /* -1 */
    cr_assert_eq(cls[0], QKPERF_OUTLIER_NONE);
    cr_assert_eq(s.high_severe, 1);
    cr_assert_eq(s.high_mild, 1);
    cr_assert_eq(s.low_mild, 1);
    cr_assert_eq(s.low_severe, 0);
    cr_assert_float_eq(s.max, 100, 1e-12, "outliers are kept, not dropped");
}

Test(summary, ties_and_single_sample)
{
    const double t[] = {7, 7, 7, 7};
    qkperf_outlier cls[4];
    qkperf_summary s;
    cr_assert_eq(qkperf_summarize(t, 4, &s, cls), 0);
    cr_assert_float_eq(s.median, 7, 1e-12);
    cr_assert_eq(s.mad, 0);
    cr_assert_eq(s.low_mild + s.low_severe + s.high_mild + s.high_severe, 0);

    const double one[] = {42};
    cr_assert_eq(qkperf_summarize(one, 1, &s, cls), 0);
    cr_assert_float_eq(s.median, 42, 1e-12);
    cr_assert_float_eq(s.q1, 42, 1e-12);
    cr_assert_eq(s.mad, 0);
    cr_assert_eq(cls[0], QKPERF_OUTLIER_NONE);
}

Test(summary, bad_input)
{
    const double x[] = {1, NAN, 3};
    qkperf_summary s;
    cr_assert_eq(qkperf_summarize(x, 0, &s, NULL), -EINVAL);
    cr_assert_eq(qkperf_summarize(x, 3, &s, NULL), -EINVAL);
    cr_assert_eq(qkperf_summarize(NULL, 3, &s, NULL), -EINVAL);
}

/* ---- change and verdict ---- */

Test(change, same_distribution_is_no_change)
{
    double b[N], a[N];
    gen_state = 1;
    fill_normal(b, N, 1000, 0.01);
    fill_normal(a, N, 1000, 0.01);
    qkperf_change c = change_of(b, N, a, N, 7);
    cr_assert(c.ratio_defined);
    cr_assert(c.ci_lo <= 1 && 1 <= c.ci_hi, "CI [%g, %g] misses 1", c.ci_lo, c.ci_hi);
    cr_assert_not(c.significant, "p = %g", c.p_value);
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_NO_CHANGE);
}

/* One null comparison: two fresh draws of the same distribution. */
static qkperf_change null_change(uint64_t seed, unsigned resamples)
{
    double b[N], a[N];
    fill_normal(b, N, 1000, 0.01);
    fill_normal(a, N, 1000, 0.01);
    qkperf_change_opts o = {.seed = seed, .resamples = resamples};
    qkperf_change c;
    cr_assert_eq(qkperf_change_compute(b, N, a, N, &o, &c), 0);
    return c;
}

Test(change, false_positive_rate_near_alpha)
{
    /* Over 100 independent null draws the test should fire about 5 times;
     * 15 or more would mean the p-value is badly miscalibrated. */
    int fired = 0;
    gen_state = 1234;
    for (int rep = 0; rep < 100; rep++)
        fired += null_change((uint64_t)rep, 2000).significant;
    cr_assert_lt(fired, 15, "%d of 100 null comparisons significant", fired);
}

/* A 95% interval misses the truth in about 5% of draws, so coverage is
 * checked as a rate over 100 seeded draws (expected 95, sd ~2.2): 88 or
 * fewer would mean the interval is too narrow. Detection must not miss. */
Test(change, ten_percent_shift_is_regression)
{
    double b[N], a[N];
    int covered = 0;
    gen_state = 2;
    for (int rep = 0; rep < 100; rep++) {
        fill_normal(b, N, 1000, 0.01);
        fill_normal(a, N, 1100, 0.01);
        qkperf_change_opts o = {.seed = (uint64_t)rep, .resamples = 2000};
        qkperf_change c;
        cr_assert_eq(qkperf_change_compute(b, N, a, N, &o, &c), 0);
        cr_assert(c.significant, "draw %d: p = %g", rep, c.p_value);
        cr_assert_float_eq(c.ratio, 1.10, 0.02);
        cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_REGRESSED);
        cr_assert_eq(qkperf_verdict_of(&c, 0.02, false), QKPERF_IMPROVED);
        covered += c.ci_lo <= 1.10 && 1.10 <= c.ci_hi;
    }
    cr_assert_gt(covered, 88, "CI covered 1.10 in %d of 100 draws", covered);
}

Test(change, ten_percent_drop_is_improvement)
{
    double b[N], a[N];
    gen_state = 2;
    fill_normal(b, N, 1100, 0.01);
    fill_normal(a, N, 1000, 0.01);
    qkperf_change c = change_of(b, N, a, N, 7);
    cr_assert_float_eq(c.ratio, 1 / 1.10, 0.01);
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_IMPROVED);
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, false), QKPERF_REGRESSED);
}

Test(change, small_shift_inside_band_is_no_change)
{
    double b[N], a[N];
    gen_state = 3;
    fill_normal(b, N, 1000, 0.001);
    fill_normal(a, N, 1005, 0.001);
    qkperf_change c = change_of(b, N, a, N, 7);
    cr_assert(c.significant, "p = %g: the test setup needs a real shift", c.p_value);
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_NO_CHANGE);
    /* with an instructions-sized band the same change is called */
    cr_assert_eq(qkperf_verdict_of(&c, 0.001, true), QKPERF_REGRESSED);
}

Test(change, constant_sets)
{
    double b[N], a[N], e[N];
    for (int i = 0; i < N; i++) {
        b[i] = 1000;
        a[i] = 1100;
        e[i] = 1000;
    }
    qkperf_change c = change_of(b, N, a, N, 7);
    cr_assert(c.significant, "differing constant sets, p = %g", c.p_value);
    cr_assert_eq(c.ci_lo, 1.1);
    cr_assert_eq(c.ci_hi, 1.1);
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_REGRESSED);

    qkperf_change same = change_of(b, N, e, N, 7);
    cr_assert_not(same.significant);
    cr_assert_eq(same.p_value, 1);
    cr_assert_eq(same.ratio, 1);
    cr_assert_eq(qkperf_verdict_of(&same, 0, true), QKPERF_NO_CHANGE);
}

/* Past the resamples' resolution (none crosses 0) the tail is a normal
 * fit: below the floor, smaller for a larger shift, 0 for constant sets,
 * and still calibrated: of null comparisons with 200 resamples (floor
 * 2/201), about 1 in 1000 gets p < 0.001 (2000 draws: expected 2). */
Test(change, beyond_the_resamples_the_tail_is_a_normal_fit, .timeout = 60)
{
    double b[N], a[N], c2[N];
    gen_state = 11;
    fill_normal(b, N, 1000, 0.01);
    fill_normal(a, N, 1050, 0.01);
    for (int i = 0; i < N; i++)
        c2[i] = a[i] * 1.02;
    qkperf_change c = change_of(b, N, a, N, 7), far = change_of(b, N, c2, N, 7);
    cr_expect(c.p_value > 0 && c.p_value < c.p_floor, "p %g floor %g", c.p_value, c.p_floor);
    cr_expect(far.p_value < c.p_value, "a larger shift: p %g, not below %g", far.p_value,
              c.p_value);
    double k1[N], k2[N];
    for (int i = 0; i < N; i++)
        k1[i] = 1000, k2[i] = 1001;
    cr_expect_eq(change_of(k1, N, k2, N, 7).p_value, 0);

    int below3 = 0, below2 = 0;
    for (int rep = 0; rep < 2000; rep++) {
        double p = null_change((uint64_t)rep, 200).p_value;
        below3 += p < 0.001;
        below2 += p < 0.01;
    }
    cr_expect_lt(below3, 9, "%d of 2000 null comparisons at p < 0.001", below3);
    cr_expect_lt(below2, 40, "%d of 2000 null comparisons at p < 0.01", below2);
    cr_log_info("null p < 0.001: %d, < 0.01: %d of 2000\n", below3, below2);
}

/* Known answers of the order-statistics interval: 8 samples give
 * [min, max] at 1 - 2/256; 20 give [x_(6), x_(15)] at 1 - 2 * 21700/2^20
 * (P(Bin(20, 1/2) <= 5) = 0.0207, <= 6 would be 0.0577); 5 samples cannot
 * reach 95% and give [min, max] at 1 - 2/32. */
Test(median_interval, known_answers)
{
    double x[20], lo, hi, cov;
    for (int i = 0; i < 20; i++)
        x[i] = (double)((i * 7) % 20 + 1); /* 1..20, shuffled */
    cr_assert_eq(qkperf_median_interval(x, 20, 0.95, &lo, &hi, &cov), 0);
    cr_expect_eq(lo, 6);
    cr_expect_eq(hi, 15);
    cr_expect_float_eq(cov, 1 - 2 * 21700.0 / 1048576, 1e-12);
    double y[8] = {5, 3, 8, 1, 7, 2, 6, 4};
    cr_assert_eq(qkperf_median_interval(y, 8, 0.95, &lo, &hi, &cov), 0);
    cr_expect(lo == 1 && hi == 8, "[%g, %g]", lo, hi);
    cr_expect_float_eq(cov, 1 - 2.0 / 256, 1e-12);
    cr_assert_eq(qkperf_median_interval(y, 5, 0.95, &lo, &hi, &cov), 0);
    cr_expect(lo == 1 && hi == 8, "[%g, %g]", lo, hi);
    cr_expect_float_eq(cov, 1 - 2.0 / 32, 1e-12);
    cr_assert_eq(qkperf_median_interval(y, 1, 0.95, &lo, &hi, NULL), 0);
    cr_expect(lo == 5 && hi == 5);
    /* 1000 samples: k from the binomial tail, the interval around the median */
    double z[1000];
    for (int i = 0; i < 1000; i++)
        z[i] = (double)((i * 617) % 1000);
    cr_assert_eq(qkperf_median_interval(z, 1000, 0.95, &lo, &hi, &cov), 0);
    cr_expect(lo == 468 && hi == 531, "[%g, %g]", lo, hi);
    cr_expect(cov >= 0.95 && cov < 0.96, "%g", cov);
    double bad[2] = {1, NAN};
    cr_expect_eq(qkperf_median_interval(bad, 2, 0.95, &lo, &hi, NULL), -EINVAL);
    cr_expect_eq(qkperf_median_interval(y, 0, 0.95, &lo, &hi, NULL), -EINVAL);
    cr_expect_eq(qkperf_median_interval(y, 8, 1, &lo, &hi, NULL), -EINVAL);
}

Test(change, single_samples)
{
    const double b[] = {1000}, a[] = {2000};
    qkperf_change c = change_of(b, 1, a, 1, 7);
    cr_assert(c.ratio_defined);
    cr_assert_eq(c.ratio, 2);
    cr_assert_eq(c.ci_lo, 2);
    cr_assert_eq(c.ci_hi, 2);
    cr_assert_not(c.significant, "one sample says nothing about noise");
    cr_assert_eq(c.p_value, 1);
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_NO_CHANGE);

    double many[N];
    gen_state = 4;
    fill_normal(many, N, 1000, 0.01);
    qkperf_change m = change_of(many, N, a, 1, 7);
    cr_assert_not(m.significant);
    cr_assert(m.ratio_defined && !isnan(m.ci_lo) && !isnan(m.ci_hi));
}

Test(change, zero_median_is_flagged)
{
    const double b[] = {0, 0, 0, 1, 0}, a[] = {5, 6, 5, 5, 7};
    qkperf_change c = change_of(b, 5, a, 5, 7);
    cr_assert_not(c.ratio_defined);
    cr_assert(isnan(c.ratio) && isnan(c.ci_lo) && isnan(c.ci_hi));
    cr_assert(c.significant, "the difference is still testable, p = %g", c.p_value);
    cr_assert_eq(qkperf_verdict_of(&c, 0.05, true), QKPERF_NO_CHANGE);

    /* before median positive but some resamples have median 0 */
    const double z[] = {0, 0, 1, 1, 1};
    qkperf_change d = change_of(z, 5, a, 5, 7);
    cr_assert_not(d.ratio_defined);
}

Test(change, same_seed_is_bit_identical)
{
    double b[N], a[N];
    gen_state = 5;
    fill_normal(b, N, 1000, 0.01);
    fill_normal(a, N, 1100, 0.01);
    qkperf_change c1 = change_of(b, N, a, N, 99);
    qkperf_change c2 = change_of(b, N, a, N, 99);
    cr_assert_eq(memcmp(&c1.ci_lo, &c2.ci_lo, sizeof c1.ci_lo), 0);
    cr_assert_eq(memcmp(&c1.ci_hi, &c2.ci_hi, sizeof c1.ci_hi), 0);
    cr_assert_eq(memcmp(&c1.p_value, &c2.p_value, sizeof c1.p_value), 0);

    qkperf_change c3 = change_of(b, N, a, N, 100);
    cr_assert(c1.ci_lo <= 1.10 && 1.10 <= c1.ci_hi, "CI [%g, %g] misses 1.10", c1.ci_lo, c1.ci_hi);
    cr_assert(c3.ci_lo <= 1.10 && 1.10 <= c3.ci_hi, "CI [%g, %g] misses 1.10", c3.ci_lo, c3.ci_hi);
}

Test(change, default_options_and_bad_options)
{
    double b[N], a[N];
    gen_state = 6;
    fill_normal(b, N, 1000, 0.01);
    fill_normal(a, N, 1000, 0.01);
    qkperf_change c;
    cr_assert_eq(qkperf_change_compute(b, N, a, N, NULL, &c), 0);
    cr_assert_float_eq(c.confidence, 0.95, 1e-12);
    qkperf_change_opts bad = {.confidence = 1.5};
    cr_assert_eq(qkperf_change_compute(b, N, a, N, &bad, &c), -EINVAL);
    bad = (qkperf_change_opts){.alpha = -0.1};
    cr_assert_eq(qkperf_change_compute(b, N, a, N, &bad, &c), -EINVAL);
    cr_assert_eq(qkperf_change_compute(b, 0, a, N, NULL, &c), -EINVAL);
    b[3] = INFINITY;
    cr_assert_eq(qkperf_change_compute(b, N, a, N, NULL, &c), -EINVAL);
}

/* The verdict reads the whole interval, not the point ratio. */
/* ---- runs (processes) ---- */

/* Five runs of 200 samples, each run at its own level (the run-to-run
 * spread of +-2%), with tiny noise inside a run. */
static void runs_at(double *x, const double *level, double shift)
{
    for (size_t k = 0; k < 5; k++)
        for (size_t i = 0; i < 200; i++)
            x[200 * k + i] = (level[k] + shift) * (1 + 1e-4 * (double)((i * 7) % 5));
}

Test(runs, run_to_run_variance_widens_the_interval)
{
    static const double lv[5] = {100, 102, 98, 101, 99};
    static const size_t len[5] = {200, 200, 200, 200, 200};
    static double b[1000], a[1000];
    runs_at(b, lv, 0);
    runs_at(a, lv, 0.5); /* +0.5%: inside the run-to-run spread */
    qkperf_change flat, runs;
    cr_assert_eq(qkperf_change_compute(b, 1000, a, 1000, NULL, &flat), 0);
    cr_assert_eq(qkperf_change_runs(b, 1000, len, 5, a, 1000, len, 5, NULL, &runs), 0);
    cr_expect(flat.significant, "within-run samples alone call +0.5%% real (p %g)", flat.p_value);
    cr_expect(!runs.significant, "between runs it is noise (p %g, CI %g..%g)", runs.p_value,
              runs.ci_lo, runs.ci_hi);
    cr_expect(runs.ci_hi - runs.ci_lo > 2 * (flat.ci_hi - flat.ci_lo), "CI %g..%g vs %g..%g",
              runs.ci_lo, runs.ci_hi, flat.ci_lo, flat.ci_hi);
    cr_expect_eq(runs.runs_before, 5);
    cr_expect_eq(flat.runs_after, 1);
    cr_expect_float_eq(runs.ratio, flat.ratio, 1e-12, "the point estimate is the same");
}

Test(runs, a_real_change_beyond_the_spread_is_found)
{
    static const double lv[5] = {100, 102, 98, 101, 99};
    static const size_t len[5] = {200, 200, 200, 200, 200};
    static double b[1000], a[1000];
    runs_at(b, lv, 0);
    runs_at(a, lv, 15); /* +15% */
    qkperf_change c;
    cr_assert_eq(qkperf_change_runs(b, 1000, len, 5, a, 1000, len, 5, NULL, &c), 0);
    cr_expect(c.significant && c.ci_lo > 1.08, "CI %g..%g p %g", c.ci_lo, c.ci_hi, c.p_value);
    cr_expect_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_REGRESSED);
}

Test(runs, layouts_that_do_not_add_up_are_refused)
{
    double x[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    size_t bad[2] = {4, 5}, empty[2] = {10, 0}, good[2] = {5, 5};
    qkperf_change c;
    cr_expect_eq(qkperf_change_runs(x, 10, bad, 2, x, 10, good, 2, NULL, &c), -EINVAL);
    cr_expect_eq(qkperf_change_runs(x, 10, empty, 2, x, 10, good, 2, NULL, &c), -EINVAL);
    cr_expect_eq(qkperf_change_runs(x, 10, NULL, 2, x, 10, good, 2, NULL, &c), -EINVAL);
    cr_expect_eq(qkperf_change_runs(x, 10, NULL, 1, x, 10, good, 2, NULL, &c), 0,
                 "one run needs no layout");
}

/* ---- multiplicity ---- */

/* Known answers: R's p.adjust(c(.01, .04, .03, .005), "holm" / "BH"). */
Test(adjust, holm_and_bh_known_answers)
{
    const double p[4] = {0.01, 0.04, 0.03, 0.005};
    const double holm[4] = {0.03, 0.06, 0.06, 0.02}, bh[4] = {0.02, 0.04, 0.04, 0.02};
    double adj[4];
    cr_assert_eq(qkperf_adjust_p(p, 4, QKPERF_ADJUST_HOLM, adj), 0);
    for (int i = 0; i < 4; i++)
        cr_expect_float_eq(adj[i], holm[i], 1e-12, "holm[%d] %g", i, adj[i]);
    cr_assert_eq(qkperf_adjust_p(p, 4, QKPERF_ADJUST_BH, adj), 0);
    for (int i = 0; i < 4; i++)
        cr_expect_float_eq(adj[i], bh[i], 1e-12, "bh[%d] %g", i, adj[i]);
    const double big[3] = {0.5, 0.9, 0.7};
    cr_assert_eq(qkperf_adjust_p(big, 3, QKPERF_ADJUST_HOLM, adj), 0);
    cr_expect_float_eq(adj[1], 1.0, 1e-12, "capped at 1");
    cr_expect_str_eq(qkperf_adjust_name(QKPERF_ADJUST_HOLM), "holm");
    cr_expect_str_eq(qkperf_adjust_name(QKPERF_ADJUST_BH), "bh");
}

Test(adjust, bad_input)
{
    const double p[2] = {0.5, 1.5};
    double adj[2];
    cr_expect_eq(qkperf_adjust_p(p, 2, QKPERF_ADJUST_HOLM, adj), -EINVAL);
    cr_expect_eq(qkperf_adjust_p(p, 1, (qkperf_adjust)9, adj), -EINVAL);
    cr_expect_eq(qkperf_adjust_p(NULL, 0, QKPERF_ADJUST_BH, NULL), 0, "an empty family");
}

Test(verdict, interval_must_clear_the_band)
{
    qkperf_change c = {
        .significant = true, .ratio_defined = true, .ratio = 1.03, .ci_lo = 1.015, .ci_hi = 1.045};
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_NO_CHANGE);
    c.ci_lo = 1.025;
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_REGRESSED);
    c = (qkperf_change){
        .significant = true, .ratio_defined = true, .ratio = 0.97, .ci_lo = 0.955, .ci_hi = 0.985};
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_NO_CHANGE);
    c.ci_hi = 0.975;
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_IMPROVED);
    c.significant = false;
    cr_assert_eq(qkperf_verdict_of(&c, 0.02, true), QKPERF_NO_CHANGE);
}

Test(detectable, normal_quantile_known_answers)
{
    cr_expect(fabs(qkperf_normal_quantile(0.975) - 1.959963984540054) < 1e-12);
    cr_expect(fabs(qkperf_normal_quantile(0.9) - 1.2815515655446004) < 1e-12);
    cr_expect(fabs(qkperf_normal_quantile(0.5)) < 1e-15);
    cr_expect(fabs(qkperf_normal_quantile(0.001) + 3.090232306167813) < 1e-12);
    cr_expect(fabs(qkperf_normal_quantile(1e-10) + 6.361340902404056) < 1e-10);
    cr_expect(isnan(qkperf_normal_quantile(0)) && isnan(qkperf_normal_quantile(1)));
    cr_expect(isnan(qkperf_normal_quantile(NAN)));
}

Test(detectable, t_quantile_known_answers)
{
    /* tables of Student's t (and the closed forms for df 1 and 2) */
    cr_expect(fabs(qkperf_t_quantile(0.975, 1) - 12.706204736174705) < 1e-9);
    cr_expect(fabs(qkperf_t_quantile(0.975, 2) - 4.302652729749464) < 1e-11);
    cr_expect(fabs(qkperf_t_quantile(0.9, 4) - 1.5332062740589438) < 1e-11);
    cr_expect(fabs(qkperf_t_quantile(0.975, 4) - 2.7764451051977934) < 1e-11);
    cr_expect(fabs(qkperf_t_quantile(0.995, 10) - 3.169272672616958) < 1e-11);
    cr_expect(fabs(qkperf_t_quantile(0.975, 30) - 2.0422724563012373) < 1e-11);
    cr_expect(fabs(qkperf_t_quantile(0.9999, 1) - 3183.098757116) < 1e-6);
    cr_expect(fabs(qkperf_t_quantile(0.1, 4) + 1.5332062740589438) < 1e-11, "symmetric");
    cr_expect(fabs(qkperf_t_quantile(0.5, 3)) < 1e-12);
    /* beyond 1000 degrees of freedom, the expansion: close to the normal */
    cr_expect(fabs(qkperf_t_quantile(0.975, 5000) - 1.9604385517) < 1e-9);
    cr_expect(isnan(qkperf_t_quantile(0.975, 0.5)) && isnan(qkperf_t_quantile(1, 4)));
}

Test(detectable, known_answers)
{
    /* interval [0.98, 1.02] at 95%: se = ln(1.02 / 0.98) / (2 * 1.95996) */
    qkperf_change c = {.ratio_defined = true,
                       .ratio = 1,
                       .ci_lo = 0.98,
                       .ci_hi = 1.02,
                       .confidence = 0.95,
                       .p_floor = 2.0 / 10001};
    double se = log(1.02 / 0.98) / (2 * 1.959963984540054);
    double beyond = log(1.02) + (1.959963984540054 + 1.2815515655446004) * se;
    cr_expect(fabs(qkperf_detectable(&c, 0.02, 1, 0.05, 0.9) - expm1(beyond)) < 1e-9);
    /* over 72 records significance needs z(1 - 0.05 / 144) = 3.3912 */
    double sig = (3.391763140587952 + 1.2815515655446004) * se;
    cr_expect(fabs(qkperf_detectable(&c, 0, 72, 0.05, 0.9) - expm1(sig)) < 1e-8, "%g",
              qkperf_detectable(&c, 0, 72, 0.05, 0.9));
    cr_expect(fabs(qkperf_detectable(&c, 0.02, 72, 0.05, 0.9) - expm1(beyond)) < 1e-9);
    /* 300 records: beyond the bootstrap's 2 / 10001 (the normal tail past
     * it), significance needs z(1 - 0.05 / 600) = 3.76482 */
    double sig300 = (3.764823649533927 + 1.2815515655446004) * se;
    cr_expect(fabs(qkperf_detectable(&c, 0, 300, 0.05, 0.9) - expm1(sig300)) < 1e-8, "%g",
              qkperf_detectable(&c, 0, 300, 0.05, 0.9));
    /* a deterministic figure: only the band */
    c.ci_lo = c.ci_hi = 1;
    cr_expect(fabs(qkperf_detectable(&c, 0.02, 72, 0.05, 0.9) - 0.02) < 1e-12);
    /* three runs a side: the power margin in t(0.9, 4 df), the spread
     * widened by sqrt(3 / 2); the thresholds stay in the interval's units */
    c.ci_lo = 0.98, c.ci_hi = 1.02, c.nb = c.na = 33, c.runs_before = c.runs_after = 3;
    double runs = log(1.02) + 1.959963984540054 * se + 1.5332062740589438 * sqrt(1.5) * se;
    cr_expect(fabs(qkperf_detectable(&c, 0.02, 1, 0.05, 0.9) - expm1(runs)) < 1e-9, "%g",
              qkperf_detectable(&c, 0.02, 1, 0.05, 0.9));
    /* 11 samples in one run against 3 runs: 12 degrees of freedom, and
     * the side with fewer units (3) sets the correction */
    c.runs_before = 1, c.nb = 11;
    double mixed = log(1.02) + 1.959963984540054 * se + 1.3562173340231 * sqrt(1.5) * se;
    cr_expect(fabs(qkperf_detectable(&c, 0.02, 1, 0.05, 0.9) - expm1(mixed)) < 1e-9, "%g",
              qkperf_detectable(&c, 0.02, 1, 0.05, 0.9));
    /* one unit a side: nothing is known of the noise */
    c.nb = c.na = 1, c.runs_before = c.runs_after = 1;
    cr_expect(isnan(qkperf_detectable(&c, 0.02, 1, 0.05, 0.9)));
    c.ratio_defined = false;
    cr_expect(isnan(qkperf_detectable(&c, 0.02, 1, 0.05, 0.9)));
}

/* K runs of s samples each: run means mean * (1 + run_sd * Z), samples
 * around them with rel_sd; lengths in len[]. */
static void fill_runs(double *x, size_t *len, size_t k, size_t s, double mean, double run_sd,
                      double rel_sd)
{
    for (size_t r = 0; r < k; r++) {
        fill_normal(x + r * s, s, mean * (1 + run_sd * gen_normal()), rel_sd);
        len[r] = s;
    }
}

/* The figure's promise where it is used: three runs a side whose means
 * spread by 3%, a true effect of +8%; of the comparisons whose figure says
 * +8% is within reach, nine in ten (here at least 85%) call it. */
Test(detectable, between_runs_the_figure_holds_where_it_claims, .timeout = 60)
{
    static double b[33], a[33];
    size_t lb[3], la[3];
    gen_state = 7;
    int trials = 200, claimed = 0, found = 0;
    for (int t = 0; t < trials; t++) {
        fill_runs(b, lb, 3, 11, 100, 0.03, 0.005);
        fill_runs(a, la, 3, 11, 108, 0.03, 0.005);
        qkperf_change_opts o = {.seed = 5000 + (uint64_t)t};
        qkperf_change c;
        cr_assert_eq(qkperf_change_runs(b, 33, lb, 3, a, 33, la, 3, &o, &c), 0);
        if (qkperf_detectable(&c, 0.02, 1, 0.05, 0.9) <= 0.08) {
            claimed++;
            found += qkperf_verdict_of(&c, 0.02, true) == QKPERF_REGRESSED;
        }
    }
    cr_expect(claimed >= 20, "only %d of %d claimed", claimed, trials);
    cr_expect(found * 100 >= claimed * 85, "found %d of the %d claimed", found, claimed);
}

/* What the figure promises: an effect of the detectable size, measured
 * with the same noise, is called regressed about 9 times in 10. */
Test(detectable, an_effect_of_that_size_is_found_nine_times_in_ten)
{
    static double b[N], a[N];
    gen_state = 42;
    fill_normal(b, N, 100, 0.03);
    fill_normal(a, N, 100, 0.03);
    qkperf_change c;
    cr_assert_eq(qkperf_change_compute(b, N, a, N, NULL, &c), 0);
    double d = qkperf_detectable(&c, 0.02, 1, 0.05, 0.9);
    cr_assert(d > 0.02 && d < 0.2, "detectable %g", d);
    int trials = 200, found = 0, found_half = 0;
    for (int t = 0; t < trials; t++) {
        qkperf_change_opts o = {.seed = 1000 + (uint64_t)t};
        fill_normal(b, N, 100, 0.03);
        fill_normal(a, N, 100 * (1 + d), 0.03);
        cr_assert_eq(qkperf_change_compute(b, N, a, N, &o, &c), 0);
        found += qkperf_verdict_of(&c, 0.02, true) == QKPERF_REGRESSED;
        fill_normal(a, N, 100 * (1 + d / 2), 0.03);
        cr_assert_eq(qkperf_change_compute(b, N, a, N, &o, &c), 0);
        found_half += qkperf_verdict_of(&c, 0.02, true) == QKPERF_REGRESSED;
    }
    cr_expect(found >= trials * 84 / 100, "found %d of %d at +%.1f%%", found, trials, d * 100);
    cr_expect(found_half < trials * 60 / 100, "found %d of %d at half of +%.1f%%", found_half,
              trials, d * 100);
}

Test(verdict, names)
{
    cr_assert_str_eq(qkperf_verdict_name(QKPERF_IMPROVED), "improved");
    cr_assert_str_eq(qkperf_verdict_name(QKPERF_REGRESSED), "regressed");
    cr_assert_str_eq(qkperf_verdict_name(QKPERF_NO_CHANGE), "no change");
}

/* ---- metric kinds and bands ---- */

Test(bands, metric_kinds_and_defaults)
{
    static const struct {
        const char *name;
        qkperf_metric_kind kind;
    } t[] = {
        {"time", QKPERF_KIND_TIME},         {"task-clock", QKPERF_KIND_TIME},
        {"tsc-ticks", QKPERF_KIND_TIME},    {"cycles", QKPERF_KIND_CYCLES},
        {"cycles-est", QKPERF_KIND_CYCLES}, {"instructions", QKPERF_KIND_INSTRUCTIONS},
        {"Ir", QKPERF_KIND_INSTRUCTIONS},   {"L1D misses", QKPERF_KIND_OTHER},
        {"D1mr", QKPERF_KIND_OTHER},        {"timestamp", QKPERF_KIND_OTHER},
        {"Irx", QKPERF_KIND_OTHER},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_eq(qkperf_metric_kind_of(t[i].name), t[i].kind, "%s", t[i].name);
    qkperf_bands b;
    qkperf_bands_default(&b);
    cr_assert_float_eq(qkperf_band_for(&b, "instructions"), 0.001, 1e-15);
    cr_assert_float_eq(qkperf_band_for(&b, "cycles-est"), 0.02, 1e-15);
    cr_assert_float_eq(qkperf_band_for(&b, "time"), 0.02, 1e-15);
    cr_assert_float_eq(qkperf_band_for(&b, "L1D misses"), 0.05, 1e-15);
    cr_assert_str_eq(qkperf_metric_kind_name(QKPERF_KIND_CYCLES), "cycles");
}

Test(bands, parse_good)
{
    qkperf_bands b;
    char err[200] = "";
    qkperf_bands_default(&b);
    cr_assert_eq(qkperf_bands_parse(&b, "instructions=0.002,time=0.03", err, sizeof err), 0, "%s",
                 err);
    cr_assert_float_eq(b.band[QKPERF_KIND_INSTRUCTIONS], 0.002, 1e-15);
    cr_assert_float_eq(b.band[QKPERF_KIND_TIME], 0.03, 1e-15);
    cr_assert_float_eq(b.band[QKPERF_KIND_CYCLES], 0.02, 1e-15);
    cr_assert_eq(qkperf_bands_parse(&b, "other=0", err, sizeof err), 0);
    cr_assert_eq(b.band[QKPERF_KIND_OTHER], 0);
}

Test(bands, parse_bad)
{
    static const struct {
        const char *spec, *names;
    } t[] = {
        {"time=abc", "'time=abc'"},
        {"=0.1", "'=0.1'"},
        {"cycles=-1", "'cycles=-1'"},
        {"cycles=1", "'cycles=1'"},
        {"time=0.03,bogus=0.1", "'bogus=0.1'"},
        {"time=0.03,", "''"},
        {"time", "'time'"},
        {"time=0.1x", "'time=0.1x'"},
        {"time=nan", "'time=nan'"},
        {"", "''"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        qkperf_bands b, before;
        char err[200] = "";
        qkperf_bands_default(&b);
        before = b;
        cr_assert_eq(qkperf_bands_parse(&b, t[i].spec, err, sizeof err), -EINVAL, "accepted '%s'",
                     t[i].spec);
        cr_assert(strstr(err, t[i].names), "error '%s' does not name %s", err, t[i].names);
        cr_assert_eq(strchr(err, '\n'), NULL);
        cr_assert_arr_eq(&b, &before, sizeof b, "bands changed on error");
    }
}

/* ---- the ladder's one-line summary per step (attrib.c) ----------------- */

#include "attrib.h"

static void add(qkperf_deltas *ds, const char *phase, const char *source, double ratio,
                qkperf_verdict v)
{
    qkperf_delta d = {0};
    snprintf(d.phase, sizeof d.phase, "%s", phase);
    snprintf(d.source, sizeof d.source, "%s", source);
    snprintf(d.view, sizeof d.view, "%s", qkperf_default_view(phase));
    strcpy(d.metric, "time");
    strcpy(d.from, "a");
    strcpy(d.to, "b");
    d.change.ratio_defined = true;
    d.change.ratio = ratio;
    d.change.ci_lo = ratio * 0.95;
    d.change.ci_hi = ratio * 1.05;
    d.verdict = v;
    ds->d[ds->n++] = d;
}

Test(attrib, summary_names_the_biggest_real_change_and_each_other_phase_once)
{
    qkperf_delta slots[8];
    qkperf_deltas ds = {slots, 0, 8};
    add(&ds, "unpack", "tsc", 1.01, QKPERF_NO_CHANGE);
    add(&ds, "lut", "tsc", 0.29, QKPERF_IMPROVED);
    add(&ds, "unpack", "sw", 0.99, QKPERF_NO_CHANGE); /* same phase, other source */
    add(&ds, "scale", "tsc", 1.30, QKPERF_NO_CHANGE); /* bigger, but noise */
    add(&ds, "total", "tsc", 0.10, QKPERF_IMPROVED);  /* never the named phase */
    char line[256];
    qkperf_attrib_summary(&ds, "a", "b", "time", line, sizeof line);
    cr_assert_str_eq(line, "a -> b: lut -71% [-72, -70] time (improved); unpack, scale unchanged");
}

Test(attrib, summary_says_when_nothing_moved_beyond_noise)
{
    qkperf_delta slots[4];
    qkperf_deltas ds = {slots, 0, 4};
    add(&ds, "memory", "tsc", 1.66, QKPERF_NO_CHANGE);
    add(&ds, "unpack", "tsc", 0.80, QKPERF_NO_CHANGE);
    char line[256];
    qkperf_attrib_summary(&ds, "a", "b", "time", line, sizeof line);
    cr_assert_str_eq(line, "a -> b: no phase changed beyond noise in time "
                           "(largest move: memory +66% [+58, +74])");
    qkperf_attrib_summary(&ds, "a", "b", "cycles", line, sizeof line);
    cr_assert_str_eq(line, "a -> b: no cycles figures on both sides");
}
