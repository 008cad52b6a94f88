/* test_gemm.c - the GEMM kernels and the thread pool (ops/kernels/).
 *
 * Every SIMD level this CPU runs (forced one by one; TG_SIMD=<level> tests
 * that level alone, or skips with 77 where it is missing), both dtypes, all
 * four transpose combinations, odd sizes (0, 1, 7, 33, 257 and shapes that
 * cross the cache blocks), padded leading dimensions, and alpha/beta cases
 * including beta = 0 over a NaN-filled C, checked against a naive
 * double-precision reference with a rounding-error bound. Then the pool:
 * exact coverage, nesting, concurrent callers, no allocation once warm, and
 * a worker woken late (its piece run by the caller, the same bits).
 *
 * Links the static library (the kernels are hidden in the shared one).
 * TG_TEST_QUICK=1 drops the largest shapes (for valgrind).
 */
#include "tg_internal.h"
#include "tg_kernels.h"

#include "tg_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static _Thread_local uint64_t rng_state = 0x9e3779b97f4a7c15u;
static double urand(void) { /* in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

typedef struct shape {
    int64_t M, N, K;
} shape;

/* One GEMM of either dtype through doubles: operands are stored as T, the
 * reference is computed in double from the stored values, and the error
 * is bounded by (K + 2) * eps * (|alpha| sum |a||b| + |beta c|), doubled. */
static bool run_case(bool f64, bool ta, bool tb, shape s, double alpha, double beta,
                     bool nan_c, int pad) {
    int64_t M = s.M, N = s.N, K = s.K;
    int64_t ar = ta ? K : M, ac = ta ? M : K; /* A stored ar x ac */
    int64_t br = tb ? N : K, bc = tb ? K : N;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    size_t es = f64 ? sizeof(double) : sizeof(float);
    size_t na = (size_t)(ar * lda + 1), nb = (size_t)(br * ldb + 1), nc = (size_t)(M * ldc + 1);
    void *A = malloc(na * es), *B = malloc(nb * es), *C = malloc(nc * es);
    double *C0 = malloc(nc * sizeof(double));
    bool ok = A && B && C && C0;
    if (!ok) goto out;

#define SET(P, i, v) (f64 ? (void)(((double *)(P))[i] = (v)) : (void)(((float *)(P))[i] = (float)(v)))
#define GET(P, i) (f64 ? ((const double *)(P))[i] : (double)((const float *)(P))[i])
    for (size_t i = 0; i < na; i++) SET(A, i, urand());
    for (size_t i = 0; i < nb; i++) SET(B, i, urand());
    for (size_t i = 0; i < nc; i++) {
        SET(C, i, nan_c ? NAN : urand());
        C0[i] = GET(C, i);
    }
    /* padding and the word after C must survive: mark them */
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = N; j < ldc; j++) SET(C, i * ldc + j, 12345.0), C0[i * ldc + j] = 12345.0;
    SET(C, nc - 1, 12345.0);
    C0[nc - 1] = 12345.0;

    if (f64)
        tg__gemm_f64(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        tg__gemm_f32(ta, tb, M, N, K, (float)alpha, A, lda, B, ldb, (float)beta, C, ldc);

    double eps = f64 ? 0x1p-53 : 0x1p-24;
    for (int64_t i = 0; i < M && ok; i++) {
        for (int64_t j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int64_t p = 0; p < K; p++) {
                double a = GET(A, ta ? p * lda + i : i * lda + p);
                double b = GET(B, tb ? j * ldb + p : p * ldb + j);
                ref += a * b;
                mag += fabs(a * b);
            }
            ref *= alpha;
            mag *= fabs(alpha);
            if (beta != 0) {
                ref += beta * C0[i * ldc + j];
                mag += fabs(beta * C0[i * ldc + j]);
            }
            double got = GET(C, i * ldc + j);
            double tol = 2 * (double)(K + 2) * eps * mag + 1e-300;
            if (!(fabs(got - ref) <= tol)) {
                fprintf(stderr, "  C[%lld,%lld] = %.9g, want %.9g (tol %.3g)\n", (long long)i,
                        (long long)j, got, ref, tol);
                ok = false;
                break;
            }
        }
        for (int64_t j = N; j < ldc; j++)
            if (GET(C, i * ldc + j) != 12345.0) {
                fprintf(stderr, "  padding C[%lld,%lld] written\n", (long long)i, (long long)j);
                ok = false;
            }
    }
    if (GET(C, nc - 1) != 12345.0) ok = false;
#undef SET
#undef GET
out:
    free(A);
    free(B);
    free(C);
    free(C0);
    return ok;
}

