/* math.c - more elementwise functions, clamp, max/min, sign and
 * comparisons. Forward and backward of each op side by side:
 *
 *   op          out                             d/da (times the incoming g)
 *   log1p       ln(1 + a)                       1 / (1 + a)
 *   expm1       e^a - 1                         out + 1
 *   erf         erf a                           2/sqrt(pi) e^(-a^2)
 *   square      a^2                             2 a
 *   reciprocal  1 / a                           -out^2
 *   rsqrt       a^(-1/2)                        -out^3 / 2
 *   softplus    ln(1 + e^(b a)) / b             sigmoid(b a); 1 where b a > thr
 *               (a where b a > thr)
 *   gelu        a Phi(a)                        Phi(a) + a phi(a)
 *   gelu tanh   a (1 + tanh u) / 2,             (1 + t)/2 + a (1 - t^2) k (1 + 3c a^2) / 2
 *               u = k (a + c a^3), t = tanh u   (k = sqrt(2/pi), c = 0.044715);
 *               computed as a sigmoid(2u), one exp instead of a tanh
 *   leaky_relu  a > 0 ? a : s a                 a > 0 ? 1 : s      (s at the kink)
 *   elu         a > 0 ? a : alpha (e^a - 1)     a > 0 ? 1 : out + alpha  (alpha at 0)
 *   silu        a sigmoid(a)                    s (1 + a (1 - s)), s = sigmoid(a)
 *   clamp       min(max(a, lo), hi)             1 where lo <= a <= hi, else 0
 *   sign        -1, 0, 1                        0
 *
 *   op              d/da                         d/db (d/dlo, d/dhi)
 *   maximum(a, b)   a > b: 1, a == b: 1/2        a < b: 1, a == b: 1/2   (NaN: both 1)
 *   minimum(a, b)   a < b: 1, a == b: 1/2        a > b: 1, a == b: 1/2
 *   eq ne lt le gt ge: 0/1 in a's dtype; their outputs never require grad.
 *
 * Broadcast inputs receive their gradient summed over the broadcast axes.
 * Piecewise-constant factors are constant masks (tg_mask-style leaves), so
 * their second derivatives are zero, as they should be.
 */
#include "tg_internal.h"

#include <math.h>

static const double SQRT1_2 = 0.70710678118654752440;     /* 1/sqrt(2) */
static const double TWO_SQRTPI = 1.12837916709551257390;  /* 2/sqrt(pi) */
static const double INV_SQRT2PI = 0.39894228040143267794; /* 1/sqrt(2 pi) */
static const double GELU_K = 0.79788456080286535588;      /* sqrt(2/pi) */
static const double GELU_C = 0.044715;

static const char *dt_name(int dt) {
    return dt == TG_F32 ? "f32" : dt == TG_F64 ? "f64" : dt == TG_I64 ? "i64" : "?";
}

/* A constant leaf shaped like `like` (data uninitialised): masks and
 * weights of piecewise-constant derivatives. */
static tg_tensor *const_like(tg_tape *tape, int dtype, int rank, const int64_t *shape) {
    return tg__wrap(tape, dtype, rank, shape, NULL);
}

/* ===================================================== one input, fused */

