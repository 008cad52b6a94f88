/* bench_sgemm.c - tapegrad's sgemm against OpenBLAS's, in one run.
 *
 * For n = 256, 512, 1024, 2048: C = A @ B (n x n, row-major, f32), both
 * libraries on 2 threads, tapegrad through its public tg_matmul (A and B
 * are parameters, the product goes on a tape reset before each call, so
 * what is timed is the GEMM plus the few nanoseconds of the op), best of several timed rounds, interleaved so that
 * both see the same machine state. One line per size:
 *   sgemm_<n>: tapegrad <GFLOP/s>, openblas <GFLOP/s>, ratio <tapegrad/openblas>
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
 * thread count before each side's batch, 1 for tapegrad and 2 for the peer,
 * and the ratio measures that threading against OpenBLAS's own.
 */
#include <tapegrad.h>

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void openblas_set_num_threads(int n); /* OpenBLAS extensions */
char *openblas_get_corename(void);

#define THREADS 2

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static tg_tape *tape;
static tg_tensor *pa, *pb; /* (n, n) parameters holding A and B */

static void run_tg(int n, const float *A, const float *B, float *C) {
    (void)A, (void)B;
    tg_tape_reset(tape);
    tg_tensor *c = tg_matmul(tg_param_on(tape, pa), tg_param_on(tape, pb));
    if (!c) {
        fprintf(stderr, "tg_matmul failed: %s\n", tg_tape_error(tape));
        exit(1);
    }
    if (C) memcpy(C, tg_tensor_data(c), (size_t)n * (size_t)n * sizeof(float));
}

static void run_ob(int n, const float *A, const float *B, float *C) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f,
                C, n);
}

/* Seconds per call: the mean over a batch lasting at least `budget`. */
static double time_batch(void (*f)(int, const float *, const float *, float *), int n,
                         const float *A, const float *B, float *C, double budget) {
#if defined(TG_BENCH_BLAS)
    openblas_set_num_threads(f == run_ob ? THREADS : 1);
#endif
    int calls = 0;
    double t0 = now(), t;
    do {
        f(n, A, B, C);
        calls++;
    } while ((t = now()) - t0 < budget);
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

    static const int sizes[] = {256, 512, 1024, 2048};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int n = sizes[s];
        size_t nn = (size_t)n * (size_t)n;
        int64_t shape[2] = {n, n};
        pa = tg_param_new(TG_F32, 2, shape);
        pb = tg_param_new(TG_F32, 2, shape);
        float *A = pa ? tg_tensor_data(pa) : NULL, *B = pb ? tg_tensor_data(pb) : NULL;
        float *C1 = aligned_alloc(64, nn * sizeof(float));
        float *C2 = aligned_alloc(64, nn * sizeof(float));
        if (!A || !B || !C1 || !C2) {
            fprintf(stderr, "out of memory at n=%d\n", n);
            return 1;
        }
        unsigned r = 12345;
        for (size_t i = 0; i < nn; i++) {
            r = r * 1103515245u + 12345u;
            A[i] = (float)((r >> 9) & 0xffff) / 65536.0f - 0.5f;
            r = r * 1103515245u + 12345u;
            B[i] = (float)((r >> 9) & 0xffff) / 65536.0f - 0.5f;
        }
        /* warm up (threads, packing buffers, caches) and agree */
        run_tg(n, A, B, C1);
        run_ob(n, A, B, C2);
        double maxerr = 0;
        for (size_t i = 0; i < nn; i++) maxerr = fmax(maxerr, fabs((double)C1[i] - C2[i]));
        if (maxerr > 1e-3 * sqrt((double)n))
            fprintf(stderr, "# n=%d: results differ by %g\n", n, maxerr);

        double budget = 0.15, best_tg = INFINITY, best_ob = INFINITY;
        for (int round = 0; round < 5; round++) {
            best_tg = fmin(best_tg, time_batch(run_tg, n, A, B, NULL, budget));
            best_ob = fmin(best_ob, time_batch(run_ob, n, A, B, C2, budget));
        }
        double flop = 2.0 * n * (double)n * n;
        double g_tg = flop / best_tg * 1e-9, g_ob = flop / best_ob * 1e-9;
        printf("sgemm_%d: tapegrad %.1f, openblas %.1f, ratio %.2f\n", n, g_tg, g_ob,
               g_tg / g_ob);
        fflush(stdout);
        tg_param_free(pa), tg_param_free(pb);
        free(C1), free(C2);
    }
    tg_tape_free(tape);
    return 0;
}
