/* test_grad_conv.c - convolution and pooling against central differences
 * in f64 through both backward paths (fast and create-graph), with second
 * derivatives on some cases; against a naive direct convolution; the
 * threaded path against one thread; the max-pool tie, -inf padding and
 * NaN rules; and bad inputs, whose errors name the op and the shapes. */
#include "gradharness.h"

/* What a case computes: conv2d/conv1d with options and optional bias, a
 * pooling, or a small network. */
enum { F_CONV2D, F_CONV1D, F_MAX, F_AVG, F_NET, F_CONV_SQ, F_POOL_FIRST, F_POOL_LAST };
typedef struct spec {
    int kind;
    tg_conv_opts c;
    tg_pool_opts p;
    int nin; /* inputs given (set by check): conv2d has a bias if >= 3 */
} spec;

static tg_tensor *build(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t;
    const spec *s = ud;
    tg_tensor *b = s->nin >= 3 ? x[2] : NULL;
    switch (s->kind) {
    case F_CONV2D: return tg_conv2d(x[0], x[1], b, &s->c);
    case F_CONV1D: return tg_conv1d(x[0], x[1], b, &s->c);
    case F_MAX: return tg_max_pool2d(x[0], &s->p);
    case F_AVG: return tg_avg_pool2d(x[0], &s->p);
    case F_POOL_FIRST: /* x's gradient: the pooling's backward runs last, into a buffer
                        * the square's backward made */
    case F_POOL_LAST: { /* ...or first, into a fresh buffer */
        tg_tensor *p = NULL, *q = NULL;
        if (s->kind == F_POOL_FIRST) p = s->c.groups ? tg_avg_pool2d(x[0], &s->p) : tg_max_pool2d(x[0], &s->p);
        q = tg_mul(x[0], x[0]);
        if (s->kind == F_POOL_LAST) p = s->c.groups ? tg_avg_pool2d(x[0], &s->p) : tg_max_pool2d(x[0], &s->p);
        return tg_add(tg_sum(tg_mul(p, p)), tg_sum(q));
    }
    case F_CONV_SQ: /* nonlinear in x and w: second derivatives are not zero */
        return tg_mul(tg_conv2d(x[0], x[1], b, &s->c), tg_conv2d(x[0], x[1], NULL, &s->c));
    default: { /* conv, relu, max pool, conv, tanh */
        tg_tensor *h = tg_relu(tg_conv2d(x[0], x[1], b, &s->c));
        h = tg_max_pool2d(h, &(tg_pool_opts){.kernel = {2, 2}});
        return tg_tanh(tg_conv2d(h, x[3], NULL, NULL));
    }
    }
}

/* TG_TEST_QUICK (valgrind): second derivatives only where second == 2. */
static bool quick;

static void check(const char *name, spec s, int n, const shape *shapes, int second) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *in[4] = {NULL, NULL, NULL, NULL};
    gc_inputs(tape, 11, n, shapes, -1, 1, NULL, in);
    tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 5, true, second == 2 || (second && !quick)};
    tg_gradcheck_report rep;
    s.nin = n;
    bool ok = tg_gradcheck(build, &s, n, in, &o, &rep);
    CHECK(ok, "%s: %s", name, rep.msg);
    tg_tape_free(tape);
}

#define CONV(...) ((spec){.kind = F_CONV2D, .c = {__VA_ARGS__}})
#define CONV1(...) ((spec){.kind = F_CONV1D, .c = {__VA_ARGS__}})
#define MAXP(...) ((spec){.kind = F_MAX, .p = {__VA_ARGS__}})
#define AVGP(...) ((spec){.kind = F_AVG, .p = {__VA_ARGS__}})

