/* tensor.c - making tensors, reading them back, parameters, and the
 * operand checks every op starts with. */
#include "tg_engine.h"

#include <math.h>
#include <stdio.h>

const char *tg_dtype_name(tg_dtype dt) {
    return dt == TG_F32 ? "f32" : dt == TG_F64 ? "f64" : dt == TG_I64 ? "i64" : "?";
}

/* ------------------------------------------------------------- records */

/* Element count of a shape, or -1 on a negative dimension (anywhere), -2
 * on overflow. A size-0 axis makes it 0 whatever the others are. */
static int64_t shape_numel(int rank, const int64_t *shape) {
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0) return -1;
    int64_t n = tg__shape_numel(rank, shape);
    return n < 0 ? -2 : n;
}

static bool check_shape(tg_tape *tape, const char *op, int rank, const int64_t *shape,
                        int dt, int64_t *numel) {
    if (rank < 0 || rank > TG_MAX_RANK)
        return tg__fail(tape, TG_ERR_ARG, op, "rank %d is outside 0..%d", rank, TG_MAX_RANK), false;
    if (rank > 0 && !shape) return tg__fail(tape, TG_ERR_NULL, op, "shape is NULL"), false;
    if (dt != TG_F32 && dt != TG_F64 && dt != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, op, "unknown dtype %d", dt), false;
    int64_t n = shape_numel(rank, shape);
    char b[160];
    if (n == -1)
        return tg__fail(tape, TG_ERR_SHAPE, op, "negative dimension in shape %s",
                        tg__shape_str(b, sizeof b, rank, shape)), false;
    if (n == -2 || (uint64_t)n > SIZE_MAX / 8)
        return tg__fail(tape, TG_ERR_OVERFLOW, op, "shape %s has more elements than fit in memory",
                        tg__shape_str(b, sizeof b, rank, shape)), false;
    *numel = n;
    return true;
}

tg_tensor *tg__out(tg_tape *tape, int op, int dtype, int rank, const int64_t *shape,
                   tg_tensor *in0, tg_tensor *in1, void *data) {
    const char *name = tg__ops[op].name;
    int64_t n = 1;
    if (rank != 0 && !check_shape(tape, name, rank, shape, dtype, &n)) return NULL;
    tg_tensor *t = tg__record(tape);
    if (!t) return NULL;
    t->op = (uint8_t)op;
    t->dtype = (uint8_t)dtype;
    t->rank = (uint8_t)rank;
    if (rank == 1) {
        t->small.dim0 = shape[0];
        t->shape = &t->small.dim0;
    } else if (rank > 1) {
        t->shape = tg__arena(tape, (size_t)rank * sizeof(int64_t), name);
        if (!t->shape) return NULL;
        memcpy(t->shape, shape, (size_t)rank * sizeof(int64_t));
    }
    if (data) {
        t->data = data;
        t->flags |= TGF_VIEW;
    } else if (rank == 0) {
        t->data = &t->small;
    } else {
        t->data = tg__arena(tape, (size_t)n * tg__esize(dtype), name);
        if (!t->data) return NULL;
    }
    t->in0 = in0 = tg__rec(in0); /* records hold plain pointers */
    t->u.in1 = in1 = tg__rec(in1);
    if (tape->grad_enabled && ((in0 && (in0->flags & TGF_REQ)) || (in1 && (in1->flags & TGF_REQ))))
        t->flags |= TGF_REQ;
    return t;
}

void tg__set_req(tg_tensor *out, int n, tg_tensor **in) {
    if (!out->tape->grad_enabled) return;
    for (int i = 0; i < n; i++)
        if (in[i] && (tg__rec(in[i])->flags & TGF_REQ)) out->flags |= TGF_REQ;
}

tg_tensor *tg__wrap(tg_tape *tape, int dtype, int rank, const int64_t *shape, void *data) {
    bool old = tape->grad_enabled;
    tape->grad_enabled = false;
    tg_tensor *t = tg__out(tape, TG_OP_LEAF, dtype, rank, shape, NULL, NULL, data);
    tape->grad_enabled = old;
    return t;
}

