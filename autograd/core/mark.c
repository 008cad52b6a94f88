/* mark.c - marks in a tape's arenas, and rolling back to one.
 *
 * A recomputed segment (autograd/segment.c) runs its function, keeps its
 * outputs and gives back everything the function made: its records and
 * their data are free again, so a long computation in segments holds one
 * segment's intermediates at a time. Within one pass only.
 */
#include "tg_engine.h"

void tg__mark(const tg_tape *tape, tg_mark *m) {
    /* a lazy record of before the mark must not get its data after it (a
     * rollback would free that data under it): compute them all now */
    if (tape->lazy_pending) tg__fuse_force_all((tg_tape *)tape);
    m->cur = tape->cur;
    m->pos = tape->pos;
    m->lim = tape->lim;
    m->hfree = tape->hfree;
    m->count = tape->count;
    m->nhalf = tape->nhalf;
    m->dcur = tape->dcur;
    m->used = tape->dcur < tape->nchunk ? tape->chunks[tape->dcur].used : 0;
    m->dbytes = tape->dbytes;
}

/* Calls BODY with s on each slot filled since m, oldest first (group
 * headers skipped; the second half of m's last slot is the caller's). */
#define FOR_SINCE(tape, m, s, BODY)                                                   \
    for (int s_ = (m)->cur; s_ <= (tape)->cur && s_ < (tape)->nslab; s_++) {          \
        size_t lo_ = s_ == (m)->cur ? (m)->pos : 0;                                   \
        size_t hi_ = s_ == (tape)->cur ? (tape)->pos : (tape)->slabs[s_].cap;         \
        for (size_t p_ = lo_; p_ < hi_; p_++) {                                       \
            if (tg__is_hdr_pos(p_)) continue;                                         \
            tg_tensor *s = &(tape)->slabs[s_].slot[p_];                               \
            BODY                                                                      \
        }                                                                             \
    }

bool tg__since(const tg_tape *tape, const tg_mark *m, const tg_tensor *t) {
    if (m->hfree && (const void *)t == (const void *)m->hfree) return tape->hfree != m->hfree;
    for (int s = m->cur; s <= tape->cur && s < tape->nslab; s++) {
        const tg_tensor *base = tape->slabs[s].slot;
        size_t lo = s == m->cur ? m->pos : 0;
        size_t hi = s == tape->cur ? tape->pos : tape->slabs[s].cap;
        if ((const char *)t >= (const char *)(base + lo) && (const char *)t < (const char *)(base + hi))
            return true;
    }
    return false;
}

void tg__rollback(tg_tape *tape, const tg_mark *m) {
    tg__tape_note_peak(tape); /* the bytes fall here: keep the peak they reached */
    /* a handle to a freed record is stale until its slot is filled again */
    FOR_SINCE(tape, m, s, {
        if (tg__pair(s)) {
            tg_half *h = (tg_half *)s;
            h[0].gen = h[1].gen = 0;
        } else {
            s->gen = 0;
        }
    })
    if (m->hfree) { /* the half free at the mark is free again */
        m->hfree->gen = 0;
        m->hfree->flags = 0;
    }
    tape->cur = m->cur;
    tape->pos = m->pos;
    tape->lim = m->lim;
    tape->base = m->cur < tape->nslab ? tape->slabs[m->cur].slot : NULL;
    tape->hfree = m->hfree;
    tape->count = m->count;
    tape->nhalf = m->nhalf;
    for (int c = m->dcur + 1; c < tape->nchunk; c++) tape->chunks[c].used = 0;
    if (m->dcur < tape->nchunk) tape->chunks[m->dcur].used = m->used;
    tape->dcur = m->dcur;
    tape->dbytes = m->dbytes;
}
