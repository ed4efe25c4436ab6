/*
 * test_groups.c — the event group files and their parser (harness/groups.c).
 *
 * Two halves: the shipped files of the source tree (every event encodes
 * with libpfm, every metric names only its group's events), and the parser
 * against known answers and broken files written to a mkdtemp directory.
 * LIBPFM_ENCODE_INACTIVE=1 is set in the suite's init, before anything
 * initializes libpfm (Criterion runs each test in its own process), so that
 * every vendor's table encodes on any host, also one without a PMU.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "groups.h"
#include "pfm.h"
#include "scratch.h"

/* The source tree's groups: Makefile.am passes QKPERF_SRC_GROUPS_DIR (the
 * built-in QKPERF_GROUPS_DIR is the install directory, empty before
 * `make install`); by hand, -DQKPERF_GROUPS_DIR or the current directory. */
#if defined(QKPERF_SRC_GROUPS_DIR)
#define TREE QKPERF_SRC_GROUPS_DIR
#elif defined(QKPERF_GROUPS_DIR)
#define TREE QKPERF_GROUPS_DIR
#else
#define TREE "harness/groups"
#endif

static const char *const shipped[] = {"icl", "skl", "zen3", "zen4", "perf"};
static const char *const required[] = {"CYCLES", "L1D", "PORTS", "TOPDOWN"};
static const char *const tree[] = {TREE, NULL};

static char tmpdir[64]; /* per test (one process each), "" if unused */

static void setup(void)
{
    setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
    unsetenv("QKPERF_GROUPS"); /* the shipped tree only, whatever the caller has */
}

static void teardown(void)
{
    if (tmpdir[0] != '\0')
        qkt_scratch_remove(tmpdir);
}

TestSuite(groups, .init = setup, .fini = teardown);

/* ---- helpers ------------------------------------------------------------ */

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/qkperf-groups-XXXXXX");
    qkt_scratch_make(tmpdir);
}

/* Write text to <base>/<pmu>/<name>, creating the folder. */
static void write_group(const char *base, const char *pmu, const char *name, const char *text)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", base, pmu);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", base, pmu, name);
    fp = fopen(path, "w");
    cr_assert_not_null(fp, "cannot write %s", path);
    fputs(text, fp);
    fclose(fp);
}

static qkperf_group *load_tmp(const char *pmu, const char *name, char *msg, size_t len)
{
    const char *dirs[] = {tmpdir, NULL};

    return qkperf_group_load(dirs, pmu, name, 0, msg, len);
}

static qkperf_group *must_load(const char *pmu, const char *name)
{
    char msg[1024] = "";
    qkperf_group *g = load_tmp(pmu, name, msg, sizeof(msg));

    cr_assert_not_null(g, "%s", msg);
    return g;
}

/* Is this folder's libpfm table usable in this build? */
static int folder_encodable(const char *pmu)
{
#ifdef HAVE_LIBPFM
    (void)pmu;
    return 1;
#else
    return strcmp(pmu, "perf") == 0;
#endif
}

/* ---- the shipped group files ---------------------------------------------- */

/* The folders of the tree, as qkperf discovers them (a new folder is
 * checked like the shipped ones); the shipped ones must be among them. */
static char **tree_folders(void)
{
    char **folders = qkperf_group_folders(tree);
    cr_assert_not_null(folders);
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
        int found = 0;
        for (char **f = folders; *f; f++)
            found |= strcmp(*f, shipped[i]) == 0;
        cr_expect(found, "folder %s not discovered in %s", shipped[i], TREE);
    }
    return folders;
}

Test(groups, every_folder_has_the_required_groups)
{
    char **folders = tree_folders();
    for (size_t f = 0; folders[f]; f++) {
        char **names = qkperf_group_list(tree, folders[f]);
        cr_assert_not_null(names);
        for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++) {
            int found = 0;
            for (char **p = names; *p; p++)
                found |= strcmp(*p, required[r]) == 0;
            cr_expect(found, "%s/%s/%s is missing", TREE, folders[f], required[r]);
        }
        qkperf_group_list_free(names);
    }
    qkperf_group_list_free(folders);
}

