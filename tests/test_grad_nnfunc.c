/* test_grad_nnfunc.c - softmax, log_softmax, softmax_cross_entropy,
 * dropout, layer_norm, batch_norm: central differences in f64 (both
 * backward paths, second derivatives), stability at +-1000, dropout
 * statistics, running statistics, and bad inputs. */
#include "gradharness.h"

OP(f_sm_last, tg_softmax(x[0], -1))
OP(f_sm_0, tg_softmax(x[0], 0))
OP(f_sm_mid, tg_softmax(x[0], 1))
OP(f_lsm_last, tg_log_softmax(x[0], -1))
OP(f_lsm_0, tg_log_softmax(x[0], 0))
OP(f_lsm_mid, tg_log_softmax(x[0], -2))
OP(f_ln1, tg_layer_norm(x[0], 1, x[1], x[2], 1e-5))
OP(f_ln2, tg_layer_norm(x[0], 2, NULL, NULL, 1e-5))
OP(f_ln_w, tg_layer_norm(x[0], 1, x[1], NULL, 1e-3))
OP(f_bn_train, tg_batch_norm(x[0], x[1], x[2], NULL, NULL, true, 0.1, 1e-5))
OP(f_bn_train_plain, tg_batch_norm(x[0], NULL, NULL, NULL, NULL, true, 0.1, 1e-5))

/* the same mask on every evaluation: the rng is reseeded inside */
static tg_tensor *f_dropout(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t;
    tg_rng r;
    tg_rng_seed(&r, 5);
    return tg_mul(tg_dropout(x[0], *(double *)ud, true, &r), x[0]);
}

/* eval mode: the running statistics are constants */
static tg_tensor *f_bn_eval(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)ud;
    tg_tensor *rm = tg_tensor_new(t, TG_F64, TG_SHAPE(3), (double[]){0.1, -0.2, 0.3});
    tg_tensor *rv = tg_tensor_new(t, TG_F64, TG_SHAPE(3), (double[]){0.5, 1.5, 2.0});
    return tg_batch_norm(x[0], x[1], x[2], rm, rv, false, 0.1, 1e-5);
}

/* inputs drawn uniformly from [lo, hi] */
static void check(const char *name, op_fn f, void *ud, int n, const shape *shapes, double lo,
                  double hi, bool second) {
    gc_check(name, f, ud, n, shapes, 13, lo, hi, NULL, second);
}

