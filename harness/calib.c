/*
 * calib.c — the calibration ops of calib.h. The instruction-count loop is
 * written in assembly, whole function included, so that its instruction
 * count does not depend on the compiler: the test of a counter source can
 * then demand an exact figure, not an approximate one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "registry.h"

#if !defined(__x86_64__)
#error "calib.c: the calibration loop is x86-64 assembly"
#endif

/* ---- calib-ir ------------------------------------------------------------ */

/* void qkperf_calib_ir_run(void *ws): ws points at a uint64_t N >= 1.
 * Executes 1 + 6N + 1 instructions; an empty function executes 1 (ret).
 * The fused kernel and the staged "loop" phase are this one function. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl qkperf_calib_ir_run\n"
        ".type qkperf_calib_ir_run, @function\n"
        "qkperf_calib_ir_run:\n"
        "    movq (%rdi), %rcx\n"
        "1:  addq $1, %rax\n"
        "    addq $1, %rdx\n"
        "    addq $1, %rsi\n"
        "    addq $1, %r8\n"
        "    decq %rcx\n"
        "    jnz 1b\n"
        "    ret\n"
        ".size qkperf_calib_ir_run, . - qkperf_calib_ir_run\n");

void qkperf_calib_ir_run(void *ws);

static void *ir_create(const size_t *dim, uint64_t seed)
{
    (void)seed;
    uint64_t *n = malloc(sizeof *n);
    if (n)
        *n = dim[0];
    return n;
}

static double ir_elements(const size_t *dim)
{
    return (double)dim[0];
}
static double ir_bytes(const size_t *dim)
{
    (void)dim;
    return 0;
}

/* ---- calib-stride -------------------------------------------------------- */

typedef struct stride_ws {
    unsigned char *buf;
    size_t lines;
    uint64_t sink; /* keeps the loads live */
} stride_ws;

size_t qkperf_calib_stride_lines(size_t bytes)
{
    return (bytes + QKPERF_CALIB_LINE - 1) / QKPERF_CALIB_LINE;
}

static void stride_destroy(void *p)
{
    stride_ws *w = p;
    if (w)
        free(w->buf);
    free(w);
}

static void *stride_create(const size_t *dim, uint64_t seed)
{
    stride_ws *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->lines = qkperf_calib_stride_lines(dim[0]);
    if (posix_memalign((void **)&w->buf, QKPERF_CALIB_LINE, w->lines * QKPERF_CALIB_LINE)) {
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    /* Non-zero data, and every page touched before any measurement. */
    memset(w->buf, (int)(seed % 255) + 1, w->lines * QKPERF_CALIB_LINE);
    return w;
}

/* One load per line through a volatile pointer: the compiler may neither
 * drop nor merge them. */
static void stride_run(void *p)
{
    stride_ws *w = p;
    const volatile unsigned char *b = w->buf;
    uint64_t sum = 0;
    for (size_t i = 0; i < w->lines; i++)
        sum += b[i * QKPERF_CALIB_LINE];
    w->sink = sum;
}

static double stride_elements(const size_t *dim)
{
    return (double)qkperf_calib_stride_lines(dim[0]);
}
static double stride_bytes(const size_t *dim)
{
    return QKPERF_CALIB_LINE * stride_elements(dim);
}

/* ---- the module ---------------------------------------------------------- */

static const char *const loop_phase[] = {"loop", NULL};

static const qk_op calib_ir = {
    .name = "calib-ir",
    .summary = "calibration: 6 instructions per iteration, size = iterations",
    .phases = loop_phase,
    .ndim = 1,
    .create = ir_create,
    .destroy = free,
    .elements = ir_elements,
    .bytes = ir_bytes,
    .default_size = "1024",
};

static const qk_op calib_stride = {
    .name = "calib-stride",
    .summary = "calibration: one load per 64-byte line, size = bytes",
    .phases = loop_phase,
    .ndim = 1,
    .create = stride_create,
    .destroy = stride_destroy,
    .elements = stride_elements,
    .bytes = stride_bytes,
    .default_size = "1024",
};

/* The staged phase is the fused kernel itself: the known answers hold for
 * either view. */
static const qk_phase ir_phases[] = {
    {qkperf_calib_ir_run, (const char *const[]){"qkperf_calib_ir_run", NULL}, NULL}};
static const qk_phase stride_phases[] = {
    {stride_run, (const char *const[]){"stride_run", NULL}, NULL}};

static const qk_variant calib_asm = {.op = "calib-ir",
                                     .name = "asm",
                                     .summary = "4 x add, dec, jnz per iteration",
                                     .fused = qkperf_calib_ir_run,
                                     .phases = ir_phases};
static const qk_variant calib_c = {.op = "calib-stride",
                                   .name = "c",
                                   .summary = "one volatile byte load per line",
                                   .fused = stride_run,
                                   .phases = stride_phases};

static const qk_op *const calib_ops[] = {&calib_ir, &calib_stride, NULL};
static const qk_variant *const calib_variants[] = {&calib_asm, &calib_c, NULL};

const qk_module qkperf_calib_module = {
    .abi = QK_KERNEL_ABI,
    .name = "calib",
    .ops = calib_ops,
    .variants = calib_variants,
};

void qkperf_calib_register(void)
{
    /* A second call finds the names taken; that is the only way this
     * registration can fail, so the result needs no checking. */
    char err[256];
    (void)qk_register_module(&qkperf_calib_module, err, sizeof err);
}
