/* test_higher.c - higher-order derivatives and the drivers of higher.c.
 *
 *   1. every core op to second order: tg_gradcheck with second = true
 *      (the create-graph backward of each op, differentiated again)
 *   2. third derivatives of sin, exp and x^5 against closed forms
 *   3. the drivers (vjp, jvp, hvp, jacobian, hessian) against each other
 *      and closed forms, with parameters and the function forms
 *   4. values and one more derivative against PyTorch (tests/ref/higher.txt,
 *      made by tests/ref_higher.py)
 *   5. errors, and memory: a steady create-graph loop allocates nothing
 */
#include "gradharness.h"
#include "refcase.h"

/* A nonlinear wrapper for linear ops, whose own second derivative is zero:
 * L(x) * sin(L(x)) sends the second sweep through L's graph backward, and
 * through the graph backward of that. */
static tg_tensor *nl(tg_tensor *l) { return tg_mul(l, tg_sin(l)); }

OP(f_add, tg_add(x[0], x[1]))
OP(f_sub, tg_sub(x[0], x[1]))
OP(f_mul, tg_mul(x[0], x[1]))
OP(f_div, tg_div(x[0], x[1]))
OP(f_pow, tg_pow(x[0], x[1]))
OP(f_add_nl, nl(tg_add(x[0], x[1])))
OP(f_sub_nl, nl(tg_sub(x[0], x[1])))
OP(f_adds, nl(tg_add_scalar(x[0], 1.5)))
OP(f_subs, nl(tg_sub_scalar(x[0], 1.5)))
OP(f_rsubs, nl(tg_rsub_scalar(x[0], 1.5)))
OP(f_muls, nl(tg_mul_scalar(x[0], -2.5)))
OP(f_divs, nl(tg_div_scalar(x[0], 3.0)))
OP(f_rdivs, tg_rdiv_scalar(x[0], 2.0))
OP(f_pows3, tg_pow_scalar(x[0], 3.0))
OP(f_pows2, tg_pow_scalar(x[0], 2.0))
OP(f_powsh, tg_pow_scalar(x[0], -0.5))
OP(f_pows1, nl(tg_pow_scalar(x[0], 1.0)))
OP(f_pows0, tg_add(tg_pow_scalar(x[0], 0.0), nl(x[0])))
OP(f_neg, nl(tg_neg(x[0])))
OP(f_exp, tg_exp(x[0]))
OP(f_log, tg_log(x[0]))
OP(f_sqrt, tg_sqrt(x[0]))
OP(f_sin, tg_sin(x[0]))
OP(f_cos, tg_cos(x[0]))
OP(f_tan, tg_tan(x[0]))
OP(f_tanh, tg_tanh(x[0]))
OP(f_sigmoid, tg_sigmoid(x[0]))
OP(f_relu, nl(tg_relu(x[0])))
OP(f_abs, nl(tg_abs(x[0])))
OP(f_relu_lin, tg_relu(x[0]))
OP(f_sum, nl(tg_sum(x[0])))
OP(f_mean, nl(tg_mean(x[0])))
OP(f_sum0, nl(tg_sum_axis(x[0], 0, false)))
OP(f_sumlast_keep, nl(tg_sum_axis(x[0], -1, true)))
OP(f_mean1, nl(tg_mean_axis(x[0], 1, false)))
OP(f_sum02, nl(tg_sum_axes(x[0], 2, (int[]){0, -1}, false)))
OP(f_meanaxes, nl(tg_mean_axes(x[0], 2, (int[]){-1, 0}, true)))
OP(f_matmul, tg_matmul(x[0], x[1]))
OP(f_mm_tn, tg_matmul_t(x[0], x[1], true, false))
OP(f_mm_nt, tg_matmul_t(x[0], x[1], false, true))
OP(f_mm_tt, tg_matmul_t(x[0], x[1], true, true))
OP(f_mm_self, tg_matmul_t(x[0], x[0], false, true)) /* x x^T: a square */
OP(f_reshape, nl(tg_reshape(x[0], TG_SHAPE(-1, 2))))
OP(f_transpose, nl(tg_transpose(x[0], 0, -1)))
OP(f_expand, nl(tg_expand(x[0], TG_SHAPE(2, 3, 2))))
OP(f_sum_to, nl(tg_sum_to(x[0], TG_SHAPE(3, 1))))
OP(f_cast, tg_cast(tg_mul(tg_cast(x[0], TG_F32), tg_cast(x[1], TG_F32)), TG_F64))
/* composites that reuse values (accumulated graph gradients) */
OP(f_reuse, tg_add(tg_mul(x[0], x[0]), tg_sin(tg_mul(x[0], x[1]))))
OP(f_mlp, tg_mean(tg_tanh(tg_add(tg_matmul(x[0], x[1]), x[2]))))

/* Second-order gradient check, inputs uniform in [lo, hi]. */
static void check2(const char *name, op_fn f, int n, const shape *shapes, double lo, double hi) {
    char what[128];
    snprintf(what, sizeof what, "second order, %s", name);
    gc_check(what, f, NULL, n, shapes, 11, lo, hi, NULL, true);
}

