/*
 * q8_0.c — a qkperf plugin: ggml-style Q8_0 rows dotted with a Q8_0
 * vector (out[r] = sum over blocks of d_w * d_x * sum(w_i * x_i)), a
 * scalar reference and three steps up a ladder, each variant made of
 * three phases, each phase a named static inline function:
 *
 *   load   the block's 32 int8 weights and activations into registers,
 *          ready for the multiply (AVX2: |x| and w * sign(x), so that
 *          maddubs' unsigned-by-signed product is w * x)
 *   dot    the 32 products summed into 8 int32 lanes
 *   scale  the lanes to float, times d_w * d_x (fp16 scales), into the
 *          row's sum
 *
 * Each variant has a fused kernel (the three phases inlined, one pass
 * over the data: what a program would run) and staged runners, one per
 * phase, over intermediates the workspace holds (load writes what dot
 * reads, dot what scale reads), so qkperf can time a phase alone. The
 * in-context view splits the fused kernel by the phase functions' inline
 * frames: build with -g. The ISA of each variant is a function attribute
 * (target("avx2")...), not a compiler flag, so one file holds every step
 * and q8_0_gemv picks the best the CPU has at run time.
 *
 * Built against <qkperf/kernel.h> alone (pkg-config --cflags qkperf):
 * nothing here calls qkperf, the file links against nothing of it.
 * Q8_0_TEST_WRONG adds a variant that forgets a block's sign fix-up: the
 * qkperf test suite builds it to see the checker refuse it.
 */
#include <qkperf/kernel.h>

#include <errno.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define QK8_0 32

/* A block as ggml stores it: an fp16 scale and 32 int8 quants (34 bytes). */
typedef struct block_q8_0 {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;

typedef struct q8_ws {
    size_t rows, cols, nb;
    block_q8_0 *w; /* rows * nb blocks */
    block_q8_0 *x; /* nb blocks */
    float *out;    /* rows */
    /* staged intermediates, per (row, block): load's 64 bytes (scalar:
     * 2 x 32 int16, 128 bytes), dot's 8 int32 lanes */
    int8_t *ld;
    int32_t *part;
} q8_ws;

static const char *const phase_names[] = {"load", "dot", "scale", NULL};

/* ---- the workspace -------------------------------------------------------- */

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* An fp16 scale in [2^-4, 2): exponent 11..15, any mantissa, positive. */
static uint16_t random_half(uint64_t *s)
{
    uint64_t r = next(s);
    return (uint16_t)((11 + r % 5) << 10 | (r >> 8) % 1024);
}

static float half_to_float(uint16_t h) /* normal and zero halves (all this file makes) */
{
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, bits = (uint32_t)(h & 0x8000) << 16;
    if (e)
        bits |= (e + 112) << 23 | m << 13;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void fill(block_q8_0 *b, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        b[i].d = random_half(s);
        for (int k = 0; k < QK8_0; k++) /* [-127, 127], as ggml quantizes */
            b[i].qs[k] = (int8_t)((int)(next(s) % 255) - 127);
    }
}

static void q8_destroy(void *p)
{
    q8_ws *w = p;
    if (!w)
        return;
    free(w->w);
    free(w->x);
    free(w->out);
    free(w->ld);
    free(w->part);
    free(w);
}

static void *q8_create(const size_t *dim, uint64_t seed)
{
    if (dim[1] % QK8_0) {
        errno = EINVAL; /* COLS must be a whole number of blocks */
        return NULL;
    }
    q8_ws *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->rows = dim[0];
    w->cols = dim[1];
    w->nb = dim[1] / QK8_0;
    size_t nrb = w->rows * w->nb;
    w->w = malloc(nrb * sizeof *w->w);
    w->x = malloc(w->nb * sizeof *w->x);
    w->out = calloc(w->rows, sizeof *w->out);
    w->ld = aligned_alloc(64, nrb * 128);
    w->part = aligned_alloc(64, nrb * 8 * sizeof *w->part);
    if (!w->w || !w->x || !w->out || !w->ld || !w->part) {
        q8_destroy(w);
        errno = ENOMEM;
        return NULL;
    }
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    fill(w->x, w->nb, &s);
    fill(w->w, nrb, &s);
    return w;
}

static double q8_elements(const size_t *dim)
{
    return (double)dim[0] * (double)dim[1];
}

static double q8_bytes(const size_t *dim)
{
    double nb = (double)(dim[1] / QK8_0);
    return ((double)dim[0] + 1) * nb * sizeof(block_q8_0) + (double)dim[0] * sizeof(float);
}

static const float *q8_output(const void *p, size_t *n)
{
    const q8_ws *w = p;
    *n = w->rows;
    return w->out;
}

static double q8_compare(const void *a, const void *b)
{
    const q8_ws *wa = a, *wb = b;
    double worst = 0;
    for (size_t r = 0; r < wa->rows; r++) {
        double d = (double)wa->out[r] - (double)wb->out[r], m = (double)wb->out[r];
        d = (d < 0 ? -d : d) / (m < -1 || m > 1 ? (m < 0 ? -m : m) : 1);
        worst = d > worst || d != d ? d : worst;
    }
    return worst;
}

/* ---- scalar: the reference ------------------------------------------------ */

static inline void q8_load_scalar(const block_q8_0 *w, const block_q8_0 *x, int16_t *wv,
                                  int16_t *xv)
{
    for (int i = 0; i < QK8_0; i++) {
        wv[i] = (int16_t)w->qs[i];
        xv[i] = (int16_t)x->qs[i];
    }
}

static inline void q8_dot_scalar(const int16_t *wv, const int16_t *xv, int32_t *lane)
{
    for (int j = 0; j < 8; j++) {
        int32_t s = 0;
        for (int i = 4 * j; i < 4 * j + 4; i++)
            s += wv[i] * xv[i];
        lane[j] = s;
    }
}

static inline float q8_scale_scalar(const int32_t *lane, uint16_t dw, uint16_t dx)
{
    int32_t s = 0;
    for (int j = 0; j < 8; j++)
        s += lane[j];
    return (float)s * (half_to_float(dw) * half_to_float(dx));
}

static void scalar_fused(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++) {
        const block_q8_0 *row = w->w + r * w->nb;
        float acc = 0;
        for (size_t b = 0; b < w->nb; b++) {
            int16_t wv[QK8_0], xv[QK8_0];
            int32_t lane[8];
            q8_load_scalar(&row[b], &w->x[b], wv, xv);
            q8_dot_scalar(wv, xv, lane);
            acc += q8_scale_scalar(lane, row[b].d, w->x[b].d);
        }
        w->out[r] = acc;
    }
}

