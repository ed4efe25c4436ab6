/*
 * plugin.c — loading users' kernel modules from shared objects (plugin.h):
 * the file is checked before dlopen so that the common mistakes (a wrong
 * path, an object file or an executable given for the .so) get a line of
 * their own rather than the loader's message, then the entry symbol, the
 * abi and the names are checked before the registry sees the module.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "plugin.h"

typedef const qk_module *(*entry_fn)(void);

static struct {
    char *path[QKPERF_MAX_PLUGINS];
    const qk_module *module[QKPERF_MAX_PLUGINS];
    size_t n;
} loaded;

/* The file is there and is an ELF shared object (ET_DYN). 0, or -1 with err. */
static int check_file(const char *path, char *err, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return snprintf(err, len, "plugin '%s': %s", path, strerror(errno)), -1;
    if (!S_ISREG(st.st_mode))
        return snprintf(err, len, "plugin '%s': not a regular file", path), -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return snprintf(err, len, "plugin '%s': %s", path, strerror(errno)), -1;
    unsigned char h[EI_NIDENT + 2] = {0};
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n < sizeof h || memcmp(h, ELFMAG, SELFMAG) != 0)
        return snprintf(err, len, "plugin '%s': not a shared object (not an ELF file)", path), -1;
    uint16_t type = h[EI_DATA] == ELFDATA2MSB ? (uint16_t)(h[EI_NIDENT] << 8 | h[EI_NIDENT + 1])
                                              : (uint16_t)(h[EI_NIDENT + 1] << 8 | h[EI_NIDENT]);
    if (type != ET_DYN)
        return snprintf(err, len,
                        "plugin '%s': not a shared object (ELF type %u; build it with "
                        "-shared -fPIC)",
                        path, type),
               -1;
    return 0;
}

/* An op of m with the name of an op registered before it (libqk256's, the
 * calibration ops or another plugin's). Only for a module of this abi. */
static int check_names(const qk_module *m, const char *path, char *err, size_t len)
{
    for (size_t i = 0; m->ops && m->ops[i]; i++) {
        const char *name = m->ops[i]->name;
        const qk_op *had = name ? qk_find_op(name) : NULL;
        if (had)
            return snprintf(err, len,
                            "plugin '%s': op '%s' clashes with the %s op of that name; "
                            "rename it",
                            path, name, qkperf_plugin_of(had) ? "other plugin's" : "built-in"),
                   -1;
    }
    return 0;
}

/* The module the plugin's entry returns, checked for its abi and names.
 * NULL with err. */
static const qk_module *module_of(void *h, const char *path, char *err, size_t len)
{
    void *sym = dlsym(h, QK_PLUGIN_SYMBOL);
    if (!sym) {
        snprintf(err, len,
                 "plugin '%s': no symbol " QK_PLUGIN_SYMBOL
                 " (export const qk_module *" QK_PLUGIN_SYMBOL "(void))",
                 path);
        return NULL;
    }
    entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* POSIX: a function's address from dlsym */
    const qk_module *m = entry();
    if (!m)
        snprintf(err, len, "plugin '%s': " QK_PLUGIN_SYMBOL "() returned no module", path);
    else if (!qk_abi_accepted(m->abi))
        snprintf(err, len,
                 "plugin '%s': built for kernel interface abi %u, this qkperf reads abi %u "
                 "to %u (rebuild it against this <qkperf/kernel.h>)",
                 path, m->abi, QK_KERNEL_ABI_OLDEST, QK_KERNEL_ABI);
    else if (check_names(m, path, err, len) == 0)
        return m;
    return NULL;
}

int qkperf_plugin_load(const char *path, char *err, size_t len)
{
    if (loaded.n == QKPERF_MAX_PLUGINS)
        return snprintf(err, len, "plugin '%s': at most %d plugins", path, QKPERF_MAX_PLUGINS), -1;
    if (check_file(path, err, len))
        return -1;
    char *abs = realpath(path, NULL);
    if (!abs)
        return snprintf(err, len, "plugin '%s': %s", path, strerror(errno)), -1;
    for (size_t i = 0; i < loaded.n; i++)
        if (!strcmp(loaded.path[i], abs)) {
            free(abs);
            return snprintf(err, len, "plugin '%s' is given twice", path), -1;
        }
    void *h = dlopen(abs, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, len, "plugin '%s': cannot load it: %s", path, why ? why : "dlopen failed");
        free(abs);
        return -1;
    }
    char why[768];
    const qk_module *m = module_of(h, path, err, len);
    if (m && qk_register_module(m, why, sizeof why)) {
        snprintf(err, len, "plugin '%s': %s", path, why);
        m = NULL;
    }
    if (!m) {
        dlclose(h);
        free(abs);
        return -1;
    }
    loaded.path[loaded.n] = abs; /* the handle stays open: the registry keeps m */
    loaded.module[loaded.n++] = m;
    return 0;
}

int qkperf_plugin_args(int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--plugin")) {
            if (i + 1 >= *argc)
                return qkperf_usage_error("missing value for option '--plugin'");
            path = argv[++i];
        } else if (!strncmp(argv[i], "--plugin=", 9))
            path = argv[i] + 9;
        else {
            argv[out++] = argv[i];
            continue;
        }
        char err[PATH_MAX + 1024];
        if (!*path)
            return qkperf_usage_error("--plugin: empty path: name a FILE.so");
        if (qkperf_plugin_load(path, err, sizeof err))
            return qkperf_usage_error("%s", err);
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

size_t qkperf_plugin_count(void)
{
    return loaded.n;
}

const char *qkperf_plugin_path(size_t i)
{
    return i < loaded.n ? loaded.path[i] : NULL;
}

const char *qkperf_plugin_of(const qk_op *op)
{
    for (size_t i = 0; op && i < loaded.n; i++)
        for (size_t k = 0; loaded.module[i]->ops && loaded.module[i]->ops[k]; k++)
            if (loaded.module[i]->ops[k] == op)
                return loaded.path[i];
    return NULL;
}

const char *qkperf_plugin_of_module(const qk_module *m)
{
    for (size_t i = 0; m && i < loaded.n; i++)
        if (loaded.module[i] == m)
            return loaded.path[i];
    return NULL;
}
