/* test_api.c - the API keeps one convention (issue 14, "One consistent
 * API"): axes, C constants, tg_tensor_grad's records, tg_tape_reset and
 * tg_gradcheck's defaults, the operand check, embedding's indices. */
#include "tg_test.h"

static double at(tg_tensor *t, int64_t i) { return tg_tensor_get(t, i); }

/* ------------------------------------------------------------------ axes */

OP(f_sum_all, tg_sum_axes(x[0], 0, NULL, false))
OP(f_mean_all_keep, tg_mean_axes(x[0], 0, NULL, true))

static void test_axes(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    /* naxes == 0 is every axis, for sum and mean as for var, amax, ... */
    tg_tensor *s = tg_sum_axes(x, 0, NULL, false);
    CHECK(s && tg_tensor_rank(s) == 0 && tg_item(s) == 21, "sum_axes(x, 0) is the total");
    tg_tensor *m = tg_mean_axes(x, 0, NULL, true);
    CHECK(m && tg_tensor_rank(m) == 2 && tg_tensor_dim(m, 0) == 1 && tg_tensor_dim(m, 1) == 1 &&
              at(m, 0) == 3.5,
          "mean_axes(x, 0, keepdim) is [[3.5]]");
    tg_tensor *v = tg_var(x, 0, NULL, 0, false);
    CHECK(v && tg_tensor_rank(v) == 0 && fabs(tg_item(v) - 35.0 / 12) < 1e-12, "var over all");
    /* the shorthands are the list form */
    CHECK(tg_item(tg_sum(x)) == 21 && tg_item(tg_mean(x)) == 3.5, "sum, mean");
    tg_tensor *r = tg_sum_axis(x, -1, false);
    CHECK(r && tg_tensor_rank(r) == 1 && at(r, 0) == 6 && at(r, 1) == 15, "sum_axis(x, -1)");
    /* a 0-d tensor has the axis 0 or -1 in every reduction, as in softmax */
    tg_tensor *z = tg_scalar(t, 2.5);
    CHECK(tg_item(tg_sum_axis(z, -1, false)) == 2.5, "sum_axis of 0-d, -1: %s", tg_tape_error(t));
    CHECK(tg_item(tg_sum_axis(z, 0, true)) == 2.5, "sum_axis of 0-d, 0");
    CHECK(tg_item(tg_amax(z, 1, (int[]){-1}, false)) == 2.5, "amax of 0-d, -1");
    tg_tensor *am = tg_argmax(z, -1, false);
    CHECK(am && tg_tensor_dtype(am) == TG_I64 && at(am, 0) == 0, "argmax of 0-d, -1: %s",
          tg_tape_error(t));
    CHECK(tg_item(tg_softmax(z, -1)) == 1, "softmax of 0-d, -1");
    CHECK_OK(t);
    /* the same errors everywhere: out of range, listed twice */
    CHECK_ERR(tg_sum_axes(x, 1, (int[]){2}, false), t, TG_ERR_ARG,
              "sum: axis 2 is out of range for shape [2,3]");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F64, TG_SHAPE(2, 3));
    CHECK_ERR(tg_sum_axes(x, 2, (int[]){1, -1}, false), t, TG_ERR_ARG,
              "sum: axis -1 is listed twice for shape [2,3]");
    tg_tape_reset(t);
    CHECK_ERR(tg_argmax(tg_scalar(t, 1), 1, false), t, TG_ERR_ARG, "argmax: axis 1 is out of range");
    tg_tape_free(t);

    /* gradients through the all-axes forms */
    tg_tape *g = tg_tape_new();
    tg_tensor *in = tg_tensor_new(g, TG_F64, TG_SHAPE(2, 3), (double[]){1, -2, 3, 0.5, 5, -6});
    tg_gradcheck_opts o = {.graph = true, .second = true};
    tg_gradcheck_report rep;
    CHECK(tg_gradcheck(f_sum_all, NULL, 1, &in, &o, &rep), "sum all: %s", rep.msg);
    CHECK(tg_gradcheck(f_mean_all_keep, NULL, 1, &in, &o, &rep), "mean all: %s", rep.msg);
    tg_tape_free(g);
}