/* Per-op float helpers: the f32 and f64 kernels share one body. */
#define DEF_HELPERS(T, SUF, EXP, LOG1P, EXPM1, ERF, ERFC, SQRT, FABS)     \
    static inline T sigm_##SUF(T x) {                                          \
        return x >= 0 ? 1 / (1 + EXP(-x)) : EXP(x) / (1 + EXP(x));             \
    }                                                                          \
    static void m1_fwd_##SUF(int op, double p0, double p1, int64_t n, const T *restrict a, \
                             T *restrict o) {                                  \
        const T c0 = (T)p0, c1 = (T)p1;                                        \
        switch (op) {                                                          \
        case TG_OP_LOG1P: for (int64_t i = 0; i < n; i++) o[i] = LOG1P(a[i]); break; \
        case TG_OP_EXPM1: for (int64_t i = 0; i < n; i++) o[i] = EXPM1(a[i]); break; \
        case TG_OP_ERF: for (int64_t i = 0; i < n; i++) o[i] = ERF(a[i]); break; \
        case TG_OP_SQUARE: for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i]; break; \
        case TG_OP_RECIPROCAL: for (int64_t i = 0; i < n; i++) o[i] = 1 / a[i]; break; \
        case TG_OP_RSQRT: for (int64_t i = 0; i < n; i++) o[i] = 1 / SQRT(a[i]); break; \
        case TG_OP_SOFTPLUS: /* max(u,0) + log1p(e^-|u|): no overflow */       \
            for (int64_t i = 0; i < n; i++) {                                  \
                T x = a[i], u = c0 * x;                                        \
                o[i] = u > c1 ? x : ((u > 0 ? u : 0) + LOG1P(EXP(-FABS(u)))) / c0; \
            }                                                                  \
            break;                                                             \
        case TG_OP_GELU:                                                       \
            if (p0 != 0) { /* tanh form: (1 + tanh u) / 2 = sigmoid(2u) */      \
                for (int64_t i = 0; i < n; i++) {                              \
                    T x = a[i];                                                \
                    T u2 = 2 * (T)GELU_K * (x + (T)GELU_C * x * x * x);        \
                    o[i] = x / (1 + EXP(-u2));                                 \
                }                                                              \
            } else { /* a Phi(a); erfc keeps precision for a << 0 */            \
                for (int64_t i = 0; i < n; i++)                                \
                    o[i] = (T)0.5 * a[i] * ERFC(-a[i] * (T)SQRT1_2);           \
            }                                                                  \
            break;                                                             \
        case TG_OP_LEAKY_RELU:                                                 \
            for (int64_t i = 0; i < n; i++) { /* both sides: no branch */       \
                T x = a[i], y = x * c0;                                        \
                o[i] = x > 0 ? x : y;                                          \
            }                                                                  \
            break;                                                             \
        case TG_OP_ELU:                                                        \
            for (int64_t i = 0; i < n; i++) o[i] = a[i] > 0 ? a[i] : c0 * EXPM1(a[i]); \
            break;                                                             \
        case TG_OP_SILU:                                                       \
            for (int64_t i = 0; i < n; i++) o[i] = a[i] / (1 + EXP(-a[i]));    \
            break;                                                             \
        case TG_OP_CLAMP: /* min(max(a, lo), hi): hi wins if lo > hi; NaN stays */ \
            for (int64_t i = 0; i < n; i++) {                                  \
                T v = a[i] < c0 ? c0 : a[i];                                   \
                o[i] = v > c1 ? c1 : v;                                        \
            }                                                                  \
            break;                                                             \
        case TG_OP_SIGN:                                                       \
            for (int64_t i = 0; i < n; i++) o[i] = (T)((a[i] > 0) - (a[i] < 0)); \
            break;                                                             \
        }                                                                      \
    }                                                                          \
    static void m1_bw_##SUF(int op, double p0, double p1, int64_t n, const T *restrict a, \
                            const T *restrict z, const T *restrict g, T *restrict ga) { \
        const T c0 = (T)p0, c1 = (T)p1;                                        \
        switch (op) {                                                          \
        case TG_OP_LOG1P: for (int64_t i = 0; i < n; i++) ga[i] += g[i] / (1 + a[i]); break; \
        case TG_OP_EXPM1: for (int64_t i = 0; i < n; i++) ga[i] += g[i] * (z[i] + 1); break; \
        case TG_OP_ERF:                                                        \
            for (int64_t i = 0; i < n; i++)                                    \
                ga[i] += g[i] * (T)TWO_SQRTPI * EXP(-a[i] * a[i]);             \
            break;                                                             \
        case TG_OP_SQUARE: for (int64_t i = 0; i < n; i++) ga[i] += g[i] * 2 * a[i]; break; \
        case TG_OP_RECIPROCAL:                                                 \
            for (int64_t i = 0; i < n; i++) ga[i] -= g[i] * z[i] * z[i];       \
            break;                                                             \
        case TG_OP_RSQRT:                                                      \
            for (int64_t i = 0; i < n; i++) ga[i] -= (T)0.5 * g[i] * z[i] * z[i] * z[i]; \
            break;                                                             \
        case TG_OP_SOFTPLUS:                                                   \
            for (int64_t i = 0; i < n; i++) {                                  \
                T u = c0 * a[i];                                               \
                ga[i] += u > c1 ? g[i] : g[i] * sigm_##SUF(u);                 \
            }                                                                  \
            break;                                                             \
        case TG_OP_GELU:                                                       \
            if (p0 != 0) {                                                     \
                for (int64_t i = 0; i < n; i++) { /* s = (1 + t)/2, 1 - t^2 = 4s(1-s) */ \
                    T x = a[i], x2 = x * x;                                    \
                    T s = sigm_##SUF(2 * (T)GELU_K * (x + (T)GELU_C * x2 * x)); \
                    T d = s + 2 * x * s * (1 - s) * (T)GELU_K * (1 + 3 * (T)GELU_C * x2); \
                    ga[i] += g[i] * d;                                         \
                }                                                              \
            } else {                                                           \
                for (int64_t i = 0; i < n; i++) {                              \
                    T x = a[i];                                                \
                    T d = (T)0.5 * ERFC(-x * (T)SQRT1_2) +                     \
                          x * (T)INV_SQRT2PI * EXP((T)-0.5 * x * x);           \
                    ga[i] += g[i] * d;                                         \
                }                                                              \
            }                                                                  \
            break;                                                             \
        case TG_OP_LEAKY_RELU:                                                 \
            for (int64_t i = 0; i < n; i++) {                                  \
                T gg = g[i], gn = gg * c0;                                     \
                ga[i] += a[i] > 0 ? gg : gn;                                   \
            }                                                                  \
            break;                                                             \
        case TG_OP_ELU:                                                        \
            for (int64_t i = 0; i < n; i++)                                    \
                ga[i] += a[i] > 0 ? g[i] : g[i] * c0 * EXP(a[i]);              \
            break;                                                             \
        case TG_OP_SILU:                                                       \
            for (int64_t i = 0; i < n; i++) {                                  \
                T x = a[i], s = sigm_##SUF(x);                                 \
                ga[i] += g[i] * s * (1 + x * (1 - s));                         \
            }                                                                  \
            break;                                                             \
        case TG_OP_CLAMP:                                                      \
            for (int64_t i = 0; i < n; i++) {                                  \
                T gi = g[i], x = a[i];                                         \
                ga[i] += ((x >= c0) & (x <= c1)) ? gi : 0;                     \
            }                                                                  \
            break;                                                             \
        case TG_OP_SIGN: break;                                                \
        }                                                                      \
    }
