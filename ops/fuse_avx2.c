/* fuse_avx2.c - the block interpreter of fused chains for AVX2 (-mavx2 -mfma, no contraction):
 * fuse_simd.h compiled with the level's flags (ops/meson.build). */
#define TG_FUSE_RANGE tg__fuse_range_avx2
#include "fuse_simd.h"
