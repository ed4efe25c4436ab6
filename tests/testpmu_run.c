/*
 * testpmu_run.c — running a program under the test PMU (testpmu_run.h).
 */
#include "testpmu_run.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- running a program under the test PMU --------------------------------- */

char tp_dir[PATH_MAX]; /* tests/, where this binary, the driver and .libs are */

static void find_dir(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    snprintf(tp_dir, sizeof tp_dir, "%s", dirname(self));
}

static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t len = fread(buf, 1, cap - 1, f);
    buf[len] = '\0';
    fclose(f);
}

/* The environment without any QKPERF_TESTPMU*, LD_PRELOAD or ASAN_OPTIONS,
 * plus sets ("NAME=VALUE", NULL-terminated). */
static char **make_env(const char *const *sets, char **store, size_t cap)
{
    size_t n = 0;
    for (char **e = environ; *e && n + 1 < cap; e++)
        if (strncmp(*e, "QKPERF_TESTPMU", 14) != 0 && strncmp(*e, "LD_PRELOAD=", 11) != 0 &&
            strncmp(*e, "ASAN_OPTIONS=", 13) != 0)
            store[n++] = *e;
    for (; sets && *sets && n + 1 < cap; sets++)
        store[n++] = (char *)*sets;
#if defined(__SANITIZE_ADDRESS__)
    /* libasan would insist on coming first in the preload list. */
    if (n + 1 < cap)
        store[n++] = (char *)"ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0";
#endif
    store[n] = NULL;
    return store;
}

/* Run argv with the environment, stdout and stderr into r. */
void run_prog(run *r, const char *const *sets, const char *const *argv)
{
    char *store[512];
    char **env = make_env(sets, store, 512);
    FILE *out = tmpfile(), *err = tmpfile();
    cr_assert(out && err, "tmpfile: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        execve(argv[0], (char *const *)argv, env);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

/* Run tests/testpmu_drive (or qkperf when args[0] is "@qkperf") with
 * LD_PRELOAD and QKPERF_TESTPMU=pmu plus the sets. */
void drive(run *r, const char *pmu, const char *const *sets, const char *const *args)
{
    char lib[PATH_MAX + 64], prog[PATH_MAX + 64], pmuvar[64];
    const char *all[16], *argv[48];
    size_t n = 0, k = 0;
    if (tp_dir[0] == '\0')
        find_dir();
    snprintf(lib, sizeof lib, "LD_PRELOAD=%s/.libs/libtestpmu.so", tp_dir);
    snprintf(pmuvar, sizeof pmuvar, "QKPERF_TESTPMU=%s", pmu ? pmu : "");
    all[n++] = lib;
    if (pmu)
        all[n++] = pmuvar;
    for (; sets && *sets && n < 15; sets++)
        all[n++] = *sets;
    all[n] = NULL;
    if (strcmp(args[0], "@qkperf") == 0) {
        const char *bin = getenv("QKPERF_BIN");
        snprintf(prog, sizeof prog, "%s", bin ? bin : "");
        if (!bin)
            snprintf(prog, sizeof prog, "%s/../qkperf", tp_dir);
        args++;
    } else {
        snprintf(prog, sizeof prog, "%s/testpmu_drive", tp_dir);
    }
    argv[k++] = prog;
    for (; *args && k < 47; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    run_prog(r, all, argv);
}
