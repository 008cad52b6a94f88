/* io_util.c - the helpers nn/'s file code shares (see io_util.h): the
 * error sentence, array growth, byte order, the plain-or-gzip reader (the
 * gzip side on zlib's inflate, so that it sees where the gzip data end) and
 * the atomic writer ("<path>.tmp<pid>.<n>" with O_EXCL, fsync, rename over
 * path, fsync the directory).
 */
#include "io_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- errors */

static void vseterr(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
}

void tg__io_seterr(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vseterr(err, errlen, fmt, ap);
    va_end(ap);
}

tg_status tg__io_fail(char *err, size_t errlen, tg_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vseterr(err, errlen, fmt, ap);
    va_end(ap);
    return s;
}

/* ---------------------------------------------------------------- memory */

bool tg__io_grow(void **p, size_t *cap, size_t used, size_t need, size_t esz) {
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

bool tg__io_mul_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return false;
    if (a && b > INT64_MAX / a) return false;
    *out = a * b;
    return true;
}

void tg__io_shape_str(int rank, const int64_t *shape, char *buf, size_t n) {
    size_t o = 0;
    o += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < rank && o < n; d++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* ------------------------------------------------------------ byte order */

bool tg__io_host_little(void) {
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

void tg__io_swap(unsigned char *buf, size_t nbytes, int size) {
    size_t n = nbytes / (size_t)size;
    if (size == 2) {
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, buf + 2 * i, 2);
            v = (uint16_t)(v << 8 | v >> 8);
            memcpy(buf + 2 * i, &v, 2);
        }
    } else if (size == 4) {
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, buf + 4 * i, 4);
            v = v >> 24 | (v >> 8 & 0xff00u) | (v << 8 & 0xff0000u) | v << 24;
            memcpy(buf + 4 * i, &v, 4);
        }
    } else if (size == 8) {
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, buf + 8 * i, 8);
            v = v >> 32 | v << 32;
            v = (v >> 16 & 0x0000ffff0000ffffu) | (v & 0x0000ffff0000ffffu) << 16;
            v = (v >> 8 & 0x00ff00ff00ff00ffu) | (v & 0x00ff00ff00ff00ffu) << 8;
            memcpy(buf + 8 * i, &v, 8);
        }
    }
}

/* ------------------------------------------------ reading, plain or gzip */

#ifdef TG_HAVE_ZLIB
/* Compressed bytes read from the file at a time. */
#define GZ_IN ((size_t)1 << 16)

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    if (size && items > SIZE_MAX / size) return Z_NULL;
    return tg_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    tg_free(p);
}
#endif

tg_status tg__io_open(tg__io_rd *r, const char *path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->path = path;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg__io_fail(err, errlen, TG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[2] = {0, 0};
    size_t got = fread(m, 1, 2, f);
    bool gzipped = got == 2 && m[0] == 0x1f && m[1] == 0x8b;
#ifdef TG_HAVE_ZLIB
    if (gzipped) {
        r->in = tg_malloc(GZ_IN);
        r->z.zalloc = z_alloc;
        r->z.zfree = z_free;
        r->z.opaque = Z_NULL;
        r->z.next_in = r->in;
        r->z.avail_in = 0;
        /* 16 + MAX_WBITS: a gzip wrapper (header, CRC-32 and length checked) */
        if (!r->in || inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
            tg_free(r->in);
            fclose(f);
            memset(r, 0, sizeof *r);
            return tg__io_fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", path);
        }
        r->gz = true;
    }
#else
    if (gzipped) {
        fclose(f);
        return tg__io_fail(err, errlen, TG_ERR_FORMAT,
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
/* Tops up r->in from the file, keeping the z.avail_in bytes not yet
 * inflated; false on a read error. */
static bool gz_fill(tg__io_rd *r, char *err, size_t errlen) {
    size_t keep = r->z.avail_in;
    if (keep) memmove(r->in, r->z.next_in, keep);
    size_t want = GZ_IN - keep;
    if (want == 0) { /* a full buffer inflate made nothing of */
        r->st = tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s: corrupt gzip data (no progress)",
                            r->path);
        return false;
    }
    size_t k = fread(r->in + keep, 1, want, r->f);
    if (k < want) {
        if (ferror(r->f)) {
            r->st = tg__io_fail(err, errlen, TG_ERR_IO, "%s: read error: %s", r->path,
                                strerror(errno));
            return false;
        }
        r->file_end = true;
    }
    r->nread += (int64_t)k;
    r->z.next_in = r->in;
    r->z.avail_in = (uInt)(keep + k);
    return true;
}

/* After a complete member: the end of the file, another member (its two
 * magic bytes), or an error for anything else. */
static bool gz_next_member(tg__io_rd *r, char *err, size_t errlen) {
    if (r->z.avail_in == 0) {
        r->data_end = true; /* gz_fill ran: the file has ended */
        return true;
    }
    if (r->z.avail_in >= 2 && r->z.next_in[0] == 0x1f && r->z.next_in[1] == 0x8b) {
        inflateReset(&r->z);
        r->member_end = false;
        return true;
    }
    int64_t at = r->nread - (int64_t)r->z.avail_in, trailing = -1;
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) && (int64_t)st.st_size >= at)
        trailing = (int64_t)st.st_size - at;
    char count[32] = "the";
    if (trailing >= 0) snprintf(count, sizeof count, "%lld", (long long)trailing);
    r->st = tg__io_fail(err, errlen, TG_ERR_FORMAT,
                        "%s: %s byte%s after the end of the gzip data (offset %lld) %s not a "
                        "gzip member (something appended to the file?)",
                        r->path, count, trailing == 1 ? "" : "s", (long long)at,
                        trailing == 1 ? "is" : "are");
    return false;
}

static int64_t gz_read(tg__io_rd *r, unsigned char *buf, size_t n, char *err, size_t errlen) {
    size_t done = 0;
    while (done < n && !r->data_end) {
        /* a member's magic number is two bytes: have both in view */
        if (r->z.avail_in < (r->member_end ? 2u : 1u) && !r->file_end) {
            if (!gz_fill(r, err, errlen)) return -1;
            continue;
        }
        if (r->member_end) {
            if (!gz_next_member(r, err, errlen)) return -1;
            continue;
        }
        uInt in0 = r->z.avail_in, out0 = n - done > UINT_MAX ? UINT_MAX : (uInt)(n - done);
        r->z.next_out = buf + done;
        r->z.avail_out = out0;
        int ret = inflate(&r->z, Z_NO_FLUSH);
        done += out0 - r->z.avail_out;
        if (ret == Z_STREAM_END) {
            r->member_end = true;
        } else if (ret == Z_MEM_ERROR) {
            r->st = tg__io_fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", r->path);
            return -1;
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            r->st = tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s: corrupt gzip data (%s)", r->path,
                                r->z.msg ? r->z.msg : "zlib error");
            return -1;
        } else if (r->z.avail_in == in0 && r->z.avail_out == out0) {
            /* no progress: inflate needs more input than is in view */
            if (r->file_end) {
                r->st = tg__io_fail(err, errlen, TG_ERR_FORMAT,
                                    "%s: truncated gzip data: the file ends inside a gzip "
                                    "member after %lld bytes",
                                    r->path, (long long)r->nread);
                return -1;
            }
            if (!gz_fill(r, err, errlen)) return -1;
        }
    }
    return (int64_t)done;
}
#endif

