/* test_higher_multi.c - the list forms of the higher-order drivers
 * (tg_vjp_n, tg_jvp_n, tg_hvp_n, tg_jacobian_n, tg_hessian_n), and tg_grad
 * of an output that requires no grad.
 *
 *   1. every Hessian block of f(x, y), with cross terms, against the
 *      analytic Hessian and finite differences of the gradient (f64), and
 *      in f32 and mixed f32/f64
 *   2. H v against the blocks times v; J v and u^T J against the
 *      Jacobians; n = 1 against the one-input drivers
 *   3. third derivatives through the list forms (TG_CREATE_GRAPH), against
 *      closed forms and in gradient checks
 *   4. values and one more derivative against PyTorch
 *      (tests/ref/higher_multi.txt, made by tests/ref_higher.py)
 *   5. errors, and memory: a steady list-form loop uses the same bytes
 */
#include "refcase.h"

/* ----------------------------------------------------------- functions */

/* f(x, y) = sum(x^2 y) + sum(sin(x) y^2) + sum(x)^3 / 6 + cos(sum(y)),
 * x [3], y [2,3] (x broadcast along y's rows). Its Hessian, with
 * S = sum(x), T = sum(y):
 *   d2f/dx_k dx_l     = [k=l] (2 sum_a y_ak - sin x_k sum_a y_ak^2) + S
 *   d2f/dx_k dy_al    = [k=l] (2 x_k + 2 cos x_k y_ak)
 *   d2f/dy_ak dy_bl   = [a=b, k=l] 2 sin x_k - cos T */
static tg_tensor *cross(tg_tensor *x, tg_tensor *y) {
    tg_tensor *a = tg_sum(tg_mul(tg_pow_scalar(x, 2), y));
    tg_tensor *b = tg_sum(tg_mul(tg_sin(x), tg_pow_scalar(y, 2)));
    tg_tensor *c = tg_div_scalar(tg_pow_scalar(tg_sum(x), 3), 6);
    return tg_add(tg_add(a, b), tg_add(c, tg_cos(tg_sum(y))));
}

/* The full 9 x 9 Hessian of cross in the order (x, y flat). */
static void cross_hessian(const double *x, const double *y, double H[9][9]) {
    double S = x[0] + x[1] + x[2], T = 0;
    for (int i = 0; i < 6; i++) T += y[i];
    memset(H, 0, 81 * sizeof(double));
    for (int k = 0; k < 3; k++) {
        double sy = y[k] + y[3 + k], sy2 = y[k] * y[k] + y[3 + k] * y[3 + k];
        for (int l = 0; l < 3; l++) H[k][l] = S + (k == l ? 2 * sy - sin(x[k]) * sy2 : 0);
        for (int a = 0; a < 2; a++) {
            double c = 2 * x[k] + 2 * cos(x[k]) * y[a * 3 + k];
            H[k][3 + a * 3 + k] = H[3 + a * 3 + k][k] = c;
        }
    }
    for (int p = 0; p < 6; p++)
        for (int q = 0; q < 6; q++) H[3 + p][3 + q] = -cos(T) + (p == q ? 2 * sin(x[p % 3]) : 0);
}

/* Y = tanh(x y) + sin(x), [2,3]: dY_ak/dx_l = [k=l] ((1 - t_ak^2) y_ak +
 * cos x_k), dY_ak/dy_bl = [a=b, k=l] (1 - t_ak^2) x_k. */
static tg_tensor *vcross(tg_tensor *x, tg_tensor *y) {
    return tg_add(tg_tanh(tg_mul(x, y)), tg_sin(x));
}

static void vcross_jacobian(const double *x, const double *y, double J[6][9]) {
    memset(J, 0, 54 * sizeof(double));
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < 3; k++) {
            double t = tanh(x[k] * y[a * 3 + k]);
            J[a * 3 + k][k] = (1 - t * t) * y[a * 3 + k] + cos(x[k]);
            J[a * 3 + k][3 + a * 3 + k] = (1 - t * t) * x[k];
        }
}

/* ------------------------------------------------------------- helpers */

static const double xv[3] = {0.3, -0.7, 1.1};
static const double yv[6] = {0.5, -1.2, 0.25, 0.8, 0.1, -0.6};

static tg_tensor *leaf(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape,
                       const double *v) {
    tg_tensor *t = tg_requires_grad(tg_zeros(tape, dt, rank, shape));
    for (int64_t i = 0; t && i < tg_tensor_numel(t); i++) {
        if (dt == TG_F32)
            tg_tensor_f32(t)[i] = (float)v[i];
        else
            tg_tensor_f64(t)[i] = v[i];
    }
    return t;
}
static tg_tensor *leaf_x(tg_tape *tape, tg_dtype dt) { return leaf(tape, dt, TG_SHAPE(3), xv); }
static tg_tensor *leaf_y(tg_tape *tape, tg_dtype dt) { return leaf(tape, dt, TG_SHAPE(2, 3), yv); }

/* The values of a tensor rounded as its dtype keeps them. */
static void values(tg_tensor *t, double *out) {
    for (int64_t i = 0; i < tg_tensor_numel(t); i++) out[i] = tg_tensor_get(t, i);
}

/* Every |a[i] - b[i]| <= tol (a NaN fails), or with b NULL every
 * |a[i]| <= tol; false for a NULL a or sizes that differ. */
static bool near(tg_tensor *a, tg_tensor *b, double tol) {
    if (!a || (b && tg_tensor_numel(a) != tg_tensor_numel(b))) return false;
    for (int64_t i = 0, n = tg_tensor_numel(a); i < n; i++)
        if (!(fabs(tg_tensor_get(a, i) - (b ? tg_tensor_get(b, i) : 0)) <= tol)) return false;
    return true;
}

