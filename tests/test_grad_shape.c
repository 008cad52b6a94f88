/* test_grad_shape.c - shape and indexing ops: central differences in f64
 * through both backward paths (and second derivatives where the backward
 * is itself an op with a backward: slice, pad, repeat, index_select,
 * gather), forward values by hand, and bad inputs. */
#include "gradharness.h"

/* squared so that second derivatives of linear ops are exercised */
#define SQ(e) tg_mul(e, e)
OP(f_permute, SQ(tg_permute(x[0], 3, (int[]){2, 0, 1})))
OP(f_permute_neg, tg_permute(x[0], 3, (int[]){-1, 0, -2}))
OP(f_squeeze, tg_squeeze(x[0], -2))
OP(f_unsqueeze0, tg_unsqueeze(x[0], 0))
OP(f_unsqueeze_end, tg_unsqueeze(x[0], -1))
OP(f_flatten, tg_flatten(x[0], 0, -1))
OP(f_flatten_mid, tg_flatten(x[0], 1, 2))
OP(f_broadcast, tg_broadcast_to(x[0], TG_SHAPE(2, 3, 4)))
OP(f_concat3, SQ(tg_concat(3, x, -1)))
OP(f_concat0, tg_concat(2, x, 0))
OP(f_stack, SQ(tg_stack(3, x, 0)))
OP(f_stack_last, tg_stack(2, x, -1))
OP(f_slice_step, SQ(tg_slice(x[0], 0, 1, 8, 3)))
OP(f_slice_neg, tg_slice(x[0], -1, -3, -1, 1))
OP(f_slice_clamp, SQ(tg_slice(x[0], 1, -100, 100, 2)))
OP(f_slice_empty, tg_slice(x[0], 0, 3, 1, 1))
OP(f_pad, SQ(tg_pad(x[0], 2, (int64_t[]){1, 2, 0, 1}, 0.5)))
OP(f_pad_neg, SQ(tg_pad(x[0], 2, (int64_t[]){-1, 1, 2, -1}, 0.0)))
OP(f_pad3, tg_pad(x[0], 3, (int64_t[]){1, 0, 0, 1, 1, 1}, -1.0))
OP(f_repeat, SQ(tg_repeat(x[0], TG_SHAPE(2, 1, 3))))
OP(f_repeat1, tg_repeat(x[0], TG_SHAPE(3)))
OP(f_isel, SQ(tg_index_select(x[0], 0, x[1])))
OP(f_isel_last, SQ(tg_index_select(x[0], -1, x[1])))
OP(f_gather, SQ(tg_gather(x[0], 1, x[1])))
OP(f_gather0, SQ(tg_gather(x[0], -2, x[1])))
OP(f_embedding, SQ(tg_embedding(x[0], x[1])))
OP(f_masked, SQ(tg_masked_fill(x[0], x[1], 3.0)))

static tg_tensor *f_split(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)ud;
    tg_tensor *p[3];
    if (tg_split(x[0], 1, 3, (int64_t[]){1, 0, 3}, p) != 3) return NULL;
    for (int k = 0; k < 3; k++) p[k] = tg_mul(p[k], tg_scalar(t, k + 1.5));
    return SQ(tg_concat(3, p, 1));
}

static tg_tensor *f_chunk(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)ud;
    tg_tensor *p[4];
    int n = tg_chunk(x[0], -1, 4, p); /* 5 -> 2, 2, 1: three pieces */
    if (n != 3) return NULL;
    for (int k = 0; k < n; k++) p[k] = tg_mul(p[k], tg_scalar(t, k + 1.5));
    return tg_concat(n, p, -1);
}

/* more than 16 inputs (the concat groups them) */
static tg_tensor *f_concat_many(tg_tape *t, tg_tensor *const *x, void *ud) {
    (void)t, (void)ud;
    tg_tensor *p[20];
    for (int k = 0; k < 20; k++) p[k] = tg_mul_scalar(x[k % 2], k + 1.0);
    return SQ(tg_concat(20, p, 0));
}

