/* peer.c - running the ADBench bench lines' peers (adbench_peer.h). */
#include "adbench_peer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../peer.h"

double adb_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double adb_torch_alternate(const char *what, const char *kind, const char *input,
                           bench_tg_block tg, void *ctx, int ktg, int kpeer, double *tg_best) {
    const char *dir = getenv("TG_BENCH_DIR");
    char script[1024], args[2048];
    snprintf(script, sizeof script, "%s/adbench_torch.py", dir ? dir : TG_BENCH_SRC);
    snprintf(args, sizeof args, "%s '%s'", kind, input);
    static const char *const name[1] = {"1 thread"};
    return bench_alternate(what, script, args, 1, name, tg, ctx, ADB_ROUNDS, ktg, kpeer, 0.15,
                           tg_best);
}

#ifdef ADB_HAVE_ADOLC
/* ba_adolc.cpp: one observation's two reprojection errors and weight error
 * taped by ADOL-C, and their 3 x 15 Jacobian (rows err0, err1, werr); keep:
 * the trace keeps its values and fov_reverse runs at once (else the
 * jacobian() driver, which runs a forward sweep first). */
void adb_adolc_ba_obs(const double *cam, const double *X, double w, const double *feat,
                      double *jac /* (3, 15) */, int keep);

/* The largest difference of ADOL-C's Jacobian of the last observation
 * (jac) from tapegrad's. */
static double ba_diff(const adb_ba *b, const double *jac) {
    tg_tape *tape = tg_tape_new();
    adb_ba_jac J = {0};
    double *reproj = malloc((size_t)b->p * 3 * sizeof *reproj), maxdiff = 0;
    int last = b->p - 1;
    if (!tape || !reproj || !adb_ba_jac_alloc(&J, b)) {
        tg_tape_free(tape), free(reproj);
        return INFINITY;
    }
    adb_ba_jacobian_range(tape, b, last, b->p, reproj, reproj + 2 * b->p, &J);
    free(reproj);
    for (int j = 0; j < 30; j++) {
        double v = J.vals[30 * (size_t)last + j];
        maxdiff = fmax(maxdiff, fabs(v - jac[j]) / (1 + fabs(v)));
    }
    maxdiff = fmax(maxdiff, fabs(J.vals[30 * (size_t)b->p + last] - jac[44]));
    adb_ba_jac_free(&J);
    tg_tape_free(tape);
    return maxdiff;
}

/* ADOL-C's best of its two ways (keep 0, 1): median of 5 runs over every
 * observation, each checked against tapegrad's Jacobian. */
double adb_adolc_ba_time(const adb_ba *b) {
    enum { runs = 5 };
    static const char *const way[2] = {"trace then jacobian()",
                                       "trace keeping its values then fov_reverse"};
    double best = -1;
    for (int keep = 0; keep < 2; keep++) {
        double t[runs], jac[45];
        for (int r = -1; r < runs; r++) {
            double t0 = adb_cpu_now();
            for (int i = 0; i < b->p; i++)
                adb_adolc_ba_obs(b->cams + ADB_BA_NCAM * b->obs[2 * i],
                                 b->X + 3 * b->obs[2 * i + 1], b->w[i], b->feats + 2 * i, jac,
                                 keep);
            if (r >= 0) t[r] = adb_cpu_now() - t0;
        }
        double maxdiff = ba_diff(b, jac), m = bench_median(t, runs);
        fprintf(stderr, "# adolc ba, %s: %.4f ms, max difference from tapegrad's Jacobian %.2g\n",
                way[keep], 1e3 * m, maxdiff);
        if (!(maxdiff < 1e-12)) return -1;
        if (best < 0 || m < best) best = m;
    }
    return best;
}
#else
double adb_adolc_ba_time(const adb_ba *b) {
    (void)b;
    return -1;
}
#endif
