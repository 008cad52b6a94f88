/* test_custom.c - custom ops (ops/tg_custom.h): values, gradients against
 * finite differences through both backwards, saved values and the user
 * context, several inputs, the errors of built-in ops, and tg_gradcheck
 * catching a wrong fast or graph backward.
 */
#include "tg_test.h"
#include "bad_op.h"

/* ---------------------------------------------------- cube: y = s * x^3 */
/* ctx: the scale s (a double). The forward saves x^2 for the fast backward. */

static bool cube_fwd(tg_custom_call *c, int n, const tg_buf *in, tg_buf *out) {
    (void)n;
    double s = *(const double *)tg_custom_ctx(c);
    double *x2 = tg_custom_save(c, (size_t)out->numel * sizeof(double));
    if (!x2 && out->numel) return false;
    for (int64_t k = 0; k < out->numel; k++) {
        double x = in[0].dtype == TG_F32 ? ((const float *)in[0].data)[k]
                                         : ((const double *)in[0].data)[k];
        x2[k] = x * x;
        if (out->dtype == TG_F32) ((float *)out->data)[k] = (float)(s * x * x * x);
        else ((double *)out->data)[k] = s * x * x * x;
    }
    return true;
}

static bool cube_bwd(tg_custom_call *c, int n, const tg_buf *in, const tg_buf *out,
                     const tg_buf *gout, tg_buf *gin) {
    (void)n, (void)in, (void)out;
    size_t bytes;
    const double *x2 = tg_custom_saved(c, &bytes);
    double s = *(const double *)tg_custom_ctx(c);
    if (bytes != (size_t)gout->numel * sizeof(double)) return tg_custom_fail(c, "saved %zu bytes", bytes);
    for (int64_t k = 0; k < gout->numel; k++) {
        if (gout->dtype == TG_F32)
            ((float *)gin[0].data)[k] += (float)(3 * s * x2[k] * ((const float *)gout->data)[k]);
        else
            ((double *)gin[0].data)[k] += 3 * s * x2[k] * ((const double *)gout->data)[k];
    }
    return true;
}

static tg_tensor *cube_graph(tg_custom_call *c, int i, tg_tensor *const *in, tg_tensor *out,
                             tg_tensor *g) {
    (void)i, (void)out;
    double s = *(const double *)tg_custom_ctx(c);
    return tg_mul(g, tg_mul_scalar(tg_mul(in[0], in[0]), 3 * s));
}

static const tg_custom_def CUBE = {
    .name = "cube", .forward = cube_fwd, .backward = cube_bwd, .graph_backward = cube_graph};
static const tg_custom_def CUBE_FAST = {.name = "cube_fast", .forward = cube_fwd, .backward = cube_bwd};
static const tg_custom_def CUBE_GRAPH = {.name = "cube_graph", .forward = cube_fwd,
                                         .graph_backward = cube_graph};
static const tg_custom_def CUBE_NONE = {.name = "cube_none", .forward = cube_fwd};

static double scale = 0.5;

static tg_tensor *f_cube(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t;
    /* used twice, and inside other ops */
    tg_tensor *y = tg_custom(ud, &scale, 1, &x[0]);
    return tg_add(tg_sin(y), tg_mul(y, x[0]));
}

/* ---------------------------------------- wdot: sum(a * b * w), scalar */
/* Three inputs, a rank-0 output from a shape callback. */

static bool wdot_shape(tg_custom_call *c, int n, const tg_buf *in, int *rank, int64_t *shape) {
    (void)shape;
    for (int i = 1; i < n; i++)
        if (in[i].numel != in[0].numel)
            return tg_custom_fail(c, "input %d has %lld elements, input 1 has %lld", i + 1,
                                  (long long)in[i].numel, (long long)in[0].numel);
    *rank = 0;
    return true;
}

static double at(const tg_buf *b, int64_t k) {
    return b->dtype == TG_F32 ? ((const float *)b->data)[k] : ((const double *)b->data)[k];
}

static bool wdot_fwd(tg_custom_call *c, int n, const tg_buf *in, tg_buf *out) {
    (void)c, (void)n;
    double s = 0;
    for (int64_t k = 0; k < in[0].numel; k++) s += at(&in[0], k) * at(&in[1], k) * at(&in[2], k);
    if (out->dtype == TG_F32) *(float *)out->data = (float)s;
    else *(double *)out->data = s;
    return true;
}

