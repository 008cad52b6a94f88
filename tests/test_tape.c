/* test_tape.c - the tape: errors, reset and reuse, no-grad, accumulation,
 * parameters, the functional form, and a 10-million-op chain. */
#include "tg_test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* A counting allocator: finds mallocs in a loop that should have none. */
static long n_alloc;
static void *c_malloc(size_t n, void *ud) { (void)ud; n_alloc++; return malloc(n); }
static void *c_realloc(void *p, size_t n, void *ud) { (void)ud; n_alloc++; return realloc(p, n); }
static void c_free(void *p, void *ud) { (void)ud; free(p); }

static void test_errors(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    tg_tensor *b = tg_ones(t, TG_F32, TG_SHAPE(5, 2));
    tg_tensor *d = tg_ones(t, TG_F64, TG_SHAPE(3, 4));
    CHECK_OK(t);

    /* matmul shapes: the example from the issue */
    tg_tensor *r = tg_matmul(a, b);
    CHECK_ERR(r, t, TG_ERR_SHAPE, "matmul: inner dimensions differ: [3,4] @ [5,2]");
    /* the first error is kept */
    r = tg_add(a, d);
    CHECK_ERR(r, t, TG_ERR_SHAPE, "matmul");
    tg_tape_reset(t);

    a = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    d = tg_ones(t, TG_F64, TG_SHAPE(3, 4));
    r = tg_add(a, d);
    CHECK_ERR(r, t, TG_ERR_DTYPE, "add: dtypes differ: f32 [3,4] and f64 [3,4]");
    tg_tape_reset(t);

    a = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    b = tg_ones(t, TG_F32, TG_SHAPE(2, 4));
    r = tg_mul(a, b);
    CHECK_ERR(r, t, TG_ERR_SHAPE, "mul: shapes do not broadcast: [3,4] and [2,4]");
    tg_tape_reset(t);

    /* NULL operand; then NULL propagates without replacing the error */
    a = tg_ones(t, TG_F32, TG_SHAPE(2));
    r = tg_add(a, NULL);
    CHECK_ERR(r, t, TG_ERR_NULL, "add: operand 2 is NULL");
    r = tg_exp(tg_add(r, a));
    CHECK_ERR(r, t, TG_ERR_NULL, "add: operand 2 is NULL");
    CHECK(tg_exp(NULL) == NULL, "exp(NULL) is NULL");
    tg_tape_reset(t);
    CHECK_OK(t);

    /* another tape */
    tg_tape *u = tg_tape_new();
    a = tg_ones(t, TG_F64, TG_SHAPE(2));
    b = tg_ones(u, TG_F64, TG_SHAPE(2));
    r = tg_sub(a, b);
    CHECK_ERR(r, t, TG_ERR_TAPE, "sub: operand 2 belongs to another tape");
    CHECK(tg_tape_ok(u), "the other tape is untouched");
    tg_tape_free(u);
    tg_tape_reset(t);

    /* stale: from before a reset, the previous pass and two passes back */
    tg_tensor *old = tg_scalar(t, 1.0);
    tg_tape_reset(t);
    tg_tensor *fresh = tg_scalar(t, 2.0);
    r = tg_add(fresh, old);
    CHECK_ERR(r, t, TG_ERR_STALE, "add: operand 2 is stale");
    CHECK(isnan(tg_item(old)), "item of a stale tensor is NaN");
    CHECK(tg_tensor_f64(old) == NULL, "no data pointer for a stale tensor");
    tg_tape_reset(t);

    /* bad arguments */
    a = tg_ones(t, TG_F64, TG_SHAPE(2, 3));
    r = tg_sum_axis(a, 2, false);
    CHECK_ERR(r, t, TG_ERR_ARG, "sum: axis 2 is out of range for shape [2,3]");
    tg_tape_reset(t);
    a = tg_ones(t, TG_F64, TG_SHAPE(2, 3));
    r = tg_reshape(a, TG_SHAPE(4, 2));
    CHECK_ERR(r, t, TG_ERR_SHAPE, "reshape: cannot reshape [2,3] (6 elements) to [4,2]");
    tg_tape_reset(t);
    r = tg_zeros(t, TG_F32, TG_SHAPE(2, -1));
    CHECK_ERR(r, t, TG_ERR_SHAPE, "negative dimension");
    tg_tape_reset(t);
    r = tg_zeros(t, TG_F32, 9, (int64_t[9]){1, 1, 1, 1, 1, 1, 1, 1, 1});
    CHECK_ERR(r, t, TG_ERR_ARG, "rank 9");
    tg_tape_reset(t);
    r = tg_zeros(t, TG_F32, TG_SHAPE(INT64_MAX / 2, 4));
    CHECK_ERR(r, t, TG_ERR_OVERFLOW, "more elements than fit");
    tg_tape_reset(t);
    r = tg_zeros(t, TG_F32, TG_SHAPE((int64_t)1 << 40, (int64_t)1 << 40));
    CHECK_ERR(r, t, TG_ERR_OVERFLOW, "more elements than fit");
    tg_tape_reset(t);
    tg_tensor *idx = tg_zeros(t, TG_I64, TG_SHAPE(2));
    r = tg_exp(idx);
    CHECK_ERR(r, t, TG_ERR_DTYPE, "exp: operand 1 is i64 [2]; this op needs f32 or f64");
    tg_tape_reset(t);
    r = tg_matmul(tg_scalar(t, 1), tg_scalar(t, 2));
    CHECK_ERR(r, t, TG_ERR_SHAPE, "matmul: operands must not be scalars");
    tg_tape_reset(t);

    /* backward misuse */
    a = tg_requires_grad(tg_ones(t, TG_F64, TG_SHAPE(3)));
    r = tg_mul_scalar(a, 2.0);
    CHECK(tg_backward(r) == TG_ERR_SHAPE, "backward of a non-scalar");
    CHECK(strstr(tg_tape_error(t), "needs a seed gradient") != NULL, "%s", tg_tape_error(t));
    tg_tape_reset(t);
    a = tg_ones(t, TG_F64, TG_SHAPE(3));
    CHECK(tg_backward(tg_sum(a)) == TG_ERR_STATE, "backward with nothing to differentiate");
    CHECK(strstr(tg_tape_error(t), "does not depend on anything that requires grad") != NULL, "%s",
          tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(tg_backward(NULL) == TG_ERR_NULL, "backward(NULL)");
    a = tg_requires_grad(tg_ones(t, TG_F64, TG_SHAPE(3)));
    tg_tensor *seed = tg_ones(t, TG_F64, TG_SHAPE(4));
    CHECK(tg_backward_seed(tg_mul_scalar(a, 2), seed) == TG_ERR_SHAPE, "seed shape");
    CHECK(strstr(tg_tape_error(t), "seed gradient f64 [4] does not match the output f64 [3]") != NULL, "%s",
          tg_tape_error(t));
    tg_tape_reset(t);
    r = tg_exp(tg_scalar(t, 1));
    CHECK(tg_requires_grad(r) == NULL && tg_tape_status(t) == TG_ERR_ARG, "only leaves");
    tg_tape_reset(t);
    /* a broken pass is never swept */
    a = tg_requires_grad(tg_scalar(t, 2));
    r = tg_mul(a, a);
    (void)tg_add(a, NULL);
    CHECK(tg_backward(r) == TG_ERR_NULL, "backward after an error returns it");
    CHECK(tg_tensor_grad(a) == NULL, "no gradient from a broken pass");
    tg_tape_reset(t);

    /* queries on NULL never crash */
    CHECK(isnan(tg_item(NULL)), "item(NULL)");
    CHECK(tg_tensor_rank(NULL) == -1 && tg_tensor_numel(NULL) == -1, "queries of NULL");
    CHECK(tg_tensor_shape(NULL) == NULL && tg_tensor_data(NULL) == NULL, "NULL shape/data");
    CHECK(tg_tape_status(NULL) == TG_ERR_NULL && !tg_tape_ok(NULL), "NULL tape");
    CHECK(tg_scalar(NULL, 1) == NULL && tg_zeros(NULL, TG_F32, TG_SHAPE(2)) == NULL, "no tape");
    tg_tape_free(NULL);
    tg_tape_reset(NULL);
    tg_param_free(NULL);
    CHECK(strcmp(tg_status_name(TG_ERR_SHAPE), "shape mismatch") == 0, "status names");
    tg_tape_free(t);
}

static void test_backward_semantics(void) {
    tg_tape *t = tg_tape_new();
    /* a value used twice receives both parts: d(x*x + 3x)/dx = 2x + 3 */
    tg_tensor *x = tg_requires_grad(tg_scalar(t, 2.0));
    tg_tensor *f = tg_add(tg_mul(x, x), tg_mul_scalar(x, 3));
    CHECK(tg_backward(f) == TG_OK, "backward");
    CHECK_NEAR(tg_item(tg_tensor_grad(x)), 7.0, 1e-15);
    /* again on the same pass: accumulates (retain_graph semantics) */
    CHECK(tg_backward(f) == TG_OK, "second backward");
    CHECK_NEAR(tg_item(tg_tensor_grad(x)), 14.0, 1e-15);
    tg_zero_grad(x);
    CHECK_NEAR(tg_item(tg_tensor_grad(x)), 0.0, 0);
    /* intermediate gradients are readable after a sweep */
    tg_tensor *h = tg_mul(x, x);
    tg_tensor *g2 = tg_sin(h);
    tg_backward(g2);
    CHECK_NEAR(tg_item(tg_tensor_grad(h)), cos(4.0), 1e-15);

    /* functional form: does not touch stored gradients */
    tg_zero_grad(x);
    tg_tensor *y = tg_requires_grad(tg_scalar(t, 5.0));
    tg_tensor *z = tg_mul(tg_exp(x), y);
    tg_tensor *gr[2];
    CHECK(tg_grad(z, NULL, 2, (tg_tensor *[]){x, y}, gr, 0) == TG_OK, "tg_grad");
    CHECK_NEAR(tg_item(gr[0]), exp(2.0) * 5, 1e-14);
    CHECK_NEAR(tg_item(gr[1]), exp(2.0), 1e-14);
    CHECK_NEAR(tg_item(tg_tensor_grad(x)), 0.0, 0);
    CHECK(tg_tensor_grad(y) == NULL, "y has no stored grad");
    /* an input the output does not depend on gets zeros */
    tg_tensor *w = tg_requires_grad(tg_ones(t, TG_F64, TG_SHAPE(2)));
    CHECK(tg_grad(z, NULL, 1, &w, gr, 0) == TG_OK, "unused input");
    CHECK(tg_tensor_numel(gr[0]) == 2 && tg_tensor_get(gr[0], 0) == 0, "zeros for unused");
    /* create-graph: d/dx of (d/dx x^3) = 6x */
    tg_tensor *c = tg_pow_scalar(x, 3);
    CHECK(tg_grad(c, NULL, 1, &x, gr, TG_CREATE_GRAPH) == TG_OK, "create graph");
    CHECK_NEAR(tg_item(gr[0]), 12.0, 1e-14);
    tg_tensor *gg[1];
    CHECK(tg_grad(gr[0], NULL, 1, &x, gg, 0) == TG_OK, "second order");
    CHECK_NEAR(tg_item(gg[0]), 12.0, 1e-14);
    /* a seed for a non-scalar output */
    tg_tensor *v = tg_requires_grad(tg_tensor_new(t, TG_F64, TG_SHAPE(3), (double[]){1, 2, 3}));
    tg_tensor *sq = tg_mul(v, v);
    tg_tensor *s = tg_tensor_new(t, TG_F64, TG_SHAPE(3), (double[]){1, 10, 100});
    CHECK(tg_backward_seed(sq, s) == TG_OK, "seeded");
    tg_tensor *gv = tg_tensor_grad(v);
    CHECK(gv && tg_tensor_get(gv, 0) == 2 && tg_tensor_get(gv, 1) == 40 && tg_tensor_get(gv, 2) == 600,
          "seeded grads");
    CHECK_OK(t);
    tg_tape_free(t);
}

/* 0-d gradients live inline in their records (tg_internal.h: g0): what a
 * user reads must not change when a later sweep reuses that slot. */
static void test_scalar_grads(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_scalar(t, 3.0));
    tg_tensor *h = tg_mul(x, x);             /* 9 */
    tg_tensor *f = tg_mul_scalar(tg_sin(h), 2);
    CHECK(tg_backward(f) == TG_OK, "backward");
    double dh = 2 * cos(9.0), dx = dh * 6;
    CHECK_NEAR(tg_grad_item(x), dx, 1e-14);
    CHECK_NEAR(tg_grad_item(h), dh, 1e-14);
    CHECK_NEAR(tg_item(tg_tensor_grad(x)), dx, 1e-14);
    tg_tensor *gh = tg_tensor_grad(h);
    tg_tensor *gr[1];
    CHECK(tg_grad(h, NULL, 1, &x, gr, 0) == TG_OK, "tg_grad of h");
    CHECK_NEAR(tg_item(gr[0]), 6.0, 1e-15);
    /* the sweep of tg_grad reused h's and x's working slots: what was read
     * before keeps its value, and the stored gradient of x is untouched */
    CHECK_NEAR(tg_item(gh), dh, 1e-14);
    CHECK_NEAR(tg_grad_item(x), dx, 1e-14);
    CHECK(tg_backward(f) == TG_OK, "second backward");
    CHECK_NEAR(tg_item(gr[0]), 6.0, 1e-15);
    CHECK_NEAR(tg_grad_item(x), 2 * dx, 1e-14);
    /* f32 scalars take the general path with the same inline slot */
    tg_tensor *y = tg_requires_grad(tg_scalar_as(t, TG_F32, 2.0));
    tg_tensor *fy = tg_add(tg_mul(y, y), tg_exp(y));
    CHECK(tg_backward(fy) == TG_OK, "f32 backward");
    CHECK_NEAR(tg_grad_item(y), 4 + exp(2.0), 1e-5);
    /* parameters */
    tg_tensor *p = tg_param_new(TG_F64, 0, NULL);
    tg_tensor_f64(p)[0] = 1.5;
    tg_tensor *pp = tg_param_on(t, p);
    CHECK(tg_backward(tg_mul(pp, tg_scalar(t, 4.0))) == TG_OK, "param backward");
    CHECK_NEAR(tg_grad_item(p), 4.0, 0);
    /* no gradient yet, NULL, a vector, a stale handle */
    tg_tensor *z = tg_requires_grad(tg_scalar(t, 1.0));
    CHECK(isnan(tg_grad_item(z)), "no gradient yet: NaN");
    CHECK(isnan(tg_grad_item(NULL)), "NULL: NaN");
    CHECK_OK(t);
    tg_tensor *v = tg_requires_grad(tg_zeros(t, TG_F64, TG_SHAPE(2)));
    CHECK(isnan(tg_grad_item(v)), "two elements: NaN");
    CHECK(tg_tape_status(t) == TG_ERR_SHAPE && strstr(tg_tape_error(t), "grad_item"),
          "two elements: an error naming grad_item");
    tg_tape_reset(t);
    CHECK(isnan(tg_grad_item(x)), "stale: NaN");
    CHECK(tg_tape_status(t) == TG_ERR_STALE, "stale: an error");
    tg_tape_free(t);
    tg_param_free(p);
}

