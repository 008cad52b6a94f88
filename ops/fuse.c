/* fuse.c - fused elementwise chains (fuse.h): the group of lazy records
 * behind a record, forcing, recording, the fused sum and the fused
 * backward; the block interpreter (the rows of tg_ewlist.h, the same
 * expressions as unary.c's and arith.c's kernels, so the same bits) is
 * fuse_simd.h, one build per SIMD level.
 */
#include "fuse_simd.h"

/* ---------------------------------------------------------- the rows */

/* Whether op is a row of TG_UNARY_OPS, and where it keeps its constants. */
static int unary_np(int op) {
    switch (op) {
#define NP_CASE(ID, name, np, F, D, G) case TG_OP_##ID: return np;
    TG_UNARY_OPS(NP_CASE)
#undef NP_CASE
    default: return -1;
    }
}

/* ---------------------------------------------------------- the group */

/* Where r was made: its slab and slot (slabs fill in order). */
static uint64_t rec_key(const tg_tape *tape, const tg_tensor *r) {
    for (int s = 0; s < tape->nslab; s++) {
        const tg_tensor *base = tape->slabs[s].slot;
        if (r >= base && r < base + tape->slabs[s].cap)
            return ((uint64_t)s << 40) | (uint64_t)(r - base);
    }
    return UINT64_MAX;
}

/* Adds the lazy records that t's value needs (t, and those behind it not
 * yet holding data) to nodes[*n]; *n past CAP when they do not fit. */
static void collect(tg_tensor *t, bool root, tg_tensor **nodes, int *n) {
    if (!root && !tg__unready(t)) return;
    for (int i = 0; i < *n; i++)
        if (nodes[i] == t) return;
    if (*n >= CAP) {
        *n = CAP + 1;
        return;
    }
    nodes[(*n)++] = t;
    collect(t->in0, false, nodes, n);
    if (*n <= CAP && is_binary(t->op)) collect(t->u.in1, false, nodes, n);
}

static int node_of(const fgroup *g, const tg_tensor *t) {
    for (int i = 0; i < g->n; i++)
        if (g->nd[i].r == t) return i;
    return -1;
}

static int input_ref(fgroup *g, tg_tensor *t) {
    int k = node_of(g, t);
    if (k >= 0) return k;
    for (int i = 0; i < g->nb; i++)
        if (g->bd[i] == t) return -1 - i;
    g->bd[g->nb] = t;
    return -1 - g->nb++;
}

/* The group of root: false if it does not fit (never, by tg__fuse_admit). */
static bool build(fgroup *g, tg_tensor *root) {
    tg_tensor *nodes[CAP + 1];
    int n = 0;
    collect(root, true, nodes, &n);
    if (n > CAP) return false;
    g->n = n, g->nb = 0, g->dtype = root->dtype, g->numel = tg__numel(root);
    for (int i = 0; i < n; i++) {
        fnode *d = &g->nd[i];
        tg_tensor *r = nodes[i];
        d->r = r;
        d->key = rec_key(root->tape, r);
        d->op = r->op;
        d->nin = is_binary(r->op) ? 2 : 1;
        int np = d->nin == 2 ? 0 : unary_np(r->op);
        d->c0 = TG__C0(r, np), d->c1 = TG__C1(r, np);
        d->req = (r->flags & TGF_REQ) != 0;
    }
    for (int i = 1; i < n; i++) /* insertion sort by creation order */
        for (int k = i; k > 0 && g->nd[k].key < g->nd[k - 1].key; k--) {
            fnode t = g->nd[k];
            g->nd[k] = g->nd[k - 1], g->nd[k - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        fnode *d = &g->nd[i];
        d->in[0] = input_ref(g, d->r->in0);
        d->in[1] = d->nin == 2 ? input_ref(g, d->r->u.in1) : d->in[0];
    }
    return g->nd[n - 1].r == root;
}

/* ------------------------------------------------ the block interpreter */

typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi);
static const range_fn range_at[] = {
    [TG_SIMD_PORTABLE] = tg__fuse_range_portable,
#if defined(TG_HAVE_AVX2)
    [TG_SIMD_AVX2] = tg__fuse_range_avx2,
#endif
#if defined(TG_HAVE_AVX512)
    [TG_SIMD_AVX512] = tg__fuse_range_avx512,
#endif
};

