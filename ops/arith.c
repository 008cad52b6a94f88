/* arith.c - elementwise ops of two tensors with broadcasting: every row of
 * TG_BINARY_OPS (tg_ewlist.h, where the derivatives are: add, sub, mul,
 * div, pow, maximum, minimum), expanded into the f32/f64 row kernels, the
 * fast backward and the graph backward; and the comparisons (eq, ne, lt,
 * le, gt, ge: 0/1 in a's dtype, i64 too; their outputs never require grad).
 *
 * Broadcast inputs receive their gradient summed over the broadcast axes.
 * Scalar code (two fresh 0-d f64 tensors) takes the inline path of
 * scalar0.h. The scalar forms (add_scalar, ...) are unary rows (unary.c).
 */
#include "scalar0.h"
#include "fuse.h"

/* ------------------------------------------------------------- forward */

/* Row kernels are inlined into each caller, so that the flat paths (unit
 * strides, constants there) get contiguous, vectorized loops. */
#define ROW_FN static inline __attribute__((always_inline))

/* One row of a binary op; ia/ib are 1 (walk) or 0 (broadcast). */
#define ROW(EXPR)                                                              \
    do {                                                                       \
        if (ia && ib) {                                                        \
            for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i]; o[i] = EXPR; } \
        } else if (ib) {                                                       \
            T x = a[0];                                                        \
            for (int64_t i = 0; i < n; i++) { T y = b[i]; o[i] = EXPR; }       \
        } else if (ia) {                                                       \
            T y = b[0];                                                        \
            for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = EXPR; }       \
        } else {                                                               \
            T x = a[0], y = b[0], v = EXPR;                                    \
            for (int64_t i = 0; i < n; i++) o[i] = v;                          \
        }                                                                      \
    } while (0)

/* The row kernel FN of the ops of a table, for element type TY: a
 * switch, outside the loops. */
#define DEF_ROW(FN, TY, OPS, CASE)                                             \
    ROW_FN void FN(int op, int64_t n, const TY *restrict a, int64_t ia, const TY *restrict b, \
                   int64_t ib, TY *restrict o) {                               \
        typedef TY T;                                                          \
        switch (op) { OPS(CASE) }                                              \
    }
#define ROW_CASE(ID, name, F, DX, DY, GA, GB)                                  \
    case TG_OP_##ID: ROW(F); break;
DEF_ROW(bin_row_f32, float, TG_BINARY_OPS, ROW_CASE)
DEF_ROW(bin_row_f64, double, TG_BINARY_OPS, ROW_CASE)
/* The comparisons: 0/1 in the operands' dtype. */
#define CMP_CASE(ID, name, OP)                                                 \
    case TG_OP_##ID: ROW((T)(x OP y)); break;
DEF_ROW(cmp_row_f32, float, TG_COMPARE_OPS, CMP_CASE)
DEF_ROW(cmp_row_f64, double, TG_COMPARE_OPS, CMP_CASE)
DEF_ROW(cmp_row_i64, int64_t, TG_COMPARE_OPS, CMP_CASE)
#undef DEF_ROW
#undef ROW_CASE
#undef CMP_CASE
#undef ROW

/* A row iterator over out's shape (operand 0) with a and b (operands 1,
 * 2) broadcast to it; false when the space is empty. */
static bool rows3(tg_rows *it, const tg_tensor *out, const tg_tensor *a, const tg_tensor *b) {
    int64_t st[3][TG_MAX_RANK];
    tg__strides(out->rank, out->shape, st[0]);
    tg__bstrides(a->rank, a->shape, out->rank, out->shape, st[1]);
    tg__bstrides(b->rank, b->shape, out->rank, out->shape, st[2]);
    tg__rows_init(it, out->rank, out->shape, 3, st);
    return it->n != 0;
}

/* Flat work (operands of the output's shape or single elements), split
 * across threads when large. */
typedef struct flat {
    int op, dtype;
    const void *a, *b, *o, *g;
    int64_t ia, ib;
    void *out, *ga, *gb;
    bool wa, wb; /* backward: ga / gb are fresh, write instead of add */
} flat;

