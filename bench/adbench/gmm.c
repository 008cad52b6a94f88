/* gmm.c - ADBench's Gaussian mixture objective (src/cpp/shared/gmm.h):
 * the plain-C objective, and the gradient with tapegrad's tensor ops.
 *
 * Legend: n points, k components, d dimensions, icf_sz = d(d+1)/2.
 * Component k's inverse-covariance factor Q_k is lower triangular with
 * diagonal exp(q_k) and below it the icf entries L_k[j][i] (i < j), listed
 * column by column. The objective is
 *   -n d/2 log(2 PI) + sum_x lse_k(alpha_k + sum q_k - |Q_k (x - mu_k)|^2/2)
 *   - n lse(alpha) + sum_k [gamma^2/2 (|exp q_k|^2 + |L_k|^2) - m sum q_k]
 *   - k C(d, m, gamma)                                   (Wishart prior)
 * The tensor form computes Q_k (x - mu_k) for every x and k at once as one
 * GEMM with a bias, X Q^T - (Q mu): [n, d] @ [d, k d] minus a [k d] row. */
#include "adbench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* log of the multivariate gamma function Gamma_p(a) (ADBench's
 * log_gamma_distrib, with its PI) */
static double log_gamma_distrib(double a, int p) {
    double out = 0.25 * p * (p - 1) * log(ADB_PI);
    for (int j = 1; j <= p; j++) out += lgamma(a + 0.5 * (1 - j));
    return out;
}

/* The Wishart prior's constant per component: k of them are subtracted. */
static double wishart_c(int d, double gamma, int m) {
    int nn = d + m + 1;
    return nn * d * (log(gamma) - 0.5 * log(2.0)) - log_gamma_distrib(0.5 * nn, d);
}

static double logsumexp(const double *v, int n) {
    double mx = v[0], s = 0;
    for (int i = 1; i < n; i++) mx = v[i] > mx ? v[i] : mx;
    for (int i = 0; i < n; i++) s += exp(v[i] - mx);
    return log(s) + mx;
}

double adb_gmm_objective(const adb_gmm *g) {
    int d = g->d, k = g->k, n = g->n, icf_sz = d * (d + 1) / 2;
    double *qdiag = malloc((size_t)k * d * sizeof *qdiag); /* (k, d) */
    double *sum_qs = malloc((size_t)k * sizeof *sum_qs);   /* (k) */
    double *main_term = malloc((size_t)k * sizeof *main_term);
    double *xc = malloc((size_t)d * sizeof *xc), *qxc = malloc((size_t)d * sizeof *qxc);
    if (!qdiag || !sum_qs || !main_term || !xc || !qxc) {
        free(qdiag), free(sum_qs), free(main_term), free(xc), free(qxc);
        return NAN;
    }
    for (int c = 0; c < k; c++) {
        sum_qs[c] = 0;
        for (int i = 0; i < d; i++) {
            double q = g->icf[c * icf_sz + i];
            qdiag[c * d + i] = exp(q);
            sum_qs[c] += q;
        }
    }
    double slse = 0;
    for (int p = 0; p < n; p++) {
        for (int c = 0; c < k; c++) {
            const double *x = g->x + (size_t)p * d, *mu = g->means + c * d;
            const double *ltri = g->icf + c * icf_sz + d;
            for (int i = 0; i < d; i++) xc[i] = x[i] - mu[i];
            for (int i = 0; i < d; i++) qxc[i] = qdiag[c * d + i] * xc[i];
            int li = 0;
            for (int i = 0; i < d; i++)
                for (int j = i + 1; j < d; j++) qxc[j] += ltri[li++] * xc[i];
            double sq = 0;
            for (int i = 0; i < d; i++) sq += qxc[i] * qxc[i];
            main_term[c] = g->alphas[c] + sum_qs[c] - 0.5 * sq;
        }
        slse += logsumexp(main_term, k);
    }
    double prior = 0;
    for (int c = 0; c < k; c++) {
        double fro = 0;
        for (int i = 0; i < d; i++) fro += qdiag[c * d + i] * qdiag[c * d + i];
        for (int i = d; i < icf_sz; i++) fro += g->icf[c * icf_sz + i] * g->icf[c * icf_sz + i];
        prior += 0.5 * g->gamma * g->gamma * fro - g->m * sum_qs[c];
    }
    prior -= k * wishart_c(d, g->gamma, g->m);
    double constant = -n * d * 0.5 * log(2 * ADB_PI);
    double err = constant + slse - n * logsumexp(g->alphas, k) + prior;
    free(qdiag), free(sum_qs), free(main_term), free(xc), free(qxc);
    return err;
}