/* ----------------------------------------------------------- C constants */

/* x * 2 + (x > 0.5) with constants that adopt x's dtype */
static tg_tensor *f_consts(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)ud;
    tg_tensor *two = tg_scalar_as(t, TG_F32, 2.0); /* f32 constant into the f64 check */
    return tg_add(tg_mul(x[0], two), tg_mul(x[0], tg_gt_scalar(x[0], 0.5)));
}

static void test_constants(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_tensor_new(t, TG_F32, TG_SHAPE(3), (float[]){1, -2, 0.25f}));
    tg_tensor *y = tg_mul(x, tg_scalar(t, 2.0));
    CHECK(y && tg_tensor_dtype(y) == TG_F32 && at(y, 0) == 2 && at(y, 1) == -4 && at(y, 2) == 0.5,
          "f32 * tg_scalar(2.0) is f32: %s", tg_tape_error(t));
    tg_tensor *y2 = tg_sub(tg_scalar(t, 1.0), x); /* the constant on the left */
    CHECK(y2 && tg_tensor_dtype(y2) == TG_F32 && at(y2, 1) == 3, "1.0 - f32 is f32");
    tg_tensor *p = tg_pow(x, tg_scalar(t, 2.0));
    CHECK(p && tg_tensor_dtype(p) == TG_F32 && at(p, 1) == 4, "pow by a constant");
    tg_tensor *mx = tg_maximum(x, tg_scalar(t, 0.0));
    CHECK(mx && at(mx, 1) == 0 && at(mx, 0) == 1, "maximum with a constant");
    CHECK(tg_backward(tg_sum(y)) == TG_OK && tg_tensor_dtype(tg_tensor_grad(x)) == TG_F32 &&
              tg_tensor_get(tg_tensor_grad(x), 0) == 2,
          "the gradient is f32: %s", tg_tape_error(t));
    /* two constants: the f32 one becomes f64 */
    tg_tensor *c = tg_add(tg_scalar_as(t, TG_F32, 0.5), tg_scalar(t, 0.25));
    CHECK(c && tg_tensor_dtype(c) == TG_F64 && tg_item(c) == 0.75, "f32 + f64 constants");
    /* an i64 0-d constant takes a float operand's dtype too */
    tg_tensor *ci = tg_mul(x, tg_scalar_as(t, TG_I64, 3));
    CHECK(ci && tg_tensor_dtype(ci) == TG_F32 && at(ci, 1) == -6, "f32 * i64 constant");
    /* comparisons: a tensor constant and the scalar forms */
    tg_tensor *lt = tg_lt(x, tg_scalar(t, 0.5));
    CHECK(lt && tg_tensor_dtype(lt) == TG_F32 && at(lt, 0) == 0 && at(lt, 1) == 1 && at(lt, 2) == 1,
          "lt with a constant");
    tg_tensor *gt = tg_gt_scalar(x, 0.5), *ge = tg_ge_scalar(x, 1), *le = tg_le_scalar(x, -2),
              *eq = tg_eq_scalar(x, 0.25), *ne = tg_ne_scalar(x, 0.25),
              *ls = tg_lt_scalar(x, 0);
    CHECK(gt && at(gt, 0) == 1 && at(gt, 1) == 0 && at(gt, 2) == 0, "gt_scalar");
    CHECK(ge && at(ge, 0) == 1 && at(ge, 2) == 0, "ge_scalar");
    CHECK(le && at(le, 1) == 1 && at(le, 0) == 0, "le_scalar");
    CHECK(eq && at(eq, 2) == 1 && at(eq, 0) == 0, "eq_scalar");
    CHECK(ne && at(ne, 2) == 0 && at(ne, 0) == 1, "ne_scalar");
    CHECK(ls && at(ls, 1) == 1 && at(ls, 0) == 0 && !tg_tensor_requires_grad(ls), "lt_scalar");
    CHECK(tg_tensor_dtype(gt) == TG_F32 && tg_tensor_rank(gt) == 1, "a mask of x's dtype and shape");
    tg_tensor *lab = tg_tensor_new(t, TG_I64, TG_SHAPE(3), (int64_t[]){3, 1, 3});
    tg_tensor *is3 = tg_eq_scalar(lab, 3);
    CHECK(is3 && tg_tensor_dtype(is3) == TG_I64 && at(is3, 0) == 1 && at(is3, 1) == 0,
          "i64 labels == 3");
    CHECK_OK(t);
    CHECK_ERR(tg_gt_scalar(lab, 2.5), t, TG_ERR_ARG, "gt: the constant 2.5 is not an integer");
    tg_tape_reset(t);
    /* a 0-d tensor that requires grad is an operand, not a constant */
    x = tg_ones(t, TG_F32, TG_SHAPE(2));
    tg_tensor *w = tg_requires_grad(tg_scalar(t, 2.0));
    CHECK_ERR(tg_mul(x, w), t, TG_ERR_DTYPE, "mul: dtypes differ: f32 [2] and f64 []");
    tg_tape_reset(t);
    /* and an f64 tensor never becomes f32 for a constant */
    x = tg_ones(t, TG_F64, TG_SHAPE(2));
    tg_tensor *d = tg_mul(x, tg_scalar_as(t, TG_F32, 0.1f));
    CHECK(d && tg_tensor_dtype(d) == TG_F64 && at(d, 0) == (double)0.1f, "f64 * f32 constant");
    tg_tape_free(t);

    tg_tape *g = tg_tape_new();
    tg_tensor *in = tg_tensor_new(g, TG_F64, TG_SHAPE(3), (double[]){1, -2, 0.3});
    tg_gradcheck_opts o = {.graph = true, .second = true};
    tg_gradcheck_report rep;
    CHECK(tg_gradcheck(f_consts, NULL, 1, &in, &o, &rep), "constants: %s", rep.msg);
    tg_tape_free(g);
}

