/* derivative.c - differentiate an expression typed on the command line.
 *
 *     ./build/examples/derivative "x*y + sin(x)/y" x=2 y=3
 *
 * The text is parsed (expr.c: numbers, variables, + - * / ^, unary minus,
 * parentheses, calls of sin cos tan exp log sqrt tanh sigmoid relu abs
 * log1p expm1 erf square reciprocal rsqrt silu sign) into tapegrad ops on
 * 0-d f64 tensors. Each op computes its value right away and records
 * itself on the tape; tg_backward then walks the tape backwards and
 * applies the chain rule, op by op. Beside each partial derivative we
 * print a central finite difference, (f(x+h) - f(x-h)) / 2h with
 * h = 1e-6 max(1, |x|), computed from the same expression in plain C.
 *
 * With no expression it differentiates sin(x*y) + x^2/y - exp(-y) at
 * x = 1.5, y = 0.5; `derivative X Y` (two numbers) the same at (X, Y).
 * --trace prints every step of the backward sweep (tg_tape_set_trace),
 * --dot FILE writes the graph with its gradients (dot -Tpng FILE),
 * --html FILE the backward sweep as a page to step through in a browser.
 *
 * Exit status: 0; 1 when a derivative and its finite difference differ by
 * more than 1e-6 (1 + |df/dx| + |f|) (as where f is not differentiable)
 * or the tape reports an error; 2 on a bad argument or expression (a
 * syntax error names the column and points at it).
 */
#include <tapegrad.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "expr.h"

#define MAX_VARS 16

/* A whole, finite number, or exit 2 saying what `what` is. */
static double number_or_exit(const char *prog, const char *what, const char *text) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v)) {
        fprintf(stderr, "%s: %s: \"%s\" is not a finite number\n", prog, what, text);
        exit(2);
    }
    return v;
}

static int is_number(const char *text) {
    char *end;
    double v = strtod(text, &end);
    return end != text && !*end && isfinite(v);
}