int tg__inputs(const tg_tensor *t, tg_tensor **buf) {
    int nin = tg__ops[t->op].nin;
    if (nin == 0) return 0;
    if (nin < 0) {
        const tg_auxin *ax = t->u.aux;
        int n = ax->n < TG_MAX_INPUTS ? ax->n : TG_MAX_INPUTS; /* never past buf */
        for (int i = 0; i < n; i++) buf[i] = ax->in[i];
        return n;
    }
    buf[0] = t->in0;
    if (nin == 2) buf[1] = t->u.in1;
    return nin;
}

/* ---------------------------------------------------------- operands */

static tg_tensor *proxy_of(tg_tape *tape, tg_tensor *p);

bool tg__half_ok(tg_tape **tapep, tg_tensor *h, const char *op, int index) {
    tg_tape *tape = *tapep;
    tg_half *x = (tg_half *)tg__rec(h);
    tg_tape *own = tg__half_tape(x); /* its group's, even once the slot is refilled */
    if (!tape) *tapep = tape = own;
    if (own != tape)
        return tg__fail(tape, TG_ERR_TAPE, op, "operand %d belongs to another tape", index + 1),
               false;
    if (!tg__half_there(x) || !tg__half_current(h, x, tape->gen))
        return tg__fail(tape, TG_ERR_STALE, op,
                        "operand %d is stale: it was made before the last tg_tape_reset",
                        index + 1),
               false;
    return true;
}

/* A half operand: a PROMOTE record for it, or its full copy once it has one. */
static tg_tensor *half_operand(tg_tape **tapep, tg_tensor *h, const char *op, int index) {
    if (!tg__half_ok(tapep, h, op, index)) return NULL;
    tg_tape *tape = *tapep;
    tg_half *x = (tg_half *)tg__rec(h);
    if (x->flags & THF_FWD) return x->fwd; /* its full copy: a record like any */
    return tg__promote(tape, (tg_tensor *)x, x->v, x->flags & THF_REQ);
}

tg_tensor *tg__operand_lazy(tg_tape **tapep, tg_tensor *h, const char *op, int index) {
    tg_tape *tape = *tapep;
    tg_tensor *t = tg__rec(h);
    if (!t) return tg__fail(tape, TG_ERR_NULL, op, "operand %d is NULL", index + 1);
    if (tg__is_half(t)) return half_operand(tapep, h, op, index);
    if (t->flags & TGF_PARAM) {
        if (tape) return proxy_of(tape, t);
        return tg__fail(NULL, TG_ERR_TAPE, op,
                        "operand %d is a parameter, on no tape: name the tape with "
                        "tg_param_on(tape, p)",
                        index + 1);
    }
    if (!tape) *tapep = tape = t->tape;
    if (t->tape != tape)
        return tg__fail(tape, TG_ERR_TAPE, op, "operand %d belongs to another tape", index + 1);
    if (!tg__current(h, t, tape->gen))
        return tg__fail(tape, TG_ERR_STALE, op,
                        "operand %d is stale: it was made before the last tg_tape_reset",
                        index + 1);
    return t;
}

tg_tensor *tg__operand(tg_tape **tapep, tg_tensor *h, const char *op, int index) {
    tg_tensor *t = tg__operand_lazy(tapep, h, op, index);
    return t && tg__ready(t) ? t : NULL; /* a lazy record computes its data now */
}

static tg_tape *check(const char *op, int n, tg_tensor **in, bool need_float, bool force);

tg_tape *tg__check(const char *op, int n, tg_tensor **in, bool need_float) {
    return check(op, n, in, need_float, true);
}

tg_tape *tg__check_lazy(const char *op, int n, tg_tensor **in, bool need_float) {
    return check(op, n, in, need_float, false);
}