/* --------------------------------------------------------- tensor_grad */

static void test_tensor_grad_records(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_tensor_new(t, TG_F64, TG_SHAPE(2), (double[]){1, 2}));
    tg_tensor *s = tg_requires_grad(tg_scalar(t, 3.0));
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(2));
    tg_tensor *h = tg_mul(tg_mul(x, p), s);
    CHECK(tg_backward(tg_sum(h)) == TG_OK, "backward: %s", tg_tape_error(t));
    size_t n0 = tg_tape_count(t);
    /* as documented: one view record per call on a tape tensor ... */
    tg_tensor *g1 = tg_tensor_grad(x), *g2 = tg_tensor_grad(x);
    CHECK(g1 && g2 && tg_tape_count(t) == n0 + 2, "two calls, two records (%zu -> %zu)", n0,
          tg_tape_count(t));
    CHECK(tg_tensor_f64(g1) == tg_tensor_f64(g2), "two views of one buffer");
    tg_tensor *gh = tg_tensor_grad(h);
    CHECK(gh && tg_tape_count(t) == n0 + 3 && at(gh, 1) == 1, "an intermediate: one record");
    /* ... and none for a parameter or the pure queries */
    size_t n1 = tg_tape_count(t);
    tg_tensor *gp = tg_tensor_grad(p);
    double gs = tg_grad_item(s);
    CHECK(gp && tg_tape_count(t) == n1, "a parameter's gradient records nothing");
    CHECK(gs == 0 && tg_tape_count(t) == n1, "tg_grad_item records nothing (%g)", gs);
    CHECK(tg_tensor_status(g1) == TG_OK, "the view is a live tensor");
    CHECK_OK(t);
    tg_param_free(p);
    tg_tape_free(t);
}

/* ------------------------------------------- reset and gradcheck defaults */

/* sum(x * x), except that the second evaluation with inputs that require
 * grad (the create-graph check's: the numeric ones require none) is
 * sum(1.5 x * x): only a check of the create-graph backward fails. */
static tg_tensor *f_graph_differs(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t;
    int *calls = ud;
    if (tg_tensor_requires_grad(x[0]) && ++*calls == 2)
        return tg_sum(tg_mul_scalar(tg_mul(x[0], x[0]), 1.5));
    return tg_sum(tg_mul(x[0], x[0]));
}

