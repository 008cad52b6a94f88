/* init.c - initializers with PyTorch's formulas (torch.nn.init), drawn
 * from a seeded tg_rng so that the same seed gives the same model
 * everywhere. Each fills the raw data of a float tensor in place. */
#include <math.h>

#include "tapegrad.h"

/* Fills t with lo + (hi - lo) u (uniform) or lo + hi z (normal). */
static tg_status fill(tg_tensor *t, tg_rng *rng, double lo, double hi, bool normal) {
    if (!t || !rng) return TG_ERR_NULL;
    float *f = tg_tensor_f32(t);
    double *d = tg_tensor_f64(t);
    if (!f && !d) return TG_ERR_DTYPE;
    int64_t n = tg_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = normal ? lo + hi * tg_rng_normal(rng) : lo + (hi - lo) * tg_rng_uniform(rng);
        if (f) f[i] = (float)v;
        else d[i] = v;
    }
    return TG_OK;
}

tg_status tg_init_constant(tg_tensor *t, double v) {
    if (!t) return TG_ERR_NULL;
    float *f = tg_tensor_f32(t);
    double *d = tg_tensor_f64(t);
    if (!f && !d) return TG_ERR_DTYPE;
    int64_t n = tg_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        if (f) f[i] = (float)v;
        else d[i] = v;
    }
    return TG_OK;
}

tg_status tg_init_zeros(tg_tensor *t) { return tg_init_constant(t, 0.0); }
tg_status tg_init_ones(tg_tensor *t) { return tg_init_constant(t, 1.0); }

tg_status tg_init_uniform(tg_tensor *t, double lo, double hi, tg_rng *rng) {
    return fill(t, rng, lo, hi, false);
}

tg_status tg_init_normal(tg_tensor *t, double mean, double std, tg_rng *rng) {
    return fill(t, rng, mean, std, true);
}

double tg_init_gain(tg_nonlin nl, double negative_slope) {
    switch (nl) {
    case TG_NONLIN_TANH: return 5.0 / 3.0;
    case TG_NONLIN_RELU: return sqrt(2.0);
    case TG_NONLIN_LEAKY_RELU: return sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    default: return 1.0; /* linear, sigmoid */
    }
}

/* torch.nn.init._calculate_fan_in_and_fan_out: rank >= 2; axis 0 is out,
 * axis 1 is in, the rest is the receptive field (conv kernels). */
static tg_status fans(const tg_tensor *t, double *fan_in, double *fan_out) {
    if (!t) return TG_ERR_NULL;
    int rank = tg_tensor_rank(t);
    if (rank < 2) return TG_ERR_SHAPE;
    double field = 1;
    for (int d = 2; d < rank; d++) field *= (double)tg_tensor_dim(t, d);
    *fan_in = (double)tg_tensor_dim(t, 1) * field;
    *fan_out = (double)tg_tensor_dim(t, 0) * field;
    return TG_OK;
}

tg_status tg_init_xavier_uniform(tg_tensor *t, double gain, tg_rng *rng) {
    double fi, fo;
    tg_status s = fans(t, &fi, &fo);
    if (s != TG_OK) return s;
    double a = gain * sqrt(6.0 / (fi + fo));
    return fill(t, rng, -a, a, false);
}

tg_status tg_init_xavier_normal(tg_tensor *t, double gain, tg_rng *rng) {
    double fi, fo;
    tg_status s = fans(t, &fi, &fo);
    if (s != TG_OK) return s;
    return fill(t, rng, 0.0, gain * sqrt(2.0 / (fi + fo)), true);
}

static tg_status kaiming(tg_tensor *t, double a, tg_fan mode, tg_nonlin nl, tg_rng *rng,
                         bool normal) {
    double fi, fo;
    tg_status s = fans(t, &fi, &fo);
    if (s != TG_OK) return s;
    double std = tg_init_gain(nl, a) / sqrt(mode == TG_FAN_OUT ? fo : fi);
    if (normal) return fill(t, rng, 0.0, std, true);
    double bound = sqrt(3.0) * std;
    return fill(t, rng, -bound, bound, false);
}

tg_status tg_init_kaiming_uniform(tg_tensor *t, double a, tg_fan mode, tg_nonlin nl,
                                  tg_rng *rng) {
    return kaiming(t, a, mode, nl, rng, false);
}

tg_status tg_init_kaiming_normal(tg_tensor *t, double a, tg_fan mode, tg_nonlin nl,
                                 tg_rng *rng) {
    return kaiming(t, a, mode, nl, rng, true);
}
