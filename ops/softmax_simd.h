/* softmax_simd.h - the row kernels of softmax.c, one variant per SIMD
 * level.
 *
 * softmax.c includes this file for the interface: the jobs, and each
 * level's table of kernels (tg_range_fn over rows, for tg__parallel_for),
 * of which it calls the one of tg__simd_level(). ops/softmax_portable.c,
 * softmax_avx2.c and softmax_avx512.c define SOFTMAX_KERN (the name of
 * their level's table) and include it for the implementation:
 * the kernels for f32 and f64, and the table. ops/meson.build compiles
 * each of those files with its level's flags, only where the compiler
 * builds that level (TG_HAVE_AVX2, TG_HAVE_AVX512).
 */
#ifndef TG_SOFTMAX_SIMD_H
#define TG_SOFTMAX_SIMD_H

#include "rowkern.h"
#include "vmath.h"

/* softmax, log_softmax: rows [lo, hi) of a [outer, L, inner] tensor */
typedef struct sm_job {
    int dt;
    bool log;
    int64_t L, inner;
    const void *a, *y, *g; /* forward: a -> y; backward: y, g -> ga */
    void *out;
} sm_job;

/* softmax_cross_entropy: rows [lo, hi) of [N, C] logits */
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

/* logsumexp over the middle axis of a [outer, L, inner] tensor: rows
 * [lo, hi) of outer (extrema.c) */
typedef struct lse_job {
    int dt;
    int64_t L, inner;
    const void *a;   /* [outer, L, inner] */
    void *out;       /* forward: [outer, inner] lse; backward: its value */
    const void *g;   /* backward: [outer, inner] */
    void *ga;        /* backward: [outer, L, inner], added into */
} lse_job;

typedef struct softmax_kern {
    tg_range_fn sm_fwd, sm_bw;   /* ctx: an sm_job */
    tg_range_fn ce_fwd, ce_bw;   /* ctx: a ce_job */
    tg_range_fn lse_fwd, lse_bw; /* ctx: an lse_job */
    /* y[i] = e^x[i], i < n (tg__vexp_f64 / tg__vexp_f32; y may be x) */
    void (*exp_f64)(const double *x, double *y, int64_t n);
    void (*exp_f32)(const float *x, float *y, int64_t n);
} softmax_kern;

/* Runs lse_fwd (bw false) or lse_bw over the outer rows of j at the
 * library's SIMD level, split over threads when large (softmax.c; for
 * extrema.c's logsumexp). */
void tg__lse_rows(bool bw, lse_job *j, int64_t outer);

extern const softmax_kern tg__softmax_kern_portable;
#if defined(TG_HAVE_AVX2)
extern const softmax_kern tg__softmax_kern_avx2;
#endif
#if defined(TG_HAVE_AVX512)
extern const softmax_kern tg__softmax_kern_avx512;
#endif

#endif /* TG_SOFTMAX_SIMD_H */

/* ---------------------------------------------- one level's implementation */
#if defined(SOFTMAX_KERN)

#include <math.h>

/* Rows of a [outer, L, inner] tensor. inner == 1 (softmax over the last
 * axis, the common case) walks contiguous rows; otherwise the kernels walk
 * the inner axis in blocks of BLK columns with the row statistics on the
 * stack. Every loop is written so that the compiler vectorizes it: sums
 * and maxima over a row use 8 lanes (rowkern.h), and e^x is vmath.h's
 * branch-free tg__vexp_f32 / tg__vexp_f64 instead of libm's scalar expf / exp. */
#define BLK 64

NO_TRAP_BEGIN
#define DEF_SOFTMAX(T, SUF, EXPF, LOGF)                                        \
    static void sm_fwd_##SUF(const sm_job *j, int64_t lo, int64_t hi) {        \
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
    static void sm_bw_##SUF(const sm_job *j, int64_t lo, int64_t hi) {         \
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
DEF_ROW_MAX(float, f32)
DEF_ROW_DOT(float, f32)
DEF_SOFTMAX(float, f32, tg__vexp_f32, logf)
DEF_ROW_MAX(double, f64)
DEF_ROW_DOT(double, f64)
DEF_SOFTMAX(double, f64, tg__vexp_f64, log)
NO_TRAP_END

