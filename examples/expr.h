/* expr.h - arithmetic expressions typed as text, for examples/derivative.c
 * (not part of the library).
 *
 *     expr    := term (("+" | "-") term)*
 *     term    := unary (("*" | "/") unary)*
 *     unary   := ("-" | "+") unary | power
 *     power   := primary (("^" | "**") unary)?      right-associative
 *     primary := number | name | name "(" expr ")" | "(" expr ")"
 *
 * So -x^2 is -(x^2), 2^3^2 is 2^9 and 2^-1 is 0.5, as in mathematics and
 * Python. A number is decimal: digits, an optional fraction and exponent
 * (1, 2.5, .5, 1e-3); a name is a letter or _ then letters, digits or _.
 * A name followed by "(" is a function: one of ex_expr_function_names().
 * Any other name must be one of the variables given to ex_expr_parse.
 *
 * A parsed expression is evaluated two ways: ex_expr_tape records it as
 * tapegrad ops on 0-d f64 tensors (to differentiate it), ex_expr_eval
 * computes it in plain C doubles (for finite differences). */
#ifndef TG_EXAMPLES_EXPR_H
#define TG_EXAMPLES_EXPR_H

#include <stddef.h>

#include <tapegrad.h>

typedef struct ex_expr ex_expr;

/* Deepest nesting of parentheses, calls and unary signs accepted (deeper
 * input is a syntax error rather than a stack overflow). */
#define EX_EXPR_MAX_DEPTH 100
/* Longest chain of operations (the height of the parsed tree), so that the
 * recursive evaluations stay well inside the stack. */
#define EX_EXPR_MAX_HEIGHT 2000

/* Parses text. Variables are the nvars names in vars (the expression may
 * use any of them, or none). Returns the expression, or NULL with a
 * message in err (at most errsz bytes, always terminated) of the form
 *
 *     column 5: unknown function "sine" (functions: sin cos ...)
 *       sine(x)
 *       ^
 *
 * i.e. the 1-based column of the first offending character, a sentence,
 * then the text and a caret under that column, each line indented by two
 * spaces (no trailing newline). Out of memory is reported the same way. */
ex_expr *ex_expr_parse(const char *text, int nvars, const char *const *vars, char *err,
                       size_t errsz);

/* The expression's value in plain C doubles with the variables' values
 * vals[0..nvars-1] (in the order given to ex_expr_parse). */
double ex_expr_eval(const ex_expr *e, const double *vals);

/* Records the expression on vars' tape: vars[i] is the 0-d f64 tensor of
 * variable i. Each intermediate tensor is named after the text it computes
 * (cut at TG_NAME_MAX - 1 bytes), so that --trace and --dot read like the
 * formula. A constant exponent uses tg_pow_scalar (so x^2 is defined for
 * x < 0); an exponent holding a variable uses tg_pow. Returns the result,
 * or NULL with the error on the tape. */
tg_tensor *ex_expr_tape(const ex_expr *e, tg_tape *tape, tg_tensor *const *vars);

/* The functions a name( ... ) may call, separated by spaces. */
const char *ex_expr_function_names(void);

void ex_expr_free(ex_expr *e);

#endif
