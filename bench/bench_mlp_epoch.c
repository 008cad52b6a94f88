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

static double epoch(tg_tape *tape, tg_sequential *mlp, tg_optim *opt, tg_batcher *b,
                    const tg_dataset *d, double *loss_out) {
    const int64_t *idx;
    int64_t n;
    double t0 = bench_now(), loss = 0;
    while ((n = tg_batcher_next(b, &idx)) > 0) {
        tg_tensor *x = tg_dataset_batch_x(tape, d, n, idx, TG_F32, true);
        tg_tensor *y = tg_dataset_batch_y(tape, d, n, idx);
        tg_tensor *l = tg_cross_entropy(tg_sequential_forward(mlp, x), y, TG_REDUCE_MEAN, -100, 0.0);
        tg_backward(l);
        loss = tg_item(l);
        tg_optim_step(opt);
        tg_optim_zero_grad(opt);
        if (!tg_tape_ok(tape)) {
            fprintf(stderr, "error: %s\n", tg_tape_error(tape));
            exit(1);
        }
        tg_tape_reset(tape);
    }
    *loss_out = loss;
    return bench_now() - t0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    char err[256];
    tg_dataset train;
    if (tg_mnist_load_dir(dir, true, &train, err, sizeof err) != TG_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    tg_dataset_scale(&train, 0, 255);
    double best = 1e30, loss = 0;
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        tg_rng rng;
        tg_rng_seed(&rng, 0);
        tg_params *ps = tg_params_new(TG_F32);
        tg_sequential *mlp = tg_mlp_new(ps, "mlp", (int64_t[]){784, 100, 10}, 3, TG_ACT_RELU,
                                        TG_ACT_NONE, &rng);
        tg_optim *opt = tg_adam_new(ps, 1e-3, NULL);
        tg_batcher b;
        tg_batcher_init(&b, &train, 64, true, 1, err, sizeof err);
        tg_tape *tape = tg_tape_new();
        double t[3];
        epoch(tape, mlp, opt, &b, &train, &loss);
        for (int e = 0; e < 3; e++) t[e] = epoch(tape, mlp, opt, &b, &train, &loss);
        double m = bench_median(t, 3);
        fprintf(stderr, "# mlp_epoch: tapegrad, %d thread%s: %.3f s\n", threads,
                threads > 1 ? "s" : "", m);
        if (m < best) best = m;
        tg_tape_free(tape);
        tg_batcher_free(&b);
        tg_optim_free(opt);
        tg_params_free(ps);
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
