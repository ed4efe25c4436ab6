/*
 * inline_work.h — the known-answer workload of the in-context tests: two
 * always-inline functions, work_a and work_b, whose costs are 1:3 (the
 * same dependent multiply-add loop, n and 3n iterations), called in turn
 * from the out-of-line inline_work_round, on one thread or several.
 *
 * Built -O2 -g into the tests that sample it in their own process
 * (test_addrmap, test_sampler) and into the program tests/inline_work,
 * which the tests run as a child (exec sampling) and under callgrind.
 */
#ifndef QKPERF_TESTS_INLINE_WORK_H
#define QKPERF_TESTS_INLINE_WORK_H

#include <stdint.h>

/* One round: work_a(n) then work_b(3n), each a dependent chain. */
uint64_t inline_work_round(uint64_t x, long n);

/* Run on threads threads (the calling one and threads - 1 new ones), each
 * doing rounds of size n: rounds of them when rounds > 0, else rounds
 * until it has used seconds of CPU time. Returns a value that depends on every
 * iteration (so none can be optimized away), or 0 when a thread could
 * not be started. */
uint64_t inline_work_run(int threads, long n, long rounds, double seconds);

#endif
