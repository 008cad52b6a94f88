/* tg_custom.h - custom ops: an op made of your own forward and backward.
 *
 * For a C function whose derivative you know (a special function from a
 * numerical library, a solver with an adjoint): describe it once in a
 * tg_custom_def, then call tg_custom() wherever it is used, as you would a
 * built-in op. This is torch.autograd.Function in C:
 *
 *   torch.autograd.Function       tapegrad
 *   forward(ctx, *inputs)         def.forward(call, n, in, out) on raw buffers
 *   backward(ctx, grad_out)       def.backward(call, n, in, out, gout, gin),
 *                                 raw buffers (first-order sweeps), and/or
 *                                 def.graph_backward(call, i, in, out, g),
 *                                 built from ops (create-graph, higher order)
 *   ctx.save_for_backward(...)    tg_custom_save(call, bytes) in the forward,
 *                                 tg_custom_saved(call, &bytes) in a backward;
 *                                 the inputs and the output are there anyway
 *   Function.apply(*inputs)       tg_custom(&def, ctx, n, inputs)
 *
 * Worked example (examples/custom_op.c has the whole program): y = j0(x)
 * elementwise, with libm's Bessel function j0, whose derivative is -j1:
 *
 *   static bool j0_fwd(tg_custom_call *c, int n, const tg_buf *in, tg_buf *out) {
 *       const double *x = in[0].data;   // f64 only: refuse f32 first, below
 *       double *y = out->data;
 *       for (int64_t k = 0; k < out->numel; k++) y[k] = j0(x[k]);
 *       return true;
 *   }
 *   static bool j0_bwd(tg_custom_call *c, int n, const tg_buf *in, const tg_buf *out,
 *                      const tg_buf *gout, tg_buf *gin) {
 *       const double *x = in[0].data, *g = gout->data;
 *       double *gx = gin[0].data;       // never NULL here: input 0 needs it
 *       for (int64_t k = 0; k < gout->numel; k++) gx[k] += -j1(x[k]) * g[k];
 *       return true;
 *   }
 *   static const tg_custom_def J0 = {.name = "j0", .forward = j0_fwd, .backward = j0_bwd};
 *   ...
 *   tg_tensor *y = tg_custom(&J0, NULL, 1, &x);
 *
 * The rules of built-in ops hold: every input is checked (NULL, stale,
 * another tape, and all inputs must be float tensors of one dtype, which
 * is the output's dtype); a failure returns NULL and the tape keeps the
 * first error, a sentence that starts with def->name. Parameters may be
 * inputs (their gradients arrive as for any op). tg_gradcheck works on a
 * custom op: it checks `backward` and, with opts.graph, `graph_backward`.
 */
#ifndef TG_CUSTOM_H
#define TG_CUSTOM_H

#include "tg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One use of a custom op (its record on the tape): what the callbacks get,
 * to reach the user context and the saved values. Valid while they run. */
typedef struct tg_custom_call tg_custom_call;

/* A tensor seen as a raw buffer. */
typedef struct tg_buf {
    tg_dtype dtype;          /* TG_F32 or TG_F64 (the op's dtype) */
    int rank;                /* 0..TG_MAX_RANK */
    const int64_t *shape;    /* rank entries (NULL at rank 0) */
    int64_t numel;           /* elements (1 at rank 0) */
    void *data;              /* numel elements, contiguous row-major; for a
                              * gradient nobody needs: NULL */
} tg_buf;

/* The most inputs of one custom op. */
#define TG_CUSTOM_MAX_INPUTS 16

typedef struct tg_custom_def {
    /* The op's name, first word of its error messages (required). */
    const char *name;
    /* The output's shape from the inputs: sets *rank (0..TG_MAX_RANK) and
     * shape[0..rank) (shape has TG_MAX_RANK entries). NULL: the shape of
     * input 0. Returns false to refuse the inputs (call tg_custom_fail
     * first to say why). */
    bool (*shape)(tg_custom_call *call, int n, const tg_buf *in, int *rank, int64_t *shape);
    /* Writes every element of out->data (required). May save values for
     * the backward (tg_custom_save). Returns false on failure. */
    bool (*forward)(tg_custom_call *call, int n, const tg_buf *in, tg_buf *out);
    /* Fast backward on raw buffers, for first-order sweeps (tg_backward,
     * tg_grad without TG_CREATE_GRAPH): ADDS d(sum(gout * out))/d(in[i])
     * into gin[i].data for every i whose gin[i].data is not NULL (inputs
     * that need no gradient get NULL; an input listed twice gets the same
     * buffer twice, so add, never store). in, out: the forward's values.
     * NULL: first-order sweeps run graph_backward with recording off. */
    bool (*backward)(tg_custom_call *call, int n, const tg_buf *in, const tg_buf *out,
                     const tg_buf *gout, tg_buf *gin);
    /* Graph backward, built from tapegrad ops (so TG_CREATE_GRAPH sweeps
     * record it and higher derivatives work): returns the contribution of
     * the output gradient g to input i, a tensor of input i's shape and
     * dtype on the same tape. in, out, g are handles of this pass. NULL:
     * create-graph sweeps through this op fail with an error saying so. */
    tg_tensor *(*graph_backward)(tg_custom_call *call, int i, tg_tensor *const *in,
                                 tg_tensor *out, tg_tensor *g);
} tg_custom_def;

/* Applies the custom op `def` to in[0..n) (1 <= n <= TG_CUSTOM_MAX_INPUTS)
 * and returns its output, a tensor on the inputs' tape that requires grad
 * when an input does and def has a backward (either kind; with neither,
 * the output is a constant). `ctx` is handed to every callback
 * (tg_custom_ctx). def and ctx must stay valid until the tape is reset or
 * freed (backwards run later). NULL on error, kept on the tape: a NULL,
 * stale or foreign input, mixed or non-float dtypes, n out of range, a
 * def without name or forward, a shape refused or out of range, or a
 * forward that returned false. With n < 1 or only NULL inputs there is no
 * tape to record on: NULL and nothing kept. */
TG_API tg_tensor *tg_custom(const tg_custom_def *def, void *ctx, int n, tg_tensor *const *in);

/* The ctx given to tg_custom for this call. */
TG_API void *tg_custom_ctx(const tg_custom_call *call);

/* In the forward only: `bytes` of memory kept with the record until the
 * tape's reset, 16-byte aligned (64 from 64 bytes on), for values the
 * backward needs. A second call replaces the first. NULL on out of memory
 * (recorded) or when called outside the forward (recorded: TG_ERR_STATE). */
TG_API void *tg_custom_save(tg_custom_call *call, size_t bytes);

/* What the forward saved (NULL and 0 if nothing); *bytes may be NULL. */
TG_API void *tg_custom_saved(const tg_custom_call *call, size_t *bytes);

/* Records "<def->name>: <message>" as the tape's error (TG_ERR_ARG), if it
 * has none yet, and returns false: `return tg_custom_fail(call, "x must
 * be positive, got %g", v);` from a shape, forward or backward callback. */
TG_API bool tg_custom_fail(tg_custom_call *call, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif /* TG_CUSTOM_H */
