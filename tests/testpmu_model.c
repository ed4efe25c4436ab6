/*
 * testpmu_model.c — the four PMUs the test PMU stands in for, as data: the
 * CPUID identity libpfm4 detects them by, the counters and the kernel's
 * counter constraints (arch/x86/events/{amd,intel}/core.c), the kernel's
 * maps for the generic PERF_TYPE_HARDWARE and PERF_TYPE_HW_CACHE events,
 * and the documented rates (docs/testpmu.md).
 *
 * Which raw configs are accepted is decided by libpfm4 itself: at the
 * first open every event and every single unit mask of the PMU is encoded
 * with pfm_get_os_event_encoding, and a raw config is accepted when its
 * event select is one of those events and its unit mask a combination of
 * that event's unit masks (modifiers e, i, c are free, as libpfm allows
 * them on any event). The kernel itself masks unknown bits off and counts
 * any event code; the stand-in is stricter on purpose, so that a wrong
 * encoding shows up as EINVAL here instead of as counts of nothing.
 */
#include "testpmu.h"

#include <errno.h>
#include <perfmon/pfmlib_perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counter constraints ------------------------------------------------- */

enum tp_match { TP_M_FIXED, TP_M_UEVENT, TP_M_EVENT };

/* The kernel's constraint macros: FIXED_EVENT_CONSTRAINT matches the whole
 * config and names a fixed counter (the general ones too unless the event
 * select is 0, a pseudo-encoding); INTEL_UEVENT_CONSTRAINT matches event
 * select and unit mask; INTEL_EVENT_CONSTRAINT(_RANGE) the event select. */
typedef struct tp_constraint {
    enum tp_match match;
    uint64_t lo, hi; /* FIXED, UEVENT: lo is the code; EVENT: the range */
    uint64_t mask;   /* general counters; FIXED: the fixed counter number */
    int pair;
} tp_constraint;

#define FIXED(code, n)               \
    {                                \
        TP_M_FIXED, code, code, n, 0 \
    }
#define UEVENT(code, m)               \
    {                                 \
        TP_M_UEVENT, code, code, m, 0 \
    }
#define EVENT(lo, hi, m)         \
    {                            \
        TP_M_EVENT, lo, hi, m, 0 \
    }

/* Zen 2-4: event 0x003 (Retired SSE/AVX FLOPs) counts up to 64 per cycle
 * and needs an even counter merged with the odd one after it. */
static const tp_constraint tp_amd_cons[] = {
    {TP_M_EVENT, 0x003, 0x003, ~0ull, 1},
};

static const tp_constraint tp_icl_cons[] = {
    FIXED(0x00c0, 0),       FIXED(0x01c0, 0),       FIXED(0x0100, 0),       FIXED(0x003c, 1),
    FIXED(0x0300, 2),       FIXED(0x0400, 3),       EVENT(0x03, 0x0a, 0xf), EVENT(0x1f, 0x28, 0xf),
    EVENT(0x32, 0x32, 0xf), EVENT(0x48, 0x54, 0xf), EVENT(0x60, 0x8b, 0xf), UEVENT(0x04a3, 0xff),
    UEVENT(0x10a3, 0xff),   UEVENT(0x14a3, 0xff),   EVENT(0xa3, 0xa3, 0xf), EVENT(0xa8, 0xb0, 0xf),
    EVENT(0xb7, 0xbd, 0xf), EVENT(0xd0, 0xe6, 0xf), EVENT(0xef, 0xef, 0xf), EVENT(0xf0, 0xf4, 0xf),
};

static const tp_constraint tp_skl_cons[] = {
    FIXED(0x00c0, 0),       FIXED(0x003c, 1),       FIXED(0x0300, 2),
    UEVENT(0x01c0, 0x2),    EVENT(0xd0, 0xd0, 0xf), EVENT(0xd1, 0xd1, 0xf),
    EVENT(0xd2, 0xd2, 0xf), EVENT(0xcd, 0xcd, 0xf), EVENT(0xc6, 0xc6, 0xf),
};

/* ---- generic events: the kernel's maps ----------------------------------- */

