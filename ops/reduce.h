/* reduce.h - what the reductions of reduce.c and extrema.c share (ops/
 * only): how a reduction record packs its axes, and the checks, shapes and
 * walk every reduction uses.
 */
#ifndef TG_REDUCE_H
#define TG_REDUCE_H

#include "tg_internal.h"

/* A reduction record (sum, prod, amax, amin, argmax, argmin, logsumexp)
 * keeps in u.i a bit mask of the reduced axes (bit d: axis d of its input,
 * bits 0..7) and keepdim (bit 8). */
enum { RED_AXES_MASK = 255, RED_KEEPDIM = 256 };

static inline int64_t red_code(int64_t mask, bool keepdim) {
    return mask | (keepdim ? RED_KEEPDIM : 0);
}

/* The reduced axes of a reduction record, as a bit mask. */
static inline int64_t red_mask(const tg_tensor *o) { return o->u.i & RED_AXES_MASK; }

/* The keepdim shape of a reduction record: its input's shape with 1s. */
static inline void kept_shape(const tg_tensor *o, int64_t *shape) {
    const tg_tensor *a = o->in0;
    for (int d = 0; d < a->rank; d++) shape[d] = (red_mask(o) >> d) & 1 ? 1 : a->shape[d];
}

/* Validates an axis list (naxes == 0: all) into a bit mask, the kept
 * shape and the output shape. Errors name the op and the shape. */
bool tg__red_axes(tg_tape *tape, const char *op, const tg_tensor *a, int naxes, const int *axes,
                  bool keepdim, int64_t *mask, int64_t *kshape, int *orank, int64_t *oshape);

/* Checks the input and the axes of a reduction (tg__red_axes); sets *a to
 * the resolved input. Returns the tape or NULL. */
tg_tape *tg__red_check(const char *op, tg_tensor **a, int naxes, const int *axes, bool keepdim,
                       int64_t *mask, int64_t *kshape, int *orank, int64_t *oshape);

/* Walks a (contiguous) with the output's offset for each element: BODY
 * sees x (a's element as T), k (a's flat index) and oi (the output's). */
#define RED_WALK(T, a, kshape, ...)                                            \
    do {                                                                       \
        int64_t st_[2][TG_MAX_RANK];                                           \
        tg__strides((a)->rank, (a)->shape, st_[0]);                            \
        tg__bstrides((a)->rank, (kshape), (a)->rank, (a)->shape, st_[1]);      \
        tg_rows it_;                                                           \
        tg__rows_init(&it_, (a)->rank, (a)->shape, 2, st_);                    \
        const T *src_ = (const T *)(a)->data;                                  \
        if (it_.n) do {                                                        \
            for (int64_t j_ = 0; j_ < it_.n; j_++) {                           \
                int64_t k = it_.off[0] + j_, oi = it_.off[1] + j_ * it_.inner[1]; \
                T x = src_[k];                                                 \
                (void)k, (void)oi, (void)x;                                                       \
                __VA_ARGS__                                                    \
            }                                                                  \
        } while (tg__rows_next(&it_));                                         \
    } while (0)

/* A new reduction record of op over mask (u.i as for sum). */
static inline tg_tensor *red_out(tg_tape *tape, int op, int dtype, tg_tensor *a, int64_t mask,
                                 bool keepdim, int orank, const int64_t *oshape) {
    tg_tensor *out = tg__out(tape, op, dtype, orank, oshape, a, NULL, NULL);
    if (out) out->u.i = red_code(mask, keepdim);
    return out;
}

/* A constant of a's dtype and the given shape (data uninitialised). */
static inline tg_tensor *red_const(tg_tensor *like, int rank, const int64_t *shape) {
    return tg__wrap(like->tape, like->dtype, rank, shape, NULL);
}

#endif /* TG_REDUCE_H */