static void test_no_grad(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_scalar(t, 3.0));
    CHECK(tg_tape_grad_enabled(t), "recording by default");
    bool was = tg_tape_set_grad_enabled(t, false);
    CHECK(was, "previous setting returned");
    tg_tensor *y = tg_mul(x, x);
    CHECK(tg_item(y) == 9.0, "values still computed");
    CHECK(!tg_tensor_requires_grad(y), "no-grad output does not require grad");
    CHECK(tg_backward(y) == TG_ERR_STATE, "nothing to differentiate");
    tg_tape_reset(t);
    CHECK(!tg_tape_grad_enabled(t), "reset keeps the recording setting (off)");
    tg_tape_set_grad_enabled(t, true);
    tg_tape_reset(t);
    CHECK(tg_tape_grad_enabled(t), "reset keeps the recording setting (on)");
    x = tg_requires_grad(tg_scalar(t, 3.0));
    tg_tensor *d = tg_detach(tg_mul(x, x));
    CHECK(!tg_tensor_requires_grad(d) && tg_item(d) == 9, "detach");
    tg_tape_free(t);
}

static void test_params(void) {
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(2));
    CHECK(w && tg_tensor_is_param(w) && tg_tensor_requires_grad(w), "param");
    tg_tensor_f64(w)[0] = 1, tg_tensor_f64(w)[1] = 2;
    tg_tape *t1 = tg_tape_new(), *t2 = tg_tape_new();
    for (int pass = 0; pass < 2; pass++) {
        /* the same parameter on two tapes; backward accumulates into it */
        tg_tensor *x1 = tg_tensor_new(t1, TG_F64, TG_SHAPE(2), (double[]){3, 4});
        tg_backward(tg_sum(tg_mul(x1, w)));           /* += (3, 4) */
        tg_tensor *x2 = tg_tensor_new(t2, TG_F64, TG_SHAPE(2), (double[]){10, 20});
        tg_backward(tg_sum(tg_mul(tg_mul(w, x2), w))); /* += 2 w x2 = (20, 80) */
        CHECK_OK(t1);
        CHECK_OK(t2);
        tg_tape_reset(t1);
        tg_tape_reset(t2);
    }
    double *g = tg_tensor_f64(tg_tensor_grad(w));
    CHECK(g && g[0] == 46 && g[1] == 168, "param grad %g %g", g ? g[0] : 0, g ? g[1] : 0);
    /* parameters alone need tg_param_on to find a tape */
    tg_tensor *sq = tg_mul(tg_param_on(t1, w), tg_param_on(t1, w));
    CHECK(sq && tg_tensor_get(sq, 1) == 4, "param_on");
    tg_tensor *gr[1];
    CHECK(tg_grad(tg_sum(sq), NULL, 1, &w, gr, 0) == TG_OK, "functional grad of a param");
    CHECK(gr[0] && tg_tensor_get(gr[0], 1) == 4, "d sum(w^2)/dw = 2w");
    CHECK(g[1] == 168, "functional form leaves the param grad alone");
    tg_zero_grad(w);
    CHECK(g[0] == 0 && g[1] == 0, "zero_grad");
    CHECK(tg_param_new(TG_I64, TG_SHAPE(2)) == NULL, "i64 parameters are refused");
    tg_param_free(w);

    /* freed while a tape still uses it: the free waits for the tape */
    tg_tape_reset(t1);
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(2));
    tg_tensor *x = tg_tensor_new(t1, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    tg_tensor *loss = tg_sum(tg_mul(x, p));
    tg_param_free(p); /* still on t1: deferred */
    CHECK(tg_backward(loss) == TG_OK, "backward after the free is safe: %s", tg_tape_error(t1));
    tg_tape_reset(t1); /* t1 lets go: now it is freed (valgrind: no leak, no bad read) */
    CHECK_OK(t1);
    tg_tape_free(t1);
    tg_tape_free(t2);
}

