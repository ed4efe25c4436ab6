/*
 * probe.c — fills qkperf_probe_t by trying each counter source (see
 * probe.h). A source is available only if a group opened AND counted
 * (time_running > 0 over a busy loop); otherwise the first failure, with
 * its kind and errno, is kept for the report and the JSON machine section.
 * A software event that reads n/a only because perf_event_paranoid keeps it
 * user-only (QKPERF_WHY_KERNEL_ONLY) does not make the source unavailable:
 * it is listed as n/a with that reason.
 */
#include "probe.h"
#include "groups.h"

#include "pfm.h"
#include "tsc.h"

#include <cpuid.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define QKPERF_RDPMC_SYSFS "/sys/bus/event_source/devices/cpu/rdpmc"

static const char *const hw_generic[2] = {
    "perf::PERF_COUNT_HW_CPU_CYCLES",
    "perf::PERF_COUNT_HW_INSTRUCTIONS",
};

static const char *const sw_events[4] = {
    "perf::PERF_COUNT_SW_TASK_CLOCK",
    "perf::PERF_COUNT_SW_PAGE_FAULTS",
    "perf::PERF_COUNT_SW_CONTEXT_SWITCHES",
    "perf::PERF_COUNT_SW_CPU_MIGRATIONS",
};

static const char *const sw_short[4] = {
    "task-clock",
    "page-faults",
    "context-switches",
    "cpu-migrations",
};

/* ---- trying a group ----------------------------------------------------- */

/* Work the counters can see: ~1M dependent adds the compiler must keep. */
static void probe_busy(void)
{
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < 1000000; i++)
        sink = sink + i;
}

typedef struct qkperf_try {
    qkperf_err err;
    int rdpmc;         /* the group opened and would be read with rdpmc */
    qkperf_why why[4]; /* per event: OK or QKPERF_WHY_KERNEL_ONLY */
} qkperf_try;

/* Open, count a busy loop, check every event counted (or is kernel-only
 * and kept from kernel mode, noted in t->why). OK or the failure. */
static qkperf_why try_group(const char *const *names, size_t n, qkperf_try *t)
{
    qkperf_count counts[4];
    t->rdpmc = 0;
    qkperf_pgroup *g = qkperf_pgroup_open(names, n, -1, &t->err);
    if (g == NULL)
        return t->err.why;
    t->rdpmc = qkperf_pgroup_uses_rdpmc(g);
    int rc = qkperf_pgroup_start(g);
    probe_busy();
    if (rc == 0)
        rc = qkperf_pgroup_stop(g, counts);
    qkperf_pgroup_close(g);
    if (rc != 0) {
        t->err.why = QKPERF_WHY_OTHER;
        t->err.errnum = -rc;
        snprintf(t->err.msg, sizeof t->err.msg, "%s: starting or reading the group failed (%s)",
                 names[0], strerror(-rc));
        return t->err.why;
    }
    for (size_t i = 0; i < n; i++) {
        t->why[i] = counts[i].why;
        if (!counts[i].counted && counts[i].why != QKPERF_WHY_KERNEL_ONLY) {
            t->err.why = QKPERF_WHY_NOT_COUNTED;
            t->err.errnum = 0;
            snprintf(t->err.msg, sizeof t->err.msg, "%s: opened but %s over a busy loop", names[i],
                     qkperf_why_text(QKPERF_WHY_NOT_COUNTED));
            return t->err.why;
        }
    }
    return QKPERF_WHY_OK;
}

/* ---- hardware ----------------------------------------------------------- */

static void hw_accept(qkperf_probe_t *p, const char *const names[2], const qkperf_try *t)
{
    p->hw_why = QKPERF_WHY_OK;
    p->hw_errnum = 0;
    for (int i = 0; i < 2; i++)
        snprintf(p->hw_events[i], sizeof p->hw_events[i], "%s", names[i]);
    p->rdpmc = t->rdpmc;
}

static void hw_reject(qkperf_probe_t *p, const qkperf_err *err)
{
    p->hw_why = err->why;
    p->hw_errnum = err->errnum;
    snprintf(p->hw_reason, sizeof p->hw_reason, "%s", err->msg);
}

/* The host PMU's own names for cycles and instructions: the events aliased
 * `cycles` and `instructions` in its folder's CYCLES group (so a new PMU
 * folder brings its own), else 0. */