static void bin_flat_range(void *ctx, int64_t lo, int64_t hi) {
    const flat *f = ctx;
    if (f->dtype == TG_F32)
        bin_row_f32(f->op, hi - lo, (const float *)f->a + lo * f->ia, f->ia,
                    (const float *)f->b + lo * f->ib, f->ib, (float *)f->out + lo);
    else
        bin_row_f64(f->op, hi - lo, (const double *)f->a + lo * f->ia, f->ia,
                    (const double *)f->b + lo * f->ib, f->ib, (double *)f->out + lo);
}

static void bin_forward(int op, tg_tensor *out, const tg_tensor *a, const tg_tensor *b) {
    int64_t n = tg__numel(out), na = tg__numel(a), nb = tg__numel(b);
    if ((na == n || na == 1) && (nb == n || nb == 1)) {
        flat f = {op,        out->dtype, a->data, b->data, NULL,  NULL, na == n,
                  nb == n,   out->data,  NULL,    NULL,    false, false};
        tg__elementwise(n, bin_flat_range, &f);
        return;
    }
    tg_rows it;
    if (!rows3(&it, out, a, b)) return;
    do {
        if (out->dtype == TG_F32)
            bin_row_f32(op, it.n, (const float *)a->data + it.off[1], it.inner[1],
                        (const float *)b->data + it.off[2], it.inner[2],
                        (float *)out->data + it.off[0]);
        else
            bin_row_f64(op, it.n, (const double *)a->data + it.off[1], it.inner[1],
                        (const double *)b->data + it.off[2], it.inner[2],
                        (double *)out->data + it.off[0]);
    } while (tg__rows_next(&it));
}

/* The scalar path (0-d f64, the bulk of scalar code): a record, one
 * expression, nothing else (scalar0.h). A half record while the tape
 * allows them, except for what a numeric sweep computes with recording off
 * (the graph backwards of ops without a fast one read their results'
 * fields); else a full one (no operand is then a live half). */
static inline __attribute__((always_inline)) tg_tensor *scalar_binary(tg_tape *tape, int op,
                                                                      tg_tensor *a, bool ah,
                                                                      tg_tensor *b, bool bh) {
    double z = tg__fwd0_binary(op, tg__val0(a, ah), tg__val0(b, bh));
    bool req = tg__req0(a, ah) || tg__req0(b, bh);
    if (tg__half_now(tape)) {
        uint64_t u;
        memcpy(&u, &b, sizeof u);
        return (tg_tensor *)tg__half_out(tape, op, z, a, ah, u, bh, req);
    }
    tg_tensor *t = tg__record0(tape, op, z, a, req);
    if (t) t->u.in1 = b;
    return t;
}

/* PROMOTE (tg_engine.h): a full 0-d record that a tensor op read in place
 * of a half; its working gradient is the half's own (or, once tg__unhalf
 * has run, the half's full copy's: tg__promote_grad), so its numeric
 * backward has nothing to do. */
bool tg__bw_promote(tg_tensor *r) {
    /* its gradient is the half's own (tg__promote_grad): nothing to pass on */
    (void)r;
    return true;
}

tg_tensor *tg__vjp_promote(tg_tensor *out, tg_tensor *g, int i) {
    (void)out, (void)i;
    return tg__handle(g); /* the identity; a create-graph sweep unhalves first, so the input is full */
}

/* Everything but the scalar fast path, out of line so that the public
 * functions (tg_add, ...) stay small leaf functions for scalar code. */
static __attribute__((noinline)) tg_tensor *binary_general(int op, tg_tensor *a, tg_tensor *b);
static __attribute__((noinline)) tg_tensor *binary_slow(int op, tg_tensor *a, tg_tensor *b) {
    return tg__handle(binary_general(op, a, b));
}

static inline __attribute__((always_inline)) tg_tensor *binary(int op, tg_tensor *a,
                                                               tg_tensor *b) {
    /* the common case of scalar code in one glance: handles of two fresh
     * 0-d f64 tensors (halves or not) on one tape that takes a half now,
     * with room for it. No call but the last (a jump), so the public
     * functions save no registers on this path. */
    tg_tape *ta, *tb;
    tg_op0 oa, ob;
    if (a && b && tg__dec0(a, &ta, &oa) &&
        (a == b ? (tb = ta, ob = oa, true) : tg__dec0(b, &tb, &ob)) && /* x * x: decoded once */
        ta == tb && tg__hot_room(ta)) {
        tg_tensor *rb = tg__rec(b);
        uint64_t u;
        memcpy(&u, &rb, sizeof u);
        return tg__half_hot(ta, op, tg__fwd0_binary(op, oa.v, ob.v), tg__rec(a), oa.half, u,
                            ob.half, (oa.req || ob.req) && ta->grad_enabled);
    }
    return binary_slow(op, a, b);
}

