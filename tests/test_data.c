/* test_data.c - the data readers (nn/idx.c, nn/csv.c, nn/dataset.c): IDX
 * and CSV round trips on tiny files, every corrupt case, atomic IDX
 * writes, normalization, batching, batch tensors, and the real
 * Fashion-MNIST headers and counts when the data set is installed.
 *
 * Usage: test_data <tests/data dir> [<fashion-mnist dir>]
 * The committed files in tests/data come from tests/data/make_data.py
 * (Python's struct and gzip: a second, independent writer). */
#include "tg_test.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *ddir = "tests/data";
static char tmpdir[256];

static const char *dpath(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", ddir, name);
    return buf[k];
}

static const char *tpath(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static bool has_zlib(void) {
#ifdef TG_HAVE_ZLIB
    return true;
#else
    return false;
#endif
}

/* ------------------------------------------------------------ IDX files */

static void check_tiny(const tg_dataset *d, const char *what) {
    static const float px[12] = {0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 255};
    CHECK(d->n == 3 && d->dim == 4 && d->rank == 2 && d->shape[0] == 2 && d->shape[1] == 2,
          "%s: n %lld dim %lld rank %d", what, (long long)d->n, (long long)d->dim, d->rank);
    CHECK(d->nclasses == 3, "%s: nclasses %lld", what, (long long)d->nclasses);
    int bad = 0;
    for (int i = 0; d->x && i < 12; i++) bad += d->x[i] != px[i];
    CHECK(d->x && bad == 0, "%s: %d pixels differ", what, bad);
    CHECK(d->y && d->y[0] == 2 && d->y[1] == 0 && d->y[2] == 1, "%s: labels", what);
}

static void test_idx_committed(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    tg_clear_error();
    tg_status s = tg_mnist_load(dpath("tiny-images-idx3-ubyte"), dpath("tiny-labels-idx1-ubyte"),
                                &d);
    CHECK(s == TG_OK && err[0] == 0, "plain mnist pair: %s", err);
    check_tiny(&d, "plain");
    tg_dataset_free(&d);
    tg_dataset_free(&d); /* twice is safe */

    if (has_zlib()) {
        s = tg_mnist_load(dpath("tiny-images-idx3-ubyte.gz"), dpath("tiny-labels-idx1-ubyte.gz"), &d);
        CHECK(s == TG_OK, "gz mnist pair: %s", err);
        check_tiny(&d, "gz");
        tg_dataset_free(&d);
    }

    /* Element types, converted to host order. */
    struct { const char *file; int type, rank; int64_t shape[2]; double v[4]; } cases[] = {
        {"i8.idx", TG_IDX_I8, 1, {4}, {-128, -1, 0, 127}},
        {"i16.idx", TG_IDX_I16, 2, {2, 2}, {-300, -1, 2, 32767}},
        {"i32.idx", TG_IDX_I32, 1, {3}, {-2147483648.0, 7, 2147483647.0}},
        {"f32.idx", TG_IDX_F32, 1, {2}, {1.5, -0.25}},
        {"f64.idx.gz", TG_IDX_F64, 2, {1, 3}, {3.141592653589793, -2.5e-300, 1e300}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (!has_zlib() && strstr(cases[c].file, ".gz")) continue;
        tg_idx m;
        s = tg_idx_read(dpath(cases[c].file), &m);
        CHECK(s == TG_OK, "%s: %s", cases[c].file, err);
        CHECK(m.type == cases[c].type && m.rank == cases[c].rank, "%s: type %d rank %d",
              cases[c].file, m.type, m.rank);
        int64_t n = 1;
        for (int i = 0; i < cases[c].rank; i++) {
            CHECK(m.shape[i] == cases[c].shape[i], "%s: shape", cases[c].file);
            n *= cases[c].shape[i];
        }
        CHECK(m.numel == n, "%s: numel %lld", cases[c].file, (long long)m.numel);
        for (int64_t i = 0; i < n && i < m.numel; i++)
            CHECK(tg_idx_get(&m, i) == cases[c].v[i], "%s[%lld] = %.17g, expected %.17g",
                  cases[c].file, (long long)i, tg_idx_get(&m, i), cases[c].v[i]);
        CHECK(isnan(tg_idx_get(&m, n)) && isnan(tg_idx_get(&m, -1)), "%s: out of range get", cases[c].file);
        tg_idx_free(&m);
    }
}

/* Every corrupt file: the status and a phrase of the sentence. */
static void test_idx_corrupt(void) {
    struct { const char *file; tg_status s; const char *needle; } cases[] = {
        {"does-not-exist.idx", TG_ERR_IO, "cannot open"},
        {"empty.idx", TG_ERR_FORMAT, "too short for an IDX header"},
        {"bad_magic.idx", TG_ERR_FORMAT, "not an IDX file"},
        {"bad_type.idx", TG_ERR_FORMAT, "unknown IDX element type 0x07"},
        {"bad_rank0.idx", TG_ERR_FORMAT, "rank 0 is not in 1..8"},
        {"bad_rank9.idx", TG_ERR_FORMAT, "rank 9 is not in 1..8"},
        {"short_header.idx", TG_ERR_FORMAT, "truncated header"},
        {"truncated_data.idx", TG_ERR_FORMAT, "promises 10 bytes of data, the file holds 5"},
        {"trailing.idx", TG_ERR_FORMAT, "2 trailing bytes"},
        {"absurd.idx", TG_ERR_FORMAT, "absurd IDX shape [4294967295,4294967295,4294967295]"},
        {"promise.idx", TG_ERR_FORMAT, "promises 4294967296 bytes of data, the file holds 3"},
        {"corrupt.gz", has_zlib() ? TG_ERR_FORMAT : TG_ERR_FORMAT, has_zlib() ? "gzip" : "without zlib"},
        {"truncated.gz", TG_ERR_FORMAT, has_zlib() ? "" : "without zlib"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *err = tg_last_error(); /* the thread's sentence buffer */
        tg_idx m;
        memset(&m, 0x5a, sizeof m);
        tg_clear_error(); /* the sentence must be this call's */
        tg_status s = tg_idx_read(dpath(cases[c].file), &m);
        CHECK(s == cases[c].s, "%s: status %s, expected %s (%s)", cases[c].file, tg_status_name(s),
              tg_status_name(cases[c].s), err);
        CHECK(strstr(err, cases[c].needle) && strstr(err, cases[c].file),
              "%s: error \"%s\" should name the file and say \"%s\"", cases[c].file, err,
              cases[c].needle);
        CHECK(m.data == NULL && m.numel == 0, "%s: output not cleared on failure", cases[c].file);
        tg_idx_free(&m);
    }
    /* A sentence longer than tg_last_error's 512 bytes is cut, and terminated. */
    char longpath[700];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    tg_idx m;
    CHECK(tg_idx_read(longpath, &m) == TG_ERR_IO && strlen(tg_last_error()) == 511 &&
              strncmp(tg_last_error(), longpath, 400) == 0,
          "a long sentence: %zu bytes", strlen(tg_last_error()));
    CHECK(tg_idx_read(NULL, &m) == TG_ERR_NULL, "NULL path");

    /* MNIST pairs that do not fit together. */
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    memset(&d, 0x5a, sizeof d);
    tg_status s = tg_mnist_load(dpath("tiny-images-idx3-ubyte"), dpath("labels4-idx1-ubyte"), &d);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "holds 3 images") && strstr(err, "holds 4 labels"),
          "count mismatch: %s (%s)", err, tg_status_name(s));
    CHECK(d.x == NULL && d.y == NULL && d.n == 0, "dataset not cleared on failure");
    s = tg_mnist_load(dpath("tiny-images-idx3-ubyte"), dpath("labels_i32-idx1"), &d);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "labels of unsigned bytes") && strstr(err, "int32"),
          "int32 labels: %s", err);
    s = tg_mnist_load(dpath("tiny-labels-idx1-ubyte"), dpath("tiny-labels-idx1-ubyte"), &d);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "rank >= 2"), "labels as images: %s", err);
    s = tg_mnist_load(dpath("tiny-images-idx3-ubyte"), dpath("nope"), &d);
    CHECK(s == TG_ERR_IO && strstr(err, "nope") && strstr(err, "cannot open"), "missing labels: %s", err);
    s = tg_mnist_load_dir(tmpdir, true, &d);
    CHECK(s == TG_ERR_IO && strstr(err, "train-images-idx3-ubyte"), "empty dir: %s", err);