static void test_level(int level, bool quick) {
    tg__simd_force(level);
    tg_simd got = tg_simd_level();
    CHECK((int)got == level, "forcing %s gave %s", tg_simd_name(level), tg_simd_name(got));
    const char *ln = tg_simd_name(got);

    static const shape small[] = {
        {1, 1, 1},   {7, 7, 7},    {33, 33, 33}, {1, 7, 33},   {7, 33, 1},   {33, 1, 7},
        {33, 7, 1},  {1, 33, 7},   {7, 1, 33},   {0, 7, 7},    {7, 0, 7},    {7, 7, 0},
        {0, 0, 0},   {6, 16, 5},   {12, 32, 3},  {13, 17, 19}, {64, 100, 78}, {2, 300, 40},
        {16, 70, 230}, /* few rows: B read in place, a short last row panel, crosses KC */
    };
    static const shape big[] = {
        {257, 33, 7}, {7, 257, 33}, {33, 7, 257}, {257, 257, 33}, {257, 1, 257},
        {1, 257, 257}, {250, 70, 530}, /* crosses KC and MC, threaded */
        {5, 4100, 9},                   /* crosses NC */
        {21, 257, 530},                 /* two row panels, B in place, crosses KC */
    };
    static const double ab[][3] = { /* alpha, beta, NaN-filled C */
        {1, 0, 1}, {1, 1, 0}, {0.5, -1.5, 0}, {-2, 0, 1}, {0, 2, 0}, {0, 0, 1},
    };
    int pads[] = {0, 3};
    for (int f64 = 0; f64 < 2; f64++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t >> 1;
            for (size_t si = 0; si < sizeof small / sizeof *small; si++)
                for (size_t k = 0; k < sizeof ab / sizeof *ab; k++) {
                    shape s = small[si];
                    int pad = pads[(si + k) % 2];
                    CHECK(run_case(f64, ta, tb, s, ab[k][0], ab[k][1], ab[k][2], pad),
                          "%s %s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%d", ln,
                          f64 ? "f64" : "f32", ta, tb, (long long)s.M, (long long)s.N,
                          (long long)s.K, ab[k][0], ab[k][1], pad);
                }
            size_t nbig = quick ? 3 : sizeof big / sizeof *big;
            for (size_t si = 0; si < nbig; si++) {
                shape s = big[si];
                int k = (int)(si + (size_t)t) % 3; /* a few alpha/beta cases each */
                CHECK(run_case(f64, ta, tb, s, ab[k][0], ab[k][1], ab[k][2], 1),
                      "%s %s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g", ln,
                      f64 ? "f64" : "f32", ta, tb, (long long)s.M, (long long)s.N,
                      (long long)s.K, ab[k][0], ab[k][1]);
            }
        }
}

/* tg__gemm_pa: op(A) packed once (tg__gemm_pa_pack) and used for two
 * products in a row, against a naive reference with run_case's bound and,
 * where tg__gemm runs the native kernels (no -Dblas), against tg__gemm's
 * bits (the same blocks, kernel and order) where tg__gemm takes its blocked
 * path. Shapes cross KC and MC. */
