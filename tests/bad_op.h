/* bad_op.h - test_bad(a) = a * a, a custom op (tg_custom.h) whose fast
 * backward is deliberately wrong (g * a instead of 2 g a) while its graph
 * backward is right: tests show that tg_gradcheck catches the broken one.
 * Header-only, for the tests that need it (test_inspect.c, test_custom.c).
 */
#ifndef TG_TEST_BAD_OP_H
#define TG_TEST_BAD_OP_H

#include <tapegrad.h>

static bool bad_op_fwd(tg_custom_call *c, int n, const tg_buf *in, tg_buf *out) {
    (void)c, (void)n;
    for (int64_t k = 0; k < out->numel; k++) {
        if (out->dtype == TG_F32)
            ((float *)out->data)[k] = ((const float *)in[0].data)[k] * ((const float *)in[0].data)[k];
        else
            ((double *)out->data)[k] = ((const double *)in[0].data)[k] * ((const double *)in[0].data)[k];
    }
    return true;
}

static bool bad_op_bwd(tg_custom_call *c, int n, const tg_buf *in, const tg_buf *out,
                       const tg_buf *gout, tg_buf *gin) {
    (void)c, (void)n, (void)out;
    if (!gin[0].data) return true;
    for (int64_t k = 0; k < gout->numel; k++) { /* WRONG on purpose: should be 2 g a */
        if (gout->dtype == TG_F32)
            ((float *)gin[0].data)[k] += ((const float *)gout->data)[k] * ((const float *)in[0].data)[k];
        else
            ((double *)gin[0].data)[k] += ((const double *)gout->data)[k] * ((const double *)in[0].data)[k];
    }
    return true;
}

static tg_tensor *bad_op_graph(tg_custom_call *c, int i, tg_tensor *const *in, tg_tensor *out,
                               tg_tensor *g) {
    (void)c, (void)i, (void)out;
    return tg_mul(g, tg_mul_scalar(in[0], 2.0));
}

static const tg_custom_def bad_op_def = {
    .name = "test_bad", .forward = bad_op_fwd, .backward = bad_op_bwd, .graph_backward = bad_op_graph};

static inline tg_tensor *test_bad(tg_tensor *a) { return tg_custom(&bad_op_def, NULL, 1, &a); }

#endif /* TG_TEST_BAD_OP_H */
