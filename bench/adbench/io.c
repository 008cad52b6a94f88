/* io.c - ADBench's input and output files (docs/FileFormat.md and its
 * runner's writers): numbers separated by white space, read with fscanf. */
#include "adbench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return false;
}

/* n arrays from f, in order: *outs[i] gets counts[i] doubles (malloc'd;
 * NULL from the first that runs short on) */
static bool read_arrays(FILE *f, int n, double **const *outs, const size_t *counts) {
    for (int a = 0; a < n; a++) {
        double *v = malloc((counts[a] ? counts[a] : 1) * sizeof *v);
        *outs[a] = v;
        if (!v) return false;
        for (size_t i = 0; i < counts[a]; i++)
            if (fscanf(f, "%lf", &v[i]) != 1) return false;
    }
    return true;
}

/* sizes in 1..limit */
static bool sizes_ok(int a, int b, int c, int limit) {
    return a > 0 && b > 0 && c > 0 && a <= limit && b <= limit && c <= limit;
}

int adb_gmm_nparams(const adb_gmm *g) {
    return g->k + g->k * g->d + g->k * (g->d * (g->d + 1) / 2);
}

int adb_lstm_nparams(const adb_lstm *s) { return 8 * s->l * s->b + 3 * s->b; }

bool adb_gmm_read(const char *path, adb_gmm *g, char *err, size_t n) {
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, n, "gmm: cannot open %s", path);
    bool ok = fscanf(f, "%d %d %d", &g->d, &g->k, &g->n) == 3 &&
              sizes_ok(g->d, g->k, g->n, 1 << 20) && g->d <= 4096;
    size_t d = (size_t)g->d, k = (size_t)g->k;
    double **const arrays[4] = {&g->alphas, &g->means, &g->icf, &g->x};
    const size_t counts[4] = {k, k * d, k * (d * (d + 1) / 2), (size_t)g->n * d};
    ok = ok && read_arrays(f, 4, arrays, counts) && fscanf(f, "%lf %d", &g->gamma, &g->m) == 2;
    fclose(f);
    if (!ok) {
        adb_gmm_free(g);
        return fail(err, n, "gmm: %s: bad or short data", path);
    }
    return true;
}

void adb_gmm_free(adb_gmm *g) {
    free(g->alphas), free(g->means), free(g->icf), free(g->x);
    memset(g, 0, sizeof *g);
}

bool adb_lstm_read(const char *path, adb_lstm *s, char *err, size_t n) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, n, "lstm: cannot open %s", path);
    bool ok = fscanf(f, "%d %d %d", &s->l, &s->c, &s->b) == 3 &&
              sizes_ok(s->l, s->c, s->b, 1 << 20);
    size_t l = (size_t)s->l, b = (size_t)s->b;
    double **const arrays[4] = {&s->main_params, &s->extra_params, &s->state, &s->seq};
    const size_t counts[4] = {8 * l * b, 3 * b, 2 * l * b, (size_t)s->c * b};
    ok = ok && read_arrays(f, 4, arrays, counts);
    fclose(f);
    if (!ok) {
        adb_lstm_free(s);
        return fail(err, n, "lstm: %s: bad or short data", path);
    }
    return true;
}

void adb_lstm_free(adb_lstm *s) {
    free(s->main_params), free(s->extra_params), free(s->state), free(s->seq);
    memset(s, 0, sizeof *s);
}

bool adb_ba_read(const char *path, adb_ba *b, char *err, size_t n) {
    memset(b, 0, sizeof *b);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, n, "ba: cannot open %s", path);
    double cam[ADB_BA_NCAM], X[3], w, feat[2];
    bool ok = fscanf(f, "%d %d %d", &b->n, &b->m, &b->p) == 3 &&
              sizes_ok(b->n, b->m, b->p, 1 << 26);
    for (int i = 0; ok && i < ADB_BA_NCAM; i++) ok = fscanf(f, "%lf", &cam[i]) == 1;
    for (int i = 0; ok && i < 3; i++) ok = fscanf(f, "%lf", &X[i]) == 1;
    ok = ok && fscanf(f, "%lf %lf %lf", &w, &feat[0], &feat[1]) == 3;
    fclose(f);
    if (!ok) return fail(err, n, "ba: %s: bad or short data", path);
    size_t nn = (size_t)b->n, m = (size_t)b->m, p = (size_t)b->p;
    b->cams = malloc(nn * ADB_BA_NCAM * sizeof *b->cams);
    b->X = malloc(m * 3 * sizeof *b->X);
    b->w = malloc(p * sizeof *b->w);
    b->feats = malloc(p * 2 * sizeof *b->feats);
    b->obs = malloc(p * 2 * sizeof *b->obs);
    if (!b->cams || !b->X || !b->w || !b->feats || !b->obs) {
        adb_ba_free(b);
        return fail(err, n, "ba: %s: out of memory", path);
    }
    for (size_t i = 0; i < nn; i++) memcpy(b->cams + i * ADB_BA_NCAM, cam, sizeof cam);
    for (size_t i = 0; i < m; i++) memcpy(b->X + i * 3, X, sizeof X);
    for (size_t i = 0; i < p; i++) {
        b->w[i] = w;
        b->feats[2 * i] = feat[0], b->feats[2 * i + 1] = feat[1];
        b->obs[2 * i] = (int)(i % nn), b->obs[2 * i + 1] = (int)(i % m);
    }
    return true;
}

