/*
 * pfm.c — event names to perf_event attributes (see pfm.h).
 *
 * With libpfm4 (HAVE_LIBPFM), every name goes through
 * pfm_get_os_event_encoding(PFM_OS_PERF_EVENT_EXT) at PFM_PLM3 (user level
 * only: perf_event_paranoid 2 forbids kernel counting for most users; perf.c
 * clears exclude_kernel again for software events, which the kernel counts
 * in kernel context, and falls back to user-only when refused), and
 * libpfm's PMU tables answer which model the host is; CPUID (or a table
 * where CPUID says nothing) how many counters a thread has. libpfm decides "present" from CPUID, so
 * a present PMU is not a promise that perf_event_open will work: the perf.c probe decides that.
 *
 * Without libpfm, a fixed table of the generic perf:: names keeps the sw
 * source (and the generic hw events, where a PMU exists) usable; any other
 * name is QKPERF_PFM_NOLIB. Both builds clear attr first (libpfm validates
 * some of its fields, so garbage must not reach it) and then set the same
 * fields: size, type, config, config1, config2, and the user-only exclusion
 * bits that PFM_PLM3 implies. The caller sets read_format, disabled, the
 * privilege level it wants, etc. afterwards.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "pfm.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_LIBPFM
#include <perfmon/pfmlib_perf_event.h>
#include <stdlib.h>
#endif

/* One formatted line into msg; tolerates msg == NULL (caller wants the code). */
static void pfm4_msg(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;

    if (msg == NULL || msglen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
}

/* The exclusion bits of PFM_PLM3 (count user level only). */
static void pfm4_user_only(struct perf_event_attr *attr)
{
    attr->exclude_kernel = 1;
    attr->exclude_hv = 1;
}

#ifdef HAVE_LIBPFM

static int pfm_ready;

int qkperf_pfm_init(char *msg, size_t msglen)
{
    int ret;

    if (pfm_ready)
        return 0;
    /* libpfm reads LIBPFM_ENCODE_INACTIVE here, once: callers that want
     * other vendors' tables must set it before the first call. */
    ret = pfm_initialize();
    if (ret != PFM_SUCCESS) {
        pfm4_msg(msg, msglen, "libpfm4: pfm_initialize failed: %s", pfm_strerror(ret));
        return -1;
    }
    pfm_ready = 1;
    return 0;
}

/* libpfm's description of the PMU called name (present or not), or -1. */
static int pfm4_pmu_by_name(const char *name, size_t len, pfm_pmu_info_t *info)
{
    pfm_pmu_t p;

    pfm_for_all_pmus(p)
    {
        memset(info, 0, sizeof(*info));
        info->size = sizeof(*info);
        if (pfm_get_pmu_info(p, info) != PFM_SUCCESS)
            continue; /* PMU id not compiled into this libpfm */
        if (strlen(info->name) == len && strncmp(info->name, name, len) == 0)
            return 0;
    }
    return -1;
}

/* Length of the "pmu" in "pmu::EVENT", or 0 when the name has no prefix. */
static size_t pfm4_prefix_len(const char *name)
{
    const char *sep = strstr(name, "::");

    return sep ? (size_t)(sep - name) : 0;
}

/* After PFM_ERR_NOTFOUND: is it the PMU's table that is switched off? */
static int pfm4_not_found(const char *name, char *msg, size_t msglen)
{
    size_t len = pfm4_prefix_len(name);
    pfm_pmu_info_t info;

    if (len > 0 && pfm4_pmu_by_name(name, len, &info) == 0 && !info.is_present &&
        getenv("LIBPFM_ENCODE_INACTIVE") == NULL) {
        /* The Zen 4 note: libpfm 4.13 matches Zen 4 by exact model, so
         * a real Zen 4 host can land here too. */
        pfm4_msg(msg, msglen,
                 "%s: PMU '%s' is not active in libpfm on this host "
                 "(set LIBPFM_ENCODE_INACTIVE=1 to encode it anyway%s)",
                 name, info.name,
                 strstr(info.name, "zen4") ? "; libpfm 4.13 knows Zen 4 "
                                             "only as family 0x19 model 0x11"
                                           : "");
        return QKPERF_PFM_INACTIVE;
    }
    pfm4_msg(msg, msglen, "%s: unknown event (libpfm4: %s)", name, pfm_strerror(PFM_ERR_NOTFOUND));
    return QKPERF_PFM_UNKNOWN;
}

/* A libpfm error code as one of ours, with the message. */
static int pfm4_error(const char *name, int ret, char *msg, size_t msglen)
{
    switch (ret) {
    case PFM_ERR_NOTFOUND:
        return pfm4_not_found(name, msg, msglen);
    case PFM_ERR_ATTR:
    case PFM_ERR_ATTR_VAL:
    case PFM_ERR_ATTR_SET:
    case PFM_ERR_UMASK:
    case PFM_ERR_FEATCOMB:
        pfm4_msg(msg, msglen,
                 "%s: bad unit mask or modifier "
                 "(libpfm4: %s)",
                 name, pfm_strerror(ret));
        return QKPERF_PFM_BADATTR;
    default:
        pfm4_msg(msg, msglen, "%s: cannot encode (libpfm4: %s)", name, pfm_strerror(ret));
        return QKPERF_PFM_UNKNOWN;
    }
}

int qkperf_pfm_encode(const char *name, struct perf_event_attr *attr, char *msg, size_t msglen)
{
    pfm_perf_encode_arg_t arg;
    int ret;

    if (qkperf_pfm_init(msg, msglen) != 0)
        return QKPERF_PFM_UNKNOWN;
    /* libpfm reads attr->size to know how much of the caller's struct it
     * may write; arg.size is the ABI version of the argument itself. */
    memset(attr, 0, sizeof(*attr));
    attr->size = sizeof(*attr);
    memset(&arg, 0, sizeof(arg));
    arg.attr = attr;
    arg.size = sizeof(arg);
    ret = pfm_get_os_event_encoding(name, PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
    if (ret != PFM_SUCCESS)
        return pfm4_error(name, ret, msg, msglen);
    attr->size = sizeof(*attr);
    pfm4_user_only(attr);
    return QKPERF_PFM_OK;
}

/* The first present core PMU that is a real model (not the generic perf,
 * perf_raw tables, which libpfm also marks present). */
static int pfm4_host_info(pfm_pmu_info_t *info)
{
    pfm_pmu_t p;

    if (qkperf_pfm_init(NULL, 0) != 0)
        return -1;
    pfm_for_all_pmus(p)
    {
        memset(info, 0, sizeof(*info));
        info->size = sizeof(*info);
        if (pfm_get_pmu_info(p, info) != PFM_SUCCESS || !info->is_present)
            continue;
        if (info->type != PFM_PMU_TYPE_CORE)
            continue;
        if (strcmp(info->name, "perf") == 0 || strcmp(info->name, "perf_raw") == 0)
            continue;
        return 0;
    }
    return -1;
}

const char *qkperf_pfm_host_pmu(void)
{
    pfm_pmu_info_t info;

    /* info.name points into libpfm's static tables: safe to return. */
    return pfm4_host_info(&info) == 0 ? info.name : NULL;
}

/*
 * The general-purpose counters a thread may use. Intel's fixed counters
 * are extra capacity the kernel uses on its own for cycles (0x3c),
 * instructions (0xc0) and TOPDOWN:SLOTS, so a group with those events fits
 * "general + the fixed ones"; callers that split groups count them
 * separately. libpfm's num_cntrs is a static figure of its table, not
 * CPUID (its icl table says 16, "with HT off", where an Ice Lake thread
 * has 8), so on the host's own Intel PMU the count comes from CPUID leaf
 * 0xa (EAX bits 15:8, what the kernel uses: it already halves for SMT on
 * Skylake); where that leaf reports no PMU (a VM without one, or another
 * vendor's table), from the table below, else from libpfm's. Generic
 * perf:: names (and names without a prefix) land on the host PMU's
 * counters, so they get the host's count.
 */
static const struct {
    const char *pmu;
    int counters;
} qkperf_pfm_thread_counters[] = {
    {"icl", 8}, /* Sunny Cove: 8 per logical processor, SMT or not */
    {"icx", 8},
};

/* CPUID.0AH: general counters per logical processor, 0 when not reported. */
static int cpuid_counters(void)
{
    unsigned a, b, c, d;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    if (a < 0xa || b != 0x756e6547) /* "Genu": leaf 0xa is Intel's */
        return 0;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xa), "c"(0));
    return (a & 0xff) >= 1 ? (int)(a >> 8 & 0xff) : 0;
}

