/* pool.c - 2-D max and average pooling over [N, C, H, W] (or [C, H, W]).
 *
 * Windows kH x kW, stride sH x sW (0: the kernel), padding pH x pW;
 * OH = (H + 2 pH - kH) / sH + 1 (floor), the same for OW. As PyTorch:
 *
 *   op           out[p, i, j]                      d/dx (times the incoming g)
 *   max_pool2d   max of the window (the padding    g goes to the first max of
 *                is -inf: it never wins; NaN wins)  each window (its index kept)
 *   avg_pool2d   sum of the window / count         g / count to every element
 *                count = window size clipped to    of the window inside the input
 *                the padded input, or to the input
 *                itself when exclude_pad
 *
 * Both are linear in x once max pooling's indices are fixed, so each
 * backward is an op whose own backward is the forward again:
 *   max_pool2d (gather at the indices)  <->  max_pool2d_backward (scatter-add)
 *   avg_pool2d                          <->  avg_pool2d_backward (its adjoint)
 * and create-graph works. The second derivative of max pooling is zero.
 */
#include "tg_internal.h"
#include "op_common.h"
#include "fuse.h" /* a relu read through: pinned */
#include "pool_simd.h"

#include <math.h>
#include <stdatomic.h>

/* Kept in each record's aux. */
typedef struct pool_geom {
    int64_t planes, H, W, OH, OW; /* planes = N * C */
    int64_t kh, kw, sh, sw, ph, pw;
    bool exclude_pad;
    int rank;                     /* 3 or 4 */
    int64_t xshape[4], yshape[4];
    int32_t *idx;                 /* max: per output, h * W + w in its plane */
} pool_geom;

/* Planes per parallel piece: at least this many output elements. */
#define POOL_GRAIN 32768

/* The window of output (oh, ow) before clipping: rows [h0, h0 + kh). */
static inline void window(const pool_geom *g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                          int64_t *w0, int64_t *w1) {
    *h0 = oh * g->sh - g->ph, *w0 = ow * g->sw - g->pw;
    *h1 = *h0 + g->kh, *w1 = *w0 + g->kw;
}

/* ---------------------------------------------------------------- kernels */

