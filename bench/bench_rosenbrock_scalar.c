/* bench_rosenbrock_scalar.c - scalar taping: the gradient of the extended
 * Rosenbrock function written with 0-d ops, n = 1,000,000, tape plus
 * reverse sweep, against ADOL-C on the same function in the same run.
 *
 *   f(x) = sum_{i<n-1} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
 *
 * Prints: rosenbrock_scalar: tapegrad <s> s, adolc <s> s, ratio <r>
 * and the tape bytes per recorded scalar op.
 *
 * ADOL-C at its best: it reads .adolcrc from the directory the process
 * starts in when the library loads, before main, and glibc reads its
 * MALLOC_* variables at start-up too. So the peer runs as a child process
 * (this program again, `--adolc n keep`), started in a fresh temporary directory,
 * once per setting of the grid {trace then gradient() (which runs a
 * forward sweep over the tape before the reverse one), trace_on(tag, 1)
 * keeping the trace's values then fos_reverse at once (the same work as
 * tapegrad's pass)} x {default buffers (no .adolcrc: its tape goes to files
 * once its buffers fill), in-memory buffers (an .adolcrc with buffers of
 * 16 n entries)} x {default, tuned malloc (bench/peer.h)}; the best
 * setting's time is kept and every setting's time is on stderr.
 * Each time is the median of RUNS runs after WARM warm-up runs (the first
 * passes page in the memory). tapegrad's runs are split into a block before
 * and a block after the peer's, pooled into one median.
 *
 * A third line, the floor: the sketch of record32_sketch.h (32-byte
 * records without tapegrad's checks and gradient rules) runs the same
 * pass, alternating with tapegrad's runs, against the same ADOL-C time:
 * rosenbrock_scalar_floor: sketch <s> s, adolc <s> s, ratio <r>
 * It has no target; it shows how near one record layout, with less work
 * an op than tapegrad's semantics need, comes to the line's target.
 *
 * Every gradient is checked against the hand-written gradient; the exit
 * status is 1 when one differs by more than 1e-12 (relative). */
#include <tapegrad.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"
#include "record32_sketch.h"
#include "rosenbrock_scalar.h"

double adolc_rosenbrock_grad(int n, const double *x0, double *grad, int keep);

enum { RUNS = 7, WARM = 2 };

static void init_x(int n, double *x0) {
    for (int i = 0; i < n; i++) x0[i] = 0.5 + 0.4 * sin(i);
}

/* The child: ADOL-C alone; prints `adolc <median s> <gradient error>`. */
static int adolc_child(int n, int keep) {
    double *x0 = malloc((size_t)n * sizeof *x0), *g = malloc((size_t)n * sizeof *g), t[RUNS];
    if (!x0 || !g) return 1;
    init_x(n, x0);
    for (int r = -WARM; r < RUNS; r++) {
        double t0 = bench_now();
        adolc_rosenbrock_grad(n, x0, g, keep);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    printf("adolc %.9g %.3g\n", bench_median(t, RUNS), rosen_grad_error(n, x0, g));
    free(x0), free(g);
    return 0;
}

/* Empties and removes the directory dir (ADOL-C's tape files, .adolcrc). */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(dir);
}

