/* test_sizes.c - tensors with no elements beside huge axes ([0, 2^62],
 * [0, 2^62, 2], [2^62, 4, 0], an empty batch of 2^40 x 2^40 images)
 * through every op family, forward and backward (the fast sweep and the
 * recorded one): each gives an empty result of the right shape, zero
 * gradients and a fine tape, and allocates nothing absurd. Shapes whose
 * size genuinely does not fit (a non-empty [5, 2^62, 2], an axis longer
 * than INT64_MAX) give an error with a sentence, never undefined
 * behaviour: run under -Db_sanitize=address,undefined, where a product
 * of dims that overflows is reported.
 * An argument runs only the sections whose name contains it. */
#include "tg_test.h"

static const int64_t G62 = (int64_t)1 << 62, G40 = (int64_t)1 << 40;
static tg_tape *T;

/* f32 leaves that require grad: zeros, or ones (for values to check). */
static tg_tensor *leaf(int rank, const int64_t *shape) {
    return tg_requires_grad(tg_zeros(T, TG_F32, rank, shape));
}
static tg_tensor *leaf1(int rank, const int64_t *shape) {
    return tg_requires_grad(tg_ones(T, TG_F32, rank, shape));
}

static bool shape_is(const tg_tensor *t, int rank, const int64_t *shape) {
    if (!t || tg_tensor_rank(t) != rank) return false;
    for (int d = 0; d < rank; d++)
        if (tg_tensor_dim(t, d) != shape[d]) return false;
    return true;
}

/* t is a tensor of this shape and the tape is fine. */
#define SHAPE_IS(what, t, ...)                                                 \
    do {                                                                       \
        char b_[160];                                                          \
        const int64_t s_[] = {__VA_ARGS__};                                    \
        CHECK(shape_is((t), (int)(sizeof s_ / sizeof s_[0]), s_),              \
              "%s: shape %s (tape: %s)", (what), tg_tensor_shape_str((t), b_, sizeof b_), \
              tg_tape_error(T));                                               \
        CHECK_OK(T);                                                           \
    } while (0)

/* r is NULL, and the tape's error has status s and mentions needle; then
 * the tape is reset. */
#define FAILS(what, r, s, needle)                                              \
    do {                                                                       \
        tg_tensor *r_ = (r);                                                   \
        CHECK(r_ == NULL, "%s: expected an error", (what));                    \
        CHECK(tg_tape_status(T) == (s), "%s: status %s, expected %s (%s)", (what), \
              tg_status_name(tg_tape_status(T)), tg_status_name(s), tg_tape_error(T)); \
        CHECK(strstr(tg_tape_error(T), (needle)) != NULL,                      \
              "%s: error \"%s\" does not mention \"%s\"", (what), tg_tape_error(T), (needle)); \
        tg_tape_reset(T);                                                      \
    } while (0)

/* Every element of g is `v`. */
static bool all_are(const tg_tensor *g, double v) {
    int64_t n = tg_tensor_numel(g);
    for (int64_t k = 0; k < n; k++)
        if (tg_tensor_get(g, k) != v) return false;
    return n >= 0;
}

/* Backward of sum(y) both ways: tg_backward (the fast sweep), then (if
 * graph) tg_grad with TG_CREATE_GRAPH (the recorded sweep, through each
 * op's vjp). Each input's gradient has its shape and every element `v`. */
static void back_to(const char *what, tg_tensor *y, int n, tg_tensor *const *xs, double v,
                    bool graph) {
    CHECK(y != NULL, "%s: no output (%s)", what, tg_tape_error(T));
    if (!y) return;
    tg_tensor *s = tg_sum(y);
    CHECK(tg_backward(s) == TG_OK, "%s: backward: %s", what, tg_tape_error(T));
    tg_tensor *gs[8] = {0};
    CHECK(!graph || tg_grad(s, NULL, n, xs, gs, TG_CREATE_GRAPH) == TG_OK,
          "%s: create-graph grad: %s", what, tg_tape_error(T));
    for (int i = 0; i < n; i++) {
        tg_tensor *g = tg_tensor_grad(xs[i]);
        char b0[160], b1[160];
        const int64_t *xsh = tg_tensor_shape(xs[i]);
        int r = tg_tensor_rank(xs[i]);
        CHECK(g && shape_is(g, r, xsh) && all_are(g, v), "%s: gradient %d is %s, %s (x %s)",
              what, i, tg_tensor_shape_str(g, b0, sizeof b0), g ? "values" : "missing",
              tg_tensor_shape_str(xs[i], b1, sizeof b1));
        CHECK(!graph || (gs[i] && shape_is(gs[i], r, xsh) && all_are(gs[i], v)),
              "%s: create-graph gradient %d is %s (x %s)", what, i,
              tg_tensor_shape_str(gs[i], b0, sizeof b0), tg_tensor_shape_str(xs[i], b1, sizeof b1));
    }
    CHECK_OK(T);
}
#define NARGS(...) (int)(sizeof((tg_tensor *[]){__VA_ARGS__}) / sizeof(tg_tensor *))
#define BACK(what, y, v, ...)                                                  \
    back_to((what), (y), NARGS(__VA_ARGS__), (tg_tensor *[]){__VA_ARGS__}, (v), true)
