/* nnfunc.c - softmax, log_softmax, softmax_cross_entropy, dropout,
 * layer_norm, batch_norm.
 *
 *   op           out (along axis, per row r)           d/da
 *   softmax      s = e^(a - m) / sum e^(a - m)         s * (g - sum(g * s))
 *   log_softmax  l = a - m - log sum e^(a - m)         g - e^l * sum(g)
 *                (m = the row max: no overflow at +-1000, no NaN; l is
 *                 computed as (a - m) - log sum, exact for large logits)
 *   softmax_cross_entropy   per row n of a [N, C], label y:
 *                (1-eps)(lse - a_y) + eps/C sum_c (lse - a_c),
 *                lse = m + log sum e^(a - m)           g (softmax(a) - (1-eps)
 *                (0 where y == ignore_index)           onehot(y) - eps/C);
 *                                                      labels: none
 *   dropout      a * mask, mask in {0, 1/(1-p)}        g * mask (the mask is a
 *                                                      constant leaf)
 *   layer_norm   (a - mean) / sqrt(var + eps) * w + b  fused (see below)
 *   batch_norm   the same per channel over [N, C, ...]  fused (see below)
 *
 * softmax, log_softmax, softmax_cross_entropy, layer_norm and batch_norm
 * are fused kernels (one record each; softmax, softmax_cross_entropy and
 * layer_norm rows split over threads when large); their vjps are built
 * from ops (the softmax ones reuse the output record), so create-graph
 * sweeps and second derivatives work.
 * The softmax axis lives in u.i.
 */
#include "tg_internal.h"

#include <math.h>

static const char *dt_name(int dt) {
    return dt == TG_F32 ? "f32" : dt == TG_F64 ? "f64" : "i64";
}

/* ------------------------------------------------ softmax, log_softmax */

/* Rows of a [outer, L, inner] tensor. inner == 1 (softmax over the last
 * axis, the common case) walks contiguous rows; otherwise the kernels walk
 * the inner axis in blocks of BLK columns with the row statistics on the
 * stack. Every loop is written so that the compiler vectorizes it: sums
 * and maxima over a row use 8 lanes, and f32 uses exp_f32 below instead of
 * libm's scalar expf. */
#define BLK 64

/* GCC keeps float selects (a < b ? c : d) as branches under its default
 * -ftrapping-math, which stops these loops from vectorizing; nothing here
 * relies on floating-point traps. (Clang vectorizes them anyway.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

/* e^x in f32 without libm, branch-free so that loops over it vectorize:
 * Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, Cephes' degree-5
 * polynomial (about 1 ulp), 2^n put together in the exponent bits.
 * Below -87 (where e^x is a denormal) it returns 0; NaN stays NaN. */
static inline float exp_f32(float x) {
    /* NaN takes the -87 side here (so the float-to-int below stays defined;
     * found by fuzz_ops) and is put back at the end */
    float xc = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;
    float t = xc * 1.44269504088896341f + 12582912.0f; /* round to nearest */
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float z = r * r;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float s;
    memcpy(&s, &bits, sizeof s);
    float y = p * s;
    y = x < -87.0f ? 0.0f : y;
    y = x > 88.0f ? (float)INFINITY : y;
    return x != x ? x : y;
}

/* One build runs on any x86-64 and uses AVX2 where the CPU has it: GCC
 * compiles the two row kernels twice and picks one at load time. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

typedef struct sm_job {
    int dt;
    bool log;
    int64_t L, inner;
    const void *a, *y, *g; /* forward: a -> y; backward: y, g -> ga */
    void *out;
} sm_job;