/* Runs the ADOL-C child once per setting; returns the best median or -1. */
static double adolc_best(const char *self, int n, double *err_out) {
    static const char *const bufname[2] = {"default buffers", "in-memory buffers"};
    static const char *const keepname[2] = {"trace then gradient()",
                                            "trace keeping its values then fos_reverse"};
    double best = INFINITY;
    char win[256] = "";
    *err_out = 0;
    for (int keep = 0; keep < 2; keep++)
    for (int buf = 0; buf < 2; buf++)
        for (int m = 0; m < 2; m++) {
            char dir[] = "/tmp/tg_adolc_XXXXXX", cmd[8192];
            if (!mkdtemp(dir)) continue;
            if (buf) {
                snprintf(cmd, sizeof cmd, "%s/.adolcrc", dir);
                FILE *rc = fopen(cmd, "w");
                if (!rc) continue;
                fprintf(rc, "\"OBUFSIZE\" = \"%d\"\n\"LBUFSIZE\" = \"%d\"\n\"VBUFSIZE\" = \"%d\"\n"
                            "\"TBUFSIZE\" = \"%d\"\n\"TBUFNUM\" = \"32\"\n",
                        16 * n, 16 * n, 16 * n, 16 * n);
                fclose(rc);
            }
            snprintf(cmd, sizeof cmd, "cd '%s' && env %s '%s' --adolc %d %d", dir,
                     bench_malloc_env[m], self, n, keep);
            FILE *p = popen(cmd, "r");
            double v = -1, err = INFINITY;
            if (p) {
                if (fscanf(p, "adolc %lf %lf", &v, &err) != 2) v = -1;
                pclose(p);
            }
            remove_dir(dir);
            if (v <= 0) continue;
            fprintf(stderr, "# rosenbrock_scalar: adolc, %s, %s, %s: %.4f s\n", keepname[keep],
                    bufname[buf], bench_malloc_name[m], v);
            *err_out = fmax(*err_out, err);
            if (v < best)
                best = v, snprintf(win, sizeof win, "%s, %s, %s", keepname[keep], bufname[buf],
                                   bench_malloc_name[m]);
        }
    if (!isfinite(best)) return -1;
    fprintf(stderr, "# rosenbrock_scalar: adolc's best: %s\n", win);
    return best;
}

int main(int argc, char **argv) {
    if (argc > 3 && strcmp(argv[1], "--adolc") == 0) return adolc_child(atoi(argv[2]), atoi(argv[3]));
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0 || n < 2) return 1;
    self[len] = 0;
    double *x0 = malloc((size_t)n * sizeof *x0), *g = malloc((size_t)n * sizeof *g);
    tg_tensor **x = malloc((size_t)n * sizeof *x); /* the handles: the caller's array, as x0 and g */
    shandle *xs = malloc((size_t)n * sizeof *xs);  /* the sketch's */
    if (!x0 || !g || !x || !xs) return 1;
    init_x(n, x0);
    double tt[2 * RUNS], ts[2 * RUNS], bpo = 0, f = 0, adolc = -1, adolc_err = 0, err = 0,
           sk_err = 0;
    tg_tape *tape = tg_tape_new();
    stape st = {.grad_enabled = true};
    for (int half = 0; half < 2; half++) {
        for (int r = -WARM; r < RUNS; r++) { /* tapegrad's pass, then the sketch's */
            tg_tape_reset(tape);
            double t0 = bench_now();
            f = rosen_tg_pass(tape, n, x0, x, g, &bpo);
            double t1 = bench_now();
            err = fmax(err, rosen_grad_error(n, x0, g));
            double t2 = bench_now();
            sketch_pass(&st, n, x0, xs, g);
            double t3 = bench_now();
            sk_err = fmax(sk_err, rosen_grad_error(n, x0, g));
            if (r >= 0) tt[half * RUNS + r] = t1 - t0, ts[half * RUNS + r] = t3 - t2;
        }
        if (half == 0) adolc = adolc_best(self, n, &adolc_err);
    }
    bool tape_ok = tg_tape_ok(tape);
    if (!tape_ok) fprintf(stderr, "tapegrad error: %s\n", tg_tape_error(tape));
    double ours = bench_median(tt, 2 * RUNS), sketch = bench_median(ts, 2 * RUNS);
    printf("rosenbrock_scalar: tapegrad %.4f s, adolc %.4f s, ratio %.3f\n", ours, adolc,
           adolc > 0 ? ours / adolc : -1);
    printf("rosenbrock_scalar_floor: sketch %.4f s, adolc %.4f s, ratio %.3f (record32_sketch.h: "
           "32-byte records without tapegrad's checks and gradient rules; no target)\n", sketch,
           adolc, adolc > 0 ? sketch / adolc : -1);
    printf("rosenbrock_scalar_tape: %.1f bytes per recorded scalar op (n = %d, f = %.9g, "
           "gradient error: tapegrad %.2g, sketch %.2g, adolc %.2g)\n", bpo, n, f, err, sk_err,
           adolc_err);
    tg_tape_free(tape);
    s_free(&st);
    free(x0), free(g), free(x), free(xs);
    return adolc <= 0 || !tape_ok || st.bad || err > 1e-12 || sk_err > 1e-12 ||
           adolc_err > 1e-12;
}
