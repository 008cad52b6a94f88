/* test_nn_layers.c - parameter lists, layers, the MLP builder and the
 * initializers: names, output shapes, default initializer statistics
 * (within sampling bounds), gradient checks of small MLPs in f64 (every
 * activation), parameter gradients against finite differences, the
 * train/eval switch, a short training run, and bad input. */
#include "tg_test.h"

/* mean and standard deviation of a tensor's elements */
static void stats(const tg_tensor *t, double *mean, double *sd, double *absmax) {
    int64_t n = tg_tensor_numel(t);
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = tg_tensor_get(t, i);
        s += v, s2 += v * v;
        m = fabs(v) > m ? fabs(v) : m;
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
    if (absmax) *absmax = m;
}

/* n samples of a distribution with standard deviation sd: the sample mean
 * lies within 5 sd/sqrt(n) of 0 and the sample sd within 5% of sd (n >= 10^4),
 * failing by chance with probability < 1e-6. */
#define CHECK_DIST(t, want_sd, what)                                                   \
    do {                                                                               \
        double m_, s_;                                                                 \
        stats(t, &m_, &s_, NULL);                                                      \
        double n_ = (double)tg_tensor_numel(t);                                        \
        CHECK(fabs(m_) < 5 * (want_sd) / sqrt(n_), "%s: mean %g", what, m_);           \
        CHECK(fabs(s_ - (want_sd)) < 0.05 * (want_sd), "%s: sd %g, want %g", what, s_, \
              (double)(want_sd));                                                      \
    } while (0)

static bool same_shape(const tg_tensor *t, int rank, const int64_t *shape) {
    if (!t || tg_tensor_rank(t) != rank) return false;
    for (int d = 0; d < rank; d++)
        if (tg_tensor_dim(t, d) != shape[d]) return false;
    return true;
}

/* ------------------------------------------------------- parameter lists */

static void test_params(void) {
    tg_params *ps = tg_params_new(TG_F64);
    CHECK(ps && tg_params_count(ps) == 0 && tg_params_training(ps), "new list");
    tg_tensor *a = tg_params_add(ps, "a", TG_SHAPE(2, 3), 0);
    tg_tensor *b = tg_params_add(ps, "b", TG_SHAPE(4), TG_PARAM_BUFFER);
    CHECK(a && b && tg_params_count(ps) == 2, "two entries");
    CHECK(!strcmp(tg_params_name(ps, 0), "a") && tg_params_at(ps, 1) == b, "names and order");
    CHECK(tg_params_find(ps, "b") == b && tg_params_find(ps, "c") == NULL, "find");
    CHECK(tg_params_is_buffer(ps, 1) && !tg_params_is_buffer(ps, 0), "buffer flag");
    CHECK(tg_params_numel(ps) == 6, "numel counts trainable only: %lld", (long long)tg_params_numel(ps));
    CHECK(tg_tensor_is_param(a) && tg_tensor_dtype(a) == TG_F64, "a persistent f64 tensor");
    CHECK(tg_params_add(ps, "a", TG_SHAPE(1), 0) == NULL, "duplicate name");
    CHECK(strstr(tg_params_error(ps), "already taken") != NULL, "error: %s", tg_params_error(ps));
    CHECK(tg_params_at(ps, 2) == NULL && tg_params_name(ps, -1) == NULL, "out of range");
    tg_tensor *own = tg_param_new(TG_F64, TG_SHAPE(3));
    CHECK(tg_params_adopt(ps, "own", own, 0) == own && tg_params_numel(ps) == 9, "adopt");
    tg_tensor_f64(tg_tensor_grad(a))[4] = 7;
    tg_params_zero_grad(ps);
    CHECK(tg_tensor_get(tg_tensor_grad(a), 4) == 0, "zero_grad");
    tg_params_set_training(ps, false);
    CHECK(!tg_params_training(ps), "eval mode");
    CHECK(tg_params_new(TG_I64) == NULL, "i64 list");
    CHECK(tg_params_count(NULL) == 0 && tg_params_find(NULL, "a") == NULL, "NULL list");
    CHECK(tg_params_add(NULL, "x", TG_SHAPE(1), 0) == NULL, "add to NULL list");
    tg_params_zero_grad(NULL);
    tg_params_free(NULL);
    tg_params_free(ps);
}

