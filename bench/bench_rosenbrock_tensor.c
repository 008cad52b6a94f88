/* bench_rosenbrock_tensor.c - the extended Rosenbrock function written
 * with tensor ops (vectorized), f64, n = 1,000,000: forward plus backward,
 * against PyTorch in the same run.
 *   f(x) = sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)
 * Prints: rosenbrock_tensor: tapegrad <ms>, torch <ms>, ratio <r>
 * Each side: the median of its runs; torch at its best setting of the grid
 * in bench/peer.h (the winner on stderr); tapegrad's runs in two blocks,
 * one before and one after PyTorch's grid, pooled into one median (the
 * VM's speed drifts within the grid's minute). */
#include <tapegrad.h>

#include <math.h>

#include "peer.h"
#include "steps.h"

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 1000000;
    enum { RUNS = 11 };
    tg_tape *tape = tg_tape_new();
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    double *x0 = malloc((size_t)n * sizeof *x0);
    for (int64_t i = 0; i < n; i++) x0[i] = tg_rng_uniform(&rng);
    double t[2 * RUNS], f = 0, g0 = 0, torch = -1;
    for (int half = 0; half < 2; half++) {
        for (int r = -2; r < RUNS; r++) {
            double t0 = bench_now();
            tg_tensor *x, *y = bench_rosenbrock_pass(tape, n, x0, &x);
            g0 = tg_tensor_get(tg_tensor_grad(x), 0);
            f = tg_item(y);
            if (r >= 0) t[half * RUNS + r] = bench_now() - t0;
        }
        if (half == 0) {
            char args[64];
            snprintf(args, sizeof args, "rosenbrock_tensor %lld", (long long)n);
            torch = bench_torch(args) * 1e3;
        }
    }
    if (!tg_tape_ok(tape)) fprintf(stderr, "error: %s\n", tg_tape_error(tape));
    double ours = bench_median(t, 2 * RUNS) * 1e3;
    printf("rosenbrock_tensor: tapegrad %.2f ms, torch %.2f ms, ratio %.3f\n", ours, torch,
           torch > 0 ? ours / torch : -1);
    (void)f, (void)g0;
    free(x0);
    tg_tape_free(tape);
    return 0;
}
