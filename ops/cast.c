/* cast.c - cast: a tensor in another dtype.
 *
 *   op     out                  d/da
 *   cast   a in another dtype   cast(g, a's dtype)
 *
 * A cast to or from i64 is not differentiated (its output does not
 * require grad); a cast to a's own dtype returns a.
 */
#include "tg_internal.h"
#include "op_common.h"

tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt) {
    tg_tape *tape = tg__check1("cast", &a, false);
    if (!tape) return NULL;
    if (dt != TG_F32 && dt != TG_F64 && dt != TG_I64)
        return tg__fail(tape, TG_ERR_DTYPE, "cast", "unknown dtype %d", (int)dt);
    if (a->dtype == dt) return tg__handle(a);
    tg_tensor *out = tg__out(tape, TG_OP_CAST, dt, a->rank, a->shape, a, NULL, NULL);
    if (!out) return NULL;
    if (!tg__is_float(dt) || !tg__is_float(a->dtype)) out->flags &= (uint8_t)~TGF_REQ;
    int64_t n = tg__numel(a);
#define CONV(TS, TD)                                                           \
    {                                                                          \
        const TS *s = a->data;                                                 \
        TD *d = out->data;                                                     \
        for (int64_t k = 0; k < n; k++) d[k] = (TD)s[k];                       \
    }
    if (a->dtype == TG_F32 && dt == TG_F64) CONV(float, double)
    else if (a->dtype == TG_F64 && dt == TG_F32) CONV(double, float)
    else if (a->dtype == TG_F32) CONV(float, int64_t)
    else if (a->dtype == TG_F64) CONV(double, int64_t)
    else if (dt == TG_F32) CONV(int64_t, float)
    else CONV(int64_t, double)
#undef CONV
    return tg__handle(out);
}

tg_tensor *tg__vjp_cast(tg_tensor *o, tg_tensor *g, int i) {
    (void)i;
    return tg_cast(g, (tg_dtype)o->in0->dtype);
}
