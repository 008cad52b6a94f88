/* norm_avx512.c - layer_norm's and batch_norm's kernels for AVX-512F:
 * norm_simd.h compiled with -mavx512f -mfma (ops/meson.build), run only at
 * TG_SIMD_AVX512. */
#define NORM_KERN tg__norm_kern_avx512
#include "norm_simd.h"
