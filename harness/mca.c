/*
 * mca.c — the `static` counter source: runs llvm-mca on the marked loops
 * of the kernels' assembly and turns its JSON into records (see mca.h).
 *
 * The asm is not handed to llvm-mca as it is: one variant's regions are
 * copied, with only their labels and instructions, into a temporary file.
 * That keeps other variants' markers (and a region the compiler broke by
 * moving END before BEGIN) from failing the whole run, drops gcc's
 * directives that llvm-mca cannot place outside a function, and lets a
 * region be narrowed to its inner loop.
 */
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unistd.h>

#include "mca.h"
#include "results.h"
#include "plugin.h"
#include "child.h"

#define BEGIN_TAG "# LLVM-MCA-BEGIN "
#define END_TAG "# LLVM-MCA-END "

static const char *const known_cpus =
    "znver1, znver2, znver3, skylake, skylake-avx512, icelake-server, sapphirerapids";

/* ---- finding llvm-mca and the asm -------------------------------------- */

/* First of llvm-mca, llvm-mca-14 found on PATH, into path; 0 or -1. */
static int find_tool(char *path, size_t len)
{
    static const char *const names[] = {"llvm-mca", "llvm-mca-14"};
    const char *env = getenv("PATH");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *dirs = strdup(env ? env : "/usr/bin:/bin"), *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            snprintf(path, len, "%s/%s", *d ? d : ".", names[i]);
            if (access(path, X_OK) == 0) {
                free(dirs);
                return 0;
            }
        }
        free(dirs);
    }
    return -1;
}

/* The asm folder: QKPERF_MCA_DIR, else the build tree's (when built),
 * else the installed one. */
