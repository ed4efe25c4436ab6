/*
 * test_kernels.c — every runnable variant of every op against its scalar
 * reference: the sprint's correctness cases (gemv cases run for both gemv
 * ops, float and int8 activations), the one list of variants
 * (src/variants.def) against what the library and docs/format.md say, each
 * variant's phase table, and the staged phases (through libqk256's kernel
 * module) composed back into the fused result, bit for bit.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qk256.h"
#include "qk256_impl.h"
#include "qkperf/kernel.h"
#include "rng.h"
#include "tester.h"
#include "workload.h"

/* Every line of variants.def: the ladder the library must have. */
static const struct def_variant {
    const char *op, *name;
    unsigned isa;
} defs[] = {
#define QK_VARIANT(op_, id, name_, isa_, summary) {QK256_OPNAME_##op_, name_, QK256_ISA_##isa_},
#include "variants.def"
#undef QK_VARIANT
};
enum { NDEFS = sizeof defs / sizeof defs[0] };

/* ---- libqk256's kernel module, as the harness would see it -------------- */

static const qk_module *module(void)
{
    return qk256_kernel_module();
}

static const qk_op *find_op(const char *name)
{
    for (const qk_op *const *op = module()->ops; *op; op++)
        if (!strcmp((*op)->name, name))
            return *op;
    return NULL;
}

static unsigned phase_count(const qk_op *op)
{
    unsigned n = 0;
    while (op->phases[n])
        n++;
    return n;
}

static size_t variant_count(const char *op)
{
    size_t n = 0;
    for (const qk_variant *const *v = module()->variants; *v; v++)
        n += !strcmp((*v)->op, op);
    return n;
}

static const qk_variant *variant_at(const char *op, size_t i)
{
    for (const qk_variant *const *v = module()->variants; *v; v++)
        if (!strcmp((*v)->op, op) && i-- == 0)
            return *v;
    return NULL;
}

static int runnable(const qk_variant *v)
{
    return (v->isa & ~qk_cpu_isa()) == 0;
}

static void expect_dq(const char *v, const qkt_case *c)
{
    qkt_result r = qkt_check_dequantize(v, c);
    cr_expect_eq(r.rc, QK256_OK, "dequantize %s n=%zu: rc %d", v, c->cols, r.rc);
    cr_expect_eq(
        r.mismatches, 0,
        "dequantize %s n=%zu seed=%llu: %zu outputs differ from scalar, first at %zu: %g vs %g", v,
        c->cols, (unsigned long long)c->seed, r.mismatches, r.first_bad, r.got, r.want);
}

static void expect_gv(const char *op, const char *v, const qkt_case *c)
{
    qkt_result r = qkt_check_gemv_op(op, v, c);
    cr_expect_eq(r.rc, QK256_OK, "%s %s %zux%zu: rc %d", op, v, c->rows, c->cols, r.rc);
    cr_expect_eq(r.mismatches, 0,
                 "%s %s %zux%zu seed=%llu: %zu rows off by more than 1e-4, first row %zu: %g vs %g",
                 op, v, c->rows, c->cols, (unsigned long long)c->seed, r.mismatches, r.first_bad,
                 r.got, r.want);
}

#define EACH(op, v) for (const char *const *v##_p = qkt_runnable(op), *v; (v = *v##_p); v##_p++)