/* t has shape a.shape + b.shape (b NULL: a.shape) and dtype dt. */
static bool shaped(tg_tensor *t, tg_tensor *a, tg_tensor *b, tg_dtype dt) {
    int ra = tg_tensor_rank(a), rb = b ? tg_tensor_rank(b) : 0;
    if (!t || tg_tensor_dtype(t) != dt || tg_tensor_rank(t) != ra + rb) return false;
    for (int d = 0; d < ra + rb; d++)
        if (tg_tensor_dim(t, d) != (d < ra ? tg_tensor_dim(a, d) : tg_tensor_dim(b, d - ra)))
            return false;
    return true;
}

/* Checks the n*n blocks H of inputs xs against the full matrix F (size
 * total^2, inputs in order, flat): shapes, dtypes (the column input's),
 * and values to tol * (1 + |F|). */
static void check_blocks(const char *what, int n, tg_tensor *const *xs, tg_tensor *const *H,
                         const double *F, int total, double tol) {
    int off[4] = {0};
    for (int i = 1; i <= n; i++) off[i] = off[i - 1] + (int)tg_tensor_numel(xs[i - 1]);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            tg_tensor *B = H[i * n + j];
            CHECK(shaped(B, xs[i], xs[j], tg_tensor_dtype(xs[j])),
                  "%s: block [%d][%d] shape or dtype", what, i, j);
            if (!shaped(B, xs[i], xs[j], tg_tensor_dtype(xs[j]))) continue;
            int ni = off[i + 1] - off[i], nj = off[j + 1] - off[j], bad = 0;
            for (int r = 0; r < ni; r++)
                for (int c = 0; c < nj; c++) {
                    double got = tg_tensor_get(B, r * nj + c),
                           want = F[(off[i] + r) * total + off[j] + c];
                    if (!(fabs(got - want) <= tol * (1 + fabs(want))) && !bad++)
                        fprintf(stderr, "  %s: H[%d][%d][%d] = %.15g, want %.15g\n", what, i, j,
                                r * nj + c, got, want);
                }
            CHECK(bad == 0, "%s: block [%d][%d]: %d values off", what, i, j, bad);
        }
}

/* The gradient of cross at (x, y) = z[0..3), z[3..9), into g[9]. */
static void cross_grad(const double *z, double *g) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *xs[2] = {leaf(tape, TG_F64, TG_SHAPE(3), z),
                        leaf(tape, TG_F64, TG_SHAPE(2, 3), z + 3)},
              *gs[2];
    tg_grad(cross(xs[0], xs[1]), NULL, 2, xs, gs, 0);
    CHECK_OK(tape);
    if (tg_tape_ok(tape)) values(gs[0], g), values(gs[1], g + 3);
    tg_tape_free(tape);
}

/* ------------------------------------------------------------ Hessian */

static void test_hessian_blocks(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *xs[2] = {leaf_x(tape, TG_F64), leaf_y(tape, TG_F64)}, *H[4], *Hg[4];
    tg_tensor *f = cross(xs[0], xs[1]);
    CHECK(tg_hessian_n(f, 2, xs, H, 0) == TG_OK, "hessian_n: %s", tg_tape_error(tape));
    double F[9][9];
    cross_hessian(xv, yv, F);
    check_blocks("f64 vs analytic", 2, xs, H, &F[0][0], 9, 1e-14);

    /* finite differences of the gradient: column q of the full Hessian */
    double z[9], gp[9], gm[9], D[9][9], eps = 1e-5;
    memcpy(z, xv, sizeof xv), memcpy(z + 3, yv, sizeof yv);
    for (int q = 0; q < 9; q++) {
        double zq = z[q];
        z[q] = zq + eps, cross_grad(z, gp);
        z[q] = zq - eps, cross_grad(z, gm);
        z[q] = zq;
        for (int p = 0; p < 9; p++) D[p][q] = (gp[p] - gm[p]) / (2 * eps);
    }
    check_blocks("f64 vs finite differences", 2, xs, H, &D[0][0], 9, 1e-8);

    /* recorded: the same values, and differentiable */
    CHECK(tg_hessian_n(f, 2, xs, Hg, TG_CREATE_GRAPH) == TG_OK, "recorded: %s",
          tg_tape_error(tape));
    for (int b = 0; b < 4 && tg_tape_ok(tape); b++) {
        CHECK(near(H[b], Hg[b], 1e-14), "block %d, recorded vs not", b);
        CHECK(!tg_tensor_requires_grad(H[b]) && tg_tensor_requires_grad(Hg[b]),
              "block %d: only the recorded one is differentiable", b);
    }
    /* the diagonal blocks are the one-input Hessians (the other input held) */
    CHECK(near(H[0], tg_hessian(f, xs[0], 0), 0) && near(H[3], tg_hessian(f, xs[1], 0), 0),
          "diagonal blocks vs tg_hessian");
    /* n = 1 is the one-input form */
    tg_tensor *H1;
    CHECK(tg_hessian_n(f, 1, xs + 1, &H1, 0) == TG_OK && near(H1, H[3], 0), "hessian_n, n = 1");
    CHECK_OK(tape);

    /* the worked example of tg_autograd.h: sum(x^2 * y) at x = [1, 2],
     * y = [3, 4] */
    {
        tg_tensor *a = leaf(tape, TG_F64, TG_SHAPE(2), (double[]){1, 2});
        tg_tensor *b = leaf(tape, TG_F64, TG_SHAPE(2), (double[]){3, 4}), *ab[2] = {a, b}, *E[4];
        const double want[4][4] = {{6, 0, 0, 8}, {2, 0, 0, 4}, {2, 0, 0, 4}, {0, 0, 0, 0}};
        CHECK(tg_hessian_n(tg_sum(tg_mul(tg_mul(a, a), b)), 2, ab, E, 0) == TG_OK,
              "worked example: %s", tg_tape_error(tape));
        for (int k = 0; k < 16 && tg_tape_ok(tape); k++)
            CHECK(tg_tensor_get(E[k / 4], k % 4) == want[k / 4][k % 4], "worked example: H[%d][%d]",
                  k / 4, k % 4);
    }

    /* an input f does not use, and one with no elements: zero blocks of
     * the right shapes, the others unchanged */
    tg_tensor *u = tg_requires_grad(tg_ones(tape, TG_F64, TG_SHAPE(2)));
    tg_tensor *e = tg_requires_grad(tg_zeros(tape, TG_F64, TG_SHAPE(0, 2)));
    tg_tensor *x4[4] = {xs[0], u, xs[1], e}, *H4[16];
    CHECK(tg_hessian_n(f, 4, x4, H4, 0) == TG_OK, "unused inputs: %s", tg_tape_error(tape));
    for (int i = 0; i < 4 && tg_tape_ok(tape); i++)
        for (int j = 0; j < 4; j++) {
            tg_tensor *B = H4[i * 4 + j];
            CHECK(shaped(B, x4[i], x4[j], TG_F64), "unused inputs: block [%d][%d] shape", i, j);
            bool used = (i == 0 || i == 2) && (j == 0 || j == 2);
            if (used)
                CHECK(near(B, H[(i / 2) * 2 + j / 2], 0), "block [%d][%d] changed", i, j);
            else
                CHECK(B && near(B, NULL, 0), "block [%d][%d] not zero", i, j);
        }
    CHECK_OK(tape);

    /* a parameter as one of the inputs */
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(3)), *Hp[4];
    memcpy(tg_tensor_f64(p), xv, sizeof xv);
    tg_tensor *xp[2] = {p, xs[1]};
    CHECK(tg_hessian_n(cross(tg_param_on(tape, p), xs[1]), 2, xp, Hp, 0) == TG_OK, "parameter: %s",
          tg_tape_error(tape));
    for (int b = 0; b < 4 && tg_tape_ok(tape); b++)
        CHECK(near(Hp[b], H[b], 0), "parameter: block %d", b);
    tg_tape_free(tape);
    tg_param_free(p);
}

