/* optim.c - SGD, Adam, AdamW, RMSprop, Adagrad; gradient clipping.
 *
 * Each optimizer is one record (optim_private.h) and one fused loop per
 * parameter (optim_kern.h, instantiated for f32 and f64 at each SIMD level
 * by optim_simd.h; the step runs the level of tg_simd_level()). The state
 * tensors live in a tg_params of their own, made on the first step, so a
 * checkpoint saves them like any other named tensor and a steady training
 * loop allocates nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim_simd.h"

/* What is wrong with a learning rate (NULL: nothing). Infinite rates are
 * refused too: a step with one writes NaN into the weights. */
static const char *lr_fault(double lr) {
    return !(lr >= 0) ? "the learning rate must be >= 0"
           : isinf(lr) ? "the learning rate must be finite"
                       : NULL;
}

/* bad: NULL, or the sentence saying which hyperparameter is wrong (left in
 * tg_params_error(ps), as PyTorch's "Invalid learning rate: -0.1"). */
static tg_optim *optim_new(int kind, const char *name, tg_params *ps, double lr,
                           const char *bad) {
    if (!ps) return tg__nn_null(name, "parameter list"), NULL;
    if (lr_fault(lr)) bad = lr_fault(lr);
    if (bad) {
        tg_params_fail(ps, "%s: %s (lr %g)", name, bad, lr);
        return NULL;
    }
    tg_optim *opt = tg_malloc(sizeof *opt);
    if (!opt) {
        tg_params_fail(ps, "%s: out of memory", name);
        return NULL;
    }
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    opt->name = name;
    opt->ps = ps;
    opt->lr = lr;
    return opt;
}

tg_optim *tg_sgd_new(tg_params *ps, double lr, const tg_sgd_opts *o) {
    tg_sgd_opts d = o ? *o : TG_SGD_DEFAULTS;
    const char *bad = !(d.momentum >= 0)       ? "momentum must be >= 0"
                      : !(d.weight_decay >= 0) ? "weight_decay must be >= 0"
                      : d.nesterov && (d.momentum <= 0 || d.dampening != 0)
                          ? "nesterov needs momentum > 0 and dampening 0"
                          : NULL;
    tg_optim *opt = optim_new(OPT_SGD, "sgd", ps, lr, bad);
    if (!opt) return NULL;
    opt->o.sgd = d;
    if (d.momentum != 0) opt->slot[0] = "momentum_buffer";
    return opt;
}

static tg_optim *adam_new(int kind, const char *name, tg_params *ps, double lr,
                          tg_adam_opts d) {
    const char *bad = !(d.beta1 >= 0 && d.beta1 < 1)   ? "beta1 must be in [0, 1)"
                      : !(d.beta2 >= 0 && d.beta2 < 1) ? "beta2 must be in [0, 1)"
                      : !(d.eps >= 0)                  ? "eps must be >= 0"
                      : !(d.weight_decay >= 0)         ? "weight_decay must be >= 0"
                                                       : NULL;
    tg_optim *opt = optim_new(kind, name, ps, lr, bad);
    if (!opt) return NULL;
    opt->o.adam = d;
    opt->slot[0] = "exp_avg";
    opt->slot[1] = "exp_avg_sq";
    if (d.amsgrad) opt->slot[2] = "max_exp_avg_sq";
    return opt;
}

tg_optim *tg_adam_new(tg_params *ps, double lr, const tg_adam_opts *o) {
    return adam_new(OPT_ADAM, "adam", ps, lr, o ? *o : TG_ADAM_DEFAULTS);
}

tg_optim *tg_adamw_new(tg_params *ps, double lr, const tg_adam_opts *o) {
    return adam_new(OPT_ADAMW, "adamw", ps, lr, o ? *o : TG_ADAMW_DEFAULTS);
}

tg_optim *tg_rmsprop_new(tg_params *ps, double lr, const tg_rmsprop_opts *o) {
    tg_rmsprop_opts d = o ? *o : TG_RMSPROP_DEFAULTS;
    const char *bad = !(d.alpha >= 0)          ? "alpha must be >= 0"
                      : !(d.eps >= 0)          ? "eps must be >= 0"
                      : !(d.weight_decay >= 0) ? "weight_decay must be >= 0"
                      : !(d.momentum >= 0)     ? "momentum must be >= 0"
                                               : NULL;
    tg_optim *opt = optim_new(OPT_RMSPROP, "rmsprop", ps, lr, bad);
    if (!opt) return NULL;
    opt->o.rms = d;
    opt->slot[0] = "square_avg";
    if (d.momentum > 0) opt->slot[1] = "momentum_buffer";
    if (d.centered) opt->slot[2] = "grad_avg";
    return opt;
}