/* Every runnable variant v of every gemv op `op`. */
static const char *const gemv_ops[] = QKT_GEMV_OPS;
#define EACH_GV(op, v)                                                                \
    for (size_t op##_i = 0; op##_i < QKT_N_GEMV_OPS; op##_i++)                        \
        for (const char *op = gemv_ops[op##_i], *const *v##_p = qkt_runnable(op), *v; \
             (v = *v##_p); v##_p++)

static const size_t sprint_sizes[] = {256, 512, 1024, 4096, 300, 513};

/* The API's ladder and the module's variants are variants.def's lines, in
 * its order; the reference (the first of each op) is scalar. */
Test(ladder, is_variants_def)
{
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    for (size_t o = 0; o < 3; o++) {
        const char *const *names = qk256_variant_names(ops[o]);
        cr_assert_not_null(names, "%s has no variants", ops[o]);
        size_t k = 0;
        for (size_t i = 0; i < NDEFS; i++) {
            if (strcmp(defs[i].op, ops[o]))
                continue;
            cr_expect(names[k] && !strcmp(names[k], defs[i].name), "%s rung %zu: %s, want %s",
                      ops[o], k, names[k] ? names[k] : "(end)", defs[i].name);
            k += names[k] != NULL;
        }
        cr_expect_null(names[k], "%s: %s is not in variants.def", ops[o], names[k]);
        cr_expect_str_eq(names[0], "scalar", "%s: the reference comes first", ops[o]);
        cr_expect_null(find_op(ops[o])->reference);
    }
    size_t i = 0;
    for (const qk_variant *const *v = module()->variants; *v; v++, i++) {
        cr_assert_lt(i, NDEFS, "the module has more variants than variants.def");
        cr_expect(!strcmp((*v)->op, defs[i].op) && !strcmp((*v)->name, defs[i].name) &&
                      (*v)->isa == defs[i].isa,
                  "module variant %zu is %s %s, variants.def says %s %s", i, (*v)->op, (*v)->name,
                  defs[i].op, defs[i].name);
    }
    cr_expect_eq(i, NDEFS, "the module has %zu variants, variants.def %d", i, NDEFS);
}

/* The rows of docs/format.md's variant tables ("| ops | `name` | ..." in
 * the section "## The ladder"), as "op name" pairs in order, into list. */
static size_t docs_variants(char list[][64], size_t cap)
{
    const char *dir = getenv("QKPERF_SRCDIR");
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/docs/format.md", dir ? dir : ".");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s (QKPERF_SRCDIR is set by make check)", path);
    size_t n = 0;
    int in = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "## ", 3))
            in = !strncmp(line, "## The ladder", 13);
        char *bar = strchr(line + 1, '|'), *tick = bar ? strchr(bar, '`') : NULL;
        if (!in || line[0] != '|' || !tick || tick > strchr(bar + 1, '|'))
            continue;
        size_t len = strcspn(tick + 1, "`");
        *bar = '\0';
        for (char *op = strtok(line + 1, ", "); op && n < cap; op = strtok(NULL, ", "))
            snprintf(list[n++], sizeof list[0], "%s %.*s", op, (int)len, tick + 1);
    }
    fclose(f);
    return n;
}

/* 1 if a docs_variants entry is of op. */
static int of_op(const char *entry, const char *op)
{
    size_t n = strlen(op);
    return !strncmp(entry, op, n) && entry[n] == ' ';
}

/* Each op's variants appear in docs/format.md's tables in ladder order, and
 * no other variant does. */
Test(ladder, docs_table_lists_variants_def)
{
    char docs[64][64];
    size_t n = docs_variants(docs, 64);
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    for (size_t o = 0; o < 3; o++) {
        size_t k = 0;
        for (size_t i = 0; i < NDEFS; i++) {
            if (strcmp(defs[i].op, ops[o]))
                continue;
            char want[64];
            snprintf(want, sizeof want, "%s %s", ops[o], defs[i].name);
            while (k < n && !of_op(docs[k], ops[o]))
                k++;
            cr_expect(k < n && !strcmp(docs[k], want), "docs/format.md: %s: %s, want %s", ops[o],
                      k < n ? docs[k] : "(end)", want);
            k++;
        }
        for (; k < n; k++)
            cr_expect(!of_op(docs[k], ops[o]),
                      "docs/format.md lists %s, which variants.def has not", docs[k]);
    }
    cr_expect_gt(n, 0, "no variant table found in docs/format.md");
}

/* Every variant has a staged runner and the fused kernel's blocks for every
 * phase (a block in one phase only: it names the phase of the code inlined
 * from it), and its llvm-mca regions under "<op>/<name>". */
Test(phases, every_variant_has_a_complete_table)
{
    for (const qk_variant *const *vp = module()->variants; *vp; vp++) {
        const qk_variant *v = *vp;
        const qk_op *op = find_op(v->op);
        char mca[96];
        snprintf(mca, sizeof mca, "%s/%s", v->op, v->name);
        cr_assert(op && v->phases, "%s %s has no phase table", v->op, v->name);
        cr_expect(v->mca && !strcmp(v->mca, mca), "%s %s: mca prefix %s", v->op, v->name,
                  v->mca ? v->mca : "(none)");
        for (unsigned p = 0; p < phase_count(op); p++) {
            const qk_phase *ph = &v->phases[p];
            cr_expect(ph->staged && ph->blocks, "%s %s %s: staged runner and blocks", v->op,
                      v->name, op->phases[p]);
            cr_expect(!ph->note || (*ph->note && !strchr(ph->note, '\n')),
                      "%s %s %s: a note is one line", v->op, v->name, op->phases[p]);
            for (const char *const *b = ph->blocks; b && *b; b++)
                for (unsigned q = p + 1; q < phase_count(op); q++)
                    for (const char *const *c = v->phases[q].blocks; c && *c; c++)
                        cr_expect(strcmp(*b, *c), "%s %s: block %s in phases %s and %s", v->op,
                                  v->name, *b, op->phases[p], op->phases[q]);
        }
    }
}

