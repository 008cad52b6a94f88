/* expr.c - a recursive-descent parser for the expressions of expr.h, and
 * their two evaluations (tapegrad ops; plain C). Not part of the library. */
#include "expr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ functions */

static double f_sigmoid(double a) { return 1 / (1 + exp(-a)); }
static double f_relu(double a) { return a > 0 ? a : 0; }
static double f_square(double a) { return a * a; }
static double f_reciprocal(double a) { return 1 / a; }
static double f_rsqrt(double a) { return 1 / sqrt(a); }
static double f_silu(double a) { return a / (1 + exp(-a)); }
static double f_sign(double a) { return (a > 0) - (a < 0); }

typedef struct func {
    const char *name;
    double (*plain)(double);
    tg_tensor *(*taped)(tg_tensor *);
} func;

static const func funcs[] = {
    {"sin", sin, tg_sin},         {"cos", cos, tg_cos},
    {"tan", tan, tg_tan},         {"exp", exp, tg_exp},
    {"log", log, tg_log},         {"sqrt", sqrt, tg_sqrt},
    {"tanh", tanh, tg_tanh},      {"sigmoid", f_sigmoid, tg_sigmoid},
    {"relu", f_relu, tg_relu},    {"abs", fabs, tg_abs},
    {"log1p", log1p, tg_log1p},   {"expm1", expm1, tg_expm1},
    {"erf", erf, tg_erf},         {"square", f_square, tg_square},
    {"reciprocal", f_reciprocal, tg_reciprocal},
    {"rsqrt", f_rsqrt, tg_rsqrt}, {"silu", f_silu, tg_silu},
    {"sign", f_sign, tg_sign},
};
#define NFUNCS ((int)(sizeof funcs / sizeof funcs[0]))

const char *ex_expr_function_names(void) {
    return "sin cos tan exp log sqrt tanh sigmoid relu abs log1p expm1 erf square reciprocal "
           "rsqrt silu sign";
}

/* ---------------------------------------------------------------- nodes */

typedef enum { N_NUM, N_VAR, N_NEG, N_ADD, N_SUB, N_MUL, N_DIV, N_POW, N_CALL } node_kind;

typedef struct node {
    node_kind kind;
    int a, b;       /* operand nodes (N_NEG, N_CALL: a only) */
    int index;      /* N_VAR: the variable; N_CALL: the function */
    double value;   /* N_NUM */
    int start, end; /* the text it was parsed from, [start, end) */
    int height;     /* operations on the longest path down: 0 for a leaf */
} node;

struct ex_expr {
    node *nodes;
    int n, cap, root;
    char *text;
};

/* ---------------------------------------------------------------- parse */

typedef struct parser {
    const char *s;
    int pos, depth;
    int nvars;
    const char *const *vars;
    ex_expr *e;
    char *err;
    size_t errsz;
    int failed;
} parser;

/* Records the first error: "column C: <sentence>" then the text and a
 * caret under column C. */
static int fail(parser *p, int col, const char *fmt, ...) {
    if (p->failed) return -1;
    p->failed = 1;
    if (!p->err || !p->errsz) return -1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errsz, "column %d: %s\n  %s\n  %*s^", col + 1, msg, p->s, col, "");
    return -1;
}

static void skip_space(parser *p) {
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t') p->pos++;
}

static int add_node(parser *p, node_kind kind, int a, int b, int start) {
    ex_expr *e = p->e;
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 16;
        node *nn = realloc(e->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return fail(p, start, "out of memory");
        e->nodes = nn;
        e->cap = cap;
    }
    node *nd = &e->nodes[e->n];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->a = a;
    nd->b = b;
    nd->start = start;
    nd->end = p->pos;
    int ha = a >= 0 ? e->nodes[a].height : 0, hb = b >= 0 ? e->nodes[b].height : 0;
    nd->height = a < 0 && b < 0 ? 0 : 1 + (ha > hb ? ha : hb);
    if (nd->height > EX_EXPR_MAX_HEIGHT)
        return fail(p, start, "more than %d operations deep", EX_EXPR_MAX_HEIGHT);
    return e->n++;
}

