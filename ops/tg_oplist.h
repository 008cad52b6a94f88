/* tg_oplist.h - every op, declared once.
 *
 *   TG_OP(ID, "name", inputs, fast backward, graph backward)
 *
 * names the functions tg__bw_<fast> and tg__vjp_<graph>, defined beside the
 * op's forward in its family file (ops/arith.c, ops/unary.c, ...). The
 * elementwise ops are rows of tg_ewlist.h, with their derivatives.
 * The fast backward works on raw buffers and serves first-order sweeps;
 * `vjp` there means "none: run the graph backward without recording".
 * The graph backward builds the gradient from ops, so create-graph sweeps
 * and higher derivatives work for every op.
 * inputs: 1 or 2, or -1 when they are listed in aux. The two ops the core
 * makes itself (leaves and parameter proxies, 0 inputs) are not listed:
 * they are TG_OP_LEAF and TG_OP_PROXY of autograd/core/tg_engine.h, and
 * ops/ops_table.c gives them their row.
 * No include guard: included once per use, each time with its own TG_OP.
 */
/* The elementwise ops: one row each, with their derivatives, in
 * tg_ewlist.h; ops/arith.c (two tensors, comparisons) and ops/unary.c (one
 * tensor and up to two constants) expand them */
#include "tg_ewlist.h"
#define TG_OPLIST_EW2_(id, name, f, dx, dy, ga, gb) TG_OP(id, name, 2, binary, binary)
#define TG_OPLIST_EW1_(id, name, np, f, d, g) TG_OP(id, name, 1, unary, unary)
#define TG_OPLIST_CMP_(id, name, op) TG_OP(id, #name, 2, nograd, nograd)
TG_BINARY_OPS(TG_OPLIST_EW2_)
TG_UNARY_OPS(TG_OPLIST_EW1_)
TG_COMPARE_OPS(TG_OPLIST_CMP_)
#undef TG_OPLIST_EW2_
#undef TG_OPLIST_EW1_
#undef TG_OPLIST_CMP_
/* ops/reduce.c */
TG_OP(SUM,       "sum",         1, sum,      sum)
/* ops/linalg.c */
TG_OP(MATMUL,    "matmul",      2, matmul,   matmul)
TG_OP(LINEAR,    "linear",     -1, linear,   linear)
/* ops/shape.c */
TG_OP(RESHAPE,   "reshape",     1, reshape,  reshape)
TG_OP(TRANSPOSE, "transpose",   1, vjp,      transpose)
TG_OP(EXPAND,    "expand",      1, expand,   expand)
TG_OP(CAST,      "cast",        1, vjp,      cast)
/* ---- the rest of the op set: each family appends its ops below ---- */
/* ops/select.c */
TG_OP(WHERE,      "where",      -1, where,    where)
TG_OP(CLAMP_T,    "clamp_t",    -1, clamp_t,  clamp_t)
/* ops/reduce.c, ops/extrema.c (more reductions) */
TG_OP(PROD,       "prod",        1, prod,     prod)
TG_OP(AMAX,       "amax",        1, amaxmin,  amaxmin)
TG_OP(AMIN,       "amin",        1, amaxmin,  amaxmin)
TG_OP(ARGMAX,     "argmax",      1, nograd,   nograd)
TG_OP(ARGMIN,     "argmin",      1, nograd,   nograd)
TG_OP(LOGSUMEXP,  "logsumexp",   1, logsumexp, logsumexp)
TG_OP(SAFE_SQRT,  "safe_sqrt",   1, safe_sqrt, safe_sqrt)
/* ops/sumsq.c */
TG_OP(SUM_SQUARES, "sum_squares", 1, sum_squares, sum_squares)
/* ops/shape.c, ops/slice.c (more shape ops) */
TG_OP(PERMUTE,   "permute",     1, vjp,      permute)
TG_OP(CONCAT,    "concat",     -1, concat,   concat)
TG_OP(SLICE,     "slice",       1, slice,    slice)
TG_OP(SLICE_BW,  "slice_backward", 1, vjp,   slice_bw)
TG_OP(PAD,       "pad",         1, pad,      pad)
TG_OP(REPEAT,    "repeat",      1, repeat,   repeat)
TG_OP(REPEAT_SUM, "repeat_backward", 1, vjp, repeat_sum)
/* ops/index.c */
TG_OP(INDEX_SELECT, "index_select", 2, index_select, index_select)
TG_OP(INDEX_ADD, "index_add",   2, vjp,      index_add)
TG_OP(GATHER,    "gather",      2, gather,   gather)
TG_OP(SCATTER_ADD, "scatter_add", 2, vjp,    scatter_add)
TG_OP(MASKED_FILL, "masked_fill", 2, masked_fill, masked_fill)
/* ops/softmax.c */
TG_OP(SOFTMAX,   "softmax",     1, softmax,  softmax)
TG_OP(LOG_SOFTMAX, "log_softmax", 1, log_softmax, log_softmax)
TG_OP(SOFTMAX_CE, "softmax_cross_entropy", -1, softmax_ce, softmax_ce)
/* ops/norm.c */
TG_OP(LAYER_NORM, "layer_norm", -1, layer_norm, layer_norm)
TG_OP(BATCH_NORM, "batch_norm", -1, batch_norm, batch_norm)
/* ops/conv.c */
TG_OP(CONV2D,    "conv2d",      -1, conv2d,  conv2d)
TG_OP(CONV2D_DX, "conv2d_input_grad", -1, conv2d_dx, conv2d_dx)
TG_OP(CONV2D_DW, "conv2d_weight_grad", -1, conv2d_dw, conv2d_dw)
/* ops/pool.c */
TG_OP(MAXPOOL2D, "max_pool2d",  1, maxpool2d, maxpool2d)
TG_OP(MAXPOOL2D_BW, "max_pool2d_backward", 1, maxpool2d_bw, maxpool2d_bw)
TG_OP(AVGPOOL2D, "avg_pool2d",  1, avgpool2d, avgpool2d)
TG_OP(AVGPOOL2D_BW, "avg_pool2d_backward", 1, avgpool2d_bw, avgpool2d_bw)
/* ops/custom.c: an op from a user forward and backward (tg_custom.h) */
TG_OP(CUSTOM,    "custom",     -1, custom,   custom)
/* autograd/segment.c: a recomputed segment (tg_segment.h); its backward re-runs
 * the segment recorded and sweeps it; it has no graph backward (an error) */
TG_OP(SEGMENT,   "segment",    -1, segment,  segment)
