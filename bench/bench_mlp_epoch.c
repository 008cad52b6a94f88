/* bench_mlp_epoch.c - one Fashion-MNIST epoch of the flagship recipe
 * (784-100-10 MLP, ReLU, Adam lr 1e-3, cross entropy, batch 64, shuffled
 * batches, f32) against PyTorch doing the same in the same run.
 * Prints: mlp_epoch: tapegrad <s>, torch <s>, ratio <r>
 * Each side: the median of its epochs after a warm-up epoch, at its best
 * setting (tapegrad: 1 and 2 threads tried, each in two blocks of 3 epochs,
 * one before and one after PyTorch's, pooled into one median of 6, so both
 * see the same machine (the VM's speed drifts within a minute); torch: the
 * grid of bench/peer.h, torch threads {1, 2} x OPENBLAS_NUM_THREADS {1, 2} x
 * {default, tuned} malloc, median of 3 each, the winner on stderr). */
#include <tapegrad.h>

#include "peer.h"
#include "steps.h"

/* One block: a fresh model on `threads` threads, a warm-up epoch, then 3
 * timed epochs into t[0..3). False on failure (said on stderr). */
static bool block(const tg_dataset *train, int threads, double *t, double *loss) {
    char err[256];
    tg_set_num_threads(threads);
    bench_mlp m;
    if (!bench_mlp_init(&m, train, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    bench_mlp_epoch(&m, train, bench_now, loss);
    for (int e = 0; e < 3; e++) t[e] = bench_mlp_epoch(&m, train, bench_now, loss);
    bench_mlp_free(&m);
    return true;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    tg_dataset train;
    if (!bench_load_train(dir, &train)) return 1;
    double t[2][6], loss = 0;
    for (int threads = 1; threads <= 2; threads++)
        if (!block(&train, threads, t[threads - 1], &loss)) return 1;
    char args[512];
    snprintf(args, sizeof args, "mlp_epoch %s", dir);
    double torch = bench_torch(args), best = 1e30;
    for (int threads = 1; threads <= 2; threads++) {
        if (!block(&train, threads, t[threads - 1] + 3, &loss)) return 1;
        double med = bench_median(t[threads - 1], 6);
        fprintf(stderr, "# mlp_epoch: tapegrad, %d thread%s: %.3f s\n", threads,
                threads > 1 ? "s" : "", med);
        if (med < best) best = med;
    }
    printf("mlp_epoch: tapegrad %.3f s, torch %.3f s, ratio %.3f\n", best, torch,
           torch > 0 ? best / torch : -1);
    fprintf(stderr, "(last training loss %.4f)\n", loss);
    tg_dataset_free(&train);
    return 0;
}
