/* custom_op.c - wrap a C function whose derivative you know as an op.
 *
 * tapegrad differentiates anything built from its ops. A function from
 * elsewhere (a special function from libm or GSL, a solver with an
 * adjoint) is not built from ops, but if you know its derivative you can
 * make it one: a tg_custom_def says how to compute it (forward) and how
 * to send a gradient back (backward), and tg_custom() then uses it like
 * any built-in op (tg_custom.h).
 *
 * The function here is the Bessel function of the first kind J_n, from
 * libm (jn, j0, j1): the shape of a vibrating drum skin. Its derivatives:
 *
 *     J_0'(x) = -J_1(x)
 *     J_n'(x) = (J_{n-1}(x) - J_{n+1}(x)) / 2     for n >= 1
 *
 * The fast backward uses them on raw arrays. The graph backward writes
 * the same rule with the op itself (J_1 is our op with n = 1), so the
 * derivative of the derivative comes for free: tg_gradcheck checks the
 * first and the second derivatives against finite differences.
 *
 * Then the op sits inside a loss: fit the amplitude a and the frequency k
 * of y = a J_0(k t) to noisy samples by gradient descent.
 *
 * Build and run: ninja -C build && ./build/examples/custom_op [--steps 400]
 * Exits 1 if a gradient check fails or the loss did not fall.
 */
#define _DEFAULT_SOURCE /* j0, j1, jn: X/Open functions, hidden under strict C11 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>

#include "common.h"

/* ------------------------------------------------------------ the op */

/* The order n of J_n travels in the op's context pointer: ORDER + n. */
enum { MAX_ORDER = 64 };
static const int ORDER[MAX_ORDER + 2] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65};

static int order_of(tg_custom_call *call) { return *(const int *)tg_custom_ctx(call); }

static double bessel(int n, double x) { return n == 0 ? j0(x) : n == 1 ? j1(x) : jn(n, x); }

/* Forward: out[k] = J_n(in[k]), elementwise. The buffers are raw arrays;
 * libm works in double, so this op takes f64 only and says so otherwise. */
static bool jn_forward(tg_custom_call *call, int nin, const tg_buf *in, tg_buf *out) {
    (void)nin;
    if (in[0].dtype != TG_F64) return tg_custom_fail(call, "takes f64 only (use tg_cast)");
    const double *x = in[0].data;
    double *y = out->data;
    int n = order_of(call);
    for (int64_t k = 0; k < out->numel; k++) y[k] = bessel(n, x[k]);
    return true;
}

/* Fast backward: gin += J_n'(x) * gout. Add, never store: the same input
 * may reach this op twice, or other ops too. */
static bool jn_backward(tg_custom_call *call, int nin, const tg_buf *in, const tg_buf *out,
                        const tg_buf *gout, tg_buf *gin) {
    (void)nin, (void)out;
    const double *x = in[0].data, *g = gout->data;
    double *gx = gin[0].data; /* NULL would mean: x needs no gradient */
    if (!gx) return true;
    int n = order_of(call);
    for (int64_t k = 0; k < gout->numel; k++) {
        double d = n == 0 ? -j1(x[k]) : 0.5 * (bessel(n - 1, x[k]) - bessel(n + 1, x[k]));
        gx[k] += d * g[k];
    }
    return true;
}

static tg_tensor *jn_graph_backward(tg_custom_call *call, int i, tg_tensor *const *in,
                                    tg_tensor *out, tg_tensor *g);

static const tg_custom_def BESSEL_J = {
    .name = "bessel_j",
    .forward = jn_forward,         /* .shape left NULL: the output has x's shape */
    .backward = jn_backward,
    .graph_backward = jn_graph_backward,
};

/* J_n(x) as an op. */
static tg_tensor *bessel_j(int n, tg_tensor *x) {
    return tg_custom(&BESSEL_J, (void *)&ORDER[n], 1, &x);
}

/* Graph backward: the same derivative, written with ops (the op itself
 * among them), so that it is recorded and can be differentiated again.
 * Orders past MAX_ORDER would be needed only for derivatives of order 60+. */
static tg_tensor *jn_graph_backward(tg_custom_call *call, int i, tg_tensor *const *in,
                                    tg_tensor *out, tg_tensor *g) {
    (void)i, (void)out;
    int n = order_of(call);
    if (n >= MAX_ORDER) return (tg_custom_fail(call, "order %d is too high", n), NULL);
    tg_tensor *d = n == 0 ? tg_neg(bessel_j(1, in[0]))
                          : tg_mul_scalar(tg_sub(bessel_j(n - 1, in[0]), bessel_j(n + 1, in[0])), 0.5);
    return tg_mul(d, g);
}

