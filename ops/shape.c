/* shape.c - ops that change the shape or the order of the axes, not the
 * values: reshape, squeeze, unsqueeze, flatten (views of a's data),
 * expand and broadcast_to with their adjoint sum_to, transpose, permute.
 * Cutting and joining (slice, concat, pad, ...) are in slice.c.
 *
 *   op          out                                  d/da
 *   reshape     same data, new shape                 reshape(g, a's shape)
 *   squeeze,    reshapes (views of a's data)         reshape back
 *   unsqueeze,
 *   flatten
 *   expand      a broadcast to a shape               sum_to(g, a's shape)
 *   broadcast_to  = expand
 *   transpose   axes i and j swapped                 transpose(g, i, j)
 *   permute     out axis d = a axis perm[d]          permute(g, inverse perm)
 */
#include "tg_internal.h"
#include "op_common.h"

/* --------------------------------------------------------------- reshape */

tg_tensor *tg_reshape(tg_tensor *a, int rank, const int64_t *shape) {
    tg_tape *tape = tg__check1("reshape", &a, false);
    if (!tape) return NULL;
    if (rank < 0 || rank > TG_MAX_RANK || (rank && !shape))
        return tg__fail(tape, TG_ERR_ARG, "reshape", "bad target rank %d", rank);
    int64_t s[TG_MAX_RANK], known = 1;
    int infer = -1;
    bool zero = false, over = false; /* a size-0 dim; the others pass INT64_MAX */
    for (int d = 0; d < rank; d++) {
        s[d] = shape[d];
        if (s[d] == -1 && infer < 0) {
            infer = d;
        } else if (s[d] < 0) {
            return tg__fail(tape, TG_ERR_SHAPE, "reshape", "bad dimension %lld",
                            (long long)shape[d]);
        } else if (s[d] == 0) {
            zero = true;
        } else if (!over && !tg__mul_ok(known, s[d], &known)) {
            over = true;
        }
    }
    if (zero) known = 0; /* no elements, however large the other dims */
    char b0[160], b1[160];
    if (over && !zero)
        return tg__fail(tape, TG_ERR_OVERFLOW, "reshape",
                        "cannot reshape %s to %s: the target has more than INT64_MAX elements",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, rank, shape));
    int64_t n = tg__numel(a);
    if (infer >= 0) s[infer] = known ? n / known : 0;
    if ((infer >= 0 ? s[infer] * known : known) != n || (infer >= 0 && known == 0))
        return tg__fail(tape, TG_ERR_SHAPE, "reshape", "cannot reshape %s (%lld elements) to %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape), (long long)n,
                        tg__shape_str(b1, sizeof b1, rank, shape));
    return tg__handle(tg__out(tape, TG_OP_RESHAPE, a->dtype, rank, s, a, NULL, a->data));
}

