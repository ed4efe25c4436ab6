/*
 * scratch.h — a test's scratch folder under /tmp: made fresh (mkdtemp) in
 * a suite's init and removed with everything in it in its fini, so that
 * `make check` leaves nothing behind. Criterion runs each test in its own
 * process, so each test gets a folder of its own. And qkt_slurp, for the
 * files a test reads back.
 */
#ifndef QKT_SCRATCH_H
#define QKT_SCRATCH_H

/* mkdtemp(tmpl), asserting that it worked; tmpl ends in XXXXXX and must
 * live as long as the process: the folder is also removed at exit (a
 * skipped test's process ends without the suite's fini). */
void qkt_scratch_make(char *tmpl);

/* Remove dir and everything below it (symbolic links are not followed).
 * Only a folder that mkdtemp made from a "/tmp/qkperf-" template is
 * touched: a template never filled in, or any other path, is left alone.
 * 0 when dir is gone, -1 otherwise. */
int qkt_scratch_remove(const char *dir);

/* The whole of the file at path, NUL-terminated (free it); asserts that it
 * can be read. */
char *qkt_slurp(const char *path);

#endif
