/* test_pool_relu.c - max_pool2d read through a lazy relu (ops/pool.c,
 * relu_under): where the pool reads the relu's input and the relu is never
 * stored, every value and gradient must have the bits of the same program
 * with fusion off (the relu stored, its own backward run). Each scenario
 * runs on two tapes, fusion on every size (tg_tape_set_fusion 1) and off,
 * and compares the pool's output and the gradients bit for bit:
 *   1 conv-relu-pool as a CNN has it, the loss a weighted sum;
 *   2 the relu also read after the pool (lazily: it is pinned, so forced);
 *   3 the relu's input also read after the pool (its gradient is then not
 *     new when the pool's backward runs: the relu is forced there);
 *   4 an op between the relu and the pool (the relu is not read through);
 *   5 tg_grad for the relu and its input;
 *   6 a second order through the pool (create-graph, then backward);
 *   7 a relu of a lazy op (not read through);
 *   8 the relu's data read by the user after the pool.
 * Inputs hold ties, NaNs, both zeros and windows with no positive element.
 * Whether the relu was read through shows in the bytes the pool adds to
 * the tape (no relu data): it must be, in scenario 1, exactly where the
 * kernels exist (f32 at the AVX-512 level; this test runs at every level,
 * tests/meson.build), and never in scenarios 4 and 7. */
#include "tg_test.h"

enum { NSCEN = 8 };

typedef struct outs {
    float *y, *gc, *gr, *gw; /* pool output, d/dc, d/drelu (5), d/dw */
    size_t pool_bytes;       /* what tg_max_pool2d added to the tape */
} outs;

static void fill(float *v, int64_t n, tg_rng *r, bool special) {
    static const float level[7] = {-1.5f, -0.5f, 0.5f, 1.5f, -0.0f, 0.0f, 2.25f};
    for (int64_t i = 0; i < n; i++) {
        double u = tg_rng_uniform(r);
        v[i] = special && u < 0.04 ? NAN : level[(int)(tg_rng_uniform(r) * 7)];
        if (special && i % 37 < 4) v[i] = -1.0f - (float)(i % 3); /* whole negative runs */
    }
}

static void copy_out(float *dst, tg_tensor *t, int64_t n) {
    const float *p = t ? tg_tensor_f32(t) : NULL;
    if (p) memcpy(dst, p, (size_t)n * sizeof *dst);
    else memset(dst, 0xff, (size_t)n * sizeof *dst); /* a marker that differs from any result */
}

/* One scenario on a fresh tape with fusion on (fuse) or off. */
static void run(int scen, bool fuse, int64_t N, int64_t C, int64_t H, int64_t W, const float *c0,
                const float *w0, const float *v0, outs *o) {
    int64_t n = N * C * H * W, m = N * C * (H / 2) * (W / 2);
    tg_tape *t = tg_tape_new();
    tg_tape_set_fusion(t, fuse ? 1 : 0);
    tg_tensor *c = tg_requires_grad(tg_tensor_new(t, TG_F32, TG_SHAPE(N, C, H, W), c0));
    tg_tensor *w = tg_requires_grad(tg_tensor_new(t, TG_F32, TG_SHAPE(N, C, H / 2, W / 2), w0));
    tg_tensor *v = tg_tensor_new(t, TG_F32, TG_SHAPE(N, C, H, W), v0);
    tg_tensor *in = scen == 7 ? tg_mul_scalar(c, 1.5) : c;
    tg_tensor *r = tg_relu(in);
    tg_tensor *between = scen == 4 ? tg_mul(c, v) : NULL;
    size_t b0 = tg_tape_bytes(t);
    tg_tensor *y = tg_max_pool2d(r, &(tg_pool_opts){.kernel = {2, 2}});
    o->pool_bytes = tg_tape_bytes(t) - b0;
    tg_tensor *loss = tg_sum(tg_mul(y, w));
    if (scen == 2) loss = tg_add(loss, tg_sum(tg_mul(r, v)));
    if (scen == 3) loss = tg_add(loss, tg_sum(tg_mul(c, v)));
    if (scen == 4) loss = tg_add(loss, tg_sum(between));
    if (scen == 8) (void)tg_tensor_f32(r);
    copy_out(o->y, y, m);
    memset(o->gr, 0, (size_t)n * sizeof *o->gr);
    if (scen == 5) {
        tg_tensor *in2[2] = {r, c}, *g2[2] = {NULL, NULL};
        tg_grad(loss, NULL, 2, in2, g2, 0);
        copy_out(o->gr, g2[0], n);
        copy_out(o->gc, g2[1], n);
        memset(o->gw, 0, (size_t)m * sizeof *o->gw);
    } else if (scen == 6) {
        tg_tensor *in1[1] = {c}, *g1[1] = {NULL};
        tg_grad(loss, NULL, 1, in1, g1, TG_CREATE_GRAPH);
        tg_backward(tg_sum(tg_mul(g1[0], g1[0]))); /* d/dw of |d loss/dc|^2 */
        copy_out(o->gc, g1[0], n);
        copy_out(o->gw, tg_tensor_grad(w), m);
    } else {
        tg_backward(loss);
        copy_out(o->gc, tg_tensor_grad(c), n);
        copy_out(o->gw, tg_tensor_grad(w), m);
    }
    CHECK_OK(t);
    tg_tape_free(t);
}

