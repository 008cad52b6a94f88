/* tg_ops.h - differentiable operations.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * Every op takes tensors and returns a new tensor on the same tape, or
 * NULL after recording an error on the tape (sticky: a NULL input gives a
 * NULL output at once). Binary ops broadcast as NumPy does. Operands must
 * share one dtype (tg_cast converts), with one exception for C constants
 * below. A parameter can stand in any operand slot.
 *
 * Axes: one convention for every op that takes them. An op defined along
 * one axis (softmax, argmax, concat, ...) takes `int axis`; an op that
 * reduces over a set of axes (sum, mean, var, std, prod, amax, amin,
 * logsumexp, norm) takes a list `int naxes, const int *axes`. An axis is
 * in [-rank, rank) and a negative one counts from the end (-1 is the
 * last); a reduction, softmax or argmax of a 0-d tensor takes axis 0 (or
 * -1), as in PyTorch; the shape and indexing ops refuse a 0-d tensor
 * (but tg_flatten makes it [1], as torch.flatten). In a list
 * each axis appears at most once, and naxes == 0 (axes may then be NULL)
 * means every axis. Anything else is TG_ERR_ARG with a sentence naming the
 * axis and the shape. Each declaration below says which form it takes:
 * [axis] or [axes].
 *
 * C constants: a 0-d tensor that does not require grad (tg_scalar(tape,
 * 2.0), a result computed with no grad) takes the dtype of the other
 * operand of a binary op (tg_add, tg_sub, tg_mul, tg_div, tg_pow,
 * tg_maximum, tg_minimum and the comparisons) when that operand is f32 or
 * f64 and of another dtype: an f32 x times tg_scalar(tape, 2.0) is f32,
 * as x * 2.0 in PyTorch. Its value is converted (a new constant on the
 * tape; the original is untouched). When both operands are such constants
 * the f32 one becomes f64. A 0-d tensor that requires grad is never
 * converted (tg_cast it). The *_scalar forms take a plain double.
 */
#ifndef TG_OPS_H
#define TG_OPS_H

#include "tg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------- elementwise, binary */
/* a + b, a - b, a * b, a / b elementwise, broadcast: a new tensor of the
 * broadcast shape on the operands' tape, or NULL (error recorded). */
TG_API tg_tensor *tg_add(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_div(tg_tensor *a, tg_tensor *b);
/* a ** b elementwise. d/da = b a^(b-1); d/db = a^b log a (a > 0). */
TG_API tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b);

/* Scalar forms: the constant is not a tensor and gets no gradient; it is
 * used in a's dtype. */
TG_API tg_tensor *tg_add_scalar(tg_tensor *a, double c);  /* a + c */
TG_API tg_tensor *tg_sub_scalar(tg_tensor *a, double c);  /* a - c */
TG_API tg_tensor *tg_rsub_scalar(tg_tensor *a, double c); /* c - a */
TG_API tg_tensor *tg_mul_scalar(tg_tensor *a, double c);  /* a * c */
TG_API tg_tensor *tg_div_scalar(tg_tensor *a, double c);  /* a / c */
TG_API tg_tensor *tg_rdiv_scalar(tg_tensor *a, double c); /* c / a */
TG_API tg_tensor *tg_pow_scalar(tg_tensor *a, double c);  /* a ** c */

/* -------------------------------------------------- elementwise, unary */
/* The usual functions, elementwise; a new tensor of a's shape. Stable at
 * the extremes: sigmoid and tanh of +-1000 are exact, never NaN. */
TG_API tg_tensor *tg_neg(tg_tensor *a);
TG_API tg_tensor *tg_exp(tg_tensor *a);
TG_API tg_tensor *tg_log(tg_tensor *a);
TG_API tg_tensor *tg_sqrt(tg_tensor *a);
TG_API tg_tensor *tg_sin(tg_tensor *a);
TG_API tg_tensor *tg_cos(tg_tensor *a);
TG_API tg_tensor *tg_tan(tg_tensor *a);
TG_API tg_tensor *tg_tanh(tg_tensor *a);
TG_API tg_tensor *tg_sigmoid(tg_tensor *a);
/* relu'(0) = 0 and abs'(0) = 0, as PyTorch. */
TG_API tg_tensor *tg_relu(tg_tensor *a);
TG_API tg_tensor *tg_abs(tg_tensor *a);

