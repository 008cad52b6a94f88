/* extrema.c - reductions that pick: amax, amin, argmax, argmin, and
 * logsumexp, the smooth maximum.
 *
 *   op          out (over the reduced axes A)     d/da (g broadcast back over A)
 *   amax, amin  max / min                         (a == out) / count of ties
 *   argmax/min  index of the first max / min      none (an i64 result)
 *   logsumexp   m + ln sum_A e^(a - m)            e^(a - out); 0 for a row of -inf
 *
 * naxes == 0 reduces over every axis; the record keeps its axes as sum's
 * (reduce.h).
 */
#include "tg_internal.h"
#include "op_common.h"
#include "reduce.h"
#include "softmax_simd.h"

#include <math.h>

/* e^x in each float type, for loops written once over T (vmath.h). */
static inline float exp_float(float x) { return tg__vexp_f32(x); }
static inline double exp_double(double x) { return tg__vexp_f64(x); }

/* No reduction over an empty axis where the result would be undefined. */
static bool red_nonempty(tg_tape *tape, const char *op, const tg_tensor *a, int64_t mask) {
    for (int d = 0; d < a->rank; d++)
        if ((mask >> d & 1) && a->shape[d] == 0) {
            char b[160];
            return tg__fail(tape, TG_ERR_SHAPE, op, "cannot reduce over axis %d of %s: it is empty",
                            d, tg__shape_str(b, sizeof b, a->rank, a->shape)), false;
        }
    return true;
}

/* ------------------------------------------------------------ amax, amin */

static tg_tensor *amaxmin(int op, tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    const char *name = tg__ops[op].name;
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank;
    tg_tape *tape = tg__red_check(name, &a, naxes, axes, keepdim, &mask, kshape, &orank, oshape);
    if (!tape || !red_nonempty(tape, name, a, mask)) return NULL;
    tg_tensor *out = red_out(tape, op, a->dtype, a, mask, keepdim, orank, oshape);
    if (!out) return NULL;
    int64_t m = tg__numel(out);
    bool mx = op == TG_OP_AMAX;
#define AMAX_FWD(T)                                                            \
    do {                                                                       \
        T *d = out->data;                                                      \
        for (int64_t i = 0; i < m; i++) d[i] = mx ? (T)-INFINITY : (T)INFINITY; \
        if (mx) /* NaN wins and stays */                                       \
            RED_WALK(T, a, kshape, if (x > d[oi] || x != x) d[oi] = x;);         \
        else                                                                   \
            RED_WALK(T, a, kshape, if (x < d[oi] || x != x) d[oi] = x;);         \
    } while (0)
    TG_FLOAT_CASES(a->dtype, AMAX_FWD);
#undef AMAX_FWD
    return out;
}

/* The weight of each element: (a == out) / (number of ties), a's shape. */
static double *amax_weights(tg_tensor *o, const int64_t *kshape) {
    tg_tensor *a = o->in0;
    int64_t m = tg__numel(o), n = tg__numel(a);
    double *cnt = tg__arena_n(o->tape, m + n + 1, sizeof(double), "amax"); /* <= 2^62 + 1 */
    if (!cnt) return NULL;
    double *w = cnt + m;
    for (int64_t i = 0; i < m; i++) cnt[i] = 0;
#define AMAX_W(T)                                                              \
    do {                                                                       \
        const T *z = o->data;                                                  \
        RED_WALK(T, a, kshape, cnt[oi] += x == z[oi];);                          \
        RED_WALK(T, a, kshape, w[k] = x == z[oi] ? 1 / cnt[oi] : 0;);            \
    } while (0)
    TG_FLOAT_CASES(a->dtype, AMAX_W);
#undef AMAX_W
    return w;
}

bool tg__bw_amaxmin(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    int64_t kshape[TG_MAX_RANK];
    kept_shape(o, kshape);
    double *w = ga ? amax_weights(o, kshape) : NULL;
    if (!w) return false;
    if (o->dtype == TG_F32) {
        const float *g = o->grad;
        float *d = ga;
        RED_WALK(float, a, kshape, d[k] += g[oi] * (float)w[k];);
    } else {
        const double *g = o->grad;
        double *d = ga;
        RED_WALK(double, a, kshape, d[k] += g[oi] * w[k];);
    }
    return true;
}