DEF_HELPERS(float, f32, expf, log1pf, expm1f, erff, erfcf, sqrtf, fabsf)
DEF_HELPERS(double, f64, exp, log1p, expm1, erf, erfc, sqrt, fabs)

/* The record keeps its constants: leaky_relu / elu in u.c; softplus
 * (beta, threshold) and clamp (lo, hi) as two doubles in aux; gelu's
 * tanh flag in flags & 16. */
static void m1_params(const tg_tensor *o, double *p0, double *p1) {
    *p0 = *p1 = 0;
    switch (o->op) {
    case TG_OP_SOFTPLUS:
    case TG_OP_CLAMP: {
        const double *p = o->u.aux;
        *p0 = p[0], *p1 = p[1];
        break;
    }
    case TG_OP_LEAKY_RELU:
    case TG_OP_ELU: *p0 = o->u.c; break;
    case TG_OP_GELU: *p0 = (o->flags & 16) ? 1 : 0; break;
    default: break;
    }
}

/* Big tensors run on the thread pool (tg__elementwise). */
typedef struct m1_job {
    int op, dt;
    double p0, p1;
    const void *a, *z, *g;
    void *o; /* forward: out; backward: a's gradient */
} m1_job;

static void m1_fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const m1_job *j = ctx;
    if (j->dt == TG_F32)
        m1_fwd_f32(j->op, j->p0, j->p1, hi - lo, (const float *)j->a + lo, (float *)j->o + lo);
    else
        m1_fwd_f64(j->op, j->p0, j->p1, hi - lo, (const double *)j->a + lo, (double *)j->o + lo);
}

