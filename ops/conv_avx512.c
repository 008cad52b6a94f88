/* conv_avx512.c - conv.c's col2im for f32 at AVX-512 (conv_simd.h says
 * how and why); compiled with -mavx512f (ops/meson.build), called only at
 * TG_SIMD_AVX512. */
#include "conv_simd.h"

#include <immintrin.h>
#include <stdbool.h>

/* lanes [a, b) of 16, 0 <= a < b <= 16 */
static inline __mmask16 lanes(int64_t a, int64_t b) {
    return (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1));
}

void tg__col2im_f32_avx512(const tg_col2im_geom *g, const float *col, float *x) {
    const int64_t H = g->H, W = g->W, KH = g->KH, KW = g->KW, OW = g->OW, P = g->OH * OW;
    const int64_t cs = KH * KW * P; /* col's rows of one channel */
    const __m512 nz = _mm512_set1_ps(-0.0f);
    for (int64_t c = 0; c < g->C; c += 2) { /* channels c and c + 1 side by side */
        const bool two = c + 1 < g->C;
        for (int64_t ih = 0; ih < H; ih++) {
            float *xr = x + (c * H + ih) * W, *xr1 = xr + H * W; /* (c, ih, 0), (c + 1, ih, 0) */
            for (int64_t w0 = 0; w0 < W; w0 += 16) { /* x lanes w0 + [0, nl) */
                const int64_t nl = W - w0 < 16 ? W - w0 : 16;
                const __mmask16 mx = lanes(0, nl), mx1 = two ? mx : 0;
                __m512 acc = _mm512_maskz_loadu_ps(mx, xr + w0);
                __m512 acc1 = _mm512_maskz_loadu_ps(mx1, two ? xr1 + w0 : xr + w0);
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
                        /* lane l reads dr[w0 + l + pw - kj]: lanes below a
                         * (before the row) are masked, never read */
                        const float *d = dr + (w0 + g->pw - kj);
                        acc = _mm512_add_ps(acc, _mm512_mask_loadu_ps(nz, m, d));
                        if (two) acc1 = _mm512_add_ps(acc1, _mm512_mask_loadu_ps(nz, m, d + cs));
                    }
                }
                _mm512_mask_storeu_ps(xr + w0, mx, acc);
                if (two) _mm512_mask_storeu_ps(xr1 + w0, mx1, acc1);
            }
        }
    }
}
