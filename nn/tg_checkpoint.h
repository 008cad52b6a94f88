/* tg_checkpoint.h - save and load named tensors in the safetensors format.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * The file (https://github.com/huggingface/safetensors):
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   JSON: {"name": {"dtype": "F32", "shape": [2, 3],
 *                             "data_offsets": [begin, end]}, ...,
 *                    "__metadata__": {"key": "value", ...}}   (optional)
 *   the rest  raw little-endian data; offsets count from its start, and the
 *             tensors tile it exactly (no gaps, no overlaps).
 * Files written here open in Python with safetensors.numpy.load_file or
 * safetensors.torch.load_file, and the other way round (F32, F64, I64).
 *
 * Example: save and restore a model's parameters (persistent tensors made
 * with tg_param_new) and an optimizer's state under other names.
 *
 *     const char *names[] = {"fc1.weight", "fc1.bias", "adam.m.fc1.weight"};
 *     tg_tensor *ts[] = {w1, b1, m1};
 *     if (tg_checkpoint_save("model.safetensors", 3, names, ts, 0, NULL) != TG_OK)
 *         puts(tg_last_error());
 *     ...
 *     if (tg_checkpoint_load("model.safetensors", 3, names, ts, true) != TG_OK)
 *         puts(tg_last_error());
 *
 * Errors (the rule at the top of tapegrad.h): every function here returns
 * a tg_status (TG_OK on success; tg_checkpoint_get: a tensor or NULL) and,
 * on failure, one sentence naming the file and the problem in
 * tg_last_error(). Nothing aborts, and nothing is recorded on any tape.
 *
 * Loading trusts nothing in the file: the header length (at most
 * TG_CHECKPOINT_MAX_HEADER and within the file), the JSON (a strict parser
 * for exactly this schema: no duplicate keys, no unknown fields, no
 * trailing garbage, valid UTF-8), each dtype, shape (rank <= 8, products
 * checked for overflow) and offsets (end - begin == numel * element size,
 * contiguous, covering the data exactly, matching the file size) are
 * checked before any tensor is read.
 *
 * Saving is atomic: the data goes to a new temporary file in the same
 * directory, which is flushed, fsync'ed and renamed over `path`; then the
 * directory is fsync'ed. A crash leaves either the old file or the new one.
 * Leftovers: a process killed during a save (before the rename) leaves its
 * temporary file "<path>.tmp<pid>.<n>" behind, at most one per killed
 * process. Nothing ever reads it; it is safe to delete (tests/
 * test_atomic_save.c checks all this with SIGKILL at random moments).
 * tg_idx_write (tg_data.h) writes through the same code (nn/io_util.c).
 */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "tg_autograd.h"
#include "tg_module.h"
#include "tg_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest header accepted when loading (as the reference reader). */
#define TG_CHECKPOINT_MAX_HEADER 100000000u

/* Writes tensors[i] under names[i] for i < n to `path` atomically.
 * tensors may be parameters or tensors on a tape, of dtype F32, F64 or I64
 * (written as "F32", "F64", "I64"); names must be non-empty, distinct and
 * not "__metadata__". meta holds nmeta (key, value) string pairs, i.e.
 * 2*nmeta strings, stored as "__metadata__" (meta may be NULL when nmeta is
 * 0). The caller keeps ownership of everything passed in. Returns TG_OK,
 * or TG_ERR_NULL / TG_ERR_ARG / TG_ERR_DTYPE / TG_ERR_STALE for bad
 * arguments, TG_ERR_IO when the file cannot be written (the target is then
 * left as it was), TG_ERR_NOMEM. */
TG_API tg_status tg_checkpoint_save(const char *path, int n, const char *const *names,
                                    tg_tensor *const *tensors, int nmeta,
                                    const char *const *meta);

