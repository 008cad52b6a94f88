/* sumsq_avx512.c - tg_sum_squares's row kernels for AVX-512F:
 * sumsq_simd.h compiled with -mavx512f -mfma (ops/meson.build), run only
 * at TG_SIMD_AVX512. */
#define SUMSQ_KERN tg__sumsq_kern_avx512
#include "sumsq_simd.h"