/* Scalar code the fast path left: a full result (a tape that makes no
 * halves now), or a 0-d parameter beside scalar code (its proxy, once
 * made, without a PROMOTE of the half). NULL: not such a case. */
static tg_tensor *scalar_rest(int op, tg_tensor *a, tg_tensor *b) {
    tg_tensor *ra = tg__rec(a), *rb = tg__rec(b);
    tg_tape *ta = NULL, *tb = NULL;
    tg_op0 oa = {0}, ob = {0};
    bool fa = tg__dec0(a, &ta, &oa), fb = tg__dec0(b, &tb, &ob);
    if (fa && fb && ta == tb) return scalar_binary(ta, op, ra, oa.half, rb, ob.half);
    tg_tensor *p;
    if (fa && !fb && (p = tg__proxy0(rb, ta))) return scalar_binary(ta, op, ra, oa.half, p, false);
    if (fb && !fa && (p = tg__proxy0(ra, tb))) return scalar_binary(tb, op, p, false, rb, ob.half);
    return NULL;
}

/* A C constant never needs a cast (PyTorch's rule for Python scalars): a
 * 0-d operand that does not require grad, of another dtype than a float
 * other operand, is replaced by a copy of its value in that dtype (two
 * such constants: the f32 one becomes f64). Records; false after an error
 * (out of memory). */
static bool is_const0(const tg_tensor *t) {
    return t->rank == 0 && !(t->flags & (TGF_REQ | TGF_PARAM));
}
static tg_tensor *const_as(tg_tape *tape, const tg_tensor *t, int dtype) {
    tg_tensor *c = tg__wrap(tape, dtype, 0, NULL, NULL);
    if (!c) return NULL;
    double v = t->dtype == TG_F32   ? *(const float *)t->data
               : t->dtype == TG_F64 ? *(const double *)t->data
                                    : (double)*(const int64_t *)t->data;
    if (dtype == TG_F32)
        *(float *)c->data = (float)v;
    else
        *(double *)c->data = v;
    return c;
}
static bool adopt_dtype(tg_tape *tape, tg_tensor **a, tg_tensor **b) {
    tg_tensor *x = *a, *y = *b;
    if (x->dtype == y->dtype) return true;
    bool cx = is_const0(x), cy = is_const0(y);
    if (cx && cy && tg__is_float(x->dtype) && tg__is_float(y->dtype)) {
        if (x->dtype == TG_F32) cy = false; /* x becomes f64 */
        else cx = false;
    }
    if (cy && tg__is_float(x->dtype)) return (*b = const_as(tape, y, x->dtype)) != NULL;
    if (cx && tg__is_float(y->dtype)) return (*a = const_as(tape, x, y->dtype)) != NULL;
    return true; /* nothing to adopt: the dtype check says what is wrong */
}

static tg_tensor *binary_general(int op, tg_tensor *a, tg_tensor *b) {
    if (a && b) {
        tg_tensor *t = scalar_rest(op, a, b);
        if (t) return t;
    }
    tg_tensor *in[2] = {a, b};
    const char *name = tg__ops[op].name;
    tg_tape *tape = tg__check_lazy(name, 2, in, false); /* lazy operands may stay lazy */
    if (!tape) return NULL;
    if ((in[0]->dtype != in[1]->dtype || !tg__is_float(in[0]->dtype)) &&
        (!adopt_dtype(tape, &in[0], &in[1]) || !tg__check_float(tape, name, 2, in)))
        return NULL; /* the common case (one float dtype) costs one test */
    a = in[0], b = in[1];
    if (a->rank == 0 && b->rank == 0 && a->dtype == TG_F64) return scalar_binary(tape, op, a, false, b, false);
    int rank;
    int64_t shape[TG_MAX_RANK];
    if (a->rank == 0 && b->rank == 0) {
        rank = 0;
    } else if (!tg__broadcast(name, tape, a, b, &rank, shape)) {
        return NULL;
    }
    int lazy = tg__fuse_admit(tape, 2, in, rank > 0 && tg__same_shape(a, b)); /* fuse.h */
    if (lazy < 0) return NULL;
    if (lazy) return tg__fuse_out(tape, op, a, b);
    tg_tensor *out = tg__out(tape, op, a->dtype, rank, shape, a, b, NULL);
    if (!out) return NULL;
    if (rank == 0) {
        if (a->dtype == TG_F32)
            bin_row_f32(op, 1, a->data, 1, b->data, 1, out->data);
        else
            bin_row_f64(op, 1, a->data, 1, b->data, 1, out->data);
    } else {
        bin_forward(op, out, a, b);
    }
    return out;
}

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b) { return binary(TG_OP_ADD, a, b); }
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b) { return binary(TG_OP_SUB, a, b); }
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b) { return binary(TG_OP_MUL, a, b); }
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b) { return binary(TG_OP_DIV, a, b); }
tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b) { return binary(TG_OP_POW, a, b); }
tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b) { return binary(TG_OP_MAXIMUM, a, b); }
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b) { return binary(TG_OP_MINIMUM, a, b); }

