/* test_segment.c - recomputed segments (autograd/tg_segment.h).
 *
 * The gradient through segments equals the full tape's bit for bit: a
 * scalar ODE (Lorenz-63, explicit RK4, 200 steps in 10 segments, and
 * nested: 4 segments of 5 steps inside each), and a tensor loop (an RNN
 * with dropout), in f32 and f64. The records kept during the forward and
 * during each recomputation stay bounded; create-graph is refused with a
 * sentence; bad arguments and out of memory in a recomputation are clean
 * errors.
 */
#include "tg_test.h"
#include "fail_alloc.h"

#include <stdlib.h>

/* -------------------------------------------------- Lorenz-63 with RK4 */

typedef struct lorenz {
    tg_tensor *sigma, *rho, *beta; /* parameters */
    tg_dtype dt;
    int steps;                     /* per segment */
    int inner;                     /* > 0: nested segments of this many steps */
    size_t max_count;              /* the most records seen on the tape */
    size_t max_inner;              /* the most seen by an inner segment recorded */
    tg_tensor *escaped;            /* an intermediate kept on purpose (misuse test) */
} lorenz;

static void deriv(lorenz *L, tg_tensor *const *s, tg_tensor **d) {
    tg_tensor *x = s[0], *y = s[1], *z = s[2];
    d[0] = tg_mul(L->sigma, tg_sub(y, x));
    d[1] = tg_sub(tg_mul(x, tg_sub(L->rho, z)), y);
    d[2] = tg_sub(tg_mul(x, y), tg_mul(L->beta, z));
}

static void rk4(lorenz *L, tg_tensor **s) {
    const double h = 0.01;
    tg_tensor *k1[3], *k2[3], *k3[3], *k4[3], *t[3];
    deriv(L, s, k1);
    for (int i = 0; i < 3; i++) t[i] = tg_add(s[i], tg_mul_scalar(k1[i], h / 2));
    deriv(L, t, k2);
    for (int i = 0; i < 3; i++) t[i] = tg_add(s[i], tg_mul_scalar(k2[i], h / 2));
    deriv(L, t, k3);
    for (int i = 0; i < 3; i++) t[i] = tg_add(s[i], tg_mul_scalar(k3[i], h));
    deriv(L, t, k4);
    for (int i = 0; i < 3; i++) {
        tg_tensor *sum = tg_add(tg_add(k1[i], tg_mul_scalar(k2[i], 2)),
                                tg_add(tg_mul_scalar(k3[i], 2), k4[i]));
        s[i] = tg_add(s[i], tg_mul_scalar(sum, h / 6));
    }
}

static void note_count(lorenz *L, tg_tensor *t) {
    tg_tape *tape = tg_tensor_tape(t);
    if (tg_tape_count(tape) > L->max_count) L->max_count = tg_tape_count(tape);
}

static void lorenz_inner(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    lorenz *L = ctx;
    tg_tensor *s[3] = {in[0], in[1], in[2]};
    for (int k = 0; k < L->inner; k++) rk4(L, s);
    note_count(L, s[0]);
    tg_tape *tape = tg_tensor_tape(s[0]);
    if (tg_tape_grad_enabled(tape) && tg_tape_count(tape) > L->max_inner)
        L->max_inner = tg_tape_count(tape); /* the rerun of an inner segment */
    for (int i = 0; i < 3; i++) out[i] = s[i];
}

static void lorenz_seg(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    lorenz *L = ctx;
    tg_tensor *s[3] = {in[0], in[1], in[2]};
    if (L->inner) {
        for (int k = 0; k < L->steps; k += L->inner)
            if (tg_segment(lorenz_inner, L, 3, s, 3, s, NULL) != TG_OK) return;
    } else {
        for (int k = 0; k < L->steps; k++) rk4(L, s);
        L->escaped = s[0];
    }
    note_count(L, s[0]);
    for (int i = 0; i < 3; i++) out[i] = s[i];
}

typedef struct lorenz_result {
    double g[6];        /* d loss / d (x0, y0, z0, sigma, rho, beta) */
    double loss;
    size_t fwd_count;   /* records after the forward */
    size_t max_count;   /* the most records seen inside the step functions */
    size_t max_inner;   /* the most seen in an inner segment's rerun */
    size_t bwd_count;   /* records after the backward */
    size_t peak;        /* the tape's peak bytes, forward and backward */
} lorenz_result;