static void test_ops_second_order(void) {
    const shape pairs[][2] = {
        {S1(3), S1(3)}, {S2(2, 3), S1(3)}, {S1(2), S2(2, 2)}, {S0, S1(3)}, {S2(2, 1), S2(1, 3)},
    };
    struct { const char *name; op_fn f; double lo, hi; } bins[] = {
        {"add", f_add_nl, -2, 2}, {"sub", f_sub_nl, -2, 2}, {"mul", f_mul, -2, 2},
        {"div", f_div, 0.5, 2},   {"pow", f_pow, 0.5, 2},
        /* add and sub alone are linear: their second derivative is zero */
        {"add (linear)", f_add, -2, 2}, {"sub (linear)", f_sub, -2, 2},
    };
    for (size_t k = 0; k < sizeof bins / sizeof *bins; k++)
        for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++)
            check2(bins[k].name, bins[k].f, 2, pairs[p], bins[k].lo, bins[k].hi);

    const shape ones[] = {S0, S1(4), S2(2, 3)};
    struct { const char *name; op_fn f; double lo, hi; } uns[] = {
        {"add_scalar", f_adds, -2, 2}, {"sub_scalar", f_subs, -2, 2},
        {"rsub_scalar", f_rsubs, -2, 2}, {"mul_scalar", f_muls, -2, 2},
        {"div_scalar", f_divs, -2, 2}, {"rdiv_scalar", f_rdivs, 0.5, 2},
        {"pow_scalar 3", f_pows3, -2, 2}, {"pow_scalar 2", f_pows2, -2, 2},
        {"pow_scalar -0.5", f_powsh, 0.5, 2}, {"pow_scalar 1", f_pows1, -2, 2},
        {"pow_scalar 0", f_pows0, -2, 2},
        {"neg", f_neg, -2, 2}, {"exp", f_exp, -2, 2}, {"log", f_log, 0.2, 3},
        {"sqrt", f_sqrt, 0.2, 3}, {"sin", f_sin, -3, 3}, {"cos", f_cos, -3, 3},
        {"tan", f_tan, -1.2, 1.2}, {"tanh", f_tanh, -3, 3}, {"sigmoid", f_sigmoid, -6, 6},
        /* piecewise linear: beside the kink on both sides */
        {"relu", f_relu, 0.05, 2}, {"relu-", f_relu, -2, -0.05},
        {"relu (linear)", f_relu_lin, 0.05, 2},
        {"abs", f_abs, 0.05, 2}, {"abs-", f_abs, -2, -0.05},
        {"sum", f_sum, -2, 2}, {"mean", f_mean, -2, 2},
    };
    for (size_t k = 0; k < sizeof uns / sizeof *uns; k++)
        for (size_t s = 0; s < sizeof ones / sizeof *ones; s++)
            check2(uns[k].name, uns[k].f, 1, &ones[s], uns[k].lo, uns[k].hi);

    check2("sum axis 0", f_sum0, 1, &(shape)S2(3, 2), -2, 2);
    check2("sum axis -1 keepdim", f_sumlast_keep, 1, &(shape)S3(2, 1, 3), -2, 2);
    check2("mean axis 1", f_mean1, 1, &(shape)S3(2, 2, 2), -2, 2);
    check2("sum axes 0,-1", f_sum02, 1, &(shape)S3(2, 2, 3), -2, 2);
    check2("mean axes -1,0 keepdim", f_meanaxes, 1, &(shape)S3(2, 2, 3), -2, 2);
    check2("sum of [0,3]", f_sum, 1, &(shape)S2(0, 3), -2, 2);
    check2("sum axis 0 of [0,3]", f_sum0, 1, &(shape)S2(0, 3), -2, 2);

    check2("matmul 2d", f_matmul, 2, (shape[]){S2(2, 3), S2(3, 2)}, -1, 1);
    check2("matmul tn", f_mm_tn, 2, (shape[]){S2(3, 2), S2(3, 2)}, -1, 1);
    check2("matmul nt", f_mm_nt, 2, (shape[]){S2(2, 3), S2(2, 3)}, -1, 1);
    check2("matmul tt", f_mm_tt, 2, (shape[]){S2(3, 2), S2(2, 3)}, -1, 1);
    check2("matmul x x^T", f_mm_self, 1, (shape[]){S2(2, 3)}, -1, 1);
    check2("matmul batch", f_matmul, 2, (shape[]){S3(2, 2, 3), S3(2, 3, 1)}, -1, 1);
    check2("matmul batch bcast", f_matmul, 2, (shape[]){S3(2, 2, 3), S2(3, 2)}, -1, 1);
    check2("matmul batch bcast 1", f_matmul, 2, (shape[]){S3(1, 2, 2), S3(2, 2, 1)}, -1, 1);
    check2("matmul vec-mat", f_matmul, 2, (shape[]){S1(3), S2(3, 2)}, -1, 1);
    check2("matmul mat-vec", f_matmul, 2, (shape[]){S2(2, 3), S1(3)}, -1, 1);
    check2("matmul dot", f_matmul, 2, (shape[]){S1(3), S1(3)}, -1, 1);
    check2("matmul K=0", f_matmul, 2, (shape[]){S2(2, 0), S2(0, 2)}, -1, 1);

    check2("reshape", f_reshape, 1, &(shape)S2(3, 2), -1, 1);
    check2("transpose", f_transpose, 1, &(shape)S3(2, 1, 3), -1, 1);
    check2("expand", f_expand, 1, &(shape)S2(3, 1), -1, 1);
    check2("expand from scalar", f_expand, 1, &(shape)S0, -1, 1);
    check2("sum_to", f_sum_to, 1, &(shape)S3(2, 3, 2), -1, 1);
    /* through f32: x*y is bilinear, so central differences with a dyadic
     * step are exact and the f32 rounding of the step does not enter */
    gc_step = 1.0 / 64;
    check2("cast round trip", f_cast, 2, (shape[]){S1(3), S1(3)}, 0.5, 1.0);
    gc_step = 1e-6;

    check2("reuse", f_reuse, 2, (shape[]){S1(3), S1(3)}, -1, 1);
    check2("mlp", f_mlp, 3, (shape[]){S2(2, 3), S2(3, 2), S1(2)}, -1, 1);
}

