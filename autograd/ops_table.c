/* ops_table.c - the op descriptors, generated from ops/tg_oplist.h. */
#include "tg_internal.h"

const tg_op_desc tg__ops[TG_OP_COUNT] = {
#define TG_OP(id, name, nin, bw, vjp) [TG_OP_##id] = {name, nin, tg__bw_##bw, tg__vjp_##vjp},
#include "tg_oplist.h"
#undef TG_OP
};

/* Nothing in the tape extension yet (names and hooks come with inspect). */
void tg__tape_ext_free(tg_tape *tape);
void tg__tape_ext_free(tg_tape *tape) { (void)tape; }
