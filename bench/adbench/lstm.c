/* lstm.c - ADBench's multi-layer LSTM character model objective
 * (src/cpp/shared/lstm.h): the plain-C objective, and its gradient with
 * tapegrad's tensor ops.
 *
 * Legend: l layers, c characters, b hidden size. One layer, per unit
 * (ADBench's definition: forget and outgate read the input, ingate and
 * change the previous hidden state):
 *   f = sigm(x Wf + bf), i = sigm(h Wi + bi), o = sigm(x Wo + bo),
 *   g = tanh(h Wc + bc); cell = cell f + i g; h = o tanh(cell)
 * A step feeds sequence[t] .* in_weight through the layers; the output is
 * h .* out_weight + out_bias; the loss is -sum_t <sequence[t+1],
 * y_t - log(sum exp y_t + 2)> / ((c - 1) b) (ADBench's logsumexp adds 2).
 * The tensor form runs the recurrence step by step on [1, b] rows and the
 * output layer once, on all c - 1 steps stacked. */
#include "adbench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* one layer, one step: hidden, cell (b) updated in place */
static void lstm_model(int b, const double *weight, const double *bias, double *hidden,
                       double *cell, const double *input, double *gates /* (4, b) */) {
    for (int j = 0; j < b; j++) {
        gates[j] = sigm(input[j] * weight[j] + bias[j]);
        gates[b + j] = sigm(hidden[j] * weight[b + j] + bias[b + j]);
        gates[2 * b + j] = sigm(input[j] * weight[2 * b + j] + bias[2 * b + j]);
        gates[3 * b + j] = tanh(hidden[j] * weight[3 * b + j] + bias[3 * b + j]);
    }
    for (int j = 0; j < b; j++) {
        cell[j] = cell[j] * gates[j] + gates[b + j] * gates[3 * b + j];
        hidden[j] = gates[2 * b + j] * tanh(cell[j]);
    }
}

double adb_lstm_objective(const adb_lstm *s) {
    int l = s->l, c = s->c, b = s->b;
    double *state = malloc((size_t)2 * l * b * sizeof *state);
    double *x = malloc((size_t)b * sizeof *x), *y = malloc((size_t)b * sizeof *y);
    double *gates = malloc((size_t)4 * b * sizeof *gates);
    if (!state || !x || !y || !gates) {
        free(state), free(x), free(y), free(gates);
        return NAN;
    }
    memcpy(state, s->state, (size_t)2 * l * b * sizeof *state);
    const double *in_w = s->extra_params, *out_w = in_w + b, *out_b = in_w + 2 * b;
    double total = 0;
    long count = 0;
    for (int t = 0; t < c - 1; t++) {
        const double *input = s->seq + (size_t)t * b, *target = input + b;
        for (int j = 0; j < b; j++) x[j] = input[j] * in_w[j];
        for (int i = 0; i < l; i++) {
            const double *w = s->main_params + (size_t)8 * b * i;
            double *h = state + (size_t)2 * b * i;
            lstm_model(b, w, w + 4 * b, h, h + b, x, gates);
            memcpy(x, h, (size_t)b * sizeof *x);
        }
        double sum = 0;
        for (int j = 0; j < b; j++) {
            y[j] = x[j] * out_w[j] + out_b[j];
            sum += exp(y[j]);
        }
        double lse = log(sum + 2);
        for (int j = 0; j < b; j++) total += target[j] * (y[j] - lse);
        count += b;
    }
    free(state), free(x), free(y), free(gates);
    return -total / (double)count;
}

bool adb_lstm_grad(tg_tape *tape, const adb_lstm *s, double *f, double *grad) {
    int l = s->l, c = s->c, b = s->b, T = c - 1;
    if (T < 1) return false;
    tg_tape_reset(tape);
    tg_tape_set_grad_enabled(tape, grad != NULL);
    tg_tensor *mp = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(8 * l * b),
                                                    s->main_params));
    tg_tensor *ep = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3 * b),
                                                    s->extra_params));
    /* the 8 rows of each layer: weights f, i, o, g then biases (views) */
    tg_tensor **wb = malloc((size_t)8 * l * sizeof *wb);
    tg_tensor **state = malloc((size_t)2 * l * sizeof *state); /* h, cell per layer */
    tg_tensor **hs = malloc((size_t)T * sizeof *hs);           /* last layer's h, per step */
    if (!wb || !state || !hs) {
        free(wb), free(state), free(hs);
        return false;
    }
    for (int r = 0; r < 8 * l; r++) wb[r] = tg_slice(mp, 0, (int64_t)r * b, (int64_t)(r + 1) * b, 1);
    for (int r = 0; r < 2 * l; r++)
        state[r] = tg_tensor_new(tape, TG_F64, TG_SHAPE(1, b), s->state + (size_t)r * b);
    tg_tensor *in_w = tg_slice(ep, 0, 0, b, 1), *out_w = tg_slice(ep, 0, b, 2 * b, 1);
    tg_tensor *out_b = tg_slice(ep, 0, 2 * b, 3 * b, 1);
    tg_tensor *inputs = tg_tensor_new(tape, TG_F64, TG_SHAPE(T, b), s->seq);          /* (T, b) */
    tg_tensor *targets = tg_tensor_new(tape, TG_F64, TG_SHAPE(T, b), s->seq + b);     /* (T, b) */
    tg_tensor *xs = tg_mul(inputs, in_w);                                             /* (T, b) */
    for (int t = 0; t < T; t++) {
        tg_tensor *x = tg_slice(xs, 0, t, t + 1, 1); /* (1, b) */
        for (int i = 0; i < l; i++) {
            tg_tensor *const *W = wb + 8 * i, *const *B = W + 4;
            tg_tensor *h = state[2 * i], *cell = state[2 * i + 1];
            tg_tensor *fg = tg_sigmoid(tg_add(tg_mul(x, W[0]), B[0]));
            tg_tensor *ig = tg_sigmoid(tg_add(tg_mul(h, W[1]), B[1]));
            tg_tensor *og = tg_sigmoid(tg_add(tg_mul(x, W[2]), B[2]));
            tg_tensor *ch = tg_tanh(tg_add(tg_mul(h, W[3]), B[3]));
            cell = tg_add(tg_mul(cell, fg), tg_mul(ig, ch));
            h = tg_mul(og, tg_tanh(cell));
            state[2 * i] = h, state[2 * i + 1] = cell;
            x = h;
        }
        hs[t] = x;
    }
    tg_tensor *y = tg_add(tg_mul(tg_concat(T, hs, 0), out_w), out_b);                 /* (T, b) */
    tg_tensor *lse = tg_log(tg_add_scalar(tg_sum_axis(tg_exp(y), 1, true), 2.0));    /* (T, 1) */
    tg_tensor *total = tg_sum(tg_mul(targets, tg_sub(y, lse)));
    tg_tensor *loss = tg_mul_scalar(total, -1.0 / ((double)T * b));
    free(wb), free(state), free(hs);
    *f = tg_item(loss);
    if (!grad) return tg_tape_ok(tape);
    if (tg_backward(loss) != TG_OK) return false;
    const double *gm = tg_tensor_f64(tg_tensor_grad(mp));
    const double *ge = tg_tensor_f64(tg_tensor_grad(ep));
    if (!gm || !ge) return false;
    memcpy(grad, gm, (size_t)8 * l * b * sizeof *grad);
    memcpy(grad + 8 * l * b, ge, (size_t)3 * b * sizeof *grad);
    return tg_tape_ok(tape);
}