#define DEF_SOFTMAX(T, SUF, EXPF, LOGF)                                        \
    static T max_##SUF(const T *x, int64_t n) { /* n >= 1 */                  \
        T m[8];                                                                \
        for (int l = 0; l < 8; l++) m[l] = x[0];                               \
        int64_t k = 0;                                                         \
        for (; k + 8 <= n; k += 8)                                             \
            for (int l = 0; l < 8; l++) m[l] = x[k + l] > m[l] ? x[k + l] : m[l]; \
        for (; k < n; k++) m[0] = x[k] > m[0] ? x[k] : m[0];                   \
        for (int l = 1; l < 8; l++) m[0] = m[l] > m[0] ? m[l] : m[0];          \
        return m[0];                                                           \
    }                                                                          \
    /* sum of x[k] * (y ? y[k] : 1) */                                        \
    static T dot_##SUF(const T *x, const T *y, int64_t n) {                   \
        T s[8] = {0};                                                          \
        int64_t k = 0;                                                         \
        if (y)                                                                 \
            for (; k + 8 <= n; k += 8)                                         \
                for (int l = 0; l < 8; l++) s[l] += x[k + l] * y[k + l];       \
        else                                                                   \
            for (; k + 8 <= n; k += 8)                                         \
                for (int l = 0; l < 8; l++) s[l] += x[k + l];                  \
        for (; k < n; k++) s[0] += y ? x[k] * y[k] : x[k];                     \
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
    }                                                                          \
    CLONES static void sm_fwd_##SUF(const sm_job *j, int64_t lo, int64_t hi) { \
        int64_t L = j->L, inner = j->inner;                                    \
        for (int64_t ob = lo; ob < hi; ob++) {                                 \
            const T *restrict x = (const T *)j->a + ob * L * inner;            \
            T *restrict y = (T *)j->out + ob * L * inner;                      \
            if (inner == 1) {                                                  \
                T m = max_##SUF(x, L);                                         \
                for (int64_t k = 0; k < L; k++) y[k] = EXPF(x[k] - m);         \
                T s = dot_##SUF(y, NULL, L);                                   \
                if (j->log) { /* (x - m) - log s: exact near +-1000 */         \
                    T ls = LOGF(s);                                            \
                    for (int64_t k = 0; k < L; k++) y[k] = (x[k] - m) - ls;    \
                } else {                                                       \
                    T r = 1 / s;                                               \
                    for (int64_t k = 0; k < L; k++) y[k] *= r;                 \
                }                                                              \
                continue;                                                      \
            }                                                                  \
            for (int64_t i0 = 0; i0 < inner; i0 += BLK) {                      \
                int64_t w = inner - i0 < BLK ? inner - i0 : BLK;               \
                T m[BLK], s[BLK];                                              \
                for (int64_t i = 0; i < w; i++) m[i] = x[i0 + i], s[i] = 0;    \
                for (int64_t k = 1; k < L; k++) {                              \
                    const T *xr = x + k * inner + i0;                          \
                    for (int64_t i = 0; i < w; i++) m[i] = xr[i] > m[i] ? xr[i] : m[i]; \
                }                                                              \
                for (int64_t k = 0; k < L; k++) {                              \
                    const T *xr = x + k * inner + i0;                          \
                    T *yr = y + k * inner + i0;                                \
                    for (int64_t i = 0; i < w; i++) yr[i] = EXPF(xr[i] - m[i]); \
                    for (int64_t i = 0; i < w; i++) s[i] += yr[i];             \
                }                                                              \
                for (int64_t i = 0; i < w; i++) s[i] = j->log ? LOGF(s[i]) : 1 / s[i]; \
                for (int64_t k = 0; k < L; k++) {                              \
                    const T *xr = x + k * inner + i0;                          \
                    T *yr = y + k * inner + i0;                                \
                    if (j->log)                                                \
                        for (int64_t i = 0; i < w; i++) yr[i] = (xr[i] - m[i]) - s[i]; \
                    else                                                       \
                        for (int64_t i = 0; i < w; i++) yr[i] *= s[i];         \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    /* softmax: ga += y (g - sum g y); log_softmax: ga += g - e^y sum g */     \
    CLONES static void sm_bw_##SUF(const sm_job *j, int64_t lo, int64_t hi) { \
        int64_t L = j->L, inner = j->inner;                                    \
        for (int64_t ob = lo; ob < hi; ob++) {                                 \
            const T *restrict y = (const T *)j->y + ob * L * inner;            \
            const T *restrict g = (const T *)j->g + ob * L * inner;            \
            T *restrict ga = (T *)j->out + ob * L * inner;                     \
            if (inner == 1) {                                                  \
                if (j->log) {                                                  \
                    T s = dot_##SUF(g, NULL, L);                               \
                    for (int64_t k = 0; k < L; k++) ga[k] += g[k] - EXPF(y[k]) * s; \
                } else {                                                       \
                    T s = dot_##SUF(g, y, L);                                  \
                    for (int64_t k = 0; k < L; k++) ga[k] += y[k] * (g[k] - s); \
                }                                                              \
                continue;                                                      \
            }                                                                  \
            for (int64_t i0 = 0; i0 < inner; i0 += BLK) {                      \
                int64_t w = inner - i0 < BLK ? inner - i0 : BLK;               \
                T s[BLK];                                                      \
                for (int64_t i = 0; i < w; i++) s[i] = 0;                      \
                for (int64_t k = 0; k < L; k++) {                              \
                    const T *yr = y + k * inner + i0, *gr = g + k * inner + i0; \
                    if (j->log)                                                \
                        for (int64_t i = 0; i < w; i++) s[i] += gr[i];         \
                    else                                                       \
                        for (int64_t i = 0; i < w; i++) s[i] += gr[i] * yr[i]; \
                }                                                              \
                for (int64_t k = 0; k < L; k++) {                              \
                    const T *yr = y + k * inner + i0, *gr = g + k * inner + i0; \
                    T *dr = ga + k * inner + i0;                               \
                    if (j->log)                                                \
                        for (int64_t i = 0; i < w; i++) dr[i] += gr[i] - EXPF(yr[i]) * s[i]; \
                    else                                                       \
                        for (int64_t i = 0; i < w; i++) dr[i] += yr[i] * (gr[i] - s[i]); \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }
DEF_SOFTMAX(float, f32, exp_f32, logf)
DEF_SOFTMAX(double, f64, exp, log)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

static void sm_fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const sm_job *j = ctx;
    if (j->dt == TG_F32) sm_fwd_f32(j, lo, hi);
    else sm_fwd_f64(j, lo, hi);
}

static void sm_bw_range(void *ctx, int64_t lo, int64_t hi) {
    const sm_job *j = ctx;
    if (j->dt == TG_F32) sm_bw_f32(j, lo, hi);
    else sm_bw_f64(j, lo, hi);
}

/* Rows per piece: about 32k elements each, so small tensors stay inline. */
static int64_t sm_grain(int64_t L, int64_t inner) {
    int64_t per = L * inner;
    return per >= 32768 ? 1 : 32768 / (per ? per : 1);
}

static tg_tensor *softmax_op(int op, tg_tensor *a, int axis) {
    const char *name = tg__ops[op].name;
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check(name, 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    int ax = a->rank == 0 && axis == -1 ? 0 : tg__axis(axis, a->rank); /* 0-d: 0 or -1 */
    if (ax < 0) {
        char b[160];
        return tg__fail(tape, TG_ERR_ARG, name, "axis %d is out of range for shape %s", axis,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    }
    tg_tensor *out = tg__out(tape, op, a->dtype, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    out->u.i = ax;
    int64_t outer = 1, inner = 1, L = a->rank ? a->shape[ax] : 1;
    for (int d = 0; d < ax; d++) outer *= a->shape[d];
    for (int d = ax + 1; d < a->rank; d++) inner *= a->shape[d];
    if (L == 0 || inner == 0 || outer == 0) return out;
    sm_job j = {a->dtype, op == TG_OP_LOG_SOFTMAX, L, inner, a->data, NULL, NULL, out->data};
    tg__parallel_for(outer, sm_grain(L, inner), sm_fwd_range, &j);
    return out;
}

static bool softmax_bw(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int ax = (int)o->u.i;
    int64_t outer = 1, inner = 1, L = o->rank ? o->shape[ax] : 1;
    for (int d = 0; d < ax; d++) outer *= o->shape[d];
    for (int d = ax + 1; d < o->rank; d++) inner *= o->shape[d];
    if (L == 0 || inner == 0 || outer == 0) return true;
    sm_job j = {o->dtype, o->op == TG_OP_LOG_SOFTMAX, L, inner, NULL, o->data, o->grad, ga};
    tg__parallel_for(outer, sm_grain(L, inner), sm_bw_range, &j);
    return true;
}

tg_tensor *tg_softmax(tg_tensor *a, int axis) { return softmax_op(TG_OP_SOFTMAX, a, axis); }
tg_tensor *tg_log_softmax(tg_tensor *a, int axis) { return softmax_op(TG_OP_LOG_SOFTMAX, a, axis); }

bool tg__bw_softmax(tg_tensor *o) { return softmax_bw(o); }
bool tg__bw_log_softmax(tg_tensor *o) { return softmax_bw(o); }

/* A rank-0 tensor has one element on its only "axis": sums over it are
 * the identity. */
static tg_tensor *row_sum(tg_tensor *t, const tg_tensor *o) {
    return o->rank ? tg_sum_axis(t, (int)o->u.i, true) : t;
}

tg_tensor *tg__vjp_softmax(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(o, tg_sub(g, row_sum(tg_mul(g, o), o)));
}

tg_tensor *tg__vjp_log_softmax(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_sub(g, tg_mul(tg_exp(o), row_sum(g, o)));
}

/* ------------------------------------------------- softmax_cross_entropy */

/*   softmax_cross_entropy  logits x [N, C], labels y [N] (i64), per row n:
 *     lse_n  = m_n + log sum_c e^(x_nc - m_n)          (m_n the row max)
 *     loss_n = (1 - eps) (lse_n - x_ny) + eps/C sum_c (lse_n - x_nc)
 *              0 where y_n == ignore_index
 *   d x_nc = g_n (softmax(x)_nc - (1 - eps) [c == y_n] - eps/C)
 *            0 on ignored rows
 *   d y    = none (class indices)
 * A fused record (inputs logits, labels in aux): one record and one read
 * of each row instead of the ~8 records of the composed loss. The forward
 * keeps each row's max and log sum e^(x - m), so the fast backward is one
 * pass per row; the graph backward is g (softmax(x) - q) from ops, with
 * the smoothed one-hot target q a constant, so second derivatives work.
 * [C] logits with a 0-d label are one row and give a 0-d loss. */
typedef struct ce_ext {
    int64_t ignore;
    double eps;
    int64_t N, C;
    void *stats; /* [N] row maxima then [N] log sums, in the logits' dtype */
} ce_ext;

typedef struct ce_job {
    int dt;
    const ce_ext *e;
    const int64_t *y; /* [N] */
    const void *x;    /* [N, C] */
    void *loss;       /* forward: [N] */
    const void *g;    /* backward: [N] */
    void *gx;         /* backward: [N, C] */
    bool fresh;       /* gx is uninitialised: write, do not add */
} ce_job;

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif
#define DEF_CE(T, SUF, EXPF, LOGF)                                             \
    CLONES static void ce_fwd_##SUF(const ce_job *j, int64_t lo, int64_t hi) { \
        const ce_ext *e = j->e;                                                \
        int64_t C = e->C;                                                      \
        T *mx = e->stats, *ls = (T *)e->stats + e->N, *loss = j->loss;         \
        T a = (T)(1 - e->eps), b = C ? (T)(e->eps / (double)C) : 0;            \
        for (int64_t n = lo; n < hi; n++) {                                    \
            int64_t y = j->y[n];                                               \
            if (y == e->ignore) {                                              \
                loss[n] = 0, mx[n] = 0, ls[n] = 0;                             \
                continue;                                                      \
            }                                                                  \
            const T *restrict x = (const T *)j->x + n * C;                     \
            T m = max_##SUF(x, C);                                             \
            m = isfinite(m) ? m : 0; /* inf / NaN rows propagate */            \
            T s[8] = {0}, z[8] = {0}; /* sum e^(x - m), sum (x - m) */         \
            int64_t k = 0;                                                     \
            for (; k + 8 <= C; k += 8)                                         \
                for (int l = 0; l < 8; l++) {                                  \
                    T d = x[k + l] - m;                                        \
                    s[l] += EXPF(d);                                           \
                    z[l] += d;                                                 \
                }                                                              \
            for (; k < C; k++) {                                               \
                T d = x[k] - m;                                                \
                s[0] += EXPF(d);                                               \
                z[0] += d;                                                     \
            }                                                                  \
            T S = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
            T Z = ((z[0] + z[1]) + (z[2] + z[3])) + ((z[4] + z[5]) + (z[6] + z[7])); \
            T l = LOGF(S), nly = l - (x[y] - m); /* lse - x_y, exact near +-1000 */ \
            mx[n] = m, ls[n] = l;                                              \
            loss[n] = e->eps > 0 ? a * nly + b * ((T)C * l - Z) : nly;         \
        }                                                                      \
    }                                                                          \
    /* gx += g (e^(x - m - log s) - eps/C), then gx_y -= g (1 - eps) */        \
    CLONES static void ce_bw_##SUF(const ce_job *j, int64_t lo, int64_t hi) {  \
        const ce_ext *e = j->e;                                                \
        int64_t C = e->C;                                                      \
        const T *mx = e->stats, *ls = (const T *)e->stats + e->N;              \
        const T *g = j->g;                                                     \
        T a = (T)(1 - e->eps), b = C ? (T)(e->eps / (double)C) : 0;            \
        for (int64_t n = lo; n < hi; n++) {                                    \
            T *restrict gx = (T *)j->gx + n * C;                               \
            int64_t y = j->y[n];                                               \
            if (y == e->ignore) {                                              \
                if (j->fresh) memset(gx, 0, (size_t)C * sizeof(T));            \
                continue;                                                      \
            }                                                                  \
            const T *restrict x = (const T *)j->x + n * C;                     \
            T gn = g[n], m = mx[n], l = ls[n], gb = gn * b;                    \
            if (j->fresh)                                                      \
                for (int64_t k = 0; k < C; k++) gx[k] = gn * EXPF((x[k] - m) - l) - gb; \
            else                                                               \
                for (int64_t k = 0; k < C; k++) gx[k] += gn * EXPF((x[k] - m) - l) - gb; \
            gx[y] -= gn * a;                                                   \
        }                                                                      \
    }
DEF_CE(float, f32, exp_f32, logf)
DEF_CE(double, f64, exp, log)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

static void ce_fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const ce_job *j = ctx;
    if (j->dt == TG_F32) ce_fwd_f32(j, lo, hi);
    else ce_fwd_f64(j, lo, hi);
}

static void ce_bw_range(void *ctx, int64_t lo, int64_t hi) {
    const ce_job *j = ctx;
    if (j->dt == TG_F32) ce_bw_f32(j, lo, hi);
    else ce_bw_f64(j, lo, hi);
}

tg_tensor *tg_softmax_cross_entropy(tg_tensor *logits, tg_tensor *labels, int64_t ignore_index,
                                    double label_smoothing) {
    const char *name = "softmax_cross_entropy";
    tg_tensor *in[2] = {logits, labels};
    tg_tape *tape = tg__check(name, 2, in, false);
    if (!tape) return NULL;
    logits = in[0], labels = in[1];
    char b0[160], b1[160];
#define XS tg__shape_str(b0, sizeof b0, logits->rank, logits->shape)
#define YS tg__shape_str(b1, sizeof b1, labels->rank, labels->shape)
    if (!tg__is_float(logits->dtype))
        return tg__fail(tape, TG_ERR_DTYPE, name, "logits are %s %s; this op needs f32 or f64",
                        dt_name(logits->dtype), XS);
    if (labels->dtype != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, name,
                        "labels are %s %s; they must be i64 class indices (logits %s %s)",
                        dt_name(labels->dtype), YS, dt_name(logits->dtype), XS);
    if (logits->rank != 1 && logits->rank != 2)
        return tg__fail(tape, TG_ERR_SHAPE, name, "logits %s must be [N, C] or [C] (labels %s)",
                        XS, YS);
    int64_t N = logits->rank == 2 ? logits->shape[0] : 1, C = logits->shape[logits->rank - 1];
    if (labels->rank != logits->rank - 1 || (labels->rank == 1 && labels->shape[0] != N))
        return tg__fail(tape, TG_ERR_SHAPE, name, "labels %s do not fit logits %s (want %s)", YS,
                        XS, logits->rank == 2 ? "one label per row, [N]" : "a 0-d label");
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
        return tg__fail(tape, TG_ERR_ARG, name, "label_smoothing = %g is outside [0, 1] (logits %s)",
                        label_smoothing, XS);
    const int64_t *y = labels->data;
    for (int64_t n = 0; n < N; n++)
        if ((y[n] < 0 || y[n] >= C) && y[n] != ignore_index)
            return tg__fail(tape, TG_ERR_ARG, name,
                            "label %lld in row %lld is outside [0, %lld) and is not ignore_index "
                            "%lld (logits %s)",
                            (long long)y[n], (long long)n, (long long)C, (long long)ignore_index, XS);
#undef XS
#undef YS
    /* aux: the inputs (tg_auxin), then ce_ext with the per-row statistics */
    size_t head = (sizeof(tg_auxin) + 2 * sizeof(tg_tensor *) + 7) & ~(size_t)7;
    size_t es = tg__esize(logits->dtype);
    char *blk = tg__arena(tape, head + sizeof(ce_ext) + 2 * (size_t)N * es, name);
    if (!blk) return NULL;
    tg_auxin *ax = (tg_auxin *)blk;
    ax->n = 2;
    ax->in[0] = logits, ax->in[1] = labels;
    ce_ext *e = (ce_ext *)(blk + head);
    e->ignore = ignore_index, e->eps = label_smoothing, e->N = N, e->C = C;
    e->stats = blk + head + sizeof(ce_ext);
    tg_tensor *out = tg__out(tape, TG_OP_SOFTMAX_CE, logits->dtype, labels->rank, labels->shape,
                             NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__set_req(out, 2, ax->in);
    ce_job j = {logits->dtype, e, y, logits->data, out->data, NULL, NULL, false};
    if (N) tg__parallel_for(N, sm_grain(C, 1), ce_fwd_range, &j);
    return out;
}

static ce_ext *ce_get(const tg_tensor *o) {
    size_t head = (sizeof(tg_auxin) + 2 * sizeof(tg_tensor *) + 7) & ~(size_t)7;
    return (ce_ext *)((char *)o->u.aux + head);
}

bool tg__bw_softmax_ce(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    const ce_ext *e = ce_get(o);
    tg_tensor *x = ax->in[0];
    bool fresh;
    void *gx = tg__gacc_w(x, &fresh);
    if (!gx) return false;
    if (!e->N || !e->C) return true;
    ce_job j = {o->dtype, e, ax->in[1]->data, x->data, NULL, o->grad, gx, fresh};
    tg__parallel_for(e->N, sm_grain(e->C, 1), ce_bw_range, &j);
    return true;
}

/* Graph backward, from ops: d x = (g v) (softmax(x) - q), with the
 * constants v = [y != ignore_index] per row and q = (1 - eps) onehot(y) +
 * eps/C on kept rows (0 on ignored ones). */
tg_tensor *tg__vjp_softmax_ce(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    const ce_ext *e = ce_get(o);
    tg_tensor *x = ax->in[0];
    const int64_t *y = ax->in[1]->data;
    if (i != 0)
        return tg__fail(o->tape, TG_ERR_ARG, "softmax_cross_entropy",
                        "labels are class indices and have no gradient");
    tg_tensor *q = tg__wrap(o->tape, x->dtype, x->rank, x->shape, NULL);
    tg_tensor *v = tg__wrap(o->tape, x->dtype, o->rank, o->shape, NULL);
    if (!q || !v) return NULL;
    double b = e->C ? e->eps / (double)e->C : 0;
    for (int64_t n = 0; n < e->N; n++) {
        bool kept = y[n] != e->ignore;
        for (int64_t c = 0; c < e->C; c++) {
            double qc = kept ? b + (c == y[n] ? 1 - e->eps : 0) : 0;
            if (x->dtype == TG_F32) ((float *)q->data)[n * e->C + c] = (float)qc;
            else ((double *)q->data)[n * e->C + c] = qc;
        }
        if (x->dtype == TG_F32) ((float *)v->data)[n] = kept;
        else ((double *)v->data)[n] = kept;
    }
    tg_tensor *gv = tg_mul(g, v);
    if (x->rank == 2) gv = tg_reshape(gv, 2, (int64_t[]){e->N, 1});
    return tg_mul(gv, tg_sub(tg_softmax(x, -1), q));
}

/* --------------------------------------------------------------- dropout */

tg_tensor *tg_dropout(tg_tensor *a, double p, bool training, tg_rng *rng) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("dropout", 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    char b[160];
    if (!(p >= 0 && p <= 1))
        return tg__fail(tape, TG_ERR_ARG, "dropout", "p = %g is outside [0, 1] (input %s)", p,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    if (!training || p == 0) return a;
    if (!rng && p < 1)
        return tg__fail(tape, TG_ERR_NULL, "dropout", "rng is NULL (input %s)",
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    tg_tensor *mask = tg__wrap(tape, a->dtype, a->rank, a->shape, NULL);
    if (!mask) return NULL;
    int64_t n = tg__numel(a);
    double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    /* keep when a uniform draw in [0, 1) is >= p: P(keep) = 1 - p exactly
     * up to the 2^-53 grid; the comparison is done on the integer bits */
    uint64_t thresh = p < 1 ? (uint64_t)(p * 0x1.0p53) : 0;
    if (a->dtype == TG_F32) {
        float *m = mask->data, s = (float)scale;
        for (int64_t k = 0; k < n; k++) m[k] = p < 1 && (tg_rng_next(rng) >> 11) >= thresh ? s : 0;
    } else {
        double *m = mask->data;
        for (int64_t k = 0; k < n; k++)
            m[k] = p < 1 && (tg_rng_next(rng) >> 11) >= thresh ? scale : 0;
    }
    return tg_mul(a, mask);
}

/* ------------------------------------------------------------ layer_norm */

/*   layer_norm   y = xhat * w + b,  xhat = (a - mean) * rstd,
 *                rstd = 1 / sqrt(var + eps) per row of the last axes
 *   d a = rstd * (h - mean(h) - xhat * mean(h * xhat)),  h = g * w
 *   d w = sum over rows of g * xhat,  d b = sum over rows of g
 * A fused record (inputs a, then w and b when given); the forward keeps
 * each row's mean and rstd for the fast backward. */
typedef struct ln_ext {
    int naxes;
    bool hw, hb;
    double eps;
    int64_t D, rows;
    void *stats; /* [rows] means then [rows] rstds, in a's dtype */
} ln_ext;

typedef struct ln_job {
    int dt;
    int64_t D, rows;
    const void *x, *w, *b;
    void *y, *stats;
    const void *g;
    void *ga, *gw, *gb;
    double eps;
} ln_job;

#define DEF_LN(T, SUF, SQRTF)                                                  \
    static T sqdev_##SUF(const T *x, T mu, int64_t n) {                        \
        T s[8] = {0};                                                          \
        int64_t k = 0;                                                         \
        for (; k + 8 <= n; k += 8)                                             \
            for (int l = 0; l < 8; l++) s[l] += (x[k + l] - mu) * (x[k + l] - mu); \
        for (; k < n; k++) s[0] += (x[k] - mu) * (x[k] - mu);                  \
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
    }                                                                          \
    CLONES static void ln_fwd_##SUF(const ln_job *j, int64_t lo, int64_t hi) { \
        int64_t D = j->D;                                                      \
        T *mean = j->stats, *rstd = (T *)j->stats + j->rows;                   \
        const T *w = j->w, *b = j->b;                                          \
        for (int64_t r = lo; r < hi; r++) {                                    \
            const T *restrict x = (const T *)j->x + r * D;                     \
            T *restrict y = (T *)j->y + r * D;                                 \
            T mu = dot_##SUF(x, NULL, D) / (T)D;                               \
            T rs = (T)1 / SQRTF(sqdev_##SUF(x, mu, D) / (T)D + (T)j->eps);     \
            mean[r] = mu, rstd[r] = rs;                                        \
            if (w && b)                                                        \
                for (int64_t k = 0; k < D; k++) y[k] = (x[k] - mu) * rs * w[k] + b[k]; \
            else if (w)                                                        \
                for (int64_t k = 0; k < D; k++) y[k] = (x[k] - mu) * rs * w[k]; \
            else if (b)                                                        \
                for (int64_t k = 0; k < D; k++) y[k] = (x[k] - mu) * rs + b[k]; \
            else                                                               \
                for (int64_t k = 0; k < D; k++) y[k] = (x[k] - mu) * rs;       \
        }                                                                      \
    }                                                                          \
    /* d a for rows lo..hi (rows are independent) */                          \
    CLONES static void ln_bw_##SUF(const ln_job *j, int64_t lo, int64_t hi) {  \
        int64_t D = j->D;                                                      \
        const T *mean = j->stats, *rstd = (const T *)j->stats + j->rows;       \
        const T *w = j->w;                                                     \
        for (int64_t r = lo; r < hi; r++) {                                    \
            const T *restrict x = (const T *)j->x + r * D;                     \
            const T *restrict g = (const T *)j->g + r * D;                     \
            T *restrict ga = (T *)j->ga + r * D;                               \
            T mu = mean[r], rs = rstd[r], s1[8] = {0}, s2[8] = {0};            \
            int64_t k = 0;                                                     \
            for (; k + 8 <= D; k += 8)                                         \
                for (int l = 0; l < 8; l++) {                                  \
                    T h = w ? g[k + l] * w[k + l] : g[k + l];                  \
                    s1[l] += h;                                                \
                    s2[l] += h * (x[k + l] - mu);                              \
                }                                                              \
            for (; k < D; k++) {                                               \
                T h = w ? g[k] * w[k] : g[k];                                  \
                s1[0] += h;                                                    \
                s2[0] += h * (x[k] - mu);                                      \
            }                                                                  \
            for (int l = 1; l < 8; l++) s1[0] += s1[l], s2[0] += s2[l];        \
            T m1 = s1[0] / (T)D, m2 = s2[0] * rs / (T)D; /* mean(h), mean(h xhat) */ \
            if (w)                                                             \
                for (k = 0; k < D; k++)                                        \
                    ga[k] += rs * (g[k] * w[k] - m1 - (x[k] - mu) * rs * m2);  \
            else                                                               \
                for (k = 0; k < D; k++)                                        \
                    ga[k] += rs * (g[k] - m1 - (x[k] - mu) * rs * m2);         \
        }                                                                      \
    }                                                                          \
    /* d w and d b: sums over all rows */                                     \
    static void ln_bw_wb_##SUF(const ln_job *j, int64_t rows) {                \
        int64_t D = j->D;                                                      \
        const T *mean = j->stats, *rstd = (const T *)j->stats + j->rows;       \
        T *restrict gw = j->gw, *restrict gb = j->gb;                          \
        for (int64_t r = 0; r < rows; r++) {                                   \
            const T *restrict x = (const T *)j->x + r * D;                     \
            const T *restrict g = (const T *)j->g + r * D;                     \
            T mu = mean[r], rs = rstd[r];                                      \
            if (gw)                                                            \
                for (int64_t k = 0; k < D; k++) gw[k] += g[k] * (x[k] - mu) * rs; \
            if (gb)                                                            \
                for (int64_t k = 0; k < D; k++) gb[k] += g[k];                 \
        }                                                                      \
    }
DEF_LN(float, f32, sqrtf)
DEF_LN(double, f64, sqrt)

static void ln_fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const ln_job *j = ctx;
    if (j->dt == TG_F32) ln_fwd_f32(j, lo, hi);
    else ln_fwd_f64(j, lo, hi);
}

static void ln_bw_range(void *ctx, int64_t lo, int64_t hi) {
    const ln_job *j = ctx;
    if (j->dt == TG_F32) ln_bw_f32(j, lo, hi);
    else ln_bw_f64(j, lo, hi);
}

static int64_t ln_grain(int64_t D) { return D >= 32768 ? 1 : 32768 / (D ? D : 1); }


/* t has the shape `want` (rank r)? */
static bool has_shape(const tg_tensor *t, int r, const int64_t *want) {
    if (t->rank != r) return false;
    for (int d = 0; d < r; d++)
        if (t->shape[d] != want[d]) return false;
    return true;
}

tg_tensor *tg_layer_norm(tg_tensor *a, int naxes, tg_tensor *weight, tg_tensor *bias,
                         double eps) {
    tg_tensor *in[3] = {a, weight, bias};
    int n = 1;
    if (weight) in[n++] = weight;
    if (bias) in[n++] = bias;
    tg_tape *tape = tg__check("layer_norm", n, in, true);
    if (!tape) return NULL;
    a = in[0];
    n = 1;
    if (weight) weight = in[n++];
    if (bias) bias = in[n++];
    char b0[160], b1[160], b2[160];
    if (naxes < 1 || naxes > a->rank)
        return tg__fail(tape, TG_ERR_ARG, "layer_norm",
                        "cannot normalize over the last %d axes of %s", naxes,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    const int64_t *ns = a->shape + (a->rank - naxes);
    const tg_tensor *bad = weight && !has_shape(weight, naxes, ns) ? weight
                           : bias && !has_shape(bias, naxes, ns) ? bias : NULL;
    if (bad)
        return tg__fail(tape, TG_ERR_SHAPE, "layer_norm",
                        "%s %s does not match the normalized shape %s of input %s",
                        bad == weight ? "weight" : "bias",
                        tg__shape_str(b1, sizeof b1, bad->rank, bad->shape),
                        tg__shape_str(b2, sizeof b2, naxes, ns),
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    int64_t D = 1;
    for (int k = 0; k < naxes; k++) D *= ns[k];
    int64_t rows = D ? tg__numel(a) / D : 0;
    /* aux: the inputs (tg_auxin), then ln_ext with the per-row statistics */
    size_t head = (sizeof(tg_auxin) + (size_t)n * sizeof(tg_tensor *) + 7) & ~(size_t)7;
    size_t es = tg__esize(a->dtype);
    char *blk = tg__arena(tape, head + sizeof(ln_ext) + 2 * (size_t)rows * es, "layer_norm");
    if (!blk) return NULL;
    tg_auxin *ax = (tg_auxin *)blk;
    ax->n = n;
    for (int i = 0; i < n; i++) ax->in[i] = in[i];
    ln_ext *e = (ln_ext *)(blk + head);
    e->naxes = naxes, e->hw = weight != NULL, e->hb = bias != NULL, e->eps = eps;
    e->D = D, e->rows = rows;
    e->stats = blk + head + sizeof(ln_ext);
    tg_tensor *out = tg__out(tape, TG_OP_LAYER_NORM, a->dtype, a->rank, a->shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__set_req(out, n, ax->in);
    ln_job j = {a->dtype, D, rows, a->data, weight ? weight->data : NULL,
                bias ? bias->data : NULL, out->data, e->stats, NULL, NULL, NULL, NULL, eps};
    if (rows) tg__parallel_for(rows, ln_grain(D), ln_fwd_range, &j);
    return out;
}

static ln_ext *ln_get(const tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    size_t head = (sizeof(tg_auxin) + (size_t)ax->n * sizeof(tg_tensor *) + 7) & ~(size_t)7;
    return (ln_ext *)((char *)o->u.aux + head);
}

bool tg__bw_layer_norm(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    const ln_ext *e = ln_get(o);
    tg_tensor *a = ax->in[0], *w = e->hw ? ax->in[1] : NULL, *b = e->hb ? ax->in[1 + e->hw] : NULL;
    void *ga = tg__gacc(a), *gw = w ? tg__gacc(w) : NULL, *gb = b ? tg__gacc(b) : NULL;
    if (((a->flags & TGF_REQ) && !ga) || (w && (w->flags & TGF_REQ) && !gw) ||
        (b && (b->flags & TGF_REQ) && !gb))
        return false;
    if (!e->rows) return true;
    ln_job j = {o->dtype, e->D, e->rows, a->data, w ? w->data : NULL, NULL, NULL, e->stats,
                o->grad, ga, gw, gb, e->eps};
    if (ga) tg__parallel_for(e->rows, ln_grain(e->D), ln_bw_range, &j);
    if (gw || gb) { /* sums over rows: one thread, row after row */
        if (o->dtype == TG_F32) ln_bw_wb_f32(&j, e->rows);
        else ln_bw_wb_f64(&j, e->rows);
    }
    return true;
}

/* Graph backward, from ops (so it can be differentiated again):
 *   xhat = (a - mean) * rstd,  h = g * w (or g)
 *   d a = rstd * (h - mean(h) - xhat * mean(h * xhat))
 *   d w = sum over rows of g * xhat,  d b = sum over rows of g */
tg_tensor *tg__vjp_layer_norm(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    const ln_ext *e = ln_get(o);
    tg_tensor *a = ax->in[0], *w = e->hw ? ax->in[1] : NULL;
    if (e->hb && i == 1 + e->hw) return tg__sum_like(g, ax->in[i]);
    int axes[TG_MAX_RANK], na = e->naxes;
    for (int k = 0; k < na; k++) axes[k] = a->rank - na + k;
    tg_tensor *xc = tg_sub(a, tg_mean_axes(a, na, axes, true));
    tg_tensor *rstd =
        tg_pow_scalar(tg_add_scalar(tg_mean_axes(tg_mul(xc, xc), na, axes, true), e->eps), -0.5);
    tg_tensor *xhat = tg_mul(xc, rstd);
    if (i == 1) return tg__sum_like(tg_mul(g, xhat), w);
    tg_tensor *h = w ? tg_mul(g, w) : g;
    tg_tensor *t = tg_sub(tg_sub(h, tg_mean_axes(h, na, axes, true)),
                          tg_mul(xhat, tg_mean_axes(tg_mul(h, xhat), na, axes, true)));
    return tg_mul(rstd, t);
}

/* ------------------------------------------------------------ batch_norm */

/*   batch_norm  y = xhat * w[c] + b[c], xhat = (a - mean[c]) * rstd[c], over
 *               [N, C, S...]; training: the batch's mean and biased
 *               variance, eval: the running statistics (constants)
 *   d a  training: rstd * (h - mean(h) - xhat * mean(h * xhat)), h = g w[c]
 *        eval:     g * w[c] * rstd[c]
 *   d w = sum of g * xhat,  d b = sum of g   (over every axis but 1)
 * A fused record (inputs a, then w and b when given); it keeps the
 * per-channel mean and rstd (in f64) for the backward. */
typedef struct bn_ext {
    bool training, hw, hb;
    double eps;
    int64_t N, C, S;     /* a viewed as [N, C, S] */
    double *mean, *rstd; /* [C] each */
} bn_ext;

typedef struct bn_job {
    const bn_ext *e;
    const void *x, *w, *b;
    void *y;
    const void *g;
    void *ga, *gw, *gb;
} bn_job;

#define DEF_BN(T, SUF)                                                         \
    /* sum of g * (x - m) */                                                   \
    static T dotc_##SUF(const T *g, const T *x, T m, int64_t n) {              \
        T s[8] = {0};                                                          \
        int64_t k = 0;                                                         \
        for (; k + 8 <= n; k += 8)                                             \
            for (int l = 0; l < 8; l++) s[l] += g[k + l] * (x[k + l] - m);     \
        for (; k < n; k++) s[0] += g[k] * (x[k] - m);                          \
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
    }                                                                          \
    /* the batch statistics: two passes per channel, rows summed in f64 */    \
    static void bn_stats_##SUF(const bn_job *j) {                              \
        const bn_ext *e = j->e;                                                \
        int64_t N = e->N, C = e->C, S = e->S;                                  \
        double cnt = (double)(N * S);                                          \
        for (int64_t c = 0; c < C; c++) {                                      \
            double s = 0, q = 0;                                               \
            for (int64_t nn = 0; nn < N; nn++)                                 \
                s += dot_##SUF((const T *)j->x + (nn * C + c) * S, NULL, S);   \
            double mu = s / cnt;                                               \
            for (int64_t nn = 0; nn < N; nn++)                                 \
                q += sqdev_##SUF((const T *)j->x + (nn * C + c) * S, (T)mu, S); \
            e->mean[c] = mu;                                                   \
            e->rstd[c] = 1 / sqrt(q / cnt + e->eps);                           \
        }                                                                      \
    }                                                                          \
    CLONES static void bn_fwd_##SUF(const bn_job *j) {                         \
        const bn_ext *e = j->e;                                                \
        int64_t N = e->N, C = e->C, S = e->S;                                  \
        const T *w = j->w, *b = j->b;                                          \
        for (int64_t nn = 0; nn < N; nn++)                                     \
            for (int64_t c = 0; c < C; c++) {                                  \
                const T *restrict x = (const T *)j->x + (nn * C + c) * S;      \
                T *restrict y = (T *)j->y + (nn * C + c) * S;                  \
                T sc = (T)e->rstd[c] * (w ? w[c] : (T)1);                      \
                T m = (T)e->mean[c], sh = b ? b[c] : (T)0;                     \
                for (int64_t k = 0; k < S; k++) y[k] = (x[k] - m) * sc + sh;   \
            }                                                                  \
    }                                                                          \
    CLONES static void bn_bw_##SUF(const bn_job *j) {                          \
        const bn_ext *e = j->e;                                                \
        int64_t N = e->N, C = e->C, S = e->S;                                  \
        const T *w = j->w;                                                     \
        T *gw = j->gw, *gb = j->gb;                                            \
        double cnt = (double)(N * S);                                          \
        for (int64_t c = 0; c < C; c++) {                                      \
            T m = (T)e->mean[c], r = (T)e->rstd[c], wc = w ? w[c] : (T)1;      \
            double sg = 0, sgx = 0; /* sum g, sum g (x - m) */                 \
            if (gb || gw || (j->ga && e->training))                            \
                for (int64_t nn = 0; nn < N; nn++) {                           \
                    const T *x = (const T *)j->x + (nn * C + c) * S;           \
                    const T *g = (const T *)j->g + (nn * C + c) * S;           \
                    sg += dot_##SUF(g, NULL, S);                               \
                    sgx += dotc_##SUF(g, x, m, S);                             \
                }                                                              \
            if (gb) gb[c] += (T)sg;                                            \
            if (gw) gw[c] += (T)(sgx * r);                                     \
            if (!j->ga) continue;                                              \
            T m1 = e->training ? (T)(sg * wc / cnt) : 0;                       \
            T m2 = e->training ? (T)(sgx * r * wc / cnt) : 0;                  \
            for (int64_t nn = 0; nn < N; nn++) {                               \
                const T *restrict x = (const T *)j->x + (nn * C + c) * S;      \
                const T *restrict g = (const T *)j->g + (nn * C + c) * S;      \
                T *restrict ga = (T *)j->ga + (nn * C + c) * S;                \
                T gr = wc * r;                                                 \
                if (e->training)                                               \
                    for (int64_t k = 0; k < S; k++)                            \
                        ga[k] += r * (g[k] * wc - m1 - (x[k] - m) * r * m2);   \
                else                                                           \
                    for (int64_t k = 0; k < S; k++) ga[k] += g[k] * gr;        \
            }                                                                  \
        }                                                                      \
    }
DEF_BN(float, f32)
DEF_BN(double, f64)


/* A running statistic: NULL, or a parameter / tape tensor of shape [C]
 * and a's dtype. */
static bool check_stat(tg_tape *tape, const tg_tensor *s, const char *what, const tg_tensor *a) {
    if (!s) return true;
    char b0[160], b1[160];
    if (!(s->flags & TGF_PARAM) && (s->tape != tape || s->gen != tape->gen))
        return tg__fail(tape, TG_ERR_STALE, "batch_norm",
                        "%s is stale or from another tape (input %s)", what,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape)),
               false;
    if (s->rank != 1 || s->shape[0] != a->shape[1] || s->dtype != a->dtype)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm",
                        "%s is %s %s; input %s %s needs [%lld] of the same dtype", what,
                        dt_name(s->dtype), tg__shape_str(b1, sizeof b1, s->rank, s->shape),
                        dt_name(a->dtype), tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        (long long)a->shape[1]),
               false;
    return true;
}