/* false (recorded) when a piece found no scratch */
static bool ran(tg_tape *tape, const fjob *j) {
    if (j->failed) {
        tg__fail(tape, TG_ERR_NOMEM, tg__ops[j->g->nd[j->g->n - 1].op].name,
                 "out of memory for the fused chain's scratch");
        return false;
    }
    return true;
}

static bool run(tg_tape *tape, fjob *j, bool threads) {
    range_fn f = range_at[tg__simd_level()];
    if (threads)
        tg__elementwise(j->g->numel, f, j);
    else
        f(j, 0, j->g->numel);
    return ran(tape, j);
}

/* M_SUM over the chunks [lo, hi): element ranges that start at a chunk */
static void sum_chunks(void *ctx, int64_t lo, int64_t hi) {
    fjob *j = ctx;
    int64_t e = hi * j->chunk;
    range_at[tg__simd_level()](j, lo * j->chunk, e < j->g->numel ? e : j->g->numel);
}

/* ------------------------------------------------------------ forcing */

bool tg__fuse_force(tg_tensor *t) {
    if (!tg__unready(t)) return true;
    tg_tape *tape = t->tape;
    const char *name = tg__ops[t->op].name;
    void *d = tg__arena_n(tape, tg__numel(t), tg__esize(t->dtype), name);
    if (!d) return false;
    t->data = d;
    fgroup g;
    if (!build(&g, t)) {
        t->data = NULL;
        tg__fail(tape, TG_ERR_STATE, name, "internal: a fused chain of more than %d records", CAP);
        return false;
    }
    fjob j = {.g = &g, .mode = M_FORCE, .dst = d};
    return run(tape, &j, true);
}

void tg__fuse_force_all(tg_tape *tape) {
    if (!tape->lazy_pending) return;
    for (int s = 0; s <= tape->cur && s < tape->nslab; s++) {
        size_t used = s == tape->cur ? tape->pos : tape->slabs[s].cap;
        for (size_t p = 0; p < used; p++) {
            tg_tensor *r = &tape->slabs[s].slot[p];
            if (tg__is_hdr_pos(p) || tg__pair(r)) continue; /* a lazy record is never half */
            if (r->gen == tape->gen && tg__unready(r) && !tg__fuse_force(r)) return;
        }
    }
    tape->lazy_pending = false;
}

/* ------------------------------------------------------------ recording */

/* Whether r's data is memory the tape does not own, through any views: a
 * parameter's (a proxy), which an optimizer step rewrites, or a borrowed
 * buffer (a view with no input). A lazy record must not read such memory:
 * it would compute from what is there when it is forced, not when it was
 * recorded. */
static bool borrows(const tg_tensor *r) {
    for (; r && (r->flags & TGF_VIEW); r = r->in0)
        if (r->op == TG_OP_PROXY || !r->in0) return true;
    return false;
}

int tg__fuse_admit(tg_tape *tape, int n, tg_tensor **in, bool same) {
    for (int i = 0; i < n; i++) /* a pinned input is read as data (fuse.h) */
        if (tg__pinned(in[i]) && !tg__fuse_force(in[i])) return -1;
    tg_tensor *a = in[0];
    bool lazy = tape->fuse_min > 0 && same && a->rank > 0 && tg__is_float(a->dtype) &&
                tg__numel(a) >= tape->fuse_min && tape->grad_enabled && !tape->sweeping &&
                !tape->ext && tape->status == TG_OK;
    for (int i = 0; i < n && lazy; i++)
        if (borrows(in[i])) lazy = false;
    if (lazy) { /* the new record's group must fit: else its inputs hold data */
        tg_tensor *nodes[CAP + 1];
        int k = 0;
        for (int i = 0; i < n && k <= CAP; i++) collect(in[i], false, nodes, &k);
        if (k + 1 <= CAP) return 1;
    }
    for (int i = 0; i < n; i++)
        if (!tg__ready(in[i])) return -1;
    return lazy ? 1 : 0;
}

