/* tape.c - the tape and its two arenas.
 *
 * Records: fixed 64-byte slots in slabs that are never freed before the
 * tape is, filled in creation order (that order is the topological order
 * the sweep walks backwards); a slot holds one full record or two half
 * records (tg_engine.h). Slabs are aligned to 64 KiB and cut into groups of
 * 1024 slots whose first slot is a header naming the tape, so that a half
 * record, which has no room for a tape pointer, finds its tape from its
 * address. Data: a bump arena of chunks; a reset that finds more than one
 * chunk merges them into one, so from the second pass on a steady loop
 * allocates nothing.
 */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE (glibc hides it under strict POSIX) */
#include "tg_engine.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

_Static_assert(sizeof(tg_tensor) == 64, "a tensor record is one 64-byte slot");

/* Serials are unique across all tapes, so a cached parameter proxy can
 * never mistake a new tape at an old address. A tape's gen counts its own
 * passes (a handle's tag is gen & 63: never 0 for a tape, tg_engine.h). */
static _Atomic uint64_t next_serial = 1;

static uint32_t next_pass(uint32_t gen) {
    gen++;
    return (gen & 63) ? gen : gen + 1;
}

/* Slab sizes in slots: multiples of a group, at most 2^20 slots (a half's
 * place keeps 21 bits of 32-byte units), at most 2^11 slabs a set. */
enum { SLAB_FIRST = TG__GROUP_SLOTS, SLAB_MAX = 1 << 20, SLABS_MAX = 1 << 11, CHUNK_FIRST = 1 << 18 };
#define SLAB_ALIGN ((size_t)TG__GROUP_BYTES)

/* Large arena blocks ask for transparent huge pages (a hint; Linux in its
 * default "madvise" mode honours it): a scalar tape of ten million records
 * spans 640 MB, and with 4 KiB pages the forward pass and the sweep spend
 * much of their time on TLB misses and page faults. */