/* Float inputs uniform in [-1, 1]; i64 inputs given by idx (rank-1 or 2). */
static void check(const char *name, op_fn f, int n, const shape *shapes, const int64_t *idx,
                  bool second) {
    gc_check(name, f, NULL, n, shapes, 11, -1, 1, idx, second);
}

static void test_gradients(void) {
    check("permute", f_permute, 1, &(shape)S3(2, 3, 4), NULL, true);
    check("permute negative axes", f_permute_neg, 1, &(shape)S3(2, 3, 4), NULL, false);
    check("permute size-0", f_permute_neg, 1, &(shape)S3(2, 0, 4), NULL, false);
    check("squeeze", f_squeeze, 1, &(shape)S3(2, 1, 3), NULL, false);
    check("unsqueeze 0", f_unsqueeze0, 1, &(shape)S2(2, 3), NULL, false);
    check("unsqueeze of scalar", f_unsqueeze_end, 1, &(shape)S0, NULL, false);
    check("flatten all", f_flatten, 1, &(shape)S3(2, 3, 2), NULL, false);
    check("flatten scalar", f_flatten, 1, &(shape)S0, NULL, false);
    check("flatten middle", f_flatten_mid, 1, &(shape)S3(2, 3, 2), NULL, false);
    check("broadcast_to", f_broadcast, 1, &(shape)S2(3, 1), NULL, false);
    check("concat 3 along -1", f_concat3, 3, (shape[]){S2(2, 3), S2(2, 1), S2(2, 4)}, NULL, true);
    check("concat with a size-0 piece", f_concat3, 3, (shape[]){S2(2, 3), S2(2, 0), S2(2, 2)},
          NULL, false);
    check("concat 0", f_concat0, 2, (shape[]){S3(1, 2, 2), S3(3, 2, 2)}, NULL, false);
    check("concat of 20", f_concat_many, 2, (shape[]){S1(2), S1(3)}, NULL, true);
    check("stack 0", f_stack, 3, (shape[]){S2(2, 3), S2(2, 3), S2(2, 3)}, NULL, true);
    check("stack -1 of scalars", f_stack_last, 2, (shape[]){S0, S0}, NULL, false);
    check("split with a size-0 piece", f_split, 1, &(shape)S2(2, 4), NULL, true);
    check("chunk", f_chunk, 1, &(shape)S2(2, 5), NULL, false);
    check("slice step 3", f_slice_step, 1, &(shape)S2(10, 2), NULL, true);
    check("slice negative", f_slice_neg, 1, &(shape)S2(2, 6), NULL, false);
    check("slice clamped", f_slice_clamp, 1, &(shape)S3(2, 5, 2), NULL, true);
    check("slice empty", f_slice_empty, 1, &(shape)S2(4, 2), NULL, false);
    check("pad", f_pad, 1, &(shape)S2(2, 3), NULL, true);
    check("pad negative", f_pad_neg, 1, &(shape)S2(3, 4), NULL, true);
    check("pad 3 axes", f_pad3, 1, &(shape)S3(2, 2, 3), NULL, false);
    check("pad size-0 axis", f_pad3, 1, &(shape)S3(2, 0, 3), NULL, false);
    check("repeat", f_repeat, 1, &(shape)S2(2, 3), NULL, true);
    check("repeat scalar", f_repeat1, 1, &(shape)S0, NULL, false);
    check("repeat 1-d", f_repeat1, 1, &(shape)S1(2), NULL, false);

    /* indexing: repeated and negative indices */
    check("index_select 0", f_isel, 2, (shape[]){S2(4, 3), S1(5)}, (int64_t[]){3, 0, 3, -1, 3},
          true);
    check("index_select -1", f_isel_last, 2, (shape[]){S3(2, 3, 4), S1(3)}, (int64_t[]){1, 1, -4},
          true);
    check("index_select empty index", f_isel, 2, (shape[]){S2(4, 3), S1(0)}, (int64_t[]){0},
          false);
    check("gather 1", f_gather, 2, (shape[]){S2(3, 4), S2(3, 2)},
          (int64_t[]){0, 0, 3, 1, 2, -2}, true);
    check("gather -2, smaller index", f_gather0, 2, (shape[]){S2(3, 4), S2(2, 3)},
          (int64_t[]){2, 2, 0, 0, 2, 2}, true);
    check("embedding", f_embedding, 2, (shape[]){S2(5, 3), S2(2, 3)},
          (int64_t[]){1, 4, 1, 0, 1, 1}, true);
    check("masked_fill broadcast mask", f_masked, 2, (shape[]){S2(3, 4), S1(4)},
          (int64_t[]){1, 0, 0, 1}, true);
    check("masked_fill full mask", f_masked, 2, (shape[]){S2(2, 2), S2(2, 2)},
          (int64_t[]){0, 1, 1, 1}, false);
}

