/* linalg.c - matrix products.
 *
 *   C = op(A) @ op(B), op = transpose-or-not of the last two axes:
 *   d op(A) = g @ op(B)^T,   d op(B) = op(A)^T @ g
 * The transposes become GEMM flags: backward never copies a transpose.
 * Batch axes (all but the last two) broadcast; a broadcast operand gets
 * its gradient summed over the batches that shared it.
 *
 * linear, fused: y = act(z), z = x @ w^T + b, x [M, K] (leading axes
 * flattened), w [N, K], b [N]; with h = g * act'(z):
 *   d x = h @ w          d w = h^T @ x          d b = sum over rows of h
 *   act        act(z)              act'(z), from what the record keeps
 *   none       z                   1
 *   relu       max(z, 0)           y > 0 ? 1 : 0        (0 at the kink)
 *   leaky_relu z > 0 ? z : 0.01 z  y > 0 ? 1 : 0.01     (0.01 at the kink)
 *   tanh       tanh z              1 - y^2
 *   sigmoid    1 / (1 + e^-z)      y (1 - y)
 *   gelu       z Phi(z)            Phi(z) + z phi(z)    (z kept in aux)
 * Forward: one GEMM (beta 0) into y, then one pass adding b and applying
 * act. Backward: one pass for h and d b, then two GEMMs, both with
 * transpose flags and beta 1 into existing gradient buffers.
 */
#include "tg_internal.h"
#include "op_common.h"
#include "tg_kernels.h"

#include <math.h>

/* A matmul record keeps its transposes in flags bits 4 and 5. */
enum { MM_TRANS_A = 16, MM_TRANS_B = 32 };

/* Matrix sizes and per-batch offsets (in elements) of out, a and b. */
typedef struct mm {
    int64_t M, N, K, nbatch;
    int brank;
    int64_t bshape[TG_MAX_RANK];
    int64_t st[3][TG_MAX_RANK]; /* batch strides in matrices */
} mm;

static int64_t batch_offset(const mm *m, int k, int64_t b) {
    int64_t off = 0;
    for (int d = m->brank - 1; d >= 0; d--) {
        int64_t idx = b % m->bshape[d];
        b /= m->bshape[d];
        off += idx * m->st[k][d];
    }
    return off;
}

/* Only for an output with elements: then the batch count fits. */
static void mm_setup(mm *m, const tg_tensor *o, const tg_tensor *a, const tg_tensor *b) {
    bool ta = o->flags & MM_TRANS_A, tb = o->flags & MM_TRANS_B;
    m->M = ta ? a->shape[a->rank - 1] : a->shape[a->rank - 2];
    m->K = ta ? a->shape[a->rank - 2] : a->shape[a->rank - 1];
    m->N = tb ? b->shape[b->rank - 2] : b->shape[b->rank - 1];
    m->brank = o->rank - 2;
    m->nbatch = 1;
    for (int d = 0; d < m->brank; d++) m->bshape[d] = o->shape[d], m->nbatch *= o->shape[d];
    tg__strides(m->brank, m->bshape, m->st[0]);
    tg__bstrides(a->rank - 2, a->shape, m->brank, m->bshape, m->st[1]);
    tg__bstrides(b->rank - 2, b->shape, m->brank, m->bshape, m->st[2]);
}