static void hint_huge(char *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (n < 2 * huge) return;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

/* n bytes aligned to `align` (a power of two), from the one allocator. */
static void *aligned_block(size_t n, size_t align, void **raw) {
    if (n > SIZE_MAX - align) return NULL;
    char *p = tg__malloc(n + align);
    *raw = p;
    if (!p) return NULL;
    hint_huge(p, n + align);
    return p + (align - (uintptr_t)p % align) % align;
}

static void *aligned_alloc64(size_t n, void **raw) { return aligned_block(n, 64, raw); }

tg_tape *tg_tape_new(void) {
    tg_tape *t = tg__calloc(1, sizeof *t);
    if (!t) return NULL;
    t->gen = 1;
    t->serial = atomic_fetch_add(&next_serial, 1);
    t->grad_enabled = true;
    t->half_ok = true;
    const char *e = getenv("TG_ABORT_ON_ERROR");
    t->abort_on_error = e && e[0] && e[0] != '0';
    /* fused chains (tg_tape_set_fusion): TG_FUSE_MIN=n sets the threshold
     * of new tapes (0: off), for tests that run the whole suite fused */
    const char *f = getenv("TG_FUSE_MIN");
    t->fuse_min = f && f[0] ? strtoll(f, NULL, 10) : TG_FUSE_MIN_DEFAULT;
    if (t->fuse_min < 0) t->fuse_min = 0;
    return t;
}

/* From a gradient hook, while the sweep walks this tape's records. */
static bool refuse_in_sweep(tg_tape *tape, const char *op) {
    if (!tape->sweeping) return false;
    tg__fail(tape, TG_ERR_STATE, op,
             "refused: called from a gradient hook while backward sweeps this tape "
             "(call it after tg_backward or tg_grad returns)");
    return true;
}

void tg_tape_free(tg_tape *tape) {
    if (!tape || refuse_in_sweep(tape, "tape_free")) return;
    tg__drop_proxies(tape); /* reads proxy records: before the slabs go */
    tg__fblocks_free(tape);
    for (int i = 0; i < tape->nslab; i++) tg__free(tape->slabs[i].raw);
    for (int i = 0; i < tape->onslab; i++) tg__free(tape->oslabs[i].raw);
    tg__free(tape->oslabs);
    for (int i = 0; i < tape->nchunk; i++) tg__free(tape->chunks[i].raw);
    tg__free(tape->slabs);
    tg__free(tape->chunks);
    if (tape->ext_free) tape->ext_free(tape); /* names, hooks (autograd/inspect) */
    tg__free(tape->proxies);
    tg__free(tape);
}

void tg_tape_reset(tg_tape *tape) {
    if (!tape || refuse_in_sweep(tape, "tape_reset")) return;
    tg__drop_proxies(tape);
    tg__tape_note_peak(tape);
    tape->gen = next_pass(tape->gen);
    /* the other set of slots takes this pass */
    tg_slab *s = tape->slabs;
    int n = tape->nslab, c = tape->capslab;
    tape->slabs = tape->oslabs, tape->nslab = tape->onslab, tape->capslab = tape->ocapslab;
    tape->oslabs = s, tape->onslab = n, tape->ocapslab = c;
    tape->cur = 0;
    tape->pos = 0;
    tape->base = NULL;
    tape->lim = 0; /* the first record takes the slow path, which sets them */
    tape->hfree = NULL;
    tape->count = 0;
    tape->nhalf = 0;
    tape->half_ok = !tape->ext; /* a tape with inspection state makes full records */
    tape->unhalved = false;
    tg__fblocks_reset(tape);
    tape->dbytes = 0;
    tape->sweeps = 0;
    tape->lazy_pending = false; /* the lazy records are gone with the pass */
    tape->sweep_mode = TG_SWEEP_NONE;
    tape->status = TG_OK;
    tape->err[0] = 0; /* grad_enabled stays: a setting, kept until changed */
    if (tape->nchunk > 1) {
        /* Merge: one chunk as large as all of them. If that allocation
         * fails, keep the old chunks; they still work. */
        size_t total = 0;
        for (int i = 0; i < tape->nchunk; i++) total += tape->chunks[i].cap;
        void *raw;
        char *mem = aligned_alloc64(total, &raw);
        if (mem) {
            for (int i = 0; i < tape->nchunk; i++) tg__free(tape->chunks[i].raw);
            tape->chunks[0] = (tg_dchunk){mem, total, 0, raw};
            tape->nchunk = 1;
        }
    }
    for (int i = 0; i < tape->nchunk; i++) tape->chunks[i].used = 0;
    tape->dcur = 0;
}

bool tg_tape_set_grad_enabled(tg_tape *tape, bool on) {
    if (!tape) return false;
    bool old = tape->grad_enabled;
    tape->grad_enabled = on;
    return old;
}

bool tg_tape_grad_enabled(const tg_tape *tape) { return tape && tape->grad_enabled; }

int64_t tg_tape_set_fusion(tg_tape *tape, int64_t min_elements) {
    if (!tape) return -1;
    int64_t old = tape->fuse_min;
    tape->fuse_min = min_elements > 0 ? min_elements : 0;
    return old;
}

int64_t tg_tape_fusion(const tg_tape *tape) { return tape ? tape->fuse_min : -1; }

size_t tg_tape_bytes(const tg_tape *tape) {
    return tape ? tg__record_bytes(tape) + tape->dbytes : 0;
}

size_t tg_tape_count(const tg_tape *tape) { return tape ? tape->count : 0; }

size_t tg_tape_bytes_peak(const tg_tape *tape) {
    if (!tape) return 0;
    size_t now = tg_tape_bytes(tape);
    return now > tape->peak ? now : tape->peak;
}

void tg_tape_reset_peak(tg_tape *tape) {
    if (tape) tape->peak = tg_tape_bytes(tape);
}

size_t tg_tape_bytes_held(const tg_tape *tape) {
    if (!tape) return 0;
    size_t n = sizeof *tape + (size_t)tape->capproxy * sizeof *tape->proxies +
               (size_t)(tape->capslab + tape->ocapslab) * sizeof(tg_slab) +
               (size_t)tape->capchunk * sizeof(tg_dchunk);
    for (int i = 0; i < tape->nslab; i++) n += tape->slabs[i].cap * sizeof(tg_tensor) + SLAB_ALIGN;
    for (int i = 0; i < tape->onslab; i++) n += tape->oslabs[i].cap * sizeof(tg_tensor) + SLAB_ALIGN;
    for (int i = 0; i < tape->nchunk; i++) n += tape->chunks[i].cap + 64;
    return n;
}

static bool add_slab(tg_tape *tape) {
    if (tape->nslab == SLABS_MAX) return false;
    if (tape->nslab == tape->capslab) {
        int cap = tape->capslab ? 2 * tape->capslab : 8;
        tg_slab *s = tg__realloc(tape->slabs, (size_t)cap * sizeof *s);
        if (!s) return false;
        tape->slabs = s;
        tape->capslab = cap;
    }
    size_t cap = tape->nslab ? tape->slabs[tape->nslab - 1].cap * 2 : SLAB_FIRST;
    if (cap > SLAB_MAX) cap = SLAB_MAX;
    void *raw;
    tg_tensor *slot = aligned_block(cap * sizeof(tg_tensor), SLAB_ALIGN, &raw);
    if (!slot) return false;
    /* Zeroed once, so that every slot always holds a well-formed record. */
    memset(slot, 0, cap * sizeof(tg_tensor));
    for (size_t g = 0; g < cap; g += TG__GROUP_SLOTS)
        *(tg_group_hdr *)&slot[g] = (tg_group_hdr){tape, (uint32_t)tape->nslab << 21 | (uint32_t)(2 * g)};
    tape->slabs[tape->nslab++] = (tg_slab){slot, cap, raw};
    return true;
}

/* The next free slot, past group headers, from a new slab if need be; sets
 * base and lim for the fast paths. NULL on OOM (recorded). */
static tg_tensor *next_slot(tg_tape *tape) {
    for (;;) {
        if (tape->cur < tape->nslab) {
            const tg_slab *s = &tape->slabs[tape->cur];
            if (tape->pos < s->cap) {
                if (tg__is_hdr_pos(tape->pos)) {
                    tape->pos++;
                    continue;
                }
                size_t end = (tape->pos | (TG__GROUP_SLOTS - 1)) + 1;
                tape->base = s->slot;
                tape->lim = end < s->cap ? end : s->cap;
                return s->slot + tape->pos++;
            }
            if (tape->cur + 1 == tape->nslab && !add_slab(tape)) break;
            tape->cur++;
            tape->pos = 0;
        } else if (!add_slab(tape)) {
            break;
        }
    }
    tape->lim = 0;
    return tg__fail(tape, TG_ERR_NOMEM, "tape",
                    tape->nslab == SLABS_MAX ? "the tape holds as many records as it can"
                                             : "out of memory growing the tape");
}

tg_tensor *tg__record_slow(tg_tape *tape) {
    tg_tensor *t = next_slot(tape);
    if (!t) return NULL;
    tape->hfree = NULL;
    memset(t, 0, sizeof *t);
    t->tape = tape;
    t->gen = tape->gen;
    tape->count++;
    return t;
}

tg_half *tg__half_slow(tg_tape *tape) {
    tg_half *h = (tg_half *)next_slot(tape);
    if (!h) return NULL;
    h[1].flags = 0;
    tape->hfree = h + 1;
    tape->count++;
    tape->nhalf++;
    return h;
}

void *tg__arena_slow(tg_tape *tape, size_t n, const char *op) {
    while (tape->dcur < tape->nchunk) {
        void *p = tg__arena_take(tape, n);
        if (p) return p;
        if (tape->dcur + 1 == tape->nchunk) break;
        tape->dcur++;
    }
    /* A new chunk, at least double the last one and big enough for n. */
    if (tape->nchunk == tape->capchunk) {
        int cap = tape->capchunk ? 2 * tape->capchunk : 8;
        tg_dchunk *c = tg__realloc(tape->chunks, (size_t)cap * sizeof *c);
        if (!c) return tg__fail(tape, TG_ERR_NOMEM, op, "out of memory");
        tape->chunks = c;
        tape->capchunk = cap;
    }
    size_t cap = tape->nchunk ? tape->chunks[tape->nchunk - 1].cap * 2 : CHUNK_FIRST;
    if (cap < n) cap = n;
    void *raw;
    char *mem = aligned_alloc64(cap, &raw);
    if (!mem) {
        char b[32];
        snprintf(b, sizeof b, "%zu", n);
        return tg__fail(tape, TG_ERR_NOMEM, op, "out of memory allocating %s bytes", b);
    }
    tape->chunks[tape->nchunk] = (tg_dchunk){mem, cap, n, raw};
    tape->dcur = tape->nchunk++;
    tape->dbytes += n;
    return mem;
}
