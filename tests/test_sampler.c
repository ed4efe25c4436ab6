/*
 * test_sampler.c — sampling known answers: the 1:3 workload of
 * tests/inline_work.c, sampled with cpu-clock at 10 kHz for 1 s of CPU
 * time per thread, its IPs mapped through addrmap, gives work_a 25% and
 * work_b 75% of the samples within 3 points — in this process (one
 * thread; two threads, the second created after the events were opened)
 * and as an exec'd child (one thread, two). With 10000 samples a share's
 * 95% interval is +-0.85 points: the 3-point band is 7 standard errors.
 * Then the precise_ip fallback and the error kinds through the open seam,
 * a hardware event tried for real (no PMU here: the reason is checked),
 * and the Wilson interval against a hand-computed value.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "addrmap.h"
#include "inline_work.h"
#include "sampler.h"

/* A round (work_a then work_b) of 8e6 iterations takes some 9 ms: many
 * samples per round, so the clock's period cannot alias with it. */
#define N_INNER 2000000
#define SECONDS 1.0
#define BAND 0.03

static const qkperf_addr_block blocks[] = {{"work_a", 0}, {"work_b", 1}};

/* Shares per phase: 0 work_a, 1 work_b, 2 other, 3 unknown. */
typedef struct tally {
    qkperf_addrmap *map;
    uint64_t n[4];
    uint64_t *ips; /* exec mode: kept until the mappings are known */
    size_t nips, capips;
} tally;

static void tally_ip(tally *t, uint64_t ip)
{
    int p = qkperf_addrmap_phase(t->map, ip);
    t->n[p >= 0 ? p : p == QKPERF_PHASE_OTHER ? 2 : 3]++;
}

static void on_sample_keep(void *ctx, const qkperf_sample *s)
{
    tally *t = ctx;
    if (t->nips == t->capips) {
        t->capips = t->capips ? 2 * t->capips : 4096;
        t->ips = realloc(t->ips, t->capips * sizeof *t->ips);
        cr_assert_not_null(t->ips);
    }
    t->ips[t->nips++] = s->ip;
}

static void check_shares(const tally *t, const char *what)
{
    uint64_t total = t->n[0] + t->n[1] + t->n[2] + t->n[3];
    double sa, la, ha, sb, lb, hb, so, lo, ho;
    qkperf_share_wilson(t->n[0], total, &sa, &la, &ha);
    qkperf_share_wilson(t->n[1], total, &sb, &lb, &hb);
    qkperf_share_wilson(t->n[2] + t->n[3], total, &so, &lo, &ho);
    cr_log_info("%s: %llu samples: work_a %.1f%% [%.1f, %.1f], work_b %.1f%% [%.1f, %.1f], "
                "other %.2f%% (unknown %llu)",
                what, (unsigned long long)total, 100 * sa, 100 * la, 100 * ha, 100 * sb, 100 * lb,
                100 * hb, 100 * so, (unsigned long long)t->n[3]);
    cr_assert_geq(total, 4000, "%s: only %llu samples", what, (unsigned long long)total);
    cr_expect(fabs(sa - 0.25) <= BAND, "%s: work_a %.1f%%, want 25 +- 3", what, 100 * sa);
    cr_expect(fabs(sb - 0.75) <= BAND, "%s: work_b %.1f%%, want 75 +- 3", what, 100 * sb);
    cr_expect_lt(so, 0.05, "%s: other %.1f%%", what, 100 * so);
}

static void check_stats_lost(qkperf_sampler *s, size_t threads, const char *what, uint64_t lost_ok);

static qkperf_sample_config clock_config(void)
{
    return (qkperf_sample_config){.period = 100000}; /* cpu-clock, 10 kHz */
}

static void check_stats_lost(qkperf_sampler *s, size_t threads, const char *what, uint64_t lost_ok)
{
    qkperf_sampler_stats st = qkperf_sampler_stats_get(s);
    char desc[256];
    qkperf_sampler_describe(s, desc, sizeof desc);
    cr_log_info("%s: %s; lost %llu, throttled %llu, non-user %llu", what, desc,
                (unsigned long long)st.lost, (unsigned long long)st.throttles,
                (unsigned long long)st.non_user);
    cr_expect_leq(st.lost, lost_ok, "%s: %llu records lost", what, (unsigned long long)st.lost);
    cr_expect_eq(st.corrupt, 0);
    size_t nt;
    const qkperf_thread_count *tc = qkperf_sampler_threads(s, &nt);
    size_t busy = 0;
    for (size_t i = 0; i < nt; i++) {
        cr_log_info("%s: thread %u: %llu samples", what, tc[i].tid,
                    (unsigned long long)tc[i].samples);
        busy += tc[i].samples >= st.samples / (3 * threads);
    }
    cr_expect_eq(busy, threads, "%s: %zu threads carry the samples, want %zu", what, busy, threads);
}

