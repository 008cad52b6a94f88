/* bench_conv.c - a small convolutional network, forward and backward,
 * tapegrad against PyTorch in one run.
 *
 * A 32x1x28x28 f32 input through conv(1->32, 3x3) + relu + max_pool2d(2) +
 * conv(32->64, 3x3); loss = sum of the output; backward gives the four
 * parameters' gradients (the input does not require grad). One timed step
 * is: reset the tape, zero the gradients, forward, backward.
 *
 * tapegrad on 2 threads (tg_set_num_threads(2)); PyTorch (bench/conv_torch.py
 * --serve, run with /usr/bin/python3) over the grid of its settings
 * (bench/peer.h: torch threads {1, 2} x OPENBLAS_NUM_THREADS {1, 2} x
 * {default, tuned} malloc), keeping its best. The two sides alternate
 * (bench_alternate, bench/peer.h): ROUNDS rounds, each a block of RUNS
 * steps of every setting, so all are timed in the same minutes; each
 * setting's time is the median of its ROUNDS x RUNS steps. Prints exactly
 * one line on stdout:
 *   conv_fwd_bwd: tapegrad <ms> ms, torch <ms> ms, ratio <tapegrad/torch>
 * (details on stderr).
 *   meson setup build -Dbench=true && ninja -C build && build/bench/bench_conv
 * (the script's path is built in; another may be given as argv[1]).
 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer.h"
#include "steps.h"

#ifndef TG_BENCH_SRC
#define TG_BENCH_SRC "bench"
#endif

#define THREADS 2
#define ROUNDS 8   /* bench_alternate's rounds (bench/peer.h) */
#define RUNS 20    /* steps a block */
#define PAUSE 0.15 /* seconds before each block */
#define TG_BENCH_STR_(x) #x
#define TG_BENCH_STR(x) TG_BENCH_STR_(x)

static bench_cnn net;

static void step(void) {
    if (bench_cnn_step(&net) != TG_OK) {
        fprintf(stderr, "bench_conv: %s\n", tg_tape_error(net.tape));
        exit(1);
    }
}

/* bench_alternate's block: k steps (after one untimed) into t[0..k), in ms. */
static bool block(void *ctx, int config, int k, double *t) {
    (void)ctx, (void)config;
    step();
    for (int i = 0; i < k; i++) {
        double t0 = bench_now();
        step();
        t[i] = (bench_now() - t0) * 1e3;
    }
    return true;
}

int main(int argc, char **argv) {
    const char *script = argc > 1 ? argv[1] : TG_BENCH_SRC "/conv_torch.py";
    tg_set_num_threads(THREADS);
    if (!bench_cnn_init(&net)) return 1;
    for (int i = 0; i < 10; i++) step(); /* warm-up: the arena grows once */
    static const char *const name[1] = {TG_BENCH_STR(THREADS) " threads"};
    double tg_ms;
    double torch_ms = bench_alternate("conv_fwd_bwd", script, "", 1, name, block, NULL, ROUNDS,
                                      RUNS, RUNS, PAUSE, &tg_ms);
    if (torch_ms <= 0 || tg_ms <= 0) return 1;
    printf("conv_fwd_bwd: tapegrad %.3f ms, torch %.3f ms, ratio %.3f\n", tg_ms, torch_ms,
           tg_ms / torch_ms);
    bench_cnn_free(&net);
    return 0;
}
