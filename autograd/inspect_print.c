/* inspect_print.c - the tape as text: tg_tape_print (one line a record)
 * and tg_tape_write_dot (a Graphviz DOT digraph), and the writers of
 * numbers, values and records that the backward trace and anomaly
 * messages (inspect_sweep.c) share with them.
 */
#include "inspect_private.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* -------------------------------------------------------------- writing */

void tg__put(sink *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (s->f) {
        if (vfprintf(s->f, fmt, ap) < 0) s->err = true;
    } else {
        int k = s->len < s->cap ? vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap)
                                : vsnprintf(NULL, 0, fmt, ap);
        if (k < 0) s->err = true;
        else s->len += (size_t)k;
    }
    va_end(ap);
}

/* One number: %.6g, with NaN and Inf spelled the same on every libc. */
void tg__put_num(sink *s, double v) {
    if (isnan(v)) tg__put(s, "nan");
    else if (isinf(v)) tg__put(s, v < 0 ? "-inf" : "inf");
    else tg__put(s, "%.6g", v == 0 ? 0.0 : v); /* no "-0" */
}

/* A value: scalars in full, up to 6 elements listed, larger tensors as
 * min/mean/max and the first 4 values. */
void tg__put_values(sink *s, int dt, int rank, const int64_t *shape, const void *data) {
    if (!data) {
        tg__put(s, "?");
        return;
    }
    int64_t n = tg__shape_numel(rank, shape); /* a tensor's shape: never -1 */
    if (rank == 0) {
        tg__put_num(s, elem(dt, data, 0));
        return;
    }
    if (n == 0) {
        tg__put(s, "(empty)");
        return;
    }
    int64_t show = n;
    if (n > 6) {
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = elem(dt, data, i);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
        }
        tg__put(s, "min ");
        tg__put_num(s, lo);
        tg__put(s, " mean ");
        tg__put_num(s, sum / (double)n);
        tg__put(s, " max ");
        tg__put_num(s, hi);
        tg__put(s, " ");
        show = 4;
    }
    tg__put(s, "[");
    for (int64_t i = 0; i < show; i++) {
        if (i) tg__put(s, ", ");
        tg__put_num(s, elem(dt, data, i));
    }
    tg__put(s, n > show ? ", ...]" : "]");
}

/* The index of record t on the current pass (its place among the records,
 * full and half, in creation order), or -1. */
int64_t tg__rec_index(const tg_tape *tape, const tg_tensor *t) {
    if (tape->nhalf) { /* slots of one record or two: count them */
        int64_t i = 0, found = -1;
        TG__FOR_SLOTS_UP(tape, s, {
            if (found >= 0) break;
            if (tg__pair(s)) {
                for (int k = 0; k < 2; k++) {
                    const tg_half *x = (const tg_half *)s + k;
                    if (!(x->flags & THF_HALF)) continue;
                    if ((const void *)x == (const void *)t ||
                        ((x->flags & THF_FWD) && x->fwd == t))
                        found = i;
                    i++;
                }
            } else if (s == t) {
                found = i;
            } else {
                i++;
            }
        })
        return found;
    }
    size_t base = 0;
    uintptr_t a = (uintptr_t)t;
    for (int s = 0; s <= tape->cur && s < tape->nslab; s++) {
        uintptr_t b = (uintptr_t)tape->slabs[s].slot;
        size_t used = s == tape->cur ? tape->pos : tape->slabs[s].cap;
        if (a >= b && a < b + used * sizeof(tg_tensor) && (a - b) % sizeof(tg_tensor) == 0) {
            size_t p = (a - b) / sizeof(tg_tensor);
            if (tg__is_hdr_pos(p)) return -1;
            return (int64_t)(base + p - (p / TG__GROUP_SLOTS + 1)); /* less the headers */
        }
        base += tape->slabs[s].cap - tape->slabs[s].cap / TG__GROUP_SLOTS;
    }
    return -1;
}

/* Every record of the current pass in order (tg__unhalf first); idx counts
 * from 0. */
#define FOR_RECORDS(tape, r, idx, ...)                                               \
    do {                                                                             \
        size_t idx_next_ = 0;                                                        \
        TG__FOR_RECORDS_UP(tape, r, {                                                \
            size_t idx = idx_next_++;                                                \
            __VA_ARGS__                                                              \
        });                                                                          \
    } while (0)

