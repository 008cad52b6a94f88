/* derivative.c - differentiate a C expression of two variables.
 *
 *     f(x, y) = sin(x * y) + x^2 / y - exp(-y)
 *
 * We write f once with tapegrad ops. Each op computes its value right away
 * and records itself on the tape; tg_backward then walks the tape backwards
 * and applies the chain rule, op by op. Beside each derivative we print a
 * finite-difference estimate, (f(x+h) - f(x-h)) / 2h, computed with plain C.
 *
 * Build and run: ninja -C build && ./build/examples/derivative [x y]
 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The same function in plain C, for the finite differences. */
static double f_plain(double x, double y) { return sin(x * y) + x * x / y - exp(-y); }

/* The function with tapegrad ops: it builds the graph as it computes. */
static tg_tensor *f_taped(tg_tensor *x, tg_tensor *y) {
    tg_tensor *xy = tg_mul(x, y);                         /* x * y        */
    tg_tensor *a = tg_sin(xy);                            /* sin(x y)     */
    tg_tensor *b = tg_div(tg_mul(x, x), y);               /* x^2 / y      */
    tg_tensor *c = tg_exp(tg_neg(y));                     /* exp(-y)      */
    return tg_sub(tg_add(a, b), c);
}

int main(int argc, char **argv) {
    double x0 = argc > 2 ? atof(argv[1]) : 1.5;
    double y0 = argc > 2 ? atof(argv[2]) : 0.5;

    tg_tape *tape = tg_tape_new();
    /* Leaves: the variables we differentiate against. */
    tg_tensor *x = tg_requires_grad(tg_scalar(tape, x0));
    tg_tensor *y = tg_requires_grad(tg_scalar(tape, y0));

    tg_tensor *f = f_taped(x, y);   /* forward: values + the tape */
    tg_backward(f);                 /* reverse: df/dx and df/dy   */

    /* Errors are sticky: one check at the end covers every op above. */
    if (!tg_tape_ok(tape)) {
        fprintf(stderr, "error: %s\n", tg_tape_error(tape));
        tg_tape_free(tape);
        return 1;
    }

    double dfdx = tg_item(tg_tensor_grad(x));
    double dfdy = tg_item(tg_tensor_grad(y));
    const double h = 1e-6;
    double fd_x = (f_plain(x0 + h, y0) - f_plain(x0 - h, y0)) / (2 * h);
    double fd_y = (f_plain(x0, y0 + h) - f_plain(x0, y0 - h)) / (2 * h);

    /* The exact derivatives, by hand, to compare with. */
    double ex_x = y0 * cos(x0 * y0) + 2 * x0 / y0;
    double ex_y = x0 * cos(x0 * y0) - x0 * x0 / (y0 * y0) + exp(-y0);

    printf("f(x, y) = sin(x*y) + x^2/y - exp(-y)   at x = %g, y = %g\n\n", x0, y0);
    printf("f        = %.15f\n", tg_item(f));
    printf("           %-20s %-20s %-20s\n", "tapegrad", "finite diff.", "by hand");
    printf("df/dx    = %-20.15f %-20.15f %-20.15f\n", dfdx, fd_x, ex_x);
    printf("df/dy    = %-20.15f %-20.15f %-20.15f\n", dfdy, fd_y, ex_y);
    printf("\nThe tape recorded %zu tensors (%zu bytes).\n", tg_tape_count(tape),
           tg_tape_bytes(tape));

    int bad = fabs(dfdx - ex_x) > 1e-12 * (1 + fabs(ex_x)) || fabs(dfdy - ex_y) > 1e-12 * (1 + fabs(ex_y));
    tg_tape_free(tape);
    return bad;
}