static void gradchecks(void) {
    check("conv2d basic", CONV(.groups = 0), 3,
          (shape[]){S4(2, 3, 5, 5), S4(4, 3, 3, 3), S1(4)}, true);
    check("conv2d stride 2 padding 1", CONV(.stride = {2, 2}, .padding = {1, 1}), 3,
          (shape[]){S4(1, 2, 6, 7), S4(3, 2, 3, 3), S1(3)}, false);
    check("conv2d dilation 2", CONV(.dilation = {2, 2}, .padding = {2, 1}), 3,
          (shape[]){S4(2, 2, 7, 6), S4(2, 2, 3, 2), S1(2)}, false);
    check("conv2d groups 2", CONV(.groups = 2), 3,
          (shape[]){S4(2, 4, 5, 5), S4(6, 2, 3, 3), S1(6)}, false);
    check("conv2d no bias", CONV(.groups = 1), 2, (shape[]){S4(1, 3, 4, 5), S4(2, 3, 2, 3)},
          false);
    check("conv2d odd", CONV(.stride = {2, 3}, .padding = {1, 2}, .dilation = {1, 2}), 3,
          (shape[]){S4(3, 1, 7, 9), S4(5, 1, 3, 3), S1(5)}, false);
    check("conv2d 1x1", CONV(.groups = 1), 3, (shape[]){S4(2, 3, 4, 4), S4(5, 3, 1, 1), S1(5)},
          true);
    check("conv2d 1x1 stride 2", CONV(.stride = {2, 2}), 2,
          (shape[]){S4(1, 2, 5, 5), S4(3, 2, 1, 1)}, false);
    check("conv2d depthwise", CONV(.groups = 3, .padding = {1, 1}), 2,
          (shape[]){S4(1, 3, 5, 5), S4(3, 1, 3, 3)}, true);
    check("conv2d kernel = padded input", CONV(.padding = {1, 0}), 3,
          (shape[]){S4(2, 2, 1, 3), S4(2, 2, 3, 3), S1(2)}, false);
    check("conv2d padding > kernel", CONV(.padding = {3, 2}), 3,
          (shape[]){S4(1, 1, 2, 2), S4(2, 1, 2, 2), S1(2)}, false);
    check("conv2d empty batch", CONV(.groups = 1), 3,
          (shape[]){S4(0, 2, 4, 4), S4(3, 2, 3, 3), S1(3)}, false);
    check("conv2d squared", ((spec){.kind = F_CONV_SQ, .c = {.stride = {1, 2}, .padding = {1, 1}}}), 3,
          (shape[]){S4(2, 2, 4, 5), S4(3, 2, 2, 3), S1(3)}, true);
    /* second derivatives (x-w cross terms through the three conv ops) on
     * small shapes with every option */
    check("conv2d squared odd",
          ((spec){.kind = F_CONV_SQ, .c = {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}}}),
          3, (shape[]){S4(2, 1, 5, 4), S4(2, 1, 3, 2), S1(2)}, 2);
    check("conv2d squared groups", ((spec){.kind = F_CONV_SQ, .c = {.groups = 2, .dilation = {2, 1}}}),
          3, (shape[]){S4(1, 4, 5, 4), S4(2, 2, 2, 2), S1(2)}, true);
    check("network", ((spec){.kind = F_NET, .c = {.padding = {1, 1}}}), 4,
          (shape[]){S4(2, 1, 6, 6), S4(3, 1, 3, 3), S1(3), S4(2, 3, 2, 2)}, 2);

    /* the weight gradient computed transposed (C/G * KH * KW < O/G) */
    check("conv2d first layer (dw transposed)", CONV(.padding = {1, 0}), 3,
          (shape[]){S4(2, 1, 5, 4), S4(6, 1, 2, 2), S1(6)}, false);
    check("conv2d groups, dw transposed", CONV(.groups = 2, .stride = {2, 1}), 3,
          (shape[]){S4(2, 2, 5, 5), S4(8, 1, 3, 2), S1(8)}, false);
    /* x's gradient buffer made by conv2d's backward (pointwise and not) or
     * already holding the other term's gradient */
    check("conv2d 1x1 squared", ((spec){.kind = F_CONV_SQ, .c = {.groups = 1}}), 3,
          (shape[]){S4(2, 3, 3, 4), S4(2, 3, 1, 1), S1(2)}, false);

    check("conv1d basic", CONV1(.groups = 0), 3, (shape[]){S3(2, 3, 9), S3(4, 3, 3), S1(4)}, true);
    check("conv1d stride dilation padding", CONV1(.stride = {2}, .padding = {1}, .dilation = {2}),
          3, (shape[]){S3(2, 2, 11), S3(3, 2, 3), S1(3)}, false);
    check("conv1d groups", CONV1(.groups = 2), 2, (shape[]){S3(1, 4, 8), S3(2, 2, 2)}, true);

    check("max_pool2d 2x2", MAXP(.kernel = {2, 2}), 1, (shape[]){S4(2, 3, 6, 6)}, 2);
    check("max_pool2d odd input", MAXP(.kernel = {2, 2}), 1, (shape[]){S4(1, 2, 5, 7)}, false);
    check("max_pool2d 3x3 s2 p1", MAXP(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}), 1,
          (shape[]){S4(2, 2, 7, 7)}, true);
    check("max_pool2d rect", MAXP(.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 0}), 1,
          (shape[]){S4(1, 2, 5, 6)}, false);
    check("max_pool2d overlapping", MAXP(.kernel = {3, 3}, .stride = {1, 1}), 1,
          (shape[]){S4(1, 1, 5, 5)}, true);
    check("max_pool2d rank 3", MAXP(.kernel = {2, 2}, .stride = {1, 1}), 1,
          (shape[]){S3(2, 5, 5)}, false);
    check("avg_pool2d 2x2", AVGP(.kernel = {2, 2}), 1, (shape[]){S4(2, 3, 6, 6)}, 2);
    /* the pooling's backward into a fresh gradient buffer and into one that
     * holds another op's gradient (c.groups 1: avg, 0: max) */
    for (int avg = 0; avg <= 1; avg++)
        for (int last = 0; last <= 1; last++) {
            spec s = {.kind = last ? F_POOL_LAST : F_POOL_FIRST, .c = {.groups = avg},
                      .p = {.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 0}}};
            char nm[64];
            snprintf(nm, sizeof nm, "%s_pool2d %s", avg ? "avg" : "max",
                     last ? "fresh gradient" : "after another op's gradient");
            check(nm, s, 1, (shape[]){S4(2, 3, 5, 6)}, false);
        }
    check("avg_pool2d 3x3 s2 p1", AVGP(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}), 1,
          (shape[]){S4(2, 2, 7, 7)}, true);
    check("avg_pool2d exclude pad",
          AVGP(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .exclude_pad = true), 1,
          (shape[]){S4(2, 2, 7, 7)}, true);
    check("avg_pool2d rect", AVGP(.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 1}), 1,
          (shape[]){S4(1, 2, 5, 6)}, false);
    check("avg_pool2d rank 3", AVGP(.kernel = {2, 2}, .stride = {1, 1}), 1,
          (shape[]){S3(2, 5, 5)}, false);
}

