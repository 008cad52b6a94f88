/* dist.c - processes, values and checkpoints over MPI (see tg_dist.h):
 * init and attach, rank and size, barrier, finalize, the broadcast of a
 * model from rank 0, reductions for metrics, checkpoints written by rank 0
 * and loaded by all, and the agreement on one rank's failure.
 *
 * Built without MPI (no TG_HAVE_MPI), every entry point exists and fails
 * with "dist: tapegrad was built without MPI".
 *
 * MPI errors never abort: the handle's communicator is a duplicate with
 * MPI_ERRORS_RETURN, and every call's result is checked (tg__dist_mpi).
 */
#include "dist_private.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>

bool tg_dist_available(void) {
#ifdef TG_HAVE_MPI
    return true;
#else
    return false;
#endif
}

tg_status tg__dist_fail(tg_dist *d, tg_status s, const char *fmt, ...) {
    char msg[TG__DIST_ERR];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tg_set_last_error(s, "%s", msg); /* the error rule: every rank reads tg_last_error() */
    if (d) memcpy(d->err, msg, sizeof d->err);
    return s;
}

int tg_dist_rank(const tg_dist *d) { return d ? d->rank : 0; }
int tg_dist_size(const tg_dist *d) { return d ? d->size : 1; }

#ifndef TG_HAVE_MPI

static const char no_mpi[] = "dist: tapegrad was built without MPI";

tg_status tg__dist_init_e(int *argc, char ***argv, tg_dist **out, char *err, size_t errlen) {
    if (out) *out = NULL;
    return tg__io_fail(err, errlen, TG_ERR_STATE, "%s", no_mpi);
}

tg_status tg__dist_attach_e(const void *comm, tg_dist **out, char *err, size_t errlen) {
    if (out) *out = NULL;
    return tg__io_fail(err, errlen, TG_ERR_STATE, "%s", no_mpi);
}

/* No handle can exist without MPI: every call gets NULL. */
tg_status tg_dist_barrier(tg_dist *d) { return d ? TG_ERR_STATE : TG_ERR_NULL; }
tg_status tg_dist_finalize(tg_dist *d) { return TG_OK; }
tg_status tg_dist_broadcast_params(tg_dist *d, tg_params *ps, bool buffers) {
    return TG_ERR_NULL;
}
tg_status tg_dist_allreduce(tg_dist *d, double *v, int n, tg_dist_op op) { return TG_ERR_NULL; }
tg_status tg__dist_checkpoint_save_e(tg_dist *d, const char *path, int nlists,
                                     tg_params *const *lists, int nmeta, const char *const *meta,
                                     char *err, size_t errlen) {
    return tg__io_fail(err, errlen, TG_ERR_NULL, "%s", no_mpi);
}
tg_status tg__dist_checkpoint_load_e(tg_dist *d, const char *path, int nlists,
                                     tg_params *const *lists, bool strict, char *err,
                                     size_t errlen) {
    return tg__io_fail(err, errlen, TG_ERR_NULL, "%s", no_mpi);
}

#else /* TG_HAVE_MPI */

tg_status tg__dist_mpi(tg_dist *d, int rc, const char *what) {
    if (rc == MPI_SUCCESS) return TG_OK;
    char words[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, words, &len) != MPI_SUCCESS) snprintf(words, sizeof words, "code %d", rc);
    return tg__dist_fail(d, TG_ERR_STATE, "dist: %s failed: %s", what, words);
}

int tg__dist_wait(MPI_Request *req) {
    for (long i = 0;; i++) {
        int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done) return rc;
        if (i >= 200) sched_yield();
    }
}

/* A new handle over a duplicate of comm (errors returned, not fatal). */
static tg_status attach(MPI_Comm comm, bool owns, tg_dist **out, char *err, size_t errlen) {
    tg_dist *d = tg_malloc(sizeof *d);
    if (!d) return tg__io_fail(err, errlen, TG_ERR_NOMEM, "dist: out of memory");
    memset(d, 0, sizeof *d);
    d->owns_mpi = owns;
    tg_status s = tg__dist_mpi(d, MPI_Comm_dup(comm, &d->comm), "MPI_Comm_dup");
    if (s == TG_OK) {
        MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
        s = tg__dist_mpi(d, MPI_Comm_rank(d->comm, &d->rank), "MPI_Comm_rank");
        if (s == TG_OK) s = tg__dist_mpi(d, MPI_Comm_size(d->comm, &d->size), "MPI_Comm_size");
        if (s != TG_OK) MPI_Comm_free(&d->comm);
    }
    if (s != TG_OK) {
        tg__io_seterr(err, errlen, "%s", d->err);
        tg_free(d);
        return s;
    }
    *out = d;
    tg__io_seterr(err, errlen, "%s", "");
    return TG_OK;
}

