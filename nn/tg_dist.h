/* tg_dist.h - data-parallel training over MPI: many processes, on one
 * machine or many, train one model as PyTorch's DistributedDataParallel.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * Every rank (process) holds the whole model and takes its own slice of
 * each global batch; before every optimizer step the gradients are
 * averaged over the ranks with allreduce, so every rank takes the same
 * step. A training loop (examples/fashion_mnist_dist.c is the whole one):
 *
 *     tg_dist *d;
 *     if (tg_dist_init(&argc, &argv, &d)) { puts(tg_last_error()); return 1; }
 *     ... build the model ps and the optimizer opt, the same on every rank
 *     tg_dist_broadcast_params(d, ps, true);       // rank 0's values everywhere
 *     tg_ddp *g = tg_ddp_new(d, ps, 0);            // 25 MB buckets
 *     tg_dist_batcher b;
 *     tg_dist_batcher_init(&b, &train, 128, true, seed, tg_dist_rank(d), tg_dist_size(d));
 *     while ((n = tg_dist_batcher_next(&b, &idx)) > 0) {
 *         ... forward on the n samples idx[0..n), mean loss
 *         tg_optim_zero_grad(opt);
 *         tg_ddp_begin(g, (double)n);              // this rank's weight
 *         tg_backward(loss);                       // buckets start as they fill
 *         if (tg_ddp_sync(g, tape)) { fprintf(stderr, "%s\n", tg_last_error()); ... }
 *         tg_optim_step(opt);
 *     }
 *     tg_ddp_free(g); tg_dist_finalize(d);
 *
 * Run it with `mpirun -np 2 ./prog` (README.md, "Many processes, many
 * machines").
 *
 * Built without MPI (meson -Dmpi=disabled, or auto where Open MPI is not
 * installed): every function below still exists; tg_dist_init and
 * tg_dist_attach fail with TG_ERR_STATE and the sentence "dist: tapegrad
 * was built without MPI", tg_dist_available returns false, and the rest
 * refuse a NULL tg_dist as documented. The sharded batcher works without
 * MPI (it needs only a rank and a size).
 *
 * Errors (the rule at the top of tapegrad.h): a failing call returns its
 * failure value (a status other than TG_OK, or NULL) and leaves one
 * sentence in tg_last_error() on the calling rank; for the failures the
 * ranks agree on (tg_ddp_sync, tg_dist_checkpoint_save/load) every rank
 * reads the same sentence there. Nothing aborts or exits. A collective
 * call must be made by every rank, in the same order, as in MPI.
 */
#ifndef TG_DIST_H
#define TG_DIST_H

#include "tg_autograd.h"
#include "tg_data.h"
#include "tg_module.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_dist tg_dist; /* opaque: a communicator and its state */
typedef struct tg_ddp tg_ddp;   /* opaque: gradient averaging for one model */

/* True when this build has MPI (then tg_dist_init can work). */
TG_API bool tg_dist_available(void);

/* ---------------------------------------------------------- processes */

/* Starts MPI (MPI_Init_thread with MPI_THREAD_FUNNELED: only the thread
 * that called this makes MPI calls; the library's worker threads never do)
 * unless the program already did, and makes *out a handle over a private
 * duplicate of MPI_COMM_WORLD. argc and argv may be NULL. Under a plain
 * `./prog` (no mpirun) this is one rank of size 1. Returns TG_OK, or
 * TG_ERR_STATE ("built without MPI", or MPI failed to start),
 * TG_ERR_NULL, TG_ERR_NOMEM, with the sentence in tg_last_error(); *out is
 * NULL then. */
TG_API tg_status tg_dist_init(int *argc, char ***argv, tg_dist **out);

/* Attaches to a communicator that the caller's own MPI program made:
 * `comm` points at an MPI_Comm (pass &my_comm; the header does not include
 * mpi.h). The handle works on a duplicate (MPI_Comm_dup), so its messages
 * never mix with the caller's. MPI must be initialized and stays the
 * caller's to finalize. Errors as tg_dist_init. */
TG_API tg_status tg_dist_attach(const void *comm, tg_dist **out);

/* This process's rank in [0, size), and the number of ranks. 0 and 1 for
 * a NULL handle. */
TG_API int tg_dist_rank(const tg_dist *d);
TG_API int tg_dist_size(const tg_dist *d);

/* Waits until every rank has called it. TG_OK, TG_ERR_NULL, TG_ERR_STATE. */
TG_API tg_status tg_dist_barrier(tg_dist *d);

