/* backward.c - the reverse sweep.
 *
 * Records sit in creation order, which is a topological order. A sweep
 * starts at the output's record and walks the slots backwards once: every
 * record that requires grad and has received a gradient passes it to its
 * inputs. No recursion, no sort, no depth limit.
 *
 * Two kinds of sweep share this loop:
 *   numeric - gradients are raw buffers; each op's fast backward adds into
 *             its inputs' buffers (ops without one run their graph backward
 *             with recording off). This is tg_backward and plain tg_grad.
 *   graph   - gradients are tensors; each op's graph backward (vjp) is
 *             recorded on the tape, so the results can be differentiated
 *             again (tg_grad with TG_CREATE_GRAPH).
 */
#include "tg_sweep.h"
#include "scalar0.h" /* the 0-d f64 backward, inline */
#include "fuse.h"     /* fused chains: their backward */

#include <math.h>

/* Where t sits among the records: slab index and position. */
static bool locate(const tg_tape *tape, const tg_tensor *t, int *slab, size_t *pos) {
    for (int s = 0; s <= tape->cur && s < tape->nslab; s++) {
        const tg_tensor *base = tape->slabs[s].slot;
        size_t used = s == tape->cur ? tape->pos : tape->slabs[s].cap;
        if (t >= base && t < base + used) {
            *slab = s;
            *pos = (size_t)(t - base);
            return true;
        }
    }
    return false;
}

/* Visits the slots from (slab, pos) down to the first (group headers
 * skipped): BODY with slot pointer s. */
#define FOR_SLOTS_DOWN(tape, slab, pos, s, BODY)                                     \
    for (int s_ = (slab); s_ >= 0; s_--) {                                           \
        tg_tensor *base_ = (tape)->slabs[s_].slot;                                   \
        for (size_t p_ = (s_ == (slab) ? (pos) + 1 : (tape)->slabs[s_].cap); p_-- > 0;) { \
            if (tg__is_hdr_pos(p_)) continue;                                        \
            tg_tensor *s = base_ + p_;                                               \
            BODY                                                                     \
        }                                                                            \
    }

/* Visits the full records from (slab, pos) down, newest first: BODY with r.
 * A slot of halves gives the full copies of those forwarded (tg__unhalf),
 * with x the half (NULL for a full record); live halves are the caller's,
 * in HALF with x (skip them: HALF empty). */
#define FOR_RECORDS_DOWN_H(tape, slab, pos, r, x, HALF, BODY)                        \
    FOR_SLOTS_DOWN(tape, slab, pos, s_slot_, {                                       \
        if (tg__pair(s_slot_)) {                                                     \
            for (int k_ = 1; k_ >= 0; k_--) {                                        \
                tg_half *x = (tg_half *)s_slot_ + k_;                                \
                if (!(x->flags & THF_FWD)) {                                         \
                    if (x->flags & THF_HALF) { HALF }                                \
                    continue;                                                        \
                }                                                                    \
                tg_tensor *r = x->fwd;                                               \
                BODY                                                                 \
            }                                                                        \
            continue;                                                                \
        }                                                                            \
        tg_half *x = NULL;                                                           \
        (void)x;                                                                     \
        tg_tensor *r = s_slot_;                                                      \
        BODY                                                                         \
    })
#define FOR_RECORDS_DOWN(tape, slab, pos, r, BODY)                                   \
    FOR_RECORDS_DOWN_H(tape, slab, pos, r, x_unused_, {(void)x_unused_;}, BODY)

typedef struct sweep {
    tg_tape *tape;
    bool graph;      /* gradients are tensors, vjps recorded */
    bool store;      /* tg_backward: leaves and parameters keep the result */
} sweep;

/* Adds contribution c (a tensor: a vjp's result, a handle) into input t's
 * working gradient. */
static bool accumulate(sweep *sw, tg_tensor *t, tg_tensor *c) {
    c = tg__rec(c);
    if (sw->graph) {
        if (!t->grad) {
            t->grad = c;
        } else {
            tg_tensor *s = tg__rec(tg_add(t->grad, c));
            if (!s) return false;
            t->grad = s;
        }
        t->flags |= TGF_GRAPH;
        return true;
    }
    void *g = tg__gacc(t);
    if (!g) return false;
    tg__add_into(t->dtype, g, c->data, tg__numel(t));
    return true;
}

