/* test_adbench.c - ADBench's problems (bench/adbench/): on gmm_d2_K5,
 * lstm_l2_c1024 and ba1, tapegrad's objective against the plain-C one, its
 * gradient / Jacobian against central finite differences of the plain-C
 * objective (a 4th-order 5-point stencil, Richardson-style, in f64) and
 * against PyTorch autograd (tests/ref/adbench.txt from tests/ref_adbench.py),
 * the BA Jacobian's sparsity, and the output files' formats.
 *
 *   test_adbench <bench/adbench/data> <tests/ref/adbench.txt>
 *
 * Tolerances: PyTorch |a - b| <= 1e-9 |b| + 1e-15 max|b| (the floor for the
 * exact zeros of the LSTM gradient); finite differences 1e-9 |b| + 1e-9
 * max|b| (what the stencil's truncation and rounding allow; see below). */
#include "tg_test.h"

#include "../bench/adbench/adbench.h"

#include <unistd.h>

static char data_dir[512];
static FILE *ref_file;

static void path_of(char *out, size_t n, const char *rel) {
    snprintf(out, n, "%s/%s", data_dir, rel);
}

/* the values of "<name> <tag> ..." in the reference file (n of them) */
static bool ref_values(const char *name, const char *tag, double *v, int n) {
    char line_name[64], line_tag[8];
    rewind(ref_file);
    while (fscanf(ref_file, "%63s %7s", line_name, line_tag) == 2) {
        bool hit = !strcmp(line_name, name) && !strcmp(line_tag, tag);
        int count = n;
        if (!strcmp(line_tag, "J") && fscanf(ref_file, "%d", &count) != 1) return false;
        if (hit) {
            if (count != n) return false;
            for (int i = 0; i < n; i++)
                if (fscanf(ref_file, "%lf", &v[i]) != 1) return false;
            return true;
        }
        int ch;
        while ((ch = fgetc(ref_file)) != '\n' && ch != EOF) {}
    }
    return false;
}

static double max_abs(const double *v, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* how many of got[i] miss want[i] by more than rel |want| + floor max|want| */
static int mismatches(const char *what, const double *got, const double *want, int n, double rel,
                      double floor) {
    double scale = max_abs(want, n);
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= rel * fabs(want[i]) + floor * scale)) {
            if (bad++ < 5)
                fprintf(stderr, "  %s[%d] = %.17g, expected %.17g\n", what, i, got[i], want[i]);
        }
    return bad;
}

/* 5-point central difference of f at v[i] (v restored) */
typedef double (*objective_fn)(void *ctx);
static double fd5(objective_fn f, void *ctx, double *v, double h) {
    double v0 = *v, fs[4];
    const double steps[4] = {-2, -1, 1, 2};
    for (int s = 0; s < 4; s++) {
        *v = v0 + steps[s] * h;
        fs[s] = f(ctx);
    }
    *v = v0;
    return (fs[0] - 8 * fs[1] + 8 * fs[2] - fs[3]) / (12 * h);
}

static double gmm_f(void *ctx) { return adb_gmm_objective(ctx); }
static double lstm_f(void *ctx) { return adb_lstm_objective(ctx); }

/* tapegrad's objective f (and with recording off, fnograd) against the
 * plain-C one fc and PyTorch's; its gradient against PyTorch's (want) */
static void check_against(const char *name, double f, double fnograd, double fc,
                          const double *grad, double *want, int np) {
    double fref = NAN;
    CHECK(fabs(f - fc) <= 1e-12 * fabs(fc), "%s objective %.17g, plain C %.17g", name, f, fc);
    CHECK(f == fnograd, "%s objective with recording off %.17g vs %.17g", name, fnograd, f);
    CHECK(ref_values(name, "F", &fref, 1) && ref_values(name, "J", want, np),
          "%s reference values missing", name);
    CHECK(fabs(f - fref) <= 1e-9 * fabs(fref), "%s objective %.17g, torch %.17g", name, f, fref);
    CHECK(mismatches(name, grad, want, np, 1e-9, 1e-15) == 0, "%s gradient vs torch", name);
}

