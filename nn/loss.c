/* loss.c - loss functions from public ops (see tg_loss.h).
 *
 * Each loss is a short composition of differentiable ops, so its gradient
 * (and every higher derivative) comes from the ops' own backward rules.
 * Where a loss is piecewise (Huber, smooth L1, the clamped logs of BCE, the
 * sign in BCE with logits) the branch is chosen by a mask computed here from
 * the values; masks are constant leaves, exactly as a piecewise-constant
 * derivative should be. Cross entropy subtracts the per-row maximum m (a
 * constant too: log_softmax(x) = (x - m) - log sum exp(x - m) for any m, so
 * treating m as a constant loses no derivative).
 *
 *   loss             pointwise l(x, y)                     d l / d x
 *   mse              (x - y)^2                             2 (x - y)
 *   l1               |x - y|                               sign(x - y)
 *   huber(delta)     0.5 d^2 (|d| < delta)                 d
 *                    delta (|d| - delta/2) otherwise       delta sign(d)
 *   smooth_l1(beta)  0.5 d^2 / beta (|d| < beta)           d / beta
 *                    |d| - beta/2 otherwise                sign(d)
 *   bce              -(y log p + (1-y) log(1-p)), logs >= -100
 *   bce_logits       max(x,0) - x y + log(1 + e^-|x|)      sigmoid(x) - y
 *   cross_entropy    -sum_c q_c log_softmax(x)_c           softmax(x) - q
 *                    ([N, C] and [C]: the fused op tg_softmax_cross_entropy)
 *   kl_div           t (log t - x)                         -t
 *   multi_margin     sum_{j!=y} max(0, m - x_y + x_j) / C
 */
#include "tapegrad.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

/* Reads element i of a float tensor's data as a double. */
typedef struct rd {
    const float *f;
    const double *d;
} rd;
static rd reader(const tg_tensor *t) {
    rd r = {NULL, NULL};
    if (tg_tensor_dtype(t) == TG_F32) r.f = tg_tensor_f32(t);
    else r.d = tg_tensor_f64(t);
    return r;
}
static inline double rv(rd r, int64_t i) { return r.f ? (double)r.f[i] : r.d[i]; }

/* Writes element i of a constant made here. */
typedef struct wr {
    float *f;
    double *d;
} wr;
static wr writer(tg_tensor *t) {
    wr w = {NULL, NULL};
    if (tg_tensor_dtype(t) == TG_F32) w.f = tg_tensor_f32(t);
    else w.d = tg_tensor_f64(t);
    return w;
}
static inline void wv(wr w, int64_t i, double v) {
    if (w.f) w.f[i] = (float)v;
    else w.d[i] = v;
}

/* A zero constant shaped like t (t's dtype) on tape. */
static tg_tensor *const_like(tg_tape *tape, const tg_tensor *t) {
    return tg_zeros(tape, tg_tensor_dtype(t), tg_tensor_rank(t), tg_tensor_shape(t));
}

static tg_tape *tape_of(tg_tensor *a, tg_tensor *b) {
    tg_tape *t = a ? tg_tensor_tape(a) : NULL;
    if (!t && b) t = tg_tensor_tape(b);
    return t;
}

static bool is_float(const tg_tensor *t) {
    return tg_tensor_dtype(t) == TG_F32 || tg_tensor_dtype(t) == TG_F64;
}


/* Checks a (float) input and its target: present, fresh, float, same
 * dtype, and the same shape when same_shape. Returns the tape or NULL. */