#define BACK_FAST(what, y, v, ...)                                             \
    back_to((what), (y), NARGS(__VA_ARGS__), (tg_tensor *[]){__VA_ARGS__}, (v), false)

/* ------------------------------------------------------------- sections */

static void creation(void) {
    tg_tensor *z = tg_zeros(T, TG_F32, TG_SHAPE(G62, G62, 0));
    SHAPE_IS("zeros [2^62, 2^62, 0]", z, G62, G62, 0);
    CHECK(tg_tensor_numel(z) == 0, "numel %lld", (long long)tg_tensor_numel(z));
    z = tg_full(T, TG_F64, TG_SHAPE(G62, 4, 0), 2.0);
    SHAPE_IS("full [2^62, 4, 0]", z, G62, 4, 0);
    CHECK(tg_tensor_numel(z) == 0, "numel %lld", (long long)tg_tensor_numel(z));
    z = tg_zeros(T, TG_I64, TG_SHAPE(INT64_MAX, INT64_MAX, INT64_MAX, 0));
    SHAPE_IS("zeros [max, max, max, 0]", z, INT64_MAX, INT64_MAX, INT64_MAX, 0);
    tg_tape_reset(T);
    /* a parameter with no elements: on a tape, in a sum, a zero gradient */
    tg_tensor *p = tg_param_new(TG_F32, TG_SHAPE(G62, 4, 0));
    CHECK(p != NULL, "param [2^62, 4, 0]");
    if (p) {
        tg_tensor *s = tg_sum(tg_param_on(T, p));
        CHECK(s && tg_backward(s) == TG_OK && tg_item(s) == 0, "sum of the parameter: %s",
              tg_tape_error(T));
        CHECK(tg_tensor_numel(p) == 0, "param numel");
        tg_tape_reset(T);
        tg_param_free(p);
    }
    /* a negative dimension is an error wherever it is */
    FAILS("zeros [2^62, 2^62, -1]", tg_zeros(T, TG_F32, TG_SHAPE(G62, G62, -1)), TG_ERR_SHAPE,
          "negative dimension");
    FAILS("zeros [0, -1]", tg_zeros(T, TG_F32, TG_SHAPE(0, -1)), TG_ERR_SHAPE, "negative");
}

static void shapes(void) {
    tg_tensor *x = leaf(TG_SHAPE(0, G62, 2));
    tg_tensor *y = tg_transpose(x, 0, 2);
    SHAPE_IS("transpose", y, 2, G62, 0);
    BACK("transpose", y, 0, x);
    y = tg_permute(x, 3, (const int[]){1, 2, 0});
    SHAPE_IS("permute", y, G62, 2, 0);
    BACK("permute", y, 0, x);
    y = tg_reshape(x, TG_SHAPE(G62, G62, 0));
    SHAPE_IS("reshape to [2^62, 2^62, 0]", y, G62, G62, 0);
    BACK("reshape", y, 0, x);
    y = tg_reshape(x, TG_SHAPE(-1, 2));
    SHAPE_IS("reshape to [-1, 2]", y, 0, 2);
    y = tg_flatten(x, 0, 1);
    SHAPE_IS("flatten 0..1", y, 0, 2);
    y = tg_unsqueeze(x, 1);
    SHAPE_IS("unsqueeze", y, 0, 1, G62, 2);
    BACK("unsqueeze", tg_squeeze(y, 1), 0, x);
    y = tg_cast(x, TG_F64);
    SHAPE_IS("cast", y, 0, G62, 2);
    BACK("cast", y, 0, x);
    FAILS("reshape to [0, -1]", tg_reshape(x, TG_SHAPE(0, -1)), TG_ERR_SHAPE, "reshape");
    x = leaf(TG_SHAPE(0, G62, 2));
    FAILS("flatten 1..2 of [0, 2^62, 2]", tg_flatten(x, 1, 2), TG_ERR_OVERFLOW, "flatten");
    x = leaf(TG_SHAPE(G62, 4, 0));
    FAILS("flatten 0..1 of [2^62, 4, 0]", tg_flatten(x, 0, 1), TG_ERR_OVERFLOW, "flatten");

    /* expand, broadcast_to, sum_to and broadcasting binary ops */
    tg_tensor *a = leaf1(TG_SHAPE(1, 1));
    y = tg_expand(a, TG_SHAPE(0, G62, 2));
    SHAPE_IS("expand", y, 0, G62, 2);
    BACK("expand", y, 0, a);
    tg_tensor *s = tg_sum_to(y, TG_SHAPE(1, 1));
    SHAPE_IS("sum_to", s, 1, 1);
    CHECK(all_are(s, 0), "sum_to of nothing is 0");
    y = tg_broadcast_to(a, TG_SHAPE(G62, G62, 0));
    SHAPE_IS("broadcast_to", y, G62, G62, 0);
    BACK("broadcast_to", y, 0, a);
    x = leaf(TG_SHAPE(0, G62, 2));
    tg_tensor *b = leaf1(TG_SHAPE(2));
    y = tg_add(x, b);
    SHAPE_IS("add", y, 0, G62, 2);
    BACK("add", y, 0, x, b);
    y = tg_mul(tg_exp(x), b);
    SHAPE_IS("exp, mul", y, 0, G62, 2);
    BACK("exp, mul", y, 0, x, b);
    y = tg_maximum(x, b);
    SHAPE_IS("maximum", y, 0, G62, 2);
    BACK("maximum", y, 0, x, b);
    y = tg_where(tg_gt(x, b), x, b);
    SHAPE_IS("where", y, 0, G62, 2);
    BACK("where", y, 0, x, b);
    tg_tape_reset(T);
}

