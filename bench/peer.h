/* peer.h - helpers shared by the benchmarks: a clock, a median, and running
 * a PyTorch peer (bench/torch_peer.py, bench/conv_torch.py) in the same run
 * over the grid of its settings, keeping its best: one child per setting
 * after the other (bench_torch_grid), or children that stay up while the
 * two sides alternate (bench_alternate, below: mlp_epoch, conv_fwd_bwd,
 * rosenbrock_tensor).
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

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ------------------------------------------------ peers that stay up
 *
 * The grid above times each peer setting in a child of its own, one after
 * the other, and tapegrad before and after all of them: tens of seconds
 * apart, while this shared VM's speed drifts within seconds
 * (bench/README.md, "The machine's noise"). And the best of eight
 * settings, each timed in a different minute, is the luckiest minute of
 * eight. bench_alternate instead keeps one child per OPENBLAS x malloc
 * setting up (the script's `--serve` mode: it answers `run <threads> <k>`
 * with `times <t1> ... <tk>`) and runs rounds: in each, one block of k
 * units of every setting of both sides, in an order shuffled afresh each
 * round (bench_order), after a pause that lets the previous block's idle
 * threads stop spinning (OpenBLAS's spin for about 0.1 s here). Every
 * setting is thus timed in every round, the same minutes for all; each
 * setting's time is the median of its rounds' units, and each side's best
 * the least of its settings' medians. */

typedef struct bench_peer {
    FILE *to, *from; /* its stdin, its stdout */
    pid_t pid;
} bench_peer;

/* Starts `/usr/bin/python3 <script> --serve <args>` with OPENBLAS_NUM_THREADS
 * ob and malloc setting m (as bench_torch_grid's children) and waits for
 * its `ready` line. False (and nothing left running) if it did not come. */