static const char *mca_dir(void)
{
    const char *env = getenv("QKPERF_MCA_DIR");
    if (env && *env)
        return env;
#ifdef QKPERF_BUILD_MCA_DIR
    struct stat st;
    if (stat(QKPERF_BUILD_MCA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return QKPERF_BUILD_MCA_DIR;
#endif
#ifdef QKPERF_MCA_DIR
    return QKPERF_MCA_DIR;
#else
    return "mca";
#endif
}

static int is_asm(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 2 && !strcmp(d->d_name + n - 2, ".s");
}

static int file_has(const char *path, const char *needle);

int qkperf_mca_available(char *why, size_t len)
{
    char tool[512];
    if (find_tool(tool, sizeof tool))
        return snprintf(why, len, "llvm-mca not found (apt-get install llvm)"), 0;
    struct dirent **list;
    int n = scandir(mca_dir(), &list, is_asm, alphasort), e = errno;
    for (int i = 0; i < n; i++)
        free(list[i]);
    if (n >= 0)
        free(list);
    if (n <= 0)
        return snprintf(why, len, "no kernel asm in %s: %s (run make, or set QKPERF_MCA_DIR)",
                        mca_dir(), n < 0 ? strerror(e) : "no .s files"),
               0;
    return 1;
}

/* ---- the host's CPU model ---------------------------------------------- */

/* llvm-mca 14 models by CPUID family and model range; the first match. */
static const struct {
    unsigned family, lo, hi;
    const char *cpu, *label;
} host_models[] = {
    {0x19, 0x10, 0x1f, "znver3", "znver3 (stand-in for Zen 4)"},
    {0x19, 0x60, 0x7f, "znver3", "znver3 (stand-in for Zen 4)"},
    {0x19, 0xa0, 0xaf, "znver3", "znver3 (stand-in for Zen 4)"},
    {0x19, 0x00, 0xff, "znver3", "znver3"},
    {0x1a, 0x00, 0xff, "znver3", "znver3 (stand-in for Zen 5)"},
    {0x17, 0x30, 0xff, "znver2", "znver2"},
    {0x17, 0x00, 0x2f, "znver1", "znver1"},
    {0x06, 0x6a, 0x6a, "icelake-server", "icelake-server"},
    {0x06, 0x6c, 0x6c, "icelake-server", "icelake-server"},
    {0x06, 0x7d, 0x7e, "icelake-server", "icelake-server (stand-in for Ice Lake client)"},
    {0x06, 0x8c, 0x8d, "icelake-server", "icelake-server (stand-in for Tiger Lake)"},
    {0x06, 0xa7, 0xa7, "icelake-server", "icelake-server (stand-in for Rocket Lake)"},
    {0x06, 0x8f, 0x8f, "sapphirerapids", "sapphirerapids"},
    {0x06, 0x55, 0x55, "skylake-avx512", "skylake-avx512"},
    {0x06, 0x4e, 0x4e, "skylake", "skylake"},
    {0x06, 0x5e, 0x5e, "skylake", "skylake"},
};

const char *qkperf_mca_default_cpu(char *label, size_t len)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return snprintf(label, len, "CPUID leaf 1 unavailable: pass --mcpu"), NULL;
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    if (family == 0xf || family == 0x6 || family > 0xf)
        model |= ((a >> 16) & 0xf) << 4;
    for (size_t i = 0; i < sizeof host_models / sizeof host_models[0]; i++)
        if (host_models[i].family == family && model >= host_models[i].lo &&
            model <= host_models[i].hi) {
            snprintf(label, len, "%s", host_models[i].label);
            return host_models[i].cpu;
        }
    /* Another Intel core: the nearest model by what it can run. */
    if (family == 0x6 && __builtin_cpu_supports("avx512f")) {
        snprintf(label, len, "icelake-server (stand-in for Intel family 0x6 model 0x%x)", model);
        return "icelake-server";
    }
    if (family == 0x6 && __builtin_cpu_supports("avx2")) {
        snprintf(label, len, "skylake (stand-in for Intel family 0x6 model 0x%x)", model);
        return "skylake";
    }
    snprintf(label, len, "no llvm-mca model for CPU family 0x%x model 0x%x: pass --mcpu (%s)",
             family, model, known_cpus);
    return NULL;
}

/* llvm-mca 14's models of CPUs with AVX-512 (of those qkperf picks). */
static int model_has_avx512(const char *mcpu)
{
    static const char *const avx512[] = {"skylake-avx512", "cascadelake",    "cooperlake",
                                         "icelake-server", "icelake-client", "tigerlake",
                                         "rocketlake",     "sapphirerapids"};
    for (size_t i = 0; i < sizeof avx512 / sizeof avx512[0]; i++)
        if (!strcmp(mcpu, avx512[i]))
            return 1;
    return 0;
}

static int needs_avx512(const qk_variant *v)
{
    return (v->isa & (QK_ISA_AVX512 | QK_ISA_AVX512VBMI | QK_ISA_AVX512VNNI)) != 0;
}

const char *qkperf_mca_variant_cpu(const qk_variant *v, const char *cpu, int given, char *label,
                                   size_t len)
{
    label[0] = '\0';
    if (given || !needs_avx512(v) || model_has_avx512(cpu))
        return cpu;
    snprintf(label, len, "%s (stand-in: the host model %s has no AVX-512)", QKPERF_MCA_AVX512_CPU,
             cpu);
    return QKPERF_MCA_AVX512_CPU;
}

/* ---- reading one variant's regions from the asm ------------------------ */

/* One marked region of the asm: its code lines (labels and instructions). */
typedef struct {
    char name[96];   /* "avx2-p1/unpack" */
    double elements; /* @N, 0 if absent */
    unsigned loop;   /* #k, 1 if absent */
    char **line;
    size_t n, cap;
    int done, broken;
} asm_region;

typedef struct {
    asm_region *r;
    size_t n;
} asm_regions;

static void regions_free(asm_regions *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        for (size_t j = 0; j < rs->r[i].n; j++)
            free(rs->r[i].line[j]);
        free(rs->r[i].line);
    }
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
}

