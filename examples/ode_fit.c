/* ode_fit.c - fit the four parameters of a predator-prey model to noisy
 * observations, differentiating through 100,000 RK4 steps in bounded
 * memory with binomial checkpointing (tg_revolve).
 *
 * Lotka-Volterra: prey x and predators y,
 *
 *     dx/dt = a x - b x y,     dy/dt = d x y - c y,
 *
 * from (x, y) = (3, 1) over t in [0, 10], integrated by classic RK4 with
 * h = 1e-4 (100,000 steps). Observations of x and y every 2,000 steps (50
 * times) are made from the true parameters (a, b, c, d) = (1, 0.5, 1, 0.2)
 * plus 2% Gaussian noise; the fit starts 20-25% off and runs L-BFGS
 * (tg_optim.h, strong-Wolfe line search) on the logarithms of the
 * parameters (so they stay positive) against the mean squared error over
 * the observations, a loss summed over time steps. Each evaluation of the
 * loss and its gradient is one tg_revolve call.
 *
 * One tape of the whole integration would keep every step's records (the
 * example measures it once, for the first gradient); tg_revolve keeps 100
 * snapshots of the state and one step's records, and recomputes steps in
 * the reverse sweep (about 4 step evaluations per step here).
 *
 * Build and run: ninja -C build && ./build/examples/ode_fit
 *   [--steps 100000] [--iters 3] [--snapshots 100] [--no-full]
 * (--iters: L-BFGS steps of up to 10 iterations each). It prints
 * loss_first: and loss_last: and exits 1 when the loss did not fall (the
 * test suite runs it with --steps 2000 --iters 1).
 */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

enum { NOBS = 50 };

typedef struct fit {
    tg_tensor *logp[4]; /* log a, log b, log c, log d: 0-d parameters */
    double h;
    int64_t every;       /* steps between observations */
    double obs[NOBS + 1][2];
} fit;

/* The vector field at (x, y) with p = (a, b, c, d). */
static void lv(tg_tensor *const *p, tg_tensor *x, tg_tensor *y, tg_tensor **f) {
    tg_tensor *xy = tg_mul(x, y);
    f[0] = tg_sub(tg_mul(p[0], x), tg_mul(p[1], xy));
    f[1] = tg_sub(tg_mul(p[3], xy), tg_mul(p[2], y));
}

static void step(tg_tape *tape, tg_tensor *const *s, int64_t k, tg_tensor **next, void *ud) {
    (void)k;
    const fit *F = ud;
    tg_tensor *p[4];
    for (int i = 0; i < 4; i++) p[i] = tg_exp(tg_param_on(tape, F->logp[i]));
    double h = F->h;
    tg_tensor *k1[2], *k2[2], *k3[2], *k4[2];
    lv(p, s[0], s[1], k1);
    lv(p, tg_add(s[0], tg_mul_scalar(k1[0], h / 2)), tg_add(s[1], tg_mul_scalar(k1[1], h / 2)), k2);
    lv(p, tg_add(s[0], tg_mul_scalar(k2[0], h / 2)), tg_add(s[1], tg_mul_scalar(k2[1], h / 2)), k3);
    lv(p, tg_add(s[0], tg_mul_scalar(k3[0], h)), tg_add(s[1], tg_mul_scalar(k3[1], h)), k4);
    for (int i = 0; i < 2; i++) {
        tg_tensor *mid = tg_mul_scalar(tg_add(k2[i], k3[i]), 2);
        next[i] = tg_add(s[i], tg_mul_scalar(tg_add(tg_add(k1[i], mid), k4[i]), h / 6));
    }
}

/* The squared error at observation times, averaged over the observations. */
static tg_tensor *loss(tg_tape *tape, tg_tensor *const *s, int64_t k, void *ud) {
    (void)tape;
    const fit *F = ud;
    if (k == 0 || k % F->every) return NULL;
    const double *o = F->obs[k / F->every];
    tg_tensor *e = tg_add(tg_square(tg_sub_scalar(s[0], o[0])),
                          tg_square(tg_sub_scalar(s[1], o[1])));
    return tg_mul_scalar(e, 1.0 / NOBS);
}

/* The observations: the true trajectory (plain doubles, the same RK4) + noise. */
static void observe(fit *F, const double *p, int64_t N, double x, double y) {
    tg_rng rng;
    tg_rng_seed(&rng, 42);
    double h = F->h;
    for (int64_t k = 1; k <= N; k++) {
        double s[2] = {x, y}, kk[4][2];
        for (int j = 0; j < 4; j++) {
            double c = j == 0 ? 0 : j == 3 ? h : h / 2;
            double u = s[0] + (j ? c * kk[j - 1][0] : 0), v = s[1] + (j ? c * kk[j - 1][1] : 0);
            kk[j][0] = p[0] * u - p[1] * u * v;
            kk[j][1] = p[3] * u * v - p[2] * v;
        }
        x += h / 6 * (kk[0][0] + 2 * kk[1][0] + 2 * kk[2][0] + kk[3][0]);
        y += h / 6 * (kk[0][1] + 2 * kk[1][1] + 2 * kk[2][1] + kk[3][1]);
        if (k % F->every == 0) {
            F->obs[k / F->every][0] = x * (1 + 0.02 * tg_rng_normal(&rng));
            F->obs[k / F->every][1] = y * (1 + 0.02 * tg_rng_normal(&rng));
        }
    }
}

