/* test_html.c - tg_tape_write_html (autograd/inspect_html.c): the page is
 * self-contained, carries every line of the backward trace with the same
 * numbers, leaves the tape as it was, and refuses what it must.
 *
 * With a directory as first argument it also leaves there stepper.html
 * (the scalar example below, tapegrad's own layout) and stepper_trace.txt
 * (its trace), which tests/html_browser.py loads in a headless browser.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "tg_test.h"

/* The whole content of a file, malloc'd; NULL on failure. */
static char *slurp_path(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1))) {
            size_t k = fread(b, 1, (size_t)n, f);
            b[k] = 0;
        }
    }
    fclose(f);
    return b;
}

/* Every trace line that is a step ("  dL/d... += ...") is in the page, as
 * a JSON string (the test's names need no escaping). */
static int steps_in_page(const char *trace, const char *page) {
    int n = 0;
    for (const char *l = trace; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        if (len > 2 && !strncmp(l, "  dL/d", 6)) {
            char want[1100];
            snprintf(want, sizeof want, "\"line\":\"%.*s\"", (int)(len - 2), l + 2);
            CHECK(strstr(page, want) != NULL, "the page lacks the trace's %s", want);
            n++;
        }
        l = e ? e + 1 : l + len;
    }
    return n;
}

/* No fetch from anywhere: no src or href attributes, no <link>, and the
 * only URL the SVG namespace. */
static void self_contained(const char *page) {
    CHECK(!strstr(page, "src=") && !strstr(page, "href=") && !strstr(page, "<link") &&
              !strstr(page, "@import"),
          "the page refers to another file");
    const char *p = page;
    while ((p = strstr(p, "http"))) {
        CHECK(!strncmp(p, "http://www.w3.org/", 18), "a URL in the page: %.40s", p);
        p += 4;
    }
    CHECK(strstr(page, "<svg") && strstr(page, "</svg>") && strstr(page, "</html>"),
          "the page is incomplete");
}

/* loss = (tanh(w*x + b) - 1)^2, test_inspect.c's example (records #0 x,
 * #1 w, #2 b in that order). */
static tg_tensor *neuron(tg_tape *tape) {
    static const char *name[3] = {"x", "w", "b"};
    static const double val[3] = {2.0, -0.5, 0.25};
    tg_tensor *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = tg_tensor_set_name(tg_scalar(tape, val[i]), name[i]);
        if (i) tg_requires_grad(v[i]);
    }
    tg_tensor *h = tg_tensor_set_name(tg_tanh(tg_tensor_set_name(tg_add(tg_mul(v[1], v[0]), v[2]), "z")), "h");
    tg_tensor *e = tg_sub_scalar(h, 1.0);
    return tg_tensor_set_name(tg_mul(e, e), "loss");
}

