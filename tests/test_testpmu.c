/*
 * test_testpmu.c — known answers from the test PMU (tests/libtestpmu.so):
 * every hardware event counts its documented rate x TSC ticks while on a
 * counter (docs/testpmu.md), so counts, IPC, IDs, RESET, multiplexing and
 * the kernel's refusals have exact expected values. LD_PRELOAD has to be
 * in the environment at exec, so each test runs tests/testpmu_drive (or
 * qkperf) under the library and parses what it printed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define Z4 "amd64_fam19h_zen4::"
#define Z3 "amd64_fam19h_zen3::"
#define SPIN "20000000" /* ~8 ms at 2.6 GHz */

#include "testpmu_run.h"

/* ---- what the driver printed ---------------------------------------------------- */

#define MAXEV 16

typedef struct rec {
    uint64_t nr, enabled, running, value[MAXEV], id[MAXEV];
} rec;

typedef struct out {
    int nopen, ok[MAXEV];
    char err[MAXEV][16], kind[MAXEV][16];
    uint64_t id[MAXEV], spin[4], outer[4]; /* ticks spun; from enable to disable */
    int nspin;
    int nrec;
    rec r[MAXEV]; /* group: read, [read after reset]; mux: one per group */
    struct {
        unsigned rdpmc, time, index, width, mult, shift;
    } page[MAXEV];
    int rdpmc; /* qkperf: uses rdpmc */
    int ncount;
    struct {
        double value;
        uint64_t raw, enabled, running;
        int counted;
    } count[2 * MAXEV];
} out;

static void parse_line(out *o, const char *l)
{
    unsigned i;
    unsigned long long a, b, c, d;
    char s1[16], s2[16];
    double v;
    int ctd;
    if (sscanf(l, "open %u ok %llu %15s", &i, &a, s1) == 3 && i < MAXEV) {
        o->ok[i] = 1, o->id[i] = a, snprintf(o->kind[i], 16, "%s", s1), o->nopen++;
    } else if (sscanf(l, "open %u err %15s", &i, s2) == 2 && i < MAXEV) {
        snprintf(o->err[i], 16, "%s", s2), o->nopen++;
    } else if (sscanf(l, "spin %llu outer %llu", &a, &b) == 2 && o->nspin < 4) {
        o->spin[o->nspin] = a, o->outer[o->nspin++] = b;
    } else if (sscanf(l, "read nr %llu enabled %llu running %llu", &a, &b, &c) == 3 &&
               o->nrec < MAXEV) {
        o->r[o->nrec++] = (rec){.nr = a, .enabled = b, .running = c};
    } else if (sscanf(l, "value %u %llu %llu", &i, &a, &b) == 3 && i < MAXEV && o->nrec > 0) {
        o->r[o->nrec - 1].value[i] = a, o->r[o->nrec - 1].id[i] = b;
    } else if (sscanf(l, "page %u rdpmc %llu time %llu index %llu width %llu", &i, &a, &b, &c,
                      &d) == 5 &&
               i < MAXEV) {
        o->page[i].rdpmc = (unsigned)a, o->page[i].time = (unsigned)b;
        o->page[i].index = (unsigned)c, o->page[i].width = (unsigned)d;
        sscanf(strstr(l, "mult"), "mult %u shift %u", &o->page[i].mult, &o->page[i].shift);
    } else if (sscanf(l, "rdpmc %d", &ctd) == 1) {
        o->rdpmc = ctd;
    } else if (sscanf(l, "count %u %lf %llu %llu %llu %d", &i, &v, &a, &b, &c, &ctd) == 6 &&
               o->ncount < 2 * MAXEV) {
        o->count[o->ncount].value = v, o->count[o->ncount].raw = a;
        o->count[o->ncount].enabled = b, o->count[o->ncount].running = c;
        o->count[o->ncount++].counted = ctd;
    }
}

static void parse(const run *r, out *o)
{
    char *copy = strdup(r->out), *save = NULL;
    memset(o, 0, sizeof *o);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        parse_line(o, l);
    free(copy);
}

