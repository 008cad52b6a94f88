/* test_misuse.c - a catalogue of misuses of the public API, one case each:
 * NULL wherever a pointer is taken (ops, nn, optimizers, checkpoints,
 * data), wrong ranks / shapes / axes / dtypes, tensors from another tape or
 * from before a reset, backward of a non-scalar without a seed, backward
 * twice (defined: it accumulates, as retain_graph=True), parameters freed
 * while a tape holds them (the free is deferred to the tape's reset;
 * valgrind and ASan check there is no use-after-free), and shapes whose
 * element count or byte size overflows. Every one must be a clear error:
 * a status and a sentence naming the function, never a crash or UB.
 * Prints the number of cases. */
#include "tg_test.h"

#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TG_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_UNDER_ASAN 1
#endif
#endif
#ifndef TG_UNDER_ASAN
#define TG_UNDER_ASAN 0
#endif

static int cases;
static tg_tape *T;

/* One case on the shared tape: expr must give NULL, status s and an error
 * mentioning needle; then the tape is reset and must be fine again. */
#define ERR(expr, s, needle)                                                   \
    do {                                                                       \
        cases++;                                                               \
        tg_tensor *r_ = (expr);                                                \
        CHECK_ERR(r_, T, s, needle);                                           \
        tg_tape_reset(T);                                                      \
        CHECK_OK(T);                                                           \
    } while (0)

/* A status-returning call and its sentence in tg_last_error() (none on
 * success). */
