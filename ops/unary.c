/* unary.c - elementwise functions of one tensor. Forward and backward:
 *
 *   op       out                     d/da (times the incoming g)
 *   neg      -a                      -1
 *   exp      e^a                     out
 *   log      ln a                    1 / a
 *   sqrt     a^(1/2)                 1 / (2 out)
 *   sin      sin a                   cos a
 *   cos      cos a                   -sin a
 *   tan      tan a                   1 + out^2
 *   tanh     tanh a                  1 - out^2
 *   sigmoid  1 / (1 + e^-a)          out (1 - out)
 *   relu     max(a, 0)               1 if a > 0 else 0   (0 at the kink)
 *   abs      |a|                     sign(a)             (0 at the kink)
 */
#include "tg_internal.h"
#include "scalar0.h"

#include <math.h>

#define MAP(EXPR) for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = EXPR; }
/* Backward: ga += E, or ga = E when w (a fresh buffer, never zeroed). E
 * reads the loaded ai, zi, gi (input, output, incoming gradient): with the
 * loads made unconditionally, relu's and abs's selects compile to vector
 * blends instead of a branch per element on the sign of a. */
#define UBW(E)                                                                 \
    if (w)                                                                     \
        for (int64_t i = 0; i < n; i++) {                                      \
            T ai = a[i], zi = z[i], gi = g[i];                                 \
            (void)ai, (void)zi;                                                \
            ga[i] = E;                                                         \
        }                                                                      \
    else                                                                       \
        for (int64_t i = 0; i < n; i++) {                                      \
            T ai = a[i], zi = z[i], gi = g[i];                                 \
            (void)ai, (void)zi;                                                \
            ga[i] += E;                                                        \
        }
#define DEF_UNARY(TY, SUF, EXPF, LOGF, SQRTF, SINF, COSF, TANF, TANHF)          \
    static void un_fwd_##SUF(int op, int64_t n, const TY *restrict a, TY *restrict o) { \
        typedef TY T;                                                          \
        switch (op) {                                                          \
        case TG_OP_NEG: MAP(-x) break;                                         \
        case TG_OP_EXP: MAP(EXPF(x)) break;                                    \
        case TG_OP_LOG: MAP(LOGF(x)) break;                                    \
        case TG_OP_SQRT: MAP(SQRTF(x)) break;                                  \
        case TG_OP_SIN: MAP(SINF(x)) break;                                    \
        case TG_OP_COS: MAP(COSF(x)) break;                                    \
        case TG_OP_TAN: MAP(TANF(x)) break;                                    \
        case TG_OP_TANH: MAP(TANHF(x)) break;                                  \
        case TG_OP_SIGMOID: /* stable on both sides */                         \
            MAP(x >= 0 ? 1 / (1 + EXPF(-x)) : EXPF(x) / (1 + EXPF(x))) break;  \
        case TG_OP_RELU: MAP(x > 0 ? x : 0) break;                             \
        case TG_OP_ABS: MAP(x < 0 ? -x : x) break;                             \
        }                                                                      \
    }                                                                          \
    static void un_bw_##SUF(int op, int64_t n, const TY *restrict a, const TY *restrict z, \
                            const TY *restrict g, TY *restrict ga, bool w) { \
        typedef TY T;                                                          \
        switch (op) {                                                          \
        case TG_OP_NEG: UBW(-gi) break;                                        \
        case TG_OP_EXP: UBW(gi * zi) break;                                    \
        case TG_OP_LOG: UBW(gi / ai) break;                                    \
        case TG_OP_SQRT: UBW(gi / (2 * zi)) break;                             \
        case TG_OP_SIN: UBW(gi * COSF(ai)) break;                              \
        case TG_OP_COS: UBW(-(gi * SINF(ai))) break;                           \
        case TG_OP_TAN: UBW(gi * (1 + zi * zi)) break;                         \
        case TG_OP_TANH: UBW(gi * (1 - zi * zi)) break;                        \
        case TG_OP_SIGMOID: UBW(gi * zi * (1 - zi)) break;                     \
        case TG_OP_RELU: UBW(ai > 0 ? gi : 0) break;                           \
        case TG_OP_ABS: UBW(ai > 0 ? gi : ai < 0 ? -gi : 0) break;             \
        }                                                                      \
    }
DEF_UNARY(float, f32, expf, logf, sqrtf, sinf, cosf, tanf, tanhf)
DEF_UNARY(double, f64, exp, log, sqrt, sin, cos, tan, tanh)
#undef MAP
#undef UBW

typedef struct flat {
    int op, dtype;
    const void *a, *z, *g;
    void *out, *ga;
    bool w; /* backward: ga is fresh, write instead of add */
} flat;

static void un_fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const flat *f = ctx;
    if (f->dtype == TG_F32)
        un_fwd_f32(f->op, hi - lo, (const float *)f->a + lo, (float *)f->out + lo);
    else
        un_fwd_f64(f->op, hi - lo, (const double *)f->a + lo, (double *)f->out + lo);
}

