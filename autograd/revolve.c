/* revolve.c - the time-loop driver with binomial checkpointing
 * (tg_revolve.h); the schedule's arithmetic is in revolve_plan.c.
 *
 * Snapshots form a stack: slot 0 holds x_0, slot d the state at pos[d]
 * (increasing). The steps still to reverse are those below `hi`. The top
 * snapshot, at lo = pos[top], covers [lo, hi) with avail = s - top
 * snapshots (its own included):
 *   - one step left (hi = lo + 1): record step lo from the snapshot, pop;
 *   - avail = 1: for i = hi - 1 down to lo, advance from lo to i and record
 *     step i; pop;
 *   - else advance m = tg__revolve_split(hi - lo, avail) steps from lo into
 *     a new top snapshot.
 * Recording step k: the tape holds x_k as leaves (the parameters x0 at
 * k = 0), the loss term of x_k (every), the step, and either the final
 * loss (k = N - 1) or sum_i sum(y_i * lambda_i) with lambda = d L / d
 * x_{k+1} as constants; tg_backward of that gives lambda_k in the leaves'
 * gradients and adds d L / d p of this step into the parameters'. The
 * gradient reaching y_i is exactly lambda_i (lambda * 1), so each step is
 * differentiated with the same operations, in the same order, as on one
 * tape of the whole loop; only parameter gradients are summed per step.
 * Only the public API is used.
 */
#include "tg_revolve.h"

#include <string.h>

#include "revolve_plan.h"
#include "tg_autograd.h"
#include "tg_ops.h"

typedef struct rv {
    tg_tape *tape;
    const tg_revolve_problem *p;
    int n;
    int64_t N;
    size_t sbytes;      /* one state */
    size_t *off;        /* n: each tensor's offset in a state buffer */
    tg_tensor **x, **y; /* n each */
    char *snap;         /* s states */
    int64_t *pos;       /* s */
    char *cur, *lam;    /* working state, adjoint */
    char *block;
    tg_revolve_stats st;
} rv;

static size_t esize(tg_dtype dt) { return dt == TG_F32 ? 4 : 8; }

/* Checks the arguments; fills off and sbytes. */
static bool check_args(tg_tape *tape, const tg_revolve_problem *p, int64_t N, int s,
                       size_t *sbytes) {
    if (s < 1)
        return tg_tape_fail(tape, TG_ERR_ARG, "revolve: snapshots must be >= 1, got %d", s),
               false;
    if (N < 0)
        return tg_tape_fail(tape, TG_ERR_ARG, "revolve: nsteps must be >= 0, got %lld",
                            (long long)N),
               false;
    if (!p->step || !p->loss)
        return tg_tape_fail(tape, TG_ERR_NULL, "revolve: the %s function is NULL",
                            p->step ? "loss" : "step"),
               false;
    if (p->nstate < 1 || !p->x0)
        return tg_tape_fail(tape, TG_ERR_ARG,
                            "revolve: the state needs nstate >= 1 parameters in x0, got %d%s",
                            p->nstate, p->x0 ? "" : " and x0 = NULL"),
               false;
    size_t b = 0;
    for (int i = 0; i < p->nstate; i++) {
        tg_tensor *t = p->x0[i];
        if (!tg_tensor_is_param(t))
            return tg_tape_fail(tape, TG_ERR_ARG,
                                "revolve: x0[%d] is %s; the initial state must be parameters "
                                "(tg_param_new)",
                                i, t ? "a tensor on a tape" : "NULL"),
                   false;
        tg_dtype dt = tg_tensor_dtype(t);
        if (dt != TG_F32 && dt != TG_F64)
            return tg_tape_fail(tape, TG_ERR_DTYPE, "revolve: x0[%d] is %s; states are f32 or f64",
                                i, tg_dtype_name(dt)),
                   false;
        size_t e = (size_t)tg_tensor_numel(t) * esize(dt);
        if (b > SIZE_MAX / 2 - e)
            return tg_tape_fail(tape, TG_ERR_OVERFLOW, "revolve: the state is too large"), false;
        b += (e + 63) & ~(size_t)63;
    }
    *sbytes = b;
    return true;
}

/* The state in buf (or the parameters x0, for buf = NULL) as tensors
 * r->x on the tape; leaves that require grad when `leaf`. */
static bool load(rv *r, const char *buf, bool leaf) {
    for (int i = 0; i < r->n; i++) {
        tg_tensor *p0 = r->p->x0[i];
        if (!buf) {
            r->x[i] = tg_param_on(r->tape, p0);
            continue;
        }
        tg_dtype dt = tg_tensor_dtype(p0);
        int rank = tg_tensor_rank(p0);
        const char *src = buf + r->off[i];
        tg_tensor *t = rank == 0 ? tg_scalar_as(r->tape, dt,
                                                dt == TG_F32 ? (double)*(const float *)src
                                                             : *(const double *)src)
                                 : tg_tensor_new(r->tape, dt, rank, tg_tensor_shape(p0), src);
        r->x[i] = leaf ? tg_requires_grad(t) : t;
    }
    return tg_tape_ok(r->tape);
}