Test(sprint, dequantize_sizes)
{
    EACH("dequantize", v) for (size_t i = 0; i < 6; i++)
    {
        qkt_case c = qkt_case_default(1, sprint_sizes[i], 7);
        expect_dq(v, &c);
    }
}

Test(sprint, gemv_sizes)
{
    EACH_GV(op, v) for (size_t i = 0; i < 6; i++)
    {
        qkt_case c = qkt_case_default(19, sprint_sizes[i], 7);
        expect_gv(op, v, &c);
    }
}

Test(sprint, seeds_at_1024)
{
    static const uint64_t seeds[] = {1, 42, 1337, 9999, 12345, 54321, 99999};
    for (size_t i = 0; i < 7; i++) {
        EACH("dequantize", v)
        {
            qkt_case c = qkt_case_default(1, 1024, seeds[i]);
            expect_dq(v, &c);
        }
        EACH_GV(op, v)
        {
            qkt_case c = qkt_case_default(16, 1024, seeds[i]);
            expect_gv(op, v, &c);
        }
    }
}

Test(sprint, uniform_codes)
{
    for (int code = 0; code < 4; code++) {
        EACH("dequantize", v)
        {
            qkt_case c = qkt_case_default(1, 1024, 3);
            c.code = code;
            expect_dq(v, &c);
        }
        EACH_GV(op, v)
        {
            qkt_case c = qkt_case_default(9, 1024, 3);
            c.code = code;
            c.no_scales = 1;
            expect_gv(op, v, &c);
            qkt_result r = qkt_check_gemv_op(op, v, &c);
            /* int8: each x[j] moves by at most sx / 2 <= 1/254 (|x| < 1) */
            double want = (double)qk256_default_lut[code] * r.sum_x;
            double slack = strcmp(op, "gemv") == 0 ? 0.01 * fabs(want) + 1e-6
                                                   : 2.0 * 1024 / 254.0 + 0.01 * fabs(want);
            cr_expect(fabs(r.first_y - want) <= slack,
                      "%s %s code %d: y = %g, lut[c] * sum(x) = %g", op, v, code, r.first_y, want);
        }
    }
}

Test(sprint, zero_input_gives_zero)
{
    static const float zeros[4] = {0, 0, 0, 0};
    EACH_GV(op, v)
    {
        qkt_case c = qkt_case_default(8, 1024, 5);
        c.zero_x = 1;
        qkt_result r = qkt_check_gemv_op(op, v, &c);
        cr_expect(r.rc == QK256_OK && r.first_y == 0.0f && r.mismatches == 0,
                  "%s %s with x = 0: y[0] = %g", op, v, r.first_y);
    }
    EACH("dequantize", v)
    {
        float out[300];
        uint8_t packed[128];
        memset(packed, 0xe4, sizeof packed);
        memset(out, 0xff, sizeof out);
        cr_assert_eq(qk256_dequantize_variant(v, out, packed, NULL, 300, zeros), QK256_OK);
        for (size_t i = 0; i < 300; i++)
            cr_expect(out[i] == 0.0f, "dequantize %s zero table: out[%zu] = %g", v, i, out[i]);
    }
}

Test(sprint, eight_rows_with_wide_stride)
{
    EACH_GV(op, v)
    {
        qkt_case c = qkt_case_default(8, 512, 11);
        c.stride = qk256_row_bytes(512) + 96;
        expect_gv(op, v, &c);
    }
}

Test(kernels, ternary_table_and_null_scales)
{
    static const float ternary[4] = {-1.0f, 0.0f, 1.0f, 0.0f};
    EACH("dequantize", v)
    {
        qkt_case c = qkt_case_default(1, 1000, 21);
        c.lut = ternary;
        expect_dq(v, &c);
        c.no_scales = 1;
        expect_dq(v, &c);
    }
    EACH_GV(op, v)
    {
        qkt_case c = qkt_case_default(13, 1000, 21);
        c.lut = ternary;
        expect_gv(op, v, &c);
        c.no_scales = 1;
        expect_gv(op, v, &c);
    }
}

