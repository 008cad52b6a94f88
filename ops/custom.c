/* custom.c - custom ops (tg_custom.h): a user forward and backward.
 *
 *   op      out                          d/d in[i]
 *   custom  def->forward(in) (raw)       fast: def->backward adds g-weighted
 *                                        derivatives into raw buffers;
 *                                        graph: def->graph_backward(i), ops
 *
 * The record: op TG_OP_CUSTOM, u.aux = the tg_auxin of the inputs, then the
 * tg_custom_call (tg__aux_new), which keeps def, ctx and the saved values.
 */
#include "tg_internal.h"
#include "op_common.h"
#include "tg_custom.h"

#include <stdio.h>

struct tg_custom_call {
    const tg_custom_def *def;
    void *ctx;
    void *saved;
    size_t nsaved;
    tg_tape *tape;
    bool in_forward;
};

void *tg_custom_ctx(const tg_custom_call *call) { return call ? call->ctx : NULL; }

void *tg_custom_save(tg_custom_call *call, size_t bytes) {
    if (!call) return NULL;
    if (!call->in_forward)
        return tg__fail(call->tape, TG_ERR_STATE, call->def->name,
                        "tg_custom_save is for the forward only");
    void *p = tg__arena(call->tape, bytes ? bytes : 1, call->def->name);
    if (!p) return NULL;
    call->saved = p;
    call->nsaved = bytes;
    return p;
}

void *tg_custom_saved(const tg_custom_call *call, size_t *bytes) {
    if (bytes) *bytes = call ? call->nsaved : 0;
    return call ? call->saved : NULL;
}

bool tg_custom_fail(tg_custom_call *call, const char *fmt, ...) {
    if (!call) return false;
    va_list ap;
    va_start(ap, fmt);
    tg__failv(call->tape, TG_ERR_ARG, call->def->name, fmt, ap);
    va_end(ap);
    return false;
}

/* A record as a raw buffer (data: the given pointer). */
static tg_buf buf_of(const tg_tensor *t, void *data) {
    return (tg_buf){(tg_dtype)t->dtype, t->rank, t->rank ? t->shape : NULL, tg__numel(t), data};
}

tg_tensor *tg_custom(const tg_custom_def *def, void *ctx, int n, tg_tensor *const *inputs) {
    if (n < 1 || !inputs) return NULL;
    const char *name = def && def->name ? def->name : "custom";
    tg_tensor *in[TG_CUSTOM_MAX_INPUTS];
    int nc = n < TG_CUSTOM_MAX_INPUTS ? n : TG_CUSTOM_MAX_INPUTS;
    for (int i = 0; i < nc; i++) in[i] = inputs[i];
    tg_tape *tape = tg__check(name, nc, in, true);
    if (!tape) return NULL;
    if (n > TG_CUSTOM_MAX_INPUTS)
        return tg__fail(tape, TG_ERR_ARG, name, "%d inputs; a custom op takes 1 to %d", n,
                        TG_CUSTOM_MAX_INPUTS);
    if (!def || !def->name || !def->forward)
        return tg__fail(tape, TG_ERR_NULL, name,
                        def ? "the tg_custom_def has no name or no forward" : "def is NULL");
    tg_buf b[TG_CUSTOM_MAX_INPUTS];
    for (int i = 0; i < n; i++) b[i] = buf_of(in[i], in[i]->data);
    tg_auxin *ax = tg__aux_new(tape, n, in, sizeof(tg_custom_call), name);
    if (!ax) return NULL;
    tg_custom_call *call = tg__aux_ext(ax);
    *call = (tg_custom_call){def, ctx, NULL, 0, tape, false};
    int rank = in[0]->rank;
    int64_t shape[TG_MAX_RANK] = {0};
    for (int d = 0; d < rank; d++) shape[d] = in[0]->shape[d];
    if (def->shape) {
        if (!def->shape(call, n, b, &rank, shape))
            return tape->status != TG_OK ? NULL
                                         : tg__fail(tape, TG_ERR_SHAPE, name,
                                                    "the shape callback refused the inputs");
        if (rank < 0 || rank > TG_MAX_RANK)
            return tg__fail(tape, TG_ERR_SHAPE, name,
                            "the shape callback gave rank %d (0..%d allowed)", rank, TG_MAX_RANK);
    }
    tg_tensor *out = tg__out(tape, TG_OP_CUSTOM, in[0]->dtype, rank, shape, NULL, NULL, NULL);
    if (!out) return NULL;
    out->u.aux = ax;
    if (def->backward || def->graph_backward) tg__set_req(out, n, in);
    tg_buf ob = buf_of(out, out->data);
    call->in_forward = true;
    bool ok = def->forward(call, n, b, &ob);
    call->in_forward = false;
    if (!ok || tape->status != TG_OK) {
        char s[160];
        return tg__fail(tape, TG_ERR_ARG, name, "the forward failed (output %s)",
                        tg__shape_str(s, sizeof s, out->rank, out->shape));
    }
    return tg__handle(out);
}

