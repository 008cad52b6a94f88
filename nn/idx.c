/* idx.c - IDX files (the MNIST format, tg_data.h): reading, plain or
 * gzip'd, writing (atomically, through tg__io_write_atomic), and the
 * MNIST-style image and label pairs.
 *
 * Files are untrusted: every size from a header is checked for overflow
 * and against TG_DATA_MAX_BYTES, and the payload is read into a buffer
 * that grows only as bytes actually arrive, so a tiny corrupt file that
 * promises gigabytes costs nothing.
 */
#include "io_util.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* Reads exactly `want` bytes into a new buffer that grows as bytes
 * arrive (so a header's false promise allocates little). Then, if `whole`
 * (the bytes are all the file should hold), checks that nothing follows. */
static tg_status rd_exact(tg__io_rd *r, int64_t want, bool whole, unsigned char **out,
                          const char *what, char *err, size_t errlen) {
    *out = NULL;
    size_t cap = (size_t)(want < (1 << 20) ? want : (1 << 20));
    unsigned char *buf = tg_malloc(cap);
    if (!buf) return tg__io_fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", r->path);
    size_t used = 0;
    for (;;) {
        /* never past `want`: the buffer may have grown beyond it, and the
         * file may hold more (a prefix read: tg_idx_read_first) */
        size_t lim = cap < (size_t)want ? cap : (size_t)want;
        int64_t k = tg__io_read(r, buf + used, lim - used, err, errlen);
        if (k < 0) {
            tg_free(buf);
            return r->st;
        }
        used += (size_t)k;
        if (used < lim) break; /* end of file */
        if ((int64_t)used == want) break;
        void *p = buf;
        size_t ncap = cap * 2 > (size_t)want ? (size_t)want : cap * 2;
        if (!tg__io_grow(&p, &cap, used, ncap, 1)) {
            tg_free(buf);
            return tg__io_fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory for %lld bytes",
                               r->path, (long long)want);
        }
        buf = p;
    }
    if ((int64_t)used < want) {
        tg_free(buf);
        return tg__io_fail(
            err, errlen, TG_ERR_FORMAT,
            "%s: truncated: the header promises %lld bytes of %s, the file holds %lld", r->path,
            (long long)want, what, (long long)used);
    }
    if (!whole) {
        *out = buf;
        return TG_OK;
    }
    unsigned char extra[64];
    int64_t k = tg__io_read(r, extra, sizeof extra, err, errlen);
    if (k != 0) {
        tg_free(buf);
        if (k < 0) return r->st;
        return tg__io_fail(
            err, errlen, TG_ERR_FORMAT,
            "%s: %s%lld trailing bytes after the %lld bytes of %s the header promises "
            "(a count that does not match the data?)",
            r->path, k == (int64_t)sizeof extra ? "at least " : "", (long long)k, (long long)want,
            what);
    }
    *out = buf;
    return TG_OK;
}

/* ------------------------------------------------------------------- IDX */

static int idx_esize(int type) {
    switch (type) {
    case TG_IDX_U8: case TG_IDX_I8: return 1;
    case TG_IDX_I16: return 2;
    case TG_IDX_I32: case TG_IDX_F32: return 4;
    case TG_IDX_F64: return 8;
    default: return 0;
    }
}

