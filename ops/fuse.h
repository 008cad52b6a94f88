/* fuse.h - fused elementwise chains (ops/ only; the switch is
 * tg_tape_set_fusion of tg_core.h, the model HACKING.md's "Fused
 * elementwise chains").
 *
 * An elementwise op (a row of tg_ewlist.h's TG_UNARY_OPS, or of
 * TG_BINARY_OPS on two operands of one shape) on f32/f64 tensors of at
 * least the tape's fuse_min elements records lazily: a record as usual,
 * flagged TGF_LAZY, with data NULL. Forcing one (tg__fuse_force, through
 * tg__operand: whatever reads its data) evaluates the chain of lazy records
 * behind it, its group, in blocks of TG_FUSE_BLOCK elements held in a
 * per-thread scratch, and writes only its own data. A full sum of a lazy
 * record sums it block by block (tg__fuse_sum). Backward of a forced lazy
 * record, or of such a sum, recomputes the group block by block and runs
 * the rows' backward expressions in reverse record order, adding only into
 * the gradients of the group's boundary inputs (records holding data).
 */
#ifndef TG_FUSE_H
#define TG_FUSE_H

#include "op_common.h"

/* A lazy record that an op reads through without forcing it (max_pool2d
 * of a relu: pool.c's relu_under), flags bit 4 (an op's own: no
 * elementwise op keeps another there). Every other reader forces it, the
 * lazy ones too (tg__fuse_admit, the fused sum), so that while it stays
 * unforced that op's backward is the only way into its gradient. */
enum { TGF_PINNED = 16 };
static inline bool tg__pinned(const tg_tensor *t) {
    return tg__unready(t) && (t->flags & TGF_PINNED);
}

/* The most lazy records in one group (a longer chain forces a link and
 * starts a new group there), and the elements of one block. */
enum { TG_FUSE_CAP = 32, TG_FUSE_BLOCK = 512 };

/* Whether an elementwise op on in[0..n) (checked by tg__check_lazy), whose
 * output has `numel` elements and, for n == 2, operands of one shape,
 * records lazily: 1 yes; 0 no, and its inputs now hold data; -1 on an
 * error (recorded). `same` says the two operands have one shape. */
int tg__fuse_admit(tg_tape *tape, int n, tg_tensor **in, bool same);

/* The lazy record of elementwise op `op` on a (and b, binary), shaped like
 * a; NULL on OOM (recorded). The caller sets its constants (u.c, u.aux). */
tg_tensor *tg__fuse_out(tg_tape *tape, int op, tg_tensor *a, tg_tensor *b);

/* out's data (one element) = the sum of every element of lazy a, in
 * sum_order.h's order (the unfused sum's: chunks of lanes, the chunks on
 * the pool); marks out TGF_LAZY. False after an error. */
bool tg__fuse_sum(tg_tensor *out, tg_tensor *a);

/* The numeric backward of record r when it runs fused (a forced lazy
 * record with a lazy input, or a sum over a lazy record): 1 done, 0 not
 * fused (run the op's own backward), -1 on an error (recorded). */
int tg__fuse_bw(tg_tensor *r);

#endif /* TG_FUSE_H */
