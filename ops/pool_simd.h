/* pool_simd.h - pool.c's 2x2 stride-2 max pooling (no padding) for f32 at
 * the AVX-512 level (ops/pool_avx512.c, built with -mavx512f:
 * ops/meson.build); pool.c calls it at TG_SIMD_AVX512 and its own loops
 * otherwise.
 *
 * pool.c's loop takes one window at a time: four loads, three
 * compare-and-selects of the value and of the index, two stores. These
 * kernels take 16 windows of a row pair at once: two 32-float loads of
 * each input row, split into their even and odd columns (the windows'
 * left and right elements), the same three compare-and-selects in the same
 * order (`v > m || v is NaN`, so the same element wins and the same bits
 * come out), and the backward writes each row pair's gradient once, 0
 * where a window's element lost. In bench_conv's step (a pool of 32 x 32
 * planes of 26 x 26) they take 10% off the forward and 4-6% off the step
 * on one thread (bench/README.md, "max_pool2d's 2x2 kernels"). Each also
 * runs through a relu that pool.c reads through (relu_under): relu applied
 * to the loads, relu's backward to the stores; that takes another 6-9%
 * off the step (bench/README.md, "a relu read through"). */
#ifndef TG_POOL_SIMD_H
#define TG_POOL_SIMD_H

#include <stdbool.h>
#include <stdint.h>

/* The planes' shapes: (H, W) in, (OH, OW) = (H / 2, W / 2) out. */
typedef struct tg_pool2_geom {
    int64_t H, W, OH, OW;
} tg_pool2_geom;

#if defined(TG_HAVE_AVX512)
/* Planes [p0, p1): y = the max of each window, idx = its first max's
 * h * W + w in the plane (a NaN wins, a later NaN over an earlier one).
 * relu: of relu(x) instead, relu applied as each element is loaded (the
 * max pooling of a relu that pool.c reads through, never stored). */
void tg__maxpool2_fwd_f32_avx512(const tg_pool2_geom *g, int64_t p0, int64_t p1, const float *x,
                                 float *y, int32_t *idx, bool relu);
/* Planes [p0, p1) of gx (uninitialised): gy at each window's chosen
 * element, +0 everywhere else (the rows and column no window covers too).
 * rx (or NULL): the same through a relu whose input is rx, so gx is the
 * relu's input gradient: relu's backward (x > 0 ? g : 0) on each element
 * as it is stored. */
void tg__maxpool2_bwd_f32_avx512(const tg_pool2_geom *g, int64_t p0, int64_t p1, const float *gy,
                                 const int32_t *idx, float *gx, const float *rx);
#endif

#endif /* TG_POOL_SIMD_H */
