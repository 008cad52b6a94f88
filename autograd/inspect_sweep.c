/* inspect_sweep.c - inspection during the backward sweep: the trace and
 * anomaly settings, the forward anomaly check, and what the sweep
 * (backward.c) calls through tg__inspect_begin / tg__inspect_pre /
 * tg__inspect_post: gradient hooks run, the chain rule traced step by
 * step, the gradients each op gave checked for NaN and Inf.
 *
 * Anomaly mode, forward side. An op fills its output after tg__out has
 * returned (and a fused op may record helpers before it fills its output),
 * so no point inside the recording machinery knows that a value is
 * complete. Instead, the forward outputs are checked lazily, in recording
 * order, from where the last check stopped: at the start of every sweep
 * and in tg_tape_check_finite. In order means that the first bad record
 * found is the op that made the first NaN or Inf. The forward pass itself
 * stays as fast as with anomaly mode off (it costs nothing at all), at the
 * price of reporting at the next sweep or check instead of at the op.
 * Backward side: after each op's backward, the gradients it added to are
 * checked, so the op that made a bad gradient is named as it does so.
 */
#include "inspect_private.h"

#include <math.h>

/* ------------------------------------------------------------ settings */

void tg_tape_set_trace(tg_tape *tape, FILE *out) {
    if (!tape) return;
    if (!out && !tape->ext) return; /* off needs no extension */
    struct tg_tape_ext *e = tg__tape_ext(tape, "set_trace");
    if (e) e->trace = out;
}

bool tg_tape_set_anomaly(tg_tape *tape, bool on) {
    if (!tape) return false;
    bool old = tape->ext && tape->ext->anomaly;
    if (!on && !tape->ext) return old;
    struct tg_tape_ext *e = tg__tape_ext(tape, "set_anomaly");
    if (e) e->anomaly = on;
    return old;
}

/* ------------------------------------------------------------- anomaly */

static int64_t first_bad(int dt, const void *d, int64_t n) {
    if (!d) return -1;
    if (dt == TG_F32) {
        const float *p = d;
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(p[i])) return i;
    } else if (dt == TG_F64) {
        const double *p = d;
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(p[i])) return i;
    }
    return -1;
}

/* "#1 x [] = 0, #2 [3,4]": the inputs of r with names, shapes and the
 * values of scalars. */
static void inputs_text(const tg_tape *tape, const tg_tensor *r, char *b, size_t n) {
    size_t k = 0;
    b[0] = 0;
    tg_tensor *in[8];
    bool more;
    int m = tg__inputs_of(r, in, 8, &more);
    for (int i = 0; i < m; i++) {
        char sh[160];
        if (i) tg__app(b, n, &k, ", ");
        tg__app_ref(tape, in[i], b, n, &k);
        if (!in[i]) continue;
        tg__app(b, n, &k, " %s", tg__shape_str(sh, sizeof sh, in[i]->rank, in[i]->shape));
        if (tg__numel(in[i]) == 1 && in[i]->data) {
            char v[48];
            sink vs = {NULL, v, sizeof v, 0, false};
            tg__put_num(&vs, elem(in[i]->dtype, in[i]->data, 0));
            tg__app(b, n, &k, " = %s", v);
        }
    }
    if (more) tg__app(b, n, &k, ", ...");
    if (!m) tg__app(b, n, &k, "none");
}

static const char *bad_word(double v, char *b, size_t n) {
    sink s = {NULL, b, n, 0, false};
    tg__put_num(&s, v);
    return b;
}