static tg_tape *check(const char *op, int n, tg_tensor **in, bool need_float, bool force) {
    /* the common case in one glance: two fine handles on one tape */
    if (n == 2 && in[0] && in[1] && !tg__is_half(tg__rec(in[0])) && !tg__is_half(tg__rec(in[1]))) {
        tg_tensor *a = tg__rec(in[0]), *b = tg__rec(in[1]);
        tg_tape *t = a->tape;
        if (!((a->flags | b->flags) & TGF_PARAM) && tg__hot2(in[0], a, in[1], b, t) &&
            (!need_float || (a->dtype == b->dtype && tg__is_float(a->dtype)))) {
            in[0] = a, in[1] = b;
            if (force && ((a->flags | b->flags) & TGF_LAZY) && (!tg__ready(a) || !tg__ready(b)))
                return NULL;
            return t;
        }
    }
    tg_tape *tape = NULL;
    for (int i = 0; i < n; i++) {
        const tg_tensor *r = tg__rec(in[i]);
        if (r && tg__is_half(r)) {
            tape = tg__half_tape((const tg_half *)r);
            break;
        }
        if (r && !(r->flags & TGF_PARAM)) {
            tape = r->tape;
            break;
        }
    }
    if (!tape) { /* all NULL or parameters: nowhere to record */
        for (int i = 0; i < n; i++)
            if (tg__rec(in[i]))
                return tg__fail(NULL, TG_ERR_TAPE, op,
                                "no operand is on a tape (operand %d is a parameter): "
                                "name the tape with tg_param_on(tape, p)",
                                i + 1);
        return n > 0 ? tg__fail(NULL, TG_ERR_NULL, op, "operand 1 is NULL") : NULL;
    }
    /* NULLs and halves first: a refused op makes no PROMOTE record */
    for (int i = 0; i < n; i++) {
        if (!in[i]) return tg__fail(tape, TG_ERR_NULL, op, "operand %d is NULL", i + 1);
        if (tg__is_half(tg__rec(in[i])) && !tg__half_ok(&tape, in[i], op, i)) return NULL;
    }
    for (int i = 0; i < n; i++) {
        in[i] = force ? tg__operand(&tape, in[i], op, i) : tg__operand_lazy(&tape, in[i], op, i);
        if (!in[i]) return NULL;
    }
    if (need_float && !tg__check_float(tape, op, n, in)) return NULL;
    return tape;
}

bool tg__check_float(tg_tape *tape, const char *op, int n, tg_tensor *const *in) {
    for (int i = 0; i < n; i++) {
        if (!tg__is_float(in[i]->dtype) || in[i]->dtype != in[0]->dtype) {
            char b0[160], b1[160];
            if (n == 1 || !tg__is_float(in[i]->dtype))
                return tg__fail(tape, TG_ERR_DTYPE, op, "operand %d is %s %s; this op needs f32 or f64",
                                i + 1, tg_dtype_name((tg_dtype)in[i]->dtype),
                                tg__shape_str(b0, sizeof b0, in[i]->rank, in[i]->shape)),
                       false;
            return tg__fail(tape, TG_ERR_DTYPE, op, "dtypes differ: %s %s and %s %s (use tg_cast)",
                            tg_dtype_name((tg_dtype)in[0]->dtype),
                            tg__shape_str(b0, sizeof b0, in[0]->rank, in[0]->shape),
                            tg_dtype_name((tg_dtype)in[i]->dtype),
                            tg__shape_str(b1, sizeof b1, in[i]->rank, in[i]->shape)),
                   false;
        }
    }
    return true;
}

/* ----------------------------------------------------------- broadcasting */

bool tg__broadcast(const char *op, tg_tape *tape, const tg_tensor *a, const tg_tensor *b,
                   int *rank, int64_t *shape) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char b0[160], b1[160];
            tg__fail(tape, TG_ERR_SHAPE, op, "shapes do not broadcast: %s and %s",
                     tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                     tg__shape_str(b1, sizeof b1, b->rank, b->shape));
            return false;
        }
        shape[i] = da == 1 ? db : da;
    }
    *rank = r;
    return true;
}