#define DEF_POOL(T, SUF)                                                        \
    /* max over each window; idx receives the first max (a NaN wins, as in \
     * PyTorch: the running max moves on `v > m || v is NaN`). Branch-free:  \
     * start from the window's first element, which gives the same result   \
     * as PyTorch's start from -inf. Non-overlapping windows without padding \
     * take a row-at-a-time path; 2x2 stride 2 (the common case) reads each  \
     * window once, in the same order, so it picks the same element. */       \
    static void max_fwd_##SUF(const pool_geom *g, int64_t p0, int64_t p1, const T *x, T *y) { \
        const int64_t W = g->W, OW = g->OW, kh = g->kh, kw = g->kw, sw = g->sw; \
        bool simple = g->ph == 0 && g->pw == 0 && g->sh >= kh && sw >= kw;     \
        for (int64_t p = p0; p < p1; p++) {                                    \
            const T *xp = x + p * g->H * W;                                    \
            for (int64_t oh = 0; oh < g->OH; oh++) {                           \
                T *restrict yr = y + (p * g->OH + oh) * OW;                    \
                int32_t *restrict ir = g->idx + (p * g->OH + oh) * OW;         \
                int64_t h0 = oh * g->sh - g->ph, h1 = h0 + kh;                 \
                if (h0 < 0) h0 = 0;                                            \
                if (h1 > g->H) h1 = g->H;                                      \
                if (simple && kh == 2 && kw == 2 && sw == 2 && h1 - h0 == 2) { \
                    /* 2x2 stride 2: each window once, in the same order */ \
                    const T *r0 = xp + h0 * W, *r1 = r0 + W;                   \
                    const int32_t b0 = (int32_t)(h0 * W), w1i = (int32_t)W;    \
                    for (int64_t ow = 0; ow < OW; ow++) {                      \
                        T a = r0[2 * ow], b = r0[2 * ow + 1];                  \
                        T c = r1[2 * ow], d = r1[2 * ow + 1], m = a;           \
                        int32_t k = 0;                                         \
                        bool t = b > m || b != b;                              \
                        m = t ? b : m, k = t ? 1 : k;                          \
                        t = c > m || c != c;                                   \
                        m = t ? c : m, k = t ? w1i : k;                        \
                        t = d > m || d != d;                                   \
                        m = t ? d : m, k = t ? w1i + 1 : k;                    \
                        yr[ow] = m, ir[ow] = b0 + (int32_t)(2 * ow) + k;       \
                    }                                                          \
                    continue;                                                  \
                }                                                              \
                if (simple) {                                                  \
                    const T *xr = xp + h0 * W;                                 \
                    for (int64_t ow = 0; ow < OW; ow++)                        \
                        yr[ow] = xr[ow * sw], ir[ow] = (int32_t)(h0 * W + ow * sw); \
                    for (int64_t h = h0; h < h1; h++)                          \
                        for (int64_t j = 0; j < kw; j++) {                     \
                            const T *xe = xp + h * W + j;                      \
                            int32_t base = (int32_t)(h * W + j);               \
                            for (int64_t ow = 0; ow < OW; ow++) {              \
                                T v = xe[ow * sw], m = yr[ow];                 \
                                bool t = v > m || v != v;                      \
                                yr[ow] = t ? v : m;                            \
                                ir[ow] = t ? base + (int32_t)(ow * sw) : ir[ow]; \
                            }                                                  \
                        }                                                      \
                    continue;                                                  \
                }                                                              \
                for (int64_t ow = 0; ow < OW; ow++) {                          \
                    int64_t w0 = ow * sw - g->pw, w1 = w0 + kw;                \
                    if (w0 < 0) w0 = 0;                                        \
                    if (w1 > W) w1 = W;                                        \
                    int32_t best = (int32_t)(h0 * W + w0);                     \
                    T m = xp[best];                                            \
                    for (int64_t h = h0; h < h1; h++)                          \
                        for (int64_t w = w0; w < w1; w++) {                    \
                            T v = xp[h * W + w];                               \
                            bool t = v > m || v != v;                          \
                            m = t ? v : m;                                     \
                            best = t ? (int32_t)(h * W + w) : best;            \
                        }                                                      \
                    yr[ow] = m;                                                \
                    ir[ow] = best;                                             \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    /* y[k] (+)= x[idx[k]] */                                                  \
    static void gather_##SUF(const pool_geom *g, int64_t p0, int64_t p1, const T *x, T *y, \
                             bool add) {                                       \
        int64_t HW = g->H * g->W, P = g->OH * g->OW;                           \
        for (int64_t p = p0; p < p1; p++)                                      \
            for (int64_t k = 0; k < P; k++) {                                  \
                T v = x[p * HW + g->idx[p * P + k]];                           \
                y[p * P + k] = add ? y[p * P + k] + v : v;                     \
            }                                                                  \
    }                                                                          \
    /* x[idx[k]] += y[k] */                                                    \
    static void scatter_##SUF(const pool_geom *g, int64_t p0, int64_t p1, const T *y, T *x) { \
        int64_t HW = g->H * g->W, P = g->OH * g->OW;                           \
        for (int64_t p = p0; p < p1; p++)                                      \
            for (int64_t k = 0; k < P; k++) x[p * HW + g->idx[p * P + k]] += y[p * P + k]; \
    }                                                                          \
    /* 2x2 stride 2, no padding, into a fresh x: the windows tile the plane, \
     * so each window's four elements are written (y at its index, 0 at the \
     * others) in one pass, and the row and column no window covers (odd H, \
     * W) are zeroed: the same as zeroing x and scatter_ */                  \
    static void scatter2x2_fresh_##SUF(const pool_geom *g, int64_t p0, int64_t p1, const T *y, \
                                       T *x) {                                 \
        const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW, P = OH * OW; \
        for (int64_t p = p0; p < p1; p++) {                                    \
            T *xp = x + p * H * W;                                             \
            for (int64_t oh = 0; oh < OH; oh++) {                              \
                T *restrict r0 = xp + 2 * oh * W, *restrict r1 = r0 + W;       \
                const T *restrict yr = y + p * P + oh * OW;                    \
                const int32_t *restrict ir = g->idx + p * P + oh * OW;         \
                const int32_t b0 = (int32_t)(2 * oh * W), w1 = (int32_t)W;    \
                for (int64_t ow = 0; ow < OW; ow++) {                          \
                    int32_t k = ir[ow] - b0 - (int32_t)(2 * ow);               \
                    T v = yr[ow];                                              \
                    r0[2 * ow] = k == 0 ? v : 0, r0[2 * ow + 1] = k == 1 ? v : 0; \
                    r1[2 * ow] = k == w1 ? v : 0, r1[2 * ow + 1] = k == w1 + 1 ? v : 0; \
                }                                                              \
                if (W > 2 * OW) r0[W - 1] = 0, r1[W - 1] = 0;                  \
            }                                                                  \
            for (int64_t h = 2 * OH; h < H; h++)                               \
                for (int64_t w = 0; w < W; w++) xp[h * W + w] = 0;            \
        }                                                                      \
    }                                                                          \
    /* avg: y (+)= window mean of x */                                         \
    static void avg_fwd_##SUF(const pool_geom *g, int64_t p0, int64_t p1, const T *x, T *y, \
                              bool add) {                                      \
        for (int64_t p = p0; p < p1; p++) {                                    \
            const T *xp = x + p * g->H * g->W;                                 \
            T *yp = y + p * g->OH * g->OW;                                     \
            for (int64_t oh = 0; oh < g->OH; oh++)                             \
                for (int64_t ow = 0; ow < g->OW; ow++) {                       \
                    int64_t h0, h1, w0, w1;                                    \
                    T s = 0;                                                   \
                    double cnt = avg_window(g, oh, ow, &h0, &h1, &w0, &w1);    \
                    for (int64_t h = h0; h < h1; h++)                          \
                        for (int64_t w = w0; w < w1; w++) s += xp[h * g->W + w]; \
                    T v = s / (T)cnt;                                          \
                    yp[oh * g->OW + ow] = add ? yp[oh * g->OW + ow] + v : v;   \
                }                                                              \
        }                                                                      \
    }                                                                          \
    /* the adjoint: x += y / count over each window */                         \
    static void avg_bwd_##SUF(const pool_geom *g, int64_t p0, int64_t p1, const T *y, T *x) { \
        for (int64_t p = p0; p < p1; p++) {                                    \
            T *xp = x + p * g->H * g->W;                                       \
            const T *yp = y + p * g->OH * g->OW;                               \
            for (int64_t oh = 0; oh < g->OH; oh++)                             \
                for (int64_t ow = 0; ow < g->OW; ow++) {                       \
                    int64_t h0, h1, w0, w1;                                    \
                    double cnt = avg_window(g, oh, ow, &h0, &h1, &w0, &w1);    \
                    T v = yp[oh * g->OW + ow] / (T)cnt;                        \
                    for (int64_t h = h0; h < h1; h++)                          \
                        for (int64_t w = w0; w < w1; w++) xp[h * g->W + w] += v; \
                }                                                              \
        }                                                                      \
    }