/* Checks the forward outputs recorded since the last check. */
static void scan_forward(tg_tape *tape, struct tg_tape_ext *e) {
    if (!tg__unhalf(tape)) return;
    if (e->scan_gen != tape->gen) {
        e->scan_gen = tape->gen;
        e->scan_slab = 0;
        e->scan_pos = e->scan_idx = 0;
    }
    size_t idx = e->scan_idx;
    for (int s = e->scan_slab; s <= tape->cur && s < tape->nslab; s++) {
        tg_tensor *base = tape->slabs[s].slot;
        size_t used = s == tape->cur ? tape->pos : tape->slabs[s].cap;
        for (size_t p = s == e->scan_slab ? e->scan_pos : 0; p < used; p++) {
            if (tg__is_hdr_pos(p)) continue;
            tg_tensor *rs[2], *sl = base + p; /* a slot: one record, or two forwarded halves */
            int nr = 0;
            if (tg__pair(sl)) {
                for (int k = 0; k < 2; k++) {
                    const tg_half *x = (const tg_half *)sl + k;
                    if ((x->flags & (THF_HALF | THF_FWD)) == (THF_HALF | THF_FWD)) rs[nr++] = x->fwd;
                }
            } else {
                rs[nr++] = sl;
            }
            for (int j = 0; j < nr; j++, idx++) {
            tg_tensor *r = rs[j];
            if (!tg__ops[r->op].nin || !tg__is_float(r->dtype) || tape->status != TG_OK)
                continue;
            int64_t bad = first_bad(r->dtype, r->data, tg__numel(r));
            if (bad < 0) continue;
            char sh[160], ins[200], w[48];
            const char *nm = tg_tensor_name(r);
            inputs_text(tape, r, ins, sizeof ins);
            tg__fail(tape, TG_ERR_NUMERIC, tg__ops[r->op].name,
                     "anomaly in the forward: record #%zu%s%s%s has %s at element %lld of its "
                     "output %s; inputs: %s",
                     idx, nm ? " (" : "", nm ? nm : "", nm ? ")" : "",
                     bad_word(elem(r->dtype, r->data, bad), w, sizeof w), (long long)bad,
                     tg__shape_str(sh, sizeof sh, r->rank, r->shape), ins);
            }
        }
    }
    e->scan_slab = tape->cur;
    e->scan_pos = tape->pos;
    e->scan_idx = idx;
}

tg_status tg_tape_check_finite(tg_tape *tape) {
    if (!tape) return TG_ERR_NULL;
    struct tg_tape_ext *e = tg__tape_ext(tape, "check_finite");
    if (e) scan_forward(tape, e);
    return tape->status;
}

/* --------------------------------------------------------------- sweep */

/* The working gradient's data during a sweep. */
static void *work_grad(const tg_tensor *r) {
    if (!r->grad) return NULL;
    return (r->flags & TGF_GRAPH) ? ((tg_tensor *)r->grad)->data : r->grad;
}

bool tg__inspect_begin(tg_tape *tape, tg_tensor *out) {
    struct tg_tape_ext *e = tg__tape_ext(tape, "backward");
    if (!e) return false;
    if (e->anomaly) scan_forward(tape, e);
    if (tape->status != TG_OK) return false;
    if (e->trace) {
        const char *nm = tg_tensor_name(out);
        e->out = out;
        fprintf(e->trace, "backward of L = %s%s#%lld%s\n", nm ? nm : "", nm ? " (" : "",
                (long long)tg__rec_index(tape, out), nm ? ")" : "");
    }
    return e->anomaly || e->trace || e->nhooks || e->nphooks;
}

/* Runs a hook on r's complete gradient; `user` is what the user hooked.
 * The hook gets handles and returns one (tg_engine.h). */
static bool run_hook(tg_tape *tape, tg_tensor *r, tg_tensor *user, tg_grad_hook fn, void *ud) {
    bool graph = r->flags & TGF_GRAPH;
    tg_tensor *g = graph ? r->grad : tg__wrap(tape, r->dtype, r->rank, r->shape, r->grad);
    if (!g) return false;
    g = tg__handle(g);
    tg_tensor *h = fn(tg__handle(user), g, ud);
    tg_tensor *res = tg__full(h);
    char lb[TG_NAME_MAX + 24];
    if (!res) {
        tg__fail(tape, TG_ERR_STATE, "backward", "the gradient hook of %s returned NULL",
                 tg__label(tape, r, lb, sizeof lb));
        return false;
    }
    if (h != g) {
        if ((res->flags & TGF_PARAM) || res->tape != tape || !tg__current(h, res, tape->gen) ||
            res->dtype != r->dtype || !tg__same_shape(res, r)) {
            char b0[160], b1[160];
            tg__fail(tape, TG_ERR_SHAPE, "backward",
                     "the gradient hook of %s returned a %s %s tensor (or one not on this "
                     "pass) for a %s %s gradient",
                     tg__label(tape, r, lb, sizeof lb), tg_dtype_name((tg_dtype)res->dtype),
                     tg__shape_str(b0, sizeof b0, res->rank, res->shape), tg_dtype_name((tg_dtype)r->dtype),
                     tg__shape_str(b1, sizeof b1, r->rank, r->shape));
            return false;
        }
        if (graph) r->grad = res;
        else memcpy(r->grad, res->data, (size_t)tg__numel(r) * tg__esize(r->dtype));
    }
    return tape->status == TG_OK;
}

