/* test_revolve.c - the binomial checkpointing driver (tg_revolve.h):
 * gradients equal those of one tape of the whole loop, on Lorenz-63 with
 * RK4 (0-d scalar code, f64 and f32) and a 1-D heat equation (tensors, f64
 * and f32); the number of step evaluations is the formula's, which is the
 * least any schedule needs (checked against the recursion by brute force);
 * memory stays bounded; bad arguments and out of memory inside a
 * recomputation are clean errors. */
#include "tg_test.h"

/* ------------------------------------------------------------ problems */

/* Counts step calls by recording state, to check the driver's stats. */
static long calls_rec, calls_fwd;
static void count_call(tg_tape *tape) { ++*(tg_tape_grad_enabled(tape) ? &calls_rec : &calls_fwd); }

typedef struct lorenz {
    tg_tensor *sigma, *rho, *beta; /* 0-d parameters */
    double dt;
} lorenz;

/* Lorenz-63: dx = sigma (y - x), dy = x (rho - z) - y, dz = x y - beta z. */
static void lorenz_f(const lorenz *L, tg_tensor *const *s, tg_tensor **d) {
    d[0] = tg_mul(L->sigma, tg_sub(s[1], s[0]));
    d[1] = tg_sub(tg_mul(s[0], tg_sub(L->rho, s[2])), s[1]);
    d[2] = tg_sub(tg_mul(s[0], s[1]), tg_mul(L->beta, s[2]));
}

/* One classic RK4 step. */
static void lorenz_step(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next,
                        void *ud) {
    (void)k;
    const lorenz *L = ud;
    count_call(tape);
    double h = L->dt;
    tg_tensor *k1[3], *k2[3], *k3[3], *k4[3], *t[3];
    lorenz_f(L, x, k1);
    for (int i = 0; i < 3; i++) t[i] = tg_add(x[i], tg_mul_scalar(k1[i], h / 2));
    lorenz_f(L, t, k2);
    for (int i = 0; i < 3; i++) t[i] = tg_add(x[i], tg_mul_scalar(k2[i], h / 2));
    lorenz_f(L, t, k3);
    for (int i = 0; i < 3; i++) t[i] = tg_add(x[i], tg_mul_scalar(k3[i], h));
    lorenz_f(L, t, k4);
    for (int i = 0; i < 3; i++) {
        tg_tensor *sum = tg_add(tg_add(k1[i], tg_mul_scalar(k2[i], 2)),
                                tg_add(tg_mul_scalar(k3[i], 2), k4[i]));
        next[i] = tg_add(x[i], tg_mul_scalar(sum, h / 6));
    }
}

/* Final: x^2 + 2 y^2 + 3 z^2. Every state: (x_k - 1)^2 + z_k / 10 on even k. */
static bool loss_every;
static tg_tensor *lorenz_loss(tg_tape *tape, tg_tensor *const *x, int64_t k, void *ud) {
    (void)tape, (void)ud;
    if (loss_every) {
        if (k % 2) return NULL;
        return tg_add(tg_square(tg_sub_scalar(x[0], 1)), tg_mul_scalar(x[2], 0.1));
    }
    return tg_add(tg_add(tg_square(x[0]), tg_mul_scalar(tg_square(x[1]), 2)),
                  tg_mul_scalar(tg_square(x[2]), 3));
}

typedef struct heat {
    tg_tensor *kappa; /* 0-d */
    tg_tensor *f;     /* [n]: a source */
    double dt;
} heat;

/* u' = u + dt (kappa lap(u) + tanh(f - u)), zero Dirichlet ends. */
static void heat_step(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next,
                      void *ud) {
    (void)k;
    const heat *H = ud;
    count_call(tape);
    tg_tensor *u = x[0];
    int64_t n = tg_tensor_dim(u, 0);
    tg_tensor *p = tg_pad(u, 1, (const int64_t[]){1, 1}, 0.0);
    tg_tensor *lap = tg_sub(tg_add(tg_slice(p, 0, 0, n, 1), tg_slice(p, 0, 2, n + 2, 1)),
                            tg_mul_scalar(u, 2));
    tg_tensor *rhs = tg_add(tg_mul(H->kappa, lap), tg_tanh(tg_sub(H->f, u)));
    next[0] = tg_add(u, tg_mul_scalar(rhs, H->dt));
}

