/* softmax_avx512.c - softmax's row kernels for AVX-512F: softmax_simd.h
 * compiled with -mavx512f -mfma (ops/meson.build), run only at
 * TG_SIMD_AVX512. */
#define SOFTMAX_KERN tg__softmax_kern_avx512
#include "softmax_simd.h"