/* Appends to a fixed buffer, cutting at its end. */
void tg__app(char *b, size_t n, size_t *k, const char *fmt, ...) {
    if (*k >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(b + *k, n - *k, fmt, ap);
    va_end(ap);
    if (m > 0) *k += (size_t)m;
    if (*k >= n) *k = n - 1;
}

/* "x" or "#3" (how the trace names a value). */
const char *tg__label(const tg_tape *tape, const tg_tensor *t, char *b, size_t n) {
    const char *nm = tg_tensor_name(t);
    if (nm) snprintf(b, n, "%s", nm);
    else snprintf(b, n, "#%lld", (long long)tg__rec_index(tape, t));
    return b;
}

/* "#3 x" or "#3" (how an input is referred to). */
void tg__app_ref(const tg_tape *tape, const tg_tensor *t, char *b, size_t n, size_t *k) {
    if (!t) {
        tg__app(b, n, k, "?");
        return;
    }
    const char *nm = tg_tensor_name(t);
    tg__app(b, n, k, "#%lld%s%s", (long long)tg__rec_index(tape, t), nm ? " " : "",
            nm ? nm : "");
}

static bool scalar_op(int op) {
    return op == TG_OP_ADDC || op == TG_OP_RSUBC || op == TG_OP_MULC || op == TG_OP_DIVC ||
           op == TG_OP_RDIVC || op == TG_OP_POWC;
}

/* The inputs of r, at most `max` (*more: r has more). */
int tg__inputs_of(const tg_tensor *r, tg_tensor **in, int max, bool *more) {
    *more = false;
    if (tg__ops[r->op].nin < 0) {
        const tg_auxin *ax = r->u.aux;
        if (!ax) return 0;
        int n = ax->n < max ? ax->n : max;
        for (int i = 0; i < n; i++) in[i] = ax->in[i];
        *more = ax->n > max;
        return n;
    }
    return tg__inputs(r, in);
}

/* "op(#0 x, #1 y)", "mul_scalar(#2, 2.5)", "leaf", "param". */
static void op_text(const tg_tape *tape, const tg_tensor *r, char *b, size_t n, size_t *k) {
    const tg_op_desc *d = &tg__ops[r->op];
    if (r->op == TG_OP_LEAF) {
        tg__app(b, n, k, (r->flags & TGF_REQ) ? "leaf, requires grad" : "leaf");
        return;
    }
    if (r->op == TG_OP_PROXY) {
        tg__app(b, n, k, "param");
        return;
    }
    tg_tensor *in[8];
    bool more;
    int m = tg__inputs_of(r, in, 8, &more);
    tg__app(b, n, k, "%s(", d->name);
    for (int i = 0; i < m; i++) {
        if (i) tg__app(b, n, k, ", ");
        tg__app_ref(tape, in[i], b, n, k);
    }
    if (more) tg__app(b, n, k, ", ...");
    if (scalar_op(r->op)) tg__app(b, n, k, ", %.6g", r->u.c);
    tg__app(b, n, k, ")");
}

/* "#2 z = mul(#0 x, #1 y)" */
void tg__lhs_text(const tg_tape *tape, const tg_tensor *r, size_t idx, char *b, size_t n) {
    size_t k = 0;
    b[0] = 0;
    const char *nm = tg_tensor_name(r);
    tg__app(b, n, &k, "#%zu%s%s = ", idx, nm ? " " : "", nm ? nm : "");
    op_text(tape, r, b, n, &k);
}

/* The gradient to show for r (see tg_tape_print), or NULL. */
static const void *shown_grad(const tg_tensor *r) {
    if (r->op == TG_OP_LEAF && r->u.gstore) return r->u.gstore;
    if (!r->grad) return NULL;
    if (r->op == TG_OP_PROXY) {
        tg_tensor *p = param_of(r);
        return p ? p->small.pext->gstore : NULL;
    }
    if (r->flags & TGF_GRAPH) return ((const tg_tensor *)r->grad)->data;
    return r->grad;
}

tg_status tg__qfail(tg_status s, const char *fmt, ...) {
    if (s != TG_ERR_NULL || !tg__null_keeps_last()) {
        va_list ap;
        va_start(ap, fmt);
        tg_set_last_errorv(s, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* --------------------------------------------------------------- print */

static tg_status print_tape(const tg_tape *tape, sink *s) {
    if (!tape) return tg__qfail(TG_ERR_NULL, "tape_sprint: tape is NULL");
    tg__fuse_force_all((tg_tape *)tape); /* prints values: lazy records compute theirs */
    if (!tg__unhalf((tg_tape *)tape)) return tape->status; /* every record in full (half.c) */
    /* column widths first */
    int wl = 0, ws = 2;
    FOR_RECORDS(tape, r, idx, {
        char b[LHS_MAX], sh[160];
        tg__lhs_text(tape, r, idx, b, sizeof b);
        int l = (int)strlen(b);
        wl = l > wl ? l : wl;
        l = (int)strlen(tg__shape_str(sh, sizeof sh, r->rank, r->shape));
        ws = l > ws ? l : ws;
    });
    tg__put(s, "tape: %zu record%s\n", tape->count, tape->count == 1 ? "" : "s");
    FOR_RECORDS(tape, r, idx, {
        char b[LHS_MAX], sh[160];
        tg__lhs_text(tape, r, idx, b, sizeof b);
        tg__put(s, "%-*s  %-*s  %s  ", wl, b, ws,
                tg__shape_str(sh, sizeof sh, r->rank, r->shape), tg_dtype_name((tg_dtype)r->dtype));
        tg__put_values(s, r->dtype, r->rank, r->shape, r->data);
        const void *g = shown_grad(r);
        if (g) {
            tg__put(s, "  grad ");
            tg__put_values(s, r->dtype, r->rank, r->shape, g);
        }
        tg__put(s, "\n");
    });
    if (tape->status != TG_OK) tg__put(s, "error: %s\n", tape->err);
    return s->err ? tg__qfail(TG_ERR_IO, "tape_print: writing failed: %s", strerror(errno)) : TG_OK;
}

tg_status tg_tape_print(const tg_tape *tape, FILE *out) {
    if (!tape || !out) return tg__qfail(TG_ERR_NULL, "tape_print: %s is NULL", tape ? "out" : "tape");
    sink s = {out, NULL, 0, 0, false};
    return print_tape(tape, &s);
}

size_t tg_tape_sprint(const tg_tape *tape, char *buf, size_t n) {
    if (buf && n) buf[0] = 0; /* a NULL tape: print_tape says so */
    sink s = {NULL, buf, buf ? n : 0, 0, false};
    print_tape(tape, &s);
    return s.len;
}

/* ----------------------------------------------------------------- DOT */

/* Writes text into a DOT string: quotes and backslashes escaped, "\n"
 * (the two characters) kept as DOT's line break. */
static void put_esc(sink *s, const char *t) {
    for (; *t; t++) {
        if (*t == '\\' && t[1] == 'n') {
            tg__put(s, "\\n");
            t++;
        } else if (*t == '"' || *t == '\\') {
            tg__put(s, "\\%c", *t);
        } else if (*t == '\n') {
            tg__put(s, "\\n");
        } else {
            tg__put(s, "%c", *t);
        }
    }
}

static tg_status dot_tape(const char *fn, const tg_tape *tape, const tg_tensor *only, sink *s) {
    if (!tape) return tg__qfail(TG_ERR_NULL, "%s: tape is NULL", fn);
    if (!tg__unhalf((tg_tape *)tape)) return tape->status; /* every record in full (half.c) */
    unsigned char *mark = NULL;
    if (only) {
        const tg_tensor *o = tg__full(only);
        bool param = o->flags & TGF_PARAM, old = !param && stale(only);
        int64_t oi = param || old || o->tape != tape ? -1 : tg__rec_index(tape, o);
        if (oi < 0)
            return tg__qfail(TG_ERR_ARG, "%s: the tensor to draw from is %s", fn,
                             param ? "a parameter (draw from a tensor of the pass that reads it)"
                             : old ? "stale (made before the last tg_tape_reset)"
                                   : "on another tape");
        mark = tg__calloc(tape->count ? tape->count : 1, 1);
        tg_tensor **recs = tg__malloc((tape->count ? tape->count : 1) * sizeof *recs);
        if (!mark || !recs) {
            tg__free(mark);
            tg__free(recs);
            return tg__qfail(TG_ERR_NOMEM, "%s: out of memory", fn);
        }
        FOR_RECORDS(tape, r, idx, { recs[idx] = r; });
        mark[oi] = 1;
        for (int64_t i = oi; i >= 0; i--) { /* inputs come before their users */
            if (!mark[i] || !tg__ops[recs[i]->op].nin) continue;
            tg_tensor *in[16];
            bool more;
            int m = tg__inputs_of(recs[i], in, 16, &more);
            for (int j = 0; j < m; j++) {
                int64_t k = in[j] ? tg__rec_index(tape, in[j]) : -1;
                if (k >= 0) mark[k] = 1;
            }
        }
        tg__free(recs);
    }
    tg__put(s, "digraph tapegrad {\n");
    tg__put(s, "  rankdir=LR;\n");
    tg__put(s, "  node [fontname=\"Helvetica\", fontsize=10];\n");
    tg__put(s, "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n");
    FOR_RECORDS(tape, r, idx, {
        if (mark && !mark[idx]) continue;
        /* the value's box */
        char lab[512], sh[160];
        sink ls = {NULL, lab, sizeof lab, 0, false};
        const char *nm = tg_tensor_name(r);
        if (nm) tg__put(&ls, "%s (#%zu)", nm, idx);
        else tg__put(&ls, "#%zu", idx);
        tg__put(&ls, "\\n%s %s\\n", tg__shape_str(sh, sizeof sh, r->rank, r->shape),
                tg_dtype_name((tg_dtype)r->dtype));
        tg__put_values(&ls, r->dtype, r->rank, r->shape, r->data);
        const void *g = shown_grad(r);
        if (g) {
            tg__put(&ls, "\\ngrad ");
            tg__put_values(&ls, r->dtype, r->rank, r->shape, g);
        }
        const char *style = "shape=box";
        if (r->op == TG_OP_PROXY)
            style = "shape=box, style=\"filled,bold\", fillcolor=\"#ffd8a8\"";
        else if (r->op == TG_OP_LEAF && (r->flags & TGF_REQ))
            style = "shape=box, style=\"filled,bold\", fillcolor=\"#cfe2ff\"";
        else if (r->op == TG_OP_LEAF)
            style = "shape=box, style=dashed";
        tg__put(s, "  v%zu [%s, label=\"", idx, style);
        put_esc(s, lab);
        tg__put(s, "\"];\n");
        if (!tg__ops[r->op].nin) continue;
        /* the op and its edges, inputs in order */
        tg__put(s, "  op%zu [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"%s",
                idx, tg__ops[r->op].name);
        if (scalar_op(r->op)) {
            tg__put(s, " ");
            tg__put_num(s, r->u.c);
        }
        tg__put(s, "\"];\n");
        tg_tensor *in[16];
        bool more;
        int m = tg__inputs_of(r, in, 16, &more);
        for (int j = 0; j < m; j++) {
            int64_t k = in[j] ? tg__rec_index(tape, in[j]) : -1;
            if (k < 0) continue;
            if (m > 1) tg__put(s, "  v%lld -> op%zu [label=\"%d\"];\n", (long long)k, idx, j);
            else tg__put(s, "  v%lld -> op%zu;\n", (long long)k, idx);
        }
        tg__put(s, "  op%zu -> v%zu;\n", idx, idx);
    });
    tg__put(s, "}\n");
    tg__free(mark);
    return s->err ? tg__qfail(TG_ERR_IO, "%s: writing failed: %s", fn, strerror(errno)) : TG_OK;
}

tg_status tg_tape_write_dot(const tg_tape *tape, const tg_tensor *only, FILE *out) {
    if (!out) return tg__qfail(TG_ERR_NULL, "tape_write_dot: out is NULL");
    sink s = {out, NULL, 0, 0, false};
    return dot_tape("tape_write_dot", tape, only, &s);
}

size_t tg_tape_sprint_dot(const tg_tape *tape, const tg_tensor *only, char *buf, size_t n) {
    if (buf && n) buf[0] = 0;
    sink s = {NULL, buf, buf ? n : 0, 0, false};
    if (dot_tape("tape_sprint_dot", tape, only, &s) != TG_OK) {
        if (buf && n) buf[0] = 0;
        return 0;
    }
    return s.len;
}