static tg_tensor *heat_loss(tg_tape *tape, tg_tensor *const *x, int64_t k, void *ud) {
    (void)tape, (void)ud;
    if (loss_every) return k % 3 ? NULL : tg_mean(tg_square(tg_sub_scalar(x[0], 0.25)));
    return tg_sum(tg_mul(x[0], x[0]));
}

/* ---------------------------------------------------------- reference */

/* L and its gradient on one tape of the whole loop (tg_backward). */
static double full_tape(const tg_revolve_problem *p, int64_t N) {
    tg_tape *t = tg_tape_new();
    tg_tensor *x[4], *y[4];
    for (int i = 0; i < p->nstate; i++) x[i] = tg_param_on(t, p->x0[i]);
    tg_tensor *acc = NULL;
    for (int64_t k = 0; k <= N; k++) {
        if (p->every || k == N) {
            tg_tensor *l = p->loss(t, x, k, p->ud);
            if (l) acc = acc ? tg_add(acc, l) : l;
        }
        if (k == N) break;
        p->step(t, x, k, y, p->ud);
        for (int i = 0; i < p->nstate; i++) x[i] = y[i];
    }
    CHECK(tg_backward(acc) == TG_OK, "full tape: %s", tg_tape_error(t));
    double v = tg_item(acc);
    tg_tape_free(t);
    return v;
}

/* Copies of every parameter's gradient, flat, as doubles. */
typedef struct grads {
    double v[512];
    int n;
} grads;

static void take(grads *g, tg_tensor *const *ps, int np) {
    g->n = 0;
    for (int i = 0; i < np; i++) {
        tg_tensor *gt = tg_tensor_grad(ps[i]);
        for (int64_t j = 0; j < tg_tensor_numel(ps[i]); j++) g->v[g->n++] = tg_tensor_get(gt, j);
        tg_zero_grad(ps[i]);
    }
}

/* Max relative difference |a - b| / max(|b|, tiny) over the first `upto`
 * entries (-1: all), and whether those are bit for bit equal. */
static double rel_diff(const grads *a, const grads *b, int from, int upto, bool *same) {
    double worst = 0;
    *same = a->n == b->n;
    for (int i = from; i < (upto < 0 ? a->n : upto) && i < b->n; i++) {
        double d = fabs(a->v[i] - b->v[i]) / fmax(fabs(b->v[i]), 1e-300);
        if (d > worst) worst = d;
        if (memcmp(&a->v[i], &b->v[i], sizeof(double))) *same = false;
    }
    return worst;
}

/* Runs the driver for every s in ss against the full tape: the state's
 * gradient (the first nx entries) bit for bit, the parameters' within
 * tol; every s gives bit for bit the same as the others. */
