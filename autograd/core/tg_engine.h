/* tg_engine.h - the core's internals: the record, the tape and its arenas,
 * errors, operand checks, gradient buffers, loops over shapes, threads,
 * the SIMD level.
 * Every layer above (ops/kernels/, ops/, autograd/) builds on it; users
 * never see it, and nn/ never includes it.
 *
 * A tensor record is exactly 64 bytes and lives in a slot of the tape's
 * record arena (tape.c). Records are laid out in creation order, so the
 * reverse sweep walks the slots backwards: no node list, no sort.
 * Scalar code's records are smaller: a 0-d f64 result of an elementwise op
 * is a 32-byte "half" record, two to a slot ("compact scalar records"
 * below). Passes alternate between two sets of slots. What a user holds is
 * a handle, the record's address tagged with its pass (see "handles"
 * below), so that a stale one is told from a tensor that now fills its
 * slot.
 * Variable-size things (shapes of rank >= 2, data, gradients, op extras)
 * live in the tape's data arena.
 */
#ifndef TG_ENGINE_H
#define TG_ENGINE_H

#include "tg_core.h"

#include <stdarg.h>
#include <string.h>

/* Internal symbols are hidden from the shared library (-fvisibility). */

/* ------------------------------------------------------------ op table */

/* The core knows three ops, the ones it makes itself; ops/tg_oplist.h
 * lists every other op, numbered from TG_OP_FIRST (ops/tg_internal.h).
 * TG_OP_PROMOTE: a full 0-d record standing for a half record (below)
 * that a tensor op reads; its input is the half. */
enum { TG_OP_LEAF = 0, TG_OP_PROXY = 1, TG_OP_PROMOTE = 2, TG_OP_FIRST = 3 };

/* Fast numeric backward: reads out's complete gradient (a raw buffer) and
 * adds into its inputs' gradient buffers (tg__gacc). Returns false on
 * error (already recorded). */
typedef bool (*tg_bw_fn)(tg_tensor *out);

/* Graph backward (vector-Jacobian product) built from ops, so that it can
 * be recorded (create-graph) and differentiated again: the contribution of
 * out's gradient `g` to input i, already summed to input i's shape.
 * Returns NULL on error. */
typedef tg_tensor *(*tg_vjp_fn)(tg_tensor *out, tg_tensor *g, int i);

typedef struct tg_op_desc {
    const char *name;
    int nin;       /* 0 leaf, 1, 2, or -1: inputs listed in aux (tg_auxin) */
    tg_bw_fn bw;   /* tg__bw_vjp when the op has no fast backward */
    tg_vjp_fn vjp;
} tg_op_desc;

/* One descriptor per op, indexed by the record's `op`. The core reads an
 * op's name (for errors) and input count; the table itself is built by
 * the layer that defines the ops (ops/ops_table.c), as a vtable would be. */
extern const tg_op_desc tg__ops[];

/* -------------------------------------------------------------- tensor */

enum {
    TGF_REQ = 1,      /* requires grad: the sweep visits it */
    TGF_PARAM = 2,    /* persistent parameter (malloc'd, tape == NULL) */
    TGF_GRAPH = 4,    /* grad slot holds a tg_tensor* (create-graph sweep) */
    TGF_VIEW = 8,     /* data is borrowed (reshape view, parameter proxy) */
    /* bits 4..6 are the op's own (ops/op_common.h); bit 7: */
    TGF_LAZY = 128    /* a fused elementwise record (ops/fuse.h): data NULL until
                       * forced, and then its backward runs fused; on a sum,
                       * its input was lazy when the sum was taken */
};

struct tg_tensor {            /* exactly 64 bytes: see the static assert */
    tg_tape *tape;            /* owner; NULL for parameters */
    uint32_t gen;             /* the tape's gen when it was made; 0: a parameter */
    uint8_t op;               /* enum tg_op */
    uint8_t dtype;            /* tg_dtype */
    uint8_t rank;             /* 0..8 */
    uint8_t flags;            /* TGF_* */
    void *data;               /* numel elements, contiguous row-major */
    void *grad;               /* working gradient of the current sweep */
    union {
        int64_t *shape;       /* rank entries (&small for rank 1; unused at rank 0) */
        double g0;            /* rank 0: the working gradient of a sweep, inline
                               * (grad then points here: no arena buffer, no
                               * second stream of memory for scalar code) */
    };
    tg_tensor *in0;           /* first input */
    union {
        tg_tensor *in1;       /* second input of a binary op */
        double c;             /* constant of a scalar op */
        int64_t i;            /* small integer argument (axes mask, ...) */
        void *aux;            /* op extras in the data arena */
        void *gstore;         /* leaves: stored gradient (tg_backward) */
        tg_tensor *param;     /* proxies: the parameter they stand for */
    } u;
    union {
        double f64; float f32; int64_t i64; /* rank 0: the value itself */
        int64_t dim0;                       /* rank 1: the shape */
        struct tg_param_ext *pext;          /* parameters */
    } small;
};

/* Ops with more than two inputs keep them at the start of aux. */
typedef struct tg_auxin {
    int32_t n;
    tg_tensor *in[];
} tg_auxin;

/* The longest tensor name, with its NUL (TG_NAME_MAX of tg_inspect.h). */
#define TG__NAME_MAX 40