/* tg_backward: a reshape hands its gradient buffer to an input that has
 * none yet (shape.c). The input's gradient must still hold every
 * contribution, whichever order the sweep meets them in (another reader
 * of the input recorded before the view is swept after it, one recorded
 * after it before), through a chain of reshapes and into a parameter;
 * the view keeps no gradient of its own then, and tg_grad still gives
 * it one. */
static void test_reshape_backward(void) {
    tg_tape *t = tg_tape_new();
    const double av[6] = {0.5, -1, 2, 3, -0.25, 1.5};
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(2, 3));
    double *wv = tg_tensor_f64(w);
    if (wv) memcpy(wv, av, sizeof av);
    for (int order = 0; order < 3; order++) {
        for (int param = 0; param < 2; param++) {
            tg_tape_reset(t);
            if (param) tg_zero_grad(w);
            tg_tensor *a = param ? tg_param_on(t, w)
                                 : tg_requires_grad(tg_tensor_new(t, TG_F64, TG_SHAPE(2, 3), av));
            tg_tensor *before = order == 0 ? tg_mul_scalar(a, 3.0) : NULL;
            tg_tensor *v = tg_reshape(a, TG_SHAPE(3, 2));
            tg_tensor *v2 = tg_reshape(v, TG_SHAPE(6));
            tg_tensor *loss = tg_sum(tg_mul(v2, v2)); /* d/da 2 a */
            if (order == 0) loss = tg_add(loss, tg_sum(before)); /* + 3 */
            if (order == 1) loss = tg_add(loss, tg_sum(tg_mul_scalar(a, 3.0)));
            CHECK(tg_backward(loss) == TG_OK, "reshape backward, order %d: %s", order,
                  tg_tape_error(t));
            const double *g = tg_tensor_f64(tg_tensor_grad(param ? w : a));
            for (int k = 0; g && k < 6; k++)
                CHECK(g[k] == 2 * av[k] + (order < 2 ? 3 : 0),
                      "reshape backward, order %d%s: d a[%d] = %g", order,
                      param ? " (parameter)" : "", k, g[k]);
            CHECK(g, "reshape backward, order %d: no gradient", order);
            /* v2's buffer went to v; v's to a, unless a had one (order 1) */
            CHECK(!tg_tensor_grad(v2) && (order == 1 || !tg_tensor_grad(v)),
                  "reshape backward, order %d: a view kept its gradient", order);
            if (order == 2 && !param) {
                tg_tensor *gs[2] = {NULL, NULL};
                CHECK(tg_grad(loss, NULL, 2, (tg_tensor *[]){a, v}, gs, 0) == TG_OK, "tg_grad");
                for (int k = 0; gs[0] && gs[1] && k < 6; k++)
                    CHECK(tg_tensor_get(gs[0], k) == 2 * av[k] &&
                              tg_tensor_get(gs[1], k) == 2 * av[k],
                          "tg_grad through a reshape, element %d", k);
                /* a second tg_backward of the pass adds again */
                CHECK(tg_backward(loss) == TG_OK, "second backward");
                g = tg_tensor_f64(tg_tensor_grad(a));
                for (int k = 0; g && k < 6; k++)
                    CHECK(g[k] == 4 * av[k], "second backward, element %d", k);
            }
            CHECK_OK(t);
        }
    }
    tg_param_free(w);
    tg_tape_free(t);
}

