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
    [TG_SIMD_PORTABLE] = {4, 8, 128, 256, 4096, ukr_portable_f32, NULL},
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = {TG_AVX2_F32_MR, TG_AVX2_F32_NR, 144, 512, 4096, tg__ukr_avx2_f32, tg__ukr_avx2_f32_sb},
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = {TG_AVX512_F32_MR, TG_AVX512_F32_NR, 384, 192, 4096, tg__ukr_avx512_f32, tg__ukr_avx512_f32_sb},
#endif
};

static const gemm_arch_f64 arch_f64[3] = {
    [TG_SIMD_PORTABLE] = {4, 4, 128, 256, 4096, ukr_portable_f64, NULL},
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = {TG_AVX2_F64_MR, TG_AVX2_F64_NR, 120, 256, 4096, tg__ukr_avx2_f64, tg__ukr_avx2_f64_sb},
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = {TG_AVX512_F64_MR, TG_AVX512_F64_NR, 192, 192, 4096, tg__ukr_avx512_f64, tg__ukr_avx512_f64_sb},
#endif
};

/* ------------------------------------------------------------ entry points */

int64_t tg__gemm_in_place_rows(int dt) {
#if defined(TG_HAVE_CBLAS)
    (void)dt;
    return 0; /* the system BLAS packs as it likes */
#else
    int lv = tg__simd_level();
    if (dt == 0 /* TG_F32 */) return arch_f32[lv].ukr_sb ? 2 * (int64_t)arch_f32[lv].mr : 0;
    return arch_f64[lv].ukr_sb ? 2 * (int64_t)arch_f64[lv].mr : 0;
#endif
}

#if defined(TG_HAVE_CBLAS)
/* -Dblas=enabled: GEMMs go to the system CBLAS (row-major, the same
 * transposes, alpha, beta and leading dimensions), but for what the kernels
 * above do better or must do themselves. Measured against OpenBLAS 0.3.21
 * (one thread): up to TG_GEMM_BLAS_MIN multiply-adds the call costs more
 * than the work, and with M or N == 1 the kernels' GEMV is 2-4x faster than
 * its sgemm. alpha == 0 or K == 0 (A and B are not read) and sizes past an
 * int stay here too.
 *
 * Threads stay tapegrad's: OpenBLAS is set to one thread, and a large GEMM
 * is cut into bands of rows (or columns) of C on tg__parallel_for, as the
 * kernels above do. Left to its own threads, OpenBLAS called from inside a
 * parallel op (conv's pieces) runs threads on threads and spins: twice the
 * CPU time for the Fashion-MNIST CNN.
 *
 * When beta == 0 the BLAS standard only says C "need not be set", and an
 * implementation may still compute 0 * C; tg__gemm promises that NaN in C
 * is overwritten, so each band of C is zeroed first. */
#include <cblas.h>
#include <limits.h>
#include <pthread.h> /* pthread_once: OpenBLAS set to one thread, once */

#define TG_GEMM_BLAS_MIN 200.0
#define BLAS_BAND 16 /* bands of C are multiples of this many rows or columns */

typedef struct blas_job {
    bool f64, ta, tb, split_m;
    int64_t M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const char *A, *B;
    char *C;
} blas_job;

/* Bands [lo, hi) of C: rows if split_m, else columns. */
static void blas_piece(void *ctx, int64_t lo, int64_t hi) {
    const blas_job *j = ctx;
    size_t es = j->f64 ? sizeof(double) : sizeof(float);
    int64_t M = j->M, N = j->N, n = j->split_m ? M : N;
    lo *= BLAS_BAND;
    hi = hi * BLAS_BAND < n ? hi * BLAS_BAND : n;
    const char *A = j->A, *B = j->B;
    char *C = j->C;
    if (j->split_m) {
        A += (size_t)(j->ta ? lo : lo * j->lda) * es;
        C += (size_t)(lo * j->ldc) * es;
        M = hi - lo;
    } else {
        B += (size_t)(j->tb ? lo * j->ldb : lo) * es;
        C += (size_t)lo * es;
        N = hi - lo;
    }
    if (j->beta == 0)
        for (int64_t i = 0; i < M; i++) memset(C + (size_t)(i * j->ldc) * es, 0, (size_t)N * es);
    enum CBLAS_TRANSPOSE opa = j->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE opb = j->tb ? CblasTrans : CblasNoTrans;
    if (j->f64)
        cblas_dgemm(CblasRowMajor, opa, opb, (int)M, (int)N, (int)j->K, j->alpha,
                    (const double *)A, (int)j->lda, (const double *)B, (int)j->ldb, j->beta,
                    (double *)C, (int)j->ldc);
    else
        cblas_sgemm(CblasRowMajor, opa, opb, (int)M, (int)N, (int)j->K, (float)j->alpha,
                    (const float *)A, (int)j->lda, (const float *)B, (int)j->ldb,
                    (float)j->beta, (float *)C, (int)j->ldc);
}

