/* inspect.c - seeing the chain rule: tensor names, gradient hooks, the
 * tape printed and drawn (Graphviz DOT), the backward trace and anomaly
 * mode. (The test-only op test_bad is in test_bad.c.)
 *
 * All of it lives in the tape's extension (struct tg_tape_ext), allocated
 * the first time a tape uses any of it, so a tape that never does pays
 * nothing. Names and hooks of tape tensors are kept in a small hash table
 * keyed by the record's address and tagged with the tape's generation: a
 * reset makes them disappear without any work in tg_tape_reset. A
 * parameter keeps its name and hook in its own tg_param_ext.
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
#include "tg_internal.h"

#include <math.h>
#include <stdio.h>

/* ------------------------------------------------------------ extension */

typedef struct ient {          /* one named or hooked tape tensor */
    const tg_tensor *t;        /* NULL: free slot */
    tg_grad_hook hook;
    void *ud;
    char name[TG_NAME_MAX];
} ient;

struct tg_tape_ext {
    uint32_t gen;              /* the pass the entries below belong to */
    ient *tab;                 /* open addressing, cap a power of two */
    size_t cap, n, nhooks;
    size_t nphooks;            /* proxies of hooked parameters in this pass */
    bool anomaly;
    FILE *trace;
    /* forward anomaly check: the first record not yet checked */
    uint32_t scan_gen;
    int scan_slab;
    size_t scan_pos, scan_idx;
    /* trace: d <dout> / d ... */
    char dout[TG_NAME_MAX + 24];
};

void tg__tape_ext_free(tg_tape *tape); /* called by tg_tape_free */
void tg__tape_ext_free(tg_tape *tape) {
    if (!tape || !tape->ext) return;
    tg__free(tape->ext->tab);
    tg__free(tape->ext);
    tape->ext = NULL;
}

static struct tg_tape_ext *ext_get(tg_tape *tape, const char *op) {
    if (!tape->ext) {
        tape->ext = tg__calloc(1, sizeof *tape->ext);
        if (!tape->ext) return tg__fail(tape, TG_ERR_NOMEM, op, "out of memory");
    }
    struct tg_tape_ext *e = tape->ext;
    if (e->gen != tape->gen) { /* a new pass: forget the last one's entries */
        if (e->tab) memset(e->tab, 0, e->cap * sizeof *e->tab);
        e->n = e->nhooks = e->nphooks = 0;
        e->gen = tape->gen;
    }
    return e;
}

