/* tg_autograd.h - the reverse sweep and what is built on it: backward,
 * gradients as tensors, gradient checking, higher-order derivatives.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * Threads. What is safe:
 *   - One tape per thread: any number of threads may each record, sweep
 *     (tg_backward, tg_grad, the higher-order drivers), reset and free
 *     their own tapes at the same time, with no lock
 *     (tests/test_threads.c). A tape, and every tensor on it, belongs to
 *     one thread at a time; nothing on it may be used by two threads at
 *     once.
 *   - A parameter (tg_param_new) is used by one tape at a time: two
 *     threads may not use one parameter concurrently (their sweeps would
 *     both add into its gradient). nn/ objects (models, optimizers, data
 *     sets) follow their parameters: one thread at a time.
 *   - Process-wide settings, to be changed only while no other thread runs
 *     library code: the allocator (tg_set_allocator), the thread count
 *     (tg_set_num_threads), tg_release_caches. The SIMD level
 *     (tg_simd_level) is chosen once and may be read from any thread.
 *   - The thread pool is shared: a large op on one thread runs on the
 *     pool; a large op on another thread while the pool is busy runs on
 *     its own calling thread (same values; a parallel reduction may add
 *     in another order). tg_parallel_for may be called from any thread.
 *   - Random numbers come from a tg_rng the caller owns: one per thread.
 */
#ifndef TG_AUTOGRAD_H
#define TG_AUTOGRAD_H

#include "tg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- backward */

/* Accumulates d loss / d leaf into the gradient of every leaf marked with
 * tg_requires_grad and every parameter that loss depends on (+=, so a value
 * used twice receives both parts). loss must have exactly one element.
 * Returns TG_OK or the error (also recorded on the tape). Calling it again
 * on the same pass accumulates again, as PyTorch's retain_graph=True. */
TG_API tg_status tg_backward(tg_tensor *loss);

/* As tg_backward for any output, with the seed gradient d ? / d out (same
 * shape and dtype as out). */
TG_API tg_status tg_backward_seed(tg_tensor *out, tg_tensor *seed);

/* Flags for tg_grad. */
enum {
    TG_CREATE_GRAPH = 1 /* record the sweep: returned grads are differentiable */
};

/* Functional form: d out / d inputs[i] into grads[i], without touching any
 * stored gradient. seed may be NULL when out has one element. An input that
 * out does not depend on gets zeros; so does every input when out itself
 * requires no grad (a constant: no error, unlike tg_backward; the seed is
 * still checked). Every input must require grad (a leaf marked with
 * tg_requires_grad, a parameter, or an op's result that depends on one):
 * one that does not is refused with TG_ERR_STATE ("input i does not
 * require grad"). The results are tensors on out's tape (valid until the
 * next reset). With TG_CREATE_GRAPH the sweep is recorded on the tape, so
 * the gradients can be differentiated again. */
TG_API tg_status tg_grad(tg_tensor *out, tg_tensor *seed, int n,
                         tg_tensor *const *inputs, tg_tensor **grads, int flags);

/* The stored gradient of t as a tensor, or NULL if it has none yet.
 * Leaves: set by tg_backward, on t's tape. Parameters: the persistent
 * buffer (write to it freely). Intermediate tensors: the gradient from the
 * last sweep (handy for teaching; PyTorch would need retain_grad), except
 * after tg_backward for a reshape or a view at the edge of a fused chain,
 * whose gradient went straight into its input's (NULL then; tg_grad
 * gives it).
 * Not a pure query for tensors on a tape: each call on a leaf or an
 * intermediate makes one new record on t's tape (a view of the stored
 * gradient; at rank 0 a copy of it), so tg_tape_count grows by one per
 * call and the result is valid until the next reset. Call it once per
 * pass and keep the result, or read one element with tg_grad_item, which
 * records nothing. A parameter's gradient makes no record. */
TG_API tg_tensor *tg_tensor_grad(const tg_tensor *t);

