/* test_threads.c - the promise of tg_autograd.h's "Threads" section: two
 * threads, each with its own tape and parameters, record, sweep and reset
 * at the same time and get the results of one thread alone, to 1e-12 (a
 * large op runs on the pool or, while the other thread holds it, inline:
 * a reduction may then add in another order). No timing. */
#include <pthread.h>

#include "tg_test.h"

enum { ROUNDS = 20, N = 96 }; /* a 96x96 matmul is large enough for the pool */

typedef struct job {
    uint64_t seed;
    double loss[ROUNDS], gsum[ROUNDS];
    int err;
} job;

/* loss = mean(tanh(x @ w) ^ 2) + sum(w * w) / 2, the gradient of w summed */
static void *work(void *arg) {
    job *j = arg;
    tg_rng rng;
    tg_rng_seed(&rng, j->seed);
    tg_tape *t = tg_tape_new();
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(N, N));
    if (!t || !w) {
        j->err = 1;
        return NULL;
    }
    double *wd = tg_tensor_f64(w);
    for (int i = 0; i < N * N; i++) wd[i] = tg_rng_normal(&rng) * 0.1;
    for (int r = 0; r < ROUNDS; r++) {
        tg_zero_grad(w);
        tg_tensor *x = tg_rand_normal(t, TG_F64, TG_SHAPE(N, N), &rng, 0, 1);
        tg_tensor *h = tg_tanh(tg_matmul(x, w));
        tg_tensor *loss = tg_add(tg_mean(tg_mul(h, h)),
                                 tg_mul_scalar(tg_sum(tg_square(tg_param_on(t, w))), 0.5));
        if (tg_backward(loss) != TG_OK || tg_simd_level() != tg_simd_level()) j->err = 1;
        j->loss[r] = tg_item(loss);
        const double *g = tg_tensor_f64(tg_tensor_grad(w));
        j->gsum[r] = 0;
        for (int i = 0; g && i < N * N; i++) j->gsum[r] += g[i];
        if (!g) j->err = 1;
        if (!tg_tape_ok(t)) j->err = 1;
        tg_tape_reset(t);
    }
    tg_param_free(w);
    tg_tape_free(t);
    return NULL;
}

int main(void) {
    job alone[2] = {{.seed = 1}, {.seed = 2}}, both[2] = {{.seed = 1}, {.seed = 2}};
    work(&alone[0]);
    work(&alone[1]);
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, work, &both[i]) == 0) started++;
    CHECK(started == 2, "two threads started");
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < started; i++) {
        CHECK(!alone[i].err && !both[i].err, "thread %d: no error", i);
        int same = 0;
        for (int r = 0; r < ROUNDS; r++)
            same += fabs(alone[i].loss[r] - both[i].loss[r]) <= 1e-12 * fabs(alone[i].loss[r]) &&
                    fabs(alone[i].gsum[r] - both[i].gsum[r]) <= 1e-12 * (1 + fabs(alone[i].gsum[r]));
        CHECK(same == ROUNDS, "thread %d: %d of %d rounds as alone (loss %.17g vs %.17g)", i,
              same, ROUNDS, alone[i].loss[0], both[i].loss[0]);
    }
    CHECK(alone[0].loss[0] != alone[1].loss[0], "the two jobs differ");
    return TEST_DONE("threads");
}
