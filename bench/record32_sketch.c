/* record32_sketch.c - what 32-byte scalar records would buy: a measured
 * sketch for the design decision of issue 18 (rosenbrock_scalar,
 * "<= 32 B per recorded op"), not library code. The decision was taken
 * (tapegrad's scalar code records 32-byte halves since 2026-12-03:
 * tg_engine.h, "compact scalar records"); the sketch stays as the floor
 * of one layout without tapegrad's checks, which bench/README.md
 * ("rosenbrock_scalar: the record size") compares tapegrad against.
 *
 * When the sketch was written, tapegrad's record was 64 bytes for every
 * tensor (autograd/core/tg_engine.h): tape pointer, pass,
 * op/dtype/rank/flags, data and gradient pointers, shape, two inputs, the
 * inline value. A 0-d f64 record needs less:
 *
 *     value 8 | gradient 8 | second input or constant 8 | first input 4 | op 1 | flags 1 | 2 spare
 *
 * - the first input is a 32-bit index into the tape (slab << 16 | slot),
 *   resolved through the tape's slab table during the sweep;
 * - the tape is found from the record's address: slabs are 2 MiB, aligned
 *   to 2 MiB, with the tape pointer in a header of one 64-byte line;
 * - the pass (stale-handle check) moves from the record into the handle's
 *   high 16 bits (x86-64 and AArch64 user addresses fit in 48), so a handle
 *   is checked against the tape's pass, and one set of slabs serves every
 *   pass (today two sets alternate);
 * - the gradient starts at 0 when the record is made (a store the record
 *   makes anyway), so the sweep adds without testing.
 *
 * This program runs the extended Rosenbrock gradient of
 * bench_rosenbrock_scalar.c (n = 1e6, 8 recorded ops per term) once with
 * tapegrad's 0-d ops and once on the sketch's records, with the same checks
 * a public op makes on its operands (NULL, same tape, current pass,
 * requires-grad, recording on), alternating, medians of RUNS each, and
 * checks both gradients against the hand-written one.
 *
 *     build-perfbench/bench/record32_sketch [n]
 *
 * prints: record32_sketch: tapegrad <s> s (<B> B/op), sketch <s> s (32 B/op), ratio <r>
 * What the sketch leaves out, and a real change would need: every other
 * dtype and rank (a 0-d record handed to a tensor op must be readable as a
 * tg_tensor: a promotion record, or an accessor layer over both layouts),
 * marks and rollback (the handle's pass no longer tells a rolled-back slot),
 * names, hooks and the inspector, parameters. */
#include <tapegrad.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "rosenbrock_scalar.h"

enum { RUNS = 9 };

/* ------------------------------------------------------------ the sketch */

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
        if (!s || !m) abort();
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

/* ---------------------------------------------------------- the two passes */

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

static double tg_pass(tg_tape *tape, int n, const double *x0, tg_tensor **x, double *grad,
                      double *bytes_per_op) {
    tg_tape_reset(tape);
    return rosen_tg_pass(tape, n, x0, x, grad, bytes_per_op);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    if (n < 2) return 1;
    double *x0 = malloc((size_t)n * sizeof *x0), *g = malloc((size_t)n * sizeof *g);
    tg_tensor **xt = malloc((size_t)n * sizeof *xt);
    shandle *xs = malloc((size_t)n * sizeof *xs);
    if (!x0 || !g || !xt || !xs) return 1;
    for (int i = 0; i < n; i++) x0[i] = 0.5 + 0.4 * sin(i);
    tg_tape *tape = tg_tape_new();
    stape st = {.grad_enabled = true};
    double tt[RUNS], ts[RUNS], bpo = 0, e_tg = 0, e_s = 0;
    for (int r = -2; r < RUNS; r++) { /* two warm-up passes each: page the slabs in */
        double t0 = bench_now();
        tg_pass(tape, n, x0, xt, g, &bpo);
        double t1 = bench_now();
        e_tg = rosen_grad_error(n, x0, g);
        double t2 = bench_now();
        sketch_pass(&st, n, x0, xs, g);
        double t3 = bench_now();
        e_s = rosen_grad_error(n, x0, g);
        if (r >= 0) tt[r] = t1 - t0, ts[r] = t3 - t2;
    }
    double a = bench_median(tt, RUNS), b = bench_median(ts, RUNS);
    printf("record32_sketch: tapegrad %.4f s (%.0f B/op), sketch %.4f s (32 B/op), ratio %.3f\n",
           a, bpo, b, b / a);
    fprintf(stderr, "# record32_sketch: gradient error: tapegrad %.2g, sketch %.2g%s\n", e_tg,
            e_s, st.bad ? " (an operand check failed)" : "");
    bool ok = tg_tape_ok(tape) && !st.bad && e_tg <= 1e-12 && e_s <= 1e-12;
    tg_tape_free(tape);
    for (uint32_t s = 0; s < st.nslab; s++) free(st.slabs[s]);
    free(st.slabs), free(x0), free(g), free(xt), free(xs);
    return !ok;
}