static tg_tape *check_pair(const char *op, tg_tensor *x, tg_tensor *y, bool same_shape) {
    tg_tape *tape = tape_of(x, y);
    if (!x || !y) {
        /* a NULL operand: an earlier op failed and recorded why, unless the
         * caller passed NULL by hand and the tape is still fine */
        if (tape && tg_tape_ok(tape))
            tg_tape_fail(tape, TG_ERR_NULL, "%s: %s is NULL", op, x ? "target" : "input");
        return NULL;
    }
    if (!tape) return NULL;
    if (tg_tensor_status(x) != TG_OK || tg_tensor_status(y) != TG_OK) {
        tg_tape_fail(tape, TG_ERR_STALE, "%s: %s is stale (from before a tg_tape_reset)", op,
                     tg_tensor_status(x) != TG_OK ? "input" : "target");
        return NULL;
    }
    if (!is_float(x) || tg_tensor_dtype(x) != tg_tensor_dtype(y)) {
        tg_tape_fail(tape, TG_ERR_DTYPE, "%s: input is %s and target is %s (both must be the "
                     "same float dtype)", op, tg_dtype_name(tg_tensor_dtype(x)), tg_dtype_name(tg_tensor_dtype(y)));
        return NULL;
    }
    if (same_shape) {
        bool same = tg_tensor_rank(x) == tg_tensor_rank(y);
        for (int d = 0; same && d < tg_tensor_rank(x); d++)
            same = tg_tensor_dim(x, d) == tg_tensor_dim(y, d);
        if (!same) {
            char a[96], b[96];
            tg_tape_fail(tape, TG_ERR_SHAPE, "%s: input %s and target %s must have the same shape",
                         op, tg_tensor_shape_str(x, a, sizeof a), tg_tensor_shape_str(y, b, sizeof b));
            return NULL;
        }
    }
    return tape;
}

/* Applies the reduction to pointwise losses l (BATCHMEAN: sum / batch). */
static tg_tensor *reduce(tg_tape *tape, const char *op, tg_tensor *l, tg_reduction r,
                         bool allow_batchmean) {
    if (!l) return NULL;
    switch (r) {
    case TG_REDUCE_MEAN: return tg_mean(l);
    case TG_REDUCE_SUM: return tg_sum(l);
    case TG_REDUCE_NONE: return l;
    case TG_REDUCE_BATCHMEAN:
        if (!allow_batchmean) break;
        if (tg_tensor_rank(l) == 0) return tg_sum(l);
        return tg_div_scalar(tg_sum(l), (double)tg_tensor_dim(l, 0));
    }
    tg_tape_fail(tape, TG_ERR_ARG, "%s: reduction %d is not valid here", op, (int)r);
    return NULL;
}

static bool check_reduction(tg_tape *tape, const char *op, tg_reduction r, bool allow_batchmean) {
    if (r == TG_REDUCE_MEAN || r == TG_REDUCE_SUM || r == TG_REDUCE_NONE ||
        (allow_batchmean && r == TG_REDUCE_BATCHMEAN))
        return true;
    tg_tape_fail(tape, TG_ERR_ARG, "%s: reduction %d is not valid here (MEAN, SUM, NONE%s)", op,
                 (int)r, allow_batchmean ? ", BATCHMEAN" : "");
    return false;
}

/* ------------------------------------------------------- regression */

tg_tensor *tg_mse_loss(tg_tensor *input, tg_tensor *target, tg_reduction r) {
    tg_tape *tape = check_pair("mse_loss", input, target, true);
    if (!tape || !check_reduction(tape, "mse_loss", r, false)) return NULL;
    tg_tensor *d = tg_sub(input, target);
    return reduce(tape, "mse_loss", tg_mul(d, d), r, false);
}

tg_tensor *tg_l1_loss(tg_tensor *input, tg_tensor *target, tg_reduction r) {
    tg_tape *tape = check_pair("l1_loss", input, target, true);
    if (!tape || !check_reduction(tape, "l1_loss", r, false)) return NULL;
    return reduce(tape, "l1_loss", tg_abs(tg_sub(input, target)), r, false);
}

/* Shared by Huber and smooth L1, d = input - target, t = threshold:
 *   quad:  a/2 d^2          where |d| < t   (a = 1 for Huber, 1/beta for smooth L1)
 *   lin:   k (|d| - t/2)    elsewhere       (k = delta for Huber, 1 for smooth L1)
 * as  a/2 (d m)^2 + k d s' - k t/2 (1 - m)  with the constants m = [|d| < t]
 * and s' = sign(d) (1 - m), so no branch ever multiplies an inf by 0. */
