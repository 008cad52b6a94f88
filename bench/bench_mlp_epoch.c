/* bench_mlp_epoch.c - one Fashion-MNIST epoch of the flagship recipe
 * (784-100-10 MLP, ReLU, Adam lr 1e-3, cross entropy, batch 64, shuffled
 * batches, f32) against PyTorch doing the same in the same run.
 * Prints: mlp_epoch: tapegrad <s>, torch <s>, ratio <r>
 * Each side at its best setting: tapegrad on 1 and on 2 threads (a model
 * for each, trained on from epoch to epoch); PyTorch (bench/torch_peer.py
 * --serve mlp_epoch) over the grid of bench/peer.h, torch threads {1, 2} x
 * OPENBLAS_NUM_THREADS {1, 2} x {default, tuned} malloc. The two sides
 * alternate (bench_alternate, bench/peer.h): ROUNDS rounds, each one epoch
 * of every setting of both, so all are timed in the same minutes; each
 * setting's time is the median of its ROUNDS epochs (after one untimed),
 * each side's the best of its settings', the winners on stderr. */
#include <tapegrad.h>

#include "peer.h"
#include "steps.h"

#define ROUNDS 5
#define PAUSE 0.15 /* seconds before each epoch */

typedef struct mlp_side {
    const tg_dataset *train;
    bench_mlp m[2]; /* on 1 and on 2 threads */
    bool ready[2];
    double loss;
} mlp_side;

/* bench_alternate's block: k epochs of the model of `config` + 1 threads
 * (made, with an untimed epoch, the first time) into t, in seconds. */
static bool block(void *ctx, int config, int k, double *t) {
    mlp_side *s = ctx;
    tg_set_num_threads(config + 1);
    if (!s->ready[config]) {
        char err[256];
        if (!bench_mlp_init(&s->m[config], s->train, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return false;
        }
        s->ready[config] = true;
        bench_mlp_epoch(&s->m[config], s->train, bench_now, &s->loss);
    }
    for (int e = 0; e < k; e++) t[e] = bench_mlp_epoch(&s->m[config], s->train, bench_now, &s->loss);
    return true;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    tg_dataset train;
    if (!bench_load_train(dir, &train)) return 1;
    mlp_side side = {.train = &train};
    char script[1024], args[512];
    const char *src = getenv("TG_BENCH_DIR");
    snprintf(script, sizeof script, "%s/torch_peer.py", src ? src : TG_BENCH_SRC);
    snprintf(args, sizeof args, "mlp_epoch '%s'", dir);
    static const char *const name[2] = {"1 thread", "2 threads"};
    double best;
    double torch = bench_alternate("mlp_epoch", script, args, 2, name, block, &side, ROUNDS, 1,
                                   1, PAUSE, &best);
    for (int c = 0; c < 2; c++)
        if (side.ready[c]) bench_mlp_free(&side.m[c]);
    tg_dataset_free(&train);
    if (best <= 0 || torch <= 0) return 1;
    printf("mlp_epoch: tapegrad %.3f s, torch %.3f s, ratio %.3f\n", best, torch, best / torch);
    fprintf(stderr, "(last training loss %.4f)\n", side.loss);
    return 0;
}
