/* tg_data.h - data sets: IDX (MNIST format) and CSV readers, normalization,
 * seeded shuffled batches, and batch tensors on a tape.
 *
 * Part of tapegrad; include <tapegrad.h> rather than this file.
 *
 * Example: one epoch over Fashion-MNIST in batches of 64.
 *
 *     tg_dataset train;
 *     if (tg_mnist_load_dir("/usr/share/datasets/fashion-mnist", true, &train) != TG_OK) {
 *         puts(tg_last_error());
 *         return 1;
 *     }
 *     tg_dataset_scale(&train, 0, 255);           // pixels to [0, 1]
 *     tg_batcher b;
 *     tg_batcher_init(&b, &train, 64, true, 42);
 *     const int64_t *idx;
 *     int64_t n;
 *     while ((n = tg_batcher_next(&b, &idx)) > 0) {
 *         tg_tensor *x = tg_dataset_batch_x(tape, &train, n, idx, TG_F32, true); // [n, 784]
 *         tg_tensor *y = tg_dataset_batch_y(tape, &train, n, idx);              // [n] i64
 *         ...
 *     }
 *     tg_batcher_free(&b);
 *     tg_dataset_free(&train);
 *
 * Ownership: a tg_dataset is a plain struct the caller owns; its arrays are
 * allocated with tg_malloc and released by tg_dataset_free. The caller may
 * lower `n` (use only the first n samples); the arrays are freed all the
 * same.
 *
 * Errors (the rule at the top of tapegrad.h): every function that reads a
 * file or allocates returns a tg_status (TG_OK on success) and, on
 * failure, one sentence naming the file and the problem (with a line
 * number for CSV) in tg_last_error().
 * On failure the output struct is left empty (zeroed), so freeing it is
 * always safe. Nothing aborts. Files are never trusted: every size is
 * checked for overflow and against the bytes actually present before
 * anything is read, so a corrupt file gives an error, not a crash.
 *
 * gzip: with zlib (meson finds it and defines TG_HAVE_ZLIB) gzip'd files
 * are read transparently (known by their first two bytes, 1f 8b, whatever
 * their name); without it, a gzip'd file is a TG_ERR_FORMAT error that
 * says so (decompress it with gunzip first). A gzip'd file must be one or
 * more complete gzip members and nothing else: several members (what
 * `cat a.gz b.gz` makes; RFC 1952 allows it) are read as one stream, their
 * data joined, as gunzip does; bytes after the last member that do not
 * start another one (garbage, zero padding) are TG_ERR_FORMAT ("N bytes
 * after the end of the gzip data (offset M) are not a gzip member"), as
 * bytes after the data of a plain IDX file are. Corrupt data, a CRC or
 * length that does not match, and a file that ends inside a member are
 * TG_ERR_FORMAT too.
 */
#ifndef TG_DATA_H
#define TG_DATA_H

#include "tg_autograd.h"
#include "tg_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest IDX or CSV payload accepted, in bytes (after decompression). */
#define TG_DATA_MAX_BYTES ((int64_t)1 << 32)

/* -------------------------------------------------------------- data set */

/* n samples of `dim` float features each, with optional integer labels. */
typedef struct tg_dataset {
    int64_t n;                        /* number of samples */
    int64_t dim;                      /* features per sample: the product of shape */
    int rank;                         /* rank of one sample: 2 for 28x28 images, 1 for a CSV row */
    int64_t shape[TG_MAX_RANK - 1];   /* shape of one sample */
    float *x;                         /* [n, dim] row-major, owned */
    int64_t *y;                       /* [n] labels (0..nclasses-1), or NULL; owned */
    int64_t nclasses;                 /* 1 + the largest label; 0 without labels */
} tg_dataset;

/* Allocates a zero-filled data set of n samples of the given shape (rank
 * 1..7), with a zeroed label array when with_labels (nclasses is left 0
 * for the caller to set). For data made in code (generated blobs, XOR).
 * Returns TG_OK, TG_ERR_ARG (bad shape), TG_ERR_OVERFLOW or TG_ERR_NOMEM. */
TG_API tg_status tg_dataset_alloc(tg_dataset *d, int64_t n, int rank, const int64_t *shape,
                                  bool with_labels);

/* Frees d's arrays and zeroes the struct. NULL and a zeroed struct are
 * allowed; freeing twice is safe. */
TG_API void tg_dataset_free(tg_dataset *d);

/* ------------------------------------------------------------------- IDX */

/* IDX element type codes (the third byte of the magic number). */
enum {
    TG_IDX_U8 = 0x08,
    TG_IDX_I8 = 0x09,
    TG_IDX_I16 = 0x0B,
    TG_IDX_I32 = 0x0C,
    TG_IDX_F32 = 0x0D,
    TG_IDX_F64 = 0x0E
};

/* A whole IDX file: the element type, the shape and the elements, already
 * converted to the host's byte order (uint8_t, int8_t, int16_t, int32_t,
 * float or double by `type`). Owned by the caller; free with tg_idx_free. */
