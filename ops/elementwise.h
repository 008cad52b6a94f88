/* elementwise.h - the math the rows of tg_ewlist.h are written in, for an
 * element type T (float or double) that each expansion site names, and
 * what the files expanding them (unary.c, arith.c, scalar0.h) share.
 *
 * EXP(x), LOG(x), ... call the float function for a float argument and
 * the double one otherwise (C11 _Generic: chosen at compile time, so the
 * f32 kernels stay f32 and vectorize as plain loops). Constants in a row
 * are cast to T: (T)TG_TWO_SQRTPI, never a bare double that would promote
 * an f32 kernel to f64.
 */
#ifndef TG_ELEMENTWISE_H
#define TG_ELEMENTWISE_H

#include "op_common.h"

#include <math.h>

#define TG_SQRT1_2 0.70710678118654752440     /* 1/sqrt(2) */
#define TG_TWO_SQRTPI 1.12837916709551257390  /* 2/sqrt(pi) */
#define TG_INV_SQRT2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */
#define TG_GELU_K 0.79788456080286535588      /* sqrt(2/pi) */
#define TG_GELU_C 0.044715

/* libm, by argument type */
#define TG__MATH(fn, v) _Generic((v), float: fn##f, default: fn)(v)
#define EXP(v) TG__MATH(exp, v)
#define EXPM1(v) TG__MATH(expm1, v)
#define LOG(v) TG__MATH(log, v)
#define LOG1P(v) TG__MATH(log1p, v)
#define SQRT(v) TG__MATH(sqrt, v)
#define SIN(v) TG__MATH(sin, v)
#define COS(v) TG__MATH(cos, v)
#define TAN(v) TG__MATH(tan, v)
#define TANH(v) TG__MATH(tanh, v)
#define ERF(v) TG__MATH(erf, v)
#define ERFC(v) TG__MATH(erfc, v)
#define FABS(v) TG__MATH(fabs, v)
#define POW(x, y) _Generic((x), float: powf, default: pow)(x, y)

/* Functions of the rows that need a local (one body for both types):
 *   SIGM(x)        1 / (1 + e^-x), stable on both sides
 *   LOG1PEXP(u)    ln(1 + e^u) = max(u, 0) + ln(1 + e^-|u|): no overflow
 *   CLAMP(x,l,h)   min(max(x, l), h): h wins if l > h; NaN stays NaN
 *   DGELU(x)       gelu's derivative Phi(x) + x phi(x)
 *   GELU_TANH(x)   gelu's tanh form x (1 + tanh u) / 2, u = k (x + c x^3),
 *                  computed as x sigmoid(2u): one exp instead of a tanh
 *   DGELU_TANH(x)  its derivative (1 + t)/2 + x (1 - t^2) k (1 + 3c x^2) / 2,
 *                  with s = (1 + t)/2 = sigmoid(2u), 1 - t^2 = 4 s (1 - s)
 *   MAXW(x, y)     maximum's weight for its first operand (PyTorch): 1/2
 *                  at a tie, 0 where the other is larger, else 1 (so NaN
 *                  sends the gradient to both) */
#define TG__EW_FUNCS(T, SUF)                                                   \
    static inline T tg__sigm_##SUF(T x) {                                      \
        return x >= 0 ? 1 / (1 + EXP(-x)) : EXP(x) / (1 + EXP(x));             \
    }                                                                          \
    static inline T tg__log1pexp_##SUF(T u) { return (u > 0 ? u : 0) + LOG1P(EXP(-FABS(u))); } \
    static inline T tg__clamp_##SUF(T x, T lo, T hi) {                         \
        T v = x < lo ? lo : x;                                                 \
        return v > hi ? hi : v;                                                \
    }                                                                          \
    static inline T tg__dgelu_##SUF(T x) {                                     \
        return (T)0.5 * ERFC(-x * (T)TG_SQRT1_2) + x * (T)TG_INV_SQRT2PI * EXP((T)-0.5 * x * x); \
    }                                                                          \
    static inline T tg__gelu_tanh_##SUF(T x) {                                 \
        return x / (1 + EXP(-(2 * (T)TG_GELU_K * (x + (T)TG_GELU_C * x * x * x)))); \
    }                                                                          \
    static inline T tg__dgelu_tanh_##SUF(T x) {                                \
        T x2 = x * x;                                                          \
        T s = tg__sigm_##SUF(2 * (T)TG_GELU_K * (x + (T)TG_GELU_C * x2 * x));  \
        return s + 2 * x * s * (1 - s) * (T)TG_GELU_K * (1 + 3 * (T)TG_GELU_C * x2); \
    }                                                                          \
    static inline T tg__maxw_##SUF(T x, T y) { return x == y ? (T)0.5 : x < y ? 0 : 1; }
TG__EW_FUNCS(float, f32)
TG__EW_FUNCS(double, f64)
#undef TG__EW_FUNCS

#define TG__EWF(fn, x) _Generic((x), float: tg__##fn##_f32, default: tg__##fn##_f64)
#define SIGM(x) TG__EWF(sigm, x)(x)
#define LOG1PEXP(u) TG__EWF(log1pexp, u)(u)
#define CLAMP(x, l, h) TG__EWF(clamp, x)(x, l, h)
#define DGELU(x) TG__EWF(dgelu, x)(x)
#define GELU_TANH(x) TG__EWF(gelu_tanh, x)(x)
#define DGELU_TANH(x) TG__EWF(dgelu_tanh, x)(x)
#define MAXW(x, y) TG__EWF(maxw, x)(x, y)

/* The forward loop of a unary row, for unary.c's kernels and fused
 * chains' blocks (fuse_simd.h): o[i] = F with x = a[i], i < n, in type T. */
#define TG__UNARY_FWD_LOOP(n, a, o, F)                                         \
    for (int64_t i = 0; i < (n); i++) {                                        \
        T x = (a)[i];                                                          \
        (o)[i] = F;                                                            \
    }

/* A unary record's constants, by its row's np: none, c0 in u.c, or c0 and
 * c1 in aux (two doubles). */
#define TG__C0(r, np) ((np) == 0 ? 0.0 : (np) == 1 ? (r)->u.c : ((const double *)(r)->u.aux)[0])
#define TG__C1(r, np) ((np) == 2 ? ((const double *)(r)->u.aux)[1] : 0.0)

/* The backward kernel of unary op over n flat elements, threaded when
 * large: ga (+)= the row's backward (=, no add, when fresh). arith.c runs
 * x * x with it, as square (unary.c). */
void tg__unary_bw_flat(int op, int dtype, int64_t n, const void *a, const void *z, const void *g,
                       void *ga, bool fresh, double c0, double c1);

#endif /* TG_ELEMENTWISE_H */
