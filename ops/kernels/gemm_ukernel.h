/* gemm_ukernel.h - the SIMD micro-kernel, written once for every ISA.
 *
 * Included by gemm_avx2.c and gemm_avx512.c after they define:
 *   T                 element type (float, double)
 *   VEC, VL           vector type and its lane count
 *   VLOAD(p) VSTORE(p, v) VSET1(x) VZERO() VMUL(a, b) VFMA(a, b, c) = a*b + c
 *   MR                rows of the register tile
 *   KNAME             the function's name
 * and #undef's them at its end, so that a file can include it again with
 * the next set.
 * The tile is MR x NR with NR = 2 * VL: per step p of the K loop, two
 * vectors of the B micro-panel are loaded and each of the MR elements of
 * the A micro-panel is broadcast and multiplied into its row, so the
 * 2 * MR accumulators never leave the registers.
 */

#define NR (2 * VL)
#define CATK_(a, b) a##b
#define CATK(a, b) CATK_(a, b)
#define KBODY CATK(KNAME, _body)
#define KNAME_SB CATK(KNAME, _sb)

/* The tile of R rows and NV vectors (R <= MR, NV <= 2): the full tile, and
 * narrower ones for the edges, where a 12 x 32 tile would compute mostly
 * padding (an MLP's 100 outputs leave a 4-wide last panel). The packed
 * panels keep their MR / NR strides; only the arithmetic shrinks. B's rows
 * are ldb apart: NR in a packed panel, B's own row stride in place. */
static inline __attribute__((always_inline)) void KBODY(
    int64_t kc, const T *restrict a, const T *restrict b, int64_t ldb, T *restrict c,
    int64_t ldc, T alpha, T beta, int mr, int nr, const int R, const int NV) {
    VEC acc[MR][2]; /* (R, NV * VL) used: the tile of a @ b */
    /* C is read or written only after the K loop: start fetching it now
     * (a prefetch never faults, so edge tiles are fine). The empty asm
     * hides where ci points, so that the compiler recomputes the rows of C
     * after the K loop rather than keep twelve pointers alive across it:
     * GCC 12 parked them in zmm registers and spilled a B vector of the
     * AVX-512 f64 tile to the stack, a reload on every multiply-add (12 a
     * step; GMM's d10_K25 gradient 10% slower). */
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
        const T *ci = c + i * ldc;
        __asm__("" : "+r"(ci));
        __builtin_prefetch(ci, 1, 3);
        if (NV == 2) __builtin_prefetch(ci + NR - 1, 1, 3);
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
        acc[i][0] = VZERO();
        acc[i][1] = VZERO();
    }
    for (int64_t p = 0; p < kc; p++) {
        VEC b0 = VLOAD(b), b1 = NV == 2 ? VLOAD(b + VL) : VZERO();
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            VEC ai = VSET1(a[i]);
            acc[i][0] = VFMA(ai, b0, acc[i][0]);
            if (NV == 2) acc[i][1] = VFMA(ai, b1, acc[i][1]);
        }
        a += MR;
        b += ldb;
    }

    VEC va = VSET1(alpha);
    if (R == MR && NV == 2 && mr == MR && nr == NR) { /* whole tile: straight to C */
        if (beta == 0) {
#pragma GCC unroll 16
            for (int i = 0; i < MR; i++) {
                T *ci = c + i * ldc;
                VSTORE(ci, VMUL(va, acc[i][0]));
                VSTORE(ci + VL, VMUL(va, acc[i][1]));
            }
        } else {
            VEC vb = VSET1(beta);
#pragma GCC unroll 16
            for (int i = 0; i < MR; i++) {
                T *ci = c + i * ldc;
                VSTORE(ci, VFMA(va, acc[i][0], VMUL(vb, VLOAD(ci))));
                VSTORE(ci + VL, VFMA(va, acc[i][1], VMUL(vb, VLOAD(ci + VL))));
            }
        }
        return;
    }

    /* edge tile: through a buffer, touching only c[0..mr) x [0..nr) */
    T tile[MR * NR] __attribute__((aligned(64)));
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
        VSTORE(tile + i * NR, acc[i][0]);
        if (NV == 2) VSTORE(tile + i * NR + VL, acc[i][1]);
    }
    for (int i = 0; i < mr; i++) {
        T *ci = c + i * ldc;
        const T *ti = tile + i * NR;
        if (beta == 0)
            for (int j = 0; j < nr; j++) ci[j] = alpha * ti[j];
        else
            for (int j = 0; j < nr; j++) ci[j] = alpha * ti[j] + beta * ci[j];
    }
}

void KNAME(int64_t kc, const T *restrict a, const T *restrict b, T *restrict c,
           int64_t ldc, T alpha, T beta, int mr, int nr) {
    const bool narrow = nr <= VL, short_ = MR > 4 && mr <= 4;
    if (!narrow && !short_) KBODY(kc, a, b, NR, c, ldc, alpha, beta, mr, nr, MR, 2);
    else if (!short_) KBODY(kc, a, b, NR, c, ldc, alpha, beta, mr, nr, MR, 1);
    else if (!narrow) KBODY(kc, a, b, NR, c, ldc, alpha, beta, mr, nr, 4, 2);
    else KBODY(kc, a, b, NR, c, ldc, alpha, beta, mr, nr, 4, 1);
}

/* The same with B read in place: a whole NR-wide panel of B's rows, ldb
 * apart (gemm_driver.h: a C of few rows, whose B panels would each serve
 * one or two A panels after packing). */
void KNAME_SB(int64_t kc, const T *restrict a, const T *restrict b, int64_t ldb,
              T *restrict c, int64_t ldc, T alpha, T beta, int mr) {
    if (MR > 4 && mr <= 4) KBODY(kc, a, b, ldb, c, ldc, alpha, beta, mr, NR, 4, 2);
    else KBODY(kc, a, b, ldb, c, ldc, alpha, beta, mr, NR, MR, 2);
}

#undef KBODY
#undef KNAME_SB
#undef CATK
#undef CATK_
#undef NR

#undef T
#undef VEC
#undef VL
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VZERO
#undef VMUL
#undef VFMA
#undef MR
#undef KNAME
