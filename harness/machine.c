/*
 * machine.c — where results came from: machine and build descriptions.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <qkperf/kernel.h>
#include "machine.h"
#include "perf.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

json_t *qkperf_machine_json(const qkperf_probe_t *p)
{
    const char *pmu_status = p->hw_why == QKPERF_WHY_OK ? "available" : "unavailable";
    return json_pack("{s:s,s:i,s:i,s:s,s:s,s:i,s:{s:s,s:s,s:s,s:s?,s:s},s:f,s:f,s:b}", "cpu_model",
                     p->cpu_model, "family", (int)p->family, "model", (int)p->model, "isa",
                     qk_isa_names(qk_cpu_isa()), "kernel", p->kernel, "cpus",
                     (int)sysconf(_SC_NPROCESSORS_ONLN), "pmu", "status", pmu_status, "reason",
                     p->hw_why == QKPERF_WHY_OK ? "" : p->hw_reason, "why",
                     qkperf_why_text(p->hw_why), "libpfm_pmu", p->pfm_pmu, "groups",
                     p->pfm_groups ? p->pfm_groups : "perf", "tsc_mhz", p->tsc_mhz, "core_per_tsc",
                     p->core_per_tsc, "tsc_invariant", p->tsc_invariant);
}

json_t *qkperf_build_json(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "version", PACKAGE_VERSION, "git", qkperf_build_git,
                     "compiler", QK_CC_VERSION, "cflags", qkperf_build_cflags, "isa_flags",
                     qkperf_build_isa_cflags);
}

static const char *field(json_t *m, const char *a, const char *b)
{
    json_t *v = json_object_get(m, a);
    if (b)
        v = json_object_get(v, b);
    const char *s = json_string_value(v);
    return s ? s : "?";
}

int qkperf_machine_mismatch(json_t *a, json_t *b, const char *what_a, const char *what_b)
{
    static const char *const keys[][2] = {{"cpu_model", NULL}, {"pmu", "status"}};
    int n = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *x = field(a, keys[i][0], keys[i][1]), *y = field(b, keys[i][0], keys[i][1]);
        if (strcmp(x, y) != 0) {
            fprintf(stderr, "qkperf: warning: %s%s%s differs: '%s' in %s, '%s' in %s\n", keys[i][0],
                    keys[i][1] ? " " : "", keys[i][1] ? keys[i][1] : "", x, what_a, y, what_b);
            n++;
        }
    }
    return n;
}