#ifndef TG_HAVE_ZLIB
    s = tg_mnist_load(dpath("tiny-images-idx3-ubyte.gz"), dpath("tiny-labels-idx1-ubyte.gz"), &d);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "without zlib"), "gz without zlib: %s", err);
#endif
}

/* Files written by tg_idx_write read back the same, in every type,
 * plain and gzip'd; then the standard names in a directory. */
static void test_idx_roundtrip(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    double vals[24];
    for (int i = 0; i < 24; i++) vals[i] = (i * 37) % 251;
    const int types[] = {TG_IDX_U8, TG_IDX_I8, TG_IDX_I16, TG_IDX_I32, TG_IDX_F32, TG_IDX_F64};
    for (int gz = 0; gz <= (has_zlib() ? 1 : 0); gz++)
        for (int t = 0; t < 6; t++) {
            double v[24];
            for (int i = 0; i < 24; i++)
                v[i] = types[t] == TG_IDX_U8 ? vals[i]
                       : types[t] == TG_IDX_I8 ? vals[i] - 128
                       : types[t] >= TG_IDX_F32 ? (vals[i] - 100) / 8.0
                                                : (vals[i] - 125) * 97;
            char name[64];
            snprintf(name, sizeof name, "rt%d.idx%s", t, gz ? ".gz" : "");
            tg_status s = tg_idx_write(tpath(name), types[t], 3, (int64_t[]){2, 3, 4}, v);
            CHECK(s == TG_OK, "write %s: %s", name, err);
            tg_idx m;
            s = tg_idx_read(tpath(name), &m);
            CHECK(s == TG_OK && m.type == types[t] && m.rank == 3 && m.shape[0] == 2 &&
                      m.shape[1] == 3 && m.shape[2] == 4 && m.numel == 24,
                  "read %s: %s", name, err);
            int bad = 0;
            for (int i = 0; s == TG_OK && i < 24; i++) bad += tg_idx_get(&m, i) != v[i];
            CHECK(bad == 0, "%s: %d values differ", name, bad);
            tg_idx_free(&m);
        }
    /* The writer refuses values its type cannot hold, and bad shapes. */
    tg_status s = tg_idx_write(tpath("x.idx"), TG_IDX_U8, 1, (int64_t[]){2}, (double[]){1, 256});
    CHECK(s == TG_ERR_ARG && strstr(err, "does not fit"), "u8 256: %s", err);
    s = tg_idx_write(tpath("x.idx"), TG_IDX_I16, 1, (int64_t[]){1}, (double[]){0.5});
    CHECK(s == TG_ERR_ARG, "i16 0.5: %s", err);
    s = tg_idx_write(tpath("x.idx"), 0x42, 1, (int64_t[]){1}, (double[]){0});
    CHECK(s == TG_ERR_ARG && strstr(err, "unknown type"), "type 0x42: %s", err);
    s = tg_idx_write(tpath("x.idx"), TG_IDX_U8, 0, (int64_t[]){1}, (double[]){0});
    CHECK(s == TG_ERR_ARG && strstr(err, "rank 0"), "rank 0: %s", err);
    s = tg_idx_write("/nonexistent-dir/x.idx", TG_IDX_U8, 1, (int64_t[]){1}, (double[]){0});
    CHECK(s == TG_ERR_IO && strstr(err, "cannot create"), "bad dir: %s", err);

    /* An MNIST-style directory: train pair gzip'd (when zlib), test plain. */
    double px[5 * 3 * 4], lab[5] = {4, 0, 9, 1, 1}, tlab[2] = {3, 7};
    for (int i = 0; i < 60; i++) px[i] = (i * 13) % 256;
    const char *gz = has_zlib() ? ".gz" : "";
    char ip[64], lp[64];
    snprintf(ip, sizeof ip, "train-images-idx3-ubyte%s", gz);
    snprintf(lp, sizeof lp, "train-labels-idx1-ubyte%s", gz);
    s = tg_idx_write(tpath(ip), TG_IDX_U8, 3, (int64_t[]){5, 3, 4}, px);
    s = s ? s : tg_idx_write(tpath(lp), TG_IDX_U8, 1, (int64_t[]){5}, lab);
    s = s ? s : tg_idx_write(tpath("t10k-images-idx3-ubyte"), TG_IDX_U8, 3, (int64_t[]){2, 3, 4}, px);
    s = s ? s : tg_idx_write(tpath("t10k-labels-idx1-ubyte"), TG_IDX_U8, 1, (int64_t[]){2}, tlab);
    CHECK(s == TG_OK, "writing the mnist dir: %s", err);
    tg_dataset tr, te;
    s = tg_mnist_load_dir(tmpdir, true, &tr);
    CHECK(s == TG_OK && tr.n == 5 && tr.dim == 12 && tr.nclasses == 10 && tr.y[2] == 9,
          "train dir: %s", err);
    int bad = 0;
    for (int i = 0; s == TG_OK && i < 60; i++) bad += tr.x[i] != (float)px[i];
    CHECK(bad == 0, "train dir pixels: %d differ", bad);
    s = tg_mnist_load_dir(tmpdir, false, &te);
    CHECK(s == TG_OK && te.n == 2 && te.rank == 2 && te.shape[0] == 3 && te.shape[1] == 4 &&
              te.nclasses == 8 && te.y[1] == 7,
          "test dir: %s", err);
    tg_dataset_free(&tr);
    tg_dataset_free(&te);
}

