/* custom_loss.c - write your own loss from primitive ops; tapegrad
 * differentiates it. No derivative is written by hand anywhere here.
 *
 *   Huber loss (robust regression), d = prediction - target:
 *       0.5 d^2                    where |d| <  delta
 *       delta (|d| - 0.5 delta)    where |d| >= delta
 *   Focal loss (Lin et al. 2017, for rare classes), on a logit x with
 *   label y in {0, 1}:  p_t = p if y = 1 else 1 - p, p = sigmoid(x),
 *       -alpha_t (1 - p_t)^gamma log(p_t)
 *   which down-weights the easy, well-classified examples.
 *
 * Each is a few lines of ops. tg_gradcheck compares the gradients the tape
 * computes with central finite differences (in f64, both backward paths).
 * Then each loss trains a small model:
 *   - a line fitted to data with outliers: Huber against mean squared
 *     error (the outliers drag the MSE fit; Huber shrugs them off);
 *   - a linear classifier on imbalanced data (5% positives) with the
 *     focal loss.
 *
 * Build and run: ninja -C build && ./build/examples/custom_loss
 * Exits 1 if a gradient check fails or a loss did not fall.
 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>

#include "common.h"

/* ------------------------------------------------------- the two losses */

/* Huber loss, mean over elements. */
static tg_tensor *huber(tg_tensor *pred, tg_tensor *target, double delta) {
    tg_tensor *d = tg_sub(pred, target);
    tg_tensor *a = tg_abs(d);
    tg_tensor *quadratic = tg_mul_scalar(tg_mul(d, d), 0.5);
    tg_tensor *linear = tg_mul_scalar(tg_sub_scalar(a, 0.5 * delta), delta);
    tg_tensor *small = tg_lt(a, tg_scalar_as(tg_tensor_tape(a), tg_tensor_dtype(a), delta));
    return tg_mean(tg_where(small, quadratic, linear));
}

/* Focal loss on logits, mean over elements. log p and log(1 - p) come from
 * softplus, which stays finite for any logit: log sigmoid(x) = -softplus(-x). */
static tg_tensor *focal(tg_tensor *logit, tg_tensor *y, double alpha, double gamma) {
    tg_tensor *log_p = tg_neg(tg_softplus(tg_neg(logit), 1, 20));  /* log p       */
    tg_tensor *log_q = tg_neg(tg_softplus(logit, 1, 20));          /* log (1 - p) */
    tg_tensor *not_y = tg_rsub_scalar(y, 1);
    tg_tensor *log_pt = tg_add(tg_mul(y, log_p), tg_mul(not_y, log_q));
    tg_tensor *pt = tg_exp(log_pt);
    tg_tensor *alpha_t = tg_add_scalar(tg_mul_scalar(y, 2 * alpha - 1), 1 - alpha); /* alpha or 1-alpha */
    tg_tensor *weight = tg_mul(alpha_t, tg_pow_scalar(tg_rsub_scalar(pt, 1), gamma));
    return tg_mean(tg_neg(tg_mul(weight, log_pt)));
}

/* ---------------------------------------------------- gradient checking */

static tg_tensor *huber_fn(tg_tape *tape, tg_tensor *const *in, void *ud) {
    (void)tape, (void)ud;
    return huber(in[0], in[1], 1.0);
}

static tg_tensor *focal_fn(tg_tape *tape, tg_tensor *const *in, void *ud) {
    (void)tape, (void)ud;
    return focal(in[0], in[1], 0.25, 2.0);
}

static bool check(const char *name, tg_gradcheck_fn fn, tg_tensor *a, tg_tensor *b) {
    tg_gradcheck_report rep;
    tg_gradcheck_opts o = {.eps = 1e-6, .atol = 1e-7, .rtol = 1e-5, .graph = true, .second = true};
    bool ok = tg_gradcheck(fn, NULL, 2, (tg_tensor *[]){a, b}, &o, &rep);
    printf("tg_gradcheck %-6s first and second derivatives vs finite differences: %s",
           name, ok ? "ok" : rep.msg);
    if (ok) printf(" (worst %.2g of the tolerance)", rep.worst);
    printf("\n");
    return ok;
}

/* -------------------------------------------------------------- training */

/* Fits y = w x + b by Adam on the given loss (0: MSE, 1: Huber). */
static double fit_line(int which, const float *x, const float *y, int n, long steps, double *w,
                       double *b, double *first, double *last) {
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    tg_params *ps = tg_params_new(TG_F32);
    tg_linear *lin = tg_linear_new(ps, "line", 1, 1, true, &rng);
    tg_optim *opt = tg_adam_new(ps, 0.05, NULL);
    tg_tape *tape = tg_tape_new();
    for (long s = 0; s < steps; s++) {
        tg_tensor *xt = tg_tensor_new(tape, TG_F32, TG_SHAPE(n, 1), x);
        tg_tensor *yt = tg_tensor_new(tape, TG_F32, TG_SHAPE(n, 1), y);
        tg_tensor *pred = tg_linear_forward(lin, xt);
        tg_tensor *loss = which ? huber(pred, yt, 1.0) : tg_mse_loss(pred, yt, TG_REDUCE_MEAN);
        tg_optim_zero_grad(opt);
        tg_backward(loss);
        if (!tg_tape_ok(tape)) {
            fprintf(stderr, "error: %s\n", tg_tape_error(tape));
            break;
        }
        tg_optim_step(opt);
        if (s == 0) *first = tg_item(loss);
        *last = tg_item(loss);
        tg_tape_reset(tape);
    }
    *w = tg_tensor_get(lin->weight, 0);
    *b = tg_tensor_get(lin->bias, 0);
    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_params_free(ps);
    return *last;
}