static void drive_out(out *o, const char *pmu, const char *const *sets, const char *const *args)
{
    static run r;
    drive(&r, pmu, sets, args);
    cr_assert_eq(r.status, 0, "driver exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    parse(&r, o);
}

/* TSC ticks of a time in ns, by the conversion the user page gives. */
static double ticks(const out *o, uint64_t ns)
{
    cr_assert(o->page[0].mult > 0, "no time_mult on the page");
    return (double)ns * (double)(1ull << o->page[0].shift) / (double)o->page[0].mult;
}

/* value within rel of want */
#define NEAR(got, want, rel, ...) \
    cr_assert(fabs((double)(got) - (double)(want)) <= (rel)*fabs((double)(want)), __VA_ARGS__)

/* ---- counts: rate x ticks --------------------------------------------------------- */

/* One group under pmu: every event opened and counted rate x the ticks it
 * ran, all the time (never multiplexed), with the IDs PERF_EVENT_IOC_ID
 * gave, in order. The ticks it ran cover the spin and lie within the
 * enable and disable around it (longer when the machine is loaded). */
static void check_counts(const char *pmu, const char *const *ev, const double *rate, int n)
{
    const char *args[24] = {"group", "--spin", SPIN};
    for (int i = 0; i < n; i++)
        args[3 + i] = ev[i];
    out o;
    drive_out(&o, pmu, NOSET, args);
    cr_assert_eq(o.nopen, n);
    for (int i = 0; i < n; i++)
        cr_assert(o.ok[i], "%s: open %s failed: %s", pmu, ev[i], o.err[i]);
    cr_assert_eq(o.nrec, 1);
    cr_assert_eq(o.r[0].nr, (uint64_t)n);
    cr_assert_eq(o.r[0].enabled, o.r[0].running, "a group that fits is never multiplexed");
    double ran = ticks(&o, o.r[0].running), spun = (double)o.spin[0];
    cr_assert(ran >= spun * 0.9999 && ran <= spun * 1.05, "%s: ran %.0f ticks, spun %.0f", pmu, ran,
              spun);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(o.r[0].id[i], o.id[i], "%s: read ID %d is not PERF_EVENT_IOC_ID's", pmu, i);
        NEAR(o.r[0].value[i], rate[i] * ran, 1e-4, "%s %s: %" PRIu64 " != %g x %.0f", pmu, ev[i],
             o.r[0].value[i], rate[i], ran);
        cr_assert_eq(o.page[i].time, 1, "cap_user_time");
        cr_assert_eq(o.page[i].rdpmc, 0, "cap_user_rdpmc is off by default");
        cr_assert_eq(o.page[i].index, 0, "index 0 without rdpmc");
    }
    /* The ratios are exact: every event counted the same ticks. */
    for (int i = 1; i < n; i++)
        NEAR((double)o.r[0].value[i] / (double)o.r[0].value[0], rate[i] / rate[0], 1e-6,
             "%s: ratio %s / %s", pmu, ev[i], ev[0]);
}

Test(counts, zen4)
{
    const char *ev[] = {Z4 "CYCLES_NOT_IN_HALT", Z4 "RETIRED_INSTRUCTIONS", Z4 "RETIRED_OPS",
                        Z4 "DISPATCH_STALLS_1:FE_NO_OPS"};
    const double rate[] = {2.0, 3.0, 3.6, 2.4}; /* IPC 1.5, frontend bound 0.2 */
    check_counts("zen4", ev, rate, 4);
}

Test(counts, zen3)
{
    const char *ev[] = {Z3 "CYCLES_NOT_IN_HALT", Z3 "RETIRED_INSTRUCTIONS", Z3 "RETIRED_OPS",
                        Z3 "UOPS_QUEUE_EMPTY"};
    const double rate[] = {2.0, 3.0, 3.6, 0.3};
    check_counts("zen3", ev, rate, 4);
}

Test(counts, icl)
{
    const char *ev[] = {"icl::CPU_CLK_UNHALTED:THREAD_P", "icl::INST_RETIRED:ANY_P",
                        "icl::TOPDOWN:SLOTS", "icl::UOPS_ISSUED:ANY"};
    const double rate[] = {2.0, 3.0, 10.0, 5.0};
    check_counts("icl", ev, rate, 4);
}

Test(counts, skl)
{
    const char *ev[] = {"skl::CPU_CLK_UNHALTED:THREAD_P", "skl::INST_RETIRED:ANY_P",
                        "skl::UOPS_RETIRED:RETIRE_SLOTS", "skl::IDQ_UOPS_NOT_DELIVERED:CORE"};
    const double rate[] = {2.0, 3.0, 3.2, 1.6};
    check_counts("skl", ev, rate, 4);
}

/* The generic events map to the PMU's own: cycles and instructions at
 * their rates, the L1D read misses of Zen to REQUESTS_TO_L2_GROUP1 (0.06),
 * REF_CPU_CYCLES on Ice Lake to the TSC itself (1.0). */