/* ------------------------------------------------------------------ GMM */
static void test_gmm(tg_tape *tape) {
    char path[600], err[256];
    adb_gmm g;
    path_of(path, sizeof path, "gmm/gmm_d2_K5.txt");
    CHECK(adb_gmm_read(path, &g, err, sizeof err), "%s", err);
    if (!g.x) return;
    CHECK(g.d == 2 && g.k == 5 && g.n == 1000 && g.m == 0, "gmm_d2_K5 header");
    int np = adb_gmm_nparams(&g);
    CHECK(np == 5 + 10 + 15, "gmm params %d", np);
    double *grad = calloc((size_t)np, sizeof *grad), *want = calloc((size_t)np, sizeof *want);
    double *fd = calloc((size_t)np, sizeof *fd);
    double f = 0, fnograd = 0;
    CHECK(adb_gmm_grad(tape, &g, &f, grad), "gmm grad: %s", tg_tape_error(tape));
    CHECK(adb_gmm_grad(tape, &g, &fnograd, NULL), "gmm objective: %s", tg_tape_error(tape));
    check_against("gmm_d2_K5", f, fnograd, adb_gmm_objective(&g), grad, want, np);
    /* every parameter, in the input's order */
    double *params[3] = {g.alphas, g.means, g.icf};
    int sizes[3] = {g.k, g.k * g.d, g.k * g.d * (g.d + 1) / 2}, at = 0;
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < sizes[a]; i++) fd[at++] = fd5(gmm_f, &g, &params[a][i], 1e-3);
    CHECK(mismatches("gmm grad vs fd", grad, fd, np, 1e-9, 1e-9) == 0, "gmm vs fd");
    free(grad), free(want), free(fd);
    adb_gmm_free(&g);
}

/* ----------------------------------------------------------------- LSTM */
static void test_lstm(tg_tape *tape, bool quick) {
    char path[600], err[256];
    adb_lstm s;
    path_of(path, sizeof path, "lstm/lstm_l2_c1024.txt");
    CHECK(adb_lstm_read(path, &s, err, sizeof err), "%s", err);
    if (!s.seq) return;
    CHECK(s.l == 2 && s.c == 1024 && s.b == 14, "lstm_l2_c1024 header");
    int np = adb_lstm_nparams(&s);
    double *grad = calloc((size_t)np, sizeof *grad), *want = calloc((size_t)np, sizeof *want);
    double f = 0, fnograd = 0;
    CHECK(adb_lstm_grad(tape, &s, &f, grad), "lstm grad: %s", tg_tape_error(tape));
    CHECK(adb_lstm_grad(tape, &s, &fnograd, NULL), "lstm objective: %s", tg_tape_error(tape));
    check_against("lstm_l2_c1024", f, fnograd, adb_lstm_objective(&s), grad, want, np);
    /* finite differences: every parameter (every 7th under valgrind) */
    int step = quick ? 7 : 1, bad = 0;
    double scale = max_abs(want, np);
    for (int i = 0; i < np; i += step) {
        double *v = i < 8 * s.l * s.b ? &s.main_params[i] : &s.extra_params[i - 8 * s.l * s.b];
        double d = fd5(lstm_f, &s, v, 1e-4);
        if (!(fabs(grad[i] - d) <= 1e-9 * fabs(d) + 1e-9 * scale) && bad++ < 5)
            fprintf(stderr, "  lstm grad vs fd[%d] = %.17g, fd %.17g\n", i, grad[i], d);
    }
    CHECK(bad == 0, "lstm vs fd: %d mismatches", bad);
    free(grad), free(want);
    adb_lstm_free(&s);
}

/* ------------------------------------------------------------------- BA */
typedef struct obs_ctx {
    double in[15], feat[2];
    int out;
} obs_ctx;

static double obs_f(void *ctx) {
    obs_ctx *o = ctx;
    double e[2];
    adb_ba_project(o->in, o->in + ADB_BA_NCAM, o->in[14], o->feat, e);
    return e[o->out];
}

