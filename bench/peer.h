/* peer.h - helpers shared by the benchmarks: a clock, a median, and running
 * a PyTorch peer (bench/torch_peer.py, bench/conv_torch.py) in the same run
 * over the grid of its settings, keeping its best.
 *
 * The grid (bench/README.md, "Peers at their best"): OPENBLAS_NUM_THREADS
 * {1, 2} x {glibc malloc as it comes, glibc malloc tuned with
 * MALLOC_MMAP_THRESHOLD_=4000000000 MALLOC_TRIM_THRESHOLD_=100000000000}
 * are read when the process starts, so each pair is one child process; the
 * script then tries torch.set_num_threads(1) and (2) in that process and
 * prints one line per thread count:  torch <threads> <median>.
 * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for every child. */
#ifndef TG_BENCH_PEER_H
#define TG_BENCH_PEER_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef TG_BENCH_SRC
#define TG_BENCH_SRC "bench"
#endif

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v; the upper median when n is even). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return v[n / 2];
}

/* The two malloc settings of the grid, as env(1) arguments. */
static const char *const bench_malloc_env[2] = {
    "-u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_=4000000000 MALLOC_TRIM_THRESHOLD_=100000000000",
};
static const char *const bench_malloc_name[2] = {"default malloc", "tuned malloc"};

/* Runs `/usr/bin/python3 <script> <args>` once per OPENBLAS_NUM_THREADS x
 * malloc setting, reads its `torch <threads> <value>` lines, prints every
 * setting's value and the winner on stderr (prefixed by `what`), and
 * returns the least value (each one a median of the script's runs), or -1
 * when no setting gave a number. */
static inline double bench_torch_grid(const char *what, const char *script, const char *args) {
    double best = INFINITY;
    char win[160] = "";
    for (int ob = 1; ob <= 2; ob++)
        for (int m = 0; m < 2; m++) {
            char cmd[4096];
            int len = snprintf(cmd, sizeof cmd,
                               "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE %s OMP_NUM_THREADS=2 "
                               "OPENBLAS_NUM_THREADS=%d MKL_NUM_THREADS=1 /usr/bin/python3 '%s' %s",
                               bench_malloc_env[m], ob, script, args);
            if (len < 0 || (size_t)len >= sizeof cmd) continue; /* too long: not run cut */
            FILE *p = popen(cmd, "r");
            if (!p) continue;
            char line[256];
            int t;
            double v;
            while (fgets(line, sizeof line, p))
                if (sscanf(line, "torch %d %lf", &t, &v) == 2 && v > 0) {
                    char s[160];
                    snprintf(s, sizeof s, "torch threads %d, OPENBLAS_NUM_THREADS=%d, %s", t, ob,
                             bench_malloc_name[m]);
                    fprintf(stderr, "# %s: %s: %.6g\n", what, s, v);
                    if (v < best) best = v, snprintf(win, sizeof win, "%s", s);
                }
            pclose(p);
        }
    if (!isfinite(best)) {
        fprintf(stderr, "# %s: could not run %s\n", what, script);
        return -1;
    }
    fprintf(stderr, "# %s: torch's best: %s\n", what, win);
    return best;
}

/* bench_torch_grid on bench/torch_peer.py <args> (TG_BENCH_DIR overrides
 * the script's directory); stderr lines are prefixed by the first word of
 * args, the benchmark's name. */
static inline double bench_torch(const char *args) {
    char script[1024], what[64] = "torch";
    const char *dir = getenv("TG_BENCH_DIR");
    snprintf(script, sizeof script, "%s/torch_peer.py", dir ? dir : TG_BENCH_SRC);
    sscanf(args, "%63s", what);
    return bench_torch_grid(what, script, args);
}

#endif