Test(counts, generic)
{
    const char *zen[] = {"perf::PERF_COUNT_HW_CPU_CYCLES", "perf::PERF_COUNT_HW_INSTRUCTIONS",
                         "perf::PERF_COUNT_HW_CACHE_L1D:READ:MISS"};
    const double zrate[] = {2.0, 3.0, 0.06};
    check_counts("zen4", zen, zrate, 3);
    const char *icl[] = {"perf::PERF_COUNT_HW_CPU_CYCLES", "hw=9"};
    const double irate[] = {2.0, 1.0};
    check_counts("icl", icl, irate, 2);
}

Test(counts, rates_override)
{
    out o;
    drive_out(&o, "zen4",
              ARGS("QKPERF_TESTPMU_RATES=RETIRED_INSTRUCTIONS=5,DISPATCH_STALLS_1:FE_NO_OPS=1.5"),
              ARGS("group", "--spin", SPIN, Z4 "CYCLES_NOT_IN_HALT", Z4 "RETIRED_INSTRUCTIONS",
                   Z4 "DISPATCH_STALLS_1:FE_NO_OPS", Z4 "DISPATCH_STALLS_1:BE_STALLS"));
    cr_assert_eq(o.nrec, 1);
    NEAR((double)o.r[0].value[1] / (double)o.r[0].value[0], 2.5, 1e-6,
         "IPC with instructions at 5");
    NEAR((double)o.r[0].value[2] / (double)o.r[0].value[0], 0.75, 1e-6, "FE_NO_OPS at 1.5");
    NEAR((double)o.r[0].value[3] / (double)o.r[0].value[0], 2.1, 1e-6, "BE_STALLS keeps 4.2");
}

Test(counts, reset_zeroes_counts_not_times)
{
    out o;
    drive_out(
        &o, "skl", NOSET,
        ARGS("group", "--reset", "skl::CPU_CLK_UNHALTED:THREAD_P", "skl::INST_RETIRED:ANY_P"));
    cr_assert_eq(o.nrec, 2);
    cr_assert(o.r[0].value[0] > 0 && o.r[0].value[1] > 0);
    cr_assert_eq(o.r[1].value[0], 0);
    cr_assert_eq(o.r[1].value[1], 0);
    cr_assert_eq(o.r[1].enabled, o.r[0].enabled, "RESET leaves time_enabled");
    cr_assert_eq(o.r[1].running, o.r[0].running, "RESET leaves time_running");
    cr_assert_neq(o.id[0], o.id[1], "IDs are distinct");
}

/* The words of "words i n w..." lines, per fd; "short i ERR" of each. */
typedef struct words {
    int n[MAXEV];
    uint64_t w[MAXEV][64];
    char shortread[MAXEV][16];
} words;

static void parse_words(const char *text, words *w)
{
    char *copy = strdup(text), *save = NULL;
    memset(w, 0, sizeof *w);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int i, n, used;
        char err[16];
        if (sscanf(l, "short %d %15s", &i, err) == 2 && i >= 0 && i < MAXEV)
            snprintf(w->shortread[i], 16, "%s", err);
        if (sscanf(l, "words %d %d%n", &i, &n, &used) != 2 || i < 0 || i >= MAXEV || n > 64)
            continue;
        const char *p = l + used;
        for (int k = 0; k < n; k++) {
            char *end;
            w->w[i][k] = strtoull(p, &end, 10);
            p = end;
        }
        w->n[i] = n;
    }
    free(copy);
}

/* PERF_FORMAT_GROUP with every field: { nr, enabled, running, { value,
 * id, lost } x nr }, the same record from any member; a buffer one word
 * short is ENOSPC. */
Test(format, group_with_lost)
{
    static run r;
    out o;
    words w;
    drive(&r, "zen4", NOSET,
          ARGS("group", "--format", "0x1f", Z4 "CYCLES_NOT_IN_HALT", Z4 "RETIRED_INSTRUCTIONS",
               "sw=1"));
    cr_assert_eq(r.status, 0, "%s", r.err);
    parse(&r, &o);
    parse_words(r.out, &w);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(w.n[i], 12, "fd %d: %d words", i, w.n[i]);
        cr_assert_eq(w.w[i][0], 3, "nr");
        cr_assert_eq(w.w[i][1], w.w[i][2], "enabled == running");
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(w.w[i][4 + 3 * k], o.id[k], "fd %d: id of event %d", i, k);
            cr_assert_eq(w.w[i][5 + 3 * k], 0, "lost");
        }
        for (int k = 0; k < 12; k++)
            cr_assert_eq(w.w[i][k], w.w[0][k], "fd %d reads the leader's record", i);
        cr_assert_str_eq(w.shortread[i], "ENOSPC");
    }
    NEAR((double)w.w[0][6] / (double)w.w[0][3], 1.5, 1e-6, "IPC");
}

