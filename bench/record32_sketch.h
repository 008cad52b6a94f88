/* record32_sketch.h - a sketch of 32-byte scalar records without
 * tapegrad's checks and gradient rules: the floor of one record layout for
 * the extended Rosenbrock pass (rosenbrock_scalar.h), not library code.
 * record32_sketch.c times it against tapegrad's 0-d ops (its header
 * comment says what the sketch is and leaves out);
 * bench_rosenbrock_scalar.c times it beside tapegrad and ADOL-C, so that a
 * run shows where a 32-byte record without tapegrad's semantics stands
 * against the line's target.
 *
 * Unlike tapegrad, a record's gradient is 0 from its making and the sweep
 * steps every record that requires grad, reached or not: an unreached
 * record whose local derivative is inf or NaN would poison its inputs
 * (tapegrad's sweep skips it, and a gradient of -0 keeps its sign). */
#ifndef BENCH_RECORD32_SKETCH_H
#define BENCH_RECORD32_SKETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { S_LEAF, S_ADD, S_SUB, S_MUL, S_MULC, S_RSUBC };
enum { S_REQ = 1 };
#define SLAB_BYTES ((size_t)1 << 21)
#define SLAB_SLOTS ((uint32_t)(SLAB_BYTES / 32))
#define SLAB_FIRST 2u /* slots 0-1: the header */

typedef struct srec {
    double v, g;
    union {
        struct srec *in1;
        double c;
    } u;
    uint32_t in0;
    uint8_t op, flags;
    uint16_t spare;
} srec;
_Static_assert(sizeof(srec) == 32, "a sketch record is 32 bytes");

typedef struct stape {
    uint16_t gen;
    bool grad_enabled;
    bool bad; /* an operand failed its check */
    char **slabs;
    uint32_t nslab, cur, pos;
} stape;

typedef uintptr_t shandle;
#define S_ADDR(h) ((srec *)((h) & (((uintptr_t)1 << 48) - 1)))
#define S_GEN(h) ((uint16_t)((h) >> 48))

typedef struct sheader { /* the first line of every slab */
    stape *tape;
    uint32_t index; /* the slab's place in tape->slabs */
} sheader;

static inline const sheader *s_header(const srec *r) {
    return (const sheader *)((uintptr_t)r & ~(uintptr_t)(SLAB_BYTES - 1));
}
static inline stape *s_tape_of(const srec *r) { return s_header(r)->tape; }
/* A record's index in its tape: slab << 16 | slot. */
static inline uint32_t s_index(const srec *r) {
    return s_header(r)->index << 16 | (uint32_t)((uintptr_t)r & (SLAB_BYTES - 1)) / 32;
}

/* The current slab is full, or there is none yet: the next one, kept from
 * an earlier pass or new. */
static __attribute__((noinline)) srec *s_record_slow(stape *t) {
    if (t->nslab) t->cur++;
    if (t->cur >= t->nslab) {
        char **s = realloc(t->slabs, (t->nslab + 1) * sizeof *s);
        char *m = aligned_alloc(SLAB_BYTES, SLAB_BYTES);
        if (!s || !m) {
            fprintf(stderr, "record32_sketch: out of memory\n");
            exit(1);
        }
        *(sheader *)m = (sheader){t, t->nslab};
        s[t->nslab++] = m;
        t->slabs = s;
    }
    t->pos = SLAB_FIRST;
    return (srec *)t->slabs[t->cur] + t->pos++;
}
static inline srec *s_record(stape *t) {
    if (t->nslab && t->pos < SLAB_SLOTS) return (srec *)t->slabs[t->cur] + t->pos++;
    return s_record_slow(t);
}
static inline srec *s_at(const stape *t, uint32_t i) {
    return (srec *)t->slabs[i >> 16] + (i & 0xffff);
}
static inline shandle s_handle(const stape *t, srec *r) {
    return (uintptr_t)r | (uintptr_t)t->gen << 48;
}

static void s_reset(stape *t) {
    t->gen = (uint16_t)(t->gen + 1 ? t->gen + 1 : 1);
    t->cur = 0;
    t->pos = SLAB_FIRST;
    t->bad = false;
}

