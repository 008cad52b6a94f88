/* gradcheck.c - analytic gradients against central differences, in f64.
 * The test suite checks every op with this function; users check their own
 * losses with it. */
#include "tg_sweep.h"

#include <math.h>
#include <stdio.h>

typedef struct gc {
    tg_gradcheck_fn f;
    void *ud;
    int n;
    tg_tensor *const *orig;
    double **val;      /* f64 copies of the float inputs (NULL for i64) */
    tg_tape *tape;
    tg_rng rng;
    uint64_t seed;
} gc;

/* Builds the leaves and runs f; returns the scalar output (or NULL). */
static tg_tensor *eval(gc *c, tg_tensor **leaves, bool req) {
    tg_tape_reset(c->tape);
    tg_tape_set_grad_enabled(c->tape, true); /* every evaluation records (reset keeps it) */
    for (int i = 0; i < c->n; i++) {
        const tg_tensor *o = tg__full(c->orig[i]);
        if (c->val[i]) {
            leaves[i] = tg_tensor_new(c->tape, TG_F64, o->rank, o->shape, c->val[i]);
            if (req) tg_requires_grad(leaves[i]);
        } else {
            leaves[i] = tg_tensor_new(c->tape, (tg_dtype)o->dtype, o->rank, o->shape, o->data);
        }
    }
    tg_tensor *y = c->f(c->tape, leaves, c->ud); /* a handle (tg_engine.h): maybe a half */
    if (!y) return NULL;
    int rank = tg_tensor_rank(y);
    if (rank <= 0) return y; /* 0-d (or stale: the sweep says so) */
    /* random projection: sum(y * w), w fixed by the seed */
    tg_rng r;
    tg_rng_seed(&r, c->seed);
    tg_tensor *w = tg_rand_uniform(c->tape, tg_tensor_dtype(y), rank, tg_tensor_shape(y), &r, 0.5, 1.5);
    return tg_sum(tg_mul(y, w));
}

static bool compare(const char *what, const tg_gradcheck_opts *o, int i, int64_t k, double a,
                    double num, tg_gradcheck_report *rep) {
    double err = fabs(a - num) / (o->atol + o->rtol * fabs(num));
    if (isnan(a) != isnan(num)) err = INFINITY;
    if (isnan(a) && isnan(num)) err = 0;
    if (err > rep->worst || isnan(err)) {
        rep->worst = err;
        rep->input = i;
        rep->index = k;
        rep->analytic = a;
        rep->numeric = num;
        snprintf(rep->msg, sizeof rep->msg,
                 "%s: input %d element %lld: analytic %.10g, numeric %.10g (error %.3g x tolerance)",
                 what, i, (long long)k, a, num, err);
    }
    return err <= 1.0;
}

