/* tg_ewlist.h - every elementwise op and its derivative, one row each: the
 * one place to audit them (as PyTorch's derivatives.yaml, tinygrad's
 * gradient.py). tg_oplist.h declares the ops from these rows; the code is
 * expanded from them:
 *
 *   unary.c    the f32/f64 kernels of TG_UNARY_OPS, their fast backward and
 *              graph backward (tg__bw_unary, tg__vjp_unary)
 *   arith.c    the same for TG_BINARY_OPS, with broadcasting
 *   scalar0.h  the 0-d f64 forward and backward of scalar code, inline
 *
 * TG_UNARY_OPS(X): X(ID, "name", np, forward, backward, graph)
 *   forward   z = f(x): an expression in the element x and the op's
 *             constants c0, c1, all of type T
 *   backward  what x's gradient receives, g dz/dx: in g (the gradient of
 *             z), x, z, c0, c1
 *   graph     the same from ops on tensors (g, the output o, the input a;
 *             c0, c1 as doubles), so that it records and differentiates
 *             again. Piecewise-constant derivatives are dconst(o): the
 *             backward at g = 1 as a constant leaf (second derivative 0).
 *   np        the constants: 0 none; 1 c0, kept in the record's u.c; 2 c0
 *             and c1, kept in aux
 * TG_BINARY_OPS(X): X(ID, "name", forward, backward x, backward y, graph a,
 *                     graph b)
 *   z = f(x, y); the backwards as above, for each input; the graphs are
 *   summed to the input's shape where it was broadcast.
 * TG_COMPARE_OPS(X): X(ID, name, operator): x operator y, 0/1 in the
 *   operands' dtype (i64 too); never differentiated (arith.c).
 *
 * The math (EXP, SIGM, GELU_TANH, ...) is elementwise.h's. Constants:
 * scalar forms c0 = c; softplus (beta, threshold); leaky_relu the slope;
 * elu alpha; clamp (lo, hi).
 */
#ifndef TG_EWLIST_H
#define TG_EWLIST_H

#define TG_UNARY_OPS(X)                                                                            \
    /* ID         name           np forward z = f(x)            backward g dz/dx                   \
       graph backward */                                                                           \
    /* ID         name           np forward z = f(x)            backward g dz/dx graph backward */ \
    /* ID         name           np forward z = f(x)           backward g dz/dx graph backward */  \
    /* the scalar forms (arith) */                                                                 \
    X(ADDC,       "add_scalar",  1, x + c0,                    g,                                  \
      g)                                                                                           \
    X(RSUBC,      "rsub_scalar", 1, c0 - x,                    -g,                                 \
      tg_neg(g))                                                                                   \
    X(MULC,       "mul_scalar",  1, x * c0,                    g * c0,                             \
      tg_mul_scalar(g, c0))                                                                        \
    X(DIVC,       "div_scalar",  1, x / c0,                    g / c0,                             \
      tg_div_scalar(g, c0))                                                                        \
    X(RDIVC,      "rdiv_scalar", 1, c0 / x,                    -(g * z / x),                       \
      tg_neg(tg_mul(g, tg_div(o, a))))                                                             \
    X(POWC,       "pow_scalar",  1, c0 == 2 ? x * x : POW(x, c0),                                  \
                                    c0 == 0 ? 0 : c0 == 2 ? g * 2 * x : g * c0 * POW(x, c0 - 1),   \
      c0 == 0 ? tg_zeros_like(g) : c0 == 1 ? g : tg_mul(g, tg_mul_scalar(tg_pow_scalar(a, c0 - 1), c0))) \
    /* functions */                                                                                \
    X(NEG,        "neg",         0, -x,                        -g,                                 \
      tg_neg(g))                                                                                   \
    X(EXP,        "exp",         0, EXP(x),                    g * z,                              \
      tg_mul(g, o))                                                                                \
    X(LOG,        "log",         0, LOG(x),                    g / x,                              \
      tg_div(g, a))                                                                                \
    X(SQRT,       "sqrt",        0, SQRT(x),                   g / (2 * z),                        \
      tg_div(g, tg_mul_scalar(o, 2.0)))                                                            \
    X(SIN,        "sin",         0, SIN(x),                    g * COS(x),                         \
      tg_mul(g, tg_cos(a)))                                                                        \
    X(COS,        "cos",         0, COS(x),                    -(g * SIN(x)),                      \
      tg_neg(tg_mul(g, tg_sin(a))))                                                                \
    X(TAN,        "tan",         0, TAN(x),                    g * (1 + z * z),                    \
      tg_mul(g, tg_add_scalar(tg_mul(o, o), 1.0)))                                                 \
    X(TANH,       "tanh",        0, TANH(x),                   g * (1 - z * z),                    \
      tg_mul(g, tg_rsub_scalar(tg_mul(o, o), 1.0)))                                                \
    X(SIGMOID,    "sigmoid",     0, SIGM(x),                   g * z * (1 - z),                    \
      tg_mul(g, tg_mul(o, tg_rsub_scalar(o, 1.0))))                                                \
    X(RELU,       "relu",        0, x > 0 ? x : 0,             x > 0 ? g : 0,                      \
      tg_mul(g, dconst(o)))                                                                        \
    X(ABS,        "abs",         0, x < 0 ? -x : x,            x > 0 ? g : x < 0 ? -g : 0,         \
      tg_mul(g, dconst(o)))                                                                        \
    X(LOG1P,      "log1p",       0, LOG1P(x),                  g / (1 + x),                        \
      tg_div(g, tg_add_scalar(a, 1.0)))                                                            \
    X(EXPM1,      "expm1",       0, EXPM1(x),                  g * (z + 1),                        \
      tg_mul(g, tg_add_scalar(o, 1.0)))                                                            \
    X(ERF,        "erf",         0, ERF(x),                    g * (T)TG_TWO_SQRTPI * EXP(-x * x), \
      tg_mul(g, tg_mul_scalar(tg_exp(tg_neg(tg_square(a))), TG_TWO_SQRTPI)))                       \
    X(SQUARE,     "square",      0, x * x,                     g * 2 * x,                          \
      tg_mul(g, tg_mul_scalar(a, 2.0)))                                                            \
    X(RECIPROCAL, "reciprocal",  0, 1 / x,                     -(g * z * z),                       \
      tg_neg(tg_mul(g, tg_square(o))))                                                             \
    X(RSQRT,      "rsqrt",       0, 1 / SQRT(x),               -((T)0.5 * g * z * z * z),          \
      tg_mul(g, tg_mul_scalar(tg_mul(o, tg_square(o)), -0.5)))                                     \
    /* softplus: ln(1 + e^(c0 x)) / c0, and x where c0 x > c1 */                                   \
    X(SOFTPLUS,   "softplus",    2, c0 * x > c1 ? x : LOG1PEXP(c0 * x) / c0,                       \
                                    c0 * x > c1 ? g : g * SIGM(c0 * x),                            \
      tg_mul(g, softplus_grad(o, c0, c1)))                                                         \
    /* gelu: x Phi(x) (erfc keeps precision for x << 0) */                                         \
    X(GELU,       "gelu",        0, (T)0.5 * x * ERFC(-x * (T)TG_SQRT1_2), g * DGELU(x),           \
      tg_mul(g, gelu_grad(a, false)))                                                              \
    /* gelu's tanh form (tg_gelu(a, true)), its own row: no test per element */                    \
    X(GELU_TANH,  "gelu",        0, GELU_TANH(x),              g * DGELU_TANH(x),                  \
      tg_mul(g, gelu_grad(a, true)))                                                               \
    X(LEAKY_RELU, "leaky_relu",  1, x > 0 ? x : x * c0,        x > 0 ? g : g * c0,                 \
      tg_mul(g, dconst(o)))                                                                        \
    X(ELU,        "elu",         1, x > 0 ? x : c0 * EXPM1(x), x > 0 ? g : g * c0 * EXP(x),        \
      tg_mul(g, elu_grad(o, c0)))                                                                  \
    X(SILU,       "silu",        0, x / (1 + EXP(-x)),                                             \
                                    g * SIGM(x) * (1 + x * (1 - SIGM(x))),                         \
      tg_mul(g, silu_grad(a)))                                                                     \
    X(CLAMP,      "clamp",       2, CLAMP(x, c0, c1),          ((x >= c0) & (x <= c1)) ? g : 0,    \
      tg_mul(g, clamp_grad(o, c0, c1)))                                                            \
    X(SIGN,       "sign",        0, (T)((x > 0) - (x < 0)),    0,                                  \
      tg_zeros_like(a))