/* Reads the tensors called names[i] from `path` into tensors[i] (i < n),
 * whose dtype and shape must equal the file's; the values are copied into
 * the tensors' data (parameters are the intended destination). With
 * `strict`, a tensor in the file that is not in names is an error too
 * (PyTorch's load_state_dict(strict=True)); a name missing from the file
 * is always an error. Everything is validated before the first tensor is
 * written, so a corrupt or mismatched file leaves the tensors unchanged
 * (only a read error in the middle of the data can leave some updated).
 * Returns TG_OK, TG_ERR_IO (cannot open/read), TG_ERR_FORMAT (corrupt or
 * truncated file), TG_ERR_ARG (a name missing or unexpected), TG_ERR_DTYPE,
 * TG_ERR_SHAPE (mismatch with a destination), TG_ERR_NULL, TG_ERR_NOMEM. */
TG_API tg_status tg_checkpoint_load(const char *path, int n, const char *const *names,
                                    tg_tensor *const *tensors, bool strict);

/* The same for named lists (tg_module.h): every tensor of lists[0..n)
 * under its registered name, buffers included, e.g. a model and its
 * optimizer's state:
 *     tg_params *lists[] = {model, tg_optim_state(opt)};
 *     tg_checkpoint_save_params("ckpt.safetensors", 2, lists, 0, NULL);
 *     ...
 *     tg_checkpoint_load_params("ckpt.safetensors", 2, lists, true);
 * A NULL list is TG_ERR_NULL; names must be distinct across the lists.
 * Errors and atomicity as tg_checkpoint_save / tg_checkpoint_load. */
TG_API tg_status tg_checkpoint_save_params(const char *path, int nlists,
                                           tg_params *const *lists, int nmeta,
                                           const char *const *meta);
TG_API tg_status tg_checkpoint_load_params(const char *path, int nlists,
                                           tg_params *const *lists, bool strict);

/* ---------------------------------------- inspecting a checkpoint file */

/* An opened, fully validated checkpoint: the parsed header and an open
 * file handle. Owned by the caller; close with tg_checkpoint_close. */
typedef struct tg_checkpoint tg_checkpoint;

/* Opens and validates `path` (everything listed above) and stores the
 * handle in *out (NULL on failure). Returns TG_OK, TG_ERR_IO,
 * TG_ERR_FORMAT, TG_ERR_NOMEM or TG_ERR_NULL. */
TG_API tg_status tg_checkpoint_open(const char *path, tg_checkpoint **out);

/* Closes the file and frees the handle. NULL is allowed. */
TG_API void tg_checkpoint_close(tg_checkpoint *ck);

/* The number of tensors in the file, and the name of the i-th in header
 * order (NULL if i is out of range; the string lives as long as ck). */
TG_API int tg_checkpoint_count(const tg_checkpoint *ck);
TG_API const char *tg_checkpoint_name(const tg_checkpoint *ck, int i);

/* The index of the tensor called name, or -1. */
TG_API int tg_checkpoint_find(const tg_checkpoint *ck, const char *name);

/* The safetensors dtype string of tensor i ("F32", "BF16", ...), its rank
 * and shape (rank entries; *rank and shape[TG_MAX_RANK] are written).
 * Returns false if i is out of range. */
TG_API bool tg_checkpoint_info(const tg_checkpoint *ck, int i, const char **dtype, int *rank,
                               int64_t *shape);

/* The value of a "__metadata__" key, or NULL when absent (the string lives
 * as long as ck). */
TG_API const char *tg_checkpoint_meta(const tg_checkpoint *ck, const char *key);

/* Copies tensor `name` into dst (dtype and shape must match; see
 * tg_checkpoint_load for the errors). */
TG_API tg_status tg_checkpoint_read(tg_checkpoint *ck, const char *name, tg_tensor *dst);

/* Reads tensor `name` into a new tensor on `tape` (F32, F64 or I64 files
 * only); on failure: NULL, tg_last_error(). */
TG_API tg_tensor *tg_checkpoint_get(tg_checkpoint *ck, const char *name, tg_tape *tape);

#ifdef __cplusplus
}
#endif
#endif /* TG_CHECKPOINT_H */