tg_status tg__dist_init_e(int *argc, char ***argv, tg_dist **out, char *err, size_t errlen) {
    if (!out) return tg__io_fail(err, errlen, TG_ERR_NULL, "dist_init: NULL handle pointer");
    *out = NULL;
    int started = 0, provided = 0;
    MPI_Initialized(&started);
    if (!started) {
        /* MPI's own errors during start-up are fatal by default; there is
         * no communicator yet to set otherwise on. */
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return tg__io_fail(err, errlen, TG_ERR_STATE, "dist_init: MPI did not start");
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    tg_status s = attach(MPI_COMM_WORLD, !started, out, err, errlen);
    if (s != TG_OK && !started) MPI_Finalize();
    return s;
}

tg_status tg__dist_attach_e(const void *comm, tg_dist **out, char *err, size_t errlen) {
    if (!out || !comm)
        return tg__io_fail(err, errlen, TG_ERR_NULL, "dist_attach: NULL %s",
                           out ? "communicator" : "handle pointer");
    *out = NULL;
    int started = 0;
    MPI_Initialized(&started);
    if (!started)
        return tg__io_fail(err, errlen, TG_ERR_STATE,
                           "dist_attach: MPI is not initialized (call MPI_Init first)");
    return attach(*(const MPI_Comm *)comm, false, out, err, errlen);
}

tg_status tg_dist_barrier(tg_dist *d) {
    if (!d) return TG_ERR_NULL;
    return tg__dist_mpi(d, MPI_Barrier(d->comm), "MPI_Barrier");
}

tg_status tg_dist_finalize(tg_dist *d) {
    if (!d) return TG_OK;
    int rc = MPI_Comm_free(&d->comm);
    if (rc == MPI_SUCCESS && d->owns_mpi) rc = MPI_Finalize();
    tg_free(d);
    return rc == MPI_SUCCESS ? TG_OK : TG_ERR_STATE;
}

tg_status tg_dist_allreduce(tg_dist *d, double *v, int n, tg_dist_op op) {
    if (!d || (!v && n > 0)) return d ? tg__dist_fail(d, TG_ERR_NULL, "dist_allreduce: NULL values") : TG_ERR_NULL;
    if (n < 0) return tg__dist_fail(d, TG_ERR_ARG, "dist_allreduce: %d values", n);
    MPI_Op mop = op == TG_DIST_MIN ? MPI_MIN : op == TG_DIST_MAX ? MPI_MAX : MPI_SUM;
    MPI_Request req;
    tg_status s = tg__dist_mpi(d, MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, mop, d->comm,
                                                 &req), "MPI_Iallreduce");
    return s != TG_OK ? s : tg__dist_mpi(d, tg__dist_wait(&req), "MPI_Wait");
}

/* What a failing rank tells the others. */
typedef struct failure {
    int status;
    char msg[TG__DIST_ERR - 96];
} failure;

tg_status tg__dist_agree(tg_dist *d, tg_status s, const char *msg, const char *where) {
    int mine = s != TG_OK ? d->rank : INT_MAX, first = INT_MAX;
    tg_status r = tg__dist_mpi(d, MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm),
                               "MPI_Allreduce (status)");
    if (r != TG_OK || first == INT_MAX) return r;
    failure f = {(int)s, ""};
    if (d->rank == first) snprintf(f.msg, sizeof f.msg, "%s", msg ? msg : "");
    r = tg__dist_mpi(d, MPI_Bcast(&f, (int)sizeof f, MPI_BYTE, first, d->comm),
                     "MPI_Bcast (status)");
    if (r != TG_OK) return r;
    f.msg[sizeof f.msg - 1] = 0;
    return tg__dist_fail(d, f.status == TG_OK ? TG_ERR_STATE : (tg_status)f.status,
                         "dist: rank %d of %d failed%s: %s", first, d->size, where, f.msg);
}

/* ------------------------------------------------------------ broadcast */

static MPI_Datatype mpi_type(tg_dtype dt) {
    return dt == TG_F64 ? MPI_DOUBLE : dt == TG_I64 ? MPI_INT64_T : MPI_FLOAT;
}

static size_t dtype_size(tg_dtype dt) { return dt == TG_F32 ? 4 : 8; }

/* A hash of the names, dtypes and shapes of ps's tensors (buffers only
 * when `buffers`), compared across ranks before any data moves. */
