/* checkpoint.c - safetensors save / load (see tg_checkpoint.h).
 *
 * Reading: the file is never trusted. The header length is bounded and
 * checked against the file size before anything is allocated; the JSON is
 * read by a strict parser that knows exactly one schema (so nesting is at
 * most three deep by construction: top object, tensor or metadata object,
 * shape/offset array), rejects duplicate keys, unknown fields, non-integer
 * or negative numbers, numbers that overflow, bad escapes, invalid UTF-8,
 * control characters and anything after the closing brace but the
 * spaces the format allows as padding. Offsets must tile the data section
 * exactly. Tensor data is read with pread at validated offsets only.
 *
 * Writing: header then data into "<path>.tmp<pid>.<n>" (O_EXCL), fsync,
 * rename over path, fsync the directory.
 *
 * Every allocation goes through tg_malloc / tg_free (the pluggable
 * allocator).
 */
#include "tapegrad.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---------------------------------------------------------------- errors */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *str_dup(const char *s) {
    size_t n = strlen(s);
    char *d = tg_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* ---------------------------------------------------------------- dtypes */

typedef struct ck_dtype {
    const char *name;
    int size;    /* bytes per element */
    int tg;      /* the tg_dtype, or -1 if tapegrad has no such type */
} ck_dtype;

static const ck_dtype dtypes[] = {
    {"F32", 4, TG_F32},  {"F64", 8, TG_F64},     {"I64", 8, TG_I64},     {"BOOL", 1, -1},
    {"U8", 1, -1},       {"I8", 1, -1},          {"F8_E5M2", 1, -1},     {"F8_E4M3", 1, -1},
    {"I16", 2, -1},      {"U16", 2, -1},         {"F16", 2, -1},         {"BF16", 2, -1},
    {"I32", 4, -1},      {"U32", 4, -1},         {"U64", 8, -1},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static int dtype_of_tg(tg_dtype dt) {
    for (int i = 0; i < NDTYPES; i++)
        if (dtypes[i].tg == (int)dt) return i;
    return -1;
}

static bool host_little(void) {
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

/* Reverses each `size`-byte element of buf in place (big-endian hosts). */
static void swap_bytes(unsigned char *buf, size_t nbytes, int size) {
    for (size_t i = 0; i + (size_t)size <= nbytes; i += (size_t)size)
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = buf[i + (size_t)a];
            buf[i + (size_t)a] = buf[i + (size_t)b];
            buf[i + (size_t)b] = t;
        }
}

/* ------------------------------------------------------------ the handle */

typedef struct ck_entry {
    char *name;
    int dt;                      /* index into dtypes */
    int rank;
    int64_t shape[TG_MAX_RANK];
    uint64_t begin, end;         /* relative to the data section */
} ck_entry;

struct tg_checkpoint {
    int fd;
    char *path;
    uint64_t data_start, data_len;
    int n, cap;
    ck_entry *e;
    int *byname;                 /* entry indices sorted by name */
    int nmeta, metacap;
    char **meta;                 /* key, value, key, value, ... */
};

/* Grows a tg_malloc'd array of `elem`-byte items to hold one more. */
static bool grow(void **arr, int *cap, int count, size_t elem) {
    if (count < *cap) return true;
    int ncap = *cap ? *cap * 2 : 16;
    if (ncap < *cap || (size_t)ncap > SIZE_MAX / elem) return false;
    void *p = tg_malloc((size_t)ncap * elem);
    if (!p) return false;
    if (*arr) memcpy(p, *arr, (size_t)count * elem);
    tg_free(*arr);
    *arr = p;
    *cap = ncap;
    return true;
}

void tg_checkpoint_close(tg_checkpoint *ck) {
    if (!ck) return;
    if (ck->fd >= 0) close(ck->fd);
    for (int i = 0; i < ck->n; i++) tg_free(ck->e[i].name);
    for (int i = 0; i < 2 * ck->nmeta; i++) tg_free(ck->meta[i]);
    tg_free(ck->e);
    tg_free(ck->meta);
    tg_free(ck->byname);
    tg_free(ck->path);
    tg_free(ck);
}

/* ------------------------------------------------------------------ JSON */

typedef struct jp {
    const unsigned char *s;
    size_t n, i;
    char *err;
    size_t errlen;
    const char *path;
    tg_status st;     /* TG_ERR_FORMAT, or TG_ERR_NOMEM */
} jp;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool jfail(jp *p, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    seterr(p->err, p->errlen, "checkpoint '%s': bad header JSON at byte %zu of %zu: %s", p->path,
           p->i, p->n, msg);
    p->st = TG_ERR_FORMAT;
    return false;
}

static bool jnomem(jp *p) {
    seterr(p->err, p->errlen, "checkpoint '%s': out of memory reading the header", p->path);
    p->st = TG_ERR_NOMEM;
    return false;
}

static void jws(jp *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static bool jexpect(jp *p, char c) {
    jws(p);
    if (p->i >= p->n) return jfail(p, "expected '%c', found the end of the header", c);
    unsigned char f = p->s[p->i];
    if (f != (unsigned char)c) {
        if (f >= 0x20 && f < 0x7f) return jfail(p, "expected '%c', found '%c'", c, f);
        return jfail(p, "expected '%c', found byte 0x%02x", c, f);
    }
    p->i++;
    return true;
}

/* Length of the valid UTF-8 sequence starting at s[0] (n bytes left), or 0
 * if it is invalid (overlong forms, surrogates, > U+10FFFF rejected). */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000, cp = c & 0x07;
    else return 0;
    if (len > n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool jhex4(jp *p, uint32_t *v) {
    if (p->n - p->i < 4) return jfail(p, "truncated \\u escape");
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->i + (size_t)k]);
        if (h < 0) return jfail(p, "bad hex digit in a \\u escape");
        x = x * 16 + (uint32_t)h;
    }
    p->i += 4;
    *v = x;
    return true;
}

