/* higher.c - higher-order derivatives and forward mode, built on tg_grad.
 *
 * Nothing here knows any op. Everything rests on one fact: with
 * TG_CREATE_GRAPH the reverse sweep is itself recorded from ops, so a
 * gradient is an ordinary tensor on the tape and can be swept again.
 *
 *   driver     result          how
 *   vjp        u^T J           one sweep seeded with u
 *   jvp        J v             w(u) = J^T u recorded, then d/du <w(u), v>
 *   hvp        H v             g = grad(out) recorded, then d/dx <g, v>
 *   jacobian   J               one sweep per row, seeded with a one-hot
 *   hessian    H               jacobian of the recorded gradient
 *
 * Each takes a list of inputs xs (the _n forms; the one-input drivers are
 * the same code with n = 1): one sweep gives the gradients of all of them,
 * and the inner products above sum over the list, which brings in the
 * cross terms (hvp: hv_i = sum_j H_ij v_j).
 *
 * None of this touches the numeric (first-order) sweep in backward.c.
 */
#include "tg_sweep.h"

/* Users' tensors and tg_grad's results are handles (tg_engine.h): the
 * helpers below read records through tg__rec, so that they take either. */

/* ------------------------------------------------------------- checks */

/* Validates y (the output) and x (the variable) of driver `op`, and an
 * optional third operand z (NULL allowed). Parameters become proxies.
 * Returns the tape or NULL (error recorded where a tape is known). */
static tg_tape *operands(const char *op, tg_tensor **y, tg_tensor **x, tg_tensor **z) {
    /* the variable x itself, not a PROMOTE of it (tg__operand's answer for
     * a half): a half is given its full copy (half.c) */
    if (*x && tg__is_half(tg__rec(*x))) *x = tg__full(*x);
    tg_tensor *in[3] = {*y, *x, z ? *z : NULL};
    int n = z && *z ? 3 : 2;
    tg_tape *tape = tg__check(op, n, in, false);
    if (!tape) return NULL;
    *y = in[0], *x = in[1];
    if (n == 3) *z = in[2];
    char b[160];
    for (int i = 0; i < 2; i++)
        if (!tg__is_float(in[i]->dtype))
            return tg__fail(tape, TG_ERR_DTYPE, op, "%s %s is not a float tensor",
                            i ? "the input x" : "the output",
                            tg__shape_str(b, sizeof b, in[i]->rank, in[i]->shape));
    if (!((*x)->flags & TGF_REQ))
        return tg__fail(tape, TG_ERR_STATE, op,
                        "x %s does not require grad (mark it with tg_requires_grad)",
                        tg__shape_str(b, sizeof b, (*x)->rank, (*x)->shape));
    return tape;
}

/* t must have like's shape and dtype ("v has shape [3] but x has shape
 * [2,2]"). */
static bool matches(const char *op, tg_tape *tape, const tg_tensor *t, const char *tname,
                    const tg_tensor *like, const char *lname) {
    char b0[160], b1[160];
    t = tg__full(t), like = tg__full(like);
    if (!tg__same_shape(t, like)) {
        tg__fail(tape, TG_ERR_SHAPE, op, "%s has shape %s but %s has shape %s", tname,
                 tg__shape_str(b0, sizeof b0, t->rank, t->shape), lname,
                 tg__shape_str(b1, sizeof b1, like->rank, like->shape));
        return false;
    }
    if (t->dtype != like->dtype) {
        tg__fail(tape, TG_ERR_DTYPE, op, "%s is %s but %s is %s (use tg_cast)", tname,
                 tg_dtype_name((tg_dtype)t->dtype), lname,
                 tg_dtype_name((tg_dtype)like->dtype));
        return false;
    }
    return true;
}

/* A one-element output, for the second-order drivers. */
static bool scalar_out(const char *op, tg_tape *tape, const tg_tensor *out) {
    if (tg__numel(out) == 1) return true;
    char b[160];
    tg__fail(tape, TG_ERR_SHAPE, op,
             "the output has shape %s: second derivatives need a one-element output "
             "(reduce it first, e.g. tg_sum)",
             tg__shape_str(b, sizeof b, out->rank, out->shape));
    return false;
}