static void join(void) {
    tg_tensor *a = leaf(TG_SHAPE(0, G62)), *b = leaf(TG_SHAPE(0, G62));
    tg_tensor *y = tg_concat(2, (tg_tensor *[]){a, b}, 0);
    SHAPE_IS("concat axis 0", y, 0, G62);
    BACK("concat axis 0", y, 0, a, b);
    y = tg_stack(2, (tg_tensor *[]){a, b}, 0);
    SHAPE_IS("stack axis 0", y, 2, 0, G62);
    BACK("stack axis 0", y, 0, a, b);
    y = tg_stack(2, (tg_tensor *[]){a, b}, 1);
    SHAPE_IS("stack axis 1", y, 0, 2, G62);
    BACK("stack axis 1", y, 0, a, b);
    y = tg_stack(2, (tg_tensor *[]){a, b}, -1);
    SHAPE_IS("stack axis -1", y, 0, G62, 2);
    BACK("stack axis -1", y, 0, a, b);
    tg_tensor *many[20];
    for (int i = 0; i < 20; i++) many[i] = a;
    y = tg_concat(20, many, 0);
    SHAPE_IS("concat of 20", y, 0, G62);
    BACK("concat of 20", y, 0, a);
    FAILS("concat axis 1 of [0, 2^62] x 2", tg_concat(2, (tg_tensor *[]){a, b}, 1),
          TG_ERR_OVERFLOW, "concat");

    tg_tensor *c = leaf(TG_SHAPE(0, G62, 2)), *d = leaf(TG_SHAPE(0, G62, 2));
    y = tg_concat(2, (tg_tensor *[]){c, d}, 0);
    SHAPE_IS("concat of [0, 2^62, 2]", y, 0, G62, 2);
    BACK("concat of [0, 2^62, 2]", y, 0, c, d);
    y = tg_stack(2, (tg_tensor *[]){c, d}, 1);
    SHAPE_IS("stack of [0, 2^62, 2]", y, 0, 2, G62, 2);
    BACK("stack of [0, 2^62, 2]", y, 0, c, d);
    /* an empty piece beside a full one */
    tg_tensor *e = leaf(TG_SHAPE(3, 0)), *f = leaf1(TG_SHAPE(3, 2));
    y = tg_concat(2, (tg_tensor *[]){e, f}, 1);
    SHAPE_IS("concat [3,0] and [3,2]", y, 3, 2);
    CHECK(all_are(y, 1), "concat values");
    BACK("concat [3,0] and [3,2]", y, 1, e, f);
    tg_tape_reset(T);

    /* split and chunk of an axis of INT64_MAX */
    tg_tensor *x = leaf(TG_SHAPE(0, INT64_MAX)), *outs[3];
    CHECK(tg_split(x, 1, 2, (const int64_t[]){INT64_MAX, INT64_MAX}, outs) == -1,
          "split sizes past the axis");
    CHECK(tg_tape_status(T) == TG_ERR_SHAPE && strstr(tg_tape_error(T), "do not add up"),
          "split: %s", tg_tape_error(T));
    tg_tape_reset(T);
    x = leaf(TG_SHAPE(0, INT64_MAX));
    CHECK(tg_split(x, 1, 2, (const int64_t[]){INT64_MAX - 5, 5}, outs) == 2, "split: %s",
          tg_tape_error(T));
    SHAPE_IS("split piece 0", outs[0], 0, INT64_MAX - 5);
    SHAPE_IS("split piece 1", outs[1], 0, 5);
    int n = tg_chunk(x, 1, 3, outs);
    CHECK(n == 3, "chunk of INT64_MAX in 3: %d (%s)", n, tg_tape_error(T));
    const int64_t third = INT64_MAX / 3 + 1; /* ceil: INT64_MAX % 3 == 1 */
    if (n == 3) {
        SHAPE_IS("chunk 0", outs[0], 0, third);
        SHAPE_IS("chunk 1", outs[1], 0, third);
        SHAPE_IS("chunk 2", outs[2], 0, INT64_MAX - 2 * third);
    }
    BACK("chunk", outs[2], 0, x);
    tg_tape_reset(T);
}

