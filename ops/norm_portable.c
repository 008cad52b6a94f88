/* norm_portable.c - layer_norm's and batch_norm's kernels for the
 * compiler's baseline (SSE2 on x86-64), every architecture: the portable
 * variant of norm_simd.h. */
#define NORM_KERN tg__norm_kern_portable
#include "norm_simd.h"
