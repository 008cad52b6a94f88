/* fuse_simd.h - the block interpreter of fused chains (fuse.c), written
 * once and compiled once per SIMD level (fuse_portable.c, fuse_avx2.c,
 * fuse_avx512.c: ops/meson.build, no FMA contraction, so every level gives
 * the bits of unary.c's and arith.c's loops): the rows of tg_ewlist.h
 * expanded into block loops, and TG_FUSE_RANGE, the tg_range_fn that runs
 * a fjob over elements [lo, hi) block by block. fuse.c includes it
 * without TG_FUSE_RANGE: the group and the job only.
 */
#ifndef TG_FUSE_SIMD_H
#define TG_FUSE_SIMD_H

#include "fuse.h"
#include "elementwise.h"
#include "sum_order.h"

#include <math.h>

enum { CAP = TG_FUSE_CAP, B = TG_FUSE_BLOCK };

static inline bool is_binary(int op) {
    switch (op) {
#define BIN_CASE(ID, name, F, DX, DY, GA, GB) case TG_OP_##ID:
    TG_BINARY_OPS(BIN_CASE)
#undef BIN_CASE
        return true;
    default: return false;
    }
}

typedef struct fnode {
    tg_tensor *r;
    uint64_t key;   /* creation order: slab and slot */
    int op, nin;
    int in[2];      /* >= 0: a node; < 0: boundary -1 - in */
    double c0, c1;
    bool req;
} fnode;

typedef struct fgroup {
    int n, nb, dtype;
    int64_t numel;
    fnode nd[CAP];          /* in creation order: the root last */
    tg_tensor *bd[2 * CAP]; /* boundary inputs: records holding data */
} fgroup;

/* ------------------------------------------------ the block interpreter */

enum { M_FORCE, M_SUM, M_BW };

typedef struct fjob {
    const fgroup *g;
    int mode;
    void *dst;                 /* M_FORCE: the root's data */
    const void *groot;         /* M_BW: the root's gradient (NULL: gconst) */
    double gconst;
    void *bgrad[2 * CAP];      /* M_BW: boundary gradients (NULL: none wanted) */
    bool bfresh[2 * CAP];      /* uninitialised: written, not added to */
    bool wr[CAP][2];           /* node k's term into input i is the first into
                                * a gradient that starts at -0.0 (a record's
                                * in G, a bfresh boundary's): written (fuse.c) */
    /* M_BW: the tensors that boundaries are views of at several offsets,
     * whose gradient two blocks may then add into (run_views) */
    int nbase;
    struct fbase {
        void *g;               /* its gradient */
        int64_t omin, omax, n; /* its views' offsets, its elements */
        bool zero;             /* new: each range zeroes its own elements */
    } base[2 * CAP];
    int bbase[2 * CAP];        /* boundary b's such tensor, or -1 */
    int64_t boff[2 * CAP];     /* and its offset there, in elements */
    int64_t wmax;              /* the largest omax - omin */
    int64_t chunk;             /* M_SUM: sum_order.h's chunks (ranges start at one) */
    double *part;              /* M_SUM: (chunks,) their totals */
    bool failed;               /* no scratch */
} fjob;


/* One function per level (fuse.c picks by tg__simd_level). */
void tg__fuse_range_portable(void *ctx, int64_t lo, int64_t hi);
void tg__fuse_range_avx2(void *ctx, int64_t lo, int64_t hi);
void tg__fuse_range_avx512(void *ctx, int64_t lo, int64_t hi);

#endif /* TG_FUSE_SIMD_H */

#ifdef TG_FUSE_RANGE
/* o = f(a[, b]) over m elements; and the backward: ga += the row's
 * backward for x, gb += for y (either may be NULL; sq: b is a and the op
 * mul, whose gradient is then square's, as arith.c's); with wa (wb), ga =
 * (gb =) instead: the first term into a gradient that starts at -0.0, the
 * exact identity of +, so the same bits with no pass to set the -0.0. */
#define FU_CASE(ID, name, np, F, D, G)                                         \
    case TG_OP_##ID: TG__UNARY_FWD_LOOP(m, a, o, F) break;
#define FB_CASE(ID, name, F, DX, DY, GA, GB)                                   \
    case TG_OP_##ID:                                                           \
        for (int64_t i = 0; i < m; i++) {                                      \
            T x = a[i], y = b[i];                                              \
            o[i] = F;                                                          \
        }                                                                      \
        break;
#define BU_LOOP(OP, D)                                                         \
    for (int64_t i = 0; i < m; i++) {                                          \
        T x = a[i], z = zz[i], g = gg[i];                                      \
        (void)x, (void)z, (void)g;                                             \
        ga[i] OP D;                                                            \
    }
