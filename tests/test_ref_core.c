/* test_ref_core.c - core op values and gradients against PyTorch
 * (tests/ref/core.txt, made by tests/ref_core.py). */
#include "refcase.h"

OP(r_add, tg_add(x[0], x[1]))
OP(r_sub, tg_sub(x[0], x[1]))
OP(r_mul, tg_mul(x[0], x[1]))
OP(r_div, tg_div(x[0], x[1]))
OP(r_pow, tg_pow(x[0], x[1]))
OP(r_adds, tg_add_scalar(x[0], 1.5))
OP(r_subs, tg_sub_scalar(x[0], 1.5))
OP(r_rsubs, tg_rsub_scalar(x[0], 1.5))
OP(r_muls, tg_mul_scalar(x[0], -2.5))
OP(r_divs, tg_div_scalar(x[0], 3.0))
OP(r_rdivs, tg_rdiv_scalar(x[0], 2.0))
OP(r_pows, tg_pow_scalar(x[0], 3.0))
OP(r_powh, tg_pow_scalar(x[0], 0.5))
OP(r_neg, tg_neg(x[0]))
OP(r_exp, tg_exp(x[0]))
OP(r_log, tg_log(x[0]))
OP(r_sqrt, tg_sqrt(x[0]))
OP(r_sin, tg_sin(x[0]))
OP(r_cos, tg_cos(x[0]))
OP(r_tan, tg_tan(x[0]))
OP(r_tanh, tg_tanh(x[0]))
OP(r_sigmoid, tg_sigmoid(x[0]))
OP(r_relu, tg_relu(x[0]))
OP(r_abs, tg_abs(x[0]))
OP(r_sum, tg_sum(x[0]))
OP(r_mean, tg_mean(x[0]))
OP(r_sum0, tg_sum_axis(x[0], 0, false))
OP(r_sumk, tg_sum_axis(x[0], -1, true))
OP(r_mean1, tg_mean_axis(x[0], 1, false))
OP(r_sum02, tg_sum_axes(x[0], 2, (int[]){0, 2}, false))
OP(r_matmul, tg_matmul(x[0], x[1]))
OP(r_tn, tg_matmul_t(x[0], x[1], true, false))
OP(r_nt, tg_matmul_t(x[0], x[1], false, true))
OP(r_tt, tg_matmul_t(x[0], x[1], true, true))
OP(r_reshape, tg_reshape(x[0], TG_SHAPE(-1, 2)))
OP(r_transpose, tg_transpose(x[0], 0, 2))
OP(r_expand, tg_expand(x[0], TG_SHAPE(2, 3, 4)))
/* fused linear: x, w, b (the nobias cases: x, w) */
#define LIN(SUF, ACT)                                                          \
    OP(r_lin_##SUF, tg_linear_act(x[0], x[1], x[2], ACT))                      \
    OP(r_linnb_##SUF, tg_linear_act(x[0], x[1], NULL, ACT))
LIN(none, TG_ACT_NONE)
LIN(relu, TG_ACT_RELU)
LIN(tanh, TG_ACT_TANH)
LIN(sigmoid, TG_ACT_SIGMOID)
LIN(gelu, TG_ACT_GELU)
LIN(leaky, TG_ACT_LEAKY_RELU)

static const ref_entry table[] = {
    {"add", r_add}, {"sub", r_sub}, {"mul", r_mul}, {"div", r_div}, {"pow", r_pow},
    {"add_scalar", r_adds}, {"sub_scalar", r_subs}, {"rsub_scalar", r_rsubs},
    {"mul_scalar", r_muls}, {"div_scalar", r_divs}, {"rdiv_scalar", r_rdivs},
    {"pow_scalar", r_pows}, {"pow_scalar_half", r_powh},
    {"neg", r_neg}, {"exp", r_exp}, {"log", r_log}, {"sqrt", r_sqrt}, {"sin", r_sin},
    {"cos", r_cos}, {"tan", r_tan}, {"tanh", r_tanh}, {"sigmoid", r_sigmoid},
    {"relu", r_relu}, {"abs", r_abs}, {"sum", r_sum}, {"mean", r_mean},
    {"sum_axis0", r_sum0}, {"sum_axis-1_keep", r_sumk}, {"mean_axis1", r_mean1},
    {"sum_axes02", r_sum02}, {"matmul", r_matmul}, {"matmul_tn", r_tn},
    {"matmul_nt", r_nt}, {"matmul_tt", r_tt}, {"reshape", r_reshape},
    {"transpose", r_transpose}, {"expand", r_expand},
    {"linear_none", r_lin_none}, {"linear_relu", r_lin_relu}, {"linear_tanh", r_lin_tanh},
    {"linear_sigmoid", r_lin_sigmoid}, {"linear_gelu", r_lin_gelu},
    {"linear_leaky_relu", r_lin_leaky}, {"linear_nobias_none", r_linnb_none},
    {"linear_nobias_relu", r_linnb_relu}, {"linear_nobias_tanh", r_linnb_tanh},
    {"linear_nobias_sigmoid", r_linnb_sigmoid}, {"linear_nobias_gelu", r_linnb_gelu},
    {"linear_nobias_leaky_relu", r_linnb_leaky}, {NULL, NULL},
};

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/ref/core.txt";
    ref_run_file(path, table, 2e-6, 1e-12);
    return TEST_DONE("ref_core");
}
