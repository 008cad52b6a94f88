/* refcase.h - reads reference cases computed once with PyTorch (see
 * tests/refgen.py) and checks tapegrad against them: the output values and
 * the gradients of sum(out * w). Header-only; one test program includes it. */
#ifndef TG_REFCASE_H
#define TG_REFCASE_H

#include "tg_test.h"

#define REF_MAXIN 8

typedef struct ref_case {
    char name[96];
    int nin;
    tg_dtype dt[REF_MAXIN];
    int req[REF_MAXIN];
    int rank[REF_MAXIN];
    int64_t shape[REF_MAXIN][TG_MAX_RANK];
    double *val[REF_MAXIN];
    int orank;
    int64_t oshape[TG_MAX_RANK];
    double *out, *w;
    double *grad[REF_MAXIN];
    int64_t onumel;
} ref_case;

static int64_t ref_numel(int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

static double *ref_read_vals(FILE *f, int64_t n) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; v && i < n; i++)
        if (fscanf(f, "%lf", &v[i]) != 1) {
            free(v);
            return NULL;
        }
    return v;
}

static void ref_free(ref_case *c) {
    for (int i = 0; i < c->nin; i++) free(c->val[i]), free(c->grad[i]);
    free(c->out);
    free(c->w);
    memset(c, 0, sizeof *c);
}

/* Reads the next case; 1 on success, 0 at the end, -1 on a format error. */
static int ref_next(FILE *f, ref_case *c) {
    char tag[16];
    memset(c, 0, sizeof *c);
    if (fscanf(f, "%15s", tag) != 1) return 0;
    if (strcmp(tag, "case") || fscanf(f, "%95s", c->name) != 1) return -1;
    while (fscanf(f, "%15s", tag) == 1) {
        if (!strcmp(tag, "end")) return 1;
        if (!strcmp(tag, "in")) {
            char dt[8];
            int i = c->nin++;
            if (i >= REF_MAXIN || fscanf(f, "%7s %d %d", dt, &c->req[i], &c->rank[i]) != 3) return -1;
            c->dt[i] = !strcmp(dt, "f32") ? TG_F32 : !strcmp(dt, "f64") ? TG_F64 : TG_I64;
            for (int d = 0; d < c->rank[i]; d++)
                if (fscanf(f, "%" SCNd64, &c->shape[i][d]) != 1) return -1;
            if (!(c->val[i] = ref_read_vals(f, ref_numel(c->rank[i], c->shape[i])))) return -1;
        } else if (!strcmp(tag, "out")) {
            if (fscanf(f, "%d", &c->orank) != 1) return -1;
            for (int d = 0; d < c->orank; d++)
                if (fscanf(f, "%" SCNd64, &c->oshape[d]) != 1) return -1;
            c->onumel = ref_numel(c->orank, c->oshape);
            if (!(c->out = ref_read_vals(f, c->onumel))) return -1;
        } else if (!strcmp(tag, "w")) {
            if (!(c->w = ref_read_vals(f, c->onumel))) return -1;
        } else if (!strcmp(tag, "grad")) {
            int i;
            if (fscanf(f, "%d", &i) != 1 || i < 0 || i >= c->nin) return -1;
            if (!(c->grad[i] = ref_read_vals(f, ref_numel(c->rank[i], c->shape[i])))) return -1;
        } else {
            return -1;
        }
    }
    return -1;
}

/* Builds the case's inputs, runs fn (with ud NULL), compares the output and
 * gradients with relative tolerance tol. */
