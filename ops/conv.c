/* conv.c - 2-D and 1-D convolution (cross-correlation, as PyTorch).
 *
 * Dimension letters: N batch, C input channels, H x W input, O output
 * channels, KH x KW kernel, OH x OW output, G groups, P = OH * OW output
 * positions, Cg = C / G and Og = O / G per group, CKg = Cg * KH * KW.
 *
 *   y[n,o,i,j] = b[o] + sum_{c, ki, kj} w[o,c,ki,kj]
 *                       * x[n, g*Cg + c, i*sh - ph + ki*dh, j*sw - pw + kj*dw]
 *   (o in group g, x is 0 outside the input)
 *
 * With col = im2col(x[n]) (C*KH*KW x P; group g's rows are [g*CKg, (g+1)*CKg)),
 * per sample n and group g, W_g = w's rows of group g (Og x CKg):
 *   forward   y[n]_g   = W_g @ col_g  (+ b)               GEMM Og x P x CKg
 *   d x       dcol_g   = W_g^T @ g[n]_g;  dx[n] += col2im(dcol)
 *   d w       dW_g    += g[n]_g @ col_g^T
 *   d b       db      += sum over n, i, j of g
 * The transposes are GEMM flags: nothing is transposed by copying, except
 * dW when CKg < Og (a first layer): then dW_g^T += col_g @ g[n]_g^T, summed
 * over the block's samples and added transposed once (dw_transposed); with
 * one group, d b comes from the same GEMM as dW^T's last row, from a row
 * of ones under col. The forward's bias likewise, when one group's K + 1
 * fits one K block of the GEMM: y = [W | b] @ [col; 1] (conv_run).
 * When x's gradient buffer is new (tg__gacc_w) the backward writes it: each
 * sample's dx is zeroed on its block's thread just before col2im adds
 * into it (a 1x1 convolution's GEMM overwrites it). At the AVX-512 level,
 * f32 col2im with unit stride and dilation along W is conv_avx512.c's
 * (conv_simd.h): each x row held in a register while the same adds reach
 * it in the same order, so the same bits as the loops below.
 *
 * The convolution is bilinear in (x, w), so every backward is one of three
 * ops again, and create-graph and higher derivatives come for free:
 *   op                  inputs  d/d first input        d/d second input
 *   conv2d              x, w    conv2d_input_grad(h,w)  conv2d_weight_grad(x,h)
 *   conv2d_input_grad   g, w    conv2d(h, w)            conv2d_weight_grad(h, g)
 *   conv2d_weight_grad  x, g    conv2d_input_grad(g,h)  conv2d(x, h)
 * (h: the gradient arriving at the op's output; conv2d's bias gets
 * sum_{n,i,j} h). conv1d is conv2d on [N, C, 1, L] views.
 *
 * Threads: for large work the batch is cut into blocks of samples, more
 * blocks than threads, that the threads claim one at a time (an atomic
 * counter), so a thread that starts late or runs slow (a pool worker that
 * wakes after the caller has begun, a core shared with another process)
 * takes fewer blocks instead of the caller waiting for it. Each thread's
 * piece (tg__parallel_for) has its own im2col buffer; for d w and d b each
 * block has its own partial sum (block 0 adds into the outputs), added up
 * in block order at the end, so the result does not depend on which thread
 * ran which block. The GEMMs inside a block run on its thread; the
 * products with the weight (the forward's W_g @ col, d x's W_g^T @ gy)
 * then take it packed once for the batch (tg__gemm_pa) instead of packing
 * it again for every sample.
 */
#include "tg_internal.h"
#include "op_common.h"
#include "tg_kernels.h"
#include "conv_simd.h"

#include <stdatomic.h>
#include <stdio.h>

/* The shapes and options of one convolution, kept with each of the three
 * ops' records (after the tg_auxin that lists their inputs). */
typedef struct conv_geom {
    int64_t N, C, H, W;   /* x [N, C, H, W] */
    int64_t O, KH, KW;    /* w [O, C/G, KH, KW] */
    int64_t OH, OW;       /* y [N, O, OH, OW] */
    int64_t sh, sw, ph, pw, dh, dw, G;
} conv_geom;

/* Below this many multiply-adds the batch is not split over threads. */
#define CONV_PAR_MIN 1000000.0
/* Blocks of samples per thread for the threads to claim; fewer when the
 * blocks' partial sums of d w and d b would pass CONV_SUMS_MAX bytes. */
#define CONV_BLOCKS_PER_THREAD 4
#define CONV_SUMS_MAX ((size_t)16 << 20)

/* conv_geom sits after a tg_auxin with room for 3 inputs, bias or not. */
#define GEOM_OFF tg__auxin_size(3)
static const conv_geom *geom_of(const tg_tensor *o) {
    return (const conv_geom *)((const char *)o->u.aux + GEOM_OFF);
}

/* The weight gradient is computed transposed, dW_g^T (CKg x Og) +=
 * col_g @ gy[n]_g^T, when a group's weight has fewer columns than rows
 * (CKg < Og: a first layer, e.g. 1 channel and 3x3 = 9 columns for 32
 * filters). The GEMM's register tiles are wide in N (16-32 columns), so
 * N = CKg = 9 would fill a third of each tile; N = Og fills them.
 * Otherwise too when its tiles cover fewer elements at the SIMD level lv
 * (M rounded up to the tile's rows times N to its columns; `brow`: d b
 * as one more row of M): conv2 of bench_conv, 64 x 288 at AVX-512's
 * 12 x 32 tiles covers 72 x 288, transposed 289 x 64 covers 300 x 64
 * (-7%); and the large transpose of the GEMM's packing is then gy's
 * (Og x P), not col's (CKg x P), and d b needs no pass of its own. */
static bool dw_transposed(const conv_geom *g, int dt, int lv, bool brow) {
    int64_t ckg = g->C / g->G * g->KH * g->KW, og = g->O / g->G;
    if (ckg <= 0) return false; /* no input channel: dW is empty */
    if (ckg < og) return true;
    int d = dt == TG_F32 ? 0 : 1;
    double plain = (double)tg__gemm_pa_size(d, lv, og, 1) * (double)tg__gemm_pb_size(d, lv, ckg, 1);
    double tr = (double)tg__gemm_pa_size(d, lv, ckg + (brow ? 1 : 0), 1) *
                (double)tg__gemm_pb_size(d, lv, og, 1);
    return tr < plain;
}

