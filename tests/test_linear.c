/* test_linear.c - the fused linear op, tg_linear_act(x, w, b, act) =
 * act(x @ w^T + b): gradients against central differences in f64 through
 * both backward paths (fast and create-graph) and second derivatives, for
 * every activation, with and without bias, on several shapes (in = 1,
 * out = 1, one row, 3-D input, empty, sizes on both sides of the GEMM's
 * direct/blocked switch); its values and gradients against the unfused
 * ops (matmul_t + add + activation) in f32 and f64, threaded passes
 * included; the MLP's fused Linear + activation; bad inputs. PyTorch
 * values: tests/ref_core.py (linear_* cases, in test_ref_core.c). */
#include "tg_test.h"

static const char *act_names[] = {"none", "relu", "tanh", "sigmoid", "gelu", "leaky_relu"};
#define NACT 6

typedef struct lin_ud {
    tg_act act;
    bool bias;
} lin_ud;

static tg_tensor *f_linear(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t;
    const lin_ud *u = ud;
    return tg_linear_act(x[0], x[1], u->bias ? x[2] : NULL, u->act);
}

/* The same function from the separate ops. */
static tg_tensor *unfused(tg_tensor *x, tg_tensor *w, tg_tensor *b, tg_act act) {
    tg_tensor *y = tg_tensor_rank(x) == 1 ? tg_matmul(w, x) : tg_matmul_t(x, w, false, true);
    if (b) y = tg_add(y, b);
    return tg_act_forward(act, y);
}

/* Pre-activations x @ w^T + b of magnitude below `gap`: relu and leaky
 * relu are checked away from their kink (central differences straddle it). */
static int near_kink(tg_tensor *x, tg_tensor *w, tg_tensor *b, double gap) {
    tg_tensor *z = unfused(x, w, b, TG_ACT_NONE);
    int n = 0;
    for (int64_t k = 0; z && k < tg_tensor_numel(z); k++) n += fabs(tg_tensor_get(z, k)) < gap;
    return n;
}

/* x [xs..., in], w [out, in], b [out]: gradcheck of the activations in
 * `acts` (a bit per tg_act), with and without bias. Inputs near relu's
 * kink are redrawn (a deterministic seed search). atol: the absolute
 * tolerance (rounding noise of the differences grows with the size). */
#define ALL_ACTS 0x3f
static void check_shape(int xrank, const int64_t *xs, int64_t out, bool second, uint64_t seed,
                        unsigned acts, double atol) {
    int64_t in = xs[xrank - 1];
    char label[96];
    int len = snprintf(label, sizeof label, "[");
    for (int d = 0; d < xrank; d++)
        len += snprintf(label + len, sizeof label - (size_t)len, "%s%lld", d ? "," : "", (long long)xs[d]);
    snprintf(label + len, sizeof label - (size_t)len, "] x [%lld,%lld]", (long long)out, (long long)in);
    for (int act = 0; act < NACT; act++)
        for (int bias = 0; bias < 2 && (acts >> act & 1); bias++) {
            tg_tape *tape = tg_tape_new();
            bool kinked = (act == TG_ACT_RELU || act == TG_ACT_LEAKY_RELU) && (in > 0 || bias);
            tg_tensor *in3[3];
            int tries = 0, nk;
            do {
                tg_tape_reset(tape);
                tg_rng rng;
                tg_rng_seed(&rng, seed + (uint64_t)(act * 2 + bias) + 1000 * (uint64_t)tries);
                in3[0] = tg_rand_uniform(tape, TG_F64, xrank, xs, &rng, -1.5, 1.5);
                in3[1] = tg_rand_uniform(tape, TG_F64, TG_SHAPE(out, in), &rng, -1, 1);
                in3[2] = tg_rand_uniform(tape, TG_F64, TG_SHAPE(out), &rng, -1, 1);
                nk = kinked ? near_kink(in3[0], in3[1], bias ? in3[2] : NULL, 1e-4) : 0;
            } while (nk && ++tries < 50);
            CHECK(nk == 0, "%s %s: no draw keeps the pre-activations away from the kink",
                  act_names[act], label);
            lin_ud u = {(tg_act)act, bias != 0};
            /* relu's second derivative is zero: checked all the same */
            tg_gradcheck_opts o = {1e-6, atol, 1e-4, 5, true, second};
            tg_gradcheck_report rep;
            bool ok = tg_gradcheck(f_linear, &u, bias ? 3 : 2, in3, &o, &rep);
            CHECK(ok, "linear %s %s %s: %s", act_names[act], bias ? "bias" : "no bias", label, rep.msg);
            CHECK_OK(tape);
            tg_tape_free(tape);
        }
}

