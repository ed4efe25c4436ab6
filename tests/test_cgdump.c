/*
 * test_cgdump.c — the callgrind reader against a hand-written fixture
 * (compressed names, relative subpositions, a call's inclusive cost line
 * that must not count, a jump, trailing zeros dropped) and against real
 * dumps of tests/inline_work: the sum of exclusive costs equals totals:
 * exactly, addresses are the object's link-time ones, and mapped through
 * addrmap the Ir of work_a and work_b are 1:3 within 1%, the phases plus
 * other plus unknown equal the totals exactly, and two runs agree to the
 * instruction. Bad input fails in one line naming the line.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrmap.h"
#include "cgdump.h"

static const char *fixture_path(void)
{
    static char path[4096];
    const char *src = getenv("QKPERF_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/callgrind.fixture", src ? src : ".");
    return path;
}

static const uint64_t *cost_at(const qkperf_cgdump *d, const char *object, uint64_t addr)
{
    for (size_t i = 0; i < qkperf_cgdump_ninstr(d); i++) {
        qkperf_cg_instr in = qkperf_cgdump_instr(d, i);
        if (in.addr == addr && strcmp(qkperf_cgdump_object(d, in.object), object) == 0)
            return in.cost;
    }
    return NULL;
}

static void expect_cost(const qkperf_cgdump *d, const char *object, uint64_t addr, uint64_t ir,
                        uint64_t dr, uint64_t d1mr)
{
    const uint64_t *c = cost_at(d, object, addr);
    cr_assert_not_null(c, "no instruction 0x%llx in %s", (unsigned long long)addr, object);
    cr_expect(c[0] == ir && c[1] == dr && c[2] == d1mr,
              "%s 0x%llx: %llu %llu %llu, want %llu %llu %llu", object, (unsigned long long)addr,
              (unsigned long long)c[0], (unsigned long long)c[1], (unsigned long long)c[2],
              (unsigned long long)ir, (unsigned long long)dr, (unsigned long long)d1mr);
}

Test(cgdump, fixture_gives_each_instruction_its_exclusive_cost)
{
    char err[256] = "";
    qkperf_cgdump *d = qkperf_cgdump_read(fixture_path(), err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(qkperf_cgdump_nevents(d), 3);
    cr_expect_str_eq(qkperf_cgdump_event(d, 0), "Ir");
    cr_expect_str_eq(qkperf_cgdump_event(d, 2), "D1mr");
    cr_expect_eq(qkperf_cgdump_event_index(d, "Dr"), 1);
    cr_expect_eq(qkperf_cgdump_event_index(d, "DLmr"), -1);
    cr_assert_eq(qkperf_cgdump_nobjects(d), 2);
    cr_expect_eq(qkperf_cgdump_ninstr(d), 8);
    const char *a = "/opt/fixture/a.out", *b = "/opt/fixture/libb.so";
    expect_cost(d, a, 0x1000, 6, 2, 0); /* main's 5 2 and second's 1, at one address */
    expect_cost(d, a, 0x1004, 3, 1, 1);
    expect_cost(d, a, 0x1006, 1, 0, 0); /* not the call's inclusive 100 40 7 */
    expect_cost(d, a, 0x1009, 2, 0, 0); /* relative to 0x1006, not to the call target */
    expect_cost(d, a, 0x1010, 7, 0, 1);
    expect_cost(d, b, 0x2000, 50, 20, 3);
    expect_cost(d, b, 0x2001, 49, 20, 4);
    expect_cost(d, b, 0x2003, 4, 0, 0); /* fi= and fe= lines at one address */
    const uint64_t *sum = qkperf_cgdump_sum(d), *tot = qkperf_cgdump_totals(d),
                   *sm = qkperf_cgdump_summary(d);
    cr_assert_not_null(tot);
    cr_assert_not_null(sm);
    for (int e = 0; e < 3; e++) {
        cr_expect_eq(sum[e], tot[e], "event %d: sum %llu, totals %llu", e,
                     (unsigned long long)sum[e], (unsigned long long)tot[e]);
        cr_expect_eq(sum[e], sm[e]);
    }
    qkperf_cgdump_free(d);
}

static void expect_refused(const char *text, const char *want)
{
    char err[256] = "";
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    qkperf_cgdump *d = qkperf_cgdump_parse(f, "bad.out", err, sizeof err);
    fclose(f);
    cr_expect_null(d, "accepted: %s", text);
    qkperf_cgdump_free(d);
    cr_expect_not_null(strstr(err, want), "'%s' does not say '%s'", err, want);
    cr_expect_null(strchr(err, '\n'), "%s", err);
}