/* ---------------------------------------------- naive direct convolution */

typedef struct geo {
    int64_t N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G;
} geo;

/* y = conv(x, w) + b, dx, dw, db for a seed gy, by the definition. */
static void naive(const geo *g, const double *x, const double *w, const double *b,
                  const double *gy, double *y, double *dx, double *dwt, double *db) {
    int64_t Cg = g->C / g->G, Og = g->O / g->G;
    memset(dx, 0, sizeof(double) * (size_t)(g->N * g->C * g->H * g->W));
    memset(dwt, 0, sizeof(double) * (size_t)(g->O * Cg * g->KH * g->KW));
    memset(db, 0, sizeof(double) * (size_t)g->O);
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t i = 0; i < g->OH; i++)
                for (int64_t j = 0; j < g->OW; j++) {
                    int64_t yi = ((n * g->O + o) * g->OH + i) * g->OW + j;
                    double s = b[o];
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t ki = 0; ki < g->KH; ki++)
                            for (int64_t kj = 0; kj < g->KW; kj++) {
                                int64_t ih = i * g->sh - g->ph + ki * g->dh;
                                int64_t iw = j * g->sw - g->pw + kj * g->dw;
                                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
                                int64_t ci = (o / Og) * Cg + c;
                                int64_t xi = ((n * g->C + ci) * g->H + ih) * g->W + iw;
                                int64_t wi = ((o * Cg + c) * g->KH + ki) * g->KW + kj;
                                s += x[xi] * w[wi];
                                dx[xi] += gy[yi] * w[wi];
                                dwt[wi] += gy[yi] * x[xi];
                            }
                    y[yi] = s;
                    db[o] += gy[yi];
                }
}

