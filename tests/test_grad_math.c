/* test_grad_math.c - the math ops (ops/tg_ewlist.h, select.c) and the further reductions
 * (ops/reduce.c) against central differences in f64, through both backward
 * paths (fast and create-graph), on several shapes with broadcasting,
 * negative axes, size-1 and size-0 axes; second derivatives on some; the
 * kinks at and beside (PyTorch's conventions); and bad inputs. */
#include "gradharness.h"

OP(f_log1p, tg_log1p(x[0]))
OP(f_expm1, tg_expm1(x[0]))
OP(f_erf, tg_erf(x[0]))
OP(f_square, tg_square(x[0]))
OP(f_recip, tg_reciprocal(x[0]))
OP(f_rsqrt, tg_rsqrt(x[0]))
OP(f_softplus, tg_softplus(x[0], 1.0, 20.0))
OP(f_softplus2, tg_softplus(x[0], 2.0, 1.0))
OP(f_softplus_neg, tg_softplus(x[0], -1.5, 20.0))
OP(f_gelu, tg_gelu(x[0], false))
OP(f_gelu_tanh, tg_gelu(x[0], true))
OP(f_leaky, tg_leaky_relu(x[0], 0.1))
OP(f_elu, tg_elu(x[0], 1.5))
OP(f_silu, tg_silu(x[0]))
OP(f_clamp, tg_clamp(x[0], -0.5, 0.7))
OP(f_clamp_lo, tg_clamp(x[0], 0.2, INFINITY))
OP(f_clamp_hi, tg_clamp(x[0], -INFINITY, 0.3))
OP(f_sign, tg_mul(tg_sign(x[0]), x[0]))
OP(f_max, tg_maximum(x[0], x[1]))
OP(f_min, tg_minimum(x[0], x[1]))
OP(f_where, tg_where(x[0], x[1], x[2]))
OP(f_clamp_t, tg_clamp_t(x[0], x[1], x[2]))
OP(f_clamp_t_lo, tg_clamp_t(x[0], x[1], NULL))
OP(f_clamp_t_hi, tg_clamp_t(x[0], NULL, x[1]))
/* reductions */
OP(f_var_all, tg_var(x[0], 0, NULL, 1, false))
OP(f_var1, tg_var(x[0], 1, (int[]){1}, 1, false))
OP(f_var_0m1k, tg_var(x[0], 2, (int[]){0, -1}, 0, true))
OP(f_std_all, tg_std(x[0], 0, NULL, 1, false))
OP(f_std1, tg_std(x[0], 1, (int[]){-1}, 0, true))
OP(f_prod_all, tg_prod(x[0], 0, NULL, false))
OP(f_prod1, tg_prod(x[0], 1, (int[]){1}, false))
OP(f_prod_02k, tg_prod(x[0], 2, (int[]){0, 2}, true))
OP(f_amax_all, tg_amax(x[0], 0, NULL, false))
OP(f_amax1, tg_amax(x[0], 1, (int[]){1}, false))
OP(f_amin_02k, tg_amin(x[0], 2, (int[]){0, -1}, true))
OP(f_lse_all, tg_logsumexp(x[0], 0, NULL, false))
OP(f_lse1, tg_logsumexp(x[0], 1, (int[]){-1}, false))
OP(f_lse_1k, tg_logsumexp(x[0], 1, (int[]){1}, true))
OP(f_lse1_mid, tg_logsumexp(x[0], 1, (int[]){1}, false))
OP(f_lse_01, tg_logsumexp(x[0], 2, (int[]){0, 1}, false)) /* rows [L, inner] */
OP(f_lse_02, tg_logsumexp(x[0], 2, (int[]){0, 2}, true))  /* not one block */
OP(f_norm1, tg_norm(x[0], 1, 1, (int[]){-1}, false))
OP(f_norm2, tg_norm(x[0], 2, 0, NULL, false))
OP(f_norm2_0k, tg_norm(x[0], 2, 1, (int[]){0}, true))
/* composites: the ops chained, a value reused */
OP(f_chain, tg_sum(tg_mul(tg_gelu(x[0], false), tg_silu(tg_maximum(x[0], x[1])))))

/* inputs drawn uniformly from [lo, hi] */
static void check(const char *name, op_fn f, int n, const shape *shapes, double lo, double hi,
                  bool second) {
    gc_check(name, f, NULL, n, shapes, 7, lo, hi, NULL, second);
}

/* the given inputs */
static void check_in(const char *name, op_fn f, int n, tg_tensor *const *in, bool second) {
    gc_check_in(name, f, NULL, n, in, second);
}

static tg_tensor *vec(tg_tape *t, int n, const double *v) {
    return tg_tensor_new(t, TG_F64, 1, (int64_t[]){n}, v);
}
static tg_tensor *mat(tg_tape *t, int r, int c, const double *v) {
    return tg_tensor_new(t, TG_F64, 2, (int64_t[]){r, c}, v);
}

