/*
 * test_cli.c — qkperf as a user meets it: bad input gives one line naming
 * the bad thing and a non-zero exit; good input gives a table whose figures
 * the JSON document holds.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"
#include "cmd/commands.h"
#include "job.h"
#include "mca.h"
#include "registry.h"
#include "results.h"
#include "scratch.h"
#include "table.h"

static char dir[] = "/tmp/qkperf-cli-XXXXXX";

/* Run qkperf with args; capture stdout and stderr into files under dir. */
static int qkperf(const char *args, char *err, size_t errlen, char **out)
{
    const char *bin = getenv("QKPERF_BIN");
    cr_assert_not_null(bin, "QKPERF_BIN is not set (run through make check)");
    char epath[300], opath[300];
    snprintf(epath, sizeof epath, "%s/stderr", dir);
    snprintf(opath, sizeof opath, "%s/stdout", dir);
    size_t need = strlen(bin) + strlen(args) + 2 * sizeof epath + 16;
    char *cmd = malloc(need);
    cr_assert_not_null(cmd);
    snprintf(cmd, need, "%s %s >%s 2>%s", bin, args, opath, epath);
    int st = system(cmd);
    free(cmd);
    FILE *f = fopen(epath, "r");
    size_t n = f ? fread(err, 1, errlen - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    if (out) {
        f = fopen(opath, "r");
        *out = calloc(1, 1 << 20);
        size_t m = f ? fread(*out, 1, (1 << 20) - 1, f) : 0;
        (*out)[m] = '\0';
        if (f)
            fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void make_dir(void)
{
    qkt_scratch_make(dir);
}

static void remove_dir(void)
{
    qkt_scratch_remove(dir);
}

static void expect_error(const char *args, const char *needle)
{
    char err[4096];
    int rc = qkperf(args, err, sizeof err, NULL);
    cr_expect_neq(rc, 0, "'qkperf %s' exited 0", args);
    cr_expect(rc < 128, "'qkperf %s' crashed (status %d)", args, rc);
    cr_expect(strstr(err, needle) != NULL, "'qkperf %s': expected '%s' in: %s", args, needle, err);
    char *nl = strchr(err, '\n');
    cr_expect(nl && nl[1] == '\0', "'qkperf %s': expected exactly one line, got: %s", args, err);
    cr_expect(!strstr(err, "qkperf: qkperf:"), "'qkperf %s': prefix twice: %s", args, err);
}

TestSuite(cli, .init = make_dir, .fini = remove_dir);

Test(cli, unknown_names)
{
    expect_error("run -k conv -s 1", "unknown op 'conv' (known: dequantize, gemv");
    expect_error("run -k gemv -v avx3", "unknown variant 'avx3' for gemv (known: scalar, avx2-mvp");
    expect_error("run -k gemv -g NOPE", "NOPE");
    expect_error("frobnicate", "unknown command 'frobnicate'");
    expect_error("run -k gemv --frob", "unknown option '--frob'");
    expect_error("list --frob", "unknown option '--frob'");
    /* a flag given a value is not an unknown option */
    expect_error("decode --null=3", "no value allowed for option '--null=3'");
    expect_error("plot --force=yes x.json -o d", "no value allowed for option '--force=yes'");
    expect_error("run -k gemv --frob=1", "unknown option '--frob=1'");
    expect_error("list --groups-dir /nonexistent-qkperf", "groups folder '/nonexistent-qkperf'");
    expect_error("run -k gemv --groups-dir /nonexistent-qkperf",
                 "groups folder '/nonexistent-qkperf'");
    expect_error("run -k gemv --groups-dir /etc/hostname", "not a folder");
    expect_error("compare --band x a b", "bad noise band 'x'");
    expect_error("help frobnicate", "unknown command 'frobnicate'");
}

Test(cli, bad_sizes)
{
    expect_error("run -k dequantize -s 0", "bad size '0' for dequantize");
    expect_error("run -k dequantize -s abc", "bad size 'abc' for dequantize: expected N");
    expect_error("run -k dequantize -s 1e30", "bad size '1e30'");
    expect_error("run -k dequantize -s -5", "bad size '-5'");
    expect_error("run -k gemv -s 2560x", "bad size '2560x' for gemv: expected ROWSxCOLS");
    expect_error("run -k gemv -s 99999999x99999999", "too large");
    expect_error("run -k dequantize -s 256,,512", "empty item");
    expect_error("run -k dequantize -n 0", "bad sample count '0'");
}

Test(cli, unwritable_output)
{
    expect_error("run -k dequantize -v scalar -s 256 -o /nonexistent/dir/out.json",
                 "cannot write /nonexistent/dir/out.json");
}

/* An output no file can be made at is refused before measuring: run let
 * root past /proc (access(2) says yes), roofline checked nothing; both
 * measured, printed their tables, then failed to write. */
Test(cli, output_where_no_file_can_be_made_is_refused_first)
{
    struct stat st;
    if (stat("/proc/self", &st) != 0)
        cr_skip_test("no /proc here");
    const char *cmds[] = {
        "run -k dequantize -v scalar -s 256 -g none -n 3 -q -o /proc/qkperf-cli.json",
        "roofline --quick -o /proc/qkperf-cli.json", /* and a folder that does not exist: */
        "roofline --quick -o /nonexistent-qkperf/qkperf-cli.json"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char err[4096], *out = NULL;
        int rc = qkperf(cmds[i], err, sizeof err, &out);
        cr_expect_eq(rc, 2, "'qkperf %s' exited %d: %s", cmds[i], rc, err);
        cr_expect(strstr(err, "cannot write /") && strstr(err, "/qkperf-cli.json"), "got: %s", err);
        cr_expect_str_empty(out, "'qkperf %s' measured before refusing the output: %s", cmds[i],
                            out);
        free(out);
    }
}

/* Found by probing bad command lines: each of these exited 0 (having
 * written nothing, or having measured anyway). */
Test(cli, bad_outputs_and_options_are_refused_before_measuring)
{
    static char longname[300], longpath[100010];
    memset(longname, 'a', 299);
    memset(longpath, 'a', 100000);
    const char *cmds[] = {"ladder", "sweep", "run"};
    for (int i = 0; i < 3; i++) {
        char args[100200];
        const char *base = "-k dequantize -v scalar,avx2-mvp -s 256 -g none -n 3 -q";
        snprintf(args, sizeof args, "%s %s -o ''", cmds[i], base);
        expect_error(args, "empty output path");
        snprintf(args, sizeof args, "%s %s -o %s", cmds[i], base, longpath);
        expect_error(args, "File name too long");
        snprintf(args, sizeof args, "%s %s -o /tmp/%s.json", cmds[i], base, longname);
        expect_error(args, "File name too long");
        snprintf(args, sizeof args, "%s %s -o %s/", cmds[i], base, dir);
        expect_error(args, "names a folder");
    }
    expect_error("run -k dequantize -v scalar -s 256 --source static --mcpu bogus",
                 "llvm-mca does not know CPU 'bogus'");
    expect_error("run -k dequantize -v scalar -s 256 --mcpu znver3", "needs --source static");
    expect_error("review -n 0", "bad sample count '0'");
    expect_error("review -n abc", "bad sample count 'abc'");
    expect_error("", "no command");
}

/* ladder and sweep with -o FILE and the table format write their tables
 * there (they wrote nothing and exited 0). */
Test(cli, tables_go_to_the_output_file, .timeout = 120)
{
    const char *cmds[] = {"ladder", "sweep", "run"};
    const char *heads[] = {"ladder dequantize 256", "sweep dequantize", "dequantize scalar"};
    for (int i = 0; i < 3; i++) {
        char args[1024], path[400], err[4096], *out = NULL;
        snprintf(path, sizeof path, "%s/%s.txt", dir, cmds[i]);
        snprintf(args, sizeof args,
                 "%s -k dequantize -v scalar,avx2-mvp -s 256 -g none -n 3 -q -o %s", cmds[i], path);
        cr_assert_eq(qkperf(args, err, sizeof err, &out), 0, "qkperf %s: %s", args, err);
        cr_expect_str_empty(out, "%s printed its tables on stdout too", cmds[i]);
        free(out);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s wrote no %s", cmds[i], path);
        char text[8192] = "";
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
        cr_expect(strstr(text, heads[i]) != NULL, "%s: '%s' not in %s", cmds[i], heads[i], text);
    }
}

/* Seven -g options fill what used to be a fixed 8-slot store, so the size
 * list's copy was freed while the sizes still pointed into it. */
Test(cli, many_list_options_keep_their_items)
{
    char *argv[] = {"run",    "-k", "dequantize", "-g", "CYCLES",  "-g", "CYCLES", "-g",
                    "CYCLES", "-g", "CYCLES",     "-g", "CYCLES",  "-g", "CYCLES", "-g",
                    "CYCLES", "-v", "scalar",     "-s", "256,512", NULL};
    qkperf_job j;
    cr_assert_eq(qkperf_job_parse(&j, 21, argv, "run"), 0);
    cr_assert_eq(j.ns, 2);
    cr_expect_str_eq(j.sizes[0], "256");
    cr_expect_str_eq(j.sizes[1], "512");
    cr_expect_eq(j.dims[1][0], 512);
    qkperf_job_free(&j);
}

/* A job built field by field (as review builds one) passes the same
 * checks and ends up as the job the equivalent command line gives. */
Test(cli, a_built_job_is_the_parsed_one)
{
    char *argv[] = {"review", "-k", "gemv", "-v", "scalar,avx2-mvp", "-s", "64x256,32x512",
                    "-n",     "4",  "-q",   NULL};
    qkperf_job p, b;
    char err[1024] = "";
    cr_assert_eq(qkperf_job_parse(&p, 10, argv, "review"), 0);
    qkperf_job_init(&b, "review");
    b.op = qk_find_op("gemv");
    b.variants_text = "scalar,avx2-mvp";
    b.sizes_text = "64x256,32x512";
    b.ro.samples = 4;
    b.quiet = 1;
    cr_assert_eq(qkperf_job_ready(&b, err, sizeof err), 0, "%s", err);
    cr_expect_eq(b.nv, p.nv);
    for (size_t i = 0; i < b.nv && i < p.nv; i++)
        cr_expect_eq(b.variants[i], p.variants[i]);
    cr_assert_eq(b.ns, 2);
    cr_assert_eq(p.ns, 2);
    for (size_t s = 0; s < 2; s++) {
        cr_expect_str_eq(b.sizes[s], p.sizes[s]);
        cr_expect(b.dims[s][0] == p.dims[s][0] && b.dims[s][1] == p.dims[s][1]);
    }
    cr_expect_eq(b.dims[1][0], 32);
    cr_expect_eq(b.dims[1][1], 512);
    cr_expect_eq(b.rounds, p.rounds);
    cr_expect_eq(b.rounds, 3);
    cr_expect_eq(b.ro.samples, 4);
    cr_expect_eq(b.ro.progress, 0);
    cr_expect_str_eq(b.format, p.format);
    cr_expect_str_eq(b.groups[0], "CYCLES");
    qkperf_job_free(&b);
    qkperf_job_free(&p);
}

/* The built job is refused for what the command line would be refused for. */
Test(cli, a_built_job_gets_the_checks_of_a_parsed_one)
{
    qkperf_job j;
    char err[1024] = "";
    qkperf_job_init(&j, "review");
    cr_expect_eq(qkperf_job_ready(&j, err, sizeof err), -1);
    cr_expect(strstr(err, "no op given"), "%s", err);
    qkperf_job_free(&j);
    qkperf_job_init(&j, "review");
    j.op = qk_find_op("dequantize");
    j.sizes_text = "256,12x";
    cr_expect_eq(qkperf_job_ready(&j, err, sizeof err), -1);
    cr_expect(strstr(err, "12x"), "%s", err);
    qkperf_job_free(&j);
    qkperf_job_init(&j, "review");
    j.op = qk_find_op("dequantize");
    j.mcpu = "znver3"; /* without the static source */
    cr_expect_eq(qkperf_job_ready(&j, err, sizeof err), -1);
    cr_expect(strstr(err, "--mcpu znver3 needs --source static"), "%s", err);
    qkperf_job_free(&j);
}

/* The sim and static passes at one of the job's sizes measure that size
 * only; a size the job does not have measures nothing. */
Test(cli, models_pass_at_one_size, .timeout = 60)
{
    qkperf_job j;
    char err[1024] = "", why[512];
    qkperf_job_init(&j, "review");
    j.op = qk_find_op("dequantize");
    j.variants_text = "scalar,avx2-mvp";
    j.sizes_text = "256,1024";
    j.use_static = qkperf_mca_available(why, sizeof why);
    j.mcpu = j.use_static ? "znver3" : NULL;
    cr_assert_eq(qkperf_job_ready(&j, err, sizeof err), 0, "%s", err);
    qkperf_results res;
    qkperf_results_init(&res);
    cr_expect_eq(qkperf_job_measure_models(&j, &res, "512"), -1);
    cr_expect_eq(res.n, 0);
    cr_expect_eq(json_array_size(res.notes), 0);
    if (!j.use_static) {
        qkperf_results_free(&res);
        qkperf_job_free(&j);
        cr_skip_test("static source unavailable: %s", why);
    }
    cr_assert_eq(qkperf_job_measure_models(&j, &res, "1024"), 0);
    size_t counted = 0;
    for (size_t i = 0; i < res.n; i++) {
        cr_expect_str_eq(res.rec[i].size, "1024");
        cr_expect_str_eq(res.rec[i].source, "static");
        counted += res.rec[i].counted;
    }
    cr_expect_gt(counted, 0, "no static record counted at 1024");
    cr_expect(qkperf_results_find(&res, "dequantize", "avx2-mvp", "1024", "unpack",
                                  "rthroughput") != NULL);
    qkperf_results_free(&res);
    qkperf_job_free(&j);
}

Test(cli, group_syntax_error_names_line)
{
    char gdir[400], path[500];
    snprintf(gdir, sizeof gdir, "%s/groups/perf", dir);
    char mk[600];
    snprintf(mk, sizeof mk, "mkdir -p %s", gdir);
    cr_assert_eq(system(mk), 0);
    snprintf(path, sizeof path, "%s/BROKEN", gdir);
    FILE *f = fopen(path, "w");
    fputs("SHORT broken on purpose\nEVENTSET\ncycles perf::PERF_COUNT_HW_CPU_CYCLES\nMETRICS\nIPC "
          "cycles / (\n",
          f);
    fclose(f);
    char args[800];
    snprintf(args, sizeof args,
             "run -k dequantize -v scalar -s 256 -g BROKEN --groups-dir %s/groups", dir);
    expect_error(args, "BROKEN:5");
}

Test(cli, unknown_event_in_group)
{
    char gdir[400], path[500], mk[600], args[800];
    snprintf(gdir, sizeof gdir, "%s/groups/perf", dir);
    snprintf(mk, sizeof mk, "mkdir -p %s", gdir);
    cr_assert_eq(system(mk), 0);
    snprintf(path, sizeof path, "%s/BADEV", gdir);
    FILE *f = fopen(path, "w");
    fputs("SHORT unknown event\nEVENTSET\nfoo perf::NO_SUCH_EVENT_AT_ALL\n", f);
    fclose(f);
    snprintf(args, sizeof args,
             "run -k dequantize -v scalar -s 256 -g BADEV --groups-dir %s/groups", dir);
    expect_error(args, "NO_SUCH_EVENT_AT_ALL");
}

Test(cli, json_holds_what_the_table_showed, .timeout = 120)
{
    char args[600], err[4096], *out = NULL;
    snprintf(args, sizeof args, "run -k dequantize -v scalar,avx2-p1 -s 512 -n 5 -o %s/r.json",
             dir);
    int rc = qkperf(args, err, sizeof err, &out);
    cr_assert_eq(rc, 0, "run failed: %s", err);
    char path[400], msg[512];
    snprintf(path, sizeof path, "%s/r.json", dir);
    qkperf_results r;
    cr_assert_eq(qkperf_results_read_json(&r, path, msg, sizeof msg), 0, "%s", msg);
    const char *variants[] = {"scalar", "avx2-p1"};
    for (int i = 0; i < 2; i++) {
        const qkperf_record *t =
            qkperf_results_find(&r, "dequantize", variants[i], "512", "total", "time");
        cr_assert_not_null(t, "no total time for %s", variants[i]);
        char shown[64];
        qkperf_fmt_value(shown, sizeof shown, t->median, t->unit);
        cr_expect(strstr(out, shown) != NULL, "table lacks %s's median %s:\n%s", variants[i], shown,
                  out);
        cr_expect_eq(t->n, 5);
    }
    cr_expect_not_null(strstr(out, "overlap"), "the table shows overlap");
    cr_expect_not_null(json_object_get(r.machine, "tsc_mhz"));
    cr_expect_not_null(json_object_get(r.build, "compiler"));
    qkperf_results_free(&r);
    free(out);
}

/* --format json or csv with no -o (or -o -): the document alone on stdout,
 * parseable, for run, ladder and sweep alike; their tables go to stderr. */
Test(cli, documents_on_stdout_stay_parseable, .timeout = 120)
{
    static const char *const cmds[] = {"run", "ladder", "sweep"};
    for (size_t c = 0; c < 3; c++)
        for (int dash = 0; dash < 2; dash++) {
            char args[300], err[8192], *out = NULL;
            snprintf(args, sizeof args,
                     "%s -k dequantize -v scalar,avx2-p1-p4 -s 256 -n 3 -g none --no-staged "
                     "--format json%s",
                     cmds[c], dash ? " -o -" : "");
            int rc = qkperf(args, err, sizeof err, &out);
            cr_assert_eq(rc, 0, "'qkperf %s' failed: %s", args, err);
            json_error_t je;
            json_t *doc = json_loads(out, 0, &je);
            cr_expect_not_null(doc, "'qkperf %s': stdout is not JSON (%s): %.300s", args, je.text,
                               out);
            cr_expect(json_array_size(json_object_get(doc, "records")) > 0, "no records");
            json_decref(doc);
            free(out);
        }
    char err[8192], *out = NULL;
    int rc =
        qkperf("sweep -k dequantize -v avx2-p1-p4 -s 256 -n 3 -g none --no-staged --format csv",
               err, sizeof err, &out);
    cr_assert_eq(rc, 0, "%s", err);
    cr_expect_eq(strncmp(out, "op,variant,size,phase,view,metric", 33), 0, "csv on stdout: %.200s",
                 out);
    cr_expect_not_null(strstr(err, "sweep dequantize:"), "the table goes to stderr: %s", err);
    free(out);
}

/* "all" never drops variants silently: more than a run takes is an error. */
Test(cli, all_variants_or_an_error)
{
    const qk_op *op = qk_find_op("gemv");
    cr_assert_not_null(op);
    const qk_variant *v[QKPERF_MAX_LIST];
    size_t n;
    char err[256];
    cr_assert_eq(qkperf_parse_variants(op, "all", v, QKPERF_MAX_LIST, &n, err, sizeof err), 0);
    cr_expect_eq(n, qk_variant_count("gemv"));
    cr_expect_eq(qkperf_parse_variants(op, "all", v, 2, &n, err, sizeof err), -1);
    cr_expect(strstr(err, "more than the 2 one run takes"), "%s", err);
}

Test(cli, probe_and_list_work)
{
    char err[4096], *out = NULL;
    cr_expect_eq(qkperf("probe", err, sizeof err, &out), 0, "%s", err);
    cr_expect_not_null(strstr(out, "sw"), "%s", out);
    cr_expect_not_null(strstr(out, "tsc"), "%s", out);
    free(out);
    cr_expect_eq(qkperf("list", err, sizeof err, &out), 0, "%s", err);
    cr_expect_not_null(strstr(out, "avx2-p1-p4-p2-p3"));
    cr_expect_not_null(strstr(out, "TOPDOWN"));
    free(out);
}

Test(cli, ladder_and_sweep_attribute_and_compare, .timeout = 120)
{
    char err[4096], *out = NULL;
    int rc = qkperf("ladder -k dequantize -s 256 -n 4 -g none", err, sizeof err, &out);
    cr_assert_eq(rc, 0, "ladder failed: %s", err);
    cr_expect_not_null(strstr(out, "step scalar -> avx2-mvp"), "%s", out);
    cr_expect_not_null(strstr(out, "95% CI"));
    /* in context first (the default view), the staged view second */
    cr_expect_not_null(strstr(out, "in context: the fused kernel by phase"), "%s", out);
    cr_expect_not_null(strstr(out, "summary: fused "), "%s", out);
    cr_expect_not_null(strstr(out, "staged: each phase alone"), "%s", out);
    cr_expect_not_null(strstr(out, "summary (staged): avx2-p1 -> avx2-p1-p4: "), "%s", out);
    free(out);
    rc = qkperf("sweep -k dequantize -v avx2-p1-p4 -s 256,512 -n 3 -g none --no-staged", err,
                sizeof err, &out);
    cr_assert_eq(rc, 0, "sweep failed: %s", err);
    cr_expect_not_null(strstr(out, "scalar"), "sweep adds scalar for the speedup: %s", out);
    cr_expect_not_null(strstr(out, "1.00x"), "%s", out);
    cr_expect_not_null(strstr(out, "order: "), "sweep checks the order of the variants: %s", out);
    free(out);
    /* A list in the wrong order: scalar after a vector variant is ~10x
     * slower, far beyond any noise, at both sizes. */
    rc = qkperf("sweep -k dequantize -v avx2-p1-p4,scalar -s 256,512 -n 9 -g none --no-staged", err,
                sizeof err, &out);
    cr_assert_eq(rc, 0, "sweep failed: %s", err);
    cr_expect_not_null(strstr(out, "order: 2 of 2 steps slower than the variant before them"), "%s",
                       out);
    cr_expect_not_null(strstr(out, "avx2-p1-p4 -> scalar: +"), "%s", out);
    free(out);
    /* run's in-context table: without sim records no empty Ir column,
     * but where to get it */
    rc = qkperf("run -k dequantize -v avx2-p1 -s 256 -n 4 -g none", err, sizeof err, &out);
    cr_assert_eq(rc, 0, "run failed: %s", err);
    cr_expect_not_null(strstr(out, "exact Ir per phase: --source sim)"), "%s", out);
    cr_expect_null(strstr(out, "Ir: sim"), "%s", out);
    cr_expect_null(strstr(out, " n/a\n"), "no column of n/a: %s", out);
    /* and each phase's cycles, in all and per 256 elements, with their source */
    cr_expect_not_null(strstr(out, "cycles: the time at the fused kernel's cycles per ns ("), "%s",
                       out);
    cr_expect_not_null(strstr(out, "cycles    /256 el"), "%s", out);
    free(out);
    expect_error("ladder -k gemv -v scalar", "ladder needs at least two variants");
    expect_error("ladder -k gemv --band time=abc", "time=abc");
    expect_error("run -k gemv --source magic", "unknown source 'magic'");
}

/* Every command answers --help (and `qkperf help CMD`) with its usage on
 * standard output and exit 0, and every long option its help names is one
 * the command accepts: given (with the value 1 where the help shows a
 * value) before a bogus option, the command is refused for the bogus
 * option or for the value, never because the option is unknown. */
Test(cli, every_command_has_help_that_matches_its_options, .timeout = 60)
{
    static const char *const cmds[] = {"probe",  "list",    "run",     "ladder",
                                       "sweep",  "compare", "plot",    "roofline",
                                       "decode", "review",  "measure", "record"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char err[4096], args[512], want[64], *out = NULL;
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        cr_assert_eq(qkperf(args, err, sizeof err, &out), 0, "%s: %s", args, err);
        snprintf(want, sizeof want, "usage: qkperf %s", cmds[i]);
        cr_assert(strncmp(out, want, strlen(want)) == 0, "%s printed: %s", args, out);
        char *again = NULL;
        snprintf(args, sizeof args, "help %s", cmds[i]);
        cr_assert_eq(qkperf(args, err, sizeof err, &again), 0, "%s: %s", args, err);
        cr_expect_str_eq(again, out, "qkperf help %s differs from --help", cmds[i]);
        free(again);
        size_t checked = 0;
        for (const char *p = strstr(out, "--"); p; p = strstr(p + 2, "--")) {
            char opt[64];
            size_t n = 0;
            while (n + 1 < sizeof opt && (p[2 + n] == '-' || (p[2 + n] >= 'a' && p[2 + n] <= 'z')))
                opt[n] = p[2 + n], n++;
            opt[n] = '\0';
            if (!n || !strcmp(opt, "help"))
                continue;
            int value = p[2 + n] == ' ' && p[3 + n] >= 'A' && p[3 + n] <= 'Z';
            snprintf(args, sizeof args, "%s --%s%s --zz-bogus", cmds[i], opt, value ? "=1" : "");
            int rc = qkperf(args, err, sizeof err, NULL);
            cr_expect_eq(rc, 2, "'qkperf %s' exited %d: %s", args, rc, err);
            /* refused for the bogus option, or for the value 1 (a bad format,
             * band...), never as an unknown option itself */
            cr_expect(!strstr(err, "unknown option") || strstr(err, "zz-bogus"), "'qkperf %s': %s",
                      args, err);
            checked++;
        }
        if (strcmp(cmds[i], "probe") && strcmp(cmds[i], "plot") && strcmp(cmds[i], "roofline"))
            cr_expect_gt(checked, 0, "%s --help names no options", cmds[i]);
        free(out);
    }
    char err[4096];
    cr_expect_eq(qkperf("help nosuch", err, sizeof err, NULL), 2);
    cr_expect(strstr(err, "nosuch") != NULL, "%s", err);
}

/* `qkperf --help` lists the table's commands, each with its summary, in
 * table order, and each has a usage of its own; the internal one (no
 * summary) is neither listed nor has help. */
Test(cli, the_help_lists_the_command_table, .timeout = 60)
{
    char err[4096], line[256], *out = NULL;
    cr_assert_eq(qkperf("--help", err, sizeof err, &out), 0, "%s", err);
    const char *at = out;
    size_t listed = 0, internal = 0;
    for (const qkperf_command *c = qkperf_commands; c->name; c++) {
        cr_expect_not_null(qkperf_command_find(c->name));
        if (!c->summary) {
            cr_expect_null(c->usage, "%s has a usage but no summary", c->name);
            snprintf(line, sizeof line, "  %s ", c->name);
            cr_expect_null(strstr(out, line), "internal %s listed: %s", c->name, out);
            snprintf(line, sizeof line, "help %s", c->name);
            cr_expect_eq(qkperf(line, err, sizeof err, NULL), 2, "%s has help", c->name);
            internal++;
            continue;
        }
        snprintf(line, sizeof line, "  %-10s %s\n", c->name, c->summary);
        const char *hit = strstr(at, line);
        cr_expect_not_null(hit, "--help lacks (or misorders) '%s': %s", line, out);
        at = hit ? hit : at;
        snprintf(line, sizeof line, "usage: qkperf %s", c->name);
        cr_expect(c->usage && !strncmp(c->usage, line, strlen(line)), "%s: usage %s", c->name,
                  c->usage ? c->usage : "(none)");
        listed++;
    }
    cr_expect_eq(listed, 14);
    cr_expect_eq(internal, 1);
    cr_expect_null(qkperf_command_find("nosuch"));
    free(out);
}
