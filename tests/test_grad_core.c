/* test_grad_core.c - every core op against central differences in f64,
 * through both backward paths (fast and create-graph), on several shapes
 * with broadcasting, size-1 and size-0 axes, and at and beside the kinks. */
#include "gradharness.h"

OP(f_add, tg_add(x[0], x[1]))
OP(f_sub, tg_sub(x[0], x[1]))
OP(f_mul, tg_mul(x[0], x[1]))
/* one tensor times itself (a one-pass backward), and used again beside it */
OP(f_square_self, tg_mul(x[0], x[0]))
OP(f_square_more, tg_add(tg_mul(x[0], x[0]), tg_mul_scalar(x[0], 3.0)))
/* slices that are views (one contiguous block) and copies (strided) */
OP(f_slice_view, tg_mul(tg_slice(x[0], 0, 1, 5, 1), tg_slice(x[0], 0, 0, 4, 1)))
OP(f_slice_rows, tg_mul(tg_slice(x[0], 0, 1, 3, 1), tg_slice(x[0], 0, 0, 2, 1)))
OP(f_div, tg_div(x[0], x[1]))
OP(f_pow, tg_pow(x[0], x[1]))
OP(f_adds, tg_add_scalar(x[0], 1.5))
OP(f_subs, tg_sub_scalar(x[0], 1.5))
OP(f_rsubs, tg_rsub_scalar(x[0], 1.5))
OP(f_muls, tg_mul_scalar(x[0], -2.5))
OP(f_divs, tg_div_scalar(x[0], 3.0))
OP(f_rdivs, tg_rdiv_scalar(x[0], 2.0))
OP(f_pows, tg_pow_scalar(x[0], 3.0))
OP(f_pows2, tg_pow_scalar(x[0], 2.0))
OP(f_powsh, tg_pow_scalar(x[0], -0.5))
OP(f_neg, tg_neg(x[0]))
OP(f_exp, tg_exp(x[0]))
OP(f_log, tg_log(x[0]))
OP(f_sqrt, tg_sqrt(x[0]))
OP(f_sin, tg_sin(x[0]))
OP(f_cos, tg_cos(x[0]))
OP(f_tan, tg_tan(x[0]))
OP(f_tanh, tg_tanh(x[0]))
OP(f_sigmoid, tg_sigmoid(x[0]))
OP(f_relu, tg_relu(x[0]))
OP(f_abs, tg_abs(x[0]))
OP(f_sum, tg_sum(x[0]))
OP(f_mean, tg_mean(x[0]))
OP(f_sum0, tg_sum_axis(x[0], 0, false))
OP(f_sumlast_keep, tg_sum_axis(x[0], -1, true))
OP(f_mean1, tg_mean_axis(x[0], 1, false))
OP(f_sum02, tg_sum_axes(x[0], 2, (int[]){0, 2}, false))
OP(f_matmul, tg_matmul(x[0], x[1]))
OP(f_mm_tn, tg_matmul_t(x[0], x[1], true, false))
OP(f_mm_nt, tg_matmul_t(x[0], x[1], false, true))
OP(f_mm_tt, tg_matmul_t(x[0], x[1], true, true))
OP(f_reshape, tg_reshape(x[0], TG_SHAPE(-1, 2)))
OP(f_transpose, tg_transpose(x[0], 0, -1))
OP(f_expand, tg_expand(x[0], TG_SHAPE(2, 3, 4)))
OP(f_sum_to, tg_sum_to(x[0], TG_SHAPE(3, 1)))
OP(f_cast, tg_cast(tg_mul(tg_cast(x[0], TG_F32), tg_cast(x[0], TG_F32)), TG_F64))
/* composites: chains that reuse a value (accumulation) */
OP(f_reuse, tg_add(tg_mul(x[0], x[0]), tg_sin(tg_mul(x[0], x[1]))))
OP(f_mlp, tg_mean(tg_tanh(tg_add(tg_matmul(x[0], x[1]), x[2]))))

/* inputs drawn uniformly from [lo, hi] */
static void check(const char *name, op_fn f, int n, const shape *shapes, double lo, double hi,
                  bool second) {
    gc_check(name, f, NULL, n, shapes, 7, lo, hi, NULL, second);
}

