/* slice.c - ops that cut tensors into pieces or join pieces, copying:
 * concat, stack, slice, split, chunk, pad, repeat.
 *
 *   op          out                                  d/da
 *   concat      inputs side by side along axis       slice of g per input
 *   stack       concat of unsqueezed inputs
 *   slice       a[start:stop:step] on one axis       slice_backward(g): g placed
 *                                                    into zeros at those rows
 *   split,      slices
 *   chunk
 *   pad         a inside a border of `value`         pad(g, -pads): the border
 *                                                    cropped off (negative pads
 *                                                    crop, so pad is its own vjp)
 *   repeat      a tiled repeats[d] times             repeat_backward(g): the
 *                                                    tiles summed
 * slice_backward and repeat_backward are linear, with slice and repeat as
 * their own vjps, so every order of derivative is available.
 * concat, slice and slice_backward keep their axis in flags bits 4..6
 * (tg__flag_axis, op_common.h).
 */
#include "tg_internal.h"
#include "op_common.h"

/* ---------------------------------------------------------------- concat */

/* Copies between the concat output and one input, viewed as [outer, L*inner]
 * rows: the input's rows start at column `col` of the output's.
 * add: d_in += out (backward) else out = in (forward). */
static void concat_rows(int dt, int64_t outer, int64_t orow, int64_t irow, int64_t col,
                        void *obuf, void *ibuf, bool add) {
    if (irow == 0) return;
    size_t es = tg__esize(dt);
    for (int64_t r = 0; r < outer; r++) {
        char *o = (char *)obuf + (size_t)(r * orow + col) * es;
        char *x = (char *)ibuf + (size_t)(r * irow) * es;
        if (!add) {
            memcpy(o, x, (size_t)irow * es);
        } else {
            tg__add_into(dt, x, o, irow);
        }
    }
}

