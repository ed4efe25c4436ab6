/*
 * cmd_record.c — `qkperf record [options] -- CMD [ARGS]`: sample any
 * program built with -g, on all its threads, and split the samples by
 * phase through each IP's inline frames: the in-context view's machinery
 * (sampler.h: an exec'd child, inherit, mapping records; addrmap.h: the
 * DWARF inline frames of every mapped object at its load bias), for a
 * program that is not a qkperf kernel.
 *
 * A phase is a name and the functions (usually static inline ones) whose
 * code it is: an IP belongs to the phase naming its innermost inline
 * frame that any phase names, else to `other`. Without --phase, each IP
 * belongs to its containing function, or with --inline to its innermost
 * inline frame's function (the names to give --phase).
 */
#include <elf.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "addrmap.h"
#include "cli.h"
#include "commands.h"
#include "incontext.h"
#include "machine.h"
#include "pfm.h"
#include "probe.h"
#include "program.h"
#include "results.h"
#include "sampler.h"

const char qkperf_cmd_record_usage[] =
    "usage: qkperf record [options] -- CMD [ARGS]\n"
    "Sample CMD (built with -g) on all its threads and split the samples by\n"
    "phase, through each address's inline frames; shares with 95% intervals.\n\n"
    "  -e, --event EVENT           cpu-clock (default) or a libpfm4 event\n"
    "      --period N              events per sample (cpu-clock: ns; default 250000)\n"
    "      --phase NAME=FUNC[,FUNC...]  a phase and the functions that are its\n"
    "                              code (repeatable); without: by function\n"
    "      --inline                without --phase: by innermost inline frame\n"
    "  -o, --output FILE           the results document (JSON), written atomically\n"
    "  -q, --quiet                 no table\n";

enum {
    MAX_PHASES = 16,
    MAX_BLOCKS = 64,
    PHASE_NAME_MAX = 23,
    OPT_PERIOD = 256,
    OPT_PHASE,
    OPT_INLINE
};

typedef struct tally_row {
    char *name; /* a phase's or a function's (a copy: the map goes first) */
    char label[PHASE_NAME_MAX + 1];
    uint64_t samples;
} tally_row;

typedef struct record {
    char prog[PATH_MAX], op[32];
    char **argv;
    const char *event, *output;
    uint64_t period;
    int quiet;
    int by_inline; /* --inline */
    const char *phase_name[MAX_PHASES];
    size_t nphases;
    qkperf_addr_block blocks[MAX_BLOCKS];
    size_t nblocks;
    char *storage[MAX_PHASES];
    /* the samples */
    uint64_t *ips;
    size_t nips, capips;
    /* the tally */
    tally_row *rows;
    size_t nrows, caprows;
    uint64_t unknown;
    const char *unknown_why;
} record;

/* --phase NAME=FUNC,FUNC... */
static int add_phase(record *r, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return qkperf_usage_error("record: --phase '%s': give NAME=FUNC[,FUNC...]", arg);
    if (r->nphases == MAX_PHASES)
        return qkperf_usage_error("record: at most %d phases", MAX_PHASES);
    if ((size_t)(eq - arg) > PHASE_NAME_MAX)
        return qkperf_usage_error("record: phase name '%.*s' is longer than %d characters",
                                  (int)(eq - arg), arg, PHASE_NAME_MAX);
    size_t nlen = (size_t)(eq - arg);
    if (nlen == 5 && !strncmp(arg, "other", 5))
        return qkperf_usage_error("record: phase name 'other' is taken (what no phase holds)");
    for (size_t p = 0; p < r->nphases; p++)
        if (strlen(r->phase_name[p]) == nlen && !strncmp(r->phase_name[p], arg, nlen))
            return qkperf_usage_error("record: phase '%s' given twice", r->phase_name[p]);
    char *copy = strdup(arg);
    if (!copy)
        return qkperf_usage_error("record: out of memory");
    r->storage[r->nphases] = copy;
    copy[eq - arg] = '\0';
    r->phase_name[r->nphases] = copy;
    for (char *f = copy + (eq - arg) + 1, *save = NULL, *tok; (tok = strtok_r(f, ",", &save));
         f = NULL) {
        if (r->nblocks == MAX_BLOCKS)
            return qkperf_usage_error("record: at most %d functions in all", MAX_BLOCKS);
        r->blocks[r->nblocks++] = (qkperf_addr_block){tok, (int)r->nphases};
    }
    r->nphases++;
    return 0;
}

