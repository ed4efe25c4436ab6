/*
 * test_mca.c — the `static` source (harness/mca.c): llvm-mca known answers
 * on a loop whose ports and throughput are known, an unknown CPU refused
 * rather than modelled as a generic one, a broken region reported rather
 * than fatal, and the real kernels' asm: every phase of every variant of
 * every op modelled (the AVX-512 ones for icelake-server), and the ladder's
 * expected shape (p1's vector unpack cheaper per element than mvp's scalar
 * one).
 *
 * Tests that need llvm-mca skip with the reason when it is missing; the
 * kernel tests skip when the asm is absent (QKPERF_MCA_DIR, set by
 * `make check` to the build tree's mca/).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mca.h"

static char dir[] = "/tmp/qkperf-mca-test-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void drop_dir(void)
{
    static const char *const files[] = {"vpaddd.s", "store.s", "dequant_avx2.s"};
    char path[96];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void need_tool(void)
{
    char why[512];
    if (!qkperf_mca_available(why, sizeof why) && strstr(why, "llvm-mca not found"))
        cr_skip_test("%s", why);
}

/* Eight independent vpaddd ymm: no chain, so throughput is set by the
 * ports alone. */
static const char *write_vpaddd(void)
{
    static char path[96];
    char text[1024] = "# LLVM-MCA-BEGIN vpaddd@64\n";
    for (int i = 0; i < 8; i++) {
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "\tvpaddd %%ymm8, %%ymm9, %%ymm%d\n", i);
    }
    strcat(text, "# LLVM-MCA-END vpaddd@64\n");
    snprintf(path, sizeof path, "%s/vpaddd.s", dir);
    write_file(path, text);
    return path;
}

static double pressure(const qkperf_mca_region *r, const char *name)
{
    for (size_t i = 0; i < r->nres; i++)
        if (!strcmp(r->res[i].name, name))
            return r->res[i].pressure;
    return 0;
}

