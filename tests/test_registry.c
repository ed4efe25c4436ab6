/*
 * test_registry.c — the harness's registry of kernel modules
 * (harness/registry.c): libqk256's module comes first and whole, a module
 * is checked whole and refused with one line naming what is wrong (and
 * then none of it is registered), a module may add variants to another's
 * op, an op's reference is honoured, and a staged phase that is not the
 * fused code leaves a note in the results.
 */
#include <qkperf/kernel.h> /* first: the public header stands alone */

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qk256.h"
#include "registry.h"
#include "results.h"
#include "runner.h"

static void *ws_create(const size_t *dim, uint64_t seed)
{
    (void)seed;
    return calloc(1, dim[0] + 1);
}
static double count(const size_t *dim)
{
    return (double)dim[0];
}
static void run(void *ws)
{
    (void)ws;
}

static const char *const one_phase[] = {"work", NULL};
static const qk_phase run_phase[] = {{run, NULL, NULL}};
static const qk_phase noted_phase[] = {{run, NULL, "staged does less than fused"}};

/* A good op and variant, copied and broken by each test. */
static const qk_op good_op = {.name = "toy",
                              .summary = "a test op",
                              .phases = one_phase,
                              .ndim = 1,
                              .create = ws_create,
                              .destroy = free,
                              .elements = count,
                              .bytes = count};
static const qk_variant good_variant = {
    .op = "toy", .name = "plain", .summary = "", .fused = run, .phases = run_phase};

Test(registry, libqk256_comes_first_and_whole)
{
    cr_assert_geq(qk_op_count(), 3);
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    for (size_t o = 0; o < 3; o++) {
        cr_expect_str_eq(qk_op_at(o)->name, ops[o]);
        const char *const *names = qk256_variant_names(ops[o]);
        size_t i = 0;
        for (; names[i]; i++) {
            const qk_variant *v = qk_variant_at(ops[o], i);
            cr_expect(v && !strcmp(v->name, names[i]), "%s rung %zu", ops[o], i);
            cr_expect_eq(qk_variant_module(v), qk256_kernel_module());
        }
        cr_expect_eq(qk_variant_count(ops[o]), i);
        cr_expect_str_eq(qk_reference_variant(qk_op_at(o))->name, "scalar");
    }
    cr_expect_str_eq(QK_PLUGIN_SYMBOL, "qkperf_plugin");
}

Test(registry, a_module_is_checked_whole)
{
    static const struct {
        const char *why, *want;
    } cases[] = {
        {"abi", "abi 99, qkperf reads 1 to 2"},
        {"no name", "a module needs a name"},
        {"empty", "has no ops and no variants"},
        {"op taken", "op 'gemv' is already registered"},
        {"variant taken", "gemv variant 'scalar' is already registered"},
        {"orphan", "of op 'nowhere', which is not registered"},
        {"colon", "variant 'a:b' needs a name without ':'"},
        {"no create", "op 'toy' needs create and destroy"},
        {"phases", "op 'toy' needs at most 8 phases"},
        {"isa", "needs unknown ISA bits 0x40"},
        {"reference", "reference variant 'best' is not registered"},
        {"no fused", "variant 'plain' needs a name without ':' and a fused kernel"},
    };
    static const char *const nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", NULL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qk_op op = good_op;
        qk_variant v = good_variant;
        qk_module m = {QK_KERNEL_ABI, "test", NULL, NULL, NULL};
        const qk_op *ops[] = {&op, NULL};
        const qk_variant *vs[] = {&v, NULL};
        m.ops = ops;
        m.variants = vs;
        const char *w = cases[i].why;
        if (!strcmp(w, "abi"))
            m.abi = 99;
        else if (!strcmp(w, "no name"))
            m.name = "";
        else if (!strcmp(w, "empty"))
            m.ops = NULL, m.variants = NULL;
        else if (!strcmp(w, "op taken"))
            op.name = "gemv", v.op = "gemv", v.name = "mine";
        else if (!strcmp(w, "variant taken"))
            m.ops = NULL, v.op = "gemv", v.name = "scalar";
        else if (!strcmp(w, "orphan"))
            v.op = "nowhere";
        else if (!strcmp(w, "colon"))
            v.name = "a:b";
        else if (!strcmp(w, "no create"))
            op.create = NULL;
        else if (!strcmp(w, "phases"))
            op.phases = nine;
        else if (!strcmp(w, "isa"))
            v.isa = 1u << 6;
        else if (!strcmp(w, "reference"))
            op.reference = "best";
        else if (!strcmp(w, "no fused"))
            v.fused = NULL;
        char err[256] = "";
        cr_expect_eq(qk_register_module(&m, err, sizeof err), -1, "%s: accepted", w);
        cr_expect(strstr(err, cases[i].want), "%s: '%s', want '%s'", w, err, cases[i].want);
        cr_expect_null(qk_find_op("toy"), "%s: part of a refused module was registered", w);
        cr_expect_null(qk_find_variant("gemv", "mine"));
    }
    char err[256];
    cr_expect_eq(qk_register_module(NULL, err, sizeof err), -1);
}