bool tg_gradcheck(tg_gradcheck_fn f, void *ud, int n, tg_tensor *const *inputs,
                  const tg_gradcheck_opts *opts, tg_gradcheck_report *report) {
    tg_gradcheck_opts o = {0}; /* NULL is exactly {0} */
    if (opts) o = *opts;
    /* zero fields mean the defaults, so {.second = true} reads well */
    if (o.eps <= 0) o.eps = 1e-6;
    if (o.atol <= 0) o.atol = 1e-6;
    if (o.rtol <= 0) o.rtol = 1e-4;
    if (o.seed == 0) o.seed = 1234;
    if (o.second) o.graph = true;
    tg_gradcheck_report rep_local, *rep = report ? report : &rep_local;
    memset(rep, 0, sizeof *rep);
    rep->ok = false;
    if (!f || n < 0 || n > 16 || (n && !inputs)) {
        snprintf(rep->msg, sizeof rep->msg, "gradcheck: bad arguments");
        return false;
    }
    gc c = {f, ud, n, inputs, NULL, NULL, {{0}}, o.seed};
    double *vals[16] = {0};
    c.val = vals;
    tg_tensor *leaves[16], *grads[16], *grads2[16];
    bool ok = true;
    for (int i = 0; i < n; i++) {
        const tg_tensor *in = tg__live(inputs[i]);
        if (!in) {
            snprintf(rep->msg, sizeof rep->msg, "gradcheck: input %d is NULL or stale", i);
            goto out_fail;
        }
        if (!tg__is_float(in->dtype)) continue;
        int64_t m = tg__numel(in);
        vals[i] = tg__calloc((size_t)(m ? m : 1), sizeof(double));
        if (!vals[i]) goto oom;
        for (int64_t k = 0; k < m; k++) vals[i][k] = tg_tensor_get(inputs[i], k);
    }
    c.tape = tg_tape_new();
    if (!c.tape) goto oom;

    /* analytic, fast sweep */
    tg_tensor *y = eval(&c, leaves, true);
    tg_tensor *req[16];
    int nreq = 0, map[16];
    for (int i = 0; i < n; i++)
        if (vals[i]) map[nreq] = i, req[nreq++] = leaves[i];
    if (!y || tg_grad(y, NULL, nreq, req, grads, 0) != TG_OK) {
        snprintf(rep->msg, sizeof rep->msg, "gradcheck: building or differentiating failed: %s",
                 tg_tape_error(c.tape));
        goto out_fail;
    }
    /* copy the analytic gradients out (the tape is reset below) */
    double *an[16] = {0}, *an_graph[16] = {0};
    for (int j = 0; j < nreq; j++) {
        const tg_tensor *g = tg__full(grads[j]);
        int64_t m = tg__numel(g);
        an[j] = tg__calloc((size_t)(m ? m : 1), sizeof(double));
        if (!an[j]) goto oom2;
        memcpy(an[j], g->data, (size_t)m * sizeof(double));
    }
    if (o.graph) {
        y = eval(&c, leaves, true);
        for (int j = 0; j < nreq; j++) req[j] = leaves[map[j]];
        if (!y || tg_grad(y, NULL, nreq, req, grads2, TG_CREATE_GRAPH) != TG_OK) {
            snprintf(rep->msg, sizeof rep->msg, "gradcheck: create-graph backward failed: %s",
                     tg_tape_error(c.tape));
            goto out_fail2;
        }
        for (int j = 0; j < nreq; j++) {
            const tg_tensor *g = tg__full(grads2[j]);
            int64_t m = tg__numel(g);
            an_graph[j] = tg__calloc((size_t)(m ? m : 1), sizeof(double));
            if (!an_graph[j]) goto oom2;
            memcpy(an_graph[j], g->data, (size_t)m * sizeof(double));
        }
    }
    /* numeric, element by element */
    bool was = c.tape->grad_enabled;
    for (int j = 0; j < nreq; j++) {
        int i = map[j];
        int64_t m = tg__numel(tg__full(inputs[i]));
        for (int64_t k = 0; k < m; k++) {
            double v = vals[i][k];
            vals[i][k] = v + o.eps;
            tg_tensor *yp = eval(&c, leaves, false);
            double fp = yp ? tg_item(yp) : NAN;
            vals[i][k] = v - o.eps;
            tg_tensor *ym = eval(&c, leaves, false);
            double fm = ym ? tg_item(ym) : NAN;
            vals[i][k] = v;
            double num = (fp - fm) / (2 * o.eps);
            ok &= compare("backward", &o, i, k, an[j][k], num, rep);
            if (o.graph) ok &= compare("create-graph backward", &o, i, k, an_graph[j][k], num, rep);
        }
    }
    (void)was;
    /* second derivatives: d/dx_k of sum_j(grad_j * v_j) against differences
     * of the analytic first derivative along each coordinate */
    if (o.second && ok) {
        for (int j = 0; j < nreq && ok; j++) {
            int i = map[j];
            int64_t m = tg__numel(tg__full(inputs[i]));
            for (int64_t k = 0; k < m; k++) {
                /* analytic row: d(g_j[k]) / d inputs, from a graph backward */
                y = eval(&c, leaves, true);
                for (int q = 0; q < nreq; q++) req[q] = leaves[map[q]];
                if (!y || tg_grad(y, NULL, nreq, req, grads2, TG_CREATE_GRAPH) != TG_OK) goto fail2nd;
                int64_t mj = tg__numel(tg__full(grads2[j]));
                tg_tensor *gk = tg_reshape(grads2[j], 1, (int64_t[]){mj});
                tg_tensor *sel = tg_zeros(c.tape, TG_F64, 1, (int64_t[]){m});
                if (!sel) goto fail2nd;
                ((double *)tg__full(sel)->data)[k] = 1;
                tg_tensor *s = tg_sum(tg_mul(gk, sel));
                tg_tensor *h[16];
                if (!s || !(tg__full(s)->flags & TGF_REQ)) continue; /* gradient constant in x: 0 */
                if (tg_grad(s, NULL, nreq, req, h, 0) != TG_OK) goto fail2nd;
                double *row[16];
                for (int q = 0; q < nreq; q++) {
                    const tg_tensor *hq = tg__full(h[q]);
                    int64_t mq = tg__numel(hq);
                    row[q] = tg__calloc((size_t)(mq ? mq : 1), sizeof(double));
                    if (row[q]) memcpy(row[q], hq->data, (size_t)mq * sizeof(double));
                }
                for (int q = 0; q < nreq; q++) {
                    int iq = map[q];
                    int64_t mq = tg__numel(tg__full(inputs[iq]));
                    for (int64_t l = 0; l < mq && row[q]; l++) {
                        double v = vals[iq][l], gp, gm;
                        tg_tensor *gg[16];
                        vals[iq][l] = v + o.eps;
                        y = eval(&c, leaves, true);
                        for (int p = 0; p < nreq; p++) req[p] = leaves[map[p]];
                        gp = y && tg_grad(y, NULL, nreq, req, gg, 0) == TG_OK
                                 ? ((double *)tg__full(gg[j])->data)[k] : NAN;
                        vals[iq][l] = v - o.eps;
                        y = eval(&c, leaves, true);
                        for (int p = 0; p < nreq; p++) req[p] = leaves[map[p]];
                        gm = y && tg_grad(y, NULL, nreq, req, gg, 0) == TG_OK
                                 ? ((double *)tg__full(gg[j])->data)[k] : NAN;
                        vals[iq][l] = v;
                        ok &= compare("second derivative", &o, iq, l, row[q][l],
                                      (gp - gm) / (2 * o.eps), rep);
                    }
                }
                for (int q = 0; q < nreq; q++) tg__free(row[q]);
            }
        }
    }
    goto done;
fail2nd:
    snprintf(rep->msg, sizeof rep->msg, "gradcheck: second-order sweep failed: %s",
             tg_tape_error(c.tape));
    ok = false;
done:
    rep->ok = ok;
    if (ok) snprintf(rep->msg, sizeof rep->msg, "ok (worst %.3g x tolerance)", rep->worst);
    for (int j = 0; j < nreq; j++) tg__free(an[j]), tg__free(an_graph[j]);
    for (int i = 0; i < n; i++) tg__free(vals[i]);
    tg_tape_free(c.tape);
    return ok;
oom2:
    snprintf(rep->msg, sizeof rep->msg, "gradcheck: out of memory");
out_fail2:
    for (int j = 0; j < nreq; j++) tg__free(an[j]), tg__free(an_graph[j]);
    goto out_fail;
oom:
    snprintf(rep->msg, sizeof rep->msg, "gradcheck: out of memory");
out_fail:
    for (int i = 0; i < n; i++) tg__free(vals[i]);
    tg_tape_free(c.tape);
    rep->ok = false;
    return false;
}
