/* bench_rosenbrock_tensor.c - the extended Rosenbrock function written
 * with tensor ops (vectorized), f64, n = 1,000,000: forward plus backward,
 * against PyTorch in the same run.
 *   f(x) = sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)
 * Prints: rosenbrock_tensor: tapegrad <ms>, torch <ms>, ratio <r>
 * Each side: the median of its runs; torch at its best setting of the grid
 * in bench/peer.h (the winner on stderr). */
#include <tapegrad.h>

#include <math.h>

#include "peer.h"

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 1000000;
    enum { RUNS = 11 };
    tg_tape *tape = tg_tape_new();
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    double *x0 = malloc((size_t)n * sizeof *x0);
    for (int64_t i = 0; i < n; i++) x0[i] = tg_rng_uniform(&rng);
    double t[RUNS], f = 0, g0 = 0;
    for (int r = -2; r < RUNS; r++) {
        tg_tape_reset(tape);
        double t0 = bench_now();
        tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, 1, &n, x0));
        tg_tensor *a = tg_slice(x, 0, 0, n - 1, 1), *b = tg_slice(x, 0, 1, n, 1);
        tg_tensor *t1 = tg_sub(b, tg_mul(a, a));
        tg_tensor *t2 = tg_rsub_scalar(a, 1.0);
        tg_tensor *y = tg_sum(tg_add(tg_mul_scalar(tg_mul(t1, t1), 100.0), tg_mul(t2, t2)));
        tg_backward(y);
        g0 = tg_tensor_get(tg_tensor_grad(x), 0);
        f = tg_item(y);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    if (!tg_tape_ok(tape)) fprintf(stderr, "error: %s\n", tg_tape_error(tape));
    double ours = bench_median(t, RUNS) * 1e3;
    char args[64];
    snprintf(args, sizeof args, "rosenbrock_tensor %lld", (long long)n);
    double torch = bench_torch(args) * 1e3;
    printf("rosenbrock_tensor: tapegrad %.2f ms, torch %.2f ms, ratio %.3f\n", ours, torch,
           torch > 0 ? ours / torch : -1);
    (void)f, (void)g0;
    free(x0);
    tg_tape_free(tape);
    return 0;
}
