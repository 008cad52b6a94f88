/* vmath.h - e^x in f64 and f32 without libm, branch-free, so that a loop
 * over it vectorizes at every SIMD level (HACKING.md, "SIMD levels"): the
 * row kernels of softmax_simd.h include it, and so may any op (ops/ only).
 *
 *   tg__vexp_f64(x)   e^x in double: at most 1 ulp from the true value
 *   tg__vexp_f32(x)   e^x in float:  at most 1 ulp from the true value
 *
 * over the whole range, subnormal results included (measured, with the
 * command and the numbers, in tests/test_vmath.c); +inf past the largest
 * finite result (x > 709.78 / 88.72, +inf), 0 below the smallest subnormal
 * (x < -745.13 / -103.97, -inf), e^-0 = 1, NaN stays NaN. Built with
 * -ffp-contract=off (ops/meson.build), every level computes the same bits.
 *
 * Method: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 in two parts,
 * the first with enough trailing zeros that n * part is exact); e^r by a
 * polynomial (f64: Taylor to degree 13, truncation below 2^-58; f32:
 * Cephes' degree-5 fit); 2^n built in the exponent bits from the rounding
 * constant's mantissa, in two exact factors when n is near the exponent's
 * ends so that subnormal and overflowing results round once. No
 * float-to-int conversion: AVX2 and AVX-512F have none for 64-bit lanes.
 */
#ifndef TG_VMATH_H
#define TG_VMATH_H

#include "rowkern.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

NO_TRAP_BEGIN
static inline double tg__vexp_f64(double x) {
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    /* NaN takes the low side and is put back at the end */
    double xc = x > -746.0 ? (x < 710.0 ? x : 710.0) : -746.0;
    double n = (xc * 1.4426950408889634 + shift) - shift; /* round(x / ln2), |n| <= 1076 */
    double r = (xc - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    double p = 1.6059043836821613e-10;  /* 1/13! */
    p = p * r + 2.08767569878681e-09;   /* 1/12! */
    p = p * r + 2.505210838544172e-08;  /* 1/11! */
    p = p * r + 2.755731922398589e-07;  /* 1/10! */
    p = p * r + 2.7557319223985893e-06; /* 1/9! */
    p = p * r + 2.48015873015873e-05;   /* 1/8! */
    p = p * r + 1.984126984126984e-04;  /* 1/7! */
    p = p * r + 1.388888888888889e-03;  /* 1/6! */
    p = p * r + 8.333333333333333e-03;  /* 1/5! */
    p = p * r + 4.1666666666666664e-02; /* 1/4! */
    p = p * r + 1.6666666666666666e-01; /* 1/3! */
    p = p * r + 0.5;
    double e = 1.0 + (r + (r * r) * p); /* e^r */
    /* 2^n = 2^(n - a) 2^a, a = -64 / 64 near the ends so both are normal */
    double a = n < -1000.0 ? -64.0 : (n > 1000.0 ? 64.0 : 0.0);
    double s2 = n < -1000.0 ? 0x1p-64 : (n > 1000.0 ? 0x1p64 : 1.0);
    double b = (n - a) + (1023.0 + shift); /* mantissa's low bits: n - a + 1023 */
    uint64_t bits;
    memcpy(&bits, &b, sizeof bits);
    bits <<= 52; /* into the exponent field; n - a + 1023 is in [11, 2011] */
    double s1;
    memcpy(&s1, &bits, sizeof s1);
    double y = (e * s1) * s2;
    return x != x ? x : y;
}

static inline float tg__vexp_f32(float x) {
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x > -104.0f ? (x < 89.0f ? x : 89.0f) : -104.0f;
    float n = (xc * 1.44269504088896341f + shift) - shift; /* |n| <= 150 */
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float z = r * r;
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    float e = p * z + r + 1.0f;
    float a = n < -120.0f ? -32.0f : (n > 120.0f ? 32.0f : 0.0f);
    float s2 = n < -120.0f ? 0x1p-32f : (n > 120.0f ? 0x1p32f : 1.0f);
    float b = (n - a) + (127.0f + shift);
    uint32_t bits;
    memcpy(&bits, &b, sizeof bits);
    bits <<= 23; /* n - a + 127 is in [9, 223] */
    float s1;
    memcpy(&s1, &bits, sizeof s1);
    float y = (e * s1) * s2;
    return x != x ? x : y;
}
NO_TRAP_END

/* y[i] = e^x[i] for i < n (y may be x), by tg__vexp_f32 or tg__vexp_f64 as
 * dt is TG_F32 or TG_F64, in the loop built for the library's SIMD level
 * (softmax.c; the same bits at every level). One thread. */
void tg__vexp_array(int dt, const void *x, void *y, int64_t n);

#endif /* TG_VMATH_H */