/* Without PERF_FORMAT_GROUP each fd reads { value, enabled, running, id }
 * of its own; a member opened enabled has been enabled since its open,
 * longer than the leader it waited for. */
Test(format, single_records)
{
    static run r;
    out o;
    words w;
    drive(&r, "skl", NOSET,
          ARGS("group", "--format", "0x7", "skl::CPU_CLK_UNHALTED:THREAD_P",
               "skl::INST_RETIRED:ANY_P"));
    cr_assert_eq(r.status, 0, "%s", r.err);
    parse(&r, &o);
    parse_words(r.out, &w);
    cr_assert_eq(w.n[0], 4);
    cr_assert_eq(w.n[1], 4);
    cr_assert_eq(w.w[0][3], o.id[0]);
    cr_assert_eq(w.w[1][3], o.id[1]);
    cr_assert_eq(w.w[0][1], w.w[0][2], "leader: enabled == running");
    cr_assert_geq(w.w[1][1], w.w[0][1], "member enabled since its open");
    cr_assert_eq(w.w[1][2], w.w[0][2], "member ran while the group did");
    NEAR((double)w.w[1][0] / (double)w.w[0][0], 1.5, 1e-6, "IPC");
}

/* Closing a leader leaves its members as groups of their own. */
Test(format, member_outlives_leader)
{
    out o;
    drive_out(&o, "zen3", NOSET,
              ARGS("group", "--close-leader", Z3 "CYCLES_NOT_IN_HALT", Z3 "RETIRED_INSTRUCTIONS"));
    cr_assert_eq(o.nrec, 2);
    cr_assert_eq(o.r[1].nr, 1);
    cr_assert_eq(o.r[1].id[0], o.id[1]);
    cr_assert_eq(o.r[1].value[0], o.r[0].value[1], "disabled with its group: no more counts");
}

/* ---- multiplexing ------------------------------------------------------------------- */

/* Eight single-event groups on six counters: every group shares the PMU
 * (running < enabled, running about 6/8 of it over ~10 rotations), and the
 * scaled count still equals rate x enabled ticks. */
Test(mux, zen4_eight_groups)
{
    const char *ev[8] = {Z4 "CYCLES_NOT_IN_HALT",
                         Z4 "RETIRED_INSTRUCTIONS",
                         Z4 "RETIRED_OPS",
                         Z4 "LS_DISPATCH:LD_DISPATCH",
                         Z4 "MAB_ALLOCATION_BY_TYPE:LS",
                         Z4 "DISPATCH_STALLS_1:FE_NO_OPS",
                         Z4 "DISPATCH_STALLS_1:BE_STALLS",
                         Z4 "OPS_TYPE_DISPATCHED_FROM_DECODER:FP_DISPATCH"};
    const double rate[8] = {2.0, 3.0, 3.6, 1.0, 0.04, 2.4, 4.2, 1.2};
    out o;
    drive_out(
        &o, "zen4", NOSET,
        ARGS("mux", "--spin", "100000000", ev[0], ev[1], ev[2], ev[3], ev[4], ev[5], ev[6], ev[7]));
    cr_assert_eq(o.nrec, 8);
    double run_sum = 0, en_sum = 0;
    for (int i = 0; i < 8; i++) {
        const rec *r = &o.r[i];
        cr_assert(r->running > 0 && r->running < r->enabled,
                  "%s: running %" PRIu64 " enabled %" PRIu64, ev[i], r->running, r->enabled);
        double scaled = (double)r->value[0] * (double)r->enabled / (double)r->running;
        NEAR(scaled, rate[i] * ticks(&o, r->enabled), 1e-4, "%s scaled %.0f", ev[i], scaled);
        double en = ticks(&o, r->enabled);
        cr_assert(en >= (double)o.spin[0] * 0.9999 && en <= (double)o.outer[0] * 1.0001,
                  "%s: enabled %.0f ticks, spun %" PRIu64 " within %" PRIu64, ev[i], en, o.spin[0],
                  o.outer[0]);
        run_sum += (double)r->running;
        en_sum += (double)r->enabled;
    }
    NEAR(run_sum / en_sum, 6.0 / 8.0, 0.05, "six of eight on the counters");
}

/* qkperf's counts of a region: rate x the region's ticks, which lie
 * between the spin inside it and the ticks over start, spin and stop. One read(2)
 * takes all counts at one instant, so their ratios are exact then; the
 * rdpmc path reads the events one after another. */
