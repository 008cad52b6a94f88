/* arith.c - add, sub, mul, div, pow with broadcasting, and their scalar
 * forms. Forward and backward of each op side by side:
 *
 *   op      d/da                 d/db
 *   add     g                    g
 *   sub     g                    -g
 *   mul     g * b                g * a
 *   div     g / b                -g * out / b
 *   pow     g * b * a^(b-1)      g * out * log(a)   (0 where a == 0)
 *
 * Broadcast inputs receive their gradient summed over the broadcast axes.
 */
#include "tg_internal.h"
#include "scalar0.h"

#include <math.h>

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

#define DEF_BIN_ROW(TY, SUF, POWF)                                              \
    ROW_FN void bin_row_##SUF(int op, int64_t n, const TY *restrict a, int64_t ia, \
                              const TY *restrict b, int64_t ib, TY *restrict o) { \
        typedef TY T;                                                          \
        switch (op) {                                                          \
        case TG_OP_ADD: ROW(x + y); break;                                     \
        case TG_OP_SUB: ROW(x - y); break;                                     \
        case TG_OP_MUL: ROW(x * y); break;                                     \
        case TG_OP_DIV: ROW(x / y); break;                                     \
        default: ROW(POWF(x, y)); break;                                       \
        }                                                                      \
    }
DEF_BIN_ROW(float, f32, powf)
DEF_BIN_ROW(double, f64, pow)
#undef ROW

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
    int64_t st[3][TG_MAX_RANK];
    tg__strides(out->rank, out->shape, st[0]);
    tg__bstrides(a->rank, a->shape, out->rank, out->shape, st[1]);
    tg__bstrides(b->rank, b->shape, out->rank, out->shape, st[2]);
    tg_rows it;
    tg__rows_init(&it, out->rank, out->shape, 3, st);
    if (it.n == 0) return;
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
 * arithmetic instruction, nothing else (scalar0.h). */
static inline __attribute__((always_inline)) tg_tensor *scalar_binary(tg_tape *tape, int op, tg_tensor *a, tg_tensor *b) {
    double z = tg__fwd0_binary(op, *(const double *)a->data, *(const double *)b->data);
    tg_tensor *t = tg__record0(tape, op, z, a, (a->flags | b->flags) & TGF_REQ);
    if (t) t->u.in1 = b;
    return t;
}

/* Everything but the scalar fast path, out of line so that the public
 * functions (tg_add, ...) stay small leaf functions for scalar code. */
static __attribute__((noinline)) tg_tensor *binary_general(int op, tg_tensor *a, tg_tensor *b);

static inline __attribute__((always_inline)) tg_tensor *binary(int op, tg_tensor *a,
                                                               tg_tensor *b) {
    /* the common case of scalar code in one glance: two fresh 0-d f64
     * tensors on one tape (what tg__check would accept) */
    if (a && b && a->rank == 0 && b->rank == 0 && a->dtype == TG_F64 && b->dtype == TG_F64 &&
        !((a->flags | b->flags) & TGF_PARAM) && a->tape == b->tape && a->gen == a->tape->gen &&
        b->gen == a->gen)
        return scalar_binary(a->tape, op, a, b);
    return binary_general(op, a, b);
}