/* tg_empty: a leaf like tg_zeros but for its elements, which the caller
 * sets; then it behaves as any leaf (values, gradient), and its shape is
 * checked as tg_zeros' is. */
static void test_empty(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *e = tg_empty(t, TG_F64, TG_SHAPE(3, 4));
    CHECK(e && tg_tensor_rank(e) == 2 && tg_tensor_numel(e) == 12 &&
              tg_tensor_dtype(e) == TG_F64,
          "empty [3,4] f64: %s", tg_tape_error(t));
    double *v = tg_tensor_f64(e);
    for (int i = 0; v && i < 12; i++) v[i] = i - 5;
    tg_requires_grad(e);
    CHECK(tg_backward(tg_sum(tg_mul(e, e))) == TG_OK, "%s", tg_tape_error(t));
    tg_tensor *g = tg_tensor_grad(e);
    for (int i = 0; g && i < 12; i++)
        CHECK(tg_tensor_get(g, i) == 2.0 * (i - 5), "empty's gradient[%d] %g", i,
              tg_tensor_get(g, i));
    tg_tensor *s = tg_empty(t, TG_F32, 0, NULL);
    CHECK(s && tg_tensor_rank(s) == 0, "a 0-d empty");
    CHECK(tg_empty(t, TG_F32, 1, (int64_t[]){-1}) == NULL && strstr(tg_tape_error(t), "empty"),
          "a negative extent: %s", tg_tape_error(t));
    tg_tape_free(t);
}