/* ------------------------------------------------------------ reductions */
/* Sum / mean over the axes in the list [axes] (naxes == 0: every axis);
 * keepdim keeps each reduced axis as size 1, else it is removed. The mean
 * of no elements is NaN. A sum into one element adds in double (f32 too),
 * in chunks fixed by the element count, each in 16 lanes, the chunks in
 * order, rounding once: the same bits for any thread count. */
TG_API tg_tensor *tg_sum_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim);
TG_API tg_tensor *tg_mean_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim);
/* Shorthands: over every element, a 0-d result (tg_sum_axes(a, 0, NULL,
 * false)); over one axis (tg_sum_axes(a, 1, &axis, keepdim)). */
TG_API tg_tensor *tg_sum(tg_tensor *a);
TG_API tg_tensor *tg_mean(tg_tensor *a);
TG_API tg_tensor *tg_sum_axis(tg_tensor *a, int axis, bool keepdim);
TG_API tg_tensor *tg_mean_axis(tg_tensor *a, int axis, bool keepdim);

/* ---------------------------------------------------------------- linear */
/* Matrix product with NumPy/PyTorch semantics: 2-D @ 2-D, batched N-D with
 * broadcast batch dimensions, 1-D operands treated as vectors. */
TG_API tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b);
/* op(a) @ op(b) where op transposes the last two axes when its flag is set;
 * no transpose is copied (the flags go to the GEMM kernel). a, b rank >= 2. */
TG_API tg_tensor *tg_matmul_t(tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b);

/* Activations that tg_linear_act fuses (and nn's layers name). */
typedef enum tg_act {
    TG_ACT_NONE = 0,   /* identity */
    TG_ACT_RELU,       /* relu'(0) = 0, as tg_relu */
    TG_ACT_TANH,
    TG_ACT_SIGMOID,
    TG_ACT_GELU,       /* exact (erf) form, as tg_gelu(a, false) */
    TG_ACT_LEAKY_RELU  /* negative slope 0.01, as PyTorch; slope at 0 */
} tg_act;

/* A fully connected layer in one op: y = act(x @ w^T + b).
 * x [..., in] (rank >= 1; the leading axes are flattened to M rows),
 * w [out, in], b [out] or NULL; y [..., out]. All of one float dtype.
 * One GEMM and one pass over y for the bias and the activation, and one
 * record, instead of matmul_t + add + activation (three passes, three
 * records); the backward is one pass and two GEMMs. The values are those
 * of tg_matmul_t(x, w, false, true), tg_add and the activation op.
 * (tg_linear is the nn layer; this is the op it runs.)
 * Errors (NULL, the first recorded on the tape): shapes that do not fit
 * ("linear: input [64,783] does not fit weight [100,784]"), a bias that is
 * not [out], mixed dtypes, an unknown act. Differentiable to any order. */
TG_API tg_tensor *tg_linear_act(tg_tensor *x, tg_tensor *w, tg_tensor *b, tg_act act);

/* ----------------------------------------------------------------- shape */
/* Same data, new shape; one entry may be -1 (inferred). */
TG_API tg_tensor *tg_reshape(tg_tensor *a, int rank, const int64_t *shape);
/* Swaps two axes [axis] (copies into a contiguous result). */
TG_API tg_tensor *tg_transpose(tg_tensor *a, int axis0, int axis1);
/* Broadcasts a to `shape` (NumPy rules); backward sums. */
TG_API tg_tensor *tg_expand(tg_tensor *a, int rank, const int64_t *shape);
/* Sums a down to `shape` (the inverse of tg_expand). */
TG_API tg_tensor *tg_sum_to(tg_tensor *a, int rank, const int64_t *shape);
/* Converts to another float dtype (differentiable). */
TG_API tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt);

/* ===================================================================
 * The rest of the op set (ops/unary.c, ops/arith.c, ops/select.c,
 * ops/reduce.c, ops/extrema.c, ops/shape.c, ops/slice.c, ops/index.c,
 * ops/softmax.c, ops/norm.c, ops/dropout.c, ops/conv.c, ops/pool.c).
 * Conventions (errors, dtypes, axes) as at the top of this file.
 * =================================================================== */

