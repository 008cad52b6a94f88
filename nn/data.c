/* data.c - IDX and CSV readers, normalization, batching (tg_data.h).
 *
 * Built on the public API alone. Files are untrusted: every size from a
 * header is checked for overflow and against TG_DATA_MAX_BYTES, and the
 * payload is read into a buffer that grows only as bytes actually arrive,
 * so a tiny corrupt file that promises gigabytes costs nothing.
 */
#include "tg_data.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TG_HAVE_ZLIB
#include <zlib.h>
#endif

/* ------------------------------------------------------------- helpers */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static tg_status fail(char *err, size_t errlen, tg_status s, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return s;
}

static void ok_msg(char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
}

/* a * b into *out unless it overflows int64 (a, b >= 0). */
static bool mul_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return false;
    if (a && b > INT64_MAX / a) return false;
    *out = a * b;
    return true;
}

/* Grows *p (holding `used` elements of size esz) to at least `need`
 * elements, doubling; tg_malloc has no realloc, so copy. */
static bool grow(void **p, size_t *cap, size_t used, size_t need, size_t esz) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / esz) return false;
        nc *= 2;
    }
    void *q = tg_malloc(nc * esz);
    if (!q) return false;
    if (used) memcpy(q, *p, used * esz);
    tg_free(*p);
    *p = q;
    *cap = nc;
    return true;
}

/* ----------------------------------------------------- reading a file */

/* A file opened for reading, plain or gzip'd. */
typedef struct rd {
    const char *path;
    FILE *f;
    tg_status st; /* why the last rd_read failed: TG_ERR_IO or TG_ERR_FORMAT */
#ifdef TG_HAVE_ZLIB
    gzFile gz;
#endif
} rd;

static tg_status rd_open(rd *r, const char *path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, TG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[2] = {0, 0};
    size_t got = fread(m, 1, 2, f);
    bool gzipped = got == 2 && m[0] == 0x1f && m[1] == 0x8b;
#ifdef TG_HAVE_ZLIB
    if (gzipped) {
        fclose(f);
        r->gz = gzopen(path, "rb");
        if (!r->gz)
            return fail(err, errlen, TG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        gzbuffer(r->gz, 1u << 17);
        return TG_OK;
    }
#else
    if (gzipped) {
        fclose(f);
        return fail(err, errlen, TG_ERR_FORMAT,
                    "%s: the file is gzip-compressed but tapegrad was built without zlib "
                    "(install zlib1g-dev and rebuild, or gunzip the file)",
                    path);
    }
#endif
    rewind(f);
    r->f = f;
    return TG_OK;
}

#ifdef TG_HAVE_ZLIB
/* zlib's message without the "path: " it puts in front. */
static const char *gz_msg(rd *r) {
    int zerr = 0;
    const char *msg = gzerror(r->gz, &zerr);
    size_t n = strlen(r->path);
    if (!msg) return "zlib error";
    if (!strncmp(msg, r->path, n) && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
    return msg;
}
#endif

/* Reads up to n bytes; returns how many (< n only at the end), or -1 on a
 * read error (message in err). */
static int64_t rd_read(rd *r, void *buf, size_t n, char *err, size_t errlen) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
#ifdef TG_HAVE_ZLIB
        if (r->gz) {
            int k = gzread(r->gz, (char *)buf + done, (unsigned)want);
            if (k < 0) {
                r->st = fail(err, errlen, TG_ERR_FORMAT, "%s: corrupt gzip data (%s)", r->path,
                             gz_msg(r));
                return -1;
            }
            if (k == 0) {
                /* zlib reports a stream cut short only through gzerror. */
                int zerr = 0;
                gzerror(r->gz, &zerr);
                if (zerr != Z_OK) {
                    r->st = fail(err, errlen, TG_ERR_FORMAT,
                                 "%s: corrupt or truncated gzip data (%s)", r->path, gz_msg(r));
                    return -1;
                }
                break;
            }
            done += (size_t)k;
            continue;
        }
#endif
        size_t k = fread((char *)buf + done, 1, want, r->f);
        done += k;
        if (k < want) {
            if (ferror(r->f)) {
                r->st = fail(err, errlen, TG_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
                return -1;
            }
            break;
        }
    }
    return (int64_t)done;
}

static void rd_close(rd *r) {
#ifdef TG_HAVE_ZLIB
    if (r->gz) gzclose(r->gz);
    r->gz = NULL;
#endif
    if (r->f) fclose(r->f);
    r->f = NULL;
}

/* Reads exactly `want` bytes into a new buffer that grows as bytes
 * arrive (so a header's false promise allocates little). Then checks that
 * nothing follows. *got receives the bytes read on a truncation. */
static tg_status rd_exact(rd *r, int64_t want, unsigned char **out, const char *what, char *err,
                          size_t errlen) {
    *out = NULL;
    size_t cap = (size_t)(want < (1 << 20) ? want : (1 << 20));
    unsigned char *buf = tg_malloc(cap);
    if (!buf) return fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", r->path);
    size_t used = 0;
    for (;;) {
        int64_t k = rd_read(r, buf + used, cap - used, err, errlen);
        if (k < 0) {
            tg_free(buf);
            return r->st;
        }
        used += (size_t)k;
        if (used < cap) break; /* end of file */
        if ((int64_t)used == want) break;
        void *p = buf;
        size_t ncap = cap * 2 > (size_t)want ? (size_t)want : cap * 2;
        if (!grow(&p, &cap, used, ncap, 1)) {
            tg_free(buf);
            return fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory for %lld bytes", r->path,
                        (long long)want);
        }
        buf = p;
    }
    if ((int64_t)used < want) {
        tg_free(buf);
        return fail(err, errlen, TG_ERR_FORMAT,
                    "%s: truncated: the header promises %lld bytes of %s, the file holds %lld",
                    r->path, (long long)want, what, (long long)used);
    }
    unsigned char extra[64];
    int64_t k = rd_read(r, extra, sizeof extra, err, errlen);
    if (k != 0) {
        tg_free(buf);
        if (k < 0) return r->st;
        return fail(err, errlen, TG_ERR_FORMAT,
                    "%s: %s%lld trailing bytes after the %lld bytes of %s the header promises "
                    "(a count that does not match the data?)",
                    r->path, k == (int64_t)sizeof extra ? "at least " : "", (long long)k,
                    (long long)want, what);
    }
    *out = buf;
    return TG_OK;
}