/* PERF_TYPE_HARDWARE: 0 is "not supported here" (ENOENT). */
static const uint64_t tp_zen3_hw[PERF_COUNT_HW_MAX] = {
    [PERF_COUNT_HW_CPU_CYCLES] = 0x0076,
    [PERF_COUNT_HW_INSTRUCTIONS] = 0x00c0,
    [PERF_COUNT_HW_CACHE_REFERENCES] = 0xff60,
    [PERF_COUNT_HW_CACHE_MISSES] = 0x0964,
    [PERF_COUNT_HW_BRANCH_INSTRUCTIONS] = 0x00c2,
    [PERF_COUNT_HW_BRANCH_MISSES] = 0x00c3,
    [PERF_COUNT_HW_STALLED_CYCLES_FRONTEND] = 0x00a9,
};

static const uint64_t tp_zen4_hw[PERF_COUNT_HW_MAX] = {
    [PERF_COUNT_HW_CPU_CYCLES] = 0x0076,
    [PERF_COUNT_HW_INSTRUCTIONS] = 0x00c0,
    [PERF_COUNT_HW_CACHE_REFERENCES] = 0xff60,
    [PERF_COUNT_HW_CACHE_MISSES] = 0x0964,
    [PERF_COUNT_HW_BRANCH_INSTRUCTIONS] = 0x00c2,
    [PERF_COUNT_HW_BRANCH_MISSES] = 0x00c3,
    [PERF_COUNT_HW_STALLED_CYCLES_FRONTEND] = 0x00a9,
    [PERF_COUNT_HW_REF_CPU_CYCLES] = 0x100000120ull,
};

static const uint64_t tp_intel_hw[PERF_COUNT_HW_MAX] = {
    [PERF_COUNT_HW_CPU_CYCLES] = 0x003c,          [PERF_COUNT_HW_INSTRUCTIONS] = 0x00c0,
    [PERF_COUNT_HW_CACHE_REFERENCES] = 0x4f2e,    [PERF_COUNT_HW_CACHE_MISSES] = 0x412e,
    [PERF_COUNT_HW_BRANCH_INSTRUCTIONS] = 0x00c4, [PERF_COUNT_HW_BRANCH_MISSES] = 0x00c5,
    [PERF_COUNT_HW_BUS_CYCLES] = 0x013c,          [PERF_COUNT_HW_REF_CPU_CYCLES] = 0x0300,
};

/* PERF_TYPE_HW_CACHE [cache][op][result]: 0 ENOENT, -1 EINVAL. LL and NODE
 * on Intel are OFFCORE_RESPONSE with a response mask the kernel adds. */
typedef int64_t tp_cache_map[PERF_COUNT_HW_CACHE_MAX][PERF_COUNT_HW_CACHE_OP_MAX]
                            [PERF_COUNT_HW_CACHE_RESULT_MAX];

static const tp_cache_map tp_amd_cache = {
    {{0x0040, 0xc860}, {0, 0}, {0xff5a, 0}}, /* L1D */
    {{0x0080, 0x0081}, {-1, -1}, {0, 0}},    /* L1I */
    {{0, 0}, {0, 0}, {0, 0}},                /* LL */
    {{0xff45, 0xf045}, {0, 0}, {0, 0}},      /* DTLB */
    {{0x0084, 0xff85}, {-1, -1}, {-1, -1}},  /* ITLB */
    {{0x00c2, 0x00c3}, {-1, -1}, {-1, -1}},  /* BPU */
    {{0, 0}, {-1, -1}, {-1, -1}},            /* NODE */
};

static const tp_cache_map tp_skl_cache = {
    {{0x81d0, 0x0151}, {0x82d0, 0}, {0, 0}},      /* L1D */
    {{0, 0x0283}, {-1, -1}, {0, 0}},              /* L1I */
    {{0x01b7, 0x01b7}, {0x01b7, 0x01b7}, {0, 0}}, /* LL */
    {{0x81d0, 0x0608}, {0x82d0, 0x0649}, {0, 0}}, /* DTLB */
    {{0x2085, 0x0e85}, {-1, -1}, {-1, -1}},       /* ITLB */
    {{0x00c4, 0x00c5}, {-1, -1}, {-1, -1}},       /* BPU */
    {{0x01b7, 0x01b7}, {0x01b7, 0x01b7}, {0, 0}}, /* NODE */
};

/* ---- rates ---------------------------------------------------------------- */

