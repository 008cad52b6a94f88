/* index.c - picking elements by i64 index tensors, and masks.
 *
 *   op            out                                   d/da
 *   index_select  a's rows idx[j] along axis            index_add(g): g's rows
 *                                                       added at rows idx[j]
 *   gather        out[..i..] = a[..idx[..i..]..]        scatter_add(g): each g
 *                 (torch.gather)                        added at its source
 *   embedding     index_select(weight, 0, idx)          (through index_select)
 *   masked_fill   value where mask != 0, else a         g where mask == 0
 *   one_hot       a 0/1 tensor (not differentiable)
 *
 * Repeated indices receive the sum of their gradients. index_add and
 * scatter_add are linear, with index_select and gather as their vjps, so
 * every order of derivative is available. Indices may be negative (from
 * the end, as the header says for index_select; gather follows the same
 * rule); anything outside [-L, L) is an error. embedding takes row numbers
 * in [0, V) only, as PyTorch: a negative one is an error.
 * The axis of index_select, index_add, gather and scatter_add lives in
 * flags bits 4..6 (tg__flag_axis, op_common.h).
 */
#include "tg_internal.h"
#include "op_common.h"

/* Checks that idx is an i64 tensor whose values lie in [-L, L). */
static bool check_index(tg_tape *tape, const char *op, const tg_tensor *a, const tg_tensor *idx,
                        int64_t L, int axis) {
    char b0[160], b1[160];
    if (idx->dtype != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, op, "index must be i64, got %s %s",
                        tg_dtype_name(idx->dtype),
                        tg__shape_str(b0, sizeof b0, idx->rank, idx->shape)),
               false;
    const int64_t *x = idx->data;
    int64_t n = tg__numel(idx);
    for (int64_t k = 0; k < n; k++)
        if (x[k] < -L || x[k] >= L)
            return tg__fail(tape, TG_ERR_ARG, op,
                            "index %lld (element %lld of index %s) is out of range for axis %d "
                            "of size %lld in %s",
                            (long long)x[k], (long long)k,
                            tg__shape_str(b1, sizeof b1, idx->rank, idx->shape), axis,
                            (long long)L, tg__shape_str(b0, sizeof b0, a->rank, a->shape)),
                   false;
    return true;
}

static inline int64_t fix(int64_t i, int64_t L) { return i < 0 ? i + L : i; }

/* ---------------------------------------------------------- index_select */

/* a [outer, L, inner], s [outer, M, inner], s[o, j] = a[o, idx[j]].
 * add == false: s = rows of a; true: a += rows of s. */
static void select_move(int dt, int64_t outer, int64_t L, int64_t M, int64_t inner,
                        const int64_t *idx, void *abuf, void *sbuf, bool add) {
    size_t es = tg__esize(dt);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < M; j++) {
            int64_t r = fix(idx[j], L);
            if (r < 0 || r >= L) continue; /* checked at forward; never trust twice */
            char *pa = (char *)abuf + (size_t)((o * L + r) * inner) * es;
            char *ps = (char *)sbuf + (size_t)((o * M + j) * inner) * es;
            if (add) tg__add_into(dt, pa, ps, inner);
            else memcpy(ps, pa, (size_t)inner * es);
        }
}

