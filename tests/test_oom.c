/* test_oom.c - allocation failure: a representative program (an MLP with
 * Adam, backward, optimizer steps, a checkpoint saved and loaded) is run
 * with the k-th allocation failing, for every k until it runs clean. Each run must
 * end with a clear out-of-memory error (or succeed), never crash, leak
 * nothing (valgrind and ASan check that), and leave the tape usable after a
 * reset. */
#include "tg_test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "fail_alloc.h"

/* The program: a tape, an MLP in a tg_params list (tg_mlp_new), an Adam
 * optimizer, two passes of forward, backward and tg_optim_step with a
 * reset between them, and a checkpoint of the model and the optimizer
 * state saved to a temporary directory and loaded back. Every failure
 * must be TG_ERR_NOMEM with a sentence saying "out of memory"; after an
 * error on the tape, the tape must work again after a reset. Returns the
 * status of the first failure (TG_OK for a clean run). */
static char ckpt_path[256];

static tg_status expect_nomem(tg_status st, const char *what, const char *msg) {
    CHECK(st == TG_ERR_NOMEM, "%s: status %s, expected out of memory: %s", what,
          tg_status_name(st), msg);
    CHECK(strstr(msg, "out of memory") != NULL, "%s: message \"%s\"", what, msg);
    return st;
}

/* After an error: the tape must work again after a reset (with the
 * allocator still failing at most once, this is done with it healthy). */
static void tape_usable_after_reset(tg_tape *t) {
    long saved = fail_at;
    fail_at = -1;
    tg_tape_reset(t);
    CHECK_OK(t);
    tg_tensor *a = tg_requires_grad(tg_full(t, TG_F64, TG_SHAPE(3), 2.0));
    tg_tensor *l = tg_sum(tg_mul(a, a));
    CHECK(tg_backward(l) == TG_OK, "backward after reset: %s", tg_tape_error(t));
    CHECK(a && tg_tensor_get(tg_tensor_grad(a), 1) == 4.0, "the gradient after reset");
    CHECK_OK(t);
    fail_at = saved;
}

static tg_status program(int *made) {
    tg_status st = TG_ERR_NOMEM;
    tg_tape *t = tg_tape_new();
    tg_params *ps = tg_params_new(TG_F32);
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_sequential *mlp = ps ? tg_mlp_new(ps, "mlp", (const int64_t[]){64, 256, 10}, 3,
                                         TG_ACT_RELU, TG_ACT_NONE, &rng)
                            : NULL;
    tg_optim *opt = mlp ? tg_adam_new(ps, 1e-3, NULL) : NULL;
    *made = t && ps && mlp && opt;
    if (ps && !mlp) expect_nomem(TG_ERR_NOMEM, "tg_mlp_new", tg_params_error(ps));
    if (!*made) goto out;
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    for (int pass = 0; pass < 2; pass++) {
        tg_tensor *x = tg_rand_normal(t, TG_F32, TG_SHAPE(128, 64), &rng, 0, 1);
        tg_tensor *y = tg_sequential_forward(mlp, x);
        tg_tensor *loss = tg_mean(tg_mul(y, y));
        tg_backward(loss);
        st = tg_tape_status(t); /* NULL loss: the tape knows why */
        if (st != TG_OK) {
            expect_nomem(st, "forward/backward", tg_tape_error(t));
            tape_usable_after_reset(t);
            break;
        }
        st = tg_optim_step(opt);
        if (st != TG_OK) {
            expect_nomem(st, "tg_optim_step", "out of memory (tg_optim_step has no message)");
            break;
        }
        tg_optim_zero_grad(opt);
        tg_tape_reset(t);
        CHECK_OK(t);
        if (pass == 0) {
            tg_params *lists[] = {ps, tg_optim_state(opt)};
            if (!lists[1]) {
                st = expect_nomem(TG_ERR_NOMEM, "tg_optim_state", "out of memory");
                break;
            }
            st = tg_checkpoint_save_params(ckpt_path, 2, lists, 0, NULL);
            if (st != TG_OK) {
                expect_nomem(st, "tg_checkpoint_save_params", err);
                break;
            }
            st = tg_checkpoint_load_params(ckpt_path, 2, lists, true);
            if (st != TG_OK) {
                expect_nomem(st, "tg_checkpoint_load_params", err);
                break;
            }
        }
    }
out:
    tg_optim_free(opt);
    tg_params_free(ps);
    tg_tape_free(t);
    return st;
}