/* The program's entry point (link-time address), from its ELF header. */
static int entry_point(const char *path, uint64_t *entry)
{
    FILE *f = fopen(path, "rb");
    Elf64_Ehdr h;
    int ok = f && fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.e_ident, ELFMAG, SELFMAG) &&
             h.e_ident[EI_CLASS] == ELFCLASS64;
    if (f)
        fclose(f);
    *entry = ok ? h.e_entry : 0;
    return ok ? 0 : -1;
}

/* Before running: the program has DWARF, and every --phase function is in
 * it. 0, or 2 after one line. */
static int check_program(record *r)
{
    char err[512];
    uint64_t entry;
    if (entry_point(r->prog, &entry))
        return qkperf_usage_error("record: %s is not a 64-bit ELF program", r->prog);
    qkperf_addrmap *m = qkperf_addrmap_open_elf(r->prog, 0, err, sizeof err);
    if (!m)
        return qkperf_usage_error("record: %s", err);
    qkperf_frames fr;
    qkperf_addrmap_frames(m, entry, &fr);
    if (fr.status == QKPERF_ADDR_NO_DEBUGINFO || fr.status == QKPERF_ADDR_NO_FILE) {
        qkperf_addrmap_free(m);
        return qkperf_usage_error("record: %s has no debug info (build it with -g)", r->prog);
    }
    for (size_t b = 0; b < r->nblocks; b++) {
        long n = qkperf_addrmap_ranges(m, r->blocks[b].name, 1, NULL, 0, err, sizeof err);
        if (n <= 0) {
            qkperf_addrmap_free(m);
            return qkperf_usage_error("record: --phase %s: no function '%s' in %s",
                                      r->phase_name[r->blocks[b].phase], r->blocks[b].name,
                                      r->prog);
        }
    }
    qkperf_addrmap_free(m);
    return 0;
}

static void on_sample(void *ctx, const qkperf_sample *s)
{
    record *r = ctx;
    if (r->nips == r->capips) {
        size_t cap = r->capips ? 2 * r->capips : 4096;
        uint64_t *ips = realloc(r->ips, cap * sizeof *ips);
        if (!ips)
            return; /* counted by the sampler, not kept: the tally says how many */
        r->ips = ips;
        r->capips = cap;
    }
    r->ips[r->nips++] = s->ip;
}

