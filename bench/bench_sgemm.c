/* bench_sgemm.c - tapegrad's sgemm against OpenBLAS's, in one run.
 *
 * C = A @ B (A m x k, B k x n, row-major, f32) for the squares n = 256,
 * 512, 1024, 2048, the odd squares 1000 and 1023, and the MLP's first layer
 * 64x784x100 (m x k x n). tapegrad through its public tg_matmul (A and B
 * are parameters, the product goes on a tape reset before each call, so
 * what is timed is the GEMM plus the few nanoseconds of the op). Each side
 * at its best of 1 and 2 threads (tg_set_num_threads,
 * openblas_set_num_threads), the winners on stderr. Each side's time is the
 * median of ROUNDS batch means (a batch lasts at least 0.15 s), the rounds
 * interleaved so that both see the same machine state. One line per shape:
 *   sgemm_<n or mxkxn>: tapegrad <GFLOP/s>, openblas <GFLOP/s>, ratio <tapegrad/openblas>
 *
 * OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS when it loads,
 * before main. If the environment forces a core type (some set Haswell,
 * which halves it on AVX-512 machines) or another thread count, the program
 * fixes the environment and executes itself again, so both libraries get
 * their best kernels and the comparison is fair.
 *
 * In a -Dblas=enabled build (bench/meson.build defines TG_BENCH_BLAS),
 * tapegrad's GEMM is OpenBLAS itself, set to one thread and run on
 * tapegrad's two (ops/kernels/gemm.c): the program then sets OpenBLAS's
 * thread count before each side's batch, 1 for tapegrad and 1 or 2 for the
 * peer, and the ratio measures that threading against OpenBLAS's own.
 */
#include <tapegrad.h>

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

void openblas_set_num_threads(int n); /* OpenBLAS extensions */
char *openblas_get_corename(void);

#define THREADS 2
/* 9 rounds: with 5, three slow batches of one side in a row (the VM
 * takes a core away for a second or two) set its median; measured
 * 2026-12-03 (bench/README.md, "Peers at their best"). */
#define ROUNDS 9

static tg_tape *tape;
static tg_tensor *pa, *pb; /* (m, k) and (k, n) parameters holding A and B */
static int M, K, N;         /* the shape being timed */
static int ob_threads;      /* OpenBLAS's thread count for run_ob */

static void run_tg(const float *A, const float *B, float *C) {
    (void)A, (void)B;
    tg_tape_reset(tape);
    tg_tensor *c = tg_matmul(tg_param_on(tape, pa), tg_param_on(tape, pb));
    if (!c) {
        fprintf(stderr, "tg_matmul failed: %s\n", tg_tape_error(tape));
        exit(1);
    }
    if (C) memcpy(C, tg_tensor_data(c), (size_t)M * (size_t)N * sizeof(float));
}

static void run_ob(const float *A, const float *B, float *C) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f,
                C, N);
}