/* ---- this process ---------------------------------------------------------- */

typedef struct work_arg {
    int threads;
    double seconds;
    volatile int done;
} work_arg;

static void *work_thread(void *p)
{
    work_arg *w = p;
    cr_assert_neq(inline_work_run(w->threads, N_INNER, 0, w->seconds), 0);
    w->done = 1;
    return NULL;
}

/* The workload on its own thread (and those it starts), drained from
 * this one every 50 ms, as a caller with long regions would. */
static void sample_self(int threads, unsigned pages, double seconds, long drain_us)
{
    char err[256] = "", what[32];
    snprintf(what, sizeof what, "self, %d thread%s, %u pages", threads, threads > 1 ? "s" : "",
             pages);
    tally t = {.map = qkperf_addrmap_open_self(err, sizeof err)};
    cr_assert_not_null(t.map, "%s", err);
    cr_assert_eq(qkperf_addrmap_set_blocks(t.map, blocks, 2, err, sizeof err), 0);
    qkperf_sample_config cfg = clock_config();
    cfg.pages = pages;
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_self(&cfg, &e);
    cr_assert_not_null(s, "%s", e.msg);
    qkperf_sampler_sink sink = {.sample = on_sample_keep, .ctx = &t};
    work_arg w = {.threads = threads, .seconds = seconds};
    pthread_t th;
    cr_assert_eq(qkperf_sampler_enable(s), 0);
    cr_assert_eq(pthread_create(&th, NULL, work_thread, &w), 0);
    while (!w.done) {
        struct timespec ts = {0, drain_us * 1000};
        nanosleep(&ts, NULL);
        qkperf_sampler_drain(s, &sink);
    }
    pthread_join(th, NULL);
    cr_assert_eq(qkperf_sampler_disable(s), 0);
    qkperf_sampler_drain(s, &sink);
    /* Mapped afterwards: the first lookups walk the DWARF, which would
     * otherwise be sampled on the draining thread. */
    for (size_t i = 0; i < t.nips; i++)
        tally_ip(&t, t.ips[i]);
    check_shares(&t, what);
    /* A one-page ring holds 12.7 ms at 10 kHz: on a loaded machine the
     * draining thread can sleep past that, and the ring then drops records
     * and says so. What must hold is that it wraps cleanly. */
    qkperf_sampler_stats st = qkperf_sampler_stats_get(s);
    check_stats_lost(s, (size_t)threads, what, pages == 1 ? st.samples / 5 : 0);
    qkperf_sampler_close(s);
    free(t.ips);
    qkperf_addrmap_free(t.map);
}

Test(sampler, self_one_thread_splits_1_to_3, .timeout = 60)
{
    sample_self(1, 0, SECONDS, 50000);
}

Test(sampler, self_two_threads_created_after_open_split_1_to_3, .timeout = 60)
{
    sample_self(2, 0, SECONDS, 50000);
}

/* One page per CPU holds 128 samples: drained every 2 ms the ring wraps
 * some 40 times in 0.5 s, and every record must come out whole. */
Test(sampler, a_one_page_ring_wraps_cleanly, .timeout = 60)
{
    sample_self(1, 1, 0.5, 2000);
}

/* Disabled, nothing is sampled; enabled around a region only, the region
 * is what is sampled. */
Test(sampler, only_the_enabled_region_is_sampled)
{
    qkperf_sample_config cfg = clock_config();
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_self(&cfg, &e);
    cr_assert_not_null(s, "%s", e.msg);
    inline_work_run(1, N_INNER, 0, 0.1);
    cr_expect_eq(qkperf_sampler_drain(s, NULL), 0, "samples while disabled");
    cr_assert_eq(qkperf_sampler_enable(s), 0);
    inline_work_run(1, N_INNER, 0, 0.1);
    cr_assert_eq(qkperf_sampler_disable(s), 0);
    size_t n = qkperf_sampler_drain(s, NULL);
    cr_expect(n >= 500 && n <= 1100, "%zu samples in 0.1 s of CPU at 10 kHz", n);
    inline_work_run(1, N_INNER, 0, 0.05);
    cr_expect_eq(qkperf_sampler_drain(s, NULL), 0, "samples after disable");
    qkperf_sampler_close(s);
}