/* What a parameter carries besides its record. */
typedef struct tg_param_ext {
    void *gstore;             /* persistent gradient buffer */
    tg_tape *ptape;           /* the tape of the cached proxy */
    uint64_t pserial;         /* that tape's serial and generation */
    uint32_t pgen;
    tg_tensor *proxy;
    tg_tensor *grad_rec;      /* the gradient as a tensor (NULL on that one) */
    int32_t live;             /* proxies on tapes not yet reset or freed */
    bool dying;               /* tg_param_free came while live > 0 */
    int64_t shape[TG_MAX_RANK];
    /* inspect (autograd/inspect.c): the name, and the gradient hook (a
     * tg_grad_hook of tg_inspect.h, which checks that the types agree) */
    char name[TG__NAME_MAX];
    tg_tensor *(*hook)(tg_tensor *t, tg_tensor *grad, void *ud);
    /* set with the hook by inspect: tells a tape that a parameter with a
     * hook has a proxy on it (the sweep must then run the hook) */
    void (*hook_proxy)(tg_tape *tape);
    void *hook_ud;
} tg_param_ext;

/* ------------------------------------------------------------------ tape */

typedef struct tg_half tg_half; /* a compact scalar record (below) */

typedef struct tg_slab {      /* a chunk of record slots */
    tg_tensor *slot;          /* 64-byte aligned */
    size_t cap;
    void *raw;                /* what the allocator returned */
} tg_slab;

typedef struct tg_dchunk {     /* a chunk of the data arena */
    char *mem;                /* 64-byte aligned */
    size_t cap, used;
    void *raw;
} tg_dchunk;

enum { TG_SWEEP_NONE = 0, TG_SWEEP_NUMERIC, TG_SWEEP_GRAPH };

struct tg_tape {
    uint32_t gen;             /* this pass: counts passes, never a multiple of 64 */
    uint64_t serial;          /* unique per tape, for parameter caches */
    /* record arena: slabs[0..nslab), filling slabs[cur] at pos. Two sets
     * of slabs take turns, one per pass, so that a handle from the previous
     * pass still points at its own record (whose gen says it is stale)
     * rather than at a new tensor that reused its slot (handles, below). */
    tg_slab *slabs, *oslabs;
    int nslab, capslab, onslab, ocapslab, cur;
    size_t pos;
    tg_tensor *base;          /* slabs[cur].slot (NULL before the first) */
    size_t lim;               /* the fast paths fill slots below lim: the end of
                               * the current group or slab (tape.c) */
    tg_half *hfree;           /* the empty second half of the last slot, if the
                               * last record made was a half that began it */
    size_t count;             /* records in use (full and half) */
    size_t nhalf;             /* of which halves */
    /* what scalar code's fast paths test in one load (mode: tg__hot_room,
     * ops/scalar0.h) */
    union {
        struct {
            bool grad_enabled;  /* recording (tg_tape_set_grad_enabled; numeric
                                 * sweeps turn it off while they run) */
            bool half_ok;       /* scalar code may make halves: no inspection
                                 * state (ext) and no tg__unhalf this pass */
            bool sweeping;      /* a sweep runs (backward.c): a gradient hook's reset,
                                 * free or second sweep of this tape is refused */
            bool mode_zero_;    /* always false */
        };
        uint32_t mode;
    };
    bool unhalved;            /* tg__unhalf ran this pass: no live half is left */
    struct tg_fblock *fblocks, *fcur; /* the full copies of forwarded halves
                               * (half.c): blocks kept for the tape's life, refilled
                               * each pass, never rolled back */
    size_t fpos;
    /* data arena */
    tg_dchunk *chunks;
    int nchunk, capchunk, dcur;
    size_t dbytes;            /* data bytes in use */
    size_t peak;              /* the most bytes in use (count * 64 + dbytes)
                               * seen where they last fell: at a reset or a
                               * rewind (tg__tape_note_peak); the public peak
                               * is the larger of this and the current bytes */
    /* state */
    bool abort_on_error;
    uint8_t sweep_mode;       /* TG_SWEEP_* of the last sweep */
    int sweeps;               /* sweeps since reset */
    tg_status status;
    char err[320];
    /* names, hooks, trace, anomaly (autograd/inspect*.c): opaque to the
     * core, NULL until used; whoever makes it sets ext_free */
    struct tg_tape_ext *ext;
    void (*ext_free)(tg_tape *tape);
    tg_tensor **proxies;      /* parameter proxies of this pass */
    int nproxy, capproxy;
    /* fused elementwise chains (ops/fuse.h): the fewest elements a lazy
     * record has (0: fusion off), and whether this pass may hold lazy
     * records not yet forced */
    int64_t fuse_min;
    bool lazy_pending;
    bool fuse_keep_views;     /* this sweep: views get their own gradients (tg_grad) */
    bool grad_alias;          /* this sweep: a parameter's proxy may take the stored
                               * gradient as its buffer (gradbuf.c) */
};
enum { TG_FUSE_MIN_DEFAULT = 16384 }; /* tg_tape_set_fusion */

/* ------------------------------------------------- compact scalar records */

