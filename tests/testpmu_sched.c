/*
 * testpmu_sched.c — what the kernel's perf core and x86 scheduler do with
 * the test PMU's events, computed lazily from the TSC.
 *
 * A context is the calling thread's (pid 0) or a CPU's (pid -1) set of
 * events with its own counters. Groups go onto the counters as the kernel
 * puts them: pinned groups first, then the flexible ones in rotation order
 * until one does not fit (then no later one is tried, as the kernel's
 * can_add_hw). A group fits when every enabled hardware member gets a
 * counter its constraint allows (fixed counters preferred, merged events
 * on an even/odd pair); software members need none. When a flexible group
 * was left out, the context rotates every mux interval: the first group on
 * the PMU moves to the end of the list, at interval boundaries of absolute
 * TSC time as the kernel's per-CPU hrtimer.
 *
 * Nothing runs between calls: every entry point first advances the
 * context's time to now, slice by slice between rotation boundaries. An
 * event's enabled time grows while it is enabled, its running time and
 * its ticks while it is on a counter; its count is rate x ticks, so a
 * count scaled by enabled/running equals rate x enabled ticks exactly.
 * No allocation happens here: the rdpmc path calls in from a signal
 * handler.
 */
#include "testpmu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TP_PMC_MASK ((1ull << TP_PMC_WIDTH) - 1)
/* A counting event's counter starts at -max_period (2^47 - 1), as the
 * kernel programs it: the user-space read has to sign-extend. */
#define TP_PMC_START ((1ull << TP_PMC_WIDTH) - ((1ull << (TP_PMC_WIDTH - 1)) - 1))

typedef struct tp_ctx {
    int used;
    pid_t tid;                          /* owner thread, or -1 - cpu for a CPU context */
    uint64_t last;                      /* TSC the times are advanced to */
    int rotate;                         /* a flexible group was left out */
    int evs[TP_MAX_EVENTS], nevs;       /* every event of the context */
    int groups[TP_MAX_EVENTS], ngroups; /* leaders, in rotation order */
} tp_ctx;

tp_event tp_events[TP_MAX_EVENTS];
static tp_ctx tp_ctxs[TP_MAX_CTX];

/* ---- slots ----------------------------------------------------------------- */

int tp_event_alloc(void)
{
    for (int i = 0; i < TP_MAX_EVENTS; i++)
        if (tp_events[i].kind == 0) {
            memset(&tp_events[i], 0, sizeof tp_events[i]);
            tp_events[i].counter = -1;
            tp_events[i].fd = -1;
            return i;
        }
    return -1;
}

void tp_event_free(int e)
{
    memset(&tp_events[e], 0, sizeof tp_events[e]);
}

/* QKPERF_TESTPMU_HOG: another tool's groups of one event each on any
 * general counter, enabled for good, with no fd: they only take counters
 * and their turn in the rotation. They keep the context alive. */
static void tp_ctx_hog(int c)
{
    tp_ctx *x = &tp_ctxs[c];
    for (int i = 0; i < tp_cfg.hog; i++) {
        int e = tp_event_alloc();
        if (e < 0)
            return;
        tp_event *h = &tp_events[e];
        h->kind = TP_HW;
        h->ctx = c;
        h->cpu = -1;
        h->leader = e;
        h->enabled = 1;
        h->hw.place.mask = (1ull << tp_model_gp(tp_cfg.model)) - 1;
        h->hw.rate = 1.0;
        snprintf(h->hw.name, sizeof h->hw.name, "hog %d", i);
        x->evs[x->nevs++] = e;
        h->members[h->nmembers++] = e;
        x->groups[x->ngroups++] = e;
    }
}

