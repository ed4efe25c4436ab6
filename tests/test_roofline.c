/*
 * test_roofline.c — the machine limits: a quick measurement gives positive
 * figures in a sane order, and the JSON object stored as machine.roofline
 * reads back to the same figures; a bad object is refused with the field
 * named; the read fold of decode's weights read folds every byte of any
 * span at any alignment.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "roofline.h"

Test(roofline, quick_measure_is_positive_and_ordered, .timeout = 60)
{
    qkperf_roofline rl;
    cr_assert_eq(qkperf_roofline_measure(&rl, 1), 0, "%s", rl.method);
    cr_assert_gt(rl.l1_store_Bps, 0);
    cr_assert_gt(rl.l2_read_Bps, 0);
    cr_assert_gt(rl.l3_read_Bps, 0);
    cr_assert_gt(rl.mem_read_Bps, 0);
    /* Only the wide gap is asserted: neighbouring levels can come close on
     * a busy machine. */
    cr_assert_gt(rl.l1_store_Bps, rl.mem_read_Bps, "L1 store %.3g <= memory %.3g B/s",
                 rl.l1_store_Bps, rl.mem_read_Bps);
    cr_assert_gt(rl.mem_bytes, 4 * rl.l3_bytes, "memory buffer not beyond the caches");
    cr_assert(strstr(rl.method, "non-zero"));
    cr_assert_gt(rl.mem_threads, 0);
    cr_assert_gt(rl.mem_read_all_Bps, 0);
    cr_assert_eq(qkperf_roofline_mem_for(&rl, rl.mem_threads), rl.mem_read_all_Bps);
    cr_assert_eq(qkperf_roofline_mem_for(&rl, 1), rl.mem_read_Bps);
}

Test(roofline, threaded_memory_read_is_positive, .timeout = 60)
{
    double bps;
    char err[256];
    cr_assert_eq(qkperf_roofline_mem_threads(2, 1, &bps, err, sizeof err), 0, "%s", err);
    cr_assert_gt(bps, 0);
    cr_assert_eq(qkperf_roofline_mem_threads(0, 1, &bps, err, sizeof err), -1);
    cr_assert(strstr(err, "thread count 0"), "%s", err);
}

Test(roofline, json_round_trip)
{
    qkperf_roofline b,
        a = {1.1e11, 9.5e10, 6e10, 3.2e10, 16384, 524288, 16777216, 167772160, "test", 0, 0};
    char err[256];
    json_t *o = qkperf_roofline_json(&a);
    cr_assert(o);
    char *text = json_dumps(o, 0);
    json_decref(o);
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    cr_assert_eq(qkperf_roofline_from_json(back, &b, err, sizeof err), 0, "%s", err);
    json_decref(back);
    cr_assert_float_eq(b.l1_store_Bps, a.l1_store_Bps, 1);
    cr_assert_float_eq(b.l2_read_Bps, a.l2_read_Bps, 1);
    cr_assert_float_eq(b.l3_read_Bps, a.l3_read_Bps, 1);
    cr_assert_float_eq(b.mem_read_Bps, a.mem_read_Bps, 1);
    cr_assert_eq(b.mem_bytes, a.mem_bytes);
    cr_assert_str_eq(b.method, "test");
    cr_assert_eq(b.mem_threads, 0, "no threaded figure written, none read back");
    cr_assert_eq(qkperf_roofline_mem_for(&b, 2), 0);
}

Test(roofline, json_round_trip_with_threaded_memory_read)
{
    qkperf_roofline a = {1.1e11,   9.5e10,    6e10,   3.2e10, 16384, 524288,
                         16777216, 167772160, "test", 4.5e10, 8},
                    b;
    char err[256];
    json_t *o = qkperf_roofline_json(&a);
    cr_assert(o);
    cr_assert_eq(qkperf_roofline_from_json(o, &b, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(b.mem_read_all_Bps, 4.5e10, 1);
    cr_assert_eq(b.mem_threads, 8);
    cr_assert_float_eq(qkperf_roofline_mem_for(&b, 8), 4.5e10, 1);
    cr_assert_float_eq(qkperf_roofline_mem_for(&b, 1), 3.2e10, 1);
    cr_assert_eq(qkperf_roofline_mem_for(&b, 4), 0);
    json_object_set_new(o, "mem_threads", json_string("eight"));
    cr_assert_eq(qkperf_roofline_from_json(o, &b, err, sizeof err), -1);
    cr_assert(strstr(err, "mem_threads"), "%s", err);
    json_object_del(o, "mem_threads");
    cr_assert_eq(qkperf_roofline_from_json(o, &b, err, sizeof err), -1, "half a pair accepted");
    json_decref(o);
}

Test(roofline, bad_object_names_the_field)
{
    qkperf_roofline rl;
    char err[256];
    json_t *o =
        json_pack("{s:f,s:f,s:f}", "l1_store_Bps", 1e11, "l2_read_Bps", 9e10, "l3_read_Bps", 6e10);
    cr_assert_eq(qkperf_roofline_from_json(o, &rl, err, sizeof err), -1);
    cr_assert(strstr(err, "mem_read_Bps"), "%s", err);
    json_decref(o);
    cr_assert_eq(qkperf_roofline_from_json(NULL, &rl, err, sizeof err), -1);
}

/* The fold the weights read returns: 8-byte words from the start, then the
 * last bytes into the low byte; every byte counts (one flipped bit shows). */
static uint64_t naive_fold(const uint8_t *p, size_t n)
{
    uint64_t f = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        f ^= w;
    }
    for (; i < n; i++)
        f ^= p[i];
    return f;
}

Test(roofline, read_fold_reads_every_byte)
{
    enum { N = 1200 };
    static uint8_t buf[N + 64];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 40; off += 3)
        for (size_t n = 0; n <= N; n += (n < 300 ? 1 : 37)) {
            uint64_t want = naive_fold(buf + off, n);
            cr_assert_eq(qkperf_read_fold(buf + off, n), want, "offset %zu, %zu bytes", off, n);
            if (n == 0)
                continue;
            size_t k = (n * 7 + off) % n;
            buf[off + k] ^= 0x10;
            cr_assert_neq(qkperf_read_fold(buf + off, n), want, "byte %zu of %zu not read", k, n);
            buf[off + k] ^= 0x10;
        }
}
