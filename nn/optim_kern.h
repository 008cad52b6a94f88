/* optim_kern.h - the fused update loops, one pass over each parameter.
 * Included twice by optim_simd.h (once per SIMD level's file), with `real`
 * = float and double, KN(x) naming the variant and SQRT its square root.
 * Arithmetic follows PyTorch's single-tensor code
 * (torch/optim/sgd.py, adam.py, ...) operation by operation. g is the gradient, p the
 * parameter; the other buffers are the optimizer's state. */

static void KN(sgd)(real *restrict p, const real *restrict g, real *restrict buf, int64_t n,
                    const tg_sgd_opts *o, double lr, bool first) {
    const real sign = o->maximize ? -1 : 1, wd = (real)o->weight_decay, nlr = (real)-lr;
    const real mu = (real)o->momentum;
    /* first step: b = d (PyTorch clones), i.e. 0 * b + 1 * d on a zeroed b */
    const real bmu = first ? 0 : mu, damp = first ? 1 : (real)(1 - o->dampening);
    const bool nesterov = o->nesterov;
    if (!buf) {
        for (int64_t i = 0; i < n; i++) {
            real d = sign * g[i];
            d = wd != 0 ? d + wd * p[i] : d;
            p[i] += nlr * d;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        real d = sign * g[i];
        d = wd != 0 ? d + wd * p[i] : d;
        real b = buf[i] * bmu + damp * d;
        buf[i] = b;
        p[i] += nlr * (nesterov ? d + mu * b : b);
    }
}

/* Adam and AdamW (adamw: p *= 1 - lr wd first, no wd in the gradient). */
static inline void KN(adam_loop)(real *restrict p, const real *restrict g, real *restrict m,
                                 real *restrict v, real *restrict vmax, int64_t n,
                                 const tg_adam_opts *o, bool adamw, double lr, double step) {
    const real sign = o->maximize ? -1 : 1, wd = (real)o->weight_decay;
    const real decay = (real)(1 - lr * o->weight_decay);
    const real b1 = (real)o->beta1, b2 = (real)o->beta2;
    const real c1 = (real)(1 - o->beta1), c2 = (real)(1 - o->beta2), eps = (real)o->eps;
    const real nstep = (real)(-lr / (1 - pow(o->beta1, step)));
    const real bc2s = (real)sqrt(1 - pow(o->beta2, step));
    for (int64_t i = 0; i < n; i++) {
        real gi = sign * g[i];
        if (adamw) p[i] *= decay;
        else if (wd != 0) gi += wd * p[i];
        m[i] = m[i] * b1 + c1 * gi;
        v[i] = v[i] * b2 + c2 * gi * gi;
        real vv = v[i];
        if (vmax) vv = vmax[i] = vmax[i] > vv ? vmax[i] : vv;
        real den = SQRT(vv) / bc2s + eps;
        p[i] += nstep * m[i] / den;
    }
}

static inline void KN(rmsprop_loop)(real *restrict p, const real *restrict g,
                                    real *restrict sq, real *restrict buf, real *restrict gavg,
                                    int64_t n, const tg_rmsprop_opts *o, double lr) {
    const real sign = o->maximize ? -1 : 1, wd = (real)o->weight_decay;
    const real a = (real)o->alpha, ca = (real)(1 - o->alpha), eps = (real)o->eps;
    const real mu = (real)o->momentum, nlr = (real)-lr;
    for (int64_t i = 0; i < n; i++) {
        real gi = sign * g[i];
        if (wd != 0) gi += wd * p[i];
        sq[i] = sq[i] * a + ca * gi * gi;
        real avg;
        if (gavg) {
            gavg[i] = gavg[i] * a + ca * gi;
            avg = SQRT(sq[i] - gavg[i] * gavg[i]) + eps;
        } else {
            avg = SQRT(sq[i]) + eps;
        }
        if (buf) {
            buf[i] = buf[i] * mu + gi / avg;
            p[i] += nlr * buf[i];
        } else {
            p[i] += nlr * gi / avg;
        }
    }
}

/* The optional buffers (NULL = unused) as constants in separate loops, so
 * that each loop has no conditional loads and vectorizes. */
static void KN(adam)(real *p, const real *g, real *m, real *v, real *vmax, int64_t n,
                     const tg_adam_opts *o, bool adamw, double lr, double step) {
    if (vmax) KN(adam_loop)(p, g, m, v, vmax, n, o, adamw, lr, step);
    else KN(adam_loop)(p, g, m, v, NULL, n, o, adamw, lr, step);
}

static void KN(rmsprop)(real *p, const real *g, real *sq, real *buf, real *gavg, int64_t n,
                        const tg_rmsprop_opts *o, double lr) {
    if (buf && gavg) KN(rmsprop_loop)(p, g, sq, buf, gavg, n, o, lr);
    else if (buf) KN(rmsprop_loop)(p, g, sq, buf, NULL, n, o, lr);
    else if (gavg) KN(rmsprop_loop)(p, g, sq, NULL, gavg, n, o, lr);
    else KN(rmsprop_loop)(p, g, sq, NULL, NULL, n, o, lr);
}

static void KN(adagrad)(real *restrict p, const real *restrict g, real *restrict sum, int64_t n,
                        const tg_adagrad_opts *o, double lr, double step) {
    const real sign = o->maximize ? -1 : 1, wd = (real)o->weight_decay, eps = (real)o->eps;
    const real nclr = (real)(-lr / (1 + (step - 1) * o->lr_decay));
    for (int64_t i = 0; i < n; i++) {
        real gi = sign * g[i];
        if (wd != 0) gi += wd * p[i];
        sum[i] += gi * gi;
        p[i] += nclr * gi / (SQRT(sum[i]) + eps);
    }
}