static double max_rel(const double *a, const double *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]) / (1 + fabs(b[i]));
        if (!(e <= m)) m = e;
    }
    return m;
}

/* tapegrad's forward and fast backward on a larger case (threaded, since
 * the work passes the threshold) against the naive loops, in f64 and f32,
 * and with 1 and 2 threads. */
static void against_naive(const char *name, geo g, tg_dtype dt, int threads) {
    g.OH = (g.H + 2 * g.ph - (g.KH - 1) * g.dh - 1) / g.sh + 1;
    g.OW = (g.W + 2 * g.pw - (g.KW - 1) * g.dw - 1) / g.sw + 1;
    int64_t nx = g.N * g.C * g.H * g.W, nw = g.O * (g.C / g.G) * g.KH * g.KW;
    int64_t ny = g.N * g.O * g.OH * g.OW;
    double *x = malloc(sizeof(double) * (size_t)nx), *dx = malloc(sizeof(double) * (size_t)nx);
    double *w = malloc(sizeof(double) * (size_t)nw), *dw = malloc(sizeof(double) * (size_t)nw);
    double *y = malloc(sizeof(double) * (size_t)ny), *gy = malloc(sizeof(double) * (size_t)ny);
    double *b = malloc(sizeof(double) * (size_t)g.O), *db = malloc(sizeof(double) * (size_t)g.O);
    double *t = malloc(sizeof(double) * (size_t)(nx + nw + ny));
    tg_rng r;
    tg_rng_seed(&r, 3);
    for (int64_t i = 0; i < nx; i++) x[i] = tg_rng_uniform(&r) * 2 - 1;
    for (int64_t i = 0; i < nw; i++) w[i] = tg_rng_uniform(&r) * 2 - 1;
    for (int64_t i = 0; i < g.O; i++) b[i] = tg_rng_uniform(&r) * 2 - 1;
    for (int64_t i = 0; i < ny; i++) gy[i] = tg_rng_uniform(&r) * 2 - 1;
    naive(&g, x, w, b, gy, y, dx, dw, db);

    tg_set_num_threads(threads);
    tg_tape *tape = tg_tape_new();
    tg_tensor *X = tg_requires_grad(tg_detach(tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(g.N, g.C, g.H, g.W), x), dt)));
    tg_tensor *Wt = tg_requires_grad(tg_detach(tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(g.O, g.C / g.G, g.KH, g.KW), w), dt)));
    tg_tensor *Bt = tg_requires_grad(tg_detach(tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(g.O), b), dt)));
    tg_conv_opts o = {{(int)g.sh, (int)g.sw}, {(int)g.ph, (int)g.pw}, {(int)g.dh, (int)g.dw}, (int)g.G};
    tg_tensor *Y = tg_conv2d(X, Wt, Bt, &o);
    tg_tensor *GY = tg_cast(tg_tensor_new(tape, TG_F64, TG_SHAPE(g.N, g.O, g.OH, g.OW), gy), dt);
    tg_status st = tg_backward_seed(Y, GY);
    CHECK(st == TG_OK, "%s: %s", name, tg_tape_error(tape));
    if (st == TG_OK) {
        double tol = dt == TG_F64 ? 1e-12 : 2e-5;
        tg_tensor *outs[4] = {Y, tg_tensor_grad(X), tg_tensor_grad(Wt), tg_tensor_grad(Bt)};
        const double *refs[4] = {y, dx, dw, db};
        const char *what[4] = {"y", "dx", "dw", "db"};
        for (int k = 0; k < 4; k++) {
            int64_t n = tg_tensor_numel(outs[k]);
            for (int64_t i = 0; i < n; i++) t[i] = tg_tensor_get(outs[k], i);
            double e = max_rel(t, refs[k], n);
            CHECK(e <= tol, "%s (%s, %d threads): %s differs from the naive loops by %.3g",
                  name, tg_dtype_name(dt), threads, what[k], e);
        }
    }
    tg_tape_free(tape);
    tg_set_num_threads(0);
    free(x), free(dx), free(w), free(dw), free(y), free(gy), free(b), free(db), free(t);
}

