/*
 * child.c — run a tool as a child with its output in files (child.h).
 *
 * posix_spawn, not fork + exec: the child runs no code of ours between the
 * two (a forked child that calls freopen duplicates stdio's buffers and is
 * not async-signal-safe). The redirection files are opened here, in the
 * parent, close-on-exec, and the child only dup2s them onto 0, 1 and 2:
 * an unwritable log is then reported as such, and an error posix_spawn
 * returns can only be about executing the program.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

/* path (NULL: /dev/null) opened close-on-exec; -1 with err. */
static int open_redirect(const char *path, int flags, char *err, size_t len)
{
    const char *p = path ? path : "/dev/null";
    int fd = open(p, flags | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        snprintf(err, len, "cannot %s %s: %s", flags == O_RDONLY ? "read" : "write", p,
                 strerror(e));
        errno = e;
    }
    return fd;
}

static void close_all(const int *fd, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fd[i] >= 0)
            close(fd[i]);
}

/* fd[0..2] for the child's stdin, stdout and stderr; 0 or -1 with err. */
static int open_redirects(int fd[3], const char *out_path, const char *err_path, char *err,
                          size_t len)
{
    const int wr = O_WRONLY | O_CREAT | O_TRUNC;
    int same = out_path && err_path && !strcmp(out_path, err_path);
    fd[0] = open_redirect(NULL, O_RDONLY, err, len);
    fd[1] = fd[0] < 0 ? -1 : open_redirect(out_path, wr, err, len);
    fd[2] = fd[1] < 0 ? -1 : same ? dup(fd[1]) : open_redirect(err_path, wr, err, len);
    if (fd[2] >= 0)
        return 0;
    int e = errno;
    if (fd[1] >= 0 && same)
        snprintf(err, len, "cannot write %s: %s", err_path, strerror(e));
    close_all(fd, 3);
    errno = e;
    return -1;
}

/* posix_spawn with the dup2s onto 0, 1, 2. 0, or an errno value with err;
 * *late is set when only freeing the actions failed, after the child
 * started (it must still be waited for). */
static int start(const char *file, char *const argv[], const int fd[3], pid_t *pid, int *late,
                 char *err, size_t len)
{
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    *late = 0;
    if (rc)
        return snprintf(err, len, "cannot set up the output files of %s: %s", file, strerror(rc)),
               rc;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = posix_spawn_file_actions_adddup2(&fa, fd[i], i);
    if (rc)
        snprintf(err, len, "cannot set up the output files of %s: %s", file, strerror(rc));
    else if ((rc = strchr(file, '/') ? posix_spawn(pid, file, &fa, NULL, argv, environ)
                                     : posix_spawnp(pid, file, &fa, NULL, argv, environ)))
        snprintf(err, len, "cannot execute %s: %s", file, strerror(rc));
    int drc = posix_spawn_file_actions_destroy(&fa);
    if (rc == 0 && drc) {
        snprintf(err, len, "cannot free the spawn file actions of %s: %s", file, strerror(drc));
        *late = drc;
    }
    return rc;
}

int qkperf_child_run(const char *file, char *const argv[], const char *out_path,
                     const char *err_path, int *status, char *err, size_t len)
{
    int fd[3], late;
    pid_t pid;
    if (open_redirects(fd, out_path, err_path, err, len))
        return QKPERF_CHILD_IO;
    int rc = start(file, argv, fd, &pid, &late, err, len);
    close_all(fd, 3);
    if (rc)
        return errno = rc, QKPERF_CHILD_EXEC;
    while (waitpid(pid, status, 0) < 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        snprintf(err, len, "waiting for %s: %s", file, strerror(e));
        return errno = e, QKPERF_CHILD_WAIT;
    }
    return late ? (errno = late, QKPERF_CHILD_IO) : 0;
}

int qkperf_child_exec_failed(int status)
{
    return WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127);
}

static const char *not_blank(const char *line)
{
    return strspn(line, " \t\r\n^") == strlen(line) ? NULL : line;
}

void qkperf_first_line(const char *path, char *out, size_t len,
                       const char *(*show)(const char *line))
{
    FILE *f = fopen(path, "r");
    char line[1024];
    out[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        const char *s = (show ? show : not_blank)(line);
        if (s) {
            snprintf(out, len, "%s", s);
            break;
        }
    }
    if (f)
        fclose(f);
}