Test(cgdump, bad_input_is_refused_naming_the_line)
{
    expect_refused("events: Ir\npositions: line\n10 5\n", "bad.out:3: no instruction addresses");
    expect_refused("events: Ir\n", "--dump-instr=yes");
    expect_refused("positions: instr line\nevents: Ir\nfn=(3)\n",
                   "bad.out:3: fn=(3) refers to a name never defined");
    expect_refused("positions: instr line\nevents: Ir\nob=(2)\n", "ob=(2) refers to an object");
    expect_refused("positions: instr line\nevents: Ir\nfn=(1) f\ncalls=1 0x10 1\n",
                   "calls= line without the cost line");
    expect_refused("positions: instr line\nevents: Ir\nfn=(1) f\ncalls=1 0x10 1\nfn=(1)\n",
                   "bad.out:5: calls= line without");
    expect_refused("positions: instr line\nevents: Ir\n0x10 1 2 3\n", "more counts than the 1");
    expect_refused("positions: instr line\nevents: Ir Dr\n0x10 1 5x\n", "bad count '5x'");
    expect_refused("positions: instr line\nevents: Ir\n0x10 5 1\n+ 1 1\n",
                   "bad relative subposition");
    expect_refused("positions: instr line\nevents: Ir\n0x10 5 -5\n", "bad count '-5'");
    expect_refused("positions: instr line\nevents: Ir\nwhat is this\n", "not a callgrind line");
    expect_refused("positions: instr line\nevents: Ir\nzz=3\n", "unknown line 'zz=...'");
    expect_refused("positions: instr line\n0x10 1 1\n", "cost line before the events");
    expect_refused("hello: world\n", "no events: line");
    char err[256] = "";
    cr_expect_null(qkperf_cgdump_read("/nonexistent/cg.out", err, sizeof err));
    cr_expect_not_null(strstr(err, "/nonexistent/cg.out: cannot read"), "%s", err);
}

/* ---- real dumps ------------------------------------------------------------- */

static const char *inline_work_bin(void)
{
    static char path[4096];
    ssize_t len = readlink("/proc/self/exe", path, sizeof path - 32);
    cr_assert_gt(len, 0);
    path[len] = '\0';
    strcpy(strrchr(path, '/') + 1, "inline_work");
    return path;
}

/* Run inline_work under callgrind into a fresh file; the caller unlinks
 * it. extra: more callgrind options; args: inline_work's. */
static char *callgrind(const char *extra, const char *args)
{
    if (system("valgrind --version >/dev/null 2>&1") != 0)
        cr_skip_test("valgrind is not installed");
    static char out[64];
    snprintf(out, sizeof out, "/tmp/qkperf-cg-XXXXXX");
    int fd = mkstemp(out);
    cr_assert_geq(fd, 0);
    close(fd);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "valgrind --tool=callgrind --dump-instr=yes --cache-sim=yes --D1=32768,8,64 "
             "--LL=33554432,16,64 %s --callgrind-out-file=%s '%s' -q %s >/dev/null 2>&1",
             extra, out, inline_work_bin(), args);
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
    return out;
}

static const qkperf_addr_block blocks[] = {{"work_a", 0}, {"work_b", 1}};