static void naive_checks(void) {
    /* N, C, H, W, O, KH, KW, (OH, OW), sh, sw, ph, pw, dh, dw, G */
    geo big = {8, 16, 14, 14, 32, 3, 3, 0, 0, 1, 1, 1, 1, 1, 1, 1};
    geo odd = {5, 6, 11, 9, 8, 3, 2, 0, 0, 2, 1, 1, 2, 2, 1, 2};
    geo pw1 = {6, 32, 9, 9, 48, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1};
    /* bench_conv's first layer (dw transposed: 9 columns, 32 filters),
     * large enough to be split over threads; and a strided, padded,
     * grouped one with the transposed dw */
    geo first = {16, 1, 28, 28, 32, 3, 3, 0, 0, 1, 1, 0, 0, 1, 1, 1};
    geo tgrp = {6, 4, 13, 12, 24, 2, 3, 0, 0, 2, 1, 1, 2, 1, 2, 2};
    /* threaded with blocks of unequal size: 11 samples in 8 blocks, with
     * dilation and padding; and a weight so large (2.4 MB in f64) that its
     * blocks' partial sums are capped (8 samples in 7 blocks) */
    geo blk = {11, 8, 12, 12, 16, 3, 3, 0, 0, 1, 1, 2, 2, 2, 2, 1};
    geo wide = {8, 256, 3, 3, 128, 3, 3, 0, 0, 1, 1, 0, 0, 1, 1, 1};
    if (quick) big.N = 3, big.C = 8, pw1.N = 2, first.N = 3;
    for (int th = 1; th <= 2; th++) {
        against_naive("naive odd batch in blocks", blk, TG_F64, th);
        against_naive("naive odd batch in blocks", blk, TG_F32, th);
        against_naive("naive capped partial sums", wide, TG_F64, th);
        against_naive("naive 3x3 pad 1", big, TG_F64, th);
        against_naive("naive odd groups", odd, TG_F64, th);
        against_naive("naive 1x1", pw1, TG_F64, th);
        against_naive("naive first layer", first, TG_F64, th);
        against_naive("naive first layer", first, TG_F32, th);
        against_naive("naive grouped, dw transposed", tgrp, TG_F64, th);
        against_naive("naive grouped, dw transposed", tgrp, TG_F32, th);
    }
    against_naive("naive 3x3 pad 1", big, TG_F32, 2);
    against_naive("naive odd groups", odd, TG_F32, 2);
}

/* The threaded backward's blocks are claimed by whichever thread is free,
 * but each block's partial sum of d w and d b is its own and they are added
 * in block order: two runs on 2 threads give the same bits. */
static tg_tensor *normal_leaf(tg_tape *t, int rank, const int64_t *dims, tg_rng *r) {
    int64_t n = 1;
    for (int d = 0; d < rank; d++) n *= dims[d];
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = tg_rng_normal(r);
    tg_tensor *x = tg_requires_grad(tg_tensor_new(t, TG_F64, rank, dims, v));
    free(v);
    return x;
}