static void check_qkperf_counts(const out *o, const double *rate, int n, double spin)
{
    cr_assert_eq(o->ncount, 2 * n, "two rounds of %d counts", n);
    cr_assert_eq(o->nspin, 2);
    for (int i = 0; i < 2 * n; i++) {
        double t = o->count[i].value / rate[i % n];
        cr_assert(o->count[i].counted, "count %d not counted", i);
        cr_assert(t >= spin * 0.9999 && t <= (double)o->outer[i / n] * 1.0001,
                  "count %d: %.0f ticks, spun %.0f inside %" PRIu64, i, t, spin, o->outer[i / n]);
    }
    for (int i = 1; i < n && !o->rdpmc; i++)
        NEAR(o->count[i].value / o->count[0].value, rate[i] / rate[0], 1e-6, "ratio %d", i);
}

/* qkperf's own scaling (perf.c): its group shares the PMU with four other
 * groups; the values it reports are rate x ticks all the same, through
 * read(2) and through the rdpmc page. */
static void check_qkperf_mux(const char *rdpmc)
{
    const char *set[] = {rdpmc, NULL};
    const double rate[3] = {2.0, 3.0, 3.6};
    out o;
    drive_out(&o, "zen4", set,
              ARGS("qkperf", "--hog", "4", "--spin", "100000000", Z4 "CYCLES_NOT_IN_HALT",
                   Z4 "RETIRED_INSTRUCTIONS", Z4 "RETIRED_OPS"));
    for (int i = 0; i < o.ncount; i++)
        cr_assert(o.count[i].running < o.count[i].enabled, "count %d not multiplexed", i);
    check_qkperf_counts(&o, rate, 3, 1e8);
}

Test(mux, qkperf_scaling_read)
{
    check_qkperf_mux("QKPERF_TESTPMU_RDPMC=0");
}

Test(mux, qkperf_scaling_rdpmc)
{
    check_qkperf_mux("QKPERF_TESTPMU_RDPMC=1");
}

/* ---- the user page and rdpmc ----------------------------------------------------------- */

Test(page, rdpmc_on)
{
    out o;
    drive_out(&o, "icl", ARGS("QKPERF_TESTPMU_RDPMC=1"),
              ARGS("group", "icl::INST_RETIRED:ANY_P", "icl::UOPS_ISSUED:ANY"));
    cr_assert_eq(o.page[0].rdpmc, 1);
    cr_assert_eq(o.page[0].width, 48);
    cr_assert_eq(o.page[0].index, (1u << 30) + 1, "instructions on fixed counter 0");
    cr_assert_eq(o.page[1].index, 1, "UOPS_ISSUED on general counter 0");
    cr_assert(o.page[0].mult > 0);
}

/* qkperf reads through the page with rdpmc when it may (here the rdpmc
 * instruction is answered by the library), through read(2) otherwise;
 * both give rate x ticks. */
static void check_qkperf(const char *rdpmc, int want)
{
    const char *set[] = {rdpmc, NULL};
    const double rate[2] = {2.0, 3.0};
    out o;
    drive_out(&o, "zen4", set,
              ARGS("qkperf", "--spin", SPIN, Z4 "CYCLES_NOT_IN_HALT", Z4 "RETIRED_INSTRUCTIONS"));
    cr_assert_eq(o.rdpmc, want);
    for (int i = 0; i < o.ncount; i++)
        cr_assert_eq(o.count[i].running, o.count[i].enabled, "count %d multiplexed", i);
    check_qkperf_counts(&o, rate, 2, 2e7);
}

Test(page, qkperf_read_path)
{
    check_qkperf("QKPERF_TESTPMU_RDPMC=0", 0);
}

Test(page, qkperf_rdpmc_path)
{
    check_qkperf("QKPERF_TESTPMU_RDPMC=1", 1);
}

/* ---- refusals ------------------------------------------------------------------------ */

/* The group's events opened up to the first refusal, with that errno. */
static void check_refusal(const char *pmu, const char *const *sets, const char *const *args,
                          int first_bad, const char *err)
{
    out o;
    drive_out(&o, pmu, sets, args);
    for (int i = 0; i < first_bad; i++)
        cr_assert(o.ok[i], "%s: event %d refused: %s", pmu, i, o.err[i]);
    cr_assert_str_eq(o.err[first_bad], err, "%s: event %d: '%s', want %s", pmu, first_bad,
                     o.err[first_bad], err);
}

