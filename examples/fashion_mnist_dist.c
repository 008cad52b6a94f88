/* fashion_mnist_dist.c - the flagship (fashion_mnist.c: a 784-100-10 MLP,
 * Adam, cosine schedule) trained by many processes at once over MPI, as
 * PyTorch's DistributedDataParallel: every rank holds the model, takes its
 * slice of each global batch, and the gradients are averaged before every
 * step (tg_dist.h). The result is the one-process run's, up to rounding.
 *
 *     mpirun -np 2 ./build/examples/fashion_mnist_dist
 *
 * (as root add --allow-run-as-root; more ranks than cores: --oversubscribe;
 * README.md, "Many processes, many machines", has the cluster form.)
 *
 * Shows: starting MPI (tg_dist_init), the same model everywhere (built
 * from one seed, then rank 0's values broadcast), sharded batches
 * (tg_dist_batcher), gradient averaging in buckets that overlaps the
 * backward sweep (tg_ddp), metrics summed over ranks (mean loss, test
 * accuracy with each rank counting its share of the test set), and
 * checkpoints that resume exactly: --checkpoint F --every K writes the
 * model, Adam's state, the step and the data position every K steps (rank
 * 0 writes, atomically; the others wait), and --resume continues from F so
 * that the final parameters equal an uninterrupted run's bit for bit.
 *
 * --die-at S --die-rank R makes rank R kill itself (SIGKILL) before step S:
 * how the tests (tests/dist_run.py) show that the job then ends, and that
 * --resume continues exactly.
 *
 * Output (rank 0) ends as the flagship's: loss_first:, loss_last:,
 * test_accuracy:. Exit status: 0; 1 on an error (on every rank, with the
 * same sentence when a rank failed) or when the loss did not fall; 77 when
 * the data set is not found.
 */
#include <tapegrad.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "fashion.h"

/* Every rank classifies its share of d; returns the accuracy over all. */
static double dist_accuracy(tg_dist *dist, tg_tape *tape, tg_sequential *net, const tg_dataset *d) {
    bool was = tg_tape_set_grad_enabled(tape, false);
    int r = tg_dist_rank(dist), p = tg_dist_size(dist);
    int64_t lo = r * d->n / p, hi = (r + 1) * d->n / p;
    double count[2] = {0, (double)d->n};
    for (int64_t i = lo; i < hi; i += 1000) {
        int64_t n = hi - i < 1000 ? hi - i : 1000, idx[1000];
        for (int64_t k = 0; k < n; k++) idx[k] = i + k;
        tg_tensor *x = tg_dataset_batch_x(tape, d, n, idx, TG_F32, true);
        tg_tensor *pred = tg_argmax(tg_sequential_forward(net, x), 1, false); /* [n] i64 */
        const int64_t *pr = tg_tensor_i64(pred);
        for (int64_t k = 0; pr && k < n; k++) count[0] += pr[k] == d->y[idx[k]];
        tg_tape_reset(tape);
    }
    tg_tape_set_grad_enabled(tape, was);
    tg_dist_allreduce(dist, count, 1, TG_DIST_SUM); /* correct answers of all ranks */
    return count[1] > 0 ? count[0] / count[1] : 0;
}

static bool finalized;

/* Stops this rank with a sentence (the same on every rank when they agreed
 * on a failure); returns the exit status. */
static int fail(tg_dist *dist, const char *what) {
    fprintf(stderr, "fashion_mnist_dist: rank %d: %s\n", tg_dist_rank(dist), what);
    tg_dist_finalize(dist);
    finalized = true;
    return 1;
}