static tg_tensor *piecewise_quad(tg_tape *tape, tg_tensor *input, tg_tensor *target, double t,
                                 double a, double k) {
    tg_tensor *d = tg_sub(input, target);
    if (!d) return NULL;
    tg_tensor *m = const_like(tape, d), *s = const_like(tape, d), *c = const_like(tape, d);
    if (!m || !s || !c) return NULL;
    rd dv = reader(d);
    wr mw = writer(m), sw = writer(s), cw = writer(c);
    int64_t n = tg_tensor_numel(d);
    for (int64_t i = 0; i < n; i++) {
        double v = rv(dv, i);
        bool quad = fabs(v) < t;
        double sg = v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0;
        wv(mw, i, quad);
        wv(sw, i, quad ? 0.0 : sg);
        wv(cw, i, quad ? 0.0 : -k * t / 2);
    }
    tg_tensor *dm = tg_mul(d, m);
    tg_tensor *l = tg_mul_scalar(tg_mul(dm, dm), a / 2);
    return tg_add(tg_add(l, tg_mul_scalar(tg_mul(d, s), k)), c);
}

tg_tensor *tg_huber_loss(tg_tensor *input, tg_tensor *target, double delta, tg_reduction r) {
    tg_tape *tape = check_pair("huber_loss", input, target, true);
    if (!tape || !check_reduction(tape, "huber_loss", r, false)) return NULL;
    if (!(delta > 0) || isinf(delta)) {
        tg_tape_fail(tape, TG_ERR_ARG, "huber_loss: delta must be positive and finite, got %g", delta);
        return NULL;
    }
    return reduce(tape, "huber_loss", piecewise_quad(tape, input, target, delta, 1.0, delta), r, false);
}

tg_tensor *tg_smooth_l1_loss(tg_tensor *input, tg_tensor *target, double beta, tg_reduction r) {
    tg_tape *tape = check_pair("smooth_l1_loss", input, target, true);
    if (!tape || !check_reduction(tape, "smooth_l1_loss", r, false)) return NULL;
    if (!(beta >= 0) || isinf(beta)) {
        tg_tape_fail(tape, TG_ERR_ARG, "smooth_l1_loss: beta must be >= 0 and finite, got %g", beta);
        return NULL;
    }
    return reduce(tape, "smooth_l1_loss",
                  piecewise_quad(tape, input, target, beta, beta > 0 ? 1.0 / beta : 0.0, 1.0), r,
                  false);
}

/* ----------------------------------------------------------- binary */

/* max(log(p), -100) with the gradient of that clamped function: where
 * log p < -100 the result is the constant -100 and p is replaced by 1
 * inside the log, so no 0 * inf appears in the backward pass. */
static tg_tensor *clamped_log(tg_tape *tape, tg_tensor *p) {
    if (!p) return NULL;
    tg_tensor *m = const_like(tape, p), *one = const_like(tape, p), *lo = const_like(tape, p);
    if (!m || !one || !lo) return NULL;
    rd pv = reader(p);
    wr mw = writer(m), ow = writer(one), lw = writer(lo);
    int64_t n = tg_tensor_numel(p);
    for (int64_t i = 0; i < n; i++) {
        double v = rv(pv, i);
        bool keep = v > 0 && log(v) >= -100;
        wv(mw, i, keep);
        wv(ow, i, keep ? 0.0 : 1.0);
        wv(lw, i, keep ? 0.0 : -100.0);
    }
    return tg_add(tg_mul(tg_log(tg_add(tg_mul(p, m), one)), m), lo);
}