static void m1_bw_range(void *ctx, int64_t lo, int64_t hi) {
    const m1_job *j = ctx;
    if (j->dt == TG_F32)
        m1_bw_f32(j->op, j->p0, j->p1, hi - lo, (const float *)j->a + lo, (const float *)j->z + lo,
                  (const float *)j->g + lo, (float *)j->o + lo);
    else
        m1_bw_f64(j->op, j->p0, j->p1, hi - lo, (const double *)j->a + lo,
                  (const double *)j->z + lo, (const double *)j->g + lo, (double *)j->o + lo);
}

static tg_tensor *math1(int op, tg_tensor *a, double p0, double p1) {
    tg_tensor *in[1] = {a};
    const char *name = tg__ops[op].name;
    tg_tape *tape = tg__check(name, 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    if (op == TG_OP_SOFTPLUS && (p0 == 0 || isnan(p0) || isnan(p1))) {
        char b[160];
        return tg__fail(tape, TG_ERR_ARG, name,
                        "beta must be nonzero and neither beta nor threshold NaN (beta %g, "
                        "threshold %g) for %s", p0, p1, tg__shape_str(b, sizeof b, a->rank, a->shape));
    }
    double *aux = NULL;
    if (op == TG_OP_SOFTPLUS || op == TG_OP_CLAMP) {
        aux = tg__arena(tape, 2 * sizeof(double), name);
        if (!aux) return NULL;
        aux[0] = p0, aux[1] = p1;
    }
    tg_tensor *out = tg__out(tape, op, a->dtype, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    if (aux)
        out->u.aux = aux;
    else if (op == TG_OP_LEAKY_RELU || op == TG_OP_ELU)
        out->u.c = p0;
    else if (op == TG_OP_GELU && p0 != 0)
        out->flags |= 16;
    m1_job j = {op, a->dtype, p0, p1, a->data, NULL, NULL, out->data};
    tg__elementwise(tg__numel(a), m1_fwd_range, &j);
    return out;
}

bool tg__bw_math1(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a); /* sign: a zero gradient, materialised */
    if (!ga) return false;
    double p0, p1;
    m1_params(o, &p0, &p1);
    if (o->op == TG_OP_SIGN) return true;
    m1_job j = {o->op, o->dtype, p0, p1, a->data, o->data, o->grad, ga};
    tg__elementwise(tg__numel(a), m1_bw_range, &j);
    return true;
}

/* tg_log1p .. tg_silu: see tg_ops.h. */
tg_tensor *tg_log1p(tg_tensor *a) { return math1(TG_OP_LOG1P, a, 0, 0); }
tg_tensor *tg_expm1(tg_tensor *a) { return math1(TG_OP_EXPM1, a, 0, 0); }
tg_tensor *tg_erf(tg_tensor *a) { return math1(TG_OP_ERF, a, 0, 0); }
tg_tensor *tg_square(tg_tensor *a) { return math1(TG_OP_SQUARE, a, 0, 0); }
tg_tensor *tg_reciprocal(tg_tensor *a) { return math1(TG_OP_RECIPROCAL, a, 0, 0); }
tg_tensor *tg_rsqrt(tg_tensor *a) { return math1(TG_OP_RSQRT, a, 0, 0); }
tg_tensor *tg_gelu(tg_tensor *a, bool tanh_approx) {
    return math1(TG_OP_GELU, a, tanh_approx ? 1 : 0, 0);
}
tg_tensor *tg_leaky_relu(tg_tensor *a, double negative_slope) {
    return math1(TG_OP_LEAKY_RELU, a, negative_slope, 0);
}
tg_tensor *tg_elu(tg_tensor *a, double alpha) { return math1(TG_OP_ELU, a, alpha, 0); }
tg_tensor *tg_silu(tg_tensor *a) { return math1(TG_OP_SILU, a, 0, 0); }
tg_tensor *tg_sign(tg_tensor *a) { return math1(TG_OP_SIGN, a, 0, 0); }

tg_tensor *tg_softplus(tg_tensor *a, double beta, double threshold) {
    return math1(TG_OP_SOFTPLUS, a, beta, threshold);
}

tg_tensor *tg_clamp(tg_tensor *a, double lo, double hi) {
    return math1(TG_OP_CLAMP, a, lo, hi);
}

/* A constant mask shaped like a: w1 where pred(a, o), else w0. */
#define FILL_MASK(m, a, o, PRED, W1, W0)                                       \
    do {                                                                       \
        int64_t n_ = tg__numel(a);                                             \
        if ((a)->dtype == TG_F32) {                                            \
            const float *x_ = (a)->data, *z_ = (o)->data;                      \
            float *m_ = (m)->data;                                             \
            for (int64_t i = 0; i < n_; i++) {                                 \
                double x = x_[i], z = z_[i];                                   \
                (void)x, (void)z;                                              \
                m_[i] = (float)((PRED) ? (W1) : (W0));                         \
            }                                                                  \
        } else {                                                               \
            const double *x_ = (a)->data, *z_ = (o)->data;                     \
            double *m_ = (m)->data;                                            \
            for (int64_t i = 0; i < n_; i++) {                                 \
                double x = x_[i], z = z_[i];                                   \
                (void)x, (void)z;                                              \
                m_[i] = (PRED) ? (W1) : (W0);                                  \
            }                                                                  \
        }                                                                      \
    } while (0)

static tg_tensor *mask1(tg_tensor *o, int kind, double p0, double p1) {
    tg_tensor *a = o->in0;
    tg_tensor *m = const_like(o->tape, a->dtype, a->rank, a->shape);
    if (!m) return NULL;
    switch (kind) {
    case 0: FILL_MASK(m, a, o, x > 0, 1.0, p0); break;           /* leaky_relu */
    case 1: FILL_MASK(m, a, o, x > 0, 1.0, 0.0); break;          /* a > 0 */
    case 2: FILL_MASK(m, a, o, x >= p0 && x <= p1, 1.0, 0.0); break; /* clamp */
    case 3: FILL_MASK(m, a, o, p0 * x > p1, 1.0, 0.0); break;    /* softplus linear part */
    case 5: FILL_MASK(m, a, o, x > 0, 0.0, 1.0); break;          /* a <= 0 */
    default: FILL_MASK(m, a, o, z > 0, 1.0, 0.0); break;         /* out > 0 */
    }
    return m;
}

/* Graph backward: the table above, written with ops. */
tg_tensor *tg__vjp_log1p(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_div(g, tg_add_scalar(o->in0, 1.0));
}
tg_tensor *tg__vjp_expm1(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_add_scalar(o, 1.0));
}
tg_tensor *tg__vjp_erf(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_mul_scalar(tg_exp(tg_neg(tg_square(o->in0))), TWO_SQRTPI));
}
tg_tensor *tg__vjp_square(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_mul_scalar(o->in0, 2.0));
}
tg_tensor *tg__vjp_reciprocal(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_neg(tg_mul(g, tg_square(o)));
}
tg_tensor *tg__vjp_rsqrt(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_mul_scalar(tg_mul(o, tg_square(o)), -0.5));
}
tg_tensor *tg__vjp_softplus(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    double p0, p1;
    m1_params(o, &p0, &p1);
    tg_tensor *lin = mask1(o, 3, p0, p1);
    tg_tensor *s = tg_sigmoid(tg_mul_scalar(o->in0, p0));
    /* s (1 - lin) + lin, with sigmoid finite everywhere */
    return tg_mul(g, tg_add(tg_sub(s, tg_mul(s, lin)), lin));
}
tg_tensor *tg__vjp_gelu(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0;
    if (o->flags & 16) {
        tg_tensor *a2 = tg_square(a);
        tg_tensor *t = tg_tanh(tg_mul_scalar(tg_add(a, tg_mul(tg_mul_scalar(a2, GELU_C), a)), GELU_K));
        tg_tensor *left = tg_mul_scalar(tg_add_scalar(t, 1.0), 0.5);
        tg_tensor *right = tg_mul(tg_mul(tg_mul_scalar(a, 0.5 * GELU_K), tg_rsub_scalar(tg_square(t), 1.0)),
                                  tg_add_scalar(tg_mul_scalar(a2, 3 * GELU_C), 1.0));
        return tg_mul(g, tg_add(left, right));
    }
    tg_tensor *Phi = tg_mul_scalar(tg_add_scalar(tg_erf(tg_mul_scalar(a, SQRT1_2)), 1.0), 0.5);
    tg_tensor *phi = tg_mul_scalar(tg_exp(tg_mul_scalar(tg_square(a), -0.5)), INV_SQRT2PI);
    return tg_mul(g, tg_add(Phi, tg_mul(a, phi)));
}
tg_tensor *tg__vjp_leaky_relu(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, mask1(o, 0, o->u.c, 0));
}
tg_tensor *tg__vjp_elu(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    /* pos + (1 - pos) (out + alpha): out + alpha = alpha e^a where a <= 0,
     * and stays finite where a > 0 (e^a itself could overflow there) */
    tg_tensor *pos = mask1(o, 1, 0, 0), *neg = mask1(o, 5, 0, 0);
    return tg_mul(g, tg_add(pos, tg_mul(neg, tg_add_scalar(o, o->u.c))));
}
tg_tensor *tg__vjp_silu(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0, *s = tg_sigmoid(a);
    return tg_mul(g, tg_mul(s, tg_add_scalar(tg_mul(a, tg_rsub_scalar(s, 1.0)), 1.0)));
}
tg_tensor *tg__vjp_clamp(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    double p0, p1;
    m1_params(o, &p0, &p1);
    return tg_mul(g, mask1(o, 2, p0, p1));
}
tg_tensor *tg__vjp_sign(tg_tensor *o, tg_tensor *g, int i) {
    (void)g, (void)i;
    return tg_zeros_like(o->in0);
}

