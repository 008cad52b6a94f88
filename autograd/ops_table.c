/* ops_table.c - the op descriptors, generated from ops/tg_oplist.h. */
#include "tg_internal.h"

const tg_op_desc tg__ops[TG_OP_COUNT] = {
#define TG_OP(id, name, nin, bw, vjp) [TG_OP_##id] = {name, nin, tg__bw_##bw, tg__vjp_##vjp},
#include "tg_oplist.h"
#undef TG_OP
};

/* tg__tape_ext_free (names, hooks, trace, anomaly) is in inspect.c. */