tg_tensor *tg_matmul_t(tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b) {
    tg_tensor *in[2] = {a, b};
    tg_tape *tape = tg__check("matmul", 2, in, true);
    if (!tape) return NULL;
    a = in[0], b = in[1];
    char b0[160], b1[160];
    if (a->rank < 2 || b->rank < 2)
        return tg__fail(tape, TG_ERR_SHAPE, "matmul",
                        "tg_matmul_t needs operands of rank >= 2, got %s and %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, b->rank, b->shape));
    int64_t M = trans_a ? a->shape[a->rank - 1] : a->shape[a->rank - 2];
    int64_t Ka = trans_a ? a->shape[a->rank - 2] : a->shape[a->rank - 1];
    int64_t Kb = trans_b ? b->shape[b->rank - 1] : b->shape[b->rank - 2];
    int64_t N = trans_b ? b->shape[b->rank - 2] : b->shape[b->rank - 1];
    if (Ka != Kb)
        return tg__fail(tape, TG_ERR_SHAPE, "matmul", "inner dimensions differ: %s%s @ %s%s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape), trans_a ? "^T" : "",
                        tg__shape_str(b1, sizeof b1, b->rank, b->shape), trans_b ? "^T" : "");
    /* broadcast batch axes */
    int ra = a->rank - 2, rb = b->rank - 2, r = ra > rb ? ra : rb;
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < r; d++) {
        int ia = d - (r - ra), ib = d - (r - rb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return tg__fail(tape, TG_ERR_SHAPE, "matmul", "batch dimensions do not broadcast: %s @ %s",
                            tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                            tg__shape_str(b1, sizeof b1, b->rank, b->shape));
        shape[d] = da == 1 ? db : da;
    }
    shape[r] = M, shape[r + 1] = N;
    tg_tensor *out = tg__out(tape, TG_OP_MATMUL, a->dtype, r + 2, shape, a, b, NULL);
    if (!out) return NULL;
    out->flags |= (trans_a ? MM_TRANS_A : 0) | (trans_b ? MM_TRANS_B : 0);
    if (tg__numel(out) == 0) return out; /* nothing to compute; the batch may not multiply */
    mm m;
    mm_setup(&m, out, a, b);
    size_t es = tg__esize(a->dtype);
    int64_t lda = a->shape[a->rank - 1], ldb = b->shape[b->rank - 1];
    for (int64_t k = 0; k < m.nbatch; k++) {
        const char *A = (const char *)a->data + (size_t)(batch_offset(&m, 1, k) * M * Ka) * es;
        const char *B = (const char *)b->data + (size_t)(batch_offset(&m, 2, k) * Kb * N) * es;
        char *C = (char *)out->data + (size_t)(k * M * N) * es;
        tg__gemm(a->dtype, trans_a, trans_b, M, N, Ka, A, lda, B, ldb, 0.0, C, N);
    }
    return tg__handle(out);
}

bool tg__bw_matmul(tg_tensor *o) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    bool ta = o->flags & MM_TRANS_A, tb = o->flags & MM_TRANS_B;
    bool fa, fb; /* fresh buffers: the GEMM writes them (beta 0), no zeroing */
    void *ga = tg__gacc_w(a, &fa), *gb = tg__gacc_w(b, &fb);
    if (((a->flags & TGF_REQ) && !ga) || ((b->flags & TGF_REQ) && !gb)) return false;
    size_t es = tg__esize(o->dtype);
    if (tg__numel(o) == 0) { /* an empty sum: a and b get zeros */
        if (fa) memset(ga, 0, (size_t)tg__numel(a) * es);
        if (fb) memset(gb, 0, (size_t)tg__numel(b) * es);
        return true;
    }
    mm m;
    mm_setup(&m, o, a, b);
    int64_t M = m.M, N = m.N, K = m.K;
    if (m.nbatch != 1) { /* a broadcast operand sums over batches: start from 0 */
        if (fa) memset(ga, 0, (size_t)tg__numel(a) * es);
        if (fb) memset(gb, 0, (size_t)tg__numel(b) * es);
        fa = fb = false;
    }
    double beta_a = fa ? 0.0 : 1.0, beta_b = fb ? 0.0 : 1.0;
    int64_t lda = a->shape[a->rank - 1], ldb = b->shape[b->rank - 1];
    for (int64_t k = 0; k < m.nbatch; k++) {
        size_t oa = (size_t)(batch_offset(&m, 1, k) * M * K) * es;
        size_t ob = (size_t)(batch_offset(&m, 2, k) * K * N) * es;
        const char *A = (const char *)a->data + oa, *B = (const char *)b->data + ob;
        const char *G = (const char *)o->grad + (size_t)(k * M * N) * es;
        if (ga) {
            if (!ta)
                tg__gemm(o->dtype, false, !tb, M, K, N, G, N, B, ldb, beta_a, (char *)ga + oa, K);
            else
                tg__gemm(o->dtype, tb, true, K, M, N, B, ldb, G, N, beta_a, (char *)ga + oa, M);
        }
        if (gb) {
            if (!tb)
                tg__gemm(o->dtype, !ta, false, K, N, M, A, lda, G, N, beta_b, (char *)gb + ob, N);
            else
                tg__gemm(o->dtype, true, ta, N, K, M, G, N, A, lda, beta_b, (char *)gb + ob, K);
        }
    }
    return true;
}