static void scalar_load(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t b = 0; b < w->nb; b++) {
            size_t rb = r * w->nb + b;
            int16_t *v = (int16_t *)(void *)(w->ld + rb * 128);
            QK_MCA_BEGIN("q8_0-dot/scalar/load@32");
            q8_load_scalar(&w->w[rb], &w->x[b], v, v + QK8_0);
            QK_MCA_END("q8_0-dot/scalar/load@32");
        }
}

static void scalar_dot(void *p)
{
    q8_ws *w = p;
    for (size_t rb = 0; rb < w->rows * w->nb; rb++) {
        const int16_t *v = (const int16_t *)(const void *)(w->ld + rb * 128);
        QK_MCA_BEGIN("q8_0-dot/scalar/dot@32");
        q8_dot_scalar(v, v + QK8_0, w->part + rb * 8);
        QK_MCA_END("q8_0-dot/scalar/dot@32");
    }
}

static void scalar_scale(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++) {
        float acc = 0;
        for (size_t b = 0; b < w->nb; b++) {
            size_t rb = r * w->nb + b;
            QK_MCA_BEGIN("q8_0-dot/scalar/scale@32");
            acc += q8_scale_scalar(w->part + rb * 8, w->w[rb].d, w->x[b].d);
            QK_MCA_END("q8_0-dot/scalar/scale@32");
        }
        w->out[r] = acc;
    }
}

/* ---- AVX2 ------------------------------------------------------------------ */

#define AVX2 __attribute__((target("avx2")))
#define AVX2_FMA __attribute__((target("avx2,fma")))
#define AVX512_VNNI __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni")))

/* |x| and w * sign(x): maddubs multiplies unsigned by signed bytes. */
AVX2 static inline void q8_load_avx2(const block_q8_0 *w, const block_q8_0 *x, __m256i *ux,
                                     __m256i *sw)
{
    __m256i vx = _mm256_loadu_si256((const __m256i *)(const void *)x->qs);
    __m256i vw = _mm256_loadu_si256((const __m256i *)(const void *)w->qs);
    *ux = _mm256_sign_epi8(vx, vx);
    *sw = _mm256_sign_epi8(vw, vx);
}