/* ----------------------------------------------------------------- third */

/* d^3 f / dx^3 elementwise, by three nested tg_grad calls. */
static void third(const char *name, tg_tensor *(*f)(tg_tensor *), double (*closed)(double)) {
    const double xs[] = {-1.3, -0.4, 0.25, 0.9, 1.7};
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(5), xs));
    tg_tensor *y = tg_sum(f(x)), *g1, *g2, *g3;
    /* elementwise f: the sums keep each element's derivatives apart */
    tg_grad(y, NULL, 1, &x, &g1, TG_CREATE_GRAPH);
    tg_grad(tg_sum(g1), NULL, 1, &x, &g2, TG_CREATE_GRAPH);
    tg_grad(tg_sum(g2), NULL, 1, &x, &g3, 0);
    CHECK_OK(tape);
    for (int i = 0; i < 5 && tg_tape_ok(tape); i++) {
        double got = tg_tensor_get(g3, i), want = closed(xs[i]);
        CHECK(fabs(got - want) <= 1e-12 * (1 + fabs(want)), "third derivative of %s at %g: %.15g, want %.15g",
              name, xs[i], got, want);
    }
    tg_tape_free(tape);
}
static tg_tensor *t_sin(tg_tensor *x) { return tg_sin(x); }
static tg_tensor *t_exp(tg_tensor *x) { return tg_exp(x); }
static tg_tensor *t_pow5(tg_tensor *x) { return tg_pow_scalar(x, 5); }
static tg_tensor *t_pow5t(tg_tensor *x) {
    return tg_pow(x, tg_full(tg_tensor_tape(x), TG_F64, 0, NULL, 5.0));
}
static tg_tensor *t_mul5(tg_tensor *x) { return tg_mul(tg_mul(tg_mul(x, x), tg_mul(x, x)), x); }
static double c_sin3(double x) { return -cos(x); }
static double c_exp3(double x) { return exp(x); }
static double c_pow5_3(double x) { return 60 * x * x; }

static void test_third(void) {
    third("sin", t_sin, c_sin3);
    third("exp", t_exp, c_exp3);
    third("pow_scalar(x, 5)", t_pow5, c_pow5_3);
    /* pow with a tensor exponent: x > 0 is not needed for d/da */
    third("pow(x, 5)", t_pow5t, c_pow5_3);
    third("x*x*x*x*x", t_mul5, c_pow5_3);
    /* fourth and fifth of x^5 too: 120 x, then 120 */
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_scalar(tape, 0.7)), *g = tg_pow_scalar(x, 5);
    double want[] = {5 * pow(0.7, 4), 20 * pow(0.7, 3), 60 * 0.49, 120 * 0.7, 120, 0};
    for (int k = 0; k < 6; k++) {
        tg_tensor *d = tg_vjp(g, x, NULL, TG_CREATE_GRAPH);
        CHECK(d && fabs(tg_item(d) - want[k]) < 1e-12 * (1 + want[k]), "d^%d x^5: %.15g, want %.15g",
              k + 1, d ? tg_item(d) : NAN, want[k]);
        g = d;
    }
    CHECK_OK(tape);
    tg_tape_free(tape);
}

/* --------------------------------------------------------------- drivers */

static double maxdiff(tg_tensor *a, tg_tensor *b) {
    if (!a || !b || tg_tensor_numel(a) != tg_tensor_numel(b)) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < tg_tensor_numel(a); i++) {
        double d = fabs(tg_tensor_get(a, i) - tg_tensor_get(b, i));
        if (!(d <= m)) m = d;
    }
    return m;
}