static bool run_packed_a(int level, bool f64, bool ta, shape s, double beta) {
    int64_t M = s.M, N = s.N, K = s.K, lda = (ta ? M : K) + 1, ldb = N + 2, ldc = N + 1;
    size_t es = f64 ? sizeof(double) : sizeof(float);
    size_t na = (size_t)((ta ? K : M) * lda), nb = (size_t)(K * ldb), nc = (size_t)(M * ldc);
    size_t npa = tg__gemm_pa_size(f64, level, M, K), npb = tg__gemm_pb_size(f64, level, N, K);
    void *A = malloc(na * es), *B = malloc(nb * es), *C = malloc(nc * es), *C1 = malloc(nc * es);
    void *Ap = malloc(npa * es + 64), *Bp = aligned_alloc(64, (npb * es + 63) / 64 * 64);
    bool ok = A && B && C && C1 && Ap && Bp;
#define SET(P, i, v) (f64 ? (void)(((double *)(P))[i] = (v)) : (void)(((float *)(P))[i] = (float)(v)))
#define GET(P, i) (f64 ? ((const double *)(P))[i] : (double)((const float *)(P))[i])
    if (ok) {
        for (size_t i = 0; i < na; i++) SET(A, i, urand());
        for (size_t i = 0; i < nb; i++) SET(B, i, urand());
        for (size_t i = 0; i < nc; i++) SET(C, i, beta == 0 ? NAN : urand());
        memcpy(C1, C, nc * es);
        tg__gemm_pa_pack(f64, level, ta, M, K, A, lda, Ap);
        for (int rep = 0; rep < 2; rep++) { /* the packed A is read, not used up */
            if (rep) memcpy(C, C1, nc * es);
            tg__gemm_pa(f64, level, M, N, K, Ap, B, ldb, beta, C, ldc, Bp);
        }
        double eps = f64 ? 0x1p-53 : 0x1p-24;
        for (int64_t i = 0; i < M && ok; i++)
            for (int64_t j = 0; j < N && ok; j++) {
                double ref = 0, mag = 0;
                for (int64_t p = 0; p < K; p++) {
                    double a = GET(A, ta ? p * lda + i : i * lda + p), b = GET(B, p * ldb + j);
                    ref += a * b, mag += fabs(a * b);
                }
                if (beta != 0) ref += beta * GET(C1, i * ldc + j), mag += fabs(beta * GET(C1, i * ldc + j));
                double got = GET(C, i * ldc + j);
                ok = fabs(got - ref) <= 2 * (double)(K + 2) * eps * mag + 1e-300;
                if (!ok)
                    fprintf(stderr, "  C[%lld,%lld] = %.9g, want %.9g\n", (long long)i,
                            (long long)j, got, ref);
            }
#if !defined(TG_HAVE_CBLAS) /* tg__gemm's blocked path: not the direct loops or GEMV */
        if (M > 1 && N > 1 && (double)M * (double)N * (double)K > 4096) {
            tg__gemm(f64, ta, false, M, N, K, A, lda, B, ldb, beta, C1, ldc);
            for (int64_t i = 0; i < M && ok; i++)
                if (memcmp((char *)C + (size_t)(i * ldc) * es, (char *)C1 + (size_t)(i * ldc) * es,
                           (size_t)N * es)) {
                    fprintf(stderr, "  row %lld differs from tg__gemm's bits\n", (long long)i);
                    ok = false;
                }
        }
#endif
    }
#undef SET
#undef GET
    free(A), free(B), free(C), free(C1), free(Ap), free(Bp);
    return ok;
}

static void test_packed_a(int level, bool quick) {
    static const shape sh[] = {{64, 121, 288}, {288, 121, 64}, {13, 17, 19}, {1, 9, 5},
                               {400, 70, 530}, {7, 4100, 3}};
    size_t n = quick ? 4 : sizeof sh / sizeof *sh;
    for (int f64 = 0; f64 < 2; f64++)
        for (int ta = 0; ta < 2; ta++)
            for (size_t i = 0; i < n; i++)
                for (int b = 0; b < 2; b++)
                    CHECK(run_packed_a(level, f64, ta, sh[i], b ? 1.5 : 0),
                          "packed A: %s %s ta=%d M=%lld N=%lld K=%lld beta=%g",
                          tg_simd_name(level), f64 ? "f64" : "f32", ta, (long long)sh[i].M,
                          (long long)sh[i].N, (long long)sh[i].K, b ? 1.5 : 0);
}

/* ------------------------------------------------------------------ pool */

