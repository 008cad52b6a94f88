/* chain_rule.c - backpropagation by hand and by tape, on two tiny networks.
 *
 * (a) A 2-4-1 network with sigmoid units, written with matrices:
 *         z1 = W1 x + b1    h = sigmoid(z1)          (4 hidden units)
 *         z2 = W2 . h + b2  y = sigmoid(z2)          (1 output)
 *         L  = -(t log y + (1 - t) log(1 - y))       (binary cross entropy)
 *     x = (1, 0), label t = 0.
 * (b) A 2-2-1 network with tanh units, written scalar by scalar, so that
 *     tapegrad's backward trace can print every step of the chain rule:
 *         h_j = tanh(w1[j][0] x_0 + w1[j][1] x_1 + b1[j])     j = 0, 1
 *         y   = tanh(w2[0] h_0 + w2[1] h_1 + b2)
 *         L   = (y - 1)^2 / 2
 *     x = (0.5, 0.3), target 1. (Row j of a weight matrix holds the
 *     weights into unit j, as torch.nn.Linear.)
 *
 * For each: every forward value, every local derivative (the derivative of
 * one step with respect to its input), every gradient (dL/d value, which
 * the chain rule builds by multiplying local derivatives from the loss
 * backwards), one step of gradient descent, the loss before and after,
 * and a check of the gradients against finite differences.
 *
 * All numbers are also computed by PyTorch (tests/ref_chain_rule.py ->
 * tests/ref/chain_rule.txt); `chain_rule --check tests/ref/chain_rule.txt`
 * compares them (the meson test does) and exits 1 on a difference.
 *
 * Build and run: ninja -C build && ./build/examples/chain_rule
 * (--help lists the flags; --html FILE writes (b)'s sweep as a page to step
 * through in a browser).
 */
#include <tapegrad.h>

#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ printing and checking */

/* A block's heading and the one line that says what it shows. */
static void block(const char *title, const char *why) { printf("\n %s\n   (%s)\n", title, why); }

/* Every printed quantity is kept under a key, so --check can compare it
 * with PyTorch's number of the same key. */
#define MAXV 64
static struct { char key[32]; int n; double v[8]; } seen[MAXV];
static int nseen;

static void keep(const char *key, int n, const double *v) {
    if (nseen == MAXV) return;
    snprintf(seen[nseen].key, sizeof seen[nseen].key, "%s", key);
    seen[nseen].n = n;
    memcpy(seen[nseen].v, v, (size_t)n * sizeof *v);
    nseen++;
}

/* Prints "  text  = values" and keeps the values under key. */
static void show(const char *key, const char *text, int n, const double *v) {
    printf("  %-34s = ", text);
    if (n > 1) printf("[");
    for (int i = 0; i < n; i++) printf("%s%.6f", i ? ", " : "", v[i]);
    printf(n > 1 ? "]\n" : "\n");
    keep(key, n, v);
}

/* show() for a tensor's values (up to 8 of them). */
static void show_t(const char *key, const char *text, const tg_tensor *t) {
    double v[8];
    int n = (int)tg_tensor_numel(t);
    if (n > 8) n = 8;
    for (int i = 0; i < n; i++) v[i] = tg_tensor_get(t, i);
    show(key, text, n, v);
}

static void show1(const char *key, const char *text, double v) { show(key, text, 1, &v); }

/* Compares the kept numbers with a reference file of "key v0 v1 ..." lines. */
static int check_against(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    int bad = 0, found = 0;
    char key[32];
    while (fscanf(f, "%31s", key) == 1) {
        int i = 0;
        while (i < nseen && strcmp(seen[i].key, key)) i++;
        if (i == nseen) {
            printf("check: %s is in %s but was not computed here\n", key, path);
            bad++;
        }
        for (int k = 0; k < (i < nseen ? seen[i].n : 0); k++) {
            double r;
            if (fscanf(f, "%lf", &r) != 1) {
                printf("check: %s: too few values in %s\n", key, path);
                bad++;
                break;
            }
            if (fabs(seen[i].v[k] - r) > 1e-12 * (1 + fabs(r))) {
                printf("check: %s[%d] = %.17g, PyTorch %.17g\n", key, k, seen[i].v[k], r);
                bad++;
            }
        }
        found++;
        int c;
        while ((c = fgetc(f)) != '\n' && c != EOF) {}
    }
    fclose(f);
    if (found < nseen) {
        printf("check: %d values were computed but %s holds only %d\n", nseen, path, found);
        bad++;
    }
    printf("check against PyTorch (%s): %d values, %s\n", path, found, bad ? "MISMATCH" : "all agree to 1e-12");
    return bad ? 1 : 0;
}