/* What stands at pos, for messages: "end of input" or the character. */
static const char *found(parser *p, char *buf, size_t sz) {
    char c = p->s[p->pos];
    if (!c) return "the end of the expression";
    if (isprint((unsigned char)c)) snprintf(buf, sz, "\"%c\"", c);
    else snprintf(buf, sz, "byte 0x%02x", (unsigned)(unsigned char)c);
    return buf;
}

static int parse_expr(parser *p);

/* Steps over the ")" that closes the "(" at `open`, or fails. */
static int expect_close(parser *p, int open) {
    skip_space(p);
    if (p->s[p->pos] != ')') {
        char b[16];
        return fail(p, p->pos, "expected \")\" to close the \"(\" of column %d, found %s", open + 1,
                    found(p, b, sizeof b));
    }
    p->pos++;
    return 0;
}

static int parse_number(parser *p) {
    int start = p->pos;
    const char *s = p->s;
    int i = start, digits = 0;
    while (isdigit((unsigned char)s[i])) i++, digits++;
    if (s[i] == '.') {
        i++;
        while (isdigit((unsigned char)s[i])) i++, digits++;
    }
    if (!digits) return fail(p, start, "a lone \".\" is not a number");
    if (s[i] == 'e' || s[i] == 'E') {
        int j = i + 1;
        if (s[j] == '+' || s[j] == '-') j++;
        if (!isdigit((unsigned char)s[j]))
            return fail(p, i, "the exponent of %.*s has no digits", i - start + 1, s + start);
        while (isdigit((unsigned char)s[j])) j++;
        i = j;
    }
    char buf[128];
    if (i - start >= (int)sizeof buf) return fail(p, start, "a number longer than 127 characters");
    memcpy(buf, s + start, (size_t)(i - start));
    buf[i - start] = 0;
    double v = strtod(buf, NULL);
    if (!isfinite(v)) return fail(p, start, "the number %s is too large for a double", buf);
    p->pos = i;
    int k = add_node(p, N_NUM, -1, -1, start);
    if (k >= 0) p->e->nodes[k].value = v;
    return k;
}

static int parse_name(parser *p) {
    int start = p->pos;
    while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_') p->pos++;
    int len = p->pos - start;
    const char *name = p->s + start;
    skip_space(p);
    if (p->s[p->pos] == '(') {
        int f = -1;
        for (int i = 0; i < NFUNCS && f < 0; i++)
            if ((int)strlen(funcs[i].name) == len && !strncmp(funcs[i].name, name, (size_t)len)) f = i;
        if (f < 0)
            return fail(p, start, "unknown function \"%.*s\" (functions: %s)", len > 40 ? 40 : len,
                        name, ex_expr_function_names());
        int open = p->pos++;
        if (++p->depth > EX_EXPR_MAX_DEPTH) return fail(p, open, "nested more than %d deep", EX_EXPR_MAX_DEPTH);
        int a = parse_expr(p);
        p->depth--;
        if (a < 0) return -1;
        skip_space(p);
        if (p->s[p->pos] == ',')
            return fail(p, p->pos, "%.*s takes one argument", len, name);
        if (expect_close(p, open) < 0) return -1;
        int k = add_node(p, N_CALL, a, -1, start);
        if (k >= 0) p->e->nodes[k].index = f;
        return k;
    }
    int v = -1;
    for (int i = 0; i < p->nvars && v < 0; i++)
        if ((int)strlen(p->vars[i]) == len && !strncmp(p->vars[i], name, (size_t)len)) v = i;
    if (v < 0) {
        for (int i = 0; i < NFUNCS; i++)
            if ((int)strlen(funcs[i].name) == len && !strncmp(funcs[i].name, name, (size_t)len))
                return fail(p, start, "%.*s is a function: write %.*s(...)", len, name, len, name);
        return fail(p, start, "unknown variable \"%.*s\" (give it a value: %.*s=1.5)",
                    len > 40 ? 40 : len, name, len > 40 ? 40 : len, name);
    }
    int save = p->pos;
    p->pos = start + len; /* the node's text ends at the name */
    int k = add_node(p, N_VAR, -1, -1, start);
    p->pos = save;
    if (k >= 0) p->e->nodes[k].index = v;
    return k;
}

