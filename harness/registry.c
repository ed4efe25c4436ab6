/*
 * registry.c — the table of registered modules, ops and variants behind
 * registry.h: each module checked whole before any of it is added, then
 * its ops and variants appended in order. libqk256's module is registered
 * on the first call, so its ops and variants come first.
 */
#include <qk256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

typedef struct variant_entry {
    const qk_variant *v;
    const qk_module *m;
    const qk_op *ws_op; /* another build's own op for v's workspaces; NULL: the registered op */
} variant_entry;

static struct {
    int ready; /* libqk256's module registered */
    const qk_op **ops;
    unsigned *op_abi; /* the abi of the module that registered ops[i] */
    size_t nops;
    variant_entry *variants;
    size_t nvariants;
} reg;

static int add_module(const qk_module *m, char *err, size_t len);

/* libqk256's module, registered once; its failing is a bug in the library. */
static void ensure_builtin(void)
{
    char err[256];
    if (reg.ready)
        return;
    reg.ready = 1;
    if (add_module(qk256_kernel_module(), err, sizeof err)) {
        fprintf(stderr, "qkperf: libqk256's kernel module is refused: %s\n", err);
        abort();
    }
}

/* ---- lookups ------------------------------------------------------------- */

size_t qk_op_count(void)
{
    ensure_builtin();
    return reg.nops;
}

const qk_op *qk_op_at(size_t i)
{
    ensure_builtin();
    return i < reg.nops ? reg.ops[i] : NULL;
}

const qk_op *qk_find_op(const char *name)
{
    ensure_builtin();
    for (size_t i = 0; name && i < reg.nops; i++)
        if (!strcmp(reg.ops[i]->name, name))
            return reg.ops[i];
    return NULL;
}

unsigned qk_phase_count(const qk_op *op)
{
    unsigned n = 0;
    while (op && op->phases && op->phases[n])
        n++;
    return n;
}

int qk_phase_index(const qk_op *op, const char *phase)
{
    for (unsigned i = 0; phase && i < qk_phase_count(op); i++)
        if (!strcmp(op->phases[i], phase))
            return (int)i;
    return -1;
}

size_t qk_variant_count(const char *op)
{
    ensure_builtin();
    size_t n = 0;
    for (size_t i = 0; op && i < reg.nvariants; i++)
        n += !strcmp(reg.variants[i].v->op, op);
    return n;
}

static const variant_entry *entry_at(const char *op, size_t k)
{
    ensure_builtin();
    for (size_t i = 0; op && i < reg.nvariants; i++)
        if (!strcmp(reg.variants[i].v->op, op) && k-- == 0)
            return &reg.variants[i];
    return NULL;
}

const qk_variant *qk_variant_at(const char *op, size_t i)
{
    const variant_entry *e = entry_at(op, i);
    return e ? e->v : NULL;
}

const qk_variant *qk_find_variant(const char *op, const char *name)
{
    const variant_entry *e;
    for (size_t i = 0; name && (e = entry_at(op, i)); i++)
        if (!strcmp(e->v->name, name))
            return e->v;
    return NULL;
}

int qk_variant_runnable(const qk_variant *v)
{
    return v && (v->isa & ~qk_cpu_isa()) == 0;
}

const qk_variant *qk_reference_variant(const qk_op *op)
{
    if (!op)
        return NULL;
    return op->reference ? qk_find_variant(op->name, op->reference) : qk_variant_at(op->name, 0);
}

static const variant_entry *entry_of(const qk_variant *v)
{
    ensure_builtin();
    for (size_t i = 0; v && i < reg.nvariants; i++)
        if (reg.variants[i].v == v)
            return &reg.variants[i];
    return NULL;
}

const qk_module *qk_variant_module(const qk_variant *v)
{
    const variant_entry *e = entry_of(v);
    return e ? e->m : NULL;
}

const qk_op *qk_workspace_op(const qk_op *op, const qk_variant *v)
{
    const variant_entry *e = entry_of(v);
    return e && e->ws_op ? e->ws_op : op;
}

/* The abi of the module that registered op, else `unregistered`. */
static unsigned op_abi(const qk_op *op, unsigned unregistered)
{
    for (size_t i = 0; i < reg.nops; i++)
        if (reg.ops[i] == op)
            return reg.op_abi[i];
    return unregistered;
}

