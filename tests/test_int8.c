/*
 * test_int8.c — gemv with int8 activations (qk256_gemv_i8): every runnable
 * variant against the accuracy contract of qk256.h (the formula evaluated
 * exactly, in long double from the same integers; the error within 1e-5 of
 * the row's absolute block sum), a row of heavy cancellation, the quantization error against the
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

/* d_b of row r: the exact integer dot of block b with q. */
static long long block_dot(const problem *p, size_t r, size_t b, const int *q)
{
    long long d = 0;
    for (size_t j = b * 256; j < p->cols && j < (b + 1) * 256; j++)
        d += (long long)p->lut[code(p, r, j)] * q[j];
    return d;
}

/* The contract of qk256.h: y_exact = sx * sum_b s_b d_b, exactly (long
 * double holds each product of a float and a 22-bit integer exactly and
 * sums them with 64-bit mantissas), and the bound 1e-5 * sx * sum_b
 * |s_b d_b|. */
typedef struct contract {
    long double exact, bound;
} contract;

static contract row_contract(const problem *p, size_t r, const int *q, float sx)
{
    long double sum = 0, abs = 0;
    for (size_t b = 0; b < p->nb; b++) {
        long double t = (long double)p->scales[r * p->nb + b] * (long double)block_dot(p, r, b, q);
        sum += t;
        abs += fabsl(t);
    }
    return (contract){sum * sx, 1e-5L * abs * sx};
}

/* The largest |y - y_exact| / bound over the rows (0 for rows whose bound
 * is 0 and whose y is exactly 0; inf where such a row is not). */
static double expect_contract(const char *v, const problem *p, const int *q, float sx)
{
    double worst = 0.0;
    for (size_t r = 0; r < p->rows; r++) {
        contract c = row_contract(p, r, q, sx);
        long double err = fabsl((long double)p->y[r] - c.exact);
        double ratio = c.bound > 0 ? (double)(err / c.bound) : (err > 0 ? INFINITY : 0.0);
        worst = fmax(worst, ratio);
        cr_expect(err <= c.bound,
                  "%s %zux%zu row %zu: %.9g, exact from quantized x %.9Lg: error %.3Lg > bound "
                  "%.3Lg",
                  v, p->rows, p->cols, r, p->y[r], c.exact, err, c.bound);
    }
    return worst;
}

static void expect_exact(const char *v, size_t rows, size_t cols, uint64_t seed, const float *lut)
{
    problem p = make(rows, cols, seed, lut);
    int *q = malloc(cols * sizeof *q);
    float sx = quantize(&p, q);
    cr_assert_eq(qk256_gemv_i8_variant(v, p.y, p.packed, p.stride, p.scales, p.x, rows, cols, lut),
                 QK256_OK);
    expect_contract(v, &p, q, sx);
    free(q);
    drop(&p);
}

Test(int8, every_variant_within_the_accuracy_contract)
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
            /* plus the accuracy contract's bound and the float gemv's rounding */
            double bound = 0.5 * sx * wsum * (1.0 + 1e-5) +
                           (double)row_contract(&p, r, q, sx).bound +
                           1e-4 * fmax(1.0, fabs((double)yf[r]));
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

/*
 * A row of heavy cancellation, in the wide table {-64, 64, 0, 17} with x
 * all 1 (q = 127): block 2i is all +64 and block 2i+1 all -64, so each d_b
 * is +-64 * 127 * 256, with scales a_i and a_i (1 + e_i), e_i ~ 1e-3: the
 * pairs nearly cancel and y is about 1e-4 of the absolute block sum. Row 1
 * holds the same blocks with every positive one first, so a left-to-right
 * sum climbs to half the absolute sum before it falls back.
 *
 * The contract bounds the error there by 1e-5 * sx * sum_b |s_b d_b|,
 * about a tenth of |y|: a result of 0 or of the wrong sign fails it (the
 * bound is not vacuous). A float accumulation of the block terms in that
 * order stays inside it, but breaks the previous contract (1e-4 of
 * max(1, |y|)) on row 1; on row 1 an accumulation with a 16-bit mantissa
 * (fp16's precision and a little more) breaks this one: the bound tells the
 * two apart.
 */
