/* tg_sweep.h - what the tools above the ops share: the reverse sweep
 * (backward.c), higher order (higher.c), gradcheck.c and inspection.
 * Internal; sits on the ops (ops/tg_internal.h) and the core.
 */
#ifndef TG_SWEEP_H
#define TG_SWEEP_H

#include "tg_internal.h"
#include "tg_autograd.h"
#include "tg_inspect.h"

/* ------------------------------------------ inspect hooks (inspect_sweep.c) */
/* The sweep calls these only while tape->ext is set, so a tape without
 * names, hooks, trace or anomaly mode pays one branch per sweep.
 * begin: at the start of a sweep from `out` (anomaly: checks the forward
 * outputs); returns whether each record must be inspected. pre: before a
 * record passes its complete gradient on (hooks, trace; `who` is the handle
 * a hook is given for it, which for a forwarded half is the half's); post: after
 * (anomaly check of the gradients it gave). false = error recorded. */
bool tg__inspect_begin(tg_tape *tape, tg_tensor *out);
bool tg__inspect_pre(tg_tape *tape, tg_tensor *r, tg_tensor *who);
bool tg__inspect_post(tg_tape *tape, tg_tensor *r);

/* Forgets the names and hooks of the records made since m (inspect.c), before
 * a rollback to m frees them (their slots will hold other tensors). */
void tg__inspect_forget_since(tg_tape *tape, const tg_mark *m);

/* -------------------------------------------- segments (segment.c, backward.c) */
/* The numeric sweep of the records made since mark m (newest first), from
 * inside a numeric sweep (a segment's backward, autograd/segment.c): each
 * record with a gradient passes it to its inputs, records older than m
 * included; leaves made since m keep nothing. false = error recorded. */
bool tg__sweep_since(tg_tape *tape, const tg_mark *m);

#endif /* TG_SWEEP_H */