/* Gives a record's gradient to its inputs. */
static bool step(sweep *sw, tg_tensor *r) {
    const tg_op_desc *d = &tg__ops[r->op];
    if (!sw->graph) {
        if (r->flags & TGF_LAZY) { /* a fused chain ends here (ops/fuse.h) */
            int f = tg__fuse_bw(r);
            if (f) return f > 0;
        }
        return d->bw(r);
    }
    tg_tensor *in[16];
    int n = tg__inputs(r, in);
    /* graph backward reads the inputs' values and the record's own: lazy
     * ones compute them (a relu that max_pool2d read through was never
     * forced: ops/pool.c) */
    if (r->flags & TGF_LAZY) {
        if (!tg__ready(r)) return false;
        for (int i = 0; i < n; i++)
            if (!tg__ready(in[i])) return false;
    }
    for (int i = 0; i < n; i++) {
        if (!(in[i]->flags & TGF_REQ)) continue;
        tg_tensor *c = d->vjp(r, r->grad, i);
        if (!c || !accumulate(sw, in[i], c)) return false;
    }
    return true;
}

/* A leaf or proxy whose gradient is complete: store it (tg_backward). */
static bool finish_leaf(sweep *sw, tg_tensor *r) {
    if (!sw->store) return true;
    int64_t n = tg__numel(r);
    if (r->op == TG_OP_PROXY) {
        tg_tensor *p = r->u.param;
        if (!(p->flags & TGF_PARAM)) return true; /* freed meanwhile */
        if (r->grad != p->small.pext->gstore) /* else it was the buffer (gradbuf.c) */
            tg__add_into(r->dtype, p->small.pext->gstore, r->grad, n);
        return true;
    }
    if (!r->u.gstore && r->rank == 0) {
        /* the working gradient is inline (g0), and a later sweep of this
         * pass reuses it: the stored one gets its own 8 bytes */
        r->u.gstore = tg__arena(sw->tape, 8, "backward");
        if (!r->u.gstore) return false;
        memcpy(r->u.gstore, r->grad, 8);
    } else if (!r->u.gstore) {
        r->u.gstore = r->grad; /* first time: take the buffer */
    } else {
        tg__add_into(r->dtype, r->u.gstore, r->grad, n);
    }
    return true;
}

/* A half leaf whose gradient is complete: store it (tg_backward), in u.c. */
static inline void store_half(tg_half *x) {
    x->u.c = (x->flags & THF_S) ? x->u.c + x->g : x->g;
    x->flags |= THF_S;
}

/* A full record's turn in a sweep. */
static inline bool visit(sweep *sw, tg_tensor *r) {
    if (!(r->flags & TGF_REQ) || !r->grad) return true;
    /* scalar code: the elementwise ops' 0-d f64 backward, no call */
    if (!sw->graph && r->rank == 0 && r->dtype == TG_F64 && tg__step0(r)) return true;
    if (tg__ops[r->op].nin == 0) return finish_leaf(sw, r);
    return step(sw, r);
}

/* The slots below p of a slab (base) while they hold halves (scalar code:
 * scalar0.h), newest first, in a loop of their own (few live values, no
 * call but for forwarded halves). Returns where it stopped: the slot below
 * it (p - 1) is a full record, or p is 0. *ok false on failure. */
static __attribute__((noinline)) size_t sweep_pairs(sweep *sw, tg_tensor *base, size_t p,
                                                    bool *ok) {
    const tg_slab *slabs = sw->tape->slabs;
    bool store = sw->store;
    for (; p > 0; p--) {
        if (tg__is_hdr_pos(p - 1)) continue;
        tg_half *h = (tg_half *)(base + p - 1);
        if (!tg__pair(h)) break;
        /* slots 16 back are next (integer arithmetic: it may point before the slab) */
        __builtin_prefetch((const void *)((uintptr_t)h - 16 * sizeof(tg_tensor)), 1, 3);
        for (int k = 1; k >= 0; k--) {
            uint8_t f = h[k].flags;
            if ((f & (THF_REQ | THF_G | THF_FWD)) == (THF_REQ | THF_G)) {
                if (h[k].op != TG_OP_LEAF)
                    tg__step_half(slabs, &h[k]);
                else if (store) /* a leaf keeps it (finish_leaf's rule) */
                    store_half(&h[k]);
            } else if (f & THF_FWD) {
                if (!visit(sw, h[k].fwd)) {
                    *ok = false;
                    return p;
                }
                slabs = sw->tape->slabs; /* a graph sweep records */
            }
        }
    }
    return p;
}