static void compare(const char *name, const tg_revolve_problem *p, tg_tensor *const *ps,
                    int np, int nx, int64_t N, const int *ss, int nss, double tol) {
    grads ref, got, first;
    double lref = full_tape(p, N);
    take(&ref, ps, np);
    tg_tape *t = tg_tape_new();
    for (int j = 0; j < nss; j++) {
        tg_revolve_stats st;
        calls_rec = calls_fwd = 0;
        tg_status rc = tg_revolve(t, p, N, ss[j], &st);
        CHECK(rc == TG_OK, "%s s=%d: %s", name, ss[j], tg_tape_error(t));
        take(&got, ps, np);
        bool same;
        double d = rel_diff(&got, &ref, 0, nx, &same);
        CHECK(same, "%s s=%d: d L / d x0 differs from the full tape (rel %.3g)", name, ss[j], d);
        d = rel_diff(&got, &ref, nx, -1, &same);
        CHECK(d <= tol, "%s s=%d: parameter gradients differ by %.3g relative (tol %.3g)",
              name, ss[j], d, tol);
        CHECK(fabs(st.loss - lref) <= tol * fabs(lref), "%s s=%d: loss %.17g, full tape %.17g",
              name, ss[j], st.loss, lref);
        CHECK(st.recorded == N && calls_rec == N, "%s s=%d: %lld (%ld) recorded steps, N = %lld",
              name, ss[j], (long long)st.recorded, calls_rec, (long long)N);
        CHECK(st.advances == tg_revolve_advances(N, ss[j]) && calls_fwd == st.advances,
              "%s s=%d: %lld (%ld) advances, formula %lld", name, ss[j],
              (long long)st.advances, calls_fwd, (long long)tg_revolve_advances(N, ss[j]));
        CHECK(st.snapshots_used <= ss[j], "%s s=%d: %d snapshots used", name, ss[j],
              st.snapshots_used);
        if (j == 0) first = got;
        else {
            rel_diff(&got, &first, 0, -1, &same);
            CHECK(same, "%s s=%d: not bit for bit the same as s=%d", name, ss[j], ss[0]);
        }
    }
    tg_tape_free(t);
}

static tg_tensor *param0(tg_dtype dt, double v) {
    tg_tensor *p = tg_param_new(dt, 0, NULL);
    if (dt == TG_F32) *tg_tensor_f32(p) = (float)v;
    else *tg_tensor_f64(p) = v;
    return p;
}

static void test_lorenz(tg_dtype dt, bool every, int64_t N) {
    lorenz L = {param0(dt, 10), param0(dt, 28), param0(dt, 8.0 / 3), 0.002};
    tg_tensor *x0[3] = {param0(dt, 1), param0(dt, 1.5), param0(dt, 20)};
    tg_tensor *ps[6] = {x0[0], x0[1], x0[2], L.sigma, L.rho, L.beta};
    tg_revolve_problem p = {3, x0, lorenz_step, lorenz_loss, every, &L};
    loss_every = every;
    const int ss[] = {1, 2, 3, 5, 8, 40, (int)N, (int)N + 7};
    char name[64];
    snprintf(name, sizeof name, "lorenz %s%s", tg_dtype_name(dt), every ? " every" : "");
    /* f64: <= 1e-12; f32: the per-step sums of parameter gradients round
     * differently from one tape's */
    compare(name, &p, ps, 6, 3, N, ss, 8, dt == TG_F64 ? 1e-12 : 1e-4);
    for (int i = 0; i < 6; i++) tg_param_free(ps[i]);
}

static void test_heat(tg_dtype dt, bool every, int64_t N) {
    enum { n = 24 };
    heat H = {param0(dt, 0.3), tg_param_new(dt, 1, (const int64_t[]){n}), 0.1};
    tg_tensor *u0 = tg_param_new(dt, 1, (const int64_t[]){n});
    for (int i = 0; i < n; i++) {
        double a = sin(0.3 * i) + 0.5, b = cos(0.7 * i) * 0.2;
        if (dt == TG_F32) tg_tensor_f32(u0)[i] = (float)a, tg_tensor_f32(H.f)[i] = (float)b;
        else tg_tensor_f64(u0)[i] = a, tg_tensor_f64(H.f)[i] = b;
    }
    tg_tensor *ps[3] = {u0, H.kappa, H.f};
    tg_revolve_problem p = {1, &u0, heat_step, heat_loss, every, &H};
    loss_every = every;
    const int ss[] = {1, 2, 4, 7, (int)N};
    char name[64];
    snprintf(name, sizeof name, "heat %s%s", tg_dtype_name(dt), every ? " every" : "");
    compare(name, &p, ps, 3, n, N, ss, 5, dt == TG_F64 ? 1e-12 : 1e-4);
    for (int i = 0; i < 3; i++) tg_param_free(ps[i]);
}

