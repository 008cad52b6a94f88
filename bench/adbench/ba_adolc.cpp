// ba_adolc.cpp - the BA peer: ADOL-C (Debian's libadolc-dev) taping the
// same scalar code as ba.c for one observation with adouble, then its
// jacobian() driver or fov_reverse (below). Re-taped for every observation, as tapegrad records
// one tape per observation.
#include <adolc/adolc.h>

#include <cmath>

extern "C" void adb_adolc_ba_obs(const double *cam, const double *X, double w,
                                 const double *feat, double *jac, int keep);

static void cross(const adouble *a, const adouble *b, adouble *out) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static void rodrigues(const adouble *rot, const adouble *pt, adouble *out) {
    adouble sqtheta = rot[0] * rot[0] + rot[1] * rot[1] + rot[2] * rot[2];
    adouble c[3];
    if (sqtheta.getValue() != 0) {
        adouble theta = sqrt(sqtheta), ct = cos(theta), st = sin(theta), inv = 1.0 / theta;
        adouble wv[3] = {rot[0] * inv, rot[1] * inv, rot[2] * inv};
        cross(wv, pt, c);
        adouble tmp = (wv[0] * pt[0] + wv[1] * pt[1] + wv[2] * pt[2]) * (1.0 - ct);
        for (int i = 0; i < 3; i++) out[i] = pt[i] * ct + c[i] * st + wv[i] * tmp;
    } else {
        cross(rot, pt, c);
        for (int i = 0; i < 3; i++) out[i] = pt[i] + c[i];
    }
}

// keep = 0: trace, then the jacobian() driver (a zero-order forward sweep
// over the tape, then fov_reverse with the 3 x 3 identity); keep = 1:
// trace_on(tag, 1) keeps the trace's values, and fov_reverse runs at once
// (no second forward sweep, the same work as tapegrad's).
extern "C" void adb_adolc_ba_obs(const double *cam, const double *X, double w,
                                 const double *feat, double *jac, int keep) {
    const short tag = 2;
    double x[15], y[3];
    for (int j = 0; j < 11; j++) x[j] = cam[j];
    for (int j = 0; j < 3; j++) x[11 + j] = X[j];
    x[14] = w;
    trace_on(tag, keep ? 1 : 0);
    {
        adouble in[15];
        for (int j = 0; j < 15; j++) in[j] <<= x[j];
        adouble we = 1.0 - in[14] * in[14];
        adouble xo[3] = {in[11] - in[3], in[12] - in[4], in[13] - in[5]}, xc[3];
        rodrigues(in, xo, xc);
        adouble p0 = xc[0] / xc[2], p1 = xc[1] / xc[2];
        adouble rsq = p0 * p0 + p1 * p1;
        adouble L = 1.0 + in[9] * rsq + in[10] * rsq * rsq;
        p0 *= L;
        p1 *= L;
        adouble e0 = in[14] * (p0 * in[6] + in[7] - feat[0]);
        adouble e1 = in[14] * (p1 * in[6] + in[8] - feat[1]);
        e0 >>= y[0];
        e1 >>= y[1];
        we >>= y[2];
    }
    trace_off();
    double *rows[3] = {jac, jac + 15, jac + 30};
    if (keep) {
        double eye[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        double *u[3] = {eye[0], eye[1], eye[2]};
        fov_reverse(tag, 3, 15, 3, u, rows);
    } else {
        jacobian(tag, 3, 15, x, rows);
    }
}
