/* dataset.c - data sets in memory (tg_data.h): allocation,
 * normalization, seeded shuffled batches, and batch tensors on a tape.
 */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE (glibc hides it under strict POSIX) */
#include "io_util.h"

#include <math.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* -------------------------------------------------------------- data set */

/* Ask for transparent huge pages on a large set (a hint; Linux in its
 * default "madvise" mode honours it): shuffled batches read rows all over
 * it, and with 4 KiB pages nearly every row costs a TLB miss. */
static void hint_huge(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

tg_status tg__dataset_alloc_e(tg_dataset *d, int64_t n, int rank, const int64_t *shape,
                              bool with_labels, char *err, size_t errlen) {
    if (d) memset(d, 0, sizeof *d);
    if (!d || !shape) return tg__io_fail(err, errlen, TG_ERR_NULL, "dataset_alloc: NULL argument");
    if (n < 0 || rank < 1 || rank > TG_MAX_RANK - 1)
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "dataset_alloc: n = %lld, rank = %d (need n >= 0, rank 1..%d)",
                           (long long)n, rank, TG_MAX_RANK - 1);
    int64_t dim = 1, total, bytes;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return tg__io_fail(err, errlen, TG_ERR_ARG,
                               "dataset_alloc: negative size %lld on axis %d", (long long)shape[i],
                               i);
        if (!tg__io_mul_ok(dim, shape[i], &dim))
            return tg__io_fail(err, errlen, TG_ERR_OVERFLOW,
                               "dataset_alloc: the sample size overflows");
    }
    if (!tg__io_mul_ok(dim, n, &total) || !tg__io_mul_ok(total, (int64_t)sizeof(float), &bytes) ||
        (uint64_t)bytes > SIZE_MAX)
        return tg__io_fail(err, errlen, TG_ERR_OVERFLOW,
                           "dataset_alloc: %lld x %lld features overflow", (long long)n,
                           (long long)dim);
    d->x = tg_malloc((size_t)bytes);
    d->y = with_labels ? tg_malloc((size_t)n * sizeof(int64_t)) : NULL;
    if (!d->x || (with_labels && !d->y)) {
        tg_free(d->x);
        tg_free(d->y);
        memset(d, 0, sizeof *d);
        return tg__io_fail(err, errlen, TG_ERR_NOMEM,
                           "dataset_alloc: out of memory for %lld samples", (long long)n);
    }
    hint_huge(d->x, (size_t)bytes);
    memset(d->x, 0, (size_t)bytes);
    if (d->y) memset(d->y, 0, (size_t)n * sizeof(int64_t));
    d->n = n;
    d->dim = dim;
    d->rank = rank;
    for (int i = 0; i < rank; i++) d->shape[i] = shape[i];
    tg__io_seterr(err, errlen, "%s", "");
    return TG_OK;
}

void tg_dataset_free(tg_dataset *d) {
    if (!d) return;
    tg_free(d->x);
    tg_free(d->y);
    memset(d, 0, sizeof *d);
}

/* --------------------------------------------------------- normalization */

static bool ds_ok(const tg_dataset *d) { return d && (d->x || d->n * d->dim == 0); }

tg_status tg_dataset_scale(tg_dataset *d, double lo, double hi) {
    if (!ds_ok(d)) return TG_ERR_NULL;
    if (!(hi != lo) || !isfinite(lo) || !isfinite(hi)) return TG_ERR_ARG;
    float a = (float)(1.0 / (hi - lo)), b = (float)(-lo / (hi - lo));
    int64_t n = d->n * d->dim;
    float *x = d->x;
    for (int64_t i = 0; i < n; i++) x[i] = x[i] * a + b;
    return TG_OK;
}

tg_status tg_dataset_range(const tg_dataset *d, double *lo, double *hi) {
    if (!ds_ok(d) || !lo || !hi) return TG_ERR_NULL;
    int64_t n = d->n * d->dim;
    float mn = n ? d->x[0] : 0, mx = mn;
    for (int64_t i = 1; i < n; i++) {
        if (d->x[i] < mn) mn = d->x[i];
        if (d->x[i] > mx) mx = d->x[i];
    }
    *lo = mn;
    *hi = mx;
    return TG_OK;
}