Test(kernels, unaligned_pointers)
{
    for (size_t off = 1; off < 64; off += 5) {
        EACH("dequantize", v)
        {
            qkt_case c = qkt_case_default(1, 777, off);
            c.misalign = off;
            expect_dq(v, &c);
        }
        EACH_GV(op, v)
        {
            qkt_case c = qkt_case_default(11, 777, off);
            c.misalign = off;
            expect_gv(op, v, &c);
        }
    }
}

Test(kernels, every_small_size)
{
    for (size_t n = 1; n <= 530; n++) {
        EACH("dequantize", v)
        {
            qkt_case c = qkt_case_default(1, n, n);
            expect_dq(v, &c);
        }
    }
    for (size_t rows = 1; rows <= 17; rows++)
        for (size_t cols = 1; cols <= 530; cols += 37) {
            EACH_GV(op, v)
            {
                qkt_case c = qkt_case_default(rows, cols, rows * 1000 + cols);
                expect_gv(op, v, &c);
            }
        }
}

/* p2's 8-row tiles do not pay below 8 rows, so p2 and p3 run the rows past
 * their last whole group through p1-p4's one-row blocks: every row count
 * must give p1-p4's results bit for bit (same summation order). */
Test(kernels, rows_past_the_last_tile_match_p1_p4_exactly)
{
    if (qk256_variant_supported("gemv", "avx2-p1-p4") != 1)
        cr_skip_test("no AVX2 here");
    enum { COLS = 777, MAXR = 19 };
    size_t stride = qk256_row_bytes(COLS), nb = (COLS + 255) / 256;
    uint8_t *packed = malloc(MAXR * stride);
    float *scales = malloc(MAXR * nb * sizeof *scales), *x = malloc(COLS * sizeof *x);
    float want[MAXR], got[MAXR];
    qk_rng rng = {7};
    for (size_t i = 0; i < MAXR * stride; i++)
        packed[i] = (uint8_t)qk_rng_next(&rng);
    for (size_t i = 0; i < MAXR * nb; i++)
        scales[i] = qk_rng_float(&rng, 0.5f, 2.0f);
    for (size_t i = 0; i < COLS; i++)
        x[i] = qk_rng_nonzero(&rng);
    static const char *const tiled[] = {"avx2-p1-p4-p2", "avx2-p1-p4-p2-p3"};
    for (size_t rows = 1; rows <= MAXR; rows++) {
        cr_assert_eq(
            qk256_gemv_variant("avx2-p1-p4", want, packed, stride, scales, x, rows, COLS, NULL),
            QK256_OK);
        for (size_t k = 0; k < 2; k++) {
            cr_assert_eq(
                qk256_gemv_variant(tiled[k], got, packed, stride, scales, x, rows, COLS, NULL),
                QK256_OK);
            for (size_t r = 0; r < rows; r++)
                cr_expect(got[r] == want[r], "%s, %zu rows: row %zu is %.9g, p1-p4 %.9g", tiled[k],
                          rows, r, got[r], want[r]);
        }
    }
    free(packed);
    free(scales);
    free(x);
}

/* ---- staged phases, through the kernel module -------------------------- */

static void run_staged(const qk_variant *v, void *ws, const qk_op *op)
{
    cr_assert_eq(op->stage(ws), 0, "%s: stage: %s", op->name, strerror(errno));
    for (unsigned p = 0; p < phase_count(op); p++)
        v->phases[p].staged(ws);
}

Test(staged, unpack_exact_on_many_seeds)
{
    const char *ops[] = {"dequantize", "gemv"};
    for (int o = 0; o < 2; o++) {
        const qk_op *op = find_op(ops[o]);
        for (size_t i = 0; i < variant_count(ops[o]); i++) {
            const qk_variant *v = variant_at(ops[o], i);
            if (!runnable(v))
                continue;
            for (uint64_t seed = 1; seed <= 110; seed++) {
                /* gemv: a group of 8 rows and 3 past it */
                size_t dim[2] = {o ? 11 : 1000 + seed, 700 + seed};
                qk256_ws *w = op->create(dim, seed);
                cr_assert_not_null(w);
                cr_assert_eq(op->stage(w), 0);
                v->phases[o ? QK_GV_UNPACK : QK_DQ_UNPACK].staged(w);
                size_t pad = w->nb * QK256_BLOCK, bad = 0;
                for (size_t r = 0; r < w->rows; r++)
                    for (size_t j = 0; j < w->cols; j++)
                        bad +=
                            w->codes[r * pad + j] != qk256_code(w->packed + r * w->row_stride, j);
                cr_expect_eq(bad, 0, "%s %s unpack seed %llu: %zu codes wrong", ops[o], v->name,
                             (unsigned long long)seed, bad);
                op->destroy(w);
            }
        }
    }
}

