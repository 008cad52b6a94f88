/* test_expr.c - the expression parser of examples/derivative (examples/expr.c):
 *   1. valid expressions: the value (plain and taped) and both partial
 *      derivatives against values worked out by hand, and tg_gradcheck of
 *      the taped expression against central differences in f64 (both
 *      backward paths and second derivatives);
 *   2. precedence and associativity, number forms, blanks;
 *   3. the names the taped tensors carry (the text they compute);
 *   4. every error message, word for word, with its column and caret;
 *   5. the nesting and height limits.
 */
#include "tg_test.h"

#include "expr.h"

static const char *const xy[] = {"x", "y"};
static const double PI = 3.14159265358979323846;

/* ---------------------------------------------- 1. values and gradients */

typedef struct hand {
    const char *text;
    double x, y;
    double f, dfdx, dfdy; /* by hand */
} hand;

static tg_tensor *taped(tg_tape *t, tg_tensor *const *in, void *ud) {
    return ex_expr_tape(ud, t, in);
}

static void check_hand(const hand *h) {
    char err[512];
    ex_expr *e = ex_expr_parse(h->text, 2, xy, err, sizeof err);
    CHECK(e != NULL, "%s: %s", h->text, err);
    if (!e) return;
    double vals[2] = {h->x, h->y};
    double plain = ex_expr_eval(e, vals);
    CHECK(fabs(plain - h->f) <= 1e-13 * (1 + fabs(h->f)), "%s plain: %.17g, by hand %.17g", h->text,
          plain, h->f);

    tg_tape *tape = tg_tape_new();
    tg_tensor *v[2] = {tg_requires_grad(tg_scalar(tape, h->x)), tg_requires_grad(tg_scalar(tape, h->y))};
    tg_tensor *f = ex_expr_tape(e, tape, v);
    if (f && tg_tensor_requires_grad(f)) tg_backward(f);
    CHECK_OK(tape);
    CHECK(fabs(tg_item(f) - h->f) <= 1e-13 * (1 + fabs(h->f)), "%s taped: %.17g, by hand %.17g",
          h->text, tg_item(f), h->f);
    double g[2] = {h->dfdx, h->dfdy};
    for (int i = 0; i < 2; i++) {
        tg_tensor *gi = tg_tensor_grad(v[i]);
        double got = gi ? tg_item(gi) : 0;
        CHECK(fabs(got - g[i]) <= 1e-12 * (1 + fabs(g[i])), "%s: df/d%s = %.17g, by hand %.17g",
              h->text, xy[i], got, g[i]);
    }
    if (tg_tensor_requires_grad(f)) {
        tg_gradcheck_opts o = {.second = true};
        tg_gradcheck_report r;
        CHECK(tg_gradcheck(taped, e, 2, v, &o, &r), "%s: gradcheck: %s", h->text, r.msg);
    }
    tg_tape_free(tape);
    ex_expr_free(e);
}

