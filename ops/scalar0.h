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

/* ------------------------------------------------------------ backward */

/* The gradient of 0-d t += D (t's first gradient is D); D is evaluated
 * only when t requires grad. */
#define TG__ACC0(t, D)                                                         \
    do {                                                                       \
        tg_tensor *t_ = (t);                                                   \
        if (t_->grad) {                                                        \
            *(double *)t_->grad += (D);                                        \
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

#endif /* TG_SCALAR0_H */
