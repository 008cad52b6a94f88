/* test_ref_shape.c - shape, indexing and nn-function ops: values and
 * gradients against PyTorch (tests/ref/shape.txt, made by
 * tests/ref_shape.py). */
#include "refcase.h"

OP(r_permute, tg_permute(x[0], 3, (int[]){2, 0, 1}))
OP(r_squeeze, tg_squeeze(x[0], 1))
OP(r_squeeze_neg, tg_squeeze(x[0], -1))
OP(r_unsqueeze, tg_unsqueeze(x[0], -1))
OP(r_flatten, tg_flatten(x[0], 1, 2))
OP(r_broadcast_to, tg_broadcast_to(x[0], TG_SHAPE(2, 3, 4)))
OP(r_concat_last, tg_concat(3, x, -1))
OP(r_concat0, tg_concat(2, x, 0))
OP(r_stack1, tg_stack(3, x, 1))
OP(r_slice_step, tg_slice(x[0], 0, 1, 8, 3))
OP(r_slice_neg, tg_slice(x[0], 1, -4, INT64_MAX, 1))
OP(r_slice_clamp, tg_slice(x[0], -1, -100, 2, 1))
OP(r_pad1, tg_pad(x[0], 1, (int64_t[]){1, 2}, 0.5))
OP(r_pad2, tg_pad(x[0], 2, (int64_t[]){1, 2, 0, 1}, 0.0))
OP(r_pad_neg, tg_pad(x[0], 2, (int64_t[]){-1, 1, 1, -1}, 0.0))
OP(r_repeat, tg_repeat(x[0], TG_SHAPE(2, 1, 3)))
OP(r_repeat1, tg_repeat(x[0], TG_SHAPE(2, 2)))
OP(r_isel0, tg_index_select(x[0], 0, x[1]))
OP(r_isel_last, tg_index_select(x[0], -1, x[1]))
OP(r_gather1, tg_gather(x[0], 1, x[1]))
OP(r_gather0, tg_gather(x[0], 0, x[1]))
OP(r_embedding, tg_embedding(x[0], x[1]))
OP(r_masked_fill, tg_masked_fill(x[0], x[1], -1.5))
OP(r_masked_softmax, tg_softmax(tg_masked_fill(x[0], x[1], -INFINITY), -1))
OP(r_one_hot, tg_one_hot(x[0], 4, TG_I64))
OP(r_softmax_last, tg_softmax(x[0], -1))
OP(r_softmax_mid, tg_softmax(x[0], 1))
OP(r_log_softmax_last, tg_log_softmax(x[0], -1))
OP(r_log_softmax_mid, tg_log_softmax(x[0], 1))
OP(r_layer_norm_wb, tg_layer_norm(x[0], 1, x[1], x[2], 1e-5))
OP(r_layer_norm2, tg_layer_norm(x[0], 2, NULL, NULL, 1e-5))
OP(r_bn_train, tg_batch_norm(x[0], x[1], x[2], NULL, NULL, true, 0.1, 1e-5))
OP(r_bn_eval, tg_batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.1, 1e-5))

/* weighted pieces put back together, as the script does */
static tg_tensor *r_split(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)ud;
    tg_tensor *p[2];
    if (tg_split(x[0], 0, 2, (int64_t[]){2, 3}, p) != 2) return NULL;
    for (int k = 0; k < 2; k++) p[k] = tg_mul(p[k], tg_scalar_as(t, tg_tensor_dtype(x[0]), k + 1));
    return tg_concat(2, p, 0);
}

static tg_tensor *r_chunk(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)ud;
    tg_tensor *p[3];
    int n = tg_chunk(x[0], 0, 3, p);
    if (n != 3) return NULL;
    for (int k = 0; k < n; k++) p[k] = tg_mul(p[k], tg_scalar_as(t, tg_tensor_dtype(x[0]), k + 1));
    return tg_concat(n, p, 0);
}

/* The running statistics after one training step, as [mean..., var...];
 * the inputs are copied so that they stay as the file has them. */
static tg_tensor *r_bn_stats(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)ud;
    tg_dtype dt = tg_tensor_dtype(x[0]);
    tg_tensor *rm = tg_tensor_new(t, dt, 1, tg_tensor_shape(x[1]), tg_tensor_data(x[1]));
    tg_tensor *rv = tg_tensor_new(t, dt, 1, tg_tensor_shape(x[2]), tg_tensor_data(x[2]));
    if (!tg_batch_norm(x[0], NULL, NULL, rm, rv, true, 0.1, 1e-5)) return NULL;
    tg_tensor *both[2] = {rm, rv};
    return tg_concat(2, both, 0);
}

static const ref_entry table[] = {
    {"permute", r_permute}, {"squeeze", r_squeeze}, {"squeeze_neg", r_squeeze_neg},
    {"unsqueeze", r_unsqueeze}, {"flatten", r_flatten}, {"broadcast_to", r_broadcast_to},
    {"concat_last", r_concat_last}, {"concat0", r_concat0}, {"stack1", r_stack1},
    {"split", r_split}, {"chunk", r_chunk}, {"slice_step", r_slice_step},
    {"slice_neg", r_slice_neg}, {"slice_clamp", r_slice_clamp}, {"pad1", r_pad1},
    {"pad2", r_pad2}, {"pad_neg", r_pad_neg}, {"repeat", r_repeat}, {"repeat1", r_repeat1},
    {"index_select0", r_isel0}, {"index_select_last", r_isel_last}, {"gather1", r_gather1},
    {"gather0", r_gather0}, {"embedding", r_embedding}, {"masked_fill", r_masked_fill},
    {"masked_softmax", r_masked_softmax}, {"one_hot", r_one_hot},
    {"softmax_last", r_softmax_last}, {"softmax_mid", r_softmax_mid},
    {"softmax_extreme", r_softmax_last}, {"log_softmax_last", r_log_softmax_last},
    {"log_softmax_mid", r_log_softmax_mid}, {"log_softmax_extreme", r_log_softmax_last},
    {"layer_norm_wb", r_layer_norm_wb}, {"layer_norm2", r_layer_norm2},
    {"batch_norm_train", r_bn_train}, {"batch_norm_train4", r_bn_train},
    {"batch_norm_eval", r_bn_eval}, {"batch_norm_stats", r_bn_stats}, {NULL, NULL},
};

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/ref/shape.txt";
    ref_run_file(path, table, 2e-6, 1e-12);
    return TEST_DONE("ref_shape");
}