void tg__bstrides(int rank, const int64_t *shape, int orank, const int64_t *oshape,
                  int64_t *strides) {
    int64_t s = 1;
    for (int i = orank - 1; i >= 0; i--) {
        int j = i - (orank - rank);
        if (j < 0 || (shape[j] == 1 && oshape[i] != 1)) {
            strides[i] = 0;
        } else {
            strides[i] = s;
        }
        /* past INT64_MAX only with a size-0 axis further out: 0 from here */
        if (j >= 0 && !tg__mul_ok(s, shape[j], &s)) s = 0;
    }
}

/* --------------------------------------------------------- constructors */

static tg_tensor *make_leaf(tg_tape *tape, const char *op, tg_dtype dt, int rank,
                            const int64_t *shape) {
    if (!tape) return tg__fail(NULL, TG_ERR_NULL, op, "tape is NULL");
    int64_t n;
    if (!check_shape(tape, op, rank, shape, dt, &n)) return NULL;
    bool old = tape->grad_enabled;
    tape->grad_enabled = false;
    tg_tensor *t = tg__out(tape, TG_OP_LEAF, dt, rank, shape, NULL, NULL, NULL);
    tape->grad_enabled = old;
    return t;
}

static void fill(tg_tensor *t, double v) {
    int64_t n = tg__numel(t);
    if (t->dtype == TG_F32) {
        float *p = t->data;
        for (int64_t i = 0; i < n; i++) p[i] = (float)v;
    } else if (t->dtype == TG_F64) {
        double *p = t->data;
        for (int64_t i = 0; i < n; i++) p[i] = v;
    } else {
        int64_t *p = t->data;
        for (int64_t i = 0; i < n; i++) p[i] = (int64_t)v;
    }
}

tg_tensor *tg_scalar_as(tg_tape *tape, tg_dtype dt, double v) {
    tg_tensor *t = make_leaf(tape, "scalar", dt, 0, NULL);
    if (t) fill(t, v);
    return tg__handle(t);
}

tg_tensor *tg_scalar(tg_tape *tape, double v) {
    /* The hot path of scalar code: no shape checks needed for rank 0. */
    if (!tape) return tg__fail(NULL, TG_ERR_NULL, "scalar", "tape is NULL");
    if (tape->half_ok && (tape->grad_enabled || !tape->sweeping)) { /* a half leaf */
        tg_half *x = tg__half_new(tape);
        if (!x) return NULL;
        x->v = v;
        x->u.c = 0.0;
        x->in0 = 0;
        x->op = TG_OP_LEAF;
        x->gen = (uint8_t)tape->gen;
        x->in_half = 0;
        x->flags = THF_HALF;
        return tg__handle_at((tg_tensor *)x, tape->gen);
    }
    tg_tensor *t = tg__record(tape);
    if (!t) return NULL;
    t->op = TG_OP_LEAF;
    t->dtype = TG_F64;
    t->data = &t->small;
    t->small.f64 = v;
    return tg__handle_at(t, tape->gen);
}

/* A large leaf's copy (or zeros) on the pool, cut as elementwise ops cut
 * their work: each thread writes the part that the ops after it read and
 * write on that thread, rather than one thread writing what the other's
 * cache then has to fetch from it. */
typedef struct copy_job {
    char *dst;
    const char *src; /* NULL: zeros */
    size_t es;
} copy_job;

static void copy_range(void *ctx, int64_t lo, int64_t hi) {
    const copy_job *j = ctx;
    size_t off = (size_t)lo * j->es, n = (size_t)(hi - lo) * j->es;
    if (j->src)
        memcpy(j->dst + off, j->src + off, n);
    else
        memset(j->dst + off, 0, n);
}

/* A leaf with data's elements (zeros for NULL); `op` names the caller in
 * errors. */
static tg_tensor *leaf_copy(const char *op, tg_tape *tape, tg_dtype dt, int rank,
                            const int64_t *shape, const void *data) {
    tg_tensor *t = make_leaf(tape, op, dt, rank, shape);
    if (!t) return NULL;
    copy_job j = {t->data, data, tg__esize(dt)};
    tg__elementwise(tg__numel(t), copy_range, &j);
    return tg__handle(t);
}