static int hw_native_names(const qkperf_probe_t *p, char buf[2][96])
{
    static const char *const alias[2] = {"cycles", "instructions"};
    char msg[256];
    if (p->pfm_pmu == NULL || p->pfm_groups == NULL || strcmp(p->pfm_groups, "perf") == 0)
        return 0;
    qkperf_group *g = qkperf_group_load(NULL, p->pfm_groups, "CYCLES", 0, msg, sizeof msg);
    int ok = g != NULL;
    for (int k = 0; ok && k < 2; k++) {
        int e = qkperf_group_event_index(g, alias[k]);
        ok = e >= 0 && snprintf(buf[k], 96, "%s", g->events[e].name) < 96;
    }
    qkperf_group_free(g);
    return ok;
}

/* Native names first, then the kernel's generic events. When both fail the
 * reported failure is the native one if the kernel refused it (it has an
 * errno or did not count), else the generic one: "no hardware PMU" from the
 * kernel says more than "libpfm has no table". */
static void probe_hw(qkperf_probe_t *p)
{
    char native[2][96];
    const char *nn[2] = {native[0], native[1]};
    qkperf_try tn = {0}, tg = {0};
    int have_native = hw_native_names(p, native);

    if (have_native && try_group(nn, 2, &tn) == QKPERF_WHY_OK) {
        hw_accept(p, nn, &tn);
        return;
    }
    if (try_group(hw_generic, 2, &tg) == QKPERF_WHY_OK) {
        hw_accept(p, hw_generic, &tg);
        if (have_native)
            snprintf(p->hw_reason, sizeof p->hw_reason, "native names unusable: %s", tn.err.msg);
        return;
    }
    int native_kernel = have_native && (tn.err.errnum != 0 || tn.err.why == QKPERF_WHY_NOT_COUNTED);
    hw_reject(p, native_kernel ? &tn.err : &tg.err);
}

/* ---- software, rdpmc ---------------------------------------------------- */

static void probe_sw(qkperf_probe_t *p)
{
    qkperf_try t = {0};
    p->sw_why = try_group(sw_events, 4, &t);
    if (p->sw_why != QKPERF_WHY_OK) {
        snprintf(p->sw_reason, sizeof p->sw_reason, "%s", t.err.msg);
        return;
    }
    for (size_t i = 0; i < 4; i++) {
        p->sw_event_why[i] = t.why[i];
        if (t.why[i] != QKPERF_WHY_OK)
            snprintf(p->sw_reason, sizeof p->sw_reason, "%s", qkperf_why_text(t.why[i]));
    }
}

/* The admin switch for user-space rdpmc (x86 core PMU): 0 disables it. */
static int read_int_file(const char *path, int *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int ok = fscanf(f, "%d", out) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

static void probe_rdpmc(qkperf_probe_t *p)
{
    int sysfs;
    if (p->rdpmc)
        return;
    if (p->hw_why != QKPERF_WHY_OK)
        snprintf(p->rdpmc_reason, sizeof p->rdpmc_reason, "no hardware event to read");
    else if (read_int_file(QKPERF_RDPMC_SYSFS, &sysfs) == 0 && sysfs == 0)
        snprintf(p->rdpmc_reason, sizeof p->rdpmc_reason, "disabled: " QKPERF_RDPMC_SYSFS " = 0");
    else
        snprintf(p->rdpmc_reason, sizeof p->rdpmc_reason,
                 "cap_user_rdpmc or cap_user_time = 0 on the event page");
}

/* ---- machine ------------------------------------------------------------- */

static void probe_cpu(qkperf_probe_t *p)
{
    unsigned a, b, c, d;
    snprintf(p->cpu_model, sizeof p->cpu_model, "unknown");
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
        p->family = base_family + (base_family == 0xf ? (a >> 20) & 0xff : 0);
        p->model =
            base_model | (base_family == 0x6 || base_family == 0xf ? ((a >> 16) & 0xf) << 4 : 0);
    }
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || colon == NULL)
            continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(p->cpu_model, sizeof p->cpu_model, "%s", colon);
        break;
    }
    fclose(f);
}