tg_optim *tg_adagrad_new(tg_params *ps, double lr, const tg_adagrad_opts *o) {
    tg_adagrad_opts d = o ? *o : TG_ADAGRAD_DEFAULTS;
    const char *bad = !(d.lr_decay >= 0)              ? "lr_decay must be >= 0"
                      : !(d.weight_decay >= 0)        ? "weight_decay must be >= 0"
                      : !(d.initial_accumulator >= 0) ? "initial_accumulator must be >= 0"
                      : !(d.eps >= 0)                 ? "eps must be >= 0"
                                                      : NULL;
    tg_optim *opt = optim_new(OPT_ADAGRAD, "adagrad", ps, lr, bad);
    if (!opt) return NULL;
    opt->o.ada = d;
    opt->slot[0] = "sum";
    return opt;
}

tg_optim *tg_lbfgs_new(tg_params *ps, double lr, const tg_lbfgs_opts *o) {
    tg_lbfgs_opts d = o ? *o : TG_LBFGS_DEFAULTS;
    if (d.max_eval <= 0) d.max_eval = d.max_iter * 5 / 4;
    const char *bad = d.max_iter <= 0       ? "max_iter must be > 0"
                      : d.history_size <= 0 ? "history_size must be > 0"
                                            : NULL;
    tg_optim *opt = optim_new(OPT_LBFGS, "lbfgs", ps, lr, bad);
    if (opt) opt->o.lbfgs = d;
    return opt;
}

void tg_optim_free(tg_optim *opt) {
    if (!opt) return;
    tg_params_free(opt->state);
    tg_free(opt->p);
    tg_free(opt->s);
    tg__lbfgs_free(opt->lb);
    tg_free(opt);
}

double tg_optim_lr(const tg_optim *opt) { return opt ? opt->lr : NAN; }
tg_status tg_optim_set_lr(tg_optim *opt, double lr) {
    if (!opt) return tg_set_last_error(TG_ERR_NULL, "optim_set_lr: the optimizer is NULL"), TG_ERR_NULL;
    const char *bad = lr_fault(lr);
    if (bad) {
        tg_params_fail(opt->ps, "%s: set_lr: %s (lr %g)", opt->name, bad, lr);
        return TG_ERR_ARG;
    }
    opt->lr = lr;
    return TG_OK;
}
int64_t tg_optim_steps(const tg_optim *opt) {
    return opt && opt->step ? (int64_t)*opt->step : 0;
}

void tg_optim_zero_grad(tg_optim *opt) {
    if (opt) tg_params_zero_grad(opt->ps);
}

/* The trainable tensors of ps, in order, and their state, named
 * "<opt>.<slot>.<param>". Runs once; later calls only check the count. */
tg_status tg__optim_prepare(tg_optim *opt) {
    tg_params *ps = opt->ps;
    int np = 0;
    for (int i = 0; i < tg_params_count(ps); i++) np += !tg_params_is_buffer(ps, i);
    if (opt->state) return np == opt->np ? TG_OK : TG_ERR_STATE;
    tg_params *st = tg_params_new(TG_F64);
    opt->p = tg_malloc((size_t)(np ? np : 1) * sizeof *opt->p);
    opt->s = tg_malloc((size_t)(np ? np : 1) * OPT_SLOTS * sizeof *opt->s);
    tg_tensor *step = tg_param_new(TG_F64, 0, NULL);
    char buf[320];
    snprintf(buf, sizeof buf, "%s.step", opt->name);
    if (!st || !opt->p || !opt->s) {
        tg_param_free(step); /* not adopted yet: ours to free */
        goto nomem;
    }
    if (!tg_params_adopt(st, buf, step, TG_PARAM_BUFFER)) goto nomem; /* adopt frees step */
    memset(opt->s, 0, (size_t)(np ? np : 1) * OPT_SLOTS * sizeof *opt->s);
    for (int i = 0, j = 0; i < tg_params_count(ps); i++) {
        if (tg_params_is_buffer(ps, i)) continue;
        tg_tensor *p = tg_params_at(ps, i);
        opt->p[j] = p;
        for (int k = 0; k < OPT_SLOTS; k++) {
            if (!opt->slot[k]) continue;
            snprintf(buf, sizeof buf, "%s.%s.%s", opt->name, opt->slot[k], tg_params_name(ps, i));
            tg_tensor *t = tg_param_new(tg_tensor_dtype(p), tg_tensor_rank(p), tg_tensor_shape(p));
            if (!tg_params_adopt(st, buf, t, TG_PARAM_BUFFER)) goto nomem;
            opt->s[j * OPT_SLOTS + k] = t;
            if (opt->kind == OPT_ADAGRAD) tg_init_constant(t, opt->o.ada.initial_accumulator);
        }
        j++;
    }
    opt->state = st;
    opt->np = np;
    opt->step = tg_tensor_f64(step);
    return TG_OK;
nomem:
    tg_params_free(st);
    tg_free(opt->p);
    tg_free(opt->s);
    opt->p = NULL;
    opt->s = NULL;
    return TG_ERR_NOMEM;
}