tg_tensor *tg__vjp_matmul(tg_tensor *o, tg_tensor *g, int i) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    bool ta = o->flags & MM_TRANS_A, tb = o->flags & MM_TRANS_B;
    /* No output element: each gradient is an empty sum, zero whatever a
     * and b are; the products below could be huge ([2^62,4,0,5] @ [5,3]:
     * a^T @ g is [2^62,4,5,3] before its sum over the batch). */
    if (tg__numel(o) == 0) {
        tg_tensor *x = i == 0 ? a : b;
        return tg_zeros(o->tape, (tg_dtype)x->dtype, x->rank, x->shape);
    }
    if (i == 0)
        return tg__sum_like(ta ? tg_matmul_t(b, g, tb, true) : tg_matmul_t(g, b, false, !tb), a);
    return tg__sum_like(tb ? tg_matmul_t(g, a, true, ta) : tg_matmul_t(a, g, !ta, false), b);
}

/* NumPy semantics: 1-D operands are vectors (a row on the left, a column
 * on the right), and the added axis is removed from the result. */
tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[2] = {a, b};
    tg_tape *tape = tg__check("matmul", 2, in, true);
    if (!tape) return NULL;
    a = in[0], b = in[1];
    if (a->rank == 0 || b->rank == 0) {
        char b0[160], b1[160];
        return tg__fail(tape, TG_ERR_SHAPE, "matmul", "operands must not be scalars: %s @ %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, b->rank, b->shape));
    }
    if (a->rank >= 2 && b->rank >= 2) return tg_matmul_t(a, b, false, false);
    bool va = a->rank == 1, vb = b->rank == 1;
    tg_tensor *A = va ? tg_reshape(a, TG_SHAPE(1, a->shape[0])) : a;
    tg_tensor *B = vb ? tg_reshape(b, TG_SHAPE(b->shape[0], 1)) : b;
    tg_tensor *c = tg__rec(tg_matmul_t(A, B, false, false));
    if (!c) return NULL;
    int64_t shape[TG_MAX_RANK];
    int r = 0;
    for (int d = 0; d < c->rank - 2; d++) shape[r++] = c->shape[d];
    if (!va) shape[r++] = c->shape[c->rank - 2];
    if (!vb) shape[r++] = c->shape[c->rank - 1];
    return tg_reshape(c, r, shape);
}

/* ---------------------------------------------------------------- linear */

/* What the linear record keeps in aux, after the tg_auxin {2 or 3; x, w,
 * [b]}: the activation, the sizes, and for gelu the pre-activation z. */
typedef struct lin_ext {
    int act;
    int64_t M, N, K;   /* y [M, N] = act(x [M, K] @ w[N, K]^T + b [N]) */
    void *pre;         /* [M, N] z, gelu only (else NULL) */
} lin_ext;

#define LIN_HEAD tg__auxin_size(3) /* room for 3 inputs, bias or not */
static lin_ext *lin_ext_of(const tg_tensor *o) { return (lin_ext *)((char *)o->u.aux + LIN_HEAD); }

static const double LIN_SQRT1_2 = 0.70710678118654752440;     /* 1/sqrt(2) */
static const double LIN_INV_SQRT2PI = 0.39894228040143267794; /* 1/sqrt(2 pi) */
#define LEAKY_SLOPE 0.01

/* One row segment of n columns: y = act(y + b), pre = y + b (gelu); and
 * h = g * act'(.), db += h. The formulas are those of tg_ewlist.h,
 * so the fused op gives the values of the separate ops. */
