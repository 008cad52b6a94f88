/* linalg.c - matrix products.
 *
 *   C = op(A) @ op(B), op = transpose-or-not of the last two axes:
 *   d op(A) = g @ op(B)^T,   d op(B) = op(A)^T @ g
 * The transposes become GEMM flags: backward never copies a transpose.
 * Batch axes (all but the last two) broadcast; a broadcast operand gets
 * its gradient summed over the batches that shared it.
 */
#include "tg_internal.h"
#include "tg_kernels.h"

/* Matrix sizes and per-batch offsets (in elements) of out, a and b. */
typedef struct mm {
    int64_t M, N, K, nbatch;
    int brank;
    int64_t bshape[TG_MAX_RANK];
    int64_t st[3][TG_MAX_RANK]; /* batch strides in matrices */
} mm;

static int64_t batch_offset(const mm *m, int k, int64_t b) {
    int64_t off = 0;
    for (int d = m->brank - 1; d >= 0; d--) {
        int64_t idx = b % m->bshape[d];
        b /= m->bshape[d];
        off += idx * m->st[k][d];
    }
    return off;
}

static void mm_setup(mm *m, const tg_tensor *o, const tg_tensor *a, const tg_tensor *b) {
    bool ta = o->flags & 16, tb = o->flags & 32;
    m->M = ta ? a->shape[a->rank - 1] : a->shape[a->rank - 2];
    m->K = ta ? a->shape[a->rank - 2] : a->shape[a->rank - 1];
    m->N = tb ? b->shape[b->rank - 2] : b->shape[b->rank - 1];
    m->brank = o->rank - 2;
    m->nbatch = 1;
    for (int d = 0; d < m->brank; d++) m->bshape[d] = o->shape[d], m->nbatch *= o->shape[d];
    tg__strides(m->brank, m->bshape, m->st[0]);
    tg__bstrides(a->rank - 2, a->shape, m->brank, m->bshape, m->st[1]);
    tg__bstrides(b->rank - 2, b->shape, m->brank, m->bshape, m->st[2]);
}