static bool pointwise(const conv_geom *g) {
    return g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* ----------------------------------------------------------- raw kernels */

/* The output columns ow whose input column ow*sw + off lies in [0, W). */
static void ow_range(const conv_geom *g, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw; /* -off <= pw */
    int64_t b = g->W - off <= 0 ? 0 : (g->W - off - 1) / g->sw + 1; /* W - off <= W + pw */
    if (b > g->OW) b = g->OW;
    if (a > b) a = b;
    *lo = a, *hi = b;
}

/* im2col: col (C*KH*KW, P) from one sample x (C, H, W), zeros where the
 * window is over the padding. col2im: the adjoint, adds col into x.
 * im2col's rows are short (OW: 11 floats in conv2 of bench_conv, 101k of
 * them a pass, each a memcpy call), but its rows overlap: with unit
 * stride and dilation, row (c, ki+1, kj) is row (c, ki, kj) one output
 * row on, and row (c, ki, kj+1) is row (c, ki, kj) one element on (each
 * output row's last element new, padding included: both rows read the
 * same padded input there). So only row (c, 0, 0) is copied row by row;
 * the others are one long copy of the row before plus their new last
 * output row (or last column). Copies only: col is the same. */
#define DEF_COL(T, SUF)                                                        \
    /* output rows [oh0, oh1) of col's row (c, ki, kj) */                     \
    static void im2col_rows_##SUF(const conv_geom *g, const T *restrict x, int64_t c, int64_t ki, \
                                  int64_t kj, int64_t oh0, int64_t oh1, T *restrict row) { \
        const int64_t OW = g->OW, sw = g->sw;                                  \
        int64_t lo, hi, off = kj * g->dw - g->pw;                              \
        ow_range(g, off, &lo, &hi);                                            \
        row += oh0 * OW;                                                       \
        for (int64_t oh = oh0; oh < oh1; oh++, row += OW) {                    \
            int64_t ih = oh * g->sh - g->ph + ki * g->dh;                      \
            if (ih < 0 || ih >= g->H) {                                        \
                for (int64_t ow = 0; ow < OW; ow++) row[ow] = 0;               \
                continue;                                                      \
            }                                                                  \
            const T *xr = x + (c * g->H + ih) * g->W + off;                    \
            for (int64_t ow = 0; ow < lo; ow++) row[ow] = 0;                   \
            if (sw == 1)                                                       \
                for (int64_t ow = lo; ow < hi; ow++) row[ow] = xr[ow];         \
            else                                                               \
                for (int64_t ow = lo; ow < hi; ow++) row[ow] = xr[ow * sw];    \
            for (int64_t ow = hi; ow < OW; ow++) row[ow] = 0;                  \
        }                                                                      \
    }                                                                          \
    static void im2col_##SUF(const conv_geom *g, const T *restrict x, T *restrict col) { \
        const int64_t OH = g->OH, OW = g->OW, P = OH * OW, KW = g->KW;         \
        bool down = g->sh == 1 && g->dh == 1 && OH > 1;  /* ki+1: an output row on */ \
        bool right = g->sw == 1 && g->dw == 1 && OW > 1; /* kj+1: an element on */ \
        for (int64_t c = 0; c < g->C; c++)                                     \
            for (int64_t ki = 0; ki < g->KH; ki++)                             \
                for (int64_t kj = 0; kj < KW; kj++) {                          \
                    T *row = col + ((c * g->KH + ki) * KW + kj) * P;           \
                    if (down && ki > 0) { /* rows 1.. of (c, ki-1, kj), then the last */ \
                        memcpy(row, row - KW * P + OW, (size_t)(P - OW) * sizeof(T)); \
                        im2col_rows_##SUF(g, x, c, ki, kj, OH - 1, OH, row);   \
                    } else if (right && kj > 0) { /* (c, ki, kj-1) from its 2nd element */ \
                        memcpy(row, row - P + 1, (size_t)(P - 1) * sizeof(T)); \
                        int64_t iw = OW - 1 + kj - g->pw; /* each output row's last */ \
                        bool in = iw >= 0 && iw < g->W;                        \
                        for (int64_t oh = 0; oh < OH; oh++) {                  \
                            int64_t ih = oh * g->sh - g->ph + ki * g->dh;      \
                            row[oh * OW + OW - 1] = in && ih >= 0 && ih < g->H \
                                                        ? x[(c * g->H + ih) * g->W + iw] \
                                                        : 0;                   \
                        }                                                      \
                    } else                                                     \
                        im2col_rows_##SUF(g, x, c, ki, kj, 0, OH, row);        \
                }                                                              \
    }                                                                          \
    static void col2im_##SUF(const conv_geom *g, const T *restrict col, T *restrict x) { \
        const int64_t OW = g->OW, P = g->OH * g->OW, sw = g->sw;               \
        for (int64_t c = 0; c < g->C; c++)                                     \
            for (int64_t ki = 0; ki < g->KH; ki++)                             \
                for (int64_t kj = 0; kj < g->KW; kj++) {                       \
                    const T *row = col + ((c * g->KH + ki) * g->KW + kj) * P;  \
                    int64_t lo, hi, off = kj * g->dw - g->pw;                  \
                    ow_range(g, off, &lo, &hi);                                \
                    for (int64_t oh = 0; oh < g->OH; oh++, row += OW) {        \
                        int64_t ih = oh * g->sh - g->ph + ki * g->dh;          \
                        if (ih < 0 || ih >= g->H) continue;                    \
                        T *xr = x + (c * g->H + ih) * g->W + off;              \
                        if (sw == 1)                                           \
                            for (int64_t ow = lo; ow < hi; ow++) xr[ow] += row[ow]; \
                        else                                                   \
                            for (int64_t ow = lo; ow < hi; ow++) xr[ow * sw] += row[ow]; \
                    }                                                          \
                }                                                              \
    }                                                                          \
    /* y (O, P) = bias[o] on each row */                                    \
    static void set_bias_##SUF(int64_t O, int64_t P, const T *restrict b, T *restrict y) { \
        for (int64_t o = 0; o < O; o++, y += P)                                \
            for (int64_t p = 0; p < P; p++) y[p] = b[o];                       \
    }                                                                          \
    /* dw[gi][o][k] += t[gi][k][o]: G blocks of (Og, CKg) from (CKg, Og) */ \
    static void add_transposed_##SUF(int64_t G, int64_t CK, int64_t Og, const T *restrict t, \
                                     T *restrict dw) {                         \
        for (int64_t gi = 0; gi < G; gi++, t += CK * Og, dw += Og * CK)        \
            for (int64_t o = 0; o < Og; o++)                                   \
                for (int64_t k = 0; k < CK; k++) dw[o * CK + k] += t[k * Og + o]; \
    }                                                                          \
    /* db[o] += sum over p of g (O, P): 8 partial sums, so it vectorizes */   \
    static void bias_grad_##SUF(int64_t O, int64_t P, const T *restrict g, T *restrict db) { \
        for (int64_t o = 0; o < O; o++, g += P) {                              \
            T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                               \
            int64_t p = 0;                                                     \
            for (; p + 8 <= P; p += 8)                                         \
                for (int k = 0; k < 8; k++) acc[k] += g[p + k];                \
            T s = 0;                                                           \
            for (; p < P; p++) s += g[p];                                      \
            for (int k = 0; k < 8; k++) s += acc[k];                           \
            db[o] += s;                                                        \
        }                                                                      \
    }
