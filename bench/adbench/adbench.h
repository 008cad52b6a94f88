/* adbench.h - Microsoft's ADBench problems (GMM, LSTM, BA) for tapegrad:
 * the input readers and output writers of ADBench's formats (io.c), a
 * plain-C objective per problem (no AD: the baseline), and the
 * gradient / Jacobian by tapegrad's reverse mode (gmm.c, lstm.c, ba.c).
 * Definitions: microsoft/ADBench src/cpp/shared/{gmm,lstm,ba}.h and
 * docs/FileFormat.md (see bench/README.md, "ADBench"). All f64.
 *
 * Errors: the readers return false with a sentence in err; the tapegrad
 * functions return false when the tape records an error (its sentence is
 * tg_tape_error). Nothing aborts. */
#ifndef TG_ADBENCH_H
#define TG_ADBENCH_H

#include <stdbool.h>
#include <stddef.h>

#include <tapegrad.h>

/* ADBench's own constant (defs.h), not M_PI: its numbers use it. */
#define ADB_PI 3.14159265359

/* ---------------------------------------------------------------- GMM */
typedef struct adb_gmm {
    int d, k, n;      /* dimensions, components, points */
    double *alphas;   /* (k) */
    double *means;    /* (k, d) */
    double *icf;      /* (k, d(d+1)/2): log-diagonal q, then the strict
                         lower triangle column by column: L[j][i], i<j */
    double *x;        /* (n, d) */
    double gamma;     /* Wishart prior */
    int m;
} adb_gmm;

/* ------------------------------------------------------------------ LSTM */
typedef struct adb_lstm {
    int l, c, b;          /* layers, characters, hidden size (char bits) */
    double *main_params;  /* (l, 2, 4, b): per layer weights then biases,
                             each [forget | ingate | outgate | change] */
    double *extra_params; /* (3, b): in_weight, out_weight, out_bias */
    double *state;        /* (l, 2, b): per layer hidden then cell */
    double *seq;          /* (c, b) */
} adb_lstm;

/* -------------------------------------------------------------------- BA */
#define ADB_BA_NCAM 11 /* [rot 3 | center 3 | f | u0 v0 | k1 k2] */
typedef struct adb_ba {
    int n, m, p;   /* cameras, points, observations */
    double *cams;  /* (n, 11) */
    double *X;     /* (m, 3) */
    double *w;     /* (p) */
    double *feats; /* (p, 2) */
    int *obs;      /* (p, 2): camera index i % n, point index i % m */
} adb_ba;

/* ADBench's BA Jacobian in CSR form: nrows = 3p (two reprojection rows per
 * observation, then one weight row each), ncols = 11n + 3m + p. */
typedef struct adb_ba_jac {
    int nrows, ncols;
    int *rows;    /* (nrows + 1) */
    int *cols;    /* (nnz) */
    double *vals; /* (nnz) */
} adb_ba_jac;

/* --------------------------------------------------------------- io.c */
/* Readers of ADBench's input files (the whole GMM point set is read: no
 * replication; BA's one camera / point / weight / feature is replicated
 * n, m, p times as ADBench does). false and a sentence in err (n bytes)
 * on a missing file, short or bad data. Free with the matching _free. */
bool adb_gmm_read(const char *path, adb_gmm *g, char *err, size_t n);
bool adb_lstm_read(const char *path, adb_lstm *s, char *err, size_t n);
bool adb_ba_read(const char *path, adb_ba *b, char *err, size_t n);
void adb_gmm_free(adb_gmm *g);
void adb_lstm_free(adb_lstm *s);
void adb_ba_free(adb_ba *b);
int adb_gmm_nparams(const adb_gmm *g);  /* k + k d + k d(d+1)/2 */
int adb_lstm_nparams(const adb_lstm *s); /* 8 l b + 3 b */
bool adb_ba_jac_alloc(adb_ba_jac *J, const adb_ba *b);
void adb_ba_jac_free(adb_ba_jac *J);

/* Writers of ADBench's output files, false if the file cannot be written:
 * a value per line ("%e"), BA's F file (reprojection then Zach weight
 * errors), BA's J file (CSR, values "%g" as ADBench's writer), the times
 * file (objective time, derivative time, seconds, "%e"). */
bool adb_write_values(const char *path, const double *v, int n);
bool adb_write_ba_f(const char *path, const double *reproj, const double *werr, int p);
bool adb_write_ba_j(const char *path, const adb_ba_jac *J);
bool adb_write_times(const char *path, double t_obj, double t_der);

/* ----------------------------------------------------- objectives, plain C */
double adb_gmm_objective(const adb_gmm *g);
double adb_lstm_objective(const adb_lstm *s);
/* reproj (2p) and werr (p) */
void adb_ba_objective(const adb_ba *b, double *reproj, double *werr);
/* One observation: the two reprojection errors of camera cam, point X,
 * weight w and feature feat. */
void adb_ba_project(const double *cam, const double *X, double w, const double *feat,
                    double *err);

/* ------------------------------------------------- gradients by tapegrad */
/* The objective into *f and its gradient into grad (adb_gmm_nparams
 * values: d/d alphas, means, icf, in the input's order), recorded on
 * tape (reset first). false on a tape error. With grad NULL: the
 * objective alone, with recording off (tapegrad's objective time). */
bool adb_gmm_grad(tg_tape *tape, const adb_gmm *g, double *f, double *grad);
/* As adb_gmm_grad: grad holds d/d main_params then d/d extra_params. */
bool adb_lstm_grad(tg_tape *tape, const adb_lstm *s, double *f, double *grad);
/* The objective (reproj, werr) and the Jacobian of every observation with
 * 0-d ops, one small tape per observation (tape, reset for each).
 * J from adb_ba_jac_alloc; J NULL: the objective alone, recording off. */
bool adb_ba_jacobian(tg_tape *tape, const adb_ba *b, double *reproj, double *werr,
                     adb_ba_jac *J);
/* Observations [lo, hi) only (J's other rows untouched). */
bool adb_ba_jacobian_range(tg_tape *tape, const adb_ba *b, int lo, int hi, double *reproj,
                           double *werr, adb_ba_jac *J);

#endif
