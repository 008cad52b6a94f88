/* csv.c - tables of numbers from CSV files (tg_data.h), plain or gzip'd:
 * one sample per line, every field a finite number, an optional integer
 * label column. Errors name the file, the line and the field.
 *
 * Numbers are read by strtod under a "C" locale made with newlocale and
 * installed for the calling thread alone with uselocale (POSIX 2008), so
 * a program that called setlocale with a decimal comma still reads "1.5";
 * its own locale is back in place when tg_csv_read returns.
 */
#include "io_util.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* One field: [b, e) with blanks trimmed, inside the file's text. */
typedef struct field { char *b, *e; } field;

/* Whether the whole field is a number in strtod's syntax (decimal or
 * hexadecimal, "inf" and "nan" included; any length), its value in *v.
 * The byte at f.e (a delimiter, a blank, a line end or the terminating
 * NUL of the text) is replaced by a NUL for strtod and put back. */
static bool parse_num(field f, double *v) {
    if (f.b == f.e) return false;
    char save = *f.e, *end;
    *f.e = 0;
    double x = strtod(f.b, &end);
    *f.e = save;
    if (end != f.e) return false;
    *v = x;
    return true;
}

/* Splits line [p, e) into fields; returns the count (up to max stored). */
static int64_t split_line(char *p, char *e, char delim, field *fs, int64_t max) {
    int64_t n = 0;
    for (;;) {
        char *q = p;
        while (q < e && *q != delim) q++;
        char *b = p, *fe = q;
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
    tg__io_rd r;
    *out = NULL;
    tg_status s = tg__io_open(&r, path, err, errlen);
    if (s != TG_OK) return s;
    void *buf = NULL;
    size_t cap = 0, used = 0;
    for (;;) {
        if (used + 65536 + 1 > cap && !tg__io_grow(&buf, &cap, used, used + 65536 + 1, 1)) {
            tg_free(buf);
            tg__io_close(&r);
            return tg__io_fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", path);
        }
        int64_t k = tg__io_read(&r, (char *)buf + used, 65536, err, errlen);
        if (k < 0) {
            tg_free(buf);
            tg__io_close(&r);
            return r.st;
        }
        used += (size_t)k;
        if ((int64_t)used > TG_DATA_MAX_BYTES) {
            tg_free(buf);
            tg__io_close(&r);
            return tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s: larger than %lld bytes", path,
                               (long long)TG_DATA_MAX_BYTES);
        }
        if (k < 65536) break;
    }
    tg__io_close(&r);
    ((char *)buf)[used] = 0;
    *out = buf;
    *len = used;
    return TG_OK;
}