typedef struct cover {
    int64_t n;
    atomic_int *hits;
    atomic_int calls;
    atomic_llong min_piece;
} cover;

static void cover_fn(void *ctx, int64_t lo, int64_t hi) {
    cover *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    long long m = atomic_load(&c->min_piece);
    while (hi - lo < m && !atomic_compare_exchange_weak(&c->min_piece, &m, hi - lo)) {}
    for (int64_t i = lo; i < hi; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void nested_fn(void *ctx, int64_t lo, int64_t hi) {
    cover *c = ctx;
    for (int64_t i = lo; i < hi; i++) {
        /* a parallel_for inside a piece runs inline and must not deadlock */
        cover inner = {1, &c->hits[i], 0, 1};
        tg__parallel_for(1, 1, cover_fn, &inner);
    }
}

static void test_pool(void) {
    static const int64_t ns[][2] = {{0, 1}, {1, 1}, {2, 1}, {3, 1}, {17, 4}, {1000, 7},
                                    {1000, 1000}, {1001, 2000}, {5, 0}};
    for (int th = 1; th <= 3; th++) {
        tg_set_num_threads(th);
        CHECK(tg_get_num_threads() == th, "tg_get_num_threads() = %d, want %d",
              tg_get_num_threads(), th);
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            int64_t n = ns[k][0], grain = ns[k][1];
            atomic_int *hits = calloc((size_t)n + 1, sizeof *hits);
            cover c = {n, hits, 0, INT64_MAX};
            tg__parallel_for(n, grain, cover_fn, &c);
            bool once = true;
            for (int64_t i = 0; i < n; i++) once &= atomic_load(&hits[i]) == 1;
            int calls = atomic_load(&c.calls);
            CHECK(once && calls <= th && (n == 0 || calls >= 1) &&
                      (calls <= 1 || atomic_load(&c.min_piece) >= (grain > 0 ? grain : 1)),
                  "parallel_for n=%lld grain=%lld threads=%d: coverage %d, %d pieces",
                  (long long)n, (long long)grain, th, once, calls);
            free(hits);
        }
    }
    atomic_int hits[64] = {0};
    cover c = {64, hits, 0, INT64_MAX};
    tg__parallel_for(64, 1, nested_fn, &c);
    bool once = true;
    for (int i = 0; i < 64; i++) once &= atomic_load(&hits[i]) == 1;
    CHECK(once, "nested parallel_for");
    tg_set_num_threads(0);
    CHECK(tg_get_num_threads() >= 1, "default thread count");
}

/* Several user threads, each running its own GEMMs at once. */
static void *user_thread(void *arg) {
    int id = (int)(intptr_t)arg;
    bool ok = true;
    for (int r = 0; r < 3 && ok; r++) {
        shape s = {64 + id, 80, 70 + r};
        ok = run_case(id & 1, r & 1, id & 2, s, 1, 0, 1, 1);
    }
    return (void *)(intptr_t)ok;
}

static void test_concurrent(void) {
    tg_set_num_threads(2);
    pthread_t th[4];
    int started = 0;
    for (int i = 0; i < 4; i++)
        if (pthread_create(&th[started], NULL, user_thread, (void *)(intptr_t)i) == 0) started++;
    for (int i = 0; i < started; i++) {
        void *r;
        pthread_join(th[i], &r);
        CHECK(r != NULL, "concurrent gemm in user thread %d", i);
    }
}

/* ---------------------------------------------- no allocation once warm */

static atomic_long nmalloc;
static void *count_malloc(size_t n, void *ud) {
    (void)ud;
    atomic_fetch_add(&nmalloc, 1);
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    atomic_fetch_add(&nmalloc, 1);
    return realloc(p, n);
}
static void count_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static void test_steady(void) {
    tg_allocator a = {count_malloc, count_realloc, count_free, NULL};
    /* fresh buffers under the counting allocator: drop the pool's */
    tg__pool_shutdown();
    tg_set_allocator(&a);
    tg_set_num_threads(2);
    enum { M = 64, K = 200, N = 100 };
    float *X = calloc(M * K, sizeof *X), *W = calloc(K * N, sizeof *W), *Y = calloc(M * N, sizeof *Y);
    float *dY = calloc(M * N, sizeof *dY), *dW = calloc(K * N, sizeof *dW), *dX = calloc(M * K, sizeof *dX);
    long warm = -1;
    for (int it = 0; it < 3; it++) {
        if (it == 2) warm = atomic_load(&nmalloc);
        tg__gemm_f32(false, false, M, N, K, 1, X, K, W, N, 0, Y, N);  /* Y = X W */
        tg__gemm_f32(true, false, K, N, M, 1, X, K, dY, N, 1, dW, N); /* dW += X^T dY */
        tg__gemm_f32(false, true, M, K, N, 1, dY, N, W, N, 0, dX, K); /* dX = dY W^T */
    }
    long after = atomic_load(&nmalloc);
    CHECK(after == warm, "%ld allocations in a warm GEMM loop", after - warm);
    tg__pool_shutdown(); /* free with the allocator that made them */
    tg_set_allocator(NULL);
    free(X), free(W), free(Y), free(dY), free(dW), free(dX);
}

/* ------------------------------------------------- a worker that is late */

/* Which thread ran each item of a job. */
typedef struct who {
    atomic_int hits[2];
    pthread_t by[2];
} who;

static void who_fn(void *ctx, int64_t lo, int64_t hi) {
    who *w = ctx;
    for (int64_t i = lo; i < hi; i++) {
        atomic_fetch_add(&w->hits[i], 1);
        w->by[i] = pthread_self();
    }
}

static void pause_ms(int ms) {
    struct timespec t = {0, ms * 1000000L};
    nanosleep(&t, NULL);
}

/* After a pause the worker sleeps, and waking it takes longer than the
 * caller's own piece: the caller then runs the worker's piece too (the
 * pool does not wait for the wake-up). Every item still runs once, jobs
 * back to back or not; a GEMM gives the same bits on 1 thread, on 2, and
 * on 2 with a late worker; and a warm loop of GEMMs with pauses between
 * allocates nothing (a piece has its scratch whichever thread runs it). */
static void test_late_worker(bool quick) {
    tg_set_num_threads(2);
    int stolen = 0, rounds = quick ? 10 : 40;
    bool once = true;
    for (int r = 0; r < rounds; r++) {
        pause_ms(2);
        who w = {{0, 0}, {0, 0}};
        tg__parallel_for(2, 1, who_fn, &w);
        once &= atomic_load(&w.hits[0]) == 1 && atomic_load(&w.hits[1]) == 1;
        stolen += pthread_equal(w.by[1], pthread_self()) != 0;
    }
    for (int r = 0; r < 2000; r++) { /* back to back: the worker spins */
        who w = {{0, 0}, {0, 0}};
        tg__parallel_for(2, 1, who_fn, &w);
        once &= atomic_load(&w.hits[0]) == 1 && atomic_load(&w.hits[1]) == 1;
    }
    CHECK(once, "an item ran other than once");
#if !defined(TG_HAVE_OPENMP)
    /* the built-in pool's promise; an OpenMP build hands the loop to libgomp */
    CHECK(stolen > 0, "after a pause the caller never ran the sleeping worker's piece "
                      "(%d rounds)", rounds);
#endif

    /* the MLP's GEMMs (784-100 layer, batch 64): forward x W^T, and dW = dH^T x */
    enum { M = 64, K = 784, N = 100 };
    float *X = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K);
    float *H = malloc(sizeof(float) * M * N), *Y[3], *D[3];
    for (int i = 0; i < M * K; i++) X[i] = (float)urand();
    for (int i = 0; i < N * K; i++) W[i] = (float)urand();
    for (int i = 0; i < M * N; i++) H[i] = (float)urand();
    for (int v = 0; v < 3; v++) {
        Y[v] = malloc(sizeof(float) * M * N), D[v] = malloc(sizeof(float) * N * K);
        tg_set_num_threads(v ? 2 : 1);
        if (v == 2) pause_ms(2);
        tg__gemm_f32(false, true, M, N, K, 1, X, K, W, K, 0, Y[v], N);
        if (v == 2) pause_ms(2);
        tg__gemm_f32(true, false, N, K, M, 1, H, N, X, K, 0, D[v], K);
    }
    for (int v = 1; v < 3; v++) {
#if !defined(TG_HAVE_CBLAS)
        /* the built-in kernels: the same bits whatever the split */
        CHECK(!memcmp(Y[0], Y[v], sizeof(float) * M * N), "x W^T: %s differs from 1 thread",
              v == 1 ? "2 threads" : "2 threads, late worker");
        CHECK(!memcmp(D[0], D[v], sizeof(float) * N * K), "dH^T x: %s differs from 1 thread",
              v == 1 ? "2 threads" : "2 threads, late worker");
#else
        /* the system CBLAS picks its kernels by the piece's shape: rounding may differ */
        double ey = 0, ed = 0;
        for (int i = 0; i < M * N; i++) ey = fmax(ey, fabs((double)Y[0][i] - Y[v][i]));
        for (int i = 0; i < N * K; i++) ed = fmax(ed, fabs((double)D[0][i] - D[v][i]));
        CHECK(ey <= 1e-4 && ed <= 1e-4, "CBLAS, %s: x W^T %g, dH^T x %g from 1 thread",
              v == 1 ? "2 threads" : "2 threads, late worker", ey, ed);
#endif
    }

    tg_allocator a = {count_malloc, count_realloc, count_free, NULL};
    tg__pool_shutdown();
    tg_set_allocator(&a);
    tg_set_num_threads(2);
    long warm = -1;
    for (int it = 0; it < (quick ? 6 : 20); it++) {
        if (it == 2) warm = atomic_load(&nmalloc);
        if (it % 2) pause_ms(1); /* the worker late every other pass */
        tg__gemm_f32(false, true, M, N, K, 1, X, K, W, K, 0, Y[1], N);
        tg__gemm_f32(true, false, N, K, M, 1, H, N, X, K, 0, D[1], K);
    }
    CHECK(atomic_load(&nmalloc) == warm, "%ld allocations in a warm GEMM loop with pauses",
          atomic_load(&nmalloc) - warm);
    tg__pool_shutdown();
    tg_set_allocator(NULL);
    for (int v = 0; v < 3; v++) free(Y[v]), free(D[v]);
    free(X), free(W), free(H);
}

