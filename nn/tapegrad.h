/* tapegrad.h - reverse-mode automatic differentiation on a tape, in C.
 *
 * THE ERROR RULE (every function of the library follows it; the library
 * never aborts or exits, unless asked to by tg_tape_set_abort_on_error):
 *   1. Anything that works on a tape records its error there, sticky: the
 *      first error is kept as a status (tg_tape_status) and a sentence
 *      naming the function and the shapes (tg_tape_error); the call
 *      returns NULL (a tensor), the status (tg_status), -1 (a count:
 *      tg_split, tg_chunk) or NaN (a double: tg_item, tg_grad_item), and
 *      later calls given NULL return at once.
 *      Check once, at the end of a pass. tg_tape_reset clears it.
 *   2. What has no tape keeps the sentence where it lives: a parameter
 *      set, its layers and optimizers in tg_params_error(ps); file and
 *      data functions (checkpoints, CSV, IDX) return a tg_status and write
 *      the sentence into the caller's `char *err` buffer (which may be
 *      NULL).
 *   3. Queries record nothing and answer NULL, -1 (tg_tensor_rank,
 *      tg_tensor_dim, tg_tensor_numel) or NaN (tg_tensor_get) for a NULL
 *      or stale tensor or an index out of range; tg_tensor_status(t) says
 *      which (TG_OK, TG_ERR_NULL, TG_ERR_STALE): code built on tapegrad
 *      checks its operands with it, not with a -1.
 *
 * A worked example: f(x, y) = x*y + sin(x), its value and gradient.
 *
 *     tg_tape *tape = tg_tape_new();
 *     tg_tensor *x = tg_requires_grad(tg_scalar(tape, 2.0));
 *     tg_tensor *y = tg_requires_grad(tg_scalar(tape, 3.0));
 *     tg_tensor *f = tg_add(tg_mul(x, y), tg_sin(x));   // recorded
 *     tg_backward(f);                                    // one reverse sweep
 *     if (!tg_tape_ok(tape)) puts(tg_tape_error(tape)); // errors are sticky
 *     printf("f = %g, df/dx = %g, df/dy = %g\n", tg_item(f),
 *            tg_item(tg_tensor_grad(x)), tg_item(tg_tensor_grad(y)));
 *     // f = 6.9093, df/dx = y + cos(x) = 2.58385, df/dy = x = 2
 *     tg_tape_free(tape);
 *
 * The graph the tape holds, in recording order:
 *     #0 x (leaf)   #1 y (leaf)   #2 mul(#0,#1)   #3 sin(#0)   #4 add(#2,#3)
 * and backward walks it from #4 down to #0 once.
 *
 * Parts, bottom to top: tg_core.h (tensors, tape, parameters, errors,
 * allocator, threads), tg_ops.h (the differentiable ops), tg_autograd.h
 * (backward, gradients, gradcheck, higher order), tg_custom.h (ops from
 * your own forward and backward), tg_segment.h (recomputed segments:
 * gradients in less memory), tg_inspect.h (printing,
 * DOT, trace, anomaly mode, hooks), tg_nn.h (layers, losses, optimizers,
 * data); tg_version.h (the version, TG_VERSION_* and tg_version()).
 */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include "tg_core.h"
#include "tg_version.h"
#include "tg_autograd.h"
#include "tg_inspect.h"
#include "tg_revolve.h"
#include "tg_ops.h"
#include "tg_custom.h"
#include "tg_segment.h"
#include "tg_nn.h"

#endif
