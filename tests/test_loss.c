/* test_loss.c - the losses: values and gradients against PyTorch
 * (tests/ref/loss.txt, made by tests/ref_loss.py), gradient checks in f64
 * for every loss and reduction (both backward paths, second derivatives on
 * many), extreme logits (+-1000), probabilities of exactly 0 and 1, and bad
 * input (labels out of range or of the wrong dtype, shape mismatches, bad
 * options). The sce/ cases check the fused op tg_softmax_cross_entropy,
 * which tg_cross_entropy uses on [N, C] and [C] inputs.
 * Usage: test_loss tests/ref/loss.txt */
#include "refcase.h"

/* ------------------------------------------------ PyTorch reference cases */

/* Class weights of the weighted cases (exact in binary, so the PyTorch
 * script writes the same ones: tests/ref_loss.py, CLASS_W). */
static const double class_w[8] = {0.5, 1.0, 2.0, 3.0, 0.25, 1.5, 0.75, 4.0};

/* one builder per reduction: CALL(r) is the loss with reduction r */
#define B3(NAME, CALL)                                                         \
    OP(NAME##_mean, CALL(TG_REDUCE_MEAN))                                      \
    OP(NAME##_sum, CALL(TG_REDUCE_SUM))                                        \
    OP(NAME##_none, CALL(TG_REDUCE_NONE))
#define E3(STR, NAME) {STR "/mean", NAME##_mean}, {STR "/sum", NAME##_sum}, {STR "/none", NAME##_none}

#define MSE(r) tg_mse_loss(x[0], x[1], r)
#define L1(r) tg_l1_loss(x[0], x[1], r)
#define HUB(r) tg_huber_loss(x[0], x[1], 1.0, r)
#define SL1(r) tg_smooth_l1_loss(x[0], x[1], 1.0, r)
#define BCE(r) tg_bce_loss(x[0], x[1], r)
#define BCEL(r) tg_bce_with_logits_loss(x[0], x[1], NULL, r)
#define CE(r) tg_cross_entropy(x[0], x[1], r, TG_IGNORE_INDEX, 0.0)
#define CES(r) tg_cross_entropy(x[0], x[1], r, TG_IGNORE_INDEX, 0.1)
#define NLL(r) tg_nll_loss(x[0], x[1], r, TG_IGNORE_INDEX)
#define KL(r) tg_kl_div(x[0], x[1], r, false)
#define KLL(r) tg_kl_div(x[0], x[1], r, true)
#define MM(r) tg_multi_margin_loss(x[0], x[1], 1.0, r)
B3(mse, MSE)
B3(l1, L1)
B3(huber1, HUB)
B3(sl1, SL1)
B3(bce, BCE)
B3(bcel, BCEL)
B3(ce, CE)
B3(ces, CES)
B3(nll, NLL)
B3(kl, KL)
B3(kll, KLL)
B3(mm, MM)
OP(huber05, tg_huber_loss(x[0], x[1], 0.5, TG_REDUCE_MEAN))
OP(sl105, tg_smooth_l1_loss(x[0], x[1], 0.5, TG_REDUCE_MEAN))
OP(sl10, tg_smooth_l1_loss(x[0], x[1], 0.0, TG_REDUCE_MEAN))
OP(kl_bm, tg_kl_div(x[0], x[1], TG_REDUCE_BATCHMEAN, false))
OP(mm05, tg_multi_margin_loss(x[0], x[1], 0.5, TG_REDUCE_MEAN))
OP(bcel_pw, tg_bce_with_logits_loss(
                x[0], x[1], tg_tensor_new(t, tg_tensor_dtype(x[0]), TG_SHAPE(4),
                                          tg_tensor_dtype(x[0]) == TG_F32
                                              ? (const void *)(const float[]){0.5f, 1, 2, 3}
                                              : (const void *)(const double[]){0.5, 1, 2, 3}),
                TG_REDUCE_MEAN))
OP(ce_extreme, tg_cross_entropy(x[0], x[1], TG_REDUCE_NONE, TG_IGNORE_INDEX, 0.0))
OP(bcel_extreme, tg_bce_with_logits_loss(x[0], x[1], NULL, TG_REDUCE_NONE))
OP(bce_edge, tg_bce_loss(x[0], x[1], TG_REDUCE_NONE))
/* the fused op under tg_cross_entropy: F.cross_entropy(reduction='none') */
#define SCE(IG, EPS) tg_softmax_cross_entropy(x[0], x[1], IG, EPS)
OP(sce_plain, SCE(TG_IGNORE_INDEX, 0.0))
OP(sce_ignore1, SCE(1, 0.0))
OP(sce_smooth, SCE(TG_IGNORE_INDEX, 0.1))
OP(sce_smooth_wide, SCE(TG_IGNORE_INDEX, 0.25))
OP(sce_smooth_ignore1, SCE(1, 0.1))

/* class weights (PyTorch's weight=), the first C of class_w */
static tg_tensor *wt_for(tg_tape *t, const tg_tensor *x) {
    int64_t C = tg_tensor_dim(x, tg_tensor_rank(x) == 1 ? 0 : 1);
    float wf[8];
    for (int k = 0; k < 8; k++) wf[k] = (float)class_w[k];
    return tg_tensor_new(t, tg_tensor_dtype(x), 1, &C,
                         tg_tensor_dtype(x) == TG_F32 ? (const void *)wf : (const void *)class_w);
}
#define CEW(r) tg_cross_entropy_weighted(x[0], x[1], wt_for(t, x[0]), r, TG_IGNORE_INDEX, 0.0)
#define CEWS(r) tg_cross_entropy_weighted(x[0], x[1], wt_for(t, x[0]), r, TG_IGNORE_INDEX, 0.1)
#define NLLW(r) tg_nll_loss_weighted(x[0], x[1], wt_for(t, x[0]), r, TG_IGNORE_INDEX)
B3(cew, CEW)
B3(cews, CEWS)
B3(nllw, NLLW)

static const ref_entry table[] = {
    E3("cew", cew), E3("cew_smooth", cews), E3("cew_spatial", cews), E3("nllw", nllw),
    {"cew_1d/mean", cews_mean},
    E3("mse", mse), E3("l1", l1), E3("huber1", huber1), E3("sl1", sl1), E3("bce", bce),
    E3("bcel", bcel), E3("ce", ce), E3("ce_ignore", ce), E3("ce_smooth", ces),
    E3("ce_spatial", ce), E3("nll", nll), E3("kl", kl), E3("kllog", kll), E3("mm", mm),
    {"huber05/mean", huber05}, {"sl105/mean", sl105}, {"sl10/mean", sl10},
    {"kl/batchmean", kl_bm}, {"mm05/mean", mm05}, {"bcel_pw/mean", bcel_pw},
    {"ce_1d/mean", ce_mean}, {"mm_1d/mean", mm_mean}, {"ce/extreme", ce_extreme},
    {"bcel/extreme", bcel_extreme}, {"bce/edge", bce_edge},
    {"sce/plain", sce_plain}, {"sce/ignore", sce_plain}, {"sce/ignore1", sce_ignore1},
    {"sce/smooth", sce_smooth}, {"sce/smooth_wide", sce_smooth_wide},
    {"sce/smooth_ignore1", sce_smooth_ignore1}, {"sce/extreme", sce_smooth},
    {"sce/1d", sce_plain}, {"sce/1d_smooth", sce_smooth}, {"sce/c1", sce_smooth}, {NULL, NULL},
};

/* ------------------------------------------------------ gradient checks */

enum which {
    W_MSE, W_L1, W_HUBER, W_SL1, W_BCE, W_BCEL, W_BCEL_PW, W_CE, W_NLL, W_KL, W_KLLOG, W_MM,
    W_CEW, W_NLLW
};
static const char *wname[] = {"mse", "l1", "huber", "smooth_l1", "bce", "bce_logits",
                              "bce_logits_pw", "cross_entropy", "nll", "kl_div",
                              "kl_div_log", "multi_margin", "cross_entropy_weighted",
                              "nll_loss_weighted"};

typedef struct spec {
    enum which w;
    tg_reduction r;
    double p;        /* delta, beta, label_smoothing, margin */
    int64_t ignore;
} spec;

static tg_tensor *lossfn(tg_tape *tape, tg_tensor *const *x, void *ud) {
    const spec *s = ud;
    switch (s->w) {
    case W_MSE: return tg_mse_loss(x[0], x[1], s->r);
    case W_L1: return tg_l1_loss(x[0], x[1], s->r);
    case W_HUBER: return tg_huber_loss(x[0], x[1], s->p, s->r);
    case W_SL1: return tg_smooth_l1_loss(x[0], x[1], s->p, s->r);
    case W_BCE: return tg_bce_loss(x[0], x[1], s->r);
    case W_BCEL: return tg_bce_with_logits_loss(x[0], x[1], NULL, s->r);
    case W_BCEL_PW: return tg_bce_with_logits_loss(x[0], x[1], x[2], s->r);
    case W_CE: return tg_cross_entropy(x[0], x[1], s->r, s->ignore, s->p);
    case W_NLL: return tg_nll_loss(x[0], x[1], s->r, s->ignore);
    case W_KL: return tg_kl_div(x[0], x[1], s->r, false);
    case W_KLLOG: return tg_kl_div(x[0], x[1], s->r, true);
    case W_MM: return tg_multi_margin_loss(x[0], x[1], s->p, s->r);
    case W_CEW:
    case W_NLLW: { /* class weights from the pattern of class_w, the input's C */
        int64_t C = tg_tensor_dim(x[0], tg_tensor_rank(x[0]) == 1 ? 0 : 1);
        double w[8];
        for (int64_t k = 0; k < C && k < 8; k++) w[k] = class_w[k];
        tg_tensor *wt = tg_tensor_new(tape, TG_F64, 1, &C, w);
        return s->w == W_CEW ? tg_cross_entropy_weighted(x[0], x[1], wt, s->r, s->ignore, s->p)
                             : tg_nll_loss_weighted(x[0], x[1], wt, s->r, s->ignore);
    }
    }
    return NULL;
}

static tg_rng rng;

static tg_tensor *randt(tg_tape *tape, int rank, const int64_t *shape, double lo, double hi) {
    return tg_rand_uniform(tape, TG_F64, rank, shape, &rng, lo, hi);
}

/* Values away from a kink: |v - k| >= gap for each kink k. */
static void push_off(tg_tensor *t, const double *kinks, int nk, double gap) {
    double *v = tg_tensor_f64(t);
    for (int64_t i = 0; i < tg_tensor_numel(t); i++)
        for (int k = 0; k < nk; k++)
            if (fabs(v[i] - kinks[k]) < gap) v[i] = kinks[k] + (v[i] >= kinks[k] ? gap : -gap);
}

static void gc(const char *what, spec s, int n, tg_tensor *const *in, bool second) {
    tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 99, true, second};
    tg_gradcheck_report rep;
    bool ok = tg_gradcheck(lossfn, &s, n, in, &o, &rep);
    CHECK(ok, "gradcheck %s/%s (r=%d): %s", wname[s.w], what, (int)s.r, rep.msg);
}

static tg_tensor *labels_t(tg_tape *tape, int rank, const int64_t *shape, const int64_t *v) {
    return tg_tensor_new(tape, TG_I64, rank, shape, v);
}

static void test_gradcheck(void) {
    tg_tape *tape = tg_tape_new();
    static const tg_reduction reds[] = {TG_REDUCE_MEAN, TG_REDUCE_SUM, TG_REDUCE_NONE};
    for (int ri = 0; ri < 3; ri++) {
        tg_reduction r = reds[ri];
        bool second = ri != 1;
        tg_tensor *x = randt(tape, TG_SHAPE(3, 4), -2, 2), *y = randt(tape, TG_SHAPE(3, 4), -2, 2);
        tg_tensor *d = tg_sub(x, y);
        (void)d;
        gc("3x4", (spec){W_MSE, r, 0, 0}, 2, (tg_tensor *[]){x, y}, second);
        /* L1 / Huber / smooth L1: differences away from their kinks */
        tg_tensor *y0 = tg_zeros(tape, TG_F64, TG_SHAPE(3, 4));
        tg_tensor *xs = randt(tape, TG_SHAPE(3, 4), -3, 3);
        push_off(xs, (double[]){0, -1, 1, -0.5, 0.5}, 5, 1e-3);
        gc("3x4", (spec){W_L1, r, 0, 0}, 2, (tg_tensor *[]){xs, y0}, second);
        gc("delta 1", (spec){W_HUBER, r, 1.0, 0}, 2, (tg_tensor *[]){xs, y0}, second);
        gc("delta 0.5", (spec){W_HUBER, r, 0.5, 0}, 2, (tg_tensor *[]){xs, y0}, false);
        gc("beta 1", (spec){W_SL1, r, 1.0, 0}, 2, (tg_tensor *[]){xs, y0}, second);
        gc("beta 0.5", (spec){W_SL1, r, 0.5, 0}, 2, (tg_tensor *[]){xs, y0}, false);
        gc("beta 0", (spec){W_SL1, r, 0.0, 0}, 2, (tg_tensor *[]){xs, y0}, false);
        /* both operands differentiable */
        gc("3x4 xy", (spec){W_HUBER, r, 1.0, 0}, 2,
           (tg_tensor *[]){xs, randt(tape, TG_SHAPE(3, 4), -0.2, 0.2)}, false);
        /* BCE on probabilities (target differentiable too) */
        tg_tensor *p = randt(tape, TG_SHAPE(2, 5), 0.05, 0.95), *t = randt(tape, TG_SHAPE(2, 5), 0, 1);
        gc("2x5", (spec){W_BCE, r, 0, 0}, 2, (tg_tensor *[]){p, t}, second);
        /* BCE with logits, incl. exactly 0 and +-1000 */
        tg_tensor *lg = tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 4),
                                      (double[]){-1000, -30, -1.5, 0, 0, 0.7, 30, 1000});
        tg_tensor *ly = tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 4),
                                      (double[]){0, 1, 0.3, 1, 0, 0.5, 0, 1});
        gc("extreme and 0", (spec){W_BCEL, r, 0, 0}, 2, (tg_tensor *[]){lg, ly}, second);
        gc("pos_weight", (spec){W_BCEL_PW, r, 0, 0}, 3,
           (tg_tensor *[]){randt(tape, TG_SHAPE(3, 4), -4, 4), randt(tape, TG_SHAPE(3, 4), 0, 1),
                           randt(tape, TG_SHAPE(4), 0.5, 3)},
           second);
        /* cross entropy: plain, ignore_index, label smoothing, spatial, 1-D, +-1000 */
        tg_tensor *ce_x = randt(tape, TG_SHAPE(5, 4), -3, 3);
        tg_tensor *ce_y = labels_t(tape, TG_SHAPE(5), (int64_t[]){0, 3, 1, 1, 2});
        gc("5x4", (spec){W_CE, r, 0, -100}, 2, (tg_tensor *[]){ce_x, ce_y}, second);
        tg_tensor *ce_yi = labels_t(tape, TG_SHAPE(5), (int64_t[]){0, -100, 1, -100, 2});
        gc("ignore", (spec){W_CE, r, 0, -100}, 2, (tg_tensor *[]){ce_x, ce_yi}, second);
        gc("ignore in range", (spec){W_CE, r, 0, 1}, 2, (tg_tensor *[]){ce_x, ce_y}, false);
        gc("smoothing", (spec){W_CE, r, 0.2, -100}, 2, (tg_tensor *[]){ce_x, ce_yi}, second);
        gc("spatial", (spec){W_CE, r, 0.1, -100}, 2,
           (tg_tensor *[]){randt(tape, TG_SHAPE(2, 3, 2, 2), -2, 2),
                           labels_t(tape, TG_SHAPE(2, 2, 2), (int64_t[]){0, 1, 2, 2, 1, 0, -100, 1})},
           second);
        gc("1-D", (spec){W_CE, r, 0, -100}, 2,
           (tg_tensor *[]){randt(tape, TG_SHAPE(4), -2, 2), labels_t(tape, 0, NULL, (int64_t[]){2})},
           second);
        tg_tensor *big = tg_tensor_new(tape, TG_F64, TG_SHAPE(3, 3),
                                       (double[]){1000, -1000, 0, -1000, -1000, 1000, 999, 1000, -1000});
        gc("+-1000", (spec){W_CE, r, 0, -100}, 2,
           (tg_tensor *[]){big, labels_t(tape, TG_SHAPE(3), (int64_t[]){1, 2, 0})}, second);
        gc("N=0", (spec){W_CE, r == TG_REDUCE_MEAN ? TG_REDUCE_SUM : r, 0, -100}, 2,
           (tg_tensor *[]){randt(tape, TG_SHAPE(0, 3), -1, 1), labels_t(tape, TG_SHAPE(0), NULL)},
           false);
        /* class weights: plain, ignore, smoothing, spatial, 1-D; NLL */
        gc("weighted", (spec){W_CEW, r, 0, -100}, 2, (tg_tensor *[]){ce_x, ce_yi}, second);
        gc("weighted smoothing", (spec){W_CEW, r, 0.2, -100}, 2, (tg_tensor *[]){ce_x, ce_yi},
           second);
        gc("weighted spatial", (spec){W_CEW, r, 0.1, -100}, 2,
           (tg_tensor *[]){randt(tape, TG_SHAPE(2, 3, 2, 2), -2, 2),
                           labels_t(tape, TG_SHAPE(2, 2, 2), (int64_t[]){0, 1, 2, 2, 1, 0, -100, 1})},
           false);
        gc("weighted 1-D", (spec){W_CEW, r, 0.1, -100}, 2,
           (tg_tensor *[]){randt(tape, TG_SHAPE(4), -2, 2), labels_t(tape, 0, NULL, (int64_t[]){3})},
           false);
        gc("weighted", (spec){W_NLLW, r, 0, -100}, 2, (tg_tensor *[]){ce_x, ce_yi}, second);
        /* NLL, KL, multi-margin */
        gc("5x4", (spec){W_NLL, r, 0, -100}, 2, (tg_tensor *[]){ce_x, ce_yi}, second);
        tg_tensor *kx = randt(tape, TG_SHAPE(3, 4), -3, -0.1), *kt = randt(tape, TG_SHAPE(3, 4), 0.05, 1);
        gc("3x4", (spec){W_KL, r, 0, 0}, 2, (tg_tensor *[]){kx, kt}, second);
        gc("3x4", (spec){W_KLLOG, r, 0, 0}, 2, (tg_tensor *[]){kx, randt(tape, TG_SHAPE(3, 4), -3, 0)},
           second);
        tg_tensor *mx = randt(tape, TG_SHAPE(4, 5), -2, 2);
        tg_tensor *my = labels_t(tape, TG_SHAPE(4), (int64_t[]){0, 4, 2, 2});
        /* away from the hinges: margin - x_y + x_j != 0 */
        double *mv = tg_tensor_f64(mx);
        for (int n = 0; n < 4; n++)
            for (int j = 0; j < 5; j++) {
                const int64_t *yy = tg_tensor_i64(my);
                double z = 1.0 - mv[n * 5 + yy[n]] + mv[n * 5 + j];
                if (j != yy[n] && fabs(z) < 1e-3) mv[n * 5 + j] += 2e-3;
            }
        gc("4x5", (spec){W_MM, r, 1.0, 0}, 2, (tg_tensor *[]){mx, my}, second);
        gc("4x5 margin 0.5", (spec){W_MM, r, 0.5, 0}, 2, (tg_tensor *[]){mx, my}, false);
    }
    tg_tensor *kx = randt(tape, TG_SHAPE(3, 4), -3, -0.1), *kt = randt(tape, TG_SHAPE(3, 4), 0.05, 1);
    gc("batchmean", (spec){W_KL, TG_REDUCE_BATCHMEAN, 0, 0}, 2, (tg_tensor *[]){kx, kt}, true);
    gc("batchmean", (spec){W_KLLOG, TG_REDUCE_BATCHMEAN, 0, 0}, 2, (tg_tensor *[]){kx, tg_log(kt)}, true);
    CHECK_OK(tape);
    tg_tape_free(tape);
}

