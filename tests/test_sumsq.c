/* test_sumsq.c - tg_sum_squares (ops/sumsq.c): values and gradients
 * against PyTorch (tests/ref/sumsq.txt, made by tests/ref_sumsq.py); both
 * backward paths and second derivatives against central differences in
 * f64 on several shapes (trailing and other axes, keepdim, negative axes,
 * 0-d, size-1 and size-0 axes, the result broadcast into a sum, an input
 * whose gradient also comes from elsewhere); agreement with
 * sum(square(a)); the row kernels' order of adds (sumsq_simd.h) bit for
 * bit, rows of 1 to 20 in f64 and f32, run at every SIMD level (meson's
 * sumsq_<level> tests), a short row's masked over-read of the next row
 * (inf, NaN there change nothing) and the backward's bits; and bad inputs,
 * each error naming the op and the shape. */
#include "gradharness.h"
#include "refcase.h"

OP(r_all, tg_sum_squares(x[0], 0, NULL, false))
OP(r_m1, tg_sum_squares(x[0], 1, (int[]){-1}, false))
OP(r_12k, tg_sum_squares(x[0], 2, (int[]){1, 2}, true))
OP(r_0, tg_sum_squares(x[0], 1, (int[]){0}, false))
OP(r_02k, tg_sum_squares(x[0], 2, (int[]){0, 2}, true))
OP(r_1, tg_sum_squares(x[0], 1, (int[]){1}, false))

static const ref_entry table[] = {
    {"ssq_all", r_all}, {"ssq_m1", r_m1}, {"ssq_12_keep", r_12k}, {"ssq_0", r_0},
    {"ssq_02_keep", r_02k}, {"ssq_1", r_1}, {NULL, NULL},
};

/* the result broadcast into a sum with a second input: out [2,3] + y [3] */
OP(f_bcast, tg_add(tg_sum_squares(x[0], 1, (int[]){2}, false), x[1]))
/* x also reaches the output directly: its gradient is added to, not written */
OP(f_twice, tg_add(tg_sum_squares(x[0], 1, (int[]){-1}, true), tg_mul_scalar(x[0], 3.0)))
OP(f_twice0, tg_add(tg_sum_squares(x[0], 1, (int[]){0}, true), tg_mul_scalar(x[0], 3.0)))
/* through a reshape, as bench/adbench/gmm.c uses it */
OP(f_gmm, tg_sum_squares(tg_reshape(x[0], TG_SHAPE(2, 3, 2)), 1, (int[]){2}, false))
/* the reshape's input also used after it: reshape's backward adds, not copies */
OP(f_gmm2, tg_add(tg_sum_squares(tg_reshape(x[0], TG_SHAPE(2, 3, 2)), 1, (int[]){2}, false),
                  tg_sum_axis(tg_reshape(tg_mul_scalar(x[0], 3.0), TG_SHAPE(2, 3, 2)), 2, false)))

/* tg_sum_squares equals sum(square(a)) to rounding, on the same axes */
static void check_agrees(tg_tape *t, tg_tensor *a, int naxes, const int *axes, bool keep,
                         const char *what) {
    tg_tensor *s = tg_sum_squares(a, naxes, axes, keep);
    tg_tensor *r = tg_sum_axes(tg_square(a), naxes, axes, keep);
    CHECK(s && r && tg_tensor_numel(s) == tg_tensor_numel(r), "%s: %s", what, tg_tape_error(t));
    if (!s || !r) return;
    double worst = 0;
    for (int64_t k = 0; k < tg_tensor_numel(s); k++) {
        double v = tg_tensor_get(s, k), w = tg_tensor_get(r, k);
        double e = fabs(v - w) / (1 + fabs(w));
        worst = e > worst ? e : worst;
    }
    CHECK(worst <= 1e-14, "%s: differs from sum(square) by %g", what, worst);
}

/* A row's sum of squares in the order sumsq_simd.h documents: element j
 * into lane j % 8 (doubles from +0), then lanes l + 4 into l, then
 * (h0 + h2) + (h1 + h3). */
static double lane_order(const double *r, int64_t L) {
    double s[8] = {0};
    for (int64_t j = 0; j < L; j++) s[j % 8] += r[j] * r[j];
    double h[4];
    for (int l = 0; l < 4; l++) h[l] = s[l] + s[l + 4];
    return (h[0] + h[2]) + (h[1] + h[3]);
}

