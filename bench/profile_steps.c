/* profile_steps.c - tapegrad's side of the benchmarks alone, on one thread,
 * for profilers and CPU-time counts (no peer runs, so `perf record`,
 * `perf stat -e task-clock` and `valgrind --tool=callgrind` see tapegrad
 * only; TG_NUM_THREADS=2 lets the pool use two threads):
 *
 *   profile_steps rosenbrock <passes>   the tensor Rosenbrock gradient, n = 1e6
 *   profile_steps conv <steps>          bench_conv's step
 *   profile_steps mlp <epochs> [dir]    bench_mlp_epoch's epoch (CPU s per epoch on stdout:
 *                                       this thread's, all threads', and wall s)
 *   profile_steps mlpparts <epochs> [dir]  the same epoch, CPU us a step per part (the
 *                                       gather, forward + loss, backward, Adam, zero_grad
 *                                       and reset), medians over the epochs
 *   profile_steps gather <epochs> [dir] tg_dataset_batch_x alone on the MLP's batches
 *                                       (CPU us a batch)
 *   profile_steps sgemm <m> <k> <n>     GFLOP/s per CPU second, tapegrad and OpenBLAS,
 *                                       both on one thread (thread CPU time, median of 9)
 *
 * The cost of one pass or step is the difference of two counts, e.g.
 * (task-clock of 60 steps - task-clock of 10 steps) / 50, which removes the
 * start-up (the first pass pages in the arena). */
#include <tapegrad.h>

#include <cblas.h>
#include <string.h>

#include "peer.h"
#include "steps.h"

void openblas_set_num_threads(int n);

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* All threads' CPU time (the pool's workers too, with TG_NUM_THREADS > 1). */
static double process_cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int rosenbrock(int passes) {
    int64_t n = 1000000;
    tg_tape *tape = tg_tape_new();
    double *x0 = malloc((size_t)n * sizeof *x0), g0 = 0;
    if (!tape || !x0) return 1;
    for (int64_t i = 0; i < n; i++) x0[i] = (double)(i % 97) / 97;
    for (int r = 0; r < passes; r++) {
        tg_tensor *x;
        bench_rosenbrock_pass(tape, n, x0, &x);
        g0 += tg_tensor_get(tg_tensor_grad(x), 0);
    }
    printf("rosenbrock: %d passes, gradient[0] sum %g\n", passes, g0);
    tg_tape_free(tape);
    free(x0);
    return 0;
}

static int conv(int steps) {
    bench_cnn c;
    if (!bench_cnn_init(&c)) return 1;
    for (int s = 0; s < steps; s++) bench_cnn_step(&c);
    printf("conv: %d steps, dw1[0] %g\n", steps, tg_tensor_get(tg_tensor_grad(c.w1), 0));
    bench_cnn_free(&c);
    return 0;
}

static int mlp(int epochs, const char *dir) {
    char err[256];
    tg_dataset d;
    if (!bench_load_train(dir, &d)) return 1;
    bench_mlp m;
    if (!bench_mlp_init(&m, &d, err, sizeof err)) return 1;
    double loss = 0;
    for (int e = 0; e < epochs; e++) {
        double w0 = bench_now(), p0 = process_cpu_now();
        double cpu = bench_mlp_epoch(&m, &d, cpu_now, &loss);
        printf("mlp: epoch %d: %.3f CPU s (%.3f process CPU s, %.3f wall s)\n", e, cpu,
               process_cpu_now() - p0, bench_now() - w0);
    }
    bench_mlp_free(&m);
    tg_dataset_free(&d);
    return 0;
}

/* bench_mlp_epoch's loop with a clock between its parts: this thread's CPU
 * us a step for each part, the median over the epochs (after one warm-up). */