/* Counts per TSC tick, chosen so that every metric of harness/groups has a
 * round answer: IPC 1.5; Zen TOPDOWN 0.30 + 0.10 + 0.20 + 0.35 + 0.05 = 1;
 * Intel TOPDOWN 0.40 + 0.15 + 0.20 + 0.25 = 1; L1D miss ratio 0.06; the
 * vector-ALU port shares 0.4 / 0.3 / 0.3. docs/testpmu.md lists them all. */
typedef struct tp_rate_name {
    const char *name;
    double rate;
} tp_rate_name;

static const tp_rate_name tp_zen4_rates[] = {
    {"CYCLES_NOT_IN_HALT", 2.0},
    {"RETIRED_INSTRUCTIONS", 3.0},
    {"RETIRED_OPS", 3.6},
    {"LS_DISPATCH:LD_DISPATCH", 1.0},
    {"REQUESTS_TO_L2_GROUP1:RD_BLK_L:RD_BLK_X:CHANGE_TO_X", 0.06},
    {"MAB_ALLOCATION_BY_TYPE:LS", 0.04},
    {"ANY_DATA_CACHE_FILLS_FROM_SYSTEM:LCL_L2:LOCAL_CCX:NEAR_CACHE_NEAR_FAR:DRAM_IO_NEAR:"
     "FAR_CACHE_NEAR_FAR:DRAM_IO_FAR:ALT_MEM_NEAR_FAR",
     0.08},
    {"OPS_TYPE_DISPATCHED_FROM_DECODER:FP_DISPATCH", 1.2},
    {"OPS_TYPE_DISPATCHED_FROM_DECODER:INTEGER_DISPATCH", 2.8},
    {"DISPATCH_RESOURCE_STALL_CYCLES_1:FP_SCHEDULER_RSRC_STALL", 0.2},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_0_TOKEN_STALL", 0.1},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_1_TOKEN_STALL", 0.12},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_2_TOKEN_STALL", 0.14},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_3_TOKEN_STALL", 0.16},
    {"OPS_SOURCE_DISPATCHED_FROM_DECODER:DECODER:OPCACHE:LOOP_BUFFER", 4.8},
    {"DISPATCH_STALLS_1:FE_NO_OPS", 2.4},
    {"DISPATCH_STALLS_1:BE_STALLS", 4.2},
    {"DISPATCH_STALLS_1:SMT_CONTENTION", 0.6},
    {"RETIRED_SSE_AVX_FLOPS:ANY", 8.0},
};

static const tp_rate_name tp_zen3_rates[] = {
    {"CYCLES_NOT_IN_HALT", 2.0},
    {"RETIRED_INSTRUCTIONS", 3.0},
    {"RETIRED_OPS", 3.6},
    {"LS_DISPATCH:LD_DISPATCH", 1.0},
    {"REQUESTS_TO_L2_GROUP1:RD_BLK_L:RD_BLK_X:CHANGE_TO_X", 0.06},
    {"MAB_ALLOCATION_BY_TYPE:LS", 0.04},
    {"ANY_DATA_CACHE_FILLS_FROM_SYSTEM:LCL_L2:INT_CACHE:EXT_CACHE_LCL:MEM_IO_LCL:"
     "EXT_CACHE_RMT:MEM_IO_RMT",
     0.08},
    {"OPS_TYPE_DISPATCHED_FROM_DECODER:FP_DISP_RETIRE_MODE", 1.2},
    {"OPS_TYPE_DISPATCHED_FROM_DECODER:INT_DISP_RETIRE_MODE", 2.8},
    {"DISPATCH_RESOURCE_STALL_CYCLES_1:FP_SCHEDULER_RSRC_STALL", 0.2},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_0_TOKEN_STALL", 0.1},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_1_TOKEN_STALL", 0.12},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_2_TOKEN_STALL", 0.14},
    {"DISPATCH_RESOURCE_STALL_CYCLES_2:INT_SCHEDULER_3_TOKEN_STALL", 0.16},
    {"OPS_SOURCE_DISPATCHED_FROM_DECODER:X86DECODER_DISPATCHED:OPCACHE_DISPATCHED", 4.8},
    {"UOPS_QUEUE_EMPTY", 0.3},
    {"RETIRED_SSE_AVX_FLOPS:ANY", 8.0},
};

