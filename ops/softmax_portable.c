/* softmax_portable.c - softmax's row kernels for the compiler's baseline
 * (SSE2 on x86-64), every architecture: the portable variant of
 * softmax_simd.h. */
#define SOFTMAX_KERN tg__softmax_kern_portable
#include "softmax_simd.h"