static void same_bits_twice(void) {
    tg_set_num_threads(2);
    double *first = NULL;
    int64_t nw = 0;
    for (int run = 0; run < 2; run++) {
        tg_tape *t = tg_tape_new();
        tg_rng r;
        tg_rng_seed(&r, 5);
        tg_tensor *x = normal_leaf(t, TG_SHAPE(13, 8, 11, 11), &r);
        tg_tensor *w = normal_leaf(t, TG_SHAPE(24, 8, 3, 3), &r);
        tg_tensor *b = normal_leaf(t, TG_SHAPE(24), &r);
        tg_tensor *y = tg_conv2d(x, w, b, &(tg_conv_opts){.padding = {1, 1}});
        tg_status st = tg_backward(tg_sum(tg_mul(y, y)));
        CHECK(st == TG_OK, "same bits: %s", tg_tape_error(t));
        tg_tensor *gw = tg_tensor_grad(w), *gb = tg_tensor_grad(b);
        if (st == TG_OK) {
            nw = tg_tensor_numel(gw);
            double *v = malloc(sizeof(double) * (size_t)(nw + 24));
            for (int64_t i = 0; i < nw; i++) v[i] = tg_tensor_get(gw, i);
            for (int64_t i = 0; i < 24; i++) v[nw + i] = tg_tensor_get(gb, i);
            if (!first)
                first = v;
            else {
                CHECK(memcmp(first, v, sizeof(double) * (size_t)(nw + 24)) == 0,
                      "same bits: conv2d's dw and db differ between two runs on 2 threads");
                free(v);
            }
        }
        tg_tape_free(t);
    }
    free(first);
    tg_set_num_threads(0);
}

/* ------------------------------------------------------- pooling rules */

static void pool_rules(void) {
    tg_tape *t = tg_tape_new();
    /* a tie: the gradient goes to the first max (row-major) */
    tg_tensor *x = tg_requires_grad(tg_tensor_new(t, TG_F64, TG_SHAPE(1, 1, 2, 2),
                                                  (double[]){1, 3, 3, 3}));
    tg_backward(tg_sum(tg_max_pool2d(x, &(tg_pool_opts){.kernel = {2, 2}})));
    double *gx = tg_tensor_f64(tg_tensor_grad(x));
    CHECK_OK(t);
    CHECK(gx && gx[0] == 0 && gx[1] == 1 && gx[2] == 0 && gx[3] == 0, "tie gradient %g %g %g %g",
          gx ? gx[0] : -9, gx ? gx[1] : -9, gx ? gx[2] : -9, gx ? gx[3] : -9);
    /* padding is -inf: an all-negative window with padding keeps its max */
    tg_tape_reset(t);
    x = tg_tensor_new(t, TG_F32, TG_SHAPE(1, 1, 2, 2), (float[]){-5, -4, -3, -2});
    tg_tensor *y = tg_max_pool2d(x, &(tg_pool_opts){.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}});
    float *yv = tg_tensor_f32(y);
    CHECK(yv && tg_tensor_numel(y) == 9 && yv[0] == -5 && yv[4] == -2 && yv[8] == -2,
          "padded max %g %g %g", yv ? yv[0] : 0, yv ? yv[4] : 0, yv ? yv[8] : 0);
    /* NaN propagates (as PyTorch) */
    tg_tape_reset(t);
    x = tg_tensor_new(t, TG_F64, TG_SHAPE(1, 1, 2, 2), (double[]){1, NAN, 3, 2});
    y = tg_max_pool2d(x, &(tg_pool_opts){.kernel = {2, 2}});
    CHECK(y && isnan(tg_tensor_get(y, 0)), "max_pool2d of a NaN window = %g", tg_tensor_get(y, 0));
    /* avg_pool2d's divisor with and without the padding */
    tg_tape_reset(t);
    x = tg_ones(t, TG_F64, TG_SHAPE(1, 1, 2, 2));
    y = tg_avg_pool2d(x, &(tg_pool_opts){.kernel = {2, 2}, .padding = {1, 1}});
    tg_tensor *z = tg_avg_pool2d(x, &(tg_pool_opts){.kernel = {2, 2}, .padding = {1, 1}, .exclude_pad = true});
    CHECK(y && z && tg_tensor_get(y, 0) == 0.25 && tg_tensor_get(z, 0) == 1.0,
          "avg corners %g %g", tg_tensor_get(y, 0), tg_tensor_get(z, 0));
    CHECK_OK(t);
    tg_tape_free(t);
}