static shandle s_leaf(stape *t, double v, bool req) {
    srec *r = s_record(t);
    *r = (srec){.v = v, .op = S_LEAF, .flags = req ? S_REQ : 0};
    return s_handle(t, r);
}

/* The checks of a public op: non-NULL handles of one tape's current pass. */
static inline stape *s_check2(shandle a, shandle b) {
    if (!a || !b) return NULL;
    stape *t = s_tape_of(S_ADDR(a));
    if (S_GEN(a) != t->gen || S_GEN(b) != t->gen || s_tape_of(S_ADDR(b)) != t) {
        t->bad = true;
        return NULL;
    }
    return t;
}

static inline shandle s_binary(int op, shandle a, shandle b) {
    stape *t = s_check2(a, b);
    if (!t) return 0;
    srec *ra = S_ADDR(a), *rb = S_ADDR(b);
    double x = ra->v, y = rb->v;
    double z = op == S_ADD ? x + y : op == S_SUB ? x - y : x * y;
    srec *r = s_record(t);
    *r = (srec){.v = z,
                .u.in1 = rb,
                .in0 = s_index(ra),
                .op = (uint8_t)op,
                .flags = t->grad_enabled ? (uint8_t)((ra->flags | rb->flags) & S_REQ) : 0};
    return s_handle(t, r);
}
static inline shandle s_const_op(int op, shandle a, double c) {
    if (!a) return 0;
    srec *ra = S_ADDR(a);
    stape *t = s_tape_of(ra);
    if (S_GEN(a) != t->gen) {
        t->bad = true;
        return 0;
    }
    double z = op == S_MULC ? ra->v * c : c - ra->v;
    srec *r = s_record(t);
    *r = (srec){.v = z,
                .u.c = c,
                .in0 = s_index(ra),
                .op = (uint8_t)op,
                .flags = t->grad_enabled ? (uint8_t)(ra->flags & S_REQ) : 0};
    return s_handle(t, r);
}

/* The reverse sweep from y, whose gradient is 1. */
static void s_backward(stape *t, shandle y) {
    srec *top = S_ADDR(y);
    top->g = 1;
    for (uint32_t s = t->cur + 1; s-- > 0;) {
        srec *base = (srec *)t->slabs[s] + SLAB_FIRST;
        srec *r = s == t->cur ? top : (srec *)t->slabs[s] + SLAB_SLOTS - 1;
        for (; r >= base; r--) {
            __builtin_prefetch((const void *)((uintptr_t)r - 16 * sizeof *r), 1, 3);
            if (!(r->flags & S_REQ) || r->op == S_LEAF) continue;
            double g = r->g;
            srec *a = s_at(t, r->in0);
            switch (r->op) {
            case S_ADD: a->g += g, r->u.in1->g += g; break;
            case S_SUB: a->g += g, r->u.in1->g -= g; break;
            case S_MUL: a->g += g * r->u.in1->v, r->u.in1->g += g * a->v; break;
            case S_MULC: a->g += g * r->u.c; break;
            case S_RSUBC: a->g -= g; break;
            default: break;
            }
        }
    }
}

static void sketch_pass(stape *t, int n, const double *x0, shandle *x, double *grad) {
    s_reset(t);
    for (int i = 0; i < n; i++) x[i] = s_leaf(t, x0[i], true);
    shandle y = s_leaf(t, 0.0, false);
    for (int i = 0; i < n - 1; i++) {
        shandle t1 = s_binary(S_SUB, x[i + 1], s_binary(S_MUL, x[i], x[i]));
        shandle t2 = s_const_op(S_RSUBC, x[i], 1.0);
        y = s_binary(S_ADD, y, s_binary(S_ADD, s_const_op(S_MULC, s_binary(S_MUL, t1, t1), 100.0),
                                        s_binary(S_MUL, t2, t2)));
    }
    s_backward(t, y);
    for (int i = 0; i < n; i++) grad[i] = S_ADDR(x[i])->g;
}

/* Frees the sketch tape's slabs. */
static void s_free(stape *t) {
    for (uint32_t s = 0; s < t->nslab; s++) free(t->slabs[s]);
    free(t->slabs);
}

#endif /* BENCH_RECORD32_SKETCH_H */