/* Split "avx2-p1/unpack@256#2" into name, elements and loop number. */
static void parse_marker(const char *text, asm_region *r)
{
    size_t k = strcspn(text, "@# \t\r\n");
    snprintf(r->name, sizeof r->name, "%.*s", (int)k, text);
    const char *at = strchr(text, '@'), *hash = strchr(text, '#');
    r->elements = at ? strtod(at + 1, NULL) : 0;
    r->loop = hash ? (unsigned)strtoul(hash + 1, NULL, 10) : 1;
    if (r->loop == 0)
        r->loop = 1;
}

static asm_region *find_region(asm_regions *rs, const char *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!strcmp(rs->r[i].name, name))
            return &rs->r[i];
    return NULL;
}

static asm_region *add_region(asm_regions *rs, const asm_region *tmpl)
{
    asm_region *p = realloc(rs->r, (rs->n + 1) * sizeof *p);
    if (!p)
        return NULL;
    rs->r = p;
    p[rs->n] = *tmpl;
    return &p[rs->n++];
}

/* A label (".L5:") or an instruction: what llvm-mca needs of a loop. */
static int is_code(const char *s)
{
    return *s && *s != '#' && (*s != '.' || s[strcspn(s, " \t:")] == ':');
}

static int add_line(asm_region *r, const char *s)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        char **p = realloc(r->line, cap * sizeof *p);
        if (!p)
            return -1;
        r->line = p;
        r->cap = cap;
    }
    if (!(r->line[r->n] = strdup(s)))
        return -1;
    r->n++;
    return 0;
}

static const char *skip_space(const char *s)
{
    return s + strspn(s, " \t");
}

/* A marker line of one of v's regions: BEGIN (1) or END (-1), else 0. */
static int marker(const char *s, const char *prefix, const char **name)
{
    int kind = !strncmp(s, BEGIN_TAG, strlen(BEGIN_TAG)) ? 1
               : !strncmp(s, END_TAG, strlen(END_TAG))   ? -1
                                                         : 0;
    if (!kind)
        return 0;
    *name = skip_space(s + strlen(kind > 0 ? BEGIN_TAG : END_TAG));
    return strncmp(*name, prefix, strlen(prefix)) ? 0 : kind;
}

/* One marker of v: open a region (the first copy of a name wins: the
 * staged and fused copies of a shared block are the same code), or close
 * the open one; an END that closes nothing marks the region broken. */
static int on_marker(asm_regions *rs, asm_region **open, int kind, const char *text)
{
    asm_region tmpl = {0};
    parse_marker(text, &tmpl);
    asm_region *r = find_region(rs, tmpl.name);
    if (kind < 0) {
        if (*open && !strcmp((*open)->name, tmpl.name))
            (*open)->done = 1;
        else if (!r && !(r = add_region(rs, &tmpl)))
            return -1;
        if (!r->done)
            r->broken = 1;
        *open = NULL;
        return 0;
    }
    if (*open)
        (*open)->broken = 1;
    *open = NULL;
    if (!r && !(r = add_region(rs, &tmpl)))
        return -1;
    if (!r->done && !r->broken)
        *open = r;
    return 0;
}

/* Every region named "<prefix>..." in the asm file at path. */
static int read_regions(const char *path, const char *prefix, asm_regions *rs, char *err,
                        size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return snprintf(err, len, "cannot read %s: %s (run make, or set QKPERF_MCA_DIR)", path,
                        strerror(errno)),
               -1;
    char *buf = NULL;
    size_t cap = 0;
    asm_region *open = NULL;
    int rc = 0;
    while (rc == 0 && getline(&buf, &cap, f) > 0) {
        buf[strcspn(buf, "\r\n")] = 0;
        const char *s = skip_space(buf), *name;
        int kind = marker(s, prefix, &name);
        if (kind)
            rc = on_marker(rs, &open, kind, name);
        else if (open && is_code(s))
            rc = add_line(open, s);
    }
    if (open)
        open->broken = 1;
    free(buf);
    fclose(f);
    if (rc)
        snprintf(err, len, "out of memory reading %s", path);
    return rc;
}