static tg_tensor *binary_general(int op, tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[2] = {a, b};
    const char *name = tg__ops[op].name;
    tg_tape *tape = tg__check(name, 2, in, true);
    if (!tape) return NULL;
    a = in[0], b = in[1];
    if (a->rank == 0 && b->rank == 0 && a->dtype == TG_F64) return scalar_binary(tape, op, a, b);
    int rank;
    int64_t shape[TG_MAX_RANK];
    if (a->rank == 0 && b->rank == 0) {
        rank = 0;
    } else if (!tg__broadcast(name, tape, a, b, &rank, shape)) {
        return NULL;
    }
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

/* ------------------------------------------------------------ backward */

/* One row: ga[i*ia] += DA, gb[i*ib] += DB, with x, y, z, g the operands,
 * output and output gradient. ga or gb may be NULL (no grad wanted);
 * wa / wb: the buffer is fresh, write (=) instead of adding (no zeroing). */
#define BW_LOOP(GX, IX, OP, D)                                                 \
    for (int64_t i = 0; i < n; i++) {                                          \
        T x = a[i * ia], y = b[i * ib], z = o[i], gg = g[i];                   \
        (void)x, (void)y, (void)z;                                             \
        GX[i * IX] OP D;                                                       \
    }
#define BW_ROW(DA, DB)                                                         \
    do {                                                                       \
        if (ga && wa) BW_LOOP(ga, ia, =, DA)                                   \
        else if (ga) BW_LOOP(ga, ia, +=, DA)                                   \
        if (gb && wb) BW_LOOP(gb, ib, =, DB)                                   \
        else if (gb) BW_LOOP(gb, ib, +=, DB)                                   \
    } while (0)

#define DEF_BIN_BW(TY, SUF, POWF, LOGF)                                         \
    ROW_FN void bin_bw_row_##SUF(int op, int64_t n, const TY *a, int64_t ia, const TY *b, \
                                 int64_t ib, const TY *restrict o, const TY *restrict g, \
                                 TY *ga, TY *gb, bool wa, bool wb) {           \
        typedef TY T;                                                          \
        switch (op) {                                                          \
        case TG_OP_ADD: BW_ROW(gg, gg); break;                                 \
        case TG_OP_SUB: BW_ROW(gg, -gg); break;                                \
        case TG_OP_MUL: BW_ROW(gg * y, gg * x); break;                         \
        case TG_OP_DIV: BW_ROW(gg / y, -gg * z / y); break;                    \
        default:                                                               \
            BW_ROW(y == 0 ? 0 : gg * y * POWF(x, y - 1),                        \
                   x == 0 && y >= 0 ? 0 : gg * z * LOGF(x));                   \
            break;                                                             \
        }                                                                      \
    }
DEF_BIN_BW(float, f32, powf, logf)
DEF_BIN_BW(double, f64, pow, log)
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

static void sc_bw_flat_range(void *ctx, int64_t lo, int64_t hi); /* scalar forms, below */
static const double two = 2.0;

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
    if (a == b && out->op == TG_OP_MUL) { /* x * x: one pass, ga (+)= 2 g x */
        flat f = {TG_OP_POWC, out->dtype, a->data, &two, out->data, out->grad, 1, 0, NULL, ga,
                  NULL, wa, false};
        tg__elementwise(n, sc_bw_flat_range, &f);
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
    int64_t st[3][TG_MAX_RANK];
    tg__strides(out->rank, out->shape, st[0]);
    tg__bstrides(a->rank, a->shape, out->rank, out->shape, st[1]);
    tg__bstrides(b->rank, b->shape, out->rank, out->shape, st[2]);
    tg_rows it;
    tg__rows_init(&it, out->rank, out->shape, 3, st);
    if (it.n == 0) return true;
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


/* Graph backward: the same table, written with ops. */
tg_tensor *tg__vjp_add(tg_tensor *o, tg_tensor *g, int i) {
    return tg__sum_like(g, i ? o->u.in1 : o->in0);
}
tg_tensor *tg__vjp_sub(tg_tensor *o, tg_tensor *g, int i) {
    return i ? tg__sum_like(tg_neg(g), o->u.in1) : tg__sum_like(g, o->in0);
}
tg_tensor *tg__vjp_mul(tg_tensor *o, tg_tensor *g, int i) {
    return i ? tg__sum_like(tg_mul(g, o->in0), o->u.in1)
             : tg__sum_like(tg_mul(g, o->u.in1), o->in0);
}
tg_tensor *tg__vjp_div(tg_tensor *o, tg_tensor *g, int i) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    return i ? tg__sum_like(tg_neg(tg_mul(g, tg_div(o, b))), b) : tg__sum_like(tg_div(g, b), a);
}
tg_tensor *tg__vjp_pow(tg_tensor *o, tg_tensor *g, int i) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    if (i == 0) /* g * b * a^(b-1), zero where b == 0 */
        return tg__sum_like(
            tg_mul(g, tg_mul(tg_mul(b, tg_pow(a, tg_sub_scalar(b, 1.0))), tg__mask(b, 3))), a);
    /* g * out * log(a), with log(1) = 0 standing in where a == 0 */
    tg_tensor *safe = tg_add(a, tg__mask(a, 2));
    return tg__sum_like(tg_mul(g, tg_mul(o, tg_log(safe))), b);
}

/* ---------------------------------------------------------- scalar forms */

