/* conv_avx512.c - conv.c's col2im for f32 at AVX-512 (conv_simd.h says
 * how and why); compiled with -mavx512f (ops/meson.build), called only at
 * TG_SIMD_AVX512. */
#include "conv_simd.h"

#include <immintrin.h>

/* lanes [a, b) of 16, 0 <= a <= b <= 16 */
static inline __mmask16 lanes(int64_t a, int64_t b) {
    return (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1));
}

void tg__col2im_f32_avx512(const tg_col2im_geom *g, const float *col, float *x) {
    /* nothing to add: and then the sizes below need not multiply (no
     * channels with planes and kernels of 2^40: test sizes) */
    if (g->C <= 0 || g->H <= 0 || g->W <= 0 || g->OH <= 0 || g->OW <= 0) return;
    const int64_t H = g->H, W = g->W, KH = g->KH, KW = g->KW, OW = g->OW, P = g->OH * OW;
    const int64_t cs = KH * KW * P; /* col's rows of one channel */
    const __m512 nz = _mm512_set1_ps(-0.0f);
    for (int64_t c = 0; c < g->C; c += 4) { /* channels c .. c + 3 side by side */
        const int64_t nch = g->C - c < 4 ? g->C - c : 4;
        /* channel k's offsets in x and col (0 for a channel past C: its
         * loads and stores are masked off, never made) */
        const int64_t x1 = nch > 1 ? H * W : 0, x2 = nch > 2 ? 2 * H * W : 0,
                      x3 = nch > 3 ? 3 * H * W : 0;
        const int64_t c1 = nch > 1 ? cs : 0, c2 = nch > 2 ? 2 * cs : 0, c3 = nch > 3 ? 3 * cs : 0;
        for (int64_t ih = 0; ih < H; ih++) {
            float *xr = x + (c * H + ih) * W; /* (c, ih, 0) */
            for (int64_t w0 = 0; w0 < W; w0 += 16) { /* x lanes w0 + [0, nl) */
                const int64_t nl = W - w0 < 16 ? W - w0 : 16;
                const __mmask16 mx = lanes(0, nl);
                const __mmask16 k1 = nch > 1 ? 0xffff : 0, k2 = nch > 2 ? 0xffff : 0,
                                k3 = nch > 3 ? 0xffff : 0;
                float *xp = xr + w0;
                __m512 a0 = _mm512_maskz_loadu_ps(mx, xp);
                __m512 a1 = _mm512_maskz_loadu_ps(mx & k1, xp + x1);
                __m512 a2 = _mm512_maskz_loadu_ps(mx & k2, xp + x2);
                __m512 a3 = _mm512_maskz_loadu_ps(mx & k3, xp + x3);
                for (int64_t ki = 0; ki < KH; ki++) {
                    /* the output row oh whose window row ki is ih */
                    int64_t t = ih + g->ph - ki * g->dh;
                    if (t < 0 || t % g->sh) continue;
                    int64_t oh = t / g->sh;
                    if (oh >= g->OH) continue;
                    /* col row (c, ki, 0), output row oh */
                    const float *dr = col + c * cs + ki * KW * P + oh * OW;
                    for (int64_t kj = 0; kj < KW; kj++, dr += P) {
                        /* lane l: input column w0 + l, output column
                         * ow = w0 + l + pw - kj, in [0, OW) for l in [a, b) */
                        int64_t a = kj - g->pw - w0, b = a + OW;
                        if (a < 0) a = 0;
                        if (b > nl) b = nl;
                        if (a >= b) continue;
                        const __mmask16 m = lanes(a, b);
                        /* lane l reads d[l]: lanes below a (before the
                         * row) and from b on are masked, never read */
                        const float *d = dr + (w0 + g->pw - kj);
                        a0 = _mm512_add_ps(a0, _mm512_mask_loadu_ps(nz, m, d));
                        a1 = _mm512_add_ps(a1, _mm512_mask_loadu_ps(nz, m & k1, d + c1));
                        a2 = _mm512_add_ps(a2, _mm512_mask_loadu_ps(nz, m & k2, d + c2));
                        a3 = _mm512_add_ps(a3, _mm512_mask_loadu_ps(nz, m & k3, d + c3));
                    }
                }
                _mm512_mask_storeu_ps(xp, mx, a0);
                _mm512_mask_storeu_ps(xp + x1, mx & k1, a1);
                _mm512_mask_storeu_ps(xp + x2, mx & k2, a2);
                _mm512_mask_storeu_ps(xp + x3, mx & k3, a3);
            }
        }
    }
}
