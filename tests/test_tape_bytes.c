/* test_tape_bytes.c - the tape's memory counters (tg_core.h):
 * tg_tape_bytes, tg_tape_bytes_peak, tg_tape_reset_peak, tg_tape_bytes_held. */
#include "tg_test.h"

int main(void) {
    CHECK(tg_tape_bytes_peak(NULL) == 0 && tg_tape_bytes_held(NULL) == 0, "NULL tape");
    tg_tape_reset_peak(NULL); /* a no-op */
    tg_tape *t = tg_tape_new();
    CHECK(tg_tape_bytes(t) == 0 && tg_tape_bytes_peak(t) == 0, "a new tape uses nothing");
    size_t held0 = tg_tape_bytes_held(t);
    CHECK(held0 > 0, "a new tape holds its own record");

    /* a pass: 3 records of 64 bytes, two [100] f64 buffers, then the sweep's
     * gradient buffers */
    tg_tensor *a = tg_requires_grad(tg_full(t, TG_F64, TG_SHAPE(100), 2.0));
    tg_tensor *b = tg_mul(a, a);
    size_t fwd = tg_tape_bytes(t);
    CHECK(fwd == 2 * 64 + 2 * 800, "bytes after two [100] tensors: %zu", fwd);
    CHECK(tg_tape_bytes_peak(t) == fwd, "peak %zu = bytes %zu", tg_tape_bytes_peak(t), fwd);
    tg_tensor *l = tg_sum(b);
    CHECK(tg_backward(l) == TG_OK, "%s", tg_tape_error(t));
    size_t big = tg_tape_bytes(t);
    /* + the sum's record (its 0-d value is inline) + gradient buffers of a, b */
    CHECK(big == fwd + 64 + 2 * 800, "backward's gradient buffers count: %zu", big);
    CHECK(tg_tape_bytes_peak(t) == big, "peak follows the sweep");
    CHECK(tg_tape_bytes_held(t) >= big, "held %zu >= in use %zu", tg_tape_bytes_held(t), big);

    /* a reset keeps the peak; a smaller pass does not lower it */
    tg_tape_reset(t);
    CHECK(tg_tape_bytes(t) == 0, "bytes after reset: %zu", tg_tape_bytes(t));
    CHECK(tg_tape_bytes_peak(t) == big, "peak after reset: %zu, expected %zu",
          tg_tape_bytes_peak(t), big);
    tg_scalar(t, 1.0); /* a half record (32 bytes): tg_scalar's leaves are scalar code's */
    CHECK(tg_tape_bytes(t) == 32 && tg_tape_bytes_peak(t) == big, "a smaller pass");
    size_t held = tg_tape_bytes_held(t);
    CHECK(held >= big, "held across the reset: %zu", held);

    /* tg_tape_reset_peak starts over from what is in use now */
    tg_tape_reset_peak(t);
    CHECK(tg_tape_bytes_peak(t) == 32, "peak after reset_peak: %zu", tg_tape_bytes_peak(t));
    tg_zeros(t, TG_F32, TG_SHAPE(1000)); /* a full record and its data */
    CHECK(tg_tape_bytes_peak(t) == 32 + 64 + 4000, "new peak: %zu", tg_tape_bytes_peak(t));

    /* a long scalar pass: 32 bytes a record (half records, the leaf's too),
     * nothing else; held follows */
    tg_tape_reset(t);
    tg_tape_reset_peak(t);
    tg_tensor *x = tg_requires_grad(tg_scalar(t, 1.0));
    for (int i = 0; i < 100000; i++) x = tg_mul_scalar(x, 1.0);
    CHECK(tg_tape_bytes(t) == 100001 * 32, "scalar pass: %zu bytes", tg_tape_bytes(t));
    CHECK(tg_tape_count(t) == 100001, "one record an op: %zu", tg_tape_count(t));
    /* the sweep (from a half: no record made) adds nothing: the leaf keeps
     * its stored gradient in its own record */
    CHECK(tg_backward(x) == TG_OK && tg_tape_bytes_peak(t) == 100001 * 32,
          "a scalar sweep adds nothing: peak %zu", tg_tape_bytes_peak(t));
    CHECK(tg_tape_count(t) == 100001, "the sweep makes no record: %zu", tg_tape_count(t));
    CHECK(tg_grad_item(x) == 1.0, "the seed: %g", tg_grad_item(x));
    CHECK(tg_tape_bytes_held(t) >= 100001 * 32, "held %zu", tg_tape_bytes_held(t));
    tg_tape_free(t);
    return TEST_DONE("tape_bytes");
}