static bool has_shape(tg_tensor *t, int rank, const int64_t *want) {
    if (!t || tg_tensor_rank(t) != rank) return false;
    for (int d = 0; d < rank; d++)
        if (tg_tensor_dim(t, d) != want[d]) return false;
    return true;
}

/* y = tanh(A x) * sum(x^2), x [3], A [2,3] */
static tg_tensor *vec_f(tg_tensor *x, tg_tensor *A) {
    return tg_mul(tg_tanh(tg_matmul(A, x)), tg_sum(tg_mul(x, x)));
}
/* a scalar with a full Hessian */
static tg_tensor *sc_f(tg_tensor *x) {
    tg_tensor *s = tg_sum(tg_mul(tg_sin(x), tg_exp(tg_mul_scalar(x, 0.5))));
    return tg_add(s, tg_pow_scalar(tg_sum(x), 3));
}
static tg_tensor *sc_fn(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    return sc_f(x[0]);
}

static void test_drivers(void) {
    tg_tape *tape = tg_tape_new();
    double xv[] = {0.3, -0.7, 1.1}, Av[] = {0.5, -1, 0.25, 1.5, 0.75, -0.5};
    tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), xv));
    tg_tensor *A = tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 3), Av);
    tg_tensor *y = vec_f(x, A);

    /* Jacobian rows and columns against vjp with one-hot u and jvp with
     * one-hot v */
    tg_tensor *J = tg_jacobian(y, x, 0);
    CHECK(has_shape(J, 2, (int64_t[]){2, 3}), "jacobian shape");
    tg_tensor *Jg = tg_jacobian(y, x, TG_CREATE_GRAPH);
    CHECK(maxdiff(J, Jg) < 1e-14, "jacobian, recorded vs not: %g", maxdiff(J, Jg));
    CHECK(tg_tensor_requires_grad(Jg) && !tg_tensor_requires_grad(J), "only the recorded J is differentiable");
    for (int i = 0; i < 2 && J; i++) {
        double uv[2] = {0};
        uv[i] = 1;
        tg_tensor *r = tg_vjp(y, x, tg_tensor_new(tape, TG_F64, TG_SHAPE(2), uv), 0);
        for (int j = 0; j < 3; j++)
            CHECK_NEAR(tg_tensor_get(r, j), tg_tensor_get(J, i * 3 + j), 1e-14);
    }
    for (int j = 0; j < 3 && J; j++) {
        double vv[3] = {0};
        vv[j] = 1;
        tg_tensor *c = tg_jvp(y, x, tg_tensor_new(tape, TG_F64, TG_SHAPE(3), vv), 0);
        CHECK(has_shape(c, 1, (int64_t[]){2}), "jvp shape");
        for (int i = 0; i < 2; i++) CHECK_NEAR(tg_tensor_get(c, i), tg_tensor_get(J, i * 3 + j), 1e-14);
    }
    /* J by hand: d/dx_j [tanh(a_i.x) s] = (1 - t_i^2) A_ij s + t_i 2 x_j */
    double s = 0.09 + 0.49 + 1.21;
    for (int i = 0; i < 2 && J; i++) {
        double ax = Av[i * 3] * xv[0] + Av[i * 3 + 1] * xv[1] + Av[i * 3 + 2] * xv[2], t = tanh(ax);
        for (int j = 0; j < 3; j++)
            CHECK_NEAR(tg_tensor_get(J, i * 3 + j), (1 - t * t) * Av[i * 3 + j] * s + t * 2 * xv[j], 1e-14);
    }

    /* Hessian: symmetric, equal to the Jacobian of the gradient, H v = hvp */
    tg_tensor *f = sc_f(x);
    tg_tensor *H = tg_hessian(f, x, 0);
    CHECK(has_shape(H, 2, (int64_t[]){3, 3}), "hessian shape");
    tg_tensor *Jgrad = tg_jacobian(tg_vjp(f, x, NULL, TG_CREATE_GRAPH), x, 0);
    CHECK(maxdiff(H, Jgrad) < 1e-14, "hessian vs jacobian of the gradient: %g", maxdiff(H, Jgrad));
    for (int i = 0; i < 3 && H; i++)
        for (int j = 0; j < i; j++)
            CHECK_NEAR(tg_tensor_get(H, i * 3 + j), tg_tensor_get(H, j * 3 + i), 1e-14);
    /* by hand: d2/dxi dxj = delta_ij (e^{x/2}(-sin x + cos x + sin x / 4)) + 6 sum(x) */
    for (int i = 0; i < 3 && H; i++)
        for (int j = 0; j < 3; j++) {
            double xi = xv[i], sx = xv[0] + xv[1] + xv[2];
            double want = 6 * sx + (i == j ? exp(xi / 2) * (-sin(xi) + cos(xi) + sin(xi) / 4) : 0);
            CHECK_NEAR(tg_tensor_get(H, i * 3 + j), want, 1e-13);
        }
    double vv[] = {1, -2, 0.5};
    tg_tensor *v = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), vv);
    tg_tensor *hv = tg_hvp(f, x, v, 0);
    for (int i = 0; i < 3 && H; i++) {
        double want = 0;
        for (int j = 0; j < 3; j++) want += tg_tensor_get(H, i * 3 + j) * vv[j];
        CHECK_NEAR(tg_tensor_get(hv, i), want, 1e-13);
    }
    /* v computed from x (here the gradient itself): used as a constant */
    tg_tensor *g = tg_vjp(f, x, NULL, TG_CREATE_GRAPH);
    tg_tensor *hg = tg_hvp(f, x, g, 0);
    for (int i = 0; i < 3 && H && g; i++) {
        double want = 0;
        for (int j = 0; j < 3; j++) want += tg_tensor_get(H, i * 3 + j) * tg_tensor_get(g, j);
        CHECK_NEAR(tg_tensor_get(hg, i), want, 1e-13);
    }
    /* hessian from a function, x on another tape: a leaf copy is made */
    tg_tape *other = tg_tape_new();
    tg_tensor *xo = tg_tensor_new(other, TG_F64, TG_SHAPE(3), xv);
    tg_tensor *Hf = tg_hessian_of(tape, sc_fn, NULL, xo, 0);
    CHECK(maxdiff(H, Hf) < 1e-14, "hessian_of vs hessian: %g", maxdiff(H, Hf));
    CHECK(tg_tensor_tape(Hf) == tape, "hessian_of puts the result on the given tape");
    tg_tape_free(other);
    /* and x already a variable on the tape: used as is, so a recorded
     * Hessian is differentiable w.r.t. x (third derivatives) */
    tg_tensor *Hx = tg_hessian_of(tape, sc_fn, NULL, x, TG_CREATE_GRAPH);
    tg_tensor *d3;
    CHECK(Hx && tg_grad(tg_sum(Hx), NULL, 1, &x, &d3, 0) == TG_OK, "d sum(H)/dx: %s", tg_tape_error(tape));
    /* d/dxk sum_ij H_ij = delta-terms: e^{x/2}(...)' + 9*6 */
    for (int k = 0; k < 3 && tg_tape_ok(tape); k++) {
        double xk = xv[k];
        double want = 54 + exp(xk / 2) * (0.5 * (-sin(xk) + cos(xk) + sin(xk) / 4) +
                                          (-cos(xk) - sin(xk) + cos(xk) / 4));
        CHECK_NEAR(tg_tensor_get(d3, k), want, 1e-13);
    }
    tg_tensor *Jf = tg_jacobian_of(tape, sc_fn, NULL, x, 0); /* of a scalar: the gradient */
    CHECK(has_shape(Jf, 1, (int64_t[]){3}) && maxdiff(Jf, g) < 1e-14, "jacobian_of a scalar");

    /* linear in x: zero Hessian, zero H v; independent of x: zero J */
    tg_tensor *lin = tg_sum(tg_mul_scalar(x, 3));
    tg_tensor *H0 = tg_hessian(lin, x, 0), *hv0 = tg_hvp(lin, x, v, 0);
    CHECK(H0 && hv0 && maxdiff(H0, tg_zeros(tape, TG_F64, TG_SHAPE(3, 3))) == 0 &&
              maxdiff(hv0, tg_zeros(tape, TG_F64, TG_SHAPE(3))) == 0,
          "linear: zero Hessian");
    tg_tensor *z = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2}));
    tg_tensor *J0 = tg_jacobian(tg_exp(z), x, 0), *jv0 = tg_jvp(tg_exp(z), x, v, 0);
    CHECK(has_shape(J0, 2, (int64_t[]){2, 3}) && maxdiff(J0, tg_zeros(tape, TG_F64, TG_SHAPE(2, 3))) == 0,
          "independent: zero Jacobian");
    CHECK(has_shape(jv0, 1, (int64_t[]){2}) && tg_tensor_get(jv0, 0) == 0, "independent: zero J v");
    /* piecewise linear: relu and abs have zero second derivative, at the
     * kink too (PyTorch's convention); relu(x) * x has 2 (x > 0) */
    {
        tg_tensor *k = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){-0.5, 0, 0.5}));
        tg_tensor *Hr = tg_hessian(tg_sum(tg_relu(k)), k, 0);
        tg_tensor *Ha = tg_hessian(tg_sum(tg_abs(k)), k, 0);
        tg_tensor *Hq = tg_hessian(tg_sum(tg_mul(tg_relu(k), k)), k, 0);
        tg_tensor *Z = tg_zeros(tape, TG_F64, TG_SHAPE(3, 3));
        CHECK(maxdiff(Hr, Z) == 0 && maxdiff(Ha, Z) == 0, "relu, abs: zero Hessian");
        CHECK(Hq && tg_tensor_get(Hq, 0) == 0 && tg_tensor_get(Hq, 4) == 0 &&
                  tg_tensor_get(Hq, 8) == 2 && tg_tensor_get(Hq, 2) == 0,
              "relu(x) * x: Hessian diag(0, 0, 2)");
    }
    /* an intermediate tensor as the variable */
    tg_tensor *mid = tg_mul_scalar(x, 2), *ym = tg_sum(tg_pow_scalar(mid, 3));
    tg_tensor *Hm = tg_hessian(ym, mid, 0); /* diag 6 mid */
    CHECK(Hm && fabs(tg_tensor_get(Hm, 4) - 6 * 2 * xv[1]) < 1e-14 && tg_tensor_get(Hm, 1) == 0,
          "hessian w.r.t. an intermediate");
    CHECK_OK(tape);
    tg_tape_free(tape);

    /* a parameter as x */
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(3));
    memcpy(tg_tensor_f64(p), xv, sizeof xv);
    tape = tg_tape_new();
    tg_tensor *Hp = tg_hessian(sc_f(tg_param_on(tape, p)), p, 0);
    tg_tensor *xx = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), xv));
    CHECK(maxdiff(Hp, tg_hessian(sc_f(xx), xx, 0)) < 1e-14, "hessian w.r.t. a parameter");
    CHECK_OK(tape);
    tg_tape_free(tape);
    tg_param_free(p);

    /* f32 */
    tape = tg_tape_new();
    tg_tensor *xf = tg_requires_grad(tg_tensor_new(tape, TG_F32, TG_SHAPE(2), (float[]){0.5f, -1.5f}));
    tg_tensor *Hf32 = tg_hessian(tg_sum(tg_pow_scalar(xf, 3)), xf, 0); /* diag(6x) */
    CHECK(Hf32 && tg_tensor_dtype(Hf32) == TG_F32 && tg_tensor_get(Hf32, 0) == 3 &&
              tg_tensor_get(Hf32, 3) == -9 && tg_tensor_get(Hf32, 1) == 0,
          "f32 hessian");
    tg_tape_free(tape);
}

