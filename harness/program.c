/*
 * program.c — finding the program after `--` (program.h).
 */
#include "program.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int runnable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int qkperf_program_find(const char *cmd, char *path, size_t plen, char *err, size_t len)
{
    if (!cmd || !*cmd)
        return snprintf(err, len, "no command after --"), -1;
    if (strchr(cmd, '/')) {
        if (runnable(cmd))
            return snprintf(path, plen, "%s", cmd), 0;
        if (access(cmd, F_OK) != 0)
            return snprintf(err, len, "command not found: %s", cmd), -1;
        return snprintf(err, len, "%s: not an executable file", cmd), -1;
    }
    const char *dirs = getenv("PATH");
    if (!dirs || !*dirs)
        dirs = "/usr/local/bin:/usr/bin:/bin";
    while (*dirs) {
        size_t n = strcspn(dirs, ":");
        snprintf(path, plen, "%.*s/%s", n ? (int)n : 1, n ? dirs : ".", cmd);
        if (runnable(path))
            return 0;
        dirs += n + (dirs[n] == ':');
    }
    return snprintf(err, len, "command not found: %s (not on PATH)", cmd), -1;
}

void qkperf_program_name(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, cap, "%s", slash ? slash + 1 : path);
}