/* Frees the handle and, if tg_dist_init started MPI, finalizes MPI (after
 * freeing its communicator). Every rank must call it. NULL is
 * allowed. Returns TG_OK or TG_ERR_STATE. */
TG_API tg_status tg_dist_finalize(tg_dist *d);

/* ------------------------------------------------------------ values */

/* Broadcasts the values of every trainable tensor of ps from rank 0 to the
 * others, and of every buffer (TG_PARAM_BUFFER, e.g. batch-norm running
 * statistics) too when `buffers`. Every rank's ps must list the same
 * names, shapes and dtypes in the same order: a mismatch is detected (a
 * checksum of the layout is compared first) and is TG_ERR_SHAPE on every
 * rank, with nothing changed. TG_OK, TG_ERR_NULL, TG_ERR_SHAPE,
 * TG_ERR_STATE. */
TG_API tg_status tg_dist_broadcast_params(tg_dist *d, tg_params *ps, bool buffers);

/* The reductions for tg_dist_allreduce. */
typedef enum { TG_DIST_SUM, TG_DIST_MIN, TG_DIST_MAX } tg_dist_op;

/* Combines v[0..n) over the ranks in place (blocking): every rank gets the
 * sum, minimum or maximum of each element. For metrics: a mean loss over
 * ranks is the sum of (loss * samples) over the sum of samples; accuracy
 * the sum of correct counts (exact in a double up to 2^53). TG_OK,
 * TG_ERR_NULL, TG_ERR_ARG (n < 0), TG_ERR_STATE. */
TG_API tg_status tg_dist_allreduce(tg_dist *d, double *v, int n, tg_dist_op op);

/* ---------------------------------------------------- gradient averaging */

/* The default bucket size, PyTorch DDP's: 25 MB (25 * 2^20 bytes). */
#define TG_DDP_BUCKET_BYTES ((size_t)25 << 20)

/* Averages the gradients of ps's trainable tensors over d's ranks. The
 * tensors are grouped, in reverse order of registration (the order in
 * which a backward sweep over a feed-forward model finishes them), into
 * buckets of at most bucket_bytes (0: TG_DDP_BUCKET_BYTES; a tensor larger
 * than that is a bucket alone; f32 and f64 never share one). It sets a
 * gradient hook (tg_tensor_set_hook, tg_inspect.h) on each tensor, which
 * replaces a hook of the user's and is removed by tg_ddp_free: when a
 * sweep completes a tensor's gradient, the hook copies it, times the
 * rank's weight, into its bucket, and the moment a bucket is complete (and
 * every bucket before it has started) its non-blocking sum over the ranks
 * (MPI_Iallreduce) starts, while the sweep goes on with the layers below.
 * ps must list the same tensors in the same order on every rank
 * (checked, as tg_dist_broadcast_params). On failure: NULL,
 * tg_last_error(). Free it before ps and d. */
TG_API tg_ddp *tg_ddp_new(tg_dist *d, tg_params *ps, size_t bucket_bytes);
TG_API void tg_ddp_free(tg_ddp *g); /* NULL is allowed */

/* Opens a step: this rank's weight in the average (its number of samples
 * in the global batch, for a loss that is a mean over them; 1 on every
 * rank for a plain mean over ranks; 0 for a rank that has nothing this
 * step). Then run one backward sweep (tg_backward) of a loss over those
 * samples; a rank with nothing to do may skip it. A second sweep before
 * tg_ddp_sync is an error of this rank, reported at the sync. TG_OK,
 * TG_ERR_NULL, TG_ERR_ARG (weight negative or not finite). */
TG_API tg_status tg_ddp_begin(tg_ddp *g, double weight);

/* Closes the step (every rank calls it, collective): starts the buckets
 * not yet started (a tensor that got no gradient in the sweep contributes
 * zeros), reduces a status word (this rank's weight and whether `tape` is
 * ok; tape may be NULL) and waits for all of it. Then, when every rank is
 * well, each tensor's stored gradient is replaced by the weighted mean
 * sum_r(w_r g_r) / sum_r(w_r) (left as it was when every weight is 0): the
 * same on every rank, ready for tg_optim_step. When any rank's tape holds
 * an error (or its sweep misused the step), no gradient is changed and
 * every rank returns the failing rank's status with the same sentence in
 * tg_last_error(), naming the lowest failing rank, the step (the number of
 * syncs so far, from 1) and that rank's error, e.g. "dist: rank 1 of 3
 * failed at step 17: linear: x's last axis ...". The sentence is also
 * recorded on `tape` where the tape holds no error yet. */