/* ------------------------------------------------------------ schedule */

/* The recursion the schedule minimizes, solved by brute force:
 * F(1, s) = 0, F(l, 1) = l (l - 1) / 2,
 * F(l, s) = min over 1 <= m < l of m + F(l - m, s - 1) + F(m, s). */
enum { LMAX = 60, SMAX = 7 };
static void test_formula(void) {
    static int64_t F[LMAX + 1][SMAX + 1];
    for (int s = 1; s <= SMAX; s++)
        for (int l = 1; l <= LMAX; l++) {
            if (l == 1) F[l][s] = 0;
            else if (s == 1) F[l][s] = (int64_t)l * (l - 1) / 2;
            else {
                int64_t best = INT64_MAX;
                for (int m = 1; m < l; m++) {
                    int64_t c = m + F[l - m][s - 1] + F[m][s];
                    if (c < best) best = c;
                }
                F[l][s] = best;
            }
        }
    int bad = 0;
    for (int s = 1; s <= SMAX; s++)
        for (int l = 1; l <= LMAX; l++)
            if (tg_revolve_advances(l, s) != F[l][s] && bad++ < 5)
                CHECK(0, "advances(%d, %d) = %lld, the recursion gives %lld", l, s,
                      (long long)tg_revolve_advances(l, s), (long long)F[l][s]);
    CHECK(bad == 0, "%d of %d formula values differ from the recursion", bad, LMAX * SMAX);
    CHECK(tg_revolve_advances(0, 3) == 0 && tg_revolve_advances(1, 1) == 0, "N = 0, 1");
    CHECK(tg_revolve_advances(1000, 1) == 499500, "s = 1: N (N - 1) / 2");
    CHECK(tg_revolve_advances(1000, 999) == 999 && tg_revolve_advances(1000, 5000) == 999,
          "s >= N - 1: N - 1");
    /* the bench's case: r = 4 (C(103, 3) < 2e5 <= C(104, 4)), 4 N - C(104, 3) */
    CHECK(tg_revolve_advances(200000, 100) == 800000 - 182104, "advances(2e5, 100) = %lld",
          (long long)tg_revolve_advances(200000, 100));
    CHECK(tg_revolve_advances(-1, 3) == -1 && tg_revolve_advances(5, 0) == -1, "bad arguments");
    CHECK(tg_revolve_advances(INT64_MAX / 2, 1) == -1, "overflow gives -1");
}

/* The driver's count for many (N, s), with a cheap 0-d step. */
static void count_step(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next,
                       void *ud) {
    (void)ud;
    count_call(tape);
    next[0] = tg_add_scalar(tg_mul_scalar(x[0], 0.999), 0.001 * (double)(k % 7));
}
static tg_tensor *count_loss(tg_tape *tape, tg_tensor *const *x, int64_t k, void *ud) {
    (void)tape, (void)k, (void)ud;
    return tg_square(x[0]);
}