static void slice_pad_repeat(void) {
    tg_tensor *x = leaf(TG_SHAPE(0, G62, 2));
    tg_tensor *y = tg_slice(x, 0, 0, 10, 1);
    SHAPE_IS("slice axis 0", y, 0, G62, 2);
    BACK("slice axis 0", y, 0, x);
    y = tg_slice(x, 1, 5, 100, 7);
    SHAPE_IS("slice axis 1 step 7", y, 0, 14, 2);
    BACK("slice axis 1 step 7", y, 0, x);
    y = tg_slice(x, 2, 1, 2, 1);
    SHAPE_IS("slice axis 2", y, 0, G62, 1);
    BACK("slice axis 2", y, 0, x);

    y = tg_pad(x, 1, (const int64_t[]){1, 1}, 5.0);
    SHAPE_IS("pad the last axis", y, 0, G62, 4);
    BACK("pad", y, 0, x);
    y = tg_pad(x, 2, (const int64_t[]){0, 0, -G62, 0}, 0.0);
    SHAPE_IS("pad cropping", y, 0, 0, 2);
    BACK("pad cropping", y, 0, x);

    y = tg_repeat(x, 3, (const int64_t[]){3, 1, 1});
    SHAPE_IS("repeat", y, 0, G62, 2);
    BACK("repeat", y, 0, x);
    y = tg_repeat(x, 4, (const int64_t[]){5, 7, 1, 1});
    SHAPE_IS("repeat to rank 4", y, 5, 0, G62, 2);
    BACK("repeat to rank 4", y, 0, x);
    tg_tape_reset(T);

    /* [2^62, 0, 2^62]: rows of nothing, many of them */
    x = leaf(TG_SHAPE(G62, 0, G62));
    y = tg_slice(x, 0, 0, G62, 2);
    SHAPE_IS("slice step 2 of [2^62, 0, 2^62]", y, G62 / 2, 0, G62);
    BACK("slice step 2 of [2^62, 0, 2^62]", y, 0, x);
    y = tg_slice(x, 2, 1, G62, 3);
    SHAPE_IS("slice axis 2 step 3", y, G62, 0, (G62 - 2) / 3 + 1);
    BACK("slice axis 2 step 3", y, 0, x);
    tg_tape_reset(T);
}