/* ------------------------------------------------------------------ math */
/* Each returns a new tensor of a's shape (NULL on error, recorded). */
TG_API tg_tensor *tg_log1p(tg_tensor *a);      /* log(1 + a), accurate near 0 */
TG_API tg_tensor *tg_expm1(tg_tensor *a);      /* e^a - 1, accurate near 0 */
TG_API tg_tensor *tg_erf(tg_tensor *a);        /* the error function */
TG_API tg_tensor *tg_square(tg_tensor *a);     /* a * a */
TG_API tg_tensor *tg_reciprocal(tg_tensor *a); /* 1 / a */
TG_API tg_tensor *tg_rsqrt(tg_tensor *a);      /* 1 / sqrt(a) */
/* log(1 + e^(beta a)) / beta; linear where beta*a > threshold (PyTorch: 1, 20). */
TG_API tg_tensor *tg_softplus(tg_tensor *a, double beta, double threshold);
/* exact: a * Phi(a); tanh_approx: PyTorch's approximate='tanh'. */
TG_API tg_tensor *tg_gelu(tg_tensor *a, bool tanh_approx);
/* a if a > 0 else negative_slope * a (PyTorch's default slope: 0.01). */
TG_API tg_tensor *tg_leaky_relu(tg_tensor *a, double negative_slope);
/* a if a > 0 else alpha * (e^a - 1). */
TG_API tg_tensor *tg_elu(tg_tensor *a, double alpha);
/* a * sigmoid(a), also known as swish. */
TG_API tg_tensor *tg_silu(tg_tensor *a);
/* Clamp to [lo, hi]; pass -INFINITY / INFINITY for no bound. The gradient
 * passes where lo <= a <= hi (PyTorch). */
TG_API tg_tensor *tg_clamp(tg_tensor *a, double lo, double hi);
/* Tensor bounds (broadcast); lo or hi may be NULL for no bound. */
TG_API tg_tensor *tg_clamp_t(tg_tensor *a, tg_tensor *lo, tg_tensor *hi);
/* Elementwise max/min; ties split the gradient evenly (PyTorch). */
TG_API tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b);
/* cond ? a : b, broadcast; cond is a mask (nonzero = true, any dtype),
 * not differentiated. */
TG_API tg_tensor *tg_where(tg_tensor *cond, tg_tensor *a, tg_tensor *b);
/* -1, 0 or 1 (not differentiated: zero gradient). */
TG_API tg_tensor *tg_sign(tg_tensor *a);
/* Comparisons: 0/1 masks in a's dtype (f32, f64 or i64), broadcast,
 * never differentiated. A 0-d constant operand takes the other's dtype
 * (see the top of this file). */
