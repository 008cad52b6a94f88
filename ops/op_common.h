/* op_common.h - what several op families share (ops/ only, users never see
 * it): how a record packs an op's arguments besides in0 and u, and small
 * helpers (the f32 and f64 cases of a loop, the check of one input, the
 * sizes around an axis, a checked working buffer).
 *
 * The record (tg_engine.h) has spare room for an op's own arguments:
 *   flags bits 4..6   the op's own bits (bits 0..3 and 7 are TGF_*). Ops that
 *                     keep an axis use bits 4..6 (below); matmul keeps its
 *                     transposes in bits 4 and 5 (linalg.c).
 *   u.i               a small integer: see the family (reduce.h: axes mask
 *                     and keepdim; shape.c: transpose's and permute's axes;
 *                     softmax.c: the axis)
 *   u.aux             the op's extras in the arena; an op that lists its
 *                     inputs there (a tg_auxin) keeps its own struct after
 *                     them (tg__aux_new, below)
 */
#ifndef TG_OP_COMMON_H
#define TG_OP_COMMON_H

#include "tg_internal.h"

/* ------------------------------------------------ an axis in flags 4..6 */

/* index_select, index_add, gather, scatter_add (index.c), concat, slice
 * and slice_backward (slice.c) keep their axis (0..7) in flags bits 4..6. */
enum { TG_FLAG_AXIS_SHIFT = 4, TG_FLAG_AXIS_MASK = 7 };

static inline void tg__flag_axis_set(tg_tensor *t, int axis) {
    t->flags |= (uint8_t)(axis << TG_FLAG_AXIS_SHIFT);
}

static inline int tg__flag_axis(const tg_tensor *t) {
    return (t->flags >> TG_FLAG_AXIS_SHIFT) & TG_FLAG_AXIS_MASK;
}

/* ------------------------------------------ inputs, then extras, in aux */

/* Bytes of a tg_auxin listing n inputs, rounded up to 8 so that the op's
 * own struct can follow it in the same block. */
static inline size_t tg__auxin_size(int n) {
    return (sizeof(tg_auxin) + (size_t)n * sizeof(tg_tensor *) + 7) & ~(size_t)7;
}

/* A new aux block: the tg_auxin of in[0..n), then ext_size bytes for the
 * op (uninitialised; at tg__aux_ext). NULL on OOM (recorded). */
static inline tg_auxin *tg__aux_new(tg_tape *tape, int n, tg_tensor *const *in, size_t ext_size,
                                    const char *op) {
    tg_auxin *ax = tg__arena(tape, tg__auxin_size(n) + ext_size, op);
    if (!ax) return NULL;
    ax->n = n;
    for (int i = 0; i < n; i++) ax->in[i] = tg__rec(in[i]); /* records, never handles */
    return ax;
}

/* The op's struct after the inputs of a block made by tg__aux_new. */
static inline void *tg__aux_ext(const tg_auxin *ax) {
    return (char *)ax + tg__auxin_size(ax->n);
}

/* ------------------------------------------------------------- helpers */

/* M(T) with T the C type of the float dtype dt (float or double): the f32
 * and f64 loops of an op written once, as a macro of T. */
#define TG_FLOAT_CASES(dt, M)                                                  \
    do {                                                                       \
        if ((dt) == TG_F32) M(float);                                          \
        else M(double);                                                        \
    } while (0)

/* tg__check for an op of one input: *a becomes the checked input (a
 * parameter becomes its proxy). Returns the tape or NULL. */
static inline tg_tape *tg__check1(const char *op, tg_tensor **a, bool need_float) {
    tg_tensor *in[1] = {*a};
    tg_tape *tape = tg__check(op, 1, in, need_float);
    if (tape) *a = in[0];
    return tape;
}

/* Sizes around `axis` of t: outer = product of the axes before, inner =
 * product of those after (1 and 1 at rank 0). A tensor with no elements
 * gets 0 and 0, whatever its other axes are ([0, 2^62, 2] around axis 0
 * would have an inner of 2^63): there is nothing to walk, and no product
 * of these sizes with an axis length overflows. */
static inline void tg__around(const tg_tensor *t, int axis, int64_t *outer, int64_t *inner) {
    if (tg__numel(t) == 0) {
        *outer = *inner = 0;
        return;
    }
    int64_t o = 1, i = 1;
    for (int d = 0; d < axis; d++) o *= t->shape[d];
    for (int d = axis + 1; d < t->rank; d++) i *= t->shape[d];
    *outer = o, *inner = i;
}

/* n elements of `size` bytes each from the tape's arena, for an op's
 * working buffers: NULL, with an error naming `op` recorded, when n * size
 * does not fit in size_t (TG_ERR_OVERFLOW) or memory runs out. */
static inline void *tg__arena_n(tg_tape *tape, int64_t n, size_t size, const char *op) {
    size_t bytes;
    if (n < 0 || __builtin_mul_overflow((size_t)n, size, &bytes))
        return tg__fail(tape, TG_ERR_OVERFLOW, op,
                        "a working buffer of %lld elements of %zu bytes is larger than memory",
                        (long long)n, size);
    return tg__arena(tape, bytes, op);
}

#endif /* TG_OP_COMMON_H */
