/* inspect.c - names and gradient hooks of tensors, and the tape's
 * extension that holds them.
 *
 * All of inspection lives in the tape's extension (struct tg_tape_ext,
 * inspect_private.h), allocated the first time a tape uses any of it, so a
 * tape that never does pays nothing. Names and hooks of tape tensors are
 * kept in a small hash table keyed by the record's address and tagged with
 * the tape's generation: a reset makes them disappear without any work in
 * tg_tape_reset. A parameter keeps its name and hook in its own
 * tg_param_ext.
 *
 * Printing and DOT are in inspect_print.c; what the backward sweep calls
 * (running hooks, the trace, anomaly mode) in inspect_sweep.c.
 */
#include "inspect_private.h"

/* ------------------------------------------------------------ extension */

/* The core stores names and hooks of parameters in their records, with
 * its own copies of these types: they must agree. */
_Static_assert(TG_NAME_MAX == TG__NAME_MAX, "tg_inspect.h and tg_engine.h disagree on names");

/* tg_tape_free calls this through tape->ext_free. */
static void tape_ext_free(tg_tape *tape) {
    if (!tape || !tape->ext) return;
    tg__free(tape->ext->tab);
    tg__free(tape->ext);
    tape->ext = NULL;
}

struct tg_tape_ext *tg__tape_ext(tg_tape *tape, const char *op) {
    if (!tape->ext) {
        tape->ext = tg__calloc(1, sizeof *tape->ext);
        if (!tape->ext) return tg__fail(tape, TG_ERR_NOMEM, op, "out of memory");
        tape->ext_free = tape_ext_free;
    }
    /* inspection reads records in full, and keys its table by them: the
     * pass's halves get their full copies, and the tape makes no more
     * (tape.c, half.c) */
    if (!tg__unhalf(tape)) return NULL;
    struct tg_tape_ext *e = tape->ext;
    if (e->gen != tape->gen) { /* a new pass: forget the last one's entries */
        if (e->tab) memset(e->tab, 0, e->cap * sizeof *e->tab);
        e->n = e->nhooks = e->nphooks = 0;
        e->gen = tape->gen;
    }
    return e;
}