/* Pairs of products to int16 (no saturation: |q| <= 127), then to int32. */
AVX2 static inline __m256i q8_dot_avx2(__m256i ux, __m256i sw)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ux, sw), _mm256_set1_epi16(1));
}

AVX2 static inline int32_t q8_hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Step 1's scale: the block's int sum, then the scalar's float arithmetic. */
AVX2 static inline float q8_scale_avx2(__m256i lanes, uint16_t dw, uint16_t dx)
{
    return (float)q8_hsum_epi32(lanes) * (half_to_float(dw) * half_to_float(dx));
}

AVX2 static void avx2_fused(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++) {
        const block_q8_0 *row = w->w + r * w->nb;
        float acc = 0;
        for (size_t b = 0; b < w->nb; b++) {
            __m256i ux, sw;
            q8_load_avx2(&row[b], &w->x[b], &ux, &sw);
            acc += q8_scale_avx2(q8_dot_avx2(ux, sw), row[b].d, w->x[b].d);
        }
        w->out[r] = acc;
    }
}

/* The load and dot runners of the AVX2 steps, one per variant: each
 * marks its own llvm-mca regions ("<variant's mca>/<phase>@<elements>"). */
#define LOAD_RUNNER(fn, attr, region)                                               \
    attr static void fn(void *p)                                                    \
    {                                                                               \
        q8_ws *w = p;                                                               \
        for (size_t r = 0; r < w->rows; r++)                                        \
            for (size_t b = 0; b < w->nb; b++) {                                    \
                size_t rb = r * w->nb + b;                                          \
                __m256i ux, sw;                                                     \
                QK_MCA_BEGIN(region);                                               \
                q8_load_avx2(&w->w[rb], &w->x[b], &ux, &sw);                        \
                _mm256_store_si256((__m256i *)(void *)(w->ld + rb * 128), ux);      \
                _mm256_store_si256((__m256i *)(void *)(w->ld + rb * 128 + 32), sw); \
                QK_MCA_END(region);                                                 \
            }                                                                       \
    }
#define DOT_RUNNER(fn, attr, dot, region)                                                      \
    attr static void fn(void *p)                                                               \
    {                                                                                          \
        q8_ws *w = p;                                                                          \
        for (size_t rb = 0; rb < w->rows * w->nb; rb++) {                                      \
            QK_MCA_BEGIN(region);                                                              \
            __m256i ux = _mm256_load_si256((const __m256i *)(const void *)(w->ld + rb * 128)); \
            __m256i sw =                                                                       \
                _mm256_load_si256((const __m256i *)(const void *)(w->ld + rb * 128 + 32));     \
            _mm256_store_si256((__m256i *)(void *)(w->part + rb * 8), dot(ux, sw));            \
            QK_MCA_END(region);                                                                \
        }                                                                                      \
    }

LOAD_RUNNER(avx2_load, AVX2, "q8_0-dot/avx2/load@32")
DOT_RUNNER(avx2_dot, AVX2, q8_dot_avx2, "q8_0-dot/avx2/dot@32")

AVX2 static void avx2_scale(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++) {
        float acc = 0;
        for (size_t b = 0; b < w->nb; b++) {
            size_t rb = r * w->nb + b;
            QK_MCA_BEGIN("q8_0-dot/avx2/scale@32");
            __m256i lanes = _mm256_load_si256((const __m256i *)(const void *)(w->part + rb * 8));
            acc += q8_scale_avx2(lanes, w->w[rb].d, w->x[b].d);
            QK_MCA_END("q8_0-dot/avx2/scale@32");
        }
        w->out[r] = acc;
    }
}

/* ---- AVX2 + FMA: the sum stays in 8 float lanes -------------------------- */

AVX2_FMA static inline __m256 q8_scale_fma(__m256i lanes, uint16_t dw, uint16_t dx, __m256 acc)
{
    __m256 d = _mm256_set1_ps(half_to_float(dw) * half_to_float(dx));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), d, acc);
}