/* Load, encode every event, re-check every metric text. */
static void check_group(const char *pmu, const char *name)
{
    char msg[1024] = "";
    qkperf_group *g = qkperf_group_load(tree, pmu, name, 0, msg, sizeof(msg));

    cr_assert_not_null(g, "%s", msg);
    cr_expect_neq(strlen(g->short_desc), 0, "%s: empty SHORT", g->path);
    cr_expect_neq(strlen(g->long_desc), 0, "%s: no LONG text", g->path);
    for (size_t i = 0; i < g->nevents; i++) {
        struct perf_event_attr attr;
        int ret = qkperf_pfm_encode(g->events[i].name, &attr, msg, sizeof(msg));
        cr_expect_eq(ret, QKPERF_PFM_OK, "%s: event %s: %s", g->path, g->events[i].alias, msg);
    }
    for (size_t i = 0; i < g->nmetrics; i++)
        cr_expect_eq(qkperf_formula_check(g, g->metrics[i].text, msg, sizeof(msg)), 0,
                     "%s: metric '%s': %s", g->path, g->metrics[i].name, msg);
    qkperf_group_free(g);
}

Test(groups, every_event_encodes_and_every_metric_checks)
{
    size_t checked = 0, least = 0;

    char **folders = tree_folders();
    for (size_t f = 0; folders[f]; f++) {
        char **names;
        if (!folder_encodable(folders[f]))
            continue;
        least += sizeof(required) / sizeof(required[0]);
        names = qkperf_group_list(tree, folders[f]);
        cr_assert_not_null(names);
        for (char **p = names; *p; p++, checked++)
            check_group(folders[f], *p);
        qkperf_group_list_free(names);
    }
    cr_expect_geq(checked, least, "only %zu group files under %s", checked, TREE);
    qkperf_group_list_free(folders);
}

/* Each folder serves the PMU its events name: the prefix of every event of
 * every group (other than perf::) is the PMU qkperf chooses that folder for. */
Test(groups, every_folder_is_chosen_for_the_pmu_its_events_name)
{
    char **folders = tree_folders();
    for (size_t f = 0; folders[f]; f++) {
        char **names = qkperf_group_list(tree, folders[f]);
        for (char **p = names; p && *p; p++) {
            char msg[1024] = "", pmu[64], chosen[64];
            qkperf_group *g = qkperf_group_load(tree, folders[f], *p, 0, msg, sizeof(msg));
            cr_assert_not_null(g, "%s", msg);
            for (size_t i = 0; i < g->nevents; i++) {
                const char *sep = strstr(g->events[i].name, "::");
                cr_assert_not_null(sep, "%s: event %s has no PMU prefix", g->path,
                                   g->events[i].name);
                snprintf(pmu, sizeof(pmu), "%.*s", (int)(sep - g->events[i].name),
                         g->events[i].name);
                if (strcmp(pmu, "perf") == 0)
                    continue;
                qkperf_group_folder_for(tree, pmu, chosen, sizeof(chosen));
                cr_expect_str_eq(chosen, folders[f], "%s: events of %s, but %s is chosen for it",
                                 g->path, pmu, chosen);
            }
            qkperf_group_free(g);
        }
        qkperf_group_list_free(names);
    }
    qkperf_group_list_free(folders);
}

/* Adding a PMU is dropping a folder: one in a user directory is listed
 * and chosen for the PMU its .pmu names; an unknown PMU gets perf. */
Test(groups, a_dropped_folder_is_discovered)
{
    make_tmpdir();
    write_group(tmpdir, "mypmu", "CYCLES",
                "SHORT mine\nEVENTSET\nc perf::PERF_COUNT_HW_CPU_CYCLES\n");
    write_group(tmpdir, "mypmu", ".pmu", "# mine\nother_pmu   fake_pmu_x # and a comment\n");
    const char *dirs[] = {tmpdir, TREE, NULL};
    char **folders = qkperf_group_folders(dirs);
    int found = 0;
    for (char **f = folders; f && *f; f++)
        found |= strcmp(*f, "mypmu") == 0;
    cr_expect(found, "mypmu not discovered");
    qkperf_group_list_free(folders);
    char chosen[64];
    qkperf_group_folder_for(dirs, "fake_pmu_x", chosen, sizeof(chosen));
    cr_expect_str_eq(chosen, "mypmu");
    qkperf_group_folder_for(dirs, "amd64_fam19h_zen4", chosen, sizeof(chosen));
    cr_expect_str_eq(chosen, "zen4");
    qkperf_group_folder_for(dirs, "fake_pmu", chosen, sizeof(chosen));
    cr_expect_str_eq(chosen, "perf", "a prefix of a listed name is not a match");
    qkperf_group_folder_for(dirs, NULL, chosen, sizeof(chosen));
    cr_expect_str_eq(chosen, "perf");
    char **names = qkperf_group_list(dirs, "mypmu");
    cr_expect(names && names[0] && !strcmp(names[0], "CYCLES") && !names[1], ".pmu is not a group");
    qkperf_group_list_free(names);
}

