/*
 * plugin_bad.c — plugins that qkperf must refuse, one per flavour (built
 * by make check with -DBAD_<flavour> into tests/plugins/bad-<flavour>.so):
 *   nosym  no qkperf_plugin symbol
 *   abi    a module of another kernel interface abi
 *   clash  an op named like a built-in one (gemv)
 *   empty  an op with an empty name
 *   dup    the same variant twice
 * and, built with -c alone, an object file that is not a shared object.
 */
#include <qkperf/kernel.h>

static void *create(const size_t *dim, uint64_t seed)
{
    (void)dim;
    (void)seed;
    return malloc(1);
}

static double count(const size_t *dim)
{
    return (double)dim[0];
}

static void run(void *ws)
{
    (void)ws;
}

static const char *const phases[] = {"all", NULL};

static const qk_op op = {
#if defined(BAD_clash)
    .name = "gemv",
#elif defined(BAD_empty)
    .name = "",
#else
    .name = "bad-op",
#endif
    .summary = "a plugin qkperf refuses",
    .phases = phases,
    .ndim = 1,
    .create = create,
    .destroy = free,
    .elements = count,
    .bytes = count,
};

static const qk_variant one = {.op = "bad-op", .name = "one", .fused = run};
static const qk_op *const ops[] = {&op, NULL};
#ifdef BAD_dup
static const qk_variant *const variants[] = {&one, &one, NULL};
#else
static const qk_variant *const variants[] = {&one, NULL};
#endif

static const qk_module module = {
#ifdef BAD_abi
    .abi = 99,
#else
    .abi = QK_KERNEL_ABI,
#endif
    .name = "bad",
    .ops = ops,
    .variants = variants,
};

#ifndef BAD_nosym
QK_PLUGIN_DEFINE(module)
#else
const qk_module *other_name(void);
const qk_module *other_name(void)
{
    return &module;
}
#endif
