/* lbfgs.c - L-BFGS, a line-by-line port of torch/optim/lbfgs.py (itself
 * after Mark Schmidt's minFunc): the two-loop recursion over a history of
 * (y, s) pairs, a fixed step lr by default, or the strong-Wolfe line
 * search with cubic interpolation.
 *
 * All parameters are viewed as one flat vector of N doubles (f32
 * parameters are widened). Buffers are allocated on the first step; the
 * history slots as the history first fills; afterwards a step allocates
 * nothing. */
#include <math.h>
#include <string.h>

#include "optim_private.h"

typedef struct lbfgs {
    int64_t n;                  /* N: trainable elements in all */
    int hist;                   /* history_size */
    double *flat, *prev, *d;    /* [N] gradient, previous gradient, direction */
    double *x, *gn, *gp, *bg[2];/* [N] line search: start point, gradients */
    double *y, *s;              /* [N] candidates for the next history pair */
    double **dirs, **stps;      /* [hist] ring of y's and s's (made as needed) */
    double *ro, *al;            /* [hist] */
    int head, num_old;          /* ring start (oldest) and length */
    double t, hdiag, prev_loss;
    int64_t n_iter, func_evals;
} lbfgs;

void tg__lbfgs_free(void *p) {
    lbfgs *L = p;
    if (!L) return;
    for (int i = 0; i < L->hist; i++) tg_free(L->dirs[i]), tg_free(L->stps[i]);
    tg_free(L->y);
    tg_free(L->s);
    tg_free(L->flat); /* one block: every fixed buffer */
    tg_free(L);
}

static lbfgs *lbfgs_get(tg_optim *opt) {
    if (opt->lb) return opt->lb;
    if (tg__optim_prepare(opt) != TG_OK) return NULL;
    int64_t n = 0;
    for (int j = 0; j < opt->np; j++) n += tg_tensor_numel(opt->p[j]);
    int h = opt->o.lbfgs.history_size;
    lbfgs *L = tg_malloc(sizeof *L);
    if (!L) return NULL;
    memset(L, 0, sizeof *L);
    size_t nn = (size_t)(n ? n : 1);
    double *b = tg_malloc((8 * nn + 2 * (size_t)h) * sizeof(double) + 2 * (size_t)h * sizeof(double *));
    L->y = tg_malloc(nn * sizeof(double));
    L->s = tg_malloc(nn * sizeof(double));
    if (!b || !L->y || !L->s) {
        tg_free(b), tg_free(L->y), tg_free(L->s), tg_free(L);
        return NULL;
    }
    L->n = n;
    L->hist = h;
    double **bufs[] = {&L->flat, &L->prev, &L->d, &L->x, &L->gn, &L->gp, &L->bg[0], &L->bg[1]};
    for (int i = 0; i < 8; i++) *bufs[i] = b + (size_t)i * nn;
    L->ro = b + 8 * nn;
    L->al = L->ro + h;
    L->dirs = (double **)(L->al + h);
    L->stps = L->dirs + h;
    memset(L->dirs, 0, 2 * (size_t)h * sizeof(double *));
    opt->lb = L;
    return L;
}

/* ------------------------------------------- the flat view of the params */

static void gather_flat_grad(const tg_optim *opt, double *out) {
    for (int j = 0; j < opt->np; j++) {
        tg_tensor *g = tg_tensor_grad(opt->p[j]);
        int64_t n = tg_tensor_numel(opt->p[j]);
        const float *f = tg_tensor_f32(g);
        const double *d = tg_tensor_f64(g);
        for (int64_t i = 0; i < n; i++) out[i] = f ? f[i] : d ? d[i] : 0.0;
        out += n;
    }
}

/* p += step * update */
static void add_grad(const tg_optim *opt, double step, const double *update) {
    for (int j = 0; j < opt->np; j++) {
        int64_t n = tg_tensor_numel(opt->p[j]);
        float *f = tg_tensor_f32(opt->p[j]);
        double *d = tg_tensor_f64(opt->p[j]);
        for (int64_t i = 0; i < n; i++) {
            if (f) f[i] = (float)(f[i] + step * update[i]);
            else d[i] += step * update[i];
        }
        update += n;
    }
}

