/*
 * cpu.c — which ISA features this CPU offers, as the process sees them.
 *
 * Uses gcc/clang's CPUID-backed __builtin_cpu_supports, which also checks
 * that the OS saves the wider registers (XGETBV). Under valgrind, CPUID
 * reports no AVX-512, so the AVX2 paths are chosen there automatically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

/* QK256_DISABLE="avx512,avx2" masks features off, e.g. to force a slower
 * path for comparison or to test the unsupported-ISA errors. */
static unsigned disabled_by_env(void)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {
        {"avx2", QK_ISA_AVX2 | QK_ISA_FMA | QK_ISA_AVX512 | QK_ISA_AVX512VBMI | QK_ISA_AVX512VNNI |
                     QK_ISA_AVXVNNI},
        {"fma", QK_ISA_FMA},
        {"avx512", QK_ISA_AVX512 | QK_ISA_AVX512VBMI | QK_ISA_AVX512VNNI},
        {"avx512vnni", QK_ISA_AVX512VNNI},
    };
    const char *env = getenv("QK256_DISABLE");
    unsigned off = 0;
    for (size_t i = 0; env && i < sizeof names / sizeof names[0]; i++) {
        size_t len = strlen(names[i].name);
        for (const char *p = strstr(env, names[i].name); p; p = strstr(p + 1, names[i].name))
            if ((p == env || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
                off |= names[i].bits;
    }
    return off;
}

unsigned qk_cpu_isa(void)
{
    static int done;
    static unsigned isa;
    if (done)
        return isa;
    __builtin_cpu_init();
    unsigned f = 0;
    if (__builtin_cpu_supports("avx2"))
        f |= QK_ISA_AVX2;
    if (__builtin_cpu_supports("fma"))
        f |= QK_ISA_FMA;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        f |= QK_ISA_AVX512;
    if ((f & QK_ISA_AVX512) && __builtin_cpu_supports("avx512vbmi"))
        f |= QK_ISA_AVX512VBMI;
    if ((f & QK_ISA_AVX512) && __builtin_cpu_supports("avx512vnni"))
        f |= QK_ISA_AVX512VNNI;
    isa = f & ~disabled_by_env();
    done = 1;
    return isa;
}

const char *qk_isa_names(unsigned isa)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {QK_ISA_AVX2, "avx2"},
        {QK_ISA_FMA, "fma"},
        {QK_ISA_AVX512, "avx512"},
        {QK_ISA_AVX512VBMI, "avx512vbmi"},
        {QK_ISA_AVX512VNNI, "avx512vnni"},
        {QK_ISA_AVXVNNI, "avxvnni"},
    };
    static _Thread_local char buf[96];
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(isa & names[i].bit))
            continue;
        if (buf[0])
            strcat(buf, " ");
        strcat(buf, names[i].name);
    }
    return buf[0] ? buf : "none";
}