/* Second-order drivers need the first sweep recorded. */
static bool recording(const char *op, tg_tape *tape) {
    if (tape->grad_enabled) return true;
    tg__fail(tape, TG_ERR_STATE, op,
             "recording is off (tg_tape_set_grad_enabled): second derivatives need the "
             "recorded gradient");
    return false;
}

static tg_tensor *zeros_like(tg_tape *tape, const tg_tensor *t) {
    t = tg__full(t);
    return tg_zeros(tape, (tg_dtype)t->dtype, t->rank, t->shape);
}

/* res[i] = zeros of like[i]'s shape and dtype, i < n. */
static bool all_zeros(tg_tape *tape, int n, tg_tensor *const *like, tg_tensor **res) {
    for (int i = 0; i < n; i++)
        if (!(res[i] = zeros_like(tape, like[i]))) return false;
    return true;
}

/* Room for n tensor pointers on the tape (until its reset). */
static tg_tensor **slots(tg_tape *tape, int n, const char *op) {
    return tg__arena(tape, (size_t)n * sizeof(tg_tensor *), op);
}

/* *s = sum_i sum(a[i] * b[i]) over the i where a[i] requires grad (the
 * others are constants: they add nothing to a derivative of *s), or NULL
 * when none does. Terms of another dtype than the first are cast to it
 * (the inputs may mix f32 and f64); the casts leave derivatives exact, as
 * d *s / d term = 1. false on error. */
static bool inner(int n, tg_tensor *const *a, tg_tensor *const *b, tg_tensor **s) {
    *s = NULL;
    for (int i = 0; i < n; i++) {
        if (!(tg__full(a[i])->flags & TGF_REQ)) continue;
        tg_tensor *t = tg_sum(tg_mul(a[i], b[i]));
        tg_dtype dt = *s ? (tg_dtype)tg__full(*s)->dtype : TG_F32;
        if (t && *s && tg__full(t)->dtype != dt) t = tg_cast(t, dt);
        *s = *s ? tg_add(*s, t) : t;
        if (!*s) return false;
    }
    return true;
}

/* ------------------------------------------------------------ products
 *
 * The cores below take checked operands: lists xs[0..n) of variables and,
 * where there are directions, vs[i] of xs[i]'s shape and dtype. The
 * one-input drivers call them with n = 1. */

/* Forward mode by two reverse sweeps, for m outputs ys at once:
 * res[k] = sum_j (d ys[k] / d xs[j]) vs[j], of ys[k]'s shape. For any
 * cotangents u_k of the outputs' shapes, the recorded sweep of
 * <y, u> = sum_k sum(y_k * u_k) gives w_j = sum_k J_kj^T u_k, linear in
 * u. Its inner product with v is s = sum_kj u_k^T J_kj v_j, and ds/du_k is
 * res[k]. The u_k are zeros: only the recorded dependence on them matters,
 * not their value. One output is swept from the seed u_0 directly. */
static bool jvp(const char *op, tg_tape *tape, int m, tg_tensor *const *ys, int n,
                tg_tensor *const *xs, tg_tensor *const *vs, tg_tensor **res, int flags) {
    bool any = false;
    for (int k = 0; k < m; k++) any |= (tg__full(ys[k])->flags & TGF_REQ) != 0;
    if (!any) return all_zeros(tape, m, ys, res);
    tg_tensor **u = slots(tape, m, op), **w = slots(tape, n, op), *t, *s;
    if (!u || !w) return false;
    for (int k = 0; k < m; k++) /* dummy cotangents */
        if (!(u[k] = tg_requires_grad(zeros_like(tape, ys[k])))) return false;
    if (m == 1) {
        if (tg_grad(ys[0], u[0], n, xs, w, TG_CREATE_GRAPH) != TG_OK) return false;
    } else if (!inner(m, ys, u, &t) || tg_grad(t, NULL, n, xs, w, TG_CREATE_GRAPH) != TG_OK) {
        return false;
    }
    if (!inner(n, w, vs, &s)) return false; /* u^T J v */
    if (!s) return all_zeros(tape, m, ys, res);
    return tg_grad(s, NULL, m, u, res, flags) == TG_OK;
}

