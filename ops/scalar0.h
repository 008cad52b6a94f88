/* scalar0.h - the 0-d f64 path: scalar code (a C expression written with
 * tg_scalar tensors) makes millions of these records, so the forward and
 * backward of every elementwise op on them are inline, expanded here from
 * the rows of tg_ewlist.h (T = double), and the reverse sweep
 * (autograd/backward.c) runs the backward without a call.
 *
 * A record's gradient is its inline g0 (tg_engine.h), so no arena buffer is
 * touched. The general kernels (unary.c, arith.c) expand the same rows, so
 * both paths compute the same formulas (the gradient checks run both).
 */
#ifndef TG_SCALAR0_H
#define TG_SCALAR0_H

#include "elementwise.h"
#include "tg_ewlist.h"

/* ------------------------------------------------------------- forward */

static inline double tg__fwd0_unary(int op, double x, double c0, double c1) {
    typedef double T;
    switch (op) {
#define TG__FWD0(ID, name, np, F, D, G) case TG_OP_##ID: return F;
    TG_UNARY_OPS(TG__FWD0)
#undef TG__FWD0
    default: return 0;
    }
}

static inline double tg__fwd0_binary(int op, double x, double y) {
    switch (op) {
#define TG__FWD0(ID, name, F, DX, DY, GA, GB) case TG_OP_##ID: return F;
    TG_BINARY_OPS(TG__FWD0)
#undef TG__FWD0
    default: return 0;
    }
}

/* A new 0-d f64 record of op with value z and inputs in0 (and in1, or the
 * constant, which the caller sets). */
static inline __attribute__((always_inline)) tg_tensor *tg__record0(tg_tape *tape, int op, double z,
                                                                    tg_tensor *in0, bool req) {
    tg_tensor *t = tg__record(tape);
    if (!t) return NULL;
    t->op = (uint8_t)op;
    t->dtype = TG_F64;
    t->data = &t->small;
    t->small.f64 = z;
    t->in0 = in0;
    if (req && tape->grad_enabled) t->flags = TGF_REQ;
    return t;
}

/* The fast paths' operands: a live half, or a 0-d f64 full record. */

/* A 0-d f64 parameter's proxy on tape's pass, if it has one already (the
 * fast path's other operand names the tape); else NULL. */
static inline tg_tensor *tg__proxy0(const tg_tensor *r, const tg_tape *tape) {
    if (!(r->flags & TGF_PARAM) || r->rank || r->dtype != TG_F64) return NULL;
    const tg_param_ext *e = r->small.pext;
    bool on = e->ptape == tape && e->pserial == tape->serial && e->pgen == tape->gen;
    return on ? e->proxy : NULL;
}
static inline double tg__val0(const tg_tensor *r, bool half) {
    return half ? ((const tg_half *)r)->v : *(const double *)r->data;
}
static inline bool tg__req0(const tg_tensor *r, bool half) {
    return half ? (((const tg_half *)r)->flags & THF_REQ) : (r->flags & TGF_REQ);
}

/* The hot path of scalar code: both operands decoded in one pass each
 * (tg__dec0), the result a half (tg__half_hot). Anything else takes the
 * out-of-line path (the full checks), which decodes the same way and
 * makes its halves with tg__half_out. */
typedef struct tg_op0 {
    double v;
    bool half, req;
} tg_op0;

/* Whether tagged handle h is a live half or a 0-d f64 tape tensor (no
 * parameter) of its tape's current pass: then *tape and *o are set. */
static inline __attribute__((always_inline)) bool tg__dec0(const tg_tensor *h, tg_tape **tape,
                                                           tg_op0 *o) {
    const tg_tensor *r = tg__rec(h);
    uintptr_t a = (uintptr_t)r;
    tg_tape *t;
    if (((const uint8_t *)(a & ~(uintptr_t)63))[31]) { /* a slot of halves */
        const tg_half *x = (const tg_half *)r;
        if ((x->flags & (THF_HALF | THF_FWD)) != THF_HALF) return false;
        t = tg__half_tape(x);
        if (x->gen != (uint8_t)t->gen) return false;
        o->v = x->v;
        o->req = x->flags & THF_REQ;
        o->half = true;
    } else {
        if ((a & 32) || r->rank || r->dtype != TG_F64 || (r->flags & TGF_PARAM)) return false;
        t = r->tape;
        if (r->gen != t->gen) return false;
        o->v = *(const double *)r->data;
        o->req = r->flags & TGF_REQ;
        o->half = false;
    }
    *tape = t;
    return ((uintptr_t)h & TG__TAG_MASK) == tg__tag_of(t->gen);
}