tg_tensor *tg_tensor_new(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape,
                         const void *data) {
    return leaf_copy("tensor_new", tape, dt, rank, shape, data);
}

tg_tensor *tg_zeros(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape) {
    return leaf_copy("zeros", tape, dt, rank, shape, NULL);
}

/* No memset: for a caller that writes every element next (a data set's
 * batch gather: 200 KB a step for the MLP's 64 x 784 batch). */
tg_tensor *tg_empty(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape) {
    return tg__handle(make_leaf(tape, "empty", dt, rank, shape));
}

tg_tensor *tg_full(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape, double v) {
    tg_tensor *t = make_leaf(tape, "full", dt, rank, shape);
    if (t) fill(t, v);
    return tg__handle(t);
}

tg_tensor *tg_ones(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape) {
    return tg_full(tape, dt, rank, shape, 1.0);
}

/* The tape of h for a *_like constructor (NULL for NULL and parameters,
 * and after recording a stale one); *t its record or a half's view. */
static tg_tape *like_tape(const tg_tensor *h, const char *op, const tg_tensor **t,
                          tg_tensor *view) {
    tg_tape *tape = tg__tape_of(h);
    if (!tape) return NULL;
    *t = tg__live_q(h, view);
    if (!*t) {
        tg__fail(tape, TG_ERR_STALE, op, "the tensor is stale (made before a reset)");
        return NULL;
    }
    return tape;
}

tg_tensor *tg_zeros_like(const tg_tensor *h) {
    const tg_tensor *t;
    tg_tensor view;
    tg_tape *tape = like_tape(h, "zeros_like", &t, &view);
    return tape ? tg_zeros(tape, (tg_dtype)t->dtype, t->rank, t->shape) : NULL;
}

tg_tensor *tg_ones_like(const tg_tensor *h) {
    const tg_tensor *t;
    tg_tensor view;
    tg_tape *tape = like_tape(h, "ones_like", &t, &view);
    return tape ? tg_ones(tape, (tg_dtype)t->dtype, t->rank, t->shape) : NULL;
}

static tg_tensor *rand_tensor(tg_tape *tape, const char *op, tg_dtype dt, int rank,
                              const int64_t *shape, tg_rng *rng, double p, double q,
                              bool normal) {
    if (tape && !rng) return tg__fail(tape, TG_ERR_NULL, op, "rng is NULL");
    if (tape && !tg__is_float(dt)) return tg__fail(tape, TG_ERR_DTYPE, op, "needs f32 or f64");
    tg_tensor *t = make_leaf(tape, op, dt, rank, shape);
    if (!t) return NULL;
    int64_t n = tg__numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = normal ? p + q * tg_rng_normal(rng) : p + (q - p) * tg_rng_uniform(rng);
        if (dt == TG_F32)
            ((float *)t->data)[i] = (float)v;
        else
            ((double *)t->data)[i] = v;
    }
    return tg__handle(t);
}

tg_tensor *tg_rand_uniform(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape,
                           tg_rng *rng, double lo, double hi) {
    return rand_tensor(tape, "rand_uniform", dt, rank, shape, rng, lo, hi, false);
}

tg_tensor *tg_rand_normal(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape,
                          tg_rng *rng, double mean, double std) {
    return rand_tensor(tape, "rand_normal", dt, rank, shape, rng, mean, std, true);
}

