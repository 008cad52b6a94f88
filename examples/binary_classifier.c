/* binary_classifier.c - two classes of 2-D points shaped as interleaved
 * half moons, separated by a small network with a sigmoid output.
 *
 * Shows: making a data set in code (tg_dataset_alloc), standardizing it
 * with statistics of the training set only, shuffled mini-batches
 * (tg_batcher), a model whose last unit is a sigmoid (its output is the
 * probability of class 1), binary cross entropy on that probability,
 * train/test accuracy, and the learned decision boundary drawn in ASCII.
 *
 * The model: Linear(2, 16) -> tanh -> Linear(16, 1) -> sigmoid.
 *
 * Build and run: ninja -C build && ./build/examples/binary_classifier
 * Exits 1 if the loss did not fall.
 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>

#include "common.h"

/* n points on two half circles (class 0 above, class 1 below and shifted),
 * with Gaussian noise: scikit-learn's make_moons. */
static int make_moons(tg_dataset *d, int64_t n, double noise, tg_rng *rng) {
    if (tg_dataset_alloc(d, n, 1, (int64_t[]){2}, true) != TG_OK) {
        fprintf(stderr, "%s\n", tg_last_error());
        return 1;
    }
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % 2);
        double a = 3.141592653589793 * tg_rng_uniform(rng);
        double px = c ? 1 - cos(a) : cos(a), py = c ? 0.5 - sin(a) : sin(a);
        d->x[2 * i] = (float)(px + noise * tg_rng_normal(rng));
        d->x[2 * i + 1] = (float)(py + noise * tg_rng_normal(rng));
        d->y[i] = c;
    }
    d->nclasses = 2;
    return 0;
}

/* The labels of a batch as float targets [n, 1] (what BCE compares with). */
static tg_tensor *targets(tg_tape *tape, const tg_dataset *d, int64_t n, const int64_t *idx) {
    tg_tensor *t = tg_zeros(tape, TG_F32, TG_SHAPE(n, 1));
    for (int64_t i = 0; t && i < n; i++) tg_tensor_f32(t)[i] = (float)d->y[idx ? idx[i] : i];
    return t;
}

/* Fraction of d classified correctly (p > 0.5 means class 1). */
static double accuracy(tg_tape *tape, tg_sequential *net, const tg_dataset *d) {
    bool was = tg_tape_set_grad_enabled(tape, false);
    tg_tensor *p = tg_sequential_forward(net, tg_dataset_batch_x(tape, d, d->n, NULL, TG_F32, true));
    int64_t ok = 0;
    for (int64_t i = 0; p && i < d->n; i++) ok += (tg_tensor_get(p, i) > 0.5) == (d->y[i] == 1);
    tg_tape_reset(tape);
    tg_tape_set_grad_enabled(tape, was);
    return (double)ok / (double)d->n;
}