/* Visits every element of a broadcast space with up to three operands
 * (strides st[0..2]): the body (the last argument) sees k, the flat index in the space, and p0,
 * p1, p2, the operands' flat indices. */
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

/* Strides of up to three operands (NULL: all zero) seen from out's shape. */
static void strides3(const tg_tensor *out, tg_tensor *const *t, int64_t (*st)[TG_MAX_RANK]) {
    for (int k = 0; k < 3; k++) {
        if (t[k])
            tg__bstrides(t[k]->rank, t[k]->shape, out->rank, out->shape, st[k]);
        else
            for (int d = 0; d < TG_MAX_RANK; d++) st[k][d] = 0;
    }
}

static double getd(const void *p, int dt, int64_t i) {
    return dt == TG_F32 ? ((const float *)p)[i]
           : dt == TG_F64 ? ((const double *)p)[i]
                          : (double)((const int64_t *)p)[i];
}
static void setd(void *p, int dt, int64_t i, double v) {
    if (dt == TG_F32)
        ((float *)p)[i] = (float)v;
    else if (dt == TG_F64)
        ((double *)p)[i] = v;
    else
        ((int64_t *)p)[i] = (int64_t)v;
}

/* ======================================= maximum, minimum, comparisons */

/* One row of a binary op: ia/ib are 1 (walk) or 0 (broadcast). */
#define ROW2(EXPR)                                                             \
    do {                                                                       \
        if (ia == 1 && ib == 1) {                                              \
            for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i]; o[i] = (T)(EXPR); } \
        } else {                                                               \
            for (int64_t i = 0; i < n; i++) {                                  \
                T x = a[i * ia], y = b[i * ib];                                \
                o[i] = (T)(EXPR);                                              \
            }                                                                  \
        }                                                                      \
    } while (0)