static void test_gradients(void) {
    const shape sh[] = {S1(5), S2(3, 4), S3(2, 3, 4), S2(3, 1), S0};
    for (size_t k = 0; k < sizeof sh / sizeof *sh; k++) {
        check("softmax -1", f_sm_last, NULL, 1, &sh[k], -2, 2, k < 3);
        check("log_softmax -1", f_lsm_last, NULL, 1, &sh[k], -2, 2, k < 3);
        check("softmax 0", f_sm_0, NULL, 1, &sh[k], -2, 2, false);
        check("log_softmax 0", f_lsm_0, NULL, 1, &sh[k], -2, 2, false);
    }
    check("softmax middle axis", f_sm_mid, NULL, 1, &(shape)S3(2, 3, 4), -2, 2, true);
    check("log_softmax middle axis", f_lsm_mid, NULL, 1, &(shape)S3(2, 3, 4), -2, 2, true);
    check("softmax size-0 rows", f_sm_last, NULL, 1, &(shape)S2(0, 3), -2, 2, false);
    check("softmax size-0 axis", f_sm_last, NULL, 1, &(shape)S2(3, 0), -2, 2, false);
    /* big logits: shifted by the max, finite gradients */
    check("softmax large logits", f_sm_last, NULL, 1, &(shape)S2(2, 3), 995, 1000, false);
    check("log_softmax large logits", f_lsm_last, NULL, 1, &(shape)S2(2, 3), -1000, -995, false);
    /* a wide inner axis (more than one block of 64 columns) */
    check("softmax axis 0, 70 columns", f_sm_0, NULL, 1, &(shape)S2(3, 70), -2, 2, false);
    check("log_softmax axis 0, 70 columns", f_lsm_0, NULL, 1, &(shape)S2(3, 70), -2, 2, false);

    double p = 0.3;
    check("dropout", f_dropout, &p, 1, &(shape)S2(4, 5), -1, 1, true);
    p = 1.0;
    check("dropout p=1", f_dropout, &p, 1, &(shape)S1(4), -1, 1, false);

    check("layer_norm last axis, weight and bias", f_ln1, NULL, 3,
          (shape[]){S2(3, 4), S1(4), S1(4)}, -2, 2, true);
    check("layer_norm 3-d", f_ln1, NULL, 3, (shape[]){S3(2, 2, 5), S1(5), S1(5)}, -2, 2, false);
    check("layer_norm two axes", f_ln2, NULL, 1, &(shape)S3(2, 3, 4), -2, 2, true);
    check("layer_norm weight only", f_ln_w, NULL, 2, (shape[]){S2(2, 3), S1(3)}, -2, 2, false);
    check("layer_norm size-1 rows", f_ln_w, NULL, 2, (shape[]){S2(1, 3), S1(3)}, -2, 2, false);
    check("layer_norm size-0 batch", f_ln_w, NULL, 2, (shape[]){S2(0, 3), S1(3)}, -2, 2, false);

    check("batch_norm train [N,C]", f_bn_train, NULL, 3, (shape[]){S2(4, 3), S1(3), S1(3)}, -2, 2,
          true);
    check("batch_norm train [N,C,H,W]", f_bn_train, NULL, 3,
          (shape[]){S4(2, 3, 2, 2), S1(3), S1(3)}, -2, 2, false);
    check("batch_norm train [N,C,L]", f_bn_train_plain, NULL, 1, &(shape)S3(2, 2, 3), -2, 2,
          true);
    check("batch_norm eval", f_bn_eval, NULL, 3, (shape[]){S3(2, 3, 2), S1(3), S1(3)}, -2, 2,
          true);
}

/* softmax_cross_entropy: the labels (made on the gradcheck's tape), the
 * ignore_index and the smoothing come through ud; the labels get no
 * gradient. [C] logits take a 0-d label. */
typedef struct ce_case {
    const int64_t *y;
    int64_t ignore;
    double eps;
} ce_case;

static tg_tensor *f_sce(tg_tape *t, tg_tensor *const *x, void *ud) {
    const ce_case *c = ud;
    int rank = tg_tensor_rank(x[0]);
    int64_t n = rank == 2 ? tg_tensor_dim(x[0], 0) : 1;
    return tg_softmax_cross_entropy(x[0], tg_tensor_new(t, TG_I64, rank - 1, &n, c->y), c->ignore,
                                    c->eps);
}

/* logits of shape s: uniform in [lo, hi], or the given values */
static void check_sce(const char *what, shape s, const double *vals, double lo, double hi,
                      const int64_t *y, int64_t ignore, double eps, bool second) {
    tg_tape *tape = tg_tape_new();
    tg_rng rng;
    tg_rng_seed(&rng, 21);
    tg_tensor *x = vals ? tg_tensor_new(tape, TG_F64, s.rank, s.d, vals)
                        : tg_rand_uniform(tape, TG_F64, s.rank, s.d, &rng, lo, hi);
    ce_case c = {y, ignore, eps};
    tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 99, true, second};
    tg_gradcheck_report rep;
    bool ok = tg_gradcheck(f_sce, &c, 1, &x, &o, &rep);
    char b[64];
    CHECK(ok, "softmax_cross_entropy %s on %s, eps %g: %s", what,
          tg_tensor_shape_str(x, b, sizeof b), eps, rep.msg);
    tg_tape_free(tape);
}