/* H v = d/dx <g, v> with g = d out/dx recorded: two sweeps; with several
 * inputs, hv[i] = sum_j H_ij v_j = d/dx_i sum_j <g_j, v_j>. That sweep
 * would also run through v's own history, so when some v_j requires grad
 * (it may be computed from x, or the caller wants d(H v)/dv) H v is taken
 * instead as the Jacobian of the gradients along v, by jvp above: one more
 * sweep, and v never gets differentiated with respect to x. */
static bool hvp(const char *op, tg_tape *tape, tg_tensor *out, int n, tg_tensor *const *xs,
                tg_tensor *const *vs, tg_tensor **hv, int flags) {
    tg_tensor **g = slots(tape, n, op), *s;
    if (!g || tg_grad(out, NULL, n, xs, g, TG_CREATE_GRAPH) != TG_OK) return false;
    bool any_g = false, any_v = false;
    for (int i = 0; i < n; i++) {
        any_g |= (tg__full(g[i])->flags & TGF_REQ) != 0;
        any_v |= (tg__full(vs[i])->flags & TGF_REQ) != 0;
    }
    if (!any_g) return all_zeros(tape, n, xs, hv); /* out linear in x */
    if (any_v) return jvp(op, tape, n, g, n, xs, vs, hv, flags);
    return inner(n, g, vs, &s) && tg_grad(s, NULL, n, xs, hv, flags) == TG_OK;
}

/* ----------------------------------------------------------- matrices */

static void set_elem(tg_tensor *h, int64_t i, double v) {
    tg_tensor *t = tg__full(h);
    if (t->dtype == TG_F32)
        ((float *)t->data)[i] = (float)v;
    else
        ((double *)t->data)[i] = v;
}

/* y.shape + x.shape into shape; false (error recorded) when the rank
 * passes TG_MAX_RANK. */
static bool joined(const char *op, tg_tape *tape, const tg_tensor *y, const tg_tensor *x,
                   int64_t *shape) {
    char b0[160], b1[160];
    y = tg__full(y), x = tg__full(x);
    int rank = y->rank + x->rank;
    if (rank > TG_MAX_RANK) {
        tg__fail(tape, TG_ERR_SHAPE, op, "the result would have rank %d (%s and %s): at most %d",
                 rank, tg__shape_str(b0, sizeof b0, y->rank, y->shape),
                 tg__shape_str(b1, sizeof b1, x->rank, x->shape), TG_MAX_RANK);
        return false;
    }
    for (int d = 0; d < y->rank; d++) shape[d] = y->shape[d];
    for (int d = 0; d < x->rank; d++) shape[y->rank + d] = x->shape[d];
    return true;
}

/* J[j] = dy/dxs[j], of shape y.shape + xs[j].shape, in xs[j]'s dtype: one
 * reverse sweep per element of y seeded with the one-hot e_i, which gives
 * row i (e_i^T J[j]) of every J[j] at once. */
