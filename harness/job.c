/*
 * job.c — shared options and the measurement loop of run/ladder/sweep
 * and review (job.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baseline.h"
#include "events.h"
#include "incontext.h"
#include "job.h"
#include "libload.h"
#include "machine.h"
#include "mca.h"
#include "probe.h"
#include "sim.h"

enum {
    OPT_SEED = 256,
    OPT_CPU,
    OPT_WARMUP,
    OPT_NO_STAGED,
    OPT_NO_SW,
    OPT_FORMAT,
    OPT_GDIR,
    OPT_BAND,
    OPT_BASELINE,
    OPT_SAVE,
    OPT_BDIR,
    OPT_SOURCE,
    OPT_MCPU,
    OPT_ROUNDS,
    OPT_SAMPLE_COUNT,
    OPT_SAMPLE_RATE,
    OPT_RUNS,
    OPT_LIB
};

static const struct option job_opts[] = {
    {"op", required_argument, NULL, 'k'},
    {"variant", required_argument, NULL, 'v'},
    {"size", required_argument, NULL, 's'},
    {"groups", required_argument, NULL, 'g'},
    {"events", required_argument, NULL, 'e'},
    {"groups-dir", required_argument, NULL, OPT_GDIR},
    {"samples", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, OPT_SEED},
    {"cpu", required_argument, NULL, OPT_CPU},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"no-staged", no_argument, NULL, OPT_NO_STAGED},
    {"no-sw", no_argument, NULL, OPT_NO_SW},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, 'o'},
    {"band", required_argument, NULL, OPT_BAND},
    {"baseline", required_argument, NULL, OPT_BASELINE},
    {"save-baseline", required_argument, NULL, OPT_SAVE},
    {"baseline-dir", required_argument, NULL, OPT_BDIR},
    {"quiet", no_argument, NULL, 'q'},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"mcpu", required_argument, NULL, OPT_MCPU},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"sample-count", required_argument, NULL, OPT_SAMPLE_COUNT},
    {"sample-rate", required_argument, NULL, OPT_SAMPLE_RATE},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"lib", required_argument, NULL, OPT_LIB},
    {NULL, 0, NULL, 0},
};

static const char *default_size(const qk_op *op)
{
    if (op->default_size)
        return op->default_size;
    return op->ndim == 1 ? "1024" : "256x256";
}

/* Strings the job's lists point into live until qkperf_job_free. */
static char *own(qkperf_job *j, char *s)
{
    char **grown = s ? realloc(j->storage, (j->nstorage + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(s);
        return NULL;
    }
    j->storage = grown;
    return j->storage[j->nstorage++] = s;
}

static char *keep(qkperf_job *j, const char *s)
{
    return own(j, strdup(s));
}

static int list_opt(qkperf_job *j, const char *text, const char **items, const char *what,
                    char *err, size_t len)
{
    char *storage = NULL;
    size_t n;
    int rc = qkperf_split_list(text, &storage, items, QKPERF_MAX_LIST, &n, what, err, len);
    if (rc == 0 && !own(j, storage))
        rc = (snprintf(err, len, "out of memory"), -1);
    else if (rc)
        free(storage);
    items[rc ? 0 : n] = NULL;
    return rc;
}

/* --source tsc,sw,hw,sim,static: tsc always counts (time is the runner's
 * clock); the others are switched on by naming them. */
static int parse_sources(qkperf_job *j, const char *text, char *err, size_t len)
{
    const char *items[QKPERF_MAX_LIST + 1];
    if (list_opt(j, text, items, "source", err, len))
        return -1;
    int sw = 0, hw = 0;
    j->use_sim = j->use_static = j->ro.sample = 0;
    for (size_t i = 0; items[i]; i++) {
        if (!strcmp(items[i], "sw"))
            sw = 1;
        else if (!strcmp(items[i], "sample"))
            j->ro.sample = 1;
        else if (!strcmp(items[i], "hw"))
            hw = 1;
        else if (!strcmp(items[i], "sim"))
            j->use_sim = 1;
        else if (!strcmp(items[i], "static"))
            j->use_static = 1;
        else if (strcmp(items[i], "tsc"))
            return snprintf(err, len,
                            "unknown source '%s' (known: tsc, sw, hw, sim, static, sample)",
                            items[i]),
                   -1;
    }
    j->ro.sw = sw;
    j->hw_off = !hw;
    if (!hw)
        j->groups[0] = NULL;
    return 0;
}

/* -e EVENT[,EVENT...]: repeatable, the lists add up. */
static int parse_events(qkperf_job *j, const char *text, char *err, size_t len)
{
    size_t have = 0;
    while (j->events[have])
        have++;
    const char *items[QKPERF_MAX_LIST + 1];
    if (list_opt(j, text, items, "event", err, len))
        return -1;
    for (size_t i = 0; items[i]; i++) {
        if (have == QKPERF_MAX_LIST)
            return snprintf(err, len, "-e: too many events (at most %d)", QKPERF_MAX_LIST), -1;
        j->events[have++] = items[i];
    }
    j->events[have] = NULL;
    j->ro.events = j->events;
    return qkperf_events_check(j->events, err, len);
}

static int parse_one(qkperf_job *j, int c, char *err, size_t len)
{
    uint64_t u;
    size_t nd = 0;
    switch (c) {
    case 'k':
        j->op = qkperf_find_op(optarg, err, len);
        return j->op ? 0 : -1;
    case 'v':
        j->variants_text = optarg;
        return 0;
    case 's':
        j->sizes_text = optarg;
        return 0;
    case 'g':
        if (!strcmp(optarg, "none")) {
            j->groups[0] = NULL;
            return 0;
        }
        return list_opt(j, optarg, j->groups, "group", err, len);
    case 'e':
        return parse_events(j, optarg, err, len);
    case OPT_GDIR:
        if (qkperf_check_folder("groups folder", optarg, err, len))
            return -1;
        while (j->group_dirs[nd])
            nd++;
        if (nd == QKPERF_MAX_LIST)
            return snprintf(err, len, "too many --groups-dir options"), -1;
        j->group_dirs[nd] = optarg;
        return 0;
    case 'n':
        if (qkperf_parse_u64(optarg, 1, 100000, &u, "sample count", err, len))
            return -1;
        j->ro.samples = (unsigned)u;
        return 0;
    case OPT_SEED:
        return qkperf_parse_u64(optarg, 0, UINT64_MAX, &j->ro.seed, "seed", err, len);
    case OPT_CPU:
        if (qkperf_parse_u64(optarg, 0, CPU_SETSIZE - 1, &u, "CPU number", err, len))
            return -1;
        j->ro.cpu = (int)u;
        return 0;
    case OPT_WARMUP:
        return qkperf_parse_double(optarg, 0, 60000, &j->ro.warmup_ms, "warm-up (ms)", err, len);
    case OPT_NO_STAGED:
        j->ro.staged = 0;
        return 0;
    case OPT_NO_SW:
        j->ro.sw = 0;
        return 0;
    case OPT_FORMAT:
        if (strcmp(optarg, "table") && strcmp(optarg, "json") && strcmp(optarg, "csv"))
            return snprintf(err, len, "bad format '%s': expected table, json or csv", optarg), -1;
        j->format = optarg;
        return 0;
    case 'o':
        j->output = strcmp(optarg, "-") ? optarg : NULL;
        return 0; /* - : stdout */
    case OPT_BAND:
        j->bands = optarg;
        return 0;
    case OPT_BASELINE:
        j->baseline = optarg;
        return 0;
    case OPT_SAVE:
        j->save_baseline = optarg;
        return 0;
    case OPT_BDIR:
        if (!*optarg)
            return snprintf(err, len, "--baseline-dir must not be empty"), -1;
        j->baseline_dir = optarg;
        return 0;
    case 'q':
        j->quiet = 1;
        return 0;
    case OPT_SOURCE:
        return parse_sources(j, optarg, err, len);
    case OPT_MCPU:
        j->mcpu = optarg;
        return 0;
    case OPT_ROUNDS:
        if (qkperf_parse_u64(optarg, 1, 1000, &u, "round count", err, len))
            return -1;
        j->rounds = (unsigned)u;
        return 0;
    case OPT_SAMPLE_COUNT:
        if (qkperf_parse_u64(optarg, 10, 10000000, &u, "in-context sample count", err, len))
            return -1;
        j->sample_count = (unsigned)u;
        return 0;
    case OPT_RUNS:
        if (qkperf_parse_u64(optarg, 1, QKPERF_MAX_RUNS, &u, "run count", err, len))
            return -1;
        j->runs = (unsigned)u;
        return 0;
    case OPT_LIB:
        if (j->nlibs == QKPERF_MAX_LIBS)
            return snprintf(err, len, "too many --lib options (at most %d)", QKPERF_MAX_LIBS), -1;
        j->libs[j->nlibs++] = optarg;
        return 0;
    case OPT_SAMPLE_RATE: /* perf_event_max_sample_rate is 100000 by default */
        return qkperf_parse_double(optarg, 10, 100000, &j->ro.sample_hz, "sampling rate (Hz)", err,
                                   len);
    default:
        return snprintf(err, len, "unknown option '%s'", optarg ? optarg : "?"), -1;
    }
}

static const char *guess_format(const char *output)
{
    const char *dot = output ? strrchr(output, '.') : NULL;
    if (dot && !strcmp(dot, ".json"))
        return "json";
    if (dot && !strcmp(dot, ".csv"))
        return "csv";
    return "table";
}

/* A bad --baseline is refused before a long run, not after it. */
static int check_baseline(const qkperf_job *j, char *err, size_t len)
{
    qkperf_results base;
    if (qkperf_baseline_load(&base, qkperf_baseline_dir(j->baseline_dir), j->baseline, err, len))
        return -1;
    const char *op = json_string_value(json_object_get(base.config, "op"));
    int rc = 0;
    if (op && strcmp(op, j->op->name)) {
        snprintf(err, len, "baseline '%s' is for op %s, this run is %s", j->baseline, op,
                 j->op->name);
        rc = -1;
    }
    qkperf_results_free(&base);
    return rc;
}

/* --lib NAME=PATH: each build loaded once per process (a job parsed
 * twice, as review does, finds it registered already). */
static int load_libs(qkperf_job *j, char *err, size_t len)
{
    static const char *loaded[QKPERF_MAX_LIBS * 4];
    static size_t nloaded;
    for (size_t i = 0; i < j->nlibs; i++) {
        size_t k = 0;
        while (k < nloaded && strcmp(loaded[k], j->libs[i]))
            k++;
        if (k < nloaded)
            continue;
        if (qkperf_lib_load(j->libs[i], err, len))
            return -1;
        if (nloaded < sizeof loaded / sizeof loaded[0])
            loaded[nloaded++] = j->libs[i];
    }
    return 0;
}

static int listed(const qkperf_job *j, const qk_variant *v)
{
    for (size_t i = 0; i < j->nv; i++)
        if (j->variants[i] == v)
            return 1;
    return 0;
}

/* With --lib, each variant of this build listed is measured beside the
 * same variant of every other build (NAME:variant), adjacent, so the
 * rounds interleave them; a NAME:variant named explicitly stays. */
static int expand_libs(qkperf_job *j, char *err, size_t len)
{
    if (!j->nlibs)
        return 0;
    const qk_variant *in[QKPERF_MAX_LIST];
    size_t n = j->nv;
    for (size_t i = 0; i < n; i++)
        in[i] = j->variants[i];
    j->nv = 0;
    for (size_t i = 0; i < n; i++) {
        int own = !qkperf_lib_prefix(in[i]->name);
        if (own || !listed(j, in[i])) {
            if (j->nv == QKPERF_MAX_LIST)
                return snprintf(err, len, "--lib: more than %d variants", QKPERF_MAX_LIST), -1;
            if (!listed(j, in[i]))
                j->variants[j->nv++] = in[i];
        }
        for (size_t l = 0; own && l < j->nlibs; l++) {
            char name[128];
            const char *eq = strchr(j->libs[l], '=');
            snprintf(name, sizeof name, "%.*s:%s", (int)(eq - j->libs[l]), j->libs[l], in[i]->name);
            const qk_variant *v = qk_find_variant(j->op->name, name);
            if (!v)
                return snprintf(err, len, "--lib %s: the build has no %s variant '%s'", j->libs[l],
                                j->op->name, in[i]->name),
                       -1;
            if (j->nv == QKPERF_MAX_LIST)
                return snprintf(err, len, "--lib: more than %d variants", QKPERF_MAX_LIST), -1;
            if (!listed(j, v))
                j->variants[j->nv++] = v;
        }
    }
    return 0;
}

/* The lists the texts name, and the checks that need the whole job. */
static int resolve(qkperf_job *j, char *err, size_t len)
{
    if (!j->op) {
        char known[512];
        qkperf_known_ops(known, sizeof known, "-k ");
        return snprintf(err, len, "no op given: use %s", known), -1;
    }
    if (load_libs(j, err, len) ||
        qkperf_parse_variants(j->op, j->variants_text ? j->variants_text : "all", j->variants,
                              QKPERF_MAX_LIST, &j->nv, err, len) ||
        expand_libs(j, err, len))
        return -1;
    const char *items[QKPERF_MAX_LIST + 1];
    if (list_opt(j, j->sizes_text ? j->sizes_text : default_size(j->op), items, "size", err, len))
        return -1;
    for (j->ns = 0; items[j->ns]; j->ns++) {
        j->sizes[j->ns] = items[j->ns];
        if (qkperf_parse_size(j->op, items[j->ns], j->dims[j->ns], err, len))
            return -1;
    }
    if (!j->format)
        j->format = guess_format(j->output);
    if (j->rounds == 0) /* interleave when variants or sizes are compared */
        j->rounds = j->nv * j->ns > 1 ? 3 : 1;
    if (j->rounds > j->ro.samples)
        j->rounds = j->ro.samples;
    if (j->events[0] && j->hw_off)
        return snprintf(err, len, "-e %s needs the hw source (--source ...,hw)", j->events[0]), -1;
    if (j->mcpu && !j->use_static)
        return snprintf(err, len, "--mcpu %s needs --source static", j->mcpu), -1;
    if (j->mcpu && qkperf_mca_check_cpu(j->mcpu, err, len))
        return -1;
    if (j->output && qkperf_check_writable(j->output, err, len))
        return -1;
    if (j->output && !strcmp(j->format, "table") &&
        !(j->text = open_memstream(&j->text_buf, &j->text_len)))
        return snprintf(err, len, "out of memory"), -1;
    qkperf_bands b;
    qkperf_bands_default(&b);
    if (j->bands && qkperf_bands_parse(&b, j->bands, err, len))
        return -1;
    if (j->save_baseline && !qkperf_baseline_name_ok(j->save_baseline, err, len))
        return -1;
    if (j->baseline && check_baseline(j, err, len))
        return -1;
    return qkperf_runner_check_groups(&j->ro, err, len);
}

void qkperf_job_init(qkperf_job *j, const char *command)
{
    memset(j, 0, sizeof *j);
    qkperf_run_opts_default(&j->ro);
    j->command = command;
    j->groups[0] = keep(j, "CYCLES");
    j->ro.groups = j->groups;
    j->ro.group_dirs = j->group_dirs;
    j->ro.sample = 1; /* the in-context view is a default source */
    j->sample_count = QKPERF_IC_DEFAULT_SAMPLES;
}

int qkperf_job_ready(qkperf_job *j, char *err, size_t len)
{
    if (resolve(j, err, len))
        return -1;
    j->ro.progress = isatty(STDERR_FILENO) && !j->quiet && !getenv("QKPERF_RUN_CHILD");
    return 0;
}

static int parse_args(qkperf_job *j, int argc, char **argv, const char *command)
{
    char err[1024] = "";
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":k:v:s:g:e:n:o:q", job_opts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1];
            fprintf(stderr, "qkperf %s: %s '%s' (see man qkperf)\n", command,
                    qkperf_getopt_why(c, bad), bad);
            return 2;
        }
        if (parse_one(j, c, err, sizeof err))
            return qkperf_usage_error("%s", err);
    }
    if (optind < argc)
        return qkperf_usage_error("%s: unexpected argument '%s'", command, argv[optind]);
    if (qkperf_job_ready(j, err, sizeof err))
        return qkperf_usage_error("%s", err);
    return 0;
}