/* The stored gradient of a one-element tensor as a double: what
 * tg_item(tg_tensor_grad(t)) gives, without making a tensor (scalar code
 * reads millions: `double dfdx = tg_grad_item(x);`). NaN if t is NULL or
 * has no gradient yet, and NaN with an error on the tape if t is stale or
 * has more than one element. */
TG_API double tg_grad_item(const tg_tensor *t);

/* Sets the stored gradient of a leaf or a parameter to zero. */
TG_API void tg_zero_grad(tg_tensor *t);

/* ----------------------------------------------------------- gradcheck */

/* Builds an output from inputs on `tape` (the inputs are already there). */
typedef tg_tensor *(*tg_gradcheck_fn)(tg_tape *tape, tg_tensor *const *inputs, void *ud);

/* Options; a zero field means its default, so {0} or {.second = true}
 * read well, and opts == NULL means exactly {0}: the fast backward only,
 * as PyTorch's gradcheck (set graph for the create-graph one too). */
typedef struct tg_gradcheck_opts {
    double eps;   /* finite-difference step (default 1e-6) */
    double atol;  /* pass when |analytic - numeric| <= atol + rtol*|numeric| */
    double rtol;  /* defaults 1e-6 and 1e-4 */
    uint64_t seed;/* for the random projection of non-scalar outputs (1234) */
    bool graph;   /* also check the create-graph (recorded) backward */
    bool second;  /* also check second derivatives (implies graph) */
} tg_gradcheck_opts;

typedef struct tg_gradcheck_report {
    bool ok;
    double worst;      /* the largest |analytic - numeric| / (atol + rtol*|numeric|) */
    int input;         /* where it happened: input index, flat element */
    int64_t index;
    double analytic, numeric;
    char msg[320];     /* a sentence: what failed, where, by how much */
} tg_gradcheck_report;

/* Compares analytic gradients with central finite differences in f64.
 * The inputs (any tapes, f32/f64; i64 inputs pass through undifferentiated)
 * are copied to f64 leaves on a private tape; f builds the output there. A
 * non-scalar output y is reduced to sum(y * w) with fixed random weights w,
 * so every element of y is checked. Returns report->ok; report may be NULL.
 * opts may be NULL for the defaults (the same as {0}: graph off). */
TG_API bool tg_gradcheck(tg_gradcheck_fn f, void *ud, int n, tg_tensor *const *inputs,
                         const tg_gradcheck_opts *opts, tg_gradcheck_report *report);

/* --------------------------------------------------------- higher order */

/* Derivative drivers built on tg_grad. They work on tensors already on a
 * tape: `y` (or `out`) built from `x` by ops, with x a leaf marked by
 * tg_requires_grad, an intermediate tensor that requires grad, or a
 * parameter. Results are new tensors on that tape (valid until its next
 * reset), owned by the tape. On an error they return NULL and the tape
 * keeps the error ("hvp: v has shape [3] but x has shape [2,2]").
 *
 * flags: 0, or TG_CREATE_GRAPH to record the final sweep too, so that the
 * result can be differentiated again (third derivatives, a loss on a
 * Jacobian). Without it the result is a constant.
 *
 * Cost, with T the cost of building y once and m, n the element counts of
 * y and x:
 *   tg_vjp       u^T J        one reverse sweep                  ~2T
 *   tg_jvp       J v          two reverse sweeps (double VJP)    ~3-4T
 *   tg_hvp       H v          two reverse sweeps (three if v     ~4T
 *                             requires grad)
 *   tg_jacobian  J            m reverse sweeps, one per row      ~mT
 *   tg_hessian   H            one recorded sweep + n sweeps      ~nT
 * Each sweep's memory stays on the tape until the reset. The list forms
 * (tg_vjp_n, ..., below) cost the same with n the elements of all inputs
 * together: one sweep serves every input.
 *
 * Worked example: f(x) = sum(x^3) at x = [1, 2]:
 *     tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(2),
 *                                                   (double[]){1, 2}));
 *     tg_tensor *f = tg_sum(tg_pow_scalar(x, 3));
 *     tg_tensor *H = tg_hessian(f, x, 0);        // [[6, 0], [0, 12]]
 *     tg_tensor *v = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1, 1});
 *     tg_tensor *Hv = tg_hvp(f, x, v, 0);        // [6, 12]
 */

