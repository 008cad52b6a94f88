/* fashion_cnn.c - a small convolutional network on Fashion-MNIST.
 *
 *     image [1, 28, 28]
 *       -> Conv2d(1, 16, 3x3, padding 1) -> ReLU -> MaxPool 2x2   [16, 14, 14]
 *       -> Conv2d(16, 32, 3x3, padding 1) -> ReLU -> MaxPool 2x2  [32, 7, 7]
 *       -> flatten [1568] -> Linear(1568, 128) -> ReLU -> Linear(128, 10)
 *     loss = cross entropy, Adam with the learning rate annealed along a
 *     cosine to 0, shuffled mini-batches
 *
 * A convolution slides small learned filters over the image, so the same
 * edge or texture detector works everywhere in it; pooling keeps the
 * strongest answer of each 2x2 patch. The forward pass is written out op
 * by op below (tg_conv2d, tg_relu, tg_max_pool2d, tg_flatten, ...): the
 * tape records each, and tg_backward runs them backwards.
 *
 * Build and run: ninja -C build && ./build/examples/fashion_cnn
 * Same flags and last lines as fashion_mnist (loss_first:, loss_last:,
 * test_accuracy:); exit 77 when the data set is not found.
 */
#include <tapegrad.h>

#include <stdio.h>

#include "common.h"
#include "fashion.h"

typedef struct cnn {
    tg_params *ps;
    tg_conv2d_layer *conv1, *conv2;
    tg_linear *fc1, *fc2;
} cnn;

/* x [n, 784] -> logits [n, 10]. */
static tg_tensor *cnn_forward(void *model, tg_tensor *x) {
    cnn *m = model;
    const tg_pool_opts pool = {.kernel = {2, 2}};
    int64_t n = tg_tensor_dim(x, 0);
    x = tg_reshape(x, TG_SHAPE(n, 1, 28, 28));                               /* [n, 1, 28, 28]  */
    x = tg_max_pool2d(tg_relu(tg_layer_forward(&m->conv1->base, x)), &pool); /* [n, 16, 14, 14] */
    x = tg_max_pool2d(tg_relu(tg_layer_forward(&m->conv2->base, x)), &pool); /* [n, 32, 7, 7]   */
    x = tg_flatten(x, 1, -1);                                                /* [n, 1568]       */
    x = tg_relu(tg_linear_forward(m->fc1, x));                               /* [n, 128]        */
    return tg_linear_forward(m->fc2, x);                                     /* [n, 10]         */
}

int main(int argc, char **argv) {
    const char *data = "/usr/share/datasets/fashion-mnist", *save = NULL, *csv = NULL;
    long test_limit = 0, epochs = 6, batch = 64, threads = 0, seed = 1, limit = 0;
    double lr = 2e-3;
    const ex_flag flags[] = {
        {"--data", EX_STRING, &data, "directory with the four IDX files (.gz or not)"},
        {"--epochs", EX_INT, &epochs, "passes over the training set"},
        {"--batch", EX_INT, &batch, "samples per step"},
        {"--lr", EX_DOUBLE, &lr, "Adam's learning rate"},
        {"--threads", EX_INT, &threads, "threads for the big kernels (0: TG_NUM_THREADS or all cores)"},
        {"--seed", EX_INT, &seed, "seed of the weights and the shuffling"},
        {"--limit", EX_INT, &limit, "use only the first N training images (0: all)"},
        {"--test-limit", EX_INT, &test_limit, "evaluate on the first N test images only (0: all)"},
        {"--save", EX_STRING, &save, "write the trained model to this .safetensors file"},
        {"--loss-csv", EX_STRING, &csv, "write the loss of every step to this CSV file"},
    };
    EX_PARSE(argc, argv, "A small CNN on Fashion-MNIST.", flags);
    ex_fashion_require(argv[0], epochs, batch, lr, threads, limit, test_limit);
    if (threads > 0) tg_set_num_threads((int)threads);

    /* The data, standardized as in fashion_mnist (fashion.h). */
    tg_dataset train, test;
    double mean, sd;
    int st = ex_fashion_load("fashion_cnn", data, limit, test_limit, &train, &test, &mean, &sd);
    if (st) return st;
    if (train.dim != 784 || test.dim != 784) {
        fprintf(stderr, "fashion_cnn: expected 28x28 images\n");
        return 1;
    }

    tg_rng rng;
    tg_rng_seed(&rng, (uint64_t)seed);
    cnn m;
    m.ps = tg_params_new(TG_F32);
    const tg_conv_opts same = {.padding = {1, 1}};
    m.conv1 = tg_conv2d_new(m.ps, "conv1", 1, 16, 3, 3, &same, true, &rng);
    m.conv2 = tg_conv2d_new(m.ps, "conv2", 16, 32, 3, 3, &same, true, &rng);
    m.fc1 = tg_linear_new(m.ps, "fc1", 32 * 7 * 7, 128, true, &rng);
    m.fc2 = tg_linear_new(m.ps, "fc2", 128, 10, true, &rng);
    tg_optim *opt = tg_adam_new(m.ps, lr, NULL);
    tg_batcher b;
    if (!m.conv1 || !m.conv2 || !m.fc1 || !m.fc2 || !opt ||
        tg_batcher_init(&b, &train, batch, true, (uint64_t)seed)) {
        fprintf(stderr, "fashion_cnn: %s\n", tg_last_error());
        return 1;
    }
    tg_sched *sched = tg_sched_cosine_new(opt, (int)(epochs * tg_batcher_count(&b)), 0.0);
    if (!sched) {
        fprintf(stderr, "fashion_cnn: bad schedule (--epochs %ld)\n", epochs);
        return 1;
    }
    printf("Fashion-MNIST: %lld training images, %lld test images\n", (long long)train.n,
           (long long)test.n);
    printf("model: conv16-pool-conv32-pool-fc128-fc10, %lld parameters; Adam lr %g (cosine to 0), "
           "batch %ld, %d threads\n\n",
           (long long)tg_params_numel(m.ps), lr, batch, tg_get_num_threads());

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
            tg_tensor *x = tg_dataset_batch_x(tape, &train, n, idx, TG_F32, true);
            tg_tensor *y = tg_dataset_batch_y(tape, &train, n, idx);
            tg_tensor *loss = tg_cross_entropy(cnn_forward(&m, x), y, TG_REDUCE_MEAN, TG_IGNORE_INDEX, 0.0);
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
        acc = ex_accuracy(tape, cnn_forward, &m, &test, 500);
        printf("epoch %ld/%ld: train loss %.4f, test accuracy %.4f, %.1f s\n", epoch, epochs,
               sum / (double)nb, acc, ex_now() - t0);
    }
    printf("trained in %.1f s\n", ex_now() - t0);
    if (log) fclose(log);

    if (save) {
        char smean[32], ssd[32];
        snprintf(smean, sizeof smean, "%.9g", mean);
        snprintf(ssd, sizeof ssd, "%.9g", sd);
        const char *meta[] = {"input", "x = (pixels / 255 - mean) / std, pixels [n, 1, 28, 28]",
                              "mean", smean, "std", ssd};
        if (ex_save_params("fashion_cnn", save, m.ps, 3, meta)) return 1;
    }

    int bad = ex_loss_report(losses.first, ex_losses_last(&losses));
    printf("test_accuracy: %.4f\n", acc);
    tg_tape_free(tape);
    tg_batcher_free(&b);
    tg_sched_free(sched);
    tg_optim_free(opt);
    tg_params_free(m.ps);
    tg_dataset_free(&train);
    tg_dataset_free(&test);
    return bad;
}
