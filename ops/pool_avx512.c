/* pool_avx512.c - pool.c's 2x2 stride-2 max pooling for f32 at AVX-512
 * (pool_simd.h says how and why); compiled with -mavx512f
 * (ops/meson.build), called only at TG_SIMD_AVX512. */
#include "pool_simd.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

/* lanes [0, n) of 16, n <= 0 none */
static inline __mmask16 first(int64_t n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

void tg__maxpool2_fwd_f32_avx512(const tg_pool2_geom *g, int64_t p0, int64_t p1, const float *x,
                                 float *y, int32_t *idx, bool relu) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    /* the even and odd columns of a 32-float piece: its windows' left and right */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i k1 = _mm512_set1_epi32(1), kw = _mm512_set1_epi32((int32_t)W),
                  kw1 = _mm512_set1_epi32((int32_t)W + 1);
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *r0 = xp + 2 * oh * W, *r1 = r0 + W;
            float *yr = y + (p * OH + oh) * OW;
            int32_t *ir = idx + (p * OH + oh) * OW;
            for (int64_t ow = 0; ow < OW; ow += 16) {
                const int64_t n = OW - ow < 16 ? OW - ow : 16; /* windows in this piece */
                const __mmask16 lo = first(2 * n), hi = first(2 * n - 16), out = first(n);
                const float *s0 = r0 + 2 * ow, *s1 = r1 + 2 * ow;
                __m512 l0 = _mm512_maskz_loadu_ps(lo, s0), h0 = _mm512_maskz_loadu_ps(hi, s0 + 16);
                __m512 l1 = _mm512_maskz_loadu_ps(lo, s1), h1 = _mm512_maskz_loadu_ps(hi, s1 + 16);
                if (relu) { /* max(v, 0) is v > 0 ? v : 0, relu's own formula (a NaN gives 0) */
                    const __m512 z = _mm512_setzero_ps();
                    l0 = _mm512_max_ps(l0, z), h0 = _mm512_max_ps(h0, z);
                    l1 = _mm512_max_ps(l1, z), h1 = _mm512_max_ps(h1, z);
                }
                /* the window (a b / c d), taken in pool.c's order */
                __m512 m = _mm512_permutex2var_ps(l0, even, h0);
                __m512 b = _mm512_permutex2var_ps(l0, odd, h0);
                __m512 c = _mm512_permutex2var_ps(l1, even, h1);
                __m512 d = _mm512_permutex2var_ps(l1, odd, h1);
                __m512i k = _mm512_setzero_si512();
                __mmask16 t = _mm512_cmp_ps_mask(b, m, _CMP_GT_OQ) |
                              _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
                m = _mm512_mask_mov_ps(m, t, b), k = _mm512_mask_mov_epi32(k, t, k1);
                t = _mm512_cmp_ps_mask(c, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q);
                m = _mm512_mask_mov_ps(m, t, c), k = _mm512_mask_mov_epi32(k, t, kw);
                t = _mm512_cmp_ps_mask(d, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
                m = _mm512_mask_mov_ps(m, t, d), k = _mm512_mask_mov_epi32(k, t, kw1);
                /* the window's top-left element: 2 oh W + 2 (ow + lane) */
                __m512i at = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W + 2 * ow)),
                                              even);
                _mm512_mask_storeu_ps(yr + ow, out, m);
                _mm512_mask_storeu_epi32(ir + ow, out, _mm512_add_epi32(at, k));
            }
        }
    }
}

/* relu's backward on a 32-float piece: v where x > 0, else +0 (x > 0 ? g : 0) */
static inline __m512 relu_bw(__mmask16 m, const float *x, __m512 v) {
    return _mm512_maskz_mov_ps(
        _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, x), _mm512_setzero_ps(), _CMP_GT_OQ), v);
}

void tg__maxpool2_bwd_f32_avx512(const tg_pool2_geom *g, int64_t p0, int64_t p1, const float *gy,
                                 const int32_t *idx, float *gx, const float *rx) {
    const int64_t H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    /* two 16-lane vectors (left, right) interleaved: their first 8 pairs, their last 8 */
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ihi = _mm512_add_epi32(ilo, _mm512_set1_epi32(8));
    const __m512i k1 = _mm512_set1_epi32(1), kw = _mm512_set1_epi32((int32_t)W),
                  kw1 = _mm512_set1_epi32((int32_t)W + 1);
    for (int64_t p = p0; p < p1; p++) {
        float *xp = gx + p * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            float *r0 = xp + 2 * oh * W, *r1 = r0 + W;
            const float *x0 = rx ? rx + p * H * W + 2 * oh * W : NULL, *x1 = x0 ? x0 + W : NULL;
            const float *yr = gy + (p * OH + oh) * OW;
            const int32_t *ir = idx + (p * OH + oh) * OW;
            for (int64_t ow = 0; ow < OW; ow += 16) {
                const int64_t n = OW - ow < 16 ? OW - ow : 16;
                const __mmask16 lo = first(2 * n), hi = first(2 * n - 16), in = first(n);
                __m512 v = _mm512_maskz_loadu_ps(in, yr + ow);
                /* each window's choice: 0, 1, W or W + 1 past its top-left */
                __m512i at = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * W + 2 * ow)),
                                              even);
                __m512i k = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(in, ir + ow), at);
                __m512 a = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_setzero_si512()), v);
                __m512 b = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, k1), v);
                __m512 c = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, kw), v);
                __m512 d = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, kw1), v);
                float *s0 = r0 + 2 * ow, *s1 = r1 + 2 * ow;
                __m512 t0 = _mm512_permutex2var_ps(a, ilo, b), u0 = _mm512_permutex2var_ps(a, ihi, b);
                __m512 t1 = _mm512_permutex2var_ps(c, ilo, d), u1 = _mm512_permutex2var_ps(c, ihi, d);
                if (x0) { /* through a relu: its backward too, from its input x */
                    t0 = relu_bw(lo, x0 + 2 * ow, t0), u0 = relu_bw(hi, x0 + 2 * ow + 16, u0);
                    t1 = relu_bw(lo, x1 + 2 * ow, t1), u1 = relu_bw(hi, x1 + 2 * ow + 16, u1);
                }
                _mm512_mask_storeu_ps(s0, lo, t0);
                _mm512_mask_storeu_ps(s0 + 16, hi, u0);
                _mm512_mask_storeu_ps(s1, lo, t1);
                _mm512_mask_storeu_ps(s1 + 16, hi, u1);
            }
            if (W > 2 * OW) r0[W - 1] = 0, r1[W - 1] = 0; /* an odd width's last column */
        }
        if (H > 2 * OH) memset(xp + 2 * OH * W, 0, (size_t)W * sizeof *xp); /* an odd height's last row */
    }
}
