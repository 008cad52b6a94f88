/* reduce.c - sums and means over all elements or chosen axes; then var,
 * std, norm and prod. (The reductions that pick, amax to logsumexp, are
 * in extrema.c.)
 *
 *   sum over axes A:  out = sum_A a        d/da: g broadcast back over A
 *   mean over A:      sum / count          (composed from sum and mul_scalar)
 *
 * The record keeps a bit mask of reduced axes and keepdim in u.i
 * (red_code, reduce.h).
 */
#include "tg_internal.h"
#include "op_common.h"
#include "reduce.h"
#include "fuse.h"
#include "sum_order.h"

#include <math.h>

void tg__reduce_into(int dt, void *dst, int drank, const int64_t *dshape, const void *src,
                     int srank, const int64_t *sshape) {
    int64_t st[2][TG_MAX_RANK];
    tg__strides(srank, sshape, st[0]);
    tg__bstrides(drank, dshape, srank, sshape, st[1]);
    tg_rows it;
    tg__rows_init(&it, srank, sshape, 2, st);
    if (it.n == 0) return;
    bool all = true; /* dst is one element that every element adds into */
    for (int d = 0; d < srank; d++) all = all && st[1][d] == 0;
    if (all) { /* sum_order.h's order, on the pool when large, as tg_sum */
        double s = tg__sum_flat(dt, src, tg__shape_numel(srank, sshape));
        if (dt == TG_F32)
            *(float *)dst += (float)s;
        else
            *(double *)dst += s;
        return;
    }
    do {
        int64_t n = it.n;
        if (dt == TG_F32) {
            const float *restrict s = (const float *)src + it.off[0];
            float *restrict d = (float *)dst + it.off[1];
            if (it.inner[1]) {
                for (int64_t i = 0; i < n; i++) d[i] += s[i];
            } else {
                double acc = 0; /* a row summed into one element */
                for (int64_t i = 0; i < n; i++) acc += s[i];
                d[0] += (float)acc;
            }
        } else {
            const double *restrict s = (const double *)src + it.off[0];
            double *restrict d = (double *)dst + it.off[1];
            if (it.inner[1]) {
                for (int64_t i = 0; i < n; i++) d[i] += s[i];
            } else {
                double acc = 0;
                for (int64_t i = 0; i < n; i++) acc += s[i];
                d[0] += acc;
            }
        }
    } while (tg__rows_next(&it));
}

/* A full sum over n contiguous elements, in sum_order.h's order: chunks
 * of lanes, on the pool when large. */
typedef struct flat_job {
    int dt;
    const void *src;
    int64_t n, chunk;
    double *part; /* (nc,) the chunks' totals */
} flat_job;

static void flat_chunks(void *ctx, int64_t lo, int64_t hi) {
    const flat_job *j = ctx;
    for (int64_t c = lo; c < hi; c++) {
        int64_t s = c * j->chunk, m = j->n - s < j->chunk ? j->n - s : j->chunk, k = 0;
        double l[SUM_LANES] = {0};
#define FLAT_LANES(T)                                                          \
    do {                                                                       \
        const T *restrict x = (const T *)j->src + s;                           \
        for (; k + SUM_LANES <= m; k += SUM_LANES)                             \
            for (int i = 0; i < SUM_LANES; i++) l[i] += (double)x[k + i];      \
        for (int i = 0; k + i < m; i++) l[i] += (double)x[k + i];              \
    } while (0)
        TG_FLOAT_CASES(j->dt, FLAT_LANES);
#undef FLAT_LANES
        j->part[c] = sum_lanes(l);
    }
}

double tg__sum_flat(int dt, const void *src, int64_t n) {
    if (n <= 0) return 0;
    double part[SUM_CHUNKS];
    flat_job j = {dt, src, n, sum_chunk(n), part};
    sum_chunks_run(n, j.chunk, flat_chunks, &j);
    return sum_parts(part, (n + j.chunk - 1) / j.chunk);
}

static double red_count(const tg_tensor *a, int64_t mask);

