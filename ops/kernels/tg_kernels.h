/* tg_kernels.h - raw loops the ops call: GEMM. Internal.
 *
 * GEMM follows the BLIS/GotoBLAS scheme: op(B) is packed in KC x NC blocks
 * (NR-wide micro-panels), op(A) in MC x KC blocks (MR-tall micro-panels),
 * and a SIMD micro-kernel computes one MR x NR tile of C from a micro-panel
 * of each, with the tile held in registers for the whole KC loop.
 *
 * The micro-kernel is the one of the library's SIMD level (tg__simd_level,
 * autograd/core/simd.c), at each call:
 *   TG_SIMD_AVX512  gemm_avx512.c, built with -mavx512f -mfma
 *   TG_SIMD_AVX2    gemm_avx2.c,   built with -mavx2 -mfma
 *   TG_SIMD_PORTABLE plain C in gemm.c (every architecture)
 * so one build runs on any x86-64. TG_SIMD=portable|avx2|avx512 in the
 * environment caps the level; tg__simd_force overrides it (tests).
 */
#ifndef TG_KERNELS_H
#define TG_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* C = alpha * op(A) @ op(B) + beta * C, row-major.
 * op(A) is M x K: A is M x K (row stride lda) or, if ta, K x M.
 * op(B) is K x N: B is K x N (row stride ldb) or, if tb, N x K.
 * beta == 0 overwrites C without reading it. */
void tg__gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc);
void tg__gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc);

/* The most rows M of C (dtype TG_F32 or TG_F64, at the library's SIMD
 * level) for which a GEMM whose B is not transposed reads B's panels in
 * place instead of packing them (gemm_driver.h); 0 at a level without
 * such a kernel. A caller free to choose between C and C^T (linalg.c:
 * d w of a linear layer with few inputs) can pick the form that skips the
 * pass over a large B. */
int64_t tg__gemm_in_place_rows(int dt);

/* -------------------------------------------------------- micro-kernels */

/* c[0..mr) x [0..nr) (row stride ldc) = alpha * a_panel @ b_panel + beta * c,
 * where a is a packed MR x kc micro-panel (a[p*MR + i]) and b a packed
 * kc x NR one (b[p*NR + j]). mr <= MR, nr <= NR; beta == 0 never reads c. */
typedef void (*tg_ukr_f32)(int64_t kc, const float *a, const float *b, float *c,
                           int64_t ldc, float alpha, float beta, int mr, int nr);
typedef void (*tg_ukr_f64)(int64_t kc, const double *a, const double *b, double *c,
                           int64_t ldc, double alpha, double beta, int mr, int nr);
/* The same for a whole NR-wide panel of B read in place, its rows ldb
 * apart (b[p*ldb + j]): the SIMD levels' *_sb kernels. */
typedef void (*tg_ukr_sb_f32)(int64_t kc, const float *a, const float *b, int64_t ldb,
                              float *c, int64_t ldc, float alpha, float beta, int mr);
typedef void (*tg_ukr_sb_f64)(int64_t kc, const double *a, const double *b, int64_t ldb,
                              double *c, int64_t ldc, double alpha, double beta, int mr);

/* Register tile shapes of the SIMD kernels (NR = two vectors). */
#define TG_AVX2_F32_MR 6
#define TG_AVX2_F32_NR 16
#define TG_AVX2_F64_MR 6
#define TG_AVX2_F64_NR 8
#define TG_AVX512_F32_MR 12
#define TG_AVX512_F32_NR 32
#define TG_AVX512_F64_MR 12
#define TG_AVX512_F64_NR 16

/* Built only where the compiler takes the level's flags (TG_HAVE_*). */
#if defined(TG_HAVE_AVX2)
void tg__ukr_avx2_f32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                      float alpha, float beta, int mr, int nr);
void tg__ukr_avx2_f64(int64_t kc, const double *a, const double *b, double *c, int64_t ldc,
                      double alpha, double beta, int mr, int nr);
void tg__ukr_avx2_f32_sb(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                         int64_t ldc, float alpha, float beta, int mr);
void tg__ukr_avx2_f64_sb(int64_t kc, const double *a, const double *b, int64_t ldb, double *c,
                         int64_t ldc, double alpha, double beta, int mr);
#endif
#if defined(TG_HAVE_AVX512)
void tg__ukr_avx512_f32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                        float alpha, float beta, int mr, int nr);
void tg__ukr_avx512_f64(int64_t kc, const double *a, const double *b, double *c,
                        int64_t ldc, double alpha, double beta, int mr, int nr);
void tg__ukr_avx512_f32_sb(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                           int64_t ldc, float alpha, float beta, int mr);
void tg__ukr_avx512_f64_sb(int64_t kc, const double *a, const double *b, int64_t ldb,
                           double *c, int64_t ldc, double alpha, double beta, int mr);
#endif

/* ------------------------------------------------------- op(A) packed once */

/* For many products with one op(A) (a convolution's weight, once per
 * sample): op(A) (M x K; A is M x K with row stride lda or, if ta, K x M)
 * is packed once by tg__gemm_pa_pack for the SIMD level `level`
 * (tg__simd_level(), read once by the caller and passed to every call)
 * into tg__gemm_pa_size(dt, level, M, K) elements; then each tg__gemm_pa
 * computes C = op(A) @ B + beta * C (B K x N, row stride ldb; beta == 0:
 * C not read) on the calling thread, with the blocks, micro-kernel and
 * order of tg__gemm's native blocked path, so the same bits as that path
 * (never BLAS). Bp is the caller's scratch for one packed block of B,
 * tg__gemm_pb_size(dt, level, N, K) elements, 64-byte aligned. Pointers
 * are of the dtype (0: f32, else f64). */
size_t tg__gemm_pa_size(int dt, int level, int64_t M, int64_t K);
/* The native blocked path's K block at a level (dt 0: f32, else f64): a
 * product with K at most this sums each element of C in one pass of the
 * micro-kernel, k in order, then adds it to beta * C. */
int64_t tg__gemm_kc(int dt, int level);
size_t tg__gemm_pb_size(int dt, int level, int64_t N, int64_t K);
void tg__gemm_pa_pack(int dt, int level, bool ta, int64_t M, int64_t K, const void *A,
                      int64_t lda, void *out);
void tg__gemm_pa(int dt, int level, int64_t M, int64_t N, int64_t K, const void *Ap,
                 const void *B, int64_t ldb, double beta, void *C, int64_t ldc, void *Bp);

/* ----------------------------------------------------------------- dtype */

/* The GEMM of a tensor dtype (TG_F32 or TG_F64), alpha = 1: what the ops
 * call, so the dtype dispatch is written once. */
static inline void tg__gemm(int dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                            const void *A, int64_t lda, const void *B, int64_t ldb,
                            double beta, void *C, int64_t ldc) {
    if (dt == 0 /* TG_F32 */)
        tg__gemm_f32(ta, tb, M, N, K, 1.0f, (const float *)A, lda, (const float *)B, ldb,
                     (float)beta, (float *)C, ldc);
    else
        tg__gemm_f64(ta, tb, M, N, K, 1.0, (const double *)A, lda, (const double *)B, ldb,
                     beta, (double *)C, ldc);
}

#endif