/* hand-checked values */
static void test_values(void) {
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_tensor_new(t, TG_F64, TG_SHAPE(2, 3), (double[]){0, 1, 2, 3, 4, 5});
    tg_tensor *p = tg_permute(a, 2, (int[]){1, 0});
    double want_p[] = {0, 3, 1, 4, 2, 5};
    for (int k = 0; k < 6; k++) CHECK(tg_tensor_get(p, k) == want_p[k], "permute[%d]", k);
    tg_tensor *s = tg_slice(a, 1, -1, -4, 1); /* empty: stop before start */
    CHECK(s && tg_tensor_dim(s, 1) == 0, "empty slice");
    s = tg_slice(a, 1, 0, 100, 2); /* columns 0, 2 */
    CHECK(s && tg_tensor_dim(s, 1) == 2 && tg_tensor_get(s, 3) == 5, "strided slice");
    s = tg_slice(a, 1, 1, INT64_MAX, INT64_MAX); /* one element, no overflow */
    CHECK(s && tg_tensor_dim(s, 1) == 1 && tg_tensor_get(s, 1) == 4, "slice with a huge step");
    s = tg_slice(a, 0, INT64_MIN, INT64_MAX, 1);
    CHECK(s && tg_tensor_dim(s, 0) == 2, "slice clamps extreme bounds");
    tg_tensor *pd = tg_pad(a, 1, (int64_t[]){1, 0}, -7); /* [2,4]: -7 0 1 2 / -7 3 4 5 */
    CHECK(pd && tg_tensor_dim(pd, 1) == 4 && tg_tensor_get(pd, 4) == -7 && tg_tensor_get(pd, 7) == 5,
          "pad values");
    tg_tensor *r = tg_repeat(a, TG_SHAPE(1, 2)); /* [2,6] */
    CHECK(r && tg_tensor_get(r, 4) == 1 && tg_tensor_get(r, 11) == 5, "repeat values");
    tg_tensor *oh = tg_one_hot(tg_tensor_new(t, TG_I64, TG_SHAPE(3), (int64_t[]){2, 0, 2}), -1,
                               TG_F32);
    CHECK(oh && tg_tensor_dim(oh, 1) == 3 && tg_tensor_get(oh, 2) == 1 && tg_tensor_get(oh, 3) == 1 &&
              tg_tensor_get(oh, 8) == 1 && tg_tensor_get(oh, 0) == 0,
          "one_hot inferred classes");
    tg_tensor *pieces[4];
    CHECK(tg_chunk(tg_zeros(t, TG_F64, TG_SHAPE(0, 2)), 0, 3, pieces) == 3, "chunk of empty axis");
    CHECK(tg_chunk(a, 1, 4, pieces) == 3, "chunk: 3 columns into at most 4 pieces");
    /* i64 tensors pass through shape ops */
    tg_tensor *ix = tg_tensor_new(t, TG_I64, TG_SHAPE(2, 2), (int64_t[]){1, 2, 3, 4});
    tg_tensor *ixc = tg_concat(2, (tg_tensor *[]){ix, ix}, 1);
    CHECK(ixc && tg_tensor_dtype(ixc) == TG_I64 && tg_tensor_get(ixc, 3) == 2, "i64 concat");
    /* a parameter as an operand */
    tg_tensor *w = tg_param_new(TG_F64, TG_SHAPE(2, 3));
    tg_tensor *wc = tg_concat(2, (tg_tensor *[]){w, a}, 0);
    CHECK(wc && tg_tensor_dim(wc, 0) == 4, "concat of a parameter");
    tg_backward(tg_sum(tg_mul(wc, wc)));
    double *gw = tg_tensor_f64(tg_tensor_grad(w));
    CHECK(gw && gw[0] == 0, "param gradient through concat");
    CHECK_OK(t);
    tg_param_free(w);
    tg_tape_free(t);
}

