/* softmax_avx2.c - softmax's row kernels for AVX2 + FMA: softmax_simd.h
 * compiled with -mavx2 -mfma (ops/meson.build), run only at TG_SIMD_AVX2. */
#define SOFTMAX_KERN tg__softmax_kern_avx2
#include "softmax_simd.h"