tg_status tg__csv_read_e(const char *path, const tg_csv_opts *opts, tg_dataset *out, char *err,
                         size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out)
        return tg__io_fail(err, errlen, TG_ERR_NULL, "csv_read: NULL path or output");
    tg_csv_opts o = opts ? *opts : (tg_csv_opts){0};
    char delim = o.delimiter ? o.delimiter : ',';
    if (delim == '\n' || delim == '\r' || delim == '.' || delim == '-' || delim == '+' ||
        (delim >= '0' && delim <= '9'))
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "csv_read: %s: the delimiter '%c' cannot separate numbers", path, delim);
    if (o.header < -1 || o.header > 1)
        return tg__io_fail(err, errlen, TG_ERR_ARG,
                           "csv_read: %s: header must be -1, 0 or 1, not %d", path, o.header);
    char *text = NULL;
    size_t len = 0;
    tg_status s = slurp(path, &text, &len, err, errlen);
    if (s != TG_OK) return s;
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c_locale) {
        tg_free(text);
        return tg__io_fail(err, errlen, TG_ERR_NOMEM, "csv_read: %s: cannot make the C locale",
                           path);
    }
    locale_t caller_locale = uselocale(c_locale); /* this thread only; put back below */

    field *fs = NULL;           /* the fields of the current line */
    int64_t ncols = -1, lab = -1, nf = 0;
    void *x = NULL, *y = NULL;  /* growing [rows, nfeat] floats and [rows] labels */
    size_t xcap = 0, ycap = 0;
    int64_t rows = 0, maxl = -1, lineno = 0;
    bool header_pending = o.header >= 0;
    char fb[64];
    char *p = text, *end = text + len;
    /* a UTF-8 byte-order mark is no part of the first field */
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) p += 3;
    while (p < end && s == TG_OK) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        lineno++;
        const char *q = p;
        while (q < e && is_blank(*q)) q++;
        char *line = p;
        p = e + 1;
        if (q == e) continue; /* a blank line */
        if (memchr(line, 0, (size_t)(e - line))) {
            s = tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s:%lld: a NUL byte: not a text file",
                            path, (long long)lineno);
            break;
        }
        int64_t n = split_line(line, e, delim, NULL, 0);
        if (ncols < 0) {
            ncols = n;
            fs = tg_malloc((size_t)ncols * sizeof *fs);
            if (!fs) {
                s = tg__io_fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            if (o.has_label) {
                lab = o.label_col < 0 ? ncols + o.label_col : o.label_col;
                if (lab < 0 || lab >= ncols || ncols < 2) {
                    s = tg__io_fail(
                        err, errlen, TG_ERR_ARG,
                        "csv_read: %s: label column %d does not exist in %lld columns (and at "
                        "least one feature column is needed)",
                        path, o.label_col, (long long)ncols);
                    break;
                }
            }
            nf = ncols - (o.has_label ? 1 : 0);
        }
        if (n != ncols) {
            s = tg__io_fail(err, errlen, TG_ERR_FORMAT,
                            "%s:%lld: %lld fields, but the first line has %lld", path,
                            (long long)lineno, (long long)n, (long long)ncols);
            break;
        }
        split_line(line, e, delim, fs, ncols);
        if (header_pending) {
            /* header 1: skip the first line; header 0: skip it when no
             * field is a number, read it when every field is one, and
             * refuse anything between (never drop a line of data) */
            header_pending = false;
            if (o.header == 1) continue;
            int64_t num = -1, word = -1; /* the first number, the first other field */
            for (int64_t c = 0; c < ncols; c++) {
                double v;
                if (parse_num(fs[c], &v)) {
                    if (num < 0) num = c;
                } else if (word < 0) {
                    word = c;
                }
            }
            if (num < 0) continue; /* a header */
            if (word >= 0) {
                field_str(fs[word], fb, sizeof fb);
                s = tg__io_fail(
                    err, errlen, TG_ERR_FORMAT,
                    "%s:%lld: field %lld is %s%s%s, not a number, but field %lld is a number: "
                    "the first line is neither a header (no field a number) nor data (every "
                    "field a number); set the header option to 1 if it is a header",
                    path, (long long)lineno, (long long)word + 1,
                    fs[word].b == fs[word].e ? "empty" : "\"", fb,
                    fs[word].b == fs[word].e ? "" : "\"", (long long)num + 1);
                break;
            }
        }
        if (!tg__io_grow(&x, &xcap, (size_t)(rows * nf), (size_t)((rows + 1) * nf),
                         sizeof(float)) ||
            (o.has_label &&
             !tg__io_grow(&y, &ycap, (size_t)rows, (size_t)rows + 1, sizeof(int64_t)))) {
            s = tg__io_fail(err, errlen, TG_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        float *xr = (float *)x + rows * nf;
        for (int64_t c = 0, j = 0; c < ncols; c++) {
            double v;
            if (!parse_num(fs[c], &v) || !isfinite(v)) {
                field_str(fs[c], fb, sizeof fb);
                if (fs[c].b == fs[c].e)
                    s = tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s:%lld: field %lld is empty",
                                    path, (long long)lineno, (long long)c + 1);
                else
                    s = tg__io_fail(err, errlen, TG_ERR_FORMAT,
                                    "%s:%lld: field %lld is \"%s\", not a finite number", path,
                                    (long long)lineno, (long long)c + 1, fb);
                break;
            }
            if (c == lab) {
                if (!(v >= 0 && v <= 2147483647.0 && v == floor(v))) {
                    field_str(fs[c], fb, sizeof fb);
                    s = tg__io_fail(
                        err, errlen, TG_ERR_FORMAT,
                        "%s:%lld: field %lld (the label) is \"%s\", not a non-negative integer",
                        path, (long long)lineno, (long long)c + 1, fb);
                    break;
                }
                ((int64_t *)y)[rows] = (int64_t)v;
                if ((int64_t)v > maxl) maxl = (int64_t)v;
            } else {
                if (fabs(v) > FLT_MAX) { /* finite as a double, not as a float */
                    field_str(fs[c], fb, sizeof fb);
                    s = tg__io_fail(err, errlen, TG_ERR_FORMAT,
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
        s = tg__io_fail(err, errlen, TG_ERR_FORMAT, "%s: no data lines", path);
    if (s == TG_OK) {
        /* Move into exactly sized arrays owned by the data set. */
        int64_t shape[1] = {nf};
        s = tg__dataset_alloc_e(out, rows, 1, shape, o.has_label, err, errlen);
        if (s == TG_OK) {
            memcpy(out->x, x, (size_t)(rows * nf) * sizeof(float));
            if (o.has_label) memcpy(out->y, y, (size_t)rows * sizeof(int64_t));
            out->nclasses = o.has_label ? maxl + 1 : 0;
            tg__io_seterr(err, errlen, "%s", "");
        }
    }
    uselocale(caller_locale);
    freelocale(c_locale);
    tg_free(fs);
    tg_free(x);
    tg_free(y);
    tg_free(text);
    return s;
}