/* to = params (get) or params = from (set) */
static void copy_params(const tg_optim *opt, double *x, bool get) {
    for (int j = 0; j < opt->np; j++) {
        int64_t n = tg_tensor_numel(opt->p[j]);
        float *f = tg_tensor_f32(opt->p[j]);
        double *d = tg_tensor_f64(opt->p[j]);
        for (int64_t i = 0; i < n; i++) {
            if (get) x[i] = f ? f[i] : d[i];
            else if (f) f[i] = (float)x[i];
            else d[i] = x[i];
        }
        x += n;
    }
}

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double absmax(const double *a, double scale, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(a[i] * scale) > m ? fabs(a[i] * scale) : m;
    return m;
}

/* ------------------------------------------------- strong-Wolfe search */

typedef struct search {
    tg_optim *opt;
    lbfgs *L;
    tg_closure fn;
    void *ud;
} search;

/* loss and gradient (into g) at x + t d; the parameters are left at x. */
static double directional_evaluate(search *S, double t, const double *d, double *g) {
    add_grad(S->opt, t, d);
    double loss = S->fn(S->ud);
    gather_flat_grad(S->opt, g);
    copy_params(S->opt, S->L->x, false);
    return loss;
}

/* The minimizer of the cubic through (x1, f1, g1), (x2, f2, g2) in bounds. */
static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                                const double *bounds) {
    double lo = bounds ? bounds[0] : x1 <= x2 ? x1 : x2;
    double hi = bounds ? bounds[1] : x1 <= x2 ? x2 : x1;
    double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    double d2sq = d1 * d1 - g1 * g2;
    if (d2sq >= 0) {
        double d2 = sqrt(d2sq), m;
        if (x1 <= x2) m = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
        else m = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
        m = lo > m ? lo : m; /* python min(max(m, lo), hi) */
        return hi < m ? hi : m;
    }
    return (lo + hi) / 2;
}