bool adb_gmm_grad(tg_tape *tape, const adb_gmm *g, double *f, double *grad) {
    int d = g->d, k = g->k, n = g->n, icf_sz = d * (d + 1) / 2;
    tg_tape_reset(tape);
    tg_tape_set_grad_enabled(tape, grad != NULL);
    tg_tensor *alphas = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(k), g->alphas));
    tg_tensor *means = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(k, d), g->means));
    tg_tensor *icf = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(k, icf_sz), g->icf));
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(n, d), g->x);
    /* where each entry of Q_k (row-major, d x d) sits in [exp q | L | 0] */
    tg_tensor *where = tg_tensor_new(tape, TG_I64, TG_SHAPE((int64_t)d * d), NULL);
    int64_t *pos = tg_tensor_i64(where);
    if (!pos) return false;
    for (int i = 0; i < d * d; i++) pos[i] = icf_sz; /* above the diagonal: 0 */
    for (int i = 0, li = d; i < d; i++) {
        pos[i * d + i] = i;
        for (int j = i + 1; j < d; j++) pos[j * d + i] = li++;
    }
    tg_tensor *q = tg_slice(icf, 1, 0, d, 1);           /* (k, d) */
    tg_tensor *ltri = tg_slice(icf, 1, d, icf_sz, 1);   /* (k, icf_sz - d) */
    tg_tensor *qdiag = tg_exp(q);                       /* (k, d) */
    tg_tensor *sum_qs = tg_sum_axis(q, 1, false);       /* (k) */
    tg_tensor *parts[3] = {qdiag, ltri, tg_zeros(tape, TG_F64, TG_SHAPE(k, 1))};
    tg_tensor *Q = tg_index_select(tg_concat(3, parts, 1), 1, where); /* (k, d*d) */
    tg_tensor *Qr = tg_reshape(Q, TG_SHAPE((int64_t)k * d, d));       /* (k d, d) */
    tg_tensor *Qmu = tg_matmul(tg_reshape(Q, TG_SHAPE(k, d, d)),
                               tg_reshape(means, TG_SHAPE(k, d, 1))); /* (k, d, 1) */
    /* x Q^T - Q mu as one GEMM: [x | 1] [Q | -Q mu]^T, the bias a column */
    tg_tensor *xs[2] = {x, tg_ones(tape, TG_F64, TG_SHAPE(n, 1))};
    tg_tensor *ws[2] = {Qr, tg_reshape(tg_neg(Qmu), TG_SHAPE((int64_t)k * d, 1))};
    tg_tensor *qxc = tg_linear_act(tg_concat(2, xs, 1), tg_concat(2, ws, 1), NULL,
                                   TG_ACT_NONE);                       /* (n, k d) */
    tg_tensor *sq = tg_sum_squares(tg_reshape(qxc, TG_SHAPE(n, k, d)), 1, (const int[]){2}, false);
    tg_tensor *main_term = tg_add(tg_mul_scalar(sq, -0.5), tg_add(alphas, sum_qs)); /* (n, k) */
    tg_tensor *slse = tg_sum(tg_logsumexp(main_term, 1, (const int[]){1}, false));
    tg_tensor *lse_a = tg_logsumexp(alphas, 1, (const int[]){0}, false);
    tg_tensor *fro = tg_add(tg_sum(tg_square(qdiag)), tg_sum(tg_square(ltri)));
    tg_tensor *prior = tg_sub(tg_mul_scalar(fro, 0.5 * g->gamma * g->gamma),
                              tg_mul_scalar(tg_sum(sum_qs), g->m));
    double constant = -n * d * 0.5 * log(2 * ADB_PI) - k * wishart_c(d, g->gamma, g->m);
    tg_tensor *err = tg_add_scalar(tg_add(tg_sub(slse, tg_mul_scalar(lse_a, n)), prior), constant);
    *f = tg_item(err);
    if (!grad) return tg_tape_ok(tape);
    if (tg_backward(err) != TG_OK) return false;
    const double *ga = tg_tensor_f64(tg_tensor_grad(alphas));
    const double *gm = tg_tensor_f64(tg_tensor_grad(means));
    const double *gi = tg_tensor_f64(tg_tensor_grad(icf));
    if (!ga || !gm || !gi) return false;
    memcpy(grad, ga, (size_t)k * sizeof *grad);
    memcpy(grad + k, gm, (size_t)k * d * sizeof *grad);
    memcpy(grad + k + k * d, gi, (size_t)k * icf_sz * sizeof *grad);
    return tg_tape_ok(tape);
}
