/*
 * qkperf.c — the command line: subcommands and their options. Each
 * subcommand parses strictly (one-line errors, exit 2 on usage errors),
 * then hands off to the modules that do the work.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calib.h"
#include "cli.h"
#include "commands.h"
#include "decode.h"
#include "groups.h"
#include "machine.h"
#include "pfm.h"
#include "plot.h"
#include "probe.h"
#include "review.h"
#include "roofline.h"
#include "runner.h"
#include "sim.h"
#include "table.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/* ---- probe --------------------------------------------------------------- */

static int cmd_probe(int argc, char **argv)
{
    if (argc > 1)
        return qkperf_usage_error("probe takes no arguments (got '%s')", argv[1]);
    qkperf_probe_t p;
    qkperf_probe(&p);
    qkperf_probe_print(&p, stdout);
    return 0;
}

/* ---- list ---------------------------------------------------------------- */

static void list_groups(const char *pmu, const char *const *dirs)
{
    char **names = qkperf_group_list(dirs, pmu);
    printf("  %-6s", pmu);
    for (size_t i = 0; names && names[i]; i++) {
        char msg[256];
        qkperf_group *g = qkperf_group_load(dirs, pmu, names[i], 0, msg, sizeof msg);
        printf("%s%s", i ? ", " : " ", names[i]);
        if (!g)
            printf(" (broken: %s)", msg);
        qkperf_group_free(g);
    }
    printf("\n");
    qkperf_group_list_free(names);
}

static int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {{"groups-dir", required_argument, NULL, 'G'},
                                         {NULL, 0, NULL, 0}};
    const char *dirs[QKPERF_MAX_LIST + 1] = {NULL};
    size_t nd = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c != 'G')
            return qkperf_usage_error("list: %s '%s'",
                                      c == ':' ? "missing value for option" : "unknown option",
                                      argv[optind - 1]);
        char err[4200];
        if (qkperf_check_folder("groups folder", optarg, err, sizeof err))
            return qkperf_usage_error("list: %s", err);
        if (nd == QKPERF_MAX_LIST)
            return qkperf_usage_error("list: too many --groups-dir options");
        dirs[nd++] = optarg;
    }
    if (optind < argc)
        return qkperf_usage_error("list: unexpected argument '%s'", argv[optind]);
    printf("ops, variants (ladder order) and phases; * = runnable on this CPU (%s)\n",
           qk_isa_names(qk_cpu_isa()));
    for (size_t i = 0; i < qk_op_count(); i++) {
        const qk_op *op = qk_op_at(i);
        printf("\n%s — %s\n  phases:", op->name, op->summary ? op->summary : "");
        for (unsigned p = 0; p < qk_phase_count(op); p++)
            printf(" %s", op->phases[p]);
        printf("\n  sizes:  %s\n", op->ndim == 1 ? "N" : "ROWSxCOLS");
        for (size_t k = 0; k < qk_variant_count(op->name); k++) {
            const qk_variant *v = qk_variant_at(op->name, k);
            printf("  %c %-20s %-12s %s\n", qk_variant_runnable(v) ? '*' : ' ', v->name,
                   v->isa ? qk_isa_names(v->isa) : "-", v->summary ? v->summary : "");
        }
    }
    printf("\nevent groups (host folder: %s)\n", qkperf_group_host_folder(dirs));
    char **folders = qkperf_group_folders(dirs);
    for (size_t i = 0; folders && folders[i]; i++)
        list_groups(folders[i], dirs);
    qkperf_group_list_free(folders);
    printf("\nsources: tsc (time, estimated cycles), sw (software events), hw (groups above),\n"
           "         sim (valgrind callgrind), static (llvm-mca port model)\n");
    return 0;
}

/* ---- run ----------------------------------------------------------------- */

/* Running from the build tree before `make install`: find the group files
 * in the source tree rather than under the (not yet created) install path. */
static void default_groups_path(void)
{
    struct stat st;
    if (!getenv("QKPERF_GROUPS") && stat(QKPERF_GROUPS_DIR, &st) != 0)
        setenv("QKPERF_GROUPS", QKPERF_SRC_GROUPS_DIR, 0);
}

/* ---- help ---------------------------------------------------------------- */

#define JOB_OPTIONS                                                                     \
    "  -k, --op OP             dequantize, gemv or gemv-i8\n"                           \
    "  -v, --variant LIST      variants, comma-separated, or all (default)\n"           \
    "  -s, --size LIST         N for dequantize, ROWSxCOLS for gemv; comma-separated\n" \
    "  -g, --groups LIST       hardware event groups (default CYCLES; none: no hw)\n"   \
    "      --groups-dir DIR    the user's own groups, searched first (repeatable)\n"    \
    "      --source LIST       among tsc, sw, hw, sim, static (default tsc,sw,hw)\n"    \
    "      --mcpu CPU          llvm-mca CPU model for the static source\n"              \
    "  -n, --samples N         samples per region (default 11)\n"                       \
    "      --rounds N          take them in N interleaved rounds\n"                     \
    "      --seed N            input seed (default 1)\n"                                \
    "      --cpu N             pin to CPU N\n"                                          \
    "      --warmup MS         warm-up per region (default 20)\n"                       \
    "      --no-staged         the fused kernel only\n"                                 \
    "      --no-sw             no software events\n"                                    \
    "      --format FMT        table, json or csv\n"                                    \
    "  -o, --output FILE       write the document atomically (- : standard output)\n"   \
    "      --band KIND=F,...   noise bands: instructions, cycles, time, other\n"        \
    "      --save-baseline NAME, --baseline NAME, --baseline-dir DIR\n"                 \
    "  -q, --quiet             no progress line\n"

