/* test_inspect.c - names, tape printing, DOT, the backward trace
 * (autograd/inspect*.c), and that tg_gradcheck catches a deliberately
 * wrong backward (test_bad, a custom op of the tests: bad_op.h).
 * Anomaly mode and gradient hooks: test_anomaly_hooks.c.
 *
 * The printed tape, DOT and trace of two small fixed examples are compared
 * with tests/expected/<name>.txt (the first argument is that directory).
 * TG_UPDATE_EXPECTED=1 rewrites those files instead: review the diff. When
 * Graphviz's `dot` is installed, the DOT is also rendered to check that it
 * parses.
 */
#include "tg_test.h"
#include "bad_op.h"

#include <unistd.h>

static const char *expected_dir = "tests/expected";

/* ------------------------------------------------------------ helpers */

/* The whole content of a FILE (rewound), malloc'd; NULL on failure. */
static char *slurp(FILE *f) {
    if (!f || fseek(f, 0, SEEK_END) != 0) return NULL;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) return NULL;
    char *b = malloc((size_t)n + 1);
    if (!b) return NULL;
    size_t k = fread(b, 1, (size_t)n, f);
    b[k] = 0;
    return b;
}

/* Compares text with expected/<name>.txt (or writes it when updating). */
static void check_expected(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.txt", expected_dir, name);
    const char *upd = getenv("TG_UPDATE_EXPECTED");
    if (upd && upd[0] == '1') {
        FILE *f = fopen(path, "wb");
        CHECK(f && fputs(text, f) >= 0, "cannot write %s", path);
        if (f) fclose(f);
        return;
    }
    FILE *f = fopen(path, "rb");
    char *want = slurp(f);
    if (f) fclose(f);
    CHECK(want != NULL, "cannot read %s", path);
    if (!want) return;
    bool same = strcmp(want, text) == 0;
    if (!same) { /* show the first line that differs */
        const char *a = want, *b = text;
        int line = 1;
        while (*a && *a == *b) {
            if (*a == '\n') line++;
            a++, b++;
        }
        while (a > want && a[-1] != '\n') a--, b--;
        fprintf(stderr, "%s line %d differs:\n  expected: %.*s\n  got:      %.*s\n", path, line,
                (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
    }
    CHECK(same, "%s does not match the expected text", name);
    free(want);
}

/* tg_tape_sprint into a malloc'd buffer, checking the length contract. */
static char *sprint(const tg_tape *tape) {
    size_t n = tg_tape_sprint(tape, NULL, 0);
    char *b = malloc(n + 1);
    size_t m = tg_tape_sprint(tape, b, n + 1);
    CHECK(m == n && strlen(b) == n, "sprint lengths %zu %zu %zu", n, m, strlen(b));
    return b;
}

static char *sprint_dot(const tg_tape *tape, const tg_tensor *only) {
    size_t n = tg_tape_sprint_dot(tape, only, NULL, 0);
    char *b = malloc(n + 1);
    size_t m = tg_tape_sprint_dot(tape, only, b, n + 1);
    CHECK(n > 0 && m == n && strlen(b) == n, "sprint_dot lengths %zu %zu", n, m);
    return b;
}

/* Renders DOT text with Graphviz (when installed): it must parse. */
static void check_dot_parses(const char *dot) {
    if (system("command -v dot >/dev/null 2>&1") != 0) {
        printf("(dot not installed: DOT not rendered)\n");
        return;
    }
    char path[] = "/tmp/tg_inspect_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs(dot, f);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "dot -Tsvg %s -o /dev/null", path);
    int rc = system(cmd);
    CHECK(rc == 0, "dot rejected the DOT text (exit %d)", rc);
    unlink(path);
}

/* -------------------------------------------- example 1: scalar neuron */

/* loss = (tanh(w*x + b) - 1)^2 with names, traced. */
static void example_scalar(void) {
    tg_tape *tape = tg_tape_new();
    FILE *tr = tmpfile();
    CHECK(tr != NULL, "tmpfile");
    tg_tape_set_trace(tape, tr);
    tg_tensor *x = tg_tensor_set_name(tg_scalar(tape, 2.0), "x");
    tg_tensor *w = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, -0.5)), "w");
    tg_tensor *b = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, 0.25)), "b");
    tg_tensor *z = tg_tensor_set_name(tg_add(tg_mul(w, x), b), "z");
    tg_tensor *h = tg_tensor_set_name(tg_tanh(z), "h");
    tg_tensor *e = tg_sub_scalar(h, 1.0);
    tg_tensor *loss = tg_tensor_set_name(tg_mul(e, e), "loss");
    CHECK(tg_backward(loss) == TG_OK, "backward: %s", tg_tape_error(tape));
    tg_tape_set_trace(tape, NULL);
    CHECK_OK(tape);


    char *trace = slurp(tr);
    CHECK(trace && strstr(trace, "  dL/dw += dL/d#3 (-1.95101) * d#3/d#1 (2) = -3.90203\n"), "trace: %s", trace ? trace : "(none)");
    check_expected("scalar_trace", trace ? trace : "");
    free(trace);
    fclose(tr);

    char *p = sprint(tape);
    check_expected("scalar_print", p);
    /* tg_tape_print writes the same text */
    FILE *f = tmpfile();
    CHECK(tg_tape_print(tape, f) == TG_OK, "print");
    char *p2 = slurp(f);
    fclose(f);
    CHECK(p2 && strcmp(p, p2) == 0, "tg_tape_print differs from tg_tape_sprint");
    free(p2);
    /* a short buffer: cut, terminated, full length returned */
    char small[20];
    size_t n = tg_tape_sprint(tape, small, sizeof small);
    CHECK(n == strlen(p) && strlen(small) == sizeof small - 1 && strncmp(small, p, 19) == 0,
          "short sprint: %zu '%s'", n, small);
    free(p);

    char *dot = sprint_dot(tape, loss);
    check_expected("scalar_dot", dot);
    check_dot_parses(dot);
    free(dot);
    /* the numbers shown are the chain rule's (tg_tensor_grad makes records,
     * so it comes after the printing) */
    double hv = tanh(-0.75), dl_dh = 2 * (hv - 1), dh_dz = 1 - hv * hv;
    CHECK_NEAR(tg_item(tg_tensor_grad(w)), dl_dh * dh_dz * 2.0, 1e-12);
    CHECK_NEAR(tg_item(tg_tensor_grad(b)), dl_dh * dh_dz, 1e-12);
    CHECK_NEAR(tg_item(tg_tensor_grad(h)), dl_dh, 1e-12);
    tg_tape_free(tape);
}