static const tp_rate_name tp_icl_rates[] = {
    {"CPU_CLK_UNHALTED:THREAD_P", 2.0},  {"CPU_CLK_UNHALTED:REF_TSC", 1.0},
    {"INST_RETIRED:ANY_P", 3.0},         {"INST_RETIRED:ANY", 3.0},
    {"MEM_INST_RETIRED:ALL_LOADS", 1.0}, {"MEM_LOAD_RETIRED:L1_MISS", 0.06},
    {"MEM_LOAD_RETIRED:FB_HIT", 0.03},   {"L1D:REPLACEMENT", 0.08},
    {"UOPS_DISPATCHED:PORT_0", 0.8},     {"UOPS_DISPATCHED:PORT_1", 0.6},
    {"UOPS_DISPATCHED:PORT_2_3", 1.0},   {"UOPS_DISPATCHED:PORT_4_9", 0.4},
    {"UOPS_DISPATCHED:PORT_5", 0.6},     {"UOPS_DISPATCHED:PORT_6", 0.5},
    {"UOPS_DISPATCHED:PORT_7_8", 0.3},   {"TOPDOWN:SLOTS", 10.0},
    {"UOPS_RETIRED:SLOTS", 4.0},         {"UOPS_ISSUED:ANY", 5.0},
    {"INT_MISC:RECOVERY_CYCLES", 0.1},   {"IDQ_UOPS_NOT_DELIVERED:CORE", 2.0},
};

static const tp_rate_name tp_skl_rates[] = {
    {"CPU_CLK_UNHALTED:THREAD_P", 2.0},
    {"UNHALTED_REFERENCE_CYCLES", 1.0},
    {"INST_RETIRED:ANY_P", 3.0},
    {"MEM_INST_RETIRED:ALL_LOADS", 1.0},
    {"MEM_LOAD_RETIRED:L1_MISS", 0.06},
    {"MEM_LOAD_RETIRED:FB_HIT", 0.03},
    {"L1D:REPLACEMENT", 0.08},
    {"UOPS_DISPATCHED_PORT:PORT_0", 0.8},
    {"UOPS_DISPATCHED_PORT:PORT_1", 0.6},
    {"UOPS_DISPATCHED_PORT:PORT_2", 0.5},
    {"UOPS_DISPATCHED_PORT:PORT_3", 0.5},
    {"UOPS_DISPATCHED_PORT:PORT_4", 0.4},
    {"UOPS_DISPATCHED_PORT:PORT_5", 0.6},
    {"UOPS_DISPATCHED_PORT:PORT_6", 0.5},
    {"UOPS_DISPATCHED_PORT:PORT_7", 0.3},
    {"UOPS_RETIRED:RETIRE_SLOTS", 3.2},
    {"UOPS_ISSUED:ANY", 4.0},
    {"INT_MISC:RECOVERY_CYCLES", 0.1},
    {"IDQ_UOPS_NOT_DELIVERED:CORE", 1.6},
};

#define TP_DEFAULT_RATE 1.0 /* events without a listed rate */

/* ---- the models ------------------------------------------------------------ */

/* Raw config bits each PMU defines (the sysfs format of its cpu PMU). */
#define TP_AMD_FORMAT 0x0000000fff84ffffull /* event 0-7,32-35 umask edge inv cmask */
#define TP_ICL_FORMAT 0x00000003ff8cffffull /* event umask edge pc inv cmask in_tx(cp) */
#define TP_SKL_FORMAT (TP_ICL_FORMAT | TP_SKL_ANY)
#define TP_SKL_ANY (1ull << 21)

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct tp_model {
    const char *name, *pfm;
    enum tp_vendor vendor;
    uint32_t signature; /* CPUID.1:EAX: family, model, stepping */
    int gp, fixed;
    uint64_t format, any_bit;
    const tp_constraint *cons;
    size_t ncons;
    const uint64_t *hw;
    const tp_cache_map *cache;
    const tp_rate_name *rates;
    size_t nrates;
};

