/*
 * testpmu_cpu.c — the two instructions the test PMU answers, and its clock.
 *
 * CPUID: libpfm4 (and qkperf's probe) decide which PMU the machine has
 * from the vendor string (leaf 0) and family/model (leaf 1). To make
 * libpfm encode for the stand-in's PMU on any x86 host, the library turns
 * on CPUID faulting for the process (arch_prctl(ARCH_SET_CPUID, 0), which
 * KVM offers to guests and Intel and recent AMD CPUs offer natively), and
 * the SIGSEGV handler answers those two leaves with the model's identity;
 * every other leaf, and the other registers, come from the real CPUID
 * (faulting switched off around it, per thread). LIBPFM_FORCE_PMU is not
 * an alternative: libpfm 4.13 then activates the forced PMU only, and the
 * perf:: generic and software names stop encoding.
 *
 * rdpmc: with no PMU the instruction faults (#GP). When the pages offer
 * cap_user_rdpmc, the handler answers it with the counter's value as the
 * model has it now, so the self-monitoring read path runs for real. The
 * handler only looks at #GP faults (si_code SI_KERNEL) on the opcodes
 * 0f a2 and 0f 33; anything else goes to the application's handler, which
 * the sigaction wrapper in testpmu.c keeps behind this one.
 *
 * The clock: the user page converts TSC ticks to ns with time_mult and
 * time_shift. Under KVM the kernel's own page has no such conversion
 * (cap_user_time 0), so the TSC frequency is calibrated once against
 * CLOCK_MONOTONIC_RAW and all times of the model use that conversion.
 */
#include "testpmu.h"

#include <asm/prctl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <x86intrin.h>

static struct sigaction tp_app_segv; /* what the application asked for */
static int tp_segv_ours;

/* ---- CPUID -------------------------------------------------------------------- */

static void tp_cpuid_insn(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ __volatile__("cpuid"
                         : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(leaf), "c"(sub));
}

/* The real CPUID: faulting is per thread, so switching it off around the
 * instruction does not let another thread through. */
static void tp_cpuid_real(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (tp_cfg.cpuid_emulated)
        tp_raw_syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1, 0, 0, 0, 0);
    tp_cpuid_insn(leaf, sub, r);
    if (tp_cfg.cpuid_emulated)
        tp_raw_syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0, 0, 0, 0, 0);
}

static const char *tp_vendor_string(enum tp_vendor v)
{
    return v == TP_AMD ? "AuthenticAMD" : "GenuineIntel";
}

/* Leaf 0 says the vendor in EBX, EDX, ECX; leaf 1 EAX is the signature. */
static void tp_cpuid_answer(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    const tp_model *m = tp_cfg.model;
    tp_cpuid_real(leaf, sub, r);
    if (leaf == 0) {
        const char *v = tp_vendor_string(tp_model_vendor(m));
        memcpy(&r[1], v, 4);
        memcpy(&r[3], v + 4, 4);
        memcpy(&r[2], v + 8, 4);
    } else if (leaf == 1) {
        r[0] = tp_model_signature(m);
    }
}

/* Does the host already look like the model (vendor, family, model)? */
static int tp_host_is_model(const tp_model *m)
{
    uint32_t r[4];
    char vendor[13];
    tp_cpuid_insn(0, 0, r);
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = '\0';
    tp_cpuid_insn(1, 0, r);
    return strcmp(vendor, tp_vendor_string(tp_model_vendor(m))) == 0 &&
           (r[0] & 0x0fff0ff0u) == (tp_model_signature(m) & 0x0fff0ff0u);
}

/* ---- the handler ------------------------------------------------------------------ */

