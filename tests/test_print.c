/* test_print.c - tg_tensor_print (autograd/print.c) and tg_params_summary
 * (nn/summary.c): the exact text, as NumPy and torchinfo would lay it out.
 */
#include "tg_test.h"

/* t printed with opts equals want (and tg_tensor_print writes the same). */
static void expect(const tg_tensor *t, const tg_print_opts *o, const char *want) {
    char buf[4096];
    size_t n = tg_tensor_sprint(buf, sizeof buf, t, o);
    CHECK(n == strlen(want) && !strcmp(buf, want), "printed\n%s\nexpected\n%s", buf, want);
    FILE *f = tmpfile();
    CHECK(f && tg_tensor_print(f, t, o) == TG_OK, "tg_tensor_print");
    if (!f) return;
    rewind(f);
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = 0;
    fclose(f);
    CHECK(!strcmp(buf, want), "tg_tensor_print wrote\n%s", buf);
}

static void test_tensors(void) {
    tg_tape *tape = tg_tape_new();
    expect(tg_scalar(tape, 2.5), NULL, "tensor(2.5000, dtype=f64, shape=[])\n");
    expect(tg_tensor_set_name(tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 2), (double[]){0.1, -2, 3.5, 4}),
                              "W"),
           NULL,
           "tensor([[ 0.1000, -2.0000],\n"
           "        [ 3.5000,  4.0000]], dtype=f64, shape=[2,2], name=\"W\")\n");
    float v[100];
    for (int i = 0; i < 100; i++) v[i] = (float)i;
    tg_print_opts o = {1, 10, 2};
    expect(tg_tensor_new(tape, TG_F32, TG_SHAPE(10, 10), v), &o,
           "tensor([[ 0.0,  1.0, ...,  8.0,  9.0],\n"
           "        [10.0, 11.0, ..., 18.0, 19.0],\n"
           "        ...,\n"
           "        [80.0, 81.0, ..., 88.0, 89.0],\n"
           "        [90.0, 91.0, ..., 98.0, 99.0]], dtype=f32, shape=[10,10])\n");
    /* under the threshold: everything */
    expect(tg_tensor_new(tape, TG_F32, TG_SHAPE(7), v), &o,
           "tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=f32, shape=[7])\n");
    /* over the default threshold of 1000: 3 at each end */
    static float ramp[2000];
    for (int i = 0; i < 2000; i++) ramp[i] = (float)i;
    tg_tensor *big = tg_tensor_new(tape, TG_F32, TG_SHAPE(2000), ramp);
    expect(big, NULL,
           "tensor([   0.0000,    1.0000,    2.0000, ..., 1997.0000, 1998.0000, 1999.0000], "
           "dtype=f32, shape=[2000])\n");
    expect(tg_tensor_new(tape, TG_F32, TG_SHAPE(2, 2, 3), v), NULL,
           "tensor([[[ 0.0000,  1.0000,  2.0000],\n"
           "         [ 3.0000,  4.0000,  5.0000]],\n"
           "\n"
           "        [[ 6.0000,  7.0000,  8.0000],\n"
           "         [ 9.0000, 10.0000, 11.0000]]], dtype=f32, shape=[2,2,3])\n");
    expect(tg_tensor_new(tape, TG_F32, TG_SHAPE(0, 3), NULL), NULL,
           "tensor([], dtype=f32, shape=[0,3])\n");
    /* magnitudes that call for scientific notation, all of them */
    expect(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){1e9, -1, 0}), NULL,
           "tensor([ 1.0000e+09, -1.0000e+00,  0.0000e+00], dtype=f64, shape=[3])\n");
    expect(tg_tensor_new(tape, TG_F64, TG_SHAPE(2), (double[]){1e-6, 1}), &(tg_print_opts){2, 0, 0},
           "tensor([1.00e-06, 1.00e+00], dtype=f64, shape=[2])\n");
    expect(tg_tensor_new(tape, TG_F64, TG_SHAPE(3), (double[]){0.5, INFINITY, NAN}), NULL,
           "tensor([0.5000,    inf,    nan], dtype=f64, shape=[3])\n");
    expect(tg_argmax(tg_tensor_new(tape, TG_F64, TG_SHAPE(2, 3), (double[]){1, 5, 2, 7, 0, -1}), 1,
                     false),
           NULL, "tensor([1, 0], dtype=i64, shape=[2])\n");
    /* stale and NULL handles print a line, no error */
    tg_tensor *old = tg_scalar(tape, 1);
    tg_tape_reset(tape);
    expect(old, NULL, "tensor(stale: made on an earlier pass of its tape)\n");
    expect(NULL, NULL, "tensor(NULL)\n");
    CHECK_OK(tape);
    /* a parameter prints like any tensor */
    tg_tensor *p = tg_param_new(TG_F32, TG_SHAPE(3));
    expect(p, NULL, "tensor([0.0000, 0.0000, 0.0000], dtype=f32, shape=[3])\n");
    tg_param_free(p);
    /* a short buffer: cut, terminated, full length returned */
    char small[8];
    size_t n = tg_tensor_sprint(small, sizeof small, NULL, NULL);
    CHECK(n == 13 && !strcmp(small, "tensor("), "short: %zu '%s'", n, small);
    CHECK(tg_tensor_print(NULL, NULL, NULL) == TG_ERR_NULL, "NULL FILE");
    tg_tape_free(tape);
}