/* A "half" record: the result of an elementwise op on 0-d f64 operands in
 * scalar code, made by the scalar fast paths (ops/scalar0.h) while the tape
 * allows it (tape->half_ok). 32 bytes, two to a 64-byte slot: scalar code
 * writes and the sweep reads half the memory of full records.
 *   v      the value;
 *   g      the working gradient of the sweep, once THF_G is set (set on
 *          first use, as a full record's grad pointer is); after
 *          tg__unhalf, fwd: the full record that now stands for it;
 *   u      the second input (a plain record pointer: full or half) of a
 *          binary op, or the constant of a unary one (ops with two
 *          constants make full records); a leaf's stored gradient;
 *   in0    the first input, as its place on the tape (tg__place); 0 for
 *          a leaf (tg_scalar makes halves too);
 *   gen    the low 8 bits of the pass that made it (0: freed by a rollback);
 *   flags  THF_*, THF_HALF always set: byte 31 of a slot is the top byte of
 *          a full record's grad pointer, which is 0 (user addresses have at
 *          most 56 bits), so that byte tells a slot of two halves from a
 *          full record.
 * The tape of a half is in the header of its 64 KiB group (tg__half_tape).
 * Only the fast paths, the numeric sweep (backward.c), the PROMOTE op and
 * a few queries read halves. Everything else sees full records: an op
 * given a half gets a PROMOTE record for it (tg__operand), and what needs
 * every record of a pass in full (inspection, a create-graph sweep) first
 * calls tg__unhalf, which gives each half of the pass a full copy and
 * turns the half into a forwarder to it. */
struct tg_half {
    double v;
    union {
        double g;
        tg_tensor *fwd;
    };
    union {
        tg_tensor *in1;
        double c;
    } u;
    uint32_t in0;
    uint8_t op;
    uint8_t gen;
    uint8_t in_half;          /* bit 0: in0 is a half, bit 1: u.in1 is */
    uint8_t flags;
};
_Static_assert(sizeof(tg_half) == 32, "a half record is half a slot");

enum {
    THF_REQ = 1,              /* requires grad */
    THF_G = 2,                /* g holds a gradient */
    THF_FWD = 4,              /* forwarded: fwd is its full copy (tg__unhalf) */
    THF_S = 8,                /* a leaf (op TG_OP_LEAF, tg_scalar's): u.c holds
                               * its stored gradient (tg_backward's) */
    THF_HALF = 128            /* always set */
};

/* Slots come in groups of 1024 (64 KiB, aligned to 64 KiB); the first slot
 * of each group is its header, which no walk over records visits. */
#define TG__GROUP_SLOTS 1024
#define TG__GROUP_BYTES ((uintptr_t)TG__GROUP_SLOTS * 64)
typedef struct tg_group_hdr {
    tg_tape *tape;
    uint32_t place0;          /* the place (tg__place) of the group's first
                               * 32-byte unit: slab index << 21 | unit */
} tg_group_hdr;

/* Whether a slot (a 64-byte-aligned address in a slab) is a group header. */
static inline bool tg__is_hdr_pos(size_t pos) { return (pos & (TG__GROUP_SLOTS - 1)) == 0; }
/* Whether the slot holding record r holds two halves. */
static inline bool tg__pair(const void *r) {
    return ((const uint8_t *)((uintptr_t)r & ~(uintptr_t)63))[31] != 0;
}
/* Whether record pointer r is a half (else a full record). A pointer into
 * the second half of a slot that now holds a full record is a half that is
 * gone (stale): tg__half_live says so. */
static inline bool tg__is_half(const void *r) {
    return ((uintptr_t)r & 32) || tg__pair(r);
}
/* Whether half h is there to be read: its slot holds halves and h is
 * filled (a slot's second half may be empty). */
static inline bool tg__half_there(const tg_half *h) {
    return tg__pair(h) && (h->flags & THF_HALF);
}
static inline tg_tape *tg__half_tape(const tg_half *h) {
    return ((const tg_group_hdr *)((uintptr_t)h & ~(TG__GROUP_BYTES - 1)))->tape;
}
/* The place of a slab record (full or half) on its tape: slab index << 21 |
 * its 32-byte unit in the slab (slabs hold at most 2^20 slots). */
static inline uint32_t tg__place(const void *r) {
    const tg_group_hdr *g = (const tg_group_hdr *)((uintptr_t)r & ~(TG__GROUP_BYTES - 1));
    return g->place0 + (uint32_t)(((uintptr_t)r & (TG__GROUP_BYTES - 1)) >> 5);
}

/* --------------------------------------------------------------- handles */

/* A handle, what users hold, is a record's address with the tag of the
 * pass that made it in its top 6 bits (bits 58..63; user addresses have at
 * most 56 bits): gen & 63. A tape's gen counts its passes and skips
 * multiples of 64, so a tape record's tag is 1..63; a parameter's gen is 0,
 * so its handle is its plain address. Internal code works on plain record
 * pointers:
 *   - whatever takes a tensor from a user strips the tag (tg__rec; for ops,
 *     tg__check and tg__operand do it, so an op sees plain pointers after
 *     them), and never stores a tagged pointer in a record;
 *   - whatever hands a record to a user tags it (tg__handle): every public
 *     function that returns a tensor, grads arrays, callbacks' arguments.
 * The checks (tg__current) take a tagged handle as current when its record
 * is of the tape's pass and the tag is that pass's, and a plain pointer
 * (internal code passing records of the current pass) when the record is.
 * What a stale handle from k passes back meets: for odd k its slot is in
 * the other set and holds a record of an older pass (the gen tells); for
 * even k the slot may hold a record of this pass, and the tag tells unless
 * k is a multiple of 63. So a stale handle goes unnoticed only 126, 252, ...
 * resets back, and only once this pass has refilled its slot (a half keeps
 * the low 8 bits of its pass, which the checks compare like a full record's
 * gen). A handle dereferenced without tg__rec is not a canonical address:
 * it faults at once. */
#define TG__TAG_SHIFT 58
#define TG__TAG_MASK ((uintptr_t)63 << TG__TAG_SHIFT)