#define DEF_LIN(T, SUF, EXP, TANH, ERFC)                                       \
    static void lin_seg_fwd_##SUF(int act, int64_t n, T *restrict y, const T *restrict b, \
                                  T *restrict pre) {                           \
        if (b)                                                                 \
            for (int64_t k = 0; k < n; k++) y[k] += b[k];                      \
        switch (act) {                                                         \
        case TG_ACT_RELU:                                                      \
            for (int64_t k = 0; k < n; k++) y[k] = y[k] > 0 ? y[k] : 0;        \
            break;                                                             \
        case TG_ACT_LEAKY_RELU:                                                \
            for (int64_t k = 0; k < n; k++) y[k] = y[k] > 0 ? y[k] : (T)LEAKY_SLOPE * y[k]; \
            break;                                                             \
        case TG_ACT_TANH:                                                      \
            for (int64_t k = 0; k < n; k++) y[k] = TANH(y[k]);                 \
            break;                                                             \
        case TG_ACT_SIGMOID: /* stable on both sides */                        \
            for (int64_t k = 0; k < n; k++) {                                  \
                T x = y[k];                                                    \
                y[k] = x >= 0 ? 1 / (1 + EXP(-x)) : EXP(x) / (1 + EXP(x));     \
            }                                                                  \
            break;                                                             \
        case TG_ACT_GELU: /* a Phi(a); erfc keeps precision for a << 0 */      \
            for (int64_t k = 0; k < n; k++) {                                  \
                T x = y[k];                                                    \
                pre[k] = x;                                                    \
                y[k] = (T)0.5 * x * ERFC(-x * (T)LIN_SQRT1_2);                 \
            }                                                                  \
            break;                                                             \
        default: break;                                                        \
        }                                                                      \
    }                                                                          \
    static void lin_seg_bw_##SUF(int act, int64_t n, const T *restrict g, const T *restrict z, \
                                 const T *restrict pre, T *restrict h, T *restrict db) { \
        switch (act) {                                                         \
        case TG_ACT_RELU:                                                      \
            for (int64_t k = 0; k < n; k++) { /* loads first: a blend, no branch */ \
                T gk = g[k];                                                   \
                h[k] = z[k] > 0 ? gk : 0;                                      \
            }                                                                  \
            break;                                                             \
        case TG_ACT_LEAKY_RELU:                                                \
            for (int64_t k = 0; k < n; k++) {                                  \
                T gk = g[k];                                                   \
                h[k] = z[k] > 0 ? gk : (T)LEAKY_SLOPE * gk;                    \
            }                                                                  \
            break;                                                             \
        case TG_ACT_TANH:                                                      \
            for (int64_t k = 0; k < n; k++) h[k] = g[k] * (1 - z[k] * z[k]);   \
            break;                                                             \
        case TG_ACT_SIGMOID:                                                   \
            for (int64_t k = 0; k < n; k++) h[k] = g[k] * z[k] * (1 - z[k]);   \
            break;                                                             \
        case TG_ACT_GELU:                                                      \
            for (int64_t k = 0; k < n; k++) {                                  \
                T x = pre[k];                                                  \
                T d = (T)0.5 * ERFC(-x * (T)LIN_SQRT1_2) +                     \
                      x * (T)LIN_INV_SQRT2PI * EXP((T)-0.5 * x * x);           \
                h[k] = g[k] * d;                                               \
            }                                                                  \
            break;                                                             \
        default: /* none: h is g itself */                                     \
            break;                                                             \
        }                                                                      \
        if (db)                                                                \
            for (int64_t k = 0; k < n; k++) db[k] += h[k];                     \
    }
DEF_LIN(float, f32, expf, tanhf, erfcf)
DEF_LIN(double, f64, exp, tanh, erfc)
#undef DEF_LIN

/* The passes over y [M, N], on threads when large: the forward over
 * elements [lo, hi) (cut into row segments), the backward over columns
 * [lo, hi) for every row, so each thread owns its columns of d b. */
typedef struct lin_job {
    int act, dt;
    int64_t M, N;
    void *y, *h, *db;            /* forward: y; backward: h [M, N], d b [N] or NULL */
    const void *b, *g, *pre;     /* forward: b; backward: g, pre (and y) */
} lin_job;

