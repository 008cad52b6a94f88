/* test_errors.c - the error rule (top of tapegrad.h): for one function of
 * each former convention (an op on a tape, a layer constructor, an
 * optimizer, the file and data set readers, a query on a stale tensor,
 * tg_dist), the failure value comes back AND tg_last_error() holds the
 * sentence; a success does not clear it, tg_clear_error does, and each
 * thread has its own. */
#include "tg_test.h"

#include <pthread.h>
#include <unistd.h>

/* The last error is status s and holds needle. */
#define CHECK_LAST(s, needle)                                                  \
    do {                                                                       \
        CHECK(tg_last_status() == (s), "last status %s, expected %s (%s)",     \
              tg_status_name(tg_last_status()), tg_status_name(s), tg_last_error()); \
        CHECK(strstr(tg_last_error(), (needle)) != NULL,                       \
              "last error \"%s\" lacks \"%s\"", tg_last_error(), (needle));    \
    } while (0)

static void test_op(void) {
    tg_tape *tape = tg_tape_new();
    tg_clear_error();
    tg_tensor *a = tg_zeros(tape, TG_F64, 2, (int64_t[]){2, 3});
    tg_tensor *b = tg_zeros(tape, TG_F64, 2, (int64_t[]){4, 2});
    tg_tensor *c = tg_matmul(a, b);
    CHECK(c == NULL, "matmul of [2,3] and [4,2] returned a tensor");
    CHECK_LAST(TG_ERR_SHAPE, "matmul");
    CHECK_LAST(TG_ERR_SHAPE, "[2,3]");
    CHECK(strcmp(tg_last_error(), tg_tape_error(tape)) == 0, "last \"%s\" and tape \"%s\" differ",
          tg_last_error(), tg_tape_error(tape));
    /* a chain of ops given the NULL keeps the root cause, and so does a
     * query given the NULL at its end */
    tg_tensor *s = tg_sum(tg_exp(c));
    CHECK(s == NULL && isnan(tg_item(s)) && tg_tensor_rank(s) == -1, "the chain after a failure");
    CHECK_LAST(TG_ERR_SHAPE, "matmul: ");
    /* a later failure of another kind on the failed tape is the new last */
    CHECK(tg_reshape(a, 1, (int64_t[]){7}) == NULL, "reshape [2,3] to [7]");
    CHECK_LAST(TG_ERR_SHAPE, "reshape");
    CHECK(strstr(tg_tape_error(tape), "matmul") != NULL, "the tape keeps its first: %s",
          tg_tape_error(tape));
    /* an op given NULL with no earlier failure says so */
    tg_clear_error();
    CHECK(tg_add(a, NULL) == NULL, "add with NULL");
    CHECK_LAST(TG_ERR_NULL, "add: operand 2 is NULL");
    tg_clear_error();
    CHECK(tg_exp(NULL) == NULL, "exp of NULL");
    CHECK_LAST(TG_ERR_NULL, "exp: operand 1 is NULL");
    /* an op whose operands are all parameters has no tape to record on:
     * the sentence names tg_param_on, which gives it one */
    tg_tensor *w = tg_param_new(TG_F64, 2, (int64_t[]){2, 2});
    CHECK(tg_reshape(w, 1, (int64_t[]){4}) == NULL, "reshape of a parameter alone");
    CHECK_LAST(TG_ERR_TAPE, "reshape: no operand is on a tape");
    CHECK(tg_mul(w, w) == NULL, "mul of two parameters alone");
    CHECK_LAST(TG_ERR_TAPE, "tg_param_on");
    CHECK(tg_mul(tg_param_on(tape, w), w) != NULL, "mul with tg_param_on: %s", tg_last_error());
    /* making a tensor with no tape says so */
    const char *makers[] = {"zeros: tape is NULL", "empty: tape is NULL", "scalar: tape is NULL",
                            "param_on: tape is NULL", "dataset_batch_x: tape is NULL"};
    for (int k = 0; k < 5; k++) {
        tg_clear_error();
        tg_tensor *r = k == 0   ? tg_zeros(NULL, TG_F32, 1, (int64_t[]){2})
                       : k == 1 ? tg_empty(NULL, TG_F32, 1, (int64_t[]){2})
                       : k == 2 ? tg_scalar(NULL, 1.0)
                       : k == 3 ? tg_param_on(NULL, w)
                                : tg_dataset_batch_x(NULL, NULL, 1, NULL, TG_F32, true);
        CHECK(r == NULL, "%s: returned a tensor", makers[k]);
        CHECK_LAST(TG_ERR_NULL, makers[k]);
    }
    CHECK(tg_backward(w) == TG_ERR_TAPE, "backward of a parameter alone");
    CHECK_LAST(TG_ERR_TAPE, "backward: operand 1 is a parameter, on no tape");
    tg_clear_error();
    CHECK(tg_backward(NULL) != TG_OK, "backward of NULL");
    CHECK_LAST(TG_ERR_NULL, "backward: operand 1 is NULL");
    tg_param_free(w);
    tg_tape_free(tape);
}

