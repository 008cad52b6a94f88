/* test_ref_math.c - the math ops and the further reductions, values and
 * gradients against PyTorch (tests/ref/math.txt, made by tests/ref_math.py). */
#include "refcase.h"

OP(r_log1p, tg_log1p(x[0]))
OP(r_expm1, tg_expm1(x[0]))
OP(r_erf, tg_erf(x[0]))
OP(r_square, tg_square(x[0]))
OP(r_recip, tg_reciprocal(x[0]))
OP(r_rsqrt, tg_rsqrt(x[0]))
OP(r_softplus, tg_softplus(x[0], 1.0, 20.0))
OP(r_softplus2, tg_softplus(x[0], 2.0, 1.0))
OP(r_gelu, tg_gelu(x[0], false))
OP(r_gelu_tanh, tg_gelu(x[0], true))
OP(r_silu, tg_silu(x[0]))
OP(r_sign, tg_sign(x[0]))
OP(r_leaky, tg_leaky_relu(x[0], 0.1))
OP(r_elu, tg_elu(x[0], 1.5))
OP(r_clamp, tg_clamp(x[0], -0.5, 0.7))
OP(r_clamp_lo, tg_clamp(x[0], -0.5, INFINITY))
OP(r_clamp_hi, tg_clamp(x[0], -INFINITY, 0.7))
OP(r_max, tg_maximum(x[0], x[1]))
OP(r_min, tg_minimum(x[0], x[1]))
OP(r_eq, tg_eq(x[0], x[1]))
OP(r_ne, tg_ne(x[0], x[1]))
OP(r_lt, tg_lt(x[0], x[1]))
OP(r_le, tg_le(x[0], x[1]))
OP(r_gt, tg_gt(x[0], x[1]))
OP(r_ge, tg_ge(x[0], x[1]))
OP(r_where, tg_where(x[0], x[1], x[2]))
OP(r_clamp_t, tg_clamp_t(x[0], x[1], x[2]))
OP(r_clamp_t_lo, tg_clamp_t(x[0], x[1], NULL))
OP(r_clamp_t_hi, tg_clamp_t(x[0], NULL, x[1]))
OP(r_var_all, tg_var(x[0], 0, NULL, 1, false))
OP(r_var_1, tg_var(x[0], 1, (int[]){1}, 1, false))
OP(r_var_0m1, tg_var(x[0], 2, (int[]){0, -1}, 0, true))
OP(r_std_all, tg_std(x[0], 0, NULL, 1, false))
OP(r_std_m1, tg_std(x[0], 1, (int[]){-1}, 1, true))
OP(r_std_02, tg_std(x[0], 2, (int[]){0, 2}, 0, false))
OP(r_prod_all, tg_prod(x[0], 0, NULL, false))
OP(r_prod_1, tg_prod(x[0], 1, (int[]){1}, false))
OP(r_prod_0, tg_prod(x[0], 1, (int[]){0}, false))
OP(r_prod_02, tg_prod(x[0], 2, (int[]){0, 2}, true))
OP(r_amax_all, tg_amax(x[0], 0, NULL, false))
OP(r_amax_1, tg_amax(x[0], 1, (int[]){1}, false))
OP(r_amin_1, tg_amin(x[0], 1, (int[]){1}, false))
OP(r_amin_0, tg_amin(x[0], 1, (int[]){0}, false))
OP(r_amin_0m1, tg_amin(x[0], 2, (int[]){0, -1}, true))
OP(r_argmax_m1, tg_argmax(x[0], -1, false))
OP(r_argmax_1, tg_argmax(x[0], 1, false))
OP(r_argmin_0, tg_argmin(x[0], 0, true))
OP(r_lse_all, tg_logsumexp(x[0], 0, NULL, false))
OP(r_lse_1, tg_logsumexp(x[0], 1, (int[]){1}, false))
OP(r_lse_0, tg_logsumexp(x[0], 1, (int[]){0}, false))
OP(r_lse_02, tg_logsumexp(x[0], 2, (int[]){0, 2}, true))
OP(r_norm1, tg_norm(x[0], 1, 1, (int[]){-1}, false))
OP(r_norm2_all, tg_norm(x[0], 2, 0, NULL, false))
OP(r_norm2_01, tg_norm(x[0], 2, 2, (int[]){0, 1}, true))
OP(r_norm2_1, tg_norm(x[0], 2, 1, (int[]){1}, false))

static const ref_entry table[] = {
    {"log1p", r_log1p}, {"expm1", r_expm1}, {"erf", r_erf}, {"square", r_square},
    {"reciprocal", r_recip}, {"rsqrt", r_rsqrt}, {"softplus", r_softplus},
    {"softplus_b2_t1", r_softplus2}, {"gelu", r_gelu}, {"gelu_tanh", r_gelu_tanh},
    {"silu", r_silu}, {"sign", r_sign}, {"leaky_relu", r_leaky}, {"elu", r_elu},
    {"clamp", r_clamp}, {"clamp_lo", r_clamp_lo}, {"clamp_hi", r_clamp_hi},
    {"maximum", r_max}, {"minimum", r_min}, {"eq", r_eq}, {"ne", r_ne}, {"lt", r_lt},
    {"le", r_le}, {"gt", r_gt}, {"ge", r_ge}, {"where", r_where}, {"clamp_t", r_clamp_t},
    {"clamp_t_lo", r_clamp_t_lo}, {"clamp_t_hi", r_clamp_t_hi},
    {"var_all", r_var_all}, {"var_1", r_var_1}, {"var_0m1_keep_c0", r_var_0m1},
    {"std_all", r_std_all}, {"std_m1_keep", r_std_m1}, {"std_02_c0", r_std_02},
    {"prod_all", r_prod_all}, {"prod_1", r_prod_1}, {"prod_0", r_prod_0},
    {"prod_02_keep", r_prod_02}, {"amax_all", r_amax_all}, {"amax_1", r_amax_1},
    {"amin_1", r_amin_1}, {"amin_0", r_amin_0}, {"amin_0m1_keep", r_amin_0m1},
    {"argmax_m1", r_argmax_m1}, {"argmax_1", r_argmax_1}, {"argmin_0_keep", r_argmin_0},
    {"logsumexp_all", r_lse_all}, {"logsumexp_1", r_lse_1}, {"logsumexp_0", r_lse_0},
    {"logsumexp_02_keep", r_lse_02}, {"norm1_m1", r_norm1}, {"norm2_all", r_norm2_all},
    {"norm2_01_keep", r_norm2_01}, {"norm2_1", r_norm2_1}, {NULL, NULL},
};

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/ref/math.txt";
    ref_run_file(path, table, 2e-6, 1e-12);
    return TEST_DONE("ref_math");
}