/* ------------------------------------------------------------------ IDX */

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

/* Big-endian elements to host order, in place. */
static void idx_to_host(unsigned char *p, int64_t n, int esize) {
    if (esize == 2) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t v = (uint16_t)(p[2 * i] << 8 | p[2 * i + 1]);
            memcpy(p + 2 * i, &v, 2);
        }
    } else if (esize == 4) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t v = be32(p + 4 * i);
            memcpy(p + 4 * i, &v, 4);
        }
    } else if (esize == 8) {
        for (int64_t i = 0; i < n; i++) {
            uint64_t v = (uint64_t)be32(p + 8 * i) << 32 | be32(p + 8 * i + 4);
            memcpy(p + 8 * i, &v, 8);
        }
    }
}

tg_status tg_idx_read(const char *path, tg_idx *out, char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return fail(err, errlen, TG_ERR_NULL, "idx_read: NULL path or output");
    rd r;
    tg_status s = rd_open(&r, path, err, errlen);
    if (s != TG_OK) return s;
    unsigned char h[4 + 4 * TG_MAX_RANK];
    int64_t k = rd_read(&r, h, 4, err, errlen);
    if (k < 0) goto failed;
    if (k < 4) {
        s = fail(err, errlen, TG_ERR_FORMAT, "%s: truncated: %lld bytes, too short for an IDX header",
                 path, (long long)k);
        goto done;
    }
    if (h[0] != 0 || h[1] != 0) {
        s = fail(err, errlen, TG_ERR_FORMAT,
                 "%s: not an IDX file: the magic number 0x%02x%02x%02x%02x does not start with "
                 "two zero bytes",
                 path, h[0], h[1], h[2], h[3]);
        goto done;
    }
    int type = h[2], rank = h[3], esize = idx_esize(type);
    if (!esize) {
        s = fail(err, errlen, TG_ERR_FORMAT,
                 "%s: unknown IDX element type 0x%02x (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or "
                 "0x0E)",
                 path, type);
        goto done;
    }
    if (rank < 1 || rank > TG_MAX_RANK) {
        s = fail(err, errlen, TG_ERR_FORMAT, "%s: IDX rank %d is not in 1..%d", path, rank,
                 TG_MAX_RANK);
        goto done;
    }
    k = rd_read(&r, h + 4, 4 * (size_t)rank, err, errlen);
    if (k < 0) goto failed;
    if (k < 4 * rank) {
        s = fail(err, errlen, TG_ERR_FORMAT,
                 "%s: truncated header: %d sizes announced, the file ends after %lld bytes", path,
                 rank, (long long)(4 + k));
        goto done;
    }
    int64_t numel = 1, bytes = 0;
    for (int d = 0; d < rank; d++) {
        out->shape[d] = be32(h + 4 + 4 * d);
        if (!mul_ok(numel, out->shape[d], &numel)) numel = INT64_MAX;
    }
    if (!mul_ok(numel, esize, &bytes) || bytes > TG_DATA_MAX_BYTES) {
        char shp[160];
        int len = 0;
        for (int d = 0; d < rank && len < 140; d++)
            len += snprintf(shp + len, sizeof shp - (size_t)len, "%s%lld", d ? "," : "",
                            (long long)out->shape[d]);
        s = fail(err, errlen, TG_ERR_FORMAT,
                 "%s: absurd IDX shape [%s]: more than %lld bytes of data", path, shp,
                 (long long)TG_DATA_MAX_BYTES);
        goto done;
    }
    unsigned char *data = NULL;
    s = rd_exact(&r, bytes, &data, "data", err, errlen);
    if (s != TG_OK) goto done;
    idx_to_host(data, numel, esize);
    out->type = type;
    out->rank = rank;
    out->numel = numel;
    out->data = data;
    rd_close(&r);
    ok_msg(err, errlen);
    return TG_OK;
failed:
    s = r.st;
done:
    rd_close(&r);
    memset(out, 0, sizeof *out);
    return s;
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

tg_status tg_idx_write(const char *path, int type, int rank, const int64_t *shape,
                       const double *values, char *err, size_t errlen) {
    if (!path || (rank > 0 && !shape))
        return fail(err, errlen, TG_ERR_NULL, "idx_write: NULL path or shape");
    int esize = idx_esize(type);
    if (!esize) return fail(err, errlen, TG_ERR_ARG, "idx_write: %s: unknown type 0x%02x", path, type);
    if (rank < 1 || rank > TG_MAX_RANK)
        return fail(err, errlen, TG_ERR_ARG, "idx_write: %s: rank %d is not in 1..%d", path, rank,
                    TG_MAX_RANK);
    int64_t numel = 1, bytes;
    for (int d = 0; d < rank; d++)
        if (shape[d] < 0 || shape[d] > UINT32_MAX || !mul_ok(numel, shape[d], &numel))
            return fail(err, errlen, TG_ERR_ARG, "idx_write: %s: bad size %lld on axis %d", path,
                        (long long)shape[d], d);
    if (!mul_ok(numel, esize, &bytes) || bytes > TG_DATA_MAX_BYTES)
        return fail(err, errlen, TG_ERR_ARG, "idx_write: %s: too large", path);
    if (numel && !values) return fail(err, errlen, TG_ERR_NULL, "idx_write: %s: NULL values", path);
    size_t total = 4 + 4 * (size_t)rank + (size_t)bytes;
    unsigned char *buf = tg_malloc(total);
    if (!buf) return fail(err, errlen, TG_ERR_NOMEM, "idx_write: %s: out of memory", path);
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)rank;
    for (int d = 0; d < rank; d++)
        for (int b = 0; b < 4; b++) buf[4 + 4 * d + b] = (unsigned char)(shape[d] >> (24 - 8 * b));
    unsigned char *p = buf + 4 + 4 * rank;
    for (int64_t i = 0; i < numel; i++)
        if (!idx_put(p + i * esize, type, values[i])) {
            tg_free(buf);
            return fail(err, errlen, TG_ERR_ARG, "idx_write: %s: value %g at %lld does not fit %s",
                        path, values[i], (long long)i, idx_type_name(type));
        }
    tg_status s = TG_OK;
    if (ends_with(path, ".gz")) {
#ifdef TG_HAVE_ZLIB
        gzFile gz = gzopen(path, "wb");
        if (!gz) {
            s = fail(err, errlen, TG_ERR_IO, "idx_write: %s: cannot create: %s", path, strerror(errno));
        } else {
            size_t done = 0;
            while (done < total && s == TG_OK) {
                unsigned want = total - done > (1u << 30) ? (1u << 30) : (unsigned)(total - done);
                if (gzwrite(gz, buf + done, want) != (int)want)
                    s = fail(err, errlen, TG_ERR_IO, "idx_write: %s: write error", path);
                done += want;
            }
            if (gzclose(gz) != Z_OK && s == TG_OK)
                s = fail(err, errlen, TG_ERR_IO, "idx_write: %s: write error on close", path);
        }
#else
        s = fail(err, errlen, TG_ERR_ARG, "idx_write: %s: cannot write gzip: built without zlib", path);
#endif
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) {
            s = fail(err, errlen, TG_ERR_IO, "idx_write: %s: cannot create: %s", path, strerror(errno));
        } else {
            if (fwrite(buf, 1, total, f) != total)
                s = fail(err, errlen, TG_ERR_IO, "idx_write: %s: write error: %s", path, strerror(errno));
            if (fclose(f) != 0 && s == TG_OK)
                s = fail(err, errlen, TG_ERR_IO, "idx_write: %s: write error on close", path);
        }
    }
    tg_free(buf);
    if (s == TG_OK) ok_msg(err, errlen);
    return s;
}

