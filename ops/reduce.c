/* reduce.c - sums and means over all elements or chosen axes.
 *
 *   sum over axes A:  out = sum_A a        d/da: g broadcast back over A
 *   mean over A:      sum / count          (composed from sum and mul_scalar)
 *
 * The record keeps a bit mask of reduced axes (bits 0..7) and keepdim
 * (bit 8) in u.i.
 */
#include "tg_internal.h"

#include <math.h>

void tg__reduce_into(int dt, void *dst, int drank, const int64_t *dshape, const void *src,
                     int srank, const int64_t *sshape) {
    int64_t st[2][TG_MAX_RANK];
    tg__strides(srank, sshape, st[0]);
    tg__bstrides(drank, dshape, srank, sshape, st[1]);
    tg_rows it;
    tg__rows_init(&it, srank, sshape, 2, st);
    if (it.n == 0) return;
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

/* The keepdim shape of a reduction record: its input's shape with 1s. */
static void kept_shape(const tg_tensor *o, int64_t *shape) {
    const tg_tensor *a = o->in0;
    for (int d = 0; d < a->rank; d++) shape[d] = (o->u.i >> d) & 1 ? 1 : a->shape[d];
}

tg_tensor *tg_sum_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("sum", 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    if (naxes < 0 || (naxes > 0 && !axes))
        return tg__fail(tape, TG_ERR_ARG, "sum", "bad axis list (%d axes)", naxes);
    int64_t mask = 0;
    for (int k = 0; k < naxes; k++) {
        int ax = tg__axis(axes[k], a->rank);
        if (ax < 0 || a->rank == 0) {
            char b[160];
            return tg__fail(tape, TG_ERR_ARG, "sum", "axis %d is out of range for shape %s",
                            axes[k], tg__shape_str(b, sizeof b, a->rank, a->shape));
        }
        if (mask >> ax & 1)
            return tg__fail(tape, TG_ERR_ARG, "sum", "axis %d is listed twice", axes[k]);
        mask |= (int64_t)1 << ax;
    }
    int64_t kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank = 0;
    for (int d = 0; d < a->rank; d++) {
        kshape[d] = mask >> d & 1 ? 1 : a->shape[d];
        if (keepdim || !(mask >> d & 1)) oshape[orank++] = kshape[d];
    }
    tg_tensor *out = tg__out(tape, TG_OP_SUM, a->dtype, orank, oshape, a, NULL, NULL);
    if (!out) return NULL;
    out->u.i = mask | (keepdim ? 256 : 0);
    int64_t n = tg__numel(out);
    memset(out->data, 0, (size_t)n * tg__esize(a->dtype));
    tg__reduce_into(a->dtype, out->data, a->rank, kshape, a->data, a->rank, a->shape);
    return out;
}

/* d a += g broadcast back over the reduced axes. */
bool tg__bw_sum(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int64_t kshape[TG_MAX_RANK], st[2][TG_MAX_RANK];
    kept_shape(o, kshape);
    tg__strides(a->rank, a->shape, st[0]);
    tg__bstrides(a->rank, kshape, a->rank, a->shape, st[1]);
    tg_rows it;
    tg__rows_init(&it, a->rank, a->shape, 2, st);
    if (it.n == 0) return true;
    do {
        int64_t n = it.n, ig = it.inner[1];
        if (o->dtype == TG_F32) {
            float *d = (float *)ga + it.off[0];
            const float *g = (const float *)o->grad + it.off[1];
            for (int64_t i = 0; i < n; i++) d[i] += g[i * ig];
        } else {
            double *d = (double *)ga + it.off[0];
            const double *g = (const double *)o->grad + it.off[1];
            for (int64_t i = 0; i < n; i++) d[i] += g[i * ig];
        }
    } while (tg__rows_next(&it));
    return true;
}

tg_tensor *tg__vjp_sum(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0;
    int64_t kshape[TG_MAX_RANK];
    kept_shape(o, kshape);
    return tg_expand(tg_reshape(g, a->rank, kshape), a->rank, a->shape);
}

tg_tensor *tg_sum(tg_tensor *a) {
    int axes[TG_MAX_RANK];
    int r = a ? a->rank : 0; /* a record is always readable, even stale */
    for (int d = 0; d < r; d++) axes[d] = d;
    return tg_sum_axes(a, r, axes, false);
}

tg_tensor *tg_sum_axis(tg_tensor *a, int axis, bool keepdim) {
    return tg_sum_axes(a, 1, &axis, keepdim);
}

tg_tensor *tg_mean_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    tg_tensor *s = tg_sum_axes(a, naxes, axes, keepdim);
    if (!s) return NULL;
    tg_tensor *x = s->in0; /* the resolved input */
    int64_t count = 1;
    for (int d = 0; d < x->rank; d++)
        if (s->u.i >> d & 1) count *= x->shape[d];
    return tg_mul_scalar(s, count ? 1.0 / (double)count : (double)NAN);
}

tg_tensor *tg_mean(tg_tensor *a) {
    int axes[TG_MAX_RANK];
    int r = a ? a->rank : 0;
    for (int d = 0; d < r; d++) axes[d] = d;
    return tg_mean_axes(a, r, axes, false);
}

tg_tensor *tg_mean_axis(tg_tensor *a, int axis, bool keepdim) {
    return tg_mean_axes(a, 1, &axis, keepdim);
}