static const struct {
    const char *name, *usage;
} command_help[] = {
    {"probe", "usage: qkperf probe\n"
              "What can be counted on this machine (PMU, perf_event, TSC, valgrind,\n"
              "llvm-mca, gnuplot), and why not where it cannot.\n"},
    {"list", "usage: qkperf list [--groups-dir DIR]\n"
             "Ops, variants (with what each needs), phases, event groups.\n"},
    {"run", "usage: qkperf run -k OP [options]\n"
            "Per-phase table of the variants at the sizes: staged phases and the fused\n"
            "kernel, every figure with its source.\n\n" JOB_OPTIONS},
    {"ladder", "usage: qkperf ladder -k OP [options]\n"
               "Each variant against the one before it: which phase changed, by how much,\n"
               "with a 95% interval and a verdict.\n\n" JOB_OPTIONS},
    {"sweep", "usage: qkperf sweep -k OP [options]\n"
              "Every variant at every size: time, throughput, speedup against scalar, and\n"
              "whether each step is at least as fast as the one before.\n\n" JOB_OPTIONS},
    {"compare", "usage: qkperf compare [options] OLD.json NEW.json\n"
                "Record by record; exit 0 nothing regressed, 1 regressed, 2 bad input.\n\n"
                "      --relative-to VARIANT  divide each record by that variant's median first\n"
                "      --metric NAME          only this metric\n"
                "      --phase NAME           only this phase\n"
                "      --band KIND=F,...      noise bands\n"
                "      --verbose              list unchanged records too\n"},
    {"plot", "usage: qkperf plot RESULTS.json -o DIR [--force]\n"
             "Every plot the document supports, as PNG and SVG, with gnuplot.\n"},
    {"roofline", "usage: qkperf roofline [--quick] [-o FILE.json]\n"
                 "L1 store, L2, L3 and memory read bandwidth (memory also on every CPU).\n"},
    {"decode", "usage: qkperf decode [options]\n"
               "Tokens/s of BitNet b1.58 2B4T's linear layers against the memory read\n"
               "bandwidth and against a weights read (loads only, the same calls).\n\n"
               "  -v, --variant LIST      OP/NAME, comma-separated, or all\n"
               "                          (default: the library's choice for gemv and gemv-i8)\n"
               "  -t, --threads N         threads (default: every CPU)\n"
               "      --tokens N          timed tokens per variant (default 5)\n"
               "      --layers N          1..30 (default 30)\n"
               "      --seed N            weights seed (default 1)\n"
               "      --quick             4 layers, quick memory reads\n"
               "      --unfused           one call per matrix (default: q|k|v and gate|up\n"
               "                          as one call each, 4 calls per layer)\n"
               "  -o, --output FILE.json  write the results document\n"},
    {"review", "usage: qkperf review [options]\n"
               "The sprint review folder: results, plots and REPORT.md.\n\n"
               "  -o, --output DIR        the folder (default review)\n"
               "      --force             replace what is there\n"
               "      --quick             fewer samples and sizes, quick limits and decode\n"
               "  -n, --samples N         samples per region\n"
               "      --source LIST       counter sources\n"
               "      --no-sim, --no-static, --no-decode\n"},
};

/* `qkperf help [COMMAND]`, `qkperf COMMAND --help`: 0, or 2 for an unknown one. */
static int command_usage(const char *name)
{
    for (size_t i = 0; i < sizeof command_help / sizeof command_help[0]; i++)
        if (!strcmp(name, command_help[i].name)) {
            printf("%s(man qkperf for the details)\n", command_help[i].usage);
            return 0;
        }
    return qkperf_usage_error("unknown command '%s' (try: qkperf --help)", name);
}

static int asks_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    default_groups_path();
    qkperf_calib_register();
    if (argc > 1 && !strcmp(argv[1], "__sim-child")) /* inside valgrind; not in --help */
        return qkperf_cmd_sim_child(argc - 1, argv + 1);
    static const struct {
        const char *name;
        int (*fn)(int, char **);
        const char *help;
    } cmds[] = {
        {"probe", cmd_probe, "what can be counted on this machine, and why not"},
        {"list", cmd_list, "ops, variants, phases, event groups"},
        {"run", qkperf_cmd_run, "per-phase table of variants at sizes"},
        {"ladder", qkperf_cmd_ladder, "which step changed which phase, by how much, is it real"},
        {"sweep", qkperf_cmd_sweep, "every variant x size: time, throughput, speedup vs scalar"},
        {"compare", qkperf_cmd_compare, "compare two results documents (exit 1 on regression)"},
        {"plot", qkperf_cmd_plot, "PNG and SVG plots from a results document"},
        {"roofline", qkperf_cmd_roofline, "this machine's bandwidth limits (L1, L2, L3, memory)"},
        {"decode", qkperf_cmd_decode,
         "tokens/s of BitNet b1.58 2B4T's linear layers vs memory bandwidth"},
        {"review", qkperf_cmd_review, "the sprint review folder: results, plots, REPORT.md"},
    };
    if (argc < 2 || !*argv[1])
        return qkperf_usage_error("no command given (try: qkperf --help)");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        printf("usage: qkperf COMMAND [OPTIONS]   (qkperf COMMAND --help, man qkperf)\n\n");
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            printf("  %-10s %s\n", cmds[i].name, cmds[i].help);
        return 0;
    }
    if (!strcmp(argv[1], "help"))
        return command_usage(argv[2]);
    if (!strcmp(argv[1], "--version")) {
        printf("qkperf %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return asks_help(argc - 1, argv + 1) ? command_usage(argv[1])
                                                 : cmds[i].fn(argc - 1, argv + 1);
    return qkperf_usage_error("unknown command '%s' (try: qkperf --help)", argv[1]);
}