static const char *idx_type_name(int type) {
    switch (type) {
    case TG_IDX_U8: return "unsigned byte";
    case TG_IDX_I8: return "signed byte";
    case TG_IDX_I16: return "int16";
    case TG_IDX_I32: return "int32";
    case TG_IDX_F32: return "float32";
    case TG_IDX_F64: return "float64";
    default: return "unknown";
    }
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* tg__idx_read_e, and *hdr_n0: the size of axis 0 that the header gives
 * (out->shape[0] is at most `first` of them). */
static tg_status idx_read_count(const char *path, int64_t first, tg_idx *out, int64_t *hdr_n0,
                                char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out)
        return tg__io_fail(err, errlen, TG_ERR_NULL, "idx_read: NULL path or output");
    if (first < 1)
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "idx_read_first: n = %lld: it must be at least 1", (long long)first);
    tg__io_rd r;
    tg_status s = tg__io_open(&r, path, err, errlen);
    if (s != TG_OK) return s;
    unsigned char h[4 + 4 * TG_MAX_RANK];
    int64_t k = tg__io_read(&r, h, 4, err, errlen);
    if (k < 0) goto failed;
    if (k < 4) {
        s = tg__io_fail(err, errlen, TG_ERR_FORMAT,
                        "%s: truncated: %lld bytes, too short for an IDX header", path,
                        (long long)k);
        goto done;
    }
    if (h[0] != 0 || h[1] != 0) {
        s = tg__io_fail(
            err, errlen, TG_ERR_FORMAT,
            "%s: not an IDX file: the magic number 0x%02x%02x%02x%02x does not start with "
            "two zero bytes",
            path, h[0], h[1], h[2], h[3]);
        goto done;
    }
    int type = h[2], rank = h[3], esize = idx_esize(type);
    if (!esize) {
        s = tg__io_fail(
            err, errlen, TG_ERR_FORMAT,
            "%s: unknown IDX element type 0x%02x (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or "
            "0x0E)",
            path, type);
        goto done;
    }
    if (rank < 1 || rank > TG_MAX_RANK) {
        s = tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s: IDX rank %d is not in 1..%d", path, rank,
                        TG_MAX_RANK);
        goto done;
    }
    k = tg__io_read(&r, h + 4, 4 * (size_t)rank, err, errlen);
    if (k < 0) goto failed;
    if (k < 4 * rank) {
        s = tg__io_fail(err, errlen, TG_ERR_FORMAT,
                        "%s: truncated header: %d sizes announced, the file ends after %lld bytes",
                        path, rank, (long long)(4 + k));
        goto done;
    }
    int64_t numel = 1, bytes = 0;
    for (int d = 0; d < rank; d++) {
        out->shape[d] = be32(h + 4 + 4 * d);
        if (!tg__io_mul_ok(numel, out->shape[d], &numel)) numel = INT64_MAX;
    }
    /* only the first `first` items along axis 0: the rest is never read */
    *hdr_n0 = out->shape[0];
    bool whole = first >= out->shape[0];
    if (!whole) {
        numel = first;
        for (int d = 1; d < rank; d++)
            if (!tg__io_mul_ok(numel, out->shape[d], &numel)) numel = INT64_MAX;
    }
    if (!tg__io_mul_ok(numel, esize, &bytes) || bytes > TG_DATA_MAX_BYTES) {
        char shp[160];
        tg__io_shape_str(rank, out->shape, shp, sizeof shp);
        s = tg__io_fail(err, errlen, TG_ERR_FORMAT,
                        "%s: absurd IDX shape %s: more than %lld bytes of data", path, shp,
                        (long long)TG_DATA_MAX_BYTES);
        goto done;
    }
    unsigned char *data = NULL;
    s = rd_exact(&r, bytes, whole, &data, "data", err, errlen);
    if (s != TG_OK) goto done;
    if (!whole) out->shape[0] = first;
    if (tg__io_host_little()) tg__io_swap(data, (size_t)bytes, esize); /* big-endian */
    out->type = type;
    out->rank = rank;
    out->numel = numel;
    out->data = data;
    tg__io_close(&r);
    tg__io_seterr(err, errlen, "%s", "");
    return TG_OK;
failed:
    s = r.st;
done:
    tg__io_close(&r);
    memset(out, 0, sizeof *out);
    return s;
}

tg_status tg__idx_read_e(const char *path, int64_t first, tg_idx *out, char *err,
                         size_t errlen) {
    int64_t n0;
    return idx_read_count(path, first, out, &n0, err, errlen);
}

double tg_idx_get(const tg_idx *m, int64_t i) {
    if (!m || !m->data || i < 0 || i >= m->numel) return NAN;
    const unsigned char *p = m->data;
    switch (m->type) {
    case TG_IDX_U8: return p[i];
    case TG_IDX_I8: return ((const int8_t *)m->data)[i];
    case TG_IDX_I16: return ((const int16_t *)m->data)[i];
    case TG_IDX_I32: return ((const int32_t *)m->data)[i];
    case TG_IDX_F32: return ((const float *)m->data)[i];
    case TG_IDX_F64: return ((const double *)m->data)[i];
    default: return NAN;
    }
}