tg_tensor *tg_bce_loss(tg_tensor *input, tg_tensor *target, tg_reduction r) {
    tg_tape *tape = check_pair("bce_loss", input, target, true);
    if (!tape || !check_reduction(tape, "bce_loss", r, false)) return NULL;
    rd pv = reader(input);
    int64_t n = tg_tensor_numel(input);
    for (int64_t i = 0; i < n; i++) {
        double v = rv(pv, i);
        if (!(v >= 0 && v <= 1)) {
            char a[96];
            tg_tape_fail(tape, TG_ERR_ARG, "bce_loss: input %s holds %g at index %lld; every "
                         "element must be a probability in [0, 1]",
                         tg_tensor_shape_str(input, a, sizeof a), v, (long long)i);
            return NULL;
        }
    }
    /* -(y lp + (1 - y) lq) = (y - 1) lq - y lp */
    tg_tensor *lp = clamped_log(tape, input);
    tg_tensor *lq = clamped_log(tape, tg_rsub_scalar(input, 1.0));
    tg_tensor *l = tg_sub(tg_mul(tg_sub_scalar(target, 1.0), lq), tg_mul(target, lp));
    return reduce(tape, "bce_loss", l, r, false);
}

/* True when b broadcasts to a's shape (trailing alignment). */
static bool broadcasts_to(const tg_tensor *b, const tg_tensor *a) {
    int ra = tg_tensor_rank(a), rb = tg_tensor_rank(b);
    if (rb > ra) return false;
    for (int k = 1; k <= rb; k++) {
        int64_t db = tg_tensor_dim(b, rb - k), da = tg_tensor_dim(a, ra - k);
        if (db != 1 && db != da) return false;
    }
    return true;
}

tg_tensor *tg_bce_with_logits_loss(tg_tensor *input, tg_tensor *target, tg_tensor *pos_weight,
                                   tg_reduction r) {
    const char *op = "bce_with_logits_loss";
    tg_tape *tape = check_pair(op, input, target, true);
    if (!tape || !check_reduction(tape, op, r, false)) return NULL;
    if (pos_weight) {
        char a[96], b[96];
        tg_status ps = tg_tensor_status(pos_weight);
        if (ps != TG_OK || tg_tensor_dtype(pos_weight) != tg_tensor_dtype(input)) {
            tg_tape_fail(tape, ps != TG_OK ? ps : TG_ERR_DTYPE,
                         "%s: pos_weight must be a live tensor of the input's dtype (%s)", op,
                         tg_dtype_name(tg_tensor_dtype(input)));
            return NULL;
        }
        if (!broadcasts_to(pos_weight, input)) {
            tg_tape_fail(tape, TG_ERR_SHAPE, "%s: pos_weight %s does not broadcast to input %s",
                         op, tg_tensor_shape_str(pos_weight, a, sizeof a),
                         tg_tensor_shape_str(input, b, sizeof b));
            return NULL;
        }
    }
    /* constants: s = sign(x) (1 at 0), pos = [x >= 0]; |x| = s x and
     * max(x, 0) = pos x agree with the smooth softplus at 0 in every
     * derivative, which relu(0)' = abs(0)' = 0 would not. */
    tg_tensor *s = const_like(tape, input), *pos = const_like(tape, input);
    if (!s || !pos) return NULL;
    rd xv = reader(input);
    wr sw = writer(s), pw = writer(pos);
    int64_t n = tg_tensor_numel(input);
    for (int64_t i = 0; i < n; i++) {
        bool p = rv(xv, i) >= 0;
        wv(sw, i, p ? 1.0 : -1.0);
        wv(pw, i, p);
    }
    /* log1p(e^-|x|): exact even where e^-|x| is below the rounding of 1 + . */
    tg_tensor *sp = tg_log1p(tg_exp(tg_neg(tg_mul(input, s))));
    tg_tensor *l;
    if (!pos_weight) {
        /* max(x,0) - x y + sp = x (pos - y) + sp */
        l = tg_add(tg_mul(input, tg_sub(pos, target)), sp);
    } else {
        /* (1 - y) x + (1 + (pw - 1) y) (sp + max(-x, 0)),  max(-x,0) = x (pos - 1) */
        tg_tensor *lw = tg_add_scalar(tg_mul(tg_sub_scalar(pos_weight, 1.0), target), 1.0);
        tg_tensor *spn = tg_add(sp, tg_mul(input, tg_sub_scalar(pos, 1.0)));
        l = tg_add(tg_mul(tg_rsub_scalar(target, 1.0), input), tg_mul(lw, spn));
    }
    return reduce(tape, op, l, r, false);
}