qk_output_fn qk_workspace_output(const qk_op *op, const qk_variant *v)
{
    const variant_entry *e = entry_of(v);
    if (e && e->ws_op) /* an abi-1 module's qk_op may end before output */
        return e->m->abi >= 2 ? e->ws_op->output : NULL;
    /* (an op not registered is the caller's own, built with this header) */
    return op && op_abi(op, QK_KERNEL_ABI) >= 2 ? op->output : NULL;
}

double qk_op_tolerance(const qk_op *op)
{
    double t = op && op_abi(op, QK_KERNEL_ABI) >= 2 ? op->tolerance : 0;
    return t > 0 ? t : 1e-3;
}

const qk_variant *qk_check_reference(const qk_op *op, const qk_variant *v)
{
    const variant_entry *e = entry_of(v);
    const qk_variant *ref = qk_reference_variant(op);
    if (!e || !e->ws_op || (qk_workspace_output(op, v) && qk_workspace_output(op, ref)))
        return ref;
    /* its own build's: op->reference, else its first variant of the op */
    const char *want = e->ws_op->reference;
    size_t skip = strlen(e->m->name) + 1; /* "PREFIX:" */
    for (size_t i = 0; i < reg.nvariants; i++) {
        const variant_entry *o = &reg.variants[i];
        if (o->m == e->m && !strcmp(o->v->op, v->op) && (!want || !strcmp(o->v->name + skip, want)))
            return o->v;
    }
    return ref;
}

qk_staged_fn qk_phase_staged(const qk_variant *v, unsigned p)
{
    const qk_op *op = v ? qk_find_op(v->op) : NULL;
    return op && v->phases && p < qk_phase_count(op) ? v->phases[p].staged : NULL;
}

const char *qk_phase_note(const qk_variant *v, unsigned p)
{
    return qk_phase_staged(v, p) ? v->phases[p].note : NULL;
}

unsigned qk_staged_count(const qk_variant *v)
{
    const qk_op *op = v ? qk_find_op(v->op) : NULL;
    unsigned n = 0;
    for (unsigned p = 0; op && p < qk_phase_count(op); p++)
        n += qk_phase_staged(v, p) != NULL;
    return n;
}

int qk_abi_accepted(unsigned abi)
{
    return abi >= QK_KERNEL_ABI_OLDEST && abi <= QK_KERNEL_ABI;
}

int qk_stage_workspace(const qk_op *op, const qk_variant *v, void *ws)
{
    const qk_op *w = qk_workspace_op(op, v);
    /* another build's op: the abi of its module; not registered: no stage */
    unsigned abi = w != op ? qk_variant_module(v)->abi : op_abi(op, 0);
    /* an abi-1 module's qk_op ends before the field */
    if (abi < 2 || !w->stage || !qk_staged_count(v))
        return 0;
    return w->stage(ws);
}

/* ---- checking a module --------------------------------------------------- */

static size_t count_of(const void *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    return n;
}

/* A name an op or variant may have: non-empty, no ':' (prefixes). */
static int good_name(const char *s)
{
    return s && *s && !strchr(s, ':');
}

/* Op `name` among the first n ops of m, or registered before. */
static const qk_op *known_op(const qk_module *m, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(m->ops[i]->name, name))
            return m->ops[i];
    return qk_find_op(name);
}

static int has_variant(const qk_module *m, size_t n, const char *op, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m->variants[i]->op, op) && !strcmp(m->variants[i]->name, name))
            return 1;
    return qk_find_variant(op, name) != NULL;
}

static int check_op(const qk_module *m, size_t i, char *err, size_t len)
{
    const qk_op *op = m->ops[i];
    const char *name = op->name ? op->name : "(unnamed)";
    const char *why = !good_name(op->name)                     ? "a non-empty name without ':'"
                      : !op->create || !op->destroy            ? "create and destroy"
                      : !op->elements || !op->bytes            ? "elements and bytes"
                      : op->ndim < 1 || op->ndim > QK_MAX_DIMS ? "ndim 1 or 2"
                      : qk_phase_count(op) > QK_MAX_PHASES     ? "at most 8 phases"
                                                               : NULL;
    if (why)
        return snprintf(err, len, "module '%s': op '%s' needs %s", m->name, name, why), -1;
    if (known_op(m, i, op->name))
        return snprintf(err, len, "module '%s': op '%s' is already registered", m->name, name), -1;
    for (unsigned p = 0; p < qk_phase_count(op); p++)
        if (!*op->phases[p] || qk_phase_index(op, op->phases[p]) != (int)p)
            return snprintf(err, len, "module '%s': op '%s': phase %u is empty or repeated",
                            m->name, name, p),
                   -1;
    return 0;
}

