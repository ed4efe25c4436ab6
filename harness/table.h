/*
 * table.h — tables a person reads at a glance, in the manner of perf stat:
 * aligned columns, units scaled to the value, "n/a (reason)" instead of a
 * fake zero, the multiplexing share when a counter was multiplexed.
 */
#ifndef QKPERF_TABLE_H
#define QKPERF_TABLE_H

#include <stdio.h>

#include "registry.h"
#include "results.h"

/* "123.4 µs", "1.23 G", "0.512" — value with its unit scaled for reading. */
void qkperf_fmt_value(char *buf, size_t len, double v, const char *unit);
/* The same with a sign: "-410 µs", "+1.2 k". */
void qkperf_fmt_signed(char *buf, size_t len, double v, const char *unit);

/* Per-phase table of one variant at one size, then overlap and throughput. */
void qkperf_print_variant(FILE *f, const qkperf_results *r, const qk_op *op, const char *variant,
                          const char *size);

#endif