/* The staged phases give the fused kernel's outputs bit for bit, for row
 * counts that are and are not multiples of the 8-row tiles. */
/* The intermediates are made by stage, not create: a fused run (the
 * reference check, --no-staged, the decode) never pays for them. */
Test(staged, intermediates_are_made_by_stage_alone)
{
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    const size_t dim[2] = {40, 1000};
    for (int o = 0; o < 3; o++) {
        const qk_op *op = find_op(ops[o]);
        qk256_ws *w = op->create(dim, 3);
        cr_assert_not_null(w);
        cr_expect(!w->codes && !w->vals && !w->wq, "%s: create made intermediates", ops[o]);
        for (size_t i = 0; i < variant_count(ops[o]); i++)
            if (runnable(variant_at(ops[o], i)))
                variant_at(ops[o], i)->fused(w);
        cr_expect(!w->codes && !w->vals && !w->wq, "%s: a fused run made intermediates", ops[o]);
        cr_assert_eq(op->stage(w), 0);
        uint8_t *codes = w->codes;
        cr_expect(codes && (o == 2 ? w->wq && !w->vals : w->vals && !w->wq),
                  "%s: stage made codes %p vals %p wq %p", ops[o], (void *)w->codes,
                  (void *)w->vals, (void *)w->wq);
        cr_assert_eq(op->stage(w), 0);
        cr_expect_eq(w->codes, codes, "%s: a second stage made them again", ops[o]);
        op->destroy(w);
    }
}

Test(staged, phases_compose_to_fused_exactly)
{
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    const size_t dims[][2] = {{1024, 0}, {4099, 0}, {37, 1000}, {8, 256}, {13, 777}, {3, 300}};
    for (int o = 0; o < 3; o++) {
        const qk_op *op = find_op(ops[o]);
        for (size_t i = 0; i < variant_count(ops[o]); i++) {
            const qk_variant *v = variant_at(ops[o], i);
            if (!runnable(v))
                continue;
            for (size_t d = o ? 2 : 0; d < (o ? 6u : 2u); d++) {
                void *fused = op->create(dims[d], 99), *staged = op->create(dims[d], 99);
                cr_assert(fused && staged);
                v->fused(fused);
                run_staged(v, staged, op);
                double diff = op->compare(staged, fused);
                cr_expect(diff == 0.0, "%s %s %zux%zu: staged phases differ from fused by %g",
                          ops[o], v->name, dims[d][0], dims[d][1], diff);
                op->destroy(fused);
                op->destroy(staged);
            }
        }
    }
}

Test(staged, fused_matches_scalar_on_workspaces)
{
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    const size_t dims[3][2] = {{16384, 0}, {64, 2560}, {64, 2560}};
    for (int o = 0; o < 3; o++) {
        const qk_op *op = find_op(ops[o]);
        void *ref = op->create(dims[o], 5);
        variant_at(ops[o], 0)->fused(ref);
        for (size_t i = 1; i < variant_count(ops[o]); i++) {
            const qk_variant *v = variant_at(ops[o], i);
            if (!runnable(v))
                continue;
            void *ws = op->create(dims[o], 5);
            v->fused(ws);
            double diff = op->compare(ws, ref);
            cr_expect(o ? diff <= QKT_GEMV_TOL : diff == 0.0, "%s %s differs from scalar by %g",
                      ops[o], v->name, diff);
            op->destroy(ws);
        }
        op->destroy(ref);
    }
}

/* ---- the tester itself -------------------------------------------------- */

/* A reference that fails is a failed case, not a pass with nothing compared. */
Test(tester, a_failing_reference_fails_the_case)
{
    qkt_case c = qkt_case_default(5, 300, 3);
    c.reference = "no-such-variant";
    qkt_result g = qkt_check_gemv("scalar", &c), d = qkt_check_dequantize("scalar", &c);
    cr_expect(g.rc == QK256_OK && g.ref_rc == QK256_E_UNKNOWN && g.mismatches == 5,
              "gemv: rc %d, reference rc %d, %zu mismatches", g.rc, g.ref_rc, g.mismatches);
    cr_expect(d.rc == QK256_OK && d.ref_rc == QK256_E_UNKNOWN && d.mismatches == 300,
              "dequantize: rc %d, reference rc %d, %zu mismatches", d.rc, d.ref_rc, d.mismatches);
}