static bool wdot_bwd(tg_custom_call *c, int n, const tg_buf *in, const tg_buf *out,
                     const tg_buf *gout, tg_buf *gin) {
    (void)c, (void)out;
    double g = at(gout, 0);
    for (int i = 0; i < n; i++) {
        if (!gin[i].data) continue;
        const tg_buf *p = &in[(i + 1) % 3], *q = &in[(i + 2) % 3];
        for (int64_t k = 0; k < in[0].numel; k++) {
            double d = g * at(p, k) * at(q, k);
            if (gin[i].dtype == TG_F32) ((float *)gin[i].data)[k] += (float)d;
            else ((double *)gin[i].data)[k] += d;
        }
    }
    return true;
}

static tg_tensor *wdot_graph(tg_custom_call *c, int i, tg_tensor *const *in, tg_tensor *out,
                             tg_tensor *g) {
    (void)c, (void)out;
    return tg_mul(g, tg_mul(in[(i + 1) % 3], in[(i + 2) % 3]));
}

static const tg_custom_def WDOT = {.name = "wdot", .shape = wdot_shape, .forward = wdot_fwd,
                                   .backward = wdot_bwd, .graph_backward = wdot_graph};

static tg_tensor *f_wdot(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    tg_tensor *in[3] = {x[0], x[1], x[0]}; /* x[0] twice: both parts add up */
    return tg_mul(tg_custom(&WDOT, NULL, 3, in), tg_sum(x[1]));
}

/* --------------------------------------------------------------- tests */

static void test_values(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){1, -2, 0.5});
    tg_tensor *y = tg_custom(&CUBE, &scale, 1, &x);
    CHECK(y && tg_tensor_numel(y) == 3 && tg_tensor_get(y, 1) == -4 && tg_tensor_get(y, 2) == 0.0625,
          "cube values");
    CHECK(!tg_tensor_requires_grad(y), "a constant input gives a constant output");
    tg_tensor *xf = tg_requires_grad(tg_tensor_new(tape, TG_F32, TG_SHAPE(2), (float[]){2, 3}));
    tg_tensor *yf = tg_custom(&CUBE, &scale, 1, &xf);
    CHECK(yf && tg_tensor_dtype(yf) == TG_F32 && tg_tensor_get(yf, 1) == 13.5, "f32 value");
    CHECK(tg_tensor_requires_grad(yf), "requires grad from its input");
    CHECK(tg_backward(tg_sum(yf)) == TG_OK, "backward: %s", tg_tape_error(tape));
    CHECK(tg_tensor_get(tg_tensor_grad(xf), 1) == 13.5f, "f32 gradient 1.5 * 3^2");
    /* no backward: a constant even from a tensor that requires grad */
    tg_tensor *z = tg_custom(&CUBE_NONE, &scale, 1, &xf);
    CHECK(z && !tg_tensor_requires_grad(z), "no backward: constant output");
    /* zero elements */
    tg_tensor *e = tg_requires_grad(tg_zeros(tape, TG_F64, TG_SHAPE(0, 3)));
    tg_tensor *ye = tg_custom(&CUBE, &scale, 1, &e);
    CHECK(ye && tg_tensor_numel(ye) == 0, "zero elements");
    CHECK(tg_backward(tg_sum(ye)) == TG_OK, "zero-element backward: %s", tg_tape_error(tape));
    CHECK_OK(tape);
    tg_tape_free(tape);
}

static void test_gradients(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 3), (double[]){0.3, -1.2, 0.8, 1.5, -0.4, 2});
    tg_gradcheck_report rep;
    tg_gradcheck_opts second = {.second = true};
    tg_gradcheck_opts first = {0};
    CHECK(tg_gradcheck(f_cube, (void *)&CUBE, 1, &x, &second, &rep), "cube, both backwards, "
          "second order: %s", rep.msg);
    CHECK(tg_gradcheck(f_cube, (void *)&CUBE_GRAPH, 1, &x, &second, &rep),
          "graph backward only (fast sweeps run it unrecorded): %s", rep.msg);
    CHECK(tg_gradcheck(f_cube, (void *)&CUBE_FAST, 1, &x, &first, &rep), "fast backward only: %s",
          rep.msg);
    CHECK(!tg_gradcheck(f_cube, (void *)&CUBE_FAST, 1, &x, &(tg_gradcheck_opts){.graph = true}, &rep) &&
              strstr(rep.msg, "no graph_backward") != NULL,
          "fast only, graph checked: refused with a sentence: %s", rep.msg);
    tg_tensor *ab[2] = {tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){1, -2, 3, 0.5}),
                        tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){0.7, 0.1, -1, 2})};
    CHECK(tg_gradcheck(f_wdot, NULL, 2, ab, &second, &rep), "three inputs, one twice: %s", rep.msg);
    CHECK_OK(tape);
    tg_tape_free(tape);
}

