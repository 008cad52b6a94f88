/* test_anomaly_hooks.c - anomaly mode (the first op that makes a NaN or
 * an Inf, forward or backward, is named) and gradient hooks on tape
 * tensors and parameters (autograd/inspect_sweep.c, autograd/inspect.c).
 */
#include "tg_test.h"

/* --------------------------------------------------------- anomaly mode */

typedef tg_tensor *(*un_fn)(tg_tensor *);
static tg_tensor *div00(tg_tensor *a) { return tg_div(a, a); }

/* op(x) at v, then two more ops, with anomaly mode on: the error names the
 * first op, its record and x. */
static void anomaly_forward(const char *opname, un_fn f, double v, const char *bad,
                            bool by_backward) {
    tg_tape *tape = tg_tape_new();
    CHECK(tg_tape_set_anomaly(tape, true) == false, "anomaly off by default");
    tg_tensor *c = tg_scalar(tape, 3); /* #0 */
    tg_tensor *x = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, v)), "xin"); /* #1 */
    tg_tensor *y = f(tg_mul_scalar(x, 1.0)); /* #2 mul_scalar, #3 the op */
    tg_tensor *loss = tg_mul(tg_add(y, c), c);
    CHECK(loss != NULL, "%s: the ops themselves succeed", opname);
    tg_status st = by_backward ? tg_backward(loss) : tg_tape_check_finite(tape);
    CHECK(st == TG_ERR_NUMERIC && tg_tape_status(tape) == TG_ERR_NUMERIC, "%s: status %s",
          opname, tg_status_name(st));
    const char *e = tg_tape_error(tape);
    char want[64];
    snprintf(want, sizeof want, "%s: anomaly in the forward: record #3", opname);
    CHECK(strncmp(e, want, strlen(want)) == 0, "%s: error '%s'", opname, e);
    CHECK(strstr(e, bad) && strstr(e, "inputs: #2 []"), "%s: error '%s'", opname, e);
    tg_tape_free(tape);
    /* with the mode off, the same pass runs without an error */
    tape = tg_tape_new();
    x = tg_requires_grad(tg_scalar(tape, v));
    loss = tg_mul_scalar(f(x), 2.0);
    CHECK(tg_backward(loss) == TG_OK, "%s with anomaly off: %s", opname, tg_tape_error(tape));
    tg_tape_free(tape);
}

static void test_anomaly(void) {
    anomaly_forward("log", tg_log, 0.0, "-inf", true);
    anomaly_forward("div", div00, 0.0, "nan", true);
    anomaly_forward("sqrt", tg_sqrt, -1.0, "nan", false);
    anomaly_forward("exp", tg_exp, 1000.0, "inf", true);

    /* the forward error names the user's names and the input's value */
    {
        tg_tape *tape = tg_tape_new();
        tg_tape_set_anomaly(tape, true);
        tg_tensor *x = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, 0)), "x");
        tg_tensor *h = tg_tensor_set_name(tg_log(x), "h");
        tg_backward(tg_mul_scalar(h, 2));
        CHECK(!strcmp(tg_tape_error(tape),
                      "log: anomaly in the forward: record #1 (h) has -inf at element 0 of its "
                      "output []; inputs: #0 x [] = 0"),
              "error: %s", tg_tape_error(tape));
        tg_tape_free(tape);
    }

    /* off by default: log(0) gives -inf quietly */
    {
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tg_requires_grad(tg_scalar(tape, 0));
        CHECK(tg_backward(tg_log(x)) == TG_OK, "anomaly is off by default");
        tg_tape_free(tape);
    }

    /* backward: sqrt at 0 has an infinite derivative */
    for (int graph = 0; graph < 2; graph++) {
        tg_tape *tape = tg_tape_new();
        tg_tape_set_anomaly(tape, true);
        tg_tensor *x = tg_tensor_set_name(
            tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){4, 0, 1})), "x");
        tg_tensor *y = tg_tensor_set_name(tg_sqrt(x), "r");
        tg_tensor *loss = tg_sum(tg_mul_scalar(y, 3));
        tg_status st;
        if (graph) {
            tg_tensor *g;
            st = tg_grad(loss, NULL, 1, &x, &g, TG_CREATE_GRAPH);
        } else {
            st = tg_backward(loss);
        }
        CHECK(st == TG_ERR_NUMERIC, "sqrt backward (graph %d): %s", graph, tg_status_name(st));
        const char *want = "sqrt: anomaly in the backward of record #1 (r): the gradient it "
                           "gives input 1 (#0 x [3]) has inf at element 1; its output gradient: "
                           "[3, 3, 3]";
        CHECK(!strcmp(tg_tape_error(tape), want), "graph %d: error '%s'", graph,
              tg_tape_error(tape));
        tg_tape_free(tape);
    }
    /* finite forward, overflowing backward: each op named in the sweep */
    struct {
        const char *op;
        double v;
    } bw[] = {{"sqrt", 0.0}, {"log", 1e-320}, {"exp", 709.0}, {"div", 1e-200}};
    for (int k = 0; k < 4; k++) {
        tg_tape *tape = tg_tape_new();
        tg_tape_set_anomaly(tape, true);
        tg_tensor *x = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, bw[k].v)), "x");
        tg_tensor *y = k == 0 ? tg_sqrt(x) : k == 1 ? tg_log(x) : k == 2 ? tg_exp(x)
                                                                         : tg_div(tg_scalar(tape, 1), x);
        CHECK(tg_tape_check_finite(tape) == TG_OK, "%s: forward is finite", bw[k].op);
        /* d ?/d y = 3: exp(709) * 3 overflows only in the backward */
        CHECK(tg_backward_seed(y, tg_scalar(tape, 3.0)) == TG_ERR_NUMERIC, "%s: %s", bw[k].op,
              tg_tape_error(tape));
        char want[80];
        snprintf(want, sizeof want, "%s: anomaly in the backward of record #%d:", bw[k].op,
                 k == 3 ? 2 : 1);
        CHECK(strncmp(tg_tape_error(tape), want, strlen(want)) == 0 &&
                  strstr(tg_tape_error(tape), "x []") && strstr(tg_tape_error(tape), "inf at"),
              "%s: %s", bw[k].op, tg_tape_error(tape));
        tg_tape_free(tape);
    }
    /* a scalar: pow_scalar(0, 0.5) is 0 forward, inf backward */
    {
        tg_tape *tape = tg_tape_new();
        tg_tape_set_anomaly(tape, true);
        tg_tensor *x = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, 0)), "x");
        tg_backward(tg_mul_scalar(tg_pow_scalar(x, 0.5), 2));
        CHECK(strstr(tg_tape_error(tape), "pow_scalar: anomaly in the backward of record #1:") &&
                  strstr(tg_tape_error(tape), "(#0 x [] = 0) has inf"),
              "pow_scalar: %s", tg_tape_error(tape));
        tg_tape_free(tape);
    }
    /* f32 too, and the mode survives a reset */
    {
        tg_tape *tape = tg_tape_new();
        tg_tape_set_anomaly(tape, true);
        tg_tape_reset(tape);
        tg_tensor *x = tg_requires_grad(tg_full(tape, TG_F32, TG_SHAPE(2, 2), 100.0f));
        tg_backward(tg_sum(tg_exp(x)));
        CHECK(tg_tape_status(tape) == TG_ERR_NUMERIC && strstr(tg_tape_error(tape), "exp:"),
              "f32 exp overflow: %s", tg_tape_error(tape));
        CHECK(tg_tape_set_anomaly(tape, false) == true, "previous setting returned");
        tg_tape_free(tape);
    }
}

