/* optim.c - SGD, Adam, AdamW, RMSprop, Adagrad; gradient clipping.
 *
 * Each optimizer is one record (optim_private.h) and one fused loop per
 * parameter (optim_kern.h, instantiated for f32 and f64). The state
 * tensors live in a tg_params of their own, made on the first step, so a
 * checkpoint saves them like any other named tensor and a steady training
 * loop allocates nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim_private.h"

#define real float
#define KN(x) x##_f32
#define SQRT sqrtf
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT
#define real double
#define KN(x) x##_f64
#define SQRT sqrt
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT

/* The same loops compiled for AVX2 + FMA (twice the lanes of the baseline
 * SSE2), picked at run time, so one build runs everywhere. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
#define OPT_AVX2 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define real float
#define KN(x) x##_f32_avx2
#define SQRT sqrtf
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT
#define real double
#define KN(x) x##_f64_avx2
#define SQRT sqrt
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT
#pragma GCC pop_options
/* And for AVX-512 (twice the lanes again: the square root and the division
 * of Adam and RMSprop are what these loops wait on). */
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#define real float
#define KN(x) x##_f32_avx512
#define SQRT sqrtf
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT
#define real double
#define KN(x) x##_f64_avx512
#define SQRT sqrt
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT
#pragma GCC pop_options
/* 0 baseline, 1 AVX2 + FMA, 2 AVX-512F; capped by TG_SIMD (portable, avx2)
 * as the GEMM is, so that the tests can run every variant. */
static int simd_level(void) {
    static int v = -1;
    if (v < 0) {
        __builtin_cpu_init();
        bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        int l = avx2 && __builtin_cpu_supports("avx512f") ? 2 : avx2;
        const char *cap = getenv("TG_SIMD");
        if (cap && !strcmp(cap, "portable")) l = 0;
        else if (cap && !strcmp(cap, "avx2") && l > 1) l = 1;
        v = l;
    }
    return v;
}
/* the kernel for this CPU */
#define K(fn) (simd == 2 ? fn##_avx512 : simd == 1 ? fn##_avx2 : fn)
#else
#define K(fn) fn
#endif

/* The update loops run with subnormals flushed to zero (x86: MXCSR's FTZ
 * and DAZ, restored afterwards). A moment estimate of a parameter whose
 * gradient is rarely non-zero (a border pixel's weight) decays by beta1 per
 * step into the subnormal range within an epoch, and each subnormal
 * operation then costs on the order of a hundred cycles: with Adam on
 * Fashion-MNIST that made the optimizer a fifth of the training time. What
 * is flushed is below 1.2e-38 (f32) or 2.2e-308 (f64) in absolute value. */
#if defined(__SSE2__)
#include <xmmintrin.h>
#define FLUSH_BEGIN() unsigned csr_ = _mm_getcsr(); _mm_setcsr(csr_ | 0x8040)
#define FLUSH_END() _mm_setcsr(csr_)
#else
#define FLUSH_BEGIN() (void)0
#define FLUSH_END() (void)0
#endif

/* bad: NULL, or the sentence saying which hyperparameter is wrong (left in
 * tg_params_error(ps), as PyTorch's "Invalid learning rate: -0.1"). */
static tg_optim *optim_new(int kind, const char *name, tg_params *ps, double lr,
                           const char *bad) {
    if (!ps) return NULL;
    if (!(lr >= 0)) bad = "the learning rate must be >= 0";
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
void tg_optim_set_lr(tg_optim *opt, double lr) {
    if (opt) opt->lr = lr;
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
    if (!opt || tg__optim_prepare(opt) == TG_ERR_NOMEM) return NULL;
    return opt->state;
}


/* One parameter's update over elements [lo, hi): every loop is elementwise,
 * so a slice of each buffer is a smaller instance of the same update. */
typedef struct step_job {
    const tg_optim *opt;
    tg_tensor *p, *g, **s;
    double step;
#ifdef OPT_AVX2
    int simd;
#endif
} step_job;

#define SL(t, T) ((t) ? (T *)tg_tensor_data(t) + lo : NULL) /* a slice of t, or NULL */

static void step_range(void *ctx, int64_t lo, int64_t hi) {
    const step_job *j = ctx;
    const tg_optim *opt = j->opt;
    tg_tensor *p = j->p, *g = j->g, **s = j->s;
    const int64_t n = hi - lo;
    const double step = j->step;
    const bool f32 = tg_tensor_dtype(p) == TG_F32;
#ifdef OPT_AVX2
    const int simd = j->simd;
#endif
    FLUSH_BEGIN(); /* per thread: MXCSR is a thread's own */
    switch (opt->kind) {
    case OPT_SGD:
        if (f32)
            K(sgd_f32)(SL(p, float), SL(g, const float), SL(s[0], float), n, &opt->o.sgd, opt->lr,
                       step == 1);
        else
            K(sgd_f64)(SL(p, double), SL(g, const double), SL(s[0], double), n, &opt->o.sgd,
                       opt->lr, step == 1);
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
        if (f32)
            K(adam_f32)(SL(p, float), SL(g, const float), SL(s[0], float), SL(s[1], float),
                        SL(s[2], float), n, &opt->o.adam, opt->kind == OPT_ADAMW, opt->lr, step);
        else
            K(adam_f64)(SL(p, double), SL(g, const double), SL(s[0], double), SL(s[1], double),
                        SL(s[2], double), n, &opt->o.adam, opt->kind == OPT_ADAMW, opt->lr, step);
        break;
    case OPT_RMSPROP:
        if (f32)
            K(rmsprop_f32)(SL(p, float), SL(g, const float), SL(s[0], float), SL(s[1], float),
                           SL(s[2], float), n, &opt->o.rms, opt->lr);
        else
            K(rmsprop_f64)(SL(p, double), SL(g, const double), SL(s[0], double),
                           SL(s[1], double), SL(s[2], double), n, &opt->o.rms, opt->lr);
        break;
    case OPT_ADAGRAD:
        if (f32)
            K(adagrad_f32)(SL(p, float), SL(g, const float), SL(s[0], float), n, &opt->o.ada,
                           opt->lr, step);
        else
            K(adagrad_f64)(SL(p, double), SL(g, const double), SL(s[0], double), n, &opt->o.ada,
                           opt->lr, step);
        break;
    }
    FLUSH_END();
}
#undef SL

/* Below this many elements a parameter's update runs on the calling thread
 * (waking a thread costs a few microseconds; 64k floats of Adam state take
 * about as long, and then no longer fit one core's L2). */
#define STEP_GRAIN 32768

tg_status tg_optim_step(tg_optim *opt) {
    if (!opt) return TG_ERR_NULL;
    if (opt->kind == OPT_LBFGS) return TG_ERR_STATE;
    tg_status st = tg__optim_prepare(opt);
    if (st != TG_OK) return st;
    double step = ++*opt->step;
    for (int j = 0; j < opt->np; j++) {
        tg_tensor *p = opt->p[j], *g = tg_tensor_grad(p);
        if (!g) continue;
        step_job job = {opt, p, g, opt->s + j * OPT_SLOTS, step
#ifdef OPT_AVX2
                        , simd_level()
#endif
        };
        tg_parallel_for(tg_tensor_numel(p), STEP_GRAIN, step_range, &job);
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
    if (!ps || !(norm_type > 0)) return NAN;
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