/* The tag of a pass, in place. */
static inline uintptr_t tg__tag_of(uint32_t gen) { return (uintptr_t)(gen & 63) << TG__TAG_SHIFT; }
/* The record behind a handle (a plain pointer or NULL stays as it is). */
static inline tg_tensor *tg__rec(const tg_tensor *h) {
    return (tg_tensor *)((uintptr_t)h & ~TG__TAG_MASK);
}
/* The handle of a record, full or half (a handle or NULL stays as it is). */
static inline tg_tensor *tg__handle(const tg_tensor *t) {
    if (!t) return NULL;
    tg_tensor *r = tg__rec(t);
    uint32_t gen = tg__is_half(r) ? ((const tg_half *)r)->gen : r->gen;
    return (tg_tensor *)((uintptr_t)r | tg__tag_of(gen));
}
/* Whether handle (or plain pointer) h, whose full record r is on a tape
 * whose pass is `gen`, names a tensor of that pass. */
static inline bool tg__current(const tg_tensor *h, const tg_tensor *r, uint32_t gen) {
    uintptr_t tag = (uintptr_t)h & TG__TAG_MASK;
    return r->gen == gen && (tag == 0 || tag == tg__tag_of(gen));
}
/* The same for a half h (there: tg__half_there) of a tape whose pass is gen. */
static inline bool tg__half_current(const tg_tensor *h, const tg_half *x, uint32_t gen) {
    uintptr_t tag = (uintptr_t)h & TG__TAG_MASK;
    return x->gen == (uint8_t)gen && (tag == 0 || tag == tg__tag_of(gen));
}
/* The checks of hot paths: h (and h2), whose full records r (and r2) are no
 * parameters, are tagged handles of tape t's current pass. A plain pointer
 * fails them, and takes the full check. */
static inline bool tg__hot(const tg_tensor *h, const tg_tensor *r, const tg_tape *t) {
    uint32_t gen = t->gen;
    return r->tape == t && r->gen == gen && (((uintptr_t)h & TG__TAG_MASK) == tg__tag_of(gen));
}
static inline bool tg__hot2(const tg_tensor *h, const tg_tensor *r, const tg_tensor *h2,
                            const tg_tensor *r2, const tg_tape *t) {
    return tg__hot(h, r, t) && tg__hot(h2, r2, t);
}
/* The handle of record t (or NULL) made on a pass `gen`: tg__handle when
 * the pass is at hand. */
static inline tg_tensor *tg__handle_at(const tg_tensor *t, uint32_t gen) {
    return t ? (tg_tensor *)((uintptr_t)t | tg__tag_of(gen)) : NULL;
}
/* The full record of h if h is a tensor of its tape's current pass or a
 * parameter; NULL if h is NULL or stale. A live half (not forwarded) has
 * no full record: NULL, with *half set to it (half may be NULL when the
 * caller handles no halves: then the pass is unhalved first, tg__unhalf). */
tg_tensor *tg__live_slow(const tg_tensor *h, tg_half **half);
static inline tg_tensor *tg__live_h(const tg_tensor *h, tg_half **half) {
    tg_tensor *r = tg__rec(h);
    if (half) *half = NULL;
    if (!r) return NULL;
    if (tg__is_half(r)) return tg__live_slow(h, half);
    if (r->flags & TGF_PARAM) return r;
    return tg__current(h, r, r->tape->gen) ? r : NULL;
}
static inline tg_tensor *tg__live(const tg_tensor *h) { return tg__live_h(h, NULL); }
/* The live half (there, not forwarded, of its tape's current pass) behind
 * handle h, or NULL: what the queries of scalar code (tg_grad_item,
 * tg_requires_grad) test inline before their general paths. */
static inline tg_half *tg__live_half(const tg_tensor *h) {
    tg_half *x = (tg_half *)tg__rec(h);
    if (!x || !tg__pair(x) || (x->flags & (THF_HALF | THF_FWD)) != THF_HALF) return NULL;
    return tg__half_current(h, x, tg__half_tape(x)->gen) ? x : NULL;
}
/* A full record's view of live half x, for read-only queries: rank 0, f64,
 * data its value, grad its gradient (if any); never an operand. */
static inline void tg__half_view(const tg_half *x, tg_tensor *v) {
    memset(v, 0, sizeof *v);
    v->tape = tg__half_tape(x);
    v->gen = v->tape->gen;
    v->op = x->op;
    v->dtype = TG_F64;
    v->flags = (x->flags & THF_REQ) ? TGF_REQ : 0;
    v->data = (void *)&x->v;
    v->grad = (x->flags & THF_G) ? (void *)&x->g : NULL;
}
/* For read-only queries: tg__live, with a live half seen through its view
 * in *view (no unhalving). */
static inline const tg_tensor *tg__live_q(const tg_tensor *h, tg_tensor *view) {
    tg_half *x;
    const tg_tensor *r = tg__live_h(h, &x);
    if (x) tg__half_view(x, view), r = view;
    return r;
}

/* The tape of handle h's record (full or half), or NULL for NULL and
 * parameters; nothing checked. */
static inline tg_tape *tg__tape_of(const tg_tensor *h) {
    const tg_tensor *r = tg__rec(h);
    if (!r) return NULL;
    if (tg__is_half(r)) return tg__half_tape((const tg_half *)r);
    return r->tape;
}

