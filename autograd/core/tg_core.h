/* tg_core.h - the core of tapegrad: tensors, the tape, parameters, errors,
 * the allocator, threads, the SIMD level and random numbers.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * The model in five lines:
 *   - A tg_tape owns every tensor an op creates, in an arena. tg_tape_reset
 *     frees a whole forward pass in O(1) and keeps the memory for the next.
 *   - Ops append nodes in execution order, so backward is one reverse loop
 *     (tg_autograd.h).
 *   - Parameters (tg_param_new) live outside any tape and keep their grads.
 *   - Errors are sticky: a failing op returns NULL and the tape keeps the
 *     first error; later ops given NULL return NULL. Check once, at the end.
 *   - f32 and f64 tensors, rank 0..8, contiguous row-major. 0-d = scalar.
 */
#ifndef TG_CORE_H
#define TG_CORE_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(TG_BUILDING_SHARED)
#define TG_API __declspec(dllexport)
#elif defined(__GNUC__)
#define TG_API __attribute__((visibility("default")))
#else
#define TG_API
#endif

/* ---------------------------------------------------------------- types */

typedef struct tg_tape tg_tape;     /* opaque: an arena of tensors */
typedef struct tg_tensor tg_tensor; /* opaque: a tensor on a tape, or a parameter */

/* Element types. TG_I64 holds indices and labels (argmax, gather, class
 * labels); it is never differentiated and arithmetic ops reject it. */
typedef enum tg_dtype { TG_F32 = 0, TG_F64 = 1, TG_I64 = 2 } tg_dtype;

#define TG_MAX_RANK 8

/* The short name of a dtype: "f32", "f64", "i64" ("?" for any other
 * value). Never NULL. */
TG_API const char *tg_dtype_name(tg_dtype dt);

/* Status codes. tg_status_name() turns one into a word. */
typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_NULL,    /* a NULL pointer where a tensor or buffer was needed */
    TG_ERR_SHAPE,   /* shapes that do not fit the op */
    TG_ERR_DTYPE,   /* mixed or unsupported element types */
    TG_ERR_TAPE,    /* tensors from two different tapes */
    TG_ERR_STALE,   /* a tensor from before a tg_tape_reset */
    TG_ERR_NOMEM,   /* an allocation failed */
    TG_ERR_ARG,     /* a bad argument: axis, rank, index, option */
    TG_ERR_STATE,   /* the call is not valid now (e.g. backward twice) */
    TG_ERR_IO,      /* reading or writing a file failed */
    TG_ERR_FORMAT,  /* a file is corrupt or not of the expected format */
    TG_ERR_NUMERIC, /* NaN or Inf caught (anomaly mode) */
    TG_ERR_OVERFLOW /* a size that does not fit in int64 / size_t */
} tg_status;

/* The word for a status ("ok", "shape", "out of memory", ...). Never NULL. */
TG_API const char *tg_status_name(tg_status s);

/* The calling thread's last error (the error rule: top of tapegrad.h).
 * tg_last_error: the sentence of the most recent failure on this thread,
 * wherever it happened (an op, a layer or optimizer, a file or data set
 * function, tg_dist, a query given a stale tensor), e.g. "matmul: inner
 * dimensions differ: [3,4] @ [5,2]"; "" when none. A per-thread buffer of
 * 512 bytes (longer sentences are cut, always terminated), overwritten by
 * the next failure on the thread and never by a success (like errno: read
 * it right after a call returned its failure value). One exception keeps
 * the root cause readable: an op (tg_ops.h, tg_loss.h, a layer's forward)
 * or a query that fails because it was given a NULL tensor (TG_ERR_NULL,
 * most often the failure value of an earlier op) does not overwrite an
 * earlier failure's sentence. The pointer tg_last_error returns is the
 * thread's buffer itself: it stays valid for the thread's life and always
 * reads the current sentence.
 * tg_last_status: that failure's code (TG_OK when none). */
