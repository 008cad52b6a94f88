/* bench_mlp_epoch.c - one Fashion-MNIST epoch of the flagship recipe
 * (784-100-10 MLP, ReLU, Adam lr 1e-3, cross entropy, batch 64, shuffled
 * batches, f32) against PyTorch doing the same in the same run.
 * Prints: mlp_epoch: tapegrad <s>, torch <s>, ratio <r>
 * Each side: the median of 3 epochs after one warm-up epoch, at its best
 * setting (tapegrad: 1 and 2 threads tried; torch: the grid of bench/peer.h,
 * torch threads {1, 2} x OPENBLAS_NUM_THREADS {1, 2} x {default, tuned}
 * malloc, the winner on stderr). */
#include <tapegrad.h>

#include "peer.h"
#include "steps.h"

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    char err[256];
    tg_dataset train;
    if (!bench_load_train(dir, &train)) return 1;
    double best = 1e30, loss = 0;
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        bench_mlp m;
        if (!bench_mlp_init(&m, &train, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        double t[3];
        bench_mlp_epoch(&m, &train, bench_now, &loss);
        for (int e = 0; e < 3; e++) t[e] = bench_mlp_epoch(&m, &train, bench_now, &loss);
        bench_mlp_free(&m);
        double med = bench_median(t, 3);
        fprintf(stderr, "# mlp_epoch: tapegrad, %d thread%s: %.3f s\n", threads,
                threads > 1 ? "s" : "", med);
        if (med < best) best = med;
    }
    char args[512];
    snprintf(args, sizeof args, "mlp_epoch %s", dir);
    double torch = bench_torch(args);
    printf("mlp_epoch: tapegrad %.3f s, torch %.3f s, ratio %.3f\n", best, torch,
           torch > 0 ? best / torch : -1);
    fprintf(stderr, "(last training loss %.4f)\n", loss);
    tg_dataset_free(&train);
    return 0;
}