/* n <= 16 inputs (the sweep reads at most 16 inputs of a record). */
static tg_tensor *concat16(tg_tape *tape, int n, tg_tensor *const *ts, int axis) {
    tg_auxin *ax = tg__aux_new(tape, n, ts, 0, "concat");
    if (!ax) return NULL;
    tg_tensor *a = ts[0];
    int64_t shape[TG_MAX_RANK], len = 0;
    for (int i = 0; i < n; i++) len += ts[i]->shape[axis]; /* fits: tg_concat checked */
    for (int d = 0; d < a->rank; d++) shape[d] = d == axis ? len : a->shape[d];
    tg_tensor *out = tg__out(tape, TG_OP_CONCAT, a->dtype, a->rank, shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__flag_axis_set(out, axis);
    tg__set_req(out, n, ax->in);
    int64_t outer, inner, col = 0;
    tg__around(out, axis, &outer, &inner);
    for (int i = 0; i < n; i++) {
        int64_t li = ts[i]->shape[axis];
        concat_rows(a->dtype, outer, len * inner, li * inner, col * inner, out->data,
                    ts[i]->data, false);
        col += li;
    }
    return out;
}

/* The n operands of concat or stack, copied into the arena (the caller's
 * array is left as it is) and checked; *tape becomes theirs. NULL on
 * error (recorded when a tape is known). */
static tg_tensor **list_operands(const char *op, int n, tg_tensor *const *ts, tg_tape **tape) {
    if (n <= 0 || !ts) return NULL; /* nowhere to record the error */
    tg_tape *t = NULL;
    for (int i = 0; i < n && !t; i++)
        t = tg__tape_of(ts[i]); /* NULL for NULL and parameters */
    if (!t) return NULL;
    tg_tensor **in = tg__arena(t, (size_t)n * sizeof(tg_tensor *), op);
    if (!in) return NULL;
    memcpy(in, ts, (size_t)n * sizeof(tg_tensor *));
    if (!tg__check(op, n, in, false)) return NULL;
    *tape = t;
    return in;
}

tg_tensor *tg_concat(int n, tg_tensor *const *ts, int axis) {
    tg_tape *tape = NULL;
    tg_tensor **in = list_operands("concat", n, ts, &tape);
    if (!in) return NULL;
    tg_tensor *a = in[0];
    char b0[160], b1[160];
    int ax = tg__axis(axis, a->rank);
    if (ax < 0 || a->rank == 0)
        return tg__fail(tape, TG_ERR_ARG, "concat", "axis %d is out of range for shape %s", axis,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    int64_t len = a->shape[ax];
    for (int i = 1; i < n; i++) {
        tg_tensor *t = in[i];
        bool same = t->rank == a->rank;
        for (int d = 0; same && d < a->rank; d++) same = d == ax || t->shape[d] == a->shape[d];
        if (!same)
            return tg__fail(tape, TG_ERR_SHAPE, "concat",
                            "shapes %s (tensor 1) and %s (tensor %d) differ outside axis %d",
                            tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                            tg__shape_str(b1, sizeof b1, t->rank, t->shape), i + 1, axis);
        if (t->dtype != a->dtype)
            return tg__fail(tape, TG_ERR_DTYPE, "concat",
                            "dtypes differ: %s %s (tensor 1) and %s %s (tensor %d)",
                            tg_dtype_name(a->dtype),
                            tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                            tg_dtype_name(t->dtype),
                            tg__shape_str(b1, sizeof b1, t->rank, t->shape), i + 1);
        if (!tg__add_ok(len, t->shape[ax], &len))
            return tg__fail(tape, TG_ERR_OVERFLOW, "concat",
                            "the %d tensors (the first %s) would join along axis %d into one "
                            "longer than INT64_MAX",
                            n, tg__shape_str(b0, sizeof b0, a->rank, a->shape), axis);
    }
    /* more than 16 inputs: concatenate groups of 16, then the groups */
    while (n > 16) {
        int m = 0;
        for (int i = 0; i < n; i += 16) {
            int k = n - i < 16 ? n - i : 16;
            in[m] = k == 1 ? in[i] : concat16(tape, k, in + i, ax);
            if (!in[m++]) return NULL;
        }
        n = m;
    }
    return tg__handle(concat16(tape, n, in, ax));
}

bool tg__bw_concat(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    int axis = tg__flag_axis(o);
    int64_t outer, inner, col = 0, len = o->shape[axis];
    tg__around(o, axis, &outer, &inner);
    for (int i = 0; i < ax->n; i++) {
        tg_tensor *t = ax->in[i];
        int64_t li = t->shape[axis];
        if (t->flags & TGF_REQ) {
            void *ga = tg__gacc(t);
            if (!ga) return false;
            concat_rows(o->dtype, outer, len * inner, li * inner, col * inner, o->grad, ga, true);
        }
        col += li;
    }
    return true;
}

tg_tensor *tg__vjp_concat(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    int axis = tg__flag_axis(o);
    int64_t off = 0;
    for (int k = 0; k < i; k++) off += ax->in[k]->shape[axis];
    return tg_slice(g, axis, off, off + ax->in[i]->shape[axis], 1);
}

tg_tensor *tg_stack(int n, tg_tensor *const *ts, int axis) {
    tg_tape *tape = NULL;
    tg_tensor **in = list_operands("stack", n, ts, &tape);
    if (!in) return NULL;
    char b0[160], b1[160];
    int r = in[0]->rank;
    int ax = axis < 0 ? axis + r + 1 : axis;
    if (ax < 0 || ax > r || r >= TG_MAX_RANK)
        return tg__fail(tape, TG_ERR_ARG, "stack", "axis %d is out of range for shape %s", axis,
                        tg__shape_str(b0, sizeof b0, r, in[0]->shape));
    for (int i = 1; i < n; i++)
        if (!tg__same_shape(in[i], in[0]))
            return tg__fail(tape, TG_ERR_SHAPE, "stack",
                            "shapes differ: %s (tensor 1) and %s (tensor %d)",
                            tg__shape_str(b0, sizeof b0, r, in[0]->shape),
                            tg__shape_str(b1, sizeof b1, in[i]->rank, in[i]->shape), i + 1);
    for (int i = 0; i < n; i++)
        if (!(in[i] = tg_unsqueeze(in[i], ax))) return NULL;
    return tg_concat(n, in, ax);
}

/* ----------------------------------------------------------------- slice */

typedef struct slice_args {
    int64_t start, step;
} slice_args;

/* Moves rows between a [outer, L, inner] and s [outer, M, inner] where
 * s[o, j] is a[o, start + j*step]. mode 0: s = a rows (slice forward);
 * 1: a += s rows (slice backward, into a zeroed or accumulating a);
 * 2: s += a rows (the backward of slice_backward). */
static void slice_move(int dt, int64_t outer, int64_t L, int64_t M, int64_t inner,
                       int64_t start, int64_t step, void *abuf, void *sbuf, int mode) {
    size_t es = tg__esize(dt);
    if (step == 1) { /* the M rows of one outer index are one contiguous block */
        int64_t blk = M * inner;
        if (blk == 0) return;
        for (int64_t o = 0; o < outer; o++) {
            char *pa = (char *)abuf + (size_t)((o * L + start) * inner) * es;
            char *ps = (char *)sbuf + (size_t)(o * blk) * es;
            if (mode == 0) memcpy(ps, pa, (size_t)blk * es);
            else if (mode == 1) tg__add_into(dt, pa, ps, blk);
            else tg__add_into(dt, ps, pa, blk);
        }
        return;
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < M; j++) {
            char *pa = (char *)abuf + (size_t)((o * L + start + j * step) * inner) * es;
            char *ps = (char *)sbuf + (size_t)((o * M + j) * inner) * es;
            if (mode == 0) memcpy(ps, pa, (size_t)inner * es);
            else if (mode == 1) tg__add_into(dt, pa, ps, inner);
            else tg__add_into(dt, ps, pa, inner);
        }
}

static tg_tensor *slice_rec(tg_tape *tape, int op, tg_tensor *a, int axis, int64_t start,
                            int64_t step, int64_t len) {
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < a->rank; d++) shape[d] = d == axis ? len : a->shape[d];
    slice_args *sa = tg__arena(tape, sizeof *sa, tg__ops[op].name);
    if (!sa) return NULL;
    sa->start = start, sa->step = step;
    int64_t outer, inner;
    tg__around(a, axis, &outer, &inner);
    /* One contiguous block (x[1:] of a vector, rows of a matrix): a view of
     * a's data, as PyTorch's slices are, not a copy. */
    void *view = op == TG_OP_SLICE && step == 1 && outer == 1
                     ? (char *)a->data + (size_t)(start * inner) * tg__esize(a->dtype)
                     : NULL;
    tg_tensor *out = tg__out(tape, op, a->dtype, a->rank, shape, a, NULL, view);
    if (!out) return NULL;
    out->u.aux = sa;
    tg__flag_axis_set(out, axis);
    if (view) return out;
    if (op == TG_OP_SLICE) {
        slice_move(a->dtype, outer, a->shape[axis], len, inner, start, step, a->data, out->data, 0);
    } else { /* slice_backward: a is the small one, out the full shape */
        memset(out->data, 0, (size_t)tg__numel(out) * tg__esize(a->dtype));
        slice_move(a->dtype, outer, len, a->shape[axis], inner, start, step, out->data, a->data, 1);
    }
    return out;
}

tg_tensor *tg_slice(tg_tensor *a, int axis, int64_t start, int64_t stop, int64_t step) {
    tg_tape *tape = tg__check1("slice", &a, false);
    if (!tape) return NULL;
    char b[160];
    int ax = tg__axis(axis, a->rank);
    if (ax < 0 || a->rank == 0)
        return tg__fail(tape, TG_ERR_ARG, "slice", "axis %d is out of range for shape %s", axis,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    if (step < 1)
        return tg__fail(tape, TG_ERR_ARG, "slice", "step %lld must be >= 1 (shape %s)",
                        (long long)step, tg__shape_str(b, sizeof b, a->rank, a->shape));
    int64_t L = a->shape[ax];
    /* Python's clamping */
    if (start < 0) start = start < -L ? 0 : start + L;
    if (start > L) start = L;
    if (stop < 0) stop = stop < -L ? 0 : stop + L;
    if (stop > L) stop = L;
    int64_t m = stop > start ? (stop - start - 1) / step + 1 : 0; /* no overflow for huge steps */
    return tg__handle(slice_rec(tape, TG_OP_SLICE, a, ax, start, step, m));
}

bool tg__bw_slice(tg_tensor *o) {
    tg_tensor *a = o->in0;
    bool fresh;
    void *ga = tg__gacc_w(a, &fresh);
    if (!ga) return false;
    const slice_args *sa = o->u.aux;
    int axis = tg__flag_axis(o);
    int64_t outer, inner;
    tg__around(a, axis, &outer, &inner);
    if (fresh) { /* a new buffer: zero only what the slice does not cover */
        size_t es = tg__esize(o->dtype), n = (size_t)tg__numel(a) * es;
        if (outer == 1 && sa->step == 1) {
            size_t lo = (size_t)(sa->start * inner) * es, m = (size_t)tg__numel(o) * es;
            memset(ga, 0, lo);
            if (m) memcpy((char *)ga + lo, o->grad, m);
            memset((char *)ga + lo + m, 0, n - lo - m);
            return true;
        }
        memset(ga, 0, n);
    }
    slice_move(o->dtype, outer, a->shape[axis], o->shape[axis], inner, sa->start, sa->step, ga,
               o->grad, 1);
    return true;
}

tg_tensor *tg__vjp_slice(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    const slice_args *sa = o->u.aux;
    int axis = tg__flag_axis(o);
    tg_tape *tape = tg__check1("slice", &g, false);
    if (!tape) return NULL;
    return slice_rec(tape, TG_OP_SLICE_BW, g, axis, sa->start, sa->step, o->in0->shape[axis]);
}

tg_tensor *tg__vjp_slice_bw(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    const slice_args *sa = o->u.aux;
    int axis = tg__flag_axis(o);
    int64_t m = o->in0->shape[axis];
    return tg_slice(g, axis, sa->start, sa->start + (m ? (m - 1) * sa->step + 1 : 0), sa->step);
}

/* ----------------------------------------------------------- split, chunk */

int tg_split(tg_tensor *a, int axis, int n, const int64_t *sizes, tg_tensor **outs) {
    tg_tape *tape = tg__check1("split", &a, false);
    if (!tape) return -1;
    char b[160];
    int ax = tg__axis(axis, a->rank);
    if (ax < 0 || a->rank == 0)
        return tg__fail(tape, TG_ERR_ARG, "split", "axis %d is out of range for shape %s", axis,
                        tg__shape_str(b, sizeof b, a->rank, a->shape)), -1;
    if (n <= 0 || !sizes || !outs)
        return tg__fail(tape, TG_ERR_ARG, "split", "needs n >= 1 sizes and an output array "
                        "(n = %d, shape %s)", n, tg__shape_str(b, sizeof b, a->rank, a->shape)), -1;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0 || sizes[i] > a->shape[ax] - total) { /* never past the axis */
            total = -1;
            break;
        }
        total += sizes[i];
    }
    if (total != a->shape[ax])
        return tg__fail(tape, TG_ERR_SHAPE, "split",
                        "the %d sizes do not add up to %lld, the size of axis %d of %s", n,
                        (long long)a->shape[ax], axis,
                        tg__shape_str(b, sizeof b, a->rank, a->shape)), -1;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        outs[i] = tg_slice(a, ax, off, off + sizes[i], 1);
        if (!outs[i]) return -1;
        off += sizes[i];
    }
    return n;
}