/* The clipped window of output (oh, ow) and its divisor. */
static inline double avg_window(const pool_geom *g, int64_t oh, int64_t ow, int64_t *h0,
                                int64_t *h1, int64_t *w0, int64_t *w1) {
    window(g, oh, ow, h0, h1, w0, w1);
    if (*h1 > g->H + g->ph) *h1 = g->H + g->ph;
    if (*w1 > g->W + g->pw) *w1 = g->W + g->pw;
    double size = (double)((*h1 - *h0) * (*w1 - *w0));
    if (*h0 < 0) *h0 = 0;
    if (*w0 < 0) *w0 = 0;
    if (*h1 > g->H) *h1 = g->H;
    if (*w1 > g->W) *w1 = g->W;
    return g->exclude_pad ? (double)((*h1 - *h0) * (*w1 - *w0)) : size;
}

DEF_POOL(float, f32)
DEF_POOL(double, f64)
#undef DEF_POOL

/* What a block of planes gets. */
enum { P_MAX, P_GATHER, P_GATHER_ADD, P_SCATTER, P_AVG, P_AVG_ADD, P_AVG_BWD };
/* Or'd into a backward kind (P_SCATTER, P_AVG_BWD): dst is a fresh,
 * uninitialised gradient buffer (tg__gacc_w), so each piece zeroes its own
 * planes just before adding into them, in parallel and while they are in
 * cache, instead of one serial pass over the whole buffer first. */