/* ------------------------------------------------------------ backward */

/* One row: ga[i*ia] += DX, gb[i*ib] += DY, with x, y, z, g the operands,
 * output and output gradient. ga or gb may be NULL (no grad wanted);
 * wa / wb: the buffer is fresh, write (=) instead of adding (no zeroing). */
#define BW_LOOP(GX, IX, OP, D)                                                 \
    for (int64_t i = 0; i < n; i++) {                                          \
        T x = a[i * ia], y = b[i * ib], z = o[i], g = pg[i];                   \
        (void)x, (void)y, (void)z;                                             \
        GX[i * IX] OP D;                                                       \
    }
#define BW_ROW(DX, DY)                                                         \
    do {                                                                       \
        if (ga && wa) BW_LOOP(ga, ia, =, DX)                                   \
        else if (ga) BW_LOOP(ga, ia, +=, DX)                                   \
        if (gb && wb) BW_LOOP(gb, ib, =, DY)                                   \
        else if (gb) BW_LOOP(gb, ib, +=, DY)                                   \
    } while (0)

#define BW_CASE(ID, name, F, DX, DY, GA, GB)                                   \
    case TG_OP_##ID: BW_ROW(DX, DY); break;
#define DEF_BIN_BW(TY, SUF)                                                    \
    ROW_FN void bin_bw_row_##SUF(int op, int64_t n, const TY *a, int64_t ia, const TY *b, \
                                 int64_t ib, const TY *restrict o, const TY *restrict pg, \
                                 TY *ga, TY *gb, bool wa, bool wb) {           \
        typedef TY T;                                                          \
        switch (op) { TG_BINARY_OPS(BW_CASE) }                                 \
    }
DEF_BIN_BW(float, f32)
DEF_BIN_BW(double, f64)
#undef DEF_BIN_BW
#undef BW_CASE
#undef BW_ROW
#undef BW_LOOP

static void bin_bw_flat_range(void *ctx, int64_t lo, int64_t hi) {
    const flat *f = ctx;
    if (f->dtype == TG_F32)
        bin_bw_row_f32(f->op, hi - lo, (const float *)f->a + lo, 1, (const float *)f->b + lo, 1,
                       (const float *)f->o + lo, (const float *)f->g + lo,
                       f->ga ? (float *)f->ga + lo : NULL, f->gb ? (float *)f->gb + lo : NULL,
                       f->wa, f->wb);
    else
        bin_bw_row_f64(f->op, hi - lo, (const double *)f->a + lo, 1, (const double *)f->b + lo, 1,
                       (const double *)f->o + lo, (const double *)f->g + lo,
                       f->ga ? (double *)f->ga + lo : NULL, f->gb ? (double *)f->gb + lo : NULL,
                       f->wa, f->wb);
}