/*   op           out        d/da
 *   add_scalar   a + c      g
 *   rsub_scalar  c - a      -g
 *   mul_scalar   a * c      g * c
 *   div_scalar   a / c      g / c
 *   rdiv_scalar  c / a      -g * out / a
 *   pow_scalar   a ^ c      g * c * a^(c-1)   (0 when c == 0) */
/* Backward: ga += E, or ga = E when w (a fresh buffer, never zeroed). */
#define SBW(E)                                                                 \
    if (w)                                                                     \
        for (int64_t i = 0; i < n; i++) ga[i] = E;                             \
    else                                                                       \
        for (int64_t i = 0; i < n; i++) ga[i] += E;
#define DEF_SCALAR_ROW(T, SUF, POWF)                                           \
    static void sc_row_##SUF(int op, int64_t n, const T *restrict a, T c, T *restrict o) { \
        switch (op) {                                                          \
        case TG_OP_ADDC: for (int64_t i = 0; i < n; i++) o[i] = a[i] + c; break; \
        case TG_OP_RSUBC: for (int64_t i = 0; i < n; i++) o[i] = c - a[i]; break; \
        case TG_OP_MULC: for (int64_t i = 0; i < n; i++) o[i] = a[i] * c; break; \
        case TG_OP_DIVC: for (int64_t i = 0; i < n; i++) o[i] = a[i] / c; break; \
        case TG_OP_RDIVC: for (int64_t i = 0; i < n; i++) o[i] = c / a[i]; break; \
        default:                                                               \
            if (c == 2)                                                        \
                for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i];            \
            else                                                               \
                for (int64_t i = 0; i < n; i++) o[i] = POWF(a[i], c);          \
        }                                                                      \
    }                                                                          \
    static void sc_bw_row_##SUF(int op, int64_t n, const T *restrict a, T c,   \
                                const T *restrict o, const T *restrict g, T *restrict ga, \
                                bool w) {                                      \
        switch (op) {                                                          \
        case TG_OP_ADDC: SBW(g[i]) break;                                      \
        case TG_OP_RSUBC: SBW(-g[i]) break;                                    \
        case TG_OP_MULC: SBW(g[i] * c) break;                                  \
        case TG_OP_DIVC: SBW(g[i] / c) break;                                  \
        case TG_OP_RDIVC: SBW(-(g[i] * o[i] / a[i])) break;                    \
        default:                                                               \
            if (c == 0) {                                                      \
                if (w)                                                         \
                    for (int64_t i = 0; i < n; i++) ga[i] = 0;                 \
            } else if (c == 2) {                                               \
                SBW(g[i] * 2 * a[i])                                           \
            } else {                                                           \
                SBW(g[i] * c * POWF(a[i], c - 1))                              \
            }                                                                  \
        }                                                                      \
    }
DEF_SCALAR_ROW(float, f32, powf)
DEF_SCALAR_ROW(double, f64, pow)
#undef SBW

static void sc_flat_range(void *ctx, int64_t lo, int64_t hi) {
    const flat *f = ctx;
    double c = *(const double *)f->b;
    if (f->dtype == TG_F32)
        sc_row_f32(f->op, hi - lo, (const float *)f->a + lo, (float)c, (float *)f->out + lo);
    else
        sc_row_f64(f->op, hi - lo, (const double *)f->a + lo, c, (double *)f->out + lo);
}

static void sc_bw_flat_range(void *ctx, int64_t lo, int64_t hi) {
    const flat *f = ctx;
    double c = *(const double *)f->b;
    if (f->dtype == TG_F32)
        sc_bw_row_f32(f->op, hi - lo, (const float *)f->a + lo, (float)c, (const float *)f->o + lo,
                      (const float *)f->g + lo, (float *)f->ga + lo, f->wa);
    else
        sc_bw_row_f64(f->op, hi - lo, (const double *)f->a + lo, c, (const double *)f->o + lo,
                      (const double *)f->g + lo, (double *)f->ga + lo, f->wa);
}

/* The 0-d f64 path (scalar code): a record and one instruction. */
static inline __attribute__((always_inline)) tg_tensor *scalar_op0(tg_tape *tape, int op, tg_tensor *a, double c) {
    double z = tg__fwd0_scalar(op, *(const double *)a->data, c);
    tg_tensor *t = tg__record0(tape, op, z, a, a->flags & TGF_REQ);
    if (t) t->u.c = c;
    return t;
}

