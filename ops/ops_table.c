/* ops_table.c - the op descriptors, generated from tg_oplist.h, and the
 * generic fast backward of ops that have none of their own. */
#include "tg_internal.h"

const tg_op_desc tg__ops[TG_OP_COUNT] = {
    /* the core's own ops: leaves and parameter proxies have no inputs */
    [TG_OP_LEAF] = {"leaf", 0, tg__bw_vjp, tg__vjp_none},
    [TG_OP_PROXY] = {"param", 0, tg__bw_vjp, tg__vjp_none},
    /* a full record standing for a half one (arith.c) */
    [TG_OP_PROMOTE] = {"promote", 1, tg__bw_promote, tg__vjp_promote},
#define TG_OP(id, name, nin, bw, vjp) [TG_OP_##id] = {name, nin, tg__bw_##bw, tg__vjp_##vjp},
#include "tg_oplist.h"
#undef TG_OP
};

/* The fast backward of ops that have none: their graph backward, run with
 * recording off (the numeric sweep turns it off), added into raw buffers. */
bool tg__bw_vjp(tg_tensor *r) {
    const tg_op_desc *d = &tg__ops[r->op];
    tg_tensor *in[16];
    int n = tg__inputs(r, in);
    tg_tensor *g = tg__wrap(r->tape, r->dtype, r->rank, r->shape, r->grad);
    if (!g) return false;
    for (int i = 0; i < n; i++) {
        if (!(in[i]->flags & TGF_REQ)) continue;
        tg_tensor *c = tg__rec(d->vjp(r, g, i)); /* a handle: its record */
        void *dst = c ? tg__gacc(in[i]) : NULL;
        if (!dst) return false;
        tg__add_into(in[i]->dtype, dst, c->data, tg__numel(in[i]));
    }
    return true;
}

tg_tensor *tg__vjp_none(tg_tensor *out, tg_tensor *g, int i) {
    (void)g, (void)i;
    return tg__fail(out->tape, TG_ERR_STATE, tg__ops[out->op].name, "has no inputs to differentiate");
}