static void test_ba(tg_tape *tape, bool quick) {
    char path[600], err[256];
    adb_ba b;
    adb_ba_jac J = {0};
    path_of(path, sizeof path, "ba/ba1_n49_m7776_p31843.txt");
    CHECK(adb_ba_read(path, &b, err, sizeof err), "%s", err);
    if (!b.w) return;
    CHECK(b.n == 49 && b.m == 7776 && b.p == 31843, "ba1 header");
    CHECK(adb_ba_jac_alloc(&J, &b), "ba jac alloc");
    int p = b.p;
    double *reproj = malloc((size_t)p * 2 * sizeof *reproj), *werr = malloc((size_t)p * sizeof *werr);
    double *creproj = malloc((size_t)p * 2 * sizeof *creproj), *cwerr = malloc((size_t)p * sizeof *cwerr);
    double wantF[3], wantJ[45];
    CHECK(ref_values("ba1", "F", wantF, 3) && ref_values("ba1", "J", wantJ, 45),
          "ba reference values missing");
    /* every observation (the first 1000 under valgrind) */
    int pc = quick ? 1000 : p;
    CHECK(adb_ba_jacobian_range(tape, &b, 0, pc, reproj, werr, &J), "ba jacobian: %s",
          tg_tape_error(tape));
    adb_ba_objective(&b, creproj, cwerr);
    /* the structure: 15 nonzeros per reprojection row, then one per weight row */
    CHECK(J.nrows == 3 * p && J.ncols == 11 * 49 + 3 * 7776 + p, "ba J size %d x %d", J.nrows,
          J.ncols);
    CHECK(J.rows[0] == 0 && J.rows[1] == 15 && J.rows[2 * p] == 30 * p &&
              J.rows[3 * p] == 31 * p, "ba J rows");
    int i0 = 1234, c0 = i0 % 49, pt0 = i0 % 7776;
    const int *cols = J.cols + 30 * i0;
    CHECK(cols[0] == 11 * c0 && cols[10] == 11 * c0 + 10 && cols[11] == 539 + 3 * pt0 &&
              cols[14] == 539 + 3 * 7776 + i0 && cols[15] == 11 * c0,
          "ba J cols of observation %d", i0);
    CHECK(J.cols[30 * p + i0] == 539 + 3 * 7776 + i0, "ba J weight column");
    /* each observation: the same values (the data are replicated) */
    int badF = 0, badJ = 0;
    for (int i = 0; i < pc; i++) {
        double F[3] = {reproj[2 * i], reproj[2 * i + 1], werr[i]}, Jv[45];
        memcpy(Jv, J.vals + 30 * (size_t)i, 30 * sizeof *Jv);
        for (int j = 0; j < 15; j++) Jv[30 + j] = j == 14 ? J.vals[30 * (size_t)p + i] : 0;
        badF += mismatches("ba F vs torch", F, wantF, 3, 1e-9, 1e-15) > 0;
        badF += creproj[2 * i] != reproj[2 * i] || creproj[2 * i + 1] != reproj[2 * i + 1] ||
                cwerr[i] != werr[i];
        badJ += mismatches("ba J vs torch", Jv, wantJ, 45, 1e-9, 1e-15) > 0;
    }
    CHECK(badF == 0, "ba objective: %d observations differ", badF);
    CHECK(badJ == 0, "ba Jacobian: %d observations differ from torch", badJ);
    /* finite differences of the plain-C projection, observation 0 */
    obs_ctx o;
    memcpy(o.in, b.cams, 11 * sizeof(double));
    memcpy(o.in + 11, b.X, 3 * sizeof(double));
    o.in[14] = b.w[0], o.feat[0] = b.feats[0], o.feat[1] = b.feats[1];
    double fd[30];
    for (o.out = 0; o.out < 2; o.out++)
        for (int j = 0; j < 15; j++)
            fd[15 * o.out + j] = fd5(obs_f, &o, &o.in[j], 1e-4 * fmax(1.0, fabs(o.in[j])));
    CHECK(mismatches("ba J vs fd", J.vals, fd, 30, 1e-9, 1e-9) == 0, "ba vs fd");
    /* a range leaves the other rows alone */
    double keep = J.vals[30 * 5];
    J.vals[30 * 6] = 42, J.vals[30 * 7] = 0;
    CHECK(adb_ba_jacobian_range(tape, &b, 7, 9, reproj, werr, &J), "ba range");
    CHECK(J.vals[30 * 6] == 42 && J.vals[30 * 5] == keep &&
              fabs(J.vals[30 * 7] - wantJ[0]) <= 1e-9 * fabs(wantJ[0]), "ba range rows");
    free(reproj), free(werr), free(creproj), free(cwerr);
    adb_ba_jac_free(&J);
    adb_ba_free(&b);
}