static void test_sce_gradients(void) {
    static const double epss[] = {0.0, 0.1};
    static const int64_t y13[7] = {0, 12, 5, 2, 7, 2, 11};
    static const int64_t y70[3] = {69, 0, 33};
    double big[9] = {1000, -1000, 0, -1000, -1000, 1000, 999, 1000, -1000};
    for (int k = 0; k < 2; k++) {
        double eps = epss[k];
        check_sce("N=1, C=1", (shape)S2(1, 1), NULL, -2, 2, (int64_t[]){0}, -100, eps, true);
        check_sce("C=2", (shape)S2(3, 2), NULL, -2, 2, (int64_t[]){1, 0, 1}, -100, eps, true);
        check_sce("N=1", (shape)S2(1, 5), NULL, -2, 2, (int64_t[]){3}, -100, eps, true);
        check_sce("ignored rows", (shape)S2(5, 4), NULL, -3, 3,
                  (int64_t[]){0, 3, -100, 1, -100}, -100, eps, true);
        check_sce("ignore_index in range", (shape)S2(7, 13), NULL, -3, 3, y13, 2, eps, true);
        check_sce("C=70 (8 lanes and a tail)", (shape)S2(3, 70), NULL, -3, 3, y70, -100, eps,
                  false);
        check_sce("[C] and a 0-d label", (shape)S1(4), NULL, -2, 2, (int64_t[]){2}, -100, eps,
                  true);
        check_sce("[C] ignored", (shape)S1(4), NULL, -2, 2, (int64_t[]){-100}, -100, eps, false);
        check_sce("every row ignored", (shape)S2(2, 3), NULL, -2, 2, (int64_t[]){-1, -1}, -1, eps,
                  true);
        check_sce("N=0", (shape)S2(0, 3), NULL, -2, 2, (int64_t[]){0}, -100, eps, false);
        check_sce("+-1000", (shape)S2(3, 3), big, 0, 0, (int64_t[]){1, 2, 0}, -100, eps, true);
        check_sce("+-1000, the label at the max", (shape)S2(3, 3), big, 0, 0,
                  (int64_t[]){0, 2, 1}, -100, eps, true);
    }
    check_sce("smoothing 1", (shape)S2(3, 4), NULL, -2, 2, (int64_t[]){1, 0, 3}, -100, 1.0, true);
}

/* values at +-1000 in both dtypes, the fast backward against the
 * softmax, and the graph backward through a create-graph sweep */
static void test_sce_values(void) {
    tg_tape *t = tg_tape_new();
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = k ? TG_F32 : TG_F64;
        const double v[9] = {1000, -1000, -1000, -1000, -1000, 1000, 0, 0, 0};
        const float vf[9] = {1000, -1000, -1000, -1000, -1000, 1000, 0, 0, 0};
        tg_tensor *x = tg_requires_grad(
            tg_tensor_new(t, dt, TG_SHAPE(3, 3), k ? (const void *)vf : (const void *)v));
        tg_tensor *y = tg_tensor_new(t, TG_I64, TG_SHAPE(3), (int64_t[]){1, 2, 0});
        tg_tensor *l = tg_softmax_cross_entropy(x, y, -100, 0.0);
        CHECK_OK(t);
        CHECK(l && tg_tensor_get(l, 0) == 2000 && tg_tensor_get(l, 1) == 0,
              "%s at +-1000: %.17g %.17g", tg_dtype_name(dt), tg_tensor_get(l, 0),
              tg_tensor_get(l, 1));
        CHECK_NEAR(tg_tensor_get(l, 2), log(3.0), k ? 1e-6 : 1e-15);
        tg_tensor *ls = tg_softmax_cross_entropy(x, y, -100, 0.3);
        /* row 0: 0.7 * 2000 + 0.1 * (2000 + 2000 + 0) */
        CHECK_NEAR(tg_tensor_get(ls, 0), 0.7 * 2000 + 0.1 * 4000, k ? 1e-3 : 1e-11);
        CHECK(tg_backward(tg_sum(l)) == TG_OK, "backward: %s", tg_tape_error(t));
        tg_tensor *g = tg_tensor_grad(x), *sm = tg_softmax(x, -1);
        const double want[9] = {1, -1, 0, 0, 0, 0, 1.0 / 3 - 1, 1.0 / 3, 1.0 / 3};
        double worst = 0;
        for (int i = 0; g && i < 9; i++) {
            worst = fmax(worst, fabs(tg_tensor_get(g, i) - want[i]));
            worst = fmax(worst, fabs(tg_tensor_get(g, i) - (tg_tensor_get(sm, i) - (i == 1 || i == 5 || i == 6))));
        }
        CHECK(g && worst < (k ? 1e-6 : 1e-15), "%s gradient at +-1000 off by %g", tg_dtype_name(dt),
              worst);
        tg_tape_reset(t);
    }
    /* the gradient as a tensor (create-graph): same numbers as the fast path */
    tg_rng r;
    tg_rng_seed(&r, 4);
    tg_tensor *x = tg_requires_grad(tg_rand_uniform(t, TG_F64, TG_SHAPE(4, 5), &r, -2, 2));
    tg_tensor *y = tg_tensor_new(t, TG_I64, TG_SHAPE(4), (int64_t[]){4, -100, 0, 2});
    tg_tensor *l = tg_sum(tg_softmax_cross_entropy(x, y, -100, 0.1));
    tg_tensor *gg[1], *gf[1];
    tg_grad(l, NULL, 1, &x, gg, TG_CREATE_GRAPH);
    tg_grad(l, NULL, 1, &x, gf, 0);
    CHECK_OK(t);
    double worst = 0;
    for (int i = 0; i < 20; i++)
        worst = fmax(worst, fabs(tg_tensor_get(gg[0], i) - tg_tensor_get(gf[0], i)));
    CHECK(worst < 1e-15, "graph and fast backward differ by %g", worst);
    CHECK(tg_tensor_get(gf[0], 5) == 0 && tg_tensor_get(gf[0], 9) == 0, "ignored row: zero gradient");
    tg_tape_free(t);
}