int main(int argc, char **argv) {
    const char *dot = NULL, *html = NULL;
    int trace = 0;
    const ex_flag flags[] = {
        {"--trace", EX_BOOL, &trace, "print every step of the backward sweep"},
        {"--dot", EX_STRING, &dot, "write the graph, values and gradients as Graphviz DOT to this file"},
        {"--html", EX_STRING, &html, "write the backward sweep as a page to step through in a browser"},
    };
    char *pos[1 + MAX_VARS];
    int npos = ex_parse_pos(
        argc, argv,
        "       derivative [flags] EXPRESSION NAME=VALUE...\n"
        "       derivative [flags] X Y\n"
        "Differentiates EXPRESSION at the given values: prints its value and each\n"
        "partial derivative beside a central finite difference. An expression has\n"
        "numbers, variables, + - * / ^ (or **), unary minus, parentheses and the\n"
        "functions sin cos tan exp log sqrt tanh sigmoid relu abs log1p expm1 erf\n"
        "square reciprocal rsqrt silu sign. With no expression: sin(x*y) + x^2/y - exp(-y)\n"
        "at x = 1.5, y = 0.5, or at x = X, y = Y.\n"
        "Example: derivative \"x*y + sin(x)/y\" x=2 y=3",
        flags, (int)(sizeof flags / sizeof flags[0]), pos, 1 + MAX_VARS);

    const char *text = "sin(x*y) + x^2/y - exp(-y)";
    const char *names[MAX_VARS] = {"x", "y"};
    char name_buf[MAX_VARS][TG_NAME_MAX];
    double vals[MAX_VARS] = {1.5, 0.5};
    int nvars = 2;
    if (npos == 2 && is_number(pos[0]) && is_number(pos[1])) {
        vals[0] = number_or_exit(argv[0], "x", pos[0]); /* the old form: X Y */
        vals[1] = number_or_exit(argv[0], "y", pos[1]);
    } else if (npos > 0) {
        text = pos[0];
        nvars = 0;
        for (int i = 1; i < npos; i++) {
            const char *eq = strchr(pos[i], '=');
            size_t len = eq ? (size_t)(eq - pos[i]) : 0;
            int ok = eq && len > 0 && len < TG_NAME_MAX &&
                     (isalpha((unsigned char)pos[i][0]) || pos[i][0] == '_');
            for (size_t k = 0; ok && k < len; k++)
                ok = isalnum((unsigned char)pos[i][k]) || pos[i][k] == '_';
            if (!ok) {
                fprintf(stderr, "%s: \"%s\" is not NAME=VALUE (a variable and its value, e.g. x=2)\n",
                        argv[0], pos[i]);
                return 2;
            }
            memcpy(name_buf[nvars], pos[i], len);
            name_buf[nvars][len] = 0;
            for (int j = 0; j < nvars; j++)
                if (!strcmp(names[j], name_buf[nvars])) {
                    fprintf(stderr, "%s: %s is given twice\n", argv[0], name_buf[nvars]);
                    return 2;
                }
            names[nvars] = name_buf[nvars];
            vals[nvars] = number_or_exit(argv[0], name_buf[nvars], eq + 1);
            nvars++;
        }
    }

    char err[1024];
    ex_expr *e = ex_expr_parse(text, nvars, names, err, sizeof err);
    if (!e) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        return 2;
    }

    tg_tape *tape = tg_tape_new();
    /* Leaves: the variables we differentiate against, named for the trace. */
    tg_tensor *vars[MAX_VARS];
    for (int i = 0; i < nvars; i++)
        vars[i] = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, vals[i])), names[i]);
    tg_tensor *f = ex_expr_tape(e, tape, vars); /* forward: values + the tape */
    int is_var = 0;
    for (int i = 0; i < nvars; i++) is_var |= f == vars[i];
    if (!is_var) f = tg_tensor_set_name(f, "f");

    printf("f = %s%s", text, nvars ? "   at" : "");
    for (int i = 0; i < nvars; i++) {
        char v[32]; /* the shortest of %.15g, %.17g that reads back as the value */
        snprintf(v, sizeof v, "%.15g", vals[i]);
        if (strtod(v, NULL) != vals[i]) snprintf(v, sizeof v, "%.17g", vals[i]);
        printf("%s %s = %s", i ? "," : "", names[i], v);
    }
    printf("\n\n");
    if (trace) {
        printf("backward trace (tg_tape_set_trace):\n");
        tg_tape_set_trace(tape, stdout);
    }
    /* reverse: every df/dx_i in one sweep (none when f holds no variable) */
    if (f && tg_tensor_requires_grad(f)) tg_backward(f);
    if (trace) printf("\n");
    /* Errors are sticky: one check at the end covers every op above. */
    if (!tg_tape_ok(tape)) {
        fprintf(stderr, "%s: %s\n", argv[0], tg_tape_error(tape));
        tg_tape_free(tape);
        ex_expr_free(e);
        return 1;
    }

    double fv = tg_item(f);
    printf("%-9s = %.15g\n", "f", fv);
    if (nvars) printf("%12s%-24s %s\n", "", "tapegrad", "central difference");
    int bad = 0;
    for (int i = 0; i < nvars; i++) {
        tg_tensor *g = tg_tensor_grad(vars[i]); /* NULL: f does not use it */
        double ad = g ? tg_item(g) : 0;
        double x = vals[i], hstep = 1e-6 * (fabs(x) > 1 ? fabs(x) : 1);
        vals[i] = x + hstep;
        double fp = ex_expr_eval(e, vals);
        vals[i] = x - hstep;
        double fm = ex_expr_eval(e, vals);
        vals[i] = x;
        double fd = (fp - fm) / (2 * hstep);
        int differs = !(fabs(ad - fd) <= 1e-6 * (1 + fabs(ad) + fabs(fv)));
        char label[TG_NAME_MAX + 8];
        snprintf(label, sizeof label, "df/d%s", names[i]);
        printf("%-9s = %-24.15g %.15g%s\n", label, ad, fd, differs ? "   differs" : "");
        bad |= differs;
    }
    if (bad)
        printf("\nA derivative differs from its finite difference: f may not be differentiable "
               "there (a kink, a pole, a domain edge).\n");
    printf("\nThe tape recorded %zu tensors (%zu bytes).\n", tg_tape_count(tape), tg_tape_bytes(tape));

    if (dot) {
        FILE *out = fopen(dot, "w");
        int st = out ? (int)tg_tape_write_dot(tape, f, out) : 1;
        if (out && fclose(out)) st = 1;
        if (st) {
            fprintf(stderr, "%s: cannot write %s\n", argv[0], dot);
            bad = 1;
        } else {
            printf("wrote the graph to %s (draw it: dot -Tpng %s -o graph.png)\n", dot, dot);
        }
    }
    if (html && !(f && tg_tensor_requires_grad(f))) {
        fprintf(stderr, "%s: --html: f uses no variable, so there is no backward sweep to show\n",
                argv[0]);
        bad = 1;
    } else if (html) {
        /* one self-contained page: the graph, and Next/Previous through the sweep */
        tg_html_opts ho = {text, TG_HTML_AUTO};
        tg_status hs = tg_tape_write_html(tape, f, html, &ho);
        if (hs != TG_OK) {
            fprintf(stderr, "%s: cannot write %s: %s\n", argv[0], html, tg_status_name(hs));
            bad = 1;
        } else {
            printf("wrote %s: open it in a browser and press Next to step through the sweep\n", html);
        }
    }
    tg_tape_free(tape);
    ex_expr_free(e);
    return bad;
}
