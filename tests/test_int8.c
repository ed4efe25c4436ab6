/*
 * test_int8.c — gemv with int8 activations (qk256_gemv_i8): every runnable
 * variant against the quantization formula of qk256.h evaluated exactly
 * (in double, from the same integers), the quantization error against the
 * float gemv within the documented bound, the tables it refuses, and its
 * arguments, errors and dispatch.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qk256.h"
#include "rng.h"
#include "tester.h"

static const float ternary[4] = {-1.0f, 0.0f, 1.0f, 0.0f};
static const float wide[4] = {-64.0f, 64.0f, 0.0f, 17.0f};
static const float default_lut[4] = {-2.0f, -1.0f, 1.0f, 2.0f};

typedef struct problem {
    size_t rows, cols, nb, stride;
    uint8_t *packed;
    float *scales, *x, *y;
    const float *lut;
} problem;

static problem make(size_t rows, size_t cols, uint64_t seed, const float *lut)
{
    problem p = {.rows = rows, .cols = cols, .lut = lut ? lut : default_lut};
    p.nb = (cols + 255) / 256;
    p.stride = qk256_row_bytes(cols);
    p.packed = malloc(rows * p.stride);
    p.scales = malloc(rows * p.nb * sizeof(float));
    p.x = malloc(cols * sizeof(float));
    p.y = malloc(rows * sizeof(float));
    cr_assert(p.packed && p.scales && p.x && p.y);
    qk_rng rng = {seed};
    qk_rng_bytes(&rng, p.packed, rows * p.stride);
    for (size_t i = 0; i < rows * p.nb; i++)
        p.scales[i] = qk_rng_float(&rng, 0.25f, 2.0f);
    for (size_t j = 0; j < cols; j++)
        p.x[j] = qk_rng_float(&rng, -3.0f, 3.0f);
    return p;
}

static void drop(problem *p)
{
    free(p->packed);
    free(p->scales);
    free(p->x);
    free(p->y);
}

static unsigned code(const problem *p, size_t r, size_t j)
{
    return (p->packed[r * p->stride + j / 4] >> (2 * (j % 4))) & 3u;
}

static double weight(const problem *p, size_t r, size_t j)
{
    return (double)p->lut[code(p, r, j)] * p->scales[r * p->nb + j / 256];
}

/* The quantization of qk256.h, in the same float operations. */
static float quantize(const problem *p, int *q)
{
    float amax = 0.0f;
    for (size_t j = 0; j < p->cols; j++)
        amax = fmaxf(amax, fabsf(p->x[j]));
    float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (size_t j = 0; j < p->cols; j++)
        q[j] = (int)rintf(p->x[j] * inv);
    return amax / 127.0f;
}