typedef struct time_window {
    uint64_t lo, hi;
    size_t in, out;
} time_window;

static void on_sample_time(void *ctx, const qkperf_sample *s)
{
    time_window *w = ctx;
    if (s->time >= w->lo && s->time <= w->hi)
        w->in++;
    else
        w->out++;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sample times are CLOCK_MONOTONIC: the samples of a region timed with
 * clock_gettime lie inside it, so a runner may enable once and keep the
 * samples of each kernel call by time. */
Test(sampler, sample_times_are_clock_monotonic)
{
    qkperf_sample_config cfg = clock_config();
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_self(&cfg, &e);
    cr_assert_not_null(s, "%s", e.msg);
    time_window w = {0};
    qkperf_sampler_sink sink = {.sample = on_sample_time, .ctx = &w};
    w.lo = monotonic_ns();
    cr_assert_eq(qkperf_sampler_enable(s), 0);
    inline_work_run(1, N_INNER, 0, 0.1);
    cr_assert_eq(qkperf_sampler_disable(s), 0);
    w.hi = monotonic_ns();
    qkperf_sampler_drain(s, &sink);
    cr_expect_gt(w.in, 500);
    cr_expect_eq(w.out, 0, "%zu of %zu samples outside the timed region", w.out, w.in + w.out);
    qkperf_sampler_close(s);
}

/* A full ring drops records and says how many: 0.2 s at 10 kHz into one
 * page (128 records) undrained. The kernel writes the LOST record at its
 * next write after space frees up, hence the short second region. The
 * clock ticks on the thread's CPU time, which a loaded machine gives out
 * sparingly: the expected count comes from that time, not the wall's. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

Test(sampler, a_full_ring_counts_what_it_lost)
{
    /* One CPU, so one ring: a ring writes its LOST record only at its own
     * next write, which a ring the thread left would never see. */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
    qkperf_sample_config cfg = clock_config();
    cfg.pages = 1;
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_self(&cfg, &e);
    cr_assert_not_null(s, "%s", e.msg);
    double cpu0 = thread_cpu_s();
    cr_assert_eq(qkperf_sampler_enable(s), 0);
    inline_work_run(1, N_INNER, 0, 0.2);
    size_t first = qkperf_sampler_drain(s, NULL);
    inline_work_run(1, N_INNER, 0, 0.02);
    cr_assert_eq(qkperf_sampler_disable(s), 0);
    double expected = (thread_cpu_s() - cpu0) * 1e4;
    qkperf_sampler_drain(s, NULL);
    qkperf_sampler_stats st = qkperf_sampler_stats_get(s);
    cr_log_info("one page: %zu samples, then %llu in all, %llu lost", first,
                (unsigned long long)st.samples, (unsigned long long)st.lost);
    cr_expect_leq(first, 4096 / 32, "more samples than one page holds");
    cr_expect_gt((double)st.lost, 0.5 * expected, "%llu lost of about %.0f",
                 (unsigned long long)st.lost, expected);
    cr_expect((double)(st.samples + st.lost) >= 0.6 * expected &&
                  (double)(st.samples + st.lost) <= 1.3 * expected + 10,
              "%llu delivered + %llu lost in %.3f s of CPU time at 10 kHz",
              (unsigned long long)st.samples, (unsigned long long)st.lost, expected / 1e4);
    cr_expect_eq(st.corrupt, 0);
    qkperf_sampler_close(s);
}

/* ---- an exec'd child --------------------------------------------------------- */

static const char *inline_work_bin(void)
{
    static char path[4096];
    const char *env = getenv("QKPERF_INLINE_WORK");
    if (env != NULL)
        return env;
    ssize_t len = readlink("/proc/self/exe", path, sizeof path - 32);
    cr_assert_gt(len, 0);
    path[len] = '\0';
    strcpy(strrchr(path, '/') + 1, "inline_work");
    return path;
}