static size_t hslot(const tg_tensor *t, size_t cap) {
    uint64_t h = (uint64_t)(uintptr_t)t >> 6; /* records are 64-byte slots */
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

ient *tg__ext_find(const tg_tape *tape, const tg_tensor *t) {
    const struct tg_tape_ext *e = tape->ext;
    if (!e || e->gen != tape->gen || !e->n) return NULL;
    for (size_t i = hslot(t, e->cap);; i = (i + 1) & (e->cap - 1)) {
        if (e->tab[i].t == t) return &e->tab[i];
        if (!e->tab[i].t) return NULL;
    }
}

/* t's entry, made if needed (NULL on OOM, recorded). */
static ient *entry(tg_tape *tape, const tg_tensor *t, const char *op) {
    struct tg_tape_ext *e = tg__tape_ext(tape, op);
    if (!e) return NULL;
    ient *x = tg__ext_find(tape, t);
    if (x) return x;
    if (2 * (e->n + 1) > e->cap) { /* grow: rehash into a table twice as big */
        size_t cap = e->cap ? 2 * e->cap : 16;
        ient *tab = tg__calloc(cap, sizeof *tab);
        if (!tab) return tg__fail(tape, TG_ERR_NOMEM, op, "out of memory");
        for (size_t i = 0; i < e->cap; i++) {
            if (!e->tab[i].t) continue;
            size_t j = hslot(e->tab[i].t, cap);
            while (tab[j].t) j = (j + 1) & (cap - 1);
            tab[j] = e->tab[i];
        }
        tg__free(e->tab);
        e->tab = tab;
        e->cap = cap;
    }
    size_t i = hslot(t, e->cap);
    while (e->tab[i].t) i = (i + 1) & (e->cap - 1);
    e->tab[i].t = t;
    e->n++;
    return &e->tab[i];
}

/* ---------------------------------------------------------------- names */

tg_tensor *tg_tensor_set_name(tg_tensor *h, const char *name) {
    tg_tensor *t = tg__full(h);
    if (!t) return NULL;
    if (stale(h))
        return tg__fail(t->tape, TG_ERR_STALE, "set_name",
                        "the tensor is stale (made before the last tg_tape_reset)");
    char *dst;
    tg_tensor *p = param_of(t);
    if (p) {
        dst = p->small.pext->name;
    } else {
        if (!name || !name[0]) { /* removing needs no entry */
            ient *x = tg__ext_find(t->tape, t);
            if (x) x->name[0] = 0;
            return tg__handle(h);
        }
        ient *x = entry(t->tape, t, "set_name");
        if (!x) return NULL;
        dst = x->name;
    }
    size_t k = 0;
    if (name)
        for (; name[k] && k + 1 < TG_NAME_MAX; k++) dst[k] = name[k];
    dst[k] = 0;
    return tg__handle(h);
}

const char *tg_tensor_name(const tg_tensor *h) {
    const tg_tensor *t = tg__full(h);
    if (!t) return NULL;
    tg_tensor *p = param_of(t);
    if (p) return p->small.pext->name[0] ? p->small.pext->name : NULL;
    if (stale(h)) return NULL;
    const ient *x = tg__ext_find(t->tape, t);
    return x && x->name[0] ? x->name : NULL;
}

/* ---------------------------------------------------------------- hooks */

/* A parameter with a hook got a proxy on `tape` (the core calls this
 * through the parameter's hook_proxy): the sweep must run the hook. */
static void param_hook(tg_tape *tape) {
    struct tg_tape_ext *e = tg__tape_ext(tape, "param");
    if (e) e->nphooks++;
}

tg_tensor *tg_tensor_set_hook(tg_tensor *h, tg_grad_hook fn, void *ud) {
    tg_tensor *t = tg__full(h);
    if (!t) return NULL;
    if (t->flags & TGF_PARAM) {
        if (!(t->flags & TGF_REQ)) return NULL; /* a parameter's gradient record */
        t->small.pext->hook = fn;
        t->small.pext->hook_ud = ud;
        t->small.pext->hook_proxy = param_hook;
        return t;
    }
    tg_tape *tape = t->tape;
    if (stale(h))
        return tg__fail(tape, TG_ERR_STALE, "set_hook",
                        "the tensor is stale (made before the last tg_tape_reset)");
    if (!(t->flags & TGF_REQ))
        return tg__fail(tape, TG_ERR_STATE, "set_hook",
                        "the tensor does not require grad, so no gradient reaches it");
    tg_tensor *p = param_of(t);
    if (p) { /* a proxy: the hook belongs to the parameter */
        p->small.pext->hook = fn;
        p->small.pext->hook_ud = ud;
        p->small.pext->hook_proxy = param_hook;
        if (fn) param_hook(tape);
        return tape->status == TG_OK || fn == NULL ? tg__handle(h) : NULL;
    }
    ient *x = fn ? entry(tape, t, "set_hook") : tg__ext_find(tape, t);
    if (!x) return fn ? NULL : tg__handle(h);
    if (!x->hook && fn) tape->ext->nhooks++;
    if (x->hook && !fn) tape->ext->nhooks--;
    x->hook = fn;
    x->ud = ud;
    return tg__handle(h);
}



/* Empties slot i of the table and moves later entries of its probe run
 * back where their own slot allows (deletion in linear probing). */
static void ext_delete(struct tg_tape_ext *e, size_t i) {
    size_t mask = e->cap - 1;
    memset(&e->tab[i], 0, sizeof e->tab[i]);
    for (size_t j = (i + 1) & mask; e->tab[j].t; j = (j + 1) & mask) {
        size_t k = hslot(e->tab[j].t, e->cap);
        bool stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (stays) continue;
        e->tab[i] = e->tab[j];
        memset(&e->tab[j], 0, sizeof e->tab[j]);
        i = j;
    }
}

void tg__inspect_forget_since(tg_tape *tape, const tg_mark *m) {
    struct tg_tape_ext *e = tape->ext;
    if (!e || e->gen != tape->gen || !e->n) return;
    for (size_t s = 0; s < e->cap;) {
        if (!e->tab[s].t || !tg__since(tape, m, e->tab[s].t)) {
            s++;
            continue;
        }
        if (e->tab[s].hook) e->nhooks--;
        e->n--;
        ext_delete(e, s); /* slot s may hold a moved entry now: look again */
    }
}
