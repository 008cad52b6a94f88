/* unary.c - elementwise functions of one tensor and up to two constants:
 * every row of TG_UNARY_OPS (tg_ewlist.h, where the derivatives are),
 * expanded into the f32/f64 kernels, the fast backward and the graph
 * backward; the public functions; and tg__mask.
 *
 * Scalar code (a fresh 0-d f64 tensor) takes the inline path of
 * scalar0.h: a record and one expression, no kernel.
 */
#include "scalar0.h"
#include "fuse.h"

/* ------------------------------------------------------------- kernels */

/* One loop per op, over restrict pointers: x = a[i], z = out[i], g =
 * gout[i]. Backward: ga (+)= the row's backward, or = when w (a fresh
 * buffer, never zeroed); the loads are unconditional, so that the selects
 * of relu, abs, ... compile to vector blends, not a branch per element. */
#define FWD_CASE(ID, name, np, F, D, G)                                        \
    case TG_OP_##ID: TG__UNARY_FWD_LOOP(n, pa, po, F) break;
#define BW_LOOP(OP, D)                                                         \
    for (int64_t i = 0; i < n; i++) {                                          \
        T x = pa[i], z = pz[i], g = pg[i];                                     \
        (void)x, (void)z, (void)g;                                             \
        pga[i] OP D;                                                           \
    }
#define BW_CASE(ID, name, np, F, D, G)                                         \
    case TG_OP_##ID:                                                           \
        if (w)                                                                 \
            BW_LOOP(=, D)                                                      \
        else                                                                   \
            BW_LOOP(+=, D)                                                     \
        break;
#define DEF_KERNELS(TY, SUF)                                                   \
    static void fwd_##SUF(int op, int64_t n, const TY *restrict pa, TY c0, TY c1, \
                          TY *restrict po) {                                   \
        typedef TY T;                                                          \
        switch (op) { TG_UNARY_OPS(FWD_CASE) }                                 \
    }                                                                          \
    static void bw_##SUF(int op, int64_t n, const TY *restrict pa, const TY *restrict pz, \
                         const TY *restrict pg, TY c0, TY c1, TY *restrict pga, bool w) { \
        typedef TY T;                                                          \
        switch (op) { TG_UNARY_OPS(BW_CASE) }                                  \
    }
DEF_KERNELS(float, f32)
DEF_KERNELS(double, f64)
#undef DEF_KERNELS
#undef BW_CASE
#undef BW_LOOP
#undef FWD_CASE

/* Big tensors run on the thread pool (tg__elementwise). */
typedef struct job {
    int op, dtype;
    double c0, c1;
    const void *a, *z, *g;
    void *o; /* forward: the output; backward: a's gradient */
    bool w;  /* backward: o is fresh, write instead of add */
} job;

static void fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const job *j = ctx;
    if (j->dtype == TG_F32)
        fwd_f32(j->op, hi - lo, (const float *)j->a + lo, (float)j->c0, (float)j->c1,
                (float *)j->o + lo);
    else
        fwd_f64(j->op, hi - lo, (const double *)j->a + lo, j->c0, j->c1, (double *)j->o + lo);
}

static void bw_range(void *ctx, int64_t lo, int64_t hi) {
    const job *j = ctx;
    if (j->dtype == TG_F32)
        bw_f32(j->op, hi - lo, (const float *)j->a + lo, (const float *)j->z + lo,
               (const float *)j->g + lo, (float)j->c0, (float)j->c1, (float *)j->o + lo, j->w);
    else
        bw_f64(j->op, hi - lo, (const double *)j->a + lo, (const double *)j->z + lo,
               (const double *)j->g + lo, j->c0, j->c1, (double *)j->o + lo, j->w);
}

void tg__unary_bw_flat(int op, int dtype, int64_t n, const void *a, const void *z, const void *g,
                       void *ga, bool fresh, double c0, double c1) {
    job j = {op, dtype, c0, c1, a, z, g, ga, fresh};
    tg__elementwise(n, bw_range, &j);
}

