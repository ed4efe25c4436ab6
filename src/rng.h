/*
 * rng.h — the seeded generator behind every workspace and test input
 * (splitmix64: tiny, fast, and the same stream on every platform).
 */
#ifndef QK_RNG_H
#define QK_RNG_H

#include <stdint.h>

typedef struct qk_rng {
    uint64_t s;
} qk_rng;

static inline uint64_t qk_rng_next(qk_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform float in [lo, hi). */
static inline float qk_rng_float(qk_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)(qk_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform float in [-1, 1) that is never zero. */
static inline float qk_rng_nonzero(qk_rng *r)
{
    float v;
    do
        v = qk_rng_float(r, -1.0f, 1.0f);
    while (v == 0.0f);
    return v;
}

static inline void qk_rng_bytes(qk_rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b;
        do
            b = (uint8_t)qk_rng_next(r);
        while (b == 0);
        p[i] = b;
    }
}

#endif
