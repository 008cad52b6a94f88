/* layers.c - the layers that wrap the nn ops (ops/dropout.c, ops/conv.c,
 * ops/index.c, ops/norm.c): Dropout, Conv2d, Embedding, LayerNorm, BatchNorm. Each is
 * a struct starting with a tg_layer, owned by its tg_params, with
 * PyTorch's default initialization. */
#include <math.h>
#include <stdio.h>

#include "errbuf.h"
#include "layer_private.h"

static tg_tensor *add(tg_params *ps, const char *name, const char *suffix, int rank,
                      const int64_t *shape, int flags) {
    char buf[256];
    if (name && name[0]) snprintf(buf, sizeof buf, "%s.%s", name, suffix);
    else snprintf(buf, sizeof buf, "%s", suffix);
    return tg_params_add(ps, buf, rank, shape, flags);
}

/* ---------------------------------------------------------------- dropout */

static tg_tensor *dropout_fwd(tg_layer *self, tg_tensor *x) {
    tg_dropout_layer *l = (tg_dropout_layer *)self;
    return tg_dropout(x, l->p, tg_params_training(self->ps), &l->rng);
}

tg_dropout_layer *tg_dropout_new(tg_params *ps, double p, tg_rng *rng) {
    if (!(p >= 0 && p < 1) || !rng) {
        tg_params_fail(ps, "dropout: %s", !rng ? "rng is NULL" : "p must be in [0, 1)");
        return NULL;
    }
    tg_dropout_layer *l = tg__layer_alloc(ps, sizeof *l, "dropout", dropout_fwd);
    if (!l) return NULL;
    l->p = p;
    tg_rng_seed(&l->rng, tg_rng_next(rng));
    return l;
}

/* ----------------------------------------------------------------- conv2d */

static tg_tensor *conv2d_fwd(tg_layer *self, tg_tensor *x) {
    tg_conv2d_layer *l = (tg_conv2d_layer *)self;
    return tg_conv2d(x, l->weight, l->bias, &l->opts);
}

tg_conv2d_layer *tg_conv2d_new(tg_params *ps, const char *name, int64_t cin, int64_t cout,
                               int64_t kh, int64_t kw, const tg_conv_opts *opts, bool bias,
                               tg_rng *rng) {
    int groups = opts && opts->groups > 0 ? opts->groups : 1;
    if (cin <= 0 || cout <= 0 || kh <= 0 || kw <= 0 || cin % groups || cout % groups || !rng) {
        tg_params_fail(ps, "conv2d: %s", !rng ? "rng is NULL"
                       : cin % groups || cout % groups ? "channels not divisible by groups"
                                                       : "sizes must be positive");
        return NULL;
    }
    tg_conv2d_layer *l = tg__layer_alloc(ps, sizeof *l, "conv2d", conv2d_fwd);
    if (!l) return NULL;
    l->cin = cin, l->cout = cout, l->kh = kh, l->kw = kw;
    if (opts) l->opts = *opts;
    l->weight = add(ps, name, "weight", TG_SHAPE(cout, cin / groups, kh, kw), 0);
    if (bias) l->bias = add(ps, name, "bias", TG_SHAPE(cout), 0);
    if (!l->weight || (bias && !l->bias)) return NULL;
    double bound = 1.0 / sqrt((double)(cin / groups * kh * kw));
    tg_init_uniform(l->weight, -bound, bound, rng);
    if (bias) tg_init_uniform(l->bias, -bound, bound, rng);
    return l;
}

/* -------------------------------------------------------------- embedding */

static tg_tensor *embedding_fwd(tg_layer *self, tg_tensor *x) {
    return tg_embedding(((tg_embedding_layer *)self)->weight, x);
}

tg_embedding_layer *tg_embedding_new(tg_params *ps, const char *name, int64_t num, int64_t dim,
                                     tg_rng *rng) {
    if (num <= 0 || dim <= 0 || !rng) {
        tg_params_fail(ps, "embedding: %s", !rng ? "rng is NULL" : "sizes must be positive");
        return NULL;
    }
    tg_embedding_layer *l = tg__layer_alloc(ps, sizeof *l, "embedding", embedding_fwd);
    if (!l) return NULL;
    l->num = num, l->dim = dim;
    l->weight = add(ps, name, "weight", TG_SHAPE(num, dim), 0);
    if (!l->weight) return NULL;
    tg_init_normal(l->weight, 0, 1, rng);
    return l;
}

/* ------------------------------------------------------------------ norms */

static tg_tensor *layernorm_fwd(tg_layer *self, tg_tensor *x) {
    tg_layernorm_layer *l = (tg_layernorm_layer *)self;
    return tg_layer_norm(x, l->naxes, l->weight, l->bias, l->eps);
}

tg_layernorm_layer *tg_layernorm_new(tg_params *ps, const char *name, int naxes,
                                     const int64_t *shape, double eps, bool affine) {
    if (naxes <= 0 || naxes > TG_MAX_RANK || !shape) {
        tg_params_fail(ps, "layer_norm: needs 1 to %d axes and their shape", TG_MAX_RANK);
        return NULL;
    }
    tg_layernorm_layer *l = tg__layer_alloc(ps, sizeof *l, "layer_norm", layernorm_fwd);
    if (!l) return NULL;
    l->naxes = naxes, l->eps = eps;
    if (affine) {
        l->weight = add(ps, name, "weight", naxes, shape, 0);
        l->bias = add(ps, name, "bias", naxes, shape, 0);
        if (!l->weight || !l->bias) return NULL;
        tg_init_ones(l->weight);
    }
    return l;
}

static tg_tensor *batchnorm_fwd(tg_layer *self, tg_tensor *x) {
    tg_batchnorm_layer *l = (tg_batchnorm_layer *)self;
    return tg_batch_norm(x, l->weight, l->bias, l->running_mean, l->running_var,
                         tg_params_training(self->ps), l->momentum, l->eps);
}

tg_batchnorm_layer *tg_batchnorm_new(tg_params *ps, const char *name, int64_t channels,
                                     double eps, double momentum, bool affine) {
    if (channels <= 0) {
        tg_params_fail(ps, "batch_norm: channels must be positive");
        return NULL;
    }
    tg_batchnorm_layer *l = tg__layer_alloc(ps, sizeof *l, "batch_norm", batchnorm_fwd);
    if (!l) return NULL;
    l->channels = channels, l->eps = eps, l->momentum = momentum;
    if (affine) {
        l->weight = add(ps, name, "weight", TG_SHAPE(channels), 0);
        l->bias = add(ps, name, "bias", TG_SHAPE(channels), 0);
        if (!l->weight || !l->bias) return NULL;
        tg_init_ones(l->weight);
    }
    l->running_mean = add(ps, name, "running_mean", TG_SHAPE(channels), TG_PARAM_BUFFER);
    l->running_var = add(ps, name, "running_var", TG_SHAPE(channels), TG_PARAM_BUFFER);
    if (!l->running_mean || !l->running_var) return NULL;
    tg_init_ones(l->running_var);
    return l;
}