/* ---- formulas ------------------------------------------------------------ */

static qkperf_group_event ab_events[] = {{"a", "x::A"}, {"b", "x::B"}};
static qkperf_group ab = {.name = "AB", .events = ab_events, .nevents = 2};

static double eval(const char *text, double a, double b, double time)
{
    char msg[512] = "";
    qkperf_formula *f = qkperf_formula_parse(&ab, text, msg, sizeof(msg));
    double values[2] = {a, b}, r;

    cr_assert_not_null(f, "'%s': %s", text, msg);
    r = qkperf_formula_eval(f, values, time);
    qkperf_formula_free(f);
    return r;
}

Test(groups, formula_known_answers)
{
    cr_expect_float_eq(eval("a + b * 2", 1, 3, 0), 7.0, 1e-12);
    cr_expect_float_eq(eval("(a + b) * 2", 1, 3, 0), 8.0, 1e-12);
    cr_expect_float_eq(eval("a - b - 1", 10, 3, 0), 6.0, 1e-12); /* left assoc */
    cr_expect_float_eq(eval("a / b / 2", 12, 3, 0), 2.0, 1e-12);
    cr_expect_float_eq(eval("-a + b", 1, 3, 0), 2.0, 1e-12);
    cr_expect_float_eq(eval("-(a + b)", 1, 3, 0), -4.0, 1e-12);
    cr_expect_float_eq(eval("a * -b", 2, 3, 0), -6.0, 1e-12);
    cr_expect_float_eq(eval("--a", 2, 0, 0), 2.0, 1e-12);
    cr_expect_float_eq(eval("a / time * 1e-9", 4e9, 0, 2), 2.0, 1e-12);
    cr_expect_float_eq(eval("0.5 * a + .25", 2, 0, 0), 1.25, 1e-12);
    cr_expect_float_eq(eval("1.5e3", 0, 0, 0), 1500.0, 1e-12);
    cr_expect_float_eq(eval("((((a))))", 5, 0, 0), 5.0, 1e-12);
}

Test(groups, formula_nan_cases)
{
    cr_expect(isnan(eval("a / b", 1, 0, 0)), "x / 0 must be NaN (n/a), not inf");
    cr_expect(isnan(eval("a / b", 0, 0, 0)));
    cr_expect(isnan(eval("a / (b - b)", 1, 5, 0)));
    cr_expect(isnan(eval("a + b", 1, NAN, 0)), "an n/a operand gives n/a");
    cr_expect(isnan(eval("a / time", 1, 0, 0)));
}

static void expect_parse_error(const char *text, const char *needle)
{
    char msg[512] = "";

    cr_expect_eq(qkperf_formula_check(&ab, text, msg, sizeof(msg)), -1, "'%s' should not parse",
                 text);
    cr_expect_not_null(strstr(msg, needle), "'%s': message '%s' lacks '%s'", text, msg, needle);
}

Test(groups, formula_errors)
{
    expect_parse_error("a +", "end of formula");
    expect_parse_error("a b", "column 3");
    expect_parse_error("(a + b", "')'");
    expect_parse_error("a * / b", "column 5");
    expect_parse_error("", "expected");
    expect_parse_error("0x10", "column 2");
    expect_parse_error("1e", "a number");
    expect_parse_error("a + c", "unknown identifier 'c' (known: a, b, time)");
    expect_parse_error("a % b", "'% b'");
    char deep[300];
    memset(deep, '(', 200);
    strcpy(deep + 200, "a");
    expect_parse_error(deep, "nested deeper");
}

/* A hostile formula must give one line, not exhaust the stack: a long
 * chain of unary minus recursed once per '-' (it crashed with 100000), and
 * a long operator chain built a tree as deep as it is long. */
Test(groups, deep_formulas_refused_in_one_line)
{
    size_t n = 100000;
    char *text = malloc(n + 2);
    cr_assert_not_null(text);
    memset(text, '-', n);
    strcpy(text + n, "a");
    expect_parse_error(text, "nested deeper than 64 levels");
    for (size_t i = 0; i + 1 < n; i += 2)
        memcpy(text + i, "a+", 2);
    text[n - 2] = 'a';
    text[n - 1] = 0;
    expect_parse_error(text, "nested deeper than 64 levels");
    free(text);

    char msg[512] = "";
    cr_expect_eq(
        qkperf_formula_check(&ab, "------a + b*b*b*b*b*b*b*b*b*b*b*b*b*b*b*b", msg, sizeof(msg)), 0,
        "a formula within the limit parses: %s", msg);
}