/* d sum(f(x)) / dx for the given values, by tg_backward; writes into g. */
static void grad_of(tg_tensor *(*f)(tg_tensor *), int n, const double *x, double *g) {
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_requires_grad(vec(t, n, x));
    tg_backward(tg_sum(f(a)));
    double *p = tg_tensor_f64(tg_tensor_grad(a));
    CHECK_OK(t);
    for (int i = 0; i < n; i++) g[i] = p ? p[i] : NAN;
    tg_tape_free(t);
}

static tg_tensor *k_leaky(tg_tensor *a) { return tg_leaky_relu(a, 0.1); }
static tg_tensor *k_elu(tg_tensor *a) { return tg_elu(a, 1.5); }
static tg_tensor *k_clamp(tg_tensor *a) { return tg_clamp(a, -0.5, 0.7); }
static tg_tensor *k_sign(tg_tensor *a) { return tg_sign(a); }
static tg_tensor *k_norm1(tg_tensor *a) { return tg_norm(a, 1, 0, NULL, false); }
static tg_tensor *k_norm2(tg_tensor *a) { return tg_norm(a, 2, 0, NULL, false); }
static tg_tensor *k_std(tg_tensor *a) { return tg_std(a, 0, NULL, 1, false); }
static tg_tensor *k_amax(tg_tensor *a) { return tg_amax(a, 0, NULL, false); }
static tg_tensor *k_amin(tg_tensor *a) { return tg_amin(a, 0, NULL, false); }
static tg_tensor *k_prod(tg_tensor *a) { return tg_prod(a, 0, NULL, false); }
static tg_tensor *k_lse(tg_tensor *a) { return tg_logsumexp(a, 0, NULL, false); }

#define CHECK_VEC(g, ...)                                                      \
    do {                                                                       \
        const double want_[] = {__VA_ARGS__};                                  \
        for (size_t i_ = 0; i_ < sizeof want_ / sizeof *want_; i_++)           \
            CHECK(fabs((g)[i_] - want_[i_]) <= 1e-12 * (1 + fabs(want_[i_])),  \
                  "%s line %d: [%zu] = %.17g, expected %.17g", #g, __LINE__, i_, (g)[i_], \
                  want_[i_]);                                                  \
    } while (0)

static void kinks(void) {
    double g[8];
    /* leaky_relu / elu: the negative side's slope at 0 (PyTorch) */
    grad_of(k_leaky, 3, (double[]){0, 1e-3, -1e-3}, g);
    CHECK_VEC(g, 0.1, 1, 0.1);
    grad_of(k_elu, 3, (double[]){0, 1e-3, -1e-3}, g);
    CHECK_VEC(g, 1.5, 1, 1.5 * exp(-1e-3));
    /* clamp: the gradient passes at both bounds, not beside them */
    grad_of(k_clamp, 6, (double[]){-0.5, 0.7, -0.5 - 1e-9, 0.7 + 1e-9, -0.5 + 1e-9, 0.1}, g);
    CHECK_VEC(g, 1, 1, 0, 0, 1, 1);
    grad_of(k_sign, 3, (double[]){0, 2, -2}, g);
    CHECK_VEC(g, 0, 0, 0);
    /* abs-like: norm 1 at 0 has gradient 0; norm 2 at the zero vector 0, no NaN */
    grad_of(k_norm1, 3, (double[]){0, 2, -2}, g);
    CHECK_VEC(g, 0, 1, -1);
    grad_of(k_norm2, 3, (double[]){0, 0, 0}, g);
    CHECK_VEC(g, 0, 0, 0);
    grad_of(k_norm2, 2, (double[]){3, -4}, g);
    CHECK_VEC(g, 0.6, -0.8);
    /* std of a constant: 0 with gradient 0 (PyTorch masks it) */
    grad_of(k_std, 3, (double[]){2, 2, 2}, g);
    CHECK_VEC(g, 0, 0, 0);
    /* amax / amin: three-way ties share evenly */
    grad_of(k_amax, 5, (double[]){1, 3, 3, -1, 3}, g);
    CHECK_VEC(g, 0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3);
    grad_of(k_amin, 4, (double[]){-2, 5, -2, 0}, g);
    CHECK_VEC(g, 0.5, 0, 0.5, 0);
    /* prod with zeros: one zero gets the product of the others; two give 0 */
    grad_of(k_prod, 4, (double[]){2, 0, 3, -1}, g);
    CHECK_VEC(g, 0, -6, 0, 0);
    grad_of(k_prod, 4, (double[]){2, 0, 3, 0}, g);
    CHECK_VEC(g, 0, 0, 0, 0);
    grad_of(k_prod, 3, (double[]){2, -0.5, 4}, g);
    CHECK_VEC(g, -2, 8, -1);
    /* logsumexp of huge logits: finite, the softmax */
    grad_of(k_lse, 3, (double[]){1000, 1000, -1000}, g);
    CHECK_VEC(g, 0.5, 0.5, 0);

    /* maximum / minimum ties split evenly, by both backward paths */
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_requires_grad(vec(t, 3, (double[]){1, 2, 3}));
    tg_tensor *b = tg_requires_grad(vec(t, 3, (double[]){1, 5, 0}));
    tg_tensor *ins[2] = {a, b}, *gr[2];
    for (int graph = 0; graph < 2; graph++) {
        tg_tensor *y = tg_sum(tg_add(tg_maximum(a, b), tg_mul_scalar(tg_minimum(a, b), 10)));
        CHECK(tg_grad(y, NULL, 2, ins, gr, graph ? TG_CREATE_GRAPH : 0) == TG_OK, "%s", tg_tape_error(t));
        double *ga = tg_tensor_f64(gr[0]), *gb = tg_tensor_f64(gr[1]);
        CHECK(ga && gb, "no gradients");
        if (ga && gb) {
            CHECK_VEC(ga, 5.5, 10, 1);
            CHECK_VEC(gb, 5.5, 1, 10);
        }
    }
    /* clamp_t at its bounds: a gets the gradient at a == lo, lo does not */
    tg_tensor *lo = tg_requires_grad(vec(t, 3, (double[]){1, 0, 0}));
    tg_tensor *hi = tg_requires_grad(vec(t, 3, (double[]){4, 3, 2}));
    tg_tensor *x = tg_requires_grad(vec(t, 3, (double[]){1, 3, 2.5}));
    tg_tensor *ins3[3] = {x, lo, hi}, *g3[3];
    for (int graph = 0; graph < 2; graph++) {
        tg_tensor *y = tg_sum(tg_clamp_t(x, lo, hi));
        CHECK(tg_grad(y, NULL, 3, ins3, g3, graph ? TG_CREATE_GRAPH : 0) == TG_OK, "%s", tg_tape_error(t));
        double *gx = tg_tensor_f64(g3[0]), *gl = tg_tensor_f64(g3[1]), *gh = tg_tensor_f64(g3[2]);
        CHECK(gx && gl && gh, "no gradients");
        if (gx && gl && gh) {
            CHECK_VEC(gx, 1, 1, 0);
            CHECK_VEC(gl, 0, 0, 0);
            CHECK_VEC(gh, 0, 0, 1);
        }
    }
    /* sign: the output requires grad (as PyTorch) and the gradient is zeros */
    tg_tensor *s = tg_sign(a);
    CHECK(tg_tensor_requires_grad(s), "sign output should require grad");
    CHECK_OK(t);
    tg_tape_free(t);
}