static double grad_of(const tg_tensor *t) {
    tg_tensor *g = tg_tensor_grad(t);
    return g ? tg_tensor_get(g, 0) : NAN;
}

/* 200 RK4 steps: nseg segments (0: no segments), inner > 0 nests. */
static lorenz_result run_lorenz(tg_dtype dt, int nseg, int inner) {
    lorenz_result res = {{0}, 0, 0, 0, 0, 0, 0};
    tg_tape *tape = tg_tape_new();
    lorenz L = {tg_param_new(dt, 0, NULL), tg_param_new(dt, 0, NULL), tg_param_new(dt, 0, NULL),
                dt, nseg ? 200 / nseg : 200, inner, 0, 0, NULL};
    double pv[3] = {10.0, 28.0, 8.0 / 3.0};
    tg_tensor *ps[3] = {L.sigma, L.rho, L.beta};
    for (int i = 0; i < 3; i++) {
        if (dt == TG_F32) *(float *)tg_tensor_data(ps[i]) = (float)pv[i];
        else *(double *)tg_tensor_data(ps[i]) = pv[i];
    }
    tg_tensor *s0[3], *s[3];
    double init[3] = {1.0, 1.0, 1.05};
    for (int i = 0; i < 3; i++) s[i] = s0[i] = tg_requires_grad(tg_scalar_as(tape, dt, init[i]));
    if (nseg == 0) {
        lorenz_seg(&L, s, s);
    } else {
        L.steps = 200 / nseg;
        for (int k = 0; k < nseg; k++)
            CHECK(tg_segment(lorenz_seg, &L, 3, s, 3, s, NULL) == TG_OK, "segment %d: %s", k,
                  tg_tape_error(tape));
    }
    tg_tensor *loss = tg_add(tg_add(tg_mul(s[0], s[0]), tg_mul(s[1], s[1])), tg_mul(s[2], s[2]));
    res.fwd_count = tg_tape_count(tape);
    CHECK(tg_backward(loss) == TG_OK, "lorenz backward: %s", tg_tape_error(tape));
    res.bwd_count = tg_tape_count(tape);
    res.peak = tg_tape_bytes_peak(tape);
    res.loss = tg_item(loss);
    for (int i = 0; i < 3; i++) res.g[i] = grad_of(s0[i]), res.g[3 + i] = grad_of(ps[i]);
    res.max_count = L.max_count;
    res.max_inner = L.max_inner;
    tg_tape_free(tape);
    for (int i = 0; i < 3; i++) tg_param_free(ps[i]);
    return res;
}