static void test_layer_and_optim(void) {
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_params *ps = tg_params_new(TG_F32);
    CHECK(tg_params_status(ps) == TG_OK && tg_params_error(ps)[0] == 0, "a new list is fine");
    tg_clear_error();
    CHECK(tg_linear_new(ps, "fc", 0, 3, true, &rng) == NULL, "linear with 0 inputs");
    CHECK_LAST(TG_ERR_ARG, "linear: in and out must be positive");
    CHECK(tg_params_status(ps) == TG_ERR_ARG, "params status %s",
          tg_status_name(tg_params_status(ps)));
    CHECK(strcmp(tg_params_error(ps), tg_last_error()) == 0, "params \"%s\", last \"%s\"",
          tg_params_error(ps), tg_last_error());
    /* an optimizer with lr NaN: the last error is its own, the list keeps its first */
    CHECK(tg_adam_new(ps, NAN, NULL) == NULL, "adam with lr NaN");
    CHECK_LAST(TG_ERR_ARG, "adam: ");
    CHECK_LAST(TG_ERR_ARG, "lr nan");
    CHECK(strstr(tg_params_error(ps), "linear") != NULL, "the list keeps its first: %s",
          tg_params_error(ps));
    tg_params_free(ps);

    /* set_lr NaN on a working optimizer */
    ps = tg_params_new(TG_F64);
    CHECK(tg_linear_new(ps, "fc", 2, 3, true, &rng) != NULL, "linear 2->3: %s", tg_last_error());
    tg_optim *opt = tg_sgd_new(ps, 0.1, NULL);
    CHECK(opt != NULL, "sgd: %s", tg_last_error());
    tg_clear_error();
    CHECK(tg_optim_set_lr(opt, NAN) == TG_ERR_ARG && tg_optim_lr(opt) == 0.1, "set_lr NaN");
    CHECK_LAST(TG_ERR_ARG, "set_lr");
    CHECK(tg_params_status(ps) == TG_ERR_ARG && strstr(tg_params_error(ps), "set_lr"),
          "the list keeps set_lr's error: %s", tg_params_error(ps));
    tg_optim_free(opt);
    opt = tg_lbfgs_new(ps, 1.0, NULL);
    CHECK(opt && tg_optim_step(opt) == TG_ERR_STATE, "optim_step on L-BFGS");
    CHECK_LAST(TG_ERR_STATE, "lbfgs: step: use tg_lbfgs_step");
    CHECK(tg_optim_step(NULL) == TG_ERR_NULL, "optim_step(NULL)");
    CHECK_LAST(TG_ERR_NULL, "optim_step: the optimizer is NULL");
    tg_optim_free(opt);
    tg_params_free(ps);
    CHECK(tg_params_status(NULL) == TG_ERR_NULL, "params status of NULL");
    CHECK(tg_params_new(TG_I64) == NULL, "params of i64");
    CHECK_LAST(TG_ERR_ARG, "params_new: dtype i64");
    CHECK(tg_linear_new(NULL, "fc", 2, 3, true, &rng) == NULL, "linear without a list");
    CHECK_LAST(TG_ERR_NULL, "linear: NULL parameter list");
}