static int pfm4_counters_of(const pfm_pmu_info_t *info, int host, const char **origin)
{
    int cpuid = host ? cpuid_counters() : 0;
    if (cpuid > 0) {
        *origin = "CPUID leaf 0xa";
        return cpuid;
    }
    for (size_t i = 0; i < sizeof qkperf_pfm_thread_counters / sizeof qkperf_pfm_thread_counters[0];
         i++)
        if (strcmp(info->name, qkperf_pfm_thread_counters[i].pmu) == 0) {
            *origin = "the model's count per thread; CPUID leaf 0xa reports none";
            return qkperf_pfm_thread_counters[i].counters;
        }
    *origin = "libpfm's table";
    return info->num_cntrs > 0 ? info->num_cntrs : -1;
}

int qkperf_pfm_counters(const char *name, const char **origin)
{
    size_t len = name ? pfm4_prefix_len(name) : 0;
    pfm_pmu_info_t info, host;
    const char *unused;

    if (origin == NULL)
        origin = &unused;
    *origin = "unknown";
    if (qkperf_pfm_init(NULL, 0) != 0)
        return -1;
    int have_host = pfm4_host_info(&host) == 0;
    if (len == 0 || (len == 4 && strncmp(name, "perf", 4) == 0))
        return have_host ? pfm4_counters_of(&host, 1, origin) : -1;
    if (pfm4_pmu_by_name(name, len, &info) != 0)
        return -1;
    return pfm4_counters_of(&info, have_host && strcmp(info.name, host.name) == 0, origin);
}