/* ------------------------------------------------------------- data set */

tg_status tg_dataset_alloc(tg_dataset *d, int64_t n, int rank, const int64_t *shape,
                           bool with_labels, char *err, size_t errlen) {
    if (d) memset(d, 0, sizeof *d);
    if (!d || !shape) return fail(err, errlen, TG_ERR_NULL, "dataset_alloc: NULL argument");
    if (n < 0 || rank < 1 || rank > TG_MAX_RANK - 1)
        return fail(err, errlen, TG_ERR_ARG, "dataset_alloc: n = %lld, rank = %d (need n >= 0, rank 1..%d)",
                    (long long)n, rank, TG_MAX_RANK - 1);
    int64_t dim = 1, total, bytes;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return fail(err, errlen, TG_ERR_ARG, "dataset_alloc: negative size %lld on axis %d",
                        (long long)shape[i], i);
        if (!mul_ok(dim, shape[i], &dim))
            return fail(err, errlen, TG_ERR_OVERFLOW, "dataset_alloc: the sample size overflows");
    }
    if (!mul_ok(dim, n, &total) || !mul_ok(total, (int64_t)sizeof(float), &bytes) ||
        (uint64_t)bytes > SIZE_MAX)
        return fail(err, errlen, TG_ERR_OVERFLOW, "dataset_alloc: %lld x %lld features overflow",
                    (long long)n, (long long)dim);
    d->x = tg_malloc((size_t)bytes);
    d->y = with_labels ? tg_malloc((size_t)n * sizeof(int64_t)) : NULL;
    if (!d->x || (with_labels && !d->y)) {
        tg_free(d->x);
        tg_free(d->y);
        memset(d, 0, sizeof *d);
        return fail(err, errlen, TG_ERR_NOMEM, "dataset_alloc: out of memory for %lld samples",
                    (long long)n);
    }
    memset(d->x, 0, (size_t)bytes);
    if (d->y) memset(d->y, 0, (size_t)n * sizeof(int64_t));
    d->n = n;
    d->dim = dim;
    d->rank = rank;
    for (int i = 0; i < rank; i++) d->shape[i] = shape[i];
    ok_msg(err, errlen);
    return TG_OK;
}

