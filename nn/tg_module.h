/* tg_module.h - parameter lists, layers, the MLP builder, initializers.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * A model is a tg_params: a named list of persistent tensors (made with
 * tg_param_new) that layers register into, plus the train/eval switch.
 * Layers are small structs owned by the list; one tg_params_free frees the
 * whole model. A forward pass takes a tape tensor and returns one:
 *
 *     tg_rng rng; tg_rng_seed(&rng, 1);
 *     tg_params *ps = tg_params_new(TG_F32);
 *     tg_sequential *net = tg_mlp_new(ps, "mlp", (int64_t[]){784, 128, 10}, 3,
 *                                     TG_ACT_RELU, TG_ACT_NONE, &rng);
 *     tg_tensor *logits = tg_sequential_forward(net, x);   // x: [B, 784]
 *     ...
 *     tg_params_free(ps);                                  // layers and tensors
 *
 * Names follow PyTorch's state_dict ("mlp.0.weight", "bn.running_mean"), so
 * checkpoints can iterate tg_params_count / tg_params_name / tg_params_at.
 * Constructors return NULL on a bad argument or out of memory, with the
 * sentence in tg_last_error() (and kept, if it is the list's first, in
 * tg_params_error(ps)). Forward errors go to x's tape (and tg_last_error).
 */
#ifndef TG_MODULE_H
#define TG_MODULE_H

#include "tg_autograd.h"
#include "tg_ops.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------- parameter lists */

typedef struct tg_params tg_params; /* opaque: named persistent tensors */

/* Flags for tg_params_add. */
enum {
    TG_PARAM_BUFFER = 1 /* persistent state that optimizers skip (running stats) */
};

/* A new empty list whose layers make parameters of dtype dt (TG_F32 or
 * TG_F64). Starts in training mode. On failure (out of memory, dt
 * not f32 or f64): NULL, tg_last_error(). */
TG_API tg_params *tg_params_new(tg_dtype dt);

/* Frees the list, every tensor it holds and every block handed to it with
 * tg_params_own (layers). NULL is allowed. */
TG_API void tg_params_free(tg_params *ps);

/* Makes a zero-filled persistent tensor of the list's dtype, registers it
 * under `name` (copied; must be unique) and returns it. The list owns it.
 * flags: 0 for a trainable parameter, TG_PARAM_BUFFER for state that is
 * saved but not trained. On failure: NULL, tg_last_error(). */
TG_API tg_tensor *tg_params_add(tg_params *ps, const char *name, int rank, const int64_t *shape,
                                int flags);

/* Registers an existing persistent tensor p (from tg_param_new) and takes
 * ownership of it: the list frees it. Returns p, or NULL on error (p is
 * then freed too, so the caller never leaks). */
TG_API tg_tensor *tg_params_adopt(tg_params *ps, const char *name, tg_tensor *p, int flags);

/* Hands a block from tg_malloc to the list, which frees it with the list
 * (how layers are owned). Returns block, or NULL (block freed) on error,
 * with a sentence in tg_last_error(): out of memory, or a NULL block (so
 * that tg_params_own(ps, tg_malloc(n)) reports a failed tg_malloc). */
TG_API void *tg_params_own(tg_params *ps, void *block);

/* Iteration, in registration order: i in [0, count). Buffers included.
 * Out-of-range i gives NULL / false. The name and tensor belong to ps. */
TG_API int tg_params_count(const tg_params *ps);
TG_API const char *tg_params_name(const tg_params *ps, int i);
TG_API tg_tensor *tg_params_at(const tg_params *ps, int i);
TG_API bool tg_params_is_buffer(const tg_params *ps, int i);
/* The tensor registered under name, or NULL. */
TG_API tg_tensor *tg_params_find(const tg_params *ps, const char *name);

/* Prints the list as a table, in registration order, one tensor a line:
 * name, shape, element count, "trainable" or "buffer", dtype; then the
 * totals: trainable values, buffer values, all values and their bytes:
 *     name       shape  count  kind       dtype
 *     fc.weight  [3,2]      6  trainable  f32
 *     fc.bias    [3]        3  trainable  f32
 *     bn.mean    [3]        3  buffer     f32
 *     trainable: 9 in 2 tensors (36 bytes)
 *     buffers:   3 in 1 tensor (12 bytes)
 *     total:     12 values, 48 bytes
 * Counts of 1,000 and more are grouped with commas. NULL ps prints
 * "params: NULL". Returns TG_OK, TG_ERR_NULL (out NULL) or TG_ERR_IO. */
TG_API tg_status tg_params_summary(FILE *out, const tg_params *ps);

/* Number of trainable scalars (elements of every non-buffer tensor). */
TG_API int64_t tg_params_numel(const tg_params *ps);
/* The dtype the list's layers use. */
TG_API tg_dtype tg_params_dtype(const tg_params *ps);