static void tp_chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction a = tp_app_segv;
    if (a.sa_flags & SA_SIGINFO) {
        if ((void *)a.sa_sigaction != (void *)SIG_DFL &&
            (void *)a.sa_sigaction != (void *)SIG_IGN) {
            a.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN) {
        a.sa_handler(sig);
        return;
    }
    /* Default action: a fault repeats when the instruction does and
     * kills the process as it would have; a sent signal is sent again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    tp_real_sigaction(SIGSEGV, &dfl, NULL);
    if (si->si_code <= 0)
        tp_raw_syscall(SYS_tgkill, getpid(), tp_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0), SIGSEGV,
                       0, 0, 0);
}

static int tp_answer_rdpmc(greg_t *g)
{
    uint64_t v;
    pid_t tid = (pid_t)tp_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
    pthread_mutex_lock(&tp_lock);
    int ours = tp_rdpmc(tid, (uint32_t)g[REG_RCX], &v);
    pthread_mutex_unlock(&tp_lock);
    if (!ours)
        return 0;
    g[REG_RAX] = (greg_t)(v & 0xffffffffu);
    g[REG_RDX] = (greg_t)(v >> 32);
    return 1;
}

static void tp_segv(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (si->si_code == SI_KERNEL && ip[0] == 0x0f) {
        if (ip[1] == 0xa2 && tp_cfg.cpuid_emulated) {
            uint32_t r[4];
            tp_cpuid_answer((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
            g[REG_RAX] = r[0];
            g[REG_RBX] = r[1];
            g[REG_RCX] = r[2];
            g[REG_RDX] = r[3];
            g[REG_RIP] += 2;
            return;
        }
        if (ip[1] == 0x33 && tp_cfg.rdpmc && tp_answer_rdpmc(g)) {
            g[REG_RIP] += 2;
            return;
        }
    }
    tp_chain(sig, si, ucv);
}

int tp_cpu_app_sigaction(const struct sigaction *act, struct sigaction *old)
{
    if (!tp_segv_ours)
        return -1;
    if (old)
        *old = tp_app_segv;
    if (act)
        tp_app_segv = *act;
    return 0;
}

int tp_cpu_init(char *msg, size_t len)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = tp_segv;
    sa.sa_flags = SA_SIGINFO | SA_RESTART; /* not SA_ONSTACK: the handler needs a few KB */
    sigemptyset(&sa.sa_mask);
    if (tp_real_sigaction(SIGSEGV, &sa, &tp_app_segv) != 0) {
        snprintf(msg, len, "cannot install the SIGSEGV handler: %s", strerror(errno));
        return -1;
    }
    tp_segv_ours = 1;
    if (tp_host_is_model(tp_cfg.model))
        return 0;
    long rc = tp_raw_syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0, 0, 0, 0, 0);
    if (rc != 0) {
        snprintf(msg, len,
                 "cannot present a %s CPU to libpfm4: CPUID faulting is unavailable "
                 "(arch_prctl ARCH_SET_CPUID: %s)",
                 tp_model_pfm_name(tp_cfg.model), strerror((int)-rc));
        return -1;
    }
    tp_cfg.cpuid_emulated = 1;
    return 0;
}

/* ---- the clock ----------------------------------------------------------------------- */

static uint32_t tp_mult;
static uint16_t tp_shift;
static uint64_t tp_per_ms;

uint64_t tp_tsc(void)
{
    return __rdtsc();
}

/* A TSC reading and CLOCK_MONOTONIC_RAW at the same instant (the tightest
 * of a few brackets). */
static void tp_clock_pair(uint64_t *tsc, uint64_t *ns)
{
    uint64_t best = UINT64_MAX;
    for (int k = 0; k < 5; k++) {
        struct timespec ts;
        uint64_t t0 = __rdtsc();
        clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        uint64_t t1 = __rdtsc();
        if (t1 - t0 < best) {
            best = t1 - t0;
            *tsc = t0 + (t1 - t0) / 2;
            *ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
    }
}

/* ns = tsc * mult >> shift with the largest shift that keeps mult in 32
 * bits, over a 10 ms calibration. */
void tp_clock_init(void)
{
    uint64_t t0, n0, t1, n1;
    struct timespec nap = {0, 10000000};
    tp_clock_pair(&t0, &n0);
    nanosleep(&nap, NULL);
    tp_clock_pair(&t1, &n1);
    double ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
    tp_shift = 32;
    while (tp_shift > 0 && ns_per_tick * (double)(1ull << tp_shift) >= 4294967295.0)
        tp_shift--;
    tp_mult = (uint32_t)(ns_per_tick * (double)(1ull << tp_shift) + 0.5);
    tp_per_ms = (uint64_t)(1e6 / ns_per_tick + 0.5);
}

/* The kernel's formula, split so the product cannot overflow. */
uint64_t tp_clock_ns(uint64_t tsc)
{
    uint64_t quot = tsc >> tp_shift, rem = tsc & ((1ull << tp_shift) - 1);
    return quot * tp_mult + ((rem * tp_mult) >> tp_shift);
}

uint32_t tp_clock_mult(void)
{
    return tp_mult;
}

uint16_t tp_clock_shift(void)
{
    return tp_shift;
}

uint64_t tp_clock_ticks_per_ms(void)
{
    return tp_per_ms;
}