void tg_dataset_free(tg_dataset *d) {
    if (!d) return;
    tg_free(d->x);
    tg_free(d->y);
    memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- MNIST */

tg_status tg_mnist_load(const char *images_path, const char *labels_path, tg_dataset *out,
                        char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!images_path || !labels_path || !out)
        return fail(err, errlen, TG_ERR_NULL, "mnist_load: NULL argument");
    tg_idx im, lb;
    tg_status s = tg_idx_read(images_path, &im, err, errlen);
    if (s != TG_OK) return s;
    s = tg_idx_read(labels_path, &lb, err, errlen);
    if (s != TG_OK) {
        tg_idx_free(&im);
        return s;
    }
    if (im.type != TG_IDX_U8 || im.rank < 2) {
        s = fail(err, errlen, TG_ERR_FORMAT,
                 "%s: expected images of unsigned bytes with rank >= 2 ([N, rows, cols]), got %s "
                 "with rank %d",
                 images_path, idx_type_name(im.type), im.rank);
    } else if (lb.type != TG_IDX_U8 || lb.rank != 1) {
        s = fail(err, errlen, TG_ERR_FORMAT,
                 "%s: expected labels of unsigned bytes with rank 1 ([N]), got %s with rank %d",
                 labels_path, idx_type_name(lb.type), lb.rank);
    } else if (im.shape[0] != lb.shape[0]) {
        s = fail(err, errlen, TG_ERR_FORMAT, "%s holds %lld images but %s holds %lld labels",
                 images_path, (long long)im.shape[0], labels_path, (long long)lb.shape[0]);
    }
    if (s == TG_OK) s = tg_dataset_alloc(out, im.shape[0], im.rank - 1, im.shape + 1, true, err, errlen);
    if (s == TG_OK) {
        const uint8_t *px = im.data, *lab = lb.data;
        for (int64_t i = 0; i < im.numel; i++) out->x[i] = px[i];
        int64_t maxl = -1;
        for (int64_t i = 0; i < out->n; i++) {
            out->y[i] = lab[i];
            if (lab[i] > maxl) maxl = lab[i];
        }
        out->nclasses = maxl + 1;
        ok_msg(err, errlen);
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

tg_status tg_mnist_load_dir(const char *dir, bool train, tg_dataset *out, char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!dir || !out) return fail(err, errlen, TG_ERR_NULL, "mnist_load_dir: NULL argument");
    char ip[4096], lp[4096];
    const char *pre = train ? "train" : "t10k";
    char in[64], ln[64];
    snprintf(in, sizeof in, "%s-images-idx3-ubyte", pre);
    snprintf(ln, sizeof ln, "%s-labels-idx1-ubyte", pre);
    if (!pick_path(ip, sizeof ip, dir, in) || !pick_path(lp, sizeof lp, dir, ln))
        return fail(err, errlen, TG_ERR_ARG, "mnist_load_dir: the directory name is too long");
    return tg_mnist_load(ip, lp, out, err, errlen);
}

/* ------------------------------------------------------------------ CSV */

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* One field: [b, e) with blanks trimmed. */
typedef struct field { const char *b, *e; } field;

/* Parses a field as a finite number. */
static bool parse_num(field f, double *v) {
    if (f.b == f.e) return false;
    char tmp[128];
    size_t len = (size_t)(f.e - f.b);
    if (len >= sizeof tmp) return false;
    memcpy(tmp, f.b, len);
    tmp[len] = 0;
    char *end;
    errno = 0;
    double x = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(x)) return false;
    *v = x;
    return true;
}