static void lin_fwd_range(void *ctx, int64_t lo, int64_t hi) {
    const lin_job *j = ctx;
    size_t es = tg__esize(j->dt);
    for (int64_t i = lo; i < hi;) {
        int64_t c = i % j->N, n = j->N - c < hi - i ? j->N - c : hi - i;
        char *y = (char *)j->y + (size_t)i * es;
        const char *b = j->b ? (const char *)j->b + (size_t)c * es : NULL;
        char *pre = j->pre ? (char *)j->pre + (size_t)i * es : NULL;
        if (j->dt == TG_F32)
            lin_seg_fwd_f32(j->act, n, (float *)y, (const float *)b, (float *)pre);
        else
            lin_seg_fwd_f64(j->act, n, (double *)y, (const double *)b, (double *)pre);
        i += n;
    }
}

static void lin_bw_range(void *ctx, int64_t lo, int64_t hi) {
    const lin_job *j = ctx;
    size_t es = tg__esize(j->dt);
    for (int64_t m = 0; m < j->M; m++) {
        size_t at = (size_t)(m * j->N + lo) * es;
        const char *g = (const char *)j->g + at, *z = (const char *)j->y + at;
        const char *pre = j->pre ? (const char *)j->pre + at : NULL;
        char *h = (char *)j->h + at, *db = j->db ? (char *)j->db + (size_t)lo * es : NULL;
        if (j->dt == TG_F32)
            lin_seg_bw_f32(j->act, hi - lo, (const float *)g, (const float *)z,
                           (const float *)pre, (float *)h, (float *)db);
        else
            lin_seg_bw_f64(j->act, hi - lo, (const double *)g, (const double *)z,
                           (const double *)pre, (double *)h, (double *)db);
    }
}

tg_tensor *tg_linear_act(tg_tensor *x, tg_tensor *w, tg_tensor *b, tg_act act) {
    tg_tensor *in[3] = {x, w, b};
    int n = b ? 3 : 2;
    tg_tape *tape = tg__check("linear", n, in, true);
    if (!tape) return NULL;
    x = in[0], w = in[1], b = b ? in[2] : NULL;
    /* shapes are formatted for an error only (snprintf per call would cost
     * more than a small layer's arithmetic) */
    char bx[160], bw[160], bb[160];
#define LIN_SHAPES() (tg__shape_str(bx, sizeof bx, x->rank, x->shape), \
                      tg__shape_str(bw, sizeof bw, w->rank, w->shape))
    if ((unsigned)act > TG_ACT_LEAKY_RELU)
        return LIN_SHAPES(), tg__fail(tape, TG_ERR_ARG, "linear",
                                      "unknown activation %d (input %s, weight %s)", (int)act, bx,
                                      bw);
    if (w->rank != 2)
        return LIN_SHAPES(), tg__fail(tape, TG_ERR_SHAPE, "linear",
                                      "weight must be 2-D [out, in], got weight %s (input %s)", bw,
                                      bx);
    if (x->rank < 1 || x->shape[x->rank - 1] != w->shape[1])
        return LIN_SHAPES(), tg__fail(tape, TG_ERR_SHAPE, "linear",
                                      "input %s does not fit weight %s%s", bx, bw,
                                      x->rank < 1 ? " (the input needs rank >= 1)" : "");
    int64_t N = w->shape[0], K = w->shape[1];
    if (b && (b->rank != 1 || b->shape[0] != N))
        return LIN_SHAPES(), tg__fail(tape, TG_ERR_SHAPE, "linear",
                                      "bias %s does not fit weight %s (it must be [%lld]; input %s)",
                                      tg__shape_str(bb, sizeof bb, b->rank, b->shape), bw,
                                      (long long)N, bx);