DEF_ROW_RANGE(sm_fwd, sm_job)
DEF_ROW_RANGE(sm_bw, sm_job)

NO_TRAP_BEGIN
#define DEF_CE(T, SUF, EXPF, LOGF)                                             \
    static void ce_fwd_##SUF(const ce_job *j, int64_t lo, int64_t hi) {        \
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
    static void ce_bw_##SUF(const ce_job *j, int64_t lo, int64_t hi) {         \
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
DEF_CE(float, f32, tg__vexp_f32, logf)
DEF_CE(double, f64, tg__vexp_f64, log)
NO_TRAP_END

DEF_ROW_RANGE(ce_fwd, ce_job)
DEF_ROW_RANGE(ce_bw, ce_job)

NO_TRAP_BEGIN
/* logsumexp: out = m + ln sum e^(a - m) over L (m the max, 0 where it is
 * infinite, as PyTorch; sums in f64 for both dtypes, 8 lanes); backward
 * ga += g e^(a - out), nothing for a row whose out is -inf. */
#define LSE_CH 512
#define DEF_LSE(T, SUF, EXPF)                                                  \
    /* the rows from r (inner 1, L <= LSE_CH) that fit in LSE_CH elements, \
     * before hi: e^ in one flat loop over all their elements, whatever L,  \
     * so that short rows vectorize too */                                    \
    static void lse_rows_fwd_##SUF(const lse_job *j, int64_t r, int64_t hi) { \
        int64_t L = j->L, nr = LSE_CH / L < hi - r ? LSE_CH / L : hi - r, n = nr * L; \
        const T *restrict x = (const T *)j->a + r * L;                         \
        T mb[LSE_CH], e[LSE_CH], ms[LSE_CH];                                   \
        for (int64_t i = 0; i < nr; i++) {                                     \
            T m = max_##SUF(x + i * L, L);                                     \
            ms[i] = m = isinf(m) ? 0 : m;                                      \
            for (int64_t k = 0; k < L; k++) mb[i * L + k] = m;                 \
        }                                                                      \
        for (int64_t k = 0; k < n; k++) e[k] = EXPF(x[k] - mb[k]);             \
        for (int64_t i = 0; i < nr; i++) {                                     \
            const T *er = e + i * L;                                           \
            double s[8] = {0};                                                 \
            int64_t k = 0;                                                     \
            for (; k + 8 <= L; k += 8)                                         \
                for (int l = 0; l < 8; l++) s[l] += er[k + l];                 \
            for (; k < L; k++) s[0] += er[k];                                  \
            double S = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
            ((T *)j->out)[r + i] = (T)(log(S) + ms[i]);                        \
        }                                                                      \
    }                                                                          \
    /* a row whose out is -inf (every element -inf) gets g = 0, out = 0:    \
     * 0 e^-inf adds 0 */                                                     \
    static void lse_rows_bw_##SUF(const lse_job *j, int64_t r, int64_t hi) {  \
        int64_t L = j->L, nr = LSE_CH / L < hi - r ? LSE_CH / L : hi - r, n = nr * L; \
        const T *restrict x = (const T *)j->a + r * L;                         \
        T *restrict ga = (T *)j->ga + r * L;                                   \
        T zb[LSE_CH], gb[LSE_CH];                                              \
        for (int64_t i = 0; i < nr; i++) {                                     \
            T z = ((const T *)j->out)[r + i], g = ((const T *)j->g)[r + i];    \
            bool dead = z == -(T)INFINITY;                                     \
            for (int64_t k = 0; k < L; k++)                                    \
                zb[i * L + k] = dead ? 0 : z, gb[i * L + k] = dead ? 0 : g;    \
        }                                                                      \
        for (int64_t k = 0; k < n; k++) ga[k] += gb[k] * EXPF(x[k] - zb[k]);   \
    }                                                                          \
    /* ga += g e^(a - out), row by row; a column whose out is -inf: none */  \
    static void lse_bw_##SUF(const lse_job *j, int64_t lo, int64_t hi) {       \
        int64_t L = j->L, inner = j->inner;                                    \
        for (int64_t ob = lo; ob < hi; ob++) {                                 \
            const T *restrict x = (const T *)j->a + ob * L * inner;            \
            const T *restrict z = (const T *)j->out + ob * inner;              \
            const T *restrict g = (const T *)j->g + ob * inner;                \
            T *restrict ga = (T *)j->ga + ob * L * inner;                      \
            if (inner == 1) {                                                  \
                T zr = z[0], gr = g[0];                                        \
                if (zr == -(T)INFINITY) continue;                              \
                for (int64_t k = 0; k < L; k++) ga[k] += gr * EXPF(x[k] - zr); \
                continue;                                                      \
            }                                                                  \
            for (int64_t k = 0; k < L; k++) {                                  \
                const T *xr = x + k * inner;                                   \
                T *dr = ga + k * inner;                                        \
                for (int64_t i = 0; i < inner; i++) {                          \
                    T e = g[i] * EXPF(xr[i] - z[i]);                           \
                    dr[i] += z[i] == -(T)INFINITY ? 0 : e;                     \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    static void lse_fwd_##SUF(const lse_job *j, int64_t lo, int64_t hi) {      \
        int64_t L = j->L, inner = j->inner;                                    \
        for (int64_t ob = lo; ob < hi; ob++) {                                 \
            const T *restrict x = (const T *)j->a + ob * L * inner;            \
            T *restrict out = (T *)j->out + ob * inner;                        \
            if (inner == 1) {                                                  \
                T m = max_##SUF(x, L);                                         \
                m = isinf(m) ? 0 : m;                                          \
                double s[8] = {0};                                             \
                int64_t k = 0;                                                 \
                for (; k + 8 <= L; k += 8)                                     \
                    for (int l = 0; l < 8; l++) s[l] += EXPF(x[k + l] - m);    \
                for (; k < L; k++) s[0] += EXPF(x[k] - m);                     \
                double S = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
                out[0] = (T)(log(S) + m);                                      \
                continue;                                                      \
            }                                                                  \
            for (int64_t i0 = 0; i0 < inner; i0 += BLK) {                      \
                int64_t w = inner - i0 < BLK ? inner - i0 : BLK;               \
                T m[BLK];                                                      \
                double s[BLK];                                                 \
                for (int64_t i = 0; i < w; i++) m[i] = x[i0 + i], s[i] = 0;    \
                for (int64_t k = 1; k < L; k++) {                              \
                    const T *xr = x + k * inner + i0;                          \
                    for (int64_t i = 0; i < w; i++) m[i] = xr[i] > m[i] ? xr[i] : m[i]; \
                }                                                              \
                for (int64_t i = 0; i < w; i++) m[i] = isinf(m[i]) ? 0 : m[i]; \
                for (int64_t k = 0; k < L; k++) {                              \
                    const T *xr = x + k * inner + i0;                          \
                    for (int64_t i = 0; i < w; i++) s[i] += EXPF(xr[i] - m[i]); \
                }                                                              \
                for (int64_t i = 0; i < w; i++) out[i0 + i] = (T)(log(s[i]) + m[i]); \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    static void exp_##SUF(const T *x, T *y, int64_t n) {                       \
        for (int64_t i = 0; i < n; i++) y[i] = EXPF(x[i]);                     \
    }
DEF_LSE(float, f32, tg__vexp_f32)
DEF_LSE(double, f64, tg__vexp_f64)
NO_TRAP_END

/* rows [lo, hi) of an lse_job: short rows (inner 1) by chunks, the rest
 * row by row */
#define DEF_LSE_RANGE(DIR)                                                     \
    static void lse_##DIR##_range(void *ctx, int64_t lo, int64_t hi) {         \
        const lse_job *j = ctx;                                                \
        bool f32 = j->dt == TG_F32;                                            \
        if (j->inner == 1 && j->L <= LSE_CH)                                   \
            for (int64_t ob = lo; ob < hi; ob += LSE_CH / j->L)                \
                (f32 ? lse_rows_##DIR##_f32 : lse_rows_##DIR##_f64)(j, ob, hi); \
        else                                                                   \
            (f32 ? lse_##DIR##_f32 : lse_##DIR##_f64)(j, lo, hi);              \
    }
DEF_LSE_RANGE(fwd)
DEF_LSE_RANGE(bw)

const softmax_kern SOFTMAX_KERN = {sm_fwd_range, sm_bw_range, ce_fwd_range, ce_bw_range,
                                   lse_fwd_range, lse_bw_range, exp_f64, exp_f32};

#endif /* SOFTMAX_KERN */
