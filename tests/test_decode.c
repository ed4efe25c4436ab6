/*
 * test_decode.c — the decode benchmark on a tiny model: the shape_div test
 * seam divides every matrix dimension by 8 (2560 -> 320, 640 -> 80,
 * 6912 -> 864) and --layers 1 keeps one layer, so a token takes well under
 * a millisecond. A run gives positive tokens/s in all four series, the
 * weights read its own series and each kernel its share of it, and its
 * records read back from JSON; the float and int8 paths agree on the final
 * activation, fused calls (q|k|v, gate|up) the same as one per matrix; bad
 * variants and options are refused with the known names;
 * an allocation failure is an error, not a crash; the thread count is
 * restored; the plot renders.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/commands.h" /* qkperf_cmd_decode */
#include "decode.h"
#include "plot.h" /* the decode table and plot */
#include "qk256.h"
#include "roofline.h"

enum { DIV = 8, HIDDEN = 2560 / DIV };

static void tiny(qkperf_decode_opts *o, const char *variants)
{
    qkperf_decode_opts_default(o);
    o->variants = variants;
    o->layers = 1;
    o->tokens = 3;
    o->threads = 1;
    o->quick = 1;
    o->shape_div = DIV;
}

/* A document that already holds a roofline: measure reuses it, so the
 * tests that do not need a bandwidth measurement skip its second or so. */
static void with_roofline(qkperf_results *r)
{
    qkperf_roofline rl = {1e11, 9e10, 6e10, 3e10, 16384, 524288, 16777216, 167772160, "test", 0, 0};
    qkperf_results_init(r);
    json_object_set_new(r->machine, "roofline", qkperf_roofline_json(&rl));
}

static const char *float_default(char *buf, size_t cap)
{
    snprintf(buf, cap, "gemv/%s", qk256_default_variant("gemv"));
    return buf;
}

static const char *int8_default(char *buf, size_t cap)
{
    snprintf(buf, cap, "gemv-i8/%s", qk256_default_variant("gemv-i8"));
    return buf;
}