static tg_status run(tg_tensor *out, tg_tensor *seed, bool graph, bool store,
                     const char *op) {
    tg_tape *tape = NULL;
    bool param = tg_tensor_is_param(out);
    /* a numeric sweep from a live half (scalar code's loss) starts at its
     * slot: no record is made (a view of it stands in for the checks) */
    tg_half *hx = NULL;
    tg_tensor hview;
    if (!graph && out && tg__is_half(tg__rec(out)) && !tg__tape_of(out)->ext)
        (void)tg__live_h(out, &hx);
    if (hx) {
        tape = tg__half_tape(hx);
        tg__half_view(hx, &hview);
        out = &hview;
    } else {
        out = tg__operand_req(&tape, out, op, 0);
    }
    if (!out) return tape ? tape->status : param ? TG_ERR_TAPE : TG_ERR_NULL;
    if (tape->sweeping) /* from a gradient hook: it would clear the working gradients */
        return tg__fail(tape, TG_ERR_STATE, op,
                        "refused: called from a gradient hook while another sweep of this "
                        "tape runs"),
               tape->status;
    if (!tg__is_float(out->dtype))
        return tg__fail(tape, TG_ERR_DTYPE, op, "the output is not a float tensor"), tape->status;
    if (!(out->flags & TGF_REQ))
        return tg__fail(tape, TG_ERR_STATE, op,
                        "the output does not depend on anything that requires grad "
                        "(mark inputs with tg_requires_grad, use parameters, or check "
                        "that recording was on)"),
               tape->status;
    char b0[160], b1[160];
    if (seed) {
        seed = tg__operand(&tape, seed, op, 1);
        if (!seed) return tape->status;
        if (seed->dtype != out->dtype || !tg__same_shape(seed, out))
            return tg__fail(tape, TG_ERR_SHAPE, op,
                            "seed gradient %s %s does not match the output %s %s",
                            tg_dtype_name((tg_dtype)seed->dtype),
                            tg__shape_str(b0, sizeof b0, seed->rank, seed->shape),
                            tg_dtype_name((tg_dtype)out->dtype),
                            tg__shape_str(b1, sizeof b1, out->rank, out->shape)),
                   tape->status;
    } else if (tg__numel(out) != 1) {
        return tg__fail(tape, TG_ERR_SHAPE, op,
                        "the output has shape %s: backward of a non-scalar needs a seed "
                        "gradient (tg_backward_seed)",
                        tg__shape_str(b0, sizeof b0, out->rank, out->shape)),
               tape->status;
    }
    /* inspection reads every record's value: the lazy ones compute theirs;
     * it and a create-graph sweep read every record in full (half.c) */
    if (tape->ext) tg__fuse_force_all(tape);
    if ((graph || tape->ext) && !tg__unhalf(tape)) return tape->status;
    /* inspect (inspect_sweep.c): hooks, trace, anomaly; checks the forward first */
    bool insp = tape->ext && tg__inspect_begin(tape, out);
    if (tape->status != TG_OK) return tape->status; /* never sweep a broken pass */
    int slab;
    size_t pos;
    if (hx) out = (tg_tensor *)((uintptr_t)hx & ~(uintptr_t)63); /* its slot, to locate */
    else if (!locate(tape, out, &slab, &pos) && out->rank == 0 && out->dtype == TG_F64) {
        /* the full copy of a forwarded half (a hook's argument): in no slot */
        out = tg__promote(tape, out, *(const double *)out->data, true);
        if (!out) return tape->status;
    }
    if (!locate(tape, out, &slab, &pos))
        return tg__fail(tape, TG_ERR_STATE, op, "internal: output record not found"), tape->status;

    /* A second sweep of the same pass starts from clean working gradients. */
    if (tape->sweeps > 0) {
        FOR_RECORDS_DOWN_H(tape, slab, pos, r, x, { x->flags &= (uint8_t)~THF_G; }, {
            r->grad = NULL;
            r->flags &= (uint8_t)~TGF_GRAPH;
        })
    }
    tape->sweeps++;
    tape->sweep_mode = graph ? TG_SWEEP_GRAPH : TG_SWEEP_NUMERIC;

    sweep sw = {tape, graph, store};
    /* tg_grad may ask for a view's gradient: fused chains then leave views
     * their own (ops/fuse.c) */
    tape->fuse_keep_views = !store;
    /* only tg_backward's plain sweep stores what a proxy gathers, and
     * hooks and traces (insp) read each proxy's gradient alone */
    tape->grad_alias = store && !graph && !insp;
    bool was = tape->grad_enabled;
    if (!graph) tape->grad_enabled = false;
    bool ok = true;
    tape->sweeping = true; /* hooks run below: see tape.c's refuse_in_sweep */

    /* seed */
    if (hx) {
        hx->g = seed ? *(const double *)seed->data : 1.0;
        hx->flags |= THF_G;
    } else if (graph) {
        tg_tensor *s = seed ? seed : tg__rec(tg_ones(tape, out->dtype, out->rank, out->shape));
        out->grad = s;
        out->flags |= TGF_GRAPH;
        ok = s != NULL;
    } else {
        void *g = tg__gacc(out);
        ok = g != NULL;
        int64_t n = tg__numel(out);
        /* out a parameter's proxy whose stored gradient is its buffer
         * (gradbuf.c): the seed adds to what is there */
        bool add = ok && out->op == TG_OP_PROXY && g == out->u.param->small.pext->gstore;
        if (ok && add) {
            if (seed) {
                tg__add_into(out->dtype, g, seed->data, n);
            } else if (out->dtype == TG_F32) {
                *(float *)g += 1.0f;
            } else {
                *(double *)g += 1.0;
            }
        } else if (ok) {
            if (seed)
                memcpy(g, seed->data, (size_t)n * tg__esize(out->dtype));
            else if (out->dtype == TG_F32)
                *(float *)g = 1.0f;
            else
                *(double *)g = 1.0;
        }
    }

    if (ok && !insp) {
        for (int s = slab; s >= 0 && ok; s--) {
            tg_tensor *base = tape->slabs[s].slot;
            size_t p = s == slab ? pos + 1 : tape->slabs[s].cap;
            while (p > 0 && ok) {
                tg_tensor *sl = base + p - 1;
                if (tg__pair(sl)) { /* two halves: scalar code, and most likely more */
                    p = sweep_pairs(&sw, base, p, &ok);
                    continue;
                }
                p--;
                if (tg__is_hdr_pos(p)) continue;
                /* slots 16 back are next (a prefetch never faults: integer
                 * arithmetic, as it may point before the slab) */
                __builtin_prefetch((const void *)((uintptr_t)sl - 16 * sizeof *sl), 1, 3);
                ok = visit(&sw, sl);
            }
        }
        if (!ok) goto done;
    } else if (ok) { /* the same loop, inspected (inspect_sweep.c): hooks and trace
                      * before a record passes its gradient on, anomaly after */
        FOR_RECORDS_DOWN_H(tape, slab, pos, r, x, {}, {
            if (!(r->flags & TGF_REQ) || !r->grad) continue;
            /* a hook is told the tensor the user holds: a forwarded half, not its copy */
            ok = tg__inspect_pre(tape, r, x ? tg__handle((tg_tensor *)x) : tg__handle(r));
            if (ok && tg__ops[r->op].nin == 0)
                ok = finish_leaf(&sw, r);
            else if (ok)
                ok = step(&sw, r);
            if (!ok || !tg__inspect_post(tape, r)) goto done;
        })
    }
done:
    tape->sweeping = false;
    tape->grad_alias = false;
    tape->grad_enabled = was;
    return tape->status;
}