int main(void) {
    /* binary ops: same shape, broadcasting both ways, scalar with tensor */
    const shape pairs[][2] = {
        {S1(5), S1(5)},       {S2(2, 3), S1(3)},     {S1(3), S2(2, 3)},
        {S3(2, 1, 4), S2(3, 1)}, {S0, S2(2, 2)},     {S2(4, 1), S2(1, 5)},
        {S0, S0},
    };
    struct { const char *name; op_fn f; double lo, hi; } bins[] = {
        {"add", f_add, -2, 2}, {"sub", f_sub, -2, 2}, {"mul", f_mul, -2, 2},
        {"div", f_div, 0.5, 2}, {"pow", f_pow, 0.5, 2},
    };
    for (size_t k = 0; k < sizeof bins / sizeof *bins; k++)
        for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++)
            check(bins[k].name, bins[k].f, 2, pairs[p], bins[k].lo, bins[k].hi, p < 2);

    /* unary and scalar forms on several shapes */
    const shape ones[] = {S0, S1(7), S2(3, 4), S3(2, 3, 2)};
    struct { const char *name; op_fn f; double lo, hi; } uns[] = {
        {"add_scalar", f_adds, -2, 2}, {"sub_scalar", f_subs, -2, 2},
        {"rsub_scalar", f_rsubs, -2, 2}, {"mul_scalar", f_muls, -2, 2},
        {"div_scalar", f_divs, -2, 2}, {"rdiv_scalar", f_rdivs, 0.5, 2},
        {"pow_scalar 3", f_pows, -2, 2}, {"pow_scalar 2", f_pows2, -2, 2},
        {"pow_scalar -0.5", f_powsh, 0.5, 2},
        {"neg", f_neg, -2, 2}, {"exp", f_exp, -2, 2}, {"log", f_log, 0.2, 3},
        {"sqrt", f_sqrt, 0.2, 3}, {"sin", f_sin, -3, 3}, {"cos", f_cos, -3, 3},
        {"tan", f_tan, -1.2, 1.2}, {"tanh", f_tanh, -3, 3}, {"sigmoid", f_sigmoid, -6, 6},
        {"relu", f_relu, 0.05, 2}, {"relu-", f_relu, -2, -0.05},
        {"abs", f_abs, 0.05, 2}, {"abs-", f_abs, -2, -0.05},
        {"sum", f_sum, -2, 2}, {"mean", f_mean, -2, 2},
    };
    for (size_t k = 0; k < sizeof uns / sizeof *uns; k++)
        for (size_t s = 0; s < sizeof ones / sizeof *ones; s++)
            check(uns[k].name, uns[k].f, 1, &ones[s], uns[k].lo, uns[k].hi, s < 2);

    /* x * x with one operand: both parts of the gradient in one pass */
    for (size_t s = 0; s < sizeof ones / sizeof *ones; s++) {
        check("mul self", f_square_self, 1, &ones[s], -2, 2, true);
        check("mul self + 3x", f_square_more, 1, &ones[s], -2, 2, true);
    }
    { /* large enough for threads: d sum(x*x) = 2x exactly, written then added */
        tg_tape *t = tg_tape_new();
        tg_rng rng;
        tg_rng_seed(&rng, 5);
        tg_tensor *x = tg_requires_grad(tg_rand_uniform(t, TG_F64, TG_SHAPE(70000), &rng, -2, 2));
        tg_backward(tg_sum(tg_mul(x, x)));
        tg_backward(tg_sum(tg_mul(x, x)));
        const double *g = tg_tensor_f64(tg_tensor_grad(x)), *v = tg_tensor_f64(x);
        int bad = 0;
        for (int64_t i = 0; g && i < 70000; i++) bad += g[i] != 4 * v[i];
        CHECK(g && bad == 0 && tg_tape_ok(t), "mul self, 70000 elements: %d wrong", bad);
        tg_tape_free(t);
    }
    { /* a contiguous slice is a view; a strided one is a copy */
        tg_tape *t = tg_tape_new();
        tg_tensor *x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
        tg_tensor *r = tg_slice(x, 0, 1, 2, 1), *c = tg_slice(x, 1, 0, 3, 2);
        CHECK(r && tg_tensor_f64(r) == tg_tensor_f64(x) + 3, "row slice shares x's data");
        CHECK(c && tg_tensor_f64(c) != tg_tensor_f64(x) && tg_tensor_get(c, 3) == 6,
              "strided slice is a copy with the right values");
        CHECK_OK(t);
        tg_tape_free(t);
    }
    check("slice views", f_slice_view, 1, &(shape)S1(5), -2, 2, true);
    check("slice rows", f_slice_rows, 1, &(shape)S2(3, 4), -2, 2, true);

    /* extreme inputs: sigmoid and tanh saturate without NaN */
    check("sigmoid far", f_sigmoid, 1, &(shape)S1(4), 30, 40, false);
    check("sigmoid far-", f_sigmoid, 1, &(shape)S1(4), -40, -30, false);

    /* reductions along axes */
    check("sum axis 0", f_sum0, 1, &(shape)S2(3, 4), -2, 2, true);
    check("sum axis -1 keepdim", f_sumlast_keep, 1, &(shape)S3(2, 3, 4), -2, 2, false);
    check("mean axis 1", f_mean1, 1, &(shape)S3(2, 3, 4), -2, 2, false);
    check("sum axes 0,2", f_sum02, 1, &(shape)S3(2, 3, 4), -2, 2, false);
    check("sum of empty", f_sum, 1, &(shape)S2(0, 3), -2, 2, false);
    check("sum axis 0 of [0,3]", f_sum0, 1, &(shape)S2(0, 3), -2, 2, false);

    /* matmul: 2-D, transposes, batched with broadcasting, vectors */
    check("matmul 2d", f_matmul, 2, (shape[]){S2(3, 4), S2(4, 2)}, -1, 1, true);
    check("matmul tn", f_mm_tn, 2, (shape[]){S2(4, 3), S2(4, 2)}, -1, 1, false);
    check("matmul nt", f_mm_nt, 2, (shape[]){S2(3, 4), S2(2, 4)}, -1, 1, false);
    check("matmul tt", f_mm_tt, 2, (shape[]){S2(4, 3), S2(2, 4)}, -1, 1, false);
    check("matmul batch", f_matmul, 2, (shape[]){S3(2, 3, 4), S3(2, 4, 2)}, -1, 1, false);
    check("matmul bcast", f_matmul, 2, (shape[]){S3(2, 3, 4), S2(4, 2)}, -1, 1, false);
    check("matmul bcast2", f_matmul, 2, (shape[]){S3(1, 3, 4), S3(3, 4, 2)}, -1, 1, false);
    check("matmul vec-mat", f_matmul, 2, (shape[]){S1(4), S2(4, 3)}, -1, 1, false);
    check("matmul mat-vec", f_matmul, 2, (shape[]){S2(3, 4), S1(4)}, -1, 1, false);
    check("matmul dot", f_matmul, 2, (shape[]){S1(4), S1(4)}, -1, 1, true);
    check("matmul K=0", f_matmul, 2, (shape[]){S2(3, 0), S2(0, 2)}, -1, 1, false);

    /* shape ops */
    check("reshape", f_reshape, 1, &(shape)S2(3, 4), -1, 1, false);
    check("transpose", f_transpose, 1, &(shape)S3(2, 3, 4), -1, 1, false);
    check("expand", f_expand, 1, &(shape)S2(3, 1), -1, 1, false);
    check("expand from scalar", f_expand, 1, &(shape)S0, -1, 1, false);
    check("sum_to", f_sum_to, 1, &(shape)S3(2, 3, 4), -1, 1, false);
    /* through f32: a step of 1e-2 (exact for this quadratic) outweighs f32 rounding */
    gc_step = 1e-2;
    check("cast round trip", f_cast, 1, &(shape)S1(3), 0.5, 1.0, false);
    gc_step = 1e-6;

    /* composites */
    check("reuse", f_reuse, 2, (shape[]){S1(3), S1(3)}, -1, 1, true);
    check("mlp", f_mlp, 3, (shape[]){S2(4, 3), S2(3, 5), S1(5)}, -1, 1, true);

    /* kinks: PyTorch's convention, relu'(0) = abs'(0) = 0 */
    {
        tg_tape *t = tg_tape_new();
        tg_tensor *x = tg_requires_grad(tg_tensor_new(t, TG_F64, TG_SHAPE(3), (double[]){0, 1e-3, -1e-3}));
        tg_backward(tg_sum(tg_add(tg_relu(x), tg_abs(x))));
        double *g = tg_tensor_f64(tg_tensor_grad(x));
        CHECK_OK(t);
        CHECK(g && g[0] == 0 && g[1] == 2 && g[2] == -1, "kink grads %g %g %g", g ? g[0] : -9,
              g ? g[1] : -9, g ? g[2] : -9);
        tg_tape_free(t);
    }
    return TEST_DONE("grad_core");
}
