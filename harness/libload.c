/*
 * libload.c — loading another libqk256 build beside this one (libload.h).
 */
#include <dlfcn.h>
#include <qkperf/kernel.h>
#include <stdio.h>
#include <string.h>

#include "libload.h"
#include "registry.h"

/* The symbols every libqk256 build exports (src/qk256.sym): a library
 * without them is something else. */
static const char *const needed[] = {"qk256_kernel_module", "qk256_dequantize", "qk256_gemv"};

int qkperf_lib_load(const char *spec, char *err, size_t len)
{
    const char *eq = strchr(spec, '=');
    char name[64];
    if (!eq || eq == spec || !eq[1] || (size_t)(eq - spec) >= sizeof name)
        return snprintf(err, len, "--lib '%s': expected NAME=PATH/libqk256.so", spec), -1;
    snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
    const char *path = eq + 1;
    void *h = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return snprintf(err, len, "--lib %s: cannot load %s: %s", name, path,
                        why ? why : "unknown error"),
               -1;
    }
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!dlsym(h, needed[i])) {
            dlclose(h);
            return snprintf(err, len, "--lib %s: %s is not a libqk256 build (no %s)", name, path,
                            needed[i]),
                   -1;
        }
    const qk_module *(*module)(void) = (const qk_module *(*)(void))dlsym(h, "qk256_kernel_module");
    char why[400];
    if (qk_register_prefixed(module(), name, why, sizeof why)) {
        dlclose(h);
        return snprintf(err, len, "--lib %s (%s): %s", name, path, why), -1;
    }
    return 0; /* h stays open: its variants are registered */
}

size_t qkperf_lib_prefix(const char *variant)
{
    const char *c = strchr(variant, ':');
    return c ? (size_t)(c - variant) : 0;
}
