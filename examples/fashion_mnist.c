/* fashion_mnist.c - the flagship: a 784-100-10 MLP learns to tell apart
 * ten kinds of clothing from 28x28 grey images (Fashion-MNIST: 60000
 * training and 10000 test images).
 *
 *     image [784] -> Linear(784, 100) -> ReLU -> Linear(100, 10) -> logits
 *     loss = cross entropy(logits, label), Adam, shuffled mini-batches,
 *     the learning rate annealed along a cosine from --lr to 0 over the run
 *
 * Shows: reading the IDX files (gzip'd) with tg_mnist_load_dir, scaling
 * and standardizing the pixels, a training loop over tg_batcher batches,
 * a progress bar, evaluation without recording, test accuracy after each
 * epoch, saving the model as safetensors (loadable in Python), and a
 * per-step loss log as CSV (docs/plot_loss.py draws it).
 *
 * Build and run: ninja -C build && ./build/examples/fashion_mnist
 * (Debian: apt-get install dataset-fashion-mnist puts the data in
 * /usr/share/datasets/fashion-mnist; --data DIR points elsewhere.)
 *
 * The output ends with two lines the tests read, then exactly one more:
 *     loss_first: <loss of the first step>
 *     loss_last: <mean loss of the last 10 steps>
 *     test_accuracy: <fraction of the test set classified correctly>
 * Exit status: 0, or 1 on an error or when the loss did not fall, or 77
 * when the data set is not found (meson counts that as a skipped test).
 */
#include <tapegrad.h>

#include <stdio.h>

#include "common.h"

/* Fraction of d classified correctly, in batches of 1000 taken in order,
 * without recording (no gradients are needed to evaluate). */
static double evaluate(tg_tape *tape, tg_sequential *net, const tg_dataset *d) {
    bool was = tg_tape_set_grad_enabled(tape, false);
    tg_batcher b;
    if (tg_batcher_init(&b, d, 1000, false, 0, NULL, 0) != TG_OK) return 0;
    int64_t correct = 0, n;
    const int64_t *idx;
    while ((n = tg_batcher_next(&b, &idx)) > 0) {
        tg_tensor *x = tg_dataset_batch_x(tape, d, n, idx, TG_F32, true);
        tg_tensor *pred = tg_argmax(tg_sequential_forward(net, x), 1, false); /* [n] i64 */
        const int64_t *p = tg_tensor_i64(pred);
        for (int64_t i = 0; p && i < n; i++) correct += p[i] == d->y[idx[i]];
        tg_tape_reset(tape);
    }
    tg_batcher_free(&b);
    tg_tape_set_grad_enabled(tape, was);
    return d->n ? (double)correct / (double)d->n : 0;
}