static qkperf_cgdump *read_dump(const char *path)
{
    char err[256] = "";
    qkperf_cgdump *d = qkperf_cgdump_read(path, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    return d;
}

static void expect_sum_is_totals(const qkperf_cgdump *d)
{
    const uint64_t *sum = qkperf_cgdump_sum(d), *tot = qkperf_cgdump_totals(d);
    cr_assert_not_null(tot, "no totals: line");
    for (size_t e = 0; e < qkperf_cgdump_nevents(d); e++)
        cr_expect_eq(sum[e], tot[e], "%s: exclusive sum %llu, totals %llu",
                     qkperf_cgdump_event(d, e), (unsigned long long)sum[e],
                     (unsigned long long)tot[e]);
}

/* Split Ir by phase; check the 1:3 and that the rows add up exactly. */
static void split_1_to_3(const qkperf_cgdump *d, qkperf_cg_split *s, const char *what)
{
    char err[256] = "";
    cr_assert_eq(qkperf_cgdump_split(d, blocks, 2, 2, s, err, sizeof err), 0, "%s", err);
    size_t ne = qkperf_cgdump_nevents(d);
    const uint64_t *tot = qkperf_cgdump_totals(d);
    for (size_t e = 0; e < ne; e++) {
        uint64_t rows = 0;
        for (size_t r = 0; r < 4; r++)
            rows += s->cost[r * ne + e];
        cr_expect_eq(rows, tot[e], "%s %s: phases + other + unknown = %llu, totals %llu", what,
                     qkperf_cgdump_event(d, e), (unsigned long long)rows,
                     (unsigned long long)tot[e]);
    }
    int ir = qkperf_cgdump_event_index(d, "Ir");
    cr_assert_geq(ir, 0);
    double a = (double)s->cost[0 * ne + ir], b = (double)s->cost[1 * ne + ir];
    cr_log_info("%s: Ir work_a %.0f, work_b %.0f (b/a %.5f), other %llu, unknown %llu (%s)", what,
                a, b, b / a, (unsigned long long)s->cost[2 * ne + ir],
                (unsigned long long)s->cost[3 * ne + ir], s->unknown_why);
    cr_expect_gt(a, 0);
    cr_expect(b / a > 3 * 0.99 && b / a < 3 * 1.01, "%s: work_b/work_a = %.4f, want 3 +- 1%%", what,
              b / a);
}

Test(cgdump, whole_program_dump_sums_to_totals_and_splits_1_to_3, .timeout = 120)
{
    char *out = callgrind("", "-n 10000 -r 20");
    qkperf_cgdump *d = read_dump(out);
    expect_sum_is_totals(d);
    const uint64_t *sm = qkperf_cgdump_summary(d), *tot = qkperf_cgdump_totals(d);
    cr_assert_not_null(sm);
    cr_log_info("summary Ir %llu, totals Ir %llu", (unsigned long long)sm[0],
                (unsigned long long)tot[0]);
    cr_expect_geq(sm[0], tot[0]);
    /* Addresses are link-time: inline_work_round's first byte (from the
     * file's own DWARF, bias 0) is an executed instruction of the dump. */
    char err[256] = "";
    qkperf_addrmap *m = qkperf_addrmap_open_elf(inline_work_bin(), 0, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    qkperf_addr_range r[4];
    cr_assert_eq(qkperf_addrmap_ranges(m, "inline_work_round", 1, r, 4, err, sizeof err), 1, "%s",
                 err);
    const uint64_t *c = cost_at(d, inline_work_bin(), r[0].lo);
    cr_assert_not_null(c, "0x%llx not in the dump", (unsigned long long)r[0].lo);
    cr_expect_eq(c[0], 20, "the entry of inline_work_round ran %llu times, want 20 rounds",
                 (unsigned long long)c[0]);
    qkperf_addrmap_free(m);
    qkperf_cg_split s;
    split_1_to_3(d, &s, "whole program");
    cr_expect_gt(s.cost[3 * qkperf_cgdump_nevents(d)], 0, "libc and ld.so should be there");
    qkperf_cg_split_free(&s);
    qkperf_cgdump_free(d);
    unlink(out);
}

/* The fused kernel only (collection inside inline_work_round), on two
 * threads, twice: identical to the instruction. */
Test(cgdump, region_dump_splits_exactly_and_repeats, .timeout = 120)
{
    const char *opt = "--toggle-collect=inline_work_round";
    qkperf_cg_split s[2];
    for (int run = 0; run < 2; run++) {
        char *out = callgrind(opt, "-t 2 -n 10000 -r 20");
        qkperf_cgdump *d = read_dump(out);
        expect_sum_is_totals(d);
        const uint64_t *sm = qkperf_cgdump_summary(d), *tot = qkperf_cgdump_totals(d);
        for (size_t e = 0; e < qkperf_cgdump_nevents(d); e++)
            cr_expect_eq(sm[e], tot[e]);
        split_1_to_3(d, &s[run], "region");
        size_t ne = qkperf_cgdump_nevents(d);
        int ir = qkperf_cgdump_event_index(d, "Ir");
        cr_expect_eq(s[run].cost[3 * ne + ir], 0, "unknown Ir in the region: %s",
                     s[run].unknown_why);
        /* mov, test, jle, ret of 40 rounds (2 threads x 20) */
        cr_expect_gt(s[run].cost[2 * ne + ir], 0, "the round's own code is other");
        cr_expect_lt(s[run].cost[2 * ne + ir], tot[ir] / 100);
        qkperf_cgdump_free(d);
        unlink(out);
    }
    cr_assert_eq(s[0].nevents, s[1].nevents);
    for (size_t i = 0; i < 4 * s[0].nevents; i++)
        cr_expect_eq(s[0].cost[i], s[1].cost[i], "row %zu event %zu differs between runs",
                     i / s[0].nevents, i % s[0].nevents);
    qkperf_cg_split_free(&s[0]);
    qkperf_cg_split_free(&s[1]);
}

Test(cgdump, a_block_outside_the_phases_is_refused)
{
    char err[256] = "";
    qkperf_cgdump *d = qkperf_cgdump_read(fixture_path(), err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    qkperf_cg_split s;
    const qkperf_addr_block bad[] = {{"work_a", 2}};
    cr_expect_eq(qkperf_cgdump_split(d, bad, 1, 2, &s, err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "work_a has phase 2"), "%s", err);
    /* The fixture's objects do not exist: all unknown, still exact. */
    cr_assert_eq(qkperf_cgdump_split(d, blocks, 2, 2, &s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.cost[3 * 3 + 0], 122);
    cr_expect_not_null(strstr(s.unknown_why, "/opt/fixture/a.out"), "%s", s.unknown_why);
    qkperf_cg_split_free(&s);
    qkperf_cgdump_free(d);
}
