/* gradbuf.c - working gradient buffers of a numeric sweep.
 *
 * The reverse sweep (autograd/backward.c) and every op's fast backward
 * (ops/) add into these: tg__gacc gives an input's buffer, zeroed on first
 * use, in the tape's data arena; a 0-d tensor keeps its gradient inline in
 * its record (g0), so scalar code touches no arena.
 */
#include "tg_engine.h"

/* A parameter's proxy in a sweep of tg_backward: the parameter's stored
 * gradient itself becomes the proxy's working buffer, which the backward
 * then adds into (never writes over: it holds what earlier passes and the
 * user left there, zeros after tg_zero_grad), and finish_leaf (backward.c)
 * has nothing to add. For an MLP's weight that saves a buffer of the
 * weight's size and a pass that reads two and writes one. The values are
 * those of the stored gradient + the proxy's gradient, as before, but for
 * the order of the additions into it. Not when the sweep keeps no
 * gradients (tg_grad) or builds a graph (tape->grad_alias off), nor for a
 * parameter with a gradient hook (it sees the proxy's gradient alone), nor
 * when the gradient is itself an operand on this tape in this pass (its
 * values must stay those of the forward until the sweep has read them),
 * nor at rank 0 (inline g0). */
static void *alias_stored(tg_tensor *t) {
    if (t->op != TG_OP_PROXY || !t->tape->grad_alias) return NULL;
    tg_tensor *p = t->u.param;
    if (!(p->flags & TGF_PARAM) || p->small.pext->hook || !p->small.pext->grad_rec) return NULL;
    const tg_param_ext *ge = p->small.pext->grad_rec->small.pext;
    const tg_tape *tape = t->tape;
    if (ge->ptape == tape && ge->pserial == tape->serial && ge->pgen == tape->gen) return NULL;
    return t->grad = p->small.pext->gstore;
}

void *tg__promote_grad(tg_tensor *p, bool *fresh) {
    tg_tensor *in = p->in0;
    if (tg__is_half(in)) {
        tg_half *x = (tg_half *)in;
        if (!(x->flags & THF_FWD)) {
            *fresh = !(x->flags & THF_G);
            x->flags |= THF_G;
            return p->grad = &x->g;
        }
        in = x->fwd;
    }
    *fresh = !in->grad;
    if (!in->grad) in->grad = &in->g0;
    return p->grad = in->grad;
}

/* The first gradient buffer of t in this sweep, zeroed (tg__gacc calls
 * this only when t requires grad and has none yet); or the stored
 * gradient itself (alias_stored), to add into as well. */
void *tg__gacc_new(tg_tensor *t) {
    if (t->op == TG_OP_PROMOTE) {
        bool fresh;
        double *g = tg__promote_grad(t, &fresh);
        if (fresh) *g = 0;
        return g;
    }
    if (t->rank == 0) {
        t->g0 = 0; /* f32 or f64: 8 zero bytes, inline in the record */
        return t->grad = &t->g0;
    }
    if (alias_stored(t)) return t->grad;
    size_t n = (size_t)tg__numel(t) * tg__esize(t->dtype);
    t->grad = tg__arena(t->tape, n, "backward");
    if (t->grad) memset(t->grad, 0, n);
    return t->grad;
}

void *tg__gacc_new_raw(tg_tensor *t, bool *fresh) {
    if (t->op == TG_OP_PROMOTE) return tg__promote_grad(t, fresh);
    *fresh = false;
    if (t->rank == 0) return t->grad = &t->g0;
    if (alias_stored(t)) return t->grad; /* not fresh: added into */
    size_t n = (size_t)tg__numel(t) * tg__esize(t->dtype);
    t->grad = tg__arena(t->tape, n, "backward");
    *fresh = t->grad != NULL;
    return t->grad;
}

typedef struct add_job {
    int dt;
    void *dst;
    const void *src;
} add_job;

static void add_range(void *ctx, int64_t lo, int64_t hi) {
    const add_job *j = ctx;
    if (j->dt == TG_F32) {
        float *restrict d = (float *)j->dst + lo;
        const float *restrict s = (const float *)j->src + lo;
        for (int64_t i = 0; i < hi - lo; i++) d[i] += s[i];
    } else {
        double *restrict d = (double *)j->dst + lo;
        const double *restrict s = (const double *)j->src + lo;
        for (int64_t i = 0; i < hi - lo; i++) d[i] += s[i];
    }
}

void tg__add_into(int dt, void *dst, const void *src, int64_t n) {
    add_job j = {dt, dst, src};
    tg__elementwise(n, add_range, &j); /* threads only for large n */
}
