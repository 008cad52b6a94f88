/* gemm.c - blocked, packed, threaded GEMM with run-time SIMD dispatch.
 *
 * The driver (gemm_driver.h) is the same for every ISA; what changes is the
 * micro-kernel and the block sizes, kept together in one `gemm_arch` per
 * SIMD level and dtype below; each call takes the one of the library's
 * level (tg__simd_level: the CPU's best the build has, capped by TG_SIMD).
 *
 * Block sizes: MC x KC of packed A sits in about half of L2 (512 KiB on the
 * Zen machine tuned on, 1-2 MiB on AVX-512 parts), the kc x NR micro-panel
 * of B reused across it stays near L1, NC is large (L3). For AVX2 f32 a
 * long KC (512) measured best: fewer read-modify-write passes over C.
 * The AVX-512 sizes are by the same rule, untuned (no such CPU to hand).
 */
#include "tg_engine.h"
#include "tg_kernels.h"

#include <string.h>

/* Up to this many multiply-adds, unpacked loops beat packing. */
#define TG_GEMM_DIRECT_MAX 4096.0
/* Below this many multiply-adds, waking a thread costs more than it saves. */
#define TG_GEMM_THREAD_MIN 262144.0

/* ------------------------------------------------------ transposing packs */

/* out[p*W + r] = src[r*ld + p] for r < R, p < kc, and 0 for R <= r < W:
 * packing a micro-panel whose rows lie along K in memory (op(A) = A, and
 * op(B) = B^T, as in x @ W^T). Element by element this is a gather that
 * costs more than the AVX-512 kernel's multiply-adds for an MLP's shapes;
 * in 4 x 4 (f32) and 2 x 2 (f64) register transposes it streams. */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static void transpose_pack_f32(const float *restrict src, int64_t ld, int R, int64_t kc,
                               float *restrict out, int W) {
    int r = 0;
#if defined(__SSE2__)
    for (; r + 4 <= R; r += 4) {
        const float *s0 = src + r * ld, *s1 = s0 + ld, *s2 = s1 + ld, *s3 = s2 + ld;
        int64_t p = 0;
        for (; p + 4 <= kc; p += 4) {
            __m128 a = _mm_loadu_ps(s0 + p), b = _mm_loadu_ps(s1 + p);
            __m128 c = _mm_loadu_ps(s2 + p), d = _mm_loadu_ps(s3 + p);
            _MM_TRANSPOSE4_PS(a, b, c, d);
            float *o = out + p * W + r;
            _mm_storeu_ps(o, a);
            _mm_storeu_ps(o + W, b);
            _mm_storeu_ps(o + 2 * W, c);
            _mm_storeu_ps(o + 3 * W, d);
        }
        for (; p < kc; p++) {
            float *o = out + p * W + r;
            o[0] = s0[p], o[1] = s1[p], o[2] = s2[p], o[3] = s3[p];
        }
    }
#endif
    for (; r < R; r++) {
        const float *sr = src + r * ld;
        for (int64_t p = 0; p < kc; p++) out[p * W + r] = sr[p];
    }
    if (R < W)
        for (int64_t p = 0; p < kc; p++)
            for (int i = R; i < W; i++) out[p * W + i] = 0;
}

static void transpose_pack_f64(const double *restrict src, int64_t ld, int R, int64_t kc,
                               double *restrict out, int W) {
    int r = 0;
#if defined(__SSE2__)
    for (; r + 2 <= R; r += 2) {
        const double *s0 = src + r * ld, *s1 = s0 + ld;
        int64_t p = 0;
        for (; p + 2 <= kc; p += 2) {
            __m128d a = _mm_loadu_pd(s0 + p), b = _mm_loadu_pd(s1 + p);
            double *o = out + p * W + r;
            _mm_storeu_pd(o, _mm_unpacklo_pd(a, b));
            _mm_storeu_pd(o + W, _mm_unpackhi_pd(a, b));
        }
        for (; p < kc; p++) {
            double *o = out + p * W + r;
            o[0] = s0[p], o[1] = s1[p];
        }
    }
#endif
    for (; r < R; r++) {
        const double *sr = src + r * ld;
        for (int64_t p = 0; p < kc; p++) out[p * W + r] = sr[p];
    }
    if (R < W)
        for (int64_t p = 0; p < kc; p++)
            for (int i = R; i < W; i++) out[p * W + i] = 0;
}

#define T float
#define SFX f32
#include "gemm_driver.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "gemm_driver.h"
#undef T
#undef SFX

/* ------------------------------------------------------------- the levels */

/* Indexed by tg_simd; a level the compiler does not build has no entry,
 * and tg__simd_level() never returns it. */
static const gemm_arch_f32 arch_f32[3] = {
    [TG_SIMD_PORTABLE] = {4, 8, 128, 256, 4096, ukr_portable_f32},
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = {TG_AVX2_F32_MR, TG_AVX2_F32_NR, 144, 512, 4096, tg__ukr_avx2_f32},
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = {TG_AVX512_F32_MR, TG_AVX512_F32_NR, 384, 192, 4096, tg__ukr_avx512_f32},
#endif
};

static const gemm_arch_f64 arch_f64[3] = {
    [TG_SIMD_PORTABLE] = {4, 4, 128, 256, 4096, ukr_portable_f64},
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = {TG_AVX2_F64_MR, TG_AVX2_F64_NR, 120, 256, 4096, tg__ukr_avx2_f64},
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = {TG_AVX512_F64_MR, TG_AVX512_F64_NR, 192, 192, 4096, tg__ukr_avx512_f64},
#endif
};

/* The level of this call: the library's one. */
static inline int tg__gemm_level(void) { return tg__simd_level(); }

/* ------------------------------------------------------------ entry points */

void tg__gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc) {
    gemm_f32(&arch_f32[tg__gemm_level()], ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
             ldc);
}

void tg__gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc) {
    gemm_f64(&arch_f64[tg__gemm_level()], ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
             ldc);
}
