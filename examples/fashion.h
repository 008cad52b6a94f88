/* fashion.h - what the two Fashion-MNIST examples (fashion_mnist.c, an MLP,
 * and fashion_cnn.c, a CNN) share, so that each file shows only its model
 * and its training loop: loading and standardizing the data, measuring the
 * test accuracy, the running loss, and saving the trained parameters.
 * Not part of the library; everything is static. */
#ifndef TG_EXAMPLES_FASHION_H
#define TG_EXAMPLES_FASHION_H

#include <tapegrad.h>

#include <stdio.h>

#include "common.h"

/* Loads the training and test sets from `dir`, only the first `limit` and
 * `test_limit` images when those are > 0 (for quick runs: the rest of the
 * gzip'd files is then never inflated), scales pixels
 * 0..255 to [0, 1] and standardizes both sets with the training set's mean
 * and standard deviation (about 0.29 and 0.35, stored in *mean and *sd):
 * inputs centred on 0 with unit spread make the first steps better
 * conditioned. Returns 0, or the exit status after printing why: 77
 * (skipped) when the files are not there or are gzip'd and the build has
 * no zlib, 1 otherwise. */
static inline int ex_fashion_load(const char *prog, const char *dir, long limit, long test_limit,
                                  tg_dataset *train, tg_dataset *test, double *mean, double *sd) {
    tg_status s = limit > 0 ? tg_mnist_load_dir_first(dir, true, limit, train)
                            : tg_mnist_load_dir(dir, true, train);
    if (s == TG_OK) {
        s = test_limit > 0 ? tg_mnist_load_dir_first(dir, false, test_limit, test)
                           : tg_mnist_load_dir(dir, false, test);
        if (s != TG_OK) tg_dataset_free(train);
    }
    if (s != TG_OK) {
        fprintf(stderr, "%s: %s\n", prog, tg_last_error());
#if !defined(TG_HAVE_ZLIB) /* the gzip'd data set, unreadable here (-Dzlib=disabled) */
        if (s == TG_ERR_FORMAT) return 77;
#endif
        return s == TG_ERR_IO ? 77 : 1;
    }
    tg_dataset_scale(train, 0, 255);
    tg_dataset_scale(test, 0, 255);
    tg_dataset_stats(train, false, mean, sd);
    tg_dataset_standardize(train, false, mean, sd);
    tg_dataset_standardize(test, false, mean, sd);
    return 0;
}

/* The ranges of the flags both Fashion-MNIST examples have (exit 2 when
 * out of range, as ex_parse): ex_require_training's, and --threads,
 * --limit, --test-limit 0 or more. */
static inline void ex_fashion_require(const char *prog, long epochs, long batch, double lr,
                                      long threads, long limit, long test_limit) {
    ex_require_training(prog, epochs, batch, lr);
    ex_require(threads >= 0, prog, "--threads", "0 or more", (double)threads);
    ex_require(limit >= 0, prog, "--limit", "0 or more", (double)limit);
    ex_require(test_limit >= 0, prog, "--test-limit", "0 or more", (double)test_limit);
}

/* A model's forward pass: images x [n, dim] -> logits [n, 10]. */
typedef tg_tensor *(*ex_forward_fn)(void *model, tg_tensor *x);

/* The fraction of d that the model classifies correctly, in batches taken
 * in order, with recording off (no gradients are needed to evaluate). */
static inline double ex_accuracy(tg_tape *tape, ex_forward_fn forward, void *model,
                                 const tg_dataset *d, int64_t batch) {
    bool was = tg_tape_set_grad_enabled(tape, false);
    tg_batcher b;
    if (tg_batcher_init(&b, d, batch, false, 0) != TG_OK) return 0;
    int64_t correct = 0, n;
    const int64_t *idx;
    while ((n = tg_batcher_next(&b, &idx)) > 0) {
        tg_tensor *x = tg_dataset_batch_x(tape, d, n, idx, TG_F32, true);
        tg_tensor *pred = tg_argmax(forward(model, x), 1, false); /* [n] i64 */
        const int64_t *p = tg_tensor_i64(pred);
        for (int64_t i = 0; p && i < n; i++) correct += p[i] == d->y[idx[i]];
        tg_tape_reset(tape);
    }
    tg_batcher_free(&b);
    tg_tape_set_grad_enabled(tape, was);
    return d->n ? (double)correct / (double)d->n : 0;
}

/* The loss as training goes: the first step's, and the mean of the last
 * ten (what ex_loss_report compares). */
typedef struct ex_losses {
    double first, recent[10];
    long steps;
} ex_losses;

static inline void ex_losses_add(ex_losses *l, double loss) {
    if (l->steps == 0) l->first = loss;
    l->recent[l->steps % 10] = loss;
    l->steps++;
}

static inline double ex_losses_last(const ex_losses *l) {
    int k = l->steps < 10 ? (int)l->steps : 10;
    double last = 0;
    for (int i = 0; i < k; i++) last += l->recent[i] / k;
    return last;
}

/* Writes every parameter of ps to a .safetensors file under its name, with
 * nmeta (key, value) string pairs in meta as its "__metadata__" (what a
 * reader needs to use the file alone). Returns 0, or 1 after printing why. */
static inline int ex_save_params(const char *prog, const char *path, tg_params *ps, int nmeta,
                                 const char *const *meta) {
    int np = tg_params_count(ps);
    const char *names[16];
    tg_tensor *ts[16];
    if (np > 16) {
        fprintf(stderr, "%s: too many parameters to save (%d)\n", prog, np);
        return 1;
    }
    for (int i = 0; i < np; i++) names[i] = tg_params_name(ps, i), ts[i] = tg_params_at(ps, i);
    if (tg_checkpoint_save(path, np, names, ts, nmeta, meta) != TG_OK) {
        fprintf(stderr, "%s: %s\n", prog, tg_last_error());
        return 1;
    }
    printf("saved %d tensors to %s\n", np, path);
    return 0;
}

#endif