static size_t hslot(const tg_tensor *t, size_t cap) {
    uint64_t h = (uint64_t)(uintptr_t)t >> 6; /* records are 64-byte slots */
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

/* The entry of t in this pass, or NULL. */
static ient *find(const tg_tape *tape, const tg_tensor *t) {
    const struct tg_tape_ext *e = tape->ext;
    if (!e || e->gen != tape->gen || !e->n) return NULL;
    for (size_t i = hslot(t, e->cap);; i = (i + 1) & (e->cap - 1)) {
        if (e->tab[i].t == t) return &e->tab[i];
        if (!e->tab[i].t) return NULL;
    }
}

/* t's entry, made if needed (NULL on OOM, recorded). */
static ient *entry(tg_tape *tape, const tg_tensor *t, const char *op) {
    struct tg_tape_ext *e = ext_get(tape, op);
    if (!e) return NULL;
    ient *x = find(tape, t);
    if (x) return x;
    if (2 * (e->n + 1) > e->cap) { /* grow: rehash into a table twice as big */
        size_t cap = e->cap ? 2 * e->cap : 16;
        ient *tab = tg__calloc(cap, sizeof *tab);
        if (!tab) return tg__fail(tape, TG_ERR_NOMEM, op, "out of memory");
        for (size_t i = 0; i < e->cap; i++) {
            if (!e->tab[i].t) continue;
            size_t j = hslot(e->tab[i].t, cap);
            while (tab[j].t) j = (j + 1) & (cap - 1);
            tab[j] = e->tab[i];
        }
        tg__free(e->tab);
        e->tab = tab;
        e->cap = cap;
    }
    size_t i = hslot(t, e->cap);
    while (e->tab[i].t) i = (i + 1) & (e->cap - 1);
    e->tab[i].t = t;
    e->n++;
    return &e->tab[i];
}

/* A live parameter behind t (t itself or the one a proxy stands for). */
static tg_tensor *param_of(const tg_tensor *t) {
    tg_tensor *p = NULL;
    if (t->flags & TGF_PARAM) p = (tg_tensor *)t;
    else if (t->op == TG_OP_PROXY) p = t->u.param;
    return p && (p->flags & TGF_PARAM) ? p : NULL;
}

static bool stale(const tg_tensor *t) { return !(t->flags & TGF_PARAM) && t->gen != t->tape->gen; }

/* ---------------------------------------------------------------- names */

tg_tensor *tg_tensor_set_name(tg_tensor *t, const char *name) {
    if (!t) return NULL;
    if (stale(t))
        return tg__fail(t->tape, TG_ERR_STALE, "set_name",
                        "the tensor is stale (made before the last tg_tape_reset)");
    char *dst;
    tg_tensor *p = param_of(t);
    if (p) {
        dst = p->small.pext->name;
    } else {
        if (!name || !name[0]) { /* removing needs no entry */
            ient *x = find(t->tape, t);
            if (x) x->name[0] = 0;
            return t;
        }
        ient *x = entry(t->tape, t, "set_name");
        if (!x) return NULL;
        dst = x->name;
    }
    size_t k = 0;
    if (name)
        for (; name[k] && k + 1 < TG_NAME_MAX; k++) dst[k] = name[k];
    dst[k] = 0;
    return t;
}

const char *tg_tensor_name(const tg_tensor *t) {
    if (!t) return NULL;
    tg_tensor *p = param_of(t);
    if (p) return p->small.pext->name[0] ? p->small.pext->name : NULL;
    if (stale(t)) return NULL;
    const ient *x = find(t->tape, t);
    return x && x->name[0] ? x->name : NULL;
}

/* ---------------------------------------------------------------- hooks */

tg_tensor *tg_tensor_set_hook(tg_tensor *t, tg_grad_hook fn, void *ud) {
    if (!t) return NULL;
    if (t->flags & TGF_PARAM) {
        if (!(t->flags & TGF_REQ)) return NULL; /* a parameter's gradient record */
        t->small.pext->hook = fn;
        t->small.pext->hook_ud = ud;
        return t;
    }
    tg_tape *tape = t->tape;
    if (stale(t))
        return tg__fail(tape, TG_ERR_STALE, "set_hook",
                        "the tensor is stale (made before the last tg_tape_reset)");
    if (!(t->flags & TGF_REQ))
        return tg__fail(tape, TG_ERR_STATE, "set_hook",
                        "the tensor does not require grad, so no gradient reaches it");
    tg_tensor *p = param_of(t);
    if (p) { /* a proxy: the hook belongs to the parameter */
        p->small.pext->hook = fn;
        p->small.pext->hook_ud = ud;
        if (fn) tg__inspect_param_hook(tape);
        return tape->status == TG_OK || fn == NULL ? t : NULL;
    }
    ient *x = fn ? entry(tape, t, "set_hook") : find(tape, t);
    if (!x) return fn ? NULL : t;
    if (!x->hook && fn) tape->ext->nhooks++;
    if (x->hook && !fn) tape->ext->nhooks--;
    x->hook = fn;
    x->ud = ud;
    return t;
}

void tg__inspect_param_hook(tg_tape *tape) {
    struct tg_tape_ext *e = ext_get(tape, "param");
    if (e) e->nphooks++;
}

/* -------------------------------------------------------------- writing */

/* Text goes to a FILE or into a buffer (snprintf semantics). */
typedef struct sink {
    FILE *f;
    char *buf;
    size_t cap, len;
    bool err;
} sink;

static void put(sink *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put(sink *s, const char *fmt, ...) {
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
static void put_num(sink *s, double v) {
    if (isnan(v)) put(s, "nan");
    else if (isinf(v)) put(s, v < 0 ? "-inf" : "inf");
    else put(s, "%.6g", v == 0 ? 0.0 : v); /* no "-0" */
}

static double elem(int dt, const void *d, int64_t i) {
    switch (dt) {
    case TG_F32: return ((const float *)d)[i];
    case TG_F64: return ((const double *)d)[i];
    default: return (double)((const int64_t *)d)[i];
    }
}

/* A value: scalars in full, up to 6 elements listed, larger tensors as
 * min/mean/max and the first 4 values. */
static void put_values(sink *s, int dt, int rank, const int64_t *shape, const void *data) {
    if (!data) {
        put(s, "?");
        return;
    }
    int64_t n = 1;
    for (int d = 0; d < rank; d++) n *= shape[d];
    if (rank == 0) {
        put_num(s, elem(dt, data, 0));
        return;
    }
    if (n == 0) {
        put(s, "(empty)");
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
        put(s, "min ");
        put_num(s, lo);
        put(s, " mean ");
        put_num(s, sum / (double)n);
        put(s, " max ");
        put_num(s, hi);
        put(s, " ");
        show = 4;
    }
    put(s, "[");
    for (int64_t i = 0; i < show; i++) {
        if (i) put(s, ", ");
        put_num(s, elem(dt, data, i));
    }
    put(s, n > show ? ", ...]" : "]");
}

static const char *dtype_name(int dt) {
    return dt == TG_F32 ? "f32" : dt == TG_F64 ? "f64" : dt == TG_I64 ? "i64" : "?";
}

/* The index of record t on the current pass, or -1. */
static int64_t rec_index(const tg_tape *tape, const tg_tensor *t) {
    size_t base = 0;
    uintptr_t a = (uintptr_t)t;
    for (int s = 0; s <= tape->cur && s < tape->nslab; s++) {
        uintptr_t b = (uintptr_t)tape->slabs[s].slot;
        size_t used = s == tape->cur ? tape->pos : tape->slabs[s].cap;
        if (a >= b && a < b + used * sizeof(tg_tensor))
            return (int64_t)(base + (a - b) / sizeof(tg_tensor));
        base += tape->slabs[s].cap;
    }
    return -1;
}

/* Every record of the current pass in order; idx counts from 0 (slabs
 * before the current one are always full). */
#define FOR_RECORDS(tape, r, idx, ...)                                               \
    do {                                                                             \
        size_t idx = 0;                                                              \
        for (int s_ = 0; s_ <= (tape)->cur && s_ < (tape)->nslab; s_++) {            \
            tg_tensor *b_ = (tape)->slabs[s_].slot;                                  \
            size_t u_ = s_ == (tape)->cur ? (tape)->pos : (tape)->slabs[s_].cap;     \
            for (size_t p_ = 0; p_ < u_; p_++, idx++) {                              \
                tg_tensor *r = b_ + p_;                                              \
                __VA_ARGS__                                                          \
            }                                                                        \
        }                                                                            \
    } while (0)

/* Appends to a fixed buffer, cutting at its end. */
static void app(char *b, size_t n, size_t *k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void app(char *b, size_t n, size_t *k, const char *fmt, ...) {
    if (*k >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(b + *k, n - *k, fmt, ap);
    va_end(ap);
    if (m > 0) *k += (size_t)m;
    if (*k >= n) *k = n - 1;
}

/* "x" or "#3" (how the trace names a value). */
static const char *label(const tg_tape *tape, const tg_tensor *t, char *b, size_t n) {
    const char *nm = tg_tensor_name(t);
    if (nm) snprintf(b, n, "%s", nm);
    else snprintf(b, n, "#%lld", (long long)rec_index(tape, t));
    return b;
}

/* "#3 x" or "#3" (how an input is referred to). */
static void ref(const tg_tape *tape, const tg_tensor *t, char *b, size_t n, size_t *k) {
    if (!t) {
        app(b, n, k, "?");
        return;
    }
    const char *nm = tg_tensor_name(t);
    app(b, n, k, "#%lld%s%s", (long long)rec_index(tape, t), nm ? " " : "", nm ? nm : "");
}

static bool scalar_op(int op) {
    return op == TG_OP_ADDC || op == TG_OP_RSUBC || op == TG_OP_MULC || op == TG_OP_DIVC ||
           op == TG_OP_RDIVC || op == TG_OP_POWC;
}

/* The inputs of r, at most `max` (false if r has more). */
static int inputs_of(const tg_tensor *r, tg_tensor **in, int max, bool *more) {
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
        app(b, n, k, (r->flags & TGF_REQ) ? "leaf, requires grad" : "leaf");
        return;
    }
    if (r->op == TG_OP_PROXY) {
        app(b, n, k, "param");
        return;
    }
    tg_tensor *in[8];
    bool more;
    int m = inputs_of(r, in, 8, &more);
    app(b, n, k, "%s(", d->name);
    for (int i = 0; i < m; i++) {
        if (i) app(b, n, k, ", ");
        ref(tape, in[i], b, n, k);
    }
    if (more) app(b, n, k, ", ...");
    if (scalar_op(r->op)) app(b, n, k, ", %.6g", r->u.c);
    app(b, n, k, ")");
}

/* "#2 z = mul(#0 x, #1 y)" */
static void lhs_text(const tg_tape *tape, const tg_tensor *r, size_t idx, char *b, size_t n) {
    size_t k = 0;
    b[0] = 0;
    const char *nm = tg_tensor_name(r);
    app(b, n, &k, "#%zu%s%s = ", idx, nm ? " " : "", nm ? nm : "");
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

/* The working gradient's data during a sweep. */
static void *work_grad(const tg_tensor *r) {
    if (!r->grad) return NULL;
    return (r->flags & TGF_GRAPH) ? ((tg_tensor *)r->grad)->data : r->grad;
}

/* --------------------------------------------------------------- print */

enum { LHS_MAX = 160 };

static tg_status print_tape(const tg_tape *tape, sink *s) {
    if (!tape) return TG_ERR_NULL;
    /* column widths first */
    int wl = 0, ws = 2;
    FOR_RECORDS(tape, r, idx, {
        char b[LHS_MAX], sh[160];
        lhs_text(tape, r, idx, b, sizeof b);
        int l = (int)strlen(b);
        wl = l > wl ? l : wl;
        l = (int)strlen(tg__shape_str(sh, sizeof sh, r->rank, r->shape));
        ws = l > ws ? l : ws;
    });
    put(s, "tape: %zu record%s\n", tape->count, tape->count == 1 ? "" : "s");
    FOR_RECORDS(tape, r, idx, {
        char b[LHS_MAX], sh[160];
        lhs_text(tape, r, idx, b, sizeof b);
        put(s, "%-*s  %-*s  %s  ", wl, b, ws, tg__shape_str(sh, sizeof sh, r->rank, r->shape),
            dtype_name(r->dtype));
        put_values(s, r->dtype, r->rank, r->shape, r->data);
        const void *g = shown_grad(r);
        if (g) {
            put(s, "  grad ");
            put_values(s, r->dtype, r->rank, r->shape, g);
        }
        put(s, "\n");
    });
    if (tape->status != TG_OK) put(s, "error: %s\n", tape->err);
    return s->err ? TG_ERR_IO : TG_OK;
}

tg_status tg_tape_print(const tg_tape *tape, FILE *out) {
    if (!tape || !out) return TG_ERR_NULL;
    sink s = {out, NULL, 0, 0, false};
    return print_tape(tape, &s);
}

size_t tg_tape_sprint(const tg_tape *tape, char *buf, size_t n) {
    if (!tape) return 0;
    if (buf && n) buf[0] = 0;
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
            put(s, "\\n");
            t++;
        } else if (*t == '"' || *t == '\\') {
            put(s, "\\%c", *t);
        } else if (*t == '\n') {
            put(s, "\\n");
        } else {
            put(s, "%c", *t);
        }
    }
}

static tg_status dot_tape(const tg_tape *tape, const tg_tensor *only, sink *s) {
    if (!tape) return TG_ERR_NULL;
    unsigned char *mark = NULL;
    if (only) {
        int64_t oi = stale(only) || only->tape != tape ? -1 : rec_index(tape, only);
        if (oi < 0) return TG_ERR_ARG;
        mark = tg__calloc(tape->count ? tape->count : 1, 1);
        tg_tensor **recs = tg__malloc((tape->count ? tape->count : 1) * sizeof *recs);
        if (!mark || !recs) {
            tg__free(mark);
            tg__free(recs);
            return TG_ERR_NOMEM;
        }
        FOR_RECORDS(tape, r, idx, { recs[idx] = r; });
        mark[oi] = 1;
        for (int64_t i = oi; i >= 0; i--) { /* inputs come before their users */
            if (!mark[i] || !tg__ops[recs[i]->op].nin) continue;
            tg_tensor *in[16];
            bool more;
            int m = inputs_of(recs[i], in, 16, &more);
            for (int j = 0; j < m; j++) {
                int64_t k = in[j] ? rec_index(tape, in[j]) : -1;
                if (k >= 0) mark[k] = 1;
            }
        }
        tg__free(recs);
    }
    put(s, "digraph tapegrad {\n");
    put(s, "  rankdir=LR;\n");
    put(s, "  node [fontname=\"Helvetica\", fontsize=10];\n");
    put(s, "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n");
    FOR_RECORDS(tape, r, idx, {
        if (mark && !mark[idx]) continue;
        /* the value's box */
        char lab[512], sh[160];
        sink ls = {NULL, lab, sizeof lab, 0, false};
        const char *nm = tg_tensor_name(r);
        if (nm) put(&ls, "%s (#%zu)", nm, idx);
        else put(&ls, "#%zu", idx);
        put(&ls, "\\n%s %s\\n", tg__shape_str(sh, sizeof sh, r->rank, r->shape),
            dtype_name(r->dtype));
        put_values(&ls, r->dtype, r->rank, r->shape, r->data);
        const void *g = shown_grad(r);
        if (g) {
            put(&ls, "\\ngrad ");
            put_values(&ls, r->dtype, r->rank, r->shape, g);
        }
        const char *style = "shape=box";
        if (r->op == TG_OP_PROXY)
            style = "shape=box, style=\"filled,bold\", fillcolor=\"#ffd8a8\"";
        else if (r->op == TG_OP_LEAF && (r->flags & TGF_REQ))
            style = "shape=box, style=\"filled,bold\", fillcolor=\"#cfe2ff\"";
        else if (r->op == TG_OP_LEAF)
            style = "shape=box, style=dashed";
        put(s, "  v%zu [%s, label=\"", idx, style);
        put_esc(s, lab);
        put(s, "\"];\n");
        if (!tg__ops[r->op].nin) continue;
        /* the op and its edges, inputs in order */
        put(s, "  op%zu [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"%s",
            idx, tg__ops[r->op].name);
        if (scalar_op(r->op)) {
            put(s, " ");
            put_num(s, r->u.c);
        }
        put(s, "\"];\n");
        tg_tensor *in[16];
        bool more;
        int m = inputs_of(r, in, 16, &more);
        for (int j = 0; j < m; j++) {
            int64_t k = in[j] ? rec_index(tape, in[j]) : -1;
            if (k < 0) continue;
            if (m > 1) put(s, "  v%lld -> op%zu [label=\"%d\"];\n", (long long)k, idx, j);
            else put(s, "  v%lld -> op%zu;\n", (long long)k, idx);
        }
        put(s, "  op%zu -> v%zu;\n", idx, idx);
    });
    put(s, "}\n");
    tg__free(mark);
    return s->err ? TG_ERR_IO : TG_OK;
}

tg_status tg_tape_write_dot(const tg_tape *tape, const tg_tensor *only, FILE *out) {
    if (!tape || !out) return TG_ERR_NULL;
    sink s = {out, NULL, 0, 0, false};
    return dot_tape(tape, only, &s);
}

size_t tg_tape_sprint_dot(const tg_tape *tape, const tg_tensor *only, char *buf, size_t n) {
    if (!tape) return 0;
    if (buf && n) buf[0] = 0;
    sink s = {NULL, buf, buf ? n : 0, 0, false};
    if (dot_tape(tape, only, &s) != TG_OK) {
        if (buf && n) buf[0] = 0;
        return 0;
    }
    return s.len;
}

/* ------------------------------------------------------------ settings */

void tg_tape_set_trace(tg_tape *tape, FILE *out) {
    if (!tape) return;
    if (!out && !tape->ext) return; /* off needs no extension */
    struct tg_tape_ext *e = ext_get(tape, "set_trace");
    if (e) e->trace = out;
}

bool tg_tape_set_anomaly(tg_tape *tape, bool on) {
    if (!tape) return false;
    bool old = tape->ext && tape->ext->anomaly;
    if (!on && !tape->ext) return old;
    struct tg_tape_ext *e = ext_get(tape, "set_anomaly");
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
    int m = inputs_of(r, in, 8, &more);
    for (int i = 0; i < m; i++) {
        char sh[160];
        if (i) app(b, n, &k, ", ");
        ref(tape, in[i], b, n, &k);
        if (!in[i]) continue;
        app(b, n, &k, " %s", tg__shape_str(sh, sizeof sh, in[i]->rank, in[i]->shape));
        if (tg__numel(in[i]) == 1 && in[i]->data) {
            char v[48];
            sink vs = {NULL, v, sizeof v, 0, false};
            put_num(&vs, elem(in[i]->dtype, in[i]->data, 0));
            app(b, n, &k, " = %s", v);
        }
    }
    if (more) app(b, n, &k, ", ...");
    if (!m) app(b, n, &k, "none");
}

static const char *bad_word(double v, char *b, size_t n) {
    sink s = {NULL, b, n, 0, false};
    put_num(&s, v);
    return b;
}

/* Checks the forward outputs recorded since the last check. */
static void scan_forward(tg_tape *tape, struct tg_tape_ext *e) {
    if (e->scan_gen != tape->gen) {
        e->scan_gen = tape->gen;
        e->scan_slab = 0;
        e->scan_pos = e->scan_idx = 0;
    }
    size_t idx = e->scan_idx;
    for (int s = e->scan_slab; s <= tape->cur && s < tape->nslab; s++) {
        tg_tensor *base = tape->slabs[s].slot;
        size_t used = s == tape->cur ? tape->pos : tape->slabs[s].cap;
        for (size_t p = s == e->scan_slab ? e->scan_pos : 0; p < used; p++, idx++) {
            tg_tensor *r = base + p;
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
    e->scan_slab = tape->cur;
    e->scan_pos = tape->pos;
    e->scan_idx = idx;
}

tg_status tg_tape_check_finite(tg_tape *tape) {
    if (!tape) return TG_ERR_NULL;
    struct tg_tape_ext *e = ext_get(tape, "check_finite");
    if (e) scan_forward(tape, e);
    return tape->status;
}

/* --------------------------------------------------------------- sweep */

bool tg__inspect_begin(tg_tape *tape, tg_tensor *out) {
    struct tg_tape_ext *e = ext_get(tape, "backward");
    if (!e) return false;
    if (e->anomaly) scan_forward(tape, e);
    if (tape->status != TG_OK) return false;
    if (e->trace) {
        char b[TG_NAME_MAX + 24];
        label(tape, out, e->dout, sizeof e->dout);
        const char *nm = tg_tensor_name(out);
        if (nm) snprintf(b, sizeof b, " (#%lld)", (long long)rec_index(tape, out));
        else b[0] = 0;
        fprintf(e->trace, "backward from %s%s\n", e->dout, b);
    }
    return e->anomaly || e->trace || e->nhooks || e->nphooks;
}

/* Runs a hook on r's complete gradient; `user` is what the user hooked. */
static bool run_hook(tg_tape *tape, tg_tensor *r, tg_tensor *user, tg_grad_hook fn, void *ud) {
    bool graph = r->flags & TGF_GRAPH;
    tg_tensor *g = graph ? r->grad : tg__wrap(tape, r->dtype, r->rank, r->shape, r->grad);
    if (!g) return false;
    tg_tensor *res = fn(user, g, ud);
    char lb[TG_NAME_MAX + 24];
    if (!res) {
        tg__fail(tape, TG_ERR_STATE, "backward", "the gradient hook of %s returned NULL",
                 label(tape, r, lb, sizeof lb));
        return false;
    }
    if (res != g) {
        if ((res->flags & TGF_PARAM) || res->tape != tape || res->gen != tape->gen ||
            res->dtype != r->dtype || !tg__same_shape(res, r)) {
            char b0[160], b1[160];
            tg__fail(tape, TG_ERR_SHAPE, "backward",
                     "the gradient hook of %s returned a %s %s tensor (or one not on this "
                     "pass) for a %s %s gradient",
                     label(tape, r, lb, sizeof lb), dtype_name(res->dtype),
                     tg__shape_str(b0, sizeof b0, res->rank, res->shape), dtype_name(r->dtype),
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
    put_values(&s, t->dtype, t->rank, t->shape, data);
}

/* The trace's arithmetic makes temporary records and data; it gives them
 * back afterwards (nothing else holds them), so that a traced tape prints
 * and draws the same as an untraced one. */
typedef struct tmark {
    int cur, dcur;
    size_t pos, count, used, dbytes;
} tmark;

static tmark mark(const tg_tape *t) {
    tmark m = {t->cur, t->dcur, t->pos, t->count, 0, t->dbytes};
    if (t->dcur < t->nchunk) m.used = t->chunks[t->dcur].used;
    return m;
}

static void release(tg_tape *t, const tmark *m) {
    t->cur = m->cur;
    t->pos = m->pos;
    t->count = m->count;
    for (int i = m->dcur + 1; i < t->nchunk; i++) t->chunks[i].used = 0;
    if (m->dcur < t->nchunk) t->chunks[m->dcur].used = m->used;
    t->dcur = m->dcur;
    t->dbytes = m->dbytes;
}

/* The chain-rule lines of record r (its gradient complete). */
static bool trace_record(tg_tape *tape, struct tg_tape_ext *e, tg_tensor *r, size_t idx) {
    FILE *f = e->trace;
    char lr[TG_NAME_MAX + 24], li[TG_NAME_MAX + 24];
    label(tape, r, lr, sizeof lr);
    if (!tg__ops[r->op].nin) { /* a leaf: its gradient is complete */
        fprintf(f, "d %s/d %s = ", e->dout, lr);
        trace_values(f, r, work_grad(r));
        fputc('\n', f);
        return true;
    }
    char b[LHS_MAX];
    lhs_text(tape, r, idx, b, sizeof b);
    fprintf(f, "%s\n", b);
    tg_tensor *in[16];
    bool more;
    int n = inputs_of(r, in, 16, &more);
    if (more) {
        fprintf(f, "  (more than 16 inputs: not traced)\n");
        return true;
    }
    bool graph = r->flags & TGF_GRAPH;
    bool was = tape->grad_enabled;
    tape->grad_enabled = false; /* the trace's own arithmetic is never recorded */
    tmark m = mark(tape);
    const tg_op_desc *d = &tg__ops[r->op];
    tg_tensor *g = graph ? r->grad : tg__wrap(tape, r->dtype, r->rank, r->shape, r->grad);
    bool ok = g != NULL;
    for (int i = 0; ok && i < n; i++) {
        if (!(in[i]->flags & TGF_REQ)) continue;
        tg_tensor *c = d->vjp(r, g, i);
        if (!c) {
            ok = false;
            break;
        }
        label(tape, in[i], li, sizeof li);
        sink s = {f, NULL, 0, 0, false};
        if (tg__numel(r) == 1 && tg__numel(in[i]) == 1) {
            /* scalars: the whole multiplication, with the local derivative
             * d r / d in = the op's graph backward at an incoming 1 */
            tg_tensor *one = tg_ones(tape, (tg_dtype)r->dtype, r->rank, r->shape);
            tg_tensor *loc = one ? d->vjp(r, one, i) : NULL;
            if (!loc) {
                ok = false;
                break;
            }
            put(&s, "  d %s/d %s += d %s/d %s (", e->dout, li, e->dout, lr);
            put_num(&s, elem(g->dtype, g->data, 0));
            put(&s, ") * d %s/d %s (", lr, li);
            put_num(&s, elem(loc->dtype, loc->data, 0));
            put(&s, ") = ");
            put_num(&s, elem(c->dtype, c->data, 0));
            put(&s, "\n");
        } else {
            char sh[160];
            put(&s, "  d %s/d %s += d %s/d %s %s (", e->dout, li, e->dout, lr,
                tg__shape_str(sh, sizeof sh, r->rank, r->shape));
            put_values(&s, g->dtype, g->rank, g->shape, g->data);
            put(&s, ") through %s = %s (", d->name,
                tg__shape_str(sh, sizeof sh, c->rank, c->shape));
            put_values(&s, c->dtype, c->rank, c->shape, c->data);
            put(&s, ")\n");
        }
    }
    tape->grad_enabled = was;
    release(tape, &m);
    return ok;
}

bool tg__inspect_pre(tg_tape *tape, tg_tensor *r) {
    struct tg_tape_ext *e = tape->ext;
    /* hooks: a parameter's (through its proxy) or a tape tensor's */
    if (r->op == TG_OP_PROXY) {
        tg_tensor *p = param_of(r);
        if (p && p->small.pext->hook &&
            !run_hook(tape, r, p, p->small.pext->hook, p->small.pext->hook_ud))
            return false;
    } else if (e->nhooks) {
        ient *x = find(tape, r);
        if (x && x->hook && !run_hook(tape, r, r, x->hook, x->ud)) return false;
    }
    if (e->trace) {
        int64_t idx = rec_index(tape, r);
        if (!trace_record(tape, e, r, idx < 0 ? 0 : (size_t)idx)) return false;
    }
    return true;
}

bool tg__inspect_post(tg_tape *tape, tg_tensor *r) {
    struct tg_tape_ext *e = tape->ext;
    if (!e->anomaly || !tg__ops[r->op].nin) return true;
    tg_tensor *in[16];
    bool more;
    int n = inputs_of(r, in, 16, &more);
    for (int i = 0; i < n; i++) {
        if (!in[i] || !(in[i]->flags & TGF_REQ)) continue;
        int64_t bad = first_bad(in[i]->dtype, work_grad(in[i]), tg__numel(in[i]));
        if (bad < 0) continue;
        char ins[200], w[48], og[64];
        size_t k = 0;
        ins[0] = 0;
        ref(tape, in[i], ins, sizeof ins, &k);
        app(ins, sizeof ins, &k, " %s", tg__shape_str(w, sizeof w, in[i]->rank, in[i]->shape));
        if (tg__numel(in[i]) == 1) {
            app(ins, sizeof ins, &k, " = %s",
                bad_word(elem(in[i]->dtype, in[i]->data, 0), w, sizeof w));
        }
        sink os = {NULL, og, sizeof og, 0, false};
        put_values(&os, r->dtype, r->rank, r->shape, work_grad(r));
        const char *nm = tg_tensor_name(r);
        tg__fail(tape, TG_ERR_NUMERIC, tg__ops[r->op].name,
                 "anomaly in the backward of record #%lld%s%s%s: the gradient it gives "
                 "input %d (%s) has %s at element %lld; its output gradient: %s",
                 (long long)rec_index(tape, r), nm ? " (" : "", nm ? nm : "", nm ? ")" : "",
                 i + 1, ins,
                 bad_word(elem(in[i]->dtype, work_grad(in[i]), bad), w, sizeof w),
                 (long long)bad, og);
        return false;
    }
    return true;
}
