/* bench_op_overhead.c - what one recorded op costs: a chain of 0-d
 * y = y * a + b (two ops per step), recorded and differentiated, per op,
 * against PyTorch's autograd on 0-d tensors in the same run (medians; torch
 * at its best setting of the grid in bench/peer.h, the winner on stderr).
 * Prints: op_overhead: tapegrad <ns>, torch <ns>, ratio <r> */
#include <tapegrad.h>

#include "peer.h"

int main(void) {
    enum { N = 1000000, RUNS = 9 };
    tg_tape *tape = tg_tape_new();
    double t[RUNS], y_end = 0;
    for (int r = -2; r < RUNS; r++) {
        tg_tape_reset(tape);
        double t0 = bench_now();
        tg_tensor *x = tg_requires_grad(tg_scalar(tape, 0.5));
        tg_tensor *a = tg_scalar(tape, 0.999), *b = tg_scalar(tape, 0.001);
        tg_tensor *y = x;
        for (int i = 0; i < N; i++) y = tg_add(tg_mul(y, a), b);
        tg_backward(y);
        y_end = tg_item(tg_tensor_grad(x));
        if (r >= 0) t[r] = (bench_now() - t0) / (2.0 * N);
    }
    if (!tg_tape_ok(tape)) fprintf(stderr, "error: %s\n", tg_tape_error(tape));
    double ours = bench_median(t, RUNS) * 1e9;
    double torch = bench_torch("op_overhead") * 1e9;
    printf("op_overhead: tapegrad %.1f ns, torch %.1f ns, ratio %.4f\n", ours, torch,
           torch > 0 ? ours / torch : -1);
    (void)y_end;
    tg_tape_free(tape);
    return 0;
}