static void trace_values(FILE *f, const tg_tensor *t, const void *data) {
    sink s = {f, NULL, 0, 0, false};
    tg__put_values(&s, t->dtype, t->rank, t->shape, data);
}

/* The trace's arithmetic makes temporary records and data; it gives them
 * back afterwards (nothing else holds them: tg__mark, tg__rollback), so
 * that a traced tape prints and draws the same as an untraced one. */

/* The steps of the chain rule at record r (its gradient complete): for
 * each input that requires grad, the incoming gradient, the local
 * derivative (scalars) and their product, computed once here for both the
 * text trace and the HTML stepper (inspect_html.c). The arithmetic is
 * unrecorded and its records are given back before returning. */
bool tg__trace_steps(tg_tape *tape, tg_tensor *r, tg__step_fn fn, void *ud) {
    tg_tensor *in[16];
    bool more;
    int n = tg__inputs_of(r, in, 16, &more);
    if (more) return fn(ud, r, NULL);
    bool graph = r->flags & TGF_GRAPH;
    bool was = tape->grad_enabled;
    tape->grad_enabled = false; /* the trace's own arithmetic is never recorded */
    tg_mark m;
    tg__mark(tape, &m);
    const tg_op_desc *d = &tg__ops[r->op];
    tg_tensor *g = graph ? r->grad : tg__wrap(tape, r->dtype, r->rank, r->shape, r->grad);
    bool ok = g != NULL;
    for (int i = 0; ok && i < n; i++) {
        if (!(in[i]->flags & TGF_REQ)) continue;
        tg__step st = {i, in[i], g, NULL, tg__full(d->vjp(r, g, i))};
        if (!st.c) {
            ok = false;
            break;
        }
        if (tg__numel(r) == 1 && tg__numel(in[i]) == 1) {
            /* scalars: the local derivative d r/d in is the op's graph
             * backward at an incoming 1 */
            tg_tensor *one = tg_ones(tape, (tg_dtype)r->dtype, r->rank, r->shape);
            st.loc = one ? tg__full(d->vjp(r, tg__full(one), i)) : NULL;
            if (!st.loc) {
                ok = false;
                break;
            }
        }
        ok = fn(ud, r, &st);
    }
    tape->grad_enabled = was;
    tg__rollback(tape, &m);
    return ok;
}

/* "L" for the sweep's output, else "x" or "#3": how a gradient dL/d... names
 * a value. */
const char *tg__glabel(const tg_tape *tape, const tg_tensor *out, const tg_tensor *t, char *b,
                       size_t n) {
    if (t == out) return snprintf(b, n, "L"), b;
    return tg__label(tape, t, b, n);
}

void tg__step_text(sink *s, const tg_tape *tape, const tg_tensor *out, const tg_tensor *r,
                   size_t idx, const tg__step *st) {
    char lr[TG_NAME_MAX + 24], li[TG_NAME_MAX + 24], sh[160];
    tg__glabel(tape, out, r, lr, sizeof lr);
    tg__glabel(tape, out, st->in, li, sizeof li);
    const tg_tensor *g = st->g, *c = st->c;
    if (st->loc) {
        tg__put(s, "dL/d%s += dL/d%s (", li, lr);
        tg__put_num(s, elem(g->dtype, g->data, 0));
        tg__put(s, ") * d#%zu/d#%lld (", idx, (long long)tg__rec_index(tape, st->in));
        tg__put_num(s, elem(st->loc->dtype, st->loc->data, 0));
        tg__put(s, ") = ");
        tg__put_num(s, elem(c->dtype, c->data, 0));
    } else {
        tg__put(s, "dL/d%s += dL/d%s %s (", li, lr,
                tg__shape_str(sh, sizeof sh, r->rank, r->shape));
        tg__put_values(s, g->dtype, g->rank, g->shape, g->data);
        tg__put(s, ") through %s = %s (", tg__ops[r->op].name,
                tg__shape_str(sh, sizeof sh, c->rank, c->shape));
        tg__put_values(s, c->dtype, c->rank, c->shape, c->data);
        tg__put(s, ")");
    }
}

