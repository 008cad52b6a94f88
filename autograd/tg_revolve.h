/* tg_revolve.h - gradients through long time loops in bounded memory:
 * binomial checkpointing (revolve; Griewank & Walther, ACM TOMS 26(1),
 * 2000).
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * A time loop x_{k+1} = step(x_k, k), k = 0..N-1, with a scalar loss of the
 * final state (or a loss summed over every state) has a gradient that a
 * single tape computes by keeping all N steps' records: memory grows with
 * N. tg_revolve keeps instead at most s copies of the state (snapshots)
 * and one step's records at a time, and recomputes the forward steps it
 * needs during the reverse sweep, on the binomial schedule: the fewest
 * step evaluations any schedule with s snapshots can do (tg_revolve_advances).
 *
 * The state is a list of tensors (one flat tensor, or several: three 0-d
 * tensors for a scalar ODE, a field and a velocity for a PDE), each of any
 * shape, f32 or f64. The initial state is given as parameters
 * (tg_param_new): d loss / d x_0 accumulates into their gradients, and so
 * does d loss / d p into the gradient of every parameter p the step or the
 * loss uses (+=, as tg_backward does). N must be known in advance: for a
 * loop that stops on a condition, run it once forward (no grad) to find N.
 */
#ifndef TG_REVOLVE_H
#define TG_REVOLVE_H

#include "tg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One step: from the state x[0..nstate) (tensors on `tape`), k = 0..N-1,
 * writes the next state to next[0..nstate), each of the same dtype and
 * shape as x[i], built with tapegrad ops on `tape` (an output may be an
 * input itself). Parameters captured in ud are used as operands as usual.
 * The driver calls it with recording on (a step it differentiates) or off
 * (a step it only advances through); it must compute the same values for
 * the same k and x either way, and touch no tape but `tape`. */
typedef void (*tg_revolve_step_fn)(tg_tape *tape, tg_tensor *const *x, int64_t k,
                                   tg_tensor **next, void *ud);

/* The loss term of state x_k (tensors on `tape`): a one-element f32 or f64
 * tensor, or NULL for no term at this k (with the tape still ok). */
typedef tg_tensor *(*tg_revolve_loss_fn)(tg_tape *tape, tg_tensor *const *x, int64_t k,
                                        void *ud);

typedef struct tg_revolve_problem {
    int nstate;              /* tensors per state, >= 1 */
    tg_tensor *const *x0;    /* nstate parameters: the initial state (read, not written) */
    tg_revolve_step_fn step;
    tg_revolve_loss_fn loss;
    bool every;              /* false: loss(x_N, N) only; true: the sum of
                              * loss(x_k, k) for k = 0..N */
    void *ud;                /* passed to step and loss */
} tg_revolve_problem;

/* What a call did. */
typedef struct tg_revolve_stats {
    double loss;             /* the loss value (the sum, in reverse order of k) */
    int64_t advances;        /* step calls with recording off */
    int64_t recorded;        /* step calls with recording on (N) */
    int snapshots_used;      /* most snapshots held at once (x_0 counts) */
    size_t snapshot_bytes;   /* bytes of the snapshot store and the two
                              * working states (adjoint, current) */
    size_t tape_peak;        /* tg_tape_bytes_peak over the call */
} tg_revolve_stats;

/* Computes d L / d x_0 and d L / d p for L = loss(x_N, N) (or, with
 * p->every, L = sum over k = 0..N of loss(x_k, k)) with x_{k+1} =
 * step(x_k, k), N = nsteps, keeping at most `snapshots` states, and
 * accumulates them into the gradients of the parameters x0[i] and of every
 * parameter step and loss use. Each step is run recorded exactly once (to
 * differentiate it) and unrecorded tg_revolve_advances(nsteps, snapshots)
 * times in all; snapshots >= nsteps gives one plain forward sweep that
 * stores every state. nsteps = 0 differentiates loss(x_0, 0).
 *
 * `tape` is the driver's work space: it is reset before the first step and
 * between steps (its tensors from before the call become stale) and its
 * peak is restarted (tg_tape_reset_peak) at the call; afterwards it holds
 * the last step's records, or the error. The peak of tape memory is one
 * step's records plus the loss terms on it; the snapshots add
 * stats->snapshot_bytes.
 *
 * Returns TG_OK, or the first error, also recorded on the tape: bad
 * arguments ("revolve: snapshots must be >= 1, got 0", a NULL step or
 * loss, x0 not parameters, nsteps < 0), a step output of the wrong dtype
 * or shape, an error of step or loss (with the step number), out of
 * memory. On an error the parameters' gradients may hold part of the
 * result. TG_ERR_NULL for a NULL tape or problem. stats may be NULL. */
TG_API tg_status tg_revolve(tg_tape *tape, const tg_revolve_problem *p, int64_t nsteps,
                            int snapshots, tg_revolve_stats *stats);

/* The number of unrecorded step evaluations of the binomial schedule for
 * nsteps steps and `snapshots` snapshots (x_0 counts as one): with r the
 * least integer such that C(snapshots + r, r) >= nsteps, it is
 * r * nsteps - C(snapshots + r, r - 1), the least any schedule needs
 * (Griewank & Walther 2000); 0 for nsteps <= 1, nsteps - 1 for snapshots
 * >= nsteps - 1, nsteps (nsteps - 1) / 2 for one snapshot. -1 for
 * snapshots < 1 or nsteps < 0, or when the count would overflow int64. */
TG_API int64_t tg_revolve_advances(int64_t nsteps, int snapshots);

#ifdef __cplusplus
}
#endif
#endif /* TG_REVOLVE_H */