static void sample_exec(int threads, unsigned pages, double seconds, uint64_t lost_ok)
{
    char tstr[8], nstr[16], sstr[16], what[32], err[256] = "";
    snprintf(tstr, sizeof tstr, "%d", threads);
    snprintf(nstr, sizeof nstr, "%d", N_INNER);
    snprintf(sstr, sizeof sstr, "%g", seconds);
    snprintf(what, sizeof what, "exec, %d thread%s, %u pages", threads, threads > 1 ? "s" : "",
             pages);
    const char *bin = inline_work_bin();
    char *argv[] = {(char *)bin, "-q", "-t", tstr, "-n", nstr, "-s", sstr, NULL};
    qkperf_sample_config cfg = clock_config();
    cfg.pages = pages;
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_exec(&cfg, argv, &e);
    cr_assert_not_null(s, "%s", e.msg);
    cr_assert_eq(qkperf_sampler_start(s, &e), 0, "%s", e.msg);
    tally t = {0};
    qkperf_sampler_sink sink = {.sample = on_sample_keep, .ctx = &t};
    int status;
    cr_assert_eq(qkperf_sampler_wait(s, &sink, &status, &e), 0, "%s", e.msg);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited with status %d", bin,
              status);
    size_t nm;
    const qkperf_mapping *maps = qkperf_sampler_mappings(s, &nm);
    int seen_bin = 0;
    for (size_t i = 0; i < nm; i++)
        seen_bin |= strstr(maps[i].path, "inline_work") != NULL;
    cr_expect(seen_bin, "no mapping record of %s among %zu", bin, nm);
    t.map = qkperf_addrmap_open_mappings(maps, nm, err, sizeof err);
    cr_assert_not_null(t.map, "%s", err);
    cr_assert_eq(qkperf_addrmap_set_blocks(t.map, blocks, 2, err, sizeof err), 0);
    for (size_t i = 0; i < t.nips; i++)
        tally_ip(&t, t.ips[i]);
    check_shares(&t, what);
    check_stats_lost(s, (size_t)threads, what, lost_ok);
    free(t.ips);
    qkperf_addrmap_free(t.map);
    qkperf_sampler_close(s);
}

Test(sampler, exec_one_thread_splits_1_to_3, .timeout = 60)
{
    sample_exec(1, 0, SECONDS, 0);
}

Test(sampler, exec_two_threads_split_1_to_3, .timeout = 60)
{
    sample_exec(2, 0, SECONDS, 0);
}

/* A one-page ring: the mapping records (of every length) put the sample
 * records off the buffer's end, so records straddle the wrap and must be
 * copied out in two parts. A few may be lost when the poll wakes late. */
Test(sampler, exec_with_a_one_page_ring_reads_records_across_the_wrap, .timeout = 60)
{
    sample_exec(1, 1, 0.5, 500);
}

Test(sampler, a_command_that_cannot_run_is_one_line)
{
    char *argv[] = {"/nonexistent/cmd", NULL};
    qkperf_sample_config cfg = clock_config();
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_exec(&cfg, argv, &e);
    cr_assert_not_null(s, "%s", e.msg);
    cr_expect_eq(qkperf_sampler_start(s, &e), -1);
    cr_expect_not_null(strstr(e.msg, "No such file"), "%s", e.msg);
    qkperf_sampler_close(s);
}

/* ---- precise_ip and the error kinds, through the open seam ------------------ */

static int tried[8], ntried, fake_errno;

static long fake_open(struct perf_event_attr *a, int pid, int cpu, int group, unsigned long fl)
{
    if (ntried < 8)
        tried[ntried++] = a->precise_ip;
    if (fake_errno != 0) {
        errno = fake_errno;
        return -1;
    }
    if (a->precise_ip == 2) {
        errno = EOPNOTSUPP;
        return -1;
    }
    if (a->precise_ip == 1) {
        errno = EINVAL;
        return -1;
    }
    /* The PMU this stands for "accepts" precise_ip 0: open the clock. */
    struct perf_event_attr sw = *a;
    sw.type = PERF_TYPE_SOFTWARE;
    sw.config = PERF_COUNT_SW_CPU_CLOCK;
    return syscall(SYS_perf_event_open, &sw, pid, cpu, group, fl);
}

static const struct perf_event_attr cycles = {.type = PERF_TYPE_HARDWARE,
                                              .config = PERF_COUNT_HW_CPU_CYCLES};

