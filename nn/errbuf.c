/* errbuf.c - the public file, data set and dist functions: each runs its
 * internal form (errbuf.h) with a sentence buffer and, on failure, writes
 * the sentence to the calling thread's tg_last_error() (the error rule,
 * top of tapegrad.h). */
#include "errbuf.h"

#include <string.h>

tg_status tg__errbuf_last(tg_status s, const char *err) {
    if (s != TG_OK)
        tg_set_last_error(s, "%s", err && err[0] ? err : tg_status_name(s));
    return s;
}

tg_status tg__nn_null(const char *fn, const char *what) {
    tg_set_last_error(TG_ERR_NULL, "%s: NULL %s", fn, what);
    return TG_ERR_NULL;
}

tg_status tg__errbuf_status(const char *err) {
    if (strstr(err, "out of memory"))
        return TG_ERR_NOMEM;
    if (strstr(err, "NULL"))
        return TG_ERR_NULL;
    return TG_ERR_STATE;
}

tg_status tg_checkpoint_save(const char *path, int n, const char *const *names,
                             tg_tensor *const *tensors, int nmeta, const char *const *meta) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__checkpoint_save_e(path, n, names, tensors, nmeta, meta, err, sizeof err), err);
}

tg_status tg_checkpoint_load(const char *path, int n, const char *const *names,
                             tg_tensor *const *tensors, bool strict) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__checkpoint_load_e(path, n, names, tensors, strict, err, sizeof err),
                           err);
}

tg_status tg_checkpoint_save_params(const char *path, int nlists, tg_params *const *lists,
                                    int nmeta, const char *const *meta) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__checkpoint_save_params_e(path, nlists, lists, nmeta, meta, err, sizeof err), err);
}

tg_status tg_checkpoint_load_params(const char *path, int nlists, tg_params *const *lists,
                                    bool strict) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__checkpoint_load_params_e(path, nlists, lists, strict, err, sizeof err), err);
}

tg_status tg_checkpoint_open(const char *path, tg_checkpoint **out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__checkpoint_open_e(path, out, err, sizeof err), err);
}

tg_status tg_checkpoint_read(tg_checkpoint *ck, const char *name, tg_tensor *dst) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__checkpoint_read_e(ck, name, dst, err, sizeof err), err);
}

tg_tensor *tg_checkpoint_get(tg_checkpoint *ck, const char *name, tg_tape *tape) {
    char err[TG__ERRBUF] = "";
    tg_tensor *r = tg__checkpoint_get_e(ck, name, tape, err, sizeof err);
    if (!r)
        tg__errbuf_last(tg__errbuf_status(err), err);
    return r;
}

tg_status tg_dataset_alloc(tg_dataset *d, int64_t n, int rank, const int64_t *shape,
                           bool with_labels) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__dataset_alloc_e(d, n, rank, shape, with_labels, err, sizeof err),
                           err);
}

tg_status tg_idx_read(const char *path, tg_idx *out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__idx_read_e(path, INT64_MAX, out, err, sizeof err), err);
}

tg_status tg_idx_read_first(const char *path, int64_t n, tg_idx *out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__idx_read_e(path, n, out, err, sizeof err), err);
}

tg_status tg_idx_write(const char *path, int type, int rank, const int64_t *shape,
                       const double *values) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__idx_write_e(path, type, rank, shape, values, err, sizeof err), err);
}

tg_status tg_mnist_load(const char *images_path, const char *labels_path, tg_dataset *out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__mnist_load_e(images_path, labels_path, INT64_MAX, out, err, sizeof err), err);
}

tg_status tg_mnist_load_first(const char *images_path, const char *labels_path, int64_t n,
                              tg_dataset *out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__mnist_load_e(images_path, labels_path, n, out, err, sizeof err), err);
}

tg_status tg_mnist_load_dir(const char *dir, bool train, tg_dataset *out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__mnist_load_dir_e(dir, train, INT64_MAX, out, err, sizeof err), err);
}

tg_status tg_mnist_load_dir_first(const char *dir, bool train, int64_t n, tg_dataset *out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__mnist_load_dir_e(dir, train, n, out, err, sizeof err), err);
}

tg_status tg_csv_read(const char *path, const tg_csv_opts *opts, tg_dataset *out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__csv_read_e(path, opts, out, err, sizeof err), err);
}

tg_status tg_batcher_init(tg_batcher *b, const tg_dataset *d, int64_t batch, bool shuffle,
                          uint64_t seed) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__batcher_init_e(b, d, batch, shuffle, seed, err, sizeof err), err);
}

tg_status tg_dist_init(int *argc, char ***argv, tg_dist **out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__dist_init_e(argc, argv, out, err, sizeof err), err);
}

tg_status tg_dist_attach(const void *comm, tg_dist **out) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__dist_attach_e(comm, out, err, sizeof err), err);
}

tg_ddp *tg_ddp_new(tg_dist *d, tg_params *ps, size_t bucket_bytes) {
    char err[TG__ERRBUF] = "";
    tg_ddp *r = tg__ddp_new_e(d, ps, bucket_bytes, err, sizeof err);
    if (!r)
        tg__errbuf_last(tg__errbuf_status(err), err);
    return r;
}

tg_status tg_dist_batcher_init(tg_dist_batcher *b, const tg_dataset *d, int64_t global_batch,
                               bool shuffle, uint64_t seed, int rank, int size) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__dist_batcher_init_e(b, d, global_batch, shuffle, seed, rank, size, err, sizeof err),
        err);
}

tg_status tg_dist_batcher_restore(tg_dist_batcher *b, const char *state) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(tg__dist_batcher_restore_e(b, state, err, sizeof err), err);
}

tg_status tg_dist_checkpoint_save(tg_dist *d, const char *path, int nlists, tg_params *const *lists,
                                  int nmeta, const char *const *meta) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__dist_checkpoint_save_e(d, path, nlists, lists, nmeta, meta, err, sizeof err), err);
}

tg_status tg_dist_checkpoint_load(tg_dist *d, const char *path, int nlists, tg_params *const *lists,
                                  bool strict) {
    char err[TG__ERRBUF] = "";
    return tg__errbuf_last(
        tg__dist_checkpoint_load_e(d, path, nlists, lists, strict, err, sizeof err), err);
}