int tp_ctx_get(pid_t tid, int cpu)
{
    pid_t key = tid > 0 ? tid : -1 - cpu;
    int free_slot = -1;
    for (int i = 0; i < TP_MAX_CTX; i++) {
        if (tp_ctxs[i].used && tp_ctxs[i].tid == key)
            return i;
        if (!tp_ctxs[i].used && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        tp_ctxs[free_slot] = (tp_ctx){.used = 1, .tid = key, .last = tp_tsc()};
        if (tid > 0)
            tp_ctx_hog(free_slot);
    }
    return free_slot;
}

void tp_ctx_put(int c)
{
    if (tp_ctxs[c].nevs == 0)
        tp_ctxs[c].used = 0;
}

static void tp_list_remove(int *list, int *n, int v)
{
    for (int i = 0; i < *n; i++)
        if (list[i] == v) {
            memmove(&list[i], &list[i + 1], (size_t)(*n - i - 1) * sizeof *list);
            (*n)--;
            return;
        }
}

/* ---- counts ------------------------------------------------------------------ */

static uint64_t tp_hw_count(const tp_event *e)
{
    return (uint64_t)(e->hw.rate * (double)e->ticks + 0.5);
}

static uint64_t tp_value(const tp_event *e)
{
    if (e->kind == TP_SW)
        return (uint64_t)(e->sw_count + 0.5);
    return tp_hw_count(e) - e->reset_base;
}

static uint64_t tp_pmc(const tp_event *e)
{
    return (TP_PMC_START + tp_hw_count(e) - e->hw_at_schedin) & TP_PMC_MASK;
}

static int64_t tp_sext(uint64_t pmc)
{
    return (int64_t)(pmc << (64 - TP_PMC_WIDTH)) >> (64 - TP_PMC_WIDTH);
}

/* rdpmc's ECX for a counter: general n is n, fixed n is 1 << 30 | n. */
static uint32_t tp_rdpmc_index(int counter)
{
    return counter >= TP_FIXED ? (1u << 30) | (uint32_t)(counter - TP_FIXED) : (uint32_t)counter;
}

static int tp_running(const tp_event *e)
{
    if (e->kind == TP_HW)
        return e->counter >= 0;
    return e->enabled && tp_events[e->leader].on;
}

/* ---- the user page (perf_event_update_userpage) ---------------------------- */

static void tp_page_write(tp_event *e, uint64_t now)
{
    volatile struct perf_event_mmap_page *pg = e->page;
    if (e->kind != TP_HW || pg == NULL)
        return;
    uint32_t index = tp_cfg.rdpmc && e->counter >= 0 ? tp_rdpmc_index(e->counter) + 1 : 0;
    pg->lock++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    pg->index = index;
    pg->offset =
        index ? (int64_t)(tp_value(e) - (uint64_t)tp_sext(tp_pmc(e))) : (int64_t)tp_value(e);
    pg->time_enabled = e->enabled_ns;
    pg->time_running = e->running_ns;
    pg->capabilities = 0;
    pg->cap_bit0_is_deprecated = 1;
    pg->cap_user_rdpmc = tp_cfg.rdpmc != 0;
    pg->cap_user_time = 1;
    pg->cap_user_time_zero = 1;
    pg->pmc_width = TP_PMC_WIDTH;
    pg->time_shift = tp_clock_shift();
    pg->time_mult = tp_clock_mult();
    pg->time_offset = 0 - tp_clock_ns(now);
    pg->time_zero = 0;
    pg->size = (uint32_t)offsetof(struct perf_event_mmap_page, __reserved);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    pg->lock++;
}

void tp_page_update(int e)
{
    tp_page_write(&tp_events[e], tp_ctxs[tp_events[e].ctx].last);
}

static void tp_ctx_pages(tp_ctx *x)
{
    for (int i = 0; i < x->nevs; i++)
        tp_page_write(&tp_events[x->evs[i]], x->last);
}

/* ---- counter assignment -------------------------------------------------------- */

/* How many places an event has (a merged event: pairs), as the kernel
 * orders its search. */
static int tp_weight(const tp_event *e)
{
    int n = __builtin_popcountll(e->hw.place.mask);
    return e->hw.place.pair ? n / 2 : n;
}

/* Can p go on counter c (and c + 1, for a merged event)? Sets the
 * counters it would take. */
static int tp_free_at(const tp_place *p, int c, uint64_t used, uint64_t *need)
{
    uint64_t gp = (1ull << tp_model_gp(tp_cfg.model)) - 1;
    if (!(p->mask >> c & 1))
        return 0;
    *need = p->pair ? 3ull << c : 1ull << c;
    if (p->pair && ((c & 1) || !(gp >> (c + 1) & 1)))
        return 0;
    return (used & *need) == 0;
}

/* Depth-first search for a counter per event (evs sorted by weight, least
 * choice first): fixed counters first, as the kernel prefers them. */
static int tp_assign(const int *evs, int n, uint64_t used, int *out)
{
    static const int from[2] = {TP_FIXED, 0}, to[2] = {64, TP_FIXED};
    if (n == 0)
        return 1;
    const tp_place *p = &tp_events[evs[0]].hw.place;
    for (int pass = 0; pass < 2; pass++)
        for (int c = from[pass]; c < to[pass]; c++) {
            uint64_t need;
            if (!tp_free_at(p, c, used, &need))
                continue;
            out[0] = c;
            if (tp_assign(evs + 1, n - 1, used | need, out + 1))
                return 1;
        }
    return 0;
}

static void tp_sort_weight(int *evs, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && tp_weight(&tp_events[evs[j]]) < tp_weight(&tp_events[evs[j - 1]]);
             j--) {
            int t = evs[j];
            evs[j] = evs[j - 1];
            evs[j - 1] = t;
        }
}