static void ref_check(const ref_case *c, op_fn fn, double tol) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *in[REF_MAXIN];
    for (int i = 0; i < c->nin; i++) {
        int64_t n = ref_numel(c->rank[i], c->shape[i]);
        tg_tensor *t = tg_zeros(tape, c->dt[i], c->rank[i], c->shape[i]);
        for (int64_t k = 0; t && k < n; k++) {
            if (c->dt[i] == TG_F32) tg_tensor_f32(t)[k] = (float)c->val[i][k];
            else if (c->dt[i] == TG_F64) tg_tensor_f64(t)[k] = c->val[i][k];
            else tg_tensor_i64(t)[k] = (int64_t)c->val[i][k];
        }
        in[i] = c->req[i] ? tg_requires_grad(t) : t;
    }
    tg_tensor *out = fn(tape, in, NULL);
    CHECK(out != NULL, "%s: no output: %s", c->name, tg_tape_error(tape));
    if (!out) {
        tg_tape_free(tape);
        return;
    }
    bool shape_ok = tg_tensor_rank(out) == c->orank;
    for (int d = 0; shape_ok && d < c->orank; d++) shape_ok = tg_tensor_dim(out, d) == c->oshape[d];
    char b[96];
    CHECK(shape_ok, "%s: output shape %s", c->name, tg_tensor_shape_str(out, b, sizeof b));
    if (!shape_ok) {
        tg_tape_free(tape);
        return;
    }
    int bad = 0;
    for (int64_t k = 0; k < c->onumel; k++) {
        double v = tg_tensor_get(out, k), r = c->out[k];
        if (!(fabs(v - r) <= tol * (1 + fabs(r)) || (isnan(v) && isnan(r)) || v == r)) {
            if (!bad++) fprintf(stderr, "  %s: out[%lld] = %.10g, torch %.10g\n", c->name, (long long)k, v, r);
        }
    }
    CHECK(bad == 0, "%s: %d output values differ from PyTorch", c->name, bad);
    if (c->w) {
        tg_tensor *w = tg_zeros(tape, tg_tensor_dtype(out), c->orank, c->oshape);
        for (int64_t k = 0; w && k < c->onumel; k++) {
            if (tg_tensor_dtype(out) == TG_F32) tg_tensor_f32(w)[k] = (float)c->w[k];
            else tg_tensor_f64(w)[k] = c->w[k];
        }
        tg_status st = tg_backward(tg_sum(tg_mul(out, w)));
        CHECK(st == TG_OK, "%s: backward: %s", c->name, tg_tape_error(tape));
        for (int i = 0; st == TG_OK && i < c->nin; i++) {
            if (!c->grad[i]) continue;
            tg_tensor *g = tg_tensor_grad(in[i]);
            int64_t n = ref_numel(c->rank[i], c->shape[i]);
            bad = 0;
            for (int64_t k = 0; k < n; k++) {
                double v = g ? tg_tensor_get(g, k) : 0, r = c->grad[i][k];
                if (!(fabs(v - r) <= tol * (1 + fabs(r)) || (isnan(v) && isnan(r)))) {
                    if (!bad++)
                        fprintf(stderr, "  %s: grad %d [%lld] = %.10g, torch %.10g\n", c->name, i,
                                (long long)k, v, r);
                }
            }
            CHECK(bad == 0, "%s: %d gradient values of input %d differ from PyTorch", c->name, bad, i);
        }
    }
    tg_tape_free(tape);
}

typedef struct ref_entry {
    const char *prefix; /* a case named "<prefix>" or "<prefix>/<anything>" */
    op_fn fn;           /* its builder, made with OP (tg_test.h) or by hand */
} ref_entry;

/* Runs every case in the file against the table; an unknown case or an
 * unreadable file is a failure. tol32 / tol64 by the first input's dtype. */
static void ref_run_file(const char *path, const ref_entry *table, double tol32, double tol64) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    ref_case c;
    int r, count = 0;
    while ((r = ref_next(f, &c)) == 1) {
        op_fn fn = NULL;
        for (const ref_entry *e = table; e->prefix; e++) {
            size_t n = strlen(e->prefix);
            if (!strncmp(c.name, e->prefix, n) && (c.name[n] == 0 || c.name[n] == '/')) {
                fn = e->fn;
                break;
            }
        }
        CHECK(fn != NULL, "%s: no builder for this case", c.name);
        if (fn) ref_check(&c, fn, c.nin && c.dt[0] == TG_F32 ? tol32 : tol64);
        ref_free(&c);
        count++;
    }
    CHECK(r == 0, "%s: format error near case %d", path, count);
    CHECK(count > 0, "%s: no cases", path);
    fclose(f);
}

#endif