static void test_lorenz(tg_dtype dt) {
    const char *dn = dt == TG_F32 ? "f32" : "f64";
    lorenz_result full = run_lorenz(dt, 0, 0);
    lorenz_result seg = run_lorenz(dt, 10, 0);
    lorenz_result nest = run_lorenz(dt, 10, 5);
    CHECK(isfinite(full.loss) && full.loss > 1, "%s: a real trajectory (loss %g)", dn, full.loss);
    for (int i = 0; i < 6; i++) {
        CHECK(isfinite(full.g[i]) && full.g[i] != 0, "%s: gradient %d is %g", dn, i, full.g[i]);
        CHECK(memcmp(&seg.g[i], &full.g[i], sizeof(double)) == 0,
              "%s: gradient %d with segments %.17g, full tape %.17g", dn, i, seg.g[i], full.g[i]);
        CHECK(memcmp(&nest.g[i], &full.g[i], sizeof(double)) == 0,
              "%s: gradient %d nested %.17g, full tape %.17g", dn, i, nest.g[i], full.g[i]);
    }
    CHECK(seg.loss == full.loss && nest.loss == full.loss, "%s: the same loss", dn);
    /* the forward keeps per segment its record, a slice and a reshape per
     * output (7), plus the inputs, the proxies and the loss */
    CHECK(full.fwd_count > 200 * 60, "%s: the full tape holds %zu records", dn, full.fwd_count);
    CHECK(seg.fwd_count <= 10 * 7 + 20, "%s: %zu records kept with segments", dn, seg.fwd_count);
    CHECK(nest.fwd_count <= 10 * 7 + 20, "%s: %zu records kept nested", dn, nest.fwd_count);
    /* inside a segment's function, forward or rerun: the kept records and
     * one segment's (20 steps of about 70 records; nested segments run
     * plainly inside an outer segment's forward) */
    CHECK(seg.max_count <= seg.fwd_count + 20 * 80, "%s: at most %zu records during the sweep", dn,
          seg.max_count);
    CHECK(nest.max_count <= nest.fwd_count + 20 * 80, "%s: at most %zu records nested", dn,
          nest.max_count);
    CHECK(nest.max_inner <= nest.fwd_count + 4 * 7 + 5 * 80, "%s: at most %zu records in an inner rerun", dn,
          nest.max_inner);
    /* the most records held at once: the kept records and one segment's,
     * an eighth of the full tape's and less */
    CHECK(seg.max_count * 8 < full.fwd_count && nest.max_count * 8 < full.fwd_count,
          "%s: at most %zu records with segments, %zu nested, %zu on the full tape", dn,
          seg.max_count, nest.max_count, full.fwd_count);
    /* the tape's own peak (tg_tape_bytes_peak) counts them, at 32 bytes a
     * record at least (a half record of scalar code; 64 for the others) */
    CHECK(seg.peak * 5 < full.peak && nest.peak * 5 < full.peak,
          "%s: peak bytes %zu with segments, %zu nested, %zu on the full tape", dn, seg.peak,
          nest.peak, full.peak);
    CHECK(seg.peak >= seg.max_count * 32 && nest.peak >= nest.max_count * 32,
          "%s: the peak counts the records a segment made and gave back (%zu, %zu records)", dn,
          seg.max_count, nest.max_count);
    CHECK(seg.peak <= (seg.fwd_count + 20 * 80) * 64 + 4096,
          "%s: peak bytes %zu with segments, %zu records kept", dn, seg.peak, seg.fwd_count);
    CHECK(seg.bwd_count == seg.fwd_count && nest.bwd_count == nest.fwd_count,
          "%s: the recomputations are freed (%zu -> %zu, nested %zu -> %zu)", dn, seg.fwd_count,
          seg.bwd_count, nest.fwd_count, nest.bwd_count);
}

/* ------------------------------------------------- an RNN with dropout */

enum { H = 8, X = 4, T = 40 };

typedef struct rnn {
    tg_tensor *W, *U, *b; /* [H,H], [X,H], [H]: parameters */
    tg_dtype dt;
    int t0, steps;        /* the steps a segment runs: t0 advances */
    tg_rng *rng;
    double xs[T][X];
} rnn;

static void rnn_steps(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    rnn *R = ctx;
    tg_tensor *h = in[0];
    int64_t t0 = (int64_t)tg_tensor_get(in[1], 0); /* the step index, an i64 input */
    for (int k = 0; k < R->steps; k++) {
        float xf[X];
        for (int j = 0; j < X; j++) xf[j] = (float)R->xs[t0 + k][j];
        tg_tensor *x = tg_tensor_new(tg_tensor_tape(h), R->dt, TG_SHAPE(1, X),
                                     R->dt == TG_F32 ? (const void *)xf : (const void *)R->xs[t0 + k]);
        h = tg_tanh(tg_add(tg_add(tg_matmul(h, R->W), tg_matmul(x, R->U)), R->b));
        h = tg_dropout(h, 0.25, true, R->rng);
    }
    out[0] = h;
}

static void rnn_param_fill(tg_tensor *p, tg_rng *r, tg_dtype dt) {
    int64_t n = tg_tensor_numel(p);
    for (int64_t i = 0; i < n; i++) {
        double v = 0.6 * (tg_rng_uniform(r) - 0.5);
        if (dt == TG_F32) ((float *)tg_tensor_data(p))[i] = (float)v;
        else ((double *)tg_tensor_data(p))[i] = v;
    }
}

