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
#include "fashion.h"

/* The model's forward pass, as ex_accuracy calls it. */
static tg_tensor *forward(void *net, tg_tensor *x) { return tg_sequential_forward(net, x); }

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
    ex_fashion_require(argv[0], epochs, batch, lr, threads, limit, test_limit);
    ex_require(hidden >= 1, argv[0], "--hidden", "at least 1", (double)hidden);
    if (threads > 0) tg_set_num_threads((int)threads);

    /* The data: pixels scaled to [0, 1] and standardized, labels 0..9
     * (fashion.h). --limit and --test-limit read the first images only. */
    tg_dataset train, test;
    double mean, sd;
    int st = ex_fashion_load("fashion_mnist", data, limit, test_limit, &train, &test, &mean, &sd);
    if (st) return st;
    /* The model and its optimizer. */
    tg_rng rng;
    tg_rng_seed(&rng, (uint64_t)seed);
    tg_params *ps = tg_params_new(TG_F32);
    tg_sequential *net = tg_mlp_new(ps, NULL, (int64_t[]){train.dim, hidden, 10}, 3, TG_ACT_RELU,
                                    TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, lr, NULL);
    tg_batcher b;
    if (!net || !opt || tg_batcher_init(&b, &train, batch, true, (uint64_t)seed)) {
        fprintf(stderr, "fashion_mnist: %s\n", tg_last_error());
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
    ex_losses losses = {0};
    double acc = 0, t0 = ex_now();
    for (long epoch = 1; epoch <= epochs; epoch++) {
        ex_progress bar;
        ex_progress_start(&bar, epoch, epochs, (long)tg_batcher_count(&b), t0);
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

            ex_losses_add(&losses, l);
            ex_csv_row(log, losses.steps, epoch, l);
            sum += l;
            nb++;
            seen += (long)n;
            ex_progress_draw(&bar, nb, sum / (double)nb, seen);
        }
        acc = ex_accuracy(tape, forward, net, &test, 1000);
        printf("epoch %ld/%ld: train loss %.4f, test accuracy %.4f, %.1f s\n", epoch, epochs,
               sum / (double)nb, acc, ex_now() - t0);
    }
    printf("trained in %.1f s\n", ex_now() - t0);
    if (log) fclose(log);

    /* The file alone is enough to use the model: the parameters under the
     * names of PyTorch's nn.Sequential(Linear, ReLU, Linear), and in
     * __metadata__ the architecture and the input's normalization. */
    if (save) {
        char smean[32], ssd[32], sarch[128], swidths[64], sacc[32];
        snprintf(smean, sizeof smean, "%.9g", mean);
        snprintf(ssd, sizeof ssd, "%.9g", sd);
        snprintf(sarch, sizeof sarch, "Sequential(Linear(%lld, %ld), ReLU(), Linear(%ld, 10))",
                 (long long)train.dim, hidden, hidden);
        snprintf(swidths, sizeof swidths, "%lld,%ld,10", (long long)train.dim, hidden);
        snprintf(sacc, sizeof sacc, "%.4f", acc);
        const char *meta[] = {
            "architecture", sarch, "widths", swidths, "activation", "relu",
            "input", "x = (pixels / 255 - mean) / std, pixels [n, 784] row by row",
            "mean", smean, "std", ssd,
            "classes", "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot",
            "test_accuracy", sacc,
        };
        if (ex_save_params("fashion_mnist", save, ps, 8, meta)) return 1;
    }

    int bad = ex_loss_report(losses.first, ex_losses_last(&losses));
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