tg_status tg_dataset_stats(const tg_dataset *d, bool per_feature, double *mean, double *std) {
    if (!ds_ok(d) || !mean || !std) return TG_ERR_NULL;
    int64_t m = per_feature ? d->dim : 1;
    for (int64_t j = 0; j < m; j++) mean[j] = std[j] = 0;
    if (d->n == 0 || d->dim == 0) return TG_OK;
    double cnt = per_feature ? (double)d->n : (double)d->n * (double)d->dim;
    /* Two passes (mean, then squared deviations): exact enough in double. */
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) mean[per_feature ? j : 0] += d->x[i * d->dim + j];
    for (int64_t j = 0; j < m; j++) mean[j] /= cnt;
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) {
            double t = d->x[i * d->dim + j] - mean[per_feature ? j : 0];
            std[per_feature ? j : 0] += t * t;
        }
    for (int64_t j = 0; j < m; j++) std[j] = sqrt(std[j] / cnt);
    return TG_OK;
}

tg_status tg_dataset_standardize(tg_dataset *d, bool per_feature, const double *mean,
                                 const double *std) {
    if (!ds_ok(d) || !mean || !std) return TG_ERR_NULL;
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) {
            int64_t k = per_feature ? j : 0;
            double sd = std[k] > 0 ? std[k] : 1.0;
            float *v = &d->x[i * d->dim + j];
            *v = (float)((*v - mean[k]) / sd);
        }
    return TG_OK;
}

/* -------------------------------------------------------------- batching */

static void shuffle_order(tg_batcher *b) {
    /* Fisher-Yates; the bound uses the high bits (Lemire would avoid the
     * tiny modulo bias, which does not matter for batching). */
    for (int64_t i = b->n - 1; i > 0; i--) {
        int64_t j = (int64_t)(tg_rng_next(&b->rng) % (uint64_t)(i + 1));
        int64_t t = b->order[i];
        b->order[i] = b->order[j];
        b->order[j] = t;
    }
}

tg_status tg__batcher_init_e(tg_batcher *b, const tg_dataset *d, int64_t batch, bool shuffle,
                             uint64_t seed, char *err, size_t errlen) {
    if (b) memset(b, 0, sizeof *b);
    if (!b || !d) return tg__io_fail(err, errlen, TG_ERR_NULL, "batcher_init: NULL argument");
    if (batch < 1 || d->n < 0)
        return tg__io_fail(err, errlen, TG_ERR_ARG, "batcher_init: batch size %lld (must be >= 1)",
                           (long long)batch);
    if ((uint64_t)d->n > SIZE_MAX / sizeof(int64_t))
        return tg__io_fail(err, errlen, TG_ERR_OVERFLOW, "batcher_init: too many samples");
    b->order = tg_malloc((size_t)d->n * sizeof(int64_t));
    if (!b->order) return tg__io_fail(err, errlen, TG_ERR_NOMEM, "batcher_init: out of memory");
    b->n = d->n;
    b->batch = batch;
    b->shuffle = shuffle;
    tg_rng_seed(&b->rng, seed);
    for (int64_t i = 0; i < b->n; i++) b->order[i] = i;
    if (shuffle) shuffle_order(b);
    b->epoch = 1;
    tg__io_seterr(err, errlen, "%s", "");
    return TG_OK;
}

int64_t tg_batcher_next(tg_batcher *b, const int64_t **idx) {
    if (!b || !b->order) {
        if (idx) *idx = NULL;
        return 0;
    }
    if (b->pos >= b->n) {
        /* The epoch is over: say so, and prepare the next. */
        b->pos = 0;
        b->epoch++;
        if (b->shuffle) {
            for (int64_t i = 0; i < b->n; i++) b->order[i] = i;
            shuffle_order(b);
        }
        if (idx) *idx = NULL;
        return 0;
    }
    int64_t k = b->n - b->pos < b->batch ? b->n - b->pos : b->batch;
    if (idx) *idx = b->order + b->pos;
    b->pos += k;
    return k;
}

int64_t tg_batcher_count(const tg_batcher *b) {
    if (!b || b->batch < 1) return 0;
    return (b->n + b->batch - 1) / b->batch;
}

void tg_batcher_free(tg_batcher *b) {
    if (!b) return;
    tg_free(b->order);
    memset(b, 0, sizeof *b);
}

/* Checks the common arguments of the batch makers; records the error. */
static bool batch_args(tg_tape *tape, const char *op, const tg_dataset *d, int64_t n,
                       const int64_t *idx) {
    if (!d) {
        tg_tape_fail(tape, TG_ERR_NULL, "%s: NULL data set", op);
        return false;
    }
    if (n < 0 || (!idx && n > d->n)) {
        tg_tape_fail(tape, TG_ERR_ARG, "%s: %lld samples requested from a data set of %lld", op,
                     (long long)n, (long long)d->n);
        return false;
    }
    for (int64_t i = 0; idx && i < n; i++)
        if (idx[i] < 0 || idx[i] >= d->n) {
            tg_tape_fail(tape, TG_ERR_ARG,
                         "%s: sample index %lld (position %lld) is out of range for %lld samples",
                         op, (long long)idx[i], (long long)i, (long long)d->n);
            return false;
        }
    return true;
}

