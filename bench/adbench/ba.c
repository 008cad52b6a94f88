/* ba.c - ADBench's bundle adjustment objective (src/cpp/shared/ba.h): per
 * observation the reprojection error of a point through a camera
 * (Rodrigues rotation, radial distortion) scaled by the observation's
 * weight, and Zach's weight error 1 - w^2. The plain-C objective, and the
 * sparse Jacobian with tapegrad's 0-d ops: the scalar code a C user
 * writes, one small tape per observation, reset and re-used.
 *
 * Camera (11): rot (angle-axis) 0..2, center C 3..5, focal f 6, principal
 * point u0 v0 7..8, radial k1 k2 9..10.
 *   Xcam = R(rot) (X - C); p = Xcam[0:2] / Xcam[2];
 *   p *= 1 + k1 |p|^2 + k2 |p|^4; err = w (f p + (u0, v0) - feat)
 *   R(rot) y = y cos t + (u x y) sin t + u (u.y)(1 - cos t), t = |rot|,
 *   u = rot / t; for rot = 0: y + rot x y (ADBench's branch). */
#include "adbench.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- plain C */
static void cross(const double *a, const double *b, double *out) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static void rodrigues(const double *rot, const double *pt, double *out) {
    double sqtheta = rot[0] * rot[0] + rot[1] * rot[1] + rot[2] * rot[2];
    double c[3];
    if (sqtheta != 0) {
        double theta = sqrt(sqtheta), ct = cos(theta), st = sin(theta), inv = 1.0 / theta;
        double w[3] = {rot[0] * inv, rot[1] * inv, rot[2] * inv};
        cross(w, pt, c);
        double tmp = (w[0] * pt[0] + w[1] * pt[1] + w[2] * pt[2]) * (1.0 - ct);
        for (int i = 0; i < 3; i++) out[i] = pt[i] * ct + c[i] * st + w[i] * tmp;
    } else {
        cross(rot, pt, c);
        for (int i = 0; i < 3; i++) out[i] = pt[i] + c[i];
    }
}

void adb_ba_project(const double *cam, const double *X, double w, const double *feat,
                    double *err) {
    double xo[3] = {X[0] - cam[3], X[1] - cam[4], X[2] - cam[5]}, xc[3];
    rodrigues(cam, xo, xc);
    double p0 = xc[0] / xc[2], p1 = xc[1] / xc[2];
    double rsq = p0 * p0 + p1 * p1, L = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq;
    p0 *= L, p1 *= L;
    err[0] = w * (p0 * cam[6] + cam[7] - feat[0]);
    err[1] = w * (p1 * cam[6] + cam[8] - feat[1]);
}

void adb_ba_objective(const adb_ba *b, double *reproj, double *werr) {
    for (int i = 0; i < b->p; i++) {
        adb_ba_project(b->cams + ADB_BA_NCAM * b->obs[2 * i], b->X + 3 * b->obs[2 * i + 1],
                       b->w[i], b->feats + 2 * i, reproj + 2 * i);
        werr[i] = 1.0 - b->w[i] * b->w[i];
    }
}

/* ------------------------------------------------------- 0-d tapegrad */
typedef tg_tensor T;

static void tcross(T *const *a, T *const *b, T **out) {
    out[0] = tg_sub(tg_mul(a[1], b[2]), tg_mul(a[2], b[1]));
    out[1] = tg_sub(tg_mul(a[2], b[0]), tg_mul(a[0], b[2]));
    out[2] = tg_sub(tg_mul(a[0], b[1]), tg_mul(a[1], b[0]));
}

static void trodrigues(T *const *rot, T *const *pt, T **out) {
    T *sqtheta = tg_add(tg_add(tg_mul(rot[0], rot[0]), tg_mul(rot[1], rot[1])),
                        tg_mul(rot[2], rot[2]));
    T *c[3];
    if (tg_item(sqtheta) != 0) {
        T *theta = tg_sqrt(sqtheta), *ct = tg_cos(theta), *st = tg_sin(theta);
        T *inv = tg_reciprocal(theta);
        T *w[3] = {tg_mul(rot[0], inv), tg_mul(rot[1], inv), tg_mul(rot[2], inv)};
        tcross(w, pt, c);
        T *dot = tg_add(tg_add(tg_mul(w[0], pt[0]), tg_mul(w[1], pt[1])), tg_mul(w[2], pt[2]));
        T *tmp = tg_mul(dot, tg_rsub_scalar(ct, 1.0));
        for (int i = 0; i < 3; i++)
            out[i] = tg_add(tg_add(tg_mul(pt[i], ct), tg_mul(c[i], st)), tg_mul(w[i], tmp));
    } else {
        tcross(rot, pt, c);
        for (int i = 0; i < 3; i++) out[i] = tg_add(pt[i], c[i]);
    }
}