tg_tensor *tg_requires_grad(tg_tensor *h) {
    tg_half *lx = tg__live_half(h); /* scalar code: a leaf of tg_scalar, or an op's output */
    if (lx) {
        if (lx->op != TG_OP_LEAF)
            return tg__fail(tg__half_tape(lx), TG_ERR_ARG, "requires_grad",
                            "only leaves can be marked; this tensor is the output of %s",
                            tg__ops[lx->op].name);
        lx->flags |= THF_REQ;
        return h;
    }
    tg_tensor *t = tg__rec(h);
    if (!t) return NULL;
    if (tg__is_half(t)) { /* not live (taken above): forwarded, or stale */
        tg_half *x;
        t = tg__live_h(h, &x); /* a forwarded half's full copy stands for it */
        if (!t)
            return tg__fail(tg__tape_of(h), TG_ERR_STALE, "requires_grad",
                            "the tensor is stale (made before a reset)");
    }
    if (t->flags & TGF_PARAM) return t; /* parameters always do */
    if (!tg__current(h, t, t->tape->gen))
        return tg__fail(t->tape, TG_ERR_STALE, "requires_grad", "the tensor is stale (made before a reset)");
    if (t->op != TG_OP_LEAF)
        return tg__fail(t->tape, TG_ERR_ARG, "requires_grad",
                        "only leaves can be marked; this tensor is the output of %s",
                        tg__ops[t->op].name);
    if (!tg__is_float(t->dtype))
        return tg__fail(t->tape, TG_ERR_DTYPE, "requires_grad", "only f32 and f64 tensors have gradients");
    t->flags |= TGF_REQ;
    return tg__handle(h); /* for a forwarded half, the half's handle */
}

bool tg_tensor_requires_grad(const tg_tensor *h) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    return t && (t->flags & (TGF_REQ | TGF_PARAM));
}

tg_tensor *tg_detach(tg_tensor *t) {
    tg_tape *tape = NULL;
    tg_half *x;
    if (t && tg__is_half(tg__rec(t)) && (tg__live_h(t, &x), x)) /* its value, not a copy's */
        return tg__handle(tg__wrap(tg__half_tape(x), TG_F64, 0, NULL, &x->v));
    t = tg__operand(&tape, t, "detach", 0);
    if (!t) return NULL;
    return tg__handle(tg__wrap(tape, t->dtype, t->rank, t->shape, t->data));
}

/* --------------------------------------------------------------- queries */

/* Queries take handles: tg__live gives the record, or NULL if stale. */
tg_tape *tg_tensor_tape(const tg_tensor *h) { return tg__tape_of(h); }

tg_dtype tg_tensor_dtype(const tg_tensor *h) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    return t ? (tg_dtype)t->dtype : TG_F32;
}

/* A query given NULL or a stale tensor: the sentence goes to the thread's
 * last error only (queries record nothing on a tape). Off the hot path. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static void bad_query(const tg_tensor *h, const char *op) {
    if (!h) {
        if (!tg__null_keeps_last())
                tg_set_last_error(TG_ERR_NULL, "%s: the tensor is NULL", op);
    } else {
        tg_set_last_error(TG_ERR_STALE, "%s: the tensor is stale (made before a tg_tape_reset)", op);
    }
}

int tg_tensor_rank(const tg_tensor *h) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    if (!t) return bad_query(h, "tensor_rank"), -1;
    return t->rank;
}

int64_t tg_tensor_dim(const tg_tensor *h, int axis) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    if (!t) return bad_query(h, "tensor_dim"), -1;
    int a = t->rank ? tg__axis(axis, t->rank) : -1;
    if (a < 0) {
        tg_set_last_error(TG_ERR_ARG, "tensor_dim: axis %d is out of range for rank %d", axis,
                          (int)t->rank);
        return -1;
    }
    return t->shape[a];
}

const int64_t *tg_tensor_shape(const tg_tensor *h) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    if (!t) return bad_query(h, "tensor_shape"), NULL;
    return t->rank ? t->shape : NULL;
}

tg_status tg_tensor_status(const tg_tensor *h) {
    if (!h) return TG_ERR_NULL;
    tg_tensor view_;
    return tg__live_q(h, &view_) ? TG_OK : TG_ERR_STALE;
}

int64_t tg_tensor_numel(const tg_tensor *h) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    if (!t) return bad_query(h, "tensor_numel"), -1;
    return tg__numel(t);
}

char *tg_tensor_shape_str(const tg_tensor *h, char *buf, size_t n) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    if (!t) {
        if (n) snprintf(buf, n, "%s", h ? "(stale)" : "(null)");
        return buf;
    }
    return tg__shape_str(buf, n, t->rank, t->shape);
}

/* A pointer that a user may write through: a lazy record computes its
 * data first, and writing into a leaf must not change what the lazy
 * records that read it compute later, so a leaf forces them all. */