typedef struct tctx {
    tg_tape *tape;
    struct tg_tape_ext *e;
    size_t idx;                /* r's record number */
} tctx;

/* One line of the text trace. */
static bool trace_line(void *ud, tg_tensor *r, const tg__step *st) {
    tctx *x = ud;
    sink s = {x->e->trace, NULL, 0, 0, false};
    if (!st) {
        tg__put(&s, "  (more than 16 inputs: not traced)\n");
        return true;
    }
    tg__put(&s, "  ");
    tg__step_text(&s, x->tape, x->e->out, r, x->idx, st);
    tg__put(&s, "\n");
    return true;
}

/* The chain-rule lines of record r (its gradient complete). */
static bool trace_record(tg_tape *tape, struct tg_tape_ext *e, tg_tensor *r, size_t idx) {
    FILE *f = e->trace;
    char lr[TG_NAME_MAX + 24];
    if (!tg__ops[r->op].nin) { /* a leaf: its gradient is complete */
        fprintf(f, "dL/d%s = ", tg__glabel(tape, e->out, r, lr, sizeof lr));
        trace_values(f, r, work_grad(r));
        fputc('\n', f);
        return true;
    }
    char b[LHS_MAX];
    tg__lhs_text(tape, r, idx, b, sizeof b);
    fprintf(f, "%s\n", b);
    tctx x = {tape, e, idx};
    return tg__trace_steps(tape, r, trace_line, &x);
}

bool tg__inspect_pre(tg_tape *tape, tg_tensor *r, tg_tensor *who) {
    struct tg_tape_ext *e = tape->ext;
    /* hooks: a parameter's (through its proxy) or a tape tensor's */
    if (r->op == TG_OP_PROXY) {
        tg_tensor *p = param_of(r);
        if (p && p->small.pext->hook &&
            !run_hook(tape, r, p, p->small.pext->hook, p->small.pext->hook_ud))
            return false;
    } else if (e->nhooks) {
        ient *x = tg__ext_find(tape, r);
        if (x && x->hook && !run_hook(tape, r, who, x->hook, x->ud)) return false;
    }
    if (e->trace) {
        int64_t idx = tg__rec_index(tape, r);
        if (!trace_record(tape, e, r, idx < 0 ? 0 : (size_t)idx)) return false;
    }
    return true;
}

bool tg__inspect_post(tg_tape *tape, tg_tensor *r) {
    struct tg_tape_ext *e = tape->ext;
    if (!e->anomaly || !tg__ops[r->op].nin) return true;
    tg_tensor *in[16];
    bool more;
    int n = tg__inputs_of(r, in, 16, &more);
    for (int i = 0; i < n; i++) {
        if (!in[i] || !(in[i]->flags & TGF_REQ)) continue;
        int64_t bad = first_bad(in[i]->dtype, work_grad(in[i]), tg__numel(in[i]));
        if (bad < 0) continue;
        char ins[200], w[48], og[64];
        size_t k = 0;
        ins[0] = 0;
        tg__app_ref(tape, in[i], ins, sizeof ins, &k);
        tg__app(ins, sizeof ins, &k, " %s", tg__shape_str(w, sizeof w, in[i]->rank, in[i]->shape));
        if (tg__numel(in[i]) == 1) {
            tg__app(ins, sizeof ins, &k, " = %s",
                    bad_word(elem(in[i]->dtype, in[i]->data, 0), w, sizeof w));
        }
        sink os = {NULL, og, sizeof og, 0, false};
        tg__put_values(&os, r->dtype, r->rank, r->shape, work_grad(r));
        const char *nm = tg_tensor_name(r);
        tg__fail(tape, TG_ERR_NUMERIC, tg__ops[r->op].name,
                 "anomaly in the backward of record #%lld%s%s%s: the gradient it gives "
                 "input %d (%s) has %s at element %lld; its output gradient: %s",
                 (long long)tg__rec_index(tape, r), nm ? " (" : "", nm ? nm : "", nm ? ")" : "",
                 i + 1, ins,
                 bad_word(elem(in[i]->dtype, work_grad(in[i]), bad), w, sizeof w),
                 (long long)bad, og);
        return false;
    }
    return true;
}