#define ERRBUF(call, s, needle)                                                \
    do {                                                                       \
        cases++;                                                               \
        const char *err = tg_last_error(); /* the thread's sentence */        \
        tg_clear_error();                                                      \
        tg_status st_ = (call);                                                \
        CHECK(st_ == (s), "%s: status %s, expected %s (%s)", #call,            \
              tg_status_name(st_), tg_status_name(s), err);                    \
        CHECK((s) == TG_OK ? err[0] == 0 : strstr(err, (needle)) != NULL,     \
              "%s: error \"%s\" lacks \"%s\"", #call, tg_last_error(), (needle)); \
    } while (0)

static tg_tensor *f32(int rank, const int64_t *shape) { return tg_ones(T, TG_F32, rank, shape); }
static tg_tensor *f64(int rank, const int64_t *shape) { return tg_ones(T, TG_F64, rank, shape); }

static void null_ops(void) {
    /* every op with all operands NULL: NULL, no crash (no tape to blame) */
    cases++;
    CHECK(!tg_add(NULL, NULL) && !tg_exp(NULL) && !tg_sum(NULL) && !tg_matmul(NULL, NULL) &&
              !tg_reshape(NULL, TG_SHAPE(2)) && !tg_softmax(NULL, 0) && !tg_cast(NULL, TG_F64) &&
              !tg_transpose(NULL, 0, 1) && !tg_mean_axis(NULL, 0, false) && !tg_detach(NULL) &&
              !tg_requires_grad(NULL) && !tg_zeros_like(NULL) && !tg_concat(0, NULL, 0),
          "ops on NULL give NULL");
    /* a NULL operand beside a good one: the error names the op and operand */
    ERR(tg_add(f32(TG_SHAPE(2)), NULL), TG_ERR_NULL, "add: operand 2 is NULL");
    ERR(tg_mul(NULL, f32(TG_SHAPE(2))), TG_ERR_NULL, "mul: operand 1 is NULL");
    ERR(tg_matmul(f32(TG_SHAPE(2, 2)), NULL), TG_ERR_NULL, "matmul");
    ERR(tg_where(NULL, f32(TG_SHAPE(2)), f32(TG_SHAPE(2))), TG_ERR_NULL, "where");
    ERR(tg_clamp_t(NULL, f32(TG_SHAPE(2)), f32(TG_SHAPE(2))), TG_ERR_NULL, "clamp");
    ERR(tg_concat(2, (tg_tensor *[]){f32(TG_SHAPE(2)), NULL}, 0), TG_ERR_NULL, "concat");
    ERR(tg_stack(2, (tg_tensor *[]){NULL, f32(TG_SHAPE(2))}, 0), TG_ERR_NULL, "stack");
    cases++;
    CHECK(tg_concat(1, NULL, 0) == NULL && tg_concat(-1, NULL, 0) == NULL, "concat of no list");
    ERR(tg_index_select(f32(TG_SHAPE(3)), 0, NULL), TG_ERR_NULL, "index_select");
    ERR(tg_masked_fill(f32(TG_SHAPE(3)), NULL, 0), TG_ERR_NULL, "masked_fill");
    ERR(tg_param_on(T, NULL), TG_ERR_NULL, "param_on");
    ERR(tg_tensor_new(T, TG_F32, 2, NULL, NULL), TG_ERR_NULL, "");
    /* creation without a tape */
    cases++;
    CHECK(!tg_zeros(NULL, TG_F32, TG_SHAPE(2)) && !tg_scalar(NULL, 1), "no tape, no tensor");
    /* backward and grad */
    cases++;
    CHECK(tg_backward(NULL) == TG_ERR_NULL, "backward(NULL)");
    cases++;
    CHECK(tg_backward_seed(NULL, NULL) == TG_ERR_NULL, "backward_seed(NULL)");
    {
        cases++;
        tg_tensor *x = tg_requires_grad(f64(TG_SHAPE(2)));
        tg_tensor *l = tg_sum(x);
        CHECK(tg_backward_seed(l, NULL) != TG_OK, "backward_seed with a NULL seed");
        CHECK(!tg_tape_ok(T) && strstr(tg_tape_error(T), "backward"), "error: %s", tg_tape_error(T));
        tg_tape_reset(T);
        cases++;
        x = tg_requires_grad(f64(TG_SHAPE(2)));
        CHECK(tg_grad(tg_sum(x), NULL, 1, (tg_tensor *[]){x}, NULL, 0) != TG_OK, "grad: NULL grads");
        CHECK(strstr(tg_tape_error(T), "grad"), "error: %s", tg_tape_error(T));
        tg_tape_reset(T);
        cases++;
        tg_tensor *g[1];
        x = tg_requires_grad(f64(TG_SHAPE(2)));
        CHECK(tg_grad(tg_sum(x), NULL, 1, NULL, g, 0) != TG_OK, "grad: NULL inputs");
        CHECK(strstr(tg_tape_error(T), "grad"), "error: %s", tg_tape_error(T));
        tg_tape_reset(T);
    }
    /* queries on NULL */
    cases++;
    CHECK(tg_tensor_grad(NULL) == NULL && isnan(tg_item(NULL)) && tg_tensor_numel(NULL) <= 0 &&
              tg_tensor_shape(NULL) == NULL && tg_tensor_data(NULL) == NULL &&
              tg_tensor_tape(NULL) == NULL && tg_tensor_rank(NULL) <= 0 &&
              tg_tensor_dim(NULL, 0) == -1 && isnan(tg_tensor_get(NULL, 0)),
          "queries on NULL");
    cases++;
    CHECK(tg_tape_status(NULL) == TG_ERR_NULL && tg_tape_error(NULL) != NULL && !tg_tape_ok(NULL),
          "tape queries on NULL");
    /* free / reset of NULL: no-ops that touch nothing else (the shared
     * tape keeps its records and values, a live parameter stays one) */
    cases++;
    tg_tensor *keep = f64(TG_SHAPE(3));
    tg_tensor *pk = tg_param_new(TG_F64, TG_SHAPE(2));
    tg_init_constant(pk, 2.0);
    size_t before = tg_tape_count(T);
    tg_tape_reset(NULL);
    tg_tape_free(NULL);
    tg_param_free(NULL);
    tg_zero_grad(NULL);
    tg_tape_set_abort_on_error(NULL, false);
    CHECK(tg_tape_ok(T) && tg_tape_count(T) == before && keep && tg_tensor_get(keep, 2) == 1.0 &&
              tg_tensor_is_param(pk) && tg_tensor_get(pk, 1) == 2.0,
          "free/reset of NULL changed something: tape %s, %zu records (were %zu)",
          tg_tape_error(T), tg_tape_count(T), before);
    tg_param_free(pk);
    tg_tape_reset(T);
}

static void bad_args(void) {
    /* ranks, shapes, axes */
    ERR(tg_matmul(f32(TG_SHAPE(2, 3)), f32(TG_SHAPE(2, 3))), TG_ERR_SHAPE, "matmul");
    ERR(tg_matmul(f32(TG_SHAPE(2)), f32(0, NULL)), TG_ERR_SHAPE, "matmul");
    ERR(tg_add(f32(TG_SHAPE(3)), f32(TG_SHAPE(4))), TG_ERR_SHAPE, "add: shapes do not broadcast");
    ERR(tg_sum_axis(f32(TG_SHAPE(2, 3)), 2, false), TG_ERR_ARG, "sum: axis 2");
    ERR(tg_sum_axis(f32(TG_SHAPE(2, 3)), -3, false), TG_ERR_ARG, "sum");
    ERR(tg_mean_axis(f32(TG_SHAPE(2, 3)), 2, false), TG_ERR_ARG, "mean: axis 2");
    ERR(tg_mean_axes(f32(TG_SHAPE(2, 3)), 2, (int[]){1, -1}, false), TG_ERR_ARG,
        "mean: axis -1 is listed twice");
    /* names "sum" (mean_axes is built on sum_axes) */
    ERR(tg_mean_axes(f32(TG_SHAPE(2, 3)), 2, (int[]){0, 0}, false), TG_ERR_ARG, "axis 0 is listed twice");
    ERR(tg_softmax(f32(TG_SHAPE(2, 3)), 5), TG_ERR_ARG, "softmax");
    ERR(tg_transpose(f32(TG_SHAPE(2, 3, 4)), 0, 3), TG_ERR_ARG, "transpose");
    ERR(tg_permute(f32(TG_SHAPE(2, 3)), 2, (int[]){0, 0}), TG_ERR_ARG, "permute");
    ERR(tg_reshape(f32(TG_SHAPE(2, 3)), TG_SHAPE(4, 2)), TG_ERR_SHAPE, "reshape");
    ERR(tg_reshape(f32(TG_SHAPE(2, 3)), TG_SHAPE(-1, -1)), TG_ERR_SHAPE, "reshape");
    ERR(tg_expand(f32(TG_SHAPE(2, 3)), TG_SHAPE(4, 3)), TG_ERR_SHAPE, "expand");
    ERR(tg_squeeze(f32(TG_SHAPE(2, 3)), 0), TG_ERR_ARG, "squeeze");
    ERR(tg_unsqueeze(f32(TG_SHAPE(2, 3)), 4), TG_ERR_ARG, "unsqueeze");
    ERR(tg_slice(f32(TG_SHAPE(4)), 0, 0, 4, 0), TG_ERR_ARG, "slice");
    ERR(tg_concat(2, (tg_tensor *[]){f32(TG_SHAPE(2, 3)), f32(TG_SHAPE(2, 4))}, 0), TG_ERR_SHAPE,
        "concat");
    ERR(tg_tensor_new(T, TG_F32, TG_MAX_RANK + 1, (int64_t[9]){1, 1, 1, 1, 1, 1, 1, 1, 1}, NULL),
        TG_ERR_ARG, "rank");
    ERR(tg_tensor_new(T, TG_F32, -1, (int64_t[1]){1}, NULL), TG_ERR_ARG, "rank");
    ERR(tg_zeros(T, TG_F32, TG_SHAPE(2, -3)), TG_ERR_SHAPE, "-3");
    ERR(tg_zeros(T, (tg_dtype)7, TG_SHAPE(2)), TG_ERR_DTYPE, "");
    ERR(tg_conv2d(f32(TG_SHAPE(1, 2, 5, 5)), f32(TG_SHAPE(3, 4, 3, 3)), NULL, NULL), TG_ERR_SHAPE,
        "conv2d");
    ERR(tg_index_select(f32(TG_SHAPE(3)), 0, tg_full(T, TG_I64, TG_SHAPE(1), 5)), TG_ERR_ARG,
        "index_select");
    ERR(tg_one_hot(tg_full(T, TG_I64, TG_SHAPE(2), 3), 2, TG_F32), TG_ERR_ARG, "one_hot");
    /* dtypes */
    ERR(tg_add(f32(TG_SHAPE(2)), f64(TG_SHAPE(2))), TG_ERR_DTYPE, "add: dtypes differ");
    ERR(tg_exp(tg_full(T, TG_I64, TG_SHAPE(2), 1)), TG_ERR_DTYPE, "exp");
    ERR(tg_matmul(tg_full(T, TG_I64, TG_SHAPE(2, 2), 1), tg_full(T, TG_I64, TG_SHAPE(2, 2), 1)),
        TG_ERR_DTYPE, "matmul");
    ERR(tg_requires_grad(tg_full(T, TG_I64, TG_SHAPE(2), 1)), TG_ERR_DTYPE, "requires_grad");
    ERR(tg_index_select(f32(TG_SHAPE(3)), 0, f32(TG_SHAPE(1))), TG_ERR_DTYPE, "index_select");
    /* requires_grad on a non-leaf */
    ERR(tg_requires_grad(tg_exp(f64(TG_SHAPE(2)))), TG_ERR_ARG, "requires_grad");
}

static void tapes_and_passes(void) {
    tg_tape *u = tg_tape_new();
    ERR(tg_add(f32(TG_SHAPE(2)), tg_ones(u, TG_F32, TG_SHAPE(2))), TG_ERR_TAPE,
        "add: operand 2 belongs to another tape");
    {
        /* the error goes to the first operand's tape */
        cases++;
        tg_tensor *r = tg_matmul(tg_ones(u, TG_F32, TG_SHAPE(2, 2)), f32(TG_SHAPE(2, 2)));
        CHECK(r == NULL && tg_tape_status(u) == TG_ERR_TAPE && strstr(tg_tape_error(u), "matmul"),
              "matmul across tapes: %s", tg_tape_error(u));
        tg_tape_reset(u);
        tg_tape_reset(T);
    }
    ERR(tg_concat(2, (tg_tensor *[]){f32(TG_SHAPE(2)), tg_ones(u, TG_F32, TG_SHAPE(2))}, 0),
        TG_ERR_TAPE, "concat");
    CHECK(tg_tape_ok(u), "the other tape is untouched");
    tg_tape_free(u);
    /* used after a reset */
    tg_tensor *old = f64(TG_SHAPE(2));
    tg_tape_reset(T);
    ERR(tg_mul(f64(TG_SHAPE(2)), old), TG_ERR_STALE, "mul: operand 2 is stale");
    old = f64(TG_SHAPE(2));
    tg_tape_reset(T);
    ERR(tg_exp(old), TG_ERR_STALE, "exp");
    old = tg_requires_grad(f64(TG_SHAPE(1)));
    tg_tape_reset(T);
    cases++;
    CHECK(tg_backward(old) == TG_ERR_STALE, "backward of a stale tensor");
    CHECK(strstr(tg_tape_error(T), "backward"), "error: %s", tg_tape_error(T));
    tg_tape_reset(T);
    cases++;
    CHECK(tg_tensor_f64(old) == NULL && isnan(tg_item(old)), "stale data and item");
    tg_tape_reset(T);
    /* backward of a non-scalar without a seed */
    tg_tensor *x = tg_requires_grad(f64(TG_SHAPE(3)));
    cases++;
    CHECK(tg_backward(tg_exp(x)) != TG_OK, "backward of a [3]");
    CHECK(strstr(tg_tape_error(T), "backward"), "error: %s", tg_tape_error(T));
    tg_tape_reset(T);
    x = tg_requires_grad(f64(TG_SHAPE(3)));
    cases++;
    CHECK(tg_backward_seed(tg_exp(x), f64(TG_SHAPE(2))) != TG_OK, "seed of the wrong shape");
    CHECK(strstr(tg_tape_error(T), "backward"), "error: %s", tg_tape_error(T));
    tg_tape_reset(T);
    x = tg_requires_grad(f64(TG_SHAPE(3)));
    cases++;
    tg_tensor *g[1];
    CHECK(tg_grad(tg_exp(x), NULL, 1, (tg_tensor *[]){x}, g, 0) != TG_OK, "grad of [3] without seed");
    CHECK(strstr(tg_tape_error(T), "grad"), "error: %s", tg_tape_error(T));
    tg_tape_reset(T);
    /* backward twice: defined, it accumulates (retain_graph=True) */
    cases++;
    x = tg_requires_grad(tg_full(T, TG_F64, TG_SHAPE(2), 3.0));
    tg_tensor *l = tg_sum(tg_mul(x, x));
    CHECK(tg_backward(l) == TG_OK && tg_backward(l) == TG_OK, "backward twice: %s", tg_tape_error(T));
    CHECK(tg_tensor_get(tg_tensor_grad(x), 0) == 12.0, "twice accumulates 2 * 6: %g",
          tg_tensor_get(tg_tensor_grad(x), 0));
    tg_tape_reset(T);
}

/* A parameter freed while a tape holds it: the free waits for the reset. */
static void param_freed_on_tape(void) {
    cases++;
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(3));
    tg_init_constant(p, 2.0);
    tg_tensor *x = tg_full(T, TG_F64, TG_SHAPE(3), 5.0);
    tg_tensor *l = tg_sum(tg_mul(tg_param_on(T, p), x));
    tg_param_free(p); /* deferred: the tape still holds it */
    CHECK(tg_backward(l) == TG_OK, "backward after the deferred free: %s", tg_tape_error(T));
    CHECK(tg_item(l) == 30.0, "the value: %g", tg_item(l));
    tg_tape_reset(T); /* the parameter is freed here */
    CHECK_OK(T);
    /* freed while two tapes hold it */
    cases++;
    tg_tape *u = tg_tape_new();
    p = tg_param_new(TG_F32, TG_SHAPE(2));
    tg_tensor *a = tg_param_on(T, p), *b = tg_param_on(u, p);
    tg_param_free(p);
    CHECK(tg_sum(a) && tg_sum(b), "both proxies still work");
    tg_tape_free(u);
    tg_tape_reset(T);
    CHECK_OK(T);
}