/* The sum record; `op` names the public function in errors (sum, mean). */
static tg_tensor *sum_axes(const char *op, tg_tensor *a, int naxes, const int *axes,
                           bool keepdim) {
    tg_tape *tape = tg__check_lazy(op, 1, &a, true); /* a lazy a: summed fused, below */
    if (!tape) return NULL;
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank;
    if (!tg__red_axes(tape, op, a, naxes, axes, keepdim, &mask, kshape, &orank, oshape))
        return NULL;
    /* a lazy chain summed whole: block by block, never stored (fuse.h) */
    bool fused = tg__unready(a) && !tg__pinned(a) && mask == ((int64_t)1 << a->rank) - 1;
    if (!fused && !tg__ready(a)) return NULL;
    tg_tensor *out = tg__out(tape, TG_OP_SUM, a->dtype, orank, oshape, a, NULL, NULL);
    if (!out) return NULL;
    out->u.i = red_code(mask, keepdim);
    int64_t n = tg__numel(out);
    if (fused) return tg__fuse_sum(out, a) ? out : NULL;
    if (n == 1) { /* every element into one: sum_order.h's order, as fused */
        double s = tg__sum_flat(a->dtype, a->data, tg__numel(a));
        if (a->dtype == TG_F32)
            *(float *)out->data = (float)s;
        else
            *(double *)out->data = s;
        return out;
    }
    memset(out->data, 0, (size_t)n * tg__esize(a->dtype));
    tg__reduce_into(a->dtype, out->data, a->rank, kshape, a->data, a->rank, a->shape);
    return out;
}

tg_tensor *tg_sum_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    return tg__handle(sum_axes("sum", a, naxes, axes, keepdim));
}

/* d a += g broadcast back over the reduced axes. */
bool tg__bw_sum(tg_tensor *o) {
    tg_tensor *a = o->in0;
    bool w; /* fresh: every element is written once, so write, don't add */
    void *ga = tg__gacc_w(a, &w);
    if (!ga) return false;
    int64_t kshape[TG_MAX_RANK], st[2][TG_MAX_RANK];
    kept_shape(o, kshape);
    tg__strides(a->rank, a->shape, st[0]);
    tg__bstrides(a->rank, kshape, a->rank, a->shape, st[1]);
    tg_rows it;
    tg__rows_init(&it, a->rank, a->shape, 2, st);
    if (it.n == 0) return true;
    if (tg__numel(o) == 1) { /* a sum of everything: one value, every element */
        int64_t n = tg__numel(a);
#define SUM_BW1(T)                                                             \
    do {                                                                       \
        T *restrict d = ga, g0 = *(const T *)o->grad;                          \
        if (w)                                                                 \
            for (int64_t i = 0; i < n; i++) d[i] = g0;                         \
        else                                                                   \
            for (int64_t i = 0; i < n; i++) d[i] += g0;                        \
    } while (0)
        TG_FLOAT_CASES(o->dtype, SUM_BW1);
#undef SUM_BW1
        return true;
    }
#define SUM_BW(T)                                                              \
    do {                                                                       \
        T *d = (T *)ga + it.off[0];                                            \
        const T *g = (const T *)o->grad + it.off[1];                           \
        if (w)                                                                 \
            for (int64_t i = 0; i < n; i++) d[i] = g[i * ig];                  \
        else                                                                   \
            for (int64_t i = 0; i < n; i++) d[i] += g[i * ig];                 \
    } while (0)
    do {
        int64_t n = it.n, ig = it.inner[1];
        TG_FLOAT_CASES(o->dtype, SUM_BW);
    } while (tg__rows_next(&it));
#undef SUM_BW
    return true;
}

tg_tensor *tg__vjp_sum(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0;
    int64_t kshape[TG_MAX_RANK];
    kept_shape(o, kshape);
    return tg_expand(tg_reshape(g, a->rank, kshape), a->rank, a->shape);
}

tg_tensor *tg_sum(tg_tensor *a) { return tg_sum_axes(a, 0, NULL, false); }

tg_tensor *tg_sum_axis(tg_tensor *a, int axis, bool keepdim) {
    return tg_sum_axes(a, 1, &axis, keepdim);
}

tg_tensor *tg_mean_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    tg_tensor *s = sum_axes("mean", a, naxes, axes, keepdim);
    if (!s) return NULL;
    tg_tensor *x = s->in0; /* the resolved input */
    double count = red_count(x, red_mask(s));
    return tg_mul_scalar(s, count ? 1.0 / count : (double)NAN);
}

