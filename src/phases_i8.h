/*
 * phases_i8.h — blocks shared by the vector gemv-i8 variants
 * (gemv_i8_avx2.c, gemv_i8_avx512.c): the final reduction of a row.
 *
 * A row's block sums are exact integers; each is multiplied by its float
 * block scale and accumulated in double, where the product is exact (24 +
 * 22 bits) and the sum all but exact: more than the accuracy contract of
 * qk256.h (1e-5 of the row's absolute block sum) asks, which a float sum
 * of the block terms meets too (avx512-vnni-f32). The row keeps 4 double lanes (what ws->acc
 * holds per row in the staged dot phase, 32 bytes = QK_GV_ACC_LANES floats),
 * reduced here, rounded to float, then multiplied by sx.
 */
#ifndef QK256_PHASES_I8_H
#define QK256_PHASES_I8_H

#include "phases_avx2.h"

QK_INLINE float qk_i8_row_result(__m256d acc, float sx)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return (float)_mm_cvtsd_f64(s) * sx;
}

/* The 4 double lanes of a row as the staged dot phase stores them. */
QK_INLINE void qk_i8_store_acc(float *acc, __m256d v)
{
    _mm256_storeu_pd((double *)(void *)acc, v);
}

QK_INLINE __m256d qk_i8_load_acc(const float *acc)
{
    return _mm256_loadu_pd((const double *)(const void *)acc);
}

#endif