/* --------------------------------------------------------- files, errors */
static bool file_text(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
    return true;
}

static void test_files(tg_tape *tape) {
    char path[600], err[256], dir[] = "/tmp/tg_adbench_XXXXXX", out[700], text[4096];
    adb_ba b;
    adb_ba_jac J = {0};
    path_of(path, sizeof path, "ba/test.txt");
    CHECK(adb_ba_read(path, &b, err, sizeof err) && adb_ba_jac_alloc(&J, &b), "%s", err);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    if (!b.w || !J.vals) return;
    double reproj[20], werr[10];
    CHECK(adb_ba_jacobian(tape, &b, reproj, werr, &J), "ba test.txt");
    snprintf(out, sizeof out, "%s/J.txt", dir);
    CHECK(adb_write_ba_j(out, &J), "write ba J");
    CHECK(file_text(out, text, sizeof text), "read back ba J");
    /* n = 2, m = 10, p = 10: 30 rows, 22 + 30 + 10 columns, 310 nonzeros */
    CHECK(!strncmp(text, "30 62\n31\n0 15 30 ", 17), "ba J head: %.40s", text);
    CHECK(strstr(text, " 300 301 302 ") && strstr(text, "\n310\n0 1 2 "), "ba J rows / cols");
    size_t len = strlen(text);
    CHECK(len > 2 && text[len - 1] == ' ' && text[len - 2] != '\n', "ba J ends in a value");
    snprintf(out, sizeof out, "%s/F.txt", dir);
    CHECK(adb_write_ba_f(out, reproj, werr, 10), "write ba F");
    CHECK(file_text(out, text, sizeof text) && !strncmp(text, "Reprojection error:\n", 20) &&
              strstr(text, "Zach weight error:\n8.260927e-01\n"), "ba F: %.60s", text);
    unlink(out);
    snprintf(out, sizeof out, "%s/J.txt", dir);
    unlink(out);
    snprintf(out, sizeof out, "%s/T.txt", dir);
    CHECK(adb_write_times(out, 1.5e-3, 2.25) && file_text(out, text, sizeof text) &&
              !strcmp(text, "1.500000e-03\n2.250000e+00"), "times file: %s", text);
    unlink(out);
    double v[2] = {-5240.590562549643, 0.5};
    snprintf(out, sizeof out, "%s/V.txt", dir);
    CHECK(adb_write_values(out, v, 2) && file_text(out, text, sizeof text) &&
              !strcmp(text, "-5.240591e+03\n5.000000e-01\n"), "values file: %s", text);
    unlink(out);
    rmdir(dir);
    adb_ba_jac_free(&J);
    adb_ba_free(&b);
    /* errors: a sentence, nothing allocated */
    adb_gmm g;
    CHECK(!adb_gmm_read("/nonexistent/gmm.txt", &g, err, sizeof err) &&
              strstr(err, "cannot open /nonexistent/gmm.txt") && !g.x, "gmm missing file: %s", err);
    path_of(path, sizeof path, "LICENSE.TXT");
    adb_lstm s;
    CHECK(!adb_lstm_read(path, &s, err, sizeof err) && strstr(err, "bad or short data") && !s.seq,
          "lstm bad file: %s", err);
    CHECK(!adb_ba_read(path, &b, err, sizeof err) && strstr(err, "bad or short data"),
          "ba bad file: %s", err);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_adbench <bench/adbench/data> <ref/adbench.txt>\n");
        return 2;
    }
    snprintf(data_dir, sizeof data_dir, "%s", argv[1]);
    ref_file = fopen(argv[2], "r");
    CHECK(ref_file != NULL, "cannot open %s", argv[2]);
    if (!ref_file) return TEST_DONE("adbench");
    bool quick = getenv("TG_TEST_QUICK") != NULL;
    tg_tape *tape = tg_tape_new();
    test_gmm(tape);
    test_lstm(tape, quick);
    test_ba(tape, quick);
    test_files(tape);
    tg_tape_free(tape);
    fclose(ref_file);
    return TEST_DONE("adbench");
}
