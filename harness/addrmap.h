/*
 * addrmap.h — instruction addresses to inline frames to phases, through
 * the DWARF of the binaries (elfutils libdwfl/libdw).
 *
 * The in-context view splits a fused kernel by phase: every sampled IP
 * (sampler.h) and every callgrind per-instruction cost (cgdump.h) is
 * mapped to the phase building block it was inlined from. A block is a
 * named static inline function (qk_unpack32, qk_lut8_perm, ...); a table
 * of {block name, phase index} says which block belongs to which phase.
 * An address belongs to the phase of its innermost inline frame whose
 * name is in the table, else to `other` (loop control, calls, the thread
 * pool) — reported, never dropped. Addresses without DWARF are a third
 * kind, `unknown`, with a one-line reason per object ("no debug info for
 * /usr/lib/x86_64-linux-gnu/libc.so.6 ..."), so a caller can say why
 * instead of guessing.
 *
 * A map describes one address space: this process, another live
 * process, a list of mappings captured while a process ran (perf's
 * PERF_RECORD_MMAP2 records, or /proc/PID/maps read while it lived), or
 * one ELF file at a chosen load bias (callgrind's dumps give link-time
 * addresses: bias 0). Results are cached per address: the same IPs
 * repeat millions of times, and a DWARF scope walk costs microseconds.
 *
 * Every string a map returns (frame names, files, reasons) belongs to
 * the map and stays valid until qkperf_addrmap_free. Reasons are interned:
 * two results with the same reason have the same pointer, so a caller can
 * tally unknown samples by reason with a pointer compare.
 *
 * Not thread-safe: use one map per thread, or lock around it.
 */
#ifndef QKPERF_ADDRMAP_H
#define QKPERF_ADDRMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The phase of an address that is in no block of the table, and of an
 * address that has no DWARF to decide by. */
#define QKPERF_PHASE_OTHER (-1)
#define QKPERF_PHASE_UNKNOWN (-2)

/* How far an address could be resolved. */
typedef enum qkperf_addr_status {
    QKPERF_ADDR_OK = 0,       /* DWARF scopes found: frames and phase are real */
    QKPERF_ADDR_NO_MODULE,    /* in no object of the map (JIT, vdso, unmapped) */
    QKPERF_ADDR_NO_DEBUGINFO, /* the object has no DWARF (no -g, stripped) */
    QKPERF_ADDR_NO_SCOPE,     /* DWARF, but no CU/function covers it (PLT, crt) */
    QKPERF_ADDR_NO_FILE       /* the mapped file could not be opened or reported */
} qkperf_addr_status;

/* Short fixed text for a status ("no debug info", ...). */
const char *qkperf_addr_status_text(qkperf_addr_status st);

/* One block of the phase table: a function name and its phase (>= 0). */
typedef struct qkperf_addr_block {
    const char *name;
    int phase;
} qkperf_addr_block;

/* A file-backed mapping of an address space: [start, end) maps the file
 * from byte pgoff on (as in /proc/PID/maps and PERF_RECORD_MMAP2). */
typedef struct qkperf_mapping {
    char *path;
    uint64_t start, end, pgoff;
    int exec; /* 1 if mapped executable (the mappings that hold code) */
} qkperf_mapping;

/* The frames at one address, innermost first: name[0] is the innermost
 * inline frame (or the function itself when nothing is inlined there),
 * name[n - 1] the containing out-of-line function (DW_TAG_subprogram).
 * Inline frames are named through their abstract origin. At most
 * QKPERF_ADDR_MAX_FRAMES: deeper chains keep the innermost frames and the
 * function, and set truncated. */
#define QKPERF_ADDR_MAX_FRAMES 16
typedef struct qkperf_frames {
    qkperf_addr_status status;
    size_t n;
    const char *name[QKPERF_ADDR_MAX_FRAMES];
    int truncated;
    const char *file;   /* source file of the address (innermost), NULL if none */
    int line;           /* its line, 0 if none */
    const char *module; /* the object's path, NULL with QKPERF_ADDR_NO_MODULE */
    const char *why;    /* status != OK: one line, interned */
} qkperf_frames;