/* ------------------------------------------------------- categorical */

/* The layout of a classification input: [N, C, S...] flattened to
 * (N, C, S) with the class axis `ax` (1, or 0 for a 1-D input). */
typedef struct cls {
    int64_t N, C, S;
    int ax;
} cls;

/* Checks input (float, rank >= 1) and labels (i64, input's shape without
 * the class axis, values in [0, C) or ignore_index when allow_ignore). */
static tg_tape *check_cls(const char *op, tg_tensor *x, tg_tensor *labels, bool allow_ignore,
                          int64_t ignore_index, cls *c) {
    tg_tape *tape = tape_of(x, labels);
    if (!x || !labels) {
        if (tape && tg_tape_ok(tape))
            tg_tape_fail(tape, TG_ERR_NULL, "%s: %s is NULL", op, x ? "labels" : "input");
        return NULL;
    }
    if (!tape) return NULL;
    if (tg_tensor_status(x) != TG_OK || tg_tensor_status(labels) != TG_OK) {
        tg_tape_fail(tape, TG_ERR_STALE, "%s: %s is stale (from before a tg_tape_reset)", op,
                     tg_tensor_status(x) != TG_OK ? "input" : "labels");
        return NULL;
    }
    char a[96], b[96];
    if (!is_float(x)) {
        tg_tape_fail(tape, TG_ERR_DTYPE, "%s: input must be f32 or f64, got %s", op,
                     tg_dtype_name(tg_tensor_dtype(x)));
        return NULL;
    }
    if (tg_tensor_dtype(labels) != TG_I64) {
        tg_tape_fail(tape, TG_ERR_DTYPE, "%s: labels must be i64 class indices, got %s labels %s",
                     op, tg_dtype_name(tg_tensor_dtype(labels)), tg_tensor_shape_str(labels, a, sizeof a));
        return NULL;
    }
    int rank = tg_tensor_rank(x);
    bool ok = rank >= 1 && tg_tensor_rank(labels) == rank - 1;
    c->ax = rank == 1 ? 0 : 1;
    c->N = rank == 1 ? 1 : tg_tensor_dim(x, 0);
    c->C = rank >= 1 ? tg_tensor_dim(x, c->ax) : 0;
    c->S = 1;
    for (int d = 2; d < rank; d++) c->S *= tg_tensor_dim(x, d);
    for (int d = 0, e = 0; ok && d < rank; d++) {
        if (d == c->ax) continue;
        ok = tg_tensor_dim(labels, e++) == tg_tensor_dim(x, d);
    }
    if (!ok) {
        tg_tape_fail(tape, TG_ERR_SHAPE, "%s: labels %s do not fit input %s (labels take the "
                     "input's shape without the class axis %d)", op,
                     tg_tensor_shape_str(labels, a, sizeof a), tg_tensor_shape_str(x, b, sizeof b),
                     c->ax);
        return NULL;
    }
    const int64_t *y = tg_tensor_i64(labels);
    int64_t n = tg_tensor_numel(labels);
    for (int64_t i = 0; i < n; i++)
        if ((y[i] < 0 || y[i] >= c->C) && !(allow_ignore && y[i] == ignore_index)) {
            tg_tape_fail(tape, TG_ERR_ARG, "%s: label %lld at index %lld is out of range for %lld "
                         "classes (input %s)", op, (long long)y[i], (long long)i, (long long)c->C,
                         tg_tensor_shape_str(x, a, sizeof a));
            return NULL;
        }
    return tape;
}