static int mlp_parts(int epochs, const char *dir) {
    tg_dataset d;
    char err[256];
    if (!bench_load_train(dir, &d)) return 1;
    bench_mlp m;
    if (!bench_mlp_init(&m, &d, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
    enum { PARTS = 5 };
    static const char *name[PARTS] = {"gather", "forward+loss", "backward", "adam",
                                      "zero_grad+reset"};
    double *per = calloc((size_t)(epochs + 1) * PARTS, sizeof *per);
    if (!per) return 1;
    for (int e = 0; e <= epochs; e++) {
        const int64_t *idx;
        int64_t n, steps = 0;
        double t[PARTS] = {0};
        while ((n = tg_batcher_next(&m.b, &idx)) > 0) {
            double c0 = cpu_now();
            tg_tensor *x = tg_dataset_batch_x(m.tape, &d, n, idx, TG_F32, true);
            tg_tensor *y = tg_dataset_batch_y(m.tape, &d, n, idx);
            double c1 = cpu_now();
            tg_tensor *l = tg_cross_entropy(tg_sequential_forward(m.net, x), y, TG_REDUCE_MEAN,
                                            -100, 0.0);
            double c2 = cpu_now();
            tg_backward(l);
            double c3 = cpu_now();
            tg_optim_step(m.opt);
            double c4 = cpu_now();
            tg_optim_zero_grad(m.opt);
            if (!tg_tape_ok(m.tape)) return fprintf(stderr, "%s\n", tg_tape_error(m.tape)), 1;
            tg_tape_reset(m.tape);
            double c5 = cpu_now();
            t[0] += c1 - c0, t[1] += c2 - c1, t[2] += c3 - c2, t[3] += c4 - c3, t[4] += c5 - c4;
            steps++;
        }
        for (int k = 0; k < PARTS; k++) per[k * (epochs + 1) + e] = t[k] / (double)steps * 1e6;
    }
    double total = 0;
    for (int k = 0; k < PARTS; k++) {
        double med = bench_median(per + k * (epochs + 1) + 1, epochs);
        total += med;
        printf("mlpparts: %-16s %7.1f CPU us a step\n", name[k], med);
    }
    printf("mlpparts: %-16s %7.1f CPU us a step (sum of the medians)\n", "step", total);
    free(per);
    bench_mlp_free(&m);
    tg_dataset_free(&d);
    return 0;
}

/* tg_dataset_batch_x alone, the MLP's shuffled batches of 64: CPU us a batch. */
static int gather(int epochs, const char *dir) {
    tg_dataset d;
    tg_batcher b;
    if (!bench_load_train(dir, &d)) return 1;
    tg_tape *tape = tg_tape_new();
    if (!tape || tg_batcher_init(&b, &d, 64, true, 1) != TG_OK)
        return fprintf(stderr, "profile_steps: %s\n", tg_last_error()), 1;
    for (int e = 0; e < epochs; e++) {
        const int64_t *idx;
        int64_t n, batches = 0;
        double t0 = cpu_now(), p0 = process_cpu_now();
        while ((n = tg_batcher_next(&b, &idx)) > 0) {
            tg_dataset_batch_x(tape, &d, n, idx, TG_F32, true);
            tg_tape_reset(tape);
            batches++;
        }
        printf("gather: epoch %d: %.1f CPU us a batch (%.1f process CPU us)\n", e,
               (cpu_now() - t0) / (double)batches * 1e6,
               (process_cpu_now() - p0) / (double)batches * 1e6);
    }
    tg_batcher_free(&b);
    tg_tape_free(tape);
    tg_dataset_free(&d);
    return 0;
}

static int sgemm(int M, int K, int N) {
    openblas_set_num_threads(1);
    tg_tape *tape = tg_tape_new();
    tg_tape_set_grad_enabled(tape, false);
    tg_tensor *pa = tg_param_new(TG_F32, 2, (int64_t[]){M, K});
    tg_tensor *pb = tg_param_new(TG_F32, 2, (int64_t[]){K, N});
    float *C = malloc((size_t)M * (size_t)N * sizeof *C);
    if (!tape || !pa || !pb || !C) return 1;
    float *A = tg_tensor_data(pa), *B = tg_tensor_data(pb);
    for (int64_t i = 0; i < (int64_t)M * K; i++) A[i] = (float)((i * 7) % 13) / 13 - 0.5f;
    for (int64_t i = 0; i < (int64_t)K * N; i++) B[i] = (float)((i * 5) % 11) / 11 - 0.5f;
    double flop = 2.0 * M * (double)K * N, tt[9], to[9];
    int reps = (int)(2e9 / flop) + 1;
    for (int r = 0; r < 9; r++) {
        double t0 = cpu_now();
        for (int i = 0; i < reps; i++) {
            tg_tape_reset(tape);
            tg_matmul(tg_param_on(tape, pa), tg_param_on(tape, pb));
        }
        tt[r] = (cpu_now() - t0) / reps;
        t0 = cpu_now();
        for (int i = 0; i < reps; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, K, B, N, 0, C, N);
        to[r] = (cpu_now() - t0) / reps;
    }
    double gt = flop / bench_median(tt, 9) * 1e-9, go = flop / bench_median(to, 9) * 1e-9;
    printf("sgemm %dx%dx%d, one thread, GFLOP per CPU second: tapegrad %.1f, openblas %.1f, "
           "ratio %.2f\n", M, K, N, gt, go, gt / go);
    tg_tape_free(tape);
    tg_param_free(pa), tg_param_free(pb);
    free(C);
    return 0;
}

int main(int argc, char **argv) {
    /* one thread, unless TG_NUM_THREADS asks for more (the pool's share) */
    const char *nt = getenv("TG_NUM_THREADS");
    tg_set_num_threads(nt && *nt ? 0 : 1);
    const char *what = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 10;
    if (!strcmp(what, "rosenbrock")) return rosenbrock(n);
    if (!strcmp(what, "conv")) return conv(n);
    if (!strcmp(what, "mlp")) return mlp(n, argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist");
    if (!strcmp(what, "mlpparts"))
        return mlp_parts(n, argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist");
    if (!strcmp(what, "gather"))
        return gather(n, argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist");
    if (!strcmp(what, "sgemm") && argc > 4) return sgemm(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: profile_steps rosenbrock|conv|mlp|mlpparts|gather <count> | sgemm <m> <k> <n>\n");
    return 2;
}
