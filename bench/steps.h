/* steps.h - the work the benchmarks time, written once for the benchmarks
 * (bench_rosenbrock_tensor.c, bench_conv.c, bench_mlp_epoch.c) and for
 * profile_steps.c, which runs the same work alone for profilers. */
#ifndef TG_BENCH_STEPS_H
#define TG_BENCH_STEPS_H

#include <tapegrad.h>

#include <stdio.h>
#include <stdlib.h>

/* One tensor Rosenbrock pass on a freshly reset tape: x (n, f64) a leaf
 * holding x0, f(x) = sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2) and its
 * backward. Returns f's tensor; *x_out receives x (its grad is the result). */
static inline tg_tensor *bench_rosenbrock_pass(tg_tape *tape, int64_t n, const double *x0,
                                               tg_tensor **x_out) {
    tg_tape_reset(tape);
    tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, 1, &n, x0));
    tg_tensor *a = tg_slice(x, 0, 0, n - 1, 1), *b = tg_slice(x, 0, 1, n, 1);
    tg_tensor *t1 = tg_sub(b, tg_mul(a, a));
    tg_tensor *t2 = tg_rsub_scalar(a, 1.0);
    tg_tensor *y = tg_sum(tg_add(tg_mul_scalar(tg_mul(t1, t1), 100.0), tg_mul(t2, t2)));
    tg_backward(y);
    *x_out = x;
    return y;
}

/* The small CNN: a 32x1x28x28 f32 input through conv(1->32, 3x3) + relu +
 * max_pool2d(2) + conv(32->64, 3x3); loss = sum of the output. */
typedef struct bench_cnn {
    tg_tape *tape;
    tg_tensor *w1, *b1, *w2, *b2; /* parameters */
    float *x;                     /* (32, 1, 28, 28) */
} bench_cnn;

static inline void bench_fill(tg_tensor *p, tg_rng *r, double scale) {
    float *v = tg_tensor_f32(p);
    for (int64_t i = 0; i < tg_tensor_numel(p); i++) v[i] = (float)(tg_rng_normal(r) * scale);
}

/* Allocates and seeds the network; false when out of memory. */
static inline bool bench_cnn_init(bench_cnn *c) {
    c->tape = tg_tape_new();
    c->w1 = tg_param_new(TG_F32, TG_SHAPE(32, 1, 3, 3));
    c->b1 = tg_param_new(TG_F32, TG_SHAPE(32));
    c->w2 = tg_param_new(TG_F32, TG_SHAPE(64, 32, 3, 3));
    c->b2 = tg_param_new(TG_F32, TG_SHAPE(64));
    c->x = malloc(sizeof(float) * 32 * 28 * 28);
    if (!c->tape || !c->w1 || !c->b1 || !c->w2 || !c->b2 || !c->x) return false;
    tg_rng r;
    tg_rng_seed(&r, 1);
    for (int i = 0; i < 32 * 28 * 28; i++) c->x[i] = (float)tg_rng_normal(&r);
    bench_fill(c->w1, &r, 1.0 / 3), bench_fill(c->b1, &r, 1.0 / 3);
    bench_fill(c->w2, &r, 1.0 / 17), bench_fill(c->b2, &r, 1.0 / 17);
    return true;
}

/* One step: reset the tape, zero the gradients, forward, backward. */
static inline tg_status bench_cnn_step(bench_cnn *c) {
    tg_tape_reset(c->tape);
    tg_zero_grad(c->w1), tg_zero_grad(c->b1), tg_zero_grad(c->w2), tg_zero_grad(c->b2);
    tg_tensor *x = tg_tensor_new(c->tape, TG_F32, TG_SHAPE(32, 1, 28, 28), c->x);
    tg_tensor *h = tg_relu(tg_conv2d(x, c->w1, c->b1, NULL));
    h = tg_max_pool2d(h, &(tg_pool_opts){.kernel = {2, 2}});
    return tg_backward(tg_sum(tg_conv2d(h, c->w2, c->b2, NULL)));
}

static inline void bench_cnn_free(bench_cnn *c) {
    tg_tape_free(c->tape);
    tg_param_free(c->w1), tg_param_free(c->b1), tg_param_free(c->w2), tg_param_free(c->b2);
    free(c->x);
}

/* The Fashion-MNIST training set from dir, scaled to [0, 1]; false (with
 * the reason on stderr) when it cannot be read. */
static inline bool bench_load_train(const char *dir, tg_dataset *d) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    if (tg_mnist_load_dir(dir, true, d) != TG_OK) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    tg_dataset_scale(d, 0, 255);
    return true;
}

/* The flagship MLP: 784-100-10, ReLU, Adam lr 1e-3, cross entropy, batch
 * 64, shuffled batches, f32, seeded with 0. */
typedef struct bench_mlp {
    tg_params *ps;
    tg_sequential *net;
    tg_optim *opt;
    tg_batcher b;
    tg_tape *tape;
} bench_mlp;

static inline bool bench_mlp_init(bench_mlp *m, const tg_dataset *d, char *err, size_t errn) {
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    m->ps = tg_params_new(TG_F32);
    m->net = tg_mlp_new(m->ps, "mlp", (int64_t[]){784, 100, 10}, 3, TG_ACT_RELU, TG_ACT_NONE,
                        &rng);
    m->opt = tg_adam_new(m->ps, 1e-3, NULL);
    m->tape = tg_tape_new();
    bool ok = tg_batcher_init(&m->b, d, 64, true, 1) == TG_OK && m->net && m->opt && m->tape;
    if (!ok) snprintf(err, errn, "%s", tg_last_error()); /* the sentence, for the caller */
    return ok;
}

/* One epoch; returns clock() after minus before; *loss the last batch's. */
static inline double bench_mlp_epoch(bench_mlp *m, const tg_dataset *d, double (*clock)(void),
                                     double *loss) {
    const int64_t *idx;
    int64_t n;
    double t0 = clock();
    while ((n = tg_batcher_next(&m->b, &idx)) > 0) {
        tg_tensor *x = tg_dataset_batch_x(m->tape, d, n, idx, TG_F32, true);
        tg_tensor *y = tg_dataset_batch_y(m->tape, d, n, idx);
        tg_tensor *l = tg_cross_entropy(tg_sequential_forward(m->net, x), y, TG_REDUCE_MEAN, -100,
                                        0.0);
        tg_backward(l);
        *loss = tg_item(l);
        tg_optim_step(m->opt);
        tg_optim_zero_grad(m->opt);
        if (!tg_tape_ok(m->tape)) {
            fprintf(stderr, "error: %s\n", tg_tape_error(m->tape));
            exit(1);
        }
        tg_tape_reset(m->tape);
    }
    return clock() - t0;
}

static inline void bench_mlp_free(bench_mlp *m) {
    tg_tape_free(m->tape);
    tg_batcher_free(&m->b);
    tg_optim_free(m->opt);
    tg_params_free(m->ps);
}

#endif
