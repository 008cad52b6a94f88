/* test_fuse.c - fused elementwise chains (tg_tape_set_fusion, tg_core.h):
 * for every elementwise row, f32 and f64, a fused chain's value, sum and
 * gradient are bit for bit those of the same chain unfused; DAGs, long
 * chains, lazy values read by other ops and by the user, backward from a
 * lazy root, second derivatives against finite differences, resets with
 * lazy records outstanding, what records unfused, and the memory saved. */
#include "tg_test.h"

enum { N = 3000 }; /* not a multiple of a block: the last block is short */

typedef tg_tensor *(*ufn)(tg_tensor *a);
typedef tg_tensor *(*bfn)(tg_tensor *a, tg_tensor *b);

static tg_tensor *addc(tg_tensor *a) { return tg_add_scalar(a, 0.375); }
static tg_tensor *subc(tg_tensor *a) { return tg_sub_scalar(a, 0.375); }
static tg_tensor *rsubc(tg_tensor *a) { return tg_rsub_scalar(a, 1.5); }
static tg_tensor *mulc(tg_tensor *a) { return tg_mul_scalar(a, -1.25); }
static tg_tensor *divc(tg_tensor *a) { return tg_div_scalar(a, 3.0); }
static tg_tensor *rdivc(tg_tensor *a) { return tg_rdiv_scalar(a, 2.0); }
static tg_tensor *pow2(tg_tensor *a) { return tg_pow_scalar(a, 2.0); }
static tg_tensor *pow3(tg_tensor *a) { return tg_pow_scalar(a, 3.0); }
static tg_tensor *powh(tg_tensor *a) { return tg_pow_scalar(a, 0.5); }
static tg_tensor *pow0(tg_tensor *a) { return tg_pow_scalar(a, 0.0); }
static tg_tensor *softplus(tg_tensor *a) { return tg_softplus(a, 2.0, 1.0); }
static tg_tensor *gelu(tg_tensor *a) { return tg_gelu(a, false); }
static tg_tensor *gelu_t(tg_tensor *a) { return tg_gelu(a, true); }
static tg_tensor *leaky(tg_tensor *a) { return tg_leaky_relu(a, 0.1); }
static tg_tensor *elu(tg_tensor *a) { return tg_elu(a, 0.7); }
static tg_tensor *clamp(tg_tensor *a) { return tg_clamp(a, -0.3, 0.4); }

/* every row of TG_UNARY_OPS (tg_ewlist.h), with its scalar forms; pos:
 * the inputs must be positive */
static const struct { const char *name; ufn f; bool pos; } unary[] = {
    {"add_scalar", addc, 0},   {"sub_scalar", subc, 0}, {"rsub_scalar", rsubc, 0},
    {"mul_scalar", mulc, 0},   {"div_scalar", divc, 0}, {"rdiv_scalar", rdivc, 1},
    {"pow_scalar 2", pow2, 0}, {"pow_scalar 3", pow3, 0}, {"pow_scalar 0.5", powh, 1},
    {"pow_scalar 0", pow0, 0}, {"neg", tg_neg, 0},      {"exp", tg_exp, 0},
    {"log", tg_log, 1},        {"sqrt", tg_sqrt, 1},    {"sin", tg_sin, 0},
    {"cos", tg_cos, 0},        {"tan", tg_tan, 0},      {"tanh", tg_tanh, 0},
    {"sigmoid", tg_sigmoid, 0}, {"relu", tg_relu, 0},   {"abs", tg_abs, 0},
    {"log1p", tg_log1p, 0},    {"expm1", tg_expm1, 0},  {"erf", tg_erf, 0},
    {"square", tg_square, 0},  {"reciprocal", tg_reciprocal, 1}, {"rsqrt", tg_rsqrt, 1},
    {"softplus", softplus, 0}, {"gelu", gelu, 0},       {"gelu tanh", gelu_t, 0},
    {"leaky_relu", leaky, 0},  {"elu", elu, 0},         {"silu", tg_silu, 0},
    {"clamp", clamp, 0},       {"sign", tg_sign, 0},
};

