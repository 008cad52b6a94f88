/* test_pool2x2.c - max_pool2d's 2x2 stride-2 kernel (ops/pool.c, its own
 * loop) against a naive reference written here: the window's first
 * maximum in row-major order wins, a NaN wins over numbers and a later NaN
 * over an earlier one (PyTorch's rule). Inputs with many ties and NaNs,
 * odd heights and widths (the last row / column is dropped), rows of
 * windows on both sides of 16 and 32 (the AVX-512 kernels' pieces: this
 * test runs at every SIMD level, tests/meson.build), f32 and f64,
 * one and two threads (blocks of planes claimed by the pool's threads,
 * the last block shorter). Both the values and
 * the gradient (which lands on the chosen element) must match exactly;
 * and a f64 gradient check against central differences. */
#include "tg_test.h"

/* The reference: y (OH x OW per plane) and the chosen flat index in x. */
static void ref_pool(const double *x, int64_t planes, int64_t H, int64_t W, double *y,
                     int64_t *arg) {
    int64_t OH = H / 2, OW = W / 2;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t best = -1;
                double m = 0;
                for (int dh = 0; dh < 2; dh++)
                    for (int dw = 0; dw < 2; dw++) {
                        int64_t k = p * H * W + (2 * oh + dh) * W + 2 * ow + dw;
                        double v = x[k];
                        if (best < 0 || v > m || isnan(v)) m = v, best = k;
                    }
                y[(p * OH + oh) * OW + ow] = m;
                arg[(p * OH + oh) * OW + ow] = best;
            }
}

/* Values from a few levels (ties) with some NaNs, and both zeros (equal:
 * the first of them in a window wins, and its sign must come out). */
static void fill(double *x, int64_t n, tg_rng *r) {
    static const double level[6] = {-1.5, -0.5, 0.5, 1.5, -0.0, 0.0};
    for (int64_t i = 0; i < n; i++) {
        double u = tg_rng_uniform(r);
        x[i] = u < 0.05 ? NAN : level[(int)(tg_rng_uniform(r) * 6)];
    }
}

/* A leaf of dtype dt holding v (exact in f32: a few levels, NaN, small
 * integers). */
static tg_tensor *leaf(tg_tape *t, tg_dtype dt, int rank, const int64_t *shape, const double *v,
                       int64_t n) {
    if (dt == TG_F64) return tg_tensor_new(t, TG_F64, rank, shape, v);
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++) f[i] = (float)v[i];
    tg_tensor *x = tg_tensor_new(t, TG_F32, rank, shape, f); /* copies */
    free(f);
    return x;
}

static void check_case(tg_dtype dt, int threads, int64_t N, int64_t C, int64_t H, int64_t W) {
    tg_set_num_threads(threads);
    int64_t n = N * C * H * W, OH = H / 2, OW = W / 2, m = N * C * OH * OW;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)m * sizeof *y);
    double *gy = malloc((size_t)m * sizeof *gy);
    int64_t *arg = malloc((size_t)m * sizeof *arg);
    tg_rng r;
    tg_rng_seed(&r, (uint64_t)(H * 1000 + W));
    fill(x, n, &r);
    for (int64_t i = 0; i < m; i++) gy[i] = (double)(i % 7) + 1;
    ref_pool(x, N * C, H, W, y, arg);

    tg_tape *t = tg_tape_new();
    tg_tensor *xt = tg_requires_grad(leaf(t, dt, TG_SHAPE(N, C, H, W), x, n));
    tg_tensor *yt = tg_max_pool2d(xt, &(tg_pool_opts){.kernel = {2, 2}});
    tg_tensor *wt = leaf(t, dt, TG_SHAPE(N, C, OH, OW), gy, m);
    tg_backward(tg_sum(tg_mul(yt, wt)));
    CHECK_OK(t);
    const tg_tensor *gx = tg_tensor_grad(xt);
    int bad_y = 0, bad_g = 0;
    for (int64_t i = 0; yt && i < m; i++) {
        double v = tg_tensor_get(yt, i);
        if (!((v == y[i] && signbit(v) == signbit(y[i])) || (isnan(v) && isnan(y[i])))) bad_y++;
    }
    /* the gradient: gy at each chosen element, zero elsewhere */
    double *want = calloc((size_t)n, sizeof *want);
    for (int64_t i = 0; i < m; i++) want[arg[i]] += gy[i];
    for (int64_t i = 0; gx && i < n; i++)
        if (tg_tensor_get(gx, i) != want[i]) bad_g++;
    CHECK(yt && bad_y == 0, "%s %d threads [%lld,%lld,%lld,%lld]: %d outputs differ",
          dt == TG_F32 ? "f32" : "f64", threads, (long long)N, (long long)C, (long long)H,
          (long long)W, bad_y);
    CHECK(gx && bad_g == 0, "%s %d threads [%lld,%lld,%lld,%lld]: %d gradient entries differ",
          dt == TG_F32 ? "f32" : "f64", threads, (long long)N, (long long)C, (long long)H,
          (long long)W, bad_g);
    tg_tape_free(t);
    free(x), free(y), free(gy), free(arg), free(want);
}

static tg_tensor *pool_op(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    return tg_max_pool2d(x[0], &(tg_pool_opts){.kernel = {2, 2}});
}

int main(void) {
    for (int threads = 1; threads <= 2; threads++)
        for (int d = 0; d < 2; d++) {
            tg_dtype dt = d ? TG_F64 : TG_F32;
            check_case(dt, threads, 1, 1, 2, 2);
            check_case(dt, threads, 2, 3, 7, 9);
            check_case(dt, threads, 1, 2, 6, 5);
            check_case(dt, threads, 4, 16, 64, 66); /* more planes than one piece holds */
            check_case(dt, threads, 3, 13, 64, 66); /* 39 planes: blocks of 8, the last 7 */
            /* rows of 15, 16, 17 and 31 windows: the AVX-512 kernels take
             * 16 at a time (pool_simd.h), the last piece partial or full */
            check_case(dt, threads, 2, 3, 5, 31);
            check_case(dt, threads, 2, 3, 4, 32);
            check_case(dt, threads, 2, 3, 3, 33);
            check_case(dt, threads, 1, 2, 4, 35);
            check_case(dt, threads, 1, 2, 6, 63);
            check_case(dt, threads, 32, 32, 26, 26); /* bench_conv's pool */
        }
    tg_set_num_threads(1);

    /* f64 gradient check on distinct values (no ties: differentiable) */
    tg_tape *t = tg_tape_new();
    tg_rng r;
    tg_rng_seed(&r, 7);
    double xv[2 * 3 * 5 * 7];
    for (int i = 0; i < 2 * 3 * 5 * 7; i++) xv[i] = tg_rng_normal(&r);
    tg_tensor *x = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 3, 5, 7), xv);
    tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 5, true, true};
    tg_gradcheck_report rep;
    CHECK(tg_gradcheck(pool_op, NULL, 1, &x, &o, &rep), "gradcheck: %s", rep.msg);
    tg_tape_free(t);
    return TEST_DONE("pool2x2");
}