static void test_softmax_extremes(void) {
    tg_tape *t = tg_tape_new();
    float v[] = {-1000, 0, 1000, 1000, 1000, -1000};
    tg_tensor *x = tg_requires_grad(tg_tensor_new(t, TG_F32, TG_SHAPE(2, 3), v));
    tg_tensor *s = tg_softmax(x, -1), *l = tg_log_softmax(x, -1);
    CHECK_OK(t);
    float want_s[] = {0, 0, 1, 0.5f, 0.5f, 0}, want_l[] = {-2000, -1000, 0, -0.69314718f, -0.69314718f, -2000.6931472f};
    for (int k = 0; k < 6; k++) {
        CHECK_NEAR(tg_tensor_get(s, k), want_s[k], 1e-7);
        CHECK_NEAR(tg_tensor_get(l, k), want_l[k], 1e-7);
    }
    tg_backward(tg_sum(tg_add(tg_mul(s, s), l)));
    tg_tensor *g = tg_tensor_grad(x);
    int finite = 0;
    for (int k = 0; k < 6; k++) finite += g && isfinite(tg_tensor_get(g, k));
    CHECK(finite == 6, "softmax/log_softmax gradients at +-1000 are finite (%d of 6)", finite);
    /* rows sum to one over a non-last axis, large and threaded */
    tg_tape_reset(t);
    tg_rng r;
    tg_rng_seed(&r, 3);
    tg_tensor *big = tg_rand_uniform(t, TG_F64, TG_SHAPE(64, 50, 40), &r, -30, 30);
    tg_tensor *sb = tg_softmax(big, 1);
    double worst = 0;
    for (int64_t o = 0; sb && o < 64; o++)
        for (int64_t i = 0; i < 40; i++) {
            double sum = 0;
            for (int64_t k = 0; k < 50; k++) sum += tg_tensor_get(sb, (o * 50 + k) * 40 + i);
            worst = fmax(worst, fabs(sum - 1));
        }
    CHECK(sb && worst < 1e-12, "softmax rows sum to 1 (worst error %g)", worst);
    tg_tape_free(t);
}