/* Values that PyTorch's conventions fix, without gradients. */
static void values(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_requires_grad(mat(t, 2, 3, (double[]){1, 5, 5, NAN, 2, -1}));
    tg_tensor *b = mat(t, 2, 3, (double[]){1, 2, 7, 0, 2, 3});
    /* comparisons: 0/1 in a's dtype, never requiring grad */
    tg_tensor *c[6] = {tg_eq(a, b), tg_ne(a, b), tg_lt(a, b), tg_le(a, b), tg_gt(a, b), tg_ge(a, b)};
    const double want[6][6] = {
        {1, 0, 0, 0, 1, 0}, {0, 1, 1, 1, 0, 1}, {0, 0, 1, 0, 0, 1},
        {1, 0, 1, 0, 1, 1}, {0, 1, 0, 0, 0, 0}, {1, 1, 0, 0, 1, 0},
    };
    for (int k = 0; k < 6; k++) {
        CHECK(c[k] && !tg_tensor_requires_grad(c[k]) && tg_tensor_dtype(c[k]) == TG_F64,
              "comparison %d: %s", k, tg_tape_error(t));
        for (int i = 0; c[k] && i < 6; i++)
            CHECK(tg_tensor_get(c[k], i) == want[k][i], "comparison %d [%d] = %g", k, i,
                  tg_tensor_get(c[k], i));
    }
    /* broadcast comparison against a scalar; i64 operands allowed */
    tg_tensor *gt0 = tg_gt(b, tg_scalar(t, 1.5));
    CHECK(gt0 && tg_tensor_numel(gt0) == 6 && tg_tensor_get(gt0, 1) == 1 && tg_tensor_get(gt0, 0) == 0,
          "gt scalar");
    tg_tensor *li = tg_tensor_new(t, TG_I64, 1, (int64_t[]){3}, (int64_t[]){1, 2, 3});
    tg_tensor *lj = tg_tensor_new(t, TG_I64, 1, (int64_t[]){3}, (int64_t[]){1, 0, 3});
    tg_tensor *eqi = tg_eq(li, lj);
    CHECK(eqi && tg_tensor_dtype(eqi) == TG_I64 && tg_tensor_get(eqi, 0) == 1 &&
              tg_tensor_get(eqi, 1) == 0 && tg_tensor_get(eqi, 2) == 1, "eq i64");
    /* argmax / argmin: first occurrence, NaN wins, negative axis, keepdim */
    tg_tensor *am = tg_argmax(a, -1, false), *an = tg_argmin(a, 1, true), *a0 = tg_argmax(a, 0, false);
    CHECK(am && tg_tensor_dtype(am) == TG_I64 && !tg_tensor_requires_grad(am), "argmax dtype");
    CHECK(am && tg_tensor_rank(am) == 1 && tg_tensor_get(am, 0) == 1 && tg_tensor_get(am, 1) == 0,
          "argmax values");
    CHECK(an && tg_tensor_rank(an) == 2 && tg_tensor_dim(an, 1) == 1 && tg_tensor_get(an, 0) == 0 &&
              tg_tensor_get(an, 1) == 0, "argmin values");
    CHECK(a0 && tg_tensor_get(a0, 0) == 1 && tg_tensor_get(a0, 1) == 0 && tg_tensor_get(a0, 2) == 0,
          "argmax axis 0");
    tg_tensor *ai = tg_argmin(li, 0, false);
    CHECK(ai && tg_tensor_rank(ai) == 0 && tg_tensor_get(ai, 0) == 0, "argmin of i64");
    tg_tensor *as = tg_argmax(tg_scalar(t, 3), 0, false);
    CHECK(as && tg_tensor_get(as, 0) == 0, "argmax of a scalar");
    /* maximum propagates NaN; amax too */
    tg_tensor *mx = tg_maximum(a, b);
    CHECK(mx && isnan(tg_tensor_get(mx, 3)) && tg_tensor_get(mx, 2) == 7, "maximum NaN");
    tg_tensor *ax = tg_amax(a, 1, (int[]){1}, false);
    CHECK(ax && tg_tensor_get(ax, 0) == 5 && isnan(tg_tensor_get(ax, 1)), "amax NaN");
    /* where with a broadcast i64 condition */
    tg_tensor *cond = tg_tensor_new(t, TG_I64, 1, (int64_t[]){3}, (int64_t[]){0, 1, 0});
    tg_tensor *w = tg_where(cond, b, tg_scalar(t, -9));
    CHECK(w && tg_tensor_numel(w) == 6 && tg_tensor_get(w, 0) == -9 && tg_tensor_get(w, 1) == 2 &&
              tg_tensor_get(w, 4) == 2 && tg_tensor_get(w, 5) == -9, "where values");
    /* clamp: NaN stays; lo > hi gives hi (PyTorch) */
    tg_tensor *cl = tg_clamp(a, 3, 2);
    CHECK(cl && tg_tensor_get(cl, 0) == 2 && isnan(tg_tensor_get(cl, 3)), "clamp lo > hi");
    /* var: the unbiased variance of one element is NaN; of an empty axis NaN */
    tg_tensor *v1 = tg_var(vec(t, 1, (double[]){4}), 0, NULL, 1, false);
    CHECK(v1 && isnan(tg_item(v1)), "var of one element");
    tg_tensor *v0 = tg_var(tg_zeros(t, TG_F64, 2, (int64_t[]){0, 3}), 1, (int[]){0}, 1, false);
    CHECK(v0 && tg_tensor_numel(v0) == 3 && isnan(tg_tensor_get(v0, 0)), "var of empty axis");
    tg_tensor *v2 = tg_var(vec(t, 4, (double[]){1, 2, 3, 4}), 0, NULL, 0, false);
    CHECK(v2 && tg_item(v2) == 1.25, "var correction 0");
    /* logsumexp: a row of -inf gives -inf and a zero gradient (no NaN);
     * an empty reduction gives -inf */
    tg_tensor *ninf = tg_requires_grad(mat(t, 2, 2, (double[]){-INFINITY, -INFINITY, 1, 2}));
    tg_tensor *l = tg_logsumexp(ninf, 1, (int[]){1}, false);
    CHECK(l && tg_tensor_get(l, 0) == -INFINITY && fabs(tg_tensor_get(l, 1) - (2 + log1p(exp(-1)))) < 1e-15,
          "logsumexp -inf row");
    tg_tensor *ins[1] = {ninf}, *gr[1];
    for (int graph = 0; graph < 2; graph++) {
        tg_tensor *y = tg_sum(tg_logsumexp(ninf, 1, (int[]){1}, false));
        CHECK(tg_grad(y, NULL, 1, ins, gr, graph ? TG_CREATE_GRAPH : 0) == TG_OK, "%s", tg_tape_error(t));
        double *g = tg_tensor_f64(gr[0]);
        double s = 1 / (1 + exp(-1.0));
        if (g) CHECK_VEC(g, 0, 0, 1 - s, s);
    }
    /* the same down a column (a row kernel's inner axis): -inf, gradient 0 */
    tg_tensor *ninf0 = tg_requires_grad(mat(t, 2, 2, (double[]){-INFINITY, 1, -INFINITY, 2}));
    tg_tensor *l0 = tg_logsumexp(ninf0, 1, (int[]){0}, false);
    CHECK(l0 && tg_tensor_get(l0, 0) == -INFINITY && fabs(tg_tensor_get(l0, 1) - (2 + log1p(exp(-1)))) < 1e-15,
          "logsumexp -inf column");
    tg_tensor *ins0[1] = {ninf0}, *gr0[1];
    CHECK(tg_grad(tg_sum(l0), NULL, 1, ins0, gr0, 0) == TG_OK, "%s", tg_tape_error(t));
    double *g0 = tg_tensor_f64(gr0[0]);
    double s0 = 1 / (1 + exp(-1.0));
    if (g0) CHECK_VEC(g0, 0, 1 - s0, 0, s0);
    tg_tensor *le = tg_logsumexp(tg_zeros(t, TG_F64, 2, (int64_t[]){2, 0}), 1, (int[]){1}, false);
    CHECK(le && tg_tensor_get(le, 0) == -INFINITY, "logsumexp of empty");
    /* f32: ±1000 logits stay finite */
    tg_tensor *big = tg_tensor_new(t, TG_F32, 1, (int64_t[]){3}, (float[]){1000, -1000, 999});
    tg_tensor *lb = tg_logsumexp(big, 0, NULL, false);
    CHECK(lb && fabs(tg_item(lb) - (1000 + log1p(exp(-1)))) < 1e-3, "logsumexp f32 1000: %g",
          lb ? tg_item(lb) : NAN);
    CHECK_OK(t);
    tg_tape_free(t);
}