/* --------------------------------------------------------------- hooks */

typedef struct seen {
    int calls;
    double first;
    tg_tensor *who;
} seen;

static tg_tensor *hook_double(tg_tensor *t, tg_tensor *g, void *ud) {
    seen *s = ud;
    s->calls++;
    s->who = t;
    s->first = tg_tensor_get(g, 0);
    int64_t n = tg_tensor_numel(g);
    double *d = tg_tensor_f64(g);
    for (int64_t i = 0; i < n; i++) d[i] *= 2; /* in place */
    return g;
}

/* clips to [-1, 1] in place (f64) */
static tg_tensor *hook_clip(tg_tensor *t, tg_tensor *g, void *ud) {
    (void)t;
    seen *s = ud;
    s->calls++;
    int64_t n = tg_tensor_numel(g);
    double *d = tg_tensor_f64(g);
    for (int64_t i = 0; i < n; i++) d[i] = d[i] > 1 ? 1 : d[i] < -1 ? -1 : d[i];
    return g;
}

/* a replacement built from ops */
static tg_tensor *hook_scale3(tg_tensor *t, tg_tensor *g, void *ud) {
    (void)t, (void)ud;
    return tg_mul_scalar(g, 3.0);
}
static tg_tensor *hook_null(tg_tensor *t, tg_tensor *g, void *ud) {
    (void)t, (void)g, (void)ud;
    return NULL;
}
static tg_tensor *hook_wrong_shape(tg_tensor *t, tg_tensor *g, void *ud) {
    (void)t, (void)ud;
    return tg_zeros(tg_tensor_tape(g), TG_F64, TG_SHAPE(2));
}

