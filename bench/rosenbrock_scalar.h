/* rosenbrock_scalar.h - the extended Rosenbrock gradient written with 0-d
 * tapegrad ops, and its check against the hand-written gradient: shared by
 * bench_rosenbrock_scalar.c (against ADOL-C) and record32_sketch.c
 * (against a sketch of smaller records), so both time the same pass.
 *
 *   f(x) = sum_{i<n-1} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
 */
#ifndef BENCH_ROSENBROCK_SCALAR_H
#define BENCH_ROSENBROCK_SCALAR_H

#include <tapegrad.h>

#include <math.h>

/* One pass on `tape` (as it is: the caller resets it): x[i] the leaves,
 * grad[i] the gradient, *bytes_per_op the tape bytes per recorded op
 * (leaves not counted). Returns f. */
static double rosen_tg_pass(tg_tape *tape, int n, const double *x0, tg_tensor **x,
                            double *grad, double *bytes_per_op) {
    for (int i = 0; i < n; i++) x[i] = tg_requires_grad(tg_scalar(tape, x0[i]));
    size_t leaves = tg_tape_count(tape), bytes0 = tg_tape_bytes(tape);
    tg_tensor *y = tg_scalar(tape, 0.0);
    for (int i = 0; i < n - 1; i++) {
        tg_tensor *t1 = tg_sub(x[i + 1], tg_mul(x[i], x[i]));
        tg_tensor *t2 = tg_rsub_scalar(x[i], 1.0);
        y = tg_add(y, tg_add(tg_mul_scalar(tg_mul(t1, t1), 100.0), tg_mul(t2, t2)));
    }
    *bytes_per_op =
        (double)(tg_tape_bytes(tape) - bytes0) / (double)(tg_tape_count(tape) - leaves);
    tg_backward(y);
    for (int i = 0; i < n; i++) grad[i] = tg_grad_item(x[i]);
    return tg_item(y);
}

/* The largest relative difference of g from the hand-written gradient. */
static double rosen_grad_error(int n, const double *x, const double *g) {
    double err = 0;
    for (int i = 0; i < n; i++) {
        double d = 0;
        if (i < n - 1) d += -400 * x[i] * (x[i + 1] - x[i] * x[i]) - 2 * (1 - x[i]);
        if (i > 0) d += 200 * (x[i] - x[i - 1] * x[i - 1]);
        err = fmax(err, fabs(g[i] - d) / (1 + fabs(d)));
    }
    return err;
}

#endif /* BENCH_ROSENBROCK_SCALAR_H */