int main(int argc, char **argv) {
    long steps = 400;
    const ex_flag flags[] = {{"--steps", EX_INT, &steps, "training steps for each model"}};
    EX_PARSE(argc, argv, "Huber and focal losses from primitive ops.", flags);
    ex_require(steps >= 1, argv[0], "--steps", "at least 1", (double)steps);
    int bad = 0;
    tg_rng rng;
    tg_rng_seed(&rng, 3);

    /* 1. Gradient checks at random points; for Huber, differences on both
     *    sides of the kink |d| = delta (but not on it). */
    tg_tape *tape = tg_tape_new();
    tg_tensor *pred = tg_rand_normal(tape, TG_F64, TG_SHAPE(3, 4), &rng, 0, 1.5);
    tg_tensor *tgt = tg_rand_normal(tape, TG_F64, TG_SHAPE(3, 4), &rng, 0, 1.5);
    tg_tensor_f64(pred)[0] = 0.9, tg_tensor_f64(tgt)[0] = 0.0;   /* d = 0.9, inside */
    tg_tensor_f64(pred)[1] = 1.1, tg_tensor_f64(tgt)[1] = 0.0;   /* d = 1.1, outside */
    bad |= !check("huber", huber_fn, pred, tgt);
    tg_tensor *logit = tg_rand_normal(tape, TG_F64, TG_SHAPE(8), &rng, 0, 3);
    tg_tensor *label = tg_tensor_new(tape, TG_F64, TG_SHAPE(8), (double[]){0, 1, 1, 0, 0, 0, 1, 0});
    bad |= !check("focal", focal_fn, logit, label);
    /* Our Huber against the library's: the same numbers. */
    double ours = tg_item(huber(pred, tgt, 1.0));
    double lib = tg_item(tg_huber_loss(pred, tgt, 1.0, TG_REDUCE_MEAN));
    printf("huber written here %.12f, tg_huber_loss %.12f\n\n", ours, lib);
    bad |= fabs(ours - lib) > 1e-12;
    tg_tape_free(tape);

    /* 2. A line through points with outliers: y = 2x + 1 + noise, and the
     *    points i = 0, 10, 20, ... that fall at x > 0 lifted by 8. */
    enum { N = 100 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(2 * tg_rng_uniform(&rng) - 1);
        y[i] = (float)(2 * x[i] + 1 + 0.1 * tg_rng_normal(&rng) + (i % 10 == 0 && x[i] > 0 ? 8 : 0));
    }
    double w, b, first, last;
    printf("fitting y = 2x + 1 to %d points, a few of them outliers lifted by 8:\n", N);
    fit_line(0, x, y, N, steps, &w, &b, &first, &last);
    printf("  MSE:   w = %.3f  b = %.3f   (loss %.4f -> %.4f)\n", w, b, first, last);
    bad |= !(last < first);
    fit_line(1, x, y, N, steps, &w, &b, &first, &last);
    printf("  Huber: w = %.3f  b = %.3f   (loss %.4f -> %.4f)\n\n", w, b, first, last);
    bad |= !(last < first);

    /* 3. A linear classifier on imbalanced data: 5% positives around (2, 2),
     *    the rest around (0, 0). */
    enum { M = 1000 };
    static float px[M][2], py[M][1];
    for (int i = 0; i < M; i++) {
        int pos = i % 20 == 0;
        py[i][0] = (float)pos;
        px[i][0] = (float)(2 * pos + tg_rng_normal(&rng));
        px[i][1] = (float)(2 * pos + tg_rng_normal(&rng));
    }
    tg_params *ps = tg_params_new(TG_F32);
    tg_linear *clf = tg_linear_new(ps, "clf", 2, 1, true, &rng);
    tg_optim *opt = tg_adam_new(ps, 0.05, NULL);
    tape = tg_tape_new();
    double f0 = 0, f1 = 0;
    printf("focal loss (alpha 0.25, gamma 2) on 5%% positives:\n");
    for (long s = 0; s < steps; s++) {
        tg_tensor *xt = tg_tensor_new(tape, TG_F32, TG_SHAPE(M, 2), px);
        tg_tensor *yt = tg_tensor_new(tape, TG_F32, TG_SHAPE(M, 1), py);
        tg_tensor *loss = focal(tg_linear_forward(clf, xt), yt, 0.25, 2.0);
        tg_optim_zero_grad(opt);
        tg_backward(loss);
        if (!tg_tape_ok(tape)) {
            fprintf(stderr, "error: %s\n", tg_tape_error(tape));
            return 1;
        }
        tg_optim_step(opt);
        if (s == 0) f0 = tg_item(loss);
        f1 = tg_item(loss);
        if (s % 100 == 0 || s == steps - 1) printf("  step %4ld  loss %.5f\n", s, f1);
        tg_tape_reset(tape);
    }
    /* Recall on the rare class and overall accuracy. */
    tg_tape_set_grad_enabled(tape, false);
    tg_tensor *logits = tg_linear_forward(clf, tg_tensor_new(tape, TG_F32, TG_SHAPE(M, 2), px));
    int tp = 0, npos = 0, correct = 0;
    for (int i = 0; i < M; i++) {
        int pred1 = tg_tensor_get(logits, i) > 0, pos = py[i][0] > 0.5f;
        npos += pos;
        tp += pos && pred1;
        correct += pred1 == pos;
    }
    printf("  accuracy %.3f, positives found %d of %d\n", (double)correct / M, tp, npos);
    tg_tape_free(tape);
    tg_optim_free(opt);
    tg_params_free(ps);
    bad |= ex_loss_report(f0, f1);
    return bad;
}
