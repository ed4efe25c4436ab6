/*
 * plot_driver.h — what the files of the plot module share: plot.c is the
 * driver (finding gnuplot and the scripts, the one quoting function, data
 * files, rendering, qkperf_plot_all), plot_phases.c draws the per-phase
 * time plots, plot_counters.c the counters and port pressure, plot_decode.c
 * the decode table and plot, plot_folder.c makes a plot folder all or
 * nothing (`qkperf plot`, whose options are cmd/cmd_plot.c's).
 *
 * Every string reaches gnuplot one way: as a variable on its -e line,
 * written by qkperf_gp_str, lists as indexed variables NAME_n, NAME_1 ..
 * NAME_n that a script reads with value(sprintf('NAME_%d', i)). The value
 * is single-quoted, where gnuplot expands nothing (no backticks, no
 * @macros, no backslash escapes); a quote in it closes the piece and is
 * joined on as "'" ('a'."'".'b' for a'b: gnuplot 5.4 misreads the doubled
 * quote '' next to an opening or closing quote), and control bytes become
 * '?'. So a name from a results document is text, never a command. The columns a
 * script reads from a data file are numbers; a name column there is for
 * people reading the file, made safe for the column count by
 * qkperf_plot_name_field.
 */
#ifndef QKPERF_PLOT_DRIVER_H
#define QKPERF_PLOT_DRIVER_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "plot.h"
#include "results.h"

#define QKPERF_PLOT_MAX 64 /* distinct ops, variants, sizes, phases per op */

/* One rendering: the document, the folder, gnuplot and its scripts, what
 * was made (files, captions, skipped) and the error of a failure. */
typedef struct qkperf_plot_ctx {
    const qkperf_results *r;
    const char *dir, *gnuplot;
    char gpbuf[PATH_MAX], scripts[PATH_MAX];
    qkperf_plots *out;
    char *err;
    size_t len;
} qkperf_plot_ctx;

/* gnuplot, the folder holding `script` ("breakdown.gp") and dir/data:
 * 0, or -1 with the message in c->err. */
int qkperf_plot_ctx_init(qkperf_plot_ctx *c, const qkperf_results *r, const char *dir,
                         const char *script, qkperf_plots *out, char *err, size_t len);

/* ---- gnuplot variables ---------------------------------------------------- */

/* The -e text being built; oom is set when an append failed. */
typedef struct qkperf_gp_vars {
    char *s;
    size_t n, cap;
    int oom;
} qkperf_gp_vars;

/* NAME='VALUE' as above: the one way a string gets to gnuplot. NAME is
 * an identifier of ours, VALUE anything. */
void qkperf_gp_str(qkperf_gp_vars *v, const char *name, const char *value);
/* NAME=VALUE for a number (%.6g; NaN when not finite). */
void qkperf_gp_num(qkperf_gp_vars *v, const char *name, double value);
/* NAME_n=N; NAME_1='...'; ... NAME_N='...'. */
void qkperf_gp_list(qkperf_gp_vars *v, const char *name, const char *const *items, size_t n);
void qkperf_gp_vars_free(qkperf_gp_vars *v);

/* ---- names and records ------------------------------------------------------ */

/* Distinct strings in first-seen order, pointing into the records. */
typedef struct qkperf_names {
    const char *v[QKPERF_PLOT_MAX];
    size_t n;
} qkperf_names;

void qkperf_names_add(qkperf_names *s, const char *name);

enum { QKPERF_FIELD_OP, QKPERF_FIELD_VARIANT, QKPERF_FIELD_SIZE, QKPERF_FIELD_PHASE };

/* Distinct values of one field among counted records of op (NULL: any op)
 * whose phase is not "total" when staged_only. */
qkperf_names qkperf_plot_distinct(const qkperf_results *r, const char *op, int field,
                                  int staged_only);

/* The record, when it is counted and has samples; else NULL. */
const qkperf_record *qkperf_plot_counted(const qkperf_results *r, const char *op,
                                         const char *variant, const char *size, const char *phase,
                                         const char *metric);

/* Elements in a size: "N" or "ROWSxCOLS"; NaN for anything else. */
double qkperf_plot_elements(const char *size);

/* Sizes of op that have counted records, in increasing element count. */
qkperf_names qkperf_plot_sizes(const qkperf_results *r, const char *op);

/* The plot's name for op at size: "PREFIX-OP-SIZE", SIZE made file-safe. */
void qkperf_plot_name(char *buf, size_t cap, const char *prefix, const char *op, const char *size);

/* ---- data files and rendering ------------------------------------------------- */

/* DIR/data/NAME.csv opened for writing (path receives it), or NULL with
 * c->err set. */
FILE *qkperf_plot_open_data(qkperf_plot_ctx *c, const char *name, char *path, size_t cap);
/* Close it: 0, or -1 with c->err set (a full disk shows here). */
int qkperf_plot_close_data(qkperf_plot_ctx *c, FILE *f, const char *path);
/* A name in a data file (never read by a script): ',', '"' and control
 * bytes become '_', so the columns after it keep their place. */
void qkperf_plot_name_field(FILE *f, const char *name);

/* Render plots/SCRIPT.gp into DIR/NAME.png and DIR/NAME.svg with the
 * variables data (the main data file), out, fmt, title and `extra`, each
 * checked complete after gnuplot exits (gnuplot reports success on a full
 * disk); files and captions are added to c->out. 0, or -1 with c->err. */
int qkperf_plot_render(qkperf_plot_ctx *c, const char *script, const char *name, const char *data,
                       const char *title, const qkperf_gp_vars *extra, const char *caption);

/* Set c->err (printf-style); returns -1. */
int qkperf_plot_fail(qkperf_plot_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Add a line to c->out->skipped; 0, or -1 out of memory. */
int qkperf_plot_skip(qkperf_plot_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The plots of one op, by kind (plot_phases.c, plot_counters.c). 0 or -1. */
int qkperf_plot_breakdown(qkperf_plot_ctx *c, const char *op, const char *size);
int qkperf_plot_ladder(qkperf_plot_ctx *c, const char *op, const char *size);
int qkperf_plot_throughput(qkperf_plot_ctx *c, const char *op);
int qkperf_plot_speedup(qkperf_plot_ctx *c, const char *op);
int qkperf_plot_counters(qkperf_plot_ctx *c, const char *op, const char *size);
int qkperf_plot_ports(qkperf_plot_ctx *c, const char *op, const char *size);
/* A decode document's plot (plot_decode.c): 0 with nothing made when the
 * document has no decode tokens/s; 0 or -1. */
int qkperf_plot_decode(qkperf_plot_ctx *c);

#endif