typedef struct tg_idx {
    int type;                     /* TG_IDX_U8, ... */
    int rank;                     /* 1..TG_MAX_RANK */
    int64_t shape[TG_MAX_RANK];
    int64_t numel;
    void *data;                   /* numel elements of `type` */
} tg_idx;

/* Reads an IDX file (http://yann.lecun.com/exdb/mnist/ describes it:
 * two zero bytes, a type code, the rank, rank big-endian uint32 sizes,
 * then the big-endian elements), gzip'd or plain. Checks: the magic, the
 * type code, rank 1..8, the size product against overflow and
 * TG_DATA_MAX_BYTES, a truncated payload, and trailing bytes after it
 * (inside the decompressed data, or after the gzip data; see "gzip"
 * above).
 * Returns TG_OK, TG_ERR_IO (cannot open or read), TG_ERR_FORMAT (corrupt,
 * truncated, too large, gzip without zlib), TG_ERR_NOMEM or TG_ERR_NULL. */
TG_API tg_status tg_idx_read(const char *path, tg_idx *out);

/* tg_idx_read of the first n items along axis 0 (all of them if the file
 * holds fewer): shape[0] is min(n, the header's size). The header is
 * checked as tg_idx_read checks it, except that TG_DATA_MAX_BYTES bounds
 * the items read, not the whole file; a file that ends inside those items
 * is truncated (TG_ERR_FORMAT). The rest of the file is never read (a
 * gzip'd file is inflated only that far), so nothing after the n items is
 * checked. n < 1: TG_ERR_ARG. */
TG_API tg_status tg_idx_read_first(const char *path, int64_t n, tg_idx *out);

/* Element i (flat, row-major) as a double; NaN if i is out of range. */
TG_API double tg_idx_get(const tg_idx *m, int64_t i);

/* Frees m's data and zeroes it; NULL is allowed. */
TG_API void tg_idx_free(tg_idx *m);

/* Writes an IDX file of the given type and shape from numel doubles in
 * `values` (converted to the type: integer types must hold integer values
 * in range, else TG_ERR_ARG). A path ending in ".gz" is gzip-compressed
 * (TG_ERR_ARG without zlib). The write is atomic, as tg_checkpoint_save's
 * (the same code, nn/io_util.c): the file is written to a new temporary
 * file "<path>.tmp<pid>.<n>" next to it, fsync'ed and renamed over path,
 * then the directory is fsync'ed. On any failure path is left as it was
 * and the temporary file is removed; only a process killed mid-write can
 * leave one behind (never read; safe to delete). Returns TG_OK,
 * TG_ERR_ARG, TG_ERR_IO, TG_ERR_NOMEM or TG_ERR_NULL. */
TG_API tg_status tg_idx_write(const char *path, int type, int rank, const int64_t *shape,
                              const double *values);

/* Reads an MNIST-style pair: an images file (u8, [N, ...], e.g. [N, 28, 28])
 * and a labels file (u8, [N]). The images become float features with
 * their raw values 0..255 (see tg_dataset_scale), the labels int64;
 * nclasses = 1 + the largest label. The two counts must agree. Errors as
 * tg_idx_read, plus TG_ERR_FORMAT for a wrong type, rank or count. */
TG_API tg_status tg_mnist_load(const char *images_path, const char *labels_path, tg_dataset *out);

/* tg_mnist_load of the first n samples only (all if there are fewer), each
 * file read as tg_idx_read_first reads it: for a quick run on a large data
 * set. The two headers' counts must still agree; nclasses is 1 + the
 * largest of the n labels read. n < 1: TG_ERR_ARG. */
TG_API tg_status tg_mnist_load_first(const char *images_path, const char *labels_path, int64_t n,
                                     tg_dataset *out);

/* tg_mnist_load on the standard file names in dir:
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte, with or without ".gz"
 * (the .gz name is tried first). */
TG_API tg_status tg_mnist_load_dir(const char *dir, bool train, tg_dataset *out);

/* tg_mnist_load_first on the files tg_mnist_load_dir picks. */
TG_API tg_status tg_mnist_load_dir_first(const char *dir, bool train, int64_t n, tg_dataset *out);

/* ------------------------------------------------------------------- CSV */

/* Options for tg_csv_read; zero-initialize ({0}) for the defaults. */
typedef struct tg_csv_opts {
    char delimiter;  /* field separator; 0 means ',' */
    int header;      /* 0: auto: the first line is a header when none of its
                        fields is a number, data when all are, and an error
                        when it has both (a line of numbers only, such as a
                        header "1,2,3", is data: say 1 for it);
                        1: the first line is a header, whatever it holds;
                        -1: no header, the first line is data */
    bool has_label;  /* one column holds integer class labels (>= 0) */
    int label_col;   /* its index; negative counts from the end (-1 = last) */
} tg_csv_opts;

