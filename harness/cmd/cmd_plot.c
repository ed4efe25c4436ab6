/*
 * cmd_plot.c — `qkperf plot RESULTS.json -o DIR [--force]`: every plot the
 * document supports, as PNG and SVG, made all or nothing by the plot
 * module (qkperf_plot_folder). An existing DIR that is not empty is
 * replaced only with --force.
 */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "plot.h"

const char qkperf_cmd_plot_usage[] =
    "usage: qkperf plot RESULTS.json -o DIR [--force]\n"
    "Every plot the document supports, as PNG and SVG, with gnuplot.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qkperf plot: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (usage: qkperf plot RESULTS.json -o DIR [--force])\n");
    return 2;
}

static int plot_parse(int argc, char **argv, const char **in, const char **dir, int *force)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:f", opts, NULL)) != -1) {
        if (c == 'o')
            *dir = optarg;
        else if (c == 'f')
            *force = 1;
        else
            return usage_error("%s '%s'", qkperf_getopt_why(c, argv[optind - 1]), argv[optind - 1]);
    }
    if (optind != argc - 1)
        return usage_error("expected one results document, got %d", argc - optind);
    *in = argv[optind];
    if (!*dir || !**dir)
        return usage_error("no output folder: add -o DIR");
    return 0;
}

/* Make the folder and print its files. 0, or 1 after printing one line. */
static int plot_into(const qkperf_results *r, const char *dir, int exists)
{
    char err[PATH_MAX * 3];
    qkperf_plots p;
    if (qkperf_plot_folder(r, dir, exists, &p, err, sizeof err))
        return fprintf(stderr, "qkperf plot: %s\n", err), 1;
    for (size_t i = 0; i < p.nfiles; i++)
        printf("%s/%s\n", dir, p.files[i]);
    for (size_t i = 0; i < p.nskipped; i++)
        printf("skipped %s\n", p.skipped[i]);
    qkperf_plots_free(&p);
    return 0;
}

int qkperf_cmd_plot(int argc, char **argv)
{
    const char *in = NULL, *arg = NULL;
    int force = 0, rc = plot_parse(argc, argv, &in, &arg, &force);
    if (rc)
        return rc;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", arg);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = 0; /* "out/" names the folder out */
    int state = qkperf_plot_dir_state(dir);
    if (state < 0)
        return fprintf(stderr, "qkperf plot: %s exists and is not a folder\n", dir), 2;
    if (state == 2 && !force)
        return fprintf(stderr,
                       "qkperf plot: %s exists and is not empty (use --force to replace it)\n",
                       dir),
               2;
    char err[1024];
    qkperf_results r; /* read_json initializes it, also on failure */
    if (qkperf_results_read_json(&r, in, err, sizeof err)) {
        qkperf_results_free(&r);
        return fprintf(stderr, "qkperf plot: %s\n", err), 2;
    }
    rc = plot_into(&r, dir, state > 0);
    qkperf_results_free(&r);
    return rc;
}
