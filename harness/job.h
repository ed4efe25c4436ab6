/*
 * job.h — what run, ladder, sweep and review share: the options that
 * choose an op, variants, sizes and counter sources, and the loop that
 * measures every variant at every size into one results document. A job
 * comes from a command line (qkperf_job_parse) or is built field by field
 * (qkperf_job_init, then qkperf_job_ready), and both pass the same checks.
 */
#ifndef QKPERF_JOB_H
#define QKPERF_JOB_H

#include <stdio.h>

#include "cli.h"
#include "stats.h"
#include "results.h"
#include "runner.h"

/* The job options' lines of `qkperf run|ladder|sweep --help`. */
#define QKPERF_JOB_OPTIONS_HELP                                                          \
    "  -k, --op OP             dequantize, gemv or gemv-i8\n"                            \
    "  -v, --variant LIST      variants, comma-separated, or all (default)\n"            \
    "  -s, --size LIST         N for dequantize, ROWSxCOLS for gemv; comma-separated\n"  \
    "  -g, --groups LIST       hardware event groups (default CYCLES; none: no hw)\n"    \
    "  -e, --events LIST       ad-hoc libpfm4 events, counted beside the groups\n"       \
    "      --groups-dir DIR    the user's own groups, searched first (repeatable)\n"     \
    "      --source LIST       among tsc, sw, hw, sim, static, sample\n"                 \
    "                          (default tsc,sw,hw,sample)\n"                             \
    "      --sample-count N    in-context samples per variant and size (default 2500)\n" \
    "      --sample-rate HZ    in-context sampling clock per thread (default 4000)\n"    \
    "      --mcpu CPU          llvm-mca CPU model for the static source\n"               \
    "  -n, --samples N         samples per region (default 11)\n"                        \
    "      --rounds N          take them in N interleaved rounds\n"                      \
    "      --runs K            in K fresh processes (run-to-run variance)\n"             \
    "      --lib NAME=PATH     another libqk256 build; variants NAME:VARIANT\n"          \
    "      --seed N            input seed (default 1)\n"                                 \
    "      --cpu N             pin to CPU N\n"                                           \
    "      --warmup MS         warm-up per region (default 20)\n"                        \
    "      --no-staged         the fused kernel only\n"                                  \
    "      --no-sw             no software events\n"                                     \
    "      --format FMT        table, json or csv\n"                                     \
    "  -o, --output FILE       write the document atomically (- : standard output)\n"    \
    "      --band KIND=F,...   noise bands: instructions, cycles, time, other\n"         \
    "      --save-baseline NAME, --baseline NAME, --baseline-dir DIR\n"                  \
    "  -q, --quiet             no progress line\n"                                       \
    "      --plugin FILE.so    load a plugin's ops and variants (repeatable)\n"

#define QKPERF_MAX_LIBS 4

/* ro.groups and ro.group_dirs point into the job itself: a job is not
 * copied once initialized. */
typedef struct qkperf_job {
    const qk_op *op;
    const char *variants_text; /* -v: "all" or a comma list; NULL: all */
    const char *sizes_text;    /* -s: a comma list; NULL: the op's default size */
    const qk_variant *variants[QKPERF_MAX_LIST];
    size_t nv;
    const char *sizes[QKPERF_MAX_LIST];
    size_t dims[QKPERF_MAX_LIST][QK_MAX_DIMS];
    size_t ns;
    qkperf_run_opts ro;
    const char *groups[QKPERF_MAX_LIST + 1];
    const char *group_dirs[QKPERF_MAX_LIST + 1];
    const char *events[QKPERF_MAX_LIST + 1]; /* -e; ro.events points here when given */
    int hw_off;                              /* --source without hw */
    const char *format;                      /* table | json | csv */
    const char *output;                      /* -o FILE or NULL */
    const char *command;                     /* "run", "ladder", ... (for the config section) */
    const char *bands;                       /* --band override text, or NULL */
    const char *baseline, *save_baseline, *baseline_dir;
    char **storage; /* strdup'ed lists, freed by qkperf_job_free */
    size_t nstorage;
    int quiet;
    unsigned rounds;         /* samples are taken in this many interleaved rounds */
    int use_sim, use_static; /* --source includes sim / static */
    const char *mcpu;        /* --mcpu for the static source */
    unsigned sample_count;   /* in-context samples per variant and size, all rounds */
    int alternate;           /* odd rounds measure the variants in reverse order */
    unsigned runs;           /* --runs K: K fresh processes (0 or 1: this one) */
    int argc;                /* the command line, re-run by each of the K runs */
    char **argv;
    const char *libs[QKPERF_MAX_LIBS]; /* --lib NAME=PATH, as given */
    size_t nlibs;
    FILE *text; /* -o FILE with --format table: the tables, in memory */
    char *text_buf;
    size_t text_len;
} qkperf_job;

