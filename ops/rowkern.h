/* rowkern.h - what the row kernels of softmax.c and norm.c (built once per
 * SIMD level by softmax_simd.h and norm_simd.h) share: sums and maxima over
 * a row in 8 lanes (so that the compiler vectorizes them), the dtype
 * dispatch for tg__parallel_for, and the grain of row loops. ops/ only.
 */
#ifndef TG_ROWKERN_H
#define TG_ROWKERN_H

#include "tg_internal.h"

/* GCC keeps float selects (a < b ? c : d) as branches under its default
 * -ftrapping-math, which stops row loops from vectorizing; nothing here
 * relies on floating-point traps. (Clang vectorizes them anyway.) Wrap the
 * kernels that need it in NO_TRAP_BEGIN ... NO_TRAP_END. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_TRAP_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"no-trapping-math\")")
#define NO_TRAP_END _Pragma("GCC pop_options")
#else
#define NO_TRAP_BEGIN
#define NO_TRAP_END
#endif

/* max_SUF(x, n): the largest of x[0..n), n >= 1. */
#define DEF_ROW_MAX(T, SUF)                                                    \
    static T max_##SUF(const T *x, int64_t n) { /* n >= 1 */                  \
        T m[8];                                                                \
        for (int l = 0; l < 8; l++) m[l] = x[0];                               \
        int64_t k = 0;                                                         \
        for (; k + 8 <= n; k += 8)                                             \
            for (int l = 0; l < 8; l++) m[l] = x[k + l] > m[l] ? x[k + l] : m[l]; \
        for (; k < n; k++) m[0] = x[k] > m[0] ? x[k] : m[0];                   \
        for (int l = 1; l < 8; l++) m[0] = m[l] > m[0] ? m[l] : m[0];          \
        return m[0];                                                           \
    }

/* dot_SUF(x, y, n): the sum of x[k] * (y ? y[k] : 1). */
#define DEF_ROW_DOT(T, SUF)                                                    \
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
    }

/* NAME_range(ctx, lo, hi), for tg__parallel_for: runs NAME_f32 or
 * NAME_f64 on the job (a JOB with a dtype field dt). */
#define DEF_ROW_RANGE(NAME, JOB)                                               \
    static void NAME##_range(void *ctx, int64_t lo, int64_t hi) {              \
        const JOB *j = ctx;                                                    \
        if (j->dt == TG_F32) NAME##_f32(j, lo, hi);                            \
        else NAME##_f64(j, lo, hi);                                            \
    }

/* NAME(j): runs NAME_f32 or NAME_f64 on the whole job (a JOB with a dtype
 * field dt), for kernels that do not split into rows. */
#define DEF_JOB_FN(NAME, JOB)                                                  \
    static void NAME(const JOB *j) {                                           \
        if (j->dt == TG_F32) NAME##_f32(j);                                    \
        else NAME##_f64(j);                                                    \
    }

/* Rows per piece of a row loop: about 32k elements each, so that small
 * tensors stay on the calling thread. */
static inline int64_t row_grain(int64_t per_row) {
    return per_row >= 32768 ? 1 : 32768 / (per_row ? per_row : 1);
}

#endif /* TG_ROWKERN_H */