static void test_summary(void) {
    tg_params *ps = tg_params_new(TG_F32);
    tg_rng rng;
    tg_rng_seed(&rng, 1);
    tg_sequential *net = tg_mlp_new(ps, "mlp", (int64_t[]){784, 128, 10}, 3, TG_ACT_RELU,
                                    TG_ACT_NONE, &rng);
    CHECK(net != NULL, "mlp: %s", tg_params_error(ps));
    CHECK(tg_params_add(ps, "bn.running_mean", 1, (int64_t[]){10}, TG_PARAM_BUFFER) != NULL,
          "buffer");
    FILE *f = tmpfile();
    CHECK(f && tg_params_summary(f, ps) == TG_OK, "summary");
    char buf[2048] = "";
    if (f) {
        rewind(f);
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        buf[k] = 0;
        fclose(f);
    }
    char names[4][32];
    for (int i = 0; i < 4 && i < tg_params_count(ps); i++)
        snprintf(names[i], sizeof names[i], "%s", tg_params_name(ps, i));
    char exp[2048];
    snprintf(exp, sizeof exp,
             "name             shape        count  kind       dtype\n"
             "%-15s  [128,784]  100,352  trainable  f32\n"
             "%-15s  [128]          128  trainable  f32\n"
             "%-15s  [10,128]     1,280  trainable  f32\n"
             "%-15s  [10]            10  trainable  f32\n"
             "bn.running_mean  [10]            10  buffer     f32\n"
             "trainable: 101,770 in 4 tensors (407,080 bytes)\n"
             "buffers:   10 in 1 tensor (40 bytes)\n"
             "total:     101,780 values, 407,120 bytes\n",
             names[0], names[1], names[2], names[3]);
    CHECK(!strcmp(buf, exp), "summary\n%s\nexpected\n%s", buf, exp);
    CHECK(tg_params_numel(ps) == 101770, "tg_params_numel agrees: %lld",
          (long long)tg_params_numel(ps));
    tg_params_free(ps);
    f = tmpfile();
    CHECK(f && tg_params_summary(f, NULL) == TG_OK, "NULL list");
    if (f) fclose(f);
    CHECK(tg_params_summary(NULL, NULL) == TG_ERR_NULL, "NULL FILE");
}

int main(void) {
    test_tensors();
    test_summary();
    return TEST_DONE("print");
}