int qkperf_pfm_num_counters(const char *name)
{
    return qkperf_pfm_counters(name, NULL);
}

#else /* !HAVE_LIBPFM */

/* The generic names, as libpfm encodes them (checked against libpfm 4.13):
 * every name the groups/perf folder uses, so that folder works without
 * libpfm too. */
static const struct {
    const char *name;
    __u32 type;
    __u64 config;
} qkperf_pfm_generic[] = {
    {"perf::PERF_COUNT_HW_CPU_CYCLES", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"perf::PERF_COUNT_HW_INSTRUCTIONS", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {"perf::PERF_COUNT_HW_STALLED_CYCLES_FRONTEND", PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_STALLED_CYCLES_FRONTEND},
    {"perf::PERF_COUNT_HW_STALLED_CYCLES_BACKEND", PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_STALLED_CYCLES_BACKEND},
    {"perf::PERF_COUNT_HW_CACHE_L1D:READ:ACCESS", PERF_TYPE_HW_CACHE,
     PERF_COUNT_HW_CACHE_L1D | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
         (PERF_COUNT_HW_CACHE_RESULT_ACCESS << 16)},
    {"perf::PERF_COUNT_HW_CACHE_L1D:READ:MISS", PERF_TYPE_HW_CACHE,
     PERF_COUNT_HW_CACHE_L1D | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
         (PERF_COUNT_HW_CACHE_RESULT_MISS << 16)},
    {"perf::PERF_COUNT_SW_TASK_CLOCK", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
    {"perf::PERF_COUNT_SW_PAGE_FAULTS", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {"perf::PERF_COUNT_SW_CONTEXT_SWITCHES", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"perf::PERF_COUNT_SW_CPU_MIGRATIONS", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
};

int qkperf_pfm_init(char *msg, size_t msglen)
{
    (void)msg;
    (void)msglen;
    return 0;
}

int qkperf_pfm_encode(const char *name, struct perf_event_attr *attr, char *msg, size_t msglen)
{
    size_t i;

    for (i = 0; i < sizeof(qkperf_pfm_generic) / sizeof(qkperf_pfm_generic[0]); i++) {
        if (strcmp(name, qkperf_pfm_generic[i].name) != 0)
            continue;
        memset(attr, 0, sizeof(*attr));
        attr->size = sizeof(*attr);
        attr->type = qkperf_pfm_generic[i].type;
        attr->config = qkperf_pfm_generic[i].config;
        pfm4_user_only(attr);
        return QKPERF_PFM_OK;
    }
    pfm4_msg(msg, msglen,
             "%s: qkperf was built without libpfm4 "
             "(only the generic perf:: names are known; "
             "install libpfm4-dev and reconfigure)",
             name);
    return QKPERF_PFM_NOLIB;
}

const char *qkperf_pfm_host_pmu(void)
{
    return NULL;
}

int qkperf_pfm_counters(const char *name, const char **origin)
{
    (void)name;
    if (origin != NULL)
        *origin = "unknown";
    return -1;
}

int qkperf_pfm_num_counters(const char *name)
{
    return qkperf_pfm_counters(name, NULL);
}

#endif /* HAVE_LIBPFM */
