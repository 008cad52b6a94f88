/* dist_ddp.c - gradient averaging in buckets (see tg_dist.h, tg_ddp_*).
 *
 * The trainable tensors, in reverse registration order, are packed into
 * buckets: flat arrays of one dtype of at most bucket_bytes. A gradient
 * hook on each tensor copies its finished gradient, times the rank's
 * weight, into its place in the bucket. When the last tensor of a bucket
 * arrives, and every bucket before it has started, the bucket's sum over
 * the ranks starts (MPI_Iallreduce in place), so the buckets start in the
 * same order on every rank, as MPI requires of collectives, while the
 * sweep goes on below (all but the last bucket: see start_ready).
 * tg_ddp_sync reduces the rest, reduces the status
 * word {failed, weight} beside them, waits, and writes the weighted mean
 * back into the stored gradients, or agrees on the failing rank.
 *
 * Open MPI moves a non-blocking collective forward only inside MPI calls,
 * so each hook also tests the buckets in flight (MPI_Testall).
 */
#include "dist_private.h"

#include <math.h>
#include <string.h>

#ifndef TG_HAVE_MPI

tg_ddp *tg__ddp_new_e(tg_dist *d, tg_params *ps, size_t bucket_bytes, char *err, size_t errlen) {
    tg__io_seterr(err, errlen, "dist: tapegrad was built without MPI");
    return NULL;
}
void tg_ddp_free(tg_ddp *g) {}
tg_status tg_ddp_begin(tg_ddp *g, double weight) { return TG_ERR_NULL; }
tg_status tg_ddp_sync(tg_ddp *g, tg_tape *tape) { return TG_ERR_NULL; }
int tg_ddp_buckets(const tg_ddp *g) { return 0; }
int tg_ddp_started_early(const tg_ddp *g) { return 0; }

#else /* TG_HAVE_MPI */

typedef struct entry {
    tg_ddp *g;
    tg_tensor *p;      /* the parameter */
    int bucket;
    int64_t off, numel; /* its place in the bucket's array */
    bool fired;        /* its gradient arrived in this step */
} entry;

typedef struct bucket {
    void *buf;         /* [numel] of dt: sum_r w_r g_r after the reduction */
    int64_t numel;
    tg_dtype dt;
    int nparams, nready;
    bool started;
    MPI_Request req;
} bucket;

struct tg_ddp {
    tg_dist *d;
    int n, nb;
    entry *e;          /* [n] */
    bucket *b;         /* [nb] */
    int next;          /* the first bucket not started */
    double weight;
    bool open;         /* between begin and sync */
    tg_status local;   /* this rank's own failure in the step (hooks, MPI) */
    char msg[TG__DIST_ERR - 96];
    int64_t steps;
    int early;
};

static size_t dsize(tg_dtype dt) { return dt == TG_F64 ? 8 : 4; }

static void local_fail(tg_ddp *g, tg_status s, const char *msg) {
    if (g->local != TG_OK) return;
    g->local = s;
    snprintf(g->msg, sizeof g->msg, "%.400s", msg);
}

/* Starts every complete bucket from g->next on, in order. From a hook the
 * last bucket waits for tg_ddp_sync: it completes with the sweep's last
 * gradients, so nothing is left to overlap, and a blocking MPI_Allreduce
 * finishes sooner than MPI_Iallreduce + wait (318 KB over Open MPI's
 * shared memory, 2 ranks: 67 us against 94 us). */
static void start_ready(tg_ddp *g, bool in_hook) {
    while (g->next < g->nb && g->b[g->next].nready == g->b[g->next].nparams) {
        if (in_hook && g->next == g->nb - 1) return;
        bucket *b = &g->b[g->next];
        MPI_Datatype t = b->dt == TG_F64 ? MPI_DOUBLE : MPI_FLOAT;
        int rc = in_hook ? MPI_Iallreduce(MPI_IN_PLACE, b->buf, (int)b->numel, t, MPI_SUM,
                                          g->d->comm, &b->req)
                         : MPI_Allreduce(MPI_IN_PLACE, b->buf, (int)b->numel, t, MPI_SUM,
                                         g->d->comm);
        if (!in_hook) b->req = MPI_REQUEST_NULL;
        if (tg__dist_mpi(g->d, rc, in_hook ? "MPI_Iallreduce" : "MPI_Allreduce") != TG_OK) {
            local_fail(g, TG_ERR_STATE, g->d->err);
            b->req = MPI_REQUEST_NULL;
        }
        b->started = true;
        g->next++;
    }
}

/* Lets MPI move the buckets in flight along. */
static void progress(tg_ddp *g) {
    for (int i = 0; i < g->next; i++) {
        int done = 0;
        if (g->b[i].req != MPI_REQUEST_NULL) MPI_Test(&g->b[i].req, &done, MPI_STATUS_IGNORE);
    }
}

