/* sumsq.c - the sum of squares over axes, fused: one pass forward, one
 * backward, no [a]-sized square in between.
 *
 *   op                 out (over the reduced axes A)   d/da
 *   sum_squares        sum_A a^2                       2 a g (g broadcast back over A)
 *
 * The record is a reduction record (reduce.h: the axes' bit mask and
 * keepdim in u.i). When the reduced axes are the trailing ones (a row
 * norm^2, the usual case) both passes are row kernels built per SIMD level
 * (sumsq_simd.h, which also fixes the order of a row's adds), on the pool;
 * any other set walks rows with tg_rows.
 */
#include "tg_internal.h"
#include "op_common.h"
#include "reduce.h"
#include "sumsq_simd.h"

#include <string.h>

/* each level's row kernels; a level the build lacks has none, and
 * tg__simd_level() never returns it */
static const sumsq_kern *const kern_at[3] = {
    [TG_SIMD_PORTABLE] = &tg__sumsq_kern_portable,
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = &tg__sumsq_kern_avx2,
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = &tg__sumsq_kern_avx512,
#endif
};

/* The length L of the trailing reduced block when the reduced axes are
 * exactly the last ones (a viewed as [numel / L, L]); 0 otherwise. */
static int64_t trailing_len(const tg_tensor *a, int64_t mask) {
    int d = a->rank;
    int64_t len = 1;
    while (d > 0 && (mask >> (d - 1)) & 1) len *= a->shape[--d];
    for (int e = 0; e < d; e++)
        if ((mask >> e) & 1) return 0;
    return len;
}

tg_tensor *tg_sum_squares(tg_tensor *a, int naxes, const int *axes, bool keepdim) {
    int64_t mask, kshape[TG_MAX_RANK], oshape[TG_MAX_RANK];
    int orank;
    tg_tape *tape =
        tg__red_check("sum_squares", &a, naxes, axes, keepdim, &mask, kshape, &orank, oshape);
    tg_tensor *out =
        tape ? red_out(tape, TG_OP_SUM_SQUARES, a->dtype, a, mask, keepdim, orank, oshape) : NULL;
    if (!out) return NULL;
    int64_t m = tg__numel(out), len = trailing_len(a, mask);
    if (len > 0 || m == 0) { /* a viewed as [m, len] */
        ssq_job j = {.dt = a->dtype, .L = len, .rows = m, .x = a->data, .y = out->data};
        if (m) tg__parallel_for(m, row_grain(len), kern_at[tg__simd_level()]->fwd, &j);
        return tg__handle(out);
    }
    /* f32 elements add up in double, as sum does (tg__reduce_into) */
#define SSQ(T)                                                                 \
    do {                                                                       \
        T *restrict d = (T *)out->data;                                        \
        double *acc = tg__arena_n(tape, m, sizeof(double), "sum_squares");     \
        if (!acc) return NULL;                                                 \
        memset(acc, 0, (size_t)m * sizeof *acc);                               \
        RED_WALK(T, a, kshape, acc[oi] += (double)x * x;);                     \
        for (int64_t i = 0; i < m; i++) d[i] = (T)acc[i];                      \
    } while (0)
    TG_FLOAT_CASES(a->dtype, SSQ);
#undef SSQ
    return tg__handle(out);
}

/* The graph backward: 2 a g, from public ops. */
tg_tensor *tg__vjp_sum_squares(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    int64_t kshape[TG_MAX_RANK];
    kept_shape(o, kshape);
    return tg_mul(tg_mul_scalar(o->in0, 2.0), tg_reshape(g, o->in0->rank, kshape));
}

/* d a += 2 a g, g broadcast back over the reduced axes. */
bool tg__bw_sum_squares(tg_tensor *o) {
    bool w; /* fresh: every element is written once, so write, don't add */
    void *ga = tg__gacc_w(o->in0, &w);
    if (!ga) return false;
    const tg_tensor *a = o->in0;
    int64_t m = tg__numel(o), len = trailing_len(a, red_mask(o));
    if (len > 0 || m == 0) {
        ssq_job j = {.dt = a->dtype, .L = len, .rows = m, .x = a->data, .g = o->grad,
                     .gx = ga, .fresh = w};
        if (m && len) tg__parallel_for(m, row_grain(len), kern_at[tg__simd_level()]->bw, &j);
        return true;
    }
#define SSQ_BW(T)                                                              \
    do {                                                                       \
        const T *restrict g = (const T *)o->grad;                              \
        T *restrict d = (T *)ga;                                               \
        int64_t kshape[TG_MAX_RANK];                                           \
        kept_shape(o, kshape);                                                 \
        if (w)                                                                 \
            RED_WALK(T, a, kshape, d[k] = 2 * g[oi] * x;);                     \
        else                                                                   \
            RED_WALK(T, a, kshape, d[k] += 2 * g[oi] * x;);                    \
    } while (0)
    TG_FLOAT_CASES(o->dtype, SSQ_BW);
#undef SSQ_BW
    return true;
}
