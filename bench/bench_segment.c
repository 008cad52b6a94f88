/* bench_segment.c - recomputed segments (tg_segment.h): memory and time.
 *
 * Lorenz-63 integrated with explicit RK4 in 0-d f64 scalar code, N steps,
 * loss = |state|^2 at the end, gradient with respect to the initial state
 * and the three parameters: once on a full tape, once in segments of S
 * steps. Prints the tape's bytes (records + data, tg_tape_bytes) at their
 * highest (after the forward, or inside a segment's function, forward or
 * rerun), the CPU time of forward + backward (CLOCK_PROCESS_CPUTIME_ID,
 * the median of 5 runs after a warm-up, each on its mode's tape, reset:
 * a steady loop, whose arenas are already there), and whether the
 * gradients are equal bit for bit.
 *
 *   build/bench/bench_segment [N [S [full|seg]]]   (defaults 20000 and 200)
 *
 * With full or seg it runs that mode once and prints nothing else: for
 * counting instructions, which a loaded machine does not disturb:
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null build/bench/bench_segment 2000 20 seg
 */
#define _POSIX_C_SOURCE 200809L
#include <tapegrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lorenz {
    tg_tensor *p[3]; /* sigma, rho, beta: parameters */
    int steps;
    size_t peak;     /* the most tape bytes seen */
} lorenz;

static void rk4(lorenz *L, tg_tensor **s) {
    const double h = 0.001;
    tg_tensor *k[4][3], *t[3];
    for (int stage = 0; stage < 4; stage++) {
        tg_tensor *const *u = stage == 0 ? s : t;
        k[stage][0] = tg_mul(L->p[0], tg_sub(u[1], u[0]));
        k[stage][1] = tg_sub(tg_mul(u[0], tg_sub(L->p[1], u[2])), u[1]);
        k[stage][2] = tg_sub(tg_mul(u[0], u[1]), tg_mul(L->p[2], u[2]));
        double c = stage == 2 ? h : h / 2;
        if (stage < 3)
            for (int i = 0; i < 3; i++) t[i] = tg_add(s[i], tg_mul_scalar(k[stage][i], c));
    }
    for (int i = 0; i < 3; i++) {
        tg_tensor *sum = tg_add(tg_add(k[0][i], tg_mul_scalar(k[1][i], 2)),
                                tg_add(tg_mul_scalar(k[2][i], 2), k[3][i]));
        s[i] = tg_add(s[i], tg_mul_scalar(sum, h / 6));
    }
}

static void steps(void *ctx, tg_tensor *const *in, tg_tensor **out) {
    lorenz *L = ctx;
    tg_tensor *s[3] = {in[0], in[1], in[2]};
    for (int k = 0; k < L->steps; k++) rk4(L, s);
    size_t b = tg_tape_bytes(tg_tensor_tape(s[0]));
    if (b > L->peak) L->peak = b;
    for (int i = 0; i < 3; i++) out[i] = s[i];
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* One forward + backward; seg = 0: the full tape. Fills g[6], returns CPU s. */
static double run(tg_tape *tape, lorenz *L, int n, int seg, double *g) {
    tg_tape_reset(tape);
    double t0 = cpu_now();
    tg_tensor *s0[3], *s[3];
    double init[3] = {1.0, 1.0, 1.05};
    for (int i = 0; i < 3; i++) s[i] = s0[i] = tg_requires_grad(tg_scalar(tape, init[i]));
    L->peak = 0;
    for (int i = 0; i < 3; i++) tg_zero_grad(L->p[i]);
    if (seg == 0) {
        L->steps = n;
        steps(L, s, s);
    } else {
        L->steps = seg;
        for (int k = 0; k < n / seg; k++) tg_segment(steps, L, 3, s, 3, s, NULL);
    }
    tg_tensor *loss = tg_add(tg_add(tg_mul(s[0], s[0]), tg_mul(s[1], s[1])), tg_mul(s[2], s[2]));
    if (tg_tape_bytes(tape) > L->peak) L->peak = tg_tape_bytes(tape);
    if (tg_backward(loss) != TG_OK) {
        fprintf(stderr, "error: %s\n", tg_tape_error(tape));
        exit(1);
    }
    double t = cpu_now() - t0;
    for (int i = 0; i < 3; i++) {
        g[i] = tg_item(tg_tensor_grad(s0[i]));
        g[3 + i] = tg_item(tg_tensor_grad(L->p[i]));
    }
    return t;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000, seg = argc > 2 ? atoi(argv[2]) : 200;
    if (n < 1 || seg < 1 || n % seg) {
        fprintf(stderr, "usage: bench_segment [N [S]], S dividing N\n");
        return 2;
    }
    const char *only = argc > 3 ? argv[3] : NULL;
    lorenz L;
    double pv[3] = {10.0, 28.0, 8.0 / 3.0};
    for (int i = 0; i < 3; i++) {
        L.p[i] = tg_param_new(TG_F64, 0, NULL);
        *(double *)tg_tensor_data(L.p[i]) = pv[i];
    }
    double tf[5], ts[5], gf[6], gs[6];
    if (only) { /* one run of one mode */
        tg_tape *tape = tg_tape_new();
        run(tape, &L, n, strcmp(only, "seg") == 0 ? seg : 0, gf);
        tg_tape_free(tape);
        for (int i = 0; i < 3; i++) tg_param_free(L.p[i]);
        return 0;
    }
    size_t pf = 0, ps = 0;
    tg_tape *full = tg_tape_new(), *segd = tg_tape_new();
    for (int r = -1; r < 5; r++) { /* r = -1: the warm-up */
        double a = run(full, &L, n, 0, gf);
        pf = L.peak;
        double b = run(segd, &L, n, seg, gs);
        ps = L.peak;
        if (r >= 0) tf[r] = a, ts[r] = b;
    }
    tg_tape_free(full);
    tg_tape_free(segd);
    qsort(tf, 5, sizeof *tf, cmp);
    qsort(ts, 5, sizeof *ts, cmp);
    int same = memcmp(gf, gs, sizeof gf) == 0;
    printf("segment_lorenz: N %d, segments of %d: full %.3f s %.2f MB, segmented %.3f s %.2f MB, "
           "time ratio %.2f, memory ratio %.4f, gradients %s\n",
           n, seg, tf[2], pf / 1e6, ts[2], ps / 1e6, ts[2] / tf[2], (double)ps / (double)pf,
           same ? "equal bit for bit" : "DIFFER");
    for (int i = 0; i < 3; i++) tg_param_free(L.p[i]);
    return same ? 0 : 1;
}
