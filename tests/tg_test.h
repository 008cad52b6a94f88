/* tg_test.h - the few macros every test program uses.
 *
 *   CHECK(cond, fmt, ...)   counts a pass or prints the failure
 *   CHECK_NEAR(a, b, tol)   |a - b| <= tol * (1 + |b|)
 *   TEST_DONE(area)         prints "<area>: N passed, M failed", returns 1 on failure
 *   SKIP_UNLESS_SIMD(area)  returns 77 (skipped) where TG_SIMD names a level
 *                           this CPU or build lacks
 *   OP(name, expr)          a function of inputs x[] returning expr, for
 *                           tg_gradcheck and the reference cases (refcase.h)
 */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tapegrad.h>

static int tg_test_pass, tg_test_fail;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            tg_test_pass++;                                                    \
        } else {                                                               \
            tg_test_fail++;                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                  \
    do {                                                                       \
        double a_ = (a), b_ = (b);                                             \
        CHECK(fabs(a_ - b_) <= (tol) * (1 + fabs(b_)) || (isnan(a_) && isnan(b_)), \
              "%s = %.12g, expected %s = %.12g", #a, a_, #b, b_);              \
    } while (0)

/* The tape must be fine and its error empty. */
#define CHECK_OK(tape) CHECK(tg_tape_ok(tape), "tape error: %s", tg_tape_error(tape))

/* t is NULL and the tape's first error has status s and mentions `needle`. */
#define CHECK_ERR(t, tape, s, needle)                                          \
    do {                                                                       \
        CHECK((t) == NULL, "expected NULL from %s", #t);                       \
        CHECK(tg_tape_status(tape) == (s), "status %s, expected %s (%s)",      \
              tg_status_name(tg_tape_status(tape)), tg_status_name(s),         \
              tg_tape_error(tape));                                            \
        CHECK(strstr(tg_tape_error(tape), (needle)) != NULL,                   \
              "error \"%s\" does not mention \"%s\"", tg_tape_error(tape), (needle)); \
    } while (0)

#define TEST_DONE(area)                                                        \
    (printf("%s: %d passed, %d failed\n", (area), tg_test_pass, tg_test_fail), \
     tg_test_fail ? 1 : 0)

/* TG_SIMD=<level> (the <test>_<level> runs of tests/meson.build): returns
 * 77 (skipped) from the calling function (main) where this CPU or build
 * lacks that level, rather than test a lower one again. */
#define SKIP_UNLESS_SIMD(area)                                                 \
    do {                                                                       \
        const char *want_ = getenv("TG_SIMD");                                 \
        if (want_ && *want_ && strcmp(want_, tg_simd_name(tg_simd_level()))) { \
            printf("%s: %s not supported here (%s is the best), skipped\n",    \
                   (area), want_, tg_simd_name(tg_simd_level()));              \
            return 77;                                                         \
        }                                                                      \
    } while (0)

/* What tg_gradcheck and the reference cases run: a function of the inputs
 * x[] on tape t. OP(f_add, tg_add(x[0], x[1])) defines one. */
typedef tg_gradcheck_fn op_fn;

#define OP(NAME, EXPR)                                                         \
    static tg_tensor *NAME(tg_tape *t, tg_tensor *const *x, void *ud) {       \
        (void)t, (void)ud;                                                     \
        return EXPR;                                                           \
    }

#endif
