/* dist_batcher.c - a rank's slices of the global batches (see tg_dist.h,
 * tg_dist_batcher_*). Every rank runs the same tg_batcher (same seed, same
 * permutation) and keeps its part of each batch; needs no MPI.
 *
 * Position for checkpoints: tg_batcher draws each epoch's permutation from
 * the identity with its generator, so (epoch, pos, the generator before
 * this epoch's shuffle) rebuilds the order and everything after it.
 */
#include "dist_private.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

tg_status tg__dist_batcher_init_e(tg_dist_batcher *b, const tg_dataset *d, int64_t global_batch,
                                  bool shuffle, uint64_t seed, int rank, int size, char *err,
                                  size_t errlen) {
    if (b) memset(b, 0, sizeof *b);
    if (!b || !d) return tg__io_fail(err, errlen, TG_ERR_NULL, "dist_batcher_init: NULL argument");
    if (size < 1 || rank < 0 || rank >= size)
        return tg__io_fail(err, errlen, TG_ERR_ARG, "dist_batcher_init: rank %d of %d", rank,
                           size);
    if (global_batch < size)
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "dist_batcher_init: global batch %lld is smaller than the %d ranks",
                           (long long)global_batch, size);
    tg_rng_seed(&b->epoch_rng, seed);
    tg_status s = tg__batcher_init_e(&b->all, d, global_batch, shuffle, seed, err, errlen);
    if (s != TG_OK) return s;
    b->rank = rank;
    b->size = size;
    return TG_OK;
}

int64_t tg_dist_batcher_next(tg_dist_batcher *b, const int64_t **idx, int64_t *global_n) {
    if (idx) *idx = NULL;
    if (global_n) *global_n = 0;
    if (!b || !b->all.order) return 0;
    if (b->all.pos >= b->all.n) b->epoch_rng = b->all.rng; /* next() reshuffles now */
    const int64_t *all;
    int64_t k = tg_batcher_next(&b->all, &all);
    if (k > 0 && k < b->size) { /* a tail too short to give every rank one: dropped */
        b->all.pos = b->all.n;
        b->epoch_rng = b->all.rng;
        k = tg_batcher_next(&b->all, &all);
    }
    if (k == 0) return 0;
    int64_t lo = b->rank * k / b->size, hi = (b->rank + 1) * k / b->size;
    if (idx) *idx = all + lo;
    if (global_n) *global_n = k;
    return hi - lo;
}

int64_t tg_dist_batcher_count(const tg_dist_batcher *b) {
    if (!b || b->all.batch < 1) return 0;
    int64_t full = b->all.n / b->all.batch, tail = b->all.n % b->all.batch;
    return full + (tail >= b->size ? 1 : 0);
}

bool tg_dist_batcher_state(const tg_dist_batcher *b, char *buf, size_t n) {
    if (!b || !buf) return false;
    int k = snprintf(buf, n, "%" PRId64 " %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                     " %" PRIu64, b->all.epoch, b->all.pos, b->epoch_rng.s[0],
                     b->epoch_rng.s[1], b->epoch_rng.s[2], b->epoch_rng.s[3]);
    return k > 0 && (size_t)k < n;
}

tg_status tg__dist_batcher_restore_e(tg_dist_batcher *b, const char *state, char *err,
                                     size_t errlen) {
    if (!b || !state || !b->all.order)
        return tg__io_fail(err, errlen, TG_ERR_NULL, "dist_batcher_restore: NULL argument");
    int64_t epoch, pos;
    tg_rng r;
    int used = 0;
    if (sscanf(state, "%" SCNd64 " %" SCNd64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 "%n",
               &epoch, &pos, &r.s[0], &r.s[1], &r.s[2], &r.s[3], &used) != 6 ||
        state[used] != 0 || epoch < 1 || pos < 0 || pos > b->all.n)
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "dist_batcher_restore: unreadable state \"%.60s\"", state);
    /* tg_batcher_next at an epoch's end redraws the order from the
     * identity with the generator: let it, from the saved generator. */
    b->epoch_rng = r;
    b->all.rng = r;
    b->all.pos = b->all.n;
    tg_batcher_next(&b->all, NULL);
    b->all.epoch = epoch;
    b->all.pos = pos;
    tg__io_seterr(err, errlen, "%s", "");
    return TG_OK;
}

void tg_dist_batcher_free(tg_dist_batcher *b) {
    if (!b) return;
    tg_batcher_free(&b->all);
    memset(b, 0, sizeof *b);
}