DEF_COL(float, f32)
DEF_COL(double, f64)
#undef DEF_COL

bool tg__col2im_f32_simd(const tg_col2im_geom *g, const float *col, float *x) {
#if defined(TG_HAVE_AVX512)
    if (tg__simd_supported(TG_SIMD_AVX512)) {
        tg__col2im_f32_avx512(g, col, x);
        return true;
    }
#endif
    (void)g, (void)col, (void)x;
    return false;
}

/* A forward or a backward product over the whole batch:
 *   K_FWD  y = beta * y + conv(x, w) + bias            (bias may be NULL)
 *   K_BW   dx += conv_dx(gy, w), dw += conv_dw(x, gy), db += sum of gy
 *          (each output may be NULL: only those asked for are computed)
 * Pointers are raw data of the geometry's shapes. */
enum { K_FWD, K_BW };
typedef struct conv_job {
    const conv_geom *g;
    int dt, kind;
    const char *x, *w, *gy, *bias;
    char *y;              /* K_FWD */
    double beta;
    char *dx, *dw, *db;   /* K_BW, added into */
    bool dx_fresh;        /* dx is uninitialised: written, not added into */
    bool tdw;             /* K_BW: dW transposed (dw_transposed, conv_run) */
    bool brow;            /* d b from dW^T's GEMM (conv_run) */
    bool frow;            /* K_FWD: the bias from the GEMM, [W | b] packed (conv_run) */
    char *scratch;        /* nch pieces of `per` bytes: col, then dw^T (when */
    size_t per, colbytes; /* dw_transposed) at colbytes */
    char *sums;           /* blocks 1..nblk-1: `sumbytes` each, dw, then db */
    size_t sumbytes, dboff; /* at dboff */
    int64_t nch, nblk;    /* thread pieces; blocks of samples they claim */
    atomic_llong next;    /* the next block to claim */
    /* pk: the products with the weight (the forward's W_g @ col, d x's
     * W_g^T @ gy) run on tg__gemm_pa at SIMD level `level`, the weight
     * packed once for the batch (wpack: per group, `wpa` bytes each)
     * instead of once per sample; each piece's scratch then also holds
     * one block of packed B (at pboff) */
    bool pk;
    int level;
    char *wpack;
    size_t wpa, pboff;
    /* K_BW's d x: col2im by the AVX-512 kernel (conv_simd.h), f32 with
     * unit stride and dilation along W, at that level */
    bool c2i;
    tg_col2im_geom c2g;
} conv_job;

/* Samples [n0, n1) of one block, with its thread's scratch; d w and d b
 * added into dw and db (block 0: the outputs; the others: their partial
 * sums). */