#define DEF_BIN(TY, SUF)                                                       \
    static void b2_row_##SUF(int op, int64_t n, const TY *a, int64_t ia, const TY *b, \
                             int64_t ib, TY *restrict o) {                     \
        typedef TY T;                                                          \
        switch (op) {                                                          \
        case TG_OP_MAXIMUM: ROW2(((x > y) | (x != x)) ? x : y); break; /* NaN wins */ \
        case TG_OP_MINIMUM: ROW2(((x < y) | (x != x)) ? x : y); break;         \
        case TG_OP_EQ: ROW2(x == y); break;                                    \
        case TG_OP_NE: ROW2(x != y); break;                                    \
        case TG_OP_LT: ROW2(x < y); break;                                     \
        case TG_OP_LE: ROW2(x <= y); break;                                    \
        case TG_OP_GT: ROW2(x > y); break;                                     \
        default: ROW2(x >= y); break;                                          \
        }                                                                      \
    }
DEF_BIN(float, f32)
DEF_BIN(double, f64)
DEF_BIN(int64_t, i64)
#undef ROW2

static tg_tensor *binop(int op, tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[2] = {a, b};
    const char *name = tg__ops[op].name;
    bool cmp = op != TG_OP_MAXIMUM && op != TG_OP_MINIMUM;
    tg_tape *tape = tg__check(name, 2, in, !cmp);
    if (!tape) return NULL;
    a = in[0], b = in[1];
    if (a->dtype != b->dtype) {
        char b0[160], b1[160];
        return tg__fail(tape, TG_ERR_DTYPE, name, "dtypes differ: %s %s and %s %s (use tg_cast)",
                        dt_name(a->dtype), tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        dt_name(b->dtype), tg__shape_str(b1, sizeof b1, b->rank, b->shape));
    }
    int rank = 0;
    int64_t shape[TG_MAX_RANK];
    if ((a->rank || b->rank) && !tg__broadcast(name, tape, a, b, &rank, shape)) return NULL;
    tg_tensor *out = tg__out(tape, op, a->dtype, rank, shape, a, b, NULL);
    if (!out) return NULL;
    if (cmp) out->flags &= (uint8_t)~TGF_REQ; /* masks are never differentiated */
    int64_t st[3][TG_MAX_RANK];
    tg__strides(rank, shape, st[0]);
    tg__bstrides(a->rank, a->shape, rank, shape, st[1]);
    tg__bstrides(b->rank, b->shape, rank, shape, st[2]);
    tg_rows it;
    tg__rows_init(&it, rank, shape, 3, st);
    if (it.n == 0) return out;
    do {
        int64_t o0 = it.off[0], o1 = it.off[1], o2 = it.off[2];
        if (a->dtype == TG_F32)
            b2_row_f32(op, it.n, (const float *)a->data + o1, it.inner[1],
                       (const float *)b->data + o2, it.inner[2], (float *)out->data + o0);
        else if (a->dtype == TG_F64)
            b2_row_f64(op, it.n, (const double *)a->data + o1, it.inner[1],
                       (const double *)b->data + o2, it.inner[2], (double *)out->data + o0);
        else
            b2_row_i64(op, it.n, (const int64_t *)a->data + o1, it.inner[1],
                       (const int64_t *)b->data + o2, it.inner[2], (int64_t *)out->data + o0);
    } while (tg__rows_next(&it));
    return out;
}