TG_API const char *tg_last_error(void);
TG_API tg_status tg_last_status(void);
/* Resets the calling thread's last error to TG_OK and "". */
TG_API void tg_clear_error(void);
/* Records a failure as the calling thread's last error, for code built on
 * tapegrad that fails outside a tape: tg_set_last_error(TG_ERR_ARG,
 * "mylib: k must be positive, got %d", k). A status of TG_OK is stored as
 * TG_ERR_STATE (a failure is never ok). Always writes. */
TG_API void tg_set_last_error(tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
TG_API void tg_set_last_errorv(tg_status s, const char *fmt, va_list ap);

/* ----------------------------------------------------------- allocation */

/* A malloc/realloc/free triple with a user pointer, used for every
 * allocation the library makes. */
typedef struct tg_allocator {
    void *(*malloc)(size_t size, void *ud);
    void *(*realloc)(void *ptr, size_t size, void *ud);
    void (*free)(void *ptr, void *ud);
    void *ud;
} tg_allocator;

/* Makes *a the allocator of every later allocation (its fields are
 * copied); NULL, or a NULL function in it, restores the C library's malloc.
 * Not while another thread is running library code.
 *
 * Who frees what:
 *   - Tapes, parameters, nn/ objects (models, optimizers, data sets) and
 *     tg_malloc blocks are freed through the allocator in force when they
 *     are freed: free them all before changing the allocator.
 *   - Caches the library keeps for the whole process (the thread pool's
 *     workers, each thread's GEMM scratch) go back to the allocator that
 *     made them, whenever they are freed. tg_set_allocator first releases
 *     the pool and the calling thread's scratch (tg_release_caches), so
 *     once the user's tapes and parameters are freed, the allocator it
 *     replaces holds nothing of the library's, except the scratch of other
 *     threads that ran large ops (GEMM) under it: that goes back to it when
 *     each of those threads exits or calls tg_release_caches. An allocator
 *     must stay usable until then (for the thread that calls exit, until
 *     the library's destructor has run at exit). */
TG_API void tg_set_allocator(const tg_allocator *a);

/* Frees the caches the library keeps between calls: joins the thread
 * pool's workers (the pool starts again on the next large op) and frees
 * the calling thread's GEMM scratch, each through the allocator that made
 * it. Returns false, leaving the pool as it is, when a parallel loop is
 * running at the time (on another thread, or this call is made from inside
 * one); the calling thread's scratch is freed either way. With the
 * OpenMP build (-Dopenmp=enabled) the scratch of the OpenMP threads is
 * freed too, and the result is false when called inside a parallel
 * region. tg_set_allocator calls it; a steady loop that calls it pays for
 * new threads and buffers on its next large op. */
TG_API bool tg_release_caches(void);

/* Allocates / frees through the current allocator (for code built on
 * tapegrad, e.g. nn/, that needs heap memory outside a tape). tg_malloc(0)
 * returns a unique pointer; NULL means out of memory. tg_free(NULL) is a
 * no-op. Free with tg_free what tg_malloc returned. */
TG_API void *tg_malloc(size_t size);
TG_API void tg_free(void *p);

/* -------------------------------------------------------------- threads */

/* Threads used by large kernels (GEMM, big elementwise ops, reductions,
 * conv). Default: the TG_NUM_THREADS environment variable, else the number
 * of online CPUs. Small ops always run on the calling thread. n <= 0 means
 * the default. Call it between passes, not while another thread runs ops. */
TG_API void tg_set_num_threads(int n);
TG_API int tg_get_num_threads(void);

/* Runs fn(ctx, lo, hi) over pieces covering [0, n) on tapegrad's threads
 * (the caller's thread takes a piece too, and then every piece no worker
 * has started: a worker slow to wake delays nothing) and returns when all
 * are done.
 * Pieces have at least `grain` items, so a small n runs inline on the
 * calling thread with no wake-up; so does a call made from inside another
 * tg_parallel_for, or while another thread holds the pool. For libraries
 * built on tapegrad (nn/'s optimizers use it): fn must not record ops. */
typedef void (*tg_range_fn)(void *ctx, int64_t lo, int64_t hi);
TG_API void tg_parallel_for(int64_t n, int64_t grain, tg_range_fn fn, void *ctx);

/* ----------------------------------------------------------------- simd */

/* The instruction sets the kernels with SIMD variants (GEMM, the
 * optimizers' update loops) are built for, each level a superset of the
 * one before. One build runs on any x86-64 and picks a level at run time. */
typedef enum tg_simd {
    TG_SIMD_PORTABLE = 0, /* plain C for the compiler's baseline (SSE2 on x86-64) */
    TG_SIMD_AVX2 = 1,     /* AVX2 + FMA */
    TG_SIMD_AVX512 = 2    /* AVX-512F (+ AVX2, FMA) */
} tg_simd;

/* The level every kernel runs at: the best this CPU runs and this build
 * has, capped by the environment variable TG_SIMD (portable, avx2 or
 * avx512), read once, at the first call. The same for the whole process;
 * safe to call from any thread. */
TG_API tg_simd tg_simd_level(void);

/* "portable", "avx2" or "avx512": the TG_SIMD word for a level. Never NULL. */
TG_API const char *tg_simd_name(tg_simd level);

/* ------------------------------------------------------------------ rng */

/* xoshiro256** seeded through splitmix64: the same seed gives the same
 * bits on every machine. Uniform doubles use the top 53 bits; normals use
 * the Box-Muller transform (libm's log, sqrt, cos). */
typedef struct tg_rng { uint64_t s[4]; } tg_rng;

TG_API void tg_rng_seed(tg_rng *r, uint64_t seed);
TG_API uint64_t tg_rng_next(tg_rng *r);     /* 64 random bits */
TG_API double tg_rng_uniform(tg_rng *r);    /* in [0, 1) */
TG_API double tg_rng_normal(tg_rng *r);     /* mean 0, std 1 */

/* ----------------------------------------------------------------- tape */

/* A new empty tape, recording on. NULL if out of memory.
 * The environment variable TG_ABORT_ON_ERROR=1 turns on abort-on-error
 * for every new tape (see tg_tape_set_abort_on_error). */
TG_API tg_tape *tg_tape_new(void);

/* Frees the tape and every tensor on it. NULL is allowed. Refused, with a
 * TG_ERR_STATE error on the tape, from a gradient hook while backward
 * sweeps this tape (tg_inspect.h). */
TG_API void tg_tape_free(tg_tape *tape);

/* Forgets every tensor on the tape in O(1) and clears its error; keeps the
 * memory so that a steady loop allocates nothing. Settings stay as they
 * are: recording (tg_tape_set_grad_enabled) and abort-on-error. Tensors from before the
 * reset become stale, and stay detected whatever now fills their place.
 * Given a tensor made k resets back, ops and the functions that record
 * errors (tg_backward, tg_grad, tg_item, tg_grad_item, tg_requires_grad,
 * ...) record TG_ERR_STALE and return NULL, that status or NaN; the
 * queries return what they return for NULL (but tg_tensor_shape_str
 * writes "(stale)", and tg_tensor_tape gives the tape). This holds for
 * every k that is not a multiple of 126. For k = 126, 252, ... it holds
 * until the current pass has filled the tensor's place on the tape again
 * (places fill in creation order; a place holds one tensor, or two 0-d
 * f64 scalars of scalar code: tg_scalar's and the results of elementwise
 * ops on them); from then on the handle reads as the tensor that the
 * current pass made in its place. Only this tape's resets
 * count. Parameters never go stale.
 * Refused like tg_tape_free from a gradient hook during a sweep. */
TG_API void tg_tape_reset(tg_tape *tape);

/* True when no error has been recorded since creation or the last reset. */
TG_API bool tg_tape_ok(const tg_tape *tape);

/* The first error's status (TG_OK if none; TG_ERR_NULL for a NULL tape). */
TG_API tg_status tg_tape_status(const tg_tape *tape);

/* The first error as a sentence, e.g.
 * "matmul: inner dimensions differ: [3,4] @ [5,2]". "" when ok. Each
 * failure on the tape also wrote tg_last_error() (the error rule). */
TG_API const char *tg_tape_error(const tg_tape *tape);

/* Records an error on the tape (kept only if it is the first) and writes
 * it to tg_last_error(). For code built on tapegrad (nn/, user ops) that
 * wants the same sticky model. A NULL tape writes tg_last_error() only. */
TG_API void tg_tape_fail(tg_tape *tape, tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* When on, the first error is printed to stderr and the process aborts,
 * so a debugger stops at the failing op. Off by default. */
TG_API void tg_tape_set_abort_on_error(tg_tape *tape, bool on);

/* Recording switch (no-grad mode). While off, ops compute values, and
 * their results do not require grad: nothing is kept for a backward sweep
 * (each result is still a record on the tape, counted by tg_tape_count and
 * freed by tg_tape_reset, as in PyTorch's no_grad a result is still a
 * tensor). Returns the previous
 * setting so that code can restore it. The setting belongs to the tape and
 * stays until changed: tg_tape_reset keeps it (an evaluation loop that
 * turned recording off stays off), so turn it back on before training. */
TG_API bool tg_tape_set_grad_enabled(tg_tape *tape, bool on);
TG_API bool tg_tape_grad_enabled(const tg_tape *tape);

/* Fused elementwise chains. While on, an elementwise op (every unary op and
 * scalar form, and add, sub, mul, div, pow, maximum, minimum on operands of
 * one shape) on f32/f64 tensors of at least min_elements elements records
 * without computing: its value is computed when something reads it (an op
 * that is not elementwise, tg_item, tg_tensor_get, tg_tensor_data, print,
 * backward), together with the chain of such records behind it, in blocks
 * that stay in cache, and only the value read is stored. A full tg_sum of
 * such a chain sums it block by block and stores nothing of it; backward
 * recomputes the chain block by block and writes only the gradients of the
 * tensors the chain started from. Values and sums are bit for bit those of
 * the unfused ops (the same expressions, the same order of summation; NaN
 * payloads aside) at every SIMD level. Gradients are too where a tensor's
 * gradient comes from one chain only; where it also comes from elsewhere,
 * or from a chain through a contiguous slice or reshape of it (added
 * straight into its gradient at the view's offset), the chain's part is
 * added in another order (last-bit differences). What is not kept: the
 * gradient of a record inside a chain, nor that of a contiguous slice or
 * reshape that a chain reads (tg_tensor_grad of one after tg_backward is
 * NULL; pass it to tg_grad, which computes it). Inspection (names, hooks, anomaly, trace),
 * recording off, create-graph sweeps and checkpointed segments record
 * unfused, and so does an op that reads a parameter (through its proxy
 * or a view of it) or a borrowed buffer: an optimizer step rewrites that
 * memory. Writing through tg_tensor_data of a leaf computes the lazy
 * records first, so a write never changes what they compute.
 * min_elements 0 (or less) turns fusion off. Returns the previous setting (-1 for a
 * NULL tape). A new tape takes 16384, or the environment variable
 * TG_FUSE_MIN when set (0: off); tg_tape_reset keeps the setting. */
TG_API int64_t tg_tape_set_fusion(tg_tape *tape, int64_t min_elements);
TG_API int64_t tg_tape_fusion(const tg_tape *tape);

/* Bytes of tape memory in use by the current pass (tensor records and data),
 * and the number of tensors recorded since the last reset. A record is 64
 * bytes, and 32 for a 0-d f64 scalar of scalar code (tg_scalar, and the
 * result of an elementwise op on such scalars): see README.md, "The tape". */
TG_API size_t tg_tape_bytes(const tg_tape *tape);
TG_API size_t tg_tape_count(const tg_tape *tape);

/* The most bytes tg_tape_bytes has counted since the tape was made or
 * since the last tg_tape_reset_peak, across resets: a loop that resets the
 * tape each step reads here the largest single pass. Reading it costs
 * nothing on the recording path (the peak is folded in at resets).
 * Includes what a sweep adds (gradient buffers of tensors of rank >= 1).
 * 0 for NULL. */
TG_API size_t tg_tape_bytes_peak(const tg_tape *tape);

/* Starts a new peak: tg_tape_bytes_peak reads tg_tape_bytes(tape) now, and
 * the most from here on. tg_tape_reset does not do this. */
TG_API void tg_tape_reset_peak(tg_tape *tape);

/* Bytes the tape holds from the allocator: the record slabs (two sets,
 * taking turns between passes), the data arena's chunks, and the tape's
 * own bookkeeping; at least tg_tape_bytes_peak for a tape that was never
 * rewound. Kept across resets, so a steady loop allocates nothing (see
 * tg_tape_reset). Excludes what tg_inspect.h's names and hooks hold. */
TG_API size_t tg_tape_bytes_held(const tg_tape *tape);

/* ---------------------------------------------------- tensors on a tape */

/* A 0-d f64 tensor holding v; tg_scalar_as chooses the dtype. */
TG_API tg_tensor *tg_scalar(tg_tape *tape, double v);
TG_API tg_tensor *tg_scalar_as(tg_tape *tape, tg_dtype dt, double v);

/* A tensor of the given shape. `data` (may be NULL for zeros) is copied and
 * must hold numel elements of type dt. */
TG_API tg_tensor *tg_tensor_new(tg_tape *tape, tg_dtype dt, int rank,
                                const int64_t *shape, const void *data);
TG_API tg_tensor *tg_zeros(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape);
/* A tensor of the given shape whose elements are not set (torch.empty):
 * for code that writes every element before anything reads one. */
TG_API tg_tensor *tg_empty(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape);
TG_API tg_tensor *tg_ones(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape);
TG_API tg_tensor *tg_full(tg_tape *tape, tg_dtype dt, int rank, const int64_t *shape,
                          double v);
TG_API tg_tensor *tg_zeros_like(const tg_tensor *t);
TG_API tg_tensor *tg_ones_like(const tg_tensor *t);

/* Seeded random tensors: uniform in [lo, hi), normal(mean, std). */
TG_API tg_tensor *tg_rand_uniform(tg_tape *tape, tg_dtype dt, int rank,
                                  const int64_t *shape, tg_rng *rng, double lo, double hi);
TG_API tg_tensor *tg_rand_normal(tg_tape *tape, tg_dtype dt, int rank,
                                 const int64_t *shape, tg_rng *rng, double mean, double std);

/* Shape convenience: tg_zeros(tape, TG_F32, TG_SHAPE(2, 3)). */
#define TG_SHAPE(...)                                                          \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),          \
        (const int64_t[]) { __VA_ARGS__ }

/* Marks a leaf tensor as a variable to differentiate against and returns
 * it, so that `x = tg_requires_grad(tg_scalar(tape, 1.5))` reads well.
 * Only leaves (tensors not produced by an op) can be marked. */
TG_API tg_tensor *tg_requires_grad(tg_tensor *t);
TG_API bool tg_tensor_requires_grad(const tg_tensor *t);

/* Detaches: a new leaf sharing t's values, with no history. */
TG_API tg_tensor *tg_detach(tg_tensor *t);

/* ------------------------------------------------------------- queries */

/* The operand check for code built on tapegrad (nn/, user ops): TG_OK for
 * a tensor of its tape's current pass or a parameter, TG_ERR_NULL for
 * NULL, TG_ERR_STALE for a tensor from before a tg_tape_reset. Records
 * nothing. (A freed parameter cannot be detected: don't pass one.) */
TG_API tg_status tg_tensor_status(const tg_tensor *t);

TG_API tg_tape *tg_tensor_tape(const tg_tensor *t);  /* NULL for parameters */
TG_API tg_dtype tg_tensor_dtype(const tg_tensor *t); /* TG_F32 for NULL or stale */
/* The queries below record nothing on a tape. Given NULL or a stale
 * tensor they return NULL, -1 or NaN and write tg_last_error(), e.g.
 * "tensor_rank: the tensor is stale (made before a tg_tape_reset)". */
/* The rank; -1 for NULL or stale. */
TG_API int tg_tensor_rank(const tg_tensor *t);
/* Size of one axis; negative axes count from the end. -1 (and
 * tg_last_error) if out of range, NULL or stale. */
TG_API int64_t tg_tensor_dim(const tg_tensor *t, int axis);
/* The shape array (rank entries; NULL for rank 0, and NULL with
 * tg_last_error for a NULL or stale tensor). */
TG_API const int64_t *tg_tensor_shape(const tg_tensor *t);
/* The number of elements; -1 for NULL or stale. */
TG_API int64_t tg_tensor_numel(const tg_tensor *t);
/* Writes "[2,3]" into buf (always terminated); returns buf. */
TG_API char *tg_tensor_shape_str(const tg_tensor *t, char *buf, size_t n);

/* Pointers to the data (NULL if t is NULL or stale, with tg_last_error;
 * NULL if t is of another dtype, a probe that writes no error).
 * Tensors on a tape are read-only in spirit: writing changes values that
 * the backward sweep may use. Parameters are meant to be written. */
TG_API float *tg_tensor_f32(const tg_tensor *t);
TG_API double *tg_tensor_f64(const tg_tensor *t);
TG_API int64_t *tg_tensor_i64(const tg_tensor *t);
TG_API void *tg_tensor_data(const tg_tensor *t);

/* The value of a one-element tensor as a double. NaN (and an error on the
 * tape, and tg_last_error) if t is NULL, stale or has more than one
 * element. */
TG_API double tg_item(const tg_tensor *t);
/* Element i (flat, row-major index) as a double; NaN (and tg_last_error)
 * if out of range, NULL or stale. */
TG_API double tg_tensor_get(const tg_tensor *t, int64_t i);

/* ------------------------------------------------------------ parameters */

/* A persistent tensor outside any tape, zero-filled, with a zeroed gradient
 * buffer of the same shape. It can be used as an operand on any tape (the
 * op takes its tape from the other operands, or use tg_param_on; an op
 * whose operands are all parameters fails with TG_ERR_TAPE), and
 * backward accumulates into its gradient. Free with tg_param_free.
 * A parameter must not be used on tapes in two threads at once. */
TG_API tg_tensor *tg_param_new(tg_dtype dt, int rank, const int64_t *shape);
/* Freeing a parameter that a tape still holds (used there since the
 * tape's last reset) is deferred until every such tape is reset or freed,
 * so a pending backward stays valid; don't pass p to anything afterwards. */
TG_API void tg_param_free(tg_tensor *p); /* NULL is allowed */
TG_API bool tg_tensor_is_param(const tg_tensor *t);

/* The parameter as a tensor on `tape` (made once per tape pass, then
 * reused). Needed only when an expression has no tape tensor to take the
 * tape from, e.g. tg_mul(tg_param_on(tape, w), tg_param_on(tape, w)). */
TG_API tg_tensor *tg_param_on(tg_tape *tape, tg_tensor *p);

#ifdef __cplusplus
}
#endif
#endif /* TG_CORE_H */
