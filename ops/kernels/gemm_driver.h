/* gemm_driver.h - the blocked GEMM driver, written once for f32 and f64.
 *
 * Included twice by gemm.c with T (float, double) and SFX (f32, f64).
 * Dimension letters: M rows of C, N columns of C, K the inner dimension.
 * Loop nest (BLIS): jc over N by NC, pc over K by KC (pack B), ic over M
 * by MC (pack A), jr over NR-wide micro-panels of B, ir over MR-tall
 * micro-panels of A. The kc x NR micro-panel of B stays in L1 across the
 * ir loop, the MC x KC block of A in L2, the KC x NC block of B in L3.
 */

#define CAT2_(a, b) a##_##b
#define CAT2(a, b) CAT2_(a, b)
#define FN(name) CAT2(name, SFX)

typedef struct FN(gemm_arch) {
    int mr, nr;         /* register tile */
    int64_t mc, kc, nc; /* cache blocks (mc % mr == 0, nc % nr == 0) */
    void (*ukr)(int64_t kc, const T *a, const T *b, T *c, int64_t ldc, T alpha, T beta,
                int mr, int nr);
    /* the same on a whole panel of B in place (tg_kernels.h); NULL: always pack */
    void (*ukr_sb)(int64_t kc, const T *a, const T *b, int64_t ldb, T *c, int64_t ldc,
                   T alpha, T beta, int mr);
} FN(gemm_arch);

/* Portable micro-kernel: plain C the compiler vectorizes for its target. */
#define PMR 4
#define PNR (32 / (int)sizeof(T)) /* 8 floats or 4 doubles */
static void FN(ukr_portable)(int64_t kc, const T *restrict a, const T *restrict b,
                             T *restrict c, int64_t ldc, T alpha, T beta, int mr, int nr) {
    T acc[PMR][PNR]; /* (MR, NR) */
    for (int i = 0; i < PMR; i++)
        for (int j = 0; j < PNR; j++) acc[i][j] = 0;
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < PMR; i++) {
            T ai = a[i];
            for (int j = 0; j < PNR; j++) acc[i][j] += ai * b[j];
        }
        a += PMR;
        b += PNR;
    }
    for (int i = 0; i < mr; i++) {
        T *ci = c + i * ldc;
        if (beta == 0)
            for (int j = 0; j < nr; j++) ci[j] = alpha * acc[i][j];
        else
            for (int j = 0; j < nr; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
}

/* ---------------------------------------------------------------- packing */

/* Packing, for both operands: w panel lines of a matrix X, each kc long,
 * into W-wide micro-panels: out[(r/W)*W*kc + p*W + i] = line r+i's element
 * p, lines past w zero. Line l's element p is X[l*ld + p] if along_k (the
 * lines are X's rows: a register transpose, gemm.c), else X[p*ld + l].
 * op(A)'s MR-tall panels are its rows (along_k = !ta), op(B)'s NR-wide
 * ones its columns (along_k = tb). W is a constant in each instantiation,
 * so the loops unroll. */
static inline __attribute__((always_inline)) void FN(pack_w)(
    const T *restrict X, int64_t ld, bool along_k, int64_t w, int64_t kc, T *restrict out,
    const int W) {
    for (int64_t r = 0; r < w; r += W, out += W * kc) {
        int m = (int)(w - r < W ? w - r : W);
        if (along_k) {
            FN(transpose_pack)(X + r * ld, ld, m, kc, out, W);
        } else if (m == W) {
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < W; i++) out[p * W + i] = X[p * ld + r + i];
        } else {
            for (int64_t p = 0; p < kc; p++) {
                for (int i = 0; i < m; i++) out[p * W + i] = X[p * ld + r + i];
                for (int i = m; i < W; i++) out[p * W + i] = 0;
            }
        }
    }
}