void tg_idx_free(tg_idx *m) {
    if (!m) return;
    tg_free(m->data);
    memset(m, 0, sizeof *m);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Encodes one value big-endian into p; false if it does not fit the type. */
static bool idx_put(unsigned char *p, int type, double v) {
    uint64_t bits = 0;
    int esize = idx_esize(type);
    switch (type) {
    case TG_IDX_U8:
        if (!(v >= 0 && v <= 255 && v == floor(v))) return false;
        bits = (uint64_t)v;
        break;
    case TG_IDX_I8:
        if (!(v >= -128 && v <= 127 && v == floor(v))) return false;
        bits = (uint8_t)(int8_t)v;
        break;
    case TG_IDX_I16:
        if (!(v >= -32768 && v <= 32767 && v == floor(v))) return false;
        bits = (uint16_t)(int16_t)v;
        break;
    case TG_IDX_I32:
        if (!(v >= -2147483648.0 && v <= 2147483647.0 && v == floor(v))) return false;
        bits = (uint32_t)(int32_t)v;
        break;
    case TG_IDX_F32: {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        bits = u;
        break;
    }
    case TG_IDX_F64:
        memcpy(&bits, &v, 8);
        break;
    default:
        return false;
    }
    for (int b = 0; b < esize; b++) p[b] = (unsigned char)(bits >> (8 * (esize - 1 - b)));
    return true;
}

/* A whole IDX file in memory, and whether to gzip it on the way out. */
typedef struct idx_file {
    const unsigned char *buf;
    size_t n;
    bool gz;
} idx_file;

/* tg__io_write_atomic's callback. gzdopen gets a duplicate of fd, since
 * gzclose closes it and the atomic writer still fsyncs fd. */
static bool put_idx(int fd, void *ctx) {
    const idx_file *f = ctx;
#ifdef TG_HAVE_ZLIB
    if (f->gz) {
        int fd2 = dup(fd);
        gzFile gz = fd2 < 0 ? NULL : gzdopen(fd2, "wb");
        if (!gz) {
            if (fd2 >= 0) close(fd2);
            return false;
        }
        bool ok = true;
        for (size_t done = 0; ok && done < f->n;) {
            unsigned want = f->n - done > (1u << 30) ? (1u << 30) : (unsigned)(f->n - done);
            ok = gzwrite(gz, f->buf + done, want) == (int)want;
            done += want;
        }
        bool closed = gzclose(gz) == Z_OK;
        return ok && closed;
    }
#endif
    return tg__io_write_all(fd, f->buf, f->n);
}

tg_status tg__idx_write_e(const char *path, int type, int rank, const int64_t *shape,
                          const double *values, char *err, size_t errlen) {
    if (!path || (rank > 0 && !shape))
        return tg__io_fail(err, errlen, TG_ERR_NULL, "idx_write: NULL path or shape");
    int esize = idx_esize(type);
    if (!esize)
        return tg__io_fail(err, errlen, TG_ERR_ARG, "idx_write: %s: unknown type 0x%02x", path,
                           type);
    if (rank < 1 || rank > TG_MAX_RANK)
        return tg__io_fail(err, errlen, TG_ERR_ARG, "idx_write: %s: rank %d is not in 1..%d", path,
                           rank, TG_MAX_RANK);
    int64_t numel = 1, bytes;
    for (int d = 0; d < rank; d++)
        if (shape[d] < 0 || shape[d] > UINT32_MAX || !tg__io_mul_ok(numel, shape[d], &numel))
            return tg__io_fail(err, errlen, TG_ERR_ARG, "idx_write: %s: bad size %lld on axis %d",
                               path, (long long)shape[d], d);
    if (!tg__io_mul_ok(numel, esize, &bytes) || bytes > TG_DATA_MAX_BYTES)
        return tg__io_fail(err, errlen, TG_ERR_ARG, "idx_write: %s: too large", path);
    if (numel && !values)
        return tg__io_fail(err, errlen, TG_ERR_NULL, "idx_write: %s: NULL values", path);
    size_t total = 4 + 4 * (size_t)rank + (size_t)bytes;
    unsigned char *buf = tg_malloc(total);
    if (!buf) return tg__io_fail(err, errlen, TG_ERR_NOMEM, "idx_write: %s: out of memory", path);
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)rank;
    for (int d = 0; d < rank; d++)
        for (int b = 0; b < 4; b++) buf[4 + 4 * d + b] = (unsigned char)(shape[d] >> (24 - 8 * b));
    unsigned char *p = buf + 4 + 4 * rank;
    for (int64_t i = 0; i < numel; i++)
        if (!idx_put(p + i * esize, type, values[i])) {
            tg_free(buf);
            return tg__io_fail(err, errlen, TG_ERR_ARG,
                               "idx_write: %s: value %g at %lld does not fit %s", path, values[i],
                               (long long)i, idx_type_name(type));
        }
    bool gz = ends_with(path, ".gz");
#ifndef TG_HAVE_ZLIB
    if (gz) {
        tg_free(buf);
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "idx_write: %s: cannot write gzip: built without zlib", path);
    }