/* Whether an op on tape may make a half now: the tape allows them, and
 * this is not what a numeric sweep computes with recording off (the graph
 * backwards of ops without a fast one read their results' fields). */
static inline bool tg__half_now(const tg_tape *tape) {
    return tape->half_ok && (tape->grad_enabled || !tape->sweeping);
}

/* What the hot paths test instead, from one load of the tape's mode word:
 * tg__half_now (halves allowed, and recording on or no sweep running: a
 * segment's rerun records during a sweep, a no-grad region does not), and
 * that the next half fits without a call (tg__half_take). Anything else
 * takes the out-of-line path, which tests each part. */
typedef union tg_mode_bits {
    struct {
        bool grad_enabled, half_ok, sweeping, zero;
    } s;
    uint32_t mode;
} tg_mode_bits;
static inline __attribute__((always_inline)) bool tg__hot_room(const tg_tape *tape) {
    const tg_mode_bits ge = {{true, false, false, false}}, ho = {{false, true, false, false}},
                       sw = {{false, false, true, false}};
    uint32_t m = tape->mode;
    return (m & ho.mode) && (m & (ge.mode | sw.mode)) != sw.mode &&
           (tape->hfree || tape->pos < tape->lim);
}

/* Fills half x (new) with op, value z, first input ra (a half if ah), u
 * (the second input or the constant; bh: the second input is a half), and
 * whether it requires grad (recording is the caller's to check). */
static inline __attribute__((always_inline)) void tg__half_fill(const tg_tape *tape, tg_half *x,
                                                               int op, double z,
                                                               const tg_tensor *ra, bool ah,
                                                               uint64_t u, bool bh, bool req) {
    x->v = z;
    memcpy(&x->u, &u, sizeof u);
    x->in0 = tg__place(ra);
    x->op = (uint8_t)op;
    x->gen = (uint8_t)tape->gen;
    x->in_half = (uint8_t)(ah | bh << 1);
    x->flags = (uint8_t)(THF_HALF | (req ? THF_REQ : 0));
}

/* The hot paths' result, as a handle: a new half where tg__hot_room said
 * one fits (no call), filled; req: whether it requires grad (the caller
 * tests recording: where it does, the code is shorter). */
static inline __attribute__((always_inline)) tg_tensor *tg__half_hot(tg_tape *tape, int op, double z,
                                                                    const tg_tensor *ra, bool ah,
                                                                    uint64_t u, bool bh, bool req) {
    tg_half *x = tg__half_take(tape);
    tg__half_fill(tape, x, op, z, ra, ah, u, bh, req);
    return tg__handle_at((tg_tensor *)x, tape->gen);
}

/* A new half (tg__half_new, tg__half_fill); NULL on OOM. */
static inline __attribute__((always_inline)) tg_half *tg__half_out(tg_tape *tape, int op, double z,
                                                                  const tg_tensor *ra, bool ah,
                                                                  uint64_t u, bool bh, bool req) {
    tg_half *x = tg__half_new(tape);
    if (x) tg__half_fill(tape, x, op, z, ra, ah, u, bh, req && tape->grad_enabled);
    return x;
}

/* ------------------------------------------------------------ backward */

/* The gradient of 0-d t += D (t's first gradient is D); D is evaluated
 * only when t requires grad. */
#define TG__ACC0(t, D)                                                         \
    do {                                                                       \
        tg_tensor *t_ = (t);                                                   \
        if (t_->grad) {                                                        \
            *(double *)t_->grad += (D);                                        \
        } else if (t_->op == TG_OP_PROMOTE) { /* the half's own (gradbuf.c) */ \
            bool fr_;                                                          \
            double *pg_ = tg__promote_grad(t_, &fr_);                          \
            *pg_ = fr_ ? (D) : *pg_ + (D);                                     \
        } else if (t_->flags & TGF_REQ) {                                      \
            t_->g0 = (D);                                                      \
            t_->grad = &t_->g0;                                                \
        }                                                                      \
    } while (0)

/* The backward of a 0-d f64 record r whose gradient is complete. Returns
 * false when r is not an elementwise op (the caller then takes the general
 * path). */