/* The regions named "<prefix>..." of every asm file of the folder that has
 * any, in the files' name order (a name's first copy wins); *first: the
 * first such file, "" when none has one. 0, or -1 with err. */
static int read_folder(const char *prefix, asm_regions *rs, char *first, size_t flen, char *err,
                       size_t len)
{
    struct dirent **list;
    char needle[160], path[1024];
    int n = scandir(mca_dir(), &list, is_asm, alphasort), rc = 0;
    *first = '\0';
    if (n < 0)
        return snprintf(err, len, "cannot read %s: %s (run make, or set QKPERF_MCA_DIR)", mca_dir(),
                        strerror(errno)),
               -1;
    snprintf(needle, sizeof needle, BEGIN_TAG "%s", prefix);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", mca_dir(), list[i]->d_name);
        if (rc == 0 && file_has(path, needle)) {
            if (!*first)
                snprintf(first, flen, "%s", path);
            rc = read_regions(path, prefix, rs, err, len);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

/* A plugin's variant: its marked asm is the file beside the plugin, the
 * .so's name with .s (q8_0.so: q8_0.s). 1 with the path, else 0 and "". */
static int plugin_asm(const qk_variant *v, char *path, size_t len)
{
    const char *so = qkperf_plugin_of_module(qk_variant_module(v));
    *path = '\0';
    if (!so)
        return 0;
    size_t n = strlen(so);
    if (n > 3 && !strcmp(so + n - 3, ".so"))
        n -= 3;
    snprintf(path, len, "%.*s.s", (int)n, so);
    return 1;
}

/* The regions "<prefix>..." of a plugin's asm file, when it is there. */
static int read_shipped(const char *file, const char *prefix, asm_regions *rs, char *first,
                        size_t flen, char *err, size_t len)
{
    char needle[160];
    snprintf(needle, sizeof needle, BEGIN_TAG "%s", prefix);
    *first = '\0';
    if (access(file, R_OK) != 0 || !file_has(file, needle))
        return 0;
    snprintf(first, flen, "%s", file);
    return read_regions(file, prefix, rs, err, len);
}

/* ---- narrowing a region to its inner loop ------------------------------ */

/* Index of the line defining label `l` ("l:") in r, or -1. */
static long label_at(const asm_region *r, const char *l, size_t ln)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strncmp(r->line[i], l, ln) && r->line[i][ln] == ':')
            return (long)i;
    return -1;
}

/* Loop i of r: a jump at line end back to a label at line start. */
static int loop_at(const asm_region *r, size_t end, size_t *start)
{
    const char *s = r->line[end];
    if (s[0] != 'j')
        return 0;
    const char *t = skip_space(s + strcspn(s, " \t"));
    long at = label_at(r, t, strcspn(t, " \t,"));
    if (at < 0 || (size_t)at >= end)
        return 0;
    *start = (size_t)at;
    return 1;
}

/* Lines [*from, *to] of the k-th innermost loop (by start); the whole
 * region when it has no inner loop. -1 when it has fewer than k. */
static int pick_lines(const asm_region *r, size_t *from, size_t *to)
{
    unsigned found = 0;
    *from = 0;
    *to = r->n ? r->n - 1 : 0;
    for (size_t s = 0; s < r->n; s++)
        for (size_t e = s + 1; e < r->n; e++) {
            size_t st, s2, e2;
            if (!loop_at(r, e, &st) || st != s)
                continue;
            int inner = 1;
            for (e2 = s + 1; e2 < e && inner; e2++)
                inner = !(loop_at(r, e2, &s2) && s2 >= s);
            if (inner && ++found == r->loop) {
                *from = s;
                *to = e;
                return 0;
            }
        }
    return found || r->loop > 1 ? -1 : 0;
}