static void analyze_one(const char *cpu, qkperf_mca_region **r)
{
    char err[512];
    size_t n;
    cr_assert_eq(qkperf_mca_analyze(write_vpaddd(), cpu, r, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_expect_str_eq((*r)->name, "vpaddd");
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): n is 1 */
    cr_expect_float_eq((*r)->elements, 64, 1e-9);
    cr_expect_float_eq((*r)->uops, 8, 1e-9);
}

/* Zen 3: vector integer adds go to the four FP pipes FPP0-3, 4 per cycle. */
Test(mca, vpaddd_znver3_uses_the_fp_pipes, .init = make_dir, .fini = drop_dir)
{
    need_tool();
    qkperf_mca_region *r;
    analyze_one("znver3", &r);
    cr_expect_float_eq(r->rthroughput, 2.0, 1e-9, "8 adds over 4 pipes");
    for (int p = 0; p < 4; p++) {
        char name[24];
        snprintf(name, sizeof name, "Zn3FPP%d", p);
        cr_expect_float_eq(pressure(r, name), 2.0, 0.02, "%s", name);
    }
    cr_expect_eq(r->nres, 4, "only FPP0-3 are used");
    free(r);
}

/* Skylake: ports 0, 1 and 5, rthroughput 0.33 per instruction. */
Test(mca, vpaddd_skylake_uses_ports_015, .init = make_dir, .fini = drop_dir)
{
    need_tool();
    qkperf_mca_region *r;
    analyze_one("skylake", &r);
    cr_expect_float_eq(r->rthroughput, 8.0 / 3, 0.01);
    double sum = pressure(r, "SKLPort0") + pressure(r, "SKLPort1") + pressure(r, "SKLPort5");
    cr_expect_float_eq(sum, 8, 0.02, "all 8 uops on ports 0, 1, 5");
    cr_expect_eq(r->nres, 3);
    free(r);
}

Test(mca, unknown_cpu_is_an_error_not_a_generic_model, .init = make_dir, .fini = drop_dir)
{
    need_tool();
    char err[512];
    qkperf_mca_region *r;
    size_t n;
    cr_assert_eq(qkperf_mca_analyze(write_vpaddd(), "znver4", &r, &n, err, sizeof err), -1);
    cr_expect(strstr(err, "does not know CPU 'znver4'") && strstr(err, "znver3"), "%s", err);
    cr_expect_null(r);
}

Test(mca, resource_names_have_no_control_bytes, .init = make_dir, .fini = drop_dir)
{
    need_tool();
    qkperf_mca_region *r;
    char err[512];
    size_t n;
    char path[96];
    snprintf(path, sizeof path, "%s/store.s", dir);
    /* a store loads Zn3Store/Zn3LSU: the multi-unit resources LLVM 14 names
     * with a raw byte */
    write_file(path, "# LLVM-MCA-BEGIN st@8\n\tvmovups %ymm0, (%rdi)\n# LLVM-MCA-END st@8\n");
    cr_assert_eq(qkperf_mca_analyze(path, "znver3", &r, &n, err, sizeof err), 0, "%s", err);
    int multi = 0;
    for (size_t i = 0; i < r->nres; i++) {
        for (const char *c = r->res[i].name; *c; c++)
            cr_expect((unsigned char)*c >= 0x20, "control byte in %s", r->res[i].name);
        multi |= strchr(r->res[i].name, '.') != NULL;
    }
    cr_expect(multi, "a unit of a multi-unit resource is named NAME.INDEX");
    free(r);
}

static const qkperf_record *find(const qkperf_results *res, const char *variant, const char *phase,
                                 const char *metric)
{
    return qkperf_results_find(res, "dequantize", variant, "1024", phase, metric);
}

/* A region whose END the compiler put before its BEGIN is reported for
 * that phase; the variant's other phases are still modelled. */
Test(mca, broken_region_is_reported_not_fatal, .init = make_dir, .fini = drop_dir)
{
    need_tool();
    char path[96], err[512];
    snprintf(path, sizeof path, "%s/dequant_avx2.s", dir);
    write_file(path, "# LLVM-MCA-END dequantize/avx2-mvp/unpack@1\n\taddl $1, %eax\n"
                     "# LLVM-MCA-BEGIN dequantize/avx2-mvp/unpack@1\n\taddl $2, %eax\n"
                     "# LLVM-MCA-BEGIN dequantize/avx2-mvp/lut@8\n\tvpaddd %ymm1, %ymm2, %ymm3\n"
                     "# LLVM-MCA-END dequantize/avx2-mvp/lut@8\n");
    setenv("QKPERF_MCA_DIR", dir, 1);
    const qk_op *op = qk_find_op("dequantize");
    cr_assert_not_null(op);
    qkperf_results res;
    qkperf_results_init(&res);
    cr_assert_eq(qkperf_mca_measure(op, qk_find_variant("dequantize", "avx2-mvp"), "1024", "znver3",
                                    &res, err, sizeof err),
                 0, "%s", err);
    const qkperf_record *u = find(&res, "avx2-mvp", "unpack", "rthroughput");
    const qkperf_record *l = find(&res, "avx2-mvp", "lut", "rthroughput");
    const qkperf_record *m = find(&res, "avx2-mvp", "memory", "rthroughput");
    cr_assert(u && l && m);
    cr_expect_eq(u->counted, 0);
    cr_expect(strstr(u->why, "broken"), "%s", u->why);
    cr_expect_eq(l->counted, 1);
    cr_expect_str_eq(l->source, "static");
    cr_expect_eq(m->counted, 0);
    cr_expect(strstr(m->why, "no llvm-mca region for dequantize/avx2-mvp/memory in dequant_avx2.s"),
              "%s", m->why);
    qkperf_results_free(&res);
}

/* ---- the real kernels -------------------------------------------------- */

static void need_kernel_asm(void)
{
    char why[512];
    if (!qkperf_mca_available(why, sizeof why))
        cr_skip_test("%s", why);
}

/* Every variant of op, modelled for znver3, the AVX-512 ones refused by
 * name there (llvm-mca 14's Zen models have none) and modelled for
 * icelake-server instead when avx512 is set. */
static void measure_op(const char *opname, int avx512, qkperf_results *res)
{
    const qk_op *op = qk_find_op(opname);
    char err[512];
    cr_assert_not_null(op);
    for (size_t i = 0; i < qk_variant_count(opname); i++) {
        const qk_variant *v = qk_variant_at(opname, i);
        int needs512 = (v->isa & (QK_ISA_AVX512 | QK_ISA_AVX512VBMI | QK_ISA_AVX512VNNI)) != 0;
        int rc = qkperf_mca_measure(op, v, "1024", "znver3", res, err, sizeof err);
        if (needs512) {
            /* znver3 has no AVX-512: refused by name, never a generic model */
            cr_expect(rc == -1 && strstr(err, "no AVX-512"), "%s %s: rc %d, %s", opname, v->name,
                      rc, err);
            if (!avx512)
                continue;
            rc = qkperf_mca_measure(op, v, "1024", "icelake-server", res, err, sizeof err);
        }
        cr_assert_eq(rc, 0, "%s %s: %s", opname, v->name, err);
    }
}

/* Every phase of every variant has a modelled region: the asm of every
 * kernel source is built and holds each variant's markers. */
static void check_every_phase(const char *opname)
{
    qkperf_results res;
    qkperf_results_init(&res);
    measure_op(opname, 1, &res);
    const qk_op *op = qk_find_op(opname);
    for (size_t i = 0; i < qk_variant_count(opname); i++) {
        const qk_variant *v = qk_variant_at(opname, i);
        for (unsigned p = 0; p < qk_phase_count(op); p++) {
            const qkperf_record *r =
                qkperf_results_find(&res, opname, v->name, "1024", op->phases[p], "rthroughput");
            cr_assert_not_null(r, "%s %s %s", opname, v->name, op->phases[p]);
            cr_expect(r->counted && r->median > 0, "%s %s %s: %s", opname, v->name, op->phases[p],
                      r->why);
        }
    }
    qkperf_results_free(&res);
}

Test(mca, every_dequantize_phase_is_modelled)
{
    need_kernel_asm();
    check_every_phase("dequantize");
}

Test(mca, every_gemv_phase_is_modelled)
{
    need_kernel_asm();
    check_every_phase("gemv");
}

/* The int8 kernels' markers were once in the source but never assembled. */
Test(mca, every_gemv_i8_phase_is_modelled)
{
    need_kernel_asm();
    check_every_phase("gemv-i8");
}

/* Where the marker gives the elements a pass handles, cycles/elem is
 * counted; the int8 regions give them all but hsum's (per row). */
Test(mca, gemv_i8_regions_give_elements)
{
    need_kernel_asm();
    qkperf_results res;
    qkperf_results_init(&res);
    measure_op("gemv-i8", 1, &res);
    const qk_op *op = qk_find_op("gemv-i8");
    for (size_t i = 0; i < qk_variant_count("gemv-i8"); i++)
        for (unsigned p = 0; p < qk_phase_count(op); p++) {
            const char *name = qk_variant_at("gemv-i8", i)->name, *ph = op->phases[p];
            const qkperf_record *r =
                qkperf_results_find(&res, "gemv-i8", name, "1024", ph, "cycles/elem");
            cr_assert_not_null(r, "%s %s", name, ph);
            cr_expect(strcmp(ph, "hsum") ? r->counted && r->median > 0 : !r->counted,
                      "gemv-i8 %s %s: cycles/elem %s", name, ph, r->counted ? "counted" : r->why);
        }
    qkperf_results_free(&res);
}

/* The sprint's p1 claim, as the model sees it. */
Test(mca, p1_unpack_is_cheaper_per_element_than_mvp)
{
    need_kernel_asm();
    qkperf_results res;
    qkperf_results_init(&res);
    measure_op("dequantize", 0, &res);
    const qkperf_record *mvp = find(&res, "avx2-mvp", "unpack", "cycles/elem");
    const qkperf_record *p1 = find(&res, "avx2-p1", "unpack", "cycles/elem");
    cr_assert(mvp && p1 && mvp->counted && p1->counted);
    cr_expect_lt(p1->median, mvp->median, "p1 %.3f vs mvp %.3f cycles/elem", p1->median,
                 mvp->median);
    const qkperf_record *b = NULL;
    for (size_t i = 0; i < res.n && !b; i++)
        if (!strcmp(res.rec[i].variant, "avx2-p1") && !strcmp(res.rec[i].phase, "unpack") &&
            !strncmp(res.rec[i].metric, "bottleneck ", 11))
            b = &res.rec[i];
    cr_expect(b && strstr(b->metric, "Zn3FPP"), "p1's unpack is bound by a vector pipe");
    qkperf_results_free(&res);
}

/* The model of each variant without --mcpu: the host's, except that a
 * variant needing AVX-512 gets icelake-server, labelled a stand-in, when
 * the host's model has none; with --mcpu, that model for all. */
Test(mca, avx512_variants_get_a_labelled_stand_in)
{
    const qk_variant *avx2 = qk_find_variant("gemv", "avx2-p1-p4"),
                     *vbmi = qk_find_variant("gemv", "avx512-vbmi");
    cr_assert(avx2 && vbmi);
    char label[200];
    cr_expect_str_eq(qkperf_mca_variant_cpu(avx2, "znver3", 0, label, sizeof label), "znver3");
    cr_expect_str_eq(label, "");
    cr_expect_str_eq(qkperf_mca_variant_cpu(vbmi, "znver3", 0, label, sizeof label),
                     "icelake-server");
    cr_expect_str_eq(label, "icelake-server (stand-in: the host model znver3 has no AVX-512)");
    cr_expect_str_eq(qkperf_mca_variant_cpu(vbmi, "skylake", 0, label, sizeof label),
                     "icelake-server");
    cr_expect_str_eq(qkperf_mca_variant_cpu(vbmi, "sapphirerapids", 0, label, sizeof label),
                     "sapphirerapids", "a host model with AVX-512 models them itself");
    cr_expect_str_eq(label, "");
    cr_expect_str_eq(qkperf_mca_variant_cpu(vbmi, "znver3", 1, label, sizeof label), "znver3",
                     "--mcpu: one model for all, the user's");
}

/* Every x86-64 host this project runs on gets a model without --mcpu:
 * Intel cores the table does not list by the ISA they have (this Intel
 * development VM, family 6 model 0xa7, had none before). */
Test(mca, the_host_has_a_default_model)
{
    char label[200];
    const char *cpu = qkperf_mca_default_cpu(label, sizeof label);
    if (!__builtin_cpu_supports("avx2"))
        cr_skip_test("a CPU without AVX2: %s", label);
    cr_assert_not_null(cpu, "%s", label);
    if (__builtin_cpu_is("intel") && __builtin_cpu_supports("avx512f"))
        cr_expect(!strcmp(cpu, "icelake-server") || !strcmp(cpu, "sapphirerapids") ||
                      !strcmp(cpu, "skylake-avx512"),
                  "an Intel host with AVX-512 got %s (%s)", cpu, label);
}
