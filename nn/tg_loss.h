/* tg_loss.h - loss functions, with PyTorch's semantics and names.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * Every loss is built from public ops (plus piecewise-constant masks
 * computed from the values, which are constants of the graph), so it is
 * differentiable to any order, with respect to the input and, where
 * PyTorch allows it, the target. Stable where it matters: cross entropy
 * subtracts the row maximum before exp, BCE with logits uses
 * max(x,0) - x*y + log(1 + exp(-|x|)), BCE on probabilities clamps its logs
 * at -100 as PyTorch does so that p = 0 and p = 1 give finite losses.
 *
 * Errors follow the tape's sticky model: a loss returns NULL and records a
 * sentence naming the loss and the shapes (a NULL operand gives NULL at
 * once). The tape is the input's, or the target's when the input is a
 * parameter; at least one operand must be on a tape.
 *
 * Example (a classifier's training step):
 *     tg_tensor *logits = ...;                        // [N, C]
 *     tg_tensor *labels = tg_tensor_new(tape, TG_I64, TG_SHAPE(N), ys);
 *     tg_tensor *loss = tg_cross_entropy(logits, labels, TG_REDUCE_MEAN,
 *                                        TG_IGNORE_INDEX, 0.0);
 *     tg_backward(loss);
 */
#ifndef TG_LOSS_H
#define TG_LOSS_H

#include "tg_autograd.h"
#include "tg_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How per-element losses become the result. MEAN averages over elements
 * (over non-ignored samples for cross entropy / NLL), SUM adds them, NONE
 * returns them unreduced, BATCHMEAN (KL divergence only) is the sum divided
 * by the batch size (axis 0), the mathematically correct KL mean. */
typedef enum tg_reduction {
    TG_REDUCE_MEAN = 0,
    TG_REDUCE_SUM,
    TG_REDUCE_NONE,
    TG_REDUCE_BATCHMEAN
} tg_reduction;

/* PyTorch's default ignore_index: a label that takes no part in the loss. */
#define TG_IGNORE_INDEX (-100)

/* Mean squared error: (input - target)^2. Input and target must have the
 * same shape and float dtype; both may require grad. */
TG_API tg_tensor *tg_mse_loss(tg_tensor *input, tg_tensor *target, tg_reduction r);

/* Mean absolute error: |input - target| (gradient 0 where they are equal,
 * as PyTorch). */
TG_API tg_tensor *tg_l1_loss(tg_tensor *input, tg_tensor *target, tg_reduction r);

/* Huber loss, d = input - target: 0.5 d^2 where |d| < delta, else
 * delta (|d| - 0.5 delta). delta > 0. */
TG_API tg_tensor *tg_huber_loss(tg_tensor *input, tg_tensor *target, double delta,
                                tg_reduction r);

/* Smooth L1: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta = 0
 * is the L1 loss. beta >= 0. (Huber = beta * smooth L1 with beta = delta.) */
TG_API tg_tensor *tg_smooth_l1_loss(tg_tensor *input, tg_tensor *target, double beta,
                                    tg_reduction r);

/* Binary cross entropy on probabilities p in [0, 1] (values outside are an
 * error): -(y max(log p, -100) + (1 - y) max(log(1 - p), -100)). Finite at
 * p = 0 and 1. Its gradient is the derivative of that clamped function (0
 * where a log is clamped); PyTorch instead uses the formula
 * (p - y) / max(p (1 - p), 1e-12) everywhere, which agrees inside (0, 1).
 * Prefer tg_bce_with_logits_loss: it is stable and exact. */
TG_API tg_tensor *tg_bce_loss(tg_tensor *input, tg_tensor *target, tg_reduction r);

/* Binary cross entropy on logits x, stable for any |x| (+-1000 included):
 * max(x, 0) - x y + log(1 + exp(-|x|)). pos_weight (NULL for none) weighs
 * the positive term, broadcast against x along the trailing axes as
 * PyTorch: (1 - y) x + (1 + (pw - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)). */
TG_API tg_tensor *tg_bce_with_logits_loss(tg_tensor *input, tg_tensor *target,
                                          tg_tensor *pos_weight, tg_reduction r);

/* Cross entropy from unnormalized logits [N, C] or [N, C, d1, ...] (class
 * axis 1; a 1-D [C] input takes a 0-d label) and i64 class labels of the
 * input's shape without the class axis. Computed as -log_softmax picked at
 * the label, with the row maximum subtracted first (stable for +-1000).
 * label_smoothing in [0, 1] mixes the one-hot target with the uniform one
 * (PyTorch). Labels equal to ignore_index contribute nothing and MEAN
 * divides by the number of the others (NaN if there are none, as PyTorch);
 * NONE gives the per-sample losses in the labels' shape (0 where ignored).
 * A label outside [0, C) that is not ignore_index is an error. [N, C] and
 * [C] inputs go through the fused op tg_softmax_cross_entropy (one record,
 * one pass per row); [N, C, d1...] through the composed ops. */
TG_API tg_tensor *tg_cross_entropy(tg_tensor *input, tg_tensor *labels, tg_reduction r,
                                   int64_t ignore_index, double label_smoothing);

/* Negative log likelihood from log-probabilities (e.g. tg_log_softmax's
 * output), same shapes and rules as tg_cross_entropy: -input[n, label[n]]. */
TG_API tg_tensor *tg_nll_loss(tg_tensor *input, tg_tensor *labels, tg_reduction r,
                              int64_t ignore_index);

/* With class weights (PyTorch's weight=): weight is a [C] tensor of the
 * input's dtype, read as a constant (no gradient flows to it). Sample n
 * counts w[label n]; label smoothing's uniform part weighs class c by w[c];
 * MEAN divides by the sum of w[label] over the kept samples (NaN if that is
 * 0). weight NULL is the unweighted loss. These take the composed path for
 * every shape. */
TG_API tg_tensor *tg_cross_entropy_weighted(tg_tensor *input, tg_tensor *labels,
                                            tg_tensor *weight, tg_reduction r,
                                            int64_t ignore_index, double label_smoothing);
TG_API tg_tensor *tg_nll_loss_weighted(tg_tensor *input, tg_tensor *labels, tg_tensor *weight,
                                       tg_reduction r, int64_t ignore_index);

/* Kullback-Leibler divergence as torch.nn.functional.kl_div: input holds
 * log-probabilities, target probabilities (or log-probabilities when
 * log_target). Pointwise target (log target - input), taken as 0 where
 * target == 0; with log_target exp(target) (target - input). Reductions:
 * MEAN (over every element, PyTorch's default), SUM, NONE, BATCHMEAN
 * (sum / input's size along axis 0: the true KL mean per sample). */
TG_API tg_tensor *tg_kl_div(tg_tensor *input, tg_tensor *target, tg_reduction r,
                            bool log_target);

/* The multi-class hinge loss (torch.nn.functional.multi_margin_loss with
 * p = 1, no weights): for input [N, C] (or [C]) and i64 labels [N] (or
 * 0-d), sample n's loss is sum over j != y of max(0, margin - x[y] + x[j])
 * divided by C. The classical SVM loss (Weston-Watkins / Crammer-Singer
 * family); gradient 0 exactly at the hinge, as PyTorch. */
TG_API tg_tensor *tg_multi_margin_loss(tg_tensor *input, tg_tensor *labels, double margin,
                                       tg_reduction r);

#ifdef __cplusplus
}
#endif
#endif /* TG_LOSS_H */