/* ------------------------------------ example 2: a parameter and tensors */

static void example_tensor(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *W = tg_param_new(TG_F64, TG_SHAPE(2, 4));
    double *wd = tg_tensor_f64(W);
    for (int i = 0; i < 8; i++) wd[i] = (i % 3 - 1) * 0.5 + 0.25 * i;
    CHECK(tg_tensor_set_name(W, "W") == W, "param name");
    FILE *tr = tmpfile();
    tg_tape_set_trace(tape, tr);
    tg_tensor *x = tg_tensor_set_name(
        tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){1, -1, 0.5, 2})), "x");
    tg_tensor *z = tg_tensor_set_name(tg_matmul(W, x), "z");
    tg_tensor *a = tg_tensor_set_name(tg_relu(z), "a");
    tg_tensor *loss = tg_tensor_set_name(tg_sum(tg_mul_scalar(a, 0.5)), "loss");
    CHECK(tg_backward(loss) == TG_OK, "backward: %s", tg_tape_error(tape));
    tg_tape_set_trace(tape, NULL);
    char *trace = slurp(tr);
    fclose(tr);
    CHECK(trace && strstr(trace, "through matmul"), "tensor trace: %s", trace ? trace : "(none)");
    check_expected("tensor_trace", trace ? trace : "");
    free(trace);
    char *p = sprint(tape);
    check_expected("tensor_print", p);
    CHECK(strstr(p, "W = param") != NULL, "the parameter's name shows on its proxy");
    free(p);
    char *dot = sprint_dot(tape, NULL);
    check_expected("tensor_dot", dot);
    check_dot_parses(dot);
    free(dot);
    /* names: the proxy answers with the parameter's name */
    CHECK(tg_tensor_name(tg_param_on(tape, W)) && !strcmp(tg_tensor_name(tg_param_on(tape, W)), "W"),
          "proxy name");
    tg_tape_free(tape);
    tg_param_free(W);
}

/* --------------------------------------------------------------- names */