static void test_params_and_graph(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *p = tg_param_new(TG_F64, 1, (int64_t[]){2});
    ((double *)tg_tensor_data(p))[0] = 1.0, ((double *)tg_tensor_data(p))[1] = -3.0;
    tg_tensor *pp = tg_param_on(tape, p); /* its proxy: a parameter alone names no tape */
    tg_tensor *y = tg_custom(&CUBE, &scale, 1, &pp);
    CHECK(tg_backward(tg_sum(y)) == TG_OK, "backward to a parameter: %s", tg_tape_error(tape));
    CHECK(tg_tensor_get(tg_tensor_grad(p), 1) == 13.5, "parameter gradient 1.5 * 9");
    /* create-graph: d/dx of d(0.5 x^3)/dx = 3x at x = 2 */
    tg_tensor *x = tg_requires_grad(tg_scalar(tape, 2.0));
    tg_tensor *g = tg_vjp(tg_custom(&CUBE, &scale, 1, &x), x, NULL, TG_CREATE_GRAPH);
    CHECK(g && tg_item(g) == 6.0, "first derivative 1.5 x^2 = 6");
    tg_tensor *h = tg_vjp(g, x, NULL, 0);
    CHECK(h && tg_item(h) == 6.0, "second derivative 3x = 6");
    /* the fast-only op in a create-graph sweep: a sentence */
    tg_tensor *yf = tg_custom(&CUBE_FAST, &scale, 1, &x);
    CHECK_ERR(tg_vjp(yf, x, NULL, TG_CREATE_GRAPH), tape, TG_ERR_STATE, "cube_fast: has no graph_backward");
    tg_tape_free(tape);
    tg_param_free(p);
}

static tg_tensor *wrong_shape_graph(tg_custom_call *c, int i, tg_tensor *const *in, tg_tensor *out,
                                    tg_tensor *g) {
    (void)c, (void)i, (void)in, (void)out;
    return tg_sum(g);
}

static bool refuse_fwd(tg_custom_call *c, int n, const tg_buf *in, tg_buf *out) {
    (void)n, (void)in, (void)out;
    return tg_custom_fail(c, "x must be positive, got %g", -1.0);
}

static bool save_late(tg_custom_call *c, int n, const tg_buf *in, const tg_buf *out,
                      const tg_buf *gout, tg_buf *gin) {
    (void)n, (void)in, (void)out, (void)gout, (void)gin;
    return tg_custom_save(c, 8) != NULL;
}

