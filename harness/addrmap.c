/*
 * addrmap.c — addresses to inline frames to phases with elfutils libdwfl.
 *
 * libdwfl finds each address's object (Dwfl_Module), its DWARF (also in
 * separate debug files, through the build-id) and its compile unit; libdw
 * gives the scopes. dwarf_getscopes(cu, pc) finds the innermost scope at
 * pc, but above an inlined instance it continues with the scopes of the
 * abstract definition (lexical nesting, for variable lookup), so the chain
 * of *physical* nesting — which inline instance sits in which function —
 * comes from dwarf_getscopes_die on that innermost DIE, as eu-addr2line -i
 * does. Names go through DW_AT_abstract_origin (dwarf_diename integrates).
 *
 * Results are cached in an open-addressing table keyed by address; the
 * strings they point to are interned here, so they outlive the Dwfl's own
 * (a live map re-reads the process's modules, which can free them).
 */
#include "addrmap.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An address range whose file could not be reported, and why. */
typedef struct qkperf_bad_range {
    uint64_t lo, hi;
    const char *why;
} qkperf_bad_range;

typedef struct qkperf_addr_entry {
    uint64_t addr;
    const char *function;
    const char *why;
    int32_t phase;
    uint8_t status, symtab, used;
} qkperf_addr_entry;

struct qkperf_addrmap {
    Dwfl *dwfl;
    pid_t pid; /* > 0: a live process, re-read on a miss */
    /* interned strings: open addressing over char * */
    char **strs;
    size_t nstrs, capstrs;
    /* the cache */
    qkperf_addr_entry *cache;
    size_t ncache, capcache;
    /* the phase table */
    qkperf_addr_block *blocks;
    size_t nblocks;
    qkperf_bad_range *bad;
    size_t nbad;
    /* a live process: its file-backed mappings when last reported. libdwfl
     * gives a module the span of all its file's mappings, so an anonymous
     * mapping in a gap between them (JIT code) would resolve to that file */
    qkperf_mapping *mapped;
    size_t nmapped;
};

static char *debuginfo_path_;

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path_,
};

static const Dwfl_Callbacks file_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path_,
};

static const char *const addr_status_texts[] = {
    [QKPERF_ADDR_OK] = "ok",
    [QKPERF_ADDR_NO_MODULE] = "no object mapped",
    [QKPERF_ADDR_NO_DEBUGINFO] = "no debug info",
    [QKPERF_ADDR_NO_SCOPE] = "no DWARF scope",
    [QKPERF_ADDR_NO_FILE] = "object file not readable",
};

const char *qkperf_addr_status_text(qkperf_addr_status st)
{
    if ((unsigned)st >= sizeof addr_status_texts / sizeof addr_status_texts[0])
        return "invalid status";
    return addr_status_texts[st];
}

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* ---- interned strings ---------------------------------------------------- */

static uint64_t qkperf_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int strs_grow(qkperf_addrmap *m)
{
    size_t cap = m->capstrs ? 2 * m->capstrs : 256;
    char **t = calloc(cap, sizeof *t);
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < m->capstrs; i++) {
        if (m->strs[i] == NULL)
            continue;
        size_t j = qkperf_hash_str(m->strs[i]) & (cap - 1);
        while (t[j] != NULL)
            j = (j + 1) & (cap - 1);
        t[j] = m->strs[i];
    }
    free(m->strs);
    m->strs = t;
    m->capstrs = cap;
    return 0;
}

/* The map's own copy of s (one per distinct string); NULL stays NULL, and
 * so does a failed allocation (the caller then reports no name). */
static const char *intern(qkperf_addrmap *m, const char *s)
{
    if (s == NULL)
        return NULL;
    if (2 * (m->nstrs + 1) > m->capstrs && strs_grow(m) != 0)
        return NULL;
    size_t j = qkperf_hash_str(s) & (m->capstrs - 1);
    while (m->strs[j] != NULL) {
        if (strcmp(m->strs[j], s) == 0)
            return m->strs[j];
        j = (j + 1) & (m->capstrs - 1);
    }
    m->strs[j] = strdup(s);
    if (m->strs[j] != NULL)
        m->nstrs++;
    return m->strs[j];
}

