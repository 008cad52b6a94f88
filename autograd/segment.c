/* segment.c - recomputed segments (tg_segment.h).
 *
 *   op       out                               backward
 *   segment  the outputs of fn, packed flat    rerun fn recorded from the
 *            (one record; each output is a     same inputs (and rng state),
 *            slice of it, reshaped)            seed its outputs with the
 *                                              record's gradient, sweep
 *                                              the new records, free them
 *
 * The forward runs fn with recording off, copies its outputs aside, rolls
 * the tape back to where it stood (tg__rollback: the intermediates are
 * gone) and records the segment. Parameters are found while fn runs: the
 * tape's serial is flipped, so each parameter fn uses misses its cached
 * proxy and makes a new one, which tells us who it is; the proxies are
 * then put back as they were (and made anew, before the segment's record,
 * for parameters the pass had not used yet), so that the rerun reaches the
 * same proxy records the rest of the pass uses.
 *
 * The backward runs inside the numeric sweep (backward.c). Before the
 * rerun every record older than it that may receive a gradient (the
 * inputs, the parameters' proxies) gets its gradient buffer, so that
 * rolling the rerun back frees nothing still in use.
 */
#include "tg_sweep.h"
#include "op_common.h"
#include "tg_segment.h"

#include <stdlib.h>

typedef struct seg {
    tg_segment_fn fn;
    void *ctx;
    tg_rng *rng;
    tg_rng rng0;                       /* rng's state when the forward ran */
    int nout, nparam;
    tg_tensor **params;                /* parameter records fn uses (arena) */
    int8_t rank[TG_SEGMENT_MAX_IO];
    int64_t off[TG_SEGMENT_MAX_IO + 1];/* output k is data[off[k], off[k+1]) */
    int64_t shape[TG_SEGMENT_MAX_IO][TG_MAX_RANK];
} seg;

/* Checks fn's outputs: on the tape (or parameters), float, one dtype.
 * Sets dt; false with the error recorded. */
static bool check_outputs(tg_tape *tape, int nout, tg_tensor **o, int *dt) {
    char b[160];
    for (int k = 0; k < nout; k++) {
        tg_half *x;
        tg_tensor *r = tg__live_h(o[k], &x);
        if (x && tg__half_tape(x) == tape) { /* scalar code's result: read through a PROMOTE */
            tg_tape *tp = tape;
            r = tg__operand_req(&tp, o[k], "segment", k);
            if (!r) return false;
            o[k] = tg__handle(r);
        }
        if (tape->status != TG_OK) return false;
        if (!r || (!(r->flags & TGF_PARAM) && r->tape != tape))
            return tg__fail(tape, TG_ERR_NULL, "segment",
                            "output %d of the function is %s", k + 1,
                            !o[k] ? "NULL" : r ? "on another tape" : "stale"), false;
        if (k == 0) *dt = r->dtype;
        if (!tg__is_float(r->dtype) || r->dtype != *dt)
            return tg__fail(tape, TG_ERR_DTYPE, "segment",
                            "output %d is %s %s; the outputs must be float tensors of one dtype "
                            "(output 1 is %s)", k + 1, tg_dtype_name((tg_dtype)r->dtype),
                            tg__shape_str(b, sizeof b, r->rank, r->shape),
                            tg_dtype_name((tg_dtype)*dt)), false;
    }
    return true;
}

/* The parameters whose proxies fn made (proxies[n0..)): put the cache back
 * (to the proxy the pass had, or none) and list them in ps; returns how
 * many (a parameter freed meanwhile is let go, as a reset would). */
static int take_params(tg_tape *tape, int n0, tg_tensor **ps) {
    int np = 0;
    for (int i = n0; i < tape->nproxy; i++) {
        tg_tensor *p = tape->proxies[i]->u.param;
        tg_param_ext *x = p->small.pext;
        x->ptape = NULL;
        for (int j = 0; j < n0; j++) {
            if (tape->proxies[j]->u.param != p) continue;
            x->ptape = tape, x->pserial = tape->serial, x->pgen = tape->gen;
            x->proxy = tape->proxies[j];
        }
        if (--x->live == 0 && x->dying) {
            tg_param_free(p);
            continue;
        }
        ps[np++] = p;
    }
    tape->nproxy = n0;
    return np;
}

/* Gives back everything made since m (inspect's names and hooks too). */
static void give_back(tg_tape *tape, const tg_mark *m) {
    if (tape->ext) tg__inspect_forget_since(tape, m);
    tg__rollback(tape, m);
}

/* With recording off: fn, plainly. */
static tg_status run_plain(tg_tape *tape, tg_segment_fn fn, void *ctx, int nin,
                           tg_tensor **x, int nout, tg_tensor **out) {
    tg_tensor *h[TG_SEGMENT_MAX_IO], *o[TG_SEGMENT_MAX_IO] = {0};
    for (int i = 0; i < nin; i++) h[i] = tg__handle(x[i]);
    fn(ctx, h, o);
    int dt;
    if (!check_outputs(tape, nout, o, &dt)) return tape->status;
    for (int k = 0; k < nout; k++) out[k] = o[k];
    return TG_OK;
}