int tg_chunk(tg_tensor *a, int axis, int n, tg_tensor **outs) {
    tg_tape *tape = tg__check1("chunk", &a, false);
    if (!tape) return -1;
    char b[160];
    int ax = tg__axis(axis, a->rank);
    if (ax < 0 || a->rank == 0 || n <= 0 || !outs)
        return tg__fail(tape, TG_ERR_ARG, "chunk", "axis %d, %d chunks: bad for shape %s", axis, n,
                        tg__shape_str(b, sizeof b, a->rank, a->shape)), -1;
    int64_t L = a->shape[ax], size = L / n + (L % n != 0); /* ceil, even for L near INT64_MAX */
    if (L == 0) { /* torch.chunk: n empty pieces */
        for (int i = 0; i < n; i++)
            if (!(outs[i] = tg_slice(a, ax, 0, 0, 1))) return -1;
        return n;
    }
    int made = 0;
    for (int64_t off = 0; off < L; off += size) {
        int64_t m = L - off < size ? L - off : size; /* off + size may pass INT64_MAX */
        outs[made] = tg_slice(a, ax, off, off + m, 1);
        if (!outs[made++]) return -1;
        if (m < size) break;
    }
    return made;
}

/* ------------------------------------------------------------------- pad */

/* pads[2*d], pads[2*d+1]: before and after of axis d (natural order). */