/* Values, and the gradients of sum(y * r), of the fused op against the
 * unfused ops, on one tape. */
static void check_same(tg_dtype dt, int xrank, const int64_t *xs, int64_t out, double tol) {
    int64_t in = xs[xrank - 1];
    for (int act = 0; act < NACT; act++)
        for (int bias = 0; bias < 2; bias++) {
            tg_tape *tape = tg_tape_new();
            tg_rng rng;
            tg_rng_seed(&rng, 99 + (uint64_t)act);
            tg_tensor *x = tg_requires_grad(tg_rand_uniform(tape, dt, xrank, xs, &rng, -1, 1));
            tg_tensor *w = tg_requires_grad(tg_rand_uniform(tape, dt, TG_SHAPE(out, in), &rng, -0.2, 0.2));
            tg_tensor *b = bias ? tg_requires_grad(tg_rand_uniform(tape, dt, TG_SHAPE(out), &rng, -1, 1)) : NULL;
            tg_tensor *y1 = tg_linear_act(x, w, b, (tg_act)act);
            tg_tensor *y2 = unfused(x, w, b, (tg_act)act);
            CHECK(y1 && y2 && tg_tensor_numel(y1) == tg_tensor_numel(y2) &&
                      tg_tensor_rank(y1) == tg_tensor_rank(y2),
                  "%s: shapes", act_names[act]);
            if (!y1 || !y2) {
                tg_tape_free(tape);
                continue;
            }
            int64_t n = tg_tensor_numel(y1);
            int bad = 0;
            for (int64_t k = 0; k < n; k++) {
                double a = tg_tensor_get(y1, k), e = tg_tensor_get(y2, k);
                if (!(fabs(a - e) <= tol * (1 + fabs(e))) && !bad++)
                    fprintf(stderr, "  %s: y[%lld] = %.9g, unfused %.9g\n", act_names[act], (long long)k, a, e);
            }
            CHECK(bad == 0, "%s %s dt %d: %d values differ from the unfused ops", act_names[act],
                  bias ? "bias" : "no bias", (int)dt, bad);
            tg_tensor *r = tg_rand_uniform(tape, dt, tg_tensor_rank(y1), tg_tensor_shape(y1), &rng, -1, 1);
            tg_tensor *ins[3] = {x, w, b}, *g1[3], *g2[3];
            tg_status s1 = tg_grad(y1, r, bias ? 3 : 2, ins, g1, 0);
            tg_status s2 = tg_grad(y2, r, bias ? 3 : 2, ins, g2, 0);
            CHECK(s1 == TG_OK && s2 == TG_OK, "grad: %s", tg_tape_error(tape));
            for (int i = 0; s1 == TG_OK && s2 == TG_OK && i < (bias ? 3 : 2); i++) {
                int64_t m = tg_tensor_numel(g1[i]);
                bad = 0;
                for (int64_t k = 0; k < m; k++) {
                    double a = tg_tensor_get(g1[i], k), e = tg_tensor_get(g2[i], k);
                    if (!(fabs(a - e) <= tol * (1 + fabs(e))) && !bad++)
                        fprintf(stderr, "  %s: grad %d [%lld] = %.9g, unfused %.9g\n", act_names[act], i,
                                (long long)k, a, e);
                }
                CHECK(bad == 0, "%s %s dt %d: %d gradient values of input %d differ", act_names[act],
                      bias ? "bias" : "no bias", (int)dt, bad, i);
            }
            CHECK_OK(tape);
            tg_tape_free(tape);
        }
}

/* Gradients accumulate: a parameter weight used twice gets both parts, and
 * tg_backward adds into an existing gradient (the GEMM's beta = 1). */
static void test_accumulate(void) {
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(3, 4));
    tg_tensor *b = tg_param_new(TG_F64, TG_SHAPE(3));
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_init_uniform(w, -1, 1, &rng);
    tg_init_uniform(b, -1, 1, &rng);
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_rand_uniform(tape, TG_F64, TG_SHAPE(5, 4), &rng, -1, 1);
    /* twice in one graph, and two backward passes */
    for (int pass = 0; pass < 2; pass++) {
        tg_tensor *l = tg_add(tg_sum(tg_linear_act(x, w, b, TG_ACT_TANH)),
                              tg_sum(tg_linear_act(x, w, b, TG_ACT_SIGMOID)));
        CHECK(tg_backward(l) == TG_OK, "backward: %s", tg_tape_error(tape));
    }
    double gw = tg_tensor_get(tg_tensor_grad(w), 5), gb = tg_tensor_get(tg_tensor_grad(b), 1);
    /* reference: the unfused graph, once */
    tg_tensor *w2 = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3, 4), tg_tensor_f64(w)));
    tg_tensor *b2 = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), tg_tensor_f64(b)));
    tg_tensor *l2 = tg_add(tg_sum(unfused(x, w2, b2, TG_ACT_TANH)), tg_sum(unfused(x, w2, b2, TG_ACT_SIGMOID)));
    CHECK(tg_backward(l2) == TG_OK, "backward: %s", tg_tape_error(tape));
    CHECK_NEAR(gw, 2 * tg_tensor_get(tg_tensor_grad(w2), 5), 1e-12);
    CHECK_NEAR(gb, 2 * tg_tensor_get(tg_tensor_grad(b2), 1), 1e-12);
    CHECK_OK(tape);
    tg_tape_free(tape);
    tg_param_free(w);
    tg_param_free(b);
}

