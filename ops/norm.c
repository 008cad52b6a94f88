/* norm.c - layer_norm and batch_norm: normalizations with an optional
 * affine weight and bias.
 *
 *   op           out                                    d/da
 *   layer_norm   (a - mean) / sqrt(var + eps) * w + b   fused (see below)
 *                over each row of the last naxes axes
 *   batch_norm   the same per channel over [N, C, ...]  fused (see below)
 *
 * Both are fused kernels (one record each, inputs a, then w and b when
 * given, listed in aux with the op's statistics after them); layer_norm
 * rows split over threads when large; the loops, one variant per SIMD
 * level, are in norm_simd.h. Their vjps are built from ops, so
 * create-graph sweeps and second derivatives work.
 */
#include "tg_internal.h"
#include "op_common.h"
#include "norm_simd.h"

#include <math.h>

/* The kernels of each SIMD level (norm_simd.h), indexed by tg_simd; a level
 * the compiler does not build has none, and tg__simd_level() never says
 * it. */
static const norm_kern *const kern_at[3] = {
    [TG_SIMD_PORTABLE] = &tg__norm_kern_portable,
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = &tg__norm_kern_avx2,
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = &tg__norm_kern_avx512,
#endif
};

/* t has the shape `want` (rank r)? */
static bool has_shape(const tg_tensor *t, int r, const int64_t *want) {
    if (t->rank != r) return false;
    for (int d = 0; d < r; d++)
        if (t->shape[d] != want[d]) return false;
    return true;
}

/* Checks a and the weight and bias when given (either may be NULL), in
 * the order the record lists them: in[0..*n) = a, then weight, then bias.
 * *a, *weight and *bias become the checked tensors. */
static tg_tape *norm_inputs(const char *op, tg_tensor **a, tg_tensor **weight, tg_tensor **bias,
                            tg_tensor *in[3], int *n) {
    int k = 0;
    in[k++] = *a;
    if (*weight) in[k++] = *weight;
    if (*bias) in[k++] = *bias;
    tg_tape *tape = tg__check(op, k, in, true);
    if (!tape) return NULL;
    *a = in[0];
    k = 1;
    if (*weight) *weight = in[k++];
    if (*bias) *bias = in[k++];
    *n = k;
    return tape;
}

/* The inputs of a norm record (w and b NULL where not given) and their
 * gradient buffers (NULL where none is needed); false on OOM (recorded). */
static bool norm_grads(const tg_auxin *ax, bool hw, bool hb, tg_tensor **a, tg_tensor **w,
                       tg_tensor **b, void **ga, void **gw, void **gb) {
    *a = ax->in[0], *w = hw ? ax->in[1] : NULL, *b = hb ? ax->in[1 + hw] : NULL;
    *ga = tg__gacc(*a), *gw = *w ? tg__gacc(*w) : NULL, *gb = *b ? tg__gacc(*b) : NULL;
    return !((((*a)->flags & TGF_REQ) && !*ga) || (*w && ((*w)->flags & TGF_REQ) && !*gw) ||
             (*b && ((*b)->flags & TGF_REQ) && !*gb));
}

/* ------------------------------------------------------------ layer_norm */

/*   layer_norm   y = xhat * w + b,  xhat = (a - mean) * rstd,
 *                rstd = 1 / sqrt(var + eps) per row of the last axes
 *   d a = rstd * (h - mean(h) - xhat * mean(h * xhat)),  h = g * w
 *   d w = sum over rows of g * xhat,  d b = sum over rows of g
 * A fused record (inputs a, then w and b when given); the forward keeps
 * each row's mean and rstd for the fast backward. */
typedef struct ln_ext {
    int naxes;
    bool hw, hb;
    double eps;
    int64_t D, rows;
    void *stats; /* [rows] means then [rows] rstds, in a's dtype */
} ln_ext;