tg_status tg_backward(tg_tensor *loss) { return run(loss, NULL, false, true, "backward"); }

tg_status tg_backward_seed(tg_tensor *out, tg_tensor *seed) {
    tg_tensor view;
    const tg_tensor *r = tg__live_q(out, &view);
    if (!seed && r && !(r->flags & TGF_PARAM)) {
        tg__fail(r->tape, TG_ERR_NULL, "backward", "seed gradient is NULL");
        return r->tape->status;
    }
    return run(out, seed, false, true, "backward");
}

/* The numeric working gradient of t as a tensor: a view of its buffer, or
 * at rank 0 a copy (the inline g0 is reused by a later sweep). */
static tg_tensor *grad_view(tg_tape *tape, tg_tensor *t) {
    if (t->rank > 0) return tg__wrap(tape, t->dtype, t->rank, t->shape, t->grad);
    tg_tensor *c = tg__wrap(tape, t->dtype, 0, NULL, NULL);
    if (c) memcpy(c->data, t->grad, 8);
    return c;
}

tg_status tg_grad(tg_tensor *out, tg_tensor *seed, int n, tg_tensor *const *inputs,
                  tg_tensor **grads, int flags) {
    tg_tape *tape = NULL;
    /* a half output gets its PROMOTE record once the inputs have passed
     * their checks (a refused call makes no record) */
    bool out_half = out && tg__is_half(tg__rec(out));
    if (out_half && !tg__half_ok(&tape, out, "grad", 0)) return tape->status;
    tg_tensor *o = out_half ? NULL : tg__operand_req(&tape, out, "grad", 0);
    if (!o && !out_half) return tape ? tape->status : TG_ERR_NULL;
    if (n < 0 || (n > 0 && (!inputs || !grads)))
        return tg__fail(tape, TG_ERR_NULL, "grad", "inputs or grads array is NULL"), tape->status;
    for (int i = 0; i < n; i++) grads[i] = NULL;
    /* resolve inputs first: parameters to their proxies on this tape */
    for (int i = 0; i < n; i++) {
        tg_tensor *x = tg__rec(inputs[i]);
        if (x && tg__is_half(x)) { /* scalar code's result: its own record, not a PROMOTE */
            tg_half *hx;
            tg_tensor *f = tg__live_h(inputs[i], &hx);
            if (tg__tape_of(inputs[i]) != tape)
                return tg__fail(tape, TG_ERR_TAPE, "grad", "operand %d belongs to another tape",
                                i + 2), tape->status;
            if (!f && !hx)
                return tg__fail(tape, TG_ERR_STALE, "grad",
                                "operand %d is stale: it was made before the last tg_tape_reset",
                                i + 2), tape->status;
            if (f ? !(f->flags & TGF_REQ) : !(hx->flags & THF_REQ))
                return tg__fail(tape, TG_ERR_STATE, "grad",
                                "input %d does not require grad (tg_requires_grad)", i + 1),
                       tape->status;
        } else if (x && (x->flags & TGF_PARAM)) {
            tg_param_ext *e = x->small.pext;
            bool on = e->ptape == tape && e->pserial == tape->serial && e->pgen == tape->gen;
            if (!on) continue; /* not used on this tape: zeros */
        } else if (!tg__operand(&tape, inputs[i], "grad", i + 1)) {
            return tape->status;
        } else if (!(x->flags & TGF_REQ)) {
            return tg__fail(tape, TG_ERR_STATE, "grad",
                            "input %d does not require grad (tg_requires_grad)", i + 1),
                   tape->status;
        }
    }
    if (out_half && !(o = tg__operand_req(&tape, out, "grad", 0))) return tape->status;
    bool graph = flags & TG_CREATE_GRAPH;
    /* A float output that requires no grad depends on no input: every input
     * gets zeros, with no sweep (the working gradients may be a former
     * sweep's). The seed is checked all the same. */
    bool swept = (o->flags & TGF_REQ) || !tg__is_float(o->dtype);
    if (swept) {
        tg_status st = run(tg__handle(o), seed, graph, false, "grad");
        if (st != TG_OK) return st;
    } else if (tape->status != TG_OK || (seed && !(seed = tg__operand(&tape, seed, "grad", 1)))) {
        return tape->status; /* a broken pass, as a sweep would say; or a bad seed */
    } else if (!seed && tg__numel(o) != 1) {
        char b[160];
        return tg__fail(tape, TG_ERR_SHAPE, "grad",
                        "the output has shape %s and the seed is NULL (only a one-element "
                        "output may omit it)", tg__shape_str(b, sizeof b, o->rank, o->shape)),
               tape->status;
    } else if (seed && (seed->dtype != o->dtype || !tg__same_shape(seed, o))) {
        char b0[160], b1[160];
        return tg__fail(tape, TG_ERR_SHAPE, "grad",
                        "seed gradient %s %s does not match the output %s %s",
                        tg_dtype_name((tg_dtype)seed->dtype),
                        tg__shape_str(b0, sizeof b0, seed->rank, seed->shape),
                        tg_dtype_name((tg_dtype)o->dtype),
                        tg__shape_str(b1, sizeof b1, o->rank, o->shape)),
               tape->status;
    }
    for (int i = 0; i < n; i++) {
        tg_tensor *x = tg__fwd(tg__rec(inputs[i])); /* a graph sweep forwarded every half */
        if (tg__is_half(x)) { /* live: its inline gradient */
            tg_half *hx = (tg_half *)x;
            grads[i] = tg__handle(tg__wrap(tape, TG_F64, 0, NULL, NULL));
            if (grads[i]) *(double *)tg__rec(grads[i])->data = swept && (hx->flags & THF_G) ? hx->g : 0.0;
            if (!grads[i]) return tape->status;
            continue;
        }
        if (x->flags & TGF_PARAM) {
            tg_param_ext *e = x->small.pext;
            bool on = e->ptape == tape && e->pserial == tape->serial && e->pgen == tape->gen;
            x = on ? e->proxy : NULL;
        }
        if (swept && x && x->grad) {
            grads[i] = tg__handle(graph ? (tg_tensor *)x->grad : grad_view(tape, x));
        } else {
            const tg_tensor *like = x ? x : tg__rec(inputs[i]);
            grads[i] = tg_zeros(tape, (tg_dtype)like->dtype, like->rank, like->shape);
        }
        if (!grads[i]) return tape->status;
    }
    return TG_OK;
}

