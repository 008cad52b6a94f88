/* test_dist_nompi.c - built without MPI (-Dmpi=disabled, or no Open MPI
 * found), the tg_dist functions exist and fail as tg_dist.h says; the
 * sharded batcher, which needs no MPI, still works. */
#include "tg_test.h"

int main(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    char junk;
    tg_dist *d = (tg_dist *)&junk; /* must be overwritten with NULL */
    CHECK(!tg_dist_available(), "tg_dist_available in a build without MPI");
    CHECK(tg_dist_init(NULL, NULL, &d) == TG_ERR_STATE, "init");
    CHECK(d == NULL, "init left a handle");
    CHECK(strcmp(err, "dist: tapegrad was built without MPI") == 0, "init: \"%s\"", err);
    int comm = 0;
    d = (tg_dist *)&junk;
    tg_clear_error();
    CHECK(tg_dist_attach(&comm, &d) == TG_ERR_STATE && d == NULL, "attach");
    CHECK(strstr(err, "without MPI") != NULL, "attach: \"%s\"", err);
    CHECK(tg_dist_rank(NULL) == 0 && tg_dist_size(NULL) == 1, "rank / size of NULL");
    CHECK(tg_dist_barrier(NULL) == TG_ERR_NULL, "barrier");
    CHECK(tg_dist_finalize(NULL) == TG_OK, "finalize");
    double v = 1;
    CHECK(tg_dist_allreduce(NULL, &v, 1, TG_DIST_SUM) == TG_ERR_NULL, "allreduce");
    tg_params *ps = tg_params_new(TG_F32);
    CHECK(tg_dist_broadcast_params(NULL, ps, true) == TG_ERR_NULL, "broadcast");
    tg_clear_error();
    CHECK(tg_ddp_new(NULL, ps, 0) == NULL, "ddp_new");
    CHECK(strstr(err, "without MPI") != NULL, "ddp_new: \"%s\"", err);
    CHECK(tg_ddp_begin(NULL, 1) == TG_ERR_NULL && tg_ddp_sync(NULL, NULL) == TG_ERR_NULL, "ddp");
    CHECK(tg_dist_checkpoint_save(NULL, "x", 1, &ps, 0, NULL) == TG_ERR_NULL,
          "checkpoint_save");
    tg_params_free(ps);

    /* The batcher: rank 1 of 2 takes the second half of each batch. */
    tg_dataset data;
    CHECK(tg_dataset_alloc(&data, 10, 1, (int64_t[]){1}, false) == TG_OK, "%s", err);
    tg_dist_batcher b;
    CHECK(tg_dist_batcher_init(&b, &data, 4, false, 1, 1, 2) == TG_OK, "%s", err);
    const int64_t *idx;
    int64_t g;
    CHECK(tg_dist_batcher_next(&b, &idx, &g) == 2 && g == 4 && idx[0] == 2 && idx[1] == 3, "batch 1");
    CHECK(tg_dist_batcher_count(&b) == 3, "count %lld", (long long)tg_dist_batcher_count(&b));
    tg_dist_batcher_free(&b);
    tg_dataset_free(&data);
    return TEST_DONE("dist_nompi");
}
