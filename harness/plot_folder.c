/*
 * plot_folder.c — a plot folder made all or nothing (plot.h), for `qkperf
 * plot RESULTS.json -o DIR [--force]`. Nothing is left half-written: the
 * plots are made in a temporary folder beside DIR (DIR.tmp.PID, on the
 * same filesystem), which takes DIR's place by a rename only once every
 * plot has rendered. On any failure (a full disk, a
 * gnuplot error) the temporary folder is removed and DIR is as it was:
 * absent, or the old folder untouched. Folders left by killed runs are
 * removed by the next run into the same DIR once their process is gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
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

int qkperf_plot_dir_state(const char *path)
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

int qkperf_plot_folder(const qkperf_results *r, const char *dir, int exists, qkperf_plots *out,
                       char *err, size_t len)
{
    char tmp[PATH_MAX], why[PATH_MAX * 2];
    memset(out, 0, sizeof *out);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid()) >= (int)sizeof tmp)
        return snprintf(err, len, "%s: path too long", dir), -1;
    drop_stale(dir);
    remove_tree(tmp); /* a leftover of a killed run with this pid */
    if (mkdir(tmp, 0777) != 0)
        return snprintf(err, len, "cannot create %s (as %s first): %s", dir, tmp, strerror(errno)),
               -1;
    if (qkperf_plot_all(r, tmp, out, why, sizeof why) ||
        publish(tmp, dir, exists, why, sizeof why)) {
        remove_tree(tmp);
        qkperf_plots_free(out);
        return snprintf(err, len, "%s; %s %s", why, dir,
                        exists ? "is left as it was" : "was not made"),
               -1;
    }
    return 0;
}