#define BU_CASE(ID, name, np, F, D, G)                                         \
    case TG_OP_##ID:                                                           \
        if (wa) BU_LOOP(=, D) else BU_LOOP(+=, D)                              \
        break;
#define BB_LOOP(GX, OP, D)                                                     \
    for (int64_t i = 0; i < m; i++) {                                          \
        T x = a[i], y = b[i], z = zz[i], g = gg[i];                            \
        (void)x, (void)y, (void)z;                                             \
        GX[i] OP D;                                                            \
    }
#define BB_CASE(ID, name, F, DX, DY, GA, GB)                                   \
    case TG_OP_##ID:                                                           \
        if (ga) {                                                              \
            if (wa) BB_LOOP(ga, =, DX) else BB_LOOP(ga, +=, DX)                \
        }                                                                      \
        if (gb) {                                                              \
            if (wb) BB_LOOP(gb, =, DY) else BB_LOOP(gb, +=, DY)                \
        }                                                                      \
        break;
#define SQ_CASE(ID, name, np, F, D, G)                                         \
    if (TG_OP_##ID == TG_OP_SQUARE) {                                          \
        if (wa) BU_LOOP(=, D) else BU_LOOP(+=, D)                              \
    }
#define DEF_ROWS(TY, SUF)                                                      \
    static void fwd_##SUF(int op, int64_t m, const TY *restrict a, const TY *restrict b, TY c0, \
                          TY c1, TY *restrict o) {                             \
        typedef TY T;                                                          \
        (void)b, (void)c0, (void)c1;                                           \
        switch (op) {                                                          \
            TG_UNARY_OPS(FU_CASE)                                              \
            TG_BINARY_OPS(FB_CASE)                                             \
        default: break;                                                        \
        }                                                                      \
    }                                                                          \
    static void bw_##SUF(int op, int64_t m, const TY *restrict a, const TY *restrict b,       \
                         const TY *restrict zz, const TY *restrict gg, TY c0, TY c1, TY *ga,  \
                         TY *gb, bool sq, bool wa, bool wb) {                  \
        typedef TY T;                                                          \
        (void)b, (void)c0, (void)c1;                                           \
        if (sq) { /* x * x: one pass as square, into ga */                    \
            if (ga) { TG_UNARY_OPS(SQ_CASE) }                                  \
            return;                                                            \
        }                                                                      \
        if (!is_binary(op) && !ga) return;                                     \
        switch (op) {                                                          \
            TG_UNARY_OPS(BU_CASE)                                              \
            TG_BINARY_OPS(BB_CASE)                                             \
        default: break;                                                        \
        }                                                                      \
    }
DEF_ROWS(float, f32)
DEF_ROWS(double, f64)
#undef DEF_ROWS
#undef SQ_CASE
#undef BB_CASE
#undef BB_LOOP
#undef BU_CASE
#undef BU_LOOP
#undef FB_CASE
#undef FU_CASE

/* One block [s, s + m) of the job: the group's values in V (M_FORCE: the
 * root's straight into its data), M_SUM: added into the lanes L (a block
 * lies inside one chunk), M_BW: the records' gradients in G (the root's:
 * groot, or CG, gconst everywhere), the boundaries' at bd[b] + i for
 * element s + i (NULL: not wanted here). */
