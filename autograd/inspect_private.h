/* inspect_private.h - what the inspection files share (not installed):
 * the tape's extension and its table of named and hooked tensors
 * (inspect.c), and the text writers that printing, DOT, the backward trace
 * and anomaly messages use (inspect_print.c). The sweep's side, trace and
 * anomaly mode, is in inspect_sweep.c.
 */
#ifndef TG_INSPECT_PRIVATE_H
#define TG_INSPECT_PRIVATE_H

#include "tg_sweep.h"

#include <stdio.h>

/* ------------------------------------------------ extension (inspect.c) */

typedef struct ient {          /* one named or hooked tape tensor */
    const tg_tensor *t;        /* NULL: free slot */
    tg_grad_hook hook;
    void *ud;
    char name[TG_NAME_MAX];
} ient;

struct tg_tape_ext {
    uint32_t gen;              /* the pass the entries below belong to */
    ient *tab;                 /* open addressing, cap a power of two */
    size_t cap, n, nhooks;
    size_t nphooks;            /* proxies of hooked parameters in this pass */
    bool anomaly;
    FILE *trace;
    /* forward anomaly check: the first record not yet checked */
    uint32_t scan_gen;
    int scan_slab;
    size_t scan_pos, scan_idx;
    /* trace: the sweep's output, L in dL/d... */
    const tg_tensor *out;
};

/* The tape's extension, made on first use and emptied of the last pass's
 * entries on a new one (NULL on OOM, recorded against `op`). */
struct tg_tape_ext *tg__tape_ext(tg_tape *tape, const char *op);
/* The entry of t in this pass, or NULL. */
ient *tg__ext_find(const tg_tape *tape, const tg_tensor *t);

/* A live parameter behind t (t itself or the one a proxy stands for). */
static inline tg_tensor *param_of(const tg_tensor *t) {
    tg_tensor *p = NULL;
    if (t->flags & TGF_PARAM) p = (tg_tensor *)t;
    else if (t->op == TG_OP_PROXY) p = t->u.param;
    return p && (p->flags & TGF_PARAM) ? p : NULL;
}

/* A failure of an inspection function that records nothing on a tape:
 * its sentence goes to the thread's last error (the error rule of
 * tapegrad.h; a NULL keeps an earlier failure's sentence), and s is
 * returned. */
tg_status tg__qfail(tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Whether handle h (not NULL) is stale (tg_engine.h: handles). */
static inline bool stale(const tg_tensor *h) {
    const tg_tensor *t = tg__full(h);
    return !(t->flags & TGF_PARAM) && !tg__current(h, t, t->tape->gen);
}

/* ---------------------------------------------- writing (inspect_print.c) */

/* Text goes to a FILE or into a buffer (snprintf semantics). */
typedef struct sink {
    FILE *f;
    char *buf;
    size_t cap, len;
    bool err;
} sink;

void tg__put(sink *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* One number: %.6g, with NaN and Inf spelled the same on every libc. */
void tg__put_num(sink *s, double v);
/* A value: scalars in full, up to 6 elements listed, larger tensors as
 * min/mean/max and the first 4 values. */
void tg__put_values(sink *s, int dt, int rank, const int64_t *shape, const void *data);

/* Appends to a fixed buffer, cutting at its end. */
void tg__app(char *b, size_t n, size_t *k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static inline double elem(int dt, const void *d, int64_t i) {
    switch (dt) {
    case TG_F32: return ((const float *)d)[i];
    case TG_F64: return ((const double *)d)[i];
    default: return (double)((const int64_t *)d)[i];
    }
}

/* The index of record t on the current pass, or -1. */
int64_t tg__rec_index(const tg_tape *tape, const tg_tensor *t);
/* "x" or "#3" (how the trace names a value). */
const char *tg__label(const tg_tape *tape, const tg_tensor *t, char *b, size_t n);
/* "#3 x" or "#3" (how an input is referred to), appended as tg__app. */
void tg__app_ref(const tg_tape *tape, const tg_tensor *t, char *b, size_t n, size_t *k);
/* The inputs of r, at most `max` (*more: r has more). */
int tg__inputs_of(const tg_tensor *r, tg_tensor **in, int max, bool *more);

/* "#2 z = mul(#0 x, #1 y)": record r, number idx, as printed (at most
 * LHS_MAX bytes). */
enum { LHS_MAX = 160 };
void tg__lhs_text(const tg_tape *tape, const tg_tensor *r, size_t idx, char *b, size_t n);

/* ------------------------------------ chain-rule steps (inspect_sweep.c) */

/* One step of the chain rule at record r, for its input `in` (position i):
 * c = g * loc, added to in's gradient. g is dL/dr (complete), loc the local
 * derivative dr/din (only when r and in are scalars, else NULL), c what the
 * op's backward gives in. Tensors over the tape, valid during the call. */
typedef struct tg__step {
    int i;
    const tg_tensor *in, *g, *loc, *c;
} tg__step;
/* Called once per step; st NULL: r has more than 16 inputs (not traced).
 * Returns false to stop. */
typedef bool (*tg__step_fn)(void *ud, tg_tensor *r, const tg__step *st);
/* Computes r's steps (r's working gradient complete) and passes each to
 * fn; false on failure (an error on the tape) or when fn stops. */
bool tg__trace_steps(tg_tape *tape, tg_tensor *r, tg__step_fn fn, void *ud);
/* "L" when t is out (the sweep's output), else tg__label's text. */
const char *tg__glabel(const tg_tape *tape, const tg_tensor *out, const tg_tensor *t, char *b,
                       size_t n);
/* A step as one line of the trace, without indent or newline:
 *     dL/dh += dL/d#6 (-3.2703) * d#6/d#5 (1) = -3.2703
 * (r is record number idx; tensors: "... through matmul = [2,4] (...)"). */
void tg__step_text(sink *s, const tg_tape *tape, const tg_tensor *out, const tg_tensor *r,
                   size_t idx, const tg__step *st);

#endif /* TG_INSPECT_PRIVATE_H */