/* A function of tensors on a tape (the same shape as tg_gradcheck_fn, so
 * one function can be checked and differentiated). Extra data goes
 * through ud. */
typedef tg_gradcheck_fn tg_fn;

/* Vector-Jacobian product u^T (dy/dx): the gradient of sum(y * u) with
 * respect to x, a tensor of x's shape. u has y's shape and dtype; it may
 * be NULL when y has one element (then this is dy/dx). This is tg_grad
 * with a seed, for one input. Zeros if y does not depend on x. */
TG_API tg_tensor *tg_vjp(tg_tensor *y, tg_tensor *x, tg_tensor *u, int flags);

/* Jacobian-vector product (dy/dx) v, a tensor of y's shape: the
 * directional derivative of y along v (forward mode). v has x's shape and
 * dtype.
 *
 * How: tapegrad has only reverse-mode rules, so J v comes from the
 * double-VJP identity. With a dummy u of y's shape (zeros; its value does
 * not matter), a recorded sweep gives w(u) = J^T u, which is linear in u;
 * then d/du <w(u), v> = J v, a second (reverse) sweep. Every op's graph
 * backward is built from ops, so this works for all of them, and no op
 * needs a separate tangent rule. The price is about twice a reverse sweep
 * where true forward mode would cost about one forward pass; for one
 * direction on a small graph that is cheap, for many directions use
 * tg_jacobian. */
TG_API tg_tensor *tg_jvp(tg_tensor *y, tg_tensor *x, tg_tensor *v, int flags);

/* Hessian-vector product H v with H = d^2 out / dx^2, a tensor of x's
 * shape, without forming H: the gradient of <d out/dx, v> with respect to
 * x (two reverse sweeps). out must have one element; v has x's shape and
 * dtype. v may itself be computed from x (e.g. v = the gradient): it is
 * never differentiated with respect to x. When v requires grad, H v is
 * computed as the Jacobian of the gradient along v (tg_jvp's method, one
 * more sweep) so that with TG_CREATE_GRAPH it is differentiable with
 * respect to v too, as torch.autograd.functional.hvp. */
TG_API tg_tensor *tg_hvp(tg_tensor *out, tg_tensor *x, tg_tensor *v, int flags);

/* The full Jacobian dy/dx, of shape y.shape + x.shape (so J[i..., j...] =
 * d y[i...] / d x[j...]; the ranks must add up to at most TG_MAX_RANK),
 * in x's dtype. Reverse mode, row by row: one sweep per element of y
 * with a one-hot seed. Zeros where y does not depend on x. With
 * TG_CREATE_GRAPH the rows are assembled with recorded ops (O(m^2 n)
 * more work) so that J is differentiable. */
TG_API tg_tensor *tg_jacobian(tg_tensor *y, tg_tensor *x, int flags);

/* The full Hessian d^2 out / dx^2 of a one-element out, of shape
 * x.shape + x.shape: the Jacobian of the recorded gradient. Symmetric up
 * to rounding. */
TG_API tg_tensor *tg_hessian(tg_tensor *out, tg_tensor *x, int flags);

/* The same for a function: evaluates y = f(tape, &x, ud) once and returns
 * its Jacobian / Hessian at x. x may be any float tensor (any tape, or a
 * parameter): if it is on `tape` and requires grad, or is a parameter, it
 * is used as is (with TG_CREATE_GRAPH the result is then differentiable
 * with respect to it); otherwise a leaf copy of its values is made on
 * `tape`. The results are on `tape`. NULL on error (recorded on tape). */
TG_API tg_tensor *tg_jacobian_of(tg_tape *tape, tg_fn f, void *ud, tg_tensor *x, int flags);
TG_API tg_tensor *tg_hessian_of(tg_tape *tape, tg_fn f, void *ud, tg_tensor *x, int flags);