Test(decode, tiny_run_records_and_json, .timeout = 60)
{
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048], path[] = "/tmp/qkperf-test-decode-XXXXXX";
    tiny(&o, NULL); /* the default: one float and one int8 variant */
    qkperf_results_init(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    cr_assert(json_object_get(r.machine, "roofline"), "roofline not measured");
    cr_assert(json_object_get(r.machine, "cpu_model") || json_object_size(r.machine) > 1);
    static const char *const metrics[] = {"time", "tokens/s", "weight B/s", "bandwidth fraction"};
    char fv[64], iv[64];
    const char *vs[] = {float_default(fv, sizeof fv), int8_default(iv, sizeof iv)};
    for (size_t v = 0; v < 2; v++)
        for (size_t m = 0; m < 4; m++) {
            const qkperf_record *x = qkperf_results_find(
                &r, "decode", vs[v], "bitnet-b1.58-2b4t-1L-div8", "total", metrics[m]);
            cr_assert(x, "no %s record for %s", metrics[m], vs[v]);
            cr_assert(x->counted, "%s %s: %s", vs[v], metrics[m], x->why);
            cr_assert_eq(x->n, 3);
            cr_assert_str_eq(x->source, "tsc");
            cr_assert_gt(x->median, 0, "%s %s median %g", vs[v], metrics[m], x->median);
        }
    /* the weights read: the same four series; each kernel: its share of it,
     * token by token the read pass's time over the kernel's */
    for (size_t m = 0; m < 4; m++) {
        const qkperf_record *x = qkperf_results_find(
            &r, "decode", "weights read", "bitnet-b1.58-2b4t-1L-div8", "total", metrics[m]);
        cr_assert(x && x->counted && x->n == 3 && x->median > 0, "weights read: %s", metrics[m]);
    }
    cr_assert_null(qkperf_results_find(&r, "decode", "weights read", "bitnet-b1.58-2b4t-1L-div8",
                                       "total", "of weights read"));
    const qkperf_record *rt = qkperf_results_find(&r, "decode", "weights read",
                                                  "bitnet-b1.58-2b4t-1L-div8", "total", "time");
    for (size_t v = 0; v < 2; v++) {
        const qkperf_record *t =
            qkperf_results_find(&r, "decode", vs[v], "bitnet-b1.58-2b4t-1L-div8", "total", "time");
        const qkperf_record *of = qkperf_results_find(
            &r, "decode", vs[v], "bitnet-b1.58-2b4t-1L-div8", "total", "of weights read");
        cr_assert(of && of->counted && of->n == 3, "%s: no share of the weights read", vs[v]);
        for (size_t k = 0; k < 3; k++)
            cr_expect_float_eq(of->samples[k], rt->samples[k] / t->samples[k], 1e-12,
                               "%s token %zu", vs[v], k);
    }
    /* the table says each kernel's share with its rounds' interval: 3
     * rounds give [min, max], a 75% interval */
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    qkperf_decode_print(mf, &r);
    fclose(mf);
    for (size_t v = 0; v < 2; v++) {
        const qkperf_record *of = qkperf_results_find(
            &r, "decode", vs[v], "bitnet-b1.58-2b4t-1L-div8", "total", "of weights read");
        char want[256];
        snprintf(want, sizeof want,
                 "of read: %s %.1f %%, 75.0%% interval [%.1f, %.1f] (order statistics of 3 "
                 "rounds)\n",
                 vs[v], 100 * of->median, 100 * of->min,
                 100 * fmax(of->samples[0], fmax(of->samples[1], of->samples[2])));
        cr_expect(strstr(text, want), "no '%s' in:\n%s", want, text);
    }
    free(text);
    cr_assert(mkdtemp(path));
    char file[4200];
    snprintf(file, sizeof file, "%s/decode.json", path);
    cr_assert_eq(qkperf_results_write_json(&r, file, err, sizeof err), 0, "%s", err);
    qkperf_results back;
    cr_assert_eq(qkperf_results_read_json(&back, file, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.n, r.n);
    const qkperf_record *a =
        qkperf_results_find(&r, "decode", vs[1], "bitnet-b1.58-2b4t-1L-div8", "total", "tokens/s");
    const qkperf_record *b = qkperf_results_find(&back, "decode", vs[1],
                                                 "bitnet-b1.58-2b4t-1L-div8", "total", "tokens/s");
    cr_assert(b);
    cr_assert_float_eq(b->median, a->median, 1e-9 * a->median);
    cr_assert_eq(json_integer_value(json_object_get(back.config, "layers")), 1);
    cr_assert(json_object_get(back.machine, "roofline"));
    qkperf_results_free(&back);
    qkperf_results_free(&r);
    unlink(file);
    rmdir(path);
}

/* --null: the weights read timed a second time in a kernel's place (just
 * before the read in each round), with a kernel's share of the read, token
 * by token the read's time over its own: the run's A/A comparison. */
Test(decode, null_read_is_the_read_set_against_itself, .timeout = 60)
{
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048], iv[64];
    const char *size = "bitnet-b1.58-2b4t-1L-div8";
    tiny(&o, int8_default(iv, sizeof iv));
    o.null_read = 1;
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    json_t *names = json_object_get(r.config, "variants");
    cr_assert_eq(json_array_size(names), 3);
    cr_expect_str_eq(json_string_value(json_array_get(names, 0)), iv);
    cr_expect_str_eq(json_string_value(json_array_get(names, 1)), QKPERF_DECODE_NULL_READ);
    cr_expect_str_eq(json_string_value(json_array_get(names, 2)), QKPERF_DECODE_WEIGHTS_READ);
    cr_expect(json_is_true(json_object_get(r.config, "null_read")));
    const qkperf_record *rt =
        qkperf_results_find(&r, "decode", QKPERF_DECODE_WEIGHTS_READ, size, "total", "time");
    const qkperf_record *nt =
        qkperf_results_find(&r, "decode", QKPERF_DECODE_NULL_READ, size, "total", "time");
    const qkperf_record *of = qkperf_results_find(&r, "decode", QKPERF_DECODE_NULL_READ, size,
                                                  "total", "of weights read");
    cr_assert(rt && nt && of && of->counted && of->n == 3, "no null read or no share of the read");
    for (size_t k = 0; k < 3; k++)
        cr_expect_float_eq(of->samples[k], rt->samples[k] / nt->samples[k], 1e-12, "token %zu", k);
    /* the read is still the one every share is against, and has none */
    cr_expect_null(qkperf_results_find(&r, "decode", QKPERF_DECODE_WEIGHTS_READ, size, "total",
                                       "of weights read"));
    const qkperf_record *kt = qkperf_results_find(&r, "decode", iv, size, "total", "time");
    const qkperf_record *ko =
        qkperf_results_find(&r, "decode", iv, size, "total", "of weights read");
    cr_assert(kt && ko && ko->n == 3);
    for (size_t k = 0; k < 3; k++)
        cr_expect_float_eq(ko->samples[k], rt->samples[k] / kt->samples[k], 1e-12, "token %zu", k);
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    qkperf_decode_print(mf, &r);
    fclose(mf);
    cr_expect(strstr(text, "\n" QKPERF_DECODE_NULL_READ " "), "no null row in:\n%s", text);
    cr_expect(strstr(text, "of read: " QKPERF_DECODE_NULL_READ " "), "no null interval in:\n%s",
              text);
    cr_expect(strstr(text, "note: " QKPERF_DECODE_NULL_READ ": "), "no null note in:\n%s", text);
    free(text);
    qkperf_results_free(&r);

    /* without --null there is no such variant */
    tiny(&o, iv);
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    cr_expect_null(
        qkperf_results_find(&r, "decode", QKPERF_DECODE_NULL_READ, size, "total", "time"));
    cr_expect(json_is_false(json_object_get(r.config, "null_read")));
    qkperf_results_free(&r);
}

