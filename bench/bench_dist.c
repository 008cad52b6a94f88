/* bench_dist.c - data-parallel training over MPI, measured (run by
 * bench/bench_dist.sh under mpirun; bench/run.sh prints its line).
 *
 *     mpirun -np P bench_dist epoch [DATA]   one epoch of the flagship MLP
 *         (784-100-10, Adam, global batch 128 over P ranks, 1 thread each):
 *         prints "epoch_s <wall> cpu_s <cpu of rank 0> ranks <P>"; the wall
 *         time is the slowest rank's, after a barrier
 *     mpirun -np P bench_dist alone [DATA]   the same loop with no gradient
 *         averaging (each rank steps on its own slice): the bound that
 *         communication-free scaling would reach on this machine's cores
 *     mpirun -np P bench_dist allreduce      tg_dist_allreduce (f64 sums) of
 *         8 B .. 32 MB: prints "allreduce <bytes> <median us>" per size
 *
 * Timings on a shared machine are indicative: each point is a median.
 */
#include <tapegrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int allreduce(tg_dist *d) {
    for (size_t bytes = 8; bytes <= ((size_t)32 << 20); bytes *= 4) {
        int n = (int)(bytes / 8), reps = bytes < (1 << 20) ? 200 : 20;
        double *v = calloc((size_t)n, 8), t[200];
        for (int r = 0; r < reps; r++) {
            tg_dist_barrier(d);
            double t0 = bench_now();
            tg_dist_allreduce(d, v, n, TG_DIST_SUM);
            t[r] = bench_now() - t0;
        }
        tg_dist_allreduce(d, t, reps, TG_DIST_MAX); /* the slowest rank's */
        double med = bench_median(t, reps);
        if (tg_dist_rank(d) == 0) printf("allreduce %zu %.1f\n", bytes, 1e6 * med);
        free(v);
    }
    return 0;
}

static int epoch(tg_dist *d, const char *dir, bool sync) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset train;
    tg_status s = tg_mnist_load_dir(dir, true, &train);
    if (s == TG_OK) s = tg_dataset_scale(&train, 0, 255);
    if (s != TG_OK) return fprintf(stderr, "bench_dist: %s\n", err), 1;
    double mean, sd;
    tg_dataset_stats(&train, false, &mean, &sd);
    tg_dataset_standardize(&train, false, &mean, &sd);
    tg_params *ps = tg_params_new(TG_F32);
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    const int64_t widths[] = {784, 100, 10}; /* the flagship, Adam as it */
    tg_sequential *net = tg_mlp_new(ps, "mlp", widths, 3, TG_ACT_RELU, TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, 2e-3, NULL);
    tg_dist_broadcast_params(d, ps, true);
    tg_ddp *g = sync ? tg_ddp_new(d, ps, 0) : NULL;
    tg_dist_batcher b;
    if (!net || !opt || (sync && !g) ||
        tg_dist_batcher_init(&b, &train, 128, true, 1, tg_dist_rank(d), tg_dist_size(d)) != TG_OK) {
        fprintf(stderr, "bench_dist: %s %s\n", err, tg_params_error(ps));
        return 1;
    }
    tg_tape *tape = tg_tape_new();
    tg_dist_barrier(d);
    double t0 = bench_now(), c0 = cpu_now();
    const int64_t *idx;
    int64_t n;
    int status = 0;
    while ((n = tg_dist_batcher_next(&b, &idx, NULL)) > 0) {
        tg_tensor *x = tg_dataset_batch_x(tape, &train, n, idx, TG_F32, true);
        tg_tensor *y = tg_dataset_batch_y(tape, &train, n, idx);
        tg_tensor *loss = tg_cross_entropy(tg_sequential_forward(net, x), y, TG_REDUCE_MEAN,
                                           TG_IGNORE_INDEX, 0.0);
        tg_optim_zero_grad(opt);
        if (g) tg_ddp_begin(g, (double)n);
        tg_backward(loss);
        if (g && tg_ddp_sync(g, tape) != TG_OK) {
            fprintf(stderr, "bench_dist: %s\n", tg_last_error());
            status = 1;
            break;
        }
        tg_optim_step(opt);
        tg_tape_reset(tape);
    }
    double t[2] = {bench_now() - t0, cpu_now() - c0};
    tg_dist_allreduce(d, t, 1, TG_DIST_MAX);
    if (tg_dist_rank(d) == 0)
        printf("epoch_s %.3f cpu_s %.3f ranks %d\n", t[0], t[1], tg_dist_size(d));
    tg_tape_free(tape);
    tg_dist_batcher_free(&b);
    tg_ddp_free(g);
    tg_optim_free(opt);
    tg_params_free(ps);
    tg_dataset_free(&train);
    return status;
}

int main(int argc, char **argv) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dist *d = NULL;
    tg_status s = tg_dist_init(&argc, &argv, &d);
    int status = s != TG_OK;
    tg_set_num_threads(1);
    if (status)
        fprintf(stderr, "bench_dist: %s\n", err);
    else if (argc > 1 && !strcmp(argv[1], "allreduce"))
        status = allreduce(d);
    else
        status = epoch(d, argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist",
                       !(argc > 1 && !strcmp(argv[1], "alone")));
    tg_dist_finalize(d);
    return status;
}