static void test_dropout(void) {
    tg_tape *t = tg_tape_new();
    int64_t n = 100000;
    tg_tensor *x = tg_ones(t, TG_F32, 1, &n);
    const double ps[] = {0.1, 0.5, 0.9};
    for (int k = 0; k < 3; k++) {
        double p = ps[k];
        tg_rng r;
        tg_rng_seed(&r, 42);
        tg_tensor *y = tg_dropout(x, p, true, &r);
        int64_t zeros = 0, exact = 0;
        float scale = (float)(1.0 / (1.0 - p));
        const float *yd = tg_tensor_f32(y);
        for (int64_t i = 0; yd && i < n; i++) {
            zeros += yd[i] == 0;
            exact += yd[i] == 0 || yd[i] == scale;
        }
        /* binomial: sd = sqrt(n p (1-p)) <= 158; allow 5 sd */
        double frac = (double)zeros / (double)n;
        CHECK(fabs(frac - p) < 5 * sqrt(p * (1 - p) / (double)n), "dropout p=%g zeroed %g", p, frac);
        CHECK(exact == n, "dropout p=%g: %lld values neither 0 nor 1/(1-p)", p, (long long)(n - exact));
        /* same seed, same mask */
        tg_rng_seed(&r, 42);
        tg_tensor *y2 = tg_dropout(x, p, true, &r);
        const float *y2d = tg_tensor_f32(y2);
        CHECK(y2d && yd && memcmp(yd, y2d, (size_t)n * sizeof(float)) == 0, "same seed, same mask");
        /* a different seed gives a different mask */
        tg_rng_seed(&r, 43);
        const float *y3d = tg_tensor_f32(tg_dropout(x, p, true, &r));
        CHECK(y3d && yd && memcmp(yd, y3d, (size_t)n * sizeof(float)) != 0, "another seed, another mask");
    }
    tg_rng r;
    tg_rng_seed(&r, 1);
    CHECK(tg_dropout(x, 0.5, false, &r) == x, "eval mode: identity");
    CHECK(tg_dropout(x, 0.0, true, &r) == x, "p = 0: identity");
    CHECK(tg_dropout(x, 0.5, false, NULL) == x, "eval mode needs no rng");
    const float *z = tg_tensor_f32(tg_dropout(x, 1.0, true, &r));
    int64_t nz = 0;
    for (int64_t i = 0; z && i < n; i++) nz += z[i] != 0;
    CHECK(z && nz == 0, "p = 1 gives zeros (%lld nonzero)", (long long)nz);
    CHECK_OK(t);
    CHECK_ERR(tg_dropout(x, 1.5, true, &r), t, TG_ERR_ARG, "dropout: p = 1.5 is outside [0, 1] (input [100000])");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2));
    CHECK_ERR(tg_dropout(x, -0.1, false, &r), t, TG_ERR_ARG, "dropout: p = -0.1 is outside [0, 1]");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2));
    CHECK_ERR(tg_dropout(x, NAN, true, &r), t, TG_ERR_ARG, "dropout: p = nan");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2));
    CHECK_ERR(tg_dropout(x, 0.5, true, NULL), t, TG_ERR_NULL, "dropout: rng is NULL (input [2])");
    tg_tape_free(t);
}

/* running statistics: PyTorch's update, with the unbiased variance */
static void test_batch_norm_running(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *rm = tg_param_new(TG_F64, TG_SHAPE(2)), *rv = tg_param_new(TG_F64, TG_SHAPE(2));
    tg_tensor_f64(rv)[0] = tg_tensor_f64(rv)[1] = 1;
    /* channel 0: 1, 2, 3, 4 (mean 2.5, unbiased var 5/3); channel 1: all 7 */
    tg_tensor *x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2, 2), (double[]){1, 2, 7, 7, 3, 4, 7, 7});
    tg_tensor *y = tg_batch_norm(x, NULL, NULL, rm, rv, true, 0.1, 1e-5);
    CHECK_OK(t);
    double *m = tg_tensor_f64(rm), *v = tg_tensor_f64(rv);
    CHECK_NEAR(m[0], 0.25, 1e-15);
    CHECK_NEAR(m[1], 0.7, 1e-15);
    CHECK_NEAR(v[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-15);
    CHECK_NEAR(v[1], 0.9, 1e-15);
    /* normalized with the biased variance 1.25 */
    CHECK_NEAR(tg_tensor_get(y, 0), -1.5 / sqrt(1.25 + 1e-5), 1e-12);
    CHECK_NEAR(tg_tensor_get(y, 2), 0.0, 1e-12);
    /* running stats are not differentiated */
    tg_backward(tg_sum(tg_mul(y, y)));
    double *gm = tg_tensor_f64(tg_tensor_grad(rm));
    CHECK(gm && gm[0] == 0 && gm[1] == 0, "running_mean gets no gradient");
    /* eval: uses the running statistics */
    tg_tape_reset(t);
    x = tg_tensor_new(t, TG_F64, TG_SHAPE(1, 2), (double[]){1.25, 0.7});
    y = tg_batch_norm(x, NULL, NULL, rm, rv, false, 0.1, 0.0);
    CHECK_NEAR(tg_tensor_get(y, 0), 1.0 / sqrt(v[0]), 1e-14);
    CHECK_NEAR(tg_tensor_get(y, 1), 0.0, 1e-14);
    CHECK_NEAR(m[0], 0.25, 1e-15); /* eval leaves them alone */
    CHECK_OK(t);
    tg_param_free(rm);
    tg_param_free(rv);
    tg_tape_free(t);
}

