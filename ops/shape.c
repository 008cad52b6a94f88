/* shape.c - reshape, transpose, expand, sum_to, cast.
 *
 *   op         out                          d/da
 *   reshape    same data, new shape         reshape(g, a's shape)
 *   transpose  axes i and j swapped         transpose(g, i, j)
 *   expand     a broadcast to a shape       sum_to(g, a's shape)
 *   cast       a in another dtype           cast(g, a's dtype)
 */
#include "tg_internal.h"

/* --------------------------------------------------------------- reshape */

tg_tensor *tg_reshape(tg_tensor *a, int rank, const int64_t *shape) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("reshape", 1, in, false);
    if (!tape) return NULL;
    a = in[0];
    if (rank < 0 || rank > TG_MAX_RANK || (rank && !shape))
        return tg__fail(tape, TG_ERR_ARG, "reshape", "bad target rank %d", rank);
    int64_t s[TG_MAX_RANK], known = 1;
    int infer = -1;
    for (int d = 0; d < rank; d++) {
        s[d] = shape[d];
        if (s[d] == -1 && infer < 0) {
            infer = d;
        } else if (s[d] < 0) {
            return tg__fail(tape, TG_ERR_SHAPE, "reshape", "bad dimension %lld",
                            (long long)shape[d]);
        } else {
            if (s[d] && known > INT64_MAX / s[d])
                return tg__fail(tape, TG_ERR_OVERFLOW, "reshape", "target shape overflows");
            known *= s[d];
        }
    }
    int64_t n = tg__numel(a);
    if (infer >= 0) s[infer] = known ? n / known : 0;
    char b0[160], b1[160];
    if ((infer >= 0 ? s[infer] * known : known) != n || (infer >= 0 && known == 0))
        return tg__fail(tape, TG_ERR_SHAPE, "reshape", "cannot reshape %s (%lld elements) to %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape), (long long)n,
                        tg__shape_str(b1, sizeof b1, rank, shape));
    return tg__out(tape, TG_OP_RESHAPE, a->dtype, rank, s, a, NULL, a->data);
}

bool tg__bw_reshape(tg_tensor *o) {
    void *ga = tg__gacc(o->in0);
    if (!ga) return false;
    tg__add_into(o->dtype, ga, o->grad, tg__numel(o));
    return true;
}

tg_tensor *tg__vjp_reshape(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_reshape(g, o->in0->rank, o->in0->shape);
}

/* ------------------------------------------------------------- transpose */

/* Copies src (shape, contiguous) into dst permuted: dst axis d is src
 * axis perm[d]. */
static void permute_copy(int dt, int rank, const int64_t *shape, const int *perm,
                         const void *src, void *dst) {
    int64_t sst[TG_MAX_RANK], dshape[TG_MAX_RANK], st[2][TG_MAX_RANK];
    tg__strides(rank, shape, sst);
    for (int d = 0; d < rank; d++) {
        dshape[d] = shape[perm[d]];
        st[1][d] = sst[perm[d]];
    }
    tg__strides(rank, dshape, st[0]);
    tg_rows it;
    tg__rows_init(&it, rank, dshape, 2, st);
    if (it.n == 0) return;
    size_t es = tg__esize(dt);
    do {
        int64_t n = it.n, is = it.inner[1];
        if (es == 4) {
            float *d = (float *)dst + it.off[0];
            const float *s = (const float *)src + it.off[1];
            for (int64_t i = 0; i < n; i++) d[i] = s[i * is];
        } else {
            double *d = (double *)dst + it.off[0];
            const double *s = (const double *)src + it.off[1];
            for (int64_t i = 0; i < n; i++) d[i] = s[i * is];
        }
    } while (tg__rows_next(&it));
}

tg_tensor *tg_transpose(tg_tensor *a, int axis0, int axis1) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("transpose", 1, in, false);
    if (!tape) return NULL;
    a = in[0];
    int i = tg__axis(axis0, a->rank), j = tg__axis(axis1, a->rank);
    if (i < 0 || j < 0 || a->rank == 0) {
        char b[160];
        return tg__fail(tape, TG_ERR_ARG, "transpose", "axes (%d, %d) are out of range for shape %s",
                        axis0, axis1, tg__shape_str(b, sizeof b, a->rank, a->shape));
    }
    int perm[TG_MAX_RANK];
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < a->rank; d++) perm[d] = d;
    perm[i] = j, perm[j] = i;
    for (int d = 0; d < a->rank; d++) shape[d] = a->shape[perm[d]];
    tg_tensor *out = tg__out(tape, TG_OP_TRANSPOSE, a->dtype, a->rank, shape, a, NULL, NULL);
    if (!out) return NULL;
    out->u.i = i | j << 8;
    permute_copy(a->dtype, a->rank, a->shape, perm, a->data, out->data);
    return out;
}

