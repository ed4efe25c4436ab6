/*
 * formula.h — formulas of derived metrics (LIKWID-style groups, ad-hoc
 * metrics): + - * /, unary minus, parentheses, decimal numbers, the
 * caller's identifiers (event aliases) and `time`, compiled once and
 * evaluated per sample in double. groups.h compiles a group's metrics
 * against its events' aliases.
 */
#ifndef QKPERF_FORMULA_H
#define QKPERF_FORMULA_H

#include <stddef.h>

/* A parsed formula; identifiers are already resolved to alias indices. */
typedef struct qkperf_formula qkperf_formula;

/*
 * Compile text against aliases[0..naliases) (and `time`). NULL with one
 * line in msg on a syntax error ("syntax error in WHAT at column 5:
 * expected ..."), an identifier that is not an alias (the known ones
 * listed), nesting past 64 levels, or no memory. `what` ("metric 'IPC'")
 * names the formula in messages, or NULL.
 */
qkperf_formula *qkperf_formula_compile(const char *text, const char *const *aliases,
                                       size_t naliases, const char *what, char *msg, size_t msglen);
/*
 * Evaluate with values[i] the count of event i of the group (NaN when not
 * available) and time in seconds. Division by zero and NaN operands give NaN:
 * the caller prints n/a.
 */
double qkperf_formula_eval(const qkperf_formula *f, const double *values, double time);
void qkperf_formula_free(qkperf_formula *f);

#endif
