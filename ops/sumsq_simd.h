/* sumsq_simd.h - the row kernels of sumsq.c (tg_sum_squares over trailing
 * axes: a viewed as [rows, L]), one variant per SIMD level.
 *
 * sumsq.c includes this file for the interface: the job and each level's
 * table, of which it calls the one of tg__simd_level().
 * ops/sumsq_portable.c, sumsq_avx2.c and sumsq_avx512.c define SUMSQ_KERN
 * (the name of their level's table) and include it for the
 * implementation. ops/meson.build compiles each with its level's flags.
 *
 * The order of a row's adds, the same at every level (so the same bits):
 * element j of the row goes into lane j % 8, a double starting at +0, the
 * lanes' adds in increasing j; the row's total is
 * ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)) (halving: 8 lanes to
 * 4, to 2, to 1, as sum_order.h's sum_lanes), rounded once to the
 * dtype (f32 squares are taken and added in double). A row shorter than 8,
 * or its last partial group of 8, adds +0 into the lanes it does not
 * reach, which changes no sum (a lane is never -0). Why lanes rather than
 * one serial chain: GMM's rows are 10 and 20 long, and a chain of L
 * dependent adds per row ran on scalars (bench/README.md, GMM).
 */
#ifndef TG_SUMSQ_SIMD_H
#define TG_SUMSQ_SIMD_H

#include "rowkern.h"

/* rows [lo, hi) of a [rows, L] tensor */
typedef struct ssq_job {
    int dt;
    int64_t L, rows;
    const void *x; /* [rows, L] */
    void *y;       /* forward: [rows] */
    const void *g; /* backward: [rows] */
    void *gx;      /* backward: [rows, L] */
    bool fresh;    /* backward: gx is uninitialised: write, do not add */
} ssq_job;

typedef struct sumsq_kern {
    tg_range_fn fwd, bw; /* ctx: an ssq_job */
} sumsq_kern;

extern const sumsq_kern tg__sumsq_kern_portable;
#if defined(TG_HAVE_AVX2)
extern const sumsq_kern tg__sumsq_kern_avx2;
#endif
#if defined(TG_HAVE_AVX512)
extern const sumsq_kern tg__sumsq_kern_avx512;
#endif

#endif /* TG_SUMSQ_SIMD_H */

/* ---------------------------------------------- one level's implementation */
#if defined(SUMSQ_KERN)

#include <string.h>

/* The forward, in GCC / Clang vector types (two vectors of 4 doubles hold
 * the 8 lanes; the compiler maps them to the level's registers: with
 * element-wise loops GCC kept the lanes on the stack and the tail on
 * scalars). A row's last partial group of 8 is loaded whole when the 8
 * elements lie inside the tensor (they run into the next row) and the
 * lanes past the row's end are masked to +0, so that the group is two
 * vector loads; the rows at the tensor's end take the element-wise tail.
 * Both add the same values in the same lanes. */
typedef double ssq_v4d __attribute__((vector_size(32)));
typedef long long ssq_v4i __attribute__((vector_size(32)));
typedef float ssq_v4f __attribute__((vector_size(16)));

/* dst = 4 elements at p, as doubles (macros: a function returning a
 * vector type would have a different ABI at each level, -Wpsabi) */
#define SSQ_LOAD_f64(dst, p) memcpy(&(dst), (p), sizeof(ssq_v4d))
#define SSQ_LOAD_f32(dst, p)                                                   \
    do {                                                                       \
        ssq_v4f f_;                                                            \
        memcpy(&f_, (p), sizeof f_);                                           \
        (dst) = __builtin_convertvector(f_, ssq_v4d);                          \
    } while (0)

/* rows of LL <= 4 elements, LL known when compiled */
#define SSQ_FWD_SHORT(T, LL)                                                   \
    for (int64_t i = lo; i < hi; i++) {                                        \
        const T *r = x + i * (LL);                                             \
        double s[4] = {0, 0, 0, 0};                                            \
        for (int l = 0; l < (LL); l++) s[l] = (double)r[l] * r[l];             \
        y[i] = (T)((s[0] + s[2]) + (s[1] + s[3]));                             \
    }