#endif
    idx_file f = {buf, total, gz};
    char why[160];
    tg_status s = tg__io_write_atomic(path, put_idx, &f, why, sizeof why);
    tg_free(buf);
    if (s != TG_OK) return tg__io_fail(err, errlen, s, "idx_write: %s: %s", path, why);
    tg__io_seterr(err, errlen, "%s", "");
    return TG_OK;
}

/* ----------------------------------------------------------------- MNIST */

tg_status tg__mnist_load_e(const char *images_path, const char *labels_path, int64_t first,
                           tg_dataset *out, char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!images_path || !labels_path || !out)
        return tg__io_fail(err, errlen, TG_ERR_NULL, "mnist_load: NULL argument");
    if (first < 1)
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "mnist_load_first: n = %lld: it must be at least 1", (long long)first);
    /* the headers' counts are compared whole (hdr_n), whatever is read */
    int64_t hdr_n[2] = {0, 0};
    tg_idx im, lb;
    tg_status s = idx_read_count(images_path, first, &im, &hdr_n[0], err, errlen);
    if (s != TG_OK) return s;
    s = idx_read_count(labels_path, first, &lb, &hdr_n[1], err, errlen);
    if (s != TG_OK) {
        tg_idx_free(&im);
        return s;
    }
    if (im.type != TG_IDX_U8 || im.rank < 2) {
        s = tg__io_fail(
            err, errlen, TG_ERR_FORMAT,
            "%s: expected images of unsigned bytes with rank >= 2 ([N, rows, cols]), got %s "
            "with rank %d",
            images_path, idx_type_name(im.type), im.rank);
    } else if (lb.type != TG_IDX_U8 || lb.rank != 1) {
        s = tg__io_fail(
            err, errlen, TG_ERR_FORMAT,
            "%s: expected labels of unsigned bytes with rank 1 ([N]), got %s with rank %d",
            labels_path, idx_type_name(lb.type), lb.rank);
    } else if (hdr_n[0] != hdr_n[1]) {
        s = tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s holds %lld images but %s holds %lld labels",
                        images_path, (long long)hdr_n[0], labels_path, (long long)hdr_n[1]);
    }
    if (s == TG_OK)
        s = tg__dataset_alloc_e(out, im.shape[0], im.rank - 1, im.shape + 1, true, err, errlen);
    if (s == TG_OK) {
        const uint8_t *px = im.data, *lab = lb.data;
        for (int64_t i = 0; i < im.numel; i++) out->x[i] = px[i];
        int64_t maxl = -1;
        for (int64_t i = 0; i < out->n; i++) {
            out->y[i] = lab[i];
            if (lab[i] > maxl) maxl = lab[i];
        }
        out->nclasses = maxl + 1;
        tg__io_seterr(err, errlen, "%s", "");
    }
    tg_idx_free(&im);
    tg_idx_free(&lb);
    return s;
}

/* dir/name.gz if it exists, else dir/name; false if the path is too long. */
static bool pick_path(char *buf, size_t n, const char *dir, const char *name) {
    int k = snprintf(buf, n, "%s/%s.gz", dir, name);
    if (k < 0 || (size_t)k >= n) return false;
    FILE *f = fopen(buf, "rb");
    if (f) {
        fclose(f);
        return true;
    }
    k = snprintf(buf, n, "%s/%s", dir, name);
    return k >= 0 && (size_t)k < n;
}

tg_status tg__mnist_load_dir_e(const char *dir, bool train, int64_t first, tg_dataset *out,
                               char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!dir || !out) return tg__io_fail(err, errlen, TG_ERR_NULL, "mnist_load_dir: NULL argument");
    char ip[4096], lp[4096];
    const char *pre = train ? "train" : "t10k";
    char in[64], ln[64];
    snprintf(in, sizeof in, "%s-images-idx3-ubyte", pre);
    snprintf(ln, sizeof ln, "%s-labels-idx1-ubyte", pre);
    if (!pick_path(ip, sizeof ip, dir, in) || !pick_path(lp, sizeof lp, dir, ln))
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "mnist_load_dir: the directory name is too long");
    return tg__mnist_load_e(ip, lp, first, out, err, errlen);
}