/* ======================================================= (a) 2-4-1 sigmoid */

/* The parameters in plain arrays; leaves are made from them on each tape. */
static double W1[8] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}; /* [4, 2] */
static double b1[4] = {-0.1, -0.2, -0.3, -0.4};
static double W2[4] = {-0.1, -0.3, -0.5, -0.7};
static double b2 = 0.5;
static const double xa[2] = {1, 0}, ta = 0;

typedef struct fwd_a { tg_tensor *z1, *h, *z2, *y, *loss; } fwd_a;

/* The forward pass of (a): inputs W1, b1, W2, b2 (leaves on `tape`). Also
 * the function tg_gradcheck differentiates numerically. */
static tg_tensor *forward_a(tg_tape *tape, tg_tensor *const *p, void *ud) {
    fwd_a tmp, *f = ud ? ud : &tmp;
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(2), xa);
    f->z1 = tg_add(tg_matmul(p[0], x), p[1]);            /* [4] */
    f->h = tg_sigmoid(f->z1);                            /* [4] */
    f->z2 = tg_add(tg_matmul(p[2], f->h), p[3]);         /* [] : a dot product */
    f->y = tg_sigmoid(f->z2);
    tg_tensor *one_minus_y = tg_rsub_scalar(f->y, 1.0);
    /* BCE written out: -(t log y + (1 - t) log(1 - y)). (The library's
     * tg_bce_with_logits_loss is the numerically stable form of this.) */
    f->loss = tg_neg(tg_add(tg_mul_scalar(tg_log(f->y), ta),
                            tg_mul_scalar(tg_log(one_minus_y), 1 - ta)));
    return f->loss;
}

static void leaves_a(tg_tape *tape, tg_tensor **p) {
    p[0] = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(4, 2), W1));
    p[1] = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(4), b1));
    p[2] = tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(4), W2));
    p[3] = tg_requires_grad(tg_scalar(tape, b2));
}