#define P_FRESH 16
/* 2x2 windows, stride 2, no padding: the common case, with kernels of its own. */
static bool two_by_two(const pool_geom *g) {
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
}

typedef struct pool_job {
    const pool_geom *g;
    int dt, kind;
    bool avx512;         /* 2x2 stride 2 in f32 at TG_SIMD_AVX512: pool_simd.h */
    const float *rx;     /* through a relu (avx512 only): its input, or NULL */
    const void *src;
    void *dst;
    int64_t block, nblk; /* planes [b * block, (b + 1) * block) form block b */
    atomic_llong next;   /* the next block to claim */
} pool_job;

static void pool_planes(const pool_job *j, int64_t p0, int64_t p1) {
    const pool_geom *g = j->g;
    bool f = j->dt == TG_F32;
#if defined(TG_HAVE_AVX512)
    if (j->avx512 && (j->kind == P_MAX || j->kind == (P_SCATTER | P_FRESH))) {
        const tg_pool2_geom g2 = {g->H, g->W, g->OH, g->OW};
        if (j->kind == P_MAX)
            tg__maxpool2_fwd_f32_avx512(&g2, p0, p1, j->src, j->dst, g->idx, j->rx != NULL);
        else
            tg__maxpool2_bwd_f32_avx512(&g2, p0, p1, j->src, g->idx, j->dst, j->rx);
        return;
    }
#endif
    if (j->kind == (P_SCATTER | P_FRESH) && two_by_two(g)) {
        f ? scatter2x2_fresh_f32(g, p0, p1, j->src, j->dst)
          : scatter2x2_fresh_f64(g, p0, p1, j->src, j->dst);
        return;
    }
    if (j->kind & P_FRESH) {
        size_t es = f ? sizeof(float) : sizeof(double), hw = (size_t)(g->H * g->W);
        memset((char *)j->dst + (size_t)p0 * hw * es, 0, (size_t)(p1 - p0) * hw * es);
    }
    switch (j->kind & ~P_FRESH) {
    case P_MAX:
        f ? max_fwd_f32(g, p0, p1, j->src, j->dst) : max_fwd_f64(g, p0, p1, j->src, j->dst);
        break;
    case P_GATHER:
    case P_GATHER_ADD:
        f ? gather_f32(g, p0, p1, j->src, j->dst, j->kind == P_GATHER_ADD)
          : gather_f64(g, p0, p1, j->src, j->dst, j->kind == P_GATHER_ADD);
        break;
    case P_SCATTER:
        f ? scatter_f32(g, p0, p1, j->src, j->dst) : scatter_f64(g, p0, p1, j->src, j->dst);
        break;
    case P_AVG:
    case P_AVG_ADD:
        f ? avg_fwd_f32(g, p0, p1, j->src, j->dst, j->kind == P_AVG_ADD)
          : avg_fwd_f64(g, p0, p1, j->src, j->dst, j->kind == P_AVG_ADD);
        break;
    default:
        f ? avg_bwd_f32(g, p0, p1, j->src, j->dst) : avg_bwd_f64(g, p0, p1, j->src, j->dst);
        break;
    }
}

