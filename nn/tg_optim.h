/* tg_optim.h - optimizers, gradient clipping, learning-rate schedules.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * An optimizer updates the trainable tensors of a tg_params list (buffers
 * are skipped) from their stored gradients, with PyTorch's formulas:
 *
 *     tg_optim *opt = tg_adam_new(ps, 1e-3, NULL);       // NULL: defaults
 *     for (...) {
 *         tg_optim_zero_grad(opt);
 *         tg_backward(loss(...));
 *         tg_optim_step(opt);                             // no recording
 *         tg_tape_reset(tape);
 *     }
 *     tg_optim_free(opt);
 *
 * A step is one fused pass per parameter over raw buffers (f32 or f64).
 * State is allocated on the first step; later steps allocate nothing.
 * Options structs: start from the TG_<NAME>_DEFAULTS macro and change
 * fields, e.g. `tg_adam_opts o = TG_ADAM_DEFAULTS; o.amsgrad = true;`.
 */
#ifndef TG_OPTIM_H
#define TG_OPTIM_H

#include "tg_autograd.h"
#include "tg_ops.h"
#include "tg_module.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_optim tg_optim; /* opaque */

/* torch.optim.SGD: momentum buffer b = mu b + (1 - dampening) g (b = g on
 * the first step); Nesterov uses g + mu b. */
typedef struct tg_sgd_opts {
    double momentum, dampening, weight_decay;
    bool nesterov, maximize;
} tg_sgd_opts;
#define TG_SGD_DEFAULTS ((tg_sgd_opts){0.0, 0.0, 0.0, false, false})

/* torch.optim.Adam / AdamW (AdamW decays the weights directly,
 * p *= 1 - lr wd, and its default weight_decay is 0.01). */
typedef struct tg_adam_opts {
    double beta1, beta2, eps, weight_decay;
    bool amsgrad, maximize;
} tg_adam_opts;
#define TG_ADAM_DEFAULTS ((tg_adam_opts){0.9, 0.999, 1e-8, 0.0, false, false})
#define TG_ADAMW_DEFAULTS ((tg_adam_opts){0.9, 0.999, 1e-8, 1e-2, false, false})

/* torch.optim.RMSprop. */
typedef struct tg_rmsprop_opts {
    double alpha, eps, weight_decay, momentum;
    bool centered, maximize;
} tg_rmsprop_opts;
#define TG_RMSPROP_DEFAULTS ((tg_rmsprop_opts){0.99, 1e-8, 0.0, 0.0, false, false})

/* torch.optim.Adagrad. */
typedef struct tg_adagrad_opts {
    double lr_decay, weight_decay, initial_accumulator, eps;
    bool maximize;
} tg_adagrad_opts;
#define TG_ADAGRAD_DEFAULTS ((tg_adagrad_opts){0.0, 0.0, 0.0, 1e-10, false})

/* torch.optim.LBFGS. max_eval <= 0 means max_iter * 5 / 4. strong_wolfe
 * selects the strong-Wolfe line search (default: a fixed step lr). */
typedef struct tg_lbfgs_opts {
    int max_iter, max_eval, history_size;
    double tolerance_grad, tolerance_change;
    bool strong_wolfe;
} tg_lbfgs_opts;
#define TG_LBFGS_DEFAULTS ((tg_lbfgs_opts){20, 0, 100, 1e-7, 1e-9, false})

/* Each returns a new optimizer over the trainable tensors of ps (the list
 * must outlive it; tensors added after the first step are an error), or
 * NULL on a bad hyperparameter (an lr that is negative, NaN or infinite,
 * beta outside [0, 1), ...) or out of memory, with a sentence in
 * tg_last_error() naming it (e.g. "adam: beta1 must be in [0, 1) (lr
 * 0.001)"), also kept in tg_params_error(ps) if it is the list's first.
 * opts may be NULL for PyTorch's defaults. */
TG_API tg_optim *tg_sgd_new(tg_params *ps, double lr, const tg_sgd_opts *o);
TG_API tg_optim *tg_adam_new(tg_params *ps, double lr, const tg_adam_opts *o);
TG_API tg_optim *tg_adamw_new(tg_params *ps, double lr, const tg_adam_opts *o);
TG_API tg_optim *tg_rmsprop_new(tg_params *ps, double lr, const tg_rmsprop_opts *o);
TG_API tg_optim *tg_adagrad_new(tg_params *ps, double lr, const tg_adagrad_opts *o);
TG_API tg_optim *tg_lbfgs_new(tg_params *ps, double lr, const tg_lbfgs_opts *o);

/* Frees the optimizer and its state (not the parameters). NULL is allowed. */
TG_API void tg_optim_free(tg_optim *opt);

/* One update from the stored gradients (no tape involved). Returns TG_OK,
 * TG_ERR_NULL, or TG_ERR_STATE (L-BFGS needs tg_lbfgs_step; parameters
 * added after the first step), TG_ERR_NOMEM on the first step; on failure
 * the sentence is in tg_last_error(). */
TG_API tg_status tg_optim_step(tg_optim *opt);

/* Zeroes the gradients of the optimizer's parameters. */
TG_API void tg_optim_zero_grad(tg_optim *opt);

/* The learning rate (schedules change it); NaN for a NULL opt. */
TG_API double tg_optim_lr(const tg_optim *opt);
/* Sets the learning rate: TG_OK, TG_ERR_NULL, or TG_ERR_ARG for an lr that
 * is negative, NaN or infinite, which is refused (the lr stays as it was)
 * with a sentence in tg_last_error(), e.g. "adam: set_lr: the learning
 * rate must be >= 0 (lr nan)", also kept in tg_params_error of the
 * optimizer's list if the list holds no earlier error (it keeps the
 * first). */