/* The full record behind handle h, for code above the ops that reads
 * records (higher order, gradcheck, inspection): a live half is first given
 * its full copy (tg__unhalf: the whole pass is); a half that is gone, or
 * that could not be copied, reads as a stale record of its tape (a
 * per-thread record whose gen is no pass's). NULL stays NULL. */
tg_tensor *tg__full_slow(const tg_tensor *h);
static inline tg_tensor *tg__full(const tg_tensor *h) {
    tg_tensor *r = tg__rec(h);
    if (!r || !tg__is_half(r)) return r;
    return tg__full_slow(h);
}

/* Every slot of the tape's pass, oldest first: BODY with slot pointer s
 * (group headers skipped; a slot holds one full record or two halves). */
#define TG__FOR_SLOTS_UP(tape, s, ...)                                               \
    for (int s_ = 0; s_ <= (tape)->cur && s_ < (tape)->nslab; s_++) {                \
        tg_tensor *b_ = (tape)->slabs[s_].slot;                                      \
        size_t u_ = s_ == (tape)->cur ? (tape)->pos : (tape)->slabs[s_].cap;         \
        for (size_t p_ = 0; p_ < u_; p_++) {                                         \
            if (tg__is_hdr_pos(p_)) continue;                                        \
            tg_tensor *s = b_ + p_;                                                  \
            __VA_ARGS__                                                              \
        }                                                                            \
    }

/* Every full record of the tape's pass, oldest first: BODY with r. A
 * forwarded half gives its full copy in its place; a live half is skipped
 * (callers unhalve first: tg__unhalf). */
#define TG__FOR_RECORDS_UP(tape, r, ...)                                             \
    TG__FOR_SLOTS_UP(tape, s_rec_, {                                                 \
        if (tg__pair(s_rec_)) {                                                      \
            for (int k_ = 0; k_ < 2; k_++) {                                         \
                const tg_half *x_ = (const tg_half *)s_rec_ + k_;                    \
                if ((x_->flags & (THF_HALF | THF_FWD)) != (THF_HALF | THF_FWD)) continue; \
                tg_tensor *r = x_->fwd;                                              \
                __VA_ARGS__                                                          \
            }                                                                        \
            continue;                                                                \
        }                                                                            \
        tg_tensor *r = s_rec_;                                                       \
        __VA_ARGS__                                                                  \
    })

/* Gives every half of the tape's pass a full copy (in the data arena) and
 * makes it a forwarder to it, redirecting PROMOTE records to the copies;
 * the pass makes no more halves (tape->half_ok off until the next reset).
 * For whatever needs every record in full: inspection, a create-graph
 * sweep. False on OOM (recorded). */
bool tg__unhalf(tg_tape *tape);
/* A PROMOTE record of value v for `in`, a half of tape's pass or a full
 * copy of one (tg__operand), requiring grad if req (and recording is on). */
tg_tensor *tg__promote(tg_tape *tape, tg_tensor *in, double v, bool req);
/* tg__operand for where a gradient starts or ends (a sweep's output, a
 * segment's outputs): a half's PROMOTE requires grad as the half does, even
 * with recording off (a numeric sweep's). */
tg_tensor *tg__operand_req(tg_tape **tape, tg_tensor *h, const char *op, int index);
/* At reset and free (tape.c): the full copies' blocks. */
void tg__fblocks_reset(tg_tape *tape);
void tg__fblocks_free(tg_tape *tape);
/* The record a pointer to a forwarded half stands for (others unchanged). */
static inline tg_tensor *tg__fwd(tg_tensor *r) {
    if (r && tg__is_half(r)) {
        const tg_half *x = (const tg_half *)r;
        if (tg__half_there(x) && (x->flags & THF_FWD)) return x->fwd;
    }
    return r;
}

/* ------------------------------------------------------------ allocation */
void *tg__malloc(size_t n);
void *tg__calloc(size_t n, size_t size);
void *tg__realloc(void *p, size_t n);
void tg__free(void *p);
/* Blocks kept for the whole process (threadpool.c): 64-byte aligned, and
 * freed through the allocator that made them, whatever is in force then. */
void *tg__keep_malloc(size_t n);
void tg__keep_free(void *p);

/* Tape arenas. tg__record: a zeroed record with tape and gen set. The
 * fast paths are inline (scalar code makes millions of records); the slow
 * paths, which grow the arenas, live in tape.c. */
tg_tensor *tg__record_slow(tg_tape *tape);
static inline tg_tensor *tg__record(tg_tape *tape) {
    if (tape->pos < tape->lim) {
        tg_tensor *t = tape->base + tape->pos++;
        tape->hfree = NULL;
        /* the line 16 records ahead: its store misses no longer stall the
         * forward pass of scalar code (about 20% of it); address arithmetic
         * in integers, as it may point past the slab (a prefetch never faults) */
        __builtin_prefetch((const void *)((uintptr_t)t + 16 * sizeof *t), 1, 3);
        memset(t, 0, sizeof *t);
        t->tape = tape;
        t->gen = tape->gen;
        tape->count++;
        return t;
    }
    return tg__record_slow(tape);
}
/* A half record (its fields are the caller's to fill, flags last): the
 * second half of the last slot if that is free, else a new slot. */