int qkperf_job_parse(qkperf_job *j, int argc, char **argv, const char *command)
{
    qkperf_job_init(j, command);
    j->argc = argc;
    j->argv = argv;
    int rc = parse_args(j, argc, argv, command);
    if (rc)
        qkperf_job_free(j);
    return rc;
}

void qkperf_job_free(qkperf_job *j)
{
    if (j->text)
        fclose(j->text);
    j->text = NULL;
    free(j->text_buf);
    j->text_buf = NULL;
    for (size_t i = 0; i < j->nstorage; i++)
        free(j->storage[i]);
    free(j->storage);
    j->storage = NULL;
    j->nstorage = 0;
}

static json_t *string_array(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && items[i]; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static void fill_config(const qkperf_job *j, qkperf_results *res)
{
    const char *vn[QKPERF_MAX_LIST];
    size_t ng = 0;
    for (size_t i = 0; i < j->nv; i++)
        vn[i] = j->variants[i]->name;
    while (j->groups[ng])
        ng++;
    json_object_update_new(
        res->config,
        json_pack("{s:s,s:s,s:o,s:o,s:i,s:I,s:i,s:b,s:b,s:o,s:f}", "command", j->command, "op",
                  j->op->name, "variants", string_array(vn, j->nv), "sizes",
                  string_array(j->sizes, j->ns), "samples", (int)j->ro.samples, "seed",
                  (json_int_t)j->ro.seed, "cpu", j->ro.cpu, "staged", j->ro.staged, "sw", j->ro.sw,
                  "groups", string_array(j->groups, ng), "warmup_ms", j->ro.warmup_ms));
    json_object_set_new(res->config, "rounds", json_integer(j->rounds));
    if (j->events[0]) {
        size_t ne = 0;
        while (j->events[ne])
            ne++;
        json_object_set_new(res->config, "events", string_array(j->events, ne));
    }
    json_object_set_new(res->config, "in_context",
                        json_pack("{s:b,s:i,s:f}", "sample", j->ro.sample, "samples",
                                  (int)j->sample_count, "rate_hz", j->ro.sample_hz));
    /* The verdicts' settings, so plot and review judge as this run did. */
    qkperf_bands b;
    qkperf_job_bands(j, &b);
    json_t *bands = json_object();
    for (int k = 0; k < QKPERF_KIND_COUNT; k++)
        json_object_set_new(bands, qkperf_metric_kind_name((qkperf_metric_kind)k),
                            json_real(b.band[k]));
    json_object_set_new(res->config, "bands", bands);
    json_object_set_new(res->config, "bootstrap_seed", json_integer((json_int_t)j->ro.seed));
}

static int pin(int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "qkperf: cannot pin to CPU %d: %s (this machine has %ld online)\n", cpu,
                strerror(errno), sysconf(_SC_NPROCESSORS_ONLN));
        return -1;
    }
    return 0;
}