/* The cached result for one address. */
typedef struct qkperf_addr_result {
    qkperf_addr_status status;
    int phase;            /* >= 0, QKPERF_PHASE_OTHER or QKPERF_PHASE_UNKNOWN */
    const char *function; /* the containing function: DWARF's name, else the
                             ELF symbol's (symtab = 1), else NULL */
    int symtab;
    const char *why; /* status != OK: the reason, interned; else NULL */
} qkperf_addr_result;

typedef struct qkperf_addrmap qkperf_addrmap;

/* The map of this process as it is now (dwfl_linux_proc_report of getpid).
 * An address in no object (a library loaded later) makes the map re-read
 * /proc/self/maps once for that address. NULL with one line in err. */
qkperf_addrmap *qkperf_addrmap_open_self(char *err, size_t len);
/* The same for another live process (the caller may read its maps). */
qkperf_addrmap *qkperf_addrmap_open_pid(pid_t pid, char *err, size_t len);
/* A map from mappings captured while a process ran; the process may be
 * gone, its files must still be there. Mappings of one path give one
 * object; its load bias comes from a mapping's start and pgoff and the
 * ELF program header covering pgoff. Entries whose path does not start
 * with '/' ([vdso], [heap], anonymous) are skipped. A file that cannot be
 * opened or reported makes its ranges resolve QKPERF_ADDR_NO_FILE with
 * the reason, not a failure of the whole map. NULL only when nothing at
 * all could be reported (one line in err). */
qkperf_addrmap *qkperf_addrmap_open_mappings(const qkperf_mapping *maps, size_t n, char *err,
                                             size_t len);
/* One ELF file placed at load bias (0: the file's own link-time
 * addresses, which is what callgrind dumps). NULL with one line in err. */
qkperf_addrmap *qkperf_addrmap_open_elf(const char *path, uint64_t bias, char *err, size_t len);
void qkperf_addrmap_free(qkperf_addrmap *m);

/* The phase table (copied). Clears the cache. 0, or -1 with one line in
 * err when a phase is negative or a name is NULL or empty. */
int qkperf_addrmap_set_blocks(qkperf_addrmap *m, const qkperf_addr_block *blocks, size_t n,
                              char *err, size_t len);

/* Frames, source line and module of addr, uncached (for reports and
 * tests: tens of microseconds). */
void qkperf_addrmap_frames(qkperf_addrmap *m, uint64_t addr, qkperf_frames *out);

/* Phase (from the table set last; with no table every resolved address is
 * QKPERF_PHASE_OTHER) and function of addr, cached: the first lookup of an
 * address walks the DWARF, later ones are one hash probe. */
void qkperf_addrmap_lookup(qkperf_addrmap *m, uint64_t addr, qkperf_addr_result *out);
/* Shorthands of qkperf_addrmap_lookup. */
int qkperf_addrmap_phase(qkperf_addrmap *m, uint64_t addr);
const char *qkperf_addrmap_function(qkperf_addrmap *m, uint64_t addr);

/* Distinct addresses resolved so far (the cache's size). */
size_t qkperf_addrmap_cached(const qkperf_addrmap *m);

/* An address range of code, [lo, hi), in the map's address space. */
typedef struct qkperf_addr_range {
    uint64_t lo, hi;
} qkperf_addr_range;

/* The ranges of every inlined instance of the function called name (and
 * of its out-of-line copies when outline is 1), over every object of the
 * map: what a block costs in code, and the addresses a test can look up
 * without a disassembler. Returns the number of ranges (up to cap stored
 * in out; the count may exceed cap), or -1 with one line in err. */
long qkperf_addrmap_ranges(qkperf_addrmap *m, const char *name, int outline, qkperf_addr_range *out,
                           size_t cap, char *err, size_t len);

/* The file-backed mappings of a live process from /proc/PID/maps (pid 0:
 * this process). *out is an array of *n entries; free with
 * qkperf_mappings_free. 0, or -1 with one line in err. */
int qkperf_mappings_read(pid_t pid, qkperf_mapping **out, size_t *n, char *err, size_t len);
void qkperf_mappings_free(qkperf_mapping *maps, size_t n);

#endif