tg_half *tg__half_slow(tg_tape *tape);
/* The same when the caller knows it fits (hfree, or pos < lim): no call. */
static inline __attribute__((always_inline)) tg_half *tg__half_take(tg_tape *tape) {
    tg_half *h = tape->hfree;
    if (h) {
        tape->hfree = NULL;
    } else {
        h = (tg_half *)(tape->base + tape->pos++);
        __builtin_prefetch((const void *)((uintptr_t)h + 16 * 64), 1, 3);
        h[1].flags = 0; /* the second half: empty until filled */
        tape->hfree = h + 1;
    }
    tape->count++;
    tape->nhalf++;
    return h;
}
static inline __attribute__((always_inline)) tg_half *tg__half_new(tg_tape *tape) {
    if (tape->hfree || tape->pos < tape->lim) return tg__half_take(tape);
    return tg__half_slow(tape);
}
/* The record at place p (tg__place) of the tape's pass. */
static inline void *tg__at_place_in(const tg_slab *slabs, uint32_t p) {
    return (char *)slabs[p >> 21].slot + (size_t)(p & ((1u << 21) - 1)) * 32;
}
static inline void *tg__at_place(const tg_tape *tape, uint32_t p) {
    return tg__at_place_in(tape->slabs, p);
}
/* The bytes of the records in use. */
static inline size_t tg__record_bytes(const tg_tape *tape) {
    return (tape->count - tape->nhalf) * sizeof(tg_tensor) + tape->nhalf * sizeof(tg_half);
}
/* Folds the bytes now in use into tape->peak: call it before anything
 * that lowers count or dbytes (a reset, a rewind). Recording never calls
 * it: both only grow within a pass, so the peak is read at query time. */
static inline void tg__tape_note_peak(tg_tape *tape) {
    size_t now = tg__record_bytes(tape) + tape->dbytes;
    if (now > tape->peak) tape->peak = now;
}
/* Data arena: n bytes, 64-byte aligned when n >= 64, 8 when n <= 8 (a
 * scalar's gradient: scalar code makes millions), else 16. NULL = OOM
 * (recorded on the tape with `op` in the message). */
void *tg__arena_slow(tg_tape *tape, size_t n, const char *op);
/* n bytes from the tape's current chunk, or NULL if they do not fit. */
static inline void *tg__arena_take(tg_tape *tape, size_t n) {
    size_t align = n >= 64 ? 64 : n <= 8 ? 8 : 16;
    tg_dchunk *c = &tape->chunks[tape->dcur];
    size_t at = (c->used + align - 1) & ~(align - 1);
    if (at > c->cap || n > c->cap - at) return NULL;
    c->used = at + n;
    tape->dbytes += n;
    return c->mem + at;
}
static inline void *tg__arena(tg_tape *tape, size_t n, const char *op) {
    void *p = tape->dcur < tape->nchunk ? tg__arena_take(tape, n) : NULL;
    return p ? p : tg__arena_slow(tape, n, op);
}

/* A mark: where the tape's arenas stand (mark.c). tg__rollback takes both
 * arenas back to it, within the same pass: the records and data made since
 * are free again (their slots' gen is zeroed, so a handle to one is stale
 * until the slot is filled again), the chunks and slabs stay for reuse.
 * Recomputed segments (autograd/segment.c) run their function and roll it
 * back. Anything that points into the freed part must be dropped first. */
typedef struct tg_mark {
    int cur, dcur;
    size_t pos, lim, count, nhalf, used, dbytes;
    tg_half *hfree;
} tg_mark;
void tg__mark(const tg_tape *tape, tg_mark *m);
void tg__rollback(tg_tape *tape, const tg_mark *m);
/* Whether record t was made since mark m (it lies in the slots after m). */
bool tg__since(const tg_tape *tape, const tg_mark *m, const tg_tensor *t);

/* ------------------------------------------------ fused chains (ops/fuse.c) */
/* A lazy record (TGF_LAZY, data NULL) computes its data: the chain of lazy
 * records behind it is evaluated block by block. False after an error
 * (out of memory, recorded). tg__ready: t holds data (forcing it if lazy).
 * Everything that reads a record's data passes it through tg__ready first;
 * tg__operand (so tg__check) does. */
bool tg__fuse_force(tg_tensor *t);
static inline bool tg__unready(const tg_tensor *t) { return (t->flags & TGF_LAZY) && !t->data; }
static inline bool tg__ready(tg_tensor *t) { return !tg__unready(t) || tg__fuse_force(t); }
/* Forces every lazy record of the tape's pass, oldest first (before a
 * mark, an inspection, or handing a user a pointer to write through). */
void tg__fuse_force_all(tg_tape *tape);