/* Schedulers and L-BFGS: each way to fail leaves its sentence. */
static void test_sched_and_lbfgs(void) {
    tg_params *ps = tg_params_new(TG_F64);
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    CHECK(tg_linear_new(ps, "fc", 2, 1, true, &rng) != NULL, "linear: %s", tg_last_error());
    tg_optim *opt = tg_sgd_new(ps, 0.1, NULL);
    CHECK(opt != NULL, "sgd: %s", tg_last_error());
    tg_clear_error();
    CHECK(tg_sched_steplr_new(opt, 0, 0.5) == NULL, "steplr with step_size 0");
    CHECK_LAST(TG_ERR_ARG, "sched_steplr: step_size must be > 0");
    CHECK(tg_sched_exponential_new(opt, NAN) == NULL, "exponential with gamma NaN");
    CHECK_LAST(TG_ERR_ARG, "sched_exponential: gamma must be >= 0");
    CHECK(tg_sched_cosine_new(opt, 10, -1) == NULL, "cosine with eta_min -1");
    CHECK_LAST(TG_ERR_ARG, "sched_cosine");
    CHECK(tg_sched_warmup_new(opt, 0, 1, 5) == NULL, "warmup from factor 0");
    CHECK_LAST(TG_ERR_ARG, "sched_warmup");
    CHECK(tg_sched_multistep_new(opt, 2, NULL, 0.1) == NULL, "multistep without milestones");
    CHECK_LAST(TG_ERR_ARG, "sched_multistep");
    tg_plateau_opts po = TG_PLATEAU_DEFAULTS;
    po.factor = 1.5;
    CHECK(tg_sched_plateau_new(opt, &po) == NULL, "plateau with factor 1.5");
    CHECK_LAST(TG_ERR_ARG, "sched_plateau");
    CHECK(tg_sched_steplr_new(NULL, 3, 0.5) == NULL, "steplr without an optimizer");
    CHECK_LAST(TG_ERR_NULL, "sched_steplr: NULL optimizer");
    CHECK(isnan(tg_sched_step(NULL)), "sched_step(NULL)");
    CHECK_LAST(TG_ERR_NULL, "sched_step: NULL scheduler");
    tg_sched *s = tg_sched_steplr_new(opt, 3, 0.5);
    CHECK(s != NULL, "steplr: %s", tg_last_error());
    tg_clear_error();
    CHECK(tg_sched_step(s) == 0.1, "a good step");
    CHECK(tg_last_status() == TG_OK, "a good step wrote \"%s\"", tg_last_error());
    tg_sched_free(s);
    CHECK(isnan(tg_lbfgs_step(opt, NULL, NULL)), "lbfgs_step without a closure");
    CHECK_LAST(TG_ERR_NULL, "lbfgs_step: NULL closure");
    CHECK(isnan(tg_lbfgs_step(NULL, NULL, NULL)), "lbfgs_step(NULL)");
    CHECK_LAST(TG_ERR_NULL, "lbfgs_step: NULL optimizer");
    CHECK(isnan(tg_clip_grad_norm(ps, 1.0, 0)), "clip_grad_norm with norm_type 0");
    CHECK_LAST(TG_ERR_ARG, "clip_grad_norm: norm_type 0");
    CHECK(tg_optim_state(NULL) == NULL, "optim_state(NULL)");
    CHECK_LAST(TG_ERR_NULL, "optim_state: NULL optimizer");
    tg_optim_free(opt);
    tg_params_free(ps);
}