tg_tensor *tg__fuse_out(tg_tape *tape, int op, tg_tensor *a, tg_tensor *b) {
    /* any pointer as data: no allocation; then none */
    tg_tensor *out = tg__out(tape, op, a->dtype, a->rank, a->shape, a, b, (void *)tape);
    if (!out) return NULL;
    out->data = NULL;
    out->flags = (uint8_t)((out->flags & ~TGF_VIEW) | TGF_LAZY);
    tape->lazy_pending = true;
    return out;
}

/* ------------------------------------------------------- sum, backward */

bool tg__fuse_sum(tg_tensor *out, tg_tensor *a) {
    fgroup g;
    if (!build(&g, a))
        return tg__fail(a->tape, TG_ERR_STATE, "sum",
                        "internal: a fused chain of more than %d records", CAP) != NULL;
    double part[SUM_CHUNKS], sum = 0;
    fjob j = {.g = &g, .mode = M_SUM, .part = part};
    if (g.numel > 0) { /* sum_order.h's order, as the unfused sum: the same bits */
        j.chunk = sum_chunk(g.numel);
        sum_chunks_run(g.numel, j.chunk, sum_chunks, &j);
        if (!ran(a->tape, &j)) return false;
        sum = sum_parts(part, (g.numel + j.chunk - 1) / j.chunk);
    }
    if (out->dtype == TG_F32)
        *(float *)out->data = (float)sum;
    else
        *(double *)out->data = sum;
    out->flags |= TGF_LAZY;
    return true;
}

/* Which terms are the first into a gradient that starts at -0.0 (fjob.wr):
 * the rows run in reverse record order, input 0's term before input 1's. */
static void first_writes(fjob *j) {
    const fgroup *g = j->g;
    bool node[CAP] = {0}, bnd[2 * CAP] = {0};
    for (int k = g->n - 1; k >= 0; k--) {
        const fnode *d = &g->nd[k];
        j->wr[k][0] = j->wr[k][1] = false;
        if (!d->req) continue;
        bool sq = d->op == TG_OP_MUL && d->in[0] == d->in[1]; /* one term, as square */
        for (int i = 0; i < (d->nin == 2 && !sq ? 2 : 1); i++) {
            int ref = d->in[i];
            bool *seen = ref >= 0 ? &node[ref] : &bnd[-1 - ref];
            bool starts = ref >= 0 ? g->nd[ref].req : j->bfresh[-1 - ref];
            j->wr[k][i] = starts && !*seen;
            *seen = true;
        }
    }
}

