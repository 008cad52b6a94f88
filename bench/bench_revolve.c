/* bench_revolve.c - memory and time of binomial checkpointing (tg_revolve)
 * against one full tape: the gradient of |x_N|^2 with respect to the
 * initial state and the three parameters of Lorenz-63 (sigma = 10,
 * rho = 28, beta = 8/3) integrated by classic RK4, written in 0-d scalar
 * ops, N = 200,000 steps of h = 1e-5, s = 100 snapshots.
 *
 *   bench_revolve [N [s [runs]]]
 *
 * Prints: revolve_lorenz: full <s> s <MB> MB, checkpointed <s> s <MB> MB,
 *         time ratio <r>, memory ratio <m>
 * Each run of each variant is a child process (fork), so that its peak
 * resident memory (getrusage ru_maxrss, from wait4) is its own; times are
 * the child's CPU time (CLOCK_PROCESS_CPUTIME_ID) around the gradient
 * computation, median of `runs` (default 3). Ratios are checkpointed /
 * full. Stderr: the tape's peak bytes (tg_tape_bytes_peak) of each, the
 * snapshot store, the step counts and how the two gradients agree. */
#define _DEFAULT_SOURCE /* wait4 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct model {
    tg_tensor *p[3]; /* sigma, rho, beta */
    double h;
} model;

/* The Lorenz vector field at s[0..3) into f[0..3). */
static void field(const model *m, tg_tensor *const *s, tg_tensor **f) {
    tg_tensor *x = s[0], *y = s[1], *z = s[2];
    f[0] = tg_mul(m->p[0], tg_sub(y, x));
    f[1] = tg_sub(tg_mul(x, tg_sub(m->p[1], z)), y);
    f[2] = tg_sub(tg_mul(x, y), tg_mul(m->p[2], z));
}

static void rk4(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next, void *ud) {
    (void)tape, (void)k;
    const model *m = ud;
    static const double stage[3] = {0.5, 0.5, 1.0}, weight[4] = {1, 2, 2, 1};
    tg_tensor *kk[4][3], *arg[3];
    field(m, x, kk[0]);
    for (int j = 0; j < 3; j++) {
        for (int i = 0; i < 3; i++) arg[i] = tg_add(x[i], tg_mul_scalar(kk[j][i], stage[j] * m->h));
        field(m, arg, kk[j + 1]);
    }
    for (int i = 0; i < 3; i++) {
        tg_tensor *acc = kk[0][i];
        for (int j = 1; j < 4; j++) acc = tg_add(acc, tg_mul_scalar(kk[j][i], weight[j]));
        next[i] = tg_add(x[i], tg_mul_scalar(acc, m->h / 6));
    }
}

static tg_tensor *norm2(tg_tape *tape, tg_tensor *const *x, int64_t k, void *ud) {
    (void)tape, (void)k, (void)ud;
    return tg_add(tg_add(tg_square(x[0]), tg_square(x[1])), tg_square(x[2]));
}

typedef struct result {
    double cpu, loss, grad[6];
    size_t tape_peak, snap_bytes;
    int64_t advances;
    int ok;
} result;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#ifdef TG_BENCH_ADOLC
double adolc_lorenz_grad(int n, int snapshots, double *grad6);

/* The ADOL-C peer (bench/revolve_adolc.cpp); its tapes spill to files in
 * the working directory beyond its buffers: run it in /tmp. */
static result run_adolc(int64_t N, int s) {
    result r = {0};
    if (chdir("/tmp")) return r;
    double t0 = cpu_now();
    r.loss = adolc_lorenz_grad((int)N, s, r.grad);
    r.cpu = cpu_now() - t0;
    r.ok = 1;
    return r;
}
#endif

/* One variant (s = 0: the full tape), in the calling process; the ADOL-C
 * peer for adolc. */
static result run(int64_t N, int s, int adolc) {
    result r = {0};
#ifdef TG_BENCH_ADOLC
    if (adolc) return run_adolc(N, s);
#endif
    (void)adolc;
    model m = {{tg_param_new(TG_F64, 0, NULL), tg_param_new(TG_F64, 0, NULL),
                tg_param_new(TG_F64, 0, NULL)}, 1e-5};
    tg_tensor *x0[3];
    const double v0[3] = {1.0, 1.5, 20.0}, pv[3] = {10.0, 28.0, 8.0 / 3};
    for (int i = 0; i < 3; i++) {
        x0[i] = tg_param_new(TG_F64, 0, NULL);
        *tg_tensor_f64(x0[i]) = v0[i];
        *tg_tensor_f64(m.p[i]) = pv[i];
    }
    tg_tape *t = tg_tape_new();
    double t0 = cpu_now();
    if (s == 0) {
        tg_tensor *x[3], *y[3];
        for (int i = 0; i < 3; i++) x[i] = tg_param_on(t, x0[i]);
        for (int64_t k = 0; k < N; k++) {
            rk4(t, x, k, y, &m);
            memcpy(x, y, sizeof x);
        }
        tg_tensor *l = norm2(t, x, N, NULL);
        r.ok = tg_backward(l) == TG_OK;
        r.loss = tg_item(l);
    } else {
        tg_revolve_problem p = {3, x0, rk4, norm2, false, &m};
        tg_revolve_stats st;
        r.ok = tg_revolve(t, &p, N, s, &st) == TG_OK;
        r.loss = st.loss;
        r.snap_bytes = st.snapshot_bytes;
        r.advances = st.advances;
    }
    r.cpu = cpu_now() - t0;
    if (!r.ok) fprintf(stderr, "revolve_lorenz: %s\n", tg_tape_error(t));
    r.tape_peak = tg_tape_bytes_peak(t);
    for (int i = 0; i < 3; i++)
        r.grad[i] = tg_grad_item(x0[i]), r.grad[3 + i] = tg_grad_item(m.p[i]);
    tg_tape_free(t);
    for (int i = 0; i < 3; i++) tg_param_free(x0[i]), tg_param_free(m.p[i]);
    return r;
}