/* -------------------------------------------------------------- forward */

/* Where an op keeps its constants (np of its row). */
static inline int unary_np(int op) {
    switch (op) {
#define NP_CASE(ID, name, np, F, D, G) case TG_OP_##ID: return np;
    TG_UNARY_OPS(NP_CASE)
#undef NP_CASE
    default: return 0;
    }
}

/* The 0-d f64 path: a record and one expression (scalar0.h); a half record
 * while the tape allows them and records (arith.c's scalar_binary says
 * why), for ops with at most one constant. */
static inline __attribute__((always_inline)) tg_tensor *unary0(tg_tape *tape, int op, tg_tensor *a,
                                                               bool ah, double c0, double c1) {
    double z = tg__fwd0_unary(op, tg__val0(a, ah), c0, c1);
    bool req = tg__req0(a, ah);
    if (tg__half_now(tape) && unary_np(op) < 2) {
        double c = unary_np(op) == 1 ? c0 : 0.0;
        uint64_t u;
        memcpy(&u, &c, sizeof u);
        return (tg_tensor *)tg__half_out(tape, op, z, a, ah, u, false, req);
    }
    tg_tensor *t = tg__record0(tape, op, z, a, req);
    if (t && unary_np(op) == 1) t->u.c = c0;
    return t;
}

/* Everything but the scalar fast path, out of line, so that the public
 * functions (tg_exp, ...) stay small leaf functions for scalar code. */
static __attribute__((noinline)) tg_tensor *unary_general(int op, tg_tensor *a, double c0,
                                                          double c1);
static __attribute__((noinline)) tg_tensor *unary_slow(int op, tg_tensor *a, double c0, double c1) {
    return tg__handle(unary_general(op, a, c0, c1));
}

static inline __attribute__((always_inline)) tg_tensor *unary(int op, tg_tensor *a, double c0,
                                                              double c1) {
    /* the common case of scalar code in one glance: the handle of a fresh
     * 0-d f64 tensor or half (what tg__check would accept), an op without aux */
    tg_tape *tape;
    tg_op0 oa;
    if (a && unary_np(op) < 2 && tg__dec0(a, &tape, &oa) && tg__hot_room(tape)) {
        double c = unary_np(op) == 1 ? c0 : 0.0;
        uint64_t u;
        memcpy(&u, &c, sizeof u);
        return tg__half_hot(tape, op, tg__fwd0_unary(op, oa.v, c0, c1), tg__rec(a), oa.half, u,
                            false, oa.req && tape->grad_enabled);
    }
    return unary_slow(op, a, c0, c1);
}

static tg_tensor *unary_general(int op, tg_tensor *a, double c0, double c1) {
    tg_tape *tape0;
    tg_op0 oa = {0};
    if (a && unary_np(op) < 2 && tg__dec0(a, &tape0, &oa)) /* scalar code, a full result */
        return unary0(tape0, op, tg__rec(a), oa.half, c0, c1);
    const char *name = tg__ops[op].name;
    tg_tape *tape = tg__check_lazy(name, 1, &a, true); /* a lazy a may stay lazy */
    if (!tape) return NULL;
    if (op == TG_OP_SOFTPLUS && (c0 == 0 || isnan(c0) || isnan(c1))) {
        char b[160];
        return tg__fail(tape, TG_ERR_ARG, name,
                        "beta must be nonzero and neither beta nor threshold NaN (beta %g, "
                        "threshold %g) for %s", c0, c1, tg__shape_str(b, sizeof b, a->rank, a->shape));
    }
    double *aux = NULL;
    if (unary_np(op) == 2) {
        aux = tg__arena(tape, 2 * sizeof(double), name);
        if (!aux) return NULL;
        aux[0] = c0, aux[1] = c1;
    }
    tg_tensor *out;
    if (a->rank == 0 && a->dtype == TG_F64) {
        out = unary0(tape, op, a, false, c0, c1);
    } else {
        int lazy = tg__fuse_admit(tape, 1, &a, true); /* fuse.h */
        if (lazy < 0) return NULL;
        out = lazy ? tg__fuse_out(tape, op, a, NULL)
                   : tg__out(tape, op, a->dtype, a->rank, a->shape, a, NULL, NULL);
        if (!out) return NULL;
        if (unary_np(op) == 1) out->u.c = c0;
        if (!lazy) {
            job j = {op, a->dtype, c0, c1, a->data, NULL, NULL, out->data, false};
            tg__elementwise(tg__numel(a), fwd_range, &j);
        }
    }
    if (out && aux) out->u.aux = aux;
    return out;
}