/* One thread's piece: claims blocks of planes until none is left, so a
 * pool worker that wakes after the caller has begun still takes a share
 * (the planes are independent: who runs which does not change a bit). */
static void pool_piece(void *ctx, int64_t lo, int64_t hi) {
    pool_job *j = ctx;
    (void)lo, (void)hi;
    const int64_t planes = j->g->planes;
    for (int64_t b; (b = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->nblk;) {
        int64_t p1 = (b + 1) * j->block;
        pool_planes(j, b * j->block, p1 < planes ? p1 : planes);
    }
}

/* Runs a kernel over every plane, on the pool when large: one piece per
 * thread, which claim blocks of at least POOL_GRAIN outputs, up to
 * POOL_BLOCKS_PER_THREAD per thread. */
#define POOL_BLOCKS_PER_THREAD 4
static bool avx512_2x2(const pool_geom *g, int dt) {
    return dt == TG_F32 && two_by_two(g) && tg__simd_level() == TG_SIMD_AVX512;
}
/* rx: through a relu (P_MAX, or P_SCATTER | P_FRESH; only where avx512_2x2):
 * its input, read in place of src for P_MAX. */
static void pool_run_rx(const pool_geom *g, int dt, int kind, const void *src, void *dst,
                        const float *rx) {
    if (g->planes == 0) return; /* an empty batch: its planes' sizes may not multiply */
    pool_job j = {.g = g, .dt = dt, .kind = kind, .src = src, .dst = dst, .rx = rx,
                  .avx512 = avx512_2x2(g, dt)};
    int64_t per = g->OH * g->OW > g->H * g->W ? g->OH * g->OW : g->H * g->W;
    int64_t grain = per ? (POOL_GRAIN + per - 1) / per : g->planes;
    if (grain < 1) grain = 1;
    int th = tg_get_num_threads();
    int64_t pieces = g->planes / grain < th ? g->planes / grain : th;
    if (pieces <= 1) {
        pool_planes(&j, 0, g->planes);
        return;
    }
    int64_t want = pieces * POOL_BLOCKS_PER_THREAD, block = (g->planes + want - 1) / want;
    j.block = block < grain ? grain : block;
    j.nblk = (g->planes + j.block - 1) / j.block;
    atomic_init(&j.next, 0);
    tg__parallel_for(pieces, 1, pool_piece, &j);
}
static void pool_run(const pool_geom *g, int dt, int kind, const void *src, void *dst) {
    pool_run_rx(g, dt, kind, src, dst, NULL);
}

/* ------------------------------------------------------------------ ops */

/* Checks x and the options, fills the geometry (idx not set). */
static bool pool_setup(tg_tape *tape, const char *op, const tg_tensor *x, const tg_pool_opts *o,
                       pool_geom *g) {
    char bx[160];
    tg__shape_str(bx, sizeof bx, x->rank, x->shape);
    if (!o) {
        tg__fail(tape, TG_ERR_NULL, op, "the options are NULL (x %s)", bx);
        return false;
    }
    if (x->rank != 3 && x->rank != 4) {
        tg__fail(tape, TG_ERR_SHAPE, op, "input must be [N, C, H, W] or [C, H, W], got x %s", bx);
        return false;
    }
    int kh = o->kernel[0], kw = o->kernel[1];
    int sh = o->stride[0] ? o->stride[0] : kh, sw = o->stride[1] ? o->stride[1] : kw;
    int ph = o->padding[0], pw = o->padding[1];
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) {
        tg__fail(tape, TG_ERR_ARG, op,
                 "kernel must be >= 1, stride >= 1 (0: the kernel) and padding >= 0, got "
                 "kernel %dx%d, stride %dx%d, padding %dx%d (x %s)",
                 kh, kw, o->stride[0], o->stride[1], ph, pw, bx);
        return false;
    }
    if (2 * ph > kh || 2 * pw > kw) {
        tg__fail(tape, TG_ERR_ARG, op,
                 "padding %dx%d must be at most half the kernel %dx%d (x %s)", ph, pw, kh, kw, bx);
        return false;
    }
    int r = x->rank;
    g->rank = r;
    g->H = x->shape[r - 2], g->W = x->shape[r - 1];
    g->kh = kh, g->kw = kw, g->sh = sh, g->sw = sw, g->ph = ph, g->pw = pw;
    g->exclude_pad = o->exclude_pad;
    /* H + 2 ph < kh, without forming H + 2 ph (H may be near INT64_MAX) */
    if (g->H < kh - 2 * ph || g->W < kw - 2 * pw) {
        tg__fail(tape, TG_ERR_SHAPE, op,
                 "the kernel %dx%d is bigger than the padded input %lldx%lld (x %s, padding "
                 "%dx%d)",
                 kh, kw, (long long)(g->H + 2 * ph), (long long)(g->W + 2 * pw), bx, ph, pw);
        return false;
    }
    if (g->H == 0 || g->W == 0) {
        tg__fail(tape, TG_ERR_SHAPE, op, "the input planes must not be empty: x %s", bx);
        return false;
    }
    /* H and W are not 0: planes is 0 or fits with them */
    g->planes = r == 4 ? x->shape[0] * x->shape[1] : x->shape[0];
    int64_t hw;
    if (g->planes > 0 && (!tg__mul_ok(g->H, g->W, &hw) || hw > INT32_MAX)) {
        tg__fail(tape, TG_ERR_OVERFLOW, op, "a plane of x %s has more than 2^31 elements", bx);
        return false;
    }
    /* OH = (H + 2 ph - kh) / sh + 1; H + 2 ph - kh >= 0 is at most H */
    int64_t oh = (g->H - (kh - 2 * ph)) / sh, ow = (g->W - (kw - 2 * pw)) / sw;
    if (!tg__add_ok(oh, 1, &g->OH) || !tg__add_ok(ow, 1, &g->OW)) {
        tg__fail(tape, TG_ERR_OVERFLOW, op,
                 "the output of x %s (kernel %dx%d, stride %dx%d, padding %dx%d) would have "
                 "more than INT64_MAX rows or columns",
                 bx, kh, kw, sh, sw, ph, pw);
        return false;
    }
    for (int d = 0; d < r; d++) g->xshape[d] = g->yshape[d] = x->shape[d];
    g->yshape[r - 2] = g->OH, g->yshape[r - 1] = g->OW;
    g->idx = NULL;
    return true;
}