/* The enabled hardware members of a group (the leader counts even when
 * disabled, as the kernel's collect_events does for validation). */
static int tp_group_hw(int leader, int with_leader, int *out)
{
    int n = 0;
    const tp_event *l = &tp_events[leader];
    for (int i = 0; i < l->nmembers; i++) {
        const tp_event *m = &tp_events[l->members[i]];
        if (m->kind == TP_HW && (m->enabled || (with_leader && l->members[i] == leader)))
            out[n++] = l->members[i];
    }
    return n;
}

static int tp_try(int *evs, int n, int *assign)
{
    if (n > tp_model_gp(tp_cfg.model) + tp_model_fixed(tp_cfg.model))
        return 0;
    tp_sort_weight(evs, n);
    return tp_assign(evs, n, 0, assign);
}

int tp_sched_group_fits(int leader, int e)
{
    int evs[TP_MAX_GROUP + 1], assign[TP_MAX_GROUP + 1];
    int n = tp_group_hw(leader, 1, evs);
    if (tp_events[e].kind == TP_HW && e != leader)
        evs[n++] = e;
    return tp_try(evs, n, assign);
}

/* ---- scheduling a context ------------------------------------------------------ */

/* Try to add one group to the events already on: 1 if it went on. */
static int tp_sched_group(int leader, int *on, int *non, int *assign)
{
    int evs[TP_MAX_EVENTS], tmp[TP_MAX_EVENTS];
    int n = *non;
    memcpy(evs, on, (size_t)n * sizeof *evs);
    n += tp_group_hw(leader, 0, evs + n);
    if (!tp_try(evs, n, tmp))
        return 0;
    memcpy(on, evs, (size_t)n * sizeof *evs);
    memcpy(assign, tmp, (size_t)n * sizeof *tmp);
    *non = n;
    return 1;
}

static int tp_group_ready(const tp_event *l)
{
    return l->enabled && !l->error;
}

/* Put the context's groups on the counters from scratch, as after a
 * ctx_resched: pinned first, then flexible in rotation order. */
static void tp_ctx_sched(tp_ctx *x)
{
    int on[TP_MAX_EVENTS], assign[TP_MAX_EVENTS], non = 0, old[TP_MAX_EVENTS] = {0};
    int can_add = tp_cfg.fail != TP_FAIL_NOTCOUNTED;
    for (int i = 0; i < x->nevs; i++) {
        old[i] = tp_events[x->evs[i]].counter;
        tp_events[x->evs[i]].counter = -1;
    }
    x->rotate = 0;
    for (int pass = 1; pass >= 0; pass--) {
        for (int g = 0; g < x->ngroups; g++) {
            tp_event *l = &tp_events[x->groups[g]];
            if (l->pinned != pass)
                continue;
            l->on = 0;
            if (!tp_group_ready(l))
                continue;
            if (can_add && tp_sched_group(x->groups[g], on, &non, assign)) {
                l->on = 1;
                continue;
            }
            if (pass == 1)
                l->error = 1; /* a pinned group that cannot go on */
            else if (can_add)
                can_add = 0, x->rotate = 1;
            else
                x->rotate |= tp_cfg.fail != TP_FAIL_NOTCOUNTED;
        }
    }
    for (int i = 0; i < non; i++)
        tp_events[on[i]].counter = assign[i];
    for (int i = 0; i < x->nevs; i++) {
        tp_event *e = &tp_events[x->evs[i]];
        if (e->counter >= 0 && e->counter != old[i])
            e->hw_at_schedin = tp_hw_count(e);
    }
    tp_ctx_pages(x);
}