/* The job's size s is measured by a pass limited to only (NULL: every size). */
static int in_pass(const qkperf_job *j, size_t s, const char *only)
{
    return !only || !strcmp(j->sizes[s], only);
}

/* The variant's llvm-mca model (mca.h); a stand-in is said in the config
 * (mcpu_avx512, for the plots) and in a note. */
static const char *static_cpu(const qkperf_job *j, qkperf_results *res, const qk_variant *v,
                              const char *cpu)
{
    char label[200];
    const char *vcpu = qkperf_mca_variant_cpu(v, cpu, j->mcpu != NULL, label, sizeof label);
    if (vcpu != cpu && !json_object_get(res->config, "mcpu_avx512")) {
        json_object_set_new(res->config, "mcpu_avx512", json_string(label));
        qkperf_results_note(res, "static: AVX-512 variants modelled with -mcpu=%s", label);
    }
    return vcpu;
}

/* llvm-mca models need no ISA support: every variant is modelled. */
static void measure_static(const qkperf_job *j, qkperf_results *res, const char *only)
{
    char why[512], err[1024], label[160] = "";
    const char *cpu = j->mcpu;
    int stat = j->use_static && qkperf_mca_available(why, sizeof why);
    if (j->use_static && !stat) {
        fprintf(stderr, "qkperf: static: %s\n", why);
        qkperf_results_note(res, "static source not used: %s", why);
    }
    if (stat && !cpu && !(cpu = qkperf_mca_default_cpu(label, sizeof label))) {
        fprintf(stderr, "qkperf: static: %s\n", label);
        qkperf_results_note(res, "static source not used: %s", label);
        stat = 0;
    }
    if (stat)
        json_object_set_new(res->config, "mcpu", json_string(j->mcpu ? j->mcpu : label));
    for (size_t s = 0; stat && s < j->ns; s++)
        for (size_t i = 0; in_pass(j, s, only) && i < j->nv; i++)
            if (qkperf_mca_measure(j->op, j->variants[i], j->sizes[s],
                                   static_cpu(j, res, j->variants[i], cpu), res, err, sizeof err)) {
                fprintf(stderr, "qkperf: %s\n", err);
                qkperf_results_note(res, "static %s %s: %s", j->op->name, j->variants[i]->name,
                                    err);
                if (strstr(err, "does not know CPU") || strstr(err, "not found"))
                    return; /* the same error would repeat for every variant */
            }
}