/* Runs step k on r->x into r->y and checks what it gave. */
static bool run_step(rv *r, int64_t k) {
    for (int i = 0; i < r->n; i++) r->y[i] = NULL;
    r->p->step(r->tape, r->x, k, r->y, r->p->ud);
    if (!tg_tape_ok(r->tape)) return false;
    for (int i = 0; i < r->n; i++) {
        tg_tensor *a = r->p->x0[i], *b = r->y[i];
        if (!b)
            return tg_tape_fail(r->tape, TG_ERR_NULL, "revolve: step %lld left next[%d] NULL",
                                (long long)k, i),
                   false;
        bool same = tg_tensor_dtype(a) == tg_tensor_dtype(b) &&
                    tg_tensor_rank(a) == tg_tensor_rank(b) &&
                    tg_tensor_tape(b) == r->tape;
        for (int d = 0; same && d < tg_tensor_rank(a); d++)
            same = tg_tensor_dim(a, d) == tg_tensor_dim(b, d);
        if (!same) {
            char sa[96], sb[96];
            return tg_tape_fail(r->tape, TG_ERR_SHAPE,
                                "revolve: step %lld gave next[%d] %s %s%s, but the state's "
                                "tensor %d is %s %s",
                                (long long)k, i, tg_dtype_name(tg_tensor_dtype(b)),
                                tg_tensor_shape_str(b, sb, sizeof sb),
                                tg_tensor_tape(b) == r->tape ? "" : " (not on the driver's tape)",
                                i, tg_dtype_name(tg_tensor_dtype(a)),
                                tg_tensor_shape_str(a, sa, sizeof sa)),
                   false;
        }
    }
    return true;
}

static void save(rv *r, char *buf) {
    for (int i = 0; i < r->n; i++)
        memcpy(buf + r->off[i], tg_tensor_data(r->y[i]),
               (size_t)tg_tensor_numel(r->y[i]) * esize(tg_tensor_dtype(r->y[i])));
}

/* x_{k0 + m} into `to` by m unrecorded steps from x_{k0} in `from`. */
static bool advance(rv *r, const char *from, int64_t k0, int64_t m, char *to) {
    for (int64_t j = 0; j < m; j++) {
        tg_tape_reset(r->tape);
        tg_tape_set_grad_enabled(r->tape, false);
        if (!load(r, j ? to : from, false) || !run_step(r, k0 + j)) return false;
        save(r, to);
        r->st.advances++;
    }
    return true;
}

/* Adds the loss term of state k (tensors xs) to *acc. */
static bool add_loss(rv *r, tg_tensor *const *xs, int64_t k, tg_tensor **acc) {
    tg_tensor *l = r->p->loss(r->tape, xs, k, r->p->ud);
    if (!tg_tape_ok(r->tape)) return false;
    if (!l) return true;
    if (tg_tensor_numel(l) != 1 || tg_tensor_tape(l) != r->tape) {
        char b[96];
        return tg_tape_fail(r->tape, TG_ERR_SHAPE,
                            "revolve: the loss at step %lld has shape %s%s; it must be one "
                            "element on the driver's tape",
                            (long long)k, tg_tensor_shape_str(l, b, sizeof b),
                            tg_tensor_tape(l) == r->tape ? "" : " (on another tape)"),
               false;
    }
    r->st.loss += tg_item(l);
    *acc = *acc ? tg_add(*acc, l) : l;
    return tg_tape_ok(r->tape);
}

/* Records step k from x_k in buf (x0's parameters for k = 0), sweeps it
 * with d L / d x_{k+1} from r->lam, and leaves d L / d x_k in r->lam. */
static bool reverse_step(rv *r, int64_t k, const char *buf) {
    tg_tape *t = r->tape;
    tg_tape_reset(t);
    if (!load(r, k ? buf : NULL, true)) return false;
    tg_tensor *acc = NULL;
    if (r->p->every && !add_loss(r, r->x, k, &acc)) return false;
    if (!run_step(r, k)) return false;
    r->st.recorded++;
    if (k == r->N - 1) {
        if (!add_loss(r, r->y, r->N, &acc)) return false;
    } else {
        for (int i = 0; i < r->n; i++) {
            tg_tensor *y = r->y[i];
            tg_tensor *g = tg_tensor_new(t, tg_tensor_dtype(y), tg_tensor_rank(y),
                                         tg_tensor_shape(y), r->lam + r->off[i]);
            tg_tensor *d = tg_mul(y, g);
            if (tg_tensor_rank(y) > 0) d = tg_sum(d);
            acc = acc ? tg_add(acc, d) : d;
        }
        if (!tg_tape_ok(t)) return false;
    }
    if (acc && tg_tensor_requires_grad(acc) && tg_backward(acc) != TG_OK) return false;
    if (k == 0) return true;
    for (int i = 0; i < r->n; i++) {
        tg_tensor *x = r->x[i];
        size_t nb = (size_t)tg_tensor_numel(x) * esize(tg_tensor_dtype(x));
        char *dst = r->lam + r->off[i];
        if (tg_tensor_rank(x) == 0) {
            double g = tg_grad_item(x);
            if (g != g && !tg_tensor_grad(x)) g = 0; /* x_k does not reach the loss */
            if (tg_tensor_dtype(x) == TG_F32) *(float *)dst = (float)g;
            else *(double *)dst = g;
            continue;
        }
        tg_tensor *g = tg_tensor_grad(x);
        if (g) memcpy(dst, tg_tensor_data(g), nb);
        else memset(dst, 0, nb);
    }
    return tg_tape_ok(t);
}

