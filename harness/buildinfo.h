#define QKPERF_GIT "0.1.0"
#define QKPERF_CFLAGS "-g -O2"
#define QKPERF_ISA_CFLAGS "-mavx2 -mfma -mbmi2 (AVX2 files), -fno-tree-vectorize (scalar)"
