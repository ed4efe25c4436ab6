/*
 * incontext.h — the in-context view: the fused kernel itself split by
 * phase. Each phase's blocks (qk_phase.blocks: the static inline functions
 * the fused kernel inlines for that phase) are found through the DWARF
 * inline frames of the running binary (addrmap.h); an address inside no
 * block is "other" (loop control, calls, the thread pool), recorded like
 * the phases, never dropped.
 *
 * Two sources give the view:
 *   sample  perf_event sampling of the fused kernel on every thread of
 *           this process (sampler.h; the software clock, where no PMU can
 *           sample): per phase its share of the samples, and its
 *           in-context time, the share times the fused kernel's time.
 *   sim     callgrind's per-instruction costs of the fused region
 *           (cgdump.h, in sim.c): exact instructions and simulated misses
 *           per phase, which with "other" add up to the fused total.
 *
 * Records: view "in-context", phase = a phase of the op or "other". The
 * sample source gives per phase "share" (percent of the samples), "time"
 * (ns per call: the share times the fused time) and "samples" (counts),
 * one sample per chunk of sampling, each chunk paired with one fused time
 * sample of the same round, so the in-context times of one chunk add up to
 * that fused sample exactly.
 */
#ifndef QKPERF_INCONTEXT_H
#define QKPERF_INCONTEXT_H

#include <stddef.h>

#include "addrmap.h"
#include "registry.h"
#include "results.h"

/* The name of the in-context part of a kernel in no phase block. */
#define QKPERF_PHASE_OTHER_NAME "other"

enum {
    QKPERF_IC_DEFAULT_SAMPLES = 2500, /* about +-2 points at 95% on a 50% share */
    QKPERF_IC_DEFAULT_HZ = 4000       /* per thread; each sample costs ~20 us here */
};

typedef struct qkperf_ic_opts {
    unsigned target; /* samples to take in all (this round's share of them) */
    double hz;       /* the software clock's rate, per thread */
} qkperf_ic_opts;

/* What one sampling pass samples, and the fused kernel's own figure it
 * splits. The software clock (attr NULL) splits the fused time into
 * metrics "share", "time" and "samples"; a hardware event (a PMU's
 * cycles, instructions, L1D misses, encoded by libpfm4; precise_ip is
 * tried from 2 down) splits the fused count of that event, metric `name`,
 * into "share of NAME", NAME and "samples of NAME". */
typedef struct qkperf_ic_event {
    const char *name;                   /* "time", or the event's metric ("cycles") */
    const struct perf_event_attr *attr; /* NULL: the software clock */
    uint64_t period;                    /* events per sample; 0: from o->hz (the clock) */
    const double *fused;                /* the fused figure per call, one per chunk */
} qkperf_ic_event;

/* The phase table of v: every block name of every phase with its phase
 * index, into blocks (at most max). Returns how many; 0 when v names no
 * blocks (it then has no in-context view). */
size_t qkperf_ic_blocks(const qk_variant *v, unsigned nphases, qkperf_addr_block *blocks,
                        size_t max);

/* Sample the fused kernel of v on ws with ev: chunks of sampling, one per
 * fused sample in ev->fused[0..ns) (per call, this round's), each chunk
 * run until it holds its part of o->target samples (or 10 s of calls,
 * the count then said in a note). Appends the in-context records of every
 * phase and "other", source "sample"; when sampling is impossible, the
 * same records not counted with the reason. 0, or -1 (out of memory) with
 * one line in err. */
int qkperf_ic_sample(const qkperf_ic_opts *o, const qkperf_ic_event *ev, const qk_op *op,
                     const qk_variant *v, void *ws, const char *size, const double *fused_ns,
                     unsigned ns, qkperf_results *res, char *err, size_t len);

#endif