/* ---- group files --------------------------------------------------------- */

static const char good[] = "# a comment\n"
                           "SHORT  Test group\n"
                           "\n"
                           "EVENTSET\n"
                           "loads   x::LOADS   # trailing comment\n"
                           "misses\tx::MISSES:U\n"
                           "METRICS\n"
                           "miss ratio    misses / loads\n"
                           "misses/s\tmisses / time\n"
                           "LONG\n"
                           "\n"
                           "Free text # not a comment\n"
                           "EVENTSET is text here.\n";

Test(groups, parses_a_group_file)
{
    qkperf_group *g;
    double values[2] = {200, 50};

    make_tmpdir();
    write_group(tmpdir, "zen4", "T", good);
    g = must_load("zen4", "T");
    cr_expect_str_eq(g->short_desc, "Test group");
    cr_expect_str_eq(g->pmu, "zen4");
    cr_assert_eq(g->nevents, 2);
    cr_expect_str_eq(g->events[0].alias, "loads");
    cr_expect_str_eq(g->events[0].name, "x::LOADS");
    cr_expect_str_eq(g->events[1].name, "x::MISSES:U");
    cr_expect_eq(qkperf_group_event_index(g, "misses"), 1);
    cr_expect_eq(qkperf_group_event_index(g, "nope"), -1);
    cr_assert_eq(g->nmetrics, 2);
    cr_expect_str_eq(g->metrics[0].name, "miss ratio");
    cr_expect_str_eq(g->metrics[0].text, "misses / loads");
    cr_expect_float_eq(qkperf_formula_eval(g->metrics[0].formula, values, 1), 0.25, 1e-12);
    cr_expect_float_eq(qkperf_formula_eval(g->metrics[1].formula, values, 2), 25, 1e-12);
    cr_expect_str_eq(g->long_desc, "Free text # not a comment\nEVENTSET is text here.");
    qkperf_group_free(g);
}

static void expect_file_error(const char *text, const char *needle)
{
    char msg[1024] = "", where[128];

    write_group(tmpdir, "zen4", "BAD", text);
    cr_expect_null(load_tmp("zen4", "BAD", msg, sizeof(msg)), "accepted:\n%s", text);
    snprintf(where, sizeof(where), "%s/zen4/BAD:", tmpdir);
    cr_expect_eq(strncmp(msg, where, strlen(where)), 0, "'%s' should start with '%s'", msg, where);
    cr_expect_not_null(strstr(msg, needle), "'%s' lacks '%s'", msg, needle);
    cr_expect_null(strchr(msg, '\n'), "message must be one line: '%s'", msg);
}

Test(groups, file_errors_name_file_and_line)
{
    make_tmpdir();
    expect_file_error("SHORT x\nEVENTSET\na x::A\nMETRICS\nr  a +* a\n",
                      "BAD:5: syntax error in metric 'r' at column 4");
    expect_file_error("SHORT x\nEVENTSET\na x::A\nb\n", ":4: expected '<alias> <libpfm event>'");
    expect_file_error("SHORT x\nEVENTSET\na x::A b\n", ":3: expected '<alias>");
    expect_file_error("SHORT x\nEVENTSET\n1a x::A\n", ":3: bad event alias '1a'");
    expect_file_error("SHORT x\nEVENTSET\ntime x::A\n", ":3: bad event alias 'time'");
    expect_file_error("SHORT x\nEVENTSET\na x::A\na x::B\n", ":4: duplicate event alias 'a'");
    expect_file_error("SHORT x\nloads x::A\n", ":2: expected SHORT, EVENTSET, METRICS or LONG");
    expect_file_error("SHORT x\nMETRICS\n", ":2: METRICS must follow");
    expect_file_error("SHORT x\nEVENTSET\na x::A\nMETRICS\nr a\n",
                      ":5: expected '<name>  <formula>'");
    expect_file_error("SHORT x\nEVENTSET\na x::A\nMETRICS\nr  a\nr  a\n",
                      ":6: duplicate metric 'r'");
    expect_file_error("EVENTSET\na x::A\n", ":2: missing SHORT");
    expect_file_error("SHORT\nEVENTSET\na x::A\n", ":1: SHORT needs");
    expect_file_error("SHORT x\nSHORT y\n", ":2: second SHORT");
    expect_file_error("SHORT x\nEVENTSET\n", ":2: no events");
}