/* Reads a table of numbers: one sample per line, fields separated by the
 * delimiter, surrounding blanks ignored, blank lines skipped, "\r\n" line
 * ends accepted, a UTF-8 byte-order mark at the start of the file
 * skipped. Every line must have the same number of fields and every data
 * field must be a finite number; a label field must be a non-negative
 * integer. A number is a field strtod reads whole in the "C" locale, of
 * any length: decimal with a '.' (never ','), hexadecimal ("0x10"),
 * "inf" and "nan" (numbers to the header rule, not finite, so refused as
 * data). The program's locale plays no part: numbers are read under a
 * "C" locale installed for the calling thread (newlocale and uselocale,
 * POSIX 2008) and the caller's is put back before returning. The
 * features become a [n, fields(-1)] data set.
 * Errors name the file, the line and the field, e.g.
 * "data.csv:7: field 3 is \"abc\", not a finite number", or for a first
 * line that is neither a header nor data (header 0)
 * "data.csv:1: field 3 is \"3x\", not a number, but field 1 is a number:
 * the first line is neither a header ... nor data ...".
 * Returns TG_OK, TG_ERR_IO, TG_ERR_FORMAT, TG_ERR_ARG (bad options),
 * TG_ERR_NOMEM or TG_ERR_NULL. */
TG_API tg_status tg_csv_read(const char *path, const tg_csv_opts *opts, tg_dataset *out);

/* --------------------------------------------------------- normalization */

/* x = (x - lo) / (hi - lo) for every feature: tg_dataset_scale(d, 0, 255)
 * maps pixels to [0, 1]. hi == lo is TG_ERR_ARG. */
TG_API tg_status tg_dataset_scale(tg_dataset *d, double lo, double hi);

/* The smallest and largest feature value (0, 0 for an empty data set);
 * tg_dataset_scale(d, lo, hi) with them maps the data onto [0, 1]. */
TG_API tg_status tg_dataset_range(const tg_dataset *d, double *lo, double *hi);

/* Mean and standard deviation (population, divided by n) of the features:
 * one value each over everything when !per_feature, else d->dim values
 * each (one per feature). mean and std must have room for them. Computed
 * in double. Compute them on the training set and apply them to both. */
TG_API tg_status tg_dataset_stats(const tg_dataset *d, bool per_feature, double *mean,
                                  double *std);

/* x = (x - mean) / std, with one (mean, std) or one per feature as in
 * tg_dataset_stats. A std of 0 (a constant feature) divides by 1. */
TG_API tg_status tg_dataset_standardize(tg_dataset *d, bool per_feature, const double *mean,
                                        const double *std);

/* -------------------------------------------------------------- batching */

/* Walks a data set in batches, in a seeded random order (shuffle) or in
 * order. The struct is the caller's; the fields are read-only. */
typedef struct tg_batcher {
    int64_t n;        /* samples per epoch (the data set's n at init) */
    int64_t batch;    /* batch size */
    int64_t pos;      /* the next position in order */
    int64_t epoch;    /* epochs started so far */
    int64_t *order;   /* [n] the sample indices of this epoch, owned */
    bool shuffle;
    tg_rng rng;
} tg_batcher;

/* Prepares batches of `batch` samples over d (only d->n is read, so d
 * need not outlive the batcher). With shuffle, each epoch draws a new
 * permutation (Fisher-Yates with tg_rng seeded by seed): the same seed
 * gives the same batches on every machine. Returns TG_OK, TG_ERR_ARG (batch < 1),
 * TG_ERR_NOMEM or TG_ERR_NULL. Free with tg_batcher_free. */
TG_API tg_status tg_batcher_init(tg_batcher *b, const tg_dataset *d, int64_t batch,
                                 bool shuffle, uint64_t seed);

/* The next batch of this epoch: points *idx at its sample indices (inside
 * b->order, valid until the next call) and returns how many there are
 * (batch, or fewer for the last one). Returns 0 once the epoch is done and
 * starts the next epoch (reshuffled), so `while ((k = next(...)) > 0)`
 * loops over exactly one epoch. */
TG_API int64_t tg_batcher_next(tg_batcher *b, const int64_t **idx);

/* Batches per epoch: ceil(n / batch). */
TG_API int64_t tg_batcher_count(const tg_batcher *b);

/* Frees the order array and zeroes b; NULL is allowed. */
TG_API void tg_batcher_free(tg_batcher *b);

/* A new leaf tensor on tape holding the features of samples idx[0..n) (idx
 * NULL: samples 0..n-1), of dtype dt (TG_F32 or TG_F64): [n, dim] when
 * flat, else [n, sample shape...]. NULL on error, recorded on the tape
 * (TG_ERR_ARG for an index out of range). The rows are copied on the
 * pool's threads (tg_set_num_threads), each taking at least
 * 16384 / dim + 1 of them (64 KiB of f32): an MLP's batch of 64 images of
 * 784 is cut in two on 2 threads (pieces of at least 21 rows). */
TG_API tg_tensor *tg_dataset_batch_x(tg_tape *tape, const tg_dataset *d, int64_t n,
                                     const int64_t *idx, tg_dtype dt, bool flat);

/* The labels of samples idx[0..n) as an i64 tensor [n] (idx NULL: 0..n-1).
 * NULL on error (no labels, an index out of range), recorded on the tape. */
TG_API tg_tensor *tg_dataset_batch_y(tg_tape *tape, const tg_dataset *d, int64_t n,
                                     const int64_t *idx);

#ifdef __cplusplus
}
#endif
#endif /* TG_DATA_H */
