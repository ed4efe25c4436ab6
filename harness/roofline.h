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

typedef struct qkperf_roofline {
    double l1_store_Bps, l2_read_Bps, l3_read_Bps, mem_read_Bps; /* bytes per second */
    size_t l1_bytes, l2_bytes, l3_bytes, mem_bytes;              /* buffer sizes used */
    char method[200];                                            /* how, in one line */
} qkperf_roofline;

/* Measure the four limits on the calling thread (best of several
 * repetitions each). quick: a smaller memory buffer (still more than 4x the
 * last-level cache) and fewer repetitions, for tests and reviews. 0, or -1
 * when a buffer cannot be allocated (out->method then says which). */
int qkperf_roofline_measure(qkperf_roofline *out, int quick);

/* {"l1_store_Bps", "l2_read_Bps", "l3_read_Bps", "mem_read_Bps", "method",
 *  "l1_bytes", "l2_bytes", "l3_bytes", "mem_bytes"}; NULL when out of memory. */
json_t *qkperf_roofline_json(const qkperf_roofline *rl);

/* Read that object back (the *_bytes fields are optional). 0, or -1 with a
 * one-line message naming the missing or bad field. */
int qkperf_roofline_from_json(const json_t *o, qkperf_roofline *out, char *err, size_t len);

/* `qkperf roofline [--quick] [-o FILE.json]`: measure, print a table, and
 * optionally write the JSON object atomically. */
int qkperf_cmd_roofline(int argc, char **argv);

#endif