static void test_names(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_scalar(tape, 1);
    CHECK(tg_tensor_name(x) == NULL, "no name by default");
    CHECK(tg_tensor_set_name(x, "first") == x, "set_name returns t");
    CHECK(!strcmp(tg_tensor_name(x), "first"), "name");
    tg_tensor_set_name(x, "second");
    CHECK(!strcmp(tg_tensor_name(x), "second"), "renamed");
    tg_tensor_set_name(x, NULL);
    CHECK(tg_tensor_name(x) == NULL, "removed");
    CHECK(tg_tensor_set_name(NULL, "n") == NULL, "NULL passes through");
    /* long names are cut to TG_NAME_MAX - 1 bytes */
    char longn[100];
    memset(longn, 'a', sizeof longn - 1);
    longn[99] = 0;
    tg_tensor_set_name(x, longn);
    CHECK(strlen(tg_tensor_name(x)) == TG_NAME_MAX - 1, "cut to %d", TG_NAME_MAX - 1);
    /* many names: the table grows */
    tg_tensor *t[100];
    for (int i = 0; i < 100; i++) {
        char b[16];
        snprintf(b, sizeof b, "t%d", i);
        t[i] = tg_tensor_set_name(tg_scalar(tape, i), b);
    }
    int good = 0;
    for (int i = 0; i < 100; i++) {
        char b[16];
        snprintf(b, sizeof b, "t%d", i);
        good += tg_tensor_name(t[i]) && !strcmp(tg_tensor_name(t[i]), b);
    }
    CHECK(good == 100, "%d of 100 names kept", good);
    CHECK_OK(tape);
    /* names last until the reset: a new tensor in a reused slot has none */
    tg_tape_reset(tape);
    CHECK(tg_tensor_name(t[0]) == NULL, "a stale tensor has no name");
    tg_tape_reset(tape);
    tg_tensor *y = tg_scalar(tape, 2);
    /* the same slot: handles differ only in their pass tag (top 6 bits) */
    CHECK((uintptr_t)y << 6 == (uintptr_t)x << 6 && y != x,
          "(the slot is reused two passes later)");
    CHECK(tg_tensor_name(y) == NULL, "a new tensor in a reused slot has no name");
    /* naming a stale tensor is an error */
    CHECK_ERR(tg_tensor_set_name(t[5], "z"), tape, TG_ERR_STALE, "set_name");
    tg_tape_reset(tape);
    /* parameters keep their name across tapes and resets */
    tg_tensor *p = tg_param_new(TG_F32, TG_SHAPE(3));
    tg_tensor_set_name(p, "bias");
    tg_tensor *q = tg_add(tg_ones(tape, TG_F32, TG_SHAPE(3)), p);
    CHECK(q != NULL && !strcmp(tg_tensor_name(tg_param_on(tape, p)), "bias"), "param name on tape");
    tg_tape_reset(tape);
    CHECK(!strcmp(tg_tensor_name(p), "bias"), "param name survives reset");
    tg_param_free(p);
    tg_tape_free(tape);
}

/* ----------------------------------------------------------- gradcheck */

static tg_tensor *f_bad(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    return test_bad(x[0]);
}
static tg_tensor *f_square(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    return tg_mul(x[0], x[0]);
}

static void test_gradcheck_catches(void) {
    tg_tape *tape = tg_tape_new();
    tg_tensor *x = tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){0.5, -1.5, 2});
    tg_gradcheck_report rep;
    /* the same function with a right backward passes */
    CHECK(tg_gradcheck(f_square, NULL, 1, &x, NULL, &rep), "x*x: %s", rep.msg);
    /* the value of test_bad is right: only its fast backward is wrong */
    tg_tensor *y = test_bad(x);
    CHECK(y && tg_tensor_get(y, 1) == 2.25, "test_bad forward");
    tg_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 3, false, false};
    bool ok = tg_gradcheck(f_bad, NULL, 1, &x, &o, &rep);
    CHECK(!ok, "gradcheck missed the wrong backward");
    /* analytic g*a against numeric 2*g*a: half of it */
    CHECK(fabs(rep.analytic - rep.numeric / 2) < 1e-6 * (1 + fabs(rep.numeric)),
          "analytic %g numeric %g", rep.analytic, rep.numeric);
    CHECK(strstr(rep.msg, "input") != NULL, "report says where: %s", rep.msg);
    /* the create-graph path of test_bad is right, the fast one is checked too */
    o.graph = true;
    CHECK(!tg_gradcheck(f_bad, NULL, 1, &x, &o, &rep), "gradcheck with graph missed it");
    CHECK_OK(tape);
    tg_tape_free(tape);
}