/* A JSON string into a new NUL-terminated buffer (*out, tg_malloc'd).
 * Rejects \u0000 (names are C strings). */
static bool jstring(jp *p, char **out) {
    *out = NULL;
    jws(p);
    if (p->i >= p->n || p->s[p->i] != '"') return jfail(p, "expected a string");
    p->i++;
    /* An upper bound on the decoded length: the raw length to the end. */
    size_t start = p->i, cap = 1;
    for (size_t k = start; k < p->n && p->s[k] != '"'; k++) {
        cap++;
        if (p->s[k] == '\\') k++, cap++;
    }
    char *buf = tg_malloc(cap);
    if (!buf) return jnomem(p);
    size_t o = 0;
    for (;;) {
        if (p->i >= p->n) {
            tg_free(buf);
            return jfail(p, "unterminated string");
        }
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) {
            tg_free(buf);
            return jfail(p, "control character 0x%02x in a string", c);
        }
        if (c == '\\') {
            if (p->i + 1 >= p->n) {
                tg_free(buf);
                return jfail(p, "unterminated escape");
            }
            unsigned char e = p->s[p->i + 1];
            p->i += 2;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char repl[] = "\"\\/\b\f\n\r\t";
                buf[o++] = repl[simple - "\"\\/bfnrt"];
                continue;
            }
            if (e != 'u') {
                p->i -= 2;
                tg_free(buf);
                return jfail(p, "bad escape '\\%c'", e);
            }
            uint32_t cp;
            if (!jhex4(p, &cp)) return tg_free(buf), false;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return tg_free(buf), jfail(p, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    return tg_free(buf), jfail(p, "high surrogate without a low one");
                p->i += 2;
                if (!jhex4(p, &lo)) return tg_free(buf), false;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return tg_free(buf), jfail(p, "high surrogate without a low one");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) return tg_free(buf), jfail(p, "\\u0000 in a string");
            if (cp < 0x80) {
                buf[o++] = (char)cp;
            } else if (cp < 0x800) {
                buf[o++] = (char)(0xC0 | (cp >> 6));
                buf[o++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[o++] = (char)(0xE0 | (cp >> 12));
                buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                buf[o++] = (char)(0xF0 | (cp >> 18));
                buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[o++] = (char)(0x80 | (cp & 0x3F));
            }
            continue;
        }
        size_t len = utf8_len(p->s + p->i, p->n - p->i);
        if (!len) return tg_free(buf), jfail(p, "invalid UTF-8 in a string");
        memcpy(buf + o, p->s + p->i, len);
        o += len;
        p->i += len;
    }
    buf[o] = 0;
    *out = buf;
    return true;
}

/* A non-negative JSON integer (no sign, fraction, exponent or leading
 * zeros) that fits in `max`. */
static bool juint(jp *p, uint64_t max, uint64_t *v) {
    jws(p);
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') {
        if (p->i < p->n && p->s[p->i] == '-') return jfail(p, "negative number");
        return jfail(p, "expected a non-negative integer");
    }
    if (p->s[p->i] == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')
        return jfail(p, "number with a leading zero");
    uint64_t x = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = p->s[p->i] - '0';
        if (x > (max - d) / 10) return jfail(p, "number too large");
        x = x * 10 + d;
        p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return jfail(p, "expected an integer, found a fraction or exponent");
    *v = x;
    return true;
}

