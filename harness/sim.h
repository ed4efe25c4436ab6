/*
 * sim.h — the `sim` counter source: valgrind's callgrind with its cache
 * simulator. Exact instruction counts and simulated D1/LL misses per phase
 * and for the fused kernel, where no hardware counter can be opened.
 *
 * qkperf re-executes itself under valgrind as a child (`qkperf __sim-child`)
 * that runs each region once between callgrind client requests and dumps
 * one profile per region; the parent reads the dumps back into records.
 * The figures are deterministic, so one pass (n = 1) suffices.
 */
#ifndef QKPERF_SIM_H
#define QKPERF_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "results.h"

/* 1 if valgrind can be run, else 0 with a one-line reason in why. */
int qkperf_sim_available(char *why, size_t len);

/* Measure one variant at one size under callgrind (each phase alone when
 * staged and the variant has phases, then the fused kernel as "total").
 * Appends per region Ir, Dr, Dw, D1mr, D1mw, DLmr, DLmw (less the cost of
 * an empty region; n/a with the reason if that is negative), "Ir/elem"
 * and "D1 miss ratio", source "sim". A variant needing AVX-512 gets
 * records with counted = 0 and the reason. The child
 * is QKPERF_BIN when set (tests), else this program. 0, or -1 with one
 * line in err. */
int qkperf_sim_measure(const qk_op *op, const qk_variant *v, const size_t *dim, const char *size,
                       uint64_t seed, int staged, qkperf_results *res, char *err, size_t len);

/* region - empty into *net: 0; or -1 when that is below zero (the region
 * counted less than the empty call, so its cost cannot be separated), with
 * *net NaN and the reason, starting "n/a: ", in why. Each sim record is
 * such a difference; a negative one is recorded as not counted. */
int qkperf_sim_net(double region, double empty, double *net, char *why, size_t len);

/* The cache geometry callgrind simulates, "size,ways,line" for --D1 (level
 * 1 Data) and --LL (the highest level holding data), read from the cache
 * folders under root (NULL: /sys/devices/system/cpu/cpu0/cache). A cache
 * sysfs lacks, or gives in a geometry valgrind refuses, gets a fixed one,
 * and fallback says so ("fallback geometry --LL=33554432,16,64; sysfs gave
 * L3 100663296,16,64 (number of sets not a power of two)"); "" when both
 * are the host's. The note sim adds to a document quotes it. */
void qkperf_sim_cache_geometry(const char *root, char *d1, char *ll, size_t len, char *fallback,
                               size_t flen);

/* The child side (`qkperf __sim-child`, cmd/cmd_sim_child.c), which must run
 * under callgrind: the empty regions, then each phase of variant (when
 * staged and it has phases) and the fused kernel, on a workspace of op at
 * dim (size is its text, for messages) from seed, each once between
 * client requests and dumped under its name. 0, or 1 after one line on
 * stderr: not under valgrind, an unknown variant, one valgrind's CPU
 * cannot run, no memory for the workspace. */
int qkperf_sim_child_run(const qk_op *op, const char *variant, const char *size, const size_t *dim,
                         uint64_t seed, int staged);

#endif