/* maximum's weight for its first operand (PyTorch): 1/2 at a tie, 0 where
 * the other is larger, else 1 (so NaN sends the gradient to both). */
#define W_MAX(x, y) ((x) == (y) ? 0.5 : (x) < (y) ? 0.0 : 1.0)

#define DEF_MAX_BW(T, SUF)                                                     \
    static void mx_bw_row_##SUF(bool is_max, int64_t n, const T *a, int64_t ia, const T *b, \
                                int64_t ib, const T *restrict g, T *ga, T *gb) { \
        for (int64_t i = 0; i < n; i++) {                                      \
            T x = a[i * ia], y = b[i * ib];                                    \
            T wa = (T)(is_max ? W_MAX(x, y) : W_MAX(y, x));                    \
            T wb = (T)(is_max ? W_MAX(y, x) : W_MAX(x, y));                    \
            if (ga) ga[i * ia] += g[i] * wa;                                   \
            if (gb) gb[i * ib] += g[i] * wb;                                   \
        }                                                                      \
    }
DEF_MAX_BW(float, f32)
DEF_MAX_BW(double, f64)

bool tg__bw_maxmin(tg_tensor *out) {
    tg_tensor *a = out->in0, *b = out->u.in1;
    void *ga = tg__gacc(a), *gb = tg__gacc(b);
    if (((a->flags & TGF_REQ) && !ga) || ((b->flags & TGF_REQ) && !gb)) return false;
    bool is_max = out->op == TG_OP_MAXIMUM;
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
            mx_bw_row_f32(is_max, it.n, (const float *)a->data + o1, it.inner[1],
                          (const float *)b->data + o2, it.inner[2], (const float *)out->grad + o0,
                          ga ? (float *)ga + o1 : NULL, gb ? (float *)gb + o2 : NULL);
        else
            mx_bw_row_f64(is_max, it.n, (const double *)a->data + o1, it.inner[1],
                          (const double *)b->data + o2, it.inner[2], (const double *)out->grad + o0,
                          ga ? (double *)ga + o1 : NULL, gb ? (double *)gb + o2 : NULL);
    } while (tg__rows_next(&it));
    return true;
}