tg_tensor *tg__vjp_amaxmin(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0;
    int64_t kshape[TG_MAX_RANK] = {0}, n = tg__numel(a);
    kept_shape(o, kshape);
    double *w = amax_weights(o, kshape);
    tg_tensor *wt = red_const(a, a->rank, a->shape);
    if (!w || !wt) return NULL;
    for (int64_t k = 0; k < n; k++) {
        if (a->dtype == TG_F32)
            ((float *)wt->data)[k] = (float)w[k];
        else
            ((double *)wt->data)[k] = w[k];
    }
    return tg_mul(tg_reshape(g, a->rank, kshape), wt);
}

tg_tensor *tg_amax(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    return tg__handle(amaxmin(TG_OP_AMAX, a, naxes, axes, keepdim));
}
tg_tensor *tg_amin(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    return tg__handle(amaxmin(TG_OP_AMIN, a, naxes, axes, keepdim));
}

/* -------------------------------------------------------- argmax, argmin */

static tg_tensor *argmaxmin(int op, tg_tensor *a, int axis, bool keepdim) {
    const char *name = tg__ops[op].name;
    tg_tape *tape = tg__check1(name, &a, false);
    if (!tape) return NULL;
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank;
    if (!tg__red_axes(tape, name, a, 1, &axis, keepdim, &mask, kshape, &orank, oshape) ||
        !red_nonempty(tape, name, a, mask))
        return NULL;
    tg_tensor *out = red_out(tape, op, TG_I64, a, mask, keepdim, orank, oshape);
    if (!out) return NULL;
    out->flags &= (uint8_t)~TGF_REQ; /* indices are not differentiated */
    if (tg__numel(a) == 0) return out; /* nothing to pick ([2^62, 2^62, 3, 0]: no products) */
    int ax = a->rank ? tg__axis(axis, a->rank) : 0;
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < a->rank; d++) {
        if (d < ax) outer *= a->shape[d];
        else if (d == ax) len = a->shape[d];
        else inner *= a->shape[d];
    }
    int64_t *res = out->data;
    bool mx = op == TG_OP_ARGMAX;
    /* the first extreme; a NaN counts as the extreme (PyTorch) */
#define ARG(T)                                                                 \
    do {                                                                       \
        const T *x = a->data;                                                  \
        for (int64_t p = 0; p < outer; p++)                                    \
            for (int64_t q = 0; q < inner; q++) {                              \
                const T *row = x + p * len * inner + q;                        \
                int64_t best = 0;                                              \
                T bv = row[0];                                                 \
                for (int64_t j = 1; j < len && bv == bv; j++) {                \
                    T v = row[j * inner];                                      \
                    if ((mx ? v > bv : v < bv) || v != v) bv = v, best = j;    \
                }                                                              \
                res[p * inner + q] = best;                                     \
            }                                                                  \
    } while (0)
    if (a->dtype == TG_F32)
        ARG(float);
    else if (a->dtype == TG_F64)
        ARG(double);
    else
        ARG(int64_t);
#undef ARG
    return out;
}

tg_tensor *tg_argmax(tg_tensor *a, int axis, bool keepdim) {
    return tg__handle(argmaxmin(TG_OP_ARGMAX, a, axis, keepdim));
}
tg_tensor *tg_argmin(tg_tensor *a, int axis, bool keepdim) {
    return tg__handle(argmaxmin(TG_OP_ARGMIN, a, axis, keepdim));
}

/* ------------------------------------------------------------- logsumexp */

/* The reduced axes of a as one block [outer, L, inner] (true), when no
 * kept axis longer than 1 sits between two reduced ones and a has
 * elements: the row kernels of softmax_simd.h run it in one pass. */
static bool lse_block(const tg_tensor *a, int64_t mask, int64_t *outer, int64_t *L,
                      int64_t *inner) {
    *outer = *L = *inner = 1;
    /* no elements: the products below could overflow (a 0 after 2^62) */
    if (tg__numel(a) == 0) return false;
    int lo = a->rank, hi = -1;
    for (int d = 0; d < a->rank; d++)
        if (mask >> d & 1) lo = d < lo ? d : lo, hi = d;
    for (int d = 0; d < a->rank; d++) {
        bool red = mask >> d & 1;
        if (!red && d > lo && d < hi && a->shape[d] != 1) return false;
        int64_t *f = d < lo ? outer : d <= hi ? L : inner;
        if (d >= lo && d <= hi && !red) f = outer; /* a kept 1 inside the block */
        *f *= a->shape[d];
    }
    return true;
}