/* pack_w for the register tiles' widths (MR: 4, 6, 12; NR: 4, 8, 16, 32). */
static void FN(pack)(const T *X, int64_t ld, bool along_k, int64_t w, int64_t kc, T *out,
                     int W) {
    switch (W) {
    case 4: FN(pack_w)(X, ld, along_k, w, kc, out, 4); break;
    case 6: FN(pack_w)(X, ld, along_k, w, kc, out, 6); break;
    case 8: FN(pack_w)(X, ld, along_k, w, kc, out, 8); break;
    case 12: FN(pack_w)(X, ld, along_k, w, kc, out, 12); break;
    case 16: FN(pack_w)(X, ld, along_k, w, kc, out, 16); break;
    case 32: FN(pack_w)(X, ld, along_k, w, kc, out, 32); break;
    default: FN(pack_w)(X, ld, along_k, w, kc, out, W); break;
    }
}

/* The mc x kc block of op(A) starting at A (A[i*lda + p], or A[p*lda + i]
 * if ta) into MR-tall micro-panels: out[(ir/MR)*MR*kc + p*MR + i], rows past
 * mc zero. */
static void FN(pack_a)(const T *A, int64_t lda, bool ta, int64_t mc, int64_t kc, T *out,
                       int mr) {
    FN(pack)(A, lda, !ta, mc, kc, out, mr);
}

/* The kc x nc block of op(B) starting at B (B[p*ldb + j], or B[j*ldb + p]
 * if tb) into NR-wide micro-panels: out[(jr/NR)*NR*kc + p*NR + j], columns
 * past nc zero. */
static void FN(pack_b)(const T *B, int64_t ldb, bool tb, int64_t kc, int64_t nc, T *out,
                       int nr) {
    FN(pack)(B, ldb, tb, nc, kc, out, nr);
}

/* ------------------------------------------------------------ simple paths */

/* C = beta * C (beta == 0: zeros, C not read). */
static void FN(scale_c)(int64_t M, int64_t N, T beta, T *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        T *c = C + i * ldc;
        if (beta == 0)
            for (int64_t j = 0; j < N; j++) c[j] = 0;
        else if (beta != 1)
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
}

/* Unpacked loops, for tiny problems and when no scratch can be had. */
static void FN(gemm_direct)(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha,
                            const T *restrict A, int64_t lda, const T *restrict B, int64_t ldb,
                            T beta, T *restrict C, int64_t ldc) {
    FN(scale_c)(M, N, beta, C, ldc);
    for (int64_t i = 0; i < M; i++) {
        T *restrict c = C + i * ldc;
        if (!tb && N == 1) { /* a column (GMM's batched Q mu and its d mu):
                              * the sum in a register, the same adds */
            T acc = c[0];
            for (int64_t p = 0; p < K; p++)
                acc += alpha * (ta ? A[p * lda + i] : A[i * lda + p]) * B[p * ldb];
            c[0] = acc;
        } else if (!tb) {
            for (int64_t p = 0; p < K; p++) {
                T a = alpha * (ta ? A[p * lda + i] : A[i * lda + p]);
                const T *restrict b = B + p * ldb;
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
            }
        } else {
            for (int64_t j = 0; j < N; j++) {
                const T *restrict b = B + j * ldb;
                T s = 0;
                if (!ta)
                    for (int64_t p = 0; p < K; p++) s += A[i * lda + p] * b[p];
                else
                    for (int64_t p = 0; p < K; p++) s += A[p * lda + i] * b[p];
                c[j] += alpha * s;
            }
        }
    }
}

/* Matrix-vector (N == 1 or M == 1): no packing, every element of the matrix
 * read once. y[i*incy] = beta y + alpha sum_p X[i*rs + p*cs] v[p*incv] for
 * i < n, p < k, with either the rows (cs == 1: dot products, eight partial
 * sums so the compiler vectorizes them) or the columns (rs == 1 and
 * incy == 1: axpy over columns) of X contiguous. false: neither, use the
 * general path. */