/* The segment's record from fn's outputs o (copied first: the rollback
 * frees them) and the parameters ps; writes the outputs' handles to out. */
static tg_status record(tg_tape *tape, const tg_mark *m, seg *sg, int nin, tg_tensor **x,
                        tg_tensor **o, int dt, int np, tg_tensor **ps, tg_tensor **out) {
    int nout = sg->nout;
    sg->off[0] = 0;
    for (int k = 0; k < nout; k++) {
        const tg_tensor *r = tg__rec(o[k]);
        sg->rank[k] = (int8_t)r->rank;
        for (int d = 0; d < r->rank; d++) sg->shape[k][d] = r->shape[d];
        if (!tg__add_ok(sg->off[k], tg__numel(r), &sg->off[k + 1]))
            return tg__fail(tape, TG_ERR_OVERFLOW, "segment", "the outputs are too large"),
                   tape->status;
    }
    size_t es = tg__esize(dt), bytes = (size_t)sg->off[nout] * es;
    char *keep = tg__malloc(bytes ? bytes : 1);
    if (!keep) {
        give_back(tape, m);
        return tg__fail(tape, TG_ERR_NOMEM, "segment", "out of memory keeping the outputs"),
               tape->status;
    }
    for (int k = 0; k < nout; k++)
        memcpy(keep + (size_t)sg->off[k] * es, tg__rec(o[k])->data,
               (size_t)(sg->off[k + 1] - sg->off[k]) * es);
    give_back(tape, m);
    tg_tensor *s = NULL;
    bool ok = true;
    /* proxies, before the segment's record, of the parameters new to the pass */
    for (int i = 0; i < np && ok; i++) {
        tg_tape *tp = tape;
        ok = tg__operand(&tp, ps[i], "segment", i) != NULL;
    }
    tg_auxin *ax = ok ? tg__aux_new(tape, nin, x, sizeof *sg, "segment") : NULL;
    sg->params = ax && np ? tg__arena(tape, (size_t)np * sizeof *ps, "segment") : NULL;
    if (ax && (sg->params || !np)) {
        sg->nparam = np;
        for (int i = 0; i < np; i++) sg->params[i] = ps[i];
        *(seg *)tg__aux_ext(ax) = *sg;
        s = tg__out(tape, TG_OP_SEGMENT, dt, 1, &sg->off[nout], NULL, NULL, NULL);
    }
    if (s) {
        memcpy(s->data, keep, bytes);
        s->u.aux = ax;
        tg__set_req(s, nin, x);
        for (int i = 0; i < np; i++)
            if (ps[i]->flags & TGF_REQ) s->flags |= TGF_REQ;
    }
    tg__free(keep);
    if (!s) return tape->status;
    tg_tensor *h = tg__handle(s), *res[TG_SEGMENT_MAX_IO];
    for (int k = 0; k < nout; k++) {
        res[k] = tg_reshape(tg_slice(h, 0, sg->off[k], sg->off[k + 1], 1), sg->rank[k],
                            sg->shape[k]);
        if (!res[k]) return tape->status;
    }
    for (int k = 0; k < nout; k++) out[k] = res[k];
    return TG_OK;
}

