/*
 * cmd_list.c — `qkperf list`: the registered ops with their phases and
 * variants (ladder order, which this CPU can run), the event groups of
 * every PMU folder, and the counter sources.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "groups.h"
#include "plugin.h"

const char qkperf_cmd_list_usage[] =
    "usage: qkperf list [--groups-dir DIR] [--plugin FILE.so]...\n"
    "Ops, variants (with what each needs), phases, event groups.\n";

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

static void list_ops(void)
{
    printf("ops, variants (ladder order) and phases; * = runnable on this CPU (%s)\n",
           qk_isa_names(qk_cpu_isa()));
    for (size_t i = 0; i < qk_op_count(); i++) {
        const qk_op *op = qk_op_at(i);
        printf("\n%s — %s\n  phases:", op->name, op->summary ? op->summary : "");
        for (unsigned p = 0; p < qk_phase_count(op); p++)
            printf(" %s", op->phases[p]);
        printf("\n  sizes:  %s\n", op->ndim == 1 ? "N" : "ROWSxCOLS");
        if (qkperf_plugin_of(op))
            printf("  plugin: %s\n", qkperf_plugin_of(op));
        for (size_t k = 0; k < qk_variant_count(op->name); k++) {
            const qk_variant *v = qk_variant_at(op->name, k);
            printf("  %c %-20s %-12s %s\n", qk_variant_runnable(v) ? '*' : ' ', v->name,
                   v->isa ? qk_isa_names(v->isa) : "-", v->summary ? v->summary : "");
        }
    }
}

/* --groups-dir DIR (repeatable) into dirs: 0, or 2 after a usage error. */
static int parse(int argc, char **argv, const char **dirs)
{
    static const struct option opts[] = {{"groups-dir", required_argument, NULL, 'G'},
                                         {NULL, 0, NULL, 0}};
    size_t nd = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c != 'G')
            return qkperf_usage_error("list: %s '%s'", qkperf_getopt_why(c, argv[optind - 1]),
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
    return 0;
}

int qkperf_cmd_list(int argc, char **argv)
{
    const char *dirs[QKPERF_MAX_LIST + 1] = {NULL};
    int rc = parse(argc, argv, dirs);
    if (rc)
        return rc;
    list_ops();
    printf("\nevent groups (host folder: %s)\n", qkperf_group_host_folder(dirs));
    char **folders = qkperf_group_folders(dirs);
    for (size_t i = 0; folders && folders[i]; i++)
        list_groups(folders[i], dirs);
    qkperf_group_list_free(folders);
    printf("\nsources: tsc (time, estimated cycles), sw (software events), hw (groups above),\n"
           "         sim (valgrind callgrind), static (llvm-mca port model)\n");
    return 0;
}
