/* optim_avx512.c - the optimizers' update loops for AVX-512F (twice the
 * lanes again: the square root and the division of Adam and RMSprop are
 * what these loops wait on): optim_simd.h compiled with -mavx512f -mfma
 * (nn/meson.build), run only at TG_SIMD_AVX512. */
#define OPTIM_UPDATE tg__optim_update_avx512
#include "optim_simd.h"
