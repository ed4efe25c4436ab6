/*
 * plot.h — the plots driver: from a results document, write small CSV data
 * files and render each plot the data supports with the gnuplot scripts in
 * plots/NAME.gp, as PNG (pngcairo) and SVG. Used by `qkperf plot` and by the
 * review report, which embeds the files this returns.
 *
 * Plots (NAME.png and NAME.svg in the output folder, data in DIR/data/):
 *   breakdown-OP-SIZE   staged phases stacked per variant, fused total beside;
 *                       one per op and size that has staged phases
 *   ladder-OP-SIZE      % change of each phase's median time per ladder step
 *                       (consecutive variants in document order), coloured
 *                       by verdict with the document's bands and seed
 *                       (qkperf_attrib_document, as `qkperf ladder` prints
 *                       them); one per op and size with >= 2 variants
 *   throughput-OP       bytes/s vs elements, one line per variant, with the
 *                       machine.roofline limits when the document has them
 *   speedup-OP          speedup vs scalar by size (bootstrap intervals), with
 *                       the sprint's targets for 1-D ops
 *   counters-OP-SIZE    per-phase counters from sim, static and hw sources,
 *                       a panel per (source, metric) chosen by priority (see
 *                       qkperf_counter_panels); metrics zero for every
 *                       variant and phase are named in the caption, not drawn
 *   ports-OP-SIZE       static (llvm-mca) port pressure: a panel per variant,
 *                       uops per iteration per resource (grouped: FP/vector
 *                       pipes, integer, load/store) and phase, the bottleneck
 *                       resource of each phase outlined, config.mcpu in the
 *                       title; one per op and size with "port R" records
 *   decode              a decode document's tokens/s (qkperf_decode_plot)
 * A plot the data cannot support is listed in `skipped` with the reason.
 * Names from the document reach gnuplot as quoted data only (see
 * plot_driver.h): a document cannot make gnuplot run anything.
 *
 * Scripts are looked up in $QKPERF_PLOTS_DIR, then the source tree, then the
 * installed data folder; gnuplot in $QKPERF_GNUPLOT, then PATH.
 */
#ifndef QKPERF_PLOT_H
#define QKPERF_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "results.h"

typedef struct qkperf_plots {
    char **files;    /* NULL-terminated; names relative to the output folder,
                        PNG then SVG of each plot, in the order above */
    char **captions; /* parallel to files: one line saying what the plot shows */
    char **skipped;  /* NULL-terminated: "counters: no counted sim, static or hw records" */
    size_t nfiles, nskipped;
} qkperf_plots;

void qkperf_plots_free(qkperf_plots *p);

/* Render every plot r supports into dir (created if missing). 0 (some plots
 * may be skipped, see out->skipped), or -1 with a one-line message in err:
 * gnuplot missing, a script missing, a folder not writable, gnuplot failed.
 * out is always initialized; free it with qkperf_plots_free. */
int qkperf_plot_all(const qkperf_results *r, const char *dir, qkperf_plots *out, char *err,
                    size_t len);

/* The panels the counters plot draws for op at size, in drawing order, as
 * "SOURCE METRIC" ("sim Ir/elem", "static uops/iter"); at most max names are
 * written. Per source, by priority and sources taking turns: sim Ir/elem
 * (else Ir), D1 miss ratio (else D1mr), Dr, Dw; static cycles/elem (else
 * cycles), uops/iter (else IPC); hw instructions, cycles, L1D misses, IPC.
 * A metric zero for every variant and staged phase gets no panel; a source
 * with none of these metrics shows what it has. At most 6 panels. Returns
 * the number of panels. */
size_t qkperf_counter_panels(const qkperf_results *r, const char *op, const char *size,
                             char (*names)[64], size_t max);

/* The message for a missing gnuplot (also used by review). */
#define QKPERF_NO_GNUPLOT \
    "gnuplot not found: install the gnuplot-nox package (apt-get install gnuplot-nox)"

/* gnuplot: $QKPERF_GNUPLOT, else the first on PATH; NULL if there is none. */
const char *qkperf_gnuplot_path(char *buf, size_t cap);
/* The plot-script folder that holds `script` ("decode.gp"): $QKPERF_PLOTS_DIR,
 * the source tree, the installed copy. 0, or -1 with a one-line err. */
int qkperf_plot_scripts_dir(const char *script, char *buf, size_t cap, char *err, size_t len);
/* Run gnuplot -e VARS SCRIPT (posix_spawn; stdout to /dev/null, stderr
 * into log, removed when empty). 0, or -1 with one line in err: gnuplot's
 * first error line, or "cannot execute gnuplot (PATH): ..." when the
 * program cannot be executed (exit 126 or 127 included). */
int qkperf_gnuplot_run(const char *gnuplot, const char *script, const char *vars, const char *log,
                       char *err, size_t len);

/* The readable table of a decode document (`qkperf decode`): one row per
 * variant, then the notes. */
void qkperf_decode_print(FILE *f, const qkperf_results *res);

/* dir/data/decode.csv, dir/decode.png and dir/decode.svg (plots/decode.gp):
 * tokens/s per variant as bars, the memory-bandwidth ceiling as a line.
 * 0, or -1 with one line in err (no decode records, gnuplot or script
 * missing, folder not writable, gnuplot failed: see dir/data/decode.log). */
int qkperf_decode_plot(const qkperf_results *r, const char *dir, char *err, size_t len);

/* The state of a plot folder: 0 absent; 1 an empty folder; 2 a folder
 * with something in it; -1 something that is not a folder. */
int qkperf_plot_dir_state(const char *path);

/* Every plot of r into dir, all or nothing: rendered in a temporary folder
 * beside dir (DIR.tmp.PID) that takes dir's place by one rename when all
 * of them are done (an existing dir, exists != 0, is swapped out and
 * removed); temporary folders of runs that are gone are removed first.
 * 0 with out filled; or -1 with one line in err and out empty (when a
 * plot or the rename failed, err ends with what became of dir: "; DIR is
 * left as it was" or "; DIR was not made"). */
int qkperf_plot_folder(const qkperf_results *r, const char *dir, int exists, qkperf_plots *out,
                       char *err, size_t len);

#endif