static void *data_as(const tg_tensor *h, int dt, const char *op) {
    tg_tensor view;
    tg_tensor *t = (tg_tensor *)tg__live_q(h, &view);
    if (!t) return bad_query(h, op), NULL;
    if (dt >= 0 && t->dtype != dt) return NULL; /* another dtype: a probe, no failure */
    if (!(t->flags & TGF_PARAM) && t->tape->lazy_pending && t->op == TG_OP_LEAF)
        tg__fuse_force_all(t->tape);
    return tg__ready(t) ? t->data : NULL;
}

float *tg_tensor_f32(const tg_tensor *h) { return data_as(h, TG_F32, "tensor_f32"); }
double *tg_tensor_f64(const tg_tensor *h) { return data_as(h, TG_F64, "tensor_f64"); }
int64_t *tg_tensor_i64(const tg_tensor *h) { return data_as(h, TG_I64, "tensor_i64"); }
void *tg_tensor_data(const tg_tensor *h) { return data_as(h, -1, "tensor_data"); }

static double get(const tg_tensor *c, int64_t i) {
    tg_tensor *t = (tg_tensor *)c; /* a lazy record computes its data */
    if (!tg__ready(t)) return NAN;
    switch (t->dtype) {
    case TG_F32: return ((const float *)t->data)[i];
    case TG_F64: return ((const double *)t->data)[i];
    default: return (double)((const int64_t *)t->data)[i];
    }
}

double tg_item(const tg_tensor *h) {
    const tg_half *x = tg__live_half(h); /* scalar code: no call, no view */
    if (x) return x->v;
    if (!h) return bad_query(h, "item"), NAN;
    tg_tensor view;
    const tg_tensor *t = tg__live_q(h, &view);
    if (!t) {
        tg__fail(tg__tape_of(h), TG_ERR_STALE, "item", "the tensor is stale (made before a reset)");
        return NAN;
    }
    if (tg__numel(t) != 1) {
        char b[160];
        tg__fail(t->tape, TG_ERR_SHAPE, "item", "needs exactly one element, got shape %s",
                 tg__shape_str(b, sizeof b, t->rank, t->shape));
        return NAN;
    }
    return get(t, 0);
}

double tg_tensor_get(const tg_tensor *h, int64_t i) {
    tg_tensor view_;
    const tg_tensor *t = tg__live_q(h, &view_);
    if (!t) return bad_query(h, "tensor_get"), NAN;
    if (i < 0 || i >= tg__numel(t)) {
        tg_set_last_error(TG_ERR_ARG, "tensor_get: index %lld is out of range for %lld elements",
                          (long long)i, (long long)tg__numel(t));
        return NAN;
    }
    return get(t, i);
}

/* ------------------------------------------------------------ parameters */

/* One allocation holds: the parameter's record, a record for its gradient
 * (itself a parameter-like tensor that requires no grad, so it can be read
 * on a tape as a constant), their two extensions, the data and the grad. */
typedef struct param_block {
    tg_tensor rec, grec;
    tg_param_ext ext, gext;
} param_block;

tg_tensor *tg_param_new(tg_dtype dt, int rank, const int64_t *shape) {
    int64_t n;
    if (!check_shape(NULL, "param_new", rank, shape, dt, &n) || !tg__is_float(dt)) return NULL;
    size_t bytes = (size_t)n * tg__esize(dt);
    size_t head = (sizeof(param_block) + 63) & ~(size_t)63;
    size_t dbytes = (bytes + 63) & ~(size_t)63;
    if (dbytes > (SIZE_MAX - head - 64) / 2) return NULL;
    char *raw = tg__malloc(head + 2 * dbytes + 64);
    if (!raw) return NULL;
    char *base = raw + (64 - (uintptr_t)raw % 64) % 64;
    memset(base, 0, head + 2 * dbytes);
    param_block *b = (param_block *)base;
    void *data = base + head, *grad = base + head + dbytes;
    tg_tensor *recs[2] = {&b->rec, &b->grec};
    tg_param_ext *exts[2] = {&b->ext, &b->gext};
    for (int k = 0; k < 2; k++) {
        tg_tensor *p = recs[k];
        tg_param_ext *x = exts[k];
        p->op = TG_OP_LEAF;
        p->dtype = (uint8_t)dt;
        p->rank = (uint8_t)rank;
        p->flags = k == 0 ? (TGF_PARAM | TGF_REQ) : TGF_PARAM;
        if (rank) memcpy(x->shape, shape, (size_t)rank * sizeof(int64_t));
        p->shape = x->shape;
        p->data = k == 0 ? data : grad;
        x->gstore = grad;
        x->grad_rec = k == 0 ? &b->grec : NULL;
        p->u.aux = k == 0 ? raw : NULL; /* what to free */
        p->small.pext = x;
    }
    return &b->rec;
}