/* Parse the shared options (argv[0] is the subcommand): qkperf_job_init,
 * an option per field, qkperf_job_ready. 0, or 2 after printing a one-line
 * usage error (j is then freed). */
int qkperf_job_parse(qkperf_job *j, int argc, char **argv, const char *command);

/* A job with no option given: no op yet, the run options' defaults, group
 * CYCLES, sources tsc, sw and hw. command names it in the config section.
 * Set the fields the options would set (op, variants_text, sizes_text,
 * ro.samples, use_sim, quiet...), then call qkperf_job_ready. */
void qkperf_job_init(qkperf_job *j, const char *command);

/* The checks and defaults that follow the options: the op is set, the
 * variant and size texts resolve (defaults: all, the op's default size),
 * format, rounds, --mcpu, -o, bands and baselines are valid, the groups
 * exist. 0, or -1 with one line in err (free j with qkperf_job_free). */
int qkperf_job_ready(qkperf_job *j, char *err, size_t len);

void qkperf_job_free(qkperf_job *j);

/* Measure every runnable variant at every size (variants this CPU cannot
 * run are noted and skipped): qkperf_job_measure_rounds, then
 * qkperf_job_measure_models for every size. With --runs K the timed
 * rounds run in K fresh processes, one after the other (qkperf re-run
 * with the same command line, QKPERF_RUN_CHILD naming the document each
 * writes), every variant interleaved in each; their records keep which
 * samples came from which run. 0, or 1 after printing a one-line error. */
int qkperf_job_measure(qkperf_job *j, qkperf_results *res);

/* The timed rounds alone (sources tsc, sw, hw). Fills machine/build/config
 * too. 0, or 1 after printing a one-line error. */
int qkperf_job_measure_rounds(qkperf_job *j, qkperf_results *res);

/* The deterministic sources the job asks for (use_sim, use_static), one
 * pass each, at only_size (one of the job's size texts) or every size when
 * it is NULL. A source that cannot run, or fails for a variant, is noted
 * in res and on stderr; the others are kept. 0, or -1 (nothing measured)
 * when only_size is not one of the job's sizes. */
int qkperf_job_measure_models(const qkperf_job *j, qkperf_results *res, const char *only_size);

/* Write the results as the job's --format to -o (atomically). 0 or 1. */
int qkperf_job_write(const qkperf_job *j, const qkperf_results *res);

/* After measuring: --save-baseline and --baseline. Returns the exit code:
 * 0, 1 when the comparison found a regression, 2 on bad baselines. */
int qkperf_job_baselines(const qkperf_job *j, const qkperf_results *res);

/* The end of a measuring command: when rc is 0, the document (-o or
 * stdout) and the baselines (--save-baseline, --baseline); then res and j
 * are freed. Returns the command's exit code. */
int qkperf_job_finish(qkperf_job *j, qkperf_results *res, int rc);

/* Where the human-readable tables go: stdout, or stderr when the results
 * document itself goes to stdout (no -o, --format json or csv), so that
 * the document stays parseable; with -o FILE and the table format, a
 * memory stream that qkperf_job_finish writes to FILE atomically. */
FILE *qkperf_job_text(const qkperf_job *j);

/* The noise bands with the job's --band override applied (already checked
 * by qkperf_job_parse). */
void qkperf_job_bands(const qkperf_job *j, qkperf_bands *b);

#endif
