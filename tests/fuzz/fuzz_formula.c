/*
 * fuzz_formula.c — libFuzzer target for the formula compiler alone
 * (qkperf_formula_compile, which both group metrics and ad-hoc `-m`
 * metrics go through), against a fixed set of aliases, then evaluated.
 * fuzz_groups reaches it too, but only after a valid EVENTSET; here every
 * input is a formula.
 *
 * Beyond "no crash, no leak": a refused formula gets one line; a formula
 * whose only leaves are aliases and `time` evaluates to NaN (n/a) when
 * nothing was counted; and compiling is deterministic (the same text
 * compiles the same way twice and evaluates to the same value).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formula.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The event aliases of the shipped groups (harness/groups), so that the
 * seed formulas, taken from those groups, compile. */
static const char *const aliases[] = {
    "be_stalled",   "be_stalls", "cycles",     "dispatched", "faults",     "fb_hits",
    "fe_stalled",   "fe_stalls", "fe_undeliv", "fills",      "fp_ops",     "fp_sched",
    "instructions", "int_ops",   "int_sched0", "int_sched1", "int_sched2", "int_sched3",
    "issued",       "loads",     "mab_allocs", "migrations", "misses",     "ops",
    "p0",           "p1",        "p2",         "p23",        "p3",         "p4",
    "p49",          "p5",        "p6",         "p7",         "p78",        "queue_empty",
    "recovery",     "retired",   "slots",      "smt_stalls", "switches",   "task_clock"};
enum { NALIASES = sizeof aliases / sizeof aliases[0] };

static void check(const qkperf_formula *f, const char *text)
{
    double counts[NALIASES], missing[NALIASES];
    char msg[512];

    for (size_t i = 0; i < NALIASES; i++) {
        counts[i] = i % 7 == 0 ? 0.0 : (double)i * 1e6; /* some zero: division by 0 */
        missing[i] = NAN;
    }
    if (!strpbrk(text, "0123456789") && !isnan(qkperf_formula_eval(f, missing, NAN))) {
        fprintf(stderr, "fuzz_formula: '%s' is a number with every count missing\n", text);
        abort();
    }
    qkperf_formula *again = qkperf_formula_compile(text, aliases, NALIASES, NULL, msg, sizeof msg);
    double a = qkperf_formula_eval(f, counts, 0.5);
    double b = again ? qkperf_formula_eval(again, counts, 0.5) : 0.0;
    if (!again || (a != b && !(isnan(a) && isnan(b)))) {
        fprintf(stderr, "fuzz_formula: '%s' compiled twice differs\n", text);
        abort();
    }
    qkperf_formula_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A formula is one line of a group file or one -m argument. */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    char *text = malloc(len + 1), msg[1024] = "";

    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    qkperf_formula *f =
        qkperf_formula_compile(text, aliases, NALIASES, "metric 'fuzz'", msg, sizeof msg);
    if (f) {
        check(f, text);
        qkperf_formula_free(f);
    } else if (!msg[0] || strchr(msg, '\n')) {
        fprintf(stderr, "fuzz_formula: refusal is not one line: '%s'\n", msg);
        abort();
    }
    free(text);
    return 0;
}