/* ----------------------------------------------------------------- linear */

static void test_linear(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_params *ps = tg_params_new(TG_F64);
    tg_linear *l = tg_linear_new(ps, "fc1", 3, 4, true, &rng);
    tg_linear *nb = tg_linear_new(ps, "fc2", 4, 2, false, &rng);
    CHECK(l && nb, "linear layers");
    CHECK(tg_params_count(ps) == 3 && !strcmp(tg_params_name(ps, 0), "fc1.weight") &&
              !strcmp(tg_params_name(ps, 1), "fc1.bias") && !strcmp(tg_params_name(ps, 2), "fc2.weight"),
          "names");
    CHECK(same_shape(l->weight, TG_SHAPE(4, 3)) && same_shape(l->bias, TG_SHAPE(4)) && !nb->bias,
          "parameter shapes");
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_rand_uniform(tape, TG_F64, TG_SHAPE(5, 3), &rng, -1, 1);
    tg_tensor *y = tg_linear_forward(l, x);
    CHECK(same_shape(y, TG_SHAPE(5, 4)), "[5,3] -> [5,4]");
    /* values: y[i][o] = sum_k x[i][k] w[o][k] + b[o] */
    double worst = 0;
    for (int i = 0; y && i < 5; i++)
        for (int o = 0; o < 4; o++) {
            double s = tg_tensor_get(l->bias, o);
            for (int k = 0; k < 3; k++) s += tg_tensor_get(x, i * 3 + k) * tg_tensor_get(l->weight, o * 3 + k);
            worst = fmax(worst, fabs(s - tg_tensor_get(y, i * 4 + o)));
        }
    CHECK(worst < 1e-14, "linear values off by %g", worst);
    CHECK(same_shape(tg_linear_forward(l, tg_rand_uniform(tape, TG_F64, TG_SHAPE(3), &rng, -1, 1)), TG_SHAPE(4)),
          "1-D input");
    CHECK(same_shape(tg_linear_forward(l, tg_zeros(tape, TG_F64, TG_SHAPE(2, 6, 3))), TG_SHAPE(2, 6, 4)),
          "batched 3-D input");
    CHECK(same_shape(tg_linear_forward(nb, y), TG_SHAPE(5, 2)), "no bias");
    CHECK(same_shape(tg_layer_forward(&l->base, x), TG_SHAPE(5, 4)), "through tg_layer_forward");
    CHECK_OK(tape);
    /* bad input: the error names the layer and both shapes */
    tg_tensor *bad = tg_linear_forward(l, tg_zeros(tape, TG_F64, TG_SHAPE(5, 2)));
    CHECK_ERR(bad, tape, TG_ERR_SHAPE, "linear");
    CHECK(strstr(tg_tape_error(tape), "[5,2]") && strstr(tg_tape_error(tape), "[4,3]"),
          "error names the shapes: %s", tg_tape_error(tape));
    tg_tape_reset(tape);
    bad = tg_linear_forward(NULL, tg_zeros(tape, TG_F64, TG_SHAPE(5, 3)));
    CHECK_ERR(bad, tape, TG_ERR_NULL, "linear");
    tg_tape_reset(tape);
    bad = tg_linear_forward(l, tg_scalar(tape, 1.0)); /* rank 0 */
    CHECK_ERR(bad, tape, TG_ERR_SHAPE, "linear");
    CHECK(tg_linear_forward(l, NULL) == NULL, "NULL input");
    tg_tape_reset(tape);
    bad = tg_linear_forward(l, tg_zeros(tape, TG_F32, TG_SHAPE(5, 3))); /* f32 into f64 layer */
    CHECK(bad == NULL && tg_tape_status(tape) == TG_ERR_DTYPE, "dtype mix: %s", tg_tape_error(tape));
    CHECK(tg_linear_new(ps, "z", 0, 3, true, &rng) == NULL, "zero features");
    CHECK(tg_linear_new(ps, "z", 2, 3, true, NULL) == NULL, "NULL rng");
    CHECK(tg_linear_new(ps, "fc1", 2, 3, true, &rng) == NULL, "duplicate layer name");
    CHECK(tg_linear_new(NULL, "q", 2, 3, true, &rng) == NULL, "NULL list");
    tg_tape_free(tape);
    tg_params_free(ps);
}

