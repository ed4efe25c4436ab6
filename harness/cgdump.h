/*
 * cgdump.h — callgrind profiles with per-instruction costs, read back as
 * the exclusive cost of each instruction (the `sim` source in context).
 *
 * callgrind run with --dump-instr=yes writes one cost line per executed
 * instruction (format: the "Callgrind Format Specification" of the
 * valgrind manual): subpositions `instr line` — absolute (decimal or 0x
 * hex), relative to the previous line's (+n, -n) or the same (*) —
 * then the event counts, trailing zeros dropped. Names are compressed
 * ("fn=(12) name" defines 12, "fn=(12)" refers to it; files, functions
 * and objects are three separate id spaces). A `calls=` line is followed
 * by one cost line that is the call's *inclusive* cost at the call site:
 * it is not the caller's own cost and is not added here. As callgrind
 * writes them, the target position of calls=/jump=/jcnd= and the line
 * after it are relative to the previous cost line and do not move it.
 *
 * Addresses: callgrind subtracts each object's load bias before writing
 * (its obj_node offset, the text bias of the object's debug info), so an
 * address in a dump is the object's own link-time address, the same for
 * a PIE, a shared library or a non-PIE executable, wherever valgrind
 * mapped it (checked in test_cgdump: inline_work_round at its nm
 * address). Map it with qkperf_addrmap_open_elf(object, 0, ...), which
 * is what qkperf_cgdump_split does.
 *
 * Totals: the sum of exclusive costs equals the file's `totals:` line
 * exactly (callgrind computes it from the lines it writes). `summary:`
 * is callgrind's running total and can exceed it by a few events in a
 * whole-program dump (2 Ir of 231643 in one test run here: costs callgrind
 * never wrote to a line); over a region (toggle-collect, or a dump
 * between client requests) the two have been equal. Both are kept.
 */
#ifndef QKPERF_CGDUMP_H
#define QKPERF_CGDUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addrmap.h"

/* One executed instruction: its object, its link-time address and its
 * exclusive cost per event (summed over every function context, thread
 * and part of the file that lists it). */
typedef struct qkperf_cg_instr {
    uint32_t object; /* index for qkperf_cgdump_object */
    uint64_t addr;
    const uint64_t *cost; /* qkperf_cgdump_nevents values */
} qkperf_cg_instr;

typedef struct qkperf_cgdump qkperf_cgdump;

/* Read a profile. NULL with one line in err naming the file, the line
 * number and what was wrong ("x.out:14: calls= line without the cost line
 * that must follow it"). A profile without instruction positions is
 * refused: it needs --dump-instr=yes. */
qkperf_cgdump *qkperf_cgdump_read(const char *path, char *err, size_t len);
/* The same from an open stream; name is used in messages. */
qkperf_cgdump *qkperf_cgdump_parse(FILE *f, const char *name, char *err, size_t len);
void qkperf_cgdump_free(qkperf_cgdump *d);

size_t qkperf_cgdump_nevents(const qkperf_cgdump *d);
const char *qkperf_cgdump_event(const qkperf_cgdump *d, size_t i); /* "Ir", "D1mr", ... */
/* The index of an event by name, or -1. */
int qkperf_cgdump_event_index(const qkperf_cgdump *d, const char *name);

size_t qkperf_cgdump_nobjects(const qkperf_cgdump *d);
/* An object's path as ob= gave it ("???" where callgrind had none). */
const char *qkperf_cgdump_object(const qkperf_cgdump *d, size_t i);

/* Instructions in the order first seen. */
size_t qkperf_cgdump_ninstr(const qkperf_cgdump *d);
qkperf_cg_instr qkperf_cgdump_instr(const qkperf_cgdump *d, size_t i);

/* Sum of exclusive costs (nevents values). */
const uint64_t *qkperf_cgdump_sum(const qkperf_cgdump *d);
/* The totals:/summary: lines, or NULL when the file has none. */
const uint64_t *qkperf_cgdump_totals(const qkperf_cgdump *d);
const uint64_t *qkperf_cgdump_summary(const qkperf_cgdump *d);

/* A profile split by phase through addrmap: rows 0..nphases-1 are the
 * phases, row nphases is `other` (in DWARF, in no block), row nphases + 1
 * is `unknown` (no DWARF, or an object that could not be opened). Every
 * row has nevents values; the rows add up to qkperf_cgdump_sum exactly. */
typedef struct qkperf_cg_split {
    size_t nphases, nevents;
    uint64_t *cost;        /* (nphases + 2) * nevents */
    char unknown_why[512]; /* the objects with unknown cost and why, "" if none */
} qkperf_cg_split;

/* Split d with the phase table (one addrmap per object, bias 0). A block
 * whose phase is >= nphases is refused. 0, or -1 with one line in err. */
int qkperf_cgdump_split(const qkperf_cgdump *d, const qkperf_addr_block *blocks, size_t nblocks,
                        size_t nphases, qkperf_cg_split *out, char *err, size_t len);
void qkperf_cg_split_free(qkperf_cg_split *s);

#endif