tg_tensor *tg_neg(tg_tensor *a) { return unary(TG_OP_NEG, a, 0, 0); }
tg_tensor *tg_exp(tg_tensor *a) { return unary(TG_OP_EXP, a, 0, 0); }
tg_tensor *tg_log(tg_tensor *a) { return unary(TG_OP_LOG, a, 0, 0); }
tg_tensor *tg_sqrt(tg_tensor *a) { return unary(TG_OP_SQRT, a, 0, 0); }
tg_tensor *tg_sin(tg_tensor *a) { return unary(TG_OP_SIN, a, 0, 0); }
tg_tensor *tg_cos(tg_tensor *a) { return unary(TG_OP_COS, a, 0, 0); }
tg_tensor *tg_tan(tg_tensor *a) { return unary(TG_OP_TAN, a, 0, 0); }
tg_tensor *tg_tanh(tg_tensor *a) { return unary(TG_OP_TANH, a, 0, 0); }
tg_tensor *tg_sigmoid(tg_tensor *a) { return unary(TG_OP_SIGMOID, a, 0, 0); }
tg_tensor *tg_relu(tg_tensor *a) { return unary(TG_OP_RELU, a, 0, 0); }
tg_tensor *tg_abs(tg_tensor *a) { return unary(TG_OP_ABS, a, 0, 0); }
tg_tensor *tg_log1p(tg_tensor *a) { return unary(TG_OP_LOG1P, a, 0, 0); }
tg_tensor *tg_expm1(tg_tensor *a) { return unary(TG_OP_EXPM1, a, 0, 0); }
tg_tensor *tg_erf(tg_tensor *a) { return unary(TG_OP_ERF, a, 0, 0); }
tg_tensor *tg_square(tg_tensor *a) { return unary(TG_OP_SQUARE, a, 0, 0); }
tg_tensor *tg_reciprocal(tg_tensor *a) { return unary(TG_OP_RECIPROCAL, a, 0, 0); }
tg_tensor *tg_rsqrt(tg_tensor *a) { return unary(TG_OP_RSQRT, a, 0, 0); }
tg_tensor *tg_silu(tg_tensor *a) { return unary(TG_OP_SILU, a, 0, 0); }
tg_tensor *tg_sign(tg_tensor *a) { return unary(TG_OP_SIGN, a, 0, 0); }
tg_tensor *tg_gelu(tg_tensor *a, bool tanh_approx) {
    return unary(tanh_approx ? TG_OP_GELU_TANH : TG_OP_GELU, a, 0, 0);
}
tg_tensor *tg_leaky_relu(tg_tensor *a, double negative_slope) {
    return unary(TG_OP_LEAKY_RELU, a, negative_slope, 0);
}
tg_tensor *tg_elu(tg_tensor *a, double alpha) { return unary(TG_OP_ELU, a, alpha, 0); }
tg_tensor *tg_softplus(tg_tensor *a, double beta, double threshold) {
    return unary(TG_OP_SOFTPLUS, a, beta, threshold);
}
tg_tensor *tg_clamp(tg_tensor *a, double lo, double hi) { return unary(TG_OP_CLAMP, a, lo, hi); }