/* PyTorch's Linear default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
static void test_linear_init_stats(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 2);
    tg_params *ps = tg_params_new(TG_F32);
    tg_linear *l = tg_linear_new(ps, "big", 400, 300, true, &rng);
    double bound = 1 / sqrt(400.0), m, s, mx;
    CHECK_DIST(l->weight, bound / sqrt(3.0), "linear weight");
    stats(l->weight, &m, &s, &mx);
    CHECK(mx <= bound && mx > 0.99 * bound, "weight within +-1/sqrt(in): max %g, bound %g", mx, bound);
    stats(l->bias, &m, &s, &mx);
    CHECK(mx <= bound && fabs(m) < 5 * bound / sqrt(3 * 300.0), "bias bound: max %g mean %g", mx, m);
    /* the same seed gives the same model */
    tg_rng r2;
    tg_rng_seed(&r2, 2);
    tg_params *ps2 = tg_params_new(TG_F32);
    tg_linear *l2 = tg_linear_new(ps2, "big", 400, 300, true, &r2);
    CHECK(!memcmp(tg_tensor_f32(l->weight), tg_tensor_f32(l2->weight), 400 * 300 * sizeof(float)),
          "reproducible");
    tg_params_free(ps);
    tg_params_free(ps2);
}

/* ------------------------------------------------------------ initializers */

static void test_init(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(200, 100));       /* fan_in 100, fan_out 200 */
    tg_tensor *k = tg_param_new(TG_F32, TG_SHAPE(64, 16, 3, 3));   /* fan_in 144, fan_out 576 */
    CHECK_NEAR(tg_init_gain(TG_NONLIN_LINEAR, 0), 1, 0);
    CHECK_NEAR(tg_init_gain(TG_NONLIN_SIGMOID, 0), 1, 0);
    CHECK_NEAR(tg_init_gain(TG_NONLIN_TANH, 0), 5.0 / 3, 1e-15);
    CHECK_NEAR(tg_init_gain(TG_NONLIN_RELU, 0), sqrt(2.0), 1e-15);
    CHECK_NEAR(tg_init_gain(TG_NONLIN_LEAKY_RELU, 0.2), sqrt(2.0 / 1.04), 1e-15);
    double m, s, mx;
    CHECK(tg_init_uniform(w, -2, 3, &rng) == TG_OK, "uniform");
    stats(w, &m, &s, &mx);
    CHECK(fabs(m - 0.5) < 5 * 5 / sqrt(12 * 2e4) && fabs(s - 5 / sqrt(12.0)) < 0.05 * 5 / sqrt(12.0),
          "U(-2,3): mean %g sd %g", m, s);
    CHECK(tg_init_normal(w, 1.5, 0.5, &rng) == TG_OK, "normal");
    stats(w, &m, &s, NULL);
    CHECK(fabs(m - 1.5) < 5 * 0.5 / sqrt(2e4) && fabs(s - 0.5) < 0.025, "N(1.5,0.5): %g %g", m, s);
    tg_init_xavier_uniform(w, 1.0, &rng);
    CHECK_DIST(w, sqrt(6.0 / 300) / sqrt(3.0), "xavier_uniform");
    stats(w, &m, &s, &mx);
    CHECK(mx <= sqrt(6.0 / 300), "xavier bound");
    tg_init_xavier_normal(w, 2.0, &rng);
    CHECK_DIST(w, 2.0 * sqrt(2.0 / 300), "xavier_normal gain 2");
    tg_init_kaiming_uniform(w, 0, TG_FAN_IN, TG_NONLIN_RELU, &rng);
    CHECK_DIST(w, sqrt(2.0) / sqrt(100.0), "kaiming_uniform relu fan_in");
    stats(w, &m, &s, &mx);
    CHECK(mx <= sqrt(3.0) * sqrt(2.0) / 10, "kaiming bound");
    tg_init_kaiming_normal(w, 0, TG_FAN_OUT, TG_NONLIN_RELU, &rng);
    CHECK_DIST(w, sqrt(2.0) / sqrt(200.0), "kaiming_normal relu fan_out");
    tg_init_kaiming_uniform(k, 0.1, TG_FAN_IN, TG_NONLIN_LEAKY_RELU, &rng);
    CHECK_DIST(k, sqrt(2.0 / 1.01) / sqrt(144.0), "kaiming_uniform leaky conv fan_in");
    tg_init_kaiming_normal(k, 0, TG_FAN_OUT, TG_NONLIN_TANH, &rng);
    CHECK_DIST(k, 5.0 / 3 / sqrt(576.0), "kaiming_normal tanh conv fan_out");
    tg_init_kaiming_uniform(k, sqrt(5.0), TG_FAN_IN, TG_NONLIN_LEAKY_RELU, &rng); /* PyTorch conv default */
    stats(k, &m, &s, &mx);
    CHECK(mx <= 1 / sqrt(144.0) && mx > 0.99 / sqrt(144.0), "a = sqrt(5) gives U(+-1/sqrt(fan_in))");
    tg_init_zeros(w);
    stats(w, &m, &s, &mx);
    CHECK(mx == 0, "zeros");
    tg_init_ones(k);
    stats(k, &m, &s, &mx);
    CHECK(m == 1 && s == 0, "ones");
    tg_init_constant(w, -0.25);
    CHECK(tg_tensor_get(w, 19999) == -0.25, "constant");
    /* bad input */
    tg_tensor *v = tg_param_new(TG_F64, TG_SHAPE(10));
    CHECK(tg_init_xavier_uniform(v, 1, &rng) == TG_ERR_SHAPE, "fans need rank >= 2");
    CHECK(tg_init_kaiming_normal(v, 0, TG_FAN_IN, TG_NONLIN_RELU, &rng) == TG_ERR_SHAPE, "kaiming rank 1");
    CHECK(tg_init_uniform(NULL, 0, 1, &rng) == TG_ERR_NULL, "NULL tensor");
    CHECK(tg_init_normal(v, 0, 1, NULL) == TG_ERR_NULL, "NULL rng");
    tg_tape *tape = tg_tape_new();
    tg_tensor *idx = tg_zeros(tape, TG_I64, TG_SHAPE(3));
    CHECK(tg_init_ones(idx) == TG_ERR_DTYPE, "i64 tensor");
    /* a leaf on a tape can be initialized too */
    tg_tensor *leaf = tg_zeros(tape, TG_F64, TG_SHAPE(30, 20));
    CHECK(tg_init_xavier_uniform(leaf, 1, &rng) == TG_OK && tg_tensor_get(leaf, 5) != 0, "tape leaf");
    tg_tape_free(tape);
    tg_param_free(v);
    tg_param_free(w);
    tg_param_free(k);
}

