/* dist_exchange.c - four ways to average the flagship's gradient between
 * the ranks of one machine, timed in the same run (docs/scaling.md, "What
 * bounds the efficiency"):
 *
 *     mpirun -np 2 build/bench/dist_exchange [N]     (N floats, default 79510)
 *
 *   ddp      what tg_ddp_sync does with one bucket: a scaled copy into the
 *            bucket, MPI_Allreduce in place, a scaled copy back
 *   rs+ag    the same copies around MPI_Reduce_scatter_block + MPI_Allgather
 *   shm      a hand-written allreduce through memory the ranks share
 *            (MPI_Win_allocate_shared): each rank writes its scaled
 *            gradient into its slot, one barrier (a counter in the window),
 *            then every rank sums all slots into its gradient; two sets of
 *            slots take turns so that no second barrier is needed
 *   shm-rs   the same window, reduce-scatter style: rank r sums its 1/P of
 *            the slots into a shared result, a second barrier, every rank
 *            copies the result back (reads 2(P-1)/P of the vector from the
 *            others instead of P-1 times it)
 * Each method runs ROUNDS times in turn with the others, after a barrier;
 * prints "<method> <median us>" with the slowest rank's median. The
 * library itself uses "ddp" (nn/dist_ddp.c): this program is what showed
 * that a shared-memory exchange does not beat Open MPI's on this machine.
 */
#include <mpi.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

enum { ROUNDS = 400, METHODS = 4 };

typedef struct {
    _Atomic long count, sense;
} shm_barrier;

/* A sense-reversing barrier in shared memory; yields the core after 200
 * polls (more ranks than cores must not spin the waited-for one out). */
static void barrier(shm_barrier *b, int p, long *sense) {
    long s = !*sense;
    *sense = s;
    if (atomic_fetch_add(&b->count, 1) == p - 1) {
        atomic_store(&b->count, 0);
        atomic_store(&b->sense, s);
    } else {
        for (int k = 0; atomic_load(&b->sense) != s; k++)
            if (k > 200) sched_yield();
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int r, p;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    int n = argc > 1 ? atoi(argv[1]) : 79510;
    int chunk = (n + p - 1) / p;
    size_t stride = ((size_t)chunk * p * sizeof(float) + 4095) / 4096 * 4096;
    /* rank 0 owns the window: a barrier line, 2 x p slots, a result */
    MPI_Win win;
    char *base;
    MPI_Aint size = r == 0 ? (MPI_Aint)(64 + stride * (2 * (size_t)p + 1)) : 0;
    MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
    int unit;
    MPI_Win_shared_query(win, 0, &size, &unit, &base);
    shm_barrier *bar = (shm_barrier *)base;
    char *slots = base + 64, *result = slots + stride * 2 * (size_t)p;
    if (r == 0) atomic_store(&bar->count, 0), atomic_store(&bar->sense, 0);
    MPI_Barrier(MPI_COMM_WORLD);
    float *g = malloc(stride), *bucket = malloc(stride);
    double *t = malloc(sizeof(double) * ROUNDS * METHODS);
    if (!g || !bucket || !t) return 1;
    for (int i = 0; i < n; i++) g[i] = 1e-3f * (float)i + (float)r;
    const float w = 1.0f / (float)p;
    long sense = 0;
    for (int it = 0; it < ROUNDS; it++)
        for (int m = 0; m < METHODS; m++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = bench_now();
            if (m <= 1) {
                for (int i = 0; i < n; i++) bucket[i] = g[i] * w;
                if (m == 0) {
                    MPI_Allreduce(MPI_IN_PLACE, bucket, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                } else {
                    for (int i = n; i < chunk * p; i++) bucket[i] = 0;
                    MPI_Reduce_scatter_block(MPI_IN_PLACE, bucket, chunk, MPI_FLOAT, MPI_SUM,
                                             MPI_COMM_WORLD);
                    MPI_Allgather(MPI_IN_PLACE, chunk, MPI_FLOAT, bucket, chunk, MPI_FLOAT,
                                  MPI_COMM_WORLD);
                }
                for (int i = 0; i < n; i++) g[i] = bucket[i];
            } else if (m == 2) {
                char *set = slots + stride * (size_t)p * (size_t)(it & 1);
                float *mine = (float *)(set + stride * (size_t)r);
                for (int i = 0; i < n; i++) mine[i] = g[i] * w;
                barrier(bar, p, &sense);
                const float *s0 = (const float *)set;
                for (int i = 0; i < n; i++) g[i] = s0[i];
                for (int q = 1; q < p; q++) {
                    const float *sq = (const float *)(set + stride * (size_t)q);
                    for (int i = 0; i < n; i++) g[i] += sq[i];
                }
            } else {
                float *mine = (float *)(slots + stride * (size_t)r), *res = (float *)result;
                for (int i = 0; i < n; i++) mine[i] = g[i] * w;
                barrier(bar, p, &sense);
                int lo = r * chunk, hi = lo + chunk < n ? lo + chunk : n;
                const float *s0 = (const float *)slots;
                for (int i = lo; i < hi; i++) res[i] = s0[i];
                for (int q = 1; q < p; q++) {
                    const float *sq = (const float *)(slots + stride * (size_t)q);
                    for (int i = lo; i < hi; i++) res[i] += sq[i];
                }
                barrier(bar, p, &sense);
                memcpy(g, res, (size_t)n * sizeof *g);
            }
            t[m * ROUNDS + it] = bench_now() - t0;
        }
    static const char *name[METHODS] = {"ddp", "rs+ag", "shm", "shm-rs"};
    for (int m = 0; m < METHODS; m++) {
        double med = bench_median(t + m * ROUNDS, ROUNDS);
        MPI_Allreduce(MPI_IN_PLACE, &med, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r == 0) printf("%s %.1f\n", name[m], 1e6 * med);
    }
    /* every method leaves the same average on every rank: check one value */
    float v = g[n / 2], lo = v, hi = v;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_FLOAT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    int bad = lo != hi;
    if (r == 0 && bad) printf("ranks disagree: %g .. %g\n", lo, hi);
    free(g), free(bucket), free(t);
    MPI_Win_free(&win);
    MPI_Finalize();
    return bad;
}