static tg_tensor *hook(tg_tensor *t, tg_tensor *grad, void *ud) {
    entry *e = ud;
    tg_ddp *g = e->g;
    if (!g->open || e->fired) {
        local_fail(g, TG_ERR_STATE, !g->open ? "ddp: a backward sweep outside tg_ddp_begin .. "
                                               "tg_ddp_sync"
                                             : "ddp: a second backward sweep in one step");
        return grad;
    }
    bucket *b = &g->b[e->bucket];
    if (tg_tensor_numel(grad) != e->numel || tg_tensor_dtype(grad) != b->dt) {
        local_fail(g, TG_ERR_SHAPE, "ddp: a gradient does not match its parameter");
        return grad;
    }
    if (b->dt == TG_F64) {
        const double *src = tg_tensor_f64(grad);
        double *dst = (double *)b->buf + e->off, w = g->weight;
        for (int64_t i = 0; i < e->numel; i++) dst[i] = src[i] * w;
    } else {
        const float *src = tg_tensor_f32(grad);
        float *dst = (float *)b->buf + e->off, w = (float)g->weight;
        for (int64_t i = 0; i < e->numel; i++) dst[i] = src[i] * w;
    }
    e->fired = true;
    b->nready++;
    progress(g);
    start_ready(g, true);
    return grad;
}

void tg_ddp_free(tg_ddp *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) tg_tensor_set_hook(g->e[i].p, NULL, NULL);
    for (int i = 0; i < g->nb; i++) {
        if (g->b[i].req != MPI_REQUEST_NULL) MPI_Wait(&g->b[i].req, MPI_STATUS_IGNORE);
        tg_free(g->b[i].buf);
    }
    tg_free(g->e);
    tg_free(g->b);
    tg_free(g);
}

tg_ddp *tg__ddp_new_e(tg_dist *d, tg_params *ps, size_t bucket_bytes, char *err, size_t errlen) {
    if (!d || !ps) {
        tg__io_seterr(err, errlen, "ddp_new: NULL %s", d ? "parameter list" : "handle");
        return NULL;
    }
    if (bucket_bytes == 0) bucket_bytes = TG_DDP_BUCKET_BYTES;
    /* The layout must agree: the same buckets on every rank. */
    unsigned long long h = 1469598103934665603u;
    int n = 0;
    for (int i = 0; i < tg_params_count(ps); i++) {
        if (tg_params_is_buffer(ps, i)) continue;
        tg_tensor *t = tg_params_at(ps, i);
        h = (h ^ (unsigned long long)tg_tensor_numel(t)) * 1099511628211u;
        h = (h ^ (unsigned long long)tg_tensor_dtype(t)) * 1099511628211u;
        n++;
    }
    unsigned long long in[2] = {h, ~h}, out[2] = {0, 0};
    if (tg__dist_mpi(d, MPI_Allreduce(in, out, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, d->comm),
                     "MPI_Allreduce (layout)") != TG_OK) {
        tg__io_seterr(err, errlen, "%s", d->err);
        return NULL;
    }
    if (out[0] != ~out[1]) {
        tg__io_seterr(err, errlen, "ddp_new: the ranks' models differ (sizes or dtypes of "
                      "their %d trainable tensors)", n);
        return NULL;
    }
    tg_ddp *g = tg_malloc(sizeof *g);
    if (!g) goto nomem;
    memset(g, 0, sizeof *g);
    g->d = d;
    g->e = tg_malloc((size_t)(n ? n : 1) * sizeof *g->e);
    g->b = tg_malloc((size_t)(n ? n : 1) * sizeof *g->b);
    if (!g->e || !g->b) goto nomem;
    memset(g->b, 0, (size_t)(n ? n : 1) * sizeof *g->b);
    for (int i = 0; i < (n ? n : 1); i++) g->b[i].req = MPI_REQUEST_NULL;
    /* Reverse registration order: the output layer's gradients come first. */
    for (int i = tg_params_count(ps) - 1; i >= 0; i--) {
        if (tg_params_is_buffer(ps, i)) continue;
        tg_tensor *t = tg_params_at(ps, i);
        tg_dtype dt = tg_tensor_dtype(t);
        int64_t k = tg_tensor_numel(t);
        if (k > INT32_MAX || (dt != TG_F32 && dt != TG_F64)) {
            tg__io_seterr(err, errlen, "ddp_new: %s: %s", tg_params_name(ps, i),
                          k > INT32_MAX ? "more than 2^31-1 elements" : "not f32 or f64");
            tg_ddp_free(g);
            return NULL;
        }
        bucket *b = g->nb ? &g->b[g->nb - 1] : NULL;
        if (!b || b->dt != dt || (size_t)(b->numel + k) * dsize(dt) > bucket_bytes ||
            b->numel + k > INT32_MAX) {
            b = &g->b[g->nb++];
            b->dt = dt;
        }
        g->e[g->n] = (entry){g, t, g->nb - 1, b->numel, k, false};
        b->numel += k;
        b->nparams++;
        g->n++;
    }
    for (int i = 0; i < g->nb; i++) {
        g->b[i].buf = tg_malloc((size_t)(g->b[i].numel ? g->b[i].numel : 1) * dsize(g->b[i].dt));
        if (!g->b[i].buf) goto nomem;
    }
    for (int i = 0; i < g->n; i++)
        if (!tg_tensor_set_hook(g->e[i].p, hook, &g->e[i])) {
            tg__io_seterr(err, errlen, "ddp_new: cannot set a gradient hook on %s",
                          "a trainable tensor");
            tg_ddp_free(g);
            return NULL;
        }
    tg__io_seterr(err, errlen, "%s", "");
    return g;
nomem:
    tg__io_seterr(err, errlen, "ddp_new: out of memory");
    tg_ddp_free(g);
    return NULL;
}