static void test_hessian_f32(void) {
    /* f32: against the analytic Hessian at the f32 values */
    tg_tape *tape = tg_tape_new();
    tg_tensor *xs[2] = {leaf_x(tape, TG_F32), leaf_y(tape, TG_F32)}, *H[4];
    double x[3], y[6], F[9][9];
    values(xs[0], x), values(xs[1], y);
    cross_hessian(x, y, F);
    CHECK(tg_hessian_n(cross(xs[0], xs[1]), 2, xs, H, 0) == TG_OK, "f32: %s", tg_tape_error(tape));
    check_blocks("f32", 2, xs, H, &F[0][0], 9, 1e-5);
    tg_tape_free(tape);

    /* mixed: x f64, y f32 (cast to f64 inside f); each block has its
     * column input's dtype, and H v sums across the dtypes */
    tape = tg_tape_new();
    tg_tensor *xm[2] = {leaf_x(tape, TG_F64), leaf_y(tape, TG_F32)};
    values(xm[1], y);
    cross_hessian(xv, y, F);
    tg_tensor *f = cross(xm[0], tg_cast(xm[1], TG_F64));
    CHECK(tg_hessian_n(f, 2, xm, H, 0) == TG_OK, "mixed: %s", tg_tape_error(tape));
    check_blocks("mixed f64/f32", 2, xm, H, &F[0][0], 9, 1e-6);
    tg_tensor *Hg[4]; /* recorded: a one-hot column per dtype */
    CHECK(tg_hessian_n(f, 2, xm, Hg, TG_CREATE_GRAPH) == TG_OK, "mixed, recorded: %s",
          tg_tape_error(tape));
    check_blocks("mixed f64/f32, recorded", 2, xm, Hg, &F[0][0], 9, 1e-6);
    tg_tensor *vs[2] = {tg_ones(tape, TG_F64, TG_SHAPE(3)),
                        tg_full(tape, TG_F32, TG_SHAPE(2, 3), 0.5)},
              *hv[2];
    CHECK(tg_hvp_n(f, 2, xm, vs, hv, 0) == TG_OK, "mixed hvp_n: %s", tg_tape_error(tape));
    for (int p = 0; p < 9 && tg_tape_ok(tape); p++) {
        double want = 0;
        for (int q = 0; q < 9; q++) want += F[p][q] * (q < 3 ? 1 : 0.5);
        tg_tensor *h = hv[p >= 3];
        CHECK(tg_tensor_dtype(h) == tg_tensor_dtype(xm[p >= 3]), "mixed hvp_n: dtype of hv[%d]",
              p >= 3);
        CHECK_NEAR(tg_tensor_get(h, p < 3 ? p : p - 3), want, 1e-6);
    }
    /* and with a v that requires grad (the Jacobian-of-the-gradient route) */
    tg_tensor *hw[2];
    vs[1] = tg_requires_grad(vs[1]);
    CHECK(tg_hvp_n(f, 2, xm, vs, hw, 0) == TG_OK && near(hv[0], hw[0], 1e-12) &&
              near(hv[1], hw[1], 1e-6),
          "mixed hvp_n, v requires grad: %s", tg_tape_error(tape));
    tg_tape_free(tape);
}

/* ------------------------------------------------------------- products */