static tally_row *row_for(record *r, const char *name)
{
    for (size_t i = 0; i < r->nrows; i++)
        if (!strcmp(r->rows[i].name, name))
            return &r->rows[i];
    if (r->nrows == r->caprows) {
        size_t cap = r->caprows ? 2 * r->caprows : 32;
        tally_row *rows = realloc(r->rows, cap * sizeof *rows);
        if (!rows)
            return NULL;
        r->rows = rows;
        r->caprows = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    tally_row *t = &r->rows[r->nrows++];
    memset(t, 0, sizeof *t);
    t->name = copy;
    if (strlen(name) <= PHASE_NAME_MAX)
        snprintf(t->label, sizeof t->label, "%s", name);
    else /* the results document's phase field: shortened, kept distinct */
        snprintf(t->label, sizeof t->label, "%.16s~%zu", name, r->nrows - 1);
    return t;
}

static int by_samples(const void *a, const void *b)
{
    const tally_row *x = a, *y = b;
    return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : strcmp(x->name, y->name);
}

static int by_ip(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* --inline: each IP to the function of its innermost inline frame (the
 * containing function's when nothing is inlined there, the ELF symbol's
 * without DWARF). Frames are not cached, so once per distinct IP. */
static int tally_inline(record *r, qkperf_addrmap *m)
{
    qsort(r->ips, r->nips, sizeof *r->ips, by_ip);
    for (size_t i = 0, j; i < r->nips; i = j) {
        for (j = i + 1; j < r->nips && r->ips[j] == r->ips[i]; j++)
            ;
        qkperf_frames f;
        qkperf_addrmap_frames(m, r->ips[i], &f);
        const char *name = f.status == QKPERF_ADDR_OK && f.n ? f.name[0] : NULL;
        if (!name) {
            qkperf_addr_result a;
            qkperf_addrmap_lookup(m, r->ips[i], &a);
            if (a.status != QKPERF_ADDR_OK) {
                r->unknown += j - i;
                if (!r->unknown_why)
                    r->unknown_why = a.why;
            }
            name = a.function ? a.function : QKPERF_PHASE_OTHER_NAME;
        }
        tally_row *t = row_for(r, name);
        if (!t)
            return fprintf(stderr, "qkperf: record: out of memory\n"), 1;
        t->samples += j - i;
    }
    qsort(r->rows, r->nrows, sizeof *r->rows, by_samples);
    return 0;
}

/* Each IP to its phase (or function); 0, or 1 after one line. */
static int tally(record *r, qkperf_addrmap *m)
{
    char err[512];
    if (r->by_inline)
        return tally_inline(r, m);
    for (size_t p = 0; p < r->nphases; p++)
        if (!row_for(r, r->phase_name[p]))
            return fprintf(stderr, "qkperf: record: out of memory\n"), 1;
    if (r->nphases && qkperf_addrmap_set_blocks(m, r->blocks, r->nblocks, err, sizeof err))
        return fprintf(stderr, "qkperf: record: %s\n", err), 1;
    for (size_t i = 0; i < r->nips; i++) {
        qkperf_addr_result a;
        qkperf_addrmap_lookup(m, r->ips[i], &a);
        const char *name;
        if (a.status != QKPERF_ADDR_OK) {
            r->unknown++;
            if (!r->unknown_why)
                r->unknown_why = a.why;
        }
        if (r->nphases)
            name = a.phase >= 0 ? r->phase_name[a.phase] : QKPERF_PHASE_OTHER_NAME;
        else
            name = a.function ? a.function : QKPERF_PHASE_OTHER_NAME;
        tally_row *t = row_for(r, name);
        if (!t)
            return fprintf(stderr, "qkperf: record: out of memory\n"), 1;
        t->samples++;
    }
    if (r->nphases)
        row_for(r, QKPERF_PHASE_OTHER_NAME);
    else
        qsort(r->rows, r->nrows, sizeof *r->rows, by_samples);
    return 0;
}

static void add_rows(const record *r, qkperf_results *res)
{
    for (size_t i = 0; i < r->nrows; i++) {
        double share, lo, hi;
        qkperf_share_wilson(r->rows[i].samples, r->nips, &share, &lo, &hi);
        qkperf_record rec;
        memset(&rec, 0, sizeof rec);
        snprintf(rec.op, sizeof rec.op, "%s", r->op);
        snprintf(rec.variant, sizeof rec.variant, "all-threads");
        snprintf(rec.size, sizeof rec.size, "program");
        snprintf(rec.phase, sizeof rec.phase, "%s", r->rows[i].label);
        snprintf(rec.source, sizeof rec.source, "sample");
        snprintf(rec.view, sizeof rec.view, QKPERF_VIEW_IN_CONTEXT);
        rec.batch = 1;
        rec.mux_ratio = 1;
        rec.counted = 1;
        double v = 100 * share, n = (double)r->rows[i].samples;
        snprintf(rec.metric, sizeof rec.metric, "share");
        snprintf(rec.unit, sizeof rec.unit, "%%");
        rec.samples = &v;
        rec.n = 1;
        qkperf_results_add(res, &rec);
        snprintf(rec.metric, sizeof rec.metric, "samples");
        snprintf(rec.unit, sizeof rec.unit, "count");
        rec.samples = &n;
        qkperf_results_add(res, &rec);
    }
}

static void print_table(const record *r, const qkperf_results *res)
{
    printf("%s: share of %zu samples (source sample, view in-context)\n", r->op, r->nips);
    printf("%-32s %8s  %-17s %9s\n", r->nphases ? "phase" : "function", "share", "95% interval",
           "samples");
    size_t shown = 0;
    for (size_t i = 0; i < r->nrows && (r->nphases || shown < 25); i++, shown++) {
        double share, lo, hi;
        qkperf_share_wilson(r->rows[i].samples, r->nips, &share, &lo, &hi);
        if (r->nips == 0)
            printf("%-32.32s %8s  %-17s %9s\n", r->rows[i].name, "n/a", "(no samples)", "0");
        else
            printf("%-32.32s %7.1f%%  [%5.1f%%, %5.1f%%]  %9llu\n", r->rows[i].name, 100 * share,
                   100 * lo, 100 * hi, (unsigned long long)r->rows[i].samples);
    }
    if (shown < r->nrows)
        printf("(%zu more functions in the results document)\n", r->nrows - shown);
    size_t i;
    json_t *note;
    json_array_foreach(res->notes, i, note) printf("note: %s\n", json_string_value(note));
}

static void notes(const record *r, qkperf_sampler *s, qkperf_results *res)
{
    char desc[300];
    qkperf_sampler_describe(s, desc, sizeof desc);
    size_t nt;
    qkperf_sampler_threads(s, &nt);
    qkperf_sampler_stats st = qkperf_sampler_stats_get(s);
    qkperf_results_note(res, "sample: %s; %zu thread%s sampled; %llu lost, %llu not in user mode",
                        desc, nt, nt == 1 ? "" : "s", (unsigned long long)st.lost,
                        (unsigned long long)st.non_user);
    if (r->unknown)
        qkperf_results_note(res, "%llu samples without DWARF (in %s): %s",
                            (unsigned long long)r->unknown,
                            r->nphases ? "other" : "their ELF symbol's function, or other",
                            r->unknown_why ? r->unknown_why : "no reason given");
}

static void fill_sections(const record *r, qkperf_results *res)
{
    qkperf_probe_t p;
    qkperf_probe(&p);
    json_object_update_new(res->machine, qkperf_machine_json(&p));
    json_object_update_new(res->build, qkperf_build_json());
    json_t *args = json_array(), *phases = json_object();
    for (size_t i = 0; r->argv[i]; i++)
        json_array_append_new(args, json_string(r->argv[i]));
    for (size_t b = 0; b < r->nblocks; b++) {
        const char *ph = r->phase_name[r->blocks[b].phase];
        if (!json_object_get(phases, ph))
            json_object_set_new(phases, ph, json_array());
        json_array_append_new(json_object_get(phases, ph), json_string(r->blocks[b].name));
    }
    json_object_update_new(res->config,
                           json_pack("{s:s,s:s,s:o,s:s,s:I,s:o}", "command", "record", "program",
                                     r->prog, "argv", args, "event", r->event, "period",
                                     (json_int_t)r->period, "phases", phases));
}

/* Sample the program to its end; 0, or 1 after one line. */
static int sample(record *r, const struct perf_event_attr *attr, qkperf_results *res)
{
    qkperf_sample_config cfg = {.attr = attr, .name = r->event, .period = r->period};
    qkperf_err e = {0};
    char *argv0 = r->argv[0];
    r->argv[0] = r->prog;
    qkperf_sampler *s = qkperf_sampler_open_exec(&cfg, r->argv, &e);
    r->argv[0] = argv0;
    if (!s)
        return fprintf(stderr, "qkperf: record: %s\n", e.msg), 1;
    if (qkperf_sampler_start(s, &e)) {
        fprintf(stderr, "qkperf: record: %s: %s\n", r->prog, e.msg);
        qkperf_sampler_close(s);
        return 1;
    }
    qkperf_sampler_sink sink = {.sample = on_sample, .ctx = r};
    int status = 0;
    if (qkperf_sampler_wait(s, &sink, &status, &e)) {
        fprintf(stderr, "qkperf: record: %s\n", e.msg);
        qkperf_sampler_close(s);
        return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            fprintf(stderr, "qkperf: record: %s killed by signal %d\n", r->prog, WTERMSIG(status));
        else
            fprintf(stderr, "qkperf: record: %s exited with status %d\n", r->prog,
                    WEXITSTATUS(status));
        qkperf_sampler_close(s);
        return 1;
    }
    size_t nm;
    const qkperf_mapping *maps = qkperf_sampler_mappings(s, &nm);
    char err[512];
    qkperf_addrmap *m = qkperf_addrmap_open_mappings(maps, nm, err, sizeof err);
    if (!m) {
        fprintf(stderr, "qkperf: record: %s\n", err);
        qkperf_sampler_close(s);
        return 1;
    }
    int rc = tally(r, m);
    if (rc == 0) {
        notes(r, s, res);
        add_rows(r, res);
    }
    qkperf_addrmap_free(m); /* the rows' function names are copied by now */
    qkperf_sampler_close(s);
    return rc;
}

static int parse(record *r, int argc, char **argv)
{
    static const struct option opts[] = {
        {"event", required_argument, NULL, 'e'},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"phase", required_argument, NULL, OPT_PHASE},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"inline", no_argument, NULL, OPT_INLINE},
        {NULL, 0, NULL, 0},
    };
    char err[512];
    int c, rc = 0;
    opterr = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "+e:o:q", opts, NULL)) != -1) {
        if (c == 'e')
            r->event = optarg;
        else if (c == OPT_PERIOD)
            rc = qkperf_parse_u64(optarg, 1, UINT64_C(1) << 40, &r->period, "--period", err,
                                  sizeof err)
                     ? qkperf_usage_error("record: %s", err)
                     : 0;
        else if (c == OPT_PHASE)
            rc = add_phase(r, optarg);
        else if (c == 'o')
            r->output = optarg;
        else if (c == 'q')
            r->quiet = 1;
        else if (c == OPT_INLINE)
            r->by_inline = 1;
        else
            rc = qkperf_usage_error("record: unknown option '%s'", argv[optind - 1]);
    }
    if (rc == 0 && r->by_inline && r->nphases)
        rc = qkperf_usage_error("record: --inline splits by function, --phase by the phases "
                                "named: give one of them");
    if (rc == 0 && (optind >= argc || strcmp(argv[optind - 1], "--") != 0))
        rc = qkperf_usage_error("record: no command after -- (usage: qkperf record [options] "
                                "-- CMD [ARGS])");
    if (rc == 0 && qkperf_program_find(argv[optind], r->prog, sizeof r->prog, err, sizeof err))
        rc = qkperf_usage_error("record: %s", err);
    if (rc == 0 && r->output && qkperf_check_writable(r->output, err, sizeof err))
        rc = qkperf_usage_error("record: -o: %s", err);
    r->argv = argv + optind;
    return rc;
}