/* d w of a layer with few inputs (K <= 24) and many outputs runs as its
 * transpose x^T h, whose GEMM reads h in place (linalg.c); the same bits
 * as h^T x (tg_matmul_t here, many rows: the direct form), fresh or added
 * to an existing gradient, over one K block of the GEMM or several. */
static void test_weight_grad_transposed(void) {
    static const int64_t sizes[][3] = {{150, 11, 300}, {450, 21, 257}, {700, 5, 64}};
    for (int dt = 0; dt < 2; dt++)
        for (int si = 0; si < 3; si++)
            for (int fresh = 0; fresh < 2; fresh++) {
                int64_t M = sizes[si][0], K = sizes[si][1], N = sizes[si][2];
                if (!fresh && M > 150) continue; /* one K block: c + acc rounds once */
                tg_tape *tape = tg_tape_new();
                tg_rng rng;
                tg_rng_seed(&rng, 7 + (uint64_t)si);
                tg_tensor *x = tg_rand_uniform(tape, dt, TG_SHAPE(M, K), &rng, -1, 1);
                tg_tensor *w = tg_requires_grad(tg_rand_uniform(tape, dt, TG_SHAPE(N, K), &rng, -1, 1));
                tg_tensor *r = tg_rand_uniform(tape, dt, TG_SHAPE(M, N), &rng, -1, 1);
                tg_tensor *c = tg_rand_uniform(tape, dt, TG_SHAPE(N, K), &rng, -1, 1);
                tg_tensor *l = tg_sum(tg_mul(tg_linear_act(x, w, NULL, TG_ACT_NONE), r));
                /* recorded after the layer, swept before it: d w exists */
                if (!fresh) l = tg_add(l, tg_sum(tg_mul(w, c)));
                CHECK(tg_backward(l) == TG_OK, "backward: %s", tg_tape_error(tape));
                tg_tensor *want = tg_matmul_t(r, x, true, false); /* [N, K] */
                if (!fresh) want = tg_add(want, c);
                tg_tensor *got = tg_tensor_grad(w);
                int bad = 0;
                for (int64_t k = 0; got && want && k < N * K; k++)
                    bad += tg_tensor_get(got, k) != tg_tensor_get(want, k);
                CHECK(got && want && bad == 0,
                      "d w as x^T h, dt %d, [%lld, %lld] -> %lld, %s: %d values differ", dt,
                      (long long)M, (long long)K, (long long)N, fresh ? "fresh" : "added", bad);
                CHECK_OK(tape);
                tg_tape_free(tape);
            }
}

/* A Hessian-vector product through gelu (the graph backward recomputes
 * the pre-activation) against the unfused ops. */
static void test_hvp(void) {
    for (int act = 0; act < NACT; act++) {
        tg_tape *tape = tg_tape_new();
        tg_rng rng;
        tg_rng_seed(&rng, 21);
        tg_tensor *x = tg_requires_grad(tg_rand_uniform(tape, TG_F64, TG_SHAPE(4, 3), &rng, -1, 1));
        tg_tensor *w = tg_rand_uniform(tape, TG_F64, TG_SHAPE(2, 3), &rng, -1, 1);
        tg_tensor *b = tg_rand_uniform(tape, TG_F64, TG_SHAPE(2), &rng, -1, 1);
        tg_tensor *v = tg_rand_uniform(tape, TG_F64, TG_SHAPE(4, 3), &rng, -1, 1);
        tg_tensor *f1 = tg_sum(tg_square(tg_linear_act(x, w, b, (tg_act)act)));
        tg_tensor *f2 = tg_sum(tg_square(unfused(x, w, b, (tg_act)act)));
        tg_tensor *h1 = tg_hvp(f1, x, v, 0), *h2 = tg_hvp(f2, x, v, 0);
        CHECK(h1 && h2, "hvp %s: %s", act_names[act], tg_tape_error(tape));
        int bad = 0;
        for (int64_t k = 0; h1 && h2 && k < 12; k++)
            bad += !(fabs(tg_tensor_get(h1, k) - tg_tensor_get(h2, k)) <= 1e-10 * (1 + fabs(tg_tensor_get(h2, k))));
        CHECK(bad == 0, "hvp %s: %d values differ from the unfused ops", act_names[act], bad);
        tg_tape_free(tape);
    }
}