/* Moves the overlap of a (shape ashape) and the padded p between them:
 * p[i + before] <-> a[i]. add: a += p (backward) else p = a (forward). */
static void pad_move(int dt, int rank, const int64_t *ashape, const int64_t *pshape,
                     const int64_t *pads, void *abuf, void *pbuf, bool add) {
    int64_t sa[TG_MAX_RANK], sp[TG_MAX_RANK], cnt[TG_MAX_RANK], lo[TG_MAX_RANK];
    /* a[lo, hi) lands in p[lo + bf, hi + bf); ashape + bf fits (pad_rec
     * checked it), so neither test below overflows */
    for (int d = 0; d < rank; d++) {
        int64_t bf = pads[2 * d], hi = ashape[d];
        lo[d] = bf < 0 ? -bf : 0;
        if (pshape[d] < hi + bf) hi = pshape[d] - bf;
        cnt[d] = hi > lo[d] ? hi - lo[d] : 0;
        if (!cnt[d]) return; /* no overlap (and a or p may have no elements) */
    }
    int64_t st[2][TG_MAX_RANK], base_a = 0, base_p = 0;
    tg__strides(rank, ashape, sa);
    tg__strides(rank, pshape, sp);
    for (int d = 0; d < rank; d++) {
        int64_t bf = pads[2 * d];
        base_a += lo[d] * sa[d];
        base_p += (lo[d] + bf) * sp[d];
        st[0][d] = sa[d], st[1][d] = sp[d];
    }
    tg_rows it;
    tg__rows_init(&it, rank, cnt, 2, st);
    size_t es = tg__esize(dt);
    do {
        char *pa = (char *)abuf + (size_t)(base_a + it.off[0]) * es;
        char *pp = (char *)pbuf + (size_t)(base_p + it.off[1]) * es;
        if (add) tg__add_into(dt, pa, pp, it.n);
        else memcpy(pp, pa, (size_t)it.n * es);
    } while (tg__rows_next(&it));
}

