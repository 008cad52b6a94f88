/* sumsq_portable.c - tg_sum_squares's row kernels for the compiler's
 * baseline (SSE2 on x86-64), every architecture: the portable variant of
 * sumsq_simd.h. */
#define SUMSQ_KERN tg__sumsq_kern_portable
#include "sumsq_simd.h"