static void test_files(void) {
    tg_dataset d;
    tg_clear_error();
    CHECK(tg_mnist_load_dir("/nonexistent-tg-dir", true, &d) == TG_ERR_IO, "mnist dir missing");
    CHECK_LAST(TG_ERR_IO, "/nonexistent-tg-dir/train-images-idx3-ubyte");
    CHECK_LAST(TG_ERR_IO, "cannot open");
    CHECK(d.n == 0 && d.x == NULL, "the data set is left empty");

    tg_clear_error();
    CHECK(tg_csv_read("/nonexistent-tg.csv", NULL, &d) == TG_ERR_IO, "csv missing");
    CHECK_LAST(TG_ERR_IO, "/nonexistent-tg.csv");

    tg_tensor *w = tg_param_new(TG_F32, 1, (int64_t[]){3});
    const char *names[] = {"w"};
    tg_clear_error();
    CHECK(tg_checkpoint_load("/nonexistent-tg.safetensors", 1, names, &w, true) == TG_ERR_IO,
          "checkpoint missing");
    CHECK_LAST(TG_ERR_IO, "checkpoint '/nonexistent-tg.safetensors': cannot open");
    tg_checkpoint *ck = (tg_checkpoint *)&d;
    CHECK(tg_checkpoint_open(NULL, &ck) == TG_ERR_NULL && ck == NULL, "open NULL path");
    CHECK_LAST(TG_ERR_NULL, "checkpoint open: path is NULL");

    /* a success writes no error and clears none */
    char path[256];
    snprintf(path, sizeof path, "%s/tg_errors_%ld.safetensors",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    CHECK(tg_checkpoint_save(path, 1, names, &w, 0, NULL) == TG_OK, "save: %s", tg_last_error());
    CHECK(tg_checkpoint_load(path, 1, names, &w, true) == TG_OK, "load: %s", tg_last_error());
    CHECK_LAST(TG_ERR_NULL, "checkpoint open: path is NULL");
    unlink(path);
    tg_param_free(w);
}

static void test_queries(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_full(tape, TG_F64, 1, (int64_t[]){3}, 2.0);
    tg_tape_reset(tape);
    tg_clear_error();
    CHECK(tg_tensor_rank(x) == -1, "rank of a stale tensor");
    CHECK_LAST(TG_ERR_STALE, "tensor_rank: the tensor is stale");
    CHECK(tg_tensor_numel(x) == -1, "numel of a stale tensor");
    CHECK_LAST(TG_ERR_STALE, "tensor_numel: ");
    CHECK(tg_tensor_dim(x, 0) == -1, "dim of a stale tensor");
    CHECK_LAST(TG_ERR_STALE, "tensor_dim: ");
    CHECK(isnan(tg_tensor_get(x, 0)), "get of a stale tensor");
    CHECK_LAST(TG_ERR_STALE, "tensor_get: ");
    CHECK(tg_tensor_f64(x) == NULL && tg_tensor_shape(x) == NULL, "data, shape of a stale tensor");
    CHECK_LAST(TG_ERR_STALE, "tensor_shape: ");
    CHECK(isnan(tg_item(x)), "item of a stale tensor");
    CHECK_LAST(TG_ERR_STALE, "item: the tensor is stale");
    CHECK(tg_tape_status(tape) == TG_ERR_STALE, "item records on the tape: %s",
          tg_tape_error(tape));
    tg_tape_reset(tape);

    tg_clear_error();
    CHECK(tg_tensor_numel(NULL) == -1, "numel of NULL");
    CHECK_LAST(TG_ERR_NULL, "tensor_numel: the tensor is NULL");
    tg_tensor *y = tg_full(tape, TG_F64, 1, (int64_t[]){3}, 2.0);
    CHECK(tg_tensor_dim(y, 1) == -1, "dim 1 of a rank-1 tensor");
    CHECK_LAST(TG_ERR_ARG, "tensor_dim: axis 1 is out of range for rank 1");
    CHECK(isnan(tg_tensor_get(y, 3)), "get past the end");
    CHECK_LAST(TG_ERR_ARG, "tensor_get: index 3 is out of range for 3 elements");
    /* successful queries and a probe of another dtype leave it as it is */
    CHECK(tg_tensor_rank(y) == 1 && tg_tensor_numel(y) == 3 && tg_tensor_get(y, 2) == 2.0 &&
              tg_tensor_f32(y) == NULL && tg_tensor_f64(y) != NULL,
          "queries on a live tensor");
    CHECK(tg_add(y, y) != NULL, "add: %s", tg_tape_error(tape));
    CHECK_LAST(TG_ERR_ARG, "tensor_get: index 3");
    tg_tape_free(tape);
}

static void test_dist(void) {
    tg_clear_error();
    if (tg_dist_available()) {
        /* refused before MPI starts */
        CHECK(tg_dist_init(NULL, NULL, NULL) == TG_ERR_NULL, "dist_init without a handle pointer");
        CHECK_LAST(TG_ERR_NULL, "dist_init: NULL handle pointer");
    } else {
        tg_dist *d = NULL;
        CHECK(tg_dist_init(NULL, NULL, &d) == TG_ERR_STATE && d == NULL, "dist_init without MPI");
        CHECK_LAST(TG_ERR_STATE, "dist: tapegrad was built without MPI");
    }
    tg_clear_error();
    tg_params *ps = tg_params_new(TG_F32);
    CHECK(tg_ddp_new(NULL, ps, 0) == NULL, "ddp_new without a handle");
    CHECK(tg_last_status() != TG_OK && tg_last_error()[0] != 0, "ddp_new: %s (%s)",
          tg_last_error(), tg_status_name(tg_last_status()));
    tg_params_free(ps);
}

static void test_clear_and_set(void) {
    tg_set_last_error(TG_ERR_FORMAT, "mylib: field %d is bad", 3);
    CHECK_LAST(TG_ERR_FORMAT, "mylib: field 3 is bad");
    tg_clear_error();
    CHECK(tg_last_status() == TG_OK && tg_last_error()[0] == 0, "cleared: %s", tg_last_error());
    tg_set_last_error(TG_OK, "no status");
    CHECK(tg_last_status() == TG_ERR_STATE, "a failure is never ok");
    /* a long sentence is cut to 511 bytes and terminated */
    char longs[1200];
    memset(longs, 'y', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    tg_set_last_error(TG_ERR_ARG, "%s", longs);
    CHECK(strlen(tg_last_error()) == 511, "length %zu", strlen(tg_last_error()));
    /* the same buffer, read through the pointer, follows the next failure */
    const char *p = tg_last_error();
    tg_set_last_error(TG_ERR_IO, "io");
    CHECK(p == tg_last_error() && strcmp(p, "io") == 0, "the buffer: \"%s\"", p);
    tg_clear_error();
}

/* ------------------------------------------------------------- threads */

static pthread_barrier_t both_failed;

typedef struct job {
    int which;
    int ok; /* 1 when the thread saw only its own sentence */
} job;

static void *work(void *arg) {
    job *j = arg;
    tg_clear_error();
    bool failed;
    if (j->which == 0) {
        tg_tape *t = tg_tape_new();
        failed = tg_matmul(tg_zeros(t, TG_F32, 2, (int64_t[]){2, 3}),
                           tg_zeros(t, TG_F32, 2, (int64_t[]){2, 3})) == NULL;
        tg_tape_free(t);
    } else {
        tg_dataset d;
        failed = tg_mnist_load_dir("/nonexistent-tg-thread", false, &d) == TG_ERR_IO;
    }
    pthread_barrier_wait(&both_failed); /* both wrote before either reads */
    const char *want = j->which == 0 ? "matmul" : "/nonexistent-tg-thread";
    const char *other = j->which == 0 ? "nonexistent" : "matmul";
    tg_status s = j->which == 0 ? TG_ERR_SHAPE : TG_ERR_IO;
    j->ok = failed && tg_last_status() == s && strstr(tg_last_error(), want) &&
            !strstr(tg_last_error(), other);
    if (!j->ok) fprintf(stderr, "thread %d: \"%s\"\n", j->which, tg_last_error());
    return NULL;
}

static void test_threads(void) {
    tg_set_last_error(TG_ERR_ARG, "main thread");
    job jobs[2] = {{0, 0}, {1, 0}};
    pthread_t th[2];
    int started = 0;
    if (pthread_barrier_init(&both_failed, NULL, 2) != 0) {
        CHECK(0, "pthread_barrier_init");
        return;
    }
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, work, &jobs[i]) == 0) started++;
    CHECK(started == 2, "started %d threads", started);
    if (started < 2) return; /* a lone thread would wait on the barrier forever: joined by exit */
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&both_failed);
    CHECK(jobs[0].ok && jobs[1].ok, "each thread sees its own last error");
    CHECK_LAST(TG_ERR_ARG, "main thread");
}