/* The loss sum(h_T^2) + sum(W) (W used before any segment, so a segment
 * whose input needs no gradient must still give W its part); returns the
 * gradients of W, U, b and h0 flattened into g (H*H + X*H + H + H). */
static void run_rnn(tg_dtype dt, int seglen, double *g, size_t *max_fwd, uint64_t *rng_after) {
    tg_rng init;
    tg_rng_seed(&init, 7);
    rnn R = {tg_param_new(dt, TG_SHAPE(H, H)), tg_param_new(dt, TG_SHAPE(X, H)),
             tg_param_new(dt, TG_SHAPE(H)), dt, 0, 0, NULL, {{0}}};
    rnn_param_fill(R.W, &init, dt), rnn_param_fill(R.U, &init, dt), rnn_param_fill(R.b, &init, dt);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < X; j++) R.xs[t][j] = sin(0.3 * t + j);
    tg_rng drop;
    tg_rng_seed(&drop, 99);
    R.rng = &drop;
    tg_tape *tape = tg_tape_new();
    tg_tensor *h0 = tg_requires_grad(tg_full(tape, dt, TG_SHAPE(1, H), 0.1));
    tg_tensor *wsum = tg_sum(tg_param_on(tape, R.W));
    tg_tensor *h = h0;
    *max_fwd = 0;
    for (int t0 = 0; t0 < T; t0 += seglen ? seglen : T) {
        R.steps = seglen ? seglen : T;
        tg_tensor *in[2] = {h, tg_tensor_new(tape, TG_I64, TG_SHAPE(1), (int64_t[]){t0})};
        if (seglen) {
            CHECK(tg_segment(rnn_steps, &R, 2, in, 1, &h, &drop) == TG_OK, "rnn segment: %s",
                  tg_tape_error(tape));
        } else {
            rnn_steps(&R, in, &h);
        }
    }
    tg_tensor *loss = tg_add(tg_sum(tg_mul(h, h)), wsum);
    *max_fwd = tg_tape_count(tape);
    CHECK(tg_backward(loss) == TG_OK, "rnn backward: %s", tg_tape_error(tape));
    *rng_after = tg_rng_next(&drop);
    tg_tensor *parts[4] = {R.W, R.U, R.b, h0};
    size_t k = 0;
    for (int p = 0; p < 4; p++) {
        tg_tensor *gp = tg_tensor_grad(parts[p]);
        int64_t n = tg_tensor_numel(parts[p]);
        for (int64_t i = 0; i < n; i++) g[k++] = gp ? tg_tensor_get(gp, i) : NAN;
    }
    tg_tape_free(tape);
    tg_param_free(R.W), tg_param_free(R.U), tg_param_free(R.b);
}

static void test_rnn(tg_dtype dt) {
    const char *dn = dt == TG_F32 ? "f32" : "f64";
    enum { NG = H * H + X * H + H + H };
    double full[NG], seg[NG];
    size_t cf, cs;
    uint64_t rf, rs;
    run_rnn(dt, 0, full, &cf, &rf);
    run_rnn(dt, 5, seg, &cs, &rs);
    int same = 0, nonzero = 0;
    for (int i = 0; i < NG; i++) {
        same += memcmp(&full[i], &seg[i], sizeof(double)) == 0;
        nonzero += full[i] != 0 && isfinite(full[i]);
    }
    CHECK(same == NG, "%s rnn: %d of %d gradients bit for bit", dn, same, NG);
    CHECK(nonzero > NG / 2, "%s rnn: %d gradients nonzero", dn, nonzero);
    CHECK(rs == rf, "%s rnn: the rng stream after the backward is the same", dn);
    CHECK(cs * 4 < cf, "%s rnn: %zu records with segments, %zu without", dn, cs, cf);
}

/* -------------------------------------------- gradcheck and create-graph */

static void sq_sin(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    (void)ctx;
    tg_tensor *a = tg_mul(in[0], tg_sin(in[1]));
    out[0] = tg_sum(tg_mul(a, a));
    out[1] = tg_exp(a);
}

static tg_tensor *f_seg(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    tg_tensor *o[2];
    if (tg_segment(sq_sin, NULL, 2, x, 2, o, NULL) != TG_OK) return NULL;
    return tg_add(o[0], tg_sum(o[1]));
}