/* The drivers inside a gradient check: their recorded results are
 * differentiable, to one more order. f must mark its own variable (the
 * check builds leaves without requires-grad for its finite differences). */
static tg_tensor *g_hess(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    tg_tensor *v = tg_requires_grad(x[0]);
    return tg_hessian(sc_f(v), v, TG_CREATE_GRAPH);
}
static tg_tensor *g_hvp(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    tg_tensor *v = tg_requires_grad(x[0]);
    return tg_hvp(sc_f(v), v, x[1], TG_CREATE_GRAPH);
}
static tg_tensor *g_jvp(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    tg_tensor *v = tg_requires_grad(x[0]);
    return tg_jvp(vec_f(v, x[2]), v, x[1], TG_CREATE_GRAPH);
}
static tg_tensor *g_jac(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    tg_tensor *v = tg_requires_grad(x[0]);
    return tg_jacobian(vec_f(v, x[1]), v, TG_CREATE_GRAPH);
}

static void test_drivers_differentiable(void) {
    tg_tape *tape = tg_tape_new();
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *x = tg_rand_uniform(tape, TG_F64, TG_SHAPE(3), &rng, -1, 1);
    tg_tensor *v = tg_rand_uniform(tape, TG_F64, TG_SHAPE(3), &rng, -1, 1);
    tg_tensor *A = tg_rand_uniform(tape, TG_F64, TG_SHAPE(2, 3), &rng, -1, 1);
    tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 5, true, false};
    tg_gradcheck_report rep;
    CHECK(tg_gradcheck(g_hess, NULL, 1, &x, &o, &rep), "d hessian / dx: %s", rep.msg);
    CHECK(tg_gradcheck(g_hvp, NULL, 2, (tg_tensor *[]){x, v}, &o, &rep), "d hvp / dx: %s", rep.msg);
    CHECK(tg_gradcheck(g_jvp, NULL, 3, (tg_tensor *[]){x, v, A}, &o, &rep), "d jvp / dx, dv, dA: %s",
          rep.msg);
    CHECK(tg_gradcheck(g_jac, NULL, 2, (tg_tensor *[]){x, A}, &o, &rep), "d jacobian / dx, dA: %s",
          rep.msg);
    tg_tape_free(tape);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 2), NULL));
    tg_tensor *y = tg_sin(x), *f = tg_sum(y);
    tg_tensor *r;

    r = tg_hessian(y, x, 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "hessian: the output has shape [2,2]");
    tg_tape_reset(tape);