/* ---- running llvm-mca --------------------------------------------------- */

static int write_regions(const char *path, const asm_regions *rs, char *err, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return snprintf(err, len, "cannot write %s: %s", path, strerror(errno)), -1;
    for (size_t i = 0; i < rs->n; i++) {
        const asm_region *r = &rs->r[i];
        size_t from, to;
        if (r->broken || !r->done || pick_lines(r, &from, &to))
            continue;
        /* the element count rides along in the name, for parse_region */
        fprintf(f, BEGIN_TAG "%s@%g\n", r->name, r->elements);
        for (size_t j = from; j <= to && j < r->n; j++)
            fprintf(f, "\t%s\n", r->line[j]);
        fprintf(f, END_TAG "%s@%g\n", r->name, r->elements);
    }
    int bad = ferror(f) | fclose(f);
    return bad ? (snprintf(err, len, "cannot write %s", path), -1) : 0;
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int hit = 0;
    while (f && !hit && fgets(line, sizeof line, f))
        hit = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return hit;
}

/* llvm-mca --json -mcpu=mcpu asm > json 2> log; 0 or -1 with err. */
static int run_tool(const char *asm_path, const char *mcpu, const char *json, const char *log,
                    char *err, size_t len)
{
    char tool[512], cpu_opt[96];
    if (find_tool(tool, sizeof tool))
        return snprintf(err, len, "llvm-mca not found (apt-get install llvm)"), -1;
    snprintf(cpu_opt, sizeof cpu_opt, "-mcpu=%s", mcpu);
    char json_opt[] = "--json", *argv[] = {tool, json_opt, cpu_opt, (char *)asm_path, NULL};
    char why[1024];
    int status, rc = qkperf_child_run(tool, argv, json, log, &status, why, sizeof why);
    if (rc)
        return snprintf(err, len, "llvm-mca: %s", why), -1;
    /* llvm-mca 14 only warns about an unknown CPU and models a generic one:
     * figures for the wrong machine, so that warning is an error here. */
    if (file_has(log, "is not a recognized processor"))
        return snprintf(err, len,
                        "llvm-mca does not know CPU '%s' (it would fall back to a generic "
                        "model); use one of: %s",
                        mcpu, known_cpus),
               -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        char line[256];
        qkperf_first_line(log, line, sizeof line, NULL);
        return snprintf(err, len, "llvm-mca failed on %s: %s", asm_path,
                        *line ? line : "no message"),
               -1;
    }
    return 0;
}

/* ---- parsing llvm-mca's JSON ------------------------------------------- */

/* LLVM 14 writes the unit index of a multi-unit resource as a raw byte
 * ("Zn3FPP45.\u0000"): print it as the digit it stands for. */