bool tg__bw_binary(tg_tensor *out) {
    tg_tensor *a = out->in0, *b = out->u.in1;
    if (out->rank == 0 && out->dtype == TG_F64) return tg__step0(out); /* scalar code */
    bool wa, wb; /* fresh buffers (uninitialised): written, not added to */
    void *ga = tg__gacc_w(a, &wa), *gb = tg__gacc_w(b, &wb);
    if (((a->flags & TGF_REQ) && !ga) || ((b->flags & TGF_REQ) && !gb)) return false;
    if (out->rank == 0) { /* the scalar path: no iterator */
        if (out->dtype == TG_F32)
            bin_bw_row_f32(out->op, 1, a->data, 1, b->data, 1, out->data, out->grad, ga, gb,
                           wa, wb);
        else
            bin_bw_row_f64(out->op, 1, a->data, 1, b->data, 1, out->data, out->grad, ga, gb,
                           wa, wb);
        return true;
    }
    int64_t n = tg__numel(out);
    if (a == b && out->op == TG_OP_MUL) { /* x * x: one pass as square, ga (+)= g 2 x */
        tg__unary_bw_flat(TG_OP_SQUARE, out->dtype, n, a->data, out->data, out->grad, ga, wa, 0, 0);
        return true;
    }
    if (tg__numel(a) == n && tg__numel(b) == n) { /* same shapes: flat, threaded */
        flat f = {out->op, out->dtype, a->data, b->data, out->data, out->grad, 1, 1, NULL, ga, gb,
                  wa, wb};
        tg__elementwise(n, bin_bw_flat_range, &f);
        return true;
    }
    /* broadcast: a fresh buffer that sums over rows starts from zero; one
     * of the output's size gets each element once and is written */
    if (wa && tg__numel(a) != n) {
        memset(ga, 0, (size_t)tg__numel(a) * tg__esize(a->dtype));
        wa = false;
    }
    if (wb && tg__numel(b) != n) {
        memset(gb, 0, (size_t)tg__numel(b) * tg__esize(b->dtype));
        wb = false;
    }
    tg_rows it;
    if (!rows3(&it, out, a, b)) return true;
    do {
        int64_t o0 = it.off[0], o1 = it.off[1], o2 = it.off[2];
        if (out->dtype == TG_F32)
            bin_bw_row_f32(out->op, it.n, (const float *)a->data + o1, it.inner[1],
                           (const float *)b->data + o2, it.inner[2],
                           (const float *)out->data + o0, (const float *)out->grad + o0,
                           ga ? (float *)ga + o1 : NULL, gb ? (float *)gb + o2 : NULL, wa, wb);
        else
            bin_bw_row_f64(out->op, it.n, (const double *)a->data + o1, it.inner[1],
                           (const double *)b->data + o2, it.inner[2],
                           (const double *)out->data + o0, (const double *)out->grad + o0,
                           ga ? (double *)ga + o1 : NULL, gb ? (double *)gb + o2 : NULL, wa, wb);
    } while (tg__rows_next(&it));
    return true;
}

/* Graph backward: the rows' graph columns, summed to the input's shape. */

/* maximum's or minimum's weights (MAXW) for input i, as a constant leaf of
 * the output's shape. */
static tg_tensor *maxmin_w(tg_tensor *o, int i) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    tg_tensor *m = tg__wrap(o->tape, o->dtype, o->rank, o->shape, NULL);
    if (!m) return NULL;
    bool first = (o->op == TG_OP_MAXIMUM) == (i == 0); /* MAXW(x, y), else MAXW(y, x) */
    tg_rows it;
    if (!rows3(&it, o, a, b)) return m;
#define W_ROW(T)                                                               \
    do {                                                                       \
        const T *x_ = (const T *)a->data + it.off[1], *y_ = (const T *)b->data + it.off[2]; \
        T *w = (T *)m->data + it.off[0];                                       \
        for (int64_t j = 0; j < it.n; j++) {                                   \
            T x = x_[j * it.inner[1]], y = y_[j * it.inner[2]];                \
            w[j] = first ? MAXW(x, y) : MAXW(y, x);                            \
        }                                                                      \
    } while (0)
    do {
        if (o->dtype == TG_F32)
            W_ROW(float);
        else
            W_ROW(double);
    } while (tg__rows_next(&it));
#undef W_ROW
    return m;
}

tg_tensor *tg__vjp_binary(tg_tensor *o, tg_tensor *g, int i) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    switch (o->op) {
#define VJP_CASE(ID, name, F, DX, DY, GA, GB)                                  \
    case TG_OP_##ID: return i ? tg__sum_like(GB, b) : tg__sum_like(GA, a);
    TG_BINARY_OPS(VJP_CASE)
#undef VJP_CASE
    default: return NULL;
    }
}

