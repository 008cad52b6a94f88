/* tg_inspect.h - seeing the chain rule: names, tape printing, Graphviz DOT,
 * a step-by-step backward trace, anomaly mode and gradient hooks.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * A worked example: name the values, print the tape, trace the sweep.
 *
 *     tg_tape *tape = tg_tape_new();
 *     tg_tensor *x = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, 2)), "x");
 *     tg_tensor *y = tg_tensor_set_name(tg_requires_grad(tg_scalar(tape, 3)), "y");
 *     tg_tensor *f = tg_tensor_set_name(tg_add(tg_mul(x, y), tg_sin(x)), "f");
 *     tg_tape_set_trace(tape, stdout);   // print every step of the sweep
 *     tg_backward(f);
 *     tg_tape_print(tape, stdout);       // one line per record, with grads
 *     tg_tape_write_dot(tape, f, stdout);  // | dot -Tpng -o graph.png
 *     tg_tape_write_html(tape, f, "sweep.html", NULL);  // step through it
 *
 * prints the sweep as the chain rule, one multiplication a line (with gcc,
 * which evaluates tg_add's arguments right to left, sin is record #2).
 * dL/dv is a gradient (L the sweep's output, v a name or a record number),
 * d#i/d#j the local derivative of op #i with respect to its input #j:
 *
 *     backward of L = f (#4)
 *     #4 f = add(#3, #2)
 *       dL/d#3 += dL/dL (1) * d#4/d#3 (1) = 1
 *       dL/d#2 += dL/dL (1) * d#4/d#2 (1) = 1
 *     #3 = mul(#0 x, #1 y)
 *       dL/dx += dL/d#3 (1) * d#3/d#0 (3) = 3
 *       dL/dy += dL/d#3 (1) * d#3/d#1 (2) = 2
 *     #2 = sin(#0 x)
 *       dL/dx += dL/d#2 (1) * d#2/d#0 (-0.416147) = -0.416147
 *     dL/dy = 2
 *     dL/dx = 2.58385
 *
 * then the tape, e.g. `#3 = mul(#0 x, #1 y)  []  f64  6  grad 1`.
 *
 * Everything here is off by default. A tape that never names a tensor,
 * sets a hook, traces or turns on anomaly mode pays nothing for it: the
 * settings live in an extension allocated on first use.
 */
#ifndef TG_INSPECT_H
#define TG_INSPECT_H

#include "tg_autograd.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ names */

/* Longest name kept, in bytes, including the terminating zero; longer
 * names are cut. */
#define TG_NAME_MAX 40

/* Gives t a name that printing, DOT, the trace and anomaly errors show.
 * Tensors on a tape keep it until the next tg_tape_reset; parameters keep
 * it for life (and show it on every tape they are used on). The string is
 * copied; name NULL or "" removes the name. Returns t (NULL stays NULL), so
 * that `x = tg_tensor_set_name(tg_scalar(tape, 1), "x")` reads well; on a
 * stale tensor or out of memory the error goes to the tape and the result
 * is NULL. */
TG_API tg_tensor *tg_tensor_set_name(tg_tensor *t, const char *name);

/* t's name, or NULL if it has none (a parameter's proxy on a tape answers
 * with the parameter's name). The string belongs to the library and stays
 * valid until the name changes, the tape is reset or the parameter freed. */
TG_API const char *tg_tensor_name(const tg_tensor *t);

/* --------------------------------------------------------------- printing */

/* Prints the tape's records in order, one line each:
 *     #2 z = mul(#0 x, #1 y)   []  f64  6  grad 1
 * index, name, op and its inputs (and the constant of a scalar op), shape,
 * dtype, the value, and after a backward the gradient (a leaf's stored
 * gradient, a parameter's, or an intermediate's from the last sweep).
 * Values of up to 6 elements are printed in full; larger tensors as
 * min/mean/max and their first 4 values. Numbers use %.6g.
 * Note: records made after the forward pass (e.g. by tg_tensor_grad, or by
 * ops without a fast backward during a sweep) are records too, and print.
 * Returns TG_OK, TG_ERR_NULL, or TG_ERR_IO when writing fails. */
TG_API tg_status tg_tape_print(const tg_tape *tape, FILE *out);

/* As tg_tape_print, into buf (always terminated when n > 0). Returns the
 * length the whole text needs (not counting the zero), as snprintf does:
 * a result >= n means it was cut. 0 for a NULL tape. */
TG_API size_t tg_tape_sprint(const tg_tape *tape, char *buf, size_t n);

