/* tg_segment.h - recomputed segments: differentiate long computations in
 * less memory by running parts of them twice.
 *
 * Reverse mode keeps every intermediate of the forward pass until the
 * sweep. tg_segment runs a function of yours as a segment: its forward
 * runs unrecorded and leaves on the tape only one record for the whole
 * segment (holding its outputs) and one slice and one reshape per output;
 * when the sweep reaches it, the function runs again, recorded, its
 * records are swept, and they are freed before the sweep goes on. So a
 * loop of N steps cut into segments of k steps keeps about N/k segment
 * records during the forward and k steps' records during the sweep, and
 * costs one more forward (torch.utils.checkpoint; docs/segments.md).
 *
 *     static void steps(void *ctx, tg_tensor *const *in, tg_tensor **out) {
 *         tg_tensor *h = in[0];
 *         for (int k = 0; k < 20; k++) h = rnn_step(ctx, h); // any ops
 *         out[0] = h;
 *     }
 *     ...
 *     for (int s = 0; s < 10; s++) tg_segment(steps, &model, 1, &h, 1, &h, NULL);
 *     tg_backward(loss_of(h));   // gradients as without segments
 *
 * The results are bit for bit those of the same code run without
 * tg_segment: the same ops run in the same order on the same values.
 *
 * The rules for the function fn(ctx, in, out):
 *   - it reads the tape only through in[0..nin) (handles of this pass) and
 *     parameters (tg_param_new; reach them through ctx): a tensor of the
 *     tape captured through ctx gets no gradient from the segment;
 *   - it writes out[0..nout), float tensors of one dtype on the tape (or
 *     parameters), and makes the same ops each time it runs: no decision
 *     on data that changes between the runs, no state kept in ctx from one
 *     run to the next (it runs once in the forward and once per sweep);
 *   - it may draw random numbers from one tg_rng, passed as `rng`: its state
 *     is saved before the forward and restored for the rerun, so dropout
 *     draws the same masks (the stream the caller sees is not disturbed);
 *   - tensors it makes other than its outputs are gone when tg_segment
 *     returns: a handle kept from inside is stale (TG_ERR_STALE) until its
 *     slot is reused, and after that may silently name another tensor;
 *   - it may call tg_segment itself: segments nest.
 * With recording off (tg_tape_set_grad_enabled(tape, false), or inside
 * another segment's forward) tg_segment simply calls fn.
 *
 * Derivatives: first order only. A sweep with TG_CREATE_GRAPH (tg_grad
 * with the flag, tg_hvp, tg_hessian, tg_gradcheck's graph and second-order
 * checks) that reaches a segment fails with TG_ERR_STATE and a sentence
 * saying so; run the function without tg_segment for higher derivatives.
 * Gradient hooks and anomaly mode (tg_inspect.h) do not see the records
 * inside a segment (parameters' hooks still run); names and hooks given to
 * tensors inside are dropped with them.
 */
#ifndef TG_SEGMENT_H
#define TG_SEGMENT_H

#include "tg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most inputs and outputs of one segment. */
#define TG_SEGMENT_MAX_IO 16

/* A segment's function: reads in[0..nin), writes out[0..nout) (the counts
 * given to tg_segment). See the rules above. */
typedef void (*tg_segment_fn)(void *ctx, tg_tensor *const *in, tg_tensor **out);

/* Runs fn(ctx, in, out) as a recomputed segment and writes its nout outputs
 * to out[0..nout): tensors on the inputs' tape, each the value fn made, of
 * its shape and dtype, requiring grad when an input or a parameter used
 * inside does. in and out may be the same array. 1 <= nin, nout <=
 * TG_SEGMENT_MAX_IO; inputs of any dtype (i64 ones pass through undifferen-
 * tiated). rng: the generator fn draws from, or NULL. fn, ctx and rng must
 * stay valid until the tape's sweeps are done (the sweep calls fn again).
 * Returns the tape's status: TG_OK, or the error kept on the tape (a NULL,
 * stale or foreign input, bad counts, an output that is NULL, not float,
 * or of a dtype other than out[0]'s, and any error fn made); then
 * out[0..nout) are NULL (the first 16 when nout is larger). With no usable
 * input there is no tape: TG_ERR_NULL. */
TG_API tg_status tg_segment(tg_segment_fn fn, void *ctx, int nin, tg_tensor *const *in,
                            int nout, tg_tensor **out, tg_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* TG_SEGMENT_H */