tg_tensor *tg_batch_norm(tg_tensor *a, tg_tensor *weight, tg_tensor *bias,
                         tg_tensor *running_mean, tg_tensor *running_var, bool training,
                         double momentum, double eps) {
    tg_tensor *in[3] = {a, weight, bias};
    int n = 1;
    if (weight) in[n++] = weight;
    if (bias) in[n++] = bias;
    tg_tape *tape = tg__check("batch_norm", n, in, true);
    if (!tape) return NULL;
    a = in[0];
    n = 1;
    if (weight) weight = in[n++];
    if (bias) bias = in[n++];
    char b0[160], b1[160];
    if (a->rank < 2)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm", "input %s is not [N, C, ...]",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    int64_t C = a->shape[1];
    const tg_tensor *bad = weight && !has_shape(weight, 1, &C) ? weight
                           : bias && !has_shape(bias, 1, &C) ? bias : NULL;
    if (bad)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm", "%s %s does not match [%lld] of input %s",
                        bad == weight ? "weight" : "bias",
                        tg__shape_str(b1, sizeof b1, bad->rank, bad->shape), (long long)C,
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    if (!check_stat(tape, running_mean, "running_mean", a) ||
        !check_stat(tape, running_var, "running_var", a))
        return NULL;
    if (!training && (!running_mean || !running_var))
        return tg__fail(tape, TG_ERR_NULL, "batch_norm",
                        "eval mode needs running_mean and running_var (input %s)",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    int64_t count = a->shape[0]; /* values per channel: N * S */
    for (int d = 2; d < a->rank; d++) count *= a->shape[d];
    if (training && count <= 1)
        return tg__fail(tape, TG_ERR_SHAPE, "batch_norm",
                        "training needs more than 1 value per channel, input is %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape));
    size_t head = (sizeof(tg_auxin) + (size_t)n * sizeof(tg_tensor *) + 7) & ~(size_t)7;
    char *blk = tg__arena(tape, head + sizeof(bn_ext) + 2 * (size_t)(C ? C : 1) * sizeof(double),
                          "batch_norm");
    if (!blk) return NULL;
    tg_auxin *ax = (tg_auxin *)blk;
    ax->n = n;
    for (int i = 0; i < n; i++) ax->in[i] = in[i];
    bn_ext *e = (bn_ext *)(blk + head);
    e->training = training, e->hw = weight != NULL, e->hb = bias != NULL, e->eps = eps;
    e->N = a->shape[0], e->C = C, e->S = 1;
    for (int d = 2; d < a->rank; d++) e->S *= a->shape[d];
    e->mean = (double *)(blk + head + sizeof(bn_ext));
    e->rstd = e->mean + C;
    tg_tensor *out = tg__out(tape, TG_OP_BATCH_NORM, a->dtype, a->rank, a->shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__set_req(out, n, ax->in);
    bn_job j = {e, a->data, weight ? weight->data : NULL, bias ? bias->data : NULL, out->data,
                NULL, NULL, NULL, NULL};
    if (training) {
        if (a->dtype == TG_F32) bn_stats_f32(&j);
        else bn_stats_f64(&j);
        /* running = (1 - m) running + m batch, with the unbiased variance */
        double unb = (double)count / (double)(count - 1);
        for (int64_t c = 0; c < C; c++) {
            double mu = e->mean[c], r = e->rstd[c], v = (1 / (r * r) - eps) * unb;
            if (running_mean) {
                if (a->dtype == TG_F32) {
                    float *rm = running_mean->data;
                    rm[c] = (float)((1 - momentum) * rm[c] + momentum * mu);
                } else {
                    double *rm = running_mean->data;
                    rm[c] = (1 - momentum) * rm[c] + momentum * mu;
                }
            }
            if (running_var) {
                if (a->dtype == TG_F32) {
                    float *rv = running_var->data;
                    rv[c] = (float)((1 - momentum) * rv[c] + momentum * v);
                } else {
                    double *rv = running_var->data;
                    rv[c] = (1 - momentum) * rv[c] + momentum * v;
                }
            }
        }
    } else {
        for (int64_t c = 0; c < C; c++) {
            double m = a->dtype == TG_F32 ? ((const float *)running_mean->data)[c]
                                          : ((const double *)running_mean->data)[c];
            double v = a->dtype == TG_F32 ? ((const float *)running_var->data)[c]
                                          : ((const double *)running_var->data)[c];
            e->mean[c] = m, e->rstd[c] = 1 / sqrt(v + eps);
        }
    }
    if (a->dtype == TG_F32) bn_fwd_f32(&j);
    else bn_fwd_f64(&j);
    return out;
}

static bn_ext *bn_get(const tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    size_t head = (sizeof(tg_auxin) + (size_t)ax->n * sizeof(tg_tensor *) + 7) & ~(size_t)7;
    return (bn_ext *)((char *)o->u.aux + head);
}

bool tg__bw_batch_norm(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    const bn_ext *e = bn_get(o);
    tg_tensor *a = ax->in[0], *w = e->hw ? ax->in[1] : NULL, *b = e->hb ? ax->in[1 + e->hw] : NULL;
    void *ga = tg__gacc(a), *gw = w ? tg__gacc(w) : NULL, *gb = b ? tg__gacc(b) : NULL;
    if (((a->flags & TGF_REQ) && !ga) || (w && (w->flags & TGF_REQ) && !gw) ||
        (b && (b->flags & TGF_REQ) && !gb))
        return false;
    bn_job j = {e, a->data, w ? w->data : NULL, NULL, NULL, o->grad, ga, gw, gb};
    if (o->dtype == TG_F32) bn_bw_f32(&j);
    else bn_bw_f64(&j);
    return true;
}

/* Graph backward, from ops. Training (batch statistics, which depend on a):
 *   d a = rstd * (h - mean(h) - xhat * mean(h * xhat)),  h = g * w
 * eval (running statistics are constants): d a = g * w * rstd.
 * Both: d w = sum of g * xhat, d b = sum of g, over every axis but 1. */
tg_tensor *tg__vjp_batch_norm(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    const bn_ext *e = bn_get(o);
    tg_tensor *a = ax->in[0], *w = e->hw ? ax->in[1] : NULL;
    int axes[TG_MAX_RANK], nax = 0;
    int64_t cshape[TG_MAX_RANK];
    for (int d = 0; d < a->rank; d++) {
        cshape[d] = d == 1 ? e->C : 1;
        if (d != 1) axes[nax++] = d;
    }
    if (e->hb && i == 1 + e->hw) return tg_sum_axes(g, nax, axes, false);
    tg_tensor *xhat, *rstd;
    if (e->training) {
        tg_tensor *xc = tg_sub(a, tg_mean_axes(a, nax, axes, true));
        tg_tensor *var = tg_mean_axes(tg_mul(xc, xc), nax, axes, true);
        rstd = tg_pow_scalar(tg_add_scalar(var, e->eps), -0.5);
        xhat = tg_mul(xc, rstd);
    } else {
        tg_tensor *m = tg__wrap(o->tape, a->dtype, a->rank, cshape, NULL);
        rstd = tg__wrap(o->tape, a->dtype, a->rank, cshape, NULL);
        if (!m || !rstd) return NULL;
        for (int64_t c = 0; c < e->C; c++) {
            if (a->dtype == TG_F32) {
                ((float *)m->data)[c] = (float)e->mean[c];
                ((float *)rstd->data)[c] = (float)e->rstd[c];
            } else {
                ((double *)m->data)[c] = e->mean[c];
                ((double *)rstd->data)[c] = e->rstd[c];
            }
        }
        xhat = i == 1 ? tg_mul(tg_sub(a, m), rstd) : NULL;
    }
    if (i == 1) return tg_sum_axes(tg_mul(g, xhat), nax, axes, false);
    tg_tensor *h = w ? tg_mul(g, tg_reshape(w, a->rank, cshape)) : g;
    if (!e->training) return tg_mul(h, rstd);
    tg_tensor *t = tg_sub(tg_sub(h, tg_mean_axes(h, nax, axes, true)),
                          tg_mul(xhat, tg_mean_axes(tg_mul(h, xhat), nax, axes, true)));
    return tg_mul(rstd, t);
}