/* A parameter freed while a tape still holds a proxy of it (before that
 * tape's reset or free) is only marked: the tape frees it when it lets go,
 * so the sweep never touches freed memory. */
void tg_param_free(tg_tensor *p) {
    p = tg__rec(p);
    if (!p || !(p->flags & TGF_PARAM) || !p->u.aux) return;
    if (p->small.pext->live > 0) {
        p->small.pext->dying = true;
        return;
    }
    void *raw = p->u.aux;
    /* a freed handle no longer looks like a parameter */
    memset(p, 0, sizeof(param_block));
    tg__free(raw);
}

void tg__drop_proxies(tg_tape *tape) {
    for (int i = 0; i < tape->nproxy; i++) {
        tg_tensor *p = tape->proxies[i]->u.param;
        tg_param_ext *x = p->small.pext;
        if (x->ptape == tape) x->ptape = NULL;
        if (--x->live == 0 && x->dying) tg_param_free(p);
    }
    tape->nproxy = 0;
}

bool tg_tensor_is_param(const tg_tensor *h) {
    const tg_tensor *t = tg__rec(h);
    return t && (t->flags & TGF_PARAM);
}

tg_tensor *tg_param_on(tg_tape *tape, tg_tensor *p) {
    if (!tape) return tg__fail(NULL, TG_ERR_NULL, "param_on", "tape is NULL");
    if (!p) return tg__fail(tape, TG_ERR_NULL, "param_on", "parameter is NULL");
    tg_tape *tp = tape;
    /* a parameter: its proxy; a tape tensor: itself, checked */
    return tg__handle(tg__operand(&tp, p, "param_on", 0));
}

/* The proxy record of parameter p on tape, made once per pass. */
static tg_tensor *proxy_of(tg_tape *tape, tg_tensor *p) {
    tg_param_ext *x = p->small.pext;
    if (x->ptape == tape && x->pserial == tape->serial && x->pgen == tape->gen) return x->proxy;
    bool old = tape->grad_enabled;
    tape->grad_enabled = false;
    tg_tensor *t = tg__out(tape, TG_OP_PROXY, p->dtype, p->rank, p->shape, NULL, NULL, p->data);
    tape->grad_enabled = old;
    if (!t) return NULL;
    if (p->small.pext->dying)
        return tg__fail(tape, TG_ERR_STATE, "param_on", "the parameter was freed (tg_param_free)");
    if (tape->nproxy == tape->capproxy) {
        int cap = tape->capproxy ? 2 * tape->capproxy : 16;
        tg_tensor **v = tg__realloc(tape->proxies, (size_t)cap * sizeof *v);
        if (!v) return tg__fail(tape, TG_ERR_NOMEM, "param_on", "out of memory");
        tape->proxies = v;
        tape->capproxy = cap;
    }
    tape->proxies[tape->nproxy++] = t;
    x->live++;
    t->u.param = p;
    if (p->flags & TGF_REQ) t->flags |= TGF_REQ;
    x->ptape = tape;
    x->pserial = tape->serial;
    x->pgen = tape->gen;
    x->proxy = t;
    if (x->hook) x->hook_proxy(tape); /* inspect: the sweep must run it */
    return t;
}
