/* half.c - compact scalar records (tg_engine.h, "compact scalar records"):
 * what turns a half into a full record when something other than scalar
 * code needs one.
 *
 * Two ways, for two needs:
 *   - an op given a half reads it through a PROMOTE record: a full 0-d
 *     record made on the spot, whose input is the half and whose working
 *     gradient is the half's own (gradbuf.c's tg__promote_grad);
 *   - what reads every record of a pass in full (inspection, a
 *     create-graph sweep) first calls tg__unhalf: each half gets a full
 *     copy, kept in blocks of the tape's own (never rolled back, refilled
 *     each pass), and becomes a forwarder to it; walks over the records
 *     meet the forwarder where the half was, and visit the copy there.
 */
#include "tg_engine.h"

#include <math.h>

/* A block of full copies: 64 KiB, kept for the tape's life. */
enum { FB_RECS = 1023 };
struct tg_fblock {
    struct tg_fblock *next;
    void *raw;
    char pad[48];
    tg_tensor rec[FB_RECS];
};

static tg_tensor *fcopy(tg_tape *tape) {
    if (tape->fcur && tape->fpos < FB_RECS) return &tape->fcur->rec[tape->fpos++];
    struct tg_fblock *b = tape->fcur ? tape->fcur->next : tape->fblocks;
    if (!b) {
        void *raw = tg__malloc(sizeof *b + 64);
        if (!raw) return tg__fail(tape, TG_ERR_NOMEM, "tape", "out of memory");
        b = (struct tg_fblock *)((char *)raw + (64 - (uintptr_t)raw % 64) % 64);
        b->next = NULL;
        b->raw = raw;
        if (tape->fcur)
            tape->fcur->next = b;
        else
            tape->fblocks = b;
    }
    tape->fcur = b;
    tape->fpos = 0;
    return &b->rec[tape->fpos++];
}

void tg__fblocks_reset(tg_tape *tape) {
    tape->fcur = NULL;
    tape->fpos = 0;
}

void tg__fblocks_free(tg_tape *tape) {
    for (struct tg_fblock *b = tape->fblocks, *n; b; b = n) {
        n = b->next;
        tg__free(b->raw);
    }
    tape->fblocks = tape->fcur = NULL;
    tape->fpos = 0;
}

tg_tensor *tg__promote(tg_tape *tape, tg_tensor *in, double v, bool req) {
    tg_tensor *t = tg__record(tape);
    if (!t) return NULL;
    t->op = TG_OP_PROMOTE;
    t->dtype = TG_F64;
    t->data = &t->small;
    t->small.f64 = v;
    t->in0 = in;
    if (req && tape->grad_enabled) t->flags = TGF_REQ;
    return t;
}

/* Half x's full copy; x becomes its forwarder. */
static bool forward(tg_tape *tape, tg_half *x) {
    tg_tensor *f = fcopy(tape);
    if (!f) return false;
    memset(f, 0, sizeof *f);
    f->tape = tape;
    f->gen = tape->gen;
    f->op = x->op;
    f->dtype = TG_F64;
    f->data = &f->small;
    f->small.f64 = x->v;
    if (x->flags & THF_REQ) f->flags = TGF_REQ;
    if (x->flags & THF_G) {
        f->g0 = x->g;
        f->grad = &f->g0;
    }
    if (x->op == TG_OP_LEAF) { /* no input; the stored gradient stays in the half */
        f->u.gstore = (x->flags & THF_S) ? &x->u.c : NULL;
    } else {
        tg_tensor *a = tg__at_place(tape, x->in0);
        f->in0 = (x->in_half & 1) ? tg__fwd(a) : a; /* an earlier half: forwarded already */
        memcpy(&f->u, &x->u, sizeof f->u);
        if (x->in_half & 2) f->u.in1 = tg__fwd(x->u.in1);
    }
    x->fwd = f;
    x->flags |= THF_FWD;
    return true;
}

bool tg__unhalf(tg_tape *tape) {
    if (!tape->unhalved && tape->nhalf) {
        bool ok = true;
        uint8_t gen = (uint8_t)tape->gen;
        TG__FOR_SLOTS_UP(tape, s, {
            if (!ok) break;
            if (tg__pair(s)) {
                for (int k = 0; k < 2 && ok; k++) {
                    tg_half *x = (tg_half *)s + k;
                    if ((x->flags & THF_HALF) && !(x->flags & THF_FWD) && x->gen == gen)
                        ok = forward(tape, x);
                }
            } else if (s->op == TG_OP_PROMOTE && s->gen == tape->gen) {
                s->in0 = tg__fwd(s->in0);
            }
        })
        if (!ok) return false;
    }
    tape->half_ok = false;
    tape->unhalved = true;
    return true;
}

tg_tensor *tg__live_slow(const tg_tensor *h, tg_half **half) {
    tg_half *x = (tg_half *)tg__rec(h);
    if (!tg__half_there(x)) return NULL;
    tg_tape *tape = tg__half_tape(x);
    if (!tg__half_current(h, x, tape->gen)) return NULL;
    if (x->flags & THF_FWD) return x->fwd;
    if (half) {
        *half = x;
        return NULL;
    }
    return tg__unhalf(tape) ? x->fwd : NULL;
}

tg_tensor *tg__full_slow(const tg_tensor *h) {
    static _Thread_local _Alignas(64) tg_tensor stale; /* a full record by its address */
    tg_half *x = (tg_half *)tg__rec(h);
    tg_tape *tape = tg__half_tape(x);
    if (tg__half_there(x) && tg__half_current(h, x, tape->gen)) {
        if (x->flags & THF_FWD) return x->fwd;
        if (tg__unhalf(tape)) return x->fwd;
    }
    memset(&stale, 0, sizeof stale);
    stale.tape = tape;
    stale.dtype = TG_F64;
    stale.data = &stale.small;
    stale.small.f64 = NAN;
    return &stale;
}

tg_tensor *tg__operand_req(tg_tape **tape, tg_tensor *h, const char *op, int index) {
    bool half = h && tg__is_half(tg__rec(h));
    tg_tensor *o = tg__operand(tape, h, op, index);
    if (o && half && o->op == TG_OP_PROMOTE) {
        const tg_tensor *in = o->in0;
        if (tg__is_half(in) ? (((const tg_half *)in)->flags & THF_REQ) : (in->flags & TGF_REQ))
            o->flags |= TGF_REQ;
    }
    return o;
}