/* The variants every test above leaves out on this CPU, by name: this
 * test skips saying which (a PASS means every variant was tested). */
Test(tester, every_variant_runs_here)
{
    const char *ops[] = {"dequantize", "gemv", "gemv-i8"};
    char text[3200] = "";
    size_t n = 0;
    for (size_t o = 0; o < 3; o++)
        if (*qkt_skipped(ops[o]) && n < sizeof text)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%s: %s", n ? "; " : "", ops[o],
                                  qkt_skipped(ops[o]));
    if (n)
        cr_skip_test("this CPU cannot run %s: those are not tested here", text);
}

/* Variants this CPU cannot run are left out by name, with what they need. */
Test(tester, names_the_variants_it_skips)
{
    setenv("QK256_DISABLE", "avx2", 1); /* this test's process only */
    const char *const *r = qkt_runnable("gemv");
    cr_expect(r[0] && !strcmp(r[0], "scalar") && !r[1], "only scalar runs without AVX2");
    const char *skipped = qkt_skipped("gemv");
    for (size_t i = 0; i < NDEFS; i++) {
        char want[96];
        snprintf(want, sizeof want, "%s (needs %s)", defs[i].name, qk_isa_names(defs[i].isa));
        if (!strcmp(defs[i].op, "gemv") && defs[i].isa)
            cr_expect(strstr(skipped, want), "skipped list '%s' lacks %s", skipped, want);
    }
}

/* ---- vector quantization of x ------------------------------------------- */

/* The vector quantizers give the portable routine's integers, layout and
 * scale bit for bit: random x, ties, tiny values, all zeros, every length
 * up to 600 and more beyond (whole and partial blocks and chunks). */
static void expect_same_quantization(const char *variant, qk256_quantize_fn fn, size_t chunk)
{
    size_t i = 0;
    while (variant_at("gemv-i8", i) && strcmp(variant_at("gemv-i8", i)->name, variant))
        i++;
    if (!runnable(variant_at("gemv-i8", i)))
        cr_skip_test("this CPU cannot run %s", variant);
    uint64_t st = 12345;
    for (size_t cols = 1; cols <= 1100; cols += cols < 600 ? 1 : 37)
        for (int kind = 0; kind < 4; kind++) {
            size_t nb = (cols + QK256_BLOCK - 1) / QK256_BLOCK;
            float *x = malloc(cols * sizeof *x);
            int8_t *q1 = malloc(nb * QK256_BLOCK), *q2 = malloc(nb * QK256_BLOCK);
            int32_t *s1 = malloc(nb * sizeof *s1), *s2 = malloc(nb * sizeof *s2);
            cr_assert(x && q1 && q2 && s1 && s2);
            for (size_t j = 0; j < cols; j++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                float u = (float)(st >> 40) / (float)(1 << 24) - 0.5f;
                /* kind 1: ties (amax 127 makes x * inv = x, halves included) */
                x[j] = kind == 0   ? 3.0f * u
                       : kind == 1 ? (float)(int)(254.0f * u) * 0.5f
                       : kind == 2 ? 1e-30f * u
                                   : 0.0f;
            }
            if (kind == 1)
                x[0] = 127.0f;
            memset(q2, 0x5a, nb * QK256_BLOCK);
            memset(s2, 0x5a, nb * sizeof *s2);
            float a = qk256_quantize_x(q1, s1, x, cols, chunk);
            float b = fn(q2, s2, x, cols, chunk);
            cr_expect(a == b && memcmp(q1, q2, nb * QK256_BLOCK) == 0 &&
                          memcmp(s1, s2, nb * sizeof *s1) == 0,
                      "%s, cols %zu kind %d: vector quantization differs", variant, cols, kind);
            free(x), free(q1), free(q2), free(s1), free(s2);
        }
}

Test(quantize, avx512_matches_the_reference_bit_for_bit)
{
    expect_same_quantization("avx512-vnni", qk256_quantize_x_avx512, 256);
}

Test(quantize, avx2_matches_the_reference_bit_for_bit)
{
    expect_same_quantization("avx2-maddubs", qk256_quantize_x_avx2, 128);
}