/* the fused norms when only some inputs require grad: d x must not depend
 * on whether w and b do, and parameters get their gradients */
static void test_partial_grads(void) {
    for (int which = 0; which < 2; which++) {
        tg_tape *t = tg_tape_new();
        tg_rng r;
        tg_rng_seed(&r, 9);
        int64_t xs[4] = {3, 4, 2, 1};
        tg_tensor *x = tg_requires_grad(tg_rand_uniform(t, TG_F64, which ? 3 : 2, xs, &r, -2, 2));
        tg_tensor *wp = tg_param_new(TG_F64, TG_SHAPE(4));
        for (int k = 0; k < 4; k++) tg_tensor_f64(wp)[k] = 0.5 + k;
        tg_tensor *wc = tg_tensor_new(t, TG_F64, TG_SHAPE(4), tg_tensor_f64(wp));
        tg_tensor *seed = tg_rand_uniform(t, TG_F64, which ? 3 : 2, xs, &r, -1, 1);
        tg_tensor *y1 = which ? tg_batch_norm(x, wc, NULL, NULL, NULL, true, 0.1, 1e-5)
                              : tg_layer_norm(x, 1, wc, NULL, 1e-5);
        tg_tensor *g1[1], *g2[2];
        tg_grad(y1, seed, 1, &x, g1, 0);
        tg_tensor *y2 = which ? tg_batch_norm(x, wp, NULL, NULL, NULL, true, 0.1, 1e-5)
                              : tg_layer_norm(x, 1, wp, NULL, 1e-5);
        tg_grad(y2, seed, 2, (tg_tensor *[]){x, wp}, g2, 0);
        CHECK_OK(t);
        double worst = 0;
        for (int64_t k = 0; k < tg_tensor_numel(x); k++)
            worst = fmax(worst, fabs(tg_tensor_get(g1[0], k) - tg_tensor_get(g2[0], k)));
        CHECK(worst < 1e-14, "%s: d x differs by %g with a constant weight",
              which ? "batch_norm" : "layer_norm", worst);
        tg_backward_seed(y2, seed);
        double gsum = 0;
        for (int k = 0; k < 4; k++) gsum += fabs(tg_tensor_f64(tg_tensor_grad(wp))[k]);
        CHECK(gsum > 0, "%s: the weight parameter received a gradient",
              which ? "batch_norm" : "layer_norm");
        tg_param_free(wp);
        tg_tape_free(t);
    }
}