static void test_counts(void) {
    tg_tensor *x0 = param0(TG_F64, 0.5);
    tg_revolve_problem p = {1, &x0, count_step, count_loss, false, NULL};
    tg_tape *t = tg_tape_new();
    const int64_t Ns[] = {0, 1, 2, 3, 10, 37, 100, 333};
    const int ss[] = {1, 2, 3, 4, 6, 10, 50, 400};
    double g_ref = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            int64_t N = Ns[i];
            int s = ss[j];
            calls_rec = calls_fwd = 0;
            tg_revolve_stats st;
            CHECK(tg_revolve(t, &p, N, s, &st) == TG_OK, "N=%lld s=%d: %s", (long long)N, s,
                  tg_tape_error(t));
            CHECK(calls_rec == N && calls_fwd == tg_revolve_advances(N, s),
                  "N=%lld s=%d: %ld recorded, %ld advances; formula %lld", (long long)N, s,
                  calls_rec, calls_fwd, (long long)tg_revolve_advances(N, s));
            CHECK(st.snapshots_used <= (N > 0 && s > N ? N : s) && st.snapshots_used >= 1,
                  "N=%lld s=%d: %d snapshots", (long long)N, s, st.snapshots_used);
            /* d x_N^2 / d x0 = 2 x_N 0.999^N: every s gives the same bits */
            double g = tg_grad_item(x0);
            tg_zero_grad(x0);
            if (j == 0) g_ref = g;
            CHECK(g == g_ref, "N=%lld s=%d: gradient %.17g, s=1 gave %.17g", (long long)N, s, g,
                  g_ref);
        }
    /* memory: one step's records, whatever N */
    tg_revolve_stats a, b;
    tg_revolve(t, &p, 10, 4, &a);
    tg_revolve(t, &p, 5000, 4, &b);
    CHECK(a.tape_peak > 0 && b.tape_peak == a.tape_peak, "tape peak %zu for N=10, %zu for N=5000",
          a.tape_peak, b.tape_peak);
    CHECK(b.snapshot_bytes == a.snapshot_bytes, "snapshot bytes %zu, %zu", a.snapshot_bytes,
          b.snapshot_bytes);
    tg_zero_grad(x0);
    tg_tape_free(t);
    tg_param_free(x0);
}

/* --------------------------------------------------------------- errors */

static tg_tensor *big_loss(tg_tape *tape, tg_tensor *const *x, int64_t k, void *ud) {
    (void)k, (void)ud;
    return tg_add(x[0], tg_zeros(tape, TG_F64, TG_SHAPE(2)));
}
static void wrong_step(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next,
                       void *ud) {
    (void)ud;
    next[0] = k == 3 ? tg_zeros(tape, TG_F64, TG_SHAPE(2)) : tg_mul_scalar(x[0], 2);
}
static void lazy_step(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next,
                      void *ud) {
    (void)tape, (void)x, (void)k, (void)ud, (void)next;
}
static void f32_step(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next,
                     void *ud) {
    (void)tape, (void)k, (void)ud;
    next[0] = tg_scalar_as(tape, TG_F32, 1.0);
    (void)x;
}

#define EXPECT(call, st, needle)                                                          \
    do {                                                                                  \
        tg_status rc_ = (call);                                                           \
        CHECK(rc_ == (st) && tg_tape_status(t) == (st), "%s: status %s, expected %s (%s)", \
              #call, tg_status_name(rc_), tg_status_name(st), tg_tape_error(t));          \
        CHECK(strstr(tg_tape_error(t), (needle)) != NULL, "%s: error \"%s\" lacks \"%s\"", \
              #call, tg_tape_error(t), (needle));                                         \
    } while (0)

static void test_errors(void) {
    tg_tensor *x0 = param0(TG_F64, 0.5);
    tg_tape *t = tg_tape_new();
    tg_tensor *onp = tg_scalar(t, 1.0);
    tg_revolve_problem p = {1, &x0, count_step, count_loss, false, NULL};
    EXPECT(tg_revolve(t, &p, 10, 0, NULL), TG_ERR_ARG, "revolve: snapshots must be >= 1, got 0");
    EXPECT(tg_revolve(t, &p, -1, 3, NULL), TG_ERR_ARG, "nsteps must be >= 0, got -1");
    p.step = NULL;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_NULL, "the step function is NULL");
    p.step = count_step, p.loss = NULL;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_NULL, "the loss function is NULL");
    p.loss = count_loss, p.nstate = 0;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_ARG, "nstate >= 1");
    p.nstate = 1, p.x0 = &onp;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_ARG, "x0[0] is a tensor on a tape");
    p.x0 = &x0, p.step = wrong_step;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_SHAPE,
           "step 3 gave next[0] f64 [2], but the state's tensor 0 is f64 []");
    p.step = lazy_step;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_NULL, "left next[0] NULL");
    p.step = f32_step;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_SHAPE, "gave next[0] f32 []");
    p.step = count_step, p.loss = big_loss;
    EXPECT(tg_revolve(t, &p, 10, 3, NULL), TG_ERR_SHAPE, "the loss at step 10 has shape [2]");
    CHECK(tg_revolve(NULL, &p, 10, 3, NULL) == TG_ERR_NULL, "NULL tape");
    EXPECT(tg_revolve(t, NULL, 10, 3, NULL), TG_ERR_NULL, "the problem is NULL");
    /* the tape works afterwards, and a good call clears nothing it should not */
    p.loss = count_loss;
    CHECK(tg_revolve(t, &p, 10, 3, NULL) == TG_OK, "after errors: %s", tg_tape_error(t));
    tg_tape_free(t);
    tg_param_free(x0);
}