/* every row of TG_BINARY_OPS */
static const struct { const char *name; bfn f; } binary[] = {
    {"add", tg_add}, {"sub", tg_sub}, {"mul", tg_mul}, {"div", tg_div},
    {"pow", tg_pow}, {"maximum", tg_maximum}, {"minimum", tg_minimum},
};

static void fill(double *v, int64_t n, uint64_t seed, bool pos) {
    tg_rng r;
    tg_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        double u = tg_rng_uniform(&r);
        v[i] = pos ? 0.1 + 1.5 * u : 2 * u - 1;
        if (i % 97 == 5) v[i] = 0; /* the kinks: relu, abs, sign, clamp, pow at 0 */
    }
    if (!pos) v[7] = v[8]; /* a tie for maximum and minimum (with y below) */
}

static tg_tensor *leaf(tg_tape *t, tg_dtype dt, const double *v, int64_t n) {
    tg_tensor *x = tg_zeros(t, dt, 1, &n);
    for (int64_t i = 0; i < n; i++) {
        if (dt == TG_F32) tg_tensor_f32(x)[i] = (float)v[i];
        else tg_tensor_f64(x)[i] = v[i];
    }
    return tg_requires_grad(x);
}

/* a and b hold the same values bit for bit, NaN payloads aside (which
 * NaN of two an addition keeps is the compiler's choice of operand order). */
static bool same_bits(tg_tensor *a, tg_tensor *b) {
    if (!a || !b || tg_tensor_numel(a) != tg_tensor_numel(b)) return false;
    for (int64_t i = 0; i < tg_tensor_numel(a); i++) {
        double x = tg_tensor_get(a, i), y = tg_tensor_get(b, i);
        if (!(memcmp(&x, &y, sizeof x) == 0 || (isnan(x) && isnan(y)))) return false;
    }
    return true;
}

/* The largest |a - b| / (1 + |b|) over the elements. */
static double max_diff(tg_tensor *a, tg_tensor *b) {
    double w = 0;
    for (int64_t i = 0; i < tg_tensor_numel(a); i++) {
        double x = tg_tensor_get(a, i), y = tg_tensor_get(b, i), d = fabs(x - y) / (1 + fabs(y));
        if (d > w || isnan(d)) w = d;
    }
    return w;
}

/* One run of a chain on a tape with fusion at `min` (0: off): the sum L,
 * the chain's value z (read after L, so L's sum was fused), x's and y's
 * gradients. */
typedef struct run {
    double L;
    tg_tensor *z, *gx, *gy;
} run;

static run chain(tg_tape *t, int64_t min, tg_dtype dt, const double *xv, const double *yv,
                 int k, bool bin) {
    tg_tape_reset(t);
    tg_tape_set_fusion(t, min);
    tg_tensor *x = leaf(t, dt, xv, N), *y = leaf(t, dt, yv, N);
    /* x1 = x * 1: so that the op's input is itself lazy */
    tg_tensor *x1 = tg_mul_scalar(x, 1.0);
    tg_tensor *z = bin ? binary[k].f(x1, y) : unary[k].f(x1);
    tg_tensor *L = tg_sum(tg_mul(z, x)); /* x again, as a boundary */
    run r = {0};
    r.L = tg_item(L);
    tg_grad(L, NULL, 1, &x, &r.gx, 0);
    tg_grad(L, NULL, 1, &y, &r.gy, 0);
    r.z = z;
    return r;
}

static void check_rows(tg_dtype dt) {
    double *xv = malloc(N * sizeof *xv), *xp = malloc(N * sizeof *xp), *yv = malloc(N * sizeof *yv);
    fill(xv, N, 1, false), fill(xp, N, 2, true), fill(yv, N, 3, true);
    tg_tape *te = tg_tape_new(), *tf = tg_tape_new();
    const char *dn = dt == TG_F32 ? "f32" : "f64";
    int nu = (int)(sizeof unary / sizeof unary[0]), nb = (int)(sizeof binary / sizeof binary[0]);
    for (int k = 0; k < nu + nb; k++) {
        bool bin = k >= nu;
        int j = bin ? k - nu : k;
        const char *name = bin ? binary[j].name : unary[j].name;
        const double *x = bin ? (binary[j].f == tg_pow ? xp : xv) : unary[j].pos ? xp : xv;
        size_t b0 = tg_tape_bytes(tf);
        (void)b0;
        run e = chain(te, 0, dt, x, yv, j, bin);
        run f = chain(tf, 1, dt, x, yv, j, bin);
        CHECK_OK(te);
        CHECK_OK(tf);
        CHECK(memcmp(&e.L, &f.L, sizeof e.L) == 0, "%s %s: fused sum %.17g, unfused %.17g", name,
              dn, f.L, e.L);
        CHECK(same_bits(e.gx, f.gx), "%s %s: x's gradient differs", name, dn);
        CHECK(same_bits(e.gy, f.gy), "%s %s: y's gradient differs", name, dn);
        CHECK(same_bits(e.z, f.z), "%s %s: the value differs", name, dn);
    }
    tg_tape_free(te), tg_tape_free(tf);
    free(xv), free(xp), free(yv);
}

