/* fuse_avx512.c - the block interpreter of fused chains for AVX-512F (-mavx512f -mfma, no contraction):
 * fuse_simd.h compiled with the level's flags (ops/meson.build). */
#define TG_FUSE_RANGE tg__fuse_range_avx512
#include "fuse_simd.h"