#define EACH_I8(v) \
    for (const char *const *v##_p = qkt_runnable("gemv-i8"), *v; (v = *v##_p); v##_p++)

static void expect_exact(const char *v, size_t rows, size_t cols, uint64_t seed, const float *lut)
{
    problem p = make(rows, cols, seed, lut);
    int *q = malloc(cols * sizeof *q);
    float sx = quantize(&p, q);
    cr_assert_eq(qk256_gemv_i8_variant(v, p.y, p.packed, p.stride, p.scales, p.x, rows, cols, lut),
                 QK256_OK);
    for (size_t r = 0; r < rows; r++) {
        double want = 0.0;
        for (size_t j = 0; j < cols; j++)
            want += weight(&p, r, j) * q[j] * (double)sx;
        double err = fabs(p.y[r] - want) / fmax(1.0, fabs(want));
        cr_expect(err <= 1e-4, "%s %zux%zu row %zu: %g, exact from quantized x %g (rel %g)", v,
                  rows, cols, r, p.y[r], want, err);
    }
    free(q);
    drop(&p);
}

Test(int8, every_variant_matches_the_formula_exactly)
{
    static const size_t shapes[][2] = {{1, 1},     {3, 255},   {5, 256},  {9, 300},
                                       {17, 1000}, {33, 2560}, {4, 6912}, {3, 8449}};
    const float *luts[] = {NULL, ternary, wide};
    /* 8449 columns: q on the heap, past the API's stack buffer */
    EACH_I8(v)
    for (size_t s = 0; s < 8; s++)
        for (size_t l = 0; l < 3; l++)
            expect_exact(v, shapes[s][0], shapes[s][1], 100 + s, luts[l]);
}

/* |y_i8 - y| <= (sx / 2) * sum_j |w_j|, plus float rounding of both sides. */
Test(int8, quantization_error_within_the_documented_bound)
{
    const float *luts[] = {NULL, ternary, wide};
    EACH_I8(v) for (size_t l = 0; l < 3; l++) for (uint64_t seed = 1; seed <= 20; seed++)
    {
        problem p = make(12, 1 + seed * 97, seed, luts[l]);
        int *q = malloc(p.cols * sizeof *q);
        float sx = quantize(&p, q), *yf = malloc(p.rows * sizeof *yf);
        cr_assert_eq(qk256_gemv_i8_variant(v, p.y, p.packed, p.stride, p.scales, p.x, p.rows,
                                           p.cols, luts[l]),
                     QK256_OK);
        cr_assert_eq(qk256_gemv_variant("scalar", yf, p.packed, p.stride, p.scales, p.x, p.rows,
                                        p.cols, luts[l]),
                     QK256_OK);
        double worst = 0.0;
        for (size_t r = 0; r < p.rows; r++) {
            double wsum = 0.0;
            for (size_t j = 0; j < p.cols; j++)
                wsum += fabs(weight(&p, r, j));
            double bound = 0.5 * sx * wsum * (1.0 + 1e-5) + 1e-4 * fmax(1.0, fabs((double)yf[r]));
            double err = fabs((double)p.y[r] - yf[r]);
            worst = fmax(worst, err / bound);
            cr_expect(err <= bound, "%s cols %zu row %zu: |%g - %g| = %g > bound %g", v, p.cols, r,
                      p.y[r], yf[r], err, bound);
        }
        /* the bound is not vacuous: random rounding errors use a fair part of it */
        cr_expect(worst > 1e-3, "%s: largest error only %g of the bound", v, worst);
        free(q);
        free(yf);
        drop(&p);
    }
}

Test(int8, non_integer_tables_are_unsupported)
{
    static const float bad[][4] = {{-1.5f, -1, 1, 2},
                                   {-65, 0, 1, 2},
                                   {0, 0, 0, 64.5f},
                                   {-2, -1, 1, NAN},
                                   {-2, -1, 1, INFINITY}};
    problem p = make(2, 300, 7, NULL);
    for (size_t i = 0; i < 5; i++) {
        EACH_I8(v)
        cr_expect_eq(qk256_gemv_i8_variant(v, p.y, p.packed, p.stride, NULL, p.x, 2, 300, bad[i]),
                     QK256_E_UNSUPPORTED, "%s accepted table %zu", v, i);
        cr_expect_eq(qk256_gemv_i8(p.y, p.packed, p.stride, NULL, p.x, 2, 300, bad[i]),
                     QK256_E_UNSUPPORTED);
    }
    static const float edge[4] = {-64, 64, 0, -0.0f};
    cr_expect_eq(qk256_gemv_i8(p.y, p.packed, p.stride, NULL, p.x, 2, 300, edge), QK256_OK);
    drop(&p);
}

Test(int8, arguments_and_errors)
{
    problem p = make(4, 512, 9, NULL);
    cr_expect_eq(qk256_gemv_i8(NULL, p.packed, p.stride, NULL, p.x, 4, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv_i8(p.y, NULL, p.stride, NULL, p.x, 4, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv_i8(p.y, p.packed, p.stride, NULL, NULL, 4, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv_i8(p.y, p.packed, p.stride - 1, NULL, p.x, 4, 512, NULL),
                 QK256_E_INVAL);
    cr_expect_eq(qk256_gemv_i8(p.y, p.packed, SIZE_MAX / 2, NULL, p.x, 4, 512, NULL),
                 QK256_E_INVAL);
    p.y[0] = 42.0f;
    cr_expect_eq(qk256_gemv_i8(NULL, NULL, 0, NULL, NULL, 0, 512, NULL), QK256_OK);
    cr_expect_eq(qk256_gemv_i8(p.y, p.packed, p.stride, NULL, p.x, 4, 0, NULL), QK256_OK);
    cr_expect_eq(p.y[0], 42.0f);
    cr_expect_eq(qk256_gemv_i8_variant("avx3", p.y, p.packed, p.stride, NULL, p.x, 4, 512, NULL),
                 QK256_E_UNKNOWN);
    cr_expect_eq(qk256_gemv_i8_variant(NULL, p.y, p.packed, p.stride, NULL, p.x, 4, 512, NULL),
                 QK256_E_UNKNOWN);
    cr_expect_eq(qk256_variant_supported("gemv-i8", "avx3"), QK256_E_UNKNOWN);
    cr_expect_str_neq(qk256_strerror(QK256_E_NOMEM), qk256_strerror(QK256_E_INVAL));
    drop(&p);
}

Test(int8, zero_x_gives_zero)
{
    problem p = make(6, 700, 3, NULL);
    memset(p.x, 0, p.cols * sizeof(float));
    EACH_I8(v)
    {
        memset(p.y, 0xff, p.rows * sizeof(float));
        cr_assert_eq(qk256_gemv_i8_variant(v, p.y, p.packed, p.stride, p.scales, p.x, 6, 700, NULL),
                     QK256_OK);
        for (size_t r = 0; r < 6; r++)
            cr_expect(p.y[r] == 0.0f, "%s row %zu: %g", v, r, p.y[r]);
    }
    drop(&p);
}

Test(int8, plain_function_runs_the_default_variant)
{
    problem p = make(21, 1500, 5, NULL);
    float *want = malloc(p.rows * sizeof *want);
    const char *best = qk256_default_variant("gemv-i8");
    cr_assert_not_null(best);
    const char *const *runnable = qkt_runnable("gemv-i8");
    size_t n = 0;
    while (runnable[n])
        n++;
    cr_expect_str_eq(best, runnable[n - 1]);
    cr_assert_eq(
        qk256_gemv_i8_variant(best, want, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL),
        QK256_OK);
    cr_assert_eq(qk256_gemv_i8(p.y, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, NULL),
                 QK256_OK);
    cr_expect_arr_eq(p.y, want, p.rows * sizeof(float));
    free(want);
    drop(&p);
}

/* Without VNNI (as under valgrind, or QK256_DISABLE), the AVX2 variant runs. */
Test(int8, dispatch_falls_back_without_vnni)
{
    setenv("QK256_DISABLE", "avx512vnni", 1);
    cr_expect_eq(qk256_variant_supported("gemv-i8", "avx512-vnni"), 0);
    if (qk256_variant_supported("gemv-i8", "avx2-maddubs") == 1)
        cr_expect_str_eq(qk256_default_variant("gemv-i8"), "avx2-maddubs");
    problem p = make(2, 256, 1, NULL);
    cr_expect_eq(
        qk256_gemv_i8_variant("avx512-vnni", p.y, p.packed, p.stride, NULL, p.x, 2, 256, NULL),
        QK256_E_UNSUPPORTED);
    cr_expect_eq(qk256_gemv_i8(p.y, p.packed, p.stride, NULL, p.x, 2, 256, NULL), QK256_OK);
    drop(&p);
}