/* A record of a pooling op on `a` (output: x's shape if to_x, else y's)
 * with a copy of the geometry in the data arena (the index array, if any,
 * is shared). */
static tg_tensor *pool_record(tg_tape *tape, int op, tg_tensor *a, const pool_geom *g,
                              bool to_x) {
    tg_tensor *out = tg__out(tape, op, a->dtype, g->rank, to_x ? g->xshape : g->yshape, a,
                             NULL, NULL);
    if (!out) return NULL;
    pool_geom *k = tg__arena(tape, sizeof *k, tg__ops[op].name);
    if (!k) return NULL;
    *k = *g;
    out->u.aux = k;
    return out;
}

/* Checks that a (an internal op's operand) has the shape the geometry says. */
static tg_tape *pool_operand(int op, tg_tensor **a, const pool_geom *g, bool is_x) {
    tg_tape *tape = tg__check1(tg__ops[op].name, a, true);
    if (!tape) return NULL;
    const int64_t *s = is_x ? g->xshape : g->yshape;
    bool ok = (*a)->rank == g->rank;
    for (int d = 0; ok && d < g->rank; d++) ok = (*a)->shape[d] == s[d];
    if (!ok) {
        char b0[160], b1[160];
        tg__fail(tape, TG_ERR_SHAPE, tg__ops[op].name, "operand %s, expected %s",
                 tg__shape_str(b0, sizeof b0, (*a)->rank, (*a)->shape),
                 tg__shape_str(b1, sizeof b1, g->rank, s));
        return NULL;
    }
    return tape;
}