tg_tensor *tg_index_select(tg_tensor *a, int axis, tg_tensor *index) {
    tg_tensor *in[2] = {a, index};
    tg_tape *tape = tg__check("index_select", 2, in, false);
    if (!tape) return NULL;
    a = in[0], index = in[1];
    char b0[160], b1[160];
    int ax = tg__axis(axis, a->rank);
    if (ax < 0 || a->rank == 0)
        return tg__fail(tape, TG_ERR_ARG, "index_select", "axis %d is out of range for shape %s",
                        axis, tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    if (index->rank != 1)
        return tg__fail(tape, TG_ERR_SHAPE, "index_select",
                        "index must be 1-D, got %s (input %s)",
                        tg__shape_str(b1, sizeof b1, index->rank, index->shape),
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    if (!check_index(tape, "index_select", a, index, a->shape[ax], axis)) return NULL;
    int64_t shape[TG_MAX_RANK], M = index->shape[0];
    for (int d = 0; d < a->rank; d++) shape[d] = d == ax ? M : a->shape[d];
    tg_tensor *out = tg__out(tape, TG_OP_INDEX_SELECT, a->dtype, a->rank, shape, a, index, NULL);
    if (!out) return NULL;
    tg__flag_axis_set(out, ax);
    int64_t outer, inner;
    tg__around(a, ax, &outer, &inner);
    select_move(a->dtype, outer, a->shape[ax], M, inner, index->data, a->data, out->data, false);
    return tg__handle(out);
}

bool tg__bw_index_select(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int ax = tg__flag_axis(o);
    int64_t outer, inner;
    tg__around(a, ax, &outer, &inner);
    select_move(o->dtype, outer, a->shape[ax], o->shape[ax], inner, o->u.in1->data, ga, o->grad,
                true);
    return true;
}

tg_tensor *tg__vjp_index_select(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    /* index_add: zeros of a's shape with g's rows added at idx */
    tg_tensor *in[2] = {g, o->u.in1};
    tg_tape *tape = tg__check("index_select", 2, in, false);
    if (!tape) return NULL;
    g = in[0];
    int ax = tg__flag_axis(o);
    tg_tensor *a = o->in0;
    tg_tensor *out = tg__out(tape, TG_OP_INDEX_ADD, g->dtype, a->rank, a->shape, g, in[1], NULL);
    if (!out) return NULL;
    tg__flag_axis_set(out, ax);
    memset(out->data, 0, (size_t)tg__numel(out) * tg__esize(g->dtype));
    int64_t outer, inner;
    tg__around(a, ax, &outer, &inner);
    select_move(g->dtype, outer, a->shape[ax], g->shape[ax], inner, in[1]->data, out->data,
                g->data, true);
    return out;
}

tg_tensor *tg__vjp_index_add(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_index_select(g, tg__flag_axis(o), o->u.in1);
}

/* ---------------------------------------------------------------- gather */

/* For each position p of index (shape ishape): a-offset of the element it
 * picks. g[p] <-> a[...p with axis replaced by idx[p]...].
 * mode 0: out[p] = a[..]; 1: a[..] += out[p]. */
static void gather_move(int dt, int rank, const int64_t *ashape, const int64_t *ishape, int axis,
                        const int64_t *idx, void *abuf, void *obuf, int mode) {
    if (rank < 1 || rank > TG_MAX_RANK) return;
    int64_t st[2][TG_MAX_RANK], sa[TG_MAX_RANK];
    tg__strides(rank, ashape, sa);
    tg__strides(rank, ishape, st[0]);
    for (int d = 0; d < rank; d++) st[1][d] = d == axis ? 0 : sa[d];
    int64_t L = ashape[axis], sx = sa[axis];
    tg_rows it;
    tg__rows_init(&it, rank, ishape, 2, st);
    if (it.n == 0) return;
    do {
        const int64_t *ix = idx + it.off[0];
        int64_t n = it.n, ia = it.inner[1];
        if (dt == TG_F32) {
            float *o = (float *)obuf + it.off[0];
            float *a = (float *)abuf + it.off[1];
            for (int64_t k = 0; k < n; k++) {
                int64_t r = fix(ix[k], L);
                if (r < 0 || r >= L) continue;
                if (mode == 0) o[k] = a[k * ia + r * sx];
                else a[k * ia + r * sx] += o[k];
            }
        } else {
            double *o = (double *)obuf + it.off[0];
            double *a = (double *)abuf + it.off[1];
            for (int64_t k = 0; k < n; k++) {
                int64_t r = fix(ix[k], L);
                if (r < 0 || r >= L) continue;
                if (mode == 0) o[k] = a[k * ia + r * sx];
                else a[k * ia + r * sx] += o[k];
            }
        }
    } while (tg__rows_next(&it));
}

tg_tensor *tg_gather(tg_tensor *a, int axis, tg_tensor *index) {
    tg_tensor *in[2] = {a, index};
    tg_tape *tape = tg__check("gather", 2, in, false);
    if (!tape) return NULL;
    a = in[0], index = in[1];
    char b0[160], b1[160];
    int ax = tg__axis(axis, a->rank);
    if (ax < 0 || a->rank == 0)
        return tg__fail(tape, TG_ERR_ARG, "gather", "axis %d is out of range for shape %s", axis,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    if (!tg__is_float(a->dtype))
        return tg__fail(tape, TG_ERR_DTYPE, "gather", "input is %s %s; this op needs f32 or f64",
                        tg_dtype_name(a->dtype), tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    bool fits = index->rank == a->rank;
    for (int d = 0; fits && d < a->rank; d++) fits = d == ax || index->shape[d] <= a->shape[d];
    if (!fits)
        return tg__fail(tape, TG_ERR_SHAPE, "gather",
                        "index %s does not fit input %s along axis %d (same rank, other axes "
                        "no larger)",
                        tg__shape_str(b1, sizeof b1, index->rank, index->shape),
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape), axis);
    if (!check_index(tape, "gather", a, index, a->shape[ax], axis)) return NULL;
    tg_tensor *out =
        tg__out(tape, TG_OP_GATHER, a->dtype, index->rank, index->shape, a, index, NULL);
    if (!out) return NULL;
    tg__flag_axis_set(out, ax);
    gather_move(a->dtype, a->rank, a->shape, index->shape, ax, index->data, a->data, out->data, 0);
    return tg__handle(out);
}

bool tg__bw_gather(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    gather_move(o->dtype, a->rank, a->shape, o->shape, tg__flag_axis(o), o->u.in1->data, ga,
                o->grad, 1);
    return true;
}

tg_tensor *tg__vjp_gather(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    /* scatter_add: zeros of a's shape with g added at the gathered places */
    tg_tensor *in[2] = {g, o->u.in1};
    tg_tape *tape = tg__check("gather", 2, in, false);
    if (!tape) return NULL;
    g = in[0];
    tg_tensor *a = o->in0;
    int ax = tg__flag_axis(o);
    tg_tensor *out = tg__out(tape, TG_OP_SCATTER_ADD, g->dtype, a->rank, a->shape, g, in[1], NULL);
    if (!out) return NULL;
    tg__flag_axis_set(out, ax);
    memset(out->data, 0, (size_t)tg__numel(out) * tg__esize(g->dtype));
    gather_move(g->dtype, a->rank, a->shape, g->shape, ax, in[1]->data, out->data, g->data, 1);
    return out;
}

tg_tensor *tg__vjp_scatter_add(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_gather(g, tg__flag_axis(o), o->u.in1);
}

/* ------------------------------------------------------------- embedding */

tg_tensor *tg_embedding(tg_tensor *weight, tg_tensor *index) {
    tg_tensor *in[2] = {weight, index};
    tg_tape *tape = tg__check("embedding", 2, in, false);
    if (!tape) return NULL;
    weight = in[0], index = in[1];
    char b0[160], b1[160];
    if (weight->rank != 2 || index->rank >= TG_MAX_RANK)
        return tg__fail(tape, TG_ERR_SHAPE, "embedding",
                        "weight must be [V, D], got %s (index %s)",
                        tg__shape_str(b0, sizeof b0, weight->rank, weight->shape),
                        tg__shape_str(b1, sizeof b1, index->rank, index->shape));
    if (!check_index(tape, "embedding", weight, index, weight->shape[0], 0)) return NULL;
    int64_t n = tg__numel(index), shape[TG_MAX_RANK];
    const int64_t *ix = index->data;
    for (int64_t k = 0; k < n; k++) /* a row number, never from the end (PyTorch) */
        if (ix[k] < 0)
            return tg__fail(tape, TG_ERR_ARG, "embedding",
                            "index %lld (element %lld of index %s) is negative: rows of weight "
                            "%s are numbered 0..%lld",
                            (long long)ix[k], (long long)k,
                            tg__shape_str(b1, sizeof b1, index->rank, index->shape),
                            tg__shape_str(b0, sizeof b0, weight->rank, weight->shape),
                            (long long)weight->shape[0] - 1);
    for (int d = 0; d < index->rank; d++) shape[d] = index->shape[d];
    shape[index->rank] = weight->shape[1];
    tg_tensor *rows = tg_index_select(weight, 0, tg_reshape(index, 1, &n));
    return tg_reshape(rows, index->rank + 1, shape);
}

/* ----------------------------------------------------------- masked_fill */

/* The record keeps `keep` (1 where mask == 0, a constant of a's shape) as
 * its second input: the backward is g * keep. */
tg_tensor *tg_masked_fill(tg_tensor *a, tg_tensor *mask, double value) {
    tg_tensor *in[2] = {a, mask};
    tg_tape *tape = tg__check("masked_fill", 2, in, false);
    if (!tape) return NULL;
    a = in[0], mask = in[1];
    char b0[160], b1[160];
    if (!tg__is_float(a->dtype))
        return tg__fail(tape, TG_ERR_DTYPE, "masked_fill",
                        "input is %s %s; this op needs f32 or f64", tg_dtype_name(a->dtype),
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    bool fits = mask->rank <= a->rank;
    for (int d = 0; fits && d < mask->rank; d++) {
        int64_t m = mask->shape[d], want = a->shape[a->rank - mask->rank + d];
        fits = m == want || m == 1;
    }
    if (!fits)
        return tg__fail(tape, TG_ERR_SHAPE, "masked_fill", "mask %s does not broadcast to input %s",
                        tg__shape_str(b1, sizeof b1, mask->rank, mask->shape),
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    tg_tensor *keep = tg__wrap(tape, a->dtype, a->rank, a->shape, NULL);
    if (!keep) return NULL;
    tg_tensor *out = tg__out(tape, TG_OP_MASKED_FILL, a->dtype, a->rank, a->shape, a, keep, NULL);
    if (!out) return NULL;
    int64_t st[2][TG_MAX_RANK];
    tg__strides(a->rank, a->shape, st[0]);
    tg__bstrides(mask->rank, mask->shape, a->rank, a->shape, st[1]);
    tg_rows it;
    tg__rows_init(&it, a->rank, a->shape, 2, st);
    if (it.n == 0) return tg__handle(out);
    do {
        int64_t n = it.n, im = it.inner[1], off = it.off[0];
        for (int64_t k = 0; k < n; k++) {
            int64_t mi = it.off[1] + k * im;
            bool on = mask->dtype == TG_F32   ? ((const float *)mask->data)[mi] != 0
                      : mask->dtype == TG_F64 ? ((const double *)mask->data)[mi] != 0
                                              : ((const int64_t *)mask->data)[mi] != 0;
            if (a->dtype == TG_F32) {
                ((float *)keep->data)[off + k] = on ? 0.0f : 1.0f;
                ((float *)out->data)[off + k] = on ? (float)value : ((const float *)a->data)[off + k];
            } else {
                ((double *)keep->data)[off + k] = on ? 0.0 : 1.0;
                ((double *)out->data)[off + k] = on ? value : ((const double *)a->data)[off + k];
            }
        }
    } while (tg__rows_next(&it));
    return tg__handle(out);
}

bool tg__bw_masked_fill(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int64_t n = tg__numel(o);
    if (o->dtype == TG_F32) {
        float *restrict d = ga;
        const float *restrict g = o->grad, *restrict k = o->u.in1->data;
        for (int64_t i = 0; i < n; i++) d[i] += g[i] * k[i];
    } else {
        double *restrict d = ga;
        const double *restrict g = o->grad, *restrict k = o->u.in1->data;
        for (int64_t i = 0; i < n; i++) d[i] += g[i] * k[i];
    }
    return true;
}

tg_tensor *tg__vjp_masked_fill(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, o->u.in1);
}

/* --------------------------------------------------------------- one_hot */

tg_tensor *tg_one_hot(tg_tensor *labels, int64_t nclasses, tg_dtype dt) {
    tg_tape *tape = tg__check1("one_hot", &labels, false);
    if (!tape) return NULL;
    char b[160];
    if (labels->dtype != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, "one_hot", "labels must be i64, got %s %s",
                        tg_dtype_name(labels->dtype),
                        tg__shape_str(b, sizeof b, labels->rank, labels->shape));
    if (dt != TG_F32 && dt != TG_F64 && dt != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, "one_hot", "unknown dtype %d", (int)dt);
    if (labels->rank >= TG_MAX_RANK)
        return tg__fail(tape, TG_ERR_SHAPE, "one_hot", "labels %s leave no room for the class axis",
                        tg__shape_str(b, sizeof b, labels->rank, labels->shape));
    const int64_t *x = labels->data;
    int64_t n = tg__numel(labels);
    if (nclasses == -1) { /* as torch: max label + 1 */
        nclasses = 0;
        for (int64_t k = 0; k < n; k++) {
            if (x[k] == INT64_MAX)
                return tg__fail(tape, TG_ERR_OVERFLOW, "one_hot",
                                "label %lld (element %lld of labels %s) would need more than "
                                "INT64_MAX classes",
                                (long long)x[k], (long long)k,
                                tg__shape_str(b, sizeof b, labels->rank, labels->shape));
            if (x[k] + 1 > nclasses) nclasses = x[k] + 1;
        }
    }
    if (nclasses < 0)
        return tg__fail(tape, TG_ERR_ARG, "one_hot", "nclasses %lld must be >= 0 (or -1: infer)",
                        (long long)nclasses);
    for (int64_t k = 0; k < n; k++)
        if (x[k] < 0 || x[k] >= nclasses)
            return tg__fail(tape, TG_ERR_ARG, "one_hot",
                            "label %lld (element %lld of labels %s) is outside [0, %lld)",
                            (long long)x[k], (long long)k,
                            tg__shape_str(b, sizeof b, labels->rank, labels->shape),
                            (long long)nclasses);
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < labels->rank; d++) shape[d] = labels->shape[d];
    shape[labels->rank] = nclasses;
    tg_tensor *out = tg__rec(tg_zeros(tape, dt, labels->rank + 1, shape));
    if (!out) return NULL;
    for (int64_t k = 0; k < n; k++) {
        int64_t at = k * nclasses + x[k];
        if (dt == TG_F32) ((float *)out->data)[at] = 1;
        else if (dt == TG_F64) ((double *)out->data)[at] = 1;
        else ((int64_t *)out->data)[at] = 1;
    }
    return tg__handle(out);
}
