/* test_vmath.c - ops/vmath.h's e^x (tg__vexp_f64, tg__vexp_f32) against
 * the true value, over the whole range, at every SIMD level this CPU runs
 * (tg__vexp_array, the loop each level's softmax kernels are built with).
 *
 * The true value is expl (x87 long double, 64-bit mantissa: its error is
 * far below a double's ulp); the error is counted in ulps of the result's
 * type at the true value, subnormals included (ulp 2^-1074 / 2^-149).
 * Values: a sweep of the finite range, random points, every result near
 * the subnormal and overflow ends, and the edges: -inf -> 0, +inf -> inf,
 * NaN -> NaN, -0 -> 1, the largest finite result, the first infinite one.
 * Prints the largest error it saw per level and dtype (the figures in
 * vmath.h) and fails above 1 ulp, or where a level's bits differ from the
 * scalar inline function's. Also checks that libm's exp stays within
 * 1 ulp of ours (the "compared with libm" figure).
 *
 * Links the static library (tg__vexp_array is internal).
 */
#include "tg_internal.h"
#include "vmath.h"

#include "tg_test.h"

#include <float.h>

static uint64_t rng = 0x2545f4914f6cdd1du;
static double urand(void) { /* [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* |y - t| in ulps of the type whose ulp at 1 is 2^-p and whose smallest
 * subnormal is 2^emin; inf and 0 must match exactly */
static double ulps(long double y, long double t, int p, int emin, long double maxv) {
    if (isnan(t) || isnan(y)) return isnan(t) && isnan(y) ? 0 : INFINITY;
    if (t > maxv) return y == INFINITY ? 0 : INFINITY; /* overflow */
    if (isinf(y)) return INFINITY;
    int e;
    frexpl(t, &e); /* t in [2^(e-1), 2^e) */
    int ue = e - 1 - p;
    if (ue < emin) ue = emin;
    return (double)(fabsl(y - t) / ldexpl(1.0L, ue));
}

enum { N = 400000 };
static double xs[N], ys[N];
static float xf[N], yf[N];

static int fill(void) {
    int n = 0;
    const double edges[] = {0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 0.34657359027997264, -0.34657359027997264,
                            709.782712893384, 709.7827128933841, 709.79, 710.0, 720.0,
                            -708.39641853226408, -708.4, -745.1332191019411,
                            -745.1332191019412, -745.2, -746.0, -800.0, -1e300, 1e300,
                            88.72283905206835, 88.7228394, 88.8, -87.33654475, -103.2789,
                            -103.97, -104.0, -110.0, INFINITY, -INFINITY, NAN, -NAN};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) xs[n++] = edges[i];
    for (int i = 0; i < 150000; i++) xs[n++] = -760 + 1480 * urand(); /* the whole range */
    for (int i = 0; i < 50000; i++) xs[n++] = -760 + 60 * urand();     /* subnormal results */
    for (int i = 0; i < 20000; i++) xs[n++] = 700 + 12 * urand();      /* overflow's edge */
    for (int i = 0; i < 50000; i++) xs[n++] = -2 + 4 * urand();        /* near 0 */
    for (int i = 0; i < 50000; i++) xs[n++] = -110 + 200 * urand();    /* f32's range */
    for (int i = 0; i < 30000; i++) xs[n++] = -106 + 10 * urand();     /* f32 subnormals */
    for (int i = 0; i < 10000; i++) xs[n++] = ldexp(urand() - 0.5, -(int)(60 * urand()));
    return n;
}