static bool jacobian(const char *op, tg_tape *tape, tg_tensor *y, int n, tg_tensor *const *xs,
                     tg_tensor **J, int flags) {
    int64_t shape[TG_MAX_RANK];
    const tg_tensor *yr = tg__full(y);
    for (int j = 0; j < n; j++)
        if (!joined(op, tape, y, xs[j], shape)) return false;
    int64_t m = tg__numel(yr);
    tg_tensor **row = slots(tape, n, op);
    if (!row) return false;
    bool zero = !(yr->flags & TGF_REQ) || m == 0;
    if (zero || !(flags & TG_CREATE_GRAPH)) {
        for (int j = 0; j < n; j++)
            if (!joined(op, tape, y, xs[j], shape) ||
                !(J[j] = tg_zeros(tape, (tg_dtype)tg__full(xs[j])->dtype,
                                  yr->rank + tg__full(xs[j])->rank, shape)))
                return false;
        if (zero) return true;
        /* numeric: copy each row into J; one seed buffer, reused (the sweep
         * copies it at the start) */
        tg_tensor *e = zeros_like(tape, y);
        if (!e) return false;
        for (int64_t i = 0; i < m; i++) {
            set_elem(e, i, 1);
            if (tg_grad(y, e, n, xs, row, 0) != TG_OK) return false;
            set_elem(e, i, 0);
            for (int j = 0; j < n; j++) {
                const tg_tensor *x = tg__full(xs[j]);
                size_t bytes = (size_t)tg__numel(x) * tg__esize(x->dtype);
                if (bytes)
                    memcpy((char *)tg__full(J[j])->data + (size_t)i * bytes, tg__full(row[j])->data,
                           bytes);
            }
        }
        return true;
    }
    /* recorded: J[j] = sum_i e_i (column, [m,1]) @ row_i ([1,n_j]), every
     * piece an op, so J can be differentiated. Each seed is kept (the
     * recorded sweep refers to it). */
    for (int j = 0; j < n; j++) J[j] = NULL;
    for (int64_t i = 0; i < m; i++) {
        tg_tensor *e = zeros_like(tape, y), *col[2] = {NULL, NULL}; /* f32, f64 */
        if (!e) return false;
        set_elem(e, i, 1);
        if (tg_grad(y, e, n, xs, row, TG_CREATE_GRAPH) != TG_OK) return false;
        for (int j = 0; j < n; j++) {
            const tg_tensor *x = tg__full(xs[j]);
            int64_t nj = tg__numel(x);
            tg_tensor **c = &col[x->dtype == TG_F64];
            if (nj == 0) continue;
            if (!*c && !(*c = tg_zeros(tape, (tg_dtype)x->dtype, TG_SHAPE(m, 1)))) return false;
            set_elem(*c, i, 1);
            tg_tensor *term = tg_matmul(*c, tg_reshape(row[j], TG_SHAPE(1, nj)));
            J[j] = J[j] ? tg_add(J[j], term) : term;
            if (!J[j]) return false;
        }
    }
    for (int j = 0; j < n; j++) {
        tg_dtype dt = (tg_dtype)tg__full(xs[j])->dtype;
        int rank = yr->rank + tg__full(xs[j])->rank;
        joined(op, tape, y, xs[j], shape); /* checked above */
        J[j] = J[j] ? tg_reshape(J[j], rank, shape) : tg_zeros(tape, dt, rank, shape);
        if (!J[j]) return false;
    }
    return true;
}

/* H[i*n + j] = d^2 out / dx_i dx_j, of shape xs[i].shape + xs[j].shape:
 * row i of blocks is the Jacobian of the recorded gradient g_i. */
static bool hessian(const char *op, tg_tape *tape, tg_tensor *out, int n, tg_tensor *const *xs,
                    tg_tensor **H, int flags) {
    int64_t shape[TG_MAX_RANK];
    for (int i = 0; i < n; i++) /* every block's rank, before any sweep */
        for (int j = 0; j < n; j++)
            if (!joined(op, tape, xs[i], xs[j], shape)) return false;
    tg_tensor **g = slots(tape, n, op); /* xs's shapes, recorded */
    if (!g || tg_grad(out, NULL, n, xs, g, TG_CREATE_GRAPH) != TG_OK) return false;
    for (int i = 0; i < n; i++)
        if (!jacobian(op, tape, g[i], n, xs, H + (size_t)i * n, flags)) return false;
    return true;
}

/* ---------------------------------------------------- one-input drivers */

