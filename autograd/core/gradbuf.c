/* gradbuf.c - working gradient buffers of a numeric sweep.
 *
 * The reverse sweep (autograd/backward.c) and every op's fast backward
 * (ops/) add into these: tg__gacc gives an input's buffer, zeroed on first
 * use, in the tape's data arena; a 0-d tensor keeps its gradient inline in
 * its record (g0), so scalar code touches no arena.
 */
#include "tg_engine.h"

/* A parameter's proxy in a sweep of tg_backward, when the parameter's
 * stored gradient is all zeros (tg_zero_grad's memset, and nobody took a
 * pointer to it since): the stored gradient itself becomes the proxy's
 * working buffer. The backward then adds (or, tg__gacc_w, writes) straight
 * into it, and finish_leaf (backward.c) has nothing to add: for an MLP's
 * weight that saves a buffer of the weight's size and a pass that reads
 * two and writes one. The values are those of 0 + the proxy's gradient,
 * as before, but for the sign of a zero (0 + -0 is +0). Not when the
 * sweep keeps no gradients (tg_grad) or builds a graph (tape->grad_alias
 * off), nor for a parameter with a gradient hook (it sees the proxy's
 * gradient alone), nor at rank 0 (inline g0). */
static void *alias_stored(tg_tensor *t) {
    if (t->op != TG_OP_PROXY || !t->tape->grad_alias) return NULL;
    tg_tensor *p = t->u.param;
    if (!(p->flags & TGF_PARAM) || p->small.pext->hook || !p->small.pext->grad_rec) return NULL;
    tg_param_ext *ge = p->small.pext->grad_rec->small.pext;
    if (!ge->gzero) return NULL;
    ge->gzero = false; /* a second proxy (another tape) adds as before */
    return t->grad = p->small.pext->gstore;
}

/* The first gradient buffer of t in this sweep, zeroed (tg__gacc calls
 * this only when t requires grad and has none yet). */
void *tg__gacc_new(tg_tensor *t) {
    if (t->rank == 0) {
        t->g0 = 0; /* f32 or f64: 8 zero bytes, inline in the record */
        return t->grad = &t->g0;
    }
    if (alias_stored(t)) return t->grad; /* zeros already */
    size_t n = (size_t)tg__numel(t) * tg__esize(t->dtype);
    t->grad = tg__arena(t->tape, n, "backward");
    if (t->grad) memset(t->grad, 0, n);
    return t->grad;
}

void *tg__gacc_new_raw(tg_tensor *t) {
    if (t->rank == 0) return t->grad = &t->g0;
    if (alias_stored(t)) return t->grad; /* written over: 0 + x is x */
    size_t n = (size_t)tg__numel(t) * tg__esize(t->dtype);
    t->grad = tg__arena(t->tape, n, "backward");
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
