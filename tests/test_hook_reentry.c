/* test_hook_reentry.c - calls from a gradient hook back into the sweep that
 * runs it. A hook that resets or frees the tape being swept, or starts a
 * second sweep of it, is refused with TG_ERR_STATE and a sentence; the
 * sweep stops there and leaves the tape whole (tg_inspect.h). The tapes are
 * large (several record slabs) and the one reset from a hook had a shorter
 * pass before, so the old sweep, reading the swapped-in slabs, ran off
 * their end (ASan: heap-buffer-overflow; without it, a crash or garbage). */
#include "tg_test.h"

enum { CHAIN = 20000 }; /* records: past the first slabs (1024, 2048, ...) */

typedef enum { DO_RESET, DO_FREE, DO_BACKWARD, DO_GRAD, DO_OTHER_RESET } what;

typedef struct ctx {
    what w;
    tg_tape *tape, *other;
    tg_tensor *loss, *x;
    tg_status inner; /* what the nested call returned, where it returns one */
    int calls;
} ctx;

static tg_tensor *hook(tg_tensor *t, tg_tensor *grad, void *ud) {
    (void)t;
    ctx *c = ud;
    c->calls++;
    switch (c->w) {
    case DO_RESET: tg_tape_reset(c->tape); break;
    case DO_FREE: tg_tape_free(c->tape); break;
    case DO_BACKWARD: c->inner = tg_backward(c->loss); break;
    case DO_GRAD: {
        tg_tensor *g = NULL;
        c->inner = tg_grad(c->loss, NULL, 1, &c->x, &g, 0);
        break;
    }
    case DO_OTHER_RESET: tg_tape_reset(c->other); break;
    }
    return grad;
}

/* loss = sum of a long chain of scalar ops on x; the hook sits on a record
 * in the middle, so the sweep has far to go after it. */
static tg_tensor *chain(tg_tape *t, tg_tensor **x, tg_tensor **mid) {
    *x = tg_requires_grad(tg_scalar(t, 0.5));
    tg_tensor *y = *x;
    for (int i = 0; i < CHAIN; i++) {
        y = tg_add_scalar(tg_mul_scalar(y, 0.999), 0.001);
        if (i == CHAIN / 2) *mid = y;
    }
    return y;
}

static void run(what w, const char *needle) {
    tg_tape *t = tg_tape_new(), *other = tg_tape_new();
    /* a short pass first: after a reset, these are the slabs in use */
    tg_tensor *a = tg_requires_grad(tg_scalar(t, 1.0));
    CHECK(tg_backward(tg_mul(a, a)) == TG_OK, "short pass");
    tg_tape_reset(t);
    (void)tg_scalar(other, 1.0);

    ctx c = {w, t, other, NULL, NULL, TG_OK, 0};
    tg_tensor *mid = NULL;
    c.loss = chain(t, &c.x, &mid);
    size_t records = tg_tape_count(t);
    CHECK(tg_tensor_set_hook(mid, hook, &c) == mid, "hook set: %s", tg_tape_error(t));
    tg_status st = tg_backward(c.loss);
    CHECK(c.calls == 1, "case %d: the hook ran %d times", (int)w, c.calls);
    if (w == DO_OTHER_RESET) {
        /* another tape: allowed, and the sweep completes */
        CHECK(st == TG_OK, "resetting another tape from a hook: %s", tg_tape_error(t));
        CHECK(tg_tensor_grad(c.x) != NULL, "x has its gradient");
    } else {
        CHECK(st == TG_ERR_STATE, "case %d: tg_backward returned %s, expected state (%s)",
              (int)w, tg_status_name(st), tg_tape_error(t));
        CHECK(strstr(tg_tape_error(t), needle) && strstr(tg_tape_error(t), "hook"),
              "case %d: error \"%s\" does not name \"%s\" and the hook", (int)w,
              tg_tape_error(t), needle);
        if (w == DO_BACKWARD || w == DO_GRAD)
            CHECK(c.inner == TG_ERR_STATE, "the nested call returned %s",
                  tg_status_name(c.inner));
        /* the tape is whole: same records, its values readable */
        CHECK(tg_tape_count(t) >= records, "records %zu, were %zu", tg_tape_count(t), records);
        CHECK(fabs(tg_item(c.loss) - tg_item(c.loss)) == 0, "the loss reads");
        CHECK(tg_item(c.x) == 0.5, "x is still x");
    }
    /* after a reset the tape works again */
    tg_tape_reset(t);
    CHECK_OK(t);
    tg_tensor *b = tg_requires_grad(tg_scalar(t, 3.0));
    CHECK(tg_backward(tg_mul(b, b)) == TG_OK && tg_grad_item(b) == 6.0, "after: %s",
          tg_tape_error(t));
    tg_tape_free(t);
    tg_tape_free(other);
}

int main(void) {
    run(DO_RESET, "tape_reset: refused");
    run(DO_FREE, "tape_free: refused");
    run(DO_BACKWARD, "backward: refused");
    run(DO_GRAD, "grad: refused");
    run(DO_OTHER_RESET, "");
    return TEST_DONE("hook_reentry");
}