/* After the variants are checked: an op's reference is one of them. */
static int check_reference(const qk_module *m, const qk_op *op, size_t nv, char *err, size_t len)
{
    if (!op->reference || has_variant(m, nv, op->name, op->reference))
        return 0;
    return snprintf(err, len, "module '%s': op '%s': reference variant '%s' is not registered",
                    m->name, op->name, op->reference),
           -1;
}

static int check_variant(const qk_module *m, size_t nops, size_t i, char *err, size_t len)
{
    const qk_variant *v = m->variants[i];
    const char *name = v->name ? v->name : "(unnamed)";
    if (!good_name(v->name) || !v->fused)
        return snprintf(err, len,
                        "module '%s': variant '%s' needs a name without ':' and a fused "
                        "kernel",
                        m->name, name),
               -1;
    if (!known_op(m, nops, v->op))
        return snprintf(err, len,
                        "module '%s': variant '%s' is of op '%s', which is not registered", m->name,
                        name, v->op ? v->op : "(none)"),
               -1;
    if (has_variant(m, i, v->op, v->name))
        return snprintf(err, len, "module '%s': %s variant '%s' is already registered", m->name,
                        v->op, name),
               -1;
    if (v->isa & ~(unsigned)QK_ISA_ALL)
        return snprintf(err, len, "module '%s': variant '%s' needs unknown ISA bits 0x%x", m->name,
                        name, v->isa & ~(unsigned)QK_ISA_ALL),
               -1;
    return 0;
}

static int check_module(const qk_module *m, char *err, size_t len)
{
    if (!m)
        return snprintf(err, len, "no module (NULL)"), -1;
    if (!qk_abi_accepted(m->abi))
        return snprintf(err, len,
                        "module '%s' is built for kernel interface abi %u, qkperf reads %u "
                        "to %u",
                        m->name ? m->name : "(unnamed)", m->abi, QK_KERNEL_ABI_OLDEST,
                        QK_KERNEL_ABI),
               -1;
    if (!m->name || !*m->name)
        return snprintf(err, len, "a module needs a name"), -1;
    size_t nops = count_of((const void *const *)m->ops);
    size_t nv = count_of((const void *const *)m->variants);
    if (nops + nv == 0)
        return snprintf(err, len, "module '%s' has no ops and no variants", m->name), -1;
    for (size_t i = 0; i < nops; i++)
        if (check_op(m, i, err, len))
            return -1;
    for (size_t i = 0; i < nv; i++)
        if (check_variant(m, nops, i, err, len))
            return -1;
    for (size_t i = 0; i < nops; i++)
        if (check_reference(m, m->ops[i], nv, err, len))
            return -1;
    return 0;
}

/* ---- adding one ---------------------------------------------------------- */

static int add_module(const qk_module *m, char *err, size_t len)
{
    if (check_module(m, err, len))
        return -1;
    size_t nops = count_of((const void *const *)m->ops);
    size_t nv = count_of((const void *const *)m->variants);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    const qk_op **ops = realloc(reg.ops, (reg.nops + nops + 1) * sizeof *ops);
    if (ops)
        reg.ops = ops;
    unsigned *abi = ops ? realloc(reg.op_abi, (reg.nops + nops + 1) * sizeof *abi) : NULL;
    if (abi)
        reg.op_abi = abi;
    variant_entry *vs = abi ? realloc(reg.variants, (reg.nvariants + nv + 1) * sizeof *vs) : NULL;
    if (!vs)
        return snprintf(err, len, "module '%s': out of memory", m->name), -1;
    reg.variants = vs;
    for (size_t i = 0; i < nops; i++) {
        reg.op_abi[reg.nops] = m->abi;
        reg.ops[reg.nops++] = m->ops[i];
    }
    for (size_t i = 0; i < nv; i++)
        reg.variants[reg.nvariants++] = (variant_entry){m->variants[i], m, NULL};
    return 0;
}

