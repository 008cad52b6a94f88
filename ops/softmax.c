/* softmax.c - softmax, log_softmax, softmax_cross_entropy: the rows of
 * e^(a - max) and what is built on them.
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
 *
 * All three are fused kernels (one record each; rows split over threads
 * when large; the row loops, one variant per SIMD level, in
 * softmax_simd.h); their vjps are built from ops (the softmax ones reuse the
 * output record), so create-graph sweeps and second derivatives work.
 * The softmax axis lives in u.i (softmax_axis below).
 */
#include "tg_internal.h"
#include "op_common.h"
#include "softmax_simd.h"

#include <math.h>

/* The row kernels of each SIMD level (softmax_simd.h), indexed by tg_simd;
 * a level the compiler does not build has none, and tg__simd_level()
 * never says it. */
static const softmax_kern *const kern_at[3] = {
    [TG_SIMD_PORTABLE] = &tg__softmax_kern_portable,
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = &tg__softmax_kern_avx2,
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = &tg__softmax_kern_avx512,
#endif
};

void tg__vexp_array(int dt, const void *x, void *y, int64_t n) {
    const softmax_kern *k = kern_at[tg__simd_level()];
    if (dt == TG_F32) k->exp_f32(x, y, n);
    else k->exp_f64(x, y, n);
}

void tg__lse_rows(bool bw, lse_job *j, int64_t outer) {
    const softmax_kern *k = kern_at[tg__simd_level()];
    tg__parallel_for(outer, row_grain(j->L * j->inner), bw ? k->lse_bw : k->lse_fwd, j);
}

/* ------------------------------------------------ softmax, log_softmax */

/* A softmax record keeps its axis (normalized, 0 at rank 0) in u.i. */
static int softmax_axis(const tg_tensor *o) { return (int)o->u.i; }

/* The record's rows along its axis, as [outer, L, inner]. */
static void sm_rows(const tg_tensor *o, int64_t *outer, int64_t *L, int64_t *inner) {
    int ax = softmax_axis(o);
    *L = o->rank ? o->shape[ax] : 1;
    tg__around(o, ax, outer, inner);
}

static tg_tensor *softmax_op(int op, tg_tensor *a, int axis) {
    const char *name = tg__ops[op].name;
    tg_tape *tape = tg__check1(name, &a, true);
    if (!tape) return NULL;
    int ax = a->rank == 0 && axis == -1 ? 0 : tg__axis(axis, a->rank); /* 0-d: 0 or -1 */
    if (ax < 0) {
        char b[160];
        return tg__fail(tape, TG_ERR_ARG, name, "axis %d is out of range for shape %s", axis,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    }
    tg_tensor *out = tg__out(tape, op, a->dtype, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    out->u.i = ax; /* the axis: softmax_axis */
    int64_t outer, L, inner;
    sm_rows(out, &outer, &L, &inner);
    if (L == 0 || inner == 0 || outer == 0) return tg__handle(out);
    sm_job j = {a->dtype, op == TG_OP_LOG_SOFTMAX, L, inner, a->data, NULL, NULL, out->data};
    tg__parallel_for(outer, row_grain(L * inner), kern_at[tg__simd_level()]->sm_fwd, &j);
    return tg__handle(out);
}

static bool softmax_bw(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int64_t outer, L, inner;
    sm_rows(o, &outer, &L, &inner);
    if (L == 0 || inner == 0 || outer == 0) return true;
    sm_job j = {o->dtype, o->op == TG_OP_LOG_SOFTMAX, L, inner, NULL, o->data, o->grad, ga};
    tg__parallel_for(outer, row_grain(L * inner), kern_at[tg__simd_level()]->sm_bw, &j);
    return true;
}

tg_tensor *tg_softmax(tg_tensor *a, int axis) { return softmax_op(TG_OP_SOFTMAX, a, axis); }
tg_tensor *tg_log_softmax(tg_tensor *a, int axis) { return softmax_op(TG_OP_LOG_SOFTMAX, a, axis); }

bool tg__bw_softmax(tg_tensor *o) { return softmax_bw(o); }
bool tg__bw_log_softmax(tg_tensor *o) { return softmax_bw(o); }

/* A rank-0 tensor has one element on its only "axis": sums over it are
 * the identity. */
static tg_tensor *row_sum(tg_tensor *t, const tg_tensor *o) {
    return o->rank ? tg_sum_axis(t, softmax_axis(o), true) : t;
}

/* An empty output has an empty gradient: the row sums below would keep the
 * reduced axis as 1 and could not fit beside a huge axis ([0, 2^62, 2]). */
tg_tensor *tg__vjp_softmax(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    if (tg__numel(o) == 0) return tg_mul_scalar(g, 0.0);
    return tg_mul(o, tg_sub(g, row_sum(tg_mul(g, o), o)));
}

tg_tensor *tg__vjp_log_softmax(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    if (tg__numel(o) == 0) return tg_mul_scalar(g, 0.0);
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
                        tg_dtype_name(logits->dtype), XS);
    if (labels->dtype != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, name,
                        "labels are %s %s; they must be i64 class indices (logits %s %s)",
                        tg_dtype_name(labels->dtype), YS, tg_dtype_name(logits->dtype), XS);
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
    size_t es = tg__esize(logits->dtype);
    tg_auxin *ax = tg__aux_new(tape, 2, in, sizeof(ce_ext) + 2 * (size_t)N * es, name);
    if (!ax) return NULL;
    ce_ext *e = tg__aux_ext(ax);
    e->ignore = ignore_index, e->eps = label_smoothing, e->N = N, e->C = C;
    e->stats = e + 1;
    tg_tensor *out = tg__out(tape, TG_OP_SOFTMAX_CE, logits->dtype, labels->rank, labels->shape,
                             NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    tg__set_req(out, 2, ax->in);
    ce_job j = {logits->dtype, e, y, logits->data, out->data, NULL, NULL, false};
    if (N) tg__parallel_for(N, row_grain(C), kern_at[tg__simd_level()]->ce_fwd, &j);
    return tg__handle(out);
}

bool tg__bw_softmax_ce(tg_tensor *o) {
    const tg_auxin *ax = o->u.aux;
    const ce_ext *e = tg__aux_ext(ax);
    tg_tensor *x = ax->in[0];
    bool fresh;
    void *gx = tg__gacc_w(x, &fresh);
    if (!gx) return false;
    if (!e->N || !e->C) return true;
    ce_job j = {o->dtype, e, ax->in[1]->data, x->data, NULL, o->grad, gx, fresh};
    tg__parallel_for(e->N, row_grain(e->C), kern_at[tg__simd_level()]->ce_bw, &j);
    return true;
}

/* Graph backward, from ops: d x = (g v) (softmax(x) - q), with the
 * constants v = [y != ignore_index] per row and q = (1 - eps) onehot(y) +
 * eps/C on kept rows (0 on ignored ones). */
tg_tensor *tg__vjp_softmax_ce(tg_tensor *o, tg_tensor *g, int i) {
    const tg_auxin *ax = o->u.aux;
    const ce_ext *e = tg__aux_ext(ax);
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
