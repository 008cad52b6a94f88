/* sum_order.h - the order in which a full sum (every element into one)
 * adds, shared by the unfused sum (reduce.c, tg__sum_flat) and the fused
 * sum of a chain (fuse_simd.h), so that the two give the same bits.
 *
 * The n elements, flat, are cut into at most SUM_CHUNKS chunks of
 * sum_chunk(n) elements (a multiple of SUM_ALIGN; the last one shorter).
 * Inside a chunk, element k (counted from the chunk's start) goes into
 * lane k % SUM_LANES, a double starting at 0, the lanes' adds in increasing
 * k; a chunk's total is its lanes added in the fixed tree of sum_lanes.
 * The sum is 0 plus the chunk totals in chunk order, rounded once to the
 * dtype (f32 elements are added in double). Why: one serial chain of n
 * dependent adds costs n add latencies on one thread; lanes are independent
 * chains (vector registers) and chunks run on the pool. The chunks depend
 * on n alone, never on the thread count, so the bits do not either.
 */
#ifndef TG_SUM_ORDER_H
#define TG_SUM_ORDER_H

#include "tg_internal.h"

/* SUM_ALIGN is the fused chains' block (TG_FUSE_BLOCK, fuse.h), so a block
 * never straddles two chunks; SUM_CHUNKS bounds the partials a caller
 * keeps (on its stack) and is enough pieces for the pool. */
enum { SUM_LANES = 16, SUM_ALIGN = 512, SUM_CHUNKS = 64 };

/* The elements of one chunk of a sum over n (n > 0). */
static inline int64_t sum_chunk(int64_t n) {
    int64_t c = (n + SUM_CHUNKS - 1) / SUM_CHUNKS;
    return (c + SUM_ALIGN - 1) / SUM_ALIGN * SUM_ALIGN;
}

/* A chunk's total: its lanes, pairwise in a fixed tree. */
static inline double sum_lanes(const double *l) {
    double t[SUM_LANES];
    for (int i = 0; i < SUM_LANES; i++) t[i] = l[i];
    for (int w = SUM_LANES / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) t[i] += t[i + w];
    return t[0];
}

/* The sum of n contiguous elements of dtype dt (TG_F32, TG_F64) in this
 * order, before the rounding to dt; on the pool when n is large. (reduce.c) */
double tg__sum_flat(int dt, const void *src, int64_t n);

/* The sum of the chunk totals part[0..nc), in chunk order. */
static inline double sum_parts(const double *part, int64_t nc) {
    double s = 0;
    for (int64_t c = 0; c < nc; c++) s += part[c];
    return s;
}

/* fn(ctx, lo, hi) over the chunks [0, nc) of a sum over n elements in
 * chunks of `chunk`: on the pool, in pieces of whole chunks, when n is
 * large enough to pay for waking threads (tg__elementwise's rule). */
static inline void sum_chunks_run(int64_t n, int64_t chunk, tg_range_fn fn, void *ctx) {
    int64_t nc = (n + chunk - 1) / chunk;
    if (n < 2 * TG_GRAIN)
        fn(ctx, 0, nc);
    else
        tg__parallel_for(nc, TG_GRAIN / chunk > 1 ? TG_GRAIN / chunk : 1, fn, ctx);
}

#endif /* TG_SUM_ORDER_H */