static int example_a(double lr) {
    printf("(a) 2-4-1 network, sigmoid units, binary cross entropy\n");
    printf("    x = (1, 0), label t = 0\n");
    tg_tape *tape = tg_tape_new();
    tg_tensor *p[4];
    leaves_a(tape, p);
    fwd_a f;
    forward_a(tape, p, &f);
    tg_backward(f.loss);
    if (!tg_tape_ok(tape)) {
        fprintf(stderr, "error: %s\n", tg_tape_error(tape));
        return 1;
    }

    block("forward pass:", "each value computed from the inputs and the values above it");
    show_t("a.z1", "z1 = W1 x + b1", f.z1);
    show_t("a.h", "h = sigmoid(z1)", f.h);
    show_t("a.z2", "z2 = W2 . h + b2", f.z2);
    show_t("a.y", "y = sigmoid(z2)", f.y);
    show_t("a.loss", "L = -log(1 - y)   (t = 0)", f.loss);

    /* Local derivatives, each from its own formula. */
    bool was = tg_tape_set_grad_enabled(tape, false);
    double y = tg_item(f.y);
    block("local derivatives:",
          "the derivative of one step with respect to its own input, from its formula");
    show1("a.dL_dy", "dL/dy = (y - t) / (y (1 - y))", (y - ta) / (y * (1 - y)));
    show1("a.dy_dz2", "dy/dz2 = y (1 - y)", y * (1 - y));
    show("a.dz2_dh", "dz2/dh = W2", 4, W2);
    show_t("a.dh_dz1", "dh/dz1 = h (1 - h)", tg_mul(f.h, tg_rsub_scalar(f.h, 1)));
    show("a.dz1_dW1_row", "dz1_j/dW1[j,:] = x", 2, xa);
    tg_tape_set_grad_enabled(tape, was);

    /* Gradients: what the tape's backward sweep stored. Beside each, the
     * chain-rule product of the local derivatives above. */
    block("gradients (from tg_backward):",
          "dL/dv = dL/d(next value) * local derivative: the chain rule, from L backwards");
    show_t("a.dL_dz2", "dL/dz2 = dL/dy dy/dz2 = y - t", tg_tensor_grad(f.z2));
    show_t("a.dL_db2", "dL/db2 = dL/dz2", tg_tensor_grad(p[3]));
    show_t("a.dL_dW2", "dL/dW2 = dL/dz2 h", tg_tensor_grad(p[2]));
    show_t("a.dL_dh", "dL/dh = dL/dz2 W2", tg_tensor_grad(f.h));
    show_t("a.dL_dz1", "dL/dz1 = dL/dh h (1 - h)", tg_tensor_grad(f.z1));
    show_t("a.dL_db1", "dL/db1 = dL/dz1", tg_tensor_grad(p[1]));
    show_t("a.dL_dW1", "dL/dW1 = dL/dz1 x^T  [4, 2]", tg_tensor_grad(p[0]));

    /* Check all 13 gradients against central finite differences. */
    tg_gradcheck_report rep;
    tg_gradcheck_opts go = {.eps = 1e-6, .atol = 1e-8, .rtol = 1e-6, .graph = true};
    bool ok = tg_gradcheck(forward_a, NULL, 4, p, &go, &rep);
    block("check:", "tg_gradcheck nudges each parameter by +-1e-6 and compares the slope");
    printf("  finite differences on W1, b1, W2, b2: %s (worst error %.2g of the tolerance)\n",
           ok ? "ok" : rep.msg, rep.worst);

    /* One step of gradient descent: p -= lr dL/dp. */
    const double *g0 = tg_tensor_f64(tg_tensor_grad(p[0]));
    const double *g1 = tg_tensor_f64(tg_tensor_grad(p[1]));
    const double *g2 = tg_tensor_f64(tg_tensor_grad(p[2]));
    double g3 = tg_item(tg_tensor_grad(p[3]));
    for (int i = 0; i < 8; i++) W1[i] -= lr * g0[i];
    for (int i = 0; i < 4; i++) b1[i] -= lr * g1[i], W2[i] -= lr * g2[i];
    b2 -= lr * g3;
    double before = tg_item(f.loss);
    char t[96];
    snprintf(t, sizeof t, "one step of gradient descent, learning rate %g:", lr);
    block(t, "p -= lr dL/dp for every parameter; the loss must fall");
    show("a.W1_new", "W1", 8, W1);
    show("a.b1_new", "b1", 4, b1);
    show("a.W2_new", "W2", 4, W2);
    show1("a.b2_new", "b2", b2);

    tg_tape_reset(tape);
    leaves_a(tape, p);
    double after = tg_item(forward_a(tape, p, NULL));
    printf("\n");
    show1("a.loss_before", "loss before the step", before);
    show1("a.loss_after", "loss after the step", after);
    printf("\n");
    tg_tape_free(tape);
    return ok && after < before ? 0 : 1;
}

/* ========================================================== (b) 2-2-1 tanh */

/* Parameters in the order: w1[0][0], w1[0][1], w1[1][0], w1[1][1],
 * b1[0], b1[1], w2[0], w2[1], b2. */
static double pb[9] = {0.1, 0.2, 0.3, 0.5, 0.4, 0.7, 0.3, 0.3, 0.5};
static const char *pb_name[9] = {"w1_00", "w1_01", "w1_10", "w1_11", "b1_0", "b1_1",
                                 "w2_0", "w2_1", "b2"};
static const double xb[2] = {0.5, 0.3}, tb = 1.0;

/* The same network in plain C, for finite differences. */
static double loss_b_plain(const double *q) {
    double h0 = tanh(q[0] * xb[0] + q[1] * xb[1] + q[4]);
    double h1 = tanh(q[2] * xb[0] + q[3] * xb[1] + q[5]);
    double y = tanh(q[6] * h0 + q[7] * h1 + q[8]);
    return (y - tb) * (y - tb) / 2;
}

