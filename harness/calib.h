/*
 * calib.h — calibration ops with known answers, a kernel-interface module
 * registered like any user's kernel, so that a counter source can be
 * checked against figures known in advance:
 *
 *   calib-ir      size N: a loop of exactly QKPERF_CALIB_IR_PER_ITER
 *                 instructions per iteration, N iterations (N >= 1); one call
 *                 retires QKPERF_CALIB_IR_PER_ITER * N + QKPERF_CALIB_IR_EXTRA
 *                 instructions more than an empty function does.
 *   calib-stride  size B: one load per 64-byte line of a B-byte buffer
 *                 (64-byte aligned), i.e. ceil(B / 64) distinct lines.
 *
 * Each has one variant ("asm", "c") and one phase ("loop"), which runs the
 * same code as the fused kernel.
 */
#ifndef QKPERF_CALIB_H
#define QKPERF_CALIB_H

#include <stddef.h>

enum {
    QKPERF_CALIB_IR_PER_ITER = 6, /* 4 x add, dec, jnz */
    QKPERF_CALIB_IR_EXTRA = 1,    /* the load of N before the loop */
    QKPERF_CALIB_LINE = 64
};

/* The module of both ops and their variants. */
extern const struct qk_module qkperf_calib_module;

/* Register qkperf_calib_module; safe to call more than once. */
void qkperf_calib_register(void);

/* Distinct lines the stride walk touches for a buffer of `bytes`. */
size_t qkperf_calib_stride_lines(size_t bytes);

#endif