int main(int argc, char **argv) {
    const char *data = "/usr/share/datasets/fashion-mnist", *save = NULL, *csv = NULL;
    long test_limit = 0, epochs = 8, batch = 128, hidden = 100, threads = 0, seed = 1, limit = 0;
    double lr = 2e-3;
    const ex_flag flags[] = {
        {"--data", EX_STRING, &data, "directory with the four IDX files (.gz or not)"},
        {"--epochs", EX_INT, &epochs, "passes over the training set"},
        {"--batch", EX_INT, &batch, "samples per step"},
        {"--lr", EX_DOUBLE, &lr, "Adam's learning rate"},
        {"--hidden", EX_INT, &hidden, "hidden units"},
        {"--threads", EX_INT, &threads, "threads for the big kernels (0: TG_NUM_THREADS or all cores)"},
        {"--seed", EX_INT, &seed, "seed of the weights and the shuffling"},
        {"--limit", EX_INT, &limit, "use only the first N training images (0: all)"},
        {"--test-limit", EX_INT, &test_limit, "evaluate on the first N test images only (0: all)"},
        {"--save", EX_STRING, &save, "write the trained model to this .safetensors file"},
        {"--loss-csv", EX_STRING, &csv, "write the loss of every step to this CSV file"},
    };
    EX_PARSE(argc, argv, "A 784-100-10 MLP on Fashion-MNIST.", flags);
    if (threads > 0) tg_set_num_threads((int)threads);

    /* The data: float pixels 0..255 scaled to [0, 1], labels 0..9. */
    char err[512];
    tg_dataset train, test;
    tg_status s = tg_mnist_load_dir(data, true, &train, err, sizeof err);
    if (s == TG_OK) s = tg_mnist_load_dir(data, false, &test, err, sizeof err);
    if (s != TG_OK) {
        fprintf(stderr, "fashion_mnist: %s\n", err);
        return s == TG_ERR_IO ? 77 : 1;
    }
    /* --limit and --test-limit keep the first images only (for quick runs). */
    if (limit > 0 && limit < train.n) train.n = limit;
    if (test_limit > 0 && test_limit < test.n) test.n = test_limit;
    /* Pixels 0..255 to [0, 1], then standardized with the training set's
     * mean and standard deviation (about 0.29 and 0.35): inputs centred on
     * 0 with unit spread make the first steps better conditioned. */
    double mean, sd;
    tg_dataset_scale(&train, 0, 255);
    tg_dataset_scale(&test, 0, 255);
    tg_dataset_stats(&train, false, &mean, &sd);
    tg_dataset_standardize(&train, false, &mean, &sd);
    tg_dataset_standardize(&test, false, &mean, &sd);

    /* The model and its optimizer. */
    tg_rng rng;
    tg_rng_seed(&rng, (uint64_t)seed);
    tg_params *ps = tg_params_new(TG_F32);
    tg_sequential *net = tg_mlp_new(ps, "mlp", (int64_t[]){train.dim, hidden, 10}, 3, TG_ACT_RELU,
                                    TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, lr, NULL);
    tg_batcher b;
    if (!net || !opt || tg_batcher_init(&b, &train, batch, true, (uint64_t)seed, err, sizeof err)) {
        fprintf(stderr, "fashion_mnist: %s %s\n", tg_params_error(ps), err);
        return 1;
    }
    /* Cosine annealing, stepped after every batch: large steps first, then
     * ever smaller ones that settle into a minimum. */
    tg_sched *sched = tg_sched_cosine_new(opt, (int)(epochs * tg_batcher_count(&b)), 0.0);
    if (!sched) {
        fprintf(stderr, "fashion_mnist: bad schedule (--epochs %ld)\n", epochs);
        return 1;
    }
    printf("Fashion-MNIST: %lld training images, %lld test images, %lldx%lld pixels\n",
           (long long)train.n, (long long)test.n, (long long)train.shape[0], (long long)train.shape[1]);
    printf("model: %lld-%ld-10 MLP, ReLU, %lld parameters; Adam lr %g (cosine to 0), batch %ld, %d threads\n\n",
           (long long)train.dim, hidden, (long long)tg_params_numel(ps), lr, batch, tg_get_num_threads());

    FILE *log = ex_csv_open(csv);
    tg_tape *tape = tg_tape_new();
    double first = 0, recent[10] = {0}, acc = 0, t0 = ex_now();
    long step = 0;
    for (long epoch = 1; epoch <= epochs; epoch++) {
        ex_progress bar;
        ex_progress_start(&bar, epoch, epochs, (long)tg_batcher_count(&b));
        double sum = 0;
        long nb = 0, seen = 0;
        int64_t n;
        const int64_t *idx;
        while ((n = tg_batcher_next(&b, &idx)) > 0) {
            tg_tensor *x = tg_dataset_batch_x(tape, &train, n, idx, TG_F32, true); /* [n, 784] */
            tg_tensor *y = tg_dataset_batch_y(tape, &train, n, idx);               /* [n] i64 */
            tg_tensor *logits = tg_sequential_forward(net, x);                     /* [n, 10] */
            tg_tensor *loss = tg_cross_entropy(logits, y, TG_REDUCE_MEAN, TG_IGNORE_INDEX, 0.0);
            tg_optim_zero_grad(opt);
            tg_backward(loss);
            if (!tg_tape_ok(tape)) {
                fprintf(stderr, "\nerror: %s\n", tg_tape_error(tape));
                return 1;
            }
            tg_optim_step(opt);
            tg_sched_step(sched);
            double l = tg_item(loss);
            tg_tape_reset(tape);

            if (step == 0) first = l;
            recent[step % 10] = l;
            step++;
            ex_csv_row(log, step, epoch, l);
            sum += l;
            nb++;
            seen += (long)n;
            ex_progress_draw(&bar, nb, sum / (double)nb, seen);
        }
        acc = evaluate(tape, net, &test);
        printf("epoch %ld/%ld: train loss %.4f, test accuracy %.4f, %.1f s\n", epoch, epochs,
               sum / (double)nb, acc, ex_now() - t0);
    }
    double last = 0;
    int k = step < 10 ? (int)step : 10;
    for (int i = 0; i < k; i++) last += recent[i] / k;
    printf("trained in %.1f s\n", ex_now() - t0);
    if (log) fclose(log);

    if (save) {
        int np = tg_params_count(ps);
        const char *names[16];
        tg_tensor *ts[16];
        for (int i = 0; i < np && i < 16; i++) names[i] = tg_params_name(ps, i), ts[i] = tg_params_at(ps, i);
        if (tg_checkpoint_save(save, np, names, ts, 0, NULL, err, sizeof err) != TG_OK) {
            fprintf(stderr, "fashion_mnist: %s\n", err);
            return 1;
        }
        printf("saved %d tensors to %s\n", np, save);
    }

    int bad = ex_loss_report(first, last);
    printf("test_accuracy: %.4f\n", acc);
    tg_tape_free(tape);
    tg_batcher_free(&b);
    tg_sched_free(sched);
    tg_optim_free(opt);
    tg_params_free(ps);
    tg_dataset_free(&train);
    tg_dataset_free(&test);
    return bad;
}
