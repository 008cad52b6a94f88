/* fuse_portable.c - the block interpreter of fused chains for the compiler's baseline:
 * fuse_simd.h compiled with the level's flags (ops/meson.build). */
#define TG_FUSE_RANGE tg__fuse_range_portable
#include "fuse_simd.h"