#undef LIN_SHAPES
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d + 1 < x->rank; d++) shape[d] = x->shape[d];
    shape[x->rank - 1] = N;
    tg_tensor *out = tg__out(tape, TG_OP_LINEAR, x->dtype, x->rank, shape, x, NULL, NULL);
    if (!out) return NULL;
    /* The rows: the leading axes of x, whose product may pass INT64_MAX
     * only when x and y have no elements (K = N = 0; [2^62, 4, 0]): then
     * there is nothing to compute and M = 0 serves (an [M, N] view of y
     * or of its gradient has the same no elements). */
    int64_t M = tg__shape_numel(x->rank - 1, x->shape);
    if (M < 0) M = 0;
    size_t es = tg__esize(x->dtype);
    size_t pre_bytes = act == TG_ACT_GELU ? (size_t)tg__numel(out) * es : 0;
    char *blk = tg__arena(tape, LIN_HEAD + sizeof(lin_ext) + pre_bytes, "linear");
    if (!blk) return NULL;
    tg_auxin *ax = (tg_auxin *)blk;
    ax->n = n;
    for (int i = 0; i < n; i++) ax->in[i] = in[i];
    lin_ext *e = (lin_ext *)(blk + LIN_HEAD);
    *e = (lin_ext){act, M, N, K, pre_bytes ? blk + LIN_HEAD + sizeof(lin_ext) : NULL};
    out->u.aux = ax;
    tg__set_req(out, n, in);
    tg__gemm(x->dtype, false, true, M, N, K, x->data, K, w->data, K, 0.0, out->data, N);
    if (act != TG_ACT_NONE || b) {
        lin_job j = {act, x->dtype, M, N, out->data, NULL, NULL, b ? b->data : NULL, NULL, e->pre};
        tg__elementwise(M * N, lin_fwd_range, &j);
    }
    return tg__handle(out);
}

/* d w [N, K] (+)= h^T [N, M] @ x [M, K] as its transpose x^T [K, M] @ h
 * [M, N], when w has few columns (K inputs: at most
 * tg__gemm_in_place_rows): the GEMM then reads h in place, where the
 * direct form packs all of it (GMM's [n, k d] product: 8 MB at d20_K50,
 * read from memory). Into a [K, N] scratch, then transposed into d w; an
 * existing d w is transposed in first and added to by the GEMM, so every
 * sum rounds as in the direct form (the same bits). 1 done, 0 not taken,
 * -1 out of memory. */
static int lin_dw_transposed(tg_tape *tape, int dt, int64_t M, int64_t N, int64_t K,
                             const void *h, const void *x, void *gw, bool fresh) {
    if (K > tg__gemm_in_place_rows(dt) || N <= K || (double)M * N * K < 65536.0) return 0;
    void *wt = tg__arena_n(tape, K * N, tg__esize(dt), "linear"); /* [K, N] */
    if (!wt) return -1;
#define LIN_T(T)                                                               \
    do {                                                                       \
        T *restrict d = (T *)gw, *restrict t = (T *)wt;                        \
        if (!fresh)                                                            \
            for (int64_t n = 0; n < N; n++)                                    \
                for (int64_t k = 0; k < K; k++) t[k * N + n] = d[n * K + k];   \
        tg__gemm(dt, true, false, K, N, M, x, K, h, N, fresh ? 0.0 : 1.0, t, N);\
        for (int64_t n = 0; n < N; n++)                                        \
            for (int64_t k = 0; k < K; k++) d[n * K + k] = t[k * N + n];       \
    } while (0)
    TG_FLOAT_CASES(dt, LIN_T);
#undef LIN_T
    return 1;
}

bool tg__bw_linear(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    const lin_ext *e = lin_ext_of(o);
    tg_tensor *x = ax->in[0], *w = ax->in[1], *b = ax->n > 2 ? ax->in[2] : NULL;
    int64_t M = e->M, N = e->N, K = e->K;
    size_t es = tg__esize(o->dtype);
    bool fx, fw, fb = false;
    void *gx = tg__gacc_w(x, &fx), *gw = tg__gacc_w(w, &fw), *gb = b ? tg__gacc_w(b, &fb) : NULL;
    if (((x->flags & TGF_REQ) && !gx) || ((w->flags & TGF_REQ) && !gw) ||
        (b && (b->flags & TGF_REQ) && !gb))
        return false;
    if (fb) memset(gb, 0, (size_t)N * es); /* d b is a sum over the rows */
    void *h = o->grad; /* act none: h = g */
    if (e->act != TG_ACT_NONE && M * N > 0 && (gx || gw || gb)) {
        h = tg__arena(o->tape, (size_t)(M * N) * es, "linear");
        if (!h) return false;
    }
    if ((e->act != TG_ACT_NONE || gb) && M * N > 0) {
        lin_job j = {e->act, o->dtype, M, N, o->data, h, gb, NULL, o->grad, e->pre};
        if (M * N < 2 * TG_GRAIN)
            lin_bw_range(&j, 0, N);
        else
            tg__parallel_for(N, TG_GRAIN / M > 0 ? TG_GRAIN / M : 1, lin_bw_range, &j);
    }
    if (gx) /* d x [M, K] = h [M, N] @ w [N, K] */
        tg__gemm(o->dtype, false, false, M, K, N, h, N, w->data, K, fx ? 0.0 : 1.0, gx, K);
    if (gw) { /* d w [N, K] += h^T [N, M] @ x [M, K] */
        int t = lin_dw_transposed(o->tape, o->dtype, M, N, K, h, x->data, gw, fw);
        if (t < 0) return false;
        if (!t) tg__gemm(o->dtype, true, false, N, K, M, h, N, x->data, K, fw ? 0.0 : 1.0, gw, K);
    }
    return true;
}

