/*
 * test_derive.c — derived metrics across the passes of a split group
 * (harness/derive.c), on crafted samples: counts exactly proportional to
 * each sample's time at known rates, the two passes' samples of very
 * different durations (a loaded machine), so that pairing sample s of one
 * pass with sample s of the other is wrong by up to 3x while the metric
 * is exact.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "derive.h"

enum { NS = 6 };

/* Pass 0 counts cycles (rate 2 per ns) and fp (0.6); pass 1 counts sched
 * (0.14) and int_ops (2.8). Their sample times differ. */
static const double t0[NS] = {100, 300, 100, 300, 150, 100};
static const double t1[NS] = {300, 100, 250, 100, 100, 300};
static double cycles[NS], fp[NS], sched[NS], int_ops[NS];
static const char *const aliases[] = {"cycles", "fp", "sched", "int_ops"};
static const size_t pass_of[] = {0, 0, 1, 1};

static void fill(qkperf_derive_in *in, const double **value, const double **time)
{
    for (int s = 0; s < NS; s++) {
        cycles[s] = 2.0 * t0[s];
        fp[s] = 0.6 * t0[s];
        sched[s] = 0.14 * t1[s];
        int_ops[s] = 2.8 * t1[s];
    }
    value[0] = cycles, value[1] = fp, value[2] = sched, value[3] = int_ops;
    time[0] = t0, time[1] = t1;
    *in = (qkperf_derive_in){4, NS, pass_of, value, time};
}

static qkperf_formula *compile(const char *text)
{
    char msg[256];
    qkperf_formula *f = qkperf_formula_compile(text, aliases, 4, "test", msg, sizeof msg);
    cr_assert_not_null(f, "%s", msg);
    return f;
}

static void check(const char *text, double want, int want_cross, size_t want_ref)
{
    qkperf_derive_in in;
    const double *value[4], *time[2];
    double out[NS];
    int cross = -1;
    fill(&in, value, time);
    qkperf_formula *f = compile(text);
    size_t ref = qkperf_derive(f, &in, out, &cross);
    qkperf_formula_free(f);
    cr_expect_eq(cross, want_cross, "%s: cross %d", text, cross);
    cr_expect_eq(ref, want_ref, "%s: reference pass %zu", text, ref);
    for (int s = 0; s < NS; s++)
        cr_expect(fabs(out[s] / want - 1) < 1e-12, "%s: sample %d is %.17g, want %g", text, s,
                  out[s], want);
}

Test(derive, one_pass_pairs_samples)
{
    check("fp / cycles", 0.3, 0, 0);
    check("sched / int_ops", 0.05, 0, 1);
}

/* The case of Zen 4's PORTS: a scheduler count of pass 2 over the cycles
 * of pass 1. Sample by sample that would be 0.07 x t1/t0: 0.023 to 0.21. */
Test(derive, passes_combine_on_one_time_base)
{
    check("sched / cycles", 0.07, 1, 0);
    check("fp / (fp + int_ops)", 0.6 / 3.4, 1, 0);
    for (int s = 0; s < NS; s++) /* what pairing by sample index gives */
        if (t0[s] != t1[s])
            cr_expect(fabs((0.14 * t1[s]) / (2.0 * t0[s]) / 0.07 - 1) > 0.3);
}

/* time is the reference pass's: counts per second come out right. */
Test(derive, time_is_the_reference_pass_time)
{
    check("cycles / time * 1e-9", 2.0, 0, 0);
    check("sched / time * 1e-9", 0.14, 0, 1);
    check("(cycles + sched) / time * 1e-9", 2.14, 1, 0);
}

Test(derive, uses_finds_the_operands)
{
    int uses[4], uses_time;
    qkperf_formula *f = compile("1 - (fp + 5 * sched) / cycles");
    qkperf_derive_uses(f, 4, uses, &uses_time);
    qkperf_formula_free(f);
    cr_expect(uses[0] && uses[1] && uses[2] && !uses[3] && !uses_time);
    f = compile("int_ops * 0 + time");
    qkperf_derive_uses(f, 4, uses, &uses_time);
    qkperf_formula_free(f);
    cr_expect(!uses[0] && !uses[1] && !uses[2] && uses[3] && uses_time,
              "0 x NaN is NaN: a zero factor still reads its operand");
}