/* Splits line [p, e) into fields; returns the count (up to max stored). */
static int64_t split_line(const char *p, const char *e, char delim, field *fs, int64_t max) {
    int64_t n = 0;
    for (;;) {
        const char *q = p;
        while (q < e && *q != delim) q++;
        const char *b = p, *fe = q;
        while (b < fe && is_blank(*b)) b++;
        while (fe > b && is_blank(fe[-1])) fe--;
        if (n < max) fs[n] = (field){b, fe};
        n++;
        if (q >= e) break;
        p = q + 1;
    }
    return n;
}

static void field_str(field f, char *buf, size_t n) {
    size_t len = (size_t)(f.e - f.b);
    if (len > 40) {
        snprintf(buf, n, "%.40s...", f.b);
    } else {
        snprintf(buf, n, "%.*s", (int)len, f.b);
    }
}

/* Reads the whole file (gzip'd or plain) into a NUL-terminated buffer. */
static tg_status slurp(const char *path, char **out, size_t *len, char *err, size_t errlen) {
    rd r;
    *out = NULL;
    tg_status s = rd_open(&r, path, err, errlen);
    if (s != TG_OK) return s;
    void *buf = NULL;
    size_t cap = 0, used = 0;
    for (;;) {
        if (used + 65536 + 1 > cap && !grow(&buf, &cap, used, used + 65536 + 1, 1)) {
            tg_free(buf);
            rd_close(&r);
            return fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", path);
        }
        int64_t k = rd_read(&r, (char *)buf + used, 65536, err, errlen);
        if (k < 0) {
            tg_free(buf);
            rd_close(&r);
            return r.st;
        }
        used += (size_t)k;
        if ((int64_t)used > TG_DATA_MAX_BYTES) {
            tg_free(buf);
            rd_close(&r);
            return fail(err, errlen, TG_ERR_FORMAT, "%s: larger than %lld bytes", path,
                        (long long)TG_DATA_MAX_BYTES);
        }
        if (k < 65536) break;
    }
    rd_close(&r);
    ((char *)buf)[used] = 0;
    *out = buf;
    *len = used;
    return TG_OK;
}