/* The bytes a chain keeps: lazy records own no data. */
static void check_bytes(void) {
    tg_tape *t = tg_tape_new();
    tg_tape_set_fusion(t, 1);
    int64_t n = N;
    tg_tensor *x = tg_requires_grad(tg_full(t, TG_F64, 1, &n, 0.5));
    size_t b0 = tg_tape_bytes(t);
    tg_tensor *z = tg_exp(tg_sin(tg_mul_scalar(x, 2.0)));
    CHECK(tg_tape_bytes(t) == b0 + 3 * 64, "three lazy records: %zu bytes, expected %zu",
          tg_tape_bytes(t), b0 + 3 * 64);
    tg_tensor *L = tg_sum(z);
    CHECK(tg_tape_bytes(t) == b0 + 4 * 64, "a fused sum stores none of the chain: %zu",
          tg_tape_bytes(t));
    CHECK_NEAR(tg_item(L), n * exp(sin(1.0)), 1e-12);
    tg_backward(L);
    /* the backward's only buffer: x's gradient */
    CHECK(tg_tape_bytes(t) == b0 + 4 * 64 + (size_t)n * 8, "fused backward: %zu",
          tg_tape_bytes(t));
    CHECK_NEAR(tg_tensor_get(tg_tensor_grad(x), 3), exp(sin(1.0)) * cos(1.0) * 2, 1e-12);
    CHECK(tg_tape_fusion(t) == 1 && tg_tape_set_fusion(t, 0) == 1 && tg_tape_fusion(t) == 0,
          "the setting");
    CHECK(tg_tape_fusion(NULL) == -1 && tg_tape_set_fusion(NULL, 5) == -1, "NULL tape");
    CHECK(tg_tape_set_fusion(t, -7) == 0 && tg_tape_fusion(t) == 0, "a negative threshold is off");
    /* off: every op stores its data */
    tg_tape_reset(t);
    x = tg_full(t, TG_F64, 1, &n, 0.5);
    b0 = tg_tape_bytes(t);
    tg_exp(x);
    CHECK(tg_tape_bytes(t) == b0 + 64 + (size_t)n * 8, "off: %zu", tg_tape_bytes(t));
    /* below the threshold: unfused */
    tg_tape_set_fusion(t, n + 1);
    b0 = tg_tape_bytes(t);
    tg_exp(x);
    CHECK(tg_tape_bytes(t) == b0 + 64 + (size_t)n * 8, "below the threshold: %zu",
          tg_tape_bytes(t));
    /* recording off: unfused */
    tg_tape_set_fusion(t, 1);
    bool was = tg_tape_set_grad_enabled(t, false);
    b0 = tg_tape_bytes(t);
    tg_exp(x);
    CHECK(tg_tape_bytes(t) == b0 + 64 + (size_t)n * 8, "recording off: %zu", tg_tape_bytes(t));
    tg_tape_set_grad_enabled(t, was);
    /* broadcasting and i64: unfused */
    b0 = tg_tape_bytes(t);
    tg_add(x, tg_scalar(t, 1.0));
    CHECK(tg_tape_bytes(t) >= b0 + 64 + (size_t)n * 8, "broadcast: %zu", tg_tape_bytes(t));
    tg_tape_free(t);
}