/* ------------------------------------------------------------ the loss */

/* mean((a J_0(k t) - y)^2): in = {a, k, t, y}. */
static tg_tensor *loss_fn(tg_tape *tape, tg_tensor *const *in, void *ud) {
    (void)tape, (void)ud;
    tg_tensor *model = tg_mul(in[0], bessel_j(0, tg_mul(in[1], in[2])));
    tg_tensor *r = tg_sub(model, in[3]);
    return tg_mean(tg_mul(r, r));
}

enum { NPTS = 60 };

int main(int argc, char **argv) {
    long steps = 400;
    const ex_flag flags[] = {{"--steps", EX_INT, &steps, "gradient descent steps"}};
    EX_PARSE(argc, argv, "A custom op (libm's Bessel function J0) inside a loss.", flags);
    ex_require(steps >= 1, argv[0], "--steps", "at least 1", (double)steps);
    int bad = 0;

    /* Samples of y = 1.5 J0(2 t) on t in [0, 6), with noise. */
    const double a_true = 1.5, k_true = 2.0;
    double t[NPTS], y[NPTS];
    tg_rng rng;
    tg_rng_seed(&rng, 42);
    for (int i = 0; i < NPTS; i++) {
        t[i] = 6.0 * i / NPTS;
        y[i] = a_true * j0(k_true * t[i]) + 0.02 * tg_rng_normal(&rng);
    }

    tg_tape *tape = tg_tape_new();

    /* 1. The op alone: values, and both derivatives against finite
     * differences (first and second order, on both backward paths). */
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){0.0, 0.7, 2.4048, 5.5});
    tg_tensor *j = bessel_j(0, x);
    printf("J0 at 0, 0.7, 2.4048, 5.5: %.6f %.6f %.6f %.6f\n", tg_tensor_get(j, 0),
           tg_tensor_get(j, 1), tg_tensor_get(j, 2), tg_tensor_get(j, 3));
    tg_gradcheck_report rep;
    tg_gradcheck_opts second = {.second = true};
    tg_tensor *in[4] = {tg_scalar(tape, 1.2), tg_scalar(tape, 1.7),
                        tg_tensor_new(tape, TG_F64, TG_SHAPE(NPTS), t),
                        tg_tensor_new(tape, TG_F64, TG_SHAPE(NPTS), y)};
    bool ok = tg_gradcheck(loss_fn, NULL, 4, in, &second, &rep);
    printf("gradcheck of the loss (first and second derivatives): %s\n", ok ? "ok" : rep.msg);
    bad |= !ok;
    /* An f32 input is refused with a sentence, as a built-in op would. */
    tg_tensor *xf = tg_cast(x, TG_F32);
    if (bessel_j(0, xf) == NULL) printf("f32 input: %s\n", tg_tape_error(tape));
    bad |= tg_tape_status(tape) != TG_ERR_ARG;

    /* 2. Fit a and k by gradient descent. */
    double a = 1.0, k = 1.8, lr = 0.1, first = 0, last = 0;
    for (long s = 0; s < steps; s++) {
        tg_tape_reset(tape);
        tg_tensor *v[4] = {tg_requires_grad(tg_scalar(tape, a)), tg_requires_grad(tg_scalar(tape, k)),
                           tg_tensor_new(tape, TG_F64, TG_SHAPE(NPTS), t),
                           tg_tensor_new(tape, TG_F64, TG_SHAPE(NPTS), y)};
        tg_tensor *loss = loss_fn(tape, v, NULL);
        if (tg_backward(loss) != TG_OK) {
            fprintf(stderr, "error: %s\n", tg_tape_error(tape));
            tg_tape_free(tape);
            return 1;
        }
        if (s == 0) first = tg_item(loss);
        last = tg_item(loss);
        a -= lr * tg_grad_item(v[0]);
        k -= lr * tg_grad_item(v[1]);
        if (s % 100 == 0 || s == steps - 1)
            printf("step %4ld  loss %.6f  a %.4f  k %.4f\n", s, last, a, k);
    }
    printf("fitted a = %.3f, k = %.3f (true %.1f, %.1f)\n", a, k, a_true, k_true);
    printf("loss_first: %.6f\nloss_last: %.6f\n", first, last);
    tg_tape_free(tape);
    return bad || !(last < first) ? 1 : 0;
}