static tg_tensor *pad_rec(tg_tape *tape, tg_tensor *a, const int64_t *pads, double value) {
    char b[160];
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < a->rank; d++) {
        /* the before and after pads are each in [-INT64_MAX, INT64_MAX] (so
         * that pad's vjp can negate them), and the sum must fit */
        int64_t bf = pads[2 * d], af = pads[2 * d + 1];
        bool huge = bf == INT64_MIN || af == INT64_MIN ||
                    !tg__add_ok(a->shape[d], bf, &shape[d]) || !tg__add_ok(shape[d], af, &shape[d]);
        if (huge) shape[d] = -1;
        if (shape[d] < 0)
            return tg__fail(tape, TG_ERR_SHAPE, "pad",
                            huge ? "padding (%lld, %lld) of axis %d of %s is too large"
                                 : "padding (%lld, %lld) makes axis %d of %s negative",
                            (long long)pads[2 * d], (long long)pads[2 * d + 1], d,
                            tg__shape_str(b, sizeof b, a->rank, a->shape));
    }
    int64_t *pp = tg__arena(tape, (size_t)(2 * (a->rank ? a->rank : 1)) * sizeof(int64_t), "pad");
    if (!pp) return NULL;
    memcpy(pp, pads, (size_t)(2 * a->rank) * sizeof(int64_t));
    tg_tensor *out = tg__out(tape, TG_OP_PAD, a->dtype, a->rank, shape, a, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = pp;
    int64_t n = tg__numel(out);
    if (a->dtype == TG_F32) {
        float *o = out->data;
        for (int64_t k = 0; k < n; k++) o[k] = (float)value;
    } else if (a->dtype == TG_F64) {
        double *o = out->data;
        for (int64_t k = 0; k < n; k++) o[k] = value;
    } else {
        int64_t *o = out->data;
        for (int64_t k = 0; k < n; k++) o[k] = (int64_t)value;
    }
    if (a->rank == 0) memcpy(out->data, a->data, tg__esize(a->dtype));
    else pad_move(a->dtype, a->rank, a->shape, shape, pp, a->data, out->data, false);
    return out;
}