Test(refuse, zen4_group_beyond_six_counters)
{
    check_refusal("zen4", NOSET,
                  ARGS("group", Z4 "CYCLES_NOT_IN_HALT", Z4 "RETIRED_INSTRUCTIONS",
                       Z4 "RETIRED_OPS", Z4 "LS_DISPATCH:LD_DISPATCH",
                       Z4 "MAB_ALLOCATION_BY_TYPE:LS", Z4 "DISPATCH_STALLS_1:FE_NO_OPS",
                       Z4 "DISPATCH_STALLS_1:BE_STALLS"),
                  6, "EINVAL");
}

/* RETIRED_SSE_AVX_FLOPS merges two counters: three fit in six, and two of
 * them leave room for two ordinary events only. */
Test(refuse, zen4_merged_events_take_two)
{
    check_refusal("zen4", NOSET,
                  ARGS("group", Z4 "RETIRED_SSE_AVX_FLOPS:ANY", Z4 "RETIRED_SSE_AVX_FLOPS:ANY",
                       Z4 "RETIRED_SSE_AVX_FLOPS:ANY", Z4 "RETIRED_SSE_AVX_FLOPS:ANY"),
                  3, "EINVAL");
    check_refusal("zen4", NOSET,
                  ARGS("group", Z4 "RETIRED_SSE_AVX_FLOPS:ANY", Z4 "CYCLES_NOT_IN_HALT",
                       Z4 "RETIRED_SSE_AVX_FLOPS:ANY", Z4 "RETIRED_INSTRUCTIONS", Z4 "RETIRED_OPS"),
                  4, "EINVAL");
}

/* Ice Lake: fixed counters on top of eight general ones; the memory
 * events (0xd0-0xe6) only on general counters 0-3; four general counters
 * with SMT on. */
Test(refuse, icl_counters)
{
    check_refusal("icl", NOSET,
                  ARGS("group", "icl::CPU_CLK_UNHALTED:THREAD_P", "icl::INST_RETIRED:ANY_P",
                       "icl::TOPDOWN:SLOTS", "icl::UOPS_DISPATCHED:PORT_0",
                       "icl::UOPS_DISPATCHED:PORT_1", "icl::UOPS_DISPATCHED:PORT_2_3",
                       "icl::UOPS_DISPATCHED:PORT_4_9", "icl::UOPS_DISPATCHED:PORT_5",
                       "icl::UOPS_DISPATCHED:PORT_6", "icl::UOPS_DISPATCHED:PORT_7_8",
                       "icl::UOPS_ISSUED:ANY", "icl::INT_MISC:RECOVERY_CYCLES"),
                  11, "EINVAL");
    check_refusal("icl", NOSET,
                  ARGS("group", "icl::MEM_INST_RETIRED:ALL_LOADS", "icl::MEM_LOAD_RETIRED:L1_MISS",
                       "icl::MEM_LOAD_RETIRED:FB_HIT", "icl::MEM_INST_RETIRED:ALL_STORES",
                       "icl::MEM_LOAD_RETIRED:L2_HIT"),
                  4, "EINVAL");
    check_refusal("icl", ARGS("QKPERF_TESTPMU_SMT=1"),
                  ARGS("group", "icl::UOPS_DISPATCHED:PORT_0", "icl::UOPS_DISPATCHED:PORT_1",
                       "icl::UOPS_DISPATCHED:PORT_5", "icl::UOPS_DISPATCHED:PORT_6",
                       "icl::UOPS_DISPATCHED:PORT_2_3"),
                  4, "EINVAL");
}

/* Configs libpfm would not produce, and generic events the PMU lacks, as
 * the kernel's tables say (ENOENT for "none", EINVAL for "invalid"). */