tg_tensor *tg__vjp_maxmin(tg_tensor *o, tg_tensor *g, int i) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    tg_tensor *m = const_like(o->tape, o->dtype, o->rank, o->shape);
    if (!m) return NULL;
    bool first = (o->op == TG_OP_MAXIMUM) == (i == 0); /* W_MAX(x, y) or W_MAX(y, x) */
    int64_t st[3][TG_MAX_RANK];
    strides3(o, (tg_tensor *[]){a, b, NULL}, st);
    WALK3(o->rank, o->shape, st, {
        double x = getd(a->data, a->dtype, p0), y = getd(b->data, b->dtype, p1);
        setd(m->data, m->dtype, k, first ? W_MAX(x, y) : W_MAX(y, x));
    });
    return tg__sum_like(tg_mul(g, m), i ? b : a);
}

tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_MAXIMUM, a, b); }
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_MINIMUM, a, b); }
tg_tensor *tg_eq(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_EQ, a, b); }
tg_tensor *tg_ne(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_NE, a, b); }
tg_tensor *tg_lt(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_LT, a, b); }
tg_tensor *tg_le(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_LE, a, b); }
tg_tensor *tg_gt(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_GT, a, b); }
tg_tensor *tg_ge(tg_tensor *a, tg_tensor *b) { return binop(TG_OP_GE, a, b); }

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
