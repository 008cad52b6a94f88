/* conv_parts.c - bench_conv's step cut into its parts, for comparing two
 * builds: the CPU time of conv1 and conv2 alone (forward, and backward with
 * the sum that seeds it) and of the whole step (forward, backward), each a
 * median of 41 steps after 5 untimed ones.
 *
 *   conv_parts [threads]     (default 1)
 *
 * On one thread the times are the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), which a loaded machine disturbs less than the
 * wall clock; on more, wall time (the other threads' CPU is not the
 * caller's). Prints one line per part, in ms. */
#include <tapegrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "steps.h"

#define STEPS 41
#define PARTS 6

static double clock_of(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int th = argc > 1 ? atoi(argv[1]) : 1;
    clockid_t id = th > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
    tg_set_num_threads(th);
    bench_cnn c;
    if (!bench_cnn_init(&c)) return 1;
    tg_rng r;
    tg_rng_seed(&r, 2);
    float *x2 = malloc(sizeof(float) * 32 * 32 * 13 * 13); /* conv2's input alone */
    if (!x2) return 1;
    for (int i = 0; i < 32 * 32 * 13 * 13; i++) x2[i] = (float)tg_rng_normal(&r);
    static double t[PARTS][STEPS];
    for (int it = 0; it < STEPS + 5; it++) {
        double s[PARTS], c0, c1, c2, c3;
        tg_tape *tp = c.tape;
        tg_tape_reset(tp); /* conv1 alone: x needs no gradient, as in the step */
        tg_tensor *x = tg_tensor_new(tp, TG_F32, TG_SHAPE(32, 1, 28, 28), c.x);
        c0 = clock_of(id);
        tg_tensor *y = tg_conv2d(x, c.w1, c.b1, NULL);
        c1 = clock_of(id);
        tg_tensor *l = tg_sum(y);
        c2 = clock_of(id);
        tg_backward(l);
        c3 = clock_of(id);
        s[0] = c1 - c0, s[1] = c3 - c1;
        tg_tape_reset(tp); /* conv2 alone: its input needs a gradient, as in the step */
        x = tg_requires_grad(tg_tensor_new(tp, TG_F32, TG_SHAPE(32, 32, 13, 13), x2));
        c0 = clock_of(id);
        y = tg_conv2d(x, c.w2, c.b2, NULL);
        c1 = clock_of(id);
        tg_backward(tg_sum(y));
        c3 = clock_of(id);
        s[2] = c1 - c0, s[3] = c3 - c1;
        tg_tape_reset(tp); /* the step */
        tg_zero_grad(c.w1), tg_zero_grad(c.b1), tg_zero_grad(c.w2), tg_zero_grad(c.b2);
        c0 = clock_of(id);
        x = tg_tensor_new(tp, TG_F32, TG_SHAPE(32, 1, 28, 28), c.x);
        tg_tensor *h = tg_relu(tg_conv2d(x, c.w1, c.b1, NULL));
        h = tg_max_pool2d(h, &(tg_pool_opts){.kernel = {2, 2}});
        y = tg_conv2d(h, c.w2, c.b2, NULL);
        c1 = clock_of(id);
        tg_backward(tg_sum(y));
        c2 = clock_of(id);
        s[4] = c1 - c0, s[5] = c2 - c1;
        if (!tg_tape_ok(tp)) {
            fprintf(stderr, "conv_parts: %s\n", tg_tape_error(tp));
            return 1;
        }
        if (it >= 5)
            for (int k = 0; k < PARTS; k++) t[k][it - 5] = s[k];
    }
    const char *name[PARTS] = {"conv1 forward", "conv1 backward (+ sum)", "conv2 forward",
                               "conv2 backward (+ sum)", "step forward", "step backward"};
    for (int k = 0; k < PARTS; k++) {
        qsort(t[k], STEPS, sizeof(double), cmp);
        printf("%-24s %.3f ms\n", name[k], t[k][STEPS / 2] * 1e3);
    }
    printf("%-24s %.3f ms (%s, %d thread%s)\n", "step", (t[4][STEPS / 2] + t[5][STEPS / 2]) * 1e3,
           th > 1 ? "wall" : "thread CPU", th, th > 1 ? "s" : "");
    bench_cnn_free(&c);
    free(x2);
    return 0;
}