/* -------------------------------------------------------------------- MLP */

typedef struct mlp_case {
    tg_sequential *net;
    tg_linear *lin[4];
    int nlin;
} mlp_case;

/* The MLP with its parameters replaced by the gradcheck's inputs
 * (inputs: x, then weight and bias of each Linear). */
static tg_tensor *mlp_fn(tg_tape *tape, tg_tensor *const *in, void *ud) {
    (void)tape;
    mlp_case *c = ud;
    tg_tensor *saved[8];
    for (int i = 0; i < c->nlin; i++) {
        saved[2 * i] = c->lin[i]->weight, saved[2 * i + 1] = c->lin[i]->bias;
        c->lin[i]->weight = in[1 + 2 * i], c->lin[i]->bias = in[2 + 2 * i];
    }
    tg_tensor *y = tg_sequential_forward(c->net, in[0]);
    for (int i = 0; i < c->nlin; i++)
        c->lin[i]->weight = saved[2 * i], c->lin[i]->bias = saved[2 * i + 1];
    return y;
}

/* Without a name, the keys and shapes of PyTorch's
 * nn.Sequential(Linear(3, 5), ReLU(), Linear(5, 2)).state_dict(). */
static void test_mlp_torch_names(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    for (int named = 0; named < 2; named++) {
        tg_params *ps = tg_params_new(TG_F32);
        tg_sequential *net = tg_mlp_new(ps, named ? "" : NULL, (int64_t[]){3, 5, 2}, 3, TG_ACT_RELU,
                                        TG_ACT_NONE, &rng);
        CHECK(net && tg_params_count(ps) == 4, "mlp: %s", tg_params_error(ps));
        const char *want[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
        const int64_t shapes[4][2] = {{5, 3}, {5, 0}, {2, 5}, {2, 0}};
        for (int i = 0; net && i < 4; i++) {
            tg_tensor *t = tg_params_at(ps, i);
            CHECK(!strcmp(tg_params_name(ps, i), want[i]), "name %d: %s, want %s", i,
                  tg_params_name(ps, i), want[i]);
            CHECK(tg_tensor_rank(t) == (shapes[i][1] ? 2 : 1) && tg_tensor_dim(t, 0) == shapes[i][0] &&
                      (!shapes[i][1] || tg_tensor_dim(t, 1) == shapes[i][1]),
                  "shape of %s", want[i]);
        }
        tg_params_free(ps);
    }
}

static void test_mlp(void) {
    static const char *names[] = {"none", "relu", "tanh", "sigmoid", "gelu", "leaky_relu"};
    for (int act = TG_ACT_RELU; act <= TG_ACT_LEAKY_RELU; act++) {
        tg_rng rng;
        tg_rng_seed(&rng, 10 + (uint64_t)act);
        tg_params *ps = tg_params_new(TG_F64);
        int64_t widths[] = {3, 5, 4, 2};
        tg_act out_act = act == TG_ACT_TANH ? TG_ACT_SIGMOID : TG_ACT_NONE;
        tg_sequential *net = tg_mlp_new(ps, "mlp", widths, 4, (tg_act)act, out_act, &rng);
        CHECK(net != NULL, "mlp %s: %s", names[act], tg_params_error(ps));
        if (!net) {
            tg_params_free(ps);
            continue;
        }
        CHECK(net->n == (out_act ? 6 : 5), "%s: %d layers", names[act], net->n);
        /* PyTorch's nn.Sequential names: activations take an index too */
        CHECK(tg_params_count(ps) == 6 && !strcmp(tg_params_name(ps, 0), "mlp.0.weight") &&
                  !strcmp(tg_params_name(ps, 3), "mlp.2.bias") &&
                  !strcmp(tg_params_name(ps, 4), "mlp.4.weight"),
              "%s: names %s %s %s", names[act], tg_params_name(ps, 0), tg_params_name(ps, 3),
              tg_params_name(ps, 4));
        CHECK(tg_params_numel(ps) == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2, "numel");
        CHECK(!strcmp(net->layers[1]->kind, names[act]), "activation kind %s", net->layers[1]->kind);
        mlp_case c = {net, {NULL}, 0};
        for (int i = 0; i < net->n; i++)
            if (!strcmp(net->layers[i]->kind, "linear")) c.lin[c.nlin++] = (tg_linear *)net->layers[i];
        tg_tape *tape = tg_tape_new();
        tg_tensor *in[7];
        in[0] = tg_rand_uniform(tape, TG_F64, TG_SHAPE(6, 3), &rng, -1.5, 1.5);
        for (int i = 0; i < 3; i++) {
            in[1 + 2 * i] = c.lin[i]->weight;
            in[2 + 2 * i] = c.lin[i]->bias;
        }
        tg_tensor *y = tg_sequential_forward(net, in[0]);
        CHECK(same_shape(y, TG_SHAPE(6, 2)), "%s: output shape", names[act]);
        if (out_act == TG_ACT_SIGMOID)
            CHECK(tg_tensor_get(y, 0) > 0 && tg_tensor_get(y, 0) < 1, "sigmoid output");
        tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 5, true, act != TG_ACT_RELU && act != TG_ACT_LEAKY_RELU};
        tg_gradcheck_report rep;
        bool ok = tg_gradcheck(mlp_fn, &c, 7, in, &o, &rep);
        CHECK(ok, "mlp %s gradcheck: %s", names[act], rep.msg);
        CHECK_OK(tape);
        tg_tape_free(tape);
        tg_params_free(ps);
    }
    /* parameter gradients through tg_backward (the proxy path) against
     * central differences of the loss in the parameters' own data */
    tg_rng rng;
    tg_rng_seed(&rng, 4);
    tg_params *ps = tg_params_new(TG_F64);
    tg_sequential *net = tg_mlp_new(ps, NULL, (int64_t[]){2, 3, 1}, 3, TG_ACT_TANH, TG_ACT_NONE, &rng);
    CHECK(!strcmp(tg_params_name(ps, 0), "0.weight"), "unnamed mlp: %s", tg_params_name(ps, 0));
    tg_tape *tape = tg_tape_new();
    double xs[8] = {0.5, -1, 0.25, 2, -0.75, 0.1, 1.5, -0.3};
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(4, 2), xs);
    tg_backward(tg_sum(tg_sequential_forward(net, x)));
    int bad = 0;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_tensor *p = tg_params_at(ps, i);
        for (int64_t k = 0; k < tg_tensor_numel(p); k++) {
            double *v = tg_tensor_f64(p) + k, v0 = *v, h = 1e-6, lp, lm;
            *v = v0 + h;
            lp = tg_item(tg_sum(tg_sequential_forward(net, x)));
            *v = v0 - h;
            lm = tg_item(tg_sum(tg_sequential_forward(net, x)));
            *v = v0;
            double fd = (lp - lm) / (2 * h), an = tg_tensor_get(tg_tensor_grad(p), k);
            if (fabs(fd - an) > 1e-7 * (1 + fabs(fd)) && !bad++)
                fprintf(stderr, "  %s[%lld]: backward %g, numeric %g\n", tg_params_name(ps, i),
                        (long long)k, an, fd);
        }
    }
    CHECK(bad == 0, "parameter gradients differ from finite differences");
    CHECK_OK(tape);
    /* bad input */
    CHECK(tg_mlp_new(ps, "m", (int64_t[]){3}, 1, TG_ACT_RELU, TG_ACT_NONE, &rng) == NULL, "one width");
    CHECK(tg_mlp_new(ps, "m", NULL, 3, TG_ACT_RELU, TG_ACT_NONE, &rng) == NULL, "NULL widths");
    CHECK(tg_mlp_new(ps, "m", (int64_t[]){3, 2}, 2, (tg_act)42, TG_ACT_NONE, &rng) == NULL, "bad act");
    CHECK(tg_mlp_new(ps, "m2", (int64_t[]){3, 0, 2}, 3, TG_ACT_RELU, TG_ACT_NONE, &rng) == NULL, "zero width");
    tg_tensor *y = tg_sequential_forward(net, tg_zeros(tape, TG_F64, TG_SHAPE(4, 5)));
    CHECK_ERR(y, tape, TG_ERR_SHAPE, "linear");
    tg_tape_free(tape);
    tg_params_free(ps);
}