/* The first n items only (tg_idx_read_first, tg_mnist_load_first and
 * _dir_first): what the whole read gives, cut to n along axis 0; the rest
 * of the file is never read, so what follows (trailing bytes, a payload
 * cut short after them) does not matter, and what the n items need does. */
static void test_idx_first(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_idx m;
    tg_status s = tg_idx_read_first(dpath("i16.idx"), 1, &m);
    CHECK(s == TG_OK && m.rank == 2 && m.shape[0] == 1 && m.shape[1] == 2 && m.numel == 2 &&
              tg_idx_get(&m, 0) == -300 && tg_idx_get(&m, 1) == -1 && isnan(tg_idx_get(&m, 2)),
          "i16 first 1: %s", err);
    tg_idx_free(&m);
    s = tg_idx_read_first(dpath("i16.idx"), 7, &m); /* more than the file holds: all */
    CHECK(s == TG_OK && m.shape[0] == 2 && m.numel == 4 && tg_idx_get(&m, 3) == 32767,
          "i16 first 7: %s", err);
    tg_idx_free(&m);
    if (has_zlib()) {
        s = tg_idx_read_first(dpath("f64.idx.gz"), 1, &m);
        CHECK(s == TG_OK && m.shape[0] == 1 && m.shape[1] == 3 &&
                  tg_idx_get(&m, 2) == 1e300, "f64.gz first 1: %s", err);
        tg_idx_free(&m);
    }
    /* 5 of the 10 bytes truncated_data.idx promises are there: the first 5
     * read, the first 6 are truncated (the payload they need is cut) */
    s = tg_idx_read_first(dpath("truncated_data.idx"), 5, &m);
    CHECK(s == TG_OK && m.numel == 5 && tg_idx_get(&m, 4) == 5, "truncated, first 5: %s", err);
    tg_idx_free(&m);
    s = tg_idx_read_first(dpath("truncated_data.idx"), 6, &m);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "promises 6 bytes of data, the file holds 5") &&
              m.data == NULL, "truncated, first 6: %s", err);
    s = tg_idx_read_first(dpath("trailing.idx"), 2, &m); /* what follows is not read */
    CHECK(s == TG_OK && m.numel == 2 && tg_idx_get(&m, 1) == 2, "trailing, first 2: %s", err);
    tg_idx_free(&m);
    s = tg_idx_read_first(dpath("trailing.idx"), 3, &m); /* all three: then the file is whole */
    CHECK(s == TG_ERR_FORMAT && strstr(err, "2 trailing bytes"), "trailing, first 3: %s", err);
    /* a prefix larger than the reader's first buffer (1 MiB), from a file
     * that holds more than the grown buffer (2 MiB): the buffer grows past
     * the prefix, the read must not (it once looped for ever there) */
    static double big[2100 * 1024];
    for (int i = 0; i < 2100 * 1024; i++) big[i] = (i * 7 + i / 1024) % 256;
    for (int gz = 0; gz <= (has_zlib() ? 1 : 0); gz++) {
        const char *name = gz ? "big.idx.gz" : "big.idx";
        s = tg_idx_write(tpath(name), TG_IDX_U8, 2, (int64_t[]){2100, 1024}, big);
        s = s ? s : tg_idx_read_first(tpath(name), 1050, &m);
        int bad = 0;
        for (int64_t i = 0; s == TG_OK && i < m.numel; i++) bad += tg_idx_get(&m, i) != big[i];
        CHECK(s == TG_OK && m.shape[0] == 1050 && m.numel == 1050 * 1024 && bad == 0,
              "%s, first 1050 of 2100 rows: %s, %d differ", name, err, bad);
        tg_idx_free(&m);
        remove(tpath(name));
    }
    /* the size limit bounds the items read: one row of promise.idx's
     * 65536 x 65536 is read (and is truncated), absurd.idx's overflows */
    s = tg_idx_read_first(dpath("promise.idx"), 1, &m);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "promises 65536 bytes of data, the file holds 3"),
          "promise, first 1: %s", err);
    s = tg_idx_read_first(dpath("absurd.idx"), 1, &m);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "absurd IDX shape"), "absurd, first 1: %s", err);
    /* the header is checked as a whole read checks it */
    s = tg_idx_read_first(dpath("bad_magic.idx"), 1, &m);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "not an IDX file"), "bad magic, first 1: %s", err);
    for (int64_t n = 0; n >= -1; n--) {
        memset(&m, 0x5a, sizeof m);
        s = tg_idx_read_first(dpath("i16.idx"), n, &m);
        CHECK(s == TG_ERR_ARG && strstr(err, "at least 1") && m.data == NULL && m.numel == 0,
              "first %lld: %s (%s)", (long long)n, tg_status_name(s), err);
    }
    CHECK(tg_idx_read_first(NULL, 1, &m) == TG_ERR_NULL, "first: NULL path");

    /* MNIST pairs: the first 2 of the 3 tiny samples, plain and gzip'd */
    for (int gz = 0; gz <= (has_zlib() ? 1 : 0); gz++) {
        tg_dataset d;
        s = tg_mnist_load_first(dpath(gz ? "tiny-images-idx3-ubyte.gz" : "tiny-images-idx3-ubyte"),
                                dpath(gz ? "tiny-labels-idx1-ubyte.gz" : "tiny-labels-idx1-ubyte"),
                                2, &d);
        CHECK(s == TG_OK && d.n == 2 && d.dim == 4 && d.shape[0] == 2 && d.y[0] == 2 &&
                  d.y[1] == 0 && d.nclasses == 3 && d.x[7] == 140,
              "tiny first 2 (%s): %s", gz ? "gz" : "plain", err);
        tg_dataset_free(&d);
        s = tg_mnist_load_first(dpath(gz ? "tiny-images-idx3-ubyte.gz" : "tiny-images-idx3-ubyte"),
                                dpath(gz ? "tiny-labels-idx1-ubyte.gz" : "tiny-labels-idx1-ubyte"),
                                9, &d);
        CHECK(s == TG_OK, "tiny first 9: %s", err);
        if (s == TG_OK) check_tiny(&d, "tiny first 9");
        tg_dataset_free(&d);
    }
    /* the headers' counts must agree even where the n read would */
    tg_dataset d;
    memset(&d, 0x5a, sizeof d);
    s = tg_mnist_load_first(dpath("tiny-images-idx3-ubyte"), dpath("labels4-idx1-ubyte"), 2, &d);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "holds 3 images") && strstr(err, "holds 4 labels") &&
              d.x == NULL && d.n == 0, "first 2, counts 3 and 4: %s", err);
    s = tg_mnist_load_first(dpath("tiny-images-idx3-ubyte"), dpath("tiny-labels-idx1-ubyte"), 0,
                            &d);
    CHECK(s == TG_ERR_ARG && strstr(err, "mnist_load_first: n = 0") && d.x == NULL,
          "mnist first 0: %s", err);
    s = tg_mnist_load_dir_first(tmpdir, true, 0, &d);
    CHECK(s == TG_ERR_ARG && d.x == NULL, "dir first 0: %s", err);
    CHECK(tg_mnist_load_dir_first(NULL, true, 1, &d) == TG_ERR_NULL, "dir first: NULL dir");
}