static void test_errors(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    tg_tensor *xf = tg_tensor_new(tape, TG_F32, TG_SHAPE(2), (float[]){1, 2});
    tg_tensor *in[2] = {x, NULL};
    CHECK_ERR(tg_custom(&CUBE, &scale, 2, in), tape, TG_ERR_NULL, "cube: operand 2 is NULL");
    tg_tape_reset(tape);
    tg_tensor *stale = x;
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    in[0] = x, in[1] = stale;
    CHECK_ERR(tg_custom(&CUBE, &scale, 2, in), tape, TG_ERR_STALE, "cube: operand 2 is stale");
    tg_tape_reset(tape);
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    xf = tg_tensor_new(tape, TG_F32, TG_SHAPE(2), (float[]){1, 2});
    tg_tensor *mixed[3] = {x, xf, x};
    CHECK_ERR(tg_custom(&WDOT, NULL, 3, mixed), tape, TG_ERR_DTYPE, "wdot: dtypes differ: f64 [2] and f32 [2]");
    tg_tape_reset(tape);
    tg_tape *other = tg_tape_new();
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    tg_tensor *two[3] = {x, tg_tensor_new(other, TG_F64, TG_SHAPE(2), (double[]){1, 2}), x};
    CHECK_ERR(tg_custom(&WDOT, NULL, 3, two), tape, TG_ERR_TAPE, "wdot: operand 2 belongs to another tape");
    tg_tape_free(other);
    tg_tape_reset(tape);
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    tg_tensor *i64 = tg_tensor_new(tape, TG_I64, TG_SHAPE(2), (int64_t[]){1, 2});
    CHECK_ERR(tg_custom(&CUBE, &scale, 1, &i64), tape, TG_ERR_DTYPE, "cube: operand 1 is i64 [2]; this op needs f32 or f64");
    tg_tape_reset(tape);
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    tg_tensor *y3 = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){1, 2, 3});
    tg_tensor *shp[3] = {x, y3, x};
    CHECK_ERR(tg_custom(&WDOT, NULL, 3, shp), tape, TG_ERR_ARG, "wdot: input 2 has 3 elements, input 1 has 2");
    tg_tape_reset(tape);
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    tg_tensor *many[17];
    for (int i = 0; i < 17; i++) many[i] = x;
    CHECK_ERR(tg_custom(&CUBE, &scale, 17, many), tape, TG_ERR_ARG, "cube: 17 inputs; a custom op takes 1 to 16");
    tg_tape_reset(tape);
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    CHECK_ERR(tg_custom(NULL, NULL, 1, &x), tape, TG_ERR_NULL, "custom: def is NULL");
    tg_tape_reset(tape);
    x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
    CHECK(tg_custom(&CUBE, &scale, 0, &x) == NULL && tg_tape_ok(tape), "no inputs: no tape, nothing kept");
    static const tg_custom_def REFUSE = {.name = "refuse", .forward = refuse_fwd};
    CHECK_ERR(tg_custom(&REFUSE, NULL, 1, &x), tape, TG_ERR_ARG, "refuse: x must be positive, got -1");
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2}));
    static const tg_custom_def LATE = {.name = "late", .forward = cube_fwd, .backward = save_late};
    CHECK(tg_backward(tg_sum(tg_custom(&LATE, &scale, 1, &x))) == TG_ERR_STATE &&
              strstr(tg_tape_error(tape), "late: tg_custom_save is for the forward only"),
          "save in the backward: %s", tg_tape_error(tape));
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2}));
    static const tg_custom_def WRONG = {.name = "wrong", .forward = cube_fwd,
                                        .graph_backward = wrong_shape_graph};
    CHECK(tg_backward(tg_sum(tg_custom(&WRONG, &scale, 1, &x))) == TG_ERR_SHAPE &&
              strstr(tg_tape_error(tape), "wrong: graph_backward for input 1 gave f64 []; input 1 is f64 [2]"),
          "graph backward of the wrong shape: %s", tg_tape_error(tape));
    tg_tape_free(tape);
}

/* A right fast backward with a wrong graph one: the graph check catches it. */
static tg_tensor *half_graph(tg_custom_call *c, int i, tg_tensor *const *in, tg_tensor *out,
                             tg_tensor *g) {
    (void)c, (void)i, (void)out;
    return tg_mul(g, in[0]); /* should be 2 g a */
}
static bool good_bwd(tg_custom_call *c, int n, const tg_buf *in, const tg_buf *out,
                     const tg_buf *gout, tg_buf *gin) {
    (void)c, (void)n, (void)out;
    for (int64_t k = 0; k < gout->numel; k++)
        ((double *)gin[0].data)[k] += 2 * ((const double *)gout->data)[k] * ((const double *)in[0].data)[k];
    return true;
}
static const tg_custom_def BAD_GRAPH = {.name = "bad_graph", .forward = bad_op_fwd,
                                        .backward = good_bwd, .graph_backward = half_graph};

static tg_tensor *f_badop(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t;
    return tg_custom(ud, NULL, 1, &x[0]);
}

static void test_gradcheck_catches(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){0.5, -1.5, 2});
    tg_gradcheck_report rep;
    tg_gradcheck_opts fast = {0}, graph = {.graph = true};
    CHECK(!tg_gradcheck(f_badop, (void *)&bad_op_def, 1, &x, &fast, &rep),
          "a wrong fast backward is caught");
    CHECK(tg_gradcheck(f_badop, (void *)&BAD_GRAPH, 1, &x, &fast, &rep), "right fast one: %s", rep.msg);
    CHECK(!tg_gradcheck(f_badop, (void *)&BAD_GRAPH, 1, &x, &graph, &rep),
          "a wrong graph backward is caught");
    CHECK_OK(tape);
    tg_tape_free(tape);
}

int main(void) {
    test_values();
    test_gradients();
    test_params_and_graph();
    test_errors();
    test_gradcheck_catches();
    return TEST_DONE("custom");
}