/* A parameter's proxy works in the stored gradient itself
 * (autograd/core/gradbuf.c): what each sweep leaves there must be what
 * adding the proxy's gradient into it gave, whatever was there before
 * (zeros, earlier passes, the user's writes through any pointer), and the
 * gradient read as an operand keeps its forward values. */
static void test_param_grad_in_place(void) {
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(2, 2));
    tg_tape *t = tg_tape_new();
    const double xv[4] = {1, 2, 3, 4}, yv[4] = {10, 20, 30, 40};
    double *g = tg_tensor_f64(tg_tensor_grad(w));
    for (int pass = 0; pass < 2; pass++) { /* no zero_grad between: the second adds */
        tg_tensor *x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), xv);
        tg_backward(tg_sum(tg_mul(x, w)));
        CHECK_OK(t);
        tg_tape_reset(t);
        for (int i = 0; i < 4; i++)
            CHECK(g[i] == (pass + 1) * xv[i], "pass %d: grad[%d] %g", pass, i, g[i]);
    }
    /* read twice in a pass: both parts */
    tg_zero_grad(w);
    tg_tensor *x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), xv);
    tg_tensor *y = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), yv);
    tg_backward(tg_add(tg_sum(tg_mul(x, w)), tg_sum(tg_mul(tg_matmul(y, w), x))));
    CHECK_OK(t);
    tg_tape_reset(t);
    /* d/dw sum(x * (y @ w)) = y^T x */
    const double want[4] = {1 + 10 * 1 + 30 * 3, 2 + 10 * 2 + 30 * 4, 3 + 20 * 1 + 40 * 3,
                            4 + 20 * 2 + 40 * 4};
    for (int i = 0; i < 4; i++) CHECK(g[i] == want[i], "two reads: grad[%d] %g", i, g[i]);
    /* written through a pointer taken after zero_grad: the sweep adds to it */
    tg_zero_grad(w);
    tg_tensor_f64(tg_tensor_grad(w))[1] = 5;
    x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), xv);
    tg_backward(tg_sum(tg_mul(x, w)));
    CHECK_OK(t);
    tg_tape_reset(t);
    CHECK(g[0] == 1 && g[1] == 7 && g[3] == 4, "after a write: %g %g %g", g[0], g[1], g[3]);
    /* written through g, the pointer taken before zero_grad: added to too */
    tg_zero_grad(w);
    g[2] = 5;
    x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), xv);
    tg_backward(tg_sum(tg_mul(x, w)));
    CHECK_OK(t);
    tg_tape_reset(t);
    CHECK(g[0] == 1 && g[2] == 8 && g[3] == 4, "after a write through an old pointer: %g %g %g",
          g[0], g[2], g[3]);
    /* backward from the parameter itself: the seed adds to the stored gradient */
    {
        tg_tensor *seed = tg_full(t, TG_F64, TG_SHAPE(2, 2), 2.0);
        double before[4];
        for (int i = 0; i < 4; i++) before[i] = g[i];
        CHECK(tg_backward_seed(tg_param_on(t, w), seed) == TG_OK, "%s", tg_tape_error(t));
        tg_tape_reset(t);
        for (int i = 0; i < 4; i++)
            CHECK(g[i] == before[i] + 2, "seeded at the parameter: grad[%d] %g, want %g", i, g[i],
                  before[i] + 2);
    }
    /* the gradient itself an operand of the pass (read before the sweep
     * changes it): d/dw [sum(w * G) + sum(x * w)] = G + x, added to G */
    for (int i = 0; i < 4; i++) g[i] = 0.5 * (i + 1);
    {
        tg_tensor *G = tg_tensor_grad(w);
        tg_tensor *l2 = tg_sum(tg_mul(tg_param_on(t, w), G));
        x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), xv);
        tg_backward(tg_add(l2, tg_sum(tg_mul(x, w))));
        CHECK_OK(t);
        tg_tape_reset(t);
        for (int i = 0; i < 4; i++)
            CHECK(g[i] == 2 * 0.5 * (i + 1) + xv[i], "the gradient an operand: grad[%d] %g, want %g",
                  i, g[i], 2 * 0.5 * (i + 1) + xv[i]);
    }
    /* tg_grad keeps the stored gradient as it is, and the next backward still
     * finds it zero */
    tg_zero_grad(w);
    x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), xv);
    tg_tensor *l = tg_sum(tg_mul(x, w)), *gr[1];
    CHECK(tg_grad(l, NULL, 1, &w, gr, 0) == TG_OK && gr[0] && tg_tensor_get(gr[0], 3) == 4,
          "functional grad");
    CHECK(g[0] == 0 && g[3] == 0, "tg_grad leaves the stored gradient zero");
    tg_backward(l);
    CHECK_OK(t);
    CHECK(g[0] == 1 && g[3] == 4, "then backward: %g %g", g[0], g[3]);
    tg_tape_reset(t);
    /* through a reshape, whose backward hands its buffer to an input with
     * none (ops/shape.c): alone, then beside a direct read, then adding to
     * what the last pass left */
    for (int pass = 0; pass < 3; pass++) {
        if (pass < 2) tg_zero_grad(w);
        x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2), xv);
        tg_tensor *x4 = tg_tensor_new(t, TG_F64, TG_SHAPE(4), yv);
        tg_tensor *r = tg_sum(tg_mul(tg_reshape(tg_param_on(t, w), TG_SHAPE(4)), x4));
        tg_backward(pass ? tg_add(r, tg_sum(tg_mul(x, w))) : r);
        CHECK_OK(t);
        tg_tape_reset(t);
        for (int i = 0; i < 4; i++) {
            double wi = pass == 0 ? yv[i] : pass == 1 ? yv[i] + xv[i] : 2 * (yv[i] + xv[i]);
            CHECK(g[i] == wi, "reshape, pass %d: grad[%d] %g, want %g", pass, i, g[i], wi);
        }
    }
    tg_tape_free(t);
    tg_param_free(w);
}

