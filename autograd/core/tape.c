/* tape.c - the tape and its two arenas.
 *
 * Records: fixed 64-byte slots in slabs that are never freed before the
 * tape is, filled in creation order (that order is the topological order
 * the sweep walks backwards). Data: a bump arena of chunks; a reset that
 * finds more than one chunk merges them into one, so from the second pass
 * on a steady loop allocates nothing.
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

enum { SLAB_FIRST = 1024, SLAB_MAX = 1 << 20, CHUNK_FIRST = 1 << 18 };

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

static void *aligned_alloc64(size_t n, void **raw) {
    if (n > SIZE_MAX - 64) return NULL;
    char *p = tg__malloc(n + 64);
    *raw = p;
    if (!p) return NULL;
    hint_huge(p, n + 64);
    return p + (64 - (uintptr_t)p % 64) % 64;
}

tg_tape *tg_tape_new(void) {
    tg_tape *t = tg__calloc(1, sizeof *t);
    if (!t) return NULL;
    t->gen = 1;
    t->serial = atomic_fetch_add(&next_serial, 1);
    t->grad_enabled = true;
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
    tape->count = 0;
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
    return tape ? tape->count * sizeof(tg_tensor) + tape->dbytes : 0;
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
    for (int i = 0; i < tape->nslab; i++) n += tape->slabs[i].cap * sizeof(tg_tensor) + 64;
    for (int i = 0; i < tape->onslab; i++) n += tape->oslabs[i].cap * sizeof(tg_tensor) + 64;
    for (int i = 0; i < tape->nchunk; i++) n += tape->chunks[i].cap + 64;
    return n;
}

static bool add_slab(tg_tape *tape) {
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
    tg_tensor *slot = aligned_alloc64(cap * sizeof(tg_tensor), &raw);
    if (!slot) return false;
    /* Zeroed once, so that every slot always holds a well-formed record. */
    memset(slot, 0, cap * sizeof(tg_tensor));
    tape->slabs[tape->nslab++] = (tg_slab){slot, cap, raw};
    return true;
}

tg_tensor *tg__record_slow(tg_tape *tape) {
    if (tape->cur < tape->nslab && tape->pos == tape->slabs[tape->cur].cap) {
        tape->cur++;
        tape->pos = 0;
    }
    if (tape->cur == tape->nslab && !add_slab(tape))
        return tg__fail(tape, TG_ERR_NOMEM, "tape", "out of memory growing the tape");
    tg_tensor *t = &tape->slabs[tape->cur].slot[tape->pos++];
    memset(t, 0, sizeof *t);
    t->tape = tape;
    t->gen = tape->gen;
    tape->count++;
    return t;
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