static bool FN(gemv)(int64_t n, int64_t k, T alpha, const T *restrict X, int64_t rs,
                     int64_t cs, const T *restrict v, int64_t incv, T beta, T *restrict y,
                     int64_t incy) {
    if (cs == 1) {
        for (int64_t i = 0; i < n; i++) {
            const T *restrict row = X + i * rs;
            T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t p = 0;
            if (incv == 1)
                for (; p + 8 <= k; p += 8)
                    for (int u = 0; u < 8; u++) acc[u] += row[p + u] * v[p + u];
            T sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for (; p < k; p++) sum += row[p] * v[p * incv];
            T *yi = y + i * incy;
            *yi = beta == 0 ? alpha * sum : alpha * sum + beta * *yi;
        }
        return true;
    }
    if (rs != 1 || incy != 1) return false;
    FN(scale_c)(1, n, beta, y, n);
    for (int64_t p = 0; p < k; p++) {
        const T a = alpha * v[p * incv];
        const T *restrict col = X + p * cs;
        for (int64_t i = 0; i < n; i++) y[i] += a * col[i];
    }
    return true;
}

/* ---------------------------------------------------------------- blocked */

static void FN(gemm_blocked)(const FN(gemm_arch) *g, bool ta, bool tb, int64_t M, int64_t N,
                             int64_t K, T alpha, const T *A, int64_t lda, const T *B,
                             int64_t ldb, T beta, T *C, int64_t ldc) {
    const int mr = g->mr, nr = g->nr;
    int64_t kcmax = K < g->kc ? K : g->kc;
    int64_t mcmax = M < g->mc ? M : g->mc;
    int64_t ncmax = N < g->nc ? N : g->nc;
    size_t na = (size_t)((mcmax + mr - 1) / mr * mr * kcmax); /* (MC, KC) packed A */
    size_t nb = (size_t)((ncmax + nr - 1) / nr * nr * kcmax); /* (KC, NC) packed B */
    na = (na + 15) & ~(size_t)15;                              /* keep B 64-byte aligned */
    T *Ap = tg__thread_scratch((na + nb) * sizeof(T));
    if (!Ap) { /* out of memory: slow but correct, and never abort */
        FN(gemm_direct)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    T *Bp = Ap + na;
    /* A C of at most two MR-row panels (x^T h, a linear layer's weight
     * gradient computed transposed: linalg.c): each packed B panel would
     * serve one or two A panels, from L1, so packing B (a pass over all of
     * it) costs more than it saves. Whole NR-wide panels of a B whose rows
     * lie along N are then read in place; the last, narrower one is packed.
     * The same multiply-adds in the same order: the same bits. */
    bool in_place = g->ukr_sb && !tb && M <= 2 * (int64_t)mr;

    for (int64_t jc = 0; jc < N; jc += g->nc) {
        int64_t nc = N - jc < g->nc ? N - jc : g->nc;
        int64_t nfull = in_place ? nc / nr * nr : 0; /* columns read in place */
        for (int64_t pc = 0; pc < K; pc += g->kc) {
            int64_t kc = K - pc < g->kc ? K - pc : g->kc;
            T bet = pc == 0 ? beta : 1; /* later K blocks add to C */
            if (nfull < nc)
                FN(pack_b)(tb ? B + (jc + nfull) * ldb + pc : B + pc * ldb + jc + nfull, ldb, tb,
                           kc, nc - nfull, Bp + nfull * kc, nr);
            for (int64_t ic = 0; ic < M; ic += g->mc) {
                int64_t mc = M - ic < g->mc ? M - ic : g->mc;
                FN(pack_a)(ta ? A + pc * lda + ic : A + ic * lda + pc, lda, ta, mc, kc, Ap, mr);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int n = (int)(nc - jr < nr ? nc - jr : nr);
                    const T *bp = Bp + jr * kc;
                    T *cj = C + ic * ldc + jc + jr;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int m = (int)(mc - ir < mr ? mc - ir : mr);
                        if (jr < nfull)
                            g->ukr_sb(kc, Ap + ir * kc, B + pc * ldb + jc + jr, ldb,
                                      cj + ir * ldc, ldc, alpha, bet, m);
                        else
                            g->ukr(kc, Ap + ir * kc, bp, cj + ir * ldc, ldc, alpha, bet, m, n);
                    }
                }
            }
        }
    }
}

