/* print.c - tg_tensor_print: one tensor as NumPy prints an array, with
 * nested brackets, aligned columns, "..." over the middle of big tensors,
 * then its dtype and shape.
 *
 * Every element shown is formatted twice: once to find the widest, then
 * padded to that width, so that columns line up across rows (NumPy's
 * rule). The elements shown are those within `edgeitems` of either end of
 * every axis when the tensor has more than `threshold` elements, else all.
 */
#include "inspect_private.h"

#include <math.h>

typedef struct pctx {
    sink *s;
    int dt, rank;
    const int64_t *shape;
    const void *data;
    int64_t stride[TG_MAX_RANK];
    int prec, edge;
    bool sci, summ;
    int width;
    double maxabs, minabs;     /* of the finite elements shown */
} pctx;

static void fmt_elem(const pctx *c, double v, char *b, size_t n) {
    if (isnan(v)) snprintf(b, n, "nan");
    else if (isinf(v)) snprintf(b, n, v < 0 ? "-inf" : "inf");
    else if (c->dt == TG_I64) snprintf(b, n, "%lld", (long long)v);
    else if (c->sci) snprintf(b, n, "%.*e", c->prec, v == 0 ? 0.0 : v);
    else snprintf(b, n, "%.*f", c->prec, v == 0 ? 0.0 : v);
}

static double value_at(const pctx *c, int64_t i) {
    if (c->dt == TG_I64) return (double)((const int64_t *)c->data)[i];
    return elem(c->dt, c->data, i);
}

/* Whether index i of an axis of n elements is shown. */
static bool shown(const pctx *c, int64_t i, int64_t n) {
    return !c->summ || n <= 2 * c->edge || i < c->edge || i >= n - c->edge;
}

/* Visits the shown elements: fn(c, flat index). */
static void each_shown(pctx *c, int axis, int64_t base, void (*fn)(pctx *, int64_t)) {
    if (axis == c->rank) {
        fn(c, base);
        return;
    }
    for (int64_t i = 0; i < c->shape[axis]; i++)
        if (shown(c, i, c->shape[axis])) each_shown(c, axis + 1, base + i * c->stride[axis], fn);
}

static void scan_abs(pctx *c, int64_t i) {
    double a = fabs(value_at(c, i));
    if (!isfinite(a)) return;
    if (a > c->maxabs) c->maxabs = a;
    if (a > 0 && a < c->minabs) c->minabs = a;
}

static void scan_width(pctx *c, int64_t i) {
    char b[64];
    fmt_elem(c, value_at(c, i), b, sizeof b);
    int w = (int)strlen(b);
    if (w > c->width) c->width = w;
}

/* The part of the tensor at `axis` from flat index `base`; `ind` the
 * column the brackets of this axis start in. */
static void put_axis(pctx *c, int axis, int64_t base, int ind) {
    sink *s = c->s;
    tg__put(s, "[");
    int64_t n = c->shape[axis];
    bool first = true;
    for (int64_t i = 0; i < n; i++) {
        if (!shown(c, i, n)) {
            if (i == c->edge) { /* the gap, once */
                if (axis == c->rank - 1) {
                    tg__put(s, ", ...");
                } else {
                    tg__put(s, ",\n");
                    for (int k = 0; k < c->rank - axis - 2; k++) tg__put(s, "\n");
                    tg__put(s, "%*s...", ind + 1, "");
                }
            }
            continue;
        }
        if (!first) {
            if (axis == c->rank - 1) {
                tg__put(s, ", ");
            } else { /* a new line; a blank one per axis further in than 1 */
                tg__put(s, ",\n");
                for (int k = 0; k < c->rank - axis - 2; k++) tg__put(s, "\n");
                tg__put(s, "%*s", ind + 1, "");
            }
        }
        first = false;
        int64_t at = base + i * c->stride[axis];
        if (axis == c->rank - 1) {
            char b[64];
            fmt_elem(c, value_at(c, at), b, sizeof b);
            tg__put(s, "%*s", c->width, b);
        } else {
            put_axis(c, axis + 1, at, ind + 1);
        }
    }
    tg__put(s, "]");
}

static void print_tensor(sink *s, const tg_tensor *h, const tg_print_opts *o) {
    if (!h) {
        tg__put(s, "tensor(NULL)\n");
        return;
    }
    const tg_tensor *t = tg__full(h);
    if (stale(h)) {
        tg__put(s, "tensor(stale: made on an earlier pass of its tape)\n");
        return;
    }
    if (!tg__ready((tg_tensor *)t)) { /* a lazy record computes its data */
        tg__put(s, "tensor(error: %s)\n", tg_tape_error(t->tape));
        return;
    }
    pctx c = {0};
    c.s = s;
    c.dt = t->dtype;
    c.rank = t->rank;
    c.shape = t->shape;
    c.data = t->data;
    c.prec = o && o->precision > 0 ? (o->precision > 17 ? 17 : o->precision) : 4;
    c.edge = o && o->edgeitems > 0 ? o->edgeitems : 3;
    int64_t threshold = o && o->threshold > 0 ? o->threshold : 1000;
    int64_t n = tg__numel(t);
    c.summ = n > threshold;
    int64_t st64 = 1;
    for (int k = c.rank - 1; k >= 0; k--) {
        c.stride[k] = st64;
        st64 *= c.shape[k];
    }
    tg__put(s, "tensor(");
    if (!c.data && n > 0) {
        tg__put(s, "?");
    } else if (n == 0) {
        tg__put(s, "[]");
    } else {
        if (c.dt != TG_I64) { /* NumPy: scientific when the magnitudes call for it */
            c.minabs = INFINITY;
            each_shown(&c, 0, 0, scan_abs);
            c.sci = c.maxabs >= 1e8 || (c.minabs < pow(10, -c.prec) && c.minabs > 0);
        }
        each_shown(&c, 0, 0, scan_width);
        if (c.rank == 0) {
            char b[64];
            fmt_elem(&c, value_at(&c, 0), b, sizeof b);
            tg__put(s, "%s", b);
        } else {
            put_axis(&c, 0, 0, 7); /* "tensor(" is 7 columns */
        }
    }
    char sh[160];
    tg__put(s, ", dtype=%s, shape=%s", tg_dtype_name((tg_dtype)c.dt),
            tg__shape_str(sh, sizeof sh, c.rank, c.shape));
    const char *nm = tg_tensor_name(h);
    if (nm) tg__put(s, ", name=\"%s\"", nm);
    tg__put(s, ")\n");
}

tg_status tg_tensor_print(FILE *out, const tg_tensor *t, const tg_print_opts *opts) {
    if (!out) return TG_ERR_NULL;
    sink s = {out, NULL, 0, 0, false};
    print_tensor(&s, t, opts);
    return s.err ? TG_ERR_IO : TG_OK;
}

size_t tg_tensor_sprint(char *buf, size_t n, const tg_tensor *t, const tg_print_opts *opts) {
    if (buf && n) buf[0] = 0;
    sink s = {NULL, buf, buf ? n : 0, 0, false};
    print_tensor(&s, t, opts);
    return s.len;
}