/* The temporary files the atomic writer left in tmpdir ("<name>.tmp<pid>.<n>"). */
static int temporaries(void) {
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) n++, fprintf(stderr, "left behind: %s\n", e->d_name);
    if (d) closedir(d);
    return n;
}

/* tg_idx_write is atomic (nn/io_util.c): a write that fails half way (the
 * file size limit makes write() fail with EFBIG after 1024 bytes) leaves
 * the old file as it was and no temporary file; a missing directory
 * leaves nothing; good writes leave no temporary file. A plain
 * fopen/fwrite writer fails the first check: it truncates the old file. */
static void test_idx_atomic(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    double v[4096];
    for (int i = 0; i < 4096; i++) v[i] = (double)((uint32_t)(i * 2654435761u) >> 24); /* no gzip gain */
    for (int gz = 0; gz <= (has_zlib() ? 1 : 0); gz++) {
        const char *name = gz ? "atomic.idx.gz" : "atomic.idx";
        tg_status s = tg_idx_write(tpath(name), TG_IDX_U8, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4});
        CHECK(s == TG_OK, "%s: the first write: %s", name, err);
        struct rlimit old, lim;
        CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0, "getrlimit");
        lim = old;
        lim.rlim_cur = 1024;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        bool limited = setrlimit(RLIMIT_FSIZE, &lim) == 0;
        CHECK(limited, "setrlimit(RLIMIT_FSIZE)");
        s = tg_idx_write(tpath(name), TG_IDX_U8, 1, (int64_t[]){4096}, v);
        if (limited) setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
        CHECK(s == TG_ERR_IO && strstr(err, name) && strstr(err, "cannot write"),
              "%s: a write past the size limit: %s (%s)", name, err, tg_status_name(s));
        tg_idx m;
        s = tg_idx_read(tpath(name), &m);
        CHECK(s == TG_OK && m.numel == 4 && tg_idx_get(&m, 0) == 1 && tg_idx_get(&m, 3) == 4,
              "%s: the old file must be intact after a failed write: %s", name, err);
        tg_idx_free(&m);
        /* and a good write replaces it */
        s = tg_idx_write(tpath(name), TG_IDX_U8, 1, (int64_t[]){4096}, v);
        s = s ? s : tg_idx_read(tpath(name), &m);
        CHECK(s == TG_OK && m.numel == 4096 && tg_idx_get(&m, 4095) == v[4095],
              "%s: the second write: %s", name, err);
        tg_idx_free(&m);
    }
    tg_status s = tg_idx_write(tpath("nodir/x.idx"), TG_IDX_U8, 1, (int64_t[]){1}, (double[]){0});
    CHECK(s == TG_ERR_IO && strstr(err, "nodir/x.idx") && strstr(err, "cannot create"),
          "a missing directory: %s", err);
    CHECK(access(tpath("nodir"), F_OK) != 0, "a failed write made the directory");
    CHECK(temporaries() == 0, "temporary files left behind by tg_idx_write");
}