int main(int argc, char **argv) {
    long epochs = 40, batch = 32, seed = 1, ntrain = 1000, ntest = 500;
    double lr = 0.01, noise = 0.15;
    const ex_flag flags[] = {
        {"--epochs", EX_INT, &epochs, "passes over the training set"},
        {"--batch", EX_INT, &batch, "samples per step"},
        {"--lr", EX_DOUBLE, &lr, "Adam's learning rate"},
        {"--noise", EX_DOUBLE, &noise, "std of the noise added to the moons"},
        {"--train", EX_INT, &ntrain, "training samples"},
        {"--test", EX_INT, &ntest, "test samples"},
        {"--seed", EX_INT, &seed, "seed of the data, the weights and the shuffling"},
    };
    EX_PARSE(argc, argv, "A 2-16-1 network separates two half moons.", flags);
    ex_require_training(argv[0], epochs, batch, lr);
    ex_require(noise >= 0, argv[0], "--noise", "0 or more", (double)noise);
    ex_require(ntrain >= 1, argv[0], "--train", "at least 1", (double)ntrain);
    ex_require(ntest >= 1, argv[0], "--test", "at least 1", (double)ntest);

    tg_rng rng;
    tg_rng_seed(&rng, (uint64_t)seed);
    tg_dataset train, test;
    if (make_moons(&train, ntrain, noise, &rng) || make_moons(&test, ntest, noise, &rng)) return 1;
    /* Standardize each feature with the training set's mean and std. */
    double mean[2], sd[2];
    tg_dataset_stats(&train, true, mean, sd);
    tg_dataset_standardize(&train, true, mean, sd);
    tg_dataset_standardize(&test, true, mean, sd);

    tg_params *ps = tg_params_new(TG_F32);
    tg_sequential *net = tg_mlp_new(ps, "mlp", (int64_t[]){2, 16, 1}, 3, TG_ACT_TANH, TG_ACT_SIGMOID, &rng);
    tg_optim *opt = tg_adam_new(ps, lr, NULL);
    tg_batcher b;
    if (!net || !opt || tg_batcher_init(&b, &train, batch, true, (uint64_t)seed)) {
        fprintf(stderr, "setup: %s\n", tg_last_error());
        return 1;
    }
    printf("two moons: %lld training and %lld test points, noise %g\n", (long long)train.n,
           (long long)test.n, noise);
    printf("model: 2-16-1, tanh, sigmoid output, %lld parameters; Adam lr %g, batch %ld\n\n",
           (long long)tg_params_numel(ps), lr, batch);

    tg_tape *tape = tg_tape_new();
    double first = -1, last = 0;
    for (long epoch = 1; epoch <= epochs; epoch++) {
        double sum = 0;
        int64_t n, steps = 0;
        const int64_t *idx;
        while ((n = tg_batcher_next(&b, &idx)) > 0) {
            tg_tensor *x = tg_dataset_batch_x(tape, &train, n, idx, TG_F32, true); /* [n, 2] */
            tg_tensor *p = tg_sequential_forward(net, x);                         /* [n, 1] */
            tg_tensor *loss = tg_bce_loss(p, targets(tape, &train, n, idx), TG_REDUCE_MEAN);
            tg_optim_zero_grad(opt);
            tg_backward(loss);
            if (!tg_tape_ok(tape)) {
                fprintf(stderr, "error: %s\n", tg_tape_error(tape));
                return 1;
            }
            tg_optim_step(opt);
            sum += tg_item(loss);
            steps++;
            tg_tape_reset(tape);
        }
        last = sum / (double)steps;
        if (first < 0) first = last;
        if (epoch == 1 || epoch % 5 == 0 || epoch == epochs)
            printf("epoch %3ld  loss %.4f  train accuracy %.3f  test accuracy %.3f\n", epoch, last,
                   accuracy(tape, net, &train), accuracy(tape, net, &test));
    }

    /* The decision boundary: the model's class over a grid of the plane
     * ('.' class 0, ':' class 1), with the test points on top
     * ('o' class 0, 'x' class 1; upper case when misclassified). */
    enum { W = 64, H = 24 };
    char grid[H][W + 1];
    tg_tape_set_grad_enabled(tape, false);
    float pts[W * H * 2];
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) {
            pts[2 * (r * W + c)] = (float)(-2.2 + 4.4 * c / (W - 1));
            pts[2 * (r * W + c) + 1] = (float)(2.2 - 4.4 * r / (H - 1));
        }
    tg_tensor *pg = tg_sequential_forward(net, tg_tensor_new(tape, TG_F32, TG_SHAPE(W * H, 2), pts));
    for (int r = 0; r < H; r++) {
        for (int c = 0; c < W; c++) grid[r][c] = tg_tensor_get(pg, r * W + c) > 0.5 ? ':' : '.';
        grid[r][W] = 0;
    }
    tg_tensor *pt = tg_sequential_forward(net, tg_dataset_batch_x(tape, &test, test.n, NULL, TG_F32, true));
    for (int64_t i = 0; i < test.n; i += 3) {
        int c = (int)lround((test.x[2 * i] + 2.2) / 4.4 * (W - 1));
        int r = (int)lround((2.2 - test.x[2 * i + 1]) / 4.4 * (H - 1));
        if (c < 0 || c >= W || r < 0 || r >= H) continue;
        bool right = (tg_tensor_get(pt, i) > 0.5) == (test.y[i] == 1);
        grid[r][c] = test.y[i] ? (right ? 'x' : 'X') : (right ? 'o' : 'O');
    }
    printf("\ndecision boundary (standardized coordinates, every third test point):\n");
    for (int r = 0; r < H; r++) printf("  %s\n", grid[r]);
    tg_tape_reset(tape);
    printf("\ntrain_accuracy: %.4f\ntest_accuracy: %.4f\n", accuracy(tape, net, &train),
           accuracy(tape, net, &test));
    int bad = ex_loss_report(first, last);

    tg_tape_free(tape);
    tg_batcher_free(&b);
    tg_optim_free(opt);
    tg_params_free(ps);
    tg_dataset_free(&train);
    tg_dataset_free(&test);
    return bad;
}