#define DEF_BLOCK(T, SUF)                                                      \
    static void block_##SUF(fjob *j, int64_t s, int64_t m, T *V, T *G, const T *CG, double *L, \
                            T *const *bd) {                                    \
        const fgroup *grp = j->g;                                              \
        int n = grp->n;                                                        \
        for (int k = 0; k < n; k++) {                                          \
            const fnode *d = &grp->nd[k];                                      \
            T *o = j->mode == M_FORCE && k == n - 1 ? (T *)j->dst + s : V + (size_t)k * B; \
            fwd_##SUF(d->op, m, SRC(T, d->in[0]), SRC(T, d->in[1]), (T)d->c0, (T)d->c1, o); \
        }                                                                      \
        if (j->mode == M_SUM) { /* element s + i of a chunk: lane i % LANES */ \
            const T *v = V + (size_t)(n - 1) * B;                              \
            double l[SUM_LANES]; /* a local: L might alias v for the compiler */ \
            for (int i = 0; i < SUM_LANES; i++) l[i] = L[i];                   \
            int64_t k = 0;                                                     \
            for (; k + SUM_LANES <= m; k += SUM_LANES)                         \
                for (int i = 0; i < SUM_LANES; i++) l[i] += (double)v[k + i];  \
            for (int i = 0; k + i < m; i++) l[i] += (double)v[k + i];          \
            bool end = (s + m) % j->chunk == 0 || s + m == grp->numel;        \
            if (end) j->part[(s + m - 1) / j->chunk] = sum_lanes(l);           \
            for (int i = 0; i < SUM_LANES; i++) L[i] = end ? 0 : l[i];         \
        }                                                                      \
        if (j->mode != M_BW) return;                                           \
        for (int k = n - 1; k >= 0; k--) {                                     \
            const fnode *d = &grp->nd[k];                                      \
            if (!d->req) continue;                                             \
            const T *gk = k < n - 1 ? G + (size_t)k * B : j->groot ? (const T *)j->groot + s : CG; \
            T *ga = DST(T, d->in[0]), *gb = d->nin == 2 ? DST(T, d->in[1]) : NULL; \
            bool sq = d->op == TG_OP_MUL && d->in[0] == d->in[1];              \
            bw_##SUF(d->op, m, SRC(T, d->in[0]), SRC(T, d->in[1]), V + (size_t)k * B, gk, \
                     (T)d->c0, (T)d->c1, ga, gb, sq, j->wr[k][0], j->wr[k][1]); \
        }                                                                      \
    }
/* an input's values for the block at s, and where its gradient goes */
#define SRC(T, ref)                                                            \
    ((ref) >= 0 ? (const T *)(V + (size_t)(ref) * B)                           \
                : (const T *)grp->bd[-1 - (ref)]->data + s)
#define DST(T, ref)                                                            \
    ((ref) >= 0 ? (grp->nd[ref].req ? G + (size_t)(ref) * B : NULL) : bd[-1 - (ref)])
DEF_BLOCK(float, f32)
DEF_BLOCK(double, f64)
#undef DST
#undef SRC
#undef DEF_BLOCK

/* Elements [lo, hi), block by block (M_SUM: lo starts a chunk). */
#define DEF_RUN(T, SUF)                                                        \
    static void run_##SUF(fjob *j, int64_t lo, int64_t hi, T *V, T *G, T *CG) { \
        double L[SUM_LANES] = {0};                                             \
        T *bd[2 * CAP];                                                        \
        if (j->mode == M_BW && !j->groot)                                      \
            for (int i = 0; i < B; i++) CG[i] = (T)j->gconst;                  \
        for (int64_t s = lo; s < hi; s += B) {                                 \
            if (j->mode == M_BW)                                               \
                for (int b = 0; b < j->g->nb; b++)                             \
                    bd[b] = j->bgrad[b] ? (T *)j->bgrad[b] + s : NULL;         \
            block_##SUF(j, s, hi - s < B ? hi - s : B, V, G, CG, L, bd);       \
        }                                                                      \
    }
DEF_RUN(float, f32)
DEF_RUN(double, f64)
#undef DEF_RUN

/* M_BW with views of one tensor at several offsets (j->nbase > 0), over
 * blocks [blo, bhi) of the chain. Block s writes base q's elements
 * [s + omin, s + m + omax): the last blocks of two neighbouring ranges
 * overlap there. So a range owns base elements from blo B + omin to
 * bhi B + omin (the first one from 0, the last one to the end) and writes
 * only those: a block that would reach beyond them runs into a window (the
 * owned elements copied in, zeros elsewhere) and only the owned elements go
 * back; and the range first reruns its left neighbour's last block (window
 * only, no other gradient), whose terms come first in its first elements.
 * A new gradient: each range zeroes its own elements, block by block just
 * before the block's adds reach them (in cache, on the thread that adds).
 * Every element then gets its terms in the order one thread gives (blocks
 * in order, rows in reverse record order): the same bits for any split.
 * Needs omax - omin <= B (fuse.c runs one range otherwise). */