Test(refuse, bad_encodings)
{
    static const struct {
        const char *pmu, *ev, *err;
    } cases[] = {
        {"zen4", "raw=0x76", ""},              /* CYCLES_NOT_IN_HALT, accepted */
        {"zen4", "raw=0x1c0", "EINVAL"},       /* RETIRED_INSTRUCTIONS has no unit mask 1 */
        {"zen4", "raw=0x100c0", "EINVAL"},     /* the USR bit is the kernel's to set */
        {"zen4", "raw=0xf000000ff", "EINVAL"}, /* no event 0xfff */
        {"zen4", "hw=99", "EINVAL"},           /* beyond PERF_COUNT_HW_MAX */
        {"zen4", "hw=8", "ENOENT"},            /* STALLED_CYCLES_BACKEND: none on Zen 2+ */
        {"zen3", "hw=9", "ENOENT"},            /* REF_CPU_CYCLES: Zen 4 only */
        {"zen4", "hw=9", ""},
        {"zen4", "cache=0x100", "ENOENT"}, /* L1D write access */
        {"zen4", "cache=0x101", "EINVAL"}, /* L1I write */
        {"icl", "raw=0x2000c0", "EINVAL"}, /* AnyThread: not on Ice Lake */
        {"skl", "raw=0x2000c0", "EACCES"}, /* AnyThread at paranoid 2 */
        {"skl", "sw=1", ""},               /* a software event: the kernel's */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        out o;
        drive_out(&o, cases[i].pmu, ARGS("QKPERF_TESTPMU_PARANOID=2"),
                  ARGS("group", "--spin", "1000", cases[i].ev));
        cr_assert_eq(o.nopen, 1);
        if (cases[i].err[0] == '\0')
            cr_assert(o.ok[0], "%s %s refused: %s", cases[i].pmu, cases[i].ev, o.err[0]);
        else
            cr_assert_str_eq(o.err[0], cases[i].err, "%s %s: '%s', want %s", cases[i].pmu,
                             cases[i].ev, o.err[0], cases[i].err);
    }
}

/* Kernel counting at perf_event_paranoid 2 is EACCES (the caller is taken
 * for unprivileged even as root); at 1 it is allowed; 3 forbids all. */
Test(refuse, paranoid)
{
    check_refusal("zen4", ARGS("QKPERF_TESTPMU_PARANOID=2"),
                  ARGS("group", "--kernel", Z4 "CYCLES_NOT_IN_HALT"), 0, "EACCES");
    out o;
    drive_out(&o, "zen4", ARGS("QKPERF_TESTPMU_PARANOID=1"),
              ARGS("group", "--kernel", Z4 "CYCLES_NOT_IN_HALT"));
    cr_assert(o.ok[0], "kernel counting at paranoid 1: %s", o.err[0]);
    check_refusal("zen4", ARGS("QKPERF_TESTPMU_PARANOID=3"), ARGS("group", Z4 "CYCLES_NOT_IN_HALT"),
                  0, "EACCES");
}

/* ---- failure modes -------------------------------------------------------------------- */

Test(fail, open_errors)
{
    static const char *const modes[][2] = {
        {"QKPERF_TESTPMU_FAIL=nopmu", "ENOENT"},
        {"QKPERF_TESTPMU_FAIL=eacces", "EACCES"},
        {"QKPERF_TESTPMU_FAIL=einval", "EINVAL"},
    };
    for (size_t i = 0; i < 3; i++)
        check_refusal("zen4", ARGS(modes[i][0]), ARGS("group", Z4 "CYCLES_NOT_IN_HALT"), 0,
                      modes[i][1]);
}

Test(fail, notcounted)
{
    out o;
    drive_out(&o, "icl", ARGS("QKPERF_TESTPMU_FAIL=notcounted"),
              ARGS("group", "icl::CPU_CLK_UNHALTED:THREAD_P", "icl::INST_RETIRED:ANY_P"));
    cr_assert(o.ok[0] && o.ok[1], "opens succeed");
    cr_assert_eq(o.nrec, 1);
    cr_assert(o.r[0].enabled > 0);
    cr_assert_eq(o.r[0].running, 0);
    cr_assert_eq(o.r[0].value[0], 0);
}

/* ---- software events ---------------------------------------------------------------------- */

/* Software events are the kernel's: real perf fds that count. */
Test(software, pass_through)
{
    out o;
    drive_out(&o, "zen4", NOSET, ARGS("group", "--spin", SPIN, "sw=1", "sw=2"));
    cr_assert(o.ok[0] && o.ok[1], "%s %s", o.err[0], o.err[1]);
    cr_assert_str_eq(o.kind[0], "kernel");
    cr_assert_str_eq(o.kind[1], "kernel");
    cr_assert_lt(o.id[0], 0x100000000ull, "a kernel ID");
    /* task-clock is CPU time: less than the wall time on a loaded machine */
    cr_assert(o.r[0].value[0] > 0 && o.r[0].value[0] <= o.r[0].enabled,
              "task-clock counted %" PRIu64 " of %" PRIu64 " ns", o.r[0].value[0], o.r[0].enabled);
}

/* A software event in a test-PMU group (harness/groups/perf/CYCLES does
 * this) is a real kernel event counting while its group is on the PMU. */