static void errors(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_zeros(t, TG_F64, 2, (int64_t[]){2, 3});
    tg_tensor *b = tg_zeros(t, TG_F64, 1, (int64_t[]){4});
    tg_tensor *f = tg_zeros(t, TG_F32, 1, (int64_t[]){3});
    tg_tensor *i = tg_zeros(t, TG_I64, 1, (int64_t[]){3});
    tg_tensor *e = tg_zeros(t, TG_F64, 2, (int64_t[]){0, 3});
#define ERR(EXPR, S, NEEDLE1, NEEDLE2)                                         \
    do {                                                                       \
        tg_tape_reset(t);                                                      \
        a = tg_zeros(t, TG_F64, 2, (int64_t[]){2, 3});                         \
        b = tg_zeros(t, TG_F64, 1, (int64_t[]){4});                            \
        f = tg_zeros(t, TG_F32, 1, (int64_t[]){3});                            \
        i = tg_zeros(t, TG_I64, 1, (int64_t[]){3});                            \
        e = tg_zeros(t, TG_F64, 2, (int64_t[]){0, 3});                         \
        tg_tensor *r_ = (EXPR);                                                \
        CHECK_ERR(r_, t, S, NEEDLE1);                                          \
        CHECK(strstr(tg_tape_error(t), NEEDLE2) != NULL, "%s: \"%s\" lacks \"%s\"", #EXPR, \
              tg_tape_error(t), NEEDLE2);                                      \
    } while (0)
    (void)a, (void)b, (void)f, (void)i, (void)e;
    /* bad axes */
    ERR(tg_var(a, 1, (int[]){2}, 1, false), TG_ERR_ARG, "var", "[2,3]");
    ERR(tg_std(a, 2, (int[]){1, -1}, 1, false), TG_ERR_ARG, "std", "twice");
    ERR(tg_prod(a, 1, (int[]){-3}, false), TG_ERR_ARG, "prod", "[2,3]");
    ERR(tg_amax(a, 1, (int[]){5}, false), TG_ERR_ARG, "amax", "axis 5");
    ERR(tg_amin(a, -1, (int[]){0}, false), TG_ERR_ARG, "amin", "axis list");
    ERR(tg_argmax(a, 2, false), TG_ERR_ARG, "argmax", "[2,3]");
    ERR(tg_argmin(a, -3, true), TG_ERR_ARG, "argmin", "[2,3]");
    ERR(tg_logsumexp(a, 1, (int[]){9}, false), TG_ERR_ARG, "logsumexp", "[2,3]");
    ERR(tg_norm(a, 2, 1, (int[]){2}, false), TG_ERR_ARG, "norm", "[2,3]");
    ERR(tg_norm(a, 3, 0, NULL, false), TG_ERR_ARG, "norm", "p = 3");
    /* empty reductions that have no value */
    ERR(tg_amax(e, 1, (int[]){0}, false), TG_ERR_SHAPE, "amax", "[0,3]");
    ERR(tg_argmin(e, 0, false), TG_ERR_SHAPE, "argmin", "empty");
    /* shape mismatches */
    ERR(tg_maximum(a, b), TG_ERR_SHAPE, "maximum", "[2,3] and [4]");
    ERR(tg_minimum(b, a), TG_ERR_SHAPE, "minimum", "[4] and [2,3]");
    ERR(tg_where(a, a, b), TG_ERR_SHAPE, "where", "[4]");
    ERR(tg_clamp_t(a, NULL, b), TG_ERR_SHAPE, "clamp_t", "[2,3] and [4]");
    ERR(tg_eq(a, b), TG_ERR_SHAPE, "eq", "[2,3] and [4]");
    ERR(tg_ge(b, a), TG_ERR_SHAPE, "ge", "[4] and [2,3]");
    /* dtype mixes */
    ERR(tg_maximum(a, f), TG_ERR_DTYPE, "maximum", "f32");
    ERR(tg_where(i, a, f), TG_ERR_DTYPE, "where", "f32 [3]");
    ERR(tg_clamp_t(f, a, NULL), TG_ERR_DTYPE, "clamp_t", "f64");
    ERR(tg_lt(f, a), TG_ERR_DTYPE, "lt", "f32 [3] and f64 [2,3]");
    /* i64 into float ops */
    ERR(tg_log1p(i), TG_ERR_DTYPE, "log1p", "i64");
    ERR(tg_gelu(i, true), TG_ERR_DTYPE, "gelu", "i64 [3]");
    ERR(tg_clamp(i, 0, 1), TG_ERR_DTYPE, "clamp", "i64");
    ERR(tg_maximum(i, i), TG_ERR_DTYPE, "maximum", "i64");
    ERR(tg_where(i, i, i), TG_ERR_DTYPE, "where", "i64");
    ERR(tg_var(i, 0, NULL, 1, false), TG_ERR_DTYPE, "var", "i64");
    ERR(tg_logsumexp(i, 0, NULL, false), TG_ERR_DTYPE, "logsumexp", "i64");
    ERR(tg_amax(i, 0, NULL, false), TG_ERR_DTYPE, "amax", "i64");
    /* bad arguments */
    ERR(tg_softplus(a, 0.0, 20), TG_ERR_ARG, "softplus", "beta");
    /* NULL propagates; a NULL bound after a failure is that failure */
    tg_tape_reset(t);
    a = tg_zeros(t, TG_F64, 2, (int64_t[]){2, 3});
    CHECK(tg_maximum(NULL, a) == NULL && tg_tape_status(t) == TG_ERR_NULL, "maximum NULL");
    tg_tape_reset(t);
    a = tg_zeros(t, TG_F64, 2, (int64_t[]){2, 3});
    tg_tensor *bad = tg_add(a, tg_zeros(t, TG_F64, 1, (int64_t[]){5}));
    CHECK(bad == NULL && tg_clamp_t(a, bad, NULL) == NULL, "clamp_t after a failure");
    CHECK(strstr(tg_tape_error(t), "add") != NULL, "first error kept: %s", tg_tape_error(t));
    /* stale inputs */
    tg_tape_reset(t);
    a = tg_zeros(t, TG_F64, 1, (int64_t[]){3});
    tg_tape_reset(t);
    CHECK(tg_erf(a) == NULL && tg_tape_status(t) == TG_ERR_STALE, "stale: %s", tg_tape_error(t));
#undef ERR
    tg_tape_free(t);
}