static void probe_kernel(qkperf_probe_t *p)
{
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(p->kernel, sizeof p->kernel, "%s", u.release);
    else
        snprintf(p->kernel, sizeof p->kernel, "unknown");
}

static void probe_pfm(qkperf_probe_t *p)
{
    if (qkperf_pfm_init(p->pfm_reason, sizeof p->pfm_reason) != 0)
        return;
    p->pfm_pmu = qkperf_pfm_host_pmu();
    snprintf(p->pfm_groups_buf, sizeof p->pfm_groups_buf, "%s", qkperf_group_host_folder(NULL));
    p->pfm_groups = p->pfm_groups_buf;
    p->hw_counters = qkperf_pfm_counters(NULL, &p->hw_counters_origin);
    if (p->pfm_pmu == NULL)
        snprintf(p->pfm_reason, sizeof p->pfm_reason, "%s",
                 qkperf_why_text(QKPERF_WHY_PMU_INACTIVE));
}

/* ---- tools ---------------------------------------------------------------- */

/* The first version-looking token ("3.19.0", "14.0.6", "5.4") of a line. */
static int version_in(const char *line, char *out, size_t outlen)
{
    for (const char *s = line; *s != '\0'; s++) {
        int starts = s == line || s[-1] == ' ' || s[-1] == '-';
        if (!starts || *s < '0' || *s > '9')
            continue;
        size_t len = strspn(s, "0123456789.");
        if (len >= outlen)
            len = outlen - 1;
        memcpy(out, s, len);
        out[len] = '\0';
        return 1;
    }
    return 0;
}

/* Run "path --version" and take the version from its first few lines.
 * The path is single-quoted for the shell; a path that itself holds a
 * quote is not run (found, version unknown). */
static void tool_version(qkperf_tool *t)
{
    char cmd[sizeof t->path + 32], line[256];
    if (strchr(t->path, '\'') != NULL)
        return;
    snprintf(cmd, sizeof cmd, "'%s' --version 2>&1", t->path);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return;
    for (int i = 0; i < 4 && fgets(line, sizeof line, f) != NULL; i++)
        if (t->version[0] == '\0')
            version_in(line, t->version, sizeof t->version);
    while (fgets(line, sizeof line, f) != NULL)
        continue; /* drain, so the tool does not die of SIGPIPE mid-write */
    pclose(f);
}

/* The executable called name in one PATH entry (dir of length len). */
static int in_dir(const char *dir, size_t len, const char *name, qkperf_tool *t)
{
    if (len == 0) {
        dir = ".";
        len = 1;
    }
    int n = snprintf(t->path, sizeof t->path, "%.*s/%s", (int)len, dir, name);
    if (n > 0 && (size_t)n < sizeof t->path && access(t->path, X_OK) == 0)
        return 1;
    t->path[0] = '\0';
    return 0;
}

static int on_path(const char *name, qkperf_tool *t)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return 0;
    for (const char *s = path;; s++) {
        size_t len = strcspn(s, ":");
        if (in_dir(s, len, name, t))
            return 1;
        s += len;
        if (*s == '\0')
            return 0;
    }
}

int qkperf_probe_tool(const char *const *names, qkperf_tool *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; names[i] != NULL; i++) {
        if (on_path(names[i], out)) {
            tool_version(out);
            return 1;
        }
    }
    return 0;
}

static void probe_tools(qkperf_probe_t *p)
{
    static const char *const valgrind[] = {"valgrind", NULL};
    static const char *const mca[] = {"llvm-mca", "llvm-mca-14", NULL};
    static const char *const gnuplot[] = {"gnuplot", NULL};
    qkperf_probe_tool(valgrind, &p->valgrind);
    qkperf_probe_tool(mca, &p->llvm_mca);
    qkperf_probe_tool(gnuplot, &p->gnuplot);
}

void qkperf_probe(qkperf_probe_t *p)
{
    *p = (qkperf_probe_t){.hw_counters = -1};
    probe_cpu(p);
    probe_kernel(p);
    probe_pfm(p);
    probe_hw(p);
    probe_sw(p);
    probe_rdpmc(p);
    p->paranoid = qkperf_perf_paranoid();
    p->tsc_invariant = qkperf_tsc_invariant();
    p->tsc_mhz = qkperf_tsc_mhz();
    p->core_per_tsc = qkperf_core_per_tsc();
    probe_tools(p);
}