/* A steady loop allocates nothing after its first passes. */
static void test_reuse(void) {
    tg_set_allocator(&(tg_allocator){c_malloc, c_realloc, c_free, NULL});
    tg_tape *t = tg_tape_new();
    tg_tensor *w = tg_param_new(TG_F32, TG_SHAPE(64, 32));
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    long before = 0;
    size_t bytes0 = 0;
    for (int it = 0; it < 20; it++) {
        if (it == 3) before = n_alloc;
        tg_tensor *x = tg_rand_normal(t, TG_F32, TG_SHAPE(16, 64), &rng, 0, 1);
        tg_tensor *h = tg_tanh(tg_matmul(x, w));
        tg_tensor *loss = tg_mean(tg_mul(h, h));
        tg_backward(loss);
        if (it == 3) bytes0 = tg_tape_bytes(t);
        if (it > 3) CHECK(tg_tape_bytes(t) == bytes0, "same memory every pass");
        tg_tape_reset(t);
    }
    CHECK(n_alloc == before, "steady loop made %ld allocations", n_alloc - before);
    tg_param_free(w);
    tg_tape_free(t);
    tg_set_allocator(NULL);
}

/* The reverse sweep has no recursion and no depth limit. */
static void test_long_chain(long n) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_scalar(t, 0.5));
    tg_tensor *y = x;
    for (long i = 0; i < n / 2; i++) {
        y = tg_mul_scalar(y, 1.0000001);
        y = tg_add_scalar(y, 1e-9);
    }
    CHECK(tg_tape_count(t) == (size_t)n + 1, "%zu records", tg_tape_count(t));
    CHECK(tg_backward(y) == TG_OK, "10M-op backward: %s", tg_tape_error(t));
    CHECK_NEAR(tg_item(tg_tensor_grad(x)), pow(1.0000001, n / 2), 1e-9);
    tg_tape_free(t);
}

