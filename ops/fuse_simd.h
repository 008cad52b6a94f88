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
    double acc, sum;           /* M_SUM: the row's and the total */
    int64_t pos, row;
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
 * mul, whose gradient is then square's, as arith.c's). */
#define FU_CASE(ID, name, np, F, D, G)                                         \
    case TG_OP_##ID: TG__UNARY_FWD_LOOP(m, a, o, F) break;
#define FB_CASE(ID, name, F, DX, DY, GA, GB)                                   \
    case TG_OP_##ID:                                                           \
        for (int64_t i = 0; i < m; i++) {                                      \
            T x = a[i], y = b[i];                                              \
            o[i] = F;                                                          \
        }                                                                      \
        break;
#define BU_CASE(ID, name, np, F, D, G)                                         \
    case TG_OP_##ID:                                                           \
        for (int64_t i = 0; i < m; i++) {                                      \
            T x = a[i], z = zz[i], g = gg[i];                                  \
            (void)x, (void)z, (void)g;                                         \
            ga[i] += D;                                                        \
        }                                                                      \
        break;
#define BB_LOOP(GX, D)                                                         \
    for (int64_t i = 0; i < m; i++) {                                          \
        T x = a[i], y = b[i], z = zz[i], g = gg[i];                            \
        (void)x, (void)y, (void)z;                                             \
        GX[i] += D;                                                            \
    }
#define BB_CASE(ID, name, F, DX, DY, GA, GB)                                   \
    case TG_OP_##ID:                                                           \
        if (ga) BB_LOOP(ga, DX)                                                \
        if (gb) BB_LOOP(gb, DY)                                                \
        break;
#define SQ_CASE(ID, name, np, F, D, G)                                         \
    if (TG_OP_##ID == TG_OP_SQUARE)                                            \
        for (int64_t i = 0; i < m; i++) {                                      \
            T x = a[i], z = zz[i], g = gg[i];                                  \
            (void)x, (void)z, (void)g;                                         \
            ga[i] += D;                                                        \
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
                         TY *gb, bool sq) {                                    \
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
#undef FB_CASE
#undef FU_CASE

#define DEF_RUN(T, SUF)                                                        \
    static void run_##SUF(fjob *j, int64_t lo, int64_t hi, T *V, T *G, T *CG) { \
        const fgroup *grp = j->g;                                              \
        int n = grp->n;                                                        \
        if (j->mode == M_BW && !j->groot)                                      \
            for (int i = 0; i < B; i++) CG[i] = (T)j->gconst;                  \
        for (int64_t s = lo; s < hi; s += B) {                                 \
            int64_t m = hi - s < B ? hi - s : B;                               \
            for (int k = 0; k < n; k++) {                                      \
                const fnode *d = &grp->nd[k];                                  \
                T *o = j->mode == M_FORCE && k == n - 1 ? (T *)j->dst + s : V + (size_t)k * B; \
                fwd_##SUF(d->op, m, SRC(T, d->in[0]), SRC(T, d->in[1]), (T)d->c0, (T)d->c1, o); \
            }                                                                  \
            if (j->mode == M_SUM) {                                            \
                const T *v = V + (size_t)(n - 1) * B;                          \
                T tot = (T)j->sum;                                             \
                double acc = j->acc;                                           \
                int64_t pos = j->pos;                                          \
                for (int64_t i = 0; i < m; i++) {                              \
                    acc += v[i];                                               \
                    if (++pos == j->row) tot += (T)acc, acc = 0, pos = 0;      \
                }                                                              \
                j->sum = tot, j->acc = acc, j->pos = pos;                      \
            }                                                                  \
            if (j->mode != M_BW) continue;                                     \
            for (int k = 0; k < n - 1; k++)                                    \
                if (grp->nd[k].req)                                            \
                    for (int64_t i = 0; i < m; i++) G[(size_t)k * B + i] = (T)-0.0; \
            for (int b = 0; b < grp->nb; b++)                                  \
                if (j->bgrad[b] && j->bfresh[b])                               \
                    for (int64_t i = 0; i < m; i++) ((T *)j->bgrad[b])[s + i] = (T)-0.0; \
            for (int k = n - 1; k >= 0; k--) {                                 \
                const fnode *d = &grp->nd[k];                                  \
                if (!d->req) continue;                                         \
                const T *gk = k < n - 1 ? G + (size_t)k * B : j->groot ? (const T *)j->groot + s : CG; \
                T *ga = DST(T, d->in[0]), *gb = d->nin == 2 ? DST(T, d->in[1]) : NULL; \
                bool sq = d->op == TG_OP_MUL && d->in[0] == d->in[1];          \
                bw_##SUF(d->op, m, SRC(T, d->in[0]), SRC(T, d->in[1]), V + (size_t)k * B, gk, \
                         (T)d->c0, (T)d->c1, ga, gb, sq);                      \
            }                                                                  \
        }                                                                      \
    }
/* an input's values for the block at s, and where its gradient goes */
#define SRC(T, ref)                                                            \
    ((ref) >= 0 ? (const T *)(V + (size_t)(ref) * B)                           \
                : (const T *)grp->bd[-1 - (ref)]->data + s)
#define DST(T, ref)                                                            \
    ((ref) >= 0 ? (grp->nd[ref].req ? G + (size_t)(ref) * B : NULL)            \
                : j->bgrad[-1 - (ref)] ? (T *)j->bgrad[-1 - (ref)] + s : NULL)
DEF_RUN(float, f32)
DEF_RUN(double, f64)
#undef DST
#undef SRC
#undef DEF_RUN

void TG_FUSE_RANGE(void *ctx, int64_t lo, int64_t hi) {
    fjob *j = ctx;
    size_t es = tg__esize(j->g->dtype);
    char *sc = tg__thread_scratch((size_t)(2 * j->g->n + 1) * B * es);
    if (!sc) {
        j->failed = true;
        return;
    }
    size_t blk = (size_t)j->g->n * B * es;
    if (j->g->dtype == TG_F32)
        run_f32(j, lo, hi, (float *)sc, (float *)(sc + blk), (float *)(sc + 2 * blk));
    else
        run_f64(j, lo, hi, (double *)sc, (double *)(sc + blk), (double *)(sc + 2 * blk));
}

#endif /* TG_FUSE_RANGE */
