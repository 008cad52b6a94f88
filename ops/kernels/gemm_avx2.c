/* gemm_avx2.c - GEMM micro-kernels for AVX2 + FMA (built with -mavx2 -mfma).
 * Built only where the compiler takes those flags (ops/kernels/meson.build);
 * called only at that SIMD level (tg__simd_level), which checks the CPU. */
#include "tg_kernels.h"

#include <immintrin.h>

/* f32: 6 x 16 tile, 12 of the 16 ymm registers hold it */
#define T float
#define VEC __m256
#define VL 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VZERO() _mm256_setzero_ps()
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MR TG_AVX2_F32_MR
#define KNAME tg__ukr_avx2_f32
#include "gemm_ukernel.h"

/* f64: 6 x 8 tile */
#define T double
#define VEC __m256d
#define VL 4
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd(p, v)
#define VSET1(x) _mm256_set1_pd(x)
#define VZERO() _mm256_setzero_pd()
#define VMUL(a, b) _mm256_mul_pd(a, b)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define MR TG_AVX2_F64_MR
#define KNAME tg__ukr_avx2_f64
#include "gemm_ukernel.h"
