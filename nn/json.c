/* json.c - the strict JSON reader and the JSON writer of the safetensors
 * header (see json.h).
 */
#include "json.h"

#include <stdarg.h>
#include <string.h>

/* ---------------------------------------------------------------- reader */

bool tg__jr_fail(tg__jr *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    p->at = p->i;
    p->st = TG_ERR_FORMAT;
    return false;
}

bool tg__jr_nomem(tg__jr *p) {
    p->at = p->i;
    p->st = TG_ERR_NOMEM;
    return false;
}

static void skip_ws(tg__jr *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

int tg__jr_peek(tg__jr *p) {
    skip_ws(p);
    return p->i < p->n ? p->s[p->i] : -1;
}

bool tg__jr_accept(tg__jr *p, char c) {
    if (tg__jr_peek(p) != (unsigned char)c) return false;
    p->i++;
    return true;
}

bool tg__jr_expect(tg__jr *p, char c) {
    int f = tg__jr_peek(p);
    if (f < 0) return tg__jr_fail(p, "expected '%c', found the end of the header", c);
    if (f != (unsigned char)c) {
        if (f >= 0x20 && f < 0x7f) return tg__jr_fail(p, "expected '%c', found '%c'", c, f);
        return tg__jr_fail(p, "expected '%c', found byte 0x%02x", c, (unsigned)f);
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

static bool jhex4(tg__jr *p, uint32_t *v) {
    if (p->n - p->i < 4) return tg__jr_fail(p, "truncated \\u escape");
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->i + (size_t)k]);
        if (h < 0) return tg__jr_fail(p, "bad hex digit in a \\u escape");
        x = x * 16 + (uint32_t)h;
    }
    p->i += 4;
    *v = x;
    return true;
}

/* Rejects \u0000 (names are C strings). */
bool tg__jr_string(tg__jr *p, char **out) {
    *out = NULL;
    if (tg__jr_peek(p) != '"') return tg__jr_fail(p, "expected a string");
    p->i++;
    /* An upper bound on the decoded length: the raw length to the end. */
    size_t start = p->i, cap = 1;
    for (size_t k = start; k < p->n && p->s[k] != '"'; k++) {
        cap++;
        if (p->s[k] == '\\') k++, cap++;
    }
    char *buf = tg_malloc(cap);
    if (!buf) return tg__jr_nomem(p);
    size_t o = 0;
    for (;;) {
        if (p->i >= p->n) {
            tg_free(buf);
            return tg__jr_fail(p, "unterminated string");
        }
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) {
            tg_free(buf);
            return tg__jr_fail(p, "control character 0x%02x in a string", c);
        }
        if (c == '\\') {
            if (p->i + 1 >= p->n) {
                tg_free(buf);
                return tg__jr_fail(p, "unterminated escape");
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
                return tg__jr_fail(p, "bad escape '\\%c'", e);
            }
            uint32_t cp;
            if (!jhex4(p, &cp)) return tg_free(buf), false;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return tg_free(buf), tg__jr_fail(p, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    return tg_free(buf), tg__jr_fail(p, "high surrogate without a low one");
                p->i += 2;
                if (!jhex4(p, &lo)) return tg_free(buf), false;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return tg_free(buf), tg__jr_fail(p, "high surrogate without a low one");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) return tg_free(buf), tg__jr_fail(p, "\\u0000 in a string");
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
        if (!len) return tg_free(buf), tg__jr_fail(p, "invalid UTF-8 in a string");
        memcpy(buf + o, p->s + p->i, len);
        o += len;
        p->i += len;
    }
    buf[o] = 0;
    *out = buf;
    return true;
}

bool tg__jr_key(tg__jr *p, char **key) {
    if (!tg__jr_string(p, key)) return false;
    if (tg__jr_expect(p, ':')) return true;
    tg_free(*key);
    *key = NULL;
    return false;
}

/* No sign, fraction, exponent or leading zeros. */
bool tg__jr_uint(tg__jr *p, uint64_t max, uint64_t *v) {
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') {
        if (p->i < p->n && p->s[p->i] == '-') return tg__jr_fail(p, "negative number");
        return tg__jr_fail(p, "expected a non-negative integer");
    }
    if (p->s[p->i] == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')
        return tg__jr_fail(p, "number with a leading zero");
    uint64_t x = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = p->s[p->i] - '0';
        if (x > (max - d) / 10) return tg__jr_fail(p, "number too large");
        x = x * 10 + d;
        p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return tg__jr_fail(p, "expected an integer, found a fraction or exponent");
    *v = x;
    return true;
}

/* ---------------------------------------------------------------- writer */

void tg__jw_put(tg__jw *b, const char *s, size_t n) {
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

void tg__jw_str(tg__jw *b, const char *s) { tg__jw_put(b, s, strlen(s)); }

void tg__jw_fmt(tg__jw *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) tg__jw_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* A JSON string literal for s (valid UTF-8, checked by the caller). */
void tg__jw_quote(tg__jw *b, const char *s) {
    tg__jw_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"') tg__jw_put(b, "\\\"", 2);
        else if (*c == '\\') tg__jw_put(b, "\\\\", 2);
        else if (*c < 0x20) tg__jw_fmt(b, "\\u%04x", *c);
        else tg__jw_put(b, (const char *)c, 1);
    }
    tg__jw_put(b, "\"", 1);
}

bool tg__json_utf8_ok(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(u + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}