/* A registered module is kept, not copied: static storage, as a plugin's. */
static const qk_variant mine = {
    .op = "gemv", .name = "mine", .summary = "", .fused = run, .phases = run_phase};
static const qk_variant *const mine_list[] = {&mine, NULL};
static const qk_module mine_module = {QK_KERNEL_ABI, "test", NULL, mine_list, NULL};

Test(registry, a_module_may_add_to_another_s_op)
{
    char err[256] = "";
    size_t before = qk_variant_count("gemv");
    cr_assert_eq(qk_register_module(&mine_module, err, sizeof err), 0, "%s", err);
    cr_expect_eq(qk_variant_count("gemv"), before + 1);
    cr_expect_eq(qk_variant_at("gemv", before), &mine);
    cr_expect_eq(qk_variant_module(&mine), &mine_module);
    cr_expect_eq(qk_register_module(&mine_module, err, sizeof err), -1, "the same name twice");
}

Test(registry, reference_and_staged_phases)
{
    char err[256] = "";
    qk_op op = good_op;
    op.reference = "second";
    qk_variant a = good_variant, b = good_variant, c = good_variant;
    b.name = "second";
    b.phases = noted_phase;
    c.name = "fused-only";
    c.phases = NULL;
    const qk_op *ops[] = {&op, NULL};
    const qk_variant *vs[] = {&a, &b, &c, NULL};
    qk_module m = {QK_KERNEL_ABI, "test", ops, vs, NULL};
    cr_assert_eq(qk_register_module(&m, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(qk_reference_variant(qk_find_op("toy"))->name, "second");
    cr_expect_eq(qk_phase_staged(&a, 0), run);
    cr_expect_null(qk_phase_staged(&a, 1), "past the last phase");
    cr_expect_null(qk_phase_staged(&c, 0), "no staged view");
    cr_expect_null(qk_phase_note(&a, 0));
    cr_expect_str_eq(qk_phase_note(&b, 0), "staged does less than fused");
    qkperf_results res;
    qkperf_results_init(&res);
    qkperf_note_staged(&res, &b);
    qkperf_note_staged(&res, &b);
    qkperf_note_staged(&res, &a);
    cr_assert_eq(json_array_size(res.notes), 1, "one note, once");
    cr_expect_str_eq(json_string_value(json_array_get(res.notes, 0)),
                     "toy second: staged work is not the fused kernel's code: staged does less "
                     "than fused");
    qkperf_results_free(&res);
}

/* The one staged phase of libqk256 that is not its kernel's code says so. */
Test(registry, libqk256_labels_its_staged_differences)
{
    const qk_variant *v = qk_find_variant("dequantize", "avx512-vbmi");
    const qk_op *op = qk_find_op("dequantize");
    cr_assert(v && op);
    cr_expect_not_null(qk_phase_note(v, (unsigned)qk_phase_index(op, "lut")));
    cr_expect_not_null(qk_phase_note(v, (unsigned)qk_phase_index(op, "scale")));
    cr_expect_null(qk_phase_note(v, (unsigned)qk_phase_index(op, "unpack")));
}