/* Writes the tape as a Graphviz DOT digraph: one box per value (name,
 * index, shape, dtype, value, gradient), one ellipse per op, edges in data
 * order (labelled with the input position for ops with several inputs).
 * Leaves that require grad are blue, parameters orange, constants dashed.
 * With `only` non-NULL, just the records `only` depends on (and itself).
 * Render with e.g. `dot -Tpng tape.dot -o tape.png` (the library never
 * runs dot). Returns TG_OK, TG_ERR_NULL, TG_ERR_ARG (`only` not on this
 * tape's current pass), TG_ERR_NOMEM or TG_ERR_IO. */
TG_API tg_status tg_tape_write_dot(const tg_tape *tape, const tg_tensor *only, FILE *out);

/* As tg_tape_write_dot, into buf; returns the needed length as
 * tg_tape_sprint (0 on an error). */
TG_API size_t tg_tape_sprint_dot(const tg_tape *tape, const tg_tensor *only, char *buf,
                                 size_t n);

/* Options of tg_tensor_print; a field left 0 takes its default. */
typedef struct tg_print_opts {
    int precision;     /* digits after the point, 1..17 (default 4) */
    int64_t threshold; /* more elements than this: summarize (default 1000) */
    int edgeitems;     /* when summarizing, elements kept at each end of
                        * every axis (default 3) */
} tg_print_opts;

/* Prints t as NumPy prints an array, then its dtype, shape and name:
 *     tensor([[ 0.1000, -2.0000],
 *             [ 3.5000,  4.0000]], dtype=f64, shape=[2,2], name="W")
 * Brackets nest once per axis; every element is padded to the widest one
 * shown; from rank 3 a blank line separates the blocks of each outer
 * axis. Floats use %.<precision>f, or %.<precision>e for all of them when
 * the largest magnitude shown is >= 1e8 or the smallest nonzero one is
 * below 10^-precision; i64 prints as integers; nan, inf, -inf as such.
 * With more than `threshold` elements, only `edgeitems` at each end of
 * every axis longer than 2 * edgeitems are printed, "..." standing for
 * the rest. A 0-d tensor prints its value alone ("tensor(2.5000, ...)"),
 * an empty one "tensor([], ...)". NULL prints "tensor(NULL)" and a stale
 * handle (from an earlier pass of its tape) a line saying so; neither is
 * an error. opts NULL: the defaults. Ends with a newline. Returns TG_OK,
 * TG_ERR_NULL (out NULL) or TG_ERR_IO (writing failed). */
TG_API tg_status tg_tensor_print(FILE *out, const tg_tensor *t, const tg_print_opts *opts);

/* As tg_tensor_print, into buf (always terminated when n > 0); returns the
 * length the whole text needs, as snprintf does. */
TG_API size_t tg_tensor_sprint(char *buf, size_t n, const tg_tensor *t, const tg_print_opts *opts);

/* ------------------------------------------------------------------ trace */

/* Backward trace: while set, every sweep on this tape (tg_backward,
 * tg_grad) writes each step of the chain rule to `out`, e.g.
 *     #2 z2 = mul(#1 h1, #0 w)
 *       dL/dh1 += dL/dz2 (-0.24) * d#2/d#1 (0.3) = -0.072
 * (the gradient that accumulates, the incoming gradient, the op's own
 * partial), in full for scalars (the local derivative is the op's graph
 * backward run with an incoming gradient of 1), summarized for tensors:
 *       dL/dW += dL/dz [2] (...) through matmul = [2,3] (...)
 * After "backward of L = <output>", L stands for the sweep's output.
 * and the complete gradient of each leaf when the sweep reaches it.
 * The numbers shown come from each op's derivative formula (its graph
 * backward, unrecorded); the sweep itself runs as usual. Tracing makes
 * extra temporary records on the tape. NULL turns it off (the default).
 * Survives tg_tape_reset. */
TG_API void tg_tape_set_trace(tg_tape *tape, FILE *out);

/* ------------------------------------------------- stepping in a browser */

enum {
    TG_HTML_AUTO = 0,    /* Graphviz's layout when `dot` runs, else TG_HTML_LAYERED */
    TG_HTML_LAYERED = 1, /* tapegrad's own: a row per depth, no program needed */
    TG_HTML_DOT = 2      /* Graphviz's only: TG_ERR_IO when `dot -Tsvg` cannot run */
};

typedef struct tg_html_opts {
    const char *title; /* the page's heading; NULL: "Backward of L = <out>" */
    int layout;        /* TG_HTML_AUTO, TG_HTML_LAYERED or TG_HTML_DOT */
} tg_html_opts;

