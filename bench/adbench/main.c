/* main.c - the ADBench runner for tapegrad:
 *
 *   adbench <gmm|lstm|ba> <input.txt> <output-dir>
 *       writes ADBench's output files for input NAME.txt, module "tapegrad":
 *       NAME_F_tapegrad.txt (objective), NAME_J_tapegrad.txt (gradient or
 *       BA's sparse Jacobian), NAME_times_tapegrad.txt (objective time and
 *       derivative time, seconds per evaluation).
 *   adbench --bench <gmm|lstm|ba> <input.txt>
 *       one bench line (bench/README.md, "ADBench"): tapegrad's gradient
 *       time, the peer's (PyTorch through adbench_torch.py at its best
 *       setting; for BA, ADOL-C on the same scalar code when built with it)
 *       and tapegrad's gradient time over the plain-C objective's.
 *
 * Times are process CPU time (CLOCK_PROCESS_CPUTIME_ID: the machine may be
 * shared), the median of repeated evaluations after one warm-up: at least
 * 5, and more until 0.5 s of CPU time has been spent (at most 1000). In a
 * bench line, tapegrad's gradient and PyTorch's alternate in blocks, every
 * PyTorch setting in every round (bench/peer.h's bench_alternate); against
 * ADOL-C (BA), tapegrad's gradient is timed so twice, before and after the
 * peer, and the two blocks pooled into one median (as
 * bench_rosenbrock_scalar does: the VM's speed drifts within a minute).
 * tapegrad runs on one thread (tg_set_num_threads(1)). */
#include "adbench.h"
#include "adbench_peer.h"
#include "../peer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GMM, LSTM, BA };

typedef struct problem {
    int kind;
    adb_gmm g;
    adb_lstm s;
    adb_ba b;
    adb_ba_jac J;
    tg_tape *tape;
    double f, *grad, *reproj, *werr;
    bool ok;
} problem;

/* what: 0 plain-C objective, 1 tapegrad objective, 2 tapegrad derivative */
static void run_once(problem *P, int what) {
    switch (P->kind) {
    case GMM:
        if (what == 0) P->f = adb_gmm_objective(&P->g);
        else P->ok &= adb_gmm_grad(P->tape, &P->g, &P->f, what == 2 ? P->grad : NULL);
        break;
    case LSTM:
        if (what == 0) P->f = adb_lstm_objective(&P->s);
        else P->ok &= adb_lstm_grad(P->tape, &P->s, &P->f, what == 2 ? P->grad : NULL);
        break;
    default:
        if (what == 0) adb_ba_objective(&P->b, P->reproj, P->werr);
        else P->ok &= adb_ba_jacobian(P->tape, &P->b, P->reproj, P->werr,
                                      what == 2 ? &P->J : NULL);
    }
}

/* CPU seconds of repeated evaluations after a warm-up, appended to t[n..]
 * (cap in all); returns the new count */
enum { MAXREPS = 1000 };
static int sample(problem *P, int what, double *t, int n, int cap) {
    run_once(P, what);
    int n0 = n;
    double spent = 0;
    while (n < cap && n - n0 < MAXREPS && (n - n0 < 5 || spent < 0.5)) {
        double t0 = adb_cpu_now();
        run_once(P, what);
        t[n] = adb_cpu_now() - t0;
        spent += t[n++];
    }
    return n;
}

/* median CPU seconds of one evaluation */
static double time_it(problem *P, int what) {
    static double t[MAXREPS];
    return bench_median(t, sample(P, what, t, 0, MAXREPS));
}

static bool load(problem *P, const char *kind, const char *path) {
    char err[512] = "";
    memset(P, 0, sizeof *P);
    P->ok = true;
    bool ok;
    if (!strcmp(kind, "gmm")) {
        P->kind = GMM;
        ok = adb_gmm_read(path, &P->g, err, sizeof err);
        if (ok) ok = (P->grad = malloc((size_t)adb_gmm_nparams(&P->g) * sizeof *P->grad));
    } else if (!strcmp(kind, "lstm")) {
        P->kind = LSTM;
        ok = adb_lstm_read(path, &P->s, err, sizeof err);
        if (ok) ok = (P->grad = malloc((size_t)adb_lstm_nparams(&P->s) * sizeof *P->grad));
    } else if (!strcmp(kind, "ba")) {
        P->kind = BA;
        ok = adb_ba_read(path, &P->b, err, sizeof err) && adb_ba_jac_alloc(&P->J, &P->b);
        if (ok) {
            P->reproj = malloc((size_t)P->b.p * 2 * sizeof *P->reproj);
            P->werr = malloc((size_t)P->b.p * sizeof *P->werr);
            ok = P->reproj && P->werr;
        }
    } else {
        snprintf(err, sizeof err, "unknown problem '%s' (gmm, lstm or ba)", kind);
        ok = false;
    }
    if (ok) ok = (P->tape = tg_tape_new()) != NULL;
    if (!ok) fprintf(stderr, "adbench: %s\n", err[0] ? err : "out of memory");
    return ok;
}

static void unload(problem *P) {
    adb_gmm_free(&P->g), adb_lstm_free(&P->s), adb_ba_free(&P->b), adb_ba_jac_free(&P->J);
    free(P->grad), free(P->reproj), free(P->werr);
    tg_tape_free(P->tape);
}

/* "dir/NAME.txt" -> NAME (into out) */
static void base_name(const char *path, char *out, size_t n) {
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    size_t len = strlen(s);
    if (len > 4 && !strcmp(s + len - 4, ".txt")) len -= 4;
    snprintf(out, n, "%.*s", (int)len, s);
}