/* One tensor's {"dtype": .., "shape": [..], "data_offsets": [b, e]}. */
static bool jtensor(jp *p, ck_entry *e) {
    bool have_dt = false, have_shape = false, have_off = false;
    if (!jexpect(p, '{')) return false;
    jws(p);
    if (p->i < p->n && p->s[p->i] == '}') return jfail(p, "tensor \"%s\" has no fields", e->name);
    for (;;) {
        char *key;
        if (!jstring(p, &key)) return false;
        if (!jexpect(p, ':')) return tg_free(key), false;
        if (!strcmp(key, "dtype")) {
            tg_free(key);
            if (have_dt) return jfail(p, "duplicate \"dtype\" in tensor \"%s\"", e->name);
            char *dt;
            if (!jstring(p, &dt)) return false;
            e->dt = -1;
            for (int k = 0; k < NDTYPES; k++)
                if (!strcmp(dt, dtypes[k].name)) e->dt = k;
            if (e->dt < 0) {
                jfail(p, "unknown dtype \"%.40s\" for tensor \"%s\"", dt, e->name);
                tg_free(dt);
                return false;
            }
            tg_free(dt);
            have_dt = true;
        } else if (!strcmp(key, "shape")) {
            tg_free(key);
            if (have_shape) return jfail(p, "duplicate \"shape\" in tensor \"%s\"", e->name);
            if (!jexpect(p, '[')) return false;
            jws(p);
            e->rank = 0;
            if (p->i < p->n && p->s[p->i] == ']') {
                p->i++;
            } else {
                for (;;) {
                    uint64_t d;
                    if (e->rank == TG_MAX_RANK)
                        return jfail(p, "tensor \"%s\" has more than %d dimensions", e->name,
                                     TG_MAX_RANK);
                    if (!juint(p, (uint64_t)INT64_MAX, &d)) return false;
                    e->shape[e->rank++] = (int64_t)d;
                    jws(p);
                    if (p->i < p->n && p->s[p->i] == ',') {
                        p->i++;
                        continue;
                    }
                    if (!jexpect(p, ']')) return false;
                    break;
                }
            }
            have_shape = true;
        } else if (!strcmp(key, "data_offsets")) {
            tg_free(key);
            if (have_off) return jfail(p, "duplicate \"data_offsets\" in tensor \"%s\"", e->name);
            if (!jexpect(p, '[') || !juint(p, UINT64_MAX, &e->begin) || !jexpect(p, ',') ||
                !juint(p, UINT64_MAX, &e->end))
                return false;
            jws(p);
            if (p->i < p->n && p->s[p->i] == ',')
                return jfail(p, "data_offsets of tensor \"%s\" has more than 2 entries", e->name);
            if (!jexpect(p, ']')) return false;
            have_off = true;
        } else {
            jfail(p, "unknown field \"%.40s\" in tensor \"%s\"", key, e->name);
            tg_free(key);
            return false;
        }
        jws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (!jexpect(p, '}')) return false;
        break;
    }
    if (!have_dt || !have_shape || !have_off)
        return jfail(p, "tensor \"%s\" lacks \"%s\"", e->name,
                     !have_dt ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return true;
}

/* "__metadata__": {"key": "value", ...} */
static bool jmeta(jp *p, tg_checkpoint *ck) {
    if (!jexpect(p, '{')) return false;
    jws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
        return true;
    }
    for (;;) {
        char *k, *v;
        if (!jstring(p, &k)) return false;
        if (!jexpect(p, ':')) return tg_free(k), false;
        jws(p);
        if (p->i < p->n && p->s[p->i] != '"') {
            jfail(p, "metadata value of \"%.40s\" is not a string", k);
            return tg_free(k), false;
        }
        if (!jstring(p, &v)) return tg_free(k), false;
        int pairs_cap = ck->metacap / 2;
        void *arr = ck->meta;
        if (!grow(&arr, &pairs_cap, ck->nmeta, 2 * sizeof(char *))) {
            tg_free(k), tg_free(v);
            return jnomem(p);
        }
        ck->meta = arr;
        ck->metacap = pairs_cap * 2;
        ck->meta[2 * ck->nmeta] = k;
        ck->meta[2 * ck->nmeta + 1] = v;
        ck->nmeta++;
        jws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        return jexpect(p, '}');
    }
}

static bool jheader(jp *p, tg_checkpoint *ck) {
    bool have_meta = false;
    jws(p);
    if (p->i >= p->n || p->s[p->i] != '{') return jfail(p, "the header does not start with '{'");
    p->i++;
    jws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
    } else {
        for (;;) {
            char *key;
            if (!jstring(p, &key)) return false;
            if (!jexpect(p, ':')) return tg_free(key), false;
            if (!strcmp(key, "__metadata__")) {
                tg_free(key);
                if (have_meta) return jfail(p, "duplicate \"__metadata__\"");
                have_meta = true;
                if (!jmeta(p, ck)) return false;
            } else {
                void *arr = ck->e;
                if (!grow(&arr, &ck->cap, ck->n, sizeof(ck_entry))) {
                    tg_free(key);
                    return jnomem(p);
                }
                ck->e = arr;
                ck_entry *e = &ck->e[ck->n++];
                memset(e, 0, sizeof *e);
                e->name = key;
                if (!jtensor(p, e)) return false;
            }
            jws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (!jexpect(p, '}')) return false;
            break;
        }
    }
    jws(p);
    if (p->i != p->n) return jfail(p, "unexpected bytes after the closing '}'");
    return true;
}

/* ------------------------------------------------------------ validation */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort has no user pointer, so the comparisons sort small keys that carry
 * what they need (re-entrant, no file-static context). */
typedef struct ck_key {
    const char *name;
    uint64_t begin, end;
    int idx;
} ck_key;