static void test_gradcheck_and_graph(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x[2] = {tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 2), (double[]){0.3, -0.5, 1.1, 0.7}),
                       tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){0.9, -0.2})};
    tg_gradcheck_opts first = {0};
    tg_gradcheck_report rep;
    CHECK(tg_gradcheck(f_seg, NULL, 2, x, &first, &rep), "gradcheck through a segment: %s", rep.msg);
    CHECK(!tg_gradcheck(f_seg, NULL, 2, x, &(tg_gradcheck_opts){.graph = true}, &rep) &&
              strstr(rep.msg, "cannot pass through a recomputed segment"),
          "the graph check is refused with a sentence: %s", rep.msg);
    tg_tensor *a = tg_requires_grad(x[0]);
    tg_tensor *in[2] = {a, x[1]}, *o[2];
    CHECK(tg_segment(sq_sin, NULL, 2, in, 2, o, NULL) == TG_OK, "segment");
    CHECK_ERR(tg_vjp(o[0], a, NULL, TG_CREATE_GRAPH), tape, TG_ERR_STATE,
              "segment: a create-graph sweep (TG_CREATE_GRAPH, higher derivatives) cannot pass");
    tg_tape_free(tape);
}

/* ------------------------------------- a parameter the only gradient */

static void scale_by(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    out[0] = tg_mul(tg_sin(in[0]), (tg_tensor *)ctx);
}

/* The input needs no gradient; the parameter inside does. used_before:
 * the pass used it before the segment (its proxy is older). */
static void test_param_only(bool used_before) {
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(3));
    double *pd = tg_tensor_data(p);
    pd[0] = 0.5, pd[1] = -1, pd[2] = 2;
    double want[3], got[3];
    for (int mode = 0; mode < 2; mode++) {
        tg_zero_grad(p);
        tg_tape *tape = tg_tape_new();
        tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){0.1, 0.2, 0.3}), *y;
        tg_tensor *before = used_before ? tg_sum(tg_param_on(tape, p)) : tg_scalar(tape, 0);
        if (mode == 0) scale_by(p, &x, &y);
        else CHECK(tg_segment(scale_by, p, 1, &x, 1, &y, NULL) == TG_OK, "segment");
        CHECK(tg_tensor_requires_grad(y), "the output requires grad through the parameter");
        CHECK(tg_backward(tg_add(tg_sum(tg_mul(y, y)), before)) == TG_OK, "backward: %s",
              tg_tape_error(tape));
        for (int i = 0; i < 3; i++) (mode ? got : want)[i] = tg_tensor_get(tg_tensor_grad(p), i);
        tg_tape_free(tape);
    }
    CHECK(memcmp(want, got, sizeof want) == 0 && want[1] != 0,
          "parameter gradient through a segment (used before: %d): %g %g %g, full %g %g %g",
          used_before, got[0], got[1], got[2], want[0], want[1], want[2]);
    tg_param_free(p);
}

/* ------------------------------------------------------------- errors */

static void give_null(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    (void)ctx, (void)in;
    out[0] = NULL;
}
static void give_mixed(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    (void)ctx;
    out[0] = in[0];
    out[1] = tg_cast(in[0], TG_F32);
}
static void give_i64(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    (void)ctx;
    out[0] = tg_tensor_new(tg_tensor_tape(in[0]), TG_I64, TG_SHAPE(1), (int64_t[]){3});
}
static int ncalls;
static void counted(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    (void)ctx;
    ncalls++;
    out[0] = tg_mul(in[0], in[0]);
}

static void named(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    (void)ctx;
    tg_tensor *a = in[0];
    for (int k = 0; k < 6; k++) a = tg_tensor_set_name(tg_mul_scalar(a, 2), "inside");
    out[0] = a;
}

/* Names given inside a segment do not stick to the tensors that reuse
 * the freed slots (the forward's, and the rerun's). */
