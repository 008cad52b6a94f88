/* optim_portable.c - the optimizers' update loops for the compiler's
 * baseline (SSE2 on x86-64), every architecture: the portable variant of
 * optim_simd.h. */
#define OPTIM_UPDATE tg__optim_update_portable
#include "optim_simd.h"
