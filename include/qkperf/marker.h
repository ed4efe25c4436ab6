/*
 * qkperf/marker.h — the marker API: name regions of your own program and
 * `qkperf measure -- PROG ARGS` measures each of them, per region and per
 * thread. Link with `pkg-config --cflags --libs qkperf`.
 *
 *     qkperf_marker_init();
 *     for (...) {
 *         qkperf_marker_begin("load");  ...  qkperf_marker_end("load");
 *         qkperf_marker_begin("math");  ...  qkperf_marker_end("math");
 *     }
 *     qkperf_marker_close();
 *
 * Regions may repeat (their figures add up over calls, and each call is a
 * sample), nest (an outer region includes its inner ones) and run on
 * several threads (each thread has its own regions; a thread's first
 * begin opens its counters). An end must name the innermost region open
 * on its thread. Names are at most 23 bytes (the results document's phase
 * field).
 *
 * Outside `qkperf measure` (its environment variable QKPERF_MARKER_OUT is
 * not set) every call returns at once: one load and a branch (a few ns per
 * begin/end pair, docs/own-kernels.md gives the figure measured here).
 *
 * Under `qkperf measure` a region's calls are counted and timed with the
 * TSC, and the thread's software events (task-clock, page faults, context
 * switches) and the hardware events measure passes (-g, -e; where there is
 * a PMU) are read at begin and end. With `--source sim` the program runs
 * under valgrind's callgrind, and begin and end dump callgrind's counts,
 * which give exact instructions per region. qkperf_marker_close (or the
 * program's exit, if close was never called) hands the results to
 * qkperf in one file written atomically. Unbalanced markers (an end
 * without its begin, a region never ended) are reported on stderr, one
 * line each, and make `qkperf measure` fail.
 *
 * Call close once the threads that use markers are done with them. Calls
 * after close return at once.
 */
#ifndef QKPERF_MARKER_H
#define QKPERF_MARKER_H

#ifdef __cplusplus
extern "C" {
#endif

/* Read the environment qkperf measure set (optional: the first begin does
 * it too). */
void qkperf_marker_init(void);
/* Open region name on the calling thread. */
void qkperf_marker_begin(const char *name);
/* Close region name, the innermost one open on the calling thread. */
void qkperf_marker_end(const char *name);
/* Hand the results to qkperf measure; later calls do nothing. */
void qkperf_marker_close(void);

#ifdef __cplusplus
}
#endif

#endif
