/* record32_sketch.c - what 32-byte scalar records would buy: a measured
 * sketch for the design decision of issue 18 (rosenbrock_scalar,
 * "<= 32 B per recorded op"), not library code. The decision was taken
 * (tapegrad's scalar code records 32-byte halves since 2026-12-03:
 * tg_engine.h, "compact scalar records"); the sketch stays as the floor
 * of one layout without tapegrad's checks, which bench/README.md
 * ("rosenbrock_scalar: the record size") compares tapegrad against.
 *
 * When the sketch was written, tapegrad's record was 64 bytes for every
 * tensor (autograd/core/tg_engine.h): tape pointer, pass,
 * op/dtype/rank/flags, data and gradient pointers, shape, two inputs, the
 * inline value. A 0-d f64 record needs less:
 *
 *     value 8 | gradient 8 | second input or constant 8 | first input 4 | op 1 | flags 1 | 2 spare
 *
 * - the first input is a 32-bit index into the tape (slab << 16 | slot),
 *   resolved through the tape's slab table during the sweep;
 * - the tape is found from the record's address: slabs are 2 MiB, aligned
 *   to 2 MiB, with the tape pointer in a header of one 64-byte line;
 * - the pass (stale-handle check) moves from the record into the handle's
 *   high 16 bits (x86-64 and AArch64 user addresses fit in 48), so a handle
 *   is checked against the tape's pass, and one set of slabs serves every
 *   pass (today two sets alternate);
 * - the gradient starts at 0 when the record is made (a store the record
 *   makes anyway), so the sweep adds without testing.
 *
 * This program runs the extended Rosenbrock gradient of
 * bench_rosenbrock_scalar.c (n = 1e6, 8 recorded ops per term) once with
 * tapegrad's 0-d ops and once on the sketch's records, with the same checks
 * a public op makes on its operands (NULL, same tape, current pass,
 * requires-grad, recording on), alternating, medians of RUNS each, and
 * checks both gradients against the hand-written one.
 *
 *     build-perfbench/bench/record32_sketch [n]
 *
 * prints: record32_sketch: tapegrad <s> s (<B> B/op), sketch <s> s (32 B/op), ratio <r>
 * What the sketch leaves out, and a real change would need: every other
 * dtype and rank (a 0-d record handed to a tensor op must be readable as a
 * tg_tensor: a promotion record, or an accessor layer over both layouts),
 * marks and rollback (the handle's pass no longer tells a rolled-back slot),
 * names, hooks and the inspector, parameters. */
#include <tapegrad.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "record32_sketch.h"
#include "rosenbrock_scalar.h"

enum { RUNS = 9 };

static double tg_pass(tg_tape *tape, int n, const double *x0, tg_tensor **x, double *grad,
                      double *bytes_per_op) {
    tg_tape_reset(tape);
    return rosen_tg_pass(tape, n, x0, x, grad, bytes_per_op);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    if (n < 2) return 1;
    double *x0 = malloc((size_t)n * sizeof *x0), *g = malloc((size_t)n * sizeof *g);
    tg_tensor **xt = malloc((size_t)n * sizeof *xt);
    shandle *xs = malloc((size_t)n * sizeof *xs);
    if (!x0 || !g || !xt || !xs) return 1;
    for (int i = 0; i < n; i++) x0[i] = 0.5 + 0.4 * sin(i);
    tg_tape *tape = tg_tape_new();
    stape st = {.grad_enabled = true};
    double tt[RUNS], ts[RUNS], bpo = 0, e_tg = 0, e_s = 0;
    for (int r = -2; r < RUNS; r++) { /* two warm-up passes each: page the slabs in */
        double t0 = bench_now();
        tg_pass(tape, n, x0, xt, g, &bpo);
        double t1 = bench_now();
        e_tg = rosen_grad_error(n, x0, g);
        double t2 = bench_now();
        sketch_pass(&st, n, x0, xs, g);
        double t3 = bench_now();
        e_s = rosen_grad_error(n, x0, g);
        if (r >= 0) tt[r] = t1 - t0, ts[r] = t3 - t2;
    }
    double a = bench_median(tt, RUNS), b = bench_median(ts, RUNS);
    printf("record32_sketch: tapegrad %.4f s (%.0f B/op), sketch %.4f s (32 B/op), ratio %.3f\n",
           a, bpo, b, b / a);
    fprintf(stderr, "# record32_sketch: gradient error: tapegrad %.2g, sketch %.2g%s\n", e_tg,
            e_s, st.bad ? " (an operand check failed)" : "");
    bool ok = tg_tape_ok(tape) && !st.bad && e_tg <= 1e-12 && e_s <= 1e-12;
    tg_tape_free(tape);
    s_free(&st);
    free(x0), free(g), free(xt), free(xs);
    return !ok;
}