static void conv_samples(const conv_job *j, int64_t n0, int64_t n1, char *scr, char *dw,
                         char *db) {
    const conv_geom *g = j->g;
    int dt = j->dt;
    size_t es = tg__esize(dt);
    int64_t P = g->OH * g->OW, Og = g->O / g->G, Cg = g->C / g->G;
    int64_t CKg = Cg * g->KH * g->KW;
    int64_t xs = tg__shape_numel(3, (const int64_t[]){g->C, g->H, g->W}); /* x per sample */
    bool pw = pointwise(g), f32 = dt == TG_F32;
    bool tdw = dw && j->tdw;
    /* brow: d b as one more row of dW^T, from a row of ones under col */
    bool brow = tdw && db && j->brow;
    char *dwt = tdw ? scr + j->colbytes : NULL; /* this block's dW^T, (G, CKg [+ 1], Og) */
    if (tdw) memset(dwt, 0, (size_t)(g->O * (CKg + brow)) * es);
    if (brow || j->frow) { /* under col's CKg rows, never overwritten by im2col */
        if (f32) for (int64_t p = 0; p < P; p++) ((float *)scr)[CKg * P + p] = 1;
        else for (int64_t p = 0; p < P; p++) ((double *)scr)[CKg * P + p] = 1;
    }
    for (int64_t n = n0; n < n1; n++) {
        const char *xn = j->x ? j->x + (size_t)(n * xs) * es : NULL;
        if (j->kind == K_FWD) {
            const char *col = pw ? xn : scr;
            if (!pw) f32 ? im2col_f32(g, (const float *)xn, (float *)scr)
                         : im2col_f64(g, (const double *)xn, (double *)scr);
            char *yn = j->y + (size_t)(n * g->O * P) * es;
            double beta = j->beta;
            if (j->frow) { /* y = [W | b] @ [col; 1] (one group; pk) */
                tg__gemm_pa(dt, j->level, g->O, P, CKg + 1, j->wpack, scr, P, 0.0, yn, P,
                            scr + j->pboff);
                continue;
            }
            if (j->bias && beta == 0) { /* start from the bias: one pass less */
                f32 ? set_bias_f32(g->O, P, (const float *)j->bias, (float *)yn)
                    : set_bias_f64(g->O, P, (const double *)j->bias, (double *)yn);
                beta = 1;
            }
            for (int64_t gi = 0; gi < g->G; gi++) {
                char *yg = yn + (size_t)(gi * Og * P) * es;
                const char *cg = col + (size_t)(gi * CKg * P) * es;
                if (j->pk) /* W_g packed once for the batch */
                    tg__gemm_pa(dt, j->level, Og, P, CKg, j->wpack + j->wpa * (size_t)gi, cg, P,
                                beta, yg, P, scr + j->pboff);
                else
                    tg__gemm(dt, false, false, Og, P, CKg, j->w + (size_t)(gi * Og * CKg) * es,
                             CKg, cg, P, beta, yg, P);
            }
            continue;
        }
        const char *gn = j->gy + (size_t)(n * g->O * P) * es;
        if (dw) { /* dW_g += gy[n]_g @ col_g^T */
            const char *col = pw ? xn : scr;
            if (!pw) f32 ? im2col_f32(g, (const float *)xn, (float *)scr)
                         : im2col_f64(g, (const double *)xn, (double *)scr);
            for (int64_t gi = 0; gi < g->G; gi++)
                if (tdw) /* dW_g^T += col_g @ gy[n]_g^T (and d b^T += 1 @ gy^T) */
                    tg__gemm(dt, false, true, CKg + brow, Og, P, col + (size_t)(gi * CKg * P) * es, P,
                             gn + (size_t)(gi * Og * P) * es, P, 1.0,
                             dwt + (size_t)(gi * CKg * Og) * es, Og);
                else
                    tg__gemm(dt, false, true, Og, CKg, P, gn + (size_t)(gi * Og * P) * es, P,
                             col + (size_t)(gi * CKg * P) * es, P, 1.0,
                             dw + (size_t)(gi * Og * CKg) * es, CKg);
        }
        if (j->dx) { /* dcol_g = W_g^T @ gy[n]_g, dx[n] += col2im(dcol) */
            char *dxn = j->dx + (size_t)(n * xs) * es;
            char *dcol = pw ? dxn : scr;
            /* a fresh dx: pointwise overwrites it, col2im adds into zeros
             * set here, one sample at a time on this block's thread */
            if (j->dx_fresh && !pw) memset(dxn, 0, (size_t)xs * es);
            for (int64_t gi = 0; gi < g->G; gi++) {
                const char *gg = gn + (size_t)(gi * Og * P) * es;
                char *dg = dcol + (size_t)(gi * CKg * P) * es;
                double beta = pw && !j->dx_fresh ? 1.0 : 0.0;
                if (j->pk) /* W_g^T packed once */
                    tg__gemm_pa(dt, j->level, CKg, P, Og, j->wpack + j->wpa * (size_t)gi, gg, P,
                                beta, dg, P, scr + j->pboff);
                else
                    tg__gemm(dt, true, false, CKg, P, Og, j->w + (size_t)(gi * Og * CKg) * es,
                             CKg, gg, P, beta, dg, P);
            }
#if defined(TG_HAVE_AVX512)
            if (!pw && j->c2i)
                tg__col2im_f32_avx512(&j->c2g, (const float *)dcol, (float *)dxn);
            else
#endif
            if (!pw) f32 ? col2im_f32(g, (const float *)dcol, (float *)dxn)
                         : col2im_f64(g, (const double *)dcol, (double *)dxn);
        }
        if (db && !brow) f32 ? bias_grad_f32(g->O, P, (const float *)gn, (float *)db)
                    : bias_grad_f64(g->O, P, (const double *)gn, (double *)db);
    }
    if (brow) /* d b: the last row of dW^T */
        tg__add_into(dt, db, dwt + (size_t)(CKg * Og) * es, Og);
    if (tdw) f32 ? add_transposed_f32(g->G, CKg, Og, (const float *)dwt, (float *)dw)
                 : add_transposed_f64(g->G, CKg, Og, (const double *)dwt, (double *)dw);
}

/* Thread piece k: claims blocks until none is left. */
static void conv_piece(void *ctx, int64_t lo, int64_t hi) {
    conv_job *j = ctx;
    int64_t N = j->g->N;
    for (int64_t k = lo; k < hi; k++) {
        char *scr = j->scratch ? j->scratch + j->per * (size_t)k : NULL;
        for (int64_t b; (b = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) <
                        j->nblk;) {
            char *dw = j->dw, *db = j->db;
            if (b > 0 && j->sumbytes) { /* this block's partial sums */
                char *part = j->sums + j->sumbytes * (size_t)(b - 1);
                memset(part, 0, j->sumbytes);
                dw = dw ? part : NULL, db = db ? part + j->dboff : NULL;
            }
            conv_samples(j, b * N / j->nblk, (b + 1) * N / j->nblk, scr, dw, db);
        }
    }
}

/* Runs a job over the batch, in blocks of samples on the pool when it is large.
 * Scratch comes from the tape arena. false on OOM or a scratch larger than
 * memory (recorded).
 * With no sample or no output channel every sum is empty: nothing to add
 * (the outputs are empty or stay as they are), and x [0, C, H, W] may have
 * planes whose sizes do not even multiply. Past that test y [N, O, OH, OW]
 * has elements, so P and the weight's and a sample's sizes fit. */
