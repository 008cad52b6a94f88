/* io_util.h - what nn/'s file code shares (internal to nn/, not installed):
 * the error sentence, array growth, overflow-checked products, byte order,
 * a reader for plain or gzip'd files, and the one atomic file writer used
 * by checkpoints (checkpoint.c) and IDX files (idx.c).
 *
 * The library is built with -fvisibility=hidden: these tg__io_ names are
 * not exported from the shared library.
 */
#ifndef TG_IO_UTIL_H
#define TG_IO_UTIL_H

#include "errbuf.h"
#include "tapegrad.h"

#include <stdio.h>

#ifdef TG_HAVE_ZLIB
#include <zlib.h>
#endif

#if defined(__GNUC__)
#define TG__FMT(a, b) __attribute__((format(printf, a, b)))
#else
#define TG__FMT(a, b)
#endif

/* ---------------------------------------------------------------- errors */

/* Writes one sentence into the caller's buffer err of errlen bytes (always
 * terminated; err may be NULL). tg__io_seterr(err, errlen, "%s", "")
 * clears it. */
void tg__io_seterr(char *err, size_t errlen, const char *fmt, ...) TG__FMT(3, 4);

/* tg__io_seterr, then returns s: `return tg__io_fail(err, errlen,
 * TG_ERR_IO, "%s: cannot open", path);`. */
tg_status tg__io_fail(char *err, size_t errlen, tg_status s, const char *fmt, ...) TG__FMT(4, 5);

/* ---------------------------------------------------------------- memory */

/* Grows *p (a tg_malloc'd array holding `used` elements of esz bytes, *cap
 * of room) to at least `need` elements, doubling from 64; tg_malloc has no
 * realloc, so it copies. False (and *p untouched) when out of memory. */
bool tg__io_grow(void **p, size_t *cap, size_t used, size_t need, size_t esz);

/* a * b into *out unless it overflows int64 (false for a or b < 0). */
bool tg__io_mul_ok(int64_t a, int64_t b, int64_t *out);

/* "[2,3]" into buf (n bytes). */
void tg__io_shape_str(int rank, const int64_t *shape, char *buf, size_t n);

/* ------------------------------------------------------------ byte order */

bool tg__io_host_little(void);

/* Reverses the bytes of each `size`-byte element of buf in place (size 1,
 * 2, 4 or 8; 1 does nothing). */
void tg__io_swap(unsigned char *buf, size_t nbytes, int size);

/* ------------------------------------------------ reading, plain or gzip */

/* A file opened for reading, plain or gzip'd (by its first two bytes).
 * A gzip'd file is inflated here (zlib's inflate, allocating through
 * tg_malloc), not through gzread, which ignores bytes after the gzip data:
 * the file must be one or more whole gzip members (RFC 1952; the members'
 * data are read as one stream, as gunzip does) and nothing else. */
typedef struct tg__io_rd {
    const char *path;
    FILE *f;
    tg_status st; /* why the last tg__io_read failed: TG_ERR_IO, TG_ERR_FORMAT or TG_ERR_NOMEM */
#ifdef TG_HAVE_ZLIB
    bool gz;          /* gzip'd: inflate what f holds */
    bool file_end;    /* f has no more bytes */
    bool member_end;  /* the last member read so far is complete */
    bool data_end;    /* the file ended right after a complete member */
    int64_t nread;    /* bytes read from f so far */
    unsigned char *in; /* bytes read from f, not yet inflated: z.next_in, z.avail_in */
    z_stream z;
#endif
} tg__io_rd;

/* Opens path; errors name the file ("<path>: cannot open: ..."), and a
 * gzip'd file without zlib is TG_ERR_FORMAT. Close with tg__io_close. On
 * failure nothing is left open. */
tg_status tg__io_open(tg__io_rd *r, const char *path, char *err, size_t errlen);

/* Reads up to n bytes; returns how many (< n only at the end), or -1 on a
 * read error (message in err, status in r->st). For a gzip'd file the
 * errors are: corrupt gzip data (zlib's reason), a file that ends inside
 * a member ("truncated gzip data"), and bytes after the last complete
 * member that do not start another ("N bytes after the end of the gzip
 * data (offset M) are not a gzip member"), all TG_ERR_FORMAT. */
int64_t tg__io_read(tg__io_rd *r, void *buf, size_t n, char *err, size_t errlen);

void tg__io_close(tg__io_rd *r);

/* --------------------------------------------------------------- writing */

/* Writes n bytes to fd, retrying short writes; false with errno on error. */
bool tg__io_write_all(int fd, const void *buf, size_t n);

/* Writes a file's contents to fd; false (with errno set) on an error. */
typedef bool (*tg__io_put_fn)(int fd, void *ctx);

/* Writes path atomically: put(fd, ctx) fills "<path>.tmp<pid>.<n>" (a new
 * file, O_EXCL, next to path), which is fsync'ed and renamed over path;
 * then the directory is fsync'ed. On failure the temporary file is
 * removed and path is untouched; the reason goes into why (whylen bytes):
 * "out of memory", "cannot create a temporary file: <strerror>" or
 * "cannot write: <strerror>"; the status is TG_ERR_NOMEM or TG_ERR_IO. A
 * process killed mid-write leaves its temporary file behind. */
tg_status tg__io_write_atomic(const char *path, tg__io_put_fn put, void *ctx, char *why,
                              size_t whylen);

#endif