void adb_ba_free(adb_ba *b) {
    free(b->cams), free(b->X), free(b->w), free(b->feats), free(b->obs);
    memset(b, 0, sizeof *b);
}

/* The structure is fixed by the problem: rows of 15 nonzeros, then rows
 * of one (see adb_ba_jacobian); the values are filled in later. */
bool adb_ba_jac_alloc(adb_ba_jac *J, const adb_ba *b) {
    size_t p = (size_t)b->p, nnz = 30 * p + p;
    J->nrows = 3 * b->p;
    J->ncols = ADB_BA_NCAM * b->n + 3 * b->m + b->p;
    J->rows = malloc((3 * p + 1) * sizeof *J->rows);
    J->cols = malloc(nnz * sizeof *J->cols);
    J->vals = calloc(nnz, sizeof *J->vals);
    if (!J->rows || !J->cols || !J->vals) {
        adb_ba_jac_free(J);
        return false;
    }
    int pt0 = ADB_BA_NCAM * b->n, w0 = pt0 + 3 * b->m;
    for (size_t i = 0; i <= 2 * p; i++) J->rows[i] = (int)(15 * i);
    for (size_t i = 1; i <= p; i++) J->rows[2 * p + i] = (int)(30 * p + i);
    for (size_t i = 0; i < p; i++) {
        int *c = J->cols + 30 * i;
        for (int r = 0; r < 2; r++, c += 15) {
            for (int j = 0; j < ADB_BA_NCAM; j++) c[j] = ADB_BA_NCAM * b->obs[2 * i] + j;
            for (int j = 0; j < 3; j++) c[ADB_BA_NCAM + j] = pt0 + 3 * b->obs[2 * i + 1] + j;
            c[14] = w0 + (int)i;
        }
        J->cols[30 * p + i] = w0 + (int)i;
    }
    return true;
}

void adb_ba_jac_free(adb_ba_jac *J) {
    free(J->rows), free(J->cols), free(J->vals);
    memset(J, 0, sizeof *J);
}

bool adb_write_values(const char *path, const double *v, int n) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    for (int i = 0; i < n; i++) fprintf(f, "%e\n", v[i]);
    return fclose(f) == 0;
}

bool adb_write_ba_f(const char *path, const double *reproj, const double *werr, int p) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fprintf(f, "Reprojection error:\n");
    for (int i = 0; i < 2 * p; i++) fprintf(f, "%e\n", reproj[i]);
    fprintf(f, "Zach weight error:\n");
    for (int i = 0; i < p; i++) fprintf(f, "%e\n", werr[i]);
    return fclose(f) == 0;
}

bool adb_write_ba_j(const char *path, const adb_ba_jac *J) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    int nnz = J->rows[J->nrows];
    fprintf(f, "%d %d\n%d\n", J->nrows, J->ncols, J->nrows + 1);
    for (int i = 0; i <= J->nrows; i++) fprintf(f, "%d ", J->rows[i]);
    fprintf(f, "\n%d\n", nnz);
    for (int i = 0; i < nnz; i++) fprintf(f, "%d ", J->cols[i]);
    fprintf(f, "\n");
    for (int i = 0; i < nnz; i++) fprintf(f, "%g ", J->vals[i]);
    return fclose(f) == 0;
}

bool adb_write_times(const char *path, double t_obj, double t_der) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fprintf(f, "%e\n%e", t_obj, t_der);
    return fclose(f) == 0;
}