static bool conv_run(tg_tape *tape, conv_job *j, const char *op) {
    const conv_geom *g = j->g;
    if (g->N == 0 || g->O == 0) return true;
    size_t es = tg__esize(j->dt);
    int64_t P = g->OH * g->OW, nw = g->O * (g->C / g->G) * g->KH * g->KW;
    double work = (double)g->N * (double)g->O * (double)P * (double)(g->C / g->G) *
                  (double)g->KH * (double)g->KW; /* w [O, 0, 2^40, 2^40] has no elements */
    int th = tg_get_num_threads();
    j->nch = th > 1 && g->N > 1 && work >= CONV_PAR_MIN ? (g->N < th ? g->N : th) : 1;
    bool need_col = !pointwise(g) && (j->kind == K_FWD || j->dw || j->dx);
    /* im2col: C * KH * KW rows of P, which a large padding can make larger
     * than memory while x and w are small */
    int64_t col = 0;
    /* dW^T (dw_transposed): nw elements, rounded up to 64 bytes */
    /* brow below: one group, not pointwise, d b asked for */
    j->tdw = j->kind == K_BW && j->dw &&
             dw_transposed(g, j->dt, tg__simd_level(), j->db && g->G == 1 && !pointwise(g));
    size_t tbytes = j->tdw
                        ? (((size_t)(nw + g->O) * es + 63) & ~(size_t)63)
                        : 0;
    /* d b of a transposed dW from the same GEMM: a row of ones under col
     * makes the GEMM's M one larger (9 -> 10 for a first layer, in the
     * same 12-row register tile) and spares bias_grad's pass over gy
     * (one group, and col a buffer of its own, not x) */
    j->brow = tbytes && j->db && g->G == 1 && !pointwise(g);
    /* The forward's bias from the GEMM too, y = [W | b] @ [col; 1] (the
     * same row of ones under col), instead of y filled with the bias and
     * the GEMM adding into it: a pass over y less, and C written, not
     * read (conv1 of bench_conv: 2.7 MB each). The same bits while K + 1
     * fits one K block of the GEMM: each y is then the micro-kernel's sum
     * over k in order, plus b (b * 1 exactly) last, as the bias fill plus
     * that sum was. One group, col a buffer of its own (not x), and the
     * weight packed once (pk below: tg__gemm_pa's order; tg__gemm's
     * direct loops for tiny products would start from 0, not b). */
    int64_t ckg1 = g->C / g->G * g->KH * g->KW + 1;
    j->frow = j->kind == K_FWD && j->bias && j->beta == 0 && g->G == 1 && !pointwise(g) &&
              (j->nch > 1 || th == 1) && ckg1 > 1 &&
              ckg1 <= tg__gemm_kc(j->dt == TG_F32 ? 0 : 1, tg__simd_level());
    /* blocks: one per sample, or with partial sums of dw and db (in one
     * block's `sumbytes`), CONV_BLOCKS_PER_THREAD per thread while the
     * partials stay under CONV_SUMS_MAX */
    size_t sums = j->kind == K_BW ? (size_t)((j->dw ? nw : 0) + (j->db ? g->O : 0)) * es : 0;
    j->nblk = j->nch;
    if (j->nch > 1) {
        int64_t most = sums ? j->nch * CONV_BLOCKS_PER_THREAD : g->N;
        if (most > g->N) most = g->N;
        while (most > j->nch && sums > CONV_SUMS_MAX / (size_t)(most - 1)) most--;
        j->nblk = most;
    }
    j->sumbytes = j->nblk > 1 ? (sums + 63) & ~(size_t)63 : 0;
    j->dboff = j->dw ? (size_t)nw * es : 0;
    if (need_col && (!tg__mul_ok(g->C, g->KH, &col) || !tg__mul_ok(col, g->KW, &col) ||
                     !tg__mul_ok(col, P, &col) || (uint64_t)col > (SIZE_MAX - 127 - tbytes) / es)) {
        char b0[160], b1[160];
        int64_t xs[4] = {g->N, g->C, g->H, g->W}, ws[4] = {g->O, g->C / g->G, g->KH, g->KW};
        return tg__fail(tape, TG_ERR_OVERFLOW, op,
                        "the im2col buffer of x %s and w %s (%lld x %lld outputs) is larger "
                        "than memory",
                        tg__shape_str(b0, sizeof b0, 4, xs), tg__shape_str(b1, sizeof b1, 4, ws),
                        (long long)g->OH, (long long)g->OW), false;
    }
    if ((j->brow || j->frow) && (uint64_t)col + (uint64_t)P > (SIZE_MAX - 127 - tbytes) / es)
        j->brow = j->frow = false; /* no room for the row of ones: bias_grad's pass */
    j->colbytes = ((size_t)(col + (j->brow || j->frow ? P : 0)) * es + 63) & ~(size_t)63;
    char *wb = NULL; /* frow: [W | b], O x (CKg + 1), packed below */
    if (j->frow) {
        wb = tg__arena_n(tape, g->O, (size_t)ckg1 * es, op);
        if (!wb) return false;
        for (int64_t o = 0; o < g->O; o++) {
            memcpy(wb + (size_t)(o * ckg1) * es, j->w + (size_t)(o * (ckg1 - 1)) * es,
                   (size_t)(ckg1 - 1) * es);
            memcpy(wb + (size_t)(o * ckg1 + ckg1 - 1) * es, j->bias + (size_t)o * es, es);
        }
    }
    j->per = j->colbytes + tbytes;
    j->scratch = j->sums = j->wpack = NULL;
    /* The weight packed once for all samples (tg__gemm_pa) when the
     * samples' GEMMs run each on one thread anyway: on the pool's pieces,
     * or with one thread; otherwise tg__gemm splits each over the threads. */
    int64_t Cg = g->C / g->G, Og = g->O / g->G, CKg = Cg * g->KH * g->KW;
    j->pk = (j->nch > 1 || th == 1) && CKg > 0 && (j->kind == K_FWD || j->dx);
    if (j->pk) {
        int dt = j->dt, lv = j->level = tg__simd_level();
        bool fwd = j->kind == K_FWD;
        /* W_g (Og x CKg), or W_g^T (CKg x Og) for d x; B: col (CKg x P), or gy (Og x P) */
        int64_t fk = CKg + (j->frow ? 1 : 0); /* the forward's K: [W | b]'s columns */
        size_t pb = tg__gemm_pb_size(dt, lv, P, fwd ? fk : Og);
        j->pboff = j->per;
        j->per += (pb * es + 63) & ~(size_t)63;
        j->wpa = (tg__gemm_pa_size(dt, lv, fwd ? Og : CKg, fwd ? fk : Og) * es + 63) &
                 ~(size_t)63;
        j->wpack = tg__arena_n(tape, g->G, j->wpa, op);
        if (!j->wpack) return false;
        if (j->frow) /* one group */
            tg__gemm_pa_pack(dt, lv, false, Og, fk, wb, fk, j->wpack);
        else
            for (int64_t gi = 0; gi < g->G; gi++) /* on this thread: ~10 us for 64 x 288 */
                tg__gemm_pa_pack(dt, lv, !fwd, fwd ? Og : CKg, fwd ? CKg : Og,
                                 j->w + (size_t)(gi * Og * CKg) * es, CKg,
                                 j->wpack + j->wpa * (size_t)gi);
    }
    if (j->per) {
        j->scratch = tg__arena_n(tape, j->nch, j->per, op);
        if (!j->scratch) return false;
    }
    if (j->sumbytes) {
        j->sums = tg__arena_n(tape, j->nblk - 1, j->sumbytes, op);
        if (!j->sums) return false;
    }
#if defined(TG_HAVE_AVX512)
    j->c2i = j->kind == K_BW && j->dx && !pointwise(g) && j->dt == TG_F32 && g->sw == 1 &&
             g->dw == 1 && tg__simd_level() == TG_SIMD_AVX512;
    j->c2g = (tg_col2im_geom){.C = g->C, .H = g->H, .W = g->W, .KH = g->KH, .KW = g->KW,
                              .OH = g->OH, .OW = g->OW, .sh = g->sh, .ph = g->ph, .dh = g->dh,
                              .pw = g->pw};
#endif
    atomic_init(&j->next, 0);
    if (j->nch > 1)
        tg__parallel_for(j->nch, 1, conv_piece, j);
    else
        conv_piece(j, 0, 1);
    for (int64_t b = 1; j->sumbytes && b < j->nblk; b++) { /* in block order */
        const char *part = j->sums + j->sumbytes * (size_t)(b - 1);
        if (j->dw) tg__add_into(j->dt, j->dw, part, nw);
        if (j->db) tg__add_into(j->dt, j->db, part + j->dboff, g->O);
    }
    return true;
}