/* A run of the DAG test: t = x*x; u = t + sin(t); L = sum(u * t) +
 * sum(a - b^2) with a, b two slices of x (x used twice), and a long chain
 * past one group's capacity. */
static double dag(tg_tape *t, int64_t min, const double *xv, tg_tensor **gx) {
    tg_tape_reset(t);
    tg_tape_set_fusion(t, min);
    tg_tensor *x = leaf(t, TG_F64, xv, N);
    tg_tensor *sq = tg_mul(x, x);
    tg_tensor *u = tg_add(sq, tg_sin(sq));
    tg_tensor *a = tg_slice(x, 0, 0, N - 1, 1), *b = tg_slice(x, 0, 1, N, 1);
    tg_tensor *c = tg_sub(a, tg_square(b));
    tg_tensor *l = tg_mul_scalar(x, 1.0);
    for (int i = 0; i < 100; i++) l = i % 2 ? tg_sin(l) : tg_add(l, x);
    tg_tensor *L = tg_add(tg_add(tg_sum(tg_mul(u, sq)), tg_sum(c)), tg_sum(l));
    tg_backward(L);
    *gx = tg_tensor_grad(x);
    return tg_item(L);
}

static void check_dag(void) {
    double *xv = malloc(N * sizeof *xv);
    fill(xv, N, 4, false);
    tg_tape *te = tg_tape_new(), *tf = tg_tape_new();
    tg_tensor *ge, *gf;
    double le = dag(te, 0, xv, &ge), lf = dag(tf, 1, xv, &gf);
    CHECK_OK(te);
    CHECK_OK(tf);
    CHECK(memcmp(&le, &lf, sizeof le) == 0, "DAG: fused %.17g, unfused %.17g", lf, le);
    /* x's gradient comes from several chains and from the slices: each
     * chain's part is added as one sum (tg_tape_set_fusion) */
    CHECK(max_diff(gf, ge) <= 1e-14, "DAG: x's gradient differs by %g", max_diff(gf, ge));
    tg_tape_free(te), tg_tape_free(tf);
    free(xv);
}

/* Views as a chain's inputs: slices and a reshape of x, one slice also read
 * by an op that does not fuse, before and after the chain (its gradient
 * then comes both through the chain and through its own backward). */
static double views(tg_tape *t, int64_t min, tg_dtype dt, const double *xv, bool late,
                    tg_tensor **gx) {
    tg_tape_reset(t);
    tg_tape_set_fusion(t, min);
    tg_tensor *x = leaf(t, dt, xv, 4096);
    tg_tensor *a = tg_slice(x, 0, 0, 4000, 1), *b = tg_slice(x, 0, 96, 4096, 1);
    tg_tensor *m = tg_reshape(tg_slice(x, 0, 0, 4096, 1), TG_SHAPE(64, 64));
    tg_tensor *early = late ? NULL : tg_sum(tg_softmax(tg_reshape(a, TG_SHAPE(40, 100)), 1));
    tg_tensor *c = tg_mul(tg_sin(a), tg_add_scalar(b, 0.5));
    tg_tensor *L = tg_add(tg_sum(c), tg_sum(tg_exp(m)));
    if (late) L = tg_add(L, tg_sum(tg_softmax(tg_reshape(a, TG_SHAPE(40, 100)), 1)));
    else L = tg_add(L, early);
    tg_backward(L);
    *gx = tg_tensor_grad(x);
    /* tg_grad of a slice that feeds the chain: its own gradient */
    tg_tensor *ga = NULL;
    tg_grad(L, NULL, 1, &b, &ga, 0);
    double want = sin(tg_tensor_get(a, 200)); /* d(sin(a) (b + 0.5))/db */
    CHECK(ga && fabs(tg_tensor_get(ga, 200) - want) <= (dt == TG_F32 ? 1e-7 : 0),
          "tg_grad of slice b: %.17g, expected %.17g", ga ? tg_tensor_get(ga, 200) : NAN, want);
    return tg_item(L);
}