tg_status tg_csv_read(const char *path, const tg_csv_opts *opts, tg_dataset *out, char *err,
                      size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return fail(err, errlen, TG_ERR_NULL, "csv_read: NULL path or output");
    tg_csv_opts o = opts ? *opts : (tg_csv_opts){0};
    char delim = o.delimiter ? o.delimiter : ',';
    if (delim == '\n' || delim == '\r' || delim == '.' || delim == '-' || delim == '+' ||
        (delim >= '0' && delim <= '9'))
        return fail(err, errlen, TG_ERR_ARG, "csv_read: %s: the delimiter '%c' cannot separate numbers",
                    path, delim);
    if (o.header < -1 || o.header > 1)
        return fail(err, errlen, TG_ERR_ARG, "csv_read: %s: header must be -1, 0 or 1, not %d", path,
                    o.header);
    char *text = NULL;
    size_t len = 0;
    tg_status s = slurp(path, &text, &len, err, errlen);
    if (s != TG_OK) return s;

    field *fs = NULL;           /* the fields of the current line */
    int64_t ncols = -1, lab = -1, nf = 0;
    void *x = NULL, *y = NULL;  /* growing [rows, nfeat] floats and [rows] labels */
    size_t xcap = 0, ycap = 0;
    int64_t rows = 0, maxl = -1, lineno = 0;
    bool header_pending = o.header >= 0;
    char fb[64];
    const char *p = text, *end = text + len;
    while (p < end && s == TG_OK) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        lineno++;
        const char *q = p;
        while (q < e && is_blank(*q)) q++;
        const char *line = p;
        p = e + 1;
        if (q == e) continue; /* a blank line */
        if (memchr(line, 0, (size_t)(e - line))) {
            s = fail(err, errlen, TG_ERR_FORMAT, "%s:%lld: a NUL byte: not a text file", path,
                     (long long)lineno);
            break;
        }
        int64_t n = split_line(line, e, delim, NULL, 0);
        if (ncols < 0) {
            ncols = n;
            fs = tg_malloc((size_t)ncols * sizeof *fs);
            if (!fs) {
                s = fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            if (o.has_label) {
                lab = o.label_col < 0 ? ncols + o.label_col : o.label_col;
                if (lab < 0 || lab >= ncols || ncols < 2) {
                    s = fail(err, errlen, TG_ERR_ARG,
                             "csv_read: %s: label column %d does not exist in %lld columns (and at "
                             "least one feature column is needed)",
                             path, o.label_col, (long long)ncols);
                    break;
                }
            }
            nf = ncols - (o.has_label ? 1 : 0);
        }
        if (n != ncols) {
            s = fail(err, errlen, TG_ERR_FORMAT, "%s:%lld: %lld fields, but the first line has %lld",
                     path, (long long)lineno, (long long)n, (long long)ncols);
            break;
        }
        split_line(line, e, delim, fs, ncols);
        if (header_pending) {
            header_pending = false;
            bool numeric = true;
            double v;
            for (int64_t c = 0; c < ncols && numeric; c++) numeric = parse_num(fs[c], &v);
            if (o.header == 1 || !numeric) continue; /* a header: skip it */
        }
        if (!grow(&x, &xcap, (size_t)(rows * nf), (size_t)((rows + 1) * nf), sizeof(float)) ||
            (o.has_label && !grow(&y, &ycap, (size_t)rows, (size_t)rows + 1, sizeof(int64_t)))) {
            s = fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        float *xr = (float *)x + rows * nf;
        for (int64_t c = 0, j = 0; c < ncols; c++) {
            double v;
            if (!parse_num(fs[c], &v)) {
                field_str(fs[c], fb, sizeof fb);
                if (fs[c].b == fs[c].e)
                    s = fail(err, errlen, TG_ERR_FORMAT, "%s:%lld: field %lld is empty", path,
                             (long long)lineno, (long long)c + 1);
                else
                    s = fail(err, errlen, TG_ERR_FORMAT, "%s:%lld: field %lld is \"%s\", not a %snumber",
                             path, (long long)lineno, (long long)c + 1, fb,
                             fs[c].e - fs[c].b < 128 ? "finite " : "");
                break;
            }
            if (c == lab) {
                if (!(v >= 0 && v <= 2147483647.0 && v == floor(v))) {
                    field_str(fs[c], fb, sizeof fb);
                    s = fail(err, errlen, TG_ERR_FORMAT,
                             "%s:%lld: field %lld (the label) is \"%s\", not a non-negative integer",
                             path, (long long)lineno, (long long)c + 1, fb);
                    break;
                }
                ((int64_t *)y)[rows] = (int64_t)v;
                if ((int64_t)v > maxl) maxl = (int64_t)v;
            } else {
                if (fabs(v) > FLT_MAX) { /* finite as a double, not as a float */
                    field_str(fs[c], fb, sizeof fb);
                    s = fail(err, errlen, TG_ERR_FORMAT,
                             "%s:%lld: field %lld is \"%s\", too large for a float feature",
                             path, (long long)lineno, (long long)c + 1, fb);
                    break;
                }
                xr[j++] = (float)v;
            }
        }
        rows++;
    }
    if (s == TG_OK && rows == 0)
        s = fail(err, errlen, TG_ERR_FORMAT, "%s: no data lines", path);
    if (s == TG_OK) {
        /* Move into exactly sized arrays owned by the data set. */
        int64_t shape[1] = {nf};
        s = tg_dataset_alloc(out, rows, 1, shape, o.has_label, err, errlen);
        if (s == TG_OK) {
            memcpy(out->x, x, (size_t)(rows * nf) * sizeof(float));
            if (o.has_label) memcpy(out->y, y, (size_t)rows * sizeof(int64_t));
            out->nclasses = o.has_label ? maxl + 1 : 0;
            ok_msg(err, errlen);
        }
    }
    tg_free(fs);
    tg_free(x);
    tg_free(y);
    tg_free(text);
    return s;
}

/* -------------------------------------------------------- normalization */

static bool ds_ok(const tg_dataset *d) { return d && (d->x || d->n * d->dim == 0); }

tg_status tg_dataset_scale(tg_dataset *d, double lo, double hi) {
    if (!ds_ok(d)) return TG_ERR_NULL;
    if (!(hi != lo) || !isfinite(lo) || !isfinite(hi)) return TG_ERR_ARG;
    float a = (float)(1.0 / (hi - lo)), b = (float)(-lo / (hi - lo));
    int64_t n = d->n * d->dim;
    float *x = d->x;
    for (int64_t i = 0; i < n; i++) x[i] = x[i] * a + b;
    return TG_OK;
}

tg_status tg_dataset_range(const tg_dataset *d, double *lo, double *hi) {
    if (!ds_ok(d) || !lo || !hi) return TG_ERR_NULL;
    int64_t n = d->n * d->dim;
    float mn = n ? d->x[0] : 0, mx = mn;
    for (int64_t i = 1; i < n; i++) {
        if (d->x[i] < mn) mn = d->x[i];
        if (d->x[i] > mx) mx = d->x[i];
    }
    *lo = mn;
    *hi = mx;
    return TG_OK;
}

tg_status tg_dataset_stats(const tg_dataset *d, bool per_feature, double *mean, double *std) {
    if (!ds_ok(d) || !mean || !std) return TG_ERR_NULL;
    int64_t m = per_feature ? d->dim : 1;
    for (int64_t j = 0; j < m; j++) mean[j] = std[j] = 0;
    if (d->n == 0 || d->dim == 0) return TG_OK;
    double cnt = per_feature ? (double)d->n : (double)d->n * (double)d->dim;
    /* Two passes (mean, then squared deviations): exact enough in double. */
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) mean[per_feature ? j : 0] += d->x[i * d->dim + j];
    for (int64_t j = 0; j < m; j++) mean[j] /= cnt;
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) {
            double t = d->x[i * d->dim + j] - mean[per_feature ? j : 0];
            std[per_feature ? j : 0] += t * t;
        }
    for (int64_t j = 0; j < m; j++) std[j] = sqrt(std[j] / cnt);
    return TG_OK;
}