/* max_pool2d of a relu, read through (a CNN's conv-relu-pool): when x is a
 * lazy relu (fuse.h) that no op has read yet (it is the tape's newest
 * record), of an input holding data, and the pool has 2x2 kernels for
 * it (f32, 2x2 stride 2, AVX-512), the pool reads the relu's input and
 * applies relu as it loads (the same values and indices as from the
 * relu's output), and the relu stays unforced: never stored. The relu is
 * then pinned (fuse.h): any other reader forces it. The pool's record is
 * marked POOL_RELU, and its backward (tg__bw_maxpool2d) writes the relu's
 * input gradient itself while the relu is still unforced, else gives the
 * relu its gradient as usual. Returns the relu's input, or NULL. */
enum { POOL_RELU = 16 }; /* flags bit 4, an op's own (op_common.h) */
static tg_tensor *relu_under(const tg_tape *tape, tg_tensor *x, const pool_geom *g) {
    if (!tg__unready(x) || x->op != TG_OP_RELU || !avx512_2x2(g, x->dtype)) return NULL;
    if (!tape->base || x != tape->base + tape->pos - 1) return NULL; /* read already */
    return tg__unready(x->in0) ? NULL : x->in0; /* relu's input: f32, as the relu */
}

tg_tensor *tg_max_pool2d(tg_tensor *x, const tg_pool_opts *o) {
    tg_tape *tape = tg__check_lazy("max_pool2d", 1, &x, true); /* a lazy relu may stay lazy */
    if (!tape) return NULL;
    pool_geom g;
    if (!pool_setup(tape, "max_pool2d", x, o, &g)) return NULL;
    tg_tensor *rin = relu_under(tape, x, &g);
    if (!rin && !tg__ready(x)) return NULL;
    tg_tensor *out = pool_record(tape, TG_OP_MAXPOOL2D, x, &g, false);
    if (!out) return NULL;
    pool_geom *k = out->u.aux; /* its indices, one per output (its shape is checked now) */
    k->idx = tg__arena_n(tape, tg__numel(out), sizeof(int32_t), "max_pool2d");
    if (!k->idx) return NULL;
    if (rin) {
        out->flags |= POOL_RELU;
        x->flags |= TGF_PINNED;
        pool_run_rx(k, TG_F32, P_MAX, rin->data, out->data, rin->data);
    } else {
        pool_run(k, x->dtype, P_MAX, x->data, out->data);
    }
    return tg__handle(out);
}

/* max_pool2d's records are gathers at the kept indices: the forward above
 * chose them, a vjp of max_pool2d_backward reuses them on its h. */
static tg_tensor *pool_gather(tg_tensor *a, const pool_geom *g) {
    tg_tape *tape = pool_operand(TG_OP_MAXPOOL2D, &a, g, true);
    if (!tape) return NULL;
    tg_tensor *out = pool_record(tape, TG_OP_MAXPOOL2D, a, g, false);
    if (out) pool_run(g, a->dtype, P_GATHER, a->data, out->data);
    return out;
}

static tg_tensor *pool_scatter(tg_tensor *a, const pool_geom *g) {
    tg_tape *tape = pool_operand(TG_OP_MAXPOOL2D_BW, &a, g, false);
    if (!tape) return NULL;
    tg_tensor *out = pool_record(tape, TG_OP_MAXPOOL2D_BW, a, g, true);
    if (!out) return NULL;
    memset(out->data, 0, (size_t)tg__numel(out) * tg__esize(out->dtype));
    pool_run(g, a->dtype, P_SCATTER, a->data, out->data);
    return out;
}