enum { CANCEL_NB = 64 };

static problem cancel_problem(void)
{
    problem p = make(2, CANCEL_NB * 256, 7, wide);
    qk_rng rng = {99};
    for (size_t j = 0; j < p.cols; j++)
        p.x[j] = 1.0f;
    for (size_t r = 0; r < 2; r++)
        for (size_t b = 0; b < CANCEL_NB; b++) {
            /* row 0: +, -, +, -...; row 1: 32 positive blocks, then 32 negative */
            int pos = r == 0 ? b % 2 == 0 : b < CANCEL_NB / 2;
            size_t pair = r == 0 ? b / 2 : b % (CANCEL_NB / 2);
            /* code 1 (+64) is 0x55 per byte, code 0 (-64) is 0x00 */
            memset(p.packed + r * p.stride + b * 64, pos ? 0x55 : 0x00, 64);
            (void)pair;
        }
    float a[CANCEL_NB / 2], e[CANCEL_NB / 2];
    for (size_t i = 0; i < CANCEL_NB / 2; i++) {
        a[i] = qk_rng_float(&rng, 0.25f, 2.0f);
        e[i] = qk_rng_float(&rng, -2e-3f, 2e-3f);
    }
    for (size_t r = 0; r < 2; r++)
        for (size_t b = 0; b < CANCEL_NB; b++) {
            int pos = r == 0 ? b % 2 == 0 : b < CANCEL_NB / 2;
            size_t pair = r == 0 ? b / 2 : b % (CANCEL_NB / 2);
            p.scales[r * p.nb + b] = pos ? a[pair] : a[pair] * (1.0f + e[pair]);
        }
    return p;
}

/* Row r's block terms s_b * d_b summed left to right in float (mant = 24)
 * or rounded to `mant` mantissa bits after every step, times sx. */
static double naive_sum(const problem *p, size_t r, const int *q, float sx, int mant)
{
    float acc = 0.0f;
    for (size_t b = 0; b < p->nb; b++) {
        volatile float t = p->scales[r * p->nb + b] * (float)block_dot(p, r, b, q);
        acc += t;
        if (mant < 24) {
            int ex;
            double m = frexp((double)acc, &ex);
            acc = (float)ldexp(nearbyint(ldexp(m, mant)), ex - mant);
        }
    }
    return (double)acc * sx;
}

Test(int8, heavy_cancellation_stays_inside_the_contract)
{
    problem p = cancel_problem();
    int *q = malloc((p.cols ? p.cols : 1) * sizeof *q);
    float sx = quantize(&p, q);
    for (size_t r = 0; r < 2; r++) {
        contract c = row_contract(&p, r, q, sx);
        long double abs = c.bound / 1e-5L;
        /* heavy cancellation: |y| under 1e-3 of the absolute block sum, and
         * the bound well under |y| */
        cr_assert(fabsl(c.exact) < 1e-3L * abs, "row %zu: y %Lg, absolute sum %Lg", r, c.exact,
                  abs);
        cr_assert(c.bound < 0.5L * fabsl(c.exact), "row %zu: bound %Lg, y %Lg", r, c.bound,
                  c.exact);
        /* float accumulation: inside the new bound, outside the old one
         * (row 1, whose partial sums climb) */
        long double ef = fabsl((long double)naive_sum(&p, r, q, sx, 24) - c.exact);
        cr_expect(ef <= c.bound, "row %zu: float sum off by %Lg > bound %Lg", r, ef, c.bound);
        cr_log_info("cancellation row %zu: y %.6Lg, bound %.3Lg, float sum off by %.3Lg", r,
                    c.exact, c.bound, ef);
        if (r == 1)
            cr_expect(ef > 1e-4L * fmaxl(1.0L, fabsl(c.exact)),
                      "row 1: float sum off by only %Lg, inside the old 1e-4 contract", ef);
        long double e16 = fabsl((long double)naive_sum(&p, r, q, sx, 16) - c.exact);
        if (r == 1)
            cr_expect(e16 > c.bound, "row %zu: a 16-bit-mantissa sum off by only %Lg <= bound %Lg",
                      r, e16, c.bound);
    }
    EACH_I8(v)
    {
        cr_assert_eq(
            qk256_gemv_i8_variant(v, p.y, p.packed, p.stride, p.scales, p.x, p.rows, p.cols, wide),
            QK256_OK);
        expect_contract(v, &p, q, sx);
    }
    free(q);
    drop(&p);
}