static void huge_shapes(void) {
    const int64_t big = INT64_MAX, g40 = (int64_t)1 << 40, g62 = (int64_t)1 << 62;
    ERR(tg_zeros(T, TG_F32, TG_SHAPE(big, 2)), TG_ERR_OVERFLOW, "");
    ERR(tg_zeros(T, TG_F32, TG_SHAPE(g40, g40)), TG_ERR_OVERFLOW, "");
    ERR(tg_zeros(T, TG_F64, TG_SHAPE(g62)), TG_ERR_OVERFLOW, ""); /* bytes overflow */
    ERR(tg_ones(T, TG_F64, TG_SHAPE(g40, 4096, 4096)), TG_ERR_OVERFLOW, "");
#if !TG_UNDER_ASAN /* ASan aborts on a 4 TiB malloc unless allocator_may_return_null=1 */
    ERR(tg_zeros(T, TG_F32, TG_SHAPE(g40)), TG_ERR_NOMEM, "out of memory"); /* 4 TiB */
#endif
    ERR(tg_reshape(f32(TG_SHAPE(0)), TG_SHAPE(big, 0, -1)), TG_ERR_SHAPE, "reshape");
    ERR(tg_expand(f32(TG_SHAPE(1, 1)), TG_SHAPE(g40, g40)), TG_ERR_OVERFLOW, "expand");
    ERR(tg_broadcast_to(f32(TG_SHAPE(1)), TG_SHAPE(g62, 4)), TG_ERR_OVERFLOW, "[4611686018427387904,4]");
    ERR(tg_repeat(f32(TG_SHAPE(2, 2)), TG_SHAPE(g62, g62)), TG_ERR_ARG, "repeat");
    ERR(tg_pad(f32(TG_SHAPE(2)), 1, (int64_t[]){big, big}, 0), TG_ERR_SHAPE, "pad");
    /* names "tensor_new", where one_hot makes its output */
    ERR(tg_one_hot(tg_full(T, TG_I64, TG_SHAPE(4), 1), g62, TG_F32), TG_ERR_OVERFLOW, "[4,4611686018427387904]");
    /* a size-0 axis beside a huge one is fine: no elements */
    cases++;
    tg_tensor *z = tg_zeros(T, TG_F32, TG_SHAPE(0, big));
    CHECK(z && tg_tensor_numel(z) == 0, "[0, INT64_MAX] has no elements: %s", tg_tape_error(T));
    tg_tape_reset(T);
    cases++;
    CHECK(tg_param_new(TG_F32, TG_SHAPE(g40, g40)) == NULL, "a huge parameter is NULL");
    cases++;
    CHECK(tg_param_new(TG_F32, TG_SHAPE(-1)) == NULL, "a negative parameter shape is NULL");
}