/* The schedule (see the top of the file). */
static bool sweep(rv *r, int64_t s) {
    int64_t hi = r->N, top = 0;
    r->pos[0] = 0;
    r->st.snapshots_used = 1;
    while (hi > 0) {
        int64_t lo = r->pos[top], avail = s - top;
        char *base = r->snap + (size_t)top * r->sbytes;
        if (hi - lo == 1 || avail == 1) {
            for (int64_t i = hi - 1; i > lo; i--)
                if (!advance(r, base, lo, i - lo, r->cur) || !reverse_step(r, i, r->cur))
                    return false;
            if (!reverse_step(r, lo, base)) return false;
            hi = lo;
            if (top) top--;
            continue;
        }
        int64_t m = tg__revolve_split(hi - lo, avail);
        if (!advance(r, base, lo, m, base + r->sbytes)) return false;
        r->pos[++top] = lo + m;
        if (top + 1 > r->st.snapshots_used) r->st.snapshots_used = (int)(top + 1);
    }
    return true;
}

tg_status tg_revolve(tg_tape *tape, const tg_revolve_problem *p, int64_t nsteps,
                     int snapshots, tg_revolve_stats *stats) {
    if (!tape) return TG_ERR_NULL;
    tg_tape_reset(tape);
    tg_tape_reset_peak(tape);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!p) {
        tg_tape_fail(tape, TG_ERR_NULL, "revolve: the problem is NULL");
        return TG_ERR_NULL;
    }
    size_t sbytes;
    if (!check_args(tape, p, nsteps, snapshots, &sbytes)) return tg_tape_status(tape);
    rv r = {.tape = tape, .p = p, .n = p->nstate, .N = nsteps, .sbytes = sbytes};
    int64_t s = snapshots < nsteps ? snapshots : (nsteps > 0 ? nsteps : 1);
    size_t n = (size_t)p->nstate;
    /* one block: off, x, y, pos, then the states (64-byte aligned) */
    size_t head = n * sizeof(size_t) + 2 * n * sizeof(tg_tensor *) + (size_t)s * sizeof(int64_t);
    head = (head + 63) & ~(size_t)63;
    if (sbytes && (size_t)s + 2 > (SIZE_MAX - head - 64) / sbytes) {
        tg_tape_fail(tape, TG_ERR_OVERFLOW, "revolve: %lld snapshots of %zu bytes overflow",
                     (long long)s, sbytes);
        return tg_tape_status(tape);
    }
    size_t states = ((size_t)s + 2) * sbytes;
    r.block = tg_malloc(head + states + 64);
    if (!r.block) {
        tg_tape_fail(tape, TG_ERR_NOMEM,
                     "revolve: out of memory allocating %lld snapshots of %zu bytes",
                     (long long)s, sbytes);
        return tg_tape_status(tape);
    }
    r.off = (size_t *)(void *)r.block;
    r.x = (tg_tensor **)(void *)(r.off + n);
    r.y = r.x + n;
    r.pos = (int64_t *)(void *)(r.y + n);
    char *st0 = r.block + head;
    st0 += (64 - (uintptr_t)st0 % 64) % 64;
    r.snap = st0;
    r.cur = st0 + (size_t)s * sbytes;
    r.lam = r.cur + sbytes;
    for (size_t i = 0, o = 0; i < n; i++) {
        r.off[i] = o;
        size_t e = (size_t)tg_tensor_numel(p->x0[i]) * esize(tg_tensor_dtype(p->x0[i]));
        memcpy(r.snap + o, tg_tensor_data(p->x0[i]), e);
        o += (e + 63) & ~(size_t)63;
    }
    bool ok;
    if (nsteps == 0) {
        tg_tensor *acc = NULL;
        ok = load(&r, NULL, true) && add_loss(&r, r.x, 0, &acc) &&
             (!acc || !tg_tensor_requires_grad(acc) || tg_backward(acc) == TG_OK);
        r.st.snapshots_used = 1;
    } else {
        ok = sweep(&r, s);
    }
    (void)ok;
    r.st.snapshot_bytes = states;
    r.st.tape_peak = tg_tape_bytes_peak(tape);
    if (stats) *stats = r.st;
    tg_free(r.block);
    return tg_tape_status(tape);
}