static void reduce(void) {
    tg_tensor *x = leaf(TG_SHAPE(G62, 4, 0));
    tg_tensor *y = tg_sum(x);
    CHECK(y && tg_tensor_rank(y) == 0 && tg_item(y) == 0, "sum of [2^62, 4, 0]: %s",
          tg_tape_error(T));
    BACK("sum", y, 0, x);
    y = tg_mean(x);
    CHECK(y && isnan(tg_item(y)), "mean of nothing is NaN: %s", tg_tape_error(T));
    y = tg_mean_axes(x, 2, (const int[]){0, 1}, false);
    SHAPE_IS("mean over 0, 1", y, 0);
    BACK("mean over 0, 1", y, 0, x);
    y = tg_sum_axis(x, 0, true);
    SHAPE_IS("sum over 0", y, 1, 4, 0);
    BACK("sum over 0", y, 0, x);
    y = tg_var(x, 2, (const int[]){0, 1}, 1, false);
    SHAPE_IS("var over 0, 1", y, 0);
    BACK("var", y, 0, x);
    y = tg_std(x, 2, (const int[]){0, 1}, 1, true);
    SHAPE_IS("std over 0, 1", y, 1, 1, 0);
    BACK("std", y, 0, x);
    y = tg_norm(x, 2, 2, (const int[]){0, 1}, false);
    SHAPE_IS("norm over 0, 1", y, 0);
    BACK("norm", y, 0, x);
    y = tg_prod(x, 2, (const int[]){0, 1}, false);
    SHAPE_IS("prod over 0, 1", y, 0);
    BACK("prod", y, 0, x);
    y = tg_amax(x, 1, (const int[]){0}, false);
    SHAPE_IS("amax over 0", y, 4, 0);
    BACK("amax", y, 0, x);
    y = tg_logsumexp(x, 2, (const int[]){0, 1}, false);
    SHAPE_IS("logsumexp over 0, 1", y, 0);
    BACK("logsumexp", y, 0, x);
    FAILS("sum over 2 of [2^62, 4, 0]", tg_sum_axis(x, 2, false), TG_ERR_OVERFLOW,
          "more elements than fit");
    x = leaf(TG_SHAPE(G62, G62, 3, 0));
    y = tg_argmax(x, 2, false);
    SHAPE_IS("argmax", y, G62, G62, 0);
    y = tg_argmin(x, -2, true);
    SHAPE_IS("argmin", y, G62, G62, 1, 0);
    tg_tape_reset(T);

    /* reductions over an empty axis into a result with elements */
    x = leaf(TG_SHAPE(3, 0));
    y = tg_sum_axis(x, 1, false);
    SHAPE_IS("sum over an empty axis", y, 3);
    CHECK(all_are(y, 0), "sum of nothing");
    BACK("sum over an empty axis", y, 0, x);
    y = tg_prod(x, 1, (const int[]){1}, false);
    CHECK(shape_is(y, 1, (const int64_t[]){3}) && all_are(y, 1), "prod of nothing is 1");
    y = tg_logsumexp(x, 1, (const int[]){1}, false);
    CHECK(shape_is(y, 1, (const int64_t[]){3}) && all_are(y, -INFINITY),
          "logsumexp of nothing is -inf");
    FAILS("amax over an empty axis", tg_amax(x, 1, (const int[]){1}, false), TG_ERR_SHAPE, "empty");
}

static void linalg(void) {
    tg_tensor *a = leaf(TG_SHAPE(0, 5)), *b = leaf1(TG_SHAPE(5, 3));
    tg_tensor *y = tg_matmul(a, b);
    SHAPE_IS("[0,5] @ [5,3]", y, 0, 3);
    BACK("[0,5] @ [5,3]", y, 0, a, b);
    a = leaf(TG_SHAPE(3, 0)), b = leaf(TG_SHAPE(0, 4));
    y = tg_matmul(a, b);
    SHAPE_IS("[3,0] @ [0,4]", y, 3, 4);
    CHECK(all_are(y, 0), "an empty sum is 0");
    BACK("[3,0] @ [0,4]", y, 0, a, b);
    a = leaf1(TG_SHAPE(3, 5)), b = leaf1(TG_SHAPE(5, 0));
    y = tg_matmul(a, b);
    SHAPE_IS("[3,5] @ [5,0]", y, 3, 0);
    BACK("[3,5] @ [5,0]", y, 0, a, b);
    a = leaf(TG_SHAPE(G62, 4, 0, 5)), b = leaf1(TG_SHAPE(5, 3));
    y = tg_matmul(a, b);
    SHAPE_IS("[2^62,4,0,5] @ [5,3]", y, G62, 4, 0, 3);
    BACK("[2^62,4,0,5] @ [5,3]", y, 0, a, b);
    y = tg_matmul_t(b, a, true, true);
    SHAPE_IS("[5,3]^T @ [2^62,4,0,5]^T", y, G62, 4, 3, 0);
    BACK("matmul_t", y, 0, a, b);
    a = leaf(TG_SHAPE(0)), b = leaf(TG_SHAPE(0));
    y = tg_matmul(a, b);
    CHECK(y && tg_tensor_rank(y) == 0 && tg_item(y) == 0, "[0] @ [0]: %s", tg_tape_error(T));
    BACK("[0] @ [0]", y, 0, a, b);
    tg_tape_reset(T);

    tg_tensor *x = leaf(TG_SHAPE(G62, 4, 0)), *w = leaf(TG_SHAPE(0, 0)), *bias = leaf(TG_SHAPE(0));
    for (int act = TG_ACT_NONE; act <= TG_ACT_LEAKY_RELU; act++) {
        y = tg_linear_act(x, w, bias, (tg_act)act);
        SHAPE_IS("linear of [2^62, 4, 0]", y, G62, 4, 0);
        BACK("linear of [2^62, 4, 0]", y, 0, x, w, bias);
    }
    x = leaf1(TG_SHAPE(3, 5)), w = leaf1(TG_SHAPE(0, 5));
    y = tg_linear_act(x, w, NULL, TG_ACT_GELU);
    SHAPE_IS("linear to no features", y, 3, 0);
    BACK("linear to no features", y, 0, x, w);
    x = leaf1(TG_SHAPE(0, 5)), w = leaf1(TG_SHAPE(4, 5)), bias = leaf1(TG_SHAPE(4));
    y = tg_linear_act(x, w, bias, TG_ACT_TANH);
    SHAPE_IS("linear of no rows", y, 0, 4);
    BACK("linear of no rows", y, 0, x, w, bias);
    tg_tape_reset(T);
}