/* ------------------------------------------------ sequential and the rest */

static void test_sequential(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    tg_params *ps = tg_params_new(TG_F64);
    tg_sequential *s = tg_sequential_new(ps);
    tg_layer *relu = tg_activation_new(ps, TG_ACT_RELU);
    CHECK(tg_sequential_add(s, relu) == TG_OK && tg_sequential_add(s, NULL) == TG_ERR_NULL, "add");
    for (int i = 1; i < TG_SEQ_MAX; i++) tg_sequential_add(s, relu);
    CHECK(tg_sequential_add(s, relu) == TG_ERR_ARG, "full container");
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){-1, 0.5, 2});
    tg_tensor *y = tg_sequential_forward(s, x);
    CHECK(y && tg_tensor_get(y, 0) == 0 && tg_tensor_get(y, 2) == 2, "64 relus");
    CHECK(tg_sequential_forward(NULL, x) == NULL && tg_tape_status(tape) == TG_ERR_NULL, "NULL container");
    tg_tape_reset(tape);
    CHECK(tg_layer_forward(NULL, tg_zeros(tape, TG_F64, TG_SHAPE(2))) == NULL &&
              tg_tape_status(tape) == TG_ERR_NULL, "NULL layer");
    CHECK(tg_act_forward(TG_ACT_NONE, x) == x, "identity");
    tg_tape_free(tape);
    tg_params_free(ps);
}

