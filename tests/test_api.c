/*
 * test_api.c — the public contract of libqk256 (qk256.h), linked against the
 * installed-style shared library: error codes, NULL defaults, zero sizes,
 * variant lookup and run-time dispatch.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qk256.h"

static uint8_t packed[4 * 128];
static float out[1024], x[512], scales[16];

Test(api, row_bytes)
{
    cr_expect_eq(qk256_row_bytes(0), 0);
    cr_expect_eq(qk256_row_bytes(1), 64);
    cr_expect_eq(qk256_row_bytes(256), 64);
    cr_expect_eq(qk256_row_bytes(257), 128);
    cr_expect_eq(qk256_row_bytes(6912), 27 * 64);
    cr_expect_eq(qk256_row_bytes(SIZE_MAX), (SIZE_MAX / 256 + 1) * 64);
}

Test(api, null_pointers_are_invalid)
{
    cr_expect_eq(qk256_dequantize(NULL, packed, NULL, 256, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_dequantize(out, NULL, NULL, 256, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv(NULL, packed, 128, NULL, x, 2, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv(out, NULL, 128, NULL, x, 2, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv(out, packed, 128, NULL, NULL, 2, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv_variant("scalar", out, packed, 128, NULL, NULL, 2, 512, NULL),
                 QK256_E_INVAL);
}

Test(api, stride_and_overflow_are_invalid)
{
    cr_expect_eq(qk256_gemv(out, packed, 127, NULL, x, 2, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv(out, packed, SIZE_MAX / 2, NULL, x, 4, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_gemv(out, packed, 128, NULL, x, SIZE_MAX / 2, 512, NULL), QK256_E_INVAL);
    cr_expect_eq(qk256_dequantize(out, packed, NULL, SIZE_MAX / 2, NULL), QK256_E_INVAL);
}

Test(api, zero_sizes_are_a_no_op)
{
    out[0] = 42.0f;
    cr_expect_eq(qk256_dequantize(NULL, NULL, NULL, 0, NULL), QK256_OK);
    cr_expect_eq(qk256_gemv(NULL, NULL, 0, NULL, NULL, 0, 512, NULL), QK256_OK);
    cr_expect_eq(qk256_gemv(out, packed, 0, NULL, x, 4, 0, NULL), QK256_OK);
    cr_expect_eq(out[0], 42.0f);
}

Test(api, unknown_variant)
{
    cr_expect_eq(qk256_dequantize_variant("avx3", out, packed, NULL, 256, NULL), QK256_E_UNKNOWN);
    cr_expect_eq(qk256_gemv_variant("", out, packed, 128, NULL, x, 1, 512, NULL), QK256_E_UNKNOWN);
    cr_expect_eq(qk256_gemv_variant(NULL, out, packed, 128, NULL, x, 1, 512, NULL),
                 QK256_E_UNKNOWN);
    cr_expect_null(qk256_variant_names("conv"));
    cr_expect_null(qk256_variant_names(NULL));
    cr_expect_eq(qk256_variant_supported("gemv", "avx3"), QK256_E_UNKNOWN);
}

Test(api, strerror_names_every_code)
{
    int codes[] = {QK256_OK, QK256_E_INVAL, QK256_E_UNKNOWN, QK256_E_UNSUPPORTED, QK256_E_NOMEM};
    for (size_t i = 0; i < 5; i++)
        for (size_t k = i + 1; k < 5; k++)
            cr_expect_str_neq(qk256_strerror(codes[i]), qk256_strerror(codes[k]));
    cr_expect_not_null(strstr(qk256_strerror(QK256_E_UNSUPPORTED), "instruction set"));
    cr_expect_not_null(qk256_strerror(12345));
}

/* With AVX2 masked off (the QK256_DISABLE switch; each Criterion test runs in
 * its own process), AVX2 variants must refuse and dispatch must fall back. */
