/* newton.c - Newton's method with the exact Hessian, on Rosenbrock's
 * banana-shaped valley:
 *
 *     f(x, y) = (1 - x)^2 + 100 (y - x^2)^2,    minimum f(1, 1) = 0
 *
 * Gradient descent crawls along the curved valley floor for thousands of
 * steps. Newton's method models f near the iterate p by its second-order
 * Taylor expansion and jumps to that model's minimum:
 *
 *     f(p + d) ~ f(p) + g.d + d.H d / 2   is least where   H d = -g
 *
 * g is the gradient and H the Hessian (the matrix of second derivatives).
 * tapegrad gives both from the same few lines that compute f: tg_grad for
 * g, and tg_hessian, which differentiates the recorded gradient once more.
 * Close to the minimum the error squares at every step (quadratic
 * convergence): watch the digits of |p - (1,1)| double in the last column.
 *
 * Build and run: ninja -C build && ./build/examples/newton [--x0 -1.2] [--y0 1]
 * It exits 1 if the gradient did not vanish (for the test suite).
 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

/* f at p = (x, y), a tensor of shape [2]. The components are picked out
 * with dot products (e0 . p = x), so that f is a function of one tensor
 * and its Hessian is a 2x2 tensor. */
static tg_tensor *rosenbrock(tg_tape *tape, tg_tensor *p) {
    tg_tensor *e0 = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 0});
    tg_tensor *e1 = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){0, 1});
    tg_tensor *x = tg_matmul(e0, p), *y = tg_matmul(e1, p); /* 0-d scalars */
    tg_tensor *a = tg_rsub_scalar(x, 1.0);                  /* 1 - x       */
    tg_tensor *b = tg_sub(y, tg_mul(x, x));                 /* y - x^2     */
    return tg_add(tg_mul(a, a), tg_mul_scalar(tg_mul(b, b), 100.0));
}

int main(int argc, char **argv) {
    double p[2] = {-1.2, 1.0}; /* the classic start, on the far side of the valley */
    const ex_flag flags[] = {{"--x0", EX_DOUBLE, &p[0], "starting x"},
                             {"--y0", EX_DOUBLE, &p[1], "starting y"}};
    EX_PARSE(argc, argv, "Newton's method with the exact Hessian on Rosenbrock's function.", flags);
    double gnorm = INFINITY;

    tg_tape *tape = tg_tape_new();
    printf("step  %-24s %-12s %-10s %s\n", "(x, y)", "f", "|grad|", "|p - (1,1)|");
    for (int step = 0; step <= 30; step++) {
        /* One pass: a fresh tape, the variable, f, then its derivatives. */
        tg_tape_reset(tape);
        tg_tensor *pt = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(2), p));
        tg_tensor *f = rosenbrock(tape, pt);
        tg_tensor *g;
        tg_grad(f, NULL, 1, &pt, &g, 0);   /* g = df/dp, shape [2]            */
        tg_tensor *H = tg_hessian(f, pt, 0); /* H = d2f/dp2, shape [2, 2]     */
        if (!tg_tape_ok(tape)) {
            fprintf(stderr, "error: %s\n", tg_tape_error(tape));
            tg_tape_free(tape);
            return 1;
        }
        const double *gv = tg_tensor_f64(g), *h = tg_tensor_f64(H); /* h row-major */
        gnorm = hypot(gv[0], gv[1]);
        printf("%4d  (%10.7f, %10.7f)  %-12.4e %-10.3e %.3e\n", step, p[0], p[1], tg_item(f),
               gnorm, hypot(p[0] - 1, p[1] - 1));
        if (gnorm < 1e-10) break;

        /* The Newton step: solve the 2x2 system H d = -g (Cramer's rule). */
        double det = h[0] * h[3] - h[1] * h[2];
        if (fabs(det) < 1e-300) {
            fprintf(stderr, "singular Hessian\n");
            break;
        }
        double d0 = (-gv[0] * h[3] + gv[1] * h[1]) / det;
        double d1 = (-gv[1] * h[0] + gv[0] * h[2]) / det;
        p[0] += d0, p[1] += d1;
    }
    tg_tape_free(tape);
    return gnorm < 1e-8 ? 0 : 1;
}