static int write_outputs(problem *P, const char *input, const char *dir) {
    char name[256], path[1024];
    base_name(input, name, sizeof name);
    double t_obj = time_it(P, 1), t_der = time_it(P, 2);
    if (!P->ok) {
        fprintf(stderr, "adbench: tapegrad: %s\n", tg_tape_error(P->tape));
        return 1;
    }
    bool ok = true;
    snprintf(path, sizeof path, "%s/%s_F_tapegrad.txt", dir, name);
    if (P->kind == BA) ok &= adb_write_ba_f(path, P->reproj, P->werr, P->b.p);
    else ok &= adb_write_values(path, &P->f, 1);
    snprintf(path, sizeof path, "%s/%s_J_tapegrad.txt", dir, name);
    if (P->kind == BA) ok &= adb_write_ba_j(path, &P->J);
    else
        ok &= adb_write_values(path, P->grad, P->kind == GMM ? adb_gmm_nparams(&P->g)
                                                             : adb_lstm_nparams(&P->s));
    snprintf(path, sizeof path, "%s/%s_times_tapegrad.txt", dir, name);
    ok &= adb_write_times(path, t_obj, t_der);
    if (!ok) fprintf(stderr, "adbench: cannot write the output files in %s\n", dir);
    return ok ? 0 : 1;
}

/* the line's name: adbench_gmm_d2_K5, adbench_lstm_l2_c1024, adbench_ba_1 */
static void line_name(const problem *P, const char *input, char *out, size_t n) {
    char name[256];
    base_name(input, name, sizeof name);
    if (P->kind == GMM) snprintf(out, n, "adbench_gmm_d%d_K%d", P->g.d, P->g.k);
    else if (P->kind == LSTM) snprintf(out, n, "adbench_lstm_l%d_c%d", P->s.l, P->s.c);
    else {
        int k = 0;
        if (sscanf(name, "ba%d_", &k) == 1) snprintf(out, n, "adbench_ba_%d", k);
        else snprintf(out, n, "adbench_ba_%s", name);
    }
}

/* bench_alternate's block: k gradients into t, CPU seconds each. */
static bool tg_block(void *ctx, int config, int k, double *t) {
    problem *P = ctx;
    (void)config;
    for (int i = 0; i < k; i++) {
        double t0 = adb_cpu_now();
        run_once(P, 2);
        t[i] = adb_cpu_now() - t0;
    }
    return P->ok;
}

static int bench(problem *P, const char *kind, const char *input) {
    char name[320];
    line_name(P, input, name, sizeof name);
    static double t[2 * MAXREPS];
    double t_c = time_it(P, 0), t_tg = -1, t_peer;
    int n = sample(P, 2, t, 0, 2 * MAXREPS);
    if (!P->ok) {
        fprintf(stderr, "adbench: tapegrad: %s\n", tg_tape_error(P->tape));
        return 1;
    }
    bool ba = P->kind == BA;
    if (ba) {
        /* tapegrad's samples in two blocks, before and after ADOL-C's,
         * pooled into one median (the VM's speed drifts over a minute) */
        t_peer = adb_adolc_ba_time(&P->b);
        n = sample(P, 2, t, n, 2 * MAXREPS);
        t_tg = bench_median(t, n);
    } else {
        /* the two sides alternate, tapegrad's blocks about 50 ms (its first
         * samples say how many gradients that is), PyTorch's a quarter of
         * as many gradients (it is the slower on every input) */
        double one = bench_median(t, n);
        int ktg = one > 0 && 0.05 / one < 200 ? (int)(0.05 / one) : 200;
        if (ktg < 1) ktg = 1;
        t_peer = adb_torch_alternate(name, kind, input, tg_block, P, ktg,
                                     ktg / 4 > 1 ? ktg / 4 : 1, &t_tg);
    }
    if (!P->ok) {
        fprintf(stderr, "adbench: tapegrad: %s\n", tg_tape_error(P->tape));
        return 1;
    }
    if (t_tg <= 0) { /* bench_alternate could not allocate its samples */
        fprintf(stderr, "adbench: %s: tapegrad's gradient was not timed\n", name);
        return 1;
    }
    const char *peer = ba ? "adolc" : "torch", *what = ba ? "jacobian" : "gradient";
    printf("%s: tapegrad %.3f ms, ", name, 1e3 * t_tg);
    if (t_peer > 0) printf("%s %.3f ms, ratio %.3f, ", peer, 1e3 * t_peer, t_tg / t_peer);
    else printf("%s %s, ", peer, ba ? "skipped" : "failed");
    printf("%s/objective %.1f\n", what, t_tg / t_c);
    fprintf(stderr, "# %s: plain-C objective %.4f ms (CPU time, median)\n", name, 1e3 * t_c);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    bool bench_mode = argc == 4 && !strcmp(argv[1], "--bench");
    if (!bench_mode && argc != 4) {
        fprintf(stderr, "usage: adbench <gmm|lstm|ba> <input.txt> <output-dir>\n"
                        "       adbench --bench <gmm|lstm|ba> <input.txt>\n");
        return 2;
    }
    const char *kind = bench_mode ? argv[2] : argv[1], *input = bench_mode ? argv[3] : argv[2];
    tg_set_num_threads(1);
    problem P;
    if (!load(&P, kind, input)) {
        unload(&P);
        return 1;
    }
    int rc = bench_mode ? bench(&P, kind, input) : write_outputs(&P, input, argv[3]);
    unload(&P);
    return rc;
}