tg_tensor *tg_add_scalar(tg_tensor *a, double c) { return unary(TG_OP_ADDC, a, c, 0); }
tg_tensor *tg_sub_scalar(tg_tensor *a, double c) { return unary(TG_OP_ADDC, a, -c, 0); }
tg_tensor *tg_rsub_scalar(tg_tensor *a, double c) { return unary(TG_OP_RSUBC, a, c, 0); }
tg_tensor *tg_mul_scalar(tg_tensor *a, double c) { return unary(TG_OP_MULC, a, c, 0); }
tg_tensor *tg_div_scalar(tg_tensor *a, double c) { return unary(TG_OP_DIVC, a, c, 0); }
tg_tensor *tg_rdiv_scalar(tg_tensor *a, double c) { return unary(TG_OP_RDIVC, a, c, 0); }
tg_tensor *tg_pow_scalar(tg_tensor *a, double c) { return unary(TG_OP_POWC, a, c, 0); }

/* ------------------------------------------------------------ backward */

/* A unary record's constants. */
static void consts(const tg_tensor *o, double *c0, double *c1) {
    switch (o->op) {
#define C_CASE(ID, name, np, F, D, G)                                          \
    case TG_OP_##ID: *c0 = TG__C0(o, np), *c1 = TG__C1(o, np); return;
    TG_UNARY_OPS(C_CASE)
#undef C_CASE
    default: *c0 = *c1 = 0; return;
    }
}

bool tg__bw_unary(tg_tensor *o) {
    if (o->rank == 0 && o->dtype == TG_F64) return tg__step0(o); /* scalar code */
    tg_tensor *a = o->in0;
    bool w; /* a fresh buffer: written, not added to */
    void *ga = tg__gacc_w(a, &w);
    if (!ga) return false;
    double c0, c1;
    consts(o, &c0, &c1);
    tg__unary_bw_flat(o->op, o->dtype, tg__numel(a), a->data, o->data, o->grad, ga, w, c0, c1);
    return true;
}

/* ------------------------------------------------------ graph backward */

/* A constant leaf shaped like a, of a's dtype (data uninitialised). */
static tg_tensor *leaf_like(const tg_tensor *a) {
    return tg__wrap(a->tape, a->dtype, a->rank, a->shape, NULL);
}

/* The derivative dz/dx of a piecewise-constant op (the row's backward at
 * g = 1) as a constant leaf: its second derivative is zero. */
static tg_tensor *dconst(tg_tensor *o) {
    tg_tensor *a = o->in0, *m = leaf_like(a);
    if (!m) return NULL;
    double c0, c1;
    consts(o, &c0, &c1);
    enum { CH = 256 };
    float one32[CH];
    double one64[CH];
    for (int k = 0; k < CH; k++) one32[k] = 1, one64[k] = 1;
    const void *ones = a->dtype == TG_F32 ? (const void *)one32 : (const void *)one64;
    size_t es = tg__esize(a->dtype);
    int64_t n = tg__numel(a);
    for (int64_t i = 0; i < n; i += CH) {
        int64_t k = n - i < CH ? n - i : CH;
        tg__unary_bw_flat(o->op, a->dtype, k, (const char *)a->data + i * es,
                          (const char *)o->data + i * es, ones, (char *)m->data + i * es, true, c0,
                          c1);
    }
    return m;
}

/* A constant leaf shaped like a: EXPR of each element x of a (as a double). */
#define FILL(m, a, EXPR)                                                       \
    do {                                                                       \
        int64_t n_ = tg__numel(a);                                             \
        if ((a)->dtype == TG_F32) {                                            \
            const float *x_ = (a)->data;                                       \
            float *m_ = (m)->data;                                             \
            for (int64_t i = 0; i < n_; i++) {                                 \
                double x = x_[i];                                              \
                m_[i] = (float)(EXPR);                                         \
            }                                                                  \
        } else {                                                               \
            const double *x_ = (a)->data;                                      \
            double *m_ = (m)->data;                                            \
            for (int64_t i = 0; i < n_; i++) {                                 \
                double x = x_[i];                                              \
                m_[i] = (EXPR);                                                \
            }                                                                  \
        }                                                                      \
    } while (0)