static const tp_model tp_models[] = {
    {"zen4", "amd64_fam19h_zen4", TP_AMD, 0x00a10f11, 6, 0, TP_AMD_FORMAT, 0, tp_amd_cons,
     N(tp_amd_cons), tp_zen4_hw, &tp_amd_cache, tp_zen4_rates, N(tp_zen4_rates)},
    {"zen3", "amd64_fam19h_zen3", TP_AMD, 0x00a00f11, 6, 0, TP_AMD_FORMAT, 0, tp_amd_cons,
     N(tp_amd_cons), tp_zen3_hw, &tp_amd_cache, tp_zen3_rates, N(tp_zen3_rates)},
    {"icl", "icl", TP_INTEL, 0x000706e5, 8, 4, TP_ICL_FORMAT, 0, tp_icl_cons, N(tp_icl_cons),
     tp_intel_hw, &tp_skl_cache, tp_icl_rates, N(tp_icl_rates)},
    {"skl", "skl", TP_INTEL, 0x000506e3, 8, 3, TP_SKL_FORMAT, TP_SKL_ANY, tp_skl_cons,
     N(tp_skl_cons), tp_intel_hw, &tp_skl_cache, tp_skl_rates, N(tp_skl_rates)},
};

const tp_model *tp_model_find(const char *name)
{
    for (size_t i = 0; i < N(tp_models); i++)
        if (strcmp(tp_models[i].name, name) == 0)
            return &tp_models[i];
    return NULL;
}

const char *tp_model_names(void)
{
    return "zen4, zen3, icl or skl";
}

const char *tp_model_pfm_name(const tp_model *m)
{
    return m->pfm;
}

enum tp_vendor tp_model_vendor(const tp_model *m)
{
    return m->vendor;
}

uint32_t tp_model_signature(const tp_model *m)
{
    return m->signature;
}

/* Intel cores give each SMT thread half of the eight general counters. */
int tp_model_gp(const tp_model *m)
{
    return m->vendor == TP_INTEL && tp_cfg.smt ? m->gp / 2 : m->gp;
}

int tp_model_fixed(const tp_model *m)
{
    return m->fixed;
}

/* ---- the encodings libpfm4 produces ---------------------------------------- */

typedef struct tp_enc {
    uint16_t evsel;
    uint8_t umask;
    uint8_t config1;          /* libpfm puts something in config1 for this event */
    const char *event, *unit; /* libpfm's static strings; unit NULL: bare event */
} tp_enc;

#define TP_MAX_ENCS 8192
static tp_enc tp_encs[TP_MAX_ENCS];
static size_t tp_nencs;

typedef struct tp_rate {
    uint16_t evsel;
    uint8_t umask;
    uint8_t any_umask; /* the entry named the event only */
    uint16_t cond;     /* counter mask and invert bit: another quantity */
    double rate;
} tp_rate;

#define TP_MAX_RATES 512
static tp_rate tp_rates[TP_MAX_RATES];
static size_t tp_nrates;

static unsigned tp_evsel(const tp_model *m, uint64_t raw)
{
    if (m->vendor == TP_AMD)
        return (unsigned)((raw & 0xff) | ((raw >> 24) & 0xf00));
    return (unsigned)(raw & 0xff);
}

/* The counter mask (bits 31:24) and invert bit (23) of PERF_CTL/EVNTSEL,
 * alike on both vendors: "cycles with no uop delivered" (umask 0x01,
 * cmask 5) is not "uops not delivered" (umask 0x01), so each has its rate. */
static unsigned tp_cond(uint64_t raw)
{
    return (unsigned)((raw >> 24) & 0xff) | (unsigned)((raw >> 23) & 1) << 8;
}

static unsigned tp_umask(uint64_t raw)
{
    return (unsigned)((raw >> 8) & 0xff);
}

/* libpfm's perf encoding of "pmu::name" at user level: 0 or a libpfm error. */
static int tp_pfm_encode(const tp_model *m, const char *name, struct perf_event_attr *attr)
{
    char full[512];
    pfm_perf_encode_arg_t arg;
    snprintf(full, sizeof full, "%s%s%s", strstr(name, "::") ? "" : m->pfm,
             strstr(name, "::") ? "" : "::", name);
    memset(attr, 0, sizeof *attr);
    attr->size = sizeof *attr;
    memset(&arg, 0, sizeof arg);
    arg.attr = attr;
    arg.size = sizeof arg;
    return pfm_get_os_event_encoding(full, PFM_PLM3, PFM_OS_PERF_EVENT, &arg);
}