static void un_bw_range(void *ctx, int64_t lo, int64_t hi) {
    const flat *f = ctx;
    if (f->dtype == TG_F32)
        un_bw_f32(f->op, hi - lo, (const float *)f->a + lo, (const float *)f->z + lo,
                  (const float *)f->g + lo, (float *)f->ga + lo, f->w);
    else
        un_bw_f64(f->op, hi - lo, (const double *)f->a + lo, (const double *)f->z + lo,
                  (const double *)f->g + lo, (double *)f->ga + lo, f->w);
}

static tg_tensor *unary(int op, tg_tensor *a) {
    /* scalar code (scalar0.h): a fresh 0-d f64 tensor on its tape */
    if (a && a->rank == 0 && a->dtype == TG_F64 && !(a->flags & TGF_PARAM) &&
        a->gen == a->tape->gen) {
        double z;
        un_fwd_f64(op, 1, a->data, &z);
        return tg__record0(a->tape, op, z, a, a->flags & TGF_REQ);
    }
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check(tg__ops[op].name, 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    tg_tensor *out = tg__out(tape, op, a->dtype, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    flat f = {op, a->dtype, a->data, NULL, NULL, out->data, NULL, false};
    tg__elementwise(tg__numel(a), un_fwd_range, &f);
    return out;
}

bool tg__bw_unary(tg_tensor *o) {
    if (o->rank == 0 && o->dtype == TG_F64) return tg__step0(o); /* scalar code */
    tg_tensor *a = o->in0;
    bool w;
    void *ga = tg__gacc_w(a, &w);
    if (!ga) return false;
    flat f = {o->op, o->dtype, a->data, o->data, o->grad, NULL, ga, w};
    tg__elementwise(tg__numel(a), un_bw_range, &f);
    return true;
}

tg_tensor *tg_neg(tg_tensor *a) { return unary(TG_OP_NEG, a); }
tg_tensor *tg_exp(tg_tensor *a) { return unary(TG_OP_EXP, a); }
tg_tensor *tg_log(tg_tensor *a) { return unary(TG_OP_LOG, a); }
tg_tensor *tg_sqrt(tg_tensor *a) { return unary(TG_OP_SQRT, a); }
tg_tensor *tg_sin(tg_tensor *a) { return unary(TG_OP_SIN, a); }
tg_tensor *tg_cos(tg_tensor *a) { return unary(TG_OP_COS, a); }
tg_tensor *tg_tan(tg_tensor *a) { return unary(TG_OP_TAN, a); }
tg_tensor *tg_tanh(tg_tensor *a) { return unary(TG_OP_TANH, a); }
tg_tensor *tg_sigmoid(tg_tensor *a) { return unary(TG_OP_SIGMOID, a); }
tg_tensor *tg_relu(tg_tensor *a) { return unary(TG_OP_RELU, a); }
tg_tensor *tg_abs(tg_tensor *a) { return unary(TG_OP_ABS, a); }

/* Graph backward: the table above, written with ops. */
tg_tensor *tg__vjp_neg(tg_tensor *o, tg_tensor *g, int i) { (void)o, (void)i; return tg_neg(g); }
tg_tensor *tg__vjp_exp(tg_tensor *o, tg_tensor *g, int i) { (void)i; return tg_mul(g, o); }
tg_tensor *tg__vjp_log(tg_tensor *o, tg_tensor *g, int i) { (void)i; return tg_div(g, o->in0); }
tg_tensor *tg__vjp_sqrt(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_div(g, tg_mul_scalar(o, 2.0));
}
tg_tensor *tg__vjp_sin(tg_tensor *o, tg_tensor *g, int i) { (void)i; return tg_mul(g, tg_cos(o->in0)); }
tg_tensor *tg__vjp_cos(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_neg(tg_mul(g, tg_sin(o->in0)));
}
tg_tensor *tg__vjp_tan(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_add_scalar(tg_mul(o, o), 1.0));
}
tg_tensor *tg__vjp_tanh(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_rsub_scalar(tg_mul(o, o), 1.0));
}
tg_tensor *tg__vjp_sigmoid(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_mul(o, tg_rsub_scalar(o, 1.0)));
}
tg_tensor *tg__vjp_relu(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg__mask(o->in0, 1));
}
tg_tensor *tg__vjp_abs(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg__mask(o->in0, 0));
}

/* A constant 0/1 (or sign) mask: piecewise-constant derivatives have zero
 * second derivatives, so the mask is a leaf, never recorded. */
tg_tensor *tg__mask(tg_tensor *a, int kind) {
    if (!a) return NULL;
    tg_tensor *m = tg__wrap(a->tape, a->dtype, a->rank, a->shape, NULL);
    if (!m) return NULL;
    int64_t n = tg__numel(a);
#define MASK(T)                                                                \
    {                                                                          \
        const T *x = a->data;                                                  \
        T *y = m->data;                                                        \
        for (int64_t i = 0; i < n; i++)                                        \
            y[i] = kind == 0   ? (T)((x[i] > 0) - (x[i] < 0))                  \
                   : kind == 1 ? (T)(x[i] > 0)                                 \
                   : kind == 2 ? (T)(x[i] == 0)                                \
                               : (T)(x[i] != 0);                               \
    }
    if (a->dtype == TG_F32)
        MASK(float)
    else
        MASK(double)
#undef MASK
    return m;
}
