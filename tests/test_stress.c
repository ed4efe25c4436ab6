/*
 * test_stress.c — 10,000 random shapes, seeds, tables, strides and pointer
 * offsets through every runnable variant of every op against its scalar
 * (gemv cases alternate between float and int8 activations; the int8 ones
 * draw from integer tables, the only ones gemv-i8 takes).
 */
#include <criterion/criterion.h>

#include "qk256.h"
#include "rng.h"
#include "tester.h"

static const float ternary[4] = {-1.0f, 0.0f, 1.0f, 0.0f};
static const float odd[4] = {-3.5f, 0.125f, 7.0f, -0.0f};
static const float wide[4] = {-64.0f, 64.0f, 0.0f, 17.0f}; /* the widest integer table */

static qkt_case random_case(qk_rng *rng, int gemv, int i8)
{
    qkt_case c = qkt_case_default(1, 0, qk_rng_next(rng));
    c.cols = 1 + qk_rng_next(rng) % (gemv ? 1600 : 5000);
    if (gemv) {
        c.rows = 1 + qk_rng_next(rng) % 21;
        if (qk_rng_next(rng) % 3 == 0)
            c.stride = qk256_row_bytes(c.cols) + qk_rng_next(rng) % 200;
    }
    unsigned pick = qk_rng_next(rng) % 8;
    c.lut = pick == 0 ? ternary : pick == 1 ? (i8 ? wide : odd) : NULL;
    c.no_scales = qk_rng_next(rng) % 5 == 0;
    c.misalign = qk_rng_next(rng) % 64;
    return c;
}

Test(stress, ten_thousand_random_cases, .timeout = 240)
{
    qk_rng rng = {20261123};
    size_t failures = 0;
    for (int i = 0; i < 10000; i++) {
        int gemv = i & 1, i8 = (i & 3) == 3;
        const char *op = i8 ? "gemv-i8" : gemv ? "gemv" : "dequantize";
        qkt_case c = random_case(&rng, gemv, i8);
        const char *const *vs = qkt_runnable(op);
        for (size_t k = 1; vs[k]; k++) {
            qkt_result r =
                gemv ? qkt_check_gemv_op(op, vs[k], &c) : qkt_check_dequantize(vs[k], &c);
            if (r.rc != QK256_OK || r.mismatches) {
                if (failures++ < 10)
                    cr_log_error("%s %s %zux%zu seed %llu stride %zu off %zu: rc %d, %zu bad, "
                                 "first %zu: %g vs %g",
                                 op, vs[k], c.rows, c.cols, (unsigned long long)c.seed, c.stride,
                                 c.misalign, r.rc, r.mismatches, r.first_bad, r.got, r.want);
            }
        }
    }
    cr_expect_eq(failures, 0, "%zu of the random cases failed", failures);
}