static void conv(void) {
    /* the case: an empty batch of big images */
    tg_tensor *x = leaf(TG_SHAPE(0, 3, G40, G40)), *w = leaf1(TG_SHAPE(4, 3, 3, 3));
    tg_tensor *b = leaf1(TG_SHAPE(4));
    tg_tensor *y = tg_conv2d(x, w, b, NULL);
    SHAPE_IS("conv2d of an empty batch", y, 0, 4, G40 - 2, G40 - 2);
    BACK("conv2d of an empty batch", y, 0, x, w, b);
    tg_conv_opts o = {{2, 3}, {1, 0}, {2, 1}, 1};
    y = tg_conv2d(x, w, b, &o);
    SHAPE_IS("conv2d of an empty batch, options", y, 0, 4, (G40 + 2 - 5) / 2 + 1, (G40 - 3) / 3 + 1);
    BACK("conv2d of an empty batch, options", y, 0, x, w, b);
    x = leaf(TG_SHAPE(0, 2, G62));
    w = leaf1(TG_SHAPE(3, 2, 5));
    y = tg_conv1d(x, w, NULL, NULL);
    SHAPE_IS("conv1d of an empty batch", y, 0, 3, G62 - 4);
    BACK("conv1d of an empty batch", y, 0, x, w);
    tg_tape_reset(T);

    /* no output channels, no input channels */
    x = leaf1(TG_SHAPE(2, 3, 5, 5)), w = leaf1(TG_SHAPE(0, 3, 3, 3));
    y = tg_conv2d(x, w, NULL, NULL);
    SHAPE_IS("conv2d to no channels", y, 2, 0, 3, 3);
    BACK("conv2d to no channels", y, 0, x, w);
    x = leaf1(TG_SHAPE(2, 0, 5, 5)), w = leaf1(TG_SHAPE(4, 0, 3, 3)), b = leaf1(TG_SHAPE(4));
    y = tg_conv2d(x, w, b, NULL);
    SHAPE_IS("conv2d of no channels", y, 2, 4, 3, 3);
    CHECK(all_are(y, 1), "conv2d of no channels is the bias");
    CHECK(y && tg_backward(tg_sum(y)) == TG_OK, "backward: %s", tg_tape_error(T));
    tg_tensor *gb = tg_tensor_grad(b);
    CHECK(gb && all_are(gb, 18), "the bias gets 2 * 3 * 3 per channel");
    CHECK(shape_is(tg_tensor_grad(w), 4, (const int64_t[]){4, 0, 3, 3}), "d w is empty");
    tg_tape_reset(T);
    /* no input channels, and planes and kernels whose sizes do not multiply */
    x = leaf1(TG_SHAPE(2, 0, G40, G40)), w = leaf1(TG_SHAPE(4, 0, G40, G40));
    b = leaf1(TG_SHAPE(4));
    y = tg_conv2d(x, w, b, NULL);
    SHAPE_IS("conv2d of no channels, 2^40 x 2^40", y, 2, 4, 1, 1);
    CHECK(all_are(y, 1), "conv2d of no channels, 2^40 x 2^40, is the bias");
    BACK("conv2d of no channels, 2^40 x 2^40", y, 0, x, w);
    tg_tape_reset(T);

    /* geometry past INT64_MAX: errors with a sentence */
    x = leaf(TG_SHAPE(0, 1, INT64_MAX, 1)), w = leaf1(TG_SHAPE(1, 1, 1, 1));
    o = (tg_conv_opts){{0, 0}, {1, 0}, {0, 0}, 0};
    FAILS("conv2d padded rows past INT64_MAX", tg_conv2d(x, w, NULL, &o), TG_ERR_OVERFLOW,
          "conv2d: the padded input");
    x = leaf(TG_SHAPE(0, 4, 1, 1)), w = leaf(TG_SHAPE(0, G62, 1, 1));
    o = (tg_conv_opts){{0, 0}, {0, 0}, {0, 0}, 4};
    FAILS("conv2d weight channels x groups", tg_conv2d(x, w, NULL, &o), TG_ERR_SHAPE,
          "channels");
    x = leaf(TG_SHAPE(0, 1, 5, 5)), w = leaf(TG_SHAPE(0, 1, G62, 1));
    o = (tg_conv_opts){{0, 0}, {0, 0}, {4, 1}, 0};
    FAILS("conv2d dilated kernel", tg_conv2d(x, w, NULL, &o), TG_ERR_SHAPE, "bigger than");
}