bool tg__bw_reshape(tg_tensor *o) {
    tg_tensor *a = o->in0;
    /* The gradient of a reshape is its input's, element for element: when
     * the input has none yet, it takes the buffer (no copy; GMM's [n, k d]
     * product). Then the view keeps none of its own, as a view at the edge
     * of a fused chain (HACKING.md): later contributions to the input land
     * in that buffer. Not in tg_grad's sweeps, which may ask for the view's
     * gradient (fuse_keep_views), nor under inspection (hooks and anomaly
     * read each record's gradient); not at rank 0, whose gradients live in
     * their records (g0). */
    if (!a->grad && (a->flags & TGF_REQ) && a->rank > 0 && o->rank > 0 &&
        !o->tape->fuse_keep_views && !o->tape->ext) {
        a->grad = o->grad;
        o->grad = NULL;
        return true;
    }
    bool fresh; /* a new buffer: copy into it, no zeroing and adding */
    void *ga = tg__gacc_w(o->in0, &fresh);
    if (!ga) return false;
    if (fresh) memcpy(ga, o->grad, (size_t)tg__numel(o) * tg__esize(o->dtype));
    else tg__add_into(o->dtype, ga, o->grad, tg__numel(o));
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

/* transpose keeps its two axes in u.i: i in bits 0..7, j in bits 8..15. */
static int64_t transpose_code(int i, int j) { return (int64_t)i | (int64_t)j << 8; }
static int transpose_axis(const tg_tensor *o, int k) { return (int)(o->u.i >> (8 * k) & 255); }

tg_tensor *tg_transpose(tg_tensor *a, int axis0, int axis1) {
    tg_tape *tape = tg__check1("transpose", &a, false);
    if (!tape) return NULL;
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
    out->u.i = transpose_code(i, j);
    permute_copy(a->dtype, a->rank, a->shape, perm, a->data, out->data);
    return tg__handle(out);
}

tg_tensor *tg__vjp_transpose(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_transpose(g, transpose_axis(o, 0), transpose_axis(o, 1));
}

/* ---------------------------------------------------------------- expand */

tg_tensor *tg_expand(tg_tensor *a, int rank, const int64_t *shape) {
    tg_tape *tape = tg__check1("expand", &a, false);
    if (!tape) return NULL;
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
    if (it.n == 0) return tg__handle(out);
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
    return tg__handle(out);
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
    tg_tape *tape = tg__check1("sum_to", &a, true);
    if (!tape) return NULL;
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
    if (n == 0 && rank == a->rank) return tg__handle(a);
    tg_tensor *s = n ? tg_sum_axes(a, n, axes, true) : a;
    return tg_reshape(s, rank, shape);
}

tg_tensor *tg__sum_like(tg_tensor *g, const tg_tensor *like) {
    if (!g) return NULL;
    like = tg__rec(like); /* g and like: handles or records */
    if (tg__same_shape(tg__rec(g), like)) return g;
    return tg_sum_to(g, like->rank, like->shape);
}

/* --------------------------------------------------------------- permute */

/* permute keeps perm in u.i, 3 bits an axis: perm[d] in bits 3d..3d+2. */
enum { PERM_BITS = 3, PERM_MASK = 7 };

tg_tensor *tg_permute(tg_tensor *a, int rank, const int *perm) {
    tg_tape *tape = tg__check1("permute", &a, false);
    if (!tape) return NULL;
    char b[160];
    if (rank != a->rank || (rank && !perm))
        return tg__fail(tape, TG_ERR_ARG, "permute", "%d axes given for shape %s", rank,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    int p[TG_MAX_RANK], seen = 0;
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        p[d] = tg__axis(perm[d], rank);
        if (p[d] < 0 || (seen >> p[d] & 1))
            return tg__fail(tape, TG_ERR_ARG, "permute",
                            "axis %d (entry %d) is out of range or repeated for shape %s",
                            perm[d], d, tg__shape_str(b, sizeof b, a->rank, a->shape));
        seen |= 1 << p[d];
        shape[d] = a->shape[p[d]];
    }
    tg_tensor *out = tg__out(tape, TG_OP_PERMUTE, a->dtype, rank, shape, a, NULL, NULL);
    if (!out) return NULL;
    int64_t code = 0;
    for (int d = 0; d < rank; d++) code |= (int64_t)p[d] << (PERM_BITS * d);
    out->u.i = code;
    permute_copy(a->dtype, rank, a->shape, p, a->data, out->data);
    return tg__handle(out);
}

tg_tensor *tg__vjp_permute(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    int inv[TG_MAX_RANK];
    for (int d = 0; d < o->rank; d++) inv[(o->u.i >> (PERM_BITS * d)) & PERM_MASK] = d;
    return tg_permute(g, o->rank, inv);
}

/* ------------------------------------------- squeeze, unsqueeze, flatten */

tg_tensor *tg_squeeze(tg_tensor *a, int axis) {
    tg_tape *tape = tg__check1("squeeze", &a, false);
    if (!tape) return NULL;
    int ax = tg__axis(axis, a->rank);
    char b[160];
    if (ax < 0 || a->rank == 0 || a->shape[ax] != 1)
        return tg__fail(tape, TG_ERR_ARG, "squeeze", "axis %d of shape %s is not a size-1 axis",
                        axis, tg__shape_str(b, sizeof b, a->rank, a->shape));
    int64_t shape[TG_MAX_RANK];
    int r = 0;
    for (int d = 0; d < a->rank; d++)
        if (d != ax) shape[r++] = a->shape[d];
    return tg_reshape(a, r, shape);
}

tg_tensor *tg_unsqueeze(tg_tensor *a, int axis) {
    tg_tape *tape = tg__check1("unsqueeze", &a, false);
    if (!tape) return NULL;
    int ax = axis < 0 ? axis + a->rank + 1 : axis;
    char b[160];
    if (ax < 0 || ax > a->rank || a->rank >= TG_MAX_RANK)
        return tg__fail(tape, TG_ERR_ARG, "unsqueeze", "axis %d is out of range for shape %s",
                        axis, tg__shape_str(b, sizeof b, a->rank, a->shape));
    int64_t shape[TG_MAX_RANK];
    for (int d = 0, r = 0; d <= a->rank; d++) shape[d] = d == ax ? 1 : a->shape[r++];
    return tg_reshape(a, a->rank + 1, shape);
}

tg_tensor *tg_flatten(tg_tensor *a, int start, int end) {
    tg_tape *tape = tg__check1("flatten", &a, false);
    if (!tape) return NULL;
    char b[160];
    if (a->rank == 0 && (start == 0 || start == -1) && (end == 0 || end == -1))
        return tg_reshape(a, 1, (int64_t[]){1}); /* as torch.flatten */
    int s = tg__axis(start, a->rank), e = tg__axis(end, a->rank);
    if (s < 0 || e < 0 || s > e)
        return tg__fail(tape, TG_ERR_ARG, "flatten", "axes %d..%d are out of range for shape %s",
                        start, end, tg__shape_str(b, sizeof b, a->rank, a->shape));
    int64_t shape[TG_MAX_RANK];
    int r = 0;
    for (int d = 0; d < s; d++) shape[r++] = a->shape[d];
    int64_t m = tg__shape_numel(e - s + 1, a->shape + s);
    if (m < 0) /* [0, 2^62, 2] flattened 1..2 would need an axis of 2^63 */
        return tg__fail(tape, TG_ERR_OVERFLOW, "flatten",
                        "axes %d..%d of %s would merge into one longer than INT64_MAX", start,
                        end, tg__shape_str(b, sizeof b, a->rank, a->shape));
    shape[r++] = m;
    for (int d = e + 1; d < a->rank; d++) shape[r++] = a->shape[d];
    return tg_reshape(a, r, shape);
}

tg_tensor *tg_broadcast_to(tg_tensor *a, int rank, const int64_t *shape) {
    tg_tape *tape = tg__check1("broadcast_to", &a, false);
    if (!tape) return NULL;
    bool fits = rank >= a->rank && rank <= TG_MAX_RANK && (rank == 0 || shape);
    for (int d = 0; fits && d < a->rank; d++) {
        int64_t want = shape[rank - a->rank + d];
        fits = a->shape[d] == want || a->shape[d] == 1;
    }
    for (int d = 0; fits && d < rank; d++) fits = shape[d] >= 0;
    char b0[160], b1[160];
    if (!fits)
        return tg__fail(tape, TG_ERR_SHAPE, "broadcast_to", "cannot broadcast %s to %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        shape ? tg__shape_str(b1, sizeof b1, rank, shape) : "(null)");
    int64_t n = tg__shape_numel(rank, shape);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 8) /* tg_expand's output would fail: name this op */
        return tg__fail(tape, TG_ERR_OVERFLOW, "broadcast_to",
                        "cannot broadcast %s to %s: more elements than fit in memory",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, rank, shape));
    return tg_expand(a, rank, shape);
}
