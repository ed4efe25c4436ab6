/*
 * plot_cmd.c — `qkperf plot RESULTS.json -o DIR [--force]`. Nothing is
 * left half-written: the plots are made in a temporary folder beside DIR
 * (DIR.tmp.PID, on the same filesystem), which takes DIR's place by a
 * rename only once every plot has rendered. On any failure (a full disk, a
 * gnuplot error) the temporary folder is removed and DIR is as it was:
 * absent, or the old folder untouched. Folders left by killed runs are
 * removed by the next run into the same DIR once their process is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) ? -1 : 0;
}

/* rm -rf that never follows a symbolic link. */
static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* "DIR.tmp.PID" folders beside dir whose process no longer exists. */
static void drop_stale(const char *dir)
{
    char parent[PATH_MAX], base[NAME_MAX + 1];
    const char *slash = strrchr(dir, '/');
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - dir) + 1 : 1, slash ? dir : ".");
    snprintf(base, sizeof base, "%s.tmp.", slash ? slash + 1 : dir);
    DIR *d = opendir(parent);
    struct dirent *e;
    size_t n = strlen(base);
    while (d && (e = readdir(d))) {
        char *end, path[PATH_MAX];
        if (strncmp(e->d_name, base, n))
            continue;
        errno = 0;
        long pid = strtol(e->d_name + n, &end, 10);
        if (*end || errno || pid <= 0 || pid == (long)getpid() ||
            !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            continue;
        if (snprintf(path, sizeof path, "%s%s", slash ? parent : "", e->d_name) < (int)sizeof path)
            remove_tree(path);
    }
    if (d)
        closedir(d);
}

/* 0: absent; 1: an empty folder; 2: a folder with something in it; -1:
 * something that is not a folder. */
static int dir_state(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return -1;
    DIR *d = opendir(path);
    struct dirent *e;
    int used = 0;
    while (d && !used && (e = readdir(d)))
        used = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return 1 + used;
}

/* Put the finished folder tmp in dir's place. An existing dir is swapped
 * in one step where the filesystem can (RENAME_EXCHANGE), else moved
 * aside first; the old folder is then removed. 0, or -1 with err and dir
 * as it was. */
static int publish(const char *tmp, const char *dir, int exists, char *err, size_t len)
{
    if (!exists || renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        if (!exists && rename(tmp, dir) != 0)
            return snprintf(err, len, "cannot create %s: %s", dir, strerror(errno)), -1;
        if (exists)
            remove_tree(tmp); /* now the old folder */
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return snprintf(err, len, "cannot replace %s: %s", dir, strerror(errno)), -1;
    char old[PATH_MAX + 8];
    snprintf(old, sizeof old, "%s.old", tmp);
    if (rename(dir, old) != 0)
        return snprintf(err, len, "cannot replace %s: %s", dir, strerror(errno)), -1;
    if (rename(tmp, dir) != 0) {
        int e = errno;
        rename(old, dir);
        return snprintf(err, len, "cannot replace %s: %s", dir, strerror(e)), -1;
    }
    remove_tree(old);
    return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qkperf plot: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (usage: qkperf plot RESULTS.json -o DIR [--force])\n");
    return 2;
}

static int plot_parse(int argc, char **argv, const char **in, const char **dir, int *force)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:f", opts, NULL)) != -1) {
        if (c == 'o')
            *dir = optarg;
        else if (c == 'f')
            *force = 1;
        else
            return usage_error("%s '%s'", c == ':' ? "missing value for option" : "unknown option",
                               argv[optind - 1]);
    }
    if (optind != argc - 1)
        return usage_error("expected one results document, got %d", argc - optind);
    *in = argv[optind];
    if (!*dir || !**dir)
        return usage_error("no output folder: add -o DIR");
    return 0;
}

/* Render r into a temporary folder and publish it as dir; prints the
 * files. 0, or 1 after printing one line. */
static int plot_into(const qkperf_results *r, const char *dir, int exists)
{
    char tmp[PATH_MAX], err[PATH_MAX * 2];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid()) >= (int)sizeof tmp)
        return fprintf(stderr, "qkperf plot: %s: path too long\n", dir), 1;
    drop_stale(dir);
    remove_tree(tmp); /* a leftover of a killed run with this pid */
    if (mkdir(tmp, 0777) != 0)
        return fprintf(stderr, "qkperf plot: cannot create %s: %s\n", tmp, strerror(errno)), 1;
    qkperf_plots p;
    int rc =
        qkperf_plot_all(r, tmp, &p, err, sizeof err) || publish(tmp, dir, exists, err, sizeof err);
    if (rc) {
        remove_tree(tmp);
        fprintf(stderr, "qkperf plot: %s; %s %s\n", err, dir,
                exists ? "is left as it was" : "was not made");
    }
    for (size_t i = 0; !rc && i < p.nfiles; i++)
        printf("%s/%s\n", dir, p.files[i]);
    for (size_t i = 0; !rc && i < p.nskipped; i++)
        printf("skipped %s\n", p.skipped[i]);
    qkperf_plots_free(&p);
    return rc ? 1 : 0;
}

int qkperf_cmd_plot(int argc, char **argv)
{
    const char *in = NULL, *arg = NULL;
    int force = 0, rc = plot_parse(argc, argv, &in, &arg, &force);
    if (rc)
        return rc;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", arg);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = 0; /* "out/" names the folder out */
    int state = dir_state(dir);
    if (state < 0)
        return fprintf(stderr, "qkperf plot: %s exists and is not a folder\n", dir), 2;
    if (state == 2 && !force)
        return fprintf(stderr,
                       "qkperf plot: %s exists and is not empty (use --force to replace it)\n",
                       dir),
               2;
    char err[1024];
    qkperf_results r; /* read_json initializes it, also on failure */
    if (qkperf_results_read_json(&r, in, err, sizeof err)) {
        qkperf_results_free(&r);
        return fprintf(stderr, "qkperf plot: %s\n", err), 2;
    }
    rc = plot_into(&r, dir, state > 0);
    qkperf_results_free(&r);
    return rc;
}