/* Cross entropy on [N, C] or [C] logits is the fused op
 * tg_softmax_cross_entropy (per-row losses, then the reduction here: MEAN
 * divides by the count of kept rows, as PyTorch with ignore_index).
 * Otherwise (NLL, and [N, C, d1...] inputs), per-sample losses of cross
 * entropy / NLL, [N, 1, S...] (class axis kept):
 *   target q = (1 - eps) onehot(y) + eps / C on kept rows, 0 on ignored ones
 *   loss     = -sum_c q_c logp_c = v ((1 - eps) (-logp_y) + eps/C (-sum_c logp_c))
 * with v = [label != ignore_index]. For cross entropy logp = z - lse with
 * z = x - m (m the row maximum, a constant): -logp_y = lse - z_y and
 * -sum_c logp_c = C lse - sum_c z_c. The label's entry is picked with
 * tg_gather, so no [N, C] target is ever built: the ops over [N, C] are
 * one subtraction, one exp and one sum (and their backward). */
static tg_tensor *cls_loss(tg_tape *tape, const char *op, tg_tensor *x, tg_tensor *labels,
                           tg_tensor *weight, tg_reduction r, int64_t ignore_index, double eps,
                           bool from_logits) {
    cls c;
    if (!check_cls(op, x, labels, true, ignore_index, &c) || !check_reduction(tape, op, r, false))
        return NULL;
    if (!(eps >= 0 && eps <= 1)) {
        tg_tape_fail(tape, TG_ERR_ARG, "%s: label_smoothing must be in [0, 1], got %g", op, eps);
        return NULL;
    }
    if (weight) { /* class weights: a constant [C] of the input's dtype */
        char a[96], b[96];
        if (tg_tensor_status(weight) != TG_OK) {
            tg_tape_fail(tape, TG_ERR_STALE, "%s: weight is stale (from before a tg_tape_reset)",
                         op);
            return NULL;
        }
        if (tg_tensor_dtype(weight) != tg_tensor_dtype(x) || tg_tensor_rank(weight) != 1 ||
            tg_tensor_dim(weight, 0) != c.C) {
            tg_tape_fail(tape, TG_ERR_SHAPE, "%s: weight %s %s does not fit input %s %s (it must "
                         "be [%lld], one weight per class, of the input's dtype)", op,
                         tg_dtype_name(tg_tensor_dtype(weight)), tg_tensor_shape_str(weight, a, sizeof a),
                         tg_dtype_name(tg_tensor_dtype(x)), tg_tensor_shape_str(x, b, sizeof b),
                         (long long)c.C);
            return NULL;
        }
    }
    const int64_t *y = tg_tensor_i64(labels);
    int rank = tg_tensor_rank(x);
    if (from_logits && rank <= 2 && !weight) {
        /* [N, C] or [C]: the fused op, one record for the per-row losses */
        tg_tensor *per = tg_softmax_cross_entropy(x, labels, ignore_index, eps);
        if (!per || r == TG_REDUCE_NONE) return per;
        if (r == TG_REDUCE_SUM) return tg_sum(per);
        int64_t count = 0, n = tg_tensor_numel(labels);
        for (int64_t k = 0; k < n; k++) count += y[k] != ignore_index;
        return tg_div_scalar(tg_sum(per), (double)count);
    }
    int64_t kshape[TG_MAX_RANK];
    for (int d = 0; d < rank; d++) kshape[d] = d == c.ax ? 1 : tg_tensor_dim(x, d);
    tg_dtype dt = tg_tensor_dtype(x);
    tg_tensor *v = tg_zeros(tape, dt, rank, kshape);       /* [N, 1, S]: row kept */
    tg_tensor *idx = tg_zeros(tape, TG_I64, rank, kshape); /* [N, 1, S]: label, 0 if ignored */
    tg_tensor *m = from_logits ? tg_zeros(tape, dt, rank, kshape) : NULL; /* row max */
    if (!v || !idx || (from_logits && !m)) return NULL;
    /* vy: the weight of each sample's class (1 without weights), 0 where
     * ignored; MEAN divides by its sum, as PyTorch */
    tg_tensor *vy = weight ? tg_zeros(tape, dt, rank, kshape) : v;
    if (!vy) return NULL;
    rd wrd = weight ? reader(weight) : (rd){NULL, NULL};
    wr vw = writer(v), yw = writer(vy);
    int64_t *iw = tg_tensor_i64(idx), NS = c.N * c.S;
    double count = 0;
    for (int64_t k = 0; k < NS; k++) {
        bool kept = y[k] != ignore_index;
        double wk = !kept ? 0.0 : weight ? rv(wrd, y[k]) : 1.0;
        count += wk;
        wv(vw, k, kept);
        if (weight) wv(yw, k, wk);
        iw[k] = kept ? y[k] : 0;
    }
    tg_tensor *z = x, *lse = NULL;
    if (from_logits) {
        wr mw = writer(m);
        const float *xf = tg_tensor_f32(x);
        const double *xd = tg_tensor_f64(x);
        for (int64_t n = 0; n < c.N; n++)
            for (int64_t s = 0; s < c.S; s++) {
                double mx = -INFINITY;
                const int64_t base = n * c.C * c.S + s;
                if (xf) {
                    float fm = -INFINITY;
                    for (int64_t k = 0; k < c.C; k++) fm = xf[base + k * c.S] > fm ? xf[base + k * c.S] : fm;
                    mx = fm;
                } else {
                    for (int64_t k = 0; k < c.C; k++) mx = xd[base + k * c.S] > mx ? xd[base + k * c.S] : mx;
                }
                wv(mw, n * c.S + s, isfinite(mx) ? mx : 0.0); /* inf / NaN rows propagate */
            }
        z = tg_sub(x, m);
        lse = tg_log(tg_sum_axis(tg_exp(z), c.ax, true));
    }
    /* -logp_y, and for smoothing -sum_c logp_c */
    tg_tensor *zy = tg_gather(z, c.ax, idx);
    tg_tensor *nly = from_logits ? tg_sub(lse, zy) : tg_neg(zy);
    tg_tensor *per = tg_mul(nly, vy);
    if (eps > 0) {
        /* -sum_c w_c logp_c = W lse - sum_c w_c z_c (W = sum_c w_c; w = 1
         * without weights), on kept samples */
        tg_tensor *zs;
        double wsum = (double)c.C;
        if (weight) { /* the weights as a constant of this tape, [1, C, 1...] */
            int64_t wshape[TG_MAX_RANK];
            for (int d = 0; d < rank; d++) wshape[d] = d == c.ax ? c.C : 1;
            tg_tensor *wb = tg_zeros(tape, dt, rank, wshape);
            if (!wb) return NULL;
            wr bw = writer(wb);
            wsum = 0;
            for (int64_t k = 0; k < c.C; k++) wv(bw, k, rv(wrd, k)), wsum += rv(wrd, k);
            zs = tg_sum_axis(tg_mul(z, wb), c.ax, true);
        } else {
            zs = tg_sum_axis(z, c.ax, true);
        }
        tg_tensor *nls = from_logits ? tg_sub(tg_mul_scalar(lse, wsum), zs) : tg_neg(zs);
        per = tg_add(tg_mul_scalar(per, 1.0 - eps),
                     tg_mul(tg_mul_scalar(nls, eps / (double)c.C), v));
    }
    if (!per) return NULL;
    switch (r) {
    case TG_REDUCE_NONE:
        return tg_reshape(per, tg_tensor_rank(labels), tg_tensor_shape(labels));
    case TG_REDUCE_SUM: return tg_sum(per);
    default: return tg_div_scalar(tg_sum(per), count);
    }
}

