/* errbuf.h - the internal forms of nn/'s file, data set and dist functions
 * (internal to nn/, not installed). Each tg__<name>_e is the public
 * tg_<name> with a sentence buffer err of errlen bytes (may be NULL) at the
 * end, as the public functions had before the error rule moved sentences
 * to tg_last_error(): nn/ calls these forms from inside, so a sub-step's
 * sentence can be passed on or prefixed; the public functions (errbuf.c)
 * move a failure's sentence to tg_last_error().
 */
#ifndef TG_ERRBUF_H
#define TG_ERRBUF_H

#include "tapegrad.h"

/* Room for one sentence, as tg_last_error() keeps. */
#define TG__ERRBUF 512

/* Writes err (or, if empty, the status's word) to tg_last_error() when
 * s is a failure; returns s. */
tg_status tg__errbuf_last(tg_status s, const char *err);
/* A NULL argument to an nn/ function: writes "<fn>: NULL <what>" to
 * tg_last_error() (like every function but the ops and queries, whose NULL
 * operand keeps an earlier sentence: the rule at the top of tapegrad.h);
 * returns TG_ERR_NULL. */
tg_status tg__nn_null(const char *fn, const char *what);
/* The status for a pointer-returning call's failure, from its sentence:
 * TG_ERR_NOMEM ("out of memory"), TG_ERR_NULL ("NULL"), else TG_ERR_STATE. */
tg_status tg__errbuf_status(const char *err);

tg_status tg__checkpoint_save_e(const char *path, int n, const char *const *names,
    tg_tensor *const *tensors, int nmeta, const char *const *meta, char *err, size_t errlen);
tg_status tg__checkpoint_load_e(const char *path, int n, const char *const *names,
    tg_tensor *const *tensors, bool strict, char *err, size_t errlen);
tg_status tg__checkpoint_save_params_e(const char *path, int nlists, tg_params *const *lists,
    int nmeta, const char *const *meta, char *err, size_t errlen);
tg_status tg__checkpoint_load_params_e(const char *path, int nlists, tg_params *const *lists,
    bool strict, char *err, size_t errlen);
tg_status tg__checkpoint_open_e(const char *path, tg_checkpoint **out, char *err, size_t errlen);
tg_status tg__checkpoint_read_e(tg_checkpoint *ck, const char *name, tg_tensor *dst, char *err,
    size_t errlen);
tg_tensor *tg__checkpoint_get_e(tg_checkpoint *ck, const char *name, tg_tape *tape, char *err,
    size_t errlen);
tg_status tg__dataset_alloc_e(tg_dataset *d, int64_t n, int rank, const int64_t *shape,
    bool with_labels, char *err, size_t errlen);
/* first: read at most that many items along axis 0 (INT64_MAX: all; < 1: TG_ERR_ARG) */
tg_status tg__idx_read_e(const char *path, int64_t first, tg_idx *out, char *err, size_t errlen);
tg_status tg__idx_write_e(const char *path, int type, int rank, const int64_t *shape,
    const double *values, char *err, size_t errlen);
tg_status tg__mnist_load_e(const char *images_path, const char *labels_path, int64_t first,
    tg_dataset *out, char *err, size_t errlen);
tg_status tg__mnist_load_dir_e(const char *dir, bool train, int64_t first, tg_dataset *out,
    char *err, size_t errlen);
tg_status tg__csv_read_e(const char *path, const tg_csv_opts *opts, tg_dataset *out, char *err,
    size_t errlen);
tg_status tg__batcher_init_e(tg_batcher *b, const tg_dataset *d, int64_t batch, bool shuffle,
    uint64_t seed, char *err, size_t errlen);
tg_status tg__dist_init_e(int *argc, char ***argv, tg_dist **out, char *err, size_t errlen);
tg_status tg__dist_attach_e(const void *comm, tg_dist **out, char *err, size_t errlen);
tg_ddp *tg__ddp_new_e(tg_dist *d, tg_params *ps, size_t bucket_bytes, char *err, size_t errlen);
tg_status tg__dist_batcher_init_e(tg_dist_batcher *b, const tg_dataset *d, int64_t global_batch,
    bool shuffle, uint64_t seed, int rank, int size, char *err, size_t errlen);
tg_status tg__dist_batcher_restore_e(tg_dist_batcher *b, const char *state, char *err,
    size_t errlen);
tg_status tg__dist_checkpoint_save_e(tg_dist *d, const char *path, int nlists,
    tg_params *const *lists, int nmeta, const char *const *meta, char *err, size_t errlen);
tg_status tg__dist_checkpoint_load_e(tg_dist *d, const char *path, int nlists,
    tg_params *const *lists, bool strict, char *err, size_t errlen);

#endif /* TG_ERRBUF_H */