int main(int argc, char **argv) {
    tg_dist *dist;
    if (tg_dist_init(&argc, &argv, &dist) != TG_OK) {
        fprintf(stderr, "fashion_mnist_dist: %s\n", tg_last_error());
        return 1;
    }
    const char *data_dir = "/usr/share/datasets/fashion-mnist", *save = NULL, *ckpt = NULL;
    long test_limit = 0, epochs = 8, global_batch = 128, width = 100, threads = 1, seed = 1, limit = 0;
    double lr = 2e-3;
    long every = 0, die_at = 0, die_rank = 1, bucket_mb = 25;
    int resume = 0;
    const ex_flag flag_table[] = {
        {"--data", EX_STRING, &data_dir, "the Fashion-MNIST IDX files' directory (every rank reads it)"},
        {"--batch", EX_INT, &global_batch, "samples per step, over all ranks (the global batch)"},
        {"--epochs", EX_INT, &epochs, "training epochs"},
        {"--hidden", EX_INT, &width, "width of the hidden layer"},
        {"--lr", EX_DOUBLE, &lr, "Adam's learning rate (cosine-annealed to 0)"},
        {"--seed", EX_INT, &seed, "seed of the weights and of the shuffled order"},
        {"--threads", EX_INT, &threads, "threads per rank for the big kernels"},
        {"--limit", EX_INT, &limit, "train on the first N images only (0: all)"},
        {"--test-limit", EX_INT, &test_limit, "test on the first N images only (0: all)"},
        {"--bucket-mb", EX_INT, &bucket_mb, "gradient bucket size in MB"},
        {"--save", EX_STRING, &save, "write the trained model to this .safetensors file (rank 0)"},
        {"--checkpoint", EX_STRING, &ckpt, "checkpoint file (model, Adam, step, data position)"},
        {"--every", EX_INT, &every, "write the checkpoint every N steps (0: after each epoch)"},
        {"--resume", EX_BOOL, &resume, "continue from --checkpoint"},
        {"--die-at", EX_INT, &die_at, "testing: before this step (from 1), --die-rank kills itself"},
        {"--die-rank", EX_INT, &die_rank, "testing: the rank that --die-at kills"},
    };
    EX_PARSE(argc, argv, "The 784-100-10 MLP on Fashion-MNIST, data-parallel over MPI ranks.",
             flag_table);
    int rank = tg_dist_rank(dist), size = tg_dist_size(dist);
    if (threads > 0) tg_set_num_threads((int)threads);
    if (rank != 0 && !freopen("/dev/null", "w", stdout)) return fail(dist, "cannot silence stdout");

    tg_dataset train, test;
    double mean, sd; /* the normalization, stored with a saved model */
    int st = ex_fashion_load("fashion_mnist_dist", data_dir, limit, test_limit, &train, &test,
                             &mean, &sd);
    if (st) {
        tg_dist_finalize(dist);
        return st;
    }

    /* The model, the same on every rank: one seed, then rank 0's values. */
    tg_rng rng;
    tg_rng_seed(&rng, (uint64_t)seed);
    tg_params *ps = tg_params_new(TG_F32);
    tg_sequential *net = tg_mlp_new(ps, "mlp", (int64_t[]){train.dim, width, 10}, 3, TG_ACT_RELU,
                                    TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, lr, NULL);
    if (!net || !opt) return fail(dist, tg_last_error());
    if (tg_dist_broadcast_params(dist, ps, true) != TG_OK) return fail(dist, tg_last_error());
    tg_ddp *ddp = tg_ddp_new(dist, ps, (size_t)bucket_mb << 20);
    tg_dist_batcher b;
    if (!ddp ||
        tg_dist_batcher_init(&b, &train, global_batch, true, (uint64_t)seed, rank, size) != TG_OK)
        return fail(dist, tg_last_error());
    long total = (long)(epochs * tg_dist_batcher_count(&b));
    tg_sched *sched = tg_sched_cosine_new(opt, (int)total, 0.0);
    if (!sched) return fail(dist, "bad schedule (--epochs)");

    /* Resume: model and Adam's state from the file on every rank, then the
     * step (the schedule replays it) and the data position. */
    tg_params *lists[] = {ps, tg_optim_state(opt)};
    long step = 0;
    if (resume && ckpt) {
        if (tg_dist_checkpoint_load(dist, ckpt, 2, lists, true) != TG_OK)
            return fail(dist, tg_last_error());
        tg_checkpoint *ck;
        if (tg_checkpoint_open(ckpt, &ck) != TG_OK) return fail(dist, tg_last_error());
        const char *sstep = tg_checkpoint_meta(ck, "step"), *pos = tg_checkpoint_meta(ck, "batcher");
        step = sstep ? strtol(sstep, NULL, 10) : -1;
        st = pos && step >= 0 ? tg_dist_batcher_restore(&b, pos) : TG_ERR_FORMAT;
        tg_checkpoint_close(ck);
        if (st != TG_OK) return fail(dist, "the checkpoint has no step or data position");
        for (long i = 0; i < step; i++) tg_sched_step(sched);
        printf("resumed from %s at step %ld\n", ckpt, step);
    }
    printf("Fashion-MNIST on %d ranks: %lld training images, global batch %ld (%ld per rank), "
           "%d buckets\n", size, (long long)train.n, global_batch, global_batch / size, tg_ddp_buckets(ddp));

    tg_tape *tape = tg_tape_new();
    ex_losses losses = {0};
    double acc = 0, t0 = ex_now();
    int status = 0;
    for (long epoch = b.all.epoch; epoch <= epochs && !status; epoch = b.all.epoch) {
        double sums[2] = {0, 0}; /* this rank's sum of loss * samples, samples */
        const int64_t *idx;
        int64_t n, global;
        while (!status && (n = tg_dist_batcher_next(&b, &idx, &global)) > 0) {
            if (die_at == step + 1 && die_rank == rank) {
                fprintf(stderr, "fashion_mnist_dist: rank %d kills itself before step %ld\n", rank,
                        step + 1);
                fflush(stderr);
                raise(SIGKILL);
            }
            tg_tensor *x = tg_dataset_batch_x(tape, &train, n, idx, TG_F32, true); /* [n, 784] */
            tg_tensor *y = tg_dataset_batch_y(tape, &train, n, idx);               /* [n] */
            tg_tensor *loss = tg_cross_entropy(tg_sequential_forward(net, x), y, TG_REDUCE_MEAN,
                                               TG_IGNORE_INDEX, 0.0);
            tg_optim_zero_grad(opt);
            tg_ddp_begin(ddp, (double)n); /* weighted by its samples: the global mean */
            tg_backward(loss);            /* buckets start as their gradients finish */
            if (tg_ddp_sync(ddp, tape) != TG_OK) {
                status = fail(dist, tg_last_error()); /* the same sentence on every rank */
                break;
            }
            tg_optim_step(opt);
            tg_sched_step(sched);
            double l = tg_item(loss);
            tg_tape_reset(tape);
            step++;
            /* The loss of the global batch, for the log: one small sum. */
            double gl[1] = {l * (double)n / (double)global};
            tg_dist_allreduce(dist, gl, 1, TG_DIST_SUM);
            ex_losses_add(&losses, gl[0]);
            sums[0] += l * (double)n;
            sums[1] += (double)n;
            bool last = b.all.pos >= b.all.n && epoch == epochs;
            if (ckpt && ((every > 0 && step % every == 0) || last)) {
                char pos[128], sstep[32];
                tg_dist_batcher_state(&b, pos, sizeof pos);
                snprintf(sstep, sizeof sstep, "%ld", step);
                const char *meta[] = {"step", sstep, "batcher", pos};
                if (tg_dist_checkpoint_save(dist, ckpt, 2, lists, 2, meta))
                    status = fail(dist, tg_last_error());
            }
        }
        if (status) break;
        if (sums[1] == 0) continue; /* resumed at an epoch's end */
        tg_dist_allreduce(dist, sums, 2, TG_DIST_SUM); /* mean loss over all ranks */
        acc = dist_accuracy(dist, tape, net, &test);
        printf("epoch %ld/%ld: train loss %.4f, test accuracy %.4f, %.1f s\n", epoch, epochs,
               sums[0] / sums[1], acc, ex_now() - t0);
    }
    if (!status) {
        printf("trained in %.1f s on %d ranks\n", ex_now() - t0, size);
        char smean[32], ssd[32];
        snprintf(smean, sizeof smean, "%.9g", mean);
        snprintf(ssd, sizeof ssd, "%.9g", sd);
        const char *meta[] = {"input", "x = (pixels / 255 - mean) / std", "mean", smean,
                              "std", ssd};
        if (save && rank == 0 && ex_save_params("fashion_mnist_dist", save, ps, 3, meta))
            status = 1;
        if (!status) status = ex_loss_report(losses.first, ex_losses_last(&losses));
        printf("test_accuracy: %.4f\n", acc);
    }
    tg_tape_free(tape);
    tg_dist_batcher_free(&b);
    tg_sched_free(sched);
    tg_ddp_free(ddp);
    tg_optim_free(opt);
    tg_params_free(ps);
    tg_dataset_free(&train);
    tg_dataset_free(&test);
    if (!finalized && tg_dist_finalize(dist) != TG_OK) status = 1;
    return status;
}
