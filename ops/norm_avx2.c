/* norm_avx2.c - layer_norm's and batch_norm's kernels for AVX2 + FMA:
 * norm_simd.h compiled with -mavx2 -mfma (ops/meson.build), run only at
 * TG_SIMD_AVX2. */
#define NORM_KERN tg__norm_kern_avx2
#include "norm_simd.h"