/* --------------------------------------------------------------- errors */
/* Records the first error ("<op>: <sentence>") and returns NULL. */
void *tg__fail(tg_tape *tape, tg_status s, const char *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void tg__failv(tg_tape *tape, tg_status s, const char *op, const char *fmt, va_list ap);
/* Whether an op or query given NULL keeps the thread's last error as it is
 * (it does when that holds a failure: the root cause of the NULL). */
bool tg__null_keeps_last(void);
/* "[2,3]" for a shape. */
char *tg__shape_str(char *buf, size_t n, int rank, const int64_t *shape);

/* ------------------------------------------------------- tensor helpers */
static inline size_t tg__esize(int dt) { return dt == TG_F32 ? 4 : 8; }
/* Checked size arithmetic (GCC's and clang's builtins): false when the
 * exact result does not fit in int64. Every product of dims, stride and
 * byte count that an input can make huge goes through these or
 * tg__shape_numel: a signed overflow is undefined behaviour. */
static inline bool tg__mul_ok(int64_t a, int64_t b, int64_t *r) {
    return !__builtin_mul_overflow(a, b, r);
}
static inline bool tg__add_ok(int64_t a, int64_t b, int64_t *r) {
    return !__builtin_add_overflow(a, b, r);
}
/* Element count of `rank` dims (none negative): 0 when one of them is 0,
 * even if the others multiply past INT64_MAX ([0, 2^62, 2^62] has no
 * elements); -1 when the product overflows. */
static inline int64_t tg__shape_numel(int rank, const int64_t *shape) {
    int64_t n = 1;
    bool over = false;
    for (int d = 0; d < rank; d++) {
        if (shape[d] == 0) return 0;
        if (!over && __builtin_mul_overflow(n, shape[d], &n)) over = true;
    }
    return over ? -1 : n;
}
/* A tensor's element count: its shape was checked when it was made, so
 * this is never -1 (at most SIZE_MAX / 8). */
static inline int64_t tg__numel(const tg_tensor *t) { return tg__shape_numel(t->rank, t->shape); }
static inline bool tg__is_float(int dt) { return dt == TG_F32 || dt == TG_F64; }
static inline bool tg__same_shape(const tg_tensor *a, const tg_tensor *b) {
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* Checks one operand (a handle or a record): NULL, stale, other tape.
 * Returns its record, or for a parameter its proxy on `*tape` (taking the
 * tape from the operand if *tape is NULL). On error records it (if a tape
 * is known) and returns NULL. */
tg_tensor *tg__operand(tg_tape **tape, tg_tensor *t, const char *op, int index);
/* tg__operand's checks of a half operand (its tape, its pass), making
 * nothing: for callers that check every operand before making records.
 * False after recording why. */
bool tg__half_ok(tg_tape **tape, tg_tensor *h, const char *op, int index);

/* Validates inputs of an op: all non-NULL, same tape, not stale, and (if
 * need_float) the same float dtype. In place, handles become their records
 * and parameters their proxies. Returns the tape or NULL (error recorded
 * where possible). */
tg_tape *tg__check(const char *op, int n, tg_tensor **in, bool need_float);
/* tg__check that leaves lazy records lazy (the ops that fuse: ops/fuse.h);
 * tg__operand_lazy likewise. */
tg_tape *tg__check_lazy(const char *op, int n, tg_tensor **in, bool need_float);
tg_tensor *tg__operand_lazy(tg_tape **tape, tg_tensor *t, const char *op, int index);
/* tg__check's need_float test on resolved records: every one f32 or f64,
 * all of one dtype; false after recording the error. */
bool tg__check_float(tg_tape *tape, const char *op, int n, tg_tensor *const *in);

/* A new output record of the given op, dtype and shape, with data
 * allocated (uninitialised) unless `data` is given (a view). Sets
 * requires-grad from the inputs when recording is on. in1/c/aux are left
 * for the caller to fill. NULL on OOM (recorded). A record, not a handle:
 * the public function returns tg__handle of it. */
tg_tensor *tg__out(tg_tape *tape, int op, int dtype, int rank, const int64_t *shape,
                   tg_tensor *in0, tg_tensor *in1, void *data);
/* After an op filled its record: whether any input requires grad. */
void tg__set_req(tg_tensor *out, int n, tg_tensor **in);

/* At reset and free: the tape lets go of its parameter proxies (a
 * parameter freed meanwhile is freed now). */
void tg__drop_proxies(tg_tape *tape);

/* Inputs of a record, in order: returns the count, at most TG_MAX_INPUTS
 * (buf must hold that many). An op with more operands (tg_concat of many
 * tensors) builds a tree of records of at most TG_MAX_INPUTS inputs each. */
#define TG_MAX_INPUTS 16
int tg__inputs(const tg_tensor *t, tg_tensor **buf);

/* A zeroed (on first use) gradient buffer for t in the current numeric
 * sweep; NULL if t does not require grad or on OOM. A 0-d tensor keeps its
 * working gradient inline in its record (g0). */
void *tg__gacc_new(tg_tensor *t);
static inline void *tg__gacc(tg_tensor *t) {
    if (t->grad) return t->grad;
    return (t->flags & TGF_REQ) ? tg__gacc_new(t) : NULL;
}
/* Like tg__gacc, for a backward that can write its whole contribution at
 * once: a buffer created now is left uninitialised and *fresh is set (the
 * caller must then write every element, not add); an existing one is
 * returned with *fresh false. NULL as tg__gacc. */
void *tg__gacc_new_raw(tg_tensor *t, bool *fresh);
static inline void *tg__gacc_w(tg_tensor *t, bool *fresh) {
    *fresh = false;
    if (t->grad) return t->grad;
    if (!(t->flags & TGF_REQ)) return NULL;
    if (t->rank == 0 && t->op != TG_OP_PROMOTE) { /* scalar code: inline */
        *fresh = true;
        return t->grad = &t->g0;
    }
    return tg__gacc_new_raw(t, fresh);
}
/* A PROMOTE record's working gradient is that of what it stands for (the
 * half, or the half's full copy): contributions through it add into the
 * same number, in the same order, as if their ops had read the half
 * itself, so the bits do not depend on how an op reached it. *fresh when
 * nothing was there yet (the caller writes rather than adds). */
void *tg__promote_grad(tg_tensor *p, bool *fresh);
/* Wraps raw memory as a leaf (no copy) on tape; not recorded. */
tg_tensor *tg__wrap(tg_tape *tape, int dtype, int rank, const int64_t *shape, void *data);

/* Broadcast two shapes; false (and an error) if they do not fit. */
bool tg__broadcast(const char *op, tg_tape *tape, const tg_tensor *a, const tg_tensor *b,
                   int *rank, int64_t *shape);

/* Row-major strides of `shape` seen from an output of rank `orank` (left
 * padded), 0 on broadcast axes, and 0 where tg__strides has 0 (outside a
 * size-0 axis or an overflowing product). */
void tg__bstrides(int rank, const int64_t *shape, int orank, const int64_t *oshape,
                  int64_t *strides);

/* Normalizes an axis (negative from the end); -1 if out of range. */
static inline int tg__axis(int axis, int rank) {
    if (axis < 0) axis += rank ? rank : 1; /* a 0-d tensor: 0 or -1 (PyTorch) */
    return (axis < 0 || axis >= (rank ? rank : 1)) ? -1 : axis;
}

/* Row iterator over an N-d index space shared by up to three operands with
 * their own strides (element units, 0 on broadcast axes). Each row is the
 * last axis: length `n`, operand k starts at off[k] with step inner[k].
 *     tg_rows it; tg__rows_init(&it, rank, shape, 2, st);
 *     do { ... it.off[0], it.off[1], it.n ... } while (tg__rows_next(&it));
 * A rank-0 space is one row of length 1; an empty one has it.n == 0. */
typedef struct tg_rows {
    int rank, nop;
    int64_t n, inner[3], off[3], idx[TG_MAX_RANK];
    int64_t shape[TG_MAX_RANK], st[3][TG_MAX_RANK];
} tg_rows;

static inline void tg__rows_init(tg_rows *it, int rank, const int64_t *shape, int nop,
                                 int64_t (*st)[TG_MAX_RANK]) {
    it->rank = rank;
    it->nop = nop;
    it->n = 1;
    for (int k = 0; k < nop; k++) it->off[k] = 0, it->inner[k] = 0;
    for (int d = 0; d < rank; d++) {
        it->idx[d] = 0;
        it->shape[d] = shape[d];
        for (int k = 0; k < nop; k++) it->st[k][d] = st[k][d];
        if (shape[d] == 0) it->n = 0;
    }
    if (rank > 0 && it->n) {
        it->n = shape[rank - 1];
        for (int k = 0; k < nop; k++) it->inner[k] = st[k][rank - 1];
    }
}

static inline bool tg__rows_next(tg_rows *it) {
    for (int d = it->rank - 2; d >= 0; d--) {
        it->idx[d]++;
        for (int k = 0; k < it->nop; k++) it->off[k] += it->st[k][d];
        if (it->idx[d] < it->shape[d]) return true;
        for (int k = 0; k < it->nop; k++) it->off[k] -= it->st[k][d] * it->shape[d];
        it->idx[d] = 0;
    }
    return false;
}

/* Contiguous row-major strides of a shape. Outside a size-0 axis the
 * strides are 0 (a tensor with no elements addresses nothing), and so are
 * those where the product of the inner axes passes INT64_MAX, which only a
 * shape with a size-0 axis further out can have ([0, 2^62, 2]: 0, 2, 1). */
static inline void tg__strides(int rank, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        st[d] = s;
        if (__builtin_mul_overflow(s, shape[d], &s)) s = 0;
    }
}

/* dst[n] += src[n] (same dtype). */
void tg__add_into(int dt, void *dst, const void *src, int64_t n);

/* A 64-byte aligned scratch buffer of at least `bytes`, owned by the
 * calling thread and reused by its later calls (grown only when a bigger
 * one is asked for, so a steady loop does not allocate). Freed when the
 * thread exits, or for the thread that unloads the library, at
 * tg__pool_shutdown. NULL if out of memory. The contents are not kept
 * across calls. (threadpool.c) */
void *tg__thread_scratch(size_t bytes);

/* Joins the pool's workers and frees the pool and the calling thread's
 * scratch. Runs by itself at exit (a destructor); safe to call twice, and
 * the pool restarts lazily if the library is used again. */
void tg__pool_shutdown(void);

/* Threads (threadpool.c). fn(ctx, lo, hi) over [0, n) in pieces of at
 * least `grain`; runs inline when one piece (or one thread) suffices.
 * tg_parallel_for (public, tg_autograd.h) is the same call. */
void tg__parallel_for(int64_t n, int64_t grain, tg_range_fn fn, void *ctx);

/* Elementwise work over n items: on threads only when n is large enough to
 * pay for waking them (a 100-element add never does). */
enum { TG_GRAIN = 1 << 15 };
static inline void tg__elementwise(int64_t n, tg_range_fn fn, void *ctx) {
    if (n < 2 * TG_GRAIN)
        fn(ctx, 0, n);
    else
        tg__parallel_for(n, TG_GRAIN, fn, ctx);
}

/* The SIMD level (simd.c). A kernel with SIMD variants has one file per
 * level, compiled with the level's flags only where TG_HAVE_AVX2 /
 * TG_HAVE_AVX512 says the compiler builds it, and calls the variant of
 * tg__simd_level(): tg_simd_level() (tg_core.h) as a direct call inside the
 * shared library, never a level not built. tg__simd_force sets the best
 * supported level <= `level` (TG_SIMD_AUTO: back to the detected one), for
 * tests; not while another thread runs kernels. tg__simd_supported: this
 * CPU runs `level` and the build has it. */
enum { TG_SIMD_AUTO = -1 };
int tg__simd_level(void);
void tg__simd_force(int level);
bool tg__simd_supported(int level);

#endif /* TG_ENGINE_H */
