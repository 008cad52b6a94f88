/* test_bad.c - a test-only op with a deliberately wrong fast backward.
 *
 * test_bad(a) = a * a, whose fast backward is deliberately wrong (g * a
 * instead of 2 g a) while its graph backward is right: tests/test_inspect.c
 * shows that tg_gradcheck catches the broken one. Not public.
 */
#include "tg_sweep.h"

tg_tensor *tg__test_bad(tg_tensor *a) {
    tg_tensor *in[1] = {a};
    tg_tape *tape = tg__check("test_bad", 1, in, true);
    if (!tape) return NULL;
    a = in[0];
    tg_tensor *out = tg__out(tape, TG_OP_TEST_BAD, a->dtype, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    int64_t n = tg__numel(a);
    for (int64_t i = 0; i < n; i++) {
        if (a->dtype == TG_F32) ((float *)out->data)[i] = ((float *)a->data)[i] * ((float *)a->data)[i];
        else ((double *)out->data)[i] = ((double *)a->data)[i] * ((double *)a->data)[i];
    }
    return tg__handle(out);
}

bool tg__bw_test_bad(tg_tensor *o) {
    tg_tensor *a = o->in0;
    void *ga = tg__gacc(a);
    if (!ga) return false;
    int64_t n = tg__numel(a);
    for (int64_t i = 0; i < n; i++) { /* WRONG on purpose: should be 2 g a */
        if (a->dtype == TG_F32)
            ((float *)ga)[i] += ((float *)o->grad)[i] * ((float *)a->data)[i];
        else
            ((double *)ga)[i] += ((double *)o->grad)[i] * ((double *)a->data)[i];
    }
    return true;
}

tg_tensor *tg__vjp_test_bad(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_mul(g, tg_mul_scalar(o->in0, 2.0));
}