#define FRESH()                                                                \
    (x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 2), NULL)), y = tg_sin(x), \
     f = tg_sum(y))
    FRESH();
    r = tg_hvp(y, x, x, 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "hvp: the output has shape [2,2]");
    tg_tape_reset(tape), FRESH();
    r = tg_hvp(f, x, tg_zeros(tape, TG_F64, TG_SHAPE(3)), 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "hvp: v has shape [3] but x has shape [2,2]");
    tg_tape_reset(tape), FRESH();
    r = tg_hvp(f, x, tg_zeros(tape, TG_F32, TG_SHAPE(2, 2)), 0);
    CHECK_ERR(r, tape, TG_ERR_DTYPE, "hvp: v is f32 but x is f64");
    tg_tape_reset(tape), FRESH();
    r = tg_hvp(f, x, NULL, 0);
    CHECK_ERR(r, tape, TG_ERR_NULL, "hvp: the direction v is NULL");
    tg_tape_reset(tape), FRESH();
    r = tg_jvp(y, x, tg_zeros(tape, TG_F64, TG_SHAPE(4)), 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "jvp: v has shape [4] but x has shape [2,2]");
    tg_tape_reset(tape), FRESH();
    r = tg_vjp(y, x, tg_zeros(tape, TG_F64, TG_SHAPE(2)), 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "vjp: u has shape [2] but the output y has shape [2,2]");
    tg_tape_reset(tape), FRESH();
    r = tg_vjp(y, x, NULL, 0);
    CHECK_ERR(r, tape, TG_ERR_NULL, "vjp: u is NULL but the output has shape [2,2]");
    tg_tape_reset(tape), FRESH();
    r = tg_jacobian(NULL, x, 0);
    CHECK_ERR(r, tape, TG_ERR_NULL, "jacobian: operand 1 is NULL");
    tg_tape_reset(tape), FRESH();
    r = tg_hessian(f, NULL, 0);
    CHECK_ERR(r, tape, TG_ERR_NULL, "hessian: operand 2 is NULL");
    tg_tape_reset(tape), FRESH();
    tg_tensor *c = tg_zeros(tape, TG_F64, TG_SHAPE(2, 2)); /* not marked */
    r = tg_hessian(tg_sum(tg_mul(c, c)), c, 0);
    CHECK_ERR(r, tape, TG_ERR_STATE, "hessian: x [2,2] does not require grad");
    tg_tape_reset(tape), FRESH();
    {
        int64_t s5[5] = {1, 1, 1, 1, 2};
        tg_tensor *x5 = tg_requires_grad(tg_zeros(tape, TG_F64, 5, s5));
        r = tg_jacobian(tg_exp(x5), x5, 0);
        CHECK_ERR(r, tape, TG_ERR_SHAPE, "jacobian: the result would have rank 10");
    }
    tg_tape_reset(tape), FRESH();
    tg_tape_set_grad_enabled(tape, false);
    r = tg_hessian(f, x, 0);
    CHECK_ERR(r, tape, TG_ERR_STATE, "hessian: recording is off");
    tg_tape_set_grad_enabled(tape, true);
    tg_tape_reset(tape), FRESH();
    r = tg_hessian_of(tape, NULL, NULL, x, 0);
    CHECK_ERR(r, tape, TG_ERR_NULL, "hessian_of: the function f is NULL");
    tg_tape_reset(tape), FRESH();
    r = tg_jacobian_of(tape, sc_fn, NULL, tg_tensor_new(tape, TG_I64, TG_SHAPE(2), NULL), 0);
    CHECK_ERR(r, tape, TG_ERR_DTYPE, "jacobian_of: x [2] is not a float tensor");
    tg_tape_reset(tape);
    tg_tensor *stale = tg_zeros(tape, TG_F64, TG_SHAPE(2));
    tg_tape_reset(tape), FRESH();
    r = tg_hvp(f, x, stale, 0);
    CHECK_ERR(r, tape, TG_ERR_STALE, "hvp: operand 3 is stale");
    /* sticky: a NULL from an earlier failure passes through quietly */
    CHECK(tg_hessian(NULL, NULL, 0) == NULL && tg_hessian_of(NULL, sc_fn, NULL, x, 0) == NULL,
          "NULL in, NULL out");