tg_tensor *tg_pad(tg_tensor *a, int npairs, const int64_t *pads, double value) {
    tg_tape *tape = tg__check1("pad", &a, false);
    if (!tape) return NULL;
    char b[160];
    if (npairs < 0 || npairs > a->rank || (npairs && !pads))
        return tg__fail(tape, TG_ERR_ARG, "pad", "%d (before, after) pairs for shape %s", npairs,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    int64_t p[2 * TG_MAX_RANK] = {0};
    for (int k = 0; k < npairs; k++) { /* pair k pads axis rank-1-k */
        int d = a->rank - 1 - k;
        p[2 * d] = pads[2 * k], p[2 * d + 1] = pads[2 * k + 1];
    }
    return tg__handle(pad_rec(tape, a, p, value));
}

bool tg__bw_pad(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    if (a->rank == 0) tg__add_into(a->dtype, ga, o->grad, 1);
    else pad_move(a->dtype, a->rank, a->shape, o->shape, o->u.aux, ga, o->grad, true);
    return true;
}

tg_tensor *tg__vjp_pad(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    const int64_t *pp = o->u.aux;
    int64_t neg[2 * TG_MAX_RANK];
    for (int k = 0; k < 2 * o->rank; k++) neg[k] = -pp[k];
    tg_tape *tape = tg__check1("pad", &g, false);
    return tape ? pad_rec(tape, g, neg, 0.0) : NULL;
}

/* ---------------------------------------------------------------- repeat */

/* Walks the tiled big tensor (shape big, rank r) row by row; the small one
 * has shape small (left-padded to rank r with 1s). mode 0: big = small
 * tiled; 1: small += each tile of big. */
static void tile_walk(int dt, int r, const int64_t *big, const int64_t *small, void *bbuf,
                      void *sbuf, int mode) {
    for (int d = 0; d < r; d++)
        if (big[d] == 0) return;
    if (r == 0) {
        if (mode == 0) memcpy(bbuf, sbuf, tg__esize(dt));
        else tg__add_into(dt, sbuf, bbuf, 1);
        return;
    }
    int64_t ss[TG_MAX_RANK], idx[TG_MAX_RANK] = {0};
    tg__strides(r, small, ss);
    int64_t row = small[r - 1], reps = big[r - 1] / row, boff = 0;
    size_t es = tg__esize(dt);
    for (;;) {
        int64_t soff = 0;
        for (int d = 0; d < r - 1; d++) soff += (idx[d] % small[d]) * ss[d];
        char *s = (char *)sbuf + (size_t)soff * es;
        for (int64_t k = 0; k < reps; k++, boff += row) {
            char *bp = (char *)bbuf + (size_t)boff * es;
            if (mode == 0) memcpy(bp, s, (size_t)row * es);
            else tg__add_into(dt, s, bp, row);
        }
        int d = r - 2;
        for (; d >= 0; d--) {
            if (++idx[d] < big[d]) break;
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

/* The small shape padded to the big rank. */
static void pad_shape(const tg_tensor *s, int r, int64_t *shape) {
    for (int d = 0; d < r; d++) {
        int j = d - (r - s->rank);
        shape[d] = j < 0 ? 1 : s->shape[j];
    }
}

tg_tensor *tg_repeat(tg_tensor *a, int rank, const int64_t *repeats) {
    tg_tape *tape = tg__check1("repeat", &a, false);
    if (!tape) return NULL;
    char b[160];
    if (rank < a->rank || rank > TG_MAX_RANK || (rank && !repeats))
        return tg__fail(tape, TG_ERR_ARG, "repeat",
                        "%d repeat counts for shape %s (need at least its rank)", rank,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    int64_t small[TG_MAX_RANK], shape[TG_MAX_RANK];
    pad_shape(a, rank, small);
    for (int d = 0; d < rank; d++) {
        if (repeats[d] < 0 || (repeats[d] && small[d] > INT64_MAX / repeats[d]))
            return tg__fail(tape, TG_ERR_ARG, "repeat", "bad repeat count %lld for shape %s",
                            (long long)repeats[d], tg__shape_str(b, sizeof b, a->rank, a->shape));
        shape[d] = small[d] * repeats[d];
    }
    tg_tensor *out = tg__out(tape, TG_OP_REPEAT, a->dtype, rank, shape, a, NULL, NULL);
    if (!out) return NULL;
    tile_walk(a->dtype, rank, shape, small, out->data, a->data, 0);
    return tg__handle(out);
}

bool tg__bw_repeat(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int64_t small[TG_MAX_RANK];
    pad_shape(a, o->rank, small);
    tile_walk(o->dtype, o->rank, o->shape, small, o->grad, ga, 1);
    return true;
}

/* repeat_backward: g (the tiled shape) summed down to the tile `like`. */
static tg_tensor *repeat_sum(tg_tensor *g, const tg_tensor *like) {
    tg_tape *tape = tg__check1("repeat", &g, true);
    if (!tape) return NULL;
    tg_tensor *out = tg__out(tape, TG_OP_REPEAT_SUM, g->dtype, like->rank, like->shape, g, NULL,
                             NULL);
    if (!out) return NULL;
    memset(out->data, 0, (size_t)tg__numel(out) * tg__esize(g->dtype));
    int64_t small[TG_MAX_RANK];
    pad_shape(like, g->rank, small);
    tile_walk(g->dtype, g->rank, g->shape, small, g->data, out->data, 1);
    return out;
}

tg_tensor *tg__vjp_repeat(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return repeat_sum(g, o->in0);
}

tg_tensor *tg__vjp_repeat_sum(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    const tg_tensor *big = o->in0;
    int64_t small[TG_MAX_RANK], reps[TG_MAX_RANK];
    pad_shape(o, big->rank, small);
    for (int d = 0; d < big->rank; d++) reps[d] = small[d] ? big->shape[d] / small[d] : 0;
    return tg_repeat(g, big->rank, reps);
}