TG_API tg_tensor *tg_eq(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_ne(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_lt(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_le(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_gt(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_ge(tg_tensor *a, tg_tensor *b);
/* The same against a C constant c, taken in a's dtype: tg_gt_scalar(x,
 * 0.5) is the mask x > 0.5 of x's shape and dtype. For an i64 a, c must be
 * an integer of magnitude <= 2^62 (else TG_ERR_ARG). */
TG_API tg_tensor *tg_eq_scalar(tg_tensor *a, double c);
TG_API tg_tensor *tg_ne_scalar(tg_tensor *a, double c);
TG_API tg_tensor *tg_lt_scalar(tg_tensor *a, double c);
TG_API tg_tensor *tg_le_scalar(tg_tensor *a, double c);
TG_API tg_tensor *tg_gt_scalar(tg_tensor *a, double c);
TG_API tg_tensor *tg_ge_scalar(tg_tensor *a, double c);

/* ------------------------------------------------------------ reductions */
/* Each reduces over the axes in the list [axes] (naxes == 0: every axis);
 * keepdim keeps them as size 1. */
/* Variance and standard deviation with `correction` (1 = unbiased). */
TG_API tg_tensor *tg_var(tg_tensor *a, int naxes, const int *axes, int correction, bool keepdim);
TG_API tg_tensor *tg_std(tg_tensor *a, int naxes, const int *axes, int correction, bool keepdim);
TG_API tg_tensor *tg_prod(tg_tensor *a, int naxes, const int *axes, bool keepdim);
/* Max / min values; the gradient is split evenly among ties (torch.amax). */
TG_API tg_tensor *tg_amax(tg_tensor *a, int naxes, const int *axes, bool keepdim);
TG_API tg_tensor *tg_amin(tg_tensor *a, int naxes, const int *axes, bool keepdim);
/* Index of the first max / min along one axis [axis]: an i64 tensor. */
TG_API tg_tensor *tg_argmax(tg_tensor *a, int axis, bool keepdim);
TG_API tg_tensor *tg_argmin(tg_tensor *a, int axis, bool keepdim);
/* log(sum(exp(a))), stable for +-1000. */
TG_API tg_tensor *tg_logsumexp(tg_tensor *a, int naxes, const int *axes, bool keepdim);
/* The sum of squares over the axes, sum_A a^2: what
 * tg_sum_axes(tg_square(a), ...) computes, in one pass with no a-sized
 * temporary, and one pass backward (d/da = 2 a g). f32 input squares and
 * adds in double, rounding once at the end. Float dtypes only (an i64 a
 * is TG_ERR_DTYPE); a 0-d a gives a^2; bad axes fail as tg_sum_axes. */
TG_API tg_tensor *tg_sum_squares(tg_tensor *a, int naxes, const int *axes, bool keepdim);
/* p = 1 (sum |a|) or 2 (sqrt of sum a^2; gradient 0 at 0). */
TG_API tg_tensor *tg_norm(tg_tensor *a, int p, int naxes, const int *axes, bool keepdim);

/* ----------------------------------------------------------------- shape */
/* Output axis d is input axis perm[d] (a permutation of 0..rank-1;
 * negative entries count from the end). */
TG_API tg_tensor *tg_permute(tg_tensor *a, int rank, const int *perm);
/* Removes axis [axis] (which must have size 1). */
TG_API tg_tensor *tg_squeeze(tg_tensor *a, int axis);
/* Inserts a size-1 axis at `axis` (in -(rank+1)..rank). */
TG_API tg_tensor *tg_unsqueeze(tg_tensor *a, int axis);
/* Same as tg_expand (NumPy's name). */
TG_API tg_tensor *tg_broadcast_to(tg_tensor *a, int rank, const int64_t *shape);
/* Merges axes start..end [axis each, inclusive] into one. */
TG_API tg_tensor *tg_flatten(tg_tensor *a, int start, int end);
/* Joins n tensors along an existing axis [axis] / a new axis (stack: in
 * -(rank+1)..rank, as tg_unsqueeze). */
TG_API tg_tensor *tg_concat(int n, tg_tensor *const *ts, int axis);
TG_API tg_tensor *tg_stack(int n, tg_tensor *const *ts, int axis);
/* Splits along axis [axis] into pieces of sizes[0..n) (which must add up to the
 * axis); outs receives n tensors. Returns n, or -1 on error. */
TG_API int tg_split(tg_tensor *a, int axis, int n, const int64_t *sizes, tg_tensor **outs);
/* Splits along axis [axis] into n nearly equal pieces (the last may be smaller, as
 * torch.chunk); returns how many were made (<= n), -1 on error. */
TG_API int tg_chunk(tg_tensor *a, int axis, int n, tg_tensor **outs);
/* Python's a[start:stop:step] on one axis [axis]; negative start/stop count from
 * the end and are clamped, step >= 1. When the result is one contiguous
 * block of a (step 1 on the first axis of size > 1, e.g. x[1:] of a
 * vector or a range of rows) it is a view of a's data, as in PyTorch:
 * no copy, and writes through tg_tensor_data show in both. */
TG_API tg_tensor *tg_slice(tg_tensor *a, int axis, int64_t start, int64_t stop, int64_t step);
/* Constant padding. pads holds (before, after) pairs from the LAST axis
 * backwards, as torch.nn.functional.pad: npairs <= rank. */
TG_API tg_tensor *tg_pad(tg_tensor *a, int npairs, const int64_t *pads, double value);
/* Tiles a: repeats[d] copies along axis d (rank >= a's rank; torch.repeat). */
TG_API tg_tensor *tg_repeat(tg_tensor *a, int rank, const int64_t *repeats);

/* -------------------------------------------------------------- indexing */
/* Rows of a along axis [axis] picked by a 1-D i64 index tensor; the gradient
 * scatters and adds (repeated indices add up). Out-of-range indices are an
 * error, negative ones count from the end. */
TG_API tg_tensor *tg_index_select(tg_tensor *a, int axis, tg_tensor *index);
/* torch.gather along axis [axis]: out[i][j] = a[index[i][j]][j] for axis 0;
 * index is i64 with a's rank. */
TG_API tg_tensor *tg_gather(tg_tensor *a, int axis, tg_tensor *index);
/* weight [V, D] looked up by an i64 index tensor of any shape: out has
 * index's shape + [D]. Every index must be a row number in [0, V): a
 * negative one is an error (TG_ERR_ARG, as PyTorch; it does not count from
 * the end, unlike tg_index_select). */
TG_API tg_tensor *tg_embedding(tg_tensor *weight, tg_tensor *index);
/* a with value where mask is nonzero (mask broadcasts to a). */
TG_API tg_tensor *tg_masked_fill(tg_tensor *a, tg_tensor *mask, double value);
/* i64 labels -> float one-hot of shape labels + [nclasses]. */
TG_API tg_tensor *tg_one_hot(tg_tensor *labels, int64_t nclasses, tg_dtype dt);

/* ------------------------------------------------------- neural networks */
/* softmax / log_softmax along one axis [axis] (0 or -1 for a 0-d a). */
TG_API tg_tensor *tg_softmax(tg_tensor *a, int axis);
TG_API tg_tensor *tg_log_softmax(tg_tensor *a, int axis);
/* Softmax and cross entropy in one op: per-row losses [N] of logits
 * [N, C] (f32 or f64) against i64 class indices labels [N], with the
 * max-shifted log-sum-exp (finite at +-1000) and PyTorch's label smoothing
 * eps in [0, 1]:
 *     loss_n = (1 - eps) (lse_n - x_n,y) + eps/C sum_c (lse_n - x_n,c),
 * 0 on rows whose label is ignore_index (every other label must be in
 * [0, C)). [C] logits with a 0-d label give a 0-d loss. The gradient goes
 * to the logits only: g_n (softmax(x) - (1 - eps) onehot(y) - eps/C),
 * differentiable again. This is F.cross_entropy(..., reduction='none');
 * tg_cross_entropy (tg_loss.h) adds the reductions. NULL on error. */
TG_API tg_tensor *tg_softmax_cross_entropy(tg_tensor *logits, tg_tensor *labels,
                                           int64_t ignore_index, double label_smoothing);
/* Zeroes each element with probability p and scales the rest by 1/(1-p);
 * the identity when !training or p == 0. */
TG_API tg_tensor *tg_dropout(tg_tensor *a, double p, bool training, tg_rng *rng);
/* Normalizes over the last `naxes` axes (PyTorch's normalized_shape: a
 * count of trailing axes, not an axis list, 1 <= naxes <= rank); weight
 * and bias (may be NULL) have those axes' shape. */
TG_API tg_tensor *tg_layer_norm(tg_tensor *a, int naxes, tg_tensor *weight, tg_tensor *bias,
                                double eps);
/* Batch norm over [N, C, ...]: per-channel statistics over every axis but
 * 1. In training the batch statistics are used and running_mean/var
 * (persistent parameters or NULL) are updated with `momentum`
 * (PyTorch: running = (1-m) running + m batch, var unbiased); in eval the
 * running statistics are used. weight, bias may be NULL. */
TG_API tg_tensor *tg_batch_norm(tg_tensor *a, tg_tensor *weight, tg_tensor *bias,
                                tg_tensor *running_mean, tg_tensor *running_var,
                                bool training, double momentum, double eps);

/* Convolution options; a zero field means the default (stride 1,
 * padding 0, dilation 1, groups 1). conv1d uses element [0]. */
typedef struct tg_conv_opts {
    int stride[2], padding[2], dilation[2], groups;
} tg_conv_opts;
/* x [N, Cin, H, W], w [Cout, Cin/groups, kH, kW], b [Cout] or NULL.
 * On more than one thread (tg_set_num_threads) a large batch is split into
 * blocks of samples that the threads share; the bits of the result and of
 * its gradients depend on the thread count, never on which thread ran
 * which block. */
TG_API tg_tensor *tg_conv2d(tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv_opts *o);
/* x [N, Cin, L], w [Cout, Cin/groups, k], b [Cout] or NULL. */
TG_API tg_tensor *tg_conv1d(tg_tensor *x, tg_tensor *w, tg_tensor *b, const tg_conv_opts *o);

/* Pooling options; stride 0 means stride = kernel. */
typedef struct tg_pool_opts {
    int kernel[2], stride[2], padding[2];
    bool exclude_pad; /* avg_pool2d: count_include_pad = !exclude_pad */
} tg_pool_opts;
/* Max pooling: the gradient goes to the first max in each window. */
TG_API tg_tensor *tg_max_pool2d(tg_tensor *x, const tg_pool_opts *o);
TG_API tg_tensor *tg_avg_pool2d(tg_tensor *x, const tg_pool_opts *o);

#ifdef __cplusplus
}
#endif
#endif /* TG_OPS_H */