static void final_output_calls(const char *variant, float *out, int unfused)
{
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048];
    tiny(&o, variant);
    o.tokens = 1;
    o.final_out = out;
    o.unfused = unfused;
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(json_is_true(json_object_get(r.config, "fused")), !unfused);
    cr_assert_eq(json_integer_value(json_object_get(r.config, "calls_per_layer")), unfused ? 7 : 4);
    qkperf_results_free(&r);
}

static void final_output(const char *variant, float *out)
{
    final_output_calls(variant, out, 0);
}

static double rel_l2(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return sqrt(d / s);
}

/*
 * Why 6%: the layer is a chain of four matmuls (q -> o -> gate, up ->
 * gate * up -> down), each keeping the activations' RMS (decode.c scales
 * the blocks so). qk256_gemv_i8 rounds x to steps of amax/127; the
 * rounding errors, uniform within half a step and independent, add to y[r]
 * an error of RMS (amax/127)/sqrt(12) * |w_r|, against y[r] ~ rms(x) * |w_r|:
 * a relative error of (amax/rms)/440 per matmul. amax/rms is sqrt(3) for the
 * uniform first x, about 3-4 for the Gaussian-like sums and about 6-9 for
 * the products g*u: about 0.4%, 0.9% and 2%; errors of earlier matmuls
 * pass on with gain ~1, so the chain totals about 2.5-3% (measured: 1.9%
 * with the default seed, logged below). 6% is twice the estimate: a broken
 * int8 path (wrong scale, a lost block, a sign) is off by 30% or more.
 */
Test(decode, float_and_int8_agree_on_the_final_activation, .timeout = 60)
{
    float f[HIDDEN], i8[HIDDEN], ref[HIDDEN];
    char fv[64], iv[64];
    final_output(float_default(fv, sizeof fv), f);
    final_output(int8_default(iv, sizeof iv), i8);
    final_output("gemv/scalar", ref);
    double e8 = rel_l2(i8, f, HIDDEN), ef = rel_l2(f, ref, HIDDEN);
    cr_assert_lt(e8, 0.06, "int8 vs float: relative L2 error %.4f", e8);
    cr_assert_gt(e8, 1e-6, "int8 path gives the float result exactly: was x quantized?");
    /* Float variants differ only in summation order: 1e-4 is 100x float eps
     * times the chain's sums of up to 864 terms. */
    cr_assert_lt(ef, 1e-4, "%s vs gemv/scalar: relative L2 error %.3g", fv, ef);
    cr_log_info("int8 vs float %.4f, float vs scalar %.3g", e8, ef);
}