static void test_dropout(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 6);
    tg_params *ps = tg_params_new(TG_F64);
    tg_dropout_layer *d = tg_dropout_new(ps, 0.25, &rng);
    CHECK(d != NULL, "dropout layer");
    CHECK(tg_dropout_new(ps, 1.0, &rng) == NULL && tg_dropout_new(ps, -0.1, &rng) == NULL, "bad p");
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_ones(tape, TG_F64, TG_SHAPE(100, 100));
    tg_tensor *y = tg_layer_forward(&d->base, x);
    int zeros = 0, scaled = 0;
    for (int64_t i = 0; y && i < 10000; i++) {
        double v = tg_tensor_get(y, i);
        zeros += v == 0, scaled += fabs(v - 1 / 0.75) < 1e-15;
    }
    CHECK(zeros + scaled == 10000 && fabs((double)zeros - 2500) < 5 * sqrt(10000 * 0.25 * 0.75),
          "training: %d zeros, %d scaled", zeros, scaled);
    tg_params_set_training(ps, false);
    y = tg_layer_forward(&d->base, x);
    double m, s;
    stats(y, &m, &s, NULL);
    CHECK(m == 1 && s == 0, "eval: identity");
    CHECK_OK(tape);
    tg_tape_free(tape);
    tg_params_free(ps);
}

