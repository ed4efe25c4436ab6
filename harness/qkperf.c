/*
 * qkperf.c — main: finds the command in the table (cmd/commands.h) and
 * runs it, or prints the help asked for. Each command is its own file
 * under harness/cmd/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib.h"
#include "cli.h"
#include "cmd/commands.h"
#include "plugin.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/* Running from the build tree before `make install`: find the group files
 * in the source tree rather than under the (not yet created) install path. */
static void default_groups_path(void)
{
    struct stat st;
    if (!getenv("QKPERF_GROUPS") && stat(QKPERF_GROUPS_DIR, &st) != 0)
        setenv("QKPERF_GROUPS", QKPERF_SRC_GROUPS_DIR, 0);
}

/* The commands that take --plugin FILE.so (plugin.h): main loads the
 * plugins before the command parses the rest of its options. */
static int takes_plugins(const char *name)
{
    static const char *const names[] = {"list", "run", "ladder", "sweep", "review", "__sim-child"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

static int list_commands(void)
{
    printf("usage: qkperf COMMAND [OPTIONS]   (qkperf COMMAND --help, man qkperf)\n\n");
    for (const qkperf_command *c = qkperf_commands; c->name; c++)
        if (c->summary)
            printf("  %-10s %s\n", c->name, c->summary);
    return 0;
}

/* `qkperf help [COMMAND]`, `qkperf COMMAND --help`: 0, or 2 for an unknown one. */
static int command_usage(const char *name)
{
    const qkperf_command *c = qkperf_command_find(name);
    if (!c || !c->usage)
        return qkperf_usage_error("unknown command '%s' (try: qkperf --help)", name);
    printf("%s(man qkperf for the details)\n", c->usage);
    return 0;
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
    if (argc < 2 || !*argv[1])
        return qkperf_usage_error("no command given (try: qkperf --help)");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        (!strcmp(argv[1], "help") && argc == 2))
        return list_commands();
    if (!strcmp(argv[1], "help"))
        return command_usage(argv[2]);
    if (!strcmp(argv[1], "--version")) {
        printf("qkperf %s\n", PACKAGE_VERSION);
        return 0;
    }
    const qkperf_command *c = qkperf_command_find(argv[1]);
    if (!c)
        return qkperf_usage_error("unknown command '%s' (try: qkperf --help)", argv[1]);
    if (c->usage && asks_help(argc - 1, argv + 1))
        return command_usage(c->name);
    int cargc = argc - 1, rc;
    if (takes_plugins(c->name) && (rc = qkperf_plugin_args(&cargc, argv + 1)))
        return rc;
    return c->run(cargc, argv + 1);
}
