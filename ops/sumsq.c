/* sumsq.c - the sum of squares over axes, fused: one pass forward, one
 * backward, no [a]-sized square in between.
 *
 *   op                 out (over the reduced axes A)   d/da
 *   sum_squares        sum_A a^2                       2 a g (g broadcast back over A)
 *
 * The record is a reduction record (reduce.h: the axes' bit mask and
 * keepdim in u.i). When the reduced axes are the trailing ones (a row
 * norm^2, the usual case) both passes are plain 2-d loops; any other set
 * walks rows with tg_rows.
 */
#include "tg_internal.h"
#include "op_common.h"
#include "reduce.h"

#include <string.h>

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
    /* f32 rows add up in double, as sum does (tg__reduce_into) */
#define SSQ(T)                                                                 \
    do {                                                                       \
        const T *restrict xs = (const T *)a->data;                             \
        T *restrict d = (T *)out->data;                                        \
        if (len > 0 || m == 0) {                                               \
            for (int64_t i = 0; i < m; i++) {                                  \
                const T *restrict r = xs + i * len;                             \
                double acc = 0;                                                \
                for (int64_t j = 0; j < len; j++) acc += (double)r[j] * r[j];  \
                d[i] = (T)acc;                                                 \
            }                                                                  \
        } else {                                                               \
            double *acc = tg__arena_n(tape, m, sizeof(double), "sum_squares"); \
            if (!acc) return NULL;                                             \
            memset(acc, 0, (size_t)m * sizeof *acc);                           \
            RED_WALK(T, a, kshape, acc[oi] += (double)x * x;);                 \
            for (int64_t i = 0; i < m; i++) d[i] = (T)acc[i];                  \
        }                                                                      \
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
#define SSQ_BW(T)                                                              \
    do {                                                                       \
        const T *restrict xs = (const T *)a->data, *restrict g = (const T *)o->grad; \
        T *restrict d = (T *)ga;                                               \
        if (len > 0 || m == 0) {                                               \
            for (int64_t i = 0; i < m; i++) {                                  \
                T g2 = 2 * g[i];                                               \
                const T *restrict r = xs + i * len;                             \
                T *restrict dr = d + i * len;                                  \
                if (w)                                                         \
                    for (int64_t j = 0; j < len; j++) dr[j] = g2 * r[j];       \
                else                                                           \
                    for (int64_t j = 0; j < len; j++) dr[j] += g2 * r[j];      \
            }                                                                  \
        } else {                                                               \
            int64_t kshape[TG_MAX_RANK];                                       \
            kept_shape(o, kshape);                                             \
            if (w)                                                             \
                RED_WALK(T, a, kshape, d[k] = 2 * g[oi] * x;);                 \
            else                                                               \
                RED_WALK(T, a, kshape, d[k] += 2 * g[oi] * x;);                \
        }                                                                      \
    } while (0)
    TG_FLOAT_CASES(o->dtype, SSQ_BW);
#undef SSQ_BW
    return true;
}