static void test_hvp(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *xs[2] = {leaf_x(tape, TG_F64), leaf_y(tape, TG_F64)}, *hv[2], *hw[2];
    tg_tensor *f = cross(xs[0], xs[1]);
    const double vv[9] = {1, -2, 0.5, 0.25, 1.5, -1, 2, -0.75, 0.3};
    tg_tensor *vs[2] = {tg_tensor_new(tape, TG_F64, TG_SHAPE(3), vv),
                        tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 3), vv + 3)};
    double F[9][9], want[9];
    cross_hessian(xv, yv, F);
    for (int p = 0; p < 9; p++) {
        want[p] = 0;
        for (int q = 0; q < 9; q++) want[p] += F[p][q] * vv[q];
    }
    CHECK(tg_hvp_n(f, 2, xs, vs, hv, 0) == TG_OK, "hvp_n: %s", tg_tape_error(tape));
    for (int p = 0; p < 9 && tg_tape_ok(tape); p++)
        CHECK_NEAR(tg_tensor_get(hv[p >= 3], p < 3 ? p : p - 3), want[p], 1e-14);
    CHECK(shaped(hv[0], xs[0], NULL, TG_F64) && shaped(hv[1], xs[1], NULL, TG_F64), "hvp_n shapes");
    /* v requiring grad takes the Jacobian-of-the-gradient route: the same */
    tg_tensor *vr[2] = {tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), vv)), vs[1]};
    CHECK(tg_hvp_n(f, 2, xs, vr, hw, 0) == TG_OK, "hvp_n, v requires grad: %s",
          tg_tape_error(tape));
    CHECK(near(hv[0], hw[0], 1e-14) && near(hv[1], hw[1], 1e-14), "hvp_n, v requires grad");
    /* v computed from x (the gradients): used as a constant */
    tg_tensor *g[2];
    tg_grad(f, NULL, 2, xs, g, TG_CREATE_GRAPH);
    CHECK(tg_hvp_n(f, 2, xs, g, hw, 0) == TG_OK, "hvp_n, v = the gradient: %s",
          tg_tape_error(tape));
    for (int p = 0; p < 9 && tg_tape_ok(tape); p++) {
        double w = 0;
        for (int q = 0; q < 9; q++) w += F[p][q] * tg_tensor_get(g[q >= 3], q < 3 ? q : q - 3);
        CHECK_NEAR(tg_tensor_get(hw[p >= 3], p < 3 ? p : p - 3), w, 1e-13);
    }
    /* n = 1 is tg_hvp */
    CHECK(tg_hvp_n(f, 1, xs + 1, vs + 1, hw, 0) == TG_OK &&
              near(hw[0], tg_hvp(f, xs[1], vs[1], 0), 0),
          "hvp_n, n = 1");
    /* linear in the inputs: zeros */
    tg_tensor *lin = tg_add(tg_sum(xs[0]), tg_sum(tg_mul_scalar(xs[1], 2)));
    CHECK(tg_hvp_n(lin, 2, xs, vs, hw, 0) == TG_OK && near(hw[0], NULL, 0) && near(hw[1], NULL, 0),
          "hvp_n of a linear function");
    CHECK_OK(tape);
    tg_tape_free(tape);
}

static void test_jacobian_products(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *xs[2] = {leaf_x(tape, TG_F64), leaf_y(tape, TG_F64)}, *J[2], *Jg[2], *g[2];
    tg_tensor *Y = vcross(xs[0], xs[1]);
    double A[6][9];
    vcross_jacobian(xv, yv, A);
    CHECK(tg_jacobian_n(Y, 2, xs, J, 0) == TG_OK, "jacobian_n: %s", tg_tape_error(tape));
    CHECK(tg_jacobian_n(Y, 2, xs, Jg, TG_CREATE_GRAPH) == TG_OK, "recorded: %s",
          tg_tape_error(tape));
    CHECK(shaped(J[0], Y, xs[0], TG_F64) && shaped(J[1], Y, xs[1], TG_F64), "jacobian_n shapes");
    for (int j = 0; j < 2 && tg_tape_ok(tape); j++) {
        int nj = j ? 6 : 3;
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < nj; c++)
                CHECK_NEAR(tg_tensor_get(J[j], r * nj + c), A[r][j * 3 + c], 1e-14);
        CHECK(near(J[j], Jg[j], 1e-14), "jacobian_n %d, recorded vs not", j);
        CHECK(near(J[j], tg_jacobian(Y, xs[j], 0), 0), "jacobian_n %d vs tg_jacobian", j);
    }
    /* J v = J_x v_x + J_y v_y, of Y's shape */
    const double vv[9] = {0.5, 1, -1.5, 2, -0.25, 0.75, -1, 0.4, 1.2};
    tg_tensor *vs[2] = {tg_tensor_new(tape, TG_F64, TG_SHAPE(3), vv),
                        tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 3), vv + 3)};
    tg_tensor *jv = tg_jvp_n(Y, 2, xs, vs, 0);
    CHECK(shaped(jv, Y, NULL, TG_F64), "jvp_n shape");
    for (int r = 0; r < 6 && jv; r++) {
        double want = 0;
        for (int c = 0; c < 9; c++) want += A[r][c] * vv[c];
        CHECK_NEAR(tg_tensor_get(jv, r), want, 1e-14);
    }
    CHECK(near(tg_jvp_n(Y, 1, xs, vs, 0), tg_jvp(Y, xs[0], vs[0], 0), 0), "jvp_n, n = 1");
    /* u^T J, one per input */
    const double uv[6] = {1, -0.5, 2, 0.25, -1.5, 0.8};
    tg_tensor *u = tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 3), uv);
    CHECK(tg_vjp_n(Y, 2, xs, u, g, 0) == TG_OK, "vjp_n: %s", tg_tape_error(tape));
    CHECK(shaped(g[0], xs[0], NULL, TG_F64) && shaped(g[1], xs[1], NULL, TG_F64), "vjp_n shapes");
    for (int c = 0; c < 9 && tg_tape_ok(tape); c++) {
        double want = 0;
        for (int r = 0; r < 6; r++) want += uv[r] * A[r][c];
        CHECK_NEAR(tg_tensor_get(g[c >= 3], c < 3 ? c : c - 3), want, 1e-14);
    }
    CHECK(tg_vjp_n(Y, 1, xs + 1, u, g, 0) == TG_OK && near(g[0], tg_vjp(Y, xs[1], u, 0), 0),
          "vjp_n, n = 1");
    /* a one-element y may omit u */
    tg_tensor *s = tg_sum(Y);
    CHECK(tg_vjp_n(s, 2, xs, NULL, g, 0) == TG_OK, "vjp_n of a scalar without u: %s",
          tg_tape_error(tape));
    CHECK_NEAR(tg_tensor_get(g[0], 1), A[1][1] + A[4][1], 1e-14);
    CHECK_OK(tape);
    tg_tape_free(tape);
}