static uint64_t layout_hash(const tg_params *ps, bool buffers) {
    uint64_t h = 1469598103934665603u;
#define MIX(byte) (h = (h ^ (uint64_t)(unsigned char)(byte)) * 1099511628211u)
    for (int i = 0; i < tg_params_count(ps); i++) {
        if (!buffers && tg_params_is_buffer(ps, i)) continue;
        for (const char *c = tg_params_name(ps, i); *c; c++) MIX(*c);
        tg_tensor *t = tg_params_at(ps, i);
        MIX(tg_tensor_dtype(t));
        MIX(tg_params_is_buffer(ps, i));
        for (int a = 0; a < tg_tensor_rank(t); a++)
            for (int k = 0; k < 8; k++) MIX((uint64_t)tg_tensor_dim(t, a) >> (8 * k));
        MIX(0xff);
    }
#undef MIX
    return h;
}

/* Whether every rank's ps has the same layout (collective). */
static tg_status same_layout(tg_dist *d, const tg_params *ps, bool buffers, const char *op) {
    unsigned long long h = layout_hash(ps, buffers), in[2] = {h, ~h}, out[2];
    tg_status s = tg__dist_mpi(d, MPI_Allreduce(in, out, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX,
                                                d->comm), "MPI_Allreduce (layout)");
    if (s != TG_OK) return s;
    if (out[0] != ~out[1])
        return tg__dist_fail(d, TG_ERR_SHAPE,
                             "%s: the ranks' models differ (names, dtypes or shapes of their "
                             "%d tensors)", op, tg_params_count(ps));
    return TG_OK;
}

/* MPI counts are ints: a long buffer goes in pieces. */
static tg_status bcast_data(tg_dist *d, void *data, int64_t n, tg_dtype dt) {
    char *p = data;
    while (n > 0) {
        int k = n > (1 << 30) ? (1 << 30) : (int)n;
        tg_status s = tg__dist_mpi(d, MPI_Bcast(p, k, mpi_type(dt), 0, d->comm), "MPI_Bcast");
        if (s != TG_OK) return s;
        p += (size_t)k * dtype_size(dt);
        n -= k;
    }
    return TG_OK;
}

tg_status tg_dist_broadcast_params(tg_dist *d, tg_params *ps, bool buffers) {
    if (!d) return TG_ERR_NULL;
    if (!ps) return tg__dist_fail(d, TG_ERR_NULL, "dist_broadcast_params: NULL parameter list");
    tg_status s = same_layout(d, ps, buffers, "dist_broadcast_params");
    for (int i = 0; s == TG_OK && i < tg_params_count(ps); i++) {
        if (!buffers && tg_params_is_buffer(ps, i)) continue;
        tg_tensor *t = tg_params_at(ps, i);
        s = bcast_data(d, tg_tensor_data(t), tg_tensor_numel(t), tg_tensor_dtype(t));
    }
    return s;
}

/* ----------------------------------------------------------- checkpoints */

tg_status tg__dist_checkpoint_save_e(tg_dist *d, const char *path, int nlists,
                                     tg_params *const *lists, int nmeta, const char *const *meta,
                                     char *err, size_t errlen) {
    if (!d) return tg__io_fail(err, errlen, TG_ERR_NULL, "dist_checkpoint_save: NULL handle");
    failure f = {TG_OK, ""};
    if (d->rank == 0)
        f.status = (int)tg__checkpoint_save_params_e(path, nlists, lists, nmeta, meta, f.msg,
                                                     sizeof f.msg);
    /* The others wait here for rank 0's word. */
    tg_status s = tg__dist_mpi(d, MPI_Bcast(&f, (int)sizeof f, MPI_BYTE, 0, d->comm),
                               "MPI_Bcast (checkpoint)");
    if (s != TG_OK) return tg__io_fail(err, errlen, s, "%s", d->err);
    f.msg[sizeof f.msg - 1] = 0;
    tg__io_seterr(err, errlen, "%s", f.status == TG_OK ? "" : f.msg);
    return (tg_status)f.status;
}

tg_status tg__dist_checkpoint_load_e(tg_dist *d, const char *path, int nlists,
                                     tg_params *const *lists, bool strict, char *err,
                                     size_t errlen) {
    if (!d) return tg__io_fail(err, errlen, TG_ERR_NULL, "dist_checkpoint_load: NULL handle");
    char mine[TG__DIST_ERR - 96] = "";
    tg_status s = tg__checkpoint_load_params_e(path, nlists, lists, strict, mine, sizeof mine);
    tg_status r = tg__dist_agree(d, s, mine, " to load a checkpoint");
    tg__io_seterr(err, errlen, "%s", r == TG_OK ? "" : d->err);
    return r;
}

#endif /* TG_HAVE_MPI */