/* Writes the backward sweep from `out` as one self-contained HTML page at
 * `path` (inline SVG and JavaScript, nothing fetched from a network) to
 * step through in a browser. Call it after tg_backward(out), with the
 * output of that sweep (the last on this tape), before the tape is reset: the page shows the graph of the records `out`
 * depends on with their forward values, and Previous / Next buttons (or
 * the arrow keys) walk the sweep one record at a time, in the sweep's
 * order: the current record highlighted, its complete gradient, and for
 * each input the incoming gradient, the local derivative (scalars) and the
 * product added to the input's gradient, as the line of the backward trace
 * (tg_tape_set_trace) that says the same, with the same numbers, computed
 * by the same code; gradients are filled in as they become final. Opening
 * the page as page.html#step=K shows step K; page.html#next=N presses Next
 * N times (page.html#next=N&prev=M then Previous M times). `opts` NULL:
 * the defaults (TG_HTML_AUTO runs `dot -Tsvg` through popen, on a
 * temporary file, when it can). Computing the local
 * derivatives makes temporary records that are given back before the call
 * returns. Returns TG_OK, TG_ERR_NULL, TG_ERR_ARG (out stale, a parameter,
 * or on another tape), TG_ERR_STATE (no sweep from out on this pass),
 * TG_ERR_NOMEM, TG_ERR_IO (the file cannot be written, or TG_HTML_DOT
 * without dot), or the tape's error (one it already had, or an op's
 * backward failing); nothing is written to the tape for the others. */
TG_API tg_status tg_tape_write_html(tg_tape *tape, const tg_tensor *out, const char *path,
                                    const tg_html_opts *opts);

/* ---------------------------------------------------------- anomaly mode */

/* Anomaly mode: when on, the first op whose forward output or backward
 * gradient holds a NaN or an Inf is reported in the tape's error
 * (TG_ERR_NUMERIC) with the op's name, its record index, the shapes and
 * names of its inputs. Forward outputs are checked at the start of each
 * sweep and by tg_tape_check_finite (ops stay as fast as ever); backward
 * gradients as each op's backward runs. Off by default; survives
 * tg_tape_reset. Returns the previous setting. */
TG_API bool tg_tape_set_anomaly(tg_tape *tape, bool on);

/* Checks now the forward outputs recorded since the last check (in any
 * mode) and returns the tape's status: call it after a forward pass that
 * is not followed by a backward, or to find the first NaN early. */
TG_API tg_status tg_tape_check_finite(tg_tape *tape);

/* ------------------------------------------------------------------ hooks */

/* A gradient hook: called during a sweep when t's gradient is complete,
 * before it is passed on (or stored, for leaves and parameters). `grad`
 * holds that gradient: in a plain sweep a tensor over the working buffer
 * (edit it in place through tg_tensor_f32/f64, e.g. to clip it), in a
 * create-graph sweep the recorded gradient tensor. Return `grad` to keep
 * it, or another tensor of the same shape and dtype on t's tape to replace
 * it (built from ops, it stays differentiable in a create-graph sweep).
 * Return NULL to stop the sweep with an error (record one with
 * tg_tape_fail, or the sweep records a generic one).
 *
 * A hook may record ops on the tape and use other tapes freely, but three
 * calls on the tape being swept are refused, each with a TG_ERR_STATE error
 * on that tape that names the call and says it came from a hook:
 * tg_tape_reset and tg_tape_free (the sweep still walks its records), and
 * a second sweep, tg_backward / tg_backward_seed / tg_grad (it would clear
 * the working gradients). The error stops the sweep when the hook returns,
 * and tg_backward or tg_grad returns it; the tape is left whole, to be
 * reset or freed after the call returns. */
typedef tg_tensor *(*tg_grad_hook)(tg_tensor *t, tg_tensor *grad, void *ud);

/* Sets t's gradient hook (one per tensor: it replaces an earlier one;
 * fn NULL removes it). t must require grad (a leaf marked with
 * tg_requires_grad, an op output that depends on one, or a parameter).
 * A tape tensor keeps its hook until the next reset; a parameter keeps it
 * for life, and it applies on each tape from the parameter's next first
 * use in a pass. Returns t, or NULL (error on the tape where there is one)
 * if t is NULL, stale or does not require grad. */
TG_API tg_tensor *tg_tensor_set_hook(tg_tensor *t, tg_grad_hook fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif /* TG_INSPECT_H */