/* Seconds per call: the mean over a batch lasting at least `budget`. */
static double time_batch(void (*f)(const float *, const float *, float *), const float *A,
                         const float *B, float *C, double budget) {
#if defined(TG_BENCH_BLAS)
    openblas_set_num_threads(f == run_ob ? ob_threads : 1);
#else
    if (f == run_ob) openblas_set_num_threads(ob_threads);
#endif
    int calls = 0;
    double t0 = bench_now(), t;
    do {
        f(A, B, C);
        calls++;
    } while ((t = bench_now()) - t0 < budget);
    return (t - t0) / calls;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *ct = getenv("OPENBLAS_CORETYPE"), *nt = getenv("OPENBLAS_NUM_THREADS");
    if (ct || !nt || strcmp(nt, "2") != 0) {
        if (!getenv("TG_BENCH_REEXEC")) {
            unsetenv("OPENBLAS_CORETYPE");
            setenv("OPENBLAS_NUM_THREADS", "2", 1);
            setenv("TG_BENCH_REEXEC", "1", 1);
            fflush(NULL);
            execv("/proc/self/exe", argv);
        }
        fprintf(stderr, "# warning: could not reset the OpenBLAS environment\n");
    }
    openblas_set_num_threads(THREADS);
    fprintf(stderr, "# openblas kernels: %s\n", openblas_get_corename());
#if defined(TG_BENCH_BLAS)
    fprintf(stderr, "# tapegrad's GEMM: OpenBLAS on tapegrad's threads (-Dblas=enabled)\n");
#else
    fprintf(stderr, "# tapegrad's GEMM: its own kernels\n");
#endif
    tg_set_num_threads(THREADS);
    tape = tg_tape_new();
    if (!tape) return 1;
    tg_tape_set_grad_enabled(tape, false);

    static const int shapes[][3] = {{256, 256, 256},    {512, 512, 512},   {1024, 1024, 1024},
                                    {2048, 2048, 2048}, {1000, 1000, 1000}, {1023, 1023, 1023},
                                    {64, 784, 100}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        pa = tg_param_new(TG_F32, 2, (int64_t[]){M, K});
        pb = tg_param_new(TG_F32, 2, (int64_t[]){K, N});
        float *A = pa ? tg_tensor_data(pa) : NULL, *B = pb ? tg_tensor_data(pb) : NULL;
        float *C1 = aligned_alloc(64, (nc * sizeof(float) + 63) / 64 * 64);
        float *C2 = aligned_alloc(64, (nc * sizeof(float) + 63) / 64 * 64);
        if (!A || !B || !C1 || !C2) {
            fprintf(stderr, "out of memory at %dx%dx%d\n", M, K, N);
            return 1;
        }
        unsigned r = 12345;
        for (size_t i = 0; i < na; i++) {
            r = r * 1103515245u + 12345u;
            A[i] = (float)((r >> 9) & 0xffff) / 65536.0f - 0.5f;
        }
        for (size_t i = 0; i < nb; i++) {
            r = r * 1103515245u + 12345u;
            B[i] = (float)((r >> 9) & 0xffff) / 65536.0f - 0.5f;
        }
        char name[64];
        if (M == K && K == N)
            snprintf(name, sizeof name, "sgemm_%d", N);
        else
            snprintf(name, sizeof name, "sgemm_%dx%dx%d", M, K, N);
        /* warm up (threads, packing buffers, caches) and agree */
        ob_threads = THREADS;
        run_tg(A, B, C1);
        run_ob(A, B, C2);
        double maxerr = 0;
        for (size_t i = 0; i < nc; i++) maxerr = fmax(maxerr, fabs((double)C1[i] - C2[i]));
        if (maxerr > 1e-3 * sqrt((double)K))
            fprintf(stderr, "# %s: results differ by %g\n", name, maxerr);

        double budget = 0.15, t_tg[2][ROUNDS], t_ob[2][ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            for (int t = 1; t <= 2; t++) {
                tg_set_num_threads(t);
                t_tg[t - 1][round] = time_batch(run_tg, A, B, NULL, budget);
            }
            for (ob_threads = 1; ob_threads <= 2; ob_threads++)
                t_ob[ob_threads - 1][round] = time_batch(run_ob, A, B, C2, budget);
        }
        double flop = 2.0 * M * (double)K * N, g_tg = 0, g_ob = 0;
        int win_tg = 0, win_ob = 0;
        for (int t = 1; t <= 2; t++) {
            double g = flop / bench_median(t_tg[t - 1], ROUNDS) * 1e-9;
            double h = flop / bench_median(t_ob[t - 1], ROUNDS) * 1e-9;
            fprintf(stderr, "# %s, %d thread%s: tapegrad %.1f, openblas %.1f GFLOP/s\n", name, t,
                    t > 1 ? "s" : "", g, h);
            if (g > g_tg) g_tg = g, win_tg = t;
            if (h > g_ob) g_ob = h, win_ob = t;
        }
        fprintf(stderr, "# %s: best: tapegrad on %d thread%s, openblas on %d thread%s\n", name,
                win_tg, win_tg > 1 ? "s" : "", win_ob, win_ob > 1 ? "s" : "");
        printf("%s: tapegrad %.1f, openblas %.1f, ratio %.2f\n", name, g_tg, g_ob, g_tg / g_ob);
        fflush(stdout);
        tg_param_free(pa), tg_param_free(pb);
        free(C1), free(C2);
    }
    tg_tape_free(tape);
    return 0;
}
