/*
 * test_probe.c — the probe (harness/probe.c): it must report what this
 * machine can count by trying, classify hardware failures (no PMU, not
 * permitted, not counted) the same way on every machine — the open test
 * seam stands in for the kernel — and find the external tools on PATH.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "probe.h"
#include "scratch.h"

static void seam_restore(void)
{
    qkperf_set_open_fn(NULL);
}

static char *print_to_string(const qkperf_probe_t *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    qkperf_probe_print(p, f);
    fclose(f);
    return buf;
}

/* ---- this machine ---------------------------------------------------------- */

static void cpuinfo_model(char *out, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    cr_assert_not_null(f);
    snprintf(out, len, "unknown");
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':') + 2;
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, len, "%s", v);
            break;
        }
    }
    fclose(f);
}

Test(probe, describes_this_machine)
{
    qkperf_probe_t p;
    struct utsname u;
    char model[128];
    qkperf_probe(&p);
    cpuinfo_model(model, sizeof model);
    cr_expect_str_eq(p.cpu_model, model);
    cr_assert_eq(uname(&u), 0);
    cr_expect_str_eq(p.kernel, u.release);
    cr_expect_eq(p.paranoid, qkperf_perf_paranoid());
    cr_expect(p.tsc_mhz >= 100 && p.tsc_mhz <= 10000, "%.1f MHz", p.tsc_mhz);
    cr_expect(p.core_per_tsc >= 0.2 && p.core_per_tsc <= 10, "%.2f", p.core_per_tsc);
    cr_expect_eq(p.sw_why, QKPERF_WHY_OK, "software events work wherever Linux runs: %s",
                 p.sw_reason);
}

/* Whatever the machine, the hw verdict is consistent with trying again. */
Test(probe, hw_verdict_matches_a_direct_open)
{
    qkperf_probe_t p;
    qkperf_probe(&p);
    if (p.hw_why == QKPERF_WHY_OK) {
        const char *ev[2] = {p.hw_events[0], p.hw_events[1]};
        qkperf_err err;
        qkperf_pgroup *g = qkperf_pgroup_open(ev, 2, -1, &err);
        cr_expect_not_null(g, "%s", err.msg);
        qkperf_pgroup_close(g);
        return;
    }
    cr_expect_neq(p.hw_reason[0], '\0');
    cr_expect_not_null(strstr(p.hw_reason, "::"), "reason names an event: %s", p.hw_reason);
    cr_expect_not_null(strstr(p.hw_reason, qkperf_why_text(p.hw_why)), "%s", p.hw_reason);
    cr_expect_eq(p.rdpmc, 0);
    cr_expect_neq(p.rdpmc_reason[0], '\0');
}

Test(probe, report_has_one_aligned_line_per_source)
{
    static const char *const labels[] = {"cpu",      "kernel", "libpfm", "hw",     "sw",   "rdpmc",
                                         "paranoid", "tsc",    "sim",    "static", "plots"};
    qkperf_probe_t p;
    qkperf_probe(&p);
    char *text = print_to_string(&p);
    const char *line = text;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        char want[16];
        snprintf(want, sizeof want, "%-10s ", labels[i]);
        cr_assert_eq(strncmp(line, want, 11), 0, "line %zu should start '%s': %s", i, want, line);
        line = strchr(line, '\n');
        cr_assert_not_null(line);
        line++;
    }
    cr_expect_eq(*line, '\0');
    const char *hw = strstr(text, "\nhw ");
    cr_assert_not_null(hw);
    cr_expect_eq(strncmp(hw + 12, "unavailable: ", 13) == 0, p.hw_why != QKPERF_WHY_OK, "%s", hw);
    free(text);
}

/* ---- hardware failures through the open seam --------------------------------- */

/* Software events reach the kernel; everything else fails with fake_errno. */
static int fake_errno;

static long fake_no_hw(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                       unsigned long flags)
{
    if (attr->type == PERF_TYPE_SOFTWARE)
        return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
    errno = fake_errno;
    return -1;
}

Test(probe, no_pmu_is_reported_with_the_errno, .fini = seam_restore)
{
    qkperf_probe_t p;
    fake_errno = ENOENT;
    qkperf_set_open_fn(fake_no_hw);
    qkperf_probe(&p);
    cr_expect_eq(p.hw_why, QKPERF_WHY_NO_PMU);
    cr_expect_eq(p.hw_errnum, ENOENT);
    cr_expect_not_null(strstr(p.hw_reason, "ENOENT"), "%s", p.hw_reason);
    cr_expect_eq(p.sw_why, QKPERF_WHY_OK, "%s", p.sw_reason);
    cr_expect_eq(p.rdpmc, 0);
    char *text = print_to_string(&p);
    cr_expect_not_null(strstr(text, "\nhw         unavailable: "), "%s", text);
    cr_expect_not_null(strstr(text, "no hardware PMU (ENOENT"), "%s", text);
    /* As root every sw event counts; otherwise paranoid 2 makes two n/a. */
    const char *sw_rest = p.sw_event_why[2] == QKPERF_WHY_OK
                              ? " context-switches cpu-migrations\n"
                              : "; n/a: context-switches cpu-migrations (";
    char want[128];
    snprintf(want, sizeof want, "\nsw         available: task-clock page-faults%s", sw_rest);
    cr_expect_not_null(strstr(text, want), "%s", text);
    free(text);
}

Test(probe, not_permitted_names_paranoid, .fini = seam_restore)
{
    qkperf_probe_t p;
    fake_errno = EACCES;
    qkperf_set_open_fn(fake_no_hw);
    qkperf_probe(&p);
    cr_expect_eq(p.hw_why, QKPERF_WHY_NOT_PERMITTED);
    cr_expect_not_null(strstr(p.hw_reason, "perf_event_paranoid"), "%s", p.hw_reason);
}

