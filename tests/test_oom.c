/* test_oom.c - allocation failure: a representative program is run with the
 * k-th allocation failing, for every k until it runs clean. Each run must
 * end with a clear out-of-memory error (or succeed), never crash, leak
 * nothing (valgrind and ASan check that), and leave the tape usable after a
 * reset. */
#include "tg_test.h"

static long fail_at, calls;
static void *f_malloc(size_t n, void *ud) {
    (void)ud;
    return ++calls == fail_at ? NULL : malloc(n);
}
static void *f_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    return ++calls == fail_at ? NULL : realloc(p, n);
}
static void f_free(void *p, void *ud) { (void)ud; free(p); }

/* The program: a tape, parameters, an MLP-like forward (big enough to
 * grow the arenas), backward, a hand-written SGD step, a reset and a
 * second pass. Returns the status; *made tells whether setup succeeded. */
static tg_status program(int *made) {
    tg_tape *t = tg_tape_new();
    tg_tensor *w1 = tg_param_new(TG_F32, TG_SHAPE(64, 256));
    tg_tensor *w2 = tg_param_new(TG_F32, TG_SHAPE(256, 10));
    tg_status st = TG_ERR_NOMEM;
    *made = t && w1 && w2;
    if (!*made) goto out;
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    for (int pass = 0; pass < 2; pass++) {
        tg_tensor *x = tg_rand_normal(t, TG_F32, TG_SHAPE(128, 64), &rng, 0, 1);
        tg_tensor *h = tg_relu(tg_matmul(x, w1));
        tg_tensor *y = tg_matmul(h, w2);
        tg_tensor *loss = tg_mean(tg_mul(y, y));
        tg_backward(loss);
        st = tg_tape_status(t); /* NULL loss: the tape knows why */
        if (st != TG_OK) {
            /* the error is a clear sentence, and the tape works after reset */
            CHECK(st == TG_ERR_NOMEM, "status %s: %s", tg_status_name(st), tg_tape_error(t));
            CHECK(strstr(tg_tape_error(t), "out of memory") != NULL, "message: %s", tg_tape_error(t));
            break;
        }
        float *p = tg_tensor_f32(w1), *g = tg_tensor_f32(tg_tensor_grad(w1));
        for (int i = 0; i < 64 * 256; i++) p[i] -= 0.01f * g[i];
        tg_tape_reset(t);
        CHECK_OK(t);
    }
out:
    tg_param_free(w1);
    tg_param_free(w2);
    tg_tape_free(t);
    return st;
}

int main(void) {
    tg_allocator a = {f_malloc, f_realloc, f_free, NULL};
    tg_set_allocator(&a);
    long k, points = 0;
    for (k = 1; k < 100000; k++) {
        fail_at = k;
        calls = 0;
        int made;
        tg_status st = program(&made);
        points++;
        if (calls < k) { /* no allocation failed: the program ran clean */
            CHECK(st == TG_OK, "clean run failed: %s", tg_status_name(st));
            break;
        }
    }
    tg_set_allocator(NULL);
    printf("oom: tried %ld allocation-failure points\n", points);
    CHECK(points > 5, "the program allocates (%ld points)", points);
    return TEST_DONE("oom");
}