static void check_level(int level, int n) {
    tg__simd_force(level);
    const char *ln = tg_simd_name(tg_simd_level());
    CHECK((int)tg_simd_level() == level, "forcing %s gave %s", tg_simd_name(level), ln);
    for (int i = 0; i < n; i++) xf[i] = (float)xs[i];
    tg__vexp_array(TG_F64, xs, ys, n);
    tg__vexp_array(TG_F32, xf, yf, n);
    double worst64 = 0, worst32 = 0, worst_libm = 0, at64 = 0, at32 = 0;
    int samebits = 1;
    for (int i = 0; i < n; i++) {
        double y1 = tg__vexp_f64(xs[i]);
        float y2 = tg__vexp_f32(xf[i]);
        samebits &= !memcmp(&y1, &ys[i], sizeof y1) && !memcmp(&y2, &yf[i], sizeof y2);
        double u = ulps(ys[i], expl((long double)xs[i]), 52, -1074, DBL_MAX);
        if (u > worst64) worst64 = u, at64 = xs[i];
        u = ulps(yf[i], expl((long double)xf[i]), 23, -149, FLT_MAX);
        if (u > worst32) worst32 = u, at32 = xf[i];
        u = ulps(ys[i], exp(xs[i]), 52, -1074, DBL_MAX);
        worst_libm = u > worst_libm ? u : worst_libm;
    }
    printf("vmath %s: f64 max %.3f ulp (x = %.17g), f32 max %.3f ulp (x = %.9g), f64 vs libm "
           "exp %.3f ulp, %d values\n", ln, worst64, at64, worst32, at32, worst_libm, n);
    CHECK(samebits, "%s: the array loop and the inline function differ", ln);
    CHECK(worst64 <= 1.0, "%s: f64 error %.3f ulp at x = %.17g", ln, worst64, at64);
    CHECK(worst32 <= 1.0, "%s: f32 error %.3f ulp at x = %.9g", ln, worst32, at32);
    CHECK(worst_libm <= 1.0, "%s: f64 %.3f ulp from libm's exp", ln, worst_libm);
}

int main(void) {
    int n = fill();
    /* the edges, exactly */
    CHECK(tg__vexp_f64(-INFINITY) == 0 && !signbit(tg__vexp_f64(-INFINITY)), "e^-inf");
    CHECK(tg__vexp_f64(INFINITY) == INFINITY && tg__vexp_f64(710) == INFINITY, "e^inf");
    CHECK(isnan(tg__vexp_f64(NAN)) && isnan(tg__vexp_f32(NAN)), "e^NaN");
    CHECK(tg__vexp_f64(-0.0) == 1 && tg__vexp_f64(0.0) == 1 && tg__vexp_f32(-0.0f) == 1, "e^0");
    CHECK(tg__vexp_f64(-745.2) == 0 && tg__vexp_f64(-1e300) == 0, "below the subnormals");
    CHECK(tg__vexp_f64(-745.0) == 0x1p-1074 * 1 || tg__vexp_f64(-745.0) > 0, "e^-745 > 0");
    CHECK(fpclassify(tg__vexp_f64(-720.0)) == FP_SUBNORMAL, "e^-720 is subnormal");
    CHECK(fpclassify(tg__vexp_f32(-95.0f)) == FP_SUBNORMAL, "f32 e^-95 is subnormal");
    CHECK(tg__vexp_f64(709.78) < INFINITY && tg__vexp_f32(88.7f) < INFINITY, "largest finite");
    CHECK(tg__vexp_f32(-INFINITY) == 0 && tg__vexp_f32(INFINITY) == INFINITY &&
              tg__vexp_f32(88.73f) == INFINITY && tg__vexp_f32(-104.0f) == 0, "f32 ends");
    SKIP_UNLESS_SIMD("vmath");
    const char *want = getenv("TG_SIMD");
    tg_simd best = tg_simd_level();
    int first = want && *want ? (int)best : TG_SIMD_PORTABLE;
    int last = want && *want ? (int)best : TG_SIMD_AVX512;
    for (int level = first; level <= last; level++) {
        if (!tg__simd_supported(level)) {
            printf("vmath: %s not supported here, skipped\n", tg_simd_name(level));
            continue;
        }
        check_level(level, n);
    }
    tg__simd_force(TG_SIMD_AUTO);
    return TEST_DONE("vmath");
}