static void test_scalar(const char *dir) {
    char page_path[512], trace_path[512];
    snprintf(page_path, sizeof page_path, "%s/stepper.html", dir ? dir : ".");
    snprintf(trace_path, sizeof trace_path, "%s/stepper_trace.txt", dir ? dir : ".");
    tg_tape *tape = tg_tape_new();
    FILE *tr = fopen(trace_path, "w");
    CHECK(tr != NULL, "cannot write %s", trace_path);
    tg_tape_set_trace(tape, tr);
    tg_tensor *loss = neuron(tape);
    CHECK(tg_backward(loss) == TG_OK, "backward: %s", tg_tape_error(tape));
    tg_tape_set_trace(tape, NULL);
    if (tr) fclose(tr);
    size_t count = tg_tape_count(tape);
    tg_html_opts o = {NULL, TG_HTML_LAYERED};
    CHECK(tg_tape_write_html(tape, loss, page_path, &o) == TG_OK, "write_html: %s",
          tg_tape_error(tape));
    CHECK(tg_tape_count(tape) == count, "the page left %zu records behind",
          tg_tape_count(tape) - count);
    CHECK_OK(tape);
    char *page = slurp_path(page_path), *trace = slurp_path(trace_path);
    CHECK(page && trace, "cannot read back %s or %s", page_path, trace_path);
    if (page && trace) {
        self_contained(page);
        CHECK(steps_in_page(trace, page) == 7, "the scalar trace has 7 steps");
        /* the local derivative of tanh at z = -0.75, and the box of h */
        CHECK(strstr(page, "\"local\":\"0.596586\"") && strstr(page, "id=\"n5\""),
              "the page lacks tanh's local derivative or h's box");
        CHECK(strstr(page, "<title>tapegrad: backward of loss</title>") != NULL, "title");
    }
    free(page);
    free(trace);
    /* a title of the caller's, escaped */
    o.title = "a <b> & \"c\"";
    CHECK(tg_tape_write_html(tape, loss, page_path, &o) == TG_OK, "with a title");
    page = slurp_path(page_path);
    CHECK(page && strstr(page, "<h1>a &lt;b&gt; &amp; &quot;c&quot;</h1>"), "escaped title");
    free(page);
    /* Graphviz's layout, when dot runs: the same data, nodes with our ids */
    o.title = NULL;
    o.layout = TG_HTML_DOT;
    char dot_path[540];
    snprintf(dot_path, sizeof dot_path, "%s.dot.html", page_path);
    tg_status st = tg_tape_write_html(tape, loss, dot_path, &o);
    if (system("dot -V > /dev/null 2>&1") == 0) {
        CHECK(st == TG_OK, "with dot: %s", tg_status_name(st));
        page = slurp_path(dot_path);
        trace = slurp_path(trace_path);
        CHECK(page && strstr(page, "id=\"n5\"") && strstr(page, "class=\"node\""),
              "dot's SVG lacks the node ids");
        if (page && trace) {
            self_contained(page);
            CHECK(steps_in_page(trace, page) == 7, "dot page: 7 steps");
        }
        free(page);
        free(trace);
    } else {
        CHECK(st == TG_ERR_IO, "TG_HTML_DOT without dot: %s", tg_status_name(st));
    }
    remove(dot_path);
    /* the default without dot on PATH: tapegrad's own layout, same steps */
    const char *path_env = getenv("PATH");
    char *saved = path_env ? strdup(path_env) : NULL;
    setenv("PATH", "/nonexistent", 1);
    CHECK(tg_tape_write_html(tape, loss, dot_path, NULL) == TG_OK, "no dot: the default");
    if (saved) setenv("PATH", saved, 1);
    free(saved);
    page = slurp_path(dot_path);
    trace = slurp_path(trace_path);
    CHECK(page && strstr(page, "<rect") && !strstr(page, "<polygon"), "no dot: our layout");
    if (page && trace) CHECK(steps_in_page(trace, page) == 7, "no dot: 7 steps");
    free(page);
    free(trace);
    remove(dot_path);

    /* refusals */
    CHECK(tg_tape_write_html(NULL, loss, page_path, NULL) == TG_ERR_NULL, "NULL tape");
    CHECK(tg_tape_write_html(tape, NULL, page_path, NULL) == TG_ERR_NULL, "NULL out");
    CHECK(tg_tape_write_html(tape, loss, NULL, NULL) == TG_ERR_NULL, "NULL path");
    CHECK(tg_tape_write_html(tape, loss, "/nonexistent-dir/x.html", NULL) == TG_ERR_IO,
          "unwritable path");
    tg_tensor *p = tg_param_new(TG_F64, TG_SHAPE(1));
    CHECK(tg_tape_write_html(tape, p, page_path, NULL) == TG_ERR_ARG, "a parameter");
    tg_param_free(p);
    tg_tape *other = tg_tape_new();
    CHECK(tg_tape_write_html(other, loss, page_path, NULL) == TG_ERR_ARG, "another tape");
    tg_tape_free(other);
    tg_tape_reset(tape);
    CHECK(tg_tape_write_html(tape, loss, page_path, NULL) == TG_ERR_ARG, "a stale output");
    /* no sweep yet on this pass */
    tg_tensor *l2 = neuron(tape);
    CHECK(tg_tape_write_html(tape, l2, page_path, NULL) == TG_ERR_STATE, "before backward");
    CHECK_OK(tape);
    /* a tape with an error answers with it */
    CHECK(tg_backward(l2) == TG_OK, "second backward");
    tg_tape_fail(tape, TG_ERR_NUMERIC, "a test error");
    CHECK(tg_tape_write_html(tape, l2, page_path, NULL) == TG_ERR_NUMERIC, "a failed tape");
    tg_tape_free(tape);
    /* leave the page of the first write for the browser test */
    tape = tg_tape_new();
    loss = neuron(tape);
    tg_backward(loss);
    o.layout = TG_HTML_LAYERED;
    CHECK(tg_tape_write_html(tape, loss, page_path, &o) == TG_OK, "rewrite");
    tg_tape_free(tape);
}

/* Tensors and a parameter: the steps are summarized as in the trace. */
static void test_tensor(const char *dir) {
    char page_path[512];
    snprintf(page_path, sizeof page_path, "%s/stepper_tensor.html", dir ? dir : ".");
    tg_tape *tape = tg_tape_new();
    tg_tensor *W = tg_param_new(TG_F64, TG_SHAPE(2, 4));
    double *wd = tg_tensor_f64(W);
    for (int i = 0; i < 8; i++) wd[i] = (i % 3 - 1) * 0.5 + 0.25 * i;
    tg_tensor_set_name(W, "W");
    FILE *tr = tmpfile();
    tg_tape_set_trace(tape, tr);
    tg_tensor *x = tg_tensor_set_name(
        tg_requires_grad(tg_tensor_new(tape, TG_F64, TG_SHAPE(4), (double[]){1, -1, 0.5, 2})), "x");
    tg_tensor *loss = tg_tensor_set_name(tg_sum(tg_mul_scalar(tg_relu(tg_matmul(W, x)), 0.5)), "loss");
    CHECK(tg_backward(loss) == TG_OK, "backward: %s", tg_tape_error(tape));
    tg_tape_set_trace(tape, NULL);
    CHECK(tg_tape_write_html(tape, loss, page_path, NULL) == TG_OK, "tensor page");
    char *page = slurp_path(page_path);
    char *trace = NULL;
    if (tr && fseek(tr, 0, SEEK_END) == 0) {
        long n = ftell(tr);
        rewind(tr);
        trace = calloc((size_t)n + 1, 1);
        if (trace && fread(trace, 1, (size_t)n, tr) != (size_t)n) trace[0] = 0;
    }
    if (tr) fclose(tr);
    CHECK(page && trace, "tensor page or trace");
    if (page && trace) {
        self_contained(page);
        CHECK(steps_in_page(trace, page) == 7, "the tensor trace has 7 steps");
        CHECK(strstr(page, "through matmul") != NULL, "the matmul step");
    }
    free(page);
    free(trace);
    remove(page_path);
    tg_tape_free(tape);
    tg_param_free(W);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : NULL;
    test_scalar(dir);
    test_tensor(dir);
    return TEST_DONE("html");
}