/* Big tensors take the threaded path: every element must match the same
 * op on a one-element tensor (the inline path), forward and backward. */
static void threaded(void) {
    tg_set_num_threads(2);
    tg_tape *t = tg_tape_new();
    tg_rng r;
    tg_rng_seed(&r, 5);
    int64_t n = 150001;
    tg_tensor *(*fs[])(tg_tensor *) = {k_leaky, k_elu, k_clamp};
    for (int dt = 0; dt < 2; dt++) {
        tg_tape_reset(t);
        tg_tensor *x = tg_requires_grad(tg_rand_uniform(t, dt ? TG_F64 : TG_F32, 1, &n, &r, -3, 3));
        tg_tensor *y = tg_add(tg_add(tg_gelu(x, dt == 1), tg_silu(x)), tg_softplus(x, 1, 20));
        for (int k = 0; k < 3; k++) y = tg_add(y, fs[k](x));
        CHECK(tg_backward(tg_sum(y)) == TG_OK, "threaded backward: %s", tg_tape_error(t));
        tg_tensor *gx = tg_tensor_grad(x);
        int bad = 0;
        for (int64_t i = 0; i < n && gx; i += 997) {
            tg_tensor *s = tg_requires_grad(tg_tensor_new(t, dt ? TG_F64 : TG_F32, 0, NULL,
                                                          (char *)tg_tensor_data(x) + i * (dt ? 8 : 4)));
            tg_tensor *z = tg_add(tg_add(tg_gelu(s, dt == 1), tg_silu(s)), tg_softplus(s, 1, 20));
            for (int k = 0; k < 3; k++) z = tg_add(z, fs[k](s));
            tg_backward(z);
            if (tg_item(z) != tg_tensor_get(y, i) || tg_item(tg_tensor_grad(s)) != tg_tensor_get(gx, i))
                bad++;
        }
        CHECK(gx && bad == 0, "threaded path differs from the inline one at %d points", bad);
    }
    CHECK_OK(t);
    tg_tape_free(t);
    tg_set_num_threads(0);
}