static void test_reset_and_gradcheck(void) {
    tg_tape *t = tg_tape_new();
    tg_tape_set_grad_enabled(t, false);
    tg_tape_reset(t);
    CHECK(!tg_tape_grad_enabled(t), "reset keeps recording off");
    tg_tensor *x = tg_requires_grad(tg_scalar(t, 2.0));
    CHECK(!tg_tensor_requires_grad(tg_mul(x, x)), "and nothing is recorded");
    tg_tape_set_grad_enabled(t, true);
    tg_tape_reset(t);
    CHECK(tg_tape_grad_enabled(t), "reset keeps recording on");

    x = tg_tensor_new(t, TG_F64, TG_SHAPE(2), (double[]){0.5, -1.5});
    tg_gradcheck_report r0, r1, r2;
    tg_gradcheck_opts zero = {0}, graph = {.graph = true};
    int n0 = 0, n1 = 0, n2 = 0;
    bool a = tg_gradcheck(f_graph_differs, &n0, 1, &x, NULL, &r0);
    bool b = tg_gradcheck(f_graph_differs, &n1, 1, &x, &zero, &r1);
    CHECK(a && b, "NULL and {0} both check the fast backward only: %s / %s", r0.msg, r1.msg);
    CHECK(r0.worst == r1.worst && !strcmp(r0.msg, r1.msg), "NULL and {0} report the same");
    bool c = tg_gradcheck(f_graph_differs, &n2, 1, &x, &graph, &r2);
    CHECK(!c, "graph = true checks the create-graph backward too (which fails here)");
    CHECK(tg_tape_grad_enabled(t), "the caller's tape keeps its setting");
    CHECK_OK(t);
    tg_tape_free(t);
}

/* ------------------------------------------------------ operand check */

static void test_tensor_status(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_ones(t, TG_F32, TG_SHAPE(2));
    tg_tensor *p = tg_param_new(TG_F32, TG_SHAPE(2));
    CHECK(tg_tensor_status(x) == TG_OK && tg_tensor_status(p) == TG_OK, "live");
    CHECK(tg_tensor_status(NULL) == TG_ERR_NULL, "NULL");
    size_t n = tg_tape_count(t);
    tg_tape_reset(t);
    CHECK(tg_tensor_status(x) == TG_ERR_STALE, "stale after a reset");
    CHECK(tg_tape_ok(t) && tg_tape_count(t) == 0 && n == 1, "records nothing");
    CHECK(tg_tensor_status(p) == TG_OK, "parameters never go stale");
    /* nn/ uses it: a stale target is named as such */
    tg_tensor *in = tg_ones(t, TG_F32, TG_SHAPE(2));
    CHECK_ERR(tg_mse_loss(in, x, TG_REDUCE_MEAN), t, TG_ERR_STALE, "mse_loss: target is stale");
    tg_param_free(p);
    tg_tape_free(t);
}

/* ----------------------------------------------------------- embedding */

static void test_embedding_negative(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *w = tg_tensor_new(t, TG_F32, TG_SHAPE(3, 2), (float[]){0, 1, 2, 3, 4, 5});
    tg_tensor *ok = tg_embedding(w, tg_tensor_new(t, TG_I64, TG_SHAPE(2), (int64_t[]){2, 0}));
    CHECK(ok && at(ok, 0) == 4 && at(ok, 3) == 1, "rows 2 and 0");
    tg_tensor *ix = tg_tensor_new(t, TG_I64, TG_SHAPE(2), (int64_t[]){0, -1});
    CHECK_ERR(tg_embedding(w, ix), t, TG_ERR_ARG,
              "embedding: index -1 (element 1 of index [2]) is negative: rows of weight [3,2] "
              "are numbered 0..2");
    tg_tape_free(t);
}

int main(void) {
    test_axes();
    test_constants();
    test_tensor_grad_records();
    test_reset_and_gradcheck();
    test_tensor_status();
    test_embedding_negative();
    return TEST_DONE("api");
}