/* The variant in a child; its peak RSS in MB into *mb. */
static result in_child(int64_t N, int s, int adolc, double *mb) {
    result r = {0};
    int fd[2];
    if (pipe(fd)) return r;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        result c = run(N, s, adolc);
        ssize_t w = write(fd[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 1);
    }
    close(fd[1]);
    if (pid < 0 || read(fd[0], &r, sizeof r) != (ssize_t)sizeof r) r.ok = 0;
    close(fd[0]);
    int status;
    struct rusage ru;
    if (pid > 0 && wait4(pid, &status, 0, &ru) == pid) *mb = (double)ru.ru_maxrss / 1024.0;
    return r;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int64_t N = argc > 1 ? atoll(argv[1]) : 200000;
    int s = argc > 2 ? atoi(argv[2]) : 100, runs = argc > 3 ? atoi(argv[3]) : 3;
    if (N < 1 || s < 1 || runs < 1 || runs > 15) {
        fprintf(stderr, "usage: bench_revolve [N >= 1 [s >= 1 [runs 1..15]]]\n");
        return 2;
    }
    double cpu[2][15], mb[2] = {0, 0};
    result last[2];
    for (int i = 0; i < runs; i++)
        for (int v = 0; v < 2; v++) {
            double m = 0;
            last[v] = in_child(N, v ? s : 0, 0, &m);
            if (!last[v].ok) {
                fprintf(stderr, "revolve_lorenz: the %s variant failed\n",
                        v ? "checkpointed" : "full");
                return 1;
            }
            cpu[v][i] = last[v].cpu;
            if (m > mb[v]) mb[v] = m;
        }
    qsort(cpu[0], (size_t)runs, sizeof(double), cmpd);
    qsort(cpu[1], (size_t)runs, sizeof(double), cmpd);
    double tf = cpu[0][runs / 2], tc = cpu[1][runs / 2];
    printf("revolve_lorenz: full %.3f s %.1f MB, checkpointed %.3f s %.1f MB, time ratio %.2f, "
           "memory ratio %.4f\n", tf, mb[0], tc, mb[1], tc / tf, mb[1] / mb[0]);
    double worst = 0;
    int same_x0 = 1;
    for (int i = 0; i < 6; i++) {
        double d = fabs(last[1].grad[i] - last[0].grad[i]) / fmax(fabs(last[0].grad[i]), 1e-300);
        if (d > worst) worst = d;
        if (i < 3 && memcmp(&last[1].grad[i], &last[0].grad[i], sizeof(double))) same_x0 = 0;
    }
    fprintf(stderr,
            "revolve_lorenz_tape: N %lld, s %d: full tape peak %.1f MB; checkpointed tape peak "
            "%.1f KB + snapshots %.1f KB (ratio %.2g); %lld advances + %lld recorded steps; "
            "d/dx0 %s, worst relative difference %.2g; loss %.17g vs %.17g\n",
            (long long)N, s, last[0].tape_peak / 1048576.0, last[1].tape_peak / 1024.0,
            last[1].snap_bytes / 1024.0,
            (double)(last[1].tape_peak + last[1].snap_bytes) / (double)last[0].tape_peak,
            (long long)last[1].advances, (long long)N, same_x0 ? "bit for bit" : "NOT bit for bit",
            worst, last[1].loss, last[0].loss);
#ifdef TG_BENCH_ADOLC
    /* ADOL-C: one run each (stderr) */
    for (int v = 0; v < 2; v++) {
        double m = 0;
        result a = in_child(N, v ? s : 0, 1, &m);
        double w = 0;
        for (int i = 0; i < 6; i++)
            w = fmax(w, fabs(a.grad[i] - last[0].grad[i]) / fmax(fabs(last[0].grad[i]), 1e-300));
        fprintf(stderr, "revolve_adolc: %s %.3f s %.1f MB; gradient vs tapegrad's: worst relative "
                "difference %.2g%s\n", v ? "checkpointed (CP_Context)" : "full tape", a.cpu, m, w,
                w > 1e-8 ? " (WRONG)" : "");
    }
#endif
    return 0;
}
