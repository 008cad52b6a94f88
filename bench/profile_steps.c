/* profile_steps.c - tapegrad's side of the benchmarks alone, on one thread,
 * for profilers and CPU-time counts (no peer runs, so `perf record`,
 * `perf stat -e task-clock` and `valgrind --tool=callgrind` see tapegrad
 * only):
 *
 *   profile_steps rosenbrock <passes>   the tensor Rosenbrock gradient, n = 1e6
 *   profile_steps conv <steps>          bench_conv's step
 *   profile_steps mlp <epochs> [dir]    bench_mlp_epoch's epoch (CPU s per epoch on stdout)
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

void openblas_set_num_threads(int n);

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int rosenbrock(int passes) {
    int64_t n = 1000000;
    tg_tape *tape = tg_tape_new();
    double *x0 = malloc((size_t)n * sizeof *x0), g0 = 0;
    if (!tape || !x0) return 1;
    for (int64_t i = 0; i < n; i++) x0[i] = (double)(i % 97) / 97;
    for (int r = 0; r < passes; r++) {
        tg_tape_reset(tape);
        tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F64, 1, &n, x0));
        tg_tensor *a = tg_slice(x, 0, 0, n - 1, 1), *b = tg_slice(x, 0, 1, n, 1);
        tg_tensor *t1 = tg_sub(b, tg_mul(a, a));
        tg_tensor *t2 = tg_rsub_scalar(a, 1.0);
        tg_tensor *y = tg_sum(tg_add(tg_mul_scalar(tg_mul(t1, t1), 100.0), tg_mul(t2, t2)));
        tg_backward(y);
        g0 += tg_tensor_get(tg_tensor_grad(x), 0);
    }
    printf("rosenbrock: %d passes, gradient[0] sum %g\n", passes, g0);
    tg_tape_free(tape);
    free(x0);
    return 0;
}

static void fill(tg_tensor *p, tg_rng *r, double scale) {
    float *v = tg_tensor_f32(p);
    for (int64_t i = 0; i < tg_tensor_numel(p); i++) v[i] = (float)(tg_rng_normal(r) * scale);
}

static int conv(int steps) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *w1 = tg_param_new(TG_F32, TG_SHAPE(32, 1, 3, 3)), *b1 = tg_param_new(TG_F32, TG_SHAPE(32));
    tg_tensor *w2 = tg_param_new(TG_F32, TG_SHAPE(64, 32, 3, 3)), *b2 = tg_param_new(TG_F32, TG_SHAPE(64));
    float *xd = malloc(sizeof(float) * 32 * 28 * 28);
    if (!tape || !w1 || !b1 || !w2 || !b2 || !xd) return 1;
    tg_rng r;
    tg_rng_seed(&r, 1);
    for (int i = 0; i < 32 * 28 * 28; i++) xd[i] = (float)tg_rng_normal(&r);
    fill(w1, &r, 1.0 / 3), fill(b1, &r, 1.0 / 3), fill(w2, &r, 1.0 / 17), fill(b2, &r, 1.0 / 17);
    for (int s = 0; s < steps; s++) {
        tg_tape_reset(tape);
        tg_zero_grad(w1), tg_zero_grad(b1), tg_zero_grad(w2), tg_zero_grad(b2);
        tg_tensor *x = tg_tensor_new(tape, TG_F32, TG_SHAPE(32, 1, 28, 28), xd);
        tg_tensor *h = tg_relu(tg_conv2d(x, w1, b1, NULL));
        h = tg_max_pool2d(h, &(tg_pool_opts){.kernel = {2, 2}});
        tg_backward(tg_sum(tg_conv2d(h, w2, b2, NULL)));
    }
    printf("conv: %d steps, dw1[0] %g\n", steps, tg_tensor_get(tg_tensor_grad(w1), 0));
    tg_tape_free(tape);
    tg_param_free(w1), tg_param_free(b1), tg_param_free(w2), tg_param_free(b2);
    free(xd);
    return 0;
}

static int mlp(int epochs, const char *dir) {
    char err[256];
    tg_dataset d;
    if (tg_mnist_load_dir(dir, true, &d, err, sizeof err) != TG_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    tg_dataset_scale(&d, 0, 255);
    tg_rng rng;
    tg_rng_seed(&rng, 0);
    tg_params *ps = tg_params_new(TG_F32);
    tg_sequential *net = tg_mlp_new(ps, "mlp", (int64_t[]){784, 100, 10}, 3, TG_ACT_RELU,
                                    TG_ACT_NONE, &rng);
    tg_optim *opt = tg_adam_new(ps, 1e-3, NULL);
    tg_batcher b;
    tg_batcher_init(&b, &d, 64, true, 1, err, sizeof err);
    tg_tape *tape = tg_tape_new();
    for (int e = 0; e < epochs; e++) {
        const int64_t *idx;
        int64_t n;
        double t0 = cpu_now();
        while ((n = tg_batcher_next(&b, &idx)) > 0) {
            tg_tensor *x = tg_dataset_batch_x(tape, &d, n, idx, TG_F32, true);
            tg_tensor *y = tg_dataset_batch_y(tape, &d, n, idx);
            tg_backward(tg_cross_entropy(tg_sequential_forward(net, x), y, TG_REDUCE_MEAN, -100, 0.0));
            tg_optim_step(opt);
            tg_optim_zero_grad(opt);
            tg_tape_reset(tape);
        }
        printf("mlp: epoch %d: %.3f CPU s\n", e, cpu_now() - t0);
    }
    tg_tape_free(tape);
    tg_batcher_free(&b);
    tg_optim_free(opt);
    tg_params_free(ps);
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
    tg_set_num_threads(1);
    const char *what = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 10;
    if (!strcmp(what, "rosenbrock")) return rosenbrock(n);
    if (!strcmp(what, "conv")) return conv(n);
    if (!strcmp(what, "mlp")) return mlp(n, argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist");
    if (!strcmp(what, "sgemm") && argc > 4) return sgemm(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: profile_steps rosenbrock|conv|mlp <count> | sgemm <m> <k> <n>\n");
    return 2;
}
