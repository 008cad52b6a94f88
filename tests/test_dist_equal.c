/* test_dist_equal.c - N ranks give one process's result (run under mpirun
 * by tests/meson.build with 1, 2 and 3 ranks, over shared memory and over
 * TCP alone).
 *
 * Every rank trains the Fashion-MNIST MLP shape (784-100-10, ReLU) on
 * synthetic data (610 samples: a learnable labelling of random images) for
 * 100 steps (10 under valgrind) of global batch 24 (the 10-sample tail of each epoch split
 * unevenly over the ranks) twice: alone, on whole global batches with
 * tg_batcher, as the reference; and distributed, on its slice with
 * tg_dist_batcher and tg_ddp. Each rank starts from a different
 * initialization, so the broadcast from rank 0 is tested too. Checks, for
 * SGD with momentum and Adam, in f32 and f64, with the default 25 MB
 * bucket and with 16 KB buckets (several, started during the sweep):
 * max |distributed - reference| <= 1e-5 (f32) and 1e-12 (f64), and every
 * rank holds the same bits. Then the faults: rank size-1 feeds a bad
 * shape at step 3, and every rank must return the same sentence naming it
 * (compared across ranks by hash); and the reductions for metrics.
 *
 * --attach: start MPI here and attach to MPI_COMM_WORLD (tg_dist_attach).
 * --no-mpirun: exit 77 (meson uses it where mpirun is not installed).
 */
#include <mpi.h>

#include "tg_test.h"

#define N 610
#define DIM 784
#define HID 100
#define BATCH 24

/* 100 steps; 10 under valgrind (TG_TEST_QUICK). */
static int STEPS = 100;

/* Random images; the label is the argmax of a fixed random linear map. */
static void make_data(tg_dataset *d) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_status s = tg_dataset_alloc(d, N, 1, (int64_t[]){DIM}, true);
    CHECK(s == TG_OK, "%s", err);
    if (s != TG_OK) return;
    tg_rng r;
    tg_rng_seed(&r, 7);
    static float w[10][DIM];
    for (int c = 0; c < 10; c++)
        for (int j = 0; j < DIM; j++) w[c][j] = (float)tg_rng_normal(&r);
    for (int64_t i = 0; i < N; i++) {
        float *x = d->x + i * DIM;
        for (int j = 0; j < DIM; j++) x[j] = (float)tg_rng_normal(&r);
        double best = -1e300;
        for (int c = 0; c < 10; c++) {
            double z = 0;
            for (int j = 0; j < DIM; j++) z += w[c][j] * x[j];
            if (z > best) best = z, d->y[i] = c;
        }
    }
    d->nclasses = 10;
}

typedef struct model {
    tg_params *ps;
    tg_sequential *net;
    tg_optim *opt;
} model;

static void model_new(model *m, tg_dtype dt, bool adam, uint64_t seed) {
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    m->ps = tg_params_new(dt);
    m->net = tg_mlp_new(m->ps, "mlp", (int64_t[]){DIM, HID, 10}, 3, TG_ACT_RELU, TG_ACT_NONE, &rng);
    tg_sgd_opts so = TG_SGD_DEFAULTS;
    so.momentum = 0.9;
    m->opt = adam ? tg_adam_new(m->ps, 1e-3, NULL) : tg_sgd_new(m->ps, 0.05, &so);
    CHECK(m->net && m->opt, "model: %s", tg_params_error(m->ps));
}

static void model_free(model *m) {
    tg_optim_free(m->opt);
    tg_params_free(m->ps);
}

/* One step on samples idx[0..n); returns the tape's status. */
static tg_status forward_backward(tg_tape *tape, model *m, const tg_dataset *d, int64_t n,
                                  const int64_t *idx, tg_dtype dt, bool bad) {
    tg_tensor *x = tg_dataset_batch_x(tape, d, n, idx, dt, true);
    if (bad) x = tg_reshape(x, 2, (int64_t[]){n * 2, DIM / 2}); /* wrong width for linear */
    tg_tensor *y = tg_dataset_batch_y(tape, d, n, idx);
    tg_tensor *loss = tg_cross_entropy(tg_sequential_forward(m->net, x), y, TG_REDUCE_MEAN,
                                       TG_IGNORE_INDEX, 0.0);
    tg_optim_zero_grad(m->opt);
    tg_backward(loss);
    return tg_tape_status(tape);
}

