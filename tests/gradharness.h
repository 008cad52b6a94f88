/* gradharness.h - the gradient check that the grad test programs
 * (test_grad_*.c, test_higher.c) share: input shapes, inputs drawn from a
 * seeded rng, and tg_gradcheck counted as one CHECK.
 *
 *   shape, S0 .. S4      an input shape: S2(3, 4) is [3,4]
 *   gc_inputs(...)       f64 inputs uniform in [lo, hi] (the last one i64 if idx)
 *   gc_check_in(...)     tg_gradcheck on given inputs: one CHECK
 *   gc_check(...)        both, on a tape of its own
 *   gc_step              the central-difference step, 1e-6; a check through
 *                        f32 widens it around the call
 */
#ifndef TG_GRADHARNESS_H
#define TG_GRADHARNESS_H

#include "tg_test.h"

typedef struct shape {
    int rank;
    int64_t d[4];
} shape;

#define S0 {0, {0}}
#define S1(a) {1, {a}}
#define S2(a, b) {2, {a, b}}
#define S3(a, b, c) {3, {a, b, c}}
#define S4(a, b, c, d) {4, {a, b, c, d}}

static double gc_step = 1e-6;

/* in[0..n) on tape, in order: f64 uniform in [lo, hi] from an rng seeded
 * with seed; with idx, the last input is i64 holding idx instead. */
static inline void gc_inputs(tg_tape *tape, uint64_t seed, int n, const shape *shapes, double lo,
                             double hi, const int64_t *idx, tg_tensor **in) {
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        if (idx && i == n - 1)
            in[i] = tg_tensor_new(tape, TG_I64, shapes[i].rank, shapes[i].d, idx);
        else
            in[i] = tg_rand_uniform(tape, TG_F64, shapes[i].rank, shapes[i].d, &rng, lo, hi);
    }
}

/* tg_gradcheck of f(in): both backward paths, and second derivatives if
 * second; atol 1e-6, rtol 1e-4. A failure names the check and the first
 * input's shape. */
static inline bool gc_check_in(const char *name, op_fn f, void *ud, int n, tg_tensor *const *in,
                               bool second) {
    tg_gradcheck_opts o = {gc_step, 1e-6, 1e-4, 99, true, second};
    tg_gradcheck_report rep;
    bool ok = tg_gradcheck(f, ud, n, in, &o, &rep);
    char b[64];
    CHECK(ok, "%s on %s...: %s", name, tg_tensor_shape_str(in[0], b, sizeof b), rep.msg);
    return ok;
}

/* gc_check_in on inputs from gc_inputs (at most 4), freed after. */
static inline bool gc_check(const char *name, op_fn f, void *ud, int n, const shape *shapes,
                            uint64_t seed, double lo, double hi, const int64_t *idx, bool second) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *in[4];
    gc_inputs(tape, seed, n, shapes, lo, hi, idx, in);
    bool ok = gc_check_in(name, f, ud, n, in, second);
    tg_tape_free(tape);
    return ok;
}

#endif