tg_params *tg_optim_state(tg_optim *opt) {
    if (!opt) return tg__nn_null("optim_state", "optimizer"), NULL;
    if (tg__optim_prepare(opt) == TG_ERR_NOMEM)
        return tg_set_last_error(TG_ERR_NOMEM, "optim_state: out of memory"), NULL;
    return opt->state;
}


/* The update of each SIMD level (optim_simd.h), indexed by tg_simd; a level
 * the compiler does not build has none, and tg_simd_level() never says it. */
static const tg_range_fn update_at[3] = {
    [TG_SIMD_PORTABLE] = tg__optim_update_portable,
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = tg__optim_update_avx2,
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = tg__optim_update_avx512,
#endif
};

/* Below this many elements a parameter's update runs on the calling thread
 * (waking a thread costs a few microseconds; 64k floats of Adam state take
 * about as long, and then no longer fit one core's L2). */
#define STEP_GRAIN 32768

tg_status tg_optim_step(tg_optim *opt) {
    if (!opt) return tg_set_last_error(TG_ERR_NULL, "optim_step: the optimizer is NULL"), TG_ERR_NULL;
    if (opt->kind == OPT_LBFGS)
        return tg_set_last_error(TG_ERR_STATE, "lbfgs: step: use tg_lbfgs_step"), TG_ERR_STATE;
    tg_status st = tg__optim_prepare(opt);
    if (st != TG_OK) {
        tg_set_last_error(st, "%s: step: %s", opt->name,
                          st == TG_ERR_NOMEM ? "out of memory"
                                             : "tensors were added to the list after the first step");
        return st;
    }
    double step = ++*opt->step;
    tg_range_fn update = update_at[tg_simd_level()];
    for (int j = 0; j < opt->np; j++) {
        tg_tensor *p = opt->p[j], *g = tg_tensor_grad(p);
        if (!g) continue;
        step_job job = {opt, p, g, opt->s + j * OPT_SLOTS, step};
        tg_parallel_for(tg_tensor_numel(p), STEP_GRAIN, update, &job);
    }
    return TG_OK;
}

/* -------------------------------------------------------------- clipping */

/* sum |g|^p over one tensor (max |g| for p = inf), accumulated in double. */
static double grad_pow_sum(const tg_tensor *g, double p) {
    const float *f = tg_tensor_f32(g);
    const double *d = tg_tensor_f64(g);
    int64_t n = tg_tensor_numel(g);
    double acc = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(f ? (double)f[i] : d[i]);
        if (isinf(p)) acc = a > acc ? a : acc;
        else if (p == 2) acc += a * a;
        else if (p == 1) acc += a;
        else acc += pow(a, p);
    }
    return acc;
}

static void grad_scale(tg_tensor *g, double c, double clip) {
    float *f = tg_tensor_f32(g);
    double *d = tg_tensor_f64(g);
    int64_t n = tg_tensor_numel(g);
    for (int64_t i = 0; i < n; i++) {
        double v = f ? (double)f[i] : d[i];
        if (clip >= 0) v = v < -clip ? -clip : v > clip ? clip : v;
        else v *= c;
        if (f) f[i] = (float)v;
        else d[i] = v;
    }
}

double tg_clip_grad_norm(tg_params *ps, double max_norm, double norm_type) {
    if (!ps) return tg__nn_null("clip_grad_norm", "parameter list"), NAN;
    if (!(norm_type > 0))
        return tg_set_last_error(TG_ERR_ARG, "clip_grad_norm: norm_type %g (must be > 0)",
                                 norm_type), NAN;
    /* PyTorch: the p-norm of the per-tensor p-norms = (sum of |g|^p)^(1/p) */
    double total = 0;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_tensor *g = tg_tensor_grad(tg_params_at(ps, i));
        if (tg_params_is_buffer(ps, i) || !g) continue;
        double s = grad_pow_sum(g, norm_type);
        if (isinf(norm_type)) total = s > total ? s : total;
        else total += s; /* = (per-tensor norm)^p */
    }
    if (!isinf(norm_type)) total = norm_type == 2 ? sqrt(total) : pow(total, 1 / norm_type);
    double coef = max_norm / (total + 1e-6);
    if (coef < 1)
        for (int i = 0; i < tg_params_count(ps); i++)
            if (!tg_params_is_buffer(ps, i)) grad_scale(tg_tensor_grad(tg_params_at(ps, i)), coef, -1);
    return total;
}

void tg_clip_grad_value(tg_params *ps, double clip) {
    if (!ps || !(clip >= 0)) return;
    for (int i = 0; i < tg_params_count(ps); i++)
        if (!tg_params_is_buffer(ps, i)) grad_scale(tg_tensor_grad(tg_params_at(ps, i)), 1, clip);
}