static void train_alone(model *m, const tg_dataset *d, tg_dtype dt) {
    tg_tape *tape = tg_tape_new();
    tg_batcher b;
    tg_batcher_init(&b, d, BATCH, true, 3);
    for (int step = 0; step < STEPS;) {
        const int64_t *idx;
        int64_t n = tg_batcher_next(&b, &idx);
        if (n == 0) continue;
        CHECK(forward_backward(tape, m, d, n, idx, dt, false) == TG_OK, "alone: %s",
              tg_tape_error(tape));
        tg_optim_step(m->opt);
        tg_tape_reset(tape);
        step++;
    }
    tg_batcher_free(&b);
    tg_tape_free(tape);
}

/* Trains distributed; returns the status of the first failed sync (and
 * stops there), or TG_OK. bad_rank feeds a bad shape at step bad_step. */
static tg_status train_dist(tg_dist *dist, model *m, const tg_dataset *d, tg_dtype dt,
                            size_t bucket, int bad_rank, int bad_step, int *early) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_ddp *g = tg_ddp_new(dist, m->ps, bucket);
    CHECK(g != NULL, "ddp_new: %s", err);
    if (!g) return TG_ERR_STATE;
    tg_tape *tape = tg_tape_new();
    tg_dist_batcher b;
    CHECK(tg_dist_batcher_init(&b, d, BATCH, true, 3, tg_dist_rank(dist), tg_dist_size(dist)) ==
              TG_OK,
          "%s", err);
    tg_status s = TG_OK;
    *early = 0;
    for (int step = 1; step <= STEPS;) {
        const int64_t *idx;
        int64_t n = tg_dist_batcher_next(&b, &idx, NULL);
        if (n == 0) continue;
        tg_ddp_begin(g, (double)n);
        forward_backward(tape, m, d, n, idx, dt, tg_dist_rank(dist) == bad_rank && step == bad_step);
        s = tg_ddp_sync(g, tape);
        if (s != TG_OK) break;
        /* Every bucket but the last starts during the sweep; the last
         * completes with the sweep and is reduced in tg_ddp_sync. */
        CHECK(tg_ddp_started_early(g) == tg_ddp_buckets(g) - 1,
              "step %d: %d of %d buckets started during the sweep (want all but the last)", step,
              tg_ddp_started_early(g), tg_ddp_buckets(g));
        if (tg_ddp_started_early(g) > *early) *early = tg_ddp_started_early(g);
        tg_optim_step(m->opt);
        tg_tape_reset(tape);
        step++;
    }
    tg_dist_batcher_free(&b);
    tg_tape_free(tape);
    tg_ddp_free(g);
    return s;
}

/* The largest |a - b| over the trainable tensors of two models. */
static double max_diff(const model *a, const model *b) {
    double worst = 0;
    for (int i = 0; i < tg_params_count(a->ps); i++)
        for (int64_t k = 0; k < tg_tensor_numel(tg_params_at(a->ps, i)); k++) {
            double e = fabs(tg_tensor_get(tg_params_at(a->ps, i), k) -
                            tg_tensor_get(tg_params_at(b->ps, i), k));
            if (!(e <= worst)) worst = e;
        }
    return worst;
}

/* Whether every rank holds exactly these values (max and min agree). */
static bool same_on_all(tg_dist *dist, const model *m) {
    bool same = true;
    for (int i = 0; i < tg_params_count(m->ps); i++) {
        tg_tensor *t = tg_params_at(m->ps, i);
        int64_t n = tg_tensor_numel(t);
        double *hi = malloc((size_t)n * sizeof *hi), *lo = malloc((size_t)n * sizeof *lo);
        for (int64_t k = 0; k < n; k++) hi[k] = lo[k] = tg_tensor_get(t, k);
        tg_dist_allreduce(dist, hi, (int)n, TG_DIST_MAX);
        tg_dist_allreduce(dist, lo, (int)n, TG_DIST_MIN);
        for (int64_t k = 0; k < n; k++) same = same && hi[k] == lo[k];
        free(hi);
        free(lo);
    }
    return same;
}

static void check_equal(tg_dist *dist, const tg_dataset *d, tg_dtype dt, bool adam,
                        size_t bucket) {
    int rank = tg_dist_rank(dist);
    model ref, m;
    model_new(&ref, dt, adam, 11);
    model_new(&m, dt, adam, 11 + (uint64_t)rank * 1000); /* rank 0's must win */
    CHECK(tg_dist_broadcast_params(dist, m.ps, true) == TG_OK, "%s", tg_last_error());
    CHECK(max_diff(&m, &ref) == 0, "the broadcast did not give rank 0's values");
    train_alone(&ref, d, dt);
    int early = 0;
    tg_status s = train_dist(dist, &m, d, dt, bucket, -1, 0, &early);
    CHECK(s == TG_OK, "train_dist: %s", tg_last_error());
    double diff = max_diff(&m, &ref), tol = dt == TG_F32 ? 1e-5 : 1e-12;
    CHECK(diff <= tol, "%s %s bucket %zu: max |dist - alone| = %g > %g", tg_dtype_name(dt),
          adam ? "adam" : "sgd", bucket, diff, tol);
    CHECK(same_on_all(dist, &m), "the ranks' parameters differ");
    if (bucket > 0 && bucket < 100000) CHECK(early >= 1, "no bucket started during the sweep");
    if (rank == 0)
        printf("%d ranks, %s, %s, bucket %zu: max |dist - alone| %.3g, buckets started early %d\n",
               tg_dist_size(dist), tg_dtype_name(dt), adam ? "Adam" : "SGD+momentum", bucket, diff,
               early);
    model_free(&ref);
    model_free(&m);
}