int main(void) {
    /* unary ops on several shapes, including size 0 */
    const shape ones[] = {S0, S1(7), S2(3, 4), S3(2, 3, 2), S2(0, 3)};
    struct { const char *name; op_fn f; double lo, hi; } uns[] = {
        {"log1p", f_log1p, -0.5, 2}, {"expm1", f_expm1, -2, 2}, {"erf", f_erf, -2, 2},
        {"square", f_square, -2, 2}, {"reciprocal", f_recip, 0.5, 2},
        {"reciprocal-", f_recip, -2, -0.5}, {"rsqrt", f_rsqrt, 0.3, 2},
        {"softplus", f_softplus, -4, 4}, {"softplus beta 2 thr 1", f_softplus2, -1, 2},
        {"softplus beta -1.5", f_softplus_neg, -3, 3},
        {"gelu", f_gelu, -3, 3}, {"gelu tanh", f_gelu_tanh, -3, 3},
        {"leaky_relu+", f_leaky, 0.05, 2}, {"leaky_relu-", f_leaky, -2, -0.05},
        {"elu+", f_elu, 0.05, 2}, {"elu-", f_elu, -2, -0.05}, {"silu", f_silu, -4, 4},
        {"clamp", f_clamp, -1, 1}, {"clamp lo", f_clamp_lo, -1, 1}, {"clamp hi", f_clamp_hi, -1, 1},
        {"sign", f_sign, -1, 1},
    };
    for (size_t k = 0; k < sizeof uns / sizeof *uns; k++)
        for (size_t s = 0; s < sizeof ones / sizeof *ones; s++)
            check(uns[k].name, uns[k].f, 1, &ones[s], uns[k].lo, uns[k].hi, s < 2);
    /* far tails: no overflow, no NaN */
    check("softplus far", f_softplus, 1, &(shape)S1(4), 30, 40, false);
    check("softplus far-", f_softplus, 1, &(shape)S1(4), -40, -30, false);
    check("silu far-", f_silu, 1, &(shape)S1(4), -40, -30, false);
    check("gelu far-", f_gelu, 1, &(shape)S1(4), -9, -6, false);
    check("elu far-", f_elu, 1, &(shape)S1(4), -40, -30, true);

    /* max / min: same shape, broadcasting both ways, scalar with tensor */
    const shape pairs[][2] = {
        {S1(5), S1(5)}, {S2(2, 3), S1(3)}, {S1(3), S2(2, 3)}, {S3(2, 1, 4), S2(3, 1)},
        {S0, S2(2, 2)}, {S0, S0}, {S2(0, 3), S1(3)},
    };
    for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++) {
        check("maximum", f_max, 2, pairs[p], -2, 2, p < 2);
        check("minimum", f_min, 2, pairs[p], -2, 2, p < 2);
    }
    {   /* exact ties: the central difference of max at a tie is 1/2 too */
        tg_tape *t = tg_tape_new();
        tg_tensor *in[2] = {mat(t, 2, 2, (double[]){1, -2, 3, 0.5}), vec(t, 2, (double[]){1, -2})};
        check_in("maximum ties", f_max, 2, in, true);
        check_in("minimum ties", f_min, 2, in, true);
        tg_tape_free(t);
    }

    /* where: an i64 condition (not differentiated), broadcasting */
    {
        tg_tape *t = tg_tape_new();
        tg_rng r;
        tg_rng_seed(&r, 3);
        tg_tensor *c1 = tg_tensor_new(t, TG_I64, 2, (int64_t[]){2, 3}, (int64_t[]){1, 0, 0, 1, 1, 0});
        tg_tensor *in[3] = {c1, tg_rand_uniform(t, TG_F64, 2, (int64_t[]){2, 3}, &r, -1, 1),
                            tg_rand_uniform(t, TG_F64, 2, (int64_t[]){2, 3}, &r, -1, 1)};
        check_in("where", f_where, 3, in, true);
        tg_tensor *c2 = tg_tensor_new(t, TG_I64, 2, (int64_t[]){2, 1}, (int64_t[]){0, 5});
        tg_tensor *in2[3] = {c2, tg_rand_uniform(t, TG_F64, 1, (int64_t[]){3}, &r, -1, 1),
                             tg_rand_uniform(t, TG_F64, 0, NULL, &r, -1, 1)};
        check_in("where bcast", f_where, 3, in2, false);
        tg_tensor *cf = tg_tensor_new(t, TG_I64, 1, (int64_t[]){4}, (int64_t[]){1, 0, 1, 1});
        tg_tensor *in3[3] = {cf, tg_rand_uniform(t, TG_F64, 3, (int64_t[]){2, 1, 4}, &r, -1, 1),
                             tg_rand_uniform(t, TG_F64, 2, (int64_t[]){3, 1}, &r, -1, 1)};
        check_in("where bcast 3", f_where, 3, in3, false);
        tg_tensor *ce = tg_tensor_new(t, TG_I64, 2, (int64_t[]){0, 3}, NULL);
        tg_tensor *in4[3] = {ce, tg_rand_uniform(t, TG_F64, 1, (int64_t[]){3}, &r, -1, 1),
                             tg_rand_uniform(t, TG_F64, 1, (int64_t[]){3}, &r, -1, 1)};
        check_in("where empty", f_where, 3, in4, false);
        /* clamp_t: tensor bounds, broadcast, either bound missing, lo > hi */
        tg_tensor *x = tg_rand_uniform(t, TG_F64, 2, (int64_t[]){2, 3}, &r, -1.5, 1.5);
        tg_tensor *lo = tg_rand_uniform(t, TG_F64, 1, (int64_t[]){3}, &r, -1, -0.2);
        tg_tensor *hi = tg_rand_uniform(t, TG_F64, 2, (int64_t[]){2, 1}, &r, 0.2, 1);
        check_in("clamp_t", f_clamp_t, 3, (tg_tensor *[]){x, lo, hi}, true);
        check_in("clamp_t lo", f_clamp_t_lo, 2, (tg_tensor *[]){x, lo}, false);
        check_in("clamp_t hi", f_clamp_t_hi, 2, (tg_tensor *[]){x, hi}, false);
        tg_tensor *xs = tg_rand_uniform(t, TG_F64, 0, NULL, &r, -1.5, 1.5);
        check_in("clamp_t scalar a", f_clamp_t, 3, (tg_tensor *[]){xs, lo, hi}, false);
        tg_tensor *lo2 = tg_rand_uniform(t, TG_F64, 1, (int64_t[]){3}, &r, 0.5, 1);
        tg_tensor *hi2 = tg_rand_uniform(t, TG_F64, 1, (int64_t[]){3}, &r, -1, 0);
        check_in("clamp_t lo > hi", f_clamp_t, 3, (tg_tensor *[]){x, lo2, hi2}, false);
        tg_tape_free(t);
    }

    /* reductions: all axes, one axis, several with negative axes, keepdim,
     * size-1 and size-0 axes */
    struct { const char *name; op_fn f; shape s; double lo, hi; bool second; } reds[] = {
        {"var all", f_var_all, S1(5), -2, 2, true},
        {"var all 3d", f_var_all, S3(2, 3, 2), -2, 2, false},
        {"var axis 1", f_var1, S2(3, 4), -2, 2, true},
        {"var axis 1 size 1", f_var1, S3(2, 1, 3), -2, 2, false},
        {"var axes 0,-1 keepdim", f_var_0m1k, S3(2, 3, 4), -2, 2, false},
        {"var axis 1 of [0,3]", f_var1, S2(0, 3), -2, 2, false},
        {"std all", f_std_all, S2(2, 3), -2, 2, true},
        {"std -1 keepdim", f_std1, S3(2, 3, 4), -2, 2, false},
        {"prod all", f_prod_all, S2(2, 3), 0.5, 1.5, true},
        {"prod axis 1", f_prod1, S3(2, 3, 2), -2, 2, false},
        {"prod axes 0,2 keepdim", f_prod_02k, S3(2, 3, 2), -2, 2, false},
        {"prod of empty", f_prod1, S2(3, 0), -2, 2, false},
        {"prod scalar", f_prod_all, S0, -2, 2, true},
        {"amax all", f_amax_all, S2(3, 4), -2, 2, false},
        {"amax axis 1", f_amax1, S3(2, 3, 2), -2, 2, true},
        {"amin axes 0,-1 keepdim", f_amin_02k, S3(2, 3, 4), -2, 2, false},
        {"amax axis 1 of [0,3,2]", f_amax1, S3(0, 3, 2), -2, 2, false},
        {"logsumexp all", f_lse_all, S2(3, 4), -3, 3, true},
        {"logsumexp -1", f_lse1, S3(2, 3, 4), -3, 3, false},
        {"logsumexp 1 keepdim", f_lse_1k, S2(3, 4), -3, 3, true},
        {"logsumexp scalar", f_lse_all, S0, -3, 3, false},
        {"logsumexp axis 1 of 3d (inner 4)", f_lse1_mid, S3(2, 3, 4), -3, 3, false},
        {"logsumexp axes 0,1 (inner 70)", f_lse_01, S3(2, 3, 70), -3, 3, false},
        {"logsumexp axes 0,2 keepdim", f_lse_02, S3(2, 3, 4), -3, 3, false},
        {"logsumexp -1 of [2,600] (rows over a chunk)", f_lse1, S2(2, 600), -3, 3, false},
        {"logsumexp axis 1 of [2,1,5] keepdim", f_lse_1k, S3(2, 1, 5), -3, 3, false},
        {"logsumexp of [3,0]", f_lse1, S2(3, 0), -3, 3, false},
        {"norm 1", f_norm1, S2(3, 4), 0.1, 2, false},
        {"norm 1-", f_norm1, S2(3, 4), -2, -0.1, false},
        {"norm 2", f_norm2, S2(3, 4), -2, 2, true},
        {"norm 2 axis 0 keepdim", f_norm2_0k, S3(2, 3, 2), -2, 2, false},
    };
    for (size_t k = 0; k < sizeof reds / sizeof *reds; k++)
        check(reds[k].name, reds[k].f, 1, &reds[k].s, reds[k].lo, reds[k].hi, reds[k].second);
    {   /* prod with zeros (first and second derivatives), amax with 2-way ties,
         * logsumexp at +-1000 */
        tg_tape *t = tg_tape_new();
        check_in("prod one zero", f_prod1, 1, (tg_tensor *[]){mat(t, 2, 3, (double[]){2, 0, 3, -1, 0.5, 0})}, true);
        check_in("prod two zeros", f_prod1, 1, (tg_tensor *[]){mat(t, 2, 3, (double[]){0, 1.5, 0, 0, 0, 0})}, true);
        check_in("prod zero all", f_prod_all, 1, (tg_tensor *[]){mat(t, 2, 2, (double[]){0, 1.5, -2, 0.5})}, true);
        check_in("amax tie", f_amax1, 1, (tg_tensor *[]){tg_tensor_new(t, TG_F64, 3, (int64_t[]){1, 3, 2},
                 (double[]){1, 2, 1, 0, -1, 2})}, false);
        check_in("logsumexp 1000", f_lse1, 1, (tg_tensor *[]){mat(t, 2, 3, (double[]){1000, 999, -1000, -1000, -1001, -999.5})}, true);
        tg_tape_free(t);
    }
    check("chain", f_chain, 2, (shape[]){S1(4), S1(4)}, -2, 2, true);

    kinks();
    threaded();
    values();
    errors();
    return TEST_DONE("grad_math");
}
