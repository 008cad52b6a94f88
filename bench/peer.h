/* peer.h - helpers shared by the benchmarks: a clock, a median, and running
 * the PyTorch side (bench/torch_peer.py) in the same run with every thread
 * count set explicitly and OPENBLAS_CORETYPE unset. */
#ifndef TG_BENCH_PEER_H
#define TG_BENCH_PEER_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return v[n / 2];
}

/* Runs `torch_peer.py <args>` and returns the number it prints, or -1. */
static inline double bench_torch(const char *args) {
    char cmd[1024];
    const char *dir = getenv("TG_BENCH_DIR");
    snprintf(cmd, sizeof cmd,
             "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 "
             "OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 /usr/bin/python3 %s/torch_peer.py %s",
             dir ? dir : TG_BENCH_SRC, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    double v = -1;
    if (fscanf(p, "%lf", &v) != 1) v = -1;
    pclose(p);
    return v;
}

#endif
