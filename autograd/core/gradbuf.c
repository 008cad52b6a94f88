/* gradbuf.c - working gradient buffers of a numeric sweep.
 *
 * The reverse sweep (autograd/backward.c) and every op's fast backward
 * (ops/) add into these: tg__gacc gives an input's buffer, zeroed on first
 * use, in the tape's data arena; a 0-d tensor keeps its gradient inline in
 * its record (g0), so scalar code touches no arena.
 */
#include "tg_engine.h"

/* The first gradient buffer of t in this sweep, zeroed (tg__gacc calls
 * this only when t requires grad and has none yet). */
void *tg__gacc_new(tg_tensor *t) {
    if (t->rank == 0) {
        t->g0 = 0; /* f32 or f64: 8 zero bytes, inline in the record */
        return t->grad = &t->g0;
    }
    size_t n = (size_t)tg__numel(t) * tg__esize(t->dtype);
    t->grad = tg__arena(t->tape, n, "backward");
    if (t->grad) memset(t->grad, 0, n);
    return t->grad;
}

void *tg__gacc_new_raw(tg_tensor *t) {
    if (t->rank == 0) return t->grad = &t->g0;
    size_t n = (size_t)tg__numel(t) * tg__esize(t->dtype);
    t->grad = tg__arena(t->tape, n, "backward");
    return t->grad;
}

typedef struct add_job {
    int dt;
    void *dst;
    const void *src;
} add_job;

static void add_range(void *ctx, int64_t lo, int64_t hi) {
    const add_job *j = ctx;
    if (j->dt == TG_F32) {
        float *restrict d = (float *)j->dst + lo;
        const float *restrict s = (const float *)j->src + lo;
        for (int64_t i = 0; i < hi - lo; i++) d[i] += s[i];
    } else {
        double *restrict d = (double *)j->dst + lo;
        const double *restrict s = (const double *)j->src + lo;
        for (int64_t i = 0; i < hi - lo; i++) d[i] += s[i];
    }
}

void tg__add_into(int dt, void *dst, const void *src, int64_t n) {
    add_job j = {dt, dst, src};
    tg__elementwise(n, add_range, &j); /* threads only for large n */
}