int64_t tg__io_read(tg__io_rd *r, void *buf, size_t n, char *err, size_t errlen) {
#ifdef TG_HAVE_ZLIB
    if (r->gz) return gz_read(r, buf, n, err, errlen);
#endif
    size_t done = 0;
    while (done < n) {
        size_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
        size_t k = fread((char *)buf + done, 1, want, r->f);
        done += k;
        if (k < want) {
            if (ferror(r->f)) {
                r->st = tg__io_fail(err, errlen, TG_ERR_IO, "%s: read error: %s", r->path,
                                    strerror(errno));
                return -1;
            }
            break;
        }
    }
    return (int64_t)done;
}

void tg__io_close(tg__io_rd *r) {
#ifdef TG_HAVE_ZLIB
    if (r->gz) inflateEnd(&r->z);
    tg_free(r->in);
    r->in = NULL;
    r->gz = false;
#endif
    if (r->f) fclose(r->f);
    r->f = NULL;
}

/* --------------------------------------------------------------- writing */

bool tg__io_write_all(int fd, const void *buf, size_t n) {
    const unsigned char *b = buf;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        b += w, n -= (size_t)w;
    }
    return true;
}

static atomic_uint tmp_counter;

tg_status tg__io_write_atomic(const char *path, tg__io_put_fn put, void *ctx, char *why,
                              size_t whylen) {
    /* the temporary file, next to the target */
    size_t plen = strlen(path);
    char *tmp = tg_malloc(plen + 64);
    if (!tmp) return tg__io_fail(why, whylen, TG_ERR_NOMEM, "out of memory");
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, plen + 64, "%s.tmp%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1u));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        tg__io_seterr(why, whylen, "cannot create a temporary file: %s", strerror(errno));
        tg_free(tmp);
        return TG_ERR_IO;
    }
    bool ok = put(fd, ctx);
    int e = ok ? 0 : errno;
    if (ok && fsync(fd) != 0) ok = false, e = errno;
    if (close(fd) != 0 && ok) ok = false, e = errno;
    if (ok && rename(tmp, path) != 0) ok = false, e = errno;
    if (!ok) {
        unlink(tmp);
        tg_free(tmp);
        tg__io_seterr(why, whylen, "cannot write: %s", e ? strerror(e) : "short write");
        return TG_ERR_IO;
    }
    tg_free(tmp);
    /* make the rename durable: fsync the directory (errors ignored: the
     * file is complete and in place; some file systems refuse this) */
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash) {
        size_t dn = slash == path ? 1 : (size_t)(slash - path);
        dir = tg_malloc(dn + 1);
        if (dir) memcpy(dir, path, dn), dir[dn] = 0;
    }
    int dfd = slash && !dir ? -1 : open(slash ? dir : ".", O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    tg_free(dir);
    return TG_OK;
}