static void check_views(void) {
    double *xv = malloc(4096 * sizeof *xv);
    fill(xv, 4096, 7, false);
    tg_tape *te = tg_tape_new(), *tf = tg_tape_new();
    for (int k = 0; k < 4; k++) {
        tg_dtype dt = k & 1 ? TG_F32 : TG_F64;
        tg_tensor *ge, *gf;
        double le = views(te, 0, dt, xv, k >= 2, &ge), lf = views(tf, 1, dt, xv, k >= 2, &gf);
        CHECK_OK(te);
        CHECK_OK(tf);
        CHECK(memcmp(&le, &lf, sizeof le) == 0, "views %d: fused %.17g, unfused %.17g", k, lf,
              le);
        double tol = dt == TG_F32 ? 1e-6 : 1e-14;
        CHECK(max_diff(gf, ge) <= tol, "views %d: x's gradient differs by %g", k,
              max_diff(gf, ge));
    }
    tg_tape_free(te), tg_tape_free(tf);
    free(xv);
}

/* A chain long enough for the pool: three slices of x at offsets 0, 1 and
 * off; with `prior`, x's gradient already holds a part when the chain's
 * backward adds into it (a later sum's, whose backward comes first). */
static double big(tg_tape *t, int64_t min, tg_dtype dt, const double *xv, int64_t n, int64_t off,
                  bool prior, tg_tensor **gx) {
    tg_tape_reset(t);
    tg_tape_set_fusion(t, min);
    tg_tensor *x = leaf(t, dt, xv, n + off);
    tg_tensor *a = tg_slice(x, 0, 0, n, 1), *b = tg_slice(x, 0, off, n + off, 1);
    tg_tensor *c = tg_slice(x, 0, 1, n + 1, 1);
    tg_tensor *t1 = tg_sub(b, tg_mul(a, a)), *t2 = tg_rsub_scalar(a, 1.0);
    tg_tensor *z = tg_add(tg_add(tg_mul_scalar(tg_mul(t1, t1), 100.0), tg_mul(t2, t2)),
                          tg_mul(tg_sin(c), a));
    tg_tensor *L = tg_sum(z);
    if (prior) L = tg_add(L, tg_sum(tg_mul_scalar(tg_exp(x), 0.5)));
    tg_backward(L);
    *gx = tg_tensor_grad(x);
    return tg_item(L);
}

/* On the pool, the fused sum's chunks and the backward of a chain through
 * views of one tensor at several offsets (each thread adds only into its
 * own elements): every thread count gives one thread's bits, and the sums
 * those of the unfused sum. Offset 700 reaches past a block: one thread. */
static void check_threads(void) {
    enum { NB = 200003 };
    double *xv = malloc((NB + 700) * sizeof *xv);
    fill(xv, NB + 700, 8, false);
    tg_tape *t1 = tg_tape_new(), *tn = tg_tape_new(), *te = tg_tape_new();
    for (int k = 0; k < 8; k++) {
        tg_dtype dt = k & 1 ? TG_F32 : TG_F64;
        int64_t off = k & 2 ? 700 : 2;
        bool prior = k & 4;
        tg_tensor *g1, *gn, *ge;
        tg_set_num_threads(1);
        double l1 = big(t1, 1, dt, xv, NB, off, prior, &g1);
        double le = big(te, 0, dt, xv, NB, off, prior, &ge);
        CHECK_OK(t1);
        CHECK_OK(te);
        CHECK(memcmp(&l1, &le, sizeof le) == 0, "big %d: fused %.17g, unfused %.17g", k, l1, le);
        /* the chain's terms (up to ~1e3, cancelling) added in another order */
        double tol = dt == TG_F32 ? 1e-4 : 1e-13;
        CHECK(max_diff(g1, ge) <= tol, "big %d: x's gradient differs by %g", k, max_diff(g1, ge));
        for (int th = 2; th <= 4; th++) {
            tg_set_num_threads(th);
            double ln = big(tn, 1, dt, xv, NB, off, prior, &gn);
            CHECK_OK(tn);
            CHECK(memcmp(&l1, &ln, sizeof ln) == 0, "big %d, %d threads: %.17g, one: %.17g", k,
                  th, ln, l1);
            CHECK(same_bits(g1, gn), "big %d, %d threads: x's gradient differs from one thread's",
                  k, th);
            ln = big(tn, 0, dt, xv, NB, off, prior, &gn);
            CHECK(memcmp(&le, &ln, sizeof ln) == 0, "big %d, %d threads unfused: %.17g, one: %.17g",
                  k, th, ln, le);
        }
    }
    tg_set_num_threads(0);
    tg_tape_free(t1), tg_tape_free(tn), tg_tape_free(te);
    free(xv);
}