/* Sets every trainable tensor's gradient to zero. */
TG_API void tg_params_zero_grad(tg_params *ps);

/* Training mode (dropout active, batch norm uses batch statistics) or
 * evaluation mode. tg_params_new starts in training mode. */
TG_API void tg_params_set_training(tg_params *ps, bool training);
TG_API bool tg_params_training(const tg_params *ps);

/* The list's first construction (or optimizer set_lr) error, sticky:
 * its code (TG_OK if none; TG_ERR_NULL for a NULL list) and its sentence
 * ("" if none). Each such failure also wrote tg_last_error(). */
TG_API tg_status tg_params_status(const tg_params *ps);
TG_API const char *tg_params_error(const tg_params *ps);
/* Records a construction error, for code that builds layers:
 * tg_params_fail(ps, "conv2d: %d groups ...", g). Writes tg_last_error()
 * always and the list's sticky error if it is the first (code
 * TG_ERR_NOMEM if the sentence says "out of memory", else TG_ERR_ARG). */
TG_API void tg_params_fail(tg_params *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------------ activations */

/* tg_act (TG_ACT_NONE, TG_ACT_RELU, ...) is declared in tg_ops.h, beside
 * tg_linear_act, which fuses an activation into the matrix product. */

/* act(x) as a tape op (x itself for TG_ACT_NONE). NULL if x is NULL. */
TG_API tg_tensor *tg_act_forward(tg_act act, tg_tensor *x);

/* ----------------------------------------------------------------- layers */

/* Every layer starts with this header, so containers and user code can
 * call any layer through tg_layer_forward. Write your own layer the same
 * way: a struct whose first member is a tg_layer, owned by tg_params_own. */
typedef struct tg_layer tg_layer;
struct tg_layer {
    tg_tensor *(*forward)(tg_layer *self, tg_tensor *x);
    tg_params *ps;     /* the list that owns it (for the train/eval mode) */
    const char *kind;  /* "linear", "relu", ... */
};

/* Runs a layer. NULL if l or x is NULL (an error on x's tape for l). */
TG_API tg_tensor *tg_layer_forward(tg_layer *l, tg_tensor *x);

/* y = x W^T + b, x [..., in] -> y [..., out]. weight [out, in] and bias
 * [out] are named "<name>.weight" and "<name>.bias"; both are drawn from
 * U(-1/sqrt(in), 1/sqrt(in)) as PyTorch's default (kaiming_uniform with
 * a = sqrt(5)). bias may be off. */
typedef struct tg_linear {
    tg_layer base;
    int64_t in, out;
    tg_tensor *weight; /* [out, in] */
    tg_tensor *bias;   /* [out] or NULL */
} tg_linear;
TG_API tg_linear *tg_linear_new(tg_params *ps, const char *name, int64_t in, int64_t out,
                                bool bias, tg_rng *rng);
/* x's last axis must be `in` (a TG_ERR_SHAPE error naming "linear" and the
 * shapes otherwise). x must have the list's dtype. */
TG_API tg_tensor *tg_linear_forward(tg_linear *l, tg_tensor *x);

/* An activation as a layer (no parameters). */
TG_API tg_layer *tg_activation_new(tg_params *ps, tg_act act);

/* Dropout with probability p in [0, 1): active only in training mode.
 * Keeps its own generator, seeded from rng. */
typedef struct tg_dropout_layer {
    tg_layer base;
    double p;
    tg_rng rng;
} tg_dropout_layer;
TG_API tg_dropout_layer *tg_dropout_new(tg_params *ps, double p, tg_rng *rng);

/* 2-D convolution: weight [cout, cin/groups, kh, kw], bias [cout]; both
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = cin/groups*kh*kw (PyTorch).
 * opts may be NULL (stride 1, no padding). x [N, cin, H, W]. */
typedef struct tg_conv2d_layer {
    tg_layer base;
    int64_t cin, cout, kh, kw;
    tg_conv_opts opts;
    tg_tensor *weight, *bias;
} tg_conv2d_layer;
TG_API tg_conv2d_layer *tg_conv2d_new(tg_params *ps, const char *name, int64_t cin, int64_t cout,
                                      int64_t kh, int64_t kw, const tg_conv_opts *opts,
                                      bool bias, tg_rng *rng);

/* Lookup table weight [num, dim] ~ N(0, 1) (PyTorch). The input is an i64
 * index tensor of any shape; the output adds a last axis of size dim. */
typedef struct tg_embedding_layer {
    tg_layer base;
    int64_t num, dim;
    tg_tensor *weight;
} tg_embedding_layer;
TG_API tg_embedding_layer *tg_embedding_new(tg_params *ps, const char *name, int64_t num,
                                            int64_t dim, tg_rng *rng);

/* Layer norm over the last `naxes` axes of the given shape; weight = 1 and
 * bias = 0 of that shape when affine. */
typedef struct tg_layernorm_layer {
    tg_layer base;
    int naxes;
    double eps;
    tg_tensor *weight, *bias;
} tg_layernorm_layer;
TG_API tg_layernorm_layer *tg_layernorm_new(tg_params *ps, const char *name, int naxes,
                                            const int64_t *shape, double eps, bool affine);

/* Batch norm over [N, C, ...] with C channels: weight = 1, bias = 0 when
 * affine; buffers "<name>.running_mean" (0) and "<name>.running_var" (1)
 * updated in training mode with momentum (PyTorch: 0.1), used in eval. */
typedef struct tg_batchnorm_layer {
    tg_layer base;
    int64_t channels;
    double eps, momentum;
    tg_tensor *weight, *bias, *running_mean, *running_var;
} tg_batchnorm_layer;
TG_API tg_batchnorm_layer *tg_batchnorm_new(tg_params *ps, const char *name, int64_t channels,
                                            double eps, double momentum, bool affine);

/* A container that runs its layers in order (at most TG_SEQ_MAX). A
 * Linear layer followed by an activation layer runs as one fused op
 * (tg_linear_act: one GEMM, one pass for bias and activation, one record);
 * the layer list stays as built, and each layer run alone gives the same. */
#define TG_SEQ_MAX 64
typedef struct tg_sequential {
    tg_layer base;
    int n;
    tg_layer *layers[TG_SEQ_MAX];
} tg_sequential;
TG_API tg_sequential *tg_sequential_new(tg_params *ps);
/* Appends l (returns TG_OK, TG_ERR_NULL or TG_ERR_ARG when full). */
TG_API tg_status tg_sequential_add(tg_sequential *s, tg_layer *l);
TG_API tg_tensor *tg_sequential_forward(tg_sequential *s, tg_tensor *x);

/* A multilayer perceptron: n widths give n-1 Linear layers with `act`
 * between them and `out_act` after the last (TG_ACT_NONE for none), each
 * activation fused into its Linear when the container runs. A Linear is
 * named by its index in the container, activation layers counted, as
 * PyTorch's nn.Sequential(Linear, act, Linear, ...) names its children:
 * widths {784, 100, 10} with a ReLU give "<name>.0.weight" [100, 784],
 * "<name>.0.bias", "<name>.2.weight" [10, 100], "<name>.2.bias"; name NULL
 * or "" gives "0.weight", ... (the keys of that nn.Sequential's
 * state_dict, shapes included). Returns the container, owned by ps. */
TG_API tg_sequential *tg_mlp_new(tg_params *ps, const char *name, const int64_t *widths, int n,
                                 tg_act act, tg_act out_act, tg_rng *rng);

/* ----------------------------------------------------------- initializers */

/* Each fills a float tensor in place (a parameter, or a leaf on a tape) and
 * returns TG_OK, or TG_ERR_NULL / TG_ERR_DTYPE / TG_ERR_SHAPE (fans need
 * rank >= 2). Fans as PyTorch: fan_in = size(1) * receptive field,
 * fan_out = size(0) * receptive field. */
typedef enum tg_fan { TG_FAN_IN = 0, TG_FAN_OUT = 1 } tg_fan;
typedef enum tg_nonlin {
    TG_NONLIN_LINEAR = 0, TG_NONLIN_SIGMOID, TG_NONLIN_TANH, TG_NONLIN_RELU, TG_NONLIN_LEAKY_RELU
} tg_nonlin;

/* torch.nn.init.calculate_gain: 1, 1, 5/3, sqrt(2), sqrt(2/(1+slope^2)). */
TG_API double tg_init_gain(tg_nonlin nl, double negative_slope);
TG_API tg_status tg_init_constant(tg_tensor *t, double v);
TG_API tg_status tg_init_zeros(tg_tensor *t);
TG_API tg_status tg_init_ones(tg_tensor *t);
TG_API tg_status tg_init_uniform(tg_tensor *t, double lo, double hi, tg_rng *rng);
TG_API tg_status tg_init_normal(tg_tensor *t, double mean, double std, tg_rng *rng);
/* U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)); N(0, gain sqrt(2 / (fan_in + fan_out))). */
TG_API tg_status tg_init_xavier_uniform(tg_tensor *t, double gain, tg_rng *rng);
TG_API tg_status tg_init_xavier_normal(tg_tensor *t, double gain, tg_rng *rng);
/* std = gain(nl, a) / sqrt(fan); uniform bound sqrt(3) std. PyTorch's
 * default is a = 0, TG_FAN_IN, TG_NONLIN_LEAKY_RELU. */
TG_API tg_status tg_init_kaiming_uniform(tg_tensor *t, double a, tg_fan mode, tg_nonlin nl,
                                         tg_rng *rng);
TG_API tg_status tg_init_kaiming_normal(tg_tensor *t, double a, tg_fan mode, tg_nonlin nl,
                                        tg_rng *rng);

#ifdef __cplusplus
}
#endif
#endif /* TG_MODULE_H */