static void test_conv_embedding_norms(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    tg_params *ps = tg_params_new(TG_F64);
    tg_conv_opts co = {{1, 1}, {1, 1}, {1, 1}, 1};
    tg_conv2d_layer *conv = tg_conv2d_new(ps, "conv", 3, 8, 3, 3, &co, true, &rng);
    CHECK(conv && same_shape(conv->weight, TG_SHAPE(8, 3, 3, 3)) && same_shape(conv->bias, TG_SHAPE(8)),
          "conv2d parameters");
    double m, s, mx;
    stats(conv->weight, &m, &s, &mx);
    CHECK(mx <= 1 / sqrt(27.0) && mx > 0.9 / sqrt(27.0), "conv weight U(+-1/sqrt(27)): %g", mx);
    tg_conv_opts g2 = {{2, 2}, {0, 0}, {1, 1}, 2};
    tg_conv2d_layer *gconv = tg_conv2d_new(ps, "gconv", 4, 6, 2, 2, &g2, false, &rng);
    CHECK(gconv && same_shape(gconv->weight, TG_SHAPE(6, 2, 2, 2)) && !gconv->bias, "grouped conv");
    CHECK(tg_conv2d_new(ps, "bad", 3, 6, 2, 2, &g2, false, &rng) == NULL, "cin not divisible by groups");
    CHECK(strstr(tg_params_error(ps), "conv2d: channels not divisible") != NULL, "error: %s",
          tg_params_error(ps));
    tg_embedding_layer *emb = tg_embedding_new(ps, "emb", 1000, 64, &rng);
    CHECK(emb && same_shape(emb->weight, TG_SHAPE(1000, 64)), "embedding weight");
    CHECK_DIST(emb->weight, 1.0, "embedding N(0,1)");
    tg_layernorm_layer *ln = tg_layernorm_new(ps, "ln", 1, (int64_t[]){8}, 1e-5, true);
    CHECK(ln && tg_tensor_get(ln->weight, 3) == 1 && tg_tensor_get(ln->bias, 3) == 0, "layernorm 1, 0");
    tg_batchnorm_layer *bn = tg_batchnorm_new(ps, "bn", 8, 1e-5, 0.1, true);
    CHECK(bn && tg_params_find(ps, "bn.running_var") == bn->running_var, "batchnorm buffers");
    int ibuf = -1;
    for (int i = 0; i < tg_params_count(ps); i++)
        if (!strcmp(tg_params_name(ps, i), "bn.running_mean")) ibuf = i;
    CHECK(ibuf >= 0 && tg_params_is_buffer(ps, ibuf), "running_mean is a buffer");
    CHECK(tg_tensor_get(bn->running_var, 0) == 1 && tg_tensor_get(bn->running_mean, 0) == 0, "running init");

    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_rand_normal(tape, TG_F64, TG_SHAPE(2, 3, 5, 5), &rng, 0, 1);
    tg_tensor *y = tg_layer_forward(&conv->base, x);
    CHECK(same_shape(y, TG_SHAPE(2, 8, 5, 5)), "conv [2,3,5,5] -> [2,8,5,5]");
    y = tg_layer_forward(&bn->base, tg_add_scalar(y, 3.0));
    CHECK(same_shape(y, TG_SHAPE(2, 8, 5, 5)), "batchnorm shape");
    CHECK(tg_tensor_get(bn->running_mean, 0) > 0.1, "training updates running_mean: %g",
          tg_tensor_get(bn->running_mean, 0));
    tg_tensor *g = tg_layer_forward(&gconv->base, tg_rand_normal(tape, TG_F64, TG_SHAPE(1, 4, 6, 6), &rng, 0, 1));
    CHECK(same_shape(g, TG_SHAPE(1, 6, 3, 3)), "grouped strided conv");
    tg_tensor *idx = tg_zeros(tape, TG_I64, TG_SHAPE(2, 3));
    tg_tensor_i64(idx)[4] = 999;
    tg_tensor *e = tg_layer_forward(&emb->base, idx);
    CHECK(same_shape(e, TG_SHAPE(2, 3, 64)) && tg_tensor_get(e, 4 * 64 + 5) == tg_tensor_get(emb->weight, 999 * 64 + 5),
          "embedding lookup");
    tg_tensor *h = tg_rand_normal(tape, TG_F64, TG_SHAPE(4, 8), &rng, 2, 3);
    tg_tensor *n = tg_layer_forward(&ln->base, h);
    stats(tg_slice(n, 0, 0, 1, 1), &m, &s, NULL);
    CHECK(same_shape(n, TG_SHAPE(4, 8)) && fabs(m) < 1e-12 && fabs(s - 1) < 1e-3, "layernorm: %g %g", m, s);
    /* eval: batch norm uses the running statistics, so the output of one
     * sample does not depend on the others */
    tg_params_set_training(ps, false);
    double rm = tg_tensor_get(bn->running_mean, 0);
    tg_tensor *x1 = tg_rand_normal(tape, TG_F64, TG_SHAPE(1, 8, 2, 2), &rng, 0, 1);
    tg_tensor *z = tg_layer_forward(&bn->base, x1);
    double want = (tg_tensor_get(x1, 0) - rm) / sqrt(tg_tensor_get(bn->running_var, 0) + 1e-5);
    CHECK(z && fabs(tg_tensor_get(z, 0) - want) < 1e-12, "eval batchnorm: %g vs %g", tg_tensor_get(z, 0), want);
    CHECK(tg_tensor_get(bn->running_mean, 0) == rm, "eval leaves running stats alone");
    CHECK_OK(tape);
    /* an optimizer skips the buffers */
    tg_optim *opt = tg_sgd_new(ps, 0.1, NULL);
    tg_optim_step(opt);
    CHECK(tg_tensor_get(bn->running_mean, 0) == rm, "sgd leaves buffers alone");
    tg_optim_free(opt);
    CHECK(tg_embedding_new(ps, "e2", 0, 3, &rng) == NULL && tg_batchnorm_new(ps, "b2", 0, 1e-5, 0.1, true) == NULL &&
              tg_layernorm_new(ps, "l2", 0, NULL, 1e-5, true) == NULL,
          "bad sizes");
    tg_tape_free(tape);
    tg_params_free(ps);
}

