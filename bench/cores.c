/* cores.c - how fast this machine is right now: a probe of the VM's
 * speed, with no library code in it, for reading a benchmark run
 * (bench/README.md, "The machine's noise").
 *
 *     build-perfbench/bench/cores [samples]      (default 20)
 *
 * Each sample times one fixed piece of floating-point work (12
 * independent multiply-add chains on 4-double vectors, bound by the FP
 * units, not by memory) on one thread, then the same piece on each of two
 * threads at once, and prints
 *     cores: one thread <ms> ms, two threads <ms> ms, scaling <s>
 * where scaling = 2 x one / two: 2 when the two vCPUs run on two free
 * cores, near 1 when they share one core's FP units (SMT siblings on the
 * host, or a neighbour's load). The last line gives the range of each.
 * On a machine whose speed does not drift, every sample is the same. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "peer.h"

typedef double v4 __attribute__((vector_size(32)));

static long iters;
static volatile double sink; /* keeps the work from being optimised away */

static void *work(void *arg) {
    (void)arg;
    const v4 m = {0.999999, 0.999999, 0.999999, 0.999999}, c = {1e-7, 1e-7, 1e-7, 1e-7};
    v4 acc[12];
    for (int k = 0; k < 12; k++) acc[k] = (v4){k, k + 1, k + 2, k + 3};
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 12; k++) acc[k] = acc[k] * m + c;
    double s = 0;
    for (int k = 0; k < 12; k++) s += acc[k][0] + acc[k][3];
    sink = s;
    return NULL;
}

int main(int argc, char **argv) {
    int samples = argc > 1 ? atoi(argv[1]) : 20;
    if (samples < 1) {
        fprintf(stderr, "usage: cores [samples]\n");
        return 2;
    }
    /* the piece: 50-100 ms on one thread (the first power of two past 50) */
    for (iters = 1024;; iters *= 2) {
        double t0 = bench_now();
        work(NULL);
        if (bench_now() - t0 >= 0.05) break;
    }
    double lo1 = 1e30, hi1 = 0, los = 1e30, his = 0;
    for (int r = 0; r < samples; r++) {
        double t0 = bench_now();
        work(NULL);
        double one = bench_now() - t0;
        pthread_t th;
        t0 = bench_now();
        if (pthread_create(&th, NULL, work, NULL) != 0) {
            fprintf(stderr, "cores: cannot start a thread\n");
            return 1;
        }
        work(NULL);
        pthread_join(th, NULL);
        double two = bench_now() - t0, s = 2 * one / two;
        printf("cores: one thread %.1f ms, two threads %.1f ms, scaling %.2f\n", 1e3 * one,
               1e3 * two, s);
        lo1 = one < lo1 ? one : lo1, hi1 = one > hi1 ? one : hi1;
        los = s < los ? s : los, his = s > his ? s : his;
    }
    printf("cores: %d samples: one thread %.1f-%.1f ms (x%.2f), scaling %.2f-%.2f\n", samples,
           1e3 * lo1, 1e3 * hi1, hi1 / lo1, los, his);
    return 0;
}
