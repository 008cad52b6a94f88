/* norm_simd.h - the kernels of norm.c (layer_norm, batch_norm), one
 * variant per SIMD level.
 *
 * norm.c includes this file for the interface: the jobs, and each level's
 * table of kernels, of which it calls the one of tg__simd_level().
 * ops/norm_portable.c, norm_avx2.c and norm_avx512.c define NORM_KERN (the
 * name of their level's table) and include it for the implementation: the
 * kernels for f32 and f64, and the table. ops/meson.build compiles each of
 * those files with its level's flags, only where the compiler builds that
 * level (TG_HAVE_AVX2, TG_HAVE_AVX512).
 */
#ifndef TG_NORM_SIMD_H
#define TG_NORM_SIMD_H

#include "rowkern.h"

/* layer_norm: rows of D elements */
typedef struct ln_job {
    int dt;
    int64_t D, rows;
    const void *x, *w, *b;
    void *y, *stats;
    const void *g;
    void *ga, *gw, *gb;
    double eps;
} ln_job;

/* batch_norm: a viewed as [N, C, S] */
typedef struct bn_ext {
    bool training, hw, hb;
    double eps;
    int64_t N, C, S;     /* a viewed as [N, C, S] */
    double *mean, *rstd; /* [C] each */
} bn_ext;

typedef struct bn_job {
    int dt;
    const bn_ext *e;
    const void *x, *w, *b;
    void *y;
    const void *g;
    void *ga, *gw, *gb;
} bn_job;

typedef struct norm_kern {
    tg_range_fn ln_fwd, ln_bw;        /* rows [lo, hi) of an ln_job */
    void (*ln_bw_wb)(const ln_job *); /* d w and d b: sums over all rows */
    void (*bn_stats)(const bn_job *); /* the batch's mean and rstd into e */
    void (*bn_fwd)(const bn_job *);
    void (*bn_bw)(const bn_job *);
} norm_kern;

extern const norm_kern tg__norm_kern_portable;
#if defined(TG_HAVE_AVX2)
extern const norm_kern tg__norm_kern_avx2;
#endif
#if defined(TG_HAVE_AVX512)
extern const norm_kern tg__norm_kern_avx512;
#endif

#endif /* TG_NORM_SIMD_H */

/* ---------------------------------------------- one level's implementation */
#if defined(NORM_KERN)

#include <math.h>

NO_TRAP_BEGIN
DEF_ROW_DOT(float, f32)
DEF_ROW_DOT(double, f64)
NO_TRAP_END

#define DEF_LN(T, SUF, SQRTF)                                                  \
    static T sqdev_##SUF(const T *x, T mu, int64_t n) {                        \
        T s[8] = {0};                                                          \
        int64_t k = 0;                                                         \
        for (; k + 8 <= n; k += 8)                                             \
            for (int l = 0; l < 8; l++) s[l] += (x[k + l] - mu) * (x[k + l] - mu); \
        for (; k < n; k++) s[0] += (x[k] - mu) * (x[k] - mu);                  \
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
    }                                                                          \
    static void ln_fwd_##SUF(const ln_job *j, int64_t lo, int64_t hi) {        \
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
    static void ln_bw_##SUF(const ln_job *j, int64_t lo, int64_t hi) {         \
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
    static void ln_bw_wb_##SUF(const ln_job *j) {                              \
        int64_t D = j->D;                                                      \
        const T *mean = j->stats, *rstd = (const T *)j->stats + j->rows;       \
        T *restrict gw = j->gw, *restrict gb = j->gb;                          \
        for (int64_t r = 0; r < j->rows; r++) {                                \
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

DEF_ROW_RANGE(ln_fwd, ln_job)
DEF_ROW_RANGE(ln_bw, ln_job)
DEF_JOB_FN(ln_bw_wb, ln_job)

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
    static void bn_fwd_##SUF(const bn_job *j) {                                \
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
    static void bn_bw_##SUF(const bn_job *j) {                                 \
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

DEF_JOB_FN(bn_stats, bn_job)
DEF_JOB_FN(bn_fwd, bn_job)
DEF_JOB_FN(bn_bw, bn_job)

const norm_kern NORM_KERN = {ln_fwd_range, ln_bw_range, ln_bw_wb, bn_stats, bn_fwd, bn_bw};

#endif /* NORM_KERN */