#if defined(TG_HAVE_OPENBLAS)
static void blas_one_thread(void) { openblas_set_num_threads(1); }
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
#endif

static bool gemm_blas(bool f64, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                      double alpha, const void *A, int64_t lda, const void *B, int64_t ldb,
                      double beta, void *C, int64_t ldc) {
    double work = (double)M * (double)N * (double)K;
    if (M <= 1 || N <= 1 || K <= 0 || alpha == 0 || work <= TG_GEMM_BLAS_MIN)
        return false;
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX || lda < (ta ? M : K) || ldb < (tb ? K : N) || ldc < N)
        return false; /* cblas takes int and checks the leading dimensions */
#if defined(TG_HAVE_OPENBLAS)
    pthread_once(&blas_once, blas_one_thread);
#endif
    blas_job j = {f64, ta, tb, M >= N, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    int64_t bands = ((j.split_m ? M : N) + BLAS_BAND - 1) / BLAS_BAND;
    if (work < TG_GEMM_THREAD_MIN)
        blas_piece(&j, 0, bands);
    else
        tg__parallel_for(bands, 1, blas_piece, &j);
    return true;
}
#endif

void tg__gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc) {
#if defined(TG_HAVE_CBLAS)
    if (gemm_blas(false, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
#endif
    gemm_f32(&arch_f32[tg__simd_level()], ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
             ldc);
}

void tg__gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc) {
#if defined(TG_HAVE_CBLAS)
    if (gemm_blas(true, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
#endif
    gemm_f64(&arch_f64[tg__simd_level()], ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
             ldc);
}

/* ------------------------------------------- op(A) packed once (tg_kernels.h) */

size_t tg__gemm_pa_size(int dt, int level, int64_t M, int64_t K) {
    int64_t mr = dt == 0 ? arch_f32[level].mr : arch_f64[level].mr;
    return (size_t)((M + mr - 1) / mr * mr) * (size_t)K;
}

int64_t tg__gemm_kc(int dt, int level) {
    return dt == 0 ? arch_f32[level].kc : arch_f64[level].kc;
}

size_t tg__gemm_pb_size(int dt, int level, int64_t N, int64_t K) {
    int64_t nr = dt == 0 ? arch_f32[level].nr : arch_f64[level].nr;
    int64_t nc = dt == 0 ? arch_f32[level].nc : arch_f64[level].nc;
    int64_t kc = dt == 0 ? arch_f32[level].kc : arch_f64[level].kc;
    if (N > nc) N = nc;
    if (K > kc) K = kc;
    return (size_t)((N + nr - 1) / nr * nr) * (size_t)K;
}

void tg__gemm_pa_pack(int dt, int level, bool ta, int64_t M, int64_t K, const void *A,
                      int64_t lda, void *out) {
    if (dt == 0)
        pa_pack_f32(&arch_f32[level], ta, M, K, A, lda, out);
    else
        pa_pack_f64(&arch_f64[level], ta, M, K, A, lda, out);
}

void tg__gemm_pa(int dt, int level, int64_t M, int64_t N, int64_t K, const void *Ap,
                 const void *B, int64_t ldb, double beta, void *C, int64_t ldc, void *Bp) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* as tg__gemm: A and B are not read */
        if (dt == 0) scale_c_f32(M, N, (float)beta, C, ldc);
        else scale_c_f64(M, N, beta, C, ldc);
        return;
    }
    if (dt == 0)
        gemm_pa_f32(&arch_f32[level], M, N, K, Ap, B, ldb, (float)beta, C, ldc, Bp);
    else
        gemm_pa_f64(&arch_f64[level], M, N, K, Ap, B, ldb, beta, C, ldc, Bp);
}