/* A constant mask of y's shape: 1 where y > 0, else `slope` (relu 0,
 * leaky relu 0.01): act' read from the output, as the fast backward. */
static tg_tensor *lin_mask(tg_tensor *y, double slope) {
    tg_tensor *m = tg__wrap(y->tape, y->dtype, y->rank, y->shape, NULL);
    if (!m) return NULL;
    int64_t n = tg__numel(y);
    if (y->dtype == TG_F32) {
        const float *z = y->data;
        float *v = m->data;
        for (int64_t i = 0; i < n; i++) v[i] = z[i] > 0 ? 1.0f : (float)slope;
    } else {
        const double *z = y->data;
        double *v = m->data;
        for (int64_t i = 0; i < n; i++) v[i] = z[i] > 0 ? 1.0 : slope;
    }
    return m;
}

/* Graph backward: h = g * act'(z) from ops (tanh and sigmoid from the
 * output o, gelu from z recomputed as an op so that it is differentiable),
 * then the three products of the table above. */
tg_tensor *tg__vjp_linear(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    const lin_ext *e = lin_ext_of(o);
    tg_tensor *x = ax->in[0], *w = ax->in[1], *b = ax->n > 2 ? ax->in[2] : NULL;
    tg_tensor *h = g;
    switch (e->act) {
    case TG_ACT_RELU: h = tg_mul(g, lin_mask(o, 0.0)); break;
    case TG_ACT_LEAKY_RELU: h = tg_mul(g, lin_mask(o, LEAKY_SLOPE)); break;
    case TG_ACT_TANH: h = tg_mul(g, tg_rsub_scalar(tg_square(o), 1.0)); break;
    case TG_ACT_SIGMOID: h = tg_mul(g, tg_mul(o, tg_rsub_scalar(o, 1.0))); break;
    case TG_ACT_GELU: {
        tg_tensor *z = tg_linear_act(x, w, b, TG_ACT_NONE);
        tg_tensor *Phi = tg_mul_scalar(tg_add_scalar(tg_erf(tg_mul_scalar(z, LIN_SQRT1_2)), 1.0), 0.5);
        tg_tensor *phi = tg_mul_scalar(tg_exp(tg_mul_scalar(tg_square(z), -0.5)), LIN_INV_SQRT2PI);
        h = tg_mul(g, tg_add(Phi, tg_mul(z, phi)));
        break;
    }
    default: break;
    }
    if (!h) return NULL;
    if (i == 2) return tg__sum_like(h, b);
    int64_t M = e->M, N = e->N, K = e->K;
    tg_tensor *h2 = tg__rec(h)->rank == 2 ? h : tg_reshape(h, TG_SHAPE(M, N));
    if (i == 1) { /* d w [N, K] = h^T @ x */
        tg_tensor *x2 = x->rank == 2 ? x : tg_reshape(x, TG_SHAPE(M, K));
        return tg_matmul_t(h2, x2, true, false);
    }
    tg_tensor *dx = tg_matmul_t(h2, w, false, false); /* d x [M, K] = h @ w */
    return x->rank == 2 ? dx : tg_reshape(dx, x->rank, x->shape);
}