/* The kernel's rotate_ctx: the first flexible group on the PMU (or the
 * first flexible one) goes to the end of the list. */
static void tp_ctx_rotate(tp_ctx *x)
{
    int pick = -1;
    for (int g = 0; g < x->ngroups && pick < 0; g++)
        if (!tp_events[x->groups[g]].pinned && tp_events[x->groups[g]].on)
            pick = g;
    for (int g = 0; g < x->ngroups && pick < 0; g++)
        if (!tp_events[x->groups[g]].pinned)
            pick = g;
    if (pick < 0)
        return;
    int leader = x->groups[pick];
    memmove(&x->groups[pick], &x->groups[pick + 1], (size_t)(x->ngroups - pick - 1) * sizeof(int));
    x->groups[x->ngroups - 1] = leader;
}

/* ---- software members: real kernel events counting with their group ---------- */

/* Enable the real event exactly while it and its leader are enabled. */
static void tp_sw_state(tp_ctx *x)
{
    for (int i = 0; i < x->nevs; i++) {
        tp_event *e = &tp_events[x->evs[i]];
        const tp_event *l = &tp_events[e->leader];
        int want = e->enabled && tp_group_ready(l);
        if (e->kind != TP_SW || want == e->sw_on)
            continue;
        tp_real_ioctl(e->fd, want ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0);
        e->sw_on = want;
    }
}

/* The real counts since the last sync, kept in the proportion of the time
 * the group was on the PMU (a software member only counts then). */
static void tp_sw_sync(tp_ctx *x, uint64_t step_ns)
{
    for (int i = 0; i < x->nevs; i++) {
        tp_event *e = &tp_events[x->evs[i]];
        uint64_t rec[3];
        if (e->kind != TP_SW)
            continue;
        if (e->sw_on && tp_real_read(e->fd, rec, sizeof rec) == (ssize_t)sizeof rec) {
            uint64_t delta = rec[0] - e->sw_last;
            e->sw_last = rec[0];
            if (step_ns > 0)
                e->sw_count += (double)delta * (double)e->running_step / (double)step_ns;
        }
        e->running_step = 0;
    }
}

/* ---- time ------------------------------------------------------------------------ */

static void tp_ctx_step(tp_ctx *x, uint64_t t0, uint64_t t1)
{
    uint64_t ns = tp_clock_ns(t1) - tp_clock_ns(t0), ticks = t1 - t0;
    for (int i = 0; i < x->nevs; i++) {
        tp_event *e = &tp_events[x->evs[i]];
        if (!e->enabled || tp_events[e->leader].error)
            continue;
        e->enabled_ns += ns;
        if (!tp_running(e))
            continue;
        e->running_ns += ns;
        if (e->kind == TP_HW)
            e->ticks += ticks;
        else
            e->running_step += ns;
    }
}

void tp_ctx_advance(int c, uint64_t now)
{
    tp_ctx *x = &tp_ctxs[c];
    uint64_t start = x->last, q = tp_cfg.mux_ticks;
    while (x->last < now) {
        uint64_t end = now, boundary = q ? (x->last / q + 1) * q : UINT64_MAX;
        int rotate = x->rotate && boundary <= now;
        if (rotate)
            end = boundary;
        tp_ctx_step(x, x->last, end);
        x->last = end;
        if (rotate) {
            tp_ctx_rotate(x);
            tp_ctx_sched(x);
        }
    }
    if (now > start)
        tp_sw_sync(x, tp_clock_ns(now) - tp_clock_ns(start));
}

/* ---- membership ---------------------------------------------------------------------- */

void tp_sched_add(int e)
{
    tp_event *ev = &tp_events[e];
    tp_ctx *x = &tp_ctxs[ev->ctx];
    x->evs[x->nevs++] = e;
    tp_event *l = &tp_events[ev->leader];
    l->members[l->nmembers++] = e;
    if (ev->leader == e)
        x->groups[x->ngroups++] = e;
    tp_ctx_sched(x);
    tp_sw_state(x);
}

