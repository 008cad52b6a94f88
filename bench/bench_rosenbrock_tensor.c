/* bench_rosenbrock_tensor.c - the extended Rosenbrock function written
 * with tensor ops (vectorized), f64, n = 1,000,000: forward plus backward,
 * against PyTorch in the same run.
 *   f(x) = sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)
 * Prints: rosenbrock_tensor: tapegrad <ms>, torch <ms>, ratio <r>
 * Each side: the median of its passes; PyTorch (bench/torch_peer.py
 * --serve rosenbrock_tensor) at its best setting of the grid in
 * bench/peer.h (the winner on stderr). The two sides alternate
 * (bench_alternate, bench/peer.h): ROUNDS rounds, each a block of RUNS
 * passes of every setting, so all are timed in the same minutes. */
#include <tapegrad.h>

#include <math.h>

#include "peer.h"
#include "steps.h"

#define ROUNDS 8
#define RUNS 5     /* passes a block */
#define PAUSE 0.15 /* seconds before each block */

typedef struct rosen_side {
    tg_tape *tape;
    int64_t n;
    const double *x0;
    double f, g0;
} rosen_side;

/* bench_alternate's block: k passes (after two untimed) into t, in ms. */
static bool block(void *ctx, int config, int k, double *t) {
    rosen_side *s = ctx;
    (void)config;
    for (int r = -2; r < k; r++) {
        double t0 = bench_now();
        tg_tensor *x, *y = bench_rosenbrock_pass(s->tape, s->n, s->x0, &x);
        s->g0 = tg_tensor_get(tg_tensor_grad(x), 0);
        s->f = tg_item(y);
        if (r >= 0) t[r] = (bench_now() - t0) * 1e3;
    }
    if (!tg_tape_ok(s->tape)) {
        fprintf(stderr, "error: %s\n", tg_tape_error(s->tape));
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 1000000;
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    double *x0 = malloc((size_t)n * sizeof *x0);
    if (!x0) return 1;
    for (int64_t i = 0; i < n; i++) x0[i] = tg_rng_uniform(&rng);
    rosen_side side = {tg_tape_new(), n, x0, 0, 0};
    char script[1024], args[64];
    const char *src = getenv("TG_BENCH_DIR");
    snprintf(script, sizeof script, "%s/torch_peer.py", src ? src : TG_BENCH_SRC);
    snprintf(args, sizeof args, "rosenbrock_tensor %lld", (long long)n);
    static const char *const name[1] = {"default threads"};
    double ours;
    double torch = bench_alternate("rosenbrock_tensor", script, args, 1, name, block, &side,
                                   ROUNDS, RUNS, RUNS, PAUSE, &ours);
    free(x0);
    tg_tape_free(side.tape);
    if (ours <= 0 || torch <= 0) return 1;
    printf("rosenbrock_tensor: tapegrad %.2f ms, torch %.2f ms, ratio %.3f\n", ours, torch,
           ours / torch);
    return 0;
}