/* The gather of tg_dataset_batch_x: rows [lo, hi) of the batch. Shuffled
 * rows are scattered over the whole set, so each row's first lines miss
 * every cache; the lines of the row GATHER_AHEAD on are prefetched while
 * this one is copied. */
typedef struct gather_job {
    const tg_dataset *d;
    const int64_t *idx;
    float *o32;  /* f32 output, or NULL */
    double *o64; /* f64 output, or NULL */
} gather_job;

#define GATHER_AHEAD 2
#define GATHER_GRAIN 16384 /* features per thread, at least (64 KiB of f32) */

static void gather_rows(void *ctx, int64_t lo, int64_t hi) {
    const gather_job *j = ctx;
    int64_t dim = j->d->dim;
    for (int64_t i = lo; i < hi; i++) {
        if (i + GATHER_AHEAD < hi) {
            const char *next = (const char *)(j->d->x + (j->idx ? j->idx[i + GATHER_AHEAD]
                                                               : i + GATHER_AHEAD) * dim);
            for (size_t b = 0; b < (size_t)dim * sizeof(float); b += 64)
                __builtin_prefetch(next + b);
        }
        const float *src = j->d->x + (j->idx ? j->idx[i] : i) * dim;
        if (j->o32)
            memcpy(j->o32 + i * dim, src, (size_t)dim * sizeof(float));
        else
            for (int64_t k = 0; k < dim; k++) j->o64[i * dim + k] = src[k];
    }
}

tg_tensor *tg_dataset_batch_x(tg_tape *tape, const tg_dataset *d, int64_t n, const int64_t *idx,
                              tg_dtype dt, bool flat) {
    if (!tape) return tg_tape_fail(NULL, TG_ERR_NULL, "dataset_batch_x: tape is NULL"), NULL;
    if (!batch_args(tape, "dataset_batch_x", d, n, idx)) return NULL;
    if (dt != TG_F32 && dt != TG_F64) {
        tg_tape_fail(tape, TG_ERR_DTYPE, "dataset_batch_x: dtype must be f32 or f64");
        return NULL;
    }
    if (!d->x && n * d->dim > 0) {
        tg_tape_fail(tape, TG_ERR_NULL, "dataset_batch_x: the data set has no features");
        return NULL;
    }
    int64_t shape[TG_MAX_RANK];
    int rank;
    shape[0] = n;
    if (flat || d->rank < 1) {
        shape[1] = d->dim;
        rank = 2;
    } else {
        rank = 1 + d->rank;
        for (int i = 0; i < d->rank; i++) shape[1 + i] = d->shape[i];
    }
    tg_tensor *t = tg_empty(tape, dt, rank, shape); /* gather_rows writes every row */
    if (!t) return NULL;
    gather_job j = {d, idx, tg_tensor_f32(t), tg_tensor_f64(t)};
    /* rows on the pool's threads from 16384 features on: the gather waits
     * on memory (a shuffled batch's rows miss every cache), so two cores
     * halve it, and an MLP's batch (64 x 784, 30-40 us on one thread) is
     * cut in two. A worker that is not awake costs little: the caller runs
     * the pieces no worker has claimed (threadpool.c). */
    tg_parallel_for(n, GATHER_GRAIN / (d->dim > 0 ? d->dim : 1) + 1, gather_rows, &j);
    return t;
}

tg_tensor *tg_dataset_batch_y(tg_tape *tape, const tg_dataset *d, int64_t n, const int64_t *idx) {
    if (!tape) return tg_tape_fail(NULL, TG_ERR_NULL, "dataset_batch_y: tape is NULL"), NULL;
    if (!batch_args(tape, "dataset_batch_y", d, n, idx)) return NULL;
    if (!d->y) {
        tg_tape_fail(tape, TG_ERR_ARG, "dataset_batch_y: the data set has no labels");
        return NULL;
    }
    tg_tensor *t = tg_empty(tape, TG_I64, 1, (int64_t[]){n}); /* every label written below */
    if (!t) return NULL;
    int64_t *o = tg_tensor_i64(t);
    for (int64_t i = 0; i < n; i++) o[i] = d->y[idx ? idx[i] : i];
    return t;
}