#define TG_BINARY_OPS(X)                                                                           \
    /* ID       name        forward z = f(x, y)             backward x       backward y            \
       graph backward a, b */                                                                      \
    /* ID       name        forward z = f(x, y)             backward x       backward y graph backward a, b */ \
    /* ID       name        forward z = f(x, y)             backward x       backward y graph backward a, b */ \
    X(ADD,      "add",      x + y,                          g,               g,                    \
      g, g)                                                                                        \
    X(SUB,      "sub",      x - y,                          g,               -g,                   \
      g, tg_neg(g))                                                                                \
    X(MUL,      "mul",      x * y,                          g * y,           g * x,                \
      tg_mul(g, b), tg_mul(g, a))                                                                  \
    X(DIV,      "div",      x / y,                          g / y,           -g * z / y,           \
      tg_div(g, b), tg_neg(tg_mul(g, tg_div(o, b))))                                               \
    /* pow: 0 for x where y == 0, for y where x == 0 (log 1 stands in) */                          \
    X(POW,      "pow",      POW(x, y),                                                             \
                            y == 0 ? 0 : g * y * POW(x, y - 1),                                    \
                            x == 0 && y >= 0 ? 0 : g * z * LOG(x),                                 \
      tg_mul(g, tg_mul(tg_mul(b, tg_pow(a, tg_sub_scalar(b, 1.0))), tg__mask(b, 3))),              \
      tg_mul(g, tg_mul(o, tg_log(tg_add(a, tg__mask(a, 2))))))                                     \
    /* NaN wins; a tie sends half to each */                                                       \
    X(MAXIMUM,  "maximum",  ((x > y) | (x != x)) ? x : y,   g * MAXW(x, y),  g * MAXW(y, x),       \
      tg_mul(g, maxmin_w(o, 0)), tg_mul(g, maxmin_w(o, 1)))                                        \
    X(MINIMUM,  "minimum",  ((x < y) | (x != x)) ? x : y,   g * MAXW(y, x),  g * MAXW(x, y),       \
      tg_mul(g, maxmin_w(o, 0)), tg_mul(g, maxmin_w(o, 1)))

#define TG_COMPARE_OPS(X)                                                                          \
    X(EQ, eq, ==) X(NE, ne, !=) X(LT, lt, <) X(LE, le, <=) X(GT, gt, >) X(GE, ge, >=)

#endif /* TG_EWLIST_H */