static void check_shape(int threads, int64_t N, int64_t C, int64_t H, int64_t W, tg_rng *rng) {
    tg_set_num_threads(threads);
    int64_t n = N * C * H * W, m = N * C * (H / 2) * (W / 2);
    float *c0 = malloc((size_t)n * sizeof *c0), *v0 = malloc((size_t)n * sizeof *v0);
    float *w0 = malloc((size_t)m * sizeof *w0);
    outs o[2];
    for (int k = 0; k < 2; k++) {
        o[k].y = malloc((size_t)m * sizeof(float)), o[k].gw = malloc((size_t)m * sizeof(float));
        o[k].gc = malloc((size_t)n * sizeof(float)), o[k].gr = malloc((size_t)n * sizeof(float));
    }
    fill(c0, n, rng, true);
    fill(v0, n, rng, false);
    fill(w0, m, rng, false); /* weights of both signs: gradients of both signs and zeros */
    bool kernels = tg_simd_level() == TG_SIMD_AVX512;
    size_t pool_bytes[NSCEN + 1];
    for (int scen = 1; scen <= NSCEN; scen++) {
        run(scen, true, N, C, H, W, c0, w0, v0, &o[0]);
        run(scen, false, N, C, H, W, c0, w0, v0, &o[1]);
        const char *what[4] = {"pool output", "d/dc", "d/drelu", "d/dw"};
        const float *a[4] = {o[0].y, o[0].gc, o[0].gr, o[0].gw}, *b[4] = {o[1].y, o[1].gc, o[1].gr, o[1].gw};
        int64_t len[4] = {m, n, n, m};
        for (int q = 0; q < 4; q++) {
            int64_t bad = -1;
            for (int64_t i = 0; i < len[q] && bad < 0; i++)
                if (memcmp(&a[q][i], &b[q][i], sizeof(float))) bad = i;
            CHECK(bad < 0, "%lldx%lldx%lldx%lld, %d thread(s), scenario %d: %s differs at %lld: "
                  "%a fused, %a not", (long long)N, (long long)C, (long long)H, (long long)W,
                  threads, scen, what[q], (long long)bad, bad < 0 ? 0.0 : (double)a[q][bad],
                  bad < 0 ? 0.0 : (double)b[q][bad]);
        }
        pool_bytes[scen] = o[0].pool_bytes;
    }
    /* read through exactly where the kernels are: then the pool stores no
     * relu data, which it does in scenarios 4 and 7 (the relu, lazy but not
     * read through, computes its data when the pool reads it) */
    size_t relu_bytes = (size_t)n * sizeof(float);
    for (int scen = 4; scen <= 7; scen += 3)
        CHECK(kernels ? pool_bytes[1] + relu_bytes <= pool_bytes[scen]
                      : pool_bytes[1] == pool_bytes[scen],
              "%lldx%lldx%lldx%lld at %s: the pool added %zu bytes in scenario 1, %zu in %d "
              "(the relu's data: %zu)", (long long)N, (long long)C, (long long)H, (long long)W,
              tg_simd_name(tg_simd_level()), pool_bytes[1], pool_bytes[scen], scen, relu_bytes);
    for (int k = 0; k < 2; k++) free(o[k].y), free(o[k].gw), free(o[k].gc), free(o[k].gr);
    free(c0), free(v0), free(w0);
}

int main(void) {
    SKIP_UNLESS_SIMD("pool_relu");
    tg_rng rng;
    tg_rng_seed(&rng, 20261204);
    static const int64_t shapes[][4] = {
        {2, 3, 6, 8},   {1, 2, 5, 7},  /* odd: a row and a column no window covers */
        {2, 2, 4, 66},  {1, 1, 3, 62}, /* rows of 33 and 31 windows: full and partial pieces */
        {3, 2, 2, 32},  {32, 32, 26, 26} /* bench_conv's pool */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int th = 1; th <= 2; th++)
            check_shape(th, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], &rng);
    return TEST_DONE("pool_relu");
}