static void test_hooks(void) {
    /* an intermediate's hook sees d loss/d h and doubles it */
    {
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tg_requires_grad(tg_scalar(tape, 3));
        tg_tensor *h = tg_mul(x, x);          /* dh/dx = 6 */
        tg_tensor *loss = tg_mul_scalar(h, 5); /* dloss/dh = 5 */
        seen s = {0, 0, NULL};
        CHECK(tg_tensor_set_hook(h, hook_double, &s) == h, "set_hook");
        tg_backward(loss);
        CHECK_OK(tape);
        CHECK(s.calls == 1 && s.first == 5 && s.who == h, "hook saw %d %g", s.calls, s.first);
        CHECK_NEAR(tg_item(tg_tensor_grad(x)), 60, 0);
        CHECK_NEAR(tg_item(tg_tensor_grad(h)), 10, 0);
        /* removed: a second sweep is plain */
        tg_tensor_set_hook(h, NULL, NULL);
        tg_zero_grad(x);
        tg_backward(loss);
        CHECK(s.calls == 1, "removed hook not called");
        CHECK_NEAR(tg_item(tg_tensor_grad(x)), 30, 0);
        /* a hook on a leaf changes what is stored */
        tg_zero_grad(x);
        tg_tensor_set_hook(x, hook_double, &s);
        tg_backward(loss);
        CHECK(s.calls == 2 && s.first == 30, "leaf hook saw %g", s.first);
        CHECK_NEAR(tg_item(tg_tensor_grad(x)), 60, 0);
        /* hooks disappear with the reset */
        tg_tape_reset(tape);
        tg_tape_reset(tape);
        tg_tensor *x2 = tg_requires_grad(tg_scalar(tape, 3));
        /* the same slot: handles differ only in their pass tag (top 6 bits) */
        CHECK((uintptr_t)x2 << 6 == (uintptr_t)x << 6 && x2 != x, "(same slot)");
        tg_backward(tg_mul(x2, x2));
        CHECK(s.calls == 2, "a reset drops hooks");
        CHECK_NEAR(tg_item(tg_tensor_grad(x2)), 6, 0);
        tg_tape_free(tape);
    }
    /* clipping a tensor gradient, and a parameter's hook */
    {
        tg_tape *tape = tg_tape_new();
        tg_tensor *W = tg_param_new(TG_F64, TG_SHAPE(3));
        seen s = {0, 0, NULL};
        CHECK(tg_tensor_set_hook(W, hook_clip, &s) == W, "param hook");
        tg_tensor *c = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){0.5, -4, 2});
        tg_backward(tg_sum(tg_mul(W, c)));
        CHECK_OK(tape);
        const double *g = tg_tensor_f64(tg_tensor_grad(W));
        CHECK(s.calls == 1 && g && g[0] == 0.5 && g[1] == -1 && g[2] == 1, "clipped %g %g %g",
              g ? g[0] : 0, g ? g[1] : 0, g ? g[2] : 0);
        /* it stays for later passes */
        tg_tape_reset(tape);
        tg_zero_grad(W);
        c = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){3, 3, 3});
        tg_backward(tg_sum(tg_mul(W, c)));
        CHECK(s.calls == 2 && tg_tensor_f64(tg_tensor_grad(W))[0] == 1, "param hook again");
        tg_param_free(W);
        tg_tape_free(tape);
    }
    /* a replacement from ops in a create-graph sweep stays differentiable:
     * y = x^3, hook triples dy/dy, so g = 9 x^2 and dg/dx = 18 x */
    {
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tg_requires_grad(tg_scalar(tape, 2));
        tg_tensor *x2 = tg_mul(x, x);
        tg_tensor *y = tg_mul(x2, x);
        tg_tensor_set_hook(x2, hook_scale3, NULL);
        tg_tensor *g;
        CHECK(tg_grad(y, NULL, 1, &x, &g, TG_CREATE_GRAPH) == TG_OK, "%s", tg_tape_error(tape));
        /* d y/d x = x^2 (direct) + 3 * x * 2x = 4 + 24 = 28 */
        CHECK_NEAR(tg_item(g), 28, 1e-12);
        tg_tensor *gg;
        tg_tensor_set_hook(x2, NULL, NULL);
        CHECK(tg_grad(g, NULL, 1, &x, &gg, 0) == TG_OK, "%s", tg_tape_error(tape));
        /* d/dx (x^2 + 6x^2) = 14 x = 28 */
        CHECK_NEAR(tg_item(gg), 28, 1e-12);
        tg_tape_free(tape);
    }
    /* errors */
    {
        tg_tape *tape = tg_tape_new();
        tg_tensor *c = tg_scalar(tape, 1);
        CHECK_ERR(tg_tensor_set_hook(c, hook_double, NULL), tape, TG_ERR_STATE, "does not require grad");
        tg_tape_reset(tape);
        tg_tensor *x = tg_requires_grad(tg_scalar(tape, 1));
        tg_tensor *h = tg_tensor_set_name(tg_mul(x, x), "h");
        tg_tensor_set_hook(h, hook_null, NULL);
        CHECK(tg_backward(h) == TG_ERR_STATE && strstr(tg_tape_error(tape), "hook of h returned NULL"),
              "%s", tg_tape_error(tape));
        tg_tape_reset(tape);
        x = tg_requires_grad(tg_scalar(tape, 1));
        h = tg_mul(x, x);
        tg_tensor_set_hook(h, hook_wrong_shape, NULL);
        CHECK(tg_backward(tg_mul_scalar(h, 2)) == TG_ERR_SHAPE &&
                  strstr(tg_tape_error(tape), "f64 [2]"),
              "%s", tg_tape_error(tape));
        tg_tape_free(tape);
    }
}

/* ------------------------------------------------------------ misc API */

int main(void) {
    test_anomaly();
    test_hooks();
    return TEST_DONE("anomaly_hooks");
}