tg_tensor *tg_vjp(tg_tensor *y, tg_tensor *x, tg_tensor *u, int flags) {
    tg_tape *tape = operands("vjp", &y, &x, &u);
    if (!tape) return NULL;
    if (u && !matches("vjp", tape, u, "u", y, "the output y")) return NULL;
    if (!u && tg__numel(y) != 1) {
        char b[160];
        return tg__fail(tape, TG_ERR_NULL, "vjp",
                        "u is NULL but the output has shape %s (only a one-element output "
                        "may omit u)",
                        tg__shape_str(b, sizeof b, y->rank, y->shape));
    }
    tg_tensor *g;
    return tg_grad(y, u, 1, &x, &g, flags) == TG_OK ? g : NULL;
}

tg_tensor *tg_jvp(tg_tensor *y, tg_tensor *x, tg_tensor *v, int flags) {
    tg_tape *tape = operands("jvp", &y, &x, &v);
    if (!tape) return NULL;
    if (!v) return tg__fail(tape, TG_ERR_NULL, "jvp", "the direction v is NULL");
    if (!matches("jvp", tape, v, "v", x, "x") || !recording("jvp", tape)) return NULL;
    tg_tensor *jv;
    return jvp("jvp", tape, 1, &y, 1, &x, &v, &jv, flags) ? jv : NULL;
}

tg_tensor *tg_hvp(tg_tensor *out, tg_tensor *x, tg_tensor *v, int flags) {
    tg_tape *tape = operands("hvp", &out, &x, &v);
    if (!tape) return NULL;
    if (!v) return tg__fail(tape, TG_ERR_NULL, "hvp", "the direction v is NULL");
    if (!scalar_out("hvp", tape, out) || !matches("hvp", tape, v, "v", x, "x") ||
        !recording("hvp", tape))
        return NULL;
    tg_tensor *hv;
    return hvp("hvp", tape, out, 1, &x, &v, &hv, flags) ? hv : NULL;
}

tg_tensor *tg_jacobian(tg_tensor *y, tg_tensor *x, int flags) {
    tg_tape *tape = operands("jacobian", &y, &x, NULL);
    tg_tensor *J;
    return tape && jacobian("jacobian", tape, y, 1, &x, &J, flags) ? J : NULL;
}

tg_tensor *tg_hessian(tg_tensor *out, tg_tensor *x, int flags) {
    tg_tape *tape = operands("hessian", &out, &x, NULL);
    if (!tape || !scalar_out("hessian", tape, out) || !recording("hessian", tape)) return NULL;
    tg_tensor *H;
    return hessian("hessian", tape, out, 1, &x, &H, flags) ? H : NULL;
}

/* ----------------------------------------------------------- list forms */

/* A list form's call: its name, the tape its errors go to (the output's,
 * else the first list entry's) and which tensor that tape came from. */
typedef struct call {
    const char *op;
    tg_tape *tape;
    char from[32];
} call;

/* A tensor of the call, named `name` in errors: not NULL, on the call's
 * tape, not stale. Parameters pass. */
static bool entry(call *c, const tg_tensor *h, const char *name) {
    const tg_tensor *t = tg__full(h);
    if (!t) return tg__fail(c->tape, TG_ERR_NULL, c->op, "%s is NULL", name), false;
    if (t->flags & TGF_PARAM) return true;
    if (t->tape != c->tape)
        return tg__fail(c->tape, TG_ERR_TAPE, c->op, "%s belongs to another tape than %s", name,
                        c->from),
               false;
    if (!tg__current(h, t, c->tape->gen))
        return tg__fail(c->tape, TG_ERR_STALE, c->op,
                        "%s is stale: it was made before the last tg_tape_reset", name),
               false;
    return true;
}

/* Checks the operands of a list form: the output *out (a parameter
 * becomes its proxy), n >= 1 variables xs (float, requiring grad, or
 * parameters), when vname is not NULL the list vs (named vname) of xs's
 * shapes and dtypes, and the result array res unless rname is NULL.
 * Sets c->tape (NULL when there is nowhere to record). Returns whether
 * all is well, else the error is on c->tape. */