int tg__fuse_bw(tg_tensor *r) {
    if (!(r->flags & TGF_LAZY)) return 0;
    bool sum = r->op == TG_OP_SUM;
    tg_tensor *root = sum ? r->in0 : r;
    if (sum ? !tg__unready(root) : !(tg__unready(r->in0) || (is_binary(r->op) && tg__unready(r->u.in1))))
        return 0; /* nothing lazy behind it: the op's own backward */
    fgroup g;
    if (!build(&g, root)) {
        tg__fail(r->tape, TG_ERR_STATE, tg__ops[r->op].name,
                 "internal: a fused chain of more than %d records", CAP);
        return -1;
    }
    fjob j = {.g = &g, .mode = M_BW, .groot = sum ? NULL : r->grad};
    if (sum) j.gconst = r->dtype == TG_F32 ? *(const float *)r->grad : *(const double *)r->grad;
    /* first the boundaries that are views (contiguous slices, reshapes) with
     * no gradient yet: theirs goes straight into the viewed tensor's, at the
     * view's offset, as their own backward would add it there later (x[1:]
     * and x[:-1] of a chain: no buffer of their own, no pass of their own) */
    tg_tensor *bx[2 * CAP]; /* each base's tensor */
    int64_t es = (int64_t)tg__esize(g.dtype);
    for (int b = 0; b < g.nb; b++) j.bbase[b] = -1;
    for (int b = 0; b < g.nb && !r->tape->fuse_keep_views; b++) {
        tg_tensor *v = g.bd[b], *x = v;
        while (x->grad == NULL && (x->flags & TGF_VIEW) &&
               (x->op == TG_OP_SLICE || x->op == TG_OP_RESHAPE) && (x->in0->flags & TGF_REQ) &&
               x->in0->data && x->in0->dtype == x->dtype)
            x = x->in0;
        if (x == v || !(v->flags & TGF_REQ)) continue;
        int q = 0;
        while (q < j.nbase && bx[q] != x) q++;
        if (q == j.nbase) { /* a new one: zeroed (below) when new */
            bool fresh;
            void *gx = tg__gacc_w(x, &fresh);
            if (!gx) return -1;
            bx[j.nbase++] = x;
            j.base[q] = (struct fbase){gx, INT64_MAX, 0, tg__numel(x), fresh};
        }
        int64_t off = ((const char *)v->data - (const char *)x->data) / es;
        j.bgrad[b] = (char *)j.base[q].g + off * es;
        j.bbase[b] = q, j.boff[b] = off;
    }
    for (int b = 0; b < g.nb; b++) { /* such a tensor also read whole: offset 0 */
        for (int q = 0; q < j.nbase && j.bbase[b] < 0; q++)
            if (bx[q] == g.bd[b]) j.bgrad[b] = j.base[q].g, j.bbase[b] = q, j.boff[b] = 0;
        int q = j.bbase[b];
        if (q < 0) continue;
        if (j.boff[b] < j.base[q].omin) j.base[q].omin = j.boff[b];
        if (j.boff[b] > j.base[q].omax) j.base[q].omax = j.boff[b];
    }
    /* views of one tensor at different offsets: two blocks may add into one
     * element (run_views, where each range zeroes its own elements of a new
     * gradient); at one offset only they never do (zeroed here when new: the
     * views may not cover it) */
    int nbase = 0, at[2 * CAP];
    for (int q = 0; q < j.nbase; q++) {
        at[q] = j.base[q].omax > j.base[q].omin ? nbase++ : -1;
        if (at[q] >= 0)
            j.base[at[q]] = j.base[q];
        else if (j.base[q].zero)
            memset(j.base[q].g, 0, (size_t)(j.base[q].n * es));
    }
    j.nbase = nbase;
    for (int b = 0; b < g.nb; b++) j.bbase[b] = j.bbase[b] >= 0 ? at[j.bbase[b]] : -1;
    for (int q = 0; q < nbase; q++)
        if (j.base[q].omax - j.base[q].omin > j.wmax) j.wmax = j.base[q].omax - j.base[q].omin;
    for (int b = 0; b < g.nb; b++) {
        if (j.bgrad[b] || !(g.bd[b]->flags & TGF_REQ)) continue;
        j.bgrad[b] = tg__gacc_w(g.bd[b], &j.bfresh[b]);
        if (!j.bgrad[b]) return -1;
    }
    first_writes(&j);
    if (!nbase) return run(r->tape, &j, true) ? 1 : -1;
    /* over blocks; pieces only when one block's reach past its own elements
     * stays inside the next block (run_views) */
    int64_t nblk = (g.numel + B - 1) / B;
    range_fn f = range_at[tg__simd_level()];
    if (g.numel < 2 * TG_GRAIN || j.wmax > B)
        f(&j, 0, nblk);
    else
        tg__parallel_for(nblk, TG_GRAIN / B, f, &j);
    return ran(r->tape, &j) ? 1 : -1;
}