int qk_register_module(const qk_module *m, char *err, size_t len)
{
    ensure_builtin();
    return add_module(m, err, len);
}

/* ---- another build, under a prefix ---------------------------------------- */

static int same_phases(const qk_op *a, const qk_op *b)
{
    unsigned n = qk_phase_count(a);
    if (n != qk_phase_count(b))
        return 0;
    for (unsigned p = 0; p < n; p++)
        if (strcmp(a->phases[p], b->phases[p]))
            return 0;
    return 1;
}

/* m's own op of that name (its module's list), NULL if none. */
static const qk_op *own_op(const qk_module *m, const char *name)
{
    for (size_t i = 0; m->ops && m->ops[i]; i++)
        if (m->ops[i]->name && !strcmp(m->ops[i]->name, name))
            return m->ops[i];
    return NULL;
}

/* The op another build's variants of op `name` run on: its own, when it
 * has create and destroy (another build's kernels may read another
 * layout, a repacked copy), else NULL (the registered op). */
static const qk_op *own_ws_op(const qk_module *m, const char *name)
{
    const qk_op *op = own_op(m, name);
    return op && op->create && op->destroy ? op : NULL;
}

/* The modules of other builds, kept for the life of the process. */
static qk_module *kept[16];
static size_t nkept;

int qk_register_prefixed(const qk_module *m, const char *prefix, char *err, size_t len)
{
    ensure_builtin();
    if (!m || !qk_abi_accepted(m->abi))
        return snprintf(err, len, "'%s' is not a module of kernel interface abi %u to %u", prefix,
                        QK_KERNEL_ABI_OLDEST, QK_KERNEL_ABI),
               -1;
    if (!good_name(prefix))
        return snprintf(err, len, "bad library name '%s': a name without ':'", prefix), -1;
    for (size_t i = 0; i < reg.nvariants; i++)
        if (!strcmp(reg.variants[i].m->name, prefix))
            return snprintf(err, len, "library name '%s' is already taken", prefix), -1;
    size_t nv = count_of((const void *const *)m->variants);
    if (nv == 0 || nkept == sizeof kept / sizeof kept[0])
        return snprintf(err, len, "%s: no variants, or too many libraries", prefix), -1;
    for (size_t i = 0; i < nv; i++) {
        const qk_variant *v = m->variants[i];
        const qk_op *here = qk_find_op(v->op), *there = own_op(m, v->op);
        if (!v->name || !v->fused || !good_name(v->name))
            return snprintf(err, len, "%s: a variant without a name or fused kernel", prefix), -1;
        if (!here)
            return snprintf(err, len, "%s: op '%s' is not known to this build", prefix, v->op), -1;
        if (there && !same_phases(here, there))
            return snprintf(err, len, "%s: op '%s' has other phases than this build's", prefix,
                            v->op),
                   -1;
    }
    /* Kept for the life of the process, as registered modules are. */
    qk_module *wrap = calloc(1, sizeof *wrap);
    qk_variant *vs = calloc(nv + 1, sizeof *vs);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    const qk_variant **vp = calloc(nv + 1, sizeof *vp);
    char *names = calloc(nv + 1, 128);
    char *mname = strdup(prefix);
    variant_entry *grown = wrap && vs && vp && names && mname
                               ? realloc(reg.variants, (reg.nvariants + nv + 1) * sizeof *grown)
                               : NULL;
    if (!grown) {
        free(wrap);
        free(vs);
        free(vp);
        free(names);
        free(mname);
        return snprintf(err, len, "%s: out of memory", prefix), -1;
    }
    reg.variants = grown;
    *wrap = *m;
    wrap->name = mname;
    wrap->ops = NULL;
    for (size_t i = 0; i < nv; i++) {
        vs[i] = *m->variants[i];
        snprintf(names + 128 * i, 128, "%s:%s", prefix, m->variants[i]->name);
        vs[i].name = names + 128 * i;
        vp[i] = &vs[i];
        reg.variants[reg.nvariants++] = (variant_entry){&vs[i], wrap, own_ws_op(m, vs[i].op)};
    }
    wrap->variants = vp;
    kept[nkept++] = wrap;
    return 0;
}