Test(api, unsupported_isa_and_fallback)
{
    setenv("QK256_DISABLE", "avx2", 1);
    cr_expect_eq(qk256_variant_supported("gemv", "avx2-mvp"), 0);
    cr_expect_eq(qk256_variant_supported("gemv", "scalar"), 1);
    cr_expect_eq(qk256_gemv_variant("avx2-p1", out, packed, 128, NULL, x, 1, 512, NULL),
                 QK256_E_UNSUPPORTED);
    cr_expect_eq(qk256_dequantize_variant("avx2-p1-p4", out, packed, NULL, 256, NULL),
                 QK256_E_UNSUPPORTED);
    cr_expect_str_eq(qk256_default_variant("gemv"), "scalar");
    cr_expect_str_eq(qk256_default_variant("dequantize"), "scalar");
    cr_expect_str_eq(qk256_default_variant("gemv-i8"), "scalar");
    cr_expect_eq(qk256_gemv_variant("avx512-vbmi", out, packed, 128, NULL, x, 1, 512, NULL),
                 QK256_E_UNSUPPORTED);
    cr_expect_eq(qk256_gemv_i8_variant("avx2-maddubs", out, packed, 128, NULL, x, 1, 512, NULL),
                 QK256_E_UNSUPPORTED);
    cr_expect_eq(qk256_gemv(out, packed, 128, NULL, x, 1, 512, NULL), QK256_OK);
    cr_expect_eq(qk256_gemv_i8(out, packed, 128, NULL, x, 1, 512, NULL), QK256_OK);
}

/* Without AVX-512 (as under valgrind, whose CPUID hides it), the plain
 * functions run the last AVX2 rung. */
Test(api, fallback_to_avx2_without_avx512)
{
    setenv("QK256_DISABLE", "avx512", 1);
    if (qk256_variant_supported("gemv", "avx2-p1-p4-p2-p3") != 1)
        cr_skip_test("this CPU has no AVX2");
    cr_expect_str_eq(qk256_default_variant("dequantize"), "avx2-p1-p4-p3");
    cr_expect_str_eq(qk256_default_variant("gemv"), "avx2-p1-p4-p2-p3");
    cr_expect_str_eq(qk256_default_variant("gemv-i8"), "avx2-maddubs");
    cr_expect_eq(qk256_dequantize_variant("avx512-vbmi", out, packed, NULL, 256, NULL),
                 QK256_E_UNSUPPORTED);
}

Test(api, dispatch_runs_fastest_supported)
{
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    for (size_t o = 0; o < 3; o++) {
        const char *const *names = qk256_variant_names(ops[o]);
        const char *best = NULL;
        /* avx512-vnni-tiles runs repacked weights, never a plain call's choice */
        for (size_t i = 0; names[i]; i++)
            if (qk256_variant_supported(ops[o], names[i]) == 1 &&
                strcmp(names[i], "avx512-vnni-tiles"))
                best = names[i];
        cr_expect_str_eq(qk256_default_variant(ops[o]), best);
    }
    cr_expect_null(qk256_default_variant("conv"));
}

Test(api, plain_functions_match_scalar)
{
    for (size_t i = 0; i < sizeof packed; i++)
        packed[i] = (uint8_t)(i * 37 + 11);
    for (size_t j = 0; j < 512; j++)
        x[j] = (float)((int)(j % 7) - 3) * 0.25f;
    for (size_t b = 0; b < 16; b++)
        scales[b] = 0.5f + (float)b;
    float want[1024], got[1024];
    cr_assert_eq(qk256_dequantize_variant("scalar", want, packed, scales, 1024, NULL), QK256_OK);
    cr_assert_eq(qk256_dequantize(got, packed, scales, 1024, NULL), QK256_OK);
    cr_expect_arr_eq(got, want, sizeof want);
    cr_assert_eq(qk256_gemv_variant("scalar", want, packed, 128, scales, x, 4, 512, NULL),
                 QK256_OK);
    cr_assert_eq(qk256_gemv(got, packed, 128, scales, x, 4, 512, NULL), QK256_OK);
    for (int r = 0; r < 4; r++)
        cr_expect_float_eq(got[r], want[r], 1e-4f * (1.0f + __builtin_fabsf(want[r])));
}