/* The tape's peak for one gradient on a single tape of all N steps. */
static size_t full_tape_bytes(fit *F, tg_tensor *const *x0, int64_t N) {
    tg_tape *t = tg_tape_new();
    tg_tensor *s[2] = {tg_param_on(t, x0[0]), tg_param_on(t, x0[1])}, *n[2], *acc = NULL;
    for (int64_t k = 0; k < N; k++) {
        step(t, s, k, n, F);
        s[0] = n[0], s[1] = n[1];
        tg_tensor *l = loss(t, s, k + 1, F);
        if (l) acc = acc ? tg_add(acc, l) : l;
    }
    tg_backward(acc);
    size_t b = tg_tape_ok(t) ? tg_tape_bytes_peak(t) : 0;
    if (!b) fprintf(stderr, "full tape: %s\n", tg_tape_error(t));
    tg_tape_free(t);
    for (int i = 0; i < 4; i++) tg_zero_grad(F->logp[i]);
    return b;
}

typedef struct closure {
    tg_tape *tape;
    tg_revolve_problem *prob;
    fit *F;
    int64_t steps;
    int snaps;
    int evals;
    tg_revolve_stats st;
} closure;

/* What L-BFGS calls: the loss, and its gradient in the parameters'. */
static double evaluate(void *ud) {
    closure *c = ud;
    for (int i = 0; i < 4; i++) tg_zero_grad(c->F->logp[i]);
    if (tg_revolve(c->tape, c->prob, c->steps, c->snaps, &c->st) != TG_OK) {
        fprintf(stderr, "ode_fit: %s\n", tg_tape_error(c->tape));
        return NAN;
    }
    c->evals++;
    return c->st.loss;
}

int main(int argc, char **argv) {
    struct { long steps, iters, snaps; int no_full; } args = {100000, 3, 100, 0};
    const ex_flag flags[] = {{"--steps", EX_INT, &args.steps, "RK4 steps over t in [0, 10]"},
                             {"--iters", EX_INT, &args.iters, "L-BFGS steps (of <= 10 iterations)"},
                             {"--snapshots", EX_INT, &args.snaps, "states tg_revolve may keep"},
                             {"--no-full", EX_BOOL, &args.no_full, "skip measuring one full tape"}};
    EX_PARSE(argc, argv, "Fit Lotka-Volterra parameters through a long RK4 integration.", flags);
    long steps = args.steps, iters = args.iters, snaps = args.snaps;
    int no_full = args.no_full;
    if (steps < NOBS || steps % NOBS || iters < 1 || snaps < 1) {
        fprintf(stderr, "ode_fit: --steps must be a positive multiple of %d\n", NOBS);
        return 2;
    }
    const double truth[4] = {1.0, 0.5, 1.0, 0.2}, start[4] = {0.8, 0.6, 1.25, 0.25};
    const char *names[4] = {"a", "b", "c", "d"};
    fit F = {.h = 10.0 / (double)steps, .every = steps / NOBS};
    tg_tensor *x0[2] = {tg_param_new(TG_F64, 0, NULL), tg_param_new(TG_F64, 0, NULL)};
    *tg_tensor_f64(x0[0]) = 3, *tg_tensor_f64(x0[1]) = 1;
    tg_params *ps = tg_params_new(TG_F64);
    for (int i = 0; i < 4; i++) {
        F.logp[i] = tg_params_add(ps, names[i], 0, NULL, 0);
        if (!F.logp[i]) return fprintf(stderr, "ode_fit: %s\n", tg_params_error(ps)), 1;
        *tg_tensor_f64(F.logp[i]) = log(start[i]);
    }
    observe(&F, truth, steps, 3, 1);

    tg_revolve_problem prob = {2, x0, step, loss, true, &F};
    closure c = {.tape = tg_tape_new(), .prob = &prob, .F = &F, .steps = steps,
                 .snaps = (int)snaps};
    tg_lbfgs_opts o = TG_LBFGS_DEFAULTS;
    o.max_iter = 10, o.strong_wolfe = true;
    tg_optim *opt = tg_lbfgs_new(ps, 1.0, &o);
    double first = evaluate(&c), last = first, t0 = ex_now();
    printf("start     loss %.6f\n", first);
    for (long it = 1; it <= iters && last == last; it++) {
        tg_lbfgs_step(opt, evaluate, &c);
        last = evaluate(&c);
        printf("step %2ld   loss %.6f  (%d evaluations so far)\n", it, last, c.evals);
    }
    printf("%d gradients through %ld RK4 steps in %.1f s (wall clock)\n", c.evals, steps,
           ex_now() - t0);
    printf("parameter  true    start   fitted\n");
    for (int i = 0; i < 4; i++)
        printf("%-9s  %.4f  %.4f  %.4f\n", names[i], truth[i], start[i],
               exp(*tg_tensor_f64(F.logp[i])));
    printf("per gradient: %lld recorded + %lld recomputed steps\n", (long long)c.st.recorded,
           (long long)c.st.advances);
    printf("memory with checkpointing: tape peak %.1f KB + %d snapshots %.1f KB\n",
           c.st.tape_peak / 1024.0, c.st.snapshots_used, c.st.snapshot_bytes / 1024.0);
    if (!no_full)
        printf("memory without: one tape of all steps, peak %.1f MB\n",
               full_tape_bytes(&F, x0, steps) / 1048576.0);
    printf("loss_first: %.6f\nloss_last: %.6f\n", first, last);
    tg_optim_free(opt);
    tg_tape_free(c.tape);
    tg_params_free(ps);
    tg_param_free(x0[0]), tg_param_free(x0[1]);
    return last < first ? 0 : 1;
}