#undef FRESH
    tg_tape_free(tape);
}

/* ---------------------------------------------------------------- memory */

static long n_alloc;
static void *c_malloc(size_t n, void *ud) { (void)ud; n_alloc++; return malloc(n); }
static void *c_realloc(void *p, size_t n, void *ud) { (void)ud; n_alloc++; return realloc(p, n); }
static void c_free(void *p, void *ud) { (void)ud; free(p); }

/* A steady loop with create-graph sweeps: reset, forward, Hessian (a
 * recorded sweep and one sweep per row), a third-order backward. After
 * the first passes warm the arenas, no pass allocates, and each uses the
 * same bytes. Under valgrind (meson test --setup=valgrind) this also shows
 * that nothing leaks when the tape is freed. */
static void test_memory(void) {
    tg_set_allocator(&(tg_allocator){c_malloc, c_realloc, c_free, NULL});
    tg_tape *tape = tg_tape_new();
    double xv[] = {0.3, -0.7, 1.1};
    size_t bytes[6];
    long allocs[6];
    for (int it = 0; it < 6; it++) {
        long before = n_alloc;
        tg_tape_reset(tape);
        tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), xv));
        tg_tensor *H = tg_hessian(sc_f(x), x, TG_CREATE_GRAPH);
        tg_backward(tg_sum(tg_mul(H, H)));
        CHECK_OK(tape);
        bytes[it] = tg_tape_bytes(tape);
        allocs[it] = n_alloc - before;
    }
    for (int it = 3; it < 6; it++) {
        CHECK(allocs[it] == 0, "pass %d allocated %ld times", it, allocs[it]);
        CHECK(bytes[it] == bytes[2], "pass %d used %zu bytes, pass 2 %zu", it, bytes[it], bytes[2]);
    }
    tg_tape_free(tape);
    tg_set_allocator(NULL);
}