void tp_sched_remove(int e)
{
    tp_event *ev = &tp_events[e];
    tp_ctx *x = &tp_ctxs[ev->ctx];
    tp_ctx_advance(ev->ctx, tp_tsc());
    tp_list_remove(x->evs, &x->nevs, e);
    if (ev->leader == e) {
        tp_list_remove(x->groups, &x->ngroups, e);
        for (int i = 1; i < ev->nmembers; i++) { /* siblings become singleton groups */
            tp_event *s = &tp_events[ev->members[i]];
            s->leader = ev->members[i];
            s->members[0] = ev->members[i];
            s->nmembers = 1;
            x->groups[x->ngroups++] = ev->members[i];
        }
    } else {
        tp_event *l = &tp_events[ev->leader];
        tp_list_remove(l->members, &l->nmembers, e);
    }
    if (x->nevs == 0) {
        x->used = 0;
        return;
    }
    tp_ctx_sched(x);
    tp_sw_state(x);
}

/* ---- ioctl -------------------------------------------------------------------------------- */

static void tp_reset(tp_event *e)
{
    if (e->kind == TP_SW) {
        tp_real_ioctl(e->fd, PERF_EVENT_IOC_RESET, 0);
        e->sw_last = 0;
        e->sw_count = 0.0;
        return;
    }
    e->reset_base = tp_hw_count(e);
}

void tp_event_ioctl(int e, int what, int group)
{
    tp_event *ev = &tp_events[e];
    tp_ctx *x = &tp_ctxs[ev->ctx];
    const tp_event *l = &tp_events[ev->leader];
    int targets[TP_MAX_GROUP], n = 0;
    tp_ctx_advance(ev->ctx, tp_tsc());
    if (group)
        for (int i = 0; i < l->nmembers; i++)
            targets[n++] = l->members[i];
    else
        targets[n++] = e;
    for (int i = 0; i < n; i++) {
        tp_event *t = &tp_events[targets[i]];
        if (what == TP_RESET)
            tp_reset(t);
        else if (what == TP_ENABLE)
            t->enabled = 1, t->error = 0;
        else
            t->enabled = 0;
    }
    if (what == TP_RESET)
        tp_ctx_pages(x);
    else
        tp_ctx_sched(x);
    tp_sw_state(x);
}

/* ---- read(2) ---------------------------------------------------------------------------- */

/* { value; time_enabled; time_running; id; lost } for one event, or with
 * PERF_FORMAT_GROUP { nr; time_enabled; time_running; { value; id; lost }
 * [nr] } with the leader's times, fields present as read_format says. */
ssize_t tp_event_read(int e, void *buf, size_t n)
{
    const tp_event *ev = &tp_events[e];
    uint64_t rf = ev->read_format, rec[3 + 3 * TP_MAX_GROUP];
    size_t k = 0;
    tp_ctx_advance(ev->ctx, tp_tsc());
    const tp_event *l = &tp_events[ev->leader];
    if (ev->error)
        return 0; /* ERROR state: end of file */
    int group = (rf & PERF_FORMAT_GROUP) != 0;
    const tp_event *times = group ? l : ev;
    if (group)
        rec[k++] = (uint64_t)l->nmembers;
    else
        rec[k++] = tp_value(ev);
    if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED)
        rec[k++] = times->enabled_ns;
    if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING)
        rec[k++] = times->running_ns;
    for (int i = 0; i < (group ? l->nmembers : 1); i++) {
        const tp_event *m = group ? &tp_events[l->members[i]] : ev;
        if (group)
            rec[k++] = tp_value(m);
        if (rf & PERF_FORMAT_ID)
            rec[k++] = m->id;
        if (rf & PERF_FORMAT_LOST)
            rec[k++] = 0;
    }
    if (n < k * sizeof rec[0])
        return -ENOSPC;
    memcpy(buf, rec, k * sizeof rec[0]);
    return (ssize_t)(k * sizeof rec[0]);
}

/* ---- rdpmc ---------------------------------------------------------------------------------- */

int tp_rdpmc(pid_t tid, uint32_t idx, uint64_t *value)
{
    for (int c = 0; c < TP_MAX_CTX; c++) {
        tp_ctx *x = &tp_ctxs[c];
        if (!x->used || x->tid != tid)
            continue;
        tp_ctx_advance(c, tp_tsc());
        *value = 0; /* a counter with nothing on it reads as whatever: 0 */
        for (int i = 0; i < x->nevs; i++) {
            const tp_event *e = &tp_events[x->evs[i]];
            if (e->kind == TP_HW && e->counter >= 0 && tp_rdpmc_index(e->counter) == idx)
                *value = tp_pmc(e);
        }
        return 1;
    }
    return 0;
}