/* One thread's share: a range of MR-row tiles or NR-column tiles. */
typedef struct FN(gemm_job) {
    const FN(gemm_arch) *g;
    bool ta, tb, split_m;
    int64_t M, N, K, lda, ldb, ldc, tiles;
    T alpha, beta;
    const T *A, *B;
    T *C;
} FN(gemm_job);

static void FN(gemm_piece)(void *ctx, int64_t lo, int64_t hi) {
    const FN(gemm_job) *j = ctx;
    if (j->split_m) {
        int64_t i0 = lo * j->g->mr, i1 = hi == j->tiles ? j->M : hi * j->g->mr;
        const T *A = j->ta ? j->A + i0 : j->A + i0 * j->lda;
        FN(gemm_blocked)(j->g, j->ta, j->tb, i1 - i0, j->N, j->K, j->alpha, A, j->lda, j->B,
                         j->ldb, j->beta, j->C + i0 * j->ldc, j->ldc);
    } else {
        int64_t j0 = lo * j->g->nr, j1 = hi == j->tiles ? j->N : hi * j->g->nr;
        const T *B = j->tb ? j->B + j0 * j->ldb : j->B + j0;
        FN(gemm_blocked)(j->g, j->ta, j->tb, j->M, j1 - j0, j->K, j->alpha, j->A, j->lda, B,
                         j->ldb, j->beta, j->C + j0, j->ldc);
    }
}

