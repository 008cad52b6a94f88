/* tg_oplist.h - every op, declared once.
 *
 *   TG_OP(ID, "name", inputs, fast backward, graph backward)
 *
 * names the functions tg__bw_<fast> and tg__vjp_<graph>, defined beside the
 * op's forward in its family file (ops/arith.c, ops/unary.c, ...).
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
/* ops/arith.c: binary with broadcasting, and scalar forms */
TG_OP(ADD,       "add",         2, binary,   add)
TG_OP(SUB,       "sub",         2, binary,   sub)
TG_OP(MUL,       "mul",         2, binary,   mul)
TG_OP(DIV,       "div",         2, binary,   div)
TG_OP(POW,       "pow",         2, binary,   pow)
TG_OP(ADDC,      "add_scalar",  1, scalar,   addc)
TG_OP(RSUBC,     "rsub_scalar", 1, scalar,   rsubc)
TG_OP(MULC,      "mul_scalar",  1, scalar,   mulc)
TG_OP(DIVC,      "div_scalar",  1, scalar,   divc)
TG_OP(RDIVC,     "rdiv_scalar", 1, scalar,   rdivc)
TG_OP(POWC,      "pow_scalar",  1, scalar,   powc)
/* ops/unary.c */
TG_OP(NEG,       "neg",         1, unary,    neg)
TG_OP(EXP,       "exp",         1, unary,    exp)
TG_OP(LOG,       "log",         1, unary,    log)
TG_OP(SQRT,      "sqrt",        1, unary,    sqrt)
TG_OP(SIN,       "sin",         1, unary,    sin)
TG_OP(COS,       "cos",         1, unary,    cos)
TG_OP(TAN,       "tan",         1, unary,    tan)
TG_OP(TANH,      "tanh",        1, unary,    tanh)
TG_OP(SIGMOID,   "sigmoid",     1, unary,    sigmoid)
TG_OP(RELU,      "relu",        1, unary,    relu)
TG_OP(ABS,       "abs",         1, unary,    abs)
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
/* ops/math.c */
TG_OP(LOG1P,      "log1p",       1, math1,    log1p)
TG_OP(EXPM1,      "expm1",       1, math1,    expm1)
TG_OP(ERF,        "erf",         1, math1,    erf)
TG_OP(SQUARE,     "square",      1, math1,    square)
TG_OP(RECIPROCAL, "reciprocal",  1, math1,    reciprocal)
TG_OP(RSQRT,      "rsqrt",       1, math1,    rsqrt)
TG_OP(SOFTPLUS,   "softplus",    1, math1,    softplus)
TG_OP(GELU,       "gelu",        1, math1,    gelu)
TG_OP(LEAKY_RELU, "leaky_relu",  1, math1,    leaky_relu)
TG_OP(ELU,        "elu",         1, math1,    elu)
TG_OP(SILU,       "silu",        1, math1,    silu)
TG_OP(CLAMP,      "clamp",       1, math1,    clamp)
TG_OP(SIGN,       "sign",        1, math1,    sign)
TG_OP(MAXIMUM,    "maximum",     2, maxmin,   maxmin)
TG_OP(MINIMUM,    "minimum",     2, maxmin,   maxmin)
TG_OP(EQ,         "eq",          2, nograd,   nograd)
TG_OP(NE,         "ne",          2, nograd,   nograd)
TG_OP(LT,         "lt",          2, nograd,   nograd)
TG_OP(LE,         "le",          2, nograd,   nograd)
TG_OP(GT,         "gt",          2, nograd,   nograd)
TG_OP(GE,         "ge",          2, nograd,   nograd)
/* ops/select.c */
TG_OP(WHERE,      "where",      -1, where,    where)
TG_OP(CLAMP_T,    "clamp_t",    -1, clamp_t,  clamp_t)
/* ops/reduce.c (more reductions) */
TG_OP(PROD,       "prod",        1, prod,     prod)
TG_OP(AMAX,       "amax",        1, amaxmin,  amaxmin)
TG_OP(AMIN,       "amin",        1, amaxmin,  amaxmin)
TG_OP(ARGMAX,     "argmax",      1, nograd,   nograd)
TG_OP(ARGMIN,     "argmin",      1, nograd,   nograd)
TG_OP(LOGSUMEXP,  "logsumexp",   1, logsumexp, logsumexp)
TG_OP(SAFE_SQRT,  "safe_sqrt",   1, safe_sqrt, safe_sqrt)
/* ops/shape.c (more shape ops) */
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
/* ops/nnfunc.c */
TG_OP(SOFTMAX,   "softmax",     1, softmax,  softmax)
TG_OP(LOG_SOFTMAX, "log_softmax", 1, log_softmax, log_softmax)
TG_OP(SOFTMAX_CE, "softmax_cross_entropy", -1, softmax_ce, softmax_ce)
TG_OP(LAYER_NORM, "layer_norm", -1, layer_norm, layer_norm)
TG_OP(BATCH_NORM, "batch_norm", -1, batch_norm, batch_norm)
/* ops/conv.c */
TG_OP(CONV2D,    "conv2d",      -1, conv2d,  conv2d)
TG_OP(CONV2D_DX, "conv2d_input_grad", -1, conv2d_dx, conv2d_dx)
TG_OP(CONV2D_DW, "conv2d_weight_grad", -1, conv2d_dw, conv2d_dw)
TG_OP(MAXPOOL2D, "max_pool2d",  1, maxpool2d, maxpool2d)
TG_OP(MAXPOOL2D_BW, "max_pool2d_backward", 1, maxpool2d_bw, maxpool2d_bw)
TG_OP(AVGPOOL2D, "avg_pool2d",  1, avgpool2d, avgpool2d)
TG_OP(AVGPOOL2D_BW, "avg_pool2d_backward", 1, avgpool2d_bw, avgpool2d_bw)
/* autograd/test_bad.c: test only (tests/test_inspect.c), a deliberately wrong fast backward */
TG_OP(TEST_BAD,  "test_bad",    1, test_bad, test_bad)