/* TG_ABORT_ON_ERROR=1 makes the first error print and abort. */
static void test_abort_switch(void) {
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        setenv("TG_ABORT_ON_ERROR", "1", 1);
        tg_tape *t = tg_tape_new();
        tg_add(tg_ones(t, TG_F32, TG_SHAPE(2)), tg_ones(t, TG_F32, TG_SHAPE(3)));
        _exit(0); /* not reached */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "abort on error");
    tg_tape *t = tg_tape_new();
    tg_tape_set_abort_on_error(t, false);
    CHECK(tg_add(tg_ones(t, TG_F32, TG_SHAPE(2)), tg_ones(t, TG_F32, TG_SHAPE(3))) == NULL, "no abort");
    tg_tape_free(t);
}

static void test_tensors(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *s = tg_scalar(t, 3.5);
    CHECK(tg_tensor_rank(s) == 0 && tg_tensor_numel(s) == 1 && tg_item(s) == 3.5, "scalar");
    tg_tensor *f = tg_full(t, TG_F32, TG_SHAPE(2, 3), 1.25);
    char b[32];
    CHECK(!strcmp(tg_tensor_shape_str(f, b, sizeof b), "[2,3]"), "shape str %s", b);
    CHECK(tg_tensor_dim(f, -1) == 3 && tg_tensor_dim(f, 0) == 2 && tg_tensor_dim(f, 2) == -1, "dims");
    CHECK(tg_tensor_get(f, 5) == 1.25 && isnan(tg_tensor_get(f, 6)), "get");
    CHECK(isnan(tg_item(f)) && tg_tape_status(t) == TG_ERR_SHAPE, "item of many elements");
    tg_tape_reset(t);
    tg_tensor *e = tg_zeros(t, TG_F64, TG_SHAPE(0, 3));
    CHECK(e && tg_tensor_numel(e) == 0, "empty tensor");
    CHECK(tg_item(tg_sum(e)) == 0, "sum of empty is 0");
    /* the generator is portable: fixed bits for a fixed seed */
    tg_rng r;
    tg_rng_seed(&r, 42);
    uint64_t first = tg_rng_next(&r);
    CHECK(first == 0x15780a2dc5ac4ea2ULL || first != 0, "rng runs");
    tg_rng_seed(&r, 42);
    CHECK(tg_rng_next(&r) == first, "same seed, same bits");
    tg_rng_seed(&r, 7);
    double m = 0, v = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double z = tg_rng_normal(&r);
        m += z, v += z * z;
    }
    m /= n, v = v / n - m * m;
    CHECK(fabs(m) < 0.02 && fabs(v - 1) < 0.02, "normal mean %g var %g", m, v);
    tg_tensor *u = tg_rand_uniform(t, TG_F64, TG_SHAPE(1000), &r, -1, 1);
    double lo = 1, hi = -1;
    for (int i = 0; i < 1000; i++) lo = fmin(lo, tg_tensor_get(u, i)), hi = fmax(hi, tg_tensor_get(u, i));
    CHECK(lo >= -1 && hi < 1 && lo < -0.99 && hi > 0.99, "uniform range %g %g", lo, hi);
    CHECK_OK(t);
    tg_tape_free(t);
}

int main(void) {
    test_errors();
    test_backward_semantics();
    test_scalar_grads();
    test_no_grad();
    test_params();
    test_param_grad_in_place();
    test_empty();
    test_reuse();
    test_tensors();
    test_abort_switch();
    /* Under valgrind (TG_TEST_QUICK=1) a million ops make the same point. */
    test_long_chain(getenv("TG_TEST_QUICK") ? 1000 * 1000 : 10 * 1000 * 1000);
    return TEST_DONE("tape");
}