TG_API tg_status tg_ddp_sync(tg_ddp *g, tg_tape *tape);

/* How many buckets the tensors fill, and how many of the last sync's
 * buckets had started before tg_ddp_sync was called (during the sweep,
 * overlapping it): all but the last when every tensor got its gradient.
 * The last bucket fills with the sweep's last gradients, so nothing is left
 * to overlap: tg_ddp_sync reduces it with a blocking MPI_Allreduce, which
 * Open MPI finishes sooner than a non-blocking one. */
TG_API int tg_ddp_buckets(const tg_ddp *g);
TG_API int tg_ddp_started_early(const tg_ddp *g);

/* ------------------------------------------------------ sharded batches */

/* Batches of a data set for ranks: every rank draws the same permutation
 * as a tg_batcher with the same seed and batch (global_batch), and takes
 * its slice of each global batch of k samples: rank r of p gets positions
 * [r*k/p, (r+1)*k/p) (integer division), so the slices are disjoint, cover
 * the batch, and differ in size by at most one. The uneven tail: the last
 * global batch of an epoch holds n mod global_batch samples and is split
 * the same way; if it holds fewer samples than there are ranks it is
 * dropped (tg_dist_batcher_next returns 0 for it, which ends the epoch).
 * Weight each rank by its count (tg_ddp_begin) and the average equals one
 * process's mean over the global batch. */
typedef struct tg_dist_batcher {
    tg_batcher all;    /* the global order (every rank holds the same) */
    tg_rng epoch_rng;  /* the generator before this epoch's shuffle */
    int rank, size;
} tg_dist_batcher;

/* Prepares the batcher for rank `rank` of `size` (from tg_dist_rank and
 * tg_dist_size; needs no MPI). TG_OK, TG_ERR_NULL, TG_ERR_ARG (batch < 1,
 * or smaller than size; rank outside [0, size)), TG_ERR_NOMEM, with the
 * sentence in tg_last_error(). */
TG_API tg_status tg_dist_batcher_init(tg_dist_batcher *b, const tg_dataset *d,
                                      int64_t global_batch, bool shuffle, uint64_t seed,
                                      int rank, int size);

/* This rank's part of the next global batch: *idx points at its sample
 * indices (valid until the next call) and the count is returned (>= 1).
 * 0 ends the epoch (and prepares the next), as tg_batcher_next. If
 * global_n is not NULL it receives the global batch's size. */
TG_API int64_t tg_dist_batcher_next(tg_dist_batcher *b, const int64_t **idx, int64_t *global_n);

/* Global batches per epoch that give every rank at least one sample. */
TG_API int64_t tg_dist_batcher_count(const tg_dist_batcher *b);

/* The position in the data, for checkpoints: writes "<epoch> <pos> <four
 * generator words>" (decimal) into buf, e.g. as checkpoint metadata;
 * returns false if buf is too small (128 bytes always suffice). */
TG_API bool tg_dist_batcher_state(const tg_dist_batcher *b, char *buf, size_t n);

/* Puts an initialized batcher (same data size, batch and ranks) back at a
 * position from tg_dist_batcher_state: it then gives exactly the batches
 * it would have given. TG_OK, TG_ERR_NULL, TG_ERR_ARG (unreadable text). */
TG_API tg_status tg_dist_batcher_restore(tg_dist_batcher *b, const char *state);

TG_API void tg_dist_batcher_free(tg_dist_batcher *b); /* NULL is allowed */

/* ----------------------------------------------------------- checkpoints */

/* Saves lists as tg_checkpoint_save_params (atomically) from rank 0 alone;
 * the other ranks wait for it and every rank returns rank 0's status, with
 * its sentence in tg_last_error() on every rank. Collective. */
TG_API tg_status tg_dist_checkpoint_save(tg_dist *d, const char *path, int nlists,
                                         tg_params *const *lists, int nmeta,
                                         const char *const *meta);

/* Loads lists on every rank (tg_checkpoint_load_params; the file must be
 * readable by each, e.g. on a shared file system) and agrees: if any rank
 * fails, every rank returns the lowest failing rank's status, and
 * tg_last_error() names that rank and its error on every rank. Collective. */
TG_API tg_status tg_dist_checkpoint_load(tg_dist *d, const char *path, int nlists,
                                         tg_params *const *lists, bool strict);

#ifdef __cplusplus
}
#endif
#endif /* TG_DIST_H */