static void clean_name(char *out, size_t len, json_t *name)
{
    const char *in = json_string_value(name);
    size_t o = 0, n = json_string_length(name);
    for (size_t i = 0; i < n && o + 4 < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, len - o, "%u", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

static double num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Resource totals per pass: llvm-mca lists them as the entries whose
 * InstructionIndex is one past the last instruction. */
static void parse_pressure(json_t *region, json_t *names, qkperf_mca_region *r)
{
    json_t *info =
        json_object_get(json_object_get(region, "ResourcePressureView"), "ResourcePressureInfo");
    size_t ninsn = json_array_size(json_object_get(region, "Instructions")), i;
    json_t *e;
    json_array_foreach(info, i, e)
    {
        double idx = num(e, "InstructionIndex"), use = num(e, "ResourceUsage");
        json_t *name = json_array_get(names, (size_t)num(e, "ResourceIndex"));
        if (idx != (double)ninsn || !json_is_string(name) || !(use > 0) ||
            r->nres == QKPERF_MCA_MAX_RES)
            continue;
        clean_name(r->res[r->nres].name, sizeof r->res[r->nres].name, name);
        r->res[r->nres++].pressure = use;
    }
}

static void parse_region(json_t *region, json_t *names, qkperf_mca_region *r)
{
    json_t *sum = json_object_get(region, "SummaryView");
    asm_region m = {0};
    const char *name = json_string_value(json_object_get(region, "Name"));
    parse_marker(name ? name : "", &m);
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", m.name);
    r->elements = m.elements;
    r->rthroughput = num(sum, "BlockRThroughput");
    r->uops = num(sum, "TotaluOps") / num(sum, "Iterations");
    r->ipc = num(sum, "IPC");
    parse_pressure(region, names, r);
}

static int parse_json(const char *path, qkperf_mca_region **out, size_t *n, char *err, size_t len)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &je);
    if (!doc)
        return snprintf(err, len, "llvm-mca output %s: %s (line %d)", path,
                        qkperf_one_line(je.text), je.line),
               -1;
    json_t *regions = json_object_get(doc, "CodeRegions");
    json_t *names = json_object_get(json_object_get(doc, "TargetInfo"), "Resources");
    *n = json_array_size(regions);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) {
        json_decref(doc);
        return snprintf(err, len, "out of memory"), -1;
    }
    for (size_t i = 0; i < *n; i++)
        parse_region(json_array_get(regions, i), names, &(*out)[i]);
    json_decref(doc);
    return 0;
}

/* A private folder for llvm-mca's files; removed by drop_tmp. */
typedef struct {
    char dir[64], json[96], log[96], asm_path[96];
} mca_tmp;

static int make_tmp(mca_tmp *t, char *err, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/qkperf-mca-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t->dir))
        return snprintf(err, len, "cannot make a folder %s: %s", t->dir, strerror(errno)), -1;
    snprintf(t->json, sizeof t->json, "%s/out.json", t->dir);
    snprintf(t->log, sizeof t->log, "%s/err.txt", t->dir);
    snprintf(t->asm_path, sizeof t->asm_path, "%s/regions.s", t->dir);
    return 0;
}

static void drop_tmp(const mca_tmp *t)
{
    unlink(t->json);
    unlink(t->log);
    unlink(t->asm_path);
    rmdir(t->dir);
}

int qkperf_mca_check_cpu(const char *mcpu, char *err, size_t len)
{
    mca_tmp t;
    if (make_tmp(&t, err, len))
        return -1;
    FILE *f = fopen(t.asm_path, "w");
    int rc = !f || fputs("\tnop\n", f) == EOF;
    if (f)
        rc |= fclose(f) != 0;
    rc = rc ? (snprintf(err, len, "cannot write %s", t.asm_path), -1)
            : run_tool(t.asm_path, mcpu, t.json, t.log, err, len);
    drop_tmp(&t);
    return rc;
}

int qkperf_mca_analyze(const char *asm_path, const char *mcpu, qkperf_mca_region **out, size_t *n,
                       char *err, size_t len)
{
    mca_tmp t;
    *out = NULL;
    *n = 0;
    if (make_tmp(&t, err, len))
        return -1;
    int rc = run_tool(asm_path, mcpu, t.json, t.log, err, len);
    if (rc == 0)
        rc = parse_json(t.json, out, n, err, len);
    drop_tmp(&t);
    return rc;
}

/* ---- records ------------------------------------------------------------ */

static int add_value(qkperf_results *res, const qkperf_record *tmpl, const char *metric,
                     const char *unit, double value)
{
    qkperf_record x = *tmpl;
    snprintf(x.metric, sizeof x.metric, "%s", metric);
    snprintf(x.unit, sizeof x.unit, "%s", unit);
    x.samples = &value;
    return qkperf_results_add(res, &x);
}

static int add_na(qkperf_results *res, const qkperf_record *tmpl, const char *metric,
                  const char *unit, const char *why)
{
    qkperf_record x = *tmpl;
    x.counted = 0;
    x.n = 0;
    x.samples = NULL;
    snprintf(x.metric, sizeof x.metric, "%s", metric);
    snprintf(x.unit, sizeof x.unit, "%s", unit);
    snprintf(x.why, sizeof x.why, "%s", why);
    return qkperf_results_add(res, &x);
}