/* y = beta * y + conv(x, w) + bias */
static bool run_fwd(tg_tape *tape, int dt, const conv_geom *g, const void *x, const void *w,
                    const void *bias, void *y, double beta, const char *op) {
    conv_job j = {.g = g, .dt = dt, .kind = K_FWD, .x = x, .w = w, .bias = bias, .y = y,
                  .beta = beta};
    return conv_run(tape, &j, op);
}

/* dx += conv_dx(gy, w), dw += conv_dw(x, gy), db += sum gy (NULL: skip);
 * dx_fresh: dx is uninitialised and receives conv_dx(gy, w). */
static bool run_bw(tg_tape *tape, int dt, const conv_geom *g, const void *x, const void *w,
                   const void *gy, void *dx, bool dx_fresh, void *dw, void *db,
                   const char *op) {
    conv_job j = {.g = g, .dt = dt, .kind = K_BW, .x = x, .w = w, .gy = gy, .dx = dx, .dw = dw,
                  .db = db, .dx_fresh = dx && dx_fresh};
    if (j.dx_fresh && (g->N == 0 || g->O == 0)) /* no sample to write it: dx = 0 */
        memset(dx, 0, (size_t)tg__shape_numel(4, (const int64_t[]){g->N, g->C, g->H, g->W}) *
                          tg__esize(dt));
    return conv_run(tape, &j, op);
}

/* ------------------------------------------------------------------ ops */

/* Output shapes of the three ops. */
static void shape_y(const conv_geom *g, int64_t *s) { s[0] = g->N, s[1] = g->O, s[2] = g->OH, s[3] = g->OW; }
static void shape_x(const conv_geom *g, int64_t *s) { s[0] = g->N, s[1] = g->C, s[2] = g->H, s[3] = g->W; }
static void shape_w(const conv_geom *g, int64_t *s) {
    s[0] = g->O, s[1] = g->C / g->G, s[2] = g->KH, s[3] = g->KW;
}

static bool has_shape(const tg_tensor *t, const int64_t *s) {
    return t->rank == 4 && t->shape[0] == s[0] && t->shape[1] == s[1] && t->shape[2] == s[2] &&
           t->shape[3] == s[3];
}

/* Records one of the three ops (conv2d with its optional bias) on inputs
 * whose shapes the geometry fixes, and computes it. */
static tg_tensor *conv_make(int op, tg_tensor *a, tg_tensor *b, tg_tensor *bias,
                            const conv_geom *geo) {
    const char *name = tg__ops[op].name;
    tg_tensor *in[3] = {a, b, bias};
    int n = bias ? 3 : 2;
    tg_tape *tape = tg__check(name, n, in, true);
    if (!tape) return NULL;
    a = in[0], b = in[1], bias = bias ? in[2] : NULL;
    int64_t sa[4], sb[4], so[4];
    if (op == TG_OP_CONV2D) shape_x(geo, sa), shape_w(geo, sb), shape_y(geo, so);
    else if (op == TG_OP_CONV2D_DX) shape_y(geo, sa), shape_w(geo, sb), shape_x(geo, so);
    else shape_x(geo, sa), shape_y(geo, sb), shape_w(geo, so);
    if (!has_shape(a, sa) || !has_shape(b, sb)) {
        char b0[160], b1[160], b2[160], b3[160];
        return tg__fail(tape, TG_ERR_SHAPE, name, "operands %s and %s, expected %s and %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, b->rank, b->shape),
                        tg__shape_str(b2, sizeof b2, 4, sa), tg__shape_str(b3, sizeof b3, 4, sb));
    }
    tg_tensor *out = tg__out(tape, op, a->dtype, 4, so, a, NULL, NULL);
    if (!out) return NULL;
    tg_auxin *ax = tg__arena(tape, GEOM_OFF + sizeof(conv_geom), name);
    if (!ax) return NULL;
    ax->n = n;
    for (int i = 0; i < n; i++) ax->in[i] = in[i];
    memcpy((char *)ax + GEOM_OFF, geo, sizeof *geo);
    out->u.aux = ax;
    tg__set_req(out, n, in);
    const conv_geom *g = geom_of(out);
    size_t bytes = (size_t)tg__numel(out) * tg__esize(out->dtype);
    if (op != TG_OP_CONV2D) memset(out->data, 0, bytes);
    int dt = a->dtype;
    bool ok = op == TG_OP_CONV2D
                  ? run_fwd(tape, dt, g, a->data, b->data, bias ? bias->data : NULL, out->data,
                            0.0, name)
              : op == TG_OP_CONV2D_DX
                  ? run_bw(tape, dt, g, NULL, b->data, a->data, out->data, false, NULL, NULL, name)
                  : run_bw(tape, dt, g, a->data, NULL, b->data, NULL, false, out->data, NULL, name);
    return ok ? out : NULL;
}

/* Reads the options (0 = default) and checks x, w and b against each
 * other; fills the geometry. one_d: x [N, C, L], w [O, C/G, K] seen as
 * [N, C, 1, L] and [O, C/G, 1, K]. Errors name the op and the shapes. */
