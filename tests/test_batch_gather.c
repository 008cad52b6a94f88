/* test_batch_gather.c - tg_dataset_batch_x's gather on the pool's threads:
 * batches of shuffled rows (64, 257 and 1000 rows of 784 features, as the
 * MLP reads Fashion-MNIST, and 200000 rows of 3 or of 1: cut into pieces on
 * 2 threads; the smaller batches of 3 and of 1 on one) hold exactly the
 * rows asked for, in order, in f32 and f64,
 * on 1 thread and on 2, after a pause (the worker late) and back to back.
 * The data set is built in place (its fields, tg_malloc'd storage). */
#include "tg_test.h"

#include <time.h>

static bool make_set(tg_dataset *d, int64_t n, int64_t dim) {
    memset(d, 0, sizeof *d);
    d->n = n, d->dim = dim, d->rank = 1, d->shape[0] = dim;
    d->x = tg_malloc((size_t)(n * dim) * sizeof(float));
    if (!d->x) return false;
    for (int64_t i = 0; i < n; i++) /* exact in f32: i < 2^11, j < 2^10 */
        for (int64_t j = 0; j < dim; j++) d->x[i * dim + j] = (float)i + (float)j / 1024;
    return true;
}

/* Rows idx[0..b) of d in t, element for element. */
static bool rows_match(const tg_tensor *t, const tg_dataset *d, int64_t b, const int64_t *idx) {
    const float *f = tg_tensor_f32(t);
    const double *g = tg_tensor_f64(t);
    for (int64_t i = 0; i < b; i++)
        for (int64_t j = 0; j < d->dim; j++) {
            float want = d->x[idx[i] * d->dim + j];
            if (f ? f[i * d->dim + j] != want : g[i * d->dim + j] != (double)want) return false;
        }
    return true;
}

int main(void) {
    static const int64_t dims[] = {784, 1, 3};
    static const int64_t batches[] = {64, 257, 1000, 200000};
    tg_tape *tape = tg_tape_new();
    uint64_t s = 12345;
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        int64_t dim = dims[k], n = dim == 784 ? 1000 : 30000;
        tg_dataset d;
        CHECK(make_set(&d, n, dim), "out of memory");
        if (!d.x) continue;
        int64_t *idx = malloc(200000 * sizeof *idx);
        for (int64_t i = 0; i < 200000; i++) { /* shuffled, with repeats */
            s = s * 6364136223846793005u + 1442695040888963407u;
            idx[i] = (int64_t)((s >> 33) % (uint64_t)n);
        }
        for (int threads = 1; threads <= 2; threads++) {
            tg_set_num_threads(threads);
            for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
                int64_t nb = batches[b];
                if (nb * dim > 1000000) continue;
                for (int rep = 0; rep < 3; rep++) {
                    if (rep == 1) nanosleep(&(struct timespec){0, 2000000}, NULL);
                    tg_tensor *x32 = tg_dataset_batch_x(tape, &d, nb, idx, TG_F32, true);
                    tg_tensor *x64 = tg_dataset_batch_x(tape, &d, nb, idx, TG_F64, false);
                    CHECK_OK(tape);
                    CHECK(x32 && tg_tensor_dim(x32, 0) == nb && tg_tensor_dim(x32, 1) == dim &&
                              rows_match(x32, &d, nb, idx),
                          "f32 batch of %lld rows of %lld, %d thread(s)", (long long)nb,
                          (long long)dim, threads);
                    CHECK(x64 && tg_tensor_dtype(x64) == TG_F64 && rows_match(x64, &d, nb, idx),
                          "f64 batch of %lld rows of %lld, %d thread(s)", (long long)nb,
                          (long long)dim, threads);
                    tg_tape_reset(tape);
                }
            }
        }
        free(idx);
        tg_dataset_free(&d);
    }
    tg_tape_free(tape);
    return TEST_DONE("batch_gather");
}
