/* scalar0.h - the 0-d f64 path: scalar code (a C expression written with
 * tg_scalar tensors) makes millions of these records, so its forward and
 * backward are inline, here side by side, and the reverse sweep
 * (autograd/backward.c) runs the backward without a call.
 *
 *   op           out        d/da              d/db
 *   add          a + b      g                 g
 *   sub          a - b      g                 -g
 *   mul          a * b      g b               g a
 *   div          a / b      g / b             -g out / b
 *   pow          a ^ b      g b a^(b-1)       g out ln a    (0 where b == 0 / a == 0)
 *   add_scalar   a + c      g
 *   rsub_scalar  c - a      -g
 *   mul_scalar   a c        g c
 *   div_scalar   a / c      g / c
 *   rdiv_scalar  c / a      -g out / a
 *   pow_scalar   a ^ c      g c a^(c-1)       (0 when c == 0)
 *   neg, exp, log, sqrt, sin, cos, tan, tanh, sigmoid, relu, abs: as in
 *   unary.c's table.
 *
 * These are the same formulas as the general kernels in arith.c and
 * unary.c (the gradient checks run both paths); a record's gradient is its
 * inline g0 (tg_internal.h), so no arena buffer is touched.
 */
#ifndef TG_SCALAR0_H
#define TG_SCALAR0_H

#include "tg_internal.h"

#include <math.h>

/* ------------------------------------------------------------- forward */

static inline double tg__fwd0_binary(int op, double x, double y) {
    switch (op) {
    case TG_OP_ADD: return x + y;
    case TG_OP_SUB: return x - y;
    case TG_OP_MUL: return x * y;
    case TG_OP_DIV: return x / y;
    default: return pow(x, y);
    }
}

static inline double tg__fwd0_scalar(int op, double x, double c) {
    switch (op) {
    case TG_OP_ADDC: return x + c;
    case TG_OP_RSUBC: return c - x;
    case TG_OP_MULC: return x * c;
    case TG_OP_DIVC: return x / c;
    case TG_OP_RDIVC: return c / x;
    default: return c == 2 ? x * x : pow(x, c);
    }
}

/* A new 0-d f64 record of op with value z and inputs in0 (and in1, or the
 * constant, which the caller sets). */
static inline __attribute__((always_inline)) tg_tensor *tg__record0(tg_tape *tape, int op, double z, tg_tensor *in0,
                                     bool req) {
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

/* x's gradient += d (x is 0-d; nothing if it does not require grad). */
static inline void tg__acc0(tg_tensor *x, double d) {
    if (x->grad) {
        *(double *)x->grad += d;
    } else if (x->flags & TGF_REQ) {
        x->g0 = d;
        x->grad = &x->g0;
    }
}

/* The backward of a 0-d f64 record r whose gradient is complete. Returns
 * false when r is not one of the ops above (the caller then takes the
 * general path). */
static inline bool tg__step0(tg_tensor *r) {
    double g = *(const double *)r->grad, z = *(const double *)r->data;
    tg_tensor *a = r->in0;
    double x, y, c;
    switch (r->op) {
    case TG_OP_ADD: tg__acc0(a, g), tg__acc0(r->u.in1, g); return true;
    case TG_OP_SUB: tg__acc0(a, g), tg__acc0(r->u.in1, -g); return true;
    case TG_OP_MUL:
        x = *(const double *)a->data, y = *(const double *)r->u.in1->data;
        tg__acc0(a, g * y), tg__acc0(r->u.in1, g * x);
        return true;
    case TG_OP_DIV:
        y = *(const double *)r->u.in1->data;
        tg__acc0(a, g / y), tg__acc0(r->u.in1, -g * z / y);
        return true;
    case TG_OP_POW:
        x = *(const double *)a->data, y = *(const double *)r->u.in1->data;
        if (a->flags & TGF_REQ) tg__acc0(a, y == 0 ? 0 : g * y * pow(x, y - 1));
        if (r->u.in1->flags & TGF_REQ) tg__acc0(r->u.in1, x == 0 && y >= 0 ? 0 : g * z * log(x));
        return true;
    case TG_OP_ADDC: tg__acc0(a, g); return true;
    case TG_OP_RSUBC: tg__acc0(a, -g); return true;
    case TG_OP_MULC: tg__acc0(a, g * r->u.c); return true;
    case TG_OP_DIVC: tg__acc0(a, g / r->u.c); return true;
    case TG_OP_RDIVC: tg__acc0(a, -(g * z / *(const double *)a->data)); return true;
    case TG_OP_POWC:
        c = r->u.c, x = *(const double *)a->data;
        tg__acc0(a, c == 0 ? 0 : c == 2 ? g * 2 * x : g * c * pow(x, c - 1));
        return true;
    case TG_OP_NEG: tg__acc0(a, -g); return true;
    case TG_OP_EXP: tg__acc0(a, g * z); return true;
    case TG_OP_LOG: tg__acc0(a, g / *(const double *)a->data); return true;
    case TG_OP_SQRT: tg__acc0(a, g / (2 * z)); return true;
    case TG_OP_SIN: tg__acc0(a, g * cos(*(const double *)a->data)); return true;
    case TG_OP_COS: tg__acc0(a, -(g * sin(*(const double *)a->data))); return true;
    case TG_OP_TAN: tg__acc0(a, g * (1 + z * z)); return true;
    case TG_OP_TANH: tg__acc0(a, g * (1 - z * z)); return true;
    case TG_OP_SIGMOID: tg__acc0(a, g * z * (1 - z)); return true;
    case TG_OP_RELU: x = *(const double *)a->data; tg__acc0(a, x > 0 ? g : 0); return true;
    case TG_OP_ABS:
        x = *(const double *)a->data;
        tg__acc0(a, x > 0 ? g : x < 0 ? -g : 0);
        return true;
    default: return false;
    }
}

#endif /* TG_SCALAR0_H */