/* The MLP runs Linear + activation fused: one record per layer, the same
 * numbers as the layers run one by one. */
static void test_mlp_fused(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_params *ps = tg_params_new(TG_F64);
    tg_sequential *net = tg_mlp_new(ps, "m", (int64_t[]){6, 5, 3}, 3, TG_ACT_GELU, TG_ACT_SIGMOID, &rng);
    CHECK(net && net->n == 4, "mlp: %s", tg_params_error(ps));
    if (!net) {
        tg_params_free(ps);
        return;
    }
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_rand_uniform(tape, TG_F64, TG_SHAPE(7, 6), &rng, -1, 1);
    size_t before = tg_tape_count(tape);
    tg_tensor *y = tg_sequential_forward(net, x);
    size_t nodes = tg_tape_count(tape) - before;
    tg_tensor *y2 = x;
    for (int i = 0; i < net->n; i++) y2 = tg_layer_forward(net->layers[i], y2);
    CHECK(y && y2, "forward: %s", tg_tape_error(tape));
    for (int64_t k = 0; y && y2 && k < tg_tensor_numel(y); k++)
        CHECK_NEAR(tg_tensor_get(y, k), tg_tensor_get(y2, k), 1e-13);
    /* 2 layers: 2 fused records (+ 2 parameter proxies each) */
    CHECK(nodes <= 6, "the fused MLP made %zu records", nodes);
    CHECK_OK(tape);
    tg_tape_free(tape);
    tg_params_free(ps);
}

static void test_bad_inputs(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_ones(t, TG_F32, TG_SHAPE(64, 783));
    tg_tensor *w = tg_ones(t, TG_F32, TG_SHAPE(100, 784));
    tg_tensor *b = tg_ones(t, TG_F32, TG_SHAPE(100));
    CHECK_ERR(tg_linear_act(x, w, b, TG_ACT_RELU), t, TG_ERR_SHAPE,
              "linear: input [64,783] does not fit weight [100,784]");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(64, 784));
    w = tg_ones(t, TG_F32, TG_SHAPE(100, 784));
    tg_tensor *b99 = tg_ones(t, TG_F32, TG_SHAPE(99));
    CHECK_ERR(tg_linear_act(x, w, b99, TG_ACT_NONE), t, TG_ERR_SHAPE,
              "linear: bias [99] does not fit weight [100,784] (it must be [100]");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(64, 784));
    w = tg_ones(t, TG_F32, TG_SHAPE(100, 784));
    tg_tensor *b2 = tg_ones(t, TG_F32, TG_SHAPE(1, 100));
    CHECK_ERR(tg_linear_act(x, w, b2, TG_ACT_NONE), t, TG_ERR_SHAPE, "bias [1,100]");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(64, 784));
    tg_tensor *w1 = tg_ones(t, TG_F32, TG_SHAPE(784));
    CHECK_ERR(tg_linear_act(x, w1, NULL, TG_ACT_NONE), t, TG_ERR_SHAPE,
              "linear: weight must be 2-D [out, in], got weight [784] (input [64,784])");
    tg_tape_reset(t);
    tg_tensor *s = tg_scalar(t, 1.0);
    w = tg_ones(t, TG_F64, TG_SHAPE(3, 1));
    CHECK_ERR(tg_linear_act(s, w, NULL, TG_ACT_NONE), t, TG_ERR_SHAPE, "rank >= 1");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2, 4));
    tg_tensor *w64 = tg_ones(t, TG_F64, TG_SHAPE(3, 4));
    CHECK_ERR(tg_linear_act(x, w64, NULL, TG_ACT_NONE), t, TG_ERR_DTYPE, "linear: dtypes differ");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2, 4));
    w = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    tg_tensor *b64 = tg_ones(t, TG_F64, TG_SHAPE(3));
    CHECK_ERR(tg_linear_act(x, w, b64, TG_ACT_NONE), t, TG_ERR_DTYPE, "linear: dtypes differ");
    tg_tape_reset(t);
    tg_tensor *xi = tg_zeros(t, TG_I64, TG_SHAPE(2, 4));
    w = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    CHECK_ERR(tg_linear_act(xi, w, NULL, TG_ACT_NONE), t, TG_ERR_DTYPE, "linear");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2, 4));
    w = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    CHECK_ERR(tg_linear_act(x, w, NULL, (tg_act)42), t, TG_ERR_ARG,
              "linear: unknown activation 42 (input [2,4], weight [3,4])");
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2, 4));
    CHECK_ERR(tg_linear_act(x, NULL, NULL, TG_ACT_NONE), t, TG_ERR_NULL, "linear: operand 2 is NULL");
    tg_tape_reset(t);
    w = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    CHECK_ERR(tg_linear_act(NULL, w, NULL, TG_ACT_NONE), t, TG_ERR_NULL, "linear: operand 1 is NULL");
    /* sticky: a NULL from the failed op gives NULL at once, and the first
     * error stays */
    CHECK(tg_linear_act(tg_linear_act(NULL, w, NULL, TG_ACT_NONE), w, NULL, TG_ACT_RELU) == NULL,
          "after an error");
    CHECK(tg_linear_act(w, tg_ones(t, TG_F32, TG_SHAPE(3, 5)), NULL, TG_ACT_NONE) == NULL,
          "a later bad shape");
    CHECK(strstr(tg_tape_error(t), "operand 1 is NULL") != NULL, "first error kept: %s", tg_tape_error(t));
    tg_tape_reset(t);
    x = tg_ones(t, TG_F32, TG_SHAPE(2, 4));
    tg_tape_reset(t);
    w = tg_ones(t, TG_F32, TG_SHAPE(3, 4));
    CHECK_ERR(tg_linear_act(x, w, NULL, TG_ACT_NONE), t, TG_ERR_STALE, "linear");
    tg_tape_free(t);
}