static bool operands_n(call *c, tg_tensor **out, int n, tg_tensor *const *xs,
                       tg_tensor *const *vs, const char *vname, const void *res,
                       const char *rname) {
    char name[32], vn[32], b[160];
    c->tape = NULL;
    const tg_tensor *o = tg__full(*out);
    if (o && !(o->flags & TGF_PARAM)) c->tape = o->tape;
    snprintf(c->from, sizeof c->from, "the output");
    for (int l = 0; l < 2 && !c->tape; l++) {
        tg_tensor *const *list = l ? vs : xs;
        for (int i = 0; list && i < n && !c->tape; i++)
            if (list[i] && !(tg__full(list[i])->flags & TGF_PARAM)) {
                c->tape = tg__full(list[i])->tape;
                snprintf(c->from, sizeof c->from, "%s[%d]", l ? vname : "xs", i);
            }
    }
    tg_tape *tape = c->tape;
    if (!tape) return false;
    if (n <= 0)
        return tg__fail(tape, TG_ERR_ARG, c->op, "n is %d: give at least one input", n), false;
    if (!xs) return tg__fail(tape, TG_ERR_NULL, c->op, "the list xs is NULL"), false;
    if (vname && !vs)
        return tg__fail(tape, TG_ERR_NULL, c->op, "the list %s is NULL", vname), false;
    if (rname && !res)
        return tg__fail(tape, TG_ERR_NULL, c->op, "the result array %s is NULL", rname), false;
    if (!entry(c, *out, "the output") || !(*out = tg__operand(&tape, *out, c->op, 0)))
        return false;
    if (!tg__is_float((*out)->dtype))
        return tg__fail(tape, TG_ERR_DTYPE, c->op, "the output %s is not a float tensor",
                        tg__shape_str(b, sizeof b, (*out)->rank, (*out)->shape)),
               false;
    for (int i = 0; i < n; i++) {
        const tg_tensor *x = tg__full(xs[i]);
        snprintf(name, sizeof name, "xs[%d]", i);
        if (!entry(c, xs[i], name)) return false;
        if (!tg__is_float(x->dtype))
            return tg__fail(tape, TG_ERR_DTYPE, c->op, "%s %s %s is not a float tensor", name,
                            tg_dtype_name((tg_dtype)x->dtype),
                            tg__shape_str(b, sizeof b, x->rank, x->shape)),
                   false;
        if (!(x->flags & (TGF_REQ | TGF_PARAM)))
            return tg__fail(tape, TG_ERR_STATE, c->op,
                            "%s %s does not require grad (mark it with tg_requires_grad)", name,
                            tg__shape_str(b, sizeof b, x->rank, x->shape)),
                   false;
        snprintf(vn, sizeof vn, "%s[%d]", vname ? vname : "", i);
        if (vname && (!entry(c, vs[i], vn) || !matches(c->op, tape, vs[i], vn, x, name)))
            return false;
    }
    return true;
}

/* A list form's end: the results stay (TG_OK), or on an error are NULL. */
static tg_status done(const call *c, bool ok, size_t nres, tg_tensor **res) {
    if (ok && c->tape->status == TG_OK) return TG_OK;
    for (size_t i = 0; res && i < nres; i++) res[i] = NULL;
    return c->tape ? c->tape->status : TG_ERR_NULL;
}

tg_status tg_vjp_n(tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor *u, tg_tensor **grads,
                   int flags) {
    call c = {.op = "vjp_n"};
    bool ok = operands_n(&c, &y, n, xs, NULL, NULL, grads, "grads") && (!u || entry(&c, u, "u"));
    if (ok && u) ok = matches(c.op, c.tape, u, "u", y, "the output y");
    if (ok && !u && tg__numel(y) != 1) {
        char b[160];
        tg__fail(c.tape, TG_ERR_NULL, c.op,
                 "u is NULL but the output has shape %s (only a one-element output may omit u)",
                 tg__shape_str(b, sizeof b, y->rank, y->shape));
        ok = false;
    }
    ok = ok && tg_grad(y, u, n, xs, grads, flags) == TG_OK;
    return done(&c, ok, n > 0 ? (size_t)n : 0, grads);
}

