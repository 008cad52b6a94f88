/* optim_avx2.c - the optimizers' update loops for AVX2 + FMA (twice the
 * lanes of the baseline): optim_simd.h compiled with -mavx2 -mfma
 * (nn/meson.build), run only at TG_SIMD_AVX2. */
#define OPTIM_UPDATE tg__optim_update_avx2
#include "optim_simd.h"
