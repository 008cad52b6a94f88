/* dropout.c - dropout, the only op that draws random numbers.
 *
 *   op       out                                  d/da
 *   dropout  a * mask, mask in {0, 1/(1-p)}       g * mask (the mask is a
 *                                                 constant leaf)
 *
 * Not a record of its own: a mask leaf drawn from the caller's tg_rng and
 * one tg_mul, so every order of derivative comes from mul. In eval mode
 * (or with p == 0) it returns a itself.
 */
#include "tg_internal.h"
#include "op_common.h"

tg_tensor *tg_dropout(tg_tensor *a, double p, bool training, tg_rng *rng) {
    tg_tape *tape = tg__check1("dropout", &a, true);
    if (!tape) return NULL;
    char b[160];
    if (!(p >= 0 && p <= 1))
        return tg__fail(tape, TG_ERR_ARG, "dropout", "p = %g is outside [0, 1] (input %s)", p,
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    if (!training || p == 0) return tg__handle(a);
    if (!rng && p < 1)
        return tg__fail(tape, TG_ERR_NULL, "dropout", "rng is NULL (input %s)",
                        tg__shape_str(b, sizeof b, a->rank, a->shape));
    tg_tensor *mask = tg__wrap(tape, a->dtype, a->rank, a->shape, NULL);
    if (!mask) return NULL;
    int64_t n = tg__numel(a);
    double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    /* keep when a uniform draw in [0, 1) is >= p: P(keep) = 1 - p exactly
     * up to the 2^-53 grid; the comparison is done on the integer bits */
    uint64_t thresh = p < 1 ? (uint64_t)(p * 0x1.0p53) : 0;
    if (a->dtype == TG_F32) {
        float *m = mask->data, s = (float)scale;
        for (int64_t k = 0; k < n; k++) m[k] = p < 1 && (tg_rng_next(rng) >> 11) >= thresh ? s : 0;
    } else {
        double *m = mask->data;
        for (int64_t k = 0; k < n; k++)
            m[k] = p < 1 && (tg_rng_next(rng) >> 11) >= thresh ? scale : 0;
    }
    return tg_mul(a, mask);
}
