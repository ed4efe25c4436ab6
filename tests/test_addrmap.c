/*
 * test_addrmap.c — addresses to inline frames to phases (addrmap.h) on
 * this test's own code: tests/inline_work.c, built -O2 -g into it, has
 * work_a and work_b always inlined into inline_work_round. The addresses
 * come from DWARF itself (the ranges of the inline instances), so no
 * disassembler is needed; the frame walk must agree with them byte for
 * byte. Then the other ways to open a map (captured mappings, one ELF
 * file), and the unknown kinds: no object, no debug info.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "addrmap.h"
#include "inline_work.h"

static const qkperf_addr_block blocks[] = {{"work_a", 0}, {"work_b", 1}};

static long ranges_of(qkperf_addrmap *m, const char *name, int outline, qkperf_addr_range *r,
                      size_t cap)
{
    char err[256] = "";
    long n = qkperf_addrmap_ranges(m, name, outline, r, cap, err, sizeof err);
    cr_assert_geq(n, 1, "no ranges for %s: %s", name, err);
    cr_assert_leq(n, (long)cap, "%s has %ld ranges", name, n);
    return n;
}

static int in_ranges(uint64_t a, const qkperf_addr_range *r, long n)
{
    for (long i = 0; i < n; i++)
        if (a >= r[i].lo && a < r[i].hi)
            return 1;
    return 0;
}

static qkperf_addrmap *open_self_with_blocks(void)
{
    char err[256] = "";
    qkperf_addrmap *m = qkperf_addrmap_open_self(err, sizeof err);
    cr_assert_not_null(m, "open_self: %s", err);
    cr_assert_eq(qkperf_addrmap_set_blocks(m, blocks, 2, err, sizeof err), 0, "%s", err);
    return m;
}

Test(addrmap, inline_frames_name_the_block_then_the_function)
{
    qkperf_addrmap *m = open_self_with_blocks();
    const char *names[] = {"work_a", "work_b"};
    for (int b = 0; b < 2; b++) {
        qkperf_addr_range r[8];
        long n = ranges_of(m, names[b], 0, r, 8);
        for (long i = 0; i < n; i++) {
            qkperf_frames f;
            qkperf_addrmap_frames(m, r[i].lo, &f);
            cr_assert_eq(f.status, QKPERF_ADDR_OK, "0x%llx: %s", (unsigned long long)r[i].lo,
                         f.why);
            cr_assert_geq(f.n, 2);
            cr_expect_str_eq(f.name[0], names[b]);
            cr_expect_str_eq(f.name[f.n - 1], "inline_work_round");
            cr_assert_not_null(f.file);
            cr_expect_not_null(strstr(f.file, "inline_work.c"), "file %s", f.file);
            cr_expect_gt(f.line, 0);
            cr_expect_not_null(strstr(f.module, "test_addrmap"), "module %s", f.module);
            cr_expect_eq(qkperf_addrmap_phase(m, r[i].lo), b);
            cr_expect_str_eq(qkperf_addrmap_function(m, r[i].lo), "inline_work_round");
        }
    }
    qkperf_addrmap_free(m);
}

/* Every byte of inline_work_round: phase 0 inside work_a's ranges, 1
 * inside work_b's, other elsewhere — the scope walk agrees with the DIE
 * ranges everywhere, and the function's own code (entry test, ret) is
 * other, not hidden in a block. */
Test(addrmap, every_byte_of_the_function_agrees_with_the_ranges)
{
    qkperf_addrmap *m = open_self_with_blocks();
    qkperf_addr_range fa[8], fb[8], fn[8];
    long na = ranges_of(m, "work_a", 0, fa, 8), nb = ranges_of(m, "work_b", 0, fb, 8);
    long nf = ranges_of(m, "inline_work_round", 1, fn, 8);
    size_t count[3] = {0};
    for (long i = 0; i < nf; i++) {
        for (uint64_t a = fn[i].lo; a < fn[i].hi; a++) {
            int want = in_ranges(a, fa, na) ? 0 : in_ranges(a, fb, nb) ? 1 : QKPERF_PHASE_OTHER;
            int got = qkperf_addrmap_phase(m, a);
            cr_assert_eq(got, want, "0x%llx: phase %d, ranges say %d", (unsigned long long)a, got,
                         want);
            count[want < 0 ? 2 : want]++;
        }
    }
    cr_expect_gt(count[0], 0);
    cr_expect_gt(count[1], 0);
    cr_expect_gt(count[2], 0, "no byte of inline_work_round is other");
    uint64_t entry = (uint64_t)(uintptr_t)&inline_work_round;
    cr_expect(in_ranges(entry, fn, nf), "the function's address is in its own ranges");
    qkperf_addrmap_free(m);
}