/* gemv-i8/repacked runs avx512-vnni-tiles' kernel on the repacked
 * weights (or, without its ISA, the default variant on a plain copy): the
 * same final activation up to float rounding (and the int8 rounding of x
 * it may flip); the repack is timed once, apart. */
Test(decode, repacked_weights_give_the_int8_result, .timeout = 60)
{
    float rep[HIDDEN], i8[HIDDEN];
    char iv[64];
    final_output("gemv-i8/repacked", rep);
    final_output(int8_default(iv, sizeof iv), i8);
    double e = rel_l2(rep, i8, HIDDEN);
    cr_expect_lt(e, 1e-3, "repacked vs %s: relative L2 error %.3g", iv, e);

    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048];
    tiny(&o, "repacked");
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    const char *size = "bitnet-b1.58-2b4t-1L-div8";
    const qkperf_record *t =
        qkperf_results_find(&r, "decode", "gemv-i8/repacked", size, "total", "repack time");
    cr_assert(t && t->counted && t->n == 1 && t->samples[0] > 0, "no repack time");
    const qkperf_record *tok =
        qkperf_results_find(&r, "decode", "gemv-i8/repacked", size, "total", "time");
    cr_assert(tok && tok->n == 3, "no per-token times");
    cr_expect_str_eq(json_string_value(json_object_get(r.config, "repack_variant")),
                     qk256_variant_supported("gemv-i8", "avx512-vnni-tiles") == 1
                         ? "avx512-vnni-tiles"
                         : qk256_default_variant("gemv-i8"));
    /* the weights and scales, up to the padding of each call's last tile */
    double w = json_real_value(json_object_get(r.config, "weight_bytes_per_token"));
    double b = json_real_value(json_object_get(r.config, "repacked_bytes"));
    cr_expect(b >= w && b < 1.1 * w, "repacked %g bytes for %g of weights", b, w);
    qkperf_results_free(&r);
}

/* gemv-i8/avx512-vnni-tiles, the repacked weights' kernel, is the repacked
 * decode (weights repacked once), not a plain call per matrix that would
 * pack its rows again every call. */
Test(decode, the_tiles_variant_is_the_repacked_decode, .timeout = 60)
{
    if (qk256_variant_supported("gemv-i8", "avx512-vnni-tiles") != 1)
        cr_skip_test("this CPU has no AVX-512 VNNI");
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048];
    tiny(&o, "gemv-i8/avx512-vnni-tiles,repacked");
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    const char *size = "bitnet-b1.58-2b4t-1L-div8";
    cr_expect_not_null(
        qkperf_results_find(&r, "decode", "gemv-i8/repacked", size, "total", "repack time"));
    cr_expect_null(
        qkperf_results_find(&r, "decode", "gemv-i8/avx512-vnni-tiles", size, "total", "time"),
        "the two names are one variant, measured once");
    qkperf_results_free(&r);
}

static void refused(const char *variants, const char *want, qkperf_decode_opts *o)
{
    qkperf_results r;
    char err[2048] = "";
    with_roofline(&r);
    if (variants)
        o->variants = variants;
    cr_assert_eq(qkperf_decode_measure(o, &r, err, sizeof err), 2, "'%s' accepted", variants);
    cr_assert(strstr(err, want), "error '%s' lacks '%s'", err, want);
    cr_assert_eq(r.n, 0);
    qkperf_results_free(&r);
}

Test(decode, unknown_variant_is_refused_with_the_known_ones)
{
    qkperf_decode_opts o;
    tiny(&o, NULL);
    refused("avx3", "unknown variant 'avx3' for decode (known: gemv/scalar", &o);
    refused("avx3", "gemv-i8/scalar", &o);
    refused("gemv-i8/avx512-vbmi", "unknown variant 'gemv-i8/avx512-vbmi'", &o);
    refused("scalar", "both gemv/scalar and gemv-i8/scalar", &o);
    refused("gemv/scalar,,gemv-i8/scalar", "empty", &o);
}