/* _strong_wolfe: returns the step t; *f_out and g_out its loss and gradient. */
static double strong_wolfe(search *S, double t, const double *d, double f, const double *g,
                           double gtd, double *f_out, double *g_out, int *evals) {
    const double c1 = 1e-4, c2 = 0.9, tol = S->opt->o.lbfgs.tolerance_change;
    const int max_ls = 25;
    lbfgs *L = S->L;
    int64_t n = L->n;
    size_t nb = (size_t)n * sizeof(double);
    double d_norm = absmax(d, 1, n);
    double *gn = L->gn, *gp = L->gp, **bg = L->bg;
    memcpy(gp, g, nb);
    double f_new = directional_evaluate(S, t, d, gn);
    *evals = 1;
    double gtd_new = dot(gn, d, n);
    double t_prev = 0, f_prev = f, gtd_prev = gtd;
    double br[2] = {0, 0}, bf[2] = {0, 0}, bgtd[2] = {0, 0};
    bool done = false;
    int ls_iter = 0, nbr = 2;
    while (ls_iter < max_ls) {
        bool above = f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev);
        if (!above && fabs(gtd_new) <= -c2 * gtd) { /* the strong Wolfe conditions hold */
            br[0] = br[1] = t;
            bf[0] = bf[1] = f_new;
            memcpy(bg[0], gn, nb);
            nbr = 1;
            done = true;
            break;
        }
        if (above || gtd_new >= 0) { /* a minimum lies in [t_prev, t] */
            br[0] = t_prev, br[1] = t;
            bf[0] = f_prev, bf[1] = f_new;
            bgtd[0] = gtd_prev, bgtd[1] = gtd_new;
            memcpy(bg[0], gp, nb);
            memcpy(bg[1], gn, nb);
            break;
        }
        /* interpolate, bounded to [t + 0.01 (t - t_prev), 10 t] */
        double bounds[2] = {t + 0.01 * (t - t_prev), t * 10}, tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds);
        t_prev = tmp;
        f_prev = f_new;
        memcpy(gp, gn, nb);
        gtd_prev = gtd_new;
        f_new = directional_evaluate(S, t, d, gn);
        ++*evals;
        gtd_new = dot(gn, d, n);
        ls_iter++;
    }
    if (ls_iter == max_ls) {
        br[0] = 0, br[1] = t;
        bf[0] = f, bf[1] = f_new;
        memcpy(bg[0], g, nb);
        memcpy(bg[1], gn, nb);
    }
    /* zoom: shrink the bracket until the conditions hold */
    bool insuf = false;
    int low = bf[0] <= bf[nbr - 1] ? 0 : 1, high = 1 - low;
    while (!done && ls_iter < max_ls) {
        if (fabs(br[1] - br[0]) * d_norm < tol) break;
        t = cubic_interpolate(br[0], bf[0], bgtd[0], br[1], bf[1], bgtd[1], NULL);
        double bmax = br[0] > br[1] ? br[0] : br[1], bmin = br[0] < br[1] ? br[0] : br[1];
        double eps = 0.1 * (bmax - bmin);
        if ((bmax - t < t - bmin ? bmax - t : t - bmin) < eps) {
            /* too close to a boundary: move away, unless progress was fine */
            if (insuf || t >= bmax || t <= bmin) {
                t = fabs(t - bmax) < fabs(t - bmin) ? bmax - eps : bmin + eps;
                insuf = false;
            } else {
                insuf = true;
            }
        } else {
            insuf = false;
        }
        f_new = directional_evaluate(S, t, d, gn);
        ++*evals;
        gtd_new = dot(gn, d, n);
        ls_iter++;
        if (f_new > f + c1 * t * gtd || f_new >= bf[low]) {
            br[high] = t, bf[high] = f_new, bgtd[high] = gtd_new;
            memcpy(bg[high], gn, nb);
            low = bf[0] <= bf[1] ? 0 : 1;
            high = 1 - low;
        } else {
            if (fabs(gtd_new) <= -c2 * gtd) {
                done = true;
            } else if (gtd_new * (br[high] - br[low]) >= 0) {
                br[high] = br[low], bf[high] = bf[low], bgtd[high] = bgtd[low];
                memcpy(bg[high], bg[low], nb);
            }
            br[low] = t, bf[low] = f_new, bgtd[low] = gtd_new;
            memcpy(bg[low], gn, nb);
        }
    }
    *f_out = bf[low];
    memcpy(g_out, bg[low], nb);
    return br[low];
}

/* ----------------------------------------------------------------- step */

/* Appends (y, s) to the history ring, dropping the oldest when full. */
static bool push_history(lbfgs *L, double ys) {
    if (L->num_old == L->hist) {
        L->head = (L->head + 1) % L->hist;
        L->num_old--;
    }
    int k = (L->head + L->num_old) % L->hist;
    double *y = L->dirs[k], *s = L->stps[k];
    if (!y) y = tg_malloc((size_t)(L->n ? L->n : 1) * sizeof(double));
    if (!s) s = tg_malloc((size_t)(L->n ? L->n : 1) * sizeof(double));
    if (!y || !s) {
        if (!L->dirs[k]) tg_free(y);
        if (!L->stps[k]) tg_free(s);
        return false;
    }
    /* the candidates become the slot; the slot's old buffers the candidates */
    L->dirs[k] = L->y, L->stps[k] = L->s;
    L->y = y, L->s = s;
    L->ro[k] = 1.0 / ys;
    L->num_old++;
    return true;
}