/* ------------------------------------------------- several inputs
 *
 * The same drivers for a list of n >= 1 inputs xs[0..n), with the cross
 * terms, as torch.autograd.functional with tuples. Each xs[i] is, as x
 * above, a float tensor on the output's tape that requires grad, or a
 * parameter; the inputs may mix f32 and f64 (each result says which
 * dtype it takes). Directions vs[i] have xs[i]'s shape and dtype. Results
 * go into the caller's array, all NULL on an error; tg_jvp_n, with one
 * result, returns it (NULL on an error). The others return TG_OK or the
 * error. Errors stay on the tape as a sentence: a NULL list or result
 * array, n <= 0, a NULL, stale or non-float entry, one on another tape,
 * an input that does not require grad, a direction whose shape or dtype
 * differs from its input's ("hvp_n: vs[1] has shape [3] but xs[1] has
 * shape [2,2]"), and what the one-input form refuses (an output of more
 * than one element for H and H v, recording off). With n = 1 each gives
 * what the one-input form gives.
 *
 * Worked example: f(x, y) = sum(x^2 * y) with x = [1, 2], y = [3, 4]:
 *     tg_tensor *xs[2] = {x, y}, *H[4];
 *     tg_hessian_n(tg_sum(tg_mul(tg_mul(x, x), y)), 2, xs, H, 0);
 *     // H[0] = d2f/dx2  = diag(2y) = [[6, 0], [0, 8]]
 *     // H[1] = d2f/dxdy = diag(2x) = [[2, 0], [0, 4]], H[2] = H[1]^T
 *     // H[3] = d2f/dy2  = 0
 */

/* grads[i] = u^T (dy/dxs[i]), of xs[i]'s shape and dtype: tg_vjp for
 * every input at once (one sweep). u has y's shape and dtype, or is NULL
 * when y has one element. Zeros for an input y does not depend on. */
TG_API tg_status tg_vjp_n(tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor *u,
                          tg_tensor **grads, int flags);

/* The Jacobian-vector product along all inputs together,
 * sum_i (dy/dxs[i]) vs[i], a tensor of y's shape and dtype: the
 * directional derivative of y when every xs[i] moves along vs[i]. By the
 * double VJP, as tg_jvp. */
TG_API tg_tensor *tg_jvp_n(tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor *const *vs,
                           int flags);

/* Hessian-vector products of a one-element out: hv[i] = sum_j H_ij vs[j],
 * of xs[i]'s shape and dtype, with H_ij = d^2 out / dxs[i] dxs[j] (the
 * cross terms included), without forming H. As tg_hvp: two sweeps, v is
 * never differentiated with respect to x, and when some vs[j] requires
 * grad the result is the Jacobian of the gradients along vs (one more
 * sweep), differentiable with respect to vs under TG_CREATE_GRAPH. */
TG_API tg_status tg_hvp_n(tg_tensor *out, int n, tg_tensor *const *xs, tg_tensor *const *vs,
                          tg_tensor **hv, int flags);

/* The Jacobians J[i] = dy/dxs[i], each of shape y.shape + xs[i].shape
 * (the ranks adding up to at most TG_MAX_RANK) in xs[i]'s dtype: one sweep
 * per element of y gives a row of every J[i]. TG_CREATE_GRAPH as for
 * tg_jacobian. */
TG_API tg_status tg_jacobian_n(tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor **J,
                               int flags);

/* The Hessian of a one-element out in n * n blocks, row by row:
 * H[i*n + j] = d^2 out / dxs[i] dxs[j], of shape xs[i].shape +
 * xs[j].shape, in xs[j]'s dtype: H[i*n + j][a..., b...] =
 * d^2 out / dxs[i][a...] dxs[j][b...], and H[j*n + i][b..., a...] equals
 * it up to rounding. The ranks of any two inputs must add up to at most
 * TG_MAX_RANK. Block row i is the Jacobian of the recorded d out/dxs[i]:
 * one recorded sweep, then one sweep per element of all inputs. */
TG_API tg_status tg_hessian_n(tg_tensor *out, int n, tg_tensor *const *xs, tg_tensor **H,
                              int flags);

#ifdef __cplusplus
}
#endif
#endif /* TG_AUTOGRAD_H */