/* A phase without figures: its four main metrics as n/a, with why. */
static int add_missing(qkperf_results *res, const qkperf_record *tmpl, const char *why)
{
    return add_na(res, tmpl, "uops/iter", "uops", why) ||
                   add_na(res, tmpl, "rthroughput", "cycles/iter", why) ||
                   add_na(res, tmpl, "cycles/elem", "cycles", why) ||
                   add_na(res, tmpl, "IPC", "instr/cycle", why)
               ? -1
               : 0;
}

static int add_ports(qkperf_results *res, const qkperf_record *tmpl, const qkperf_mca_region *r)
{
    char metric[64];
    size_t top = 0;
    int rc = 0;
    for (size_t i = 0; i < r->nres && !rc; i++) {
        snprintf(metric, sizeof metric, "port %s", r->res[i].name);
        rc = add_value(res, tmpl, metric, "uops/iter", r->res[i].pressure);
        if (r->res[i].pressure > r->res[top].pressure)
            top = i;
    }
    if (rc || !r->nres)
        return rc;
    snprintf(metric, sizeof metric, "bottleneck %s", r->res[top].name);
    return add_value(res, tmpl, metric, "uops/iter", r->res[top].pressure);
}

static int add_figures(qkperf_results *res, const qkperf_record *tmpl, const qkperf_mca_region *r)
{
    char why[160];
    snprintf(why, sizeof why, "the marker of %s gives no elements per iteration (@N)", r->name);
    int rc = add_value(res, tmpl, "uops/iter", "uops", r->uops) ||
             add_value(res, tmpl, "rthroughput", "cycles/iter", r->rthroughput) ||
             add_value(res, tmpl, "IPC", "instr/cycle", r->ipc) ||
             (r->elements > 0
                  ? add_value(res, tmpl, "cycles/elem", "cycles", r->rthroughput / r->elements)
                  : add_na(res, tmpl, "cycles/elem", "cycles", why)) ||
             add_ports(res, tmpl, r);
    return rc ? -1 : 0;
}

/* Why region `name` of the asm was not modelled. */
static void why_missing(const asm_regions *rs, const char *name, const char *file, char *why,
                        size_t len)
{
    const asm_region *r = NULL;
    for (size_t i = 0; i < rs->n && !r; i++)
        if (!strcmp(rs->r[i].name, name))
            r = &rs->r[i];
    size_t from, to;
    if (!r)
        snprintf(why, len, "no llvm-mca region for %s in %s", name, file);
    else if (r->broken || !r->done)
        snprintf(why, len,
                 "llvm-mca region %s is broken in %s: the compiler moved its "
                 "END marker before its BEGIN",
                 name, file);
    else if (pick_lines(r, &from, &to))
        snprintf(why, len, "llvm-mca region %s in %s has no inner loop #%u", name, file, r->loop);
    else
        snprintf(why, len, "llvm-mca gave no figures for %s", name);
}

static const qkperf_mca_region *find_figures(const qkperf_mca_region *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            return &f[i];
    return NULL;
}

static int add_phases(const qk_op *op, const char *prefix, const qkperf_record *base,
                      const asm_regions *rs, const qkperf_mca_region *f, size_t nf,
                      const char *file, qkperf_results *res)
{
    for (unsigned p = 0; p < qk_phase_count(op); p++) {
        qkperf_record tmpl = *base;
        char name[192], why[1400];
        snprintf(tmpl.phase, sizeof tmpl.phase, "%s", op->phases[p]);
        snprintf(name, sizeof name, "%s%s", prefix, op->phases[p]);
        const qkperf_mca_region *r = find_figures(f, nf, name);
        if (r ? add_figures(res, &tmpl, r)
              : (why_missing(rs, name, file, why, sizeof why), add_missing(res, &tmpl, why)))
            return -1;
    }
    return 0;
}