static const char *internf(qkperf_addrmap *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *internf(qkperf_addrmap *m, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return intern(m, buf);
}

/* ---- opening --------------------------------------------------------------- */

static qkperf_addrmap *addrmap_new(const Dwfl_Callbacks *cb, char *err, size_t len)
{
    qkperf_addrmap *m = calloc(1, sizeof *m);
    if (m == NULL) {
        set_err(err, len, "addrmap: out of memory");
        return NULL;
    }
    m->dwfl = dwfl_begin(cb);
    if (m->dwfl == NULL) {
        set_err(err, len, "addrmap: dwfl_begin: %s", dwfl_errmsg(-1));
        free(m);
        return NULL;
    }
    return m;
}

static int report_pid(qkperf_addrmap *m)
{
    dwfl_report_begin(m->dwfl);
    int rc = dwfl_linux_proc_report(m->dwfl, m->pid);
    if (dwfl_report_end(m->dwfl, NULL, NULL) != 0 && rc == 0)
        rc = -1;
    qkperf_mappings_free(m->mapped, m->nmapped);
    m->mapped = NULL;
    m->nmapped = 0;
    if (rc == 0 && qkperf_mappings_read(m->pid, &m->mapped, &m->nmapped, NULL, 0) != 0) {
        m->mapped = NULL; /* unknown: every address inside a module's span counts */
        m->nmapped = 0;
    }
    return rc;
}

/* 1 if addr is inside a file-backed mapping of the live process, or the
 * mappings are unknown. */
static int file_mapped(const qkperf_addrmap *m, uint64_t addr)
{
    if (m->pid <= 0 || m->mapped == NULL)
        return 1;
    for (size_t i = 0; i < m->nmapped; i++)
        if (addr >= m->mapped[i].start && addr < m->mapped[i].end)
            return 1;
    return 0;
}

qkperf_addrmap *qkperf_addrmap_open_pid(pid_t pid, char *err, size_t len)
{
    qkperf_addrmap *m = addrmap_new(&proc_callbacks, err, len);
    if (m == NULL)
        return NULL;
    m->pid = pid;
    int rc = report_pid(m);
    if (rc != 0) {
        /* rc > 0 is an errno from reading /proc/PID/maps */
        set_err(err, len, "addrmap: cannot read the mappings of pid %d: %s", (int)pid,
                rc > 0 ? strerror(rc) : dwfl_errmsg(-1));
        qkperf_addrmap_free(m);
        return NULL;
    }
    return m;
}

qkperf_addrmap *qkperf_addrmap_open_self(char *err, size_t len)
{
    return qkperf_addrmap_open_pid(getpid(), err, len);
}

qkperf_addrmap *qkperf_addrmap_open_elf(const char *path, uint64_t bias, char *err, size_t len)
{
    qkperf_addrmap *m = addrmap_new(&file_callbacks, err, len);
    if (m == NULL)
        return NULL;
    dwfl_report_begin(m->dwfl);
    Dwfl_Module *mod = dwfl_report_elf(m->dwfl, path, path, -1, bias, true);
    dwfl_report_end(m->dwfl, NULL, NULL);
    if (mod == NULL) {
        set_err(err, len, "addrmap: cannot read %s as an ELF object: %s", path, dwfl_errmsg(-1));
        qkperf_addrmap_free(m);
        return NULL;
    }
    return m;
}

/* The load bias of path mapped at start from file offset pgoff: the
 * runtime address minus the link-time address of the same byte, found
 * through the PT_LOAD header whose file range holds pgoff. 0, or -1 with
 * the reason in why. */
static int mapping_bias(const char *path, uint64_t start, uint64_t pgoff, uint64_t *bias, char *why,
                        size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(why, len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    GElf_Ehdr eh;
    size_t phnum = 0;
    int rc = -1;
    if (e == NULL || gelf_getehdr(e, &eh) == NULL || elf_getphdrnum(e, &phnum) != 0) {
        set_err(why, len, "%s is not an ELF object: %s", path, elf_errmsg(-1));
        goto out;
    }
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(e, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
            continue;
        uint64_t lo = ph.p_offset & ~(uint64_t)(page - 1);
        if (pgoff < lo || pgoff >= ph.p_offset + ph.p_filesz)
            continue;
        *bias = eh.e_type == ET_EXEC ? 0 : start - (ph.p_vaddr - ph.p_offset + pgoff);
        rc = 0;
        goto out;
    }
    set_err(why, len, "%s has no loadable segment at file offset 0x%llx", path,
            (unsigned long long)pgoff);
out:
    if (e != NULL)
        elf_end(e);
    close(fd);
    return rc;
}

static int add_bad(qkperf_addrmap *m, uint64_t lo, uint64_t hi, const char *why)
{
    qkperf_bad_range *t = realloc(m->bad, (m->nbad + 1) * sizeof *t);
    if (t == NULL)
        return -1;
    m->bad = t;
    m->bad[m->nbad++] = (qkperf_bad_range){lo, hi, intern(m, why)};
    return 0;
}

/* Report the object of maps[first]: the span of all mappings of its path,
 * the bias from the first executable one (or the first one). 1 if
 * reported, 0 if not (its span then resolves with the reason). */
static int report_mapping(qkperf_addrmap *m, const qkperf_mapping *maps, size_t n, size_t first)
{
    const char *path = maps[first].path;
    size_t pick = first;
    uint64_t lo = UINT64_MAX, hi = 0, bias = 0;
    for (size_t i = first; i < n; i++) {
        if (strcmp(maps[i].path, path) != 0)
            continue;
        lo = maps[i].start < lo ? maps[i].start : lo;
        hi = maps[i].end > hi ? maps[i].end : hi;
        if (maps[i].exec && !maps[pick].exec)
            pick = i;
    }
    char why[400];
    if (mapping_bias(path, maps[pick].start, maps[pick].pgoff, &bias, why, sizeof why)) {
        add_bad(m, lo, hi, why);
        return 0;
    }
    if (dwfl_report_elf(m->dwfl, path, path, -1, bias, true) == NULL) {
        snprintf(why, sizeof why, "cannot report %s: %s", path, dwfl_errmsg(-1));
        add_bad(m, lo, hi, why);
        return 0;
    }
    return 1;
}

static int seen_path(const qkperf_mapping *maps, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (maps[j].path && maps[i].path && strcmp(maps[j].path, maps[i].path) == 0)
            return 1;
    return 0;
}

qkperf_addrmap *qkperf_addrmap_open_mappings(const qkperf_mapping *maps, size_t n, char *err,
                                             size_t len)
{
    qkperf_addrmap *m = addrmap_new(&file_callbacks, err, len);
    if (m == NULL)
        return NULL;
    size_t reported = 0, files = 0;
    dwfl_report_begin(m->dwfl);
    for (size_t i = 0; i < n; i++) {
        if (maps[i].path == NULL || maps[i].path[0] != '/' || seen_path(maps, i))
            continue;
        files++;
        reported += (size_t)report_mapping(m, maps, n, i);
    }
    dwfl_report_end(m->dwfl, NULL, NULL);
    if (reported == 0) {
        if (files == 0)
            set_err(err, len, "addrmap: no file-backed mapping among %zu mappings", n);
        else
            set_err(err, len, "addrmap: no object could be reported: %s",
                    m->bad ? m->bad[0].why : "?");
        qkperf_addrmap_free(m);
        return NULL;
    }
    return m;
}

void qkperf_addrmap_free(qkperf_addrmap *m)
{
    if (m == NULL)
        return;
    if (m->dwfl != NULL)
        dwfl_end(m->dwfl);
    for (size_t i = 0; i < m->capstrs; i++)
        free(m->strs[i]);
    free(m->strs);
    free(m->cache);
    free(m->blocks);
    free(m->bad);
    qkperf_mappings_free(m->mapped, m->nmapped);
    free(m);
}

int qkperf_addrmap_set_blocks(qkperf_addrmap *m, const qkperf_addr_block *blocks, size_t n,
                              char *err, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (blocks[i].name == NULL || blocks[i].name[0] == '\0' || blocks[i].phase < 0) {
            set_err(err, len,
                    "addrmap: block %zu of the phase table needs a function name and a "
                    "phase >= 0",
                    i);
            return -1;
        }
    }
    qkperf_addr_block *t = n ? calloc(n, sizeof *t) : NULL;
    if (n && t == NULL) {
        set_err(err, len, "addrmap: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = (qkperf_addr_block){intern(m, blocks[i].name), blocks[i].phase};
    free(m->blocks);
    m->blocks = t;
    m->nblocks = n;
    if (m->cache != NULL)
        memset(m->cache, 0, m->capcache * sizeof *m->cache);
    m->ncache = 0;
    return 0;
}

/* ---- resolving ------------------------------------------------------------- */

static Dwfl_Module *find_module(qkperf_addrmap *m, uint64_t addr)
{
    Dwfl_Module *mod = dwfl_addrmodule(m->dwfl, addr);
    if ((mod == NULL || !file_mapped(m, addr)) && m->pid > 0 && report_pid(m) == 0)
        mod = dwfl_addrmodule(m->dwfl, addr); /* a library loaded since */
    return mod != NULL && file_mapped(m, addr) ? mod : NULL;
}

/* No module at addr: a range whose file failed, or nothing mapped. */
static void no_module(qkperf_addrmap *m, uint64_t addr, qkperf_frames *f)
{
    for (size_t i = 0; i < m->nbad; i++) {
        if (addr >= m->bad[i].lo && addr < m->bad[i].hi) {
            f->status = QKPERF_ADDR_NO_FILE;
            f->why = m->bad[i].why;
            return;
        }
    }
    f->status = QKPERF_ADDR_NO_MODULE;
    f->why = intern(m, "no object is mapped there (JIT code, [vdso], or mapped after the "
                       "map was made)");
}

/* The frames of the physical nesting chain of die: inline instances and
 * the first out-of-line function. */
static void chain_frames(qkperf_addrmap *m, Dwarf_Die *die, qkperf_frames *f)
{
    Dwarf_Die *chain = NULL;
    int nc = dwarf_getscopes_die(die, &chain);
    for (int i = 0; i < nc; i++) {
        int tag = dwarf_tag(&chain[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
            continue;
        const char *name = dwarf_diename(&chain[i]);
        if (f->n == QKPERF_ADDR_MAX_FRAMES - 1 && tag != DW_TAG_subprogram) {
            f->truncated = 1;
            continue;
        }
        f->name[f->n++] = intern(m, name ? name : "??");
        if (tag == DW_TAG_subprogram)
            break;
    }
    free(chain);
}

/* The DWARF part of resolving: frames of addr inside mod. */

/* The compile unit covering addr when dwfl_module_addrdie finds none: it
 * looks addresses up in .debug_aranges, which clang does not emit by
 * default (-gdwarf-aranges), so a clang-built binary's CUs are also
 * searched by their own ranges. NULL if none covers addr. */
static Dwarf_Die *cu_scan(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Addr *bias, Dwarf_Die *out)
{
    Dwarf *dw = dwfl_module_getdwarf(mod, bias);
    Dwarf_Off off = 0, next;
    size_t hsize;
    while (dw && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
        if (dwarf_offdie(dw, off + hsize, out) && dwarf_haspc(out, addr - *bias) == 1)
            return out;
        off = next;
    }
    return NULL;
}

static void dwarf_frames(qkperf_addrmap *m, Dwfl_Module *mod, uint64_t addr, qkperf_frames *f)
{
    Dwarf_Addr bias = 0;
    Dwarf_Die cu_mem, *cu = dwfl_module_addrdie(mod, addr, &bias);
    if (cu == NULL)
        cu = cu_scan(mod, addr, &bias, &cu_mem);
    if (cu == NULL) {
        Dwarf_Addr b2;
        if (dwfl_module_getdwarf(mod, &b2) == NULL) {
            f->status = QKPERF_ADDR_NO_DEBUGINFO;
            f->why = internf(m,
                             "no debug info for %s (build it with -g, or install its "
                             "debug symbols)",
                             f->module);
        } else {
            f->status = QKPERF_ADDR_NO_SCOPE;
            f->why = internf(m,
                             "no DWARF compile unit covers some code of %s (code built "
                             "without -g: PLT, startup files)",
                             f->module);
        }
        return;
    }
    Dwarf_Die *scopes = NULL;
    int ns = dwarf_getscopes(cu, addr - bias, &scopes);
    if (ns > 0)
        chain_frames(m, &scopes[0], f);
    free(scopes);
    if (f->n == 0) {
        f->status = QKPERF_ADDR_NO_SCOPE;
        f->why = internf(m, "no DWARF function covers some code of %s", f->module);
    }
}

void qkperf_addrmap_frames(qkperf_addrmap *m, uint64_t addr, qkperf_frames *out)
{
    memset(out, 0, sizeof *out);
    Dwfl_Module *mod = find_module(m, addr);
    if (mod == NULL) {
        no_module(m, addr, out);
        return;
    }
    out->module = intern(m, dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
    Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
    Dwarf_Die cu;
    Dwarf_Addr bias;
    Dwarf_Line *dl;
    if (line != NULL)
        out->file = intern(m, dwfl_lineinfo(line, NULL, &out->line, NULL, NULL, NULL));
    else if (cu_scan(mod, addr, &bias, &cu) && (dl = dwarf_getsrc_die(&cu, addr - bias)) &&
             dwarf_lineno(dl, &out->line) == 0) /* no .debug_aranges (clang) */
        out->file = intern(m, dwarf_linesrc(dl, NULL, NULL));
    dwarf_frames(m, mod, addr, out);
}

/* ---- the cache ------------------------------------------------------------- */

static size_t hash_addr(uint64_t a, size_t cap)
{
    a ^= a >> 33;
    a *= 0xff51afd7ed558ccdull;
    a ^= a >> 33;
    return (size_t)a & (cap - 1);
}

static qkperf_addr_entry *cache_slot(qkperf_addr_entry *t, size_t cap, uint64_t addr)
{
    size_t j = hash_addr(addr, cap);
    while (t[j].used && t[j].addr != addr)
        j = (j + 1) & (cap - 1);
    return &t[j];
}

static int cache_grow(qkperf_addrmap *m)
{
    size_t cap = m->capcache ? 2 * m->capcache : 1024;
    qkperf_addr_entry *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < m->capcache; i++)
        if (m->cache[i].used)
            *cache_slot(t, cap, m->cache[i].addr) = m->cache[i];
    free(m->cache);
    m->cache = t;
    m->capcache = cap;
    return 0;
}

static int block_phase(const qkperf_addrmap *m, const char *name)
{
    for (size_t i = 0; i < m->nblocks; i++)
        if (m->blocks[i].name == name) /* both interned */
            return m->blocks[i].phase;
    return -1;
}

static void addrmap_resolve(qkperf_addrmap *m, uint64_t addr, qkperf_addr_entry *e)
{
    qkperf_frames f;
    qkperf_addrmap_frames(m, addr, &f);
    e->addr = addr;
    e->status = (uint8_t)f.status;
    e->why = f.status == QKPERF_ADDR_OK ? NULL : f.why;
    e->phase = f.status == QKPERF_ADDR_OK ? QKPERF_PHASE_OTHER : QKPERF_PHASE_UNKNOWN;
    for (size_t i = 0; i < f.n && e->phase == QKPERF_PHASE_OTHER; i++) {
        int p = block_phase(m, f.name[i]);
        if (p >= 0)
            e->phase = p;
    }
    if (f.n > 0) {
        e->function = f.name[f.n - 1];
        return;
    }
    Dwfl_Module *mod = f.module ? dwfl_addrmodule(m->dwfl, addr) : NULL;
    GElf_Off off;
    GElf_Sym sym;
    const char *s = mod ? dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL) : NULL;
    e->function = intern(m, s);
    e->symtab = s != NULL;
}

void qkperf_addrmap_lookup(qkperf_addrmap *m, uint64_t addr, qkperf_addr_result *out)
{
    qkperf_addr_entry tmp = {0}, *e = &tmp;
    if (2 * (m->ncache + 1) <= m->capcache || cache_grow(m) == 0) {
        e = cache_slot(m->cache, m->capcache, addr);
        if (!e->used) {
            addrmap_resolve(m, addr, e);
            e->used = 1;
            m->ncache++;
        }
    } else {
        addrmap_resolve(m, addr, e); /* out of memory: resolve uncached */
    }
    *out = (qkperf_addr_result){.status = (qkperf_addr_status)e->status,
                                .phase = e->phase,
                                .function = e->function,
                                .symtab = e->symtab,
                                .why = e->why};
}

int qkperf_addrmap_phase(qkperf_addrmap *m, uint64_t addr)
{
    qkperf_addr_result r;
    qkperf_addrmap_lookup(m, addr, &r);
    return r.phase;
}

const char *qkperf_addrmap_function(qkperf_addrmap *m, uint64_t addr)
{
    qkperf_addr_result r;
    qkperf_addrmap_lookup(m, addr, &r);
    return r.function;
}

size_t qkperf_addrmap_cached(const qkperf_addrmap *m)
{
    return m->ncache;
}

/* ---- ranges of a function -------------------------------------------------- */

typedef struct qkperf_range_walk {
    const char *name;
    int outline;
    Dwarf_Addr bias;
    qkperf_addr_range *out;
    size_t cap;
    long count;
} qkperf_range_walk;

static void die_ranges(Dwarf_Die *die, qkperf_range_walk *w)
{
    Dwarf_Addr base, lo, hi;
    ptrdiff_t off = 0;
    while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
        if ((size_t)w->count < w->cap)
            w->out[w->count] = (qkperf_addr_range){lo + w->bias, hi + w->bias};
        w->count++;
    }
}

/* Every DIE under die (depth first): inline instances are found wherever
 * they sit, their abstract origin in this CU or another. */
static void walk_dies(Dwarf_Die *die, qkperf_range_walk *w)
{
    Dwarf_Die child;
    if (dwarf_child(die, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (tag == DW_TAG_inlined_subroutine || (w->outline && tag == DW_TAG_subprogram)) {
            const char *n = dwarf_diename(&child);
            if (n != NULL && strcmp(n, w->name) == 0)
                die_ranges(&child, w);
        }
        walk_dies(&child, w);
    } while (dwarf_siblingof(&child, &child) == 0);
}

static int module_ranges(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
    qkperf_range_walk *w = arg;
    Dwarf_Die *cu = NULL;
    while ((cu = dwfl_module_nextcu(mod, cu, &w->bias)) != NULL)
        walk_dies(cu, w);
    return DWARF_CB_OK;
}

long qkperf_addrmap_ranges(qkperf_addrmap *m, const char *name, int outline, qkperf_addr_range *out,
                           size_t cap, char *err, size_t len)
{
    if (name == NULL || name[0] == '\0') {
        set_err(err, len, "addrmap: ranges of which function? (name is empty)");
        return -1;
    }
    qkperf_range_walk w = {.name = name, .outline = outline, .out = out, .cap = cap};
    if (dwfl_getmodules(m->dwfl, module_ranges, &w, 0) < 0) {
        set_err(err, len, "addrmap: walking the modules: %s", dwfl_errmsg(-1));
        return -1;
    }
    return w.count;
}

/* ---- /proc/PID/maps --------------------------------------------------------- */

static int parse_maps_line(char *line, qkperf_mapping *out)
{
    unsigned long long lo, hi, off;
    char perms[8];
    int pos = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi, perms, &off, &pos) != 4 || pos == 0)
        return 0;
    char *path = line + pos;
    path[strcspn(path, "\n")] = '\0';
    if (path[0] != '/')
        return 0;
    *out = (qkperf_mapping){.path = strdup(path),
                            .start = lo,
                            .end = hi,
                            .pgoff = off,
                            .exec = strchr(perms, 'x') != NULL};
    return out->path != NULL ? 1 : -1;
}

int qkperf_mappings_read(pid_t pid, qkperf_mapping **out, size_t *n, char *err, size_t len)
{
    char name[64], line[4096 + 256];
    snprintf(name, sizeof name, "/proc/%d/maps", pid > 0 ? (int)pid : (int)getpid());
    FILE *fp = fopen(name, "r");
    if (fp == NULL) {
        set_err(err, len, "addrmap: cannot read %s: %s", name, strerror(errno));
        return -1;
    }
    qkperf_mapping *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp) != NULL) {
        if (cnt == cap) {
            qkperf_mapping *t = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *t);
            if (t == NULL) {
                rc = -1;
                break;
            }
            v = t;
        }
        int got = parse_maps_line(line, &v[cnt]);
        rc = got < 0 ? -1 : 0;
        cnt += got > 0;
    }
    fclose(fp);
    if (rc != 0) {
        qkperf_mappings_free(v, cnt);
        set_err(err, len, "addrmap: out of memory reading %s", name);
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

void qkperf_mappings_free(qkperf_mapping *maps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(maps[i].path);
    free(maps);
}