/* ------------------------------------------------------------- extremes */

static void test_extremes(void) {
    tg_tape *tape = tg_tape_new();
    /* BCE at p = 0 and 1: finite loss (100 where the log is clamped) and the
     * derivative of the clamped function */
    tg_tensor *p = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){0, 1, 0, 1}));
    tg_tensor *y = tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){0, 1, 1, 0});
    tg_tensor *l = tg_bce_loss(p, y, TG_REDUCE_NONE);
    CHECK(l && tg_tensor_get(l, 0) == 0 && tg_tensor_get(l, 1) == 0 && tg_tensor_get(l, 2) == 100 &&
              tg_tensor_get(l, 3) == 100,
          "bce at 0/1: %g %g %g %g", tg_tensor_get(l, 0), tg_tensor_get(l, 1), tg_tensor_get(l, 2),
          tg_tensor_get(l, 3));
    CHECK(tg_backward(tg_sum(l)) == TG_OK, "bce backward: %s", tg_tape_error(tape));
    tg_tensor *g = tg_tensor_grad(p);
    const double want[4] = {1, -1, 0, 0};
    for (int i = 0; g && i < 4; i++)
        CHECK(tg_tensor_get(g, i) == want[i], "bce grad at p=%g y=%g: %g, want %g",
              tg_tensor_get(p, i), tg_tensor_get(y, i), tg_tensor_get(g, i), want[i]);
    /* f32: the same */
    tg_tensor *p32 = tg_requires_grad(tg_tensor_new(tape, TG_F32, TG_SHAPE(2), (float[]){0, 1}));
    tg_tensor *y32 = tg_tensor_new(tape, TG_F32, TG_SHAPE(2), (float[]){1, 0});
    tg_tensor *l32 = tg_bce_loss(p32, y32, TG_REDUCE_MEAN);
    CHECK(l32 && tg_item(l32) == 100, "bce f32 at 0/1: %g", l32 ? tg_item(l32) : NAN);
    CHECK(tg_backward(l32) == TG_OK && isfinite(tg_tensor_get(tg_tensor_grad(p32), 0)), "bce f32 grad");

    /* cross entropy at +-1000 in f32 and f64: exact values, finite gradients */
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = k ? TG_F32 : TG_F64;
        tg_tensor *x = tg_requires_grad(tg_full(tape, dt, TG_SHAPE(2, 3), -1000));
        if (dt == TG_F32) tg_tensor_f32(x)[0] = 1000, tg_tensor_f32(x)[5] = 1000;
        else tg_tensor_f64(x)[0] = 1000, tg_tensor_f64(x)[5] = 1000;
        tg_tensor *lab = labels_t(tape, TG_SHAPE(2), (int64_t[]){1, 2});
        tg_tensor *ce = tg_cross_entropy(x, lab, TG_REDUCE_SUM, TG_IGNORE_INDEX, 0.0);
        CHECK(ce && tg_item(ce) == 2000, "ce at +-1000 (%s): %.17g", tg_dtype_name(dt),
              ce ? tg_item(ce) : NAN);
        CHECK(tg_backward(ce) == TG_OK, "ce backward");
        tg_tensor *gx = tg_tensor_grad(x);
        const double gw[6] = {1, -1, 0, 0, 0, 0};
        for (int i = 0; gx && i < 6; i++)
            CHECK(tg_tensor_get(gx, i) == gw[i], "ce grad[%d] at +-1000: %g", i, tg_tensor_get(gx, i));
    }
    /* BCE with logits at +-1000: exact and finite */
    tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F32, TG_SHAPE(4), (float[]){-1000, 1000, -1000, 1000}));
    tg_tensor *t = tg_tensor_new(tape, TG_F32, TG_SHAPE(4), (float[]){0, 1, 1, 0});
    tg_tensor *bl = tg_bce_with_logits_loss(x, t, NULL, TG_REDUCE_NONE);
    CHECK(bl && tg_tensor_get(bl, 0) == 0 && tg_tensor_get(bl, 1) == 0 && tg_tensor_get(bl, 2) == 1000 &&
              tg_tensor_get(bl, 3) == 1000, "bce_with_logits at +-1000");
    CHECK(tg_backward(tg_sum(bl)) == TG_OK, "bce_with_logits backward");
    tg_tensor *gx = tg_tensor_grad(x);
    const double gw[4] = {0, 0, -1, 1};
    for (int i = 0; gx && i < 4; i++)
        CHECK(tg_tensor_get(gx, i) == gw[i], "bce_with_logits grad[%d]: %g", i, tg_tensor_get(gx, i));
    /* every label ignored: mean is NaN (0/0), sum is 0, as PyTorch */
    tg_tensor *cx = tg_ones(tape, TG_F64, TG_SHAPE(2, 3));
    tg_tensor *ign = labels_t(tape, TG_SHAPE(2), (int64_t[]){-100, -100});
    CHECK(isnan(tg_item(tg_cross_entropy(cx, ign, TG_REDUCE_MEAN, -100, 0))), "all ignored: mean");
    CHECK(tg_item(tg_cross_entropy(cx, ign, TG_REDUCE_SUM, -100, 0)) == 0, "all ignored: sum");
    /* a parameter as the input */
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(2, 3));
    tg_tensor *lab = labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 2});
    tg_tensor *cw = tg_cross_entropy(w, lab, TG_REDUCE_MEAN, -100, 0);
    CHECK(cw && fabs(tg_item(cw) - log(3.0)) < 1e-15, "parameter input: %g", cw ? tg_item(cw) : NAN);
    CHECK(tg_backward(cw) == TG_OK && fabs(tg_tensor_get(tg_tensor_grad(w), 0) - (1.0 / 3 - 1) / 2) < 1e-15,
          "parameter gradient");
    CHECK_OK(tape);
    tg_tape_free(tape); /* before the parameter: the tape holds a proxy of it */
    tg_param_free(w);
}