typedef struct fwd_b { tg_tensor *p[9], *z[2], *h[2], *z2, *y, *loss; } fwd_b;

/* Builds (b) on the tape, scalar by scalar, naming every value so that the
 * trace and the tape listing read like the formulas. */
static void forward_b(tg_tape *tape, fwd_b *f) {
    for (int i = 0; i < 9; i++)
        f->p[i] = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, pb[i])), pb_name[i]);
    tg_tensor *x0 = tg_tensor_set_name(tg_scalar(tape, xb[0]), "x_0");
    tg_tensor *x1 = tg_tensor_set_name(tg_scalar(tape, xb[1]), "x_1");
    for (int j = 0; j < 2; j++) {
        tg_tensor *s = tg_add(tg_add(tg_mul(f->p[2 * j], x0), tg_mul(f->p[2 * j + 1], x1)), f->p[4 + j]);
        f->z[j] = tg_tensor_set_name(s, j ? "z1_1" : "z1_0");
        f->h[j] = tg_tensor_set_name(tg_tanh(f->z[j]), j ? "h_1" : "h_0");
    }
    f->z2 = tg_tensor_set_name(
        tg_add(tg_add(tg_mul(f->p[6], f->h[0]), tg_mul(f->p[7], f->h[1])), f->p[8]), "z2");
    f->y = tg_tensor_set_name(tg_tanh(f->z2), "y");
    tg_tensor *e = tg_tensor_set_name(tg_sub_scalar(f->y, tb), "e");
    f->loss = tg_tensor_set_name(tg_mul_scalar(tg_mul(e, e), 0.5), "L");
}