static void nn_and_optim(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    cases++;
    CHECK(tg_params_new((tg_dtype)9) == NULL && tg_params_new(TG_I64) == NULL, "params of a bad dtype");
    cases++;
    CHECK(tg_params_count(NULL) == 0 && tg_params_name(NULL, 0) == NULL && tg_params_at(NULL, 0) == NULL &&
              tg_params_find(NULL, "w") == NULL && tg_params_error(NULL) != NULL,
          "params queries on NULL");
    cases++;
    tg_params_free(NULL);
    tg_params_zero_grad(NULL);
    CHECK(tg_params_add(NULL, "w", TG_SHAPE(2), 0) == NULL && tg_linear_new(NULL, "fc", 2, 3, true, &rng) == NULL &&
              tg_mlp_new(NULL, "m", (const int64_t[]){2, 3}, 2, TG_ACT_RELU, TG_ACT_NONE, &rng) == NULL &&
              tg_sequential_new(NULL) == NULL,
          "constructors on a NULL list");
    tg_params *ps = tg_params_new(TG_F32);
    cases++;
    CHECK(tg_params_add(ps, NULL, TG_SHAPE(2), 0) == NULL && strstr(tg_params_error(ps), "params_add"),
          "NULL name: %s", tg_params_error(ps));
    tg_params_free(ps);
    ps = tg_params_new(TG_F32);
    tg_params_add(ps, "w", TG_SHAPE(2), 0);
    cases++;
    CHECK(tg_params_add(ps, "w", TG_SHAPE(2), 0) == NULL && strstr(tg_params_error(ps), "w"),
          "a duplicate name: %s", tg_params_error(ps));
    tg_params_free(ps);
    ps = tg_params_new(TG_F32);
    cases++; /* tg_params_own(ps, tg_malloc(n)) with tg_malloc out of memory */
    CHECK(tg_params_own(ps, NULL) == NULL && strstr(tg_params_error(ps), "params_own: the block is NULL"),
          "own a NULL block: \"%s\"", tg_params_error(ps));
    tg_params_free(ps);
    ps = tg_params_new(TG_F32);
    cases++;
    CHECK(tg_linear_new(ps, "fc", -2, 3, true, &rng) == NULL && strstr(tg_params_error(ps), "linear"),
          "negative width: %s", tg_params_error(ps));
    tg_params_free(ps);
    ps = tg_params_new(TG_F32);
    cases++;
    CHECK(tg_mlp_new(ps, "m", NULL, 3, TG_ACT_RELU, TG_ACT_NONE, &rng) == NULL && tg_params_error(ps)[0],
          "mlp without widths: %s", tg_params_error(ps));
    tg_params_free(ps);
    ps = tg_params_new(TG_F32);
    cases++;
    CHECK(tg_linear_new(ps, "fc", (int64_t)1 << 62, (int64_t)1 << 62, true, &rng) == NULL &&
              tg_params_error(ps)[0],
          "a huge layer: %s", tg_params_error(ps));
    tg_params_free(ps);
    ps = tg_params_new(TG_F32);
    tg_linear *fc = tg_linear_new(ps, "fc", 4, 3, true, &rng);
    ERR(tg_linear_forward(fc, f32(TG_SHAPE(2, 5))), TG_ERR_SHAPE, "linear");
    ERR(tg_linear_forward(fc, f64(TG_SHAPE(2, 4))), TG_ERR_DTYPE, "dtypes differ");
    ERR(tg_linear_forward(NULL, f32(TG_SHAPE(2, 4))), TG_ERR_NULL, "linear");
    cases++;
    CHECK(tg_linear_forward(fc, NULL) == NULL, "linear of NULL");
    cases++;
    CHECK(tg_sequential_add(NULL, NULL) == TG_ERR_NULL, "sequential_add(NULL)");
    cases++;
    CHECK(tg_init_constant(NULL, 1) == TG_ERR_NULL && tg_init_xavier_uniform(NULL, 1, &rng) == TG_ERR_NULL &&
              tg_init_kaiming_normal(tg_param_on(T, fc->bias), 0, TG_FAN_IN, TG_NONLIN_RELU, &rng) == TG_ERR_SHAPE,
          "initializers");
    tg_tape_reset(T);
    /* optimizers */
    cases++;
    CHECK(tg_adam_new(NULL, 1e-3, NULL) == NULL && tg_sgd_new(NULL, 0.1, NULL) == NULL,
          "optimizers of NULL");
    cases++;
    CHECK(tg_adam_new(ps, -1, NULL) == NULL && tg_sgd_new(ps, NAN, NULL) == NULL,
          "bad learning rates");
    cases++;
    tg_adam_opts ao = TG_ADAM_DEFAULTS;
    ao.beta1 = 1.5;
    CHECK(tg_adam_new(ps, 1e-3, &ao) == NULL, "beta1 = 1.5");
    cases++;
    CHECK(tg_optim_step(NULL) == TG_ERR_NULL, "step(NULL)");
    cases++;
    tg_optim_free(NULL);
    tg_optim_zero_grad(NULL);
    CHECK(tg_optim_state(NULL) == NULL && tg_optim_steps(NULL) <= 0, "optimizer queries on NULL");
    cases++;
    tg_optim *lb = tg_lbfgs_new(ps, 1, NULL);
    CHECK(lb && tg_optim_step(lb) == TG_ERR_STATE, "L-BFGS without a closure");
    tg_optim_free(lb);
    tg_params_free(ps);
}