static void tp_enc_add(const tp_model *m, const char *event, const char *unit)
{
    char name[512];
    struct perf_event_attr attr;
    snprintf(name, sizeof name, "%s%s%s", event, unit ? ":" : "", unit ? unit : "");
    if (tp_nencs >= TP_MAX_ENCS || tp_pfm_encode(m, name, &attr) != PFM_SUCCESS ||
        attr.type != PERF_TYPE_RAW)
        return; /* e.g. a unit mask that needs another group's: not alone */
    tp_encs[tp_nencs++] = (tp_enc){.evsel = (uint16_t)tp_evsel(m, attr.config),
                                   .umask = (uint8_t)tp_umask(attr.config),
                                   .config1 = attr.config1 != 0,
                                   .event = event,
                                   .unit = unit};
}

/* The PMU's index in libpfm, or -1 when libpfm does not see it present. */
static int tp_pfm_pmu(const tp_model *m, pfm_pmu_info_t *info)
{
    pfm_pmu_t p;
    pfm_for_all_pmus(p)
    {
        memset(info, 0, sizeof *info);
        info->size = sizeof *info;
        if (pfm_get_pmu_info(p, info) == PFM_SUCCESS && strcmp(info->name, m->pfm) == 0)
            return info->is_present ? 0 : -1;
    }
    return -1;
}

static void tp_enc_event(const tp_model *m, int idx)
{
    pfm_event_info_t ev;
    memset(&ev, 0, sizeof ev);
    ev.size = sizeof ev;
    if (pfm_get_event_info(idx, PFM_OS_NONE, &ev) != PFM_SUCCESS)
        return;
    tp_enc_add(m, ev.name, NULL);
    for (int a = 0; a < ev.nattrs; a++) {
        pfm_event_attr_info_t at;
        memset(&at, 0, sizeof at);
        at.size = sizeof at;
        if (pfm_get_event_attr_info(idx, a, PFM_OS_NONE, &at) == PFM_SUCCESS &&
            at.type == PFM_ATTR_UMASK)
            tp_enc_add(m, ev.name, at.name);
    }
}

static int tp_enc_build(const tp_model *m, char *msg, size_t len)
{
    pfm_pmu_info_t info;
    int ret = pfm_initialize();
    if (ret != PFM_SUCCESS) {
        snprintf(msg, len, "libpfm4: pfm_initialize failed: %s", pfm_strerror(ret));
        return -1;
    }
    if (tp_pfm_pmu(m, &info) != 0) {
        snprintf(msg, len, "libpfm4 does not see PMU %s as present (CPUID identity %s)", m->pfm,
                 tp_cfg.cpuid_emulated ? "emulated" : "of the host");
        return -1;
    }
    for (int i = info.first_event; i != -1; i = pfm_get_event_next(i))
        tp_enc_event(m, i);
    return 0;
}

/* ---- rates ------------------------------------------------------------------- */

/* One "NAME=RATE" (or a built-in name): event select and unit mask through
 * libpfm; a name without unit masks covers every unit mask of the event. */
static int tp_rate_add(const tp_model *m, const char *name, double rate, char *msg, size_t len)
{
    struct perf_event_attr attr;
    int ret = tp_pfm_encode(m, name, &attr);
    if (ret != PFM_SUCCESS || attr.type != PERF_TYPE_RAW) {
        snprintf(msg, len, "%s is not an event of %s (libpfm4: %s)", name, m->pfm,
                 ret != PFM_SUCCESS ? pfm_strerror(ret) : "not a raw event");
        return -1;
    }
    if (tp_nrates >= TP_MAX_RATES) {
        snprintf(msg, len, "more than %d rates", TP_MAX_RATES);
        return -1;
    }
    const char *ev = strstr(name, "::") ? strstr(name, "::") + 2 : name;
    tp_rates[tp_nrates++] = (tp_rate){.evsel = (uint16_t)tp_evsel(m, attr.config),
                                      .umask = (uint8_t)tp_umask(attr.config),
                                      .any_umask = strchr(ev, ':') == NULL,
                                      .cond = (uint16_t)tp_cond(attr.config),
                                      .rate = rate};
    return 0;
}