TG_API tg_status tg_optim_set_lr(tg_optim *opt, double lr);

/* The number of steps taken ("step" in PyTorch's state). */
TG_API int64_t tg_optim_steps(const tg_optim *opt);

/* The optimizer's state as a named list of persistent tensors, for
 * checkpoints: "<opt>.<slot>.<param name>" with the parameter's shape and
 * dtype (e.g. "adam.exp_avg.fc1.weight", "adam.exp_avg_sq.fc1.weight",
 * "sgd.momentum_buffer.fc1.weight") and a 0-d f64 "<opt>.step" holding the
 * step count. Allocates the state now if no step has run yet, so a loader
 * can fill it before training. Every entry is a TG_PARAM_BUFFER. Owned by
 * the optimizer; NULL if out of memory or opt is NULL (tg_last_error()
 * says which). L-BFGS keeps its
 * history outside this list (only "lbfgs.step" is listed). After loading
 * values into it, the next step continues from them. */
TG_API tg_params *tg_optim_state(tg_optim *opt);

/* Re-evaluates the model: zeroes the gradients, runs the forward pass and
 * backward, and returns the loss (on a tape the closure resets itself). */
typedef double (*tg_closure)(void *ud);

/* One L-BFGS step (up to max_iter iterations, each calling closure once,
 * or more with the line search). Returns the loss of the first closure
 * call, as PyTorch; NaN if opt or closure is NULL, opt is not L-BFGS or
 * out of memory, with the sentence in tg_last_error(). */
TG_API double tg_lbfgs_step(tg_optim *opt, tg_closure closure, void *ud);

/* ------------------------------------------------------------- clipping */

/* torch.nn.utils.clip_grad_norm_: the norm of all gradients together
 * (norm_type 2, 1, any p > 0, or INFINITY); if it exceeds max_norm every
 * gradient is scaled by max_norm / (norm + 1e-6). Returns the norm before
 * clipping (NaN if ps is NULL or norm_type is not > 0, with the sentence in
 * tg_last_error()). */
TG_API double tg_clip_grad_norm(tg_params *ps, double max_norm, double norm_type);
/* Clamps every gradient element into [-clip, clip]. */
TG_API void tg_clip_grad_value(tg_params *ps, double clip);

/* ------------------------------------------------------------ schedules */

typedef struct tg_sched tg_sched; /* opaque */

/* Each makes a schedule that sets opt's learning rate, with PyTorch's
 * semantics: creating it is epoch 0 (it may change the lr at once, e.g.
 * linear warmup), and each tg_sched_step advances one epoch. The base lr
 * is opt's lr at creation. NULL on a bad argument (gamma, eta_min or
 * min_lr negative, NaN or infinite, among others), a NULL opt or out of
 * memory, with the sentence in tg_last_error(). */
/* lr = base gamma^floor(epoch / step_size)  (StepLR) */
TG_API tg_sched *tg_sched_steplr_new(tg_optim *opt, int step_size, double gamma);
/* times gamma at each of the n milestones (MultiStepLR) */
TG_API tg_sched *tg_sched_multistep_new(tg_optim *opt, int n, const int *milestones,
                                        double gamma);
/* lr = base gamma^epoch  (ExponentialLR) */
TG_API tg_sched *tg_sched_exponential_new(tg_optim *opt, double gamma);
/* eta_min + (base - eta_min)(1 + cos(pi epoch / t_max)) / 2, in PyTorch's
 * recursive form (CosineAnnealingLR) */
TG_API tg_sched *tg_sched_cosine_new(tg_optim *opt, int t_max, double eta_min);
/* factor from start to end linearly over total_iters epochs, then constant
 * (LinearLR; a warmup with start < end) */
TG_API tg_sched *tg_sched_warmup_new(tg_optim *opt, double start_factor, double end_factor,
                                     int total_iters);

/* ReduceLROnPlateau: after more than `patience` epochs without improvement
 * of the metric (by threshold, relative or absolute), lr = max(lr factor,
 * min_lr); then `cooldown` epochs of rest. Changes smaller than eps are
 * ignored. */
typedef struct tg_plateau_opts {
    bool maximize;       /* mode 'max' (default 'min') */
    double factor;       /* 0.1 */
    int patience;        /* 10 */
    double threshold;    /* 1e-4 */
    bool threshold_abs;  /* threshold_mode 'abs' (default 'rel') */
    int cooldown;        /* 0 */
    double min_lr;       /* 0 */
    double eps;          /* 1e-8 */
} tg_plateau_opts;
#define TG_PLATEAU_DEFAULTS ((tg_plateau_opts){false, 0.1, 10, 1e-4, false, 0, 0.0, 1e-8})
TG_API tg_sched *tg_sched_plateau_new(tg_optim *opt, const tg_plateau_opts *o);

/* Advances one epoch and sets the optimizer's lr. tg_sched_step_metric is
 * for the plateau schedule (for others the metric is ignored); plain
 * tg_sched_step on a plateau schedule does nothing. Returns the new lr, or
 * NaN when tg_optim_set_lr refuses it (it overflowed to infinity, e.g.
 * gamma > 1 for long): then the epoch is not taken, and the optimizer and
 * the schedule keep their lr. */
TG_API double tg_sched_step(tg_sched *s);
TG_API double tg_sched_step_metric(tg_sched *s, double metric);
/* The lr the schedule last set, and the current epoch. */
TG_API double tg_sched_lr(const tg_sched *s);
TG_API int tg_sched_epoch(const tg_sched *s);
TG_API void tg_sched_free(tg_sched *s); /* NULL is allowed */

#ifdef __cplusplus
}
#endif
#endif /* TG_OPTIM_H */
