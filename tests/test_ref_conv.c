/* test_ref_conv.c - convolution and pooling values and gradients against
 * PyTorch (tests/ref/conv.txt, made by tests/ref_conv.py). */
#include "refcase.h"

#define CO(...) (&(tg_conv_opts){__VA_ARGS__})
#define PO(...) (&(tg_pool_opts){__VA_ARGS__})

OP(r_basic, tg_conv2d(x[0], x[1], x[2], NULL))
OP(r_s2p1, tg_conv2d(x[0], x[1], x[2], CO(.stride = {2, 2}, .padding = {1, 1})))
OP(r_dil, tg_conv2d(x[0], x[1], x[2], CO(.dilation = {2, 2}, .padding = {2, 1})))
OP(r_groups, tg_conv2d(x[0], x[1], x[2], CO(.groups = 2)))
OP(r_nobias, tg_conv2d(x[0], x[1], NULL, NULL))
OP(r_odd, tg_conv2d(x[0], x[1], x[2],
                    CO(.stride = {2, 3}, .padding = {1, 2}, .dilation = {1, 2})))
OP(r_1x1, tg_conv2d(x[0], x[1], x[2], NULL))
OP(r_depthwise, tg_conv2d(x[0], x[1], NULL, CO(.groups = 3, .padding = {1, 1})))
OP(r_big, tg_conv2d(x[0], x[1], x[2], CO(.padding = {1, 1})))
OP(r_c1_basic, tg_conv1d(x[0], x[1], x[2], NULL))
OP(r_c1_sdp, tg_conv1d(x[0], x[1], x[2], CO(.stride = {2}, .padding = {1}, .dilation = {2})))
OP(r_c1_groups, tg_conv1d(x[0], x[1], NULL, CO(.groups = 2)))
OP(r_mp_k2, tg_max_pool2d(x[0], PO(.kernel = {2, 2})))
OP(r_mp_k3s2p1, tg_max_pool2d(x[0], PO(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1})))
OP(r_mp_rect, tg_max_pool2d(x[0], PO(.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 0})))
OP(r_mp_3d, tg_max_pool2d(x[0], PO(.kernel = {2, 2}, .stride = {1, 1})))
OP(r_ap_k2, tg_avg_pool2d(x[0], PO(.kernel = {2, 2})))
OP(r_ap_k3s2p1, tg_avg_pool2d(x[0], PO(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1})))
OP(r_ap_ex, tg_avg_pool2d(x[0], PO(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1},
                                   .exclude_pad = true)))
OP(r_ap_rect, tg_avg_pool2d(x[0], PO(.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 1})))
OP(r_ap_3d, tg_avg_pool2d(x[0], PO(.kernel = {2, 2}, .stride = {1, 1})))
OP(r_lenet, tg_conv2d(tg_max_pool2d(tg_relu(tg_conv2d(x[0], x[1], x[2], NULL)),
                                    PO(.kernel = {2, 2})),
                      x[3], x[4], NULL))

static const ref_entry table[] = {
    {"conv2d_basic", r_basic}, {"conv2d_s2p1", r_s2p1}, {"conv2d_dil", r_dil},
    {"conv2d_groups", r_groups}, {"conv2d_nobias", r_nobias}, {"conv2d_odd", r_odd},
    {"conv2d_1x1", r_1x1}, {"conv2d_depthwise", r_depthwise}, {"conv2d_big", r_big},
    {"conv1d_basic", r_c1_basic}, {"conv1d_sdp", r_c1_sdp}, {"conv1d_groups", r_c1_groups},
    {"max_pool_k2", r_mp_k2}, {"max_pool_k3s2p1", r_mp_k3s2p1}, {"max_pool_rect", r_mp_rect},
    {"max_pool_3d", r_mp_3d}, {"max_pool_neg", r_mp_k3s2p1},
    {"avg_pool_k2", r_ap_k2}, {"avg_pool_k3s2p1", r_ap_k3s2p1}, {"avg_pool_k3s2p1_ex", r_ap_ex},
    {"avg_pool_rect", r_ap_rect}, {"avg_pool_3d", r_ap_3d}, {"lenet", r_lenet},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/ref/conv.txt";
    /* f32: a weight gradient sums up to 128 products of size ~7 in another
     * order than PyTorch's; its rounding reaches ~5e-6, hence 2e-5. */
    ref_run_file(path, table, 2e-5, 1e-12);
    return TEST_DONE("ref_conv");
}
