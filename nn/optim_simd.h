/* optim_simd.h - the optimizers' update step, one variant per SIMD level.
 *
 * optim.c includes this file for the interface: the job, and the update
 * of each level (a tg_range_fn over the elements of one parameter), of
 * which it calls the one of tg_simd_level(). nn/optim_portable.c,
 * optim_avx2.c and optim_avx512.c define OPTIM_UPDATE (the name of their
 * level's update) and include it for the implementation: the loops of
 * optim_kern.h for f32 and f64, and the update that runs them. nn/meson.build
 * compiles each of those files with its level's flags, only where the
 * compiler builds that level (TG_HAVE_AVX2, TG_HAVE_AVX512).
 */
#ifndef TG_OPTIM_SIMD_H
#define TG_OPTIM_SIMD_H

#include <math.h>

#include "optim_private.h"

/* One parameter's update over elements [lo, hi): every loop is elementwise,
 * so a slice of each buffer is a smaller instance of the same update. */
typedef struct step_job {
    const tg_optim *opt;
    tg_tensor *p, *g, **s; /* the parameter, its gradient, its state slots */
    double step;           /* the step count, this step included */
} step_job;

/* fn(ctx = a step_job, lo, hi), for tg_parallel_for. */
void tg__optim_update_portable(void *ctx, int64_t lo, int64_t hi);
#if defined(TG_HAVE_AVX2)
void tg__optim_update_avx2(void *ctx, int64_t lo, int64_t hi);
#endif
#if defined(TG_HAVE_AVX512)
void tg__optim_update_avx512(void *ctx, int64_t lo, int64_t hi);
#endif

#endif /* TG_OPTIM_SIMD_H */

/* ---------------------------------------------- one level's implementation */
#if defined(OPTIM_UPDATE)

#define real float
#define KN(x) x##_f32
#define SQRT sqrtf
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT
#define real double
#define KN(x) x##_f64
#define SQRT sqrt
#include "optim_kern.h"
#undef real
#undef KN
#undef SQRT

/* The update loops run with subnormals flushed to zero (x86: MXCSR's FTZ
 * and DAZ, restored afterwards). A moment estimate of a parameter whose
 * gradient is rarely non-zero (a border pixel's weight) decays by beta1 per
 * step into the subnormal range within an epoch, and each subnormal
 * operation then costs on the order of a hundred cycles: with Adam on
 * Fashion-MNIST that made the optimizer a fifth of the training time. What
 * is flushed is below 1.2e-38 (f32) or 2.2e-308 (f64) in absolute value. */
#if defined(__SSE2__)
#include <xmmintrin.h>
#define FLUSH_BEGIN() unsigned csr_ = _mm_getcsr(); _mm_setcsr(csr_ | 0x8040)
#define FLUSH_END() _mm_setcsr(csr_)
#else
#define FLUSH_BEGIN() (void)0
#define FLUSH_END() (void)0
#endif

#define SL(t, T) ((t) ? (T *)tg_tensor_data(t) + lo : NULL) /* a slice of t, or NULL */

void OPTIM_UPDATE(void *ctx, int64_t lo, int64_t hi) {
    const step_job *j = ctx;
    const tg_optim *opt = j->opt;
    tg_tensor *p = j->p, *g = j->g, **s = j->s;
    const int64_t n = hi - lo;
    const double step = j->step;
    const bool f32 = tg_tensor_dtype(p) == TG_F32;
    FLUSH_BEGIN(); /* per thread: MXCSR is a thread's own */
    switch (opt->kind) {
    case OPT_SGD:
        if (f32)
            sgd_f32(SL(p, float), SL(g, const float), SL(s[0], float), n, &opt->o.sgd, opt->lr,
                    step == 1);
        else
            sgd_f64(SL(p, double), SL(g, const double), SL(s[0], double), n, &opt->o.sgd,
                    opt->lr, step == 1);
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
        if (f32)
            adam_f32(SL(p, float), SL(g, const float), SL(s[0], float), SL(s[1], float),
                     SL(s[2], float), n, &opt->o.adam, opt->kind == OPT_ADAMW, opt->lr, step);
        else
            adam_f64(SL(p, double), SL(g, const double), SL(s[0], double), SL(s[1], double),
                     SL(s[2], double), n, &opt->o.adam, opt->kind == OPT_ADAMW, opt->lr, step);
        break;
    case OPT_RMSPROP:
        if (f32)
            rmsprop_f32(SL(p, float), SL(g, const float), SL(s[0], float), SL(s[1], float),
                        SL(s[2], float), n, &opt->o.rms, opt->lr);
        else
            rmsprop_f64(SL(p, double), SL(g, const double), SL(s[0], double),
                        SL(s[1], double), SL(s[2], double), n, &opt->o.rms, opt->lr);
        break;
    case OPT_ADAGRAD:
        if (f32)
            adagrad_f32(SL(p, float), SL(g, const float), SL(s[0], float), n, &opt->o.ada,
                        opt->lr, step);
        else
            adagrad_f64(SL(p, double), SL(g, const double), SL(s[0], double), n, &opt->o.ada,
                        opt->lr, step);
        break;
    }
    FLUSH_END();
}
#undef SL

#endif /* OPTIM_UPDATE */