tg_tensor *tg_layer_norm(tg_tensor *a, int naxes, tg_tensor *weight, tg_tensor *bias,
                         double eps) {
    tg_tensor *in[3];
    int n;
    tg_tape *tape = norm_inputs("layer_norm", &a, &weight, &bias, in, &n);
    if (!tape) return NULL;
    char b0[160], b1[160], b2[160];
    if (naxes < 1 || naxes > a->rank)
        return tg__fail(tape, TG_ERR_ARG, "layer_norm",
                        "cannot normalize over the last %d axes of %s", naxes,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    const int64_t *ns = a->shape + (a->rank - naxes);
    const tg_tensor *bad = weight && !has_shape(weight, naxes, ns) ? weight
                           : bias && !has_shape(bias, naxes, ns) ? bias : NULL;
    if (bad)
        return tg__fail(tape, TG_ERR_SHAPE, "layer_norm",
                        "%s %s does not match the normalized shape %s of input %s",
                        bad == weight ? "weight" : "bias",
                        tg__shape_str(b1, sizeof b1, bad->rank, bad->shape),
                        tg__shape_str(b2, sizeof b2, naxes, ns),
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    /* D overflows (-1) only when the input is empty: then there are no rows */
    int64_t D = tg__shape_numel(naxes, ns);
    int64_t rows = D > 0 ? tg__numel(a) / D : 0;
    /* aux: the inputs (tg_auxin), then ln_ext with the per-row statistics */
    size_t es = tg__esize(a->dtype);
    tg_auxin *ax = tg__aux_new(tape, n, in, sizeof(ln_ext) + 2 * (size_t)rows * es, "layer_norm");
    if (!ax) return NULL;
    ln_ext *e = tg__aux_ext(ax);
    e->naxes = naxes, e->hw = weight != NULL, e->hb = bias != NULL, e->eps = eps;
    e->D = D, e->rows = rows;
    e->stats = e + 1;
    tg_tensor *out = tg__out(tape, TG_OP_LAYER_NORM, a->dtype, a->rank, a->shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__set_req(out, n, ax->in);
    ln_job j = {a->dtype, D, rows, a->data, weight ? weight->data : NULL,
                bias ? bias->data : NULL, out->data, e->stats, NULL, NULL, NULL, NULL, eps};
    if (rows) tg__parallel_for(rows, row_grain(D), kern_at[tg__simd_level()]->ln_fwd, &j);
    return tg__handle(out);
}

bool tg__bw_layer_norm(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    const ln_ext *e = tg__aux_ext(ax);
    tg_tensor *a, *w, *b;
    void *ga, *gw, *gb;
    if (!norm_grads(ax, e->hw, e->hb, &a, &w, &b, &ga, &gw, &gb)) return false;
    if (!e->rows) return true;
    ln_job j = {o->dtype, e->D, e->rows, a->data, w ? w->data : NULL, NULL, NULL, e->stats,
                o->grad, ga, gw, gb, e->eps};
    const norm_kern *k = kern_at[tg__simd_level()];
    if (ga) tg__parallel_for(e->rows, row_grain(e->D), k->ln_bw, &j);
    if (gw || gb) k->ln_bw_wb(&j); /* sums over rows: one thread, row after row */
    return true;
}

/* Graph backward, from ops (so it can be differentiated again):
 *   xhat = (a - mean) * rstd,  h = g * w (or g)
 *   d a = rstd * (h - mean(h) - xhat * mean(h * xhat))
 *   d w = sum over rows of g * xhat,  d b = sum over rows of g */
tg_tensor *tg__vjp_layer_norm(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    const ln_ext *e = tg__aux_ext(ax);
    tg_tensor *a = ax->in[0], *w = e->hw ? ax->in[1] : NULL;
    if (e->hb && i == 1 + e->hw) return tg__sum_like(g, ax->in[i]);
    int axes[TG_MAX_RANK], na = e->naxes;
    for (int k = 0; k < na; k++) axes[k] = a->rank - na + k;
    tg_tensor *xc = tg_sub(a, tg_mean_axes(a, na, axes, true));
    tg_tensor *rstd =
        tg_pow_scalar(tg_add_scalar(tg_mean_axes(tg_mul(xc, xc), na, axes, true), e->eps), -0.5);
    tg_tensor *xhat = tg_mul(xc, rstd);
    if (i == 1) return tg__sum_like(tg_mul(g, xhat), w);
    tg_tensor *h = w ? tg_mul(g, w) : g;
    tg_tensor *t = tg_sub(tg_sub(h, tg_mean_axes(h, na, axes, true)),
                          tg_mul(xhat, tg_mean_axes(tg_mul(h, xhat), na, axes, true)));
    return tg_mul(rstd, t);
}

/* ------------------------------------------------------------ batch_norm */

/*   batch_norm  y = xhat * w[c] + b[c], xhat = (a - mean[c]) * rstd[c], over
 *               [N, C, S...]; training: the batch's mean and biased
 *               variance, eval: the running statistics (constants)
 *   d a  training: rstd * (h - mean(h) - xhat * mean(h * xhat)), h = g w[c]
 *        eval:     g * w[c] * rstd[c]
 *   d w = sum of g * xhat,  d b = sum of g   (over every axis but 1)
 * A fused record (inputs a, then w and b when given); it keeps the
 * per-channel mean and rstd (in f64, bn_ext: norm_simd.h) for the
 * backward. */

/* A running statistic: NULL, or a parameter / tape tensor of shape [C]
 * and a's dtype. */
static bool check_stat(tg_tape *tape, const tg_tensor *h, const char *what, const tg_tensor *a) {
    const tg_tensor *s = tg__rec(h); /* h: the user's handle */
    if (!s) return true;
    char b0[160], b1[160];
    if (!(s->flags & TGF_PARAM) && (s->tape != tape || !tg__current(h, s, tape->gen)))
        return tg__fail(tape, TG_ERR_STALE, "batch_norm",
                        "%s is stale or from another tape (input %s)", what,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape)),
               false;
    if (s->rank != 1 || s->shape[0] != a->shape[1] || s->dtype != a->dtype)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm",
                        "%s is %s %s; input %s %s needs [%lld] of the same dtype", what,
                        tg_dtype_name(s->dtype), tg__shape_str(b1, sizeof b1, s->rank, s->shape),
                        tg_dtype_name(a->dtype), tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        (long long)a->shape[1]),
               false;
    return true;
}

tg_tensor *tg_batch_norm(tg_tensor *a, tg_tensor *weight, tg_tensor *bias,
                         tg_tensor *running_mean, tg_tensor *running_var, bool training,
                         double momentum, double eps) {
    tg_tensor *in[3];
    int n;
    tg_tape *tape = norm_inputs("batch_norm", &a, &weight, &bias, in, &n);
    if (!tape) return NULL;
    char b0[160], b1[160];
    if (a->rank < 2)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm", "input %s is not [N, C, ...]",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    int64_t C = a->shape[1];
    const tg_tensor *bad = weight && !has_shape(weight, 1, &C) ? weight
                           : bias && !has_shape(bias, 1, &C) ? bias : NULL;
    if (bad)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm", "%s %s does not match [%lld] of input %s",
                        bad == weight ? "weight" : "bias",
                        tg__shape_str(b1, sizeof b1, bad->rank, bad->shape), (long long)C,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    if (!check_stat(tape, running_mean, "running_mean", a) ||
        !check_stat(tape, running_var, "running_var", a))
        return NULL;
    running_mean = tg__rec(running_mean), running_var = tg__rec(running_var);
    if (!training && (!running_mean || !running_var))
        return tg__fail(tape, TG_ERR_NULL, "batch_norm",
                        "eval mode needs running_mean and running_var (input %s)",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    /* values per channel: N * S; past INT64_MAX only when there are no
     * channels (the input is empty), then saturated */
    int64_t S = tg__shape_numel(a->rank - 2, a->shape + 2), count;
    if (S < 0) S = INT64_MAX;
    if (!tg__mul_ok(a->shape[0], S, &count)) count = INT64_MAX;
    if (training && count <= 1)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm",
                        "training needs more than 1 value per channel, input is %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    size_t stats = 2 * (size_t)(C ? C : 1) * sizeof(double);
    tg_auxin *ax = tg__aux_new(tape, n, in, sizeof(bn_ext) + stats, "batch_norm");
    if (!ax) return NULL;
    bn_ext *e = tg__aux_ext(ax);
    e->training = training, e->hw = weight != NULL, e->hb = bias != NULL, e->eps = eps;
    e->N = a->shape[0], e->C = C, e->S = S;
    e->mean = (double *)(e + 1);
    e->rstd = e->mean + C;
    tg_tensor *out = tg__out(tape, TG_OP_BATCH_NORM, a->dtype, a->rank, a->shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__set_req(out, n, ax->in);
    if (C == 0) return tg__handle(out); /* no channel, nothing to compute (N may be 2^62) */
    bn_job j = {a->dtype, e, a->data, weight ? weight->data : NULL, bias ? bias->data : NULL,
                out->data, NULL, NULL, NULL, NULL};
    const norm_kern *k = kern_at[tg__simd_level()];
    if (training) {
        k->bn_stats(&j);
        /* running = (1 - m) running + m batch, with the unbiased variance */
        double unb = (double)count / (double)(count - 1);
        for (int64_t c = 0; c < C; c++) {
            double mu = e->mean[c], r = e->rstd[c], v = (1 / (r * r) - eps) * unb;
            if (running_mean) {
                if (a->dtype == TG_F32) {
                    float *rm = running_mean->data;
                    rm[c] = (float)((1 - momentum) * rm[c] + momentum * mu);
                } else {
                    double *rm = running_mean->data;
                    rm[c] = (1 - momentum) * rm[c] + momentum * mu;
                }
            }
            if (running_var) {
                if (a->dtype == TG_F32) {
                    float *rv = running_var->data;
                    rv[c] = (float)((1 - momentum) * rv[c] + momentum * v);
                } else {
                    double *rv = running_var->data;
                    rv[c] = (1 - momentum) * rv[c] + momentum * v;
                }
            }
        }
    } else {
        for (int64_t c = 0; c < C; c++) {
            double m = a->dtype == TG_F32 ? ((const float *)running_mean->data)[c]
                                          : ((const double *)running_mean->data)[c];
            double v = a->dtype == TG_F32 ? ((const float *)running_var->data)[c]
                                          : ((const double *)running_var->data)[c];
            e->mean[c] = m, e->rstd[c] = 1 / sqrt(v + eps);
        }
    }
    k->bn_fwd(&j);
    return tg__handle(out);
}

bool tg__bw_batch_norm(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    const bn_ext *e = tg__aux_ext(ax);
    tg_tensor *a, *w, *b;
    void *ga, *gw, *gb;
    if (!norm_grads(ax, e->hw, e->hb, &a, &w, &b, &ga, &gw, &gb)) return false;
    if (e->C == 0) return true; /* no channel: the kernels would walk N empty rows */
    bn_job j = {o->dtype, e, a->data, w ? w->data : NULL, NULL, NULL, o->grad, ga, gw, gb};
    kern_at[tg__simd_level()]->bn_bw(&j);
    return true;
}

/* Graph backward, from ops. Training (batch statistics, which depend on a):
 *   d a = rstd * (h - mean(h) - xhat * mean(h * xhat)),  h = g * w
 * eval (running statistics are constants): d a = g * w * rstd.
 * Both: d w = sum of g * xhat, d b = sum of g, over every axis but 1. */
tg_tensor *tg__vjp_batch_norm(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    const bn_ext *e = tg__aux_ext(ax);
    tg_tensor *a = ax->in[0], *w = e->hw ? ax->in[1] : NULL;
    int axes[TG_MAX_RANK], nax = 0;
    int64_t cshape[TG_MAX_RANK];
    for (int d = 0; d < a->rank; d++) {
        cshape[d] = d == 1 ? e->C : 1;
        if (d != 1) axes[nax++] = d;
    }
    if (e->hb && i == 1 + e->hw) return tg_sum_axes(g, nax, axes, false);
    tg_tensor *xhat, *rstd;
    if (e->training) {
        tg_tensor *xc = tg_sub(a, tg_mean_axes(a, nax, axes, true));
        tg_tensor *var = tg_mean_axes(tg_mul(xc, xc), nax, axes, true);
        rstd = tg_pow_scalar(tg_add_scalar(var, e->eps), -0.5);
        xhat = tg_mul(xc, rstd);
    } else {
        tg_tensor *m = tg__wrap(o->tape, a->dtype, a->rank, cshape, NULL);
        rstd = tg__wrap(o->tape, a->dtype, a->rank, cshape, NULL);
        if (!m || !rstd) return NULL;
        for (int64_t c = 0; c < e->C; c++) {
            if (a->dtype == TG_F32) {
                ((float *)m->data)[c] = (float)e->mean[c];
                ((float *)rstd->data)[c] = (float)e->rstd[c];
            } else {
                ((double *)m->data)[c] = e->mean[c];
                ((double *)rstd->data)[c] = e->rstd[c];
            }
        }
        xhat = i == 1 ? tg_mul(tg_sub(a, m), rstd) : NULL;
    }
    if (i == 1) return tg_sum_axes(tg_mul(g, xhat), nax, axes, false);
    tg_tensor *h = w ? tg_mul(g, tg_reshape(w, a->rank, cshape)) : g;
    if (!e->training) return tg_mul(h, rstd);
    tg_tensor *t = tg_sub(tg_sub(h, tg_mean_axes(h, nax, axes, true)),
                          tg_mul(xhat, tg_mean_axes(tg_mul(h, xhat), nax, axes, true)));
    return tg_mul(rstd, t);
}