/* A variant without llvm-mca regions (qk_variant.mca NULL): every phase n/a. */
static int add_unmarked(const qk_op *op, const qkperf_record *base, qkperf_results *res)
{
    for (unsigned p = 0; p < qk_phase_count(op); p++) {
        qkperf_record tmpl = *base;
        snprintf(tmpl.phase, sizeof tmpl.phase, "%s", op->phases[p]);
        if (add_missing(res, &tmpl, "the variant names no llvm-mca regions"))
            return -1;
    }
    return 0;
}

/* Any region that llvm-mca can be given? (An empty file is an error.) */
static int any_usable(const asm_regions *rs)
{
    size_t from, to;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->r[i].done && !rs->r[i].broken && !pick_lines(&rs->r[i], &from, &to))
            return 1;
    return 0;
}

/* Model v's usable regions of the asm at path into *f (maybe none). */
static int model_regions(const char *path, const char *mcpu, const asm_regions *rs,
                         qkperf_mca_region **f, size_t *nf, char *err, size_t len)
{
    mca_tmp t;
    *f = NULL;
    *nf = 0;
    if (!any_usable(rs))
        return 0;
    if (make_tmp(&t, err, len))
        return -1;
    int rc = write_regions(t.asm_path, rs, err, len);
    if (rc == 0)
        rc = qkperf_mca_analyze(t.asm_path, mcpu, f, nf, err, len);
    /* the temporary file is gone: name the asm it was cut from */
    if (rc && !strncmp(err, "llvm-mca failed", 15)) {
        size_t n = strlen(err);
        snprintf(err + n, len - n, " (regions of %s)", path);
    }
    drop_tmp(&t);
    return rc;
}

int qkperf_mca_measure(const qk_op *op, const qk_variant *v, const char *size, const char *mcpu,
                       qkperf_results *res, char *err, size_t len)
{
    qkperf_record base = {.n = 1, .batch = 1, .counted = 1, .mux_ratio = 1.0};
    snprintf(base.op, sizeof base.op, "%s", op->name);
    snprintf(base.variant, sizeof base.variant, "%s", v->name);
    snprintf(base.size, sizeof base.size, "%s", size);
    snprintf(base.source, sizeof base.source, "static");
    if (needs_avx512(v) && (!strncmp(mcpu, "znver", 5) || !strcmp(mcpu, "skylake")))
        return snprintf(err, len,
                        "%s %s: llvm-mca 14's %s model has no AVX-512; "
                        "model it with --mcpu icelake-server or sapphirerapids",
                        op->name, v->name, mcpu),
               -1;
    if (!v->mca)
        return add_unmarked(op, &base, res);
    char path[1024], prefix[128], where[1100];
    snprintf(prefix, sizeof prefix, "%s/", v->mca);
    asm_regions rs = {0};
    qkperf_mca_region *f = NULL;
    size_t nf = 0;
    char shipped[1024];
    int rc = plugin_asm(v, shipped, sizeof shipped)
                 ? read_shipped(shipped, prefix, &rs, path, sizeof path, err, len)
                 : read_folder(prefix, &rs, path, sizeof path, err, len);
    if (*path)
        snprintf(where, sizeof where, "%s", strrchr(path, '/') + 1);
    else if (*shipped)
        snprintf(where, sizeof where, "%s (the plugin's asm: cc -S -DQK_MCA_MARKERS)", shipped);
    else
        snprintf(where, sizeof where, "%s/*.s", mca_dir());
    if (rc == 0 && *path)
        rc = model_regions(path, mcpu, &rs, &f, &nf, err, len);
    if (rc == 0 && add_phases(op, prefix, &base, &rs, f, nf, where, res)) {
        snprintf(err, len, "out of memory adding static records");
        rc = -1;
    }
    free(f);
    regions_free(&rs);
    return rc;
}