static void test_misc(void) {
    tg_tape *tape = tg_tape_new();
    CHECK(tg_tape_print(NULL, stdout) == TG_ERR_NULL && tg_tape_sprint(NULL, NULL, 0) == 0,
          "NULL tape");
    tg_tensor *a = tg_scalar(tape, 1);
    tg_tape *other = tg_tape_new();
    tg_tensor *b = tg_scalar(other, 1);
    CHECK(tg_tape_write_dot(tape, b, stdout) == TG_ERR_ARG, "dot of another tape's tensor");
    CHECK(tg_tape_sprint_dot(tape, b, NULL, 0) == 0, "sprint_dot error gives 0");
    /* the subgraph of one output leaves out what it does not depend on */
    tg_tensor *u = tg_tensor_set_name(tg_scalar(tape, 5), "unrelated");
    tg_tensor *v = tg_tensor_set_name(tg_add_scalar(a, 1), "v");
    char *all = sprint_dot(tape, NULL), *part = sprint_dot(tape, v);
    CHECK(strstr(all, "unrelated") && !strstr(part, "unrelated") && strstr(part, "add_scalar 1"),
          "subgraph:\n%s", part);
    free(all);
    free(part);
    (void)u;
    /* a quoted name is escaped in DOT */
    tg_tensor_set_name(a, "say \"hi\"");
    char *q = sprint_dot(tape, v);
    CHECK(strstr(q, "say \\\"hi\\\"") != NULL, "escaped: %s", q);
    check_dot_parses(q);
    free(q);
    /* an error shows at the end of the print */
    tg_add(a, b);
    char *p = sprint(tape);
    CHECK(strstr(p, "error: add: operand 2 belongs to another tape") != NULL, "%s", p);
    free(p);
    tg_tape_free(other);
    tg_tape_free(tape);
    /* a tape that used nothing here has no extension and prints fine */
    tape = tg_tape_new();
    tg_tape_set_trace(tape, NULL);
    tg_tape_set_anomaly(tape, false);
    tg_tensor *x = tg_requires_grad(tg_tensor_new(tape, TG_F32, TG_SHAPE(0, 3), NULL));
    tg_backward(tg_sum(x));
    p = sprint(tape);
    CHECK(strstr(p, "#0 = leaf, requires grad  [0,3]  f32  (empty)  grad (empty)") != NULL, "%s", p);
    free(p);
    tg_tape_free(tape);
}

/* A create-graph sweep, traced or not: the same lines of arithmetic as a
 * plain one, and the trace leaves no records behind. */
static size_t graph_sweep(FILE *tr, double *dx) {
    tg_tape *tape = tg_tape_new();
    tg_tape_set_trace(tape, tr);
    tg_tensor *x = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, 1.5)), "x");
    tg_tensor *y = tg_tensor_set_name(tg_mul(tg_sin(x), x), "y");
    tg_tensor *g;
    CHECK(tg_grad(y, NULL, 1, &x, &g, TG_CREATE_GRAPH) == TG_OK, "%s", tg_tape_error(tape));
    *dx = tg_item(g);
    size_t n = tg_tape_count(tape);
    tg_tape_free(tape);
    return n;
}

static void test_graph_trace(void) {
    FILE *tr = tmpfile();
    double d0, d1;
    size_t n0 = graph_sweep(NULL, &d0), n1 = graph_sweep(tr, &d1);
    CHECK(n0 == n1 && d0 == d1, "traced create-graph sweep: %zu vs %zu records, %g vs %g", n0,
          n1, d0, d1);
    CHECK_NEAR(d1, cos(1.5) * 1.5 + sin(1.5), 1e-12);
    char *t = slurp(tr);
    fclose(tr);
    /* dL/dx = x cos x + sin x (L = y): two contributions, then the total */
    char want[200];
    snprintf(want, sizeof want, "  dL/dx += dL/d#1 (1.5) * d#1/d#0 (%.6g) = %.6g\n",
             cos(1.5), 1.5 * cos(1.5));
    CHECK(t && strstr(t, want), "graph trace lacks '%s':\n%s", want, t ? t : "");
    snprintf(want, sizeof want, "dL/dx = %.6g\n", d1);
    CHECK(t && strstr(t, want), "graph trace lacks '%s':\n%s", want, t ? t : "");
    free(t);
}

int main(int argc, char **argv) {
    if (argc > 1) expected_dir = argv[1];
    example_scalar();
    example_tensor();
    test_names();
    test_gradcheck_catches();
    test_misc();
    test_graph_trace();
    return TEST_DONE("inspect");
}
