/* test_dist_batcher.c - the sharded batcher (tg_dist_batcher_*, which
 * needs no MPI): for 1 to 4 ranks every global batch is the one a
 * tg_batcher with the same seed gives, cut into disjoint slices that cover
 * it and differ in size by at most one; a tail shorter than the number of
 * ranks is dropped; a saved position gives the same batches again,
 * mid-epoch and across epochs. */
#include "tg_test.h"

static void check_slices(int64_t n, int64_t batch, int size) {
    tg_dataset d;
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset_alloc(&d, n, 1, (int64_t[]){1}, false);
    tg_batcher ref;
    tg_batcher_init(&ref, &d, batch, true, 42);
    tg_dist_batcher b[4];
    for (int r = 0; r < size; r++)
        CHECK(tg_dist_batcher_init(&b[r], &d, batch, true, 42, r, size) == TG_OK,
              "%s", err);
    for (int epoch = 0; epoch < 3; epoch++) {
        int64_t batches = 0;
        for (;;) {
            const int64_t *want, *idx;
            int64_t k = tg_batcher_next(&ref, &want);
            if (k > 0 && k < size) k = tg_batcher_next(&ref, &want); /* the dropped tail */
            int64_t got = 0, lo = k, hi = 0;
            for (int r = 0; r < size; r++) {
                int64_t g = -1, m = tg_dist_batcher_next(&b[r], &idx, &g);
                CHECK((k == 0 && m == 0) || (g == k && m >= 1), "n %lld batch %lld rank %d: %lld of %lld",
                      (long long)n, (long long)batch, r, (long long)m, (long long)g);
                for (int64_t i = 0; i < m && got + i < k; i++)
                    CHECK(idx[i] == want[got + i], "rank %d sample %lld", r, (long long)i);
                got += m;
                lo = m < lo ? m : lo;
                hi = m > hi ? m : hi;
            }
            CHECK(got == k, "slices cover %lld of %lld", (long long)got, (long long)k);
            if (k == 0) break;
            CHECK(hi - lo <= 1, "slices of %lld..%lld samples", (long long)lo, (long long)hi);
            batches++;
        }
        CHECK(batches == tg_dist_batcher_count(&b[0]), "%lld batches, count says %lld",
              (long long)batches, (long long)tg_dist_batcher_count(&b[0]));
    }
    for (int r = 0; r < size; r++) tg_dist_batcher_free(&b[r]);
    tg_batcher_free(&ref);
    tg_dataset_free(&d);
}

/* Saves the position after `skip` batches and compares what follows. */
static void check_resume(int64_t skip) {
    tg_dataset d;
    char state[128];
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset_alloc(&d, 23, 1, (int64_t[]){1}, false);
    tg_dist_batcher a, b;
    tg_dist_batcher_init(&a, &d, 5, true, 9, 1, 2);
    tg_dist_batcher_init(&b, &d, 5, true, 9, 1, 2);
    const int64_t *ia, *ib;
    for (int64_t i = 0; i < skip; i++) tg_dist_batcher_next(&a, &ia, NULL);
    CHECK(tg_dist_batcher_state(&a, state, sizeof state), "state");
    CHECK(tg_dist_batcher_restore(&b, state) == TG_OK, "%s", err);
    for (int i = 0; i < 30; i++) {
        int64_t ka = tg_dist_batcher_next(&a, &ia, NULL), kb = tg_dist_batcher_next(&b, &ib, NULL);
        CHECK(ka == kb, "after %lld: %lld vs %lld samples", (long long)skip, (long long)ka,
              (long long)kb);
        for (int64_t j = 0; j < ka && ka == kb; j++)
            CHECK(ia[j] == ib[j], "after %lld, batch %d", (long long)skip, i);
    }
    CHECK(tg_dist_batcher_restore(&b, "1 2 3") == TG_ERR_ARG &&
              strstr(err, "unreadable") != NULL, "a bad state accepted: %s", err);
    CHECK(!tg_dist_batcher_state(&a, state, 4), "a short buffer accepted");
    tg_dist_batcher_free(&a);
    tg_dist_batcher_free(&b);
    tg_dataset_free(&d);
}

int main(void) {
    for (int size = 1; size <= 4; size++) {
        check_slices(10, 4, size); /* tail 2: dropped for 3 and 4 ranks */
        check_slices(24, 8, size);
        if (size <= 3) check_slices(7, 3, size);
    }
    for (int64_t skip = 0; skip < 14; skip++) check_resume(skip);
    tg_dataset d;
    tg_dataset_alloc(&d, 4, 1, (int64_t[]){1}, false);
    tg_dist_batcher b;
    CHECK(tg_dist_batcher_init(&b, &d, 2, true, 1, 2, 2) == TG_ERR_ARG, "rank 2 of 2");
    CHECK(tg_dist_batcher_init(&b, &d, 0, true, 1, 0, 2) == TG_ERR_ARG, "batch 0");
    CHECK(tg_dist_batcher_init(&b, &d, 2, true, 1, 0, 3) == TG_ERR_ARG, "batch 2, 3 ranks");
    tg_dataset_free(&d);
    return TEST_DONE("dist_batcher");
}
