/* gemm_avx512.c - GEMM micro-kernels for AVX-512F + FMA (built with -mavx512f -mfma).
 * Built only where the compiler takes those flags (ops/kernels/meson.build);
 * called only at that SIMD level (tg__simd_level), which checks the CPU. */
#include "tg_kernels.h"

#include <immintrin.h>

/* f32: 12 x 32 tile, 24 of the 32 zmm registers hold it */
#define T float
#define VEC __m512
#define VL 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO() _mm512_setzero_ps()
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MR TG_AVX512_F32_MR
#define KNAME tg__ukr_avx512_f32
#include "gemm_ukernel.h"

/* f64: 12 x 16 tile */
#define T double
#define VEC __m512d
#define VL 8
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd(p, v)
#define VSET1(x) _mm512_set1_pd(x)
#define VZERO() _mm512_setzero_pd()
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define MR TG_AVX512_F64_MR
#define KNAME tg__ukr_avx512_f64
#include "gemm_ukernel.h"
