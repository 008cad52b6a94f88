/* sched.c - learning-rate schedules with PyTorch's semantics
 * (torch/optim/lr_scheduler.py, the chainable get_lr forms): each epoch
 * computes the new lr from the optimizer's current lr, so schedules see
 * changes made by others, as in PyTorch. Creating a schedule is epoch 0. */
#include <math.h>
#include <string.h>

#include "errbuf.h"

enum { S_STEP, S_MULTISTEP, S_EXP, S_COSINE, S_LINEAR, S_PLATEAU };
#define MAX_MILESTONES 32
static const double PI = 3.141592653589793; /* Python's math.pi */

struct tg_sched {
    int kind;
    tg_optim *opt;
    int epoch;          /* last_epoch */
    double base, lr;    /* base lr, last lr set */
    double gamma, a, b; /* gamma; cosine eta_min; linear start/end factors */
    int step, total;    /* StepLR step_size; T_max / total_iters */
    int n, milestones[MAX_MILESTONES];
    tg_plateau_opts p;  /* plateau */
    double best;
    int bad, cool;
};

/* A scheduler of kind for opt, or NULL with a sentence in tg_last_error:
 * NULL opt, arguments out of range (!ok: `rule` says what they must be),
 * out of memory. */
static tg_sched *sched_new(tg_optim *opt, int kind, bool ok, const char *fn, const char *rule) {
    if (!opt) return tg__nn_null(fn, "optimizer"), NULL;
    if (!ok) return tg_set_last_error(TG_ERR_ARG, "%s: %s", fn, rule), NULL;
    tg_sched *s = tg_malloc(sizeof *s);
    if (!s) return tg_set_last_error(TG_ERR_NOMEM, "%s: out of memory", fn), NULL;
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->opt = opt;
    s->base = s->lr = tg_optim_lr(opt);
    s->epoch = -1;
    return s;
}

/* A factor or floor of the lr that keeps it a finite number >= 0. */
static bool nonneg(double v) { return v >= 0 && !isinf(v); }

/* The lr for epoch s->epoch from the current lr (PyTorch's get_lr). */
static double get_lr(const tg_sched *s, double lr) {
    int e = s->epoch;
    switch (s->kind) {
    case S_STEP: return e == 0 || e % s->step ? lr : lr * s->gamma;
    case S_MULTISTEP: {
        double f = 1;
        for (int i = 0; i < s->n; i++)
            if (s->milestones[i] == e) f *= s->gamma; /* repeated milestones count twice */
        return lr * f;
    }
    case S_EXP: return e == 0 ? lr : lr * s->gamma;
    case S_COSINE: {
        double T = s->total, eta = s->a;
        if (e == 0) return lr;
        int m = 2 * s->total, r = ((e - 1 - s->total) % m + m) % m; /* Python's % */
        if (r == 0) return lr + (s->base - eta) * (1 - cos(PI / T)) / 2;
        return (1 + cos(PI * e / T)) / (1 + cos(PI * (e - 1) / T)) * (lr - eta) + eta;
    }
    case S_LINEAR:
        if (e == 0) return lr * s->a;
        if (e > s->total) return lr;
        return lr * (1 + (s->b - s->a) / (s->total * s->a + (e - 1) * (s->b - s->a)));
    default: return lr;
    }
}

double tg_sched_step(tg_sched *s) {
    if (!s) return tg__nn_null("sched_step", "scheduler"), NAN;
    if (s->kind == S_PLATEAU) return s->lr;
    s->epoch++;
    double lr = get_lr(s, tg_optim_lr(s->opt));
    if (tg_optim_set_lr(s->opt, lr) != TG_OK) { /* overflowed: the epoch is not taken */
        s->epoch--;
        return NAN;
    }
    return s->lr = lr;
}

/* the initial step of PyTorch's constructors: epoch 0 */
static tg_sched *start(tg_sched *s) {
    if (s && isnan(tg_sched_step(s))) {
        tg_free(s);
        return NULL;
    }
    return s;
}

tg_sched *tg_sched_steplr_new(tg_optim *opt, int step_size, double gamma) {
    tg_sched *s = sched_new(opt, S_STEP, step_size > 0 && nonneg(gamma), "sched_steplr",
                            "step_size must be > 0 and gamma >= 0 and finite");
    if (s) s->step = step_size, s->gamma = gamma;
    return start(s);
}