/* --------------------------------------------------------------- third */

/* S = the sum of every entry of every block = 1^T H 1:
 *   dS/dx_k  = -cos x_k sum_a y_ak^2 + 9 + sum_a (4 - 4 sin x_k y_ak) + 4 cos x_k
 *   dS/dy_ak = 2 - 2 sin x_k y_ak + 4 cos x_k + 36 sin T */
static void third_want(double *d) {
    double T = 0;
    for (int i = 0; i < 6; i++) T += yv[i];
    for (int k = 0; k < 3; k++) {
        double s1 = yv[k] + yv[3 + k], s2 = yv[k] * yv[k] + yv[3 + k] * yv[3 + k];
        d[k] = -cos(xv[k]) * s2 + 9 + 8 - 4 * sin(xv[k]) * s1 + 4 * cos(xv[k]);
    }
    for (int p = 0; p < 6; p++)
        d[3 + p] = 2 - 2 * sin(xv[p % 3]) * yv[p] + 4 * cos(xv[p % 3]) + 36 * sin(T);
}

static void check_third(const char *what, tg_tape *tape, tg_tensor *S, tg_tensor *const *xs) {
    double want[9];
    tg_tensor *d[2];
    third_want(want);
    CHECK(S && tg_grad(S, NULL, 2, xs, d, 0) == TG_OK, "%s: %s", what, tg_tape_error(tape));
    for (int p = 0; p < 9 && tg_tape_ok(tape); p++)
        CHECK_NEAR(tg_tensor_get(d[p >= 3], p < 3 ? p : p - 3), want[p], 1e-13);
}

static void test_third(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *xs[2] = {leaf_x(tape, TG_F64), leaf_y(tape, TG_F64)}, *H[4], *hv[2];
    tg_tensor *f = cross(xs[0], xs[1]);
    CHECK(tg_hessian_n(f, 2, xs, H, TG_CREATE_GRAPH) == TG_OK, "%s", tg_tape_error(tape));
    tg_tensor *S = tg_sum(H[0]);
    for (int b = 1; b < 4; b++) S = tg_add(S, tg_sum(H[b]));
    check_third("d sum(H) / d(x, y), hessian_n", tape, S, xs);
    /* H 1 summed is the same S */
    tg_tensor *ones[2] = {tg_ones(tape, TG_F64, TG_SHAPE(3)),
                          tg_ones(tape, TG_F64, TG_SHAPE(2, 3))};
    CHECK(tg_hvp_n(f, 2, xs, ones, hv, TG_CREATE_GRAPH) == TG_OK, "%s", tg_tape_error(tape));
    check_third("d sum(H 1) / d(x, y), hvp_n", tape, tg_add(tg_sum(hv[0]), tg_sum(hv[1])), xs);
    tg_tape_free(tape);
}

/* The list forms inside gradient checks: with TG_CREATE_GRAPH their
 * results are differentiable, to one more order. f marks its own
 * variables (the check builds leaves without requires-grad for its finite
 * differences). */
static tg_tensor *cat(int n, tg_tensor *const *ts) {
    tg_tensor *flat[4];
    for (int i = 0; i < n; i++) flat[i] = tg_reshape(ts[i], TG_SHAPE(-1));
    return tg_concat(n, flat, 0);
}
static tg_tensor *hess_cat(tg_tensor *out, int n, tg_tensor *const *xs) {
    tg_tensor *H[4];
    return tg_hessian_n(out, n, xs, H, TG_CREATE_GRAPH) == TG_OK ? cat(n * n, H) : NULL;
}
static tg_tensor *hvp_cat(tg_tensor *out, int n, tg_tensor *const *xs, tg_tensor *const *vs) {
    tg_tensor *hv[2];
    return tg_hvp_n(out, n, xs, vs, hv, TG_CREATE_GRAPH) == TG_OK ? cat(n, hv) : NULL;
}
static tg_tensor *jac_cat(tg_tensor *y, int n, tg_tensor *const *xs) {
    tg_tensor *J[2];
    return tg_jacobian_n(y, n, xs, J, TG_CREATE_GRAPH) == TG_OK ? cat(n, J) : NULL;
}
static tg_tensor *vjp_cat(tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor *u) {
    tg_tensor *g[2];
    return tg_vjp_n(y, n, xs, u, g, TG_CREATE_GRAPH) == TG_OK ? cat(n, g) : NULL;
}
#define MARK2(x) (tg_requires_grad(x[0]), tg_requires_grad(x[1]))
OP(g_hess, (MARK2(x), hess_cat(cross(x[0], x[1]), 2, x)))
OP(g_hvp, (MARK2(x), hvp_cat(cross(x[0], x[1]), 2, x, x + 2)))
OP(g_jac, (MARK2(x), jac_cat(vcross(x[0], x[1]), 2, x)))
OP(g_jvp, (MARK2(x), tg_jvp_n(vcross(x[0], x[1]), 2, x, x + 2, TG_CREATE_GRAPH)))
OP(g_vjp, (MARK2(x), vjp_cat(vcross(x[0], x[1]), 2, x, x[2])))