Test(groups, unknown_identifier_names_metric_file_and_line)
{
    char msg[1024] = "", want[256];

    make_tmpdir();
    write_group(tmpdir, "zen4", "L1D",
                "SHORT x\nEVENTSET\nloads x::A\nmisses x::B\n\nMETRICS\n"
                "miss ratio    misses / loads2\n");
    cr_assert_null(load_tmp("zen4", "L1D", msg, sizeof(msg)));
    snprintf(want, sizeof(want),
             "%s/zen4/L1D:7: unknown identifier 'loads2' in "
             "metric 'miss ratio' (known: loads, misses, time)",
             tmpdir);
    cr_expect_str_eq(msg, want);
}

Test(groups, unknown_group_lists_known_ones)
{
    char msg[1024] = "";

    make_tmpdir();
    write_group(tmpdir, "zen4", "CYCLES", good);
    write_group(tmpdir, "zen4", "L1D", good);
    write_group(tmpdir, "perf", "SW", good);
    cr_assert_null(load_tmp("zen4", "NOPE", msg, sizeof(msg)));
    cr_expect_not_null(strstr(msg, "unknown group 'NOPE' for zen4"), "%s", msg);
    cr_expect_not_null(strstr(msg, "known: CYCLES, L1D"), "%s", msg);
    cr_assert_null(qkperf_group_load(tree, "zen4", "NOPE", 1, msg, sizeof(msg)));
    cr_expect_not_null(strstr(msg, "known: CYCLES, L1D, PORTS, TOPDOWN, TOPDOWN2; in perf: CYCLES"),
                       "%s", msg);
    cr_expect_null(load_tmp("zen4", "../perf/SW", msg, sizeof(msg)));
    cr_expect_not_null(strstr(msg, "bad group name"), "%s", msg);
}

Test(groups, falls_back_to_perf_only_when_asked)
{
    char msg[1024] = "";
    const char *dirs[] = {NULL, NULL};
    qkperf_group *g;

    make_tmpdir();
    dirs[0] = tmpdir;
    write_group(tmpdir, "perf", "ONLYPERF", good);
    write_group(tmpdir, "zen4", "OTHER", good);
    cr_expect_null(qkperf_group_load(dirs, "zen4", "ONLYPERF", 0, msg, sizeof(msg)));
    g = qkperf_group_load(dirs, "zen4", "ONLYPERF", 1, msg, sizeof(msg));
    cr_assert_not_null(g, "%s", msg);
    cr_expect_str_eq(g->pmu, "perf");
    qkperf_group_free(g);
}

static const char *short_of(const char *const *dirs, const char *pmu, const char *name)
{
    static char buf[128];
    char msg[1024] = "";
    qkperf_group *g = qkperf_group_load(dirs, pmu, name, 0, msg, sizeof(msg));

    cr_assert_not_null(g, "%s", msg);
    snprintf(buf, sizeof(buf), "%s", g->short_desc);
    qkperf_group_free(g);
    return buf;
}

/* The built-in directory comes last; here the source tree stands in for it
 * at the end of $QKPERF_GROUPS (the built-in one is the install directory). */
Test(groups, user_dir_then_env_then_default)
{
    char user[80], env[80], path[1200];
    const char *dirs[] = {user, NULL};

    make_tmpdir();
    snprintf(user, sizeof(user), "%s/user", tmpdir);
    snprintf(env, sizeof(env), "%s/env", tmpdir);
    mkdir(user, 0755);
    mkdir(env, 0755);
    write_group(user, "zen4", "CYCLES", "SHORT from user\nEVENTSET\na x::A\n");
    write_group(env, "zen4", "CYCLES", "SHORT from env\nEVENTSET\na x::A\n");
    write_group(env, "zen4", "L1D", "SHORT env L1D\nEVENTSET\na x::A\n");
    snprintf(path, sizeof(path), "%s:%s", env, TREE);
    setenv("QKPERF_GROUPS", path, 1);

    cr_expect_str_eq(short_of(dirs, "zen4", "CYCLES"), "from user");
    cr_expect_str_eq(short_of(NULL, "zen4", "CYCLES"), "from env");
    cr_expect_str_eq(short_of(dirs, "zen4", "L1D"), "env L1D");
    /* A later directory still answers for what the earlier ones lack. */
    cr_expect_not_null(strstr(short_of(dirs, "zen4", "TOPDOWN"), "Top-down"));

    char **names = qkperf_group_list(dirs, "zen4");
    cr_assert_not_null(names);
    cr_expect_str_eq(names[0], "CYCLES"); /* listed once, sorted */
    cr_expect_str_eq(names[1], "L1D");
    cr_expect_str_eq(names[2], "PORTS");
    qkperf_group_list_free(names);
}
