/* test_col2im.c - conv.c's col2im at the AVX-512 level
 * (tg__col2im_f32_avx512, ops/conv_simd.h) against conv.c's own loops,
 * written out here as the reference: the same bits, every element.
 *
 * The reference adds col into x one col row (c, ki, kj) at a time, output
 * row by output row, so each x element receives its contributions in
 * (ki, kj) order; the kernel holds a piece of an x row in a register and
 * adds the same contributions in the same order, with -0 in the lanes a
 * col row does not reach. Random values of mixed magnitudes (so that the
 * order of the adds shows in the bits), an x that already holds values,
 * -0, +0 and NaN (x + -0 must leave each as it is; a second pass with a
 * col of -0 alone, where x's -0 must stay -0), and the shapes of the
 * kernel's edges: 1, 2, 3, 5, 7 and 32 channels (four at a time, a
 * partial last group), rows of 1 to 40 (16-lane pieces, a partial last one), padding
 * along H and W, stride and dilation along H, a kernel wider than the
 * input, single output rows and columns.
 *
 * Links the static library (the kernel is internal, through conv.c's
 * tg__col2im_f32_simd); exits 77 where the build or the CPU has no AVX-512.
 */
#include "tg_internal.h"
#include "conv_simd.h"

#include "tg_test.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static double urand(void) { /* [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float value(void) { /* mixed signs and magnitudes */
    double u = urand();
    return (float)((u < 0.5 ? -1 : 1) * ldexp(urand() + 0.5, (int)(urand() * 20) - 10));
}

/* conv.c's col2im_f32 for sw == dw == 1 */
static void ref_col2im(const tg_col2im_geom *g, const float *col, float *x) {
    const int64_t OW = g->OW, P = g->OH * g->OW;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ki = 0; ki < g->KH; ki++)
            for (int64_t kj = 0; kj < g->KW; kj++) {
                const float *row = col + ((c * g->KH + ki) * g->KW + kj) * P;
                int64_t off = kj - g->pw;
                for (int64_t oh = 0; oh < g->OH; oh++, row += OW) {
                    int64_t ih = oh * g->sh - g->ph + ki * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    float *xr = x + (c * g->H + ih) * g->W;
                    for (int64_t ow = 0; ow < OW; ow++)
                        if (ow + off >= 0 && ow + off < g->W) xr[ow + off] += row[ow];
                }
            }
}

/* x (C, H, W) and the kernel; OH, OW as conv2d makes them */
static bool zero_col; /* col all -0: x's -0 must stay -0 */
static void run(int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t sh, int64_t ph,
                int64_t dh, int64_t pw) {
    tg_col2im_geom g = {.C = C, .H = H, .W = W, .KH = KH, .KW = KW, .sh = sh, .ph = ph,
                        .dh = dh, .pw = pw};
    g.OH = (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1;
    g.OW = W + 2 * pw - (KW - 1);
    if (g.OH < 1 || g.OW < 1) return;
    size_t nc = (size_t)(C * KH * KW * g.OH * g.OW), nx = (size_t)(C * H * W);
    /* col with room on both sides: the kernel's masked lanes are never read */
    float *colb = malloc((nc + 64) * sizeof(float)), *x0 = malloc(nx * sizeof(float));
    float *x1 = malloc(nx * sizeof(float));
    if (!colb || !x0 || !x1) {
        CHECK(false, "out of memory");
        free(colb), free(x0), free(x1);
        return;
    }
    float *col = colb + 32;
    for (size_t i = 0; i < nc + 64; i++) colb[i] = NAN; /* around col: must stay out */
    for (size_t i = 0; i < nc; i++) col[i] = zero_col ? -0.0f : value();
    for (size_t i = 0; i < nx; i++) {
        double u = urand();
        x0[i] = u < 0.05 ? -0.0f : u < 0.1 ? 0.0f : u < 0.12 ? NAN : value();
    }
    memcpy(x1, x0, nx * sizeof(float));
    ref_col2im(&g, col, x0);
    if (!tg__col2im_f32_simd(&g, col, x1)) memcpy(x1, x0, nx * sizeof(float)); /* not reached */
    size_t bad = nx;
    for (size_t i = 0; i < nx && bad == nx; i++)
        if (memcmp(&x0[i], &x1[i], sizeof(float))) bad = i;
    CHECK(bad == nx,
          "C %lld H %lld W %lld kernel %lldx%lld sh %lld ph %lld dh %lld pw %lld%s: x[%zu] = %a, "
          "want %a",
          (long long)C, (long long)H, (long long)W, (long long)KH, (long long)KW, (long long)sh,
          (long long)ph, (long long)dh, (long long)pw, zero_col ? " (col -0)" : "", bad, bad < nx ? (double)x1[bad] : 0.0,
          bad < nx ? (double)x0[bad] : 0.0);
    free(colb), free(x0), free(x1);
}

int main(void) {
    { /* the build or the CPU without AVX-512: nothing to compare */
        float x = 0;
        if (!tg__col2im_f32_simd(&(tg_col2im_geom){.C = 0}, NULL, &x)) {
            printf("col2im: no AVX-512 kernel in this build or CPU, skipped\n");
            return 77;
        }
    }
    run(32, 13, 13, 3, 3, 1, 0, 1, 0); /* conv2 of bench_conv */
    run(1, 28, 28, 3, 3, 1, 0, 1, 0);  /* conv1's shape: rows of 28, two pieces */
    static const int64_t cs[] = {1, 2, 3, 5, 7}, ws[] = {1, 2, 5, 15, 16, 17, 31, 33, 40};
    for (int z = 0; z < 2; z++)
        for (size_t a = 0; a < sizeof cs / sizeof *cs; a++)
            for (size_t b = 0; b < sizeof ws / sizeof *ws; b++) {
                int64_t C = cs[a], W = ws[b];
                zero_col = z == 1;
                run(C, 7, W, 3, 3, 1, 0, 1, 0);
                run(C, 7, W, 3, 3, 1, 1, 1, 1);     /* padding 1 */
                run(C, 6, W, 2, 5, 2, 0, 1, 2);     /* stride 2 along H, padding 2 along W */
                run(C, 9, W, 3, 1, 1, 2, 2, 0);     /* dilation 2 along H, a 1-wide kernel */
                run(C, 5, W, 1, W + 2, 1, 0, 1, 1); /* wider than x: one output column */
                run(C, 4, W, 4, 2, 3, 1, 1, 1);     /* stride 3: rows no window reaches */
            }
    return TEST_DONE("col2im");
}