static void test_names(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, 1.0)), "x"), *y;
    CHECK(tg_segment(named, NULL, 1, &x, 1, &y, NULL) == TG_OK, "segment");
    int stuck = tg_tensor_name(y) != NULL;
    for (int k = 0; k < 8; k++) stuck += tg_tensor_name(tg_scalar(tape, k)) != NULL;
    CHECK(tg_backward(y) == TG_OK && tg_item(tg_tensor_grad(x)) == 64, "backward: %s",
          tg_tape_error(tape));
    for (int k = 0; k < 8; k++) stuck += tg_tensor_name(tg_scalar(tape, k)) != NULL;
    CHECK(stuck == 0 && strcmp(tg_tensor_name(x), "x") == 0, "%d tensors got a name from inside",
          stuck);
    tg_tape_free(tape);
}

/* A function that changes between its runs (misuse): 2 elements, then 3. */
static void grows(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    int *runs = ctx;
    int64_t n = 2 + (*runs)++;
    out[0] = tg_mul_scalar(tg_expand(in[0], 1, &n), 2);
}

static void test_errors(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_scalar(tape, 2.0)), *o[2] = {x, x};
    CHECK(tg_segment(counted, NULL, 0, &x, 1, o, NULL) == TG_ERR_NULL && !o[0], "no inputs");
    CHECK(tg_segment(NULL, NULL, 1, &x, 1, o, NULL) == TG_ERR_NULL &&
              strstr(tg_tape_error(tape), "segment: fn is NULL"), "NULL fn: %s", tg_tape_error(tape));
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_scalar(tape, 2.0));
    tg_tensor *o17[17];
    CHECK(tg_segment(counted, NULL, 1, &x, 17, o17, NULL) == TG_ERR_ARG &&
              strstr(tg_tape_error(tape), "segment: 1 inputs and 17 outputs; a segment has 1 to 16"),
          "17 outputs: %s", tg_tape_error(tape));
    tg_tape_reset(tape);
    tg_tensor *stale = x;
    x = tg_requires_grad(tg_scalar(tape, 2.0));
    tg_tensor *two[2] = {x, stale};
    CHECK(tg_segment(counted, NULL, 2, two, 1, o, NULL) == TG_ERR_STALE &&
              strstr(tg_tape_error(tape), "segment: operand 2 is stale"), "stale: %s",
          tg_tape_error(tape));
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_scalar(tape, 2.0));
    CHECK(tg_segment(give_null, NULL, 1, &x, 1, o, NULL) == TG_ERR_NULL && !o[0] &&
              strstr(tg_tape_error(tape), "segment: output 1 of the function is NULL"),
          "NULL output: %s", tg_tape_error(tape));
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_scalar(tape, 2.0));
    CHECK(tg_segment(give_mixed, NULL, 1, &x, 2, o, NULL) == TG_ERR_DTYPE &&
              strstr(tg_tape_error(tape), "segment: output 2 is f32 []; the outputs must be float "
                                          "tensors of one dtype (output 1 is f64)"),
          "mixed outputs: %s", tg_tape_error(tape));
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_scalar(tape, 2.0));
    CHECK(tg_segment(give_i64, NULL, 1, &x, 1, o, NULL) == TG_ERR_DTYPE, "i64 output: %s",
          tg_tape_error(tape));
    /* recording off: fn runs once, plainly */
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_scalar(tape, 3.0));
    tg_tape_set_grad_enabled(tape, false);
    ncalls = 0;
    CHECK(tg_segment(counted, NULL, 1, &x, 1, o, NULL) == TG_OK && ncalls == 1 &&
              tg_item(o[0]) == 9 && !tg_tensor_requires_grad(o[0]), "recording off");
    tg_tape_set_grad_enabled(tape, true);
    /* recording on: once in the forward, once per sweep */
    ncalls = 0;
    CHECK(tg_segment(counted, NULL, 1, &x, 1, o, NULL) == TG_OK && ncalls == 1, "forward once");
    CHECK(tg_backward(o[0]) == TG_OK && ncalls == 2 && tg_item(tg_tensor_grad(x)) == 6,
          "the sweep runs it again: %d calls", ncalls);
    CHECK(tg_backward(o[0]) == TG_OK && ncalls == 3 && tg_item(tg_tensor_grad(x)) == 12,
          "a second sweep again, accumulating");
    tg_tensor *g = NULL;
    CHECK(tg_grad(o[0], NULL, 1, &x, &g, 0) == TG_OK && ncalls == 4 && g && tg_item(g) == 6 &&
              tg_item(tg_tensor_grad(x)) == 12,
          "tg_grad through a segment: %g", g ? tg_item(g) : NAN);
    int runs = 0;
    tg_tensor *v = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(1), (double[]){1}));
    CHECK(tg_segment(grows, &runs, 1, &v, 1, o, NULL) == TG_OK, "grows: forward");
    CHECK(tg_backward(tg_sum(o[0])) == TG_ERR_STATE &&
              strstr(tg_tape_error(tape), "segment: rerun for the backward, the function gave "
                                          "output 1 of shape [3]; the forward gave [2]"),
          "a function that changes: %s", tg_tape_error(tape));
    tg_tape_reset(tape);
    x = tg_requires_grad(tg_scalar(tape, 3.0));
    /* a handle kept from inside the segment is stale */
    lorenz L = {tg_param_new(TG_F64, 0, NULL), tg_param_new(TG_F64, 0, NULL),
                tg_param_new(TG_F64, 0, NULL), TG_F64, 2, 0, 0, 0, NULL};
    tg_tensor *s[3] = {x, x, x};
    CHECK(tg_segment(lorenz_seg, &L, 3, s, 3, s, NULL) == TG_OK, "lorenz segment");
    CHECK(tg_add(L.escaped, x) == NULL && tg_tape_status(tape) == TG_ERR_STALE,
          "an intermediate kept from inside is stale: %s", tg_tape_error(tape));
    tg_tape_free(tape);
    tg_param_free(L.sigma), tg_param_free(L.rho), tg_param_free(L.beta);
}