tg_status tg_dataset_standardize(tg_dataset *d, bool per_feature, const double *mean,
                                 const double *std) {
    if (!ds_ok(d) || !mean || !std) return TG_ERR_NULL;
    for (int64_t i = 0; i < d->n; i++)
        for (int64_t j = 0; j < d->dim; j++) {
            int64_t k = per_feature ? j : 0;
            double sd = std[k] > 0 ? std[k] : 1.0;
            float *v = &d->x[i * d->dim + j];
            *v = (float)((*v - mean[k]) / sd);
        }
    return TG_OK;
}

/* ------------------------------------------------------------- batching */

static void shuffle_order(tg_batcher *b) {
    /* Fisher-Yates; the bound uses the high bits (Lemire would avoid the
     * tiny modulo bias, which does not matter for batching). */
    for (int64_t i = b->n - 1; i > 0; i--) {
        int64_t j = (int64_t)(tg_rng_next(&b->rng) % (uint64_t)(i + 1));
        int64_t t = b->order[i];
        b->order[i] = b->order[j];
        b->order[j] = t;
    }
}

tg_status tg_batcher_init(tg_batcher *b, const tg_dataset *d, int64_t batch, bool shuffle,
                          uint64_t seed, char *err, size_t errlen) {
    if (b) memset(b, 0, sizeof *b);
    if (!b || !d) return fail(err, errlen, TG_ERR_NULL, "batcher_init: NULL argument");
    if (batch < 1 || d->n < 0)
        return fail(err, errlen, TG_ERR_ARG, "batcher_init: batch size %lld (must be >= 1)",
                    (long long)batch);
    if ((uint64_t)d->n > SIZE_MAX / sizeof(int64_t))
        return fail(err, errlen, TG_ERR_OVERFLOW, "batcher_init: too many samples");
    b->order = tg_malloc((size_t)d->n * sizeof(int64_t));
    if (!b->order) return fail(err, errlen, TG_ERR_NOMEM, "batcher_init: out of memory");
    b->n = d->n;
    b->batch = batch;
    b->shuffle = shuffle;
    tg_rng_seed(&b->rng, seed);
    for (int64_t i = 0; i < b->n; i++) b->order[i] = i;
    if (shuffle) shuffle_order(b);
    b->epoch = 1;
    ok_msg(err, errlen);
    return TG_OK;
}