Test(sampler, precise_ip_steps_down_2_1_0_as_perf_does)
{
    ntried = fake_errno = 0;
    qkperf_sampler_set_open_fn(fake_open);
    qkperf_sample_config cfg = {.attr = &cycles, .name = "cycles", .period = 1000000};
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_self(&cfg, &e);
    qkperf_sampler_set_open_fn(NULL);
    cr_assert_not_null(s, "%s", e.msg);
    cr_assert_geq(ntried, 3);
    cr_expect_eq(tried[0], 2);
    cr_expect_eq(tried[1], 1);
    cr_expect_eq(tried[2], 0);
    for (int i = 3; i < ntried; i++)
        cr_expect_eq(tried[i], 0, "later events keep the level found");
    cr_expect_eq(qkperf_sampler_precise(s), 0);
    qkperf_sampler_close(s);
}

static void check_open_error(int errnum, qkperf_why want, const char *text)
{
    ntried = 0;
    fake_errno = errnum;
    qkperf_sampler_set_open_fn(fake_open);
    qkperf_sample_config cfg = {.attr = &cycles, .name = "cycles"};
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_self(&cfg, &e);
    qkperf_sampler_set_open_fn(NULL);
    fake_errno = 0;
    cr_assert_null(s);
    cr_expect_eq(e.why, want, "errno %d: why %d (%s)", errnum, e.why, e.msg);
    cr_expect_eq(e.errnum, errnum);
    cr_expect_not_null(strstr(e.msg, "cycles"), "%s", e.msg);
    cr_expect_not_null(strstr(e.msg, text), "%s", e.msg);
    cr_expect_null(strchr(e.msg, '\n'));
}

Test(sampler, no_pmu_is_reported_without_retries)
{
    check_open_error(ENOENT, QKPERF_WHY_NO_PMU, "no hardware PMU (ENOENT");
    cr_expect_eq(ntried, 1, "ENOENT is not a precise_ip refusal: %d tries", ntried);
}

Test(sampler, not_permitted_shows_paranoid)
{
    check_open_error(EACCES, QKPERF_WHY_NOT_PERMITTED, "perf_event_paranoid = ");
}

/* The real hardware event: on a PMU it samples; here it must fail with a
 * reason a person can act on. QKPERF_REQUIRE_HW=1 makes the failure one. */
Test(sampler, a_hardware_event_samples_or_says_why)
{
    qkperf_sample_config cfg = {.attr = &cycles, .name = "cycles", .period = 1000000};
    qkperf_err e = {0};
    qkperf_sampler *s = qkperf_sampler_open_self(&cfg, &e);
    const char *req = getenv("QKPERF_REQUIRE_HW");
    if (s == NULL) {
        cr_expect(e.why == QKPERF_WHY_NO_PMU || e.why == QKPERF_WHY_NOT_PERMITTED, "%s", e.msg);
        if (req != NULL && strcmp(req, "1") == 0)
            cr_assert_fail("QKPERF_REQUIRE_HW=1 but: %s", e.msg);
        cr_skip_test("%s", e.msg);
    }
    cr_assert_eq(qkperf_sampler_enable(s), 0);
    inline_work_run(1, N_INNER, 0, 0.2);
    qkperf_sampler_disable(s);
    cr_expect_gt(qkperf_sampler_drain(s, NULL), 0);
    cr_log_info("precise_ip %d", qkperf_sampler_precise(s));
    qkperf_sampler_close(s);
}

Test(sampler, ring_pages_must_be_a_power_of_two)
{
    qkperf_sample_config cfg = {.pages = 100};
    qkperf_err e = {0};
    cr_expect_null(qkperf_sampler_open_self(&cfg, &e));
    cr_expect_not_null(strstr(e.msg, "power of two"), "%s", e.msg);
}

Test(sampler, wilson_interval_of_25_in_100)
{
    double p, lo, hi;
    qkperf_share_wilson(25, 100, &p, &lo, &hi);
    cr_expect_float_eq(p, 0.25, 1e-12);
    cr_expect_float_eq(lo, 0.175452, 1e-5);
    cr_expect_float_eq(hi, 0.343045, 1e-5);
    qkperf_share_wilson(0, 0, &p, &lo, &hi);
    cr_expect(isnan(p) && isnan(lo) && isnan(hi));
    qkperf_share_wilson(0, 50, &p, &lo, &hi);
    cr_expect_eq(lo, 0.0);
    cr_expect_gt(hi, 0.0);
}