/* --------------------------------------- out of memory in a recomputation */

/* A segment whose recomputation needs more memory than the forward had. */
static void big(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    (void)ctx;
    tg_tensor *a = in[0];
    for (int k = 0; k < 3000; k++) a = tg_mul_scalar(tg_sin(a), 1.01);
    out[0] = a;
}

static void test_oom(void) {
    tg_allocator al = {f_malloc, f_realloc, f_free, NULL};
    tg_set_allocator(&al);
    int nomem = 0, runs = 0;
    for (long k = 1; k < 400; k++) {
        tg_tape *tape = tg_tape_new();
        if (!tape) continue;
        tg_tensor *x = tg_requires_grad(tg_full(tape, TG_F64, TG_SHAPE(64), 0.5)), *y;
        tg_status st = tg_segment(big, NULL, 1, &x, 1, &y, NULL);
        tg_tensor *l = tg_sum(y);
        /* fail the k-th allocation from now: during the backward's rerun */
        calls = 0, fail_at = k;
        if (st == TG_OK) st = tg_backward(l);
        fail_at = -1;
        runs++;
        if (st != TG_OK) {
            nomem++;
            CHECK(st == TG_ERR_NOMEM && strstr(tg_tape_error(tape), "out of memory"),
                  "k = %ld: %s: %s", k, tg_status_name(st), tg_tape_error(tape));
        } else {
            CHECK(fabs(tg_tensor_get(tg_tensor_grad(x), 0)) > 0, "k = %ld: a gradient", k);
            tg_tape_free(tape);
            break; /* from here on nothing fails */
        }
        /* the tape works again after a reset */
        tg_tape_reset(tape);
        x = tg_requires_grad(tg_full(tape, TG_F64, TG_SHAPE(64), 0.5));
        CHECK(tg_segment(big, NULL, 1, &x, 1, &y, NULL) == TG_OK && tg_backward(tg_sum(y)) == TG_OK,
              "k = %ld: after a reset: %s", k, tg_tape_error(tape));
        tg_tape_free(tape);
    }
    tg_set_allocator(NULL);
    CHECK(nomem >= 1 && runs > nomem, "%d of %d runs ran out of memory in the rerun", nomem, runs);
}

int main(void) {
    test_lorenz(TG_F64);
    test_lorenz(TG_F32);
    test_rnn(TG_F64);
    test_rnn(TG_F32);
    test_gradcheck_and_graph();
    test_param_only(false);
    test_param_only(true);
    test_errors();
    test_names();
    test_oom();
    return TEST_DONE("segment");
}
