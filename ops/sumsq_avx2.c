/* sumsq_avx2.c - tg_sum_squares's row kernels for AVX2 + FMA: sumsq_simd.h
 * compiled with -mavx2 -mfma (ops/meson.build), run only at TG_SIMD_AVX2. */
#define SUMSQ_KERN tg__sumsq_kern_avx2
#include "sumsq_simd.h"