/* No output channel: y [N, 0, OH, OW], and x's gradient (a buffer the
 * backward writes, not zeroes first) is zeros. */
static void no_output_channel(void) {
    tg_tape *t = tg_tape_new();
    for (int pass = 0; pass < 2; pass++) { /* the first leaves nonzero bytes in the arena */
    tg_tape_reset(t);
    tg_backward(tg_sum(tg_mul_scalar(tg_requires_grad(tg_ones(t, TG_F64, TG_SHAPE(64, 64))), 3)));
    tg_tape_reset(t);
    double xv[2 * 2 * 4 * 4];
    for (int i = 0; i < 64; i++) xv[i] = i + 1;
    tg_tensor *x = tg_requires_grad(tg_tensor_new(t, TG_F64, TG_SHAPE(2, 2, 4, 4), xv));
    tg_tensor *w = tg_requires_grad(tg_zeros(t, TG_F64, TG_SHAPE(0, 2, 3, 3)));
    tg_tensor *y = tg_conv2d(x, w, NULL, NULL);
    tg_status st = tg_backward(tg_add_scalar(tg_sum(y), 1.0));
    CHECK(st == TG_OK, "O = 0: %s", tg_tape_error(t));
    tg_tensor *gx = tg_tensor_grad(x);
    double m = 0;
    for (int64_t i = 0; gx && i < tg_tensor_numel(gx); i++) m += fabs(tg_tensor_get(gx, i));
    CHECK(y && tg_tensor_numel(y) == 0 && gx && tg_tensor_numel(gx) == 64 && m == 0,
          "O = 0: y has %lld elements, |dx| sums to %g", y ? (long long)tg_tensor_numel(y) : -1,
          m);
    }
    tg_tape_free(t);
}

/* Parameters as weights: gradients accumulate into them across passes. */
static void with_params(void) {
    tg_tensor *w = tg_param_new(TG_F32, TG_SHAPE(2, 1, 2, 2));
    tg_tensor *b = tg_param_new(TG_F32, TG_SHAPE(2));
    float *wv = tg_tensor_f32(w);
    for (int i = 0; i < 8; i++) wv[i] = (float)(i + 1);
    tg_tape *t = tg_tape_new();
    for (int pass = 0; pass < 2; pass++) {
        tg_tape_reset(t);
        tg_tensor *x = tg_ones(t, TG_F32, TG_SHAPE(1, 1, 3, 3));
        tg_backward(tg_sum(tg_conv2d(x, w, b, NULL)));
    }
    CHECK_OK(t);
    /* 2 passes x 4 output positions, each sees ones: dw = 8, db = 8 */
    float *gw = tg_tensor_f32(tg_tensor_grad(w)), *gb = tg_tensor_f32(tg_tensor_grad(b));
    CHECK(gw && gb && gw[0] == 8 && gw[7] == 8 && gb[1] == 8, "param grads %g %g", gw ? gw[0] : 0,
          gb ? gb[1] : 0);
    tg_tape_free(t);
    tg_param_free(w);
    tg_param_free(b);
}

/* -------------------------------------------------------------- errors */