/* Printing and drawing a tape record nothing on it: their failures say
 * why in the last error (they returned a bare status before). */
static void test_inspection(void) {
    tg_tape *t = tg_tape_new(), *u = tg_tape_new();
    tg_tensor *x = tg_requires_grad(tg_scalar(t, 1.5));
    tg_tensor *s = tg_mul(x, x);
    tg_tape_reset(t);
    tg_tensor *y = tg_requires_grad(tg_scalar(t, 2.0)), *f = tg_mul(y, y);
    tg_clear_error();
    CHECK(tg_tape_write_dot(t, s, stdout) == TG_ERR_ARG, "dot from a stale tensor");
    CHECK_LAST(TG_ERR_ARG, "tape_write_dot: the tensor to draw from is stale");
    tg_clear_error();
    CHECK(tg_tape_sprint_dot(t, s, NULL, 0) == 0, "sprint_dot from a stale tensor");
    CHECK_LAST(TG_ERR_ARG, "tape_sprint_dot: the tensor to draw from is stale");
    tg_tensor *v = tg_scalar(u, 1);
    CHECK(tg_tape_sprint_dot(t, v, NULL, 0) == 0, "sprint_dot from another tape's tensor");
    CHECK_LAST(TG_ERR_ARG, "tape_sprint_dot: the tensor to draw from is on another tape");
    tg_clear_error();
    CHECK(tg_tape_write_html(t, s, "never.html", NULL) == TG_ERR_ARG, "html of a stale out");
    CHECK_LAST(TG_ERR_ARG, "tape_write_html: out is stale");
    CHECK(tg_tape_write_html(t, f, "never.html", NULL) == TG_ERR_STATE, "html before backward");
    CHECK_LAST(TG_ERR_STATE, "tape_write_html: out has no gradient on this pass");
    CHECK(tg_backward(f) == TG_OK, "backward");
    CHECK(tg_tape_write_html(t, f, "/nonexistent-dir/x.html", NULL) == TG_ERR_IO, "html to nowhere");
    CHECK_LAST(TG_ERR_IO, "tape_write_html: cannot open /nonexistent-dir/x.html");
    tg_clear_error();
    CHECK(tg_tape_print(NULL, stdout) == TG_ERR_NULL && tg_tape_sprint(NULL, NULL, 0) == 0,
          "print a NULL tape");
    CHECK_LAST(TG_ERR_NULL, "tape_print: tape is NULL");
    /* a seed of the right shape and another dtype: the sentence names both */
    tg_clear_error();
    CHECK(tg_backward_seed(f, tg_scalar_as(t, TG_F32, 1)) == TG_ERR_SHAPE, "seed dtype");
    CHECK_LAST(TG_ERR_SHAPE, "backward: seed gradient f32 [] does not match the output f64 []");
    tg_tape_free(t);
    tg_tape_free(u);
}

int main(void) {
    test_inspection();
    test_op();
    test_layer_and_optim();
    test_sched_and_lbfgs();
    test_files();
    test_queries();
    test_dist();
    test_clear_and_set();
    test_threads();
    return TEST_DONE("errors");
}