static void test_differentiable(void) {
    tg_tape *tape = tg_tape_new();
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    tg_tensor *in[5]; /* x [3], y [2,3], v_x [3], v_y [2,3], u [2,3] */
    for (int i = 0; i < 5; i++)
        in[i] = i % 2 == 0 && i < 4 ? tg_rand_uniform(tape, TG_F64, TG_SHAPE(3), &rng, -1, 1)
                                    : tg_rand_uniform(tape, TG_F64, TG_SHAPE(2, 3), &rng, -1, 1);
    tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 5, true, false};
    tg_gradcheck_report rep;
    CHECK(tg_gradcheck(g_hess, NULL, 2, in, &o, &rep), "d hessian_n / d(x, y): %s", rep.msg);
    CHECK(tg_gradcheck(g_hvp, NULL, 4, in, &o, &rep), "d hvp_n / d(x, y, v): %s", rep.msg);
    CHECK(tg_gradcheck(g_jac, NULL, 2, in, &o, &rep), "d jacobian_n / d(x, y): %s", rep.msg);
    CHECK(tg_gradcheck(g_jvp, NULL, 4, in, &o, &rep), "d jvp_n / d(x, y, v): %s", rep.msg);
    tg_tensor *vj[3] = {in[0], in[1], in[4]};
    CHECK(tg_gradcheck(g_vjp, NULL, 3, vj, &o, &rep), "d vjp_n / d(x, y, u): %s", rep.msg);
    tg_tape_free(tape);
}

/* ------------------------------------------------------ tg_grad, constant */

/* An output that requires no grad: every input gets zeros, no error. The
 * inputs hold a working gradient from an earlier sweep, which must not
 * leak into the zeros. */
