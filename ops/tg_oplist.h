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
 * inputs: 0 for leaves, 1 or 2, or -1 when they are listed in aux.
 * No include guard: included once per use, each time with its own TG_OP.
 */
/* autograd/tensor.c: leaves */
TG_OP(LEAF,      "leaf",        0, vjp,      none)
TG_OP(PROXY,     "param",       0, vjp,      none)
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
/* ops/shape.c */
TG_OP(RESHAPE,   "reshape",     1, reshape,  reshape)
TG_OP(TRANSPOSE, "transpose",   1, vjp,      transpose)
TG_OP(EXPAND,    "expand",      1, expand,   expand)
TG_OP(CAST,      "cast",        1, vjp,      cast)
/* ---- the rest of the op set: each family appends its ops below ---- */
/* ops/math.c */
/* ops/reduce.c (more reductions) */
/* ops/shape.c (more shape ops) */
/* ops/index.c */
/* ops/nnfunc.c */
/* ops/conv.c */