/* Fast backward: the user's raw one, or the graph one run unrecorded. */
bool tg__bw_custom(tg_tensor *o) {
    tg_auxin *ax = o->u.aux;
    tg_custom_call *call = tg__aux_ext(ax);
    const tg_custom_def *def = call->def;
    if (!def->backward) return tg__bw_vjp(o);
    int n = ax->n;
    tg_buf in[TG_CUSTOM_MAX_INPUTS], gin[TG_CUSTOM_MAX_INPUTS];
    for (int i = 0; i < n; i++) {
        tg_tensor *x = ax->in[i];
        void *g = tg__gacc(x);
        if (!g && (x->flags & TGF_REQ)) return false; /* out of memory, recorded */
        in[i] = buf_of(x, x->data);
        gin[i] = buf_of(x, g);
    }
    tg_buf ob = buf_of(o, o->data), gb = buf_of(o, o->grad);
    if (!def->backward(call, n, in, &ob, &gb, gin) || o->tape->status != TG_OK)
        return tg__fail(o->tape, TG_ERR_ARG, def->name, "the backward failed"), false;
    return true;
}

/* Graph backward: the user's, checked to give input i's shape and dtype. */
tg_tensor *tg__vjp_custom(tg_tensor *o, tg_tensor *g, int i) {
    tg_auxin *ax = o->u.aux;
    tg_custom_call *call = tg__aux_ext(ax);
    const tg_custom_def *def = call->def;
    tg_tape *tape = o->tape;
    if (!def->graph_backward)
        return tg__fail(tape, TG_ERR_STATE, def->name,
                        "has no graph_backward, which a create-graph sweep (TG_CREATE_GRAPH, "
                        "higher derivatives) needs");
    tg_tensor *in[TG_CUSTOM_MAX_INPUTS];
    for (int k = 0; k < ax->n; k++) in[k] = tg__handle(ax->in[k]);
    tg_tensor *c = def->graph_backward(call, i, in, tg__handle(o), tg__handle(g));
    if (tape->status != TG_OK) return NULL;
    tg_tensor *cr = tg__live(c), *x = ax->in[i];
    char b0[160], b1[160];
    if (!cr || cr->tape != tape || cr->dtype != x->dtype || !tg__same_shape(cr, x))
        return tg__fail(tape, TG_ERR_SHAPE, def->name,
                        "graph_backward for input %d gave %s %s; input %d is %s %s", i + 1,
                        cr ? tg_dtype_name((tg_dtype)cr->dtype) : "NULL",
                        cr ? tg__shape_str(b0, sizeof b0, cr->rank, cr->shape) : "",
                        i + 1, tg_dtype_name((tg_dtype)x->dtype),
                        tg__shape_str(b1, sizeof b1, x->rank, x->shape));
    return c;
}