static void test_grad_constant(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = leaf_x(tape, TG_F64), *g, *gs[2];
    tg_grad(tg_sum(tg_mul(x, x)), NULL, 1, &x, &g, 0);
    tg_tensor *c = tg_sum(tg_ones(tape, TG_F64, TG_SHAPE(3)));
    for (int flags = 0; flags <= TG_CREATE_GRAPH; flags += TG_CREATE_GRAPH) {
        tg_status st = tg_grad(c, NULL, 1, &x, &g, flags);
        CHECK(st == TG_OK, "tg_grad of a constant (flags %d): %s", flags, tg_tape_error(tape));
        CHECK(shaped(g, x, NULL, TG_F64) && near(g, NULL, 0) && !tg_tensor_requires_grad(g),
              "tg_grad of a constant: zeros of x's shape");
    }
    /* a parameter not on the tape, and a seeded non-scalar constant */
    tg_tensor *p = tg_param_new(TG_F32, TG_SHAPE(2));
    tg_tensor *c2 = tg_ones(tape, TG_F64, TG_SHAPE(2));
    tg_status st = tg_grad(c2, tg_ones(tape, TG_F64, TG_SHAPE(2)), 2, (tg_tensor *[]){x, p}, gs, 0);
    CHECK(st == TG_OK && shaped(gs[1], p, NULL, TG_F32) && tg_tensor_get(gs[1], 1) == 0 &&
              tg_tensor_get(gs[0], 2) == 0,
          "seeded constant: %s", tg_tape_error(tape));
    /* recording off: the output is a constant too */
    tg_tape_set_grad_enabled(tape, false);
    tg_tensor *off = tg_sum(tg_exp(x));
    tg_tape_set_grad_enabled(tape, true);
    CHECK(tg_grad(off, NULL, 1, &x, &g, 0) == TG_OK && tg_tensor_get(g, 0) == 0,
          "recorded off: zeros");
    /* the one-input drivers agree: zeros */
    tg_tensor *vj = tg_vjp(c, x, NULL, 0);
    CHECK(vj && tg_tensor_get(vj, 0) == 0, "tg_vjp of a constant");
    CHECK_OK(tape);
    tg_param_free(p);

    /* the seed is still checked */
    g = x;
    CHECK(tg_grad(c2, NULL, 1, &x, &g, 0) == TG_ERR_SHAPE && g == NULL, "constant [2], no seed");
    CHECK_ERR(NULL, tape, TG_ERR_SHAPE, "grad: the output has shape [2] and the seed is NULL");
    tg_tape_reset(tape);
    x = leaf_x(tape, TG_F64), c2 = tg_ones(tape, TG_F64, TG_SHAPE(2));
    CHECK(tg_grad(c2, tg_ones(tape, TG_F32, TG_SHAPE(2)), 1, &x, &g, 0) == TG_ERR_SHAPE,
          "seed dtype");
    CHECK_ERR(NULL, tape, TG_ERR_SHAPE,
              "grad: seed gradient f32 [2] does not match the output f64 [2]");
    /* a broken pass gives its error, not zeros */
    tg_tape_reset(tape);
    x = leaf_x(tape, TG_F64), c = tg_sum(tg_ones(tape, TG_F64, TG_SHAPE(2)));
    tg_tensor *bad = tg_add(x, tg_ones(tape, TG_F64, TG_SHAPE(4)));
    CHECK(bad == NULL && c && tg_grad(c, NULL, 1, &x, &g, 0) == TG_ERR_SHAPE,
          "tg_grad on a broken pass");
    tg_tape_free(tape);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void) {
    tg_tape *tape = tg_tape_new(), *other = tg_tape_new();
    tg_tensor *x, *y, *f, *Y, *xs[2], *vs[2], *R[4];
#define FRESH()                                                                                    \
    (tg_tape_reset(tape), x = leaf_x(tape, TG_F64), y = leaf_y(tape, TG_F64), f = cross(x, y),     \
     Y = vcross(x, y), xs[0] = x, xs[1] = y, vs[0] = tg_ones(tape, TG_F64, TG_SHAPE(3)),           \
     vs[1] = tg_ones(tape, TG_F64, TG_SHAPE(2, 3)), R[0] = R[1] = R[2] = R[3] = x)
#define ERR(call, s, needle)                                                                       \
    do {                                                                                           \
        CHECK((call) == (s), "%s: status %s", #call, tg_status_name(tg_tape_status(tape)));        \
        CHECK_ERR(NULL, tape, s, needle);                                                          \
    } while (0)
    FRESH();
    ERR(tg_hvp_n(f, 2, NULL, vs, R, 0), TG_ERR_NULL, "hvp_n: the list xs is NULL");
    CHECK(R[0] == NULL && R[1] == NULL, "results NULL after an error");
    FRESH();
    ERR(tg_hvp_n(f, 2, xs, NULL, R, 0), TG_ERR_NULL, "hvp_n: the list vs is NULL");
    FRESH();
    ERR(tg_hvp_n(f, 2, xs, vs, NULL, 0), TG_ERR_NULL, "hvp_n: the result array hv is NULL");
    FRESH();
    ERR(tg_hessian_n(f, 0, xs, R, 0), TG_ERR_ARG, "hessian_n: n is 0: give at least one input");
    FRESH();
    ERR(tg_jacobian_n(Y, -1, xs, R, 0), TG_ERR_ARG, "jacobian_n: n is -1");
    FRESH();
    ERR(tg_hessian_n(NULL, 2, xs, R, 0), TG_ERR_NULL, "hessian_n: the output is NULL");
    CHECK(R[3] == NULL, "all n*n results NULL after an error");
    FRESH(), xs[1] = NULL;
    ERR(tg_hvp_n(f, 2, xs, vs, R, 0), TG_ERR_NULL, "hvp_n: xs[1] is NULL");
    FRESH(), xs[1] = tg_requires_grad(tg_zeros(other, TG_F64, TG_SHAPE(2, 3)));
    ERR(tg_jacobian_n(Y, 2, xs, R, 0), TG_ERR_TAPE,
        "jacobian_n: xs[1] belongs to another tape than the output");
    FRESH(), vs[0] = tg_ones(other, TG_F64, TG_SHAPE(3));
    ERR(tg_hvp_n(f, 2, xs, vs, R, 0), TG_ERR_TAPE,
        "hvp_n: vs[0] belongs to another tape than the output");
    {
        FRESH();
        tg_tensor *old = x;
        FRESH(), xs[0] = old;
        ERR(tg_hessian_n(f, 2, xs, R, 0), TG_ERR_STALE, "hessian_n: xs[0] is stale");
    }
    FRESH(), vs[1] = tg_ones(tape, TG_F64, TG_SHAPE(3));
    ERR(tg_hvp_n(f, 2, xs, vs, R, 0), TG_ERR_SHAPE,
        "hvp_n: vs[1] has shape [3] but xs[1] has shape [2,3]");
    FRESH(), vs[0] = tg_ones(tape, TG_F32, TG_SHAPE(3));
    CHECK(tg_jvp_n(Y, 2, xs, vs, 0) == NULL, "jvp_n returns NULL on an error");
    CHECK_ERR(NULL, tape, TG_ERR_DTYPE, "jvp_n: vs[0] is f32 but xs[0] is f64");
    FRESH(), xs[1] = tg_tensor_new(tape, TG_I64, TG_SHAPE(2), NULL);
    ERR(tg_vjp_n(f, 2, xs, NULL, R, 0), TG_ERR_DTYPE, "vjp_n: xs[1] i64 [2] is not a float tensor");
    FRESH(), xs[1] = tg_ones(tape, TG_F64, TG_SHAPE(2, 3));
    ERR(tg_hessian_n(f, 2, xs, R, 0), TG_ERR_STATE, "hessian_n: xs[1] [2,3] does not require grad");
    FRESH();
    ERR(tg_hessian_n(Y, 2, xs, R, 0), TG_ERR_SHAPE,
        "hessian_n: the output has shape [2,3]: second derivatives");
    FRESH();
    ERR(tg_hvp_n(Y, 2, xs, vs, R, 0), TG_ERR_SHAPE, "hvp_n: the output has shape [2,3]");
    FRESH();
    ERR(tg_vjp_n(Y, 2, xs, NULL, R, 0), TG_ERR_NULL,
        "vjp_n: u is NULL but the output has shape [2,3]");
    FRESH();
    ERR(tg_vjp_n(Y, 2, xs, vs[0], R, 0), TG_ERR_SHAPE,
        "vjp_n: u has shape [3] but the output y has shape [2,3]");
    FRESH();
    ERR(tg_vjp_n(Y, 2, xs, tg_ones(other, TG_F64, TG_SHAPE(2, 3)), R, 0), TG_ERR_TAPE,
        "vjp_n: u belongs to another tape than the output");
    FRESH();
    tg_tape_set_grad_enabled(tape, false);
    ERR(tg_hvp_n(f, 2, xs, vs, R, 0), TG_ERR_STATE, "hvp_n: recording is off");
    tg_tape_set_grad_enabled(tape, true);
    FRESH();
    {
        int64_t s3[3] = {1, 1, 2}, s5[5] = {1, 1, 1, 1, 2};
        tg_tensor *a = tg_requires_grad(tg_zeros(tape, TG_F64, 3, s3));
        tg_tensor *b = tg_requires_grad(tg_zeros(tape, TG_F64, 5, s5));
        tg_tensor *ab[2] = {a, b};
        ERR(tg_hessian_n(tg_add(tg_sum(a), tg_sum(tg_exp(b))), 2, ab, R, 0), TG_ERR_SHAPE,
            "hessian_n: the result would have rank 10 ([1,1,1,1,2] and [1,1,1,1,2]): at most 8");
    }
    /* the output on one tape, its inputs elsewhere, or nothing to record on */
    FRESH();
    CHECK(tg_hessian_n(NULL, 1, (tg_tensor *[]){NULL}, R, 0) == TG_ERR_NULL && tg_tape_ok(tape),
          "nothing to record on: TG_ERR_NULL");
    /* sticky: a later call gives the first error */
    FRESH();
    tg_hessian_n(f, 0, xs, R, 0);
    CHECK(tg_hessian_n(f, 2, xs, R, 0) == TG_ERR_ARG && R[0] == NULL, "sticky");
    CHECK_OK(other);
#undef ERR
#undef FRESH
    tg_tape_free(tape);
    tg_tape_free(other);
}

/* ---------------------------------------------------------------- memory */

/* A steady loop of list forms (recorded blocks, H v with a v that
 * requires grad, a third-order backward): from the second pass on, each
 * uses the same tape bytes, so nothing grows from call to call (and under
 * valgrind nothing leaks when the tape is freed). */
static void test_steady(void) {
    tg_tape *tape = tg_tape_new();
    size_t second = 0;
    for (int it = 0; it < 5; it++) {
        tg_tape_reset(tape);
        tg_tensor *xs[2] = {leaf_x(tape, TG_F64), leaf_y(tape, TG_F64)}, *H[4], *hv[2];
        tg_tensor *vs[2] = {tg_requires_grad(tg_ones(tape, TG_F64, TG_SHAPE(3))),
                            tg_ones(tape, TG_F64, TG_SHAPE(2, 3))};
        tg_tensor *f = cross(xs[0], xs[1]);
        tg_hessian_n(f, 2, xs, H, TG_CREATE_GRAPH);
        tg_hvp_n(f, 2, xs, vs, hv, TG_CREATE_GRAPH);
        tg_backward(tg_add(tg_sum(tg_mul(H[1], H[1])), tg_sum(hv[1])));
        CHECK_OK(tape);
        if (it == 1) second = tg_tape_bytes(tape);
        if (it > 1)
            CHECK(tg_tape_bytes(tape) == second, "pass %d: %zu tape bytes, pass 1 %zu", it,
                  tg_tape_bytes(tape), second);
    }
    tg_tape_free(tape);
}

/* ------------------------------------------------------------- PyTorch */

/* mlp2(W, b, X) = mean(tanh(X W + b)^2) * sum(sigmoid(b)) */
static tg_tensor *mlp2(tg_tensor *W, tg_tensor *b, tg_tensor *X) {
    tg_tensor *h = tg_tanh(tg_add(tg_matmul(X, W), b));
    return tg_mul(tg_mean(tg_pow_scalar(h, 2)), tg_sum(tg_sigmoid(b)));
}

/* Builders per case (tests/ref_higher.py): the inputs are the variables,
 * then the directions (hvp_n, jvp_n) or u (vjp_n), then the constants; the
 * results flattened and joined in order. */
OP(r_hess_cross, hess_cat(cross(x[0], x[1]), 2, x))
OP(r_hess_mlp2, hess_cat(mlp2(x[0], x[1], x[2]), 2, x))
OP(r_hvp_cross, hvp_cat(cross(x[0], x[1]), 2, x, x + 2))
OP(r_hvp_mlp2, hvp_cat(mlp2(x[0], x[1], x[4]), 2, x, x + 2))
OP(r_jac_vcross, jac_cat(vcross(x[0], x[1]), 2, x))
OP(r_jvp_vcross, tg_jvp_n(vcross(x[0], x[1]), 2, x, x + 2, TG_CREATE_GRAPH))
OP(r_vjp_vcross, vjp_cat(vcross(x[0], x[1]), 2, x, x[2]))
OP(r_jac_vmm, jac_cat(tg_matmul(x[0], x[1]), 2, x))
OP(r_jvp_vmm, tg_jvp_n(tg_matmul(x[0], x[1]), 2, x, x + 2, TG_CREATE_GRAPH))
OP(r_vjp_vmm, vjp_cat(tg_matmul(x[0], x[1]), 2, x, x[2]))

static const ref_entry table[] = {
    {"hessian_n/cross", r_hess_cross},
    {"hessian_n/cross_f32", r_hess_cross},
    {"hessian_n/mlp2", r_hess_mlp2},
    {"hvp_n/cross", r_hvp_cross},
    {"hvp_n/mlp2", r_hvp_mlp2},
    {"jacobian_n/vcross", r_jac_vcross},
    {"jacobian_n/vmm", r_jac_vmm},
    {"jvp_n/vcross", r_jvp_vcross},
    {"jvp_n/vmm", r_jvp_vmm},
    {"vjp_n/vcross", r_vjp_vcross},
    {"vjp_n/vmm", r_vjp_vmm},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/ref/higher_multi.txt";
    test_hessian_blocks();
    test_hessian_f32();
    test_hvp();
    test_jacobian_products();
    test_third();
    test_differentiable();
    test_grad_constant();
    test_errors();
    test_steady();
    ref_run_file(path, table, 1e-5, 1e-12);
    return TEST_DONE("higher_multi");
}