static int parse_primary(parser *p) {
    skip_space(p);
    char c = p->s[p->pos];
    if (isdigit((unsigned char)c) || c == '.') return parse_number(p);
    if (isalpha((unsigned char)c) || c == '_') return parse_name(p);
    if (c == '(') {
        int open = p->pos++;
        if (++p->depth > EX_EXPR_MAX_DEPTH) return fail(p, open, "nested more than %d deep", EX_EXPR_MAX_DEPTH);
        int a = parse_expr(p);
        p->depth--;
        if (a < 0) return -1;
        if (expect_close(p, open) < 0) return -1;
        /* the parenthesized text is the node's text */
        p->e->nodes[a].start = open;
        p->e->nodes[a].end = p->pos;
        return a;
    }
    char b[16];
    return fail(p, p->pos, "expected a number, a name or \"(\", found %s", found(p, b, sizeof b));
}

static int parse_unary(parser *p);

static int parse_power(parser *p) {
    int start = (skip_space(p), p->pos);
    int a = parse_primary(p);
    if (a < 0) return -1;
    skip_space(p);
    int op2 = p->s[p->pos] == '*' && p->s[p->pos + 1] == '*';
    if (p->s[p->pos] != '^' && !op2) return a;
    int at = p->pos;
    p->pos += op2 ? 2 : 1;
    if (++p->depth > EX_EXPR_MAX_DEPTH) return fail(p, at, "nested more than %d deep", EX_EXPR_MAX_DEPTH);
    int b = parse_unary(p);
    p->depth--;
    if (b < 0) return -1;
    return add_node(p, N_POW, a, b, start);
}

static int parse_unary(parser *p) {
    skip_space(p);
    int start = p->pos;
    char c = p->s[p->pos];
    if (c != '-' && c != '+') return parse_power(p);
    p->pos++;
    if (++p->depth > EX_EXPR_MAX_DEPTH) return fail(p, start, "nested more than %d deep", EX_EXPR_MAX_DEPTH);
    int a = parse_unary(p);
    p->depth--;
    if (a < 0 || c == '+') return a;
    return add_node(p, N_NEG, a, -1, start);
}

/* A left-associative chain of binary operators: level 0 is + and -, over
 * operands of level 1, which is * and /, over unary operands. */
static int parse_binary(parser *p, int level) {
    int start = (skip_space(p), p->pos);
    int a = level ? parse_unary(p) : parse_binary(p, 1);
    for (;;) {
        if (a < 0) return -1;
        skip_space(p);
        char c = p->s[p->pos];
        int is_op = level ? (c == '*' || c == '/') && p->s[p->pos + 1] != '*' : c == '+' || c == '-';
        if (!is_op) return a;
        p->pos++;
        int b = level ? parse_unary(p) : parse_binary(p, 1);
        if (b < 0) return -1;
        node_kind k = c == '+' ? N_ADD : c == '-' ? N_SUB : c == '*' ? N_MUL : N_DIV;
        a = add_node(p, k, a, b, start);
    }
}

static int parse_expr(parser *p) { return parse_binary(p, 0); }

