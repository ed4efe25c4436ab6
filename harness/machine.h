/*
 * machine.h — the machine, build and config sections of a results
 * document, so that every figure can be traced to where it came from.
 */
#ifndef QKPERF_MACHINE_H
#define QKPERF_MACHINE_H

#include <jansson.h>

#include "probe.h"

/* CPU model, ISA flags, kernel, PMU status and reason, TSC MHz, core/TSC. */
json_t *qkperf_machine_json(const qkperf_probe_t *p);
/* Compiler, flags, version, git describe. */
json_t *qkperf_build_json(void);
/* Warn (one line on stderr each) where two machine sections differ in
 * CPU model or PMU status; returns the number of differences. */
int qkperf_machine_mismatch(json_t *a, json_t *b, const char *what_a, const char *what_b);

#endif