AVX2_FMA static inline float q8_hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_FMA static void fma_fused(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++) {
        const block_q8_0 *row = w->w + r * w->nb;
        __m256 acc = _mm256_setzero_ps();
        for (size_t b = 0; b < w->nb; b++) {
            __m256i ux, sw;
            q8_load_avx2(&row[b], &w->x[b], &ux, &sw);
            acc = q8_scale_fma(q8_dot_avx2(ux, sw), row[b].d, w->x[b].d, acc);
        }
        w->out[r] = q8_hsum_ps(acc);
    }
}

#define FMA_SCALE_RUNNER(fn, attr, region)                                                \
    attr static void fn(void *p)                                                          \
    {                                                                                     \
        q8_ws *w = p;                                                                     \
        for (size_t r = 0; r < w->rows; r++) {                                            \
            __m256 acc = _mm256_setzero_ps();                                             \
            for (size_t b = 0; b < w->nb; b++) {                                          \
                size_t rb = r * w->nb + b;                                                \
                QK_MCA_BEGIN(region);                                                     \
                __m256i lanes =                                                           \
                    _mm256_load_si256((const __m256i *)(const void *)(w->part + rb * 8)); \
                acc = q8_scale_fma(lanes, w->w[rb].d, w->x[b].d, acc);                    \
                QK_MCA_END(region);                                                       \
            }                                                                             \
            w->out[r] = q8_hsum_ps(acc);                                                  \
        }                                                                                 \
    }

LOAD_RUNNER(fma_load, AVX2_FMA, "q8_0-dot/avx2-fma/load@32")
DOT_RUNNER(fma_dot, AVX2_FMA, q8_dot_avx2, "q8_0-dot/avx2-fma/dot@32")
FMA_SCALE_RUNNER(fma_scale, AVX2_FMA, "q8_0-dot/avx2-fma/scale@32")

/* ---- AVX-512 VNNI: the dot in one instruction ----------------------------- */

AVX512_VNNI static inline __m256i q8_dot_vnni(__m256i ux, __m256i sw)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ux, sw);
}

AVX512_VNNI static void vnni_fused(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++) {
        const block_q8_0 *row = w->w + r * w->nb;
        __m256 acc = _mm256_setzero_ps();
        for (size_t b = 0; b < w->nb; b++) {
            __m256i ux, sw;
            q8_load_avx2(&row[b], &w->x[b], &ux, &sw);
            acc = q8_scale_fma(q8_dot_vnni(ux, sw), row[b].d, w->x[b].d, acc);
        }
        w->out[r] = q8_hsum_ps(acc);
    }
}

LOAD_RUNNER(vnni_load, AVX512_VNNI, "q8_0-dot/avx512-vnni/load@32")
DOT_RUNNER(vnni_dot, AVX512_VNNI, q8_dot_vnni, "q8_0-dot/avx512-vnni/dot@32")
FMA_SCALE_RUNNER(vnni_scale, AVX512_VNNI, "q8_0-dot/avx512-vnni/scale@32")

#ifdef Q8_0_TEST_WRONG
/* Wrong on purpose: w without x's sign, so every negative x counts as |x|. */
AVX2 static void wrong_fused(void *p)
{
    q8_ws *w = p;
    for (size_t r = 0; r < w->rows; r++) {
        const block_q8_0 *row = w->w + r * w->nb;
        float acc = 0;
        for (size_t b = 0; b < w->nb; b++) {
            __m256i ux, sw;
            q8_load_avx2(&row[b], &w->x[b], &ux, &sw);
            sw = _mm256_loadu_si256((const __m256i *)(const void *)row[b].qs);
            acc += q8_scale_avx2(q8_dot_avx2(ux, sw), row[b].d, w->x[b].d);
        }
        w->out[r] = acc;
    }
}
#endif

/* ---- the module ------------------------------------------------------------ */

#define BLOCKS(...)       \
    (const char *const[]) \
    {                     \
        __VA_ARGS__, NULL \
    }

static const qk_op q8_op = {
    .name = "q8_0-dot",
    .summary = "ggml Q8_0 rows dotted with a Q8_0 vector (34-byte blocks: fp16 scale, 32 int8)",
    .phases = phase_names,
    .ndim = 2,
    .create = q8_create,
    .destroy = q8_destroy,
    .elements = q8_elements,
    .bytes = q8_bytes,
    .compare = q8_compare,
    .reference = "scalar",
    .default_size = "256x4096",
    .output = q8_output,
    .tolerance = 1e-4,
};