/* Out of memory inside a recomputation: the allocator fails once the
 * first step has been differentiated, when an unrecorded step (a
 * recomputation) asks the tape for a block larger than it holds. */
static bool failing;
static void *f_malloc(size_t n, void *ud) { return (void)ud, failing ? NULL : malloc(n); }
static void *f_realloc(void *p, size_t n, void *ud) {
    return (void)ud, failing ? NULL : realloc(p, n);
}
static void f_free(void *p, void *ud) { (void)ud, free(p); }

static long seen_rec;
static void oom_step(tg_tape *tape, tg_tensor *const *x, int64_t k, tg_tensor **next,
                     void *ud) {
    (void)ud;
    tg_tensor *y = tg_mul_scalar(x[0], 0.5);
    if (tg_tape_grad_enabled(tape)) seen_rec++;
    else if (seen_rec > 0) {
        failing = true; /* a recomputation: grow the tape now */
        y = tg_add(y, tg_sum(tg_zeros(tape, TG_F64, TG_SHAPE(1 << 20))));
    }
    next[0] = tg_add_scalar(y, (double)k);
}

static void test_oom(void) {
    tg_set_allocator(&(tg_allocator){f_malloc, f_realloc, f_free, NULL});
    tg_tensor *x0 = param0(TG_F64, 0.5);
    tg_tape *t = tg_tape_new();
    tg_revolve_problem p = {1, &x0, oom_step, count_loss, false, NULL};
    failing = false, seen_rec = 0;
    tg_status rc = tg_revolve(t, &p, 20, 2, NULL);
    failing = false;
    CHECK(rc == TG_ERR_NOMEM && seen_rec > 0, "oom in a recomputation: %s after %ld recorded (%s)",
          tg_status_name(rc), seen_rec, tg_tape_error(t));
    CHECK(strstr(tg_tape_error(t), "out of memory") != NULL, "message: %s", tg_tape_error(t));
    /* the tape and the driver work again */
    p.step = count_step;
    tg_zero_grad(x0);
    CHECK(tg_revolve(t, &p, 20, 2, NULL) == TG_OK, "after the oom: %s", tg_tape_error(t));
    CHECK(tg_grad_item(x0) != 0, "a gradient after the oom");
    /* the snapshot store itself */
    failing = true;
    rc = tg_revolve(t, &p, 20, 2, NULL);
    failing = false;
    CHECK(rc == TG_ERR_NOMEM && strstr(tg_tape_error(t), "out of memory"), "oom at the start: %s",
          tg_tape_error(t));
    tg_tape_free(t);
    tg_param_free(x0);
    tg_set_allocator(NULL);
}

int main(void) {
    test_formula();
    test_counts();
    test_lorenz(TG_F64, false, 60);
    test_lorenz(TG_F64, true, 45);
    test_lorenz(TG_F32, false, 30);
    test_heat(TG_F64, false, 40);
    test_heat(TG_F64, true, 33);
    test_heat(TG_F32, true, 25);
    test_errors();
    test_oom();
    return TEST_DONE("revolve");
}
