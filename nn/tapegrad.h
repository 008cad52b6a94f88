/* tapegrad.h - reverse-mode automatic differentiation on a tape, in C.
 *
 * THE ERROR RULE (every function of the library follows it; the library
 * never aborts or exits, unless asked to by tg_tape_set_abort_on_error):
 *   1. Every failing call returns its type's failure value: NULL (a
 *      pointer), a tg_status other than TG_OK, -1 (a count or an int
 *      query: tg_split, tg_tensor_rank) or NaN (a double: tg_item).
 *   2. The sentence of the most recent failure on the calling thread,
 *      wherever it happened (an op on a tape, a layer or optimizer, a file
 *      or data set function, tg_dist, a query given a NULL or stale
 *      tensor), is in one place: tg_last_error(), naming the function and
 *      the shapes, and its code in tg_last_status(). Thread-local, written
 *      only by failures (read it right after a call returned its failure
 *      value, like errno), reset by tg_clear_error(). An op or query
 *      given a NULL tensor does not overwrite an earlier sentence, so
 *      after a chain of ops it still names the root cause.
 *         if (tg_mnist_load_dir(dir, true, &ds) != TG_OK)
 *             fprintf(stderr, "%s\n", tg_last_error());
 *   For checking once at the end, two places also keep their FIRST error,
 *   sticky: a tape (tg_tape_status, tg_tape_error; an op given the NULL
 *   an earlier op returned returns NULL; tg_tape_reset clears it) and a
 *   parameter set, for its layers' and optimizers' construction and
 *   set_lr errors (tg_params_status, tg_params_error). These failures
 *   write tg_last_error() too: it is always the one place to read.
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