int64_t tg_batcher_next(tg_batcher *b, const int64_t **idx) {
    if (!b || !b->order) {
        if (idx) *idx = NULL;
        return 0;
    }
    if (b->pos >= b->n) {
        /* The epoch is over: say so, and prepare the next. */
        b->pos = 0;
        b->epoch++;
        if (b->shuffle) {
            for (int64_t i = 0; i < b->n; i++) b->order[i] = i;
            shuffle_order(b);
        }
        if (idx) *idx = NULL;
        return 0;
    }
    int64_t k = b->n - b->pos < b->batch ? b->n - b->pos : b->batch;
    if (idx) *idx = b->order + b->pos;
    b->pos += k;
    return k;
}

int64_t tg_batcher_count(const tg_batcher *b) {
    if (!b || b->batch < 1) return 0;
    return (b->n + b->batch - 1) / b->batch;
}

void tg_batcher_free(tg_batcher *b) {
    if (!b) return;
    tg_free(b->order);
    memset(b, 0, sizeof *b);
}

/* Checks the common arguments of the batch makers; records the error. */
static bool batch_args(tg_tape *tape, const char *op, const tg_dataset *d, int64_t n,
                       const int64_t *idx) {
    if (!d) {
        tg_tape_fail(tape, TG_ERR_NULL, "%s: NULL data set", op);
        return false;
    }
    if (n < 0 || (!idx && n > d->n)) {
        tg_tape_fail(tape, TG_ERR_ARG, "%s: %lld samples requested from a data set of %lld", op,
                     (long long)n, (long long)d->n);
        return false;
    }
    for (int64_t i = 0; idx && i < n; i++)
        if (idx[i] < 0 || idx[i] >= d->n) {
            tg_tape_fail(tape, TG_ERR_ARG, "%s: sample index %lld (position %lld) is out of range for %lld samples",
                         op, (long long)idx[i], (long long)i, (long long)d->n);
            return false;
        }
    return true;
}

tg_tensor *tg_dataset_batch_x(tg_tape *tape, const tg_dataset *d, int64_t n, const int64_t *idx,
                              tg_dtype dt, bool flat) {
    if (!tape) return NULL;
    if (!batch_args(tape, "dataset_batch_x", d, n, idx)) return NULL;
    if (dt != TG_F32 && dt != TG_F64) {
        tg_tape_fail(tape, TG_ERR_DTYPE, "dataset_batch_x: dtype must be f32 or f64");
        return NULL;
    }
    if (!d->x && n * d->dim > 0) {
        tg_tape_fail(tape, TG_ERR_NULL, "dataset_batch_x: the data set has no features");
        return NULL;
    }
    int64_t shape[TG_MAX_RANK];
    int rank;
    shape[0] = n;
    if (flat || d->rank < 1) {
        shape[1] = d->dim;
        rank = 2;
    } else {
        rank = 1 + d->rank;
        for (int i = 0; i < d->rank; i++) shape[1 + i] = d->shape[i];
    }
    tg_tensor *t = tg_zeros(tape, dt, rank, shape);
    if (!t) return NULL;
    int64_t dim = d->dim;
    if (dt == TG_F32) {
        float *o = tg_tensor_f32(t);
        for (int64_t i = 0; i < n; i++)
            memcpy(o + i * dim, d->x + (idx ? idx[i] : i) * dim, (size_t)dim * sizeof(float));
    } else {
        double *o = tg_tensor_f64(t);
        for (int64_t i = 0; i < n; i++) {
            const float *src = d->x + (idx ? idx[i] : i) * dim;
            for (int64_t j = 0; j < dim; j++) o[i * dim + j] = src[j];
        }
    }
    return t;
}

tg_tensor *tg_dataset_batch_y(tg_tape *tape, const tg_dataset *d, int64_t n, const int64_t *idx) {
    if (!tape) return NULL;
    if (!batch_args(tape, "dataset_batch_y", d, n, idx)) return NULL;
    if (!d->y) {
        tg_tape_fail(tape, TG_ERR_ARG, "dataset_batch_y: the data set has no labels");
        return NULL;
    }
    tg_tensor *t = tg_zeros(tape, TG_I64, 1, (int64_t[]){n});
    if (!t) return NULL;
    int64_t *o = tg_tensor_i64(t);
    for (int64_t i = 0; i < n; i++) o[i] = d->y[idx ? idx[i] : i];
    return t;
}