tg_tensor *tg_cross_entropy(tg_tensor *input, tg_tensor *labels, tg_reduction r,
                            int64_t ignore_index, double label_smoothing) {
    return cls_loss(tape_of(input, labels), "cross_entropy", input, labels, NULL, r,
                    ignore_index, label_smoothing, true);
}

tg_tensor *tg_cross_entropy_weighted(tg_tensor *input, tg_tensor *labels, tg_tensor *weight,
                                     tg_reduction r, int64_t ignore_index,
                                     double label_smoothing) {
    return cls_loss(tape_of(input, labels), "cross_entropy", input, labels, weight, r,
                    ignore_index, label_smoothing, true);
}

tg_tensor *tg_nll_loss(tg_tensor *input, tg_tensor *labels, tg_reduction r, int64_t ignore_index) {
    return cls_loss(tape_of(input, labels), "nll_loss", input, labels, NULL, r, ignore_index, 0.0,
                    false);
}

tg_tensor *tg_nll_loss_weighted(tg_tensor *input, tg_tensor *labels, tg_tensor *weight,
                                tg_reduction r, int64_t ignore_index) {
    return cls_loss(tape_of(input, labels), "nll_loss", input, labels, weight, r, ignore_index,
                    0.0, false);
}

tg_tensor *tg_kl_div(tg_tensor *input, tg_tensor *target, tg_reduction r, bool log_target) {
    tg_tape *tape = check_pair("kl_div", input, target, true);
    if (!tape || !check_reduction(tape, "kl_div", r, true)) return NULL;
    tg_tensor *l;
    if (log_target) {
        l = tg_mul(tg_exp(target), tg_sub(target, input));
    } else {
        /* t log t, 0 where t == 0 (log taken of 1 there, so no 0 * inf) */
        tg_tensor *m = const_like(tape, target), *one = const_like(tape, target);
        if (!m || !one) return NULL;
        rd tv = reader(target);
        wr mw = writer(m), ow = writer(one);
        int64_t n = tg_tensor_numel(target);
        for (int64_t i = 0; i < n; i++) {
            bool nz = rv(tv, i) != 0;
            wv(mw, i, nz);
            wv(ow, i, nz ? 0.0 : 1.0);
        }
        tg_tensor *tlogt = tg_mul(target, tg_log(tg_add(tg_mul(target, m), one)));
        l = tg_sub(tlogt, tg_mul(target, input));
    }
    return reduce(tape, "kl_div", l, r, true);
}