int main(void) {
    const char *q = getenv("TG_TEST_QUICK");
    bool quick = q && *q && *q != '0';
    /* TG_SIMD=<level> (the gemm_<level> tests): that level alone, or skip
     * (77) where the CPU or the build lacks it; unset: every level here */
    SKIP_UNLESS_SIMD("gemm");
    const char *want = getenv("TG_SIMD");
    if (want && !*want) want = NULL;
    tg_simd best = tg_simd_level();
    tg_set_num_threads(2);
    int first = want ? (int)best : TG_SIMD_PORTABLE, last = want ? (int)best : TG_SIMD_AVX512;
    for (int level = first; level <= last; level++) {
        if (!tg__simd_supported(level)) {
            printf("gemm: %s not supported here, skipped\n", tg_simd_name(level));
            continue;
        }
        int before = tg_test_fail;
        test_level(level, quick);
        test_packed_a(level, quick);
        printf("gemm: %s %s\n", tg_simd_name(level), tg_test_fail == before ? "ok" : "FAILED");
    }
    tg_set_num_threads(1); /* the unthreaded driver over blocks */
    {
        shape s = {250, 70, 530};
        if (quick) s = (shape){130, 40, 270};
        for (int t = 0; t < 4; t++)
            CHECK(run_case(t & 1, t & 1, t >> 1, s, 1, 0.5, 0, 2), "one thread, t=%d", t);
    }
    tg__simd_force(TG_SIMD_AUTO);
    CHECK(tg_simd_level() == best, "TG_SIMD_AUTO restores %s", tg_simd_name(best));
    test_pool();
    test_concurrent();
    test_steady();
    test_late_worker(quick);
    return TEST_DONE("gemm");
}