tg_status tg_ddp_begin(tg_ddp *g, double weight) {
    if (!g) return TG_ERR_NULL;
    if (!(weight >= 0) || !isfinite(weight))
        return tg__dist_fail(g->d, TG_ERR_ARG, "ddp_begin: weight %g (must be >= 0 and finite)",
                             weight);
    g->weight = weight;
    g->open = true;
    g->local = TG_OK;
    g->msg[0] = 0;
    g->next = 0;
    for (int i = 0; i < g->n; i++) g->e[i].fired = false;
    for (int i = 0; i < g->nb; i++) {
        g->b[i].nready = 0;
        g->b[i].started = false;
    }
    return TG_OK;
}

/* Overwrites p's stored gradient with its part of the bucket / total. */
static void write_back(const entry *e, const bucket *b, double total) {
    tg_tensor *gt = tg_tensor_grad(e->p);
    if (!gt) return;
    if (b->dt == TG_F64) {
        const double *src = (const double *)b->buf + e->off;
        double *dst = tg_tensor_f64(gt);
        for (int64_t i = 0; i < e->numel; i++) dst[i] = src[i] / total;
    } else {
        const float *src = (const float *)b->buf + e->off;
        float *dst = tg_tensor_f32(gt), t = (float)total;
        for (int64_t i = 0; i < e->numel; i++) dst[i] = src[i] / t;
    }
}

tg_status tg_ddp_sync(tg_ddp *g, tg_tape *tape) {
    if (!g) return TG_ERR_NULL;
    tg_dist *d = g->d;
    if (!g->open) {
        /* begin was not called: take part with nothing, and fail. */
        tg_ddp_begin(g, 0);
        local_fail(g, TG_ERR_STATE, "ddp: tg_ddp_sync without tg_ddp_begin");
    }
    tg_status mine = g->local;
    const char *why = g->msg;
    if (tape && !tg_tape_ok(tape)) {
        mine = tg_tape_status(tape);
        why = tg_tape_error(tape);
    }
    /* The rest of the buckets, in order: a tensor that got no gradient
     * contributes zeros. */
    for (int i = 0; i < g->n; i++) {
        entry *e = &g->e[i];
        bucket *b = &g->b[e->bucket];
        if (e->fired || b->started) continue;
        memset((char *)b->buf + (size_t)e->off * dsize(b->dt), 0, (size_t)e->numel * dsize(b->dt));
        e->fired = true;
        b->nready++;
    }
    g->early = g->next;
    start_ready(g, false);
    /* The status word, reduced with the gradients. */
    double st[2] = {mine != TG_OK ? 1.0 : 0.0, g->weight};
    MPI_Request sreq = MPI_REQUEST_NULL;
    tg_status s = tg__dist_mpi(d, MPI_Iallreduce(MPI_IN_PLACE, st, 2, MPI_DOUBLE, MPI_SUM,
                                                 d->comm, &sreq), "MPI_Iallreduce (status)");
    for (int i = 0; i < g->nb; i++)
        if (g->b[i].req != MPI_REQUEST_NULL) {
            tg_status w = tg__dist_mpi(d, tg__dist_wait(&g->b[i].req), "MPI_Wait");
            if (s == TG_OK) s = w;
        }
    if (sreq != MPI_REQUEST_NULL) {
        tg_status w = tg__dist_mpi(d, tg__dist_wait(&sreq), "MPI_Wait (status)");
        if (s == TG_OK) s = w;
    }
    g->open = false;
    g->steps++;
    if (s != TG_OK) return s; /* MPI itself failed: nothing can be agreed */
    if (st[0] > 0) {
        char where[48];
        snprintf(where, sizeof where, " at step %lld", (long long)g->steps);
        s = tg__dist_agree(d, mine, why, where);
        if (tape && tg_tape_ok(tape) && s != TG_OK) {
            tg_tape_fail(tape, s, "%s", d->err);
            tg_set_last_error(s, "%s", d->err); /* the agreed sentence, the same on every rank */
        }
        return s;
    }
    if (st[1] > 0)
        for (int i = 0; i < g->n; i++) write_back(&g->e[i], &g->b[g->e[i].bucket], st[1]);
    return TG_OK;
}

int tg_ddp_buckets(const tg_ddp *g) { return g ? g->nb : 0; }
int tg_ddp_started_early(const tg_ddp *g) { return g ? g->early : 0; }

#endif /* TG_HAVE_MPI */
