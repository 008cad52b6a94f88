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
 * None of this touches the numeric (first-order) sweep in backward.c.
 */
#include "tg_sweep.h"

/* ------------------------------------------------------------- checks */

/* Validates y (the output) and x (the variable) of driver `op`, and an
 * optional third operand z (NULL allowed). Parameters become proxies.
 * Returns the tape or NULL (error recorded where a tape is known). */
static tg_tape *operands(const char *op, tg_tensor **y, tg_tensor **x, tg_tensor **z) {
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
    return tg_zeros(tape, (tg_dtype)t->dtype, t->rank, t->shape);
}

/* The gradient of a one-element out with respect to x, recorded (so it
 * can be swept again). NULL on error. */
static tg_tensor *grad_graph(tg_tensor *out, tg_tensor *x) {
    tg_tensor *g;
    if (!(out->flags & TGF_REQ)) return zeros_like(out->tape, x);
    return tg_grad(out, NULL, 1, &x, &g, TG_CREATE_GRAPH) == TG_OK ? g : NULL;
}

/* ----------------------------------------------------------- products */

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
    if (!(y->flags & TGF_REQ)) return zeros_like(tape, x);
    tg_tensor *g;
    return tg_grad(y, u, 1, &x, &g, flags) == TG_OK ? g : NULL;
}

/* Forward mode by two reverse sweeps. For any u of y's shape, the
 * recorded sweep seeded with u gives w = J^T u, linear in u. Its inner
 * product with v is s = u^T J v, and ds/du = J v. u is zero: only the
 * recorded dependence on u matters, not its value. Operands checked. */
static tg_tensor *jvp(tg_tape *tape, tg_tensor *y, tg_tensor *x, tg_tensor *v, int flags) {
    if (!(y->flags & TGF_REQ)) return zeros_like(tape, y);
    tg_tensor *u = tg_requires_grad(zeros_like(tape, y)); /* dummy cotangent */
    tg_tensor *w;                                         /* J^T u, x's shape */
    if (!u || tg_grad(y, u, 1, &x, &w, TG_CREATE_GRAPH) != TG_OK) return NULL;
    tg_tensor *s = tg_sum(tg_mul(w, v)); /* u^T J v */
    if (!s) return NULL;
    if (!(s->flags & TGF_REQ)) return zeros_like(tape, y);
    tg_tensor *jv;
    return tg_grad(s, NULL, 1, &u, &jv, flags) == TG_OK ? jv : NULL;
}

tg_tensor *tg_jvp(tg_tensor *y, tg_tensor *x, tg_tensor *v, int flags) {
    tg_tape *tape = operands("jvp", &y, &x, &v);
    if (!tape) return NULL;
    if (!v) return tg__fail(tape, TG_ERR_NULL, "jvp", "the direction v is NULL");
    if (!matches("jvp", tape, v, "v", x, "x") || !recording("jvp", tape)) return NULL;
    return jvp(tape, y, x, v, flags);
}

/* H v = d/dx <g, v> with g = d out/dx recorded: two sweeps. That sweep
 * would also run through v's own history, so when v requires grad (it may
 * be computed from x, or the caller wants d(H v)/dv) H v is taken instead
 * as the Jacobian of g along v, by the double VJP above: one more sweep,
 * and v never gets differentiated with respect to x. */
tg_tensor *tg_hvp(tg_tensor *out, tg_tensor *x, tg_tensor *v, int flags) {
    tg_tape *tape = operands("hvp", &out, &x, &v);
    if (!tape) return NULL;
    if (!v) return tg__fail(tape, TG_ERR_NULL, "hvp", "the direction v is NULL");
    if (!scalar_out("hvp", tape, out) || !matches("hvp", tape, v, "v", x, "x") ||
        !recording("hvp", tape))
        return NULL;
    tg_tensor *g = grad_graph(out, x);
    if (!g) return NULL;
    if (!(g->flags & TGF_REQ)) return zeros_like(tape, x); /* out linear in x */
    if (v->flags & TGF_REQ) return jvp(tape, g, x, v, flags);
    tg_tensor *s = tg_sum(tg_mul(g, v));
    tg_tensor *hv;
    if (!s) return NULL;
    return tg_grad(s, NULL, 1, &x, &hv, flags) == TG_OK ? hv : NULL;
}

/* ----------------------------------------------------------- matrices */

static void set_elem(tg_tensor *t, int64_t i, double v) {
    if (t->dtype == TG_F32)
        ((float *)t->data)[i] = (float)v;
    else
        ((double *)t->data)[i] = v;
}

/* J = dy/dx, shape y.shape + x.shape, one reverse sweep per element of y
 * seeded with the one-hot e_i: row i is e_i^T J. */
