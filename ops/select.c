/* select.c - elementwise choices among broadcast tensors:
 *
 *   op              d/da                         d/db (d/dlo, d/dhi)
 *   where(c, a, b)  c != 0                       c == 0          (c: none)
 *   clamp_t(a,l,h)  l <= a <= h                  l: a < l and l < h;  h: a > h or h < l
 *
 * Broadcast inputs receive their gradient summed over the broadcast axes.
 * The factors are constant masks, so second derivatives are zero.
 */
#include "op_common.h"

/* The broadcast shape of up to three operands (NULL: absent), through
 * tg__broadcast: each pair first, so that an error names two operands'
 * shapes, then the shape so far with each operand in turn. */
static bool bcast3(const char *op, tg_tape *tape, tg_tensor *const *t, int *rank,
                   int64_t *shape) {
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < k; j++)
            if (t[j] && t[k] && !tg__broadcast(op, tape, t[j], t[k], rank, shape)) return false;
    tg_tensor sofar = {0}; /* only its rank and shape are read */
    int64_t s[TG_MAX_RANK];
    *rank = 0;
    for (int k = 0; k < 3; k++) {
        if (!t[k]) continue;
        memcpy(s, shape, (size_t)*rank * sizeof *s);
        sofar.rank = (uint8_t)*rank;
        sofar.shape = s;
        tg__broadcast(op, tape, &sofar, t[k], rank, shape); /* fits: checked above */
    }
    return true;
}

/* Visits every element of a broadcast space with up to three operands
 * (strides st[0..2]): the body (the last argument) sees k, the flat index
 * in the space, and p0, p1, p2, the operands' flat indices. */
#define WALK3(rank, shape, st, ...)                                            \
    do {                                                                       \
        tg_rows it_;                                                           \
        tg__rows_init(&it_, (rank), (shape), 3, (st));                         \
        int64_t k = 0;                                                         \
        if (it_.n) do {                                                        \
            for (int64_t j_ = 0; j_ < it_.n; j_++, k++) {                      \
                int64_t p0 = it_.off[0] + j_ * it_.inner[0];                   \
                int64_t p1 = it_.off[1] + j_ * it_.inner[1];                   \
                int64_t p2 = it_.off[2] + j_ * it_.inner[2];                   \
                (void)p0, (void)p1, (void)p2;                                  \
                __VA_ARGS__                                                    \
            }                                                                  \
        } while (tg__rows_next(&it_));                                         \
    } while (0)

/* The body (the last argument) with C the element type of cond's dtype
 * (f32, f64 or i64): the test on the dtype runs once, outside the loops. */
#define BY_COND(dt, C, ...)                                                    \
    do {                                                                       \
        if ((dt) == TG_F32) {                                                  \
            typedef float C;                                                   \
            __VA_ARGS__                                                        \
        } else if ((dt) == TG_F64) {                                           \
            typedef double C;                                                  \
            __VA_ARGS__                                                        \
        } else {                                                               \
            typedef int64_t C;                                                 \
            __VA_ARGS__                                                        \
        }                                                                      \
    } while (0)

/* Strides of up to three operands (NULL: all zero) seen from out's shape. */
static void strides3(const tg_tensor *out, tg_tensor *const *t, int64_t (*st)[TG_MAX_RANK]) {
    for (int k = 0; k < 3; k++) {
        if (t[k])
            tg__bstrides(t[k]->rank, t[k]->shape, out->rank, out->shape, st[k]);
        else
            for (int d = 0; d < TG_MAX_RANK; d++) st[k][d] = 0;
    }
}

/* A constant leaf shaped like out (data uninitialised): the masks. */
static tg_tensor *leaf_like(const tg_tensor *o) {
    return tg__wrap(o->tape, o->dtype, o->rank, o->shape, NULL);
}

/* ================================================================= where */