/* Lazy values read by ops that do not fuse (matmul, softmax), by the user in
 * the middle of a chain, and backward from a lazy root with a seed. */
static void check_reads(void) {
    tg_tape *te = tg_tape_new(), *tf = tg_tape_new();
    tg_tensor *g[2][2];
    double v[2][3], *xv = malloc(64 * 64 * sizeof *xv);
    for (int i = 0; i < 64 * 64; i++) xv[i] = i;
    for (int k = 0; k < 2; k++) {
        tg_tape *t = k ? tf : te;
        tg_tape_set_fusion(t, k ? 1 : 0);
        tg_tensor *x = leaf(t, TG_F64, xv, 64 * 64);
        tg_tensor *xs = tg_mul_scalar(x, 1.0 / 4096);
        tg_tensor *h = tg_tanh(xs);
        v[k][0] = tg_tensor_get(h, 100); /* the user reads mid-chain */
        tg_tensor *m = tg_reshape(tg_exp(h), TG_SHAPE(64, 64)); /* a view of a lazy value */
        tg_tensor *p = tg_matmul(m, m);
        tg_tensor *s = tg_softmax(tg_mul_scalar(p, 0.01), 1);
        tg_tensor *r = tg_mul(tg_add(h, tg_reshape(s, TG_SHAPE(64 * 64))), h); /* lazy root */
        tg_tensor *seed = tg_full(t, TG_F64, TG_SHAPE(64 * 64), 0.5);
        CHECK(tg_backward_seed(r, seed) == TG_OK, "%s", tg_tape_error(t));
        v[k][1] = tg_tensor_get(r, 4000);
        v[k][2] = tg_item(tg_sum(r));
        g[k][0] = tg_tensor_grad(x);
        CHECK_OK(t);
    }
    for (int i = 0; i < 3; i++)
        CHECK(memcmp(&v[0][i], &v[1][i], 8) == 0, "read %d: fused %.17g, unfused %.17g", i,
              v[1][i], v[0][i]);
    CHECK(same_bits(g[0][0], g[1][0]), "gradient through matmul and softmax differs");
    tg_tape_free(te), tg_tape_free(tf);
    free(xv);
}

/* The gradient of a record inside a chain: NULL after tg_backward, and
 * tg_grad computes it (it is forced, so the chain ends there). */
static void check_inner_grad(void) {
    tg_tape *t = tg_tape_new();
    tg_tape_set_fusion(t, 1);
    int64_t n = N;
    tg_tensor *x = tg_requires_grad(tg_full(t, TG_F64, 1, &n, 0.25));
    tg_tensor *z = tg_sin(tg_mul_scalar(x, 2.0));
    tg_tensor *L = tg_sum(tg_square(z));
    CHECK(tg_backward(L) == TG_OK, "%s", tg_tape_error(t));
    CHECK(tg_tensor_grad(z) == NULL, "inside a chain: no gradient kept");
    tg_tensor *gz = NULL;
    CHECK(tg_grad(L, NULL, 1, &z, &gz, 0) == TG_OK, "%s", tg_tape_error(t));
    CHECK(gz && tg_tensor_get(gz, 17) == 2 * sin(0.5), "dL/dz = 2 z: %.17g",
          gz ? tg_tensor_get(gz, 17) : NAN);
    CHECK_NEAR(tg_tensor_get(tg_tensor_grad(x), 5), 2 * sin(0.5) * cos(0.5) * 2, 1e-15);
    tg_tape_free(t);
}

/* Second derivatives through a fused chain: tg_gradcheck's create-graph and
 * second-order checks against central differences in f64. */
static tg_tensor *fused_fn(tg_tape *t, tg_tensor *const *in, void *ud) {
    (void)ud;
    tg_tape_set_fusion(t, 1);
    tg_tensor *x = in[0], *y = in[1];
    tg_tensor *u = tg_mul(tg_sin(tg_mul(x, y)), tg_exp(tg_mul_scalar(x, 0.3)));
    return tg_sum(tg_add(tg_mul(u, u), tg_div(x, tg_add_scalar(tg_square(y), 1.0))));
}