tg_sched *tg_sched_multistep_new(tg_optim *opt, int n, const int *milestones, double gamma) {
    tg_sched *s = sched_new(opt, S_MULTISTEP,
                            n >= 0 && n <= MAX_MILESTONES && (milestones || !n) && nonneg(gamma),
                            "sched_multistep",
                            "need 0 <= n <= 32 milestones (non-NULL when n > 0) and gamma >= 0 "
                            "and finite");
    if (!s) return NULL;
    s->n = n;
    s->gamma = gamma;
    if (n) memcpy(s->milestones, milestones, (size_t)n * sizeof(int));
    return start(s);
}

tg_sched *tg_sched_exponential_new(tg_optim *opt, double gamma) {
    tg_sched *s = sched_new(opt, S_EXP, nonneg(gamma), "sched_exponential",
                            "gamma must be >= 0 and finite");
    if (s) s->gamma = gamma;
    return start(s);
}

tg_sched *tg_sched_cosine_new(tg_optim *opt, int t_max, double eta_min) {
    tg_sched *s = sched_new(opt, S_COSINE, t_max > 0 && nonneg(eta_min), "sched_cosine",
                            "t_max must be > 0 and eta_min >= 0 and finite");
    if (s) s->total = t_max, s->a = eta_min;
    return start(s);
}

tg_sched *tg_sched_warmup_new(tg_optim *opt, double start_factor, double end_factor,
                              int total_iters) {
    bool ok = start_factor > 0 && start_factor <= 1 && end_factor >= 0 && end_factor <= 1 &&
              total_iters > 0;
    tg_sched *s = sched_new(opt, S_LINEAR, ok, "sched_warmup",
                            "need 0 < start_factor <= 1, 0 <= end_factor <= 1, total_iters > 0");
    if (s) s->a = start_factor, s->b = end_factor, s->total = total_iters;
    return start(s);
}

tg_sched *tg_sched_plateau_new(tg_optim *opt, const tg_plateau_opts *o) {
    tg_plateau_opts p = o ? *o : TG_PLATEAU_DEFAULTS;
    tg_sched *s = sched_new(opt, S_PLATEAU, p.factor < 1 && p.factor >= 0 && p.patience >= 0 &&
                                                nonneg(p.min_lr), "sched_plateau",
                            "need 0 <= factor < 1, patience >= 0, min_lr >= 0 and finite");
    if (!s) return NULL;
    s->p = p;
    s->epoch = 0;
    s->best = p.maximize ? -INFINITY : INFINITY;
    return s;
}

/* ReduceLROnPlateau.is_better */
static bool better(const tg_sched *s, double a) {
    double th = s->p.threshold, best = s->best;
    if (!s->p.maximize) return s->p.threshold_abs ? a < best - th : a < best * (1 - th);
    return s->p.threshold_abs ? a > best + th : a > best * (th + 1);
}

double tg_sched_step_metric(tg_sched *s, double metric) {
    if (!s) return tg__nn_null("sched_step_metric", "scheduler"), NAN;
    if (s->kind != S_PLATEAU) return tg_sched_step(s);
    s->epoch++;
    if (better(s, metric)) {
        s->best = metric;
        s->bad = 0;
    } else {
        s->bad++;
    }
    if (s->cool > 0) { /* in cooldown: bad epochs do not count */
        s->cool--;
        s->bad = 0;
    }
    double lr = tg_optim_lr(s->opt);
    if (s->bad > s->p.patience) {
        double nlr = fmax(lr * s->p.factor, s->p.min_lr);
        if (lr - nlr > s->p.eps && tg_optim_set_lr(s->opt, nlr) == TG_OK) lr = nlr;
        s->cool = s->p.cooldown;
        s->bad = 0;
    }
    return s->lr = lr;
}

double tg_sched_lr(const tg_sched *s) { return s ? s->lr : NAN; }
int tg_sched_epoch(const tg_sched *s) { return s ? s->epoch : -1; }
void tg_sched_free(tg_sched *s) { tg_free(s); }
