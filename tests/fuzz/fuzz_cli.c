/*
 * fuzz_cli.c — libFuzzer target for the command-line parsers of cli.c and
 * stats.c: sizes for every registered op, comma lists, variant lists,
 * strict integers and doubles, and noise band overrides. Each input is one
 * argument as a user would type it, given to every parser.
 *
 * Beyond "no crash, no leak", what each parser promises when it accepts:
 * a size is within 1..QKPERF_MAX_ELEMENTS elements, list items are non-empty
 * and comma-free, numbers are within their bounds, bands are fractions in
 * [0, 1); and a refusal is one line naming the text.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_cli: %s for '%s'\n", what, text);
    abort();
}

static void check_refusal(const char *err, const char *text)
{
    if (!err[0] || (strchr(err, '\n') && !strchr(text, '\n')))
        fail("refusal is not one line", text);
}

static void sizes(const char *text)
{
    for (size_t i = 0; i < qk_op_count(); i++) {
        const qk_op *op = qk_op_at(i);
        size_t dim[2] = {0, 0};
        char err[512] = "";
        if (qkperf_parse_size(op, text, dim, err, sizeof err) != 0) {
            check_refusal(err, text);
            continue;
        }
        unsigned long long total = dim[0] * (op->ndim == 2 ? dim[1] : 1);
        if (dim[0] == 0 || (op->ndim == 2 && dim[1] == 0) || total > QKPERF_MAX_ELEMENTS ||
            (op->ndim == 2 && total / dim[1] != dim[0]))
            fail("size accepted out of range", text);
    }
}

static void lists(const char *text)
{
    char *storage = NULL, err[512] = "";
    const char *items[QKPERF_MAX_LIST];
    size_t n = 0;
    if (qkperf_split_list(text, &storage, items, QKPERF_MAX_LIST, &n, "fuzz", err, sizeof err) ==
        0) {
        for (size_t i = 0; i < n; i++)
            if (!items[i][0] || strchr(items[i], ','))
                fail("list item empty or with a comma", text);
        if (n == 0 || n > QKPERF_MAX_LIST)
            fail("list of no items or too many", text);
    } else {
        check_refusal(err, text);
    }
    free(storage);
    for (size_t i = 0; i < qk_op_count(); i++) {
        const qk_variant *v[QKPERF_MAX_LIST];
        err[0] = '\0';
        if (qkperf_parse_variants(qk_op_at(i), text, v, QKPERF_MAX_LIST, &n, err, sizeof err) != 0)
            check_refusal(err, text);
        else if (n == 0)
            fail("variant list of no variants", text);
    }
}

static void numbers(const char *text)
{
    uint64_t u;
    double d;
    char err[512] = "";
    if (qkperf_parse_u64(text, 1, 1000000, &u, "count", err, sizeof err) == 0) {
        if (u < 1 || u > 1000000)
            fail("integer accepted out of range", text);
    } else {
        check_refusal(err, text);
    }
    err[0] = '\0';
    if (qkperf_parse_double(text, 0.0, 1.0, &d, "fraction", err, sizeof err) == 0) {
        if (!(d >= 0.0 && d <= 1.0))
            fail("number accepted out of range", text);
    } else {
        check_refusal(err, text);
    }
}

static void bands(const char *text)
{
    qkperf_bands b;
    char err[512] = "";
    qkperf_bands_default(&b);
    if (qkperf_bands_parse(&b, text, err, sizeof err) != 0) {
        check_refusal(err, text);
        return;
    }
    for (int k = 0; k < QKPERF_KIND_COUNT; k++)
        if (!(b.band[k] >= 0.0 && b.band[k] < 1.0))
            fail("band accepted outside [0, 1)", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* an argv string ends at its first NUL */
    sizes(text);
    lists(text);
    numbers(text);
    bands(text);
    free(text);
    return 0;
}