/* kind 0: sign(a); 1: a > 0; 2: a == 0; 3: a != 0. */
tg_tensor *tg__mask(tg_tensor *a, int kind) {
    if (!a) return NULL;
    tg_tensor *m = leaf_like(a);
    if (!m) return NULL;
    switch (kind) {
    case 0: FILL(m, a, (x > 0) - (x < 0)); break;
    case 1: FILL(m, a, x > 0); break;
    case 2: FILL(m, a, x == 0); break;
    default: FILL(m, a, x != 0); break;
    }
    return m;
}

/* softplus: sigmoid(c0 a), and 1 where c0 a > c1 (the linear part), as
 * s (1 - lin) + lin with sigmoid finite everywhere. */
static tg_tensor *softplus_grad(tg_tensor *o, double c0, double c1) {
    tg_tensor *a = o->in0, *lin = leaf_like(a);
    if (!lin) return NULL;
    FILL(lin, a, c0 * x > c1);
    tg_tensor *s = tg_sigmoid(tg_mul_scalar(a, c0));
    return tg_add(tg_sub(s, tg_mul(s, lin)), lin);
}

/* elu: pos + (1 - pos) (out + alpha). out + alpha = alpha e^a where a <= 0,
 * and stays finite where a > 0 (e^a itself could overflow there). */
static tg_tensor *elu_grad(tg_tensor *o, double alpha) {
    tg_tensor *a = o->in0, *pos = tg__mask(a, 1), *neg = pos ? leaf_like(a) : NULL;
    if (!neg) return NULL;
    FILL(neg, a, !(x > 0));
    return tg_add(pos, tg_mul(neg, tg_add_scalar(o, alpha)));
}

/* clamp: 1 where lo <= a <= hi (compared as doubles), else 0. */
static tg_tensor *clamp_grad(tg_tensor *o, double lo, double hi) {
    tg_tensor *a = o->in0, *m = leaf_like(a);
    if (!m) return NULL;
    FILL(m, a, x >= lo && x <= hi);
    return m;
}
#undef FILL

static tg_tensor *silu_grad(tg_tensor *a) {
    tg_tensor *s = tg_sigmoid(a);
    return tg_mul(s, tg_add_scalar(tg_mul(a, tg_rsub_scalar(s, 1.0)), 1.0));
}

static tg_tensor *gelu_grad(tg_tensor *a, bool tanh_form) {
    if (tanh_form) {
        tg_tensor *a2 = tg_square(a);
        tg_tensor *t = tg_tanh(
            tg_mul_scalar(tg_add(a, tg_mul(tg_mul_scalar(a2, TG_GELU_C), a)), TG_GELU_K));
        tg_tensor *left = tg_mul_scalar(tg_add_scalar(t, 1.0), 0.5);
        tg_tensor *right = tg_mul(tg_mul(tg_mul_scalar(a, 0.5 * TG_GELU_K), tg_rsub_scalar(tg_square(t), 1.0)),
                                  tg_add_scalar(tg_mul_scalar(a2, 3 * TG_GELU_C), 1.0));
        return tg_add(left, right);
    }
    tg_tensor *Phi = tg_mul_scalar(tg_add_scalar(tg_erf(tg_mul_scalar(a, TG_SQRT1_2)), 1.0), 0.5);
    tg_tensor *phi = tg_mul_scalar(tg_exp(tg_mul_scalar(tg_square(a), -0.5)), TG_INV_SQRT2PI);
    return tg_add(Phi, tg_mul(a, phi));
}

tg_tensor *tg__vjp_unary(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    tg_tensor *a = o->in0;
    switch (o->op) {
#define VJP_CASE(ID, name, np, F, D, G)                                        \
    case TG_OP_##ID: {                                                         \
        double c0 = TG__C0(o, np), c1 = TG__C1(o, np);                         \
        (void)c0, (void)c1;                                                    \
        return G;                                                              \
    }
    TG_UNARY_OPS(VJP_CASE)
#undef VJP_CASE
    default: return NULL;
    }
}