static inline bool bench_peer_start(bench_peer *p, const char *script, const char *args, int ob,
                                    int m) {
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd,
                       "exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE %s OMP_NUM_THREADS=2 "
                       "OPENBLAS_NUM_THREADS=%d MKL_NUM_THREADS=1 /usr/bin/python3 '%s' --serve %s",
                       bench_malloc_env[m], ob, script, args);
    if (len < 0 || (size_t)len >= sizeof cmd) return false;
    signal(SIGPIPE, SIG_IGN); /* a peer that died: a failed write, not the end of this program */
    int in[2], out[2];
    if (pipe(in)) return false;
    if (pipe(out)) {
        close(in[0]), close(in[1]);
        return false;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0), dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    /* the next peers must not inherit this one's ends: its stdin would then
     * never see EOF (bench_peer_stop would wait for ever) */
    fcntl(in[1], F_SETFD, FD_CLOEXEC), fcntl(out[0], F_SETFD, FD_CLOEXEC);
    p->pid = pid;
    p->to = pid > 0 ? fdopen(in[1], "w") : NULL;
    p->from = pid > 0 ? fdopen(out[0], "r") : NULL;
    char line[64];
    if (p->to && p->from && fgets(line, sizeof line, p->from) && strncmp(line, "ready", 5) == 0)
        return true;
    if (p->to) fclose(p->to); else close(in[1]);
    if (p->from) fclose(p->from); else close(out[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return false;
}

/* One block of the peer: k timed units on `threads` torch threads into t. */
static inline bool bench_peer_block(bench_peer *p, int threads, int k, double *t) {
    if (fprintf(p->to, "run %d %d\n", threads, k) < 0 || fflush(p->to)) return false;
    static char line[65536];
    if (!fgets(line, sizeof line, p->from) || strncmp(line, "times", 5) != 0) return false;
    char *s = line + 5, *e;
    for (int i = 0; i < k; i++, s = e) {
        t[i] = strtod(s, &e);
        if (e == s || !(t[i] > 0)) return false;
    }
    return true;
}

/* Ends the peer: EOF on its stdin, then waits for it. */
static inline void bench_peer_stop(bench_peer *p) {
    fclose(p->to), fclose(p->from);
    waitpid(p->pid, NULL, 0);
}

/* tapegrad's side of bench_alternate: one block of k timed units of its
 * setting `config` into t[0..k), in the peer's unit; false on failure. */
typedef bool (*bench_tg_block)(void *ctx, int config, int k, double *t);

static inline void bench_pause(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The order of round r's n blocks in ord: a shuffle from a fixed seed
 * (the same orders in every run), so that no setting always follows the
 * same one, as it did when each round's order was the last one's rotated
 * (a cyclic shift keeps every neighbour but one). */
static inline void bench_order(int *ord, int n, int r) {
    uint64_t x = 0x9e3779b97f4a7c15u * (uint64_t)(r + 1);
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates, an LCG's high bits */
        x = x * 6364136223846793005u + 1442695040888963407u;
        int j = (int)((x >> 33) % (uint64_t)(i + 1)), t = ord[i];
        ord[i] = ord[j], ord[j] = t;
    }
}

/* The rounds above, on the peer `script --serve <args>` and tapegrad's
 * settings tg_name[0..ntg): blocks of ktg units on tapegrad's side and of
 * kpeer on the peer's. Prints every setting's median and each side's
 * winner on stderr, prefixed by `what`; sets *tg_best and returns
 * PyTorch's best (-1 when no peer ran; *tg_best -1 when tapegrad failed). */
#define BENCH_PEERS 4 /* OPENBLAS_NUM_THREADS {1, 2} x malloc {default, tuned} */
static inline double bench_alternate(const char *what, const char *script, const char *args,
                                     int ntg, const char *const *tg_name, bench_tg_block tg,
                                     void *ctx, int rounds, int ktg, int kpeer, double pause,
                                     double *tg_best) {
    bench_peer peer[BENCH_PEERS];
    bool up[BENCH_PEERS];
    for (int i = 0; i < BENCH_PEERS; i++)
        up[i] = bench_peer_start(&peer[i], script, args, 1 + i / 2, i % 2);
    /* settings 0 .. ntg-1: tapegrad's; then peer i on 1 and on 2 threads */
    int nset = ntg + 2 * BENCH_PEERS, k = ktg > kpeer ? ktg : kpeer;
    double *t = malloc((size_t)nset * (size_t)rounds * (size_t)k * sizeof *t);
    int *have = calloc((size_t)nset, sizeof *have); /* each setting's units so far */
    int *ord = malloc((size_t)nset * sizeof *ord);
    *tg_best = -1;
    double best = -1;
    if (!t || !have || !ord) goto done;
    for (int r = 0; r < rounds; r++) {
        bench_order(ord, nset, r);
        for (int o = 0; o < nset; o++) {
            int s = ord[o];
            double *ts = t + (size_t)s * (size_t)rounds * (size_t)k + (size_t)have[s];
            bool ok;
            if (s < ntg) {
                bench_pause(pause);
                ok = tg(ctx, s, ktg, ts);
                if (!ok) goto done;
            } else {
                int i = (s - ntg) / 2, threads = 1 + (s - ntg) % 2;
                if (!up[i]) continue;
                bench_pause(pause);
                ok = bench_peer_block(&peer[i], threads, kpeer, ts);
                if (!ok) { /* said once, and that setting is dropped */
                    fprintf(stderr, "# %s: a peer stopped answering; its setting is left out\n",
                            what);
                    bench_peer_stop(&peer[i]);
                    up[i] = false;
                    continue;
                }
            }
            have[s] += s < ntg ? ktg : kpeer;
        }
    }
    char win[2][160] = {"", ""};
    for (int s = 0; s < nset; s++) {
        if (!have[s]) continue;
        double *ts = t + (size_t)s * (size_t)rounds * (size_t)k;
        double med = bench_median(ts, have[s]); /* sorts ts */
        char name[160];
        if (s < ntg) {
            snprintf(name, sizeof name, "tapegrad, %s", tg_name[s]);
        } else {
            int i = (s - ntg) / 2;
            snprintf(name, sizeof name, "torch threads %d, OPENBLAS_NUM_THREADS=%d, %s",
                     1 + (s - ntg) % 2, 1 + i / 2, bench_malloc_name[i % 2]);
        }
        fprintf(stderr, "# %s: %s: %.6g (median of %d; quartiles %.6g-%.6g)\n", what, name, med,
                have[s], ts[have[s] / 4], ts[(3 * have[s]) / 4]);
        double *b = s < ntg ? tg_best : &best;
        if (*b < 0 || med < *b) *b = med, snprintf(win[s >= ntg], sizeof win[0], "%s", name);
    }
    if (best < 0) fprintf(stderr, "# %s: could not run %s\n", what, script);
    else fprintf(stderr, "# %s: torch's best: %s\n", what, win[1]);
    if (*tg_best >= 0) fprintf(stderr, "# %s: tapegrad's best: %s\n", what, win[0]);
done:
    for (int i = 0; i < BENCH_PEERS; i++)
        if (up[i]) bench_peer_stop(&peer[i]);
    free(t), free(have), free(ord);
    return best;
}

#endif