tg_tensor *tg_mean(tg_tensor *a) { return tg_mean_axes(a, 0, NULL, false); }

tg_tensor *tg_mean_axis(tg_tensor *a, int axis, bool keepdim) {
    return tg_mean_axes(a, 1, &axis, keepdim);
}

/* ======================================================================
 * More reductions. naxes == 0 reduces over every axis.
 *
 *   op          out (over the reduced axes A)     d/da (g broadcast back over A)
 *   var         sum_A (a - mean)^2 / max(0, N - c)     composed: mean, sub, square, sum
 *   std         sqrt(var)                         composed; 0 where std == 0 (PyTorch)
 *   prod        prod_A a                          product of the others (zeros handled)
 *   norm p=1    sum_A |a|                         composed: abs, sum
 *   norm p=2    sqrt(sum_A a^2)                   composed; 0 at the zero vector
 *   safe_sqrt   sqrt(a) (internal)                g / (2 out), 0 where out == 0
 *
 * prod's graph backward stays differentiable with zeros in the input: with
 * z = (a == 0), a1 = a (1 - z) + z, P1 = prod_A a1 and n = sum_A z,
 *   d out / d a_j = P1 / a1_j * ( [n - z_j == 0] + [n - z_j == 1] (S - z_j a_j) ),
 * S = sum_A z a (value 0, derivative z): exact values and exact second
 * derivatives (the product of the others as a function, to first order).
 * ==================================================================== */

/* Validates an axis list (naxes == 0: all) into a bit mask, the kept
 * shape and the output shape. Errors name the op and the shape. */
bool tg__red_axes(tg_tape *tape, const char *op, const tg_tensor *a, int naxes, const int *axes,
                  bool keepdim, int64_t *mask, int64_t *kshape, int *orank, int64_t *oshape) {
    char b[160];
    if (naxes < 0 || naxes > TG_MAX_RANK || (naxes > 0 && !axes))
        return tg__fail(tape, TG_ERR_ARG, op, "bad axis list (%d axes) for shape %s", naxes,
                        tg__shape_str(b, sizeof b, a->rank, a->shape)), false;
    int64_t m = 0;
    for (int k = 0; k < naxes; k++) {
        int ax = tg__axis(axes[k], a->rank);
        if (ax < 0)
            return tg__fail(tape, TG_ERR_ARG, op, "axis %d is out of range for shape %s", axes[k],
                            tg__shape_str(b, sizeof b, a->rank, a->shape)), false;
        if (a->rank && (m >> ax & 1))
            return tg__fail(tape, TG_ERR_ARG, op, "axis %d is listed twice for shape %s", axes[k],
                            tg__shape_str(b, sizeof b, a->rank, a->shape)), false;
        if (a->rank) m |= (int64_t)1 << ax;
    }
    if (naxes == 0) m = ((int64_t)1 << a->rank) - 1;
    int r = 0;
    for (int d = 0; d < a->rank; d++) {
        kshape[d] = m >> d & 1 ? 1 : a->shape[d];
        if (keepdim || !(m >> d & 1)) oshape[r++] = kshape[d];
    }
    *mask = m;
    *orank = r;
    return true;
}

/* Checks the input and the axes of a new-style reduction; sets a to the
 * resolved input. */
tg_tape *tg__red_check(const char *op, tg_tensor **a, int naxes, const int *axes, bool keepdim,
                       int64_t *mask, int64_t *kshape, int *orank, int64_t *oshape) {
    tg_tape *tape = tg__check1(op, a, true);
    if (!tape) return NULL;
    if (!tg__red_axes(tape, op, *a, naxes, axes, keepdim, mask, kshape, orank, oshape))
        return NULL;
    return tape;
}

/* The reduced axes of a mask as a list; returns the count. */
static int mask_axes(int64_t mask, int rank, int *axes) {
    int n = 0;
    for (int d = 0; d < rank; d++)
        if (mask >> d & 1) axes[n++] = d;
    return n;
}

/* Elements per output element, as a double: the reduced axes of [2^62,
 * 4, 0] over axes 0 and 1 multiply past INT64_MAX (into an empty result,
 * so the exact value does not matter), and below 2^53 a double is exact. */
static double red_count(const tg_tensor *a, int64_t mask) {
    double c = 1;
    for (int d = 0; d < a->rank; d++)
        if (mask >> d & 1) c *= (double)a->shape[d];
    return c;
}