static void check_higher(void) {
    tg_tape *t = tg_tape_new();
    double xv[40], yv[40];
    fill(xv, 40, 5, false), fill(yv, 40, 6, false);
    tg_tensor *in[2] = {leaf(t, TG_F64, xv, 40), leaf(t, TG_F64, yv, 40)};
    tg_gradcheck_opts o = {.second = true};
    tg_gradcheck_report rep;
    CHECK(tg_gradcheck(fused_fn, NULL, 2, in, &o, &rep), "second order: %s", rep.msg);
    /* grad of grad on a fused tape, directly */
    tg_tape_set_fusion(t, 1);
    tg_tensor *x = in[0];
    tg_tensor *L = tg_sum(tg_mul(tg_sin(x), tg_square(x)));
    tg_tensor *g;
    CHECK(tg_grad(L, NULL, 1, &x, &g, TG_CREATE_GRAPH) == TG_OK, "%s", tg_tape_error(t));
    tg_tensor *g2;
    CHECK(tg_grad(tg_sum(g), NULL, 1, &x, &g2, 0) == TG_OK, "%s", tg_tape_error(t));
    for (int i = 0; i < 40; i += 13) {
        double v = xv[i];
        double d2 = -sin(v) * v * v + 4 * cos(v) * v + 2 * sin(v);
        CHECK_NEAR(tg_tensor_get(g2, i), d2, 1e-12);
        CHECK_NEAR(tg_tensor_get(g, i), cos(v) * v * v + 2 * v * sin(v), 1e-12);
    }
    tg_tape_free(t);
}

/* Reset and free with lazy records outstanding; a write into a leaf does not
 * change a lazy record recorded before it. */
static void check_reset(void) {
    tg_tape *t = tg_tape_new();
    tg_tape_set_fusion(t, 1);
    int64_t n = N;
    for (int pass = 0; pass < 3; pass++) {
        tg_tensor *x = tg_requires_grad(tg_full(t, TG_F64, 1, &n, 1.0 + pass));
        tg_tensor *z = tg_exp(tg_neg(x));
        (void)z;
        tg_tape_reset(t); /* z never computed */
    }
    tg_tensor *x = tg_full(t, TG_F64, 1, &n, 2.0);
    tg_tensor *z = tg_mul_scalar(x, 3.0);
    double *p = tg_tensor_f64(x); /* a pointer to write through: z computes first */
    p[0] = 100;
    CHECK(tg_tensor_get(z, 0) == 6.0, "z after a write into x: %g", tg_tensor_get(z, 0));
    tg_tensor *w = tg_sqrt(tg_mul_scalar(x, 2.0)); /* left lazy: freed with the tape */
    (void)w;
    CHECK_OK(t);
    tg_tape_free(t);
}

/* A write into a parameter (as an optimizer step makes) does not change a
 * lazy record of the current pass that reads it, nor one on a second tape
 * that reads it: each tape's pending records compute first. */
static void check_param_write(void) {
    int64_t n = N;
    tg_tensor *w = tg_param_new(TG_F64, 1, &n);
    tg_tape *t = tg_tape_new(), *t2 = tg_tape_new();
    tg_tape_set_fusion(t, 1);
    tg_tape_set_fusion(t2, 1);
    double *p = tg_tensor_f64(w);
    for (int64_t i = 0; i < n; i++) p[i] = 2.0;
    tg_tensor *z = tg_mul_scalar(tg_param_on(t, w), 3.0);  /* lazy */
    tg_tensor *z2 = tg_add_scalar(tg_param_on(t2, w), 1.0); /* lazy, another tape */
    p = tg_tensor_f64(w); /* a pointer to write through: both compute first */
    p[0] = 100;
    p[n - 1] = -1;
    CHECK(tg_tensor_get(z, 0) == 6.0 && tg_tensor_get(z, n - 1) == 6.0,
          "z after a write into the parameter: %g %g", tg_tensor_get(z, 0), tg_tensor_get(z, n - 1));
    CHECK(tg_tensor_get(z2, 0) == 3.0, "z2 after a write into the parameter: %g",
          tg_tensor_get(z2, 0));
    /* the next pass reads the new values */
    tg_tape_reset(t);
    tg_tensor *z3 = tg_mul_scalar(tg_param_on(t, w), 3.0);
    CHECK(tg_tensor_get(z3, 0) == 300.0, "the next pass: %g", tg_tensor_get(z3, 0));
    CHECK_OK(t);
    CHECK_OK(t2);
    tg_tape_free(t);
    tg_tape_free(t2);
    tg_param_free(w);
}