Test(software, member_of_hw_group)
{
    out o;
    static const char cycles[] = Z4 "CYCLES_NOT_IN_HALT";
    drive_out(&o, "zen4", NOSET, ARGS("group", "--spin", SPIN, cycles, "sw=1"));
    cr_assert(o.ok[0] && o.ok[1], "%s %s", o.err[0], o.err[1]);
    cr_assert_str_eq(o.kind[0], "testpmu");
    cr_assert_str_eq(o.kind[1], "kernel");
    cr_assert_eq(o.r[0].nr, 2);
    NEAR(o.r[0].value[0], 2.0 * ticks(&o, o.r[0].running), 1e-4, "cycles");
    cr_assert(o.r[0].value[1] > 0 && o.r[0].value[1] <= o.r[0].enabled * 1.001,
              "task-clock %" PRIu64 " of %" PRIu64 " ns", o.r[0].value[1], o.r[0].enabled);
}

/* ---- identity, environment, qkperf ----------------------------------------------------------- */

Test(ident, libpfm_sees_the_model)
{
    static const char *const want[][2] = {
        {"zen4", "pmu amd64_fam19h_zen4"},
        {"zen3", "pmu amd64_fam19h_zen3"},
        {"icl", "pmu icl"},
        {"skl", "pmu skl"},
    };
    static run r;
    for (size_t i = 0; i < 4; i++) {
        drive(&r, want[i][0], NOSET, ARGS("ident"));
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert(strstr(r.out, want[i][1]) != NULL, "%s: %s", want[i][0], r.out);
    }
}

/* Without QKPERF_TESTPMU the library changes nothing. */
Test(ident, inert_without_the_variable)
{
    static run with, without;
    char prog[PATH_MAX + 32];
    drive(&with, NULL, NOSET, ARGS("ident"));
    snprintf(prog, sizeof prog, "%s/testpmu_drive", tp_dir);
    run_prog(&without, NOSET, ARGS(prog, "ident"));
    cr_assert_eq(with.status, 0, "%s", with.err);
    cr_assert_str_eq(with.out, without.out);
}

Test(env, bad_values_exit_2)
{
    static const char *const cases[][2] = {
        {"QKPERF_TESTPMU_FAIL=sometimes", "QKPERF_TESTPMU_FAIL=sometimes: expected"},
        {"QKPERF_TESTPMU_RATES=NO_SUCH_EVENT=1", "NO_SUCH_EVENT is not an event"},
        {"QKPERF_TESTPMU_RATES=RETIRED_OPS", "is not EVENT=RATE"},
        {"QKPERF_TESTPMU_MUX_MS=0", "QKPERF_TESTPMU_MUX_MS=0: expected an integer"},
    };
    static run r;
    for (size_t i = 0; i < 4; i++) {
        drive(&r, "zen4", ARGS(cases[i][0]), ARGS("group", Z4 "CYCLES_NOT_IN_HALT"));
        cr_assert_eq(r.status, 2, "%s: exit %d", cases[i][0], r.status);
        cr_assert(strstr(r.err, cases[i][1]) != NULL, "%s: stderr %s", cases[i][0], r.err);
    }
    drive(&r, "p4", NOSET, ARGS("ident"));
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "QKPERF_TESTPMU=p4: unknown PMU (expected zen4, zen3, icl or skl)"),
              "%s", r.err);
}

/* The smoke test of the issue: qkperf probe finds hardware counters. */
Test(qkperf, probe_says_hw_available)
{
    static const char *const want[][2] = {
        {"zen4", "available: amd64_fam19h_zen4::CYCLES_NOT_IN_HALT "
                 "amd64_fam19h_zen4::RETIRED_INSTRUCTIONS"},
        {"zen3", "available: amd64_fam19h_zen3::CYCLES_NOT_IN_HALT "
                 "amd64_fam19h_zen3::RETIRED_INSTRUCTIONS"},
        {"icl", "available: icl::CPU_CLK_UNHALTED:THREAD_P icl::INST_RETIRED:ANY_P"},
        {"skl", "available: skl::CPU_CLK_UNHALTED:THREAD_P skl::INST_RETIRED:ANY_P"},
    };
    static run r;
    for (size_t i = 0; i < 4; i++) {
        drive(&r, want[i][0], NOSET, ARGS("@qkperf", "probe"));
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert(strstr(r.out, want[i][1]) != NULL, "%s:\n%s", want[i][0], r.out);
        cr_assert(strstr(r.out, "rdpmc      no") != NULL, "%s:\n%s", want[i][0], r.out);
    }
    drive(&r, "zen4", ARGS("QKPERF_TESTPMU_RDPMC=1"), ARGS("@qkperf", "probe"));
    cr_assert(strstr(r.out, "rdpmc      yes") != NULL, "%s", r.out);
}