static void test_bad_inputs(void) {
    tg_tape *t = tg_tape_new();
#define FRESH() tg_tape_reset(t); tg_tensor *a = tg_ones(t, TG_F32, TG_SHAPE(2, 3))
    {
        FRESH();
        CHECK_ERR(tg_permute(a, 2, (int[]){0, 0}), t, TG_ERR_ARG, "permute: axis 0 (entry 1)");
    }
    {
        FRESH();
        CHECK_ERR(tg_permute(a, 3, (int[]){0, 1, 2}), t, TG_ERR_ARG, "permute: 3 axes given for shape [2,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_squeeze(a, 0), t, TG_ERR_ARG, "squeeze: axis 0 of shape [2,3] is not a size-1 axis");
    }
    {
        FRESH();
        CHECK_ERR(tg_unsqueeze(a, 3), t, TG_ERR_ARG, "unsqueeze: axis 3 is out of range for shape [2,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_flatten(a, 1, 0), t, TG_ERR_ARG, "flatten: axes 1..0 are out of range for shape [2,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_broadcast_to(a, TG_SHAPE(2, 4)), t, TG_ERR_SHAPE,
                  "broadcast_to: cannot broadcast [2,3] to [2,4]");
    }
    {
        FRESH();
        tg_tensor *b = tg_ones(t, TG_F32, TG_SHAPE(3, 3));
        CHECK_ERR(tg_concat(2, (tg_tensor *[]){a, b}, 1), t, TG_ERR_SHAPE,
                  "concat: shapes [2,3] (tensor 1) and [3,3] (tensor 2) differ outside axis 1");
    }
    {
        FRESH();
        tg_tensor *b = tg_ones(t, TG_F64, TG_SHAPE(2, 3));
        CHECK_ERR(tg_concat(2, (tg_tensor *[]){a, b}, 0), t, TG_ERR_DTYPE,
                  "concat: dtypes differ: f32 [2,3] (tensor 1) and f64 [2,3] (tensor 2)");
    }
    {
        FRESH();
        CHECK_ERR(tg_concat(2, (tg_tensor *[]){a, a}, 2), t, TG_ERR_ARG,
                  "concat: axis 2 is out of range for shape [2,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_concat(2, (tg_tensor *[]){a, NULL}, 0), t, TG_ERR_NULL, "concat: operand 2 is NULL");
    }
    {
        FRESH();
        tg_tensor *b = tg_ones(t, TG_F32, TG_SHAPE(3, 2));
        CHECK_ERR(tg_stack(2, (tg_tensor *[]){a, b}, 0), t, TG_ERR_SHAPE,
                  "stack: shapes differ: [2,3] (tensor 1) and [3,2] (tensor 2)");
    }
    {
        FRESH();
        tg_tensor *o[2];
        CHECK(tg_split(a, 1, 2, (int64_t[]){1, 1}, o) == -1, "split returns -1");
        CHECK_ERR(NULL, t, TG_ERR_SHAPE, "split: the 2 sizes do not add up to 3, the size of axis 1 of [2,3]");
    }
    {
        FRESH();
        tg_tensor *o[2];
        CHECK(tg_chunk(a, 0, 0, o) == -1, "chunk of 0 pieces");
        CHECK_ERR(NULL, t, TG_ERR_ARG, "chunk: axis 0, 0 chunks: bad for shape [2,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_slice(a, 2, 0, 1, 1), t, TG_ERR_ARG, "slice: axis 2 is out of range for shape [2,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_slice(a, 0, 0, 1, 0), t, TG_ERR_ARG, "slice: step 0 must be >= 1 (shape [2,3])");
    }
    {
        FRESH();
        CHECK_ERR(tg_pad(a, 3, (int64_t[]){1, 1, 1, 1, 1, 1}, 0), t, TG_ERR_ARG,
                  "pad: 3 (before, after) pairs for shape [2,3]");
    }
    {
        FRESH();
        CHECK_ERR(tg_pad(a, 1, (int64_t[]){-2, -2}, 0), t, TG_ERR_SHAPE,
                  "pad: padding (-2, -2) makes axis 1 of [2,3] negative");
    }
    {
        FRESH();
        CHECK_ERR(tg_pad(a, 1, (int64_t[]){INT64_MAX, 1}, 0), t, TG_ERR_SHAPE,
                  "pad: padding (9223372036854775807, 1) of axis 1 of [2,3] is too large");
    }
    {
        FRESH();
        CHECK_ERR(tg_repeat(a, TG_SHAPE(2)), t, TG_ERR_ARG,
                  "repeat: 1 repeat counts for shape [2,3] (need at least its rank)");
    }
    {
        FRESH();
        tg_tensor *ix = tg_tensor_new(t, TG_I64, TG_SHAPE(3), (int64_t[]){0, 2, 1});
        CHECK_ERR(tg_index_select(a, 0, ix), t, TG_ERR_ARG,
                  "index_select: index 2 (element 1 of index [3]) is out of range for axis 0 of size 2 in [2,3]");
    }
    {
        FRESH();
        tg_tensor *ix = tg_tensor_new(t, TG_I64, TG_SHAPE(1), (int64_t[]){-4});
        CHECK_ERR(tg_index_select(a, -1, ix), t, TG_ERR_ARG, "index_select: index -4");
    }
    {
        FRESH();
        tg_tensor *ix = tg_ones(t, TG_F32, TG_SHAPE(2));
        CHECK_ERR(tg_index_select(a, 0, ix), t, TG_ERR_DTYPE, "index_select: index must be i64, got f32 [2]");
    }
    {
        FRESH();
        tg_tensor *ix = tg_zeros(t, TG_I64, TG_SHAPE(2, 2));
        CHECK_ERR(tg_index_select(a, 5, ix), t, TG_ERR_ARG, "index_select: axis 5 is out of range for shape [2,3]");
    }
    {
        FRESH();
        tg_tensor *ix = tg_zeros(t, TG_I64, TG_SHAPE(3, 1));
        CHECK_ERR(tg_gather(a, 1, ix), t, TG_ERR_SHAPE,
                  "gather: index [3,1] does not fit input [2,3] along axis 1");
    }
    {
        FRESH();
        tg_tensor *ix = tg_full(t, TG_I64, TG_SHAPE(2, 2), 3);
        CHECK_ERR(tg_gather(a, 1, ix), t, TG_ERR_ARG,
                  "gather: index 3 (element 0 of index [2,2]) is out of range for axis 1 of size 3 in [2,3]");
    }
    {
        FRESH();
        tg_tensor *ix = tg_full(t, TG_I64, TG_SHAPE(2), 2);
        CHECK_ERR(tg_embedding(a, ix), t, TG_ERR_ARG, "embedding: index 2 (element 0 of index [2]) is out of range for axis 0 of size 2 in [2,3]");
    }
    {
        FRESH();
        tg_tensor *ix = tg_zeros(t, TG_I64, TG_SHAPE(2));
        CHECK_ERR(tg_embedding(tg_ones(t, TG_F32, TG_SHAPE(4)), ix), t, TG_ERR_SHAPE,
                  "embedding: weight must be [V, D], got [4] (index [2])");
        (void)a;
    }
    {
        FRESH();
        tg_tensor *m = tg_zeros(t, TG_I64, TG_SHAPE(2));
        CHECK_ERR(tg_masked_fill(a, m, 0), t, TG_ERR_SHAPE, "masked_fill: mask [2] does not broadcast to input [2,3]");
    }
    {
        FRESH();
        tg_tensor *l = tg_tensor_new(t, TG_I64, TG_SHAPE(3), (int64_t[]){0, 4, 1});
        CHECK_ERR(tg_one_hot(l, 4, TG_F32), t, TG_ERR_ARG, "one_hot: label 4 (element 1 of labels [3]) is outside [0, 4)");
        (void)a;
    }
    {
        FRESH();
        tg_tensor *l = tg_tensor_new(t, TG_I64, TG_SHAPE(2), (int64_t[]){-1, 1});
        CHECK_ERR(tg_one_hot(l, -1, TG_F32), t, TG_ERR_ARG, "one_hot: label -1 (element 0 of labels [2]) is outside [0, 2)");
        (void)a;
    }
    {
        FRESH();
        CHECK_ERR(tg_one_hot(a, 3, TG_F32), t, TG_ERR_DTYPE, "one_hot: labels must be i64, got f32 [2,3]");
    }
#undef FRESH
    tg_tape_free(t);
}

int main(void) {
    test_gradients();
    test_reshape_backward();
    test_values();
    test_bad_inputs();
    return TEST_DONE("grad_shape");
}