/* A large sum of everything (at least 2 x 32768 elements, so on the pool),
 * fused and unfused, on 1 and 2 threads, and the gradient of an expand to
 * a scalar (tg__reduce_into): all in the order that ops/sum_order.h
 * documents, recomputed here from its description bit for bit: chunks of
 * ceil(ceil(n / 64) / 512) * 512 elements, element k of a chunk into lane
 * k % 16 (a double from 0), a chunk's lanes added in the tree 8, 4, 2, 1,
 * the chunk totals added in order from 0, rounded once to the dtype. */
static double order_sum(const double *v, int64_t n, bool f64) {
    int64_t chunk = ((n + 63) / 64 + 511) / 512 * 512;
    double s = 0;
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        double l[16] = {0};
        for (int64_t k = 0; k < chunk && c0 + k < n; k++)
            l[k % 16] += f64 ? 1.5 * v[c0 + k] : (double)((float)v[c0 + k] * 1.5f);
        for (int w = 8; w >= 1; w /= 2)
            for (int i = 0; i < w; i++) l[i] += l[i + w];
        s += l[0];
    }
    return f64 ? s : (double)(float)s;
}

static void check_big_sum(void) {
    enum { R = 2100, C = 41 }; /* 86,100 elements */
    double *v = malloc(R * C * sizeof *v);
    if (!v) return;
    fill(v, R * C, 7, false);
    tg_tape *t = tg_tape_new();
    for (int f64 = 0; f64 < 2; f64++) {
        tg_dtype dt = f64 ? TG_F64 : TG_F32;
        double want = order_sum(v, R * C, f64);
        for (int th = 1; th <= 2; th++)
            for (int fused = 0; fused < 2; fused++) {
                tg_set_num_threads(th);
                tg_tape_reset(t);
                tg_tape_set_fusion(t, fused ? 1 : 0);
                tg_tensor *x = tg_reshape(leaf(t, dt, v, R * C), TG_SHAPE(R, C));
                double got = tg_item(tg_sum(tg_mul_scalar(x, 1.5)));
                CHECK_OK(t);
                CHECK(memcmp(&got, &want, sizeof got) == 0,
                      "big sum %s, %d thread(s), %s: %.17g, want %.17g", f64 ? "f64" : "f32", th,
                      fused ? "fused" : "unfused", got, want);
                /* d/ds of sum(expand(s) * 1.5x): expand's backward sums the
                 * gradient 1.5x into one element */
                tg_tape_reset(t);
                tg_tape_set_fusion(t, 0);
                double one = 1;
                tg_tensor *s = leaf(t, dt, &one, 1);
                tg_tensor *y = tg_mul_scalar(tg_reshape(leaf(t, dt, v, R * C), TG_SHAPE(R, C)), 1.5);
                tg_tensor *e = tg_expand(s, 2, (int64_t[]){R, C});
                CHECK(tg_backward(tg_sum(tg_mul(e, y))) == TG_OK, "%s", tg_tape_error(t));
                double gs = tg_tensor_get(tg_tensor_grad(s), 0);
                CHECK(memcmp(&gs, &want, sizeof gs) == 0,
                      "expand backward %s, %d thread(s): %.17g, want %.17g", f64 ? "f64" : "f32",
                      th, gs, want);
            }
    }
    tg_set_num_threads(0);
    tg_tape_free(t);
    free(v);
}

int main(void) {
    check_rows(TG_F64);
    check_rows(TG_F32);
    check_bytes();
    check_dag();
    check_views();
    check_threads();
    check_reads();
    check_inner_grad();
    check_higher();
    check_reset();
    check_param_write();
    check_big_sum();
    return TEST_DONE("fuse");
}