static int cmp_key_name(const void *a, const void *b) {
    return strcmp(((const ck_key *)a)->name, ((const ck_key *)b)->name);
}
static int cmp_key_off(const void *a, const void *b) {
    const ck_key *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static tg_status validate(tg_checkpoint *ck, char *err, size_t errlen) {
    const char *path = ck->path;
    for (int i = 0; i < ck->n; i++) {
        ck_entry *e = &ck->e[i];
        uint64_t numel = 1;
        for (int d = 0; d < e->rank; d++) {
            uint64_t s = (uint64_t)e->shape[d];
            if (s && numel > (uint64_t)INT64_MAX / s) {
                seterr(err, errlen, "checkpoint '%s': tensor \"%s\": shape too large", path,
                       e->name);
                return TG_ERR_FORMAT;
            }
            numel *= s;
        }
        uint64_t size = (uint64_t)dtypes[e->dt].size;
        if (numel > UINT64_MAX / size) {
            seterr(err, errlen, "checkpoint '%s': tensor \"%s\": shape too large", path, e->name);
            return TG_ERR_FORMAT;
        }
        uint64_t bytes = numel * size;
        if (e->begin > e->end) {
            seterr(err, errlen,
                   "checkpoint '%s': tensor \"%s\": data_offsets [%llu, %llu] end before they begin",
                   path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end);
            return TG_ERR_FORMAT;
        }
        if (e->end - e->begin != bytes) {
            seterr(err, errlen,
                   "checkpoint '%s': tensor \"%s\": data_offsets [%llu, %llu] span %llu bytes, but "
                   "%s with %llu elements needs %llu",
                   path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                   (unsigned long long)(e->end - e->begin), dtypes[e->dt].name,
                   (unsigned long long)numel, (unsigned long long)bytes);
            return TG_ERR_FORMAT;
        }
        if (e->end > ck->data_len) {
            seterr(err, errlen,
                   "checkpoint '%s': tensor \"%s\": data_offsets [%llu, %llu] run past the end of "
                   "the data (%llu bytes; the file is truncated or corrupt)",
                   path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                   (unsigned long long)ck->data_len);
            return TG_ERR_FORMAT;
        }
    }
    ck_key *keys = tg_malloc((size_t)(ck->n ? ck->n : 1) * sizeof *keys);
    ck->byname = tg_malloc((size_t)(ck->n ? ck->n : 1) * sizeof(int));
    if (!keys || !ck->byname) {
        tg_free(keys);
        seterr(err, errlen, "checkpoint '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }
    for (int i = 0; i < ck->n; i++)
        keys[i] = (ck_key){ck->e[i].name, ck->e[i].begin, ck->e[i].end, i};
    /* duplicate names */
    qsort(keys, (size_t)ck->n, sizeof *keys, cmp_key_name);
    for (int i = 0; i < ck->n; i++) {
        ck->byname[i] = keys[i].idx;
        if (i && !strcmp(keys[i].name, keys[i - 1].name)) {
            seterr(err, errlen, "checkpoint '%s': tensor \"%s\" appears twice in the header", path,
                   keys[i].name);
            tg_free(keys);
            return TG_ERR_FORMAT;
        }
    }
    /* the tensors tile the data section: no gap, no overlap, nothing left */
    qsort(keys, (size_t)ck->n, sizeof *keys, cmp_key_off);
    uint64_t at = 0;
    for (int i = 0; i < ck->n; i++) {
        if (keys[i].begin != at) {
            if (keys[i].begin < at)
                seterr(err, errlen,
                       "checkpoint '%s': tensor \"%s\" at bytes [%llu, %llu] overlaps the tensor "
                       "before it (which ends at %llu)",
                       path, keys[i].name, (unsigned long long)keys[i].begin,
                       (unsigned long long)keys[i].end, (unsigned long long)at);
            else
                seterr(err, errlen,
                       "checkpoint '%s': gap in the data before tensor \"%s\" (bytes %llu to %llu "
                       "belong to no tensor)",
                       path, keys[i].name, (unsigned long long)at, (unsigned long long)keys[i].begin);
            tg_free(keys);
            return TG_ERR_FORMAT;
        }
        at = keys[i].end;
    }
    tg_free(keys);
    if (at != ck->data_len) {
        seterr(err, errlen,
               "checkpoint '%s': the data section has %llu bytes but the tensors cover %llu "
               "(trailing garbage or a wrong header)",
               path, (unsigned long long)ck->data_len, (unsigned long long)at);
        return TG_ERR_FORMAT;
    }
    /* duplicate metadata keys */
    if (ck->nmeta > 1) {
        char **k = tg_malloc((size_t)ck->nmeta * sizeof *k);
        if (!k) {
            seterr(err, errlen, "checkpoint '%s': out of memory", path);
            return TG_ERR_NOMEM;
        }
        for (int i = 0; i < ck->nmeta; i++) k[i] = ck->meta[2 * i];
        qsort(k, (size_t)ck->nmeta, sizeof *k, cmp_str);
        for (int i = 1; i < ck->nmeta; i++)
            if (!strcmp(k[i], k[i - 1])) {
                seterr(err, errlen, "checkpoint '%s': metadata key \"%s\" appears twice", path,
                       k[i]);
                tg_free(k);
                return TG_ERR_FORMAT;
            }
        tg_free(k);
    }
    return TG_OK;
}

/* Reads exactly n bytes at offset off; false on a short read or error. */
static bool pread_all(int fd, void *buf, size_t n, uint64_t off) {
    unsigned char *b = buf;
    while (n) {
        ssize_t r = pread(fd, b, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return true;
}

tg_status tg_checkpoint_open(const char *path, tg_checkpoint **out, char *err, size_t errlen) {
    seterr(err, errlen, "%s", "");
    if (out) *out = NULL;
    if (!path || !out) {
        seterr(err, errlen, "checkpoint open: %s is NULL", path ? "out" : "path");
        return TG_ERR_NULL;
    }
    tg_checkpoint *ck = tg_malloc(sizeof *ck);
    if (ck) {
        memset(ck, 0, sizeof *ck);
        ck->fd = -1;
        ck->path = str_dup(path);
    }
    if (!ck || !ck->path) {
        tg_checkpoint_close(ck);
        seterr(err, errlen, "checkpoint '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }
    ck->fd = open(path, O_RDONLY);
    if (ck->fd < 0) {
        seterr(err, errlen, "checkpoint '%s': cannot open: %s", path, strerror(errno));
        tg_checkpoint_close(ck);
        return TG_ERR_IO;
    }
    struct stat sb;
    if (fstat(ck->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        seterr(err, errlen, "checkpoint '%s': not a regular file", path);
        tg_checkpoint_close(ck);
        return TG_ERR_IO;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    unsigned char lenb[8];
    if (fsize < 8 || !pread_all(ck->fd, lenb, 8, 0)) {
        seterr(err, errlen,
               "checkpoint '%s': file too short (%llu bytes) to hold the 8-byte header length",
               path, (unsigned long long)fsize);
        tg_checkpoint_close(ck);
        return TG_ERR_FORMAT;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = hlen << 8 | lenb[k];
    if (hlen > TG_CHECKPOINT_MAX_HEADER || hlen > fsize - 8 || hlen < 2) {
        seterr(err, errlen,
               "checkpoint '%s': header length %llu is %s (the file has %llu bytes; at most %u "
               "are allowed)",
               path, (unsigned long long)hlen,
               hlen < 2               ? "too small for a JSON object"
               : hlen > fsize - 8     ? "larger than the file"
                                      : "larger than the limit",
               (unsigned long long)fsize, TG_CHECKPOINT_MAX_HEADER);
        tg_checkpoint_close(ck);
        return TG_ERR_FORMAT;
    }
    unsigned char *hdr = tg_malloc((size_t)hlen);
    if (!hdr) {
        seterr(err, errlen, "checkpoint '%s': out of memory for a %llu-byte header", path,
               (unsigned long long)hlen);
        tg_checkpoint_close(ck);
        return TG_ERR_NOMEM;
    }
    if (!pread_all(ck->fd, hdr, (size_t)hlen, 8)) {
        seterr(err, errlen, "checkpoint '%s': cannot read the header", path);
        tg_free(hdr);
        tg_checkpoint_close(ck);
        return TG_ERR_IO;
    }
    ck->data_start = 8 + hlen;
    ck->data_len = fsize - 8 - hlen;
    jp p = {hdr, (size_t)hlen, 0, err, errlen, path, TG_OK};
    bool ok = jheader(&p, ck);
    tg_free(hdr);
    if (!ok) {
        tg_checkpoint_close(ck);
        return p.st;
    }
    tg_status st = validate(ck, err, errlen);
    if (st != TG_OK) {
        tg_checkpoint_close(ck);
        return st;
    }
    *out = ck;
    return TG_OK;
}

/* --------------------------------------------------------------- queries */

int tg_checkpoint_count(const tg_checkpoint *ck) { return ck ? ck->n : 0; }

const char *tg_checkpoint_name(const tg_checkpoint *ck, int i) {
    return ck && i >= 0 && i < ck->n ? ck->e[i].name : NULL;
}

int tg_checkpoint_find(const tg_checkpoint *ck, const char *name) {
    if (!ck || !name) return -1;
    int lo = 0, hi = ck->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ck->e[ck->byname[mid]].name);
        if (!c) return ck->byname[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

bool tg_checkpoint_info(const tg_checkpoint *ck, int i, const char **dtype, int *rank,
                        int64_t *shape) {
    if (!ck || i < 0 || i >= ck->n) return false;
    const ck_entry *e = &ck->e[i];
    if (dtype) *dtype = dtypes[e->dt].name;
    if (rank) *rank = e->rank;
    if (shape)
        for (int d = 0; d < e->rank; d++) shape[d] = e->shape[d];
    return true;
}

const char *tg_checkpoint_meta(const tg_checkpoint *ck, const char *key) {
    if (!ck || !key) return NULL;
    for (int i = 0; i < ck->nmeta; i++)
        if (!strcmp(ck->meta[2 * i], key)) return ck->meta[2 * i + 1];
    return NULL;
}

static void shape_str(int rank, const int64_t *shape, char *buf, size_t n) {
    size_t o = 0;
    o += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < rank && o < n; d++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* Checks that entry i fits dst (dtype, shape). */
static tg_status check_dst(const tg_checkpoint *ck, int i, const tg_tensor *dst, char *err,
                           size_t errlen) {
    const ck_entry *e = &ck->e[i];
    if (!dst) {
        seterr(err, errlen, "checkpoint '%s': the destination of \"%s\" is NULL", ck->path,
               e->name);
        return TG_ERR_NULL;
    }
    if (tg_tensor_numel(dst) < 0 || (e->end > e->begin && !tg_tensor_data(dst))) {
        seterr(err, errlen, "checkpoint '%s': the destination of \"%s\" is stale or has no data",
               ck->path, e->name);
        return TG_ERR_STALE;
    }
    int want = dtype_of_tg(tg_tensor_dtype(dst));
    if (dtypes[e->dt].tg < 0 || want != e->dt) {
        seterr(err, errlen, "checkpoint '%s': tensor \"%s\" has dtype %s in the file but %s in "
               "memory", ck->path, e->name, dtypes[e->dt].name,
               want >= 0 ? dtypes[want].name : "an unknown dtype");
        return TG_ERR_DTYPE;
    }
    int r = tg_tensor_rank(dst);
    bool same = r == e->rank;
    for (int d = 0; same && d < r; d++) same = tg_tensor_dim(dst, d) == e->shape[d];
    if (!same) {
        char a[128], b[128];
        shape_str(e->rank, e->shape, a, sizeof a);
        tg_tensor_shape_str(dst, b, sizeof b);
        seterr(err, errlen, "checkpoint '%s': tensor \"%s\" has shape %s in the file but %s in "
               "memory", ck->path, e->name, a, b);
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

static tg_status read_into(tg_checkpoint *ck, int i, tg_tensor *dst, char *err, size_t errlen) {
    const ck_entry *e = &ck->e[i];
    size_t bytes = (size_t)(e->end - e->begin);
    if (!bytes) return TG_OK;
    if ((uint64_t)bytes != e->end - e->begin) {
        seterr(err, errlen, "checkpoint '%s': tensor \"%s\" is too large for this machine",
               ck->path, e->name);
        return TG_ERR_OVERFLOW;
    }
    unsigned char *d = tg_tensor_data(dst);
    if (!pread_all(ck->fd, d, bytes, ck->data_start + e->begin)) {
        seterr(err, errlen, "checkpoint '%s': cannot read the data of tensor \"%s\"", ck->path,
               e->name);
        return TG_ERR_IO;
    }
    if (!host_little()) swap_bytes(d, bytes, dtypes[e->dt].size);
    return TG_OK;
}

tg_status tg_checkpoint_read(tg_checkpoint *ck, const char *name, tg_tensor *dst, char *err,
                             size_t errlen) {
    seterr(err, errlen, "%s", "");
    if (!ck || !name) {
        seterr(err, errlen, "checkpoint read: %s is NULL", ck ? "name" : "the checkpoint");
        return TG_ERR_NULL;
    }
    int i = tg_checkpoint_find(ck, name);
    if (i < 0) {
        seterr(err, errlen, "checkpoint '%s': no tensor named \"%s\"", ck->path, name);
        return TG_ERR_ARG;
    }
    tg_status st = check_dst(ck, i, dst, err, errlen);
    return st != TG_OK ? st : read_into(ck, i, dst, err, errlen);
}

tg_tensor *tg_checkpoint_get(tg_checkpoint *ck, const char *name, tg_tape *tape, char *err,
                             size_t errlen) {
    seterr(err, errlen, "%s", "");
    if (!ck || !name || !tape) {
        seterr(err, errlen, "checkpoint get: %s is NULL",
               !ck ? "the checkpoint" : !name ? "name" : "tape");
        return NULL;
    }
    int i = tg_checkpoint_find(ck, name);
    if (i < 0) {
        seterr(err, errlen, "checkpoint '%s': no tensor named \"%s\"", ck->path, name);
        return NULL;
    }
    const ck_entry *e = &ck->e[i];
    if (dtypes[e->dt].tg < 0) {
        seterr(err, errlen, "checkpoint '%s': tensor \"%s\" has dtype %s, which tapegrad does "
               "not support (F32, F64, I64)", ck->path, name, dtypes[e->dt].name);
        return NULL;
    }
    tg_tensor *t = tg_tensor_new(tape, (tg_dtype)dtypes[e->dt].tg, e->rank, e->shape, NULL);
    if (!t) {
        seterr(err, errlen, "checkpoint '%s': cannot make tensor \"%s\": %s", ck->path, name,
               tg_tape_error(tape));
        return NULL;
    }
    return read_into(ck, i, t, err, errlen) == TG_OK ? t : NULL;
}

tg_status tg_checkpoint_load(const char *path, int n, const char *const *names,
                             tg_tensor *const *tensors, bool strict, char *err, size_t errlen) {
    seterr(err, errlen, "%s", "");
    if (n < 0 || (n > 0 && (!names || !tensors))) {
        seterr(err, errlen, "checkpoint load: %s", n < 0 ? "negative count" : "names or tensors is NULL");
        return n < 0 ? TG_ERR_ARG : TG_ERR_NULL;
    }
    tg_checkpoint *ck;
    tg_status st = tg_checkpoint_open(path, &ck, err, errlen);
    if (st != TG_OK) return st;
    int *idx = tg_malloc((size_t)(n ? n : 1) * sizeof(int));
    bool *used = tg_malloc((size_t)(ck->n ? ck->n : 1));
    if (!idx || !used) {
        seterr(err, errlen, "checkpoint '%s': out of memory", path);
        st = TG_ERR_NOMEM;
        goto done;
    }
    memset(used, 0, (size_t)(ck->n ? ck->n : 1));
    for (int k = 0; k < n; k++) {
        if (!names[k]) {
            seterr(err, errlen, "checkpoint '%s': name %d is NULL", path, k);
            st = TG_ERR_NULL;
            goto done;
        }
        idx[k] = tg_checkpoint_find(ck, names[k]);
        if (idx[k] < 0) {
            seterr(err, errlen, "checkpoint '%s': no tensor named \"%s\" (missing key)", path,
                   names[k]);
            st = TG_ERR_ARG;
            goto done;
        }
        if ((st = check_dst(ck, idx[k], tensors[k], err, errlen)) != TG_OK) goto done;
        used[idx[k]] = true;
    }
    if (strict)
        for (int i = 0; i < ck->n; i++)
            if (!used[i]) {
                seterr(err, errlen, "checkpoint '%s': unexpected tensor \"%s\" in the file "
                       "(strict load)", path, ck->e[i].name);
                st = TG_ERR_ARG;
                goto done;
            }
    for (int k = 0; k < n && st == TG_OK; k++) st = read_into(ck, idx[k], tensors[k], err, errlen);
done:
    tg_free(idx);
    tg_free(used);
    tg_checkpoint_close(ck);
    return st;
}

/* ---------------------------------------------------------------- saving */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *q = tg_malloc(cap);
        if (!q) {
            b->oom = true;
            return;
        }
        if (b->p) memcpy(q, b->p, b->n);
        tg_free(b->p);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) sb_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* A JSON string literal for s (valid UTF-8, checked by the caller). */
static void sb_json(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"') sb_put(b, "\\\"", 2);
        else if (*c == '\\') sb_put(b, "\\\\", 2);
        else if (*c < 0x20) sb_fmt(b, "\\u%04x", *c);
        else sb_put(b, (const char *)c, 1);
    }
    sb_put(b, "\"", 1);
}

static bool valid_utf8(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(u + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

static bool write_all(int fd, const void *buf, size_t n) {
    const unsigned char *b = buf;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        b += w, n -= (size_t)w;
    }
    return true;
}

static bool write_tensor(int fd, const tg_tensor *t, size_t bytes, int size) {
    const unsigned char *d = tg_tensor_data(t);
    if (!bytes) return true;
    if (host_little()) return write_all(fd, d, bytes);
    unsigned char tmp[4096];
    for (size_t o = 0; o < bytes; o += sizeof tmp) {
        size_t k = bytes - o < sizeof tmp ? bytes - o : sizeof tmp;
        memcpy(tmp, d + o, k);
        swap_bytes(tmp, k, size);
        if (!write_all(fd, tmp, k)) return false;
    }
    return true;
}

static atomic_uint tmp_counter;

tg_status tg_checkpoint_save(const char *path, int n, const char *const *names,
                             tg_tensor *const *tensors, int nmeta, const char *const *meta,
                             char *err, size_t errlen) {
    seterr(err, errlen, "%s", "");
    if (!path || (n > 0 && (!names || !tensors)) || (nmeta > 0 && !meta)) {
        seterr(err, errlen, "checkpoint save: %s is NULL",
               !path ? "path" : nmeta > 0 && !meta ? "meta" : "names or tensors");
        return TG_ERR_NULL;
    }
    if (n < 0 || nmeta < 0) {
        seterr(err, errlen, "checkpoint save '%s': negative count", path);
        return TG_ERR_ARG;
    }
    /* validate the arguments before touching the disk */
    for (int k = 0; k < n; k++) {
        const char *nm = names[k];
        if (!nm || !*nm || !strcmp(nm, "__metadata__") || !valid_utf8(nm)) {
            seterr(err, errlen, "checkpoint save '%s': name %d %s", path, k,
                   !nm ? "is NULL" : !*nm ? "is empty" : *nm == '_' && !strcmp(nm, "__metadata__")
                   ? "is the reserved \"__metadata__\"" : "is not valid UTF-8");
            return nm ? TG_ERR_ARG : TG_ERR_NULL;
        }
        const tg_tensor *t = tensors[k];
        if (!t) {
            seterr(err, errlen, "checkpoint save '%s': tensor \"%s\" is NULL", path, nm);
            return TG_ERR_NULL;
        }
        if (dtype_of_tg(tg_tensor_dtype(t)) < 0) {
            seterr(err, errlen, "checkpoint save '%s': tensor \"%s\" has an unsupported dtype",
                   path, nm);
            return TG_ERR_DTYPE;
        }
        if (tg_tensor_numel(t) < 0 || (tg_tensor_numel(t) > 0 && !tg_tensor_data(t))) {
            seterr(err, errlen, "checkpoint save '%s': tensor \"%s\" is stale (from before a "
                   "tg_tape_reset)", path, nm);
            return TG_ERR_STALE;
        }
    }
    for (int k = 0; k < 2 * nmeta; k++)
        if (!meta[k] || !valid_utf8(meta[k])) {
            seterr(err, errlen, "checkpoint save '%s': metadata %s %d %s", path,
                   k % 2 ? "value" : "key", k / 2, meta[k] ? "is not valid UTF-8" : "is NULL");
            return meta[k] ? TG_ERR_ARG : TG_ERR_NULL;
        }
    {
        int m = n > nmeta ? n : nmeta;
        const char **s = tg_malloc((size_t)(m ? m : 1) * sizeof *s);
        if (!s) {
            seterr(err, errlen, "checkpoint save '%s': out of memory", path);
            return TG_ERR_NOMEM;
        }
        for (int pass = 0; pass < 2; pass++) {
            int c = pass ? nmeta : n;
            for (int k = 0; k < c; k++) s[k] = pass ? meta[2 * k] : names[k];
            qsort(s, (size_t)c, sizeof *s, cmp_str);
            for (int k = 1; k < c; k++)
                if (!strcmp(s[k], s[k - 1])) {
                    seterr(err, errlen, "checkpoint save '%s': %s \"%s\" is given twice", path,
                           pass ? "metadata key" : "tensor name", s[k]);
                    tg_free(s);
                    return TG_ERR_ARG;
                }
        }
        tg_free(s);
    }

    /* the header */
    sbuf h = {0};
    sb_str(&h, "{");
    if (nmeta > 0) {
        sb_str(&h, "\"__metadata__\":{");
        for (int k = 0; k < nmeta; k++) {
            if (k) sb_str(&h, ",");
            sb_json(&h, meta[2 * k]);
            sb_str(&h, ":");
            sb_json(&h, meta[2 * k + 1]);
        }
        sb_str(&h, "}");
    }
    uint64_t off = 0;
    for (int k = 0; k < n; k++) {
        const tg_tensor *t = tensors[k];
        int dt = dtype_of_tg(tg_tensor_dtype(t));
        uint64_t bytes = (uint64_t)tg_tensor_numel(t) * (uint64_t)dtypes[dt].size;
        if (k || nmeta > 0) sb_str(&h, ",");
        sb_json(&h, names[k]);
        sb_fmt(&h, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[dt].name);
        for (int d = 0; d < tg_tensor_rank(t); d++)
            sb_fmt(&h, "%s%lld", d ? "," : "", (long long)tg_tensor_dim(t, d));
        sb_fmt(&h, "],\"data_offsets\":[%llu,", (unsigned long long)off);
        off += bytes;
        sb_fmt(&h, "%llu]}", (unsigned long long)off);
    }
    sb_str(&h, "}");
    while (h.n % 8 && !h.oom) sb_str(&h, " "); /* the format's padding: data starts 8-aligned */
    if (h.oom) {
        tg_free(h.p);
        seterr(err, errlen, "checkpoint save '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }

    /* the temporary file, next to the target */
    size_t plen = strlen(path);
    char *tmp = tg_malloc(plen + 64);
    if (!tmp) {
        tg_free(h.p);
        seterr(err, errlen, "checkpoint save '%s': out of memory", path);
        return TG_ERR_NOMEM;
    }
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, plen + 64, "%s.tmp%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1u));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        seterr(err, errlen, "checkpoint save '%s': cannot create a temporary file: %s", path,
               strerror(errno));
        tg_free(h.p);
        tg_free(tmp);
        return TG_ERR_IO;
    }
    unsigned char lenb[8];
    for (int k = 0; k < 8; k++) lenb[k] = (unsigned char)((uint64_t)h.n >> (8 * k));
    bool ok = write_all(fd, lenb, 8) && write_all(fd, h.p, h.n);
    for (int k = 0; ok && k < n; k++) {
        int dt = dtype_of_tg(tg_tensor_dtype(tensors[k]));
        ok = write_tensor(fd, tensors[k],
                          (size_t)tg_tensor_numel(tensors[k]) * (size_t)dtypes[dt].size,
                          dtypes[dt].size);
    }
    int e = ok ? 0 : errno;
    if (ok && fsync(fd) != 0) ok = false, e = errno;
    if (close(fd) != 0 && ok) ok = false, e = errno;
    if (ok && rename(tmp, path) != 0) ok = false, e = errno;
    tg_free(h.p);
    if (!ok) {
        unlink(tmp);
        tg_free(tmp);
        seterr(err, errlen, "checkpoint save '%s': cannot write: %s", path,
               e ? strerror(e) : "short write");
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

/* ------------------------------------------------- named lists (tg_params) */

/* Flattens the lists into (names, tensors) arrays (tg_malloc'd, one block). */
static tg_status flatten(const char *path, int nlists, tg_params *const *lists, int *n,
                         const char ***names, tg_tensor ***ts, char *err, size_t errlen) {
    if (nlists < 0 || (nlists > 0 && !lists)) {
        seterr(err, errlen, "checkpoint '%s': bad list of parameter lists", path ? path : "(null)");
        return nlists < 0 ? TG_ERR_ARG : TG_ERR_NULL;
    }
    int total = 0;
    for (int l = 0; l < nlists; l++) {
        if (!lists[l]) {
            seterr(err, errlen, "checkpoint '%s': parameter list %d is NULL", path ? path : "(null)", l);
            return TG_ERR_NULL;
        }
        total += tg_params_count(lists[l]);
    }
    size_t k = (size_t)(total ? total : 1);
    void *block = tg_malloc(k * (sizeof(char *) + sizeof(tg_tensor *)));
    if (!block) {
        seterr(err, errlen, "checkpoint '%s': out of memory", path ? path : "(null)");
        return TG_ERR_NOMEM;
    }
    *ts = block;
    *names = (const char **)((tg_tensor **)block + k);
    int i = 0;
    for (int l = 0; l < nlists; l++)
        for (int j = 0; j < tg_params_count(lists[l]); j++, i++) {
            (*names)[i] = tg_params_name(lists[l], j);
            (*ts)[i] = tg_params_at(lists[l], j);
        }
    *n = total;
    return TG_OK;
}

tg_status tg_checkpoint_save_params(const char *path, int nlists, tg_params *const *lists,
                                    int nmeta, const char *const *meta, char *err,
                                    size_t errlen) {
    const char **names;
    tg_tensor **ts;
    int n;
    seterr(err, errlen, "%s", "");
    tg_status st = flatten(path, nlists, lists, &n, &names, &ts, err, errlen);
    if (st != TG_OK) return st;
    st = tg_checkpoint_save(path, n, names, ts, nmeta, meta, err, errlen);
    tg_free(ts);
    return st;
}

tg_status tg_checkpoint_load_params(const char *path, int nlists, tg_params *const *lists,
                                    bool strict, char *err, size_t errlen) {
    const char **names;
    tg_tensor **ts;
    int n;
    seterr(err, errlen, "%s", "");
    tg_status st = flatten(path, nlists, lists, &n, &names, &ts, err, errlen);
    if (st != TG_OK) return st;
    st = tg_checkpoint_load(path, n, names, ts, strict, err, errlen);
    tg_free(ts);
    return st;
}