/* ---- report --------------------------------------------------------------- */

#define QKPERF_ROW(out, label) fprintf(out, "%-10s ", label)

static void print_hw(const qkperf_probe_t *p, FILE *out)
{
    QKPERF_ROW(out, "hw");
    if (p->hw_why != QKPERF_WHY_OK) {
        fprintf(out, "unavailable: %s\n", p->hw_reason);
        return;
    }
    fprintf(out, "available: %s %s", p->hw_events[0], p->hw_events[1]);
    if (p->hw_counters > 0)
        fprintf(out, " (%d general counters, %s)", p->hw_counters,
                p->hw_counters_origin ? p->hw_counters_origin : "libpfm's table");
    if (p->hw_reason[0] != '\0')
        fprintf(out, "; %s", p->hw_reason);
    fputc('\n', out);
}

static void print_sw(const qkperf_probe_t *p, FILE *out)
{
    QKPERF_ROW(out, "sw");
    if (p->sw_why != QKPERF_WHY_OK) {
        fprintf(out, "unavailable: %s\n", p->sw_reason);
        return;
    }
    fprintf(out, "available:");
    for (size_t i = 0; i < 4; i++)
        if (p->sw_event_why[i] == QKPERF_WHY_OK)
            fprintf(out, " %s", sw_short[i]);
    if (p->sw_reason[0] != '\0') {
        fprintf(out, "; n/a:");
        for (size_t i = 0; i < 4; i++)
            if (p->sw_event_why[i] != QKPERF_WHY_OK)
                fprintf(out, " %s", sw_short[i]);
        fprintf(out, " (%s)", p->sw_reason);
    }
    fputc('\n', out);
}

static void print_paranoid(const qkperf_probe_t *p, FILE *out)
{
    QKPERF_ROW(out, "paranoid");
    if (p->paranoid == INT_MIN)
        fprintf(out, "unknown (cannot read /proc/sys/kernel/perf_event_paranoid)\n");
    else if (p->paranoid > 2)
        fprintf(out, "%d (counting user space needs <= 2)\n", p->paranoid);
    else
        fprintf(out, "%d\n", p->paranoid);
}

static void print_tool(FILE *out, const char *label, const char *name, const qkperf_tool *t,
                       const char *what, const char *pkg)
{
    QKPERF_ROW(out, label);
    if (t->path[0] == '\0') {
        fprintf(out, "unavailable: %s not found on PATH (apt-get install %s)\n", name, pkg);
        return;
    }
    fprintf(out, "%s %s (%s, %s)\n", name, t->version[0] != '\0' ? t->version : "(version unknown)",
            what, t->path);
}

void qkperf_probe_print(const qkperf_probe_t *p, FILE *out)
{
    QKPERF_ROW(out, "cpu");
    fprintf(out, "%s (family 0x%x model 0x%x)\n", p->cpu_model, p->family, p->model);
    QKPERF_ROW(out, "kernel");
    fprintf(out, "%s\n", p->kernel);
    QKPERF_ROW(out, "libpfm");
    if (p->pfm_pmu != NULL)
        fprintf(out, "%s (groups: %s)\n", p->pfm_pmu, p->pfm_groups);
    else
        fprintf(out, "none: %s (groups: %s)\n", p->pfm_reason,
                p->pfm_groups != NULL ? p->pfm_groups : "perf");
    print_hw(p, out);
    print_sw(p, out);
    QKPERF_ROW(out, "rdpmc");
    if (p->rdpmc)
        fprintf(out, "yes\n");
    else
        fprintf(out, "no (%s)\n", p->rdpmc_reason);
    print_paranoid(p, out);
    QKPERF_ROW(out, "tsc");
    fprintf(out, "%.1f MHz %s; core/tsc ~%.2f (estimate, dependent-add chain)\n", p->tsc_mhz,
            p->tsc_invariant ? "invariant" : "NOT invariant (ticks are not time)", p->core_per_tsc);
    print_tool(out, "sim", "valgrind", &p->valgrind, "callgrind", "valgrind");
    print_tool(out, "static", "llvm-mca", &p->llvm_mca, "model", "llvm-14");
    print_tool(out, "plots", "gnuplot", &p->gnuplot, "png/svg", "gnuplot-nox");
}