/* aux: tg_auxin {3, cond, a, b}. */
tg_tensor *tg_where(tg_tensor *cond, tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[3] = {cond, a, b};
    tg_tape *tape = tg__check("where", 3, in, false);
    if (!tape) return NULL;
    char b0[160], b1[160];
    for (int k = 1; k < 3; k++)
        if (in[k]->dtype != in[1]->dtype || !tg__is_float(in[k]->dtype))
            return tg__fail(tape, TG_ERR_DTYPE, "where",
                            "a and b must share one float dtype: %s %s and %s %s (use tg_cast)",
                            tg_dtype_name(in[1]->dtype),
                            tg__shape_str(b0, sizeof b0, in[1]->rank, in[1]->shape),
                            tg_dtype_name(in[2]->dtype),
                            tg__shape_str(b1, sizeof b1, in[2]->rank, in[2]->shape));
    int rank;
    int64_t shape[TG_MAX_RANK];
    if (!bcast3("where", tape, in, &rank, shape)) return NULL;
    tg_auxin *ax = tg__arena(tape, sizeof(tg_auxin) + 3 * sizeof(tg_tensor *), "where");
    if (!ax) return NULL;
    ax->n = 3;
    for (int k = 0; k < 3; k++) ax->in[k] = in[k];
    tg_tensor *out = tg__out(tape, TG_OP_WHERE, in[1]->dtype, rank, shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__set_req(out, 2, &in[1]); /* cond is not differentiated */
    int64_t st[3][TG_MAX_RANK];
    strides3(out, in, st);
#define WHERE_FWD(T)                                                           \
    BY_COND(in[0]->dtype, C, {                                                 \
        const C *c = in[0]->data;                                              \
        const T *x = in[1]->data, *y = in[2]->data;                            \
        T *o = out->data;                                                      \
        WALK3(rank, shape, st, { o[k] = c[p0] != 0 ? x[p1] : y[p2]; });        \
    })
    TG_FLOAT_CASES(out->dtype, WHERE_FWD);
#undef WHERE_FWD
    return tg__handle(out);
}

bool tg__bw_where(tg_tensor *out) {
    tg_auxin *ax = out->u.aux;
    tg_tensor *c = ax->in[0];
    if (c->flags & TGF_REQ) tg__gacc(c); /* a zero gradient */
    int64_t st[3][TG_MAX_RANK];
    strides3(out, ax->in, st);
    for (int i = 1; i < 3; i++) {
        tg_tensor *t = ax->in[i];
        if (!(t->flags & TGF_REQ)) continue;
        void *gt = tg__gacc(t);
        if (!gt) return false;
        bool want = i == 1;
#define WHERE_BW(T)                                                            \
    BY_COND(c->dtype, C, {                                                     \
        const C *cv = c->data;                                                 \
        const T *g = out->grad;                                                \
        T *d = gt;                                                             \
        WALK3(out->rank, out->shape, st, {                                     \
            if ((cv[p0] != 0) == want) d[i == 1 ? p1 : p2] += g[k];            \
        });                                                                    \
    })
        TG_FLOAT_CASES(out->dtype, WHERE_BW);
#undef WHERE_BW
    }
    return true;
}

/* The 0/1 mask of cond (broadcast to out), or of !cond. */
static tg_tensor *where_mask(tg_tensor *o, tg_tensor *c, bool want) {
    tg_tensor *m = leaf_like(o);
    if (!m) return NULL;
    int64_t st[3][TG_MAX_RANK];
    strides3(o, (tg_tensor *[]){c, NULL, NULL}, st);
#define WHERE_MASK(T)                                                          \
    BY_COND(c->dtype, C, {                                                     \
        const C *cv = c->data;                                                 \
        T *mv = m->data;                                                       \
        WALK3(o->rank, o->shape, st, { mv[k] = (T)((cv[p0] != 0) == want); }); \
    })
    TG_FLOAT_CASES(o->dtype, WHERE_MASK);
#undef WHERE_MASK
    return m;
}

tg_tensor *tg__vjp_where(tg_tensor *o, tg_tensor *g, int i) {
    tg_auxin *ax = o->u.aux;
    if (i == 0) return tg_zeros_like(ax->in[0]);
    return tg__sum_like(tg_mul(g, where_mask(o, ax->in[0], i == 1)), ax->in[i]);
}

/* ============================================================== clamp_t */

/* aux: tg_auxin {n, a, [lo], [hi]}; flags & 16: lo given, & 32: hi given.
 * The predicates (PyTorch's clamp backward), per element of the output:
 *   a:  (no lo or a >= lo) and (no hi or a <= hi)
 *   lo: a < lo and (no hi or lo < hi)
 *   hi: a > hi or (lo given and hi < lo) */
static bool clamp_pred(int which, double x, double l, double h, bool hl, bool hh) {
    switch (which) {
    case 0: return (!hl || x >= l) && (!hh || x <= h);
    case 1: return x < l && (!hh || l < h);
    default: return x > h || (hl && h < l);
    }
}

/* The three operands (a, lo, hi; NULL where absent) of a clamp_t record. */
static void clamp_ops(const tg_tensor *o, tg_tensor **t) {
    const tg_auxin *ax = o->u.aux;
    int k = 0;
    t[0] = ax->in[k++];
    t[1] = (o->flags & 16) ? ax->in[k++] : NULL;
    t[2] = (o->flags & 32) ? ax->in[k++] : NULL;
}

tg_tensor *tg_clamp_t(tg_tensor *a, tg_tensor *lo, tg_tensor *hi) {
    tg_tensor *in[3];
    int n = 0;
    in[n++] = a;
    if (lo) in[n++] = lo;
    if (hi) in[n++] = hi;
    tg_tape *tape = tg__check("clamp_t", n, in, true);
    if (!tape) return NULL;
    /* a NULL bound after an earlier failure is that failure, not "no bound" */
    if ((!lo || !hi) && !tg_tape_ok(tape)) return NULL;
    tg_tensor *t[3] = {in[0], lo ? in[1] : NULL, hi ? in[n - 1] : NULL};
    int rank;
    int64_t shape[TG_MAX_RANK];
    if (!bcast3("clamp_t", tape, t, &rank, shape)) return NULL;
    tg_auxin *ax = tg__arena(tape, sizeof(tg_auxin) + (size_t)n * sizeof(tg_tensor *), "clamp_t");
    if (!ax) return NULL;
    ax->n = n;
    for (int k = 0; k < n; k++) ax->in[k] = in[k];
    tg_tensor *out = tg__out(tape, TG_OP_CLAMP_T, in[0]->dtype, rank, shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    out->flags |= (uint8_t)((lo ? 16 : 0) | (hi ? 32 : 0));
    tg__set_req(out, n, in);
    int64_t st[3][TG_MAX_RANK];
    strides3(out, t, st);
#define CLAMP_FWD(T)                                                           \
    do {                                                                       \
        const T *x = t[0]->data, *l = lo ? t[1]->data : NULL, *h = hi ? t[2]->data : NULL; \
        T *o = out->data;                                                      \
        WALK3(rank, shape, st, {                                               \
            T v = x[p0];                                                       \
            if (l && v < l[p1]) v = l[p1];                                     \
            if (h && v > h[p2]) v = h[p2];                                     \
            o[k] = v;                                                          \
        });                                                                    \
    } while (0)
    TG_FLOAT_CASES(out->dtype, CLAMP_FWD);
#undef CLAMP_FWD
    return tg__handle(out);
}

/* Runs the body (the last argument) at every element k of a clamp_t
 * record o, with on: whether the predicate of operand w holds, and p: that
 * operand's flat index. */
#define CLAMP_WALK(o, t, st, w, T, ...)                                        \
    do {                                                                       \
        bool hl_ = t[1] != NULL, hh_ = t[2] != NULL;                           \
        const T *x_ = t[0]->data, *l_ = hl_ ? t[1]->data : NULL, *h_ = hh_ ? t[2]->data : NULL; \
        WALK3((o)->rank, (o)->shape, st, {                                     \
            double l = hl_ ? l_[p1] : 0, h = hh_ ? h_[p2] : 0;                 \
            bool on = clamp_pred(w, x_[p0], l, h, hl_, hh_);                   \
            int64_t p = w == 0 ? p0 : w == 1 ? p1 : p2;                        \
            (void)p;                                                           \
            __VA_ARGS__                                                        \
        });                                                                    \
    } while (0)

bool tg__bw_clamp_t(tg_tensor *out) {
    tg_tensor *t[3];
    clamp_ops(out, t);
    int64_t st[3][TG_MAX_RANK];
    strides3(out, t, st);
    for (int w = 0; w < 3; w++) {
        if (!t[w] || !(t[w]->flags & TGF_REQ)) continue;
        void *d = tg__gacc(t[w]);
        if (!d) return false;
#define CLAMP_BW(T) CLAMP_WALK(out, t, st, w, T, { if (on) ((T *)d)[p] += ((const T *)out->grad)[k]; })
        TG_FLOAT_CASES(out->dtype, CLAMP_BW);
#undef CLAMP_BW
    }
    return true;
}

tg_tensor *tg__vjp_clamp_t(tg_tensor *o, tg_tensor *g, int i) {
    tg_tensor *t[3];
    clamp_ops(o, t);
    int w = i == 0 ? 0 : (i == 1 && t[1]) ? 1 : 2; /* aux index -> a, lo, hi */
    tg_tensor *m = leaf_like(o);
    if (!m) return NULL;
    int64_t st[3][TG_MAX_RANK];
    strides3(o, t, st);
#define CLAMP_MASK(T) CLAMP_WALK(o, t, st, w, T, { ((T *)m->data)[k] = on; })
    TG_FLOAT_CASES(o->dtype, CLAMP_MASK);
#undef CLAMP_MASK
    return tg__sum_like(tg_mul(g, m), t[w]);
}