static void bad_inputs(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_zeros(t, TG_F32, TG_SHAPE(1, 3, 5, 5));
#define FRESH() tg_tape_reset(t), x = tg_zeros(t, TG_F32, TG_SHAPE(1, 3, 5, 5))
    tg_tensor *y = tg_conv2d(x, tg_zeros(t, TG_F32, TG_SHAPE(4, 2, 3, 3)), NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv2d: the input has 3 channels but the weight expects 2");
    CHECK_ERR(y, t, TG_ERR_SHAPE, "x [1,3,5,5], w [4,2,3,3]");
    FRESH();
    y = tg_conv2d(x, tg_zeros(t, TG_F32, TG_SHAPE(4, 1, 3, 3)), NULL, &(tg_conv_opts){.groups = 2});
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv2d: groups 2 must divide");
    CHECK_ERR(y, t, TG_ERR_SHAPE, "x [1,3,5,5], w [4,1,3,3]");
    FRESH();
    y = tg_conv2d(x, tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 6, 3)), NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv2d: the kernel (6x3");
    CHECK_ERR(y, t, TG_ERR_SHAPE, "bigger than the padded input (5x5");
    FRESH();
    y = tg_conv2d(x, tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 3, 3)), NULL,
                  &(tg_conv_opts){.dilation = {3, 1}});
    CHECK_ERR(y, t, TG_ERR_SHAPE, "7x3 with dilation 3x1");
    FRESH();
    y = tg_conv2d(tg_zeros(t, TG_F32, TG_SHAPE(3, 5, 5)), tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 3, 3)),
                  NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv2d: input must be 4-D [N, C, H, W], got x [3,5,5]");
    FRESH();
    y = tg_conv2d(x, tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 3)), NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv2d: weight must be 4-D");
    FRESH();
    y = tg_conv2d(x, tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 3, 3)), tg_zeros(t, TG_F32, TG_SHAPE(3)), NULL);
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv2d: bias must be 1-D with one entry per output channel [4], got b [3]");
    FRESH();
    y = tg_conv2d(x, tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 3, 3)), NULL, &(tg_conv_opts){.stride = {-1, 1}});
    CHECK_ERR(y, t, TG_ERR_ARG, "conv2d: stride");
    FRESH();
    y = tg_conv2d(x, tg_zeros(t, TG_F64, TG_SHAPE(4, 3, 3, 3)), NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_DTYPE, "conv2d: dtypes differ");
    FRESH();
    y = tg_conv2d(NULL, tg_zeros(t, TG_F32, TG_SHAPE(4, 3, 3, 3)), NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_NULL, "conv2d");
    FRESH();
    y = tg_conv1d(tg_zeros(t, TG_F32, TG_SHAPE(2, 3, 4)), tg_zeros(t, TG_F32, TG_SHAPE(1, 3, 5)), NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv1d: the kernel (size 5, 5 with dilation 1) is bigger than the padded input (length 4");
    FRESH();
    y = tg_conv1d(x, tg_zeros(t, TG_F32, TG_SHAPE(1, 3, 5)), NULL, NULL);
    CHECK_ERR(y, t, TG_ERR_SHAPE, "conv1d: input must be 3-D [N, C, L], got x [1,3,5,5]");
    FRESH();
    y = tg_max_pool2d(x, &(tg_pool_opts){.kernel = {0, 2}});
    CHECK_ERR(y, t, TG_ERR_ARG, "max_pool2d: kernel must be >= 1");
    FRESH();
    y = tg_max_pool2d(x, &(tg_pool_opts){.kernel = {2, 2}, .padding = {2, 0}});
    CHECK_ERR(y, t, TG_ERR_ARG, "max_pool2d: padding 2x0 must be at most half the kernel 2x2 (x [1,3,5,5])");
    FRESH();
    y = tg_avg_pool2d(x, &(tg_pool_opts){.kernel = {6, 2}});
    CHECK_ERR(y, t, TG_ERR_SHAPE, "avg_pool2d: the kernel 6x2 is bigger than the padded input 5x5 (x [1,3,5,5]");
    FRESH();
    y = tg_avg_pool2d(tg_zeros(t, TG_F32, TG_SHAPE(5, 5)), &(tg_pool_opts){.kernel = {2, 2}});
    CHECK_ERR(y, t, TG_ERR_SHAPE, "avg_pool2d: input must be [N, C, H, W] or [C, H, W], got x [5,5]");
    FRESH();
    y = tg_max_pool2d(x, NULL);
    CHECK_ERR(y, t, TG_ERR_NULL, "max_pool2d: the options are NULL");
#undef FRESH
    tg_tape_free(t);
}

int main(void) {
    quick = getenv("TG_TEST_QUICK") != NULL;
    gradchecks();
    naive_checks();
    same_bits_twice();
    pool_rules();
    no_output_channel();
    with_params();
    bad_inputs();
    return TEST_DONE("grad_conv");
}