/* --------------------------------------------- a short training run (XOR) */

static void test_train(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 8);
    tg_params *ps = tg_params_new(TG_F32);
    tg_sequential *net = tg_mlp_new(ps, "xor", (int64_t[]){2, 8, 1}, 3, TG_ACT_TANH, TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, 0.05, NULL);
    tg_tape *tape = tg_tape_new();
    float xs[8] = {0, 0, 0, 1, 1, 0, 1, 1}, ys[4] = {0, 1, 1, 0};
    double first = 0, last = 0;
    for (int it = 0; it < 300; it++) {
        tg_tape_reset(tape);
        tg_optim_zero_grad(opt);
        tg_tensor *x = tg_tensor_new(tape, TG_F32, TG_SHAPE(4, 2), xs);
        tg_tensor *y = tg_tensor_new(tape, TG_F32, TG_SHAPE(4, 1), ys);
        tg_tensor *d = tg_sub(tg_sequential_forward(net, x), y);
        tg_tensor *loss = tg_mean(tg_mul(d, d));
        tg_backward(loss);
        tg_optim_step(opt);
        last = tg_item(loss);
        if (it == 0) first = last;
    }
    CHECK_OK(tape);
    CHECK(last < 0.01 && last < first, "xor: loss %g -> %g", first, last);
    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_params_free(ps);
}

int main(void) {
    test_params();
    test_linear();
    test_linear_init_stats();
    test_init();
    test_mlp();
    test_mlp_torch_names();
    test_sequential();
    test_dropout();
    test_conv_embedding_norms();
    test_train();
    return TEST_DONE("nn_layers");
}
