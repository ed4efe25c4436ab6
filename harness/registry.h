/*
 * registry.h — the ops and variants qkperf can profile: the kernel modules
 * registered with it (<qkperf/kernel.h>), looked up by name.
 *
 * libqk256's module (qk256_kernel_module) is registered by the first call
 * of any function here, so it always comes first; other modules (the
 * calibration ops, a test's own kernels) follow in the order registered.
 * A module may bring new ops, variants of its own ops, and variants of ops
 * registered before it. Registration is not thread-safe: register before
 * profiling starts.
 *
 * Names: op and variant names are unique (variants per op) and hold no
 * ':', which is kept for naming a module's variants under a prefix
 * ("NAME:variant") when several builds of a library are loaded side by
 * side.
 */
#ifndef QKPERF_REGISTRY_H
#define QKPERF_REGISTRY_H

#include <qkperf/kernel.h>
#include <stddef.h>

/* Check m and register all of it, or nothing: 0, or -1 with one line in
 * err naming the module and what is wrong (wrong abi, a name taken, a
 * missing field, a variant of an unknown op, ...). The registry keeps the
 * pointers: m and all it points to must stay valid from then on. */
int qk_register_module(const qk_module *m, char *err, size_t len);

/* Register the variants of m — another build of a library, loaded by
 * the caller — under the prefix: variant V of op O becomes O's variant
 * "PREFIX:V", running m's code on workspaces of m's own op O (its
 * create, destroy, stage, compare and output: another build may lay out
 * its data differently), or of the op registered before when m has no op
 * O with create and destroy. m's op O must have the same phases in the
 * same order; m's ops are not registered (names, phases, elements and
 * bytes are the registered op's). 0, or -1 with one line in err (a
 * prefix taken or not a name, an op of m unknown here or with other
 * phases). */
int qk_register_prefixed(const qk_module *m, const char *prefix, char *err, size_t len);

size_t qk_op_count(void);
const qk_op *qk_op_at(size_t i);
const qk_op *qk_find_op(const char *name);
unsigned qk_phase_count(const qk_op *op);
int qk_phase_index(const qk_op *op, const char *phase); /* -1 if unknown */

/* Variants of an op in ladder (registration) order. */
size_t qk_variant_count(const char *op);
const qk_variant *qk_variant_at(const char *op, size_t i);
const qk_variant *qk_find_variant(const char *op, const char *name);
int qk_variant_runnable(const qk_variant *v); /* 1 if this CPU has its ISA */
/* The variant op's others are checked against: op->reference, else the first. */
const qk_variant *qk_reference_variant(const qk_op *op);
/* The module that registered v, NULL if none did. */
const qk_module *qk_variant_module(const qk_variant *v);
/* The op whose create, destroy, stage and compare make and read v's
 * workspaces: another build's own op for its prefixed variants, else op
 * (the registered op v belongs to). */
const qk_op *qk_workspace_op(const qk_op *op, const qk_variant *v);
/* Its output(), NULL if none, or if the op comes from a module of abi 1:
 * output and tolerance were added to qk_op while abi 1 was current, so an
 * abi-1 module's qk_op may end before them, and whatever follows it would
 * be read as a function (such a module's variants are checked through
 * compare() alone). */
typedef const float *(*qk_output_fn)(const void *ws, size_t *n);
qk_output_fn qk_workspace_output(const qk_op *op, const qk_variant *v);
/* The check's tolerance: op's, if set and op is not of an abi-1 module
 * (as above), else 1e-3. */
double qk_op_tolerance(const qk_op *op);
/* The variant v is checked against: op's reference (qk_reference_variant)
 * when both give outputs, element by element; else, for another build's
 * variant, its own build's reference (that op's reference, else its
 * first variant of op), compared through that build's compare(). */
const qk_variant *qk_check_reference(const qk_op *op, const qk_variant *v);

/* Phase p of v: its staged runner (NULL: none) and its note (NULL: the
 * staged runner runs the fused kernel's own code). */
typedef void (*qk_staged_fn)(void *ws);
qk_staged_fn qk_phase_staged(const qk_variant *v, unsigned p);
const char *qk_phase_note(const qk_variant *v, unsigned p);
/* 1 if a module of this abi is accepted: QK_KERNEL_ABI_OLDEST to
 * QK_KERNEL_ABI. */
int qk_abi_accepted(unsigned abi);
/* The number of phases of v with a staged runner. */
unsigned qk_staged_count(const qk_variant *v);
/* Before v's staged phases first run on ws: the stage (qk_op.stage) of
 * qk_workspace_op(op, v), if its module is of abi 2 or later, the op sets
 * it and v has a staged phase; 0, or -1 with errno. */
int qk_stage_workspace(const qk_op *op, const qk_variant *v, void *ws);

#endif