/* sim and static figures are deterministic: one pass each, after the
 * timed rounds. Their failures are reported and the other sources kept. */
int qkperf_job_measure_models(const qkperf_job *j, qkperf_results *res, const char *only_size)
{
    size_t found = 0;
    for (size_t s = 0; s < j->ns; s++)
        found += in_pass(j, s, only_size);
    if (!found)
        return -1;
    char why[512], err[1024];
    int sim = j->use_sim && qkperf_sim_available(why, sizeof why);
    if (j->use_sim && !sim) {
        fprintf(stderr, "qkperf: sim: %s\n", why);
        qkperf_results_note(res, "sim source not used: %s", why);
    }
    for (size_t s = 0; sim && s < j->ns; s++)
        for (size_t i = 0; in_pass(j, s, only_size) && i < j->nv; i++) {
            const qk_variant *v = j->variants[i];
            if (qk_variant_runnable(v) &&
                qkperf_sim_measure(j->op, v, j->dims[s], j->sizes[s], j->ro.seed, j->ro.staged, res,
                                   err, sizeof err)) {
                fprintf(stderr, "qkperf: %s\n", err);
                qkperf_results_note(res, "sim %s %s %s: %s", j->op->name, v->name, j->sizes[s],
                                    err);
            }
        }
    measure_static(j, res, only_size);
    return 0;
}