tg_tensor *tg_multi_margin_loss(tg_tensor *input, tg_tensor *labels, double margin, tg_reduction r) {
    const char *op = "multi_margin_loss";
    cls c;
    tg_tape *tape = check_cls(op, input, labels, false, 0, &c);
    if (!tape || !check_reduction(tape, op, r, false)) return NULL;
    if (tg_tensor_rank(input) > 2) {
        char a[96];
        tg_tape_fail(tape, TG_ERR_SHAPE, "%s: input %s must be [N, C] or [C]", op,
                     tg_tensor_shape_str(input, a, sizeof a));
        return NULL;
    }
    const int64_t *y = tg_tensor_i64(labels);
    tg_tensor *q = const_like(tape, input), *nq = const_like(tape, input);
    if (!q || !nq) return NULL;
    wr qw = writer(q), nw = writer(nq);
    for (int64_t n = 0; n < c.N; n++)
        for (int64_t k = 0; k < c.C; k++) {
            wv(qw, n * c.C + k, k == y[n]);
            wv(nw, n * c.C + k, k != y[n]);
        }
    tg_tensor *xy = tg_sum_axis(tg_mul(input, q), c.ax, true);              /* [N, 1] */
    tg_tensor *h = tg_relu(tg_add_scalar(tg_sub(input, xy), margin));       /* [N, C] */
    tg_tensor *l = tg_div_scalar(tg_sum_axis(tg_mul(h, nq), c.ax, false), (double)c.C);
    return reduce(tape, op, l, r, false);
}