int qkperf_cmd_record(int argc, char **argv)
{
    record r;
    memset(&r, 0, sizeof r);
    r.event = "cpu-clock";
    r.period = 250000;
    int rc = parse(&r, argc, argv);
    struct perf_event_attr attr;
    const struct perf_event_attr *ap = NULL;
    if (rc == 0 && strcmp(r.event, "cpu-clock") != 0) {
        char msg[256] = "";
        memset(&attr, 0, sizeof attr);
        int prc = qkperf_pfm_encode(r.event, &attr, msg, sizeof msg);
        if (prc != QKPERF_PFM_OK)
            rc = qkperf_usage_error("record: unknown event '%s': %s", r.event, msg);
        ap = &attr;
    }
    if (rc == 0) {
        qkperf_program_name(r.prog, r.op, sizeof r.op);
        rc = check_program(&r);
    }
    qkperf_results res;
    qkperf_results_init(&res);
    if (rc == 0) {
        fill_sections(&r, &res);
        rc = sample(&r, ap, &res);
    }
    if (rc == 0 && !r.quiet)
        print_table(&r, &res);
    char err[512];
    if (rc == 0 && r.output && qkperf_results_write_json(&res, r.output, err, sizeof err)) {
        fprintf(stderr, "qkperf: %s\n", err);
        rc = 1;
    }
    qkperf_results_free(&res);
    for (size_t p = 0; p < r.nphases; p++)
        free(r.storage[p]);
    free(r.ips);
    for (size_t i = 0; i < r.nrows; i++)
        free(r.rows[i].name);
    free(r.rows);
    return rc;
}