tg_tensor *tg_jvp_n(tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor *const *vs,
                    int flags) {
    call c = {.op = "jvp_n"};
    tg_tensor *jv;
    bool ok = operands_n(&c, &y, n, xs, vs, "vs", NULL, NULL) && recording(c.op, c.tape) &&
              jvp(c.op, c.tape, 1, &y, n, xs, vs, &jv, flags);
    return ok ? jv : NULL;
}

tg_status tg_hvp_n(tg_tensor *out, int n, tg_tensor *const *xs, tg_tensor *const *vs,
                   tg_tensor **hv, int flags) {
    call c = {.op = "hvp_n"};
    bool ok = operands_n(&c, &out, n, xs, vs, "vs", hv, "hv") && scalar_out(c.op, c.tape, out) &&
              recording(c.op, c.tape) && hvp(c.op, c.tape, out, n, xs, vs, hv, flags);
    return done(&c, ok, n > 0 ? (size_t)n : 0, hv);
}

tg_status tg_jacobian_n(tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor **J, int flags) {
    call c = {.op = "jacobian_n"};
    bool ok = operands_n(&c, &y, n, xs, NULL, NULL, J, "J") &&
              jacobian(c.op, c.tape, y, n, xs, J, flags);
    return done(&c, ok, n > 0 ? (size_t)n : 0, J);
}

tg_status tg_hessian_n(tg_tensor *out, int n, tg_tensor *const *xs, tg_tensor **H, int flags) {
    call c = {.op = "hessian_n"};
    bool ok = operands_n(&c, &out, n, xs, NULL, NULL, H, "H") && scalar_out(c.op, c.tape, out) &&
              recording(c.op, c.tape) && hessian(c.op, c.tape, out, n, xs, H, flags);
    return done(&c, ok, n > 0 ? (size_t)n * (size_t)n : 0, H);
}

/* ------------------------------------------------------ function forms */

/* Puts x on tape as a variable (itself when it already is one, else a
 * leaf copy) and evaluates f there. Returns y, or NULL on error. */
static tg_tensor *eval_at(const char *op, tg_tape *tape, tg_fn f, void *ud, tg_tensor **xp) {
    if (!tape) return NULL;
    tg_tensor *x = *xp, *r = tg__full(x); /* a handle, and its record */
    if (!f) return tg__fail(tape, TG_ERR_NULL, op, "the function f is NULL");
    if (!x) return tg__fail(tape, TG_ERR_NULL, op, "x is NULL");
    bool is_var = (r->flags & TGF_PARAM) ||
                  (r->tape == tape && tg__current(x, r, tape->gen) && (r->flags & TGF_REQ));
    if (!is_var) {
        if (!(r->flags & TGF_PARAM) && !tg__current(x, r, r->tape->gen))
            return tg__fail(tape, TG_ERR_STALE, op,
                            "x is stale: it was made before a tg_tape_reset");
        if (!tg__is_float(r->dtype)) {
            char b[160];
            return tg__fail(tape, TG_ERR_DTYPE, op, "x %s is not a float tensor",
                            tg__shape_str(b, sizeof b, r->rank, r->shape));
        }
        x = tg_requires_grad(tg_tensor_new(tape, (tg_dtype)r->dtype, r->rank, r->shape, r->data));
        if (!x) return NULL;
    }
    tg_tensor *in[1] = {x};
    tg_tensor *y = f(tape, in, ud);
    if (!y && tape->status == TG_OK)
        tg__fail(tape, TG_ERR_STATE, op, "f returned NULL without recording an error");
    *xp = x;
    return y;
}

tg_tensor *tg_jacobian_of(tg_tape *tape, tg_fn f, void *ud, tg_tensor *x, int flags) {
    tg_tensor *y = eval_at("jacobian_of", tape, f, ud, &x);
    return y ? tg_jacobian(y, x, flags) : NULL;
}

tg_tensor *tg_hessian_of(tg_tape *tape, tg_fn f, void *ud, tg_tensor *x, int flags) {
    tg_tensor *y = eval_at("hessian_of", tape, f, ud, &x);
    return y ? tg_hessian(y, x, flags) : NULL;
}