/* ------------------------------------------------------------------ CSV */

static void test_csv(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    tg_csv_opts lab = {.has_label = true, .label_col = -1};
    /* Header auto-detected, a blank line, blanks around a field, hex. */
    const char *tables[] = {"table.csv", "table.csv.gz"};
    for (int k = 0; k < (has_zlib() ? 2 : 1); k++) {
        tg_clear_error();
        tg_status s = tg_csv_read(dpath(tables[k]), &lab, &d);
        CHECK(s == TG_OK && err[0] == 0, "%s: %s", tables[k], err);
        const float want[6] = {1.5f, -2, 300, 4, 0.25f, 16};
        CHECK(d.n == 3 && d.dim == 2 && d.rank == 1 && d.shape[0] == 2 && d.nclasses == 3,
              "%s: n %lld dim %lld nclasses %lld", tables[k], (long long)d.n, (long long)d.dim,
              (long long)d.nclasses);
        int bad = 0;
        for (int i = 0; d.x && i < 6; i++) bad += d.x[i] != want[i];
        CHECK(d.x && bad == 0, "%s: %d values differ", tables[k], bad);
        CHECK(d.y && d.y[0] == 0 && d.y[1] == 2 && d.y[2] == 1, "%s: labels", tables[k]);
        tg_dataset_free(&d);
    }
    /* No header, no labels. */
    tg_status s = tg_csv_read(dpath("noheader.csv"), NULL, &d);
    CHECK(s == TG_OK && d.n == 2 && d.dim == 3 && d.y == NULL && d.nclasses == 0 && d.x[5] == 6,
          "noheader: %s", err);
    tg_dataset_free(&d);
    /* header = 1 skips a numeric first line. */
    s = tg_csv_read(dpath("noheader.csv"), &(tg_csv_opts){.header = 1}, &d);
    CHECK(s == TG_OK && d.n == 1 && d.x[0] == 4, "forced header: %s", err);
    tg_dataset_free(&d);
    /* header = -1 makes a header line an error that names it. */
    s = tg_csv_read(dpath("table.csv"), &(tg_csv_opts){.header = -1}, &d);
    CHECK(s == TG_ERR_FORMAT && strstr(err, "table.csv:1: field 1 is \"x1\", not a finite number"),
          "no header: %s", err);
    /* ';' delimiter, CRLF, a blank line with blanks. */
    s = tg_csv_read(dpath("crlf.csv"), &(tg_csv_opts){.delimiter = ';'}, &d);
    CHECK(s == TG_OK && d.n == 2 && d.dim == 2 && d.x[0] == 1 && d.x[3] == 4, "crlf: %s", err);
    tg_dataset_free(&d);
    /* Label in column 0. */
    s = tg_csv_read(dpath("labelfirst.csv"), &(tg_csv_opts){.has_label = true, .label_col = 0}, &d);
    CHECK(s == TG_OK && d.n == 2 && d.dim == 2 && d.y[0] == 1 && d.y[1] == 0 && d.x[0] == 0.5f &&
              d.x[3] == 2 && d.nclasses == 2,
          "label first: %s", err);
    tg_dataset_free(&d);

    /* Every bad table: the status and the sentence (file:line: field). */
    struct { const char *file; bool label; tg_status s; const char *needle; } bad[] = {
        {"missing.csv", false, TG_ERR_IO, "missing.csv: cannot open"},
        {"bad_field.csv", false, TG_ERR_FORMAT, "bad_field.csv:4: field 2 is \"abc\", not a finite number"},
        {"empty_field.csv", false, TG_ERR_FORMAT, "empty_field.csv:2: field 2 is empty"},
        {"bad_count.csv", false, TG_ERR_FORMAT, "bad_count.csv:2: 2 fields, but the first line has 3"},
        {"bad_label.csv", true, TG_ERR_FORMAT, "bad_label.csv:2: field 3 (the label) is \"2.5\", not a non-negative integer"},
        {"neg_label.csv", true, TG_ERR_FORMAT, "neg_label.csv:2: field 3 (the label) is \"-1\""},
        {"nan.csv", false, TG_ERR_FORMAT, "nan.csv:2: field 1 is \"nan\", not a finite number"},
        {"inf.csv", false, TG_ERR_FORMAT, "inf.csv:2: field 2 is \"inf\""},
        {"empty.csv", false, TG_ERR_FORMAT, "empty.csv: no data lines"},
        {"header_only.csv", false, TG_ERR_FORMAT, "header_only.csv: no data lines"},
        {"tiny-images-idx3-ubyte", false, TG_ERR_FORMAT, "NUL byte"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        memset(&d, 0x5a, sizeof d);
        s = tg_csv_read(dpath(bad[c].file), bad[c].label ? &lab : NULL, &d);
        CHECK(s == bad[c].s && strstr(err, bad[c].needle), "%s: %s (%s), expected \"%s\"", bad[c].file,
              err, tg_status_name(s), bad[c].needle);
        CHECK(d.x == NULL && d.y == NULL && d.n == 0, "%s: dataset not cleared", bad[c].file);
    }
    /* Bad options. */
    s = tg_csv_read(dpath("noheader.csv"), &(tg_csv_opts){.has_label = true, .label_col = 3}, &d);
    CHECK(s == TG_ERR_ARG && strstr(err, "label column 3"), "label col 3: %s", err);
    s = tg_csv_read(dpath("noheader.csv"), &(tg_csv_opts){.has_label = true, .label_col = -4}, &d);
    CHECK(s == TG_ERR_ARG, "label col -4: %s", err);
    s = tg_csv_read(dpath("noheader.csv"), &(tg_csv_opts){.delimiter = '.'}, &d);
    CHECK(s == TG_ERR_ARG && strstr(err, "delimiter"), "delimiter '.': %s", err);
    s = tg_csv_read(dpath("noheader.csv"), &(tg_csv_opts){.header = 2}, &d);
    CHECK(s == TG_ERR_ARG, "header 2: %s", err);
    CHECK(tg_csv_read(NULL, NULL, &d) == TG_ERR_NULL, "NULL path");
}

/* -------------------------------------------------------- normalization */

static void test_normalize(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    tg_status s = tg_dataset_alloc(&d, 4, 1, (int64_t[]){3}, false);
    CHECK(s == TG_OK && d.n == 4 && d.dim == 3 && d.y == NULL, "alloc: %s", err);
    /* feature 0: 0, 51, 102, 255; feature 1: 1, 2, 3, 4; feature 2: constant 7 */
    const float x[12] = {0, 1, 7, 51, 2, 7, 102, 3, 7, 255, 4, 7};
    memcpy(d.x, x, sizeof x);
    double lo, hi;
    CHECK(tg_dataset_range(&d, &lo, &hi) == TG_OK && lo == 0 && hi == 255, "range %g %g", lo, hi);
    double mean[3], sd[3];
    CHECK(tg_dataset_stats(&d, true, mean, sd) == TG_OK, "stats");
    CHECK_NEAR(mean[0], 102, 1e-12);
    CHECK_NEAR(mean[1], 2.5, 1e-12);
    CHECK_NEAR(mean[2], 7, 1e-12);
    CHECK_NEAR(sd[0], sqrt((102.0 * 102 + 51 * 51 + 0 + 153.0 * 153) / 4), 1e-12);
    CHECK_NEAR(sd[1], sqrt(1.25), 1e-12);
    CHECK(sd[2] == 0, "constant feature std %g", sd[2]);
    double gm, gs;
    CHECK(tg_dataset_stats(&d, false, &gm, &gs) == TG_OK, "global stats");
    double sum = 0, sq = 0;
    for (int i = 0; i < 12; i++) sum += x[i];
    for (int i = 0; i < 12; i++) sq += (x[i] - sum / 12) * (x[i] - sum / 12);
    CHECK_NEAR(gm, sum / 12, 1e-12);
    CHECK_NEAR(gs, sqrt(sq / 12), 1e-12);

    CHECK(tg_dataset_standardize(&d, true, mean, sd) == TG_OK, "standardize");
    double m2[3], s2[3];
    tg_dataset_stats(&d, true, m2, s2);
    CHECK(fabs(m2[0]) < 1e-6 && fabs(m2[1]) < 1e-6 && fabs(s2[0] - 1) < 1e-6 && fabs(s2[1] - 1) < 1e-6,
          "after standardize: means %g %g, stds %g %g", m2[0], m2[1], s2[0], s2[1]);
    CHECK(d.x[2] == 0 && d.x[11] == 0, "a constant feature becomes 0 (std 0 divides by 1)");

    memcpy(d.x, x, sizeof x);
    CHECK(tg_dataset_scale(&d, 0, 255) == TG_OK, "scale");
    CHECK(d.x[0] == 0 && d.x[9] == 1 && fabsf(d.x[3] - 0.2f) < 1e-7f, "scaled %g %g %g", d.x[0], d.x[9],
          d.x[3]);
    CHECK(tg_dataset_scale(&d, 3, 3) == TG_ERR_ARG, "scale with hi == lo");
    CHECK(tg_dataset_scale(NULL, 0, 1) == TG_ERR_NULL, "scale NULL");
    tg_dataset_free(&d);
    CHECK(d.x == NULL && d.n == 0, "free zeroes");

    s = tg_dataset_alloc(&d, -1, 1, (int64_t[]){3}, false);
    CHECK(s == TG_ERR_ARG, "alloc n = -1: %s", err);
    s = tg_dataset_alloc(&d, 1, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, false);
    CHECK(s == TG_ERR_ARG, "alloc rank 8: %s", err);
    s = tg_dataset_alloc(&d, INT64_MAX / 2, 1, (int64_t[]){4}, true);
    CHECK(s == TG_ERR_OVERFLOW, "alloc overflow: %s (%s)", err, tg_status_name(s));
}

/* -------------------------------------------------------------- batches */

static void test_batches(void) {
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    tg_dataset d;
    tg_dataset_alloc(&d, 10, 2, (int64_t[]){1, 2}, true);
    for (int i = 0; i < 10; i++) d.x[2 * i] = (float)i, d.x[2 * i + 1] = (float)(-i), d.y[i] = i % 3;
    d.nclasses = 3;

    tg_batcher b;
    tg_status s = tg_batcher_init(&b, &d, 4, false, 0);
    CHECK(s == TG_OK && tg_batcher_count(&b) == 3, "init: %s", err);
    const int64_t *idx;
    int64_t sizes[4], first[4];
    for (int e = 0; e < 2; e++) {
        for (int k = 0; k < 4; k++) {
            sizes[k] = tg_batcher_next(&b, &idx);
            first[k] = idx ? idx[0] : -1;
        }
        CHECK(sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2 && sizes[3] == 0,
              "epoch %d sizes %lld %lld %lld %lld", e, (long long)sizes[0], (long long)sizes[1],
              (long long)sizes[2], (long long)sizes[3]);
        CHECK(first[0] == 0 && first[1] == 4 && first[2] == 8 && first[3] == -1, "in order");
    }
    tg_batcher_free(&b);

    /* Shuffled: each epoch a permutation; same seed, same batches. */
    tg_batcher b1, b2, b3;
    tg_batcher_init(&b1, &d, 3, true, 42);
    tg_batcher_init(&b2, &d, 3, true, 42);
    tg_batcher_init(&b3, &d, 3, true, 43);
    int64_t ep[2][10];
    bool differs_seed = false;
    for (int e = 0; e < 2; e++) {
        int seen[10] = {0}, got = 0;
        int64_t n;
        const int64_t *i1, *i2, *i3;
        while ((n = tg_batcher_next(&b1, &i1)) > 0) {
            int64_t n2 = tg_batcher_next(&b2, &i2), n3 = tg_batcher_next(&b3, &i3);
            CHECK(n2 == n && n3 == n, "batch sizes differ");
            for (int64_t k = 0; k < n; k++) {
                CHECK(i1[k] == i2[k], "same seed, different order");
                differs_seed |= i1[k] != i3[k];
                if (i1[k] >= 0 && i1[k] < 10) seen[i1[k]]++;
                ep[e][got++] = i1[k];
            }
        }
        tg_batcher_next(&b2, &idx);
        tg_batcher_next(&b3, &idx);
        int once = 0;
        for (int k = 0; k < 10; k++) once += seen[k] == 1;
        CHECK(got == 10 && once == 10, "epoch %d is not a permutation", e);
    }
    CHECK(differs_seed, "seeds 42 and 43 gave the same order");
    CHECK(memcmp(ep[0], ep[1], sizeof ep[0]) != 0, "two epochs in the same order");
    bool identity = true;
    for (int k = 0; k < 10; k++) identity &= ep[0][k] == k;
    CHECK(!identity, "shuffled epoch in order");
    CHECK(b1.epoch == 3, "epoch counter %lld", (long long)b1.epoch);
    tg_batcher_free(&b1);
    tg_batcher_free(&b2);
    tg_batcher_free(&b3);
    s = tg_batcher_init(&b, &d, 0, true, 1);
    CHECK(s == TG_ERR_ARG && strstr(err, "batch size 0"), "batch 0: %s", err);
    tg_batcher_free(&b);
    CHECK(tg_batcher_next(&b, &idx) == 0 && idx == NULL, "next on a freed batcher");

    /* Batch tensors. */
    tg_tape *tape = tg_tape_new();
    const int64_t pick[3] = {7, 2, 9};
    tg_tensor *x = tg_dataset_batch_x(tape, &d, 3, pick, TG_F32, false);
    tg_tensor *xf = tg_dataset_batch_x(tape, &d, 3, pick, TG_F64, true);
    tg_tensor *y = tg_dataset_batch_y(tape, &d, 3, pick);
    tg_tensor *all = tg_dataset_batch_x(tape, &d, 10, NULL, TG_F32, true);
    CHECK_OK(tape);
    CHECK(x && tg_tensor_rank(x) == 3 && tg_tensor_dim(x, 0) == 3 && tg_tensor_dim(x, 1) == 1 &&
              tg_tensor_dim(x, 2) == 2 && tg_tensor_dtype(x) == TG_F32,
          "batch_x shape");
    CHECK(xf && tg_tensor_rank(xf) == 2 && tg_tensor_dim(xf, 1) == 2 && tg_tensor_dtype(xf) == TG_F64,
          "batch_x flat f64 shape");
    CHECK(tg_tensor_get(x, 0) == 7 && tg_tensor_get(x, 1) == -7 && tg_tensor_get(x, 2) == 2 &&
              tg_tensor_get(x, 5) == -9,
          "batch_x values");
    CHECK(tg_tensor_get(xf, 4) == 9 && tg_tensor_get(xf, 3) == -2, "batch_x f64 values");
    CHECK(y && tg_tensor_dtype(y) == TG_I64 && tg_tensor_numel(y) == 3 && tg_tensor_i64(y)[0] == 1 &&
              tg_tensor_i64(y)[1] == 2 && tg_tensor_i64(y)[2] == 0,
          "batch_y");
    CHECK(all && tg_tensor_dim(all, 0) == 10 && tg_tensor_get(all, 19) == -9, "batch_x idx NULL");
    tg_tensor *e = tg_dataset_batch_x(tape, &d, 2, (int64_t[]){1, 10}, TG_F32, true);
    CHECK_ERR(e, tape, TG_ERR_ARG, "dataset_batch_x: sample index 10 (position 1) is out of range for 10 samples");
    tg_tape_reset(tape);
    e = tg_dataset_batch_y(tape, &d, 11, NULL);
    CHECK_ERR(e, tape, TG_ERR_ARG, "dataset_batch_y: 11 samples requested from a data set of 10");
    tg_tape_reset(tape);
    e = tg_dataset_batch_x(tape, &d, 1, NULL, TG_I64, true);
    CHECK_ERR(e, tape, TG_ERR_DTYPE, "dataset_batch_x: dtype");
    tg_tape_reset(tape);
    tg_free(d.y);
    d.y = NULL;
    e = tg_dataset_batch_y(tape, &d, 1, NULL);
    CHECK_ERR(e, tape, TG_ERR_ARG, "dataset_batch_y: the data set has no labels");
    tg_tape_reset(tape);
    e = tg_dataset_batch_x(tape, NULL, 1, NULL, TG_F32, true);
    CHECK_ERR(e, tape, TG_ERR_NULL, "dataset_batch_x: NULL data set");
    tg_tape_free(tape);
    tg_dataset_free(&d);
}

/* -------------------------------------------- the real Fashion-MNIST */

static void test_real(const char *dir) {
    char p[1024];
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    FILE *f = fopen(p, "rb");
    if (!f) {
        printf("data: %s not found, skipping the real-data checks\n", dir);
        return;
    }
    fclose(f);
    if (!has_zlib()) {
        printf("data: built without zlib, skipping the real (gzip'd) data\n");
        return;
    }
    const char *err = tg_last_error(); /* the thread's sentence buffer */
    /* Headers: the labels file alone. */
    tg_idx m;
    tg_status s = tg_idx_read(p, &m);
    CHECK(s == TG_OK && m.type == TG_IDX_U8 && m.rank == 1 && m.shape[0] == 10000, "t10k labels: %s", err);
    tg_idx_free(&m);
    bool quick = getenv("TG_TEST_QUICK") != NULL;
    for (int train = quick ? 0 : 1; train >= 0; train--) {
        tg_dataset d;
        s = tg_mnist_load_dir(dir, train, &d);
        int64_t n = train ? 60000 : 10000;
        CHECK(s == TG_OK && d.n == n && d.rank == 2 && d.shape[0] == 28 && d.shape[1] == 28 &&
                  d.dim == 784 && d.nclasses == 10,
              "%s set: %s n %lld", train ? "train" : "test", err, (long long)d.n);
        if (s != TG_OK) continue;
        int64_t count[10] = {0};
        for (int64_t i = 0; i < d.n; i++)
            if (d.y[i] >= 0 && d.y[i] < 10) count[d.y[i]]++;
        int balanced = 0;
        for (int c = 0; c < 10; c++) balanced += count[c] == n / 10;
        CHECK(balanced == 10, "each class should hold %lld samples", (long long)(n / 10));
        double lo, hi;
        tg_dataset_range(&d, &lo, &hi);
        CHECK(lo == 0 && hi == 255, "pixel range %g..%g", lo, hi);
        /* the first 500 alone: the same samples, the same bits */
        tg_dataset head;
        s = tg_mnist_load_dir_first(dir, train, 500, &head);
        CHECK(s == TG_OK && head.n == 500 && head.dim == 784 && head.rank == 2 &&
                  head.nclasses == 10 &&
                  memcmp(head.x, d.x, 500 * 784 * sizeof *head.x) == 0 &&
                  memcmp(head.y, d.y, 500 * sizeof *head.y) == 0,
              "%s set, first 500: %s", train ? "train" : "test", err);
        tg_dataset_free(&head);
        tg_dataset_free(&d);
    }
}

int main(int argc, char **argv) {
    if (argc > 1) ddir = argv[1];
    const char *real = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tg_test_data_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_idx_committed();
    test_idx_corrupt();
    test_idx_roundtrip();
    test_idx_first();
    test_idx_atomic();
    test_csv();
    test_normalize();
    test_batches();
    test_real(real);
    /* Remove what the round trips wrote. */
    const char *names[] = {"rt0.idx", "rt1.idx", "rt2.idx", "rt3.idx", "rt4.idx", "rt5.idx",
                           "rt0.idx.gz", "rt1.idx.gz", "rt2.idx.gz", "rt3.idx.gz", "rt4.idx.gz",
                           "rt5.idx.gz", "x.idx", "train-images-idx3-ubyte.gz",
                           "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte",
                           "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte", "atomic.idx", "atomic.idx.gz"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) remove(tpath(names[i]));
    CHECK(rmdir(tmpdir) == 0, "%s holds files nobody wrote", tmpdir);
    return TEST_DONE("data");
}