static int example_b(double lr, bool trace, const char *html) {
    printf("(b) 2-2-1 network, tanh units, loss (y - 1)^2 / 2\n");
    printf("    x = (0.5, 0.3), target 1\n");
    tg_tape *tape = tg_tape_new();
    fwd_b f;
    forward_b(tape, &f);
    block("forward pass:", "each value computed from the inputs and the values above it");
    show_t("b.z1_0", "z1_0 = w1_00 x_0 + w1_01 x_1 + b1_0", f.z[0]);
    show_t("b.z1_1", "z1_1 = w1_10 x_0 + w1_11 x_1 + b1_1", f.z[1]);
    show_t("b.h_0", "h_0 = tanh(z1_0)", f.h[0]);
    show_t("b.h_1", "h_1 = tanh(z1_1)", f.h[1]);
    show_t("b.z2", "z2 = w2_0 h_0 + w2_1 h_1 + b2", f.z2);
    show_t("b.y", "y = tanh(z2)", f.y);
    show_t("b.loss", "L = (y - 1)^2 / 2", f.loss);

    if (trace) {
        block("the backward sweep, step by step (tg_tape_set_trace):",
              "dL/dv += dL/d(user) * d(user)/dv; d#i/d#j is op #i's own partial");
        tg_tape_set_trace(tape, stdout);
    }
    tg_backward(f.loss);
    tg_tape_set_trace(tape, NULL);
    if (!tg_tape_ok(tape)) {
        fprintf(stderr, "error: %s\n", tg_tape_error(tape));
        return 1;
    }
    if (html) {
        tg_html_opts ho = {"chain_rule (b): the backward sweep of L = (y - 1)^2 / 2", TG_HTML_AUTO};
        tg_status hs = tg_tape_write_html(tape, f.loss, html, &ho);
        if (hs != TG_OK) {
            fprintf(stderr, "chain_rule: cannot write %s: %s\n", html, tg_status_name(hs));
            return 1;
        }
        printf("\n wrote %s: open it in a browser and press Next to step through this sweep\n", html);
    }

    double y = tg_item(f.y), h0 = tg_item(f.h[0]), h1 = tg_item(f.h[1]);
    block("local derivatives:",
          "the derivative of one step with respect to its own input, from its formula");
    show1("b.dL_dy", "dL/dy = y - 1", y - tb);
    show1("b.dy_dz2", "dy/dz2 = 1 - y^2", 1 - y * y);
    show1("b.dh0_dz", "dh_0/dz1_0 = 1 - h_0^2", 1 - h0 * h0);
    show1("b.dh1_dz", "dh_1/dz1_1 = 1 - h_1^2", 1 - h1 * h1);

    block("gradients (tape), beside central finite differences of plain C code:",
          "what tg_backward stored, and (L(p + 1e-6) - L(p - 1e-6)) / 2e-6 for each parameter");
    show_t("b.dL_dz2", "dL/dz2", tg_tensor_grad(f.z2));
    show_t("b.dL_dh0", "dL/dh_0 = dL/dz2 w2_0", tg_tensor_grad(f.h[0]));
    show_t("b.dL_dh1", "dL/dh_1 = dL/dz2 w2_1", tg_tensor_grad(f.h[1]));
    show_t("b.dL_dz1_0", "dL/dz1_0 = dL/dh_0 (1 - h_0^2)", tg_tensor_grad(f.z[0]));
    show_t("b.dL_dz1_1", "dL/dz1_1 = dL/dh_1 (1 - h_1^2)", tg_tensor_grad(f.z[1]));
    double g[9], worst = 0;
    for (int i = 0; i < 9; i++) {
        g[i] = tg_item(tg_tensor_grad(f.p[i]));
        double q[9], h = 1e-6;
        memcpy(q, pb, sizeof q);
        q[i] = pb[i] + h;
        double up = loss_b_plain(q);
        q[i] = pb[i] - h;
        double fd = (up - loss_b_plain(q)) / (2 * h);
        double rel = fabs(g[i] - fd) / (1e-8 + fabs(fd));
        if (rel > worst) worst = rel;
        char key[32], text[64];
        snprintf(key, sizeof key, "b.dL_d%s", pb_name[i]);
        snprintf(text, sizeof text, "dL/d%s", pb_name[i]);
        printf("  %-34s = %.6f   finite difference %.6f\n", text, g[i], fd);
        keep(key, 1, &g[i]);
    }
    bool ok = worst < 1e-6;
    printf("  worst relative difference: %.2g (%s)\n", worst, ok ? "ok" : "TOO LARGE");

    double before = tg_item(f.loss);
    for (int i = 0; i < 9; i++) pb[i] -= lr * g[i];
    char t[96];
    snprintf(t, sizeof t, "one step of gradient descent, learning rate %g:", lr);
    block(t, "p -= lr dL/dp for every parameter; the loss must fall");
    show("b.params_new", "w1_00 w1_01 w1_10 w1_11 b1_0 b1_1", 6, pb);
    show("b.params_new2", "w2_0 w2_1 b2", 3, pb + 6);
    tg_tape_reset(tape);
    forward_b(tape, &f);
    double after = tg_item(f.loss);
    printf("\n");
    show1("b.loss_before", "loss before the step", before);
    show1("b.loss_after", "loss after the step", after);
    if (trace) {
        block("the tape after the step (tg_tape_print):",
              "every record of the new forward pass: index, name, op, shape, dtype, value");
        tg_tape_print(tape, stdout);
    }
    tg_tape_free(tape);
    return ok && after < before ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *check = NULL, *html = NULL;
    int no_trace = 0;
    double lr = 0.5;
    const ex_flag flags[] = {
        {"--check", EX_STRING, &check,
         "compare every number with PyTorch's (tests/ref/chain_rule.txt); exit 1 on a difference"},
        {"--no-trace", EX_BOOL, &no_trace,
         "leave out (b)'s step-by-step backward trace and tape listing"},
        {"--html", EX_STRING, &html,
         "also write (b)'s backward sweep as a page to step through in a browser"},
    };
    EX_PARSE(argc, argv, "The chain rule on two tiny networks, every number printed.", flags);
    bool trace = !no_trace;
    printf("The chain rule, step by step: two tiny networks, every number printed\n");
    printf("(gradient descent with learning rate %g; --help for options)\n\n", lr);
    keep("lr", 1, &lr);
    int bad = example_a(lr);
    bad |= example_b(lr, trace, html);
    if (check) bad |= check_against(check);
    return bad;
}