double tg_lbfgs_step(tg_optim *opt, tg_closure closure, void *ud) {
    if (!opt || !closure) return tg__nn_null("lbfgs_step", opt ? "closure" : "optimizer"), NAN;
    if (opt->kind != OPT_LBFGS)
        return tg_set_last_error(TG_ERR_STATE, "lbfgs_step: the optimizer is not L-BFGS (use "
                                 "tg_optim_step)"), NAN;
    lbfgs *L = lbfgs_get(opt);
    if (!L) return tg_set_last_error(TG_ERR_NOMEM, "lbfgs_step: out of memory"), NAN;
    const tg_lbfgs_opts *o = &opt->o.lbfgs;
    int64_t n = L->n;
    double lr = opt->lr;
    search S = {opt, L, closure, ud};

    double orig_loss = closure(ud), loss = orig_loss;
    int current_evals = 1;
    L->func_evals++;
    gather_flat_grad(opt, L->flat);
    bool opt_cond = absmax(L->flat, 1, n) <= o->tolerance_grad;
    if (opt_cond) return orig_loss;

    double *d = L->d, *flat = L->flat;
    for (int n_iter = 1; n_iter <= o->max_iter; n_iter++) {
        L->n_iter++;
        *opt->step = (double)L->n_iter;
        if (L->n_iter == 1) {
            for (int64_t i = 0; i < n; i++) d[i] = -flat[i];
            L->num_old = L->head = 0;
            L->hdiag = 1;
        } else {
            /* update the memory with y = g - g_prev, s = t d */
            for (int64_t i = 0; i < n; i++) L->y[i] = flat[i] - L->prev[i], L->s[i] = d[i] * L->t;
            double ys = dot(L->y, L->s, n);
            if (ys > 1e-10) {
                double yy = dot(L->y, L->y, n);
                if (!push_history(L, ys))
                    return tg_set_last_error(TG_ERR_NOMEM, "lbfgs_step: out of memory"), NAN;
                L->hdiag = ys / yy;
            }
            /* two-loop recursion: d = -H g */
            double *al = L->al;
            for (int64_t i = 0; i < n; i++) d[i] = -flat[i];
            for (int i = L->num_old - 1; i >= 0; i--) {
                int k = (L->head + i) % L->hist;
                al[k] = dot(L->stps[k], d, n) * L->ro[k];
                for (int64_t e = 0; e < n; e++) d[e] += -al[k] * L->dirs[k][e];
            }
            for (int64_t i = 0; i < n; i++) d[i] *= L->hdiag;
            for (int i = 0; i < L->num_old; i++) {
                int k = (L->head + i) % L->hist;
                double be = dot(L->dirs[k], d, n) * L->ro[k];
                for (int64_t e = 0; e < n; e++) d[e] += (al[k] - be) * L->stps[k][e];
            }
        }
        memcpy(L->prev, flat, (size_t)n * sizeof(double));
        L->prev_loss = loss;
        if (L->n_iter == 1) {
            double s1 = 0;
            for (int64_t i = 0; i < n; i++) s1 += fabs(flat[i]);
            L->t = (1.0 / s1 < 1.0 ? 1.0 / s1 : 1.0) * lr;
        } else {
            L->t = lr;
        }
        double gtd = dot(flat, d, n);
        if (gtd > -o->tolerance_change) break; /* not a descent direction */
        int ls_evals = 0;
        if (o->strong_wolfe) {
            copy_params(opt, L->x, true);
            L->t = strong_wolfe(&S, L->t, d, loss, flat, gtd, &loss, flat, &ls_evals);
            add_grad(opt, L->t, d);
            opt_cond = absmax(flat, 1, n) <= o->tolerance_grad;
        } else {
            add_grad(opt, L->t, d);
            if (n_iter != o->max_iter) {
                loss = closure(ud);
                gather_flat_grad(opt, flat);
                opt_cond = absmax(flat, 1, n) <= o->tolerance_grad;
                ls_evals = 1;
            }
        }
        current_evals += ls_evals;
        L->func_evals += ls_evals;
        if (n_iter == o->max_iter || current_evals >= o->max_eval || opt_cond) break;
        if (absmax(d, L->t, n) <= o->tolerance_change) break;
        if (fabs(loss - L->prev_loss) < o->tolerance_change) break;
    }
    return orig_loss;
}