int main(void) {
    bool quick = getenv("TG_TEST_QUICK") != NULL; /* valgrind */
    /* gradcheck, second derivatives on the small shapes */
    const double t = 1e-6;
    check_shape(2, (int64_t[]){4, 3}, 2, true, 1, ALL_ACTS, t);
    check_shape(2, (int64_t[]){4, 1}, 3, true, 11, ALL_ACTS, t);    /* in = 1 */
    check_shape(2, (int64_t[]){3, 4}, 1, true, 21, ALL_ACTS, t);    /* out = 1 */
    check_shape(2, (int64_t[]){1, 5}, 3, true, 31, ALL_ACTS, t);    /* one row */
    check_shape(1, (int64_t[]){5}, 3, true, 41, ALL_ACTS, t);       /* a vector */
    check_shape(3, (int64_t[]){2, 3, 4}, 3, true, 51, ALL_ACTS, t); /* 3-D input */
    check_shape(2, (int64_t[]){0, 3}, 2, false, 61, ALL_ACTS, t);   /* no rows */
    check_shape(2, (int64_t[]){3, 0}, 2, false, 71, ALL_ACTS, t);   /* in = 0: y = act(b) */
    /* around the GEMM's direct / blocked switch (M N K = 4096), and past
     * its threading one (M N K = 262144, with TG_NUM_THREADS=2) */
    check_shape(2, (int64_t[]){16, 16}, 16, false, 81, ALL_ACTS, t);
    check_shape(2, (int64_t[]){17, 17}, 17, false, 91, ALL_ACTS, t);
    if (!quick) {
        check_shape(2, (int64_t[]){33, 33}, 33, false, 101, ALL_ACTS, 1e-5);
        check_shape(2, (int64_t[]){70, 70}, 70, false, 111, 1u << TG_ACT_RELU, 1e-5);
    }
    /* against the unfused ops, f32 and f64, threaded passes included */
    int64_t in = quick ? 100 : 784; /* the layer of the benchmark: [64, 784] -> 100 */
    test_weight_grad_transposed();
    check_same(TG_F64, 2, (int64_t[]){64, in}, 100, 1e-12);
    check_same(TG_F32, 2, (int64_t[]){64, in}, 100, 2e-5);
    check_same(TG_F64, 3, (int64_t[]){2, 3, 33}, 70, 1e-12);
    check_same(TG_F64, 1, (int64_t[]){33}, 17, 1e-12);
    if (!quick) {
        check_same(TG_F64, 2, (int64_t[]){256, 40}, 300, 1e-12);
        check_same(TG_F32, 2, (int64_t[]){256, 40}, 300, 2e-5);
    } else {
        check_same(TG_F32, 2, (int64_t[]){256, 8}, 300, 2e-5);
    }
    test_accumulate();
    test_hvp();
    test_mlp_fused();
    test_bad_inputs();
    return TEST_DONE("linear");
}