static __attribute__((noinline)) tg_tensor *scalar_op_general(int op, tg_tensor *a, double c);

static inline __attribute__((always_inline)) tg_tensor *scalar_op(int op, tg_tensor *a,
                                                                  double c) {
    /* the common case in one glance: a fresh 0-d f64 tensor on its tape */
    if (a && a->rank == 0 && a->dtype == TG_F64 && !(a->flags & TGF_PARAM) &&
        a->gen == a->tape->gen)
        return scalar_op0(a->tape, op, a, c);
    return scalar_op_general(op, a, c);
}

static tg_tensor *scalar_op_general(int op, tg_tensor *a, double c) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check(tg__ops[op].name, 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    if (a->rank == 0 && a->dtype == TG_F64) return scalar_op0(tape, op, a, c);
    tg_tensor *out = tg__out(tape, op, a->dtype, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    out->u.c = c;
    int64_t n = tg__numel(a);
    if (n == 1) {
        if (a->dtype == TG_F32)
            sc_row_f32(op, 1, a->data, (float)c, out->data);
        else
            sc_row_f64(op, 1, a->data, c, out->data);
        return out;
    }
    flat f = {op, a->dtype, a->data, &out->u.c, NULL, NULL, 1, 0, out->data, NULL, NULL, false,
              false};
    tg__elementwise(n, sc_flat_range, &f);
    return out;
}

bool tg__bw_scalar(tg_tensor *o) {
    if (o->rank == 0 && o->dtype == TG_F64) return tg__step0(o); /* scalar code */
    tg_tensor *a = o->in0;
    bool w; /* a fresh buffer: written, not added to */
    void *ga = tg__gacc_w(a, &w);
    if (!ga) return false;
    int64_t n = tg__numel(a);
    if (n == 1) {
        if (o->dtype == TG_F32)
            sc_bw_row_f32(o->op, 1, a->data, (float)o->u.c, o->data, o->grad, ga, w);
        else
            sc_bw_row_f64(o->op, 1, a->data, o->u.c, o->data, o->grad, ga, w);
        return true;
    }
    flat f = {o->op, o->dtype, a->data, &o->u.c, o->data, o->grad, 1, 0, NULL, ga, NULL, w,
              false};
    tg__elementwise(n, sc_bw_flat_range, &f);
    return true;
}

tg_tensor *tg__vjp_addc(tg_tensor *o, tg_tensor *g, int i) { (void)o, (void)i; return g; }
tg_tensor *tg__vjp_rsubc(tg_tensor *o, tg_tensor *g, int i) { (void)o, (void)i; return tg_neg(g); }
tg_tensor *tg__vjp_mulc(tg_tensor *o, tg_tensor *g, int i) { (void)i; return tg_mul_scalar(g, o->u.c); }
tg_tensor *tg__vjp_divc(tg_tensor *o, tg_tensor *g, int i) { (void)i; return tg_div_scalar(g, o->u.c); }
tg_tensor *tg__vjp_rdivc(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_neg(tg_mul(g, tg_div(o, o->in0)));
}
tg_tensor *tg__vjp_powc(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    double c = o->u.c;
    if (c == 0) return tg_zeros_like(g);
    if (c == 1) return g;
    return tg_mul(g, tg_mul_scalar(tg_pow_scalar(o->in0, c - 1), c));
}

tg_tensor *tg_add_scalar(tg_tensor *a, double c) { return scalar_op(TG_OP_ADDC, a, c); }
tg_tensor *tg_sub_scalar(tg_tensor *a, double c) { return scalar_op(TG_OP_ADDC, a, -c); }
tg_tensor *tg_rsub_scalar(tg_tensor *a, double c) { return scalar_op(TG_OP_RSUBC, a, c); }
tg_tensor *tg_mul_scalar(tg_tensor *a, double c) { return scalar_op(TG_OP_MULC, a, c); }
tg_tensor *tg_div_scalar(tg_tensor *a, double c) { return scalar_op(TG_OP_DIVC, a, c); }
tg_tensor *tg_rdiv_scalar(tg_tensor *a, double c) { return scalar_op(TG_OP_RDIVC, a, c); }
tg_tensor *tg_pow_scalar(tg_tensor *a, double c) { return scalar_op(TG_OP_POWC, a, c); }