tg_tensor *tg_tensor_grad(const tg_tensor *h) {
    tg_half *x;
    const tg_tensor *t = tg__live_h(h, &x);
    if (x) { /* a live half: a copy of its gradient (a leaf's stored one), if it has one */
        bool leaf = x->op == TG_OP_LEAF;
        if (!(x->flags & (leaf ? THF_S : THF_G))) return NULL;
        tg_tensor *c = tg__wrap(tg__half_tape(x), TG_F64, 0, NULL, NULL);
        if (c) *(double *)c->data = leaf ? x->u.c : x->g;
        return tg__handle(c);
    }
    if (!t) return NULL;
    if (t->flags & TGF_PARAM) return t->small.pext->grad_rec;
    tg_tape *tape = t->tape;
    if (t->op == TG_OP_LEAF) {
        if (!t->u.gstore) return NULL;
        return tg__handle(tg__wrap(tape, t->dtype, t->rank, t->shape, t->u.gstore));
    }
    if (!t->grad) return NULL;
    if (t->flags & TGF_GRAPH) return tg__handle(t->grad);
    return tg__handle(grad_view(tape, (tg_tensor *)t));
}

double tg_grad_item(const tg_tensor *h) {
    tg_half *x = tg__live_half(h); /* scalar code: no call */
    if (x) {
        if (x->op == TG_OP_LEAF) return (x->flags & THF_S) ? x->u.c : NAN;
        return (x->flags & THF_G) ? x->g : NAN;
    }
    const tg_tensor *t = tg__rec(h);
    if (!t) return NAN;
    if (tg__is_half(t)) { /* not live (taken above): forwarded, or stale */
        t = tg__live_h(h, &x);
        if (!t) {
            tg__fail(tg__tape_of(h), TG_ERR_STALE, "grad_item",
                     "the tensor is stale (made before a reset)");
            return NAN;
        }
        h = t; /* a forwarded half's full copy, current */
    }
    const void *g = NULL;
    if (t->flags & TGF_PARAM) {
        if (t->small.pext->grad_rec) g = t->small.pext->gstore;
    } else if (!tg__current(h, t, t->tape->gen)) {
        tg__fail(t->tape, TG_ERR_STALE, "grad_item", "the tensor is stale (made before a reset)");
        return NAN;
    } else if (t->op == TG_OP_LEAF) {
        g = t->u.gstore;
    } else if (t->grad) {
        g = (t->flags & TGF_GRAPH) ? ((const tg_tensor *)t->grad)->data : t->grad;
    }
    if (tg__numel(t) != 1) {
        char b[160];
        if (t->tape)
            tg__fail(t->tape, TG_ERR_SHAPE, "grad_item", "needs exactly one element, got shape %s",
                     tg__shape_str(b, sizeof b, t->rank, t->shape));
        return NAN;
    }
    if (!g) return NAN;
    return t->dtype == TG_F32 ? *(const float *)g : *(const double *)g;
}

