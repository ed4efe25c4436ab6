/*
 * fuzz_results.c — libFuzzer target for the results document reader
 * (qkperf_results_read_json, which `compare`, `plot`, `review` and the
 * baseline loader all go through) and what every reader of a document then
 * does with it: the relative view of baseline.c and the JSON and CSV
 * writers. The reader takes a path, so each input is written to one
 * temporary file first.
 *
 * Beyond "no crash, no leak": a document that reads back must write out as
 * JSON that reads back again with the same records (the round trip `qkperf
 * compare` relies on when a baseline is saved and loaded).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baseline.h"
#include "results.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char doc_path[64], copy_path[64];

static void remove_files(void)
{
    unlink(doc_path);
    unlink(copy_path);
}

static void temp_file(char *path, size_t len)
{
    snprintf(path, len, "/tmp/qkperf-fuzz-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("fuzz_results: mkstemp");
        exit(1);
    }
    close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    temp_file(doc_path, sizeof doc_path);
    temp_file(copy_path, sizeof copy_path);
    atexit(remove_files);
    return 0;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror("fuzz_results: writing the input");
        abort();
    }
}

/* The document written out reads back with the same series. */
static void check_round_trip(const qkperf_results *r)
{
    char *text = qkperf_results_json_text(r), err[512];
    if (!text)
        return; /* out of memory */
    write_file(copy_path, text, strlen(text));
    free(text);
    qkperf_results back;
    if (qkperf_results_read_json(&back, copy_path, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_results: own output does not read back: %s\n", err);
        abort();
    }
    if (back.n != r->n) {
        fprintf(stderr, "fuzz_results: %zu records read, %zu after the round trip\n", r->n, back.n);
        abort();
    }
    for (size_t i = 0; i < r->n; i++)
        if (back.rec[i].n != r->rec[i].n || strcmp(back.rec[i].variant, r->rec[i].variant)) {
            fprintf(stderr, "fuzz_results: record %zu changed in the round trip\n", i);
            abort();
        }
    qkperf_results_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qkperf_results r, rel;
    char err[512];

    write_file(doc_path, data, size);
    if (qkperf_results_read_json(&r, doc_path, err, sizeof err) != 0) {
        if (!err[0] || strchr(err, '\n')) {
            fprintf(stderr, "fuzz_results: error is not one line: '%s'\n", err);
            abort();
        }
        return 0;
    }
    check_round_trip(&r);
    free(qkperf_results_csv_text(&r));
    if (qkperf_results_relative(&r, "scalar", &rel) == 0)
        free(qkperf_results_json_text(&rel));
    qkperf_results_free(&rel);
    qkperf_results_free(&r);
    return 0;
}