tg_tensor *tg__vjp_transpose(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_transpose(g, (int)(o->u.i & 255), (int)(o->u.i >> 8));
}

/* ---------------------------------------------------------------- expand */

tg_tensor *tg_expand(tg_tensor *a, int rank, const int64_t *shape) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("expand", 1, in, false);
    if (!tape) return NULL;
    a = in[0];
    char b0[160], b1[160];
    if (rank < a->rank || rank > TG_MAX_RANK || (rank && !shape))
        return tg__fail(tape, TG_ERR_SHAPE, "expand", "cannot expand %s to rank %d",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape), rank);
    for (int d = 0; d < a->rank; d++) {
        int64_t want = shape[rank - a->rank + d];
        if (a->shape[d] != want && a->shape[d] != 1)
            return tg__fail(tape, TG_ERR_SHAPE, "expand", "cannot expand %s to %s",
                            tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                            tg__shape_str(b1, sizeof b1, rank, shape));
    }
    tg_tensor *out = tg__out(tape, TG_OP_EXPAND, a->dtype, rank, shape, a, NULL, NULL);
    if (!out) return NULL;
    int64_t st[2][TG_MAX_RANK];
    tg__strides(rank, shape, st[0]);
    tg__bstrides(a->rank, a->shape, rank, shape, st[1]);
    tg_rows it;
    tg__rows_init(&it, rank, shape, 2, st);
    if (it.n == 0) return out;
    do {
        int64_t n = it.n, is = it.inner[1];
        if (a->dtype == TG_F32) {
            float *d = (float *)out->data + it.off[0];
            const float *s = (const float *)a->data + it.off[1];
            for (int64_t k = 0; k < n; k++) d[k] = s[k * is];
        } else {
            double *d = (double *)out->data + it.off[0];
            const double *s = (const double *)a->data + it.off[1];
            for (int64_t k = 0; k < n; k++) d[k] = s[k * is];
        }
    } while (tg__rows_next(&it));
    return out;
}

bool tg__bw_expand(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    tg__reduce_into(o->dtype, ga, a->rank, a->shape, o->grad, o->rank, o->shape);
    return true;
}

tg_tensor *tg__vjp_expand(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg__sum_like(g, o->in0);
}

/* ---------------------------------------------------------------- sum_to */

tg_tensor *tg_sum_to(tg_tensor *a, int rank, const int64_t *shape) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("sum_to", 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    char b0[160], b1[160];
    bool fits = rank <= a->rank && rank >= 0 && (rank == 0 || shape);
    int axes[TG_MAX_RANK], n = 0;
    for (int d = 0; fits && d < a->rank; d++) {
        int j = d - (a->rank - rank);
        if (j < 0 || (shape[j] == 1 && a->shape[d] != 1))
            axes[n++] = d;
        else if (shape[j] != a->shape[d])
            fits = false;
    }
    if (!fits)
        return tg__fail(tape, TG_ERR_SHAPE, "sum_to", "cannot sum %s down to %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, rank, shape));
    if (n == 0 && rank == a->rank) return a;
    tg_tensor *s = n ? tg_sum_axes(a, n, axes, true) : a;
    return tg_reshape(s, rank, shape);
}

tg_tensor *tg__sum_like(tg_tensor *g, const tg_tensor *like) {
    if (!g) return NULL;
    if (tg__same_shape(g, like)) return g;
    return tg_sum_to(g, like->rank, like->shape);
}

/* ------------------------------------------------------------------ cast */

tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("cast", 1, in, false);
    if (!tape) return NULL;
    a = in[0];
    if (dt != TG_F32 && dt != TG_F64 && dt != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, "cast", "unknown dtype %d", (int)dt);
    if (a->dtype == dt) return a;
    tg_tensor *out = tg__out(tape, TG_OP_CAST, dt, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    if (!tg__is_float(dt) || !tg__is_float(a->dtype)) out->flags &= (uint8_t)~TGF_REQ;
    int64_t n = tg__numel(a);
#define CONV(TS, TD)                                                           \
    {                                                                          \
        const TS *s = a->data;                                                 \
        TD *d = out->data;                                                     \
        for (int64_t k = 0; k < n; k++) d[k] = (TD)s[k];                       \
    }
    if (a->dtype == TG_F32 && dt == TG_F64) CONV(float, double)
    else if (a->dtype == TG_F64 && dt == TG_F32) CONV(double, float)
    else if (a->dtype == TG_F32) CONV(float, int64_t)
    else if (a->dtype == TG_F64) CONV(double, int64_t)
    else if (dt == TG_F32) CONV(int64_t, float)
    else CONV(int64_t, double)
#undef CONV
    return out;
}

tg_tensor *tg__vjp_cast(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_cast(g, (tg_dtype)o->in0->dtype);
}
