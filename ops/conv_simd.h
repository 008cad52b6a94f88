/* conv_simd.h - conv.c's col2im at the AVX-512 level (ops/conv_avx512.c,
 * built with -mavx512f: ops/meson.build), for f32 with unit stride and
 * dilation along W; conv.c calls it at TG_SIMD_AVX512 and its own loops
 * otherwise.
 *
 * col2im adds col (C*KH*KW rows of OH*OW) into x (C, H, W): each x element
 * receives its contributions in (ki, kj) order, one add at a time, which
 * fixes its bits. conv.c's loops add one col row at a time into the rows
 * of x it touches (conv2 of bench_conv: 3168 rows of 11 floats a sample,
 * each a load, an add and a store of x in 4-lane pieces). This kernel
 * holds a piece of 16 lanes of one x row in a register and adds into it
 * every (ki, kj) that reaches it, in the same order, each a masked load of
 * the col row's slice with -0 in the lanes outside (x + -0 is x, for every
 * x, -0 and NaN included), then stores it once: the same adds in the same
 * order, so the same bits. Four channels at a time: four independent
 * chains of adds (one chain: 13 us a sample of conv2 of bench_conv, two:
 * 8.5 us, four: 5.9 us, against 20-23 us for conv.c's loops, on the
 * shared AMD EPYC VM). */
#ifndef TG_CONV_SIMD_H
#define TG_CONV_SIMD_H

#include <stdbool.h>
#include <stdint.h>

/* The shapes col2im needs (conv.c's conv_geom, less what it does not). */
typedef struct tg_col2im_geom {
    int64_t C, H, W;     /* x (C, H, W) */
    int64_t KH, KW;      /* the kernel */
    int64_t OH, OW;      /* col's rows: OH * OW */
    int64_t sh, ph, dh;  /* stride, padding, dilation along H */
    int64_t pw;          /* padding along W (stride and dilation 1) */
} tg_col2im_geom;

#if defined(TG_HAVE_AVX512)
/* x += col2im(col), for sw == dw == 1 */
void tg__col2im_f32_avx512(const tg_col2im_geom *g, const float *col, float *x);
#endif
/* The same from conv.c, for its test (tests/test_col2im.c): false, and x
 * untouched, where the build or the CPU has no AVX-512. */
bool tg__col2im_f32_simd(const tg_col2im_geom *g, const float *col, float *x);

#endif /* TG_CONV_SIMD_H */