static void pool(void) {
    tg_tensor *x = leaf(TG_SHAPE(0, 3, G40, G40));
    tg_pool_opts o = {{2, 2}, {0, 0}, {0, 0}, false};
    tg_tensor *y = tg_max_pool2d(x, &o);
    SHAPE_IS("max_pool2d of an empty batch", y, 0, 3, G40 / 2, G40 / 2);
    BACK("max_pool2d of an empty batch", y, 0, x);
    y = tg_avg_pool2d(x, &o);
    SHAPE_IS("avg_pool2d of an empty batch", y, 0, 3, G40 / 2, G40 / 2);
    BACK("avg_pool2d of an empty batch", y, 0, x);
    x = leaf(TG_SHAPE(0, G40, 2 * G40)); /* [C, H, W] */
    y = tg_max_pool2d(x, &o);
    SHAPE_IS("max_pool2d of [0, 2^40, 2^41]", y, 0, G40 / 2, G40);
    tg_tape_reset(T);
    x = leaf(TG_SHAPE(0, 1, INT64_MAX, 1));
    o = (tg_pool_opts){{2, 1}, {0, 0}, {1, 0}, false};
    y = tg_avg_pool2d(x, &o);
    SHAPE_IS("avg_pool2d of INT64_MAX rows", y, 0, 1, INT64_MAX / 2 + 1, 1);
    BACK("avg_pool2d of INT64_MAX rows", y, 0, x);
    o.stride[0] = 1;
    FAILS("pool output rows past INT64_MAX", tg_max_pool2d(x, &o), TG_ERR_OVERFLOW, "max_pool2d");
    x = leaf(TG_SHAPE(G62, G62, 0, 1));
    o = (tg_pool_opts){{1, 1}, {0, 0}, {0, 0}, false};
    FAILS("pool of empty planes", tg_max_pool2d(x, &o), TG_ERR_SHAPE, "max_pool2d");
}

static void indexing(void) {
    tg_tensor *x = leaf(TG_SHAPE(0, G62, 2));
    tg_tensor *none = tg_zeros(T, TG_I64, TG_SHAPE(0));
    tg_tensor *y = tg_index_select(x, 0, none);
    SHAPE_IS("index_select axis 0", y, 0, G62, 2);
    BACK("index_select axis 0", y, 0, x);
    y = tg_index_select(x, 1, tg_full(T, TG_I64, TG_SHAPE(3), 7));
    SHAPE_IS("index_select axis 1", y, 0, 3, 2);
    BACK("index_select axis 1", y, 0, x);
    y = tg_gather(x, 0, tg_zeros(T, TG_I64, TG_SHAPE(0, 3, 2)));
    SHAPE_IS("gather", y, 0, 3, 2);
    BACK("gather", y, 0, x);
    y = tg_masked_fill(x, tg_ones(T, TG_F32, TG_SHAPE(2)), 3.0);
    SHAPE_IS("masked_fill", y, 0, G62, 2);
    BACK("masked_fill", y, 0, x);
    tg_tensor *wt = leaf(TG_SHAPE(0, G62));
    y = tg_embedding(wt, tg_zeros(T, TG_I64, TG_SHAPE(0, 5)));
    SHAPE_IS("embedding", y, 0, 5, G62);
    BACK("embedding", y, 0, wt);
    y = tg_one_hot(tg_zeros(T, TG_I64, TG_SHAPE(0, G62)), 5, TG_F32);
    SHAPE_IS("one_hot", y, 0, G62, 5);
    tg_tensor *label = tg_tensor_new(T, TG_I64, TG_SHAPE(1), (const int64_t[]){INT64_MAX});
    FAILS("one_hot of label INT64_MAX", tg_one_hot(label, -1, TG_F32), TG_ERR_OVERFLOW, "one_hot");
    /* rows of nothing, many of them */
    x = leaf(TG_SHAPE(G62, 0));
    y = tg_index_select(x, 1, tg_zeros(T, TG_I64, TG_SHAPE(0)));
    SHAPE_IS("index_select of [2^62, 0]", y, G62, 0);
    BACK("index_select of [2^62, 0]", y, 0, x);
    tg_tape_reset(T);
}