/* No PMU, and kernel-mode counting refused (perf_event_paranoid 2 for a
 * user without CAP_PERFMON): the sw source stays available, with the two
 * kernel-mode events listed n/a and why. */
static long fake_user_only(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                           unsigned long flags)
{
    if (attr->type != PERF_TYPE_SOFTWARE) {
        errno = ENOENT;
        return -1;
    }
    if (!attr->exclude_kernel) {
        errno = EACCES;
        return -1;
    }
    return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

Test(probe, kernel_mode_refused_lists_sw_events_na, .fini = seam_restore)
{
    qkperf_probe_t p;
    qkperf_set_open_fn(fake_user_only);
    qkperf_probe(&p);
    cr_expect_eq(p.sw_why, QKPERF_WHY_OK, "%s", p.sw_reason);
    cr_expect_eq(p.sw_event_why[0], QKPERF_WHY_OK);
    cr_expect_eq(p.sw_event_why[1], QKPERF_WHY_OK);
    cr_expect_eq(p.sw_event_why[2], QKPERF_WHY_KERNEL_ONLY);
    cr_expect_eq(p.sw_event_why[3], QKPERF_WHY_KERNEL_ONLY);
    char *text = print_to_string(&p);
    char want[320];
    snprintf(want, sizeof want,
             "\nsw         available: task-clock page-faults; n/a: "
             "context-switches cpu-migrations (%s)\n",
             qkperf_why_text(QKPERF_WHY_KERNEL_ONLY));
    cr_expect_not_null(strstr(text, want), "%s", text);
    free(text);
}

/* Hardware events are opened as task-clock bound to a CPU this thread is
 * not allowed on: they open fine but never run, as a PMU that is present
 * but never schedules the group would. */
static int other_cpu;

static long fake_never_runs(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
                            unsigned long flags)
{
    if (attr->type != PERF_TYPE_SOFTWARE) {
        attr->type = PERF_TYPE_SOFTWARE;
        attr->config = PERF_COUNT_SW_TASK_CLOCK;
        cpu = other_cpu;
    }
    return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

Test(probe, opened_but_never_running_is_not_counted, .fini = seam_restore)
{
    cpu_set_t set;
    int here = sched_getcpu();
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        cr_skip_test("needs two online CPUs");
    cr_assert_geq(here, 0);
    CPU_ZERO(&set);
    CPU_SET(here, &set);
    cr_assert_eq(sched_setaffinity(0, sizeof set, &set), 0);
    other_cpu = here == 0 ? 1 : 0;
    qkperf_set_open_fn(fake_never_runs);
    qkperf_probe_t p;
    qkperf_probe(&p);
    cr_expect_eq(p.hw_why, QKPERF_WHY_NOT_COUNTED, "why %d: %s", p.hw_why, p.hw_reason);
    cr_expect_not_null(strstr(p.hw_reason, "not counted"), "%s", p.hw_reason);
}

/* ---- tools on PATH -------------------------------------------------------------- */

static char tooldir[] = "/tmp/qkperf-probe-XXXXXX";
static char *saved_path;

static void tooldir_setup(void)
{
    qkt_scratch_make(tooldir);
    const char *p = getenv("PATH");
    saved_path = strdup(p != NULL ? p : "");
}

static void tooldir_teardown(void)
{
    setenv("PATH", saved_path, 1);
    free(saved_path);
    cr_expect_eq(qkt_scratch_remove(tooldir), 0, "could not remove %s", tooldir);
}

static void fake_tool(const char *name, const char *version_line)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tooldir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "#!/bin/sh\necho 'A tool (http://example.org/):'\necho '%s'\n", version_line);
    fclose(f);
    cr_assert_eq(chmod(path, 0755), 0);
}

Test(probe_tools, finds_the_first_name_on_path_and_its_version, .init = tooldir_setup,
     .fini = tooldir_teardown)
{
    static const char *const names[] = {"qkperf-no-such-tool", "fake-mca-14", NULL};
    qkperf_tool t;
    char want[128];
    fake_tool("fake-mca-14", "  Debian LLVM version 14.0.6");
    setenv("PATH", tooldir, 1);
    cr_assert_eq(qkperf_probe_tool(names, &t), 1);
    snprintf(want, sizeof want, "%s/fake-mca-14", tooldir);
    cr_expect_str_eq(t.path, want);
    cr_expect_str_eq(t.version, "14.0.6");

    fake_tool("fake-valgrind", "valgrind-3.19.0");
    static const char *const vg[] = {"fake-valgrind", NULL};
    cr_assert_eq(qkperf_probe_tool(vg, &t), 1);
    cr_expect_str_eq(t.version, "3.19.0");
}

Test(probe_tools, missing_tool_says_how_to_install, .init = tooldir_setup, .fini = tooldir_teardown)
{
    static const char *const names[] = {"valgrind", NULL};
    qkperf_probe_t p;
    setenv("PATH", tooldir, 1);
    qkperf_probe(&p);
    cr_expect_eq(qkperf_probe_tool(names, &p.valgrind), 0);
    cr_expect_str_eq(p.valgrind.path, "");
    cr_expect_str_eq(p.gnuplot.path, "");
    char *text = print_to_string(&p);
    cr_expect_not_null(strstr(text, "\nsim        unavailable: valgrind not found on PATH "
                                    "(apt-get install valgrind)\n"),
                       "%s", text);
    cr_expect_not_null(strstr(text, "\nplots      unavailable: gnuplot not found"), "%s", text);
    free(text);
}