static void test_bad_inputs(void) {
    tg_tape *t = tg_tape_new();
#define FRESH() tg_tape_reset(t); tg_tensor *a = tg_ones(t, TG_F32, TG_SHAPE(4, 3))
    {
        FRESH();
        CHECK_ERR(tg_softmax(a, 2), t, TG_ERR_ARG, "softmax: axis 2 is out of range for shape [4,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_log_softmax(a, -3), t, TG_ERR_ARG, "log_softmax: axis -3 is out of range for shape [4,3]");
    }
    {
        FRESH();
        tg_tensor *ix = tg_zeros(t, TG_I64, TG_SHAPE(3));
        CHECK_ERR(tg_softmax(ix, 0), t, TG_ERR_DTYPE, "softmax: operand 1 is i64 [3]");
        (void)a;
    }
    {
        FRESH();
        CHECK_ERR(tg_layer_norm(a, 3, NULL, NULL, 1e-5), t, TG_ERR_ARG,
                  "layer_norm: cannot normalize over the last 3 axes of [4,3]");
    }
    {
        FRESH();
        tg_tensor *w = tg_ones(t, TG_F32, TG_SHAPE(4));
        CHECK_ERR(tg_layer_norm(a, 1, w, NULL, 1e-5), t, TG_ERR_SHAPE,
                  "layer_norm: weight [4] does not match the normalized shape [3] of input [4,3]");
    }
    {
        FRESH();
        tg_tensor *b = tg_ones(t, TG_F64, TG_SHAPE(3));
        CHECK_ERR(tg_layer_norm(a, 1, NULL, b, 1e-5), t, TG_ERR_DTYPE, "layer_norm: dtypes differ");
    }
    {
        FRESH();
        tg_tensor *w = tg_ones(t, TG_F32, TG_SHAPE(4));
        CHECK_ERR(tg_batch_norm(a, w, NULL, NULL, NULL, true, 0.1, 1e-5), t, TG_ERR_SHAPE,
                  "batch_norm: weight [4] does not match [3] of input [4,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_batch_norm(a, NULL, NULL, NULL, NULL, false, 0.1, 1e-5), t, TG_ERR_NULL,
                  "batch_norm: eval mode needs running_mean and running_var (input [4,3])");
    }
    {
        FRESH();
        tg_tensor *rm = tg_zeros(t, TG_F32, TG_SHAPE(2));
        CHECK_ERR(tg_batch_norm(a, NULL, NULL, rm, NULL, true, 0.1, 1e-5), t, TG_ERR_SHAPE,
                  "batch_norm: running_mean is f32 [2]; input f32 [4,3] needs [3] of the same dtype");
    }
    {
        FRESH();
        tg_tensor *one = tg_ones(t, TG_F32, TG_SHAPE(1, 3));
        CHECK_ERR(tg_batch_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), t, TG_ERR_SHAPE,
                  "batch_norm: training needs more than 1 value per channel, input is [1,3]");
        (void)a;
    }
    {
        FRESH();
        tg_tensor *v = tg_ones(t, TG_F32, TG_SHAPE(3));
        CHECK_ERR(tg_batch_norm(v, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), t, TG_ERR_SHAPE,
                  "batch_norm: input [3] is not [N, C, ...]");
        (void)a;
    }
    /* softmax_cross_entropy: every error names the op and the shapes */
    const char *sce = "softmax_cross_entropy: ";
    char want[200];
#define SCE_ERR(call, status, msg)                                             \
    do {                                                                       \
        FRESH();                                                               \
        (void)a;                                                               \
        snprintf(want, sizeof want, "%s%s", sce, msg);                         \
        CHECK_ERR(call, t, status, want);                                      \
    } while (0)
#define LAB(...) tg_tensor_new(t, TG_I64, TG_SHAPE(4), (int64_t[]){__VA_ARGS__})
    SCE_ERR(tg_softmax_cross_entropy(a, NULL, -100, 0), TG_ERR_NULL, "operand 2 is NULL");
    SCE_ERR(tg_softmax_cross_entropy(NULL, LAB(0, 1, 2, 0), -100, 0), TG_ERR_NULL,
            "operand 1 is NULL");
    SCE_ERR(tg_softmax_cross_entropy(tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 2)),
                                     tg_zeros(t, TG_I64, TG_SHAPE(4, 2)), -100, 0),
            TG_ERR_SHAPE, "logits [4,3,2] must be [N, C] or [C] (labels [4,2])");
    SCE_ERR(tg_softmax_cross_entropy(tg_zeros(t, TG_F32, 0, NULL), tg_zeros(t, TG_I64, 0, NULL),
                                     -100, 0),
            TG_ERR_SHAPE, "logits [] must be [N, C] or [C]");
    SCE_ERR(tg_softmax_cross_entropy(a, tg_zeros(t, TG_I64, TG_SHAPE(4, 1)), -100, 0),
            TG_ERR_SHAPE, "labels [4,1] do not fit logits [4,3] (want one label per row, [N])");
    SCE_ERR(tg_softmax_cross_entropy(a, tg_zeros(t, TG_I64, TG_SHAPE(5)), -100, 0), TG_ERR_SHAPE,
            "labels [5] do not fit logits [4,3]");
    SCE_ERR(tg_softmax_cross_entropy(tg_zeros(t, TG_F32, TG_SHAPE(3)),
                                     tg_zeros(t, TG_I64, TG_SHAPE(1)), -100, 0),
            TG_ERR_SHAPE, "labels [1] do not fit logits [3] (want a 0-d label)");
    SCE_ERR(tg_softmax_cross_entropy(a, tg_zeros(t, TG_F32, TG_SHAPE(4)), -100, 0), TG_ERR_DTYPE,
            "labels are f32 [4]; they must be i64 class indices (logits f32 [4,3])");
    SCE_ERR(tg_softmax_cross_entropy(tg_zeros(t, TG_I64, TG_SHAPE(4, 3)), LAB(0, 1, 2, 0), -100, 0),
            TG_ERR_DTYPE, "logits are i64 [4,3]; this op needs f32 or f64");
    SCE_ERR(tg_softmax_cross_entropy(a, LAB(0, 1, 3, 0), -100, 0), TG_ERR_ARG,
            "label 3 in row 2 is outside [0, 3) and is not ignore_index -100 (logits [4,3])");
    SCE_ERR(tg_softmax_cross_entropy(a, LAB(0, -1, 2, 0), -100, 0), TG_ERR_ARG,
            "label -1 in row 1 is outside [0, 3)");
    SCE_ERR(tg_softmax_cross_entropy(a, LAB(0, 1, 2, -100), 5, 0), TG_ERR_ARG,
            "label -100 in row 3 is outside [0, 3) and is not ignore_index 5");
    SCE_ERR(tg_softmax_cross_entropy(a, LAB(0, 1, 2, 0), -100, 1.5), TG_ERR_ARG,
            "label_smoothing = 1.5 is outside [0, 1] (logits [4,3])");
    SCE_ERR(tg_softmax_cross_entropy(a, LAB(0, 1, 2, 0), -100, -0.1), TG_ERR_ARG,
            "label_smoothing = -0.1 is outside [0, 1]");
    SCE_ERR(tg_softmax_cross_entropy(a, LAB(0, 1, 2, 0), -100, NAN), TG_ERR_ARG,
            "label_smoothing = nan is outside [0, 1]");
    {
        FRESH();
        tg_tensor *y = LAB(0, 1, 2, 0);
        tg_tape *t2 = tg_tape_new();
        tg_tensor *ox = tg_ones(t2, TG_F32, TG_SHAPE(4, 3));
        CHECK_ERR(tg_softmax_cross_entropy(ox, y, -100, 0), t2, TG_ERR_TAPE,
                  "softmax_cross_entropy: operand 2 belongs to another tape");
        tg_tape_free(t2);
        (void)a;
    }
    {
        tg_tensor *old;
        {
            FRESH();
            old = a;
        }
        FRESH();
        CHECK_ERR(tg_softmax_cross_entropy(old, LAB(0, 1, 2, 0), -100, 0), t, TG_ERR_STALE,
                  "softmax_cross_entropy: operand 1");
        (void)a;
    }
    {
        /* sticky: a NULL from an earlier failure gives NULL, the first error stays */
        FRESH();
        tg_tensor *bad = tg_softmax(a, 5);
        CHECK(tg_softmax_cross_entropy(bad, LAB(0, 1, 2, 0), -100, 0) == NULL, "NULL in, NULL out");
        CHECK(strstr(tg_tape_error(t), "softmax: axis 5") != NULL, "first error kept: %s",
              tg_tape_error(t));
    }
#undef LAB
#undef SCE_ERR
#undef FRESH
    tg_tape_free(t);
}

int main(void) {
    test_gradients();
    test_sce_gradients();
    test_sce_values();
    test_softmax_extremes();
    test_dropout();
    test_batch_norm_running();
    test_partial_grads();
    test_bad_inputs();
    return TEST_DONE("grad_nnfunc");
}