/* rows of every length 1..20, f64 and f32 (squares in double), at the
 * level this process runs: the bits of lane_order; the backward 2 g x */
static void check_row_kernels(void) {
    tg_tape *t = tg_tape_new();
    tg_rng rng;
    tg_rng_seed(&rng, 9);
    int bad = 0;
    for (int64_t L = 1; L <= 20; L++) {
        tg_tensor *a = tg_requires_grad(tg_rand_uniform(t, TG_F64, TG_SHAPE(7, L), &rng, -3, 3));
        tg_tensor *af = tg_cast(tg_rand_uniform(t, TG_F64, TG_SHAPE(5, L), &rng, -3, 3), TG_F32);
        tg_tensor *s = tg_sum_squares(a, 1, (int[]){1}, false);
        tg_tensor *sf = tg_sum_squares(af, 1, (int[]){-1}, false);
        tg_tensor *w = tg_rand_uniform(t, TG_F64, TG_SHAPE(7), &rng, -2, 2);
        CHECK(s && sf && w && tg_backward(tg_sum(tg_mul(s, w))) == TG_OK, "L=%d: %s", (int)L,
              tg_tape_error(t));
        if (!s || !sf || !w) break;
        const double *x = tg_tensor_f64(a), *gx = tg_tensor_f64(tg_tensor_grad(a));
        const float *xf = tg_tensor_f32(af);
        for (int64_t i = 0; i < 7; i++) {
            if (tg_tensor_f64(s)[i] != lane_order(x + i * L, L) && bad++ < 5)
                fprintf(stderr, "  f64 L=%d row %d: %a, lane order %a\n", (int)L, (int)i,
                        tg_tensor_f64(s)[i], lane_order(x + i * L, L));
            double g2 = 2 * tg_tensor_f64(w)[i];
            for (int64_t j = 0; j < L; j++)
                if (gx[i * L + j] != g2 * x[i * L + j] && bad++ < 5)
                    fprintf(stderr, "  backward L=%d [%d,%d]: %a, want %a\n", (int)L, (int)i,
                            (int)j, gx[i * L + j], g2 * x[i * L + j]);
        }
        for (int64_t i = 0; i < 5; i++) {
            double r[20];
            for (int64_t j = 0; j < L; j++) r[j] = xf[i * L + j];
            if (tg_tensor_f32(sf)[i] != (float)lane_order(r, L) && bad++ < 5)
                fprintf(stderr, "  f32 L=%d row %d differs\n", (int)L, (int)i);
        }
        tg_tape_reset(t);
    }
    CHECK(bad == 0, "row kernels at level %s: %d values off the documented order",
          tg_simd_name(tg_simd_level()), bad);
    /* a short row's last group is read past its end, into the next row:
     * inf and NaN there must not reach its sum */
    double v[] = {1, 2, 3, INFINITY, NAN, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    tg_tensor *a = tg_tensor_new(t, TG_F64, TG_SHAPE(4, 3), v);
    tg_tensor *s = tg_sum_squares(a, 1, (int[]){1}, false);
    CHECK(s && tg_tensor_f64(s)[0] == 14 && isnan(tg_tensor_f64(s)[1]) &&
              tg_tensor_f64(s)[2] == 12 && tg_tensor_f64(s)[3] == 12,
          "rows next to inf and NaN");
    float vf[] = {1, 2, 3, INFINITY, NAN, 1, 2, 2, 2, 2, 2, 2};
    tg_tensor *f = tg_tensor_new(t, TG_F32, TG_SHAPE(4, 3), vf);
    tg_tensor *sf = tg_sum_squares(f, 1, (int[]){1}, false);
    CHECK(sf && tg_tensor_f32(sf)[0] == 14 && isnan(tg_tensor_f32(sf)[1]) &&
              tg_tensor_f32(sf)[2] == 12 && tg_tensor_f32(sf)[3] == 12,
          "f32 rows next to inf and NaN");
    tg_tape_free(t);
}

int main(int argc, char **argv) {
    ref_run_file(argc > 1 ? argv[1] : "tests/ref/sumsq.txt", table, 2e-6, 1e-12);

    /* gradients, both paths; second derivatives on the small ones */
    struct { const char *name; op_fn f; shape s; bool second; } g1[] = {
        {"all", r_all, S3(2, 3, 4), true},       {"all 0-d", r_all, S0, true},
        {"-1", r_m1, S2(3, 5), true},            {"-1 size-1", r_m1, S2(4, 1), false},
        {"-1 [3,0]", r_m1, S2(3, 0), false},     {"-1 [0,3]", r_m1, S2(0, 3), false},
        {"1,2 keepdim", r_12k, S3(2, 3, 4), true}, {"0", r_0, S2(3, 4), true},
        {"0 size-1", r_0, S2(1, 4), false},      {"0,2 keepdim", r_02k, S3(2, 3, 4), true},
        {"1 middle", r_1, S3(2, 3, 4), false},   {"1 of [2,0,3]", r_1, S3(2, 0, 3), false},
        {"twice -1", f_twice, S2(3, 4), true},   {"twice 0", f_twice0, S2(3, 4), true},
        {"gmm reshape", f_gmm, S2(2, 6), true},  {"gmm reshape, x twice", f_gmm2, S2(2, 6), true},
    };
    for (size_t k = 0; k < sizeof g1 / sizeof *g1; k++)
        gc_check(g1[k].name, g1[k].f, NULL, 1, &g1[k].s, 11 + k, -2, 2, NULL, g1[k].second);
    gc_check("broadcast into add", f_bcast, NULL, 2, (shape[]){S3(2, 3, 4), S1(3)}, 5, -2, 2, NULL,
             true);
    /* edge values: zeros and tiny entries (the gradient is 2 a, no kink) */
    tg_tape *t = tg_tape_new();
    double ev[] = {0.0, -0.0, 1e-9, -1e-9, 3.0, -2.5};
    tg_tensor *e = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 3), ev);
    gc_check_in("edge values -1", r_m1, NULL, 1, &e, true);
    gc_check_in("edge values 0", r_0, NULL, 1, &e, true);

    /* the same values as sum(square(a)) on every kind of axis set */
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *a = tg_rand_uniform(t, TG_F64, TG_SHAPE(5, 4, 7), &rng, -3, 3);
    check_agrees(t, a, 0, NULL, false, "all");
    check_agrees(t, a, 1, (int[]){-1}, false, "-1");
    check_agrees(t, a, 2, (int[]){1, 2}, true, "1,2");
    check_agrees(t, a, 1, (int[]){0}, true, "0");
    check_agrees(t, a, 2, (int[]){0, 2}, false, "0,2");
    tg_tensor *f = tg_rand_uniform(t, TG_F32, TG_SHAPE(6, 9), &rng, -3, 3);
    tg_tensor *sf = tg_sum_squares(f, 1, (int[]){1}, false);
    CHECK(sf && tg_tensor_dtype(sf) == TG_F32, "f32 in, f32 out");
    double want = 0;
    for (int j = 0; j < 9; j++) want += (double)tg_tensor_f32(f)[j] * tg_tensor_f32(f)[j];
    CHECK(sf && tg_tensor_f32(sf)[0] == (float)want, "f32 row: squares and adds in double");

    /* bad inputs: each names the op and the shape */
    tg_tape_reset(t);
    tg_tensor *m = tg_zeros(t, TG_F64, TG_SHAPE(2, 3));
    CHECK_ERR(tg_sum_squares(m, 1, (int[]){2}, false), t, TG_ERR_ARG, "sum_squares");
    CHECK(strstr(tg_tape_error(t), "[2,3]") != NULL, "names the shape: %s", tg_tape_error(t));
    tg_tape_reset(t);
    m = tg_zeros(t, TG_F64, TG_SHAPE(2, 3));
    CHECK_ERR(tg_sum_squares(m, 2, (int[]){1, -1}, false), t, TG_ERR_ARG, "twice");
    tg_tape_reset(t);
    m = tg_zeros(t, TG_F64, TG_SHAPE(2, 3));
    CHECK_ERR(tg_sum_squares(m, -1, (int[]){0}, false), t, TG_ERR_ARG, "sum_squares");
    tg_tape_reset(t);
    tg_tensor *i = tg_zeros(t, TG_I64, TG_SHAPE(3));
    CHECK_ERR(tg_sum_squares(i, 0, NULL, false), t, TG_ERR_DTYPE, "sum_squares");
    CHECK(strstr(tg_tape_error(t), "i64") != NULL, "names the dtype: %s", tg_tape_error(t));
    CHECK(tg_sum_squares(NULL, 0, NULL, false) == NULL, "NULL in, NULL out");
    tg_tape_free(t);
    check_row_kernels();
    return TEST_DONE("sumsq");
}