/* Zeroes lines [lo, hi) of 64 bytes of a stored gradient. */
typedef struct zero_job {
    char *base;
    size_t bytes;
} zero_job;

static void zero_lines(void *ctx, int64_t lo, int64_t hi) {
    const zero_job *j = ctx;
    size_t a = (size_t)lo * 64, b = (size_t)hi * 64;
    memset(j->base + a, 0, (b < j->bytes ? b : j->bytes) - a);
}

/* A large parameter's gradient is zeroed on the threads, in the pieces
 * that nn/optim.c's update cuts it in (halves on two threads, for the
 * MLP's 100 x 784 weight): each core zeroes what it has just read. */
#define ZERO_GRAIN 2048 /* lines of 64 bytes: 128 KiB a thread at least */

void tg_zero_grad(tg_tensor *h) {
    tg_half *x = tg__live_half(h); /* scalar code (a Jacobian's rows): no call */
    if (x) {
        if (x->op == TG_OP_LEAF && (x->flags & THF_S)) x->u.c = 0.0; /* a half leaf */
        return;
    }
    tg_tensor *t = tg__live(h); /* a full record, a forwarded half's copy, or NULL */
    if (!t) return;
    if ((t->flags & TGF_PARAM) && t->small.pext->grad_rec) {
        zero_job j = {t->small.pext->gstore, (size_t)tg__numel(t) * tg__esize(t->dtype)};
        tg__parallel_for((int64_t)((j.bytes + 63) / 64), ZERO_GRAIN, zero_lines, &j);
        return;
    }
    if ((t->flags & TGF_PARAM) || t->op != TG_OP_LEAF || !t->u.gstore)
        return;
    memset(t->u.gstore, 0, (size_t)tg__numel(t) * tg__esize(t->dtype));
}