#define DEF_VIEWS(T, SUF)                                                      \
    static void run_views_##SUF(fjob *j, int64_t blo, int64_t bhi, T *V, T *G, T *CG, T *W) { \
        const fgroup *grp = j->g;                                              \
        int64_t numel = grp->numel, nblk = (numel + B - 1) / B, ww = B + j->wmax; \
        int64_t own_lo[2 * CAP], own_hi[2 * CAP];                              \
        for (int q = 0; q < j->nbase; q++) {                                   \
            own_lo[q] = blo > 0 ? blo * B + j->base[q].omin : 0;               \
            own_hi[q] = bhi < nblk ? bhi * B + j->base[q].omin : j->base[q].n; \
        }                                                                      \
        T *bd[2 * CAP];                                                        \
        int64_t zto[2 * CAP]; /* a new gradient: zeroed up to here */          \
        for (int q = 0; q < j->nbase; q++) zto[q] = own_lo[q];                \
        if (!j->groot)                                                         \
            for (int i = 0; i < B; i++) CG[i] = (T)j->gconst;                  \
        for (int64_t k = blo > 0 ? blo - 1 : 0; k < bhi; k++) {                \
            int64_t s = k * B, m = numel - s < B ? numel - s : B;              \
            bool own = k >= blo, win = !own;                                   \
            for (int q = 0; q < j->nbase; q++)                                 \
                if (s + j->base[q].omin < own_lo[q] || s + m + j->base[q].omax > own_hi[q]) \
                    win = true;                                                \
            for (int b = 0; b < grp->nb; b++) {                                \
                int q = j->bbase[b];                                           \
                if (q < 0)                                                     \
                    bd[b] = own && j->bgrad[b] ? (T *)j->bgrad[b] + s : NULL;  \
                else if (win)                                                  \
                    bd[b] = W + q * ww + (j->boff[b] - j->base[q].omin);       \
                else                                                           \
                    bd[b] = (T *)j->base[q].g + j->boff[b] + s;                \
            }                                                                  \
            for (int q = 0; q < j->nbase; q++) { /* zeros just ahead of the adds */ \
                int64_t e = s + m + j->base[q].omax < own_hi[q] ? s + m + j->base[q].omax : own_hi[q]; \
                if (j->base[q].zero && e > zto[q])                             \
                    memset((T *)j->base[q].g + zto[q], 0, (size_t)(e - zto[q]) * sizeof(T)), zto[q] = e; \
            }                                                                  \
            if (win) /* the windows: base elements from s + omin */            \
                for (int q = 0; q < j->nbase; q++) {                           \
                    int64_t w0 = s + j->base[q].omin, a = own_lo[q] > w0 ? own_lo[q] : w0; \
                    int64_t e = s + m + j->base[q].omax < own_hi[q] ? s + m + j->base[q].omax : own_hi[q]; \
                    T *w = W + q * ww;                                         \
                    for (int64_t i = 0; i < ww; i++) w[i] = 0;                 \
                    for (int64_t i = a; i < e; i++) w[i - w0] = ((T *)j->base[q].g)[i]; \
                }                                                              \
            block_##SUF(j, s, m, V, G, CG, NULL, bd);                          \
            if (win)                                                           \
                for (int q = 0; q < j->nbase; q++) {                           \
                    int64_t w0 = s + j->base[q].omin, a = own_lo[q] > w0 ? own_lo[q] : w0; \
                    int64_t e = s + m + j->base[q].omax < own_hi[q] ? s + m + j->base[q].omax : own_hi[q]; \
                    for (int64_t i = a; i < e; i++) ((T *)j->base[q].g)[i] = W[q * ww + i - w0]; \
                }                                                              \
        }                                                                      \
        for (int q = 0; q < j->nbase; q++) /* beyond the views' reach */       \
            if (j->base[q].zero && own_hi[q] > zto[q])                         \
                memset((T *)j->base[q].g + zto[q], 0, (size_t)(own_hi[q] - zto[q]) * sizeof(T)); \
    }
DEF_VIEWS(float, f32)
DEF_VIEWS(double, f64)
#undef DEF_VIEWS

/* M_BW with j->nbase > 0: lo and hi count blocks; else elements. */
void TG_FUSE_RANGE(void *ctx, int64_t lo, int64_t hi) {
    fjob *j = ctx;
    size_t es = tg__esize(j->g->dtype);
    size_t blk = (size_t)j->g->n * B * es, win = (size_t)j->nbase * (size_t)(B + j->wmax) * es;
    char *sc = tg__thread_scratch(2 * blk + B * es + win);
    if (!sc) {
        j->failed = true;
        return;
    }
    char *G = sc + blk, *CG = sc + 2 * blk, *W = CG + B * es;
    if (j->g->dtype == TG_F32) {
        if (j->nbase)
            run_views_f32(j, lo, hi, (float *)sc, (float *)G, (float *)CG, (float *)W);
        else
            run_f32(j, lo, hi, (float *)sc, (float *)G, (float *)CG);
    } else {
        if (j->nbase)
            run_views_f64(j, lo, hi, (double *)sc, (double *)G, (double *)CG, (double *)W);
        else
            run_f64(j, lo, hi, (double *)sc, (double *)G, (double *)CG);
    }
}

#endif /* TG_FUSE_RANGE */