ex_expr *ex_expr_parse(const char *text, int nvars, const char *const *vars, char *err,
                       size_t errsz) {
    if (err && errsz) err[0] = 0;
    parser p = {.s = text ? text : "", .nvars = nvars, .vars = vars, .err = err, .errsz = errsz};
    ex_expr *e = calloc(1, sizeof *e);
    if (!e) {
        if (err && errsz) snprintf(err, errsz, "column 1: out of memory\n  %s\n  ^", p.s);
        return NULL;
    }
    p.e = e;
    e->root = parse_expr(&p);
    if (e->root >= 0) {
        skip_space(&p);
        char c = p.s[p.pos];
        if (c == ')') fail(&p, p.pos, "\")\" without a matching \"(\"");
        else if (c) {
            char b[16];
            fail(&p, p.pos, "expected an operator (+ - * / ^) or the end, found %s",
                 found(&p, b, sizeof b));
        }
    }
    size_t len = strlen(p.s);
    if (!p.failed && !(e->text = malloc(len + 1))) fail(&p, 0, "out of memory");
    if (p.failed) {
        ex_expr_free(e);
        return NULL;
    }
    memcpy(e->text, p.s, len + 1);
    return e;
}

void ex_expr_free(ex_expr *e) {
    if (!e) return;
    free(e->nodes);
    free(e->text);
    free(e);
}

/* ------------------------------------------------------------- evaluate */

static int is_constant(const ex_expr *e, int k) {
    const node *nd = &e->nodes[k];
    switch (nd->kind) {
    case N_NUM: return 1;
    case N_VAR: return 0;
    case N_NEG:
    case N_CALL: return is_constant(e, nd->a);
    default: return is_constant(e, nd->a) && is_constant(e, nd->b);
    }
}

static double eval_node(const ex_expr *e, int k, const double *vals) {
    const node *nd = &e->nodes[k];
    switch (nd->kind) {
    case N_NUM: return nd->value;
    case N_VAR: return vals[nd->index];
    case N_NEG: return -eval_node(e, nd->a, vals);
    case N_CALL: return funcs[nd->index].plain(eval_node(e, nd->a, vals));
    default: break;
    }
    double a = eval_node(e, nd->a, vals), b = eval_node(e, nd->b, vals);
    switch (nd->kind) {
    case N_ADD: return a + b;
    case N_SUB: return a - b;
    case N_MUL: return a * b;
    case N_DIV: return a / b;
    default: return pow(a, b);
    }
}

double ex_expr_eval(const ex_expr *e, const double *vals) { return eval_node(e, e->root, vals); }

/* Names t after the text of node k, blanks squeezed out, cut to fit. */
static tg_tensor *name_after(const ex_expr *e, int k, tg_tensor *t) {
    const node *nd = &e->nodes[k];
    char name[TG_NAME_MAX];
    int n = 0;
    for (int i = nd->start; i < nd->end && n < TG_NAME_MAX - 1; i++)
        if (e->text[i] != ' ' && e->text[i] != '\t') name[n++] = e->text[i];
    name[n] = 0;
    return tg_tensor_set_name(t, name);
}

static tg_tensor *tape_node(const ex_expr *e, int k, tg_tape *tape, tg_tensor *const *vars) {
    const node *nd = &e->nodes[k];
    tg_tensor *t;
    switch (nd->kind) {
    case N_NUM: return tg_scalar(tape, nd->value);
    case N_VAR: return vars[nd->index];
    case N_NEG: t = tg_neg(tape_node(e, nd->a, tape, vars)); break;
    case N_CALL: t = funcs[nd->index].taped(tape_node(e, nd->a, tape, vars)); break;
    case N_POW:
        if (is_constant(e, nd->b)) {
            t = tg_pow_scalar(tape_node(e, nd->a, tape, vars), eval_node(e, nd->b, NULL));
            break;
        }
        /* fall through */
    default: {
        tg_tensor *a = tape_node(e, nd->a, tape, vars), *b = tape_node(e, nd->b, tape, vars);
        t = nd->kind == N_ADD   ? tg_add(a, b)
            : nd->kind == N_SUB ? tg_sub(a, b)
            : nd->kind == N_MUL ? tg_mul(a, b)
            : nd->kind == N_DIV ? tg_div(a, b)
                                : tg_pow(a, b);
    }
    }
    return name_after(e, k, t);
}

tg_tensor *ex_expr_tape(const ex_expr *e, tg_tape *tape, tg_tensor *const *vars) {
    return tape_node(e, e->root, tape, vars);
}