Test(decode, bad_options_are_refused)
{
    qkperf_decode_opts o;
    tiny(&o, NULL);
    o.layers = 31;
    refused(NULL, "layer count 31", &o);
    tiny(&o, NULL);
    o.tokens = 0;
    refused(NULL, "token count 0", &o);
    tiny(&o, NULL);
    o.shape_div = 7;
    refused(NULL, "shape divisor 7", &o);
    tiny(&o, NULL);
    o.threads = 257;
    refused(NULL, "thread count 257", &o);
}

Test(decode, command_exits_2_on_unknown_variant)
{
    char *argv[] = {"decode", "-v", "nope", NULL};
    cr_assert_eq(qkperf_cmd_decode(3, argv), 2);
    char *argv2[] = {"decode", "--layers", "0", NULL};
    cr_assert_eq(qkperf_cmd_decode(3, argv2), 2);
}

Test(decode, allocation_failure_is_an_error)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("address space limits and AddressSanitizer do not mix");
#endif
    /* The full model needs 554 MB; allow this process 256 MB more than now. */
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    cr_assert(f && fscanf(f, "%lu", &pages) == 1);
    fclose(f);
    struct rlimit rl = {.rlim_cur = pages * 4096ul + (256ul << 20), .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048] = "", fv[64];
    qkperf_decode_opts_default(&o);
    o.variants = float_default(fv, sizeof fv);
    o.threads = 1;
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "cannot allocate"), "%s", err);
    cr_assert(strstr(err, "30 layers"), "%s", err);
    qkperf_results_free(&r);
}

Test(decode, thread_count_is_restored)
{
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048];
    cr_assert_eq(qk256_set_threads(1), QK256_OK);
    tiny(&o, NULL);
    o.threads = 2;
    o.tokens = 1;
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(json_integer_value(json_object_get(r.config, "threads")), 2);
    cr_assert_eq(qk256_get_threads(), 1);
    qkperf_results_free(&r);
}

/* The source tree's plot scripts; skips the test without gnuplot. */
static void gnuplot_or_skip(void)
{
    const char *src = getenv("QKPERF_SRCDIR");
    if (src) {
        char scripts[4096];
        snprintf(scripts, sizeof scripts, "%s/plots", src);
        setenv("QKPERF_PLOTS_DIR", scripts, 1);
    }
    if (system("command -v gnuplot >/dev/null 2>&1") != 0)
        cr_skip_test("gnuplot not installed");
}