/* ========================================================= comparisons */

static tg_tensor *compare_rec(tg_tape *tape, int op, tg_tensor *a, tg_tensor *b);

static tg_tensor *compare(int op, tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[2] = {a, b};
    tg_tape *tape = tg__check(tg__ops[op].name, 2, in, false);
    if (!tape || (in[0]->dtype != in[1]->dtype && !adopt_dtype(tape, &in[0], &in[1])))
        return NULL;
    return compare_rec(tape, op, in[0], in[1]);
}

/* a against the constant c in a's dtype; an i64 a needs an integer c. */
static tg_tensor *compare_scalar(int op, tg_tensor *a, double c) {
    const char *name = tg__ops[op].name;
    tg_tape *tape = tg__check(name, 1, &a, false);
    if (!tape) return NULL;
    if (a->dtype == TG_I64 && !(c == floor(c) && fabs(c) <= 0x1p62)) {
        char b0[160];
        return tg__fail(tape, TG_ERR_ARG, name,
                        "the constant %g is not an integer of i64 range, and operand 1 is i64 %s",
                        c, tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    }
    tg_tensor *k = tg__wrap(tape, a->dtype, 0, NULL, NULL);
    if (!k) return NULL;
    if (a->dtype == TG_F32)
        *(float *)k->data = (float)c;
    else if (a->dtype == TG_F64)
        *(double *)k->data = c;
    else
        *(int64_t *)k->data = (int64_t)c;
    return compare_rec(tape, op, a, k);
}

static tg_tensor *compare_rec(tg_tape *tape, int op, tg_tensor *a, tg_tensor *b) {
    const char *name = tg__ops[op].name;
    if (a->dtype != b->dtype) {
        char b0[160], b1[160];
        return tg__fail(tape, TG_ERR_DTYPE, name, "dtypes differ: %s %s and %s %s (use tg_cast)",
                        tg_dtype_name(a->dtype), tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg_dtype_name(b->dtype), tg__shape_str(b1, sizeof b1, b->rank, b->shape));
    }
    int rank = 0;
    int64_t shape[TG_MAX_RANK];
    if ((a->rank || b->rank) && !tg__broadcast(name, tape, a, b, &rank, shape)) return NULL;
    tg_tensor *out = tg__out(tape, op, a->dtype, rank, shape, a, b, NULL);
    if (!out) return NULL;
    out->flags &= (uint8_t)~TGF_REQ; /* masks are never differentiated */
    tg_rows it;
    if (!rows3(&it, out, a, b)) return out;
    do {
        int64_t o0 = it.off[0], o1 = it.off[1], o2 = it.off[2];
        if (a->dtype == TG_F32)
            cmp_row_f32(op, it.n, (const float *)a->data + o1, it.inner[1],
                        (const float *)b->data + o2, it.inner[2], (float *)out->data + o0);
        else if (a->dtype == TG_F64)
            cmp_row_f64(op, it.n, (const double *)a->data + o1, it.inner[1],
                        (const double *)b->data + o2, it.inner[2], (double *)out->data + o0);
        else
            cmp_row_i64(op, it.n, (const int64_t *)a->data + o1, it.inner[1],
                        (const int64_t *)b->data + o2, it.inner[2], (int64_t *)out->data + o0);
    } while (tg__rows_next(&it));
    return out;
}

#define CMP_API(ID, name, OP)                                                  \
    tg_tensor *tg_##name(tg_tensor *a, tg_tensor *b) {                         \
        return tg__handle(compare(TG_OP_##ID, a, b));                          \
    }                                                                          \
    tg_tensor *tg_##name##_scalar(tg_tensor *a, double c) {                    \
        return tg__handle(compare_scalar(TG_OP_##ID, a, c));                   \
    }
TG_COMPARE_OPS(CMP_API)
#undef CMP_API

/* Ops whose outputs never require grad (comparisons, argmax): the sweep
 * never reaches them; should it, they pass nothing back. */
bool tg__bw_nograd(tg_tensor *out) {
    (void)out;
    return true;
}
tg_tensor *tg__vjp_nograd(tg_tensor *out, tg_tensor *g, int i) {
    (void)g;
    tg_tensor *in[16];
    int n = tg__inputs(out, in);
    return i < n ? tg_zeros_like(in[i]) : NULL;
}