/* ------------------------------------------------------------- var, std */

/* The internal safe square root of std and norm: the gradient is zero
 * where the result is zero (PyTorch's std and norm), never NaN. */
static tg_tensor *safe_sqrt(tg_tensor *a) {
    tg_tape *tape = tg__check1("safe_sqrt", &a, true);
    if (!tape) return NULL;
    tg_tensor *out = tg__out(tape, TG_OP_SAFE_SQRT, a->dtype, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    int64_t n = tg__numel(a);
    if (a->dtype == TG_F32)
        for (int64_t i = 0; i < n; i++) ((float *)out->data)[i] = sqrtf(((const float *)a->data)[i]);
    else
        for (int64_t i = 0; i < n; i++) ((double *)out->data)[i] = sqrt(((const double *)a->data)[i]);
    return out;
}

bool tg__bw_safe_sqrt(tg_tensor *o) {
    void *ga = tg__gacc(o->in0);
    if (!ga) return false;
    int64_t n = tg__numel(o);
    if (o->dtype == TG_F32) {
        const float *z = o->data, *g = o->grad;
        float *d = ga;
        for (int64_t i = 0; i < n; i++) d[i] += z[i] > 0 ? g[i] / (2 * z[i]) : 0;
    } else {
        const double *z = o->data, *g = o->grad;
        double *d = ga;
        for (int64_t i = 0; i < n; i++) d[i] += z[i] > 0 ? g[i] / (2 * z[i]) : 0;
    }
    return true;
}

tg_tensor *tg__vjp_safe_sqrt(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    /* g pos / (2 where(pos, out, 1)): where keeps the unused branch finite */
    tg_tensor *pos = tg__mask(o, 1);
    tg_tensor *one = tg_scalar_as(o->tape, (tg_dtype)o->dtype, 1.0);
    return tg_div(tg_mul(g, pos), tg_mul_scalar(tg_where(pos, o, one), 2.0));
}

static tg_tensor *var_impl(const char *op, tg_tensor *a, int naxes, const int *axes,
                           int correction, bool keepdim) {
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank, ax[TG_MAX_RANK];
    if (!tg__red_check(op, &a, naxes, axes, keepdim, &mask, kshape, &orank, oshape)) return NULL;
    int nax = mask_axes(mask, a->rank, ax);
    double div = red_count(a, mask) - correction;
    /* two passes, as PyTorch: the squared deviation from the mean */
    tg_tensor *d = tg_sub(a, tg_mean_axes(a, nax, ax, true));
    return tg_div_scalar(tg_sum_axes(tg_square(d), nax, ax, keepdim), div > 0 ? div : 0.0);
}

tg_tensor *tg_var(tg_tensor *a, int naxes, const int *axes, int correction, bool keepdim) {
    return tg__handle(var_impl("var", a, naxes, axes, correction, keepdim));
}

tg_tensor *tg_std(tg_tensor *a, int naxes, const int *axes, int correction, bool keepdim) {
    return tg__handle(safe_sqrt(var_impl("std", a, naxes, axes, correction, keepdim)));
}

/* ------------------------------------------------------------------ norm */

tg_tensor *tg_norm(tg_tensor *a, int p, int naxes, const int *axes, bool keepdim) {
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank, ax[TG_MAX_RANK];
    tg_tape *tape = tg__red_check("norm", &a, naxes, axes, keepdim, &mask, kshape, &orank, oshape);
    if (!tape) return NULL;
    if (p != 1 && p != 2) {
        char b[160];
        return tg__fail(tape, TG_ERR_ARG, "norm", "p = %d is not supported (1 or 2) for %s", p,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    }
    int nax = mask_axes(mask, a->rank, ax);
    if (p == 1) return tg_sum_axes(tg_abs(a), nax, ax, keepdim);
    return tg__handle(safe_sqrt(tg_sum_axes(tg_square(a), nax, ax, keepdim)));
}

/* ------------------------------------------------------------------ prod */

tg_tensor *tg_prod(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank;
    tg_tape *tape = tg__red_check("prod", &a, naxes, axes, keepdim, &mask, kshape, &orank, oshape);
    if (!tape) return NULL;
    tg_tensor *out = red_out(tape, TG_OP_PROD, a->dtype, a, mask, keepdim, orank, oshape);
    if (!out) return NULL;
    int64_t m = tg__numel(out);
    if (a->dtype == TG_F32) {
        float *d = out->data;
        for (int64_t i = 0; i < m; i++) d[i] = 1;
        RED_WALK(float, a, kshape, d[oi] *= x;);
    } else {
        double *d = out->data;
        for (int64_t i = 0; i < m; i++) d[i] = 1;
        RED_WALK(double, a, kshape, d[oi] *= x;);
    }
    return tg__handle(out);
}

/* d a_j = g * (product of the others): out / a_j without zeros in the
 * slice, the product of the nonzeros at the only zero, else 0. */
bool tg__bw_prod(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int64_t kshape[TG_MAX_RANK], m = tg__numel(o);
    kept_shape(o, kshape);
    double *nz = tg__arena_n(o->tape, m ? m : 1, 2 * sizeof(double), "prod");
    if (!nz) return false;
    double *pnz = nz + m; /* zeros per slice, product of the nonzeros */
    for (int64_t i = 0; i < m; i++) nz[i] = 0, pnz[i] = 1;
#define PROD_BW(T)                                                             \
    do {                                                                       \
        const T *z = o->data, *g = o->grad;                                    \
        T *d = ga;                                                             \
        RED_WALK(T, a, kshape, if (x == 0) nz[oi] += 1; else pnz[oi] *= x;);     \
        RED_WALK(T, a, kshape, {                                               \
            if (nz[oi] == 0)                                                    \
                d[k] += g[oi] * (z[oi] / x);                                     \
            else if (nz[oi] == 1 && x == 0)                                     \
                d[k] += g[oi] * (T)pnz[oi];                                      \
        });                                                                    \
    } while (0)
    TG_FLOAT_CASES(o->dtype, PROD_BW);
#undef PROD_BW
    return true;
}

tg_tensor *tg__vjp_prod(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0;
    int64_t kshape[TG_MAX_RANK] = {0}, n = tg__numel(a), mask = red_mask(o);
    kept_shape(o, kshape);
    int ax[TG_MAX_RANK], nax = mask_axes(mask, a->rank, ax);
    tg_tensor *gk = tg_reshape(g, a->rank, kshape);
    bool zeros = false;
    for (int64_t k = 0; k < n && !zeros; k++) zeros = tg_tensor_get(a, k) == 0;
    if (!zeros) /* g * out / a */
        return tg_mul(gk, tg_div(tg_reshape(o, a->rank, kshape), a));
    tg_tensor *z = tg__mask(a, 2), *nzm = red_const(a, a->rank, a->shape);
    tg_tensor *c0 = red_const(a, a->rank, a->shape), *c1 = red_const(a, a->rank, a->shape);
    int64_t m = tg__numel(o);
    double *cnt = tg__arena_n(o->tape, m ? m : 1, sizeof(double), "prod");
    if (!z || !nzm || !c0 || !c1 || !cnt) return NULL;
    for (int64_t k = 0; k < m; k++) cnt[k] = 0;
#define PROD_MASKS(T)                                                          \
    do {                                                                       \
        T *pn = nzm->data, *p0 = c0->data, *p1 = c1->data;                     \
        RED_WALK(T, a, kshape, if (x == 0) cnt[oi] += 1;);                      \
        RED_WALK(T, a, kshape, {                                               \
            double others = cnt[oi] - (x == 0);                                 \
            pn[k] = x != 0;                                                    \
            p0[k] = others == 0;                                               \
            p1[k] = others == 1;                                               \
        });                                                                    \
    } while (0)
    TG_FLOAT_CASES(a->dtype, PROD_MASKS);
#undef PROD_MASKS
    tg_tensor *a1 = tg_add(tg_mul(a, nzm), z);           /* zeros -> 1, derivative 0 there */
    tg_tensor *p1 = tg_prod(a1, nax, ax, true);          /* product of the nonzeros */
    tg_tensor *za = tg_mul(a, z);                        /* the zero entries, as variables */
    tg_tensor *s = tg_sum_axes(za, nax, ax, true);
    tg_tensor *f = tg_add(c0, tg_mul(c1, tg_sub(s, za)));
    return tg_mul(gk, tg_mul(tg_div(p1, a1), f));
}