static void checkpoint_misuse(void) {
    char dir[] = "/tmp/tg_misuse_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    tg_tensor *w = tg_param_new(TG_F32, TG_SHAPE(2, 3));
    tg_tensor *v = tg_param_new(TG_F64, TG_SHAPE(2));
    const char *nm[] = {"w", "v"};
    tg_tensor *ts[] = {w, v};
    ERRBUF(tg_checkpoint_save(NULL, 1, nm, ts, 0, NULL), TG_ERR_NULL, "checkpoint");
    ERRBUF(tg_checkpoint_save(path, 1, NULL, ts, 0, NULL), TG_ERR_NULL, "checkpoint save");
    ERRBUF(tg_checkpoint_save(path, 1, nm, NULL, 0, NULL), TG_ERR_NULL, "checkpoint save");
    ERRBUF(tg_checkpoint_save(path, 2, nm, (tg_tensor *[]){w, NULL}, 0, NULL),
           TG_ERR_NULL, path);
    ERRBUF(tg_checkpoint_save(path, 2, (const char *[]){"w", NULL}, ts, 0, NULL),
           TG_ERR_NULL, path);
    ERRBUF(tg_checkpoint_save(path, 2, (const char *[]){"w", "w"}, ts, 0, NULL),
           TG_ERR_ARG, "w");
    ERRBUF(tg_checkpoint_save(path, 1, (const char *[]){""}, ts, 0, NULL),
           TG_ERR_ARG, path);
    ERRBUF(tg_checkpoint_save(path, 1, (const char *[]){"__metadata__"}, ts, 0, NULL),
           TG_ERR_ARG, "__metadata__");
    ERRBUF(tg_checkpoint_save(path, -1, nm, ts, 0, NULL), TG_ERR_ARG, path);
    ERRBUF(tg_checkpoint_save(path, 1, nm, ts, 1, NULL), TG_ERR_NULL, "checkpoint save");
    ERRBUF(tg_checkpoint_save(path, 1, nm, ts, 1, (const char *[]){"k", NULL}),
           TG_ERR_NULL, path);
    {
        tg_tensor *stale = f32(TG_SHAPE(2));
        tg_tape_reset(T);
        ERRBUF(tg_checkpoint_save(path, 1, nm, &stale, 0, NULL), TG_ERR_STALE, path);
    }
    ERRBUF(tg_checkpoint_save("/nonexistent-dir/x.safetensors", 1, nm, ts, 0, NULL),
           TG_ERR_IO, "/nonexistent-dir/x.safetensors");
    ERRBUF(tg_checkpoint_save(path, 2, nm, ts, 0, NULL), TG_OK, "");
    ERRBUF(tg_checkpoint_load(NULL, 1, nm, ts, true), TG_ERR_NULL, "checkpoint");
    ERRBUF(tg_checkpoint_load(path, 1, NULL, ts, false), TG_ERR_NULL, "checkpoint load");
    ERRBUF(tg_checkpoint_load(path, 2, nm, (tg_tensor *[]){w, NULL}, true),
           TG_ERR_NULL, path);
    ERRBUF(tg_checkpoint_load(path, 1, nm, ts, true), TG_ERR_ARG, "v");
    ERRBUF(tg_checkpoint_load(path, 2, nm, (tg_tensor *[]){v, w}, true),
           TG_ERR_DTYPE, path);
    ERRBUF(tg_checkpoint_load(path, 1, (const char *[]){"nope"}, ts, false),
           TG_ERR_ARG, "nope");
    ERRBUF(tg_checkpoint_load("/nonexistent-dir/x.safetensors", 1, nm, ts, true),
           TG_ERR_IO, "/nonexistent-dir/x.safetensors");
    {
        tg_tensor *w2 = tg_param_new(TG_F32, TG_SHAPE(3, 2));
        ERRBUF(tg_checkpoint_load(path, 2, nm, (tg_tensor *[]){w2, v}, true),
               TG_ERR_SHAPE, "w");
        tg_param_free(w2);
    }
    ERRBUF(tg_checkpoint_open(path, NULL), TG_ERR_NULL, "checkpoint open");
    ERRBUF(tg_checkpoint_open(NULL, &(tg_checkpoint *){NULL}), TG_ERR_NULL,
           "checkpoint");
    ERRBUF(tg_checkpoint_save_params(path, 1, NULL, 0, NULL), TG_ERR_NULL, path);
    ERRBUF(tg_checkpoint_save_params(path, 1, (tg_params *[]){NULL}, 0, NULL),
           TG_ERR_NULL, path);
    ERRBUF(tg_checkpoint_load_params(path, 1, (tg_params *[]){NULL}, true),
           TG_ERR_NULL, path);
    {
        tg_checkpoint *ck = NULL;
        const char *e2 = tg_last_error(); /* the thread's sentence buffer */
        CHECK(tg_checkpoint_open(path, &ck) == TG_OK, "open: %s", e2);
        ERRBUF(tg_checkpoint_read(ck, "w", NULL), TG_ERR_NULL, "w");
        ERRBUF(tg_checkpoint_read(ck, NULL, w), TG_ERR_NULL, "checkpoint read");
        ERRBUF(tg_checkpoint_read(NULL, "w", w), TG_ERR_NULL, "checkpoint");
        ERRBUF(tg_checkpoint_read(ck, "zz", w), TG_ERR_ARG, "zz");
        cases++;
        CHECK(tg_checkpoint_get(ck, "w", NULL) == NULL && strstr(e2, "checkpoint"),
              "get without a tape: %s", e2);
        cases++;
        CHECK(tg_checkpoint_get(NULL, "w", T) == NULL, "get from NULL");
        cases++;
        CHECK(tg_checkpoint_count(NULL) == 0 && tg_checkpoint_name(NULL, 0) == NULL &&
                  tg_checkpoint_find(NULL, "w") == -1 && tg_checkpoint_find(ck, NULL) == -1 &&
                  tg_checkpoint_meta(NULL, "k") == NULL && tg_checkpoint_meta(ck, NULL) == NULL &&
                  !tg_checkpoint_info(NULL, 0, NULL, NULL, NULL) &&
                  !tg_checkpoint_info(ck, 5, NULL, NULL, NULL),
              "checkpoint queries on NULL");
        tg_checkpoint_close(ck);
        tg_checkpoint_close(NULL);
        tg_tape_reset(T);
    }
    /* a directory is not a checkpoint */
    ERRBUF(tg_checkpoint_load(dir, 1, nm, ts, false), TG_ERR_IO, dir);
    tg_param_free(w);
    tg_param_free(v);
    unlink(path);
    rmdir(dir);
}