/* -------------------------------------------------------------- bad input */

static void test_errors(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_zeros(tape, TG_F64, TG_SHAPE(2, 4));
#define FRESH() (tg_tape_reset(tape), x = tg_zeros(tape, TG_F64, TG_SHAPE(2, 4)))
    tg_tensor *r;

    r = tg_cross_entropy(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 5}), TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_ARG, "cross_entropy: label 5 at index 1 is out of range for 4 classes");
    FRESH();
    r = tg_cross_entropy(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){-1, 0}), TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_ARG, "label -1");
    FRESH();
    r = tg_nll_loss(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){4, 0}), TG_REDUCE_MEAN, -100);
    CHECK_ERR(r, tape, TG_ERR_ARG, "nll_loss: label 4");
    FRESH();
    r = tg_multi_margin_loss(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){-100, 0}), 1, TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_ARG, "multi_margin_loss: label -100");
    FRESH();
    r = tg_cross_entropy(x, tg_zeros(tape, TG_F32, TG_SHAPE(2)), TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_DTYPE, "cross_entropy: labels must be i64");
    FRESH();
    r = tg_cross_entropy(x, labels_t(tape, TG_SHAPE(3), (int64_t[]){0, 1, 2}), TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "labels [3] do not fit input [2,4]");
    FRESH();
    r = tg_cross_entropy(x, labels_t(tape, TG_SHAPE(2, 1), (int64_t[]){0, 1}), TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "labels [2,1]");
    FRESH();
    /* class weights: one per class, of the input's dtype, not stale */
    r = tg_cross_entropy_weighted(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 1}),
                                  tg_ones(tape, TG_F64, TG_SHAPE(3)), TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "cross_entropy: weight f64 [3] does not fit input f64 [2,4]");
    FRESH();
    r = tg_nll_loss_weighted(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 1}),
                             tg_ones(tape, TG_F32, TG_SHAPE(4)), TG_REDUCE_MEAN, -100);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "nll_loss: weight f32 [4]");
    FRESH();
    {
        tg_tensor *old_w = tg_ones(tape, TG_F64, TG_SHAPE(4));
        FRESH();
        r = tg_cross_entropy_weighted(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 1}), old_w,
                                      TG_REDUCE_MEAN, -100, 0);
        CHECK_ERR(r, tape, TG_ERR_STALE, "cross_entropy: weight is stale");
    }
    FRESH();
    { /* NULL weight is the unweighted loss; all kept weights 0: NaN mean */
        tg_tensor *y = labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 3});
        double a = tg_item(tg_cross_entropy(x, y, TG_REDUCE_MEAN, -100, 0.1));
        double b = tg_item(tg_cross_entropy_weighted(x, y, NULL, TG_REDUCE_MEAN, -100, 0.1));
        CHECK(a == b && fabs(a - log(4.0)) < 1e-12, "NULL weight: %g vs %g", a, b);
        tg_tensor *w0 = tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){0, 1, 1, 0});
        CHECK(isnan(tg_item(tg_cross_entropy_weighted(x, y, w0, TG_REDUCE_MEAN, -100, 0))),
              "zero total weight: NaN");
        CHECK_OK(tape);
    }
    FRESH();
    r = tg_cross_entropy(labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 1}), labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 1}),
                         TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_DTYPE, "cross_entropy: input must be f32 or f64");
    FRESH();
    r = tg_cross_entropy(x, labels_t(tape, TG_SHAPE(2), (int64_t[]){0, 1}), TG_REDUCE_MEAN, -100, 1.5);
    CHECK_ERR(r, tape, TG_ERR_ARG, "label_smoothing");
    FRESH();
    r = tg_mse_loss(x, tg_zeros(tape, TG_F64, TG_SHAPE(4)), TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "mse_loss: input [2,4] and target [4] must have the same shape");
    FRESH();
    r = tg_l1_loss(x, tg_zeros(tape, TG_F32, TG_SHAPE(2, 4)), TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_DTYPE, "l1_loss: input is f64 and target is f32");
    FRESH();
    r = tg_bce_loss(tg_full(tape, TG_F64, TG_SHAPE(3), 1.5), tg_zeros(tape, TG_F64, TG_SHAPE(3)), TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_ARG, "bce_loss: input [3] holds 1.5 at index 0");
    FRESH();
    r = tg_huber_loss(x, x, 0.0, TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_ARG, "huber_loss: delta");
    FRESH();
    r = tg_smooth_l1_loss(x, x, -1.0, TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_ARG, "smooth_l1_loss: beta");
    FRESH();
    r = tg_mse_loss(x, x, TG_REDUCE_BATCHMEAN);
    CHECK_ERR(r, tape, TG_ERR_ARG, "mse_loss: reduction");
    FRESH();
    r = tg_kl_div(x, x, (tg_reduction)42, false);
    CHECK_ERR(r, tape, TG_ERR_ARG, "kl_div: reduction 42");
    FRESH();
    r = tg_bce_with_logits_loss(x, x, tg_ones(tape, TG_F64, TG_SHAPE(3)), TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "bce_with_logits_loss: pos_weight [3] does not broadcast to input [2,4]");
    FRESH();
    r = tg_multi_margin_loss(tg_zeros(tape, TG_F64, TG_SHAPE(2, 3, 2)),
                             labels_t(tape, TG_SHAPE(2, 2), (int64_t[]){0, 1, 2, 0}), 1, TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_SHAPE, "multi_margin_loss: input [2,3,2]");
    FRESH();
    r = tg_mse_loss(NULL, x, TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_NULL, "mse_loss: input is NULL");
    /* sticky: the first error stays */
    r = tg_cross_entropy(x, NULL, TG_REDUCE_MEAN, -100, 0);
    CHECK_ERR(r, tape, TG_ERR_NULL, "mse_loss");
    FRESH();
    tg_tensor *old = x;
    FRESH();
    r = tg_mse_loss(old, x, TG_REDUCE_MEAN);
    CHECK_ERR(r, tape, TG_ERR_STALE, "mse_loss: input is stale");
#undef FRESH
    tg_tape_free(tape);
}

int main(int argc, char **argv) {
    tg_rng_seed(&rng, 42);
    if (argc < 2) {
        fprintf(stderr, "usage: test_loss tests/ref/loss.txt\n");
        return 2;
    }
    ref_run_file(argv[1], table, 1e-6, 1e-12);
    test_gradcheck();
    test_extremes();
    test_errors();
    return TEST_DONE("loss");
}
