/* grad_loop.c - evaluates one ADBench GMM or LSTM problem N times with
 * tapegrad alone (no peer, no output files), for profilers and
 * instruction counts (bench/README.md, "GMM: the sum of squares fused"):
 *
 *   adbench_grad_loop <gmm|lstm> <input.txt> <N> [what] [threads]
 *       what: 0 the plain-C objective, 1 tapegrad's objective (recording
 *       off), 2 (default) tapegrad's gradient. Prints the median CPU time
 *       of one evaluation (CLOCK_PROCESS_CPUTIME_ID, all threads), the
 *       median wall time, the objective and the first gradient entry.
 *       tapegrad on `threads` threads (default 1, as bench/adbench/main.c).
 *
 *   perf record build/bench/adbench_grad_loop gmm bench/adbench/data/gmm/gmm_d10_K25.txt 2000
 *   valgrind --tool=callgrind build/bench/adbench_grad_loop gmm <input> 15
 */
#include "adbench.h"
#include "adbench_peer.h"
#include "../peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "gmm") && strcmp(argv[1], "lstm")) || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: %s <gmm|lstm> <input.txt> <N> [0|1|2] [threads]\n", argv[0]);
        return 2;
    }
    bool lstm = !strcmp(argv[1], "lstm");
    int reps = atoi(argv[3]), what = argc > 4 ? atoi(argv[4]) : 2;
    int threads = argc > 5 ? atoi(argv[5]) : 1;
    char err[512] = "";
    adb_gmm g;
    adb_lstm s;
    memset(&g, 0, sizeof g), memset(&s, 0, sizeof s);
    bool ok = lstm ? adb_lstm_read(argv[2], &s, err, sizeof err)
                   : adb_gmm_read(argv[2], &g, err, sizeof err);
    if (!ok) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int np = lstm ? adb_lstm_nparams(&s) : adb_gmm_nparams(&g);
    tg_set_num_threads(threads > 0 ? threads : 1);
    tg_tape *tape = tg_tape_new();
    double f = 0, *grad = calloc((size_t)np, sizeof *grad), *t = malloc((size_t)reps * sizeof *t);
    double *tw = malloc((size_t)reps * sizeof *tw);
    ok = tape && grad && t && tw;
    for (int i = 0; ok && i < reps; i++) {
        double t0 = adb_cpu_now(), w0 = bench_now();
        if (what == 0) f = lstm ? adb_lstm_objective(&s) : adb_gmm_objective(&g);
        else if (lstm) ok = adb_lstm_grad(tape, &s, &f, what == 2 ? grad : NULL);
        else ok = adb_gmm_grad(tape, &g, &f, what == 2 ? grad : NULL);
        t[i] = adb_cpu_now() - t0;
        tw[i] = bench_now() - w0;
    }
    if (ok)
        printf("median %.4f ms  f=%.12e g0=%.12e  wall %.4f ms\n", 1e3 * bench_median(t, reps), f,
               grad[0], 1e3 * bench_median(tw, reps));
    else fprintf(stderr, "failed: %s\n", tape ? tg_tape_error(tape) : "out of memory");
    free(grad), free(t), free(tw);
    tg_tape_free(tape);
    if (lstm) adb_lstm_free(&s);
    else adb_gmm_free(&g);
    return ok ? 0 : 1;
}