int qkperf_job_measure_rounds(qkperf_job *j, qkperf_results *res)
{
    if (pin(j->ro.cpu))
        return 1;
    qkperf_probe_t p;
    qkperf_probe(&p);
    json_object_update_new(res->machine, qkperf_machine_json(&p));
    json_object_update_new(res->build, qkperf_build_json());
    fill_config(j, res);
    for (size_t i = 0; i < j->nv; i++)
        if (!qk_variant_runnable(j->variants[i]))
            qkperf_results_note(res, "%s %s skipped: needs %s, this CPU has %s", j->op->name,
                                j->variants[i]->name, qk_isa_names(j->variants[i]->isa),
                                qk_isa_names(qk_cpu_isa()));
    /* Every variant is checked against the reference at every size before
     * anything is measured: a wrong one stops the job with nothing written. */
    for (size_t s = 0; s < j->ns; s++)
        for (size_t i = 0; i < j->nv; i++) {
            char err[512];
            if (qk_variant_runnable(j->variants[i]) &&
                qkperf_check_variant(j->op, j->variants[i], j->dims[s], j->sizes[s], j->ro.seed,
                                     err, sizeof err)) {
                fprintf(stderr, "qkperf: %s\n", err);
                return 1;
            }
        }
    /* Rounds spread each variant's samples over the whole run, so a noisy
     * stretch of time (a busy neighbour) hits every variant alike and the
     * ratios between them stay honest. */
    qkperf_run_opts ro = j->ro;
    ro.sample_target = (j->sample_count + j->rounds - 1) / j->rounds;
    for (unsigned round = 0; round < j->rounds; round++) {
        ro.samples = j->ro.samples / j->rounds + (round < j->ro.samples % j->rounds);
        for (size_t s = 0; s < j->ns; s++)
            for (size_t i = 0; i < j->nv; i++) {
                /* alternate: every other round in reverse order, so no
                 * variant always runs first (A/B: no order effect) */
                const qk_variant *v = j->variants[j->alternate && round % 2 ? j->nv - 1 - i : i];
                char err[512];
                if (qk_variant_runnable(v) &&
                    qkperf_measure(&ro, j->op, v, j->dims[s], j->sizes[s], res, err, sizeof err)) {
                    fprintf(stderr, "qkperf: %s\n", err);
                    return 1;
                }
            }
    }
    return 0;
}