static void data_misuse(void) {
    tg_dataset d;
    tg_idx m;
    ERRBUF(tg_idx_read(NULL, &m), TG_ERR_NULL, "idx_read");
    ERRBUF(tg_idx_read("/nonexistent.idx", NULL), TG_ERR_NULL, "idx_read");
    ERRBUF(tg_idx_read("/nonexistent.idx", &m), TG_ERR_IO, "/nonexistent.idx");
    ERRBUF(tg_idx_read("/tmp", &m), TG_ERR_IO, "/tmp");
    ERRBUF(tg_csv_read(NULL, NULL, &d), TG_ERR_NULL, "csv");
    ERRBUF(tg_csv_read("/nonexistent.csv", NULL, NULL), TG_ERR_NULL, "csv");
    ERRBUF(tg_csv_read("/nonexistent.csv", NULL, &d), TG_ERR_IO, "/nonexistent.csv");
    ERRBUF(tg_mnist_load(NULL, NULL, &d), TG_ERR_NULL, "mnist");
    ERRBUF(tg_mnist_load_dir(NULL, true, &d), TG_ERR_NULL, "mnist");
    ERRBUF(tg_idx_read_first(NULL, 1, &m), TG_ERR_NULL, "idx_read");
    ERRBUF(tg_idx_read_first("/nonexistent.idx", 1, NULL), TG_ERR_NULL, "idx_read");
    ERRBUF(tg_idx_read_first("/nonexistent.idx", -5, &m), TG_ERR_ARG, "n = -5");
    ERRBUF(tg_mnist_load_first(NULL, NULL, 1, &d), TG_ERR_NULL, "mnist");
    ERRBUF(tg_mnist_load_first("/a", "/b", 0, &d), TG_ERR_ARG, "n = 0");
    ERRBUF(tg_mnist_load_dir_first(NULL, true, 1, &d), TG_ERR_NULL, "mnist");
    ERRBUF(tg_mnist_load_dir_first("/tmp", true, INT64_MIN, &d), TG_ERR_ARG, "at least 1");
    ERRBUF(tg_idx_write(NULL, TG_IDX_U8, TG_SHAPE(1), (double[]){1}), TG_ERR_NULL, "idx");
    ERRBUF(tg_idx_write("/tmp/x.idx", TG_IDX_U8, 1, NULL, (double[]){1}), TG_ERR_NULL,
           "idx");
    ERRBUF(tg_idx_write("/tmp/tg_misuse_never.idx", TG_IDX_U8, TG_SHAPE(1), (double[]){300}),
           TG_ERR_ARG, "300");
    ERRBUF(tg_dataset_alloc(NULL, 2, TG_SHAPE(3), false), TG_ERR_NULL, "dataset_alloc");
    ERRBUF(tg_dataset_alloc(&d, INT64_MAX, TG_SHAPE(INT64_MAX), false), TG_ERR_OVERFLOW,
           "dataset_alloc");
    ERRBUF(tg_dataset_alloc(&d, 2, TG_SHAPE(-3), false), TG_ERR_ARG, "dataset_alloc");
    ERRBUF(tg_dataset_alloc(&d, 2, 0, NULL, false), TG_ERR_NULL, "dataset_alloc");
    ERRBUF(tg_batcher_init(NULL, &d, 2, true, 1), TG_ERR_NULL, "batcher");
    ERRBUF(tg_batcher_init(&(tg_batcher){0}, NULL, 2, true, 1), TG_ERR_NULL, "batcher");
    cases++;
    tg_dataset_free(NULL);
    tg_idx_free(NULL);
    tg_batcher_free(NULL);
    CHECK(tg_dataset_scale(NULL, 0, 1) == TG_ERR_NULL && tg_dataset_range(NULL, NULL, NULL) == TG_ERR_NULL &&
              tg_dataset_stats(NULL, false, NULL, NULL) == TG_ERR_NULL &&
              tg_dataset_standardize(NULL, false, NULL, NULL) == TG_ERR_NULL,
          "normalization on NULL");
    cases++;
    CHECK(isnan(tg_idx_get(NULL, 0)) && tg_batcher_count(NULL) == 0, "queries on NULL");
    const char *e2 = tg_last_error(); /* the thread's sentence buffer */
    CHECK(tg_dataset_alloc(&d, 4, TG_SHAPE(3), false) == TG_OK, "alloc: %s", e2);
    cases++;
    CHECK(tg_dataset_scale(&d, 1, 1) == TG_ERR_ARG, "scale with hi == lo");
    ERRBUF(tg_batcher_init(&(tg_batcher){0}, &d, 0, true, 1), TG_ERR_ARG, "batch");
    ERR(tg_dataset_batch_x(T, &d, 2, (int64_t[]){0, 4}, TG_F32, true), TG_ERR_ARG, "batch_x");
    ERR(tg_dataset_batch_x(T, &d, 2, (int64_t[]){-1, 0}, TG_F32, true), TG_ERR_ARG, "batch_x");
    ERR(tg_dataset_batch_x(T, &d, 9, NULL, TG_F32, true), TG_ERR_ARG, "batch_x");
    ERR(tg_dataset_batch_x(T, &d, 2, NULL, TG_I64, true), TG_ERR_DTYPE, "batch_x");
    ERR(tg_dataset_batch_x(T, NULL, 2, NULL, TG_F32, true), TG_ERR_NULL, "batch_x");
    ERR(tg_dataset_batch_y(T, &d, 2, NULL), TG_ERR_ARG, "batch_y");
    ERR(tg_dataset_batch_y(T, NULL, 2, NULL), TG_ERR_NULL, "batch_y");
    cases++;
    CHECK(tg_dataset_batch_x(NULL, &d, 2, NULL, TG_F32, true) == NULL, "batch_x without a tape");
    tg_dataset_free(&d);
    tg_dataset_free(&d); /* twice is safe */
}

int main(void) {
    T = tg_tape_new();
    null_ops();
    bad_args();
    tapes_and_passes();
    param_freed_on_tape();
    huge_shapes();
    nn_and_optim();
    checkpoint_misuse();
    data_misuse();
    tg_tape_free(T);
    printf("misuse: %d cases\n", cases);
    return TEST_DONE("misuse");
}
