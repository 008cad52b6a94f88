/* test_stale.c - stale handles (tg_tape_reset in tg_core.h): a tensor from
 * k resets back is refused, whatever now fills its slot, by ops, queries,
 * backward, gradients and names, for every k that is not a multiple of 126;
 * at 126, 252, ... a handle whose slot this pass has refilled reads as the
 * tensor there. Parameters never go stale. */
#include "tg_test.h"

/* One pass's tensors, made in the same order every pass, so that a later
 * pass on the same set of slots puts its own tensors where these were. */
typedef struct pass {
    tg_tensor *x, *v, *z, *loss;
} pass;

static pass make(tg_tape *t, double s) {
    pass p;
    p.x = tg_requires_grad(tg_scalar(t, s));                   /* 0-d */
    p.v = tg_requires_grad(tg_full(t, TG_F64, TG_SHAPE(3), s)); /* [3] */
    p.z = tg_mul(p.x, p.v);                                     /* [3], an op's output */
    p.loss = tg_sum(p.z);
    return p;
}

/* A new tape: `old` made on its first pass (and differentiated), then k
 * resets, then `now` made and differentiated on the current pass. */
static tg_tape *after(int k, pass *old, pass *now) {
    tg_tape *t = tg_tape_new();
    *old = make(t, 7);
    tg_backward(old->loss);
    for (int i = 0; i < k; i++) tg_tape_reset(t);
    *now = make(t, 100);
    tg_backward(now->loss);
    CHECK_OK(t);
    return t;
}

/* Every way of using a tensor from k resets back is refused. */
static void refused(int k) {
    pass o, n;
    tg_tape *t;
    char b[32];

    /* ops: the scalar fast paths, a tensor op, a reduction */
    t = after(k, &o, &n);
    CHECK(o.x != n.x && o.z != n.z, "k=%d: an old handle is not the new tensor", k);
    CHECK_ERR(tg_add(o.x, n.x), t, TG_ERR_STALE, "add: operand 1 is stale");
    tg_tape_free(t);
    t = after(k, &o, &n);
    CHECK_ERR(tg_mul(n.v, o.z), t, TG_ERR_STALE, "mul: operand 2 is stale");
    tg_tape_free(t);
    t = after(k, &o, &n);
    CHECK_ERR(tg_exp(o.x), t, TG_ERR_STALE, "exp: operand 1 is stale");
    tg_tape_free(t);
    t = after(k, &o, &n);
    CHECK_ERR(tg_mul_scalar(o.x, 2), t, TG_ERR_STALE, "mul_scalar: operand 1 is stale");
    tg_tape_free(t);
    t = after(k, &o, &n);
    CHECK_ERR(tg_sum(o.z), t, TG_ERR_STALE, "sum: operand 1 is stale");
    tg_tape_free(t);

    /* queries: NaN, NULL, -1, and no error where none is documented */
    t = after(k, &o, &n);
    CHECK(isnan(tg_tensor_get(o.z, 0)) && tg_tensor_data(o.z) == NULL &&
              tg_tensor_f64(o.x) == NULL && tg_tensor_rank(o.z) == -1 &&
              tg_tensor_numel(o.z) == -1 && tg_tensor_shape(o.z) == NULL &&
              tg_tensor_dim(o.z, 0) == -1 && !tg_tensor_requires_grad(o.x) &&
              tg_tensor_grad(o.x) == NULL && tg_tensor_name(o.x) == NULL &&
              tg_tensor_dtype(o.x) == TG_F32,
          "k=%d: queries refuse a stale tensor", k);
    CHECK(!strcmp(tg_tensor_shape_str(o.z, b, sizeof b), "(stale)"), "k=%d: shape_str %s", k, b);
    CHECK_OK(t);
    CHECK(isnan(tg_item(o.x)), "k=%d: item of a stale tensor is NaN", k);
    CHECK_ERR(NULL, t, TG_ERR_STALE, "item");
    tg_tape_free(t);

    /* backward and gradients */
    t = after(k, &o, &n);
    CHECK(tg_backward(o.loss) == TG_ERR_STALE, "k=%d: backward of a stale loss", k);
    CHECK_ERR(NULL, t, TG_ERR_STALE, "backward: operand 1 is stale");
    CHECK_NEAR(tg_tensor_get(tg_tensor_grad(n.x), 0), 300, 0); /* no sweep ran */
    tg_tape_free(t);
    t = after(k, &o, &n);
    CHECK(isnan(tg_grad_item(o.x)), "k=%d: grad_item of a stale tensor is NaN", k);
    CHECK_ERR(NULL, t, TG_ERR_STALE, "grad_item");
    tg_tape_free(t);
    t = after(k, &o, &n);
    tg_tensor *g[1];
    CHECK(tg_grad(n.loss, NULL, 1, &o.x, g, 0) == TG_ERR_STALE, "k=%d: grad wrt a stale input", k);
    CHECK_ERR(NULL, t, TG_ERR_STALE, "grad: operand 2 is stale");
    tg_tape_free(t);

    /* the rest of the core, and names */
    t = after(k, &o, &n);
    CHECK_ERR(tg_requires_grad(o.x), t, TG_ERR_STALE, "requires_grad");
    tg_tape_free(t);
    t = after(k, &o, &n);
    CHECK_ERR(tg_zeros_like(o.z), t, TG_ERR_STALE, "zeros_like");
    tg_tape_free(t);
    t = after(k, &o, &n);
    CHECK_ERR(tg_detach(o.z), t, TG_ERR_STALE, "detach: operand 1 is stale");
    tg_tape_free(t);
    t = after(k, &o, &n);
    tg_tensor_set_name(n.x, "new");
    CHECK(tg_tensor_name(o.x) == NULL, "k=%d: a stale tensor has no name", k);
    CHECK_ERR(tg_tensor_set_name(o.x, "old"), t, TG_ERR_STALE, "set_name");
    CHECK(!strcmp(tg_tensor_name(n.x), "new"), "k=%d: the new tensor keeps its name", k);
    tg_tape_free(t);
}

