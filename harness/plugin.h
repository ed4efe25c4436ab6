/*
 * plugin.h — a user's kernels loaded at run time: `--plugin FILE.so` on
 * list, run, ladder, sweep and review (and the sim source's child, which
 * gets the same paths). A plugin is a shared object built against
 * <qkperf/kernel.h> alone that exports QK_PLUGIN_SYMBOL, a function
 * returning its qk_module; qkperf dlopens it, checks the module and
 * registers it (registry.h) beside libqk256's. A plugin calls nothing of
 * qkperf's: it needs no library to link against.
 */
#ifndef QKPERF_PLUGIN_H
#define QKPERF_PLUGIN_H

#include <stddef.h>

#include "registry.h"

enum { QKPERF_MAX_PLUGINS = 8 };

/* Load the plugin at path and register its module. 0, or -1 with one line
 * in err naming the file and what is wrong: no such file, not a shared
 * object, no QK_PLUGIN_SYMBOL, another kernel interface abi, a name
 * already registered (a built-in op's, say), or a module the registry
 * refuses for another reason. A plugin that fails is not registered. */
int qkperf_plugin_load(const char *path, char *err, size_t len);

/* Take every `--plugin FILE` and `--plugin=FILE` out of argv[1..argc)
 * (argv stays NULL-terminated, *argc shrinks) and load each in order.
 * 0, or 2 after printing one line on stderr. */
int qkperf_plugin_args(int *argc, char **argv);

/* The plugins loaded, in order: their absolute paths. */
size_t qkperf_plugin_count(void);
const char *qkperf_plugin_path(size_t i);

/* The path of the plugin that registered op, NULL if none did. */
const char *qkperf_plugin_of(const qk_op *op);
/* The path of the plugin whose module m is, NULL if none. */
const char *qkperf_plugin_of_module(const qk_module *m);

#endif