bool tg__bw_maxpool2d(tg_tensor *o) {
    bool fresh;
    if (o->flags & POOL_RELU) { /* read through a relu (relu_under) */
        tg_tensor *r = o->in0, *x = r->in0;
        /* the relu still unforced: nothing else read it, so this is its
         * only gradient; into the relu's input's own when that is new
         * (else the relu computes its data, and its backward runs after) */
        if (tg__unready(r) && !r->grad && !x->grad && (x->flags & TGF_REQ)) {
            void *gx = tg__gacc_w(x, &fresh);
            if (!gx) return false;
            if (fresh) {
                pool_run_rx(o->u.aux, TG_F32, P_SCATTER | P_FRESH, o->grad, gx, x->data);
                return true;
            }
        }
        if (!tg__ready(r)) return false;
    }
    void *gx = tg__gacc_w(o->in0, &fresh);
    if (!gx) return false;
    pool_run(o->u.aux, o->dtype, P_SCATTER | (fresh ? P_FRESH : 0), o->grad, gx);
    return true;
}
tg_tensor *tg__vjp_maxpool2d(tg_tensor *o, tg_tensor *h, int i) {
    (void)i;
    return pool_scatter(h, o->u.aux);
}

bool tg__bw_maxpool2d_bw(tg_tensor *o) {
    void *gy = tg__gacc(o->in0);
    if (!gy) return false;
    pool_run(o->u.aux, o->dtype, P_GATHER_ADD, o->grad, gy);
    return true;
}
tg_tensor *tg__vjp_maxpool2d_bw(tg_tensor *o, tg_tensor *h, int i) {
    (void)i;
    return pool_gather(h, o->u.aux);
}

/* avg_pool2d (on x) and its adjoint avg_pool2d_backward (on y's shape). */
static tg_tensor *avg_make(int op, tg_tensor *a, const pool_geom *g) {
    bool fwd = op == TG_OP_AVGPOOL2D;
    tg_tape *tape = pool_operand(op, &a, g, fwd);
    if (!tape) return NULL;
    tg_tensor *out = pool_record(tape, op, a, g, !fwd);
    if (!out) return NULL;
    if (!fwd) memset(out->data, 0, (size_t)tg__numel(out) * tg__esize(out->dtype));
    pool_run(g, a->dtype, fwd ? P_AVG : P_AVG_BWD, a->data, out->data);
    return out;
}

tg_tensor *tg_avg_pool2d(tg_tensor *x, const tg_pool_opts *o) {
    tg_tape *tape = tg__check1("avg_pool2d", &x, true);
    if (!tape) return NULL;
    pool_geom g;
    if (!pool_setup(tape, "avg_pool2d", x, o, &g)) return NULL;
    return tg__handle(avg_make(TG_OP_AVGPOOL2D, x, &g));
}

bool tg__bw_avgpool2d(tg_tensor *o) {
    bool fresh;
    void *gx = tg__gacc_w(o->in0, &fresh);
    if (!gx) return false;
    pool_run(o->u.aux, o->dtype, P_AVG_BWD | (fresh ? P_FRESH : 0), o->grad, gx);
    return true;
}
tg_tensor *tg__vjp_avgpool2d(tg_tensor *o, tg_tensor *h, int i) {
    (void)i;
    return avg_make(TG_OP_AVGPOOL2D_BW, h, o->u.aux);
}

bool tg__bw_avgpool2d_bw(tg_tensor *o) {
    void *gy = tg__gacc(o->in0);
    if (!gy) return false;
    pool_run(o->u.aux, o->dtype, P_AVG_ADD, o->grad, gy);
    return true;
}
tg_tensor *tg__vjp_avgpool2d_bw(tg_tensor *o, tg_tensor *h, int i) {
    (void)i;
    return avg_make(TG_OP_AVGPOOL2D, h, o->u.aux);
}
