/*
 * libload.h — another build of libqk256 in this process, for A/B in one
 * run (`run --lib NAME=PATH`, `qkperf ab`): loaded with dlmopen into a
 * link-map namespace of its own (LM_ID_NEWLM), so its symbols cannot
 * bind to this build's and two builds of the same names coexist; its
 * variants are registered as NAME:variant (qk_register_prefixed).
 */
#ifndef QKPERF_LIBLOAD_H
#define QKPERF_LIBLOAD_H

#include <stddef.h>

/* spec is NAME=PATH. 0, or -1 with one line in err naming the library
 * and what is wrong: cannot be loaded, not a libqk256 build (no
 * qk256_kernel_module, or its module refused), a name taken. */
int qkperf_lib_load(const char *spec, char *err, size_t len);

/* The prefix of a variant name "NAME:variant" (its length; 0: none). */
size_t qkperf_lib_prefix(const char *variant);

#endif