/* Every layer constructor, with the k-th allocation of its own failing for
 * every k until it succeeds: each failure is NULL with a sentence saying
 * "out of memory" in tg_params_error (tg_module.h promises one). The list
 * is made with the allocator healthy, so the failure is the
 * constructor's. */
enum { N_LAYERS = 10 };
static const char *layer_names[N_LAYERS] = {
    "activation", "linear", "sequential", "mlp", "dropout",
    "conv2d", "embedding", "layernorm", "batchnorm", "linear (no bias)"};

static bool make_layer(int which, tg_params *ps, tg_rng *rng) {
    switch (which) {
    case 0: return tg_activation_new(ps, TG_ACT_TANH) != NULL;
    case 1: return tg_linear_new(ps, "fc", 3, 2, true, rng) != NULL;
    case 2: return tg_sequential_new(ps) != NULL;
    case 3:
        return tg_mlp_new(ps, "m", (const int64_t[]){4, 3, 2}, 3, TG_ACT_RELU, TG_ACT_SIGMOID,
                          rng) != NULL;
    case 4: return tg_dropout_new(ps, 0.5, rng) != NULL;
    case 5: return tg_conv2d_new(ps, "conv", 2, 4, 3, 3, NULL, true, rng) != NULL;
    case 6: return tg_embedding_new(ps, "emb", 10, 4, rng) != NULL;
    case 7: return tg_layernorm_new(ps, "ln", 1, (const int64_t[]){4}, 1e-5, true) != NULL;
    case 8: return tg_batchnorm_new(ps, "bn", 3, 1e-5, 0.1, true) != NULL;
    default: return tg_linear_new(ps, "fc", 3, 2, false, rng) != NULL;
    }
}

static void test_layer_oom(void) {
    for (int which = 0; which < N_LAYERS; which++) {
        long k, points = 0;
        for (k = 1; k < 1000; k++) {
            fail_at = -1;
            tg_params *ps = tg_params_new(TG_F32);
            tg_rng rng;
            tg_rng_seed(&rng, 1);
            calls = 0;
            fail_at = k;
            bool made = make_layer(which, ps, &rng);
            fail_at = -1;
            points++;
            if (calls < k) { /* nothing failed */
                CHECK(made && !tg_params_error(ps)[0], "%s: clean run: made %d, error \"%s\"",
                      layer_names[which], made, tg_params_error(ps));
                tg_params_free(ps);
                break;
            }
            CHECK(!made, "%s: allocation %ld failed, yet it returned a layer",
                  layer_names[which], k);
            CHECK(strstr(tg_params_error(ps), "out of memory") != NULL,
                  "%s: allocation %ld failed: error \"%s\"", layer_names[which], k,
                  tg_params_error(ps));
            tg_params_free(ps);
        }
        CHECK(points > 1, "%s allocates nothing (%ld points)", layer_names[which], points);
    }
}

int main(void) {
    char dir[] = "/dev/shm/tg_oom_XXXXXX", dir2[] = "/tmp/tg_oom_XXXXXX";
    const char *d = mkdtemp(dir);
    if (!d) d = mkdtemp(dir2);
    CHECK(d != NULL, "mkdtemp");
    if (!d) return TEST_DONE("oom");
    snprintf(ckpt_path, sizeof ckpt_path, "%s/oom.safetensors", d);
    tg_allocator a = {f_malloc, f_realloc, f_free, NULL};
    tg_set_allocator(&a);
    long k, points = 0, failed = 0;
    for (k = 1; k < 100000; k++) {
        fail_at = k;
        calls = 0;
        int made;
        int before = tg_test_fail;
        tg_status st = program(&made);
        points++;
        if (tg_test_fail != before) failed++;
        if (calls < k) { /* no allocation failed: the program ran clean */
            CHECK(st == TG_OK, "clean run failed: %s", tg_status_name(st));
            break;
        }
    }
    test_layer_oom();
    tg_set_allocator(NULL);
    unlink(ckpt_path);
    /* no temporaries left by failed saves */
    int left = 0;
    DIR *dd = opendir(d);
    struct dirent *e;
    while (dd && (e = readdir(dd)))
        if (e->d_name[0] != '.') left++, fprintf(stderr, "left over: %s\n", e->d_name);
    if (dd) closedir(dd);
    CHECK(left == 0, "%d files left in %s", left, d);
    rmdir(d);
    printf("oom: tried %ld allocation-failure points, %ld passed\n", points, points - failed);
    CHECK(points > 5, "the program allocates (%ld points)", points);
    return TEST_DONE("oom");
}
