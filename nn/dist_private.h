/* dist_private.h - what the distributed layer's files share (internal to
 * nn/, not installed): the handle over a communicator and its error
 * sentence. dist.c holds processes, values and checkpoints, dist_ddp.c the
 * gradient buckets, dist_batcher.c the sharded batches (no MPI needed).
 */
#ifndef TG_DIST_PRIVATE_H
#define TG_DIST_PRIVATE_H

#include "io_util.h"
#include "tg_dist.h"

#ifdef TG_HAVE_MPI
#include <mpi.h>
#endif

/* Longest error sentence kept, terminator included. */
#define TG__DIST_ERR 512

struct tg_dist {
#ifdef TG_HAVE_MPI
    MPI_Comm comm; /* a private duplicate, errors returned (never fatal) */
#endif
    int rank, size;
    bool owns_mpi; /* tg_dist_init started MPI: tg_dist_finalize ends it */
    char err[TG__DIST_ERR];
};

/* Records the sentence in d->err and in tg_last_error(); returns s. */
tg_status tg__dist_fail(tg_dist *d, tg_status s, const char *fmt, ...) TG__FMT(3, 4);

#ifdef TG_HAVE_MPI
/* Checks an MPI call's result: TG_OK, or TG_ERR_STATE with "dist: <what>
 * failed: <MPI's words>" in d->err. */
tg_status tg__dist_mpi(tg_dist *d, int rc, const char *what);

/* MPI_Wait, politely: Open MPI's own wait spins on the CPU, which on a
 * machine with more runnable processes than cores keeps the very peer it
 * waits for off the CPU. Tests 200 times, then yields the core between
 * tests (sched_yield). A sleep instead of the yield costs the common case
 * dearly: with 2 ranks on 2 cores a 20 us nanosleep made the flagship's
 * 318 KB gradient allreduce 186 us instead of 94 us. */
int tg__dist_wait(MPI_Request *req);

/* Agrees on a failure after a collective step in which each rank may have
 * failed on its own (s != TG_OK, sentence msg): returns TG_OK on every rank
 * when none failed, else on every rank the lowest failing rank's status,
 * with "<prefix>rank R of P failed<where>: <its sentence>" in d->err. */
tg_status tg__dist_agree(tg_dist *d, tg_status s, const char *msg, const char *where);
#endif

#endif /* TG_DIST_PRIVATE_H */