tg_tensor *tg_matmul_t(tg_tensor *a, tg_tensor *b, bool trans_a, bool trans_b) {
    tg_tensor *in[2] = {a, b};
    tg_tape *tape = tg__check("matmul", 2, in, true);
    if (!tape) return NULL;
    a = in[0], b = in[1];
    char b0[160], b1[160];
    if (a->rank < 2 || b->rank < 2)
        return tg__fail(tape, TG_ERR_SHAPE, "matmul",
                        "tg_matmul_t needs operands of rank >= 2, got %s and %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, b->rank, b->shape));
    int64_t M = trans_a ? a->shape[a->rank - 1] : a->shape[a->rank - 2];
    int64_t Ka = trans_a ? a->shape[a->rank - 2] : a->shape[a->rank - 1];
    int64_t Kb = trans_b ? b->shape[b->rank - 1] : b->shape[b->rank - 2];
    int64_t N = trans_b ? b->shape[b->rank - 2] : b->shape[b->rank - 1];
    if (Ka != Kb)
        return tg__fail(tape, TG_ERR_SHAPE, "matmul", "inner dimensions differ: %s%s @ %s%s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape), trans_a ? "^T" : "",
                        tg__shape_str(b1, sizeof b1, b->rank, b->shape), trans_b ? "^T" : "");
    /* broadcast batch axes */
    int ra = a->rank - 2, rb = b->rank - 2, r = ra > rb ? ra : rb;
    int64_t shape[TG_MAX_RANK];
    for (int d = 0; d < r; d++) {
        int ia = d - (r - ra), ib = d - (r - rb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return tg__fail(tape, TG_ERR_SHAPE, "matmul", "batch dimensions do not broadcast: %s @ %s",
                            tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                            tg__shape_str(b1, sizeof b1, b->rank, b->shape));
        shape[d] = da == 1 ? db : da;
    }
    shape[r] = M, shape[r + 1] = N;
    tg_tensor *out = tg__out(tape, TG_OP_MATMUL, a->dtype, r + 2, shape, a, b, NULL);
    if (!out) return NULL;
    out->flags |= (trans_a ? 16 : 0) | (trans_b ? 32 : 0);
    mm m;
    mm_setup(&m, out, a, b);
    size_t es = tg__esize(a->dtype);
    int64_t lda = a->shape[a->rank - 1], ldb = b->shape[b->rank - 1];
    for (int64_t k = 0; k < m.nbatch; k++) {
        const char *A = (const char *)a->data + (size_t)(batch_offset(&m, 1, k) * M * Ka) * es;
        const char *B = (const char *)b->data + (size_t)(batch_offset(&m, 2, k) * Kb * N) * es;
        char *C = (char *)out->data + (size_t)(k * M * N) * es;
        tg__gemm(a->dtype, trans_a, trans_b, M, N, Ka, A, lda, B, ldb, 0.0, C, N);
    }
    return out;
}

bool tg__bw_matmul(tg_tensor *o) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    bool ta = o->flags & 16, tb = o->flags & 32;
    bool fa, fb; /* fresh buffers: the GEMM writes them (beta 0), no zeroing */
    void *ga = tg__gacc_w(a, &fa), *gb = tg__gacc_w(b, &fb);
    if (((a->flags & TGF_REQ) && !ga) || ((b->flags & TGF_REQ) && !gb)) return false;
    mm m;
    mm_setup(&m, o, a, b);
    int64_t M = m.M, N = m.N, K = m.K;
    size_t es = tg__esize(o->dtype);
    if (m.nbatch != 1) { /* a broadcast operand sums over batches: start from 0 */
        if (fa) memset(ga, 0, (size_t)tg__numel(a) * es);
        if (fb) memset(gb, 0, (size_t)tg__numel(b) * es);
        fa = fb = false;
    }
    double beta_a = fa ? 0.0 : 1.0, beta_b = fb ? 0.0 : 1.0;
    int64_t lda = a->shape[a->rank - 1], ldb = b->shape[b->rank - 1];
    for (int64_t k = 0; k < m.nbatch; k++) {
        size_t oa = (size_t)(batch_offset(&m, 1, k) * M * K) * es;
        size_t ob = (size_t)(batch_offset(&m, 2, k) * K * N) * es;
        const char *A = (const char *)a->data + oa, *B = (const char *)b->data + ob;
        const char *G = (const char *)o->grad + (size_t)(k * M * N) * es;
        if (ga) {
            if (!ta)
                tg__gemm(o->dtype, false, !tb, M, K, N, G, N, B, ldb, beta_a, (char *)ga + oa, K);
            else
                tg__gemm(o->dtype, tb, true, K, M, N, B, ldb, G, N, beta_a, (char *)ga + oa, M);
        }
        if (gb) {
            if (!tb)
                tg__gemm(o->dtype, !ta, false, K, N, M, A, lda, G, N, beta_b, (char *)gb + ob, N);
            else
                tg__gemm(o->dtype, true, ta, N, K, M, G, N, A, lda, beta_b, (char *)gb + ob, K);
        }
    }
    return true;
}

tg_tensor *tg__vjp_matmul(tg_tensor *o, tg_tensor *g, int i) {
    tg_tensor *a = o->in0, *b = o->u.in1;
    bool ta = o->flags & 16, tb = o->flags & 32;
    if (i == 0)
        return tg__sum_like(ta ? tg_matmul_t(b, g, tb, true) : tg_matmul_t(g, b, false, !tb), a);
    return tg__sum_like(tb ? tg_matmul_t(g, a, true, ta) : tg_matmul_t(a, g, !ta, false), b);
}

/* NumPy semantics: 1-D operands are vectors (a row on the left, a column
 * on the right), and the added axis is removed from the result. */
tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b) {
    tg_tensor *in[2] = {a, b};
    tg_tape *tape = tg__check("matmul", 2, in, true);
    if (!tape) return NULL;
    a = in[0], b = in[1];
    if (a->rank == 0 || b->rank == 0) {
        char b0[160], b1[160];
        return tg__fail(tape, TG_ERR_SHAPE, "matmul", "operands must not be scalars: %s @ %s",
                        tg__shape_str(b0, sizeof b0, a->rank, a->shape),
                        tg__shape_str(b1, sizeof b1, b->rank, b->shape));
    }
    if (a->rank >= 2 && b->rank >= 2) return tg_matmul_t(a, b, false, false);
    bool va = a->rank == 1, vb = b->rank == 1;
    tg_tensor *A = va ? tg_reshape(a, TG_SHAPE(1, a->shape[0])) : a;
    tg_tensor *B = vb ? tg_reshape(b, TG_SHAPE(b->shape[0], 1)) : b;
    tg_tensor *c = tg_matmul_t(A, B, false, false);
    if (!c) return NULL;
    int64_t shape[TG_MAX_RANK];
    int r = 0;
    for (int d = 0; d < c->rank - 2; d++) shape[r++] = c->shape[d];
    if (!va) shape[r++] = c->shape[c->rank - 2];
    if (!vb) shape[r++] = c->shape[c->rank - 1];
    return tg_reshape(c, r, shape);
}