/* QKPERF_TESTPMU_RATES=NAME=RATE,NAME=RATE: after the built-in ones, so a
 * later entry wins. */
int tp_model_rates(const tp_model *m, const char *env, char *msg, size_t len)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", env) >= (int)sizeof buf) {
        snprintf(msg, len, "QKPERF_TESTPMU_RATES is longer than %zu bytes", sizeof buf - 1);
        return -1;
    }
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strrchr(item, '='), *end = NULL;
        double rate = eq ? strtod(eq + 1, &end) : -1.0;
        if (eq == NULL || end == eq + 1 || *end != '\0' || !(rate >= 0.0)) {
            snprintf(msg, len,
                     "QKPERF_TESTPMU_RATES: '%s' is not EVENT=RATE with a rate >= 0 "
                     "(e.g. RETIRED_INSTRUCTIONS=3.0)",
                     item);
            return -1;
        }
        *eq = '\0';
        char sub[256];
        if (tp_rate_add(m, item, rate, sub, sizeof sub) != 0) {
            snprintf(msg, len, "QKPERF_TESTPMU_RATES: %s", sub);
            return -1;
        }
    }
    return 0;
}

static double tp_rate_of(unsigned evsel, unsigned umask, unsigned cond)
{
    for (size_t i = tp_nrates; i-- > 0;)
        if (tp_rates[i].evsel == evsel && tp_rates[i].cond == cond &&
            (tp_rates[i].any_umask || tp_rates[i].umask == umask))
            return tp_rates[i].rate;
    return TP_DEFAULT_RATE;
}

int tp_model_init(const tp_model *m, char *msg, size_t len)
{
    if (tp_enc_build(m, msg, len) != 0)
        return -1;
    for (size_t i = 0; i < m->nrates; i++)
        if (tp_rate_add(m, m->rates[i].name, m->rates[i].rate, msg, len) != 0)
            return -1; /* a built-in name libpfm does not know: a bug here */
    return 0;
}

/* ---- decoding a config ------------------------------------------------------ */

static int tp_cons_match(const tp_constraint *c, uint64_t raw)
{
    switch (c->match) {
    case TP_M_FIXED:
        return raw == c->lo;
    case TP_M_UEVENT:
        return (raw & 0xffff) == c->lo;
    default:
        return (raw & 0xff) >= c->lo && (raw & 0xff) <= c->hi;
    }
}

static tp_place tp_place_of(const tp_model *m, uint64_t raw)
{
    uint64_t gp = (1ull << tp_model_gp(m)) - 1;
    unsigned evsel = tp_evsel(m, raw);
    for (size_t i = 0; i < m->ncons; i++) {
        const tp_constraint *c = &m->cons[i];
        if (m->vendor == TP_AMD ? evsel < c->lo || evsel > c->hi : !tp_cons_match(c, raw))
            continue;
        if (c->match == TP_M_FIXED)
            return (tp_place){(1ull << (TP_FIXED + c->mask)) | ((raw & 0xff) ? gp : 0), 0};
        return (tp_place){c->mask & gp, c->pair};
    }
    return (tp_place){gp, 0};
}

/* libpfm's name of a raw config: "EVENT:UNIT" or "EVENT:0xNN". */
static void tp_name_of(const tp_model *m, unsigned evsel, unsigned umask, char *out, size_t len)
{
    const tp_enc *any = NULL;
    for (size_t i = 0; i < tp_nencs; i++) {
        if (tp_encs[i].evsel != evsel)
            continue;
        if (tp_encs[i].umask == umask) {
            snprintf(out, len, "%s::%s%s%s", m->pfm, tp_encs[i].event, tp_encs[i].unit ? ":" : "",
                     tp_encs[i].unit ? tp_encs[i].unit : "");
            return;
        }
        any = &tp_encs[i];
    }
    if (any)
        snprintf(out, len, "%s::%s:0x%02x", m->pfm, any->event, umask);
    else
        snprintf(out, len, "%s event 0x%03x umask 0x%02x", m->pfm, evsel, umask);
}