static bool conv_setup(tg_tape *tape, const char *op, bool one_d, const tg_tensor *x,
                       const tg_tensor *w, const tg_tensor *b, const tg_conv_opts *o,
                       conv_geom *g) {
    char bx[160], bw[160], bb[160];
    int r = one_d ? 3 : 4;
    tg__shape_str(bx, sizeof bx, x->rank, x->shape);
    tg__shape_str(bw, sizeof bw, w->rank, w->shape);
    if (x->rank != r) {
        tg__fail(tape, TG_ERR_SHAPE, op, "input must be %d-D %s, got x %s (weight %s)", r,
                 one_d ? "[N, C, L]" : "[N, C, H, W]", bx, bw);
        return false;
    }
    if (w->rank != r) {
        tg__fail(tape, TG_ERR_SHAPE, op, "weight must be %d-D %s, got w %s (input %s)", r,
                 one_d ? "[O, C/groups, k]" : "[O, C/groups, kH, kW]", bw, bx);
        return false;
    }
    tg_conv_opts d = {{0, 0}, {0, 0}, {0, 0}, 0};
    if (o) d = *o;
    int nopt = one_d ? 1 : 2;
    for (int k = 0; k < nopt; k++) {
        if (d.stride[k] < 0 || d.padding[k] < 0 || d.dilation[k] < 0 || d.groups < 0) {
            tg__fail(tape, TG_ERR_ARG, op,
                     "stride, dilation and groups must be >= 1 (0: default) and padding >= 0, "
                     "got stride %d, padding %d, dilation %d, groups %d (x %s, w %s)",
                     d.stride[k], d.padding[k], d.dilation[k], d.groups, bx, bw);
            return false;
        }
    }
    int sh = one_d ? 1 : d.stride[0], sw = one_d ? d.stride[0] : d.stride[1];
    int ph = one_d ? 0 : d.padding[0], pw = one_d ? d.padding[0] : d.padding[1];
    int dh = one_d ? 1 : d.dilation[0], dw = one_d ? d.dilation[0] : d.dilation[1];
    g->sh = sh ? sh : 1, g->sw = sw ? sw : 1, g->ph = ph, g->pw = pw;
    g->dh = dh ? dh : 1, g->dw = dw ? dw : 1, g->G = d.groups ? d.groups : 1;
    g->N = x->shape[0], g->C = x->shape[1];
    g->H = one_d ? 1 : x->shape[2], g->W = x->shape[r - 1];
    g->O = w->shape[0], g->KH = one_d ? 1 : w->shape[2], g->KW = w->shape[r - 1];
    if (g->C % g->G || g->O % g->G) {
        tg__fail(tape, TG_ERR_SHAPE, op,
                 "groups %lld must divide both the input channels (%lld) and the output "
                 "channels (%lld): x %s, w %s",
                 (long long)g->G, (long long)g->C, (long long)g->O, bx, bw);
        return false;
    }
    int64_t wc; /* the channels the weight expects: w->shape[1] * G, which may overflow */
    if (!tg__mul_ok(w->shape[1], g->G, &wc) || wc != g->C) {
        char swc[24] = "more than INT64_MAX";
        if (tg__mul_ok(w->shape[1], g->G, &wc)) snprintf(swc, sizeof swc, "%lld", (long long)wc);
        tg__fail(tape, TG_ERR_SHAPE, op,
                 "the input has %lld channels but the weight expects %s (%lld per group x "
                 "%lld groups): x %s, w %s",
                 (long long)g->C, swc, (long long)w->shape[1], (long long)g->G, bx, bw);
        return false;
    }
    if (b && (b->rank != 1 || b->shape[0] != g->O)) {
        tg__fail(tape, TG_ERR_SHAPE, op,
                 "bias must be 1-D with one entry per output channel [%lld], got b %s (w %s)",
                 (long long)g->O, tg__shape_str(bb, sizeof bb, b->rank, b->shape), bw);
        return false;
    }
    if (g->KH < 1 || g->KW < 1) {
        tg__fail(tape, TG_ERR_SHAPE, op, "the kernel must not be empty: w %s", bw);
        return false;
    }
    /* The padded input H + 2p and the kernel's extents e = (K - 1) d + 1,
     * in uint64: the dims of a tensor with no elements go up to INT64_MAX,
     * and e may pass even 2^64 (then e_over). A padded input past
     * INT64_MAX is refused, so that no index into it overflows. */
    uint64_t eh, ew, hp = (uint64_t)g->H + 2 * (uint64_t)g->ph;
    uint64_t wp = (uint64_t)g->W + 2 * (uint64_t)g->pw;
    if (hp > INT64_MAX || wp > INT64_MAX) {
        tg__fail(tape, TG_ERR_OVERFLOW, op,
                 "the padded input (%llux%llu with padding %lldx%lld) has more than INT64_MAX "
                 "rows or columns: x %s, w %s",
                 (unsigned long long)hp, (unsigned long long)wp, (long long)g->ph,
                 (long long)g->pw, bx, bw);
        return false;
    }
    bool eh_over = __builtin_mul_overflow((uint64_t)(g->KH - 1), (uint64_t)g->dh, &eh) ||
                   __builtin_add_overflow(eh, 1, &eh);
    bool ew_over = __builtin_mul_overflow((uint64_t)(g->KW - 1), (uint64_t)g->dw, &ew) ||
                   __builtin_add_overflow(ew, 1, &ew);
    if (eh_over || ew_over || eh > hp || ew > wp) {
        char seh[24] = "more than 2^64", sew[24] = "more than 2^64";
        if (!eh_over) snprintf(seh, sizeof seh, "%llu", (unsigned long long)eh);
        if (!ew_over) snprintf(sew, sizeof sew, "%llu", (unsigned long long)ew);
        if (one_d)
            tg__fail(tape, TG_ERR_SHAPE, op,
                     "the kernel (size %lld, %s with dilation %lld) is bigger than the padded "
                     "input (length %llu with padding %lld): x %s, w %s",
                     (long long)g->KW, sew, (long long)g->dw, (unsigned long long)wp,
                     (long long)g->pw, bx, bw);
        else
            tg__fail(tape, TG_ERR_SHAPE, op,
                     "the kernel (%lldx%lld, %sx%s with dilation %lldx%lld) is bigger than "
                     "the padded input (%llux%llu with padding %lldx%lld): x %s, w %s",
                     (long long)g->KH, (long long)g->KW, seh, sew, (long long)g->dh,
                     (long long)g->dw, (unsigned long long)hp, (unsigned long long)wp,
                     (long long)g->ph, (long long)g->pw, bx, bw);
        return false;
    }
    g->OH = (int64_t)((hp - eh) / (uint64_t)g->sh + 1); /* at most hp */
    g->OW = (int64_t)((wp - ew) / (uint64_t)g->sw + 1);
    return true;
}