/* The example: x made with 7, two resets, y made with 100. */
static void example(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_scalar(t, 7);
    tg_tape_reset(t);
    tg_tape_reset(t);
    tg_tensor *y = tg_scalar(t, 100);
    CHECK(x != y, "x and y are different tensors");
    CHECK_ERR(tg_add(x, y), t, TG_ERR_STALE, "add: operand 1 is stale");
    tg_tape_free(t);
}

/* k a multiple of 126: the documented limit. Once this pass has refilled
 * the slot, the handle reads as the tensor there; before, it is refused. */
static void period(int k) {
    pass o, n;
    tg_tape *t = after(k, &o, &n);
    CHECK(o.x == n.x && tg_item(o.x) == 100, "k=%d: the handle reads as its slot's tensor", k);
    tg_tape_free(t);

    t = tg_tape_new();
    tg_tensor *x = tg_scalar(t, 7), *x2 = tg_scalar(t, 8);
    for (int i = 0; i < k; i++) tg_tape_reset(t);
    tg_tensor *y = tg_scalar(t, 100); /* refills x's slot, not x2's */
    CHECK(x == y && tg_item(x) == 100, "k=%d: refilled slot", k);
    CHECK(isnan(tg_item(x2)), "k=%d: a slot not refilled yet is refused", k);
    CHECK_ERR(NULL, t, TG_ERR_STALE, "item");
    tg_tape_free(t);
}

/* A tape counts its own passes: other tapes' resets change nothing. */
static void other_tapes(void) {
    tg_tape *t = tg_tape_new(), *u = tg_tape_new();
    tg_tensor *x = tg_scalar(t, 7);
    for (int i = 0; i < 2; i++) {
        tg_tape_reset(t);
        for (int j = 0; j < 1000; j++) tg_tape_reset(u);
    }
    tg_tensor *y = tg_scalar(t, 100);
    CHECK(x != y, "another tape's resets do not alias");
    CHECK_ERR(tg_add(y, x), t, TG_ERR_STALE, "add: operand 2 is stale");
    tg_tape_free(t);
    tg_tape_free(u);
}

/* Parameters live outside tapes: the same handle works on every pass, and
 * gradients accumulate; a proxy (tg_param_on) is a tensor of its pass. */
static void parameters(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(2));
    tg_tensor *first = NULL;
    for (int i = 0; i < 300; i++) {
        tg_tape_reset(t);
        tg_tensor *c = tg_tensor_new(t, TG_F64, TG_SHAPE(2), (double[]){1, 2});
        tg_tensor *q = tg_param_on(t, p);
        if (i == 0) first = q;
        CHECK(tg_backward(tg_sum(tg_mul(p, c))) == TG_OK, "pass %d: %s", i, tg_tape_error(t));
        if (i == 2) {
            CHECK(q != first, "a proxy handle belongs to its pass");
            CHECK_ERR(tg_add(first, c), t, TG_ERR_STALE, "add: operand 1 is stale");
        }
    }
    const double *g = tg_tensor_f64(tg_tensor_grad(p));
    CHECK(g && g[0] == 300 && g[1] == 600, "gradients of 300 passes accumulate");
    CHECK(tg_tensor_rank(p) == 1 && tg_tensor_numel(p) == 2, "a parameter's queries work");
    tg_param_free(p);
    tg_tape_free(t);
}

int main(void) {
    const int ks[] = {1, 2, 3, 10, 62, 63, 64, 65, 125, 127, 128, 1000};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) refused(ks[i]);
    example();
    period(126);
    period(252);
    other_tapes();
    parameters();
    return TEST_DONE("stale");
}