tg_tensor *tg_logsumexp(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank;
    tg_tape *tape =
        tg__red_check("logsumexp", &a, naxes, axes, keepdim, &mask, kshape, &orank, oshape);
    if (!tape) return NULL;
    tg_tensor *out = red_out(tape, TG_OP_LOGSUMEXP, a->dtype, a, mask, keepdim, orank, oshape);
    if (!out) return NULL;
    int64_t outer, L, inner;
    if (lse_block(a, mask, &outer, &L, &inner)) {
        lse_job j = {a->dtype, L, inner, a->data, out->data, NULL, NULL};
        tg__lse_rows(false, &j, outer);
        return tg__handle(out);
    }
    int64_t m = tg__numel(out);
    double *mx = tg__arena_n(tape, 2 * m + 1, sizeof(double), "logsumexp");
    if (!mx) return NULL;
    double *acc = mx + m;
    for (int64_t i = 0; i < m; i++) mx[i] = -INFINITY, acc[i] = 0;
    /* m = max (0 where infinite, as PyTorch), out = m + ln sum e^(a - m) */
#define LSE(T)                                                                 \
    do {                                                                       \
        RED_WALK(T, a, kshape, if (x > mx[oi] || x != x) mx[oi] = x;);         \
        for (int64_t i = 0; i < m; i++)                                        \
            if (isinf(mx[i])) mx[i] = 0;                                       \
        RED_WALK(T, a, kshape, acc[oi] += exp_##T(x - (T)mx[oi]););            \
        T *d = out->data;                                                      \
        for (int64_t i = 0; i < m; i++) d[i] = (T)(log(acc[i]) + mx[i]);       \
    } while (0)
    TG_FLOAT_CASES(a->dtype, LSE);
#undef LSE
    return tg__handle(out);
}

bool tg__bw_logsumexp(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int64_t outer, L, inner;
    if (lse_block(a, red_mask(o), &outer, &L, &inner)) {
        lse_job j = {o->dtype, L, inner, a->data, o->data, o->grad, ga};
        tg__lse_rows(true, &j, outer);
        return true;
    }
    int64_t kshape[TG_MAX_RANK];
    kept_shape(o, kshape);
    /* softmax: e^(a - out); a row of -inf has none (PyTorch gives NaN) */
#define LSE_BW(T)                                                              \
    do {                                                                       \
        const T *z = o->data, *g = o->grad;                                    \
        T *d = ga;                                                             \
        RED_WALK(T, a, kshape, if (z[oi] != -INFINITY) d[k] += g[oi] * exp_##T(x - z[oi]);); \
    } while (0)
    TG_FLOAT_CASES(o->dtype, LSE_BW);
#undef LSE_BW
    return true;
}

tg_tensor *tg__vjp_logsumexp(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0;
    int64_t kshape[TG_MAX_RANK] = {0}, m = tg__numel(o);
    kept_shape(o, kshape);
    tg_tensor *ok = tg_reshape(o, a->rank, kshape), *gk = tg_reshape(g, a->rank, kshape);
    bool ninf = false;
    for (int64_t k = 0; k < m && !ninf; k++) ninf = tg_tensor_get(o, k) == -INFINITY;
    if (!ninf) return tg_mul(gk, tg_exp(tg_sub(a, ok)));
    /* rows of -inf: compute e^(0 - 0) there and mask it out; where keeps
     * the unused branch out of the gradient, so no NaN leaks in */
    tg_tensor *r = red_const(a, a->rank, kshape);
    if (!r) return NULL;
    for (int64_t k = 0; k < m; k++) {
        bool v = tg_tensor_get(o, k) == -INFINITY;
        if (a->dtype == TG_F32)
            ((float *)r->data)[k] = v;
        else
            ((double *)r->data)[k] = v;
    }
    tg_tensor *zero = tg_scalar_as(o->tape, (tg_dtype)a->dtype, 0.0);
    tg_tensor *e = tg_exp(tg_sub(tg_where(r, zero, a), tg_where(r, zero, ok)));
    return tg_mul(gk, tg_mul(e, tg_rsub_scalar(r, 1.0)));
}