static int tp_decode_raw(const tp_model *m, const struct perf_event_attr *a, tp_hwevent *ev,
                         char *why, size_t len)
{
    unsigned evsel = tp_evsel(m, a->config), umask = tp_umask(a->config), units = 0;
    int known = 0, bare = 0, config1 = 0;
    if (a->config & ~m->format) {
        snprintf(why, len, "config 0x%llx sets bits 0x%llx outside the %s format",
                 (unsigned long long)a->config, (unsigned long long)(a->config & ~m->format),
                 m->pfm);
        return -EINVAL;
    }
    for (size_t i = 0; i < tp_nencs; i++) {
        if (tp_encs[i].evsel != evsel)
            continue;
        known = 1;
        units |= tp_encs[i].umask;
        bare |= tp_encs[i].umask == 0;
        config1 |= tp_encs[i].config1;
    }
    if (!known) {
        snprintf(why, len, "event select 0x%03x is not an event of %s", evsel, m->pfm);
        return -EINVAL;
    }
    if ((umask & ~units) != 0 || (umask == 0 && !bare)) {
        tp_name_of(m, evsel, umask, ev->name, sizeof ev->name);
        snprintf(why, len, "unit mask 0x%02x is not a combination of the unit masks of %s", umask,
                 ev->name);
        return -EINVAL;
    }
    if ((a->config1 != 0 && !config1) || a->config2 != 0) {
        snprintf(why, len, "config1/config2 set for an event that has no extra register");
        return -EINVAL;
    }
    if (m->any_bit && (a->config & m->any_bit) && tp_cfg.paranoid > 0) {
        snprintf(why, len, "AnyThread counting needs perf_event_paranoid <= 0");
        return -EACCES;
    }
    ev->raw = a->config;
    return 0;
}

/* PERF_TYPE_HARDWARE and HW_CACHE: the kernel's map to a raw config. The
 * upper 32 bits may name the cpu PMU's type (extended type, 4 here). */
static int tp_decode_generic(const tp_model *m, const struct perf_event_attr *a, tp_hwevent *ev,
                             char *why, size_t len)
{
    uint64_t cfg = a->config & 0xffffffffull, pmu = a->config >> 32;
    int64_t raw;
    if (pmu != 0 && pmu != PERF_TYPE_RAW) {
        snprintf(why, len, "extended type %llu is not a PMU here", (unsigned long long)pmu);
        return -ENOENT;
    }
    if (a->type == PERF_TYPE_HARDWARE) {
        if (cfg >= PERF_COUNT_HW_MAX) {
            snprintf(why, len, "generic event %llu >= PERF_COUNT_HW_MAX", (unsigned long long)cfg);
            return -EINVAL;
        }
        raw = (int64_t)m->hw[cfg];
    } else {
        unsigned c = cfg & 0xff, op = (cfg >> 8) & 0xff, res = (cfg >> 16) & 0xff;
        if (c >= PERF_COUNT_HW_CACHE_MAX || op >= PERF_COUNT_HW_CACHE_OP_MAX ||
            res >= PERF_COUNT_HW_CACHE_RESULT_MAX) {
            snprintf(why, len, "cache event 0x%llx out of range", (unsigned long long)cfg);
            return -EINVAL;
        }
        raw = (*m->cache)[c][op][res];
    }
    if (raw == 0 || raw == -1) {
        snprintf(why, len, "generic event 0x%llx of type %u: %s on %s", (unsigned long long)cfg,
                 a->type, raw == 0 ? "not supported" : "invalid", m->pfm);
        return raw == 0 ? -ENOENT : -EINVAL;
    }
    ev->raw = (uint64_t)raw;
    return 0;
}

int tp_model_decode(const tp_model *m, const struct perf_event_attr *attr, tp_hwevent *ev,
                    char *why, size_t len)
{
    memset(ev, 0, sizeof *ev);
    int rc = attr->type == PERF_TYPE_RAW ? tp_decode_raw(m, attr, ev, why, len)
                                         : tp_decode_generic(m, attr, ev, why, len);
    if (rc != 0)
        return rc;
    unsigned evsel = tp_evsel(m, ev->raw), umask = tp_umask(ev->raw);
    ev->place = tp_place_of(m, ev->raw);
    ev->rate = tp_rate_of(evsel, umask, tp_cond(ev->raw));
    tp_name_of(m, evsel, umask, ev->name, sizeof ev->name);
    return 0;
}