/* One of the K runs: a process of its own, the same command line; it
 * measures the timed rounds, writes them to `path` and exits. */
static int spawn_run(const qkperf_job *j, const char *path)
{
    char **args = calloc((size_t)j->argc + 2, sizeof *args);
    if (!args)
        return -1;
    args[0] = (char *)"qkperf";
    for (int i = 0; i < j->argc; i++)
        args[i + 1] = j->argv[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        setenv("QKPERF_RUN_CHILD", path, 1);
        execv("/proc/self/exe", args);
        _exit(127);
    }
    free(args);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int measure_runs(qkperf_job *j, qkperf_results *res)
{
    char dir[] = "/tmp/qkperf-runs.XXXXXX", path[64], err[1024];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "qkperf: --runs: cannot make a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    int rc = 0;
    for (unsigned k = 0; rc == 0 && k < j->runs; k++) {
        snprintf(path, sizeof path, "%s/run-%u.json", dir, k);
        if (!j->quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "\rqkperf: run %u of %u ", k + 1, j->runs);
        int status = spawn_run(j, path);
        qkperf_results one;
        if (status != 0) {
            fprintf(stderr, "qkperf: run %u of %u failed (exit status %d)\n", k + 1, j->runs,
                    status);
            rc = 1;
        } else if (qkperf_results_read_json(&one, path, err, sizeof err)) {
            fprintf(stderr, "qkperf: run %u of %u: %s\n", k + 1, j->runs, err);
            rc = 1;
        } else {
            if (k == 0) {
                json_object_update(res->machine, one.machine);
                json_object_update(res->build, one.build);
                json_object_update(res->config, one.config);
                json_array_extend(res->notes, one.notes);
            }
            if (qkperf_results_add_run(res, &one)) {
                fprintf(stderr, "qkperf: out of memory merging run %u\n", k + 1);
                rc = 1;
            }
            qkperf_results_free(&one);
        }
        unlink(path);
    }
    if (!j->quiet && isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K");
    rmdir(dir);
    json_object_set_new(res->config, "runs", json_integer(j->runs));
    return rc;
}

/* QKPERF_RUN_CHILD=PATH: this process is one of a --runs K parent's. */
static void run_child(qkperf_job *j, qkperf_results *res, const char *path)
{
    char err[1024];
    int rc = qkperf_job_measure_rounds(j, res);
    if (rc == 0 && qkperf_results_write_json(res, path, err, sizeof err)) {
        fprintf(stderr, "qkperf: %s\n", err);
        rc = 1;
    }
    qkperf_results_free(res);
    qkperf_job_free(j);
    exit(rc);
}

int qkperf_job_measure(qkperf_job *j, qkperf_results *res)
{
    const char *child = getenv("QKPERF_RUN_CHILD");
    if (child && *child)
        run_child(j, res, child);
    int rc = j->runs > 1 ? measure_runs(j, res) : qkperf_job_measure_rounds(j, res);
    if (rc == 0)
        qkperf_job_measure_models(j, res, NULL);
    return rc;
}

int qkperf_job_write(const qkperf_job *j, const qkperf_results *res)
{
    if (!strcmp(j->format, "table"))
        return 0;
    if (!j->output) { /* the document on stdout; the tables went to stderr */
        char *text = !strcmp(j->format, "json") ? qkperf_results_json_text(res)
                                                : qkperf_results_csv_text(res);
        if (!text) {
            fprintf(stderr, "qkperf: out of memory writing results\n");
            return 1;
        }
        fputs(text, stdout);
        free(text);
        return 0;
    }
    char err[512];
    int rc = !strcmp(j->format, "json") ? qkperf_results_write_json(res, j->output, err, sizeof err)
                                        : qkperf_results_write_csv(res, j->output, err, sizeof err);
    if (rc) {
        fprintf(stderr, "qkperf: %s\n", err);
        return 1;
    }
    return 0;
}

void qkperf_job_bands(const qkperf_job *j, qkperf_bands *b)
{
    char err[256];
    qkperf_bands_default(b);
    if (j->bands)
        qkperf_bands_parse(b, j->bands, err, sizeof err);
}

/* -o FILE with the table format: the tables were printed into a memory
 * stream (qkperf_job_text), written to FILE atomically here. 0 or 1. */
static int write_text(qkperf_job *j)
{
    char err[512];
    if (fclose(j->text) != 0 || !j->text_buf) {
        j->text = NULL;
        fprintf(stderr, "qkperf: out of memory writing %s\n", j->output);
        return 1;
    }
    j->text = NULL;
    if (qkperf_write_atomic(j->output, j->text_buf, j->text_len, err, sizeof err)) {
        fprintf(stderr, "qkperf: %s\n", err);
        return 1;
    }
    return 0;
}

int qkperf_job_finish(qkperf_job *j, qkperf_results *res, int rc)
{
    if (rc == 0 && j->text) { /* the baselines' lines belong in the file too */
        rc = qkperf_job_baselines(j, res);
        int wrc = write_text(j);
        rc = rc ? rc : wrc;
    } else {
        if (rc == 0)
            rc = qkperf_job_write(j, res);
        if (rc == 0)
            rc = qkperf_job_baselines(j, res);
    }
    qkperf_results_free(res);
    qkperf_job_free(j);
    return rc;
}

FILE *qkperf_job_text(const qkperf_job *j)
{
    if (j->text)
        return j->text;
    return !j->output && strcmp(j->format, "table") ? stderr : stdout;
}

int qkperf_job_baselines(const qkperf_job *j, const qkperf_results *res)
{
    const char *dir = qkperf_baseline_dir(j->baseline_dir);
    FILE *out = qkperf_job_text(j);
    char err[1024];
    int rc = 0;
    if (j->baseline) {
        qkperf_results base;
        if (qkperf_baseline_load(&base, dir, j->baseline, err, sizeof err)) {
            fprintf(stderr, "qkperf: %s\n", err);
            return 2;
        }
        qkperf_compare_opts o;
        qkperf_compare_opts_init(&o);
        qkperf_job_bands(j, &o.bands);
        fprintf(out, "\ncompared with baseline '%s':\n", j->baseline);
        int n = qkperf_compare_print(out, &base, res, &o, j->baseline, "this run", err, sizeof err);
        if (n == -1)
            fprintf(stderr, "qkperf: %s\n", err);
        rc = n < 0 ? 2 : n > 0;
        qkperf_results_free(&base);
    }
    if (j->save_baseline && rc != 2) {
        if (qkperf_baseline_save(res, dir, j->save_baseline, err, sizeof err)) {
            fprintf(stderr, "qkperf: %s\n", err);
            return 2;
        }
        fprintf(out, "saved baseline '%s' in %s\n", j->save_baseline, dir);
    }
    return rc;
}