/* y = conv2d(x, w) + b: im2col + GEMM per sample (see the top). */
tg_tensor *tg_conv2d(tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv_opts *o) {
    tg_tensor *in[3] = {x, w, b};
    tg_tape *tape = tg__check("conv2d", b ? 3 : 2, in, true);
    if (!tape) return NULL;
    conv_geom g;
    if (!conv_setup(tape, "conv2d", false, in[0], in[1], b ? in[2] : NULL, o, &g)) return NULL;
    return tg__handle(conv_make(TG_OP_CONV2D, in[0], in[1], b ? in[2] : NULL, &g));
}

/* conv1d: conv2d on [N, C, 1, L] views, reshaped back to [N, O, OL]. */
tg_tensor *tg_conv1d(tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv_opts *o) {
    tg_tensor *in[3] = {x, w, b};
    tg_tape *tape = tg__check("conv1d", b ? 3 : 2, in, true);
    if (!tape) return NULL;
    conv_geom g;
    x = in[0], w = in[1], b = b ? in[2] : NULL;
    if (!conv_setup(tape, "conv1d", true, x, w, b, o, &g)) return NULL;
    tg_tensor *x4 = tg__rec(tg_reshape(x, TG_SHAPE(g.N, g.C, 1, g.W)));
    tg_tensor *w4 = tg__rec(tg_reshape(w, TG_SHAPE(g.O, g.C / g.G, 1, g.KW)));
    if (!x4 || !w4) return NULL;
    tg_tensor *y = conv_make(TG_OP_CONV2D, x4, w4, b, &g);
    return y ? tg_reshape(y, TG_SHAPE(g.N, g.O, g.OW)) : NULL;
}

/* The gradient buffers of a record's inputs; false if one that requires
 * grad could not get one (OOM). */
static bool grads_of(tg_tensor *o, tg_tensor **in, void **gin) {
    int n = tg__inputs(o, in);
    for (int i = 0; i < 3; i++) gin[i] = NULL;
    for (int i = 0; i < n; i++) {
        gin[i] = tg__gacc(in[i]);
        if ((in[i]->flags & TGF_REQ) && !gin[i]) return false;
    }
    return true;
}

/* conv2d: h = out's gradient. dx = conv2d_input_grad(h, w),
 * dw = conv2d_weight_grad(x, h), db = sum of h over n, i, j. */
bool tg__bw_conv2d(tg_tensor *o) {
    tg_tensor *in[3];
    void *gi[3];
    bool fresh = false;
    int n = tg__inputs(o, in);
    for (int i = 0; i < 3; i++) gi[i] = NULL;
    for (int i = 0; i < n; i++) { /* x's buffer may be new: then written, not zeroed first */
        gi[i] = i == 0 ? tg__gacc_w(in[0], &fresh) : tg__gacc(in[i]);
        if ((in[i]->flags & TGF_REQ) && !gi[i]) return false;
    }
    const conv_geom *g = geom_of(o);
    return run_bw(o->tape, o->dtype, g, in[0]->data, in[1]->data, o->grad, gi[0], fresh, gi[1],
                  gi[2], "conv2d");
}

tg_tensor *tg__vjp_conv2d(tg_tensor *o, tg_tensor *h, int i) {
    const tg_auxin *ax = o->u.aux;
    const conv_geom *g = geom_of(o);
    if (i == 0) return conv_make(TG_OP_CONV2D_DX, h, ax->in[1], NULL, g);
    if (i == 1) return conv_make(TG_OP_CONV2D_DW, ax->in[0], h, NULL, g);
    return tg_sum_axes(h, 3, (const int[]){0, 2, 3}, false);
}

/* conv2d_input_grad(gy, w) = dx: linear in both. With h the gradient at
 * dx: d gy = conv2d(h, w), d w = conv2d_weight_grad(h, gy). */
bool tg__bw_conv2d_dx(tg_tensor *o) {
    tg_tensor *in[3];
    void *gi[3];
    if (!grads_of(o, in, gi)) return false;
    const conv_geom *g = geom_of(o);
    const char *name = "conv2d_input_grad";
    if (gi[0] && !run_fwd(o->tape, o->dtype, g, o->grad, in[1]->data, NULL, gi[0], 1, name))
        return false;
    return !gi[1] ||
           run_bw(o->tape, o->dtype, g, o->grad, NULL, in[0]->data, NULL, false, gi[1], NULL, name);
}

tg_tensor *tg__vjp_conv2d_dx(tg_tensor *o, tg_tensor *h, int i) {
    const tg_auxin *ax = o->u.aux;
    const conv_geom *g = geom_of(o);
    if (i == 0) return conv_make(TG_OP_CONV2D, h, ax->in[1], NULL, g);
    return conv_make(TG_OP_CONV2D_DW, h, ax->in[0], NULL, g);
}

/* conv2d_weight_grad(x, gy) = dw: linear in both. With h the gradient at
 * dw: d x = conv2d_input_grad(gy, h), d gy = conv2d(x, h). */
bool tg__bw_conv2d_dw(tg_tensor *o) {
    tg_tensor *in[3];
    void *gi[3];
    if (!grads_of(o, in, gi)) return false;
    const conv_geom *g = geom_of(o);
    const char *name = "conv2d_weight_grad";
    if (gi[0] && !run_bw(o->tape, o->dtype, g, NULL, o->grad, in[1]->data, gi[0], false, NULL, NULL, name))
        return false;
    return !gi[1] ||
           run_fwd(o->tape, o->dtype, g, in[0]->data, o->grad, NULL, gi[1], 1, name);
}

tg_tensor *tg__vjp_conv2d_dw(tg_tensor *o, tg_tensor *h, int i) {
    const tg_auxin *ax = o->u.aux;
    const conv_geom *g = geom_of(o);
    if (i == 0) return conv_make(TG_OP_CONV2D_DX, ax->in[1], h, NULL, g);
    return conv_make(TG_OP_CONV2D, ax->in[0], h, NULL, g);
}
