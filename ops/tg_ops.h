/* tg_ops.h - differentiable operations.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * Every op takes tensors and returns a new tensor on the same tape, or
 * NULL after recording an error on the tape (sticky: a NULL input gives a
 * NULL output at once). Binary ops broadcast as NumPy does. Operands must
 * share one dtype (tg_cast converts). Axes may be negative (from the end).
 * A parameter can stand in any operand slot.
 */
#ifndef TG_OPS_H
#define TG_OPS_H

#include "tg_autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------- elementwise, binary */
TG_API tg_tensor *tg_add(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_div(tg_tensor *a, tg_tensor *b);
/* a ** b elementwise. d/da = b a^(b-1); d/db = a^b log a (a > 0). */
TG_API tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b);

/* Scalar forms: the constant is not a tensor and gets no gradient. */
TG_API tg_tensor *tg_add_scalar(tg_tensor *a, double c);  /* a + c */
TG_API tg_tensor *tg_sub_scalar(tg_tensor *a, double c);  /* a - c */
TG_API tg_tensor *tg_rsub_scalar(tg_tensor *a, double c); /* c - a */
TG_API tg_tensor *tg_mul_scalar(tg_tensor *a, double c);  /* a * c */
TG_API tg_tensor *tg_div_scalar(tg_tensor *a, double c);  /* a / c */
TG_API tg_tensor *tg_rdiv_scalar(tg_tensor *a, double c); /* c / a */
TG_API tg_tensor *tg_pow_scalar(tg_tensor *a, double c);  /* a ** c */

/* -------------------------------------------------- elementwise, unary */
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
/* Over every element: a 0-d result. */
TG_API tg_tensor *tg_sum(tg_tensor *a);
TG_API tg_tensor *tg_mean(tg_tensor *a);
/* Along one axis; keepdim keeps it as size 1. */
TG_API tg_tensor *tg_sum_axis(tg_tensor *a, int axis, bool keepdim);
TG_API tg_tensor *tg_mean_axis(tg_tensor *a, int axis, bool keepdim);
/* Along several axes (each once). */
TG_API tg_tensor *tg_sum_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim);
TG_API tg_tensor *tg_mean_axes(tg_tensor *a, int naxes, const int *axes, bool keepdim);

/* ---------------------------------------------------------------- linear */
/* Matrix product with NumPy/PyTorch semantics: 2-D @ 2-D, batched N-D with
 * broadcast batch dimensions, 1-D operands treated as vectors. */
TG_API tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b);
/* op(a) @ op(b) where op transposes the last two axes when its flag is set;
 * no transpose is copied (the flags go to the GEMM kernel). a, b rank >= 2. */
TG_API tg_tensor *tg_matmul_t(tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b);

/* ----------------------------------------------------------------- shape */
/* Same data, new shape; one entry may be -1 (inferred). */
TG_API tg_tensor *tg_reshape(tg_tensor *a, int rank, const int64_t *shape);
/* Swaps two axes (copies into a contiguous result). */
TG_API tg_tensor *tg_transpose(tg_tensor *a, int axis0, int axis1);
/* Broadcasts a to `shape` (NumPy rules); backward sums. */
TG_API tg_tensor *tg_expand(tg_tensor *a, int rank, const int64_t *shape);
/* Sums a down to `shape` (the inverse of tg_expand). */
TG_API tg_tensor *tg_sum_to(tg_tensor *a, int rank, const int64_t *shape);
/* Converts to another float dtype (differentiable). */
TG_API tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt);

#ifdef __cplusplus
}
#endif
#endif /* TG_OPS_H */