/* tg__sweep_since's turn of a full record, and of a half. */
static bool since_full(sweep *sw, tg_tensor *r) {
    if (!(r->flags & TGF_REQ) || !r->grad) return true;
    if (r->rank == 0 && r->dtype == TG_F64 && tg__step0(r)) return true;
    if (tg__ops[r->op].nin == 0) return true; /* a leaf made in the segment: no one reads it */
    return step(sw, r);
}
static bool since_half(tg_tape *tape, sweep *sw, tg_half *x) {
    if (x->flags & THF_FWD) return since_full(sw, x->fwd);
    if ((x->flags & (THF_REQ | THF_G)) == (THF_REQ | THF_G)) tg__step_half(tape->slabs, x);
    return true;
}

bool tg__sweep_since(tg_tape *tape, const tg_mark *m) {
    sweep sw = {tape, false, false};
    int top = tape->cur;
    size_t top_pos = tape->pos;
    if (top >= tape->nslab) { /* a slab that failed to come: the last one is full */
        top = tape->nslab - 1;
        top_pos = top >= 0 ? tape->slabs[top].cap : 0;
    }
    for (int s = top; s >= m->cur && s >= 0; s--) {
        tg_tensor *base = tape->slabs[s].slot;
        size_t lo = s == m->cur ? m->pos : 0;
        for (size_t p = s == top ? top_pos : tape->slabs[s].cap; p-- > lo;) {
            if (tg__is_hdr_pos(p)) continue;
            tg_tensor *r = base + p;
            if (tg__pair(r)) {
                for (int k = 1; k >= 0; k--)
                    if ((((tg_half *)r)[k].flags & THF_HALF) && !since_half(tape, &sw, (tg_half *)r + k))
                        return false;
                continue;
            }
            if (!since_full(&sw, r)) return false;
        }
    }
    /* last, the oldest: the half free at the mark, if filled since (it
     * shares the slot of the record before the mark) */
    if (m->hfree && m->hfree != tape->hfree && (m->hfree->flags & THF_HALF) &&
        !since_half(tape, &sw, m->hfree))
        return false;
    return true;
}