/* Rank size-1 fails at step 3: every rank must say the same sentence. */
static void check_fault(tg_dist *dist, const tg_dataset *d) {
    int size = tg_dist_size(dist), bad = size - 1;
    model m;
    model_new(&m, TG_F32, true, 11);
    tg_dist_broadcast_params(dist, m.ps, true);
    int early;
    tg_status s = train_dist(dist, &m, d, TG_F32, 0, bad, 3, &early);
    const char *e = tg_last_error();
    char want[64];
    snprintf(want, sizeof want, "dist: rank %d of %d failed at step 3: ", bad, size);
    CHECK(s == TG_ERR_SHAPE, "status %s: %s", tg_status_name(s), e);
    CHECK(strncmp(e, want, strlen(want)) == 0, "sentence \"%s\", expected to start \"%s\"", e, want);
    CHECK(strstr(e, "784") != NULL, "the failing rank's own error is missing: \"%s\"", e);
    uint64_t h = 1469598103934665603u;
    for (const char *c = e; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211u;
    double v[2] = {(double)(h >> 12), -(double)(h >> 12)};
    tg_dist_allreduce(dist, v, 2, TG_DIST_MAX);
    CHECK(v[0] == -v[1], "the ranks' sentences differ (this rank: \"%s\")", e);
    if (tg_dist_rank(dist) == 0) printf("fault agreed on every rank: %s\n", e);
    model_free(&m);
}

static void check_metrics(tg_dist *dist) {
    int r = tg_dist_rank(dist), p = tg_dist_size(dist);
    double v[3] = {(double)r, (double)r, (double)(r + 1)};
    CHECK(tg_dist_allreduce(dist, v, 1, TG_DIST_SUM) == TG_OK, "%s", tg_last_error());
    CHECK(tg_dist_allreduce(dist, v + 1, 1, TG_DIST_MAX) == TG_OK, "%s", tg_last_error());
    CHECK(tg_dist_allreduce(dist, v + 2, 1, TG_DIST_MIN) == TG_OK, "%s", tg_last_error());
    CHECK(v[0] == p * (p - 1) / 2.0 && v[1] == p - 1 && v[2] == 1, "sum %g max %g min %g", v[0],
          v[1], v[2]);
    CHECK(tg_dist_allreduce(dist, v, -1, TG_DIST_SUM) == TG_ERR_ARG, "n < 0 accepted");
    CHECK(tg_dist_barrier(dist) == TG_OK, "%s", tg_last_error());
}

int main(int argc, char **argv) {
    bool attach = argc > 1 && strcmp(argv[1], "--attach") == 0;
    if (argc > 1 && strcmp(argv[1], "--no-mpirun") == 0) {
        puts("dist_equal: mpirun is not installed: skipped");
        return 77;
    }
    tg_set_num_threads(1);
    if (getenv("TG_TEST_QUICK")) STEPS = 10;
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dist *dist = NULL;
    tg_status s;
    if (attach) {
        int provided;
        MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
        MPI_Comm world = MPI_COMM_WORLD;
        s = tg_dist_attach(&world, &dist);
    } else {
        s = tg_dist_init(&argc, &argv, &dist);
    }
    if (s != TG_OK) {
        fprintf(stderr, "dist_equal: %s\n", err);
        return 1;
    }
    tg_dataset d;
    make_data(&d);
    check_metrics(dist);
    for (int dt = 0; dt < 2; dt++)
        for (int adam = 0; adam < 2; adam++)
            check_equal(dist, &d, dt ? TG_F64 : TG_F32, adam, adam ? 16384 : 0);
    if (tg_dist_size(dist) > 1) check_fault(dist, &d);
    tg_dataset_free(&d);
    int rank = tg_dist_rank(dist);
    CHECK(tg_dist_finalize(dist) == TG_OK, "finalize");
    if (attach) MPI_Finalize();
    char area[32];
    snprintf(area, sizeof area, "dist_equal[%d]", rank);
    return TEST_DONE(area);
}