static void FN(gemm)(const FN(gemm_arch) *g, bool ta, bool tb, int64_t M, int64_t N,
                     int64_t K, T alpha, const T *A, int64_t lda, const T *B, int64_t ldb,
                     T beta, T *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0) { /* BLAS: A and B are not read */
        FN(scale_c)(M, N, beta, C, ldc);
        return;
    }
    double work = (double)M * (double)N * (double)K;
    if (work <= TG_GEMM_DIRECT_MAX) {
        FN(gemm_direct)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* C (M x 1) = op(A) b, or C (1 x N) = a op(B) */
    if (N == 1 && FN(gemv)(M, K, alpha, A, ta ? 1 : lda, ta ? lda : 1, B, tb ? 1 : ldb, beta, C,
                           ldc))
        return;
    if (M == 1 && FN(gemv)(N, K, alpha, B, tb ? ldb : 1, tb ? 1 : ldb, A, ta ? lda : 1, beta, C,
                           1))
        return;
    int nt = work < TG_GEMM_THREAD_MIN ? 1 : tg_get_num_threads();
    if (nt > 1) {
        /* Split the dimension that leaves the least work per thread: the
         * other operand is packed by every thread, so prefer splitting the
         * larger dimension when both are even. */
        int64_t tm = (M + g->mr - 1) / g->mr, tn = (N + g->nr - 1) / g->nr;
        int64_t cm = (tm + nt - 1) / nt * tn, cn = tm * ((tn + nt - 1) / nt);
        bool split_m = cm < cn || (cm == cn && M >= N);
        FN(gemm_job) job = {g, ta, tb, split_m, M, N, K, lda, ldb, ldc, split_m ? tm : tn,
                            alpha, beta, A, B, C};
        if (job.tiles > 1) {
            tg__parallel_for(job.tiles, 1, FN(gemm_piece), &job);
            return;
        }
    }
    FN(gemm_blocked)(g, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ------------------------------------------------------- op(A) packed once */

/* Rows of op(A) rounded up to the register tile: op(A) packed whole is
 * Mp x K elements (tg__gemm_pa_size). */
static int64_t FN(pa_rows)(const FN(gemm_arch) *g, int64_t M) {
    return (M + g->mr - 1) / g->mr * g->mr;
}

/* op(A) (M x K) packed whole, block by block as gemm_blocked packs it: the
 * block of rows [ic, ic + mc) and columns [pc, pc + kc) at out + pc * Mp +
 * ic * kc (each pc block is Mp x kc; mc is a multiple of MR but the last). */
static void FN(pa_pack)(const FN(gemm_arch) *g, bool ta, int64_t M, int64_t K, const T *A,
                        int64_t lda, T *out) {
    int64_t Mp = FN(pa_rows)(g, M);
    for (int64_t pc = 0; pc < K; pc += g->kc) {
        int64_t kc = K - pc < g->kc ? K - pc : g->kc;
        for (int64_t ic = 0; ic < M; ic += g->mc) {
            int64_t mc = M - ic < g->mc ? M - ic : g->mc;
            FN(pack_a)(ta ? A + pc * lda + ic : A + ic * lda + pc, lda, ta, mc, kc,
                       out + pc * Mp + ic * kc, g->mr);
        }
    }
}

/* gemm_blocked (alpha 1, B not transposed) with op(A) from pa_pack; Bp
 * holds one packed kc x nc block of B. The loops, blocks and micro-kernel
 * calls are gemm_blocked's, so C gets the same bits. One thread.
 * When op(A) has at most PA_IN_PLACE_PANELS row panels, B's whole NR-wide
 * panels are read in place (the micro-kernel's _sb entry: the same
 * multiply-adds in the same order) and only the last, narrower one is
 * packed: conv's forward (64 rows, 6 panels of 12, B the im2col buffer:
 * 288 x 121 a sample) spared 3/4 of a copy of B and ran 2-3% faster;
 * its d x (288 rows, 24 panels, B = gy) did not gain. */
#define PA_IN_PLACE_PANELS 8
static void FN(gemm_pa)(const FN(gemm_arch) *g, int64_t M, int64_t N, int64_t K, const T *Ap,
                        const T *B, int64_t ldb, T beta, T *C, int64_t ldc, T *Bp) {
    const int mr = g->mr, nr = g->nr;
    int64_t Mp = FN(pa_rows)(g, M);
    bool in_place = g->ukr_sb && Mp <= PA_IN_PLACE_PANELS * (int64_t)mr;
    for (int64_t jc = 0; jc < N; jc += g->nc) {
        int64_t nc = N - jc < g->nc ? N - jc : g->nc;
        int64_t nfull = in_place ? nc / nr * nr : 0; /* columns read in place */
        for (int64_t pc = 0; pc < K; pc += g->kc) {
            int64_t kc = K - pc < g->kc ? K - pc : g->kc;
            T bet = pc == 0 ? beta : 1; /* later K blocks add to C */
            if (nfull < nc)
                FN(pack_b)(B + pc * ldb + jc + nfull, ldb, false, kc, nc - nfull, Bp + nfull * kc, nr);
            for (int64_t ic = 0; ic < M; ic += g->mc) {
                int64_t mc = M - ic < g->mc ? M - ic : g->mc;
                const T *Ab = Ap + pc * Mp + ic * kc;
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int n = (int)(nc - jr < nr ? nc - jr : nr);
                    const T *bp = Bp + jr * kc;
                    T *cj = C + ic * ldc + jc + jr;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int m = (int)(mc - ir < mr ? mc - ir : mr);
                        if (jr < nfull)
                            g->ukr_sb(kc, Ab + ir * kc, B + pc * ldb + jc + jr, ldb,
                                      cj + ir * ldc, ldc, (T)1, bet, m);
                        else
                            g->ukr(kc, Ab + ir * kc, bp, cj + ir * ldc, ldc, (T)1, bet, m, n);
                    }
                }
            }
        }
    }
}

#undef PA_IN_PLACE_PANELS
#undef PMR
#undef PNR
#undef FN
#undef CAT2
#undef CAT2_