/* Over every axis, with the recorded backward too (whose row sums over
 * axis 0 would be a [1, 2^62, 2] that does not fit). */
static void softmax(void) {
    tg_tensor *x = leaf(TG_SHAPE(0, G62, 2));
    for (int ax = 0; ax < 3; ax++) {
        tg_tensor *y = tg_softmax(x, ax);
        SHAPE_IS("softmax", y, 0, G62, 2);
        BACK("softmax", y, 0, x);
        y = tg_log_softmax(x, ax);
        SHAPE_IS("log_softmax", y, 0, G62, 2);
        BACK("log_softmax", y, 0, x);
    }
    tg_tape_reset(T);
}

/* Layer norm over two axes whose product overflows, and batch norm with
 * no channels beside huge batch and spatial axes: empty results, no
 * overflow, and no loop over the 2^62 empty batch entries. */
static void norm(void) {
    tg_tensor *x = leaf(TG_SHAPE(0, G62, 4));
    tg_tensor *y = tg_layer_norm(x, 2, NULL, NULL, 1e-5);
    SHAPE_IS("layer_norm", y, 0, G62, 4);
    BACK_FAST("layer_norm", y, 0, x);
    x = leaf(TG_SHAPE(G62, 0, 4));
    y = tg_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5);
    SHAPE_IS("batch_norm", y, G62, 0, 4);
    BACK_FAST("batch_norm", y, 0, x);
    tg_tape_reset(T);
}

/* Shapes that genuinely do not fit: an error with a sentence. */
static void too_large(void) {
    FAILS("zeros [2^62, 4]", tg_zeros(T, TG_F32, TG_SHAPE(G62, 4)), TG_ERR_OVERFLOW,
          "more elements than fit");
    FAILS("zeros [max, max, 2]", tg_zeros(T, TG_F32, TG_SHAPE(INT64_MAX, INT64_MAX, 2)),
          TG_ERR_OVERFLOW, "more elements than fit");
    FAILS("expand to [2^40, 2^40]", tg_expand(leaf(TG_SHAPE(1, 1)), TG_SHAPE(G40, G40)),
          TG_ERR_OVERFLOW, "expand");
    tg_tensor *x = leaf(TG_SHAPE(0, G62, 2));
    FAILS("pad [0, 2^62, 2] to [5, 2^62, 2]", tg_pad(x, 3, (const int64_t[]){0, 0, 0, 0, 2, 3}, 0),
          TG_ERR_OVERFLOW, "pad");
    x = leaf(TG_SHAPE(0, INT64_MAX - 1));
    FAILS("pad past INT64_MAX", tg_pad(x, 1, (const int64_t[]){1, 1}, 0), TG_ERR_SHAPE, "pad");
    x = leaf(TG_SHAPE(0, G62));
    FAILS("repeat past INT64_MAX", tg_repeat(x, 2, (const int64_t[]){1, 2}), TG_ERR_ARG, "repeat");
    x = leaf1(TG_SHAPE(1, 1, 1, 1));
    tg_conv_opts o = {{0, 0}, {1 << 30, 1 << 30}, {0, 0}, 0};
    FAILS("conv2d output of 2^62 elements", tg_conv2d(x, x, NULL, &o), TG_ERR_OVERFLOW, "conv2d");
    FAILS("broadcast_to [2^62, 4, 3]", tg_broadcast_to(leaf(TG_SHAPE(1)), TG_SHAPE(G62, 4, 3)),
          TG_ERR_OVERFLOW, "broadcast_to");
    CHECK(tg_param_new(TG_F32, TG_SHAPE(G62, G62, 1)) == NULL, "a huge parameter is NULL");
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        void (*fn)(void);
    } sections[] = {{"creation", creation}, {"shapes", shapes},   {"join", join},
                    {"slice_pad_repeat", slice_pad_repeat},      {"reduce", reduce},
                    {"linalg", linalg},     {"conv", conv},       {"pool", pool},
                    {"indexing", indexing}, {"softmax", softmax}, {"norm", norm},
                    {"too_large", too_large}};
    T = tg_tape_new();
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        if (argc > 1 && !strstr(sections[i].name, argv[1])) continue;
        sections[i].fn();
        tg_tape_reset(T);
    }
    tg_tape_free(T);
    return TEST_DONE("sizes");
}