static tg_tensor *jacobian(const char *op, tg_tape *tape, tg_tensor *y, tg_tensor *x,
                           int flags) {
    char b0[160], b1[160];
    int rank = y->rank + x->rank;
    if (rank > TG_MAX_RANK)
        return tg__fail(tape, TG_ERR_SHAPE, op,
                        "the result would have rank %d (%s and %s): at most %d", rank,
                        tg__shape_str(b0, sizeof b0, y->rank, y->shape),
                        tg__shape_str(b1, sizeof b1, x->rank, x->shape), TG_MAX_RANK);
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < y->rank; d++) shape[d] = y->shape[d];
    for (int d = 0; d < x->rank; d++) shape[y->rank + d] = x->shape[d];
    int64_t m = tg__numel(y), n = tg__numel(x);
    tg_dtype dt = (tg_dtype)x->dtype;
    if (!(y->flags & TGF_REQ) || m == 0 || n == 0) return tg_zeros(tape, dt, rank, shape);

    if (!(flags & TG_CREATE_GRAPH)) {
        /* numeric: copy each row into J; one seed buffer, reused (the sweep
         * copies it at the start) */
        tg_tensor *J = tg_zeros(tape, dt, rank, shape);
        tg_tensor *e = zeros_like(tape, y);
        if (!J || !e) return NULL;
        size_t es = tg__esize(dt);
        for (int64_t i = 0; i < m; i++) {
            tg_tensor *row;
            set_elem(e, i, 1);
            if (tg_grad(y, e, 1, &x, &row, 0) != TG_OK) return NULL;
            set_elem(e, i, 0);
            memcpy((char *)J->data + (size_t)(i * n) * es, row->data, (size_t)n * es);
        }
        return J;
    }
    /* recorded: J = sum_i e_i (column, [m,1]) @ row_i ([1,n]), every piece
     * an op, so J can be differentiated. Each seed is kept (the recorded
     * sweep refers to it). */
    tg_tensor *J = NULL;
    for (int64_t i = 0; i < m; i++) {
        tg_tensor *e = zeros_like(tape, y), *col = tg_zeros(tape, dt, TG_SHAPE(m, 1)), *row;
        if (!e || !col) return NULL;
        set_elem(e, i, 1);
        set_elem(col, i, 1);
        if (tg_grad(y, e, 1, &x, &row, TG_CREATE_GRAPH) != TG_OK) return NULL;
        tg_tensor *term = tg_matmul(col, tg_reshape(row, TG_SHAPE(1, n)));
        J = J ? tg_add(J, term) : term;
        if (!J) return NULL;
    }
    return tg_reshape(J, rank, shape);
}

tg_tensor *tg_jacobian(tg_tensor *y, tg_tensor *x, int flags) {
    tg_tape *tape = operands("jacobian", &y, &x, NULL);
    return tape ? jacobian("jacobian", tape, y, x, flags) : NULL;
}

tg_tensor *tg_hessian(tg_tensor *out, tg_tensor *x, int flags) {
    tg_tape *tape = operands("hessian", &out, &x, NULL);
    if (!tape || !scalar_out("hessian", tape, out) || !recording("hessian", tape)) return NULL;
    tg_tensor *g = grad_graph(out, x); /* x's shape, recorded */
    return g ? jacobian("hessian", tape, g, x, flags) : NULL;
}

/* ------------------------------------------------------ function forms */

/* Puts x on tape as a variable (itself when it already is one, else a
 * leaf copy) and evaluates f there. Returns y, or NULL on error. */
static tg_tensor *eval_at(const char *op, tg_tape *tape, tg_fn f, void *ud, tg_tensor **xp) {
    if (!tape) return NULL;
    tg_tensor *x = *xp;
    if (!f) return tg__fail(tape, TG_ERR_NULL, op, "the function f is NULL");
    if (!x) return tg__fail(tape, TG_ERR_NULL, op, "x is NULL");
    bool is_var = (x->flags & TGF_PARAM) ||
                  (x->tape == tape && x->gen == tape->gen && (x->flags & TGF_REQ));
    if (!is_var) {
        if (!(x->flags & TGF_PARAM) && x->gen != x->tape->gen)
            return tg__fail(tape, TG_ERR_STALE, op,
                            "x is stale: it was made before a tg_tape_reset");
        if (!tg__is_float(x->dtype)) {
            char b[160];
            return tg__fail(tape, TG_ERR_DTYPE, op, "x %s is not a float tensor",
                            tg__shape_str(b, sizeof b, x->rank, x->shape));
        }
        x = tg_requires_grad(tg_tensor_new(tape, (tg_dtype)x->dtype, x->rank, x->shape, x->data));
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
