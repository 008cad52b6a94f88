/* tg_internal.h - what the ops share and users never see: the op list as
 * an enum, the backward functions it names, and helpers for backwards.
 *
 * The ops sit on the core (autograd/core/tg_engine.h: records, the tape,
 * checks, gradient buffers) and the raw kernels (ops/kernels/). The
 * reverse sweep and the tools above the ops (autograd/: backward.c,
 * higher.c, gradcheck.c, inspect) include this header too.
 */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "tg_engine.h"
#include "tg_ops.h"

/* The op list: one line per op, declared once (see tg_oplist.h). The
 * core's own two ops (TG_OP_LEAF, TG_OP_PROXY) come first. */
enum tg_op {
    TG_OP_LAST_CORE_ = TG_OP_FIRST - 1,
#define TG_OP(id, name, nin, bw, vjp) TG_OP_##id,
#include "tg_oplist.h"
#undef TG_OP
    TG_OP_COUNT
};

/* The core's PROMOTE op (arith.c): its input's gradient += its own. */
bool tg__bw_promote(tg_tensor *r);
tg_tensor *tg__vjp_promote(tg_tensor *out, tg_tensor *g, int i);

/* A record keeps its op in one byte. */
_Static_assert(TG_OP_COUNT <= 256, "the op list outgrew the record's uint8_t op field");

/* Each op's fast and graph backward, named in tg_oplist.h and defined
 * beside the op's forward in its family file. */
#define TG_OP(id, name, nin, bw, vjp)                                          \
    bool tg__bw_##bw(tg_tensor *out);                                          \
    tg_tensor *tg__vjp_##vjp(tg_tensor *out, tg_tensor *g, int i);
#include "tg_oplist.h"
#undef TG_OP
/* The fast backward of an op that has none ("vjp" in tg_oplist.h): its
 * graph backward run unrecorded, added into raw buffers; and the graph
 * backward of ops without inputs (an error). (ops_table.c) */
bool tg__bw_vjp(tg_tensor *out);
tg_tensor *tg__vjp_none(tg_tensor *out, tg_tensor *g, int i);

/* Adds src (shape sshape, rank srank) into dst (shape dshape), summing over
 * the axes where dst is broadcast (dst's shape broadcasts to src's). */
void tg__reduce_into(int dt, void *dst, int drank, const int64_t *dshape, const void *src,
                     int srank, const int64_t *sshape);


/* Graph helpers used by the vjps (all ops, so they record). */
tg_tensor *tg__sum_like(tg_tensor *g, const tg_tensor *like); /* tg_sum_to like's shape */
/* A non-differentiable 0/1 mask of the same shape as a: sign(a) when
 * kind == 0, (a > 0) when kind == 1, (a == 0) when kind == 2. */
tg_tensor *tg__mask(tg_tensor *a, int kind);

#endif /* TG_INTERNAL_H */
