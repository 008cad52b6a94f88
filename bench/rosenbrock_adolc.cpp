// rosenbrock_adolc.cpp - the peer: ADOL-C (Debian's libadolc-dev) taping
// the extended Rosenbrock function with adouble and running gradient().
#include <adolc/adolc.h>

#include <cstdlib>

extern "C" double adolc_rosenbrock_grad(int n, const double *x0, double *grad, int keep);

// keep = 0: trace, then gradient() (a zero-order forward sweep over the
// tape, then the reverse sweep); keep = 1: trace_on(tag, 1) keeps the
// values the trace computed for the reverse sweep, and fos_reverse runs it
// at once (no second forward sweep): ADOL-C's cheapest way to this gradient.
extern "C" double adolc_rosenbrock_grad(int n, const double *x0, double *grad, int keep) {
    const short tag = 1;
    double f = 0;
    trace_on(tag, keep ? 1 : 0);
    adouble *x = new adouble[n];
    adouble y = 0;
    for (int i = 0; i < n; i++) x[i] <<= x0[i];
    for (int i = 0; i < n - 1; i++) {
        adouble t1 = x[i + 1] - x[i] * x[i];
        adouble t2 = 1.0 - x[i];
        y += 100.0 * t1 * t1 + t2 * t2;
    }
    y >>= f;
    delete[] x;
    trace_off();
    if (keep) {
        double u = 1.0;
        fos_reverse(tag, 1, n, &u, grad);
    } else {
        gradient(tag, n, x0, grad);
    }
    return f;
}