static const qk_phase scalar_phases[] = {
    {scalar_load, BLOCKS("q8_load_scalar"), NULL},
    {scalar_dot, BLOCKS("q8_dot_scalar"), NULL},
    {scalar_scale, BLOCKS("q8_scale_scalar", "half_to_float"), NULL},
};
static const qk_phase avx2_phases[] = {
    {avx2_load, BLOCKS("q8_load_avx2"), NULL},
    {avx2_dot, BLOCKS("q8_dot_avx2"), NULL},
    {avx2_scale, BLOCKS("q8_scale_avx2", "q8_hsum_epi32", "half_to_float"), NULL},
};
static const qk_phase fma_phases[] = {
    {fma_load, BLOCKS("q8_load_avx2"), NULL},
    {fma_dot, BLOCKS("q8_dot_avx2"), NULL},
    {fma_scale, BLOCKS("q8_scale_fma", "q8_hsum_ps", "half_to_float"), NULL},
};
static const qk_phase vnni_phases[] = {
    {vnni_load, BLOCKS("q8_load_avx2"), NULL},
    {vnni_dot, BLOCKS("q8_dot_vnni"), NULL},
    {vnni_scale, BLOCKS("q8_scale_fma", "q8_hsum_ps", "half_to_float"), NULL},
};

static const qk_variant v_scalar = {"q8_0-dot",
                                    "scalar",
                                    "the reference: plain C (the compiler may vectorize it)",
                                    0,
                                    scalar_fused,
                                    scalar_phases,
                                    "q8_0-dot/scalar"};
static const qk_variant v_avx2 = {
    "q8_0-dot",     "avx2",     "32 bytes at once: sign trick, maddubs + madd",
    QK_ISA_AVX2,    avx2_fused, avx2_phases,
    "q8_0-dot/avx2"};
static const qk_variant v_fma = {"q8_0-dot",
                                 "avx2-fma",
                                 "no horizontal sum per block: 8 float lanes and FMA",
                                 QK_ISA_AVX2 | QK_ISA_FMA,
                                 fma_fused,
                                 fma_phases,
                                 "q8_0-dot/avx2-fma"};
static const qk_variant v_vnni = {"q8_0-dot",
                                  "avx512-vnni",
                                  "the dot in one vpdpbusd (AVX512-VNNI on 256 bits)",
                                  QK_ISA_AVX2 | QK_ISA_FMA | QK_ISA_AVX512 | QK_ISA_AVX512VNNI,
                                  vnni_fused,
                                  vnni_phases,
                                  "q8_0-dot/avx512-vnni"};
#ifdef Q8_0_TEST_WRONG
static const qk_variant v_wrong = {
    "q8_0-dot", "avx2-wrong", "forgets x's sign (test only)", QK_ISA_AVX2, wrong_fused, NULL, NULL};
#endif

static const qk_op *const ops[] = {&q8_op, NULL};
static const qk_variant *const variants[] = {&v_scalar, &v_avx2, &v_fma, &v_vnni,
#ifdef Q8_0_TEST_WRONG
                                             &v_wrong,
#endif
                                             NULL};

static const qk_module q8_module = {
    .abi = QK_KERNEL_ABI,
    .name = "q8_0",
    .ops = ops,
    .variants = variants,
};

QK_PLUGIN_DEFINE(q8_module)

/* ---- run-time dispatch: what a program using these kernels would call ---- */

/* out[r] = row r of w (rows x cols/32 blocks) dotted with x, by the best
 * variant this CPU runs. cols is a multiple of 32. */
__attribute__((visibility("default"))) void q8_0_gemv(float *out, const void *w, const void *x,
                                                      size_t rows, size_t cols);
void q8_0_gemv(float *out, const void *w, const void *x, size_t rows, size_t cols)
{
    static const qk_variant *const best[] = {&v_vnni, &v_fma, &v_avx2, &v_scalar};
    size_t k = 0;
    while ((best[k]->isa & ~qk_cpu_isa()) != 0)
        k++;
    q8_ws ws = {.rows = rows, .cols = cols, .nb = cols / QK8_0, .out = out};
    ws.w = (block_q8_0 *)(uintptr_t)w;
    ws.x = (block_q8_0 *)(uintptr_t)x;
    best[k]->fused(&ws);
}