Test(addrmap, lookups_are_cached_per_address)
{
    qkperf_addrmap *m = open_self_with_blocks();
    qkperf_addr_range r[8];
    ranges_of(m, "work_b", 0, r, 8);
    cr_assert_eq(qkperf_addrmap_cached(m), 0);
    for (int i = 0; i < 1000; i++)
        qkperf_addrmap_phase(m, r[0].lo);
    cr_expect_eq(qkperf_addrmap_cached(m), 1);
    qkperf_addrmap_phase(m, r[0].lo + 1);
    cr_expect_eq(qkperf_addrmap_cached(m), 2);
    /* A new table clears the cache: the phases it holds are the old ones. */
    const qkperf_addr_block swapped[] = {{"work_b", 0}, {"work_a", 1}};
    cr_assert_eq(qkperf_addrmap_set_blocks(m, swapped, 2, NULL, 0), 0);
    cr_expect_eq(qkperf_addrmap_cached(m), 0);
    cr_expect_eq(qkperf_addrmap_phase(m, r[0].lo), 0);
    qkperf_addrmap_free(m);
}

/* The innermost frame named in the table wins: with only the function in
 * the table, the loops belong to it; with no table, everything is other. */
Test(addrmap, innermost_named_frame_wins)
{
    char err[256];
    qkperf_addrmap *m = qkperf_addrmap_open_self(err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    qkperf_addr_range r[8];
    ranges_of(m, "work_a", 0, r, 8);
    cr_expect_eq(qkperf_addrmap_phase(m, r[0].lo), QKPERF_PHASE_OTHER);
    const qkperf_addr_block outer[] = {{"inline_work_round", 7}};
    cr_assert_eq(qkperf_addrmap_set_blocks(m, outer, 1, err, sizeof err), 0);
    cr_expect_eq(qkperf_addrmap_phase(m, r[0].lo), 7);
    const qkperf_addr_block both[] = {{"inline_work_round", 7}, {"work_a", 3}};
    cr_assert_eq(qkperf_addrmap_set_blocks(m, both, 2, err, sizeof err), 0);
    cr_expect_eq(qkperf_addrmap_phase(m, r[0].lo), 3);
    qkperf_addrmap_free(m);
}

Test(addrmap, a_bad_phase_table_is_refused_in_one_line)
{
    char err[256] = "";
    qkperf_addrmap *m = open_self_with_blocks();
    const qkperf_addr_block bad[] = {{"work_a", 0}, {"", 1}};
    cr_expect_eq(qkperf_addrmap_set_blocks(m, bad, 2, err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "block 1"), "%s", err);
    const qkperf_addr_block neg[] = {{"work_a", -1}};
    cr_expect_eq(qkperf_addrmap_set_blocks(m, neg, 1, err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "phase >= 0"), "%s", err);
    qkperf_addr_range r[8];
    ranges_of(m, "work_a", 0, r, 8);
    cr_expect_eq(qkperf_addrmap_phase(m, r[0].lo), 0, "a refused table keeps the old one");
    qkperf_addrmap_free(m);
}

/* Mappings captured as a sampler would (executable ones only), opened
 * after the fact, give the same frames as the live map. */
Test(addrmap, captured_mappings_resolve_like_the_live_process)
{
    char err[256] = "";
    qkperf_mapping *maps;
    size_t n;
    cr_assert_eq(qkperf_mappings_read(0, &maps, &n, err, sizeof err), 0, "%s", err);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (maps[i].exec)
            maps[k++] = maps[i];
        else
            free(maps[i].path);
    qkperf_addrmap *live = open_self_with_blocks();
    qkperf_addrmap *cap = qkperf_addrmap_open_mappings(maps, k, err, sizeof err);
    cr_assert_not_null(cap, "%s", err);
    cr_assert_eq(qkperf_addrmap_set_blocks(cap, blocks, 2, err, sizeof err), 0);
    qkperf_addr_range fn[8];
    long nf = ranges_of(live, "inline_work_round", 1, fn, 8);
    for (long i = 0; i < nf; i++) {
        for (uint64_t a = fn[i].lo; a < fn[i].hi; a++) {
            qkperf_frames x, y;
            qkperf_addrmap_frames(live, a, &x);
            qkperf_addrmap_frames(cap, a, &y);
            cr_assert_eq(y.status, QKPERF_ADDR_OK, "0x%llx: %s", (unsigned long long)a, y.why);
            cr_assert_eq(x.n, y.n);
            for (size_t j = 0; j < x.n; j++)
                cr_assert_str_eq(x.name[j], y.name[j]);
            cr_assert_eq(qkperf_addrmap_phase(live, a), qkperf_addrmap_phase(cap, a));
        }
    }
    qkperf_addrmap_free(live);
    qkperf_addrmap_free(cap);
    qkperf_mappings_free(maps, k);
}

Test(addrmap, a_missing_file_among_mappings_is_a_reason_not_a_failure)
{
    char err[256] = "";
    qkperf_mapping *maps;
    size_t n;
    cr_assert_eq(qkperf_mappings_read(0, &maps, &n, err, sizeof err), 0, "%s", err);
    qkperf_mapping *all = calloc(n + 1, sizeof *all);
    memcpy(all, maps, n * sizeof *maps);
    all[n] = (qkperf_mapping){
        .path = "/nonexistent/libgone.so", .start = 0x10000, .end = 0x20000, .pgoff = 0, .exec = 1};
    qkperf_addrmap *m = qkperf_addrmap_open_mappings(all, n + 1, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    qkperf_addr_result r;
    qkperf_addrmap_lookup(m, 0x18000, &r);
    cr_expect_eq(r.status, QKPERF_ADDR_NO_FILE);
    cr_expect_eq(r.phase, QKPERF_PHASE_UNKNOWN);
    cr_expect_not_null(strstr(r.why, "/nonexistent/libgone.so"), "%s", r.why);
    qkperf_addrmap_free(m);
    free(all);
    qkperf_mappings_free(maps, n);
}

/* Code in no object (as JIT code is) is unknown with its reason. */
Test(addrmap, code_in_no_object_is_unknown_with_a_reason)
{
    qkperf_addrmap *m = open_self_with_blocks();
    void *jit =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(jit, MAP_FAILED);
    qkperf_addr_result r;
    qkperf_addrmap_lookup(m, (uint64_t)(uintptr_t)jit + 16, &r);
    cr_expect_eq(r.status, QKPERF_ADDR_NO_MODULE);
    cr_expect_eq(r.phase, QKPERF_PHASE_UNKNOWN);
    cr_expect_null(r.function);
    cr_expect_not_null(strstr(r.why, "no object"), "%s", r.why);
    munmap(jit, 4096);
    qkperf_addrmap_free(m);
}

static int main_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
    *(uint64_t *)arg = info->dlpi_addr; /* the first entry is the program */
    return 1;
}

/* A copy of this program without DWARF: unknown ("no debug info for
 * ..."), and by function through the ELF symbol table. */
Test(addrmap, an_object_without_dwarf_is_unknown_and_named_by_symbol)
{
    char self[4096], copy[] = "/tmp/qkperf-nodwarf-XXXXXX", cmd[8300], err[256] = "";
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(len, 0);
    self[len] = '\0';
    int fd = mkstemp(copy);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "objcopy --strip-debug '%s' '%s'", self, copy);
    if (system(cmd) != 0) {
        unlink(copy);
        cr_skip_test("objcopy (binutils) is not available to strip a copy");
    }
    uint64_t bias = 0;
    dl_iterate_phdr(main_bias, &bias);
    qkperf_addrmap *m = qkperf_addrmap_open_elf(copy, 0, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    cr_assert_eq(qkperf_addrmap_set_blocks(m, blocks, 2, err, sizeof err), 0);
    uint64_t a = (uint64_t)(uintptr_t)&inline_work_round - bias;
    qkperf_addr_result r;
    qkperf_addrmap_lookup(m, a, &r);
    cr_expect_eq(r.status, QKPERF_ADDR_NO_DEBUGINFO, "status %d: %s", r.status, r.why);
    cr_expect_eq(r.phase, QKPERF_PHASE_UNKNOWN);
    cr_expect_not_null(r.why);
    cr_expect_not_null(strstr(r.why, "no debug info for"), "%s", r.why);
    cr_expect_not_null(strstr(r.why, copy), "%s", r.why);
    cr_expect_eq(r.symtab, 1);
    cr_expect_str_eq(r.function, "inline_work_round");
    qkperf_addrmap_free(m);
    unlink(copy);
}

Test(addrmap, opening_a_missing_file_fails_in_one_line)
{
    char err[256] = "";
    cr_expect_null(qkperf_addrmap_open_elf("/nonexistent/prog", 0, err, sizeof err));
    cr_expect_not_null(strstr(err, "/nonexistent/prog"), "%s", err);
    cr_expect_null(strchr(err, '\n'));
    cr_expect_null(qkperf_addrmap_open_mappings(NULL, 0, err, sizeof err));
    cr_expect_not_null(strstr(err, "no file-backed mapping"), "%s", err);
}

/* What the runner pays: the first lookup of an address walks the DWARF,
 * later ones hit the cache. Logged for the record, bounded generously. */
Test(addrmap, cost_of_a_first_and_a_cached_lookup)
{
    qkperf_addrmap *m = open_self_with_blocks();
    qkperf_addr_range fn[8];
    long nf = ranges_of(m, "inline_work_round", 1, fn, 8);
    struct timespec t0, t1, t2;
    size_t addrs = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < nf; i++)
        for (uint64_t a = fn[i].lo; a < fn[i].hi; a++, addrs++)
            qkperf_addrmap_phase(m, a);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int rep = 0; rep < 100; rep++)
        for (long i = 0; i < nf; i++)
            for (uint64_t a = fn[i].lo; a < fn[i].hi; a++)
                qkperf_addrmap_phase(m, a);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double first =
        ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)addrs;
    double cached = ((double)(t2.tv_sec - t1.tv_sec) * 1e9 + (double)(t2.tv_nsec - t1.tv_nsec)) /
                    (double)(100 * addrs);
    cr_log_info("addrmap: %zu addresses, first lookup %.0f ns each, cached %.1f ns each", addrs,
                first, cached);
    cr_expect_lt(cached, 1000.0, "a cached lookup took %.0f ns", cached);
    qkperf_addrmap_free(m);
}