#define DEF_SSQ_FWD(T, SUF)                                                    \
    /* rows of at most 4: lanes 0-3 only, on scalars, the same sums */        \
    __attribute__((noinline)) static void ssq_fwd_short_##SUF(const ssq_job *j, int64_t lo, \
                                                             int64_t hi) {    \
        const T *x = j->x;                                                     \
        T *y = j->y;                                                           \
        switch (j->L) {                                                        \
        case 1: SSQ_FWD_SHORT(T, 1); break;                                    \
        case 2: SSQ_FWD_SHORT(T, 2); break;                                    \
        case 3: SSQ_FWD_SHORT(T, 3); break;                                    \
        default: SSQ_FWD_SHORT(T, 4); break;                                   \
        }                                                                      \
    }                                                                          \
    static void ssq_fwd_##SUF(const ssq_job *j, int64_t lo, int64_t hi) {          \
        const int64_t L = j->L, end = j->rows * L;                             \
        const T *x = j->x;                                                     \
        T *y = j->y;                                                           \
        const int64_t full = L / 8 * 8, rem = L - full;                        \
        ssq_v4i m0, m1; /* all ones in the lanes a partial group reaches */    \
        for (int l = 0; l < 4; l++) {                                          \
            m0[l] = l < rem ? -1 : 0;                                          \
            m1[l] = l + 4 < rem ? -1 : 0;                                      \
        }                                                                      \
        if (L <= 4) { /* apart, so that the main loop compiles as alone */     \
            ssq_fwd_short_##SUF(j, lo, hi);                                    \
            return;                                                            \
        }                                                                      \
        for (int64_t i = lo; i < hi; i++) {                                    \
            const T *r = x + i * L;                                            \
            ssq_v4d s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0}; /* lanes 0-3, 4-7 */ \
            for (int64_t k = 0; k < full; k += 8) {                            \
                ssq_v4d a, b;                                                  \
                SSQ_LOAD_##SUF(a, r + k);                                      \
                SSQ_LOAD_##SUF(b, r + k + 4);                                  \
                s0 += a * a;                                                   \
                s1 += b * b;                                                   \
            }                                                                  \
            if (rem) {                                                         \
                ssq_v4d a, b;                                                  \
                if (i * L + full + 8 <= end) {                                 \
                    SSQ_LOAD_##SUF(a, r + full);                               \
                    SSQ_LOAD_##SUF(b, r + full + 4);                           \
                    a = (ssq_v4d)((ssq_v4i)a & m0);                            \
                    b = (ssq_v4d)((ssq_v4i)b & m1);                            \
                } else {                                                       \
                    T t[8] = {0};                                              \
                    for (int64_t l = 0; l < rem; l++) t[l] = r[full + l];      \
                    SSQ_LOAD_##SUF(a, t);                                      \
                    SSQ_LOAD_##SUF(b, t + 4);                                  \
                }                                                              \
                s0 += a * a;                                                   \
                s1 += b * b;                                                   \
            }                                                                  \
            ssq_v4d h = s0 + s1; /* lane l: s_l + s_(l+4) */                   \
            y[i] = (T)((h[0] + h[2]) + (h[1] + h[3]));                         \
        }                                                                      \
    }
DEF_SSQ_FWD(float, f32)
DEF_SSQ_FWD(double, f64)

/* The backward: gx = 2 g x (or gx += 2 g x), row by row. */
/* rows of a length known when compiled (LL), so that short rows unroll */
#define SSQ_BW_ROWS(T, LL)                                                     \
    for (int64_t i = lo; i < hi; i++) {                                        \
        T g2 = 2 * g[i];                                                       \
        const T *restrict r = x + i * (LL);                                    \
        T *restrict dr = d + i * (LL);                                         \
        if (j->fresh)                                                          \
            for (int64_t k = 0; k < (LL); k++) dr[k] = g2 * r[k];              \
        else                                                                   \
            for (int64_t k = 0; k < (LL); k++) dr[k] += g2 * r[k];             \
    }
#define DEF_SSQ_BW(T, SUF)                                                     \
    static void ssq_bw_##SUF(const ssq_job *j, int64_t lo, int64_t hi) {       \
        const int64_t L = j->L;                                                \
        const T *restrict x = j->x, *restrict g = j->g;                        \
        T *restrict d = j->gx;                                                 \
        switch (L) {                                                           \
        case 1: SSQ_BW_ROWS(T, 1); break;                                      \
        case 2: SSQ_BW_ROWS(T, 2); break;                                      \
        case 3: SSQ_BW_ROWS(T, 3); break;                                      \
        case 4: SSQ_BW_ROWS(T, 4); break;                                      \
        default: SSQ_BW_ROWS(T, L);                                            \
        }                                                                      \
    }
DEF_SSQ_BW(float, f32)
DEF_SSQ_BW(double, f64)

DEF_ROW_RANGE(ssq_fwd, ssq_job)
DEF_ROW_RANGE(ssq_bw, ssq_job)

const sumsq_kern SUMSQ_KERN = {ssq_fwd_range, ssq_bw_range};

#endif /* SUMSQ_KERN */
