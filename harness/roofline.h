/*
 * roofline.h — this machine's bandwidth limits, measured: L1-resident
 * stores, and reads that stay in L2, in L3, and that go to memory. The
 * throughput plot draws them as horizontal lines, so a kernel's bytes/s can
 * be read against what the cache level it lives in can deliver. Stored in
 * results documents as machine.roofline (see qkperf_roofline_json).
 */
#ifndef QKPERF_ROOFLINE_H
#define QKPERF_ROOFLINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct qkperf_roofline {
    double l1_store_Bps, l2_read_Bps, l3_read_Bps, mem_read_Bps; /* one thread, bytes/s */
    size_t l1_bytes, l2_bytes, l3_bytes, mem_bytes;              /* buffer sizes used */
    char method[256];                                            /* how, in one line */
    /* Memory read with mem_threads threads at once (every online CPU),
     * each reading its own slice of a mem_bytes buffer; 0 and 0 when not
     * measured (documents written before it existed). */
    double mem_read_all_Bps;
    int mem_threads;
} qkperf_roofline;

/* Measure the four limits on the calling thread (best of several
 * repetitions each), and the memory read with every online CPU.
 * quick: a smaller memory buffer (still more than 4x the last-level
 * cache) and fewer repetitions, for tests and reviews. 0, or -1 when a
 * buffer cannot be allocated or a thread started (out->method then says
 * which). */
int qkperf_roofline_measure(qkperf_roofline *out, int quick);

/* Memory read bandwidth with `threads` threads (1..256) started together,
 * each reading its own slice of one buffer of the size
 * qkperf_roofline_measure uses, the same way; a repetition is timed from
 * the first start to the last thread's end, and the best is kept. 0, or
 * -1 with one line in err. */
int qkperf_roofline_mem_threads(int threads, int quick, double *Bps, char *err, size_t len);

/* Read bytes [p, p + bytes) once, the way the memory read does (32-byte
 * loads where the CPU has AVX2), and return their xor fold: the xor of the
 * span's 8-byte words (native order) from its start, and of its last
 * bytes % 8 bytes into the low byte (so the loads are not elided, and the
 * result can be checked). qkperf decode's "weights read" uses it. */
uint64_t qkperf_read_fold(const void *p, size_t bytes);

/* The memory read bandwidth rl holds for `threads` threads: mem_read_Bps
 * for 1, mem_read_all_Bps for mem_threads; 0 when it has none for that
 * count. */
double qkperf_roofline_mem_for(const qkperf_roofline *rl, int threads);

/* {"l1_store_Bps", "l2_read_Bps", "l3_read_Bps", "mem_read_Bps", "method",
 *  "l1_bytes", "l2_bytes", "l3_bytes", "mem_bytes"}, and "mem_read_all_Bps"
 * and "mem_threads" when measured; NULL when out of memory. */
json_t *qkperf_roofline_json(const qkperf_roofline *rl);

/* Read that object back (the *_bytes fields, and mem_read_all_Bps with
 * mem_threads, are optional; the latter two, when there, must both be
 * valid). 0, or -1 with a one-line message naming the missing or bad
 * field. */
int qkperf_roofline_from_json(const json_t *o, qkperf_roofline *out, char *err, size_t len);

/* The table of `qkperf roofline`: a row per level (and the all-CPU memory
 * read), bandwidth and, with an invariant TSC, bytes per core cycle (an
 * estimate, said so), then the method. */
void qkperf_roofline_print(FILE *f, const qkperf_roofline *rl);

/* rl's JSON object (qkperf_roofline_json) written to path atomically.
 * 0, or -1 with one line in err. */
int qkperf_roofline_write(const qkperf_roofline *rl, const char *path, char *err, size_t len);

#endif