/* ------------------------------------------------------------- PyTorch */

static tg_tensor *s_poly(tg_tensor *x, tg_tensor *const *c) {
    (void)c;
    return tg_sum(tg_add(tg_sub(tg_mul_scalar(tg_pow_scalar(x, 3), 0.5), tg_pow_scalar(x, 2)), x));
}
static tg_tensor *s_trig(tg_tensor *x, tg_tensor *const *c) {
    (void)c;
    return tg_add(tg_sum(tg_mul(tg_sin(x), tg_exp(tg_div_scalar(x, 2)))),
                  tg_pow_scalar(tg_sum(tg_cos(x)), 2));
}
static tg_tensor *s_lse(tg_tensor *x, tg_tensor *const *c) {
    (void)c;
    return tg_log(tg_sum(tg_exp(x)));
}
static tg_tensor *s_ratio(tg_tensor *x, tg_tensor *const *c) {
    (void)c;
    return tg_div(tg_sum(tg_sqrt(tg_add_scalar(tg_mul(x, x), 1))), tg_sum(tg_sigmoid(x)));
}
static tg_tensor *s_mlp(tg_tensor *x, tg_tensor *const *c) {
    return tg_mul(tg_mean(tg_tanh(tg_add(tg_matmul(x, c[0]), c[1]))),
                  tg_sum(tg_sigmoid(tg_matmul(x, c[0]))));
}
static tg_tensor *s_rosen(tg_tensor *x, tg_tensor *const *c) {
    tg_tensor *xa = tg_matmul(c[0], x), *xb = tg_matmul(c[1], x);
    tg_tensor *a = tg_mul_scalar(tg_pow_scalar(tg_sub(xb, tg_pow_scalar(xa, 2)), 2), 100);
    return tg_sum(tg_add(a, tg_pow_scalar(tg_rsub_scalar(xa, 1), 2)));
}
static tg_tensor *v_mlp(tg_tensor *x, tg_tensor *const *c) {
    return tg_tanh(tg_add(tg_matmul(x, c[0]), c[1]));
}
static tg_tensor *v_mix(tg_tensor *x, tg_tensor *const *c) {
    (void)c;
    return tg_add(tg_mul(x, tg_sum(tg_sin(x))), tg_exp(tg_neg(x)));
}
static tg_tensor *v_mat(tg_tensor *x, tg_tensor *const *c) {
    (void)c;
    return tg_matmul_t(x, x, false, true);
}

/* Builders per case: the inputs are x, then (hvp, jvp, vjp) the direction,
 * then the constants. */
#define SCALAR_REFS(N)                                                         \
    OP(r_grad2_##N, tg_vjp(s_##N(x[0], x + 1), x[0], NULL, TG_CREATE_GRAPH))   \
    OP(r_hess_##N, tg_hessian(s_##N(x[0], x + 1), x[0], TG_CREATE_GRAPH))      \
    OP(r_hvp_##N, tg_hvp(s_##N(x[0], x + 2), x[0], x[1], TG_CREATE_GRAPH))
SCALAR_REFS(poly)
SCALAR_REFS(trig)
SCALAR_REFS(lse)
SCALAR_REFS(ratio)
SCALAR_REFS(mlp)
SCALAR_REFS(rosen)
#define VECTOR_REFS(N)                                                         \
    OP(r_jac_##N, tg_jacobian(v_##N(x[0], x + 1), x[0], TG_CREATE_GRAPH))      \
    OP(r_jvp_##N, tg_jvp(v_##N(x[0], x + 2), x[0], x[1], TG_CREATE_GRAPH))     \
    OP(r_vjp_##N, tg_vjp(v_##N(x[0], x + 2), x[0], x[1], TG_CREATE_GRAPH))
VECTOR_REFS(mlp)
VECTOR_REFS(mix)
VECTOR_REFS(mat)

#define SREF(N) {"grad2/" #N, r_grad2_##N}, {"hessian/" #N, r_hess_##N}, {"hvp/" #N, r_hvp_##N}
#define VREF(N, P) {"jacobian/" P, r_jac_##N}, {"jvp/" P, r_jvp_##N}, {"vjp/" P, r_vjp_##N}
static const ref_entry table[] = {
    SREF(poly), SREF(trig), SREF(lse), SREF(ratio), SREF(mlp), SREF(rosen),
    {"hessian/poly_f32", r_hess_poly}, {"jacobian/vmix_f32", r_jac_mix},
    VREF(mlp, "vmlp"), VREF(mix, "vmix"), VREF(mat, "vmat"), {NULL, NULL},
};

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/ref/higher.txt";
    test_ops_second_order();
    test_third();
    test_drivers();
    test_drivers_differentiable();
    test_errors();
    test_memory();
    ref_run_file(path, table, 1e-5, 1e-12);
    return TEST_DONE("higher");
}