static inline bool tg__step0(tg_tensor *r) {
    typedef double T;
    double g = *(const double *)r->grad, z = *(const double *)r->data;
    tg_tensor *a = r->in0;
    switch (r->op) {
#define TG__STEP0(ID, name, np, F, D, G)                                       \
    case TG_OP_##ID: {                                                         \
        double x = *(const double *)a->data, c0 = TG__C0(r, np), c1 = TG__C1(r, np); \
        (void)x, (void)z, (void)c0, (void)c1;                                  \
        TG__ACC0(a, D);                                                        \
        return true;                                                           \
    }
    TG_UNARY_OPS(TG__STEP0)
#undef TG__STEP0
#define TG__STEP0(ID, name, F, DX, DY, GA, GB)                                 \
    case TG_OP_##ID: {                                                         \
        tg_tensor *b = r->u.in1;                                               \
        double x = *(const double *)a->data, y = *(const double *)b->data;     \
        (void)x, (void)y, (void)z;                                             \
        TG__ACC0(a, DX);                                                       \
        TG__ACC0(b, DY);                                                       \
        return true;                                                           \
    }
    TG_BINARY_OPS(TG__STEP0)
#undef TG__STEP0
    default: return false;
    }
}

/* The gradient of input a of a half += D: a is a half if ah (a forwarded
 * one passes it to its copy), else a full 0-d record. A half's first
 * gradient is D itself (not 0 + D, which would turn -0 into +0), picked
 * without a branch: the sum is computed either way (g holds an old value
 * until THF_G is set), and THF_G is set when the half requires grad (D
 * lands in g either way; a half that does not is never read). */
#define TG__ACCH(a, ah, D)                                                     \
    do {                                                                       \
        if (ah) {                                                              \
            tg_half *x_ = (tg_half *)(a);                                      \
            uint8_t f_ = x_->flags;                                            \
            if (__builtin_expect(!(f_ & THF_FWD), 1)) {                        \
                double d_ = (D), s_ = x_->g + d_;                              \
                x_->g = (f_ & THF_G) ? s_ : d_;                                \
                x_->flags = (uint8_t)(f_ | (f_ & THF_REQ) << 1);               \
            } else {                                                           \
                TG__ACC0(x_->fwd, D);                                          \
            }                                                                  \
        } else {                                                               \
            TG__ACC0((tg_tensor *)(a), D);                                     \
        }                                                                      \
    } while (0)
_Static_assert(THF_G == THF_REQ << 1, "TG__ACCH sets THF_G from THF_REQ by a shift");

/* The backward of half hr (live, requiring grad, its gradient complete);
 * slabs: its tape's (tape->slabs, loaded once by the caller). One case
 * for each op and each kind of its inputs (in_half: half or full), so that
 * no case tests what kind an input is. */
static inline __attribute__((always_inline)) void tg__step_half(const tg_slab *slabs, tg_half *hr) {
    typedef double T;
    double g = hr->g, z = hr->v;
    tg_tensor *a = tg__at_place_in(slabs, hr->in0);
    switch (hr->op << 2 | hr->in_half) {
#define TG__STEPH1(ID, np, D, AH)                                              \
    case TG_OP_##ID << 2 | (AH): {                                             \
        double x = tg__val0(a, AH), c0 = (np) == 1 ? hr->u.c : 0.0, c1 = 0.0;  \
        (void)x, (void)z, (void)c0, (void)c1;                                  \
        TG__ACCH(a, AH, D);                                                    \
        return;                                                                \
    }
#define TG__STEPH(ID, name, np, F, D, G) TG__STEPH1(ID, np, D, 0) TG__STEPH1(ID, np, D, 1)
    TG_UNARY_OPS(TG__STEPH)
#undef TG__STEPH
#undef TG__STEPH1
#define TG__STEPH2(ID, DX, DY, AH, BH)                                         \
    case TG_OP_##ID << 2 | (AH) | (BH) << 1: {                                 \
        tg_tensor *b = hr->u.in1;                                              \
        double x = tg__val0(a, AH), y = tg__val0(b, BH);                       \
        (void)x, (void)y, (void)z;                                             \
        TG__ACCH(a, AH, DX);                                                   \
        TG__ACCH(b, BH, DY);                                                   \
        return;                                                                \
    }
#define TG__STEPH(ID, name, F, DX, DY, GA, GB)                                 \
    TG__STEPH2(ID, DX, DY, 0, 0) TG__STEPH2(ID, DX, DY, 1, 0)                  \
    TG__STEPH2(ID, DX, DY, 0, 1) TG__STEPH2(ID, DX, DY, 1, 1)
    TG_BINARY_OPS(TG__STEPH)
#undef TG__STEPH
#undef TG__STEPH2
    default: return;
    }
}

#endif /* TG_SCALAR0_H */