/* in: cam (11), X (3), w: 15 leaves; err: the two reprojection errors */
static void tproject(T *const *in, const double *feat, T **err) {
    T *const *cam = in, *const *X = in + ADB_BA_NCAM, *w = in[14];
    T *xo[3] = {tg_sub(X[0], cam[3]), tg_sub(X[1], cam[4]), tg_sub(X[2], cam[5])}, *xc[3];
    trodrigues(cam, xo, xc);
    T *p0 = tg_div(xc[0], xc[2]), *p1 = tg_div(xc[1], xc[2]);
    T *rsq = tg_add(tg_mul(p0, p0), tg_mul(p1, p1));
    T *L = tg_add_scalar(tg_add(tg_mul(cam[9], rsq), tg_mul(tg_mul(cam[10], rsq), rsq)), 1.0);
    p0 = tg_mul(p0, L), p1 = tg_mul(p1, L);
    err[0] = tg_mul(w, tg_sub_scalar(tg_add(tg_mul(p0, cam[6]), cam[7]), feat[0]));
    err[1] = tg_mul(w, tg_sub_scalar(tg_add(tg_mul(p1, cam[6]), cam[8]), feat[1]));
}

bool adb_ba_jacobian_range(tg_tape *tape, const adb_ba *b, int lo, int hi, double *reproj,
                           double *werr, adb_ba_jac *J) {
    for (int i = lo; i < hi; i++) {
        const double *cam = b->cams + ADB_BA_NCAM * b->obs[2 * i];
        const double *X = b->X + 3 * b->obs[2 * i + 1];
        tg_tape_reset(tape);
        tg_tape_set_grad_enabled(tape, J != NULL);
        T *in[15];
        for (int j = 0; j < ADB_BA_NCAM; j++) in[j] = tg_requires_grad(tg_scalar(tape, cam[j]));
        for (int j = 0; j < 3; j++) in[ADB_BA_NCAM + j] = tg_requires_grad(tg_scalar(tape, X[j]));
        in[14] = tg_requires_grad(tg_scalar(tape, b->w[i]));
        /* first, so that its sweep walks two records only */
        T *we = tg_rsub_scalar(tg_mul(in[14], in[14]), 1.0), *err[2];
        tproject(in, b->feats + 2 * i, err);
        if (!J) {
            reproj[2 * i] = tg_item(err[0]), reproj[2 * i + 1] = tg_item(err[1]);
            werr[i] = tg_item(we);
            if (!tg_tape_ok(tape)) return false;
            continue;
        }
        double *row = J->vals + 30 * (size_t)i;
        for (int r = 0; r < 2; r++, row += 15) {
            if (tg_backward(err[r]) != TG_OK) return false;
            for (int j = 0; j < 15; j++) {
                double v = tg_grad_item(in[j]);
                /* NaN: no gradient yet (u0 for y, v0 for x): a zero */
                row[j] = isnan(v) && !tg_tensor_grad(in[j]) ? 0.0 : v;
                tg_zero_grad(in[j]);
            }
            reproj[2 * i + r] = tg_item(err[r]);
        }
        if (tg_backward(we) != TG_OK) return false;
        J->vals[30 * (size_t)b->p + i] = tg_grad_item(in[14]);
        tg_zero_grad(in[14]);
        werr[i] = tg_item(we);
        if (!tg_tape_ok(tape)) return false;
    }
    return true;
}

bool adb_ba_jacobian(tg_tape *tape, const adb_ba *b, double *reproj, double *werr,
                     adb_ba_jac *J) {
    return adb_ba_jacobian_range(tape, b, 0, b->p, reproj, werr, J);
}