static void test_values(void) {
    double x = 2, y = 3;
    const hand cases[] = {
        {"x*y + sin(x)/y", x, y, x * y + sin(x) / y, y + cos(x) / y, x - sin(x) / (y * y)},
        {"sin(x*y) + x^2/y - exp(-y)", 1.5, 0.5, sin(0.75) + 2.25 / 0.5 - exp(-0.5),
         0.5 * cos(0.75) + 2 * 1.5 / 0.5, 1.5 * cos(0.75) - 2.25 / 0.25 + exp(-0.5)},
        {"x^y", x, y, 8, y * 4, 8 * log(2.0)},
        {"x^2", -2, 0, 4, -4, 0},            /* constant exponent: negative base is fine */
        {"x^-1", x, y, 0.5, -0.25, 0},
        {"(x - y)^3", x, y, -1, 3, -3},
        {"x ** 0.5", 4, 0, 2, 0.25, 0},
        {"cos(x) * tan(y)", x, y, cos(x) * tan(y), -sin(x) * tan(y), cos(x) / (cos(y) * cos(y))},
        {"log(x) + sqrt(y)", x, y, log(x) + sqrt(y), 1 / x, 0.5 / sqrt(y)},
        {"tanh(x - y)", x, y, tanh(-1.0), 1 - tanh(-1.0) * tanh(-1.0), -(1 - tanh(-1.0) * tanh(-1.0))},
        {"sigmoid(x)", x, y, 1 / (1 + exp(-x)), exp(-x) / ((1 + exp(-x)) * (1 + exp(-x))), 0},
        {"relu(x) + relu(-y)", x, y, 2, 1, 0},
        {"abs(x - y)", x, y, 1, -1, 1},
        {"log1p(x) - expm1(y)", x, y, log1p(x) - expm1(y), 1 / (1 + x), -exp(y)},
        {"erf(x/y)", x, y, erf(x / y), 2 / sqrt(PI) * exp(-(x / y) * (x / y)) / y,
         -2 / sqrt(PI) * exp(-(x / y) * (x / y)) * x / (y * y)},
        {"square(x) * reciprocal(y)", x, y, 4.0 / 3, 4.0 / 3, -4.0 / 9},
        {"rsqrt(x*y)", x, y, 1 / sqrt(6.0), -0.5 * y / pow(6.0, 1.5), -0.5 * x / pow(6.0, 1.5)},
        {"silu(x)", x, y, x / (1 + exp(-x)),
         1 / (1 + exp(-x)) + x * exp(-x) / ((1 + exp(-x)) * (1 + exp(-x))), 0},
        {"sign(x) * y", x, y, 3, 0, 1},
        {"exp(2)", x, y, exp(2.0), 0, 0},     /* no variable: a constant */
        {"y", x, y, 3, 0, 1},                 /* the expression is a variable */
        {"1/(1 + exp(-x*y))", x, y, 1 / (1 + exp(-6.0)), y * exp(-6.0) / pow(1 + exp(-6.0), 2),
         x * exp(-6.0) / pow(1 + exp(-6.0), 2)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_hand(&cases[i]);
}

/* ------------------------------------------- 2. precedence and numbers */

static double value_of(const char *text) {
    char err[512];
    ex_expr *e = ex_expr_parse(text, 2, xy, err, sizeof err);
    CHECK(e != NULL, "%s: %s", text, err);
    if (!e) return NAN;
    double v = ex_expr_eval(e, (double[]){3, 2});
    /* the taped value is the same number */
    tg_tape *tape = tg_tape_new();
    tg_tensor *in[2] = {tg_scalar(tape, 3), tg_scalar(tape, 2)};
    tg_tensor *t = ex_expr_tape(e, tape, in);
    CHECK_OK(tape);
    CHECK(tg_item(t) == v || (isnan(v) && isnan(tg_item(t))), "%s: taped %.17g, plain %.17g", text,
          tg_item(t), v);
    tg_tape_free(tape);
    ex_expr_free(e);
    return v;
}

static void test_precedence(void) {
    struct {
        const char *text;
        double want;
    } cases[] = {
        {"-x^2", -9},        {"(-x)^2", 9},        {"2^3^2", 512},     {"2**3**2", 512},
        {"2^-1", 0.5},       {"x^y*2", 18},        {"2*x^y", 18},      {"1-2-3", -4},
        {"8/4/2", 1},        {"1+2*3", 7},         {"(1+2)*3", 9},     {"--x", 3},
        {"+x", 3},           {"-x*-y", 6},         {"x - -y", 5},      {".5", 0.5},
        {"5.", 5},           {"1e3", 1000},        {"2.5E-1", 0.25},   {"1e+2", 100},
        {"\t x *\ty ", 6},   {"((x))", 3},         {"sin (0)", 0},     {"x^y^0", 3},
        {"-2^2", -4},        {"2*-x", -6},         {"exp(0)*x", 3},    {"1/0", INFINITY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double got = value_of(cases[i].text);
        CHECK(got == cases[i].want, "%s = %.17g, want %.17g", cases[i].text, got, cases[i].want);
    }
}

/* ------------------------------------------------------------ 3. names */

static void test_names(void) {
    char err[512];
    ex_expr *e = ex_expr_parse("x*y + sin( x ) / y", 2, xy, err, sizeof err);
    CHECK(e != NULL, "%s", err);
    if (!e) return;
    tg_tape *tape = tg_tape_new();
    tg_tensor *in[2] = {tg_scalar(tape, 1), tg_scalar(tape, 2)};
    tg_tensor *f = ex_expr_tape(e, tape, in);
    CHECK_OK(tape);
    /* records: x, y, x*y, sin(x), sin(x)/y, the sum; each op's name is its
     * text, blanks squeezed out (the DOT output lists every record) */
    CHECK(tg_tape_count(tape) == 6, "%zu tensors recorded, want 6", tg_tape_count(tape));
    CHECK(f && !strcmp(tg_tensor_name(f), "x*y+sin(x)/y"), "root named \"%s\"",
          f ? tg_tensor_name(f) : "?");
    char dot[8192];
    tg_tape_sprint_dot(tape, NULL, dot, sizeof dot);
    const char *want[] = {"label=\"x*y (#2)", "label=\"sin(x) (#3)", "label=\"sin(x)/y (#4)"};
    for (int i = 0; i < 3; i++) CHECK(strstr(dot, want[i]) != NULL, "no %s in\n%s", want[i], dot);
    tg_tape_free(tape);
    ex_expr_free(e);

    /* a parenthesized operand is named with its parentheses; long text is cut */
    e = ex_expr_parse("(x + y) * (x + y + x + y + x + y + x + y + x + y + x + y + x + y + x + y + x + y + x + y)", 2, xy, err, sizeof err);
    CHECK(e != NULL, "%s", err);
    if (!e) return;
    tape = tg_tape_new();
    in[0] = tg_scalar(tape, 1), in[1] = tg_scalar(tape, 2);
    f = ex_expr_tape(e, tape, in);
    CHECK_OK(tape);
    const char *name = f ? tg_tensor_name(f) : NULL;
    CHECK(name && strlen(name) == TG_NAME_MAX - 1 && !strncmp(name, "(x+y)*(x+y+x+y", 14),
          "long name \"%s\"", name ? name : "(null)");
    CHECK_NEAR(tg_item(f), 3.0 * 30, 0);
    tg_tape_free(tape);
    ex_expr_free(e);
}

/* ----------------------------------------------------------- 4. errors */

static void check_error(const char *text, const char *want) {
    char err[1024];
    ex_expr *e = ex_expr_parse(text, 2, xy, err, sizeof err);
    CHECK(e == NULL, "\"%s\" parsed", text);
    CHECK(!strcmp(err, want), "\"%s\":\n%s\nwant:\n%s", text, err, want);
    ex_expr_free(e);
}

static void test_errors(void) {
    check_error("x*y + * 2",
                "column 7: expected a number, a name or \"(\", found \"*\"\n  x*y + * 2\n        ^");
    check_error("", "column 1: expected a number, a name or \"(\", found the end of the expression\n"
                    "  \n  ^");
    check_error("x +", "column 4: expected a number, a name or \"(\", found the end of the "
                       "expression\n  x +\n     ^");
    check_error("z + 1", "column 1: unknown variable \"z\" (give it a value: z=1.5)\n  z + 1\n  ^");
    check_error("x + sine(y)",
                "column 5: unknown function \"sine\" (functions: sin cos tan exp log sqrt tanh "
                "sigmoid relu abs log1p expm1 erf square reciprocal rsqrt silu sign)\n"
                "  x + sine(y)\n      ^");
    check_error("2*sin", "column 3: sin is a function: write sin(...)\n  2*sin\n    ^");
    check_error("sin(x, y)", "column 6: sin takes one argument\n  sin(x, y)\n       ^");
    check_error("(x + 1", "column 7: expected \")\" to close the \"(\" of column 1, found the end "
                          "of the expression\n  (x + 1\n        ^");
    check_error("exp(x y)", "column 7: expected \")\" to close the \"(\" of column 4, found \"y\"\n"
                            "  exp(x y)\n        ^");
    check_error("x)", "column 2: \")\" without a matching \"(\"\n  x)\n   ^");
    check_error("x y", "column 3: expected an operator (+ - * / ^) or the end, found \"y\"\n"
                       "  x y\n    ^");
    check_error("2x", "column 2: expected an operator (+ - * / ^) or the end, found \"x\"\n"
                      "  2x\n   ^");
    check_error("x $ y", "column 3: expected an operator (+ - * / ^) or the end, found \"$\"\n"
                         "  x $ y\n    ^");
    check_error("x\x01", "column 2: expected an operator (+ - * / ^) or the end, found byte 0x01\n"
                         "  x\x01\n   ^");
    check_error("1.2.3", "column 4: expected an operator (+ - * / ^) or the end, found \".\"\n"
                         "  1.2.3\n     ^");
    check_error(". + x", "column 1: a lone \".\" is not a number\n  . + x\n  ^");
    check_error("1e+ * x", "column 2: the exponent of 1e has no digits\n  1e+ * x\n   ^");
    check_error("1e999", "column 1: the number 1e999 is too large for a double\n  1e999\n  ^");
    check_error("x^", "column 3: expected a number, a name or \"(\", found the end of the "
                      "expression\n  x^\n    ^");
    check_error("x***2", "column 4: expected a number, a name or \"(\", found \"*\"\n  x***2\n     ^");
    /* a number of 128 characters */
    char big[160];
    memset(big, '1', 128);
    big[128] = 0;
    char want[600];
    snprintf(want, sizeof want, "column 1: a number longer than 127 characters\n  %s\n  ^", big);
    check_error(big, want);
    /* a small buffer: cut, terminated; NULL err is allowed */
    char small[8];
    CHECK(ex_expr_parse("z", 2, xy, small, sizeof small) == NULL && !strcmp(small, "column "),
          "small buffer: \"%s\"", small);
    CHECK(ex_expr_parse("z", 2, xy, NULL, 0) == NULL, "NULL err");
}

/* ----------------------------------------------------------- 5. limits */

static void test_limits(void) {
    enum { D = EX_EXPR_MAX_DEPTH };
    char text[5 * EX_EXPR_MAX_HEIGHT + 16];
    char err[1024];
    /* D parentheses deep parses; D + 1 does not */
    for (int extra = 0; extra < 2; extra++) {
        int d = D + extra, n = 0;
        for (int i = 0; i < d; i++) text[n++] = '(';
        text[n++] = 'x';
        for (int i = 0; i < d; i++) text[n++] = ')';
        text[n] = 0;
        ex_expr *e = ex_expr_parse(text, 2, xy, err, sizeof err);
        if (!extra) CHECK(e != NULL, "%d deep: %s", d, err);
        else CHECK(!e && !strncmp(err, "column 101: nested more than 100 deep\n", 38), "%d deep: %s", d, e ? "parsed" : err);
        ex_expr_free(e);
    }
    /* the same for unary minus and right-associative powers */
    memset(text, '-', D + 1);
    strcpy(text + D + 1, "x");
    ex_expr *e = ex_expr_parse(text, 2, xy, err, sizeof err);
    CHECK(!e && strstr(err, "nested more than 100 deep"), "101 minus signs: %s", e ? "parsed" : err);
    ex_expr_free(e);
    int n = 0;
    for (int i = 0; i < D + 1; i++) text[n++] = 'x', text[n++] = '^';
    text[n++] = '1';
    text[n] = 0;
    e = ex_expr_parse(text, 2, xy, err, sizeof err);
    CHECK(!e && strstr(err, "nested more than 100 deep"), "101 powers: %s", e ? "parsed" : err);
    ex_expr_free(e);
    /* x+x+...+x: a tree EX_EXPR_MAX_HEIGHT high parses, evaluates and tapes; one more does not */
    for (int extra = 0; extra < 2; extra++) {
        n = 0;
        for (int i = 0; i < EX_EXPR_MAX_HEIGHT + extra; i++) text[n++] = 'x', text[n++] = '+';
        text[n++] = 'x';
        text[n] = 0;
        e = ex_expr_parse(text, 2, xy, err, sizeof err);
        if (!extra) {
            CHECK(e != NULL, "height %d: %s", EX_EXPR_MAX_HEIGHT, err);
            if (e) {
                tg_tape *tape = tg_tape_new();
                tg_tensor *in[2] = {tg_requires_grad(tg_scalar(tape, 1)), tg_scalar(tape, 2)};
                tg_backward(ex_expr_tape(e, tape, in));
                CHECK_OK(tape);
                CHECK_NEAR(tg_item(tg_tensor_grad(in[0])), EX_EXPR_MAX_HEIGHT + 1, 0);
                CHECK_NEAR(ex_expr_eval(e, (double[]){1, 2}), EX_EXPR_MAX_HEIGHT + 1, 0);
                tg_tape_free(tape);
            }
        } else {
            CHECK(!e && strstr(err, "more than 2000 operations deep"), "height %d: %s",
                  EX_EXPR_MAX_HEIGHT + 1, e ? "parsed" : err);
        }
        ex_expr_free(e);
    }
}

int main(void) {
    test_values();
    test_precedence();
    test_names();
    test_errors();
    test_limits();
    return TEST_DONE("expr");
}