/* A row whose every block dot is 0 (codes whose weights cancel inside each
 * block) gives exactly 0 in every variant, whatever its scales. */
Test(int8, zero_block_dots_give_exactly_zero)
{
    problem p = make(3, 2560, 5, ternary);
    for (size_t j = 0; j < p.cols; j++)
        p.x[j] = 1.0f;
    /* ternary {-1, 0, 1, 0}: byte 0x26 holds codes 2, 1, 2, 0 = +1, 0, +1, -1
     * and byte 0x54 codes 0, 1, 1, 1 = -1, 0, 0, 0: the two sum to 0 */
    for (size_t i = 0; i < p.rows * p.stride; i++)
        p.packed[i] = i % 2 ? 0x54 : 0x26;
    int *q = malloc((p.cols ? p.cols : 1) * sizeof *q);
    float sx = quantize(&p, q);
    for (size_t b = 0; b < p.nb; b++)
        cr_assert_eq(block_dot(&p, 0, b, q), 0);
    EACH_I8(v)
    {
        cr_assert_eq(qk256_gemv_i8_variant(v, p.y, p.packed, p.stride, p.scales, p.x, p.rows,
                                           p.cols, ternary),
                     QK256_OK);
        for (size_t r = 0; r < p.rows; r++)
            cr_expect(p.y[r] == 0.0f, "%s row %zu: %g, not 0", v, r, p.y[r]);
    }
    (void)sx;
    free(q);
    drop(&p);
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
    /* the last runnable one, past avx512-vnni-tiles (for repacked weights) */
    if (n > 1 && !strcmp(runnable[n - 1], "avx512-vnni-tiles"))
        n--;
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

/* ---- the decode layout (qk256_repack_i8) ------------------------------- */

/* Repacked once, run on a new x: within the contract against the exact
 * formula; a plain copy (no VNNI) bit for bit what its variant gives on
 * the QK256 input. */
static void expect_repacked(size_t rows, size_t cols, uint64_t seed, const float *lut,
                            int with_scales)
{
    problem p = make(rows, cols, seed, lut);
    qk256_repacked *w = NULL;
    cr_assert_eq(
        qk256_repack_i8(&w, p.packed, p.stride, with_scales ? p.scales : NULL, rows, cols, lut),
        QK256_OK);
    cr_assert(w != NULL);
    cr_expect_geq(qk256_repacked_bytes(w), rows * (p.stride + p.nb * sizeof(float)));
    if (!with_scales)
        for (size_t i = 0; i < rows * p.nb; i++)
            p.scales[i] = 1.0f;
    /* the x it runs on is not the one at hand when repacking */
    qk_rng rng = {seed + 1000};
    for (size_t j = 0; j < cols; j++)
        p.x[j] = qk_rng_float(&rng, -2.0f, 5.0f);
    int *q = malloc((cols ? cols : 1) * sizeof *q);
    float sx = quantize(&p, q), *want = malloc((rows ? rows : 1) * sizeof *want);
    cr_assert_eq(qk256_gemv_i8_variant(qk256_repacked_variant(w), want, p.packed, p.stride,
                                       p.scales, p.x, rows, cols, lut),
                 QK256_OK);
    memset(p.y, 0xff, rows * sizeof *p.y);
    cr_assert_eq(qk256_gemv_i8_repacked(p.y, w, p.x), QK256_OK);
    expect_contract("repacked", &p, q, sx);
    /* the variant that runs the copy gives the same bits on QK256 (the
     * tiles' plain call packs the same tiles per call) */
    for (size_t r = 0; r < rows; r++)
        cr_expect(memcmp(&p.y[r], &want[r], sizeof(float)) == 0,
                  "repacked (%s) %zux%zu row %zu: %.9g, the variant on QK256 %.9g",
                  qk256_repacked_variant(w), rows, cols, r, p.y[r], want[r]);
    qk256_repacked_free(w);
    free(want);
    free(q);
    drop(&p);
}

Test(int8, repacked_weights_within_the_contract)
{
    static const size_t shapes[][2] = {{1, 1},    {15, 255},  {16, 256}, {17, 4100},
                                       {33, 300}, {40, 2560}, {7, 8449}};
    const float *luts[] = {NULL, ternary, wide};
    for (size_t s = 0; s < 7; s++)
        for (size_t l = 0; l < 3; l++)
            expect_repacked(shapes[s][0], shapes[s][1], 300 + s, luts[l], (s + l) % 3 != 0);
}

/* Split over 2 threads (a call big enough to hand off): the same bits. */
Test(int8, repacked_weights_on_two_threads)
{
    problem p = make(1000, 2560, 77, NULL);
    qk256_repacked *w = NULL;
    float *one = malloc(p.rows * sizeof *one);
    cr_assert_eq(qk256_repack_i8(&w, p.packed, p.stride, p.scales, p.rows, p.cols, NULL), QK256_OK);
    cr_assert_eq(qk256_gemv_i8_repacked(one, w, p.x), QK256_OK);
    cr_assert_eq(qk256_set_threads(2), QK256_OK);
    cr_assert_eq(qk256_gemv_i8_repacked(p.y, w, p.x), QK256_OK);
    cr_expect(memcmp(one, p.y, p.rows * sizeof *one) == 0);
    qk256_repacked_free(w);
    free(one);
    drop(&p);
}

Test(int8, repack_arguments_and_errors)
{
    problem p = make(4, 512, 1, NULL);
    qk256_repacked *w = (qk256_repacked *)&p; /* set to NULL on every error */
    cr_expect_eq(qk256_repack_i8(NULL, p.packed, p.stride, NULL, 4, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_repack_i8(&w, NULL, p.stride, NULL, 4, 512, NULL), QK256_E_INVAL);
    cr_expect(w == NULL);
    cr_expect_eq(qk256_repack_i8(&w, p.packed, p.stride - 1, NULL, 4, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_repack_i8(&w, p.packed, p.stride, NULL, 0, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_repack_i8(&w, p.packed, p.stride, NULL, 4, 0, NULL), QK256_E_INVAL);
    const float half[4] = {-1.5f, 0.0f, 1.0f, 2.0f};
    cr_expect_eq(qk256_repack_i8(&w, p.packed, p.stride, NULL, 4, 512, half), QK256_E_UNSUPPORTED);
    cr_expect(w == NULL);
    cr_assert_eq(qk256_repack_i8(&w, p.packed, p.stride, NULL, 4, 512, NULL), QK256_OK);
    cr_expect_eq(qk256_gemv_i8_repacked(NULL, w, p.x), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv_i8_repacked(p.y, NULL, p.x), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv_i8_repacked(p.y, w, NULL), QK256_E_INVAL);
    qk256_repacked_free(w);
    qk256_repacked_free(NULL);
    cr_expect_eq(qk256_repacked_bytes(NULL), 0);
    cr_expect(qk256_repacked_variant(NULL) == NULL);
    drop(&p);
}

/* Without VNNI the copy is plain QK256, run by the default variant; with
 * it, avx512-vnni-tiles' tiles. */
Test(int8, repack_uses_the_tiles_where_the_cpu_runs_them)
{
    problem p = make(40, 1000, 3, NULL);
    qk256_repacked *w = NULL;
    cr_assert_eq(qk256_repack_i8(&w, p.packed, p.stride, p.scales, 40, 1000, NULL), QK256_OK);
    if (qk256_variant_supported("gemv-i8", "avx512-vnni-tiles") == 1) {
        cr_expect_str_eq(qk256_repacked_variant(w), "avx512-vnni-tiles");
        /* two tiles of 32 rows: per block and row a scale and 64 bytes */
        cr_expect_eq(qk256_repacked_bytes(w), 2 * 32 * (p.stride + p.nb * sizeof(float)));
    } else
        cr_expect_str_eq(qk256_repacked_variant(w), qk256_default_variant("gemv-i8"));
    qk256_repacked_free(w);
    drop(&p);
}

/* Which variants run repacked weights: the tiles only, on any CPU (the
 * answer is the variant's layout, not whether this CPU runs it); every
 * other variant of every op runs QK256 as given. */
Test(int8, the_library_says_which_variant_runs_repacked_weights)
{
    cr_expect_eq(qk256_variant_repacks("gemv-i8", "avx512-vnni-tiles"), 1);
    cr_expect_eq(qk256_variant_repacks("gemv-i8", "avx512-vnni"), 0);
    cr_expect_eq(qk256_variant_repacks("gemv", "avx512-vnni-tiles"), QK256_E_UNKNOWN);
    cr_expect_eq(qk256_variant_repacks("gemv-i8", "avx3"), QK256_E_UNKNOWN);
    cr_expect_eq(qk256_variant_repacks(NULL, "scalar"), QK256_E_UNKNOWN);
    cr_expect_eq(qk256_variant_repacks("gemv-i8", NULL), QK256_E_UNKNOWN);
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    size_t repacking = 0;
    for (size_t o = 0; o < 3; o++)
        for (const char *const *v = qk256_variant_names(ops[o]); v && *v; v++) {
            int r = qk256_variant_repacks(ops[o], *v);
            cr_expect(r == 0 || r == 1, "%s/%s: %d", ops[o], *v, r);
            repacking += r == 1;
            /* the plain functions never pick one */
            cr_expect(r == 0 || strcmp(qk256_default_variant(ops[o]), *v) != 0, "%s/%s", ops[o],
                      *v);
        }
    cr_expect_eq(repacking, 1);
    /* the repacked weights' variant is one that says so, or the default */
    problem p = make(20, 1000, 3, NULL);
    qk256_repacked *w = NULL;
    cr_assert_eq(qk256_repack_i8(&w, p.packed, p.stride, p.scales, 20, 1000, NULL), QK256_OK);
    const char *by = qk256_repacked_variant(w);
    cr_expect(qk256_variant_repacks("gemv-i8", by) == 1 ||
                  !strcmp(by, qk256_default_variant("gemv-i8")),
              "%s", by);
    qk256_repacked_free(w);
    drop(&p);
}

Test(int8, repack_falls_back_to_a_plain_copy_without_vnni)
{
    setenv("QK256_DISABLE", "avx512vnni", 1);
    expect_repacked(37, 700, 9, NULL, 1);
    expect_repacked(3, 2560, 10, ternary, 0);
    problem p = make(20, 1000, 3, NULL);
    qk256_repacked *w = NULL;
    cr_assert_eq(qk256_repack_i8(&w, p.packed, p.stride, p.scales, 20, 1000, NULL), QK256_OK);
    cr_expect_str_eq(qk256_repacked_variant(w), qk256_default_variant("gemv-i8"));
    cr_expect_eq(qk256_repacked_bytes(w), 20 * (p.stride + p.nb * sizeof(float)));
    qk256_repacked_free(w);
    drop(&p);
}
