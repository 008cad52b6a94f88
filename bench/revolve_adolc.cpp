// revolve_adolc.cpp - bench_revolve's loop in ADOL-C (Debian's libadolc-dev):
// the gradient of |x_N|^2 with respect to the initial state and (sigma, rho,
// beta) of Lorenz-63 by RK4, h = 1e-5, taped with adouble in full, or with
// ADOL-C's revolve-based checkpointing (CP_Context, adolc/checkpointing.h),
// which needs the step twice (adouble and double versions) and a state that
// carries the parameters: here 6 values (x, y, z, sigma, rho, beta).
#include <adolc/adolc.h>
#include <adolc/checkpointing.h>

extern "C" double adolc_lorenz_grad(int n, int snapshots, double *grad6);

template <class T> static void rk4(T *s) {
    const double h = 1e-5;
    T k[4][3], a[3];
    for (int j = 0; j < 4; j++) {
        double c = j == 0 ? 0 : j == 3 ? h : h / 2;
        for (int i = 0; i < 3; i++) a[i] = j ? s[i] + c * k[j - 1][i] : s[i];
        k[j][0] = s[3] * (a[1] - a[0]);
        k[j][1] = a[0] * (s[4] - a[2]) - a[1];
        k[j][2] = a[0] * a[1] - s[5] * a[2];
    }
    for (int i = 0; i < 3; i++)
        s[i] = s[i] + (k[0][i] + 2.0 * k[1][i] + 2.0 * k[2][i] + k[3][i]) * (h / 6);
}

static int step_a(int n, adouble *s) { return (void)n, rk4(s), 0; }
static int step_d(int n, double *s) { return (void)n, rk4(s), 0; }

// snapshots = 0: one tape of all n steps. (As in ADOL-C's own example, the
// context and the adouble arrays are made before trace_on.) The checkpointed
// state must be one array serving as input and output, copied from the
// independents: with the independents themselves as input and a separate
// output array, ADOL-C 2.7 returned a wrong gradient (the bench printed
// "relative difference 1 (WRONG)").
extern "C" double adolc_lorenz_grad(int n, int snapshots, double *grad6) {
    const short tag = 11, tag_cp = 12;
    double x0[6] = {1.0, 1.5, 20.0, 10.0, 28.0, 8.0 / 3}, f = 0;
    adouble *x = new adouble[6], *s = new adouble[6];
    CP_Context cpc(step_a);
    cpc.setDoubleFct(step_d);
    cpc.setNumberOfSteps(n);
    cpc.setNumberOfCheckpoints(snapshots > 0 ? snapshots : 1);
    cpc.setDimensionXY(6);
    cpc.setInput(s);
    cpc.setOutput(s);
    cpc.setTapeNumber(tag_cp);
    cpc.setAlwaysRetaping(false);
    trace_on(tag, 1);
    for (int i = 0; i < 6; i++) x[i] <<= x0[i];
    for (int i = 0; i < 6; i++) s[i] = x[i];
    if (snapshots == 0)
        for (int k = 0; k < n; k++) rk4(s);
    else
        cpc.checkpointing();
    adouble l = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
    l >>= f;
    trace_off(1);
    double u = 1.0; // taping kept the forward values (trace_on's keep = 1)
    fos_reverse(tag, 1, 6, &u, grad6);
    delete[] x;
    delete[] s;
    return f;
}