tg_status tg_segment(tg_segment_fn fn, void *ctx, int nin, tg_tensor *const *in, int nout,
                     tg_tensor **out, tg_rng *rng) {
    int nc = nin < TG_SEGMENT_MAX_IO ? nin : TG_SEGMENT_MAX_IO;
    tg_tensor *x[TG_SEGMENT_MAX_IO], *x0[TG_SEGMENT_MAX_IO];
    for (int i = 0; in && i < nc; i++) x[i] = x0[i] = in[i]; /* first: in may be out */
    if (out)
        for (int k = 0; k < nout && k < TG_SEGMENT_MAX_IO; k++) out[k] = NULL;
    if (nin < 1 || !in) return TG_ERR_NULL;
    tg_tape *tape = tg__check("segment", nc, x, false);
    if (!tape) {
        for (int i = 0; i < nc; i++) { /* where the error went, if anywhere */
            const tg_tape *tp = tg__tape_of(x0[i]); /* NULL for NULL and parameters */
            if (tp) return tp->status;
        }
        return TG_ERR_NULL;
    }
    if (!fn || !out)
        return tg__fail(tape, TG_ERR_NULL, "segment", "%s is NULL", fn ? "out" : "fn"),
               tape->status;
    if (nin > TG_SEGMENT_MAX_IO || nout < 1 || nout > TG_SEGMENT_MAX_IO)
        return tg__fail(tape, TG_ERR_ARG, "segment",
                        "%d inputs and %d outputs; a segment has 1 to %d of each", nin, nout,
                        TG_SEGMENT_MAX_IO),
               tape->status;
    if (!tape->grad_enabled) return run_plain(tape, fn, ctx, nin, x, nout, out);

    seg sg = {.fn = fn, .ctx = ctx, .rng = rng, .nout = nout};
    if (rng) sg.rng0 = *rng;
    tg_mark m;
    tg__mark(tape, &m);
    int n0 = tape->nproxy;
    uint64_t serial = tape->serial;
    tg_tensor *h[TG_SEGMENT_MAX_IO], *o[TG_SEGMENT_MAX_IO] = {0};
    for (int i = 0; i < nin; i++) h[i] = tg__handle(x[i]);
    tape->serial = serial ^ ((uint64_t)1 << 63); /* every parameter misses its proxy */
    tape->grad_enabled = false;
    fn(ctx, h, o);
    tape->grad_enabled = true;
    tape->serial = serial;
    tg_tensor **ps = NULL;
    int np = 0;
    if (tape->nproxy > n0) {
        ps = tg__malloc((size_t)(tape->nproxy - n0) * sizeof *ps);
        if (!ps) tg__fail(tape, TG_ERR_NOMEM, "segment", "out of memory");
        else np = take_params(tape, n0, ps);
    }
    int dt = TG_F64;
    tg_status st = tape->status;
    if (st == TG_OK && check_outputs(tape, nout, o, &dt))
        st = record(tape, &m, &sg, nin, x, o, dt, np, ps, out);
    else
        st = tape->status;
    tg__free(ps); /* NULL: out of memory above; the proxies stay listed till the reset */
    return st;
}

/* The sweep reached the segment with its complete gradient: rerun, sweep,
 * free. */
bool tg__bw_segment(tg_tensor *s) {
    tg_tape *tape = s->tape;
    tg_auxin *ax = s->u.aux;
    seg *sg = tg__aux_ext(ax);
    for (int i = 0; i < ax->n; i++)
        if ((ax->in[i]->flags & TGF_REQ) && !tg__gacc(ax->in[i])) return false;
    for (int i = 0; i < sg->nparam; i++) {
        tg_tape *tp = tape;
        tg_tensor *p = tg__operand(&tp, sg->params[i], "segment", i);
        if (!p || ((p->flags & TGF_REQ) && !tg__gacc(p))) return false;
    }
    tg_mark m;
    tg__mark(tape, &m);
    tg_rng now;
    if (sg->rng) now = *sg->rng, *sg->rng = sg->rng0;
    tg_tensor *h[TG_SEGMENT_MAX_IO], *o[TG_SEGMENT_MAX_IO] = {0};
    for (int i = 0; i < ax->n; i++) h[i] = tg__handle(ax->in[i]);
    bool was = tape->grad_enabled;
    tape->grad_enabled = true;
    sg->fn(sg->ctx, h, o);
    tape->grad_enabled = was;
    if (sg->rng) *sg->rng = now;
    int dt;
    bool ok = tape->status == TG_OK && check_outputs(tape, sg->nout, o, &dt);
    for (int k = 0; ok && k < sg->nout; k++) {
        tg_tape *tp = tape;
        tg_tensor *r = tg__operand(&tp, o[k], "segment", k);
        int64_t n = sg->off[k + 1] - sg->off[k];
        if (!r || r->dtype != s->dtype || r->rank != sg->rank[k] ||
            (r->rank && memcmp(r->shape, sg->shape[k], (size_t)r->rank * sizeof(int64_t)))) {
            char b0[160], b1[160];
            ok = tg__fail(tape, TG_ERR_STATE, "segment",
                          "rerun for the backward, the function gave output %d of shape %s; "
                          "the forward gave %s (it must make the same ops each time)", k + 1,
                          r ? tg__shape_str(b0, sizeof b0, r->rank, r->shape) : "?",
                          tg__shape_str(b1, sizeof b1, sg->rank[k], sg->shape[k])) != NULL;
            break;
        }
        if (!(r->flags & TGF_REQ)) continue;
        void *g = tg__gacc(r);
        if (!g) ok = false;
        else tg__add_into(s->dtype, g, (char *)s->grad + (size_t)sg->off[k] * tg__esize(s->dtype), n);
    }
    if (ok) ok = tg__sweep_since(tape, &m);
    give_back(tape, &m);
    return ok;
}

tg_tensor *tg__vjp_segment(tg_tensor *s, tg_tensor *g, int i) {
    (void)g, (void)i;
    return tg__fail(s->tape, TG_ERR_STATE, "segment",
                    "a create-graph sweep (TG_CREATE_GRAPH, higher derivatives) cannot pass "
                    "through a recomputed segment (tg_segment): run its function directly");
}