Test(decode, plot_renders_png_and_svg, .timeout = 60)
{
    gnuplot_or_skip();
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048], dir[] = "/tmp/qkperf-test-decode-plot-XXXXXX";
    tiny(&o, NULL);
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    cr_assert(mkdtemp(dir));
    cr_assert_eq(qkperf_decode_plot(&r, dir, err, sizeof err), 0, "%s", err);
    static const char *const files[] = {"decode.png", "decode.svg", "data/decode.csv"};
    for (size_t i = 0; i < 3; i++) {
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        cr_assert_eq(stat(p, &st), 0, "%s missing", p);
        cr_assert_gt(st.st_size, 100, "%s is %lld bytes", p, (long long)st.st_size);
        unlink(p);
    }
    /* the variant names go to gnuplot as text: a hostile one runs nothing */
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(r.rec[i].variant, QKPERF_DECODE_WEIGHTS_READ))
            snprintf(r.rec[i].variant, sizeof r.rec[i].variant, "';system('touch P');x='");
    cr_assert_eq(chdir(dir), 0);
    cr_assert_eq(qkperf_decode_plot(&r, dir, err, sizeof err), 0, "%s", err);
    cr_expect_neq(access("P", F_OK), 0, "a variant name ran `touch P`");
    char data[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    cr_assert_eq(chdir("/"), 0);
    for (size_t i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(data);
    rmdir(dir);
    qkperf_results empty;
    qkperf_results_init(&empty);
    cr_assert_eq(qkperf_decode_plot(&empty, "/tmp", err, sizeof err), -1);
    cr_assert(strstr(err, "no decode"), "%s", err);
    qkperf_results_free(&empty);
    qkperf_results_free(&r);
}

/* `qkperf plot DOC -o DIR` on a decode document: its decode plot, and no
 * word about the kernel plots (counters, ports) it has no data for. */
Test(decode, plot_command_makes_the_decode_plot, .timeout = 60)
{
    gnuplot_or_skip();
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048], dir[] = "/tmp/qkperf-test-decode-folder-XXXXXX", out[4200];
    tiny(&o, "gemv-i8/repacked");
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    cr_assert(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/plots", dir);
    qkperf_plots pl;
    cr_assert_eq(qkperf_plot_folder(&r, out, 0, &pl, err, sizeof err), 0, "%s", err);
    cr_assert_eq(pl.nfiles, 2);
    cr_expect_str_eq(pl.files[0], "decode.png");
    cr_expect_str_eq(pl.files[1], "decode.svg");
    cr_expect(pl.captions && pl.captions[0] && strstr(pl.captions[0], "decode"));
    cr_expect_eq(pl.nskipped, 0, "skipped: %s", pl.nskipped ? pl.skipped[0] : "");
    char p[4300];
    struct stat st;
    snprintf(p, sizeof p, "%s/decode.png", out);
    cr_expect(stat(p, &st) == 0 && st.st_size > 100, "%s missing", p);
    qkperf_plots_free(&pl);
    qkperf_results_free(&r);
    char rm[4300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    cr_expect_eq(system(rm), 0);
}

/* The fraction is against the bandwidth with decode's own thread count,
 * read after every round of tokens (the document's roofline has none for 2
 * threads, and would not be used if it had); the reads are kept as a
 * series, their median in config, and named in a note and the table. */
Test(decode, fraction_uses_the_bandwidth_of_its_thread_count, .timeout = 60)
{
    qkperf_decode_opts o;
    qkperf_results r;
    char err[2048];
    tiny(&o, float_default((char[64]){0}, 64));
    o.threads = 2;
    with_roofline(&r);
    cr_assert_eq(qkperf_decode_measure(&o, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(json_integer_value(json_object_get(r.config, "memory_read_threads")), 2);
    double bw = json_number_value(json_object_get(r.config, "memory_read_Bps"));
    cr_assert_gt(bw, 0);
    cr_assert_neq(bw, 3e10, "the one-thread figure of the document was used");
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    qkperf_decode_print(f, &r);
    fclose(f);
    cr_assert(strstr(text, "with 2 threads (median of"), "%s", text);
    cr_assert(strstr(text, "note: bandwidth fraction: each token's weight B/s over the memory "
                           "read with 2 threads made right after its round"),
              "%s", text);
    /* one read per timed token, kept as a series, its median in config */
    cr_assert_eq(json_integer_value(json_object_get(r.config, "memory_reads_interleaved")),
                 (json_int_t)o.tokens);
    const qkperf_record *reads = NULL;
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(r.rec[i].variant, "memory read"))
            reads = &r.rec[i];
    cr_assert_not_null(reads, "the interleaved reads are not in the results");
    cr_assert_eq(reads->n, o.tokens);
    cr_assert_float_eq(reads->median, bw, 1e-6 * bw);
    cr_assert_gt(reads->min, 0);
    free(text);
    qkperf_results_free(&r);
}

/* q|k|v and gate|up as one call each give what one call per matrix gives,
 * bit for bit: each row is the same kernel's, x is quantized the same. */
Test(decode, fused_calls_equal_one_call_per_matrix, .timeout = 60)
{
    char fv[64], iv[64];
    const char *vs[] = {float_default(fv, sizeof fv), int8_default(iv, sizeof iv),
                        "gemv/avx2-p1-p4-p2-p3"};
    for (size_t v = 0; v < 3; v++) {
        float fused[HIDDEN], unfused[HIDDEN];
        final_output_calls(vs[v], fused, 0);
        final_output_calls(vs[v], unfused, 1);
        cr_expect_arr_eq(fused, unfused, sizeof fused, "%s: fused and unfused calls differ", vs[v]);
    }
}
