/* bench_rosenbrock_scalar.c - scalar taping: the gradient of the extended
 * Rosenbrock function written with 0-d ops, n = 1,000,000, tape plus
 * reverse sweep, against ADOL-C on the same function in the same run.
 *
 *   f(x) = sum_{i<n-1} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
 *
 * Prints: rosenbrock_scalar: tapegrad <s> s, adolc <s> s, ratio <r>
 * and the tape bytes per recorded scalar op. Median of 7 runs each after
 * 2 warm-up runs (the first passes of both sides page in their memory). */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double adolc_rosenbrock_grad(int n, const double *x0, double *grad);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double tg_rosenbrock_grad(tg_tape *tape, int n, const double *x0, double *grad,
                                 double *bytes_per_op) {
    tg_tensor **x = malloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) x[i] = tg_requires_grad(tg_scalar(tape, x0[i]));
    size_t leaves = tg_tape_count(tape), bytes0 = tg_tape_bytes(tape);
    tg_tensor *y = tg_scalar(tape, 0.0);
    for (int i = 0; i < n - 1; i++) {
        tg_tensor *t1 = tg_sub(x[i + 1], tg_mul(x[i], x[i]));
        tg_tensor *t2 = tg_rsub_scalar(x[i], 1.0);
        y = tg_add(y, tg_add(tg_mul_scalar(tg_mul(t1, t1), 100.0), tg_mul(t2, t2)));
    }
    *bytes_per_op = (double)(tg_tape_bytes(tape) - bytes0) / (double)(tg_tape_count(tape) - leaves);
    tg_backward(y);
    for (int i = 0; i < n; i++) grad[i] = tg_grad_item(x[i]);
    double f = tg_item(y);
    free(x);
    return f;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    enum { runs = 7, warm = 2 };
    double *x0 = malloc((size_t)n * sizeof *x0), *g1 = malloc((size_t)n * sizeof *g1),
           *g2 = malloc((size_t)n * sizeof *g2);
    for (int i = 0; i < n; i++) x0[i] = 0.5 + 0.4 * sin(i);

    /* ADOL-C writes its tape to files when its buffers fill; its best
     * setting here is buffers big enough to stay in memory (.adolcrc in the
     * working directory), so run from a scratch directory holding one. */
    char dir[] = "/tmp/tg_adolc_XXXXXX";
    if (mkdtemp(dir) && chdir(dir) == 0) {
        FILE *rc = fopen(".adolcrc", "w");
        if (rc) {
            fprintf(rc, "\"OBUFSIZE\" = \"%d\"\n\"LBUFSIZE\" = \"%d\"\n\"VBUFSIZE\" = \"%d\"\n"
                        "\"TBUFSIZE\" = \"%d\"\n\"TBUFNUM\" = \"32\"\n",
                    16 * n, 16 * n, 16 * n, 16 * n);
            fclose(rc);
        }
    }

    double tt[runs], ta[runs], bpo = 0, f1 = 0, f2 = 0;
    tg_tape *tape = tg_tape_new();
    for (int r = -warm; r < runs; r++) {
        tg_tape_reset(tape);
        double t0 = now();
        f1 = tg_rosenbrock_grad(tape, n, x0, g1, &bpo);
        double t1 = now();
        f2 = adolc_rosenbrock_grad(n, x0, g2);
        double t2 = now();
        if (r >= 0) tt[r] = t1 - t0, ta[r] = t2 - t1;
    }
    if (!tg_tape_ok(tape)) fprintf(stderr, "tapegrad error: %s\n", tg_tape_error(tape));
    double maxdiff = 0;
    for (int i = 0; i < n; i++) maxdiff = fmax(maxdiff, fabs(g1[i] - g2[i]) / (1 + fabs(g2[i])));
    qsort(tt, runs, sizeof *tt, cmp);
    qsort(ta, runs, sizeof *ta, cmp);
    printf("rosenbrock_scalar: tapegrad %.4f s, adolc %.4f s, ratio %.3f\n", tt[runs / 2],
           ta[runs / 2], tt[runs / 2] / ta[runs / 2]);
    printf("rosenbrock_scalar_tape: %.1f bytes per recorded scalar op (n = %d, f = %.6g vs %.6g, "
           "max gradient difference %.2g)\n", bpo, n, f1, f2, maxdiff);
    unlink(".adolcrc");
    if (chdir("/") == 0) rmdir(dir);
    tg_tape_free(tape);
    free(x0), free(g1), free(g2);
    return maxdiff > 1e-12;
}
